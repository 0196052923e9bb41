// SPDX-License-Identifier: MIT
#pragma once
/// \file The driver's optional device-wide hooks with the framework's answer when one is
/// missing, defined once for INFO (core/info_items.hpp) and the attribute trees
/// (core/attribute.hpp's attribute_tables):
///   state           D::state(dev), else the framework's device status (core/device_status.hpp)
///   engines         D::engines(dev), else none
///   memory_regions  D::memory_regions(dev), else none
///   memory_usage    D::memory_usage(dev), else none
#include <accel/core/fwd.hpp>
#include <accel/uapi/accel_info.h>

#include <vector>

namespace accel::detail {

template <class D>
accel_device_state device_state_of(device<D>& dev) {
    if constexpr (requires { D::state(dev); })
        return D::state(dev);
    else
        return dev.status().state();
}

template <class D>
std::vector<accel_info_engine> engines_of(device<D>& dev) {
    if constexpr (requires { D::engines(dev); })
        return D::engines(dev);
    else
        return {};
}

template <class D>
std::vector<accel_info_memory_region> regions_of(device<D>& dev) {
    if constexpr (requires { D::memory_regions(dev); })
        return D::memory_regions(dev);
    else
        return {};
}

template <class D>
std::vector<accel_info_memory_use> memory_usage_of(device<D>& dev) {
    if constexpr (requires { D::memory_usage(dev); })
        return D::memory_usage(dev);
    else
        return {};
}

} // namespace accel::detail

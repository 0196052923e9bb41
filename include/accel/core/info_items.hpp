// SPDX-License-Identifier: MIT
#pragma once
/// \file What a device answers to ACCEL_IOCTL_INFO, built from the driver's optional callbacks.
///
/// Fixed information (identity, memory regions, engines, capabilities) and dynamic information
/// (status, memory in use per region, engine busy time). The framework fills what it knows
/// (identity from driver_info, open files, reset count); the rest comes from callbacks a driver
/// may declare, each taking the device:
///   static std::vector<accel_info_memory_region> memory_regions(device<D>&);
///   static std::vector<accel_info_engine>        engines(device<D>&);
///   static accel_info_capabilities               capabilities(device<D>&);
///   static accel_device_state                    state(device<D>&);
///   static std::vector<accel_info_memory_use>    memory_usage(device<D>&);
///   static std::vector<accel_info_engine_time>   engine_busy(device<D>&);
/// Without engine_busy, ENGINE_BUSY reports the busy time the schedulers measured
/// (core/engine_clock.hpp).
/// A missing callback answers an empty list, zero capabilities, or the framework's device status
/// (core/device_status.hpp).
#include <accel/core/fwd.hpp>
#include <accel/uapi/accel_info.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <type_traits>
#include <vector>

namespace accel::detail {

template <class T>
void append_bytes(std::vector<unsigned char>& out, const T& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    const auto* p = reinterpret_cast<const unsigned char*>(&v);
    out.insert(out.end(), p, p + sizeof(T));
}

/// A header {count, pad} followed by the elements: the layout of every list item.
template <class Elem>
void append_list(std::vector<unsigned char>& out, const std::vector<Elem>& elems) {
    const std::uint32_t header[2] = {static_cast<std::uint32_t>(elems.size()), 0};
    append_bytes(out, header);
    for (const Elem& e : elems)
        append_bytes(out, e);
}

template <std::size_t N>
void copy_name(char (&dst)[N], std::string_view src) noexcept {
    std::size_t n = std::min(src.size(), N - 1);
    std::memcpy(dst, src.data(), n);
    dst[n] = '\0';
}

template <class D>
int info_item(device<D>& dev, file<D>& f, std::uint32_t id, std::vector<unsigned char>& out) {
    switch (id) {
    case ACCEL_INFO_IDENTITY: {
        accel_info_identity v{};
        v.version_major = static_cast<std::uint32_t>(D::info.major);
        v.version_minor = static_cast<std::uint32_t>(D::info.minor);
        v.version_patchlevel = static_cast<std::uint32_t>(D::info.patchlevel);
        v.minor = dev.minor();
        v.client_id = f.client_id();
        copy_name(v.name, D::info.name);
        copy_name(v.desc, D::info.desc);
        append_bytes(out, v);
        return 0;
    }
    case ACCEL_INFO_MEMORY_REGIONS:
        if constexpr (requires { D::memory_regions(dev); })
            append_list(out, D::memory_regions(dev));
        else
            append_list(out, std::vector<accel_info_memory_region>{});
        return 0;
    case ACCEL_INFO_ENGINES:
        if constexpr (requires { D::engines(dev); })
            append_list(out, D::engines(dev));
        else
            append_list(out, std::vector<accel_info_engine>{});
        return 0;
    case ACCEL_INFO_CAPABILITIES: {
        accel_info_capabilities caps{};
        if constexpr (requires { D::capabilities(dev); })
            caps = D::capabilities(dev);
        append_bytes(out, caps);
        return 0;
    }
    case ACCEL_INFO_STATUS: {
        accel_info_status st{};
        st.state = static_cast<std::uint32_t>(dev.status().state());
        if constexpr (requires { D::state(dev); })
            st.state = static_cast<std::uint32_t>(D::state(dev));
        st.open_files = dev.open_count();
        st.reset_count = dev.reset_count();
        append_bytes(out, st);
        return 0;
    }
    case ACCEL_INFO_MEMORY_USAGE:
        if constexpr (requires { D::memory_usage(dev); })
            append_list(out, D::memory_usage(dev));
        else
            append_list(out, std::vector<accel_info_memory_use>{});
        return 0;
    case ACCEL_INFO_ENGINE_BUSY:
        if constexpr (requires { D::engine_busy(dev); }) {
            append_list(out, D::engine_busy(dev));
        } else {
            // From the schedulers' clocks, one entry per engine id (instances summed).
            std::vector<accel_info_engine_time> busy;
            dev.engine_time().for_each([&](std::uint32_t id, std::uint64_t ns) {
                auto it = std::find_if(busy.begin(), busy.end(), [&](const auto& b) { return b.engine_id == id; });
                if (it == busy.end())
                    busy.push_back(accel_info_engine_time{id, 0, ns});
                else
                    it->busy_ns += ns;
            });
            append_list(out, busy);
        }
        return 0;
    default:
        return -EINVAL;
    }
}

} // namespace accel::detail

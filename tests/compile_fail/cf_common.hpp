// SPDX-License-Identifier: MIT
// Shared pieces of the compile-fail TUs: two plain uAPI argument structs and their request
// numbers. Each TU declares its own driver whose ioctl table has exactly one defect.
#pragma once
#include <accel/core/device.hpp>
#include <accel/core/ioctl_table.hpp>
#include <accel/uapi/accel_drm.h>

#include <cstdint>

struct cf_args {
    std::uint64_t in;
    std::uint64_t out;
};
struct cf_small_args {
    std::uint32_t value;
    std::uint32_t pad;
};

#define CF_IOCTL_FIRST ACCEL_IOWR(ACCEL_COMMAND_BASE + 0x00, struct cf_args)
#define CF_IOCTL_SECOND ACCEL_IOWR(ACCEL_COMMAND_BASE + 0x01, struct cf_args)

/// Instantiates the driver's device type, which builds and checks its ioctl table.
template <class D>
int cf_instantiate() {
    auto dev = accel::device<D>::create();
    return dev ? 0 : 1;
}

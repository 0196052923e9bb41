// SPDX-License-Identifier: MIT
// A complete accel driver: identity, per-device and per-file data, one checked ioctl.
#pragma once
#include "minimal_uapi.h"

#include <accel/accel.hpp>

#include <atomic>
#include <cstdint>

struct minimal_driver {
    static constexpr accel::driver_info info{1, 0, 0, "minimal", "accel minimal example driver"};

    struct device_data {
        std::atomic<std::uint64_t> adds{0}; // across all files
    };
    struct file_data {
        std::uint64_t adds = 0; // through this file
    };

    // MINIMAL_IOCTL_ADD: sum = a + b. Unknown flags and a non-zero pad are refused, so they
    // can be given a meaning later; an overflowing sum is refused rather than wrapped.
    static int add(accel::device<minimal_driver>& dev, accel::file<minimal_driver>& file, minimal_add& arg) {
        if (arg.flags != 0 || arg.pad != 0)
            return -EINVAL;
        if (arg.a + arg.b < arg.a)
            return -EOVERFLOW;
        arg.sum = arg.a + arg.b;
        arg.calls = ++file->adds;
        dev->adds.fetch_add(1, std::memory_order_relaxed);
        return 0;
    }

    using ioctls = accel::ioctl_table<ACCEL_IOCTL(MINIMAL_IOCTL_ADD, &add, accel::ioctl_flags::none)>;
};

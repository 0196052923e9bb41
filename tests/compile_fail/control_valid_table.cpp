// SPDX-License-Identifier: MIT
// Control: a valid driver written like the compile-fail ones (two rows, the highest and lowest
// driver numbers, a gap between them). It must build, or the harness is broken.
// CF_EXPECT_SUCCESS
#include "cf_common.hpp"

#define CONTROL_LOW_IOCTL ACCEL_IOWR(ACCEL_COMMAND_BASE, struct cf_args)
#define CONTROL_HIGH_IOCTL ACCEL_IOW(ACCEL_COMMAND_END - 1, struct cf_small_args)

struct control_driver {
    static constexpr accel::driver_info info{1, 0, 0, "control", "compile-fail harness control"};
    struct device_data {};
    struct file_data {};
    static int low(accel::device<control_driver>&, accel::file<control_driver>&, cf_args&) { return 0; }
    static int high(accel::device<control_driver>&, accel::file<control_driver>&, cf_small_args&) noexcept { return 0; }
    using ioctls = accel::ioctl_table<ACCEL_IOCTL(CONTROL_LOW_IOCTL, &low, accel::ioctl_flags::none),
                                      ACCEL_IOCTL(CONTROL_HIGH_IOCTL, &high, accel::ioctl_flags::none)>;
};

int main() { return cf_instantiate<control_driver>(); }

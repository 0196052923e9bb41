// SPDX-License-Identifier: MIT
// One defect: BAD_RANGE_IOCTL uses ACCEL_COMMAND_END, the first number past the driver range.
// CF_ROW: BAD_RANGE_IOCTL
// CF_EXPECT: driver ioctl numbers must lie in
#include "cf_common.hpp"

#define BAD_RANGE_IOCTL ACCEL_IOWR(ACCEL_COMMAND_END, struct cf_args)

struct range_driver {
    static constexpr accel::driver_info info{1, 0, 0, "range", "compile-fail: number out of range"};
    struct device_data {};
    struct file_data {};
    static int first(accel::device<range_driver>&, accel::file<range_driver>&, cf_args&) { return 0; }
    static int bad(accel::device<range_driver>&, accel::file<range_driver>&, cf_args&) { return 0; }
    using ioctls = accel::ioctl_table<ACCEL_IOCTL(CF_IOCTL_FIRST, &first, accel::ioctl_flags::none),
                                      ACCEL_IOCTL(BAD_RANGE_IOCTL, &bad, accel::ioctl_flags::none)>;
};

int main() { return cf_instantiate<range_driver>(); }

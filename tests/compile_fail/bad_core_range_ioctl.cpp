// SPDX-License-Identifier: MIT
// One defect: BAD_CORE_IOCTL takes a core number (0x0c, GET_CAP's) instead of a driver one.
// CF_ROW: BAD_CORE_IOCTL
// CF_EXPECT: driver ioctl numbers must lie in
#include "cf_common.hpp"

#define BAD_CORE_IOCTL ACCEL_IOWR(0x0c, struct cf_args)

struct core_range_driver {
    static constexpr accel::driver_info info{1, 0, 0, "core_range", "compile-fail: core number"};
    struct device_data {};
    struct file_data {};
    static int first(accel::device<core_range_driver>&, accel::file<core_range_driver>&, cf_args&) { return 0; }
    static int bad(accel::device<core_range_driver>&, accel::file<core_range_driver>&, cf_args&) { return 0; }
    using ioctls = accel::ioctl_table<ACCEL_IOCTL(CF_IOCTL_FIRST, &first, accel::ioctl_flags::none),
                                      ACCEL_IOCTL(BAD_CORE_IOCTL, &bad, accel::ioctl_flags::none)>;
};

int main() { return cf_instantiate<core_range_driver>(); }

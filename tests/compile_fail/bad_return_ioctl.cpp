// SPDX-License-Identifier: MIT
// One defect: BAD_RETURN_IOCTL's handler returns long instead of int.
// CF_ROW: BAD_RETURN_IOCTL
// CF_EXPECT: must return int
#include "cf_common.hpp"

#define BAD_RETURN_IOCTL CF_IOCTL_SECOND

struct return_driver {
    static constexpr accel::driver_info info{1, 0, 0, "return", "compile-fail: return type"};
    struct device_data {};
    struct file_data {};
    static int first(accel::device<return_driver>&, accel::file<return_driver>&, cf_args&) { return 0; }
    static long bad(accel::device<return_driver>&, accel::file<return_driver>&, cf_args&) { return 0; }
    using ioctls = accel::ioctl_table<ACCEL_IOCTL(CF_IOCTL_FIRST, &first, accel::ioctl_flags::none),
                                      ACCEL_IOCTL(BAD_RETURN_IOCTL, &bad, accel::ioctl_flags::none)>;
};

int main() { return cf_instantiate<return_driver>(); }

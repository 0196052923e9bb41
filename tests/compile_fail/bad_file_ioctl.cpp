// SPDX-License-Identifier: MIT
// One defect: BAD_FILE_IOCTL's handler takes another driver's file.
// CF_ROW: BAD_FILE_IOCTL
// CF_EXPECT: handler's second parameter must be accel::file<D>& of this driver
#include "cf_common.hpp"

struct other_file_driver {
    static constexpr accel::driver_info info{1, 0, 0, "other", "another, valid driver"};
    struct device_data {};
    struct file_data {};
    using ioctls = accel::ioctl_table<>;
};

#define BAD_FILE_IOCTL CF_IOCTL_SECOND

struct file_driver {
    static constexpr accel::driver_info info{1, 0, 0, "file", "compile-fail: another driver's file"};
    struct device_data {};
    struct file_data {};
    static int first(accel::device<file_driver>&, accel::file<file_driver>&, cf_args&) { return 0; }
    static int bad(accel::device<file_driver>&, accel::file<other_file_driver>&, cf_args&) { return 0; }
    using ioctls = accel::ioctl_table<ACCEL_IOCTL(CF_IOCTL_FIRST, &first, accel::ioctl_flags::none),
                                      ACCEL_IOCTL(BAD_FILE_IOCTL, &bad, accel::ioctl_flags::none)>;
};

int main() { return cf_instantiate<file_driver>(); }

// SPDX-License-Identifier: MIT
// One defect: BAD_DEVICE_IOCTL's handler takes another driver's device (and file type of this
// driver), so it could never be called with this driver's device.
// CF_ROW: BAD_DEVICE_IOCTL
// CF_EXPECT: handler's first parameter must be accel::device<D>& of this driver
#include "cf_common.hpp"

struct other_driver {
    static constexpr accel::driver_info info{1, 0, 0, "other", "another, valid driver"};
    struct device_data {};
    struct file_data {};
    using ioctls = accel::ioctl_table<>;
};

#define BAD_DEVICE_IOCTL CF_IOCTL_SECOND

struct device_driver {
    static constexpr accel::driver_info info{1, 0, 0, "device", "compile-fail: another driver's device"};
    struct device_data {};
    struct file_data {};
    static int first(accel::device<device_driver>&, accel::file<device_driver>&, cf_args&) { return 0; }
    static int bad(accel::device<other_driver>&, accel::file<device_driver>&, cf_args&) { return 0; }
    using ioctls = accel::ioctl_table<ACCEL_IOCTL(CF_IOCTL_FIRST, &first, accel::ioctl_flags::none),
                                      ACCEL_IOCTL(BAD_DEVICE_IOCTL, &bad, accel::ioctl_flags::none)>;
};

int main() { return cf_instantiate<device_driver>(); }

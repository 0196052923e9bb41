// SPDX-License-Identifier: MIT
// One defect: BAD_TYPE_IOCTL is built with type byte 'e' instead of ACCEL_IOWR's 'd'.
// CF_ROW: BAD_TYPE_IOCTL
// CF_EXPECT: 'd' type byte
#include "cf_common.hpp"

#define BAD_TYPE_IOCTL _IOWR('e', ACCEL_COMMAND_BASE + 0x01, struct cf_args)

struct type_driver {
    static constexpr accel::driver_info info{1, 0, 0, "type", "compile-fail: type byte"};
    struct device_data {};
    struct file_data {};
    static int first(accel::device<type_driver>&, accel::file<type_driver>&, cf_args&) { return 0; }
    static int bad(accel::device<type_driver>&, accel::file<type_driver>&, cf_args&) { return 0; }
    using ioctls = accel::ioctl_table<ACCEL_IOCTL(CF_IOCTL_FIRST, &first, accel::ioctl_flags::none),
                                      ACCEL_IOCTL(BAD_TYPE_IOCTL, &bad, accel::ioctl_flags::none)>;
};

int main() { return cf_instantiate<type_driver>(); }

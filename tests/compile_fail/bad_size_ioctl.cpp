// SPDX-License-Identifier: MIT
// One defect: BAD_SIZE_IOCTL encodes sizeof(cf_small_args) but its handler takes cf_args.
// CF_ROW: BAD_SIZE_IOCTL
// CF_EXPECT: sizeof(argument struct) differs
#include "cf_common.hpp"

#define BAD_SIZE_IOCTL ACCEL_IOWR(ACCEL_COMMAND_BASE + 0x01, struct cf_small_args)

struct size_driver {
    static constexpr accel::driver_info info{1, 0, 0, "size", "compile-fail: argument size"};
    struct device_data {};
    struct file_data {};
    static int first(accel::device<size_driver>&, accel::file<size_driver>&, cf_args&) { return 0; }
    static int bad(accel::device<size_driver>&, accel::file<size_driver>&, cf_args&) { return 0; }
    using ioctls = accel::ioctl_table<ACCEL_IOCTL(CF_IOCTL_FIRST, &first, accel::ioctl_flags::none),
                                      ACCEL_IOCTL(BAD_SIZE_IOCTL, &bad, accel::ioctl_flags::none)>;
};

int main() { return cf_instantiate<size_driver>(); }

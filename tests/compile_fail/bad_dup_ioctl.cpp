// SPDX-License-Identifier: MIT
// One defect: BAD_DUP_IOCTL reuses the number of an earlier row.
// CF_ROW: BAD_DUP_IOCTL
// CF_EXPECT: two rows use the same ioctl number
#include "cf_common.hpp"

#define BAD_DUP_IOCTL ACCEL_IOWR(ACCEL_COMMAND_BASE + 0x00, struct cf_args)

struct dup_driver {
    static constexpr accel::driver_info info{1, 0, 0, "dup", "compile-fail: duplicate number"};
    struct device_data {};
    struct file_data {};
    static int first(accel::device<dup_driver>&, accel::file<dup_driver>&, cf_args&) { return 0; }
    static int dup(accel::device<dup_driver>&, accel::file<dup_driver>&, cf_args&) { return 0; }
    using ioctls = accel::ioctl_table<ACCEL_IOCTL(CF_IOCTL_FIRST, &first, accel::ioctl_flags::none),
                                      ACCEL_IOCTL(BAD_DUP_IOCTL, &dup, accel::ioctl_flags::none)>;
};

int main() { return cf_instantiate<dup_driver>(); }

// SPDX-License-Identifier: MIT
// One defect: BAD_FD_IOCTL says it returns a descriptor at byte 14 of its argument, which is
// neither 4-byte aligned nor a whole __s32 inside the 16-byte struct.
// CF_ROW: BAD_FD_IOCTL
// CF_EXPECT: the descriptor field of ACCEL_IOCTL_FD must be a 4-byte-aligned __s32 inside the argument
#include "cf_common.hpp"

#define BAD_FD_IOCTL ACCEL_IOWR(ACCEL_COMMAND_BASE + 0x01, struct cf_args)

struct fd_field_driver {
    static constexpr accel::driver_info info{1, 0, 0, "fdfield", "compile-fail: descriptor field"};
    struct device_data {};
    struct file_data {};
    static int first(accel::device<fd_field_driver>&, accel::file<fd_field_driver>&, cf_args&) { return 0; }
    static int bad(accel::device<fd_field_driver>&, accel::file<fd_field_driver>&, cf_args&) { return 0; }
    using ioctls = accel::ioctl_table<ACCEL_IOCTL(CF_IOCTL_FIRST, &first, accel::ioctl_flags::none),
                                      ACCEL_IOCTL_FD(BAD_FD_IOCTL, &bad, accel::ioctl_flags::none, 14)>;
};

int main() { return cf_instantiate<fd_field_driver>(); }

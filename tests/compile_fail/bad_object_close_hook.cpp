// SPDX-License-Identifier: MIT
// One defect: the object's per-handle `close` returns int; the hook's name is in the error.
// CF_NAME: driver_with_bad_object_close
// CF_EXPECT: hook `close` must be
#include "cf_common.hpp"

#include <accel/core/gem/bo.hpp>

struct driver_with_bad_object_close {
    static constexpr accel::driver_info info{1, 0, 0, "badclose", "compile-fail: object close returns int"};
    struct device_data {};
    struct file_data {};
    struct object_data {
        static int close(accel::bo<driver_with_bad_object_close>&, accel::file<driver_with_bad_object_close>&) { return 0; }
    };
    using ioctls = accel::ioctl_table<>;
};

int main() {
    auto dev = accel::device<driver_with_bad_object_close>::create();
    if (!dev)
        return 1;
    auto obj = accel::bo<driver_with_bad_object_close>::create(**dev, 4096);
    return obj ? 0 : 1;
}

// SPDX-License-Identifier: MIT
// One defect: `open` has the old shape (an int, after file_data was built); a hook with a
// wrong signature is an error naming it, never silently ignored.
// CF_NAME: driver_with_old_open
// CF_EXPECT: hook `open` must be
#include "cf_common.hpp"

struct driver_with_old_open {
    static constexpr accel::driver_info info{1, 0, 0, "oldopen", "compile-fail: open(device&, file&)"};
    struct device_data {};
    struct file_data {};
    using ioctls = accel::ioctl_table<>;
    static int open(accel::device<driver_with_old_open>&, accel::file<driver_with_old_open>&) { return 0; }
};

int main() { return cf_instantiate<driver_with_old_open>(); }

// SPDX-License-Identifier: MIT
// One defect: `postclose` takes only the device; the hook's name is in the error.
// CF_NAME: driver_with_bad_postclose
// CF_EXPECT: hook `postclose` must be
#include "cf_common.hpp"

struct driver_with_bad_postclose {
    static constexpr accel::driver_info info{1, 0, 0, "badpc", "compile-fail: postclose(device&)"};
    struct device_data {};
    struct file_data {};
    using ioctls = accel::ioctl_table<>;
    static void postclose(accel::device<driver_with_bad_postclose>&) {}
};

int main() { return cf_instantiate<driver_with_bad_postclose>(); }

// SPDX-License-Identifier: MIT
// One defect: a debugfs entry named like a framework entry (fdinfo is the framework's directory).
// CF_EXPECT: two attributes of one name
#include "cf_attr_common.hpp"

struct cf_dup {
    static constexpr accel::driver_info info{1, 0, 0, "cfdup", "compile-fail: duplicate"};
    struct device_data {};
    struct file_data {};
    using ioctls = accel::ioctl_table<>;
    static constexpr std::array debugfs_entries{
        accel::attribute<cf_dup>{"fdinfo/mine", 0444, &cf_show<cf_dup>, nullptr},
    };
};

int main() { return cf_instantiate<cf_dup>(); }

// SPDX-License-Identifier: MIT
// A control: valid sysfs and debugfs declarations compile.
// CF_EXPECT_SUCCESS
#include "cf_attr_common.hpp"

struct cf_good {
    static constexpr accel::driver_info info{1, 0, 0, "cfgood", "compile-fail control"};
    struct device_data {};
    struct file_data {};
    using ioctls = accel::ioctl_table<>;
    static constexpr std::array sysfs_attributes{
        accel::attribute<cf_good>{"tunable", 0644, &cf_show<cf_good>, &cf_store<cf_good>},
        accel::attribute<cf_good>{"dir/leaf", 0440, &cf_show<cf_good>, nullptr, 64},
    };
    static constexpr std::array debugfs_entries{
        accel::attribute<cf_good>{"queues", 0444, &cf_show<cf_good>, nullptr},
    };
};

int main() { return cf_instantiate<cf_good>(); }

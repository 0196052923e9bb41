// SPDX-License-Identifier: MIT
// One defect: an attribute name with a ".." component.
// CF_NAME: attribute_name_is_invalid
// (CF_NAME, not CF_EXPECT: g++ names the refusing function on the error line, clang on a note)
#include "cf_attr_common.hpp"

struct cf_bad_name {
    static constexpr accel::driver_info info{1, 0, 0, "cfname", "compile-fail: name"};
    struct device_data {};
    struct file_data {};
    using ioctls = accel::ioctl_table<>;
    static constexpr std::array sysfs_attributes{
        accel::attribute<cf_bad_name>{"dir/../escape", 0444, &cf_show<cf_bad_name>, nullptr},
    };
};

int main() { return cf_instantiate<cf_bad_name>(); }

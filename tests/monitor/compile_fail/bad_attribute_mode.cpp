// SPDX-License-Identifier: MIT
// One defect: a mode that lets others write (VERIFY_OCTAL_PERMISSIONS refuses it).
// CF_NAME: attribute_mode_is_invalid
// (CF_NAME, not CF_EXPECT: g++ names the refusing function on the error line, clang on a note)
#include "cf_attr_common.hpp"

struct cf_bad_mode {
    static constexpr accel::driver_info info{1, 0, 0, "cfmode", "compile-fail: mode"};
    struct device_data {};
    struct file_data {};
    using ioctls = accel::ioctl_table<>;
    static constexpr std::array sysfs_attributes{
        accel::attribute<cf_bad_mode>{"knob", 0666, &cf_show<cf_bad_mode>, &cf_store<cf_bad_mode>},
    };
};

int main() { return cf_instantiate<cf_bad_mode>(); }

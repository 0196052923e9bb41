// SPDX-License-Identifier: MIT
// One defect: a writable mode without a store.
// CF_NAME: attribute_readable_without_show_or_writable_without_store
// (CF_NAME, not CF_EXPECT: g++ names the refusing function on the error line, clang on a note)
#include "cf_attr_common.hpp"

struct cf_no_store {
    static constexpr accel::driver_info info{1, 0, 0, "cfstore", "compile-fail: store"};
    struct device_data {};
    struct file_data {};
    using ioctls = accel::ioctl_table<>;
    static constexpr std::array sysfs_attributes{
        accel::attribute<cf_no_store>{"knob", 0644, &cf_show<cf_no_store>, nullptr},
    };
};

int main() { return cf_instantiate<cf_no_store>(); }

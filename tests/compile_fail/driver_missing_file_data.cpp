// SPDX-License-Identifier: MIT
// One defect: the driver declares no file_data; diagnose_driver names the missing piece.
// CF_NAME: driver_without_file_data
// CF_EXPECT: declare the per-file type
#include "cf_common.hpp"

struct driver_without_file_data {
    static constexpr accel::driver_info info{1, 0, 0, "nofile", "compile-fail: no file_data"};
    struct device_data {};
    using ioctls = accel::ioctl_table<>;
};

int main() { return cf_instantiate<driver_without_file_data>(); }

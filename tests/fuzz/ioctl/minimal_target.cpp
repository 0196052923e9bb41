// SPDX-License-Identifier: MIT
// accel_fuzz_ioctl_minimal: what a driver author writes to fuzz a whole driver - one line.
#include "minimal_driver.hpp"

#include <accel/fuzz/ioctl_harness.hpp>

ACCEL_FUZZ_IOCTL_TARGET(minimal_driver)

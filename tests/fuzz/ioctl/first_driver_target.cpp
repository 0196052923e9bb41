// SPDX-License-Identifier: MIT
// accel_fuzz_ioctl_first_driver: the README's walkthrough driver (examples/first_driver), whose
// driver and main() share one file: its main() is renamed out of the way, the driver fuzzed.
#define main first_driver_walkthrough_main
#include "first_driver.cpp"
#undef main

#include <accel/fuzz/ioctl_harness.hpp>

ACCEL_FUZZ_IOCTL_TARGET(my_driver)

// SPDX-License-Identifier: MIT
// accel_fuzz_range_best_fit: the range-manager fuzz driver (range_fuzz.hpp) on `best_fit`.
#include "range_fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    return accel::mm::fuzz::run_range_fuzz<accel::mm::best_fit>(data, size);
}

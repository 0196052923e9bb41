// SPDX-License-Identifier: MIT
// Writing a target's seed corpus: run the target with ACCEL_FUZZ_WRITE_SEEDS=<dir> and its
// LLVMFuzzerInitialize writes the hand-built programs (accel/fuzz/program_writer.hpp) there and
// exits; `-merge=1` then keeps those that add coverage (README, "Fuzzing").
#pragma once
#include <accel/fuzz/program_writer.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace accel::fuzz_test {

/// Calls `write(dir)` and exits when ACCEL_FUZZ_WRITE_SEEDS names a directory.
template <class Write>
void write_seeds_if_asked(Write&& write) {
    const char* dir = std::getenv("ACCEL_FUZZ_WRITE_SEEDS");
    if (!dir)
        return;
    write(std::string(dir));
    std::fprintf(stderr, "seeds written to %s\n", dir);
    std::exit(0);
}

} // namespace accel::fuzz_test

// SPDX-License-Identifier: MIT
#pragma once
// Seeds and operation counts of the randomized vm tests, with the conventions of
// tests/mm/differential.hpp: ACCEL_TEST_SEED fixes the seed, ACCEL_VM_OPS the operation count
// (default: one million in an NDEBUG build, 100000 otherwise). Failures print the seed.
#include <cstdint>
#include <cstdlib>
#include <random>

namespace accel::mm::vm::test {

inline std::uint64_t default_ops() {
    if (const char* e = std::getenv("ACCEL_VM_OPS"))
        if (auto v = std::strtoull(e, nullptr, 0))
            return v;
#ifdef NDEBUG
    return 1'000'000;
#else
    return 100'000;
#endif
}

inline std::uint64_t pick_seed() {
    if (const char* e = std::getenv("ACCEL_TEST_SEED"))
        return std::strtoull(e, nullptr, 0);
    return (std::uint64_t{std::random_device{}()} << 32) | std::random_device{}();
}

} // namespace accel::mm::vm::test

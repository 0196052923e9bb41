// SPDX-License-Identifier: MIT
#pragma once
// Random data and seeds for the vdnn tests. ACCEL_TEST_SEED fixes the seed (as in the vm and
// mm tests); every test prints the one it used, so a failure can be replayed.
#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <vector>

namespace vdnn::test {

inline std::uint64_t pick_seed() {
    if (const char* e = std::getenv("ACCEL_TEST_SEED"))
        return std::strtoull(e, nullptr, 0);
    return (std::uint64_t{std::random_device{}()} << 32) | std::random_device{}();
}

/// A seeded generator that reports its seed in the test's output (doctest INFO is scoped, so
/// the seed is printed on failure only, which is when it is wanted).
struct rng {
    std::uint64_t seed = pick_seed();
    std::mt19937_64 gen{seed};

    std::size_t uniform(std::size_t lo, std::size_t hi) { return std::uniform_int_distribution<std::size_t>(lo, hi)(gen); }
    bool coin() { return uniform(0, 1) == 1; }
    /// A dimension in [1, hi], biased towards the awkward ones: 1, primes, block edges +-1.
    std::size_t dim(std::size_t hi) {
        static constexpr std::size_t awkward[] = {1, 2, 3, 5, 7, 13, 15, 16, 17, 31, 33, 63, 64, 65, 97, 127, 128, 129, 130};
        if (coin())
            return uniform(1, hi);
        std::size_t d;
        do
            d = awkward[uniform(0, std::size(awkward) - 1)];
        while (d > hi);
        return d;
    }
    std::vector<float> floats(std::size_t n) {
        std::uniform_real_distribution<float> d(-1.0f, 1.0f);
        std::vector<float> v(n);
        for (auto& x : v)
            x = d(gen);
        return v;
    }
    std::vector<std::int8_t> int8s(std::size_t n) {
        std::vector<std::int8_t> v(n);
        for (auto& x : v)
            x = static_cast<std::int8_t>(uniform(0, 255) - 128);
        return v;
    }
    std::vector<std::int32_t> int32s(std::size_t n, std::int64_t lo = INT32_MIN, std::int64_t hi = INT32_MAX) {
        std::uniform_int_distribution<std::int64_t> d(lo, hi);
        std::vector<std::int32_t> v(n);
        for (auto& x : v)
            x = static_cast<std::int32_t>(d(gen));
        return v;
    }
};

/// |got - want| within a float summation's error bound: `terms` products whose absolute values
/// sum to `magnitude` (a few ulps per term, relative to the magnitude, plus a floor).
inline bool close_enough(float got, float want, double magnitude, std::size_t terms) {
    const double tol = 4.0 * static_cast<double>(terms + 2) * 0x1p-24 * magnitude + 1e-30;
    return std::fabs(static_cast<double>(got) - static_cast<double>(want)) <= tol;
}

} // namespace vdnn::test

// SPDX-License-Identifier: MIT
#pragma once
// Shared by the mm fuzz targets: the invariant check that stops the fuzzer, and the decoding of
// hostile 64-bit values from the input.
//
// MM_FUZZ_CHECK(cond, fmt, ...) prints the failed condition, the operation number and a message
// on stderr and aborts: libFuzzer then keeps the input as a crash. Every target checks its
// results against a reference model after every operation, so a wrong answer (not only a
// sanitizer report) is a crash.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace accel::mm::fuzz {

/// The operation being checked, for the failure message.
inline thread_local unsigned long current_op = 0;

[[noreturn]] inline void fail(const char* cond, const char* file, int line, const char* msg) {
    std::fprintf(stderr, "mm fuzz invariant violated at op %lu: %s\n  %s:%d: %s\n", current_op, msg, file, line, cond);
    std::abort();
}

/// MM_FUZZ_TRACE=1 in the environment prints each operation (to replay a crash input by hand).
inline bool tracing() {
    static const bool on = std::getenv("MM_FUZZ_TRACE") != nullptr;
    return on;
}
#define MM_FUZZ_TRACE(...)                                                                                            \
    do {                                                                                                              \
        if (::accel::mm::fuzz::tracing())                                                                             \
            std::fprintf(stderr, __VA_ARGS__);                                                                        \
    } while (0)

#define MM_FUZZ_CHECK(cond, msg)                                                                                      \
    do {                                                                                                              \
        if (!(cond))                                                                                                  \
            ::accel::mm::fuzz::fail(#cond, __FILE__, __LINE__, msg);                                                  \
    } while (0)

/// A 64-bit value that is usually well-formed (a multiple of `unit` below `limit`) and sometimes
/// hostile: 0, 1, all ones, 2^63, just past `limit`, or raw input bits.
inline std::uint64_t pick_value(FuzzedDataProvider& in, std::uint64_t unit, std::uint64_t limit) {
    switch (in.ConsumeIntegralInRange<unsigned>(0, 15)) {
    case 0: return 0;
    case 1: return in.ConsumeIntegral<std::uint64_t>();
    case 2: return ~std::uint64_t{0} - in.ConsumeIntegralInRange<std::uint64_t>(0, 3) * unit;
    case 3: return std::uint64_t{1} << in.ConsumeIntegralInRange<unsigned>(0, 63);
    case 4: return limit + in.ConsumeIntegralInRange<std::uint64_t>(0, 2) * unit;
    case 5: return limit - (limit ? 1 : 0);
    default: {
        const std::uint64_t slots = unit ? limit / unit : 0;
        return slots ? in.ConsumeIntegralInRange<std::uint64_t>(0, slots) * unit : 0;
    }
    }
}

/// An alignment: none (0 or 1), a power of two, or a hostile one (non-power-of-two, huge).
inline std::uint64_t pick_alignment(FuzzedDataProvider& in, std::uint64_t unit) {
    switch (in.ConsumeIntegralInRange<unsigned>(0, 7)) {
    case 0: return 0;
    case 1: return 1;
    case 2: return unit * in.ConsumeIntegralInRange<std::uint64_t>(3, 9); // often non-power-of-two
    case 3: return in.ConsumeIntegral<std::uint64_t>();
    default: return std::uint64_t{1} << in.ConsumeIntegralInRange<unsigned>(0, 63);
    }
}

} // namespace accel::mm::fuzz

// SPDX-License-Identifier: MIT
#pragma once
/// \file Reporting a broken invariant: a message on stderr, then abort(), so libFuzzer keeps
/// the input as a crash and a test running the harness on a fixed input fails.
#include <cstdarg>
#include <cstdio>
#include <cstdlib>

namespace accel::fuzz {

[[noreturn]] inline void violation(const char* fmt, ...) noexcept __attribute__((format(printf, 1, 2)));
[[noreturn]] inline void violation(const char* fmt, ...) noexcept {
    std::fputs("accel::fuzz invariant violated: ", stderr);
    va_list ap;
    va_start(ap, fmt);
    std::vfprintf(stderr, fmt, ap);
    va_end(ap);
    std::fputc('\n', stderr);
    std::fflush(stderr);
    std::abort();
}

} // namespace accel::fuzz

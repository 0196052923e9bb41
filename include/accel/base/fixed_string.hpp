// SPDX-License-Identifier: MIT
#pragma once
/// \file A string usable as a template argument, so an ioctl's name travels with its type and
/// shows up in compiler diagnostics about that entry.
#include <cstddef>
#include <string_view>

namespace accel {

template <std::size_t N>
struct fixed_string {
    char value[N]{};
    constexpr fixed_string(const char (&s)[N]) noexcept { // NOLINT: implicit from a literal on purpose
        for (std::size_t i = 0; i < N; ++i)
            value[i] = s[i];
    }
    constexpr std::string_view view() const noexcept { return {value, N - 1}; }
};

} // namespace accel

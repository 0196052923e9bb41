// SPDX-License-Identifier: MIT
#pragma once
/// \file The host page size: buffer sizes, mmap offsets and lengths are multiples of it.
#include <cstdint>
#include <unistd.h>

namespace accel {

inline std::uint64_t host_page_size() noexcept {
    static const std::uint64_t size = [] {
        long s = ::sysconf(_SC_PAGESIZE);
        return s > 0 ? static_cast<std::uint64_t>(s) : std::uint64_t{4096};
    }();
    return size;
}

} // namespace accel

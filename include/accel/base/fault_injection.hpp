// SPDX-License-Identifier: MIT
#pragma once
/// \file Fault injection: make the Nth framework allocation fail.
///
/// Every allocation the framework makes on a client's behalf (an open file, an fd table slot, a
/// large ioctl buffer, a registration) goes through `detail::alloc_may_fail()`. Tests arm the
/// injector with `fail_nth_allocation(n)` and then prove that each failure path returns a clean
/// -ENOMEM and leaves nothing behind. Disarmed, the check is one relaxed atomic load.
#include <atomic>
#include <cstdint>
#include <memory>
#include <new>
#include <utility>

namespace accel {

namespace detail {
inline std::atomic<std::int64_t> alloc_countdown{0}; // 0: disarmed; n > 0: the nth allocation fails
inline std::atomic<std::uint64_t> alloc_failures_injected{0};

/// True when this allocation must fail.
inline bool alloc_may_fail() noexcept {
    if (alloc_countdown.load(std::memory_order_relaxed) == 0) [[likely]]
        return false;
    std::int64_t left = alloc_countdown.fetch_sub(1, std::memory_order_relaxed);
    if (left == 1) {
        alloc_failures_injected.fetch_add(1, std::memory_order_relaxed);
        return true;
    }
    if (left <= 0) // raced past zero with another thread: put it back, nothing armed
        alloc_countdown.fetch_add(1, std::memory_order_relaxed);
    return false;
}

/// `new (std::nothrow) T(args...)` through the injector; nullptr means -ENOMEM.
template <class T, class... Args>
std::unique_ptr<T> make_unique_may_fail(Args&&... args) {
    if (alloc_may_fail())
        return nullptr;
    return std::unique_ptr<T>(new (std::nothrow) T(std::forward<Args>(args)...));
}
} // namespace detail

/// Arms the injector: the nth framework allocation from now on fails (n >= 1); 0 disarms.
inline void fail_nth_allocation(std::int64_t n) noexcept { detail::alloc_countdown.store(n, std::memory_order_relaxed); }

/// Disarms the injector (whether or not the armed failure fired).
inline void disarm_allocation_faults() noexcept { detail::alloc_countdown.store(0, std::memory_order_relaxed); }

/// How many failures were injected since the program started.
inline std::uint64_t injected_failures() noexcept { return detail::alloc_failures_injected.load(std::memory_order_relaxed); }

} // namespace accel

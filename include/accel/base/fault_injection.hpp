// SPDX-License-Identifier: MIT
#pragma once
/// \file Fault injection: make the Nth framework allocation, or the Nth driver callback, fail.
///
/// Every allocation the framework makes on a client's behalf (an open file, an fd table slot, a
/// large ioctl buffer, a registration) goes through `detail::alloc_may_fail()`. Tests arm the
/// injector with `fail_nth_allocation(n)` and then prove that each failure path returns a clean
/// -ENOMEM and leaves nothing behind. Disarmed, the check is one atomic load.
///
/// Likewise every place where the framework calls a driver hook that may fail (probe, open, a
/// driver ioctl, an object's open/export, a dma-buf exporter's attach/map/mmap/vmap/cpu-access,
/// the dma_domain's map, a scheduler's run_job, a reset domain's hardware reset, an attribute's
/// show and store) asks
/// `detail::callback_may_fail("<hook>")` first: armed with `fail_nth_callback(n, err)`, the nth
/// such call does not reach the driver and answers `err` as if the driver had returned it (the
/// driver stays unchanged: the framework sees the driver's error, the fault-injection analogue
/// of the kernel's fail_function/should_fail). The site of the last injected failure of each kind
/// is recorded (last_injected_allocation(), last_failed_callback()) so a sweep can show that it
/// reached every point. Both countdowns are global, like the kernel's fault attributes: a test
/// that arms them runs its scenario alone.
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <memory>
#include <new>
#include <source_location>
#include <thread>
#include <utility>

namespace accel {

namespace detail {
inline std::atomic<std::int64_t> alloc_countdown{0}; // 0: disarmed; n > 0: the nth allocation fails
inline std::atomic<std::uint64_t> alloc_failures_injected{0};
inline std::atomic<const char*> alloc_failed_file{nullptr};
inline std::atomic<std::uint32_t> alloc_failed_line{0};
/// Armed for one thread only (fail_nth_allocation_here): others neither count nor fail.
inline std::atomic<std::thread::id> alloc_thread{};

inline std::atomic<std::int64_t> callback_countdown{0}; // 0: disarmed; n > 0: the nth hook call fails
inline std::atomic<int> callback_error{-EIO};
inline std::atomic<std::uint64_t> callback_failures_injected{0};
inline std::atomic<const char*> callback_failed_hook{nullptr};

/// One step of a countdown: true when this call is the armed one.
inline bool countdown_fires(std::atomic<std::int64_t>& countdown) noexcept {
    // acquire, with the release in the arming functions: what was armed with the count (the
    // error, the one thread) is seen with it. A plain load on x86.
    if (countdown.load(std::memory_order_acquire) == 0) [[likely]]
        return false;
    std::int64_t left = countdown.fetch_sub(1, std::memory_order_relaxed);
    if (left == 1)
        return true;
    if (left <= 0) // raced past zero with another thread: put it back, nothing armed
        countdown.fetch_add(1, std::memory_order_relaxed);
    return false;
}

/// True when this allocation must fail. `where` (the caller) is recorded when it does.
inline bool alloc_may_fail(std::source_location where = std::source_location::current()) noexcept {
    if (alloc_countdown.load(std::memory_order_acquire) == 0) [[likely]]
        return false;
    const std::thread::id only = alloc_thread.load(std::memory_order_relaxed);
    if (only != std::thread::id{} && only != std::this_thread::get_id())
        return false;
    if (!countdown_fires(alloc_countdown))
        return false;
    alloc_failed_file.store(where.file_name(), std::memory_order_relaxed);
    alloc_failed_line.store(where.line(), std::memory_order_relaxed);
    alloc_failures_injected.fetch_add(1, std::memory_order_relaxed);
    return true;
}

/// 0, or the armed negative errno when this call of the driver hook `hook` must fail (the caller
/// then answers that error without calling the driver). `hook` must be a string literal.
inline int callback_may_fail(const char* hook) noexcept {
    if (!countdown_fires(callback_countdown)) [[likely]]
        return 0;
    callback_failed_hook.store(hook, std::memory_order_relaxed);
    callback_failures_injected.fetch_add(1, std::memory_order_relaxed);
    return callback_error.load(std::memory_order_relaxed);
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
inline void fail_nth_allocation(std::int64_t n) noexcept {
    detail::alloc_thread.store(std::thread::id{}, std::memory_order_relaxed);
    detail::alloc_countdown.store(n, std::memory_order_release);
}

/// Like fail_nth_allocation, counting only the calling thread's allocations: a sweep over a
/// scenario whose background threads (scheduler workers, timers) allocate at times of their own
/// reaches the same point for the same n every time.
inline void fail_nth_allocation_here(std::int64_t n) noexcept {
    detail::alloc_thread.store(std::this_thread::get_id(), std::memory_order_relaxed);
    detail::alloc_countdown.store(n, std::memory_order_release);
}

/// Disarms the injector (whether or not the armed failure fired).
inline void disarm_allocation_faults() noexcept { detail::alloc_countdown.store(0, std::memory_order_relaxed); }

/// How many failures were injected since the program started.
inline std::uint64_t injected_failures() noexcept { return detail::alloc_failures_injected.load(std::memory_order_relaxed); }

/// Where the last injected allocation failure happened (the file and line of the
/// alloc_may_fail() call); {nullptr, 0} before the first.
struct fault_site {
    const char* file = nullptr;
    std::uint32_t line = 0;
};
inline fault_site last_injected_allocation() noexcept {
    return {detail::alloc_failed_file.load(std::memory_order_relaxed), detail::alloc_failed_line.load(std::memory_order_relaxed)};
}

/// Arms the callback injector: the nth driver-hook call from now on (n >= 1) answers `err` (a
/// negative errno) without reaching the driver; 0 disarms.
inline void fail_nth_callback(std::int64_t n, int err = -EIO) noexcept {
    detail::callback_error.store(err < 0 ? err : -EIO, std::memory_order_relaxed);
    detail::callback_countdown.store(n, std::memory_order_release);
}

/// Disarms the callback injector (whether or not the armed failure fired).
inline void disarm_callback_faults() noexcept { detail::callback_countdown.store(0, std::memory_order_relaxed); }

/// How many callback failures were injected since the program started.
inline std::uint64_t injected_callback_failures() noexcept {
    return detail::callback_failures_injected.load(std::memory_order_relaxed);
}

/// The hook named by the last injected callback failure ("probe", "exporter.map", ...), or nullptr.
inline const char* last_failed_callback() noexcept { return detail::callback_failed_hook.load(std::memory_order_relaxed); }

/// Suspends both injectors for its lifetime (a test's own checks in the middle of a scenario must
/// neither consume the countdown nor fail) and restores what was left of them afterwards.
class fault_injection_pause {
public:
    fault_injection_pause() noexcept
        : alloc_(detail::alloc_countdown.exchange(0, std::memory_order_relaxed)),
          callback_(detail::callback_countdown.exchange(0, std::memory_order_relaxed)) {}
    ~fault_injection_pause() {
        detail::alloc_countdown.store(alloc_, std::memory_order_relaxed);
        detail::callback_countdown.store(callback_, std::memory_order_relaxed);
    }
    fault_injection_pause(const fault_injection_pause&) = delete;
    fault_injection_pause& operator=(const fault_injection_pause&) = delete;

private:
    std::int64_t alloc_, callback_;
};

} // namespace accel

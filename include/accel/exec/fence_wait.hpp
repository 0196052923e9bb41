// SPDX-License-Identifier: MIT
#pragma once
/// \file `park_on_fence`: a handler's interruptible wait for a fence (dma_fence_wait(intr=true)).
///
/// The request parks on the fence's wait queue (core/parked_call.hpp) and holds a reference to
/// the fence until it is answered, so the fence may be dropped by everyone else meanwhile. When
/// the fence signals, `done(arg, fence)` fills the answer (it runs as a parked check: short, no
/// sleeping); the timeout answers `timeout_result`, a FUSE interrupt -EINTR, unplug -ENODEV.
/// A negative timeout, or one too long for the clock (nanoseconds::max()), waits without limit.
#include <accel/core/parked_call.hpp>
#include <accel/exec/fence.hpp>

#include <chrono>
#include <optional>
#include <utility>

namespace accel {

template <class Arg, class Done>
    requires std::is_invocable_r_v<int, Done&, Arg&, fence&>
int park_on_fence(Arg& arg, fence_ptr f, std::chrono::nanoseconds timeout, Done done, int timeout_result = -ETIME) {
    if (!f)
        return -EINVAL;
    if (f->is_signaled())
        return done(arg, *f);
    if (timeout.count() == 0)
        return timeout_result;
    // A timeout too long for the clock (nanoseconds::max()) has no limit: as a deadline it would
    // wrap into the past and end the wait at once.
    if (!detail::deadline_after(timeout, std::chrono::steady_clock::now()))
        timeout = std::chrono::nanoseconds(-1);
    wait_queue& q = f->waiters();
    return park(
        arg, q, timeout,
        [f = std::move(f), done = std::move(done)](Arg& a) mutable -> std::optional<int> {
            if (!f->is_signaled())
                return std::nullopt;
            return done(a, *f);
        },
        timeout_result);
}

} // namespace accel

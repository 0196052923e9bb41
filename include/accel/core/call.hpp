// SPDX-License-Identifier: MIT
#pragma once
/// \file `call`: one client request as a backend delivers it, answerable later.
///
/// A backend wraps each ioctl (later: read) in a `call` that knows how to reach the caller
/// (its call_context: memory, identity) and how to answer: `complete(result)`. Most calls are
/// answered at once, by the backend, with the dispatcher's return value. A handler that must
/// wait parks the call instead (accel::park, core/parked_call.hpp): the dispatcher then returns
/// `call_parked`, and the answer comes later, exactly once, through complete(), from whichever
/// thread ends the wait (a wake-up, the timeout, an unplug, the backend cancelling it). The
/// backend keeps the call alive until complete() has run.
///   mock:  the client thread sleeps on the call until complete() (close and unplug cancel it);
///   FUSE:  the request is kept, complete() sends the reply, and libfuse's interrupt callback
///          cancels the wait with -EINTR when the caller gets a signal (no worker thread waits).
#include <accel/core/parked_list.hpp>
#include <accel/core/user_memory.hpp>

#include <mutex>
#include <utility>

namespace accel {

/// What the dispatcher returns for a call that will be answered later through complete()
/// (the kernel's internal -EIOCBQUEUED: never seen by a client).
inline constexpr int call_parked = -529;

class parked_call;

class call {
public:
    call(const call&) = delete;
    call& operator=(const call&) = delete;

    /// How the call reaches its caller; installed (call_scope) whenever the core runs for it.
    call_context ctx;

    /// Answers the call (result >= 0 or -errno). Runs once, on any thread, after the core has
    /// copied out what the caller gets back.
    virtual void complete(long result) noexcept = 0;

    /// Ends the call's wait with `error` (-EINTR for a signal): now if it is parked, or as soon
    /// as its handler parks it; a call answered without parking ignores it. Thread-safe; the
    /// first error wins. complete() may run inside this function.
    void cancel(int error) noexcept {
        parkable* p;
        {
            std::lock_guard lock(mutex_);
            if (cancelled_)
                return;
            cancelled_ = error;
            p = parked_;
            if (p)
                p->get_ref();
        }
        if (p) {
            p->cancel(error);
            p->put_ref();
        }
    }

protected:
    call() noexcept = default;
    ~call() = default;

private:
    friend class parked_call;
    /// The call is parked as `p` (which it holds until detach()); a cancel that came first ends it.
    void attach(parkable& p) noexcept {
        int early;
        {
            std::lock_guard lock(mutex_);
            early = cancelled_;
            if (!early) {
                p.get_ref();
                parked_ = &p;
            }
        }
        if (early)
            p.cancel(early);
    }
    /// The wait ended (before complete()).
    void detach() noexcept {
        parkable* p;
        {
            std::lock_guard lock(mutex_);
            p = std::exchange(parked_, nullptr);
        }
        if (p)
            p->put_ref();
    }

    std::mutex mutex_;
    parkable* parked_ = nullptr;
    int cancelled_ = 0;
};

} // namespace accel

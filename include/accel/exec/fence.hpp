// SPDX-License-Identifier: MIT
#pragma once
/// \file `fence`: a one-shot completion point on a timeline (struct dma_fence).
///
/// A fence belongs to a context (a timeline, from `fence_context_alloc`) and carries a sequence
/// number ordered inside it (`is_later`). It signals exactly once, optionally carrying an error
/// set before the signal, and records when it signalled (CLOCK_MONOTONIC nanoseconds). Whoever
/// needs to know when it signals either
///   - adds a `fence_cb` (dma_fence_add_callback): the function runs once, on the signalling
///     thread, under the fence's lock, so it must be short and must not call back into the
///     same fence; adding to a signalled fence fails with -ENOENT and never calls it;
///   - waits on `waiters()`, the wait_queue woken after the callbacks ran: a parked request
///     (core/parked_call.hpp, exec/fence_wait.hpp) or a poll;
///   - or blocks a thread in `wait(timeout)`.
///
/// accel's rules where the kernel differs (tested as accel's rule):
///   - `signal()` on a signalled fence returns -EINVAL (dma_fence_signal's "already signalled").
///   - `wait(timeout)` returns 0 once signalled and -ETIME when the timeout passes (a timeout of
///     0 only tests, a negative one waits for ever); dma_fence_wait_timeout returns the jiffies
///     left instead. It is not interruptible: a client's interruptible wait is a parked request,
///     which the backend ends with -EINTR (FUSE interrupt) as the kernel's -ERESTARTSYS does.
///   - `set_error()` after the signal is refused with -EBUSY (the kernel WARNs and ignores it).
///
/// Lifetime: reference-counted (boost::intrusive_ptr); `release()` runs when the last
/// reference goes (default: delete). The count starts at 0: `make_fence` and other factories
/// hand out a fence_ptr, and a fence nobody ever took a reference to (a basic_fence on the
/// stack or inside another object) is owned by its enclosing scope instead; signal() then takes
/// no reference of its own, and such a fence must not be given to anything that keeps
/// references (a fence array, park_on_fence), which would free it. Subclasses name their driver
/// and timeline and may signal lazily (`enable_signaling`, called once, when the first callback
/// or waiter needs it, or `enable_sw_signaling()`).
///
/// A fence whose signal depends on other fences (a container such as fence_array) signals from
/// their callbacks, i.e. under their locks; `signal_deferred()` postpones such a signal until the
/// thread has left the callbacks it is running, as the kernel's containers do with irq_work.
#include <boost/intrusive/list.hpp>
#include <boost/intrusive_ptr.hpp>

#include <accel/core/wait_queue.hpp>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <ctime>
#include <mutex>
#include <new>
#include <optional>
#include <string_view>
#include <utility>

namespace accel {

/// Allocates `num` consecutive fence contexts (dma_fence_context_alloc); never returns 0.
inline std::uint64_t fence_context_alloc(unsigned num = 1) noexcept {
    static std::atomic<std::uint64_t> next{1};
    return next.fetch_add(num, std::memory_order_relaxed);
}

/// CLOCK_MONOTONIC in nanoseconds: the clock of fence timestamps and absolute timeouts.
inline std::int64_t monotonic_ns() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

class fence;

namespace detail {

/// steady_clock's deadline `timeout` from `now`, or nothing when there is no limit: a negative
/// timeout, or one too long for the clock (nanoseconds::max() must not wrap to the past).
inline std::optional<std::chrono::steady_clock::time_point> deadline_after(std::chrono::nanoseconds timeout,
                                                                            std::chrono::steady_clock::time_point now) noexcept {
    using clock = std::chrono::steady_clock;
    if (timeout.count() < 0 || timeout >= std::chrono::duration_cast<std::chrono::nanoseconds>(clock::time_point::max() - now))
        return std::nullopt;
    return now + std::chrono::duration_cast<clock::duration>(timeout);
}

/// This thread's signal() nesting: how many signal() calls are running their callbacks and
/// waking their waiters here, and the fences whose signal waits until none is (signal_deferred).
struct signal_nesting {
    unsigned depth = 0;
    bool draining = false;
    fence* first = nullptr;
    fence* last = nullptr;
};
inline constinit thread_local signal_nesting this_thread_signals{};

} // namespace detail

/// A callback slot (struct dma_fence_cb), owned by whoever adds it; it must stay alive until it
/// ran or was removed.
struct fence_cb : boost::intrusive::list_base_hook<boost::intrusive::link_mode<boost::intrusive::safe_link>> {
    using func_t = void (*)(fence&, fence_cb&) noexcept;
    func_t func = nullptr;
};

class fence {
public:
    fence(const fence&) = delete;
    fence& operator=(const fence&) = delete;

    std::uint64_t context() const noexcept { return context_; }
    std::uint64_t seqno() const noexcept { return seqno_; }

    virtual std::string_view driver_name() const noexcept { return "accel"; }
    virtual std::string_view timeline_name() const noexcept { return "unbound"; }

    /// Whether this fence comes after `other` on their common timeline (__dma_fence_is_later):
    /// 64-bit sequence numbers compare plainly, 32-bit ones with wrap-around. Only meaningful in
    /// one context (false across contexts).
    bool is_later(const fence& other) const noexcept {
        if (context_ != other.context_)
            return false;
        if (seqno64_)
            return seqno_ > other.seqno_;
        return static_cast<std::int32_t>(static_cast<std::uint32_t>(seqno_) - static_cast<std::uint32_t>(other.seqno_)) > 0;
    }

    bool is_signaled() const noexcept { return signaled_.load(std::memory_order_acquire); }

    /// 0 while pending, 1 once signalled without error, the error once signalled with one
    /// (dma_fence_get_status).
    int status() const noexcept {
        if (!is_signaled())
            return 0;
        int e = error_.load(std::memory_order_relaxed);
        return e ? e : 1;
    }
    /// The error set so far (visible before the signal too, as fence->error is).
    int error() const noexcept { return error_.load(std::memory_order_relaxed); }

    /// Records `err` (a negative errno) to be reported with the signal (dma_fence_set_error).
    /// -EINVAL for a non-negative value, -EBUSY once signalled (accel's rule).
    int set_error(int err) noexcept {
        if (err >= 0)
            return -EINVAL;
        std::lock_guard lock(mutex_);
        if (is_signaled())
            return -EBUSY;
        error_.store(err, std::memory_order_relaxed);
        return 0;
    }

    /// The signal time (CLOCK_MONOTONIC ns), or 0 while pending.
    std::int64_t timestamp() const noexcept { return is_signaled() ? timestamp_ : 0; }

    /// Signals now (or at `when`, a timestamp in the past): runs the callbacks, then wakes the
    /// waiters, then (outermost signal() of this thread only) the signals deferred meanwhile.
    /// -EINVAL when already signalled (nothing runs).
    int signal(std::int64_t when = 0) noexcept {
        // A callback may drop the last other reference; a fence nobody references is kept alive
        // by its owner, and taking (then dropping) one here would free it.
        const boost::intrusive_ptr<fence> self = get_unless_zero();
        detail::signal_nesting& nest = detail::this_thread_signals;
        boost::intrusive::list<fence_cb, boost::intrusive::constant_time_size<false>> cbs;
        {
            std::lock_guard lock(mutex_);
            if (is_signaled())
                return -EINVAL;
            timestamp_ = when ? when : monotonic_ns();
            signaled_.store(true, std::memory_order_release);
            cbs.swap(cbs_);
            ++nest.depth;
            // Under the lock, as the kernel runs them: remove_callback() returning false then
            // means the callback has finished.
            while (!cbs.empty()) {
                fence_cb& cb = cbs.front();
                cbs.pop_front();
                cb.func(*this, cb);
            }
        }
        waiters_.wake_all();
        if (--nest.depth == 0 && nest.first && !nest.draining)
            run_deferred(nest);
        return 0;
    }

    /// signal(), unless this thread is inside a signal() (running a fence's callbacks or
    /// waking its waiters): then the signal happens when the outermost of those has finished,
    /// before it returns, outside every fence's lock (irq_work in the kernel's containers). So a
    /// fence signalled from another fence's callback runs its own callbacks without that lock
    /// held. 0 (signalled, or will be), -EINVAL when already signalled or already deferred.
    int signal_deferred() noexcept {
        detail::signal_nesting& nest = detail::this_thread_signals;
        if (nest.depth == 0)
            return signal();
        if (is_signaled() || deferred_.exchange(true, std::memory_order_acq_rel))
            return -EINVAL;
        deferred_self_ = get_unless_zero();
        deferred_next_ = nullptr;
        (nest.last ? nest.last->deferred_next_ : nest.first) = this;
        nest.last = this;
        return 0;
    }

    /// Calls `func(*this, cb)` when the fence signals: 0, or -ENOENT when it already has (the
    /// callback is not called), -EINVAL without a function or for a slot already in use.
    int add_callback(fence_cb& cb, fence_cb::func_t func) noexcept {
        if (!func)
            return -EINVAL;
        enable_signaling_once();
        std::lock_guard lock(mutex_);
        if (cb.is_linked()) // checked under the lock: the slot may be on this fence's list
            return -EINVAL;
        if (is_signaled())
            return -ENOENT;
        cb.func = func;
        cbs_.push_back(cb);
        return 0;
    }

    /// Removes a callback that has not run: true if it was removed (it will never run), false
    /// if it ran or was never added (then it has finished running).
    bool remove_callback(fence_cb& cb) noexcept {
        std::lock_guard lock(mutex_);
        if (!cb.is_linked())
            return false;
        cbs_.erase(cbs_.iterator_to(cb));
        return true;
    }

    /// Woken (after the callbacks) when the fence signals. Arms lazy signalling.
    wait_queue& waiters() noexcept {
        enable_signaling_once();
        return waiters_;
    }

    /// Arms lazy signalling now (dma_fence_enable_sw_signaling): a fence array starts watching
    /// its members, so it signals even if nobody adds a callback or waits.
    void enable_sw_signaling() noexcept { enable_signaling_once(); }

    /// Blocks the calling thread until the fence signals: 0, or -ETIME when `timeout` passes
    /// first (0 only tests; negative, or too long for the clock such as nanoseconds::max(): no
    /// limit).
    int wait(std::chrono::nanoseconds timeout) noexcept {
        if (is_signaled())
            return 0;
        if (timeout.count() == 0)
            return -ETIME;
        struct sleeper : fence_cb {
            std::mutex m;
            std::condition_variable cv;
            bool done = false;
        } s;
        int r = add_callback(s, [](fence&, fence_cb& cb) noexcept {
            auto& w = static_cast<sleeper&>(cb);
            std::lock_guard lock(w.m); // notify under the lock: the sleeper cannot leave before
            w.done = true;
            w.cv.notify_one();
        });
        if (r == -ENOENT)
            return 0;
        std::unique_lock lock(s.m);
        const auto deadline = detail::deadline_after(timeout, std::chrono::steady_clock::now());
        if (!deadline) {
            s.cv.wait(lock, [&] { return s.done; });
            return 0;
        }
        if (s.cv.wait_until(lock, *deadline, [&] { return s.done; }))
            return 0;
        lock.unlock();
        if (remove_callback(s))
            return -ETIME;
        // The callback ran (or is running) meanwhile: it has finished once remove_callback saw
        // it gone, since callbacks run under the fence's lock.
        return 0;
    }

    friend void intrusive_ptr_add_ref(fence* f) noexcept { f->refs_.fetch_add(1, std::memory_order_relaxed); }
    friend void intrusive_ptr_release(fence* f) noexcept {
        if (f->refs_.fetch_sub(1, std::memory_order_acq_rel) == 1)
            f->release();
    }
    std::uint32_t use_count() const noexcept { return refs_.load(std::memory_order_relaxed); }

protected:
    /// A pending fence at (`context`, `seqno`); `seqno64` selects 64-bit comparison.
    fence(std::uint64_t context, std::uint64_t seqno, bool seqno64 = false) noexcept
        : context_(context), seqno_(seqno), seqno64_(seqno64) {}
    virtual ~fence() = default;
    /// The last reference went.
    virtual void release() noexcept { delete this; }
    /// Called once, outside the fence's lock, before the first callback or waiter: a fence that
    /// signals lazily (a fence array, a hardware fence with interrupts off) starts watching here.
    virtual void enable_signaling() noexcept {}

private:
    /// A reference, unless there are none: a fence nobody references is owned by its scope.
    boost::intrusive_ptr<fence> get_unless_zero() noexcept {
        std::uint32_t n = refs_.load(std::memory_order_relaxed);
        while (n != 0)
            if (refs_.compare_exchange_weak(n, n + 1, std::memory_order_relaxed))
                return boost::intrusive_ptr<fence>(this, false);
        return {};
    }

    /// Signals the fences deferred on this thread, in order; those they defer in turn join the
    /// end of the list (no recursion).
    static void run_deferred(detail::signal_nesting& nest) noexcept {
        nest.draining = true;
        while (fence* f = nest.first) {
            nest.first = f->deferred_next_;
            if (!nest.first)
                nest.last = nullptr;
            f->deferred_next_ = nullptr;
            const boost::intrusive_ptr<fence> keep = std::move(f->deferred_self_);
            f->signal();
        }
        nest.draining = false;
    }

    void enable_signaling_once() noexcept {
        if (!signaling_enabled_.exchange(true, std::memory_order_acq_rel))
            enable_signaling();
    }

    std::atomic<std::uint32_t> refs_{0};
    const std::uint64_t context_;
    const std::uint64_t seqno_;
    const bool seqno64_;
    std::atomic<bool> signaled_{false};
    std::atomic<bool> signaling_enabled_{false};
    std::atomic<int> error_{0};
    std::int64_t timestamp_ = 0; // written under mutex_ before signaled_ is released
    std::atomic<bool> deferred_{false};
    mutable std::mutex mutex_;
    boost::intrusive::list<fence_cb, boost::intrusive::constant_time_size<false>> cbs_;
    wait_queue waiters_;
    fence* deferred_next_ = nullptr;           // this thread's deferred list (signal_deferred)
    boost::intrusive_ptr<fence> deferred_self_; // held while deferred
};

using fence_ptr = boost::intrusive_ptr<fence>;

/// A plain fence a driver signals itself (a hardware fence, a job's fence).
class basic_fence : public fence {
public:
    basic_fence(std::uint64_t context, std::uint64_t seqno, std::string_view driver = "accel",
                std::string_view timeline = "unbound", bool seqno64 = false) noexcept
        : fence(context, seqno, seqno64), driver_(driver), timeline_(timeline) {}
    std::string_view driver_name() const noexcept override { return driver_; }
    std::string_view timeline_name() const noexcept override { return timeline_; }

private:
    std::string_view driver_; // static strings: a fence may outlive whoever made it
    std::string_view timeline_;
};

/// A new pending fence; nullptr when out of memory.
inline fence_ptr make_fence(std::uint64_t context, std::uint64_t seqno, std::string_view driver = "accel",
                            std::string_view timeline = "unbound") noexcept {
    return fence_ptr(new (std::nothrow) basic_fence(context, seqno, driver, timeline));
}

/// An already-signalled fence with a fresh timestamp (dma_fence_allocate_private_stub); nullptr
/// when out of memory.
inline fence_ptr signaled_stub(std::int64_t when = 0) noexcept {
    fence_ptr f = make_fence(0, 0, "stub", "stub");
    if (f)
        f->signal(when);
    return f;
}

} // namespace accel

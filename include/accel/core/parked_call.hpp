// SPDX-License-Identifier: MIT
#pragma once
/// \file Deferred completion: `accel::park` for handlers, `parked_call` for the framework.
///
/// A handler that must wait for a condition (a job to finish, a fence, an event) does not
/// sleep: it parks its request and returns. The kernel's
/// \code
///     ret = wait_event_interruptible_timeout(wq, done(args), timeout);
/// \endcode
/// becomes
/// \code
///     static int wait(device<npu>& d, file<npu>&, npu_wait& a) {
///         if (done(d, a)) return 0;                      // the fast path: no wait at all
///         return accel::park(a, d->wq, std::chrono::milliseconds(a.timeout_ms),
///                            [&dd = d.data()](npu_wait& a) -> std::optional<int> {
///                                if (!done(dd, a)) return std::nullopt;  // keep waiting
///                                a.status = ...;                          // copied out
///                                return 0;
///                            });
///     }
/// \endcode
/// and whoever changes the condition calls `d->wq.wake_all()`. The check runs again on every
/// wake-up of the queue (and once right after parking, so a wake-up that came while the
/// handler was returning is not lost), with the device guard held and the caller's memory
/// reachable, on the thread that woke the queue: it must be short, must not sleep, and must
/// not wake queues itself. When it returns a value, the argument (which the check may have
/// changed) is copied out to the caller and the request is answered with that value.
///
/// A wait ends without the condition when:
///   - the timeout passes: the check runs a last time, then the request gets `timeout_result`
///     (-ETIME by default, as DRM wait ioctls answer; a negative timeout, or one too long for
///     the clock such as nanoseconds::max(), waits for ever);
///   - the device is unplugged: -ENODEV (unplug ends every parked request, then proceeds: it
///     never waits for a sleeping wait, since no wait holds the device guard);
///   - the backend cancels it: -EINTR when the FUSE caller gets a signal; on the mock, closing
///     the descriptor ends its waits with -EBADF (accel's rule: the mock's close waits for the
///     calls on the descriptor, so it must end them; a kernel close leaves them running).
/// While parked, a request holds no thread, no lock and no device guard: 16 clients waiting do
/// not starve a 17th.
///
/// park() answers -EAGAIN when the backend cannot answer later (a call without a `call`),
/// -ENOMEM when the check cannot be stored, -EINVAL when `arg` is not this call's argument.
#include <accel/base/errno.hpp>
#include <accel/core/call.hpp>
#include <accel/core/deadline_timer.hpp>
#include <accel/core/device_base.hpp>
#include <accel/core/parked_list.hpp>
#include <accel/core/user_memory.hpp>
#include <accel/core/wait_queue.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <utility>

namespace accel {

/// What a handler asks for when it parks (filled by park(), read by the dispatcher), or what
/// a read operation parks (park_read()).
struct park_request {
    void* kdata = nullptr; ///< the argument being dispatched
    wait_queue* queue = nullptr;
    std::chrono::nanoseconds timeout{-1};
    long timeout_result = -ETIME;
    std::function<std::optional<long>(void* kdata)> check;
    /// A read: the result counts the bytes of kdata to copy out (none when it is an error).
    bool copy_result_bytes = false;
};

template <class Arg, class Check>
    requires std::is_invocable_r_v<std::optional<int>, Check&, Arg&>
int park(Arg& arg, wait_queue& queue, std::chrono::nanoseconds timeout, Check check, int timeout_result = -ETIME) {
    call_context* ctx = detail::current_call;
    if (!ctx || !ctx->async || !ctx->park)
        return -EAGAIN;
    park_request& p = *ctx->park;
    if (static_cast<void*>(&arg) != p.kdata)
        return -EINVAL;
    if (detail::alloc_may_fail())
        return -ENOMEM;
    try {
        p.check = [c = std::move(check)](void* k) mutable -> std::optional<long> {
            std::optional<int> r = c(*static_cast<Arg*>(k));
            return r ? std::optional<long>(*r) : std::nullopt;
        };
    } catch (...) {
        return -ENOMEM;
    }
    p.queue = &queue;
    p.timeout = timeout;
    p.timeout_result = timeout_result;
    return call_parked;
}

/// A request waiting on a queue: on the queue, on its device's parked list and, with a
/// timeout, on the deadline timer, until exactly one of wake-up, timeout, unplug or cancel
/// ends it.
class parked_call final : public wait_entry, public parkable, public timed_entry {
public:
    /// Parks `c` for the handler's request `p` on file `f`: takes the argument's bytes (`ksize`
    /// of them, `out_size` copied out to `arg` at the end). Returns call_parked (the request
    /// will be answered through c.complete(), perhaps already was), or -ENOMEM with nothing
    /// parked.
    static int start(device_base& dev, const open_file& f, call& c, park_request&& p, const void* kdata,
                     std::size_t ksize, std::uint64_t arg, std::size_t out_size) noexcept {
        if (detail::alloc_may_fail())
            return -ENOMEM;
        std::unique_ptr<unsigned char[]> copy(new (std::nothrow) unsigned char[ksize ? ksize : 1]);
        if (!copy)
            return -ENOMEM;
        if (kdata)
            std::memcpy(copy.get(), kdata, ksize);
        auto* pc = new (std::nothrow) parked_call(dev, f, c, std::move(p), std::move(copy), arg, out_size);
        if (!pc)
            return -ENOMEM;
        // The backend may cancel from now on; a cancel that came while the handler ran ends the
        // call here and now (complete() runs), before anything else can reach it.
        c.attach(*pc);
        {
            // Joining the lists under the call's lock: a cancel racing with this sees either
            // no lists yet (and done_ keeps us from joining) or all of them (and finish leaves).
            std::lock_guard lock(pc->mutex_);
            if (!pc->done_) {
                dev.parked().add(*pc);
                pc->queue_->add(*pc);
                // A timeout beyond the clock's range is no timeout (MAX_SCHEDULE_TIMEOUT), not
                // an overflow into a deadline in the past.
                const auto now = deadline_timer::clock::now();
                const bool timed = pc->timeout_.count() >= 0 &&
                                   pc->timeout_ < std::chrono::duration_cast<std::chrono::nanoseconds>(
                                                      deadline_timer::clock::time_point::max() - now);
                if (timed && deadline_timer::instance().schedule(
                                 *pc, now + std::chrono::duration_cast<deadline_timer::clock::duration>(pc->timeout_)) != 0) {
                    int none = 0;
                    pc->cancel_error_.compare_exchange_strong(none, -ENOMEM); // ended by the attempt below
                }
            }
        }
        // Unplug may have swept the parked list before this call joined it; a wake-up may have
        // come before the queue knew of it. Either way the attempt settles it.
        if (dev.unplugged())
            pc->cancel(-ENODEV);
        else
            pc->attempt();
        pc->wait_entry::put(); // the creator's reference
        return call_parked;
    }

    void wake() noexcept override { attempt(); }
    void cancel(int error) noexcept override {
        int none = 0;
        cancel_error_.compare_exchange_strong(none, error);
        attempt();
    }
    void expire() noexcept override {
        timed_out_.store(true);
        attempt();
    }
    void get_ref() noexcept override { wait_entry::get(); }
    void put_ref() noexcept override { wait_entry::put(); }

private:
    parked_call(device_base& dev, const open_file& f, call& c, park_request&& p, std::unique_ptr<unsigned char[]> kdata,
                std::uint64_t arg, std::size_t out_size) noexcept
        : parkable(&f), dev_(&dev), call_(&c), queue_(p.queue), timeout_(p.timeout), timeout_result_(p.timeout_result),
          check_(std::move(p.check)), kdata_(std::move(kdata)), arg_(arg), out_size_(out_size),
          copy_result_bytes_(p.copy_result_bytes) {}
    ~parked_call() override = default;

    /// Runs the ending logic; concurrent attempts combine: whoever holds the lock reruns for
    /// the others (a wake-up during a check is never lost, and checks never run in parallel).
    void attempt() noexcept {
        pending_.store(true, std::memory_order_release);
        while (pending_.load(std::memory_order_acquire)) {
            std::unique_lock lock(mutex_, std::try_to_lock);
            if (!lock.owns_lock())
                return; // the holder will see pending_
            pending_.store(false, std::memory_order_relaxed);
            if (done_)
                return;
            std::optional<long> r = decide();
            if (!r)
                continue;
            done_ = true;
            lock.unlock();
            finish(*r);
            return;
        }
    }

    std::optional<long> decide() noexcept {
        if (int e = cancel_error_.load())
            return e;
        call_scope scope(call_->ctx);
        std::optional<long> r;
        if (!dev_->enter())
            return -ENODEV;
        {
            device_base::entered guard{dev_};
            try {
                r = check_(kdata_.get());
            } catch (...) {
                r = exception_errno();
            }
        }
        if (!r && timed_out_.load())
            r = timeout_result_;
        return r;
    }

    /// Leaves every list, copies the argument out and answers the request.
    void finish(long result) noexcept {
        wait_entry::get(); // alive until the end of this function, whatever the lists drop
        queue_->remove(*this);
        dev_->parked().remove(*this);
        deadline_timer::instance().cancel(*this);
        call_->detach();
        {
            call_scope scope(call_->ctx);
            const std::size_t out = !copy_result_bytes_ ? out_size_
                                    : result > 0      ? std::min(out_size_, static_cast<std::size_t>(result))
                                                      : 0;
            if (copy_to_user(arg_, kdata_.get(), out))
                result = -EFAULT;
        }
        call_->complete(result);
        wait_entry::put();
    }

    device_base* dev_; // alive: the file the request came through holds it
    call* call_;
    wait_queue* queue_;
    std::chrono::nanoseconds timeout_;
    long timeout_result_;
    std::function<std::optional<long>(void*)> check_;
    std::unique_ptr<unsigned char[]> kdata_;
    std::uint64_t arg_;
    std::size_t out_size_;
    bool copy_result_bytes_;
    std::mutex mutex_;
    bool done_ = false; // guarded by mutex_
    std::atomic<bool> pending_{false};
    std::atomic<int> cancel_error_{0};
    std::atomic<bool> timed_out_{false};
};

/// For a read operation (core/open_file.hpp) that must wait: parks the read of up to `n` bytes
/// for the caller's `buf` on `queue`. `fill(std::byte* kbuf, std::size_t n)` runs as a parked
/// ioctl's check does: std::nullopt keeps waiting; a byte count is the answer, and that many
/// bytes of kbuf are copied out to `buf`; -errno fails the read. `timeout_result` ends a timed
/// wait (-EAGAIN by default). Returns call_parked, or -EAGAIN (the backend cannot answer
/// later), -ENOMEM.
template <class Fill>
    requires std::is_invocable_r_v<std::optional<long>, Fill&, std::byte*, std::size_t>
long park_read(device_base& dev, const open_file& f, std::uint64_t buf, std::size_t n, wait_queue& queue,
               std::chrono::nanoseconds timeout, Fill fill, long timeout_result = -EAGAIN) {
    call_context* ctx = detail::current_call;
    if (!ctx || !ctx->async)
        return -EAGAIN;
    park_request p;
    p.queue = &queue;
    p.timeout = timeout;
    p.timeout_result = timeout_result;
    p.copy_result_bytes = true;
    try {
        p.check = [fill = std::move(fill), n](void* k) mutable -> std::optional<long> {
            return fill(static_cast<std::byte*>(k), n);
        };
    } catch (...) {
        return -ENOMEM;
    }
    return parked_call::start(dev, f, *ctx->async, std::move(p), nullptr, n, buf, n);
}

} // namespace accel

// SPDX-License-Identifier: MIT
#pragma once
/// \file One FUSE ioctl as a core `call`: answered now, or kept and answered when its wait ends.
///
/// A request's life (handlers.hpp):
///   1. the host makes an ioctl_call on the heap and registers libfuse's interrupt callback for
///      the request before the dispatcher runs, so a signal is never missed;
///   2. the dispatcher answers at once: the host unregisters the callback (which waits for a
///      callback already running), replies, and frees the call; or
///   3. a handler parked the request (core/parked_call.hpp): the worker thread returns to
///      libfuse at once, holding nothing. When the wait ends - a wake-up, its timeout, an
///      unplug, or the interrupt callback cancelling it with -EINTR - complete() finishes the
///      sync point, replies with the copied-out bytes and frees the call. No worker thread
///      waits, so 16 clients blocked in waits do not starve a 17th.
/// A signal in a client whose request is not parked changes nothing: the answer comes when the
/// handler returns, as from a kernel driver that does not sleep.
///
/// libfuse runs the interrupt callback with the request's lock held, and unregistering takes
/// that lock: complete() therefore unregisters only when it does not run inside the callback.
#include <accel/core/call.hpp>
#include <accel/fuse/caller_memory.hpp>
#include <accel/fuse/coherency.hpp>
#include <accel/fuse/lowlevel.hpp>

#include <cerrno>
#include <cstdint>
#include <new>
#include <optional>

namespace accel::fuse {

class ioctl_call final : public call {
public:
    /// A call for the request, or null when out of memory (then nothing is replied).
    static ioctl_call* make(fuse_req_t req, const caller_identity& who, std::uint64_t arg, const void* in,
                            std::size_t in_size, std::size_t out_size) noexcept {
        auto* c = new (std::nothrow) ioctl_call(req, who, arg, in, in_size, out_size);
        if (c && !c->ok()) {
            delete c;
            return nullptr;
        }
        return c;
    }

private:
    ioctl_call(fuse_req_t req, const caller_identity& who, std::uint64_t arg, const void* in, std::size_t in_size,
               std::size_t out_size) noexcept
        : req_(req), mem_(who.pid, arg, in, in_size, out_size) {
        ctx = call_context{&mem_, who};
        ctx.async = this;
        // The request's input buffer is libfuse's, reused once the worker returns, which a
        // parked request outlives: keep the input (no allocation up to 256 bytes).
        kept_ = mem_.keep_input();
    }

    /// False when the caller's memory window could not be set up (-ENOMEM).
    bool ok() const noexcept { return mem_.ok() && kept_; }

public:

    /// The sync point of the objects the handler touches, for a compute node's view.
    void sync_in(fuse_session* se, process_view& view) noexcept {
        sync_.emplace(se, view);
        ctx.objects = &*sync_;
    }

    /// Registers the interrupt callback (step 1).
    void arm() noexcept { fuse_req_interrupt_func(req_, &interrupted, this); }

    /// Step 2: the dispatcher's answer `ret`, given now; frees the call.
    void answer_now(int ret) noexcept {
        fuse_req_interrupt_func(req_, nullptr, nullptr); // waits for a running callback
        reply(finish_sync(ret));
    }

    /// Step 3: a parked request's answer.
    void complete(long result) noexcept override {
        if (!in_interrupt())
            fuse_req_interrupt_func(req_, nullptr, nullptr);
        reply(finish_sync(static_cast<int>(result)));
    }

private:
    static bool& in_interrupt() noexcept {
        static thread_local bool inside = false;
        return inside;
    }
    static void interrupted(fuse_req_t, void* data) noexcept {
        in_interrupt() = true;
        static_cast<ioctl_call*>(data)->cancel(-EINTR);
        in_interrupt() = false;
    }
    int finish_sync(int ret) noexcept { return sync_ ? sync_->finish(ret) : ret; }
    void reply(int ret) noexcept {
        auto out = mem_.reply();
        fuse_reply_ioctl(req_, ret, out.empty() ? nullptr : out.data(), out.size());
        delete this;
    }
    ~ioctl_call() = default;

    fuse_req_t req_;
    caller_memory mem_;
    std::optional<ioctl_sync> sync_;
    bool kept_ = true;
};

} // namespace accel::fuse

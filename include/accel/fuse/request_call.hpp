// SPDX-License-Identifier: MIT
#pragma once
/// \file One FUSE ioctl or read as a core `call`: answered now, or kept and answered when its
/// wait ends.
///
/// A request's life (handlers.hpp):
///   1. the host makes an request_call on the heap and registers libfuse's interrupt callback for
///      the request before the dispatcher runs, so a signal is never missed;
///   2. the dispatcher answers at once: the host unregisters the callback (which waits for a
///      callback already running), replies, and frees the call; or
///   3. a handler parked the request (core/parked_call.hpp): the worker thread returns to
///      libfuse at once, holding nothing. When the wait ends - a wake-up, its timeout, an
///      unplug, or the interrupt callback cancelling it with -EINTR - complete() finishes the
///      sync point (coherency.hpp), replies with the copied-out bytes and frees the call. No worker thread
///      waits, so 16 clients blocked in waits do not starve a 17th.
/// A signal in a client whose request is not parked changes nothing: the answer comes when the
/// handler returns, as from a kernel driver that does not sleep.
///
/// libfuse runs the interrupt callback with the request's lock held, and unregistering takes
/// that lock: complete() therefore unregisters only when it does not run inside the callback.
///
/// A parked request is answered from a thread libfuse does not know (a timer, a driver's thread
/// waking a queue), so every call is in the host's `call_registry` from make() to the end of its
/// reply: at unmount the host cancels the parked ones and waits for every reply in progress
/// before the session is destroyed (a reply touches the session's lock).
#include <accel/core/call.hpp>
#include <accel/fuse/caller_descriptors.hpp>
#include <accel/fuse/caller_memory.hpp>
#include <accel/fuse/coherency.hpp>
#include <accel/fuse/lowlevel.hpp>

#include <boost/intrusive/list.hpp>

#include <memory>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <vector>
#include <new>
#include <optional>

namespace accel::fuse {

class request_call;

/// The host's requests from make() to the end of their reply (see the file comment).
class call_registry {
public:
    call_registry() = default;
    call_registry(const call_registry&) = delete;
    call_registry& operator=(const call_registry&) = delete;

    /// After the connection is aborted: ends every parked request (-EINTR; the reply goes
    /// nowhere) and waits until no reply is in progress.
    inline void end_all() noexcept;

private:
    friend class request_call;
    void add(request_call& c) noexcept {
        std::lock_guard lock(mutex_);
        calls_.push_back(c);
    }
    inline void remove(request_call& c) noexcept;

    using hook = boost::intrusive::list_base_hook<boost::intrusive::link_mode<boost::intrusive::normal_link>>;
    std::mutex mutex_;
    std::condition_variable empty_;
    boost::intrusive::list<request_call, boost::intrusive::base_hook<hook>, boost::intrusive::constant_time_size<false>> calls_;
};

class request_call final : public call, public boost::intrusive::list_base_hook<boost::intrusive::link_mode<boost::intrusive::normal_link>> {
public:
    /// How the answer goes back: an ioctl's result with the bytes copied out, or a read's
    /// bytes (or its error).
    enum class reply_kind { ioctl, read };

    /// A call for the request, or null when out of memory (then nothing is replied). For a
    /// read, `arg` is the address of the reply window (handlers.hpp) and `out_size` its size.
    static request_call* make(call_registry& reg, fuse_req_t req, reply_kind kind, const caller_identity& who,
                              std::uint64_t arg, const void* in, std::size_t in_size, std::size_t out_size) noexcept {
        auto* c = new (std::nothrow) request_call(reg, req, kind, who, arg, in, in_size, out_size);
        if (c && !c->ok()) {
            delete c;
            return nullptr;
        }
        if (c)
            reg.add(*c);
        return c;
    }

private:
    request_call(call_registry& reg, fuse_req_t req, reply_kind kind, const caller_identity& who, std::uint64_t arg,
                 const void* in, std::size_t in_size, std::size_t out_size) noexcept
        : reg_(&reg), req_(req), kind_(kind), mem_(who.pid, arg, in, in_size, out_size) {
        ctx = call_context{&mem_, who};
        ctx.async = this;
        // The request's input buffer is libfuse's, reused once the worker returns, which a
        // parked request outlives: keep the input (no allocation up to 256 bytes).
        kept_ = mem_.keep_input();
    }

    /// False when the caller's memory window could not be set up (-ENOMEM).
    bool ok() const noexcept { return mem_.ok() && kept_; }

public:

    /// The sync point of a request on a compute node's view (coherency.hpp): the objects the
    /// handler touches, and the device's writes when the answer goes.
    void sync_in(fuse_session* se, process_view& view, const device_base& dev) noexcept {
        sync_.emplace(se, view, dev);
        ctx.objects = &*sync_;
    }

    /// The sync point of a request on a mappable published file (published_files.hpp): its
    /// page cache is dropped with the answer.
    void sync_published_in(fuse_session* se, std::shared_ptr<published_file> p) noexcept {
        pub_se_ = se;
        pub_ = std::move(p);
    }

    /// The caller's descriptor table for fd_install and fget (caller_descriptors.hpp): what the
    /// call installs is committed or given back when it is answered.
    void use_descriptors(const descriptor_host& host, caller_descriptors::mode m, std::uint64_t flags_at,
                         accel::open_file& file, unsigned cmd) noexcept {
        files_.emplace(host, ctx.caller.pid, m, flags_at, file, cmd);
        ctx.files = &*files_;
    }

    /// Registers the interrupt callback (step 1).
    void arm() noexcept { fuse_req_interrupt_func(req_, &interrupted, this); }

    /// Step 2: the dispatcher's answer `ret`, given now; frees the call.
    void answer_now(long ret) noexcept {
        fuse_req_interrupt_func(req_, nullptr, nullptr); // waits for a running callback
        reply(finish_descriptors(finish_sync(ret), false));
    }

    /// Step 3: a parked request's answer.
    void complete(long result) noexcept override {
        if (!in_interrupt())
            fuse_req_interrupt_func(req_, nullptr, nullptr);
        reply(finish_descriptors(finish_sync(result), true));
    }

private:
    static bool& in_interrupt() noexcept {
        static thread_local bool inside = false;
        return inside;
    }
    static void interrupted(fuse_req_t, void* data) noexcept {
        in_interrupt() = true;
        static_cast<request_call*>(data)->cancel(-EINTR);
        in_interrupt() = false;
    }
    long finish_sync(long ret) noexcept {
        if (pub_)
            sync_published(pub_se_, *pub_, true);
        return sync_ ? sync_->finish(ret) : ret;
    }
    long finish_descriptors(long ret, bool parked) noexcept { return files_ ? files_->finish(ret, mem_, parked) : ret; }
    void reply(long ret) noexcept {
        auto out = mem_.reply();
        if (kind_ == reply_kind::ioctl)
            fuse_reply_ioctl(req_, static_cast<int>(ret), out.empty() ? nullptr : out.data(), out.size());
        else if (ret < 0)
            fuse_reply_err(req_, static_cast<int>(-ret));
        else
            fuse_reply_buf(req_, reinterpret_cast<const char*>(out.data()),
                           std::min(out.size(), static_cast<std::size_t>(ret)));
        put();
    }
    void get() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
    /// The reply's reference, and end_all()'s: the last one leaves the registry and frees.
    void put() noexcept {
        if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
            call_registry* reg = reg_;
            reg->remove(*this);
            delete this;
        }
    }
    ~request_call() = default;

    friend class call_registry;
    call_registry* reg_;
    std::atomic<std::uint32_t> refs_{1}; // the request's own, until its reply is sent
    fuse_req_t req_;
    reply_kind kind_;
    caller_memory mem_;
    std::optional<view_sync> sync_;
    std::optional<caller_descriptors> files_;
    fuse_session* pub_se_ = nullptr;
    std::shared_ptr<published_file> pub_;
    bool kept_ = true;
};

inline void call_registry::remove(request_call& c) noexcept {
    std::lock_guard lock(mutex_);
    calls_.erase(calls_.iterator_to(c));
    if (calls_.empty())
        empty_.notify_all();
}

inline void call_registry::end_all() noexcept {
    std::vector<request_call*> live;
    {
        std::lock_guard lock(mutex_);
        try {
            for (request_call& c : calls_) {
                c.get();
                live.push_back(&c);
            }
        } catch (...) { // out of memory: the calls already taken are ended, the others time out
        }
    }
    for (request_call* c : live) {
        c->cancel(-EINTR); // parked: answered now (into the aborted connection)
        c->put();
    }
    std::unique_lock lock(mutex_);
    empty_.wait(lock, [&] { return calls_.empty(); });
}

} // namespace accel::fuse

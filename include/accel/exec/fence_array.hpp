// SPDX-License-Identifier: MIT
#pragma once
/// \file `fence_array`: one fence for several (struct dma_fence_array).
///
/// An array signals when all of its members have (all-of), or when any one has (any-of,
/// `signal_on_any`). It has its own context and sequence number, names itself driver
/// "dma_fence_array", timeline "unbound", and holds a reference to each member for its whole
/// life. As in the kernel:
///   - signalling is lazy: the members get a callback only when the array's signalling is
///     enabled (its first callback or waiter, wait(), or enable_sw_signaling()); a member that
///     has signalled by then counts down at once;
///   - the pending count starts at the number of members (all-of) or at 1 (any-of);
///   - the array's error is the first non-zero error among the members seen signalling before
///     the array itself signals, else none;
///   - each registered member callback holds a reference to the array, so an array whose last
///     other reference goes keeps living (and signals) while any member may still call it back;
///     an any-of array lives until its last member has signalled too (a member that never
///     signals keeps an enabled array for ever, as in the kernel).
///
/// accel's rules where the kernel differs:
///   - an array without members is signalled when created (the kernel WARNs on it);
///   - the signal comes from the callback of the member that completes the array, on that
///     member's signalling thread, through `fence::signal_deferred()`: after that member's
///     signal() has left its lock and woken its waiters, before it returns (the kernel queues an
///     irq_work). So the array's own callbacks and waiters never run under a member's lock, and
///     may use the members (add or remove callbacks, signal them) without deadlock.
///   - members are given as references (`fence_ptr`s, copied), not as an array whose ownership
///     is taken; a null member is refused.
#include <accel/base/fault_injection.hpp>
#include <accel/exec/fence.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <span>
#include <string_view>

namespace accel {

class fence_array;
using fence_array_ptr = boost::intrusive_ptr<fence_array>;

class fence_array final : public fence {
public:
    /// An array of `fences` (each gains a reference) at (`context`, `seqno`): signalled when all
    /// have signalled, or with `signal_on_any` when one has (dma_fence_array_create). nullptr
    /// when out of memory or a member is null.
    static fence_array_ptr create(std::span<const fence_ptr> fences, std::uint64_t context, std::uint64_t seqno,
                                  bool signal_on_any = false) noexcept {
        for (const fence_ptr& f : fences)
            if (!f)
                return nullptr;
        if (detail::alloc_may_fail())
            return nullptr;
        fence_array_ptr a(new (std::nothrow) fence_array(context, seqno, fences.size(), signal_on_any));
        if (!a)
            return nullptr;
        if (!fences.empty()) {
            a->fences_.reset(new (std::nothrow) fence_ptr[fences.size()]);
            a->cbs_.reset(new (std::nothrow) member_cb[fences.size()]);
            if (!a->fences_ || !a->cbs_)
                return nullptr;
            for (std::size_t i = 0; i < fences.size(); ++i)
                a->fences_[i] = fences[i];
        } else {
            a->signal(); // nothing to wait for
        }
        return a;
    }

    std::string_view driver_name() const noexcept override { return "dma_fence_array"; }
    std::string_view timeline_name() const noexcept override { return "unbound"; }

    std::size_t num_fences() const noexcept { return num_; }
    std::span<const fence_ptr> fences() const noexcept { return {fences_.get(), num_}; }
    bool signal_on_any() const noexcept { return any_; }

    /// Whether every member is on `context` (dma_fence_match_context); true without members.
    bool match_context(std::uint64_t context) const noexcept {
        for (const fence_ptr& f : fences())
            if (f->context() != context)
                return false;
        return true;
    }

private:
    struct member_cb : fence_cb {
        fence_array* array = nullptr;
    };

    fence_array(std::uint64_t context, std::uint64_t seqno, std::size_t num, bool any) noexcept
        : fence(context, seqno), num_(num), any_(any), pending_(any ? 1 : static_cast<std::ptrdiff_t>(num)) {}

    /// Every member gets a callback, each holding a reference to the array; one that has
    /// signalled already counts down at once, and the loop stops when that completes the array.
    void enable_signaling() noexcept override {
        for (std::size_t i = 0; i < num_; ++i) {
            cbs_[i].array = this;
            intrusive_ptr_add_ref(this); // the callback's reference
            if (fences_[i]->add_callback(cbs_[i], &member_signaled) == 0)
                continue;
            // Signalled already: the callback will not run, so this is its count-down. Our
            // caller holds a reference, so this release is never the last.
            note_error(fences_[i]->error());
            intrusive_ptr_release(this);
            if (count_down()) {
                complete();
                return;
            }
        }
    }

    /// A member signalled (under its lock, on its signalling thread).
    static void member_signaled(fence& member, fence_cb& cb) noexcept {
        fence_array* a = static_cast<member_cb&>(cb).array;
        a->note_error(member.error());
        if (a->count_down())
            a->complete();
        intrusive_ptr_release(a); // this callback's reference; signal_deferred holds its own
    }

    /// The first non-zero member error wins (only the first ever stored counts).
    void note_error(int err) noexcept {
        int none = 0;
        if (err)
            first_error_.compare_exchange_strong(none, err, std::memory_order_relaxed);
    }

    /// True for the one count-down that completes the array (later ones of an any-of array go
    /// below zero).
    bool count_down() noexcept { return pending_.fetch_sub(1, std::memory_order_acq_rel) == 1; }

    /// Signals with the first member error: deferred when inside a member's signal() (its lock
    /// held), at once otherwise (enable_signaling outside every fence's callbacks).
    void complete() noexcept {
        if (int e = first_error_.load(std::memory_order_relaxed))
            set_error(e);
        signal_deferred();
    }

    std::unique_ptr<fence_ptr[]> fences_;
    std::unique_ptr<member_cb[]> cbs_;
    const std::size_t num_;
    const bool any_;
    std::atomic<std::ptrdiff_t> pending_;
    std::atomic<int> first_error_{0};
};

/// The array `f` is, or nullptr (to_dma_fence_array).
inline fence_array* to_fence_array(fence* f) noexcept { return dynamic_cast<fence_array*>(f); }
inline const fence_array* to_fence_array(const fence* f) noexcept { return dynamic_cast<const fence_array*>(f); }

/// Whether `f` is on `context`, or for an array whether all its members are
/// (dma_fence_match_context).
inline bool fence_match_context(const fence& f, std::uint64_t context) noexcept {
    if (const fence_array* a = to_fence_array(&f))
        return a->match_context(context);
    return f.context() == context;
}

} // namespace accel

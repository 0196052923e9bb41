// SPDX-License-Identifier: MIT
#pragma once
/// \file `fence_chain`: one point of a timeline made of fences (struct dma_fence_chain).
///
/// A node holds the previous node (`prev`: another chain node, a plain fence, or nothing), its
/// own payload fence (never a chain) and the sequence number of the previous point
/// (`prev_seqno`). Sequence numbers are 64-bit. As in the kernel:
///   - `create(prev, payload, seqno)`: when prev is a chain node and seqno is later than prev's,
///     the node continues prev's context and prev_seqno = prev's seqno; otherwise (an
///     out-of-order point, or no chain before it) it starts a new context, and its seqno is
///     max(prev's seqno, seqno) when prev is a chain node, so the head never goes backwards;
///   - a node counts as signalled only when its payload and every older payload have
///     signalled: point N is done only when all points <= N are;
///   - `fence_chain_walk(node)` returns the next older node, splicing signalled predecessors out
///     of the list on the way (the kernel's cmpxchg on prev): every walk collects garbage;
///   - `fence_chain_find_seqno(f, n)`: n == 0 leaves f alone; f not a chain or f's seqno below n
///     is -EINVAL (point not submitted yet); otherwise f becomes the oldest unsignalled node that
///     still covers n, or null when everything up to n has signalled;
///   - the release of a long chain is iterative (no recursion through prev).
///
/// accel's rules where the kernel differs:
///   - `fence_is_signaled(f)` is dma_fence_is_signaled: for a chain it checks the payloads (and
///     signals the node when they all have), since accel's fence has no `signaled` op and
///     `is_signaled()` is only the flag. Code that needs a chain's state without enabling
///     signalling uses it.
///   - enable_signaling registers a callback on every payload of the chain still pending at that
///     moment and counts them down (like a fence array) instead of one callback re-armed from an
///     irq_work: the callbacks then take no other fence's lock, and the node signals through
///     signal_deferred() outside its last payload's lock. The set of payloads is fixed once the
///     node exists (garbage collection only removes signalled ones), so the count is exact.
///   - out of memory for a callback slot while enabling: that payload is waited for by polling
///     nothing; the node then signals only through fence_is_signaled() (the kernel cannot fail
///     there). Allocation failure in create(): nullptr.
#include <accel/base/fault_injection.hpp>
#include <accel/exec/fence.hpp>
#include <accel/exec/fence_array.hpp>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <mutex>
#include <new>
#include <string_view>
#include <utility>

namespace accel {

class fence_chain;
using fence_chain_ptr = boost::intrusive_ptr<fence_chain>;

/// The chain node `f` is, or nullptr (to_dma_fence_chain).
inline fence_chain* to_fence_chain(fence* f) noexcept;
inline const fence_chain* to_fence_chain(const fence* f) noexcept;

class fence_chain final : public fence {
public:
    /// Memory for one node, taken before the node can be built (dma_fence_chain_alloc): a
    /// caller that adds several points allocates them all first, so it either adds every point
    /// or none. Empty when out of memory; unused memory is freed with it.
    class storage {
    public:
        storage() noexcept
            : p_(detail::alloc_may_fail() ? nullptr : ::operator new(sizeof(fence_chain), std::nothrow)) {}
        storage(storage&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
        storage& operator=(storage&& o) noexcept {
            std::swap(p_, o.p_);
            return *this;
        }
        ~storage() { ::operator delete(p_); }
        explicit operator bool() const noexcept { return p_ != nullptr; }

    private:
        friend class fence_chain;
        void* p_;
    };

    /// A node for point `seqno` with `payload` after `prev` (dma_fence_chain_init), built in
    /// `mem` (which is used up). nullptr when `mem` is empty, or `payload` is null or itself a
    /// chain node (then `mem` is left as it was).
    static fence_chain_ptr create(storage& mem, fence_ptr prev, fence_ptr payload, std::uint64_t seqno) noexcept {
        if (!mem || !payload || dynamic_cast<fence_chain*>(payload.get()))
            return nullptr;
        const fence_chain* prev_chain = prev ? dynamic_cast<const fence_chain*>(prev.get()) : nullptr;
        std::uint64_t context, prev_seqno = 0;
        if (prev_chain && seqno > prev->seqno()) { // __dma_fence_is_later with 64-bit seqnos
            context = prev->context();
            prev_seqno = prev->seqno();
        } else {
            context = fence_context_alloc(1);
            if (prev_chain && prev->seqno() > seqno)
                seqno = prev->seqno(); // keep a valid, never decreasing point
        }
        void* p = std::exchange(mem.p_, nullptr);
        return fence_chain_ptr(::new (p) fence_chain(std::move(prev), std::move(payload), context, seqno, prev_seqno));
    }

    /// create() with memory of its own: nullptr when out of memory too.
    static fence_chain_ptr create(fence_ptr prev, fence_ptr payload, std::uint64_t seqno) noexcept {
        storage mem;
        return create(mem, std::move(prev), std::move(payload), seqno);
    }

    std::string_view driver_name() const noexcept override { return "dma_fence_chain"; }
    std::string_view timeline_name() const noexcept override { return "unbound"; }

    /// The payload (never a chain node).
    const fence_ptr& payload() const noexcept { return fence_; }
    std::uint64_t prev_seqno() const noexcept { return prev_seqno_; }
    /// The previous node or fence, with a reference (dma_fence_chain_get_prev).
    fence_ptr prev() const noexcept {
        std::lock_guard lock(prev_mutex_);
        return prev_;
    }

    /// Whether this payload and every older one have signalled (dma_fence_chain_signaled);
    /// walks (collecting garbage) and signals the node when true.
    bool check_signaled() noexcept;

private:
    friend fence_ptr fence_chain_walk(fence_ptr f) noexcept;

    struct payload_cb : fence_cb {
        fence_chain* chain = nullptr;
        payload_cb* next = nullptr;
    };

    fence_chain(fence_ptr prev, fence_ptr payload, std::uint64_t context, std::uint64_t seqno, std::uint64_t prev_seqno) noexcept
        : fence(context, seqno, true), prev_(std::move(prev)), fence_(std::move(payload)), prev_seqno_(prev_seqno) {}

    ~fence_chain() override {
        while (payload_cb* c = cbs_) {
            cbs_ = c->next;
            delete c;
        }
    }

    /// Replaces prev with `replacement` if it still is `expected` (cmpxchg); the old value is
    /// dropped by the caller, outside the lock (dropping it may release a long chain).
    bool replace_prev(const fence* expected, fence_ptr& replacement) noexcept {
        std::lock_guard lock(prev_mutex_);
        if (prev_.get() != expected)
            return false;
        prev_.swap(replacement); // replacement now holds the old prev
        return true;
    }

    /// Iterative release (dma_fence_chain_release): a predecessor only we reference is taken
    /// apart here, so dropping a chain of 100000 nodes does not recurse 100000 deep.
    void release() noexcept override {
        fence_ptr p;
        {
            std::lock_guard lock(prev_mutex_);
            p.swap(prev_);
        }
        while (p && p->use_count() == 1) {
            auto* pc = dynamic_cast<fence_chain*>(p.get());
            if (!pc)
                break;
            fence_ptr next;
            {
                std::lock_guard lock(pc->prev_mutex_);
                next.swap(pc->prev_);
            }
            p = std::move(next); // frees pc, whose prev is now empty
        }
        p.reset();
        // Built by placement in storage from ::operator new (create()).
        this->~fence_chain();
        ::operator delete(static_cast<void*>(this));
    }

    void enable_signaling() noexcept override;

    static void payload_signaled(fence&, fence_cb& cb) noexcept {
        fence_chain* c = static_cast<payload_cb&>(cb).chain;
        if (c->pending_.fetch_sub(1, std::memory_order_acq_rel) == 1)
            c->signal_deferred();
        intrusive_ptr_release(c); // the callback's reference; signal_deferred holds its own
    }

    mutable std::mutex prev_mutex_;
    fence_ptr prev_;
    const fence_ptr fence_;
    const std::uint64_t prev_seqno_;
    std::atomic<std::ptrdiff_t> pending_{1}; // registered payload callbacks + 1 while enabling
    payload_cb* cbs_ = nullptr;               // written only by enable_signaling (once)
};

inline fence_chain* to_fence_chain(fence* f) noexcept { return dynamic_cast<fence_chain*>(f); }
inline const fence_chain* to_fence_chain(const fence* f) noexcept { return dynamic_cast<const fence_chain*>(f); }

/// The payload of a chain node, else `f` itself (dma_fence_chain_contained).
inline fence* fence_chain_contained(fence* f) noexcept {
    fence_chain* c = to_fence_chain(f);
    return c ? c->payload().get() : f;
}

/// The node before `f` once the signalled predecessors directly behind it are spliced out
/// (dma_fence_chain_walk); consumes `f`. Null when `f` is not a chain node or nothing unsignalled
/// is left before it.
inline fence_ptr fence_chain_walk(fence_ptr f) noexcept {
    fence_chain* chain = to_fence_chain(f.get());
    if (!chain)
        return nullptr;
    fence_ptr prev;
    while ((prev = chain->prev())) {
        fence_ptr replacement;
        if (fence_chain* pc = to_fence_chain(prev.get())) {
            if (!pc->payload()->is_signaled())
                break;
            replacement = pc->prev();
        } else if (!prev->is_signaled()) {
            break;
        }
        // Another walker may have spliced already: then replacement is simply dropped and the
        // loop starts again from the current prev, as after a failed cmpxchg.
        chain->replace_prev(prev.get(), replacement);
    }
    return prev;
}

/// dma_fence_chain_for_each: calls fn(fence_ptr node) from `head` down the chain (collecting
/// garbage) while fn returns true. The last visited node (or null at the end) is returned.
template <class Fn>
fence_ptr fence_chain_for_each(fence_ptr head, Fn&& fn) {
    for (fence_ptr it = std::move(head); it; it = fence_chain_walk(std::move(it)))
        if (!fn(it))
            return it;
    return nullptr;
}

inline bool fence_chain::check_signaled() noexcept {
    if (is_signaled())
        return true;
    bool all = true;
    fence_chain_for_each(fence_ptr(this), [&](const fence_ptr& it) {
        if (!fence_chain_contained(it.get())->is_signaled())
            all = false;
        return all;
    });
    if (all)
        signal(); // -EINVAL when a payload callback got there first: signalled either way
    return all;
}

inline void fence_chain::enable_signaling() noexcept {
    // Every payload still pending gets a callback holding a reference to this node; the bias of
    // 1 in pending_ keeps the node from signalling before the loop has finished.
    fence_chain_for_each(fence_ptr(this), [&](const fence_ptr& it) {
        fence* f = fence_chain_contained(it.get());
        if (f->is_signaled())
            return true;
        auto* cb = new (std::nothrow) payload_cb;
        if (!cb)
            return true; // see the file comment: fence_is_signaled() still completes the node
        cb->chain = this;
        cb->next = cbs_;
        cbs_ = cb;
        pending_.fetch_add(1, std::memory_order_relaxed);
        intrusive_ptr_add_ref(this);
        if (f->add_callback(*cb, &payload_signaled) != 0) { // signalled meanwhile
            pending_.fetch_sub(1, std::memory_order_relaxed);
            intrusive_ptr_release(this); // our caller holds a reference: never the last
        }
        return true;
    });
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1)
        signal_deferred();
}

/// dma_fence_is_signaled: the flag, or for a chain node the state of its payloads (signalling
/// the node when they all have signalled).
inline bool fence_is_signaled(fence& f) noexcept {
    if (f.is_signaled())
        return true;
    if (fence_chain* c = to_fence_chain(&f))
        return c->check_signaled();
    return false;
}

/// dma_fence_chain_find_seqno: see the file comment. 0 or -EINVAL.
inline int fence_chain_find_seqno(fence_ptr& f, std::uint64_t seqno) noexcept {
    if (!seqno)
        return 0;
    fence_chain* chain = to_fence_chain(f.get());
    if (!chain || chain->seqno() < seqno)
        return -EINVAL;
    const std::uint64_t context = chain->context();
    f = fence_chain_for_each(std::move(f), [&](const fence_ptr& it) {
        const fence_chain* c = to_fence_chain(it.get());
        return it->context() == context && c && c->prev_seqno() >= seqno;
    });
    return 0;
}

} // namespace accel

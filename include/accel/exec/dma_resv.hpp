// SPDX-License-Identifier: MIT
#pragma once
/// \file `dma_resv`: a buffer's reservation object (struct dma_resv, drivers/dma-buf/dma-resv.c).
///
/// A reservation object pairs a wait-die `ww_mutex` (class `reservation_ww_class`, so several
/// buffers lock together through drm_exec, exec/drm_exec.hpp) with the fences of the work that
/// uses the buffer, each tagged with a usage:
///
///   kernel (0) < write (1) < read (2) < bookkeep (3)
///
/// kernel: memory management (moves, clears), always waited for; write / read: implicit
/// synchronisation of user-space writers and readers; bookkeep: work that must not take part in
/// implicit sync (explicitly synchronised submits, page-table updates), which memory management
/// still waits for. Asking for usage U means every fence of usage <= U: `resv_usage_rw(true)`
/// (a new writer) is read, waiting for readers and writers; `resv_usage_rw(false)` (a new
/// reader) is write, waiting for writers only.
///
/// Rules, as in the kernel:
///   - writers hold the lock: `reserve_fences(n)` (at least n free slots, -ENOMEM), then
///     `add_fence` per fence. A fence replaces an entry of the same context whose usage is >= its
///     own when it is later or the same fence (so adding a fence twice needs no slot, and a fence
///     can be promoted from bookkeep to read but never demoted), or any signalled entry;
///   - container fences (fence_array; a fence chain, driver name "dma_fence_chain") are not
///     added: add each member instead (the kernel WARNs; accel refuses with -EINVAL);
///   - readers need no lock: `test_signaled`, `wait_timeout`, `get_fences`, `get_singleton` and
///     `unlocked_iter` see only unsignalled fences; `for_each` (lock held) sees every entry;
///   - the unlocked iterator restarts from the first fence when the fence table was reallocated
///     meanwhile (`reserve_fences` grew it), flagging `is_restarted()` (dma_resv_iter_*_unlocked):
///     whoever collects fences drops what it collected on a restart.
///
/// Waking on fences for poll: take `get_singleton(usage)` (one fence, a fence_array of several,
/// or null when nothing is pending, as dma_buf_poll does) and add a fence_cb to it or park on its
/// `waiters()`; the array holds its members, so nothing needs the lock afterwards.
///
/// accel's differences:
///   - `add_fence` returns an int: -ENOSPC when no slot was reserved (the kernel BUGs), -EINVAL
///     for a null or container fence; the object is unchanged then;
///   - reserved slots last until `unlock()` always (the kernel forgets them at unlock only with
///     CONFIG_DEBUG_MUTEXES), so a missing `reserve_fences` fails every time, not on debug
///     kernels only; `reserve_fences(0)` is -EINVAL (the kernel WARNs);
///   - readers without the lock are not RCU: the fence table is guarded by a small internal
///     mutex that writers take for the few instructions of an update and readers for one step of
///     iteration (or one snapshot), so a reader never waits for the reservation lock or for a
///     fence, and sees each entry either before or after an update. `get_fences`, `get_singleton`
///     and `test_signaled` take one consistent snapshot (no restarts);
///   - `wait_timeout` is not interruptible and counts in nanoseconds: it returns the time left
///     (>= 1) once every fence has signalled, 0 on timeout; a timeout of 0 only tests (1 or 0); a
///     negative timeout or one too long for the clock (nanoseconds::max()) has no limit and
///     returns LONG_MAX. The kernel counts jiffies and can answer -ERESTARTSYS;
///   - `get_fences` returns a std::vector (std::bad_alloc when out of memory, as any container)
///     instead of -ENOMEM through an out-parameter; `get_singleton` reports -ENOMEM.
#include <accel/base/errno.hpp>
#include <accel/base/fault_injection.hpp>
#include <accel/exec/fence.hpp>
#include <accel/exec/fence_array.hpp>
#include <accel/exec/ww_mutex.hpp>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdint>
#include <memory>
#include <mutex>
#include <new>
#include <utility>
#include <vector>

namespace accel {

/// How a fence in a reservation object uses the buffer (enum dma_resv_usage); ordered.
enum class resv_usage : std::uint8_t { kernel = 0, write = 1, read = 2, bookkeep = 3 };

/// The usage a new access waits for (dma_resv_usage_rw): a writer waits for everything up to
/// readers, a reader only for writers.
constexpr resv_usage resv_usage_rw(bool write) noexcept { return write ? resv_usage::read : resv_usage::write; }

/// Whether `f` holds other fences (dma_fence_is_container): a fence_array, or a fence chain
/// (recognised by its driver name until it has a type here).
inline bool fence_is_container(const fence& f) noexcept {
    return to_fence_array(&f) != nullptr || f.driver_name() == "dma_fence_chain";
}

class dma_resv {
    struct entry {
        fence_ptr fence;
        resv_usage usage = resv_usage::kernel;
    };

public:
    dma_resv() noexcept = default;
    dma_resv(const dma_resv&) = delete;
    dma_resv& operator=(const dma_resv&) = delete;
    ~dma_resv() { assert(!is_locked() && "dma_resv destroyed while locked"); }

    // --- locking (dma_resv_lock and friends) -------------------------------------------------

    /// 0; -EDEADLK (back off: unlock everything of `ctx`, lock_slow this one, retry); -EALREADY
    /// when `ctx` holds it. Without a context: a plain lock.
    int lock(ww_acquire_ctx* ctx) noexcept { return lock_.lock(ctx); }
    /// The back-off's blocking lock (always 0).
    int lock_slow(ww_acquire_ctx* ctx) noexcept { return lock_.lock_slow(ctx); }
    bool trylock() noexcept { return lock_.trylock(nullptr); }
    /// Unlocks; the slots reserved and not used are forgotten.
    void unlock() noexcept {
        slots_ = num_;
        lock_.unlock();
    }
    bool is_locked() const noexcept { return lock_.is_locked(); }
    /// The context holding the lock, or null (dma_resv_locking_ctx).
    ww_acquire_ctx* locking_ctx() const noexcept { return lock_.owner_ctx(); }
    ww_mutex& ww() noexcept { return lock_; }

    // --- writers (lock held) -----------------------------------------------------------------

    /// Makes room for `n` more fences (dma_resv_reserve_fences): 0, -EINVAL for 0, -ENOMEM. Not
    /// cumulative: two calls of 1 leave one free slot, as in the kernel. Growing the table drops
    /// the signalled entries and restarts unlocked iterators.
    int reserve_fences(unsigned n) noexcept {
        assert(is_locked() && "dma_resv_reserve_fences without the lock");
        if (n == 0)
            return -EINVAL;
        if (n > UINT_MAX / 2 - num_)
            return -ENOMEM;
        const unsigned need = num_ + n;
        if (need <= capacity_) {
            slots_ = std::max(slots_, need);
            return 0;
        }
        const unsigned cap = std::max({need, capacity_ * 2, 4u});
        std::unique_ptr<entry[]> table(detail::alloc_may_fail() ? nullptr : new (std::nothrow) entry[cap]);
        if (!table)
            return -ENOMEM;
        const unsigned free_before = slots_ - num_;
        {
            std::lock_guard g(list_m_);
            unsigned j = 0;
            for (unsigned i = 0; i < num_; ++i)
                if (!table_[i].fence->is_signaled())
                    table[j++] = std::move(table_[i]);
            table.swap(table_); // `table` now holds the old one, with the signalled fences
            num_ = j;
            capacity_ = cap;
            ++generation_;
        }
        slots_ = num_ + std::max(n, free_before);
        return 0; // the old table and its signalled fences go here, outside list_m_
    }

    /// Adds `f` with usage `u` (dma_resv_add_fence): 0; -ENOSPC when no slot was reserved;
    /// -EINVAL for a null or container fence. The replacement rules are in the file comment.
    int add_fence(fence_ptr f, resv_usage u) noexcept {
        assert(is_locked() && "dma_resv_add_fence without the lock");
        if (!f || fence_is_container(*f))
            return -EINVAL;
        for (unsigned i = 0; i < num_; ++i) {
            const entry& old = table_[i];
            if ((old.fence->context() == f->context() && old.usage >= u && later_or_same(*f, *old.fence)) ||
                old.fence->is_signaled()) {
                set(i, std::move(f), u);
                return 0;
            }
        }
        if (num_ >= slots_)
            return -ENOSPC;
        std::lock_guard g(list_m_);
        table_[num_] = entry{std::move(f), u};
        ++num_;
        return 0;
    }

    /// Every fence of `context` becomes `replacement` with usage `u`
    /// (dma_resv_replace_fences: e.g. a preemption fence replaced by a signalled stub). 0, or
    /// -EINVAL for a null replacement.
    int replace_fences(std::uint64_t context, const fence_ptr& replacement, resv_usage u) noexcept {
        assert(is_locked() && "dma_resv_replace_fences without the lock");
        if (!replacement)
            return -EINVAL;
        for (unsigned i = 0; i < num_; ++i)
            if (table_[i].fence->context() == context)
                set(i, replacement, u);
        return 0;
    }

    /// Calls `fn(fence&, resv_usage)` for every entry of usage <= `u`, signalled ones included
    /// (dma_resv_for_each_fence; lock held). `fn` must not change this object.
    template <class Fn>
    void for_each(resv_usage u, Fn&& fn) const {
        assert(is_locked() && "dma_resv_for_each_fence without the lock");
        for (unsigned i = 0; i < num_; ++i)
            if (table_[i].usage <= u)
                fn(*table_[i].fence, table_[i].usage);
    }

    // --- readers (no lock needed) ------------------------------------------------------------

    /// Unsignalled fences of usage <= `u`, one at a time, without the lock
    /// (dma_resv_iter_first_unlocked / _next_unlocked):
    ///
    ///     for (fence_ptr f = it.first(); f; f = it.next()) { if (it.is_restarted()) ...; }
    ///
    /// Each step holds a reference to the fence it returns. When the table was reallocated since
    /// the previous step the walk restarts from the first fence and `is_restarted()` is true for
    /// the fence returned (it is also true for the first fence of the walk).
    class unlocked_iter {
    public:
        unlocked_iter(const dma_resv& r, resv_usage u) noexcept : resv_(&r), usage_(u) {}

        fence_ptr first() noexcept {
            std::lock_guard g(resv_->list_m_);
            restart();
            return walk();
        }
        fence_ptr next() noexcept {
            std::lock_guard g(resv_->list_m_);
            restarted_ = false;
            if (generation_ != resv_->generation_)
                restart();
            return walk();
        }
        bool is_restarted() const noexcept { return restarted_; }
        /// The usage of the fence returned last.
        resv_usage usage() const noexcept { return fence_usage_; }

    private:
        void restart() noexcept {
            index_ = 0;
            generation_ = resv_->generation_;
            restarted_ = true;
        }
        fence_ptr walk() noexcept {
            while (index_ < resv_->num_) {
                const entry& e = resv_->table_[index_++];
                if (e.usage <= usage_ && !e.fence->is_signaled()) {
                    fence_usage_ = e.usage;
                    return e.fence;
                }
            }
            return {};
        }

        const dma_resv* resv_;
        resv_usage usage_;
        resv_usage fence_usage_ = resv_usage::kernel;
        unsigned index_ = 0;
        std::uint64_t generation_ = 0;
        bool restarted_ = false;
    };

    /// Whether every fence of usage <= `u` has signalled (dma_resv_test_signaled).
    bool test_signaled(resv_usage u) const noexcept {
        std::lock_guard g(list_m_);
        for (unsigned i = 0; i < num_; ++i)
            if (table_[i].usage <= u && !table_[i].fence->is_signaled())
                return false;
        return true;
    }

    /// Waits for every fence of usage <= `u` (dma_resv_wait_timeout): the time left in ns
    /// (>= 1) once all have signalled, 0 when `timeout` passed first; see the file comment for 0
    /// and unlimited timeouts. Fences added during the wait are waited for as the walk meets them.
    long wait_timeout(resv_usage u, std::chrono::nanoseconds timeout) const noexcept {
        using clock = std::chrono::steady_clock;
        if (timeout.count() == 0)
            return test_signaled(u) ? 1 : 0;
        const auto deadline = detail::deadline_after(timeout, clock::now());
        unlocked_iter it(*this, u);
        for (fence_ptr f = it.first(); f; f = it.next()) {
            if (f->is_signaled())
                continue;
            std::chrono::nanoseconds left(-1);
            if (deadline) {
                left = std::chrono::duration_cast<std::chrono::nanoseconds>(*deadline - clock::now());
                if (left.count() <= 0)
                    return 0; // a fence still pending and no time left
            }
            if (f->wait(left) != 0)
                return 0;
        }
        if (!deadline)
            return LONG_MAX;
        const auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(*deadline - clock::now()).count();
        return left > 0 ? static_cast<long>(left) : 1;
    }

    /// The unsignalled fences of usage <= `u`, each with a reference (dma_resv_get_fences), from
    /// one consistent snapshot.
    std::vector<fence_ptr> get_fences(resv_usage u) const {
        std::vector<fence_ptr> out;
        std::lock_guard g(list_m_);
        out.reserve(num_);
        for (unsigned i = 0; i < num_; ++i)
            if (table_[i].usage <= u && !table_[i].fence->is_signaled())
                out.push_back(table_[i].fence);
        return out;
    }

    /// One fence for all unsignalled fences of usage <= `u` (dma_resv_get_singleton): null when
    /// there are none, the fence itself when one, else a new all-of fence_array (own context,
    /// sequence number 1) of them with one fence per context (the latest). -ENOMEM.
    result<fence_ptr> get_singleton(resv_usage u) const noexcept {
        std::vector<fence_ptr> fences;
        try {
            fences = get_fences(u);
        } catch (const std::bad_alloc&) {
            return result<fence_ptr>::failure(-ENOMEM);
        }
        // dma_fence_dedup_array: a later fence on one timeline implies the earlier ones.
        std::size_t n = 0;
        for (std::size_t i = 0; i < fences.size(); ++i) {
            bool merged = false;
            for (std::size_t j = 0; j < n && !merged; ++j) {
                if (fences[j]->context() != fences[i]->context())
                    continue;
                if (fences[i]->is_later(*fences[j]))
                    fences[j] = fences[i];
                merged = true;
            }
            if (!merged)
                fences[n++] = fences[i];
        }
        fences.resize(n);
        if (n == 0)
            return fence_ptr{};
        if (n == 1)
            return std::move(fences[0]);
        fence_array_ptr a = fence_array::create(fences, fence_context_alloc(1), 1);
        if (!a)
            return result<fence_ptr>::failure(-ENOMEM);
        return fence_ptr(std::move(a));
    }

    /// How many entries the table holds, signalled ones included (the fence list's num_fences).
    unsigned num_fences() const noexcept {
        std::lock_guard g(list_m_);
        return num_;
    }

private:
    /// dma_fence_is_later_or_same.
    static bool later_or_same(const fence& f, const fence& old) noexcept { return &f == &old || f.is_later(old); }

    /// Replaces entry `i` under list_m_; the old fence's reference goes after it is released.
    void set(unsigned i, fence_ptr f, resv_usage u) noexcept {
        fence_ptr old;
        {
            std::lock_guard g(list_m_);
            old = std::exchange(table_[i].fence, std::move(f));
            table_[i].usage = u;
        }
    }

    ww_mutex lock_{reservation_ww_class};
    // The fence table. Changed only with lock_ held and under list_m_; read under either.
    mutable std::mutex list_m_;
    std::unique_ptr<entry[]> table_;
    unsigned num_ = 0;      // entries in use
    unsigned capacity_ = 0; // entries allocated
    unsigned slots_ = 0;    // entries allowed until unlock: num_ + the reserved free slots
    std::uint64_t generation_ = 0; // bumped when table_ is reallocated (unlocked iterators restart)
};

} // namespace accel

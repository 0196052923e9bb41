// SPDX-License-Identifier: MIT
#pragma once
/// \file `ww_mutex`: a mutex for taking several locks in any order without deadlock (struct
/// ww_mutex, kernel/locking/ww_mutex.h).
///
/// Whoever needs a set of locks for one operation initialises an acquire context
/// (`ww_acquire_ctx`, the kernel's "ticket"): it takes a stamp from a global counter, the lower
/// stamp being the older context. Locking with the context can answer -EDEADLK: the caller then
/// unlocks everything it holds with that context, takes the contended lock with `lock_slow`
/// (blocking, no deadlock check, since it holds nothing) and tries the rest again, keeping its
/// stamp, so it gets older relative to newcomers and eventually wins. Which context backs off
/// is the lock class's rule (`ww_class`, DEFINE_WD_CLASS / DEFINE_WW_CLASS):
///
///   | class      | older context wants a lock a younger holds | younger wants one an older holds |
///   |------------|---------------------------------------------|----------------------------------|
///   | wait-die   | waits                                       | dies: -EDEADLK at once            |
///   | wound-wait | wounds the holder: -EDEADLK at the holder's  | waits                             |
///   |            | next contended lock, or while it waits      |                                   |
///
/// As in the kernel: a context holding no lock is never told to back off (it cannot be part of
/// a cycle), so `lock_slow` never fails and a wounded context's flag is cleared when it holds
/// nothing; locking a lock the context already holds is -EALREADY; trylock never waits and fails
/// on a lock the context holds itself; a lock without a context (`lock(nullptr)`) is a plain
/// mutex lock (no deadlock detection; recursion deadlocks). Waiters with a context queue in stamp
/// order, those without one in arrival order behind them (ww_mutex.h's __ww_mutex_add_waiter);
/// in wait-die a context that finds an older one queued ahead dies instead of queueing, and
/// younger waiters are woken to die when an older context queues or takes the lock.
///
/// accel's differences:
///   - stamps come from one global counter, not a counter per class (any two stamps compare);
///   - unlock hands the lock to the first waiter directly (the kernel wakes it to compete, with a
///     hand-off only against starvation), so nobody barges past a queued context;
///   - no spinning, no priority inheritance, no interruptible variants: a user-space thread has
///     no signals to interrupt a wait, and the locks guard short critical sections;
///   - the cheap debug checks (class mismatch, locking after `done()`, `fini()` with locks held,
///     after -EDEADLK taking any lock other than the contended one before backing off) are
///     `assert`s, active in debug builds.
///
/// Implementation: a lock word holds the holder's context, a locked bit and a waiters bit; a free
/// lock is taken, and a lock nobody waits for released, with one atomic operation on it. Waiting
/// goes through a small std::mutex guarding the waiter list (the kernel's wait_lock). A waiting
/// thread sleeps on a sleeper of its own (in its context, or
/// on its stack without one): whoever changes what it waits for (unlock, a wound, an older waiter)
/// wakes exactly that thread, holding the ww_mutex's state lock, so the sleeper (and a wounded
/// holder's context, which cannot release the lock without that state lock) is alive.
#include <boost/intrusive/list.hpp>

#include <atomic>
#include <cassert>
#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string_view>

namespace accel {

/// A lock class: which rule resolves contention between contexts (struct ww_class). Locks and
/// contexts of one acquisition must share the class.
struct ww_class {
    bool wait_die;
    std::string_view name;
};

/// DEFINE_WD_CLASS / DEFINE_WW_CLASS.
constexpr ww_class wait_die_class(std::string_view name) noexcept { return {true, name}; }
constexpr ww_class wound_wait_class(std::string_view name) noexcept { return {false, name}; }

/// The class of every dma_resv (drivers/dma-buf/dma-resv.c: wait-die).
inline constexpr ww_class reservation_ww_class = wait_die_class("reservation_ww_class");

class ww_mutex;

namespace detail {

/// Stamps of acquire contexts: one counter for all classes; 0 is never handed out.
inline std::atomic<std::uint64_t> ww_stamp_counter{0};

/// What a blocked thread sleeps on. A wake leaves a token, so a wake that comes before the sleep
/// is not lost; a stale token costs one more look at the lock, never a missed one.
struct ww_sleeper {
    std::mutex m;
    std::condition_variable cv;
    bool token = false;

    void wake() noexcept {
        std::lock_guard lock(m); // notify under the lock: the sleeper cannot leave before
        token = true;
        cv.notify_one();
    }
    void sleep() noexcept {
        std::unique_lock lock(m);
        cv.wait(lock, [&] { return token; });
        token = false;
    }
};

} // namespace detail

/// An acquire context (struct ww_acquire_ctx): `init` (or the constructor) takes a fresh stamp,
/// `done` marks the end of the acquire phase, `fini` ends it with every lock released. A context
/// is used by one thread at a time; other threads only read its stamp, its lock count and wound
/// it.
class ww_acquire_ctx {
public:
    ww_acquire_ctx() noexcept = default;
    explicit ww_acquire_ctx(const ww_class& c) noexcept { init(c); }
    ww_acquire_ctx(const ww_acquire_ctx&) = delete;
    ww_acquire_ctx& operator=(const ww_acquire_ctx&) = delete;
    ~ww_acquire_ctx() { assert(acquired() == 0 && "ww_acquire_ctx destroyed holding locks"); }

    /// ww_acquire_init: a new stamp, younger than every earlier one.
    void init(const ww_class& c) noexcept {
        assert(acquired() == 0 && "ww_acquire_init on a context holding locks");
        class_ = &c;
        stamp_ = detail::ww_stamp_counter.fetch_add(1, std::memory_order_relaxed) + 1;
        wounded_.store(false, std::memory_order_relaxed);
        done_ = false;
        contending_ = nullptr;
    }
    /// ww_acquire_done: no lock is taken with this context any more (checked in debug builds).
    void done() noexcept { done_ = true; }
    /// ww_acquire_fini: every lock must have been released.
    void fini() noexcept {
        assert(acquired() == 0 && "ww_acquire_fini with locks held");
        class_ = nullptr;
        contending_ = nullptr;
    }

    std::uint64_t stamp() const noexcept { return stamp_; }
    /// How many locks the context holds.
    unsigned acquired() const noexcept { return acquired_.load(std::memory_order_relaxed); }
    const ww_class* lock_class() const noexcept { return class_; }

private:
    friend class ww_mutex;

    /// Counts a lock taken (+1) or released (-1). Never concurrent: the owning thread changes
    /// it, or the thread handing it a lock while it sleeps in lock(); others only read it. So a
    /// plain load and store, not a locked read-modify-write.
    void add_acquired(int d) noexcept {
        acquired_.store(acquired_.load(std::memory_order_relaxed) + static_cast<unsigned>(d), std::memory_order_relaxed);
    }

    /// Whether this context is younger than `other` (the kernel's __ww_ctx_less).
    bool younger_than(const ww_acquire_ctx& other) const noexcept { return stamp_ > other.stamp_; }

    const ww_class* class_ = nullptr;
    std::uint64_t stamp_ = 0;
    std::atomic<unsigned> acquired_{0}; // written by the owning thread (or its granter, under the lock's state lock)
    std::atomic<bool> wounded_{false};  // set by an older context (wound-wait)
    bool done_ = false;
    const ww_mutex* contending_ = nullptr; // debug: the lock that answered -EDEADLK
    detail::ww_sleeper sleeper_;
};

class ww_mutex {
public:
    explicit ww_mutex(const ww_class& c) noexcept : class_(&c) {}
    ww_mutex(const ww_mutex&) = delete;
    ww_mutex& operator=(const ww_mutex&) = delete;
    ~ww_mutex() { assert(!is_locked() && "ww_mutex destroyed while locked"); }

    /// Locks with `ctx` (or without one: a plain lock): 0; -EALREADY when `ctx` holds it already;
    /// -EDEADLK when `ctx` must back off (see the file comment).
    int lock(ww_acquire_ctx* ctx) noexcept { return lock_common(ctx, false); }

    /// Takes the lock that answered -EDEADLK after releasing every other lock of `ctx`: waits
    /// for it without deadlock check (ww_mutex_lock_slow). Always 0 (an int for symmetry with
    /// lock(); the kernel's interruptible variant can fail).
    int lock_slow(ww_acquire_ctx* ctx) noexcept {
        assert(ctx && ctx->acquired() == 0 && "ww_mutex_lock_slow with other locks held");
        assert((!ctx->contending_ || ctx->contending_ == this) && "lock_slow on another lock than the contended one");
        return lock_common(ctx, true);
    }

    /// Takes the lock if it is free (ww_mutex_trylock); with `ctx` the lock counts as acquired
    /// by it. Fails on a lock held by anyone, `ctx` included.
    bool trylock(ww_acquire_ctx* ctx = nullptr) noexcept {
        check_ctx(ctx);
        return take_fast(ctx);
    }

    void unlock() noexcept {
        const std::uintptr_t s = state_.load(std::memory_order_relaxed);
        assert((s & locked_bit) && "ww_mutex_unlock of an unlocked mutex");
        if (ww_acquire_ctx* ctx = ctx_of(s))
            ctx->add_acquired(-1);
        // acq_rel: a waiter that gave up (and cleared waiters_bit, releasing) may have read this
        // owner's context; those reads happen before anything this thread does next with it.
        std::uintptr_t expected = (s & ~waiters_bit);
        if (state_.compare_exchange_strong(expected, 0, std::memory_order_acq_rel, std::memory_order_relaxed))
            return; // nobody queued
        std::lock_guard g(m_);
        if (waiters_.empty()) {
            state_.store(0, std::memory_order_release);
            return;
        }
        // Hand-off: the first waiter owns the lock from now on (it stays locked).
        waiter& w = waiters_.front();
        waiters_.pop_front();
        w.granted = true;
        acquire(w.ctx, waiters_.empty() ? 0 : waiters_bit);
        if (w.ctx)
            check_waiters(*w.ctx);
        w.sleeper->wake();
    }

    bool is_locked() const noexcept { return (state_.load(std::memory_order_acquire) & locked_bit) != 0; }
    /// The context holding the lock, or null (unlocked, or locked without one): ww->ctx.
    ww_acquire_ctx* owner_ctx() const noexcept { return ctx_of(state_.load(std::memory_order_acquire)); }
    const ww_class& lock_class() const noexcept { return *class_; }

private:
    struct waiter : boost::intrusive::list_base_hook<boost::intrusive::link_mode<boost::intrusive::normal_link>> {
        ww_acquire_ctx* ctx = nullptr;
        detail::ww_sleeper* sleeper = nullptr;
        bool granted = false; // set under m_ by the unlocking thread
    };
    using waiter_list = boost::intrusive::list<waiter, boost::intrusive::constant_time_size<false>>;

    bool wait_die() const noexcept { return class_->wait_die; }

    void check_ctx([[maybe_unused]] const ww_acquire_ctx* ctx) const noexcept {
        assert((!ctx || ctx->class_ == class_) && "ww_mutex locked with a context of another class (or uninitialised)");
        assert((!ctx || !ctx->done_) && "ww_mutex locked after ww_acquire_done");
    }

    static ww_acquire_ctx* ctx_of(std::uintptr_t s) noexcept {
        return reinterpret_cast<ww_acquire_ctx*>(s & ~(locked_bit | waiters_bit));
    }
    static std::uintptr_t word(ww_acquire_ctx* ctx) noexcept { return reinterpret_cast<std::uintptr_t>(ctx) | locked_bit; }
    /// The holder's context as seen under m_ (stable then: with waiters_bit set nobody takes or
    /// releases the lock without m_).
    ww_acquire_ctx* holder() const noexcept { return ctx_of(state_.load(std::memory_order_relaxed)); }

    /// A hand-off under m_: the lock, still locked, becomes `ctx`'s; nobody else may change the
    /// word meanwhile (locked, and waiters_bit changes only under m_).
    void acquire(ww_acquire_ctx* ctx, std::uintptr_t waiters) noexcept {
        state_.store(word(ctx) | waiters, std::memory_order_release);
        if (ctx)
            ctx->add_acquired(1);
    }

    /// Takes the lock if it is free, without m_ (the fast path): true if taken. Owner and lock bit
    /// change in one atomic step, so a waiter announcing itself either sees this owner in the
    /// word it swapped, or made this swap see waiters_bit: then the new owner checks the waiters
    /// under m_ (die or wound, as at a hand-off; ww_mutex_set_context_fastpath).
    bool take_fast(ww_acquire_ctx* ctx) noexcept {
        std::uintptr_t s = state_.load(std::memory_order_relaxed);
        while (!(s & locked_bit))
            // acq_rel: the word publishes the context (its stamp) to waiters that read it.
            if (state_.compare_exchange_weak(s, word(ctx) | (s & waiters_bit), std::memory_order_acq_rel,
                                             std::memory_order_relaxed)) {
                if (ctx) {
                    ctx->add_acquired(1);
                    if (s & waiters_bit) {
                        std::lock_guard g(m_);
                        check_waiters(*ctx);
                    }
                }
                return true;
            }
        return false;
    }

    /// Under m_: announces a waiter (waiters_bit) or, when the lock turns out free, takes it.
    bool take_or_announce(ww_acquire_ctx* ctx) noexcept {
        for (;;) {
            const std::uintptr_t s = state_.fetch_or(waiters_bit, std::memory_order_acq_rel);
            if (s & locked_bit)
                return false;
            // Free (so nobody is queued: a hand-off keeps it locked while anyone is).
            std::uintptr_t expected = s | waiters_bit;
            if (state_.compare_exchange_strong(expected, word(ctx), std::memory_order_acq_rel, std::memory_order_relaxed)) {
                if (ctx)
                    ctx->add_acquired(1);
                return true;
            }
        }
    }

    /// Under m_: the waiter bit follows the waiter list.
    void waiter_left() noexcept {
        if (waiters_.empty())
            state_.fetch_and(~waiters_bit, std::memory_order_release);
    }

    /// After -EDEADLK the context must release everything and come back for the contended lock
    /// first (debug check), then it may lock the rest.
    void note_acquired([[maybe_unused]] ww_acquire_ctx* ctx) const noexcept {
#ifndef NDEBUG
        if (ctx && ctx->contending_) {
            assert(ctx->contending_ == this && "after -EDEADLK, back off and take the contended lock first");
            ctx->contending_ = nullptr;
        }
#endif
    }

    int lock_common(ww_acquire_ctx* ctx, [[maybe_unused]] bool slow) noexcept {
        check_ctx(ctx);
        if (ctx) {
            // Only this context's own thread (or a hand-off to it, before waking it) stores it.
            if (ctx_of(state_.load(std::memory_order_relaxed)) == ctx)
                return -EALREADY;
            // Nobody wounds a context holding nothing (it cannot be in a cycle): a wound from
            // before the back-off is spent.
            if (ctx->acquired() == 0)
                ctx->wounded_.store(false, std::memory_order_relaxed);
        }
        if (take_fast(ctx)) {
            note_acquired(ctx);
            return 0;
        }
        std::unique_lock g(m_);
        if (take_or_announce(ctx)) {
            if (ctx && !waiters_.empty())
                check_waiters(*ctx);
            waiter_left();
            note_acquired(ctx);
            return 0;
        }
        detail::ww_sleeper own; // used only without a context: a context has its own sleeper
        waiter w;
        w.ctx = ctx;
        w.sleeper = ctx ? &ctx->sleeper_ : &own;
        if (int r = add_waiter(w)) {
            waiter_left();
            return killed(ctx, r);
        }
        for (;;) {
            if (w.granted) {
                note_acquired(ctx);
                return 0;
            }
            if (ctx) {
                if (int r = check_kill(w)) {
                    waiters_.erase(waiters_.iterator_to(w));
                    waiter_left();
                    return killed(ctx, r);
                }
            }
            g.unlock();
            w.sleeper->sleep();
            g.lock();
        }
    }

    int killed(ww_acquire_ctx* ctx, int r) const noexcept {
#ifndef NDEBUG
        ctx->contending_ = this;
#else
        (void)ctx;
#endif
        return r;
    }

    /// Whether `ctx`, waiting as `w`, must back off now (__ww_mutex_check_kill; m_ held).
    int check_kill(const waiter& w) const noexcept {
        const ww_acquire_ctx& ctx = *w.ctx;
        if (ctx.acquired() == 0)
            return 0;
        if (!wait_die())
            return ctx.wounded_.load(std::memory_order_relaxed) ? -EDEADLK : 0;
        if (const ww_acquire_ctx* h = holder(); h && ctx.younger_than(*h))
            return -EDEADLK;
        // A context queued ahead of us is older (stamp order): it takes the lock first, and we
        // would have to die then.
        for (auto it = waiters_.begin(); &*it != &w; ++it)
            if (it->ctx)
                return -EDEADLK;
        return 0;
    }

    /// Queues `w` (__ww_mutex_add_waiter; m_ held): without a context at the end; with one
    /// before the first younger context, skipping context-less waiters. Wait-die: dies instead
    /// when an older context is queued (and it holds locks), wakes younger queued contexts to
    /// die. Wound-wait: wounds a younger holder.
    int add_waiter(waiter& w) noexcept {
        if (!w.ctx) {
            waiters_.push_back(w);
            return 0;
        }
        ww_acquire_ctx& ctx = *w.ctx;
        auto pos = waiters_.end();
        for (auto it = waiters_.rbegin(); it != waiters_.rend(); ++it) {
            if (!it->ctx)
                continue;
            if (ctx.younger_than(*it->ctx)) {
                if (wait_die() && ctx.acquired() > 0)
                    return -EDEADLK;
                break;
            }
            pos = waiters_.iterator_to(*it);
            die(*it, ctx);
        }
        waiters_.insert(pos, w);
        if (!wait_die())
            if (ww_acquire_ctx* h = holder())
                wound(ctx, *h);
        return 0;
    }

    /// Wait-die: wakes `cur` to die if it is younger than `ctx` and holds locks.
    void die(waiter& cur, const ww_acquire_ctx& ctx) const noexcept {
        if (wait_die() && cur.ctx->acquired() > 0 && cur.ctx->younger_than(ctx))
            cur.sleeper->wake();
    }

    /// Wound-wait: `waiting` (holding locks) wounds a younger `holder`, waking it wherever it
    /// sleeps. `holder` holds this lock, and m_ is held, so it is alive.
    static void wound(const ww_acquire_ctx& waiting, ww_acquire_ctx& holder) noexcept {
        if (waiting.acquired() > 0 && holder.younger_than(waiting)) {
            holder.wounded_.store(true, std::memory_order_relaxed);
            holder.sleeper_.wake();
        }
    }

    /// `holder` took the lock with waiters queued (__ww_mutex_check_waiters; m_ held): younger
    /// waiters holding locks die (wait-die), or an older one wounds it (wound-wait).
    void check_waiters(ww_acquire_ctx& holder) noexcept {
        for (waiter& cur : waiters_) {
            if (!cur.ctx)
                continue;
            if (wait_die())
                die(cur, holder);
            else
                wound(*cur.ctx, holder);
        }
    }

    const ww_class* class_;
    std::mutex m_; // the state below and the waiter list (the kernel's wait_lock)
    // The lock word: the holder's context (ww->ctx; null without one) | locked_bit, and
    // waiters_bit while anyone is queued (set and cleared under m_). The fast paths (a free lock
    // taken, an unlock with nobody queued) touch only this word, in one atomic step each.
    static constexpr std::uintptr_t locked_bit = 1, waiters_bit = 2;
    static_assert(alignof(ww_acquire_ctx) >= 4, "the low bits of a context's address are the lock's flags");
    std::atomic<std::uintptr_t> state_{0};
    waiter_list waiters_;
};

} // namespace accel

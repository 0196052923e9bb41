// SPDX-License-Identifier: MIT
// ww_mutex: the ideas of kernel/locking/test-ww_mutex.c, each with a wait-die and a wound-wait
// class: mutual exclusion (test_mutex), recursion (test_aa), ABBA unresolved and resolved
// (test_abba), rings of 2..4 threads (test_cycle), and bounded stress runs (inorder, reorder).
#include <accel/exec/ww_mutex.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <deque>
#include <latch>
#include <list>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

using namespace std::chrono_literals;
using accel::ww_acquire_ctx;
using accel::ww_class;
using accel::ww_mutex;

constexpr ww_class wd_class = accel::wait_die_class("test_wd");
constexpr ww_class ww_class_ = accel::wound_wait_class("test_ww");

// Runs `fn(class)` for both classes, each in its own subcase.
template <class Fn>
void for_both_classes(Fn fn) {
    SUBCASE("wait-die") { fn(wd_class); }
    SUBCASE("wound-wait") { fn(ww_class_); }
}

} // namespace

TEST_CASE("ww_mutex: contexts take increasing stamps, the class is the one given") {
    ww_acquire_ctx a(wd_class), b(wd_class), c(ww_class_);
    CHECK(a.stamp() < b.stamp());
    CHECK(b.stamp() < c.stamp());
    CHECK(a.lock_class() == &wd_class);
    CHECK(c.lock_class() == &ww_class_);
    CHECK(wd_class.wait_die);
    CHECK_FALSE(ww_class_.wait_die);
    CHECK(accel::reservation_ww_class.wait_die);
    const auto old = a.stamp();
    a.fini();
    a.init(wd_class);
    CHECK(a.stamp() > c.stamp()); // re-initialised: younger than everyone before
    CHECK(a.stamp() != old);
    a.fini();
    b.fini();
    c.fini();
}

// test_mutex: while one side holds the lock (with or without a context), the other (lock or
// trylock loop) does not get it; it does once unlocked. 8 combinations of spin, try and ctx.
TEST_CASE("ww_mutex: test_mutex, mutual exclusion") {
    for_both_classes([](const ww_class& cls) {
        enum : unsigned { spin = 1, try_ = 2, with_ctx = 4 };
        for (unsigned flags = 0; flags < 8; ++flags) {
            CAPTURE(flags);
            ww_mutex m(cls);
            std::latch ready(1), go(1);
            std::atomic<bool> done{false};
            std::thread worker([&] {
                ready.count_down();
                go.wait();
                if (flags & try_) {
                    while (!m.trylock(nullptr))
                        std::this_thread::yield();
                } else {
                    (void)m.lock(nullptr);
                }
                done.store(true);
                m.unlock();
            });
            ready.wait();
            ww_acquire_ctx ctx;
            if (flags & with_ctx)
                ctx.init(cls);
            REQUIRE(m.lock((flags & with_ctx) ? &ctx : nullptr) == 0);
            go.count_down();
            bool broken = false;
            if (flags & spin) {
                const auto until = std::chrono::steady_clock::now() + 10ms;
                while (std::chrono::steady_clock::now() < until && !broken) {
                    broken = done.load();
                    std::this_thread::yield();
                }
            } else {
                std::this_thread::sleep_for(10ms); // the window in which nothing may happen
                broken = done.load();
            }
            CHECK_FALSE(broken);
            m.unlock();
            if (flags & with_ctx)
                ctx.fini();
            worker.join();
            CHECK(done.load());
        }
    });
}

// test_aa: a context locking what it holds gets -EALREADY; trylock fails with and without it.
TEST_CASE("ww_mutex: test_aa, recursion is -EALREADY and trylock fails") {
    for_both_classes([](const ww_class& cls) {
        for (bool trylock : {false, true}) {
            CAPTURE(trylock);
            ww_mutex m(cls);
            ww_acquire_ctx ctx(cls);
            if (trylock)
                REQUIRE(m.trylock(&ctx));
            else
                REQUIRE(m.lock(&ctx) == 0);
            CHECK(m.owner_ctx() == &ctx);
            CHECK(ctx.acquired() == 1);
            CHECK_FALSE(m.trylock(nullptr));
            CHECK_FALSE(m.trylock(&ctx));
            CHECK(m.lock(&ctx) == -EALREADY);
            CHECK(ctx.acquired() == 1);
            m.unlock();
            CHECK(ctx.acquired() == 0);
            CHECK_FALSE(m.is_locked());
            ctx.fini();
        }
    });
}

namespace {

// test_abba: two threads take A and B in opposite orders. Unresolved, at least one gets
// -EDEADLK; resolved (unlock, lock_slow, lock again), both succeed.
struct abba_result {
    int main_err = 0, worker_err = 0;
};

abba_result run_abba(const ww_class& cls, bool trylock, bool resolve) {
    ww_mutex a(cls), b(cls);
    std::latch a_ready(1), b_ready(1);
    abba_result res;
    // One side: `first` then `second`; returns the error of its last lock.
    auto side = [&](ww_mutex& first, ww_mutex& second, std::latch& mine, std::latch& other) {
        ww_acquire_ctx ctx(cls);
        if (trylock)
            CHECK(first.trylock(&ctx));
        else
            CHECK(first.lock(&ctx) == 0);
        CHECK(first.owner_ctx() == &ctx);
        mine.count_down();
        other.wait();
        bool hold_first = true;
        int err = second.lock(&ctx);
        if (resolve && err == -EDEADLK) {
            first.unlock();
            hold_first = false;
            CHECK(second.lock_slow(&ctx) == 0);
            err = first.lock(&ctx);
            hold_first = err == 0;
            if (err) // hold only `second`
                second.unlock();
            else
                second.unlock();
        } else if (!err) {
            second.unlock();
        }
        if (hold_first)
            first.unlock();
        ctx.fini();
        return err;
    };
    std::thread worker([&] { res.worker_err = side(b, a, b_ready, a_ready); });
    res.main_err = side(a, b, a_ready, b_ready);
    worker.join();
    return res;
}

} // namespace

TEST_CASE("ww_mutex: test_abba, unresolved someone gets -EDEADLK, resolved both succeed") {
    for_both_classes([](const ww_class& cls) {
        for (bool trylock : {false, true}) {
            CAPTURE(trylock);
            const abba_result unresolved = run_abba(cls, trylock, false);
            CHECK((unresolved.main_err == -EDEADLK || unresolved.worker_err == -EDEADLK));
            // The other side got its lock (0), never a second -EDEADLK: one backing off is enough.
            CHECK((unresolved.main_err == 0 || unresolved.worker_err == 0));
            const abba_result resolved = run_abba(cls, trylock, true);
            CHECK(resolved.main_err == 0);
            CHECK(resolved.worker_err == 0);
        }
    });
}

// test_cycle: n threads in a ring, each holding its own lock and wanting the next one's. The
// ring resolves: every thread ends with both locks, backing off when told to.
TEST_CASE("ww_mutex: test_cycle, rings of 2..4 threads resolve") {
    for_both_classes([](const ww_class& cls) {
        for (unsigned n = 2; n <= 4; ++n) {
            CAPTURE(n);
            std::deque<ww_mutex> locks;
            std::vector<std::unique_ptr<std::latch>> b_signal;
            for (unsigned i = 0; i < n; ++i) {
                locks.emplace_back(cls);
                b_signal.push_back(std::make_unique<std::latch>(1));
            }
            std::vector<int> result(n, -1);
            std::vector<std::thread> threads;
            for (unsigned i = 0; i < n; ++i) {
                threads.emplace_back([&, i] {
                    ww_mutex& a = locks[i];
                    ww_mutex& b = locks[(i + 1) % n];
                    ww_acquire_ctx ctx(cls);
                    int err = a.lock(&ctx);
                    b_signal[(i + n - 1) % n]->count_down(); // the previous thread may go for `a`
                    b_signal[i]->wait();                     // the next one holds `b`
                    // The back-off protocol until both are held: the kernel's test backs off once
                    // and counts a second -EDEADLK as a failure, which a loaded machine can cause
                    // legitimately (the older neighbour still holding `a` when we come back).
                    ww_mutex* held = &a;
                    ww_mutex* wanted = &b;
                    while (err == 0 && (err = wanted->lock(&ctx)) == -EDEADLK) {
                        held->unlock();
                        err = wanted->lock_slow(&ctx);
                        std::swap(held, wanted);
                    }
                    if (err == 0) {
                        a.unlock();
                        b.unlock();
                    }
                    ctx.fini();
                    result[i] = err;
                });
            }
            for (auto& t : threads)
                t.join();
            for (unsigned i = 0; i < n; ++i) {
                CAPTURE(i);
                CHECK(result[i] == 0);
            }
        }
    });
}

namespace {

// What the stress runs share: the locks, each guarding a counter bumped non-atomically (a lost
// update or a TSan report means two holders), and the number of bumps made.
struct stress_locks {
    explicit stress_locks(const ww_class& cls, unsigned n) {
        for (unsigned i = 0; i < n; ++i)
            locks.emplace_back(cls);
        counters.assign(n, 0);
    }
    std::deque<ww_mutex> locks;
    std::vector<long> counters;
    std::atomic<long> bumps{0};

    // The critical section with every lock held.
    void dummy_load() {
        for (long& c : counters) {
            const long v = c;
            c = v + 1;
        }
        bumps.fetch_add(1, std::memory_order_relaxed);
    }
};

std::vector<unsigned> random_order(unsigned n, unsigned seed) {
    std::vector<unsigned> order(n);
    for (unsigned i = 0; i < n; ++i)
        order[i] = i;
    std::shuffle(order.begin(), order.end(), std::mt19937(seed));
    return order;
}

// stress_inorder_work: every pass takes all locks in this thread's order; on -EDEADLK it backs
// off, takes the contended lock slowly and runs the pass again skipping it.
long stress_inorder(stress_locks& s, const ww_class& cls, unsigned seed, std::chrono::steady_clock::time_point until,
                    int& error) {
    const auto nlocks = static_cast<int>(s.locks.size());
    const auto order = random_order(static_cast<unsigned>(nlocks), seed);
    long rounds = 0;
    do {
        int contended = -1;
        ww_acquire_ctx ctx(cls);
        for (;;) {
            int err = 0, n = 0;
            for (n = 0; n < nlocks; ++n) {
                if (n == contended)
                    continue;
                err = s.locks[order[static_cast<std::size_t>(n)]].lock(&ctx);
                if (err < 0)
                    break;
            }
            if (!err)
                s.dummy_load();
            if (contended > n)
                s.locks[order[static_cast<std::size_t>(contended)]].unlock();
            contended = n;
            while (n--)
                s.locks[order[static_cast<std::size_t>(n)]].unlock();
            if (err == -EDEADLK) {
                (void)s.locks[order[static_cast<std::size_t>(contended)]].lock_slow(&ctx);
                continue;
            }
            if (err)
                error = err;
            break;
        }
        ctx.fini();
        ++rounds;
    } while (error == 0 && std::chrono::steady_clock::now() < until);
    return rounds;
}

// stress_reorder_work: on -EDEADLK the contended lock moves to the front of this thread's list.
long stress_reorder(stress_locks& s, const ww_class& cls, unsigned seed, std::chrono::steady_clock::time_point until,
                    int& error) {
    std::list<ww_mutex*> order;
    for (unsigned i : random_order(static_cast<unsigned>(s.locks.size()), seed))
        order.push_back(&s.locks[i]);
    long rounds = 0;
    do {
        ww_acquire_ctx ctx(cls);
        for (auto it = order.begin(); it != order.end();) {
            const int err = (*it)->lock(&ctx);
            if (!err) {
                ++it;
                continue;
            }
            for (auto back = order.begin(); back != it; ++back)
                (*back)->unlock();
            if (err != -EDEADLK) {
                error = err;
                ctx.fini();
                return rounds;
            }
            (void)(*it)->lock_slow(&ctx);
            order.splice(order.begin(), order, it); // to the front; go on after it
            it = std::next(order.begin());
        }
        s.dummy_load();
        for (ww_mutex* m : order)
            m->unlock();
        ctx.fini();
        ++rounds;
    } while (std::chrono::steady_clock::now() < until);
    return rounds;
}

} // namespace

TEST_CASE("ww_mutex: stress, 16 locks x 4 threads, inorder and reorder") {
    for_both_classes([](const ww_class& cls) {
        for (bool reorder : {false, true}) {
            CAPTURE(reorder);
            constexpr unsigned nthreads = 4;
            stress_locks s(cls, 16);
            const auto until = std::chrono::steady_clock::now() + 250ms;
            std::vector<long> rounds(nthreads, 0);
            std::vector<int> errors(nthreads, 0);
            std::vector<std::thread> threads;
            for (unsigned t = 0; t < nthreads; ++t)
                threads.emplace_back([&, t] {
                    rounds[t] = reorder ? stress_reorder(s, cls, 1000 + t, until, errors[t])
                                        : stress_inorder(s, cls, 1000 + t, until, errors[t]);
                });
            for (auto& th : threads)
                th.join();
            for (unsigned t = 0; t < nthreads; ++t) {
                CAPTURE(t);
                CHECK(errors[t] == 0);
                CHECK(rounds[t] > 0); // nobody starved for the whole run
            }
            const long bumps = s.bumps.load();
            CHECK(bumps >= static_cast<long>(nthreads));
            for (long c : s.counters)
                CHECK(c == bumps); // no update lost: one holder at a time
        }
    });
}

TEST_CASE("ww_mutex: wound-wait wounds a younger holder, which backs off at its next contended lock") {
    ww_mutex a(ww_class_), b(ww_class_), c(ww_class_);
    ww_acquire_ctx old_ctx(ww_class_);
    ww_acquire_ctx young(ww_class_);
    REQUIRE(old_ctx.stamp() < young.stamp());
    REQUIRE(young.stamp() > 0);
    REQUIRE(b.lock(&old_ctx) == 0);   // the older one holds something
    REQUIRE(a.lock(&young) == 0);     // the younger holds a
    std::latch waiting(1);
    int old_err = -1;
    std::thread older([&] {
        waiting.count_down();
        old_err = a.lock(&old_ctx); // waits for the younger holder and wounds it
        if (old_err == 0)
            a.unlock();
        b.unlock();
        old_ctx.fini();
    });
    waiting.wait();
    // A free lock is still taken by the wounded context (as the kernel: the wound shows when it
    // would wait), but b is held by the older context: -EDEADLK (at once, or when the wound
    // arrives while it waits).
    REQUIRE(c.lock(&young) == 0);
    const int r = b.lock(&young);
    CHECK(r == -EDEADLK);
    if (r == 0)
        b.unlock();
    c.unlock();
    a.unlock(); // back off: the older one gets a
    older.join();
    CHECK(old_err == 0);
    // After backing off the wound is spent: the slow lock and the rest succeed.
    CHECK(b.lock_slow(&young) == 0);
    CHECK(a.lock(&young) == 0);
    a.unlock();
    b.unlock();
    young.fini();
}

TEST_CASE("ww_mutex: wait-die, a younger context holding locks dies on a lock an older one holds, an older one waits") {
    ww_mutex a(wd_class), b(wd_class);
    ww_acquire_ctx older(wd_class), younger(wd_class);
    REQUIRE(a.lock(&older) == 0);
    REQUIRE(b.lock(&younger) == 0);
    CHECK(a.lock(&younger) == -EDEADLK); // dies at once, no waiting
    // The older one waits for b until the younger backs off.
    std::thread t([&] {
        CHECK(b.lock(&older) == 0);
        b.unlock();
        a.unlock();
        older.fini();
    });
    b.unlock();
    CHECK(a.lock_slow(&younger) == 0); // after the older one is done
    CHECK(b.lock(&younger) == 0);
    t.join();
    b.unlock();
    a.unlock();
    younger.fini();
}

TEST_CASE("ww_mutex: a context holding nothing waits instead of dying (wait-die)") {
    ww_mutex a(wd_class);
    ww_acquire_ctx older(wd_class), younger(wd_class);
    REQUIRE(a.lock(&older) == 0);
    std::latch started(1);
    int r = -1;
    std::thread t([&] {
        started.count_down();
        r = a.lock(&younger); // holds nothing: no deadlock possible, so it waits
        if (r == 0)
            a.unlock();
        younger.fini();
    });
    started.wait();
    a.unlock();
    t.join();
    CHECK(r == 0);
    older.fini();
}

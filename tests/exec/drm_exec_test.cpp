// SPDX-License-Identifier: MIT
// drm_exec: the KUnit suite of drivers/gpu/drm/tests/drm_exec_test.c (sanitycheck, lock,
// lock_unlock, duplicates, prepare, prepare_array, multiple_loops), then the back-off itself
// (a contended object is unlocked everything, taken first next pass, references held), objects
// found through a free resv_of, and threads locking overlapping sets in different orders.
#include <accel/exec/drm_exec.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <deque>
#include <latch>
#include <random>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using accel::drm_exec;
using accel::drm_exec_flags;

// A buffer object with a reservation object (a gem object's shape).
struct test_obj {
    accel::dma_resv r;
    long counter = 0; // guarded by r's lock
    accel::dma_resv& resv() noexcept { return r; }
};

// A reference-counted one: drm_exec holds references while it has it locked or contended.
struct ref_obj {
    accel::dma_resv r;
    std::atomic<int> refs{1}; // the test's own
    accel::dma_resv& resv() noexcept { return r; }
    friend void intrusive_ptr_add_ref(ref_obj* o) noexcept { o->refs.fetch_add(1); }
    friend void intrusive_ptr_release(ref_obj* o) noexcept { o->refs.fetch_sub(1); }
};

static_assert(accel::resv_object<test_obj>);
static_assert(accel::resv_object<accel::dma_resv>);
static_assert(!accel::resv_object<int>);
static_assert(std::is_same_v<drm_exec<test_obj>::ref, test_obj*>);
static_assert(std::is_same_v<drm_exec<ref_obj>::ref, boost::intrusive_ptr<ref_obj>>);

} // namespace

// Found by ADL: a type that names its reservation object through a free function.
namespace other {
struct plain_bo {
    accel::dma_resv reservation;
};
inline accel::dma_resv& resv_of(plain_bo& b) noexcept { return b.reservation; }
} // namespace other
static_assert(accel::resv_object<other::plain_bo>);

TEST_CASE("drm_exec: sanitycheck") {
    drm_exec<test_obj> exec(drm_exec_flags::interruptible_wait);
    exec.fini();
    CHECK(exec.num_objects() == 0);
}

TEST_CASE("drm_exec: test_lock") {
    test_obj gobj;
    drm_exec<test_obj> exec(drm_exec_flags::interruptible_wait);
    int ret = 0, passes = 0;
    while (exec.cleanup()) {
        ++passes;
        ret = exec.lock_obj(gobj);
        if (exec.retry_on_contention())
            continue;
        CHECK(ret == 0);
        if (ret)
            break;
    }
    CHECK(passes == 1);
    CHECK(gobj.r.is_locked());
    CHECK(gobj.r.locking_ctx() == &exec.ticket());
    CHECK(exec.num_objects() == 1);
    CHECK(&exec.obj(0) == &gobj);
    exec.fini();
    CHECK_FALSE(gobj.r.is_locked());
}

TEST_CASE("drm_exec: test_lock_unlock") {
    test_obj gobj;
    drm_exec<test_obj> exec(drm_exec_flags::interruptible_wait);
    while (exec.cleanup()) {
        int ret = exec.lock_obj(gobj);
        if (exec.retry_on_contention())
            continue;
        CHECK(ret == 0);
        if (ret)
            break;
        exec.unlock_obj(gobj);
        CHECK_FALSE(gobj.r.is_locked());
        CHECK(exec.num_objects() == 0);
        ret = exec.lock_obj(gobj);
        if (exec.retry_on_contention())
            continue;
        CHECK(ret == 0);
        if (ret)
            break;
    }
    CHECK(gobj.r.is_locked());
    exec.fini();
    CHECK_FALSE(gobj.r.is_locked());
}

TEST_CASE("drm_exec: test_duplicates") {
    test_obj gobj;
    drm_exec<test_obj> exec(drm_exec_flags::ignore_duplicates);
    while (exec.cleanup()) {
        int ret = exec.lock_obj(gobj);
        if (exec.retry_on_contention())
            continue;
        CHECK(ret == 0);
        if (ret)
            break;
        ret = exec.lock_obj(gobj);
        if (exec.retry_on_contention())
            continue;
        CHECK(ret == 0);
        if (ret)
            break;
    }
    CHECK(exec.num_objects() == 1); // once in the array
    exec.unlock_obj(gobj);
    CHECK_FALSE(gobj.r.is_locked());
    exec.fini();
}

TEST_CASE("drm_exec: without ignore_duplicates, locking twice is -EALREADY") {
    test_obj gobj;
    drm_exec<test_obj> exec;
    int second = 0;
    while (exec.cleanup()) {
        REQUIRE(exec.lock_obj(gobj) == 0);
        second = exec.lock_obj(gobj);
        if (exec.retry_on_contention())
            continue;
    }
    CHECK(second == -EALREADY);
    CHECK(exec.num_objects() == 1);
}

TEST_CASE("drm_exec: test_prepare") {
    test_obj gobj;
    drm_exec<test_obj> exec(drm_exec_flags::interruptible_wait);
    while (exec.cleanup()) {
        int ret = exec.prepare_obj(gobj, 1);
        if (exec.retry_on_contention())
            continue;
        CHECK(ret == 0);
        if (ret)
            break;
    }
    // The slot is there: one fence can be added.
    CHECK(gobj.r.add_fence(accel::make_fence(accel::fence_context_alloc(), 1), accel::resv_usage::write) == 0);
    exec.fini();
    // A failed reservation unlocks the object it locked.
    drm_exec<test_obj> again;
    int r = 0;
    while (again.cleanup()) {
        r = again.prepare_obj(gobj, 0); // 0 fences: -EINVAL, as dma_resv_reserve_fences
        if (again.retry_on_contention())
            continue;
    }
    CHECK(r == -EINVAL);
    CHECK_FALSE(gobj.r.is_locked());
    CHECK(again.num_objects() == 0);
}

TEST_CASE("drm_exec: test_prepare_array") {
    test_obj gobj1, gobj2;
    std::array<test_obj*, 2> array{&gobj1, &gobj2};
    drm_exec<test_obj> exec(drm_exec_flags::interruptible_wait);
    int ret = -1;
    while (exec.cleanup())
        ret = exec.prepare_array(array, 1);
    CHECK(ret == 0);
    CHECK(exec.num_objects() == 2);
    CHECK(gobj1.r.is_locked());
    CHECK(gobj2.r.is_locked());
    exec.fini();
    CHECK_FALSE(gobj1.r.is_locked());
    CHECK_FALSE(gobj2.r.is_locked());
}

TEST_CASE("drm_exec: test_multiple_loops") {
    drm_exec<test_obj> exec(drm_exec_flags::interruptible_wait);
    while (exec.cleanup())
        break;
    exec.fini();
    exec.init(drm_exec_flags::interruptible_wait);
    while (exec.cleanup())
        break;
    exec.fini();
    CHECK(exec.num_objects() == 0);
}

TEST_CASE("drm_exec: lock_all, for_each_locked_object, an object with a free resv_of, dma_resv itself") {
    std::array<other::plain_bo, 3> bos;
    drm_exec<other::plain_bo> exec;
    const int r = exec.lock_all([&](drm_exec<other::plain_bo>& e) {
        for (auto& b : bos)
            if (int err = e.lock_obj(b))
                return err;
        return 0;
    });
    CHECK(r == 0);
    std::vector<other::plain_bo*> order;
    exec.for_each_locked_object([&](other::plain_bo& b) { order.push_back(&b); });
    CHECK(order == std::vector<other::plain_bo*>{&bos[0], &bos[1], &bos[2]});
    order.clear();
    exec.for_each_locked_object_reverse([&](other::plain_bo& b) { order.push_back(&b); });
    CHECK(order == std::vector<other::plain_bo*>{&bos[2], &bos[1], &bos[0]});
    exec.fini();
    for (auto& b : bos)
        CHECK_FALSE(b.reservation.is_locked());

    accel::dma_resv plain;
    drm_exec<> on_resv;
    CHECK(on_resv.lock_all([&](auto& e) { return e.prepare_obj(plain, 2); }) == 0);
    CHECK(plain.is_locked());
}

// The back-off, in one thread: an older exec holds X; a younger one holding Y is told -EDEADLK on
// X at once (wait-die), keeps a reference to X, unlocks Y at the next cleanup(), then takes X
// first (slow) and Y, and its lock of X is then a no-op.
TEST_CASE("drm_exec: contention: back off, take the contended object first, references held") {
    ref_obj x, y;
    drm_exec<ref_obj> older, younger;
    REQUIRE(older.cleanup()); // the older ticket first
    REQUIRE(younger.cleanup());
    REQUIRE(older.lock_obj(x) == 0);
    CHECK(x.refs.load() == 2); // the test's and older's
    int passes = 1;
    bool released_older = false;
    do {
        int r = younger.lock_obj(y);
        if (younger.retry_on_contention())
            continue;
        REQUIRE(r == 0);
        r = younger.lock_obj(x);
        if (younger.retry_on_contention()) {
            CHECK(r == -EDEADLK);
            CHECK(x.refs.load() == 3); // the contended reference
            CHECK(y.r.is_locked());   // until cleanup()
            older.fini();             // lets the younger one through
            released_older = true;
            CHECK(x.refs.load() == 2);
            ++passes;
            continue;
        }
        REQUIRE(r == 0);
    } while (younger.cleanup());
    CHECK(released_older);
    CHECK(passes == 2);
    CHECK(younger.num_objects() == 2);
    CHECK(&younger.obj(0) == &x); // the contended object was locked first
    CHECK(&younger.obj(1) == &y);
    CHECK(x.refs.load() == 2);
    CHECK(y.refs.load() == 2);
    younger.fini();
    CHECK(x.refs.load() == 1);
    CHECK(y.refs.load() == 1);
    CHECK_FALSE(x.r.is_locked());
    CHECK_FALSE(y.r.is_locked());
}

// The same across threads with blocking: the older exec waits for Y, which the younger releases
// only when it backs off; the younger then gets everything once the older is done.
TEST_CASE("drm_exec: contention between two threads resolves") {
    test_obj x, y;
    drm_exec<test_obj> older;
    REQUIRE(older.cleanup());
    REQUIRE(older.lock_obj(x) == 0);
    std::latch younger_holds_y(1), younger_contended(1);
    int younger_passes = 0, younger_result = -1;
    std::thread t([&] {
        drm_exec<test_obj> younger;
        younger_result = younger.lock_all([&](drm_exec<test_obj>& e) {
            ++younger_passes;
            if (int r = e.lock_obj(y))
                return r;
            if (younger_passes == 1)
                younger_holds_y.count_down();
            int r = e.lock_obj(x);
            if (r == -EDEADLK && younger_passes == 1)
                younger_contended.count_down();
            return r;
        });
        CHECK(younger.num_objects() == 2);
        younger.fini();
    });
    younger_holds_y.wait();
    younger_contended.wait();
    // Waits (older) until the younger's cleanup() has unlocked y.
    CHECK(older.lock_obj(y) == 0);
    CHECK(older.num_objects() == 2);
    older.fini();
    t.join();
    CHECK(younger_result == 0);
    CHECK(younger_passes == 2);
}

// Four threads lock overlapping sets of objects in their own orders through the loop, many
// times; each pass bumps a counter in every object it holds. Must finish, with no lost update.
TEST_CASE("drm_exec: threads locking overlapping sets in different orders") {
    constexpr unsigned nobjs = 8, nthreads = 4, per_thread = 5, rounds = 300;
    std::deque<test_obj> objs(nobjs);
    std::vector<long> bumps(nobjs, 0);
    std::atomic<long> retries{0};
    std::vector<std::vector<unsigned>> sets(nthreads);
    for (unsigned t = 0; t < nthreads; ++t)
        for (unsigned k = 0; k < per_thread; ++k)
            sets[t].push_back((t * 2 + k) % nobjs);
    for (unsigned t = 0; t < nthreads; ++t)
        for (unsigned i : sets[t])
            bumps[i] += rounds;
    std::latch go(nthreads);
    std::vector<std::thread> threads;
    std::vector<int> errors(nthreads, 0);
    for (unsigned t = 0; t < nthreads; ++t) {
        threads.emplace_back([&, t] {
            std::mt19937 rng(t + 1);
            std::vector<unsigned> order = sets[t];
            go.arrive_and_wait();
            for (unsigned round = 0; round < rounds && !errors[t]; ++round) {
                std::shuffle(order.begin(), order.end(), rng);
                drm_exec<test_obj> exec;
                int passes = 0;
                errors[t] = exec.lock_all([&](drm_exec<test_obj>& e) {
                    ++passes;
                    for (unsigned i : order)
                        if (int r = e.prepare_obj(objs[i], 1))
                            return r;
                    return 0;
                });
                retries.fetch_add(passes - 1, std::memory_order_relaxed);
                exec.for_each_locked_object([](test_obj& o) {
                    const long v = o.counter;
                    std::this_thread::yield(); // widen the window a second holder would hit
                    o.counter = v + 1;
                });
                exec.fini();
            }
        });
    }
    for (auto& th : threads)
        th.join();
    for (unsigned t = 0; t < nthreads; ++t)
        CHECK(errors[t] == 0);
    for (unsigned i = 0; i < nobjs; ++i) {
        CAPTURE(i);
        CHECK(objs[i].counter == bumps[i]);
        CHECK_FALSE(objs[i].r.is_locked());
    }
    MESSAGE("back-offs: " << retries.load());
}

TEST_CASE("drm_exec: out of memory: a failed reservation or a failed array growth unlocks the object") {
    SUBCASE("prepare_obj: the reservation fails") {
        test_obj gobj;
        drm_exec<test_obj> exec;
        int r = 0;
        while (exec.cleanup()) {
            accel::fail_nth_allocation(1); // the fence table of gobj's reservation object
            r = exec.prepare_obj(gobj, 1);
            accel::disarm_allocation_faults();
            if (exec.retry_on_contention())
                continue;
        }
        CHECK(r == -ENOMEM);
        CHECK_FALSE(gobj.r.is_locked());
        CHECK(exec.num_objects() == 0);
    }
    SUBCASE("lock_obj: the object array cannot grow") {
        accel::fail_nth_allocation(1); // the initial array: the first lock must grow it
        drm_exec<test_obj> exec(drm_exec_flags::none, 1);
        test_obj a, b;
        int ra = 0, rb = 0;
        while (exec.cleanup()) {
            accel::fail_nth_allocation(1);
            ra = exec.lock_obj(a); // the growth fails: -ENOMEM, a unlocked again
            accel::disarm_allocation_faults();
            rb = exec.lock_obj(b); // grows now
            if (exec.retry_on_contention())
                continue;
        }
        CHECK(ra == -ENOMEM);
        CHECK(rb == 0);
        CHECK_FALSE(a.r.is_locked());
        CHECK(b.r.is_locked());
        CHECK(exec.num_objects() == 1);
        exec.fini();
        CHECK_FALSE(b.r.is_locked());
    }
}

// SPDX-License-Identifier: MIT
// Timeout and recovery (KERNEL-EXEC.md 1.7): the driver's reset sequence stop -> karma -> reset
// -> [resubmit] -> start(errno), from the timeout handler and from another thread; fault();
// ENODEV; karma and guilty entities.
#include "sched_mock.hpp"

#include <doctest/doctest.h>

#include <vector>

using namespace sched_test;

namespace {
constexpr auto T = 200ms;
accel::sched_config with_timeout(unsigned hang_limit = 1) {
    return {.name = "ring0", .credit_limit = 4, .timeout = T, .hang_limit = hang_limit};
}
// The reset tests fire the handler with fault() once every job is on the hardware, so that a
// slow machine cannot time a job out early or late.
accel::sched_config no_timeout(unsigned hang_limit = 1) {
    return {.name = "ring0", .credit_limit = 4, .hang_limit = hang_limit};
}
} // namespace

namespace {
void reset_without_resubmit(int start_error) {
    fixture<> f(no_timeout());
    f.st.engine.hang();
    fixture<>::entity bad(f.sched), good(f.sched);
    std::atomic<int> resets{0};
    f.st.on_timeout = [&](mock_job& j) {
        if (resets.fetch_add(1) > 0) // once
            return accel::timeout_status::no_hang;
        f.sched.stop(&j);
        f.sched.increase_karma(j);
        for (fence_ptr& hw : f.st.engine.reset_and_take()) // the hardware forgets its jobs
            hw->signal();                                 // (no scheduler callback is on them)
        f.sched.start(start_error);
        return accel::timeout_status::reset;
    };
    mock_job* hung = submit(bad);
    mock_job* innocent = submit(good);
    REQUIRE(scheduled(innocent));
    f.sched.fault();
    REQUIRE(finished(hung));
    REQUIRE(finished(innocent));
    const int expected = start_error ? start_error : -ECANCELED;
    CHECK(hung->finished()->error() == expected);
    CHECK(innocent->finished()->error() == expected);
    CHECK(resets == 1);
    CHECK(hung->karma() == 1);
    CHECK(bad.guilty());
    CHECK_FALSE(good.guilty());
    CHECK(f.st.wait_for([&] { return hung->freed && innocent->freed; }));
    CHECK(f.sched.credit_count() == 0);

    // After the reset: the guilty entity's jobs still run, but finish -ECANCELED.
    mock_job* after_bad = submit(bad); // the reset ended the engine's hang: these just run
    mock_job* after_good = submit(good);
    REQUIRE(finished(after_bad));
    REQUIRE(finished(after_good));
    CHECK(after_bad->runs == 1);
    CHECK(after_bad->finished()->error() == -ECANCELED);
    CHECK(after_good->finished()->status() == 1);
}
} // namespace

TEST_CASE("sched recovery: stop, karma, reset, start(errno): every pending job gets the errno") {
    SUBCASE("start(-EIO)") { reset_without_resubmit(-EIO); }
    SUBCASE("start(0): -ECANCELED") { reset_without_resubmit(0); }
}

TEST_CASE("sched recovery: resubmit_jobs cancels the guilty context and reruns the others") {
    fixture<> f(no_timeout(0)); // karma 1 > hang_limit 0: guilty
    f.st.engine.hang();
    fixture<>::entity bad(f.sched), good(f.sched);
    std::atomic<int> resets{0};
    f.st.on_timeout = [&](mock_job& j) {
        if (resets.fetch_add(1) > 0) // once
            return accel::timeout_status::no_hang;
        f.sched.stop(&j);
        f.sched.increase_karma(j);
        f.st.engine.reset(-EIO); // clears the hang; the old fences have no callback any more
        f.sched.resubmit_jobs();
        f.sched.start(0);
        return accel::timeout_status::reset;
    };
    mock_job* hung = submit(bad);
    mock_job* hung2 = submit(bad);
    mock_job* innocent = submit(good);
    REQUIRE(scheduled(innocent));
    f.sched.fault();
    REQUIRE(finished(hung));
    REQUIRE(finished(hung2));
    REQUIRE(finished(innocent));
    CHECK(hung->finished()->error() == -ECANCELED);
    CHECK(hung2->finished()->error() == -ECANCELED); // same context as the guilty job
    CHECK(innocent->finished()->status() == 1);
    CHECK(hung->runs == 2); // run again even when cancelled, as the kernel does
    CHECK(innocent->runs == 2);
    CHECK(f.st.wait_for([&] { return f.st.frees == 3; }));
    CHECK(f.sched.credit_count() == 0);
}

TEST_CASE("sched recovery: the sequence driven from another thread, pushes wait while stopped") {
    fixture<> f(accel::sched_config{.name = "ring0", .credit_limit = 4, .hang_limit = 1});
    f.st.engine.hang();
    fixture<>::entity e(f.sched), other(f.sched);
    mock_job* a = submit(e);
    mock_job* b = submit(e);
    REQUIRE(scheduled(b));
    f.sched.stop(a); // a framework-level reset: `a` is on the pending list, not unlinked
    CHECK(f.sched.credit_count() == 0);
    CHECK(a->parent() == nullptr); // detached
    mock_job* c = submit(other);
    CHECK_FALSE(scheduled(c, 200ms));
    f.sched.increase_karma(*a);
    CHECK(a->karma() == 1);
    CHECK(e.guilty());
    f.st.engine.reset(-EIO);
    f.sched.resubmit_jobs(); // karma 1 is not above hang_limit 1: nobody is cancelled
    CHECK(a->parent() != nullptr);
    f.sched.start(0);
    REQUIRE(finished(a));
    REQUIRE(finished(b));
    REQUIRE(finished(c));
    CHECK(a->finished()->status() == 1);
    CHECK(b->finished()->status() == 1);
    CHECK(c->finished()->status() == 1);
    CHECK(f.st.wait_for([&] { return f.st.frees == 3; }));
}

TEST_CASE("sched recovery: stop() frees jobs that had already completed") {
    fixture<> f(accel::sched_config{.name = "ring0", .credit_limit = 4});
    f.st.engine.hang();
    fixture<>::entity e(f.sched);
    f.sched.stop(nullptr); // nothing runs or is freed meanwhile
    mock_job* done = submit(e);
    f.sched.start(0);
    REQUIRE(scheduled(done));
    mock_job* running = submit(e);
    REQUIRE(scheduled(running));
    CHECK(f.st.engine.advance(1) == 1);
    REQUIRE(finished(done));
    f.sched.stop(running);
    CHECK(f.st.wait_for([&] { return done->freed.load(); })); // by stop or by the free work before it
    CHECK_FALSE(running->freed);
    f.st.engine.reset(-EIO);
    f.sched.start(-EIO);
    REQUIRE(finished(running));
    CHECK(running->finished()->error() == -EIO);
    CHECK(f.st.wait_for([&] { return running->freed.load(); }));
}

TEST_CASE("sched recovery: fault() runs the timeout handler at once") {
    fixture<> f(accel::sched_config{.name = "ring0", .credit_limit = 4}); // no timeout
    f.st.engine.hang();
    fixture<>::entity e(f.sched);
    mock_job* j = submit(e);
    REQUIRE(scheduled(j));
    CHECK_FALSE(finished(j, 100ms));
    f.sched.fault();
    REQUIRE(finished(j));
    CHECK(j->timedout);
    CHECK(j->finished()->error() == -ETIMEDOUT);
}

TEST_CASE("sched recovery: after ENODEV the timer is not re-armed") {
    fixture<> f(with_timeout());
    f.st.engine.hang();
    fixture<>::entity e(f.sched);
    f.st.on_timeout = [](mock_job&) { return accel::timeout_status::enodev; };
    mock_job* j = submit(e);
    REQUIRE(f.st.wait_for([&] { return j->timeouts == 1; }));
    CHECK_FALSE(f.st.wait_for([&] { return j->timeouts > 1; }, 4 * T));
    CHECK(eventually([&] { return f.sched.pending_jobs() == 1; })); // put back (accel's rule), not lost
    CHECK(f.st.engine.advance(1) == 1);
    REQUIRE(finished(j));
    CHECK(f.st.wait_for([&] { return j->freed.load(); }));
}

TEST_CASE("sched recovery: KERNEL priority jobs get no karma, a guilty entity cancels at pop") {
    fixture<> f(accel::sched_config{.name = "ring0", .credit_limit = 4});
    fixture<>::entity kernel(f.sched, accel::sched_priority::kernel), user(f.sched);
    f.st.engine.hang();
    mock_job* k = submit(kernel);
    mock_job* u = submit(user);
    REQUIRE(scheduled(u));
    f.sched.increase_karma(*k);
    f.sched.increase_karma(*u);
    CHECK(k->karma() == 0);
    CHECK_FALSE(kernel.guilty());
    CHECK(u->karma() == 1);
    CHECK(user.guilty());
    CHECK(f.st.engine.advance(2) == 2);
    REQUIRE(finished(k));
    REQUIRE(finished(u));
    CHECK(u->finished()->status() == 1); // guilty too late for a job already popped
    CHECK(user.error() == 0);
    user.set_guilty(false);
    mock_job* v = submit(user);
    CHECK(f.st.engine.advance(1) == 1);
    REQUIRE(finished(v));
    CHECK(v->finished()->status() == 1);
}

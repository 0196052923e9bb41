// SPDX-License-Identifier: MIT
// Which job runs next: priorities, FIFO within a priority, round robin, credits stopping the
// selection, set_priority; and the fast path (run_job on the pushing thread) and when it is not
// taken. The engine is held with one credit, so each selection happens alone, after the job
// before it completed (advance).
#include "sched_mock.hpp"

#include <doctest/doctest.h>

#include <thread>
#include <vector>

using namespace sched_test;
using accel::sched_priority;

namespace {
accel::sched_config one_credit(accel::sched_policy policy = accel::sched_policy::fifo) {
    return {.name = "ring0", .credit_limit = 1, .hang_limit = 1, .policy = policy};
}

// Completes the job on the hardware, one at a time, until `n` more jobs ran.
void run_one_by_one(fixture<>& f, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t ran = f.st.order().size();
        REQUIRE(f.st.engine.advance(1) == 1);
        REQUIRE(f.st.wait_for([&] { return f.st.run_order.size() > ran; }));
    }
}
} // namespace

TEST_CASE("sched order: FIFO by submit time across the entities of one priority") {
    fixture<> f(one_credit());
    f.st.engine.hang();
    fixture<>::entity a(f.sched), b(f.sched), c(f.sched);
    submit(a, {.tag = 0}); // on the hardware: the others queue behind its credit
    REQUIRE(f.st.wait_for([&] { return f.st.run_order.size() == 1; }));
    fixture<>::entity* by_push[] = {&b, &c, &a, &c, &b, &a, &a, &c};
    std::vector<mock_job*> jobs;
    for (int i = 0; i < 8; ++i)
        jobs.push_back(submit(*by_push[i], {.tag = i + 1}));
    run_one_by_one(f, 8);
    CHECK(f.st.order() == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8});
    CHECK(f.st.engine.advance(1) == 1);
    for (mock_job* j : jobs)
        CHECK(finished(j));
}

TEST_CASE("sched order: round robin takes the entities in turn") {
    fixture<> f(one_credit(accel::sched_policy::round_robin));
    f.st.engine.hang();
    fixture<>::entity a(f.sched), b(f.sched);
    submit(a, {.tag = 0});
    REQUIRE(f.st.wait_for([&] { return f.st.run_order.size() == 1; }));
    for (int i = 1; i <= 3; ++i)
        submit(a, {.tag = 10 + i});
    for (int i = 1; i <= 3; ++i)
        submit(b, {.tag = 20 + i});
    run_one_by_one(f, 6);
    // FIFO would give 11 12 13 21 22 23.
    CHECK(f.st.order() == std::vector<int>{0, 11, 21, 12, 22, 13, 23});
    CHECK(f.st.engine.advance(1) == 1);
}

TEST_CASE("sched order: higher priorities first, FIFO inside each") {
    fixture<> f(one_credit());
    f.st.engine.hang();
    fixture<>::entity low(f.sched, sched_priority::low), normal(f.sched, sched_priority::normal),
        high(f.sched, sched_priority::high), kernel(f.sched, sched_priority::kernel);
    submit(low, {.tag = 0});
    REQUIRE(f.st.wait_for([&] { return f.st.run_order.size() == 1; }));
    for (int i = 0; i < 2; ++i) {
        submit(low, {.tag = 40 + i});
        submit(normal, {.tag = 30 + i});
        submit(high, {.tag = 20 + i});
        submit(kernel, {.tag = 10 + i});
    }
    run_one_by_one(f, 8);
    CHECK(f.st.order() == std::vector<int>{0, 10, 11, 20, 21, 30, 31, 40, 41});
    CHECK(f.st.engine.advance(1) == 1);
}

TEST_CASE("sched order: a head job that does not fit stops the selection, lower priorities wait") {
    fixture<> f(accel::sched_config{.name = "ring0", .credit_limit = 2});
    f.st.engine.hang();
    fixture<>::entity high(f.sched, sched_priority::high), low(f.sched, sched_priority::low);
    mock_job* blocker = submit(low, {.tag = 0});
    REQUIRE(scheduled(blocker));
    mock_job* wide = submit(high, {.tag = 1, .credits = 2}); // needs both credits
    mock_job* narrow = submit(low, {.tag = 2});              // would fit, but is behind `wide`
    CHECK_FALSE(scheduled(narrow, 300ms));
    CHECK_FALSE(wide->scheduled()->is_signaled());
    CHECK(f.sched.credit_count() == 1);
    CHECK(f.st.engine.advance(1) == 1);
    REQUIRE(scheduled(wide));
    CHECK(f.sched.credit_count() == 2);
    CHECK_FALSE(narrow->scheduled()->is_signaled());
    CHECK(f.st.engine.advance(1) == 1);
    REQUIRE(finished(wide));
    REQUIRE(scheduled(narrow));
    CHECK(f.st.engine.advance(1) == 1);
    REQUIRE(finished(narrow));
    CHECK(f.st.order() == std::vector<int>{0, 1, 2});
}

TEST_CASE("sched order: set_priority applies at the next selection") {
    fixture<> f(one_credit());
    f.st.engine.hang();
    fixture<>::entity a(f.sched, sched_priority::low), b(f.sched, sched_priority::normal);
    submit(a, {.tag = 0});
    REQUIRE(f.st.wait_for([&] { return f.st.run_order.size() == 1; }));
    submit(a, {.tag = 1});
    submit(b, {.tag = 2});
    a.set_priority(sched_priority::kernel);
    CHECK(a.priority() == sched_priority::kernel);
    run_one_by_one(f, 2);
    CHECK(f.st.order() == std::vector<int>{0, 1, 2});
    CHECK(f.st.engine.advance(1) == 1);
}

TEST_CASE("sched fast path: an idle scheduler runs the job on the pushing thread") {
    fixture<> f(accel::sched_config{.name = "ring0", .credit_limit = 2});
    fixture<>::entity e(f.sched);
    f.st.engine.hang();
    mock_job* j = submit(e);
    // Already handed to the hardware when push returned, by this thread.
    CHECK(j->scheduled()->is_signaled());
    CHECK(j->run_thread.load() == std::this_thread::get_id());
    CHECK(f.sched.credit_count() == 1);

    SUBCASE("not with a dependency pending") {
        fence_ptr gate = accel::make_fence(accel::fence_context_alloc(), 1);
        fixture<>::entity other(f.sched);
        mock_job* k = submit(other, {.deps = {gate}});
        CHECK_FALSE(k->scheduled()->is_signaled());
        gate->signal();
        REQUIRE(scheduled(k));
        CHECK(k->run_thread.load() != std::this_thread::get_id());
        CHECK(f.st.engine.advance(2) == 2);
        CHECK(finished(k));
    }
    SUBCASE("not when the entity has jobs queued, nor without credits") {
        fixture<>::entity other(f.sched);
        mock_job* k = submit(other); // the second credit: still the fast path
        CHECK(k->run_thread.load() == std::this_thread::get_id());
        mock_job* l = submit(other); // no credit left: queued
        mock_job* m = submit(other); // queued behind l
        CHECK_FALSE(l->scheduled()->is_signaled());
        CHECK(f.st.engine.advance(1) == 1);
        REQUIRE(scheduled(l));
        CHECK(l->run_thread.load() != std::this_thread::get_id());
        CHECK(f.st.engine.advance(2) == 2);
        REQUIRE(scheduled(m));
        CHECK(m->run_thread.load() != std::this_thread::get_id());
        CHECK(f.st.engine.advance(1) == 1);
        CHECK(finished(m));
    }
    SUBCASE("not while the scheduler is stopped") {
        f.sched.stop(nullptr);
        fixture<>::entity other(f.sched);
        mock_job* k = submit(other);
        CHECK_FALSE(scheduled(k, 200ms));
        f.sched.start(0);
        REQUIRE(scheduled(k));
        CHECK(k->run_thread.load() != std::this_thread::get_id());
        CHECK(f.st.engine.advance(2) == 2);
        CHECK(finished(k));
        // stop() detached j from its hardware fence; start() without a resubmit fails it.
        CHECK(j->finished()->error() == -ECANCELED);
    }
    e.destroy();
}

TEST_CASE("sched fast path: can be turned off") {
    fixture<> f(accel::sched_config{.name = "ring0", .credit_limit = 2, .fast_path = false});
    fixture<>::entity e(f.sched);
    mock_job* j = submit(e);
    REQUIRE(finished(j));
    CHECK(j->run_thread.load() != std::this_thread::get_id());
}

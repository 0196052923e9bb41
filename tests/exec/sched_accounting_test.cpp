// SPDX-License-Identifier: MIT
// Accounting: engine busy time and per-entity (per-client) engine time from the job fences'
// timestamps, and credit accounting.
#include "sched_mock.hpp"

#include <doctest/doctest.h>

#include <thread>
#include <vector>

using namespace sched_test;

TEST_CASE("sched accounting: busy time is monotone and covers the jobs' durations") {
    fixture<> f(accel::sched_config{.name = "ring0", .credit_limit = 3});
    fixture<>::entity a(f.sched), b(f.sched);
    constexpr auto d = 20ms;
    std::vector<mock_job*> jobs;
    std::atomic<bool> stop{false};
    std::atomic<bool> monotone{true};
    std::thread sampler([&] {
        std::int64_t last = 0, last_a = 0;
        while (!stop) {
            const std::int64_t now = f.sched.busy_ns(), now_a = a.runtime_ns();
            if (now < last || now_a < last_a)
                monotone = false;
            last = now;
            last_a = now_a;
            std::this_thread::sleep_for(1ms);
        }
    });
    for (int i = 0; i < 5; ++i)
        jobs.push_back(submit(a, {.duration = d}));
    for (int i = 0; i < 3; ++i)
        jobs.push_back(submit(b, {.duration = d}));
    for (mock_job* j : jobs)
        REQUIRE(finished(j));
    stop = true;
    sampler.join();
    CHECK(monotone);

    std::int64_t first_scheduled = INT64_MAX, last_finished = 0;
    for (mock_job* j : jobs) {
        first_scheduled = std::min(first_scheduled, j->scheduled()->timestamp());
        last_finished = std::max(last_finished, j->finished()->timestamp());
    }
    const std::int64_t busy = f.sched.busy_ns();
    // The engine ran the 8 jobs one after the other, each at least d: busy covers that, and lies
    // within the first scheduled .. last finished span.
    CHECK(busy >= 8 * std::chrono::nanoseconds(d).count());
    CHECK(busy <= last_finished - first_scheduled);
    // Every nanosecond went to one entity.
    CHECK(a.runtime_ns() + b.runtime_ns() == busy);
    CHECK(a.runtime_ns() >= 5 * std::chrono::nanoseconds(d).count());
    CHECK(b.runtime_ns() >= 3 * std::chrono::nanoseconds(d).count());
    // Idle now: it stays put.
    std::this_thread::sleep_for(20ms);
    CHECK(f.sched.busy_ns() == busy);
}

TEST_CASE("sched accounting: a running job's elapsed time counts") {
    fixture<> f(accel::sched_config{.name = "ring0", .credit_limit = 1});
    f.st.engine.hang();
    fixture<>::entity a(f.sched), b(f.sched);
    mock_job* j = submit(a);
    REQUIRE(scheduled(j));
    const std::int64_t b0 = f.sched.busy_ns(), a0 = a.runtime_ns();
    std::this_thread::sleep_for(30ms);
    const std::int64_t b1 = f.sched.busy_ns(), a1 = a.runtime_ns();
    CHECK(b1 - b0 >= std::chrono::nanoseconds(30ms).count());
    CHECK(a1 - a0 >= std::chrono::nanoseconds(30ms).count());
    CHECK(b.runtime_ns() == 0);
    CHECK(f.st.engine.advance(1) == 1);
    REQUIRE(finished(j));
    CHECK(f.sched.busy_ns() >= b1);
    CHECK(a.runtime_ns() >= a1);
}

TEST_CASE("sched accounting: credits go up at run, down at completion, jobs wait for them") {
    fixture<> f(accel::sched_config{.name = "ring0", .credit_limit = 3});
    f.st.engine.hang();
    fixture<>::entity e(f.sched);
    CHECK(f.sched.credit_limit() == 3);
    mock_job* two = submit(e, {.credits = 2});
    CHECK(two->credits() == 2);
    REQUIRE(scheduled(two));
    CHECK(f.sched.credit_count() == 2);
    mock_job* also_two = submit(e, {.credits = 2}); // 3 - 2 < 2: waits
    mock_job* wide = submit(e, {.credits = 9});     // truncated to 3
    CHECK(wide->credits() == 3);
    CHECK_FALSE(scheduled(also_two, 200ms));
    CHECK(f.sched.credit_count() == 2);
    CHECK(f.st.engine.advance(1) == 1);
    REQUIRE(scheduled(also_two));
    CHECK(f.sched.credit_count() == 2);
    CHECK_FALSE(wide->scheduled()->is_signaled());
    CHECK(f.st.engine.advance(1) == 1);
    REQUIRE(scheduled(wide));
    CHECK(f.sched.credit_count() == 3);
    CHECK(f.st.engine.advance(1) == 1);
    REQUIRE(finished(wide));
    CHECK(f.st.wait_for([&] { return f.st.frees == 3; }));
    CHECK(f.sched.credit_count() == 0);
    CHECK(f.sched.pending_jobs() == 0);
}

TEST_CASE("sched accounting: jobs are freed in hardware order, after their finished fence") {
    fixture<> f(accel::sched_config{.name = "ring0", .credit_limit = 8});
    fixture<>::entity a(f.sched), b(f.sched);
    std::vector<mock_job*> jobs;
    for (int i = 0; i < 16; ++i)
        jobs.push_back(submit(i % 2 ? a : b, {.duration = 500us, .tag = i}));
    REQUIRE(f.st.wait_for([&] { return f.st.frees == 16; }));
    std::lock_guard g(f.st.m);
    REQUIRE(f.st.freed.size() == 16);
    for (std::size_t i = 1; i < f.st.freed.size(); ++i) // the engine completes in submission order
        CHECK(f.st.freed[i - 1]->id() < f.st.freed[i]->id());
}

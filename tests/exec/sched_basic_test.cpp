// SPDX-License-Identifier: MIT
// The drm_sched KUnit tests (drivers/gpu/drm/scheduler/tests/tests_basic.c) on the simulated
// engine. The mock's "advance the timeline" is sim_engine::hang() + advance(n); its job
// durations are engine durations. Bounds are generous (sched_mock.hpp); the checks that
// something did not happen wait on conditions nothing but the test can make true.
// drm_sched_test_modify_sched is not ported: accel's entities have one scheduler.
#include "sched_mock.hpp"

#include <doctest/doctest.h>

#include <array>
#include <thread>
#include <vector>

using namespace sched_test;
using accel::sched_priority;

TEST_CASE("sched: drm_sched_basic_submit: a job stays unfinished until the hardware completes it") {
    fixture<> f;
    fixture<>::entity e(f.sched);
    f.st.engine.hang();
    mock_job* job = submit(e);
    CHECK(scheduled(job));
    CHECK_FALSE(finished(job, 500ms));
    CHECK(f.st.engine.advance(1) == 1);
    CHECK(finished(job));
    CHECK(job->finished()->status() == 1);
    e.destroy();
}

TEST_CASE("sched: drm_sched_basic_test: 100 jobs of 1 ms") {
    struct params {
        const char* description;
        unsigned queue_depth, num_entities;
        std::chrono::microseconds job_us;
        bool dep_chain;
    };
    const std::array<params, 4> cases{{
        {"A queue of jobs in a single entity", 100, 1, 1000us, false},
        {"A chain of dependent jobs across multiple entities", 100, 1, 1000us, true},
        {"Multiple independent job queues", 100, 4, 1000us, false},
        {"Multiple inter-dependent job queues", 100, 4, 1000us, true},
    }};
    for (const params& p : cases) {
        CAPTURE(p.description);
        fixture<> f;
        std::vector<std::unique_ptr<fixture<>::entity>> entities;
        for (unsigned i = 0; i < p.num_entities; ++i)
            entities.push_back(std::make_unique<fixture<>::entity>(f.sched));
        mock_job* prev = nullptr;
        std::vector<mock_job*> jobs;
        for (unsigned i = 0; i < p.queue_depth; ++i) {
            job_args a{.duration = p.job_us};
            if (p.dep_chain && prev)
                a.deps.push_back(prev->finished());
            prev = submit(*entities[i % p.num_entities], a);
            jobs.push_back(prev);
        }
        REQUIRE(finished(prev)); // the kernel allows 1 s; see long_wait
        for (mock_job* j : jobs)
            CHECK(j->finished()->status() == 1);
        for (auto& e : entities)
            e->destroy();
    }
}

TEST_CASE("sched: drm_sched_basic_entity_cleanup: destroying entities mid-chain does not hang") {
    fixture<> f;
    std::vector<std::unique_ptr<fixture<>::entity>> entities;
    for (int i = 0; i < 4; ++i)
        entities.push_back(std::make_unique<fixture<>::entity>(f.sched));
    mock_job* prev = nullptr;
    mock_job* mid = nullptr;
    std::vector<mock_job*> jobs;
    const unsigned qd = 100;
    for (unsigned i = 0; i < qd; ++i) {
        job_args a{.duration = 1000us};
        if (prev)
            a.deps.push_back(prev->finished());
        prev = submit(*entities[i % 4], a);
        jobs.push_back(prev);
        if (i == qd / 2)
            mid = prev;
    }
    REQUIRE(finished(mid));
    // Exit with half of the queue still pending: flush waits a little, kill does the rest.
    for (auto& e : entities)
        e->destroy(10ms);
    for (mock_job* j : jobs) {
        REQUIRE(finished(j));
        const int st = j->finished()->status();
        CHECK((st == 1 || st == -ESRCH));
    }
    CHECK(f.st.wait_for([&] { return f.st.frees == int(qd); }));
}

namespace {
// drm_sched_concurrent_tests' setup: 16 workers, each with its entity, start together.
struct go_signal {
    std::mutex m;
    std::condition_variable cv;
    bool go = false;
    void wait() {
        std::unique_lock lk(m);
        cv.wait(lk, [&] { return go; });
    }
    void release() {
        std::lock_guard g(m);
        go = true;
        cv.notify_all();
    }
};
} // namespace

TEST_CASE("sched: drm_sched_parallel_submit_test: 16 submitters, then the timeline advances") {
    constexpr unsigned num_workers = 16, num_jobs = 8;
    fixture<> f;
    f.st.engine.hang();
    std::vector<std::unique_ptr<fixture<>::entity>> entities;
    std::vector<std::vector<std::unique_ptr<mock_job>>> jobs(num_workers);
    std::vector<std::vector<mock_job*>> raw(num_workers);
    for (unsigned w = 0; w < num_workers; ++w) {
        entities.push_back(std::make_unique<fixture<>::entity>(f.sched));
        for (unsigned j = 0; j < num_jobs; ++j) {
            auto job = std::make_unique<mock_job>();
            REQUIRE(job->init(*entities[w], 1) == 0);
            job->arm();
            raw[w].push_back(job.get());
            jobs[w].push_back(std::move(job));
        }
    }
    go_signal go;
    std::vector<std::thread> workers;
    for (unsigned w = 0; w < num_workers; ++w)
        workers.emplace_back([&, w] {
            go.wait();
            for (auto& job : jobs[w])
                entities[w]->push(std::move(job));
        });
    go.release();
    for (auto& t : workers)
        t.join();
    for (auto& per_worker : raw)
        for (mock_job* j : per_worker)
            CHECK(scheduled(j));
    CHECK(f.st.engine.advance(num_workers * num_jobs) == num_workers * num_jobs);
    for (auto& per_worker : raw)
        for (mock_job* j : per_worker) {
            CHECK(finished(j));
            CHECK(j->finished()->status() == 1);
        }
    for (auto& e : entities)
        e->destroy();
}

TEST_CASE("sched: drm_sched_interleaved_submit_test: 16 submitters keep 8 jobs in flight each") {
    constexpr unsigned num_workers = 16, in_flight = 8;
    constexpr auto test_duration = 1000ms;
    constexpr auto base_duration = 100us;
    fixture<> f;
    std::vector<std::unique_ptr<fixture<>::entity>> entities;
    std::vector<std::vector<std::unique_ptr<mock_job>>> jobs(num_workers);
    std::vector<std::vector<mock_job*>> raw(num_workers);
    const auto share = std::chrono::duration_cast<std::chrono::microseconds>(test_duration) / num_workers;
    for (unsigned w = 0; w < num_workers; ++w) {
        entities.push_back(std::make_unique<fixture<>::entity>(f.sched));
        const auto duration = base_duration * (w + 1);
        const auto count = std::max<long>(1, share / duration);
        for (long j = 0; j < count; ++j) {
            auto job = std::make_unique<mock_job>();
            job->duration = duration;
            REQUIRE(job->init(*entities[w], 1) == 0);
            job->arm();
            raw[w].push_back(job.get());
            jobs[w].push_back(std::move(job));
        }
    }
    go_signal go;
    std::atomic<int> late{0};
    std::vector<std::thread> workers;
    for (unsigned w = 0; w < num_workers; ++w)
        workers.emplace_back([&, w] {
            go.wait();
            const std::size_t n = jobs[w].size();
            const std::size_t window = std::min<std::size_t>(n, in_flight);
            for (std::size_t i = 0; i < window; ++i)
                entities[w]->push(std::move(jobs[w][i]));
            for (std::size_t i = 0; i < n; ++i) {
                if (!finished(raw[w][i]))
                    ++late;
                if (i + window < n)
                    entities[w]->push(std::move(jobs[w][i + window]));
            }
        });
    go.release();
    for (auto& t : workers)
        t.join();
    CHECK(late == 0);
    for (auto& per_worker : raw)
        for (mock_job* j : per_worker)
            CHECK(j->finished()->status() == 1);
    for (auto& e : entities)
        e->destroy();
}

TEST_CASE("sched: drm_sched_basic_timeout: the handler runs after the timeout, not before") {
    constexpr auto T = 250ms; // MOCK_TIMEOUT is HZ/5; larger here for a loaded machine
    fixture<> f(accel::sched_config{.name = "drm-mock-scheduler", .credit_limit = UINT32_MAX, .timeout = T, .hang_limit = 1});
    fixture<>::entity e(f.sched);
    f.st.engine.hang();
    mock_job* job = submit(e);
    REQUIRE(scheduled(job));
    // Not finished (and not timed out) at T/2: the handler is the only way it can finish.
    CHECK_FALSE(finished(job, T / 2));
    REQUIRE(finished(job)); // the kernel allows 1.5 T; see long_wait
    CHECK(job->timedout);
    CHECK(job->finished()->error() == -ETIMEDOUT);
    // The timer was armed when the job went to the hardware, after its push: it cannot have
    // fired earlier than T after the push (the kernel test's "not before T/2", made exact).
    CHECK(job->timedout_at - job->submit_ts() >= std::chrono::nanoseconds(T).count());
    CHECK(f.st.wait_for([&] { return job->freed.load(); })); // put back and freed (accel's rule)
    e.destroy();
}

TEST_CASE("sched: drm_sched_skip_reset: a NO_HANG job survives two timeouts, then finishes") {
    constexpr auto T = 250ms;
    fixture<> f(accel::sched_config{.name = "drm-mock-scheduler", .credit_limit = UINT32_MAX, .timeout = T, .hang_limit = 1});
    fixture<>::entity e(f.sched);
    f.st.engine.hang();
    mock_job* job = submit(e, {.dont_reset = true});
    REQUIRE(scheduled(job));
    // Two handler runs answered no_hang: at least 2 T have passed and the job is still pending.
    REQUIRE(f.st.wait_for([&] { return job->timeouts >= 2; }));
    CHECK_FALSE(job->finished()->is_signaled());
    CHECK_FALSE(job->timedout);
    CHECK_FALSE(job->freed);
    CHECK(f.st.engine.advance(1) == 1);
    REQUIRE(finished(job));
    CHECK(job->finished()->status() == 1);
    CHECK(f.st.wait_for([&] { return job->freed.load(); }));
    e.destroy();
}

TEST_CASE("sched: drm_sched_basic_cancel: teardown cancels a pending job through cancel_job") {
    mock_job* job = nullptr;
    fence_ptr hw;
    {
        fixture<> f;
        {
            fixture<>::entity e(f.sched);
            f.st.engine.hang();
            job = submit(e);
            REQUIRE(scheduled(job));
            e.destroy();
        }
        f.sched.fini();
        CHECK(job->cancelled);
        hw = job->hw();
        CHECK(hw->error() == -ECANCELED);
        CHECK(job->finished()->error() == -ECANCELED);
        CHECK(job->freed);
    }
    CHECK(hw->is_signaled());
}

TEST_CASE("sched: drm_sched_priorities: jobs of every priority finish") {
    fixture<> f;
    std::vector<std::unique_ptr<fixture<>::entity>> entities;
    for (int p = 0; p < accel::sched_priority_count; ++p)
        entities.push_back(std::make_unique<fixture<>::entity>(f.sched, static_cast<sched_priority>(p)));
    mock_job* job = nullptr;
    std::vector<mock_job*> jobs;
    for (unsigned i = 0; i < 100; ++i) {
        job = submit(*entities[i % entities.size()], {.duration = 1000us});
        jobs.push_back(job);
    }
    for (mock_job* j : jobs) {
        REQUIRE(finished(j));
        CHECK(j->finished()->status() == 1);
    }
    for (auto& e : entities)
        e->destroy();
}

TEST_CASE("sched: drm_sched_change_priority: priorities change under load") {
    fixture<> f;
    std::vector<std::unique_ptr<fixture<>::entity>> entities;
    for (int p = 0; p < accel::sched_priority_count; ++p)
        entities.push_back(std::make_unique<fixture<>::entity>(f.sched, static_cast<sched_priority>(p)));
    std::vector<mock_job*> jobs;
    for (unsigned i = 0; i < 1000; ++i)
        jobs.push_back(submit(*entities[i % entities.size()], {.duration = 1000us}));
    const auto deadline = std::chrono::steady_clock::now() + 4 * long_wait;
    unsigned cur = 0;
    bool all_done = false;
    while (std::chrono::steady_clock::now() < deadline) {
        all_done = true;
        for (mock_job* j : jobs)
            all_done = all_done && j->finished()->is_signaled();
        if (all_done)
            break;
        auto& e = *entities[cur];
        e.set_priority(static_cast<sched_priority>((static_cast<int>(e.priority()) + 1) % accel::sched_priority_count));
        cur = (cur + 1) % entities.size();
        std::this_thread::sleep_for(300us);
    }
    REQUIRE(all_done);
    for (mock_job* j : jobs)
        CHECK(j->finished()->status() == 1);
    for (auto& e : entities)
        e->destroy();
}

TEST_CASE("sched: drm_sched_test_credits: with a credit limit of 1, job 2 waits for job 1") {
    fixture<> f(accel::sched_config{.name = "drm-mock-scheduler", .credit_limit = 1});
    fixture<>::entity e(f.sched);
    f.st.engine.hang();
    mock_job* j0 = submit(e);
    mock_job* j1 = submit(e);
    REQUIRE(scheduled(j0));
    CHECK_FALSE(scheduled(j1, 300ms)); // no credits until job 1 completes
    CHECK(f.sched.credit_count() == 1);
    CHECK(f.st.engine.advance(1) == 1);
    REQUIRE(scheduled(j1));
    CHECK(f.st.engine.advance(1) == 1);
    REQUIRE(finished(j1));
    CHECK(f.st.wait_for([&] { return f.st.frees == 2; }));
    CHECK(f.sched.credit_count() == 0);
    e.destroy();
}

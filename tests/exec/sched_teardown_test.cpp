// SPDX-License-Identifier: MIT
// Going away: entity flush and kill at file close (KERNEL-EXEC.md 1.8), pushing to a killed
// entity, and scheduler teardown with jobs pending (1.9), with and without cancel_job. ASan/LSan
// runs of this file check that nothing leaks and no callback is left on a fence.
#include "sched_mock.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

using namespace sched_test;

namespace {
accel::sched_config config(std::uint32_t credit_limit) {
    return {.name = "ring0", .credit_limit = credit_limit, .hang_limit = 1};
}
} // namespace

TEST_CASE("sched kill: queued jobs get -ESRCH after the running one, the running one finishes") {
    fixture<> f(config(1));
    f.st.engine.hang();
    fixture<>::entity e(f.sched), other(f.sched);
    mock_job* running = submit(e, {.tag = 1});
    REQUIRE(scheduled(running));
    mock_job* q1 = submit(e, {.tag = 2});
    mock_job* q2 = submit(e, {.tag = 3});
    mock_job* bystander = submit(other, {.tag = 4});
    e.kill(); // does not wait for anything
    CHECK(e.killed());
    // Chained behind the last job that ran: nothing is signalled before it finishes.
    CHECK_FALSE(finished(q1, 200ms));
    CHECK(f.st.engine.advance(1) == 1);
    REQUIRE(finished(running));
    CHECK(running->finished()->status() == 1);
    REQUIRE(finished(q2));
    for (mock_job* q : {q1, q2}) {
        CHECK(q->scheduled()->is_signaled());
        CHECK(q->finished()->error() == -ESRCH);
        CHECK(q->runs == 0);
        CHECK(q->finished()->timestamp() >= running->finished()->timestamp());
    }
    CHECK(f.st.wait_for([&] { return q1->freed && q2->freed; }));
    // The other entity is untouched.
    REQUIRE(scheduled(bystander));
    CHECK(f.st.engine.advance(1) == 1);
    CHECK(finished(bystander));
    CHECK(bystander->finished()->status() == 1);
    other.destroy();
}

TEST_CASE("sched kill: a queued job waits for its dependencies first, the caller does not") {
    fixture<> f(config(4));
    fixture<>::entity e(f.sched);
    fence_ptr gate = accel::make_fence(accel::fence_context_alloc(), 1);
    mock_job* blocked = submit(e, {.deps = {gate}});
    mock_job* behind = submit(e);
    CHECK_FALSE(scheduled(blocked, 100ms));
    e.kill();
    CHECK_FALSE(finished(blocked, 200ms)); // it waits for `gate`; `behind` waits for it
    CHECK_FALSE(behind->finished()->is_signaled());
    gate->signal();
    REQUIRE(finished(blocked));
    REQUIRE(finished(behind));
    CHECK(blocked->finished()->error() == -ESRCH);
    CHECK(behind->finished()->error() == -ESRCH);
    CHECK(blocked->runs == 0);
    CHECK(f.st.wait_for([&] { return f.st.frees == 2; }));
}

TEST_CASE("sched kill: a scheduled-fence dependency is upgraded to the finished fence") {
    fixture<> f(config(4));
    f.st.engine.hang();
    fixture<>::entity a(f.sched), b(f.sched);
    mock_job* upstream = submit(a);
    REQUIRE(scheduled(upstream));
    fence_ptr gate = accel::make_fence(accel::fence_context_alloc(), 1);
    // Held by `gate`, then (had it run) only by upstream's scheduled fence.
    mock_job* j = submit(b, {.deps = {gate, upstream->scheduled()}});
    b.kill();
    gate->signal();
    CHECK_FALSE(finished(j, 200ms)); // waits for upstream to *finish*
    CHECK(f.st.engine.advance(1) == 1);
    REQUIRE(finished(j));
    CHECK(j->finished()->error() == -ESRCH);
    a.destroy();
}

TEST_CASE("sched kill: pushing to a killed entity fails the job with -ESRCH (accel's rule)") {
    fixture<> f(config(4));
    fixture<>::entity e(f.sched);
    e.kill();
    e.kill(); // idempotent
    mock_job* j = submit(e);
    REQUIRE(finished(j));
    CHECK(j->finished()->error() == -ESRCH);
    CHECK(j->scheduled()->is_signaled());
    CHECK(j->runs == 0);
    CHECK(f.st.wait_for([&] { return j->freed.load(); }));
}

TEST_CASE("sched flush: waits for the queue to drain, at most the timeout") {
    fixture<> f(config(1));
    f.st.engine.hang();
    fixture<>::entity e(f.sched);
    mock_job* first = submit(e);
    REQUIRE(scheduled(first));
    mock_job* second = submit(e);
    CHECK(e.flush(100ms) == 0ns); // `second` is still queued
    CHECK(f.st.engine.advance(1) == 1);
    CHECK(e.flush(long_wait) > 0ns); // popped once `first` gave its credit back
    REQUIRE(scheduled(second));       // (signalled once its run_job returned)
    CHECK(f.st.engine.advance(1) == 1);
    CHECK(finished(second));
    e.destroy();
}

TEST_CASE("sched entity: destroyed while its job runs, the job finishes and is freed") {
    fixture<> f(config(1));
    f.st.engine.hang();
    mock_job* j = nullptr;
    {
        fixture<>::entity e(f.sched);
        j = submit(e);
        REQUIRE(scheduled(j));
        CHECK(e.runtime_ns() >= 0);
    }
    CHECK(f.st.engine.advance(1) == 1);
    REQUIRE(finished(j));
    CHECK(j->finished()->status() == 1);
    CHECK(f.st.wait_for([&] { return j->freed.load(); }));
    CHECK(f.sched.busy_ns() > 0);
}

TEST_CASE("sched fini: pending jobs get cancel_job newest first, queued jobs -ECANCELED, kill chains -ESRCH") {
    fence_ptr gate = accel::make_fence(accel::fence_context_alloc(), 1);
    std::vector<fence_ptr> hw;
    std::vector<fence_ptr> finished_fences;
    {
        fixture<> f(config(2));
        f.st.engine.hang();
        fixture<>::entity e(f.sched), killed(f.sched);
        mock_job* p1 = submit(e, {.tag = 1});
        mock_job* p2 = submit(e, {.tag = 2});
        mock_job* queued = submit(e, {.tag = 3});
        mock_job* waiting = submit(killed, {.tag = 4, .deps = {gate}});
        REQUIRE(scheduled(p2));
        killed.kill(); // `waiting` now waits for `gate` in the kill chain
        for (mock_job* j : {p1, p2})
            hw.push_back(j->hw());
        for (mock_job* j : {p1, p2, queued, waiting})
            finished_fences.push_back(j->finished());

        f.sched.fini();
        CHECK(f.st.cancel_order == std::vector<int>{2, 1});
        CHECK(hw[0]->error() == -ECANCELED);
        CHECK(hw[1]->error() == -ECANCELED);
        CHECK(p1->finished()->error() == -ECANCELED);
        CHECK(p2->finished()->error() == -ECANCELED);
        CHECK(queued->finished()->error() == -ECANCELED);
        CHECK(queued->runs == 0);
        CHECK(waiting->finished()->error() == -ESRCH);
        CHECK(f.st.frees == 4);
        CHECK_FALSE(f.sched.ready());
        CHECK(e.sched() == nullptr); // detached
        mock_job late;
        CHECK(late.init(e, 1) == -ENOENT);
    }
    for (fence_ptr& fin : finished_fences)
        CHECK(fin->is_signaled());
    gate->signal(); // no callback of the scheduler is left on it (ASan would see one)
}

TEST_CASE("sched fini: without cancel_job nothing leaks, jobs complete with -ECANCELED") {
    fence_ptr hw;
    mock_job* j = nullptr;
    {
        fixture<mock_ops_base> f(config(1));
        f.st.engine.hang();
        fixture<mock_ops_base>::entity e(f.sched);
        j = submit(e);
        mock_job* queued = submit(e);
        REQUIRE(scheduled(j));
        hw = j->hw();
        f.sched.fini();
        CHECK(j->finished()->error() == -ECANCELED);
        CHECK(queued->finished()->error() == -ECANCELED);
        CHECK(f.st.frees == 2);
        CHECK_FALSE(hw->is_signaled()); // the hardware's own business now
    }
    CHECK(hw->is_signaled()); // the engine's destructor; no scheduler callback ran on it
}

TEST_CASE("sched fini: a job whose hardware fence the driver leaves unsignalled is completed anyway") {
    struct lazy_cancel : mock_ops {
        void cancel_job(mock_job& j) {
            ++st->cancels;
            j.cancelled = true; // and forgets to signal the hardware fence
        }
    };
    static_assert(accel::sched_ops_has_cancel_job<lazy_cancel>);
    mock_state st;
    {
        accel::scheduler<lazy_cancel> s(lazy_cancel{{{&st}}}, config(1));
        accel::sched_entity<lazy_cancel> e(s);
        st.engine.hang();
        auto job = std::make_unique<mock_job>();
        REQUIRE(job->init(e, 1) == 0);
        job->arm();
        mock_job* j = job.get();
        e.push(std::move(job));
        REQUIRE(scheduled(j));
        s.fini();
        CHECK(j->cancelled);
        CHECK(j->finished()->error() == -ECANCELED);
        CHECK(st.frees == 1);
    }
}

TEST_CASE("sched fini: after stop() without start(), detached jobs are cancelled and credits settle") {
    fixture<> f(config(4));
    f.st.engine.hang();
    fixture<>::entity e(f.sched);
    mock_job* a = submit(e);
    mock_job* b = submit(e);
    REQUIRE(scheduled(b));
    f.sched.stop(nullptr);
    CHECK(f.sched.credit_count() == 0);
    f.sched.fini();
    CHECK(a->finished()->error() == -ECANCELED);
    CHECK(b->finished()->error() == -ECANCELED);
    CHECK(a->cancelled);
    CHECK(f.st.frees == 2);
    CHECK(f.sched.credit_count() == 0);
}

namespace {
// Holds its fence's lock (a signal runs callbacks under it) until released.
struct holding_cb : accel::fence_cb {
    std::atomic<bool> entered{false}, release{false};
    static void run(accel::fence&, accel::fence_cb& cb) noexcept {
        auto& h = static_cast<holding_cb&>(cb);
        h.entered = true;
        while (!h.release)
            std::this_thread::sleep_for(1ms);
    }
};
} // namespace

TEST_CASE("sched fini: an entity destroyed while fini drops its lock for the entity's dependency is kept until fini lets go of it") {
    // fini's first loop unlocks around remove_callback() of a blocked entity's dependency. An
    // entity destroyed then (its file closing during an unplug) must not be freed under it.
    fixture<> f(config(4));
    fence_ptr dep = accel::make_fence(accel::fence_context_alloc(), 1);
    holding_cb hold;
    REQUIRE(dep->add_callback(hold, &holding_cb::run) == 0); // first on the list: runs first
    auto e = std::make_unique<fixture<>::entity>(f.sched);
    mock_job* job = submit(*e, {.tag = 1, .deps = {dep}});
    // The worker blocks the entity on `dep`: it takes a reference (entity.dependency_), then
    // adds its callback right after.
    REQUIRE(eventually([&] { return dep->use_count() == 3; }));
    std::this_thread::sleep_for(50ms);
    std::thread signaller([&] { dep->signal(); }); // holds dep's lock inside `hold`
    REQUIRE(eventually([&] { return hold.entered.load(); }));
    std::thread finisher([&] { f.sched.fini(); }); // stops the entity, unlocks, blocks on dep's lock
    REQUIRE(eventually([&] { return e->killed(); }));
    std::atomic<bool> destroyed{false};
    std::thread closer([&] {
        e.reset();
        destroyed = true;
    });
    std::this_thread::sleep_for(100ms);
    CHECK_FALSE(destroyed.load()); // waits for fini to let go of the entity
    hold.release = true;
    signaller.join();
    finisher.join();
    closer.join();
    CHECK(destroyed.load());
    CHECK(job->finished()->error() == -ECANCELED);
}

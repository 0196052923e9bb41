// SPDX-License-Identifier: MIT
// Jobs: init and arm (credits, fences, ids) and dependencies: de-duplication when added, and how
// they are resolved when the job reaches its entity's head (KERNEL-EXEC.md 1.3-1.6).
#include "sched_mock.hpp"

#include <accel/base/fault_injection.hpp>

#include <doctest/doctest.h>

using namespace sched_test;

namespace {
accel::sched_config config(std::uint32_t credit_limit = 4) {
    return {.name = "ring0", .credit_limit = credit_limit, .hang_limit = 1};
}
} // namespace

TEST_CASE("sched job: init checks credits and the entity, arm gives ids and the fence pair") {
    fence_ptr keep;
    {
        fixture<> f(config(2));
        fixture<>::entity e(f.sched);
        mock_job zero;
        CHECK(zero.init(e, 0) == -EINVAL);
        mock_job big;
        REQUIRE(big.init(e, 5) == 0);
        CHECK(big.credits() == 2); // truncated to the limit
        CHECK_FALSE(big.armed());
        CHECK(big.finished() == nullptr);
        // Never armed: the job may simply go away (drm_sched_job_cleanup).

        auto a = std::make_unique<mock_job>();
        auto b = std::make_unique<mock_job>();
        REQUIRE(a->init(e, 1) == 0);
        REQUIRE(b->init(e, 1) == 0);
        a->arm();
        b->arm();
        CHECK(a->init(e, 1) == -EBUSY);
        CHECK(b->id() == a->id() + 1);
        CHECK(a->scheduled()->context() == e.fence_context());
        CHECK(a->finished()->context() == e.fence_context() + 1);
        CHECK(a->scheduled()->seqno() == a->finished()->seqno());
        CHECK(b->finished()->seqno() == a->finished()->seqno() + 1);
        CHECK(b->finished()->is_later(*a->finished()));
        CHECK(a->finished()->driver_name() == "drm_sched");
        CHECK(a->finished()->timeline_name() == "ring0");
        CHECK(a->scheduled()->timeline_name() == "ring0");
        CHECK(a->priority() == accel::sched_priority::normal);
        keep = a->finished();
        e.push(std::move(a));
        e.push(std::move(b));
        REQUIRE(keep->wait(long_wait) == 0);
        e.destroy();
        mock_job late;
        f.sched.fini();
        CHECK(late.init(e, 1) == -ENOENT); // the entity is detached from a torn-down scheduler
    }
    CHECK(keep->timeline_name() == "ring0"); // the name outlives the scheduler
}

TEST_CASE("sched job: dependencies are de-duplicated per context, keeping the later fence") {
    fixture<> f(config());
    fixture<>::entity e(f.sched);
    auto j = std::make_unique<mock_job>();
    REQUIRE(j->init(e, 1) == 0);
    const auto c = accel::fence_context_alloc(2);
    fence_ptr s1 = accel::make_fence(c, 1), s3 = accel::make_fence(c, 3), s2 = accel::make_fence(c, 2);
    fence_ptr other = accel::make_fence(c + 1, 7);
    CHECK(j->add_dependency(nullptr) == 0);
    CHECK(j->dependencies().empty());
    CHECK(j->add_dependency(s1) == 0);
    CHECK(j->add_dependency(s3) == 0);
    CHECK(j->add_dependency(s2) == 0);
    CHECK(j->add_dependency(other) == 0);
    REQUIRE(j->dependencies().size() == 2);
    CHECK(j->dependencies()[0] == s3);
    CHECK(j->dependencies()[1] == other);

    accel::fail_nth_allocation(1);
    CHECK(j->add_dependency(accel::make_fence(c + 5, 1)) == -ENOMEM);
    accel::disarm_allocation_faults();
    CHECK(j->dependencies().size() == 2);

    j->arm();
    mock_job* raw = j.get();
    e.push(std::move(j));
    CHECK(raw->add_dependency(accel::make_fence(c + 6, 1)) == -EBUSY);
    for (auto& d : {s1, s2, s3, other})
        d->signal();
    CHECK(finished(raw));
    e.destroy();
}

TEST_CASE("sched job: implicit dependencies from a reservation object follow the usage rules") {
    fixture<> f(config());
    fixture<>::entity e(f.sched);
    const auto c = accel::fence_context_alloc(4);
    fence_ptr kernel = accel::make_fence(c, 1), writer = accel::make_fence(c + 1, 1);
    fence_ptr reader = accel::make_fence(c + 2, 1), bookkeep = accel::make_fence(c + 3, 1);
    accel::dma_resv resv;
    REQUIRE(resv.lock(nullptr) == 0);
    REQUIRE(resv.reserve_fences(4) == 0);
    REQUIRE(resv.add_fence(kernel, accel::resv_usage::kernel) == 0);
    REQUIRE(resv.add_fence(writer, accel::resv_usage::write) == 0);
    REQUIRE(resv.add_fence(reader, accel::resv_usage::read) == 0);
    REQUIRE(resv.add_fence(bookkeep, accel::resv_usage::bookkeep) == 0);

    auto deps_of = [&](bool write) {
        auto j = std::make_unique<mock_job>();
        REQUIRE(j->init(e, 1) == 0);
        REQUIRE(j->add_implicit_dependencies(resv, write) == 0);
        std::vector<accel::fence*> d;
        for (const auto& x : j->dependencies())
            d.push_back(x.get());
        return d;
    };
    // A reader waits for the kernel's and the writers' fences; a writer for the readers' too;
    // nobody for bookkeeping fences (explicit sync).
    CHECK(deps_of(false) == std::vector<accel::fence*>{kernel.get(), writer.get()});
    CHECK(deps_of(true) == std::vector<accel::fence*>{kernel.get(), writer.get(), reader.get()});

    accel::fail_nth_allocation(2);
    auto j = std::make_unique<mock_job>();
    REQUIRE(j->init(e, 1) == 0);
    CHECK(j->add_implicit_dependencies(resv, true) == -ENOMEM);
    accel::disarm_allocation_faults();
    resv.unlock();
    for (auto& x : {kernel, writer, reader, bookkeep})
        x->signal();
    e.destroy();
}

TEST_CASE("sched job: init fails with -ENOMEM when its fences cannot be reserved") {
    fixture<> f(config());
    fixture<>::entity e(f.sched);
    mock_job j;
    accel::fail_nth_allocation(1);
    CHECK(j.init(e, 1) == -ENOMEM);
    accel::disarm_allocation_faults();
    CHECK(j.init(e, 1) == 0);
}

TEST_CASE("sched deps: a finished fence of the same scheduler is awaited only until scheduled") {
    fixture<> f(config());
    fixture<>::entity a(f.sched), b(f.sched);
    f.st.engine.hang();
    mock_job* first = submit(a, {.tag = 1});
    mock_job* second = submit(b, {.tag = 2, .deps = {first->finished()}});
    REQUIRE(scheduled(second)); // pipelined behind `first` on the same ring
    CHECK_FALSE(first->finished()->is_signaled());
    CHECK(f.st.engine.advance(2) == 2);
    CHECK(finished(second));
    a.destroy();
    b.destroy();
}

TEST_CASE("sched deps: fences of the job's own entity are ignored") {
    fixture<> f(config());
    fixture<>::entity a(f.sched);
    f.st.engine.hang();
    mock_job* first = submit(a);
    mock_job* second = submit(a, {.deps = {first->finished(), first->scheduled()}});
    REQUIRE(scheduled(second));
    CHECK_FALSE(first->finished()->is_signaled());
    CHECK(f.st.engine.advance(2) == 2);
    CHECK(finished(second));
    a.destroy();
}

TEST_CASE("sched deps: a same-scheduler fence with an error is awaited until it signals") {
    fixture<> f(config());
    fixture<>::entity bad(f.sched), b(f.sched);
    bad.set_guilty(true); // its jobs get -ECANCELED on finished when popped, before running
    f.st.engine.hang();
    mock_job* first = submit(bad);
    REQUIRE(scheduled(first));
    CHECK(first->finished()->error() == -ECANCELED);
    CHECK(first->runs == 1); // run_job is still called
    mock_job* second = submit(b, {.deps = {first->finished()}});
    CHECK_FALSE(scheduled(second, 300ms));
    CHECK(f.st.engine.advance(1) == 1);
    REQUIRE(scheduled(second));
    CHECK(first->finished()->error() == -ECANCELED);
    CHECK(f.st.engine.advance(1) == 1);
    CHECK(finished(second));
    CHECK(second->finished()->status() == 1);
    bad.destroy();
    b.destroy();
}

TEST_CASE("sched deps: a fence of another scheduler is awaited until it signals") {
    fixture<> f1(config()), f2(config());
    fixture<>::entity e1(f1.sched), e2(f2.sched);
    f1.st.engine.hang();
    mock_job* upstream = submit(e1);
    REQUIRE(scheduled(upstream));
    mock_job* downstream = submit(e2, {.deps = {upstream->finished()}});
    CHECK_FALSE(scheduled(downstream, 300ms));
    CHECK(f1.st.engine.advance(1) == 1);
    REQUIRE(finished(downstream));
    CHECK(downstream->finished()->status() == 1);
    CHECK(downstream->finished()->timestamp() >= upstream->finished()->timestamp());
    e1.destroy();
    e2.destroy();
}

TEST_CASE("sched deps: a plain fence holds the job, it then runs on the worker") {
    fixture<> f(config());
    fixture<>::entity e(f.sched);
    fence_ptr gate = accel::make_fence(accel::fence_context_alloc(), 1);
    fence_ptr done = accel::signaled_stub();
    mock_job* j = submit(e, {.deps = {gate, done}});
    CHECK_FALSE(scheduled(j, 300ms));
    CHECK(j->runs == 0);
    gate->signal();
    REQUIRE(finished(j));
    CHECK(j->run_thread.load() != std::this_thread::get_id());
    // A later job of the same entity waited behind it (FIFO inside an entity).
    e.destroy();
}

// SPDX-License-Identifier: MIT
// sim_engine: the simulated hardware the scheduler tests and the example driver run on.
#include <accel/exec/sim_hw.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using accel::fence_ptr;

namespace {
constexpr auto long_wait = 20s;

// Records the thread a fence's callbacks run on (the "interrupt").
struct thread_probe : accel::fence_cb {
    std::atomic<std::thread::id> id{};
    void attach(accel::fence& f) {
        REQUIRE(f.add_callback(*this, [](accel::fence&, accel::fence_cb& cb) noexcept {
            static_cast<thread_probe&>(cb).id = std::this_thread::get_id();
        }) == 0);
    }
};
} // namespace

TEST_CASE("sim_engine: work runs in order on the engine thread, which signals the fences") {
    accel::sim_engine eng;
    std::vector<int> order;
    std::atomic<std::thread::id> work_thread{};
    std::vector<fence_ptr> fences;
    eng.hang(); // so the probes are attached before anything completes
    thread_probe probe;
    for (int i = 0; i < 5; ++i)
        fences.push_back(eng.submit([&, i] {
            order.push_back(i); // only the engine thread touches it until the fences signal
            work_thread = std::this_thread::get_id();
            return 0;
        }));
    probe.attach(*fences.back());
    CHECK(fences.front()->context() == eng.context());
    CHECK(fences.back()->is_later(*fences.front()));
    eng.resume();
    for (auto& f : fences)
        REQUIRE(f->wait(long_wait) == 0);
    CHECK(order == std::vector<int>{0, 1, 2, 3, 4});
    CHECK(work_thread.load() != std::this_thread::get_id());
    CHECK(probe.id.load() == work_thread.load());
    CHECK(fences.back()->status() == 1);
}

TEST_CASE("sim_engine: a work's error and fail_next reach the fence") {
    accel::sim_engine eng;
    fence_ptr a = eng.submit([] { return -EIO; });
    REQUIRE(a->wait(long_wait) == 0);
    CHECK(a->error() == -EIO);
    eng.fail_next(-EFAULT);
    fence_ptr b = eng.submit([] { return 0; });
    fence_ptr c = eng.submit(nullptr);
    REQUIRE(c->wait(long_wait) == 0);
    CHECK(b->error() == -EFAULT);
    CHECK(c->status() == 1);
}

TEST_CASE("sim_engine: hang holds jobs until advance lets them through") {
    accel::sim_engine eng;
    eng.hang();
    fence_ptr a = eng.submit(nullptr), b = eng.submit(nullptr), c = eng.submit(nullptr);
    CHECK(a->wait(100ms) == -ETIME);
    CHECK(eng.in_flight() == 3);
    CHECK(eng.advance(2) == 2);
    CHECK(a->is_signaled());
    CHECK(b->is_signaled());
    CHECK_FALSE(c->is_signaled());
    CHECK(eng.advance(5) == 1);
    CHECK(c->is_signaled());
    CHECK(eng.advance(1) == 0);
}

TEST_CASE("sim_engine: duration and delay make jobs take time") {
    accel::sim_engine eng;
    eng.set_delay(20ms);
    const auto t0 = std::chrono::steady_clock::now();
    fence_ptr f = eng.submit(nullptr, 30ms);
    REQUIRE(f->wait(long_wait) == 0);
    CHECK(std::chrono::steady_clock::now() - t0 >= 50ms);
}

TEST_CASE("sim_engine: reset aborts the running and the queued jobs") {
    accel::sim_engine eng;
    std::atomic<bool> started{false};
    fence_ptr running = eng.submit([&] {
        started = true;
        return 0;
    }, 10s); // would take 10 s
    fence_ptr queued = eng.submit(nullptr);
    while (!started)
        std::this_thread::yield();
    CHECK(eng.reset(-ETIMEDOUT) == 2);
    CHECK(running->error() == -ETIMEDOUT);
    CHECK(queued->error() == -ETIMEDOUT);
    CHECK(eng.resets() == 1);
    // The engine works on after a reset.
    fence_ptr next = eng.submit(nullptr);
    REQUIRE(next->wait(long_wait) == 0);
    CHECK(next->status() == 1);

    eng.hang();
    fence_ptr held = eng.submit(nullptr);
    std::vector<fence_ptr> taken = eng.reset_and_take(); // the caller decides
    REQUIRE(taken.size() == 1);
    CHECK(taken[0] == held);
    CHECK_FALSE(held->is_signaled());
    held->signal();
}

TEST_CASE("sim_engine: cancel drops one job, the destructor signals what is left") {
    fence_ptr a, b;
    {
        accel::sim_engine eng;
        eng.hang();
        a = eng.submit(nullptr);
        b = eng.submit(nullptr);
        CHECK(eng.cancel(a, -ECANCELED));
        CHECK(a->error() == -ECANCELED);
        CHECK_FALSE(eng.cancel(a)); // already gone
        CHECK_FALSE(b->is_signaled());
    }
    CHECK(b->is_signaled());
    CHECK(b->error() == -ECANCELED);
}

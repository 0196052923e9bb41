// SPDX-License-Identifier: MIT
// The scheduler tests' driver (the KUnit mock scheduler's role, tests/mock_scheduler.c): jobs
// run on a sim_engine; the ops record what the scheduler asked of them, and freed jobs are kept
// until the test ends so that a test may look at a job after the scheduler let it go.
#pragma once
#include <accel/exec/scheduler.hpp>
#include <accel/exec/sim_hw.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace sched_test {

using namespace std::chrono_literals;
using accel::fence_ptr;

// Bounds for what must happen: generous, since a loaded 2-core CI (or TSan) is slow. Nothing
// waits this long when the code is right; tests that check that something does NOT happen use
// short waits on conditions that cannot become true by themselves.
inline constexpr auto long_wait = 20s;

struct mock_job : accel::sched_job {
    std::chrono::nanoseconds duration{}; // on the engine
    int tag = 0;                         // what run_order records
    bool dont_reset = false;             // timedout_job answers no_hang

    std::atomic<int> runs{0};
    std::atomic<int> timeouts{0};
    std::atomic<bool> timedout{false};
    std::atomic<std::int64_t> timedout_at{0};
    std::atomic<bool> freed{false};
    std::atomic<bool> cancelled{false};
    std::atomic<std::thread::id> run_thread{};

    fence_ptr hw() const {
        std::lock_guard g(m);
        return hw_;
    }
    void set_hw(fence_ptr f) {
        std::lock_guard g(m);
        hw_ = std::move(f);
    }

private:
    mutable std::mutex m;
    fence_ptr hw_;
};

struct mock_state {
    accel::sim_engine engine;
    std::mutex m;
    std::condition_variable cv;
    std::vector<int> run_order;
    std::vector<int> cancel_order;
    std::vector<std::unique_ptr<mock_job>> freed; // the graveyard
    std::atomic<int> frees{0};
    std::atomic<int> freed_unfinished{0}; // free_job before the finished fence signalled: a bug
    std::atomic<int> cancels{0};
    std::atomic<int> timeouts{0};
    // When set, timedout_job calls it instead of the KUnit mock's handling.
    std::function<accel::timeout_status(mock_job&)> on_timeout;

    void notify() {
        std::lock_guard g(m);
        cv.notify_all();
    }
    // Waits (bounded) for a condition the ops make true.
    template <class Pred>
    bool wait_for(Pred pred, std::chrono::nanoseconds t = long_wait) {
        std::unique_lock lk(m);
        return cv.wait_for(lk, t, pred);
    }
    std::vector<int> order() {
        std::lock_guard g(m);
        return run_order;
    }
    ~mock_state() { CHECK(freed_unfinished == 0); }
};

// Without cancel_job (drm_sched before 6.17).
struct mock_ops_base {
    using job_type = mock_job;
    mock_state* st;

    accel::result<fence_ptr> run_job(mock_job& j) {
        j.run_thread = std::this_thread::get_id();
        fence_ptr hw = st->engine.make_fence();
        j.set_hw(hw);
        st->engine.submit(nullptr, hw, j.duration);
        {
            std::lock_guard g(st->m);
            st->run_order.push_back(j.tag);
            ++j.runs;
            st->cv.notify_all();
        }
        return hw;
    }
    accel::timeout_status timedout_job(mock_job& j) {
        ++j.timeouts;
        ++st->timeouts;
        st->notify();
        if (st->on_timeout)
            return st->on_timeout(j);
        if (j.dont_reset)
            return accel::timeout_status::no_hang;
        // mock_sched_timedout_job: the hardware fence ends with -ETIMEDOUT, no stop/start.
        j.timedout_at = accel::monotonic_ns();
        j.timedout = true;
        st->engine.cancel(j.hw(), -ETIMEDOUT);
        return accel::timeout_status::reset;
    }
    void free_job(mock_job* j) {
        if (!j->finished()->is_signaled())
            ++st->freed_unfinished;
        j->freed = true;
        std::lock_guard g(st->m);
        st->freed.emplace_back(j);
        ++st->frees;
        st->cv.notify_all();
    }
};

struct mock_ops : mock_ops_base {
    void cancel_job(mock_job& j) {
        ++st->cancels;
        j.cancelled = true;
        {
            std::lock_guard g(st->m);
            st->cancel_order.push_back(j.tag);
        }
        if (fence_ptr hw = j.hw())
            st->engine.cancel(hw, -ECANCELED);
    }
};

static_assert(accel::sched_ops<mock_ops>);
static_assert(accel::sched_ops_has_cancel_job<mock_ops>);
static_assert(accel::sched_ops<mock_ops_base> && !accel::sched_ops_has_cancel_job<mock_ops_base>);

// The state first: it outlives the scheduler, whose teardown still calls the ops.
template <class Ops = mock_ops>
struct fixture {
    using entity = accel::sched_entity<Ops>;
    mock_state st;
    accel::scheduler<Ops> sched;

    explicit fixture(accel::sched_config cfg) : sched(Ops{{&st}}, cfg) {}
    fixture() : fixture(accel::sched_config{.name = "drm-mock-scheduler", .credit_limit = UINT32_MAX, .hang_limit = 1}) {}
};

struct job_args {
    std::chrono::nanoseconds duration{};
    int tag = 0;
    std::vector<fence_ptr> deps{};
    std::uint32_t credits = 1;
    bool dont_reset = false;
};

// init -> add dependencies -> arm -> push; the job stays readable after it is freed.
template <class Ops>
mock_job* submit(accel::sched_entity<Ops>& e, job_args a = {}) {
    auto j = std::make_unique<mock_job>();
    j->duration = a.duration;
    j->tag = a.tag;
    j->dont_reset = a.dont_reset;
    REQUIRE(j->init(e, a.credits) == 0);
    for (fence_ptr& d : a.deps)
        REQUIRE(j->add_dependency(std::move(d)) == 0);
    j->arm();
    mock_job* raw = j.get();
    e.push(std::move(j));
    return raw;
}

// Polls a condition nothing signals (a scheduler-internal state), within long_wait.
template <class Pred>
bool eventually(Pred pred) {
    const auto deadline = std::chrono::steady_clock::now() + long_wait;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > deadline)
            return false;
        std::this_thread::sleep_for(1ms);
    }
    return true;
}

inline bool scheduled(const mock_job* j, std::chrono::nanoseconds t = long_wait) { return j->scheduled()->wait(t) == 0; }
inline bool finished(const mock_job* j, std::chrono::nanoseconds t = long_wait) { return j->finished()->wait(t) == 0; }

} // namespace sched_test

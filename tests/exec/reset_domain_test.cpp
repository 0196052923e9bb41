// SPDX-License-Identifier: MIT
// exec/reset_domain: the framework's reset and hang recovery, on a small test device (a driver
// local to this file, registered in an accel::subsystem) with two schedulers over simulated
// engines in one domain: blame, resubmit or cancel, failure and MALFUNCTION, requests joining a
// recovery, concurrency with clients and repeated resets, teardown during a recovery, and
// ACCEL_IOCTL_RESET through the mock backend.
#include <accel/accel.hpp>
#include <accel/exec/reset_domain.hpp>
#include <accel/exec/scheduler.hpp>
#include <accel/exec/sim_hw.hpp>
#include <accel/uapi/accel_reset.h>

#include <doctest/doctest.h>

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using accel::fence_ptr;

// Bounds for what must happen, generous for a loaded 2-core CI under TSan; nothing waits this
// long when the code is right. Checks that something does NOT happen use short waits.
constexpr auto long_wait = 20s;
constexpr auto short_wait = 300ms;

template <class Pred>
bool eventually(Pred pred, std::chrono::nanoseconds t = long_wait) {
    const auto deadline = std::chrono::steady_clock::now() + t;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > deadline)
            return false;
        std::this_thread::sleep_for(1ms);
    }
    return true;
}

// A one-shot gate a driver callback waits at (bounded, so a broken test cannot hang).
struct gate {
    std::mutex m;
    std::condition_variable cv;
    bool open = false;
    int waiting = 0;
    void wait() {
        std::unique_lock lk(m);
        ++waiting;
        cv.notify_all();
        cv.wait_for(lk, long_wait, [&] { return open; });
    }
    bool entered(int n = 1) {
        std::unique_lock lk(m);
        return cv.wait_for(lk, long_wait, [&] { return waiting >= n; });
    }
    void release() {
        std::lock_guard g(m);
        open = true;
        cv.notify_all();
    }
};

struct tracker;

// What a test knows of one job, kept outside the job (the scheduler frees jobs): a callback on
// its finished fence counts the signals.
struct record : accel::fence_cb {
    tracker* owner = nullptr;
    int tag = 0;
    fence_ptr scheduled;
    fence_ptr finished;
    std::atomic<int> signals{0};
    std::atomic<int> runs{0};     // run_job put it on the hardware
    std::atomic<int> skipped{0};  // run_job saw its error and did not run it again
    std::atomic<int> timeouts{0}; // timedout_job was called for it
    std::atomic<int> frees{0};

    int error() const { return finished->error(); }
    bool done(std::chrono::nanoseconds t = long_wait) const { return finished->wait(t) == 0; }
    bool on_hw(std::chrono::nanoseconds t = long_wait) const { return scheduled->wait(t) == 0; }
};

struct tracker {
    std::mutex m;
    std::deque<record> records; // stable addresses
    std::atomic<int> pushed{0};
    std::atomic<int> signalled{0};
    std::atomic<int> freed{0};

    record& add(int tag) {
        std::lock_guard g(m);
        record& r = records.emplace_back();
        r.owner = this;
        r.tag = tag;
        return r;
    }
    static void on_finished(accel::fence&, accel::fence_cb& cb) noexcept {
        auto& r = static_cast<record&>(cb);
        ++r.signals;
        ++r.owner->signalled;
    }
    bool all_freed() { return eventually([&] { return freed == pushed; }); }
    // Every job pushed: signalled once, freed once.
    void check_exactly_once() {
        std::lock_guard g(m);
        int bad_signals = 0, bad_frees = 0;
        for (record& r : records) {
            bad_signals += r.signals != 1;
            bad_frees += r.frees != 1;
        }
        CHECK(bad_signals == 0);
        CHECK(bad_frees == 0);
        CHECK(signalled == pushed);
        CHECK(freed == pushed);
    }
};

// ---- the test device: two engines, a scheduler on each, one reset domain over both ----

struct rd_state;

struct rd_job : accel::sched_job {
    record* rec = nullptr;
    std::chrono::nanoseconds duration{};
    bool block_run = false;  // run_job waits at rd_state::run_gate first
    bool block_free = false; // free_job waits at rd_state::free_gate first
    bool keep = false;       // free_job keeps the object (rd_state::graveyard) instead of deleting it
};

struct rd_ops {
    using job_type = rd_job;
    rd_state* st = nullptr;
    unsigned index = 0;

    accel::result<fence_ptr> run_job(rd_job& j);
    accel::timeout_status timedout_job(rd_job& j);
    void free_job(rd_job* j);
    void cancel_job(rd_job& j);
};
using sched_t = accel::scheduler<rd_ops>;
using entity_t = accel::sched_entity<rd_ops>;

struct rd_config {
    accel::reset_policy policy = accel::reset_policy::resubmit;
    std::array<std::optional<std::chrono::nanoseconds>, 2> timeout{};
    std::uint32_t credit_limit = 4;
    bool fast_path = true;
    bool fini_in_remove = true;
};

struct rd_state {
    explicit rd_state(const rd_config& c) : cfg(c) {}

    rd_config cfg;
    accel::device_base* dev = nullptr;
    // Destroyed in reverse: the domain first, then the schedulers, then the engines they use.
    std::array<accel::sim_engine, 2> engines;
    std::array<std::unique_ptr<sched_t>, 2> scheds;
    std::unique_ptr<accel::reset_domain> domain;

    // Test hooks, set before anything can call them.
    std::function<void()> on_reset;                                        // inside the hw reset
    std::function<accel::timeout_status(rd_job&, unsigned)> on_timeout;    // replaces job_timed_out
    gate run_gate, free_gate;

    std::atomic<int> hw_resets{0};
    std::atomic<int> in_reset_seen{0};     // hw resets that saw the status IN_RESET
    std::atomic<int> fail_next_reset{0};   // the next hw reset returns it
    std::atomic<int> timeouts{0};
    std::atomic<int> freed_unsignalled{0}; // free_job before the finished fence signalled: a bug
    std::atomic<bool> removing{false};
    std::mutex graveyard_m;
    std::vector<std::unique_ptr<rd_job>> graveyard;

    // The driver's hardware reset: the engines drop what they hold (and forget a hang).
    int hw_reset() {
        ++hw_resets;
        if (dev->status().state() == ACCEL_STATE_IN_RESET)
            ++in_reset_seen;
        if (on_reset)
            on_reset();
        for (accel::sim_engine& e : engines)
            e.reset(-ECANCELED);
        return fail_next_reset.exchange(0);
    }
};

accel::result<fence_ptr> rd_ops::run_job(rd_job& j) {
    // A job that already carries an error (the blamed job being resubmitted) is not run again.
    if (j.finished()->error()) {
        ++j.rec->skipped;
        return fence_ptr();
    }
    if (j.block_run)
        st->run_gate.wait();
    accel::sim_engine& e = st->engines[index];
    fence_ptr hw = e.make_fence();
    e.submit(nullptr, hw, j.duration);
    ++j.rec->runs;
    return hw;
}

accel::timeout_status rd_ops::timedout_job(rd_job& j) {
    ++j.rec->timeouts;
    ++st->timeouts;
    if (st->on_timeout)
        return st->on_timeout(j, index);
    return st->domain->job_timed_out(j);
}

void rd_ops::free_job(rd_job* j) {
    if (!j->finished()->is_signaled())
        ++st->freed_unsignalled;
    if (j->block_free)
        st->free_gate.wait();
    record* r = j->rec;
    if (j->keep) {
        std::lock_guard g(st->graveyard_m);
        if (r->frees == 0) // (a second free_job of one job is counted, not deleted twice)
            st->graveyard.emplace_back(j);
    } else {
        delete j;
    }
    ++r->frees;
    ++r->owner->freed;
}

void rd_ops::cancel_job(rd_job& j) {
    if (fence_ptr hw = j.parent())
        st->engines[index].cancel(hw, -ECANCELED);
}

struct rd_driver {
    static constexpr accel::driver_info info{1, 0, 0, "rdtest", "reset_domain test device", "20260101"};
    using device_data = rd_state;
    struct file_data {};
    using ioctls = accel::ioctl_table<>;

    static int probe(accel::device<rd_driver>& d) {
        rd_state& st = d.data();
        st.dev = &d;
        for (unsigned i = 0; i < 2; ++i) {
            accel::sched_config cfg{.name = i ? "ring1" : "ring0",
                                    .credit_limit = st.cfg.credit_limit,
                                    .timeout = st.cfg.timeout[i],
                                    .fast_path = st.cfg.fast_path};
            st.scheds[i] = std::make_unique<sched_t>(rd_ops{&st, i}, cfg);
        }
        st.domain = std::make_unique<accel::reset_domain>(d, st.cfg.policy, [&st] { return st.hw_reset(); });
        for (auto& s : st.scheds)
            st.domain->add(*s);
        return 0;
    }
    // Unplug: no reset after this; every job ends, every fence signals.
    static void remove(accel::device<rd_driver>& d) {
        d->removing = true;
        if (d->domain && d->cfg.fini_in_remove)
            d->domain->fini();
    }
};

// A registered test device and the records of the jobs pushed to it.
struct rig {
    tracker t; // first: the records' callbacks sit on fences until the end
    accel::subsystem sub;
    accel::device<rd_driver>::ref dev;
    accel::registration reg;

    explicit rig(const rd_config& c = {}) {
        auto d = accel::device<rd_driver>::create(c);
        REQUIRE(d);
        dev = *d;
        auto r = sub.register_device(dev);
        REQUIRE(r);
        reg = std::move(*r);
    }
    ~rig() { reg.reset(); }

    rd_state& st() { return dev->data(); }
    accel::reset_domain& domain() { return *st().domain; }
    sched_t& sched(unsigned i) { return *st().scheds[i]; }
    accel::sim_engine& engine(unsigned i) { return st().engines[i]; }
    accel::device_status& status() { return dev->status(); }
    std::uint64_t resets() { return status().reset_count(); }
    bool operational() {
        return eventually([&] { return status().state() == ACCEL_STATE_OPERATIONAL; });
    }
};

struct job_args {
    int tag = 0;
    std::chrono::nanoseconds duration{};
    bool block_run = false;
    bool block_free = false;
    bool keep = false;
};

struct pushed_job {
    record* rec = nullptr;
    rd_job* job = nullptr; // valid until freed
};

// init -> arm -> callback on the finished fence -> push. No assertions: any thread may call it.
pushed_job push(tracker& t, entity_t& e, job_args a = {}) {
    auto j = std::make_unique<rd_job>();
    record& rec = t.add(a.tag);
    j->rec = &rec;
    j->duration = a.duration;
    j->block_run = a.block_run;
    j->block_free = a.block_free;
    j->keep = a.keep;
    if (j->init(e, 1) != 0)
        return {};
    j->arm();
    rec.scheduled = j->scheduled();
    rec.finished = j->finished();
    if (rec.finished->add_callback(rec, &tracker::on_finished) != 0)
        return {};
    ++t.pushed;
    rd_job* raw = j.get();
    e.push(std::move(j));
    return {&rec, raw};
}

record* submit(rig& r, entity_t& e, job_args a = {}) {
    pushed_job p = push(r.t, e, a);
    REQUIRE(p.rec != nullptr);
    return p.rec;
}

std::string policy_name(accel::reset_policy p) { return p == accel::reset_policy::resubmit ? "resubmit" : "cancel"; }

} // namespace

// ---------------------------------------------------------------------------------------------

TEST_CASE("reset_domain: a hung job is blamed (-ETIMEDOUT), the other jobs on the hardware run again or end -ECANCELED, jobs queued meanwhile run after") {
    for (accel::reset_policy policy : {accel::reset_policy::resubmit, accel::reset_policy::cancel}) {
        CAPTURE(policy_name(policy));
        // No timer: the timeout handler fires with fault() once every job is on the hardware, so
        // that a slow machine cannot time a job out early or late.
        rig r(rd_config{.policy = policy});
        entity_t a0(r.sched(0)), b0(r.sched(0)), a1(r.sched(1)), q0(r.sched(0)), q1(r.sched(1));
        r.engine(0).hang();
        r.engine(1).hang();
        record* hung = submit(r, a0, {.tag = 1});
        record* same = submit(r, b0, {.tag = 2});  // behind it on the same engine
        record* other = submit(r, a1, {.tag = 3}); // on the other scheduler of the domain
        REQUIRE(hung->on_hw());
        REQUIRE(same->on_hw());
        REQUIRE(other->on_hw());
        std::atomic<record*> queued0{nullptr}, queued1{nullptr};
        std::atomic<int> state_in_reset{-1};
        r.st().on_reset = [&] { // the recovery thread, during the driver's reset: submissions wait
            state_in_reset = r.domain().in_reset();
            queued0 = push(r.t, q0, {.tag = 4}).rec;
            queued1 = push(r.t, q1, {.tag = 5}).rec;
        };
        const std::uint64_t before = r.resets();

        r.sched(0).fault();
        REQUIRE(hung->done());
        CHECK(hung->error() == -ETIMEDOUT);
        CHECK(hung->timeouts == 1);
        CHECK(hung->runs == 1); // never run again
        REQUIRE(same->done());
        REQUIRE(other->done());
        REQUIRE(eventually([&] { return queued0 && queued1; }));
        REQUIRE(queued0.load()->done());
        REQUIRE(queued1.load()->done());
        if (policy == accel::reset_policy::resubmit) {
            CHECK(hung->skipped == 1); // resubmitted, and the driver's run_job saw its error
            CHECK(same->error() == 0);
            CHECK(other->error() == 0);
            CHECK(same->runs == 2); // run again after the reset
            CHECK(other->runs == 2);
        } else {
            CHECK(hung->skipped == 0);
            CHECK(same->error() == -ECANCELED);
            CHECK(other->error() == -ECANCELED);
            CHECK(same->runs == 1);
            CHECK(other->runs == 1);
        }
        CHECK(queued0.load()->error() == 0);
        CHECK(queued1.load()->error() == 0);
        CHECK(queued0.load()->runs == 1);
        CHECK(queued1.load()->runs == 1);
        CHECK(state_in_reset == 1); // IN_RESET during the driver's reset
        CHECK(r.st().in_reset_seen == 1);
        CHECK(r.operational());
        CHECK(eventually([&] { return r.resets() == before + 1; }));
        CHECK(r.st().hw_resets == 1);
        CHECK(r.domain().recoveries() == 1);
        CHECK(r.t.all_freed());
        r.t.check_exactly_once();
        CHECK(r.sched(0).credit_count() == 0);
        CHECK(r.sched(1).credit_count() == 0);
        CHECK(r.st().freed_unsignalled == 0);
        // Afterwards the engines work: the reset ended their hang.
        record* after = submit(r, a0, {.tag = 6});
        REQUIRE(after->done());
        CHECK(after->error() == 0);
    }
}

TEST_CASE("reset_domain: the scheduler's own timer times a hung job out") {
    rig r(rd_config{.timeout = {50ms, std::nullopt}});
    entity_t e(r.sched(0));
    r.engine(0).hang();
    const std::uint64_t before = r.resets();
    record* hung = submit(r, e);
    REQUIRE(hung->done());
    CHECK(hung->error() == -ETIMEDOUT);
    CHECK(r.operational());
    CHECK(eventually([&] { return r.resets() == before + 1; }));
    record* next = submit(r, e);
    REQUIRE(next->done());
    CHECK(next->error() == 0);
    CHECK(r.t.all_freed());
    r.t.check_exactly_once();
}

TEST_CASE("reset_domain: a failed hardware reset leaves MALFUNCTION, the jobs on the hardware end -EIO, a later reset brings the device back") {
    rig r;
    entity_t a0(r.sched(0)), b0(r.sched(0)), a1(r.sched(1));
    r.engine(0).hang();
    r.engine(1).hang();
    record* hung = submit(r, a0);
    record* same = submit(r, b0);
    record* other = submit(r, a1);
    REQUIRE(other->on_hw());
    REQUIRE(same->on_hw());
    const std::uint64_t before = r.resets();
    r.st().fail_next_reset = -ENXIO; // any error of the driver's reset
    r.sched(0).fault();
    REQUIRE(hung->done());
    REQUIRE(same->done());
    REQUIRE(other->done());
    CHECK(hung->error() == -ETIMEDOUT); // blamed before the reset was tried
    CHECK(same->error() == -EIO);
    CHECK(other->error() == -EIO);
    CHECK(same->runs == 1);
    CHECK(eventually([&] { return r.status().state() == ACCEL_STATE_MALFUNCTION; }));
    CHECK(eventually([&] { return r.domain().recoveries() == 1; }));
    CHECK(r.resets() == before); // a failed reset is not counted
    CHECK(r.st().in_reset_seen == 1);

    // A requested reset that succeeds: OPERATIONAL again, counted, jobs run.
    CHECK(r.domain().request_reset() == 0);
    CHECK(r.operational());
    CHECK(eventually([&] { return r.resets() == before + 1; }));
    CHECK(r.st().hw_resets == 2);
    record* next = submit(r, a1);
    REQUIRE(next->done());
    CHECK(next->error() == 0);
    CHECK(r.t.all_freed());
    r.t.check_exactly_once();
}

TEST_CASE("reset_domain: request_reset() without a guilty job resubmits or cancels every job on the hardware") {
    for (accel::reset_policy policy : {accel::reset_policy::resubmit, accel::reset_policy::cancel}) {
        CAPTURE(policy_name(policy));
        rig r(rd_config{.policy = policy});
        entity_t e0(r.sched(0)), e1(r.sched(1));
        r.engine(0).hang();
        r.engine(1).hang();
        std::vector<record*> jobs;
        for (int i = 0; i < 3; ++i) {
            jobs.push_back(submit(r, e0, {.tag = i}));
            jobs.push_back(submit(r, e1, {.tag = 10 + i}));
        }
        for (record* j : jobs)
            REQUIRE(j->on_hw());
        const std::uint64_t before = r.resets();
        CHECK(r.domain().request_reset() == 0);
        for (record* j : jobs) {
            REQUIRE(j->done());
            CAPTURE(j->tag);
            CHECK(j->timeouts == 0);
            if (policy == accel::reset_policy::resubmit) {
                CHECK(j->error() == 0);
                CHECK(j->runs == 2);
            } else {
                CHECK(j->error() == -ECANCELED);
                CHECK(j->runs == 1);
            }
        }
        CHECK(r.operational());
        CHECK(eventually([&] { return r.resets() == before + 1; }));
        CHECK(r.st().hw_resets == 1);
        CHECK(r.t.all_freed());
        r.t.check_exactly_once();
    }
}

TEST_CASE("reset_domain: two schedulers time out at once: both hung jobs are blamed, by one reset") {
    rig r;
    entity_t e0(r.sched(0)), e1(r.sched(1)), i0(r.sched(0)), i1(r.sched(1));
    r.engine(0).hang();
    r.engine(1).hang();
    record* hung0 = submit(r, e0);
    record* hung1 = submit(r, e1);
    record* innocent0 = submit(r, i0);
    record* innocent1 = submit(r, i1);
    REQUIRE(innocent0->on_hw());
    REQUIRE(innocent1->on_hw());
    // ring0's handler blames its job and then waits until ring1's handler has blamed its own: the
    // two timeouts overlap whatever the recovery thread does meanwhile.
    std::atomic<bool> blamed1{false};
    r.st().on_timeout = [&](rd_job& j, unsigned index) {
        const accel::timeout_status s = r.domain().job_timed_out(j);
        if (index == 1)
            blamed1 = true;
        else
            eventually([&] { return blamed1.load(); });
        return s;
    };
    const std::uint64_t before = r.resets();
    r.sched(0).fault();
    REQUIRE(eventually([&] { return hung0->timeouts == 1; }));
    r.sched(1).fault();
    REQUIRE(hung0->done());
    REQUIRE(hung1->done());
    REQUIRE(innocent0->done());
    REQUIRE(innocent1->done());
    CHECK(hung0->error() == -ETIMEDOUT);
    CHECK(hung1->error() == -ETIMEDOUT);
    CHECK(hung1->runs == 1);
    CHECK(innocent0->error() == 0);
    CHECK(innocent1->error() == 0);
    CHECK(innocent0->runs == 2);
    CHECK(innocent1->runs == 2);
    CHECK(r.operational());
    CHECK(eventually([&] { return r.resets() == before + 1; }));
    CHECK_FALSE(eventually([&] { return r.st().hw_resets > 1; }, short_wait));
    CHECK(r.domain().recoveries() == 1);
    CHECK(r.t.all_freed());
    r.t.check_exactly_once();
}

TEST_CASE("reset_domain: a second timeout of the hung job while the recovery stops the schedulers joins it") {
    // ring0's worker is inside run_job (held at a gate) when the recovery starts, so stopping
    // ring0 waits; meanwhile ring1's timer fires again on the same hung job.
    rig r(rd_config{.timeout = {std::nullopt, 100ms}, .fast_path = false});
    entity_t e0(r.sched(0)), e1(r.sched(1));
    record* busy = submit(r, e0, {.block_run = true});
    REQUIRE(r.st().run_gate.entered());
    r.engine(1).hang();
    const std::uint64_t before = r.resets();
    record* hung = submit(r, e1);
    REQUIRE(eventually([&] { return hung->timeouts >= 2; }));
    r.st().run_gate.release();
    REQUIRE(hung->done());
    REQUIRE(busy->done());
    CHECK(hung->error() == -ETIMEDOUT);
    CHECK(busy->error() == 0);
    CHECK(r.operational());
    CHECK(eventually([&] { return r.resets() == before + 1; }));
    CHECK_FALSE(eventually([&] { return r.st().hw_resets > 1; }, short_wait));
    CHECK(r.resets() == before + 1);
    CHECK(r.domain().recoveries() == 1);
    CHECK(r.t.all_freed());
    r.t.check_exactly_once();
}

TEST_CASE("reset_domain: requests while a recovery stops the schedulers join it, one during the hardware reset gets its own") {
    SUBCASE("while stopping: joined") {
        rig r(rd_config{.fast_path = false});
        entity_t e0(r.sched(0));
        record* busy = submit(r, e0, {.block_run = true});
        REQUIRE(r.st().run_gate.entered());
        const std::uint64_t before = r.resets();
        CHECK(r.domain().request_reset() == 0);
        std::this_thread::sleep_for(100ms); // the recovery is waiting to stop ring0
        CHECK(r.domain().request_reset() == 0);
        CHECK(r.domain().request_reset() == 0);
        r.st().run_gate.release();
        REQUIRE(busy->done());
        CHECK(r.operational());
        CHECK(eventually([&] { return r.resets() == before + 1; }));
        CHECK_FALSE(eventually([&] { return r.st().hw_resets > 1; }, short_wait));
        CHECK(r.domain().recoveries() == 1);
    }
    SUBCASE("during the hardware reset: one more") {
        rig r;
        std::atomic<int> calls{0};
        r.st().on_reset = [&] {
            if (calls++ == 0)
                CHECK(r.domain().request_reset() == 0);
        };
        const std::uint64_t before = r.resets();
        CHECK(r.domain().request_reset() == 0);
        CHECK(eventually([&] { return r.resets() == before + 2; }));
        CHECK(r.operational());
        CHECK(r.st().hw_resets == 2);
    }
}

TEST_CASE("reset_domain: the blamed job completes and is freed just before the recovery stops its scheduler") {
    // Widens a race of the timeout path: the job the recovery blames completes and the free work
    // frees it while the recovery is about to stop its scheduler. `keep` leaves the freed object
    // readable, so that a scheduler handed the stale job would show it by freeing it twice.
    rig r;
    entity_t e(r.sched(0));
    r.engine(0).hang();
    record* first = submit(r, e, {.block_free = true});
    pushed_job blamed = push(r.t, e, {.keep = true});
    REQUIRE(blamed.rec);
    REQUIRE(blamed.rec->on_hw());
    CHECK(r.engine(0).advance(2) == 2);
    REQUIRE(first->done());
    REQUIRE(blamed.rec->done());
    REQUIRE(r.st().free_gate.entered()); // the free work is held at `first`; `blamed` is next
    const std::uint64_t before = r.resets();
    CHECK(r.domain().job_timed_out(*blamed.job) == accel::timeout_status::reset);
    REQUIRE(eventually([&] { return r.domain().in_reset(); }));
    std::this_thread::sleep_for(100ms); // the recovery waits to stop ring0
    r.st().free_gate.release();
    CHECK(r.operational());
    CHECK(eventually([&] { return r.resets() == before + 1; }));
    CHECK(r.t.all_freed());
    CHECK_FALSE(eventually([&] { return blamed.rec->frees > 1; }, short_wait));
    CHECK(blamed.rec->error() == 0); // it completed before it was blamed
    r.t.check_exactly_once();
}

TEST_CASE("reset_domain: 8 clients submit while resets are requested repeatedly and a job hangs") {
    for (accel::reset_policy policy : {accel::reset_policy::resubmit, accel::reset_policy::cancel}) {
        CAPTURE(policy_name(policy));
        constexpr int clients = 8;
        constexpr int max_jobs = 400;  // per client
        constexpr int in_flight = 8;   // per client
        rig r(rd_config{.policy = policy, .timeout = {200ms, 200ms}});
        std::vector<std::unique_ptr<entity_t>> entities;
        for (int i = 0; i < clients; ++i)
            entities.push_back(std::make_unique<entity_t>(r.sched(i % 2)));
        std::atomic<bool> stop{false};
        std::atomic<int> push_failures{0};
        std::vector<std::thread> threads;
        for (int c = 0; c < clients; ++c)
            threads.emplace_back([&, c] {
                std::deque<record*> mine;
                for (int n = 0; n < max_jobs && !stop; ++n) {
                    if (mine.size() >= in_flight) { // keep a few in flight
                        mine.front()->done();
                        mine.pop_front();
                    }
                    pushed_job p = push(r.t, *entities[c], {.tag = c * 1000 + n, .duration = std::chrono::microseconds(n % 3 * 20)});
                    if (!p.rec) {
                        ++push_failures;
                        break;
                    }
                    mine.push_back(p.rec);
                    if (n % 16 == 0)
                        std::this_thread::yield();
                }
            });
        std::thread resetter([&] {
            for (int i = 0; i < 40 && !stop; ++i) {
                CHECK(r.domain().request_reset() == 0);
                std::this_thread::sleep_for(2ms);
                if (i == 20) { // a hang in the middle: no requested reset until the timer fired
                    const int t0 = r.st().timeouts;
                    const auto deadline = std::chrono::steady_clock::now() + long_wait;
                    while (r.st().timeouts == t0 && std::chrono::steady_clock::now() < deadline) {
                        r.engine(0).hang(); // again, should a reset under way have ended it
                        eventually([&] { return r.st().timeouts != t0; }, 50ms);
                    }
                    CHECK(r.st().timeouts > t0);
                }
            }
        });
        resetter.join();
        stop = true;
        for (std::thread& t : threads)
            t.join();
        CHECK(push_failures == 0);
        // Nothing lost: every fence signals, every job is freed, once.
        CHECK(eventually([&] { return r.t.signalled == r.t.pushed; }));
        CHECK(r.t.all_freed());
        r.t.check_exactly_once();
        int ok = 0, timedout = 0, cancelled = 0, other = 0, timedout_unblamed = 0;
        {
            std::lock_guard g(r.t.m);
            for (record& rec : r.t.records) {
                const int e = rec.error();
                if (e == 0)
                    ++ok;
                else if (e == -ETIMEDOUT) {
                    ++timedout;
                    timedout_unblamed += rec.timeouts == 0; // only a job its scheduler timed out
                } else if (e == -ECANCELED)
                    ++cancelled;
                else
                    ++other;
            }
        }
        MESSAGE(policy_name(policy), ": ", r.t.pushed.load(), " jobs: ", ok, " ok, ", timedout, " timed out, ",
                cancelled, " cancelled; ", r.domain().recoveries(), " recoveries");
        CHECK(timedout >= 1);
        CHECK(timedout_unblamed == 0);
        CHECK(other == 0);
        if (policy == accel::reset_policy::resubmit)
            CHECK(cancelled == 0);
        CHECK(r.st().freed_unsignalled == 0);
        CHECK(r.operational());
        CHECK(r.domain().recoveries() >= 2);
        entities.clear();
    }
}

TEST_CASE("reset_domain: fini() during a recovery, with jobs on the hardware and queued: no hang, every fence signalled, every job freed") {
    for (accel::reset_policy policy : {accel::reset_policy::resubmit, accel::reset_policy::cancel}) {
        CAPTURE(policy_name(policy));
        rig r(rd_config{.policy = policy});
        entity_t e0(r.sched(0)), e1(r.sched(1)), q0(r.sched(0)), q1(r.sched(1));
        r.engine(0).hang();
        r.engine(1).hang();
        std::vector<record*> jobs;
        for (int i = 0; i < 3; ++i) {
            jobs.push_back(submit(r, e0));
            jobs.push_back(submit(r, e1));
        }
        for (record* j : jobs)
            REQUIRE(j->on_hw());
        gate in_reset;
        r.st().on_reset = [&] {
            for (int i = 0; i < 3; ++i) { // queued behind the reset
                push(r.t, q0);
                push(r.t, q1);
            }
            in_reset.wait();
        };
        r.sched(0).fault();
        REQUIRE(in_reset.entered());
        std::atomic<bool> removed{false};
        std::thread unplug([&] {
            r.reg.reset(); // remove() -> fini(): waits for the recovery under way
            removed = true;
        });
        REQUIRE(eventually([&] { return r.st().removing.load(); }));
        CHECK_FALSE(eventually([&] { return removed.load(); }, 100ms));
        in_reset.release();
        unplug.join();
        CHECK(r.t.pushed == 12);
        CHECK(r.t.signalled == r.t.pushed); // fini() returned: everything ended
        CHECK(r.t.all_freed());
        r.t.check_exactly_once();
        std::lock_guard g(r.t.m);
        for (record& rec : r.t.records) {
            const int e = rec.error();
            CHECK((e == 0 || e == -ETIMEDOUT || e == -ECANCELED));
        }
        CHECK(r.st().hw_resets == 1);
        CHECK(r.domain().request_reset() == -ENODEV);
    }
}

TEST_CASE("reset_domain: remove() while a scheduler's worker is inside timedout_job") {
    rig r;
    entity_t e(r.sched(0));
    r.engine(0).hang();
    record* hung = submit(r, e);
    record* behind = submit(r, e);
    REQUIRE(behind->on_hw());
    gate handler;
    std::atomic<int> answer{-1};
    r.st().on_timeout = [&](rd_job& j, unsigned) {
        handler.wait();
        const accel::timeout_status s = r.domain().job_timed_out(j);
        answer = static_cast<int>(s);
        return s;
    };
    r.sched(0).fault();
    REQUIRE(handler.entered());
    std::thread unplug([&] { r.reg.reset(); });
    REQUIRE(eventually([&] { return r.st().removing.load(); }));
    std::this_thread::sleep_for(50ms); // most likely inside fini() by now; either order must work
    handler.release();
    unplug.join();
    REQUIRE(hung->done(0ns));
    REQUIRE(behind->done(0ns));
    // Either fini() was first (ENODEV, no recovery: teardown cancels) or the recovery ran first.
    CHECK((answer == static_cast<int>(accel::timeout_status::enodev) ||
           answer == static_cast<int>(accel::timeout_status::reset)));
    if (answer == static_cast<int>(accel::timeout_status::enodev)) {
        CHECK(hung->error() == -ECANCELED);
        CHECK(r.st().hw_resets == 0);
    }
    CHECK(r.t.all_freed());
    r.t.check_exactly_once();
    CHECK(r.st().freed_unsignalled == 0);
}

TEST_CASE("reset_domain: after fini() nothing resets: job_timed_out answers ENODEV, request_reset -ENODEV, the device -EOPNOTSUPP") {
    rig r;
    entity_t e(r.sched(0));
    r.engine(0).hang();
    record* j = submit(r, e);
    REQUIRE(j->on_hw());
    r.domain().fini();
    CHECK(r.domain().request_reset() == -ENODEV);
    CHECK(r.status().request_reset() == -EOPNOTSUPP);
    REQUIRE(j->done(0ns)); // the schedulers were torn down with the domain
    CHECK(j->error() == -ECANCELED);
    r.domain().fini(); // idempotent
    CHECK(r.st().hw_resets == 0);
    CHECK(r.t.all_freed());
    r.t.check_exactly_once();
}

TEST_CASE("reset_domain: destroying the device tears the domain down even when remove() did not") {
    rig r(rd_config{.fini_in_remove = false});
    std::optional<entity_t> e0, e1; // gone before the schedulers
    e0.emplace(r.sched(0));
    e1.emplace(r.sched(1));
    r.engine(0).hang();
    r.engine(1).hang();
    record* a = submit(r, *e0);
    record* b = submit(r, *e1);
    REQUIRE(a->on_hw());
    REQUIRE(b->on_hw());
    CHECK(r.domain().request_reset() == 0); // a recovery may be under way when the device goes
    r.reg.reset();
    e0.reset();
    e1.reset();
    r.dev.reset(); // the last reference: device_data goes, the domain (fini) before the schedulers
    REQUIRE(a->done(0ns));
    REQUIRE(b->done(0ns));
    CHECK((a->error() == 0 || a->error() == -ECANCELED));
    CHECK(r.t.freed == r.t.pushed);
    r.t.check_exactly_once();
}

TEST_CASE("reset_domain: ACCEL_IOCTL_RESET through the mock backend") {
    rig r;
    accel::backend::mock m{r.sub};
    const std::string node = std::string(m.root()) + "/" + accel::node_name(accel::node_kind::compute, r.reg.minor());
    accel::backend::mock::identity root({0, ::getpid(), true});
    const int fd = m.open(node, O_RDWR);
    REQUIRE(fd >= 0);
    entity_t e(r.sched(0));
    r.engine(0).hang();
    record* j = submit(r, e);
    REQUIRE(j->on_hw());
    const std::uint64_t before = r.resets();

    accel_reset_request rr{ACCEL_RESET_WAIT, 0};
    CHECK(m.ioctl(fd, ACCEL_IOCTL_RESET, &rr) == 0);
    CHECK(r.st().hw_resets == 1); // the reset ran before the answer
    CHECK(r.resets() == before + 1);
    CHECK(r.status().state() == ACCEL_STATE_OPERATIONAL);
    REQUIRE(j->done());
    CHECK(j->error() == 0);
    CHECK(j->runs == 2);

    r.st().fail_next_reset = -EIO;
    CHECK(m.ioctl(fd, ACCEL_IOCTL_RESET, &rr) == -EIO);
    CHECK(r.status().state() == ACCEL_STATE_MALFUNCTION);
    CHECK(r.resets() == before + 1);
    CHECK(r.st().hw_resets == 2);

    // From MALFUNCTION, a reset that works: 0 once it ran, not the state it started from.
    CHECK(m.ioctl(fd, ACCEL_IOCTL_RESET, &rr) == 0);
    CHECK(r.st().hw_resets == 3);
    CHECK(r.resets() == before + 2);
    CHECK(r.status().state() == ACCEL_STATE_OPERATIONAL);

    rr.flags = 0; // returns once started
    CHECK(m.ioctl(fd, ACCEL_IOCTL_RESET, &rr) == 0);
    CHECK(eventually([&] { return r.resets() == before + 3; }));

    {
        accel::backend::mock::identity nobody({65534, 4242, false});
        const int u = m.open(node, O_RDWR);
        REQUIRE(u >= 0);
        rr.flags = ACCEL_RESET_WAIT;
        CHECK(m.ioctl(u, ACCEL_IOCTL_RESET, &rr) == -EACCES);
        CHECK(m.close(u) == 0);
    }
    CHECK(r.operational());
    CHECK(r.st().hw_resets == 4);
    CHECK(m.close(fd) == 0);
    CHECK(r.t.all_freed());
    r.t.check_exactly_once();
}

// SPDX-License-Identifier: MIT
// Device-level execution behaviour of the vdnn driver, on the mock (the tests reach into the
// device: its status, its simulated engines, its reset hook):
//   - a hang: the job's timeout fires, the framework resets the device; the hung job ends
//     VDNN_STATUS_TIMEOUT, the reset is counted, the innocent jobs on the hardware and in the
//     queues complete (resubmit policy) or end CANCELLED (cancel policy);
//   - a failing reset leaves the device MALFUNCTION (SUBMIT -EIO; VERSION, INFO and close
//     work), and ACCEL_IOCTL_RESET brings it back (also with ACCEL_RESET_WAIT);
//   - eight clients submitting during a reset: every job ends exactly once;
//   - a non-blocking file's SUBMIT during a reset gets -EAGAIN;
//   - file close with jobs queued and running, and unplug with jobs queued, running and a WAIT
//     parked: nothing runs that should not, every fence signals, nothing leaks or hangs;
//   - implicit sync through the objects a job names only.
// A reset "in progress" is held deterministically: reset_gate blocks the recovery thread in
// its first step (the status change to IN_RESET wakes the gate) until the test releases it.
// The job timeout's timer ends the hung job in the failed-reset and non-blocking cases; where
// innocent jobs sit on held engines, the device's timeout is "never" and the test fires the
// scheduler's timeout handler itself (fault(), as drm_sched_fault), so that no innocent job can
// reach a timeout of its own however loaded the machine is.
#include "vdnn_driver_fixtures.hpp"
#include "vdnn_driver_util.hpp"

#include <accel/core/wait_queue.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <future>
#include <map>
#include <mutex>
#include <fstream>
#include <string>
#include <sys/resource.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace vdnn;
using namespace vdnn::dtest;
using B = accel::backend::mock;

namespace {

device_config config(std::chrono::milliseconds timeout, accel::reset_policy policy = accel::reset_policy::resubmit) {
    device_config c;
    c.debug_hang = true;
    c.job_timeout = timeout;
    c.policy = policy;
    return c;
}

/// Holds the device's next recovery right after it set the status to IN_RESET (before it stops
/// the schedulers), until release().
class reset_gate {
public:
    explicit reset_gate(accel::device_status& st) : st_(&st), entry_(new entry(st)) { st.changed().add(*entry_); }
    ~reset_gate() {
        release();
        st_->changed().remove(*entry_);
        entry_->put();
    }
    reset_gate(const reset_gate&) = delete;
    reset_gate& operator=(const reset_gate&) = delete;

    /// Whether a recovery is being held (waits up to `limit` for one to arrive).
    bool held(std::chrono::milliseconds limit = std::chrono::seconds(60)) {
        std::unique_lock l(entry_->m);
        return entry_->cv.wait_for(l, limit, [&] { return entry_->holding; });
    }
    void release() {
        std::lock_guard l(entry_->m);
        entry_->open = true;
        entry_->cv.notify_all();
    }

private:
    struct entry final : accel::wait_entry {
        explicit entry(accel::device_status& s) : st(&s) {}
        void wake() noexcept override {
            if (st->state() != ACCEL_STATE_IN_RESET)
                return;
            std::unique_lock l(m);
            if (used)
                return;
            used = holding = true;
            cv.notify_all();
            cv.wait(l, [&] { return open; });
            holding = false;
        }
        accel::device_status* st;
        std::mutex m;
        std::condition_variable cv;
        bool used = false, holding = false, open = false;
    };
    accel::device_status* st_;
    entry* entry_;
};

/// Polls `pred` until it holds (what a test cannot wait for by an event: a job reaching a
/// simulated engine); false after `limit`.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = std::chrono::seconds(60)) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > end)
            return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}

/// A device whose job timeout is far beyond any test: its timeout handler runs when the test
/// fires it (fire_timeout), so that no innocent job held on an engine can reach its own
/// timeout on a loaded machine.
constexpr std::chrono::milliseconds never{600'000};

/// Fires engine `e`'s timeout handler now (drm_sched_fault: the scheduler's TDR, as when its
/// timer expires) once its oldest job is on the engine.
void fire_timeout(mock_device& md, unsigned e) {
    REQUIRE(eventually([&] { return md.state().engines[e]->hw.in_flight() >= 1; }));
    md.state().engines[e]->sched->fault();
}

bool all_bytes(const client_buffer& b, u64 from, u64 n, int value) {
    for (u64 i = from; i < from + n; ++i)
        if (b.as<unsigned char>()[i] != value)
            return false;
    return true;
}

int reset_ioctl(session<B>& s, u32 flags) {
    accel_reset_request r{flags, 0};
    return s.ioctl(ACCEL_IOCTL_RESET, &r);
}

/// The records of every job of every open file (to check their fences after a teardown).
std::vector<std::shared_ptr<job_record>> all_records(device& d) {
    std::vector<std::shared_ptr<job_record>> out;
    d.for_each_file([&](const accel::file_base& fb) {
        if (fb.kind() != accel::node_kind::compute)
            return;
        const auto& st = *static_cast<const file&>(fb).data().st;
        std::lock_guard lock(const_cast<std::mutex&>(st.mutex));
        for (const auto& [seq, rec] : st.jobs)
            out.push_back(rec);
    });
    return out;
}

} // namespace

// ---- hang, timeout, reset --------------------------------------------------------------------------

TEST_CASE("hang: the hung job ends TIMEOUT, the reset is counted, innocent jobs on the hardware and queued complete (resubmit)") {
    mock_device md(config(never));
    auto& c = md.client();
    session<B> a(c, md.node()), b(c, md.node());
    client_buffer& x = b.bound(4 * page, VDNN_REGION_DRAM, VDNN_BIND_READ | VDNN_BIND_WRITE, 0);
    client_buffer& y = b.bound(4 * page, VDNN_REGION_HOST, VDNN_BIND_READ | VDNN_BIND_WRITE, 0);
    client_buffer& z = b.bound(4 * page, VDNN_REGION_SRAM, VDNN_BIND_READ | VDNN_BIND_WRITE, 0);
    reset_gate gate(md.dev->status());

    const u64 hung = a.run(VDNN_ENGINE_COMPUTE0, hang_stream(), {}, {}, true, 0xdead);
    const u64 behind = b.run(VDNN_ENGINE_COMPUTE0, one(fill_cmd(x.va, page, 0x01010101)), {x.handle}); // on the ring behind it
    fire_timeout(md, VDNN_ENGINE_COMPUTE0);
    REQUIRE(gate.held());
    CHECK(status_of(c, a.fd()).state == ACCEL_STATE_IN_RESET);
    // Jobs on the other engines' hardware when the recovery stops them: the engines are held
    // (they start nothing) until the hardware reset.
    md.state().engines[VDNN_ENGINE_COMPUTE1]->hw.hang();
    md.state().engines[VDNN_ENGINE_DMA]->hw.hang();
    const u64 on1 = b.run(VDNN_ENGINE_COMPUTE1, one(fill_cmd(y.va, page, 0x02020202)), {y.handle});
    const u64 on2 = b.run(VDNN_ENGINE_DMA, one(fill_cmd(z.va, page, 0x03030303)), {z.handle});
    REQUIRE(eventually([&] {
        return md.state().engines[VDNN_ENGINE_COMPUTE1]->hw.in_flight() == 1 && md.state().engines[VDNN_ENGINE_DMA]->hw.in_flight() == 1;
    }));
    // And jobs queued behind those, on the same objects.
    const u64 q1 = b.run(VDNN_ENGINE_COMPUTE1, one(fill_cmd(y.va + page, page, 0x04040404)), {y.handle});
    const u64 q2 = b.run(VDNN_ENGINE_DMA, one(fill_cmd(z.va + page, page, 0x05050505)), {z.handle});
    gate.release();

    vdnn_wait w = a.wait_job(hung);
    CHECK(w.status == VDNN_STATUS_TIMEOUT);
    CHECK(w.error == -ETIMEDOUT);
    const auto ev = a.events(1);
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].seqno == hung);
    CHECK(ev[0].user_data == 0xdead);
    CHECK(ev[0].status == VDNN_STATUS_TIMEOUT);
    CHECK(ev[0].error == -ETIMEDOUT);
    for (u64 j : {behind, on1, on2, q1, q2}) {
        CAPTURE(j);
        w = b.wait_job(j);
        CHECK(w.status == VDNN_STATUS_OK);
        CHECK(w.error == 0);
    }
    b.sync(x), b.sync(y), b.sync(z);
    CHECK(all_bytes(x, 0, page, 1));
    CHECK(all_bytes(y, 0, page, 2));
    CHECK(all_bytes(y, page, page, 4));
    CHECK(all_bytes(z, 0, page, 3));
    CHECK(all_bytes(z, page, page, 5));
    const accel_info_status st = status_until(c, a.fd(), [](const accel_info_status& s) {
        return s.state == ACCEL_STATE_OPERATIONAL && s.reset_count == 1;
    });
    CHECK(st.reset_count == 1);
    CHECK(md.state().domain->recoveries() == 1);
    // The device works, for both files.
    for (u32 e = 0; e < num_engines; ++e) {
        CHECK(a.wait_job(a.run(e, nop_stream())).status == VDNN_STATUS_OK);
        CHECK(b.wait_job(b.run(e, one(fill_cmd(x.va + 2 * page, 8, e)), {x.handle})).status == VDNN_STATUS_OK);
    }
    CHECK(status_of(c, a.fd()).reset_count == 1);
}

TEST_CASE("hang: with the cancel policy the jobs on the hardware end CANCELLED, queued ones still run") {
    mock_device md(config(never, accel::reset_policy::cancel));
    auto& c = md.client();
    session<B> a(c, md.node()), b(c, md.node());
    client_buffer& x = b.bound(2 * page, VDNN_REGION_DRAM, VDNN_BIND_READ | VDNN_BIND_WRITE, 0);
    client_buffer& y = b.bound(2 * page, VDNN_REGION_HOST, VDNN_BIND_READ | VDNN_BIND_WRITE, 0);
    client_buffer& z = a.bound(2 * page, VDNN_REGION_SRAM, VDNN_BIND_READ | VDNN_BIND_WRITE, 0);
    reset_gate gate(md.dev->status());

    const u64 hung = a.run(VDNN_ENGINE_COMPUTE0, hang_stream());
    const u64 behind = b.run(VDNN_ENGINE_COMPUTE0, one(fill_cmd(x.va, page, 0x01010101)), {x.handle});
    const u64 after_hang = a.run(VDNN_ENGINE_DMA, one(fill_cmd(z.va, page, 0x06060606)), {z.handle}, {hung});
    fire_timeout(md, VDNN_ENGINE_COMPUTE0);
    REQUIRE(gate.held());
    md.state().engines[VDNN_ENGINE_COMPUTE1]->hw.hang();
    const u64 on1 = b.run(VDNN_ENGINE_COMPUTE1, one(fill_cmd(y.va, page, 0x02020202)), {y.handle});
    REQUIRE(eventually([&] { return md.state().engines[VDNN_ENGINE_COMPUTE1]->hw.in_flight() == 1; }));
    gate.release();

    vdnn_wait w = a.wait_job(hung);
    CHECK(w.status == VDNN_STATUS_TIMEOUT);
    CHECK(w.error == -ETIMEDOUT);
    for (u64 j : {behind, on1}) {
        CAPTURE(j);
        w = b.wait_job(j);
        CHECK(w.status == VDNN_STATUS_CANCELLED);
        CHECK(w.error == -ECANCELED);
    }
    // The job that waited in its queue for the hung one runs after the reset.
    CHECK(a.wait_job(after_hang).status == VDNN_STATUS_OK);
    b.sync(x), b.sync(y), a.sync(z);
    CHECK(all_bytes(x, 0, 2 * page, 0)); // cancelled before they started: nothing written
    CHECK(all_bytes(y, 0, 2 * page, 0));
    CHECK(all_bytes(z, 0, page, 6));
    status_until(c, a.fd(), [](const accel_info_status& s) { return s.state == ACCEL_STATE_OPERATIONAL && s.reset_count == 1; });
    CHECK(b.wait_job(b.run(VDNN_ENGINE_COMPUTE1, one(fill_cmd(y.va, 8, 7)), {y.handle})).status == VDNN_STATUS_OK);
}

TEST_CASE("hang: a failing reset leaves the device MALFUNCTION, ACCEL_IOCTL_RESET brings it back") {
    mock_device md(config(std::chrono::milliseconds(300)));
    auto& c = md.client();
    session<B> a(c, md.node()), other(c, md.node());
    client_buffer& x = a.bound(page, VDNN_REGION_DRAM, VDNN_BIND_READ | VDNN_BIND_WRITE, 0);
    md.state().fail_next_reset = -EIO;

    // Their ends are read as events: WAIT, a driver ioctl, answers -EIO once the device is
    // MALFUNCTION, which may come first.
    const u64 hung = a.run(VDNN_ENGINE_COMPUTE0, hang_stream(), {}, {}, true, 1);
    const u64 behind = a.run(VDNN_ENGINE_COMPUTE0, one(fill_cmd(x.va, page, 0x01010101)), {}, {}, true, 2);
    const auto ev = a.events(2);
    REQUIRE(ev.size() == 2);
    std::map<u64, vdnn_event_job_done> by_seqno;
    for (const auto& e : ev)
        by_seqno[e.seqno] = e;
    CHECK(by_seqno.at(hung).status == VDNN_STATUS_TIMEOUT);
    CHECK(by_seqno.at(hung).error == -ETIMEDOUT);
    CHECK(by_seqno.at(behind).status == VDNN_STATUS_CANCELLED); // on the ring behind it
    CHECK(by_seqno.at(behind).error == -EIO);
    vdnn_wait w{};
    const accel_info_status bad = status_until(c, a.fd(), [](const accel_info_status& s) { return s.state == ACCEL_STATE_MALFUNCTION; });
    CHECK(bad.reset_count == 0);

    // The driver's ioctls answer -EIO; VERSION, INFO, GEM_CLOSE, open and close work.
    CHECK(a.submit(VDNN_ENGINE_DMA, nop_stream()) == -EIO);
    vdnn_bo_create bc{page, VDNN_REGION_HOST, 0, 0, 0};
    CHECK(a.ioctl(VDNN_IOCTL_BO_CREATE, &bc) == -EIO);
    vdnn_get_param gp{VDNN_PARAM_NUM_ENGINES, 0, 0};
    CHECK(a.ioctl(VDNN_IOCTL_GET_PARAM, &gp) == -EIO);
    CHECK(a.wait(VDNN_WAIT_JOB, hung, long_ns, w) == -EIO);
    char name[16] = {};
    accel_version v{};
    v.name = uptr(name);
    v.name_len = sizeof name - 1;
    CHECK(a.ioctl(ACCEL_IOCTL_VERSION, &v) == 0);
    CHECK(std::string(name) == "vdnn");
    CHECK(status_of(c, other.fd()).state == ACCEL_STATE_MALFUNCTION);
    {
        session<B> more(c, md.node());
        CHECK(status_of(c, more.fd()).state == ACCEL_STATE_MALFUNCTION);
    }
    other.close();

    // RESET: root only, flags checked; the reset it starts brings the device back.
    {
        accel::backend::mock::identity nobody({65534, 4242, false});
        CHECK(reset_ioctl(a, ACCEL_RESET_WAIT) == -EACCES);
        CHECK(reset_ioctl(a, 0) == -EACCES);
    }
    CHECK(reset_ioctl(a, 0x2) == -EINVAL);
    CHECK(reset_ioctl(a, 0) == 0);
    const accel_info_status good = status_until(c, a.fd(), [](const accel_info_status& s) {
        return s.state == ACCEL_STATE_OPERATIONAL && s.reset_count == 1;
    });
    CHECK(good.reset_count == 1);
    const u64 j = a.run(VDNN_ENGINE_DMA, one(fill_cmd(x.va, page, 0x09090909)), {x.handle});
    CHECK(a.wait_job(j).status == VDNN_STATUS_OK);
    a.sync(x);
    CHECK(all_bytes(x, 0, page, 9));
    // With ACCEL_RESET_WAIT, the ioctl returns when the reset has ended.
    CHECK(reset_ioctl(a, ACCEL_RESET_WAIT) == 0);
    CHECK(status_of(c, a.fd()).reset_count == 2);
    CHECK(status_of(c, a.fd()).state == ACCEL_STATE_OPERATIONAL);
}

// RESET with ACCEL_RESET_WAIT from MALFUNCTION waits for its own reset: the reset domain sets
// IN_RESET when the reset is requested, not when its thread starts it (exec/reset_domain.hpp).
TEST_CASE("hang: from MALFUNCTION, ACCEL_IOCTL_RESET with ACCEL_RESET_WAIT returns 0 once the device works again") {
    mock_device md(config(std::chrono::milliseconds(300)));
    auto& c = md.client();
    session<B> a(c, md.node());
    md.state().fail_next_reset = -EIO;
    CHECK(reset_ioctl(a, ACCEL_RESET_WAIT) == -EIO); // the failing reset
    CHECK(status_of(c, a.fd()).state == ACCEL_STATE_MALFUNCTION);
    CHECK(reset_ioctl(a, ACCEL_RESET_WAIT) == 0);
    const accel_info_status st = status_until(c, a.fd(), [](const accel_info_status& s) { return s.state != ACCEL_STATE_IN_RESET; });
    CHECK(st.state == ACCEL_STATE_OPERATIONAL);
    CHECK(st.reset_count == 1);
}

TEST_CASE("hang: a non-blocking file's SUBMIT during a reset is -EAGAIN, a blocking file's queues") {
    mock_device md(config(std::chrono::milliseconds(300)));
    auto& c = md.client();
    session<B> a(c, md.node()), nb(c, md.node(), O_RDWR | O_NONBLOCK);
    // Both files have their command buffers before the reset.
    CHECK(nb.wait_job(nb.run(VDNN_ENGINE_DMA, nop_stream())).status == VDNN_STATUS_OK);
    reset_gate gate(md.dev->status());
    const u64 hung = a.run(VDNN_ENGINE_COMPUTE1, hang_stream());
    REQUIRE(gate.held());
    CHECK(status_of(c, a.fd()).state == ACCEL_STATE_IN_RESET);
    CHECK(nb.submit(VDNN_ENGINE_DMA, nop_stream()) == -EAGAIN);
    CHECK(nb.submit(VDNN_ENGINE_COMPUTE0, nop_stream()) == -EAGAIN);
    const u64 queued = a.run(VDNN_ENGINE_DMA, nop_stream());
    char buf[64];
    CHECK(c.read(nb.fd(), buf, sizeof buf) == -EAGAIN); // no events: a non-blocking read says so
    gate.release();
    CHECK(a.wait_job(hung).status == VDNN_STATUS_TIMEOUT);
    CHECK(a.wait_job(queued).status == VDNN_STATUS_OK);
    status_until(c, a.fd(), [](const accel_info_status& s) { return s.state == ACCEL_STATE_OPERATIONAL; });
    const std::int64_t later = nb.submit(VDNN_ENGINE_DMA, nop_stream());
    REQUIRE(later > 0);
    CHECK(later == 2); // the refused ones took no seqno
    CHECK(nb.wait_job(static_cast<u64>(later)).status == VDNN_STATUS_OK);
}

namespace {

struct client_result {
    std::vector<u64> seqnos;
    std::map<u64, int> event_count;
    std::map<u64, vdnn_event_job_done> events;
    std::map<u64, vdnn_wait> waits;
    std::map<u64, int> wait_rc;
    bool pages_ok = true;
    int submit_errors = 0;
};

/// Eight files on eight threads submit FILL jobs on all engines (events on) while a reset runs;
/// each job must end exactly once, OK or CANCELLED (never TIMEOUT: only the hung job is).
void eight_clients(accel::reset_policy policy) {
    constexpr int clients = 8, jobs = 30;
    mock_device md(config(never, policy));
    auto& c = md.client();
    session<B> h(c, md.node());
    reset_gate gate(md.dev->status());
    std::atomic<int> submitted{0}, ready{0};
    std::mutex m;
    std::condition_variable cv;
    bool go = false;
    std::vector<client_result> results(clients);
    std::vector<std::thread> threads;
    for (int t = 0; t < clients; ++t)
        threads.emplace_back([&, t] {
            client_result& res = results[static_cast<std::size_t>(t)];
            session<B> s(c, md.node());
            client_buffer* bo[3];
            for (auto& b : bo)
                b = &s.bound(8 * page, VDNN_REGION_HOST, VDNN_BIND_READ | VDNN_BIND_WRITE, 0);
            CHECK(s.wait_job(s.run(VDNN_ENGINE_DMA, nop_stream())).status == VDNN_STATUS_OK); // its command buffer
            ready.fetch_add(1);
            {
                std::unique_lock l(m);
                cv.wait(l, [&] { return go; });
            }
            std::map<std::pair<int, u64>, u32> last; // (engine, page) -> pattern of the last job
            for (int i = 0; i < jobs; ++i) {
                const int e = i % 3;
                const u64 pg = static_cast<u64>(i / 3) % 8;
                const u32 pattern = 0x01010101u * static_cast<u32>((t * jobs + i) % 251 + 1);
                const std::int64_t seq = s.submit(static_cast<u32>(e), one(fill_cmd(bo[e]->va + pg * page, page, pattern)),
                                                  {bo[e]->handle}, {}, true, (u64(t) << 32) | u64(i));
                if (seq <= 0) {
                    ++res.submit_errors;
                    continue;
                }
                res.seqnos.push_back(static_cast<u64>(seq));
                last[{e, pg}] = pattern;
                submitted.fetch_add(1);
            }
            for (const auto& e : s.events(res.seqnos.size())) {
                ++res.event_count[e.seqno];
                res.events[e.seqno] = e;
            }
            for (u64 seq : res.seqnos) {
                vdnn_wait w{};
                res.wait_rc[seq] = s.wait(VDNN_WAIT_JOB, seq, long_ns, w);
                res.waits[seq] = w;
            }
            // No event after the ones counted.
            pollfd p{s.fd(), POLLIN, 0};
            if (c.poll(&p, 1, 0) != 0)
                res.event_count[0] = 1;
            if (policy == accel::reset_policy::resubmit) {
                for (auto& b : bo)
                    s.sync(*b);
                for (const auto& [key, pattern] : last)
                    if (!all_bytes(*bo[key.first], key.second * page, page, static_cast<int>(pattern & 0xff)))
                        res.pages_ok = false;
            }
        });

    REQUIRE(eventually([&] { return ready.load() == clients; }));
    const u64 hung = h.run(VDNN_ENGINE_COMPUTE0, hang_stream(), {}, {}, true, 1);
    fire_timeout(md, VDNN_ENGINE_COMPUTE0);
    REQUIRE(gate.held());
    {
        std::lock_guard l(m);
        go = true;
    }
    cv.notify_all();
    // Let a third of the jobs in while the recovery is held, the rest during and after it.
    CHECK(eventually([&] { return submitted.load() >= clients * jobs / 3; }));
    gate.release();
    for (auto& t : threads)
        t.join();

    const auto hev = h.events(1);
    REQUIRE(hev.size() == 1);
    CHECK(hev[0].seqno == hung);
    CHECK(hev[0].status == VDNN_STATUS_TIMEOUT);
    int ok = 0, cancelled = 0;
    for (int t = 0; t < clients; ++t) {
        CAPTURE(t);
        const client_result& res = results[static_cast<std::size_t>(t)];
        CHECK(res.submit_errors == 0);
        CHECK(res.seqnos.size() == static_cast<std::size_t>(jobs));
        CHECK(res.event_count.count(0) == 0); // no extra event
        CHECK(res.event_count.size() == res.seqnos.size());
        for (u64 seq : res.seqnos) {
            CAPTURE(seq);
            REQUIRE(res.event_count.count(seq) == 1);
            CHECK(res.event_count.at(seq) == 1);
            const vdnn_event_job_done& e = res.events.at(seq);
            CHECK((e.user_data >> 32) == static_cast<u64>(t));
            CHECK(res.wait_rc.at(seq) == 0);
            CHECK(res.waits.at(seq).status == e.status);
            CHECK(res.waits.at(seq).error == e.error);
            if (e.status == VDNN_STATUS_OK) {
                ++ok;
                CHECK(e.error == 0);
            } else {
                ++cancelled;
                CHECK(e.status == VDNN_STATUS_CANCELLED);
                CHECK(e.error == -ECANCELED);
            }
        }
        CHECK(res.pages_ok);
    }
    if (policy == accel::reset_policy::resubmit)
        CHECK(cancelled == 0);
    CHECK(ok + cancelled == clients * jobs);
    MESSAGE("eight clients: " << ok << " OK, " << cancelled << " CANCELLED");
    status_until(c, h.fd(), [](const accel_info_status& s) { return s.state == ACCEL_STATE_OPERATIONAL && s.reset_count == 1; });
}

} // namespace

TEST_CASE("hang: eight clients submitting during a reset, every job ends exactly once (resubmit)") {
    eight_clients(accel::reset_policy::resubmit);
}

TEST_CASE("hang: eight clients submitting during a reset, every job ends exactly once (cancel)") {
    eight_clients(accel::reset_policy::cancel);
}

// ---- events --------------------------------------------------------------------------------------

TEST_CASE("events: jobs on every engine, each JOB_DONE once with its user_data, read while they complete") {
    // The scheduler frees a job once its finished fence reads signalled, which is before that
    // fence's callbacks (the event's among them) have all run: the event must not need the job.
    mock_device md(config(never));
    auto& c = md.client();
    session<B> s(c, md.node());
    client_buffer& x = s.bound(3 * page, VDNN_REGION_HOST, VDNN_BIND_READ | VDNN_BIND_WRITE, 0);
    std::map<u64, u64> want; // seqno -> user_data
    std::map<u64, int> seen;
    for (int round = 0; round < 8; ++round) {
        // Eight jobs on each engine back to back (the scheduler frees one while the next
        // completes), no object named (the engines overlap).
        for (int i = 0; i < 8; ++i)
            for (u32 e = 0; e < num_engines; ++e) {
                const u64 ud = 0xe0000000ull + static_cast<u64>(round * 100 + i * 3 + static_cast<int>(e));
                want[s.run(e, one(fill_cmd(x.va + e * page, page, static_cast<u32>(ud))), {}, {}, true, ud)] = ud;
            }
        for (const auto& ev : s.events(24)) {
            ++seen[ev.seqno];
            CHECK(ev.user_data == want[ev.seqno]);
            CHECK(ev.status == VDNN_STATUS_OK);
        }
    }
    CHECK(seen.size() == want.size());
    for (const auto& [seq, n] : seen)
        CHECK(n == 1);
}

// ---- implicit sync -------------------------------------------------------------------------------

TEST_CASE("implicit sync: a job waits for the objects it names, not for the command buffer it was copied from") {
    // The hung job ends only when the test resets the device.
    mock_device md(config(never, accel::reset_policy::cancel));
    auto& c = md.client();
    session<B> a(c, md.node());
    client_buffer& x = a.bound(page, VDNN_REGION_SRAM, VDNN_BIND_READ | VDNN_BIND_WRITE, 0);
    client_buffer& hx = a.bound(page, VDNN_REGION_DRAM, VDNN_BIND_READ | VDNN_BIND_WRITE, 0);
    // The client library copies every stream into one command buffer: the jobs below share it
    // with the hung one.
    const u64 hung = a.run(VDNN_ENGINE_COMPUTE0, hang_stream(), {hx.handle});
    const u64 dma = a.run(VDNN_ENGINE_DMA, one(fill_cmd(x.va, page, 0x01010101)), {x.handle});
    vdnn_wait w{};
    CHECK(a.wait(VDNN_WAIT_JOB, dma, 10'000'000'000, w) == 0);
    CHECK(w.status == VDNN_STATUS_OK);
    const u64 other = a.run(VDNN_ENGINE_COMPUTE1, one(fill_cmd(x.va, 8, 2)), {x.handle});
    CHECK(a.wait(VDNN_WAIT_JOB, other, 10'000'000'000, w) == 0);
    CHECK(w.status == VDNN_STATUS_OK);
    CHECK(a.wait(VDNN_WAIT_JOB, hung, 0, w) == -ETIME); // still hung
    // A job naming an object the hung job names waits for it.
    const u64 blocked = a.run(VDNN_ENGINE_COMPUTE1, one(fill_cmd(hx.va, 8, 3)), {hx.handle});
    CHECK(a.wait(VDNN_WAIT_JOB, blocked, 50'000'000, w) == -ETIME);
    CHECK(reset_ioctl(a, ACCEL_RESET_WAIT) == 0); // cancel policy: the hung job ends CANCELLED
    CHECK(a.wait_job(hung).status == VDNN_STATUS_CANCELLED);
    CHECK(a.wait_job(blocked).status == VDNN_STATUS_OK);
}

TEST_CASE("a hung job holds up no other file's VM_BIND, VM_UNBIND or close") {
    // The hung job ends only when the test resets the device.
    mock_device md(config(never, accel::reset_policy::cancel));
    auto& c = md.client();
    session<B> a(c, md.node()), b(c, md.node());
    auto other = std::make_unique<session<B>>(c, md.node());
    client_buffer& x = other->bound(page, VDNN_REGION_HOST);
    (void)x;
    client_buffer& y = b.buffer(4 * page, VDNN_REGION_SRAM, 0);
    const u64 hung = a.run(VDNN_ENGINE_COMPUTE0, hang_stream());
    REQUIRE(eventually([&] { return md.state().engines[VDNN_ENGINE_COMPUTE0]->hw.in_flight() == 1; }));
    std::promise<void> done;
    std::thread t([&] {
        u64 va = 0;
        CHECK(b.bind(y.handle, VDNN_BIND_READ | VDNN_BIND_WRITE, 0, va, 4 * page) == 0);
        CHECK(b.unbind(va + page, page) == 0);
        other->close(); // its VA space goes
        done.set_value();
    });
    const bool in_time = done.get_future().wait_for(std::chrono::seconds(10)) == std::future_status::ready;
    CHECK_MESSAGE(in_time, "VM_BIND, VM_UNBIND or close waited for the hung job");
    CHECK(reset_ioctl(a, ACCEL_RESET_WAIT) == 0); // ends the hang (cancel policy) in any case
    t.join();
    CHECK(a.wait_job(hung).status == VDNN_STATUS_CANCELLED);
}

// ---- close, unplug ---------------------------------------------------------------------------------

TEST_CASE("close: with jobs queued and running, queued ones never run, the objects go, the device works on") {
    mock_device md(config(never));
    auto& c = md.client();
    session<B> obs(c, md.node());
    void* extra = nullptr; // a mapping of x that outlives the file
    u64 x_size = 0;
    {
        session<B> a(c, md.node());
        client_buffer& x = a.bound(3 * page, VDNN_REGION_HOST, VDNN_BIND_READ | VDNN_BIND_WRITE, 0x11);
        client_buffer& y = a.bound(4 * page, VDNN_REGION_SRAM, VDNN_BIND_READ | VDNN_BIND_WRITE, 0);
        client_buffer& z = a.bound(4 * page, VDNN_REGION_DRAM, VDNN_BIND_READ | VDNN_BIND_WRITE, 0);
        auto m = c.mmap(a.fd(), x.mmap_offset, x.size, PROT_READ, MAP_SHARED);
        REQUIRE(m);
        extra = *m;
        x_size = x.size;
        CHECK(region_used(c, obs.fd(), VDNN_REGION_SRAM) == 4 * page);
        const u64 hung = a.run(VDNN_ENGINE_COMPUTE0, hang_stream(), {y.handle, z.handle}, {}, true, 1);
        // Running on the other engines / on the ring behind the hung job:
        a.run(VDNN_ENGINE_COMPUTE1, one(fill_cmd(z.va, page, 0x02020202)), {z.handle});
        a.run(VDNN_ENGINE_COMPUTE0, nop_stream(), {}, {}, true, 2);
        // Queued behind the hung one, on every engine, writing x. (A dependency on a job of the
        // same engine only orders a job on the ring, as in drm_sched: the one on compute 0
        // waits for the DMA job instead.)
        const u64 q1 = a.run(VDNN_ENGINE_COMPUTE1, one(fill_cmd(x.va + page, page, 0x33333333)), {x.handle}, {hung});
        const u64 q2 =
            a.run(VDNN_ENGINE_DMA, one(copy_cmd(y.va, x.va + 2 * page, page)), {x.handle, y.handle, z.handle}, {hung}, true, 4);
        a.run(VDNN_ENGINE_COMPUTE0, one(fill_cmd(x.va, page, 0x22222222)), {x.handle, y.handle}, {q1, q2}, true, 3);
        vdnn_wait w{};
        CHECK(a.wait(VDNN_WAIT_JOB, hung, 0, w) == -ETIME);
    } // closed: its queued jobs are dropped, the hung one runs on until its timeout
    fire_timeout(md, VDNN_ENGINE_COMPUTE0);
    const accel_info_status st = status_until(c, obs.fd(), [](const accel_info_status& s) {
        return s.state == ACCEL_STATE_OPERATIONAL && s.reset_count == 1;
    });
    CHECK(st.open_files == 1);
    // The device works for the other file, on every engine.
    client_buffer& o = obs.bound(page, VDNN_REGION_SRAM, VDNN_BIND_READ | VDNN_BIND_WRITE, 0);
    for (u32 e = 0; e < num_engines; ++e)
        CHECK(obs.wait_job(obs.run(e, one(fill_cmd(o.va + e * 64, 64, 0x40404040u + e)), {o.handle})).status == VDNN_STATUS_OK);
    // The queued jobs never ran: x is as it was.
    const auto* xb = static_cast<const unsigned char*>(extra);
    bool untouched = true;
    for (u64 i = 0; i < x_size; ++i)
        untouched = untouched && xb[i] == 0x11;
    CHECK(untouched);
    CHECK(c.munmap(extra, x_size) == 0);
    // Every object of the closed file is gone (the jobs held them until they ended).
    CHECK(eventually([&] { return region_used(c, obs.fd(), VDNN_REGION_SRAM) == page; }));
    CHECK(region_used(c, obs.fd(), VDNN_REGION_DRAM) == 0);
    CHECK(md.state().mem.aperture.used() == 0);
}

TEST_CASE("unplug: jobs queued and running and a WAIT parked: the WAIT gets -ENODEV, every fence signals, nothing hangs") {
    auto md = std::make_unique<mock_device>(config(never));
    auto& c = md->client();
    auto a = std::make_unique<session<B>>(c, md->node());
    auto b = std::make_unique<session<B>>(c, md->node());
    client_buffer& x = a->bound(2 * page, VDNN_REGION_SRAM, VDNN_BIND_READ | VDNN_BIND_WRITE, 0);
    client_buffer& y = b->bound(2 * page, VDNN_REGION_HOST, VDNN_BIND_READ | VDNN_BIND_WRITE, 0);
    const u64 hung = a->run(VDNN_ENGINE_COMPUTE0, hang_stream(), {x.handle}, {}, true, 1);
    a->run(VDNN_ENGINE_COMPUTE0, one(fill_cmd(x.va, page, 1)), {}, {}, true, 2); // on the ring behind it
    a->run(VDNN_ENGINE_COMPUTE1, one(fill_cmd(x.va, page, 1)), {x.handle}, {}, true, 3);   // implicit sync: queued
    a->run(VDNN_ENGINE_DMA, nop_stream(), {}, {hung}, true, 4);                             // queued on a dependency
    md->state().engines[VDNN_ENGINE_DMA]->hw.hang();
    const u64 held = b->run(VDNN_ENGINE_DMA, one(fill_cmd(y.va, page, 2)), {y.handle}); // on held hardware
    b->run(VDNN_ENGINE_COMPUTE1, one(fill_cmd(y.va, page, 3)), {y.handle});            // queued behind it
    const auto records = all_records(*md->dev);
    CHECK(records.size() == 6);

    std::promise<int> parked_rc;
    std::thread waiter([&] {
        vdnn_wait w{};
        parked_rc.set_value(a->wait(VDNN_WAIT_JOB, hung, long_ns, w));
    });
    REQUIRE(eventually([&] { return md->dev->parked().size() == 1; }));
    auto rc = parked_rc.get_future();

    md->reg.reset(); // unplug
    REQUIRE(rc.wait_for(std::chrono::seconds(60)) == std::future_status::ready);
    CHECK(rc.get() == -ENODEV);
    waiter.join();
    for (const auto& r : records)
        CHECK(r->finished->is_signaled());
    vdnn_wait w{};
    CHECK(b->wait(VDNN_WAIT_JOB, held, long_ns, w) == -ENODEV);
    CHECK(b->submit(VDNN_ENGINE_DMA, nop_stream()) == -ENODEV);

    // Closing the files and dropping the device must end: run it on a thread and give up (with
    // a failure, not a hung test run) if it does not.
    std::promise<void> done;
    std::thread teardown([&] {
        a.reset();
        b.reset();
        md.reset();
        done.set_value();
    });
    if (done.get_future().wait_for(std::chrono::seconds(60)) != std::future_status::ready) {
        FAIL_CHECK("closing the files and destroying the unplugged device hangs");
        std::fflush(stdout);
        std::_Exit(1);
    }
    teardown.join();
}

// ---- job outcomes --------------------------------------------------------------------------------

TEST_CASE("job outcome: how each errno of a finished fence reads in WAIT and the event") {
    const struct {
        int error;
        u32 status;
    } rows[] = {
        {0, VDNN_STATUS_OK},
        {-EFAULT, VDNN_STATUS_MMU_FAULT},
        {-EINVAL, VDNN_STATUS_BAD_COMMAND},
        {-ENOMEM, VDNN_STATUS_BAD_COMMAND}, // vdnn_uapi.h: -EINVAL or -ENOMEM (BAD_COMMAND)
        {-ETIMEDOUT, VDNN_STATUS_TIMEOUT},
        {-ECANCELED, VDNN_STATUS_CANCELLED},
        {-ESRCH, VDNN_STATUS_CANCELLED},
        {-EIO, VDNN_STATUS_CANCELLED},
    };
    for (const auto& row : rows) {
        CAPTURE(row.error);
        job_record r;
        r.finished = accel::make_fence(accel::fence_context_alloc(), 1, "test", "test");
        if (row.error)
            REQUIRE(r.finished->set_error(row.error) == 0);
        r.finished->signal();
        r.set_result({row.error, row.status, row.error == -EFAULT ? u64{0x123000} : 0, 0});
        __u32 status = 99;
        __s32 error = 1;
        __u64 fault_va = 1;
        r.outcome(status, error, fault_va);
        CHECK(status == row.status);
        CHECK(error == row.error);
        CHECK(fault_va == (row.error == -EFAULT ? 0x123000u : 0u));
    }
}

// The sanitizers reserve terabytes of shadow address space: RLIMIT_AS cannot be lowered under them.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool under_sanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool under_sanitizer = true;
#else
constexpr bool under_sanitizer = false;
#endif
#else
constexpr bool under_sanitizer = false;
#endif

TEST_CASE("submit: a command BO whose CPU view cannot be mapped is -ENOMEM, not a null dereference"
          * doctest::skip(under_sanitizer)) {
    // A host BO's memory is a sparse memfd, mapped for the driver on first use; out of address
    // space that mapping fails (vaddr() null), here forced with RLIMIT_AS in a child process.
    mock_device md;
    auto& c = md.client();
    const int fd = c.open(md.node(), O_RDWR);
    REQUIRE(fd >= 0);
    vdnn_bo_create bo{};
    bo.size = 64ull << 30;
    bo.region = VDNN_REGION_HOST;
    REQUIRE(c.ioctl(fd, VDNN_IOCTL_BO_CREATE, &bo) == 0);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        std::ifstream status("/proc/self/status");
        std::string key;
        unsigned long long vm_kib = 0;
        while (status >> key && key != "VmSize:")
            status.ignore(1 << 20, '\n');
        status >> vm_kib;
        const rlimit lim{(vm_kib << 10) + (512ull << 20), (vm_kib << 10) + (512ull << 20)};
        if (vm_kib == 0 || ::setrlimit(RLIMIT_AS, &lim) != 0)
            ::_exit(100);
        vdnn_submit s{};
        s.engine = VDNN_ENGINE_DMA;
        s.cmd_handle = bo.handle;
        s.cmd_size = 8;
        const int r = c.ioctl(fd, VDNN_IOCTL_SUBMIT, &s);
        ::_exit(r == -ENOMEM ? 0 : 101);
    }
    int st = 0;
    REQUIRE(::waitpid(pid, &st, 0) == pid);
    CHECK(WIFEXITED(st)); // before the fix: killed by SIGSEGV
    if (WIFEXITED(st))
        CHECK(WEXITSTATUS(st) == 0);
    CHECK(c.close(fd) == 0);
}

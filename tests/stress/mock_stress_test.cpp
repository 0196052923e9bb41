// SPDX-License-Identifier: MIT
// Stress on the mock backend (every preset; TSan in CI): worker threads run random sessions
// (stress_session.hpp) against a vdnn and a vdsp device - BOs, mmap, VM binds, jobs and waits,
// dma-buf export and import across the two drivers, syncobjs and sync files, INFO and the
// monitor node - while one thread resets the devices (ACCEL_IOCTL_RESET, waiting for the end)
// and another plugs in and unplugs a third device (vdnn) that some workers use. Bounded by
// ACCEL_STRESS_SECONDS (default 4). Every answer must be a success or an errno the situation
// allows; at the end, with every file closed: no descriptor, no mapping, no open file, no job
// on an engine, memory and clients back to what they were, the devices operational.
#include "stress_session.hpp"
#include "stress_state.hpp"

#include "vdnn_driver.hpp"
#include "vdsp_driver.hpp"

#include <accel/accel.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

using namespace accel;
using namespace accel::stress;
using mock = accel::backend::mock;
using clock_type = std::chrono::steady_clock;

namespace {

std::string node(const mock& m, node_kind k, unsigned minor) { return std::string(m.root()) + "/" + node_name(k, minor); }

/// Waits until `pred` holds or `seconds` pass; whether it held.
template <class Pred>
bool eventually(Pred&& pred, double seconds = 30) {
    const auto end = clock_type::now() + std::chrono::duration<double>(seconds);
    while (!pred()) {
        if (clock_type::now() > end)
            return pred();
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
}

bool engines_idle(vdnn::device& d) {
    for (auto& e : d->engines)
        if (e->hw.in_flight() != 0)
            return false;
    return true;
}

} // namespace

TEST_CASE("workers on vdnn and vdsp with resets and a device unplugged and replugged, nothing left after") {
    const double seconds = stress_seconds(4);
    const unsigned workers = 12;
    subsystem sub;
    vdnn::device_config nc;
    nc.job_timeout = std::chrono::milliseconds(2000);
    auto dnn = vdnn::device::create(nc);
    vdsp::device_config sc;
    sc.loader = firmware_loader::with_path({VDSP_FIRMWARE_DIR});
    auto dsp = vdsp::device::create(sc);
    REQUIRE(dnn);
    REQUIRE(dsp);
    auto rdnn = sub.register_device(*dnn);
    auto rdsp = sub.register_device(*dsp);
    REQUIRE(rdnn);
    REQUIRE(rdsp);
    mock m(sub);
    mock::identity root{{0, ::getpid(), true}};

    const session_paths main_paths{node(m, node_kind::compute, rdnn->minor()), node(m, node_kind::monitor, rdnn->minor()),
                                   node(m, node_kind::compute, rdsp->minor()), false};
    const std::string dsp_monitor = node(m, node_kind::monitor, rdsp->minor());
    const device_view dnn_before = view_device(m, main_paths.dnn_mon);
    const device_view dsp_before = view_device(m, dsp_monitor);
    REQUIRE(at_rest(dnn_before, dnn_before.memory_used()));
    REQUIRE(at_rest(dsp_before, dsp_before.memory_used()));

    counters c;
    std::atomic<bool> stop{false};
    // The hotplug device's minor (or -1 between an unplug and the next plug).
    std::atomic<int> hot_minor{-1};
    std::atomic<unsigned> plugged{0};

    std::thread plugger([&] {
        mock::identity as{{0, ::getpid(), true}};
        std::mt19937 rng(7);
        while (!stop.load()) {
            auto d = vdnn::device::create(nc);
            if (!c.count(op_unplug, d ? 0 : d.error(), [](int e) { return e == -ENOMEM; }, "create"))
                continue;
            auto r = sub.register_device(*d);
            if (!c.count(op_unplug, r ? 0 : r.error(), [](int e) { return e == -ENOMEM || e == -ENOSPC; }, "register"))
                continue;
            ++plugged;
            hot_minor.store(static_cast<int>(r->minor()));
            std::this_thread::sleep_for(std::chrono::milliseconds(20 + rng() % 60));
            hot_minor.store(-1);
            r->reset(); // unplug while workers are inside it
            c.ok[op_unplug].fetch_add(1);
            // Its files close as their sessions notice (-ENODEV); then nothing of them is left.
            vdnn::device& dev = **d;
            if (!eventually([&] { return dev.open_count() == 0 && engines_idle(dev); }))
                c.violation(op_unplug, "unplugged device: %u open files, engines %s", dev.open_count(),
                            engines_idle(dev) ? "idle" : "busy");
        }
    });

    std::thread resetter([&] {
        mock::identity as{{0, ::getpid(), true}};
        std::mt19937 rng(11);
        while (!stop.load()) {
            std::this_thread::sleep_for(std::chrono::milliseconds(30 + rng() % 70));
            const bool on_dsp = rng() % 4 == 0;
            const int fd = m.open(on_dsp ? dsp_monitor : main_paths.dnn_mon, O_RDWR);
            if (!c.count(op_reset, fd, [](int) { return false; }, "open"))
                continue;
            accel_reset_request rq{ACCEL_RESET_WAIT, 0};
            c.count(op_reset, m.ioctl(fd, ACCEL_IOCTL_RESET, &rq), [](int) { return false; }, on_dsp ? "vdsp" : "vdnn");
            c.count(op_close, m.close(fd), [](int) { return false; }, "reset");
        }
    });

    auto worker = [&](unsigned id) {
        mock::identity as{{0, ::getpid(), true}};
        std::mt19937_64 rng(1000 + id);
        const auto end = clock_type::now() + std::chrono::duration<double>(seconds);
        while (clock_type::now() < end) {
            session_paths p = main_paths;
            if (id % 3 == 0) { // a third of the workers use the hotplug device
                const int minor = hot_minor.load();
                if (minor < 0) { // unplugged: sleep, not spin, so the plugger and the others run
                    std::this_thread::sleep_for(std::chrono::milliseconds(1));
                    continue;
                }
                p.dnn = node(m, node_kind::compute, static_cast<unsigned>(minor));
                p.dnn_mon = node(m, node_kind::monitor, static_cast<unsigned>(minor));
                p.hotplug = true;
            }
            session<mock> s(m, p, c, rng());
            s.run(8 + static_cast<unsigned>(rng() % 24));
        }
    };
    std::vector<std::thread> threads;
    for (unsigned i = 0; i < workers; ++i)
        threads.emplace_back(worker, i);
    for (auto& t : threads)
        t.join();
    stop = true;
    plugger.join();
    resetter.join();

    MESSAGE("mock stress, " << seconds << " s, " << workers << " workers, " << plugged.load()
                            << " devices plugged and unplugged:\n"
                            << c.report());
    CHECK(c.total_unexpected() == 0);
    CHECK(c.ok[op_submit] > 0);
    CHECK(c.ok[op_import] > 0);
    CHECK(c.ok[op_reset] > 0);

    // Every file is closed: nothing of any client is left in the mock or on the devices. Jobs
    // of closed files may still be finishing: their engines drain with a deadline.
    CHECK(m.open_descriptors() == 0);
    CHECK(m.mappings() == 0);
    CHECK(eventually([&] { return engines_idle(**dnn); }));
    CHECK((*dnn)->open_count() == 0);
    CHECK((*dsp)->open_count() == 0);
    device_view dnn_after, dsp_after;
    CHECK(eventually([&] {
        dnn_after = view_device(m, main_paths.dnn_mon);
        dsp_after = view_device(m, dsp_monitor);
        return at_rest(dnn_after, dnn_before.memory_used()) && at_rest(dsp_after, dsp_before.memory_used());
    }));
    INFO("vdnn: " << dnn_after.describe());
    INFO("vdsp: " << dsp_after.describe());
    CHECK(at_rest(dnn_after, dnn_before.memory_used()));
    CHECK(at_rest(dsp_after, dsp_before.memory_used()));
}

// SPDX-License-Identifier: MIT
// Two drivers, one buffer: vdnn exports an object (PRIME), vdsp imports it, and their jobs are
// ordered by the buffer's reservation object (implicit sync) or by a sync file carried from a
// vdnn syncobj into a vdsp syncobj (explicit sync). To make the order observable, vdnn's writer
// is held back behind a job that hangs until the driver's 300 ms job timeout resets the engine:
// until then the consumer's job must not run, the dma-buf's POLLIN must not be ready, and the
// consumer's output must hold the producer's data afterwards, never what was there before.
#include "vdnn_client.hpp"
#include "vdnn_driver.hpp"
#include "vdsp_client.hpp"
#include "vdsp_driver.hpp"

#include <accel/accel.hpp>

#include <doctest/doctest.h>

#include <linux/dma-buf.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

namespace {

using mock = accel::backend::mock;
constexpr std::int64_t second = 1'000'000'000;
constexpr std::uint32_t samples = 1024;

std::uint64_t uptr(const void* p) { return static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(p)); }

/// The hang's 300 ms have not passed yet: checks that something has not happened are certain.
struct hang_clock {
    std::int64_t t0 = accel::monotonic_ns();
    bool certain() const { return accel::monotonic_ns() < t0 + 300'000'000; }
};

struct fixture {
    accel::subsystem sub;
    accel::registration regs[2];
    mock be{sub};
    int dnn_fd = -1, dsp_fd = -1;
    vdnn::client<mock>* dnn = nullptr;
    vdsp::client<mock>* dsp = nullptr;

    fixture() {
        vdnn::device_config nc;
        nc.debug_hang = true;
        nc.job_timeout = std::chrono::milliseconds(300);
        auto d0 = accel::device<vdnn::driver>::create(nc);
        vdsp::device_config sc;
        sc.loader = accel::firmware_loader::with_path({VDSP_FIRMWARE_DIR});
        auto d1 = accel::device<vdsp::driver>::create(sc);
        REQUIRE(d0);
        REQUIRE(d1);
        auto r0 = sub.register_device(*d0);
        auto r1 = sub.register_device(*d1);
        REQUIRE(r0);
        REQUIRE(r1);
        regs[0] = std::move(*r0);
        regs[1] = std::move(*r1);
        dnn_fd = be.open(std::string(be.root()) + "/" + accel::node_name(accel::node_kind::compute, regs[0].minor()));
        dsp_fd = be.open(std::string(be.root()) + "/" + accel::node_name(accel::node_kind::compute, regs[1].minor()));
        REQUIRE(dnn_fd >= 0);
        REQUIRE(dsp_fd >= 0);
        dnn = new vdnn::client<mock>(be, dnn_fd);
        dsp = new vdsp::client<mock>(be, dsp_fd);
    }
    ~fixture() {
        delete dnn;
        delete dsp;
    }

    std::uint32_t syncobj(int fd) {
        accel_syncobj_create c{0, 0};
        REQUIRE(be.ioctl(fd, ACCEL_IOCTL_SYNCOBJ_CREATE, &c) == 0);
        return c.handle;
    }
    /// A vdnn job that hangs on COMPUTE0 until the job timeout; its fence goes to `gate`.
    void hang(std::uint32_t gate) {
        vdnn::stream_writer s;
        s.add(vdnn_cmd_debug_hang{});
        REQUIRE(dnn->submit_synced(VDNN_ENGINE_COMPUTE0, s.bytes(), {}, {}, gate) > 0);
    }
    /// A vdnn FILL of `buf` with float 1.0 on the DMA engine, held back until `gate` signals;
    /// its own fence goes to `out` (0: none).
    std::int64_t fill_after(vdnn::client_buffer& buf, std::uint32_t gate, std::uint32_t out = 0) {
        vdnn::stream_writer s;
        vdnn_cmd_fill f{};
        f.dst = buf.va;
        f.bytes = std::uint64_t{samples} * 4;
        f.pattern = 0x3f800000; // 1.0f
        s.add(f);
        const std::uint32_t bos[] = {buf.handle};
        const vdnn_sync in[] = {{gate, 0, 0}};
        return dnn->submit_synced(VDNN_ENGINE_DMA, s.bytes(), bos, in, out);
    }
};

} // namespace

TEST_CASE_FIXTURE(fixture, "implicit sync: vdsp's job on an imported buffer waits for vdnn's writer; poll follows it") {
    vdnn::client_buffer c;
    REQUIRE(dnn->create(std::uint64_t{samples} * 4, VDNN_REGION_HOST, c) == 0);
    REQUIRE(dnn->bind(c, VDNN_BIND_READ | VDNN_BIND_WRITE) == 0);
    std::memset(c.map, 0, c.size); // what a consumer that ran too early would see: zeros

    accel_prime_handle ph{c.handle, ACCEL_CLOEXEC | ACCEL_RDWR, -1};
    REQUIRE(be.ioctl(dnn_fd, ACCEL_IOCTL_PRIME_HANDLE_TO_FD, &ph) == 0);
    const int dmabuf = ph.fd;
    accel_prime_handle imp{0, 0, dmabuf};
    REQUIRE(be.ioctl(dsp_fd, ACCEL_IOCTL_PRIME_FD_TO_HANDLE, &imp) == 0);
    vdsp::client_buffer in{imp.handle, c.size, 0, nullptr}, out;
    REQUIRE(dsp->create(c.size, out) == 0);

    const hang_clock hc;
    const std::uint32_t gate = syncobj(dnn_fd);
    hang(gate);
    REQUIRE(fill_after(c, gate) > 0);
    const float one = 1.0f;
    const std::int64_t job = dsp->fir(in, out, samples, {&one, 1}); // out = in: no syncobj named
    REQUIRE(job > 0);
    std::int32_t err = 1;
    const int early = dsp->wait(static_cast<std::uint64_t>(job), 20'000'000, err);
    pollfd p{dmabuf, POLLIN | POLLOUT, 0};
    const int early_poll = be.poll(&p, 1, 0);
    const short early_revents = p.revents;
    if (hc.certain()) {
        CHECK(early == -ETIME);
        CHECK(early_poll == 0); // a writer (vdnn's FILL) and a reader (vdsp's FIR) pending
        CHECK(early_revents == 0);
    } else {
        MESSAGE("the hang's timeout passed before the checks ended (a loaded machine): the order is not checked");
    }
    // vdnn's hang times out, its FILL runs, then vdsp's FIR: out holds the FILL's data.
    REQUIRE(dsp->wait(static_cast<std::uint64_t>(job), 10 * second, err) == 0);
    CHECK(err == 0);
    const float* y = out.as<float>();
    std::vector<float> ones(samples, 1.0f);
    CHECK(std::memcmp(y, ones.data(), samples * 4) == 0);
    // POLLOUT: every fence (the reader too) has signalled; POLLIN: the writers have.
    p.events = POLLOUT;
    CHECK(be.poll(&p, 1, 10'000) == 1);
    CHECK(p.revents == POLLOUT);
    p.events = POLLIN;
    CHECK(be.poll(&p, 1, 0) == 1);
    CHECK(p.revents == POLLIN);
    CHECK(be.close(dmabuf) == 0);
}

TEST_CASE_FIXTURE(fixture, "explicit sync: a vdnn syncobj's fence as a sync file, imported into a vdsp syncobj, orders the jobs") {
    // Separate buffers on each side: no shared reservation object, only the syncobj orders them.
    vdnn::client_buffer c;
    REQUIRE(dnn->create(std::uint64_t{samples} * 4, VDNN_REGION_HOST, c) == 0);
    REQUIRE(dnn->bind(c, VDNN_BIND_READ | VDNN_BIND_WRITE) == 0);
    vdsp::client_buffer a, b;
    REQUIRE(dsp->create(c.size, a) == 0);
    REQUIRE(dsp->create(c.size, b) == 0);
    for (std::uint32_t i = 0; i < samples; ++i)
        a.as<float>()[i] = 2.0f;

    const hang_clock hc;
    const std::uint32_t gate = syncobj(dnn_fd), done = syncobj(dnn_fd);
    hang(gate);
    REQUIRE(fill_after(c, gate, done) > 0);
    accel_syncobj_handle ex{};
    ex.handle = done;
    ex.flags = ACCEL_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE;
    ex.fd = -1;
    REQUIRE(be.ioctl(dnn_fd, ACCEL_IOCTL_SYNCOBJ_HANDLE_TO_FD, &ex) == 0);
    const std::uint32_t wait_for = syncobj(dsp_fd);
    accel_syncobj_handle im{};
    im.handle = wait_for;
    im.flags = ACCEL_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE;
    im.fd = ex.fd;
    REQUIRE(be.ioctl(dsp_fd, ACCEL_IOCTL_SYNCOBJ_FD_TO_HANDLE, &im) == 0);
    CHECK(be.close(ex.fd) == 0); // the syncobj holds the fence now

    vdsp_submit s{};
    s.op = VDSP_OP_FIR;
    s.in_handle = a.handle;
    s.out_handle = b.handle;
    s.count = samples;
    const float one = 1.0f;
    s.fir_taps = 1;
    s.coef = uptr(&one);
    s.in_syncobj = wait_for;
    const std::int64_t job = dsp->submit(s);
    REQUIRE(job > 0);
    std::int32_t err = 1;
    const int early = dsp->wait(static_cast<std::uint64_t>(job), 20'000'000, err);
    if (hc.certain())
        CHECK(early == -ETIME);
    else
        MESSAGE("the hang's timeout passed before the check ended (a loaded machine): the order is not checked");
    REQUIRE(dsp->wait(static_cast<std::uint64_t>(job), 10 * second, err) == 0);
    CHECK(err == 0);
    CHECK(b.as<float>()[samples - 1] == 2.0f);
    // And vdnn's FILL has run by then: the syncobj carried its fence.
    CHECK(static_cast<const float*>(c.map)[0] == 1.0f);
}

TEST_CASE_FIXTURE(fixture, "a dma-buf closed while a poll armed its callbacks on pending fences is released safely") {
    vdnn::client_buffer c;
    REQUIRE(dnn->create(std::uint64_t{samples} * 4, VDNN_REGION_HOST, c) == 0);
    REQUIRE(dnn->bind(c, VDNN_BIND_READ | VDNN_BIND_WRITE) == 0);
    accel_prime_handle ph{c.handle, ACCEL_CLOEXEC | ACCEL_RDWR, -1};
    REQUIRE(be.ioctl(dnn_fd, ACCEL_IOCTL_PRIME_HANDLE_TO_FD, &ph) == 0);
    const std::uint32_t gate = syncobj(dnn_fd), done = syncobj(dnn_fd);
    hang(gate);
    REQUIRE(fill_after(c, gate, done) > 0);
    pollfd p{ph.fd, POLLIN | POLLOUT, 0};
    (void)be.poll(&p, 1, 0); // arms the buffer's callbacks on the pending writer
    CHECK(be.close(ph.fd) == 0);
    // The object's handle goes too, so the dma-buf's last reference is the armed callback's.
    (void)dnn->release(c);
    accel_syncobj_wait w{};
    w.handles = uptr(&done);
    w.count_handles = 1;
    w.timeout_nsec = accel::monotonic_ns() + 10 * second;
    CHECK(be.ioctl(dnn_fd, ACCEL_IOCTL_SYNCOBJ_WAIT, &w) == 0);
}

// The last reference of a device dropped on its own engine thread. An imported object keeps its
// importer alive (its dma-buf attachment holds a device_ref), and vdsp's work on the engine
// thread holds the job's objects in its captures. Here vdsp's job is running (held inside the
// work by the firmware lock) when the client closes its vdsp file, unregisters vdsp and drops
// its own reference. Unplug cancels the job; unless remove() waits for the engine to let go of
// the work, the engine thread drops the import, and with it the device, when the work returns:
// destroying the device there joins the engine thread from itself ("Resource deadlock
// avoided") or waits for the engine's lock that thread holds. The client's last reference
// must destroy the device itself, on its own thread.
TEST_CASE("a device is not destroyed on its engine thread by a job that was running at unplug") {
    accel::subsystem sub;
    mock be{sub};
    auto d0 = accel::device<vdnn::driver>::create(vdnn::device_config{});
    vdsp::device_config sc;
    sc.loader = accel::firmware_loader::with_path({VDSP_FIRMWARE_DIR});
    auto d1 = accel::device<vdsp::driver>::create(sc);
    REQUIRE(d0);
    REQUIRE(d1);
    accel::device<vdnn::driver>::ref dnn_dev = std::move(*d0);
    accel::device<vdsp::driver>::ref dsp_dev = std::move(*d1);
    auto r0 = sub.register_device(dnn_dev);
    auto r1 = sub.register_device(dsp_dev);
    REQUIRE(r0);
    REQUIRE(r1);
    accel::registration reg_dnn = std::move(*r0), reg_dsp = std::move(*r1);
    const int dnn_fd = be.open(std::string(be.root()) + "/" + accel::node_name(accel::node_kind::compute, reg_dnn.minor()));
    const int dsp_fd = be.open(std::string(be.root()) + "/" + accel::node_name(accel::node_kind::compute, reg_dsp.minor()));
    REQUIRE(dnn_fd >= 0);
    REQUIRE(dsp_fd >= 0);

    std::atomic<bool> locked{false};
    std::thread holder;
    {
        vdnn::client<mock> dnn(be, dnn_fd);
        vdsp::client<mock> dsp(be, dsp_fd);
        vdnn::client_buffer c;
        REQUIRE(dnn.create(std::uint64_t{samples} * 4, VDNN_REGION_HOST, c) == 0);
        accel_prime_handle ph{c.handle, ACCEL_CLOEXEC | ACCEL_RDWR, -1};
        REQUIRE(be.ioctl(dnn_fd, ACCEL_IOCTL_PRIME_HANDLE_TO_FD, &ph) == 0);
        accel_prime_handle imp{0, 0, ph.fd};
        REQUIRE(be.ioctl(dsp_fd, ACCEL_IOCTL_PRIME_FD_TO_HANDLE, &imp) == 0);
        CHECK(be.close(ph.fd) == 0);
        vdsp::client_buffer in{imp.handle, c.size, 0, nullptr}, out;
        REQUIRE(dsp.create(c.size, out) == 0);
        const float one = 1.0f;
        dsp_dev->data().hw.hang(); // the job waits on the engine ...
        REQUIRE(dsp.fir(in, out, samples, {&one, 1}) > 0);
        for (int i = 0; i < 10000 && dsp_dev->data().hw.in_flight() == 0; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        // ... until the firmware lock is held (let go after 300 ms): then it waits inside the work.
        holder = std::thread([&, &fw_lock = dsp_dev->data().fw_mutex] {
            std::lock_guard g(fw_lock);
            locked = true;
            std::this_thread::sleep_for(std::chrono::milliseconds(300));
        });
        while (!locked)
            std::this_thread::yield();
        dsp_dev->data().hw.resume();
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        CHECK(dsp.release(out) == 0);
        CHECK(dnn.release(c) == 0);
    }
    CHECK(be.close(dsp_fd) == 0);
    CHECK(dsp_dev->data().hw.in_flight() == 1); // in the work, waiting for the lock
    reg_dsp.reset(); // unplug: the running job is cancelled
    CHECK(sub.minors_in_use() == 2);
    dsp_dev.reset(); // the client's last reference: the device goes now, here
    CHECK(sub.minors_in_use() == 1);
    holder.join();
    CHECK(be.close(dnn_fd) == 0);
    reg_dnn.reset();
    dnn_dev.reset();
    CHECK(sub.minors_in_use() == 0);
}

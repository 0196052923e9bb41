// SPDX-License-Identifier: MIT
// Syncobjs through FUSE: the syncobj conformance cases (tests/core/syncobj_conformance.hpp, the
// same as on the mock) on a served device<syncobj_driver>; a parked wait ended by a signal with
// EINTR while the device goes on answering; and libdrm's drmSyncobj* calls that return no
// descriptor, unmodified, on the served node (drmSyncobjWait restarting after EINTR as drmIoctl
// does). The calls that return a descriptor (HANDLE_TO_FD, sync files, libsync's sync_merge)
// wait for the FUSE side of fd_install; they run on the mock (tests/core/syncobj_test.cpp).
#include "fuse_fixture.hpp"
#include "signals.hpp"
#include "syncobj_conformance.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <pthread.h>
#include <sys/ioctl.h>
#include <thread>

#ifdef ACCEL_HAVE_LIBDRM
#include <xf86drm.h>
#endif

namespace accel::test {
namespace {

/// Asks the server for the syncobj device before it starts (the environment is inherited).
struct serve_syncobj {
    serve_syncobj() { ::setenv("ACCEL_TEST_SERVE_SYNCOBJ", "1", 1); }
};

struct fuse_env : serve_syncobj, fuse_fixture {
    backend::syscall& client() { return sys; }
    std::string syncobj_node() const { return compute(3); }
    static void reset_fences() {} // they live in the server, which each fixture starts afresh
};

} // namespace

TEST_CASE_TEMPLATE_INVOKE(so::syncobj_conformance, fuse_env);

TEST_CASE("fuse syncobj: a signal ends a parked WAIT with EINTR, the device answers meanwhile") {
    so::fixture<fuse_env> fx;
    const std::uint32_t h = fx.create();
    REQUIRE(fx.set(h, 0) == 0);
    usr2_interrupts scope;
    std::atomic<int> err{-1};
    std::atomic<bool> started{false};
    pthread_t id{};
    std::thread t([&] {
        id = pthread_self();
        started = true;
        std::uint32_t hs[1] = {h};
        accel_syncobj_wait w{};
        w.handles = so::uptr(hs);
        w.count_handles = 1;
        w.timeout_nsec = so::forever;
        // Raw ioctl(2): backend::syscall retries EINTR as drmIoctl does.
        err = ::ioctl(fx.fd, ACCEL_IOCTL_SYNCOBJ_WAIT, &w) == 0 ? 0 : errno;
    });
    while (!started)
        std::this_thread::yield();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    CHECK(err == -1); // still waiting
    // The parked wait holds no thread and no lock: the same file answers other calls.
    CHECK(fx.wait({h}, 0, 0) == -ETIME);
    CHECK(fx.create() != 0);
    REQUIRE(pthread_kill(id, SIGUSR2) == 0);
    t.join();
    CHECK(err == EINTR);
    // The syncobj still works, waits included.
    fx.signal(0);
    CHECK(fx.wait({h}, so::in_ms(1000), 0) == 0);
}

#ifdef ACCEL_HAVE_LIBDRM
TEST_CASE("fuse syncobj: libdrm's drmSyncobj* calls work unmodified on a served node") {
    so::fixture<fuse_env> fx;
    const int fd = fx.fd;
    std::uint32_t a = 0, b = 0, t = 0;
    REQUIRE(drmSyncobjCreate(fd, 0, &a) == 0);
    REQUIRE(drmSyncobjCreate(fd, DRM_SYNCOBJ_CREATE_SIGNALED, &b) == 0);
    REQUIRE(drmSyncobjCreate(fd, 0, &t) == 0);
    CHECK(a == 1);
    CHECK(b == 2);
    // Wait and TimelineWait return -errno; the others -1 with errno.
    std::uint32_t first = 99;
    std::uint32_t hs[2] = {a, b};
    CHECK(drmSyncobjWait(fd, hs, 2, 0, 0, &first) == -EINVAL); // a has no fence
    CHECK(drmSyncobjWait(fd, &b, 1, 0, 0, &first) == 0);
    CHECK(first == 0);
    CHECK(drmSyncobjWait(fd, hs, 2, 0, DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT, &first) == 0);
    CHECK(first == 1);
    CHECK(drmSyncobjWait(fd, hs, 2, 0, DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT | DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL, &first) ==
          -ETIME);
    CHECK(drmSyncobjSignal(fd, &a, 1) == 0);
    CHECK(drmSyncobjWait(fd, hs, 2, so::in_ms(100), DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL, &first) == 0);
    CHECK(drmSyncobjReset(fd, &a, 1) == 0);
    CHECK(drmSyncobjWait(fd, &a, 1, 0, 0, &first) == -EINVAL);
    std::uint32_t bad = 77;
    errno = 0;
    CHECK(drmSyncobjReset(fd, &bad, 1) == -1);
    CHECK(errno == ENOENT);
    // Timeline: signal points 1 and 3, query, wait, transfer.
    std::uint64_t p1 = 1, p3 = 3, out = 0;
    CHECK(drmSyncobjTimelineSignal(fd, &t, &p1, 1) == 0);
    CHECK(drmSyncobjQuery(fd, &t, &out, 1) == 0);
    CHECK(out == 1);
    CHECK(drmSyncobjTimelineWait(fd, &t, &p1, 1, 0, 0, &first) == 0);
    CHECK(drmSyncobjTimelineWait(fd, &t, &p3, 1, 0, 0, &first) == -EINVAL);
    CHECK(drmSyncobjTimelineWait(fd, &t, &p3, 1, so::in_ms(20), DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE, &first) == -ETIME);
    CHECK(drmSyncobjTimelineSignal(fd, &t, &p3, 1) == 0);
    CHECK(drmSyncobjTimelineWait(fd, &t, &p3, 1, 0, 0, &first) == 0);
    CHECK(drmSyncobjQuery2(fd, &t, &out, 1, DRM_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED) == 0);
    CHECK(out == 3);
    // Transfer timeline point 3 into binary a, and binary b into timeline point 5 of t.
    CHECK(drmSyncobjTransfer(fd, a, 0, t, 3, 0) == 0);
    CHECK(drmSyncobjWait(fd, &a, 1, 0, 0, &first) == 0);
    CHECK(drmSyncobjTransfer(fd, t, 5, b, 0, 0) == 0);
    CHECK(drmSyncobjQuery2(fd, &t, &out, 1, DRM_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED) == 0);
    CHECK(out == 5);
    errno = 0;
    CHECK(drmSyncobjTransfer(fd, 99, 0, t, 3, 0) == -1);
    CHECK(errno == ENOENT);
    // A pending fence from the driver, waited for by libdrm while another thread signals it;
    // a signal in between interrupts the wait, and drmIoctl restarts it.
    std::uint32_t c = 0;
    REQUIRE(drmSyncobjCreate(fd, 0, &c) == 0);
    REQUIRE(fx.set(c, 2) == 0);
    usr2_interrupts scope;
    std::atomic<int> r{1};
    pthread_t id{};
    std::atomic<bool> started{false};
    std::thread waiter([&] {
        id = pthread_self();
        started = true;
        std::uint32_t f = 0;
        r = drmSyncobjWait(fd, &c, 1, INT64_MAX, 0, &f);
    });
    while (!started)
        std::this_thread::yield();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    REQUIRE(pthread_kill(id, SIGUSR2) == 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    CHECK(r == 1); // restarted, still waiting
    fx.signal(2);
    waiter.join();
    CHECK(r == 0);
    for (std::uint32_t h : {a, b, t, c})
        CHECK(drmSyncobjDestroy(fd, h) == 0);
    errno = 0;
    CHECK(drmSyncobjDestroy(fd, a) == -1);
    CHECK(errno == EINVAL);
}
#endif

} // namespace accel::test

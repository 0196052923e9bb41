// SPDX-License-Identifier: MIT
// Syncobjs and sync files through the mock (share/syncobj.hpp, share/sync_file.hpp). The calls
// that return no descriptor are the syncobj conformance cases (syncobj_conformance.hpp), run
// here on the mock and in tests/fuse/syncobj_test.cpp through FUSE. Here, mock only until FUSE
// can hand out descriptors: HANDLE_TO_FD / FD_TO_HANDLE with and without sync files, sync file
// MERGE / FILE_INFO / poll / SET_DEADLINE, and libsync's sync_wait / sync_merge done the way
// libsync.h does them, on mock descriptors.
#include "syncobj_conformance.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

namespace {

using namespace accel;
using namespace accel::test;
using namespace accel::test::so;

/// The mock environment of the conformance cases: a syncobj device on a mock.
struct mock_env {
    static constexpr bool passes_descriptors = true;
    subsystem sub;
    registration reg;
    backend::mock mock{sub};
    mock_env() {
        auto d = device<syncobj_driver>::create();
        REQUIRE(d);
        auto r = sub.register_device(*d);
        REQUIRE(r);
        reg = std::move(*r);
    }
    backend::mock& client() { return mock; }
    std::string syncobj_node() const { return std::string(mock.root()) + "/" + node_name(node_kind::compute, reg.minor()); }
    static void reset_fences() { test_fences.reset(); }
};

TEST_CASE_TEMPLATE_INVOKE(syncobj_conformance, mock_env);

/// The mock-only cases: the conformance fixture plus the sync-file export.
struct fixture : so::fixture<mock_env> {
    int export_sync_file(unsigned fence) {
        so_fence_arg a{fence, -1};
        REQUIRE(io(SO_TEST_EXPORT, &a) == 0);
        return a.fd;
    }
};

} // namespace

TEST_CASE_FIXTURE(fixture, "syncobj: HANDLE_TO_FD and FD_TO_HANDLE share a syncobj, every import is a new handle") {
    std::uint32_t h = create();
    accel_syncobj_handle a{h, 0, -1, 0, 0};
    REQUIRE(io(ACCEL_IOCTL_SYNCOBJ_HANDLE_TO_FD, &a) == 0);
    const int sfd = a.fd;
    CHECK(sfd > fd);
    accel_syncobj_handle b{0, 0, sfd, 0, 0};
    REQUIRE(io(ACCEL_IOCTL_SYNCOBJ_FD_TO_HANDLE, &b) == 0);
    CHECK(b.handle != h);
    accel_syncobj_handle c{0, 0, sfd, 0, 0};
    REQUIRE(io(ACCEL_IOCTL_SYNCOBJ_FD_TO_HANDLE, &c) == 0);
    CHECK(c.handle != b.handle); // test-valid-cycle
    // The same object: a fence set through one handle is seen through the other.
    REQUIRE(set(h, 0) == 0);
    CHECK(wait({b.handle}, 0, 0) == -ETIME);
    signal(0);
    CHECK(wait({c.handle}, 0, 0) == 0);
    // Another file of the same device imports it too.
    int fd2 = mock.open(std::string(mock.root()) + "/" + node_name(node_kind::compute, reg.minor()), O_RDWR);
    accel_syncobj_handle d{0, 0, sfd, 0, 0};
    REQUIRE(mock.ioctl(fd2, ACCEL_IOCTL_SYNCOBJ_FD_TO_HANDLE, &d) == 0);
    CHECK(d.handle == 1);
    CHECK(mock.close(fd2) == 0);
    CHECK(mock.close(sfd) == 0);
}

TEST_CASE_FIXTURE(fixture, "syncobj: HANDLE_TO_FD / FD_TO_HANDLE errors (bad-flags, bad-pad, illegal-fd-to-handle)") {
    std::uint32_t h = create();
    const int before = static_cast<int>(mock.open_descriptors());
    auto h2f = [&](accel_syncobj_handle a) { return io(ACCEL_IOCTL_SYNCOBJ_HANDLE_TO_FD, &a); };
    auto f2h = [&](accel_syncobj_handle a) { return io(ACCEL_IOCTL_SYNCOBJ_FD_TO_HANDLE, &a); };
    CHECK(h2f({h, 0, -1, 1, 0}) == -EINVAL);    // pad
    CHECK(h2f({h, 0x4, -1, 0, 0}) == -EINVAL);  // unknown flag
    CHECK(h2f({h, ACCEL_SYNCOBJ_HANDLE_TO_FD_FLAGS_TIMELINE, -1, 0, 0}) == -EINVAL); // TIMELINE alone
    CHECK(h2f({h, 0, -1, 0, 5}) == -EINVAL);    // point without TIMELINE|EXPORT
    CHECK(h2f({99, 0, -1, 0, 0}) == -EINVAL);   // bad-handle-to-fd
    constexpr __u32 exp = ACCEL_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE;
    CHECK(h2f({99, exp, -1, 0, 0}) == -ENOENT); // export: unknown handle
    CHECK(h2f({h, exp, -1, 0, 0}) == -EINVAL);  // export: no fence
    CHECK(f2h({0, 0, fd, 1, 0}) == -EINVAL);    // pad
    CHECK(f2h({0, 0x4, fd, 0, 0}) == -EINVAL);
    CHECK(f2h({0, 0, fd, 0, 3}) == -EINVAL);    // point without TIMELINE|IMPORT
    CHECK(f2h({0, 0, -1, 0, 0}) == -EINVAL);    // bad-fd-to-handle
    CHECK(f2h({0, 0, 999, 0, 0}) == -EINVAL);
    CHECK(f2h({0, 0, fd, 0, 0}) == -EINVAL);    // illegal-fd-to-handle: not a syncobj file
    constexpr __u32 imp = ACCEL_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE;
    CHECK(f2h({h, imp, fd, 0, 0}) == -EINVAL);  // import: not a sync file
    const int sf = export_sync_file(0);
    CHECK(f2h({99, imp, sf, 0, 0}) == -ENOENT); // import: unknown handle
    CHECK(static_cast<int>(mock.open_descriptors()) == before + 1); // nothing left behind
    CHECK(mock.close(sf) == 0);
}

TEST_CASE_FIXTURE(fixture, "syncobj: sync-file export and import, binary and timeline") {
    constexpr __u32 exp = ACCEL_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE;
    constexpr __u32 imp = ACCEL_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE;
    constexpr __u32 tlf = ACCEL_SYNCOBJ_FD_TO_HANDLE_FLAGS_TIMELINE;
    // import into a binary syncobj: the sync file's fence replaces the fence
    std::uint32_t h = create();
    const int sf = export_sync_file(0);
    accel_syncobj_handle a{h, imp, sf, 0, 0};
    REQUIRE(io(ACCEL_IOCTL_SYNCOBJ_FD_TO_HANDLE, &a) == 0);
    CHECK(wait({h}, 0, 0) == -ETIME);
    // import as timeline point 3
    std::uint32_t t = create();
    a = {t, imp | tlf, sf, 0, 3};
    REQUIRE(io(ACCEL_IOCTL_SYNCOBJ_FD_TO_HANDLE, &a) == 0);
    CHECK(query(t, ACCEL_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED) == 3);
    // export point 3 as a sync file: pending, then POLLIN once signalled
    a = {t, exp | ACCEL_SYNCOBJ_HANDLE_TO_FD_FLAGS_TIMELINE, -1, 0, 3};
    REQUIRE(io(ACCEL_IOCTL_SYNCOBJ_HANDLE_TO_FD, &a) == 0);
    const int out = a.fd;
    a = {t, exp | ACCEL_SYNCOBJ_HANDLE_TO_FD_FLAGS_TIMELINE, -1, 0, 4};
    CHECK(io(ACCEL_IOCTL_SYNCOBJ_HANDLE_TO_FD, &a) == -EINVAL); // point not submitted
    pollfd p{out, POLLIN, 0};
    CHECK(mock.poll(&p, 1, 0) == 0);
    signal(0);
    CHECK(mock.poll(&p, 1, 0) == 1);
    CHECK(p.revents == POLLIN);
    CHECK(wait({h}, 0, 0) == 0);
    // a signalled point exports a (signalled) stub
    a = {t, exp | ACCEL_SYNCOBJ_HANDLE_TO_FD_FLAGS_TIMELINE, -1, 0, 3};
    REQUIRE(io(ACCEL_IOCTL_SYNCOBJ_HANDLE_TO_FD, &a) == 0);
    p = {a.fd, POLLIN, 0};
    CHECK(mock.poll(&p, 1, 0) == 1);
    for (int x : {sf, out, a.fd})
        CHECK(mock.close(x) == 0);
}

TEST_CASE_FIXTURE(fixture, "syncobj: handles go at close, a shared syncobj outlives the file that made it") {
    std::uint32_t h = create();
    REQUIRE(set(h, 0) == 0);
    accel_syncobj_handle a{h, 0, -1, 0, 0};
    REQUIRE(io(ACCEL_IOCTL_SYNCOBJ_HANDLE_TO_FD, &a) == 0);
    CHECK(mock.close(fd) == 0);
    fd = mock.open(std::string(mock.root()) + "/" + node_name(node_kind::compute, reg.minor()), O_RDWR);
    REQUIRE(fd >= 0);
    accel_syncobj_handle b{0, 0, a.fd, 0, 0};
    REQUIRE(io(ACCEL_IOCTL_SYNCOBJ_FD_TO_HANDLE, &b) == 0);
    CHECK(wait({b.handle}, 0, 0) == -ETIME);
    signal(0);
    CHECK(wait({b.handle}, 0, 0) == 0);
    CHECK(mock.close(a.fd) == 0);
}

// ---- sync files ----

TEST_CASE_FIXTURE(fixture, "sync_file: MERGE rules: flags, pad, fd2 not a sync file, name, self-merge, O_CLOEXEC result") {
    const int a = export_sync_file(0), b = export_sync_file(1);
    const int before = static_cast<int>(mock.open_descriptors());
    sync_merge_data m{};
    std::strcpy(m.name, "merged");
    m.fd2 = b;
    m.flags = 1;
    CHECK(mock.ioctl(a, SYNC_IOC_MERGE, &m) == -EINVAL);
    m.flags = 0;
    m.pad = 1;
    CHECK(mock.ioctl(a, SYNC_IOC_MERGE, &m) == -EINVAL);
    m.pad = 0;
    m.fd2 = fd; // the device file
    CHECK(mock.ioctl(a, SYNC_IOC_MERGE, &m) == -ENOENT);
    m.fd2 = 1000;
    CHECK(mock.ioctl(a, SYNC_IOC_MERGE, &m) == -ENOENT);
    CHECK(mock.ioctl(a, SYNC_IOC_MERGE, nullptr) == -EFAULT);
    CHECK(static_cast<int>(mock.open_descriptors()) == before); // no descriptor from a failure
    m.fd2 = b;
    REQUIRE(mock.ioctl(a, SYNC_IOC_MERGE, &m) == 0);
    const int c = m.fence;
    CHECK(c >= 0);
    sync_file_info info{};
    REQUIRE(mock.ioctl(c, SYNC_IOC_FILE_INFO, &info) == 0);
    CHECK(std::string(info.name) == "merged");
    CHECK(info.num_fences == 2);
    CHECK(info.status == 0);
    // a file merged with itself: one fence
    m = {};
    m.fd2 = a;
    REQUIRE(mock.ioctl(a, SYNC_IOC_MERGE, &m) == 0);
    info = {};
    REQUIRE(mock.ioctl(m.fence, SYNC_IOC_FILE_INFO, &info) == 0);
    CHECK(info.num_fences == 1);
    // the name is cut at 31 characters
    sync_merge_data longname{};
    std::memset(longname.name, 'x', sizeof longname.name);
    longname.fd2 = b;
    REQUIRE(mock.ioctl(a, SYNC_IOC_MERGE, &longname) == 0);
    info = {};
    REQUIRE(mock.ioctl(longname.fence, SYNC_IOC_FILE_INFO, &info) == 0);
    CHECK(std::strlen(info.name) == 31);
    // the merged fence signals when both have
    pollfd p{c, POLLIN, 0};
    signal(0);
    CHECK(mock.poll(&p, 1, 0) == 0);
    signal(1);
    CHECK(mock.poll(&p, 1, 0) == 1);
    for (int x : {a, b, c, m.fence, longname.fence})
        CHECK(mock.close(x) == 0);
}

TEST_CASE_FIXTURE(fixture, "sync_file: FILE_INFO rules: count only, too small, per-fence info, status and name") {
    const int a = export_sync_file(0), b = export_sync_file(1);
    sync_merge_data m{};
    m.fd2 = b;
    REQUIRE(mock.ioctl(a, SYNC_IOC_MERGE, &m) == 0);
    sync_file_info info{};
    info.flags = 1;
    CHECK(mock.ioctl(m.fence, SYNC_IOC_FILE_INFO, &info) == -EINVAL);
    info = {};
    info.pad = 1;
    CHECK(mock.ioctl(m.fence, SYNC_IOC_FILE_INFO, &info) == -EINVAL);
    info = {};
    REQUIRE(mock.ioctl(m.fence, SYNC_IOC_FILE_INFO, &info) == 0);
    CHECK(info.num_fences == 2);
    CHECK(info.status == 0);
    // merged with an empty name: the default name, of the merged fence (an array)
    CHECK(std::string(info.name).rfind("dma_fence_array-unbound", 0) == 0);
    info.num_fences = 1;
    CHECK(mock.ioctl(m.fence, SYNC_IOC_FILE_INFO, &info) == -EINVAL); // too small
    sync_fence_info fi[2] = {};
    test_fences.get(1)->set_error(-EIO);
    signal(1);
    info = {};
    info.num_fences = 2;
    info.sync_fence_info = uptr(fi);
    REQUIRE(mock.ioctl(m.fence, SYNC_IOC_FILE_INFO, &info) == 0);
    CHECK(info.status == 0); // the first leaf status <= 0: fence 0 still pending
    CHECK(std::string(fi[0].driver_name) == "sotest");
    CHECK(std::string(fi[0].obj_name) == "ring0");
    CHECK(fi[0].status == 0);
    CHECK(fi[0].timestamp_ns == 0);
    CHECK(fi[1].status == -EIO);
    CHECK(fi[1].timestamp_ns != 0);
    CHECK(fi[1].flags == 0);
    info.sync_fence_info = bad_ptr;
    CHECK(mock.ioctl(m.fence, SYNC_IOC_FILE_INFO, &info) == -EFAULT);
    // the default name of a single fence: driver-timeline<ctx>-<seqno>
    info = {};
    REQUIRE(mock.ioctl(a, SYNC_IOC_FILE_INFO, &info) == 0);
    CHECK(std::string(info.name) == "sotest-ring0" + std::to_string(test_fences.ctx) + "-1");
    CHECK(info.num_fences == 1);
    for (int x : {a, b, m.fence})
        CHECK(mock.close(x) == 0);
}

TEST_CASE_FIXTURE(fixture, "sync_file: poll is POLLIN once signalled, even with an error, SET_DEADLINE, unknown ioctls -ENOTTY") {
    const int a = export_sync_file(0);
    pollfd p{a, POLLIN | POLLOUT, 0};
    CHECK(mock.poll(&p, 1, 0) == 0);
    std::thread later([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        test_fences.get(0)->set_error(-EIO);
        test_fences.get(0)->signal();
    });
    CHECK(mock.poll(&p, 1, 5000) == 1); // woken by the signal
    later.join();
    CHECK(p.revents == POLLIN);
    sync_set_deadline d{123, 1};
    CHECK(mock.ioctl(a, SYNC_IOC_SET_DEADLINE, &d) == -EINVAL);
    d.pad = 0;
    CHECK(mock.ioctl(a, SYNC_IOC_SET_DEADLINE, &d) == 0);
    CHECK(mock.ioctl(a, _IOWR('>', 2, int), &d) == -ENOTTY);
    CHECK(mock.ioctl(a, ACCEL_IOCTL_VERSION, &d) == -ENOTTY);
    CHECK(mock.close(a) == 0);
}

TEST_CASE("sync_file: the public API: create, get_fence, is_sync_file") {
    fence_ptr f = make_fence(fence_context_alloc(), 1);
    auto file = sync_file_create(f);
    REQUIRE(file);
    CHECK(is_sync_file(**file));
    CHECK(sync_file_get_fence(**file) == f);
    CHECK(sync_file_create(nullptr).error() == -EINVAL);
    f->signal();
}

// ---- libsync.h, the way it does it (sync_wait: poll POLLIN retrying on EINTR/EAGAIN, -1/ETIME
// on timeout; sync_merge: SYNC_IOC_MERGE), on mock descriptors. Through FUSE these wait for the
// fd mechanism (a sync file descriptor cannot come back through FUSE yet). ----

namespace {
int libsync_wait(backend::mock& m, int fd, int timeout_ms, int& err) {
    pollfd fds{fd, POLLIN, 0};
    int ret;
    do {
        ret = m.poll(&fds, 1, timeout_ms);
        if (ret > 0) {
            if (fds.revents & (POLLERR | POLLNVAL)) {
                err = EINVAL;
                return -1;
            }
            return 0;
        } else if (ret == 0) {
            err = ETIME;
            return -1;
        }
    } while (ret == -EINTR || ret == -EAGAIN);
    err = -ret;
    return -1;
}
int libsync_merge(backend::mock& m, const char* name, int fd1, int fd2) {
    sync_merge_data data{};
    data.fd2 = fd2;
    std::strncpy(data.name, name, sizeof data.name - 1);
    int ret = m.ioctl(fd1, SYNC_IOC_MERGE, &data);
    return ret < 0 ? ret : data.fence;
}
} // namespace

TEST_CASE_FIXTURE(fixture, "libsync: sync_wait times out with ETIME, then returns 0, sync_merge waits for both") {
    const int a = export_sync_file(0), b = export_sync_file(1);
    int err = 0;
    CHECK(libsync_wait(mock, a, 10, err) == -1);
    CHECK(err == ETIME);
    const int c = libsync_merge(mock, "pair", a, b);
    REQUIRE(c >= 0);
    signal(0);
    CHECK(libsync_wait(mock, a, 0, err) == 0);
    CHECK(libsync_wait(mock, c, 0, err) == -1);
    signal(1);
    CHECK(libsync_wait(mock, c, 1000, err) == 0);
    CHECK(libsync_merge(mock, "bad", a, fd) == -ENOENT);
    for (int x : {a, b, c})
        CHECK(mock.close(x) == 0);
}

TEST_CASE_FIXTURE(fixture, "syncobj: a parked wait ends with -ENODEV at unplug and -EBADF at close (mock), leaving nothing behind") {
    std::uint32_t h = create();
    REQUIRE(set(h, 0) == 0);
    // Close: the mock ends the calls parked through the descriptor (core's rule).
    {
        const int fd2 = mock.open(syncobj_node(), O_RDWR);
        REQUIRE(fd2 >= 0);
        accel_syncobj_create c{0, 0};
        REQUIRE(mock.ioctl(fd2, ACCEL_IOCTL_SYNCOBJ_CREATE, &c) == 0);
        so_set_arg s{c.handle, 1, 0};
        REQUIRE(mock.ioctl(fd2, SO_TEST_SET, &s) == 0);
        std::atomic<int> result{1};
        std::thread waiter([&] {
            accel_syncobj_wait w{};
            w.handles = uptr(&c.handle);
            w.count_handles = 1;
            w.timeout_nsec = forever;
            result = mock.ioctl(fd2, ACCEL_IOCTL_SYNCOBJ_WAIT, &w);
        });
        std::this_thread::sleep_for(std::chrono::milliseconds(30));
        CHECK(mock.close(fd2) == 0);
        waiter.join();
        CHECK(result == -EBADF);
    }
    // Unplug: every parked request ends with -ENODEV; the fences stay usable.
    std::atomic<int> result{1};
    std::thread waiter([&] { result = wait({h}, forever, 0); });
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    reg.reset();
    waiter.join();
    CHECK(result == -ENODEV);
    CHECK(test_fences.get(0)->signal() == 0); // wakes no one: the waiter left every queue
}

TEST_CASE_FIXTURE(fixture, "syncobj: every allocation failure is a clean -ENOMEM and leaves nothing behind") {
    std::uint32_t hs[2] = {create(), create()};
    std::uint64_t expect = 0;
    int failures = 0;
    for (std::int64_t n = 1; n < 24; ++n) {
        CAPTURE(n);
        // TIMELINE_SIGNAL on two syncobjs: both points or neither.
        std::uint64_t pts[2] = {static_cast<std::uint64_t>(n), static_cast<std::uint64_t>(n)};
        accel_syncobj_timeline_array a{uptr(hs), uptr(pts), 2, 0};
        fail_nth_allocation(n);
        int r = io(ACCEL_IOCTL_SYNCOBJ_TIMELINE_SIGNAL, &a);
        disarm_allocation_faults();
        if (r == 0) {
            expect = static_cast<std::uint64_t>(n);
        } else {
            CHECK(r == -ENOMEM);
            ++failures;
        }
        CHECK(query(hs[0], ACCEL_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED) == expect);
        CHECK(query(hs[1], ACCEL_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED) == expect);
        // CREATE: a handle, or -ENOMEM and the next handle number unused.
        accel_syncobj_create c{0, ACCEL_SYNCOBJ_CREATE_SIGNALED};
        fail_nth_allocation(n);
        r = io(ACCEL_IOCTL_SYNCOBJ_CREATE, &c);
        disarm_allocation_faults();
        if (r == 0) {
            accel_syncobj_destroy d{c.handle, 0};
            CHECK(io(ACCEL_IOCTL_SYNCOBJ_DESTROY, &d) == 0);
        } else {
            CHECK(r == -ENOMEM);
            ++failures;
        }
        CHECK(create() == 3); // the lowest free handle: nothing was left in the table
        accel_syncobj_destroy d{3, 0};
        CHECK(io(ACCEL_IOCTL_SYNCOBJ_DESTROY, &d) == 0);
    }
    CHECK(failures > 2); // the injector reached the syncobj paths
}

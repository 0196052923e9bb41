// SPDX-License-Identifier: MIT
// The syncobj and sync-file conformance cases, written once against the client_backend
// interface and run on the mock (tests/core/syncobj_test.cpp) and through FUSE
// (tests/fuse/syncobj_test.cpp), so both answer alike: every errno of KERNEL-EXEC.md 4.3 (IGT's
// syncobj_basic/wait/timeline invalid-* cases), the wait matrix (unsubmitted / submitted /
// signalled, ALL, FOR_SUBMIT, AVAILABLE, -ETIME, first_signaled, waits woken from another
// thread), timeline QUERY / TRANSFER / TIMELINE_SIGNAL, the driver API (syncobj_find_fence);
// and the calls that return or take a descriptor: HANDLE_TO_FD / FD_TO_HANDLE of syncobj files
// and sync files (EXPORT_SYNC_FILE / IMPORT_SYNC_FILE), sync files' MERGE / FILE_INFO /
// SET_DEADLINE / poll (KERNEL-EXEC.md 3), and libsync's sync_wait / sync_merge done the way
// libsync.h does them, through the backend's poll and ioctl.
//
// An environment E provides:
//   auto& client();              the backend
//   std::string syncobj_node();  the compute node of a device<syncobj_driver>
//   void reset_fences();         forgets the test fences (where they live in this process)
//   int open_descriptors();      the caller's open descriptors (leak checks)
// and its backend knows that SO_TEST_EXPORT returns a descriptor at byte 4 (FUSE: registered
// with backend::syscall::register_fd_ioctl).
#pragma once
#include "syncobj_driver.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <string>
#include <thread>
#include <vector>

namespace accel::test::so {

inline std::uint64_t uptr(const void* p) { return static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(p)); }
constexpr unsigned long with_size(unsigned long cmd, unsigned size) {
    return _IOC(_IOC_DIR(cmd), _IOC_TYPE(cmd), _IOC_NR(cmd), size);
}
constexpr std::int64_t forever = INT64_MAX;
/// A range that wraps around the address space: a fault for every backend (the mock trusts any
/// other non-null pointer).
constexpr std::uint64_t bad_ptr = ~0ull - 3;
inline std::int64_t in_ms(int ms) { return monotonic_ns() + std::int64_t{ms} * 1'000'000; }

constexpr std::uint32_t ALL = ACCEL_SYNCOBJ_WAIT_FLAGS_WAIT_ALL;
constexpr std::uint32_t FOR_SUBMIT = ACCEL_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT;
constexpr std::uint32_t AVAILABLE = ACCEL_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE;

/// A device file of the syncobj driver and the calls the cases make on it.
template <class E>
struct fixture : E {
    int fd = -1;
    fixture() {
        this->reset_fences();
        fd = this->client().open(this->syncobj_node(), O_RDWR);
        REQUIRE(fd >= 0);
    }
    ~fixture() {
        if (fd >= 0)
            this->client().close(fd);
        this->reset_fences();
    }
    int io(unsigned long cmd, void* arg) { return this->client().ioctl(fd, cmd, arg); }
    std::uint32_t create(std::uint32_t flags = 0) {
        accel_syncobj_create c{0, flags};
        REQUIRE(io(ACCEL_IOCTL_SYNCOBJ_CREATE, &c) == 0);
        return c.handle;
    }
    int set(std::uint32_t h, unsigned fence, std::uint64_t point = 0) {
        so_set_arg a{h, fence, point};
        return io(SO_TEST_SET, &a);
    }
    void signal(unsigned fence) {
        so_fence_arg a{fence, -1};
        REQUIRE(io(SO_TEST_SIGNAL, &a) == 0);
    }
    int wait(std::vector<std::uint32_t> hs, std::int64_t timeout, std::uint32_t flags, std::uint32_t* first = nullptr) {
        accel_syncobj_wait w{};
        w.handles = uptr(hs.data());
        w.count_handles = static_cast<std::uint32_t>(hs.size());
        w.timeout_nsec = timeout;
        w.flags = flags;
        w.first_signaled = 12345;
        int r = io(ACCEL_IOCTL_SYNCOBJ_WAIT, &w);
        if (first)
            *first = w.first_signaled;
        return r;
    }
    int twait(std::vector<std::uint32_t> hs, std::vector<std::uint64_t> pts, std::int64_t timeout, std::uint32_t flags,
              std::uint32_t* first = nullptr) {
        accel_syncobj_timeline_wait w{};
        w.handles = uptr(hs.data());
        w.points = pts.empty() ? 0 : uptr(pts.data());
        w.count_handles = static_cast<std::uint32_t>(hs.size());
        w.timeout_nsec = timeout;
        w.flags = flags;
        int r = io(ACCEL_IOCTL_SYNCOBJ_TIMELINE_WAIT, &w);
        if (first)
            *first = w.first_signaled;
        return r;
    }
    std::uint64_t query(std::uint32_t h, std::uint32_t flags = 0) {
        std::uint64_t p = 999;
        accel_syncobj_timeline_array q{uptr(&h), uptr(&p), 1, flags};
        REQUIRE(io(ACCEL_IOCTL_SYNCOBJ_QUERY, &q) == 0);
        return p;
    }
    int tsignal(std::uint32_t h, std::uint64_t point) {
        accel_syncobj_timeline_array a{uptr(&h), uptr(&point), 1, 0};
        return io(ACCEL_IOCTL_SYNCOBJ_TIMELINE_SIGNAL, &a);
    }
    /// dma_fence_set_error on test fence `fence`, before its signal.
    void set_error(unsigned fence, int err) {
        so_fence_arg a{fence, err};
        REQUIRE(io(SO_TEST_ERROR, &a) == 0);
    }
    /// Test fence `fence` as a new sync file (the driver's fd_install).
    int export_sync_file(unsigned fence) {
        so_fence_arg a{fence, -1};
        REQUIRE(io(SO_TEST_EXPORT, &a) == 0);
        REQUIRE(a.fd >= 0);
        return a.fd;
    }
    /// Another file of the syncobj device.
    int open_node() {
        const int f = this->client().open(this->syncobj_node(), O_RDWR);
        REQUIRE(f >= 0);
        return f;
    }
    int ioctl(int f, unsigned long cmd, void* arg) { return this->client().ioctl(f, cmd, arg); }
    int close(int f) { return this->client().close(f); }
    /// poll(2) of one descriptor for POLLIN: the revents, 0 on timeout, or -errno.
    int poll_in(int f, int timeout_ms) {
        pollfd p{f, POLLIN, 0};
        const int r = this->client().poll(&p, 1, timeout_ms);
        return r <= 0 ? r : p.revents;
    }
    int h2f(accel_syncobj_handle& a) { return io(ACCEL_IOCTL_SYNCOBJ_HANDLE_TO_FD, &a); }
    int f2h(accel_syncobj_handle& a) { return io(ACCEL_IOCTL_SYNCOBJ_FD_TO_HANDLE, &a); }
    /// libsync.h's sync_wait through the backend: poll POLLIN, retried on EINTR/EAGAIN; 0, or -1
    /// with `err` (ETIME on timeout, EINVAL on POLLERR/POLLNVAL).
    int libsync_wait(int f, int timeout_ms, int& err) {
        pollfd fds{f, POLLIN, 0};
        int ret;
        do {
            ret = this->client().poll(&fds, 1, timeout_ms);
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
    /// libsync.h's sync_merge through the backend: the new descriptor or -errno.
    int libsync_merge(const char* name, int fd1, int fd2) {
        sync_merge_data data{};
        data.fd2 = fd2;
        std::strncpy(data.name, name, sizeof data.name - 1);
        const int ret = ioctl(fd1, SYNC_IOC_MERGE, &data);
        return ret < 0 ? ret : data.fence;
    }
};

constexpr __u32 EXPORT_SF = ACCEL_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE;
constexpr __u32 EXPORT_TL = ACCEL_SYNCOBJ_HANDLE_TO_FD_FLAGS_TIMELINE;
constexpr __u32 IMPORT_SF = ACCEL_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE;
constexpr __u32 IMPORT_TL = ACCEL_SYNCOBJ_FD_TO_HANDLE_FLAGS_TIMELINE;

TEST_CASE_TEMPLATE_DEFINE("syncobj conformance", E, syncobj_conformance) {
    fixture<E> fx;

    SUBCASE("syncobj: GET_CAP reads SYNCOBJ and SYNCOBJ_TIMELINE as 1 for a driver with the features") {
        accel_get_cap cap{ACCEL_CAP_SYNCOBJ, 0};
        CHECK(fx.io(ACCEL_IOCTL_GET_CAP, &cap) == 0);
        CHECK(cap.value == 1);
        cap = {ACCEL_CAP_SYNCOBJ_TIMELINE, 0};
        CHECK(fx.io(ACCEL_IOCTL_GET_CAP, &cap) == 0);
        CHECK(cap.value == 1);
    }

    SUBCASE("syncobj: CREATE and DESTROY (syncobj_basic bad-create-flags, bad-destroy, bad-destroy-pad)") {
        CHECK(fx.create() == 1); // handles start at 1
        CHECK(fx.create() == 2);
        accel_syncobj_create c{0, 0xff};
        CHECK(fx.io(ACCEL_IOCTL_SYNCOBJ_CREATE, &c) == -EINVAL);
        c = {0, 2};
        CHECK(fx.io(ACCEL_IOCTL_SYNCOBJ_CREATE, &c) == -EINVAL);
        accel_syncobj_destroy d{1, 1};
        CHECK(fx.io(ACCEL_IOCTL_SYNCOBJ_DESTROY, &d) == -EINVAL); // pad
        d = {0, 0};
        CHECK(fx.io(ACCEL_IOCTL_SYNCOBJ_DESTROY, &d) == -EINVAL); // never a handle
        d = {99, 0};
        CHECK(fx.io(ACCEL_IOCTL_SYNCOBJ_DESTROY, &d) == -EINVAL);
        d = {1, 0};
        CHECK(fx.io(ACCEL_IOCTL_SYNCOBJ_DESTROY, &d) == 0);
        CHECK(fx.io(ACCEL_IOCTL_SYNCOBJ_DESTROY, &d) == -EINVAL); // already gone
        CHECK(fx.create() == 1);                                  // the lowest free number again
        // create-signaled: a wait with timeout 0 succeeds.
        std::uint32_t s = fx.create(ACCEL_SYNCOBJ_CREATE_SIGNALED);
        CHECK(fx.wait({s}, 0, 0) == 0);
    }

    SUBCASE("syncobj: WAIT and TIMELINE_WAIT argument errors") {
        std::uint32_t h = fx.create();
        CHECK(fx.wait({h}, 0, 0xff) == -EINVAL);
        CHECK(fx.wait({h}, 0, AVAILABLE) == -EINVAL); // AVAILABLE only on TIMELINE_WAIT
        CHECK(fx.twait({h}, {}, 0, 0x10) == -EINVAL);
        CHECK(fx.wait({}, 0, 0) == 0); // count 0 returns 0 since Linux 6.4
        CHECK(fx.twait({}, {}, 0, 0) == 0);
        CHECK(fx.wait({h, 77}, 0, 0) == -ENOENT);
        CHECK(fx.wait({0}, 0, 0) == -ENOENT);
        accel_syncobj_wait w{};
        w.handles = bad_ptr;
        w.count_handles = 1;
        CHECK(fx.io(ACCEL_IOCTL_SYNCOBJ_WAIT, &w) == -EFAULT);
        accel_syncobj_timeline_wait tw{};
        tw.handles = uptr(&h);
        tw.points = bad_ptr;
        tw.count_handles = 1;
        CHECK(fx.io(ACCEL_IOCTL_SYNCOBJ_TIMELINE_WAIT, &tw) == -EFAULT);
        w = {};
        w.handles = uptr(&h);
        w.count_handles = 1u << 30; // beyond the kernel's kmalloc limit
        CHECK(fx.io(ACCEL_IOCTL_SYNCOBJ_WAIT, &w) == -ENOMEM);
    }

    SUBCASE("syncobj: the wait matrix, single and multi, ALL and FOR_SUBMIT") {
        std::uint32_t unsubmitted = fx.create(), submitted = fx.create(), signaled = fx.create();
        REQUIRE(fx.set(submitted, 0) == 0);
        REQUIRE(fx.set(signaled, 1) == 0);
        fx.signal(1);
        for (std::uint32_t flags : {0u, ALL, FOR_SUBMIT, ALL | FOR_SUBMIT}) {
            CAPTURE(flags);
            // unsubmitted: -EINVAL without FOR_SUBMIT, else nothing arrives: -ETIME
            CHECK(fx.wait({unsubmitted}, 0, flags) == ((flags & FOR_SUBMIT) ? -ETIME : -EINVAL));
            CHECK(fx.wait({unsubmitted}, in_ms(20), flags) == ((flags & FOR_SUBMIT) ? -ETIME : -EINVAL));
            // submitted, not signalled: -ETIME
            CHECK(fx.wait({submitted}, 0, flags) == -ETIME);
            CHECK(fx.wait({submitted}, in_ms(20), flags) == -ETIME);
            // signalled: 0
            std::uint32_t first = 0;
            CHECK(fx.wait({signaled}, 0, flags, &first) == 0);
            CHECK(first == 0);
            // multi: any is satisfied by the signalled one (first_signaled says which), ALL is not
            first = 0;
            int r = fx.wait({submitted, signaled}, 0, flags, &first);
            if (flags & ALL) {
                CHECK(r == -ETIME);
            } else {
                CHECK(r == 0);
                CHECK(first == 1);
            }
            CHECK(fx.wait({unsubmitted, signaled}, 0, flags, &first) == ((flags & FOR_SUBMIT) ? ((flags & ALL) ? -ETIME : 0) : -EINVAL));
        }
        // A past absolute timeout is a poll, a negative one too.
        CHECK(fx.wait({submitted}, 1, 0) == -ETIME);
        CHECK(fx.wait({submitted}, -5, 0) == -ETIME);
    }

    SUBCASE("syncobj: a parked wait is woken by a signal from another thread, holding no thread meanwhile") {
        std::uint32_t a = fx.create(), b = fx.create();
        REQUIRE(fx.set(a, 0) == 0);
        REQUIRE(fx.set(b, 1) == 0);
        std::atomic<int> result{1};
        std::uint32_t first = 99;
        std::thread waiter([&] { result = fx.wait({a, b}, forever, 0, &first); });
        std::this_thread::sleep_for(std::chrono::milliseconds(30));
        CHECK(result == 1);
        // Other calls go on while the wait is parked.
        CHECK(fx.wait({a}, 0, 0) == -ETIME);
        fx.signal(1);
        waiter.join();
        CHECK(result == 0);
        CHECK(first == 1);
        // ALL: woken by each signal, finished by the last; first_signaled is ~0 after blocking.
        std::uint32_t c = fx.create();
        REQUIRE(fx.set(c, 2) == 0);
        result = 1;
        std::thread all([&] { result = fx.wait({a, c}, in_ms(10000), ALL, &first); });
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        fx.signal(0);
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        CHECK(result == 1);
        fx.signal(2);
        all.join();
        CHECK(result == 0);
        CHECK(first == ~0u);
    }

    SUBCASE("syncobj: WAIT_FOR_SUBMIT is woken by the fence's arrival, then by its signal") {
        std::uint32_t h = fx.create();
        std::atomic<int> result{1};
        std::thread waiter([&] { result = fx.wait({h}, in_ms(10000), FOR_SUBMIT); });
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        REQUIRE(fx.set(h, 3) == 0); // arrives, still pending
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        CHECK(result == 1);
        fx.signal(3);
        waiter.join();
        CHECK(result == 0);
        // The deadline covers both: a fence that never arrives times out.
        std::uint32_t never = fx.create();
        const auto t0 = std::chrono::steady_clock::now();
        CHECK(fx.wait({never}, in_ms(50), FOR_SUBMIT) == -ETIME);
        CHECK(std::chrono::steady_clock::now() - t0 >= std::chrono::milliseconds(45));
    }

    SUBCASE("syncobj: the pre-6.4 WAIT and TIMELINE_WAIT sizes (without deadline_nsec) work") {
        std::uint32_t h = fx.create(ACCEL_SYNCOBJ_CREATE_SIGNALED);
        accel_syncobj_wait w{};
        w.handles = uptr(&h);
        w.count_handles = 1;
        w.first_signaled = 7;
        CHECK(fx.io(with_size(ACCEL_IOCTL_SYNCOBJ_WAIT, 32), &w) == 0);
        CHECK(w.first_signaled == 0);
        accel_syncobj_timeline_wait tw{};
        tw.handles = uptr(&h);
        tw.count_handles = 1;
        CHECK(fx.io(with_size(ACCEL_IOCTL_SYNCOBJ_TIMELINE_WAIT, 40), &tw) == 0);
    }

    SUBCASE("syncobj: RESET and SIGNAL (invalid-{reset,signal}-* cases)") {
        std::uint32_t h = fx.create();
        std::uint32_t hs[2] = {h, 55};
        accel_syncobj_array a{uptr(&h), 1, 1};
        CHECK(fx.io(ACCEL_IOCTL_SYNCOBJ_RESET, &a) == -EINVAL); // pad
        CHECK(fx.io(ACCEL_IOCTL_SYNCOBJ_SIGNAL, &a) == -EINVAL);
        a = {uptr(&h), 0, 0};
        CHECK(fx.io(ACCEL_IOCTL_SYNCOBJ_RESET, &a) == -EINVAL); // zero handles
        CHECK(fx.io(ACCEL_IOCTL_SYNCOBJ_SIGNAL, &a) == -EINVAL);
        a = {uptr(hs), 2, 0};
        CHECK(fx.io(ACCEL_IOCTL_SYNCOBJ_SIGNAL, &a) == -ENOENT); // one illegal handle: nothing done
        CHECK(fx.wait({h}, 0, 0) == -EINVAL);                    // still no fence
        a = {bad_ptr, 1, 0};
        CHECK(fx.io(ACCEL_IOCTL_SYNCOBJ_SIGNAL, &a) == -EFAULT);
        a = {uptr(&h), 1, 0};
        CHECK(fx.io(ACCEL_IOCTL_SYNCOBJ_SIGNAL, &a) == 0);
        CHECK(fx.wait({h}, 0, 0) == 0);
        CHECK(fx.io(ACCEL_IOCTL_SYNCOBJ_RESET, &a) == 0);
        CHECK(fx.wait({h}, 0, 0) == -EINVAL); // reset: no fence again
    }

    SUBCASE("syncobj: timeline points: TIMELINE_SIGNAL, QUERY, TIMELINE_WAIT with AVAILABLE") {
        std::uint32_t t = fx.create();
        CHECK(fx.query(t) == 0);                                                 // no chain: 0
        REQUIRE(fx.set(t, 0, 1) == 0);                                           // point 1: fence 0
        REQUIRE(fx.set(t, 1, 2) == 0);                                           // point 2: fence 1
        REQUIRE(fx.set(t, 2, 3) == 0);                                           // point 3: fence 2
        CHECK(fx.query(t, ACCEL_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED) == 3);
        CHECK(fx.query(t) == 0);
        fx.signal(1); // point 2 alone: point 2 is not done while 1 is pending
        CHECK(fx.query(t) == 0);
        CHECK(fx.twait({t}, {2}, 0, 0) == -ETIME);
        fx.signal(0);
        CHECK(fx.query(t) == 2);
        CHECK(fx.twait({t}, {2}, 0, 0) == 0);
        CHECK(fx.twait({t}, {3}, 0, 0) == -ETIME);
        CHECK(fx.twait({t}, {3}, 0, AVAILABLE) == 0); // submitted is enough
        CHECK(fx.twait({t}, {4}, 0, 0) == -EINVAL);   // not submitted
        CHECK(fx.twait({t}, {4}, 0, AVAILABLE) == -ETIME);
        CHECK(fx.twait({t}, {4}, 0, FOR_SUBMIT) == -ETIME);
        // TIMELINE_SIGNAL point 4 (a signalled stub): 4 is available but waits for 3.
        CHECK(fx.tsignal(t, 4) == 0);
        CHECK(fx.query(t, ACCEL_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED) == 4);
        CHECK(fx.twait({t}, {4}, 0, 0) == -ETIME);
        // A waiter for point 5, woken when a later TIMELINE_SIGNAL submits it from another thread.
        std::atomic<int> result{1};
        std::thread waiter([&] { result = fx.twait({t}, {5}, in_ms(10000), AVAILABLE); });
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        CHECK(result == 1);
        CHECK(fx.tsignal(t, 5) == 0);
        waiter.join();
        CHECK(result == 0);
        fx.signal(2);
        CHECK(fx.query(t) == 5);
        CHECK(fx.twait({t}, {5}, 0, 0) == 0);
        // Null points: every point 0 (the whole fence).
        CHECK(fx.twait({t}, {}, 0, 0) == 0);
        // An out-of-order point (3 after 5) starts a new context and keeps the head at 5; QUERY
        // walks the head's context only.
        CHECK(fx.tsignal(t, 3) == 0);
        CHECK(fx.query(t, ACCEL_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED) == 5);
        CHECK(fx.query(t) == 5);
        CHECK(fx.twait({t}, {5}, 0, 0) == 0);
    }

    SUBCASE("syncobj: QUERY and TIMELINE_SIGNAL errors (invalid-query-*, invalid-signal-*)") {
        std::uint32_t t = fx.create();
        std::uint64_t p = 0;
        accel_syncobj_timeline_array a{uptr(&t), uptr(&p), 1, 2};
        CHECK(fx.io(ACCEL_IOCTL_SYNCOBJ_QUERY, &a) == -EINVAL); // bad flags
        CHECK(fx.io(ACCEL_IOCTL_SYNCOBJ_TIMELINE_SIGNAL, &a) == -EINVAL);
        a.flags = ACCEL_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED;
        CHECK(fx.io(ACCEL_IOCTL_SYNCOBJ_TIMELINE_SIGNAL, &a) == -EINVAL); // TIMELINE_SIGNAL takes no flag
        a = {uptr(&t), uptr(&p), 0, 0};
        CHECK(fx.io(ACCEL_IOCTL_SYNCOBJ_QUERY, &a) == -EINVAL); // zero handles
        CHECK(fx.io(ACCEL_IOCTL_SYNCOBJ_TIMELINE_SIGNAL, &a) == -EINVAL);
        std::uint32_t bad = 42;
        a = {uptr(&bad), uptr(&p), 1, 0};
        CHECK(fx.io(ACCEL_IOCTL_SYNCOBJ_QUERY, &a) == -ENOENT);
        CHECK(fx.io(ACCEL_IOCTL_SYNCOBJ_TIMELINE_SIGNAL, &a) == -ENOENT);
        a = {uptr(&t), bad_ptr, 1, 0};
        CHECK(fx.io(ACCEL_IOCTL_SYNCOBJ_QUERY, &a) == -EFAULT);
        CHECK(fx.io(ACCEL_IOCTL_SYNCOBJ_TIMELINE_SIGNAL, &a) == -EFAULT);
        a = {uptr(&t), 0, 1, 0}; // null points: point 0
        CHECK(fx.io(ACCEL_IOCTL_SYNCOBJ_TIMELINE_SIGNAL, &a) == 0);
    }

    SUBCASE("syncobj: TRANSFER between binary and timeline syncobjs, and its errors") {
        std::uint32_t bin = fx.create(), tl = fx.create(), dst = fx.create();
        accel_syncobj_transfer x{};
        x.src_handle = bin;
        x.dst_handle = dst;
        x.pad = 1;
        CHECK(fx.io(ACCEL_IOCTL_SYNCOBJ_TRANSFER, &x) == -EINVAL);
        x.pad = 0;
        x.dst_handle = 99;
        CHECK(fx.io(ACCEL_IOCTL_SYNCOBJ_TRANSFER, &x) == -ENOENT);
        x.dst_handle = dst;
        x.src_handle = 99;
        CHECK(fx.io(ACCEL_IOCTL_SYNCOBJ_TRANSFER, &x) == -ENOENT);
        x.src_handle = bin;
        CHECK(fx.io(ACCEL_IOCTL_SYNCOBJ_TRANSFER, &x) == -EINVAL); // no fence in the source
        x.flags = 0x4;
        CHECK(fx.io(ACCEL_IOCTL_SYNCOBJ_TRANSFER, &x) == -EINVAL); // flags other than FOR_SUBMIT
        x.flags = 0;
        REQUIRE(fx.set(bin, 0) == 0);
        // binary -> timeline point 7
        x.dst_point = 7;
        CHECK(fx.io(ACCEL_IOCTL_SYNCOBJ_TRANSFER, &x) == 0);
        CHECK(fx.query(dst, ACCEL_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED) == 7);
        CHECK(fx.twait({dst}, {7}, 0, 0) == -ETIME);
        // timeline point -> binary
        REQUIRE(fx.set(tl, 1, 1) == 0);
        REQUIRE(fx.set(tl, 2, 2) == 0);
        std::uint32_t bin2 = fx.create();
        x = {};
        x.src_handle = tl;
        x.src_point = 1;
        x.dst_handle = bin2;
        CHECK(fx.io(ACCEL_IOCTL_SYNCOBJ_TRANSFER, &x) == 0);
        x.src_point = 3;
        CHECK(fx.io(ACCEL_IOCTL_SYNCOBJ_TRANSFER, &x) == -EINVAL); // not submitted
        CHECK(fx.wait({bin2}, 0, 0) == -ETIME);
        fx.signal(1);
        CHECK(fx.wait({bin2}, 0, 0) == 0); // point 1 is fence 1
        fx.signal(0);
        CHECK(fx.twait({dst}, {7}, 0, 0) == 0);
    }

    SUBCASE("syncobj: syncobj_find_fence for drivers: errors, stubs, FOR_SUBMIT's bounded wait") {
        std::uint32_t h = fx.create();
        so_find_arg a{h, 0, 0, 1, 0, 0};
        REQUIRE(fx.io(SO_TEST_FIND, &a) == 0);
        CHECK(a.result == -EINVAL); // no fence
        a = {h, 4, 0, 1, 0, 0};
        REQUIRE(fx.io(SO_TEST_FIND, &a) == 0);
        CHECK(a.result == -EINVAL); // bad flags first
        a = {77, 0, 0, 1, 0, 0};
        REQUIRE(fx.io(SO_TEST_FIND, &a) == 0);
        CHECK(a.result == -ENOENT);
        REQUIRE(fx.set(h, 0, 1) == 0);
        a = {h, 0, 1, 1, 0, 0};
        REQUIRE(fx.io(SO_TEST_FIND, &a) == 0);
        CHECK(a.result == 0);
        CHECK(a.seqno == 1); // the chain node of point 1
        a = {h, 0, 2, 1, 0, 0};
        REQUIRE(fx.io(SO_TEST_FIND, &a) == 0);
        CHECK(a.result == -EINVAL); // not submitted
        fx.signal(0);
        a = {h, 0, 1, 1, 0, 0};
        REQUIRE(fx.io(SO_TEST_FIND, &a) == 0);
        CHECK(a.result == 0);
        CHECK_FALSE(a.is_stub); // the head itself covers point 1: the (signalled) node, as in the kernel
        REQUIRE(fx.set(h, 4, 2) == 0);
        a = {h, 0, 1, 1, 0, 0};
        REQUIRE(fx.io(SO_TEST_FIND, &a) == 0);
        CHECK(a.result == 0);
        CHECK(a.is_stub); // everything up to 1 signalled behind the head: a stub
        // FOR_SUBMIT: the point arrives from another thread while the driver waits.
        std::thread later([&] {
            std::this_thread::sleep_for(std::chrono::milliseconds(30));
                    so_set_arg s{h, 5, 3};
            fx.io(SO_TEST_SET, &s);
        });
        a = {h, FOR_SUBMIT, 3, 1, 0, 0};
        REQUIRE(fx.io(SO_TEST_FIND, &a) == 0);
        later.join();
        CHECK(a.result == 0);
    }

    SUBCASE("syncobj: EVENTFD validates like the kernel and answers for a descriptor that is no eventfd") {
        std::uint32_t h = fx.create();
        accel_syncobj_eventfd e{h, 0x8, 0, -1, 0};
        CHECK(fx.io(ACCEL_IOCTL_SYNCOBJ_EVENTFD, &e) == -EINVAL); // bad flags
        e = {h, 0, 0, -1, 1};
        CHECK(fx.io(ACCEL_IOCTL_SYNCOBJ_EVENTFD, &e) == -EINVAL); // bad pad
        e = {99, 0, 0, -1, 0};
        CHECK(fx.io(ACCEL_IOCTL_SYNCOBJ_EVENTFD, &e) == -ENOENT);
        e = {h, 0, 0, -1, 0};
        CHECK(fx.io(ACCEL_IOCTL_SYNCOBJ_EVENTFD, &e) == -EBADF); // illegal eventfd
        e = {h, 0, 0, fx.fd, 0};
        CHECK(fx.io(ACCEL_IOCTL_SYNCOBJ_EVENTFD, &e) == -EINVAL); // open, but no eventfd
    }

    // ---- descriptors: syncobj files ----

    SUBCASE("syncobj: HANDLE_TO_FD and FD_TO_HANDLE share a syncobj between files, every import is a new handle") {
        const std::uint32_t h = fx.create();
        accel_syncobj_handle a{h, 0, -1, 0, 0};
        REQUIRE(fx.h2f(a) == 0);
        const int sfd = a.fd;
        CHECK(sfd >= 0);
        CHECK(sfd != fx.fd);
        accel_syncobj_handle b{0, 0, sfd, 0, 0};
        REQUIRE(fx.f2h(b) == 0);
        CHECK(b.handle != h);
        accel_syncobj_handle c{0, 0, sfd, 0, 0};
        REQUIRE(fx.f2h(c) == 0);
        CHECK(c.handle != b.handle); // test-valid-cycle
        CHECK(c.handle != h);
        // The same object: a fence set through one handle is seen through the others.
        REQUIRE(fx.set(h, 0) == 0);
        CHECK(fx.wait({b.handle}, 0, 0) == -ETIME);
        CHECK(fx.wait({c.handle}, 0, 0) == -ETIME);
        // Another file of the same device imports it as its own handle 1, and sees the fence.
        const int fd2 = fx.open_node();
        accel_syncobj_handle d{0, 0, sfd, 0, 0};
        REQUIRE(fx.ioctl(fd2, ACCEL_IOCTL_SYNCOBJ_FD_TO_HANDLE, &d) == 0);
        CHECK(d.handle == 1);
        accel_syncobj_wait w{};
        w.handles = uptr(&d.handle);
        w.count_handles = 1;
        CHECK(fx.ioctl(fd2, ACCEL_IOCTL_SYNCOBJ_WAIT, &w) == -ETIME);
        fx.signal(0);
        CHECK(fx.wait({c.handle}, 0, 0) == 0);
        CHECK(fx.ioctl(fd2, ACCEL_IOCTL_SYNCOBJ_WAIT, &w) == 0);
        // A reset through the other file's handle is seen here: one object.
        accel_syncobj_array r{uptr(&d.handle), 1, 0};
        CHECK(fx.ioctl(fd2, ACCEL_IOCTL_SYNCOBJ_RESET, &r) == 0);
        CHECK(fx.wait({h}, 0, 0) == -EINVAL); // no fence any more
        // A syncobj file answers no ioctl of its own.
        char buf[256] = {};
        CHECK(fx.ioctl(sfd, ACCEL_IOCTL_SYNCOBJ_CREATE, buf) == -ENOTTY);
        CHECK(fx.close(fd2) == 0);
        CHECK(fx.close(sfd) == 0);
        // Closed: the descriptor is gone (-EBADF), FD_TO_HANDLE of it is -EINVAL as the kernel's
        // fdget failure answers; the handles stay.
        CHECK(fx.ioctl(sfd, ACCEL_IOCTL_SYNCOBJ_CREATE, buf) == -EBADF);
        accel_syncobj_handle e{0, 0, sfd, 0, 0};
        CHECK(fx.f2h(e) == -EINVAL);
        CHECK(fx.wait({b.handle}, 0, 0) == -EINVAL);
    }

    SUBCASE("syncobj: HANDLE_TO_FD / FD_TO_HANDLE errors (bad-flags, bad-pad, bad-handle-to-fd, illegal-fd-to-handle)") {
        const std::uint32_t h = fx.create();
        const int before = fx.open_descriptors();
        auto h2f = [&](accel_syncobj_handle a) { return fx.h2f(a); };
        auto f2h = [&](accel_syncobj_handle a) { return fx.f2h(a); };
        CHECK(h2f({h, 0, -1, 1, 0}) == -EINVAL);             // pad
        CHECK(h2f({h, 0x4, -1, 0, 0}) == -EINVAL);           // unknown flag
        CHECK(h2f({h, EXPORT_TL, -1, 0, 0}) == -EINVAL);     // TIMELINE alone
        CHECK(h2f({h, 0, -1, 0, 5}) == -EINVAL);             // point without TIMELINE|EXPORT
        CHECK(h2f({99, 0, -1, 0, 0}) == -EINVAL);            // bad-handle-to-fd
        CHECK(h2f({0, 0, -1, 0, 0}) == -EINVAL);
        CHECK(h2f({99, EXPORT_SF, -1, 0, 0}) == -ENOENT);    // export: unknown handle
        CHECK(h2f({h, EXPORT_SF, -1, 0, 0}) == -EINVAL);     // export: no fence
        CHECK(h2f({h, EXPORT_SF | EXPORT_TL, -1, 0, 1}) == -EINVAL); // export: point not submitted
        CHECK(fx.open_descriptors() == before);              // no descriptor from a failure
        CHECK(f2h({0, 0, fx.fd, 1, 0}) == -EINVAL);          // pad
        CHECK(f2h({0, 0x4, fx.fd, 0, 0}) == -EINVAL);        // unknown flag
        CHECK(f2h({0, IMPORT_TL, fx.fd, 0, 0}) == -EINVAL);  // TIMELINE alone
        CHECK(f2h({0, 0, fx.fd, 0, 3}) == -EINVAL);          // point without TIMELINE|IMPORT
        CHECK(f2h({0, 0, -1, 0, 0}) == -EINVAL);             // bad-fd-to-handle
        CHECK(f2h({0, 0, 999, 0, 0}) == -EINVAL);            // not open
        CHECK(f2h({0, 0, fx.fd, 0, 0}) == -EINVAL);          // illegal-fd-to-handle: a device file
        CHECK(f2h({h, IMPORT_SF, fx.fd, 0, 0}) == -EINVAL);  // import: not a sync file
        CHECK(f2h({h, IMPORT_SF, 999, 0, 0}) == -EINVAL);    // import: not open
        const int sf = fx.export_sync_file(0);
        CHECK(f2h({99, IMPORT_SF, sf, 0, 0}) == -ENOENT);    // import: unknown handle
        CHECK(f2h({0, 0, sf, 0, 0}) == -EINVAL);             // a sync file is no syncobj file
        accel_syncobj_handle so{h, 0, -1, 0, 0};
        REQUIRE(fx.h2f(so) == 0);
        CHECK(f2h({h, IMPORT_SF, so.fd, 0, 0}) == -EINVAL);  // a syncobj file is no sync file
        CHECK(fx.open_descriptors() == before + 2);          // nothing left behind
        CHECK(fx.close(so.fd) == 0);
        CHECK(fx.close(sf) == 0);
        CHECK(fx.open_descriptors() == before);
    }

    SUBCASE("syncobj: sync-file export and import, binary and timeline") {
        // import into a binary syncobj: the sync file's fence replaces the fence
        const std::uint32_t h = fx.create(ACCEL_SYNCOBJ_CREATE_SIGNALED);
        CHECK(fx.wait({h}, 0, 0) == 0);
        const int sf = fx.export_sync_file(0);
        CHECK(fx.poll_in(sf, 0) == 0);
        accel_syncobj_handle a{h, IMPORT_SF, sf, 0, 0};
        REQUIRE(fx.f2h(a) == 0);
        CHECK(a.handle == h); // into the existing handle
        CHECK(fx.wait({h}, 0, 0) == -ETIME);
        // import as timeline point 3
        const std::uint32_t t = fx.create();
        a = {t, IMPORT_SF | IMPORT_TL, sf, 0, 3};
        REQUIRE(fx.f2h(a) == 0);
        CHECK(fx.query(t, ACCEL_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED) == 3);
        CHECK(fx.twait({t}, {3}, 0, 0) == -ETIME);
        // export the binary fence: a snapshot, a later replacement does not change it
        a = {h, EXPORT_SF, -1, 0, 0};
        REQUIRE(fx.h2f(a) == 0);
        const int snap = a.fd;
        CHECK(snap >= 0);
        REQUIRE(fx.set(h, 5) == 0); // fence 5 replaces fence 0 in the syncobj
        // export point 3 as a sync file: pending, then POLLIN once signalled
        a = {t, EXPORT_SF | EXPORT_TL, -1, 0, 3};
        REQUIRE(fx.h2f(a) == 0);
        const int out = a.fd;
        a = {t, EXPORT_SF | EXPORT_TL, -1, 0, 4};
        CHECK(fx.h2f(a) == -EINVAL); // point not submitted
        CHECK(a.fd == -1);
        CHECK(fx.poll_in(out, 0) == 0);
        CHECK(fx.poll_in(snap, 0) == 0);
        // a timeline point's sync file (a chain node) imports as a point of another timeline,
        // as drm_syncobj_import_sync_file_fence takes it
        const std::uint32_t t2 = fx.create();
        a = {t2, IMPORT_SF | IMPORT_TL, out, 0, 7};
        CHECK(fx.f2h(a) == 0);
        CHECK(fx.query(t2, ACCEL_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED) == 7);
        CHECK(fx.twait({t2}, {7}, 0, 0) == -ETIME);
        fx.signal(0);
        CHECK(fx.twait({t2}, {7}, 0, 0) == 0);
        CHECK(fx.poll_in(out, 0) == POLLIN);
        CHECK(fx.poll_in(snap, 0) == POLLIN); // the snapshot: fence 0
        CHECK(fx.poll_in(sf, 0) == POLLIN);
        CHECK(fx.wait({h}, 0, 0) == -ETIME);   // the syncobj: fence 5 now
        CHECK(fx.twait({t}, {3}, 0, 0) == 0);
        // a signalled point exports a (signalled) stub
        a = {t, EXPORT_SF | EXPORT_TL, -1, 0, 3};
        REQUIRE(fx.h2f(a) == 0);
        CHECK(fx.poll_in(a.fd, 0) == POLLIN);
        // the imported sync file is the caller's still
        sync_file_info info{};
        CHECK(fx.ioctl(sf, SYNC_IOC_FILE_INFO, &info) == 0);
        CHECK(info.status == 1);
        for (int x : {sf, out, snap, a.fd})
            CHECK(fx.close(x) == 0);
    }

    SUBCASE("syncobj: handles go at close, a shared syncobj outlives the file that made it") {
        const std::uint32_t h = fx.create();
        REQUIRE(fx.set(h, 0) == 0);
        accel_syncobj_handle a{h, 0, -1, 0, 0};
        REQUIRE(fx.h2f(a) == 0);
        CHECK(fx.close(fx.fd) == 0);
        fx.fd = fx.open_node();
        CHECK(fx.wait({h}, 0, 0) == -ENOENT); // a new file: no handles
        accel_syncobj_handle b{0, 0, a.fd, 0, 0};
        REQUIRE(fx.f2h(b) == 0);
        CHECK(b.handle == 1);
        CHECK(fx.wait({b.handle}, 0, 0) == -ETIME);
        fx.signal(0);
        CHECK(fx.wait({b.handle}, 0, 0) == 0);
        CHECK(fx.close(a.fd) == 0);
    }

    // ---- sync files ----

    SUBCASE("sync_file: MERGE rules: flags, pad, fd2 not a sync file, name, self-merge") {
        const int a = fx.export_sync_file(0), b = fx.export_sync_file(1);
        const int before = fx.open_descriptors();
        sync_merge_data m{};
        std::strcpy(m.name, "merged");
        m.fd2 = b;
        m.fence = -1;
        m.flags = 1;
        CHECK(fx.ioctl(a, SYNC_IOC_MERGE, &m) == -EINVAL);
        m.flags = 0;
        m.pad = 1;
        CHECK(fx.ioctl(a, SYNC_IOC_MERGE, &m) == -EINVAL);
        m.pad = 0;
        m.fd2 = fx.fd; // the device file
        CHECK(fx.ioctl(a, SYNC_IOC_MERGE, &m) == -ENOENT);
        m.fd2 = 1000; // not open
        CHECK(fx.ioctl(a, SYNC_IOC_MERGE, &m) == -ENOENT);
        m.fd2 = -1;
        CHECK(fx.ioctl(a, SYNC_IOC_MERGE, &m) == -ENOENT);
        CHECK(fx.ioctl(a, SYNC_IOC_MERGE, nullptr) == -EFAULT);
        CHECK(m.fence == -1);
        CHECK(fx.open_descriptors() == before); // no descriptor from a failure
        m.fd2 = b;
        REQUIRE(fx.ioctl(a, SYNC_IOC_MERGE, &m) == 0);
        const int c = m.fence;
        CHECK(c >= 0);
        CHECK(c != a);
        CHECK(c != b);
        CHECK(fx.open_descriptors() == before + 1);
        sync_file_info info{};
        REQUIRE(fx.ioctl(c, SYNC_IOC_FILE_INFO, &info) == 0);
        CHECK(std::string(info.name) == "merged");
        CHECK(info.num_fences == 2);
        CHECK(info.status == 0);
        // a file merged with itself: one fence
        sync_merge_data self{};
        self.fd2 = a;
        REQUIRE(fx.ioctl(a, SYNC_IOC_MERGE, &self) == 0);
        info = {};
        REQUIRE(fx.ioctl(self.fence, SYNC_IOC_FILE_INFO, &info) == 0);
        CHECK(info.num_fences == 1);
        // the name is cut at 31 characters
        sync_merge_data longname{};
        std::memset(longname.name, 'x', sizeof longname.name);
        longname.fd2 = b;
        REQUIRE(fx.ioctl(a, SYNC_IOC_MERGE, &longname) == 0);
        info = {};
        REQUIRE(fx.ioctl(longname.fence, SYNC_IOC_FILE_INFO, &info) == 0);
        CHECK(std::strlen(info.name) == 31);
        // a merged file merges again (of a published file, through FUSE): three leaves
        const int d = fx.export_sync_file(2);
        sync_merge_data again{};
        again.fd2 = d;
        REQUIRE(fx.ioctl(c, SYNC_IOC_MERGE, &again) == 0);
        info = {};
        REQUIRE(fx.ioctl(again.fence, SYNC_IOC_FILE_INFO, &info) == 0);
        CHECK(info.num_fences == 3);
        // the merged fence signals when both have; the inputs stay valid
        fx.signal(0);
        CHECK(fx.poll_in(c, 0) == 0);
        CHECK(fx.poll_in(a, 0) == POLLIN);
        fx.signal(1);
        CHECK(fx.poll_in(c, 0) == POLLIN);
        CHECK(fx.poll_in(again.fence, 0) == 0);
        fx.signal(2);
        CHECK(fx.poll_in(again.fence, 0) == POLLIN);
        for (int x : {a, b, c, d, self.fence, longname.fence, again.fence})
            CHECK(fx.close(x) == 0);
    }

    SUBCASE("sync_file: FILE_INFO rules: count only, too small, per-fence info, status and name") {
        const int a = fx.export_sync_file(0), b = fx.export_sync_file(1);
        sync_merge_data m{};
        m.fd2 = b;
        REQUIRE(fx.ioctl(a, SYNC_IOC_MERGE, &m) == 0);
        sync_file_info info{};
        info.flags = 1;
        CHECK(fx.ioctl(m.fence, SYNC_IOC_FILE_INFO, &info) == -EINVAL);
        info = {};
        info.pad = 1;
        CHECK(fx.ioctl(m.fence, SYNC_IOC_FILE_INFO, &info) == -EINVAL);
        info = {};
        REQUIRE(fx.ioctl(m.fence, SYNC_IOC_FILE_INFO, &info) == 0); // count 0: the count only
        CHECK(info.num_fences == 2);
        CHECK(info.status == 0);
        // merged with an empty name: the default name, of the merged fence (an array)
        CHECK(std::string(info.name).rfind("dma_fence_array-unbound", 0) == 0);
        info.num_fences = 1;
        CHECK(fx.ioctl(m.fence, SYNC_IOC_FILE_INFO, &info) == -EINVAL); // too small
        sync_fence_info fi[3] = {};
        fx.set_error(1, -EIO);
        fx.signal(1);
        info = {};
        info.num_fences = 3; // more room than needed: fills two
        info.sync_fence_info = uptr(fi);
        REQUIRE(fx.ioctl(m.fence, SYNC_IOC_FILE_INFO, &info) == 0);
        CHECK(info.num_fences == 2);
        CHECK(info.status == 0); // the first leaf status <= 0: fence 0 still pending
        CHECK(std::string(fi[0].driver_name) == "sotest");
        CHECK(std::string(fi[0].obj_name) == "ring0");
        CHECK(fi[0].status == 0);
        CHECK(fi[0].timestamp_ns == 0);
        CHECK(fi[1].status == -EIO);
        CHECK(fi[1].timestamp_ns != 0);
        CHECK(fi[1].flags == 0);
        CHECK(fi[2].driver_name[0] == '\0'); // untouched
        fx.signal(0);
        info = {};
        info.num_fences = 2;
        info.sync_fence_info = uptr(fi);
        REQUIRE(fx.ioctl(m.fence, SYNC_IOC_FILE_INFO, &info) == 0);
        CHECK(info.status == -EIO); // the first leaf status <= 0 now: the error
        CHECK(fi[0].status == 1);
        CHECK(fi[0].timestamp_ns != 0);
        info.sync_fence_info = bad_ptr;
        CHECK(fx.ioctl(m.fence, SYNC_IOC_FILE_INFO, &info) == -EFAULT);
        // the default name of a single fence: driver-timeline<ctx>-<seqno>; fence i is on
        // context ctx + i
        info = {};
        REQUIRE(fx.ioctl(a, SYNC_IOC_FILE_INFO, &info) == 0);
        CHECK(info.num_fences == 1);
        CHECK(info.status == 1);
        const std::string na = info.name;
        info = {};
        REQUIRE(fx.ioctl(b, SYNC_IOC_FILE_INFO, &info) == 0);
        CHECK(info.status == -EIO);
        const std::string nb = info.name;
        const std::string prefix = "sotest-ring0";
        REQUIRE(na.rfind(prefix, 0) == 0);
        REQUIRE(nb.rfind(prefix, 0) == 0);
        REQUIRE(na.size() > prefix.size() + 2);
        CHECK(na.substr(na.size() - 2) == "-1");
        CHECK(nb.substr(nb.size() - 2) == "-1");
        const auto ctx = [&](const std::string& n) { return std::stoull(n.substr(prefix.size(), n.size() - prefix.size() - 2)); };
        CHECK(ctx(nb) == ctx(na) + 1);
        for (int x : {a, b, m.fence})
            CHECK(fx.close(x) == 0);
    }

    SUBCASE("sync_file: poll is POLLIN once signalled, even with an error, woken while it blocks; SET_DEADLINE; unknown ioctls -ENOTTY") {
        const int a = fx.export_sync_file(0);
        pollfd p{a, POLLIN | POLLOUT, 0};
        CHECK(fx.client().poll(&p, 1, 0) == 0); // never POLLOUT
        std::atomic<bool> signalled{false};
        std::thread later([&] {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            fx.set_error(0, -EIO);
            signalled = true;
            fx.signal(0);
        });
        const auto t0 = std::chrono::steady_clock::now();
        const int r = fx.client().poll(&p, 1, 10000); // woken by the signal
        const bool seen_after = signalled;
        later.join();
        CHECK(r == 1);
        CHECK(seen_after);
        CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));
        CHECK(p.revents == POLLIN); // no POLLERR for the error
        sync_set_deadline d{123, 1};
        CHECK(fx.ioctl(a, SYNC_IOC_SET_DEADLINE, &d) == -EINVAL);
        d.pad = 0;
        CHECK(fx.ioctl(a, SYNC_IOC_SET_DEADLINE, &d) == 0);
        char buf[256] = {};
        CHECK(fx.ioctl(a, _IOWR('>', 2, int), buf) == -ENOTTY);
        CHECK(fx.ioctl(a, _IOWR('>', 6, int), buf) == -ENOTTY);
        CHECK(fx.ioctl(a, ACCEL_IOCTL_VERSION, buf) == -ENOTTY);
        CHECK(fx.ioctl(a, ACCEL_IOCTL_SYNCOBJ_CREATE, buf) == -ENOTTY);
        CHECK(fx.close(a) == 0);
    }

    SUBCASE("libsync: sync_wait times out with ETIME, then returns 0; sync_merge waits for both") {
        const int a = fx.export_sync_file(0), b = fx.export_sync_file(1);
        int err = 0;
        CHECK(fx.libsync_wait(a, 10, err) == -1);
        CHECK(err == ETIME);
        const int c = fx.libsync_merge("pair", a, b);
        REQUIRE(c >= 0);
        fx.signal(0);
        CHECK(fx.libsync_wait(a, 0, err) == 0);
        err = 0;
        CHECK(fx.libsync_wait(c, 0, err) == -1);
        CHECK(err == ETIME);
        fx.signal(1);
        CHECK(fx.libsync_wait(c, 1000, err) == 0);
        CHECK(fx.libsync_merge("bad", a, fx.fd) == -ENOENT);
        for (int x : {a, b, c})
            CHECK(fx.close(x) == 0);
        err = 0;
        CHECK(fx.libsync_wait(a, 0, err) == -1); // closed: POLLNVAL
        CHECK(err == EINVAL);
    }
}

} // namespace accel::test::so

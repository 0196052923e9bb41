// SPDX-License-Identifier: MIT
// Syncobjs and sync files through the mock (share/syncobj.hpp, share/sync_file.hpp): every errno
// of KERNEL-EXEC.md 4.3 (IGT's syncobj_basic/wait/timeline invalid-* cases), the wait matrix
// (unsubmitted / submitted / signalled, ALL, FOR_SUBMIT, AVAILABLE, -ETIME, first_signaled, a
// wait woken from another thread), timeline QUERY / TRANSFER / TIMELINE_SIGNAL, descriptors
// (HANDLE_TO_FD / FD_TO_HANDLE with and without sync files), sync file MERGE / FILE_INFO / poll,
// and libsync's sync_wait / sync_merge done the way libsync.h does them, on mock descriptors.
// The calls that return no descriptor run through FUSE too (tests/fuse/syncobj_test.cpp).
#include "syncobj_driver.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <cstring>
#include <thread>
#include <vector>

namespace {

using namespace accel;
using namespace accel::test;

std::uint64_t uptr(const void* p) { return static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(p)); }
constexpr unsigned long with_size(unsigned long cmd, unsigned size) {
    return _IOC(_IOC_DIR(cmd), _IOC_TYPE(cmd), _IOC_NR(cmd), size);
}

struct fixture {
    subsystem sub;
    registration reg;
    backend::mock mock{sub};
    int fd = -1;
    fixture() {
        test_fences.reset();
        auto d = device<syncobj_driver>::create();
        REQUIRE(d);
        auto r = sub.register_device(*d);
        REQUIRE(r);
        reg = std::move(*r);
        fd = mock.open(std::string(mock.root()) + "/" + node_name(node_kind::compute, reg.minor()), O_RDWR);
        REQUIRE(fd >= 0);
    }
    ~fixture() { test_fences.reset(); }
    int io(unsigned long cmd, void* arg) { return mock.ioctl(fd, cmd, arg); }
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
    int export_sync_file(unsigned fence) {
        so_fence_arg a{fence, -1};
        REQUIRE(io(SO_TEST_EXPORT, &a) == 0);
        return a.fd;
    }
};

constexpr std::int64_t forever = INT64_MAX;
/// A range that wraps around the address space: a fault for every backend (the mock trusts any
/// other non-null pointer).
constexpr std::uint64_t bad_ptr = ~0ull - 3;
std::int64_t in_ms(int ms) { return monotonic_ns() + std::int64_t{ms} * 1'000'000; }

constexpr std::uint32_t ALL = ACCEL_SYNCOBJ_WAIT_FLAGS_WAIT_ALL;
constexpr std::uint32_t FOR_SUBMIT = ACCEL_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT;
constexpr std::uint32_t AVAILABLE = ACCEL_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE;

} // namespace

TEST_CASE_FIXTURE(fixture, "syncobj: GET_CAP reads SYNCOBJ and SYNCOBJ_TIMELINE as 1 for a driver with the features") {
    accel_get_cap cap{ACCEL_CAP_SYNCOBJ, 0};
    CHECK(io(ACCEL_IOCTL_GET_CAP, &cap) == 0);
    CHECK(cap.value == 1);
    cap = {ACCEL_CAP_SYNCOBJ_TIMELINE, 0};
    CHECK(io(ACCEL_IOCTL_GET_CAP, &cap) == 0);
    CHECK(cap.value == 1);
}

TEST_CASE_FIXTURE(fixture, "syncobj: CREATE and DESTROY (syncobj_basic bad-create-flags, bad-destroy, bad-destroy-pad)") {
    CHECK(create() == 1); // handles start at 1
    CHECK(create() == 2);
    accel_syncobj_create c{0, 0xff};
    CHECK(io(ACCEL_IOCTL_SYNCOBJ_CREATE, &c) == -EINVAL);
    c = {0, 2};
    CHECK(io(ACCEL_IOCTL_SYNCOBJ_CREATE, &c) == -EINVAL);
    accel_syncobj_destroy d{1, 1};
    CHECK(io(ACCEL_IOCTL_SYNCOBJ_DESTROY, &d) == -EINVAL); // pad
    d = {0, 0};
    CHECK(io(ACCEL_IOCTL_SYNCOBJ_DESTROY, &d) == -EINVAL); // never a handle
    d = {99, 0};
    CHECK(io(ACCEL_IOCTL_SYNCOBJ_DESTROY, &d) == -EINVAL);
    d = {1, 0};
    CHECK(io(ACCEL_IOCTL_SYNCOBJ_DESTROY, &d) == 0);
    CHECK(io(ACCEL_IOCTL_SYNCOBJ_DESTROY, &d) == -EINVAL); // already gone
    CHECK(create() == 1);                                  // the lowest free number again
    // create-signaled: a wait with timeout 0 succeeds.
    std::uint32_t s = create(ACCEL_SYNCOBJ_CREATE_SIGNALED);
    CHECK(wait({s}, 0, 0) == 0);
}

TEST_CASE_FIXTURE(fixture, "syncobj: WAIT and TIMELINE_WAIT argument errors") {
    std::uint32_t h = create();
    CHECK(wait({h}, 0, 0xff) == -EINVAL);
    CHECK(wait({h}, 0, AVAILABLE) == -EINVAL); // AVAILABLE only on TIMELINE_WAIT
    CHECK(twait({h}, {}, 0, 0x10) == -EINVAL);
    CHECK(wait({}, 0, 0) == 0); // count 0 returns 0 since Linux 6.4
    CHECK(twait({}, {}, 0, 0) == 0);
    CHECK(wait({h, 77}, 0, 0) == -ENOENT);
    CHECK(wait({0}, 0, 0) == -ENOENT);
    accel_syncobj_wait w{};
    w.handles = bad_ptr;
    w.count_handles = 1;
    CHECK(io(ACCEL_IOCTL_SYNCOBJ_WAIT, &w) == -EFAULT);
    accel_syncobj_timeline_wait tw{};
    tw.handles = uptr(&h);
    tw.points = bad_ptr;
    tw.count_handles = 1;
    CHECK(io(ACCEL_IOCTL_SYNCOBJ_TIMELINE_WAIT, &tw) == -EFAULT);
    w = {};
    w.handles = uptr(&h);
    w.count_handles = 1u << 30; // beyond the kernel's kmalloc limit
    CHECK(io(ACCEL_IOCTL_SYNCOBJ_WAIT, &w) == -ENOMEM);
}

TEST_CASE_FIXTURE(fixture, "syncobj: the wait matrix, single and multi, ALL and FOR_SUBMIT") {
    std::uint32_t unsubmitted = create(), submitted = create(), signaled = create();
    REQUIRE(set(submitted, 0) == 0);
    REQUIRE(set(signaled, 1) == 0);
    signal(1);
    for (std::uint32_t flags : {0u, ALL, FOR_SUBMIT, ALL | FOR_SUBMIT}) {
        CAPTURE(flags);
        // unsubmitted: -EINVAL without FOR_SUBMIT, else nothing arrives: -ETIME
        CHECK(wait({unsubmitted}, 0, flags) == ((flags & FOR_SUBMIT) ? -ETIME : -EINVAL));
        CHECK(wait({unsubmitted}, in_ms(20), flags) == ((flags & FOR_SUBMIT) ? -ETIME : -EINVAL));
        // submitted, not signalled: -ETIME
        CHECK(wait({submitted}, 0, flags) == -ETIME);
        CHECK(wait({submitted}, in_ms(20), flags) == -ETIME);
        // signalled: 0
        std::uint32_t first = 0;
        CHECK(wait({signaled}, 0, flags, &first) == 0);
        CHECK(first == 0);
        // multi: any is satisfied by the signalled one (first_signaled says which), ALL is not
        first = 0;
        int r = wait({submitted, signaled}, 0, flags, &first);
        if (flags & ALL) {
            CHECK(r == -ETIME);
        } else {
            CHECK(r == 0);
            CHECK(first == 1);
        }
        CHECK(wait({unsubmitted, signaled}, 0, flags, &first) == ((flags & FOR_SUBMIT) ? ((flags & ALL) ? -ETIME : 0) : -EINVAL));
    }
    // A past absolute timeout is a poll, a negative one too.
    CHECK(wait({submitted}, 1, 0) == -ETIME);
    CHECK(wait({submitted}, -5, 0) == -ETIME);
}

TEST_CASE_FIXTURE(fixture, "syncobj: a parked wait is woken by a signal from another thread, holding no thread meanwhile") {
    std::uint32_t a = create(), b = create();
    REQUIRE(set(a, 0) == 0);
    REQUIRE(set(b, 1) == 0);
    std::atomic<int> result{1};
    std::uint32_t first = 99;
    std::thread waiter([&] { result = wait({a, b}, forever, 0, &first); });
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    CHECK(result == 1);
    // Other calls go on while the wait is parked.
    CHECK(wait({a}, 0, 0) == -ETIME);
    signal(1);
    waiter.join();
    CHECK(result == 0);
    CHECK(first == 1);
    // ALL: woken by each signal, finished by the last; first_signaled is ~0 after blocking.
    std::uint32_t c = create();
    REQUIRE(set(c, 2) == 0);
    result = 1;
    std::thread all([&] { result = wait({a, c}, in_ms(10000), ALL, &first); });
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    signal(0);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    CHECK(result == 1);
    signal(2);
    all.join();
    CHECK(result == 0);
    CHECK(first == ~0u);
}

TEST_CASE_FIXTURE(fixture, "syncobj: WAIT_FOR_SUBMIT is woken by the fence's arrival, then by its signal") {
    std::uint32_t h = create();
    std::atomic<int> result{1};
    std::thread waiter([&] { result = wait({h}, in_ms(10000), FOR_SUBMIT); });
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    REQUIRE(set(h, 3) == 0); // arrives, still pending
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    CHECK(result == 1);
    signal(3);
    waiter.join();
    CHECK(result == 0);
    // The deadline covers both: a fence that never arrives times out.
    std::uint32_t never = create();
    const auto t0 = std::chrono::steady_clock::now();
    CHECK(wait({never}, in_ms(50), FOR_SUBMIT) == -ETIME);
    CHECK(std::chrono::steady_clock::now() - t0 >= std::chrono::milliseconds(45));
}

TEST_CASE_FIXTURE(fixture, "syncobj: the pre-6.4 WAIT and TIMELINE_WAIT sizes (without deadline_nsec) work") {
    std::uint32_t h = create(ACCEL_SYNCOBJ_CREATE_SIGNALED);
    accel_syncobj_wait w{};
    w.handles = uptr(&h);
    w.count_handles = 1;
    w.first_signaled = 7;
    CHECK(io(with_size(ACCEL_IOCTL_SYNCOBJ_WAIT, 32), &w) == 0);
    CHECK(w.first_signaled == 0);
    accel_syncobj_timeline_wait tw{};
    tw.handles = uptr(&h);
    tw.count_handles = 1;
    CHECK(io(with_size(ACCEL_IOCTL_SYNCOBJ_TIMELINE_WAIT, 40), &tw) == 0);
}

TEST_CASE_FIXTURE(fixture, "syncobj: RESET and SIGNAL (invalid-{reset,signal}-* cases)") {
    std::uint32_t h = create();
    std::uint32_t hs[2] = {h, 55};
    accel_syncobj_array a{uptr(&h), 1, 1};
    CHECK(io(ACCEL_IOCTL_SYNCOBJ_RESET, &a) == -EINVAL); // pad
    CHECK(io(ACCEL_IOCTL_SYNCOBJ_SIGNAL, &a) == -EINVAL);
    a = {uptr(&h), 0, 0};
    CHECK(io(ACCEL_IOCTL_SYNCOBJ_RESET, &a) == -EINVAL); // zero handles
    CHECK(io(ACCEL_IOCTL_SYNCOBJ_SIGNAL, &a) == -EINVAL);
    a = {uptr(hs), 2, 0};
    CHECK(io(ACCEL_IOCTL_SYNCOBJ_SIGNAL, &a) == -ENOENT); // one illegal handle: nothing done
    CHECK(wait({h}, 0, 0) == -EINVAL);                    // still no fence
    a = {bad_ptr, 1, 0};
    CHECK(io(ACCEL_IOCTL_SYNCOBJ_SIGNAL, &a) == -EFAULT);
    a = {uptr(&h), 1, 0};
    CHECK(io(ACCEL_IOCTL_SYNCOBJ_SIGNAL, &a) == 0);
    CHECK(wait({h}, 0, 0) == 0);
    CHECK(io(ACCEL_IOCTL_SYNCOBJ_RESET, &a) == 0);
    CHECK(wait({h}, 0, 0) == -EINVAL); // reset: no fence again
}

TEST_CASE_FIXTURE(fixture, "syncobj: timeline points: TIMELINE_SIGNAL, QUERY, TIMELINE_WAIT with AVAILABLE") {
    std::uint32_t t = create();
    CHECK(query(t) == 0);                                                 // no chain: 0
    REQUIRE(set(t, 0, 1) == 0);                                           // point 1: fence 0
    REQUIRE(set(t, 1, 2) == 0);                                           // point 2: fence 1
    REQUIRE(set(t, 2, 3) == 0);                                           // point 3: fence 2
    CHECK(query(t, ACCEL_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED) == 3);
    CHECK(query(t) == 0);
    signal(1); // point 2 alone: point 2 is not done while 1 is pending
    CHECK(query(t) == 0);
    CHECK(twait({t}, {2}, 0, 0) == -ETIME);
    signal(0);
    CHECK(query(t) == 2);
    CHECK(twait({t}, {2}, 0, 0) == 0);
    CHECK(twait({t}, {3}, 0, 0) == -ETIME);
    CHECK(twait({t}, {3}, 0, AVAILABLE) == 0); // submitted is enough
    CHECK(twait({t}, {4}, 0, 0) == -EINVAL);   // not submitted
    CHECK(twait({t}, {4}, 0, AVAILABLE) == -ETIME);
    CHECK(twait({t}, {4}, 0, FOR_SUBMIT) == -ETIME);
    // TIMELINE_SIGNAL point 4 (a signalled stub): 4 is available but waits for 3.
    CHECK(tsignal(t, 4) == 0);
    CHECK(query(t, ACCEL_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED) == 4);
    CHECK(twait({t}, {4}, 0, 0) == -ETIME);
    // A waiter for point 5, woken when a later TIMELINE_SIGNAL submits it from another thread.
    std::atomic<int> result{1};
    std::thread waiter([&] { result = twait({t}, {5}, in_ms(10000), AVAILABLE); });
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    CHECK(result == 1);
    CHECK(tsignal(t, 5) == 0);
    waiter.join();
    CHECK(result == 0);
    signal(2);
    CHECK(query(t) == 5);
    CHECK(twait({t}, {5}, 0, 0) == 0);
    // Null points: every point 0 (the whole fence).
    CHECK(twait({t}, {}, 0, 0) == 0);
}

TEST_CASE_FIXTURE(fixture, "syncobj: QUERY and TIMELINE_SIGNAL errors (invalid-query-*, invalid-signal-*)") {
    std::uint32_t t = create();
    std::uint64_t p = 0;
    accel_syncobj_timeline_array a{uptr(&t), uptr(&p), 1, 2};
    CHECK(io(ACCEL_IOCTL_SYNCOBJ_QUERY, &a) == -EINVAL); // bad flags
    CHECK(io(ACCEL_IOCTL_SYNCOBJ_TIMELINE_SIGNAL, &a) == -EINVAL);
    a.flags = ACCEL_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED;
    CHECK(io(ACCEL_IOCTL_SYNCOBJ_TIMELINE_SIGNAL, &a) == -EINVAL); // TIMELINE_SIGNAL takes no flag
    a = {uptr(&t), uptr(&p), 0, 0};
    CHECK(io(ACCEL_IOCTL_SYNCOBJ_QUERY, &a) == -EINVAL); // zero handles
    CHECK(io(ACCEL_IOCTL_SYNCOBJ_TIMELINE_SIGNAL, &a) == -EINVAL);
    std::uint32_t bad = 42;
    a = {uptr(&bad), uptr(&p), 1, 0};
    CHECK(io(ACCEL_IOCTL_SYNCOBJ_QUERY, &a) == -ENOENT);
    CHECK(io(ACCEL_IOCTL_SYNCOBJ_TIMELINE_SIGNAL, &a) == -ENOENT);
    a = {uptr(&t), bad_ptr, 1, 0};
    CHECK(io(ACCEL_IOCTL_SYNCOBJ_QUERY, &a) == -EFAULT);
    CHECK(io(ACCEL_IOCTL_SYNCOBJ_TIMELINE_SIGNAL, &a) == -EFAULT);
    a = {uptr(&t), 0, 1, 0}; // null points: point 0
    CHECK(io(ACCEL_IOCTL_SYNCOBJ_TIMELINE_SIGNAL, &a) == 0);
}

TEST_CASE_FIXTURE(fixture, "syncobj: TRANSFER between binary and timeline syncobjs, and its errors") {
    std::uint32_t bin = create(), tl = create(), dst = create();
    accel_syncobj_transfer x{};
    x.src_handle = bin;
    x.dst_handle = dst;
    x.pad = 1;
    CHECK(io(ACCEL_IOCTL_SYNCOBJ_TRANSFER, &x) == -EINVAL);
    x.pad = 0;
    x.dst_handle = 99;
    CHECK(io(ACCEL_IOCTL_SYNCOBJ_TRANSFER, &x) == -ENOENT);
    x.dst_handle = dst;
    x.src_handle = 99;
    CHECK(io(ACCEL_IOCTL_SYNCOBJ_TRANSFER, &x) == -ENOENT);
    x.src_handle = bin;
    CHECK(io(ACCEL_IOCTL_SYNCOBJ_TRANSFER, &x) == -EINVAL); // no fence in the source
    x.flags = 0x4;
    CHECK(io(ACCEL_IOCTL_SYNCOBJ_TRANSFER, &x) == -EINVAL); // flags other than FOR_SUBMIT
    x.flags = 0;
    REQUIRE(set(bin, 0) == 0);
    // binary -> timeline point 7
    x.dst_point = 7;
    CHECK(io(ACCEL_IOCTL_SYNCOBJ_TRANSFER, &x) == 0);
    CHECK(query(dst, ACCEL_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED) == 7);
    CHECK(twait({dst}, {7}, 0, 0) == -ETIME);
    // timeline point -> binary
    REQUIRE(set(tl, 1, 1) == 0);
    REQUIRE(set(tl, 2, 2) == 0);
    std::uint32_t bin2 = create();
    x = {};
    x.src_handle = tl;
    x.src_point = 1;
    x.dst_handle = bin2;
    CHECK(io(ACCEL_IOCTL_SYNCOBJ_TRANSFER, &x) == 0);
    x.src_point = 3;
    CHECK(io(ACCEL_IOCTL_SYNCOBJ_TRANSFER, &x) == -EINVAL); // not submitted
    CHECK(wait({bin2}, 0, 0) == -ETIME);
    signal(1);
    CHECK(wait({bin2}, 0, 0) == 0); // point 1 is fence 1
    signal(0);
    CHECK(twait({dst}, {7}, 0, 0) == 0);
}

TEST_CASE_FIXTURE(fixture, "syncobj: syncobj_find_fence for drivers: errors, stubs, FOR_SUBMIT's bounded wait") {
    std::uint32_t h = create();
    so_find_arg a{h, 0, 0, 1, 0, 0};
    REQUIRE(io(SO_TEST_FIND, &a) == 0);
    CHECK(a.result == -EINVAL); // no fence
    a = {h, 4, 0, 1, 0, 0};
    REQUIRE(io(SO_TEST_FIND, &a) == 0);
    CHECK(a.result == -EINVAL); // bad flags first
    a = {77, 0, 0, 1, 0, 0};
    REQUIRE(io(SO_TEST_FIND, &a) == 0);
    CHECK(a.result == -ENOENT);
    REQUIRE(set(h, 0, 1) == 0);
    a = {h, 0, 1, 1, 0, 0};
    REQUIRE(io(SO_TEST_FIND, &a) == 0);
    CHECK(a.result == 0);
    CHECK(a.seqno == 1); // the chain node of point 1
    a = {h, 0, 2, 1, 0, 0};
    REQUIRE(io(SO_TEST_FIND, &a) == 0);
    CHECK(a.result == -EINVAL); // not submitted
    signal(0);
    a = {h, 0, 1, 1, 0, 0};
    REQUIRE(io(SO_TEST_FIND, &a) == 0);
    CHECK(a.result == 0);
    CHECK_FALSE(a.is_stub); // the head itself covers point 1: the (signalled) node, as in the kernel
    REQUIRE(set(h, 4, 2) == 0);
    a = {h, 0, 1, 1, 0, 0};
    REQUIRE(io(SO_TEST_FIND, &a) == 0);
    CHECK(a.result == 0);
    CHECK(a.is_stub); // everything up to 1 signalled behind the head: a stub
    // FOR_SUBMIT: the point arrives from another thread while the driver waits.
    std::thread later([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(30));
        fixture* self = this;
        so_set_arg s{h, 5, 3};
        self->io(SO_TEST_SET, &s);
    });
    a = {h, FOR_SUBMIT, 3, 1, 0, 0};
    REQUIRE(io(SO_TEST_FIND, &a) == 0);
    later.join();
    CHECK(a.result == 0);
}

TEST_CASE_FIXTURE(fixture, "syncobj: EVENTFD validates like the kernel and answers for a descriptor that is no eventfd") {
    std::uint32_t h = create();
    accel_syncobj_eventfd e{h, 0x8, 0, -1, 0};
    CHECK(io(ACCEL_IOCTL_SYNCOBJ_EVENTFD, &e) == -EINVAL); // bad flags
    e = {h, 0, 0, -1, 1};
    CHECK(io(ACCEL_IOCTL_SYNCOBJ_EVENTFD, &e) == -EINVAL); // bad pad
    e = {99, 0, 0, -1, 0};
    CHECK(io(ACCEL_IOCTL_SYNCOBJ_EVENTFD, &e) == -ENOENT);
    e = {h, 0, 0, -1, 0};
    CHECK(io(ACCEL_IOCTL_SYNCOBJ_EVENTFD, &e) == -EBADF); // illegal eventfd
    e = {h, 0, 0, fd, 0};
    CHECK(io(ACCEL_IOCTL_SYNCOBJ_EVENTFD, &e) == -EINVAL); // open, but no eventfd
}

TEST_CASE_FIXTURE(fixture, "syncobj: HANDLE_TO_FD and FD_TO_HANDLE share a syncobj; every import is a new handle") {
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
    CHECK(f2h({0, 0, -1, 0, 0}) == -EBADF);     // bad-fd-to-handle
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

TEST_CASE_FIXTURE(fixture, "syncobj: handles go at close; a shared syncobj outlives the file that made it") {
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

TEST_CASE_FIXTURE(fixture, "sync_file: poll is POLLIN once signalled, even with an error; SET_DEADLINE; unknown ioctls -ENOTTY") {
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

TEST_CASE_FIXTURE(fixture, "libsync: sync_wait times out with ETIME, then returns 0; sync_merge waits for both") {
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

// SPDX-License-Identifier: MIT
// The syncobj conformance cases: every syncobj call that returns no descriptor, written once
// against the client_backend interface and run on the mock (tests/core/syncobj_test.cpp) and
// through FUSE (tests/fuse/syncobj_test.cpp), so both answer alike: every errno of
// KERNEL-EXEC.md 4.3 (IGT's syncobj_basic/wait/timeline invalid-* cases), the wait matrix
// (unsubmitted / submitted / signalled, ALL, FOR_SUBMIT, AVAILABLE, -ETIME, first_signaled,
// waits woken from another thread), timeline QUERY / TRANSFER / TIMELINE_SIGNAL, and the
// driver API (syncobj_find_fence).
//
// An environment E provides:
//   auto& client();              the backend
//   std::string syncobj_node();  the compute node of a device<syncobj_driver>
//   void reset_fences();         forgets the test fences (where they live in this process)
//   static constexpr bool passes_descriptors;  whether a call may name another open file (fget)
// Calls that return a descriptor (HANDLE_TO_FD, sync files) stay in syncobj_test.cpp (mock)
// until the FUSE side of fd_install exists.
#pragma once
#include "syncobj_driver.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <cstdint>
#include <fcntl.h>
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
};

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
        if constexpr (E::passes_descriptors) {
            e = {h, 0, 0, fx.fd, 0};
            CHECK(fx.io(ACCEL_IOCTL_SYNCOBJ_EVENTFD, &e) == -EINVAL); // open, but no eventfd
        }
    }
}

} // namespace accel::test::so

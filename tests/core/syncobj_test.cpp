// SPDX-License-Identifier: MIT
// Syncobjs and sync files through the mock (share/syncobj.hpp, share/sync_file.hpp): the
// conformance cases (syncobj_conformance.hpp: every call, descriptors included), run here on the
// mock and in tests/fuse/syncobj_test.cpp through FUSE; and what only the mock can do: sync
// files' public API, a parked wait ended by close and unplug, allocation-failure injection.
#include "syncobj_conformance.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace {

using namespace accel;
using namespace accel::test;
using namespace accel::test::so;

/// The mock environment of the conformance cases: a syncobj device on a mock.
struct mock_env {
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
    int open_descriptors() const { return mock.open_descriptors(); }
};

TEST_CASE_TEMPLATE_INVOKE(syncobj_conformance, mock_env);

/// The mock-only cases: the conformance fixture.
struct fixture : so::fixture<mock_env> {};

} // namespace

TEST_CASE("sync_file: the public API: create, get_fence, is_sync_file") {
    fence_ptr f = make_fence(fence_context_alloc(), 1);
    auto file = sync_file_create(f);
    REQUIRE(file);
    CHECK(is_sync_file(**file));
    CHECK(sync_file_get_fence(**file) == f);
    CHECK(sync_file_create(nullptr).error() == -EINVAL);
    f->signal();
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

// SPDX-License-Identifier: MIT
// Parked requests through FUSE, beyond the shared conformance cases: what only a real kernel
// adds - a signal interrupting a wait, a client killed while it waits - and the worker
// threads a wait does not hold.
#include "conformance_wait.hpp"
#include "fuse_fixture.hpp"
#include "signals.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace accel::test {

TEST_CASE("fuse wait: a signal ends a parked wait with EINTR, and nothing stays parked") {
    fuse_fixture fx;
    int w = fx.sys.open(fx.compute(0), O_RDWR);
    int mon = fx.sys.open(fx.monitor(0), O_RDWR);
    REQUIRE(w >= 0);
    REQUIRE(mon >= 0);
    test_wait a{~0ull, ~0u, 0, 0}; // for ever
    // Raw ioctl(2): backend::syscall retries EINTR as drmIoctl does.
    const int err = interrupt_parked(fx, mon, [&] { return ::ioctl(w, TEST_IOCTL_WAIT, &a) == 0 ? 0 : errno; });
    CHECK(err == EINTR);
    CHECK(parked_now(fx.sys, mon) == 0);
    // The descriptor still works, waits included.
    test_ring now{0, 0};
    REQUIRE(fx.sys.ioctl(mon, TEST_IOCTL_RING, &now) == 0);
    test_wait b{now.doorbell, 0, 0, 0};
    CHECK(fx.sys.ioctl(w, TEST_IOCTL_WAIT, &b) == 0);
    CHECK(fx.sys.close(w) == 0);
    CHECK(fx.sys.close(mon) == 0);
}

TEST_CASE("fuse wait: a signal ends a parked read(2) with EINTR") {
    fuse_fixture fx;
    int r = fx.sys.open(fx.monitor(0), O_RDWR);
    int mon = fx.sys.open(fx.monitor(0), O_RDWR);
    REQUIRE(r >= 0);
    REQUIRE(mon >= 0);
    const int err = interrupt_parked(fx, mon, [&] {
        test_event ev{};
        return ::read(r, &ev, sizeof ev) >= 0 ? 0 : errno; // no events: parks
    });
    CHECK(err == EINTR);
    CHECK(parked_now(fx.sys, mon) == 0);
    CHECK(fx.sys.close(r) == 0);
    CHECK(fx.sys.close(mon) == 0);
}

TEST_CASE("fuse wait: a client killed while it waits is reaped at once, and its request is gone") {
    fuse_fixture fx;
    int mon = fx.sys.open(fx.monitor(0), O_RDWR);
    REQUIRE(mon >= 0);
    pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        int fd = ::open(fx.compute(0).c_str(), O_RDWR | O_CLOEXEC);
        test_wait a{~0ull, ~0u, 0, 0};
        ::ioctl(fd, TEST_IOCTL_WAIT, &a);
        ::_exit(3); // never: it waits for ever
    }
    REQUIRE(wait_until_parked(fx.sys, mon, 1));
    const auto t0 = std::chrono::steady_clock::now();
    REQUIRE(::kill(child, SIGKILL) == 0);
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child); // no D state: the server answered the interrupt
    CHECK(WIFSIGNALED(status));
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));
    REQUIRE(wait_until_parked(fx.sys, mon, 0));
    CHECK(fx.sys.close(mon) == 0);
}

} // namespace accel::test

// SPDX-License-Identifier: MIT
// Parked requests through FUSE, beyond the shared conformance cases: what only a real kernel
// adds - a signal interrupting a wait, a client killed while it waits - and the worker
// threads a wait does not hold.
#include "conformance_wait.hpp"
#include "fuse_fixture.hpp"

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

namespace {
void on_usr2(int) {}

/// SIGUSR2 with a handler and without SA_RESTART for the scope: the call a thread is blocked in
/// returns EINTR when the signal reaches it.
struct usr2_interrupts {
    usr2_interrupts() {
        struct sigaction sa {};
        sa.sa_handler = &on_usr2;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = 0;
        REQUIRE(::sigaction(SIGUSR2, &sa, &old) == 0);
    }
    ~usr2_interrupts() { ::sigaction(SIGUSR2, &old, nullptr); }
    struct sigaction old {};
};

/// Runs `blocking` (which returns 0 or an errno) on a thread, waits until device 0 has one
/// request parked, interrupts the thread with SIGUSR2 and returns what `blocking` returned.
template <class Fn>
int interrupt_parked(fuse_fixture& fx, int mon, Fn&& blocking) {
    usr2_interrupts scope;
    std::atomic<int> err{-1};
    std::atomic<bool> started{false};
    pthread_t id{};
    std::thread t([&] {
        id = pthread_self();
        started = true;
        err = blocking();
    });
    while (!started)
        std::this_thread::yield();
    REQUIRE(wait_until_parked(fx.sys, mon, 1));
    REQUIRE(pthread_kill(id, SIGUSR2) == 0);
    t.join();
    return err;
}
} // namespace

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

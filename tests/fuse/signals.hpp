// SPDX-License-Identifier: MIT
// Interrupting a client thread blocked in a system call on a FUSE node, for the tests of
// parked requests (wait_test.cpp, events_test.cpp).
#pragma once
#include "conformance_wait.hpp"
#include "fuse_fixture.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <csignal>
#include <pthread.h>
#include <thread>

namespace accel::test {

inline void on_usr2(int) {}

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

} // namespace accel::test

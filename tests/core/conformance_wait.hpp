// SPDX-License-Identifier: MIT
// Conformance, part two: requests that wait (deferred completion) and poll, written once
// against the client_backend interface and run on every backend that can park requests.
//
// Besides conformance.hpp's fixture members, F provides:
//   void unplug0();     unregisters device 0 (test_driver) while clients use it
// Device 0's doorbell (test_uapi.h: WAIT, RING, POLL_ARM) is the condition the waits wait on.
#pragma once
#include "test_drivers.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <sys/mman.h>
#include <fcntl.h>
#include <poll.h>
#include <string>
#include <thread>
#include <vector>

namespace accel::test {

/// RING with count 0: wakes nobody's condition and answers how many requests are parked.
template <class B>
int parked_now(B& c, int fd) {
    test_ring probe{0, 0};
    return c.ioctl(fd, TEST_IOCTL_RING, &probe);
}

/// Waits (up to 10 s) until `n` requests are parked on device 0.
template <class B>
bool wait_until_parked(B& c, int fd, int n) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (parked_now(c, fd) != n)
        if (std::chrono::steady_clock::now() > deadline)
            return false;
        else
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return true;
}

/// Opens `path` n times (all must open).
template <class B>
std::vector<int> open_many(B& c, const std::string& path, int n) {
    std::vector<int> fds;
    for (int i = 0; i < n; ++i) {
        fds.push_back(c.open(path, O_RDWR));
        REQUIRE(fds.back() >= 0);
    }
    return fds;
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool sanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool sanitized = true;
#else
inline constexpr bool sanitized = false;
#endif
#else
inline constexpr bool sanitized = false;
#endif

TEST_CASE_TEMPLATE_DEFINE("conformance: waits and poll", F, conformance_wait) {
    F fx;
    auto& c = fx.client();
    using clock = std::chrono::steady_clock;

    SUBCASE("a parked wait is answered when its condition comes, with its output copied out") {
        int w = c.open(fx.compute(0), O_RDWR);
        int mon = c.open(fx.monitor(0), O_RDWR);
        REQUIRE(w >= 0);
        REQUIRE(mon >= 0);
        test_ring now{0, 0};
        REQUIRE(c.ioctl(mon, TEST_IOCTL_RING, &now) == 0);
        test_wait a{now.doorbell + 2, ~0u, 0, 0};
        std::atomic<int> result{1};
        std::thread t([&] { result = c.ioctl(w, TEST_IOCTL_WAIT, &a); });
        REQUIRE(wait_until_parked(c, mon, 1));
        test_ring one{1, 0};
        CHECK(c.ioctl(mon, TEST_IOCTL_RING, &one) == 1); // woken, but the target is two rings away
        CHECK(parked_now(c, mon) == 1);
        CHECK(result == 1);
        CHECK(c.ioctl(mon, TEST_IOCTL_RING, &one) == 1);
        t.join();
        CHECK(result == 0);
        CHECK(a.seen == now.doorbell + 2); // written by the check, copied out at completion
        CHECK(parked_now(c, mon) == 0);
        // Already reached: answered at once, never parked.
        test_wait b{now.doorbell, 0, 0, 0};
        CHECK(c.ioctl(w, TEST_IOCTL_WAIT, &b) == 0);
        CHECK(b.seen == now.doorbell + 2);
        CHECK(c.close(w) == 0);
        CHECK(c.close(mon) == 0);
    }

    SUBCASE("the timeout answers ETIME after the check ran a last time") {
        int w = c.open(fx.compute(0), O_RDWR);
        REQUIRE(w >= 0);
        test_wait a{~0ull, 50, 0, 7};
        const auto t0 = clock::now();
        CHECK(c.ioctl(w, TEST_IOCTL_WAIT, &a) == -ETIME);
        CHECK(clock::now() - t0 >= std::chrono::milliseconds(50));
        CHECK(a.seen == 7); // copied out unchanged
        test_wait z{~0ull, 0, 0, 0}; // a zero timeout: only the check
        CHECK(c.ioctl(w, TEST_IOCTL_WAIT, &z) == -ETIME);
        test_wait bad{~0ull, 0, 1, 0};
        CHECK(c.ioctl(w, TEST_IOCTL_WAIT, &bad) == -EINVAL);
        CHECK(c.close(w) == 0);
    }

    SUBCASE("waits hold no thread: 16 waiting clients do not hold up a 17th") {
        int mon = c.open(fx.monitor(0), O_RDWR);
        REQUIRE(mon >= 0);
        std::vector<int> fds = open_many(c, fx.compute(0), 16);
        std::vector<std::thread> waiters;
        std::atomic<int> answered{0}, ok{0};
        test_ring now{0, 0};
        REQUIRE(c.ioctl(mon, TEST_IOCTL_RING, &now) == 0);
        for (int fd : fds)
            waiters.emplace_back([&, fd] {
                test_wait a{now.doorbell + 1, 30000, 0, 0};
                if (c.ioctl(fd, TEST_IOCTL_WAIT, &a) == 0)
                    ++ok;
                ++answered;
            });
        REQUIRE(wait_until_parked(c, mon, 16));
        int seventeenth = c.open(fx.compute(0), O_RDWR); // open and ioctls still served
        REQUIRE(seventeenth >= 0);
        test_echo e{};
        CHECK(c.ioctl(seventeenth, TEST_IOCTL_ECHO, &e) == 0);
        CHECK(e.report == TEST_ECHO_RAN);
        CHECK(answered == 0);
        test_ring one{1, 0};
        CHECK(c.ioctl(seventeenth, TEST_IOCTL_RING, &one) == 16);
        for (auto& t : waiters)
            t.join();
        CHECK(ok == 16);
        for (int fd : fds)
            CHECK(c.close(fd) == 0);
        CHECK(c.close(seventeenth) == 0);
        CHECK(c.close(mon) == 0);
    }

    SUBCASE("unplug while 8 clients wait: each gets ENODEV at once, and unplug never waits for them") {
        int mon = c.open(fx.monitor(0), O_RDWR);
        REQUIRE(mon >= 0);
        std::vector<int> fds = open_many(c, fx.compute(0), 8);
        std::vector<std::thread> waiters;
        std::atomic<int> enodev{0};
        std::atomic<long long> last_ns{0};
        const auto base = clock::now();
        for (int fd : fds)
            waiters.emplace_back([&, fd] {
                test_wait a{~0ull, ~0u, 0, 0}; // for ever
                if (c.ioctl(fd, TEST_IOCTL_WAIT, &a) == -ENODEV)
                    ++enodev;
                const long long ns = std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now() - base).count();
                for (long long seen = last_ns.load(); ns > seen && !last_ns.compare_exchange_weak(seen, ns);) {
                }
            });
        REQUIRE(wait_until_parked(c, mon, 8));
        const auto t0 = clock::now();
        fx.unplug0();
        for (auto& t : waiters)
            t.join();
        const auto took = base + std::chrono::nanoseconds(last_ns.load()) - t0;
        const auto ms = std::chrono::duration_cast<std::chrono::microseconds>(took).count() / 1000.0;
        MESSAGE("unplug with 8 parked waiters: the last waiter answered " << ms << " ms after the unplug began");
        CHECK(enodev == 8);
        CHECK(took < (sanitized ? std::chrono::milliseconds(1000) : std::chrono::milliseconds(100)));
        for (int fd : fds) {
            test_wait a{0, 0, 0, 0};
            CHECK(c.ioctl(fd, TEST_IOCTL_WAIT, &a) == -ENODEV);
            CHECK(c.close(fd) == 0);
        }
        CHECK(c.close(mon) == 0);
    }

    SUBCASE("DRM events: read(2) returns whole events, parks until one comes, and poll sees them") {
        // On both nodes: the compute node delivers events on the descriptor that maps objects
        // (through FUSE: a direct-I/O file, fuse/kernel_flags.hpp), the monitor node too.
        for (const std::string& node : {fx.compute(0), fx.monitor(0)}) {
            CAPTURE(node);
            int r = c.open(node, O_RDWR);
            int nb = c.open(node, O_RDWR | O_NONBLOCK);
            int mon = c.open(fx.monitor(0), O_RDWR);
            REQUIRE(r >= 0);
            REQUIRE(nb >= 0);
            REQUIRE(mon >= 0);
            test_event ev[4] = {};
            CHECK(c.read(nb, ev, sizeof ev) == -EAGAIN); // none pending, O_NONBLOCK
            CHECK(c.write(r, ev, sizeof ev) == -EINVAL); // drm_fops has no write, as vfs_write says
            CHECK(c.read(r + 1000, ev, sizeof ev) == -EBADF);

            std::atomic<long> got{1};
            std::thread t([&] { got = c.read(r, ev, sizeof ev); }); // parks: nothing pending
            REQUIRE(wait_until_parked(c, mon, 1));
            CHECK(got == 1);
            test_send_events s{7, 1, 100};
            REQUIRE(c.ioctl(mon, TEST_IOCTL_SEND_EVENTS, &s) == 0); // one event to every file
            t.join();
            CHECK(got == long{sizeof(test_event)}); // the parked read is answered with it
            CHECK(ev[0].type == 7);
            CHECK(ev[0].length == sizeof(test_event));
            CHECK(ev[0].value == 100);
            s = {7, 2, 101};
            REQUIRE(c.ioctl(mon, TEST_IOCTL_SEND_EVENTS, &s) == 0);
            CHECK(c.read(r, ev, sizeof ev) == 2 * long{sizeof(test_event)}); // whole events that fit
            CHECK(ev[0].value == 101);
            CHECK(ev[1].value == 102);

            pollfd p{nb, POLLIN, 0};
            CHECK(c.poll(&p, 1, 0) == 1); // nb has its three events pending
            CHECK(p.revents == (POLLIN));
            CHECK(c.read(nb, ev, sizeof(test_event) - 1) == 0); // the first does not fit: 0, kept
            CHECK(c.read(nb, ev, sizeof(test_event) + 4) == long{sizeof(test_event)}); // one at a time
            CHECK(ev[0].value == 100);
            CHECK(c.read(nb, ev, sizeof ev) == 2 * long{sizeof(test_event)});
            CHECK(ev[0].value == 101);
            CHECK(ev[1].value == 102);
            CHECK(c.poll(&p, 1, 0) == 0);
            CHECK(c.read(nb, ev, sizeof ev) == -EAGAIN);

            // poll wakes up when an event comes.
            std::atomic<int> ready{-1};
            std::thread w([&] { ready = c.poll(&p, 1, 10000); });
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
            CHECK(ready == -1);
            s = {8, 1, 200};
            REQUIRE(c.ioctl(mon, TEST_IOCTL_SEND_EVENTS, &s) == 0);
            w.join();
            CHECK(ready == 1);
            CHECK(p.revents == (POLLIN));
            CHECK(c.read(nb, ev, sizeof ev) == long{sizeof(test_event)});
            CHECK(ev[0].type == 8);
            CHECK(c.close(r) == 0);
            CHECK(c.close(nb) == 0);
            CHECK(c.close(mon) == 0);
            // Each file has 4096 bytes of event space (drm_file.event_space), given back by read:
            // 256 events of 16 bytes fit, the 257th is -ENOMEM, and reading makes room again.
            int full = c.open(node, O_RDWR | O_NONBLOCK);
            REQUIRE(full >= 0);
            test_send_events many{9, 256, 0};
            CHECK(c.ioctl(full, TEST_IOCTL_SEND_EVENTS, &many) == 0);
            test_send_events one_more{9, 1, 256};
            CHECK(c.ioctl(full, TEST_IOCTL_SEND_EVENTS, &one_more) == -ENOMEM);
            std::vector<test_event> all(300);
            CHECK(c.read(full, all.data(), all.size() * sizeof(test_event)) == 4096);
            CHECK(all[255].value == 255);
            CHECK(c.ioctl(full, TEST_IOCTL_SEND_EVENTS, &one_more) == 0);
            CHECK(c.close(full) == 0);
            int wo = c.open(node, O_WRONLY);
            REQUIRE(wo >= 0);
            CHECK(c.read(wo, ev, sizeof ev) == -EBADF); // not open for reading
            CHECK(c.close(wo) == 0);
        }
    }

    if constexpr (F::maps_objects) {
        SUBCASE("a job's output is in the mapping once its event is read, its wait ends or poll reports it") {
            // The device writes an object on its own thread (JOB), then signals; a client that
            // waited sees the write through its mapping, even with the page already touched
            // (through FUSE: cached) before the device wrote (fuse/coherency.hpp).
            int fd = c.open(fx.compute(0), O_RDWR);
            int mon = c.open(fx.monitor(0), O_RDWR);
            REQUIRE(fd >= 0);
            REQUIRE(mon >= 0);
            test_bo_create b{4096, 0, 0, 0};
            REQUIRE(c.ioctl(fd, TEST_IOCTL_BO_CREATE, &b) == 0);
            auto m = c.mmap(fd, b.mmap_offset, 4096, PROT_READ | PROT_WRITE, MAP_SHARED);
            REQUIRE(m);
            auto* words = static_cast<volatile std::uint64_t*>(*m);
            test_ring now{0, 0};
            REQUIRE(c.ioctl(mon, TEST_IOCTL_RING, &now) == 0);
            std::uint64_t bell = now.doorbell;
            test_ring one{1, 0};
            test_event ev{};
            // Each job waits for a ring, so the client reads the word before the device writes it.
            auto submit = [&](std::uint64_t offset, std::uint64_t value) {
                test_job j{b.handle, 0, offset, value, bell + 1};
                REQUIRE(c.ioctl(fd, TEST_IOCTL_JOB, &j) == 0);
                CHECK(words[offset / 8] == 0); // not written yet; the page is in use
                REQUIRE(c.ioctl(mon, TEST_IOCTL_RING, &one) >= 0); // the job may run
                bell += 2;                                           // its ring and the job's
            };

            submit(8, 0x1001); // 1. a blocking read(2) of the event
            CHECK(c.read(fd, &ev, sizeof ev) == long{sizeof ev});
            CHECK(ev.type == TEST_EVENT_JOB);
            CHECK(ev.value == 0x1001);
            CHECK(words[1] == 0x1001);

            submit(16, 0x2002); // 2. a WAIT for the doorbell the job rings last
            test_wait w{bell, 10000, 0, 0};
            CHECK(c.ioctl(fd, TEST_IOCTL_WAIT, &w) == 0);
            CHECK(words[2] == 0x2002);
            CHECK(c.read(fd, &ev, sizeof ev) == long{sizeof ev});
            CHECK(ev.value == 0x2002);

            submit(24, 0x3003); // 3. poll(2) reporting the event, before it is read
            pollfd p{fd, POLLIN, 0};
            CHECK(c.poll(&p, 1, 10000) == 1);
            CHECK(p.revents == (POLLIN));
            CHECK(words[3] == 0x3003);
            CHECK(c.read(fd, &ev, sizeof ev) == long{sizeof ev});
            CHECK(ev.value == 0x3003);

            test_job bad{b.handle, 0, 4, 1, 0}; // misaligned
            CHECK(c.ioctl(fd, TEST_IOCTL_JOB, &bad) == -EINVAL);
            CHECK(c.munmap(*m, 4096) == 0);
            CHECK(c.close(fd) == 0);
            CHECK(c.close(mon) == 0);
        }
    }

    SUBCASE("poll: several descriptors, a timeout, and readiness that a wake-up brings") {
        int a = c.open(fx.compute(0), O_RDWR);
        int b = c.open(fx.compute(0), O_RDWR);
        int mon = c.open(fx.monitor(0), O_RDWR);
        REQUIRE(a >= 0);
        REQUIRE(b >= 0);
        REQUIRE(mon >= 0);
        test_ring now{0, 0};
        REQUIRE(c.ioctl(mon, TEST_IOCTL_RING, &now) == 0);
        __u64 target = now.doorbell + 1;
        REQUIRE(c.ioctl(b, TEST_IOCTL_POLL_ARM, &target) == 0);
        pollfd p[3] = {{a, POLLIN, 0}, {b, POLLIN, 0}, {-1, POLLIN, 0}};
        CHECK(c.poll(p, 3, 0) == 0); // nothing ready, no wait
        const auto t0 = clock::now();
        CHECK(c.poll(p, 3, 30) == 0); // times out
        CHECK(clock::now() - t0 >= std::chrono::milliseconds(25));
        std::atomic<int> ready{-1};
        std::thread t([&] { ready = c.poll(p, 3, 10000); });
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        CHECK(ready == -1);
        test_ring one{1, 0};
        REQUIRE(c.ioctl(mon, TEST_IOCTL_RING, &one) >= 0);
        t.join();
        CHECK(ready == 1);
        CHECK(p[0].revents == 0);
        CHECK(p[1].revents == (POLLIN));
        CHECK(p[2].revents == 0);
        CHECK(c.close(a) == 0);
        CHECK(c.close(b) == 0);
        CHECK(c.close(mon) == 0);
    }
}

} // namespace accel::test

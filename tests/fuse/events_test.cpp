// SPDX-License-Identifier: MIT
// DRM events on the compute node through FUSE, with real system calls, beyond the shared
// conformance cases: the descriptor that maps objects also delivers events (a direct-I/O file
// with FUSE_DIRECT_IO_ALLOW_MMAP and FOPEN_STREAM, fuse/kernel_flags.hpp); signals, concurrent
// readers, close(2) under a blocked reader; and the sync point that makes a device's write
// visible through the mapping once its event is read (fuse/coherency.hpp).
#include "conformance_wait.hpp"
#include "fuse_fixture.hpp"
#include "signals.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <thread>
#include <unistd.h>

namespace accel::test {
namespace {

constexpr int rw = PROT_READ | PROT_WRITE;
constexpr long event_size = sizeof(test_event);

test_bo_create create_bo(fuse_fixture& fx, int fd, std::uint64_t size) {
    test_bo_create b{size, 0, 0, 0};
    REQUIRE(fx.sys.ioctl(fd, TEST_IOCTL_BO_CREATE, &b) == 0);
    return b;
}

std::uint64_t driver_reads(fuse_fixture& fx, int fd, std::uint32_t handle, std::uint64_t offset) {
    test_bo_poke p{handle, 0, offset, 0};
    REQUIRE(fx.sys.ioctl(fd, TEST_IOCTL_BO_POKE, &p) == 0);
    return p.value;
}

/// One event {type, 16, value} to every file of device 0, through the monitor descriptor `mon`.
void send_event(fuse_fixture& fx, int mon, std::uint32_t type, std::uint64_t value) {
    test_send_events s{type, 1, value};
    REQUIRE(fx.sys.ioctl(mon, TEST_IOCTL_SEND_EVENTS, &s) == 0);
}

/// Whether the first page at `p` is in the page cache (for a FUSE node: the caller's view).
bool cached(const volatile void* p) {
    unsigned char v = 0;
    REQUIRE(::mincore(const_cast<void*>(p), 4096, &v) == 0);
    return (v & 1) != 0;
}

std::uint64_t postcloses(fuse_fixture& fx, int mon) {
    test_count n{};
    REQUIRE(fx.sys.ioctl(mon, TEST_IOCTL_COUNT, &n) == 0);
    return n.postcloses;
}

} // namespace

TEST_CASE("fuse events: read(2), poll(2) and epoll on the compute node, on the descriptor that maps an object") {
    fuse_fixture fx;
    int fd = fx.sys.open(fx.compute(0), O_RDWR);
    int mon = fx.sys.open(fx.monitor(0), O_RDWR);
    REQUIRE(fd >= 0);
    REQUIRE(mon >= 0);
    // A MAP_SHARED mapping of an object through the very descriptor that reads events.
    auto b = create_bo(fx, fd, 4096);
    auto m = fx.sys.mmap(fd, b.mmap_offset, 4096, rw, MAP_SHARED);
    REQUIRE(m);
    auto* words = static_cast<volatile std::uint64_t*>(*m);
    words[0] = 0x11;
    CHECK(driver_reads(fx, fd, b.handle, 0) == 0x11);
    test_bo_poke poke{b.handle, 1, 8, 0x22};
    REQUIRE(fx.sys.ioctl(fd, TEST_IOCTL_BO_POKE, &poke) == 0);
    CHECK(words[1] == 0x22);

    // O_NONBLOCK set by fcntl(2) after open(2) reaches the server with each READ.
    REQUIRE(::fcntl(fd, F_SETFL, O_NONBLOCK) == 0);
    test_event ev[2] = {};
    errno = 0;
    CHECK(::read(fd, ev, sizeof ev) == -1);
    CHECK(errno == EAGAIN);

    int ep = ::epoll_create1(EPOLL_CLOEXEC);
    REQUIRE(ep >= 0);
    epoll_event watch{};
    watch.events = EPOLLIN;
    watch.data.fd = fd;
    REQUIRE(::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &watch) == 0);
    epoll_event out[2] = {};
    pollfd p{fd, POLLIN, 0};
    CHECK(::epoll_wait(ep, out, 2, 0) == 0); // nothing pending: not ready
    CHECK(::poll(&p, 1, 0) == 0);

    send_event(fx, mon, 3, 300);
    CHECK(::epoll_wait(ep, out, 2, 1000) == 1);
    CHECK(static_cast<unsigned>(out[0].events) == EPOLLIN);
    CHECK(static_cast<int>(out[0].data.fd) == fd);
    CHECK(::poll(&p, 1, 0) == 1);
    CHECK(p.revents == POLLIN);
    CHECK(::read(fd, ev, event_size - 1) == 0); // too small for the event: 0, nothing consumed
    CHECK(::read(fd, ev, sizeof ev) == event_size);
    CHECK(ev[0].type == 3);
    CHECK(ev[0].length == sizeof(test_event));
    CHECK(ev[0].value == 300);
    CHECK(::epoll_wait(ep, out, 2, 0) == 0); // consumed: not ready any more
    CHECK(::poll(&p, 1, 0) == 0);

    // epoll_wait and poll sleep until an event comes from another thread.
    using clock = std::chrono::steady_clock;
    for (int round = 0; round < 2; ++round) {
        CAPTURE(round);
        std::thread sender([&] {
            std::this_thread::sleep_for(std::chrono::milliseconds(30));
            send_event(fx, mon, 3, 301);
        });
        const auto t0 = clock::now();
        if (round == 0) {
            CHECK(::epoll_wait(ep, out, 2, 10000) == 1);
            CHECK(static_cast<unsigned>(out[0].events) == EPOLLIN);
        } else {
            CHECK(::poll(&p, 1, 10000) == 1);
            CHECK(p.revents == POLLIN);
        }
        CHECK(clock::now() - t0 >= std::chrono::milliseconds(20));
        sender.join();
        CHECK(::read(fd, ev, sizeof ev) == event_size);
        CHECK(ev[0].value == 301);
    }

    // A blocking read(2) waits in the server until an event is sent (from another descriptor).
    REQUIRE(::fcntl(fd, F_SETFL, 0) == 0);
    std::atomic<long> got{-2};
    std::thread reader([&] { got = ::read(fd, ev, sizeof ev); });
    REQUIRE(wait_until_parked(fx.sys, mon, 1));
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK(got == -2);
    send_event(fx, mon, 4, 400);
    reader.join();
    CHECK(got == event_size);
    CHECK(ev[0].value == 400);
    CHECK(::write(fd, ev, sizeof ev) == -1); // no write operation, as on a kernel node
    CHECK(errno == EINVAL);

    // The mapping is still the object's, both ways.
    words[2] = 0x33;
    CHECK(driver_reads(fx, fd, b.handle, 16) == 0x33);
    poke = {b.handle, 1, 24, 0x44};
    REQUIRE(fx.sys.ioctl(fd, TEST_IOCTL_BO_POKE, &poke) == 0);
    CHECK(words[3] == 0x44);
    CHECK(::close(ep) == 0);
    CHECK(fx.sys.munmap(*m, 4096) == 0);
    CHECK(fx.sys.close(fd) == 0);
    CHECK(fx.sys.close(mon) == 0);
}

TEST_CASE("fuse events: a signal ends a blocked read(2) of the compute node with EINTR, and no event is lost") {
    fuse_fixture fx;
    int fd = fx.sys.open(fx.compute(0), O_RDWR);
    int mon = fx.sys.open(fx.monitor(0), O_RDWR);
    REQUIRE(fd >= 0);
    REQUIRE(mon >= 0);
    test_event ev{};
    const int err = interrupt_parked(fx, mon, [&] { return ::read(fd, &ev, sizeof ev) >= 0 ? 0 : errno; });
    CHECK(err == EINTR);
    CHECK(parked_now(fx.sys, mon) == 0);
    send_event(fx, mon, 5, 500);
    CHECK(::read(fd, &ev, sizeof ev) == event_size); // pending: answered at once
    CHECK(ev.value == 500);

    // The signal and the event race: the read returns the event, or EINTR with the event
    // still queued - never EINTR with the event gone.
    usr2_interrupts scope;
    constexpr int rounds = sanitized ? 40 : 150;
    int interrupted = 0, answered = 0;
    for (int i = 0; i < rounds; ++i) {
        std::atomic<long> got{-2};
        std::atomic<int> got_errno{0};
        std::atomic<bool> started{false};
        pthread_t id{};
        std::thread reader([&] {
            id = pthread_self();
            started = true;
            test_event e{};
            const ssize_t n = ::read(fd, &e, sizeof e);
            got_errno = n < 0 ? errno : 0;
            got = n >= 0 && e.value == 1000u + static_cast<unsigned>(i) ? n : (n < 0 ? -1 : -3);
        });
        while (!started)
            std::this_thread::yield();
        REQUIRE(wait_until_parked(fx.sys, mon, 1));
        std::thread signaller([&] { pthread_kill(id, SIGUSR2); });
        send_event(fx, mon, 6, 1000u + static_cast<unsigned>(i));
        signaller.join();
        reader.join();
        if (got == event_size) {
            ++answered;
        } else {
            REQUIRE(got == -1);
            CHECK(got_errno == EINTR);
            ++interrupted;
            REQUIRE(::fcntl(fd, F_SETFL, O_NONBLOCK) == 0);
            CHECK(::read(fd, &ev, sizeof ev) == event_size); // still there
            CHECK(ev.value == 1000u + static_cast<unsigned>(i));
            REQUIRE(::fcntl(fd, F_SETFL, 0) == 0);
        }
    }
    MESSAGE(rounds << " races of a signal and an event: " << answered << " reads got the event, " << interrupted
                   << " got EINTR and read it afterwards");
    CHECK(parked_now(fx.sys, mon) == 0);
    REQUIRE(::fcntl(fd, F_SETFL, O_NONBLOCK) == 0);
    errno = 0;
    CHECK(::read(fd, &ev, sizeof ev) == -1); // nothing left over, nothing duplicated
    CHECK(errno == EAGAIN);
    CHECK(fx.sys.close(fd) == 0);
    CHECK(fx.sys.close(mon) == 0);
}

TEST_CASE("fuse events: two threads blocked in read(2) of one descriptor both wait in the server") {
    // Without FOPEN_STREAM the second reader would sleep uninterruptibly on the descriptor's
    // position lock in the kernel, behind the first; a stream has no position.
    fuse_fixture fx;
    int fd = fx.sys.open(fx.compute(0), O_RDWR);
    int mon = fx.sys.open(fx.monitor(0), O_RDWR);
    REQUIRE(fd >= 0);
    REQUIRE(mon >= 0);
    CHECK(::lseek(fd, 0, SEEK_SET) == -1); // a stream: no position
    CHECK(errno == ESPIPE);
    test_event buf{};
    CHECK(::pread(fd, &buf, sizeof buf, 0) == -1);
    CHECK(errno == ESPIPE);
    std::atomic<long> a{-2}, b{-2};
    std::thread ta([&] {
        test_event e{};
        a = ::read(fd, &e, sizeof e);
    });
    std::thread tb([&] {
        test_event e{};
        b = ::read(fd, &e, sizeof e);
    });
    // (Not REQUIRE: on failure the readers must still be released before the threads go.)
    CHECK(wait_until_parked(fx.sys, mon, 2));
    send_event(fx, mon, 7, 1);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (a + b == -4 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    CHECK(a + b == event_size - 2); // one took it...
    CHECK(parked_now(fx.sys, mon) == 1); // ...the other waits on
    send_event(fx, mon, 7, 2);
    ta.join();
    tb.join();
    CHECK(a == event_size);
    CHECK(b == event_size);
    CHECK(fx.sys.close(fd) == 0);
    CHECK(fx.sys.close(mon) == 0);
}

TEST_CASE("fuse events: close(2) while another thread is blocked in read(2): the reader waits on, and the file goes after it") {
    // As with a kernel driver: close(2) does not wake the reader (it holds the file), the next
    // event answers it, and the release (postclose) comes after the read.
    fuse_fixture fx;
    int mon = fx.sys.open(fx.monitor(0), O_RDWR);
    REQUIRE(mon >= 0);
    const std::uint64_t before = postcloses(fx, mon);
    int fd = fx.sys.open(fx.compute(0), O_RDWR);
    REQUIRE(fd >= 0);
    std::atomic<long> got{-2};
    test_event ev{};
    std::thread reader([&] { got = ::read(fd, &ev, sizeof ev); });
    REQUIRE(wait_until_parked(fx.sys, mon, 1));
    // The raw system call: closing a descriptor another thread is reading is what this case
    // is about, and ThreadSanitizer's close(3) interceptor reports exactly that as a race.
    CHECK(::syscall(SYS_close, fd) == 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    CHECK(got == -2);
    CHECK(parked_now(fx.sys, mon) == 1);
    CHECK(postcloses(fx, mon) == before);
    send_event(fx, mon, 8, 800);
    reader.join();
    CHECK(got == event_size);
    CHECK(ev.value == 800);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (postcloses(fx, mon) == before && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    CHECK(postcloses(fx, mon) == before + 1);
    CHECK(parked_now(fx.sys, mon) == 0);
    CHECK(fx.sys.close(mon) == 0);
}

TEST_CASE("fuse events: a device write reaches the mapping when its event is read: the cached page goes first") {
    fuse_fixture fx;
    int fd = fx.sys.open(fx.compute(0), O_RDWR);
    int mon = fx.sys.open(fx.monitor(0), O_RDWR);
    REQUIRE(fd >= 0);
    REQUIRE(mon >= 0);
    auto b = create_bo(fx, fd, 4096);
    auto m = fx.sys.mmap(fd, b.mmap_offset, 4096, rw, MAP_SHARED);
    REQUIRE(m);
    auto* words = static_cast<volatile std::uint64_t*>(*m);
    test_ring now{0, 0};
    REQUIRE(fx.sys.ioctl(mon, TEST_IOCTL_RING, &now) == 0);
    test_job job{b.handle, 0, 8, 0xfeed, now.doorbell + 1};
    REQUIRE(fx.sys.ioctl(fd, TEST_IOCTL_JOB, &job) == 0);
    CHECK(words[1] == 0); // the job waits for the ring: the page is cached as it is now
    CHECK(cached(words));
    test_ring one{1, 0};
    REQUIRE(fx.sys.ioctl(mon, TEST_IOCTL_RING, &one) >= 0); // the device runs the job
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    test_ring probe{0, 0};
    while (fx.sys.ioctl(mon, TEST_IOCTL_RING, &probe) >= 0 && probe.doorbell < now.doorbell + 2 &&
           std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    REQUIRE(probe.doorbell == now.doorbell + 2); // done: written, marked, event sent
    // Nothing of this process's view was a sync point since (the monitor node has no view):
    // its cached copy is the old page.
    CHECK(cached(words));
    CHECK(words[1] == 0);
    test_event ev{};
    CHECK(::read(fd, &ev, sizeof ev) == event_size); // the sync point
    CHECK(ev.type == TEST_EVENT_JOB);
    CHECK(ev.value == 0xfeed);
    CHECK_FALSE(cached(words)); // dropped before the read returned
    CHECK(words[1] == 0xfeed);
    CHECK(fx.sys.munmap(*m, 4096) == 0);
    CHECK(fx.sys.close(fd) == 0);
    CHECK(fx.sys.close(mon) == 0);
}

} // namespace accel::test

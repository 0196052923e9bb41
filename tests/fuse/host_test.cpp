// SPDX-License-Identifier: MIT
// FUSE-only behaviour of the host: the sys files and listings, faults on embedded pointers,
// clients and servers dying, signals, parallel clients and several servers (the ioctl round trip's
// time is a benchmark: bench/ioctl_real).
#include "conformance.hpp"
#include "fuse_fixture.hpp"
#include "gate_driver.hpp"

#include <dirent.h>
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <iterator>
#include <set>
#include <thread>

namespace accel::test {
namespace {

using clk = std::chrono::steady_clock;



double ms_since(clk::time_point t) { return std::chrono::duration<double, std::milli>(clk::now() - t).count(); }

test_count count(fuse_fixture& fx, int fd) {
    test_count n{};
    REQUIRE(fx.sys.ioctl(fd, TEST_IOCTL_COUNT, &n) == 0);
    return n;
}

} // namespace

TEST_CASE("fuse: the tree - sys/class/accel/accel<N>/dev and the directory listings") {
    fuse_fixture fx;
    CHECK(read_file(fx.mnt + "/sys/class/accel/accel0/dev") == "261:0\n");
    CHECK(read_file(fx.mnt + "/sys/class/accel/accel2/dev") == "261:2\n");
    CHECK(list_dir(fx.mnt + "/accel") ==
          std::set<std::string>{".", "..", "accel0", "accel1", "accel2", "accel_controlD0", "accel_controlD1", "accel_controlD2"});
    CHECK(list_dir(fx.mnt + "/sys/class/accel") == std::set<std::string>{".", "..", "accel0", "accel1", "accel2"});
    CHECK(list_dir(fx.mnt) == std::set<std::string>{".", "..", "accel", "sys"});
    struct stat st {};
    REQUIRE(::stat(fx.compute(0).c_str(), &st) == 0);
    CHECK(S_ISREG(st.st_mode));
    CHECK((st.st_mode & 0777) == 0666);
    REQUIRE(::stat((fx.mnt + "/sys/class/accel/accel1/dev").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0444);
    CHECK(::open((fx.mnt + "/sys/class/accel/accel1/dev").c_str(), O_WRONLY) == -1);
    CHECK(errno == EACCES);
    CHECK(::stat((fx.mnt + "/accel/accel3").c_str(), &st) == -1);
    CHECK(errno == ENOENT);
    CHECK(::stat((fx.mnt + "/sys/class/accel/accel3/dev").c_str(), &st) == -1);
    CHECK(fx.sys.open(fx.mnt + "/accel/accel07", O_RDWR) == -ENOENT);
}

TEST_CASE("fuse: an IOR-only caller whose row copies nothing out keeps its bytes") {
    // The kernel copies back whatever the reply carries: the host must send only what the
    // dispatcher wrote (nothing here), not a window of zeros.
    fuse_fixture fx;
    int fd = fx.sys.open(fx.compute(0), O_RDWR);
    REQUIRE(fd >= 0);
    test_echo e{};
    std::fill(std::begin(e.words), std::end(e.words), 77);
    CHECK(fx.sys.ioctl(fd, with_dir(TEST_IOCTL_ECHO_IN, _IOC_READ), &e) == 0);
    CHECK(e.report == 0);
    CHECK(e.words[6] == 77);
    CHECK(fx.sys.ioctl(fd, _IOR(ACCEL_IOCTL_BASE, 0x4b, struct test_echo), &e) == -EINVAL); // empty slot
    CHECK(e.words[0] == 77);
    CHECK(fx.sys.close(fd) == 0);
}

TEST_CASE("fuse: bad embedded pointers give EFAULT and the server keeps serving") {
    fuse_fixture fx;
    int fd = fx.sys.open(fx.compute(0), O_RDWR);
    REQUIRE(fd >= 0);
    const long page = ::sysconf(_SC_PAGESIZE);
    auto* mem = static_cast<unsigned char*>(::mmap(nullptr, static_cast<std::size_t>(3 * page), PROT_READ | PROT_WRITE,
                                                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    REQUIRE(mem != MAP_FAILED);
    REQUIRE(::munmap(mem + page, static_cast<std::size_t>(page)) == 0);      // a hole
    REQUIRE(::mprotect(mem + 2 * page, static_cast<std::size_t>(page), PROT_READ) == 0); // read-only

    test_sum s{};
    s.values = uptr(mem + page); // unmapped
    s.count = 2;
    CHECK(fx.sys.ioctl(fd, TEST_IOCTL_SUM, &s) == -EFAULT);
    auto* last = reinterpret_cast<std::uint64_t*>(mem + page) - 1; // one value readable, the next not
    *last = 5;
    s.values = uptr(last);
    CHECK(fx.sys.ioctl(fd, TEST_IOCTL_SUM, &s) == -EFAULT);
    s.count = 1;
    CHECK(fx.sys.ioctl(fd, TEST_IOCTL_SUM, &s) == 0);
    CHECK(s.sum == 5);

    accel_version v{};
    v.name = uptr(mem + 2 * page); // read-only: the copy out faults
    v.name_len = 4;
    CHECK(fx.sys.ioctl(fd, ACCEL_IOCTL_VERSION, &v) == -EFAULT);
    v.name = uptr(mem + page); // unmapped
    CHECK(fx.sys.ioctl(fd, ACCEL_IOCTL_VERSION, &v) == -EFAULT);
    // The struct itself unreadable: the kernel refuses before the server sees anything.
    CHECK(fx.sys.ioctl(fd, TEST_IOCTL_ECHO, mem + page) == -EFAULT);
    CHECK(fx.sys.ioctl(fd, TEST_IOCTL_ECHO, mem + 2 * page) == -EFAULT); // read-only, IOWR

    test_echo e{};
    CHECK(fx.sys.ioctl(fd, TEST_IOCTL_ECHO, &e) == 0);
    CHECK(e.report == TEST_ECHO_RAN);
    ::munmap(mem, static_cast<std::size_t>(page));
    ::munmap(mem + 2 * page, static_cast<std::size_t>(page));
    CHECK(fx.sys.close(fd) == 0);
}

TEST_CASE("fuse: a client killed in the middle of a stream of ioctls is released") {
    fuse_fixture fx;
    int mon = fx.sys.open(fx.monitor(0), O_RDWR);
    REQUIRE(mon >= 0);
    const test_count before = count(fx, mon);

    int p[2];
    REQUIRE(::pipe(p) == 0);
    pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        backend::syscall c(fx.mnt);
        int fd = c.open(fx.compute(0), O_RDWR);
        char ok = fd >= 0 ? 1 : 0;
        [[maybe_unused]] ssize_t w = ::write(p[1], &ok, 1);
        for (;;) {
            test_echo e{};
            c.ioctl(fd, TEST_IOCTL_ECHO, &e);
        }
    }
    ::close(p[1]);
    char ok = 0;
    REQUIRE(::read(p[0], &ok, 1) == 1);
    ::close(p[0]);
    CHECK(ok == 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(30)); // well into the stream
    ::kill(child, SIGKILL);
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    CHECK(WIFSIGNALED(status));

    // The kernel releases the dead client's file: postclose runs (asynchronously).
    const auto start = clk::now();
    test_count now = count(fx, mon);
    while (now.postcloses < before.postcloses + 1 && ms_since(start) < 5000) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        now = count(fx, mon);
    }
    CHECK(now.opens == before.opens + 1);
    CHECK(now.postcloses == before.postcloses + 1);
    MESSAGE("postclose of the killed client seen after " << ms_since(start) << " ms");

    int fd = fx.sys.open(fx.compute(0), O_RDWR);
    REQUIRE(fd >= 0);
    test_echo e{};
    CHECK(fx.sys.ioctl(fd, TEST_IOCTL_ECHO, &e) == 0);
    CHECK(fx.sys.close(fd) == 0);
    CHECK(fx.sys.close(mon) == 0);
}

TEST_CASE("fuse: a killed server leaves clients with an errno, and the next mount clears the stale one") {
    fuse_fixture fx;
    int fd = fx.sys.open(fx.compute(0), O_RDWR);
    int mon = fx.sys.open(fx.monitor(1), O_RDWR);
    REQUIRE(fd >= 0);
    REQUIRE(mon >= 0);
    fx.kill_server();

    auto start = clk::now();
    test_echo e{};
    int r = fx.sys.ioctl(fd, TEST_IOCTL_ECHO, &e);
    CHECK((r == -ENOTCONN || r == -EIO));
    r = fx.sys.ioctl(mon, TEST_IOCTL_MONITOR, &e);
    CHECK((r == -ENOTCONN || r == -EIO));
    int again = fx.sys.open(fx.compute(0), O_RDWR);
    CHECK((again == -ENOTCONN || again == -EIO));
    CHECK(ms_since(start) < 1000);
    struct statfs sf {};
    CHECK(::statfs(fx.mnt.c_str(), &sf) == -1);
    CHECK(errno == ENOTCONN);
    fx.sys.close(fd);
    fx.sys.close(mon);

    fx.start_server(); // host::mount() finds the stale mount (ENOTCONN) and detaches it
    fd = fx.sys.open(fx.compute(0), O_RDWR);
    REQUIRE(fd >= 0);
    CHECK(fx.sys.ioctl(fd, TEST_IOCTL_ECHO, &e) == 0);
    CHECK(fx.sys.close(fd) == 0);
}

TEST_CASE("fuse: SIGINT and SIGTERM unmount cleanly, also with clients holding files") {
    fuse_fixture fx;
    CHECK(fx.stop_server(SIGINT) == 0); // checks that the mount is gone
    fx.start_server();
    int fd = fx.sys.open(fx.compute(0), O_RDWR);
    REQUIRE(fd >= 0);
    auto start = clk::now();
    CHECK(fx.stop_server(SIGTERM) == 0);
    CHECK(ms_since(start) < 2000);
    test_echo e{};
    int r = fx.sys.ioctl(fd, TEST_IOCTL_ECHO, &e);
    CHECK((r == -ENOTCONN || r == -EIO));
    fx.sys.close(fd);
    fx.start_server(); // for the fixture's own clean stop
}

TEST_CASE("fuse: two clients in parallel make progress") {
    fuse_fixture fx;
    const std::string gate = fx.compute(2);
    int a = fx.sys.open(gate, O_RDWR), b = fx.sys.open(gate, O_RDWR);
    REQUIRE(a >= 0);
    REQUIRE(b >= 0);
    std::atomic<int> waited{1};
    gate_wait w{5000, 0};
    std::thread waiter([&] { waited = fx.sys.ioctl(a, GATE_IOCTL_WAIT, &w); });
    // The waiter is blocked inside the server; a serialising server would never get here.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    CHECK(fx.sys.ioctl(b, GATE_IOCTL_OPEN, nullptr) == 0);
    waiter.join();
    CHECK(waited == 0);
    CHECK(w.waited_ns < 4'000'000'000ull);
    CHECK(fx.sys.close(a) == 0);
    CHECK(fx.sys.close(b) == 0);
}

TEST_CASE("fuse: several servers on different mount points at once") {
    fuse_fixture one, two;
    int a = one.sys.open(one.compute(1), O_RDWR);
    int b = two.sys.open(two.compute(1), O_RDWR); // exclusive node: one per server
    REQUIRE(a >= 0);
    REQUIRE(b >= 0);
    CHECK(one.sys.open(one.compute(1), O_RDWR) == -EBUSY);
    test_echo e{};
    CHECK(one.sys.ioctl(a, TEST_IOCTL_ECHO, &e) == 0);
    CHECK(two.sys.ioctl(b, TEST_IOCTL_ECHO, &e) == 0);
    CHECK(one.sys.close(a) == 0);
    CHECK(two.sys.close(b) == 0);
}

TEST_CASE("fuse: a refused exclusive open waits only for releases in flight, then gives EBUSY") {
    fuse_fixture fx;
    int a = fx.sys.open(fx.compute(1), O_RDWR);
    REQUIRE(a >= 0);
    auto start = clk::now();
    CHECK(fx.sys.open(fx.compute(1), O_RDWR) == -EBUSY);
    CHECK(ms_since(start) < 1000); // release_grace is 100 ms
    for (int i = 0; i < 50; ++i) { // close then reopen at once: the release must not be overtaken
        CHECK(fx.sys.close(a) == 0);
        a = fx.sys.open(fx.compute(1), O_RDWR);
        REQUIRE(a >= 0);
    }
    CHECK(fx.sys.close(a) == 0);
}

} // namespace accel::test

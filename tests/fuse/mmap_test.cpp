// SPDX-License-Identifier: MIT
// Buffer objects mapped through a FUSE-served node, beyond the conformance suite: what the
// page-cache design of fuse/object_pages.hpp must guarantee - a plain mmap(2) works as on a
// kernel node, one process never sees another's cached pages, and an offset reused by a later
// object never shows the earlier object's pages.
#include "fuse_fixture.hpp"

#include <chrono>
#include <csignal>
#include <cstdint>
#include <sys/mman.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace accel::test {
namespace {

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

} // namespace

TEST_CASE("fuse mmap: a plain mmap(2), without MMAP_PREPARE, maps the object as on a kernel node") {
    fuse_fixture fx;
    int fd = fx.sys.open(fx.compute(0), O_RDWR);
    REQUIRE(fd >= 0);
    auto b = create_bo(fx, fd, 2 * 4096);
    void* p = ::mmap(nullptr, 2 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, static_cast<off_t>(b.mmap_offset));
    REQUIRE(p != MAP_FAILED);
    auto* w = static_cast<volatile std::uint64_t*>(p);
    w[0] = 0xabc;
    w[600] = 0xdef; // second page
    CHECK(driver_reads(fx, fd, b.handle, 0) == 0xabc);
    CHECK(driver_reads(fx, fd, b.handle, 4800) == 0xdef);
    test_bo_poke poke{b.handle, 1, 8, 0x123};
    REQUIRE(fx.sys.ioctl(fd, TEST_IOCTL_BO_POKE, &poke) == 0);
    CHECK(w[1] == 0x123);
    w[2] = 0x456; // reaches the driver on msync(MS_SYNC) too, without an ioctl in between
    REQUIRE(::msync(p, 4096, MS_SYNC) == 0);
    CHECK(driver_reads(fx, fd, b.handle, 16) == 0x456);
    CHECK(::munmap(p, 2 * 4096) == 0);
    CHECK(fx.sys.close(fd) == 0);
}

TEST_CASE("fuse mmap: another process without a handle gets SIGBUS, never the owner's cached pages") {
    fuse_fixture fx;
    int fd = fx.sys.open(fx.compute(0), O_RDWR);
    REQUIRE(fd >= 0);
    auto b = create_bo(fx, fd, 4096);
    auto m = fx.sys.mmap(fd, b.mmap_offset, 4096, PROT_READ | PROT_WRITE, MAP_SHARED);
    REQUIRE(m);
    int to_parent[2], to_child[2];
    REQUIRE(::pipe(to_parent) == 0);
    REQUIRE(::pipe(to_child) == 0);
    pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        // A new process: its own open (its own view of the node), no handle to the object. It
        // maps first; the owner then faults the page in; only then does the child touch it, so
        // a page cache shared between the two would hand it the owner's page.
        std::signal(SIGBUS, SIG_DFL); // die of it, even under a sanitizer that reports faults
        int own = ::open(fx.compute(0).c_str(), O_RDWR);
        void* q = own < 0 ? MAP_FAILED : ::mmap(nullptr, 4096, PROT_READ, MAP_SHARED, own, static_cast<off_t>(b.mmap_offset));
        char c = q == MAP_FAILED ? 'x' : 'm';
        if (::write(to_parent[1], &c, 1) != 1 || c == 'x' || ::read(to_child[0], &c, 1) != 1)
            ::_exit(3);
        const std::uint64_t v = static_cast<volatile std::uint64_t*>(q)[0]; // the fault: SIGBUS
        ::_exit(v == 0x5ec2e7 ? 4 : 5);
    }
    char c = 0;
    REQUIRE(::read(to_parent[0], &c, 1) == 1);
    REQUIRE(c == 'm');
    static_cast<volatile std::uint64_t*>(*m)[0] = 0x5ec2e7; // faulted into this process's view
    REQUIRE(::write(to_child[1], &c, 1) == 1);
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    for (int p : {to_parent[0], to_parent[1], to_child[0], to_child[1]})
        ::close(p);
    CHECK(WIFSIGNALED(status));
    if (WIFSIGNALED(status))
        CHECK(WTERMSIG(status) == SIGBUS);
    else
        CHECK(WEXITSTATUS(status) == 0); // shows the exit code: 4 means the child read the page
    CHECK(fx.sys.munmap(*m, 4096) == 0);
    CHECK(fx.sys.close(fd) == 0);
}

TEST_CASE("fuse mmap: an offset reused by a later object shows that object, not stale pages") {
    fuse_fixture fx;
    int f1 = fx.sys.open(fx.compute(0), O_RDWR);
    REQUIRE(f1 >= 0);
    auto x = create_bo(fx, f1, 4096);
    auto mx = fx.sys.mmap(f1, x.mmap_offset, 4096, PROT_READ | PROT_WRITE, MAP_SHARED);
    REQUIRE(mx);
    static_cast<volatile std::uint64_t*>(*mx)[0] = 0x01d;
    CHECK(driver_reads(fx, f1, x.handle, 0) == 0x01d);
    CHECK(fx.sys.munmap(*mx, 4096) == 0);
    CHECK(fx.sys.close(f1) == 0); // the release is asynchronous: x goes a little later

    int f2 = fx.sys.open(fx.compute(0), O_RDWR);
    REQUIRE(f2 >= 0);
    test_bo_create y{};
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    for (;;) { // until the freed offset comes back (best fit hands out the lowest hole)
        y = create_bo(fx, f2, 4096);
        if (y.mmap_offset == x.mmap_offset || std::chrono::steady_clock::now() > deadline)
            break;
        accel_gem_close gc{y.handle, 0};
        REQUIRE(fx.sys.ioctl(f2, ACCEL_IOCTL_GEM_CLOSE, &gc) == 0);
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    REQUIRE(y.mmap_offset == x.mmap_offset);
    auto my = fx.sys.mmap(f2, y.mmap_offset, 4096, PROT_READ, MAP_SHARED);
    REQUIRE(my);
    CHECK(static_cast<volatile std::uint64_t*>(*my)[0] == 0); // a fresh object reads zeros
    CHECK(fx.sys.munmap(*my, 4096) == 0);
    CHECK(fx.sys.close(f2) == 0);
}

} // namespace accel::test

namespace accel::test {

TEST_CASE("fuse mmap: unplug while mapped - the mapping keeps working, new mappings get ENODEV") {
    fuse_fixture fx;
    int fd = fx.sys.open(fx.compute(0), O_RDWR);
    REQUIRE(fd >= 0);
    auto b = create_bo(fx, fd, 2 * 4096);
    auto m = fx.sys.mmap(fd, b.mmap_offset, 2 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED);
    REQUIRE(m);
    auto* w = static_cast<volatile std::uint64_t*>(*m);
    w[0] = 11; // first page cached, second page not yet touched
    REQUIRE(::kill(fx.server, SIGUSR1) == 0);
    test_bo_info inf{b.handle, 0, 0, 0, 0};
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (fx.sys.ioctl(fd, TEST_IOCTL_BO_INFO, &inf) != -ENODEV && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    CHECK(fx.sys.ioctl(fd, TEST_IOCTL_BO_INFO, &inf) == -ENODEV);
    CHECK(fx.sys.mmap(fd, b.mmap_offset, 4096, PROT_READ, MAP_SHARED).error() == -ENODEV);
    CHECK(w[0] == 11);
    w[512] = 22; // a fault on the unplugged device's object is still served
    CHECK(w[512] == 22);
    REQUIRE(::msync(*m, 2 * 4096, MS_SYNC) == 0);
    CHECK(w[512] == 22);
    CHECK(fx.sys.munmap(*m, 2 * 4096) == 0);
    CHECK(fx.sys.close(fd) == 0);
}

} // namespace accel::test

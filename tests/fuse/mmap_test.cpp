// SPDX-License-Identifier: MIT
// Buffer objects mapped through a FUSE-served node, beyond the conformance suite: what the
// page-cache design of fuse/page_faults.hpp must guarantee - a plain mmap(2) works as on a
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
#include <vector>

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

namespace accel::test {
namespace {

constexpr int rw = PROT_READ | PROT_WRITE;

/// Whether the first page at `p` is in the page cache (mincore(2) on a file mapping asks the
/// file's cache: for a FUSE node, the caller's view of it).
bool cached(void* p) {
    unsigned char v = 0;
    REQUIRE(::mincore(p, 4096, &v) == 0);
    return (v & 1) != 0;
}

void gem_close(fuse_fixture& fx, int fd, std::uint32_t handle) {
    accel_gem_close gc{handle, 0};
    REQUIRE(fx.sys.ioctl(fd, ACCEL_IOCTL_GEM_CLOSE, &gc) == 0);
}

/// Creates objects on `fd` (closing each) until one gets `offset`, for up to 5 s: the host frees
/// an object whose pin it dropped, and best fit hands out the lowest hole first.
test_bo_create create_at(fuse_fixture& fx, int fd, std::uint64_t offset) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    for (;;) {
        test_bo_create b = create_bo(fx, fd, 4096);
        if (b.mmap_offset == offset || std::chrono::steady_clock::now() > deadline)
            return b;
        gem_close(fx, fd, b.handle);
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

/// A fresh descriptor of device 0 with one new one-page object mapped read-write through it.
struct mapped_object {
    int fd = -1;
    test_bo_create bo{};
    volatile std::uint64_t* words = nullptr;
    explicit mapped_object(fuse_fixture& fx) {
        fd = fx.sys.open(fx.compute(0), O_RDWR);
        REQUIRE(fd >= 0);
        bo = create_bo(fx, fd, 4096);
        auto m = fx.sys.mmap(fd, bo.mmap_offset, 4096, rw, MAP_SHARED);
        REQUIRE(m);
        words = static_cast<volatile std::uint64_t*>(*m);
    }
    void* map() const { return const_cast<std::uint64_t*>(words); }
};

} // namespace

// Defect: FUSE writes a dirty page back through any writable file of the inode (the most
// recently opened one), not through the file whose mapping dirtied it. With pins kept per
// file, object a's page went back through f2, which had not mapped a: EIO, data lost.
TEST_CASE("fuse mmap: one process, two descriptors each mapping an object: writeback of both reaches the driver") {
    fuse_fixture fx;
    int f1 = fx.sys.open(fx.compute(0), O_RDWR);
    int f2 = fx.sys.open(fx.compute(0), O_RDWR);
    REQUIRE(f1 >= 0);
    REQUIRE(f2 >= 0);
    auto a = create_bo(fx, f1, 4096);
    auto b = create_bo(fx, f2, 4096);
    auto ma = fx.sys.mmap(f1, a.mmap_offset, 4096, rw, MAP_SHARED);
    auto mb = fx.sys.mmap(f2, b.mmap_offset, 4096, rw, MAP_SHARED);
    REQUIRE(ma);
    REQUIRE(mb);
    static_cast<volatile std::uint64_t*>(*ma)[0] = 0xa1;
    static_cast<volatile std::uint64_t*>(*mb)[0] = 0xb2;
    CHECK(::msync(*ma, 4096, MS_SYNC) == 0);
    CHECK(::msync(*mb, 4096, MS_SYNC) == 0);
    CHECK(driver_reads(fx, f1, a.handle, 0) == 0xa1);
    CHECK(driver_reads(fx, f2, b.handle, 0) == 0xb2);
    // And through the ioctl-time writeback, without msync.
    static_cast<volatile std::uint64_t*>(*ma)[1] = 0xa3;
    static_cast<volatile std::uint64_t*>(*mb)[1] = 0xb4;
    CHECK(driver_reads(fx, f1, a.handle, 8) == 0xa3);
    CHECK(driver_reads(fx, f2, b.handle, 8) == 0xb4);
    CHECK(fx.sys.munmap(*ma, 4096) == 0);
    CHECK(fx.sys.munmap(*mb, 4096) == 0);
    CHECK(fx.sys.close(f1) == 0);
    CHECK(fx.sys.close(f2) == 0);
}

// Defect: a mapping pinned its object to the file until the file closed.
TEST_CASE("fuse mmap: unmapped, then its handle closed: the object goes at once and its offset comes back clean") {
    fuse_fixture fx;
    mapped_object mo(fx);
    const int fd = mo.fd;
    const test_bo_create a = mo.bo;
    mo.words[0] = 0x57a1e;
    CHECK(driver_reads(fx, fd, a.handle, 0) == 0x57a1e);
    mo.words[0] = 0x57a1e; // cached again
    CHECK(fx.sys.munmap(mo.map(), 4096) == 0);
    gem_close(fx, fd, a.handle); // the host looks at the process's mappings now: none left
    auto b = create_bo(fx, fd, 4096);
    REQUIRE(b.mmap_offset == a.mmap_offset);
    auto mb = fx.sys.mmap(fd, b.mmap_offset, 4096, PROT_READ, MAP_SHARED);
    REQUIRE(mb);
    CHECK(static_cast<volatile std::uint64_t*>(*mb)[0] == 0); // a fresh object, no stale page
    CHECK(fx.sys.munmap(*mb, 4096) == 0);
    CHECK(fx.sys.close(fd) == 0);
}

TEST_CASE("fuse mmap: handle closed while mapped: the mapping works on, and after munmap the object goes") {
    fuse_fixture fx;
    mapped_object mo(fx);
    const int fd = mo.fd;
    const test_bo_create a = mo.bo;
    volatile std::uint64_t* w = mo.words;
    w[0] = 0x0c105e;
    gem_close(fx, fd, a.handle);
    test_bo_create probe = create_bo(fx, fd, 4096); // the mapping keeps a alive: not its offset
    CHECK(probe.mmap_offset != a.mmap_offset);
    gem_close(fx, fd, probe.handle);
    CHECK(w[0] == 0x0c105e);
    w[1] = 2;
    REQUIRE(::msync(mo.map(), 4096, MS_SYNC) == 0); // writeback of an object without a handle
    CHECK(w[1] == 2);
    CHECK(fx.sys.munmap(mo.map(), 4096) == 0); // FUSE does not see this; the host's reclaim does
    auto b = create_at(fx, fd, a.mmap_offset);
    REQUIRE(b.mmap_offset == a.mmap_offset);
    auto mb = fx.sys.mmap(fd, b.mmap_offset, 4096, PROT_READ, MAP_SHARED);
    REQUIRE(mb);
    CHECK(static_cast<volatile std::uint64_t*>(*mb)[0] == 0);
    CHECK(fx.sys.munmap(*mb, 4096) == 0);
    CHECK(fx.sys.close(fd) == 0);
}

// Defect: every ioctl wrote back and dropped every object the file had mapped.
TEST_CASE("fuse mmap: an ioctl syncs the objects its handler touches, and leaves the others' cached pages alone") {
    fuse_fixture fx;
    int fd = fx.sys.open(fx.compute(0), O_RDWR);
    REQUIRE(fd >= 0);
    constexpr int n = 16;
    std::vector<void*> maps;
    for (int i = 0; i < n; ++i) {
        auto b = create_bo(fx, fd, 4096);
        auto m = fx.sys.mmap(fd, b.mmap_offset, 4096, rw, MAP_SHARED);
        REQUIRE(m);
        maps.push_back(*m);
    }
    auto t = create_bo(fx, fd, 4096);
    auto mt = fx.sys.mmap(fd, t.mmap_offset, 4096, rw, MAP_SHARED);
    REQUIRE(mt);
    // Touched after the last mmap(2): each mmap(2) of the node drops the view's cached pages
    // (a direct-I/O file, fuse/kernel_flags.hpp; the next test case).
    for (int i = 0; i < n; ++i) // faulted in, dirty
        static_cast<volatile std::uint64_t*>(maps[static_cast<std::size_t>(i)])[0] = 100 + static_cast<std::uint64_t>(i);
    static_cast<volatile std::uint64_t*>(*mt)[0] = 7;
    REQUIRE(cached(*mt));
    for (void* m : maps)
        REQUIRE(cached(m));
    CHECK(driver_reads(fx, fd, t.handle, 0) == 7); // touches t only
    CHECK_FALSE(cached(*mt));                      // dropped after the handler
    int still = 0;
    for (void* m : maps)
        still += cached(m) ? 1 : 0;
    CHECK(still == n);
    for (int i = 0; i < n; ++i) // the untouched objects' data is intact, and synced when touched
        CHECK(static_cast<volatile std::uint64_t*>(maps[static_cast<std::size_t>(i)])[0] == 100 + static_cast<std::uint64_t>(i));
    for (void* m : maps)
        CHECK(fx.sys.munmap(m, 4096) == 0);
    CHECK(fx.sys.munmap(*mt, 4096) == 0);
    CHECK(fx.sys.close(fd) == 0);
}

// The compute node is a direct-I/O file (it delivers DRM events by read(2)), and the kernel
// drops a direct-I/O file's cached pages at each mmap(2) of it, laundering dirty ones first
// (fuse_file_mmap: invalidate_inode_pages2). Nothing is lost; the pages are faulted in again.
TEST_CASE("fuse mmap: a new mapping of the node drops the process's cached pages, dirty ones written back first") {
    fuse_fixture fx;
    int fd = fx.sys.open(fx.compute(0), O_RDWR);
    REQUIRE(fd >= 0);
    auto a = create_bo(fx, fd, 4096);
    auto ma = fx.sys.mmap(fd, a.mmap_offset, 4096, rw, MAP_SHARED);
    REQUIRE(ma);
    auto* w = static_cast<volatile std::uint64_t*>(*ma);
    w[0] = 0xd1e7; // dirty, cached, never synced
    REQUIRE(cached(*ma));
    auto b = create_bo(fx, fd, 4096); // an ioctl that does not touch a: a stays cached
    REQUIRE(cached(*ma));
    auto mb = fx.sys.mmap(fd, b.mmap_offset, 4096, rw, MAP_SHARED);
    REQUIRE(mb);
    CHECK_FALSE(cached(*ma)); // dropped by the mmap(2)...
    CHECK(w[0] == 0xd1e7);    // ...after it was written back: faulted in again from the object
    CHECK(fx.sys.munmap(*ma, 4096) == 0);
    CHECK(fx.sys.munmap(*mb, 4096) == 0);
    CHECK(fx.sys.close(fd) == 0);
}

} // namespace accel::test

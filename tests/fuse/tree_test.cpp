// SPDX-License-Identifier: MIT
// The served tree as an inode table (fuse/device_tree.hpp, fuse/inode_table.hpp): per-process
// inodes of the compute node, and a device's files disappearing when it is unregistered - for
// new path walks and listings at once, and as deleted files for descriptors still open. (The
// host also tells the kernel, fuse_lowlevel_notify_delete; the kernel reports no inotify event
// for that, so a test cannot see it beyond what the entries' zero timeouts show anyway.)
#include "conformance.hpp"
#include "fuse_fixture.hpp"

#include <dirent.h>
#include <sys/wait.h>

#include <chrono>
#include <set>
#include <thread>

namespace accel::test {
namespace {


ino_t inode_of(const std::string& path) {
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    return st.st_ino;
}

/// Unregisters device 0 in the server (SIGUSR1) and waits until its compute node is gone.
void unplug_device0(fuse_fixture& fx) {
    REQUIRE(::kill(fx.server, SIGUSR1) == 0);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    struct stat st {};
    while (::stat(fx.compute(0).c_str(), &st) == 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
}

} // namespace

TEST_CASE("fuse tree: each process has its own inode of a compute node, and keeps it") {
    fuse_fixture fx;
    const ino_t mine = inode_of(fx.compute(0));
    CHECK(inode_of(fx.compute(0)) == mine); // the same view at every lookup
    const ino_t monitor = inode_of(fx.monitor(0));
    int p[2];
    REQUIRE(::pipe(p) == 0);
    pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        struct stat c {}, m {};
        ino_t v[2] = {0, 0};
        if (::stat(fx.compute(0).c_str(), &c) == 0 && ::stat(fx.monitor(0).c_str(), &m) == 0) {
            v[0] = c.st_ino;
            v[1] = m.st_ino;
        }
        ::_exit(::write(p[1], v, sizeof v) == sizeof v ? 0 : 1);
    }
    ino_t theirs[2] = {0, 0};
    CHECK(::read(p[0], theirs, sizeof theirs) == static_cast<ssize_t>(sizeof theirs));
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    ::close(p[0]);
    ::close(p[1]);
    CHECK(theirs[0] != 0);
    CHECK(theirs[0] != mine);    // its own view
    CHECK(theirs[1] == monitor); // monitor nodes have no views
    CHECK(inode_of(fx.compute(0)) == mine);
}

TEST_CASE("fuse tree: unregistering a device removes its node files and its sys/class/accel directory") {
    fuse_fixture fx;
    int fd = fx.sys.open(fx.compute(0), O_RDWR);
    REQUIRE(fd >= 0);
    struct stat before {};
    REQUIRE(::fstat(fd, &before) == 0);
    CHECK(before.st_nlink == 1);
    unplug_device0(fx);
    struct stat st {};
    CHECK(::stat(fx.compute(0).c_str(), &st) == -1);
    CHECK(::stat(fx.monitor(0).c_str(), &st) == -1);
    CHECK(::stat((fx.mnt + "/sys/class/accel/accel0").c_str(), &st) == -1);
    CHECK(errno == ENOENT);
    CHECK(list_dir(fx.mnt + "/accel") == std::set<std::string>{".", "..", "accel1", "accel2", "accel_controlD1", "accel_controlD2"});
    CHECK(list_dir(fx.mnt + "/sys/class/accel") == std::set<std::string>{".", "..", "accel1", "accel2"});
    CHECK(::stat(fx.compute(1).c_str(), &st) == 0); // the other devices stay


    // The open descriptor is a deleted file now: fstat works, no link left; ioctls get ENODEV.
    struct stat after {};
    REQUIRE(::fstat(fd, &after) == 0);
    CHECK(after.st_ino == before.st_ino);
    CHECK(after.st_nlink == 0);
    test_echo e{};
    CHECK(fx.sys.ioctl(fd, TEST_IOCTL_ECHO, &e) == -ENODEV);
    CHECK(fx.sys.close(fd) == 0);
}

} // namespace accel::test

// SPDX-License-Identifier: MIT
// Callers the server cannot identify. FUSE gives the server the caller's pid as seen from the
// server's PID namespace, and 0 when the caller is not visible there (it lives in an ancestor
// or a sibling namespace). Such callers would all share one per-process view of the compute
// node (one page cache), and the host can reach neither their memory nor their open flags: the
// host refuses their opens of device nodes with EPERM (fuse/caller_process.hpp).
#include "conformance.hpp"
#include "fuse_fixture.hpp"

#include <fstream>
#include <iterator>
#include <sched.h>
#include <sys/wait.h>

namespace accel::test {
namespace {


/// Runs `fn` (returning an exit code) in a grandchild that lives in a new PID namespace of its
/// own, a child namespace of this process's one; returns its exit code (or 128 + signal).
template <class Fn>
int in_new_pid_namespace(Fn&& fn) {
    pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        if (::unshare(CLONE_NEWPID) != 0)
            ::_exit(90);
        pid_t inner = ::fork(); // the first child of the caller of unshare is pid 1 of the new namespace
        if (inner < 0)
            ::_exit(91);
        if (inner == 0)
            ::_exit(fn());
        int status = 0;
        while (::waitpid(inner, &status, 0) < 0 && errno == EINTR) {
        }
        ::_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    }
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

} // namespace

TEST_CASE("fuse: callers invisible in the server's PID namespace are refused at open with EPERM") {
    if (::geteuid() != 0) {
        MESSAGE("needs root (CLONE_NEWPID): skipped");
        return;
    }
    // The server in a PID namespace of its own: this process is invisible to it (pid 0).
    fuse_fixture fx(fuse_fixture::server_pid_namespace::own);
    struct stat st {};
    CHECK(::stat(fx.compute(0).c_str(), &st) == 0); // lookups need no identity
    CHECK(fx.sys.open(fx.compute(0), O_RDWR) == -EPERM);
    CHECK(fx.sys.open(fx.compute(0), O_RDONLY) == -EPERM);
    CHECK(fx.sys.open(fx.monitor(0), O_RDWR) == -EPERM);
    CHECK(read_file(fx.mnt + "/sys/class/accel/accel0/dev") == "261:0\n"); // nor do sys files
    // A client in yet another namespace (a sibling of the server's): invisible too.
    const std::string node = fx.compute(0);
    CHECK(in_new_pid_namespace([&] {
              int fd = ::open(node.c_str(), O_RDWR | O_CLOEXEC);
              return fd >= 0 ? 1 : errno == EPERM ? 0 : 2;
          }) == 0);
}

TEST_CASE("fuse: a client in a PID namespace below the server's is visible to it and served") {
    if (::geteuid() != 0) {
        MESSAGE("needs root (CLONE_NEWPID): skipped");
        return;
    }
    fuse_fixture fx;
    const std::string node = fx.compute(0);
    const std::string root = fx.mnt;
    CHECK(in_new_pid_namespace([&] {
              backend::syscall c(root);
              int fd = c.open(node, O_RDWR);
              if (fd < 0)
                  return 1;
              test_echo e{};
              if (c.ioctl(fd, TEST_IOCTL_ECHO, &e) != 0 || e.report != TEST_ECHO_RAN)
                  return 2;
              return c.close(fd) == 0 ? 0 : 3;
          }) == 0);
}

} // namespace accel::test

// SPDX-License-Identifier: MIT
// The conformance fixture for the real backend: the test devices served on a fresh FUSE mount by
// a child process (the test program re-executed as a server, test_server.hpp), reached through
// accel::backend::syscall - real open/ioctl/close on real descriptors. Same interface as
// mock_fixture; device 2 (gate_driver) is extra, for the FUSE-specific tests.
#pragma once
#include "test_drivers.hpp"
#include "test_server.hpp"

#include <accel/backend/syscall.hpp>
#include <accel/fuse/host.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <dirent.h>
#include <fstream>
#include <iterator>
#include <set>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <string>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace accel::test {

inline std::string make_temp_dir() {
    char tmpl[] = "/tmp/accel-fuse-test-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    ::chmod(tmpl, 0755); // the unprivileged caller of as_unprivileged must traverse it
    return tmpl;
}

/// The whole text of a file (empty if it cannot be read).
inline std::string read_file(const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// The names readdir(3) lists in `path`, "." and ".." included.
inline std::set<std::string> list_dir(const std::string& path) {
    std::set<std::string> names;
    DIR* d = ::opendir(path.c_str());
    REQUIRE(d != nullptr);
    while (dirent* e = ::readdir(d))
        names.insert(e->d_name);
    ::closedir(d);
    return names;
}

/// Whether a FUSE file system is mounted at `dir` (live or stale).
inline bool fuse_mounted(const std::string& dir) {
    struct statfs sf {};
    if (::statfs(dir.c_str(), &sf) != 0)
        return errno == ENOTCONN || errno == ECONNABORTED;
    return static_cast<unsigned long>(sf.f_type) == fuse::host::fuse_super_magic;
}

struct fuse_fixture {
    static constexpr bool maps_objects = true;
    /// Calls that hand out or take a descriptor reach the caller's table (fuse/published_files.hpp,
    /// fuse/caller_descriptors.hpp) through the syscall backend.
    static constexpr bool passes_descriptors = true;
    /// Where the server runs: in this process's PID namespace, or in a new one of its own (as
    /// pid 1 there), so that this process and its other children are invisible to it: their
    /// requests reach it with pid 0 (root only: CLONE_NEWPID needs CAP_SYS_ADMIN).
    enum class server_pid_namespace { shared, own };
    std::string dir = make_temp_dir();
    std::string mnt = dir + "/mnt";
    backend::syscall sys{mnt};
    pid_t server = -1;

    explicit fuse_fixture(server_pid_namespace ns = server_pid_namespace::shared) { start_server(ns); }
    ~fuse_fixture() {
        if (server > 0)
            CHECK(stop_server(SIGTERM) == 0);
        else
            fuse::host::clear_stale_mount(mnt); // after kill_server()
        ::rmdir(mnt.c_str());
        ::rmdir(dir.c_str());
    }

    backend::syscall& client() { return sys; }
    std::string compute(unsigned i) const { return mnt + "/" + node_name(node_kind::compute, i); }
    std::string monitor(unsigned i) const { return mnt + "/" + node_name(node_kind::monitor, i); }
    bool privileged() const { return ::geteuid() == 0; }
    /// The test server unregisters device 0 on SIGUSR1 (test_server.hpp).
    void unplug0() { REQUIRE(::kill(server, SIGUSR1) == 0); }

    /// Runs fn with this thread's effective (and so file-system) uid set to nobody. The raw
    /// system call changes only the calling thread; glibc's setresuid would change them all.
    template <class Fn>
    void as_unprivileged(Fn&& fn) {
        if (::geteuid() != 0) { // already unprivileged
            fn();
            return;
        }
        REQUIRE(::syscall(SYS_setresuid, -1, 65534, -1) == 0);
        struct restore {
            ~restore() { ::syscall(SYS_setresuid, -1, 0, -1); }
        } back;
        fn();
    }

    /// Starts the server child on `mnt` and waits until it serves.
    void start_server(server_pid_namespace ns = server_pid_namespace::shared) {
        int p[2];
        REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
        // Everything the child needs is built before it exists: between clone and exec it makes
        // only system calls (a raw clone child must not run a sanitizer's or malloc's code).
        const std::string fd = std::to_string(p[1]);
        const char* argv[] = {"accel-fuse-test-server", serve_flag, mnt.c_str(), fd.c_str(), nullptr};
        pid_t pid = ns == server_pid_namespace::own
                        ? static_cast<pid_t>(::syscall(SYS_clone, CLONE_NEWPID | SIGCHLD, nullptr, nullptr, nullptr, nullptr))
                        : ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            // A test program killed mid-test (a ctest timeout) must not leave its server serving
            // a mount behind: SIGTERM unmounts it. (A system call: allowed before the exec.)
            ::prctl(PR_SET_PDEATHSIG, SIGTERM);
            ::fcntl(p[1], F_SETFD, 0); // the ready pipe survives the exec
            ::execv("/proc/self/exe", const_cast<char* const*>(argv));
            ::_exit(127);
        }
        ::close(p[1]);
        int e = 1;
        ssize_t n;
        do
            n = ::read(p[0], &e, sizeof e);
        while (n < 0 && errno == EINTR);
        ::close(p[0]);
        server = pid;
        if (n != static_cast<ssize_t>(sizeof e) || e != 0) {
            int status = 0;
            ::waitpid(pid, &status, 0);
            server = -1;
            FAIL("the FUSE test server did not start: " << (n == sizeof e ? std::strerror(-e) : "it exited"));
        }
        // Mounted; the first lookup waits for the server's loop, which starts right after.
        struct stat st {};
        REQUIRE(::stat(compute(0).c_str(), &st) == 0);
    }

    /// Signals the server and waits for it; returns its exit status (0 = clean). The mount
    /// must be gone afterwards.
    int stop_server(int sig) {
        REQUIRE(server > 0);
        ::kill(server, sig);
        int status = 0;
        while (::waitpid(server, &status, 0) < 0 && errno == EINTR) {
        }
        server = -1;
        CHECK_FALSE(fuse_mounted(mnt));
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }

    /// SIGKILL: the server dies without unmounting (the kernel aborts the connection).
    void kill_server() {
        REQUIRE(server > 0);
        ::kill(server, SIGKILL);
        int status = 0;
        while (::waitpid(server, &status, 0) < 0 && errno == EINTR) {
        }
        server = -1;
    }
};

} // namespace accel::test

// SPDX-License-Identifier: MIT
#pragma once
// The two places the vdnn uAPI suite runs (vdnn_conformance.hpp):
//   mock_vdnn_fixture  an in-process subsystem with one vdnn device (DEBUG_HANG accepted, 300 ms
//                      job timeout) reached through accel::backend::mock;
//   fuse_vdnn_fixture  the real accel-serve program (ACCEL_SERVE_PATH) serving one vdnn device
//                      on a fresh FUSE mount (--devices vdnn --debug-hang --job-timeout-ms 300),
//                      reached through real system calls (accel::backend::syscall); stopped
//                      with SIGTERM, which must end it cleanly (exit status 0, unmounted).
// A fixture F provides:
//   B& client(); std::string node();             the backend and the compute node's path
//   static constexpr bool events_via_read;       read(2) on the compute node delivers the
//                                                file's JOB_DONE events
//   static constexpr bool full;                  run the larger random sets (the mock is cheap)
//   static constexpr const char* name;
#include "vdnn_driver.hpp"
#include "../fuse/serve_ready.hpp"

#include <accel/accel.hpp>
#include <accel/backend/syscall.hpp>

#include <doctest/doctest.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <string>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace vdnn::dtest {

/// The vdnn device configuration both fixtures use.
inline device_config conformance_config() {
    device_config c;
    c.debug_hang = true;
    c.job_timeout = std::chrono::milliseconds(300);
    return c;
}

/// One vdnn device in an in-process subsystem, on the mock backend. The test's caller is root
/// (privileged), as the mock's default caller.
struct mock_device {
    explicit mock_device(const device_config& cfg = conformance_config()) {
        auto d = device::create(cfg);
        REQUIRE(d);
        dev = *d;
        auto r = sub.register_device(dev);
        REQUIRE(r);
        reg = std::move(*r);
    }
    // Destroyed in reverse: the mock (closing every descriptor), the registration (unplug),
    // the device reference, the subsystem.
    accel::subsystem sub;
    device::ref dev;
    accel::registration reg;
    accel::backend::mock mock{sub};
    accel::backend::mock::identity root_scope{{0, 1, true}};

    accel::backend::mock& client() { return mock; }
    std::string node() const {
        return std::string(mock.root()) + "/" + accel::node_name(accel::node_kind::compute, reg ? reg.minor() : 0);
    }
    device_state& state() { return dev->data(); }
};

struct mock_vdnn_fixture : mock_device {
    static constexpr bool events_via_read = true;
    static constexpr bool full = true;
    static constexpr const char* name = "mock";
};

#ifdef ACCEL_SERVE_PATH
} // namespace vdnn::dtest
#include <accel/fuse/host.hpp>
namespace vdnn::dtest {

/// accel-serve as a child process on a fresh mount point.
struct fuse_vdnn_fixture {
    /// read(2) on a FUSE-served compute node delivers the file's DRM events (direct I/O with
    /// FUSE_DIRECT_IO_ALLOW_MMAP, docs/architecture.md).
    static constexpr bool events_via_read = true;
    static constexpr bool full = false;
    static constexpr const char* name = "fuse";

    static std::string make_dir() {
        char tmpl[] = "/tmp/vdnn-driver-test-XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        return tmpl;
    }
    std::string dir = make_dir();
    std::string mnt = dir + "/mnt"; // accel-serve creates it
    accel::backend::syscall sys{mnt};
    pid_t server = -1;
    int out = -1; // the server's stdout

    fuse_vdnn_fixture() {
        const int e = start();
        REQUIRE_MESSAGE(e == 0, "accel-serve did not start: " << std::strerror(-e));
    }
    ~fuse_vdnn_fixture() {
        if (server > 0)
            CHECK_MESSAGE(stop() == 0, "accel-serve did not exit cleanly on SIGTERM");
        ::rmdir(mnt.c_str());
        ::rmdir(dir.c_str());
    }
    fuse_vdnn_fixture(const fuse_vdnn_fixture&) = delete;
    fuse_vdnn_fixture& operator=(const fuse_vdnn_fixture&) = delete;

    accel::backend::syscall& client() { return sys; }
    std::string node() const { return mnt + "/accel/accel0"; }

    /// Starts the server and waits for its first line (printed once mounted); 0, or -errno
    /// (-EIO: it exited without serving).
    int start() {
        int p[2];
        if (::pipe2(p, O_CLOEXEC) != 0)
            return -errno;
        // Built before fork: the child only makes system calls until exec.
        const char* argv[] = {ACCEL_SERVE_PATH, "--mount", mnt.c_str(), "--devices", "vdnn", "--debug-hang",
                              "--job-timeout-ms", "300", nullptr};
        const pid_t pid = ::fork();
        if (pid < 0)
            return -errno;
        if (pid == 0) {
            ::dup2(p[1], STDOUT_FILENO); // dup2 clears FD_CLOEXEC on the copy
            ::execv(ACCEL_SERVE_PATH, const_cast<char* const*>(argv));
            ::_exit(127);
        }
        ::close(p[1]);
        server = pid;
        out = p[0];
        // The first line says the mount serves; EOF: the server exited (its stderr says why).
        const bool ready = accel::test::wait_ready_line(out);
        if (!ready) {
            int status = 0;
            ::kill(server, SIGKILL);
            ::waitpid(server, &status, 0);
            server = -1;
            ::close(out);
            return -EIO;
        }
        struct stat st {};
        return ::stat(node().c_str(), &st) == 0 ? 0 : -errno;
    }

    /// SIGTERM, then the server's exit status (0: clean). A server still there after 60 s is
    /// killed (its mount cleared) and reported as -1: a failure, not a hung test run.
    int stop() {
        ::kill(server, SIGTERM);
        int status = 0;
        int rc = -1;
        const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        for (;;) {
            const pid_t r = ::waitpid(server, &status, WNOHANG);
            if (r == server) {
                rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                break;
            }
            if ((r < 0 && errno != EINTR) || std::chrono::steady_clock::now() > end) {
                ::kill(server, SIGKILL);
                while (::waitpid(server, &status, 0) < 0 && errno == EINTR) {
                }
                accel::fuse::host::clear_stale_mount(mnt);
                break;
            }
            ::usleep(10'000);
        }
        server = -1;
        ::close(out);
        return rc;
    }
};
#endif

} // namespace vdnn::dtest

// SPDX-License-Identifier: MIT
#pragma once
// Where the vdsp uAPI suite (vdsp_conformance.hpp) runs:
//   mock_vdsp_fixture  an in-process subsystem with one vdsp device on the mock backend, its
//                      firmware loader searching only a temporary directory (log captured);
//   fuse_vdsp_fixture  accel-serve (ACCEL_SERVE_PATH) serving `--devices vdsp` on a fresh FUSE
//                      mount through real system calls, its firmware found by
//                      --firmware-path: the build's generated directory (VDSP_GENERATED_FIRMWARE)
//                      or a temporary one the test fills.
// Both start either with the shipped firmware (`fw::shipped`) or with none in the directory
// (`fw::none`), and let a test put a file there (install) before asking for a reset.
#include "vdsp_driver.hpp"
#include "vdsp_test_util.hpp"
#include "../fuse/serve_ready.hpp"

#include <accel/accel.hpp>
#include <accel/backend/syscall.hpp>

#include <doctest/doctest.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <poll.h>
#include <string>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace vdsp::test {

/// shipped: the shipped firmware; none: an empty firmware directory; server_default (FUSE only):
/// accel-serve with no options but --mount (its default devices and firmware directory).
enum class fw { shipped, none, server_default };

struct mock_vdsp_fixture {
    static constexpr const char* name = "mock";
    static constexpr bool in_process = true;

    explicit mock_vdsp_fixture(fw start = fw::shipped) {
        if (start == fw::shipped)
            install(shipped_image());
        device_config c;
        c.loader = accel::firmware_loader::with_path({dir.path});
        c.loader.set_log(log.sink());
        auto d = device::create(std::move(c));
        REQUIRE(d);
        dev = *d;
        auto r = sub.register_device(dev);
        REQUIRE(r);
        reg = std::move(*r);
    }
    temp_dir dir;
    log_capture log;
    accel::subsystem sub;
    device::ref dev;
    accel::registration reg;
    accel::backend::mock mock{sub};
    accel::backend::mock::identity root_scope{{0, 1, true}};

    void install(const std::vector<std::byte>& img) { dir.write("accel/vdsp.fw", img); }
    void remove_fw() { std::filesystem::remove(dir.path + "/accel/vdsp.fw"); }
    accel::backend::mock& client() { return mock; }
    std::string node() const {
        return std::string(mock.root()) + "/" + accel::node_name(accel::node_kind::compute, reg ? reg.minor() : 0);
    }
};

#ifdef ACCEL_SERVE_PATH
} // namespace vdsp::test
#include <accel/fuse/host.hpp>
namespace vdsp::test {

struct fuse_vdsp_fixture {
    static constexpr const char* name = "fuse";
    static constexpr bool in_process = false;

    /// fw::shipped: the build's generated firmware directory, as accel-serve finds it by default
    /// (passed explicitly: the test must not depend on where the binary sits); fw::none: an
    /// empty temporary directory.
    explicit fuse_vdsp_fixture(fw start = fw::shipped) : own_dir(start == fw::none), defaults(start == fw::server_default) {
        const int e = start_server();
        REQUIRE_MESSAGE(e == 0, "accel-serve did not start: " << std::strerror(-e));
    }
    ~fuse_vdsp_fixture() {
        if (server > 0)
            CHECK_MESSAGE(stop() == 0, "accel-serve did not exit cleanly on SIGTERM");
        ::rmdir(mnt.c_str());
    }
    fuse_vdsp_fixture(const fuse_vdsp_fixture&) = delete;
    fuse_vdsp_fixture& operator=(const fuse_vdsp_fixture&) = delete;

    bool own_dir;
    bool defaults = false;
    temp_dir dir;            // the mount point's parent and, with fw::none, the firmware directory
    std::string mnt = dir.path + "/mnt";
    std::string fwdir = own_dir ? dir.path + "/fw" : std::string(VDSP_GENERATED_FIRMWARE);
    accel::backend::syscall sys{mnt};
    pid_t server = -1;
    int out = -1;

    void install(const std::vector<std::byte>& img) {
        REQUIRE(own_dir); // never write into the build's firmware directory
        dir.write("fw/accel/vdsp.fw", img);
    }
    accel::backend::syscall& client() { return sys; }
    /// The vdsp device's node: accel0 with --devices vdsp, accel2 after minimal and vdnn.
    std::string node() const { return mnt + (defaults ? "/accel/accel2" : "/accel/accel0"); }

    int start_server() {
        std::filesystem::create_directories(dir.path + "/fw");
        int p[2];
        if (::pipe2(p, O_CLOEXEC) != 0)
            return -errno;
        const char* argv[] = {ACCEL_SERVE_PATH, "--mount", mnt.c_str(), "--devices", "vdsp", "--firmware-path",
                              fwdir.c_str(), nullptr};
        if (defaults)
            argv[3] = nullptr;
        const pid_t pid = ::fork();
        if (pid < 0)
            return -errno;
        if (pid == 0) {
            ::dup2(p[1], STDOUT_FILENO);
            ::unsetenv("ACCEL_FIRMWARE_PATH"); // the server's own default, not the environment's
            ::unsetenv("ACCEL_FIRMWARE_ROOT");
            ::execv(ACCEL_SERVE_PATH, const_cast<char* const*>(argv));
            ::_exit(127);
        }
        ::close(p[1]);
        server = pid;
        out = p[0];
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

} // namespace vdsp::test

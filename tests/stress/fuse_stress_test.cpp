// SPDX-License-Identifier: MIT
// Stress through FUSE: accel-serve serves vdnn and vdsp on a fresh mount; several client
// processes (fork) run random sessions (stress_session.hpp) on real descriptors through real
// system calls, now and then a reset too, while this process SIGKILLs a random client every
// 100-400 ms and forks a replacement. Bounded by ACCEL_STRESS_SECONDS (default 5).
// Every answer a client got must be a success or an allowed errno (the counters live in memory
// shared with the clients, so a killed client's are kept); every client that was not killed
// must exit 0. The server keeps serving: afterwards a fresh session in this process works, and
// everything the killed clients held is released - through FUSE the RELEASE of a killed
// client's files reaches the server after the kill, so the monitor node's CLIENTS, STATUS and
// MEMORY_USAGE and the debugfs fdinfo directory are polled with a deadline until they are back
// to what they were before. Then the server must exit cleanly on SIGTERM.
#include "stress_session.hpp"
#include "stress_state.hpp"
#include "../fuse/serve_ready.hpp"

#include <accel/backend/syscall.hpp>
#include <accel/fuse/host.hpp>
#include <accel/uapi/accel_reset.h>

#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <new>
#include <poll.h>
#include <random>
#include <set>
#include <string>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace accel::stress;
using clock_type = std::chrono::steady_clock;

namespace {

/// accel-serve (ACCEL_SERVE_PATH) serving vdnn (minor 0) and vdsp (minor 1) on a fresh mount.
struct server {
    std::string dir;
    std::string mnt;
    pid_t pid = -1;
    int out = -1; // its stdout: the first line says it serves

    server() {
        char tmpl[] = "/tmp/accel-stress-XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        dir = tmpl;
        mnt = dir + "/mnt";
        int p[2];
        REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
        const char* argv[] = {ACCEL_SERVE_PATH, "--mount", mnt.c_str(), "--devices", "vdnn,vdsp", nullptr};
        pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            ::prctl(PR_SET_PDEATHSIG, SIGTERM); // a killed test run must not leave it serving
            ::dup2(p[1], STDOUT_FILENO);
            ::execv(ACCEL_SERVE_PATH, const_cast<char* const*>(argv));
            ::_exit(127);
        }
        ::close(p[1]);
        out = p[0];
        const bool ready = accel::test::wait_ready_line(out);
        REQUIRE_MESSAGE(ready, "accel-serve did not start");
        struct stat st {};
        REQUIRE(::stat(compute(0).c_str(), &st) == 0);
    }
    ~server() {
        if (pid > 0)
            CHECK_MESSAGE(stop() == 0, "accel-serve did not exit cleanly on SIGTERM");
        ::close(out);
        ::rmdir(mnt.c_str());
        ::rmdir(dir.c_str());
    }
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    std::string compute(unsigned minor) const { return mnt + "/accel/accel" + std::to_string(minor); }
    std::string monitor(unsigned minor) const { return mnt + "/accel/accel_controlD" + std::to_string(minor); }
    std::string fdinfo_dir(unsigned minor) const { return mnt + "/sys/kernel/debug/accel/" + std::to_string(minor) + "/fdinfo"; }

    /// SIGTERM; the exit status (0: clean). Killed (and the mount cleared) after 60 s: -1.
    int stop() {
        ::kill(pid, SIGTERM);
        int status = 0, rc = -1;
        const auto end = clock_type::now() + std::chrono::seconds(60);
        for (;;) {
            const pid_t r = ::waitpid(pid, &status, WNOHANG);
            if (r == pid) {
                rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                break;
            }
            if ((r < 0 && errno != EINTR) || clock_type::now() > end) {
                ::kill(pid, SIGKILL);
                while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
                }
                accel::fuse::host::clear_stale_mount(mnt);
                break;
            }
            ::usleep(10'000);
        }
        pid = -1;
        return rc;
    }
};

/// What the clients share with this process: the counters and the stop flag.
struct shared_state {
    counters c;
    std::atomic<int> stop{0};
    std::atomic<std::uint64_t> sessions{0};
};

/// The client process's life: sessions until told to stop (or killed); a reset now and then.
[[noreturn]] void client_main(const server& s, shared_state& sh, std::uint64_t seed) {
    accel::backend::syscall sys(s.mnt);
    const session_paths paths{s.compute(0), s.monitor(0), s.compute(1), false};
    std::mt19937_64 rng(seed);
    while (!sh.stop.load()) {
        if (rng() % 40 == 0) {
            const int fd = sys.open(paths.dnn_mon, O_RDWR);
            if (sh.c.count(op_reset, fd, [](int) { return false; }, "open")) {
                accel_reset_request rq{ACCEL_RESET_WAIT, 0};
                sh.c.count(op_reset, sys.ioctl(fd, ACCEL_IOCTL_RESET, &rq), [](int) { return false; });
                sh.c.count(op_close, sys.close(fd), [](int) { return false; }, "reset");
            }
        }
        session<accel::backend::syscall> ses(sys, paths, sh.c, rng());
        ses.run(8 + static_cast<unsigned>(rng() % 24));
        sh.sessions.fetch_add(1);
    }
    ::_exit(0); // no atexit handlers, no doctest: the parent judges
}

pid_t spawn(const server& s, shared_state& sh, std::uint64_t seed) {
    const pid_t pid = ::fork();
    if (pid == 0)
        client_main(s, sh, seed);
    return pid;
}

/// The client ids listed in the fdinfo directory (debugfs-like) of a device.
std::set<std::string> fdinfo_entries(const std::string& dir) {
    std::set<std::string> names;
    if (DIR* d = ::opendir(dir.c_str())) {
        while (dirent* e = ::readdir(d))
            if (std::strcmp(e->d_name, ".") && std::strcmp(e->d_name, ".."))
                names.insert(e->d_name);
        ::closedir(d);
    }
    return names;
}

} // namespace

TEST_CASE("client processes on vdnn and vdsp, one SIGKILLed every few hundred ms, the server serves on and frees everything") {
    const double seconds = stress_seconds(5);
    const unsigned nclients = 4;
    server srv;
    accel::backend::syscall sys(srv.mnt);
    const device_view dnn_before = view_device(sys, srv.monitor(0));
    const device_view dsp_before = view_device(sys, srv.monitor(1));
    INFO("vdnn before: " << dnn_before.describe());
    REQUIRE(at_rest(dnn_before, dnn_before.memory_used()));
    REQUIRE(at_rest(dsp_before, dsp_before.memory_used()));

    void* mem = ::mmap(nullptr, sizeof(shared_state), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    REQUIRE(mem != MAP_FAILED);
    auto* sh = new (mem) shared_state;

    std::mt19937_64 rng(42);
    std::vector<pid_t> clients;
    for (unsigned i = 0; i < nclients; ++i) {
        clients.push_back(spawn(srv, *sh, rng()));
        REQUIRE(clients.back() > 0);
    }
    unsigned killed = 0, bad_exits = 0;
    const auto end = clock_type::now() + std::chrono::duration<double>(seconds);
    while (clock_type::now() < end) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100 + rng() % 300));
        pid_t& victim = clients[rng() % clients.size()];
        ::kill(victim, SIGKILL);
        int status = 0;
        while (::waitpid(victim, &status, 0) < 0 && errno == EINTR) {
        }
        if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) // it died another way first
            ++bad_exits;
        ++killed;
        victim = spawn(srv, *sh, rng());
        REQUIRE(victim > 0);
    }
    sh->stop = 1;
    for (pid_t p : clients) {
        int status = 0;
        while (::waitpid(p, &status, 0) < 0 && errno == EINTR) {
        }
        if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0))
            ++bad_exits;
    }
    MESSAGE("FUSE stress, " << seconds << " s, " << nclients << " client processes, " << killed << " killed, "
                            << sh->sessions.load() << " sessions completed:\n"
                            << sh->c.report());
    CHECK(bad_exits == 0);
    CHECK(sh->c.total_unexpected() == 0);
    CHECK(sh->c.ok[op_submit] > 0);
    CHECK(killed > 0);

    // The killed clients' files are released once the server has their RELEASEs: back to the
    // baseline within a deadline (generous: a loaded CI machine, a sanitizer build).
    device_view dnn_after, dsp_after;
    std::set<std::string> dnn_fdinfo, dsp_fdinfo;
    auto settled = [&] {
        dnn_after = view_device(sys, srv.monitor(0));
        dsp_after = view_device(sys, srv.monitor(1));
        dnn_fdinfo = fdinfo_entries(srv.fdinfo_dir(0));
        dsp_fdinfo = fdinfo_entries(srv.fdinfo_dir(1));
        // The directory may still list the viewer's own monitor file (closed, its RELEASE maybe
        // not there yet), nothing else.
        auto only_viewer = [](const std::set<std::string>& names, const device_view& v) {
            return names.empty() || (names.size() == 1 && v.clients.size() == 1 &&
                                     *names.begin() == std::to_string(v.clients[0].client_id));
        };
        return at_rest(dnn_after, dnn_before.memory_used()) && at_rest(dsp_after, dsp_before.memory_used()) &&
               only_viewer(dnn_fdinfo, dnn_after) && only_viewer(dsp_fdinfo, dsp_after);
    };
    const auto deadline = clock_type::now() + std::chrono::seconds(60);
    while (!settled() && clock_type::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    INFO("vdnn: " << dnn_after.describe());
    INFO("vdsp: " << dsp_after.describe());
    INFO("fdinfo entries left: " << dnn_fdinfo.size() << " vdnn, " << dsp_fdinfo.size() << " vdsp");
    CHECK(settled());

    // The server still serves: a fresh client's session works, and leaves nothing either.
    counters fresh;
    const session_paths paths{srv.compute(0), srv.monitor(0), srv.compute(1), false};
    for (std::uint64_t seed = 1; seed <= 4; ++seed) {
        session<accel::backend::syscall> s(sys, paths, fresh, seed);
        CHECK(s.run(40));
    }
    INFO(fresh.report());
    CHECK(fresh.total_unexpected() == 0);
    CHECK(fresh.total_ok() > 0);
    const auto deadline2 = clock_type::now() + std::chrono::seconds(60);
    while (!settled() && clock_type::now() < deadline2)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    CHECK(settled());
    sh->~shared_state();
    ::munmap(mem, sizeof(shared_state));
}

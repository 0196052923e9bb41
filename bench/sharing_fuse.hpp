// SPDX-License-Identifier: MIT
// The sharing layer through FUSE, for bench/sharing (which includes this header; it is not a
// program by itself). Two servers, each this program re-executed in a server mode
// (fuse_servers.hpp), started by the first benchmark that needs them:
//   sharing    accel::fuse::host serving sharing_bench_driver.hpp's device (accel/accel0);
//   bare_poll  fuse_servers.hpp's bare libfuse3 daemon: the floors.
// Every benchmark here times only its own part of an iteration (manual time): set-up and
// clean-up of each iteration run untimed, so that both sides of a ratio time the same shape.
//
//   syncfile_poll_wake/fuse/<p>  untimed: ARM through the syscall backend (FD_CALL; the server
//                                publishes the new sync file, the client opens it). Timed: FIRE
//                                (an ioctl; the handler hands the fence to the driver's
//                                signaller thread and answers) then poll(2) on the sync file
//                                until POLLIN (FUSE_POLL; parked until the signal's
//                                fuse_lowlevel_notify_poll when the signaller has not run yet).
//                                Untimed: close of the sync file.
//   fuse_poll_notify/<p>         the floor, timed the same way on the bare daemon: its BUMP
//                                ioctl (answer, then a second thread raises POLLIN and notifies
//                                a parked poll) then poll(2) until POLLIN. Counters poll_reqs
//                                and parked: FUSE_POLL requests per iteration, and how often the
//                                first one was answered 0 (the client then slept until notified).
//   prime_export/fuse/fresh/<p>  timed: PRIME_HANDLE_TO_FD through the syscall backend (FD_CALL
//                                with the argument inline, then the open of the published name:
//                                LOOKUP of a new name, OPEN) of an object created untimed just
//                                before (a new dma-buf, a new published file); untimed: close of
//                                the dma-buf and GEM_CLOSE.
//   prime_export/fuse/same/<p>   the same export of one object again and again: its dma-buf is
//                                cached by the object (drm_prime), so the published file and its
//                                name are the same each time and the kernel's cached LOOKUP
//                                answer leaves the OPEN. Untimed: close.
//   fuse_ioctl/bare/<p>          the floor: a plain 64-byte ioctl round trip on the bare daemon
//                                (BENCH_BARE_IOCTL_ECHO: copy, answer, nothing else).
//   fuse_ioctl/accel/<p>         a no-op accel ioctl (GET_CAP PRIME) on the served node: the
//                                same round trip through accel's host and dispatch.
// <p> is the placement (thread_placement.hpp): one_cpu (the client and every server thread on
// one CPU: each hand-off a context switch) or two_cpus (the client on one, the servers' threads
// on another: each hand-off a cross-CPU wake-up).
// Targets (issue 12): syncfile_poll_wake/fuse <= 1.3x fuse_poll_notify, prime_export/fuse <=
// 2.5x fuse_ioctl (the bare round trip), each placement against the same placement.
// Without /dev/fuse (or without the right to mount) these benchmarks are skipped.
#pragma once
#include "fuse_servers.hpp"
#include "ratio_reporter.hpp"
#include "sharing_bench_driver.hpp"
#include "thread_placement.hpp"

#include <accel/accel.hpp>
#include <accel/backend/syscall.hpp>
#include <accel/fuse/unsignalled_thread.hpp>

#include <benchmark/benchmark.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <optional>
#include <poll.h>
#include <string>
#include <string_view>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace accel::bench_sharing {

namespace fs = accel::bench::fuse_servers;
using accel::bench::placement;

// ---- the server side -------------------------------------------------------------------------

/// Server mode "sharing": the bench driver's device through accel's host, its signaller thread
/// started first and stopped after the host (a FIRE can come until the loop ends).
inline int serve_sharing(const std::string& mnt, int ready_fd) {
    signaller sig;
    std::thread signalling = accel::fuse::unsignalled_thread([&sig] { sig.run(); });
    int rc = 2;
    {
        subsystem sub;
        auto dev = device<driver>::create(sig);
        if (dev)
            if (auto reg = sub.register_device(device_ref(dev->get())))
                rc = fs::serve_host(sub, mnt, ready_fd);
    }
    sig.stop();
    signalling.join();
    return rc;
}

/// `<program> --bench-fuse-server MODE MOUNT READY_FD`: the server's exit status, or -1 when
/// the command line is not a server's.
inline int server_main(int argc, char** argv) {
    if (argc != 5 || std::string_view(argv[1]) != fs::server_flag)
        return -1;
    const std::string_view mode = argv[2];
    const std::string mnt = argv[3];
    const int ready_fd = std::atoi(argv[4]);
    ::prctl(PR_SET_NAME, mode == "sharing" ? "share-srv-accel" : "share-srv-bare"); // for ps and perf
    if (mode == "sharing")
        return serve_sharing(mnt, ready_fd);
    if (mode == "bare_poll")
        return fs::bare::serve(mnt, ready_fd);
    return 2;
}

// ---- the client side -------------------------------------------------------------------------

/// Where the servers mount (a temporary directory made on first use, removed by stop_servers).
inline std::string& temp_base() {
    static std::string dir = fs::make_temp_base("accel-sharing");
    return dir;
}
inline fs::server& sharing_server() {
    static fs::server s{"sharing", "accel/accel0"};
    return s;
}
inline fs::server& bare_server() {
    static fs::server s{"bare_poll", fs::bare_file_name};
    return s;
}

/// Stops both servers (whatever the first says) and removes their directory; false when one
/// did not stop cleanly.
inline bool stop_servers() {
    const bool a = sharing_server().stop(), b = bare_server().stop();
    if (!temp_base().empty())
        ::rmdir(temp_base().c_str());
    return a && b;
}

/// ARM returns a descriptor: the syscall backend must be told where, since a driver's table row
/// cannot say it (ioctl_table.hpp's rows have no fd field; only core rows set ioctl_slot::fd_field).
inline bool fd_rows_registered() {
    static const bool ok =
        accel::backend::syscall::register_fd_ioctl(SHARING_BENCH_IOCTL_ARM, offsetof(arm_arg, fd)) == 0;
    return ok;
}

/// One timed section of an iteration: from construction to stop().
class section {
public:
    section() : t0_(std::chrono::steady_clock::now()) {}
    double stop() const {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
    }

private:
    std::chrono::steady_clock::time_point t0_;
};

/// poll(2) until POLLIN: 0, or -errno.
inline int poll_in(int fd) {
    for (;;) {
        pollfd p{fd, POLLIN, 0};
        const int r = ::poll(&p, 1, -1);
        if (r > 0 && (p.revents & POLLIN))
            return 0;
        if (r > 0 && (p.revents & (POLLERR | POLLHUP | POLLNVAL)))
            return -EIO;
        if (r < 0 && errno != EINTR)
            return -errno;
    }
}

/// A served file of one server, open for a benchmark (skips it when anything is missing).
struct served_fd {
    int fd = -1;
    served_fd(benchmark::State& state, fs::server& srv) {
        if (const std::string& e = srv.ensure(temp_base()); !e.empty()) {
            state.SkipWithError(e.c_str());
            return;
        }
        fd = ::open(srv.node().c_str(), O_RDWR | O_CLOEXEC);
        if (fd < 0)
            state.SkipWithError(("open " + srv.node() + ": " + std::strerror(errno)).c_str());
    }
    ~served_fd() {
        if (fd >= 0)
            ::close(fd);
    }
    served_fd(const served_fd&) = delete;
    served_fd& operator=(const served_fd&) = delete;
};

inline void fuse_poll_notify(benchmark::State& state, placement where) {
    served_fd f(state, bare_server());
    if (f.fd < 0)
        return;
    fs::bump_arg arg{};
    arg.words[1] = 1;
    fs::poll_stats before{}, after{};
    int failed = ::ioctl(f.fd, BENCH_BARE_IOCTL_STATS, &before);
    {
        accel::bench::thread_placement placed(where, bare_server().pid());
        if (!placed.error().empty()) {
            state.SkipWithError(placed.error().c_str());
            return;
        }
        for (auto _ : state) {
            section t;
            failed |= ::ioctl(f.fd, BENCH_BARE_IOCTL_BUMP, &arg);
            failed |= poll_in(f.fd);
            state.SetIterationTime(t.stop());
        }
    }
    failed |= ::ioctl(f.fd, BENCH_BARE_IOCTL_STATS, &after);
    if (failed || arg.words[0] != static_cast<__u64>(state.iterations())) {
        state.SkipWithError("an ioctl or a poll failed");
        return;
    }
    const double n = static_cast<double>(state.iterations());
    state.counters["poll_reqs"] = static_cast<double>(after.polls - before.polls) / n;
    state.counters["parked"] = static_cast<double>(after.polls_parked - before.polls_parked) / n;
}

inline void syncfile_poll_wake(benchmark::State& state, placement where) {
    if (!fd_rows_registered()) {
        state.SkipWithError("register_fd_ioctl(ARM) failed");
        return;
    }
    served_fd f(state, sharing_server());
    if (f.fd < 0)
        return;
    accel::backend::syscall sys;
    int failed = 0;
    {
        accel::bench::thread_placement placed(where, sharing_server().pid());
        if (!placed.error().empty()) {
            state.SkipWithError(placed.error().c_str());
            return;
        }
        for (auto _ : state) {
            arm_arg a{-1, O_CLOEXEC};
            if (int r = sys.ioctl(f.fd, SHARING_BENCH_IOCTL_ARM, &a); r != 0 || a.fd < 0) {
                state.SkipWithError(("ARM: " + std::string(std::strerror(-r))).c_str());
                break;
            }
            fire_arg fa{};
            section t;
            failed |= ::ioctl(f.fd, SHARING_BENCH_IOCTL_FIRE, &fa);
            failed |= poll_in(a.fd);
            state.SetIterationTime(t.stop());
            ::close(a.fd);
        }
    }
    if (failed)
        state.SkipWithError("FIRE or the poll failed");
}

inline void prime_export(benchmark::State& state, placement where, bool same_object) {
    served_fd f(state, sharing_server());
    if (f.fd < 0)
        return;
    accel::backend::syscall sys;
    auto create = [&](__u32& handle) {
        bo_create_arg b{4096, 0, 0};
        const int r = ::ioctl(f.fd, SHARING_BENCH_IOCTL_BO_CREATE, &b);
        handle = b.handle;
        return r;
    };
    __u32 handle = 0;
    if (same_object && create(handle) != 0) {
        state.SkipWithError("BO_CREATE failed");
        return;
    }
    {
        accel::bench::thread_placement placed(where, sharing_server().pid());
        if (!placed.error().empty()) {
            state.SkipWithError(placed.error().c_str());
            return;
        }
        for (auto _ : state) {
            if (!same_object && create(handle) != 0) {
                state.SkipWithError("BO_CREATE failed");
                break;
            }
            accel_prime_handle ph{handle, ACCEL_CLOEXEC | ACCEL_RDWR, -1};
            section t;
            const int r = sys.ioctl(f.fd, ACCEL_IOCTL_PRIME_HANDLE_TO_FD, &ph);
            state.SetIterationTime(t.stop());
            if (r != 0 || ph.fd < 0) {
                state.SkipWithError(("PRIME_HANDLE_TO_FD: " + std::string(std::strerror(-r))).c_str());
                break;
            }
            ::close(ph.fd);
            if (!same_object) {
                accel_gem_close gc{handle, 0};
                (void)::ioctl(f.fd, ACCEL_IOCTL_GEM_CLOSE, &gc);
            }
        }
    }
    if (same_object) {
        accel_gem_close gc{handle, 0};
        (void)::ioctl(f.fd, ACCEL_IOCTL_GEM_CLOSE, &gc);
    }
}

/// A plain ioctl round trip: `request` on the node of `srv`, `arg` in and out.
template <class Arg>
void fuse_ioctl(benchmark::State& state, placement where, fs::server& srv, unsigned long request, Arg arg) {
    served_fd f(state, srv);
    if (f.fd < 0)
        return;
    int failed = 0;
    {
        accel::bench::thread_placement placed(where, srv.pid());
        if (!placed.error().empty()) {
            state.SkipWithError(placed.error().c_str());
            return;
        }
        for (auto _ : state) {
            section t;
            failed |= ::ioctl(f.fd, request, &arg);
            state.SetIterationTime(t.stop());
        }
    }
    if (failed)
        state.SkipWithError("the ioctl failed");
}

inline void fuse_ioctl_bare(benchmark::State& state, placement where) {
    fs::bump_arg a{};
    a.words[1] = 1;
    fuse_ioctl(state, where, bare_server(), BENCH_BARE_IOCTL_ECHO, a);
}
inline void fuse_ioctl_accel(benchmark::State& state, placement where) {
    fuse_ioctl(state, where, sharing_server(), ACCEL_IOCTL_GET_CAP, accel_get_cap{ACCEL_CAP_PRIME, 0});
}

inline constexpr std::pair<const char*, placement> placements[] = {{"/one_cpu", placement::one_cpu},
                                                                   {"/two_cpus", placement::two_cpus}};

/// Registers every FUSE benchmark, for each placement.
inline bool register_fuse_benchmarks() {
    auto reg = [](const std::string& name, auto fn, auto... args) {
        benchmark::RegisterBenchmark(name.c_str(), fn, args...)->UseManualTime()->Unit(benchmark::kMicrosecond);
    };
    for (const auto& [suffix, where] : placements) {
        const std::string p = suffix;
        reg("syncfile_poll_wake/fuse" + p, syncfile_poll_wake, where);
        reg("fuse_poll_notify" + p, fuse_poll_notify, where);
        reg("prime_export/fuse/fresh" + p, prime_export, where, false);
        reg("prime_export/fuse/same" + p, prime_export, where, true);
        reg("fuse_ioctl/bare" + p, fuse_ioctl_bare, where);
        reg("fuse_ioctl/accel" + p, fuse_ioctl_accel, where);
    }
    return true;
}

/// The FUSE figures: each benchmark's median time and spread, then the ratios (each placement
/// against the same placement), judged against issue 12's targets.
inline void print_fuse_summary(const accel::bench::sample_reporter& reporter) {
    using accel::bench::target;
    static constexpr const char* names[] = {"syncfile_poll_wake/fuse", "fuse_poll_notify", "prime_export/fuse/fresh",
                                            "prime_export/fuse/same",  "fuse_ioctl/bare",  "fuse_ioctl/accel"};
    struct line {
        const char *subject, *baseline;
        std::optional<target> goal;
    };
    static const line lines[] = {
        {"syncfile_poll_wake/fuse", "fuse_poll_notify", target{1.3}},
        {"prime_export/fuse/fresh", "fuse_ioctl/bare", target{2.5}},
        {"prime_export/fuse/same", "fuse_ioctl/bare", target{2.5}},
        {"prime_export/fuse/fresh", "fuse_ioctl/accel", std::nullopt},
        {"prime_export/fuse/same", "fuse_ioctl/accel", std::nullopt},
        {"fuse_ioctl/accel", "fuse_ioctl/bare", std::nullopt},
    };
    std::FILE* out = reporter.summary_stream();
    bool header = false;
    for (const auto& [suffix, where] : placements)
        for (const char* name : names) {
            const std::string k = name + std::string(suffix);
            const accel::bench::spread m = reporter.stats(k);
            if (m.median <= 0)
                continue;
            if (!std::exchange(header, true))
                std::fprintf(out, "\n%-36s%10s%10s%10s%10s%10s\n", "through FUSE: time per iteration (us)", "median",
                             "min", "max", "q1", "q3");
            std::fprintf(out, "%-36s%10.2f%10.2f%10.2f%10.2f%10.2f   (n=%zu)\n", k.c_str(), m.median, m.min, m.max, m.q1,
                         m.q3, m.n);
        }
    if (!header)
        return;
    std::fprintf(out, "\nthrough FUSE: time ratios (median of per-repetition ratios)\n");
    for (const auto& [suffix, where] : placements)
        for (const line& l : lines) {
            const std::string label = l.subject + std::string(suffix) + " / " + l.baseline + suffix;
            accel::bench::print_ratio(out, label.c_str(),
                                      reporter.ratio(l.subject + std::string(suffix), l.baseline + std::string(suffix)),
                                      l.goal);
        }
    for (const auto& [suffix, where] : placements) {
        const std::string k = std::string("fuse_poll_notify") + suffix;
        const accel::bench::spread reqs = reporter.stats(k, 1, accel::bench::sample_reporter::counter("poll_reqs"));
        const accel::bench::spread parked = reporter.stats(k, 1, accel::bench::sample_reporter::counter("parked"));
        if (reqs.n)
            std::fprintf(out, "%s: %.2f FUSE_POLL requests per iteration, first one parked in %.0f%% of them\n", k.c_str(),
                         reqs.median, parked.median * 100);
    }
}

} // namespace accel::bench_sharing

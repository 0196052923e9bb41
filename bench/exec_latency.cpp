// SPDX-License-Identifier: MIT
// Latencies of the execution layer, each against a baseline measured in the same run.
//
//   fence_wake      : a ping-pong between two threads over one-shot accel::fence pairs: the
//                     benchmark thread signals "ping" and blocks in fence::wait on "pong"; the
//                     partner thread, blocked in fence::wait on "ping", wakes and signals "pong".
//                     One iteration is a round trip: two signals, each waking a blocked thread.
//   condvar_handoff : the same ping-pong, structure and allocations, with a one-shot event made of
//                     a std::mutex, a std::condition_variable and a flag (set and notified under
//                     the mutex, waited for with a predicate): the floor of a blocking hand-off.
// Both create a new pair of one-shot events per round (a fence signals once), one allocation per
// event and one per round, and pass the next round's events to the partner inside the current
// round, so the only synchronisation between the threads is the events themselves. Each pair
// runs three ways: the threads where the scheduler puts them ("fence_wake", "condvar_handoff"),
// both pinned to one CPU ("/one_cpu": every hand-off a context switch; the steadiest figure),
// and pinned to two CPUs ("/two_cpus": every hand-off wakes the other CPU; on a VM dominated by
// waking an idle vCPU). Unpinned, the scheduler flips between those two regimes from one run to
// the next, so its spread is wide: compare repetitions, not single runs.
// Target: fence_wake <= 2x condvar_handoff.
//
// The null job: a vdnn job holding one VDNN_OP_NOP, submitted and waited for by one client.
//   null_job/mock     : on the mock backend (vdnn in this process): SUBMIT (ioctl; the scheduler's
//                       fast path runs run_job on the client thread, which hands the job to the
//                       simulated engine's thread), then WAIT (VDNN_WAIT_JOB; the request parks on
//                       the finished fence and the client sleeps until the engine thread signals
//                       the hardware fence, whose callback signals the finished fence, which
//                       answers the WAIT). Counter cpu_us_per_job: this process's CPU per job.
//   condvar_pingpong  : its floor, shaped the same way: the client wakes a persistent "engine"
//                       thread through a mutex + condition variable and sleeps until the engine
//                       answers the same way; one round trip (two wake-ups) per iteration
//                       (cpu_us_per_job: CPU per round trip).
//   null_job/fuse     : the same client through FUSE (accel::backend::syscall: ioctl(2) on
//                       <mnt>/accel/accel0 of vdnn served by accel::fuse::host in a child process).
//                       Counters client_cpu_us, srv_cpu_us, cpu_us: CPU per job of each side.
//   fuse_ioctl_poll   : its floor: a bare libfuse3 daemon (exec_fuse_servers.hpp) answers a 64-byte
//                       ioctl, then another of its threads raises POLLIN and notifies a parked
//                       poll; one iteration is ioctl(2) then poll(2) until POLLIN - one ioctl round
//                       trip plus one poll wake-up, the kernel crossings of the null job (SUBMIT,
//                       then a WAIT answered from the engine thread). When the poll arrives before
//                       the notifier has run, the daemon answers 0 and keeps the handle, the
//                       client sleeps, and the notification brings a second FUSE_POLL (answered
//                       POLLIN); counters poll_reqs and parked say how often. Same CPU counters.
//   Each runs three ways, as fence_wake: unpinned, "/one_cpu" (the client and every other thread,
//   the server's included, on one CPU: each hand-off a context switch) and "/two_cpus" (the
//   client on one CPU, every other thread on a second: each hand-off a cross-CPU wake-up).
//   Targets: null_job/mock <= 3x condvar_pingpong, null_job/fuse <= 1.3x fuse_ioctl_poll (each
//   placement against the same placement).
//   null_job/mock/timed (and /one_cpu): WAIT with a deadline 10 s away instead of INT64_MAX (DRM's
//                       "for ever", which the null job uses): the parked request also joins the
//                       deadline timer.
//   null_job_throughput/N : N = 1, 2, 4 client threads, each with its own descriptor (its own
//                       entity on COMPUTE0's scheduler), running null jobs back to back on the
//                       mock. Time per iteration: wall time per job of all threads;
//                       items_per_second: jobs/s; the CPU column and counter cpu_us_per_job: this
//                       process's CPU per job (clients, engine thread, scheduler worker: the
//                       scheduler's CPU cost per job), client_cpu_us_per_job: the clients' share.
// The FUSE servers are this program re-executed in a server mode, started by the first benchmark
// that needs them (a filter that selects none starts none; likewise the vdnn GEMM benchmarks set
// up their memory only when they run). Without /dev/fuse the FUSE benchmarks are skipped.
//
// Every benchmark runs 9 times by default (--benchmark_repetitions=N to change it), the
// repetitions of all benchmarks interleaved at random, so that both sides of a ratio see the same
// machine; after gbench's output come each benchmark's median and spread, each registered ratio
// as the median of the per-repetition ratios with its quartiles and extremes, the counters above
// with their spread, and the throughput gained with 2 and 4 clients (on stdout in console
// format, on stderr with json or csv, so that --benchmark_format=json prints JSON only on stdout).
//
// New benchmarks register here: BENCHMARK(fn) as usual, and for a ratio against a baseline
// `ACCEL_EXEC_RATIO("subject", "baseline", target)` (or accel::bench::register_ratio); main()
// prints the spread of every benchmark that ran and every registered ratio whose two sides ran.
#include "ratio_reporter.hpp"
#include "thread_placement.hpp"
#include "null_job_client.hpp"
#include "vdnn_driver.hpp"
#include "vdnn_gemm_bench.hpp"
#if EXEC_LATENCY_WITH_FUSE
#include "exec_fuse_servers.hpp"
#include <accel/backend/syscall.hpp>
#endif

#include <accel/accel.hpp>
#include <accel/backend/mock.hpp>
#include <accel/exec/fence.hpp>

#include <benchmark/benchmark.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace accel::bench {

/// A ratio the summary prints: `subject` / `baseline` (benchmark names as the reporter keys
/// them), judged against `goal` when there is one.
struct comparison {
    std::string subject, baseline;
    std::optional<target> goal;
};

inline std::vector<comparison>& comparisons() {
    static std::vector<comparison> all;
    return all;
}

inline bool register_ratio(std::string subject, std::string baseline, std::optional<target> goal = {}) {
    comparisons().push_back({std::move(subject), std::move(baseline), goal});
    return true;
}

} // namespace accel::bench

#define ACCEL_EXEC_CAT2(a, b) a##b
#define ACCEL_EXEC_CAT(a, b) ACCEL_EXEC_CAT2(a, b)
/// Registers the ratio subject / baseline (and its target, if given) for the summary.
#define ACCEL_EXEC_RATIO(...) \
    [[maybe_unused]] static const bool ACCEL_EXEC_CAT(accel_exec_ratio_, __LINE__) = accel::bench::register_ratio(__VA_ARGS__)

namespace {

using namespace std::chrono_literals;
using accel::bench::allowed_cpus;
using accel::bench::pin_to;
using accel::bench::placement;
using accel::bench::thread_placement;
using accel::bench::mock_device;
using accel::bench::null_job_client;
using accel::bench::process_cpu_ns;
using accel::bench::thread_cpu_ns;
using accel::bench::wait_deadline;

/// A one-shot event on an accel::fence: signal() once, wait() blocks in fence::wait.
class fence_event {
public:
    fence_event() : f_(accel::make_fence(context(), 1)) {}
    void signal() { f_->signal(); }
    void wait() { f_->wait(-1ns); }

private:
    static std::uint64_t context() {
        static const std::uint64_t c = accel::fence_context_alloc();
        return c;
    }
    accel::fence_ptr f_;
};

/// The same with a mutex, a condition variable and a flag (one allocation, as make_fence).
class condvar_event {
public:
    condvar_event() : s_(std::make_unique<state>()) {}
    void signal() {
        std::lock_guard lock(s_->m);
        s_->done = true;
        s_->cv.notify_one();
    }
    void wait() {
        std::unique_lock lock(s_->m);
        s_->cv.wait(lock, [&] { return s_->done; });
    }

private:
    struct state {
        std::mutex m;
        std::condition_variable cv;
        bool done = false;
    };
    std::unique_ptr<state> s_;
};

/// One round of the ping-pong; `next` and `stop` are written before `ping` is signalled.
template <class Event>
struct round {
    Event ping, pong;
    std::shared_ptr<round> next;
    bool stop = false;
};

template <class Event>
void ping_pong(benchmark::State& state, placement where) {
    using round_t = round<Event>;
    const std::vector<int> cpus = allowed_cpus(2);
    if (where == placement::two_cpus && cpus.size() < 2) {
        state.SkipWithError("needs two CPUs");
        return;
    }
    int main_cpu = -1, partner_cpu = -1;
    if (where != placement::any_cpu) {
        main_cpu = cpus.at(0);
        partner_cpu = where == placement::one_cpu ? cpus.at(0) : cpus.at(1);
    }
    cpu_set_t saved;
    pthread_getaffinity_np(pthread_self(), sizeof saved, &saved);
    if (main_cpu >= 0)
        pin_to(main_cpu);

    auto cur = std::make_shared<round_t>();
    std::thread partner([r = cur, partner_cpu]() mutable {
        if (partner_cpu >= 0)
            pin_to(partner_cpu);
        for (;;) {
            r->ping.wait();
            if (r->stop)
                return;
            std::shared_ptr<round_t> next = r->next;
            r->pong.signal();
            r = std::move(next);
        }
    });
    for (auto _ : state) {
        auto next = std::make_shared<round_t>();
        cur->next = next;
        cur->ping.signal();
        cur->pong.wait();
        cur = std::move(next);
    }
    cur->stop = true;
    cur->ping.signal();
    partner.join();
    pthread_setaffinity_np(pthread_self(), sizeof saved, &saved);
    state.counters["wakeups"] = benchmark::Counter(2.0 * static_cast<double>(state.iterations()));
}

/// Registers "<subject><suffix>" and "<baseline><suffix>" for one placement, and their ratio.
bool register_pair(const char* suffix, placement where) {
    const std::string subject = std::string("fence_wake") + suffix, baseline = std::string("condvar_handoff") + suffix;
    benchmark::RegisterBenchmark(subject.c_str(), ping_pong<fence_event>, where)
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(baseline.c_str(), ping_pong<condvar_event>, where)
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
    return accel::bench::register_ratio(subject, baseline, accel::bench::target{2.0});
}

[[maybe_unused]] const bool registered = register_pair("", placement::any_cpu) &&
                                         register_pair("/one_cpu", placement::one_cpu) &&
                                         register_pair("/two_cpus", placement::two_cpus);

// ---- the null job and its baselines --------------------------------------------------------------

/// condvar_pingpong: the floor of a round trip to another thread and back, shaped like the null
/// job's (client -> engine thread -> client): a persistent "engine" thread sleeps on a condition
/// variable; the client bumps a request count under the mutex, notifies after unlocking (as
/// sim_engine::submit does), and sleeps until the engine has copied the count into its answer
/// and notified back the same way. One iteration: two wake-ups of a sleeping thread. Counter
/// cpu_us_per_job: this process's CPU per round trip, as the null job's.
void condvar_pingpong(benchmark::State& state, placement where) {
    std::mutex m;
    std::condition_variable to_engine, to_client;
    std::uint64_t request = 0, answer = 0;
    bool stop = false;
    std::thread engine([&] {
        std::unique_lock lock(m);
        for (;;) {
            to_engine.wait(lock, [&] { return stop || request != answer; });
            if (stop)
                return;
            answer = request;
            lock.unlock();
            to_client.notify_one();
            lock.lock();
        }
    });
    {
        thread_placement placed(where);
        if (!placed.error().empty()) {
            state.SkipWithError(placed.error().c_str());
        } else {
            const std::int64_t cpu0 = process_cpu_ns();
            for (auto _ : state) {
                std::unique_lock lock(m);
                const std::uint64_t mine = ++request;
                lock.unlock();
                to_engine.notify_one();
                lock.lock();
                to_client.wait(lock, [&] { return answer == mine; });
            }
            const std::int64_t cpu1 = process_cpu_ns();
            // The null job's counter (and only it: gbench's CSV wants the same counters per run).
            state.counters["cpu_us_per_job"] =
                benchmark::Counter(static_cast<double>(cpu1 - cpu0) / 1e3 / static_cast<double>(state.iterations()));
        }
    }
    {
        std::lock_guard lock(m);
        stop = true;
    }
    to_engine.notify_one();
    engine.join();
}

std::mutex mock_mutex;
std::unique_ptr<mock_device> mock_instance;

mock_device& shared_mock() {
    std::lock_guard lock(mock_mutex);
    if (!mock_instance)
        mock_instance = std::make_unique<mock_device>();
    return *mock_instance;
}

/// The null job on the mock: the benchmark thread is the client; SUBMIT runs the scheduler's
/// fast path (run_job on the calling thread hands the job to the simulated engine's thread),
/// WAIT parks the request on the finished fence and the calling thread sleeps until the engine
/// thread signals the hardware fence, whose callback signals the finished fence, which answers
/// the parked WAIT. Counter cpu_us_per_job: this process's CPU per job (client, engine thread,
/// scheduler worker, all together).
void null_job_mock(benchmark::State& state, placement where, wait_deadline deadline) {
    mock_device& md = shared_mock();
    if (!md.error.empty()) {
        state.SkipWithError(md.error.c_str());
        return;
    }
    null_job_client<accel::backend::mock> c(*md.m, md.node);
    if (!c.error().empty()) {
        state.SkipWithError(c.error().c_str());
        return;
    }
    (void)c.run_one(deadline); // the first job allocates what later ones reuse
    thread_placement placed(where);
    if (!placed.error().empty()) {
        state.SkipWithError(placed.error().c_str());
        return;
    }
    int failed = 0;
    const std::int64_t cpu0 = process_cpu_ns();
    for (auto _ : state)
        failed |= c.run_one(deadline);
    const std::int64_t cpu1 = process_cpu_ns();
    if (failed) {
        state.SkipWithError("a null job failed");
        return;
    }
    state.counters["cpu_us_per_job"] =
        benchmark::Counter(static_cast<double>(cpu1 - cpu0) / 1e3 / static_cast<double>(state.iterations()));
}

/// null_job_throughput/N: N client threads (gbench's), each with its own descriptor (its own
/// entity on COMPUTE0's scheduler) running null jobs back to back on the shared mock device.
/// Real time per iteration is wall time per job of all threads; items_per_second is jobs/s; the
/// CPU column is this process's CPU per job (MeasureProcessCPUTime), also given as counter
/// cpu_us_per_job, of which client_cpu_us_per_job is the submitting threads' own share (SUBMIT,
/// the scheduler's fast path, parking the WAIT); the rest is the engine thread, the scheduler's
/// worker (queued jobs, frees) and the answers to parked WAITs.
void null_job_throughput(benchmark::State& state) {
    mock_device& md = shared_mock();
    if (!md.error.empty()) {
        state.SkipWithError(md.error.c_str());
        return;
    }
    null_job_client<accel::backend::mock> c(*md.m, md.node);
    if (!c.error().empty()) {
        state.SkipWithError(c.error().c_str());
        return;
    }
    (void)c.run_one();
    int failed = 0;
    const std::int64_t cpu0 = state.thread_index() == 0 ? process_cpu_ns() : 0, own0 = thread_cpu_ns();
    for (auto _ : state)
        failed |= c.run_one();
    const std::int64_t cpu1 = state.thread_index() == 0 ? process_cpu_ns() : 0, own1 = thread_cpu_ns();
    if (failed) {
        state.SkipWithError("a null job failed");
        return;
    }
    const double jobs = static_cast<double>(state.iterations()) * state.threads();
    state.SetItemsProcessed(state.iterations());
    // Counters are summed over the threads: each gives its share of the per-job figure.
    state.counters["client_cpu_us_per_job"] = benchmark::Counter(static_cast<double>(own1 - own0) / 1e3 / jobs);
    if (state.thread_index() == 0)
        state.counters["cpu_us_per_job"] = benchmark::Counter(static_cast<double>(cpu1 - cpu0) / 1e3 / jobs);
}

constexpr int throughput_clients[] = {1, 2, 4};

#if EXEC_LATENCY_WITH_FUSE
namespace srv = accel::bench::exec_servers;

/// Where the server children mount (a temporary directory made on first use, removed by main).
std::string& temp_base() {
    static std::string dir = srv::make_temp_base("accel-exec-latency");
    return dir;
}
srv::server vdnn_server{"vdnn", "accel/accel0"};
srv::server bare_server{"bare_poll", srv::bare_file_name};

/// Counters of a FUSE benchmark, per round trip: the CPU time of this process (client_cpu_us:
/// the client, as the other threads of the process idle meanwhile) and of the server process
/// (srv_cpu_us, its CPU-time clock: every thread, loop workers and engines), and their sum
/// (cpu_us).
struct fuse_cpu {
    pid_t server;
    std::int64_t client0 = process_cpu_ns();
    double server0 = srv::process_cpu_seconds(server);
    void report(benchmark::State& state) const {
        const double n = static_cast<double>(state.iterations());
        const double client = static_cast<double>(process_cpu_ns() - client0) / 1e3 / n;
        const double s1 = srv::process_cpu_seconds(server);
        state.counters["client_cpu_us"] = client;
        if (server0 >= 0 && s1 >= 0) {
            const double server_us = (s1 - server0) * 1e6 / n;
            state.counters["srv_cpu_us"] = server_us;
            state.counters["cpu_us"] = client + server_us;
        }
    }
};

/// The null job through FUSE: the same client (accel::backend::syscall: ioctl(2) on
/// <mnt>/accel/accel0 of a forked accel::fuse::host serving vdnn). Two FUSE requests per job:
/// SUBMIT, answered by a loop worker after the fast path handed the job to the engine thread,
/// and WAIT, parked on the finished fence and answered (fuse_reply_ioctl) from the engine
/// thread's completion unless the job had already ended.
void null_job_fuse(benchmark::State& state, placement where) {
    if (const std::string& e = vdnn_server.ensure(temp_base()); !e.empty()) {
        state.SkipWithError(e.c_str());
        return;
    }
    accel::backend::syscall sys;
    null_job_client<accel::backend::syscall> c(sys, vdnn_server.node());
    if (!c.error().empty()) {
        state.SkipWithError(c.error().c_str());
        return;
    }
    (void)c.run_one(); // the first SUBMIT writes the command buffer back
    thread_placement placed(where, vdnn_server.pid());
    if (!placed.error().empty()) {
        state.SkipWithError(placed.error().c_str());
        return;
    }
    int failed = 0;
    fuse_cpu cpu{vdnn_server.pid()};
    for (auto _ : state)
        failed |= c.run_one();
    cpu.report(state);
    if (failed)
        state.SkipWithError("a null job failed");
}

/// fuse_ioctl_poll, the floor of null_job/fuse measured in the same run: against the bare
/// libfuse daemon (exec_fuse_servers.hpp), one iteration is
///   ioctl(2) of 64 bytes in and out (one FUSE_IOCTL request, answered by a loop worker, which
///   then hands a "completion" to the daemon's notifier thread), then poll(2) for POLLIN until
///   it comes: a FUSE_POLL request; if the notifier has not raised POLLIN yet the daemon keeps
///   the poll handle and answers 0, the client sleeps, the notifier wakes it
///   (fuse_lowlevel_notify_poll), and the kernel sends a second FUSE_POLL, answered POLLIN.
/// So: one ioctl round trip plus one poll wake-up, the kernel crossings of the null job (SUBMIT,
/// then a WAIT answered from the engine thread), with the daemon doing nothing else. Counters
/// poll_reqs and parked: FUSE_POLL requests per iteration, and the fraction of iterations whose
/// first poll found nothing (and slept until the notification).
void fuse_ioctl_poll(benchmark::State& state, placement where) {
    if (const std::string& e = bare_server.ensure(temp_base()); !e.empty()) {
        state.SkipWithError(e.c_str());
        return;
    }
    const int fd = ::open(bare_server.node().c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        state.SkipWithError(("open " + bare_server.node() + ": " + std::strerror(errno)).c_str());
        return;
    }
    srv::bump_arg arg{};
    arg.words[1] = 1;
    srv::poll_stats before{}, after{};
    int failed = ::ioctl(fd, BENCH_BARE_IOCTL_STATS, &before);
    {
        thread_placement placed(where, bare_server.pid());
        if (!placed.error().empty()) {
            ::close(fd);
            state.SkipWithError(placed.error().c_str());
            return;
        }
        fuse_cpu cpu{bare_server.pid()};
        for (auto _ : state) {
            failed |= ::ioctl(fd, BENCH_BARE_IOCTL_BUMP, &arg);
            for (;;) {
                pollfd p{fd, POLLIN, 0};
                const int r = ::poll(&p, 1, -1);
                if (r > 0 && (p.revents & POLLIN))
                    break;
                if (r < 0 && errno != EINTR) {
                    failed = -1;
                    break;
                }
            }
        }
        cpu.report(state);
    }
    failed |= ::ioctl(fd, BENCH_BARE_IOCTL_STATS, &after);
    ::close(fd);
    if (failed) {
        state.SkipWithError("an ioctl or a poll failed");
        return;
    }
    if (arg.words[0] != static_cast<__u64>(state.iterations())) {
        state.SkipWithError("the ioctl handler did not run once per iteration");
        return;
    }
    const double n = static_cast<double>(state.iterations());
    state.counters["poll_reqs"] = static_cast<double>(after.polls - before.polls) / n;
    state.counters["parked"] = static_cast<double>(after.polls_parked - before.polls_parked) / n;
}
#endif

/// The null job's benchmarks and baselines for one placement, and their ratios.
bool register_null_job(const char* suffix, placement where) {
    const std::string s = suffix;
    benchmark::RegisterBenchmark(("condvar_pingpong" + s).c_str(), condvar_pingpong, where)
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(("null_job/mock" + s).c_str(), null_job_mock, where, wait_deadline::none)
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
    accel::bench::register_ratio("null_job/mock" + s, "condvar_pingpong" + s, accel::bench::target{3.0});
#if EXEC_LATENCY_WITH_FUSE
    benchmark::RegisterBenchmark(("fuse_ioctl_poll" + s).c_str(), fuse_ioctl_poll, where)
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(("null_job/fuse" + s).c_str(), null_job_fuse, where)
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
    accel::bench::register_ratio("null_job/fuse" + s, "fuse_ioctl_poll" + s, accel::bench::target{1.3});
#endif
    return true;
}

[[maybe_unused]] const bool null_job_registered = [] {
    register_null_job("", placement::any_cpu);
    register_null_job("/one_cpu", placement::one_cpu);
    register_null_job("/two_cpus", placement::two_cpus);
    // A WAIT with a deadline: the same job, the parked request also on the deadline timer.
    benchmark::RegisterBenchmark("null_job/mock/timed", null_job_mock, placement::any_cpu, wait_deadline::ten_seconds)
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark("null_job/mock/timed/one_cpu", null_job_mock, placement::one_cpu,
                                 wait_deadline::ten_seconds)
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
    for (int n : throughput_clients)
        benchmark::RegisterBenchmark(("null_job_throughput/" + std::to_string(n)).c_str(), null_job_throughput)
            ->Threads(n)
            ->UseRealTime()
            ->MeasureProcessCPUTime()
            ->Unit(benchmark::kMicrosecond);
    return true;
}();


} // namespace

int main(int argc, char** argv) {
#if EXEC_LATENCY_WITH_FUSE
    if (const int rc = accel::bench::exec_servers::server_main(argc, argv); rc >= 0)
        return rc; // this process was one of the benchmark's FUSE servers
#endif
    accel::bench::sample_reporter reporter;
    if (!accel::bench::initialize(argc, argv, reporter, 9, benchmark::PrintDefaultHelp,
                                  {"--benchmark_enable_random_interleaving=true"}))
        return 1;
    vdnn::bench::register_vdnn_gemm_benchmarks();
    for (const char* type : {"int8", "fp32"})
        for (int n : vdnn::bench::gemm_sizes) {
            const std::string base = std::string("vdnn_gemm/") + type + "/" + std::to_string(n) + "/";
            accel::bench::register_ratio(base + "mmu", base + "plain", accel::bench::target{1.5});
            accel::bench::register_ratio(base + "mmu_contig", base + "plain", accel::bench::target{1.5});
        }
    accel::bench::run(reporter);
    bool clean = true;
#if EXEC_LATENCY_WITH_FUSE
    const bool vdnn_clean = vdnn_server.stop(), bare_clean = bare_server.stop(); // both, whatever the first says
    clean = vdnn_clean && bare_clean;
    if (!temp_base().empty())
        ::rmdir(temp_base().c_str());
#endif
    mock_instance.reset();
    if (!clean)
        std::fprintf(stderr, "exec_latency: a FUSE server did not stop cleanly\n");
    if (reporter.runs.empty())
        return 0; // everything filtered out or skipped
    // The shared table's label column is 20 wide; these names are longer, so the same columns
    // with a wider label.
    std::FILE* out = reporter.summary_stream();
    std::fprintf(out, "\n%-28s%10s%10s%10s%10s%10s\n", "time per iteration", "median", "min", "max", "q1", "q3");
    for (const auto& [key, runs] : reporter.runs) {
        std::string label = key.name;
        if (key.threads != 1)
            label += "/threads:" + std::to_string(key.threads);
        const accel::bench::spread s = reporter.stats(key);
        std::fprintf(out, "%-28s%10.2f%10.2f%10.2f%10.2f%10.2f   (n=%zu)\n", label.c_str(), s.median, s.min, s.max,
                     s.q1, s.q3, s.n);
    }
    std::fprintf(out, "(in each benchmark's time unit; ratios: median of per-repetition ratios)\n\n");
    for (const accel::bench::comparison& c : accel::bench::comparisons()) {
        const std::string label = c.subject + " / " + c.baseline;
        accel::bench::print_ratio(out, label.c_str(), reporter.ratio(c.subject, c.baseline), c.goal);
    }
    // Counters worth a spread: throughput, CPU per job or round trip, how the poll went.
    bool header = false;
    for (const auto& [key, runs] : reporter.runs)
        for (const char* counter : {"items_per_second", "cpu_us_per_job", "client_cpu_us_per_job", "cpu_us", "client_cpu_us",
                                    "srv_cpu_us", "poll_reqs", "parked"}) {
            const accel::bench::spread s = reporter.stats(key, accel::bench::sample_reporter::counter(counter));
            if (s.n == 0)
                continue;
            if (!std::exchange(header, true))
                std::fprintf(out, "\n%-56s%11s%11s%11s%11s%11s\n", "counters", "median", "min", "max", "q1", "q3");
            std::string label = key.name;
            if (key.threads != 1)
                label += "/threads:" + std::to_string(key.threads);
            label += std::string(" ") + counter;
            std::fprintf(out, "%-56s%11.3f%11.3f%11.3f%11.3f%11.3f   (n=%zu)\n", label.c_str(), s.median, s.min, s.max, s.q1, s.q3,
                         s.n);
        }
    // Throughput gained by more clients: real time per job of one client / of N clients.
    using key_t = accel::bench::sample_reporter::key;
    const key_t one{"null_job_throughput/1", 1};
    if (header)
        std::fprintf(out, "\n");
    for (int n : throughput_clients)
        if (n > 1) {
            const std::string label = "null_job_throughput " + std::to_string(n) + " / 1 clients (jobs/s)";
            accel::bench::print_ratio(out, label.c_str(),
                                      reporter.ratio(one, key_t{"null_job_throughput/" + std::to_string(n), n}));
        }
    return 0;
}

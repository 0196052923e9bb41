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
//
// Target: fence_wake <= 2x condvar_handoff. Every benchmark runs 9 times by default
// (--benchmark_repetitions=N to change it), the repetitions of all benchmarks interleaved at
// random, so that both sides of a ratio see the same machine; after gbench's output come each
// benchmark's median and spread, and each registered ratio as the median of the per-repetition
// ratios with its quartiles and extremes (on stdout in console format, on stderr with json or
// csv, so that --benchmark_format=json prints JSON only on stdout).
//
// New benchmarks register here: BENCHMARK(fn) as usual, and for a ratio against a baseline
// `ACCEL_EXEC_RATIO("subject", "baseline", target)` (or accel::bench::register_ratio); main()
// prints the spread of every benchmark that ran and every registered ratio whose two sides ran.
#include "ratio_reporter.hpp"
#include "vdnn_gemm_bench.hpp"

#include <accel/exec/fence.hpp>

#include <benchmark/benchmark.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <pthread.h>
#include <sched.h>

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

/// Where the two threads of a ping-pong run: where the scheduler puts them, both on one CPU
/// (each hand-off is a context switch there), or one on each of two CPUs (each hand-off wakes
/// the other CPU).
enum class placement { any_cpu, one_cpu, two_cpus };

/// The first `n` CPUs this process may run on (fewer if it has fewer).
std::vector<int> allowed_cpus(std::size_t n) {
    cpu_set_t set;
    std::vector<int> cpus;
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return cpus;
    for (int c = 0; c < CPU_SETSIZE && cpus.size() < n; ++c)
        if (CPU_ISSET(c, &set))
            cpus.push_back(c);
    return cpus;
}

void pin_to(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

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

} // namespace

int main(int argc, char** argv) {
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
    return 0;
}

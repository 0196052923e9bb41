// SPDX-License-Identifier: MIT
// bench/sharing: the costs of the sharing layer (issue 12). Benchmark names begin with the
// prefixes outside checks look for (prime_cycle/mock, bo_cycle/mock, syncfile_poll_wake/fuse,
// fuse_poll_notify, prime_export/fuse, fuse_ioctl, lock/); each group has its own section or
// header, and main() prints each group's ratios against its baseline from the same run (on
// stdout in console format, on stderr with --benchmark_format=json or csv, so that stdout is
// JSON or CSV only).
//
// prime_cycle/mock, bo_cycle/mock : sharing_prime.hpp (PRIME on the mock: export + import +
//         attach + map + unmap + detach per iteration, against BO create + close). Ratios
//         printed: prime_cycle/mock/<size> and prime_cycle/mock_api/<size> over bo_cycle/mock/<size>.
//
// Through FUSE: sharing_fuse.hpp (its servers are this program re-executed in a server mode,
// fuse_servers.hpp; without the FUSE host target or /dev/fuse these are not built or skipped):
//   syncfile_poll_wake/fuse/<placement> against fuse_poll_notify/<placement> (target <= 1.3x),
//   prime_export/fuse/{fresh,same}/<placement> against fuse_ioctl/bare/<placement> (target
//   <= 2.5x) and fuse_ioctl/accel/<placement>; placement one_cpu or two_cpus.
//
// lock/ : multi-object locking of N = 2, 16 and 128 buffers, each with its own dma_resv, through
//         the drm_exec loop (exec/drm_exec.hpp: ww_mutex wait-die, -EDEADLK and back off). One
//         iteration locks the thread's set and unlocks it again (drm_exec init .. fini).
//   lock/uncontended/N                : one thread, its N buffers in a shuffled order.
//   lock/contended/N (threads:4)      : four threads on a pool of 2N buffers, thread t locking the
//                                       N from t*N/2 on (each buffer is in two threads' sets: for
//                                       N = 2 the sets form a ring), each in its own shuffled
//                                       order, so contexts meet in opposite orders and back off.
//                                       Time: wall time per set locked and unlocked, per thread;
//                                       counter backoffs: the loop's extra passes per set.
//   lock/baseline_mutex/uncontended/N and lock/baseline_mutex/contended/N (threads:4): the same
//                                       sets as plain std::mutexes taken in address order (the
//                                       classic deadlock-free order, which needs the whole set
//                                       known and sorted up front: drm_exec does not).
//   Ratios printed: lock/<contention>/N over its baseline.
//
// Every benchmark runs 5 times by default (--benchmark_repetitions=N to change it), the
// repetitions of all benchmarks interleaved at random (so that both sides of a ratio see the
// same machine, and a pair of repetitions ran close together), each for 0.2 s of measured time
// (--benchmark_min_time: the FUSE benchmarks' untimed set-up would otherwise stretch the program
// past two minutes; 0.2 s is still thousands of round trips at 100 us); the summary gives each
// ratio as the median of the per-repetition ratios with its spread.
#include "ratio_reporter.hpp"
#include "sharing_prime.hpp"
#if SHARING_WITH_FUSE
#include "sharing_fuse.hpp"
#endif

#include <accel/exec/drm_exec.hpp>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <deque>
#include <functional>
#include <mutex>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace {

// ================================================================================================
// lock/: multi-object locking
// ================================================================================================

/// A buffer as the lock benchmarks see it: a reservation object (and, for the baseline, a plain
/// mutex in the same object, so both sides touch the same cache lines).
struct lock_buffer {
    accel::dma_resv reservation;
    std::mutex plain;
    accel::dma_resv& resv() noexcept { return reservation; }
};

constexpr int lock_threads = 4;

/// The pool of 2N buffers for sets of N (made once, on first use, thread-safely).
std::deque<lock_buffer>& lock_pool(unsigned n) {
    static std::deque<lock_buffer> p2(4), p16(32), p128(256);
    switch (n) {
    case 2: return p2;
    case 16: return p16;
    default: return p128;
    }
}

/// Thread `t`'s set of N buffers (from t*N/2 on, wrapping in the pool of 2N), shuffled by `t`.
std::vector<lock_buffer*> lock_set(unsigned n, int t, bool contended) {
    std::deque<lock_buffer>& pool = lock_pool(n);
    std::vector<lock_buffer*> set;
    const unsigned first = contended ? static_cast<unsigned>(t) * n / 2 : 0;
    for (unsigned i = 0; i < n; ++i)
        set.push_back(&pool[(first + i) % (2 * n)]);
    std::shuffle(set.begin(), set.end(), std::mt19937(static_cast<unsigned>(t) + 1));
    return set;
}

void lock_drm_exec(benchmark::State& state, bool contended) {
    const auto n = static_cast<unsigned>(state.range(0));
    const std::vector<lock_buffer*> set = lock_set(n, state.thread_index(), contended);
    long backoffs = 0;
    for (auto _ : state) {
        accel::drm_exec<lock_buffer> exec(accel::drm_exec_flags::none, n);
        int passes = 0;
        const int r = exec.lock_all([&](accel::drm_exec<lock_buffer>& e) {
            ++passes;
            for (lock_buffer* b : set)
                if (int err = e.lock_obj(*b))
                    return err;
            return 0;
        });
        if (r != 0 || exec.num_objects() != n) {
            state.SkipWithError("drm_exec did not lock the whole set");
            break;
        }
        backoffs += passes - 1;
        exec.fini();
    }
    state.counters["backoffs"] = benchmark::Counter(static_cast<double>(backoffs), benchmark::Counter::kAvgIterations);
    state.SetItemsProcessed(state.iterations());
}

void lock_baseline_mutex(benchmark::State& state, bool contended) {
    const auto n = static_cast<unsigned>(state.range(0));
    std::vector<lock_buffer*> set = lock_set(n, state.thread_index(), contended);
    std::sort(set.begin(), set.end(), std::less<lock_buffer*>()); // address order
    for (auto _ : state) {
        for (lock_buffer* b : set)
            b->plain.lock();
        for (auto it = set.rbegin(); it != set.rend(); ++it)
            (*it)->plain.unlock();
    }
    state.SetItemsProcessed(state.iterations());
}

void lock_sizes(benchmark::internal::Benchmark* b) {
    b->Arg(2)->Arg(16)->Arg(128);
}

BENCHMARK_CAPTURE(lock_drm_exec, uncontended, false)->Name("lock/uncontended")->Apply(lock_sizes);
BENCHMARK_CAPTURE(lock_baseline_mutex, uncontended, false)->Name("lock/baseline_mutex/uncontended")->Apply(lock_sizes);
BENCHMARK_CAPTURE(lock_drm_exec, contended, true)
    ->Name("lock/contended")
    ->Apply(lock_sizes)
    ->Threads(lock_threads)
    ->UseRealTime();
BENCHMARK_CAPTURE(lock_baseline_mutex, contended, true)
    ->Name("lock/baseline_mutex/contended")
    ->Apply(lock_sizes)
    ->Threads(lock_threads)
    ->UseRealTime();

void print_lock_summary(const accel::bench::sample_reporter& reporter) {
    using key = accel::bench::sample_reporter::key;
    std::FILE* out = reporter.summary_stream();
    bool header = false;
    for (const char* contention : {"uncontended", "contended"}) {
        const int threads = std::string(contention) == "contended" ? lock_threads : 1;
        for (int n : {2, 16, 128}) {
            const std::string subject = std::string("lock/") + contention + "/" + std::to_string(n);
            const std::string base = std::string("lock/baseline_mutex/") + contention + "/" + std::to_string(n);
            const accel::bench::spread r = reporter.ratio(key{subject, threads}, key{base, threads});
            if (r.median <= 0)
                continue;
            if (!header) {
                std::fprintf(out, "\nlock/: drm_exec over dma_resv against std::mutex in address order (time ratio)\n");
                header = true;
            }
            const std::string label = std::string(contention) + "/" + std::to_string(n);
            accel::bench::print_ratio(out, label.c_str(), r);
        }
    }
}

void print_prime_summary(const accel::bench::sample_reporter& reporter) {
    std::FILE* out = reporter.summary_stream();
    bool header = false;
    for (const char* subject : {"prime_cycle/mock", "prime_cycle/mock_api"})
        for (const char* size : {"4096", "1048576"}) {
            const std::string s = std::string(subject) + "/" + size, b = std::string("bo_cycle/mock/") + size;
            const accel::bench::spread r = reporter.ratio(s, b);
            if (r.median <= 0)
                continue;
            if (!std::exchange(header, true))
                std::fprintf(out, "\nPRIME on the mock: a sharing cycle against a BO create + close (time ratio)\n");
            const std::string label = s + " / " + b;
            accel::bench::print_ratio(out, label.c_str(), r);
        }
}

#if SHARING_WITH_FUSE
[[maybe_unused]] const bool fuse_registered = accel::bench_sharing::register_fuse_benchmarks();
#endif

} // namespace

int main(int argc, char** argv) {
#if SHARING_WITH_FUSE
    if (const int rc = accel::bench_sharing::server_main(argc, argv); rc >= 0)
        return rc; // this process was one of the benchmark's FUSE servers
#endif
    accel::bench::sample_reporter reporter;
    if (!accel::bench::initialize(argc, argv, reporter, 5, benchmark::PrintDefaultHelp,
                                  {"--benchmark_enable_random_interleaving=true", "--benchmark_min_time=0.2"}))
        return 1;
    accel::bench::run(reporter);
    int rc = 0;
#if SHARING_WITH_FUSE
    if (!accel::bench_sharing::stop_servers()) {
        std::fprintf(stderr, "sharing: a FUSE server did not stop cleanly\n");
        rc = 1;
    }
#endif
    print_prime_summary(reporter);
#if SHARING_WITH_FUSE
    accel::bench_sharing::print_fuse_summary(reporter);
#endif
    print_lock_summary(reporter);
    return rc;
}

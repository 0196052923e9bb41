// SPDX-License-Identifier: MIT
// bench/mm_policies: every range-manager policy replaying the same allocation workloads.
//
// Benchmarks are named replay/<policy>/<workload>. One iteration is one whole replay of the
// workload into a fresh, initialised policy (construction, init and the final cleanup are not
// timed: manual timing around the replay loop alone). Workloads are the allocation traces and
// synthetic generators (bench/mm_trace.hpp), all parsed or generated before any benchmark runs.
//
// Counters (all per replay; the replays are deterministic, so only times vary between iterations):
//   ns_per_op             timed replay time (wall clock) / operations (allocations and frees)
//   cpu_ns_per_op         the same with the thread's CPU time: steadier on a shared machine
//   failed_allocs         allocations that returned an error
//   peak_bytes            most bytes held by live allocations (node sizes, so granule rounding counts)
//   frag_end              stats().fragmentation after the last operation, before cleanup
//   p50_ns p99_ns p999_ns max_ns
//                         per-operation latency from a separate, untimed-by-gbench pass that reads
//                         the TSC (rdtscp; clock_gettime(CLOCK_MONOTONIC) off x86) around every
//                         operation; the cost of an empty measurement is subtracted
//   meta_bytes_per_alloc  metadata per live allocation over the replay: at ~256 samples taken evenly
//                         through that pass, the sum of stats().metadata_bytes over the sum of live
//                         allocations. A ratio of sums, not a mean of ratios: the mean would be ruled
//                         by the first samples, where a handful of allocations share the fixed cost
//                         of an empty manager (a pool chunk, the bin heads).
//   large_served large_attempts
//                         (workloads with first_large_id, i.e. fill_drain) large requests that
//                         succeeded, out of how many; 0 and 0 elsewhere: every run has the same
//                         counters, which gbench's CSV reporter requires (it aborts otherwise)
// After gbench's own output, a comparison table with each policy's ratios to naive's figures in
// the same run: on stdout in console format, on stderr with --benchmark_format=json or csv, so
// standard output is always in the format asked for (JSON also via --benchmark_out=FILE
// --benchmark_out_format=json).
//
// Program flags, besides gbench's:
//   --trace=FILE (or --trace FILE), repeatable: replay these traces instead of the default four
//   --synthetic=0|1   run the synthetic workloads (default 1)
//   --syn_ops=N       operations per synthetic workload (default 150000)
//   --replays=N       timed replays per benchmark (default: enough for ~1M operations, 2..50)
//   --table=0|1       print the comparison table (default 1)
// Default traces (gpu_mixed, small_uniform, pow2, fill_drain): $ACCEL_TRACE_DIR if set, else
// the ones bench/mm_tracegen generates at build time from ACCEL_TRACE_SEED into
// <build>/bench/traces (ACCEL_DEFAULT_TRACE_DIR); a missing trace is skipped with a message.
#include "mm_trace.hpp"
#include "ratio_reporter.hpp"

#include <accel/mm/range.hpp>
#include <accel/mm/range_manager.hpp>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define ACCEL_BENCH_TSC 1
#endif

namespace {

using accel::bench::trace_op;
using accel::bench::u64;
using accel::bench::workload;

// ---- policy registry -----------------------------------------------------------------------

/// What the program runs for one policy: a function registering its benchmark for a workload.
struct policy_entry {
    std::string name;
    void (*add)(const std::string& policy, const workload& w, int replays);
};

std::vector<policy_entry>& policy_registry() {
    static std::vector<policy_entry> r;
    return r;
}

template <accel::mm::range_manager M>
void add_replay_benchmark(const std::string& policy, const workload& w, int replays);

template <accel::mm::range_manager M>
bool register_policy(const char* name) {
    policy_registry().push_back({name, &add_replay_benchmark<M>});
    return true;
}

#define ACCEL_MM_BENCH_CAT2(a, b) a##b
#define ACCEL_MM_BENCH_CAT(a, b) ACCEL_MM_BENCH_CAT2(a, b)
/// Registers a policy (any type satisfying accel::mm::range_manager) under a short name, one line
/// each. Columns of the comparison table follow registration order; naive is the baseline.
#define ACCEL_MM_BENCH_POLICY(type, name)                                                                \
    [[maybe_unused]] const bool ACCEL_MM_BENCH_CAT(accel_mm_bench_policy_, __LINE__) = register_policy<type>(name)

} // namespace

// ---- the policies ----------------------------------------------------------------------------
// Adding one is one line after its include. A policy of your own is registered the same way:
//     #include "my_policy.hpp"
//     ACCEL_MM_BENCH_POLICY(my_ns::my_policy, "my_policy");
// A policy that also has `int init(u64 start, u64 size, u64 granule)` is given the workload's
// granule (the largest power of two dividing the space and every size; see mm_trace.hpp), the
// way a driver sizes a pool for what it stores; the benchmark's label then says which granule.

#include <accel/mm/range/naive.hpp>
ACCEL_MM_BENCH_POLICY(accel::mm::naive, "naive");
#if __has_include(<accel/mm/range/best_fit.hpp>)
#include <accel/mm/range/best_fit.hpp>
ACCEL_MM_BENCH_POLICY(accel::mm::best_fit, "best_fit");
#endif
#if __has_include(<accel/mm/range/buddy.hpp>)
#include <accel/mm/range/buddy.hpp>
ACCEL_MM_BENCH_POLICY(accel::mm::buddy, "buddy");
#endif
#if __has_include(<accel/mm/range/tlsf.hpp>)
#include <accel/mm/range/tlsf.hpp>
ACCEL_MM_BENCH_POLICY(accel::mm::tlsf, "tlsf");
#endif
// bitmap, registered the way a user's own policy would be:
#include <accel/mm/range/bitmap.hpp>
ACCEL_MM_BENCH_POLICY(accel::mm::bitmap, "bitmap");

namespace {

// ---- results collected for the comparison table -----------------------------------------------

struct result_row {
    std::string policy, workload;
    double ns_per_op = 0, cpu_ns_per_op = 0, p50 = 0, p99 = 0, p999 = 0, max = 0, meta_per_alloc = 0, frag_end = 0;
    u64 failed = 0, peak_bytes = 0, large_served = 0, large_attempts = 0;
    bool has_large = false;
};
std::vector<result_row>& results() {
    static std::vector<result_row> r;
    return r;
}

// ---- clocks ------------------------------------------------------------------------------------

inline u64 ticks() noexcept {
#ifdef ACCEL_BENCH_TSC
    unsigned aux;
    return __rdtscp(&aux); // waits for earlier instructions: the op is inside the window
#else
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<u64>(ts.tv_sec) * 1'000'000'000u + static_cast<u64>(ts.tv_nsec);
#endif
}

inline u64 thread_cpu_ns() noexcept {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<u64>(ts.tv_sec) * 1'000'000'000u + static_cast<u64>(ts.tv_nsec);
}

inline u64 mono_ns() noexcept {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<u64>(ts.tv_sec) * 1'000'000'000u + static_cast<u64>(ts.tv_nsec);
}

/// Cost of an empty measurement, in ticks: the minimum over many back-to-back reads.
u64 tick_overhead() {
    u64 best = ~u64{0};
    for (int i = 0; i < 2000; ++i) {
        u64 a = ticks();
        u64 b = ticks();
        best = std::min(best, b - a);
    }
    return best;
}

// ---- replay ------------------------------------------------------------------------------------

template <class M>
int init_policy(M& m, const workload& w) {
    if constexpr (requires { m.init(u64{}, u64{}, u64{}); })
        return m.init(0, w.space, w.granule);
    else
        return m.init(0, w.space);
}

inline accel::mm::alloc_request request_of(const trace_op& o) noexcept {
    accel::mm::alloc_request r;
    r.size = o.size;
    r.alignment = u64{1} << o.align_log2;
    return r; // anywhere in the space, placement::best
}

/// The timed loop: nothing but the policy's own work and a failure count.
template <class M>
[[gnu::noinline]] u64 replay(M& m, typename M::node* nodes, const trace_op* ops, std::size_t n) {
    u64 failed = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const trace_op& o = ops[i];
        typename M::node& nd = nodes[o.id];
        if (o.is_free) {
            if (nd.allocated()) // the allocation may have failed
                m.remove(nd);
        } else {
            failed += m.insert(nd, request_of(o)) != 0;
        }
    }
    return failed;
}

template <class M>
void cleanup(M& m, typename M::node* nodes, std::uint32_t ids) {
    for (std::uint32_t i = 0; i < ids; ++i)
        if (nodes[i].allocated())
            m.remove(nodes[i]);
}

struct latency_outcome {
    u64 failed = 0, peak_bytes = 0, large_served = 0;
    double p50 = 0, p99 = 0, p999 = 0, max = 0, meta_per_alloc = 0, frag_end = 0;
};

/// The separate per-operation pass: timestamps every op and keeps the bookkeeping the timed
/// loop leaves out. `lat` is preallocated to the op count.
template <class M>
int latency_pass(const workload& w, typename M::node* nodes, std::vector<u64>& lat, latency_outcome& out) {
    auto m = std::make_unique<M>();
    if (int e = init_policy(*m, w))
        return e;
    const u64 overhead = tick_overhead();
    const std::size_t n = w.ops.size();
    const std::size_t sample_every = std::max<std::size_t>(1, n / 256);
    u64 live = 0, live_bytes = 0;
    std::size_t measured = 0; // frees of failed allocations touch no policy: not measured
    double meta_sum = 0, live_sum = 0;
    const u64 ns0 = mono_ns(), t0 = ticks();
    for (std::size_t i = 0; i < n; ++i) {
        const trace_op& o = w.ops[i];
        typename M::node& nd = nodes[o.id];
        if (o.is_free) {
            if (!nd.allocated())
                continue;
            const u64 size = nd.size();
            const u64 a = ticks();
            m->remove(nd);
            const u64 b = ticks();
            lat[measured++] = b - a;
            --live;
            live_bytes -= size;
        } else {
            const auto req = request_of(o);
            const u64 a = ticks();
            const int r = m->insert(nd, req);
            const u64 b = ticks();
            lat[measured++] = b - a;
            if (r == 0) {
                ++live;
                live_bytes += nd.size();
                out.peak_bytes = std::max(out.peak_bytes, live_bytes);
                out.large_served += o.id >= w.first_large_id;
            } else {
                ++out.failed;
            }
        }
        if (i % sample_every == 0 && live > 0) {
            meta_sum += static_cast<double>(m->stats().metadata_bytes);
            live_sum += static_cast<double>(live);
        }
    }
    const u64 ns1 = mono_ns(), t1 = ticks();
    out.frag_end = m->stats().fragmentation;
    out.meta_per_alloc = live_sum > 0 ? meta_sum / live_sum : 0.0;
    cleanup(*m, nodes, w.ids);
    m.reset();

    const double ns_per_tick = t1 > t0 ? static_cast<double>(ns1 - ns0) / static_cast<double>(t1 - t0) : 1.0;
    if (measured == 0)
        return 0;
    const auto end = lat.begin() + static_cast<std::ptrdiff_t>(measured);
    for (auto it = lat.begin(); it != end; ++it)
        *it = *it > overhead ? *it - overhead : 0;
    auto pct = [&](double p) { // nearest rank
        const auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(measured)));
        const std::size_t k = std::min(measured - 1, rank - 1);
        std::nth_element(lat.begin(), lat.begin() + static_cast<std::ptrdiff_t>(k), end);
        return static_cast<double>(lat[k]) * ns_per_tick;
    };
    out.p50 = pct(0.50);
    out.p99 = pct(0.99);
    out.p999 = pct(0.999);
    out.max = static_cast<double>(*std::max_element(lat.begin(), end)) * ns_per_tick;
    return 0;
}

template <class M>
void replay_benchmark(benchmark::State& st, const workload* wp, std::string policy) {
    const workload& w = *wp;
    using node = typename M::node;
    std::unique_ptr<node[]> nodes(new node[w.ids]); // indexed by trace id, reused by every replay
    u64 failed = 0;
    double frag_end = 0;
    std::int64_t replay_ns = 0;
    u64 replay_cpu_ns = 0;
    for (auto _ : st) {
        auto m = std::make_unique<M>();
        if (int e = init_policy(*m, w)) {
            st.SkipWithError(("init failed: " + std::to_string(e)).c_str());
            break;
        }
        const u64 c0 = thread_cpu_ns();
        const auto t0 = std::chrono::steady_clock::now();
        failed = replay(*m, nodes.get(), w.ops.data(), w.ops.size());
        const auto t1 = std::chrono::steady_clock::now();
        replay_cpu_ns += thread_cpu_ns() - c0;
        const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count();
        replay_ns += ns;
        st.SetIterationTime(static_cast<double>(ns) * 1e-9);
        frag_end = m->stats().fragmentation;
        cleanup(*m, nodes.get(), w.ids);
    }
    if (st.error_occurred())
        return;

    std::vector<u64> lat(w.ops.size());
    latency_outcome lo;
    if (latency_pass<M>(w, nodes.get(), lat, lo) != 0 || lo.failed != failed) {
        st.SkipWithError("latency pass disagrees with the timed replay (a non-deterministic policy?)");
        return;
    }
    result_row row;
    row.policy = policy;
    row.workload = w.name;
    row.ns_per_op = static_cast<double>(replay_ns) / static_cast<double>(st.iterations()) /
                    static_cast<double>(std::max<std::size_t>(1, w.ops.size()));
    row.cpu_ns_per_op = static_cast<double>(replay_cpu_ns) / static_cast<double>(st.iterations()) /
                        static_cast<double>(std::max<std::size_t>(1, w.ops.size()));
    row.failed = failed;
    row.peak_bytes = lo.peak_bytes;
    row.frag_end = frag_end;
    row.p50 = lo.p50;
    row.p99 = lo.p99;
    row.p999 = lo.p999;
    row.max = lo.max;
    row.meta_per_alloc = lo.meta_per_alloc;
    row.has_large = w.first_large_id != accel::bench::no_large_id;
    row.large_served = lo.large_served;
    row.large_attempts = w.large_attempts;

    st.counters["ns_per_op"] = row.ns_per_op;
    st.counters["cpu_ns_per_op"] = row.cpu_ns_per_op;
    st.counters["failed_allocs"] = static_cast<double>(failed);
    st.counters["peak_bytes"] = static_cast<double>(lo.peak_bytes);
    st.counters["frag_end"] = frag_end;
    st.counters["p50_ns"] = lo.p50;
    st.counters["p99_ns"] = lo.p99;
    st.counters["p999_ns"] = lo.p999;
    st.counters["max_ns"] = lo.max;
    st.counters["meta_bytes_per_alloc"] = lo.meta_per_alloc;
    st.counters["large_served"] = static_cast<double>(lo.large_served);
    st.counters["large_attempts"] = static_cast<double>(row.has_large ? w.large_attempts : 0);
    if constexpr (requires(M& m) { m.init(u64{}, u64{}, u64{}); })
        st.SetLabel("granule=" + std::to_string(w.granule));
    results().push_back(std::move(row));
}

template <accel::mm::range_manager M>
void add_replay_benchmark(const std::string& policy, const workload& w, int replays) {
    std::string name = "replay/" + policy + "/" + w.name;
    auto* b = benchmark::RegisterBenchmark(name.c_str(), replay_benchmark<M>, &w, policy);
    b->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(replays);
}

// ---- command line and the comparison table ---------------------------------------------------

struct options {
    std::vector<std::string> traces;
    bool synthetic = true;
    std::size_t syn_ops = 150'000;
    int replays = 0;
    bool table = true;
};

bool parse_options(int& argc, char** argv, options& o) {
    int out = 1;
    for (int i = 1; i < argc; ++i) {
        auto value = [&](std::string_view flag, std::string& v) { return accel::bench::flag_value(argc, argv, i, flag, v); };
        std::string v;
        if (value("--trace", v))
            o.traces.push_back(v);
        else if (value("--synthetic", v))
            o.synthetic = v != "0" && v != "false";
        else if (value("--syn_ops", v))
            o.syn_ops = std::strtoull(v.c_str(), nullptr, 0);
        else if (value("--replays", v))
            o.replays = std::atoi(v.c_str());
        else if (value("--table", v))
            o.table = v != "0" && v != "false";
        else
            argv[out++] = argv[i];
    }
    argc = out;
    return true;
}

void print_help() {
    benchmark::PrintDefaultHelp();
    std::fprintf(stdout, "mm_policies flags:\n"
                         "  [--trace=FILE]...        replay these traces (gzip or plain) instead of the default four\n"
                         "  [--synthetic=0|1]        run the synthetic workloads (default 1)\n"
                         "  [--syn_ops=N]            operations per synthetic workload (default 150000)\n"
                         "  [--replays=N]            timed replays per benchmark (default: ~1M ops, 2..50)\n"
                         "  [--table=0|1]            print the comparison table (default 1)\n"
                         "  env ACCEL_TRACE_DIR      where the default traces are (default: those mm_tracegen wrote at build time)\n");
}

std::string default_trace_dir() {
    if (const char* e = std::getenv("ACCEL_TRACE_DIR"); e && *e)
        return e;
#ifdef ACCEL_DEFAULT_TRACE_DIR
    return ACCEL_DEFAULT_TRACE_DIR;
#else
    return {};
#endif
}

double median(std::vector<double> v) {
    if (v.empty())
        return 0;
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

void print_table(std::FILE* out, const std::vector<workload>& workloads) {
    if (results().empty())
        return;
    std::fprintf(out, "\nComparison: ratios are to naive in this run; times are medians over repetitions.\n"
                "Latencies come from a separate pass and include any preemption (a loaded machine inflates p999/max).\n"
                "meta B/al: metadata bytes per live allocation over the replay (sum over samples / sum of live).\n");
    for (const workload& w : workloads) {
        // One merged row per policy, in registration order.
        std::vector<result_row> rows;
        for (const policy_entry& p : policy_registry()) {
            std::vector<double> ns, cpu, p999;
            const result_row* any = nullptr;
            for (const result_row& r : results())
                if (r.workload == w.name && r.policy == p.name) {
                    ns.push_back(r.ns_per_op);
                    cpu.push_back(r.cpu_ns_per_op);
                    p999.push_back(r.p999);
                    any = &r;
                }
            if (!any)
                continue;
            result_row m = *any;
            m.ns_per_op = median(ns);
            m.cpu_ns_per_op = median(cpu);
            m.p999 = median(p999);
            rows.push_back(m);
        }
        if (rows.empty())
            continue;
        const result_row* base = nullptr;
        for (const result_row& r : rows)
            if (r.policy == "naive")
                base = &r;
        std::fprintf(out, "\n%s: %zu ops, %" PRIu64 " allocs, space %s, granule %" PRIu64, w.name.c_str(), w.ops.size(),
                    w.allocs, accel::bench::human_bytes(w.space).c_str(), w.granule);
        if (w.first_large_id != accel::bench::no_large_id)
            std::fprintf(out, ", large requests: %" PRIu64, w.large_attempts);
        std::fprintf(out, "\n  %-10s %9s %8s %9s %8s %8s %7s %9s %8s %11s %9s %7s\n", "policy", "ns/op", "x naive",
                    "cpu ns/op", "x naive", "failed", "large", "p999 ns", "x naive", "max ns", "meta B/al", "frag");
        for (const result_row& r : rows) {
            auto ratio = [&](double v, double b) {
                char buf[32] = "-";
                if (base && b > 0)
                    std::snprintf(buf, sizeof buf, "%.3f", v / b);
                return std::string(buf);
            };
            const std::string large = r.has_large ? std::to_string(r.large_served) : "-";
            std::fprintf(out, "  %-10s %9.1f %8s %9.1f %8s %8" PRIu64 " %7s %9.0f %8s %11.0f %9.1f %7.4f\n", r.policy.c_str(),
                        r.ns_per_op, ratio(r.ns_per_op, base ? base->ns_per_op : 0).c_str(), r.cpu_ns_per_op,
                        ratio(r.cpu_ns_per_op, base ? base->cpu_ns_per_op : 0).c_str(), r.failed, large.c_str(),
                        r.p999, ratio(r.p999, base ? base->p999 : 0).c_str(), r.max, r.meta_per_alloc, r.frag_end);
        }
    }
    std::fflush(out);
}

} // namespace

int main(int argc, char** argv) {
    options opt;
    parse_options(argc, argv, opt);
    // Runs are shown in the format asked for; the table goes where sample_reporter says a summary
    // may go (stdout in console format, stderr with json or csv), so JSON on stdout parses.
    accel::bench::sample_reporter reporter;
    if (!accel::bench::initialize(argc, argv, reporter, 0, print_help))
        return 1;

    // Load everything before the first benchmark runs.
    std::vector<std::string> paths = opt.traces;
    if (paths.empty()) {
        const std::string dir = default_trace_dir();
        if (dir.empty())
            std::fprintf(stderr, "mm_policies: no trace directory (build with ACCEL_BUILD_BENCH, which generates the "
                                 "default traces, or set ACCEL_TRACE_DIR); running synthetic only\n");
        else
            for (const char* t : {"gpu_mixed", "small_uniform", "pow2", "fill_drain"})
                paths.push_back(dir + "/" + t + ".trace.gz");
    }
    std::vector<workload> workloads;
    workloads.reserve(paths.size() + 16); // benchmarks keep pointers into it: never reallocate
    for (const std::string& p : paths) {
        workload w;
        std::string err;
        if (!std::filesystem::exists(p)) {
            std::fprintf(stderr, "mm_policies: trace %s not found, skipped\n", p.c_str());
            continue;
        }
        if (!accel::bench::load_trace(p, w, err)) {
            std::fprintf(stderr, "mm_policies: trace %s: %s, skipped\n", p.c_str(), err.c_str());
            continue;
        }
        workloads.push_back(std::move(w));
    }
    if (opt.synthetic)
        for (const auto& spec : accel::bench::default_synthetic(opt.syn_ops))
            workloads.push_back(accel::bench::make_synthetic(spec));
    if (workloads.empty()) {
        std::fprintf(stderr, "mm_policies: nothing to run\n");
        return 1;
    }

    for (const workload& w : workloads) {
        int replays = opt.replays;
        if (replays <= 0) { // about a million operations per benchmark, 2 to 50 replays
            const std::size_t ops = std::max<std::size_t>(1, w.ops.size());
            replays = static_cast<int>(std::clamp<std::size_t>((1'000'000 + ops - 1) / ops, 2, 50));
        }
        for (const policy_entry& p : policy_registry())
            p.add(p.name, w, replays);
    }
    benchmark::AddCustomContext("mm_policies.policies", [] {
        std::string s;
        for (const policy_entry& p : policy_registry())
            s += (s.empty() ? "" : ",") + p.name;
        return s;
    }());
    accel::bench::run(reporter);
    if (opt.table)
        print_table(reporter.summary_stream(), workloads);
    return 0;
}

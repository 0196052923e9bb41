// SPDX-License-Identifier: MIT
// The one reporter of the bench programs that print a summary after gbench's output (medians
// with their spread, ratios against a baseline measured in the same run).
//
// Two things a ConsoleReporter subclass got wrong, which this fixes:
//  - output format: runs are shown by gbench's own default reporter, so --benchmark_format=json
//    or csv (and --benchmark_color, --benchmark_counters_tabular) mean what gbench says, and
//    summary_stream() is stdout only in console format: a program's summary never corrupts JSON
//    or CSV on standard output;
//  - one sample: every repetition is kept (--benchmark_repetitions=N, or the program's default
//    through initialize()), so a figure is a median with min/max and quartiles, and a ratio is
//    the median of per-repetition ratios with their spread, not one noisy division.
// print_spread_header / print_spread / print_ratio are the summary lines the programs share;
// initialize() also takes a program's defaults for gbench flags (repetitions, interleaving).
#pragma once
#include <benchmark/benchmark.h>

#include <range/v3/range/conversion.hpp>
#include <range/v3/view/transform.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <compare>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace accel::bench {

/// Median, quartiles and extremes of a set of samples (n == 0: no samples, all zero).
struct spread {
    double median = 0, q1 = 0, q3 = 0, min = 0, max = 0;
    std::size_t n = 0;
};

/// Quartiles by linear interpolation between order statistics (R's type 7, numpy's default), so
/// the median of an even count is the mean of the middle two. NaN values are left out: a
/// projection gives NaN for a repetition that lacks what it reads (a counter not reported).
inline spread spread_of(std::vector<double> v) {
    std::erase_if(v, [](double x) { return std::isnan(x); });
    spread s;
    s.n = v.size();
    if (v.empty())
        return s;
    std::sort(v.begin(), v.end());
    auto quantile = [&](double p) {
        const double pos = p * static_cast<double>(v.size() - 1);
        const auto lo = static_cast<std::size_t>(pos);
        const std::size_t hi = std::min(lo + 1, v.size() - 1);
        return v[lo] + (pos - static_cast<double>(lo)) * (v[hi] - v[lo]);
    };
    s.median = quantile(0.5);
    s.q1 = quantile(0.25);
    s.q3 = quantile(0.75);
    s.min = v.front();
    s.max = v.back();
    return s;
}

class sample_reporter : public benchmark::BenchmarkReporter {
public:
    /// A benchmark as a summary names it: function name, "/args" when it has any
    /// ("mock_roundtrip", "ioctl_mapped/16"), and the thread count.
    struct key {
        std::string name;
        int threads = 1;
        auto operator<=>(const key&) const = default;
    };
    using projection = std::function<double(const Run&)>;

    /// Every successful repetition of every benchmark, in the order they ran.
    std::map<key, std::vector<Run>> runs;
    /// gbench's own "median" aggregates: all there is when only aggregates are reported
    /// (--benchmark_report_aggregates_only / --benchmark_display_aggregates_only).
    std::map<key, double> median_aggregates;
    /// The last error message of a skipped benchmark (SkipWithError), empty if none.
    std::string skipped;
    /// Console only: show the repetitions' rows (false: their aggregates only, as
    /// --benchmark_display_aggregates_only does, while every repetition is still kept here).
    bool show_repetitions = true;

    sample_reporter() = default;
    sample_reporter(const sample_reporter&) = delete;
    sample_reporter& operator=(const sample_reporter&) = delete;

    /// True when runs are shown in gbench's console format (the default), which is the only one a
    /// human-readable summary may be appended to on standard output.
    bool console() const { return dynamic_cast<benchmark::ConsoleReporter*>(&display()) != nullptr; }
    /// Where a program's summary goes: stdout in console format, stderr with json or csv.
    std::FILE* summary_stream() const { return console() ? stdout : stderr; }

    bool ReportContext(const Context& context) override { return display().ReportContext(context); }
    void ReportRuns(const std::vector<Run>& batch) override {
        bool aggregates = false;
        for (const Run& r : batch) {
            const key k = key_of(r);
            if (r.error_occurred)
                skipped = r.error_message;
            else if (r.run_type == Run::RT_Iteration)
                runs[k].push_back(r);
            else if (r.aggregate_name == "median")
                median_aggregates[k] = r.GetAdjustedRealTime();
            aggregates = aggregates || r.run_type == Run::RT_Aggregate;
        }
        if (show_repetitions || !console()) {
            display().ReportRuns(batch);
            return;
        }
        // gbench reports a benchmark's repetitions, then (in a second call) their aggregates:
        // hold the repetitions back until it is known whether aggregates follow (they do not for
        // a benchmark whose every repetition failed), and show the aggregates instead.
        if (!aggregates) {
            flush_held();
            held_ = batch;
            return;
        }
        held_.clear();
        display().ReportRuns(batch);
    }
    void Finalize() override {
        flush_held();
        display().Finalize();
    }

    /// One value per repetition (default: adjusted real time per iteration, in the benchmark's
    /// time unit).
    std::vector<double> samples(const key& k, const projection& value = real_time) const {
        auto it = runs.find(k);
        if (it == runs.end())
            return {};
        return it->second | ranges::views::transform(value) | ranges::to<std::vector>();
    }
    std::vector<double> samples(const std::string& name, int threads = 1, const projection& value = real_time) const {
        return samples(key{name, threads}, value);
    }

    /// The benchmark's median and spread over its repetitions; from gbench's median aggregate
    /// (n = 0, no spread; real time only) when only aggregates were reported; all zero when it did
    /// not run.
    spread stats(const key& k, const projection& value = real_time) const {
        spread s = spread_of(samples(k, value));
        if (const auto* f = value.target<double (*)(const Run&)>(); s.n == 0 && f && *f == &real_time)
            if (auto m = median_aggregates.find(k); m != median_aggregates.end())
                s.median = s.q1 = s.q3 = s.min = s.max = m->second;
        return s;
    }
    spread stats(const std::string& name, int threads = 1, const projection& value = real_time) const {
        return stats(key{name, threads}, value);
    }

    /// num / den per repetition, pairing the i-th repetition of each (with
    /// --benchmark_enable_random_interleaving the pairs also ran close together in time), then
    /// their median and spread. Falls back to the ratio of medians (n = 0) without repetitions.
    /// The key form compares different thread counts: ratio(key{"b", 1}, key{"b", 2}) is the
    /// throughput gain of two threads when times are real time per operation of all threads.
    spread ratio(const key& num, const key& den, const projection& value = real_time) const {
        const std::vector<double> a = samples(num, value), b = samples(den, value);
        // A plain loop over the pairs: range-v3 0.12's zip | transform | to<std::vector> reads
        // past the shorter side (a crash when one benchmark was filtered out or skipped).
        std::vector<double> per_repetition(std::min(a.size(), b.size()));
        for (std::size_t i = 0; i < per_repetition.size(); ++i)
            per_repetition[i] = b[i] > 0 ? a[i] / b[i] : 0.0;
        spread s = spread_of(std::move(per_repetition));
        if (s.n == 0) {
            const double n = stats(num, value).median, d = stats(den, value).median;
            if (n > 0 && d > 0)
                s.median = s.q1 = s.q3 = s.min = s.max = n / d;
        }
        return s;
    }
    spread ratio(const std::string& num, const std::string& den, int threads = 1,
                 const projection& value = real_time) const {
        return ratio(key{num, threads}, key{den, threads}, value);
    }

    static double real_time(const Run& r) { return r.GetAdjustedRealTime(); }
    static double cpu_time(const Run& r) { return r.GetAdjustedCPUTime(); }
    /// A user counter's value; NaN (left out of spreads) in a repetition that does not report it.
    static projection counter(std::string name) {
        return [name = std::move(name)](const Run& r) {
            auto c = r.counters.find(name);
            return c == r.counters.end() ? std::nan("") : static_cast<double>(c->second.value);
        };
    }

private:
    std::vector<Run> held_; ///< repetitions not shown yet (show_repetitions == false)

    void flush_held() {
        if (!held_.empty())
            display().ReportRuns(held_);
        held_.clear();
    }
    static key key_of(const Run& r) {
        std::string name = r.run_name.function_name;
        if (!r.run_name.args.empty())
            name += "/" + r.run_name.args;
        return {std::move(name), static_cast<int>(r.threads)};
    }
    /// gbench's reporter for --benchmark_format: a process-wide object gbench creates once and
    /// never frees; only valid after benchmark::Initialize.
    static benchmark::BenchmarkReporter& display() { return *benchmark::CreateDefaultDisplayReporter(); }
};

/// True when gbench flag `name` ("--benchmark_repetitions") is set: on the command line (with
/// its value after '=' or none) or in the environment variable gbench also reads for it
/// (BENCHMARK_REPETITIONS).
inline bool flag_given(const std::vector<char*>& args, std::string_view name) {
    std::string env(name.substr(name.find_first_not_of('-')));
    std::transform(env.begin(), env.end(), env.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return std::getenv(env.c_str()) != nullptr || std::any_of(args.begin(), args.end(), [&](const char* a) {
               const std::string_view s(a);
               return s.starts_with(name) && (s.size() == name.size() || s[name.size()] == '=');
           });
}

/// benchmark::Initialize, plus a default repetition count when the command line (or
/// BENCHMARK_REPETITIONS in the environment) sets none; the console then shows the aggregates of
/// those default repetitions rather than every row. `default_flags` ("--benchmark_X=value") are
/// the program's defaults for other gbench flags, each added the same way (only when neither the
/// command line nor BENCHMARK_X sets it). False when the command line has arguments gbench does
/// not know (they have been reported).
inline bool initialize(int& argc, char** argv, sample_reporter& reporter, int default_repetitions = 0,
                       void (*help)() = benchmark::PrintDefaultHelp,
                       std::initializer_list<const char*> default_flags = {}) {
    std::vector<char*> args(argv, argv + argc);
    std::vector<std::string> added;
    for (std::string_view flag : default_flags)
        if (!flag_given(args, flag.substr(0, flag.find('='))))
            added.emplace_back(flag);
    if (!flag_given(args, "--benchmark_repetitions") && default_repetitions > 1) {
        added.push_back("--benchmark_repetitions=" + std::to_string(default_repetitions));
        reporter.show_repetitions = false;
    }
    for (std::string& flag : added)
        args.push_back(flag.data());
    int n = static_cast<int>(args.size());
    args.push_back(nullptr);
    benchmark::Initialize(&n, args.data(), help);
    return !benchmark::ReportUnrecognizedArguments(n, args.data());
}

/// Runs the benchmarks the command line selects, showing them through `reporter`.
inline void run(sample_reporter& reporter) {
    benchmark::RunSpecifiedBenchmarks(&reporter);
    benchmark::Shutdown();
}

/// The header of a summary table of print_spread lines: "<title> median min max q1 q3".
inline void print_spread_header(std::FILE* out, const char* title) {
    std::fprintf(out, "\n%-20s%10s%10s%10s%10s%10s\n", title, "median", "min", "max", "q1", "q3");
}

/// One line of a summary table: "<label> <median> <min> <max> <q1> <q3> (n=...)".
inline void print_spread(std::FILE* out, const char* label, const spread& s, const char* format = "%10.1f") {
    std::fprintf(out, "%-20s", label);
    for (double v : {s.median, s.min, s.max, s.q1, s.q3})
        std::fprintf(out, format, v);
    if (s.n)
        std::fprintf(out, "   (n=%zu)\n", s.n);
    else
        std::fprintf(out, "   (gbench median aggregate)\n");
}

/// What a ratio's median is judged against: at most (at_most false: at least) `value`.
struct target {
    double value = 0;
    bool at_most = true;
};

/// One ratio line: "<label> = <median>x  (q1 .., q3 .., min .., max ..[; note][; target <= Tx]) met",
/// the spread being that of the per-repetition ratios ("ratio of medians" without repetitions).
/// Nothing when the ratio could not be formed (a benchmark filtered out or skipped).
inline void print_ratio(std::FILE* out, const char* label, const spread& r, std::optional<target> goal = {},
                        const char* note = nullptr) {
    if (r.median <= 0)
        return;
    std::fprintf(out, "%-16s = %.3fx  (", label, r.median);
    if (r.n)
        std::fprintf(out, "q1 %.3f, q3 %.3f, min %.3f, max %.3f, n=%zu", r.q1, r.q3, r.min, r.max, r.n);
    else
        std::fprintf(out, "ratio of medians");
    if (note)
        std::fprintf(out, "; %s", note);
    if (!goal) {
        std::fprintf(out, ")\n");
        return;
    }
    const bool met = goal->at_most ? r.median <= goal->value : r.median >= goal->value;
    std::fprintf(out, "; target %s %gx) %s\n", goal->at_most ? "<=" : ">=", goal->value, met ? "met" : "MISSED");
}

} // namespace accel::bench

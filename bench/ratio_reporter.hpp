// SPDX-License-Identifier: MIT
// Console output as usual, plus each benchmark's time per iteration, so a program can print its
// ratios against a baseline measured in the same run after the table.
#pragma once
#include <benchmark/benchmark.h>

#include <map>
#include <string>
#include <vector>

namespace accel::bench {

class ratio_reporter : public benchmark::ConsoleReporter {
public:
    /// Benchmark name -> adjusted real time per iteration, in the benchmark's unit.
    std::map<std::string, double> ns;
    void ReportRuns(const std::vector<Run>& runs) override {
        for (const Run& r : runs)
            if (r.run_type == Run::RT_Iteration && !r.error_occurred)
                ns[r.benchmark_name()] = r.GetAdjustedRealTime();
        ConsoleReporter::ReportRuns(runs);
    }
    double get(const std::string& name) const {
        auto it = ns.find(name);
        return it == ns.end() ? 0.0 : it->second;
    }
};

/// gbench's main with a ratio_reporter: runs the benchmarks the command line selects; false when
/// the command line had arguments gbench does not know.
inline bool run_benchmarks(int& argc, char** argv, ratio_reporter& reporter) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv))
        return false;
    benchmark::RunSpecifiedBenchmarks(&reporter);
    benchmark::Shutdown();
    return true;
}

} // namespace accel::bench

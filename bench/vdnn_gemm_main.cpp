// SPDX-License-Identifier: MIT
// A temporary program for the vdnn GEMM benchmarks (vdnn_gemm_bench.hpp) until the vdnn driver
// has a benchmark program of its own. Five repetitions by default, randomly interleaved; after
// gbench's output, per type and size: the median CPU time of plain, mmu (scattered pages) and
// mmu_contig, the peaks and every GEMM in GOP/s, and mmu / plain as the median of per-repetition
// ratios against the target (<= 1.5x) (on stdout in console format, on stderr with json or csv).
// CPU time rather than real time: on a shared machine a repetition that loses the core for a
// while says nothing about the code (both are in gbench's own output).
#include "ratio_reporter.hpp"
#include "vdnn_gemm_bench.hpp"

#include <cstdio>
#include <string>

int main(int argc, char** argv) {
    accel::bench::sample_reporter reporter;
    if (!accel::bench::initialize(argc, argv, reporter, 5, benchmark::PrintDefaultHelp,
                                  {"--benchmark_enable_random_interleaving=true"}))
        return 1;
    vdnn::bench::register_vdnn_gemm_benchmarks();
    accel::bench::run(reporter);

    std::FILE* out = reporter.summary_stream();
    const auto gops = accel::bench::sample_reporter::counter("GOP/s");
    const auto cpu = accel::bench::sample_reporter::cpu_time;
    accel::bench::print_spread_header(out, "CPU us per GEMM");
    for (const char* type : {"int8", "fp32"})
        for (int n : vdnn::bench::gemm_sizes)
            for (const char* how : {"plain", "mmu", "mmu_contig"}) {
                const std::string name = std::string("vdnn_gemm/") + type + "/" + std::to_string(n) + "/" + how;
                const accel::bench::spread s = reporter.stats(name, 1, cpu);
                if (s.median > 0)
                    accel::bench::print_spread(out, name.c_str() + 10, s);
            }
    accel::bench::print_spread_header(out, "GOP/s");
    for (const char* name : {"vdnn_peak/fp32_fma_1core", "vdnn_peak/int8_1core", "vdnn_peak/int8_vpdpbusd_1core"})
        if (const accel::bench::spread s = reporter.stats(name, 1, gops); s.n)
            accel::bench::print_spread(out, name + 10, s);
    for (const char* type : {"int8", "fp32"})
        for (int n : vdnn::bench::gemm_sizes)
            for (const char* how : {"plain", "mmu", "mmu_contig"}) {
                const std::string name = std::string("vdnn_gemm/") + type + "/" + std::to_string(n) + "/" + how;
                if (const accel::bench::spread s = reporter.stats(name, 1, gops); s.n)
                    accel::bench::print_spread(out, name.c_str() + 10, s);
            }
    std::fprintf(out, "\n");
    for (const char* type : {"int8", "fp32"})
        for (int n : vdnn::bench::gemm_sizes) {
            const std::string base = std::string("vdnn_gemm/") + type + "/" + std::to_string(n) + "/";
            const std::string label = std::string(type) + "/" + std::to_string(n);
            accel::bench::print_ratio(out, (label + " mmu").c_str(), reporter.ratio(base + "mmu", base + "plain", 1, cpu),
                                      accel::bench::target{1.5}, "scattered 4 KiB pages / plain");
            accel::bench::print_ratio(out, (label + " contig").c_str(), reporter.ratio(base + "mmu_contig", base + "plain", 1, cpu),
                                      accel::bench::target{1.5}, "contiguous / plain");
        }
    return 0;
}

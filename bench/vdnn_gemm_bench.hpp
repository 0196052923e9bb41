// SPDX-License-Identifier: MIT
// The vdnn example's GEMM (examples/vdnn), square m = n = k of 256 and 512, int8 and fp32:
//   vdnn_gemm/<type>/<n>/plain       the kernel on plain host arrays (kernels::gemm_*)
//   vdnn_gemm/<type>/<n>/mmu         an engine running a one-GEMM command stream on buffers bound
//                                    through the device page table with 4 KiB pages, physically
//                                    scattered: every operand is gathered into the engine's
//                                    scratch and C scattered back, page run by page run
//   vdnn_gemm/<type>/<n>/mmu_contig  the same with each buffer physically contiguous (one DRAM
//                                    allocation, still 4 KiB leaves): the in-place fast path
// and one core's peak, for scale:
//   vdnn_peak/fp32_fma_1core         independent register-resident multiply-adds, as wide as the
//                                    fp32 GEMM's micro-kernel (AVX-512 / AVX2 / SSE2)
//   vdnn_peak/int8_1core             the same for the int8 micro-kernel's instruction: VNNI
//                                    vpdpwssd (or pmaddwd + paddd): two int8 products per lane
//   vdnn_peak/int8_vpdpbusd_1core    VNNI vpdpbusd, four u8 x s8 products per lane: the CPU's
//                                    int8 peak, which the kernel does not use (it would need the
//                                    unsigned-A offset trick)
// Counters: GOP/s (2 m n k per GEMM; 2 per multiply-add for the peaks) and items_per_second
// (the same operations). The mmu benchmarks include what the engine does per job: validating
// the stream, probing every operand through the page table, staging, the kernel, scattering.
//
// register_vdnn_gemm_benchmarks() registers them; a program's main runs them (exec_latency.cpp
// for now).
#pragma once
#include "vdnn_engine_exec.hpp"
#include "vdnn_kernels.hpp"
#include "vdnn_memory_fixture.hpp"

#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#if VDNN_X86
#include <immintrin.h>
#endif

namespace vdnn::bench {

inline constexpr int gemm_sizes[] = {256, 512};

inline void set_gop_counters(benchmark::State& state, double ops_per_iteration) {
    const double ops = ops_per_iteration * static_cast<double>(state.iterations());
    state.SetItemsProcessed(static_cast<std::int64_t>(ops));
    state.counters["GOP/s"] = benchmark::Counter(ops * 1e-9, benchmark::Counter::kIsRate);
}

template <class In>
std::vector<In> random_values(std::size_t n, std::mt19937_64& rng) {
    std::vector<In> v(n);
    for (auto& x : v) {
        if constexpr (std::is_same_v<In, float>)
            x = std::uniform_real_distribution<float>(-1.0f, 1.0f)(rng);
        else
            x = static_cast<In>(static_cast<int>(rng() % 256) - 128);
    }
    return v;
}

template <class In, class Out>
void gemm_plain(benchmark::State& state, std::size_t n) {
    std::mt19937_64 rng(1);
    const auto a = random_values<In>(n * n, rng), b = random_values<In>(n * n, rng);
    std::vector<Out> c(n * n);
    kernels::workspace ws;
    for (auto _ : state) {
        if constexpr (std::is_same_v<In, float>)
            kernels::gemm_f32(n, n, n, a.data(), n, b.data(), n, c.data(), n, false, ws);
        else
            kernels::gemm_s8(n, n, n, a.data(), n, b.data(), n, c.data(), n, false, ws);
        benchmark::DoNotOptimize(c.data());
        benchmark::ClobberMemory();
    }
    state.SetLabel(kernels::isa_name(kernels::best_isa()));
    set_gop_counters(state, 2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n));
}

template <class In, class Out>
void gemm_mmu(benchmark::State& state, std::size_t n, test::layout how) {
    std::mt19937_64 rng(2);
    // Scattered buffers take twice their pages from DRAM while they are set up.
    auto dev = std::make_unique<test::device_memory>(std::uint64_t{64} << 20);
    const u64 va_a = 0x1000'0000, va_b = 0x2000'0000, va_c = 0x3000'0000;
    auto ba = test::make_buffer(*dev, va_a, n * n * sizeof(In), how, vm_perm::read, rng);
    auto bb = test::make_buffer(*dev, va_b, n * n * sizeof(In), how, vm_perm::read, rng);
    auto bc = test::make_buffer(*dev, va_c, n * n * sizeof(Out), how, vm_perm::write, rng);
    ba.write_all(random_values<In>(n * n, rng));
    bb.write_all(random_values<In>(n * n, rng));
    vdnn_cmd_gemm g{};
    g.dtype = std::is_same_v<In, float> ? VDNN_DTYPE_FP32 : VDNN_DTYPE_INT8;
    g.m = g.n = g.k = g.lda = g.ldb = g.ldc = static_cast<u32>(n);
    g.a = va_a, g.b = va_b, g.c = va_c;
    stream_writer w;
    w.add(g);
    engine e;
    for (auto _ : state) {
        const exec_result r = e.run(w.bytes(), dev->mmu, dev->phys);
        if (r.error) {
            state.SkipWithError("the GEMM job failed");
            return;
        }
        benchmark::ClobberMemory();
    }
    state.SetLabel(kernels::isa_name(kernels::best_isa()));
    set_gop_counters(state, 2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n));
}

// ---- one core's peak -----------------------------------------------------------------------------

namespace detail {

/// Independent accumulator chains per peak loop: twelve cover a 5-cycle latency on two ports,
/// and leave room in 16 registers (more make GCC keep some of them on the stack).
inline constexpr int chains = 12;

/// `Acc` independent chains of `iters` multiply-adds on V (lanes of float): enough chains to
/// cover the FMA latency on both ports, all in registers. Every loop over the chains is
/// unrolled: an array of vectors indexed by a loop variable lives on the stack otherwise.
template <class V, int Acc>
VDNN_INLINE float fma_chains(long iters, float x, float y) {
    V acc[Acc];
#pragma GCC unroll 32
    for (int i = 0; i < Acc; ++i)
        acc[i] = (x + static_cast<float>(i)) - V{};
    const V vx = x - V{}, vy = y - V{};
    for (long it = 0; it < iters; ++it)
#pragma GCC unroll 32
        for (int i = 0; i < Acc; ++i)
            acc[i] = acc[i] * vx + vy;
    V s = V{};
#pragma GCC unroll 32
    for (int i = 0; i < Acc; ++i)
        s += acc[i];
    float r = 0;
    for (unsigned l = 0; l < sizeof(V) / sizeof(float); ++l)
        r += s[l];
    return r;
}

inline float fma_peak_generic(long iters, float x, float y) { return fma_chains<kernels::detail::f32x4, chains>(iters, x, y); }
#if VDNN_X86
VDNN_TARGET("avx2,fma") inline float fma_peak_avx2(long iters, float x, float y) {
    return fma_chains<kernels::detail::f32x8, chains>(iters, x, y);
}
VDNN_TARGET("avx2,fma,avx512f,avx512bw") inline float fma_peak_avx512(long iters, float x, float y) {
    return fma_chains<kernels::detail::f32x16, chains>(iters, x, y);
}

/// The lanes' sum, spelled out: GCC 12's _mm512_reduce_add_epi32 trips -Wuninitialized in its
/// own header.
VDNN_TARGET("avx2,fma,avx512f,avx512bw") inline int sum_lanes(__m512i v) {
    alignas(64) int lanes[16];
    _mm512_store_si512(lanes, v);
    int r = 0;
    for (int l : lanes)
        r += l;
    return r;
}

/// int8 chains: one instruction of 2 (dpwssd) or 4 (dpbusd) products per 32-bit lane per
/// step. pmaddwd + paddd multiplies the accumulator itself: with loop-invariant operands the
/// compiler would hoist the multiply out of the loop.
VDNN_TARGET("avx2,fma,avx512f,avx512bw,avx512vnni") inline int dpwssd_peak(long iters, int x) {
    __m512i acc[chains];
    const __m512i a = _mm512_set1_epi32(x), b = _mm512_set1_epi32(x + 1);
#pragma GCC unroll 32
    for (int i = 0; i < chains; ++i)
        acc[i] = _mm512_set1_epi32(i);
    for (long it = 0; it < iters; ++it)
#pragma GCC unroll 32
        for (int i = 0; i < chains; ++i)
            acc[i] = _mm512_dpwssd_epi32(acc[i], a, b);
    __m512i s = acc[0];
#pragma GCC unroll 32
    for (int i = 1; i < chains; ++i)
        s = _mm512_add_epi32(s, acc[i]);
    return sum_lanes(s);
}
VDNN_TARGET("avx2,fma,avx512f,avx512bw,avx512vnni") inline int dpbusd_peak(long iters, int x) {
    __m512i acc[chains];
    const __m512i a = _mm512_set1_epi32(x), b = _mm512_set1_epi32(x + 1);
#pragma GCC unroll 32
    for (int i = 0; i < chains; ++i)
        acc[i] = _mm512_set1_epi32(i);
    for (long it = 0; it < iters; ++it)
#pragma GCC unroll 32
        for (int i = 0; i < chains; ++i)
            acc[i] = _mm512_dpbusd_epi32(acc[i], a, b);
    __m512i s = acc[0];
#pragma GCC unroll 32
    for (int i = 1; i < chains; ++i)
        s = _mm512_add_epi32(s, acc[i]);
    return sum_lanes(s);
}
VDNN_TARGET("avx2,fma,avx512f,avx512bw") inline int madd_peak_avx512(long iters, int x) {
    __m512i acc[chains];
    const __m512i b = _mm512_set1_epi32(x + 1);
#pragma GCC unroll 32
    for (int i = 0; i < chains; ++i)
        acc[i] = _mm512_set1_epi32(x + i);
    for (long it = 0; it < iters; ++it)
#pragma GCC unroll 32
        for (int i = 0; i < chains; ++i)
            acc[i] = _mm512_add_epi32(acc[i], _mm512_madd_epi16(acc[i], b));
    __m512i s = acc[0];
#pragma GCC unroll 32
    for (int i = 1; i < chains; ++i)
        s = _mm512_add_epi32(s, acc[i]);
    return sum_lanes(s);
}
VDNN_TARGET("avx2,fma") inline int madd_peak_avx2(long iters, int x) {
    __m256i acc[chains];
    const __m256i b = _mm256_set1_epi32(x + 1);
#pragma GCC unroll 32
    for (int i = 0; i < chains; ++i)
        acc[i] = _mm256_set1_epi32(x + i);
    for (long it = 0; it < iters; ++it)
#pragma GCC unroll 32
        for (int i = 0; i < chains; ++i)
            acc[i] = _mm256_add_epi32(acc[i], _mm256_madd_epi16(acc[i], b));
    __m256i s = acc[0];
#pragma GCC unroll 32
    for (int i = 1; i < chains; ++i)
        s = _mm256_add_epi32(s, acc[i]);
    alignas(32) int lanes[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), s);
    int r = 0;
    for (int l : lanes)
        r += l;
    return r;
}
#endif

} // namespace detail

inline constexpr long peak_steps = 1 << 16; ///< multiply-add steps per chain per iteration

/// fp32 multiply-adds of the widest vector the GEMM uses: returns the operations (2 per lane per
/// multiply-add) that one call of `peak_steps` makes.
inline void fp32_peak(benchmark::State& state) {
    volatile float x = 0.999f, y = 0.001f;
    double ops = 0;
    for (auto _ : state) {
        float r = 0;
        switch (kernels::best_isa()) {
#if VDNN_X86
        case kernels::isa::avx512:
        case kernels::isa::avx512_vnni:
            r = detail::fma_peak_avx512(peak_steps, x, y);
            ops = 2.0 * 16 * detail::chains * peak_steps;
            break;
        case kernels::isa::avx2:
            r = detail::fma_peak_avx2(peak_steps, x, y);
            ops = 2.0 * 8 * detail::chains * peak_steps;
            break;
#endif
        default:
            r = detail::fma_peak_generic(peak_steps, x, y);
            ops = 2.0 * 4 * detail::chains * peak_steps;
        }
        benchmark::DoNotOptimize(r);
    }
    state.SetLabel(kernels::isa_name(kernels::best_isa()));
    set_gop_counters(state, ops);
}

/// int8 products through the int8 GEMM's instruction (two per 32-bit lane; 2 operations each).
inline void int8_peak(benchmark::State& state) {
    volatile int x = 3;
    double ops = 0;
    for (auto _ : state) {
        int r = 0;
        switch (kernels::best_isa()) {
#if VDNN_X86
        case kernels::isa::avx512_vnni:
            r = detail::dpwssd_peak(peak_steps, x);
            ops = 2.0 * 32 * detail::chains * peak_steps;
            break;
        case kernels::isa::avx512:
            r = detail::madd_peak_avx512(peak_steps, x);
            ops = 2.0 * 32 * detail::chains * peak_steps;
            break;
        case kernels::isa::avx2:
            r = detail::madd_peak_avx2(peak_steps, x);
            ops = 2.0 * 16 * detail::chains * peak_steps;
            break;
#endif
        default:
            state.SkipWithError("no int8 multiply-add instruction measured for this ISA");
            return;
        }
        benchmark::DoNotOptimize(r);
    }
    state.SetLabel(kernels::isa_name(kernels::best_isa()));
    set_gop_counters(state, ops);
}

/// u8 x s8 products four per lane (VNNI vpdpbusd): the CPU's int8 ceiling.
inline void int8_dpbusd_peak(benchmark::State& state) {
#if VDNN_X86
    if (!kernels::isa_supported(kernels::isa::avx512_vnni)) {
        state.SkipWithError("no AVX-512 VNNI");
        return;
    }
    volatile int x = 3;
    for (auto _ : state) {
        int r = detail::dpbusd_peak(peak_steps, x);
        benchmark::DoNotOptimize(r);
    }
    set_gop_counters(state, 2.0 * 64 * detail::chains * peak_steps);
#else
    state.SkipWithError("x86 only");
#endif
}

/// Registers every benchmark above under its documented name.
inline void register_vdnn_gemm_benchmarks() {
    for (int n : gemm_sizes) {
        const std::string s = std::to_string(n);
        const auto sz = static_cast<std::size_t>(n);
        benchmark::RegisterBenchmark(("vdnn_gemm/int8/" + s + "/plain").c_str(),
                                     [sz](benchmark::State& st) { gemm_plain<std::int8_t, std::int32_t>(st, sz); })
            ->Unit(benchmark::kMicrosecond);
        benchmark::RegisterBenchmark(("vdnn_gemm/int8/" + s + "/mmu").c_str(), [sz](benchmark::State& st) {
            gemm_mmu<std::int8_t, std::int32_t>(st, sz, test::layout::scattered);
        })->Unit(benchmark::kMicrosecond);
        benchmark::RegisterBenchmark(("vdnn_gemm/int8/" + s + "/mmu_contig").c_str(), [sz](benchmark::State& st) {
            gemm_mmu<std::int8_t, std::int32_t>(st, sz, test::layout::contiguous);
        })->Unit(benchmark::kMicrosecond);
        benchmark::RegisterBenchmark(("vdnn_gemm/fp32/" + s + "/plain").c_str(),
                                     [sz](benchmark::State& st) { gemm_plain<float, float>(st, sz); })
            ->Unit(benchmark::kMicrosecond);
        benchmark::RegisterBenchmark(("vdnn_gemm/fp32/" + s + "/mmu").c_str(), [sz](benchmark::State& st) {
            gemm_mmu<float, float>(st, sz, test::layout::scattered);
        })->Unit(benchmark::kMicrosecond);
        benchmark::RegisterBenchmark(("vdnn_gemm/fp32/" + s + "/mmu_contig").c_str(), [sz](benchmark::State& st) {
            gemm_mmu<float, float>(st, sz, test::layout::contiguous);
        })->Unit(benchmark::kMicrosecond);
    }
    benchmark::RegisterBenchmark("vdnn_peak/fp32_fma_1core", fp32_peak)->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark("vdnn_peak/int8_1core", int8_peak)->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark("vdnn_peak/int8_vpdpbusd_1core", int8_dpbusd_peak)->Unit(benchmark::kMicrosecond);
}

} // namespace vdnn::bench

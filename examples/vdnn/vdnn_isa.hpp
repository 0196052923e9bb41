// SPDX-License-Identifier: MIT
#pragma once
/// \file Which SIMD instruction set the vdnn kernels run with.
///
/// The project builds for the x86-64 baseline (SSE2), so a kernel compiled only that way would
/// leave most of a modern core idle. Each hot kernel is therefore compiled several times, with
/// GCC/Clang `target` attributes, and one is picked at run time from what the CPU reports
/// (cpuid through __builtin_cpu_supports). On other architectures or compilers only the
/// portable version exists. Callers may ask for a narrower set explicitly (tests run every
/// version the CPU has against the reference kernels).
#include <cstdint>

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define VDNN_X86 1
#define VDNN_TARGET(features) __attribute__((target(features)))
#else
#define VDNN_X86 0
#define VDNN_TARGET(features)
#endif

/// Forces a helper into its caller, so that it is compiled with the caller's target
/// attribute (a helper compiled on its own gets the baseline instruction set).
#define VDNN_INLINE inline __attribute__((always_inline))

namespace vdnn::kernels {

enum class isa : std::uint8_t {
    generic,     ///< portable C++ (GCC vector extensions): SSE2 on x86-64
    avx2,        ///< AVX2 + FMA
    avx512,      ///< AVX-512 F + BW
    avx512_vnni, ///< AVX-512 F + BW + VNNI (int8 dot products in one instruction)
};

inline constexpr isa all_isas[] = {isa::generic, isa::avx2, isa::avx512, isa::avx512_vnni};

constexpr const char* isa_name(isa i) noexcept {
    switch (i) {
    case isa::generic:
        return "generic";
    case isa::avx2:
        return "avx2";
    case isa::avx512:
        return "avx512";
    case isa::avx512_vnni:
        return "avx512_vnni";
    }
    return "?";
}

/// Whether this CPU (and this build) can run kernels compiled for `i`.
inline bool isa_supported(isa i) noexcept {
#if VDNN_X86
    // __builtin_cpu_init: the first call may come from a static constructor, before the one
    // that fills the cpuid cache has run.
    static const bool has[4] = {(__builtin_cpu_init(), true),
        __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"),
        __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("avx512f") &&
            __builtin_cpu_supports("avx512bw"),
        __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("avx512f") &&
            __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vnni"),
    };
    return has[static_cast<unsigned>(i)];
#else
    return i == isa::generic;
#endif
}

/// The widest instruction set the CPU supports: what the kernels use by default.
inline isa best_isa() noexcept {
    static const isa best = [] {
        isa b = isa::generic;
        for (isa i : all_isas)
            if (isa_supported(i))
                b = i;
        return b;
    }();
    return best;
}

/// `want` if the CPU has it, else the best it has below it (never an unsupported set: running
/// AVX-512 code on a CPU without it is SIGILL).
inline isa usable_isa(isa want) noexcept {
    while (want != isa::generic && !isa_supported(want))
        want = static_cast<isa>(static_cast<unsigned>(want) - 1);
    return want;
}

} // namespace vdnn::kernels

// SPDX-License-Identifier: MIT
#pragma once
/// \file The GEMM kernels: C[m x n] (+)= A[m x k] * B[k x n], row-major with row strides.
///
/// fp32: float in, float out. int8: int8 in, int32 out; products are summed exactly (K up to
/// 65536 keeps the sum within int32) and adding to C (accumulate) wraps.
///
/// The structure is the one of BLIS / GotoBLAS, because a GEMM is limited by how often each
/// operand byte is brought in from memory, not by arithmetic:
///  - B is packed a block (kc x nc) at a time into panels nr columns wide, A a block (mc x kc)
///    at a time into panels mr rows high, so the micro-kernel reads both with unit stride and
///    a B panel stays in L1 while A streams from L2;
///  - the micro-kernel keeps an mr x nr tile of C in registers for the whole kc loop: each step
///    loads one row of the B panel (nr / lanes vectors) and broadcasts mr values of A, for
///    mr * nr / lanes multiply-adds, so arithmetic, not loads, sets the pace;
///  - edges are padded with zeros in the packed panels (the kernel always computes a full
///    tile) and only the valid part of the tile is written back, so any m, n, k works.
/// fp32 micro-kernels are plain C++ on GCC vector types, compiled once per instruction set
/// (vdnn_isa.hpp) with mr x nr chosen to fill its register file. The int8 ones pack pairs of
/// consecutive k as two int16 in one 32-bit lane, so that one multiply-add instruction
/// (pmaddwd, or VNNI's vpdpwssd) does two k steps per lane; x86 versions use intrinsics for
/// that instruction, the portable one computes the same lanes with shifts and multiplies.
#include "vdnn_buffer.hpp"
#include "vdnn_isa.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#if VDNN_X86
#include <immintrin.h>
#endif

namespace vdnn::kernels {

/// Packing memory of the GEMM (and the convolution's im2col columns). One per thread that
/// runs kernels; reused from call to call so that steady state allocates nothing.
struct workspace {
    aligned_buffer a_pack;
    aligned_buffer b_pack;
    aligned_buffer tile;
    aligned_buffer columns;
};

namespace detail {

typedef float f32x4 __attribute__((vector_size(16)));
typedef float f32x8 __attribute__((vector_size(32)));
typedef float f32x16 __attribute__((vector_size(64)));
typedef std::int32_t i32x4 __attribute__((vector_size(16)));
typedef std::uint32_t u32x4 __attribute__((vector_size(16)));

constexpr std::size_t round_up(std::size_t x, std::size_t m) noexcept { return (x + m - 1) / m * m; }

/// Adds in two's complement without signed-overflow UB (accumulating into int32 C wraps).
constexpr std::int32_t wrap_add(std::int32_t a, std::int32_t b) noexcept {
    return static_cast<std::int32_t>(static_cast<std::uint32_t>(a) + static_cast<std::uint32_t>(b));
}

// ---- fp32 ------------------------------------------------------------------------------------

/// Packs rows [0, mc) x columns [0, kc) of A into panels of MR rows: panel r holds, for each
/// k, its MR values side by side (rows past mc are zeros).
template <int MR>
VDNN_INLINE void pack_a_f32(const float* a, std::size_t lda, std::size_t mc, std::size_t kc, float* out) {
    for (std::size_t i = 0; i < mc; i += MR) {
        const std::size_t rows = std::min<std::size_t>(MR, mc - i);
        float* panel = out + i * kc;
        for (std::size_t r = 0; r < MR; ++r) {
            if (r < rows) {
                const float* src = a + (i + r) * lda;
                for (std::size_t p = 0; p < kc; ++p)
                    panel[p * MR + r] = src[p];
            } else {
                for (std::size_t p = 0; p < kc; ++p)
                    panel[p * MR + r] = 0.0f;
            }
        }
    }
}

/// Packs rows [0, kc) x columns [0, nc) of B into panels of NR columns: panel j holds, for
/// each k, NR consecutive values of that row (columns past nc are zeros).
template <int NR>
VDNN_INLINE void pack_b_f32(const float* b, std::size_t ldb, std::size_t kc, std::size_t nc, float* out) {
    for (std::size_t j = 0; j < nc; j += NR) {
        const std::size_t cols = std::min<std::size_t>(NR, nc - j);
        float* panel = out + j * kc;
        for (std::size_t p = 0; p < kc; ++p) {
            const float* src = b + p * ldb + j;
            float* dst = panel + p * NR;
            if (cols == NR) {
                std::memcpy(dst, src, NR * sizeof(float));
            } else {
                for (std::size_t c = 0; c < cols; ++c)
                    dst[c] = src[c];
                for (std::size_t c = cols; c < NR; ++c)
                    dst[c] = 0.0f;
            }
        }
    }
}

/// The MR x (NV * lanes) register tile: C tile (+)= A panel * B panel over kc steps.
template <class V, int MR, int NV>
VDNN_INLINE void micro_f32(std::size_t kc, const float* ap, const float* bp, float* c, std::size_t ldc, std::size_t mr,
                           std::size_t nr, bool load_c) {
    constexpr int W = sizeof(V) / sizeof(float);
    constexpr int NR = NV * W;
    V acc[MR][NV];
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
        for (int j = 0; j < NV; ++j)
            acc[i][j] = V{};
    for (std::size_t p = 0; p < kc; ++p) {
        V b[NV];
#pragma GCC unroll 4
        for (int j = 0; j < NV; ++j)
            std::memcpy(&b[j], bp + j * W, sizeof(V));
#pragma GCC unroll 32
        for (int i = 0; i < MR; ++i) {
            // `x - 0` rather than `0 + x`: the former is exact for -0.0 too, so the compiler
            // drops it and broadcasts straight from memory into the multiply-add.
            const V a = ap[i] - V{};
#pragma GCC unroll 4
            for (int j = 0; j < NV; ++j)
                acc[i][j] += a * b[j];
        }
        ap += MR;
        bp += NR;
    }
    if (mr == MR && nr == NR) {
#pragma GCC unroll 32
        for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
            for (int j = 0; j < NV; ++j) {
                float* dst = c + i * ldc + j * W;
                V v = acc[i][j];
                if (load_c) {
                    V old;
                    std::memcpy(&old, dst, sizeof(V));
                    v += old;
                }
                std::memcpy(dst, &v, sizeof(V));
            }
        return;
    }
    float tile[MR * NR];
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
        for (int j = 0; j < NV; ++j)
            std::memcpy(tile + i * NR + j * W, &acc[i][j], sizeof(V));
    for (std::size_t i = 0; i < mr; ++i)
        for (std::size_t j = 0; j < nr; ++j)
            c[i * ldc + j] = load_c ? c[i * ldc + j] + tile[i * NR + j] : tile[i * NR + j];
}

template <class V, int MR, int NV, std::size_t KC, std::size_t MC, std::size_t NC>
struct f32_config {
    using in_type = float;
    using out_type = float;
    using packed_type = float;
    static constexpr std::size_t mr = MR, nr = NV * (sizeof(V) / sizeof(float)), kc = KC, mc = MC, nc = NC;
    /// Packed elements per k step of a panel row (one k per element for fp32).
    static constexpr std::size_t k_steps(std::size_t k) noexcept { return k; }
    static VDNN_INLINE void pack_a(const float* a, std::size_t lda, std::size_t m, std::size_t k, float* out) {
        pack_a_f32<MR>(a, lda, m, k, out);
    }
    static VDNN_INLINE void pack_b(const float* b, std::size_t ldb, std::size_t k, std::size_t n, float* out) {
        pack_b_f32<nr>(b, ldb, k, n, out);
    }
    static VDNN_INLINE void kernel(std::size_t steps, const float* ap, const float* bp, float* c, std::size_t ldc,
                                   std::size_t m, std::size_t n, bool load_c) {
        micro_f32<V, MR, NV>(steps, ap, bp, c, ldc, m, n, load_c);
    }
};

// ---- int8 (k pairs as int16 x 2 in a 32-bit lane) -----------------------------------------------

constexpr std::uint32_t pair16(std::int8_t lo, std::int8_t hi) noexcept {
    return static_cast<std::uint16_t>(static_cast<std::int16_t>(lo)) |
           (static_cast<std::uint32_t>(static_cast<std::uint16_t>(static_cast<std::int16_t>(hi))) << 16);
}

/// A panels of MR rows; element (r, q) is the pair (a[r][2q], a[r][2q + 1]) (0 past k or mc).
template <int MR>
VDNN_INLINE void pack_a_s8(const std::int8_t* a, std::size_t lda, std::size_t mc, std::size_t kc, std::uint32_t* out) {
    const std::size_t q_steps = (kc + 1) / 2;
    for (std::size_t i = 0; i < mc; i += MR) {
        const std::size_t rows = std::min<std::size_t>(MR, mc - i);
        std::uint32_t* panel = out + i * q_steps;
        for (std::size_t r = 0; r < MR; ++r) {
            if (r < rows) {
                const std::int8_t* src = a + (i + r) * lda;
                std::size_t q = 0;
                for (; 2 * q + 1 < kc; ++q)
                    panel[q * MR + r] = pair16(src[2 * q], src[2 * q + 1]);
                if (q < q_steps)
                    panel[q * MR + r] = pair16(src[2 * q], 0);
            } else {
                for (std::size_t q = 0; q < q_steps; ++q)
                    panel[q * MR + r] = 0;
            }
        }
    }
}

/// B panels of NR columns; element (q, c) is the pair (b[2q][c], b[2q + 1][c]).
template <int NR>
VDNN_INLINE void pack_b_s8(const std::int8_t* b, std::size_t ldb, std::size_t kc, std::size_t nc, std::uint32_t* out) {
    const std::size_t q_steps = (kc + 1) / 2;
    for (std::size_t j = 0; j < nc; j += NR) {
        const std::size_t cols = std::min<std::size_t>(NR, nc - j);
        std::uint32_t* panel = out + j * q_steps;
        for (std::size_t q = 0; q < q_steps; ++q) {
            const std::int8_t* lo = b + 2 * q * ldb + j;
            const bool has_hi = 2 * q + 1 < kc;
            const std::int8_t* hi = has_hi ? lo + ldb : lo; // never a pointer past B's end
            std::uint32_t* dst = panel + q * NR;
            for (std::size_t c = 0; c < cols; ++c)
                dst[c] = pair16(lo[c], has_hi ? hi[c] : std::int8_t{0});
            for (std::size_t c = cols; c < NR; ++c)
                dst[c] = 0;
        }
    }
}

/// Writes an int32 tile (row stride NR) into C, adding when load_c (wrapping). Every int8
/// micro-kernel ends here: one store and reload of the tile per kc block is noise next to the
/// kc steps that computed it, and it keeps the edge and accumulate logic in one place.
template <std::size_t NR>
VDNN_INLINE void store_tile_s32(const std::int32_t* tile, std::int32_t* c, std::size_t ldc, std::size_t mr, std::size_t nr,
                                bool load_c) {
    if (nr == NR) {
        for (std::size_t i = 0; i < mr; ++i) {
            std::int32_t* row = c + i * ldc;
            const std::int32_t* t = tile + i * NR;
            if (load_c)
                for (std::size_t j = 0; j < NR; ++j)
                    row[j] = wrap_add(row[j], t[j]);
            else
                std::memcpy(row, t, NR * sizeof(std::int32_t));
        }
        return;
    }
    for (std::size_t i = 0; i < mr; ++i)
        for (std::size_t j = 0; j < nr; ++j)
            c[i * ldc + j] = load_c ? wrap_add(c[i * ldc + j], tile[i * NR + j]) : tile[i * NR + j];
}

/// Portable int8 micro-kernel: the lanes of pmaddwd, spelled out (sign-extend each int16
/// half, multiply, add), 4 lanes per vector.
template <int MR, int NV>
VDNN_INLINE void micro_s8_generic(std::size_t steps, const std::uint32_t* ap, const std::uint32_t* bp, std::int32_t* c,
                                  std::size_t ldc, std::size_t mr, std::size_t nr, bool load_c) {
    constexpr int W = 4;
    constexpr int NR = NV * W;
    i32x4 acc[MR][NV];
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
        for (int j = 0; j < NV; ++j)
            acc[i][j] = i32x4{};
    for (std::size_t q = 0; q < steps; ++q) {
        i32x4 blo[NV], bhi[NV];
#pragma GCC unroll 4
        for (int j = 0; j < NV; ++j) {
            i32x4 v;
            std::memcpy(&v, bp + j * W, sizeof v);
            // Shifts on unsigned lanes, then an arithmetic shift: sign-extends each half.
            blo[j] = reinterpret_cast<i32x4>(reinterpret_cast<u32x4>(v) << 16) >> 16;
            bhi[j] = v >> 16;
        }
#pragma GCC unroll 32
        for (int i = 0; i < MR; ++i) {
            const std::int32_t w = static_cast<std::int32_t>(ap[i]);
            const std::int32_t alo = static_cast<std::int16_t>(w & 0xffff), ahi = w >> 16;
#pragma GCC unroll 4
            for (int j = 0; j < NV; ++j)
                acc[i][j] += alo * blo[j] + ahi * bhi[j];
        }
        ap += MR;
        bp += NR;
    }
    alignas(64) std::int32_t tile[MR * NR];
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
        for (int j = 0; j < NV; ++j)
            std::memcpy(tile + i * NR + j * W, &acc[i][j], sizeof(i32x4));
    store_tile_s32<NR>(tile, c, ldc, mr, nr, load_c);
}

template <int MR, int NV, std::size_t KC, std::size_t MC, std::size_t NC>
struct s8_config_base {
    using in_type = std::int8_t;
    using out_type = std::int32_t;
    using packed_type = std::uint32_t;
    static constexpr std::size_t mr = MR, kc = KC, mc = MC, nc = NC;
    static constexpr std::size_t k_steps(std::size_t k) noexcept { return (k + 1) / 2; }
};

template <int MR, int NV, std::size_t KC, std::size_t MC, std::size_t NC>
struct s8_generic_config : s8_config_base<MR, NV, KC, MC, NC> {
    static constexpr std::size_t nr = NV * 4;
    static VDNN_INLINE void pack_a(const std::int8_t* a, std::size_t lda, std::size_t m, std::size_t k, std::uint32_t* out) {
        pack_a_s8<MR>(a, lda, m, k, out);
    }
    static VDNN_INLINE void pack_b(const std::int8_t* b, std::size_t ldb, std::size_t k, std::size_t n, std::uint32_t* out) {
        pack_b_s8<nr>(b, ldb, k, n, out);
    }
    static VDNN_INLINE void kernel(std::size_t steps, const std::uint32_t* ap, const std::uint32_t* bp, std::int32_t* c,
                                   std::size_t ldc, std::size_t m, std::size_t n, bool load_c) {
        micro_s8_generic<MR, NV>(steps, ap, bp, c, ldc, m, n, load_c);
    }
};

#if VDNN_X86

/// AVX2: an MR x 16 tile of int32 in 2 * MR ymm registers, one vpmaddwd + vpaddd per 16
/// products.
template <int MR>
VDNN_TARGET("avx2,fma")
inline void micro_s8_avx2(std::size_t steps, const std::uint32_t* ap, const std::uint32_t* bp, std::int32_t* c,
                          std::size_t ldc, std::size_t mr, std::size_t nr, bool load_c) {
    __m256i acc[MR][2];
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i)
        acc[i][0] = acc[i][1] = _mm256_setzero_si256();
    for (std::size_t q = 0; q < steps; ++q) {
        const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bp));
        const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bp + 8));
#pragma GCC unroll 32
        for (int i = 0; i < MR; ++i) {
            const __m256i a = _mm256_set1_epi32(static_cast<int>(ap[i]));
            acc[i][0] = _mm256_add_epi32(acc[i][0], _mm256_madd_epi16(a, b0));
            acc[i][1] = _mm256_add_epi32(acc[i][1], _mm256_madd_epi16(a, b1));
        }
        ap += MR;
        bp += 16;
    }
    alignas(64) std::int32_t tile[MR * 16];
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i) {
        _mm256_store_si256(reinterpret_cast<__m256i*>(tile + i * 16), acc[i][0]);
        _mm256_store_si256(reinterpret_cast<__m256i*>(tile + i * 16 + 8), acc[i][1]);
    }
    store_tile_s32<16>(tile, c, ldc, mr, nr, load_c);
}

/// AVX-512 BW: an MR x 32 tile in 2 * MR zmm registers.
template <int MR>
VDNN_TARGET("avx2,fma,avx512f,avx512bw")
inline void micro_s8_avx512(std::size_t steps, const std::uint32_t* ap, const std::uint32_t* bp, std::int32_t* c,
                            std::size_t ldc, std::size_t mr, std::size_t nr, bool load_c) {
    __m512i acc[MR][2];
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i)
        acc[i][0] = acc[i][1] = _mm512_setzero_si512();
    for (std::size_t q = 0; q < steps; ++q) {
        const __m512i b0 = _mm512_loadu_si512(bp);
        const __m512i b1 = _mm512_loadu_si512(bp + 16);
#pragma GCC unroll 32
        for (int i = 0; i < MR; ++i) {
            const __m512i a = _mm512_set1_epi32(static_cast<int>(ap[i]));
            acc[i][0] = _mm512_add_epi32(acc[i][0], _mm512_madd_epi16(a, b0));
            acc[i][1] = _mm512_add_epi32(acc[i][1], _mm512_madd_epi16(a, b1));
        }
        ap += MR;
        bp += 32;
    }
    alignas(64) std::int32_t tile[MR * 32];
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i) {
        _mm512_store_si512(tile + i * 32, acc[i][0]);
        _mm512_store_si512(tile + i * 32 + 16, acc[i][1]);
    }
    store_tile_s32<32>(tile, c, ldc, mr, nr, load_c);
}

/// AVX-512 VNNI: as above, the multiply-add and the accumulation in one vpdpwssd. A separate
/// function rather than a flag: code compiled for VNNI must never run on a CPU without it.
template <int MR>
VDNN_TARGET("avx2,fma,avx512f,avx512bw,avx512vnni")
inline void micro_s8_avx512_vnni(std::size_t steps, const std::uint32_t* ap, const std::uint32_t* bp, std::int32_t* c,
                                 std::size_t ldc, std::size_t mr, std::size_t nr, bool load_c) {
    __m512i acc[MR][2];
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i)
        acc[i][0] = acc[i][1] = _mm512_setzero_si512();
    for (std::size_t q = 0; q < steps; ++q) {
        const __m512i b0 = _mm512_loadu_si512(bp);
        const __m512i b1 = _mm512_loadu_si512(bp + 16);
#pragma GCC unroll 32
        for (int i = 0; i < MR; ++i) {
            const __m512i a = _mm512_set1_epi32(static_cast<int>(ap[i]));
            acc[i][0] = _mm512_dpwssd_epi32(acc[i][0], a, b0);
            acc[i][1] = _mm512_dpwssd_epi32(acc[i][1], a, b1);
        }
        ap += MR;
        bp += 32;
    }
    alignas(64) std::int32_t tile[MR * 32];
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i) {
        _mm512_store_si512(tile + i * 32, acc[i][0]);
        _mm512_store_si512(tile + i * 32 + 16, acc[i][1]);
    }
    store_tile_s32<32>(tile, c, ldc, mr, nr, load_c);
}

template <int MR, std::size_t NR, std::size_t KC, std::size_t MC, std::size_t NC, class Kernel>
struct s8_x86_config : s8_config_base<MR, 0, KC, MC, NC> {
    static constexpr std::size_t nr = NR;
    static VDNN_INLINE void pack_a(const std::int8_t* a, std::size_t lda, std::size_t m, std::size_t k, std::uint32_t* out) {
        pack_a_s8<MR>(a, lda, m, k, out);
    }
    static VDNN_INLINE void pack_b(const std::int8_t* b, std::size_t ldb, std::size_t k, std::size_t n, std::uint32_t* out) {
        pack_b_s8<NR>(b, ldb, k, n, out);
    }
    static VDNN_INLINE void kernel(std::size_t steps, const std::uint32_t* ap, const std::uint32_t* bp, std::int32_t* c,
                                   std::size_t ldc, std::size_t m, std::size_t n, bool load_c) {
        Kernel::template run<MR>(steps, ap, bp, c, ldc, m, n, load_c);
    }
};
struct s8_avx2_kernel {
    template <int MR>
    static VDNN_INLINE void run(std::size_t s, const std::uint32_t* ap, const std::uint32_t* bp, std::int32_t* c,
                                std::size_t ldc, std::size_t m, std::size_t n, bool l) {
        micro_s8_avx2<MR>(s, ap, bp, c, ldc, m, n, l);
    }
};
struct s8_avx512_kernel {
    template <int MR>
    static VDNN_INLINE void run(std::size_t s, const std::uint32_t* ap, const std::uint32_t* bp, std::int32_t* c,
                                std::size_t ldc, std::size_t m, std::size_t n, bool l) {
        micro_s8_avx512<MR>(s, ap, bp, c, ldc, m, n, l);
    }
};
struct s8_avx512_vnni_kernel {
    template <int MR>
    static VDNN_INLINE void run(std::size_t s, const std::uint32_t* ap, const std::uint32_t* bp, std::int32_t* c,
                                std::size_t ldc, std::size_t m, std::size_t n, bool l) {
        micro_s8_avx512_vnni<MR>(s, ap, bp, c, ldc, m, n, l);
    }
};

#endif // VDNN_X86

// ---- the blocked driver ----------------------------------------------------------------------

template <class Cfg>
VDNN_INLINE void gemm_blocked(std::size_t m, std::size_t n, std::size_t k, const typename Cfg::in_type* a,
                              std::size_t lda, const typename Cfg::in_type* b, std::size_t ldb,
                              typename Cfg::out_type* c, std::size_t ldc, bool accumulate, workspace& ws) {
    using P = typename Cfg::packed_type;
    constexpr std::size_t MR = Cfg::mr, NR = Cfg::nr;
    const std::size_t kc_max = std::min(Cfg::kc, k);
    const std::size_t steps_max = Cfg::k_steps(kc_max);
    P* bpack = ws.b_pack.as<P>(round_up(std::min(Cfg::nc, n), NR) * steps_max);
    P* apack = ws.a_pack.as<P>(round_up(std::min(Cfg::mc, m), MR) * steps_max);
    for (std::size_t jc = 0; jc < n; jc += Cfg::nc) {
        const std::size_t nc = std::min(Cfg::nc, n - jc);
        for (std::size_t pc = 0; pc < k; pc += Cfg::kc) {
            const std::size_t kc = std::min(Cfg::kc, k - pc);
            const std::size_t steps = Cfg::k_steps(kc);
            Cfg::pack_b(b + pc * ldb + jc, ldb, kc, nc, bpack);
            // Only the first k block may overwrite C; later ones add their partial sums.
            const bool load_c = accumulate || pc > 0;
            for (std::size_t ic = 0; ic < m; ic += Cfg::mc) {
                const std::size_t mc = std::min(Cfg::mc, m - ic);
                Cfg::pack_a(a + ic * lda + pc, lda, mc, kc, apack);
                for (std::size_t jr = 0; jr < nc; jr += NR)
                    for (std::size_t ir = 0; ir < mc; ir += MR)
                        Cfg::kernel(steps, apack + ir * steps, bpack + jr * steps, c + (ic + ir) * ldc + jc + jr, ldc,
                                    std::min(MR, mc - ir), std::min(NR, nc - jr), load_c);
            }
        }
    }
}

// One compiled copy of the driver per instruction set (the target attribute applies to
// everything inlined into it).
using f32_generic = f32_config<f32x4, 4, 2, 256, 128, 2048>;
using s8_generic = s8_generic_config<4, 2, 512, 128, 2048>;

inline void gemm_f32_generic(std::size_t m, std::size_t n, std::size_t k, const float* a, std::size_t lda,
                             const float* b, std::size_t ldb, float* c, std::size_t ldc, bool acc, workspace& ws) {
    gemm_blocked<f32_generic>(m, n, k, a, lda, b, ldb, c, ldc, acc, ws);
}
inline void gemm_s8_generic(std::size_t m, std::size_t n, std::size_t k, const std::int8_t* a, std::size_t lda,
                            const std::int8_t* b, std::size_t ldb, std::int32_t* c, std::size_t ldc, bool acc,
                            workspace& ws) {
    gemm_blocked<s8_generic>(m, n, k, a, lda, b, ldb, c, ldc, acc, ws);
}

#if VDNN_X86
using f32_avx2 = f32_config<f32x8, 6, 2, 256, 120, 2048>;
using f32_avx512 = f32_config<f32x16, 8, 2, 256, 128, 2048>;
using s8_avx2 = s8_x86_config<6, 16, 512, 120, 2048, s8_avx2_kernel>;
using s8_avx512 = s8_x86_config<8, 32, 512, 128, 2048, s8_avx512_kernel>;
using s8_avx512_vnni = s8_x86_config<8, 32, 512, 128, 2048, s8_avx512_vnni_kernel>;

VDNN_TARGET("avx2,fma")
inline void gemm_f32_avx2(std::size_t m, std::size_t n, std::size_t k, const float* a, std::size_t lda, const float* b,
                          std::size_t ldb, float* c, std::size_t ldc, bool acc, workspace& ws) {
    gemm_blocked<f32_avx2>(m, n, k, a, lda, b, ldb, c, ldc, acc, ws);
}
VDNN_TARGET("avx2,fma,avx512f,avx512bw")
inline void gemm_f32_avx512(std::size_t m, std::size_t n, std::size_t k, const float* a, std::size_t lda,
                            const float* b, std::size_t ldb, float* c, std::size_t ldc, bool acc, workspace& ws) {
    gemm_blocked<f32_avx512>(m, n, k, a, lda, b, ldb, c, ldc, acc, ws);
}
VDNN_TARGET("avx2,fma")
inline void gemm_s8_avx2(std::size_t m, std::size_t n, std::size_t k, const std::int8_t* a, std::size_t lda,
                         const std::int8_t* b, std::size_t ldb, std::int32_t* c, std::size_t ldc, bool acc,
                         workspace& ws) {
    gemm_blocked<s8_avx2>(m, n, k, a, lda, b, ldb, c, ldc, acc, ws);
}
VDNN_TARGET("avx2,fma,avx512f,avx512bw")
inline void gemm_s8_avx512(std::size_t m, std::size_t n, std::size_t k, const std::int8_t* a, std::size_t lda,
                           const std::int8_t* b, std::size_t ldb, std::int32_t* c, std::size_t ldc, bool acc,
                           workspace& ws) {
    gemm_blocked<s8_avx512>(m, n, k, a, lda, b, ldb, c, ldc, acc, ws);
}
VDNN_TARGET("avx2,fma,avx512f,avx512bw,avx512vnni")
inline void gemm_s8_avx512_vnni(std::size_t m, std::size_t n, std::size_t k, const std::int8_t* a, std::size_t lda,
                                const std::int8_t* b, std::size_t ldb, std::int32_t* c, std::size_t ldc, bool acc,
                                workspace& ws) {
    gemm_blocked<s8_avx512_vnni>(m, n, k, a, lda, b, ldb, c, ldc, acc, ws);
}
#endif

} // namespace detail

/// C[m x n] = A[m x k] * B[k x n], or C += A * B with `accumulate`. Row-major; lda >= k,
/// ldb >= n, ldc >= n (elements); m, n, k >= 1. C must not overlap A or B. Runs with
/// usable_isa(want). Throws std::bad_alloc when the workspace cannot grow.
inline void gemm_f32(std::size_t m, std::size_t n, std::size_t k, const float* a, std::size_t lda, const float* b,
                     std::size_t ldb, float* c, std::size_t ldc, bool accumulate, workspace& ws,
                     isa want = best_isa()) {
    switch (usable_isa(want)) {
#if VDNN_X86
    case isa::avx512:
    case isa::avx512_vnni:
        return detail::gemm_f32_avx512(m, n, k, a, lda, b, ldb, c, ldc, accumulate, ws);
    case isa::avx2:
        return detail::gemm_f32_avx2(m, n, k, a, lda, b, ldb, c, ldc, accumulate, ws);
#endif
    default:
        return detail::gemm_f32_generic(m, n, k, a, lda, b, ldb, c, ldc, accumulate, ws);
    }
}

/// The int8 GEMM: int8 A and B, int32 C; k <= 65536 keeps every sum exact; accumulating into
/// C wraps. Otherwise as gemm_f32.
inline void gemm_s8(std::size_t m, std::size_t n, std::size_t k, const std::int8_t* a, std::size_t lda,
                    const std::int8_t* b, std::size_t ldb, std::int32_t* c, std::size_t ldc, bool accumulate,
                    workspace& ws, isa want = best_isa()) {
    switch (usable_isa(want)) {
#if VDNN_X86
    case isa::avx512_vnni:
        return detail::gemm_s8_avx512_vnni(m, n, k, a, lda, b, ldb, c, ldc, accumulate, ws);
    case isa::avx512:
        return detail::gemm_s8_avx512(m, n, k, a, lda, b, ldb, c, ldc, accumulate, ws);
    case isa::avx2:
        return detail::gemm_s8_avx2(m, n, k, a, lda, b, ldb, c, ldc, accumulate, ws);
#endif
    default:
        return detail::gemm_s8_generic(m, n, k, a, lda, b, ldb, c, ldc, accumulate, ws);
    }
}

} // namespace vdnn::kernels

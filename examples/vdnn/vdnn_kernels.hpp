// SPDX-License-Identifier: MIT
#pragma once
/// \file The compute kernels of the vdnn engines, on host memory: GEMM (vdnn_gemm.hpp),
/// convolution, ReLU, element-wise add, copy and fill. The executor (vdnn_engine_exec.hpp)
/// runs them on memory it reached through the MMU; vdnn_reference.hpp has naive versions to
/// check them against.
///
/// The element-wise kernels are written on 16-byte GCC vector types rather than left to the
/// auto-vectoriser: at -O2, GCC 12's cost model vectorises no loop that needs an aliasing
/// check, and these kernels must accept an output equal to an input (in-place ReLU and add).
/// They are memory-bound, so 16 bytes at a time already runs at memory speed; they have no
/// per-ISA versions.
#include "vdnn_gemm.hpp"
#include "vdnn_shapes.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace vdnn::kernels {

namespace detail {

typedef std::int32_t s32x4 __attribute__((vector_size(16)));

/// Writes image rows [j0, j0 + cols) of the im2col matrix of one image: row kk = (c, ki, kj)
/// of the result holds, for each output pixel p in the range, the input value that kernel tap
/// meets at p (0 in the padding). Row stride `cols`.
template <class T>
void im2col(const conv2d_shape& s, const T* img, std::size_t j0, std::size_t cols, T* out) {
    const std::size_t ow = s.out_w();
    T* row = out;
    for (std::size_t ch = 0; ch < s.c; ++ch) {
        const T* plane = img + ch * s.h * s.w;
        for (std::size_t ki = 0; ki < s.kh; ++ki)
            for (std::size_t kj = 0; kj < s.kw; ++kj, row += cols) {
                std::size_t oy = j0 / ow, ox = j0 % ow;
                for (std::size_t jj = 0; jj < cols; ++jj) {
                    // Unsigned with the padding added: y < pad_h is above the image.
                    const std::size_t y = oy * s.stride_h + ki, x = ox * s.stride_w + kj;
                    const bool inside = y >= s.pad_h && y - s.pad_h < s.h && x >= s.pad_w && x - s.pad_w < s.w;
                    row[jj] = inside ? plane[(y - s.pad_h) * s.w + (x - s.pad_w)] : T{};
                    if (++ox == ow) {
                        ox = 0;
                        ++oy;
                    }
                }
            }
    }
}

/// Convolution as GEMMs: out_n[O x P] = W[O x CKK] * col_n[CKK x P] per image, P = OH * OW,
/// over blocks of output pixels so that the im2col buffer stays near `column_budget` bytes
/// however large the image. A 1x1 kernel with stride 1 and no padding needs no im2col: the
/// image itself is the column matrix.
template <class T, class Out, class Gemm>
void conv2d_gemm(const conv2d_shape& s, const T* in, const T* w, Out* out, workspace& ws, Gemm&& gemm) {
    constexpr std::size_t column_budget = std::size_t{1} << 21;
    const std::size_t pixels = s.out_h() * s.out_w(), depth = s.reduction();
    const bool pointwise = s.kh == 1 && s.kw == 1 && s.stride_h == 1 && s.stride_w == 1 && s.pad_h == 0 && s.pad_w == 0;
    std::size_t block = std::max<std::size_t>(64, column_budget / (depth * sizeof(T)));
    block = std::min(block, pixels);
    T* col = pointwise ? nullptr : ws.columns.as<T>(depth * block);
    for (std::size_t img = 0; img < s.n; ++img) {
        const T* image = in + img * s.c * s.h * s.w;
        Out* o = out + img * s.o * pixels;
        if (pointwise) {
            gemm(s.o, pixels, depth, w, depth, image, pixels, o, pixels);
            continue;
        }
        for (std::size_t j0 = 0; j0 < pixels; j0 += block) {
            const std::size_t cols = std::min(block, pixels - j0);
            im2col(s, image, j0, cols, col);
            gemm(s.o, cols, depth, w, depth, col, cols, o + j0, pixels);
        }
    }
}

} // namespace detail

/// fp32 convolution (shape: vdnn_shapes.hpp): out = conv(in, w) (+ bias[o] when bias is not
/// null), then max(0, x) when `relu`. `out` must not overlap the inputs.
inline void conv2d_f32(const conv2d_shape& s, const float* in, const float* w, const float* bias, float* out, bool relu,
                       workspace& ws, isa want = best_isa()) {
    detail::conv2d_gemm(s, in, w, out, ws,
                        [&](std::size_t m, std::size_t n, std::size_t k, const float* a, std::size_t lda, const float* b,
                            std::size_t ldb, float* c, std::size_t ldc) {
                            gemm_f32(m, n, k, a, lda, b, ldb, c, ldc, false, ws, want);
                        });
    if (!bias && !relu)
        return;
    const std::size_t pixels = s.out_h() * s.out_w();
    for (std::size_t img = 0; img < s.n; ++img)
        for (std::size_t oc = 0; oc < s.o; ++oc) {
            float* row = out + (img * s.o + oc) * pixels;
            const float b = bias ? bias[oc] : 0.0f;
            for (std::size_t p = 0; p < pixels; ++p) {
                const float v = row[p] + b;
                row[p] = relu ? (v > 0.0f ? v : 0.0f) : v;
            }
        }
}

/// int8 convolution: int8 input and weights, int32 bias and output (adding the bias wraps).
/// s.reduction() <= 65536 keeps the sums exact.
inline void conv2d_s8(const conv2d_shape& s, const std::int8_t* in, const std::int8_t* w, const std::int32_t* bias,
                      std::int32_t* out, bool relu, workspace& ws, isa want = best_isa()) {
    detail::conv2d_gemm(s, in, w, out, ws,
                        [&](std::size_t m, std::size_t n, std::size_t k, const std::int8_t* a, std::size_t lda,
                            const std::int8_t* b, std::size_t ldb, std::int32_t* c, std::size_t ldc) {
                            gemm_s8(m, n, k, a, lda, b, ldb, c, ldc, false, ws, want);
                        });
    if (!bias && !relu)
        return;
    const std::size_t pixels = s.out_h() * s.out_w();
    for (std::size_t img = 0; img < s.n; ++img)
        for (std::size_t oc = 0; oc < s.o; ++oc) {
            std::int32_t* row = out + (img * s.o + oc) * pixels;
            const std::int32_t b = bias ? bias[oc] : 0;
            for (std::size_t p = 0; p < pixels; ++p) {
                const std::int32_t v = detail::wrap_add(row[p], b);
                row[p] = relu && v < 0 ? 0 : v;
            }
        }
}

/// dst[i] = src[i] > 0 ? src[i] : 0 (so NaN and -0.0 become +0.0); dst may equal src.
inline void relu_f32(const float* src, float* dst, std::size_t n) noexcept {
    using detail::f32x4;
    using detail::s32x4;
    std::size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        f32x4 v;
        std::memcpy(&v, src + i, sizeof v);
        // The comparison's lanes are all-ones or zero: a mask over the value's bits.
        const s32x4 r = reinterpret_cast<s32x4>(v) & (v > 0.0f);
        std::memcpy(dst + i, &r, sizeof r);
    }
    for (; i < n; ++i)
        dst[i] = src[i] > 0.0f ? src[i] : 0.0f;
}

/// dst[i] = max(0, src[i]); dst may equal src.
inline void relu_s32(const std::int32_t* src, std::int32_t* dst, std::size_t n) noexcept {
    using detail::s32x4;
    std::size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s32x4 v;
        std::memcpy(&v, src + i, sizeof v);
        const s32x4 r = v & (v > 0);
        std::memcpy(dst + i, &r, sizeof r);
    }
    for (; i < n; ++i)
        dst[i] = src[i] > 0 ? src[i] : 0;
}

/// dst[i] = a[i] + b[i]; dst may equal a or b.
inline void add_f32(const float* a, const float* b, float* dst, std::size_t n) noexcept {
    using detail::f32x4;
    std::size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        f32x4 x, y;
        std::memcpy(&x, a + i, sizeof x);
        std::memcpy(&y, b + i, sizeof y);
        x += y;
        std::memcpy(dst + i, &x, sizeof x);
    }
    for (; i < n; ++i)
        dst[i] = a[i] + b[i];
}

/// dst[i] = a[i] + b[i], wrapping; dst may equal a or b.
inline void add_s32(const std::int32_t* a, const std::int32_t* b, std::int32_t* dst, std::size_t n) noexcept {
    using detail::u32x4;
    std::size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        u32x4 x, y; // unsigned lanes: the wrap is defined
        std::memcpy(&x, a + i, sizeof x);
        std::memcpy(&y, b + i, sizeof y);
        x += y;
        std::memcpy(dst + i, &x, sizeof x);
    }
    for (; i < n; ++i)
        dst[i] = detail::wrap_add(a[i], b[i]);
}

/// Copies n bytes (overlap allowed).
inline void copy_bytes(void* dst, const void* src, std::size_t n) noexcept {
    if (n) // memmove's pointers must be valid even for 0 bytes
        std::memmove(dst, src, n);
}

/// Fills n bytes with the little-endian bytes of `pattern`, starting with byte `phase` (0..3)
/// of it: a fill split into pieces continues the pattern where the previous piece stopped.
inline void fill_pattern(void* dst, std::size_t n, std::uint32_t pattern, std::size_t phase) noexcept {
    unsigned char bytes[64 + 3];
    for (std::size_t i = 0; i < sizeof bytes; ++i)
        bytes[i] = static_cast<unsigned char>(pattern >> (8 * ((i + phase) % 4)));
    auto* out = static_cast<unsigned char*>(dst);
    std::size_t i = 0;
    for (; i + 64 <= n; i += 64) // 64 is a multiple of 4: every chunk starts at the same phase
        std::memcpy(out + i, bytes, 64);
    if (i < n)
        std::memcpy(out + i, bytes, n - i);
}

} // namespace vdnn::kernels

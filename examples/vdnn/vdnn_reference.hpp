// SPDX-License-Identifier: MIT
#pragma once
/// \file Reference kernels: the definition of each op as the plainest loops, to check the fast
/// kernels (and the executor) against. Same argument conventions as vdnn_kernels.hpp.
///
/// fp32 sums run in double here, so the reference is closer to the exact result than any
/// float summation order: a test bounds the fast kernel's error against it. int8 sums run in
/// int64 and are exact; the result is reduced to int32 by wrapping, as the device defines it.
#include "vdnn_shapes.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>

namespace vdnn::reference {

using kernels::conv2d_shape;

namespace detail {
constexpr std::int32_t wrap32(std::int64_t v) noexcept {
    return static_cast<std::int32_t>(static_cast<std::uint32_t>(static_cast<std::uint64_t>(v)));
}
} // namespace detail

inline void gemm_f32(std::size_t m, std::size_t n, std::size_t k, const float* a, std::size_t lda, const float* b,
                     std::size_t ldb, float* c, std::size_t ldc, bool accumulate) {
    for (std::size_t i = 0; i < m; ++i)
        for (std::size_t j = 0; j < n; ++j) {
            double sum = accumulate ? c[i * ldc + j] : 0.0;
            for (std::size_t p = 0; p < k; ++p)
                sum += static_cast<double>(a[i * lda + p]) * b[p * ldb + j];
            c[i * ldc + j] = static_cast<float>(sum);
        }
}

inline void gemm_s8(std::size_t m, std::size_t n, std::size_t k, const std::int8_t* a, std::size_t lda,
                    const std::int8_t* b, std::size_t ldb, std::int32_t* c, std::size_t ldc, bool accumulate) {
    for (std::size_t i = 0; i < m; ++i)
        for (std::size_t j = 0; j < n; ++j) {
            std::int64_t sum = accumulate ? c[i * ldc + j] : 0;
            for (std::size_t p = 0; p < k; ++p)
                sum += static_cast<std::int64_t>(a[i * lda + p]) * b[p * ldb + j];
            c[i * ldc + j] = detail::wrap32(sum);
        }
}

namespace detail {
/// The convolution sum at one output position, or 0-padding, in accumulator type Acc.
template <class Acc, class T>
Acc conv_at(const conv2d_shape& s, const T* in, const T* w, std::size_t img, std::size_t oc, std::size_t oy,
            std::size_t ox) {
    Acc sum = 0;
    for (std::size_t ch = 0; ch < s.c; ++ch)
        for (std::size_t ki = 0; ki < s.kh; ++ki)
            for (std::size_t kj = 0; kj < s.kw; ++kj) {
                const long long y = static_cast<long long>(oy * s.stride_h + ki) - static_cast<long long>(s.pad_h);
                const long long x = static_cast<long long>(ox * s.stride_w + kj) - static_cast<long long>(s.pad_w);
                if (y < 0 || x < 0 || y >= static_cast<long long>(s.h) || x >= static_cast<long long>(s.w))
                    continue;
                const Acc iv = in[((img * s.c + ch) * s.h + static_cast<std::size_t>(y)) * s.w + static_cast<std::size_t>(x)];
                const Acc wv = w[((oc * s.c + ch) * s.kh + ki) * s.kw + kj];
                sum += iv * wv;
            }
    return sum;
}
} // namespace detail

inline void conv2d_f32(const conv2d_shape& s, const float* in, const float* w, const float* bias, float* out,
                       bool relu) {
    const std::size_t oh = s.out_h(), ow = s.out_w();
    for (std::size_t img = 0; img < s.n; ++img)
        for (std::size_t oc = 0; oc < s.o; ++oc)
            for (std::size_t y = 0; y < oh; ++y)
                for (std::size_t x = 0; x < ow; ++x) {
                    double v = detail::conv_at<double>(s, in, w, img, oc, y, x) + (bias ? bias[oc] : 0.0);
                    auto r = static_cast<float>(v);
                    out[((img * s.o + oc) * oh + y) * ow + x] = relu && !(r > 0.0f) ? 0.0f : r;
                }
}

inline void conv2d_s8(const conv2d_shape& s, const std::int8_t* in, const std::int8_t* w, const std::int32_t* bias,
                      std::int32_t* out, bool relu) {
    const std::size_t oh = s.out_h(), ow = s.out_w();
    for (std::size_t img = 0; img < s.n; ++img)
        for (std::size_t oc = 0; oc < s.o; ++oc)
            for (std::size_t y = 0; y < oh; ++y)
                for (std::size_t x = 0; x < ow; ++x) {
                    const std::int32_t v =
                        detail::wrap32(detail::conv_at<std::int64_t>(s, in, w, img, oc, y, x) + (bias ? bias[oc] : 0));
                    out[((img * s.o + oc) * oh + y) * ow + x] = relu && v < 0 ? 0 : v;
                }
}

inline void relu_f32(const float* src, float* dst, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i)
        dst[i] = src[i] > 0.0f ? src[i] : 0.0f;
}
inline void relu_s32(const std::int32_t* src, std::int32_t* dst, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i)
        dst[i] = src[i] > 0 ? src[i] : 0;
}
inline void add_f32(const float* a, const float* b, float* dst, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i)
        dst[i] = a[i] + b[i];
}
inline void add_s32(const std::int32_t* a, const std::int32_t* b, std::int32_t* dst, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i)
        dst[i] = detail::wrap32(static_cast<std::int64_t>(a[i]) + b[i]);
}
inline void copy_bytes(void* dst, const void* src, std::size_t n) {
    auto* d = static_cast<unsigned char*>(dst);
    const auto* s = static_cast<const unsigned char*>(src);
    if (std::less<>{}(d, s)) // std::less: a total order even over unrelated pointers
        for (std::size_t i = 0; i < n; ++i)
            d[i] = s[i];
    else
        for (std::size_t i = n; i-- > 0;)
            d[i] = s[i];
}
inline void fill_pattern(void* dst, std::size_t n, std::uint32_t pattern, std::size_t phase) {
    auto* d = static_cast<unsigned char*>(dst);
    for (std::size_t i = 0; i < n; ++i)
        d[i] = static_cast<unsigned char>(pattern >> (8 * ((i + phase) % 4)));
}

} // namespace vdnn::reference

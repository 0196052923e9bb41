// SPDX-License-Identifier: MIT
#pragma once
/// \file The convolution's shape, shared by the fast kernels, the reference kernels and the
/// command validator (which is what guarantees the preconditions below for commands).
#include <cstddef>

namespace vdnn::kernels {

/// NCHW input, OIHW weights, NOHW output. Preconditions: every size >= 1, strides >= 1,
/// kh <= h + 2 pad_h and kw <= w + 2 pad_w (at least one output pixel), pad_h < kh and
/// pad_w < kw (every output pixel sees at least one input pixel).
struct conv2d_shape {
    std::size_t n = 1, c = 1, h = 1, w = 1; ///< input
    std::size_t o = 1, kh = 1, kw = 1;      ///< output channels, kernel
    std::size_t stride_h = 1, stride_w = 1;
    std::size_t pad_h = 0, pad_w = 0;       ///< zeros on each side

    constexpr std::size_t out_h() const noexcept { return (h + 2 * pad_h - kh) / stride_h + 1; }
    constexpr std::size_t out_w() const noexcept { return (w + 2 * pad_w - kw) / stride_w + 1; }
    constexpr std::size_t input_elems() const noexcept { return n * c * h * w; }
    constexpr std::size_t weight_elems() const noexcept { return o * c * kh * kw; }
    constexpr std::size_t output_elems() const noexcept { return n * o * out_h() * out_w(); }
    /// Products summed into one output value.
    constexpr std::size_t reduction() const noexcept { return c * kh * kw; }
};

} // namespace vdnn::kernels

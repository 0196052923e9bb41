// SPDX-License-Identifier: MIT
#pragma once
/// \file Shapes shared by the kernels, the command validator and the executor: a convolution's
/// geometry, and the region of device memory an operand occupies. The validator is what
/// guarantees the preconditions below for commands.
#include <cstddef>
#include <cstdint>

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

namespace vdnn {

using u32 = std::uint32_t;
using u64 = std::uint64_t;

/// A region of device VA an op reads or writes: `rows` rows of `row_bytes`, each `stride`
/// bytes after the previous (a 1-D operand is one row). rows == 0: no operand (a convolution
/// without bias). For a validated command nothing here overflows.
struct operand {
    u64 va = 0;
    u64 rows = 0;
    u64 row_bytes = 0;
    u64 stride = 0;

    constexpr bool present() const noexcept { return rows != 0 && row_bytes != 0; }
    /// Bytes actually touched.
    constexpr u64 bytes() const noexcept { return rows * row_bytes; }
    /// From the first byte to the last, stride gaps included.
    constexpr u64 span() const noexcept { return rows ? (rows - 1) * stride + row_bytes : 0; }
    /// Dense rows are one run of bytes: walking it as one row makes fewer, longer pieces.
    constexpr operand flattened() const noexcept {
        return rows > 1 && stride == row_bytes ? operand{va, 1, rows * row_bytes, rows * row_bytes} : *this;
    }
};

} // namespace vdnn

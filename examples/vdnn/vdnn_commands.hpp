// SPDX-License-Identifier: MIT
#pragma once
/// \file The command stream (vdnn_uapi.h): parsing, validation, and the memory each command
/// touches.
///
/// validate() is what SUBMIT runs on the copied command buffer, so that a malformed stream
/// fails the ioctl with -EINVAL instead of becoming a job that faults later. It checks
/// everything that does not depend on the VA space:
///  - the stream: 1..max_bytes long, a multiple of 8, commands back to back up to its end;
///  - each header: a known op the engine runs, length_bytes equal to the op's struct size (a
///    length that runs past the end of the stream is the same error);
///  - each op: known dtype and flags, reserved fields 0, dimensions in [1, VDNN_MAX_DIM],
///    strides at least the row length, reductions <= VDNN_MAX_REDUCTION, convolution geometry
///    (kernel within the padded image, padding below the kernel size);
///  - sizes: every product is computed with overflow checks (__builtin_mul_overflow), a GEMM or
///    convolution operand covers at most VDNN_MAX_TENSOR_BYTES, an element count's byte size
///    fits in 64 bits;
///  - addresses: every VA aligned to its element size, no range wraps past 2^64, and the overlap
///    rules of the uAPI (in-place RELU/ADD only; COPY ranges disjoint).
/// Whether the VAs are mapped is the executor's business (a fault at run time).
///
/// The header copies each command out of the stream with memcpy: a command buffer is only
/// 8-byte aligned and the engines must never act on a value that changes under them (the
/// driver copies the stream from the BO at SUBMIT for the same reason).
#include "vdnn_shapes.hpp"
#include "vdnn_uapi.h"

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <span>
#include <type_traits>
#include <variant>
#include <vector>

namespace vdnn {

using u32 = std::uint32_t;
using u64 = std::uint64_t;

constexpr u32 op_bit(u32 op) noexcept { return op < 32 ? u32{1} << op : 0; }

/// Ops of each engine: the DMA engine moves and sets bytes; the compute engines run everything.
inline constexpr u32 dma_engine_ops = op_bit(VDNN_OP_COPY) | op_bit(VDNN_OP_FILL) | op_bit(VDNN_OP_NOP);
inline constexpr u32 compute_engine_ops =
    dma_engine_ops | op_bit(VDNN_OP_GEMM) | op_bit(VDNN_OP_CONV2D) | op_bit(VDNN_OP_RELU) | op_bit(VDNN_OP_ADD);

/// What a stream may hold.
struct stream_limits {
    u64 max_bytes = VDNN_MAX_CMD_SIZE;
    u32 ops = compute_engine_ops; ///< op_bit() of each accepted op
};

/// The limits of a stream for `engine` (VDNN_ENGINE_*); DEBUG_HANG only with the driver's
/// debug switch. An unknown engine accepts nothing.
constexpr stream_limits limits_for_engine(u32 engine, bool debug_hang) noexcept {
    stream_limits l;
    l.ops = engine == VDNN_ENGINE_DMA                                         ? dma_engine_ops
            : engine == VDNN_ENGINE_COMPUTE0 || engine == VDNN_ENGINE_COMPUTE1 ? compute_engine_ops
                                                                               : 0;
    if (debug_hang && l.ops)
        l.ops |= op_bit(VDNN_OP_DEBUG_HANG);
    return l;
}

/// One decoded command.
using command = std::variant<vdnn_cmd_gemm, vdnn_cmd_conv2d, vdnn_cmd_relu, vdnn_cmd_add, vdnn_cmd_copy, vdnn_cmd_fill,
                             vdnn_cmd_nop, vdnn_cmd_debug_hang>;

/// The size of op's struct, 0 for an unknown op.
constexpr std::size_t command_size(u32 op) noexcept {
    switch (op) {
    case VDNN_OP_GEMM:
        return sizeof(vdnn_cmd_gemm);
    case VDNN_OP_CONV2D:
        return sizeof(vdnn_cmd_conv2d);
    case VDNN_OP_RELU:
        return sizeof(vdnn_cmd_relu);
    case VDNN_OP_ADD:
        return sizeof(vdnn_cmd_add);
    case VDNN_OP_COPY:
        return sizeof(vdnn_cmd_copy);
    case VDNN_OP_FILL:
        return sizeof(vdnn_cmd_fill);
    case VDNN_OP_NOP:
        return sizeof(vdnn_cmd_nop);
    case VDNN_OP_DEBUG_HANG:
        return sizeof(vdnn_cmd_debug_hang);
    default:
        return 0;
    }
}

// ---- the memory a command touches ----------------------------------------------------------------

constexpr operand flat_operand(u64 va, u64 bytes) noexcept { return {va, 1, bytes, bytes}; }
constexpr operand matrix_operand(u64 va, u64 rows, u64 cols, u64 ld, u64 elem) noexcept {
    return {va, rows, cols * elem, ld * elem};
}

constexpr u64 gemm_in_size(const vdnn_cmd_gemm& g) noexcept { return g.dtype == VDNN_DTYPE_INT8 ? 1 : 4; }

struct gemm_operands {
    operand a, b, c;
};
constexpr gemm_operands operands_of(const vdnn_cmd_gemm& g) noexcept {
    const u64 e = gemm_in_size(g);
    return {matrix_operand(g.a, g.m, g.k, g.lda, e), matrix_operand(g.b, g.k, g.n, g.ldb, e),
            matrix_operand(g.c, g.m, g.n, g.ldc, 4)};
}

constexpr kernels::conv2d_shape shape_of(const vdnn_cmd_conv2d& c) noexcept {
    return {c.n, c.c, c.h, c.w, c.o, c.kh, c.kw, c.stride_h, c.stride_w, c.pad_h, c.pad_w};
}

struct conv2d_operands {
    operand input, weights, bias, output;
};
constexpr conv2d_operands operands_of(const vdnn_cmd_conv2d& c) noexcept {
    const kernels::conv2d_shape s = shape_of(c);
    const u64 e = c.dtype == VDNN_DTYPE_INT8 ? 1 : 4;
    return {flat_operand(c.input, s.input_elems() * e), flat_operand(c.weights, s.weight_elems() * e),
            (c.flags & VDNN_CONV2D_BIAS) ? flat_operand(c.bias, s.o * 4) : operand{},
            flat_operand(c.output, s.output_elems() * 4)};
}

// ---- validation ------------------------------------------------------------------------------------

namespace detail {

constexpr bool mul(u64 a, u64 b, u64& r) noexcept { return !__builtin_mul_overflow(a, b, &r); }

constexpr bool dim_ok(u64 d) noexcept { return d >= 1 && d <= VDNN_MAX_DIM; }

/// -EINVAL unless [va, va + bytes) is non-empty, does not pass 2^64 and va is aligned.
constexpr int check_range(u64 va, u64 bytes, u64 align) noexcept {
    if (bytes == 0 || (va & (align - 1)) || va > ~u64{0} - (bytes - 1))
        return -EINVAL;
    return 0;
}

/// A rows x cols matrix of `elem`-byte elements, rows `ld` elements apart: its span (checked)
/// within VDNN_MAX_TENSOR_BYTES and its VA range.
constexpr int check_matrix(u64 va, u64 rows, u64 cols, u64 ld, u64 elem) noexcept {
    u64 gap_elems = 0, span = 0;
    if (ld < cols || !mul(rows - 1, ld, gap_elems) || gap_elems > ~u64{0} - cols || !mul(gap_elems + cols, elem, span) ||
        span > VDNN_MAX_TENSOR_BYTES)
        return -EINVAL;
    return check_range(va, span, elem);
}

/// A dense tensor of `count` elements (a product of dims, checked) of `elem` bytes.
constexpr int check_tensor(u64 va, std::initializer_list<u64> dims, u64 elem, u64 limit = VDNN_MAX_TENSOR_BYTES) noexcept {
    u64 bytes = elem;
    for (u64 d : dims)
        if (!mul(bytes, d, bytes))
            return -EINVAL;
    if (bytes > limit)
        return -EINVAL;
    return check_range(va, bytes, elem);
}

/// [a, a + bytes) and [b, b + bytes) share a byte (both ranges already checked not to wrap).
constexpr bool overlap(u64 a, u64 b, u64 bytes) noexcept { return a <= b + (bytes - 1) && b <= a + (bytes - 1); }

constexpr int check(const vdnn_cmd_gemm& g) noexcept {
    if ((g.dtype != VDNN_DTYPE_FP32 && g.dtype != VDNN_DTYPE_INT8) || (g.flags & ~u32{VDNN_GEMM_ACCUMULATE}))
        return -EINVAL;
    if (!dim_ok(g.m) || !dim_ok(g.n) || !dim_ok(g.k) || g.k > VDNN_MAX_REDUCTION)
        return -EINVAL;
    const u64 e = gemm_in_size(g);
    if (int r = check_matrix(g.a, g.m, g.k, g.lda, e))
        return r;
    if (int r = check_matrix(g.b, g.k, g.n, g.ldb, e))
        return r;
    return check_matrix(g.c, g.m, g.n, g.ldc, 4);
}

constexpr int check(const vdnn_cmd_conv2d& c) noexcept {
    if ((c.dtype != VDNN_DTYPE_FP32 && c.dtype != VDNN_DTYPE_INT8) ||
        (c.flags & ~u32{VDNN_CONV2D_BIAS | VDNN_CONV2D_RELU}) || c.pad != 0)
        return -EINVAL;
    if (!(c.flags & VDNN_CONV2D_BIAS) && c.bias != 0)
        return -EINVAL;
    for (u64 d : {c.n, c.c, c.h, c.w, c.o, c.kh, c.kw, c.stride_h, c.stride_w})
        if (!dim_ok(d))
            return -EINVAL;
    // Dims are <= 2^16, so these sums cannot overflow.
    if (c.pad_h >= c.kh || c.pad_w >= c.kw || c.kh > u64{c.h} + 2 * u64{c.pad_h} || c.kw > u64{c.w} + 2 * u64{c.pad_w})
        return -EINVAL;
    u64 depth;
    if (!mul(u64{c.c} * c.kh, c.kw, depth) || depth > VDNN_MAX_REDUCTION)
        return -EINVAL;
    const kernels::conv2d_shape s = shape_of(c);
    const u64 e = c.dtype == VDNN_DTYPE_INT8 ? 1 : 4;
    if (int r = check_tensor(c.input, {c.n, c.c, c.h, c.w}, e))
        return r;
    if (int r = check_tensor(c.weights, {c.o, c.c, c.kh, c.kw}, e))
        return r;
    if (int r = check_tensor(c.output, {c.n, c.o, s.out_h(), s.out_w()}, 4))
        return r;
    if (c.flags & VDNN_CONV2D_BIAS)
        return check_tensor(c.bias, {c.o}, 4);
    return 0;
}

/// count elements of 4 bytes: their byte size, checked to fit in 64 bits.
constexpr int elementwise_bytes(u32 dtype, u32 flags, u64 count, u64& bytes) noexcept {
    if ((dtype != VDNN_DTYPE_FP32 && dtype != VDNN_DTYPE_INT32) || flags != 0 || count == 0 || !mul(count, 4, bytes))
        return -EINVAL;
    return 0;
}

constexpr int check(const vdnn_cmd_relu& r) noexcept {
    u64 bytes = 0;
    if (int e = elementwise_bytes(r.dtype, r.flags, r.count, bytes))
        return e;
    if (check_range(r.src, bytes, 4) || check_range(r.dst, bytes, 4))
        return -EINVAL;
    return r.dst != r.src && overlap(r.src, r.dst, bytes) ? -EINVAL : 0;
}

constexpr int check(const vdnn_cmd_add& a) noexcept {
    u64 bytes = 0;
    if (int e = elementwise_bytes(a.dtype, a.flags, a.count, bytes))
        return e;
    if (check_range(a.a, bytes, 4) || check_range(a.b, bytes, 4) || check_range(a.dst, bytes, 4))
        return -EINVAL;
    if ((a.dst != a.a && overlap(a.a, a.dst, bytes)) || (a.dst != a.b && overlap(a.b, a.dst, bytes)))
        return -EINVAL;
    return 0;
}

constexpr int check(const vdnn_cmd_copy& c) noexcept {
    if (check_range(c.src, c.bytes, 1) || check_range(c.dst, c.bytes, 1) || overlap(c.src, c.dst, c.bytes))
        return -EINVAL;
    return 0;
}

constexpr int check(const vdnn_cmd_fill& f) noexcept { return f.flags != 0 ? -EINVAL : check_range(f.dst, f.bytes, 1); }
constexpr int check(const vdnn_cmd_nop&) noexcept { return 0; }
constexpr int check(const vdnn_cmd_debug_hang&) noexcept { return 0; }

template <class T>
command decode_as(const std::byte* p) noexcept {
    static_assert(std::is_trivially_copyable_v<T> && sizeof(T) % 8 == 0);
    T t;
    std::memcpy(&t, p, sizeof t);
    return t;
}

inline command decode(u32 op, const std::byte* p) noexcept {
    switch (op) {
    case VDNN_OP_GEMM:
        return decode_as<vdnn_cmd_gemm>(p);
    case VDNN_OP_CONV2D:
        return decode_as<vdnn_cmd_conv2d>(p);
    case VDNN_OP_RELU:
        return decode_as<vdnn_cmd_relu>(p);
    case VDNN_OP_ADD:
        return decode_as<vdnn_cmd_add>(p);
    case VDNN_OP_COPY:
        return decode_as<vdnn_cmd_copy>(p);
    case VDNN_OP_FILL:
        return decode_as<vdnn_cmd_fill>(p);
    case VDNN_OP_NOP:
        return decode_as<vdnn_cmd_nop>(p);
    default:
        return decode_as<vdnn_cmd_debug_hang>(p);
    }
}

} // namespace detail

/// One command's own checks (everything but the header), 0 or -EINVAL.
inline int validate_command(const command& c) noexcept {
    return std::visit([](const auto& cmd) { return detail::check(cmd); }, c);
}

/// Walks `stream`, validating as it goes: fn(index, command) for each valid command, in order,
/// stopping at the first invalid one (-EINVAL; *failed_index, when given, is its index, or the
/// number of valid commands for a stream-level error such as a bad size) or at the first
/// non-zero value fn returns (fn may also return void). 0 when every command passed.
template <class Fn>
int for_each_command(std::span<const std::byte> stream, const stream_limits& limits, Fn&& fn,
                     u32* failed_index = nullptr) {
    u32 index = 0;
    auto fail = [&](int e) {
        if (failed_index)
            *failed_index = index;
        return e;
    };
    if (stream.empty() || stream.size() > limits.max_bytes || stream.size() % 8 != 0)
        return fail(-EINVAL);
    std::size_t off = 0;
    while (off < stream.size()) {
        vdnn_cmd_header h; // stream.size() - off is a non-zero multiple of 8: a header fits
        std::memcpy(&h, stream.data() + off, sizeof h);
        const std::size_t size = command_size(h.op);
        if (size == 0 || !(limits.ops & op_bit(h.op)) || h.length_bytes != size || size > stream.size() - off)
            return fail(-EINVAL);
        const command cmd = detail::decode(h.op, stream.data() + off);
        if (int e = validate_command(cmd))
            return fail(e);
        if constexpr (std::is_void_v<std::invoke_result_t<Fn&, u32, const command&>>) {
            fn(index, cmd);
        } else {
            if (int e = fn(index, cmd))
                return fail(e);
        }
        off += size;
        ++index;
    }
    return 0;
}

/// 0 when `stream` is a valid command stream under `limits`, else -EINVAL (see the file
/// comment for what is checked).
inline int validate(std::span<const std::byte> stream, const stream_limits& limits = {},
                    u32* failed_index = nullptr) noexcept {
    return for_each_command(stream, limits, [](u32, const command&) {}, failed_index);
}

// ---- building streams ------------------------------------------------------------------------------

template <class Cmd>
inline constexpr u32 op_of = 0;
template <>
inline constexpr u32 op_of<vdnn_cmd_gemm> = VDNN_OP_GEMM;
template <>
inline constexpr u32 op_of<vdnn_cmd_conv2d> = VDNN_OP_CONV2D;
template <>
inline constexpr u32 op_of<vdnn_cmd_relu> = VDNN_OP_RELU;
template <>
inline constexpr u32 op_of<vdnn_cmd_add> = VDNN_OP_ADD;
template <>
inline constexpr u32 op_of<vdnn_cmd_copy> = VDNN_OP_COPY;
template <>
inline constexpr u32 op_of<vdnn_cmd_fill> = VDNN_OP_FILL;
template <>
inline constexpr u32 op_of<vdnn_cmd_nop> = VDNN_OP_NOP;
template <>
inline constexpr u32 op_of<vdnn_cmd_debug_hang> = VDNN_OP_DEBUG_HANG;

/// Builds a command stream (clients, tests, benchmarks): add() appends a command with its
/// header filled in; raw() appends bytes as they are (for malformed streams).
class stream_writer {
public:
    template <class Cmd>
        requires(op_of<Cmd> != 0)
    stream_writer& add(Cmd cmd) {
        cmd.hdr = {op_of<Cmd>, static_cast<u32>(sizeof(Cmd))};
        return raw(&cmd, sizeof cmd);
    }
    stream_writer& raw(const void* p, std::size_t n) {
        const auto* b = static_cast<const std::byte*>(p);
        buf_.insert(buf_.end(), b, b + n);
        return *this;
    }
    std::span<const std::byte> bytes() const noexcept { return buf_; }
    std::vector<std::byte>& buffer() noexcept { return buf_; }

private:
    std::vector<std::byte> buf_;
};

} // namespace vdnn

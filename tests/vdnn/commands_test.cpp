// SPDX-License-Identifier: MIT
// The command-stream validator: a stream of every op passes; each malformed stream SUBMIT must
// refuse fails with -EINVAL: stream size (empty, not a multiple of 8, above the limit), headers
// (unknown op, length mismatch, truncated or overrunning command, op not on this engine) and
// every op's own rules (dtype, flags, reserved fields, zero and oversized dims, overflowing
// products, tensors above the staging limit, misaligned and wrapping VAs, overlap rules).
#include "vdnn_commands.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

using namespace vdnn;

namespace {

constexpr u64 top = ~u64{0}; // the last byte of the 64-bit space

vdnn_cmd_gemm gemm(u32 dtype = VDNN_DTYPE_FP32) {
    vdnn_cmd_gemm g{};
    g.dtype = dtype;
    g.m = 4;
    g.n = 5;
    g.k = 6;
    g.lda = 6;
    g.ldb = 5;
    g.ldc = 5;
    g.a = 0x10000;
    g.b = 0x20000;
    g.c = 0x30000;
    return g;
}

vdnn_cmd_conv2d conv(u32 dtype = VDNN_DTYPE_FP32) {
    vdnn_cmd_conv2d c{};
    c.dtype = dtype;
    c.n = 1;
    c.c = 3;
    c.h = 8;
    c.w = 8;
    c.o = 4;
    c.kh = 3;
    c.kw = 3;
    c.stride_h = c.stride_w = 1;
    c.pad_h = c.pad_w = 1;
    c.input = 0x10000;
    c.weights = 0x20000;
    c.output = 0x30000;
    return c;
}

vdnn_cmd_relu relu() {
    vdnn_cmd_relu r{};
    r.dtype = VDNN_DTYPE_FP32;
    r.count = 16;
    r.src = 0x1000;
    r.dst = 0x2000;
    return r;
}

vdnn_cmd_add add() {
    vdnn_cmd_add a{};
    a.dtype = VDNN_DTYPE_INT32;
    a.count = 16;
    a.a = 0x1000;
    a.b = 0x2000;
    a.dst = 0x3000;
    return a;
}

vdnn_cmd_copy copy() {
    vdnn_cmd_copy c{};
    c.bytes = 100;
    c.src = 0x1000;
    c.dst = 0x2000;
    return c;
}

vdnn_cmd_fill fill() {
    vdnn_cmd_fill f{};
    f.pattern = 0xdeadbeef;
    f.bytes = 13;
    f.dst = 0x1001;
    return f;
}

template <class Cmd>
int check_one(const Cmd& c, const stream_limits& l = {}) {
    stream_writer w;
    w.add(c);
    return validate(w.bytes(), l);
}

} // namespace

TEST_CASE("validate: a stream with every op passes") {
    stream_writer w;
    w.add(gemm()).add(gemm(VDNN_DTYPE_INT8)).add(conv()).add(conv(VDNN_DTYPE_INT8)).add(relu()).add(add()).add(copy());
    w.add(fill()).add(vdnn_cmd_nop{});
    u32 bad = 99;
    CHECK(validate(w.bytes(), {}, &bad) == 0);
    CHECK(bad == 99); // untouched on success
    u32 n = 0;
    CHECK(for_each_command(w.bytes(), {}, [&](u32 i, const command& c) {
              CHECK(i == n++);
              (void)c;
          }) == 0);
    CHECK(n == 9);
    // The builder's headers.
    vdnn_cmd_header h;
    std::memcpy(&h, w.bytes().data(), sizeof h);
    CHECK(h.op == VDNN_OP_GEMM);
    CHECK(h.length_bytes == 64);
}

TEST_CASE("validate: stream size") {
    stream_writer w;
    CHECK(validate(w.bytes()) == -EINVAL); // empty
    w.add(vdnn_cmd_nop{});
    CHECK(validate(w.bytes()) == 0);
    const std::uint32_t four = 0;
    w.raw(&four, 4);
    CHECK(validate(w.bytes()) == -EINVAL); // not a multiple of 8
    // Exactly the limit passes; one command more does not.
    stream_writer big;
    for (u64 i = 0; i < VDNN_MAX_CMD_SIZE / 8; ++i)
        big.add(vdnn_cmd_nop{});
    CHECK(big.bytes().size() == VDNN_MAX_CMD_SIZE);
    CHECK(validate(big.bytes()) == 0);
    big.add(vdnn_cmd_nop{});
    u32 bad = 0;
    CHECK(validate(big.bytes(), {}, &bad) == -EINVAL);
    CHECK(bad == 0);
    // A smaller limit of the driver's own.
    stream_limits l;
    l.max_bytes = 64;
    stream_writer w2;
    w2.add(gemm());
    CHECK(validate(w2.bytes(), l) == 0);
    w2.add(vdnn_cmd_nop{});
    CHECK(validate(w2.bytes(), l) == -EINVAL);
}

TEST_CASE("validate: headers") {
    auto with_header = [](u32 op, u32 len, std::size_t total) {
        stream_writer w;
        w.add(vdnn_cmd_nop{});
        std::vector<std::byte> body(total, std::byte{0});
        vdnn_cmd_header h{op, len};
        std::memcpy(body.data(), &h, sizeof h);
        w.raw(body.data(), body.size());
        u32 bad = 99;
        const int e = validate(w.bytes(), {}, &bad);
        if (e)
            CHECK(bad == 1); // the NOP before it was fine
        return e;
    };
    SUBCASE("unknown ops") {
        for (u32 op : {0u, 8u, 30u, 32u, 0x80000001u, 0xffffffffu})
            CHECK(with_header(op, 8, 8) == -EINVAL);
    }
    SUBCASE("length not the op's size") {
        CHECK(with_header(VDNN_OP_GEMM, 56, 64) == -EINVAL);
        CHECK(with_header(VDNN_OP_GEMM, 72, 72) == -EINVAL);
        CHECK(with_header(VDNN_OP_GEMM, 0, 64) == -EINVAL);
        CHECK(with_header(VDNN_OP_NOP, 16, 16) == -EINVAL);
        CHECK(with_header(VDNN_OP_NOP, 0, 8) == -EINVAL);
    }
    SUBCASE("truncated: the command runs past the end of the stream") {
        CHECK(with_header(VDNN_OP_GEMM, 64, 32) == -EINVAL);
        CHECK(with_header(VDNN_OP_CONV2D, 96, 88) == -EINVAL);
        CHECK(with_header(VDNN_OP_COPY, 32, 8) == -EINVAL);
    }
    SUBCASE("a valid command cut short") {
        stream_writer w;
        w.add(copy());
        auto& b = w.buffer();
        b.resize(b.size() - 8);
        CHECK(validate(w.bytes()) == -EINVAL);
    }
}

TEST_CASE("validate: ops each engine runs, and the debug hang") {
    stream_writer g, c, h;
    g.add(gemm());
    c.add(copy()).add(fill()).add(vdnn_cmd_nop{});
    h.add(vdnn_cmd_debug_hang{});
    for (u32 e : {VDNN_ENGINE_COMPUTE0, VDNN_ENGINE_COMPUTE1}) {
        CHECK(validate(g.bytes(), limits_for_engine(e, false)) == 0);
        CHECK(validate(c.bytes(), limits_for_engine(e, false)) == 0);
    }
    CHECK(validate(g.bytes(), limits_for_engine(VDNN_ENGINE_DMA, false)) == -EINVAL);
    CHECK(validate(c.bytes(), limits_for_engine(VDNN_ENGINE_DMA, false)) == 0);
    stream_writer r;
    r.add(relu());
    CHECK(validate(r.bytes(), limits_for_engine(VDNN_ENGINE_DMA, true)) == -EINVAL);
    CHECK(validate(h.bytes(), limits_for_engine(VDNN_ENGINE_COMPUTE0, false)) == -EINVAL);
    CHECK(validate(h.bytes(), limits_for_engine(VDNN_ENGINE_COMPUTE0, true)) == 0);
    CHECK(validate(h.bytes(), limits_for_engine(VDNN_ENGINE_DMA, true)) == 0);
    CHECK(validate(c.bytes(), limits_for_engine(3, true)) == -EINVAL); // no such engine
}

TEST_CASE("validate: GEMM") {
    CHECK(check_one(gemm()) == 0);
    auto bad = [](auto edit) {
        vdnn_cmd_gemm g = gemm();
        edit(g);
        return check_one(g);
    };
    CHECK(bad([](auto& g) { g.dtype = 0; }) == -EINVAL);
    CHECK(bad([](auto& g) { g.dtype = VDNN_DTYPE_INT32; }) == -EINVAL);
    CHECK(bad([](auto& g) { g.flags = 2; }) == -EINVAL);
    CHECK(bad([](auto& g) { g.flags = VDNN_GEMM_ACCUMULATE; }) == 0);
    // Zero and oversized dims.
    CHECK(bad([](auto& g) { g.m = 0; }) == -EINVAL);
    CHECK(bad([](auto& g) { g.n = 0; }) == -EINVAL);
    CHECK(bad([](auto& g) { g.k = 0; }) == -EINVAL);
    CHECK(bad([](auto& g) { g.m = VDNN_MAX_DIM + 1; }) == -EINVAL);
    CHECK(bad([](auto& g) { g.n = VDNN_MAX_DIM + 1, g.ldb = g.ldc = g.n; }) == -EINVAL);
    CHECK(bad([](auto& g) { g.k = VDNN_MAX_DIM + 1, g.lda = g.k; }) == -EINVAL);
    CHECK(bad([](auto& g) { g.k = 0xffffffffu, g.lda = g.k; }) == -EINVAL);
    // The largest dims pass while their tensors stay under the staging limit.
    CHECK(bad([](auto& g) { g.m = VDNN_MAX_DIM, g.k = 1, g.lda = 1; }) == 0);
    // Strides below the row length.
    CHECK(bad([](auto& g) { g.lda = 5; }) == -EINVAL);
    CHECK(bad([](auto& g) { g.ldb = 4; }) == -EINVAL);
    CHECK(bad([](auto& g) { g.ldc = 4; }) == -EINVAL);
    CHECK(bad([](auto& g) { g.lda = 0; }) == -EINVAL);
    // A tensor above VDNN_MAX_TENSOR_BYTES: 8192 x 8193 fp32, or a huge stride.
    CHECK(bad([](auto& g) { g.m = 8192, g.k = 8192, g.lda = 8192; }) == 0); // exactly 256 MiB
    CHECK(bad([](auto& g) { g.m = 8192, g.k = 8192, g.lda = 8193; }) == -EINVAL);
    CHECK(bad([](auto& g) { g.lda = 0xffffffffu; }) == -EINVAL);
    CHECK(bad([](auto& g) { g.dtype = VDNN_DTYPE_INT8, g.m = 16384, g.k = 16384, g.lda = 16384; }) == 0);
    CHECK(bad([](auto& g) { g.dtype = VDNN_DTYPE_INT8, g.m = 16384, g.k = 16385, g.lda = 16385; }) == -EINVAL);
    // Alignment: fp32 everywhere; int8 inputs any byte, int32 output 4 bytes.
    CHECK(bad([](auto& g) { g.a += 2; }) == -EINVAL);
    CHECK(bad([](auto& g) { g.b += 1; }) == -EINVAL);
    CHECK(bad([](auto& g) { g.c += 2; }) == -EINVAL);
    CHECK(bad([](auto& g) { g.dtype = VDNN_DTYPE_INT8, g.a += 1, g.b += 3; }) == 0);
    CHECK(bad([](auto& g) { g.dtype = VDNN_DTYPE_INT8, g.c += 1; }) == -EINVAL);
    // VA ranges: ending exactly at 2^64 is fine, one byte further wraps.
    const u64 c_span = ((4 - 1) * 5 + 5) * 4;
    CHECK(bad([&](auto& g) { g.c = top - c_span + 1; }) == 0);
    CHECK(bad([&](auto& g) { g.c = top - c_span + 5; }) == -EINVAL);
    CHECK(bad([](auto& g) { g.a = top - 3; }) == -EINVAL);
    CHECK(bad([](auto& g) { g.b = ~u64{0} - 63; }) == -EINVAL);
}

TEST_CASE("validate: CONV2D") {
    CHECK(check_one(conv()) == 0);
    auto bad = [](auto edit) {
        vdnn_cmd_conv2d c = conv();
        edit(c);
        return check_one(c);
    };
    CHECK(bad([](auto& c) { c.dtype = VDNN_DTYPE_INT32; }) == -EINVAL);
    CHECK(bad([](auto& c) { c.flags = 4; }) == -EINVAL);
    CHECK(bad([](auto& c) { c.pad = 1; }) == -EINVAL);
    CHECK(bad([](auto& c) { c.bias = 0x40000; }) == -EINVAL); // bias without the flag
    CHECK(bad([](auto& c) { c.flags = VDNN_CONV2D_BIAS | VDNN_CONV2D_RELU, c.bias = 0x40000; }) == 0);
    CHECK(bad([](auto& c) { c.flags = VDNN_CONV2D_BIAS, c.bias = 0x40002; }) == -EINVAL); // misaligned
    for (u32 vdnn_cmd_conv2d::*dim : {&vdnn_cmd_conv2d::n, &vdnn_cmd_conv2d::c, &vdnn_cmd_conv2d::h, &vdnn_cmd_conv2d::w,
                                      &vdnn_cmd_conv2d::o, &vdnn_cmd_conv2d::kh, &vdnn_cmd_conv2d::kw,
                                      &vdnn_cmd_conv2d::stride_h, &vdnn_cmd_conv2d::stride_w}) {
        CHECK(bad([&](auto& c) { c.*dim = 0; }) == -EINVAL);
        CHECK(bad([&](auto& c) { c.*dim = VDNN_MAX_DIM + 1; }) == -EINVAL);
    }
    // Geometry: padding below the kernel, the kernel within the padded image.
    CHECK(bad([](auto& c) { c.pad_h = 3; }) == -EINVAL);
    CHECK(bad([](auto& c) { c.pad_w = 3; }) == -EINVAL);
    CHECK(bad([](auto& c) { c.pad_h = 0xffffffffu; }) == -EINVAL);
    CHECK(bad([](auto& c) { c.h = 1, c.pad_h = 1; }) == 0); // 3 <= 1 + 2
    CHECK(bad([](auto& c) { c.h = 1, c.pad_h = 0; }) == -EINVAL);
    CHECK(bad([](auto& c) { c.kw = 5, c.w = 2, c.pad_w = 1; }) == -EINVAL); // 5 > 2 + 2
    CHECK(bad([](auto& c) { c.stride_h = 100; }) == 0);                       // one output row
    // The reduction c * kh * kw.
    CHECK(bad([](auto& c) { c.c = 65536 / 9, c.h = c.w = 3, c.pad_h = c.pad_w = 0; }) == 0);
    CHECK(bad([](auto& c) { c.c = 65536 / 9 + 1, c.h = c.w = 3, c.pad_h = c.pad_w = 0; }) == -EINVAL);
    CHECK(bad([](auto& c) { c.c = 65536, c.kh = c.kw = 65536; }) == -EINVAL);
    // Tensors above the staging limit.
    CHECK(bad([](auto& c) { c.n = 65536, c.c = 1, c.h = c.w = 1024, c.kh = c.kw = 1, c.pad_h = c.pad_w = 0; }) == -EINVAL);
    CHECK(bad([](auto& c) { c.o = 65536, c.c = 1025, c.kh = c.kw = 1, c.pad_h = c.pad_w = 0; }) == -EINVAL);
    // Alignment and wrapping.
    CHECK(bad([](auto& c) { c.input += 2; }) == -EINVAL);
    CHECK(bad([](auto& c) { c.dtype = VDNN_DTYPE_INT8, c.input += 1, c.weights += 1; }) == 0);
    CHECK(bad([](auto& c) { c.dtype = VDNN_DTYPE_INT8, c.output += 1; }) == -EINVAL);
    CHECK(bad([](auto& c) { c.output = top - 15; }) == -EINVAL);
    CHECK(bad([](auto& c) { c.output = top - 4 * 8 * 8 * 4 + 1; }) == 0); // ends at 2^64
}

TEST_CASE("validate: RELU and ADD") {
    CHECK(check_one(relu()) == 0);
    CHECK(check_one(add()) == 0);
    auto r = [](auto edit) {
        vdnn_cmd_relu c = relu();
        edit(c);
        return check_one(c);
    };
    auto a = [](auto edit) {
        vdnn_cmd_add c = add();
        edit(c);
        return check_one(c);
    };
    CHECK(r([](auto& c) { c.dtype = VDNN_DTYPE_INT8; }) == -EINVAL);
    CHECK(r([](auto& c) { c.dtype = VDNN_DTYPE_INT32; }) == 0);
    CHECK(r([](auto& c) { c.flags = 1; }) == -EINVAL);
    CHECK(r([](auto& c) { c.count = 0; }) == -EINVAL);
    // Element counts whose byte size does not fit in 64 bits.
    CHECK(r([](auto& c) { c.count = u64{1} << 62; }) == -EINVAL);
    CHECK(r([](auto& c) { c.count = ~u64{0}; }) == -EINVAL);
    CHECK(a([](auto& c) { c.count = (u64{1} << 62) + 1; }) == -EINVAL);
    // Alignment and wrapping.
    CHECK(r([](auto& c) { c.src += 2; }) == -EINVAL);
    CHECK(r([](auto& c) { c.dst += 1; }) == -EINVAL);
    CHECK(r([](auto& c) { c.dst = top - 63; }) == 0);
    CHECK(r([](auto& c) { c.dst = top - 59; }) == -EINVAL);
    CHECK(a([](auto& c) { c.b = top - 3; }) == -EINVAL);
    // In place, or disjoint; nothing in between.
    CHECK(r([](auto& c) { c.dst = c.src; }) == 0);
    CHECK(r([](auto& c) { c.dst = c.src + 4; }) == -EINVAL);
    CHECK(r([](auto& c) { c.dst = c.src - 60; }) == -EINVAL);
    CHECK(r([](auto& c) { c.dst = c.src + 64; }) == 0);
    CHECK(a([](auto& c) { c.dst = c.a; }) == 0);
    CHECK(a([](auto& c) { c.dst = c.b; }) == 0);
    CHECK(a([](auto& c) { c.dst = c.a = c.b; }) == 0);
    CHECK(a([](auto& c) { c.b = c.a + 4; }) == 0); // inputs may overlap each other
    CHECK(a([](auto& c) { c.dst = c.a + 8; }) == -EINVAL);
    CHECK(a([](auto& c) { c.dst = c.a, c.b = c.a + 4; }) == -EINVAL);
}

TEST_CASE("validate: COPY and FILL") {
    CHECK(check_one(copy()) == 0);
    CHECK(check_one(fill()) == 0);
    auto c = [](auto edit) {
        vdnn_cmd_copy x = copy();
        edit(x);
        return check_one(x);
    };
    auto f = [](auto edit) {
        vdnn_cmd_fill x = fill();
        edit(x);
        return check_one(x);
    };
    CHECK(c([](auto& x) { x.bytes = 0; }) == -EINVAL);
    CHECK(c([](auto& x) { x.dst = x.src + 99; }) == -EINVAL); // overlap by one byte
    CHECK(c([](auto& x) { x.dst = x.src + 100; }) == 0);      // adjacent
    CHECK(c([](auto& x) { x.dst = x.src - 100; }) == 0);
    CHECK(c([](auto& x) { x.src = x.dst; }) == -EINVAL);
    CHECK(c([](auto& x) { x.src = 3, x.dst = 0x5001; }) == 0); // any alignment
    CHECK(c([](auto& x) { x.dst = top - 98; }) == -EINVAL);
    CHECK(c([](auto& x) { x.dst = top - 99; }) == 0);
    CHECK(c([](auto& x) { x.bytes = ~u64{0}; }) == -EINVAL);
    CHECK(f([](auto& x) { x.flags = 1; }) == -EINVAL);
    CHECK(f([](auto& x) { x.bytes = 0; }) == -EINVAL);
    CHECK(f([](auto& x) { x.dst = top, x.bytes = 1; }) == 0);
    CHECK(f([](auto& x) { x.dst = top, x.bytes = 2; }) == -EINVAL);
    CHECK(f([](auto& x) { x.dst = 0, x.bytes = ~u64{0}; }) == 0); // the whole space but one byte
    CHECK(f([](auto& x) { x.dst = 1, x.bytes = ~u64{0}; }) == 0); // ends exactly at 2^64
    CHECK(f([](auto& x) { x.dst = 2, x.bytes = ~u64{0}; }) == -EINVAL);
}

TEST_CASE("validate: the failing command's index") {
    stream_writer w;
    vdnn_cmd_gemm g = gemm();
    g.m = 0;
    w.add(vdnn_cmd_nop{}).add(copy()).add(g).add(vdnn_cmd_nop{});
    u32 bad = 0;
    CHECK(validate(w.bytes(), {}, &bad) == -EINVAL);
    CHECK(bad == 2);
    u32 seen = 0;
    CHECK(for_each_command(w.bytes(), {}, [&](u32, const command&) { ++seen; }) == -EINVAL);
    CHECK(seen == 2); // the commands before the bad one
}

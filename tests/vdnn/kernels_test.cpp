// SPDX-License-Identifier: MIT
// The fast kernels against the reference kernels, for every instruction set this CPU runs:
// random GEMM shapes with the awkward sizes (1, primes, block edges +-1, up to 130, and k past
// one k block), int8 exactly (wrapping accumulation included), fp32 within a summation error
// bound; C's stride gaps never written; convolutions with stride, padding, bias and ReLU
// variants; element-wise kernels in place and at every tail length.
#include "vdnn_test_util.hpp"

#include "vdnn_kernels.hpp"
#include "vdnn_reference.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

using namespace vdnn;
using kernels::isa;

namespace {

/// Bitwise equality of n floats (memcmp would be handed null pointers for empty vectors).
bool same_bytes(const float* a, const float* b, std::size_t n) { return n == 0 || std::memcmp(a, b, n * sizeof(float)) == 0; }

std::vector<isa> supported_isas() {
    std::vector<isa> v;
    for (isa i : kernels::all_isas)
        if (kernels::isa_supported(i))
            v.push_back(i);
    return v;
}

struct gemm_case {
    std::size_t m, n, k, lda, ldb, ldc;
    bool accumulate;
};

gemm_case random_gemm(test::rng& r, std::size_t hi = 130) {
    gemm_case g{};
    g.m = r.dim(hi);
    g.n = r.dim(hi);
    g.k = r.dim(hi);
    g.lda = g.k + (r.coin() ? 0 : r.uniform(1, 9));
    g.ldb = g.n + (r.coin() ? 0 : r.uniform(1, 9));
    g.ldc = g.n + (r.coin() ? 0 : r.uniform(1, 9));
    g.accumulate = r.coin();
    return g;
}

/// Runs one fp32 case on every ISA; C's gap columns hold a sentinel that must survive.
void check_gemm_f32(test::rng& r, const gemm_case& g, kernels::workspace& ws) {
    CAPTURE(g.m);
    CAPTURE(g.n);
    CAPTURE(g.k);
    CAPTURE(g.lda);
    CAPTURE(g.ldb);
    CAPTURE(g.ldc);
    CAPTURE(g.accumulate);
    const auto a = r.floats(g.m * g.lda), b = r.floats(g.k * g.ldb);
    auto c0 = r.floats(g.m * g.ldc);
    constexpr float sentinel = 12345.0f;
    for (std::size_t i = 0; i < g.m; ++i)
        for (std::size_t j = g.n; j < g.ldc; ++j)
            c0[i * g.ldc + j] = sentinel;
    auto want = c0;
    reference::gemm_f32(g.m, g.n, g.k, a.data(), g.lda, b.data(), g.ldb, want.data(), g.ldc, g.accumulate);
    // The error bound: sum of |a||b| (+ |c|) per element.
    std::vector<double> magnitude(g.m * g.n);
    for (std::size_t i = 0; i < g.m; ++i)
        for (std::size_t j = 0; j < g.n; ++j) {
            double s = g.accumulate ? std::fabs(c0[i * g.ldc + j]) : 0.0;
            for (std::size_t p = 0; p < g.k; ++p)
                s += std::fabs(static_cast<double>(a[i * g.lda + p]) * b[p * g.ldb + j]);
            magnitude[i * g.n + j] = s;
        }
    for (isa i : supported_isas()) {
        CAPTURE(kernels::isa_name(i));
        auto got = c0;
        kernels::gemm_f32(g.m, g.n, g.k, a.data(), g.lda, b.data(), g.ldb, got.data(), g.ldc, g.accumulate, ws, i);
        std::size_t bad = 0;
        for (std::size_t row = 0; row < g.m; ++row)
            for (std::size_t col = 0; col < g.ldc; ++col) {
                const std::size_t at = row * g.ldc + col;
                const bool ok = col < g.n ? test::close_enough(got[at], want[at], magnitude[row * g.n + col], g.k + 1)
                                          : got[at] == sentinel;
                if (!ok && bad++ < 3) {
                    CAPTURE(row);
                    CAPTURE(col);
                    CHECK(got[at] == doctest::Approx(want[at]));
                }
            }
        CHECK(bad == 0);
    }
}

void check_gemm_s8(test::rng& r, const gemm_case& g, kernels::workspace& ws, bool extreme = false) {
    CAPTURE(g.m);
    CAPTURE(g.n);
    CAPTURE(g.k);
    CAPTURE(g.lda);
    CAPTURE(g.ldb);
    CAPTURE(g.ldc);
    CAPTURE(g.accumulate);
    auto a = r.int8s(g.m * g.lda), b = r.int8s(g.k * g.ldb);
    if (extreme) { // the largest sums: every product is (-128)^2
        std::fill(a.begin(), a.end(), std::int8_t{-128});
        std::fill(b.begin(), b.end(), std::int8_t{-128});
    }
    auto c0 = r.int32s(g.m * g.ldc);
    constexpr std::int32_t sentinel = 0x5a5a5a5a;
    for (std::size_t i = 0; i < g.m; ++i)
        for (std::size_t j = g.n; j < g.ldc; ++j)
            c0[i * g.ldc + j] = sentinel;
    auto want = c0;
    reference::gemm_s8(g.m, g.n, g.k, a.data(), g.lda, b.data(), g.ldb, want.data(), g.ldc, g.accumulate);
    for (isa i : supported_isas()) {
        CAPTURE(kernels::isa_name(i));
        auto got = c0;
        kernels::gemm_s8(g.m, g.n, g.k, a.data(), g.lda, b.data(), g.ldb, got.data(), g.ldc, g.accumulate, ws, i);
        CHECK(got == want);
    }
}

} // namespace

TEST_CASE("gemm fp32: random shapes against the reference, every ISA") {
    test::rng r;
    INFO("seed " << r.seed);
    kernels::workspace ws;
    for (int iter = 0; iter < 40; ++iter)
        check_gemm_f32(r, random_gemm(r), ws);
}

TEST_CASE("gemm fp32: k past one k block, m past one m block") {
    test::rng r;
    INFO("seed " << r.seed);
    kernels::workspace ws;
    check_gemm_f32(r, {300, 37, 601, 601, 40, 37, false}, ws);
    check_gemm_f32(r, {129, 70, 513, 515, 70, 71, true}, ws);
}

TEST_CASE("gemm int8: random shapes exactly, every ISA") {
    test::rng r;
    INFO("seed " << r.seed);
    kernels::workspace ws;
    for (int iter = 0; iter < 40; ++iter)
        check_gemm_s8(r, random_gemm(r), ws);
}

TEST_CASE("gemm int8: odd k across k blocks, wrapping accumulation, the largest sums") {
    test::rng r;
    INFO("seed " << r.seed);
    kernels::workspace ws;
    check_gemm_s8(r, {131, 33, 1025, 1025, 33, 35, true}, ws); // last k block holds one k
    check_gemm_s8(r, {7, 5, 1, 1, 5, 5, true}, ws);
    // 65536 products of 16384: 2^30, the largest sum the limits allow, still exact.
    check_gemm_s8(r, {2, 33, 65536, 65536, 33, 33, false}, ws, true);
}

TEST_CASE("conv2d: stride, padding, kernel sizes, bias and relu against the reference") {
    test::rng r;
    INFO("seed " << r.seed);
    kernels::workspace ws;
    for (int iter = 0; iter < 40; ++iter) {
        kernels::conv2d_shape s;
        s.n = r.uniform(1, 2);
        s.c = r.uniform(1, 6);
        s.h = r.uniform(1, 17);
        s.w = r.uniform(1, 17);
        s.o = r.uniform(1, 9);
        s.kh = r.uniform(1, std::min<std::size_t>(5, s.h));
        s.kw = r.uniform(1, std::min<std::size_t>(5, s.w));
        s.stride_h = r.uniform(1, 3);
        s.stride_w = r.uniform(1, 3);
        s.pad_h = r.uniform(0, s.kh - 1);
        s.pad_w = r.uniform(0, s.kw - 1);
        if (iter % 8 == 0) // the pointwise path (no im2col)
            s.kh = s.kw = s.stride_h = s.stride_w = 1, s.pad_h = s.pad_w = 0;
        const bool bias = r.coin(), relu = r.coin();
        CAPTURE(s.n);
        CAPTURE(s.c);
        CAPTURE(s.h);
        CAPTURE(s.w);
        CAPTURE(s.o);
        CAPTURE(s.kh);
        CAPTURE(s.kw);
        CAPTURE(s.stride_h);
        CAPTURE(s.stride_w);
        CAPTURE(s.pad_h);
        CAPTURE(s.pad_w);
        CAPTURE(bias);
        CAPTURE(relu);
        {
            const auto in = r.floats(s.input_elems()), w = r.floats(s.weight_elems()), bv = r.floats(s.o);
            std::vector<float> want(s.output_elems());
            reference::conv2d_f32(s, in.data(), w.data(), bias ? bv.data() : nullptr, want.data(), relu);
            for (isa i : supported_isas()) {
                CAPTURE(kernels::isa_name(i));
                std::vector<float> got(s.output_elems(), -7.0f);
                kernels::conv2d_f32(s, in.data(), w.data(), bias ? bv.data() : nullptr, got.data(), relu, ws, i);
                // Inputs are in [-1, 1]: the sum of |products| is at most the reduction depth.
                std::size_t bad = 0;
                for (std::size_t e = 0; e < want.size(); ++e)
                    bad += !test::close_enough(got[e], want[e], static_cast<double>(s.reduction() + 1), s.reduction() + 1);
                CHECK(bad == 0);
            }
        }
        {
            const auto in = r.int8s(s.input_elems()), w = r.int8s(s.weight_elems());
            const auto bv = r.int32s(s.o);
            std::vector<std::int32_t> want(s.output_elems());
            reference::conv2d_s8(s, in.data(), w.data(), bias ? bv.data() : nullptr, want.data(), relu);
            for (isa i : supported_isas()) {
                CAPTURE(kernels::isa_name(i));
                std::vector<std::int32_t> got(s.output_elems(), -7);
                kernels::conv2d_s8(s, in.data(), w.data(), bias ? bv.data() : nullptr, got.data(), relu, ws, i);
                CHECK(got == want);
            }
        }
    }
}

TEST_CASE("conv2d: an image larger than one im2col block") {
    test::rng r;
    INFO("seed " << r.seed);
    kernels::workspace ws;
    // depth 3 * 3 * 64 = 576 -> blocks of ~910 pixels; 48 x 48 = 2304 pixels: 3 blocks.
    kernels::conv2d_shape s{1, 64, 48, 48, 3, 3, 3, 1, 1, 1, 1};
    const auto in = r.int8s(s.input_elems()), w = r.int8s(s.weight_elems());
    std::vector<std::int32_t> want(s.output_elems()), got(s.output_elems());
    reference::conv2d_s8(s, in.data(), w.data(), nullptr, want.data(), false);
    kernels::conv2d_s8(s, in.data(), w.data(), nullptr, got.data(), false, ws);
    CHECK(got == want);
}

TEST_CASE("element-wise kernels: every tail length, in place, special values") {
    test::rng r;
    INFO("seed " << r.seed);
    for (std::size_t n = 0; n <= 67; ++n) {
        CAPTURE(n);
        auto f = r.floats(n), g = r.floats(n);
        auto s = r.int32s(n), t = r.int32s(n);
        if (n >= 4) {
            f[0] = -0.0f;
            f[1] = std::nanf("");
            f[2] = 0.0f;
            s[0] = INT32_MAX;
            t[0] = 1; // wraps to INT32_MIN
            s[1] = INT32_MIN;
        }
        std::vector<float> fw(n), fg(n);
        reference::relu_f32(f.data(), fw.data(), n);
        kernels::relu_f32(f.data(), fg.data(), n);
        CHECK(same_bytes(fw.data(), fg.data(), n)); // bitwise: +0.0, not -0.0 or NaN
        auto inplace = f;
        kernels::relu_f32(inplace.data(), inplace.data(), n);
        CHECK(same_bytes(fw.data(), inplace.data(), n));

        std::vector<std::int32_t> sw(n), sg(n);
        reference::relu_s32(s.data(), sw.data(), n);
        kernels::relu_s32(s.data(), sg.data(), n);
        CHECK(sg == sw);

        reference::add_f32(f.data(), g.data(), fw.data(), n);
        auto fa = f;
        kernels::add_f32(fa.data(), g.data(), fa.data(), n); // in place on a
        CHECK(same_bytes(fw.data(), fa.data(), n));

        reference::add_s32(s.data(), t.data(), sw.data(), n);
        auto tb = t;
        kernels::add_s32(s.data(), tb.data(), tb.data(), n); // in place on b
        CHECK(tb == sw);
    }
}

TEST_CASE("copy and fill: lengths, phases, overlap") {
    test::rng r;
    INFO("seed " << r.seed);
    for (std::size_t n = 0; n <= 200; n += (n < 70 ? 1 : 13))
        for (std::size_t phase = 0; phase < 4; ++phase) {
            std::vector<unsigned char> want(n + 8, 0xee), got(n + 8, 0xee);
            reference::fill_pattern(want.data() + 3, n, 0xa1b2c3d4u, phase);
            kernels::fill_pattern(got.data() + 3, n, 0xa1b2c3d4u, phase);
            CHECK(got == want);
        }
    // A fill split anywhere continues the pattern: piece boundaries are invisible.
    std::vector<unsigned char> whole(100), split(100);
    kernels::fill_pattern(whole.data(), 100, 0x04030201u, 0);
    kernels::fill_pattern(split.data(), 37, 0x04030201u, 0);
    kernels::fill_pattern(split.data() + 37, 63, 0x04030201u, 37 % 4);
    CHECK(whole == split);
    CHECK(whole[0] == 1);
    CHECK(whole[3] == 4);
    CHECK(whole[4] == 1);

    std::vector<unsigned char> buf(300), ref(300);
    for (std::size_t i = 0; i < buf.size(); ++i)
        buf[i] = ref[i] = static_cast<unsigned char>(r.uniform(0, 255));
    kernels::copy_bytes(buf.data() + 10, buf.data(), 250);
    reference::copy_bytes(ref.data() + 10, ref.data(), 250);
    CHECK(buf == ref);
    kernels::copy_bytes(buf.data(), buf.data() + 7, 250);
    reference::copy_bytes(ref.data(), ref.data() + 7, 250);
    CHECK(buf == ref);
}

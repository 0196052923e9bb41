// SPDX-License-Identifier: MIT
#pragma once
// Results through the driver against the reference kernels (vdnn_reference.hpp), for random
// shapes (seeded: ACCEL_TEST_SEED replays one), with every operand in a random region (host
// memory, SRAM, DRAM), bound whole or page by page in a shuffled order (consecutive device
// pages that are not consecutive in memory), at a random element-aligned offset in its first
// page. Bytes of the output buffers outside the elements an op writes must stay as they were.
// F::full picks the larger sets (the mock); through FUSE a smaller set runs.
#include "vdnn_driver_util.hpp"
#include "vdnn_reference.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

namespace vdnn::dtest {

/// A random placement for an operand of `bytes`: region, scattered or not, offset in its page.
struct operand_place {
    u32 region;
    bool scatter;
    u64 offset;
};
inline operand_place random_place(test::rng& r, u64 align) {
    static constexpr u32 regions[] = {VDNN_REGION_HOST, VDNN_REGION_SRAM, VDNN_REGION_DRAM};
    const u32 region = regions[r.uniform(0, 2)];
    const bool scatter = r.coin();
    const u64 offset = r.coin() ? 0 : r.uniform(0, page / align - 1) * align;
    return {region, scatter, offset};
}
inline const char* region_name(u32 r) { return r == VDNN_REGION_HOST ? "host" : r == VDNN_REGION_SRAM ? "sram" : "dram"; }

/// An operand of a job: its buffer, and where in the buffer's device view it starts.
struct operand_buf {
    placed p;
    u64 off = 0;
    u64 va() const { return p.va + off; }
};

template <class B>
operand_buf make_operand(session<B>& s, test::rng& r, u64 bytes, u64 align, u32 bind_flags, const char* what) {
    const operand_place pl = random_place(r, align);
    INFO(what << ": " << region_name(pl.region) << (pl.scatter ? " scattered" : " whole") << " +" << pl.offset);
    operand_buf o;
    o.p = s.place(pl.offset + bytes, pl.region, pl.scatter, r, bind_flags, 0);
    o.off = pl.offset;
    // Random bytes everywhere, so that what an op must not write is recognisable.
    o.p.write_vec(0, r.int8s(o.p.bytes));
    return o;
}

inline u32 compute_engine(test::rng& r) { return r.coin() ? VDNN_ENGINE_COMPUTE0 : VDNN_ENGINE_COMPUTE1; }

// ---- GEMM ----------------------------------------------------------------------------------

template <class B, class In, class Out>
void check_gemm(session<B>& s, test::rng& r, u32 max_dim) {
    constexpr bool int8 = std::is_same_v<In, std::int8_t>;
    const u32 m = static_cast<u32>(r.dim(max_dim)), n = static_cast<u32>(r.dim(max_dim)), k = static_cast<u32>(r.dim(2 * max_dim));
    const u32 lda = k + static_cast<u32>(r.coin() ? 0 : r.uniform(1, 9)), ldb = n + static_cast<u32>(r.coin() ? 0 : r.uniform(1, 9)),
              ldc = n + static_cast<u32>(r.coin() ? 0 : r.uniform(1, 9));
    const bool acc = r.coin();
    INFO("GEMM " << (int8 ? "int8" : "fp32") << " m " << m << " n " << n << " k " << k << " lda " << lda << " ldb " << ldb
                 << " ldc " << ldc << (acc ? " accumulate" : ""));
    const u64 a_bytes = (u64{m - 1} * lda + k) * sizeof(In), b_bytes = (u64{k - 1} * ldb + n) * sizeof(In),
              c_bytes = (u64{m - 1} * ldc + n) * sizeof(Out);
    operand_buf a = make_operand(s, r, a_bytes, sizeof(In), VDNN_BIND_READ, "A");
    operand_buf b = make_operand(s, r, b_bytes, sizeof(In), VDNN_BIND_READ, "B");
    operand_buf c = make_operand(s, r, c_bytes, sizeof(Out), VDNN_BIND_READ | VDNN_BIND_WRITE, "C");
    // Element values: floats in [-1, 1] (the C bytes are random, NaNs included, unless
    // accumulating); int8 anything.
    std::vector<In> av, bv;
    if constexpr (int8) {
        av = r.int8s(a_bytes), bv = r.int8s(b_bytes);
    } else {
        av = r.floats(a_bytes / 4), bv = r.floats(b_bytes / 4);
    }
    a.p.write_vec(a.off, av);
    b.p.write_vec(b.off, bv);
    if (acc) {
        if constexpr (int8)
            c.p.write_vec(c.off, r.int32s(c_bytes / 4));
        else
            c.p.write_vec(c.off, r.floats(c_bytes / 4));
    }
    const auto c_before = c.p.snapshot();
    std::vector<Out> want = c.p.read_vec<Out>(c.off, c_bytes / sizeof(Out));
    std::vector<double> magnitude(want.size(), 0.0);
    if constexpr (int8) {
        reference::gemm_s8(m, n, k, av.data(), lda, bv.data(), ldb, want.data(), ldc, acc);
    } else {
        std::vector<float> aa(av.size()), ab(bv.size()), mag(want.size());
        for (std::size_t i = 0; i < av.size(); ++i)
            aa[i] = std::fabs(av[i]);
        for (std::size_t i = 0; i < bv.size(); ++i)
            ab[i] = std::fabs(bv[i]);
        for (std::size_t i = 0; i < want.size(); ++i)
            mag[i] = acc ? std::fabs(want[i]) : 0.0f;
        reference::gemm_f32(m, n, k, aa.data(), lda, ab.data(), ldb, mag.data(), ldc, acc);
        for (std::size_t i = 0; i < mag.size(); ++i)
            magnitude[i] = mag[i];
        reference::gemm_f32(m, n, k, av.data(), lda, bv.data(), ldb, want.data(), ldc, acc);
    }
    vdnn_cmd_gemm g{};
    g.dtype = int8 ? VDNN_DTYPE_INT8 : VDNN_DTYPE_FP32;
    g.flags = acc ? VDNN_GEMM_ACCUMULATE : 0;
    g.m = m, g.n = n, g.k = k, g.lda = lda, g.ldb = ldb, g.ldc = ldc;
    g.a = a.va(), g.b = b.va(), g.c = c.va();
    const u64 seq = s.run(compute_engine(r), one(g), {a.p.bo.handle, b.p.bo.handle, c.p.bo.handle});
    const vdnn_wait w = s.wait_job(seq);
    REQUIRE(w.status == VDNN_STATUS_OK);
    s.sync(c.p);
    const std::vector<Out> got = c.p.read_vec<Out>(c.off, c_bytes / sizeof(Out));
    std::size_t bad = 0;
    for (u32 i = 0; i < m; ++i)
        for (u32 j = 0; j < n; ++j) {
            const std::size_t at = std::size_t{i} * ldc + j;
            bool ok;
            if constexpr (int8)
                ok = got[at] == want[at];
            else
                ok = test::close_enough(got[at], want[at], magnitude[at], k + 1);
            if (!ok && bad++ < 5)
                FAIL_CHECK("C[" << i << "][" << j << "] = " << got[at] << ", want " << want[at]);
        }
    CHECK(bad == 0);
    // Nothing but C's elements changed: the gaps between rows, the bytes before and after.
    std::vector<std::byte> after = c.p.snapshot();
    for (u32 i = 0; i < m; ++i)
        std::memcpy(after.data() + c.off + (u64{i} * ldc) * sizeof(Out), c_before.data() + c.off + (u64{i} * ldc) * sizeof(Out),
                    n * sizeof(Out));
    CHECK(after == c_before);
    // The inputs are as they were.
    CHECK(a.p.read_vec<In>(a.off, av.size()) == av);
    CHECK(b.p.read_vec<In>(b.off, bv.size()) == bv);
}

// ---- CONV2D --------------------------------------------------------------------------------

template <class B, class In, class Out>
void check_conv2d(session<B>& s, test::rng& r, bool big) {
    constexpr bool int8 = std::is_same_v<In, std::int8_t>;
    kernels::conv2d_shape sh;
    sh.kh = r.uniform(1, 5), sh.kw = r.uniform(1, 5);
    sh.pad_h = r.uniform(0, sh.kh - 1), sh.pad_w = r.uniform(0, sh.kw - 1);
    const std::size_t hi = big ? 17 : 9;
    sh.h = r.uniform(std::max<std::size_t>(1, sh.kh > 2 * sh.pad_h ? sh.kh - 2 * sh.pad_h : 1), hi);
    sh.w = r.uniform(std::max<std::size_t>(1, sh.kw > 2 * sh.pad_w ? sh.kw - 2 * sh.pad_w : 1), hi);
    sh.n = r.uniform(1, 2), sh.c = r.uniform(1, big ? 6 : 3), sh.o = r.uniform(1, big ? 8 : 4);
    sh.stride_h = r.uniform(1, 3), sh.stride_w = r.uniform(1, 3);
    const bool bias = r.coin(), relu = r.coin();
    INFO("CONV2D " << (int8 ? "int8" : "fp32") << " n " << sh.n << " c " << sh.c << " h " << sh.h << " w " << sh.w << " o "
                   << sh.o << " k " << sh.kh << "x" << sh.kw << " stride " << sh.stride_h << "," << sh.stride_w << " pad "
                   << sh.pad_h << "," << sh.pad_w << (bias ? " bias" : "") << (relu ? " relu" : ""));
    const u64 in_bytes = sh.input_elems() * sizeof(In), w_bytes = sh.weight_elems() * sizeof(In),
              out_bytes = sh.output_elems() * sizeof(Out), bias_bytes = sh.o * sizeof(Out);
    operand_buf in = make_operand(s, r, in_bytes, sizeof(In), VDNN_BIND_READ, "input");
    operand_buf wt = make_operand(s, r, w_bytes, sizeof(In), VDNN_BIND_READ, "weights");
    operand_buf bs = make_operand(s, r, bias_bytes, sizeof(Out), VDNN_BIND_READ, "bias");
    operand_buf out = make_operand(s, r, out_bytes, sizeof(Out), VDNN_BIND_WRITE, "output");
    std::vector<In> iv, wv;
    std::vector<Out> bv;
    if constexpr (int8) {
        iv = r.int8s(sh.input_elems()), wv = r.int8s(sh.weight_elems()), bv = r.int32s(sh.o, -100000, 100000);
    } else {
        iv = r.floats(sh.input_elems()), wv = r.floats(sh.weight_elems()), bv = r.floats(sh.o);
    }
    in.p.write_vec(in.off, iv);
    wt.p.write_vec(wt.off, wv);
    bs.p.write_vec(bs.off, bv);
    const auto out_before = out.p.snapshot();
    std::vector<Out> want(sh.output_elems());
    std::vector<double> magnitude(want.size(), 0.0);
    if constexpr (int8) {
        reference::conv2d_s8(sh, iv.data(), wv.data(), bias ? bv.data() : nullptr, want.data(), relu);
    } else {
        std::vector<float> ai(iv.size()), aw(wv.size()), ab(bv.size()), mag(want.size());
        for (std::size_t i = 0; i < iv.size(); ++i)
            ai[i] = std::fabs(iv[i]);
        for (std::size_t i = 0; i < wv.size(); ++i)
            aw[i] = std::fabs(wv[i]);
        for (std::size_t i = 0; i < bv.size(); ++i)
            ab[i] = std::fabs(bv[i]);
        reference::conv2d_f32(sh, ai.data(), aw.data(), bias ? ab.data() : nullptr, mag.data(), false);
        for (std::size_t i = 0; i < mag.size(); ++i)
            magnitude[i] = mag[i];
        reference::conv2d_f32(sh, iv.data(), wv.data(), bias ? bv.data() : nullptr, want.data(), relu);
    }
    vdnn_cmd_conv2d cv{};
    cv.dtype = int8 ? VDNN_DTYPE_INT8 : VDNN_DTYPE_FP32;
    cv.flags = (bias ? VDNN_CONV2D_BIAS : 0u) | (relu ? VDNN_CONV2D_RELU : 0u);
    cv.n = static_cast<u32>(sh.n), cv.c = static_cast<u32>(sh.c), cv.h = static_cast<u32>(sh.h), cv.w = static_cast<u32>(sh.w);
    cv.o = static_cast<u32>(sh.o), cv.kh = static_cast<u32>(sh.kh), cv.kw = static_cast<u32>(sh.kw);
    cv.stride_h = static_cast<u32>(sh.stride_h), cv.stride_w = static_cast<u32>(sh.stride_w);
    cv.pad_h = static_cast<u32>(sh.pad_h), cv.pad_w = static_cast<u32>(sh.pad_w);
    cv.input = in.va(), cv.weights = wt.va(), cv.bias = bias ? bs.va() : 0, cv.output = out.va();
    const u64 seq = s.run(compute_engine(r), one(cv), {in.p.bo.handle, wt.p.bo.handle, bs.p.bo.handle, out.p.bo.handle});
    REQUIRE(s.wait_job(seq).status == VDNN_STATUS_OK);
    s.sync(out.p);
    const std::vector<Out> got = out.p.read_vec<Out>(out.off, want.size());
    std::size_t bad = 0;
    for (std::size_t i = 0; i < want.size(); ++i) {
        bool ok;
        if constexpr (int8)
            ok = got[i] == want[i];
        else
            ok = test::close_enough(got[i], want[i], magnitude[i], sh.reduction() + 2);
        if (!ok && bad++ < 5)
            FAIL_CHECK("output[" << i << "] = " << got[i] << ", want " << want[i]);
    }
    CHECK(bad == 0);
    std::vector<std::byte> after = out.p.snapshot();
    std::memcpy(after.data() + out.off, out_before.data() + out.off, out_bytes);
    CHECK(after == out_before);
}

// ---- element-wise ops ----------------------------------------------------------------------

template <class B, class T>
void check_relu_add(session<B>& s, test::rng& r, bool add, u64 max_count) {
    constexpr bool fp = std::is_same_v<T, float>;
    const u64 count = r.uniform(1, max_count);
    const int in_place = static_cast<int>(r.uniform(0, add ? 2 : 1)); // 0: separate dst, 1: dst = a (src), 2: dst = b
    INFO((add ? "ADD " : "RELU ") << (fp ? "fp32" : "int32") << " count " << count << " in place " << in_place);
    const u64 bytes = count * 4;
    auto values = [&] {
        if constexpr (fp)
            return r.floats(count);
        else
            return r.int32s(count);
    };
    operand_buf a = make_operand(s, r, bytes, 4, VDNN_BIND_READ | VDNN_BIND_WRITE, "a");
    operand_buf b = make_operand(s, r, bytes, 4, VDNN_BIND_READ | VDNN_BIND_WRITE, "b");
    operand_buf d = make_operand(s, r, bytes, 4, VDNN_BIND_READ | VDNN_BIND_WRITE, "dst");
    const std::vector<T> av = values(), bv = values();
    a.p.write_vec(a.off, av);
    b.p.write_vec(b.off, bv);
    operand_buf& dst = in_place == 1 ? a : in_place == 2 ? b : d;
    const auto before = dst.p.snapshot();
    std::vector<T> want(count);
    u64 seq;
    if (add) {
        if constexpr (fp)
            reference::add_f32(av.data(), bv.data(), want.data(), count);
        else
            reference::add_s32(av.data(), bv.data(), want.data(), count);
        vdnn_cmd_add x{};
        x.dtype = fp ? VDNN_DTYPE_FP32 : VDNN_DTYPE_INT32;
        x.count = count, x.a = a.va(), x.b = b.va(), x.dst = dst.va();
        seq = s.run(compute_engine(r), one(x), {a.p.bo.handle, b.p.bo.handle, d.p.bo.handle});
    } else {
        if constexpr (fp)
            reference::relu_f32(av.data(), want.data(), count);
        else
            reference::relu_s32(av.data(), want.data(), count);
        vdnn_cmd_relu x{};
        x.dtype = fp ? VDNN_DTYPE_FP32 : VDNN_DTYPE_INT32;
        x.count = count, x.src = a.va(), x.dst = in_place ? a.va() : d.va();
        seq = s.run(compute_engine(r), one(x), {a.p.bo.handle, d.p.bo.handle});
    }
    REQUIRE(s.wait_job(seq).status == VDNN_STATUS_OK);
    s.sync(dst.p);
    const std::vector<T> got = dst.p.read_vec<T>(dst.off, count);
    CHECK(std::memcmp(got.data(), want.data(), bytes) == 0); // exact, bit for bit
    std::vector<std::byte> after = dst.p.snapshot();
    std::memcpy(after.data() + dst.off, before.data() + dst.off, bytes);
    CHECK(after == before);
}

template <class B>
void check_copy_fill(session<B>& s, test::rng& r, bool fill, u64 max_bytes) {
    const u64 bytes = r.uniform(1, max_bytes);
    const u32 engine = static_cast<u32>(r.uniform(0, 2));
    const u32 pattern = static_cast<u32>(r.uniform(0, 0xffffffffu));
    INFO((fill ? "FILL " : "COPY ") << bytes << " bytes on engine " << engine << " pattern " << pattern);
    operand_buf src = make_operand(s, r, bytes, 1, VDNN_BIND_READ, "src");
    operand_buf dst = make_operand(s, r, bytes, 1, VDNN_BIND_WRITE, "dst");
    // Odd byte offsets too.
    const u64 shift_s = r.uniform(0, 7), shift_d = r.uniform(0, 7);
    src.off = src.off >= 8 ? src.off - shift_s : src.off, dst.off = dst.off >= 8 ? dst.off - shift_d : dst.off;
    const auto data = src.p.read_vec<unsigned char>(src.off, bytes);
    const auto before = dst.p.snapshot();
    std::vector<unsigned char> want(bytes);
    u64 seq;
    if (fill) {
        reference::fill_pattern(want.data(), bytes, pattern, 0);
        seq = s.run(engine, one(fill_cmd(dst.va(), bytes, pattern)), {dst.p.bo.handle});
    } else {
        want = data;
        seq = s.run(engine, one(copy_cmd(src.va(), dst.va(), bytes)), {src.p.bo.handle, dst.p.bo.handle});
    }
    REQUIRE(s.wait_job(seq).status == VDNN_STATUS_OK);
    s.sync(dst.p);
    CHECK(dst.p.read_vec<unsigned char>(dst.off, bytes) == want);
    std::vector<std::byte> after = dst.p.snapshot();
    std::memcpy(after.data() + dst.off, before.data() + dst.off, bytes);
    CHECK(after == before);
}

// ---- the test cases ----------------------------------------------------------------------------

TEST_CASE_TEMPLATE_DEFINE("results: GEMM fp32 and int8 against the reference", F, vdnn_results_gemm_t) {
    F fx;
    session s(fx.client(), fx.node());
    test::rng r;
    INFO("seed " << r.seed);
    const int rounds = F::full ? 8 : 2;
    for (int i = 0; i < rounds; ++i) {
        CAPTURE(i);
        check_gemm<typename std::remove_reference_t<decltype(fx.client())>, float, float>(s, r, F::full ? 64 : 24);
        check_gemm<typename std::remove_reference_t<decltype(fx.client())>, std::int8_t, std::int32_t>(s, r, F::full ? 64 : 24);
    }
}

TEST_CASE_TEMPLATE_DEFINE("results: CONV2D fp32 and int8 with strides, padding, bias, ReLU against the reference", F,
                          vdnn_results_conv_t) {
    F fx;
    session s(fx.client(), fx.node());
    test::rng r;
    INFO("seed " << r.seed);
    using B = std::remove_reference_t<decltype(fx.client())>;
    const int rounds = F::full ? 8 : 2;
    for (int i = 0; i < rounds; ++i) {
        CAPTURE(i);
        check_conv2d<B, float, float>(s, r, F::full);
        check_conv2d<B, std::int8_t, std::int32_t>(s, r, F::full);
    }
}

TEST_CASE_TEMPLATE_DEFINE("results: RELU, ADD, COPY, FILL against the reference", F, vdnn_results_elementwise_t) {
    F fx;
    session s(fx.client(), fx.node());
    test::rng r;
    INFO("seed " << r.seed);
    using B = std::remove_reference_t<decltype(fx.client())>;
    const int rounds = F::full ? 6 : 1;
    const u64 most = F::full ? 6000 : 3000;
    for (int i = 0; i < rounds; ++i) {
        CAPTURE(i);
        check_relu_add<B, float>(s, r, false, most);
        check_relu_add<B, std::int32_t>(s, r, false, most);
        check_relu_add<B, float>(s, r, true, most);
        check_relu_add<B, std::int32_t>(s, r, true, most);
        check_copy_fill(s, r, false, 4 * most);
        check_copy_fill(s, r, true, 4 * most);
    }
}

TEST_CASE_TEMPLATE_DEFINE("results: a network of jobs with dependencies across the engines", F, vdnn_results_chain_t) {
    // conv + bias + ReLU on compute 0, GEMM + ReLU on compute 1, a DMA copy of the result: the
    // demo's shape at a smaller size, every intermediate in another region.
    F fx;
    session s(fx.client(), fx.node());
    test::rng r;
    INFO("seed " << r.seed);
    kernels::conv2d_shape sh;
    sh.n = 2, sh.c = 3, sh.h = sh.w = 8, sh.o = 4, sh.kh = sh.kw = 3, sh.pad_h = sh.pad_w = 1;
    const u32 flat = static_cast<u32>(sh.o * sh.out_h() * sh.out_w()), hidden = 16;
    const auto in = r.floats(sh.input_elems()), w = r.floats(sh.weight_elems()), bias = r.floats(sh.o),
               fc = r.floats(std::size_t{flat} * hidden);
    placed pin = s.place(in.size() * 4, VDNN_REGION_HOST, true, r, VDNN_BIND_READ);
    placed pw = s.place(w.size() * 4, VDNN_REGION_SRAM, false, r, VDNN_BIND_READ);
    placed pb = s.place(bias.size() * 4, VDNN_REGION_SRAM, false, r, VDNN_BIND_READ);
    placed act = s.place(sh.output_elems() * 4, VDNN_REGION_DRAM, true, r);
    placed pfc = s.place(fc.size() * 4, VDNN_REGION_HOST, true, r, VDNN_BIND_READ);
    placed hid = s.place(std::size_t{sh.n} * hidden * 4, VDNN_REGION_SRAM, false, r);
    placed out = s.place(std::size_t{sh.n} * hidden * 4, VDNN_REGION_HOST, true, r, VDNN_BIND_WRITE);
    pin.write_vec(0, in);
    pw.write_vec(0, w);
    pb.write_vec(0, bias);
    pfc.write_vec(0, fc);
    vdnn_cmd_conv2d cv{};
    cv.dtype = VDNN_DTYPE_FP32, cv.flags = VDNN_CONV2D_BIAS | VDNN_CONV2D_RELU;
    cv.n = 2, cv.c = 3, cv.h = cv.w = 8, cv.o = 4, cv.kh = cv.kw = 3, cv.stride_h = cv.stride_w = 1, cv.pad_h = cv.pad_w = 1;
    cv.input = pin.va, cv.weights = pw.va, cv.bias = pb.va, cv.output = act.va;
    const u64 j1 = s.run(VDNN_ENGINE_COMPUTE0, one(cv), {pin.bo.handle, pw.bo.handle, pb.bo.handle, act.bo.handle});
    vdnn_cmd_gemm g{};
    g.dtype = VDNN_DTYPE_FP32, g.m = 2, g.n = hidden, g.k = flat, g.lda = flat, g.ldb = hidden, g.ldc = hidden;
    g.a = act.va, g.b = pfc.va, g.c = hid.va;
    vdnn_cmd_relu rl{};
    rl.dtype = VDNN_DTYPE_FP32, rl.count = 2 * hidden, rl.src = rl.dst = hid.va;
    stream_writer l2;
    l2.add(g).add(rl);
    const u64 j2 = s.run(VDNN_ENGINE_COMPUTE1, l2, {act.bo.handle, pfc.bo.handle, hid.bo.handle}, {j1});
    const u64 j3 = s.run(VDNN_ENGINE_DMA, one(copy_cmd(hid.va, out.va, 2 * hidden * 4)), {hid.bo.handle, out.bo.handle}, {j2});
    CHECK(s.wait_job(j3).status == VDNN_STATUS_OK);
    vdnn_wait now{};
    CHECK(s.wait(VDNN_WAIT_JOB, j1, 0, now) == 0);
    CHECK(s.wait(VDNN_WAIT_JOB, j2, 0, now) == 0);
    std::vector<float> a(sh.output_elems()), h(std::size_t{sh.n} * hidden);
    reference::conv2d_f32(sh, in.data(), w.data(), bias.data(), a.data(), true);
    reference::gemm_f32(2, hidden, flat, a.data(), flat, fc.data(), hidden, h.data(), hidden, false);
    reference::relu_f32(h.data(), h.data(), h.size());
    s.sync(out);
    const auto got = out.read_vec<float>(0, h.size());
    for (std::size_t i = 0; i < h.size(); ++i)
        CHECK(std::fabs(got[i] - h[i]) <= 1e-4f * (1.0f + std::fabs(h[i])) * static_cast<float>(flat));
}

} // namespace vdnn::dtest

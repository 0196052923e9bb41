// SPDX-License-Identifier: MIT
// The engine executor through a real page table (LPAE, 4 KiB pages) over a device memory region:
// GEMM, convolution and the element-wise ops against the reference kernels with buffers that
// are physically contiguous (in place) or scattered page by page (gather/scatter), VAs at odd
// offsets in their pages, misaligned host memory (bounce and staging paths), and two VAs on one
// memory; faults (write through a read-only mapping, read through a write-only one, an unmapped
// page in an input or the output, a physical address outside every window) end the job with
// the faulting VA and leave all of device memory as it was; the commands before a fault keep
// their effect; stop requests, DEBUG_HANG, bad streams; two engines at once.
#include "vdnn_memory_fixture.hpp"
#include "vdnn_test_util.hpp"

#include "vdnn_engine_exec.hpp"
#include "vdnn_reference.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

using namespace vdnn;
using test::layout;

namespace {

constexpr u64 KiB = 1024, MiB = KiB * 1024;
constexpr u64 va_a = 0x1000'0000, va_b = 0x2000'0000, va_c = 0x3000'0000, va_d = 0x4000'0000;

std::string name(layout l) { return l == layout::contiguous ? "contiguous" : "scattered"; }

/// A snapshot of all of DRAM: after a fault, nothing may differ.
std::vector<std::byte> snapshot(const test::device_memory& d) {
    const std::byte* p = d.dram.host_base();
    return {p, p + d.dram.size()};
}

template <class T>
std::vector<T> random_of(test::rng& r, std::size_t n) {
    if constexpr (std::is_same_v<T, float>)
        return r.floats(n);
    else if constexpr (std::is_same_v<T, std::int8_t>)
        return r.int8s(n);
    else
        return r.int32s(n);
}

struct gemm_shape {
    u32 m, n, k, lda, ldb, ldc;
    bool accumulate;
};

/// One GEMM through the MMU, checked against the reference; operands at random offsets in
/// their first page, every byte of the output buffer outside C's elements unchanged.
template <class In, class Out>
void check_gemm(test::rng& r, layout how, const gemm_shape& g) {
    CAPTURE(name(how));
    CAPTURE(g.m);
    CAPTURE(g.n);
    CAPTURE(g.k);
    CAPTURE(g.lda);
    CAPTURE(g.ldb);
    CAPTURE(g.ldc);
    CAPTURE(g.accumulate);
    test::device_memory d(16 * MiB);
    const u64 oa = r.uniform(0, 1023) * sizeof(In), ob = r.uniform(0, 1023) * sizeof(In), oc = r.uniform(0, 1023) * 4;
    const auto A = random_of<In>(r, std::size_t{g.m} * g.lda), B = random_of<In>(r, std::size_t{g.k} * g.ldb);
    const auto C0 = random_of<Out>(r, std::size_t{g.m} * g.ldc);
    auto ba = test::make_buffer(d, va_a, oa + A.size() * sizeof(In), how, vm_perm::read, r.gen);
    auto bb = test::make_buffer(d, va_b, ob + B.size() * sizeof(In), how, vm_perm::read, r.gen);
    auto bc = test::make_buffer(d, va_c, oc + C0.size() * sizeof(Out), how, vm_perm::rw, r.gen);
    ba.write(oa, A.data(), A.size() * sizeof(In));
    bb.write(ob, B.data(), B.size() * sizeof(In));
    const std::vector<std::byte> noise = [&] {
        std::vector<std::byte> v(bc.size);
        for (auto& x : v)
            x = static_cast<std::byte>(r.uniform(0, 255));
        return v;
    }();
    bc.write(0, noise.data(), noise.size());
    bc.write(oc, C0.data(), C0.size() * sizeof(Out));

    vdnn_cmd_gemm cmd{};
    cmd.dtype = std::is_same_v<In, float> ? VDNN_DTYPE_FP32 : VDNN_DTYPE_INT8;
    cmd.flags = g.accumulate ? VDNN_GEMM_ACCUMULATE : 0;
    cmd.m = g.m, cmd.n = g.n, cmd.k = g.k, cmd.lda = g.lda, cmd.ldb = g.ldb, cmd.ldc = g.ldc;
    cmd.a = va_a + oa, cmd.b = va_b + ob, cmd.c = va_c + oc;
    stream_writer w;
    w.add(cmd);
    engine e;
    const exec_result res = e.run(w.bytes(), d.mmu, d.phys);
    REQUIRE(res.error == 0);
    CHECK(res.status == VDNN_STATUS_OK);
    CHECK(res.command == 1);

    auto want = C0;
    if constexpr (std::is_same_v<In, float>)
        reference::gemm_f32(g.m, g.n, g.k, A.data(), g.lda, B.data(), g.ldb, want.data(), g.ldc, g.accumulate);
    else
        reference::gemm_s8(g.m, g.n, g.k, A.data(), g.lda, B.data(), g.ldb, want.data(), g.ldc, g.accumulate);
    std::vector<Out> got(C0.size());
    bc.read(oc, got.data(), got.size() * sizeof(Out));
    std::size_t bad = 0;
    for (std::size_t i = 0; i < g.m; ++i)
        for (std::size_t j = 0; j < g.ldc; ++j) {
            const std::size_t at = i * g.ldc + j;
            bool ok;
            if (j >= g.n) {
                ok = std::memcmp(&got[at], &C0[at], sizeof(Out)) == 0; // stride gaps untouched
            } else if constexpr (std::is_same_v<Out, float>) {
                double mag = g.accumulate ? std::fabs(C0[at]) : 0.0;
                for (std::size_t p = 0; p < g.k; ++p)
                    mag += std::fabs(static_cast<double>(A[i * g.lda + p]) * B[p * g.ldb + j]);
                ok = test::close_enough(got[at], want[at], mag, g.k + 1);
            } else {
                ok = got[at] == want[at];
            }
            bad += !ok;
        }
    CHECK(bad == 0);
    // Bytes of the output buffer around C.
    std::vector<std::byte> all(bc.size);
    bc.read(0, all.data(), all.size());
    CHECK(std::memcmp(all.data(), noise.data(), oc) == 0);
    const u64 end = oc + C0.size() * sizeof(Out);
    CHECK(std::memcmp(all.data() + end, noise.data() + end, bc.size - end) == 0);
}

gemm_shape random_shape(test::rng& r) {
    gemm_shape g{};
    g.m = static_cast<u32>(r.dim(130));
    g.n = static_cast<u32>(r.dim(130));
    g.k = static_cast<u32>(r.dim(130));
    g.lda = g.k + static_cast<u32>(r.coin() ? 0 : r.uniform(1, 700)); // gaps up to whole pages
    g.ldb = g.n + static_cast<u32>(r.coin() ? 0 : r.uniform(1, 9));
    g.ldc = g.n + static_cast<u32>(r.coin() ? 0 : r.uniform(1, 9));
    g.accumulate = r.coin();
    return g;
}

vdnn_cmd_gemm gemm_cmd(u32 dtype, u32 m, u32 n, u32 k, u64 a, u64 b, u64 c, u32 flags = 0) {
    vdnn_cmd_gemm g{};
    g.dtype = dtype;
    g.flags = flags;
    g.m = m, g.n = n, g.k = k, g.lda = k, g.ldb = n, g.ldc = n;
    g.a = a, g.b = b, g.c = c;
    return g;
}

} // namespace

TEST_CASE("exec: GEMM through the MMU, contiguous and scattered pages") {
    test::rng r;
    INFO("seed " << r.seed);
    for (layout how : {layout::contiguous, layout::scattered})
        for (int i = 0; i < 12; ++i) {
            check_gemm<float, float>(r, how, random_shape(r));
            check_gemm<std::int8_t, std::int32_t>(r, how, random_shape(r));
        }
    // Operands of several pages each, rows crossing page boundaries.
    for (layout how : {layout::contiguous, layout::scattered}) {
        check_gemm<float, float>(r, how, {129, 127, 130, 130, 127, 131, true});
        check_gemm<std::int8_t, std::int32_t>(r, how, {130, 130, 130, 1031, 130, 130, false});
    }
}

TEST_CASE("exec: CONV2D through the MMU") {
    test::rng r;
    INFO("seed " << r.seed);
    for (layout how : {layout::contiguous, layout::scattered})
        for (u32 dtype : {u32{VDNN_DTYPE_FP32}, u32{VDNN_DTYPE_INT8}})
            for (int iter = 0; iter < 6; ++iter) {
                test::device_memory d(16 * MiB);
                vdnn_cmd_conv2d c{};
                c.dtype = dtype;
                c.n = static_cast<u32>(r.uniform(1, 3));
                c.c = static_cast<u32>(r.uniform(1, 8));
                c.h = static_cast<u32>(r.uniform(3, 20));
                c.w = static_cast<u32>(r.uniform(3, 20));
                c.o = static_cast<u32>(r.uniform(1, 9));
                c.kh = static_cast<u32>(r.uniform(1, 3));
                c.kw = static_cast<u32>(r.uniform(1, 3));
                c.stride_h = static_cast<u32>(r.uniform(1, 2));
                c.stride_w = static_cast<u32>(r.uniform(1, 2));
                c.pad_h = static_cast<u32>(r.uniform(0, c.kh - 1));
                c.pad_w = static_cast<u32>(r.uniform(0, c.kw - 1));
                c.flags = (r.coin() ? VDNN_CONV2D_BIAS : 0) | (r.coin() ? VDNN_CONV2D_RELU : 0);
                const kernels::conv2d_shape s = shape_of(c);
                const u64 es = dtype == VDNN_DTYPE_INT8 ? 1 : 4;
                c.input = va_a + r.uniform(0, 500) * 4;
                c.weights = va_b + r.uniform(0, 500) * 4;
                c.bias = (c.flags & VDNN_CONV2D_BIAS) ? va_d + r.uniform(0, 500) * 4 : 0;
                c.output = va_c + r.uniform(0, 500) * 4;
                auto bin = test::make_buffer(d, va_a, c.input - va_a + s.input_elems() * es, how, vm_perm::read, r.gen);
                auto bw = test::make_buffer(d, va_b, c.weights - va_b + s.weight_elems() * es, how, vm_perm::read, r.gen);
                auto bbias = test::make_buffer(d, va_d, 4 * KiB, how, vm_perm::read, r.gen);
                auto bout = test::make_buffer(d, va_c, c.output - va_c + s.output_elems() * 4, how, vm_perm::write, r.gen);
                stream_writer wr;
                wr.add(c);
                engine e;
                if (dtype == VDNN_DTYPE_FP32) {
                    const auto in = r.floats(s.input_elems()), w = r.floats(s.weight_elems()), b = r.floats(s.o);
                    bin.write(c.input - va_a, in.data(), in.size() * 4);
                    bw.write(c.weights - va_b, w.data(), w.size() * 4);
                    if (c.bias)
                        bbias.write(c.bias - va_d, b.data(), b.size() * 4);
                    REQUIRE(e.run(wr.bytes(), d.mmu, d.phys).error == 0);
                    std::vector<float> want(s.output_elems()), got(s.output_elems());
                    reference::conv2d_f32(s, in.data(), w.data(), c.bias ? b.data() : nullptr, want.data(),
                                          c.flags & VDNN_CONV2D_RELU);
                    bout.read(c.output - va_c, got.data(), got.size() * 4);
                    std::size_t bad = 0;
                    for (std::size_t i = 0; i < got.size(); ++i)
                        bad += !test::close_enough(got[i], want[i], static_cast<double>(s.reduction() + 1), s.reduction() + 1);
                    CHECK(bad == 0);
                } else {
                    const auto in = r.int8s(s.input_elems()), w = r.int8s(s.weight_elems());
                    const auto b = r.int32s(s.o);
                    bin.write(c.input - va_a, in.data(), in.size());
                    bw.write(c.weights - va_b, w.data(), w.size());
                    if (c.bias)
                        bbias.write(c.bias - va_d, b.data(), b.size() * 4);
                    REQUIRE(e.run(wr.bytes(), d.mmu, d.phys).error == 0);
                    std::vector<std::int32_t> want(s.output_elems()), got(s.output_elems());
                    reference::conv2d_s8(s, in.data(), w.data(), c.bias ? b.data() : nullptr, want.data(),
                                         c.flags & VDNN_CONV2D_RELU);
                    bout.read(c.output - va_c, got.data(), got.size() * 4);
                    CHECK(got == want);
                }
            }
}

TEST_CASE("exec: element-wise ops, copy and fill through the MMU") {
    test::rng r;
    INFO("seed " << r.seed);
    for (layout how : {layout::contiguous, layout::scattered}) {
        CAPTURE(name(how));
        test::device_memory d(16 * MiB);
        const u64 count = 5000; // 20000 bytes: five pages
        const u64 off = 12;     // element-aligned, not page-aligned
        auto ba = test::make_buffer(d, va_a, off + count * 4, how, vm_perm::read, r.gen);
        auto bb = test::make_buffer(d, va_b, off + count * 4, how, vm_perm::rw, r.gen);
        auto bc = test::make_buffer(d, va_c, off + count * 4 + 8, how, vm_perm::rw, r.gen);
        const auto fa = r.floats(count), fb = r.floats(count);
        const auto ia = r.int32s(count), ib = r.int32s(count);
        engine e;
        auto run = [&](auto cmd) {
            stream_writer w;
            w.add(cmd);
            const exec_result res = e.run(w.bytes(), d.mmu, d.phys);
            CHECK(res.error == 0);
            CHECK(res.status == VDNN_STATUS_OK);
        };
        SUBCASE("relu fp32, into another buffer and in place") {
            ba.write(off, fa.data(), count * 4);
            bb.write(off, fb.data(), count * 4);
            run(vdnn_cmd_relu{{}, VDNN_DTYPE_FP32, 0, count, va_a + off, va_c + off});
            std::vector<float> want(count), got(count);
            reference::relu_f32(fa.data(), want.data(), count);
            bc.read(off, got.data(), count * 4);
            CHECK(std::memcmp(got.data(), want.data(), count * 4) == 0);
            run(vdnn_cmd_relu{{}, VDNN_DTYPE_FP32, 0, count, va_b + off, va_b + off});
            reference::relu_f32(fb.data(), want.data(), count);
            bb.read(off, got.data(), count * 4);
            CHECK(std::memcmp(got.data(), want.data(), count * 4) == 0);
        }
        SUBCASE("relu int32") {
            ba.write(off, ia.data(), count * 4);
            run(vdnn_cmd_relu{{}, VDNN_DTYPE_INT32, 0, count, va_a + off, va_c + off});
            std::vector<std::int32_t> want(count);
            reference::relu_s32(ia.data(), want.data(), count);
            std::vector<std::int32_t> got(count);
            bc.read(off, got.data(), count * 4);
            CHECK(got == want);
        }
        SUBCASE("add fp32 and int32, dst == b") {
            ba.write(off, fa.data(), count * 4);
            bb.write(off, fb.data(), count * 4);
            run(vdnn_cmd_add{{}, VDNN_DTYPE_FP32, 0, count, va_a + off, va_b + off, va_b + off});
            std::vector<float> want(count), got(count);
            reference::add_f32(fa.data(), fb.data(), want.data(), count);
            bb.read(off, got.data(), count * 4);
            CHECK(std::memcmp(got.data(), want.data(), count * 4) == 0);
            ba.write(off, ia.data(), count * 4);
            bb.write(off, ib.data(), count * 4);
            run(vdnn_cmd_add{{}, VDNN_DTYPE_INT32, 0, count, va_a + off, va_b + off, va_c + off});
            std::vector<std::int32_t> iw(count), ig(count);
            reference::add_s32(ia.data(), ib.data(), iw.data(), count);
            bc.read(off, ig.data(), count * 4);
            CHECK(ig == iw);
        }
        SUBCASE("copy and fill at odd offsets") {
            std::vector<unsigned char> src(count * 4 - 3);
            for (auto& x : src)
                x = static_cast<unsigned char>(r.uniform(0, 255));
            ba.write(off + 1, src.data(), src.size());
            run(vdnn_cmd_copy{{}, src.size(), va_a + off + 1, va_c + 3});
            std::vector<unsigned char> got(src.size());
            bc.read(3, got.data(), got.size());
            CHECK(got == src);
            run(vdnn_cmd_fill{{}, 0x44332211u, 0, 9999, va_b + 5});
            std::vector<unsigned char> want(9999), fill(9999);
            reference::fill_pattern(want.data(), want.size(), 0x44332211u, 0);
            bb.read(5, fill.data(), fill.size());
            CHECK(fill == want);
            CHECK(fill[0] == 0x11);
        }
    }
}

TEST_CASE("exec: misaligned host memory goes through staging and bounce buffers") {
    test::rng r;
    INFO("seed " << r.seed);
    test::device_memory d(4 * MiB);
    // 256 KiB of host memory at physical 0x40'0000'0000, one byte past a page boundary.
    test::host_window win(d, 0x40'0000'0000, 256 * KiB, 1);
    REQUIRE(d.pt.map(va_a, win.pa, win.size, vm_perm::rw) == 0);
    const u32 m = 37, n = 41, k = 29;
    const auto A = r.floats(m * k), B = r.floats(k * n);
    std::memcpy(win.host, A.data(), A.size() * 4);
    std::memcpy(win.host + 64 * KiB, B.data(), B.size() * 4);
    const auto x = r.floats(3000);
    std::memcpy(win.host + 128 * KiB, x.data(), x.size() * 4);
    stream_writer w;
    w.add(gemm_cmd(VDNN_DTYPE_FP32, m, n, k, va_a, va_a + 64 * KiB, va_a + 96 * KiB));
    w.add(vdnn_cmd_relu{{}, VDNN_DTYPE_FP32, 0, 3000, va_a + 128 * KiB, va_a + 192 * KiB});
    engine e;
    const exec_result res = e.run(w.bytes(), d.mmu, d.phys);
    REQUIRE(res.error == 0);
    std::vector<float> want(m * n), got(m * n);
    reference::gemm_f32(m, n, k, A.data(), k, B.data(), n, want.data(), n, false);
    std::memcpy(got.data(), win.host + 96 * KiB, got.size() * 4);
    for (std::size_t i = 0; i < got.size(); ++i)
        CHECK(test::close_enough(got[i], want[i], static_cast<double>(k), k));
    std::vector<float> rw(3000), rg(3000);
    reference::relu_f32(x.data(), rw.data(), 3000);
    std::memcpy(rg.data(), win.host + 192 * KiB, rg.size() * 4);
    CHECK(std::memcmp(rw.data(), rg.data(), rg.size() * 4) == 0);
}

TEST_CASE("exec: an output on the same memory as an input is computed after reading it") {
    test::rng r;
    INFO("seed " << r.seed);
    for (layout how : {layout::contiguous, layout::scattered}) {
        CAPTURE(name(how));
        test::device_memory d(4 * MiB);
        const u32 n = 40; // A and C both 40 x 40 fp32: C overwrites A in place
        const auto A = r.floats(n * n), B = r.floats(n * n);
        auto ba = test::make_buffer(d, va_a, n * n * 4, how, vm_perm::read, r.gen);
        auto bb = test::make_buffer(d, va_b, n * n * 4, how, vm_perm::read, r.gen);
        test::alias(d, ba, va_c, vm_perm::rw); // C's VA maps A's pages
        ba.write_all(A);
        bb.write_all(B);
        stream_writer w;
        w.add(gemm_cmd(VDNN_DTYPE_FP32, n, n, n, va_a, va_b, va_c));
        engine e;
        REQUIRE(e.run(w.bytes(), d.mmu, d.phys).error == 0);
        std::vector<float> want(n * n);
        reference::gemm_f32(n, n, n, A.data(), n, B.data(), n, want.data(), n, false);
        const auto got = ba.read_all<float>();
        for (std::size_t i = 0; i < got.size(); ++i)
            CHECK(test::close_enough(got[i], want[i], static_cast<double>(n), n));
    }
}

TEST_CASE("exec: faults end the job with the faulting VA and change nothing") {
    test::rng r;
    INFO("seed " << r.seed);
    test::device_memory d(16 * MiB);
    const u32 n = 64; // 64 x 64 fp32 = 16 KiB = 4 pages per operand
    auto ba = test::make_buffer(d, va_a, n * n * 4, layout::scattered, vm_perm::read, r.gen);
    auto bb = test::make_buffer(d, va_b, n * n * 4, layout::contiguous, vm_perm::read, r.gen);
    ba.write_all(r.floats(n * n));
    bb.write_all(r.floats(n * n));
    engine e;
    auto run_one = [&](auto cmd) {
        stream_writer w;
        w.add(cmd);
        return e.run(w.bytes(), d.mmu, d.phys);
    };
    auto expect_fault = [&](const exec_result& res, u64 va) {
        CHECK(res.error == -EFAULT);
        CHECK(res.status == VDNN_STATUS_MMU_FAULT);
        CHECK(res.fault_va == va);
    };

    SUBCASE("GEMM writing through a read-only mapping") {
        auto bc = test::make_buffer(d, va_c, n * n * 4, layout::scattered, vm_perm::read, r.gen);
        bc.write_all(r.floats(n * n));
        const auto before = snapshot(d);
        expect_fault(run_one(gemm_cmd(VDNN_DTYPE_FP32, n, n, n, va_a, va_b, va_c)), va_c);
        CHECK(snapshot(d) == before);
    }
    SUBCASE("an accumulating GEMM reading through a write-only mapping") {
        auto bc = test::make_buffer(d, va_c, n * n * 4, layout::contiguous, vm_perm::write, r.gen);
        const auto before = snapshot(d);
        expect_fault(run_one(gemm_cmd(VDNN_DTYPE_FP32, n, n, n, va_a, va_b, va_c, VDNN_GEMM_ACCUMULATE)), va_c);
        CHECK(snapshot(d) == before);
        // Without accumulating, write-only is enough.
        CHECK(run_one(gemm_cmd(VDNN_DTYPE_FP32, n, n, n, va_a, va_b, va_c)).error == 0);
    }
    SUBCASE("an unmapped page in the middle of the output") {
        auto bc = test::make_buffer(d, va_c, n * n * 4, layout::scattered, vm_perm::rw, r.gen);
        bc.write_all(r.floats(n * n));
        REQUIRE(d.pt.unmap(va_c + 2 * test::page, test::page));
        const auto before = snapshot(d);
        expect_fault(run_one(gemm_cmd(VDNN_DTYPE_FP32, n, n, n, va_a, va_b, va_c)), va_c + 2 * test::page);
        CHECK(snapshot(d) == before);
        // The same for the element-wise ops: no piece before the hole is written either.
        const exec_result rr = run_one(vdnn_cmd_relu{{}, VDNN_DTYPE_FP32, 0, n * n, va_a, va_c});
        expect_fault(rr, va_c + 2 * test::page);
        expect_fault(run_one(vdnn_cmd_copy{{}, n * n * 4, va_a, va_c}), va_c + 2 * test::page);
        expect_fault(run_one(vdnn_cmd_fill{{}, 7, 0, n * n * 4, va_c}), va_c + 2 * test::page);
        expect_fault(run_one(vdnn_cmd_add{{}, VDNN_DTYPE_INT32, 0, n * n, va_a, va_b, va_c}), va_c + 2 * test::page);
        CHECK(snapshot(d) == before);
    }
    SUBCASE("an unmapped page in an input, strided rows") {
        auto bc = test::make_buffer(d, va_c, n * n * 4, layout::contiguous, vm_perm::rw, r.gen);
        REQUIRE(d.pt.unmap(va_a + 3 * test::page, test::page));
        const auto before = snapshot(d);
        // A as 16 rows of 32 floats, 256 floats apart: rows 12..15 sit in the missing page.
        vdnn_cmd_gemm g = gemm_cmd(VDNN_DTYPE_FP32, 16, n, 32, va_a, va_b, va_c);
        g.lda = 256;
        expect_fault(run_one(g), va_a + 12 * 256 * 4);
        CHECK(snapshot(d) == before);
        // Rows that stop short of the hole are fine.
        g.m = 12;
        CHECK(run_one(g).error == 0);
    }
    SUBCASE("a VA past the end of a mapping, and a VA never mapped") {
        auto bc = test::make_buffer(d, va_c, n * n * 4, layout::contiguous, vm_perm::rw, r.gen);
        const auto before = snapshot(d);
        expect_fault(run_one(vdnn_cmd_copy{{}, n * n * 4 + 1, va_a, va_c}), va_a + n * n * 4);
        expect_fault(run_one(vdnn_cmd_fill{{}, 0, 0, 16, 0x7000'0000}), 0x7000'0000);
        expect_fault(run_one(gemm_cmd(VDNN_DTYPE_INT8, 4, 4, 4, va_a, 0x7000'0000, va_c)), 0x7000'0000);
        CHECK(snapshot(d) == before);
    }
    SUBCASE("a physical address outside every window") {
        REQUIRE(d.pt.map(va_d, 0x50'0000'0000, test::page, vm_perm::rw) == 0);
        expect_fault(run_one(vdnn_cmd_fill{{}, 0, 0, 16, va_d + 32}), va_d + 32);
    }
    SUBCASE("the commands before the fault keep their effect") {
        auto bc = test::make_buffer(d, va_c, 3 * test::page, layout::scattered, vm_perm::rw, r.gen);
        REQUIRE(d.pt.unmap(va_c + 2 * test::page, test::page));
        stream_writer w;
        w.add(vdnn_cmd_fill{{}, 0xabababab, 0, test::page, va_c});                    // runs
        w.add(vdnn_cmd_relu{{}, VDNN_DTYPE_FP32, 0, test::page / 2, va_a, va_c + test::page}); // faults
        w.add(vdnn_cmd_fill{{}, 0xcdcdcdcd, 0, 16, va_c});                            // never runs
        const auto before_page1 = [&] {
            std::vector<std::byte> v(test::page);
            bc.read(test::page, v.data(), v.size());
            return v;
        }();
        const exec_result res = e.run(w.bytes(), d.mmu, d.phys);
        expect_fault(res, va_c + 2 * test::page);
        CHECK(res.command == 1);
        std::vector<unsigned char> p0(test::page);
        bc.read(0, p0.data(), p0.size());
        CHECK(std::all_of(p0.begin(), p0.end(), [](unsigned char c) { return c == 0xab; }));
        std::vector<std::byte> p1(test::page);
        bc.read(test::page, p1.data(), p1.size());
        CHECK(p1 == before_page1);
    }
}

TEST_CASE("exec: bad streams and ops the engine does not run") {
    test::device_memory d(4 * MiB);
    engine e;
    stream_writer w;
    w.add(vdnn_cmd_nop{}).add(vdnn_cmd_debug_hang{});
    exec_result res = e.run(w.bytes(), d.mmu, d.phys); // no debug switch
    CHECK(res.error == -EINVAL);
    CHECK(res.status == VDNN_STATUS_BAD_COMMAND);
    CHECK(res.command == 1);
    engine dma(VDNN_ENGINE_DMA);
    stream_writer g;
    g.add(gemm_cmd(VDNN_DTYPE_FP32, 1, 1, 1, va_a, va_b, va_c));
    res = dma.run(g.bytes(), d.mmu, d.phys);
    CHECK(res.error == -EINVAL);
    CHECK(res.status == VDNN_STATUS_BAD_COMMAND);
    CHECK(dma.run(std::span<const std::byte>{}, d.mmu, d.phys).error == -EINVAL);
    stream_writer nops;
    nops.add(vdnn_cmd_nop{}).add(vdnn_cmd_nop{});
    res = dma.run(nops.bytes(), d.mmu, d.phys);
    CHECK(res.error == 0);
    CHECK(res.command == 2);
}

TEST_CASE("exec: DEBUG_HANG waits for a stop, stop requests end jobs") {
    test::device_memory d(4 * MiB);
    engine e(VDNN_ENGINE_COMPUTE1, true);
    stream_writer w;
    w.add(vdnn_cmd_nop{}).add(vdnn_cmd_debug_hang{}).add(vdnn_cmd_nop{});

    // Without a control, a hang is a timeout at once.
    exec_result res = e.run(w.bytes(), d.mmu, d.phys);
    CHECK(res.error == -ETIMEDOUT);
    CHECK(res.status == VDNN_STATUS_TIMEOUT);
    CHECK(res.command == 1);

    exec_control ctl;
    std::thread t([&] { res = e.run(w.bytes(), d.mmu, d.phys, &ctl); });
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ctl.stop(VDNN_STATUS_TIMEOUT);
    ctl.stop(VDNN_STATUS_CANCELLED); // the first request wins
    t.join();
    CHECK(res.error == -ETIMEDOUT);
    CHECK(res.status == VDNN_STATUS_TIMEOUT);
    CHECK(res.command == 1);

    // A stopped control stops the next job before its first command; reset() rearms it.
    res = e.run(w.bytes(), d.mmu, d.phys, &ctl);
    CHECK(res.command == 0);
    CHECK(res.status == VDNN_STATUS_TIMEOUT);
    ctl.reset();
    ctl.stop(VDNN_STATUS_CANCELLED);
    res = e.run(w.bytes(), d.mmu, d.phys, &ctl);
    CHECK(res.error == -ECANCELED);
    CHECK(res.status == VDNN_STATUS_CANCELLED);
    ctl.reset();
    stream_writer ok;
    ok.add(vdnn_cmd_nop{});
    CHECK(e.run(ok.bytes(), d.mmu, d.phys, &ctl).error == 0);
}

TEST_CASE("exec: two engines at once over one page table") {
    test::rng r;
    INFO("seed " << r.seed);
    test::device_memory d(16 * MiB);
    const u32 n = 96;
    const auto A = r.floats(n * n), B = r.floats(n * n);
    auto ba = test::make_buffer(d, va_a, n * n * 4, layout::scattered, vm_perm::read, r.gen);
    auto bb = test::make_buffer(d, va_b, n * n * 4, layout::scattered, vm_perm::read, r.gen);
    auto c0 = test::make_buffer(d, va_c, n * n * 4, layout::scattered, vm_perm::write, r.gen);
    auto c1 = test::make_buffer(d, va_d, n * n * 4, layout::contiguous, vm_perm::write, r.gen);
    ba.write_all(A);
    bb.write_all(B);
    engine e0(VDNN_ENGINE_COMPUTE0), e1(VDNN_ENGINE_COMPUTE1);
    stream_writer w0, w1;
    for (int i = 0; i < 5; ++i) {
        w0.add(gemm_cmd(VDNN_DTYPE_FP32, n, n, n, va_a, va_b, va_c));
        w1.add(gemm_cmd(VDNN_DTYPE_FP32, n, n, n, va_b, va_a, va_d));
    }
    exec_result r0, r1;
    std::thread t0([&] { r0 = e0.run(w0.bytes(), d.mmu, d.phys); });
    std::thread t1([&] { r1 = e1.run(w1.bytes(), d.pt, d.phys); }); // the page table itself
    t0.join();
    t1.join();
    CHECK(r0.error == 0);
    CHECK(r1.error == 0);
    std::vector<float> want0(n * n), want1(n * n);
    reference::gemm_f32(n, n, n, A.data(), n, B.data(), n, want0.data(), n, false);
    reference::gemm_f32(n, n, n, B.data(), n, A.data(), n, want1.data(), n, false);
    const auto got0 = c0.read_all<float>(), got1 = c1.read_all<float>();
    std::size_t bad = 0;
    for (std::size_t i = 0; i < got0.size(); ++i)
        bad += !test::close_enough(got0[i], want0[i], n, n) + !test::close_enough(got1[i], want1[i], n, n);
    CHECK(bad == 0);
}

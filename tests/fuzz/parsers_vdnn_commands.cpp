// SPDX-License-Identifier: MIT
// accel_fuzz_vdnn_commands: vdnn's command-stream validator and engine executor on hostile
// streams, run against a small device VM (tests/vdnn/vdnn_memory_fixture.hpp's LPAE page table
// over a DRAM region) with a few buffers mapped: contiguous and scattered, read-write,
// read-only and write-only, one buffer mapped twice (an alias), and a misaligned host window.
//
// Input: an 8-byte header, then the command stream as it is.
//   byte 0: bits 0-1 engine (COMPUTE0, COMPUTE1, DMA, an unknown engine), bit 2 the debug
//           switch (DEBUG_HANG accepted), bits 3-4 the kernels' instruction set (usable_isa);
//   byte 1: how device memory is filled before the run (bit 0: small floats, else any bytes),
//           the rest seeds the filler.
// Checks:
//  - validate() answers 0 or -EINVAL; a rejected stream ends run() at once with -EINVAL,
//    VDNN_STATUS_BAD_COMMAND and the failing index, and no byte of device memory changes;
//  - every accepted command's sizes are recomputed here in 128-bit arithmetic: no operand
//    passes 2^64, GEMM and convolution operands stay within VDNN_MAX_TENSOR_BYTES;
//  - an accepted stream runs against a model of device memory (every mapped byte, with the
//    VA -> memory map and its permissions): each op either faults at the first unreachable VA
//    in operand order, leaving memory as the previous op left it, or has the effect of
//    vdnn_reference's kernel (exact for integers, element-wise fp32 and data movement; within a
//    float summation bound for fp32 GEMM and convolution). The result (error, status,
//    fault_va, command) must match. Streams holding an fp32 GEMM or CONV2D run one command at
//    a time (each result checked, then adopted into the model); others run whole.
// ASan/UBSan catch out-of-bounds host accesses and overflowing index arithmetic on the way.
#include "parsers_common.hpp"
#include "vdnn_memory_fixture.hpp"

#include "vdnn_commands.hpp"
#include "vdnn_engine_exec.hpp"
#include "vdnn_reference.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <random>
#include <vector>

using namespace vdnn;
using accel::fuzz_parsers::fail;

const char accel::fuzz_parsers::target_name[] = "accel_fuzz_vdnn_commands";

namespace {

constexpr u64 page = test::page;

/// The device VM, built once: buffers at fixed VAs (seeds point into them).
struct vm {
    test::device_memory dev{u64{1} << 20};
    std::mt19937_64 rng{1};
    std::vector<test::buffer> bufs;
    std::optional<test::host_window> win;
    /// Every mapped VA page: its host memory and permissions.
    struct vpage {
        u64 va;
        std::byte* host;
        vm_perm perms;
        std::size_t model_page; ///< index of its memory in the model (aliases share one)
    };
    std::vector<vpage> vpages;
    std::vector<std::byte*> mem_pages; ///< distinct host pages, model order

    vm() {
        bufs.push_back(test::make_buffer(dev, 0x10000, 4 * page, test::layout::contiguous, vm_perm::rw, rng));
        bufs.push_back(test::make_buffer(dev, 0x20000, 4 * page, test::layout::scattered, vm_perm::rw, rng));
        bufs.push_back(test::make_buffer(dev, 0x30000, 2 * page, test::layout::contiguous, vm_perm::read, rng));
        bufs.push_back(test::make_buffer(dev, 0x40000, 2 * page, test::layout::scattered, vm_perm::write, rng));
        for (std::size_t b = 0; b < bufs.size(); ++b)
            for (std::size_t i = 0; i < bufs[b].pages.size(); ++i)
                add(bufs[b].va + i * page, bufs[b].pages[i],
                    b < 2 ? vm_perm::rw : b == 2 ? vm_perm::read : vm_perm::write);
        test::alias(dev, bufs[0], 0x50000, vm_perm::rw); // buf0's memory again, at 0x50000
        for (std::size_t i = 0; i < bufs[0].pages.size(); ++i)
            add(0x50000 + i * page, bufs[0].pages[i], vm_perm::rw);
        win.emplace(dev, 0x40'0000'0000, 2 * page, 1); // host memory one byte past a page boundary
        test::require(dev.pt.map(0x60000, win->pa, win->size, vm_perm::rw), "map window");
        for (u64 i = 0; i < 2; ++i)
            add(0x60000 + i * page, win->host + i * page, vm_perm::rw);
    }
    void add(u64 va, std::byte* host, vm_perm perms) {
        std::size_t idx = mem_pages.size();
        for (std::size_t i = 0; i < mem_pages.size(); ++i)
            if (mem_pages[i] == host)
                idx = i;
        if (idx == mem_pages.size())
            mem_pages.push_back(host);
        vpages.push_back({va, host, perms, idx});
    }
    const vpage* find(u64 va) const {
        for (const vpage& p : vpages)
            if (va - p.va < page)
                return &p;
        return nullptr;
    }
    std::vector<std::byte> snapshot() const {
        std::vector<std::byte> s(mem_pages.size() * page);
        for (std::size_t i = 0; i < mem_pages.size(); ++i)
            std::memcpy(s.data() + i * page, mem_pages[i], page);
        return s;
    }
    void restore(const std::vector<std::byte>& s) {
        for (std::size_t i = 0; i < mem_pages.size(); ++i)
            std::memcpy(mem_pages[i], s.data() + i * page, page);
    }
};

vm& the_vm() {
    static vm* v = new vm; // never destroyed: LeakSanitizer ignores what a global still reaches
    return *v;
}

/// Device memory as the model sees it: the bytes of every distinct page, reached by VA.
struct model {
    const vm& v;
    std::vector<std::byte> mem;
    bool lost = false; ///< an op whose result depends on the engine's order: contents unknown

    /// The model offset of the byte at `va` if it is mapped with `need`.
    std::optional<std::size_t> at(u64 va, vm_perm need) const {
        const vm::vpage* p = v.find(va);
        if (!p || !accel::mm::vm::allows(p->perms, need))
            return std::nullopt;
        return p->model_page * page + (va - p->va);
    }
    /// The first VA of `op` not reachable with `need`, in operand order.
    std::optional<u64> first_fault(const operand& op, vm_perm need) const {
        if (!op.present())
            return std::nullopt;
        for (u64 r = 0; r < op.rows; ++r)
            for (u64 done = 0; done < op.row_bytes;) {
                const u64 va = op.va + r * op.stride + done;
                if (!at(va, need))
                    return va;
                done += std::min(op.row_bytes - done, page - va % page);
            }
        return std::nullopt;
    }
    /// The model offsets of the operand's bytes, packed.
    std::vector<std::size_t> offsets(const operand& op) const {
        std::vector<std::size_t> o;
        o.reserve(op.bytes());
        for (u64 r = 0; r < op.rows; ++r)
            for (u64 i = 0; i < op.row_bytes; ++i)
                o.push_back(*at(op.va + r * op.stride + i, vm_perm::none));
        return o;
    }
    template <class T>
    std::vector<T> read(const operand& op) const {
        const auto o = offsets(op);
        std::vector<std::byte> b(o.size());
        for (std::size_t i = 0; i < o.size(); ++i)
            b[i] = mem[o[i]];
        std::vector<T> t(b.size() / sizeof(T));
        std::memcpy(t.data(), b.data(), t.size() * sizeof(T));
        return t;
    }
    template <class T>
    void write(const operand& op, const std::vector<T>& t) {
        const auto o = offsets(op);
        std::vector<std::byte> b(o.size());
        std::memcpy(b.data(), t.data(), b.size());
        for (std::size_t i = 0; i < o.size(); ++i)
            mem[o[i]] = b[i];
    }
    /// Two operands share memory at different packed positions: an element-wise op's result
    /// would depend on the order the engine walks them in.
    bool cross_overlap(const operand& in, const operand& out) const {
        std::vector<long long> pos(mem.size(), -1);
        const auto oo = offsets(out);
        for (std::size_t i = 0; i < oo.size(); ++i)
            pos[oo[i]] = static_cast<long long>(i);
        const auto io = offsets(in);
        for (std::size_t i = 0; i < io.size(); ++i)
            if (pos[io[i]] >= 0 && pos[io[i]] != static_cast<long long>(i))
                return true;
        return false;
    }
};

using i128 = unsigned __int128;
constexpr i128 two64 = i128{1} << 64;

/// Independent size checks of an accepted command, in 128-bit arithmetic.
void check_sizes(const vdnn_cmd_gemm& g) {
    const i128 e = g.dtype == VDNN_DTYPE_INT8 ? 1 : 4;
    auto mat = [&](u64 va, i128 rows, i128 cols, i128 ld, i128 elem) {
        EXPECT(ld >= cols, (u64)ld, (u64)cols);
        const i128 span = ((rows - 1) * ld + cols) * elem;
        EXPECT(span <= VDNN_MAX_TENSOR_BYTES, (u64)span);
        EXPECT(va + span <= two64, va, (u64)span);
        EXPECT(va % elem == 0, va);
    };
    mat(g.a, g.m, g.k, g.lda, e);
    mat(g.b, g.k, g.n, g.ldb, e);
    mat(g.c, g.m, g.n, g.ldc, 4);
    EXPECT(g.k <= VDNN_MAX_REDUCTION);
}
void check_sizes(const vdnn_cmd_conv2d& c) {
    const i128 e = c.dtype == VDNN_DTYPE_INT8 ? 1 : 4;
    EXPECT(c.kh <= i128{c.h} + 2 * i128{c.pad_h} && c.kw <= i128{c.w} + 2 * i128{c.pad_w});
    const i128 oh = (i128{c.h} + 2 * i128{c.pad_h} - c.kh) / c.stride_h + 1;
    const i128 ow = (i128{c.w} + 2 * i128{c.pad_w} - c.kw) / c.stride_w + 1;
    auto t = [&](u64 va, i128 bytes, i128 elem) {
        EXPECT(bytes <= VDNN_MAX_TENSOR_BYTES, (u64)bytes);
        EXPECT(va + bytes <= two64, va, (u64)bytes);
        EXPECT(va % elem == 0, va);
    };
    t(c.input, i128{c.n} * c.c * c.h * c.w * e, e);
    t(c.weights, i128{c.o} * c.c * c.kh * c.kw * e, e);
    t(c.output, i128{c.n} * c.o * oh * ow * 4, 4);
    if (c.flags & VDNN_CONV2D_BIAS)
        t(c.bias, i128{c.o} * 4, 4);
    EXPECT(i128{c.c} * c.kh * c.kw <= VDNN_MAX_REDUCTION);
}
void check_flat(u64 va, i128 bytes) {
    EXPECT(bytes >= 1);
    EXPECT(va + bytes <= two64, va, (u64)bytes);
}
void check_sizes(const vdnn_cmd_relu& r) {
    check_flat(r.src, i128{r.count} * 4);
    check_flat(r.dst, i128{r.count} * 4);
}
void check_sizes(const vdnn_cmd_add& a) {
    check_flat(a.a, i128{a.count} * 4);
    check_flat(a.b, i128{a.count} * 4);
    check_flat(a.dst, i128{a.count} * 4);
}
void check_sizes(const vdnn_cmd_copy& c) {
    check_flat(c.src, c.bytes);
    check_flat(c.dst, c.bytes);
    EXPECT(c.src + i128{c.bytes} <= c.dst || c.dst + i128{c.bytes} <= c.src, c.src, c.dst);
}
void check_sizes(const vdnn_cmd_fill& f) { check_flat(f.dst, f.bytes); }
void check_sizes(const vdnn_cmd_nop&) {}
void check_sizes(const vdnn_cmd_debug_hang&) {}

/// Multiply-adds a command costs (host time): commands above a budget are not run.
u64 cost(const command& c) {
    if (auto* g = std::get_if<vdnn_cmd_gemm>(&c))
        return u64{g->m} * g->n * g->k;
    if (auto* cv = std::get_if<vdnn_cmd_conv2d>(&c)) {
        const kernels::conv2d_shape s = shape_of(*cv);
        return s.output_elems() * s.reduction();
    }
    return 0;
}
constexpr u64 cost_budget = u64{1} << 21;

bool is_fp32_heavy(const command& c) {
    if (auto* g = std::get_if<vdnn_cmd_gemm>(&c))
        return g->dtype == VDNN_DTYPE_FP32;
    if (auto* cv = std::get_if<vdnn_cmd_conv2d>(&c))
        return cv->dtype == VDNN_DTYPE_FP32;
    return false;
}

std::optional<u64> fault_of(const model& m, std::initializer_list<std::pair<const operand*, vm_perm>> ops) {
    for (auto [op, need] : ops)
        if (auto f = m.first_fault(*op, need))
            return f;
    return std::nullopt;
}

/// |got - want| within a float summation's error bound (as tests/vdnn/vdnn_test_util.hpp).
bool close_enough(float got, float want, double magnitude, std::size_t terms) {
    const double tol = 4.0 * static_cast<double>(terms + 2) * 0x1p-24 * magnitude + 1e-30;
    return std::fabs(static_cast<double>(got) - static_cast<double>(want)) <= tol;
}

bool finite_small(double x) { return std::isfinite(x) && std::fabs(x) < 1e30; }

/// Checks fp32 `got` (engine) against `want` (reference) with magnitudes `mag`.
void check_f32(const std::vector<float>& got, const std::vector<float>& want, const std::vector<float>& mag,
               std::size_t terms) {
    for (std::size_t i = 0; i < got.size(); ++i) {
        if (!finite_small(mag[i]) || !finite_small(want[i]))
            continue; // overflow or NaN in the inputs: any float result is defensible
        if (!close_enough(got[i], want[i], mag[i], terms)) {
            std::fprintf(stderr, "element %zu: got %a, want %a, magnitude %a\n", i, static_cast<double>(got[i]),
                         static_cast<double>(want[i]), static_cast<double>(mag[i]));
            fail("fp32 result outside the summation bound", i, static_cast<unsigned long long>(terms));
        }
    }
}

template <class T>
std::vector<T> abs_of(std::vector<T> v) {
    for (auto& x : v)
        x = std::fabs(x);
    return v;
}

/// Applies `cmd` to the model; `actual` (model layout, after the engine ran this one command)
/// is used for fp32 GEMM and CONV2D.
exec_result apply(model& m, const command& cmd, const std::vector<std::byte>* actual) {
    const exec_result ok{};
    auto fault = [](u64 va) { return exec_result{-EFAULT, VDNN_STATUS_MMU_FAULT, va, 0}; };
    if (auto* g = std::get_if<vdnn_cmd_gemm>(&cmd)) {
        const gemm_operands o = operands_of(*g);
        const bool acc = g->flags & VDNN_GEMM_ACCUMULATE;
        if (auto f = fault_of(m, {{&o.a, vm_perm::read}, {&o.b, vm_perm::read}, {&o.c, acc ? vm_perm::rw : vm_perm::write}}))
            return fault(*f);
        if (g->dtype == VDNN_DTYPE_INT8) {
            const auto a = m.read<std::int8_t>(o.a), b = m.read<std::int8_t>(o.b);
            auto c = m.read<std::int32_t>(o.c);
            reference::gemm_s8(g->m, g->n, g->k, a.data(), g->k, b.data(), g->n, c.data(), g->n, acc);
            m.write(o.c, c);
        } else {
            const auto a = m.read<float>(o.a), b = m.read<float>(o.b), c0 = m.read<float>(o.c);
            auto want = c0, mag = abs_of(c0);
            reference::gemm_f32(g->m, g->n, g->k, a.data(), g->k, b.data(), g->n, want.data(), g->n, acc);
            reference::gemm_f32(g->m, g->n, g->k, abs_of(a).data(), g->k, abs_of(b).data(), g->n, mag.data(), g->n, acc);
            model am{m.v, *actual};
            const auto got = am.read<float>(o.c);
            check_f32(got, want, mag, g->k + 1);
            m.write(o.c, got);
        }
        return ok;
    }
    if (auto* cv = std::get_if<vdnn_cmd_conv2d>(&cmd)) {
        const conv2d_operands o = operands_of(*cv);
        if (auto f = fault_of(m, {{&o.input, vm_perm::read}, {&o.weights, vm_perm::read}, {&o.bias, vm_perm::read},
                                   {&o.output, vm_perm::write}}))
            return fault(*f);
        const kernels::conv2d_shape s = shape_of(*cv);
        const bool relu = cv->flags & VDNN_CONV2D_RELU, bias = cv->flags & VDNN_CONV2D_BIAS;
        if (cv->dtype == VDNN_DTYPE_INT8) {
            const auto in = m.read<std::int8_t>(o.input), w = m.read<std::int8_t>(o.weights);
            const auto bv = bias ? m.read<std::int32_t>(o.bias) : std::vector<std::int32_t>{};
            std::vector<std::int32_t> out(s.output_elems());
            reference::conv2d_s8(s, in.data(), w.data(), bias ? bv.data() : nullptr, out.data(), relu);
            m.write(o.output, out);
        } else {
            const auto in = m.read<float>(o.input), w = m.read<float>(o.weights);
            const auto bv = bias ? m.read<float>(o.bias) : std::vector<float>{};
            std::vector<float> want(s.output_elems()), mag(s.output_elems());
            reference::conv2d_f32(s, in.data(), w.data(), bias ? bv.data() : nullptr, want.data(), relu);
            reference::conv2d_f32(s, abs_of(in).data(), abs_of(w).data(), bias ? abs_of(bv).data() : nullptr, mag.data(),
                                  false);
            model am{m.v, *actual};
            const auto got = am.read<float>(o.output);
            // The reference skips the taps that fall on padding; the engine multiplies them by
            // zero, so an infinite or NaN weight there gives NaN (0 * inf). Both read the uAPI's
            // "outside the image reads as 0"; only finite operands are compared.
            auto finite = [](const std::vector<float>& v) {
                return std::all_of(v.begin(), v.end(), [](float x) { return std::isfinite(x); });
            };
            if (finite(in) && finite(w) && finite(bv))
                check_f32(got, want, mag, s.reduction() + 2);
            m.write(o.output, got);
        }
        return ok;
    }
    if (auto* r = std::get_if<vdnn_cmd_relu>(&cmd)) {
        const operand src = flat_operand(r->src, r->count * 4), dst = flat_operand(r->dst, r->count * 4);
        if (auto f = fault_of(m, {{&src, vm_perm::read}, {&dst, vm_perm::write}}))
            return fault(*f);
        if (m.cross_overlap(src, dst)) {
            m.lost = true;
            return ok;
        }
        if (r->dtype == VDNN_DTYPE_FP32) {
            const auto s = m.read<float>(src);
            std::vector<float> d(s.size());
            reference::relu_f32(s.data(), d.data(), s.size());
            m.write(dst, d);
        } else {
            const auto s = m.read<std::int32_t>(src);
            std::vector<std::int32_t> d(s.size());
            reference::relu_s32(s.data(), d.data(), s.size());
            m.write(dst, d);
        }
        return ok;
    }
    if (auto* a = std::get_if<vdnn_cmd_add>(&cmd)) {
        const operand oa = flat_operand(a->a, a->count * 4), ob = flat_operand(a->b, a->count * 4),
                      od = flat_operand(a->dst, a->count * 4);
        if (auto f = fault_of(m, {{&oa, vm_perm::read}, {&ob, vm_perm::read}, {&od, vm_perm::write}}))
            return fault(*f);
        if (m.cross_overlap(oa, od) || m.cross_overlap(ob, od)) {
            m.lost = true;
            return ok;
        }
        if (a->dtype == VDNN_DTYPE_FP32) {
            const auto x = m.read<float>(oa), y = m.read<float>(ob);
            std::vector<float> d(x.size());
            reference::add_f32(x.data(), y.data(), d.data(), d.size());
            m.write(od, d);
        } else {
            const auto x = m.read<std::int32_t>(oa), y = m.read<std::int32_t>(ob);
            std::vector<std::int32_t> d(x.size());
            reference::add_s32(x.data(), y.data(), d.data(), d.size());
            m.write(od, d);
        }
        return ok;
    }
    if (auto* c = std::get_if<vdnn_cmd_copy>(&cmd)) {
        const operand src = flat_operand(c->src, c->bytes), dst = flat_operand(c->dst, c->bytes);
        if (auto f = fault_of(m, {{&src, vm_perm::read}, {&dst, vm_perm::write}}))
            return fault(*f);
        if (m.cross_overlap(src, dst)) {
            m.lost = true;
            return ok;
        }
        m.write(dst, m.read<std::byte>(src));
        return ok;
    }
    if (auto* f = std::get_if<vdnn_cmd_fill>(&cmd)) {
        const operand dst = flat_operand(f->dst, f->bytes);
        if (auto fv = fault_of(m, {{&dst, vm_perm::write}}))
            return fault(*fv);
        std::vector<std::byte> d(f->bytes);
        reference::fill_pattern(d.data(), d.size(), f->pattern, 0);
        m.write(dst, d);
        return ok;
    }
    if (std::holds_alternative<vdnn_cmd_debug_hang>(cmd))
        return {-ETIMEDOUT, VDNN_STATUS_TIMEOUT, 0, 0}; // no exec_control: timed out at once
    return ok;                                          // NOP
}

void same_result(const exec_result& got, const exec_result& want) {
    if (std::getenv("ACCEL_FUZZ_VERBOSE"))
        std::fprintf(stderr, "result {%d, %u, %#llx, %u}\n", got.error, got.status,
                     static_cast<unsigned long long>(got.fault_va), got.command);
    if (got.error != want.error || got.status != want.status || got.fault_va != want.fault_va ||
        got.command != want.command) {
        std::fprintf(stderr, "result: got {%d, %u, %#llx, %u}, want {%d, %u, %#llx, %u}\n", got.error, got.status,
                     static_cast<unsigned long long>(got.fault_va), got.command, want.error, want.status,
                     static_cast<unsigned long long>(want.fault_va), want.command);
        fail("engine result differs from the model");
    }
}

void same_memory(const std::vector<std::byte>& got, const std::vector<std::byte>& want, const char* what) {
    for (std::size_t i = 0; i < got.size(); ++i)
        if (got[i] != want[i])
            fail(what, i, page);
}

void fill_memory(vm& v, std::uint8_t how) {
    std::mt19937 r(how);
    for (std::byte* p : v.mem_pages)
        for (u64 i = 0; i < page; i += 4) {
            std::uint32_t w = r();
            if (how & 1) { // small floats: sums stay meaningful
                const float f = static_cast<float>(static_cast<int>(w % 33) - 16) * 0.25f;
                std::memcpy(&w, &f, 4);
            }
            std::memcpy(p + i, &w, 4);
        }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 8)
        return 0;
    vm& v = the_vm();
    const u32 kinds[] = {VDNN_ENGINE_COMPUTE0, VDNN_ENGINE_COMPUTE1, VDNN_ENGINE_DMA, 7};
    const bool debug_hang = data[0] & 4;
    engine eng(kinds[data[0] & 3], debug_hang, static_cast<kernels::isa>((data[0] >> 3) & 3));
    fill_memory(v, data[1]);
    const std::span<const std::byte> stream(reinterpret_cast<const std::byte*>(data + 8), size - 8);

    const std::vector<std::byte> before = v.snapshot();
    u32 bad = ~u32{0};
    const int verdict = validate(stream, eng.limits(), &bad);
    EXPECT(verdict == 0 || verdict == -EINVAL, static_cast<unsigned long long>(verdict));
    if (verdict != 0) {
        const exec_result res = eng.run(stream, v.dev.mmu, v.dev.phys);
        same_result(res, {-EINVAL, VDNN_STATUS_BAD_COMMAND, 0, bad});
        EXPECT(bad <= stream.size() / 8, bad);
        same_memory(v.snapshot(), before, "a rejected stream changed device memory");
        return 0;
    }

    // Accepted: sizes re-checked; the stream cut before the first command too costly to run here.
    std::size_t run_bytes = 0;
    bool heavy = false, cut = false;
    std::vector<command> cmds;
    (void)for_each_command(stream, eng.limits(), [&](u32, const command& c) {
        std::visit([](const auto& op) { check_sizes(op); }, c);
        if (cut || cost(c) > cost_budget) {
            cut = true;
            return;
        }
        heavy |= is_fp32_heavy(c);
        cmds.push_back(c);
        run_bytes += std::visit([](const auto& op) { return std::size_t{op.hdr.length_bytes}; }, c);
    });
    if (cmds.empty())
        return 0;
    const auto run_stream = stream.first(run_bytes);

    model m{v, before};
    if (!heavy) { // the whole stream at once
        exec_result want{};
        u32 index = 0;
        for (const command& c : cmds) {
            want = apply(m, c, nullptr);
            if (want.error)
                break;
            ++index;
        }
        want.command = index;
        same_result(eng.run(run_stream, v.dev.mmu, v.dev.phys), want);
        if (!m.lost)
            same_memory(v.snapshot(), m.mem, "device memory differs from the model");
        return 0;
    }
    // One command at a time.
    std::size_t off = 0;
    for (const command& c : cmds) {
        const std::size_t len = std::visit([](const auto& op) { return std::size_t{op.hdr.length_bytes}; }, c);
        const exec_result got = eng.run(run_stream.subspan(off, len), v.dev.mmu, v.dev.phys);
        off += len;
        const std::vector<std::byte> actual = v.snapshot();
        exec_result want = apply(m, c, &actual);
        want.command = want.error ? 0 : 1;
        same_result(got, want);
        if (m.lost) {
            m.mem = actual;
            m.lost = false;
        } else {
            same_memory(actual, m.mem, "device memory differs from the model");
        }
        if (got.error)
            break;
    }
    return 0;
}

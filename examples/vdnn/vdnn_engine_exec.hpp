// SPDX-License-Identifier: MIT
#pragma once
/// \file `engine`: one vdnn engine running a job's command stream through the device MMU.
///
/// This is the compute side the driver glue calls from its scheduler's run_job: it owns the
/// engine's scratch memory and runs one job at a time. It reads and writes only through the
/// MMU (vdnn_mmu.hpp): each op's operands are probed first (every byte mapped with the
/// permission the op needs: read for inputs, write for outputs, both for an accumulated GEMM
/// output), so a fault ends the job before that op writes anything, with the first faulting VA
/// (in the op's field order). Then, per operand:
///  - in place, when it lies at one host address with its layout intact (a BO that is
///    physically contiguous: SRAM, DRAM, or a contiguous host window) - the fast path;
///  - else GEMM and CONV2D operands are gathered into the engine's scratch (and the output
///    computed there and scattered back), page run by page run;
///  - element-wise ops never stage: they run the kernel on each stretch where no operand
///    changes page run (or, when host memory is not element-aligned, through a small bounce
///    buffer).
/// An output computed in place whose host memory overlaps an input in place (two VAs mapped
/// onto one BO) is computed in scratch instead, so GEMM and CONV2D always read all of their
/// inputs first.
///
/// Stopping: an `exec_control` shared with the scheduler ends the job at the next command (or
/// block of a long GEMM or convolution) once stop() is called, with the status given
/// (VDNN_STATUS_TIMEOUT: -ETIMEDOUT, else -ECANCELED); VDNN_OP_DEBUG_HANG waits for exactly
/// that. Without a control, DEBUG_HANG ends the job at once as timed out.
///
/// Threading: one thread runs an engine at a time; engines are independent, and several may
/// run at once over the same page table and physical map, which they only read (the driver
/// keeps both unchanged meanwhile, see vdnn_mmu.hpp).
#include "vdnn_buffer.hpp"
#include "vdnn_commands.hpp"
#include "vdnn_kernels.hpp"
#include "vdnn_mmu.hpp"
#include "vdnn_uapi.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <span>
#include <variant>

namespace vdnn {

/// How a job ended: what WAIT and the JOB_DONE event report.
struct exec_result {
    int error = 0;               ///< 0, -EFAULT, -EINVAL, -ENOMEM, -ETIMEDOUT or -ECANCELED
    u32 status = VDNN_STATUS_OK; ///< VDNN_STATUS_*
    u64 fault_va = 0;            ///< VDNN_STATUS_MMU_FAULT: the faulting device VA
    u32 command = 0;             ///< the command that ended the job (error != 0), else the count run
};

/// Stops a running job from another thread (the scheduler's timeout, a file closing).
class exec_control {
public:
    /// Asks the job to stop with `status` (VDNN_STATUS_TIMEOUT or VDNN_STATUS_CANCELLED);
    /// the first request wins. Wakes a DEBUG_HANG.
    void stop(u32 status) noexcept {
        u32 none = 0;
        status_.compare_exchange_strong(none, status ? status : VDNN_STATUS_CANCELLED, std::memory_order_acq_rel);
        status_.notify_all();
    }
    /// 0 while running, else the status stop() was given.
    u32 stop_status() const noexcept { return status_.load(std::memory_order_acquire); }
    /// For the next job on the same engine.
    void reset() noexcept { status_.store(0, std::memory_order_release); }
    /// Blocks until stop() (a hung engine).
    void wait_for_stop() const noexcept {
        for (u32 s = status_.load(std::memory_order_acquire); s == 0; s = status_.load(std::memory_order_acquire))
            status_.wait(0, std::memory_order_acquire);
    }

private:
    std::atomic<u32> status_{0};
};

class engine {
public:
    /// An engine of kind `kind` (VDNN_ENGINE_*: which ops it runs); DEBUG_HANG only when
    /// `debug_hang`; kernels with usable_isa(want).
    explicit engine(u32 kind = VDNN_ENGINE_COMPUTE0, bool debug_hang = false, kernels::isa want = kernels::best_isa())
        : kind_(kind), limits_(limits_for_engine(kind, debug_hang)), isa_(kernels::usable_isa(want)) {}

    engine(const engine&) = delete;
    engine& operator=(const engine&) = delete;

    u32 kind() const noexcept { return kind_; }
    /// What a stream for this engine may hold: SUBMIT's validate(stream, limits()).
    const stream_limits& limits() const noexcept { return limits_; }

    /// Runs `stream` (validated again here: an invalid one ends at once with -EINVAL and
    /// VDNN_STATUS_BAD_COMMAND) with device memory reached through `mmu` and `phys`. The
    /// stream must not change meanwhile (the driver's copy, not the BO).
    template <vdnn_mmu M, vdnn_phys P>
    exec_result run(std::span<const std::byte> stream, const M& mmu, const P& phys, const exec_control* control = nullptr) {
        exec_result res;
        u32 bad = 0;
        if (validate(stream, limits_, &bad) != 0)
            return {-EINVAL, VDNN_STATUS_BAD_COMMAND, 0, bad};
        ctx<M, P> c{mmu, phys, control};
        u32 done = 0;
        (void)for_each_command(stream, limits_, [&](u32 index, const command& cmd) -> int {
            if (stopped(control, res)) {
                res.command = index;
                return 1;
            }
            try {
                res = std::visit([&](const auto& op) { return exec(c, op); }, cmd);
            } catch (const std::bad_alloc&) {
                res = {-ENOMEM, VDNN_STATUS_BAD_COMMAND, 0, 0};
            }
            if (res.error) {
                res.command = index;
                return 1;
            }
            done = index + 1;
            return 0;
        });
        if (res.error == 0)
            res.command = done;
        return res;
    }

    /// The same with a page table (accel::mm::vm::page_table) as the MMU.
    template <class PT, vdnn_phys P>
        requires(!vdnn_mmu<PT>) && requires(const PT& pt, u64 va) { pt.translate(va)->page_size; }
    exec_result run(std::span<const std::byte> stream, const PT& pt, const P& phys, const exec_control* control = nullptr) {
        return run(stream, page_table_mmu<PT>(pt), phys, control);
    }

private:
    template <class M, class P>
    struct ctx {
        const M& mmu;
        const P& phys;
        const exec_control* control;
    };

    /// A stop request, as the job's result.
    static bool stopped(const exec_control* control, exec_result& res) noexcept {
        const u32 s = control ? control->stop_status() : 0;
        if (s == 0)
            return false;
        res = {s == VDNN_STATUS_TIMEOUT ? -ETIMEDOUT : -ECANCELED, s, 0, 0};
        return true;
    }
    static exec_result fault(u64 va) noexcept { return {-EFAULT, VDNN_STATUS_MMU_FAULT, va, 0}; }

    /// Probes operands in order; the first fault is the op's result.
    template <class M, class P, std::size_t N>
    static int probe_all(const ctx<M, P>& c, const std::array<const operand*, N>& ops, const std::array<vm_perm, N>& needs,
                         std::size_t align, std::array<operand_probe, N>& out, exec_result& res) {
        for (std::size_t i = 0; i < N; ++i) {
            out[i] = probe(c.mmu, c.phys, *ops[i], needs[i], align);
            if (out[i].error) {
                res = fault(out[i].fault_va);
                return out[i].error;
            }
        }
        return 0;
    }

    /// The operand's bytes, packed (rows back to back), from device memory into `buf`.
    template <class M, class P>
    static int gather(const ctx<M, P>& c, const operand& op, std::byte* buf, exec_result& res) {
        u64 va = 0;
        const int e = walk(c.mmu, c.phys, op, vm_perm::read, va,
                           [&](std::byte* host, u64, u64 off, u64 len) { std::memcpy(buf + off, host, len); });
        if (e)
            res = fault(va);
        return e;
    }
    /// The reverse of gather().
    template <class M, class P>
    static int scatter(const ctx<M, P>& c, const operand& op, const std::byte* buf, exec_result& res) {
        u64 va = 0;
        const int e = walk(c.mmu, c.phys, op, vm_perm::write, va,
                           [&](std::byte* host, u64, u64 off, u64 len) { std::memcpy(host, buf + off, len); });
        if (e)
            res = fault(va);
        return e;
    }

    /// Host memory the op works on for one operand: in place, or packed in `stage`.
    struct placed {
        std::byte* ptr = nullptr;
        u64 ld_bytes = 0; ///< row stride of the memory at ptr
        bool staged = false;
    };
    static bool host_overlap(const operand_probe& a, const operand& ao, const operand_probe& b, const operand& bo) noexcept {
        if (!a.direct || !b.direct)
            return false;
        const auto a0 = reinterpret_cast<std::uintptr_t>(a.direct), b0 = reinterpret_cast<std::uintptr_t>(b.direct);
        return a0 < b0 + bo.span() && b0 < a0 + ao.span();
    }
    template <class M, class P>
    int place_input(const ctx<M, P>& c, const operand& op, const operand_probe& pr, aligned_buffer& stage, placed& out,
                    exec_result& res) {
        if (pr.direct) {
            out = {pr.direct, op.stride, false};
            return 0;
        }
        std::byte* buf = stage.reserve(op.bytes());
        out = {buf, op.row_bytes, true};
        return gather(c, op, buf, res);
    }

    // ---- ops ---------------------------------------------------------------------------------

    template <class M, class P>
    exec_result exec(const ctx<M, P>& c, const vdnn_cmd_gemm& g) {
        exec_result res;
        const gemm_operands ops = operands_of(g);
        const operand a = ops.a.flattened(), b = ops.b.flattened(), out = ops.c.flattened();
        const bool acc = g.flags & VDNN_GEMM_ACCUMULATE;
        const std::size_t in_size = gemm_in_size(g);
        // Inputs and the output are probed apart: their element sizes differ for int8.
        std::array<operand_probe, 2> in;
        std::array<operand_probe, 1> oc;
        if (probe_all<M, P, 2>(c, {&a, &b}, {vm_perm::read, vm_perm::read}, in_size, in, res) ||
            probe_all<M, P, 1>(c, {&out}, {acc ? vm_perm::rw : vm_perm::write}, 4, oc, res))
            return res;
        placed pa, pb, pc;
        if (place_input(c, a, in[0], stage_[0], pa, res) || place_input(c, b, in[1], stage_[1], pb, res))
            return res;
        if (oc[0].direct && !host_overlap(oc[0], out, in[0], a) && !host_overlap(oc[0], out, in[1], b)) {
            pc = {oc[0].direct, out.stride, false};
        } else {
            pc = {stage_[2].reserve(out.bytes()), out.row_bytes, true};
            if (acc && gather(c, out, pc.ptr, res))
                return res;
        }
        // Strides in elements, of each operand as placed: a flattened (dense) operand keeps
        // the command's stride; a strided one keeps it in place and is packed when staged.
        const std::size_t lda = (a.rows > 1 ? pa.ld_bytes : g.lda * in_size) / in_size;
        const std::size_t ldb = (b.rows > 1 ? pb.ld_bytes : g.ldb * in_size) / in_size;
        const std::size_t ldc = (out.rows > 1 ? pc.ld_bytes : u64{g.ldc} * 4) / 4;
        // Blocks of rows, so that a stop request is seen within about 2^26 multiply-adds.
        const std::size_t rows = std::max<std::size_t>(64, (std::size_t{1} << 26) / (std::size_t{g.n} * g.k));
        for (std::size_t r0 = 0; r0 < g.m; r0 += rows) {
            if (stopped(c.control, res))
                return res;
            const std::size_t mr = std::min<std::size_t>(rows, g.m - r0);
            if (g.dtype == VDNN_DTYPE_INT8)
                kernels::gemm_s8(mr, g.n, g.k, reinterpret_cast<const std::int8_t*>(pa.ptr) + r0 * lda, lda,
                                 reinterpret_cast<const std::int8_t*>(pb.ptr), ldb,
                                 reinterpret_cast<std::int32_t*>(pc.ptr) + r0 * ldc, ldc, acc, ws_, isa_);
            else
                kernels::gemm_f32(mr, g.n, g.k, reinterpret_cast<const float*>(pa.ptr) + r0 * lda, lda,
                                  reinterpret_cast<const float*>(pb.ptr), ldb, reinterpret_cast<float*>(pc.ptr) + r0 * ldc,
                                  ldc, acc, ws_, isa_);
        }
        if (pc.staged)
            scatter(c, out, pc.ptr, res);
        return res;
    }

    template <class M, class P>
    exec_result exec(const ctx<M, P>& c, const vdnn_cmd_conv2d& cv) {
        exec_result res;
        const conv2d_operands ops = operands_of(cv);
        const bool int8 = cv.dtype == VDNN_DTYPE_INT8;
        const std::size_t in_size = int8 ? 1 : 4;
        std::array<operand_probe, 2> in_pr;
        std::array<operand_probe, 2> f32_pr; // bias, output (4-byte elements)
        if (probe_all<M, P, 2>(c, {&ops.input, &ops.weights}, {vm_perm::read, vm_perm::read}, in_size, in_pr, res) ||
            probe_all<M, P, 2>(c, {&ops.bias, &ops.output}, {vm_perm::read, vm_perm::write}, 4, f32_pr, res))
            return res;
        placed pin, pw, pbias, pout;
        if (place_input(c, ops.input, in_pr[0], stage_[0], pin, res) ||
            place_input(c, ops.weights, in_pr[1], stage_[1], pw, res))
            return res;
        if (ops.bias.present() && place_input(c, ops.bias, f32_pr[0], stage_[3], pbias, res))
            return res;
        const operand_probe& po = f32_pr[1];
        if (po.direct && !host_overlap(po, ops.output, in_pr[0], ops.input) &&
            !host_overlap(po, ops.output, in_pr[1], ops.weights) && !host_overlap(po, ops.output, f32_pr[0], ops.bias))
            pout = {po.direct, 0, false};
        else
            pout = {stage_[2].reserve(ops.output.bytes()), 0, true};
        // One image at a time, so that a stop request is seen between images.
        kernels::conv2d_shape s = shape_of(cv);
        const std::size_t images = s.n;
        const std::size_t in_img = s.c * s.h * s.w, out_img = s.o * s.out_h() * s.out_w();
        s.n = 1;
        const bool relu = cv.flags & VDNN_CONV2D_RELU;
        for (std::size_t img = 0; img < images; ++img) {
            if (stopped(c.control, res))
                return res;
            if (int8)
                kernels::conv2d_s8(s, reinterpret_cast<const std::int8_t*>(pin.ptr) + img * in_img,
                                   reinterpret_cast<const std::int8_t*>(pw.ptr),
                                   reinterpret_cast<const std::int32_t*>(pbias.ptr),
                                   reinterpret_cast<std::int32_t*>(pout.ptr) + img * out_img, relu, ws_, isa_);
            else
                kernels::conv2d_f32(s, reinterpret_cast<const float*>(pin.ptr) + img * in_img,
                                    reinterpret_cast<const float*>(pw.ptr), reinterpret_cast<const float*>(pbias.ptr),
                                    reinterpret_cast<float*>(pout.ptr) + img * out_img, relu, ws_, isa_);
        }
        if (pout.staged)
            scatter(c, ops.output, pout.ptr, res);
        return res;
    }

    /// An element-wise op over N flat operands of `bytes` (the last one the output): the kernel
    /// on each stretch of host memory when every piece is 4-byte aligned, else through bounce
    /// buffers a chunk at a time. kernel(std::array<std::byte*, N>, bytes).
    template <std::size_t N, class M, class P, class Kernel>
    exec_result elementwise(const ctx<M, P>& c, const std::array<u64, N>& vas, u64 bytes, Kernel&& kernel) {
        exec_result res;
        std::array<operand, N> ops;
        std::array<const operand*, N> op_ptrs;
        std::array<vm_perm, N> needs;
        for (std::size_t i = 0; i < N; ++i) {
            ops[i] = flat_operand(vas[i], bytes);
            op_ptrs[i] = &ops[i];
            needs[i] = i + 1 == N ? vm_perm::write : vm_perm::read;
        }
        std::array<operand_probe, N> pr;
        if (probe_all<M, P, N>(c, op_ptrs, needs, 4, pr, res))
            return res;
        if (std::all_of(pr.begin(), pr.end(), [](const operand_probe& p) { return p.aligned_pieces; })) {
            u64 va = 0;
            if (zip<N>(c.mmu, c.phys, vas, needs, bytes, va, [&](const std::array<std::byte*, N>& h, u64 len) { kernel(h, len); }))
                res = fault(va);
            return res;
        }
        constexpr u64 chunk = 16 * 1024;
        std::array<std::byte*, N> bounce;
        for (std::size_t i = 0; i < N; ++i)
            bounce[i] = stage_[i].reserve(chunk);
        for (u64 off = 0; off < bytes; off += chunk) {
            const u64 len = std::min(chunk, bytes - off);
            for (std::size_t i = 0; i + 1 < N; ++i)
                if (gather(c, flat_operand(vas[i] + off, len), bounce[i], res))
                    return res;
            kernel(bounce, len);
            if (scatter(c, flat_operand(vas[N - 1] + off, len), bounce[N - 1], res))
                return res;
        }
        return res;
    }

    template <class M, class P>
    exec_result exec(const ctx<M, P>& c, const vdnn_cmd_relu& r) {
        const bool f32 = r.dtype == VDNN_DTYPE_FP32;
        return elementwise<2>(c, {r.src, r.dst}, r.count * 4, [&](const std::array<std::byte*, 2>& h, u64 len) {
            if (f32)
                kernels::relu_f32(reinterpret_cast<const float*>(h[0]), reinterpret_cast<float*>(h[1]), len / 4);
            else
                kernels::relu_s32(reinterpret_cast<const std::int32_t*>(h[0]), reinterpret_cast<std::int32_t*>(h[1]),
                                  len / 4);
        });
    }

    template <class M, class P>
    exec_result exec(const ctx<M, P>& c, const vdnn_cmd_add& a) {
        const bool f32 = a.dtype == VDNN_DTYPE_FP32;
        return elementwise<3>(c, {a.a, a.b, a.dst}, a.count * 4, [&](const std::array<std::byte*, 3>& h, u64 len) {
            if (f32)
                kernels::add_f32(reinterpret_cast<const float*>(h[0]), reinterpret_cast<const float*>(h[1]),
                                 reinterpret_cast<float*>(h[2]), len / 4);
            else
                kernels::add_s32(reinterpret_cast<const std::int32_t*>(h[0]), reinterpret_cast<const std::int32_t*>(h[1]),
                                 reinterpret_cast<std::int32_t*>(h[2]), len / 4);
        });
    }

    template <class M, class P>
    exec_result exec(const ctx<M, P>& c, const vdnn_cmd_copy& cp) {
        exec_result res;
        const operand src = flat_operand(cp.src, cp.bytes), dst = flat_operand(cp.dst, cp.bytes);
        std::array<operand_probe, 2> pr;
        if (probe_all<M, P, 2>(c, {&src, &dst}, {vm_perm::read, vm_perm::write}, 1, pr, res))
            return res;
        u64 va = 0;
        if (zip<2>(c.mmu, c.phys, {cp.src, cp.dst}, {vm_perm::read, vm_perm::write}, cp.bytes, va,
                   [](const std::array<std::byte*, 2>& h, u64 len) { kernels::copy_bytes(h[1], h[0], len); }))
            res = fault(va);
        return res;
    }

    template <class M, class P>
    exec_result exec(const ctx<M, P>& c, const vdnn_cmd_fill& f) {
        exec_result res;
        const operand dst = flat_operand(f.dst, f.bytes);
        std::array<operand_probe, 1> pr;
        if (probe_all<M, P, 1>(c, {&dst}, {vm_perm::write}, 1, pr, res))
            return res;
        u64 va = 0;
        if (walk(c.mmu, c.phys, dst, vm_perm::write, va,
                 [&](std::byte* host, u64, u64 off, u64 len) { kernels::fill_pattern(host, len, f.pattern, off % 4); }))
            res = fault(va);
        return res;
    }

    template <class M, class P>
    exec_result exec(const ctx<M, P>&, const vdnn_cmd_nop&) {
        return {};
    }

    template <class M, class P>
    exec_result exec(const ctx<M, P>& c, const vdnn_cmd_debug_hang&) {
        exec_result res;
        if (!c.control)
            return {-ETIMEDOUT, VDNN_STATUS_TIMEOUT, 0, 0};
        c.control->wait_for_stop();
        stopped(c.control, res);
        return res;
    }

    u32 kind_;
    stream_limits limits_;
    kernels::isa isa_;
    kernels::workspace ws_;
    std::array<aligned_buffer, 4> stage_; ///< staged operands / bounce buffers, by operand slot
};

} // namespace vdnn

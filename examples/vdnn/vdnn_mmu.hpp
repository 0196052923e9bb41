// SPDX-License-Identifier: MIT
#pragma once
/// \file How a vdnn engine reaches memory: through the device MMU only.
///
/// Two small concepts say what the engine needs, so that it runs on the framework's page
/// tables and on anything else that can answer the same questions:
///  - `vdnn_mmu`: translate(va) -> {pa, bytes of the contiguous run from va, permissions}, or
///    -EFAULT. `page_table_mmu` adapts accel::mm::vm::page_table (one leaf per run).
///  - `vdnn_phys`: resolve(pa, len) -> the host memory behind device physical [pa, pa + len),
///    or null. accel::mm::vm::phys_map (device memory regions, host windows) is one.
///
/// `mmu_cursor` walks a VA range a run at a time, remembering the last run, so that an operand
/// costs one translation per page (or larger leaf), never one per element or per row.
/// On top of it, for an `operand` (rows x row_bytes at a stride):
///  - probe(): every byte reachable with the permission asked for? (the first failing VA if
///    not), and is the whole operand at one host address with its layout intact (the fast
///    path: the kernel works on host memory directly);
///  - walk(): the host pieces of the operand in order, with their offsets in its packed form
///    (rows back to back), which is what gathering into scratch and scattering back need;
///  - zip(): several equal-length flat operands side by side, cut where any of them changes
///    run, for element-wise ops that need no scratch at all.
/// An engine probes every operand of an op before it writes anything for that op, so a fault
/// leaves memory as the previous op left it.
///
/// Nothing here locks: the driver keeps the page table and the physical map unchanged while a
/// job runs (its VM lock, or the rule that a BO stays bound while a job uses it).
#include "vdnn_shapes.hpp"

#include <accel/base/errno.hpp>
#include <accel/mm/vm/page_table_format.hpp>

#include <array>
#include <cerrno>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <utility>

namespace vdnn {

using accel::mm::vm::vm_perm;

/// A translation: the physical address of the byte at the VA asked for, how many bytes from
/// there on translate contiguously (>= 1), and what the device may do through them.
struct mmu_run {
    u64 pa = 0;
    u64 size = 0;
    vm_perm perms = vm_perm::none;
};

template <class M>
concept vdnn_mmu = requires(const M& m, u64 va) {
    { m.translate(va) } -> std::same_as<accel::result<mmu_run>>;
};

template <class P>
concept vdnn_phys = requires(const P& p, u64 pa, u64 len) {
    { p.resolve(pa, len) } -> std::same_as<std::byte*>;
};

/// A page table as a vdnn_mmu: a run is the rest of the leaf that maps the VA. (Neighbouring
/// leaves are not merged here: that would walk a mapping further than the access needs.)
template <class PT>
class page_table_mmu {
public:
    explicit page_table_mmu(const PT& pt) noexcept : pt_(&pt) {}
    accel::result<mmu_run> translate(u64 va) const noexcept {
        auto t = pt_->translate(va);
        if (!t)
            return accel::result<mmu_run>::failure(-EFAULT);
        return mmu_run{t->pa, t->page_size - (va & (t->page_size - 1)), t->perms};
    }

private:
    const PT* pt_;
};

/// Host memory at a VA: `len` bytes contiguous on the host.
struct host_piece {
    std::byte* host = nullptr;
    u64 len = 0;
};

/// Translates VAs a run at a time, keeping the last run.
template <vdnn_mmu M, vdnn_phys P>
class mmu_cursor {
public:
    mmu_cursor(const M& mmu, const P& phys) noexcept : mmu_(&mmu), phys_(&phys) {}

    /// The host bytes at `va`: at most `max` (>= 1), with `need` allowed. -EFAULT when va is
    /// unmapped, lacks the permission, or translates outside every physical window.
    accel::result<host_piece> at(u64 va, u64 max, vm_perm need) noexcept {
        if (!(len_ && va - va_ < len_ && accel::mm::vm::allows(perms_, need))) {
            auto r = mmu_->translate(va);
            if (!r || r->size == 0 || !accel::mm::vm::allows(r->perms, need))
                return fault();
            u64 len = r->size;
            std::byte* host = phys_->resolve(r->pa, len);
            if (!host) { // a run partly outside the windows: the part needed may still be inside
                len = r->size < max ? r->size : max;
                host = phys_->resolve(r->pa, len);
                if (!host)
                    return fault();
            }
            va_ = va;
            len_ = len;
            host_ = host;
            perms_ = r->perms;
        }
        const u64 off = va - va_;
        const u64 n = len_ - off < max ? len_ - off : max;
        return host_piece{host_ + off, n};
    }

private:
    accel::result<host_piece> fault() noexcept {
        len_ = 0;
        return accel::result<host_piece>::failure(-EFAULT);
    }
    const M* mmu_;
    const P* phys_;
    u64 va_ = 0, len_ = 0; ///< the cached run (len_ 0: none)
    std::byte* host_ = nullptr;
    vm_perm perms_ = vm_perm::none;
};

/// What probe() found.
struct operand_probe {
    int error = 0;     ///< 0 or -EFAULT
    u64 fault_va = 0;  ///< -EFAULT: the first VA (in operand order) that cannot be reached
    /// The host address of the first byte when every row sits at direct + (row VA - va), so
    /// the operand can be used in place with its own stride; null otherwise (or on error), or
    /// when the address is not aligned to `align`.
    std::byte* direct = nullptr;
    /// Every host piece starts aligned to `align` and is a multiple of it long: element-wise
    /// kernels can run on the pieces themselves (zip()), no element straddles two pieces.
    bool aligned_pieces = false;
};

/// Calls fn(host, va, packed_offset, len) for each host piece of `op` in order; stops at the
/// first unreachable byte: -EFAULT with fault_va set (fn has been called for what precedes).
template <vdnn_mmu M, vdnn_phys P, class Fn>
int walk(const M& mmu, const P& phys, const operand& op, vm_perm need, u64& fault_va, Fn&& fn) {
    mmu_cursor<M, P> cur(mmu, phys);
    for (u64 r = 0; r < op.rows; ++r) {
        const u64 row_va = op.va + r * op.stride;
        for (u64 done = 0; done < op.row_bytes;) {
            auto p = cur.at(row_va + done, op.row_bytes - done, need);
            if (!p) {
                fault_va = row_va + done;
                return -EFAULT;
            }
            fn(p->host, row_va + done, r * op.row_bytes + done, p->len);
            done += p->len;
        }
    }
    return 0;
}

/// Checks that every byte of `op` is reachable with `need`, and whether it can be used in
/// place (see operand_probe). Touches no memory.
template <vdnn_mmu M, vdnn_phys P>
operand_probe probe(const M& mmu, const P& phys, const operand& op, vm_perm need, std::size_t align) {
    operand_probe res;
    if (!op.present())
        return res;
    std::byte* base = nullptr;
    bool in_place = true, aligned = true;
    res.error = walk(mmu, phys, op, need, res.fault_va, [&](std::byte* host, u64 va, u64, u64 len) {
        // Compared as integers: base + offset may point nowhere when the operand is scattered.
        if (!base)
            base = host;
        else if (reinterpret_cast<std::uintptr_t>(host) != reinterpret_cast<std::uintptr_t>(base) + (va - op.va))
            in_place = false;
        if (reinterpret_cast<std::uintptr_t>(host) % align != 0 || len % align != 0)
            aligned = false;
    });
    if (res.error != 0)
        return res;
    res.aligned_pieces = aligned;
    if (in_place && reinterpret_cast<std::uintptr_t>(base) % align == 0)
        res.direct = base;
    return res;
}

/// N flat operands of `bytes` each, side by side: fn(std::array<std::byte*, N> hosts, len)
/// for each stretch where none of them changes run. needs[i] is operand i's permission.
/// -EFAULT with fault_va as walk(); probe the operands first to fail before anything runs.
template <std::size_t N, vdnn_mmu M, vdnn_phys P, class Fn>
int zip(const M& mmu, const P& phys, const std::array<u64, N>& vas, const std::array<vm_perm, N>& needs, u64 bytes,
        u64& fault_va, Fn&& fn) {
    std::array<mmu_cursor<M, P>, N> cur = [&]<std::size_t... I>(std::index_sequence<I...>) {
        return std::array<mmu_cursor<M, P>, N>{((void)I, mmu_cursor<M, P>(mmu, phys))...};
    }(std::make_index_sequence<N>{});
    for (u64 done = 0; done < bytes;) {
        std::array<std::byte*, N> hosts{};
        u64 len = bytes - done;
        for (std::size_t i = 0; i < N; ++i) {
            auto p = cur[i].at(vas[i] + done, len, needs[i]);
            if (!p) {
                fault_va = vas[i] + done;
                return -EFAULT;
            }
            hosts[i] = p->host;
            len = p->len; // never longer than the previous operands' pieces
        }
        fn(hosts, len);
        done += len;
    }
    return 0;
}

} // namespace vdnn

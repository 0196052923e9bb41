// SPDX-License-Identifier: MIT
#pragma once
// vdnn's per-file device VA space: a drm_gpuvm-style va_space for the bookkeeping and an LPAE
// page table the engines walk, kept in step.
//
// Rules a driver author would copy:
//   - A mapping keeps what it maps alive: the object, and for host memory its bus window in
//     the host aperture (pinned at bind, unpinned when the last piece of the mapping goes).
//     The pieces a partial unbind leaves share that `binding`.
//   - Binds are two-phase as drm_gpuvm's: compute the op list (may fail), write the page
//     table (may fail: -ENOMEM/-ENOSPC for a table, then nothing changed), then apply the list
//     (cannot fail). A bind with VDNN_BIND_FIXED refuses to replace what is mapped (-EEXIST:
//     unbind first), so a failing bind never has to restore translations it removed.
//   - Leaves are 4 KiB only (max_page = 4 KiB), so an unbind never splits a larger leaf and
//     never needs memory: it cannot fail half-way.
// Not thread-safe: the device's MMU lock serialises binds, unbinds and the engines' walks.
#include <accel/accel.hpp>

#include <cerrno>
#include <cstdint>
#include <memory>
#include <utility>

namespace vdnn {

using pt_region = accel::mm::device_memory_region<accel::mm::best_fit>;
using page_table = accel::mm::vm::page_table<accel::mm::vm::lpae_4k, pt_region>;
using bus_aperture = accel::host_aperture<accel::mm::best_fit>;
using bus_pin = accel::bo_pin<accel::mm::best_fit>;

inline constexpr std::uint64_t page_size = 4096;

/// What a mapping holds: the object, its bus window (host memory only) and the device address
/// of the object's first byte.
struct binding {
    accel::gem_ref obj;
    bus_pin pin;
    std::uint64_t base_pa = 0;
};

struct mapping : accel::mm::vm::va_mapping<binding> {
    std::shared_ptr<binding> held;
};

class vm {
public:
    vm() = default;
    vm(const vm&) = delete;
    vm& operator=(const vm&) = delete;
    ~vm() { clear(); }

    int init(pt_region& tables, std::uint64_t start, std::uint64_t size) {
        if (int e = pt_.init(tables))
            return e;
        return space_.init(start, size, page_size);
    }

    /// Maps [bo_offset, bo_offset + size) of `b` at `va` (fixed) or where the space has room
    /// (`va` out). -EINVAL (geometry), -EEXIST (fixed over a mapping), -ENOSPC, -ENOMEM.
    int bind(std::shared_ptr<binding> b, std::uint64_t bo_offset, std::uint64_t& va, std::uint64_t size,
             accel::mm::vm::vm_perm perms, bool fixed) {
        accel::mm::vm::va_map_request<binding> req;
        req.addr = va;
        req.range = size;
        req.obj = b.get();
        req.offset = bo_offset;
        req.flags = static_cast<std::uint32_t>(perms);
        req.placement = fixed ? accel::mm::vm::va_placement::fixed_noreplace : accel::mm::vm::va_placement::any;
        req.alignment = page_size; // 4 KiB leaves only: no need to align for big pages
        accel::mm::vm::va_ops<binding> ops;
        if (int e = space_.sm_map(req, ops))
            return e;
        if (ops.size() != 1) // fixed_noreplace and any give exactly one map op
            return -EINVAL;
        auto m = std::make_unique<mapping>();
        accel::mm::vm::va_prealloc<binding> pre;
        pre.push(m.get());
        const auto& op = ops[0];
        if (int e = pt_.map(op.map.addr, b->base_pa + bo_offset, size, perms, page_size))
            return e;
        if (int e = space_.apply(ops, pre)) { // only on misuse; undo the translations
            (void)pt_.unmap(op.map.addr, size);
            return e;
        }
        m->held = std::move(b);
        va = m->addr();
        m.release(); // linked into the space; clear()/unbind() delete it
        return 0;
    }

    /// Unmaps [va, va + size): whole mappings go, straddling ones keep their outer pieces.
    /// -EINVAL (geometry), -ENOMEM (for the surviving pieces; nothing changed).
    int unbind(std::uint64_t va, std::uint64_t size) {
        accel::mm::vm::va_ops<binding> ops;
        if (int e = space_.sm_unmap(va, size, ops))
            return e;
        std::unique_ptr<mapping> pieces[3];
        accel::mm::vm::va_prealloc<binding> pre;
        for (std::size_t i = 0; i < ops.mappings_needed(); ++i) {
            pieces[i] = std::make_unique<mapping>();
            pre.push(pieces[i].get());
        }
        if (int e = space_.apply(ops, pre))
            return e;
        for (auto& p : pieces)
            (void)p.release(); // the ones apply() took are linked now; the others were never made
        for (const auto& op : ops) {
            auto* old = static_cast<mapping*>(op.old);
            (void)pt_.unmap(op.unmap_addr(), op.unmap_range()); // 4 KiB leaves: never splits
            if (op.new_prev)
                static_cast<mapping*>(op.new_prev)->held = old->held;
            if (op.new_next)
                static_cast<mapping*>(op.new_next)->held = old->held;
            delete old;
        }
        return 0;
    }

    /// Unmaps everything.
    void clear() {
        space_.clear([this](accel::mm::vm::va_mapping<binding>& m) {
            (void)pt_.unmap(m.addr(), m.range());
            delete static_cast<mapping*>(&m);
        });
    }

    const page_table& tables() const noexcept { return pt_; }
    std::size_t mappings() const noexcept { return space_.count(); }

private:
    page_table pt_;
    accel::mm::vm::va_space<binding> space_;
};

} // namespace vdnn

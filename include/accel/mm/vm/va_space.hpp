// SPDX-License-Identifier: MIT
#pragma once
/// \file `va_space<Obj>`: a device virtual address space with drm_gpuvm's split/merge semantics.
///
/// One per file or per context, as the driver decides. It covers [start, start + range) (which
/// may end at 2^64), supports a set of page sizes (a bitmask; the smallest is the granule every
/// address, size and object offset must be a multiple of) and may hold a kernel-reserved range
/// that no mapping may touch. Mappings (va_ops.hpp) are driver-owned objects kept in an ordered
/// tree; each also holds a node of a best_fit address allocator covering the space, so "pick
/// an address for me" is drm_mm's best fit over the holes between mappings.
///
/// Binding is two-phase, like drm_gpuvm_sm_map_ops_create() + drm_gpuva_map/remap/unmap:
///   1. sm_map(request, ops) or sm_unmap(addr, range, ops) computes the op list; nothing
///      changes (it may allocate the list's storage: -ENOMEM).
///   2. apply(ops, prealloc) commits it: noexcept, allocation-free, taking new mapping objects
///      from `prealloc` (ops.mappings_needed() of them). It fails only when misused (stale ops,
///      too few objects), before changing anything. Afterwards each op's `old` is the driver's
///      to free and new_map/new_prev/new_next name the objects now linked.
/// The ops also drive the page tables: for unmap/remap ops clear unmap_addr()/unmap_range()
/// unless `keep`; for the map op, map the new range.
///
/// Rules (request addresses are VAs; "granule" = smallest page size):
/// - sm_map, every placement: -EINVAL when range is 0, range or offset is not a granule
///   multiple, offset + range wraps, or `alignment` is given and is not a power-of-two
///   multiple of the granule.
/// - placement::fixed (drm_gpuvm): -EINVAL when addr is unaligned, the range wraps, leaves the
///   space, or overlaps the kernel-reserved range. Overlapped mappings are replaced:
///   unmaps, at most two remaps (the mappings straddling the ends keep their outer pieces,
///   with offsets advanced accordingly), then the map. A request identical to an existing
///   mapping (same range, object, offset and flags) yields an empty list (drm_gpuvm itself
///   emits unmap(keep) + map for it; nothing to do is the simpler contract).
/// - placement::fixed_noreplace: the same, but -EEXIST when anything overlaps.
/// - placement::hint: addr must be aligned (-EINVAL); it is used when [addr, addr + range) lies
///   in the space, off the kernel range and over no mapping; otherwise as placement::any.
/// - placement::any: best fit over the holes, aligned to `alignment` or, when 0, to the largest
///   supported page size not above the range (so big mappings can use big pages); -ENOSPC
///   when no hole fits. The list is then a single map.
/// - sm_unmap: -EINVAL as for fixed (range 0, unaligned, wrapping, outside, kernel range);
///   unmapping where nothing is mapped is fine (an empty list). Mappings straddling an end
///   become remaps with the outer pieces (keep = false, as in drm_gpuvm).
/// - apply: -ESTALE when the space changed since the ops were computed (or they were never
///   computed / already applied), -ENOBUFS when prealloc holds fewer than mappings_needed().
/// Not thread-safe: the driver's VM lock serialises all of it, as drm_gpuvm leaves locking to
/// drivers.
#include <accel/mm/range.hpp>
#include <accel/mm/range/best_fit.hpp>
#include <accel/mm/vm/va_ops.hpp>

#include <boost/intrusive/set.hpp>

#include <cassert>
#include <cerrno>
#include <cstdint>
#include <iterator>
#include <new>
#include <ranges>

namespace accel::mm::vm {

enum class va_placement : std::uint8_t { fixed, fixed_noreplace, hint, any };

/// A bind request for sm_map.
template <class Obj>
struct va_map_request {
    u64 addr = 0;   ///< fixed/fixed_noreplace: the address; hint: the preferred one; any: ignored
    u64 range = 0;
    Obj* obj = nullptr;
    u64 offset = 0; ///< into obj
    std::uint32_t flags = 0;
    va_placement placement = va_placement::fixed;
    u64 alignment = 0; ///< hint/any: 0 = the largest supported page size <= range
};

template <class Obj>
class va_space {
    struct addr_of {
        using type = u64;
        u64 operator()(const va_mapping<Obj>& m) const noexcept { return m.addr(); }
    };
    using tree = boost::intrusive::set<
        va_mapping<Obj>,
        boost::intrusive::member_hook<va_mapping<Obj>, decltype(va_mapping<Obj>::hook_), &va_mapping<Obj>::hook_>,
        boost::intrusive::key_of_value<addr_of>>;

public:
    using mapping = va_mapping<Obj>;
    using ops_type = va_ops<Obj>;
    using request = va_map_request<Obj>;

    va_space() = default;
    va_space(const va_space&) = delete;
    va_space& operator=(const va_space&) = delete;
    /// Mappings still linked are unlinked (not freed: they are the driver's); see clear().
    ~va_space() {
        clear([](mapping&) {});
    }

    /// [start, start + range) with the page sizes in `page_sizes` (each bit a power of two) and
    /// an optional kernel-reserved [kernel_addr, kernel_addr + kernel_range). -EINVAL: no page
    /// size, unaligned or empty space, wrapping past 2^64, a kernel range that is unaligned or
    /// not inside the space, or already initialised.
    int init(u64 start, u64 range, u64 page_sizes, u64 kernel_addr = 0, u64 kernel_range = 0) {
        if (granule_ || page_sizes == 0)
            return -EINVAL;
        const u64 g = page_sizes & (~page_sizes + 1);
        if (range == 0 || ((start | range) & (g - 1)) || validate_space(start, range))
            return -EINVAL;
        if (kernel_range && (((kernel_addr | kernel_range) & (g - 1)) || kernel_addr < start ||
                             kernel_addr + (kernel_range - 1) < kernel_addr ||
                             kernel_addr + (kernel_range - 1) > start + (range - 1)))
            return -EINVAL;
        if (int e = alloc_.init(start, range))
            return e;
        if (kernel_range) {
            [[maybe_unused]] const int e = alloc_.reserve(kernel_node_, kernel_addr, kernel_range);
            assert(e == 0);
        }
        space_ = {start, range};
        kernel_ = {kernel_addr, kernel_range};
        page_sizes_ = page_sizes;
        granule_ = g;
        generation_ = 1;
        return 0;
    }

    // ---- phase 1: op lists --------------------------------------------------------------------

    int sm_map(const request& req, ops_type& ops) {
        ops.ops_.clear();
        ops.generation_ = 0;
        if (!granule_ || req.range == 0 || ((req.range | req.offset) & (granule_ - 1)) ||
            req.offset + (req.range - 1) < req.offset)
            return -EINVAL;
        if (req.alignment && (!is_pow2(req.alignment) || (req.alignment & (granule_ - 1))))
            return -EINVAL;
        va_piece<Obj> m{req.addr, req.range, req.obj, req.offset, req.flags};
        switch (req.placement) {
        case va_placement::fixed:
        case va_placement::fixed_noreplace:
            if (int e = check_request(req.addr, req.range))
                return e;
            if (req.placement == va_placement::fixed_noreplace && first_overlap(req.addr, m.last()) != mappings_.end())
                return -EEXIST;
            if (auto it = first_overlap(req.addr, m.last()); it != mappings_.end() && it->desc_ == m) {
                ops.generation_ = generation_; // identical: an empty list
                return 0;
            }
            if (int e = split_merge(m, ops))
                return e;
            break;
        case va_placement::hint:
            if (req.addr & (granule_ - 1))
                return -EINVAL;
            if (check_request(req.addr, req.range) == 0 && first_overlap(req.addr, m.last()) == mappings_.end())
                break;
            [[fallthrough]];
        case va_placement::any:
            if (int e = pick(req.range, req.alignment, m.addr))
                return e;
            break;
        }
        return finish(ops, [&] {
            va_op<Obj> op;
            op.kind = va_op_kind::map;
            op.map = m;
            ops.ops_.push_back(op);
        });
    }

    int sm_unmap(u64 addr, u64 range, ops_type& ops) {
        ops.ops_.clear();
        ops.generation_ = 0;
        if (!granule_)
            return -EINVAL;
        if (int e = check_request(addr, range))
            return e;
        const u64 last = addr + (range - 1);
        return finish(ops, [&] {
            for (auto it = first_overlap(addr, last); it != mappings_.end() && it->addr() <= last; ++it) {
                va_op<Obj> op;
                op.old = &*it;
                const va_piece<Obj>& v = it->desc_;
                if (v.addr < addr) {
                    op.has_prev = true;
                    op.prev = {v.addr, addr - v.addr, v.obj, v.offset, v.flags};
                }
                if (v.last() > last) {
                    op.has_next = true;
                    op.next = {last + 1, v.last() - last, v.obj, v.offset + (last + 1 - v.addr), v.flags};
                }
                op.kind = op.has_prev || op.has_next ? va_op_kind::remap : va_op_kind::unmap;
                ops.ops_.push_back(op);
            }
        });
    }

    // ---- phase 2: commit ----------------------------------------------------------------------

    int apply(ops_type& ops, va_prealloc<Obj>& pre) noexcept {
        if (ops.generation_ == 0 || ops.generation_ != generation_)
            return -ESTALE;
        if (pre.count() < ops.mappings_needed())
            return -ENOBUFS;
        for (va_op<Obj>& op : ops.ops_) {
            if (op.old)
                unlink(*op.old);
            if (op.kind == va_op_kind::map)
                op.new_map = link(*pre.pop(), op.map);
            if (op.has_prev)
                op.new_prev = link(*pre.pop(), op.prev);
            if (op.has_next)
                op.new_next = link(*pre.pop(), op.next);
        }
        ++generation_;
        ops.generation_ = 0;
        return 0;
    }

    // ---- queries ------------------------------------------------------------------------------

    /// The mapping containing `addr`, or null.
    mapping* find(u64 addr) noexcept {
        auto it = first_overlap(addr, addr);
        return it != mappings_.end() && it->addr() <= addr ? &*it : nullptr;
    }
    /// Mappings in address order.
    auto mappings() const noexcept { return std::ranges::subrange(mappings_.begin(), mappings_.end()); }
    std::size_t count() const noexcept { return mappings_.size(); }
    u64 start() const noexcept { return space_.start; }
    u64 range() const noexcept { return space_.size; }
    u64 page_sizes() const noexcept { return page_sizes_; }
    u64 granule() const noexcept { return granule_; }
    mm::range kernel_range() const noexcept { return kernel_; }
    /// Free VA (kernel range excluded) and the largest hole, from the address allocator.
    range_stats address_stats() const noexcept { return alloc_.stats(); }

    /// Unlinks every mapping, handing each to dispose(mapping&) (to free it); the space stays
    /// initialised and empty.
    template <class Dispose>
    void clear(Dispose&& dispose) {
        while (!mappings_.empty()) {
            mapping& m = *mappings_.begin();
            unlink(m);
            dispose(m);
        }
        ++generation_;
    }

private:
    /// -EINVAL unless [addr, addr + range) is a non-empty, granule-aligned, non-wrapping range
    /// inside the space and off the kernel range.
    int check_request(u64 addr, u64 range) const noexcept {
        if (range == 0 || ((addr | range) & (granule_ - 1)))
            return -EINVAL;
        const u64 last = addr + (range - 1);
        if (last < addr || addr < space_.start || last > space_.last())
            return -EINVAL;
        if (kernel_.size && addr <= kernel_.last() && kernel_.start <= last)
            return -EINVAL;
        return 0;
    }

    /// The first mapping whose last byte is >= addr (if it starts after `last`, none overlaps).
    typename tree::iterator first_overlap(u64 addr, u64 last) noexcept {
        auto it = mappings_.upper_bound(addr);
        if (it != mappings_.begin()) {
            auto p = std::prev(it);
            if (p->last() >= addr)
                return p;
        }
        return it != mappings_.end() && it->addr() <= last ? it : mappings_.end();
    }

    /// Address allocation for hint/any: best fit over the holes (the allocator's state is left
    /// as it was; apply() reserves the range).
    int pick(u64 range, u64 alignment, u64& addr) noexcept {
        u64 align = alignment;
        if (!align)
            for (u64 s = page_sizes_; s; s &= s - 1) {
                const u64 p = s & (~s + 1);
                if (p <= range)
                    align = p;
            }
        if (!align)
            align = granule_;
        best_fit::node probe;
        if (int e = alloc_.insert(probe, alloc_request{range, align, space_.start, space_.last(), placement::best}))
            return e == -EINVAL ? -ENOSPC : e; // bounds are the space: -EINVAL only for range > space
        addr = probe.start();
        alloc_.remove(probe);
        return 0;
    }

    /// drm_gpuvm's __drm_gpuvm_sm_map walk (KERNEL.md section 7), in closed intervals so that
    /// a space ending at 2^64 needs no special case.
    int split_merge(const va_piece<Obj>& req, ops_type& ops) {
        const u64 req_last = req.last();
        auto it = first_overlap(req.addr, req_last);
        return finish(ops, [&] {
            for (; it != mappings_.end() && it->addr() <= req_last; ++it) {
                const va_piece<Obj>& v = it->desc_;
                const u64 last = v.last();
                va_op<Obj> op;
                op.old = &*it;
                const bool same = v.obj != nullptr && v.obj == req.obj && v.flags == req.flags;
                if (v.addr == req.addr) {
                    op.keep = same && v.offset == req.offset;
                } else if (v.addr < req.addr) {
                    const u64 ls_range = req.addr - v.addr;
                    op.has_prev = true;
                    op.prev = {v.addr, ls_range, v.obj, v.offset, v.flags};
                    op.keep = same && v.offset + ls_range == req.offset;
                } else {
                    op.keep = same && v.offset == req.offset + (v.addr - req.addr);
                }
                if (last > req_last) {
                    op.has_next = true;
                    op.next = {req_last + 1, last - req_last, v.obj, v.offset + (req_last + 1 - v.addr), v.flags};
                }
                op.kind = op.has_prev || op.has_next ? va_op_kind::remap : va_op_kind::unmap;
                ops.ops_.push_back(op);
            }
        });
    }

    /// Runs `fill` (which appends ops) and stamps the list; -ENOMEM when the list cannot grow.
    template <class Fill>
    int finish(ops_type& ops, Fill&& fill) {
        try {
            fill();
        } catch (const std::bad_alloc&) {
            ops.ops_.clear();
            ops.generation_ = 0;
            return -ENOMEM;
        }
        ops.generation_ = generation_;
        return 0;
    }

    void unlink(mapping& m) noexcept {
        mappings_.erase(mappings_.iterator_to(m));
        alloc_.remove(m.va_node_);
    }
    mapping* link(mapping& m, const va_piece<Obj>& p) noexcept {
        m.desc_ = p;
        [[maybe_unused]] const int e = alloc_.reserve(m.va_node_, p.addr, p.range);
        assert(e == 0 && "va_space: apply() on a range that is not free");
        mappings_.insert(m);
        return &m;
    }

    tree mappings_;
    best_fit alloc_;
    best_fit::node kernel_node_;
    mm::range space_{};
    mm::range kernel_{};
    u64 page_sizes_ = 0;
    u64 granule_ = 0;
    std::uint64_t generation_ = 0;
};

} // namespace accel::mm::vm

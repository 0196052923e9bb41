// SPDX-License-Identifier: MIT
#pragma once
/// \file `page_table<Format, Region>`: a device MMU's multi-level radix table, kept in device memory.
///
/// The geometry and entry layout come from a page_table_format (page_table_format.hpp); the
/// table pages themselves are allocated from a device_memory_region and the PTEs are written
/// into its host backing as little-endian u64, exactly where a device walker would read them
/// (root() is what a driver programs into the MMU's base register).
///
/// map(va, pa, size, perms) maps a physically contiguous range with the largest leaves that the
/// alignment of va and pa, the range's bounds and an optional max_page allow, creating tables
/// on demand. Rules:
/// - -EINVAL: size 0; va, pa or size not a multiple of the smallest page; the range past the
///   VA width or the format's physical width; unknown permission bits; a max_page below the
///   smallest page.
/// - -EEXIST: some page of the range is already mapped (an MMU maps onto invalid entries only;
///   replacing is unmap + map, which is what the va_space op lists say).
/// When a range both overlaps and needs a table the region cannot give, the error is whichever
/// the walk meets first (in VA order).
/// - -ENOSPC / -ENOMEM: no room in the region for a table.
/// A failed map leaves every translation as it was: what it had mapped is unmapped again and
/// tables it created are freed.
///
/// unmap(va, size) removes every translation in the range (holes are skipped) and returns the
/// bytes that were mapped. A leaf the range only partly covers is first split: replaced by a
/// table of the next level whose leaves map the same memory with the same permissions (as
/// io-pgtable-arm's split_blk_unmap does), repeated down to the level where the range's ends
/// fall on leaf boundaries. A split needs a table, so unmap may fail with -ENOSPC/-ENOMEM; the
/// translations are then unchanged (splits done so far are equivalent to the leaves they
/// replaced). -EINVAL for the same geometry errors as map.
/// Tables that become empty are freed back to the region at once, so unmapping everything
/// returns the region to the state it had with only the root. Leaves are never merged back
/// into larger ones.
///
/// TLB invalidation: the driver's callback runs once per map()/unmap() call that changed any
/// entry, with the range requested (one batched invalidation, not one per page). A map that
/// failed after writing entries (then rolled back) invalidates too.
///
/// translate(va) is the software walker: {pa, perms, page size} or -EFAULT. dma.hpp copies
/// through it. Not thread-safe; callers serialise (drivers hold their VM lock).
#include <accel/base/errno.hpp>
#include <accel/mm/range.hpp>
#include <accel/mm/vm/page_table_format.hpp>

#include <cassert>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <unordered_map>
#include <utility>

namespace accel::mm::vm {

/// What the walker found at a VA.
struct translation {
    u64 pa = 0;          ///< physical address of the byte at the VA
    vm_perm perms = vm_perm::none;
    u64 page_size = 0;   ///< bytes the leaf entry maps
};

/// A region page tables can live in: device_memory_region<P> models it.
template <class R>
concept page_table_region = requires(R& r, const R& cr, const alloc_request& req, u64 a) {
    typename R::allocation;
    { r.allocate(req) };
    { cr.host_ptr(a, a) } -> std::same_as<std::byte*>;
};

template <page_table_format Format, page_table_region Region>
class page_table {
    static_assert(page_table_geometry<Format>::valid(), "invalid page_table_format geometry");

public:
    using format = Format;
    using geometry = page_table_geometry<Format>;
    static constexpr unsigned levels = geometry::levels;
    static constexpr u64 min_page = geometry::min_page;
    static constexpr u64 va_limit = u64{1} << geometry::va_bits; ///< VAs are < this

    page_table() = default;
    page_table(const page_table&) = delete;
    page_table& operator=(const page_table&) = delete;
    /// Frees every table back to the region (the region must still exist).
    ~page_table() = default;

    /// Allocates the root table from `r`. -EINVAL when already initialised; -ENOSPC/-ENOMEM.
    int init(Region& r) {
        if (region_)
            return -EINVAL;
        region_ = &r;
        auto t = new_table(0);
        if (!t) {
            region_ = nullptr;
            return t.error();
        }
        root_ = *t;
        return 0;
    }

    /// The root table's physical address (what the MMU's base register holds).
    u64 root() const noexcept { return root_ ? root_->pa : 0; }

    /// Sets the TLB invalidation callback: fn(ctx, va, size), once per changing map/unmap.
    void set_tlb_invalidate(void (*fn)(void*, u64, u64), void* ctx) noexcept {
        tlb_fn_ = fn;
        tlb_ctx_ = ctx;
    }
    /// The same with any callable `c(u64 va, u64 size)`, held by reference.
    template <class C>
    void set_tlb_invalidate(C& c) noexcept {
        set_tlb_invalidate([](void* ctx, u64 va, u64 size) { (*static_cast<C*>(ctx))(va, size); }, &c);
    }

    /// Maps [va, va + size) to [pa, pa + size); see the file comment. `max_page` (0: no limit)
    /// caps the leaf size, for backing the driver knows to be contiguous only in smaller pieces.
    int map(u64 va, u64 pa, u64 size, vm_perm perms, u64 max_page = 0) {
        if (!root_ || check_range(va, size) || ((pa | size) & (min_page - 1)) || (max_page && max_page < min_page) ||
            (static_cast<unsigned>(perms) & ~static_cast<unsigned>(vm_perm::rwx)))
            return -EINVAL;
        const u64 pa_last = pa + (size - 1);
        if (pa_last < pa || (Format::pa_bits < 64 && (pa_last >> (Format::pa_bits % 64)) != 0))
            return -EINVAL;
        u64 done = va;
        const int e = map_level<0>(*root_, va, va + (size - 1), pa, perms, max_page ? max_page : ~u64{0}, done);
        if (e) {
            if (done != va) {
                unmap_level<0>(*root_, va, done - 1); // exactly what was mapped: no splits
                invalidate(va, size);
            }
            return e;
        }
        invalidate(va, size);
        return 0;
    }

    /// Unmaps [va, va + size); the bytes that were mapped, or an errno (file comment).
    result<u64> unmap(u64 va, u64 size) {
        if (!root_ || check_range(va, size))
            return result<u64>::failure(-EINVAL);
        if (int e = split_at(va))
            return result<u64>::failure(e);
        if (int e = split_at(va + size)) // va + size <= va_limit < 2^64
            return result<u64>::failure(e);
        const u64 bytes = unmap_level<0>(*root_, va, va + (size - 1));
        if (bytes)
            invalidate(va, size);
        return bytes;
    }

    /// The software walker: the leaf mapping `va`, or -EFAULT.
    result<translation> translate(u64 va) const noexcept {
        if (!root_ || va >= va_limit)
            return result<translation>::failure(-EFAULT);
        const std::byte* t = root_->host;
        for (unsigned l = 0; l < levels; ++l) {
            const pte_info e = Format::decode(load_le64(t + geometry::index(va, l) * 8), l);
            if (e.kind == pte_kind::invalid)
                break;
            if (e.kind == pte_kind::leaf) {
                const u64 span = geometry::entry_span(l);
                return translation{e.pa + (va & (span - 1)), e.perms, span};
            }
            if (l + 1 == levels)
                break; // a format decoding a last-level table: malformed, treat as a fault
            t = region_->host_ptr(e.pa, geometry::table_bytes(l + 1));
            if (!t)
                break; // a corrupt entry pointing outside the region: a fault, not a crash
        }
        return result<translation>::failure(-EFAULT);
    }

    /// Calls fn(va, size, pa, perms) for every leaf in VA order (dumps, checks).
    template <class Fn>
    void for_each_leaf(Fn&& fn) const {
        if (root_)
            walk_leaves<0>(*root_, 0, fn);
    }

    /// Tables currently allocated (the root included) and the region bytes they take.
    std::size_t table_count() const noexcept { return tables_.size(); }
    u64 table_bytes() const noexcept { return table_bytes_; }

private:
    struct table {
        typename Region::allocation mem;
        std::byte* host = nullptr;
        u64 pa = 0;
        u64 live = 0; ///< valid entries; a non-root table with none is freed at once
        u64 bytes = 0;
    };

    int check_range(u64 va, u64 size) const noexcept {
        if (size == 0 || ((va | size) & (min_page - 1)) || va >= va_limit || size > va_limit - va)
            return -EINVAL;
        return 0;
    }

    void invalidate(u64 va, u64 size) const {
        if (tlb_fn_)
            tlb_fn_(tlb_ctx_, va, size);
    }

    /// A zero-filled table for level `level`, aligned to its size. -ENOSPC/-ENOMEM (host
    /// allocation failures of the bookkeeping are caught here: no exception leaves the API).
    result<table*> new_table(unsigned level) {
        const u64 bytes = geometry::table_bytes(level);
        try {
            auto a = region_->allocate(alloc_request{bytes, bytes, 0, ~u64{0}, placement::best});
            if (!a)
                return result<table*>::failure(a.error());
            const u64 pa = a->addr();
            std::byte* host = region_->host_ptr(pa, bytes);
            if (!host || (pa & (bytes - 1)))
                return result<table*>::failure(-EINVAL); // a region that cannot hold tables
            // The entry pointing at it must hold its address exactly: a format that drops low
            // bits (tables smaller than its page, placed off a page boundary by a region with
            // a finer granule) would otherwise point the walk at another table.
            if (level > 0 && Format::decode(Format::encode_table(pa), level - 1).pa != pa)
                return result<table*>::failure(-EINVAL);
            auto [it, fresh] = tables_.try_emplace(pa);
            assert(fresh);
            (void)fresh;
            return init_table(it->second, std::move(*a), host, pa, bytes);
        } catch (const std::bad_alloc&) {
            return result<table*>::failure(-ENOMEM);
        }
    }
    table* init_table(table& t, typename Region::allocation&& mem, std::byte* host, u64 pa, u64 bytes) noexcept {
        t.mem = std::move(mem);
        t.host = host;
        t.pa = pa;
        t.bytes = t.mem.size();
        std::memset(host, 0, bytes);
        table_bytes_ += t.bytes;
        return &t;
    }
    void free_table(table& t, unsigned level) {
        if (cache_[level] == &t)
            cache_[level] = nullptr;
        table_bytes_ -= t.bytes;
        tables_.erase(t.pa); // the allocation's destructor gives the memory back
    }
    /// The table a table entry of level l-1 points at (level l). Walks repeat the same path, so
    /// a one-entry cache per level saves most hash lookups.
    table& child(u64 pa, unsigned level) {
        if (table* c = cache_[level]; c && c->pa == pa)
            return *c;
        auto it = tables_.find(pa);
        assert(it != tables_.end());
        cache_[level] = &it->second;
        return it->second;
    }

    /// Maps [va, last] within table t of level L; `done` advances past each completed leaf.
    template <unsigned L>
    int map_level(table& t, u64 va, u64 last, u64 pa, vm_perm perms, u64 max_page, u64& done) {
        constexpr unsigned l = L;
        constexpr u64 span = geometry::entry_span(l);
        for (;;) {
            const u64 e_last = (va & ~(span - 1)) + (span - 1);
            const u64 c_last = last < e_last ? last : e_last;
            std::byte* slot = t.host + geometry::index(va, l) * 8;
            const pte_info cur = Format::decode(load_le64(slot), l);
            if (Format::leaf_allowed(l) && (va & (span - 1)) == 0 && c_last == e_last && (pa & (span - 1)) == 0 &&
                span <= max_page) {
                if (cur.kind != pte_kind::invalid)
                    return -EEXIST; // a leaf, or a table (never empty) with something mapped
                store_le64(slot, Format::encode_leaf(pa, perms, l));
                ++t.live;
            } else if constexpr (l + 1 < levels) {
                if (cur.kind == pte_kind::leaf)
                    return -EEXIST;
                table* c;
                const bool fresh = cur.kind == pte_kind::invalid;
                if (fresh) {
                    auto n = new_table(l + 1);
                    if (!n)
                        return n.error();
                    c = *n;
                    store_le64(slot, Format::encode_table(c->pa));
                    ++t.live;
                } else {
                    c = &child(cur.pa, l + 1);
                }
                if (int e = map_level<l + 1>(*c, va, c_last, pa, perms, max_page, done)) {
                    if (c->live == 0) { // only a fresh table can be empty: drop it again
                        store_le64(slot, 0);
                        --t.live;
                        free_table(*c, l + 1);
                    }
                    return e;
                }
            } else {
                assert(false && "a last-level entry always takes a whole page");
                return -EINVAL;
            }
            done = c_last + 1;
            if (c_last == last)
                return 0;
            pa += c_last - va + 1;
            va = c_last + 1;
        }
    }

    /// Clears [va, last], whose ends fall on leaf boundaries; frees emptied tables.
    template <unsigned L>
    u64 unmap_level(table& t, u64 va, u64 last) {
        constexpr unsigned l = L;
        constexpr u64 span = geometry::entry_span(l);
        u64 bytes = 0;
        for (;;) {
            const u64 e_last = (va & ~(span - 1)) + (span - 1);
            const u64 c_last = last < e_last ? last : e_last;
            std::byte* slot = t.host + geometry::index(va, l) * 8;
            const pte_info cur = Format::decode(load_le64(slot), l);
            if (cur.kind == pte_kind::leaf) {
                assert((va & (span - 1)) == 0 && c_last == e_last && "unmap: leaf not split");
                store_le64(slot, 0);
                --t.live;
                bytes += span;
            } else if (cur.kind == pte_kind::table) {
                if constexpr (l + 1 < levels) { // (a last-level entry is never a table)
                    table& c = child(cur.pa, l + 1);
                    bytes += unmap_level<l + 1>(c, va, c_last);
                    if (c.live == 0) {
                        store_le64(slot, 0);
                        --t.live;
                        free_table(c, l + 1);
                    }
                }
            }
            if (c_last == last)
                return bytes;
            va = c_last + 1;
        }
    }

    /// Splits leaves so that a leaf boundary falls at `b` (0 < b < va_limit; otherwise there is
    /// nothing to split). Every split keeps the translation as it was.
    int split_at(u64 b) {
        if (b == 0 || b >= va_limit)
            return 0;
        table* t = root_;
        for (unsigned l = 0; l + 1 < levels; ++l) {
            std::byte* slot = t->host + geometry::index(b, l) * 8;
            const pte_info cur = Format::decode(load_le64(slot), l);
            if (cur.kind == pte_kind::invalid)
                return 0;
            if (cur.kind == pte_kind::table) {
                t = &child(cur.pa, l + 1);
                continue;
            }
            if ((b & (geometry::entry_span(l) - 1)) == 0)
                return 0;
            auto n = new_table(l + 1);
            if (!n)
                return n.error();
            table* c = *n;
            const u64 sub = geometry::entry_span(l + 1);
            for (u64 i = 0; i < geometry::entries(l + 1); ++i)
                store_le64(c->host + i * 8, Format::encode_leaf(cur.pa + i * sub, cur.perms, l + 1));
            c->live = geometry::entries(l + 1);
            store_le64(slot, Format::encode_table(c->pa)); // t->live unchanged: still one entry
            t = c;
        }
        return 0;
    }

    template <unsigned L, class Fn>
    void walk_leaves(const table& t, u64 base, Fn& fn) const {
        constexpr unsigned l = L;
        constexpr u64 span = geometry::entry_span(l);
        for (u64 i = 0; i < geometry::entries(l); ++i) {
            const pte_info e = Format::decode(load_le64(t.host + i * 8), l);
            const u64 va = base + i * span;
            if (e.kind == pte_kind::leaf)
                fn(va, span, e.pa, e.perms);
            else if constexpr (l + 1 < levels)
                if (e.kind == pte_kind::table)
                    walk_leaves<l + 1>(tables_.at(e.pa), va, fn);
        }
    }

    Region* region_ = nullptr;
    std::unordered_map<u64, table> tables_; ///< by physical address; values never move
    table* root_ = nullptr;
    table* cache_[levels]{};
    u64 table_bytes_ = 0;
    void (*tlb_fn_)(void*, u64, u64) = nullptr;
    void* tlb_ctx_ = nullptr;
};

} // namespace accel::mm::vm

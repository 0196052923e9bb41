// SPDX-License-Identifier: MIT
#pragma once
// The range-manager fuzz driver, one template for every policy (accel_fuzz_range_<policy>).
//
// The input picks a managed space (sometimes a hostile one first: empty, wrapping, unaligned, too
// many granules, which must fail with the documented errno), then a sequence of operations on a
// range_allocator<Policy>: alloc with any size / alignment / bounds / placement (0, huge,
// non-power-of-two, bounds past the end, lo > last), reserve of any range, free of live ids and
// of ids naming nothing, and each policy's extras (best_fit: find() and an eviction scan; buddy:
// the native drm_buddy API, alloc_blocks / block_trim / free_list / reset_clear). After every
// operation the policy is compared with range_model: the errno is the one the rules give, an
// exact policy placed the range where drm_mm's rules put it, a failed call changed nothing, and
// nodes(), holes() and stats() equal the model's. At the end everything is freed and the space
// must be one whole hole again.
#include "fuzz_check.hpp"
#include "range_model.hpp"

#include <accel/mm/range.hpp>
#include <accel/mm/range/best_fit.hpp>
#include <accel/mm/range/bitmap.hpp>
#include <accel/mm/range/buddy.hpp>
#include <accel/mm/range/naive.hpp>
#include <accel/mm/range/tlsf.hpp>
#include <accel/mm/range_allocator.hpp>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <vector>

namespace accel::mm::fuzz {

/// How closely a policy's placement can be predicted.
enum class exactness {
    drm_mm,      ///< every placement is drm_mm's (naive, best_fit)
    bounded,     ///< drm_mm's for bounded, low and high requests; unbounded best fails only when nothing fits (tlsf)
    first_fit,   ///< granule first fit: best/low = lowest fit, high = highest (bitmap)
    valid_only,  ///< any valid placement (buddy: placement depends on the block tree)
};

template <class M>
constexpr exactness exactness_of() {
    if constexpr (std::is_same_v<M, naive> || std::is_same_v<M, best_fit>)
        return exactness::drm_mm;
    else if constexpr (std::is_same_v<M, tlsf>)
        return exactness::bounded;
    else if constexpr (std::is_same_v<M, bitmap>)
        return exactness::first_fit;
    else
        return exactness::valid_only;
}

template <class M>
class range_fuzzer {
    static constexpr bool is_bitmap = std::is_same_v<M, bitmap>;
    static constexpr bool is_buddy = std::is_same_v<M, buddy>;
    static constexpr bool is_best_fit = std::is_same_v<M, best_fit>;
    using id_type = typename range_allocator<M>::id_type;

public:
    explicit range_fuzzer(FuzzedDataProvider& in) : in_(in) {}

    void run() {
        current_op = 0;
        if (!setup())
            return;
        check();
        for (unsigned ops = 0; ops < 600 && in_.remaining_bytes() > 0; ++ops) {
            current_op = ops + 1;
            switch (in_.ConsumeIntegralInRange<unsigned>(0, 11)) {
            case 0: case 1: case 2: case 3: op_alloc(); break;
            case 4: case 5: op_reserve(); break;
            case 6: case 7: op_free_live(); break;
            case 8: op_free_bogus(); break;
            case 9: case 10: op_extra(); break;
            case 11: free_everything(); break;
            }
            check();
        }
        current_op = ~0ul;
        free_everything();
        if constexpr (is_buddy)
            MM_FUZZ_CHECK(ra_.manager().fini() == 0, "buddy::fini() reports a leak after freeing everything");
    }

private:
    // ---- setup -------------------------------------------------------------------------------

    /// Picks the space (and first, maybe, a hostile one that must be refused).
    bool setup() {
        if (in_.ConsumeBool())
            hostile_init();
        // unit: what sizes round up to; scale: the step of the values drawn (a multiple of it).
        if constexpr (is_bitmap)
            unit_ = u64{1} << in_.ConsumeIntegralInRange<unsigned>(0, 12);
        else if constexpr (is_buddy)
            unit_ = buddy::default_chunk;
        else
            unit_ = 1;
        scale_ = unit_ << in_.ConsumeIntegralInRange<unsigned>(0, is_bitmap ? 8 : 40);
        // At most 4096 steps, and never 2^64 bytes or more.
        u64 size = scale_ * in_.ConsumeIntegralInRange<u64>(1, std::min<u64>(4096, (~u64{0} / scale_)));
        u64 start = 0;
        switch (in_.ConsumeIntegralInRange<unsigned>(0, 3)) {
        case 0: start = 0; break;
        case 1: start = scale_ * in_.ConsumeIntegralInRange<u64>(0, 4096); break;
        case 2: start = u64{0} - size; break; // ends exactly at 2^64
        case 3: start = in_.ConsumeIntegral<u64>() & ~(unit_ - 1); break;
        }
        if (start + (size - 1) < start) { // would wrap: end at 2^64 instead
            start = u64{0} - size;
        }
        int e;
        MM_FUZZ_TRACE("init start=%#llx size=%#llx unit=%#llx\n", (unsigned long long)start, (unsigned long long)size,
                      (unsigned long long)unit_);
        if constexpr (is_bitmap)
            e = ra_.manager().init(start, size, unit_);
        else
            e = ra_.init(start, size);
        MM_FUZZ_CHECK(e == 0, "init() refused a valid space");
        model_.init({start, size});
        return true;
    }

    void hostile_init() {
        M bad;
        u64 start = in_.ConsumeIntegral<u64>(), size = 0;
        int expect = -EINVAL;
        switch (in_.ConsumeIntegralInRange<unsigned>(0, 3)) {
        case 0: size = 0; break;
        case 1: // wraps past 2^64
            start = ~u64{0} - (in_.ConsumeIntegralInRange<u64>(0, 16) << 12) ;
            size = (u64{0} - start) + (in_.ConsumeIntegralInRange<u64>(1, 16) << 12);
            break;
        case 2: // not whole granules / chunks (fine for the byte-granular policies)
            start = (start & ~u64{0xffff}) | 1;
            size = 4096 + 1;
            if (start + (size - 1) < start)
                start = 1;
            expect = (is_bitmap || is_buddy) ? -EINVAL : 0; // bitmap: 256-byte granules here
            break;
        case 3: // too many granules for a bitmap (fine for the others)
            start = 0;
            size = u64{1} << 40;
            expect = is_bitmap ? -ENOMEM : 0;
            break;
        }
        int e;
        if constexpr (is_bitmap)
            e = size == (u64{1} << 40) ? bad.init(start, size, 1) : bad.init(start, size);
        else
            e = bad.init(start, size);
        MM_FUZZ_CHECK(e == expect, "init() of a hostile space: wrong errno");
    }

    // ---- request decoding --------------------------------------------------------------------

    u64 draw_size() {
        const u64 limit = model_.space().size >> in_.ConsumeIntegralInRange<unsigned>(0, 10);
        return pick_value(in_, scale_, limit);
    }
    u64 draw_addr() { return model_.space().start + pick_value(in_, scale_, model_.space().size); }

    alloc_request draw_request() {
        alloc_request r;
        r.size = draw_size();
        r.alignment = pick_alignment(in_, scale_);
        r.mode = static_cast<placement>(in_.ConsumeIntegralInRange<unsigned>(0, 2));
        if (in_.ConsumeIntegralInRange<unsigned>(0, 3) == 0) {
            r.lo = in_.ConsumeBool() ? draw_addr() : pick_value(in_, scale_, ~u64{0});
            r.last = in_.ConsumeBool() ? draw_addr() - 1 : r.lo + pick_value(in_, scale_, model_.space().size);
        }
        return r;
    }

    /// validate_request()'s rules, written out.
    int expected_validity(const alloc_request& r, u64& lo, u64& last) const {
        const range sp = model_.space();
        if (r.size == 0 || (r.alignment > 1 && !M::any_alignment && !std::has_single_bit(r.alignment)) || r.lo > r.last)
            return -EINVAL;
        lo = std::max(r.lo, sp.start);
        last = std::min(r.last, sp.last());
        return lo > last ? -EINVAL : 0;
    }

    // ---- operations --------------------------------------------------------------------------

    void op_alloc() {
        const alloc_request r = draw_request();
        u64 lo = 0, last = 0;
        const int valid = expected_validity(r, lo, last);
        auto id = ra_.alloc(r);
        const int rc = id ? 0 : id.error();
        MM_FUZZ_TRACE("alloc size=%#llx align=%#llx lo=%#llx last=%#llx mode=%d -> %d at %#llx\n",
                      (unsigned long long)r.size, (unsigned long long)r.alignment, (unsigned long long)r.lo,
                      (unsigned long long)r.last, (int)r.mode, rc, rc ? 0ull : (unsigned long long)ra_.get(*id).start);
        if (valid) {
            MM_FUZZ_CHECK(rc == -EINVAL, "alloc: an invalid request was not refused with -EINVAL");
            return;
        }
        MM_FUZZ_CHECK(rc == 0 || rc == -ENOSPC, "alloc: a valid request failed with an errno other than -ENOSPC");
        // The request as the policy sees it: size rounded to the unit, alignment at least the
        // unit, and (bitmap) bounds shrunk to whole granules.
        u64 size = r.size, align = effective_alignment(r.alignment);
        bool representable = align_up(r.size, unit_, size);
        if (unit_ > 1) {
            align = std::max(align, unit_);
            if constexpr (is_bitmap) { // in offsets from the space start, which cannot wrap
                const u64 end_off = last - model_.space().start;
                u64 lo_off = 0;
                representable = representable && align_up(lo - model_.space().start, unit_, lo_off) && lo_off <= end_off;
                u64 last_off = end_off;
                if (((end_off + 1) & (unit_ - 1)) != 0) { // the last granule is cut: unusable
                    const u64 cut = align_down(end_off + 1, unit_);
                    representable = representable && cut > 0;
                    last_off = cut - 1;
                }
                representable = representable && lo_off <= last_off;
                lo = model_.space().start + lo_off;
                last = model_.space().start + last_off;
            }
        }
        placement mode = r.mode;
        if (exactness_of<M>() == exactness::first_fit && mode == placement::best)
            mode = placement::low;
        u64 at = 0;
        const bool fits = representable && model_.place(size, align, lo, last, mode, at);
        const bool unbounded = r.lo <= model_.space().start && r.last >= model_.space().last();
        // Whether the placement (and so success) is fully predictable, or only failure is.
        const bool exact = exactness_of<M>() == exactness::drm_mm || exactness_of<M>() == exactness::first_fit ||
                           (exactness_of<M>() == exactness::bounded && (r.mode != placement::best || !unbounded));
        if (exact)
            MM_FUZZ_CHECK((rc == 0) == fits, "alloc: success or -ENOSPC differs from the model's search");
        else if (exactness_of<M>() == exactness::bounded)
            MM_FUZZ_CHECK(rc == 0 || !fits, "alloc: -ENOSPC although a hole fits the request");
        if (rc != 0)
            return;
        const range got = ra_.get(*id);
        MM_FUZZ_CHECK(got.size == size, "alloc: the node's size is not the (unit-rounded) request");
        MM_FUZZ_CHECK(got.start % align == 0, "alloc: the node is misaligned");
        MM_FUZZ_CHECK(got.start >= lo && got.last() <= last, "alloc: the node lies outside the request's bounds");
        if (exact)
            MM_FUZZ_CHECK(got.start == at, "alloc: placed elsewhere than drm_mm's rules say");
        model_.add(got.start, got.size);
        live_.push_back(*id);
    }

    void op_reserve() {
        u64 start = in_.ConsumeBool() ? draw_addr() : pick_value(in_, scale_, ~u64{0});
        u64 size = draw_size();
        const range sp = model_.space();
        int expect = validate_reserve(start, size, sp.start, sp.last());
        if constexpr (is_bitmap)
            if (!expect && ((start - sp.start) & (unit_ - 1)))
                expect = -EINVAL;
        if constexpr (is_buddy)
            if (!expect && ((start | size) & (unit_ - 1)))
                expect = -EINVAL;
        u64 rounded = size;
        if (!expect) {
            [[maybe_unused]] bool ok = align_up(size, unit_, rounded); // fits: the space is whole units
            if (!model_.is_free(start, start + (rounded - 1)))
                expect = -ENOSPC;
        }
        auto id = ra_.reserve(start, size);
        const int rc = id ? 0 : id.error();
        MM_FUZZ_TRACE("reserve start=%#llx size=%#llx -> %d (expected %d)\n", (unsigned long long)start,
                      (unsigned long long)size, rc, expect);
        MM_FUZZ_CHECK(rc == expect, "reserve: result differs from the model");
        if (rc)
            return;
        const range got = ra_.get(*id);
        MM_FUZZ_CHECK(got.start == start && got.size == rounded, "reserve: the node is not the range asked for");
        model_.add(start, rounded);
        live_.push_back(*id);
    }

    void op_free_live() {
        if (live_.empty())
            return;
        const std::size_t i = in_.ConsumeIntegralInRange<std::size_t>(0, live_.size() - 1);
        const id_type id = live_[i];
        live_[i] = live_.back();
        live_.pop_back();
        const range r = ra_.get(id);
        MM_FUZZ_CHECK(r.size != 0, "a live id names no range");
        MM_FUZZ_TRACE("free start=%#llx size=%#llx\n", (unsigned long long)r.start, (unsigned long long)r.size);
        u64 clear_before = 0;
        if constexpr (is_buddy)
            clear_before = ra_.manager().clear_avail();
        MM_FUZZ_CHECK(ra_.free(id) == 0, "free of a live id failed");
        model_.remove(r.start);
        MM_FUZZ_CHECK(ra_.get(id).size == 0, "a freed id still names a range");
        if constexpr (is_buddy) // a node's memory comes back dirty, and merges with no clear buddy
            MM_FUZZ_CHECK(ra_.manager().clear_avail() == clear_before, "buddy: freeing a node changed clear_avail");
    }

    void op_free_bogus() {
        id_type id = in_.ConsumeIntegral<id_type>();
        if (in_.ConsumeBool())
            id %= static_cast<id_type>(live_.size() + 4);
        if (std::find(live_.begin(), live_.end(), id) != live_.end())
            return;
        MM_FUZZ_CHECK(ra_.free(id) == -EINVAL, "free of an id naming nothing did not answer -EINVAL");
        MM_FUZZ_CHECK(ra_.get(id).size == 0, "get() of an id naming nothing returned a range");
    }

    void op_extra() {
        if constexpr (is_best_fit) {
            if (in_.ConsumeBool())
                op_find();
            else
                op_scan();
        } else if constexpr (is_buddy) {
            switch (in_.ConsumeIntegralInRange<unsigned>(0, 4)) {
            case 0: case 1: op_alloc_blocks(); break;
            case 2: op_free_list(); break;
            case 3: op_block_trim(); break;
            case 4: op_reset_clear(); break;
            }
        } else {
            op_alloc();
        }
    }

    // ---- best_fit: find() and the eviction scan ------------------------------------------------

    void op_find() {
        const u64 addr = in_.ConsumeBool() ? draw_addr() + in_.ConsumeIntegralInRange<u64>(0, scale_)
                                           : in_.ConsumeIntegral<u64>();
        const auto* n = ra_.manager().find(addr);
        auto it = model_.live().upper_bound(addr);
        const bool inside = it != model_.live().begin() && std::prev(it)->first + (std::prev(it)->second - 1) >= addr;
        MM_FUZZ_CHECK((n != nullptr) == inside, "find(): hit or miss differs from the model");
        if (n)
            MM_FUZZ_CHECK(n->start() == std::prev(it)->first && n->size() == std::prev(it)->second,
                          "find(): returned a node other than the one holding the address");
    }

    void op_scan() {
        const alloc_request r = draw_request();
        u64 lo = 0, last = 0;
        const int valid = expected_validity(r, lo, last);
        best_fit::scan scan;
        const int e = scan.init(ra_.manager(), r);
        MM_FUZZ_CHECK(e == valid, "scan::init: errno differs from insert()'s rules");
        if (e)
            return;
        // Candidates in an input-chosen order, until the request fits.
        std::vector<id_type> order = live_;
        for (std::size_t i = 0; i + 1 < order.size(); ++i)
            std::swap(order[i], order[in_.ConsumeIntegralInRange<std::size_t>(i, order.size() - 1)]);
        std::vector<id_type> added;
        auto& nodes = node_of_ids();
        bool hit = false;
        for (id_type id : order) {
            added.push_back(id);
            if (scan.add_block(*nodes[id])) {
                hit = true;
                break;
            }
        }
        MM_FUZZ_CHECK(hit == scan.found(), "scan: add_block()'s answer and found() disagree");
        std::vector<id_type> evict;
        for (auto it = added.rbegin(); it != added.rend(); ++it)
            if (scan.remove_block(*nodes[*it]))
                evict.push_back(*it);
        MM_FUZZ_CHECK(hit || evict.empty(), "scan: blocks to evict without a hit");
        MM_FUZZ_CHECK(ra_.manager().check_indexes(), "best_fit indexes broken after a scan");
        check(); // a scan that finds nothing must leave everything as it was
        if (!hit)
            return;
        const range h = scan.hit();
        MM_FUZZ_CHECK(h.size == r.size && h.start >= lo && h.last() <= last && h.start % effective_alignment(r.alignment) == 0,
                      "scan: hit() is not a valid placement of the request");
        for (id_type id : evict) {
            const range g = ra_.get(id);
            MM_FUZZ_CHECK(g.start <= h.last() && h.start <= g.last(), "scan: evicting a node that does not overlap hit()");
            MM_FUZZ_CHECK(ra_.free(id) == 0, "scan: evicting failed");
            model_.remove(g.start);
            live_.erase(std::find(live_.begin(), live_.end(), id));
        }
        MM_FUZZ_CHECK(model_.is_free(h.start, h.last()), "scan: hit() still overlaps a live range after eviction");
        if (evict.empty())
            return; // insert_evict() is about the hole the last remove() grew
        best_fit::node& n = spare_node();
        const int ie = ra_.manager().insert_evict(n, r);
        MM_FUZZ_CHECK(ie == 0, "insert_evict() failed right after the scan's evictions");
        model_.add(n.start(), n.size());
        MM_FUZZ_CHECK(n.size() == r.size && n.start() >= lo && n.start() + (n.size() - 1) <= last,
                      "insert_evict(): invalid placement");
        ra_.manager().remove(n); // the node is ours, not the allocator's: give it back at once
        model_.remove(n.start());
    }

    /// The allocator's nodes by id, for the scan (range_allocator keeps them private): the
    /// manager's nodes() order is the model's, so find() maps each live id's start to its node.
    std::vector<best_fit::node*>& node_of_ids() {
        ids_nodes_.clear();
        for (id_type id : live_) {
            if (ids_nodes_.size() <= id)
                ids_nodes_.resize(id + 1u, nullptr);
            ids_nodes_[id] = const_cast<best_fit::node*>(ra_.manager().find(ra_.get(id).start));
            MM_FUZZ_CHECK(ids_nodes_[id] != nullptr, "find() misses a live node");
        }
        return ids_nodes_;
    }
    best_fit::node& spare_node() {
        if (!spare_)
            spare_ = std::make_unique<best_fit::node>();
        return *spare_;
    }

    // ---- buddy: the native drm_buddy API --------------------------------------------------------

    struct buddy_snapshot {
        std::vector<range> nodes, holes;
        u64 avail = 0, clear_avail = 0;
        std::vector<std::size_t> counts;
        bool operator==(const buddy_snapshot&) const = default;
    };
    buddy_snapshot snapshot() const {
        const buddy& b = ra_.manager();
        buddy_snapshot s;
        for (range r : b.nodes())
            s.nodes.push_back(r);
        for (range r : b.holes())
            s.holes.push_back(r);
        s.avail = b.avail();
        s.clear_avail = b.clear_avail();
        for (unsigned o = 0; o <= b.max_order(); ++o) {
            s.counts.push_back(b.free_count(o, true));
            s.counts.push_back(b.free_count(o, false));
        }
        return s;
    }

    void op_alloc_blocks() {
        buddy& b = ra_.manager();
        const range sp = model_.space();
        u64 start = sp.start, end = sp.start + sp.size; // end may be 0: a space ending at 2^64
        if (in_.ConsumeBool()) {
            start = in_.ConsumeBool() ? draw_addr() : pick_value(in_, unit_, ~u64{0});
            end = in_.ConsumeBool() ? draw_addr() : start + draw_size();
        }
        const u64 size = draw_size();
        const u64 min_block = in_.ConsumeBool() ? unit_ << in_.ConsumeIntegralInRange<unsigned>(0, 12)
                                                : pick_alignment(in_, unit_);
        const unsigned fl = in_.ConsumeIntegral<unsigned char>() & 0x2f; // not `cleared` (free_list's)
        const buddy_snapshot before = snapshot();
        auto list = std::make_unique<buddy::block_list>();
        const int e = b.alloc_blocks(start, end, size, min_block, *list, fl);
        MM_FUZZ_TRACE("alloc_blocks start=%#llx end=%#llx size=%#llx min=%#llx fl=%#x -> %d\n",
                      (unsigned long long)start, (unsigned long long)end, (unsigned long long)size,
                      (unsigned long long)min_block, fl, e);
        MM_FUZZ_CHECK(e == 0 || e == -EINVAL || e == -ENOSPC, "alloc_blocks: unexpected errno");
        if (e) {
            MM_FUZZ_CHECK(list->empty(), "alloc_blocks failed but filled the list");
            MM_FUZZ_CHECK(snapshot() == before, "a failed alloc_blocks changed the allocator");
            return;
        }
        u64 total = 0, prev_end = 0;
        bool first = true, adjacent = true;
        for (const buddy::block& blk : *list) {
            MM_FUZZ_CHECK(blk.is_allocated(), "alloc_blocks returned a block that is not allocated");
            MM_FUZZ_CHECK(blk.offset() % blk.size() == 0, "a block is not aligned to its size");
            if (fl & buddy_flags::range_allocation || end - start == size) {
                // drm's quirk, with offsets relative to the space: an end at the space start
                // (relative 0) means no upper bound.
                const u64 re = end - sp.start;
                MM_FUZZ_CHECK(blk.offset() >= start && (re == 0 || blk.last() <= sp.start + (re - 1)),
                              "alloc_blocks: a block lies outside [start, end)");
            }
            adjacent = adjacent && (first || blk.offset() == prev_end);
            prev_end = blk.offset() + blk.size();
            first = false;
            total += blk.size();
            model_.add(blk.offset(), blk.size());
        }
        if (fl & buddy_flags::contiguous_allocation)
            MM_FUZZ_CHECK(adjacent, "a contiguous allocation is not contiguous");
        const bool try_harder = (fl & buddy_flags::contiguous_allocation) && !(fl & buddy_flags::range_allocation);
        if (try_harder) // drm's __alloc_contig_try_harder rounds its left part up to min_block, untrimmed
            MM_FUZZ_CHECK((total >= size && total - size < std::max(min_block, unit_)) ||
                              ((fl & buddy_flags::trim_disable) && total == std::bit_ceil(size)),
                          "alloc_blocks (contiguous): the blocks do not add up to the size");
        else if (!(fl & buddy_flags::trim_disable))
            MM_FUZZ_CHECK(total == size, "alloc_blocks: the blocks do not add up to the size");
        else
            MM_FUZZ_CHECK(total >= size, "alloc_blocks: the blocks are smaller than the size");
        lists_.push_back(std::move(list));
    }

    void release_list(std::size_t i, unsigned fl) {
        for (const buddy::block& blk : *lists_[i])
            model_.remove(blk.offset());
        ra_.manager().free_list(*lists_[i], fl);
        MM_FUZZ_CHECK(lists_[i]->empty(), "free_list left blocks in the list");
        lists_.erase(lists_.begin() + static_cast<std::ptrdiff_t>(i));
    }

    void op_free_list() {
        if (lists_.empty())
            return;
        const u64 avail = ra_.manager().avail();
        u64 bytes = 0;
        const std::size_t i = in_.ConsumeIntegralInRange<std::size_t>(0, lists_.size() - 1);
        for (const buddy::block& blk : *lists_[i])
            bytes += blk.size();
        const u64 clear_avail = ra_.manager().clear_avail();
        const bool cleared = in_.ConsumeBool();
        release_list(i, cleared ? buddy_flags::cleared : 0);
        MM_FUZZ_CHECK(ra_.manager().avail() == avail + bytes, "free_list: avail did not grow by the freed bytes");
        // Buddies of different clear states do not merge on free (drm), so the clear bytes grow
        // by exactly the freed bytes when they are marked cleared, and not at all otherwise.
        MM_FUZZ_CHECK(ra_.manager().clear_avail() == clear_avail + (cleared ? bytes : 0),
                      "free_list: clear_avail did not follow the freed blocks' state");
    }

    void op_block_trim() {
        if (lists_.empty())
            return;
        const std::size_t i = in_.ConsumeIntegralInRange<std::size_t>(0, lists_.size() - 1);
        buddy::block_list& l = *lists_[i];
        const bool one = !l.empty() && std::next(l.begin()) == l.end();
        const u64 bs = one ? l.front().offset() : 0, bsize = one ? l.front().size() : 0;
        const u64 new_size = in_.ConsumeBool() ? unit_ * in_.ConsumeIntegralInRange<u64>(0, 64) : pick_value(in_, unit_, bsize);
        u64 ns = bs + unit_ * in_.ConsumeIntegralInRange<u64>(0, 16);
        const bool with_start = in_.ConsumeBool();
        // drm_buddy_block_trim's rules.
        int expect = 0;
        if (!one || new_size > bsize || new_size == 0 || (new_size & (unit_ - 1)))
            expect = -EINVAL;
        else if (new_size != bsize && with_start && (ns - bs >= bsize || new_size > bsize - (ns - bs)))
            expect = -EINVAL;
        const buddy_snapshot before = snapshot();
        std::vector<range> old;
        for (const buddy::block& blk : l)
            old.push_back({blk.offset(), blk.size()});
        const int e = ra_.manager().block_trim(with_start ? &ns : nullptr, new_size, l);
        MM_FUZZ_CHECK(e == expect, "block_trim: errno differs from drm_buddy's rules");
        if (e) {
            MM_FUZZ_CHECK(snapshot() == before, "a failed block_trim changed the allocator");
            return;
        }
        for (range r : old)
            model_.remove(r.start);
        const u64 keep_start = (with_start && new_size != bsize) ? ns : bs;
        u64 total = 0;
        for (const buddy::block& blk : l) {
            MM_FUZZ_CHECK(blk.offset() >= keep_start && blk.last() <= keep_start + (new_size - 1),
                          "block_trim: a kept block lies outside the kept range");
            total += blk.size();
            model_.add(blk.offset(), blk.size());
        }
        MM_FUZZ_CHECK(total == new_size, "block_trim: the kept blocks do not add up to the new size");
    }

    void op_reset_clear() {
        const bool clear = in_.ConsumeBool();
        ra_.manager().reset_clear(clear);
        const buddy& b = ra_.manager();
        MM_FUZZ_CHECK(b.clear_avail() == (clear ? b.avail() : 0), "reset_clear: clear_avail is not all or nothing");
    }

    // ---- checks ------------------------------------------------------------------------------

    void check() {
        check_against(ra_.manager(), model_);
        for (id_type id : live_) {
            const range r = ra_.get(id);
            auto it = model_.live().find(r.start);
            MM_FUZZ_CHECK(r.size != 0 && it != model_.live().end() && it->second == r.size,
                          "a live id names a range the model does not hold");
        }
        if constexpr (is_best_fit)
            MM_FUZZ_CHECK(ra_.manager().check_indexes(), "best_fit: check_indexes() failed");
        if constexpr (is_buddy) {
            const buddy& b = ra_.manager();
            MM_FUZZ_CHECK(b.clear_avail() <= b.avail(), "buddy: clear_avail exceeds avail");
        }
    }

    void free_everything() {
        while (!live_.empty()) {
            const id_type id = live_.back();
            live_.pop_back();
            const range r = ra_.get(id);
            MM_FUZZ_CHECK(ra_.free(id) == 0, "free of a live id failed");
            model_.remove(r.start);
        }
        if constexpr (is_buddy)
            while (!lists_.empty())
                release_list(lists_.size() - 1, 0);
        MM_FUZZ_CHECK(model_.empty(), "model not empty after freeing everything");
        check_against(ra_.manager(), model_);
        const range_stats s = ra_.stats();
        MM_FUZZ_CHECK(s.free_bytes == model_.space().size && s.hole_count == 1 &&
                          s.largest_hole == model_.space().size,
                      "the space is not one whole hole after freeing everything");
    }

    FuzzedDataProvider& in_;
    range_allocator<M> ra_;
    range_model model_;
    std::vector<id_type> live_;
    u64 unit_ = 1, scale_ = 1;
    std::vector<std::unique_ptr<buddy::block_list>> lists_; // buddy: native allocations
    std::vector<best_fit::node*> ids_nodes_;
    std::unique_ptr<best_fit::node> spare_;
};

template <class M>
int run_range_fuzz(const std::uint8_t* data, std::size_t size) {
    FuzzedDataProvider in(data, size);
    range_fuzzer<M>(in).run();
    return 0;
}

} // namespace accel::mm::fuzz

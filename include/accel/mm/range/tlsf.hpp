// SPDX-License-Identifier: MIT
#pragma once
/// \file `tlsf`: an O(1) two-level segregated-fit offset allocator.
///
/// The family of sebbbi's OffsetAllocator and VMA's TLSF virtual blocks: free space is filed in
/// size classes ("bins": 16 linear sub-bins per power of two, exact below 16 bytes), two bitmap
/// levels say which bins are non-empty, and a `countr_zero` finds the first non-empty bin at or
/// above any size in constant time. Freeing coalesces with both physical neighbours at once, so
/// every hole is maximal and `holes()` needs no merging.
///
/// Layout, chosen to keep metadata small (a 32-byte record per allocation at the pool's high-water
/// mark plus an 8-byte node; nothing per hole):
/// - every allocation has one 32-byte record in a pool this policy owns (chunks that never move,
///   linked by 32-bit indices); the caller's `node` is just a pointer to that record;
/// - records form the physical list in address order, headed by a sentinel record of size 0 at
///   the space start; a hole is implicit: the gap between a record and the next one (drm_mm's
///   "node owns the hole that follows it"), so holes need no storage of their own;
/// - a record whose following hole is non-empty sits in that hole's bin list.
///
/// Why 40 bytes per allocation is the floor of this design with 64-bit offsets: a record must
/// hold two 64-bit positions (start and size; any pair of start, end, following hole will do,
/// but one alone cannot give its neighbours their holes), the physical links (a free needs both
/// neighbours: the predecessor owns the hole before, the successor's start bounds the hole
/// after) and the bin links (unfiling an arbitrary hole in O(1) needs both). 16 + 4 x 4 = 32
/// bytes with 32-bit links. The caller's node must answer start() and size() alone, so it is
/// either a pointer to the record (8 bytes, as here) or a copy of the two positions (16). Moving
/// the record into the node instead makes the links point at caller memory: 8-byte pointers
/// (48 bytes) or 32-bit indices into a table of node pointers (32 + 8). Hence 40 bytes plus the
/// pool's unused records: the pool keeps its high-water mark, since records cannot move (nodes
/// point at them) and freed ones stay scattered among live ones. 4 KiB chunks keep the unused
/// top small.
///
/// Placement for unbounded `best` requests (the hot path):
///   1. the first two holes of the request's own bin (they may fit: the bin spans sizes around
///      the request), which keeps the choice close to best fit;
///   2. the heads of the non-empty bins between that and the "good fit" bin: with alignment the
///      guaranteed bin is far up, and a smaller hole whose start happens to be aligned fits;
///   3. "good fit": the head of the first non-empty bin whose every hole fits even with the
///      worst-case alignment padding, found with two `countr_zero`s;
///   4. if no such bin exists, every hole in the bins below it, so a request fails only when no
///      hole can take it, as with best fit (this last step is linear but rare: the space is full).
/// Alignment padding stays with the hole's owner (the hole just shrinks), the remainder becomes
/// the new record's hole. Bounded requests and `low`/`high` walk the physical list (linear;
/// drm_mm semantics: lowest / highest fitting hole, `high` allocates at the top), as does
/// `reserve`.
///
/// Alignments must be powers of two. Not thread-safe, not copyable. insert/reserve return
/// -ENOMEM (instead of throwing) if the record pool cannot grow.
#include <accel/mm/range.hpp>
#include <accel/mm/range_manager.hpp>

#include <bit>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <new>
#include <ranges>

// The small helpers of the hot paths are forced inline: in a translation unit holding many
// policies (a benchmark, a driver), GCC otherwise keeps unfile() and friends out of line.
#if defined(__GNUC__) || defined(__clang__)
#define ACCEL_MM_TLSF_HOT [[gnu::always_inline]] inline
#else
#define ACCEL_MM_TLSF_HOT inline
#endif

namespace accel::mm {

class tlsf {
    using u32 = std::uint32_t;
    static constexpr u32 nil = ~u32{0};

    /// One allocation (or the head sentinel) and the hole after it.
    struct record {
        u64 start;
        u64 size;
        u32 prev;    ///< physical predecessor (the head sentinel has none)
        u32 next;    ///< physical successor, nil for the last record; free-record list link
        u32 fl_prev; ///< bin list links, valid while the hole after this record is non-empty
        u32 fl_next;
    };
    static_assert(sizeof(record) == 32);

public:
    static constexpr bool any_alignment = false;

    /// Caller-owned handle of one allocation: a pointer to its record. Records never move and
    /// never point back at the node, so a node may be copied or moved while allocated (the copy
    /// then names the same allocation; remove it once).
    class node {
    public:
        u64 start() const noexcept { return rec_ ? rec_->start : 0; }
        u64 size() const noexcept { return rec_ ? rec_->size : 0; }
        bool allocated() const noexcept { return rec_ != nullptr; }

    private:
        friend class tlsf;
        record* rec_ = nullptr;
    };

    tlsf() noexcept { release(); }
    tlsf(const tlsf&) = delete;
    tlsf& operator=(const tlsf&) = delete;
    ~tlsf() { release(); }

    int init(u64 start, u64 size) {
        if (int e = validate_space(start, size))
            return e;
        release();
        space_start_ = start;
        space_end_ = start + size; // may wrap to 0 when the space ends at 2^64: hole sizes are
                                   // differences mod 2^64, which stay exact (< 2^64)
        if (!grow())
            return -ENOMEM;
        used_ = 1;
        record& h = at(head);
        h = {start, 0, nil, nil, nil, nil};
        tail_ = head;
        file(head, h, size);
        return 0;
    }

    int insert(node& n, const alloc_request& req) {
        // The hot case first: unbounded best fit with a valid size and alignment. It is what
        // validate_request() would accept, checked with fewer branches.
        if (req.mode == placement::best && req.lo <= space_start_ && req.last >= space_last() && req.size != 0 &&
            (req.alignment & (req.alignment - 1)) == 0) {
            if (req.size > free_)
                return -ENOSPC;
            const u64 align = req.alignment | (req.alignment == 0);
            hole h;
            if (!find_good_fit(req.size, align, h))
                return -ENOSPC;
            return take(n, h, h.start + ((u64{0} - h.start) & (align - 1)), req.size);
        }
        return insert_bounded(n, req);
    }

    int reserve(node& n, u64 start, u64 size) {
        if (int e = validate_reserve(start, size, space_start_, space_last()))
            return e;
        const u64 last = start + (size - 1);
        // The hole containing `start` follows the last record starting at or below it.
        for (u32 i = head; i != nil; i = at(i).next) {
            const u64 hsize = hole_size(i);
            const u64 hs = hole_start(i);
            if (hsize != 0 && hs <= start && start - hs <= hsize - 1)
                return last - hs <= hsize - 1 ? take(n, hole{i, hs, hsize}, start, size) : -ENOSPC;
            const u32 nx = at(i).next;
            if (nx != nil && at(nx).start > start)
                break;
        }
        return -ENOSPC;
    }

    void remove(node& n) {
        record& r = *n.rec_;
        const u32 p = r.prev, q = r.next;
        record& pr = at(p);
        const u32 self = pr.next;
        const u64 end = r.start + r.size;
        const u64 before = r.start - (pr.start + pr.size);
        u64 after;
        if (q != nil) {
            record& qr = at(q);
            after = qr.start - end;
            qr.prev = p;
        } else {
            after = space_end_ - end;
            tail_ = p;
        }
        if (before != 0)
            unfile(pr, before);
        if (after != 0)
            unfile(r, after);
        pr.next = q;
        file(p, pr, before + r.size + after);
        r.next = free_rec_;
        free_rec_ = self;
        --live_;
        n.rec_ = nullptr;
    }

    /// Forward iterator over the allocations or the holes, in address order.
    class listing_iterator {
    public:
        using value_type = range;
        using difference_type = std::ptrdiff_t;
        using iterator_concept = std::forward_iterator_tag;

        listing_iterator() = default;
        range operator*() const {
            if (holes_)
                return {m_->hole_start(i_), m_->hole_size(i_)};
            const record& r = m_->at(i_);
            return {r.start, r.size};
        }
        listing_iterator& operator++() {
            i_ = m_->at(i_).next;
            skip();
            return *this;
        }
        listing_iterator operator++(int) {
            listing_iterator t = *this;
            ++*this;
            return t;
        }
        friend bool operator==(const listing_iterator& a, const listing_iterator& b) { return a.i_ == b.i_; }

    private:
        friend class tlsf;
        listing_iterator(const tlsf* m, u32 i, bool holes) : m_(m), i_(i), holes_(holes) { skip(); }
        void skip() {
            while (holes_ && i_ != nil && m_->hole_size(i_) == 0)
                i_ = m_->at(i_).next;
        }
        const tlsf* m_ = nullptr;
        u32 i_ = nil;
        bool holes_ = false;
    };

    // (auto: the iterator is complete only in function bodies)
    auto nodes() const {
        const u32 first = chunks_ ? at(head).next : nil;
        return std::ranges::subrange(listing_iterator(this, first, false), listing_iterator(this, nil, false));
    }
    auto holes() const {
        return std::ranges::subrange(listing_iterator(this, chunks_ ? head : nil, true),
                                     listing_iterator(this, nil, true));
    }

    range_stats stats() const {
        range_stats s;
        s.free_bytes = free_;
        s.hole_count = holes_;
        if (fl_map_ != 0) {
            // Only the top non-empty bin can hold the largest hole; its list is short.
            const unsigned row = 63u - static_cast<unsigned>(std::countl_zero(fl_map_));
            const unsigned b = row * subs + 31u - static_cast<unsigned>(std::countl_zero(sl_map_[row]));
            for (u32 i = heads_[b]; i != nil; i = at(i).fl_next) {
                const u64 h = hole_size(i);
                s.largest_hole = h > s.largest_hole ? h : s.largest_hole;
            }
        }
        s.fragmentation = fragmentation_of(s.free_bytes, s.largest_hole);
        s.metadata_bytes = sizeof(*this) + u64{chunk_count_} * chunk_records * sizeof(record) +
                           u64{chunk_cap_} * sizeof(record*) + live_ * sizeof(node);
        return s;
    }

    // ---- introspection, for tests and tools ----------------------------------------------------

    /// Number of size classes (bins).
    static constexpr unsigned size_classes = 61 * 16;
    /// The bin a hole of `s` bytes (s > 0) is filed in: 16 linear classes per power of two.
    static constexpr unsigned size_class(u64 s) noexcept { return bin_of(s); }
    /// Whether the two bitmap levels mark bin b as non-empty.
    bool size_class_marked(unsigned b) const noexcept {
        return ((fl_map_ >> (b >> sub_log2)) & 1) && ((sl_map_[b >> sub_log2] >> (b & (subs - 1))) & 1);
    }
    /// Calls f(bin, hole) for every hole filed in the bins, walking each bin's list.
    template <class F>
    void visit_size_classes(F&& f) const {
        for (unsigned b = 0; b < bin_count; ++b)
            for (u32 i = heads_[b]; i != nil; i = at(i).fl_next)
                f(b, range{hole_start(i), hole_size(i)});
    }

private:
    // ---- bins -------------------------------------------------------------------------------
    static constexpr unsigned sub_log2 = 4;
    static constexpr unsigned subs = 1u << sub_log2;    // sub-bins per power of two
    static constexpr unsigned rows = 64 - sub_log2 + 1; // row 0: sizes 0..15 exactly
    static constexpr unsigned bin_count = rows * subs;
    static constexpr unsigned no_bin = bin_count;
    static_assert(bin_count == size_classes);

    /// The bin holding holes of `s` bytes (s > 0): the top 5 significant bits pick it. With
    /// e = bit_width(s) - 5 (0 for s < 32), s >> e is 16 + the 4 bits below the top one, so
    /// e * 16 + (s >> e) is row (e + 1), sub-bin "those 4 bits"; below 32 it is s itself.
    ACCEL_MM_TLSF_HOT static constexpr unsigned bin_of(u64 s) noexcept {
        const unsigned w = static_cast<unsigned>(std::bit_width(s));
        const unsigned e = w > sub_log2 + 1 ? w - (sub_log2 + 1) : 0;
        return e * subs + static_cast<unsigned>(s >> e);
    }
    /// Smallest size filed in bin `b`.
    static constexpr u64 bin_floor(unsigned b) noexcept {
        if (b < subs)
            return b;
        return (u64{subs} + (b & (subs - 1))) << ((b >> sub_log2) - 1);
    }
    /// First bin whose every hole is at least `s` bytes, or no_bin.
    static constexpr unsigned bin_at_least(u64 s) noexcept {
        const unsigned b = bin_of(s);
        return bin_floor(b) == s ? b : b + 1;
    }
    /// First non-empty bin at or above `b`, or no_bin.
    unsigned next_bin(unsigned b) const noexcept {
        if (b >= bin_count)
            return no_bin;
        unsigned row = b >> sub_log2;
        const u32 m = sl_map_[row] & (~u32{0} << (b & (subs - 1)));
        if (m != 0)
            return row * subs + static_cast<unsigned>(std::countr_zero(m));
        const u64 r = row + 1 < 64 ? fl_map_ & (~u64{0} << (row + 1)) : 0;
        if (r == 0)
            return no_bin;
        row = static_cast<unsigned>(std::countr_zero(r));
        return row * subs + static_cast<unsigned>(std::countr_zero(sl_map_[row]));
    }

    /// Files the hole of `hsize` bytes (maybe 0: nothing to file) after record i (= r).
    ACCEL_MM_TLSF_HOT void file(u32 i, record& r, u64 hsize) noexcept {
        if (hsize == 0)
            return;
        const unsigned b = bin_of(hsize);
        const u32 h = heads_[b];
        r.fl_prev = nil;
        r.fl_next = h;
        if (h != nil)
            at(h).fl_prev = i;
        heads_[b] = i;
        sl_map_[b >> sub_log2] |= u32{1} << (b & (subs - 1));
        fl_map_ |= u64{1} << (b >> sub_log2);
        free_ += hsize;
        ++holes_;
    }
    /// Takes the hole of `hsize` (> 0) bytes after record r out of its bin. Only a bin's head
    /// needs to know its bin (to update the bin's head and maybe the bitmaps).
    ACCEL_MM_TLSF_HOT void unfile(const record& r, u64 hsize) noexcept {
        if (r.fl_next != nil)
            at(r.fl_next).fl_prev = r.fl_prev;
        if (r.fl_prev != nil) {
            at(r.fl_prev).fl_next = r.fl_next;
        } else {
            const unsigned b = bin_of(hsize);
            heads_[b] = r.fl_next;
            if (r.fl_next == nil) {
                sl_map_[b >> sub_log2] &= ~(u32{1} << (b & (subs - 1)));
                if (sl_map_[b >> sub_log2] == 0)
                    fl_map_ &= ~(u64{1} << (b >> sub_log2));
            }
        }
        free_ -= hsize;
        --holes_;
    }

    // ---- holes ------------------------------------------------------------------------------
    u64 space_last() const noexcept { return space_end_ - 1; }
    u64 hole_start(u32 i) const noexcept { return at(i).start + at(i).size; }
    u64 hole_size(u32 i) const noexcept {
        const record& r = at(i);
        const u64 end = r.next == nil ? space_end_ : at(r.next).start;
        return end - (r.start + r.size);
    }
    /// A hole: the record owning it (the hole follows that record), its start and size.
    struct hole {
        u32 owner = nil;
        u64 start = 0;
        u64 size = 0;
    };
    /// The hole after record i; its size may be 0.
    ACCEL_MM_TLSF_HOT hole hole_after(u32 i) const noexcept {
        const record& r = at(i);
        const u64 hs = r.start + r.size;
        return {i, hs, (r.next == nil ? space_end_ : at(r.next).start) - hs};
    }
    /// Whether `size` bytes aligned to `align` fit at the bottom of hole h.
    ACCEL_MM_TLSF_HOT static bool fits(const hole& h, u64 size, u64 align) noexcept {
        const u64 pad = (u64{0} - h.start) & (align - 1);
        return h.size >= size && h.size - size >= pad;
    }

    /// The O(1) path for unbounded best-placement requests: false when no hole fits.
    bool find_good_fit(u64 size, u64 align, hole& h) const noexcept {
        const unsigned b0 = bin_of(size);
        // 1. The request's own bin: its holes straddle `size`, and the first few usually fit.
        u32 i = heads_[b0];
        for (unsigned k = 0; i != nil && k < own_bin_probes; ++k) {
            h = hole_after(i);
            if (fits(h, size, align))
                return true;
            i = at(i).fl_next;
        }
        // 3's bin: every hole there fits even when its start needs align - 1 bytes of padding.
        const u64 worst = size + (align - 1) < size ? ~u64{0} : size + (align - 1);
        const unsigned guaranteed = bin_at_least(worst);
        // 2. Smaller bins below the guaranteed one: their heads fit when their start is aligned.
        unsigned b = next_bin(b0 + 1);
        for (unsigned k = 0; b < guaranteed && k < between_probes; ++k, b = next_bin(b + 1)) {
            h = hole_after(heads_[b]);
            if (fits(h, size, align))
                return true;
        }
        // 3. Good fit.
        if (b < guaranteed)
            b = next_bin(guaranteed);
        if (b != no_bin) {
            h = hole_after(heads_[b]);
            return true;
        }
        // 4. Nothing is guaranteed to fit: try every hole that might, smallest bins first.
        for (b = next_bin(b0); b < guaranteed; b = next_bin(b + 1))
            for (i = heads_[b]; i != nil; i = at(i).fl_next) {
                h = hole_after(i);
                if (fits(h, size, align))
                    return true;
            }
        return false;
    }

    /// insert() for everything but the hot case: validation, bounds and low/high placement.
    /// Out of line, so that the hot path's frame stays small.
#if defined(__GNUC__) || defined(__clang__)
    [[gnu::noinline]]
#endif
    int insert_bounded(node& n, const alloc_request& req) {
        u64 lo, last;
        if (int e = validate_request(req, space_start_, space_last(), any_alignment, lo, last))
            return e;
        const u64 align = effective_alignment(req.alignment);
        if (req.size > free_)
            return -ENOSPC;
        hole h;
        u64 where = 0;
        if (!find_in_list(req.size, align, lo, last, req.mode, h, where))
            return -ENOSPC;
        return take(n, h, where, req.size);
    }

    /// Linear search over the physical list, for bounded requests and low/high placement, with
    /// naive's rules: best = smallest fitting hole (ties: lowest address), low = lowest, high =
    /// highest (allocated at its top).
    bool find_in_list(u64 size, u64 align, u64 lo, u64 last, placement mode, hole& found, u64& start) const {
        u32 owner = nil;
        auto try_hole = [&](u32 i, bool top, u64& s) {
            const u64 hsize = hole_size(i);
            if (hsize < size)
                return false;
            const u64 hs = hole_start(i);
            const u64 hl = hs + (hsize - 1);
            const u64 cl = hs < lo ? lo : hs;
            const u64 ch = hl > last ? last : hl;
            return cl <= ch && place_in(cl, ch, size, align, top, s);
        };
        if (mode == placement::high) {
            for (u32 i = tail_; i != nil; i = at(i).prev) {
                if (hole_size(i) != 0 && hole_start(i) + (hole_size(i) - 1) < lo)
                    break;
                if (try_hole(i, true, start)) {
                    found = hole_after(i);
                    return true;
                }
            }
            return false;
        }
        u64 best_size = 0;
        for (u32 i = head; i != nil; i = at(i).next) {
            const u64 hsize = hole_size(i);
            if (hsize == 0)
                continue;
            if (hole_start(i) > last)
                break;
            u64 s;
            if ((mode == placement::low || owner == nil || hsize < best_size) && try_hole(i, false, s)) {
                owner = i;
                start = s;
                best_size = hsize;
                if (mode == placement::low)
                    break;
            }
        }
        if (owner == nil)
            return false;
        found = hole_after(owner);
        return true;
    }

    /// Allocates [where, where + size) inside hole h.
    int take(node& n, const hole& h, u64 where, u64 size) {
        const u32 idx = new_record();
        if (idx == nil)
            return -ENOMEM;
        record& o = at(h.owner);
        record& r = at(idx);
        const u32 q = o.next;
        unfile(o, h.size);
        r = {where, size, h.owner, q, nil, nil};
        if (q != nil)
            at(q).prev = idx;
        else
            tail_ = idx;
        o.next = idx;
        file(h.owner, o, where - h.start);               // alignment padding stays with the owner
        file(idx, r, h.size - (where - h.start) - size); // the rest follows the new record
        ++live_;
        n.rec_ = &r;
        return 0;
    }

    // ---- record pool ------------------------------------------------------------------------
    static constexpr u32 head = 0;
    static constexpr unsigned chunk_log2 = 7; // 4 KiB chunks: little unused capacity on top
    static constexpr u32 chunk_records = u32{1} << chunk_log2;
    // Probe counts of steps 1 and 2 (measured on the shared traces: fewer probes fragment more,
    // more probes cost time without serving more requests).
    static constexpr unsigned own_bin_probes = 2;
    static constexpr unsigned between_probes = 8;

    ACCEL_MM_TLSF_HOT record& at(u32 i) const noexcept { return chunks_[i >> chunk_log2][i & (chunk_records - 1)]; }

    u32 new_record() noexcept {
        if (free_rec_ != nil) {
            const u32 i = free_rec_;
            free_rec_ = at(i).next;
            return i;
        }
        if (used_ == u64{chunk_count_} * chunk_records && !grow())
            return nil;
        return used_++;
    }
    /// Adds one chunk of records; false when out of memory or out of 32-bit indices.
    bool grow() noexcept {
        if (u64{chunk_count_ + 1} * chunk_records >= nil)
            return false;
        if (chunk_count_ == chunk_cap_) {
            const u32 cap = chunk_cap_ ? 2 * chunk_cap_ : 16;
            record** t = new (std::nothrow) record*[cap];
            if (!t)
                return false;
            for (u32 c = 0; c < chunk_count_; ++c)
                t[c] = chunks_[c];
            delete[] chunks_;
            chunks_ = t;
            chunk_cap_ = cap;
        }
        record* c = new (std::nothrow) record[chunk_records];
        if (!c)
            return false;
        chunks_[chunk_count_++] = c;
        return true;
    }
    void release() noexcept {
        for (u32 c = 0; c < chunk_count_; ++c)
            delete[] chunks_[c];
        delete[] chunks_;
        chunks_ = nullptr;
        chunk_count_ = chunk_cap_ = 0;
        used_ = 0;
        free_rec_ = nil;
        tail_ = nil;
        live_ = free_ = holes_ = 0;
        fl_map_ = 0;
        for (auto& m : sl_map_)
            m = 0;
        for (auto& h : heads_)
            h = nil;
    }

    record** chunks_ = nullptr;
    u32 chunk_count_ = 0;
    u32 chunk_cap_ = 0;
    u32 used_ = 0;       ///< records ever handed out (the rest of the last chunk is fresh)
    u32 free_rec_ = nil; ///< recycled records, linked through `next`
    u32 tail_ = nil;
    u64 space_start_ = 0;
    u64 space_end_ = 0;
    u64 free_ = 0;
    u64 holes_ = 0;
    u64 live_ = 0;
    u64 fl_map_ = 0;         ///< bit r: row r has a non-empty bin
    u32 sl_map_[rows] = {};  ///< bit s of row r: bin r * 16 + s is non-empty
    u32 heads_[bin_count] = {};
};

static_assert(range_manager<tlsf>);

} // namespace accel::mm

#undef ACCEL_MM_TLSF_HOT

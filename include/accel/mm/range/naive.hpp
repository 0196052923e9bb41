// SPDX-License-Identifier: MIT
#pragma once
/// \file `naive`: best fit over std::map/std::set with coalescing.
///
/// The reference model: every other policy is checked against it operation by operation
/// (tests/mm/differential.hpp), and it is the baseline of bench/mm_policies. It favours being
/// obviously right over being fast, while staying a fair baseline: one std::map tiles the space
/// with pieces (allocated or free) by address (coalescing, low/high placement, listings), and a
/// std::set indexes the free pieces by (size, address) for best fit (ties to the lowest address).
#include <accel/mm/range.hpp>
#include <accel/mm/range_manager.hpp>

#include <range/v3/view/facade.hpp>

#include <iterator>
#include <map>
#include <set>
#include <utility>

namespace accel::mm {

class naive {
    struct piece {
        u64 size;
        bool allocated;
    };
    /// The whole space as consecutive pieces, allocated or free, by start address.
    using piece_map = std::map<u64, piece>;
    using map_iter = piece_map::const_iterator;

public:
    static constexpr bool any_alignment = true;

    class node {
    public:
        u64 start() const noexcept { return start_; }
        u64 size() const noexcept { return size_; }
        bool allocated() const noexcept { return allocated_; }

    private:
        friend class naive;
        u64 start_ = 0;
        u64 size_ = 0;
        bool allocated_ = false;
    };

    int init(u64 start, u64 size) {
        if (int e = validate_space(start, size))
            return e;
        space_ = {start, size};
        pieces_.clear();
        holes_by_size_.clear();
        free_ = 0;
        allocated_count_ = 0;
        add_hole(pieces_.end(), start, size);
        return 0;
    }

    int insert(node& n, const alloc_request& req) {
        u64 lo, last;
        if (int e = validate_request(req, space_.start, space_.last(), any_alignment, lo, last))
            return e;
        const u64 align = effective_alignment(req.alignment);
        u64 at = 0;
        auto fits = [&](u64 hs, u64 hsize, bool top) {
            u64 hl = hs + (hsize - 1);
            u64 cl = hs < lo ? lo : hs;
            u64 ch = hl > last ? last : hl;
            return cl <= ch && place_in(cl, ch, req.size, align, top, at);
        };
        piece_map::iterator hole = pieces_.end();
        switch (req.mode) {
        case placement::best:
            for (auto it = holes_by_size_.lower_bound({req.size, 0}); it != holes_by_size_.end(); ++it)
                if (fits(it->second, it->first, false)) {
                    hole = pieces_.find(it->second);
                    break;
                }
            break;
        case placement::low:
            for (auto it = piece_at(lo); it != pieces_.end() && it->first <= last; ++it)
                if (!it->second.allocated && it->second.size >= req.size && fits(it->first, it->second.size, false)) {
                    hole = it;
                    break;
                }
            break;
        case placement::high:
            for (auto it = std::next(piece_at(last)); it != pieces_.begin();) {
                --it;
                if (it->first + (it->second.size - 1) < lo)
                    break;
                if (!it->second.allocated && it->second.size >= req.size && fits(it->first, it->second.size, true)) {
                    hole = it;
                    break;
                }
            }
            break;
        }
        if (hole == pieces_.end())
            return -ENOSPC;
        take(n, hole, at, req.size);
        return 0;
    }

    int reserve(node& n, u64 start, u64 size) {
        if (int e = validate_reserve(start, size, space_.start, space_.last()))
            return e;
        auto it = piece_at(start);
        if (it->second.allocated || it->first + (it->second.size - 1) < start + (size - 1))
            return -ENOSPC; // not wholly inside one hole
        take(n, it, start, size);
        return 0;
    }

    void remove(node& n) {
        auto it = pieces_.find(n.start_);
        n.allocated_ = false;
        --allocated_count_;
        u64 start = it->first, size = it->second.size;
        // Coalesce with the free pieces right before and right after.
        if (it != pieces_.begin()) {
            auto prev = std::prev(it);
            if (!prev->second.allocated) {
                start = prev->first;
                size += prev->second.size;
                drop_hole(prev);
            }
        }
        auto next = std::next(it);
        if (next != pieces_.end() && !next->second.allocated) {
            size += next->second.size;
            drop_hole(next);
        }
        next = pieces_.erase(it);
        add_hole(next, start, size);
    }

    /// The allocated pieces (Allocated = true) or the holes, in address order: the piece map
    /// filtered. A range-v3 view_facade rather than std::views::filter, whose begin() caches
    /// and so is not callable through a const reference (range-v3's filter has the same
    /// limit); the cursor skips to the next matching piece itself.
    template <bool Allocated>
    class listing : public ranges::view_facade<listing<Allocated>> {
    public:
        listing() = default;
        explicit listing(const piece_map& m) : map_(&m) {}

    private:
        friend ranges::range_access;
        struct cursor {
            map_iter it{}, end{};
            range read() const { return {it->first, it->second.size}; }
            void next() {
                ++it;
                skip();
            }
            bool equal(const cursor& o) const { return it == o.it; }
            bool equal(ranges::default_sentinel_t) const { return it == end; }
            void skip() {
                while (it != end && it->second.allocated != Allocated)
                    ++it;
            }
        };
        cursor begin_cursor() const {
            if (!map_)
                return {}; // a default-built listing is empty (value-initialised iterators are equal)
            cursor c{map_->begin(), map_->end()};
            c.skip();
            return c;
        }
        const piece_map* map_ = nullptr;
    };

    listing<true> nodes() const { return listing<true>(pieces_); }
    listing<false> holes() const { return listing<false>(pieces_); }

    range_stats stats() const {
        range_stats s;
        s.free_bytes = free_;
        s.hole_count = holes_by_size_.size();
        s.largest_hole = holes_by_size_.empty() ? 0 : std::prev(holes_by_size_.end())->first;
        s.fragmentation = fragmentation_of(s.free_bytes, s.largest_hole);
        // A red-black tree node is four words of links and colour plus the value.
        constexpr std::uint64_t tree_node = 4 * sizeof(void*);
        s.metadata_bytes = pieces_.size() * (tree_node + sizeof(piece_map::value_type)) +
                           holes_by_size_.size() * (tree_node + 2 * sizeof(u64)) + allocated_count_ * sizeof(node);
        return s;
    }

private:
    /// The piece containing `addr` (which lies inside the space).
    piece_map::iterator piece_at(u64 addr) { return std::prev(pieces_.upper_bound(addr)); }

    void add_hole(piece_map::iterator hint, u64 start, u64 size) {
        pieces_.emplace_hint(hint, start, piece{size, false});
        holes_by_size_.emplace(size, start);
        free_ += size;
    }
    /// Removes a free piece from both indexes.
    void drop_hole(piece_map::iterator it) {
        holes_by_size_.erase({it->second.size, it->first});
        free_ -= it->second.size;
        pieces_.erase(it);
    }

    /// Carves [at, at + size) out of the free piece `hole`, which contains it.
    void take(node& n, piece_map::iterator hole, u64 at, u64 size) {
        const u64 hs = hole->first, hl = hole->first + (hole->second.size - 1), al = at + (size - 1);
        auto next = std::next(hole);
        drop_hole(hole);
        if (at > hs)
            add_hole(next, hs, at - hs);
        pieces_.emplace_hint(next, at, piece{size, true});
        if (al < hl)
            add_hole(next, al + 1, hl - al);
        n.start_ = at;
        n.size_ = size;
        n.allocated_ = true;
        ++allocated_count_;
    }

    range space_{};
    piece_map pieces_;
    std::set<std::pair<u64, u64>> holes_by_size_; // (size, start)
    u64 free_ = 0;
    std::uint64_t allocated_count_ = 0;
};

static_assert(range_manager<naive>);

} // namespace accel::mm

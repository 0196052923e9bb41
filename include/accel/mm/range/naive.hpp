// SPDX-License-Identifier: MIT
#pragma once
/// \file `naive`: best fit over std::map/std::set with coalescing.
///
/// The reference model: every other policy is checked against it operation by operation
/// (tests/mm/differential.hpp), and it is the baseline of bench/mm_policies. It favours being
/// obviously right over being fast: holes are kept twice, by address (for coalescing and for
/// low/high placement) and by (size, address) (for best fit, ties to the lowest address).
#include <accel/mm/range.hpp>
#include <accel/mm/range_manager.hpp>

#include <iterator>
#include <map>
#include <ranges>
#include <set>
#include <utility>

namespace accel::mm {

class naive {
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
        holes_by_addr_.clear();
        holes_by_size_.clear();
        allocs_.clear();
        free_ = 0;
        add_hole(start, size);
        return 0;
    }

    int insert(node& n, const alloc_request& req) {
        u64 lo, last;
        if (int e = validate_request(req, space_.start, space_.last(), any_alignment, lo, last))
            return e;
        const u64 align = effective_alignment(req.alignment);
        u64 at = 0;
        bool found = false;
        auto try_hole = [&](u64 hs, u64 hsize, bool top) {
            u64 hl = hs + (hsize - 1);
            u64 cl = hs < lo ? lo : hs;
            u64 ch = hl > last ? last : hl;
            return cl <= ch && place_in(cl, ch, req.size, align, top, at);
        };
        switch (req.mode) {
        case placement::best:
            for (auto it = holes_by_size_.lower_bound({req.size, 0}); it != holes_by_size_.end() && !found; ++it)
                found = try_hole(it->second, it->first, false);
            break;
        case placement::low:
            for (auto it = first_hole_touching(lo); it != holes_by_addr_.end() && it->first <= last && !found; ++it)
                found = it->second >= req.size && try_hole(it->first, it->second, false);
            break;
        case placement::high: {
            auto it = holes_by_addr_.upper_bound(last); // first hole starting past `last`
            while (it != holes_by_addr_.begin() && !found) {
                --it;
                if (it->first + (it->second - 1) < lo)
                    break;
                found = it->second >= req.size && try_hole(it->first, it->second, true);
            }
            break;
        }
        }
        if (!found)
            return -ENOSPC;
        take(n, at, req.size);
        return 0;
    }

    int reserve(node& n, u64 start, u64 size) {
        if (int e = validate_reserve(start, size, space_.start, space_.last()))
            return e;
        auto it = holes_by_addr_.upper_bound(start);
        if (it == holes_by_addr_.begin())
            return -ENOSPC;
        --it;
        if (it->first + (it->second - 1) < start + (size - 1))
            return -ENOSPC; // no single hole covers [start, start + size)
        take(n, start, size);
        return 0;
    }

    void remove(node& n) {
        allocs_.erase(n.start_);
        u64 start = n.start_, size = n.size_;
        n.allocated_ = false;
        // Coalesce with the holes right before and right after.
        auto next = holes_by_addr_.lower_bound(start);
        if (next != holes_by_addr_.begin()) {
            auto prev = std::prev(next);
            if (prev->first + prev->second == start) {
                start = prev->first;
                size += prev->second;
                drop_hole(prev);
            }
        }
        next = holes_by_addr_.lower_bound(n.start_);
        if (next != holes_by_addr_.end() && n.start_ + (n.size_ - 1) + 1 == next->first && next->first != 0) {
            size += next->second;
            drop_hole(next);
        }
        add_hole(start, size);
    }

    auto nodes() const {
        return allocs_ | std::views::transform([](const auto& kv) { return range{kv.first, kv.second}; });
    }
    auto holes() const {
        return holes_by_addr_ | std::views::transform([](const auto& kv) { return range{kv.first, kv.second}; });
    }

    range_stats stats() const {
        range_stats s;
        s.free_bytes = free_;
        s.hole_count = holes_by_addr_.size();
        s.largest_hole = holes_by_size_.empty() ? 0 : std::prev(holes_by_size_.end())->first;
        s.fragmentation = fragmentation_of(s.free_bytes, s.largest_hole);
        // A red-black tree node is four words of links and colour plus the value.
        constexpr std::uint64_t tree_node = 4 * sizeof(void*);
        s.metadata_bytes = holes_by_addr_.size() * (tree_node + 2 * sizeof(u64)) +
                           holes_by_size_.size() * (tree_node + 2 * sizeof(u64)) +
                           allocs_.size() * (tree_node + 2 * sizeof(u64) + sizeof(node));
        return s;
    }

private:
    using addr_map = std::map<u64, u64>; // hole start -> hole size

    addr_map::iterator first_hole_touching(u64 lo) {
        auto it = holes_by_addr_.upper_bound(lo);
        if (it != holes_by_addr_.begin()) {
            auto p = std::prev(it);
            if (p->first + (p->second - 1) >= lo)
                return p;
        }
        return it;
    }

    void add_hole(u64 start, u64 size) {
        holes_by_addr_.emplace(start, size);
        holes_by_size_.emplace(size, start);
        free_ += size;
    }
    void drop_hole(addr_map::iterator it) {
        holes_by_size_.erase({it->second, it->first});
        free_ -= it->second;
        holes_by_addr_.erase(it);
    }

    /// Carves [at, at + size) out of the hole that contains it.
    void take(node& n, u64 at, u64 size) {
        auto it = std::prev(holes_by_addr_.upper_bound(at));
        u64 hs = it->first, hl = it->first + (it->second - 1);
        drop_hole(it);
        if (at > hs)
            add_hole(hs, at - hs);
        u64 al = at + (size - 1);
        if (al < hl)
            add_hole(al + 1, hl - al);
        n.start_ = at;
        n.size_ = size;
        n.allocated_ = true;
        allocs_.emplace(at, size);
    }

    range space_{};
    addr_map holes_by_addr_;
    std::set<std::pair<u64, u64>> holes_by_size_; // (size, start)
    std::map<u64, u64> allocs_;                    // start -> size
    u64 free_ = 0;
};

static_assert(range_manager<naive>);

} // namespace accel::mm

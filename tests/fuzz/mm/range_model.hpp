// SPDX-License-Identifier: MIT
#pragma once
// The reference model of the range-manager fuzz targets: the live ranges in a std::map, and the
// placement rules of range.hpp / range_manager.hpp recomputed over its holes by brute force. It
// shares no code with the policies but the few vocabulary helpers of range.hpp (place_in,
// align_up), so it also checks `naive`, the reference the unit tests use.
#include "fuzz_check.hpp"

#include <accel/mm/range.hpp>

#include <cerrno>
#include <iterator>
#include <map>
#include <vector>

namespace accel::mm::fuzz {

/// Live ranges by start; never overlapping, always inside `space`.
class range_model {
public:
    void init(range space) {
        space_ = space;
        live_.clear();
    }
    range space() const noexcept { return space_; }
    const std::map<u64, u64>& live() const noexcept { return live_; }
    bool empty() const noexcept { return live_.empty(); }

    /// [start, last] overlaps no live range.
    bool is_free(u64 start, u64 last) const {
        auto it = live_.upper_bound(last);
        if (it == live_.begin())
            return true;
        --it;
        return it->first + (it->second - 1) < start;
    }
    void add(u64 start, u64 size) {
        MM_FUZZ_CHECK(size != 0 && start >= space_.start && start + (size - 1) >= start &&
                          start + (size - 1) <= space_.last(),
                      "allocation outside the managed space");
        MM_FUZZ_CHECK(is_free(start, start + (size - 1)), "allocation overlaps a live range");
        live_.emplace(start, size);
    }
    void remove(u64 start) {
        auto it = live_.find(start);
        MM_FUZZ_CHECK(it != live_.end(), "model: removing a range that is not live");
        live_.erase(it);
    }

    /// The holes (maximal free intervals) in address order.
    std::vector<range> holes() const {
        std::vector<range> h;
        u64 at = space_.start; // next byte not yet covered; `done` once the space end was passed
        bool done = false;
        for (auto [s, n] : live_) {
            if (s > at)
                h.push_back({at, s - at});
            const u64 l = s + (n - 1);
            if (l == space_.last())
                done = true;
            else
                at = l + 1;
        }
        if (!done && at <= space_.last())
            h.push_back({at, space_.last() - at + 1});
        return h;
    }

    /// Where drm_mm's rules (naive's) put `size` bytes aligned to `align` in [lo, last] (already
    /// clipped to the space): best = smallest hole that fits (ties: lowest), low = lowest hole,
    /// high = highest hole, placed at its top. False when nothing fits.
    bool place(u64 size, u64 align, u64 lo, u64 last, placement mode, u64& at) const {
        bool found = false;
        u64 best_size = 0;
        const std::vector<range> hs = holes();
        auto fits = [&](const range& h, bool top, u64& s) {
            const u64 cl = h.start < lo ? lo : h.start;
            const u64 ch = h.last() > last ? last : h.last();
            return h.size >= size && cl <= ch && place_in(cl, ch, size, align, top, s);
        };
        if (mode == placement::high) {
            for (auto it = hs.rbegin(); it != hs.rend(); ++it)
                if (fits(*it, true, at))
                    return true;
            return false;
        }
        for (const range& h : hs) {
            u64 s;
            if ((!found || h.size < best_size) && fits(h, false, s)) {
                found = true;
                best_size = h.size;
                at = s;
                if (mode == placement::low)
                    break;
            }
        }
        return found;
    }

private:
    range space_{};
    std::map<u64, u64> live_;
};

/// Compares a policy's listings and statistics with the model: nodes() is exactly the live
/// ranges, holes() exactly their complement (maximal), and the statistics agree.
template <class M>
void check_against(const M& m, const range_model& model) {
    auto it = model.live().begin();
    for (range r : m.nodes()) {
        MM_FUZZ_CHECK(it != model.live().end(), "nodes() lists a range the model does not hold");
        MM_FUZZ_CHECK(r.start == it->first && r.size == it->second, "nodes() differs from the model");
        ++it;
    }
    MM_FUZZ_CHECK(it == model.live().end(), "nodes() misses a live range");
    const std::vector<range> holes = model.holes();
    u64 free = 0, largest = 0;
    std::size_t i = 0;
    for (range r : m.holes()) {
        MM_FUZZ_CHECK(i < holes.size(), "holes() lists a hole the model does not have");
        MM_FUZZ_CHECK(r == holes[i], "holes() differs from the model (not maximal, or wrong)");
        ++i;
    }
    MM_FUZZ_CHECK(i == holes.size(), "holes() misses a hole");
    for (range r : holes) {
        free += r.size;
        largest = r.size > largest ? r.size : largest;
    }
    const range_stats s = m.stats();
    MM_FUZZ_CHECK(s.free_bytes == free, "stats().free_bytes differs from the model");
    MM_FUZZ_CHECK(s.largest_hole == largest, "stats().largest_hole differs from the model");
    MM_FUZZ_CHECK(s.hole_count == holes.size(), "stats().hole_count differs from the model");
}

} // namespace accel::mm::fuzz

// SPDX-License-Identifier: MIT
#pragma once
/// \file Vocabulary of the range managers: a range, an allocation request, statistics.
///
/// Ranges live in a 64-bit space and may touch 2^64 (the last byte is 2^64 - 1), so nothing here
/// computes `start + size` without proving it cannot wrap: bounds are closed intervals
/// [lo, last], and a range's end is only ever compared through `last()`.
#include <cstdint>
#include <bit>
#include <cerrno>

namespace accel::mm {

using u64 = std::uint64_t;

/// [start, start + size), size > 0 for every range a manager reports.
struct range {
    u64 start = 0;
    u64 size = 0;
    /// Last byte of the range; valid for size > 0 even when the range ends at 2^64.
    constexpr u64 last() const noexcept { return start + (size - 1); }
    friend constexpr bool operator==(const range&, const range&) = default;
};

/// Where in the candidate holes an allocation goes (drm_mm's insert modes).
enum class placement : unsigned char {
    best, ///< smallest hole that fits (ties: lowest address), allocated at the hole's bottom
    low,  ///< lowest-address hole that fits, allocated at its bottom
    high, ///< highest-address hole that fits, allocated at its top (alignment rounds down)
};

/// One allocation request. `alignment` 0 or 1 means none; otherwise a power of two, or any
/// non-zero value for policies whose `any_alignment` is true. The allocation must lie inside the
/// closed interval [lo, last] (defaults: anywhere in the managed space).
struct alloc_request {
    u64 size = 0;
    u64 alignment = 0;
    u64 lo = 0;
    u64 last = ~u64{0};
    placement mode = placement::best;
};

/// Statistics every policy reports. Holes are maximal free intervals (adjacent free pieces
/// count as one), so the figures of different policies over the same state are comparable.
struct range_stats {
    u64 free_bytes = 0;
    u64 largest_hole = 0;
    u64 hole_count = 0;
    /// 1 - largest_hole / free_bytes; 0 when nothing is free.
    double fragmentation = 0.0;
    /// Bytes spent tracking the current state: the caller-owned nodes of live allocations plus
    /// the manager's own structures (tree nodes, bitmaps, free-list heads, pools).
    std::uint64_t metadata_bytes = 0;
};

constexpr double fragmentation_of(u64 free_bytes, u64 largest_hole) noexcept {
    return free_bytes == 0 ? 0.0 : 1.0 - static_cast<double>(largest_hole) / static_cast<double>(free_bytes);
}

/// x is a power of two (x > 0). Written out rather than std::has_single_bit, which compiles to
/// a libgcc popcount call on x86-64 without -mpopcnt: this sits on every insert.
constexpr bool is_pow2(u64 x) noexcept { return x != 0 && (x & (x - 1)) == 0; }

/// Alignment 0 and 1 both mean "none".
constexpr u64 effective_alignment(u64 alignment) noexcept { return alignment <= 1 ? 1 : alignment; }

/// Validates the parts of a request that do not depend on the policy's state, and narrows its
/// bounds to the managed space [space_start, space_last]. Returns 0 or -EINVAL.
/// `any_alignment`: whether non-power-of-two alignments are accepted.
constexpr int validate_request(const alloc_request& req, u64 space_start, u64 space_last, bool any_alignment,
                               u64& lo, u64& last) noexcept {
    if (req.size == 0)
        return -EINVAL;
    if (req.alignment > 1 && !any_alignment && !is_pow2(req.alignment))
        return -EINVAL;
    if (req.lo > req.last)
        return -EINVAL;
    lo = req.lo < space_start ? space_start : req.lo;
    last = req.last > space_last ? space_last : req.last;
    if (lo > last)
        return -EINVAL; // the requested range lies wholly outside the space
    return 0;
}

/// Validates a fixed range for reserve(): non-empty, not wrapping past 2^64, inside the space.
constexpr int validate_reserve(u64 start, u64 size, u64 space_start, u64 space_last) noexcept {
    if (size == 0)
        return -EINVAL;
    if (start + (size - 1) < start)
        return -EINVAL; // wraps past 2^64
    if (start < space_start || start + (size - 1) > space_last)
        return -EINVAL;
    return 0;
}

/// Validates the managed space given to init(): non-empty and not wrapping past 2^64
/// (ending exactly at 2^64 is fine).
constexpr int validate_space(u64 start, u64 size) noexcept {
    if (size == 0 || start + (size - 1) < start)
        return -EINVAL;
    return 0;
}

/// Rounds `x` up to a multiple of `align` (any non-zero value). Returns false on wrap.
constexpr bool align_up(u64 x, u64 align, u64& out) noexcept {
    if (align <= 1) {
        out = x;
        return true;
    }
    u64 rem = is_pow2(align) ? (x & (align - 1)) : (x % align);
    if (rem == 0) {
        out = x;
        return true;
    }
    u64 add = align - rem;
    if (x + add < x)
        return false;
    out = x + add;
    return true;
}

/// Rounds `x` down to a multiple of `align` (any non-zero value).
constexpr u64 align_down(u64 x, u64 align) noexcept {
    if (align <= 1)
        return x;
    return is_pow2(align) ? (x & ~(align - 1)) : (x - x % align);
}

/// Places `size` bytes aligned to `align` inside the free interval [hole_lo, hole_last]
/// (already clipped to the request bounds): at the bottom, or at the top for placement::high.
/// Returns true and the start on success. Every policy uses this one rule, so they agree on
/// where an allocation goes inside a given hole.
constexpr bool place_in(u64 hole_lo, u64 hole_last, u64 size, u64 align, bool top, u64& start) noexcept {
    if (hole_lo > hole_last || hole_last - hole_lo < size - 1)
        return false;
    if (top) {
        u64 s = align_down(hole_last - (size - 1), align);
        if (s < hole_lo)
            return false;
        start = s;
        return true;
    }
    u64 s;
    if (!align_up(hole_lo, align, s) || s > hole_last || hole_last - s < size - 1)
        return false;
    start = s;
    return true;
}

} // namespace accel::mm

// SPDX-License-Identifier: MIT
#pragma once
// Randomized differential test of a range-manager policy against `naive`.
//
// A shadow `naive` mirrors the policy's state: every range the policy hands out is reserved in
// the shadow (proving it overlaps nothing live and lies inside the space), every remove is
// mirrored, and after each step the statistics (and, periodically, the full node and hole
// listings) must be identical. With `exact`, the policy must also place each allocation exactly
// where naive's best/low/high search puts it, and fail exactly when naive fails.
//
// Seeds: ACCEL_TEST_SEED overrides the seed, ACCEL_MM_DIFF_OPS the operation count (default: one
// million in an NDEBUG build, 100000 otherwise). A failure prints the seed and the step.
#include <accel/mm/range.hpp>
#include <accel/mm/range/naive.hpp>
#include <accel/mm/range_manager.hpp>

#include <doctest/doctest.h>
#include <range/v3/range/conversion.hpp>
#include <range/v3/view/drop.hpp>
#include <range/v3/view/enumerate.hpp>
#include <range/v3/view/set_algorithm.hpp>
#include <range/v3/view/transform.hpp>
#include <range/v3/view/zip.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <functional>
#include <iterator>
#include <random>
#include <string>
#include <vector>

namespace accel::mm::test {

struct differential_config {
    u64 space_start = 0;
    u64 space_size = u64{1} << 32;
    u64 granule = 1;          ///< sizes, alignments and bounds are multiples of this
    u64 min_size = 1;         ///< in bytes (rounded up to granule)
    u64 max_size = u64{1} << 20;
    unsigned max_align_log2 = 21; ///< alignments 2^0 .. 2^max (at least granule)
    bool non_pow2_alignment = false; ///< also draw alignments like 3 * granule
    bool bounded = true;      ///< some requests restricted to a random [lo, last]
    bool modes = true;        ///< use low and high placement besides best
    bool reserves = true;     ///< mix in reserve() of random ranges
    bool exact = false;       ///< placement must equal naive's choice
    std::size_t target_live = 300;
    std::uint64_t ops = 0;    ///< 0: default (see file comment)
    std::uint64_t seed = 0;   ///< 0: from ACCEL_TEST_SEED or random_device
};

inline std::uint64_t default_ops() {
    if (const char* e = std::getenv("ACCEL_MM_DIFF_OPS"))
        if (auto v = std::strtoull(e, nullptr, 0)) // 0 or garbage: keep the default, never run nothing
            return v;
#ifdef NDEBUG
    return 1'000'000;
#else
    return 100'000;
#endif
}

inline std::uint64_t pick_seed(std::uint64_t fixed) {
    if (fixed)
        return fixed;
    if (const char* e = std::getenv("ACCEL_TEST_SEED"))
        return std::strtoull(e, nullptr, 0);
    return (std::uint64_t{std::random_device{}()} << 32) | std::random_device{}();
}

// range-v3 where C++20's std::ranges has no equivalent: ranges::to (C++23), views::zip and
// views::enumerate (C++23) to compare two listings element by element with the index in the
// failure message, and views::set_union, a lazy merge of two address-ordered listings (std
// has only the output-iterator algorithm, which would need a buffer).
template <class A, class B>
void check_same_listing(const A& a, const B& b, const char* what) {
    const auto va = ranges::to<std::vector<range>>(a);
    const auto vb = ranges::to<std::vector<range>>(b);
    INFO(what);
    REQUIRE(va.size() == vb.size());
    for (auto&& [i, pair] : ranges::views::enumerate(ranges::views::zip(va, vb))) {
        CAPTURE(i);
        REQUIRE(pair.first.start == pair.second.start);
        REQUIRE(pair.first.size == pair.second.size);
    }
}

/// One piece of the space as a policy lists it: an allocated range or a hole.
struct piece {
    range r;
    bool hole = false;
};

/// nodes() and holes() merged in address order: the whole space, piece by piece.
template <range_manager M>
std::vector<piece> pieces_of(const M& m) {
    auto tag = [](bool hole) { return ranges::views::transform([hole](range r) { return piece{r, hole}; }); };
    auto by_start = [](const piece& p) { return p.r.start; };
    // Lvalues: range-v3 adapts an rvalue only if it is one of its own views, and a policy's
    // listing may be a std::ranges::subrange.
    const auto nodes = m.nodes();
    const auto holes = m.holes();
    return ranges::views::set_union(nodes | tag(false), holes | tag(true), std::less<>{}, by_start, by_start) |
           ranges::to<std::vector>();
}

/// The listings tile [space.start, space.last()]: nodes and holes are non-empty, each piece
/// starts right after the one before, no two holes touch (holes are maximal), and nothing is
/// listed twice (set_union keeps one of two pieces with the same start, so the counts tell).
template <range_manager M>
void check_tiling(const M& m, range space) {
    const std::vector<piece> pieces = pieces_of(m);
    INFO("tiling");
    REQUIRE(pieces.size() ==
            static_cast<std::size_t>(std::ranges::distance(m.nodes()) + std::ranges::distance(m.holes())));
    REQUIRE_FALSE(pieces.empty()); // a space is never empty: it is a hole or holds a node
    REQUIRE(pieces.front().r.start == space.start);
    REQUIRE(pieces.back().r.last() == space.last());
    for (const piece& p : pieces)
        REQUIRE(p.r.size > 0);
    for (auto&& [i, pair] : ranges::views::enumerate(ranges::views::zip(pieces, pieces | ranges::views::drop(1)))) {
        CAPTURE(i);
        const auto& [a, b] = pair;
        REQUIRE(a.r.last() != space.last()); // so a.r.last() + 1 cannot wrap
        REQUIRE(a.r.last() + 1 == b.r.start);
        REQUIRE_FALSE((a.hole && b.hole));
    }
}

inline void check_same_stats(const range_stats& p, const range_stats& s) {
    REQUIRE(p.free_bytes == s.free_bytes);
    REQUIRE(p.largest_hole == s.largest_hole);
    REQUIRE(p.hole_count == s.hole_count);
    REQUIRE(p.fragmentation == doctest::Approx(s.fragmentation));
}

/// Runs the differential test; REQUIREs fail with the seed and step in the message.
template <range_manager M>
void run_differential(differential_config cfg) {
    const std::uint64_t seed = pick_seed(cfg.seed);
    const std::uint64_t ops = cfg.ops ? cfg.ops : default_ops();
    INFO("seed=" << seed << " (rerun with ACCEL_TEST_SEED=" << seed << ")");
    std::mt19937_64 rng(seed);
    auto uniform = [&](u64 lo, u64 hi) { return std::uniform_int_distribution<u64>(lo, hi)(rng); };
    const u64 g = cfg.granule;
    const u64 space_last = cfg.space_start + (cfg.space_size - 1);

    M policy;
    naive shadow;
    REQUIRE(policy.init(cfg.space_start, cfg.space_size) == 0);
    REQUIRE(shadow.init(cfg.space_start, cfg.space_size) == 0);

    struct live_entry {
        typename M::node pn;
        naive::node sn;
    };
    std::deque<live_entry> pool; // stable addresses
    std::vector<live_entry*> live, spare;
    auto get_entry = [&]() -> live_entry& {
        if (!spare.empty()) {
            live_entry* e = spare.back();
            spare.pop_back();
            return *e;
        }
        return pool.emplace_back();
    };

    auto draw_size = [&]() -> u64 {
        // Log-uniform between min and max, in granules.
        double lmin = std::log2(static_cast<double>(std::max(cfg.min_size, g)));
        double lmax = std::log2(static_cast<double>(cfg.max_size));
        double l = std::uniform_real_distribution<double>(lmin, lmax)(rng);
        u64 s = static_cast<u64>(std::exp2(l));
        s = (s + g - 1) / g * g;
        return std::max(s, g);
    };
    auto draw_align = [&]() -> u64 {
        if (cfg.non_pow2_alignment && uniform(0, 9) == 0)
            return g * uniform(3, 7);
        unsigned lg = static_cast<unsigned>(std::countr_zero(g));
        if (lg > cfg.max_align_log2)
            return g;
        u64 a = u64{1} << uniform(lg, cfg.max_align_log2);
        return uniform(0, 4) == 0 ? 0 : a; // 0 = no alignment
    };

    for (std::uint64_t step = 0; step < ops; ++step) {
        CAPTURE(step);
        const bool want_free = live.size() > cfg.target_live ? uniform(0, 2) != 0 : uniform(0, 3) == 0;
        if (want_free && !live.empty()) {
            std::size_t i = uniform(0, live.size() - 1);
            live_entry* e = live[i];
            live[i] = live.back();
            live.pop_back();
            policy.remove(e->pn);
            shadow.remove(e->sn);
            REQUIRE_FALSE(e->pn.allocated());
            spare.push_back(e);
        } else if (cfg.reserves && uniform(0, 15) == 0) {
            u64 size = draw_size();
            if (size > cfg.space_size)
                continue;
            u64 start = cfg.space_start + uniform(0, (cfg.space_size - size) / g) * g;
            live_entry& e = get_entry();
            int rp = policy.reserve(e.pn, start, size);
            int rs = shadow.reserve(e.sn, start, size);
            CAPTURE(start);
            CAPTURE(size);
            REQUIRE(rp == rs);
            if (rp == 0) {
                REQUIRE(e.pn.start() == start);
                REQUIRE(e.pn.size() == size);
                live.push_back(&e);
            } else {
                spare.push_back(&e);
            }
        } else {
            alloc_request req;
            req.size = draw_size();
            req.alignment = draw_align();
            if (cfg.modes) {
                auto m = uniform(0, 5);
                req.mode = m == 0 ? placement::low : m == 1 ? placement::high : placement::best;
            }
            if (cfg.bounded && uniform(0, 3) == 0) {
                u64 a = cfg.space_start + uniform(0, (cfg.space_size - 1) / g) * g;
                u64 b = cfg.space_start + uniform(0, (cfg.space_size - 1) / g) * g;
                if (a > b)
                    std::swap(a, b);
                req.lo = a;
                req.last = std::min(space_last, b + (g - 1));
            }
            CAPTURE(req.size);
            CAPTURE(req.alignment);
            CAPTURE(req.lo);
            CAPTURE(req.last);
            CAPTURE(static_cast<int>(req.mode));
            live_entry& e = get_entry();
            int rp = policy.insert(e.pn, req);
            if (cfg.exact) {
                int rs = shadow.insert(e.sn, req);
                REQUIRE(rp == rs);
                if (rp == 0)
                    REQUIRE(e.pn.start() == e.sn.start());
            } else if (rp == 0) {
                REQUIRE(e.pn.size() >= req.size);
                REQUIRE(shadow.reserve(e.sn, e.pn.start(), e.pn.size()) == 0); // no overlap, inside space
            } else {
                REQUIRE(rp == -ENOSPC); // the request was valid, so only "no room" is allowed
            }
            if (rp == 0) {
                REQUIRE(e.pn.allocated());
                u64 a = effective_alignment(req.alignment);
                REQUIRE(e.pn.start() % a == 0);
                REQUIRE(e.pn.start() >= req.lo);
                REQUIRE(e.pn.start() + (e.pn.size() - 1) <= req.last);
                live.push_back(&e);
            } else {
                REQUIRE_FALSE(e.pn.allocated());
                spare.push_back(&e);
            }
        }
        if (step % 64 == 0)
            check_same_stats(policy.stats(), shadow.stats());
        if (step % 8192 == 0) {
            check_same_listing(policy.nodes(), shadow.nodes(), "nodes");
            check_same_listing(policy.holes(), shadow.holes(), "holes");
            check_tiling(policy, range{cfg.space_start, cfg.space_size});
        }
    }
    check_same_stats(policy.stats(), shadow.stats());
    check_same_listing(policy.nodes(), shadow.nodes(), "nodes");
    check_same_listing(policy.holes(), shadow.holes(), "holes");
    check_tiling(policy, range{cfg.space_start, cfg.space_size});
    for (live_entry* e : live) {
        policy.remove(e->pn);
        shadow.remove(e->sn);
    }
    auto st = policy.stats();
    REQUIRE(st.free_bytes == cfg.space_size);
    REQUIRE(st.hole_count == 1);
}

/// Every errno path of the concept, for any policy (the caller picks values its granule allows).
template <range_manager M>
void check_common_errnos(u64 granule) {
    M m;
    CHECK(m.init(0, 0) == -EINVAL);
    M w;
    CHECK(w.init(~u64{0} - granule + 1, 2 * granule) == -EINVAL); // wraps past 2^64
    M p;
    REQUIRE(p.init(0, 64 * granule) == 0);
    typename M::node n;
    CHECK(p.insert(n, {.size = 0}) == -EINVAL);
    CHECK(p.insert(n, {.size = granule, .lo = 10 * granule, .last = 5 * granule}) == -EINVAL);
    CHECK(p.insert(n, {.size = granule, .lo = 128 * granule}) == -EINVAL); // bounds outside the space
    if constexpr (!M::any_alignment)
        CHECK(p.insert(n, {.size = granule, .alignment = 3 * granule}) == -EINVAL);
    CHECK(p.insert(n, {.size = 65 * granule}) == -ENOSPC);
    CHECK(p.insert(n, {.size = 8 * granule, .lo = 0, .last = 4 * granule - 1}) == -ENOSPC);
    CHECK(p.reserve(n, 0, 0) == -EINVAL);
    CHECK(p.reserve(n, 60 * granule, 8 * granule) == -EINVAL); // runs past the space
    CHECK(p.reserve(n, ~u64{0} - granule + 1, 2 * granule) == -EINVAL);
    CHECK_FALSE(n.allocated());
    REQUIRE(p.reserve(n, 8 * granule, 8 * granule) == 0);
    typename M::node o;
    CHECK(p.reserve(o, 12 * granule, 8 * granule) == -ENOSPC); // overlaps n
    CHECK_FALSE(o.allocated());
    CHECK(p.stats().free_bytes == 56 * granule);
    p.remove(n);
    CHECK(p.stats().free_bytes == 64 * granule);
    CHECK(p.stats().hole_count == 1);
}

} // namespace accel::mm::test

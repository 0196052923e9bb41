// SPDX-License-Identifier: MIT
// `bitmap`: errno paths, granule rounding, first-fit order, alignment, bounds, spaces that are
// not a whole number of words or end at 2^64, the listings, and two randomized runs against
// `naive`: the shared differential harness (placement free, state identical) and an exact one
// for first fit (bitmap's best/low must land where naive's low does, high where naive's high does).
#include "differential.hpp"

#include <accel/mm/range/bitmap.hpp>
#include <accel/mm/range/naive.hpp>
#include <accel/mm/range_allocator.hpp>

#include <deque>
#include <random>
#include <vector>

using namespace accel::mm;

namespace {

constexpr u64 g = bitmap::default_granule;

template <class R>
std::vector<range> listing(const R& r) {
    std::vector<range> v;
    for (range x : r)
        v.push_back(x);
    return v;
}

} // namespace

TEST_CASE("bitmap: common errno paths") { test::check_common_errnos<bitmap>(g); }

TEST_CASE("bitmap: init validates the granule and the space") {
    bitmap m;
    CHECK(m.init(0, 4096, 0) == -EINVAL);
    CHECK(m.init(0, 4096, 384) == -EINVAL); // not a power of two
    CHECK(m.init(128, 4096, 256) == -EINVAL); // start inside a granule
    CHECK(m.init(0, 4096 + 100, 256) == -EINVAL); // a partial granule at the end
    CHECK(m.init(0, ~u64{0}, 1) == -ENOMEM);      // 2^64 - 1 granules: not a small memory
    bitmap::node n;
    CHECK(m.insert(n, {.size = 1}) == -EINVAL); // still uninitialised
    REQUIRE(m.init(4096, 4096, 4096) == 0);
    CHECK(m.granule() == 4096);
    CHECK(m.stats().free_bytes == 4096);
    REQUIRE(m.insert(n, {.size = 1}) == 0);
    CHECK(n.start() == 4096);
    CHECK(n.size() == 4096);
}

TEST_CASE("bitmap: sizes round up to the granule, reserve needs a granule-aligned start") {
    bitmap m;
    REQUIRE(m.init(0, 16 * g) == 0);
    bitmap::node a, b, c;
    REQUIRE(m.insert(a, {.size = 1}) == 0);
    CHECK(a.start() == 0);
    CHECK(a.size() == g);
    REQUIRE(m.insert(b, {.size = g + 1}) == 0);
    CHECK(b.start() == g);
    CHECK(b.size() == 2 * g);
    CHECK(m.stats().free_bytes == 13 * g);
    CHECK(m.reserve(c, 5 * g + 1, g) == -EINVAL);
    REQUIRE(m.reserve(c, 5 * g, 10) == 0);
    CHECK(c.start() == 5 * g);
    CHECK(c.size() == g);
    bitmap::node d;
    CHECK(m.reserve(d, 4 * g, 2 * g) == -ENOSPC); // its second granule is c's
    CHECK_FALSE(d.allocated());
    m.remove(b);
    CHECK_FALSE(b.allocated());
    CHECK(m.stats().free_bytes == 14 * g);
}

TEST_CASE("bitmap: first fit takes the lowest address in every mode but high") {
    bitmap m;
    REQUIRE(m.init(0, 32 * g) == 0);
    bitmap::node n[6];
    REQUIRE(m.reserve(n[0], 0, g) == 0);
    REQUIRE(m.reserve(n[1], 3 * g, 2 * g) == 0);  // hole [1, 3) of 2 granules
    REQUIRE(m.reserve(n[2], 6 * g, 26 * g) == 0); // hole [5, 6) of 1 granule
    const std::vector<range> want_holes{{g, 2 * g}, {5 * g, g}};
    CHECK(listing(m.holes()) == want_holes);
    SUBCASE("best is first fit, not best fit") {
        REQUIRE(m.insert(n[3], {.size = g}) == 0);
        CHECK(n[3].start() == g); // naive (best fit) would take the exact-size hole at 5
    }
    SUBCASE("low") {
        REQUIRE(m.insert(n[3], {.size = g, .mode = placement::low}) == 0);
        CHECK(n[3].start() == g);
    }
    SUBCASE("high") {
        REQUIRE(m.insert(n[3], {.size = g, .mode = placement::high}) == 0);
        CHECK(n[3].start() == 5 * g);
        REQUIRE(m.insert(n[4], {.size = g, .mode = placement::high}) == 0);
        CHECK(n[4].start() == 2 * g); // top of the remaining hole
    }
    SUBCASE("a request larger than every hole") {
        CHECK(m.insert(n[3], {.size = 3 * g}) == -ENOSPC);
        CHECK_FALSE(n[3].allocated());
        CHECK(listing(m.holes()) == want_holes);
    }
}

TEST_CASE("bitmap: alignment is absolute, at least the granule, and rounds down for high") {
    bitmap m;
    const u64 base = 0x10000 + 3 * g; // granule aligned, not 4 KiB aligned
    REQUIRE(m.init(base, 64 * g) == 0);
    bitmap::node a, b, c, d;
    REQUIRE(m.insert(a, {.size = 100, .alignment = 16}) == 0); // finer than a granule: any granule
    CHECK(a.start() == base);
    REQUIRE(m.insert(b, {.size = g, .alignment = 4096}) == 0);
    CHECK(b.start() == 0x11000);
    REQUIRE(m.insert(c, {.size = g, .alignment = 4096, .mode = placement::high}) == 0);
    // The last granule of [0x10300, 0x14300) starts at 0x14200; aligned down: 0x14000.
    CHECK(c.start() == 0x14000);
    CHECK(m.insert(d, {.size = g, .alignment = 3 * g}) == -EINVAL);
    CHECK(m.insert(d, {.size = g, .alignment = u64{1} << 63}) == -ENOSPC);
    // Removing frees exactly what was taken: the holes coalesce back to one.
    m.remove(a);
    m.remove(b);
    m.remove(c);
    CHECK(listing(m.holes()) == std::vector<range>{{base, 64 * g}});
}

TEST_CASE("bitmap: bounds drop granules cut by lo or last") {
    bitmap m;
    REQUIRE(m.init(0, 64 * g) == 0);
    bitmap::node a, b;
    REQUIRE(m.insert(a, {.size = 2 * g, .lo = 100, .last = 1000}) == 0);
    CHECK(a.start() == g); // granule 0 starts below lo
    CHECK(m.insert(b, {.size = 3 * g, .lo = 100, .last = 1000}) == -ENOSPC);
    CHECK(m.insert(b, {.size = g, .lo = 100, .last = 1000}) == -ENOSPC); // granule 3 ends past 1000
    REQUIRE(m.insert(b, {.size = g, .lo = 10 * g, .last = 20 * g - 1, .mode = placement::high}) == 0);
    CHECK(b.start() == 19 * g);
    m.remove(b);
    REQUIRE(m.insert(b, {.size = g, .lo = 10 * g, .last = 20 * g - 2, .mode = placement::high}) == 0);
    CHECK(b.start() == 18 * g);
    m.remove(b);
    CHECK(m.insert(b, {.size = g, .lo = 10 * g + 1, .last = 11 * g - 1}) == -ENOSPC);
}

TEST_CASE("bitmap: a space that is not a whole number of words") {
    bitmap m;
    REQUIRE(m.init(0, 100 * g) == 0);
    std::vector<bitmap::node> n(101);
    REQUIRE(m.insert(n[0], {.size = g, .mode = placement::high}) == 0);
    CHECK(n[0].start() == 99 * g); // the last real granule, not a padding bit
    for (int i = 1; i < 100; ++i)
        REQUIRE(m.insert(n[static_cast<std::size_t>(i)], {.size = g}) == 0);
    CHECK(m.insert(n[100], {.size = g}) == -ENOSPC);
    CHECK(m.insert(n[100], {.size = g, .mode = placement::high}) == -ENOSPC);
    auto s = m.stats();
    CHECK(s.free_bytes == 0);
    CHECK(s.hole_count == 0);
    CHECK(listing(m.nodes()).size() == 100); // adjacent allocations are listed one by one
    m.remove(n[0]);
    m.remove(n[50]); // n[i] took granule i - 1
    CHECK(listing(m.holes()) == std::vector<range>{{49 * g, g}, {99 * g, g}});
    REQUIRE(m.insert(n[100], {.size = 2 * g}) == -ENOSPC);
}

TEST_CASE("bitmap: a space ending at 2^64") {
    bitmap m;
    const u64 size = 70 * g;
    const u64 base = 0 - size; // [2^64 - 70 g, 2^64)
    REQUIRE(m.init(base, size) == 0);
    bitmap::node top, mid, low;
    REQUIRE(m.insert(top, {.size = g, .mode = placement::high}) == 0);
    CHECK(top.start() == ~u64{0} - (g - 1));
    CHECK(top.start() + (top.size() - 1) == ~u64{0});
    REQUIRE(m.insert(mid, {.size = 4 * g, .alignment = 4 * g, .mode = placement::high}) == 0);
    CHECK(mid.start() == 0 - 8 * g);
    REQUIRE(m.insert(low, {.size = g, .lo = ~u64{0} - 2 * g, .last = ~u64{0}}) == 0);
    CHECK(low.start() == 0 - 2 * g);
    bitmap::node r;
    CHECK(m.reserve(r, 0 - 3 * g, 3 * g) == -ENOSPC);
    REQUIRE(m.reserve(r, 0 - 3 * g, g) == 0);
    CHECK(listing(m.nodes()) ==
          std::vector<range>{{0 - 8 * g, 4 * g}, {0 - 3 * g, g}, {0 - 2 * g, g}, {0 - g, g}});
    CHECK(listing(m.holes()) == std::vector<range>{{base, 62 * g}, {0 - 4 * g, g}});
    m.remove(top);
    m.remove(mid);
    m.remove(low);
    m.remove(r);
    CHECK(listing(m.holes()) == std::vector<range>{{base, size}});
}

TEST_CASE("bitmap: runs across words and summary words") {
    // 3 summary words' worth of granules plus a partial word: runs that span whole summary
    // words exercise the skip paths of every search.
    const u64 n = 3 * 64 * 64 + 17;
    bitmap m;
    REQUIRE(m.init(0, n * g) == 0);
    bitmap::node a, b, c, d;
    REQUIRE(m.reserve(a, 10 * g, 5000 * g) == 0);
    REQUIRE(m.insert(b, {.size = 100 * g}) == 0); // the 10-granule hole below a is too small
    CHECK(b.start() == 5010 * g);
    REQUIRE(m.insert(c, {.size = 6000 * g, .mode = placement::high}) == 0);
    CHECK(c.start() == (n - 6000) * g);
    CHECK(m.insert(d, {.size = 5000 * g}) == -ENOSPC); // free: [0, 10) and [5110, n - 6000)
    REQUIRE(m.insert(d, {.size = (n - 11110) * g, .mode = placement::high}) == 0);
    CHECK(d.start() == 5110 * g);
    auto s = m.stats();
    CHECK(s.free_bytes == 10 * g);
    CHECK(s.hole_count == 1);
    CHECK(s.largest_hole == 10 * g);
    m.remove(a);
    s = m.stats();
    CHECK(s.hole_count == 1);
    CHECK(s.largest_hole == 5010 * g);
    CHECK(s.fragmentation == doctest::Approx(0.0));
}

TEST_CASE("bitmap: metadata is the bitmaps plus one node per live allocation") {
    bitmap m;
    REQUIRE(m.init(0, 4 << 20) == 0); // a 4 MiB SRAM: 16384 granules
    const u64 empty = m.stats().metadata_bytes;
    CHECK(empty >= 2 * 16384 / 8); // at least the allocation and head bitmaps
    CHECK(empty < 16384);          // and nowhere near a tree node per granule
    bitmap::node a, b;
    REQUIRE(m.insert(a, {.size = 4096}) == 0);
    REQUIRE(m.insert(b, {.size = 4096}) == 0);
    CHECK(m.stats().metadata_bytes == empty + 2 * sizeof(bitmap::node));
    m.remove(a);
    CHECK(m.stats().metadata_bytes == empty + sizeof(bitmap::node));
}

TEST_CASE("bitmap: works under range_allocator") {
    range_allocator<bitmap> ra;
    REQUIRE(ra.init(0, 64 * g) == 0);
    auto x = ra.alloc({.size = 3 * g});
    REQUIRE(x);
    CHECK(ra.get(*x) == range{0, 3 * g});
    CHECK(ra.free(*x) == 0);
    CHECK(ra.stats().hole_count == 1);
}

TEST_CASE("bitmap: differential against naive, 4 GiB space") {
    test::differential_config cfg;
    cfg.granule = g;
    cfg.exact = false;
    test::run_differential<bitmap>(cfg);
}

TEST_CASE("bitmap: differential against naive, a crowded SRAM-sized space") {
    // 4 MiB + 5 granules at an odd granule-aligned base: occupancy runs high, so failures and
    // fragmented searches are frequent, and the space is not a whole number of words.
    test::differential_config cfg;
    cfg.granule = g;
    cfg.space_start = 0x7fff0100;
    cfg.space_size = (4 << 20) + 5 * g;
    cfg.max_size = 128 << 10;
    cfg.max_align_log2 = 16;
    cfg.target_live = 120;
    cfg.exact = false;
    test::run_differential<bitmap>(cfg);
}

TEST_CASE("bitmap: differential against naive, space ending at 2^64") {
    test::differential_config cfg;
    cfg.granule = g;
    cfg.space_size = 64 << 20;
    cfg.space_start = 0 - cfg.space_size;
    cfg.max_size = 1 << 20;
    cfg.target_live = 100;
    cfg.exact = false;
    test::run_differential<bitmap>(cfg);
}

namespace {

/// Random requests against `naive`: on granule-multiple requests, first fit is naive's `low`
/// (lowest aligned fit) and the bitmap's `high` is naive's `high`, so placements and failures
/// must agree one for one. `n` granules at an odd base; sizes up to `small` granules, one in ten
/// up to `large`; frees keep about `live_target` allocations.
void exact_first_fit(u64 n, u64 small, u64 large, std::size_t live_target, std::uint64_t ops) {
    const std::uint64_t seed = test::pick_seed(0);
    INFO("seed=" << seed << " (rerun with ACCEL_TEST_SEED=" << seed << ")");
    std::mt19937_64 rng(seed);
    auto uniform = [&](u64 lo, u64 hi) { return std::uniform_int_distribution<u64>(lo, hi)(rng); };
    const u64 base = 0x40000 + 7 * g;
    bitmap m;
    naive ref;
    REQUIRE(m.init(base, n * g) == 0);
    REQUIRE(ref.init(base, n * g) == 0);
    struct entry {
        bitmap::node b;
        naive::node r;
    };
    std::deque<entry> pool;
    std::vector<entry*> live, spare;
    std::uint64_t placed = 0, failed = 0;
    for (std::uint64_t step = 0; step < ops; ++step) {
        CAPTURE(step);
        if (!live.empty() && uniform(0, 99) < (live.size() > live_target ? 60u : 35u)) {
            std::size_t i = uniform(0, live.size() - 1);
            m.remove(live[i]->b);
            ref.remove(live[i]->r);
            spare.push_back(live[i]);
            live[i] = live.back();
            live.pop_back();
            continue;
        }
        entry* e = spare.empty() ? &pool.emplace_back() : spare.back();
        if (!spare.empty())
            spare.pop_back();
        alloc_request req;
        req.size = (uniform(0, 9) == 0 ? uniform(1, large) : uniform(1, small)) * g - uniform(0, g - 1);
        req.alignment = uniform(0, 2) == 0 ? 0 : u64{1} << uniform(0, 20);
        const auto mode = uniform(0, 2);
        req.mode = mode == 0 ? placement::best : mode == 1 ? placement::low : placement::high;
        if (uniform(0, 3) == 0) {
            u64 x = base + uniform(0, n * g - 1), y = base + uniform(0, n * g - 1);
            req.lo = std::min(x, y);
            req.last = std::max(x, y);
        }
        alloc_request rreq = req;
        rreq.size = (req.size + g - 1) / g * g;
        rreq.alignment = std::max<u64>(effective_alignment(req.alignment), g);
        // Granules cut by a bound are unusable to the bitmap; give naive the same whole granules.
        rreq.lo = req.lo <= base ? req.lo : base + (req.lo - base + g - 1) / g * g;
        if (req.last != ~u64{0})
            rreq.last = base + (req.last - base + 1) / g * g - 1;
        if (req.mode == placement::best)
            rreq.mode = placement::low;
        CAPTURE(req.size);
        CAPTURE(req.alignment);
        CAPTURE(req.lo);
        CAPTURE(req.last);
        CAPTURE(mode);
        const int rb = m.insert(e->b, req);
        const int rr = rreq.last < rreq.lo || rreq.last < base ? -ENOSPC : ref.insert(e->r, rreq);
        REQUIRE(rb == rr);
        if (rb == 0) {
            REQUIRE(e->b.start() == e->r.start());
            REQUIRE(e->b.size() == e->r.size());
            live.push_back(e);
            ++placed;
        } else {
            spare.push_back(e);
            ++failed;
        }
        if (step % 256 == 0) {
            test::check_same_stats(m.stats(), ref.stats());
            test::check_same_listing(m.holes(), ref.holes(), "holes");
            test::check_same_listing(m.nodes(), ref.nodes(), "nodes");
        }
    }
    // Both outcomes must have been exercised for the comparison to mean anything.
    CHECK(placed > ops / 4);
    CHECK(failed > 0);
}

} // namespace

TEST_CASE("bitmap: first fit places exactly where naive's low and high do") {
    SUBCASE("within a few words") { exact_first_fit(5000, 40, 400, 150, test::default_ops() / 4); }
    SUBCASE("across many run-summary blocks") {
        // 9 blocks of 4096 granules and a partial one, kept crowded: whole blocks get skipped,
        // and fits that straddle block edges are found through the blocks' end runs.
        exact_first_fit(9 * 4096 + 100, 600, 9000, 50, test::default_ops() / 4);
    }
}

// SPDX-License-Identifier: MIT
// best_fit: ports of the upstream KUnit drm_mm cases (drivers/gpu/drm/tests/drm_mm_test.c), the
// full 64-bit space, exact placement against naive, and drm_mm_scan-style eviction.
#include "differential.hpp"

#include <accel/mm/detail/threaded_treap.hpp>
#include <accel/mm/range/best_fit.hpp>
#include <accel/mm/range/naive.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <vector>

using namespace accel::mm;

static_assert(range_manager<best_fit>);
static_assert(diagnose_range_manager<best_fit>());
static_assert(best_fit::any_alignment);

namespace {

constexpr u64 u64_max = ~u64{0};

std::vector<range> holes_of(const best_fit& mm) {
    std::vector<range> v;
    for (range r : mm.holes())
        v.push_back(r);
    return v;
}
std::vector<range> nodes_of(const best_fit& mm) {
    std::vector<range> v;
    for (range r : mm.nodes())
        v.push_back(r);
    return v;
}

// KUnit assert_no_holes: no hole listed and the statistics agree.
void assert_no_holes(const best_fit& mm) {
    CHECK(holes_of(mm).empty());
    auto st = mm.stats();
    CHECK(st.hole_count == 0);
    CHECK(st.free_bytes == 0);
    CHECK(st.largest_hole == 0);
}

// KUnit assert_one_hole(start, end): exactly the hole [start, end) (none when end <= start).
void assert_one_hole(const best_fit& mm, u64 start, u64 end) {
    if (end <= start) {
        assert_no_holes(mm);
        return;
    }
    auto h = holes_of(mm);
    REQUIRE(h.size() == 1);
    CHECK(h[0].start == start);
    CHECK(h[0].size == end - start);
    auto st = mm.stats();
    CHECK(st.hole_count == 1);
    CHECK(st.free_bytes == end - start);
    CHECK(st.largest_hole == end - start);
}

// KUnit assert_node(size, alignment): allocated, exact size, aligned (64-bit modulo, 0 = none).
void assert_node(const best_fit::node& n, u64 size, u64 alignment) {
    CHECK(n.allocated());
    CHECK(n.size() == size);
    if (alignment > 1)
        CHECK(n.start() % alignment == 0);
}

} // namespace

// ---- upstream KUnit drm_mm suite -----------------------------------------------------------

TEST_CASE("best_fit: drm_test_mm_init") {
    best_fit mm; // like a zeroed drm_mm: manages nothing
    CHECK(holes_of(mm).empty());
    CHECK(nodes_of(mm).empty());
    CHECK(mm.stats().free_bytes == 0);

    const u64 size = 4096;
    REQUIRE(mm.init(0, size) == 0);
    CHECK(nodes_of(mm).empty()); // clean
    assert_one_hole(mm, 0, size);

    best_fit::node tmp;
    REQUIRE(mm.reserve(tmp, 0, size) == 0);
    assert_no_holes(mm);
    assert_node(tmp, size, 0);
    CHECK(nodes_of(mm) == std::vector<range>{{0, size}});

    mm.remove(tmp);
    CHECK_FALSE(tmp.allocated());
    assert_one_hole(mm, 0, size);
    CHECK(nodes_of(mm).empty());
}

TEST_CASE("best_fit: drm_test_mm_debug") {
    best_fit mm;
    REQUIRE(mm.init(0, 4096) == 0);
    best_fit::node n[2];
    REQUIRE(mm.reserve(n[0], 512, 1024) == 0);
    REQUIRE(mm.reserve(n[1], 4096 - 512 - 1024, 1024) == 0);
    // drm_mm_print: the listings are the printable state.
    CHECK(nodes_of(mm) == std::vector<range>{{512, 1024}, {2560, 1024}});
    CHECK(holes_of(mm) == std::vector<range>{{0, 512}, {1536, 1024}, {3584, 512}});
    auto st = mm.stats();
    CHECK(st.hole_count == 3);
    CHECK(st.free_bytes == 2048);
    CHECK(st.largest_hole == 1024);
    CHECK(st.fragmentation == doctest::Approx(0.5));
    assert_node(n[0], 1024, 0);
    assert_node(n[1], 1024, 0);
}

static void check_align_pot(unsigned max) {
    best_fit mm;
    REQUIRE(mm.init(1, u64_max - 2) == 0); // [1, 2^64 - 2)
    std::deque<best_fit::node> nodes(max);
    for (unsigned bit = max - 1; bit; --bit) {
        CAPTURE(bit);
        const u64 align = u64{1} << bit;
        const u64 size = (u64{1} << (bit - 1)) + 1;
        best_fit::node& n = nodes[bit];
        REQUIRE(mm.insert(n, {.size = size, .alignment = align}) == 0);
        assert_node(n, size, align);
    }
    for (unsigned bit = max - 1; bit; --bit)
        mm.remove(nodes[bit]);
    assert_one_hole(mm, 1, u64_max - 1);
}

TEST_CASE("best_fit: drm_test_mm_align32") { check_align_pot(32); }
TEST_CASE("best_fit: drm_test_mm_align64") { check_align_pot(64); }

TEST_CASE("best_fit: drm_test_mm_lowest / drm_test_mm_highest") {
    best_fit mm;
    REQUIRE(mm.init(0, 7) == 0);
    best_fit::node rsv[2], n;
    REQUIRE(mm.reserve(rsv[0], 1, 1) == 0);
    REQUIRE(mm.reserve(rsv[1], 5, 1) == 0);
    CHECK(holes_of(mm) == std::vector<range>{{0, 1}, {2, 3}, {6, 1}}); // both nodes have a hole after
    SUBCASE("lowest") {
        REQUIRE(mm.insert(n, {.size = 2, .mode = placement::low}) == 0);
        CHECK(n.start() == 2);
        CHECK(holes_of(mm) == std::vector<range>{{0, 1}, {4, 1}, {6, 1}});
    }
    SUBCASE("highest") {
        REQUIRE(mm.insert(n, {.size = 2, .mode = placement::high}) == 0);
        CHECK(n.start() == 3);
        CHECK(holes_of(mm) == std::vector<range>{{0, 1}, {2, 1}, {6, 1}});
    }
    SUBCASE("best") {
        REQUIRE(mm.insert(n, {.size = 1}) == 0);
        CHECK(n.start() == 0); // [0,1) and [6,7) tie at size 1: the lowest address wins
    }
    assert_node(n, n.size(), 0);
}

// ---- errno paths, alignment and the edges of the 64-bit space --------------------------------

TEST_CASE("best_fit: errno paths") {
    test::check_common_errnos<best_fit>(1);
    test::check_common_errnos<best_fit>(4096);
    best_fit mm;
    REQUIRE(mm.init(0, 100) == 0);
    best_fit::node n;
    CHECK(mm.insert(n, {.size = 101}) == -ENOSPC);
    CHECK(mm.insert(n, {.size = 10, .alignment = 64, .lo = 1, .last = 63}) == -ENOSPC);
    CHECK(mm.insert(n, {.size = 10, .alignment = 3, .lo = 91, .last = 99}) == -ENOSPC); // 93..99 is 7 bytes
    CHECK_FALSE(n.allocated());
    CHECK(mm.stats().free_bytes == 100);
}

TEST_CASE("best_fit: non-power-of-two alignment (64-bit modulo)") {
    best_fit mm;
    REQUIRE(mm.init(10, 1000) == 0); // [10, 1010)
    best_fit::node a, b, c, d;
    REQUIRE(mm.insert(a, {.size = 5, .alignment = 7}) == 0);
    CHECK(a.start() == 14);
    REQUIRE(mm.insert(b, {.size = 5, .alignment = 7, .mode = placement::high}) == 0);
    CHECK(b.start() == 1001); // top is 1009 - 4 = 1005, rounded down to a multiple of 7
    // The two 4-byte holes [10, 14) and [1006, 1010) come first in size order but cannot hold 3
    // bytes at a multiple of 3 (12 and 1008 leave 2 bytes): the walk goes on to [19, 1001).
    REQUIRE(mm.insert(c, {.size = 3, .alignment = 3}) == 0);
    CHECK(c.start() == 21);
    const u64 big = 0xfffffffffffffffbull; // largest 64-bit prime
    best_fit huge;
    REQUIRE(huge.init(0, u64_max) == 0);
    REQUIRE(huge.insert(d, {.size = 4, .alignment = big, .lo = 1}) == 0);
    CHECK(d.start() == big); // [2^64 - 5, 2^64 - 1) ends right at the space's last byte
    huge.remove(d);
    CHECK(huge.insert(d, {.size = 5, .alignment = big, .lo = 1}) == -ENOSPC);
    REQUIRE(huge.insert(d, {.size = 5, .alignment = big, .mode = placement::high}) == 0);
    CHECK(d.start() == 0); // the top start 2^64 - 6 rounds down to 0
}

TEST_CASE("best_fit: full 64-bit space, alignment up to 2^63") {
    SUBCASE("[1, 2^64)") {
        best_fit mm;
        REQUIRE(mm.init(1, u64_max) == 0);
        std::deque<best_fit::node> n(64);
        for (unsigned bit = 63; bit >= 1; --bit) {
            CAPTURE(bit);
            REQUIRE(mm.insert(n[bit], {.size = (u64{1} << (bit - 1)) + 1, .alignment = u64{1} << bit}) == 0);
            assert_node(n[bit], (u64{1} << (bit - 1)) + 1, u64{1} << bit);
        }
        best_fit::node top;
        REQUIRE(mm.reserve(top, u64_max, 1) == 0); // the very last byte, touching 2^64
        CHECK(top.start() == u64_max);
        CHECK(mm.reserve(n[0], u64_max, 1) == -ENOSPC);
        CHECK(mm.reserve(n[0], u64_max, 2) == -EINVAL); // wraps
        mm.remove(top);
        for (unsigned bit = 1; bit <= 63; ++bit)
            mm.remove(n[bit]);
        CHECK(holes_of(mm) == std::vector<range>{{1, u64_max}}); // [1, 2^64)
        CHECK(mm.stats().free_bytes == u64_max);
        CHECK(mm.stats().largest_hole == u64_max);
    }
    SUBCASE("[0, 2^64 - 1)") {
        best_fit mm;
        REQUIRE(mm.init(0, u64_max) == 0);
        best_fit::node a, b, c;
        REQUIRE(mm.insert(a, {.size = 1, .alignment = u64{1} << 63, .mode = placement::high}) == 0);
        CHECK(a.start() == u64{1} << 63);
        REQUIRE(mm.insert(b, {.size = 16, .mode = placement::high}) == 0);
        CHECK(b.start() == u64_max - 16); // last byte is 2^64 - 2
        CHECK(mm.reserve(c, u64_max, 1) == -EINVAL); // outside the space
        REQUIRE(mm.insert(c, {.size = u64{1} << 62, .alignment = u64{1} << 62}) == 0);
        CHECK(c.start() == 0);
        CHECK(holes_of(mm) ==
              std::vector<range>{{u64{1} << 62, u64{1} << 62}, {(u64{1} << 63) + 1, (u64{1} << 63) - 18}});
    }
    SUBCASE("a space ending exactly at 2^64") {
        best_fit mm;
        const u64 start = u64_max - 4095; // [2^64 - 4096, 2^64)
        REQUIRE(mm.init(start, 4096) == 0);
        best_fit::node hi, lo, mid;
        REQUIRE(mm.insert(hi, {.size = 100, .mode = placement::high}) == 0);
        CHECK(hi.start() == u64_max - 99);
        CHECK(hi.start() + (hi.size() - 1) == u64_max);
        REQUIRE(mm.insert(lo, {.size = 100, .alignment = 1024}) == 0);
        CHECK(lo.start() == start);
        REQUIRE(mm.insert(mid, {.size = 3896, .mode = placement::low}) == 0); // exactly the rest
        assert_no_holes(mm);
        mm.remove(hi); // the hole at the end touches 2^64
        CHECK(holes_of(mm) == std::vector<range>{{u64_max - 99, 100}});
        mm.remove(mid);
        mm.remove(lo);
        CHECK(holes_of(mm) == std::vector<range>{{start, 4096}});
        CHECK(mm.stats().hole_count == 1);
    }
}

// ---- exact placement against naive -----------------------------------------------------------

TEST_CASE("best_fit: differential, exact placement with non-power-of-two alignments") {
    test::differential_config cfg;
    cfg.exact = true;
    cfg.non_pow2_alignment = true;
    test::run_differential<best_fit>(cfg);
}

TEST_CASE("best_fit: differential, tiny space and granule 1") {
    test::differential_config cfg;
    cfg.exact = true;
    cfg.non_pow2_alignment = true;
    cfg.space_start = 3;
    cfg.space_size = 200;
    cfg.min_size = 1;
    cfg.max_size = 24;
    cfg.max_align_log2 = 5;
    cfg.target_live = 12;
    test::run_differential<best_fit>(cfg);
}

// Thousands of live nodes: class trees deep enough to rebalance often, best-fit walks that cross
// many classes, and address-tree searches of low/high/reserve over long distances.
TEST_CASE("best_fit: differential, thousands of live allocations") {
    test::differential_config cfg;
    cfg.exact = true;
    cfg.space_size = u64{1} << 34;
    cfg.granule = 4096;
    cfg.min_size = 4096;
    cfg.max_size = u64{1} << 24;
    cfg.target_live = 3000;
    test::run_differential<best_fit>(cfg);
}

TEST_CASE("best_fit: differential, space ending at 2^64") {
    test::differential_config cfg;
    cfg.exact = true;
    cfg.non_pow2_alignment = true;
    cfg.space_start = u64_max - (u64{1} << 24) + 1;
    cfg.space_size = u64{1} << 24;
    cfg.max_size = u64{1} << 16;
    cfg.max_align_log2 = 18;
    cfg.target_live = 200;
    test::run_differential<best_fit>(cfg);
}

// ---- size classes --------------------------------------------------------------------------

namespace {

/// Lays out holes of the given sizes from address 0, each followed by a 1-byte node, and fills
/// the rest of the space, in a best_fit and a naive alike. Returns the holes' starts.
std::vector<u64> lay_out_holes(best_fit& bf, naive& nv, std::deque<best_fit::node>& bn, std::deque<naive::node>& nn,
                               const std::vector<u64>& sizes, u64 space) {
    std::vector<u64> starts;
    u64 at = 0;
    for (u64 size : sizes) {
        starts.push_back(at);
        at += size;
        REQUIRE(bf.reserve(bn.emplace_back(), at, 1) == 0);
        REQUIRE(nv.reserve(nn.emplace_back(), at, 1) == 0);
        ++at;
    }
    REQUIRE(bf.reserve(bn.emplace_back(), at, space - at) == 0);
    REQUIRE(nv.reserve(nn.emplace_back(), at, space - at) == 0);
    return starts;
}

} // namespace

// Holes sit in one tree per floor(log2(size)); best fit must still visit them in (size, start)
// order across the class boundaries, exactly as naive's single ordered set does.
TEST_CASE("best_fit: best fit across size classes") {
    const u64 space = 4096;
    best_fit bf;
    naive nv;
    REQUIRE(bf.init(0, space) == 0);
    REQUIRE(nv.init(0, space) == 0);
    std::deque<best_fit::node> bn;
    std::deque<naive::node> nn;
    //            class:  4   3  3  3   2  3   4   5   5
    const std::vector<u64> sizes{16, 9, 8, 15, 7, 8, 17, 32, 63};
    const auto h = lay_out_holes(bf, nv, bn, nn, sizes, space);
    CHECK(bf.stats().hole_count == sizes.size());
    CHECK(bf.stats().largest_hole == 63);

    struct step {
        alloc_request req;
        u64 want; ///< expected start
    };
    const std::vector<step> steps{
        {{.size = 8}, h[2]},                 // two holes of 8: the lower address
        {{.size = 8}, h[5]},                 // then the other one
        {{.size = 7}, h[4]},                 // class 2, exact
        {{.size = 10}, h[3]},                // 15 is the smallest of class 3 that holds 10
        {{.size = 9, .alignment = 8}, h[0]}, // the 9 at 17 would need [24, 33), past its end;
                                             // next in order: class 4's 16 at 0
        {{.size = 16}, h[6]},                // that 16 is now 7: the 17
        {{.size = 17, .alignment = 2}, h[7] + 1}, // class 5's 32 at 87, rounded up to 88
        {{.size = 40}, h[8]},                // class 5's 63
    };
    for (const step& st : steps) {
        CAPTURE(st.req.size);
        CAPTURE(st.req.alignment);
        best_fit::node& b = bn.emplace_back();
        naive::node& n = nn.emplace_back();
        const int rb = bf.insert(b, st.req);
        REQUIRE(rb == nv.insert(n, st.req));
        REQUIRE(rb == 0);
        CHECK(b.start() == st.want);
        CHECK(n.start() == st.want); // the same choice as naive, whatever the classes
    }
    CHECK(bf.stats().largest_hole == nv.stats().largest_hole);
    CHECK(bf.stats().hole_count == nv.stats().hole_count);
    test::check_same_listing(bf.holes(), nv.holes(), "holes");
}

TEST_CASE("best_fit: holes of 2^63 bytes and more (the top size class)") {
    best_fit mm;
    REQUIRE(mm.init(0, u64_max) == 0); // one hole of 2^64 - 1 bytes
    best_fit::node a, b, c;
    REQUIRE(mm.insert(a, {.size = u64{1} << 62, .mode = placement::high}) == 0);
    CHECK(mm.stats().largest_hole == u64_max - (u64{1} << 62)); // still class 63
    REQUIRE(mm.insert(b, {.size = u64{1} << 63}) == 0);            // the class-63 hole, at 0
    CHECK(b.start() == 0);
    CHECK(mm.stats().largest_hole == (u64{1} << 62) - 1);         // class 61 now
    CHECK(mm.insert(c, {.size = u64{1} << 62}) == -ENOSPC);
    mm.remove(a);
    REQUIRE(mm.insert(c, {.size = u64{1} << 62}) == 0); // the grown hole [2^63, 2^64 - 1)
    CHECK(c.start() == u64{1} << 63);
    mm.remove(b);
    mm.remove(c);
    CHECK(holes_of(mm) == std::vector<range>{{0, u64_max}});
}

// ---- node state ----------------------------------------------------------------------------

// A node does not store its start (it is where the previous node's hole ends); start() and
// size() must still be right while neighbours come and go, and keep the last range once removed.
TEST_CASE("best_fit: start() and size() follow neighbour changes and survive remove()") {
    best_fit mm;
    REQUIRE(mm.init(100, 1000) == 0);
    best_fit::node a, b, c;
    CHECK(a.start() == 0);
    CHECK(a.size() == 0);
    REQUIRE(mm.reserve(b, 500, 50) == 0);
    REQUIRE(mm.insert(a, {.size = 30, .mode = placement::low}) == 0);
    REQUIRE(mm.insert(c, {.size = 20, .mode = placement::high}) == 0);
    CHECK(a.start() == 100);
    CHECK(a.size() == 30);
    CHECK(b.start() == 500);
    CHECK(b.size() == 50);
    CHECK(c.start() == 1080);
    CHECK(c.size() == 20);
    mm.remove(a); // b's previous node is now the sentinel
    CHECK(b.start() == 500);
    CHECK(b.size() == 50);
    CHECK_FALSE(a.allocated());
    CHECK(a.start() == 100);
    CHECK(a.size() == 30);
    mm.remove(b);
    CHECK(c.start() == 1080);
    CHECK(c.size() == 20);
    CHECK(b.start() == 500);
    CHECK(b.size() == 50);
    REQUIRE(mm.reserve(a, 1079, 1) == 0); // right before c
    CHECK(c.start() == 1080);
    CHECK(nodes_of(mm) == std::vector<range>{{1079, 1}, {1080, 20}});
}

// ---- metadata ------------------------------------------------------------------------------

// The node holds everything, both hole indexes included: metadata grows with live allocations
// only, at sizeof(node) each (56 bytes on 64-bit targets) plus the manager's fixed part.
TEST_CASE("best_fit: at most 64 bytes of metadata per live allocation") {
    if constexpr (sizeof(void*) == 8)
        CHECK(sizeof(best_fit::node) <= 56);
    best_fit mm;
    REQUIRE(mm.init(0, u64{1} << 32) == 0);
    std::deque<best_fit::node> n(4096);
    u64 i = 0;
    for (auto& x : n)
        REQUIRE(mm.insert(x, {.size = 4096 + 512 * (i++ % 7), .alignment = 4096}) == 0);
    auto per_live = [&](u64 live) { return static_cast<double>(mm.stats().metadata_bytes) / static_cast<double>(live); };
    CHECK(per_live(n.size()) <= 64.0);
    for (std::size_t k = 0; k < n.size(); k += 2) // as many holes as allocations now
        mm.remove(n[k]);
    CHECK(mm.stats().hole_count >= n.size() / 2);
    CHECK(per_live(n.size() / 2) <= 64.0);
}

TEST_CASE("best_fit: metadata accounting") {
    best_fit mm;
    REQUIRE(mm.init(0, 1 << 20) == 0);
    const u64 own = mm.stats().metadata_bytes;
    CHECK(own >= sizeof(best_fit));
    std::deque<best_fit::node> n(100);
    for (auto& x : n)
        REQUIRE(mm.insert(x, {.size = 1000}) == 0);
    CHECK(mm.stats().metadata_bytes == own + 100 * sizeof(best_fit::node));
    for (auto& x : n)
        mm.remove(x);
    CHECK(mm.stats().metadata_bytes == own);
}

// ---- the address index ------------------------------------------------------------------------

// Many holes, found by address: every hole of the listing is a candidate in turn. low and high
// must take the lowest / highest hole that can hold the size inside the bounds, and reserve()
// any range inside a hole (and nothing that touches a node), however far the hole lies from
// either end of the space.
TEST_CASE("best_fit: low, high and reserve among thousands of holes") {
    const u64 space = u64{1} << 30;
    best_fit mm;
    REQUIRE(mm.init(0, space) == 0);
    // Holes of 1..8 pages between 1-page nodes: hole i is [start_i, start_i + (1 + i % 8) pages).
    const u64 page = 4096;
    std::deque<best_fit::node> nodes;
    std::vector<range> holes;
    u64 at = 0;
    for (unsigned i = 0; i < 3000; ++i) {
        const u64 size = (1 + i % 8) * page;
        holes.push_back({at, size});
        at += size;
        REQUIRE(mm.reserve(nodes.emplace_back(), at, page) == 0);
        at += page;
    }
    REQUIRE(mm.reserve(nodes.emplace_back(), at, space - at) == 0);
    CHECK(holes_of(mm) == holes);
    REQUIRE(mm.check_indexes());

    std::mt19937_64 rng(7);
    for (int round = 0; round < 400; ++round) {
        CAPTURE(round);
        const u64 size = (1 + rng() % 8) * page - rng() % 2 * 512; // sometimes not page-sized
        const u64 lo = rng() % at, last = lo + rng() % (at - lo);
        const bool high = rng() % 2;
        // The answer by brute force over the listing, in address order.
        std::vector<range> hs = holes_of(mm);
        u64 want = u64_max;
        for (std::size_t k = 0; k < hs.size(); ++k) {
            const range& h = hs[high ? hs.size() - 1 - k : k];
            const u64 cl = std::max(h.start, lo), cr = std::min(h.last(), last);
            u64 s;
            if (h.size >= size && cl <= cr && place_in(cl, cr, size, page, high, s)) {
                want = s;
                break;
            }
        }
        best_fit::node n;
        const int r = mm.insert(n, {.size = size, .alignment = page, .lo = lo, .last = last,
                                    .mode = high ? placement::high : placement::low});
        if (want == u64_max) {
            CHECK(r == -ENOSPC);
            continue;
        }
        REQUIRE(r == 0);
        CHECK(n.start() == want);
        mm.remove(n);
    }
    // reserve: inside a hole anywhere, touching a node never.
    for (int round = 0; round < 400; ++round) {
        CAPTURE(round);
        const range& h = holes[rng() % holes.size()];
        const u64 off = rng() % h.size, len = 1 + rng() % (h.size - off);
        best_fit::node n;
        REQUIRE(mm.reserve(n, h.start + off, len) == 0);
        CHECK(n.start() == h.start + off);
        CHECK(n.size() == len);
        best_fit::node m;
        CHECK(mm.reserve(m, h.start + off, len) == -ENOSPC);            // taken
        CHECK(mm.reserve(m, h.start + h.size - 1, 2) == -ENOSPC);       // runs into the next node
        CHECK(mm.reserve(m, h.start + h.size, 1) == -ENOSPC);           // is that node
        mm.remove(n);
    }
    CHECK(holes_of(mm) == holes);
    CHECK(mm.check_indexes());
}

// Both indexes checked against the listings after every operation of a random mix, by
// best_fit::check_indexes(): the address tree holds every node in order with threads to its
// neighbours, heap order and subtree bounds at least the largest hole below; every hole is in
// the tree of its size class, in (size, start) order, and nothing else is; counts agree.
TEST_CASE("best_fit: both indexes stay consistent under random operations and scans") {
    const std::uint64_t seed = test::pick_seed(0);
    INFO("seed=" << seed);
    std::mt19937_64 rng(seed);
    auto uniform = [&](u64 lo, u64 hi) { return std::uniform_int_distribution<u64>(lo, hi)(rng); };
    best_fit mm;
    const u64 space = u64{1} << 24;
    REQUIRE(mm.init(1000, space) == 0);
    std::deque<best_fit::node> pool(600);
    std::vector<best_fit::node*> live, spare;
    for (auto& x : pool)
        spare.push_back(&x);
    for (int step = 0; step < 20000; ++step) {
        CAPTURE(step);
        const auto op = uniform(0, 9);
        if ((op < 4 || spare.empty()) && !live.empty()) {
            const std::size_t k = uniform(0, live.size() - 1);
            mm.remove(*live[k]);
            spare.push_back(live[k]);
            live[k] = live.back();
            live.pop_back();
        } else if (op == 4 && !spare.empty()) {
            const u64 size = uniform(1, 1 << 16), start = 1000 + uniform(0, space - size);
            if (mm.reserve(*spare.back(), start, size) == 0) {
                live.push_back(spare.back());
                spare.pop_back();
            }
        } else if (op == 5 && live.size() > 8) { // a scan adds and takes back some blocks
            best_fit::scan scan;
            REQUIRE(scan.init(mm, {.size = uniform(1, 1 << 18), .mode = uniform(0, 1) ? placement::low
                                                                                      : placement::high}) == 0);
            std::vector<best_fit::node*> added;
            for (std::size_t k = 0; k < 8; ++k) {
                added.push_back(live[(k * 7 + static_cast<std::size_t>(step)) % live.size()]);
                if (std::count(added.begin(), added.end() - 1, added.back())) {
                    added.pop_back();
                    continue;
                }
                if (scan.add_block(*added.back()))
                    break;
            }
            for (auto it = added.rbegin(); it != added.rend(); ++it)
                scan.remove_block(**it);
        } else if (!spare.empty()) {
            const auto m = uniform(0, 2);
            const alloc_request req{.size = uniform(1, 1 << 17),
                                    .alignment = uniform(0, 3) ? u64{1} << uniform(0, 16) : uniform(1, 5000),
                                    .mode = m == 0 ? placement::best : m == 1 ? placement::low : placement::high};
            if (mm.insert(*spare.back(), req) == 0) {
                live.push_back(spare.back());
                spare.pop_back();
            }
        }
        REQUIRE(mm.check_indexes());
    }
}

// The treap under both indexes, alone, against std::set: insert by key, insert_after, erase,
// replace, neighbours, first/last, and the bounded searches of the augmented variant.
namespace {
struct test_item {
    detail::treap_max_links l{};
    u64 key = 0, value = 0;
};
struct test_traits {
    using links = detail::treap_max_links;
    static constexpr bool augmented = true;
    static const test_item* item(const links* x) { return reinterpret_cast<const test_item*>(x); }
    bool less(const links* a, const links* b) const { return item(a)->key < item(b)->key; }
    u64 value(const links* x) const { return item(x)->value; }
};
} // namespace

TEST_CASE("best_fit: threaded_treap against std::set") {
    static_assert(offsetof(test_item, l) == 0);
    using treap = detail::threaded_treap<test_traits>;
    std::mt19937_64 rng(11);
    std::deque<test_item> items(2000);
    for (std::size_t i = 0; i < items.size(); ++i)
        items[i].key = i * 10;
    treap t;
    std::set<u64> in; // keys in the tree
    auto at = [&](u64 key) { return &items[key / 10].l; };
    for (int step = 0; step < 40000; ++step) {
        CAPTURE(step);
        const u64 key = (rng() % items.size()) * 10;
        test_item& it = items[key / 10];
        if (!in.count(key)) {
            it.value = rng() % 1000;
            auto nx = in.upper_bound(key);
            if (rng() % 2 && nx != in.begin()) { // position known: right after its predecessor
                // insert_after() wants the new value covered by the predecessor's old bound:
                // give the predecessor a larger value first (bounds only ever need raising).
                test_item& p = items[*std::prev(nx) / 10];
                if (p.value < it.value) {
                    t.erase(&p.l);
                    p.value = it.value;
                    t.insert(&p.l);
                }
                t.insert_after(&p.l, &it.l);
            } else {
                t.insert(&it.l);
            }
            in.insert(key);
        } else if (rng() % 3) {
            auto self = in.find(key);
            test_item* grown = nullptr;
            if (self != in.begin() && rng() % 2) { // the predecessor's value grows meanwhile
                grown = &items[*std::prev(self) / 10];
                grown->value += rng() % 500;
            }
            t.erase(&it.l, grown ? &grown->l : nullptr);
            in.erase(key);
        }
        if (step % 97 == 0) {
            REQUIRE(t.check() == static_cast<long long>(in.size()));
            // Neighbours, ends and the two searches against brute force.
            if (!in.empty()) {
                CHECK(t.first() == at(*in.begin()));
                CHECK(t.last() == at(*in.rbegin()));
                u64 prev_key = u64_max;
                for (u64 k : in) {
                    const auto* p = treap::prev(at(k));
                    CHECK(p == (prev_key == u64_max ? nullptr : at(prev_key)));
                    prev_key = k;
                }
            }
            const u64 v = rng() % 1000, bound = rng() % (items.size() * 10);
            const test_item* want_first = nullptr;
            const test_item* want_last = nullptr;
            for (u64 k : in) {
                const test_item& x = items[k / 10];
                if (k >= bound && x.value >= v && !want_first)
                    want_first = &x;
                if (k <= bound && x.value >= v)
                    want_last = &x;
            }
            auto found_first = t.first_with([&](const treap::links* x) { return test_traits::item(x)->key >= bound; }, v);
            auto found_last = t.last_with([&](const treap::links* x) { return test_traits::item(x)->key <= bound; }, v);
            CHECK(found_first == (want_first ? &want_first->l : nullptr));
            CHECK(found_last == (want_last ? &want_last->l : nullptr));
            REQUIRE(t.check() == static_cast<long long>(in.size())); // the searches' tightening kept the bounds
        }
    }
}

// ---- eviction scan (drm_mm_scan) -------------------------------------------------------------

namespace {

struct scan_outcome {
    bool found = false;
    range hit{};
    std::vector<best_fit::node*> evict;
};

/// Adds `order` until the scan reports a fit, then removes every added block in reverse order.
scan_outcome run_scan(best_fit& mm, const alloc_request& req, const std::vector<best_fit::node*>& order) {
    best_fit::scan scan;
    REQUIRE(scan.init(mm, req) == 0);
    std::vector<best_fit::node*> added;
    scan_outcome out;
    for (best_fit::node* n : order) {
        added.push_back(n);
        if (scan.add_block(*n)) {
            out.found = true;
            break;
        }
    }
    CHECK(scan.found() == out.found);
    out.hit = scan.hit();
    for (auto it = added.rbegin(); it != added.rend(); ++it)
        if (scan.remove_block(**it))
            out.evict.push_back(*it);
    return out;
}

} // namespace

TEST_CASE("best_fit: eviction scan on a full space") {
    best_fit mm;
    REQUIRE(mm.init(0, 4096) == 0);
    std::deque<best_fit::node> n(16);
    for (auto& x : n)
        REQUIRE(mm.insert(x, {.size = 256}) == 0);
    assert_no_holes(mm);
    best_fit::node big;
    CHECK(mm.insert(big, {.size = 1024}) == -ENOSPC);

    SUBCASE("low: LRU order 9, 3, 4, 5, 6, 7 frees [768, 1792)") {
        std::vector<best_fit::node*> lru{&n[9], &n[3], &n[4], &n[5], &n[6], &n[7]};
        auto out = run_scan(mm, {.size = 1024, .mode = placement::low}, lru);
        REQUIRE(out.found);
        CHECK(out.hit == range{768, 1024});
        // Blocks 3..6 overlap the hit range; 9 was scanned but lies elsewhere; 7 was never added.
        std::vector<best_fit::node*> want{&n[6], &n[5], &n[4], &n[3]};
        CHECK(out.evict == want);
        assert_no_holes(mm); // the scan itself changed nothing
        for (auto* e : out.evict)
            mm.remove(*e);
        REQUIRE(mm.insert_evict(big, {.size = 1024, .mode = placement::low}) == 0);
        CHECK(big.start() == 768);
        assert_no_holes(mm);
    }
    SUBCASE("high with alignment: the top of the merged range, rounded down") {
        std::vector<best_fit::node*> lru{&n[1], &n[2], &n[3], &n[4], &n[5]};
        auto out = run_scan(mm, {.size = 800, .alignment = 100, .mode = placement::high}, lru);
        REQUIRE(out.found);
        // After 1..3 the run [256, 1024) would need start 224 -> 200 < 256; after 4 the run
        // [256, 1280) gives top start 480, rounded down to 400.
        CHECK(out.hit == range{400, 800});
        std::vector<best_fit::node*> want{&n[4], &n[3], &n[2], &n[1]};
        CHECK(out.evict == want);
        for (auto* e : out.evict)
            mm.remove(*e);
        REQUIRE(mm.insert_evict(big, {.size = 800, .alignment = 100, .mode = placement::high}) == 0);
        CHECK(big.start() == 400);
        CHECK(holes_of(mm) == std::vector<range>{{256, 144}, {1200, 80}});
    }
    SUBCASE("bounded: blocks outside the bounds never make a fit") {
        std::vector<best_fit::node*> lru{&n[0], &n[1], &n[2], &n[3], &n[8], &n[9]};
        auto out = run_scan(mm, {.size = 512, .lo = 2048, .last = 4095}, lru);
        REQUIRE(out.found);
        CHECK(out.hit == range{2048, 512});
        std::vector<best_fit::node*> want{&n[9], &n[8]};
        CHECK(out.evict == want);
    }
    SUBCASE("a scan that finds nothing evicts nothing") {
        std::vector<best_fit::node*> lru{&n[0], &n[2], &n[4], &n[6], &n[8]};
        auto out = run_scan(mm, {.size = 1024}, lru);
        CHECK_FALSE(out.found);
        CHECK(out.evict.empty());
        assert_no_holes(mm);
        CHECK(nodes_of(mm).size() == 16);
        best_fit::node x;
        CHECK(mm.insert(x, {.size = 1}) == -ENOSPC); // the manager is usable and unchanged
    }
}

// Random layouts and LRU orders: the blocks remove_block() picks are exactly those overlapping
// hit(); evicting them lets insert_evict() land on hit(); a scan leaves no trace in the manager.
TEST_CASE("best_fit: eviction scan, randomized against a brute-force model") {
    const std::uint64_t seed = test::pick_seed(0);
    INFO("seed=" << seed);
    std::mt19937_64 rng(seed);
    auto uniform = [&](u64 lo, u64 hi) { return std::uniform_int_distribution<u64>(lo, hi)(rng); };
    for (int round = 0; round < 300; ++round) {
        CAPTURE(round);
        best_fit mm;
        const u64 space = 1 << 16;
        REQUIRE(mm.init(0, space) == 0);
        std::deque<best_fit::node> pool(200);
        std::vector<best_fit::node*> live;
        for (auto& x : pool)
            if (mm.insert(x, {.size = uniform(1, 600), .alignment = uniform(0, 3) == 0 ? u64{64} : u64{0}}) == 0)
                live.push_back(&x);
        for (std::size_t i = 0; i < live.size() / 4; ++i) { // punch some holes
            std::size_t k = uniform(0, live.size() - 1);
            mm.remove(*live[k]);
            live.erase(live.begin() + static_cast<std::ptrdiff_t>(k));
        }
        const auto holes_before = holes_of(mm);
        const auto nodes_before = nodes_of(mm);
        const auto stats_before = mm.stats();

        alloc_request req{.size = uniform(1, 4000),
                          .alignment = uniform(0, 2) == 0 ? uniform(2, 300) : u64{0},
                          .mode = uniform(0, 1) ? placement::high : placement::low};
        if (uniform(0, 2) == 0) {
            req.lo = uniform(0, space / 2);
            req.last = uniform(req.lo, space - 1);
        }
        CAPTURE(req.size);
        CAPTURE(req.alignment);
        CAPTURE(req.lo);
        CAPTURE(req.last);
        std::vector<best_fit::node*> lru = live;
        std::shuffle(lru.begin(), lru.end(), rng);
        auto out = run_scan(mm, req, lru);

        // The scan left the manager exactly as it found it.
        REQUIRE(holes_of(mm) == holes_before);
        REQUIRE(nodes_of(mm) == nodes_before);
        REQUIRE(mm.stats().largest_hole == stats_before.largest_hole);
        REQUIRE(mm.stats().hole_count == stats_before.hole_count);
        if (!out.found) {
            CHECK(out.evict.empty());
            continue;
        }
        CHECK(out.hit.size == req.size);
        CHECK(out.hit.start >= req.lo);
        CHECK(out.hit.last() <= req.last);
        CHECK(out.hit.start % effective_alignment(req.alignment) == 0);
        // Exactly the live nodes overlapping hit() are chosen.
        std::vector<best_fit::node*> overlap;
        for (auto* x : live)
            if (x->start() <= out.hit.last() && out.hit.start <= x->start() + (x->size() - 1))
                overlap.push_back(x);
        auto sorted = out.evict;
        std::sort(sorted.begin(), sorted.end());
        std::sort(overlap.begin(), overlap.end());
        CHECK(sorted == overlap);
        for (auto* e : out.evict)
            mm.remove(*e);
        best_fit::node ins;
        REQUIRE(mm.insert_evict(ins, req) == 0); // hit() is free now, so something fits
        if (!out.evict.empty())
            CHECK(ins.start() == out.hit.start); // the hole the evictions opened holds hit()
    }
}

// LIFO bookkeeping: adding blocks so that runs of scanned nodes merge from both sides, then
// removing in reverse, must give every block back its own neighbourhood.
TEST_CASE("best_fit: eviction scan, merging runs and the reverse-order rule") {
    best_fit mm;
    REQUIRE(mm.init(0, 1000) == 0);
    std::deque<best_fit::node> n(10);
    for (auto& x : n)
        REQUIRE(mm.insert(x, {.size = 100}) == 0);
    best_fit::scan scan;
    REQUIRE(scan.init(mm, {.size = 500, .mode = placement::low}) == 0);
    // Runs {1}, {3}, {5} then 2 joins 1 and 3, 4 joins them with 5: run [100, 600) on the 5th add.
    CHECK_FALSE(scan.add_block(n[1]));
    CHECK_FALSE(scan.add_block(n[3]));
    CHECK_FALSE(scan.add_block(n[5]));
    CHECK_FALSE(scan.add_block(n[2]));
    CHECK(scan.add_block(n[4]));
    CHECK(scan.hit() == range{100, 500});
    CHECK(scan.remove_block(n[4]));
    CHECK(scan.remove_block(n[2]));
    CHECK(scan.remove_block(n[5]));
    CHECK(scan.remove_block(n[3]));
    CHECK(scan.remove_block(n[1]));
    // A second scan in the same manager sees fresh runs: 0 alone opens [0, 100) only.
    REQUIRE(scan.init(mm, {.size = 150}) == 0);
    CHECK_FALSE(scan.add_block(n[0]));
    CHECK_FALSE(scan.add_block(n[9]));
    CHECK(scan.add_block(n[8]));
    CHECK(scan.hit() == range{800, 150});
    CHECK(scan.remove_block(n[8]));
    CHECK(scan.remove_block(n[9]));
    CHECK_FALSE(scan.remove_block(n[0]));
    CHECK(scan.init(mm, {.size = 0}) == -EINVAL);
    assert_no_holes(mm);
}

// ---- find by address (mm::range_lookup, what the fake mmap offset index uses) ---------------

static_assert(range_lookup<best_fit>);

namespace {

/// The allocated range holding `addr`, by brute force over nodes(): the reference for find().
std::optional<range> brute_find(const best_fit& mm, u64 addr) {
    for (range r : mm.nodes())
        if (r.start <= addr && addr <= r.last())
            return r;
    return std::nullopt;
}

/// Allocated start -> the caller's node, so a find() answer can be checked for identity.
using owner_map = std::map<u64, const best_fit::node*>;

/// find(addr) agrees with brute force and answers the caller's own node.
void check_find_at(const best_fit& mm, const owner_map& owner, u64 addr) {
    CAPTURE(addr);
    const best_fit::node* n = mm.find(addr);
    const std::optional<range> want = brute_find(mm, addr);
    REQUIRE((n != nullptr) == want.has_value());
    if (!n)
        return;
    REQUIRE(n->allocated());
    CHECK(n->start() == want->start);
    CHECK(n->size() == want->size);
    const auto it = owner.find(want->start);
    REQUIRE(it != owner.end());
    CHECK(it->second == n);
}

/// Every piece of the space (nodes and holes merged, test::pieces_of): its first and last byte
/// and one byte inside; the bytes just outside the space; and random addresses over the space
/// and around it, against brute force.
void check_find_everywhere(const best_fit& mm, const owner_map& owner, range space, std::mt19937_64& rng) {
    for (const test::piece& p : test::pieces_of(mm)) {
        CAPTURE(p.r.start);
        CAPTURE(p.r.size);
        CAPTURE(p.hole);
        for (u64 a : {p.r.start, p.r.last(), p.r.start + rng() % p.r.size}) {
            CAPTURE(a);
            const best_fit::node* n = mm.find(a);
            if (p.hole) {
                CHECK(n == nullptr);
            } else {
                REQUIRE(n != nullptr);
                CHECK(n->start() == p.r.start);
                CHECK(n->size() == p.r.size);
                CHECK(owner.at(p.r.start) == n);
            }
        }
    }
    if (space.start != 0)
        CHECK(mm.find(space.start - 1) == nullptr);
    if (space.last() != u64_max)
        CHECK(mm.find(space.last() + 1) == nullptr);
    // A window a quarter wider than the space on each side (mod 2^64: it may wrap around).
    const u64 margin = space.size / 4 + 1;
    for (int i = 0; i < 64; ++i)
        check_find_at(mm, owner, space.start - margin + rng() % (space.size + 2 * margin));
}

/// Random inserts (all modes, alignments, bounds), reserves and removes, with find() checked
/// everywhere every few steps and after every remove around the freed range.
void find_workload(range space, u64 max_size, std::size_t target_live, std::uint64_t seed) {
    INFO("space [" << space.start << ", +" << space.size << ") seed=" << seed);
    std::mt19937_64 rng(seed);
    auto below = [&](u64 n) { return n ? rng() % n : 0; };
    best_fit mm;
    REQUIRE(mm.init(space.start, space.size) == 0);
    std::deque<best_fit::node> nodes;
    std::vector<best_fit::node*> live, spare;
    owner_map owner;
    const double lmax = std::log2(static_cast<double>(max_size));
    for (int step = 0; step < 4000; ++step) {
        CAPTURE(step);
        if (!live.empty() && (live.size() > target_live ? below(3) != 0 : below(4) == 0)) {
            const std::size_t i = below(live.size());
            best_fit::node* n = live[i];
            live[i] = live.back();
            live.pop_back();
            const range was{n->start(), n->size()};
            REQUIRE(owner.erase(was.start) == 1);
            mm.remove(*n);
            spare.push_back(n);
            for (u64 a : {was.start, was.last()})
                CHECK(mm.find(a) == nullptr); // now a hole
        } else {
            best_fit::node* n;
            if (spare.empty()) {
                n = &nodes.emplace_back();
            } else {
                n = spare.back();
                spare.pop_back();
            }
            const u64 size = std::max<u64>(1, static_cast<u64>(std::exp2(std::uniform_real_distribution<double>(0, lmax)(rng))));
            int e;
            if (below(8) == 0) {
                e = size <= space.size ? mm.reserve(*n, space.start + below(space.size - size + 1), size) : -ENOSPC;
            } else {
                alloc_request req{.size = size, .alignment = below(3) == 0 ? u64{1} << below(12) : 0};
                req.mode = static_cast<placement>(below(3));
                e = mm.insert(*n, req);
            }
            if (e == 0) {
                owner.emplace(n->start(), n);
                live.push_back(n);
                CHECK(mm.find(n->start()) == n);
                CHECK(mm.find(n->start() + (n->size() - 1)) == n);
            } else {
                REQUIRE(e == -ENOSPC);
                spare.push_back(n);
            }
        }
        if (step % 97 == 0)
            check_find_everywhere(mm, owner, space, rng);
    }
    check_find_everywhere(mm, owner, space, rng);
    for (best_fit::node* n : live)
        mm.remove(*n);
    owner.clear();
    for (u64 a : {space.start, space.last(), space.start + space.size / 2})
        CHECK(mm.find(a) == nullptr);
}

} // namespace

TEST_CASE("best_fit: find() against brute force over nodes(), random workloads") {
    const std::uint64_t seed = test::pick_seed(0);
    SUBCASE("small space from 0, byte granular") { find_workload({0, 4096}, 64, 40, seed); }
    SUBCASE("4 GiB at 1 TiB, many nodes") { find_workload({u64{1} << 40, u64{1} << 32}, u64{1} << 24, 600, seed); }
    SUBCASE("a space ending at 2^64") { find_workload({u64_max - (u64{1} << 24) + 1, u64{1} << 24}, 1 << 16, 200, seed); }
    SUBCASE("the whole of [1, 2^64)") { find_workload({1, u64_max}, u64{1} << 62, 100, seed); }
    SUBCASE("the whole of [0, 2^64 - 1)") { find_workload({0, u64_max}, u64{1} << 62, 100, seed); }
}

TEST_CASE("best_fit: find() on an empty manager") {
    best_fit never_initialised;
    for (u64 a : {u64{0}, u64{1}, u64_max})
        CHECK(never_initialised.find(a) == nullptr);
    best_fit mm;
    REQUIRE(mm.init(4096, 8192) == 0);
    for (u64 a : {u64{0}, u64{4095}, u64{4096}, u64{8192}, u64{12287}, u64{12288}, u64_max})
        CHECK(mm.find(a) == nullptr);
    best_fit::node n;
    REQUIRE(mm.insert(n, {.size = 100}) == 0);
    CHECK(mm.find(4096) == &n);
    mm.remove(n);
    for (u64 a : {u64{4096}, u64{4195}, u64{12287}})
        CHECK(mm.find(a) == nullptr);
}

TEST_CASE("best_fit: find() with a single node filling the space") {
    auto one = [](u64 start, u64 size) {
        CAPTURE(start);
        CAPTURE(size);
        best_fit mm;
        REQUIRE(mm.init(start, size) == 0);
        best_fit::node n;
        REQUIRE(mm.reserve(n, start, size) == 0);
        const u64 last = start + (size - 1);
        CHECK(mm.find(start) == &n);
        CHECK(mm.find(last) == &n);
        CHECK(mm.find(start + size / 2) == &n);
        if (start != 0)
            CHECK(mm.find(start - 1) == nullptr);
        if (last != u64_max)
            CHECK(mm.find(last + 1) == nullptr);
    };
    one(0, 1);
    one(0, 4096);
    one(u64_max, 1);                          // the last byte of the 64-bit space
    one(u64_max - 4095, 4096);                // touching 2^64
    one(1, u64_max);                          // [1, 2^64)
    one(0, u64_max);                          // [0, 2^64 - 1)
}

TEST_CASE("best_fit: find() at the boundaries of adjacent nodes and at 2^64") {
    best_fit mm;
    const u64 start = u64_max - 4095; // [2^64 - 4096, 2^64)
    REQUIRE(mm.init(start, 4096) == 0);
    best_fit::node a, b, c, d;
    REQUIRE(mm.reserve(a, start, 1) == 0);          // first byte of the space, no hole before
    REQUIRE(mm.reserve(b, start + 1, 99) == 0);     // adjacent to a: a has no hole
    REQUIRE(mm.reserve(c, start + 200, 56) == 0);   // a hole [start + 100, start + 200) before it
    REQUIRE(mm.reserve(d, u64_max - 15, 16) == 0);  // ends at 2^64
    CHECK(mm.find(start - 1) == nullptr);
    CHECK(mm.find(start) == &a);
    CHECK(mm.find(start + 1) == &b);
    CHECK(mm.find(start + 99) == &b);
    CHECK(mm.find(start + 100) == nullptr);
    CHECK(mm.find(start + 199) == nullptr);
    CHECK(mm.find(start + 200) == &c);
    CHECK(mm.find(start + 255) == &c);
    CHECK(mm.find(start + 256) == nullptr);
    CHECK(mm.find(u64_max - 16) == nullptr);
    CHECK(mm.find(u64_max - 15) == &d);
    CHECK(mm.find(u64_max) == &d);
    CHECK(mm.find(0) == nullptr); // wraps past 2^64: outside the space
    mm.remove(b);                 // a's hole grows over b's range
    CHECK(mm.find(start) == &a);
    CHECK(mm.find(start + 1) == nullptr);
    CHECK(mm.find(start + 199) == nullptr);
    CHECK(mm.find(start + 200) == &c);
}

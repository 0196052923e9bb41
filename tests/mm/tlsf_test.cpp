// SPDX-License-Identifier: MIT
// The TLSF policy: concept conformance, errno paths, randomized differential runs against naive
// (placement may differ, state and statistics may not), the cases where a segregated-fit search
// could miss a hole that best fit finds, and alignment up to 2^63 over the whole 64-bit space.
#include "differential.hpp"

#include <accel/mm/range/tlsf.hpp>

#include <algorithm>
#include <deque>
#include <random>
#include <vector>

using namespace accel::mm;

static_assert(range_manager<tlsf>);
static_assert(diagnose_range_manager<tlsf>());
static_assert(!tlsf::any_alignment);

namespace {

std::vector<range> listing(const auto& r) {
    std::vector<range> v;
    for (range x : r)
        v.push_back(x);
    return v;
}

/// Leaves exactly one hole [hole, hole + len) in [0, space): everything else is reserved.
void leave_one_hole(tlsf& m, std::deque<tlsf::node>& keep, u64 space, u64 hole, u64 len) {
    REQUIRE(m.init(0, space) == 0);
    if (hole > 0)
        REQUIRE(m.reserve(keep.emplace_back(), 0, hole) == 0);
    if (hole + len < space)
        REQUIRE(m.reserve(keep.emplace_back(), hole + len, space - hole - len) == 0);
    REQUIRE(listing(m.holes()) == std::vector<range>{{hole, len}});
}

} // namespace

TEST_CASE("tlsf: errno paths") {
    test::check_common_errnos<tlsf>(4096);
    test::check_common_errnos<tlsf>(1);
    tlsf m;
    REQUIRE(m.init(0, 1 << 20) == 0);
    tlsf::node n;
    CHECK(m.insert(n, {.size = 4096, .alignment = 4096 + 2048}) == -EINVAL); // not a power of two
    CHECK(m.insert(n, {.size = 4096, .alignment = 1}) == 0);                  // 1 means none
}

TEST_CASE("tlsf: placement modes and bounds") {
    tlsf m;
    REQUIRE(m.init(0, 7) == 0);
    tlsf::node a, b, c;
    REQUIRE(m.reserve(a, 1, 1) == 0);
    REQUIRE(m.reserve(b, 5, 1) == 0);
    CHECK(listing(m.holes()) == std::vector<range>{{0, 1}, {2, 3}, {6, 1}});
    SUBCASE("low") {
        REQUIRE(m.insert(c, {.size = 2, .mode = placement::low}) == 0);
        CHECK(c.start() == 2);
    }
    SUBCASE("high allocates at the top of the highest hole") {
        REQUIRE(m.insert(c, {.size = 2, .mode = placement::high}) == 0);
        CHECK(c.start() == 3);
        tlsf::node d;
        REQUIRE(m.insert(d, {.size = 1, .mode = placement::high}) == 0);
        CHECK(d.start() == 6);
    }
    SUBCASE("low with a lower bound skips the holes below it") {
        REQUIRE(m.insert(c, {.size = 1, .lo = 3, .mode = placement::low}) == 0);
        CHECK(c.start() == 3);
    }
    SUBCASE("bounded best takes the smallest hole inside the bounds") {
        REQUIRE(m.insert(c, {.size = 1, .lo = 2, .last = 6}) == 0);
        CHECK(c.start() == 6); // [6,7) is smaller than [2,5)
    }
    SUBCASE("bounds that clip every hole too small") {
        CHECK(m.insert(c, {.size = 2, .lo = 4, .last = 6}) == -ENOSPC);
        CHECK_FALSE(c.allocated());
    }
}

TEST_CASE("tlsf: freeing coalesces at once, listings are in address order") {
    tlsf m;
    REQUIRE(m.init(4096, 16 * 4096) == 0);
    tlsf::node n[4];
    for (auto& x : n)
        REQUIRE(m.insert(x, {.size = 4096}) == 0);
    CHECK(listing(m.nodes()) ==
          std::vector<range>{{4096, 4096}, {2 * 4096, 4096}, {3 * 4096, 4096}, {4 * 4096, 4096}});
    m.remove(n[1]);
    m.remove(n[3]); // merges with the tail hole
    CHECK(listing(m.holes()) == std::vector<range>{{2 * 4096, 4096}, {4 * 4096, 13 * 4096}});
    m.remove(n[2]); // bridges both holes
    CHECK(listing(m.holes()) == std::vector<range>{{2 * 4096, 15 * 4096}});
    auto s = m.stats();
    CHECK(s.hole_count == 1);
    CHECK(s.free_bytes == 15 * 4096);
    CHECK(s.largest_hole == 15 * 4096);
    m.remove(n[0]);
    CHECK(listing(m.holes()) == std::vector<range>{{4096, 16 * 4096}});
    CHECK(listing(m.nodes()).empty());
}

TEST_CASE("tlsf: never fails where a best-fit search succeeds") {
    tlsf m;
    std::deque<tlsf::node> keep;
    tlsf::node n;
    const u64 space = u64{1} << 32;
    SUBCASE("the only hole is size + alignment - 1 bytes with a misaligned start") {
        // Good fit would look for size + align - 1 rounded up to a bin: no such hole exists.
        for (u64 align : {u64{2}, u64{4096}, u64{1} << 21, u64{1} << 30}) {
            CAPTURE(align);
            tlsf one;
            std::deque<tlsf::node> sep;
            const u64 size = 3 * 4096 + 5;
            leave_one_hole(one, sep, space, align + 1, size + align - 1);
            REQUIRE(one.insert(n, {.size = size, .alignment = align}) == 0);
            CHECK(n.start() == 2 * align);
            CHECK(listing(one.holes()) == std::vector<range>{{align + 1, align - 1}}); // the padding
            one.remove(n);
            CHECK(one.insert(n, {.size = size + 1, .alignment = align}) == -ENOSPC);
        }
    }
    SUBCASE("the only hole is exactly the size and aligned") {
        const u64 size = (u64{1} << 20) + 4096; // bin floor is below it: same bin, may not fit
        leave_one_hole(m, keep, space, u64{1} << 21, size);
        REQUIRE(m.insert(n, {.size = size, .alignment = u64{1} << 21}) == 0);
        CHECK(n.start() == u64{1} << 21);
        CHECK(m.stats().free_bytes == 0);
    }
    SUBCASE("the one fitting hole is behind many others of the same bin") {
        // 64 holes of 0x11000 bytes (one bin), each 4 KiB past a 1 MiB boundary except the
        // lowest, which is aligned. Holes are filed at the head of their bin as reserve() cuts
        // them in address order, so the only fitting one ends up last in the bin's list.
        REQUIRE(m.init(0, space) == 0);
        std::vector<tlsf::node> fill(65);
        u64 end = 0; // end of the previous hole
        for (u64 i = 0; i < 64; ++i) {
            const u64 hole = (i + 1) * 0x100000 + (i == 0 ? 0 : 0x1000);
            REQUIRE(m.reserve(fill[i], end, hole - end) == 0);
            end = hole + 0x11000;
        }
        REQUIRE(m.reserve(fill[64], end, space - end) == 0);
        CHECK(m.stats().hole_count == 64);
        REQUIRE(m.insert(n, {.size = 0x11000, .alignment = 0x10000}) == 0);
        CHECK(n.start() == 0x100000);
        CHECK(m.insert(keep.emplace_back(), {.size = 0x11000, .alignment = 0x10000}) == -ENOSPC);
    }
    SUBCASE("an exactly sized hole is preferred to splitting a large one") {
        REQUIRE(m.init(0, space) == 0);
        tlsf::node a, b, c;
        REQUIRE(m.reserve(a, 0, 4096) == 0);
        REQUIRE(m.reserve(b, 4096 + 65536, 4096) == 0); // hole [4096, 4096 + 64 KiB)
        REQUIRE(m.insert(c, {.size = 65536, .alignment = 4096}) == 0);
        CHECK(c.start() == 4096);
    }
}

TEST_CASE("tlsf: alignment up to 2^63 across the whole 64-bit space") {
    for (u64 base : {u64{0}, u64{1}}) {
        CAPTURE(base);
        tlsf m;
        REQUIRE(m.init(base, ~u64{0}) == 0); // [0, 2^64 - 1) or [1, 2^64)
        tlsf::node n[63];
        for (unsigned bit = 63; bit >= 1; --bit) {
            CAPTURE(bit);
            const u64 align = u64{1} << bit;
            REQUIRE(m.insert(n[bit - 1], {.size = (u64{1} << (bit - 1)) + 1, .alignment = align}) == 0);
            CHECK(n[bit - 1].start() % align == 0);
            CHECK(n[bit - 1].start() >= base);
        }
        auto s = m.stats();
        u64 used = 0;
        for (range r : m.nodes())
            used += r.size;
        CHECK(s.free_bytes == ~u64{0} - used);
        u64 free = 0;
        for (range h : m.holes())
            free += h.size;
        CHECK(free == s.free_bytes);
        tlsf::node top;
        if (base == 1)
            CHECK(m.reserve(top, ~u64{0}, 1) == 0); // the last byte, touching 2^64
        for (auto& x : n)
            m.remove(x);
        if (top.allocated())
            m.remove(top);
        CHECK(listing(m.holes()) == std::vector<range>{{base, ~u64{0}}});
    }
}

TEST_CASE("tlsf: a space ending at 2^64 fills completely and drains back") {
    tlsf m;
    const u64 size = u64{1} << 20;
    REQUIRE(m.init(u64{0} - size, size) == 0);
    std::vector<tlsf::node> n(256);
    for (auto& x : n)
        REQUIRE(m.insert(x, {.size = 4096, .alignment = 4096}) == 0);
    CHECK(n.back().start() + (n.back().size() - 1) == ~u64{0});
    tlsf::node extra;
    CHECK(m.insert(extra, {.size = 1}) == -ENOSPC);
    CHECK(m.stats().hole_count == 0);
    CHECK(listing(m.holes()).empty());
    m.remove(n.back());
    CHECK(listing(m.holes()) == std::vector<range>{{u64{0} - 4096, 4096}});
    REQUIRE(m.insert(extra, {.size = 4096, .mode = placement::high}) == 0);
    CHECK(extra.start() == u64{0} - 4096);
}

TEST_CASE("tlsf: an allocated node may be moved (records do not point back at it)") {
    tlsf m;
    REQUIRE(m.init(0, u64{1} << 30) == 0);
    std::vector<tlsf::node> v;
    for (u64 i = 0; i < 1000; ++i) { // the vector reallocates and moves allocated nodes
        v.emplace_back();
        REQUIRE(m.insert(v.back(), {.size = 4096 * (1 + i % 5), .alignment = 4096}) == 0);
    }
    for (std::size_t i = 0; i < v.size(); i += 2)
        m.remove(v[i]);
    for (std::size_t i = 1; i < v.size(); i += 2) {
        CHECK(v[i].allocated());
        m.remove(v[i]);
    }
    CHECK(listing(m.holes()) == std::vector<range>{{0, u64{1} << 30}});
    CHECK(m.stats().hole_count == 1);
}

TEST_CASE("tlsf: metadata is the pool plus one pointer per node") {
    tlsf m;
    REQUIRE(m.init(0, u64{1} << 34) == 0);
    const u64 empty = m.stats().metadata_bytes;
    std::vector<tlsf::node> n(20000);
    for (std::size_t i = 0; i < n.size(); ++i)
        REQUIRE(m.insert(n[i], {.size = 4096 * (1 + i % 37), .alignment = 4096}) == 0);
    for (std::size_t i = 0; i < n.size(); i += 2)
        m.remove(n[i]);
    const auto s = m.stats();
    CHECK(s.metadata_bytes > empty);
    CHECK(sizeof(tlsf::node) == sizeof(void*));
    // 32-byte records for the high-water mark of allocations, and the live nodes.
    CHECK(s.metadata_bytes <= empty + 20000 * 32 + 10000 * sizeof(tlsf::node) + 64 * 1024);
}

TEST_CASE("tlsf: size classes are the top five significant bits") {
    // Reference: below 16 the size itself; else row = position of the top bit - 3, and the four
    // bits under the top one pick one of 16 linear classes.
    auto reference = [](u64 s) -> unsigned {
        if (s < 16)
            return static_cast<unsigned>(s);
        const unsigned top = 63u - static_cast<unsigned>(std::countl_zero(s));
        return (top - 3) * 16 + static_cast<unsigned>((s >> (top - 4)) & 15);
    };
    for (u64 s = 1; s < 5000; ++s)
        CHECK(tlsf::size_class(s) == reference(s));
    for (unsigned k = 4; k < 64; ++k)
        for (u64 d : {u64{0}, u64{1}, u64{2}}) {
            const u64 s = (u64{1} << k) - 1 + d;
            CHECK(tlsf::size_class(s) == reference(s));
        }
    CHECK(tlsf::size_class(~u64{0}) == tlsf::size_classes - 1);
    for (u64 s = 1; s < (u64{1} << 20); s = s * 3 / 2 + 1)
        CHECK(tlsf::size_class(s) <= tlsf::size_class(s + 1)); // monotonic
}

namespace {
/// The bins hold exactly the holes, each once, in its size class; the bitmaps mark exactly the
/// non-empty bins; and the bins agree with the statistics.
void check_bins(const tlsf& m) {
    std::vector<range> filed;
    std::vector<bool> seen(tlsf::size_classes, false);
    m.visit_size_classes([&](unsigned b, range h) {
        CHECK(b == tlsf::size_class(h.size));
        seen[b] = true;
        filed.push_back(h);
    });
    for (unsigned b = 0; b < tlsf::size_classes; ++b)
        CHECK(m.size_class_marked(b) == seen[b]);
    std::sort(filed.begin(), filed.end(), [](range a, range b) { return a.start < b.start; });
    CHECK(filed == listing(m.holes()));
    const auto s = m.stats();
    CHECK(filed.size() == s.hole_count);
    u64 bytes = 0, largest = 0;
    for (range h : filed) {
        bytes += h.size;
        largest = std::max(largest, h.size);
    }
    CHECK(bytes == s.free_bytes);
    CHECK(largest == s.largest_hole);
}
} // namespace

TEST_CASE("tlsf: bins stay consistent with holes() through inserts, reserves and removes") {
    tlsf m;
    const u64 space = u64{1} << 28;
    REQUIRE(m.init(4096, space) == 0);
    std::mt19937_64 rng(20261127);
    std::vector<tlsf::node> n(600);
    for (int step = 0; step < 20000; ++step) {
        tlsf::node& x = n[rng() % n.size()];
        if (x.allocated()) {
            m.remove(x);
        } else if (rng() % 8 == 0) {
            (void)m.reserve(x, 4096 + (rng() % (space >> 12)) * 4096, 4096 * (1 + rng() % 16));
        } else {
            alloc_request r;
            r.size = 1 + rng() % (1 << 20);
            r.alignment = u64{1} << (rng() % 22);
            r.mode = static_cast<placement>(rng() % 3);
            if (rng() % 4 == 0) {
                r.lo = rng() % space;
                r.last = r.lo + rng() % space;
            }
            (void)m.insert(x, r);
        }
        if (step % 97 == 0)
            check_bins(m);
    }
    check_bins(m);
    for (tlsf::node& x : n)
        if (x.allocated())
            m.remove(x);
    check_bins(m);
    CHECK(listing(m.holes()) == std::vector<range>{{4096, space}});
}

TEST_CASE("tlsf: freed records are reused, so the pool stays at the high-water mark") {
    tlsf m;
    REQUIRE(m.init(0, u64{1} << 34) == 0);
    std::vector<tlsf::node> n(5000);
    auto fill = [&] {
        for (std::size_t i = 0; i < n.size(); ++i)
            REQUIRE(m.insert(n[i], {.size = 4096 * (1 + i % 13), .alignment = 4096}) == 0);
    };
    auto drain = [&](std::size_t first, std::size_t step) {
        for (std::size_t i = first; i < n.size(); i += step)
            m.remove(n[i]);
    };
    fill();
    const u64 full = m.stats().metadata_bytes;
    drain(0, 1);
    const u64 empty_after = m.stats().metadata_bytes;
    // Nodes are gone, the pool is not: it is the high-water mark.
    CHECK(empty_after == full - n.size() * sizeof(tlsf::node));
    for (int round = 0; round < 5; ++round) {
        fill();
        CHECK(m.stats().metadata_bytes == full); // no growth: every record came from the free list
        drain(round % 2, 2);
        drain(1 - round % 2, 2);
    }
    CHECK(m.stats().metadata_bytes == empty_after);
}

TEST_CASE("tlsf: differential, 4 GiB space, 4 KiB granule, alignment up to 2 MiB") {
    test::differential_config cfg;
    cfg.space_size = u64{1} << 32;
    cfg.granule = 4096;
    cfg.min_size = 4096;
    cfg.max_size = u64{64} << 20;
    cfg.max_align_log2 = 21;
    cfg.target_live = 400;
    test::run_differential<tlsf>(cfg);
}

TEST_CASE("tlsf: differential, small space with byte granule") {
    test::differential_config cfg;
    cfg.space_start = 3;
    cfg.space_size = 1 << 17; // small enough that requests often find no room
    cfg.granule = 1;
    cfg.min_size = 1;
    cfg.max_size = 4096;
    cfg.max_align_log2 = 12;
    cfg.target_live = 300;
    test::run_differential<tlsf>(cfg);
}

TEST_CASE("tlsf: differential, a space ending at 2^64") {
    test::differential_config cfg;
    cfg.space_size = u64{1} << 36;
    cfg.space_start = u64{0} - cfg.space_size;
    cfg.granule = 4096;
    cfg.min_size = 4096;
    cfg.max_size = u64{1} << 30;
    cfg.max_align_log2 = 32;
    cfg.target_live = 200;
    test::run_differential<tlsf>(cfg);
}

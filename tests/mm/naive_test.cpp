// SPDX-License-Identifier: MIT
// The reference policy itself: its placement rules, errno paths and a self-differential run
// (naive against naive, which checks the harness and naive's bookkeeping).
#include "differential.hpp"

#include <accel/mm/range/naive.hpp>
#include <accel/mm/range_allocator.hpp>

using namespace accel::mm;

TEST_CASE("naive: errno paths") { test::check_common_errnos<naive>(4096); }

TEST_CASE("naive: placement modes") {
    naive m;
    REQUIRE(m.init(0, 7) == 0);
    naive::node a, b, c;
    REQUIRE(m.reserve(a, 1, 1) == 0);
    REQUIRE(m.reserve(b, 5, 1) == 0);
    SUBCASE("low") {
        REQUIRE(m.insert(c, {.size = 2, .mode = placement::low}) == 0);
        CHECK(c.start() == 2);
    }
    SUBCASE("high") {
        REQUIRE(m.insert(c, {.size = 2, .mode = placement::high}) == 0);
        CHECK(c.start() == 3);
    }
    SUBCASE("best picks the smallest hole") {
        REQUIRE(m.insert(c, {.size = 1}) == 0);
        CHECK(c.start() == 0); // [0,1) and [6,7) tie at size 1: lowest address wins
    }
}

TEST_CASE("naive: full 64-bit space and alignment up to 2^63") {
    naive m;
    REQUIRE(m.init(1, ~0ull) == 0); // [1, 2^64)
    naive::node n[63];
    for (unsigned bit = 63; bit >= 1; --bit) {
        CAPTURE(bit);
        REQUIRE(m.insert(n[bit - 1], {.size = (1ull << (bit - 1)) + 1, .alignment = 1ull << bit}) == 0);
        CHECK(n[bit - 1].start() % (1ull << bit) == 0);
    }
    naive::node top;
    CHECK(m.reserve(top, ~0ull, 1) == 0); // the last byte, touching 2^64
}

TEST_CASE("naive: differential self-check") {
    test::differential_config cfg;
    cfg.exact = true;
    cfg.non_pow2_alignment = true;
    cfg.ops = 20000;
    test::run_differential<naive>(cfg);
}

TEST_CASE("range_allocator: ids and errors") {
    range_allocator<naive> a;
    REQUIRE(a.init(0, 1 << 20) == 0);
    auto x = a.alloc({.size = 4096});
    REQUIRE(x);
    CHECK(a.get(*x) == range{0, 4096});
    CHECK(a.free(*x) == 0);
    CHECK(a.free(*x) == -EINVAL);
    CHECK(a.free(12345) == -EINVAL);
    auto y = a.alloc({.size = 2 << 20});
    CHECK(y.error() == -ENOSPC);
    CHECK(a.stats().free_bytes == 1 << 20);
}

// SPDX-License-Identifier: MIT
// va_space: the 15 split/merge cases of drm_gpuvm's "DOC: Split and Merge" (KERNEL.md section
// 7), requests spanning several mappings, sm_unmap, address picking (any, hint), the errno
// rules, apply's misuse checks, a randomized comparison against a reference layout, and a bind
// flow driving page tables through the op list.
#include "vm_test_util.hpp"

#include <accel/mm/device_memory.hpp>
#include <accel/mm/range/best_fit.hpp>
#include <accel/mm/vm/dma.hpp>
#include <accel/mm/vm/lpae_formats.hpp>
#include <accel/mm/vm/page_table.hpp>
#include <accel/mm/vm/phys_map.hpp>
#include <accel/mm/vm/va_space.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <random>
#include <vector>

using namespace accel::mm;
using namespace accel::mm::vm;

namespace {

constexpr u64 KiB = 1024, MiB = KiB * 1024, GiB = MiB * 1024;
constexpr u64 G = 4 * KiB; // the granule; case diagrams count in granules

struct bo {
    int id;
};
using space = va_space<bo>;
using piece = va_piece<bo>;
using mapping = va_mapping<bo>;

/// A driver's view: owns mapping objects, binds through sm_map/apply.
struct vm_fixture {
    space vm;
    std::vector<std::unique_ptr<mapping>> live;
    space::ops_type ops;
    bo a{1}, b{2};

    explicit vm_fixture(u64 start = 0, u64 range = 1 * GiB, u64 kaddr = 0, u64 krange = 0) {
        REQUIRE(vm.init(start, range, 4 * KiB | 64 * KiB | 2 * MiB, kaddr, krange) == 0);
    }
    ~vm_fixture() {
        vm.clear([](mapping&) {});
    }
    /// Applies the computed ops with exactly the needed objects; frees the replaced ones.
    void apply() {
        va_prealloc<bo> pre;
        std::vector<std::unique_ptr<mapping>> fresh;
        for (std::size_t i = 0; i < ops.mappings_needed(); ++i) {
            fresh.push_back(std::make_unique<mapping>());
            REQUIRE(pre.push(fresh.back().get()));
        }
        REQUIRE(vm.apply(ops, pre) == 0);
        CHECK(pre.count() == 0);
        for (auto& f : fresh)
            live.push_back(std::move(f));
        for (const auto& op : ops)
            if (op.old) {
                CHECK_FALSE(op.old->linked());
                std::erase_if(live, [&](const auto& p) { return p.get() == op.old; });
            }
        for (const auto& op : ops) {
            if (op.kind == va_op_kind::map)
                CHECK((op.new_map && op.new_map->piece() == op.map));
            if (op.has_prev)
                CHECK((op.new_prev && op.new_prev->piece() == op.prev));
            if (op.has_next)
                CHECK((op.new_next && op.new_next->piece() == op.next));
        }
    }
    int map(u64 addr, u64 range, bo* obj, u64 offset, va_placement p = va_placement::fixed, std::uint32_t flags = 0) {
        int e = vm.sm_map({addr, range, obj, offset, flags, p, 0}, ops);
        if (e == 0)
            apply();
        return e;
    }
    /// Computes the ops of a map without applying them.
    void plan(u64 addr, u64 range, bo* obj, u64 offset) {
        REQUIRE(vm.sm_map({addr, range, obj, offset, 0, va_placement::fixed, 0}, ops) == 0);
    }
    std::vector<piece> layout() const {
        std::vector<piece> v;
        for (const mapping& m : vm.mappings())
            v.push_back(m.piece());
        CHECK(v.size() == live.size());
        return v;
    }
};

piece P(u64 from, u64 to, bo* obj, u64 offset) { return piece{from * G, (to - from) * G, obj, offset * G, 0}; }

/// The shape every case checks: the remap/unmap op on `old_piece`, then one map of `req`.
void check_replace(const vm_fixture& f, const piece& old_piece, va_op_kind kind, bool keep, const piece* prev,
                   const piece* next, const piece& req) {
    REQUIRE(f.ops.size() == 2);
    const auto& op = f.ops[0];
    CHECK(op.kind == kind);
    CHECK(op.old->piece() == old_piece);
    CHECK(op.keep == keep);
    CHECK(op.has_prev == (prev != nullptr));
    if (prev)
        CHECK(op.prev == *prev);
    CHECK(op.has_next == (next != nullptr));
    if (next)
        CHECK(op.next == *next);
    CHECK(f.ops[1].kind == va_op_kind::map);
    CHECK(f.ops[1].map == req);
}

} // namespace

// n = 10 granules of offset throughout; the diagrams are drm_gpuvm's.
TEST_CASE("va_space: the 15 split/merge cases of drm_gpuvm") {
    vm_fixture f;
    bo* a = &f.a;
    bo* b = &f.b;
    const u64 n = 10, m = 20;

    SUBCASE("1: identical -> nothing to do") {
        REQUIRE(f.map(0, 1 * G, a, n * G) == 0);
        REQUIRE(f.vm.sm_map({0, 1 * G, a, n * G}, f.ops) == 0);
        CHECK(f.ops.empty());
        CHECK(f.ops.mappings_needed() == 0);
        f.apply(); // an empty list applies fine
        CHECK(f.layout() == std::vector{P(0, 1, a, n)});
    }
    SUBCASE("2: same range, other offset -> replace") {
        REQUIRE(f.map(0, 1 * G, a, n * G) == 0);
        f.plan(0, 1 * G, a, m * G);
        check_replace(f, P(0, 1, a, n), va_op_kind::unmap, false, nullptr, nullptr, P(0, 1, a, m));
        f.apply();
        CHECK(f.layout() == std::vector{P(0, 1, a, m)});
    }
    SUBCASE("3: same range, other BO -> replace") {
        REQUIRE(f.map(0, 1 * G, a, n * G) == 0);
        f.plan(0, 1 * G, b, n * G);
        check_replace(f, P(0, 1, a, n), va_op_kind::unmap, false, nullptr, nullptr, P(0, 1, b, n));
        f.apply();
        CHECK(f.layout() == std::vector{P(0, 1, b, n)});
    }
    SUBCASE("4: old is a left-aligned subset of req -> replace, keep") {
        REQUIRE(f.map(0, 1 * G, a, n * G) == 0);
        f.plan(0, 2 * G, a, n * G);
        check_replace(f, P(0, 1, a, n), va_op_kind::unmap, true, nullptr, nullptr, P(0, 2, a, n));
        f.apply();
        CHECK(f.layout() == std::vector{P(0, 2, a, n)});
    }
    SUBCASE("4 with another BO: replace, no keep") {
        REQUIRE(f.map(0, 1 * G, a, n * G) == 0);
        f.plan(0, 2 * G, b, n * G);
        check_replace(f, P(0, 1, a, n), va_op_kind::unmap, false, nullptr, nullptr, P(0, 2, b, n));
    }
    SUBCASE("5: req left subset, other BO -> map req, remap old's tail with offset n+1") {
        REQUIRE(f.map(0, 2 * G, a, n * G) == 0);
        f.plan(0, 1 * G, b, m * G);
        const piece next = P(1, 2, a, n + 1);
        check_replace(f, P(0, 2, a, n), va_op_kind::remap, false, nullptr, &next, P(0, 1, b, m));
        CHECK(f.ops[0].unmap_addr() == 0);
        CHECK(f.ops[0].unmap_range() == 1 * G);
        f.apply();
        CHECK(f.layout() == std::vector{P(0, 1, b, m), P(1, 2, a, n + 1)});
    }
    SUBCASE("6: req left subset, same BO contiguous -> split, keep") {
        REQUIRE(f.map(0, 2 * G, a, n * G) == 0);
        f.plan(0, 1 * G, a, n * G);
        const piece next = P(1, 2, a, n + 1);
        check_replace(f, P(0, 2, a, n), va_op_kind::remap, true, nullptr, &next, P(0, 1, a, n));
        f.apply();
        CHECK(f.layout() == std::vector{P(0, 1, a, n), P(1, 2, a, n + 1)});
    }
    SUBCASE("7: req right subset, other BO -> old head kept at offset n, then req") {
        REQUIRE(f.map(0, 2 * G, a, n * G) == 0);
        f.plan(1 * G, 1 * G, b, m * G);
        const piece prev = P(0, 1, a, n);
        check_replace(f, P(0, 2, a, n), va_op_kind::remap, false, &prev, nullptr, P(1, 2, b, m));
        CHECK(f.ops[0].unmap_addr() == 1 * G);
        CHECK(f.ops[0].unmap_range() == 1 * G);
        f.apply();
        CHECK(f.layout() == std::vector{P(0, 1, a, n), P(1, 2, b, m)});
    }
    SUBCASE("8: req right subset, same BO contiguous -> split, keep") {
        REQUIRE(f.map(0, 2 * G, a, n * G) == 0);
        f.plan(1 * G, 1 * G, a, (n + 1) * G);
        const piece prev = P(0, 1, a, n);
        check_replace(f, P(0, 2, a, n), va_op_kind::remap, true, &prev, nullptr, P(1, 2, a, n + 1));
        f.apply();
        CHECK(f.layout() == std::vector{P(0, 1, a, n), P(1, 2, a, n + 1)});
    }
    SUBCASE("9: req overlaps old's end, other BO -> old head + req") {
        REQUIRE(f.map(0, 2 * G, a, n * G) == 0);
        f.plan(1 * G, 2 * G, b, m * G);
        const piece prev = P(0, 1, a, n);
        check_replace(f, P(0, 2, a, n), va_op_kind::remap, false, &prev, nullptr, P(1, 3, b, m));
        f.apply();
        CHECK(f.layout() == std::vector{P(0, 1, a, n), P(1, 3, b, m)});
    }
    SUBCASE("10: as 9 with the same BO contiguous -> keep") {
        REQUIRE(f.map(0, 2 * G, a, n * G) == 0);
        f.plan(1 * G, 2 * G, a, (n + 1) * G);
        const piece prev = P(0, 1, a, n);
        check_replace(f, P(0, 2, a, n), va_op_kind::remap, true, &prev, nullptr, P(1, 3, a, n + 1));
        f.apply();
        CHECK(f.layout() == std::vector{P(0, 1, a, n), P(1, 3, a, n + 1)});
    }
    SUBCASE("11: req centred inside old, other BO -> three pieces a n, b m, a n+2") {
        REQUIRE(f.map(0, 3 * G, a, n * G) == 0);
        f.plan(1 * G, 1 * G, b, m * G);
        const piece prev = P(0, 1, a, n), next = P(2, 3, a, n + 2);
        check_replace(f, P(0, 3, a, n), va_op_kind::remap, false, &prev, &next, P(1, 2, b, m));
        CHECK(f.ops.mappings_needed() == 3);
        f.apply();
        CHECK(f.layout() == std::vector{P(0, 1, a, n), P(1, 2, b, m), P(2, 3, a, n + 2)});
    }
    SUBCASE("12: req centred inside old, same BO contiguous -> three pieces, keep") {
        REQUIRE(f.map(0, 3 * G, a, n * G) == 0);
        f.plan(1 * G, 1 * G, a, (n + 1) * G);
        const piece prev = P(0, 1, a, n), next = P(2, 3, a, n + 2);
        check_replace(f, P(0, 3, a, n), va_op_kind::remap, true, &prev, &next, P(1, 2, a, n + 1));
        f.apply();
        CHECK(f.layout() == std::vector{P(0, 1, a, n), P(1, 2, a, n + 1), P(2, 3, a, n + 2)});
    }
    SUBCASE("13: old is a right-aligned subset of req -> replace, keep") {
        REQUIRE(f.map(1 * G, 1 * G, a, (n + 1) * G) == 0);
        f.plan(0, 2 * G, a, n * G);
        check_replace(f, P(1, 2, a, n + 1), va_op_kind::unmap, true, nullptr, nullptr, P(0, 2, a, n));
        f.apply();
        CHECK(f.layout() == std::vector{P(0, 2, a, n)});
    }
    SUBCASE("14: old is a centred subset of req -> replace, keep") {
        REQUIRE(f.map(1 * G, 1 * G, a, (n + 1) * G) == 0);
        f.plan(0, 3 * G, a, n * G);
        check_replace(f, P(1, 2, a, n + 1), va_op_kind::unmap, true, nullptr, nullptr, P(0, 3, a, n));
        f.apply();
        CHECK(f.layout() == std::vector{P(0, 3, a, n)});
    }
    SUBCASE("15: req overlaps old's start, other BO -> req + old tail at offset n+1") {
        REQUIRE(f.map(1 * G, 2 * G, a, n * G) == 0);
        f.plan(0, 2 * G, b, m * G);
        const piece next = P(2, 3, a, n + 1);
        check_replace(f, P(1, 3, a, n), va_op_kind::remap, false, nullptr, &next, P(0, 2, b, m));
        f.apply();
        CHECK(f.layout() == std::vector{P(0, 2, b, m), P(2, 3, a, n + 1)});
    }
}

TEST_CASE("va_space: a request across several mappings: unmaps inside, remaps at the ends") {
    vm_fixture f;
    bo* a = &f.a;
    bo* b = &f.b;
    REQUIRE(f.map(0, 4 * G, a, 0) == 0);
    REQUIRE(f.map(4 * G, 2 * G, b, 0) == 0);
    REQUIRE(f.map(8 * G, 2 * G, b, 8 * G) == 0);
    REQUIRE(f.map(10 * G, 4 * G, a, 100 * G) == 0);
    f.plan(2 * G, 10 * G, b, 50 * G); // [2, 12)
    REQUIRE(f.ops.size() == 5);
    CHECK(f.ops[0].kind == va_op_kind::remap);
    CHECK(f.ops[0].prev == P(0, 2, a, 0));
    CHECK_FALSE(f.ops[0].has_next);
    CHECK(f.ops[1].kind == va_op_kind::unmap);
    CHECK(f.ops[1].old->piece() == P(4, 6, b, 0));
    CHECK(f.ops[2].kind == va_op_kind::unmap);
    CHECK(f.ops[2].old->piece() == P(8, 10, b, 8));
    CHECK(f.ops[3].kind == va_op_kind::remap);
    CHECK(f.ops[3].next == P(12, 14, a, 102));
    CHECK(f.ops[4].kind == va_op_kind::map);
    CHECK(f.ops.mappings_needed() == 3);
    f.apply();
    CHECK(f.layout() == std::vector{P(0, 2, a, 0), P(2, 12, b, 50), P(12, 14, a, 102)});

    SUBCASE("sm_unmap straddling three mappings") {
        REQUIRE(f.vm.sm_unmap(1 * G, 12 * G, f.ops) == 0); // [1, 13)
        REQUIRE(f.ops.size() == 3);
        CHECK(f.ops[0].kind == va_op_kind::remap);
        CHECK(f.ops[0].prev == P(0, 1, a, 0));
        CHECK_FALSE(f.ops[0].keep);
        CHECK(f.ops[1].kind == va_op_kind::unmap);
        CHECK(f.ops[2].kind == va_op_kind::remap);
        CHECK(f.ops[2].next == P(13, 14, a, 103));
        CHECK(f.ops[2].unmap_addr() == 12 * G);
        CHECK(f.ops[2].unmap_range() == 1 * G);
        f.apply();
        CHECK(f.layout() == std::vector{P(0, 1, a, 0), P(13, 14, a, 103)});
    }
    SUBCASE("sm_unmap inside one mapping: one remap with both pieces") {
        REQUIRE(f.vm.sm_unmap(4 * G, 2 * G, f.ops) == 0);
        REQUIRE(f.ops.size() == 1);
        CHECK(f.ops[0].prev == P(2, 4, b, 50));
        CHECK(f.ops[0].next == P(6, 12, b, 54));
        CHECK(f.ops.mappings_needed() == 2);
        f.apply();
        CHECK(f.layout() == std::vector{P(0, 2, a, 0), P(2, 4, b, 50), P(6, 12, b, 54), P(12, 14, a, 102)});
    }
    SUBCASE("sm_unmap of a hole: nothing") {
        REQUIRE(f.vm.sm_unmap(100 * G, 2 * G, f.ops) == 0);
        CHECK(f.ops.empty());
    }
    SUBCASE("fixed_noreplace refuses overlaps, takes holes") {
        CHECK(f.map(13 * G, 2 * G, a, 0, va_placement::fixed_noreplace) == -EEXIST);
        CHECK(f.ops.empty());
        CHECK(f.map(14 * G, 2 * G, a, 0, va_placement::fixed_noreplace) == 0);
        CHECK(f.map(0, 2 * G, a, 0, va_placement::fixed_noreplace) == -EEXIST); // identical too
    }
}

TEST_CASE("va_space: address picking, hints, kernel range and errnos") {
    const u64 start = 1 * GiB, range = 1 * GiB, kaddr = 1 * GiB + 512 * MiB, krange = 64 * MiB;
    vm_fixture f(start, range, kaddr, krange);
    bo* a = &f.a;
    CHECK(f.vm.granule() == 4 * KiB);
    CHECK(f.vm.address_stats().free_bytes == range - krange);

    // any: aligned to the largest page size not above the range.
    REQUIRE(f.map(0, 4 * MiB, a, 0, va_placement::any) == 0);
    const u64 x = f.layout().back().addr;
    CHECK(x % (2 * MiB) == 0);
    CHECK(x >= start);
    REQUIRE(f.map(0, 128 * KiB, a, 0, va_placement::any) == 0);
    CHECK(f.ops[0].map.addr % (64 * KiB) == 0);
    // Explicit alignment, and bad ones.
    REQUIRE(f.vm.sm_map({0, 8 * KiB, a, 0, 0, va_placement::any, 1 * MiB}, f.ops) == 0);
    CHECK(f.ops[0].map.addr % MiB == 0);
    CHECK(f.vm.sm_map({0, 8 * KiB, a, 0, 0, va_placement::any, 3 * 4096}, f.ops) == -EINVAL);
    CHECK(f.vm.sm_map({0, 8 * KiB, a, 0, 0, va_placement::any, 2048}, f.ops) == -EINVAL);
    // hint: taken when free, else anywhere (never over a mapping or the kernel range).
    REQUIRE(f.map(start + 256 * MiB, 64 * KiB, a, 0, va_placement::hint) == 0);
    CHECK(f.ops[0].map.addr == start + 256 * MiB);
    REQUIRE(f.map(start + 256 * MiB, 64 * KiB, a, 0, va_placement::hint) == 0);
    CHECK(f.ops[0].map.addr != start + 256 * MiB);
    REQUIRE(f.map(kaddr, 64 * KiB, a, 0, va_placement::hint) == 0);
    CHECK((f.ops[0].map.addr + 64 * KiB <= kaddr || f.ops[0].map.addr >= kaddr + krange));
    REQUIRE(f.map(0, 64 * KiB, a, 0, va_placement::hint) == 0); // outside the space: anywhere
    CHECK(f.ops[0].map.addr >= start);
    CHECK(f.map(start + 4096 + 1, 64 * KiB, a, 0, va_placement::hint) == -EINVAL);
    // No room.
    CHECK(f.map(0, range, a, 0, va_placement::any) == -ENOSPC);
    CHECK(f.map(0, 2 * range, a, 0, va_placement::any) == -ENOSPC);

    const auto before = f.layout();
    // fixed: errno rules.
    CHECK(f.map(start, 0, a, 0) == -EINVAL);                        // size 0
    CHECK(f.map(start + 512, 4096, a, 0) == -EINVAL);               // unaligned address
    CHECK(f.map(start, 4096 + 512, a, 0) == -EINVAL);               // unaligned size
    CHECK(f.map(start, 4096, a, 512) == -EINVAL);                   // unaligned offset
    CHECK(f.map(start, 8192, a, ~u64{0} - 4095) == -EINVAL);        // offset + range wraps
    CHECK(f.map(start - 4096, 8192, a, 0) == -EINVAL);              // starts below the space
    CHECK(f.map(start + range - 4096, 8192, a, 0) == -EINVAL);      // ends past it
    CHECK(f.map(~u64{0} - 4095, 8192, a, 0) == -EINVAL);            // wraps
    CHECK(f.map(kaddr - 4096, 8192, a, 0) == -EINVAL);              // touches the kernel range
    CHECK(f.map(kaddr + krange - 4096, 4096, a, 0) == -EINVAL);
    CHECK(f.vm.sm_unmap(kaddr, 4096, f.ops) == -EINVAL);
    CHECK(f.vm.sm_unmap(start, 0, f.ops) == -EINVAL);
    CHECK(f.vm.sm_unmap(start + 1, 4096, f.ops) == -EINVAL);
    CHECK(f.vm.sm_unmap(start + range, 4096, f.ops) == -EINVAL);
    CHECK(f.layout() == before);
    CHECK(f.map(kaddr + krange, 4096, a, 0) == 0); // right after it is fine

    // apply misuse: stale ops, too few objects.
    REQUIRE(f.vm.sm_map({start + 300 * MiB, 8192, a, 0}, f.ops) == 0);
    va_prealloc<bo> empty;
    CHECK(f.vm.apply(f.ops, empty) == -ENOBUFS);
    space::ops_type stale;
    REQUIRE(f.vm.sm_map({start + 301 * MiB, 8192, a, 0}, stale) == 0);
    f.apply(); // changes the space
    mapping spare;
    va_prealloc<bo> one;
    REQUIRE(one.push(&spare));
    CHECK(f.vm.apply(stale, one) == -ESTALE);
    CHECK(f.vm.apply(f.ops, one) == -ESTALE); // already applied
    CHECK_FALSE(spare.linked());

    // init rules.
    space s;
    CHECK(s.init(0, 1 * GiB, 0) == -EINVAL);
    CHECK(s.init(512, 1 * GiB, 4096) == -EINVAL);
    CHECK(s.init(0, 0, 4096) == -EINVAL);
    CHECK(s.init(~u64{0} - 4095, 8192, 4096) == -EINVAL);
    CHECK(s.init(0, 1 * GiB, 4096, 2 * GiB, 4096) == -EINVAL);
    CHECK(s.sm_unmap(0, 4096, f.ops) == -EINVAL); // not initialised
}

TEST_CASE("va_space: a space ending at 2^64") {
    const u64 start = ~u64{0} - GiB + 1;
    vm_fixture f(start, GiB);
    bo* a = &f.a;
    REQUIRE(f.map(~u64{0} - 8 * KiB + 1, 8 * KiB, a, 0) == 0);
    REQUIRE(f.map(~u64{0} - 4 * KiB + 1, 4 * KiB, &f.b, 0) == 0); // case 7 at the very top
    CHECK(f.layout() == std::vector{piece{~u64{0} - 8 * KiB + 1, 4 * KiB, a, 0, 0},
                                    piece{~u64{0} - 4 * KiB + 1, 4 * KiB, &f.b, 0, 0}});
    REQUIRE(f.map(0, 2 * MiB, a, 0, va_placement::any) == 0);
    REQUIRE(f.vm.sm_unmap(start, GiB, f.ops) == 0);
    CHECK(f.ops.size() == 3);
    f.apply();
    CHECK(f.layout().empty());
    CHECK(f.vm.address_stats().free_bytes == GiB);
}

// ---- randomized: va_space against a per-granule reference ------------------------------------

TEST_CASE("va_space: randomized binds and unbinds against a reference layout") {
    const std::uint64_t seed = test::pick_seed();
    const std::uint64_t ops = test::default_ops();
    INFO("seed=" << seed << " (rerun with ACCEL_TEST_SEED=" << seed << ")");
    std::mt19937_64 rng(seed);
    auto below = [&](u64 n) { return std::uniform_int_distribution<u64>(0, n - 1)(rng); };
    constexpr u64 slots = 256; // granules in the space
    vm_fixture f(0, slots * G);
    bo objs[3] = {{0}, {1}, {2}};
    struct cell {
        bo* obj = nullptr;
        u64 offset = 0;
        std::uint32_t flags = 0;
        bool used = false;
        u64 addr = 0; ///< the mapping it belongs to
    };
    std::vector<cell> ref(slots);
    for (std::uint64_t step = 0; step < ops; ++step) {
        CAPTURE(step);
        const u64 a = below(slots), len = 1 + below(std::min<u64>(16, slots - a));
        const int kind = static_cast<int>(below(10));
        if (kind < 6) {
            bo* obj = below(4) == 0 ? nullptr : &objs[below(3)];
            const u64 off = below(64) * G;
            const std::uint32_t flags = static_cast<std::uint32_t>(below(2));
            const bool noreplace = kind == 0;
            const int e = f.vm.sm_map({a * G, len * G, obj, off, flags,
                                       noreplace ? va_placement::fixed_noreplace : va_placement::fixed, 0},
                                      f.ops);
            bool overlap = false, identical = true;
            for (u64 i = a; i < a + len; ++i) {
                overlap |= ref[i].used;
                identical &= ref[i].used && ref[i].addr == a * G && ref[i].obj == obj && ref[i].flags == flags &&
                             ref[i].offset == off + (i - a) * G;
            }
            identical &= (a + len == slots || !ref[a + len].used || ref[a + len].addr != a * G);
            if (noreplace && overlap) {
                REQUIRE(e == -EEXIST);
                continue;
            }
            REQUIRE(e == 0);
            if (identical)
                REQUIRE(f.ops.empty());
            else
                REQUIRE(f.ops.back().kind == va_op_kind::map);
            // keep is exactly "same object, contiguous offset, same flags" on the replaced part.
            for (const auto& op : f.ops)
                if (op.old) {
                    const u64 ua = op.unmap_addr();
                    const bool want = op.old->obj() && op.old->obj() == obj && op.old->flags() == flags &&
                                      op.old->offset() + (ua - op.old->addr()) == off + (ua - a * G);
                    REQUIRE(op.keep == want);
                }
            f.apply();
            // Reference: the request's cells are the new mapping's; the piece of a mapping that
            // straddled the request's end now starts at a + len.
            for (u64 i = a; i < a + len; ++i)
                ref[i] = {obj, off + (i - a) * G, flags, true, a * G};
            // The piece above the request starts at a + len.
            for (u64 i = a + len; i < slots && ref[i].used && ref[i].addr < a * G + len * G; ++i)
                ref[i].addr = (a + len) * G;
        } else {
            REQUIRE(f.vm.sm_unmap(a * G, len * G, f.ops) == 0);
            for (const auto& op : f.ops)
                REQUIRE_FALSE(op.keep);
            f.apply();
            for (u64 i = a; i < a + len; ++i)
                ref[i] = {};
            for (u64 i = a + len; i < slots && ref[i].used && ref[i].addr < a * G + len * G; ++i)
                ref[i].addr = (a + len) * G;
        }
        // Compare: every granule's owner and offset, and mapping boundaries.
        std::vector<cell> got(slots);
        for (const mapping& m : f.vm.mappings())
            for (u64 i = m.addr() / G; i <= m.last() / G; ++i)
                got[i] = {m.obj(), m.offset() + (i * G - m.addr()), m.flags(), true, m.addr()};
        auto same = [](const cell& x, const cell& y) {
            return x.used == y.used && (!x.used || (x.obj == y.obj && x.offset == y.offset && x.flags == y.flags &&
                                                    x.addr == y.addr));
        };
        if (std::equal(got.begin(), got.end(), ref.begin(), same))
            continue;
        for (u64 i = 0; i < slots; ++i) { // only on a mismatch: say where
            CAPTURE(i);
            REQUIRE(got[i].used == ref[i].used);
            if (got[i].used) {
                REQUIRE(got[i].obj == ref[i].obj);
                REQUIRE(got[i].offset == ref[i].offset);
                REQUIRE(got[i].flags == ref[i].flags);
                REQUIRE(got[i].addr == ref[i].addr);
            }
        }
    }
    u64 used = 0;
    for (const cell& c : ref)
        used += c.used;
    CHECK(f.vm.address_stats().free_bytes == (slots - used) * G);
}

// ---- a bind flow: the op list drives the page tables ------------------------------------------

TEST_CASE("va_space + page_table: binding BOs and DMA through the result") {
    using region = device_memory_region<best_fit>;
    region dram, pt_mem;
    REQUIRE(dram.init("dram", 0x1'0000'0000, 64 * MiB, 4 * KiB) == 0);
    REQUIRE(pt_mem.init("pt", 0x8000'0000, 4 * MiB, 4 * KiB) == 0);
    phys_map pm;
    REQUIRE(pm.add_region(dram) == 0);
    page_table<lpae_4k, region> pt;
    REQUIRE(pt.init(pt_mem) == 0);
    const auto pt_initial = pt_mem.stats();
    int flushes = 0;
    auto count = [&](u64, u64) { ++flushes; };
    pt.set_tlb_invalidate(count);

    struct buffer {
        region::allocation mem;
    };
    vm_fixture f(0, 4 * GiB);
    // Objects are buffers: the "bo" id indexes them.
    auto bo_a = dram.allocate({.size = 4 * MiB, .alignment = 2 * MiB});
    auto bo_b = dram.allocate({.size = 64 * KiB});
    REQUIRE(bo_a);
    REQUIRE(bo_b);
    auto pa_of = [&](bo* o) { return o == &f.a ? bo_a->addr() : bo_b->addr(); };
    auto bind = [&](u64 addr, u64 range, bo* o, u64 off) {
        REQUIRE(f.vm.sm_map({addr, range, o, off, 0, va_placement::fixed, 0}, f.ops) == 0);
        // Prepare + commit the page tables from the list. Kept PTEs already translate the
        // request correctly; when they cover all of it there is nothing to map, otherwise this
        // simple driver clears them too and maps the whole request.
        u64 kept = 0;
        for (const auto& op : f.ops)
            if (op.old && op.keep)
                kept += op.unmap_range();
        for (const auto& op : f.ops) {
            if (op.old && (!op.keep || kept != range))
                REQUIRE(pt.unmap(op.unmap_addr(), op.unmap_range()));
            if (op.kind == va_op_kind::map && kept != range)
                REQUIRE(pt.map(op.map.addr, pa_of(op.map.obj) + op.map.offset, op.map.range, vm_perm::rw) == 0);
        }
        f.apply();
    };
    for (u64 i = 0; i < 4 * MiB; i += 4096)
        bo_a->host()[i] = static_cast<std::byte>(i >> 12);
    for (u64 i = 0; i < 64 * KiB; ++i)
        bo_b->host()[i] = std::byte{0xbb};

    bind(2 * MiB, 4 * MiB, &f.a, 0); // 2 MiB pages
    CHECK(pt.translate(2 * MiB)->page_size == 2 * MiB);
    bind(3 * MiB, 64 * KiB, &f.b, 0); // case 11: splits the block, 3 pieces
    CHECK(f.layout().size() == 3);
    unsigned char v = 0;
    REQUIRE(dma_read(pt, pm, 3 * MiB, &v, 1) == 0);
    CHECK(v == 0xbb);
    REQUIRE(dma_read(pt, pm, 3 * MiB + 64 * KiB, &v, 1) == 0);
    CHECK(v == static_cast<unsigned char>((MiB + 64 * KiB) >> 12));
    REQUIRE(dma_read(pt, pm, 2 * MiB + 8 * KiB, &v, 1) == 0);
    CHECK(v == 2);
    bind(3 * MiB, 64 * KiB, &f.a, MiB); // case 12 back to contiguous: the middle remapped
    REQUIRE(dma_read(pt, pm, 3 * MiB, &v, 1) == 0);
    CHECK(v == static_cast<unsigned char>(MiB >> 12));
    // Unbind all: page tables empty again.
    REQUIRE(f.vm.sm_unmap(0, 4 * GiB, f.ops) == 0);
    for (const auto& op : f.ops)
        REQUIRE(pt.unmap(op.unmap_addr(), op.unmap_range()));
    f.apply();
    CHECK(f.layout().empty());
    CHECK(pt_mem.stats() == pt_initial);
    CHECK(flushes > 0);
}

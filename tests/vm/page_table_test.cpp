// SPDX-License-Identifier: MIT
// page_table: leaf-size choice, PTEs in the region's backing, errno edge cases, splitting on
// unmap, TLB batching, -ENOSPC without side effects, software DMA, and a randomized comparison
// against a reference extent map (a million operations in an optimised build) for both formats.
#include "vm_test_util.hpp"

#include <accel/mm/device_memory.hpp>
#include <accel/mm/range/best_fit.hpp>
#include <accel/mm/vm/dma.hpp>
#include <accel/mm/vm/lpae_formats.hpp>
#include <accel/mm/vm/page_table.hpp>
#include <accel/mm/vm/phys_map.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <random>
#include <vector>

using namespace accel::mm;
using namespace accel::mm::vm;

namespace {

constexpr u64 KiB = 1024, MiB = KiB * 1024, GiB = MiB * 1024;
using region = device_memory_region<best_fit>;

template <class F>
using pt_of = page_table<F, region>;

/// Records TLB invalidations.
struct tlb_log {
    struct call {
        u64 va, size;
    };
    std::vector<call> calls;
    void operator()(u64 va, u64 size) { calls.push_back({va, size}); }
};

struct fixture {
    region pt_mem;
    pt_of<lpae_4k> pt;
    tlb_log tlb;
    explicit fixture(u64 pt_bytes = 16 * MiB) {
        REQUIRE(pt_mem.init("pt", 0x8000'0000, pt_bytes, 4 * KiB) == 0);
        REQUIRE(pt.init(pt_mem) == 0);
        pt.set_tlb_invalidate(tlb);
    }
};

} // namespace

TEST_CASE("page_table: geometry of the shipped formats") {
    using g4 = page_table_geometry<lpae_4k>;
    using g64 = page_table_geometry<lpae_64k>;
    CHECK(g4::entry_span(3) == 4 * KiB);
    CHECK(g4::entry_span(2) == 2 * MiB);
    CHECK(g4::entry_span(1) == GiB);
    CHECK(g4::entry_span(0) == 512 * GiB);
    CHECK(g4::table_bytes(0) == 4 * KiB);
    CHECK(g4::first_leaf_level() == 1);
    CHECK(g64::entry_span(2) == 64 * KiB);
    CHECK(g64::entry_span(1) == 512 * MiB);
    CHECK(g64::table_bytes(0) == 512);
    CHECK(g64::table_bytes(2) == 64 * KiB);
    for (unsigned l = 0; l < 4; ++l)
        for (vm_perm p : {vm_perm::none, vm_perm::read, vm_perm::rw, vm_perm::rwx, vm_perm::exec}) {
            if (!lpae_4k::leaf_allowed(l))
                continue;
            const pte_info d = lpae_4k::decode(lpae_4k::encode_leaf(0x1234'5000 & ~((u64{1} << g4::shift(l)) - 1), p, l), l);
            CHECK(d.kind == pte_kind::leaf);
            CHECK(d.perms == p);
        }
    CHECK(lpae_4k::decode(0, 2).kind == pte_kind::invalid);
    CHECK(lpae_4k::decode(lpae_4k::encode_table(0x4000), 2).kind == pte_kind::table);
    CHECK(lpae_4k::decode(lpae_4k::encode_table(0x4000), 2).pa == 0x4000);
}

TEST_CASE("page_table: largest leaf that alignment allows, PTEs in the region backing") {
    fixture f;
    const auto initial = f.pt_mem.stats();
    CHECK(initial.used == 4 * KiB); // the root
    CHECK(f.pt.table_count() == 1);

    SUBCASE("1 GiB aligned: one level-1 block, written little-endian into the root's child") {
        REQUIRE(f.pt.map(GiB, 4 * GiB, GiB, vm_perm::rw) == 0);
        auto t = f.pt.translate(GiB + 12345);
        REQUIRE(t);
        CHECK(t->pa == 4 * GiB + 12345);
        CHECK(t->page_size == GiB);
        CHECK(t->perms == vm_perm::rw);
        CHECK(f.pt.table_count() == 2); // root + one level-1 table
        // Walk the bytes by hand as a device would.
        const std::byte* root = f.pt_mem.host_ptr(f.pt.root(), 4096);
        REQUIRE(root);
        const u64 e0 = load_le64(root + 0);
        CHECK(lpae_4k::decode(e0, 0).kind == pte_kind::table);
        const std::byte* l1 = f.pt_mem.host_ptr(lpae_4k::decode(e0, 0).pa, 4096);
        REQUIRE(l1);
        const unsigned char* raw = reinterpret_cast<const unsigned char*>(l1 + 8);
        u64 manual = 0;
        for (int i = 7; i >= 0; --i)
            manual = (manual << 8) | raw[i]; // little-endian by construction
        CHECK(lpae_4k::decode(manual, 1).kind == pte_kind::leaf);
        CHECK(lpae_4k::decode(manual, 1).pa == 4 * GiB);
    }
    SUBCASE("pa only 2 MiB aligned: 2 MiB leaves") {
        REQUIRE(f.pt.map(GiB, 4 * GiB + 2 * MiB, GiB, vm_perm::read) == 0);
        CHECK(f.pt.translate(GiB)->page_size == 2 * MiB);
        CHECK(f.pt.translate(2 * GiB - 1)->pa == 5 * GiB + 2 * MiB - 1);
        CHECK(f.pt.table_count() == 3);
    }
    SUBCASE("unaligned ends: 4 KiB at the edges, 2 MiB inside") {
        REQUIRE(f.pt.map(2 * MiB - 8 * KiB, 2 * MiB - 8 * KiB, 4 * MiB + 16 * KiB, vm_perm::rw) == 0);
        CHECK(f.pt.translate(2 * MiB - 8 * KiB)->page_size == 4 * KiB);
        CHECK(f.pt.translate(2 * MiB)->page_size == 2 * MiB);
        CHECK(f.pt.translate(4 * MiB)->page_size == 2 * MiB);
        CHECK(f.pt.translate(6 * MiB)->page_size == 4 * KiB);
        CHECK(f.pt.translate(6 * MiB + 4 * KiB)->page_size == 4 * KiB);
        CHECK_FALSE(f.pt.translate(6 * MiB + 8 * KiB));
    }
    SUBCASE("max_page caps the leaf size") {
        REQUIRE(f.pt.map(0, 0, 4 * MiB, vm_perm::rw, 4 * KiB) == 0);
        CHECK(f.pt.translate(2 * MiB)->page_size == 4 * KiB);
        u64 leaves = 0;
        f.pt.for_each_leaf([&](u64, u64 s, u64, vm_perm) { leaves += s == 4 * KiB; });
        CHECK(leaves == 1024);
    }
    REQUIRE(f.pt.unmap(0, u64{1} << 40));
    CHECK(f.pt_mem.stats() == initial);
    CHECK(f.pt.table_count() == 1);
}

TEST_CASE("page_table: errno edge cases leave everything unchanged") {
    fixture f;
    REQUIRE(f.pt.map(2 * MiB, 0x1000'0000, 2 * MiB, vm_perm::rw) == 0);
    const auto stats = f.pt_mem.stats();
    f.tlb.calls.clear();
    constexpr u64 limit = u64{1} << 48;
    CHECK(f.pt.map(0, 0, 0, vm_perm::rw) == -EINVAL);                  // size 0
    CHECK(f.pt.map(4 * KiB + 1, 0, 4 * KiB, vm_perm::rw) == -EINVAL);  // va unaligned
    CHECK(f.pt.map(0, 123, 4 * KiB, vm_perm::rw) == -EINVAL);          // pa unaligned
    CHECK(f.pt.map(0, 0, 4 * KiB + 512, vm_perm::rw) == -EINVAL);      // size unaligned
    CHECK(f.pt.map(limit, 0, 4 * KiB, vm_perm::rw) == -EINVAL);        // past the VA width
    CHECK(f.pt.map(limit - 4 * KiB, 0, 8 * KiB, vm_perm::rw) == -EINVAL);
    CHECK(f.pt.map(~u64{0} - 4095, 0, 4 * KiB, vm_perm::rw) == -EINVAL);
    CHECK(f.pt.map(0, limit, 4 * KiB, vm_perm::rw) == -EINVAL);        // past the PA width
    CHECK(f.pt.map(0, ~u64{0} - 4095, 8 * KiB, vm_perm::rw) == -EINVAL); // PA wraps
    CHECK(f.pt.map(0, 0, 4 * KiB, static_cast<vm_perm>(8)) == -EINVAL);
    CHECK(f.pt.map(0, 0, 4 * KiB, vm_perm::rw, 2 * KiB) == -EINVAL); // max_page below the granule
    CHECK(f.pt.map(2 * MiB, 0, 4 * KiB, vm_perm::rw) == -EEXIST);      // inside the block
    CHECK(f.tlb.calls.empty()); // nothing written so far: no invalidation
    CHECK(f.pt.map(0, 0, 8 * MiB, vm_perm::rw) == -EEXIST); // straddles it: [0, 2 MiB) written, then undone
    CHECK(f.tlb.calls.size() == 1); // it wrote entries, so the rollback invalidated once
    CHECK_FALSE(f.pt.translate(0));
    CHECK(f.pt.unmap(0, 0).error() == -EINVAL);
    CHECK(f.pt.unmap(4096, 100).error() == -EINVAL);
    CHECK(f.pt.unmap(limit - 4096, 8192).error() == -EINVAL);
    CHECK(f.pt.unmap(100 * GiB, 4096).value() == 0); // nothing mapped there: 0 bytes, fine
    CHECK(f.pt.translate(limit).error() == -EFAULT);
    CHECK(f.pt.translate(0).error() == -EFAULT);
    CHECK(f.pt_mem.stats() == stats);
    CHECK(f.pt.translate(2 * MiB + 5)->pa == 0x1000'0005);
    // Partly mapped then refused: the map wrote 4 KiB pages below the block before meeting it.
    CHECK(f.pt.map(2 * MiB - 16 * KiB, 0, 32 * KiB, vm_perm::rw) == -EEXIST);
    CHECK_FALSE(f.pt.translate(2 * MiB - 16 * KiB));
    CHECK(f.pt_mem.stats() == stats);
    CHECK(f.tlb.calls.size() == 2);
    pt_of<lpae_4k> uninit;
    CHECK(uninit.map(0, 0, 4096, vm_perm::rw) == -EINVAL);
    CHECK(uninit.translate(0).error() == -EFAULT);
    CHECK(f.pt.init(f.pt_mem) == -EINVAL);
}

TEST_CASE("page_table: unmap splits blocks and keeps the rest") {
    fixture f;
    const auto initial = f.pt_mem.stats();
    REQUIRE(f.pt.map(GiB, 8 * GiB, GiB, vm_perm::rwx) == 0);
    REQUIRE(f.pt.table_count() == 2);
    // Cut one 4 KiB page out of the middle: 1 GiB -> 512 x 2 MiB -> 512 x 4 KiB in one block.
    const u64 hole = GiB + 300 * MiB + 12 * KiB;
    auto r = f.pt.unmap(hole, 4 * KiB);
    REQUIRE(r);
    CHECK(*r == 4 * KiB);
    CHECK_FALSE(f.pt.translate(hole));
    CHECK(f.pt.translate(hole - 1)->pa == 8 * GiB + (hole - 1 - GiB));
    CHECK(f.pt.translate(hole - 1)->page_size == 4 * KiB);
    CHECK(f.pt.translate(hole + 4 * KiB)->pa == 8 * GiB + (hole + 4 * KiB - GiB));
    CHECK(f.pt.translate(GiB)->page_size == 2 * MiB);
    CHECK(f.pt.translate(GiB)->perms == vm_perm::rwx);
    CHECK(f.pt.table_count() == 4); // root, L1, one L2, one L3
    u64 total = 0;
    f.pt.for_each_leaf([&](u64, u64 s, u64, vm_perm) { total += s; });
    CHECK(total == GiB - 4 * KiB);
    r = f.pt.unmap(0, 4 * GiB);
    REQUIRE(r);
    CHECK(*r == GiB - 4 * KiB);
    CHECK(f.pt_mem.stats() == initial);
}

TEST_CASE("page_table: TLB invalidation is batched once per operation") {
    fixture f;
    REQUIRE(f.pt.map(0, 0, GiB, vm_perm::rw, 4 * KiB) == 0); // 262144 pages, one call
    REQUIRE(f.tlb.calls.size() == 1);
    CHECK(f.tlb.calls[0].va == 0);
    CHECK(f.tlb.calls[0].size == GiB);
    auto r = f.pt.unmap(4 * KiB, GiB); // covers the rest and 4 KiB beyond
    REQUIRE(r);
    CHECK(*r == GiB - 4 * KiB);
    REQUIRE(f.tlb.calls.size() == 2);
    CHECK(f.tlb.calls[1].va == 4 * KiB);
    CHECK(f.tlb.calls[1].size == GiB);
    CHECK(f.pt.unmap(4 * KiB, GiB).value() == 0); // nothing changed: no invalidation
    CHECK(f.pt.map(0, 0, 4 * KiB, vm_perm::rw) == -EEXIST);
    CHECK(f.tlb.calls.size() == 2);
    int plain = 0;
    f.pt.set_tlb_invalidate([](void* c, u64, u64) { ++*static_cast<int*>(c); }, &plain);
    REQUIRE(f.pt.unmap(0, 4 * KiB).value() == 4 * KiB);
    CHECK(plain == 1);
}

TEST_CASE("page_table: a full region fails cleanly") {
    fixture f(3 * 4 * KiB); // root + 2 tables
    const auto initial = f.pt_mem.stats();
    // Needs L1 + L2 + L3: one table too many.
    CHECK(f.pt.map(4 * KiB, 0, 4 * KiB, vm_perm::rw) == -ENOSPC);
    CHECK(f.pt_mem.stats() == initial);
    CHECK(f.pt.table_count() == 1);
    // A 2 MiB block fits (L1 + L2); splitting it would need an L3.
    REQUIRE(f.pt.map(2 * MiB, 0, 2 * MiB, vm_perm::rw) == 0);
    const auto full = f.pt_mem.stats();
    CHECK(full.largest_free == 0);
    f.tlb.calls.clear();
    CHECK(f.pt.unmap(2 * MiB + 4 * KiB, 4 * KiB).error() == -ENOSPC);
    CHECK(f.pt.translate(2 * MiB + 4 * KiB)->pa == 4 * KiB);
    CHECK(f.pt.translate(2 * MiB + 4 * KiB)->page_size == 2 * MiB);
    CHECK(f.pt_mem.stats() == full);
    CHECK(f.tlb.calls.empty());
    REQUIRE(f.pt.unmap(2 * MiB, 2 * MiB).value() == 2 * MiB);
    CHECK(f.pt_mem.stats() == initial);
}

TEST_CASE("page_table: 64 KiB format") {
    region mem;
    REQUIRE(mem.init("pt64", 0, 16 * MiB, 4 * KiB) == 0);
    pt_of<lpae_64k> pt;
    REQUIRE(pt.init(mem) == 0);
    const auto initial = mem.stats();
    CHECK(initial.used == 4 * KiB); // a 512-byte root, granule-rounded
    REQUIRE(pt.map(512 * MiB, 0, 512 * MiB + 64 * KiB, vm_perm::read) == 0);
    CHECK(pt.translate(512 * MiB)->page_size == 512 * MiB);
    CHECK(pt.translate(GiB)->page_size == 64 * KiB);
    CHECK(pt.map(0, 0, 4 * KiB, vm_perm::read) == -EINVAL); // smaller than the granule
    REQUIRE(pt.unmap(GiB - 64 * KiB, 128 * KiB).value() == 128 * KiB);
    CHECK(pt.translate(GiB - 128 * KiB)->page_size == 64 * KiB);
    REQUIRE(pt.unmap(0, 4 * GiB).value() == 512 * MiB - 64 * KiB);
    CHECK(mem.stats() == initial);
}

TEST_CASE("page_table: software DMA through the walker and a phys_map") {
    fixture f;
    region dram;
    REQUIRE(dram.init("dram", 0x1'0000'0000, 64 * MiB, 4 * KiB) == 0);
    std::vector<std::byte> host_ram(64 * KiB);
    phys_map pm;
    REQUIRE(pm.add_region(dram) == 0);
    REQUIRE(pm.add(0x10'0000'0000, host_ram.size(), host_ram.data()) == 0); // a host window
    auto bo = dram.allocate({.size = 16 * KiB});
    REQUIRE(bo);
    // VA 0x10000: two pages of the BO in reverse order, then a host page.
    REQUIRE(f.pt.map(0x10000, bo->addr() + 4 * KiB, 4 * KiB, vm_perm::rw) == 0);
    REQUIRE(f.pt.map(0x11000, bo->addr(), 4 * KiB, vm_perm::rw) == 0);
    REQUIRE(f.pt.map(0x12000, 0x10'0000'0000, 4 * KiB, vm_perm::read) == 0);
    std::vector<unsigned char> src(8 * KiB);
    for (std::size_t i = 0; i < src.size(); ++i)
        src[i] = static_cast<unsigned char>(i * 7 + 1);
    REQUIRE(dma_write(f.pt, pm, 0x10000, src.data(), src.size()) == 0);
    CHECK(std::memcmp(bo->host() + 4 * KiB, src.data(), 4 * KiB) == 0);
    CHECK(std::memcmp(bo->host(), src.data() + 4 * KiB, 4 * KiB) == 0);
    std::memset(host_ram.data(), 0x5a, 4 * KiB);
    std::vector<unsigned char> back(12 * KiB);
    REQUIRE(dma_read(f.pt, pm, 0x10000, back.data(), back.size()) == 0);
    CHECK(std::memcmp(back.data(), src.data(), src.size()) == 0);
    CHECK(back[8 * KiB] == 0x5a);
    // Write to the read-only page, or past the mapping: a fault and nothing written at all.
    std::vector<unsigned char> junk(12 * KiB, 0xee);
    CHECK(dma_write(f.pt, pm, 0x10000, junk.data(), junk.size()) == -EFAULT);
    CHECK(std::memcmp(bo->host() + 4 * KiB, src.data(), 4 * KiB) == 0);
    CHECK(dma_read(f.pt, pm, 0x12000, back.data(), 8 * KiB) == -EFAULT);
    // Physical memory nobody registered.
    REQUIRE(f.pt.map(0x20000, 0x7000'0000'0000, 4 * KiB, vm_perm::rw) == 0);
    CHECK(dma_read(f.pt, pm, 0x20000, back.data(), 16) == -EFAULT);
}

// ---- randomized comparison against a reference extent map -----------------------------------

namespace {

struct extent {
    u64 size, pa;
    vm_perm perms;
};
using reference = std::map<u64, extent>; // by VA; disjoint

bool overlaps(const reference& ref, u64 va, u64 size) {
    auto it = ref.lower_bound(va);
    if (it != ref.end() && it->first < va + size)
        return true;
    if (it != ref.begin()) {
        --it;
        if (it->first + it->second.size > va)
            return true;
    }
    return false;
}

/// Removes [va, va + size) from the reference; returns the bytes that were there.
u64 ref_unmap(reference& ref, u64 va, u64 size) {
    const u64 end = va + size;
    u64 bytes = 0;
    auto it = ref.lower_bound(va);
    if (it != ref.begin() && std::prev(it)->first + std::prev(it)->second.size > va)
        --it;
    while (it != ref.end() && it->first < end) {
        const u64 s = it->first, e = s + it->second.size;
        const extent x = it->second;
        it = ref.erase(it);
        const u64 cs = std::max(s, va), ce = std::min(e, end);
        bytes += ce - cs;
        if (s < cs)
            ref.emplace(s, extent{cs - s, x.pa, x.perms});
        if (ce < e)
            ref.emplace(ce, extent{e - ce, x.pa + (ce - s), x.perms});
    }
    return bytes;
}

template <class F>
void randomized(u64 pt_region_bytes) {
    using geo = page_table_geometry<F>;
    std::vector<u64> sizes; // leaf sizes, ascending
    for (unsigned l = geo::levels; l-- > 0;)
        if (F::leaf_allowed(l))
            sizes.push_back(geo::entry_span(l));
    const u64 p0 = sizes[0], top = sizes.back();
    const u64 window = 16 * top;
    const std::uint64_t seed = test::pick_seed();
    const std::uint64_t ops = test::default_ops();
    INFO("seed=" << seed << " (rerun with ACCEL_TEST_SEED=" << seed << ")");
    std::mt19937_64 rng(seed);
    auto below = [&](u64 n) { return std::uniform_int_distribution<u64>(0, n - 1)(rng); };

    region mem;
    REQUIRE(mem.init("pt", 0x4000'0000, pt_region_bytes, 4 * KiB) == 0);
    page_table<F, region> pt;
    REQUIRE(pt.init(mem) == 0);
    const auto initial = mem.stats();
    tlb_log tlb;
    pt.set_tlb_invalidate(tlb);
    reference ref;
    u64 ref_bytes = 0, enospc = 0, eexist = 0;

    auto expect_at = [&](u64 va) {
        auto t = pt.translate(va);
        auto it = ref.upper_bound(va);
        if (it == ref.begin() || std::prev(it)->first + std::prev(it)->second.size <= va) {
            REQUIRE(t.error() == -EFAULT);
            return;
        }
        --it;
        REQUIRE(t);
        REQUIRE(t->pa == it->second.pa + (va - it->first));
        REQUIRE(t->perms == it->second.perms);
    };
    auto full_check = [&] {
        u64 total = 0;
        pt.for_each_leaf([&](u64 va, u64 s, u64 pa, vm_perm p) {
            auto it = ref.upper_bound(va);
            REQUIRE(it != ref.begin());
            --it;
            REQUIRE(va + s <= it->first + it->second.size);
            REQUIRE(pa == it->second.pa + (va - it->first));
            REQUIRE(p == it->second.perms);
            total += s;
        });
        REQUIRE(total == ref_bytes);
    };
    // A range of 1-16 smallest pages, or 1-3 units of a larger leaf size; `floor` is the smallest
    // leaf the operation may need (its alignment), chosen so no map writes more than ~2048 leaves.
    auto random_range = [&](u64& va, u64& size, u64& floor) {
        const u64 r = below(100);
        const std::size_t k = r < 70 ? 0 : r < 95 ? 1 : sizes.size() - 1;
        const u64 unit = sizes[k];
        size = unit * (1 + below(k == 0 ? 16 : 3));
        floor = k == 0 ? p0 : (unit / sizes[k - 1] <= 1024 && below(10) < 3) ? sizes[k - 1] : unit;
        va = below(window / floor) * floor;
        if (va + size > window)
            size = window - va;
    };
    const vm_perm perm_choices[] = {vm_perm::read, vm_perm::rw, vm_perm::rwx, vm_perm::write, vm_perm::none};

    for (std::uint64_t step = 0; step < ops; ++step) {
        CAPTURE(step);
        u64 va, size, floor;
        random_range(va, size, floor);
        const std::size_t calls_before = tlb.calls.size();
        const bool want_map = ref.size() < 48 ? below(100) < 60 : below(100) < 40;
        if (want_map) {
            u64 pa = below((u64{1} << 44) / floor) * floor; // somewhere below 16 TiB
            if (below(10) < 7)
                pa = (pa & ~(top - 1)) + (va & (top - 1)); // congruent: large leaves possible
            const vm_perm perms = perm_choices[below(5)];
            u64 max_page = below(10) == 0 ? sizes[below(sizes.size())] : 0;
            if (max_page && max_page < floor)
                max_page = floor;
            const int e = pt.map(va, pa, size, perms, max_page);
            if (overlaps(ref, va, size) && e != -ENOSPC) { // which error comes first depends on the walk
                REQUIRE(e == -EEXIST);
                ++eexist;
                REQUIRE(tlb.calls.size() - calls_before <= 1);
            } else if (e == -ENOSPC) {
                ++enospc;
                REQUIRE(tlb.calls.size() - calls_before <= 1);
            } else {
                REQUIRE(e == 0);
                REQUIRE(tlb.calls.size() == calls_before + 1);
                REQUIRE(tlb.calls.back().va == va);
                REQUIRE(tlb.calls.back().size == size);
                ref.emplace(va, extent{size, pa, perms});
                ref_bytes += size;
                // Fresh leaves are the largest the alignment and max_page allow.
                for (int i = 0; i < 2; ++i) {
                    const u64 at = va + below(size / p0) * p0;
                    u64 want = p0;
                    for (u64 s : sizes) {
                        const u64 b = at & ~(s - 1);
                        if ((max_page == 0 || s <= max_page) && b >= va && b + s <= va + size && ((pa - va) & (s - 1)) == 0)
                            want = s;
                    }
                    auto t = pt.translate(at);
                    REQUIRE(t);
                    REQUIRE(t->page_size == want);
                }
            }
        } else {
            auto r = pt.unmap(va, size);
            if (r.error() == -ENOSPC) {
                ++enospc;
                REQUIRE(tlb.calls.size() == calls_before);
            } else {
                REQUIRE(r);
                const u64 expect = ref_unmap(ref, va, size);
                REQUIRE(*r == expect);
                ref_bytes -= expect;
                REQUIRE(tlb.calls.size() == calls_before + (expect ? 1 : 0));
            }
        }
        for (int i = 0; i < 3; ++i)
            expect_at(below(window / 8) * 8);
        if (!ref.empty()) {
            auto it = ref.begin();
            std::advance(it, static_cast<long>(below(std::min<u64>(ref.size(), 8))));
            expect_at(it->first + below(it->second.size));
        }
        if (step % 4096 == 0)
            full_check();
        if (tlb.calls.size() > 1024)
            tlb.calls.clear();
    }
    full_check();
    MESSAGE("ops=" << ops << " extents=" << ref.size() << " tables=" << pt.table_count() << " eexist=" << eexist
                   << " enospc=" << enospc);
    // Unmap everything: every table but the root goes back to the region.
    while (!ref.empty()) {
        const u64 va = ref.begin()->first, size = ref.begin()->second.size;
        auto r = pt.unmap(va, size);
        REQUIRE(r);
        REQUIRE(*r == size);
        ref.erase(ref.begin());
    }
    CHECK(pt.table_count() == 1);
    CHECK(mem.stats() == initial);
}

} // namespace

TEST_CASE("page_table: randomized against a reference map, lpae_4k") { randomized<lpae_4k>(256 * MiB); }
TEST_CASE("page_table: randomized against a reference map, lpae_64k") { randomized<lpae_64k>(256 * MiB); }
TEST_CASE("page_table: randomized with a region that runs out, lpae_4k") { randomized<lpae_4k>(40 * 4 * KiB); }

// SPDX-License-Identifier: MIT
// device_memory_region over several range-manager policies (init rules, granule rounding,
// placement and bounds, -ENOSPC with nothing allocated, owning handles, statistics, host
// backing) and phys_map (windows, overlap, straddling).
#include <accel/mm/device_memory.hpp>
#include <accel/mm/range/best_fit.hpp>
#include <accel/mm/range/buddy.hpp>
#include <accel/mm/range/naive.hpp>
#include <accel/mm/range/tlsf.hpp>
#include <accel/mm/vm/phys_map.hpp>

#include <doctest/doctest.h>
#include <range/v3/algorithm/equal.hpp>
#include <range/v3/numeric/accumulate.hpp>
#include <range/v3/range/primitives.hpp>
#include <range/v3/range/conversion.hpp>
#include <range/v3/view/set_algorithm.hpp>
#include <range/v3/view/stride.hpp>
#include <range/v3/view/transform.hpp>

#include <cstring>
#include <random>
#include <vector>

using namespace accel::mm;

namespace {
constexpr u64 KiB = 1024, MiB = KiB * 1024, GiB = MiB * 1024;
}

TEST_CASE_TEMPLATE("device_memory_region: allocation, stats, host backing", P, best_fit, buddy, tlsf, naive) {
    device_memory_region<P> r;
    const u64 base = 0x2'0000'0000;
    CHECK(r.init("sram", base, 0, 4 * KiB) == -EINVAL);
    CHECK(r.init("sram", base, 8 * MiB, 3000) == -EINVAL);          // granule not a power of two
    CHECK(r.init("sram", base, 8 * MiB + 512, 4 * KiB) == -EINVAL); // size not a granule multiple
    CHECK(r.init("sram", base + 512, 8 * MiB, 4 * KiB) == -EINVAL); // base unaligned
    CHECK(r.init("sram", ~u64{0} - 4 * MiB + 1, 8 * MiB, 4 * KiB) == -EINVAL); // wraps
    CHECK(r.allocate({.size = 4096}).error() == -EINVAL);           // not initialised
    REQUIRE(r.init("sram", base, 8 * MiB, 4 * KiB) == 0);
    CHECK(r.init("sram", base, 8 * MiB, 4 * KiB) == -EINVAL);       // once
    CHECK(r.name() == "sram");
    CHECK(r.base() == base);
    CHECK(r.size() == 8 * MiB);
    CHECK(r.granule() == 4 * KiB);
    const region_stats empty{8 * MiB, 0, 8 * MiB};
    CHECK(r.stats() == empty);

    {
        auto a = r.allocate({.size = 100}); // rounded up to the granule
        REQUIRE(a);
        CHECK(a->size() == 4 * KiB);
        CHECK(a->addr() >= base);
        CHECK(a->addr() % (4 * KiB) == 0);
        CHECK(r.stats().used == 4 * KiB);
        auto b = r.allocate({.size = 64 * KiB, .alignment = 64 * KiB});
        REQUIRE(b);
        CHECK(b->addr() % (64 * KiB) == 0);
        auto c = r.allocate({.size = 8 * KiB, .lo = base + 4 * MiB, .last = base + 5 * MiB - 1});
        REQUIRE(c);
        CHECK(c->addr() >= base + 4 * MiB);
        CHECK(c->addr() + c->size() <= base + 5 * MiB);
        CHECK(r.stats().used == 76 * KiB);
        // Moving keeps one owner.
        auto moved = std::move(*b);
        CHECK_FALSE(*b);
        CHECK(moved.size() == 64 * KiB);
        // Host backing: whole allocation, zero-filled on first touch, writable.
        std::byte* h = c->host();
        REQUIRE(h);
        CHECK(h == r.host_ptr(c->addr(), c->size()));
        CHECK(h[0] == std::byte{0});
        std::memset(h, 0xab, 8 * KiB);
        CHECK(r.host_ptr(c->addr() + 1, 1)[0] == std::byte{0xab});
        // Too big: -ENOSPC and nothing allocated.
        const auto before = r.stats();
        CHECK(r.allocate({.size = 8 * MiB}).error() == -ENOSPC);
        CHECK(r.allocate({.size = 0}).error() == -EINVAL);
        CHECK(r.allocate({.size = 4096, .lo = base + 16 * MiB}).error() == -EINVAL); // bounds outside
        CHECK(r.stats() == before);
        c->reset();
        CHECK_FALSE(*c);
        CHECK(r.stats().used == 68 * KiB);
    }
    CHECK(r.stats() == empty); // destructors freed everything

    // Caller-owned nodes, and filling the region exactly.
    std::vector<typename P::node> nodes(8);
    for (auto& n : nodes) {
        auto at = r.alloc(n, {.size = 1 * MiB});
        REQUIRE(at);
        CHECK(*at == n.start());
    }
    CHECK(r.stats() == region_stats{8 * MiB, 8 * MiB, 0});
    typename P::node extra;
    CHECK(r.alloc(extra, {.size = 4 * KiB}).error() == -ENOSPC);
    for (auto& n : nodes)
        r.free(n);
    CHECK(r.stats() == empty);
    REQUIRE(r.reserve(extra, base + 1 * MiB, 64 * KiB) == 0);
    CHECK(r.stats().used == 64 * KiB);
    typename P::node clash;
    CHECK(r.reserve(clash, base + 1 * MiB, 4 * KiB) == -ENOSPC);
    CHECK(r.reserve(clash, base + 1 * MiB + 1, 4 * KiB) == -EINVAL);
    r.free(extra);

    // host_ptr: inside, last byte, straddling the end, before the base.
    CHECK(r.host_ptr(base, 8 * MiB) == r.host_base());
    CHECK(r.host_ptr(base + 8 * MiB - 1, 1) == r.host_base() + 8 * MiB - 1);
    CHECK(r.host_ptr(base + 8 * MiB - 1, 2) == nullptr);
    CHECK(r.host_ptr(base + 8 * MiB, 0) == nullptr);
    CHECK(r.host_ptr(base - 1, 2) == nullptr);
    CHECK(r.host_ptr(base + 4 * KiB, ~u64{0}) == nullptr);
}

// Owning handles against the policy's own listing: what a handle says it holds is exactly what
// the policy lists, and freeing handles removes exactly their ranges. The listings are compared
// as sorted sets with range-v3's lazy set_difference (std::ranges has only the algorithm that
// writes to an output iterator) and ranges::to (C++23 in std).
TEST_CASE_TEMPLATE("device_memory_region: handles and the policy's listing agree", P, best_fit, buddy, tlsf, naive) {
    device_memory_region<P> r;
    const u64 base = 0x40'0000'0000;
    REQUIRE(r.init("dram", base, 64 * MiB, 4 * KiB) == 0);
    std::mt19937_64 rng(7);
    std::vector<typename device_memory_region<P>::allocation> handles;
    for (int i = 0; i < 96; ++i) {
        auto a = r.allocate({.size = (1 + rng() % 64) * 4 * KiB, .alignment = u64{4096} << (rng() % 4)});
        REQUIRE(a);
        handles.push_back(std::move(*a));
    }
    auto by_start = [](const range& x) { return x.start; };
    auto listed = [&] {
        const auto nodes = r.policy().nodes();
        return ranges::to<std::vector<range>>(nodes);
    };
    auto held = [&] {
        auto v = handles | ranges::views::transform([](const auto& h) { return range{h.addr(), h.size()}; }) |
                 ranges::to<std::vector<range>>();
        std::ranges::sort(v, {}, by_start);
        return v;
    };
    const std::vector<range> before = listed();
    CHECK(before == held());

    // Free every third handle (in allocation order, so scattered over the region).
    auto freed = handles | ranges::views::stride(3) |
                 ranges::views::transform([](const auto& h) { return range{h.addr(), h.size()}; }) |
                 ranges::to<std::vector<range>>();
    std::ranges::sort(freed, {}, by_start);
    for (std::size_t i = 0; i < handles.size(); i += 3)
        handles[i].reset();
    std::erase_if(handles, [](const auto& h) { return !h; });

    const std::vector<range> after = listed();
    CHECK(after == held());
    CHECK(ranges::equal(ranges::views::set_difference(before, after, {}, by_start, by_start), freed));
    CHECK(ranges::empty(ranges::views::set_difference(after, before, {}, by_start, by_start)));
    CHECK(r.stats().used == ranges::accumulate(after | ranges::views::transform(&range::size), u64{0}));
}

TEST_CASE("device_memory_region: a large lazily backed region, and one ending at 2^64") {
    device_memory_region<best_fit> dram;
    REQUIRE(dram.init("dram", 0x80'0000'0000, 64 * GiB, 64 * KiB) == 0); // MAP_NORESERVE: no commit
    auto a = dram.allocate({.size = GiB, .alignment = GiB, .mode = placement::high});
    REQUIRE(a);
    CHECK(a->addr() == 0x80'0000'0000 + 63 * GiB);
    a->host()[GiB - 1] = std::byte{7}; // touches one page
    CHECK(dram.host_ptr(a->addr() + GiB - 1, 1)[0] == std::byte{7});

    device_memory_region<best_fit> top;
    const u64 base = ~u64{0} - MiB + 1;
    REQUIRE(top.init("top", base, MiB, 4 * KiB) == 0);
    auto t = top.allocate({.size = 4 * KiB, .mode = placement::high});
    REQUIRE(t);
    CHECK(t->addr() == ~u64{0} - 4 * KiB + 1);
    CHECK(top.host_ptr(~u64{0}, 1) == top.host_base() + MiB - 1);
    CHECK(top.host_ptr(~u64{0}, 2) == nullptr);
}

TEST_CASE("phys_map: windows, overlap, straddling, host windows") {
    device_memory_region<best_fit> sram, dram;
    REQUIRE(sram.init("sram", 0x1000'0000, 1 * MiB, 4 * KiB) == 0);
    REQUIRE(dram.init("dram", 0x8000'0000, 16 * MiB, 4 * KiB) == 0);
    std::vector<std::byte> host(8 * KiB);
    vm::phys_map pm;
    REQUIRE(pm.add_region(dram) == 0);
    REQUIRE(pm.add_region(sram) == 0);
    CHECK(pm.add_region(sram) == -EEXIST);
    CHECK(pm.add(0x1000'0000 + MiB - 4096, 8192, host.data()) == -EEXIST); // overlaps sram's end
    CHECK(pm.add(0x0fff'f000, 8192, host.data()) == -EEXIST);              // overlaps its start
    CHECK(pm.add(0x1000, 0, host.data()) == -EINVAL);
    CHECK(pm.add(0x1000, 4096, nullptr) == -EINVAL);
    CHECK(pm.add(~u64{0} - 4095, 8192, host.data()) == -EINVAL);
    REQUIRE(pm.add(0x1000'0000 + MiB, host.size(), host.data()) == 0); // right after sram: adjacent is fine
    CHECK(pm.windows().size() == 3);

    CHECK(pm.resolve(0x1000'0000, 16) == sram.host_base());
    CHECK(pm.resolve(0x8000'0000 + 5, 1) == dram.host_base() + 5);
    CHECK(pm.resolve(0x1000'0000 + MiB + 4, 4) == host.data() + 4);
    CHECK(pm.resolve(0x1000'0000 + MiB - 8, 16) == nullptr); // straddles sram and the host window
    CHECK(pm.resolve(0x0, 1) == nullptr);
    CHECK(pm.resolve(0x8000'0000 + 16 * MiB, 1) == nullptr);
    CHECK(pm.resolve(0x8000'0000 + 16 * MiB - 1, 1) != nullptr);
    CHECK(pm.remove(0x1000'0000 + MiB) == 0);
    CHECK(pm.remove(0x1000'0000 + MiB) == -ENOENT);
    CHECK(pm.resolve(0x1000'0000 + MiB + 4, 4) == nullptr);
}

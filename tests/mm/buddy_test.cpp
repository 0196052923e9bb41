// SPDX-License-Identifier: MIT
// The buddy policy: ports of the upstream KUnit suite drivers/gpu/drm/tests/drm_buddy_test.c
// (current cases plus the historical alloc_range / alloc_smoke), its invariant checkers
// (check_block / check_blocks / check_mm) run as property checks inside them, the native API's
// errno paths and all-or-nothing failures, and the range_manager layer against naive.
#include "differential.hpp"

#include <accel/mm/range/buddy.hpp>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <numeric>
#include <random>
#include <string>
#include <tuple>
#include <vector>

using namespace accel::mm;

namespace {

using block = buddy::block;
using block_list = buddy::block_list;
using F = buddy_flags;

constexpr u64 SZ_4K = 4096, SZ_64K = 64 << 10, SZ_1M = 1 << 20, SZ_8M = 8 << 20;
constexpr u64 SZ_1G = u64{1} << 30;

u64 get_size(unsigned order, u64 chunk) { return chunk << order; }

std::mt19937_64 make_rng(const char* what) {
    const std::uint64_t seed = test::pick_seed(0);
    MESSAGE(std::string(what) << ": seed " << seed << " (rerun with ACCEL_TEST_SEED=" << seed << ")");
    return std::mt19937_64(seed);
}
u64 rand_below(std::mt19937_64& rng, u64 n) { return n ? std::uniform_int_distribution<u64>(0, n - 1)(rng) : 0; }
u64 round_up(u64 x, u64 a) { return (x + a - 1) / a * a; }

/// check_block: state, size and alignment rules, and the buddy relation. Two free buddies may
/// only coexist when their clear states differ (otherwise they must have merged).
void check_block(const buddy& mm, const block& b) {
    CAPTURE(b.offset());
    CAPTURE(b.order());
    const bool known = b.is_allocated() || b.is_free() || b.is_split();
    REQUIRE(known);
    const u64 size = b.size();
    CHECK(size >= mm.chunk_size());
    CHECK(std::has_single_bit(size));
    CHECK(size % mm.chunk_size() == 0);
    CHECK(size == get_size(b.order(), mm.chunk_size()));
    CHECK(b.offset() % mm.chunk_size() == 0);
    CHECK(b.offset() % size == 0);
    if (b.is_split()) {
        REQUIRE(b.left());
        CHECK(b.left()->parent() == &b);
        CHECK(b.right()->parent() == &b);
        CHECK(b.left()->offset() == b.offset());
        CHECK(b.right()->offset() == b.offset() + size / 2);
        CHECK_FALSE(b.is_clear()); // drm resets the clear bit of a split block
    }
    if (!b.parent())
        return;
    const block* y = b.buddy();
    REQUIRE(y);
    CHECK(y->buddy() == &b);
    CHECK(y->offset() == (b.offset() ^ size));
    CHECK(y->size() == size);
    if (b.is_free() && y->is_free())
        CHECK(b.is_clear() != y->is_clear());
}

/// check_blocks: every block allocated and valid, optionally contiguous, sizes summing up.
void check_blocks(const buddy& mm, const block_list& blocks, u64 expected_size, bool contiguous) {
    u64 total = 0;
    const block* prev = nullptr;
    for (const block& b : blocks) {
        CHECK(b.is_allocated());
        check_block(mm, b);
        if (contiguous && prev)
            CHECK(b.offset() == prev->offset() + prev->size());
        total += b.size();
        prev = &b;
    }
    CHECK(total == expected_size);
}

/// check_mm for an empty manager: drm's root layout (one root per set bit of the size, largest
/// first, contiguous from 0), every root free and the first (only) entry of its free list.
void check_mm(const buddy& mm) {
    REQUIRE(mm.n_roots() != 0);
    CHECK(mm.n_roots() == static_cast<std::size_t>(std::popcount(mm.size())));
    CHECK(mm.root(0).order() == mm.max_order());
    u64 offset = mm.base(), total = 0;
    for (std::size_t i = 0; i < mm.n_roots(); ++i) {
        const block& r = mm.root(i);
        CAPTURE(i);
        CHECK(r.is_free());
        CHECK(r.parent() == nullptr);
        CHECK(r.offset() == offset);
        if (i)
            CHECK(r.order() < mm.root(i - 1).order());
        CHECK(mm.free_first(r.order(), r.is_clear()) == &r);
        check_block(mm, r);
        offset += r.size();
        total += r.size();
    }
    CHECK(total == mm.size());
    CHECK(mm.avail() == mm.size());
}

/// The whole-tree property check: every block valid, free leaves add up to avail and
/// clear_avail, and exactly the free blocks sit in the free trees.
void check_tree(const buddy& mm) {
    u64 free = 0, clear = 0, allocated = 0;
    std::size_t free_blocks = 0;
    mm.for_each_block([&](const block& b) {
        check_block(mm, b);
        if (b.is_free()) {
            ++free_blocks;
            free += b.size();
            if (b.is_clear())
                clear += b.size();
        } else if (b.is_allocated()) {
            allocated += b.size();
        }
    });
    CHECK(free == mm.avail());
    CHECK(clear == mm.clear_avail());
    CHECK(free + allocated == mm.size());
    std::size_t in_trees = 0;
    for (unsigned o = 0; o <= mm.max_order(); ++o)
        for (bool c : {false, true}) {
            in_trees += mm.free_count(o, c);
            if (const block* f = mm.free_first(o, c)) {
                CHECK(f->is_free());
                CHECK(f->is_clear() == c);
                CHECK(f->order() == o);
                CHECK(f->offset() <= mm.free_last(o, c)->offset());
            }
        }
    CHECK(in_trees == free_blocks);
}

/// Everything observable about the block tree, to prove a failed call changed nothing.
using snapshot = std::tuple<u64, u64, std::vector<std::tuple<u64, unsigned, int, bool>>>;
snapshot snap(const buddy& mm) {
    snapshot s{mm.avail(), mm.clear_avail(), {}};
    mm.for_each_block([&](const block& b) {
        std::get<2>(s).emplace_back(b.offset(), b.order(), static_cast<int>(b.state()), b.is_clear());
    });
    return s;
}

u64 list_bytes(const block_list& l) {
    u64 t = 0;
    for (const block& b : l)
        t += b.size();
    return t;
}

} // namespace

// ---------------------------------------------------------------------------------------------
// Setup rules.

TEST_CASE("buddy: drm_buddy_init errno rules and root layout") {
    buddy mm;
    CHECK(mm.init(SZ_4K - 1, buddy_chunk{SZ_4K}) == -EINVAL);               // size < chunk
    CHECK(mm.init(SZ_1M, buddy_chunk{2048}) == -EINVAL);                    // chunk < 4K
    CHECK(mm.init(SZ_1M, buddy_chunk{3 * SZ_4K}) == -EINVAL);               // not a power of two
    CHECK(mm.init(SZ_1M, buddy_chunk{0}) == -EINVAL);
    CHECK(mm.init(64 * 1024, buddy_chunk{512, true}) == 0);                 // explicit small chunk
    CHECK(mm.chunk_size() == 512);
    CHECK(mm.max_order() == 7);
    CHECK(mm.fini() == 0);
    CHECK(mm.init(u64{1} << 60, buddy_chunk{1, true}) == -EINVAL);          // order 60 > 51

    SUBCASE("10 GiB: roots 8G@0 + 2G@8G") {
        REQUIRE(mm.init(10 * SZ_1G, buddy_chunk{SZ_4K}) == 0);
        CHECK(mm.n_roots() == 2);
        CHECK(mm.root(0).size() == 8 * SZ_1G);
        CHECK(mm.root(1).offset() == 8 * SZ_1G);
        CHECK(mm.root(1).size() == 2 * SZ_1G);
        CHECK(mm.root(1).buddy() == nullptr);
        check_mm(mm);
    }
    SUBCASE("192K rounds down and splits into 128K + 64K") {
        REQUIRE(mm.init(192 * 1024 + 100, buddy_chunk{SZ_4K}) == 0);
        CHECK(mm.size() == 192 * 1024);
        CHECK(mm.n_roots() == 2);
        CHECK(mm.max_order() == 5);
        check_mm(mm);
    }
    SUBCASE("a space not starting at 0 gets naturally aligned roots") {
        REQUIRE(mm.init(3 * SZ_4K, 13 * SZ_4K) == 0); // [12K, 64K)
        std::vector<u64> sizes;
        for (std::size_t i = 0; i < mm.n_roots(); ++i) {
            CHECK(mm.root(i).offset() % mm.root(i).size() == 0);
            sizes.push_back(mm.root(i).size() / SZ_4K);
        }
        CHECK(sizes == std::vector<u64>{1, 4, 8});
        check_tree(mm);
    }
    SUBCASE("the range_manager init is exact") {
        CHECK(mm.init(0, SZ_4K + 1) == -EINVAL);
        CHECK(mm.init(1, SZ_4K) == -EINVAL);
        CHECK(mm.init(0, 0) == -EINVAL);
        CHECK(mm.init(~u64{0} - SZ_4K + 1, 2 * SZ_4K) == -EINVAL);
        REQUIRE(mm.init(~u64{0} - SZ_1M + 1, SZ_1M) == 0); // ends exactly at 2^64
        CHECK(mm.root(0).last() == ~u64{0});
    }
}

TEST_CASE("buddy: fini reports leaks") {
    buddy mm;
    REQUIRE(mm.init(SZ_1M, buddy_chunk{SZ_4K}) == 0);
    block_list l;
    REQUIRE(mm.alloc_blocks(0, SZ_1M, SZ_4K, SZ_4K, l, 0) == 0);
    CHECK(mm.fini() == -EBUSY);
    CHECK_FALSE(mm.initialized());
    REQUIRE(mm.init(SZ_1M, buddy_chunk{SZ_4K}) == 0);
    CHECK(mm.fini() == 0);
}

// ---------------------------------------------------------------------------------------------
// Ports of drm_buddy_test.c.

TEST_CASE("drm_buddy: alloc_limit") {
    buddy mm;
    const u64 size = ~u64{0};
    const u64 ps = SZ_4K;
    REQUIRE(mm.init(size, buddy_chunk{ps}) == 0);
    CHECK(mm.max_order() == buddy_max_order);
    const u64 sz = get_size(mm.max_order(), ps);
    block_list allocated;
    REQUIRE(mm.alloc_blocks(0, sz, sz, ps, allocated, 0) == 0);
    const block& b = allocated.front();
    CHECK(b.order() == buddy_max_order);
    CHECK(b.size() == (u64{1} << buddy_max_order) * ps);
    check_blocks(mm, allocated, sz, true);
    mm.free_list(allocated, 0);
    CHECK(allocated.empty());
    check_tree(mm);
    CHECK(mm.fini() == 0);
}

TEST_CASE("drm_buddy: alloc_optimistic") {
    const u64 ps = SZ_4K;
    const unsigned max_order = 16;
    // Fill the memory with one block of each order: one root per order.
    const u64 mm_size = ps * ((u64{1} << (max_order + 1)) - 1);
    buddy mm;
    REQUIRE(mm.init(mm_size, buddy_chunk{ps}) == 0);
    CHECK(mm.max_order() == max_order);
    check_mm(mm);
    block_list blocks;
    for (unsigned order = 0; order <= max_order; ++order) {
        CAPTURE(order);
        const u64 size = get_size(order, ps);
        block_list tmp;
        REQUIRE(mm.alloc_blocks(0, mm_size, size, size, tmp, 0) == 0);
        CHECK(tmp.front().order() == order);
        blocks.splice(blocks.end(), tmp);
    }
    check_blocks(mm, blocks, mm_size, false);
    block_list tmp;
    CHECK(mm.alloc_blocks(0, mm_size, ps, ps, tmp, 0) == -ENOSPC); // completely full
    check_tree(mm);
    mm.free_list(blocks, 0);
    check_mm(mm);
    CHECK(mm.fini() == 0);
}

TEST_CASE("drm_buddy: alloc_pessimistic") {
    const u64 ps = SZ_4K;
    const unsigned max_order = 16;
    const u64 mm_size = ps << max_order;
    buddy mm;
    REQUIRE(mm.init(mm_size, buddy_chunk{ps}) == 0);
    CHECK(mm.max_order() == max_order);
    block_list blocks;
    for (unsigned order = 0; order < max_order; ++order) {
        CAPTURE(order);
        block_list tmp;
        const u64 size = get_size(order, ps);
        REQUIRE(mm.alloc_blocks(0, mm_size, size, size, tmp, 0) == 0);
        blocks.splice(blocks.end(), tmp);
    }
    // And now the last remaining block available.
    {
        block_list tmp;
        REQUIRE(mm.alloc_blocks(0, mm_size, ps, ps, tmp, 0) == 0);
        blocks.splice(blocks.end(), tmp);
    }
    // Should be completely full.
    for (unsigned order = max_order; order--;) {
        CAPTURE(order);
        block_list tmp;
        const u64 size = get_size(order, ps);
        CHECK(mm.alloc_blocks(0, mm_size, size, size, tmp, 0) == -ENOSPC);
    }
    check_tree(mm);
    block& last = blocks.back();
    blocks.pop_back();
    mm.free_block(last);
    // As we free in increasing size, larger blocks become available (upward merging).
    unsigned order = 1;
    while (!blocks.empty()) {
        block& b = blocks.front();
        blocks.pop_front();
        mm.free_block(b);
        CAPTURE(order);
        const u64 size = get_size(order, ps);
        block_list tmp;
        REQUIRE(mm.alloc_blocks(0, mm_size, size, size, tmp, 0) == 0);
        mm.free_list(tmp, 0);
        ++order;
    }
    // To confirm, now the whole mm should be available.
    block_list tmp;
    REQUIRE(mm.alloc_blocks(0, mm_size, mm_size, mm_size, tmp, 0) == 0);
    check_blocks(mm, tmp, mm_size, true);
    mm.free_list(tmp, 0);
    check_mm(mm);
    CHECK(mm.fini() == 0);
}

TEST_CASE("drm_buddy: alloc_pathological") {
    const u64 ps = SZ_4K;
    const unsigned max_order = 3;
    const u64 mm_size = ps << max_order;
    buddy mm;
    REQUIRE(mm.init(mm_size, buddy_chunk{ps}) == 0);
    CHECK(mm.max_order() == max_order);
    // Create a pot-sized mm, then allocate one of each possible order within. This should leave
    // the mm with exactly one page left. Free the largest block, then whittle down again.
    // Eventually we will have a fully 50% fragmented mm.
    block_list blocks, holes;
    for (unsigned top = max_order; top; --top) {
        CAPTURE(top);
        if (!blocks.empty()) {
            block& b = blocks.front();
            blocks.pop_front();
            mm.free_block(b);
        }
        for (unsigned order = top; order--;) {
            CAPTURE(order);
            block_list tmp;
            const u64 size = get_size(order, ps);
            REQUIRE(mm.alloc_blocks(0, mm_size, size, size, tmp, 0) == 0);
            blocks.splice(blocks.end(), tmp);
        }
        // There should be one final page for this sub-allocation.
        block_list tmp;
        REQUIRE(mm.alloc_blocks(0, mm_size, ps, ps, tmp, 0) == 0);
        holes.splice(holes.end(), tmp);
        const u64 size = get_size(top, ps);
        CHECK(mm.alloc_blocks(0, mm_size, size, size, tmp, 0) == -ENOSPC);
        check_tree(mm);
    }
    mm.free_list(holes, 0);
    // Nothing larger than blocks of chunk_size now available.
    for (unsigned order = 1; order <= max_order; ++order) {
        CAPTURE(order);
        block_list tmp;
        const u64 size = get_size(order, ps);
        CHECK(mm.alloc_blocks(0, mm_size, size, size, tmp, 0) == -ENOSPC);
    }
    check_tree(mm);
    mm.free_list(blocks, 0);
    check_mm(mm);
    CHECK(mm.fini() == 0);
}

TEST_CASE("drm_buddy: alloc_contiguous") {
    const u64 ps = SZ_4K;
    const u64 mm_size = 16 * 3 * SZ_4K;
    buddy mm;
    REQUIRE(mm.init(mm_size, buddy_chunk{ps}) == 0);
    // Idea is to fragment the address space by alternating block allocations between three
    // different lists; one for left, middle and right. We can then free a list to simulate
    // fragmentation. In particular we want to exercise the try_harder path.
    block_list left, middle, right, allocated;
    const u64 n_pages = mm_size / ps;
    for (u64 i = 0; i < n_pages; ++i) {
        block_list& list = i % 3 == 0 ? right : i % 3 == 1 ? middle : left;
        REQUIRE(mm.alloc_blocks(0, mm_size, ps, ps, list, 0) == 0);
    }
    const unsigned contig = F::contiguous_allocation;
    CHECK(mm.alloc_blocks(0, mm_size, 3 * ps, ps, allocated, contig) == -ENOSPC);
    mm.free_list(middle, 0);
    CHECK(mm.alloc_blocks(0, mm_size, 3 * ps, ps, allocated, contig) == -ENOSPC);
    CHECK(mm.alloc_blocks(0, mm_size, 2 * ps, ps, allocated, contig) == -ENOSPC);
    mm.free_list(right, 0);
    CHECK(mm.alloc_blocks(0, mm_size, 3 * ps, ps, allocated, contig) == -ENOSPC);
    // At this point we should have enough contiguous space for 2 blocks, however they are never
    // buddies (since we freed middle and right) so will require the try_harder logic to find them.
    REQUIRE(mm.alloc_blocks(0, mm_size, 2 * ps, ps, allocated, contig) == 0);
    mm.free_list(left, 0);
    block_list three;
    REQUIRE(mm.alloc_blocks(0, mm_size, 3 * ps, ps, three, contig) == 0);
    check_blocks(mm, three, 3 * ps, true); // 4 pages trimmed back to 3
    allocated.splice(allocated.end(), three);
    CHECK(list_bytes(allocated) == ps * 2 + ps * 3);
    check_tree(mm);
    mm.free_list(allocated, 0);
    check_mm(mm);
    CHECK(mm.fini() == 0);
}

TEST_CASE("drm_buddy: alloc_clear") {
    const u64 ps = SZ_4K;
    const unsigned max_order = 12;
    u64 mm_size = SZ_4K << max_order;
    buddy mm;
    REQUIRE(mm.init(mm_size, buddy_chunk{ps}) == 0);
    CHECK(mm.max_order() == max_order);

    block_list allocated, clean, dirty;
    REQUIRE(mm.alloc_blocks(0, mm_size, 5 * ps, ps, allocated, F::topdown_allocation) == 0);
    mm.free_list(allocated, F::cleared);
    CHECK(mm.clear_avail() == 5 * ps);
    check_tree(mm);

    for (int i = 0; i < 10; ++i) {
        const unsigned fl = i % 2 ? F::clear_allocation : 0;
        REQUIRE(mm.alloc_blocks(0, mm_size, ps, ps, i % 2 ? clean : dirty, fl) == 0);
    }
    for (const block& b : clean)
        CHECK(b.is_clear());
    for (const block& b : dirty)
        CHECK_FALSE(b.is_clear());
    mm.free_list(clean, F::cleared);
    // Trying to go over the clear limit for some allocation: it must fall back to dirty memory.
    REQUIRE(mm.alloc_blocks(0, mm_size, 10 * ps, ps, clean, F::clear_allocation) == 0);
    CHECK(list_bytes(clean) == 10 * ps);
    check_tree(mm);
    mm.free_list(clean, F::cleared);
    mm.free_list(dirty, 0);
    CHECK(mm.fini() == 0);

    // Fragment the space into alternating clear and dirty pages (buddies differ, so nothing
    // merges); every order must still be allocatable through force_merge, and dirty.
    REQUIRE(mm.init(mm_size, buddy_chunk{ps}) == 0);
    const u64 n_pages = mm_size / ps;
    for (u64 i = 0; i < n_pages; ++i)
        REQUIRE(mm.alloc_blocks(0, mm_size, ps, ps, i % 2 ? dirty : clean, 0) == 0);
    mm.free_list(clean, F::cleared);
    mm.free_list(dirty, 0);
    CHECK(mm.clear_avail() == mm_size / 2);
    CHECK(mm.free_count(0, true) == n_pages / 2);
    check_tree(mm);
    for (unsigned order = 1; order <= max_order; ++order) {
        CAPTURE(order);
        const u64 size = SZ_4K << order;
        REQUIRE(mm.alloc_blocks(0, mm_size, size, size, allocated, F::clear_allocation) == 0);
        u64 total = 0;
        for (const block& b : allocated) {
            if (size != mm_size)
                CHECK_FALSE(b.is_clear());
            total += b.size();
        }
        CHECK(total == size);
        check_tree(mm);
        mm.free_list(allocated, 0);
    }
    CHECK(mm.fini() == 0);

    // Non-power-of-two size: allocate from each root, free as cleared; fini must force-merge
    // both roots.
    mm_size = (SZ_4K << max_order) + (SZ_4K << (max_order - 2));
    REQUIRE(mm.init(mm_size, buddy_chunk{ps}) == 0);
    CHECK(mm.max_order() == max_order);
    const u64 r0 = SZ_4K << max_order;
    REQUIRE(mm.alloc_blocks(0, r0, 4 * ps, ps, allocated, F::range_allocation) == 0);
    mm.free_list(allocated, F::cleared);
    REQUIRE(mm.alloc_blocks(0, r0, 2 * ps, ps, allocated, F::clear_allocation) == 0);
    mm.free_list(allocated, F::cleared);
    REQUIRE(mm.alloc_blocks(r0, mm_size, ps, ps, allocated, F::range_allocation) == 0);
    CHECK(allocated.front().offset() >= r0);
    mm.free_list(allocated, F::cleared);
    check_tree(mm);
    CHECK(mm.fini() == 0);
}

TEST_CASE("drm_buddy: reset_clear and the clear accounting") {
    buddy mm;
    const u64 ps = SZ_4K, mm_size = 64 * ps;
    REQUIRE(mm.init(mm_size, buddy_chunk{ps}) == 0);
    block_list a, b;
    for (int i = 0; i < 64; ++i)
        REQUIRE(mm.alloc_blocks(0, mm_size, ps, ps, i % 2 ? a : b, 0) == 0);
    mm.free_list(a, F::cleared);
    CHECK(mm.clear_avail() == 32 * ps);
    mm.reset_clear(true); // everything free becomes clear
    CHECK(mm.clear_avail() == 32 * ps);
    check_tree(mm);
    mm.free_list(b, 0);
    CHECK(mm.clear_avail() == 32 * ps);
    mm.reset_clear(false); // force-merges everything into one dirty root
    CHECK(mm.clear_avail() == 0);
    check_mm(mm);
    mm.reset_clear(true);
    CHECK(mm.clear_avail() == mm_size);
    CHECK(mm.root(0).is_clear());
    REQUIRE(mm.alloc_blocks(0, mm_size, ps, ps, a, 0) == 0); // dirty wanted, clear given
    CHECK(a.front().is_clear());
    CHECK(mm.clear_avail() == mm_size - ps);
    mm.free_list(a, 0);
    check_tree(mm);
    CHECK(mm.fini() == 0);
}

TEST_CASE("drm_buddy: alloc_range_bias") {
    auto rng = make_rng("alloc_range_bias");
    const u64 bias_size = SZ_1M;
    u64 ps = std::bit_ceil(rand_below(rng, bias_size));
    ps = std::max(SZ_4K, ps);
    const u64 mm_size = (SZ_8M - 1) & ~(ps - 1);
    CAPTURE(ps);
    const unsigned rng_flag = F::range_allocation;
    buddy mm;
    REQUIRE(mm.init(mm_size, buddy_chunk{ps}) == 0);

    // Split the address space into uniform bias ranges and allocate each with random sizes.
    const u64 count = mm_size / bias_size;
    std::vector<u64> order(count);
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng);
    block_list allocated;
    for (u64 i = 0; i < count; ++i) {
        const u64 bias_start = order[i] * bias_size, bias_end = bias_start + bias_size;
        u64 bias_rem = bias_size;
        CAPTURE(bias_start);
        block_list tmp;
        // internal round_up too big
        CHECK(mm.alloc_blocks(bias_start, bias_end, bias_size + ps, bias_size, allocated, rng_flag) != 0);
        // size too big
        CHECK(mm.alloc_blocks(bias_start, bias_end, bias_size + ps, ps, allocated, rng_flag) != 0);
        // bias range too small for size
        CHECK(mm.alloc_blocks(bias_start + ps, bias_end, bias_size, ps, allocated, rng_flag) != 0);
        // bias misaligned
        CHECK(mm.alloc_blocks(bias_start + ps, bias_end - ps, bias_size >> 1, bias_size >> 1, allocated,
                              rng_flag) != 0);
        // single big page
        REQUIRE(mm.alloc_blocks(bias_start, bias_end, bias_size, bias_size, tmp, rng_flag) == 0);
        mm.free_list(tmp, 0);
        // single page with internal round_up
        REQUIRE(mm.alloc_blocks(bias_start, bias_end, ps, bias_size, tmp, rng_flag) == 0);
        check_blocks(mm, tmp, ps, true);
        mm.free_list(tmp, 0);
        // random size within
        u64 size = std::max(round_up(rand_below(rng, bias_rem), ps), ps);
        REQUIRE(mm.alloc_blocks(bias_start, bias_end, size, ps, tmp, rng_flag) == 0);
        for (const block& b : tmp) {
            CHECK(b.offset() >= bias_start);
            CHECK(b.last() < bias_end);
        }
        bias_rem -= size;
        // too big for current avail
        CHECK(mm.alloc_blocks(bias_start, bias_end, bias_rem + ps, ps, allocated, rng_flag) != 0);
        if (bias_rem) {
            // random fill of the remainder
            size = std::max(round_up(rand_below(rng, bias_rem), ps), ps);
            REQUIRE(mm.alloc_blocks(bias_start, bias_end, size, ps, allocated, rng_flag) == 0);
            // Intentionally allow some space to be left unallocated.
        }
        allocated.splice(allocated.end(), tmp);
    }
    check_tree(mm);
    mm.free_list(allocated, 0);
    CHECK(mm.fini() == 0);

    // Free-form: a random window, filled while it grows randomly in both directions until it
    // covers the whole space and everything is allocated.
    REQUIRE(mm.init(mm_size, buddy_chunk{ps}) == 0);
    u64 bias_start = round_up(rand_below(rng, mm_size - ps), ps);
    u64 bias_end = round_up(bias_start + rand_below(rng, mm_size - bias_start), ps);
    bias_end = std::max(bias_end, bias_start + ps);
    u64 bias_rem = bias_end - bias_start;
    do {
        const u64 size = std::max(round_up(rand_below(rng, bias_rem), ps), ps);
        CAPTURE(bias_start);
        CAPTURE(bias_end);
        CAPTURE(size);
        REQUIRE(mm.alloc_blocks(bias_start, bias_end, size, ps, allocated, rng_flag) == 0);
        bias_rem -= size;
        do {
            const u64 old_start = bias_start, old_end = bias_end;
            if (bias_start)
                bias_start -= round_up(rand_below(rng, bias_start), ps);
            if (bias_end != mm_size)
                bias_end += round_up(rand_below(rng, mm_size - bias_end), ps);
            bias_rem += old_start - bias_start;
            bias_rem += bias_end - old_end;
        } while (!bias_rem && (bias_start || bias_end != mm_size));
    } while (bias_rem);
    CHECK(bias_start == 0);
    CHECK(bias_end == mm_size);
    CHECK(mm.avail() == 0);
    CHECK(mm.alloc_blocks(bias_start, bias_end, ps, ps, allocated, rng_flag) == -ENOSPC);
    check_tree(mm);
    mm.free_list(allocated, 0);
    CHECK(mm.fini() == 0);

    // CLEAR|RANGE while clear_avail is 0: the fallback gives dirty blocks.
    REQUIRE(mm.init(mm_size, buddy_chunk{ps}) == 0);
    bias_start = round_up(rand_below(rng, mm_size - ps), ps);
    bias_end = round_up(bias_start + rand_below(rng, mm_size - bias_start), ps);
    bias_end = std::max(bias_end, bias_start + ps);
    bias_rem = bias_end - bias_start;
    const u64 size = std::max(round_up(rand_below(rng, bias_rem), ps), ps);
    REQUIRE(mm.alloc_blocks(bias_start, bias_end, size, ps, allocated, F::clear_allocation | rng_flag) == 0);
    for (const block& b : allocated)
        CHECK_FALSE(b.is_clear());
    mm.free_list(allocated, 0);
    CHECK(mm.fini() == 0);
}

TEST_CASE("drm_buddy: fragmentation_performance") {
    // The scenario's checks; its time is a benchmark (bench/mm_buddy), since a time a test only
    // logs can never fail it.
    const u64 mm_size = 4 * SZ_1G, chunk = SZ_4K;
    const std::size_t num_blocks = mm_size / SZ_64K;
    buddy mm;
    std::vector<block_list> lists(num_blocks);

    // 8K rounded up to the 64K minimum block, then trimmed back to 8K.
    auto fill = [&] {
        std::size_t failed = 0;
        for (std::size_t i = 0; i < num_blocks; ++i)
            failed += mm.alloc_blocks(0, mm_size, 8 << 10, SZ_64K, lists[i], 0) != 0;
        return failed;
    };
    auto check_fill = [&] {
        std::size_t bad = 0;
        for (const block_list& l : lists)
            bad += std::distance(l.begin(), l.end()) != 1 || l.front().size() != 8 << 10 ||
                   l.front().offset() % SZ_64K != 0;
        CHECK(bad == 0);
        CHECK(mm.avail() == mm_size - num_blocks * (8 << 10));
    };

    REQUIRE(mm.init(mm_size, buddy_chunk{chunk}) == 0);
    std::size_t failed = fill();
    REQUIRE(failed == 0);
    check_fill();
    block_list clear_list, dirty_list;
    for (std::size_t i = 0; i < num_blocks; ++i) {
        block_list& dst = (i % 4 == 0 || i % 4 == 3) ? clear_list : dirty_list;
        dst.splice(dst.end(), lists[i]);
    }
    mm.free_list(clear_list, F::cleared);
    mm.free_list(dirty_list, 0);
    check_tree(mm);
    CHECK(mm.avail() == mm_size);
    block_list big;
    failed = 0;
    for (std::size_t i = 0; i < num_blocks; ++i)
        failed += mm.alloc_blocks(0, mm_size, SZ_64K, SZ_64K, big, 0) != 0; // force-merges half of them
    mm.free_list(big, 0);
    CHECK(failed == 0);
    CHECK(mm.avail() == mm_size);
    CHECK(mm.fini() == 0);

    // Part 2: the same fill, even blocks freed as cleared, the rest in reverse order as cleared.
    REQUIRE(mm.init(mm_size, buddy_chunk{chunk}) == 0);
    failed = fill();
    REQUIRE(failed == 0);
    check_fill();
    for (std::size_t i = 0; i < num_blocks; i += 2)
        mm.free_list(lists[i], F::cleared);
    for (std::size_t i = num_blocks; i-- > 0;)
        if (i % 2)
            mm.free_list(lists[i], F::cleared);
    // Each freed 8K is clear while the rest of its 64K is dirty: nothing merges until fini's
    // force-merge, which must leave the roots whole.
    CHECK(mm.avail() == mm_size);
    CHECK(mm.clear_avail() == num_blocks * (8 << 10));
    check_tree(mm);
    CHECK(mm.fini() == 0);
}

TEST_CASE("drm_buddy: alloc_exceeds_max_order") {
    const u64 mm_size = 10 * SZ_1G, min_block = SZ_4K, size = 9 * SZ_1G;
    buddy mm;
    REQUIRE(mm.init(mm_size, buddy_chunk{min_block}) == 0);
    CHECK(mm.n_roots() == 2);
    block_list blocks;
    // CONTIGUOUS rounds 9G up to 16G > mm: only the try-harder path can serve it.
    REQUIRE(mm.alloc_blocks(0, mm_size, size, min_block, blocks, F::contiguous_allocation) == 0);
    check_blocks(mm, blocks, size, true);
    CHECK(blocks.front().offset() == 0);
    mm.free_list(blocks, 0);
    // Non-contiguous with min_block 8G: round_up(9G, 8G) = 16G exceeds the mm.
    CHECK(mm.alloc_blocks(0, mm_size, size, 8 * SZ_1G, blocks, 0) == -EINVAL);
    CHECK(mm.alloc_blocks(0, mm_size, size, 8 * SZ_1G, blocks, F::range_allocation) == -EINVAL);
    // No try-harder for RANGE.
    CHECK(mm.alloc_blocks(0, mm_size, size, min_block, blocks,
                          F::contiguous_allocation | F::range_allocation) == -EINVAL);
    CHECK(blocks.empty());
    check_mm(mm);
    CHECK(mm.fini() == 0);
}

TEST_CASE("drm_buddy: alloc_range (historical)") {
    auto rng = make_rng("alloc_range");
    for (int round = 0; round < 8; ++round) {
        // mm_config: random page count up to 8 GiB worth, random chunk, size rounded down.
        const u64 pages = 1 + rand_below(rng, (u64{8} << 30) / SZ_4K);
        const u64 chunk = SZ_4K << rand_below(rng, 5);
        u64 size = std::max(pages * SZ_4K, chunk) & ~(chunk - 1);
        CAPTURE(size);
        CAPTURE(chunk);
        buddy mm;
        REQUIRE(mm.init(size, buddy_chunk{chunk}) == 0);
        check_mm(mm);
        block_list blocks;
        u64 offset = 0, rem = size;
        // Consecutive exact ranges of growing prime sizes (capped so the test stays short).
        static constexpr unsigned primes[] = {2,  3,  5,  7,  11, 13, 17, 19, 23, 29,
                                              31, 37, 41, 43, 47, 53, 59, 61, 67, 71};
        for (std::size_t pi = 0; rem; ++pi) {
            const u64 p = primes[pi % std::size(primes)] << (pi / std::size(primes) * 3);
            const u64 sz = std::min(p * chunk, rem);
            block_list tmp;
            REQUIRE(mm.alloc_blocks(offset, offset + sz, sz, chunk, tmp, F::range_allocation) == 0);
            CHECK(tmp.front().offset() == offset);
            check_blocks(mm, tmp, sz, true);
            CHECK(tmp.back().offset() + tmp.back().size() == offset + sz);
            blocks.splice(blocks.end(), tmp);
            offset += sz;
            rem -= sz;
        }
        check_blocks(mm, blocks, size, true);
        CHECK(mm.avail() == 0);
        check_tree(mm);
        mm.free_list(blocks, 0);
        check_mm(mm);
        CHECK(mm.fini() == 0);
    }
}

TEST_CASE("drm_buddy: alloc_smoke (historical)") {
    auto rng = make_rng("alloc_smoke");
    const u64 chunk = SZ_4K << rand_below(rng, 4);
    const u64 size = std::max(chunk, (1 + rand_below(rng, 1 << 12)) * chunk);
    CAPTURE(size);
    CAPTURE(chunk);
    buddy mm;
    REQUIRE(mm.init(size, buddy_chunk{chunk}) == 0);
    check_mm(mm);
    std::vector<unsigned> orders(mm.max_order() + 1);
    std::iota(orders.begin(), orders.end(), 0u);
    std::shuffle(orders.begin(), orders.end(), rng);
    for (unsigned max_order : orders) {
        CAPTURE(max_order);
        block_list blocks;
        unsigned order = max_order;
        u64 total = 0;
        do {
            block_list tmp;
            int err;
            while ((err = mm.alloc_blocks(0, size, get_size(order, chunk), get_size(order, chunk), tmp, 0)) != 0) {
                REQUIRE(err == -ENOSPC);
                REQUIRE(order != 0); // an order-0 failure before the mm is full is a bug
                --order;
            }
            CHECK(tmp.front().order() == order);
            total += tmp.front().size();
            blocks.splice(blocks.end(), tmp);
        } while (total < mm.size());
        check_blocks(mm, blocks, total, false);
        check_tree(mm);
        mm.free_list(blocks, 0);
        check_mm(mm);
    }
    CHECK(mm.fini() == 0);
}

// ---------------------------------------------------------------------------------------------
// Native API details beyond the KUnit cases.

TEST_CASE("buddy: alloc_blocks validation (-EINVAL)") {
    buddy mm;
    const u64 ps = SZ_4K, mm_size = SZ_1M;
    REQUIRE(mm.init(mm_size, buddy_chunk{ps}) == 0);
    block_list l;
    CHECK(mm.alloc_blocks(0, mm_size, ps - 1, ps, l, 0) == -EINVAL);        // size < chunk
    CHECK(mm.alloc_blocks(0, mm_size, ps, ps / 2, l, 0) == -EINVAL);        // min_block < chunk
    CHECK(mm.alloc_blocks(0, mm_size, ps, 3 * ps, l, 0) == -EINVAL);        // min_block not pow2
    CHECK(mm.alloc_blocks(1, mm_size, ps, ps, l, 0) == -EINVAL);            // start unaligned
    CHECK(mm.alloc_blocks(0, mm_size - 1, ps, ps, l, 0) == -EINVAL);        // end unaligned
    CHECK(mm.alloc_blocks(0, mm_size, ps + 1, ps, l, 0) == -EINVAL);        // size unaligned
    CHECK(mm.alloc_blocks(0, mm_size + ps, ps, ps, l, 0) == -EINVAL);       // end past the mm
    CHECK(mm.alloc_blocks(mm_size, mm_size, ps, ps, l, 0) == -EINVAL);      // range_overflows
    CHECK(mm.alloc_blocks(ps, mm_size, mm_size, ps, l, 0) == -EINVAL);
    CHECK(mm.alloc_blocks(ps, 3 * ps, 2 * ps, 2 * ps, l, 0) == -EINVAL);    // exact range misaligned
    CHECK(mm.alloc_blocks(0, mm_size, mm_size / 2 + ps, 2 * mm_size, l, 0) == -EINVAL); // rounds past the mm
    CHECK(mm.alloc_blocks(0, mm_size, mm_size / 2 + ps, 2 * mm_size, l, F::range_allocation) == -EINVAL);
    CHECK(l.empty());
    CHECK(mm.avail() == mm_size);
    check_mm(mm);
}

TEST_CASE("buddy: placement follows drm (best = smallest order, highest offset, TOPDOWN, RANGE)") {
    buddy mm;
    const u64 ps = SZ_4K, mm_size = 16 * ps;
    REQUIRE(mm.init(mm_size, buddy_chunk{ps}) == 0);
    block_list a, b, c, d;
    REQUIRE(mm.alloc_blocks(0, mm_size, ps, ps, a, 0) == 0);
    CHECK(a.front().offset() == 15 * ps); // the right child each split
    REQUIRE(mm.alloc_blocks(0, mm_size, 2 * ps, 2 * ps, b, 0) == 0);
    CHECK(b.front().offset() == 12 * ps); // order-1 block left over by the first split
    REQUIRE(mm.alloc_blocks(0, mm_size, ps, ps, c, F::range_allocation) == 0);
    CHECK(c.front().offset() == 0); // drm's range search is depth-first: lowest address
    REQUIRE(mm.alloc_blocks(0, 8 * ps, ps, ps, d, F::range_allocation | F::topdown_allocation) == 0);
    CHECK(d.front().offset() == 7 * ps);
    mm.free_list(a, 0);
    mm.free_list(b, 0);
    mm.free_list(c, 0);
    mm.free_list(d, 0);
    check_mm(mm);
    // Non-contiguous: 5 pages come as 4 + 1 (largest order first).
    REQUIRE(mm.alloc_blocks(0, mm_size, 5 * ps, ps, a, 0) == 0);
    REQUIRE(std::distance(a.begin(), a.end()) == 2);
    CHECK(a.front().size() == 4 * ps);
    CHECK(a.back().size() == ps);
    // Contiguous with TRIM_DISABLE keeps the rounded block.
    REQUIRE(mm.alloc_blocks(0, mm_size, 3 * ps, ps, b, F::contiguous_allocation | F::trim_disable) == 0);
    CHECK(list_bytes(b) == 4 * ps);
    check_tree(mm);
    mm.free_list(a, 0);
    mm.free_list(b, 0);
    CHECK(mm.fini() == 0);
}

TEST_CASE("buddy: block_trim") {
    buddy mm;
    const u64 ps = SZ_4K, mm_size = 64 * ps;
    REQUIRE(mm.init(mm_size, buddy_chunk{ps}) == 0);
    block_list l, two;
    REQUIRE(mm.alloc_blocks(0, mm_size, 16 * ps, 16 * ps, l, 0) == 0);
    const u64 off = l.front().offset();
    CHECK(mm.block_trim(nullptr, 17 * ps, l) == -EINVAL); // bigger than the block
    CHECK(mm.block_trim(nullptr, 0, l) == -EINVAL);
    CHECK(mm.block_trim(nullptr, ps + 1, l) == -EINVAL);   // not chunk-aligned
    u64 before = off - ps;
    CHECK(mm.block_trim(&before, ps, l) == -EINVAL);       // start before the block
    u64 late = off + 15 * ps;
    CHECK(mm.block_trim(&late, 2 * ps, l) == -EINVAL);     // runs past the block
    u64 odd = off + 1;
    CHECK(mm.block_trim(&odd, ps, l) == -EINVAL);
    CHECK(mm.block_trim(nullptr, 16 * ps, l) == 0);        // same size: no-op
    CHECK(std::distance(l.begin(), l.end()) == 1);
    REQUIRE(mm.alloc_blocks(0, mm_size, ps, ps, two, 0) == 0);
    l.splice(l.end(), two);
    CHECK(mm.block_trim(nullptr, ps, l) == -EINVAL);       // not exactly one block
    two.splice(two.end(), l, std::prev(l.end()));
    mm.free_list(two, 0);
    u64 mid = off + 5 * ps;
    REQUIRE(mm.block_trim(&mid, 6 * ps, l) == 0);          // keep [5, 11) pages of it
    check_blocks(mm, l, 6 * ps, true);
    CHECK(l.front().offset() == mid);
    CHECK(mm.avail() == mm_size - 6 * ps);
    check_tree(mm);
    mm.free_list(l, 0);
    check_mm(mm);
}

TEST_CASE("buddy: a failed allocation changes nothing (even after force-merging)") {
    buddy mm;
    const u64 ps = SZ_4K, mm_size = 32 * ps;
    REQUIRE(mm.init(mm_size, buddy_chunk{ps}) == 0);
    block_list clean, dirty, keep, out;
    for (int i = 0; i < 32; ++i)
        REQUIRE(mm.alloc_blocks(0, mm_size, ps, ps, i % 2 ? dirty : clean, 0) == 0);
    mm.free_list(clean, F::cleared);
    mm.free_list(dirty, 0);
    CHECK(mm.free_count(0, true) == 16); // buddies differ in clear state: nothing merged
    CHECK(mm.free_count(0, false) == 16);
    REQUIRE(mm.alloc_blocks(20 * ps, 21 * ps, ps, ps, keep, 0) == 0); // hold pages 20 and 31
    REQUIRE(mm.alloc_blocks(31 * ps, 32 * ps, ps, ps, keep, 0) == 0);
    check_tree(mm);
    snapshot before = snap(mm);
    // 30 pages in order-1 pieces: only 14 page pairs are wholly free. The call force-merges and
    // takes pair after pair, then fails; giving the pairs back merges them further (all dirty).
    // Every bit of that must be undone.
    CHECK(mm.alloc_blocks(0, mm_size, 30 * ps, 2 * ps, out, F::clear_allocation) == -ENOSPC);
    CHECK(out.empty());
    CHECK(snap(mm) == before);
    check_tree(mm);
    // What does fit (28 pages) succeeds through the same force-merges.
    REQUIRE(mm.alloc_blocks(0, mm_size, 28 * ps, 2 * ps, out, F::clear_allocation) == 0);
    check_blocks(mm, out, 28 * ps, false);
    for (const block& b : out)
        CHECK_FALSE(b.is_clear());
    CHECK(mm.clear_avail() == ps); // left over: page 21 (clear) and page 30 (dirty)
    mm.free_list(out, 0);
    check_tree(mm);
    // A failed exact range and a failed range search leave everything alone too.
    before = snap(mm);
    CHECK(mm.alloc_blocks(0, mm_size, mm_size, ps, out, 0) == -ENOSPC);
    CHECK(mm.alloc_blocks(16 * ps, 24 * ps, 8 * ps, 8 * ps, out, F::range_allocation) == -ENOSPC);
    CHECK(mm.alloc_blocks(16 * ps, 32 * ps, 8 * ps, 8 * ps, out, F::range_allocation) == -ENOSPC);
    CHECK(out.empty());
    CHECK(snap(mm) == before);
    mm.free_list(keep, 0);
    CHECK(mm.fini() == 0);
}

TEST_CASE("buddy: randomized native API: invariants hold and failures change nothing") {
    auto rng = make_rng("native fuzz");
    const u64 ps = SZ_4K;
    const u64 mm_size = ps * (256 + rand_below(rng, 256)); // usually several roots
    CAPTURE(mm_size);
    buddy mm;
    REQUIRE(mm.init(mm_size, buddy_chunk{ps}) == 0);
    std::vector<block_list> slots(48);
    for (int step = 0; step < 4000; ++step) {
        CAPTURE(step);
        block_list& slot = slots[rand_below(rng, slots.size())];
        if (!slot.empty()) {
            mm.free_list(slot, rand_below(rng, 2) ? F::cleared : 0);
            continue;
        }
        const u64 min_block = ps << rand_below(rng, 4);
        const u64 size = ps * (1 + rand_below(rng, 48));
        unsigned fl = 0;
        fl |= rand_below(rng, 3) == 0 ? F::contiguous_allocation : 0;
        fl |= rand_below(rng, 2) == 0 ? F::clear_allocation : 0;
        fl |= rand_below(rng, 4) == 0 ? F::topdown_allocation : 0;
        fl |= rand_below(rng, 8) == 0 ? F::trim_disable : 0;
        u64 start = 0, end = mm_size;
        if (rand_below(rng, 3) == 0) {
            fl |= F::range_allocation;
            start = ps * rand_below(rng, mm_size / ps);
            end = start + ps * (1 + rand_below(rng, (mm_size - start) / ps));
        }
        CAPTURE(size);
        CAPTURE(min_block);
        CAPTURE(fl);
        CAPTURE(start);
        CAPTURE(end);
        const snapshot before = snap(mm);
        const int r = mm.alloc_blocks(start, end, size, min_block, slot, fl);
        if (r) {
            CHECK((r == -ENOSPC || r == -EINVAL));
            CHECK(slot.empty());
            CHECK(snap(mm) == before);
        } else {
            const u64 got = list_bytes(slot);
            CHECK(got >= size);
            if (!(fl & F::trim_disable) && min_block == ps)
                CHECK(got == size);
            check_blocks(mm, slot, got, fl & F::contiguous_allocation);
            if ((fl & F::range_allocation) || start + size == end)
                for (const block& b : slot) {
                    CHECK(b.offset() >= start);
                    CHECK(b.last() < end);
                }
            CHECK(mm.avail() == std::get<0>(before) - got);
        }
        if (step % 32 == 0)
            check_tree(mm);
    }
    for (block_list& l : slots)
        mm.free_list(l, 0);
    check_tree(mm);
    CHECK(mm.fini() == 0);
}

// ---------------------------------------------------------------------------------------------
// range_manager layer.

TEST_CASE("buddy: range_manager errno paths") { test::check_common_errnos<buddy>(4096); }

TEST_CASE("buddy: range_manager placement, trimming and listings") {
    buddy m;
    REQUIRE(m.init(0, SZ_1M) == 0);
    buddy::node a, b, c, d, e;
    REQUIRE(m.insert(a, {.size = 4096}) == 0);
    CHECK(a.start() == SZ_1M - 4096); // best: smallest order, highest offset, right child
    REQUIRE(m.insert(b, {.size = 8192}) == 0);
    CHECK(b.start() == SZ_1M - 16384);
    REQUIRE(m.insert(c, {.size = 4096, .mode = placement::low}) == 0);
    CHECK(c.start() == 0);
    REQUIRE(m.insert(d, {.size = 3 * 4096 - 100, .alignment = 65536, .mode = placement::high}) == 0);
    CHECK(d.size() == 3 * 4096); // chunk rounding only, trimmed from the 64K block
    CHECK(d.start() % 65536 == 0);
    CHECK(std::distance(d.blocks().begin(), d.blocks().end()) == 2); // 8K + 4K
    CHECK(m.insert(e, {.size = 4096, .alignment = 4096 * 3}) == -EINVAL); // power-of-two only
    std::vector<range> nodes(m.nodes().begin(), m.nodes().end());
    REQUIRE(nodes.size() == 4);
    CHECK(nodes[0] == range{0, 4096});
    for (std::size_t i = 1; i < nodes.size(); ++i)
        CHECK(nodes[i].start >= nodes[i - 1].start + nodes[i - 1].size);
    // Holes are maximal even across blocks that are not buddies.
    u64 hole_bytes = 0, prev_end = 0;
    bool first = true;
    for (range h : m.holes()) {
        if (!first)
            CHECK(h.start > prev_end); // never two adjacent holes
        first = false;
        prev_end = h.start + h.size;
        hole_bytes += h.size;
    }
    CHECK(hole_bytes == m.stats().free_bytes);
    CHECK(m.stats().metadata_bytes > 0);
    for (buddy::node* n : {&a, &b, &c, &d})
        m.remove(*n);
    CHECK(m.stats().hole_count == 1);
    CHECK(m.stats().largest_hole == SZ_1M);
    check_mm(m);
}

TEST_CASE("buddy: range_manager try-harder for sizes past the largest free order") {
    buddy m;
    REQUIRE(m.init(0, 16 * SZ_4K) == 0);
    buddy::node p, q, big;
    // Hold pages 3 and 12: both order-3 blocks are broken, and the 8 free pages [4, 12) are two
    // order-2 blocks of different parents. 6 pages round up to order 3, so only the try-harder
    // path (an order-2 block extended across its neighbour) can serve them.
    REQUIRE(m.reserve(p, 3 * SZ_4K, SZ_4K) == 0);
    REQUIRE(m.reserve(q, 12 * SZ_4K, SZ_4K) == 0);
    SUBCASE("best: the highest order-2 block, extended to the left") {
        REQUIRE(m.insert(big, {.size = 6 * SZ_4K}) == 0);
        CHECK(big.start() == 6 * SZ_4K);
    }
    SUBCASE("low: the lowest order-2 block, extended to the right") {
        REQUIRE(m.insert(big, {.size = 6 * SZ_4K, .mode = placement::low}) == 0);
        CHECK(big.start() == 4 * SZ_4K);
    }
    SUBCASE("alignment is kept") {
        REQUIRE(m.insert(big, {.size = 6 * SZ_4K, .alignment = 4 * SZ_4K}) == 0);
        CHECK(big.start() == 4 * SZ_4K);
    }
    SUBCASE("bounded requests do not try harder (drm: no try-harder with RANGE)") {
        CHECK(m.insert(big, {.size = 6 * SZ_4K, .lo = SZ_4K}) == -ENOSPC);
        CHECK_FALSE(big.allocated());
        CHECK(m.stats().free_bytes == 14 * SZ_4K);
    }
    if (big.allocated()) {
        CHECK(big.size() == 6 * SZ_4K);
        check_tree(m);
        m.remove(big);
    }
    m.remove(p);
    m.remove(q);
    check_mm(m);
}

TEST_CASE("buddy: range_manager differential against naive") {
    test::differential_config cfg;
    cfg.granule = 4096;
    cfg.min_size = 4096;
    cfg.exact = false;
    SUBCASE("4 GiB at 0") { test::run_differential<buddy>(cfg); }
    SUBCASE("odd-sized space ending at 2^64") {
        cfg.space_size = (u64{1} << 32) - 7 * 4096;
        cfg.space_start = u64{0} - cfg.space_size;
        cfg.ops = test::default_ops() / 4;
        test::run_differential<buddy>(cfg);
    }
    SUBCASE("small, crowded space") {
        cfg.space_start = 5 * 4096;
        cfg.space_size = 3000 * 4096;
        cfg.max_size = 64 * 4096;
        cfg.max_align_log2 = 16;
        cfg.target_live = 200;
        cfg.ops = test::default_ops() / 4;
        test::run_differential<buddy>(cfg);
    }
}

TEST_CASE("buddy: a range_manager node is one pointer, movable, naming its blocks in order") {
    static_assert(sizeof(buddy::node) == sizeof(void*));
    buddy m;
    REQUIRE(m.init(0, SZ_1M) == 0);
    std::vector<buddy::node> v; // reallocates: allocated nodes are moved
    std::vector<u64> sizes;
    for (u64 i = 0; i < 40; ++i) {
        const u64 size = SZ_4K * (1 + i % 7); // 3, 5, 6 and 7 pages are trimmed runs
        v.emplace_back();
        REQUIRE(m.insert(v.back(), {.size = size}) == 0);
        sizes.push_back(size);
    }
    check_tree(m);
    u64 total = 0;
    for (std::size_t i = 0; i < v.size(); ++i) {
        CAPTURE(i);
        CHECK(v[i].allocated());
        CHECK(v[i].size() == sizes[i]);
        u64 at = v[i].start(), sum = 0;
        std::size_t count = 0;
        for (const block& b : v[i].blocks()) { // ascending, adjacent, allocated
            CHECK(b.is_allocated());
            CHECK(b.offset() == at);
            at += b.size();
            sum += b.size();
            ++count;
        }
        CHECK(sum == sizes[i]);
        CHECK(count == static_cast<std::size_t>(std::popcount(sizes[i] / SZ_4K))); // trimmed: one block per set bit
        total += sizes[i];
    }
    CHECK(m.avail() == SZ_1M - total);
    buddy::node moved = v[3]; // a copy names the same allocation; remove it once
    m.remove(moved);
    CHECK_FALSE(moved.allocated());
    CHECK(m.avail() == SZ_1M - total + sizes[3]);
    for (std::size_t i = 0; i < v.size(); ++i)
        if (i != 3)
            m.remove(v[i]);
    check_mm(m);
}

TEST_CASE("buddy: range_manager best placement of whole blocks is drm's default allocation") {
    // The node layer's fast path (a power-of-two size, unbounded, best) must pick exactly the
    // block drm_buddy_alloc_blocks picks without flags: the smallest free order that fits, its
    // highest-offset block, split down keeping the right half.
    auto rng = make_rng("node fast path vs alloc_blocks");
    buddy nodes, native;
    const u64 size = SZ_1G - 5 * SZ_4K; // several roots
    REQUIRE(nodes.init(0, size) == 0);
    REQUIRE(native.init(size, buddy_chunk{}) == 0);
    std::vector<buddy::node> n(400);
    std::vector<block_list> l(400);
    for (int step = 0; step < 20000; ++step) {
        const std::size_t i = rand_below(rng, n.size());
        if (n[i].allocated()) {
            nodes.remove(n[i]);
            native.free_list(l[i]);
            continue;
        }
        const u64 bytes = SZ_4K << rand_below(rng, 12);
        const int a = nodes.insert(n[i], {.size = bytes, .alignment = rand_below(rng, 2) ? bytes : 0});
        const int b = native.alloc_blocks(0, size, bytes, bytes, l[i]);
        REQUIRE(a == b);
        if (a == 0) {
            REQUIRE(std::distance(l[i].begin(), l[i].end()) == 1);
            CHECK(n[i].start() == l[i].front().offset());
            CHECK(n[i].size() == l[i].front().size());
        }
        if (step % 1000 == 0) {
            check_tree(nodes);
            CHECK(snap(nodes) == snap(native));
        }
    }
    for (std::size_t i = 0; i < n.size(); ++i)
        if (n[i].allocated()) {
            nodes.remove(n[i]);
            native.free_list(l[i]);
        }
    check_mm(nodes);
    check_mm(native);
}

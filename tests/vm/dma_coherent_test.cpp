// SPDX-License-Identifier: MIT
// dma_coherent and dma_pool: two addresses of the same bytes, zeroing, pooling, alignment and
// boundary rules, bad frees, region exhaustion, and concurrent use.
#include <accel/mm/dma_coherent.hpp>
#include <accel/mm/range/best_fit.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <set>
#include <thread>
#include <vector>

using namespace accel::mm;

namespace {
struct region_fixture {
    device_memory_region<best_fit> region;
    region_fixture(u64 size = 1 << 20) { REQUIRE(region.init("dma", 0x80000000ull, size, 4096) == 0); }
};
} // namespace

TEST_CASE("dma_coherent: the CPU pointer and the device address name the same zeroed bytes") {
    region_fixture f;
    dma_coherent<best_fit> dc(f.region);
    CHECK(dc.alloc(0).error() == -EINVAL);
    auto a = dc.alloc(100);
    REQUIRE(a);
    CHECK(a->size == 4096);
    CHECK(a->dma >= 0x80000000ull);
    CHECK(a->cpu == f.region.host_ptr(a->dma, a->size)); // what the software device reads
    for (u64 i = 0; i < a->size; ++i)
        REQUIRE(a->cpu[i] == std::byte{0});
    a->cpu[5] = std::byte{0x7f};
    CHECK(*f.region.host_ptr(a->dma + 5, 1) == std::byte{0x7f});
    CHECK(dc.buffers() == 1);
    CHECK(dc.free(*a) == 0);
    CHECK(dc.free(*a) == -EINVAL); // already given back
    CHECK(f.region.stats().used == 0);
    auto b = dc.alloc(4096);
    REQUIRE(b);
    CHECK(b->cpu[5] == std::byte{0}); // zeroed again
    auto big = dc.alloc(2 << 20); // larger than the region
    CHECK(big.error() == -ENOSPC);
    CHECK(dc.free(*b) == 0);
}

TEST_CASE("dma_pool: blocks come from shared chunks, aligned, never across the boundary") {
    region_fixture f;
    dma_coherent<best_fit> dc(f.region);
    dma_pool<best_fit> bad(dc, 0);
    CHECK(!bad.valid());
    CHECK(bad.alloc().error() == -EINVAL);
    dma_pool<best_fit> bad_boundary(dc, 64, 64, 32); // boundary smaller than a block
    CHECK(!bad_boundary.valid());

    dma_pool<best_fit> pool(dc, 48, 64, 1024); // 48-byte descriptors on 64-byte lines, 1 KiB windows
    REQUIRE(pool.valid());
    CHECK(pool.block_size() == 64);
    std::vector<dma_buffer> blocks;
    std::set<u64> addrs;
    for (int i = 0; i < 40; ++i) {
        auto b = pool.alloc_zeroed();
        REQUIRE(b);
        CHECK(b->dma % 64 == 0);
        CHECK(b->dma / 1024 == (b->dma + b->size - 1) / 1024); // inside one boundary window
        CHECK(b->cpu == f.region.host_ptr(b->dma, b->size));
        CHECK(b->cpu[0] == std::byte{0});
        CHECK(addrs.insert(b->dma).second); // distinct
        blocks.push_back(*b);
    }
    CHECK(pool.blocks_in_use() == 40);
    CHECK(pool.chunks() == 3); // 16 blocks per 1 KiB chunk
    CHECK(dc.buffers() == 3);
    dma_buffer forged = blocks[0];
    forged.dma += 8;
    forged.cpu += 8;
    CHECK(pool.free(forged) == -EINVAL); // not a block start
    CHECK(pool.free(blocks[0]) == 0);
    CHECK(pool.free(blocks[0]) == -EINVAL); // double free
    auto again = pool.alloc();
    REQUIRE(again);
    CHECK(again->dma == blocks[0].dma); // reused before a new chunk is taken
    CHECK(pool.chunks() == 3);
}

TEST_CASE("dma_pool: a full region is ENOSPC and the pool stays usable") {
    region_fixture f(16 * 4096);
    dma_coherent<best_fit> dc(f.region);
    dma_pool<best_fit> pool(dc, 4096);
    std::vector<dma_buffer> got;
    for (;;) {
        auto b = pool.alloc();
        if (!b) {
            CHECK(b.error() == -ENOSPC);
            break;
        }
        got.push_back(*b);
    }
    CHECK(got.size() == 16);
    CHECK(pool.free(got.back()) == 0);
    CHECK(pool.alloc()); // the freed block
}

TEST_CASE("dma_pool and dma_coherent: concurrent allocation and free") {
    region_fixture f(4 << 20);
    dma_coherent<best_fit> dc(f.region);
    dma_pool<best_fit> pool(dc, 256);
    std::atomic<int> errors{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&, t] {
            std::vector<dma_buffer> mine;
            for (int i = 0; i < 500; ++i) {
                auto b = pool.alloc();
                if (!b) {
                    ++errors;
                    continue;
                }
                b->cpu[0] = static_cast<std::byte>(t);
                mine.push_back(*b);
                if (i % 3 == 0) {
                    auto c = dc.alloc(4096);
                    if (!c || dc.free(*c) != 0)
                        ++errors;
                }
            }
            for (const dma_buffer& b : mine)
                if (b.cpu[0] != static_cast<std::byte>(t) || pool.free(b) != 0)
                    ++errors;
        });
    for (auto& th : threads)
        th.join();
    CHECK(errors == 0);
    CHECK(pool.blocks_in_use() == 0);
}

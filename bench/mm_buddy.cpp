// SPDX-License-Identifier: MIT
// bench/mm_buddy: the drm_buddy KUnit scenario fragmentation_performance
// (drivers/gpu/drm/tests/drm_buddy_test.c), timed. The scenario's checks are a test
// (tests/mm/buddy_test.cpp, "drm_buddy: fragmentation_performance"); here is only its time,
// which used to be logged by that test, where it could never fail.
//
//   drm_buddy/fragmentation_performance/part1
//       4 GiB, 4 KiB chunks: 65536 allocations of 8 KiB with a 64 KiB minimum block (rounded up,
//       then trimmed back to 8 KiB); free them all, half as cleared and half dirty (i % 4 in
//       {0, 3} cleared), so clear and dirty buddies sit side by side; then 65536 allocations of
//       64 KiB, which must force-merge them.
//   drm_buddy/fragmentation_performance/part2
//       the same fill; free the even ones as cleared, the odd ones in reverse order as cleared;
//       fini (whose force-merge must rebuild the roots).
// Timed as upstream times it: fill, frees and the second round or fini; init and the lists'
// bookkeeping are outside the measurement (manual time). Upstream's figures for orientation
// (kernel, not comparable): about 76 s with free lists, about 190 ms with rb-trees.
#include <accel/mm/range/buddy.hpp>

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace {

using accel::mm::buddy;
using accel::mm::buddy_chunk;
using F = accel::mm::buddy_flags;
using u64 = std::uint64_t;
using clk = std::chrono::steady_clock;

constexpr u64 SZ_4K = 4096, SZ_8K = 8192, SZ_64K = 64 << 10, SZ_1G = u64{1} << 30;
constexpr u64 mm_size = 4 * SZ_1G;
constexpr std::size_t num_blocks = mm_size / SZ_64K;

double seconds(clk::duration d) { return std::chrono::duration<double>(d).count(); }

/// 8 KiB rounded up to the 64 KiB minimum block, then trimmed back: the scenario's fill.
bool fill(buddy& mm, std::vector<buddy::block_list>& lists) {
    for (auto& l : lists)
        if (mm.alloc_blocks(0, mm_size, SZ_8K, SZ_64K, l, 0) != 0)
            return false;
    return true;
}

/// One run of a scenario per iteration: init (untimed), then the fill and `rest` (timed), then
/// fini if `rest` left the manager initialised (untimed; a no-op otherwise). `rest` returns an
/// error message, or nullptr.
template <class Rest>
void scenario(benchmark::State& state, Rest rest) {
    std::vector<buddy::block_list> lists(num_blocks);
    for (auto _ : state) {
        buddy mm;
        if (mm.init(mm_size, buddy_chunk{SZ_4K}) != 0) {
            state.SkipWithError("init failed");
            break;
        }
        const auto t0 = clk::now();
        const char* error = fill(mm, lists) ? rest(mm, lists) : "the fill failed";
        state.SetIterationTime(seconds(clk::now() - t0));
        if (error) {
            state.SkipWithError(error);
            break;
        }
        mm.fini();
    }
}

void part1(benchmark::State& state) {
    scenario(state, [](buddy& mm, std::vector<buddy::block_list>& lists) -> const char* {
        buddy::block_list clear_list, dirty_list;
        for (std::size_t i = 0; i < num_blocks; ++i) {
            buddy::block_list& dst = (i % 4 == 0 || i % 4 == 3) ? clear_list : dirty_list;
            dst.splice(dst.end(), lists[i]);
        }
        mm.free_list(clear_list, F::cleared);
        mm.free_list(dirty_list, 0);
        buddy::block_list big;
        std::size_t failed = 0;
        for (std::size_t i = 0; i < num_blocks; ++i)
            failed += mm.alloc_blocks(0, mm_size, SZ_64K, SZ_64K, big, 0) != 0;
        mm.free_list(big, 0);
        return failed ? "a 64 KiB allocation failed" : nullptr;
    });
}

void part2(benchmark::State& state) {
    scenario(state, [](buddy& mm, std::vector<buddy::block_list>& lists) -> const char* {
        for (std::size_t i = 0; i < num_blocks; i += 2)
            mm.free_list(lists[i], F::cleared);
        for (std::size_t i = num_blocks; i-- > 0;)
            if (i % 2)
                mm.free_list(lists[i], F::cleared);
        return mm.fini() != 0 ? "fini found leaked blocks" : nullptr; // fini's force-merge is timed
    });
}

BENCHMARK(part1)->Name("drm_buddy/fragmentation_performance/part1")->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(part2)->Name("drm_buddy/fragmentation_performance/part2")->UseManualTime()->Unit(benchmark::kMillisecond);

} // namespace

BENCHMARK_MAIN();

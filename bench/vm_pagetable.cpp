// SPDX-License-Identifier: MIT
// bench/vm_pagetable: device MMU page tables (accel/mm/vm/page_table.hpp) kept in a device memory
// region (best_fit), mapping 1 GiB of device VA and walking it.
//
// Benchmarks are named <what>/<format>/<page>, with page 4KiB (lpae_4k), 64KiB (lpae_64k) and
// 2MiB (lpae_4k, 2 MiB blocks). VA and PA are 1 GiB aligned, so the page size is the leaf used.
//   map        one iteration = 1 GiB mapped with one map() call per page (timed), then unmapped
//              (untimed); every call invalidates the TLB through the driver callback once
//   unmap      the reverse: 1 GiB unmapped one page per call (timed) after an untimed map
//   map_1call  1 GiB in ONE map() call with max_page = the page (one TLB invalidation), then
//              one unmap() call; both timed: the per-call overhead left out
//   translate  the software walker: one translate() of a pseudo-random VA in the mapped GiB
// Counters:
//   ops_per_s         map()/unmap() calls (translate: translations) per second
//   time_per_page     CPU seconds per page mapped or unmapped (shown with an SI prefix: 30n = 30 ns)
//   pt_bytes_per_GiB  region bytes taken by page-table pages while the GiB is mapped (root included)
#include <accel/mm/device_memory.hpp>
#include <accel/mm/range/best_fit.hpp>
#include <accel/mm/vm/lpae_formats.hpp>
#include <accel/mm/vm/page_table.hpp>

#include <benchmark/benchmark.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace {

using accel::mm::best_fit;
using accel::mm::device_memory_region;
using accel::mm::u64;
using namespace accel::mm::vm;

constexpr u64 KiB = 1024, MiB = KiB * 1024, GiB = MiB * 1024;
constexpr u64 va_base = 4 * GiB, pa_base = 16 * GiB;
using region = device_memory_region<best_fit>;

template <class F>
struct pt_fixture {
    region mem;
    page_table<F, region> pt;
    u64 flushes = 0;
    bool ok = false;
    pt_fixture() {
        ok = mem.init("pt", 0x8000'0000, 64 * MiB, 4 * KiB) == 0 && pt.init(mem) == 0;
        pt.set_tlb_invalidate([](void* c, u64, u64) { ++*static_cast<u64*>(c); }, &flushes);
    }
    bool map_pages(u64 page) {
        for (u64 off = 0; off < GiB; off += page)
            if (pt.map(va_base + off, pa_base + off, page, vm_perm::rw))
                return false;
        return true;
    }
    bool unmap_pages(u64 page) {
        for (u64 off = 0; off < GiB; off += page)
            if (!pt.unmap(va_base + off, page))
                return false;
        return true;
    }
};

template <class F>
void set_counters(benchmark::State& st, u64 calls, u64 pages, double pt_bytes) {
    st.counters["ops_per_s"] = benchmark::Counter(static_cast<double>(calls), benchmark::Counter::kIsRate);
    st.counters["time_per_page"] = benchmark::Counter(static_cast<double>(pages),
                                                      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
    st.counters["pt_bytes_per_GiB"] = pt_bytes;
}

template <class F>
void bm_map(benchmark::State& st, u64 page) {
    pt_fixture<F> fx;
    if (!fx.ok)
        return st.SkipWithError("region or root table");
    u64 calls = 0;
    double pt_bytes = 0;
    for (auto _ : st) {
        if (!fx.map_pages(page))
            return st.SkipWithError("map failed");
        st.PauseTiming();
        pt_bytes = static_cast<double>(fx.pt.table_bytes());
        if (!fx.unmap_pages(page))
            return st.SkipWithError("unmap failed");
        st.ResumeTiming();
        calls += GiB / page;
    }
    set_counters<F>(st, calls, calls, pt_bytes);
}

template <class F>
void bm_unmap(benchmark::State& st, u64 page) {
    pt_fixture<F> fx;
    if (!fx.ok)
        return st.SkipWithError("region or root table");
    u64 calls = 0;
    double pt_bytes = 0;
    for (auto _ : st) {
        st.PauseTiming();
        if (!fx.map_pages(page))
            return st.SkipWithError("map failed");
        pt_bytes = static_cast<double>(fx.pt.table_bytes());
        st.ResumeTiming();
        if (!fx.unmap_pages(page))
            return st.SkipWithError("unmap failed");
        calls += GiB / page;
    }
    set_counters<F>(st, calls, calls, pt_bytes);
}

template <class F>
void bm_map_1call(benchmark::State& st, u64 page) {
    pt_fixture<F> fx;
    if (!fx.ok)
        return st.SkipWithError("region or root table");
    u64 calls = 0, pages = 0;
    double pt_bytes = 0;
    for (auto _ : st) {
        if (fx.pt.map(va_base, pa_base, GiB, vm_perm::rw, page))
            return st.SkipWithError("map failed");
        pt_bytes = static_cast<double>(fx.pt.table_bytes());
        if (!fx.pt.unmap(va_base, GiB))
            return st.SkipWithError("unmap failed");
        calls += 2;
        pages += 2 * (GiB / page);
    }
    set_counters<F>(st, calls, pages, pt_bytes);
}

template <class F>
void bm_translate(benchmark::State& st, u64 page) {
    pt_fixture<F> fx;
    if (!fx.ok || fx.pt.map(va_base, pa_base, GiB, vm_perm::rw, page))
        return st.SkipWithError("setup");
    std::vector<u64> vas(4096);
    u64 x = 0x9e3779b97f4a7c15;
    for (u64& va : vas) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17; // xorshift: spread over the GiB, not sequential
        va = va_base + (x & (GiB - 1));
    }
    std::size_t i = 0;
    u64 sum = 0;
    for (auto _ : st) {
        auto t = fx.pt.translate(vas[i++ & 4095]);
        sum += t->pa;
        benchmark::DoNotOptimize(sum);
    }
    if (sum == 0)
        return st.SkipWithError("nothing translated");
    const auto n = static_cast<u64>(st.iterations());
    set_counters<F>(st, n, n, static_cast<double>(fx.pt.table_bytes()));
}

template <class F>
void add_all(const char* fmt, u64 page, const char* page_name) {
    const std::string tail = std::string("/") + fmt + "/" + page_name;
    benchmark::RegisterBenchmark(("map" + tail).c_str(), bm_map<F>, page)->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("unmap" + tail).c_str(), bm_unmap<F>, page)->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("map_1call" + tail).c_str(), bm_map_1call<F>, page)->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("translate" + tail).c_str(), bm_translate<F>, page);
}

} // namespace

int main(int argc, char** argv) {
    add_all<lpae_4k>("lpae_4k", 4 * KiB, "4KiB");
    add_all<lpae_64k>("lpae_64k", 64 * KiB, "64KiB");
    add_all<lpae_4k>("lpae_4k", 2 * MiB, "2MiB");
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv))
        return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}

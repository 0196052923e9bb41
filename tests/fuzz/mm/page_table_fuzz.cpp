// SPDX-License-Identifier: MIT
// accel_fuzz_page_table: page_table<Format, device_memory_region<best_fit>> against an extent map.
//
// The first byte picks the format: lpae_4k, lpae_64k, or a tiny 3-level format (21-bit VA, leaves
// at every level) where the whole VA space, its top end and every leaf size are reached by short
// inputs. The region holding the tables is small (its size comes from the input), so -ENOSPC on
// table allocation is frequent. Operations: map (any va / pa / size / perms / max_page, hostile
// ones included), unmap (splitting leaves), translate, a second init. After every operation:
// - every leaf lies inside one mapped extent, with the extent's pa and perms and a size no larger
//   than the extent's max_page, and the leaves add up to the mapped bytes (no overlap, no gap);
// - the tables in use are exactly those the leaves need (an empty table is freed at once) and
//   the region holds exactly their bytes;
// - a map leaves the greedy largest-leaf decomposition of its range; a failed map or unmap
//   changes no translation and (map) frees every table it created; the TLB callback ran once
//   with the requested range when something changed.
// At the end everything is unmapped: only the root is left.
#include "fuzz_check.hpp"

#include <accel/mm/device_memory.hpp>
#include <accel/mm/range/best_fit.hpp>
#include <accel/mm/vm/lpae_formats.hpp>
#include <accel/mm/vm/page_table.hpp>

#include <cerrno>
#include <cstdint>
#include <iterator>
#include <map>
#include <set>
#include <utility>
#include <vector>

namespace accel::mm::fuzz {
namespace {

using namespace accel::mm::vm;

/// 3 levels of 2, 3 and 4 bits over 4 KiB pages: a 2 MiB VA space, leaves of 512 KiB, 64 KiB
/// and 4 KiB (every level may hold leaves).
struct tiny_format : vm::detail::lpae_encoding<3, 12> {
    static constexpr unsigned levels = 3;
    static constexpr unsigned level_bits[levels] = {2, 3, 4};
    static constexpr unsigned page_shift = 12;
    static constexpr bool leaf_allowed(unsigned) noexcept { return true; }
};
static_assert(diagnose_page_table_format<tiny_format>());

using region = device_memory_region<best_fit>;

struct extent {
    u64 size, pa;
    vm_perm perms;
    u64 max_page;
};

template <class F>
class page_table_fuzzer {
    using pt_type = page_table<F, region>;
    using geo = page_table_geometry<F>;
    static constexpr u64 min_page = geo::min_page;
    static constexpr u64 va_limit = pt_type::va_limit;

public:
    explicit page_table_fuzzer(FuzzedDataProvider& in) : in_(in) {}

    void run() {
        current_op = 0;
        // Room for the root and 0..40 more tables, in units of the largest table.
        // Tables take whole granules. A granule below the page lets a small table start off a page
        // boundary, where the tiny format cannot point at it: map and unmap then answer -EINVAL.
        region_granule = in_.ConsumeBool() ? 4096 : 512;
        tables_unreachable_ = false;
        for (unsigned l = 1; l < geo::levels; ++l)
            tables_unreachable_ = tables_unreachable_ || (region_granule < min_page && geo::table_bytes(l) < min_page);
        u64 big = region_granule;
        for (unsigned l = 0; l < geo::levels; ++l)
            big = std::max(big, geo::table_bytes(l));
        const u64 tables = in_.ConsumeIntegralInRange<u64>(0, 40);
        MM_FUZZ_CHECK(mem_.init("pt", 0x8000'0000, big * (1 + tables), region_granule) == 0, "region init failed");
        MM_FUZZ_CHECK(pt_.init(mem_) == 0, "page_table init failed");
        MM_FUZZ_CHECK(pt_.init(mem_) == -EINVAL, "a second init() did not answer -EINVAL");
        root_bytes_ = pt_.table_bytes();
        pt_.set_tlb_invalidate(tlb_);
        // A window of the VA space the operations aim at, so that they collide.
        window_bits_ = in_.ConsumeIntegralInRange<unsigned>(geo::shift(0) > 30 ? 22 : 12, geo::va_bits);
        const u64 wsize = u64{1} << window_bits_;
        window_ = in_.ConsumeBool() ? 0 : (va_limit - wsize) & ~(wsize - 1);
        check();
        for (unsigned ops = 0; ops < 200 && in_.remaining_bytes() > 0; ++ops) {
            current_op = ops + 1;
            switch (in_.ConsumeIntegralInRange<unsigned>(0, 5)) {
            case 0: case 1: case 2: op_map(); break;
            case 3: case 4: op_unmap(); break;
            case 5: op_translate(); break;
            }
            // The full walk costs a pass over every table (8192 entries each for lpae_64k): every
            // 16 operations; the translations of the model are probed after each one.
            if (ops % 16 == 15)
                check();
            else
                probe_model();
        }
        current_op = ~0ul;
        tlb_.calls.clear();
        auto r = pt_.unmap(0, va_limit); // the root never needs splitting: cannot fail
        MM_FUZZ_CHECK(static_cast<bool>(r), "unmapping the whole VA space failed");
        MM_FUZZ_CHECK(*r == mapped_bytes(), "unmap of everything: wrong byte count");
        model_.clear();
        check();
        MM_FUZZ_CHECK(pt_.table_count() == 1 && pt_.table_bytes() == root_bytes_,
                      "tables left besides the root after unmapping everything");
    }

private:
    struct tlb_log {
        std::vector<std::pair<u64, u64>> calls;
        void operator()(u64 va, u64 size) { calls.emplace_back(va, size); }
    };

    /// A page-aligned value: a step of one of the format's page sizes inside the window, or hostile.
    u64 draw_va() {
        if (in_.ConsumeIntegralInRange<unsigned>(0, 7) == 0)
            return pick_value(in_, min_page, va_limit);
        const u64 step = draw_page_size();
        const u64 slots = (u64{1} << window_bits_) / step;
        return window_ + step * in_.ConsumeIntegralInRange<u64>(0, slots ? slots : 1);
    }
    u64 draw_page_size() {
        const u64 sizes = geo::page_sizes();
        const unsigned n = static_cast<unsigned>(std::popcount(sizes));
        unsigned k = in_.ConsumeIntegralInRange<unsigned>(0, n - 1);
        u64 s = sizes;
        while (k--)
            s &= s - 1;
        return s & (~s + 1);
    }
    u64 draw_size() {
        switch (in_.ConsumeIntegralInRange<unsigned>(0, 7)) {
        case 0: return pick_value(in_, min_page, va_limit);
        case 1: return in_.ConsumeIntegral<u64>();
        default: return draw_page_size() * in_.ConsumeIntegralInRange<u64>(1, 20);
        }
    }
    u64 draw_pa() {
        if (in_.ConsumeIntegralInRange<unsigned>(0, 7) == 0)
            return pick_value(in_, min_page, u64{1} << F::pa_bits);
        return draw_page_size() * in_.ConsumeIntegralInRange<u64>(0, 4096);
    }

    u64 mapped_bytes() const {
        u64 b = 0;
        for (const auto& [va, e] : model_)
            b += e.size;
        return b;
    }
    /// Bytes of the model inside [va, last].
    u64 overlap(u64 va, u64 last) const {
        u64 b = 0;
        auto it = model_.upper_bound(last);
        while (it != model_.begin()) {
            --it;
            const u64 s = it->first, l = it->first + (it->second.size - 1);
            if (l < va)
                break;
            b += std::min(l, last) - std::max(s, va) + 1;
        }
        return b;
    }
    /// Removes [va, last] from the model, keeping the outer pieces of straddling extents.
    void model_unmap(u64 va, u64 last) {
        std::vector<std::pair<u64, extent>> keep;
        auto it = model_.upper_bound(last);
        while (it != model_.begin()) {
            auto p = std::prev(it);
            const u64 s = p->first, l = s + (p->second.size - 1);
            if (l < va)
                break;
            const extent e = p->second;
            if (s < va)
                keep.push_back({s, {va - s, e.pa, e.perms, e.max_page}});
            if (l > last)
                keep.push_back({last + 1, {l - last, e.pa + (last + 1 - s), e.perms, e.max_page}});
            it = model_.erase(p);
        }
        for (auto& [s, e] : keep)
            model_.emplace(s, e);
    }

    /// The leaves the walker lists, in VA order.
    struct leaf {
        u64 va, size, pa;
        vm_perm perms;
    };
    std::vector<leaf> leaves() const {
        std::vector<leaf> v;
        pt_.for_each_leaf([&](u64 va, u64 size, u64 pa, vm_perm p) { v.push_back({va, size, pa, p}); });
        return v;
    }

    void op_map() {
        const u64 va = draw_va(), size = draw_size(), pa = draw_pa();
        const unsigned pk = in_.ConsumeIntegralInRange<unsigned>(0, 9);
        const vm_perm perms = static_cast<vm_perm>(pk == 9 ? in_.ConsumeIntegral<std::uint8_t>() : pk & 7);
        u64 max_page = 0;
        switch (in_.ConsumeIntegralInRange<unsigned>(0, 3)) {
        case 0: max_page = draw_page_size(); break;
        case 1: max_page = in_.ConsumeIntegral<u64>() & (geo::page_sizes() | 0x1000 | 0x3000); break;
        default: break;
        }
        int expect = 0;
        if (size == 0 || ((va | size | pa) & (min_page - 1)) || va >= va_limit || size > va_limit - va ||
            (max_page && max_page < min_page) || (static_cast<unsigned>(perms) & ~7u) || pa + (size - 1) < pa ||
            ((pa + (size - 1)) >> F::pa_bits) != 0)
            expect = -EINVAL;
        const std::size_t tables_before = pt_.table_count();
        tlb_.calls.clear();
        const int e = pt_.map(va, pa, size, perms, max_page);
        MM_FUZZ_TRACE("map va=%#llx pa=%#llx size=%#llx perms=%u max=%#llx -> %d\n", (unsigned long long)va,
                      (unsigned long long)pa, (unsigned long long)size, static_cast<unsigned>(perms),
                      (unsigned long long)max_page, e);
        if (expect) {
            MM_FUZZ_CHECK(e == expect, "map: an invalid request was not refused with -EINVAL");
            MM_FUZZ_CHECK(tlb_.calls.empty(), "map: -EINVAL but the TLB was invalidated");
            return;
        }
        const bool overlaps = overlap(va, va + (size - 1)) != 0;
        if (e == 0) {
            MM_FUZZ_CHECK(!overlaps, "map succeeded over a mapped page");
            MM_FUZZ_CHECK(tlb_.calls.size() == 1 && tlb_.calls[0] == std::make_pair(va, size),
                          "map: not one TLB invalidation of the range");
            model_.emplace(va, extent{size, pa, perms, max_page ? max_page : ~u64{0}});
            check_greedy(va, size, pa, max_page ? max_page : ~u64{0});
            return;
        }
        MM_FUZZ_CHECK(e == -ENOSPC || e == -ENOMEM || (e == -EEXIST && overlaps) || (e == -EINVAL && tables_unreachable_),
                      "map: unexpected errno");
        MM_FUZZ_CHECK(tlb_.calls.empty() || (tlb_.calls.size() == 1 && tlb_.calls[0] == std::make_pair(va, size)),
                      "map: a failed map invalidated something else than its range");
        MM_FUZZ_CHECK(pt_.table_count() == tables_before, "a failed map left tables it created");
        // Nothing in the range may have become mapped (the model's own extents are probed after
        // every operation).
        for (u64 off = 0; off < size && off / min_page < 64; off += min_page) {
            const u64 at = va + off;
            MM_FUZZ_CHECK(static_cast<bool>(pt_.translate(at)) == (overlap(at, at) != 0), "a failed map changed a translation");
        }
        const u64 tail = va + (size - min_page);
        MM_FUZZ_CHECK(static_cast<bool>(pt_.translate(tail)) == (overlap(tail, tail) != 0), "a failed map changed a translation");
    }

    /// The leaves of a fresh mapping are the largest the alignment of va and pa, the range and
    /// max_page allow, one after another.
    void check_greedy(u64 va, u64 size, u64 pa, u64 max_page) const {
        const u64 last = va + (size - 1);
        u64 at = va, p = pa;
        for (;;) {
            u64 best = 0;
            for (u64 s = geo::page_sizes(); s; s &= s - 1) {
                const u64 span = s & (~s + 1);
                if ((at & (span - 1)) == 0 && (p & (span - 1)) == 0 && span - 1 <= last - at && span <= max_page)
                    best = span;
            }
            auto t = pt_.translate(at);
            MM_FUZZ_TRACE("  leaf at va=%#llx size=%#llx pa=%#llx (expected size=%#llx pa=%#llx)\n", (unsigned long long)at,
                          t ? (unsigned long long)t->page_size : 0ull, t ? (unsigned long long)t->pa : 0ull,
                          (unsigned long long)best, (unsigned long long)p);
            MM_FUZZ_CHECK(t && t->page_size == best && t->pa == p, "map: not the largest leaves possible");
            if (best - 1 == last - at)
                return;
            at += best;
            p += best;
        }
    }

    /// Translations at the first, middle and last page of (up to 64) extents match the model.
    void probe_model() const {
        std::size_t n = 0;
        for (const auto& [s, e] : model_) {
            if (++n > 64)
                break;
            for (u64 va : {s, s + (e.size / 2 & ~(min_page - 1)), s + (e.size - min_page)}) {
                auto t = pt_.translate(va);
                MM_FUZZ_CHECK(t && t->pa == e.pa + (va - s) && t->perms == e.perms && t->page_size <= e.max_page,
                              "a translation differs from the model");
            }
        }
    }

    void op_unmap() {
        const u64 va = draw_va(), size = draw_size();
        int expect = 0;
        if (size == 0 || ((va | size) & (min_page - 1)) || va >= va_limit || size > va_limit - va)
            expect = -EINVAL;
        tlb_.calls.clear();
        auto r = pt_.unmap(va, size);
        MM_FUZZ_TRACE("unmap va=%#llx size=%#llx -> %lld\n", (unsigned long long)va, (unsigned long long)size,
                      r ? (long long)*r : (long long)r.error());
        if (expect) {
            MM_FUZZ_CHECK(!r && r.error() == expect, "unmap: an invalid request was not refused with -EINVAL");
            return;
        }
        if (!r) {
            MM_FUZZ_CHECK(r.error() == -ENOSPC || r.error() == -ENOMEM || (r.error() == -EINVAL && tables_unreachable_),
                          "unmap: unexpected errno");
            MM_FUZZ_CHECK(tlb_.calls.empty(), "a failed unmap invalidated the TLB");
            // Splits done before the failure keep every translation (probed after the op).
            return;
        }
        const u64 want = overlap(va, va + (size - 1));
        MM_FUZZ_CHECK(*r == want, "unmap: wrong number of bytes unmapped");
        MM_FUZZ_CHECK(want == 0 ? tlb_.calls.empty()
                                : (tlb_.calls.size() == 1 && tlb_.calls[0] == std::make_pair(va, size)),
                      "unmap: TLB invalidation not exactly once for the range when something changed");
        model_unmap(va, va + (size - 1));
        MM_FUZZ_CHECK(!pt_.translate(va) && !pt_.translate(va + (size - min_page)), "unmap: the range still translates");
    }

    void op_translate() {
        u64 va;
        if (!model_.empty() && in_.ConsumeBool()) {
            auto it = model_.begin();
            std::advance(it, in_.ConsumeIntegralInRange<std::size_t>(0, model_.size() - 1));
            va = it->first + in_.ConsumeIntegralInRange<u64>(0, it->second.size - 1);
            if (in_.ConsumeBool())
                va = in_.ConsumeBool() ? it->first - 1 : it->first + it->second.size; // just outside
        } else {
            va = in_.ConsumeBool() ? draw_va() + in_.ConsumeIntegralInRange<u64>(0, min_page) : in_.ConsumeIntegral<u64>();
        }
        auto t = pt_.translate(va);
        auto it = model_.upper_bound(va);
        const bool hit = it != model_.begin() && std::prev(it)->first + (std::prev(it)->second.size - 1) >= va;
        MM_FUZZ_CHECK(static_cast<bool>(t) == hit, "translate: hit or fault differs from the model");
        if (!t) {
            MM_FUZZ_CHECK(t.error() == -EFAULT, "translate: a fault is not -EFAULT");
            return;
        }
        const auto& [s, e] = *std::prev(it);
        MM_FUZZ_CHECK(t->pa == e.pa + (va - s) && t->perms == e.perms, "translate: wrong pa or perms");
        MM_FUZZ_CHECK((t->page_size & geo::page_sizes()) == t->page_size && std::has_single_bit(t->page_size) &&
                          t->page_size <= e.max_page,
                      "translate: impossible page size");
    }

    void check() const {
        // Leaves against the extents.
        u64 total = 0;
        std::set<std::pair<unsigned, u64>> needed; // (level, index of the table at that level)
        const std::vector<leaf> all = leaves();
        u64 prev_end = 0;
        bool first = true;
        for (const leaf& lf : all) {
            MM_FUZZ_CHECK(first || lf.va >= prev_end, "leaves overlap or are out of order");
            first = false;
            prev_end = lf.va + lf.size;
            auto it = model_.upper_bound(lf.va);
            MM_FUZZ_CHECK(it != model_.begin(), "a leaf maps a VA the model does not");
            const auto& [s, e] = *std::prev(it);
            MM_FUZZ_CHECK(s + (e.size - 1) >= lf.va + (lf.size - 1), "a leaf maps past its extent");
            MM_FUZZ_CHECK(lf.pa == e.pa + (lf.va - s) && lf.perms == e.perms, "a leaf has the wrong pa or perms");
            MM_FUZZ_CHECK(lf.size <= e.max_page, "a leaf is larger than max_page");
            total += lf.size;
            unsigned level = 0;
            while (geo::entry_span(level) != lf.size)
                ++level;
            for (unsigned l = 1; l <= level; ++l)
                needed.emplace(l, lf.va >> geo::shift(l - 1));
        }
        MM_FUZZ_CHECK(total == mapped_bytes(), "the leaves do not add up to the mapped bytes");
        MM_FUZZ_CHECK(pt_.table_count() == needed.size() + 1, "tables in use are not exactly those the leaves need");
        u64 bytes = root_bytes_;
        for (const auto& [l, idx] : needed)
            bytes += (geo::table_bytes(l) + (region_granule - 1)) & ~(region_granule - 1);
        MM_FUZZ_CHECK(pt_.table_bytes() == bytes, "table_bytes() differs from the tables in use");
        MM_FUZZ_CHECK(mem_.stats().used == bytes, "the region holds more than the tables");
    }

    FuzzedDataProvider& in_;
    region mem_;   // declared before pt_: destroyed after it
    pt_type pt_;
    tlb_log tlb_;
    std::map<u64, extent> model_;
    u64 root_bytes_ = 0, window_ = 0, region_granule = 4096;
    bool tables_unreachable_ = false;
    unsigned window_bits_ = 0;
};

} // namespace
} // namespace accel::mm::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace accel::mm;
    FuzzedDataProvider in(data, size);
    switch (in.ConsumeIntegralInRange<unsigned>(0, 2)) {
    case 0: fuzz::page_table_fuzzer<vm::lpae_4k>(in).run(); break;
    case 1: fuzz::page_table_fuzzer<vm::lpae_64k>(in).run(); break;
    case 2: fuzz::page_table_fuzzer<fuzz::tiny_format>(in).run(); break;
    }
    return 0;
}

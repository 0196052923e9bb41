// SPDX-License-Identifier: MIT
// accel_fuzz_va_space: va_space<bo> (drm_gpuvm split/merge) against a map of the expected layout.
//
// The input picks a space (after, sometimes, a hostile init that must answer -EINVAL): start,
// size, page sizes and a kernel-reserved range. Operations: sm_map with every placement (fixed,
// fixed_noreplace, hint, any) and any address / range / object / offset / flags / alignment,
// sm_unmap, apply with enough, too few (-ENOBUFS) or stale (-ESTALE) inputs, find, clear, and
// va_prealloc misuse. Every op list is checked against the model: which mappings it removes,
// the pieces that survive at each end (offsets advanced), each op's `keep` (the old pages stay
// valid because the request maps the same object at the same offsets with the same flags), the
// map, and for hint/any the address best fit over the holes (range_model, drm_mm's rules).
// After every operation the linked mappings equal the model and the address allocator's free
// space is the complement of the mappings and the kernel range. clear() leaves an empty space.
#include "fuzz_check.hpp"
#include "range_model.hpp"

#include <accel/mm/vm/va_space.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <iterator>
#include <map>
#include <memory>
#include <vector>

namespace accel::mm::fuzz {
namespace {

using namespace accel::mm::vm;

struct bo {
    int id;
};
using space = va_space<bo>;
using piece = va_piece<bo>;
using mapping = va_mapping<bo>;

constexpr u64 KiB = 1024, MiB = 1024 * KiB;

class va_space_fuzzer {
public:
    explicit va_space_fuzzer(FuzzedDataProvider& in) : in_(in) {}

    ~va_space_fuzzer() {
        vm_.clear([](mapping&) {});
    }

    void run() {
        current_op = 0;
        if (in_.ConsumeBool())
            hostile_init();
        if (!setup())
            return;
        check();
        for (unsigned ops = 0; ops < 300 && in_.remaining_bytes() > 0; ++ops) {
            current_op = ops + 1;
            switch (in_.ConsumeIntegralInRange<unsigned>(0, 11)) {
            case 0: case 1: case 2: case 3: case 4: op_map(); break;
            case 5: case 6: op_unmap(); break;
            case 7: op_find(); break;
            case 8: op_stale(); break;
            case 9: op_prealloc_misuse(); break;
            case 10: op_map_any(); break;
            case 11:
                if (in_.ConsumeIntegralInRange<unsigned>(0, 3) == 0)
                    op_clear();
                else
                    op_map();
                break;
            }
            check();
        }
        current_op = ~0ul;
        op_clear();
        MM_FUZZ_CHECK(vm_.count() == 0, "mappings left after clear()");
    }

private:
    // ---- setup -------------------------------------------------------------------------------

    u64 draw_page_sizes() {
        u64 ps = 0;
        const unsigned pick = in_.ConsumeIntegralInRange<unsigned>(1, 7);
        if (pick & 1)
            ps |= 4 * KiB;
        if (pick & 2)
            ps |= 64 * KiB;
        if (pick & 4)
            ps |= 2 * MiB;
        return ps;
    }

    /// init()'s -EINVAL rules, written out.
    static int expected_init(u64 start, u64 range, u64 ps, u64 kaddr, u64 krange) {
        if (ps == 0)
            return -EINVAL;
        const u64 g = ps & (~ps + 1);
        if (range == 0 || ((start | range) & (g - 1)) || start + (range - 1) < start)
            return -EINVAL;
        if (krange && (((kaddr | krange) & (g - 1)) || kaddr < start || kaddr + (krange - 1) < kaddr ||
                       kaddr + (krange - 1) > start + (range - 1)))
            return -EINVAL;
        return 0;
    }

    void hostile_init() {
        space bad;
        const u64 ps = in_.ConsumeBool() ? draw_page_sizes() : in_.ConsumeIntegral<u64>();
        const u64 start = pick_value(in_, 4 * KiB, ~u64{0}), range = pick_value(in_, 4 * KiB, ~u64{0});
        const u64 kaddr = in_.ConsumeBool() ? 0 : pick_value(in_, 4 * KiB, ~u64{0});
        const u64 krange = kaddr ? pick_value(in_, 4 * KiB, ~u64{0}) : 0;
        const int e = bad.init(start, range, ps, kaddr, krange);
        // Page sizes are taken as given (any bits); only the granule (lowest bit) is checked.
        MM_FUZZ_CHECK(e == expected_init(start, range, ps, kaddr, krange), "init: errno differs from the rules");
        if (e == 0)
            MM_FUZZ_CHECK(bad.init(start, range, ps) == -EINVAL, "a second init() did not answer -EINVAL");
    }

    bool setup() {
        const u64 ps = draw_page_sizes();
        g_ = ps & (~ps + 1);
        u64 range = g_ * in_.ConsumeIntegralInRange<u64>(1, 1024);
        if (in_.ConsumeIntegralInRange<unsigned>(0, 7) == 0)
            range = u64{1} << in_.ConsumeIntegralInRange<unsigned>(21, 47);
        u64 start = 0;
        switch (in_.ConsumeIntegralInRange<unsigned>(0, 2)) {
        case 0: start = 0; break;
        case 1: start = g_ * in_.ConsumeIntegralInRange<u64>(0, 1024); break;
        case 2: start = u64{0} - range; break; // ends at 2^64
        }
        if (start + (range - 1) < start)
            start = u64{0} - range;
        u64 kaddr = 0, krange = 0;
        if (in_.ConsumeBool()) {
            kaddr = start + g_ * in_.ConsumeIntegralInRange<u64>(0, range / g_ - 1);
            krange = g_ * in_.ConsumeIntegralInRange<u64>(1, (start + (range - 1) - kaddr) / g_ + 1);
        }
        MM_FUZZ_TRACE("init start=%#llx range=%#llx ps=%#llx kernel=%#llx+%#llx\n", (unsigned long long)start,
                      (unsigned long long)range, (unsigned long long)ps, (unsigned long long)kaddr,
                      (unsigned long long)krange);
        MM_FUZZ_CHECK(vm_.init(start, range, ps, kaddr, krange) == 0, "init() refused a valid space");
        space_ = {start, range};
        kernel_ = {kaddr, krange};
        ps_ = ps;
        return true;
    }

    // ---- model helpers -------------------------------------------------------------------------

    /// The model's mappings overlapping [addr, last], in address order.
    std::vector<piece> overlapping(u64 addr, u64 last) const {
        std::vector<piece> v;
        auto it = model_.upper_bound(addr);
        if (it != model_.begin() && std::prev(it)->second.last() >= addr)
            --it;
        for (; it != model_.end() && it->first <= last; ++it)
            v.push_back(it->second);
        return v;
    }
    int check_request(u64 addr, u64 range) const {
        if (range == 0 || ((addr | range) & (g_ - 1)) || addr + (range - 1) < addr || addr < space_.start ||
            addr + (range - 1) > space_.last())
            return -EINVAL;
        if (kernel_.size && addr <= kernel_.last() && kernel_.start <= addr + (range - 1))
            return -EINVAL;
        return 0;
    }
    /// range_model of the VA allocator: the mappings and the kernel range are taken.
    range_model address_model() const {
        range_model m;
        m.init(space_);
        if (kernel_.size)
            m.add(kernel_.start, kernel_.size);
        for (const auto& [a, p] : model_)
            m.add(a, p.range);
        return m;
    }

    // ---- request decoding ----------------------------------------------------------------------

    u64 draw_addr() {
        if (in_.ConsumeIntegralInRange<unsigned>(0, 7) == 0)
            return pick_value(in_, g_, ~u64{0});
        if (!model_.empty() && in_.ConsumeBool()) { // near an existing mapping's ends
            auto it = model_.begin();
            std::advance(it, in_.ConsumeIntegralInRange<std::size_t>(0, model_.size() - 1));
            const u64 base = in_.ConsumeBool() ? it->first : it->second.last() + 1;
            return base + g_ * in_.ConsumeIntegralInRange<u64>(0, 4) - g_ * in_.ConsumeIntegralInRange<u64>(0, 4);
        }
        return space_.start + g_ * in_.ConsumeIntegralInRange<u64>(0, std::min<u64>(space_.size / g_, 1024));
    }
    u64 draw_range() {
        if (in_.ConsumeIntegralInRange<unsigned>(0, 7) == 0)
            return pick_value(in_, g_, space_.size);
        return g_ * in_.ConsumeIntegralInRange<u64>(1, 32);
    }
    space::request draw_request(va_placement p) {
        space::request r;
        r.placement = p;
        r.addr = draw_addr();
        r.range = draw_range();
        const unsigned o = in_.ConsumeIntegralInRange<unsigned>(0, 4);
        r.obj = o < 4 ? &bos_[o] : nullptr;
        r.offset = in_.ConsumeIntegralInRange<unsigned>(0, 7) == 0 ? in_.ConsumeIntegral<u64>()
                                                                   : g_ * in_.ConsumeIntegralInRange<u64>(0, 64);
        r.flags = in_.ConsumeIntegralInRange<std::uint32_t>(0, 2);
        r.alignment = in_.ConsumeIntegralInRange<unsigned>(0, 3) == 0 ? pick_alignment(in_, g_) : 0;
        return r;
    }

    // ---- operations --------------------------------------------------------------------------

    void op_map() { map_with(static_cast<va_placement>(in_.ConsumeIntegralInRange<unsigned>(0, 3))); }
    void op_map_any() { map_with(va_placement::any); }

    void map_with(va_placement p) {
        const space::request r = draw_request(p);
        space::ops_type ops;
        const int e = vm_.sm_map(r, ops);
        MM_FUZZ_TRACE("sm_map addr=%#llx range=%#llx obj=%p off=%#llx fl=%u pl=%d al=%#llx -> %d (%zu ops)\n",
                      (unsigned long long)r.addr, (unsigned long long)r.range, static_cast<void*>(r.obj),
                      (unsigned long long)r.offset, r.flags, static_cast<int>(p), (unsigned long long)r.alignment, e,
                      ops.size());
        // Expected result.
        int expect = 0;
        if (r.range == 0 || ((r.range | r.offset) & (g_ - 1)) || r.offset + (r.range - 1) < r.offset ||
            (r.alignment && (!std::has_single_bit(r.alignment) || (r.alignment & (g_ - 1)))))
            expect = -EINVAL;
        piece want{r.addr, r.range, r.obj, r.offset, r.flags};
        bool identical = false;
        if (!expect) {
            switch (p) {
            case va_placement::fixed:
            case va_placement::fixed_noreplace:
                expect = check_request(r.addr, r.range);
                if (!expect && p == va_placement::fixed_noreplace && !overlapping(r.addr, want.last()).empty())
                    expect = -EEXIST;
                if (!expect) {
                    auto ov = overlapping(r.addr, want.last());
                    identical = !ov.empty() && ov.front() == want;
                }
                break;
            case va_placement::hint:
                if (r.addr & (g_ - 1)) {
                    expect = -EINVAL;
                    break;
                }
                if (check_request(r.addr, r.range) == 0 && overlapping(r.addr, want.last()).empty())
                    break;
                [[fallthrough]];
            case va_placement::any: {
                u64 align = r.alignment;
                if (!align)
                    for (u64 s = ps_; s; s &= s - 1)
                        if ((s & (~s + 1)) <= r.range)
                            align = s & (~s + 1);
                if (!align)
                    align = g_;
                u64 at = 0;
                if (r.range > space_.size || !address_model().place(r.range, align, space_.start, space_.last(), placement::best, at))
                    expect = -ENOSPC;
                want.addr = at;
                break;
            }
            }
        }
        MM_FUZZ_CHECK(e == expect, "sm_map: errno differs from the rules");
        if (e) {
            MM_FUZZ_CHECK(ops.empty(), "a failed sm_map left ops in the list");
            return;
        }
        if (identical) {
            MM_FUZZ_CHECK(ops.empty(), "sm_map of an identical mapping: the list is not empty");
            apply_and_check(ops);
            return;
        }
        // The op list: one unmap/remap per overlapped mapping, in address order, then the map.
        const std::vector<piece> ov = overlapping(want.addr, want.last());
        MM_FUZZ_CHECK(ops.size() == ov.size() + 1, "sm_map: wrong number of ops");
        for (std::size_t i = 0; i < ov.size(); ++i)
            check_split_op(ops[i], ov[i], want.addr, want.last(), &want);
        const auto& m = ops.back();
        MM_FUZZ_CHECK(m.kind == va_op_kind::map && !m.old && m.map == want, "sm_map: the map op is not the request");
        apply_and_check(ops);
    }

    /// An op removing `v` (overlapping [addr, last]): its surviving pieces and, for sm_map,
    /// whether its pages in the overlap may be kept.
    void check_split_op(const space::ops_type::value_type& op, const piece& v, u64 addr, u64 last, const piece* req) {
        MM_FUZZ_CHECK(op.old && op.old->piece() == v, "op: `old` is not the overlapped mapping");
        const bool prev = v.addr < addr, next = v.last() > last;
        MM_FUZZ_CHECK(op.has_prev == prev && op.has_next == next, "op: wrong surviving pieces");
        MM_FUZZ_CHECK(op.kind == (prev || next ? va_op_kind::remap : va_op_kind::unmap), "op: wrong kind");
        if (prev)
            MM_FUZZ_CHECK((op.prev == piece{v.addr, addr - v.addr, v.obj, v.offset, v.flags}), "op: wrong prev piece");
        if (next)
            MM_FUZZ_CHECK((op.next == piece{last + 1, v.last() - last, v.obj, v.offset + (last + 1 - v.addr), v.flags}),
                          "op: wrong next piece");
        const u64 ua = std::max(v.addr, addr), ul = std::min(v.last(), last);
        MM_FUZZ_CHECK(op.unmap_addr() == ua && op.unmap_range() == ul - ua + 1, "op: wrong unmap range");
        bool keep = false;
        if (req)
            keep = v.obj && v.obj == req->obj && v.flags == req->flags &&
                   v.offset + (ua - v.addr) == req->offset + (ua - req->addr);
        MM_FUZZ_CHECK(op.keep == keep, "op: wrong keep");
    }

    /// Applies (sometimes first with too few objects: -ENOBUFS, nothing changes) and updates the
    /// model from the op list.
    void apply_and_check(space::ops_type& ops, bool may_skip = true) {
        if (may_skip && in_.ConsumeIntegralInRange<unsigned>(0, 7) == 0)
            return; // computed but never applied: harmless
        const std::size_t need = ops.mappings_needed();
        if (need > 0 && in_.ConsumeIntegralInRange<unsigned>(0, 5) == 0) {
            va_prealloc<bo> few;
            for (std::size_t i = 0; i + 1 < need; ++i)
                MM_FUZZ_CHECK(few.push(fresh()), "prealloc: push of a free object refused");
            MM_FUZZ_CHECK(vm_.apply(ops, few) == -ENOBUFS, "apply with too few objects did not answer -ENOBUFS");
            check();
            while (mapping* m = few.pop())
                recycle(m);
        }
        va_prealloc<bo> pre;
        const std::size_t extra = need < va_prealloc<bo>::capacity ? in_.ConsumeIntegralInRange<std::size_t>(0, 1) : 0;
        for (std::size_t i = 0; i < need + extra; ++i)
            MM_FUZZ_CHECK(pre.push(fresh()), "prealloc: push of a free object refused");
        MM_FUZZ_CHECK(vm_.apply(ops, pre) == 0, "apply of a fresh op list failed");
        MM_FUZZ_CHECK(pre.count() == extra, "apply did not take exactly mappings_needed() objects");
        while (mapping* m = pre.pop())
            recycle(m);
        for (const auto& op : ops) {
            if (op.old) {
                MM_FUZZ_CHECK(!op.old->linked(), "apply: a replaced mapping is still linked");
                model_.erase(op.old->addr());
                recycle(op.old);
            }
        }
        for (const auto& op : ops) {
            if (op.kind == va_op_kind::map) {
                MM_FUZZ_CHECK(op.new_map && op.new_map->linked() && op.new_map->piece() == op.map, "apply: new_map wrong");
                model_[op.map.addr] = op.map;
            }
            if (op.has_prev) {
                MM_FUZZ_CHECK(op.new_prev && op.new_prev->piece() == op.prev, "apply: new_prev wrong");
                model_[op.prev.addr] = op.prev;
            }
            if (op.has_next) {
                MM_FUZZ_CHECK(op.new_next && op.new_next->piece() == op.next, "apply: new_next wrong");
                model_[op.next.addr] = op.next;
            }
        }
        MM_FUZZ_CHECK(vm_.apply(ops, pre) == -ESTALE, "applying an op list twice did not answer -ESTALE");
    }

    void op_unmap() {
        const u64 addr = draw_addr(), range = draw_range();
        space::ops_type ops;
        const int e = vm_.sm_unmap(addr, range, ops);
        MM_FUZZ_TRACE("sm_unmap addr=%#llx range=%#llx -> %d (%zu ops)\n", (unsigned long long)addr,
                      (unsigned long long)range, e, ops.size());
        MM_FUZZ_CHECK(e == check_request(addr, range), "sm_unmap: errno differs from the rules");
        if (e)
            return;
        const u64 last = addr + (range - 1);
        const std::vector<piece> ov = overlapping(addr, last);
        MM_FUZZ_CHECK(ops.size() == ov.size(), "sm_unmap: wrong number of ops");
        for (std::size_t i = 0; i < ov.size(); ++i)
            check_split_op(ops[i], ov[i], addr, last, nullptr);
        apply_and_check(ops);
    }

    void op_find() {
        const u64 addr = in_.ConsumeBool() ? draw_addr() + in_.ConsumeIntegralInRange<u64>(0, g_ - 1) : in_.ConsumeIntegral<u64>();
        const mapping* m = vm_.find(addr);
        const std::vector<piece> ov = overlapping(addr, addr);
        MM_FUZZ_CHECK((m != nullptr) == !ov.empty(), "find: hit or miss differs from the model");
        if (m)
            MM_FUZZ_CHECK(m->piece() == ov.front(), "find: wrong mapping");
    }

    /// An op list computed before another change must be refused with -ESTALE.
    void op_stale() {
        space::ops_type old_ops;
        const u64 addr = draw_addr(), range = draw_range();
        if (vm_.sm_unmap(addr, range, old_ops) != 0)
            return;
        va_prealloc<bo> pre;
        if (in_.ConsumeBool()) {
            space::ops_type twin = old_ops; // the same list, applied first: the space changes
            apply_and_check(twin, false);
        } else {
            space::ops_type never;
            MM_FUZZ_CHECK(vm_.apply(never, pre) == -ESTALE, "apply of a never-computed list did not answer -ESTALE");
            op_clear();
        }
        for (std::size_t i = 0; i < old_ops.mappings_needed(); ++i)
            pre.push(fresh());
        MM_FUZZ_CHECK(vm_.apply(old_ops, pre) == -ESTALE, "a stale op list was applied");
        while (mapping* m = pre.pop())
            recycle(m);
    }

    void op_prealloc_misuse() {
        va_prealloc<bo> pre;
        MM_FUZZ_CHECK(!pre.push(nullptr), "prealloc accepted null");
        if (!model_.empty()) {
            mapping* linked = vm_.find(model_.begin()->first);
            MM_FUZZ_CHECK(linked && !pre.push(linked), "prealloc accepted a linked mapping");
        }
        std::vector<mapping*> got;
        for (std::size_t i = 0; i < va_prealloc<bo>::capacity; ++i) {
            got.push_back(fresh());
            MM_FUZZ_CHECK(pre.push(got.back()), "prealloc refused a free object below capacity");
        }
        mapping* one_more = fresh();
        MM_FUZZ_CHECK(!pre.push(one_more), "prealloc accepted more than its capacity");
        recycle(one_more);
        while (mapping* m = pre.pop())
            recycle(m);
    }

    void op_clear() {
        std::size_t n = 0;
        vm_.clear([&](mapping& m) {
            MM_FUZZ_CHECK(!m.linked(), "clear: a disposed mapping is still linked");
            recycle(&m);
            ++n;
        });
        MM_FUZZ_CHECK(n == model_.size(), "clear: not every mapping was disposed");
        model_.clear();
        check();
    }

    // ---- mapping objects ------------------------------------------------------------------------

    mapping* fresh() {
        if (!spare_.empty()) {
            mapping* m = spare_.back();
            spare_.pop_back();
            return m;
        }
        objects_.push_back(std::make_unique<mapping>());
        return objects_.back().get();
    }
    void recycle(mapping* m) {
        MM_FUZZ_CHECK(!m->linked(), "recycling a linked mapping");
        spare_.push_back(m);
    }

    // ---- checks ------------------------------------------------------------------------------

    void check() {
        auto it = model_.begin();
        for (const mapping& m : vm_.mappings()) {
            MM_FUZZ_CHECK(it != model_.end() && m.piece() == it->second, "mappings differ from the model");
            MM_FUZZ_CHECK(m.linked(), "a listed mapping is not linked");
            ++it;
        }
        MM_FUZZ_CHECK(it == model_.end() && vm_.count() == model_.size(), "the space misses mappings");
        const range_model am = address_model();
        u64 free = 0, largest = 0;
        const auto holes = am.holes();
        for (range h : holes) {
            free += h.size;
            largest = std::max(largest, h.size);
        }
        const range_stats s = vm_.address_stats();
        MM_FUZZ_CHECK(s.free_bytes == free && s.largest_hole == largest && s.hole_count == holes.size(),
                      "the address allocator's free space is not the complement of the mappings");
    }

    FuzzedDataProvider& in_;
    std::vector<std::unique_ptr<mapping>> objects_; // declared before vm_: outlive it
    std::vector<mapping*> spare_;
    space vm_;
    std::map<u64, piece> model_;
    bo bos_[4] = {{1}, {2}, {3}, {4}};
    range space_{}, kernel_{};
    u64 g_ = 4 * KiB, ps_ = 0;
};

} // namespace
} // namespace accel::mm::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    FuzzedDataProvider in(data, size);
    accel::mm::fuzz::va_space_fuzzer(in).run();
    return 0;
}

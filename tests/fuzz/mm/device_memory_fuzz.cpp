// SPDX-License-Identifier: MIT
// accel_fuzz_device_memory: device_memory_region<Policy> (its own allocation API: granule
// rounding, caller-owned nodes, owning handles, host backing) against range_model.
//
// The first byte picks the policy (naive, best_fit, tlsf, bitmap, buddy), then the region (after,
// sometimes, a hostile init that must answer -EINVAL). Operations: alloc into a node, reserve,
// free, allocate an owning handle, reset or move-assign a handle, host_ptr at and past the edges.
// Every success must be granule-rounded, aligned to max(granule, alignment), inside the bounds
// and overlap nothing (model); every failure has the documented errno; policies that promise it
// fail with -ENOSPC only when no hole fits. Each live allocation carries a tag in its first and
// last bytes of host backing, checked after every operation (overlapping allocations or a wrong
// host_ptr would overwrite one). stats() must match the model. Everything freed: used is 0.
#include "fuzz_check.hpp"
#include "range_model.hpp"

#include <accel/mm/device_memory.hpp>
#include <accel/mm/range/best_fit.hpp>
#include <accel/mm/range/bitmap.hpp>
#include <accel/mm/range/buddy.hpp>
#include <accel/mm/range/naive.hpp>
#include <accel/mm/range/tlsf.hpp>

#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <deque>
#include <map>
#include <type_traits>
#include <vector>

namespace accel::mm::fuzz {
namespace {

template <class P>
class device_memory_fuzzer {
    using region = device_memory_region<P>;
    /// What the policy rounds to on its own (its granule or chunk), below the region's granule.
    static constexpr u64 policy_unit = std::is_same_v<P, buddy> ? buddy::default_chunk
                                       : std::is_same_v<P, bitmap> ? bitmap::default_granule
                                                                   : 1;
    /// Policies whose -ENOSPC means "no hole fits".
    static constexpr bool sound_failure = std::is_same_v<P, naive> || std::is_same_v<P, best_fit> ||
                                          std::is_same_v<P, tlsf> || std::is_same_v<P, bitmap>;

public:
    explicit device_memory_fuzzer(FuzzedDataProvider& in) : in_(in) {}

    void run() {
        current_op = 0;
        if (in_.ConsumeBool())
            hostile_init();
        const unsigned gshift = in_.ConsumeIntegralInRange<unsigned>(std::countr_zero(policy_unit), 16);
        granule_ = u64{1} << gshift;
        const u64 size = granule_ * in_.ConsumeIntegralInRange<u64>(1, std::max<u64>(1, (u64{16} << 20) >> gshift));
        const u64 base = in_.ConsumeBool() ? 0 : (in_.ConsumeIntegral<u64>() >> 1) & ~(granule_ - 1) & ~(policy_unit - 1);
        const u64 sbase = base + (size - 1) < base ? 0 : base;
        MM_FUZZ_TRACE("init base=%#llx size=%#llx granule=%#llx\n", (unsigned long long)sbase,
                      (unsigned long long)size, (unsigned long long)granule_);
        MM_FUZZ_CHECK(r_.init("fuzz", sbase, size, granule_) == 0, "init() refused a valid region");
        MM_FUZZ_CHECK(r_.init("fuzz", sbase, size, granule_) == -EINVAL, "a second init() did not answer -EINVAL");
        model_.init({sbase, size});
        check_edges();
        for (unsigned ops = 0; ops < 300 && in_.remaining_bytes() > 0; ++ops) {
            current_op = ops + 1;
            switch (in_.ConsumeIntegralInRange<unsigned>(0, 9)) {
            case 0: case 1: case 2: op_alloc(); break;
            case 3: op_reserve(); break;
            case 4: case 5: op_free(); break;
            case 6: case 7: op_allocate(); break;
            case 8: op_reset(); break;
            case 9: op_move(); break;
            }
            check();
        }
        current_op = ~0ul;
        for (auto& n : nodes_)
            if (n.allocated()) {
                model_.remove(n.start());
                tags_.erase(n.start());
                r_.free(n);
            }
        for (auto& h : handles_)
            if (h) {
                model_.remove(h.addr());
                tags_.erase(h.addr());
                h.reset();
            }
        check();
        MM_FUZZ_CHECK(r_.stats().used == 0 && r_.stats().largest_free == r_.size(),
                      "the region is not wholly free after freeing everything");
    }

private:
    void hostile_init() {
        region bad;
        u64 base = in_.ConsumeIntegral<u64>(), size = in_.ConsumeIntegral<u64>() >> 40, granule = in_.ConsumeIntegral<u64>();
        int expect = 0;
        if (!std::has_single_bit(granule) || size == 0 || (size & (granule - 1)) || (base & (granule - 1)) ||
            base + (size - 1) < base)
            expect = -EINVAL;
        else if (((base | size) & (policy_unit - 1)) != 0)
            expect = -EINVAL; // the policy refuses a space not made of its own units
        if (std::is_same_v<P, bitmap> && !expect && size / bitmap::default_granule > bitmap::max_granules)
            expect = -ENOMEM;
        const int e = bad.init("bad", base, size, granule);
        MM_FUZZ_CHECK(e == expect, "init: errno differs from the rules");
    }

    alloc_request draw_request() {
        alloc_request q;
        q.size = pick_value(in_, granule_ >> in_.ConsumeIntegralInRange<unsigned>(0, 3), r_.size() >> in_.ConsumeIntegralInRange<unsigned>(0, 8));
        q.alignment = pick_alignment(in_, granule_);
        q.mode = static_cast<placement>(in_.ConsumeIntegralInRange<unsigned>(0, 2));
        if (in_.ConsumeIntegralInRange<unsigned>(0, 3) == 0) {
            q.lo = r_.base() + pick_value(in_, granule_, r_.size());
            q.last = q.lo + pick_value(in_, granule_, r_.size()) - 1;
        }
        return q;
    }

    /// The request after the region's adjustment, or -EINVAL (device_memory.hpp's rules).
    int adjust(const alloc_request& q, u64& size, u64& align) const {
        if (q.size == 0 || !align_up(q.size, granule_, size))
            return -EINVAL;
        if (q.alignment > 1 && !P::any_alignment && !std::has_single_bit(q.alignment))
            return -EINVAL;
        if (q.alignment <= granule_)
            align = granule_;
        else if (q.alignment % granule_ != 0)
            return -EINVAL;
        else
            align = q.alignment;
        if (q.lo > q.last || q.lo > r_.base() + (r_.size() - 1) || q.last < r_.base())
            return -EINVAL;
        return 0;
    }

    /// Checks one allocation result; returns true when it succeeded (and records it).
    bool check_result(const alloc_request& q, int rc, u64 start, u64 got_size) {
        u64 size = 0, align = 1;
        const int valid = adjust(q, size, align);
        MM_FUZZ_TRACE("alloc size=%#llx align=%#llx lo=%#llx last=%#llx mode=%d -> %d at %#llx\n",
                      (unsigned long long)q.size, (unsigned long long)q.alignment, (unsigned long long)q.lo,
                      (unsigned long long)q.last, static_cast<int>(q.mode), rc, (unsigned long long)start);
        if (valid) {
            MM_FUZZ_CHECK(rc == -EINVAL, "alloc: an invalid request was not refused with -EINVAL");
            return false;
        }
        const u64 lo = std::max(q.lo, r_.base()), last = std::min(q.last, r_.base() + (r_.size() - 1));
        if (rc) {
            MM_FUZZ_CHECK(rc == -ENOSPC, "alloc: a valid request failed with an errno other than -ENOSPC");
            u64 at;
            const bool unbounded = q.lo <= r_.base() && q.last >= r_.base() + (r_.size() - 1);
            if (sound_failure && unbounded) // (bounded, bitmap shrinks the bounds to its granules)
                MM_FUZZ_CHECK(!model_.place(size, align, lo, last, placement::low, at),
                              "alloc: -ENOSPC although a hole fits");
            return false;
        }
        u64 want = size;
        [[maybe_unused]] bool ok = align_up(size, policy_unit, want);
        MM_FUZZ_CHECK(got_size == want, "alloc: the size is not granule-rounded");
        MM_FUZZ_CHECK(start % align == 0, "alloc: misaligned");
        MM_FUZZ_CHECK(start >= lo && start + (got_size - 1) <= last, "alloc: outside the request's bounds");
        model_.add(start, got_size);
        tag(start, got_size);
        return true;
    }

    void op_alloc() {
        const alloc_request q = draw_request();
        auto& n = nodes_.emplace_back();
        auto a = r_.alloc(n, q);
        const int rc = a ? 0 : a.error();
        if (rc == 0)
            MM_FUZZ_CHECK(*a == n.start(), "alloc: the returned address is not the node's");
        if (!check_result(q, rc, rc ? 0 : n.start(), rc ? 0 : n.size()))
            MM_FUZZ_CHECK(!n.allocated(), "a failed alloc left the node allocated");
    }

    void op_reserve() {
        const u64 addr = in_.ConsumeBool() ? r_.base() + pick_value(in_, granule_ >> in_.ConsumeIntegralInRange<unsigned>(0, 2), r_.size())
                                           : in_.ConsumeIntegral<u64>();
        const u64 size = pick_value(in_, granule_, r_.size() >> in_.ConsumeIntegralInRange<unsigned>(0, 6));
        int expect = 0;
        if (((addr | size) & (granule_ - 1)) || validate_reserve(addr, size, r_.base(), r_.base() + (r_.size() - 1)))
            expect = -EINVAL;
        else if (((addr - r_.base()) & (policy_unit - 1)) || (std::is_same_v<P, buddy> && (size & (policy_unit - 1))))
            expect = -EINVAL;
        u64 rounded = size;
        if (!expect) {
            [[maybe_unused]] bool ok = align_up(size, policy_unit, rounded);
            if (!model_.is_free(addr, addr + (rounded - 1)))
                expect = -ENOSPC;
        }
        auto& n = nodes_.emplace_back();
        const int e = r_.reserve(n, addr, size);
        MM_FUZZ_CHECK(e == expect, "reserve: errno differs from the model");
        if (e)
            return;
        MM_FUZZ_CHECK(n.start() == addr && n.size() == rounded, "reserve: not the range asked for");
        model_.add(addr, rounded);
        tag(addr, rounded);
    }

    void op_free() {
        if (nodes_.empty())
            return;
        auto& n = nodes_[in_.ConsumeIntegralInRange<std::size_t>(0, nodes_.size() - 1)];
        if (!n.allocated())
            return;
        model_.remove(n.start());
        tags_.erase(n.start());
        r_.free(n);
        MM_FUZZ_CHECK(!n.allocated(), "free left the node allocated");
    }

    void op_allocate() {
        const alloc_request q = draw_request();
        auto h = r_.allocate(q);
        const int rc = h ? 0 : h.error();
        if (check_result(q, rc, rc ? 0 : h->addr(), rc ? 0 : h->size())) {
            MM_FUZZ_CHECK(h->host() == r_.host_ptr(h->addr(), h->size()) && h->host() != nullptr,
                          "allocation::host() is not host_ptr() of its range");
            handles_.push_back(std::move(*h));
        }
    }

    void op_reset() {
        if (handles_.empty())
            return;
        auto& h = handles_[in_.ConsumeIntegralInRange<std::size_t>(0, handles_.size() - 1)];
        if (h) {
            model_.remove(h.addr());
            tags_.erase(h.addr());
        }
        h.reset();
        MM_FUZZ_CHECK(!h && h.addr() == 0 && h.size() == 0, "a reset handle still names memory");
    }

    /// Move-assigns one handle onto another: the target's memory is freed, the source's moves.
    void op_move() {
        if (handles_.size() < 2)
            return;
        const std::size_t i = in_.ConsumeIntegralInRange<std::size_t>(0, handles_.size() - 1);
        const std::size_t j = in_.ConsumeIntegralInRange<std::size_t>(0, handles_.size() - 1);
        if (i == j)
            return;
        auto& dst = handles_[i];
        auto& src = handles_[j];
        if (dst) {
            model_.remove(dst.addr());
            tags_.erase(dst.addr());
        }
        const u64 a = src.addr(), s = src.size();
        dst = std::move(src);
        MM_FUZZ_CHECK(!src && dst.addr() == a && dst.size() == s, "move-assignment did not move the allocation");
    }

    // ---- host backing tags ---------------------------------------------------------------------

    void tag(u64 start, u64 size) {
        std::byte* p = r_.host_ptr(start, size);
        MM_FUZZ_CHECK(p != nullptr, "host_ptr of a live allocation is null");
        const std::uint8_t t = static_cast<std::uint8_t>(++tag_seq_ | 1);
        p[0] = static_cast<std::byte>(t);
        if (size > 1)
            p[size - 1] = static_cast<std::byte>(t ^ 0x5a);
        tags_[start] = {size, t};
    }

    void check_edges() const {
        const u64 b = r_.base(), s = r_.size();
        MM_FUZZ_CHECK(r_.host_ptr(b, s) == r_.host_base() && r_.host_ptr(b + (s - 1), 1) != nullptr,
                      "host_ptr inside the region is null");
        MM_FUZZ_CHECK(r_.host_ptr(b, s + 1) == nullptr && (b == 0 || r_.host_ptr(b - 1, 1) == nullptr) &&
                          r_.host_ptr(b + (s - 1), 2) == nullptr && r_.host_ptr(~u64{0}, ~u64{0}) == nullptr,
                      "host_ptr past the region is not null");
    }

    void check() {
        for (const auto& [start, t] : tags_) {
            const std::byte* p = r_.host_ptr(start, t.first);
            MM_FUZZ_CHECK(p && p[0] == static_cast<std::byte>(t.second) &&
                              (t.first == 1 || p[t.first - 1] == static_cast<std::byte>(t.second ^ 0x5a)),
                          "an allocation's host bytes were overwritten (overlap or wrong host_ptr)");
        }
        MM_FUZZ_CHECK(tags_.size() == model_.live().size(), "tags and model disagree");
        u64 free = 0, largest = 0;
        for (range h : model_.holes()) {
            free += h.size;
            largest = std::max(largest, h.size);
        }
        const region_stats st = r_.stats();
        MM_FUZZ_CHECK(st.total == r_.size() && st.used == r_.size() - free && st.largest_free == largest,
                      "stats() differs from the model");
        check_against(r_.policy(), model_);
    }

    FuzzedDataProvider& in_;
    region r_;                                  // before nodes_ and handles_: outlives them
    std::deque<typename region::node> nodes_;   // stable addresses
    std::vector<typename region::allocation> handles_;
    range_model model_;
    std::map<u64, std::pair<u64, std::uint8_t>> tags_;
    unsigned tag_seq_ = 0;
    u64 granule_ = 1;
};

} // namespace
} // namespace accel::mm::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace accel::mm;
    FuzzedDataProvider in(data, size);
    switch (in.ConsumeIntegralInRange<unsigned>(0, 4)) {
    case 0: fuzz::device_memory_fuzzer<naive>(in).run(); break;
    case 1: fuzz::device_memory_fuzzer<best_fit>(in).run(); break;
    case 2: fuzz::device_memory_fuzzer<tlsf>(in).run(); break;
    case 3: fuzz::device_memory_fuzzer<bitmap>(in).run(); break;
    case 4: fuzz::device_memory_fuzzer<buddy>(in).run(); break;
    }
    return 0;
}

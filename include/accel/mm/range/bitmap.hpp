// SPDX-License-Identifier: MIT
#pragma once
/// \file `bitmap`: fixed-granule first fit over a bitmap, in the manner of the kernel's genalloc.
///
/// Made for small on-chip memories (SRAM, scratchpads of a few MiB) where a tree node per hole
/// costs more than the memory it describes. The space is cut into granules of a fixed power-of-two
/// size; one bit per granule says "allocated". Requests round up to whole granules, alignments
/// are powers of two and never finer than a granule, and the search is first fit: `best` and
/// `low` take the lowest-address fit, `high` the highest-address fit (aligned down).
///
/// The search walks 64-bit words with countr_zero/countr_one, and two small summaries spare it
/// most of the holes below the fit:
/// - two bitmaps with one bit per word ("has a free granule", "has an allocated granule") jump
///   over wholly allocated or wholly free stretches 4096 granules at a time;
/// - per block of 4096 granules, the longest free run inside it and the free runs touching its
///   two ends; a block that can neither hold the request nor start (end, for `high`) a run long
///   enough with its neighbours is skipped whole. Each insert or remove rescans at most the two
///   blocks holding its ends (64 words each).
///
/// Metadata, all outside the managed space: the allocation bitmap, a second bitmap marking the
/// first granule of each allocation (adjacent allocations are otherwise indistinguishable, and
/// nodes() must list them), the summaries, and the caller's nodes. No per-call allocation.
///
/// Granule: `init(start, size, granule)`; `init(start, size)` uses `default_granule`, 256 bytes:
/// a few cache lines or one DMA burst, small enough that rounding wastes little on buffers of a
/// few KiB, large enough that a 4 MiB SRAM needs only 2 KiB per bitmap (16384 granules). The
/// space must start on a granule boundary and be a whole number of granules (-EINVAL otherwise),
/// and may end exactly at 2^64; it may have at most max_granules granules (-ENOMEM). reserve() needs a granule-aligned
/// start (-EINVAL otherwise) and, like insert, rounds the size up; the node records the range
/// actually taken, so node.size() may exceed the request.
#include <accel/mm/range.hpp>
#include <accel/mm/range_manager.hpp>

#include <algorithm>
#include <bit>
#include <cassert>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <new>
#include <ranges>
#include <utility>

namespace accel::mm {

class bitmap {
public:
    static constexpr bool any_alignment = false;
    /// Granule used by the two-argument init().
    static constexpr u64 default_granule = 256;
    /// Largest number of granules a space may have (each bitmap then takes 512 MiB): beyond that
    /// init() returns -ENOMEM; this policy is for small memories.
    static constexpr u64 max_granules = u64{1} << 32;

    class node {
    public:
        u64 start() const noexcept { return start_; }
        u64 size() const noexcept { return size_; }
        bool allocated() const noexcept { return size_ != 0; }

    private:
        friend class bitmap;
        u64 start_ = 0;
        u64 size_ = 0; // 0: not allocated (an allocation is at least one granule)
    };

    bitmap() = default;
    bitmap(bitmap&&) noexcept = default;
    bitmap& operator=(bitmap&&) noexcept = default;

    int init(u64 start, u64 size) { return init(start, size, default_granule); }

    /// Manages [start, start + size) in granules of `granule` bytes (a power of two).
    /// -EINVAL: empty or wrapping space, bad granule, start or size not whole granules;
    /// -ENOMEM: more than max_granules granules, or the bitmaps could not be allocated.
    int init(u64 start, u64 size, u64 granule) {
        if (int e = validate_space(start, size))
            return e;
        if (granule == 0 || !std::has_single_bit(granule) || start % granule != 0 || size % granule != 0)
            return -EINVAL;
        const u64 n = size / granule;
        if (n > max_granules)
            return -ENOMEM;
        const u64 nwords = (n + 63) / 64;
        const u64 nsum = (nwords + 63) / 64;
        // Value-initialised: every granule free, no allocation heads, empty summaries.
        std::unique_ptr<u64[]> used(new (std::nothrow) u64[nwords]());
        std::unique_ptr<u64[]> head(new (std::nothrow) u64[nwords]());
        std::unique_ptr<u64[]> some_free(new (std::nothrow) u64[nsum]());
        std::unique_ptr<u64[]> some_used(new (std::nothrow) u64[nsum]());
        std::unique_ptr<block_runs[]> blocks(new (std::nothrow) block_runs[nsum]());
        if (!used || !head || !some_free || !some_used || !blocks)
            return -ENOMEM;
        used_ = std::move(used);
        head_ = std::move(head);
        some_free_ = std::move(some_free);
        some_used_ = std::move(some_used);
        blocks_ = std::move(blocks);
        base_ = start;
        last_ = start + (size - 1);
        granule_ = granule;
        shift_ = static_cast<unsigned>(std::countr_zero(granule));
        base_granule_ = start >> shift_;
        n_ = n;
        nwords_ = nwords;
        nsum_ = nsum;
        free_ = n;
        live_ = 0;
        // Granules past the end of the space, in the last word, are marked allocated forever, so
        // a search never has to test for the end inside a word.
        if (n % 64 != 0)
            used_[nwords - 1] = ~u64{0} << (n % 64);
        for (u64 w = 0; w < nwords; ++w)
            refresh_summary(w);
        for (u64 b = 0; b < nsum; ++b)
            rescan_block(b);
        return 0;
    }

    int insert(node& n, const alloc_request& req) {
        if (n_ == 0)
            return -EINVAL; // not initialised: there is no space to allocate from
        u64 lo, last;
        if (int e = validate_request(req, base_, last_, any_alignment, lo, last))
            return e;
        const u64 k = ((req.size - 1) >> shift_) + 1; // whole granules; no overflow for any size
        if (k > free_)
            return -ENOSPC;
        // The request's bounds in granules: the first granule starting at or after `lo`, the
        // last granule ending at or before `last` (a granule cut by a bound is unusable).
        const u64 off_lo = lo - base_, off_hi = last - base_;
        const u64 glo = (off_lo >> shift_) + ((off_lo & (granule_ - 1)) != 0);
        u64 ghi = off_hi >> shift_;
        if ((off_hi & (granule_ - 1)) != granule_ - 1) {
            if (ghi == 0)
                return -ENOSPC;
            --ghi;
        }
        if (glo > ghi || ghi - glo + 1 < k)
            return -ENOSPC;
        // Alignment in granules; never finer than one granule (every granule start is aligned).
        const u64 a = std::max(effective_alignment(req.alignment), granule_) >> shift_;
        u64 at;
        const bool found = req.mode == placement::high ? find_high(glo, ghi, k, a, at) : find_low(glo, ghi, k, a, at);
        if (!found)
            return -ENOSPC;
        take(n, at, k);
        return 0;
    }

    int reserve(node& n, u64 start, u64 size) {
        if (n_ == 0)
            return -EINVAL;
        if (int e = validate_reserve(start, size, base_, last_))
            return e;
        if (((start - base_) & (granule_ - 1)) != 0)
            return -EINVAL; // cannot take part of a granule
        const u64 i = (start - base_) >> shift_;
        const u64 k = ((size - 1) >> shift_) + 1; // fits: the space is whole granules
        if (first_used(i, i + k) != i + k)
            return -ENOSPC;
        take(n, i, k);
        return 0;
    }

    /// Precondition: `n` was allocated by this manager and not yet removed.
    void remove(node& n) {
        const u64 i = (n.start_ - base_) >> shift_;
        const u64 k = n.size_ >> shift_;
        assert(n.allocated() && i < n_ && test(head_.get(), i) && first_free(i) >= i + k);
        fill(head_.get(), i, i + 1, false);
        mark(i, i + k, false);
        free_ += k;
        --live_;
        n.size_ = 0;
    }

    /// Allocations in address order.
    auto nodes() const { return listing<node_iterator>{node_iterator(this, 0), node_iterator(this, n_)}; }
    /// Maximal free intervals in address order.
    auto holes() const { return listing<hole_iterator>{hole_iterator(this, 0), hole_iterator(this, n_)}; }

    /// Exact; costs a walk over the summaries and the holes (O(words / 64 + holes)).
    range_stats stats() const {
        range_stats s;
        s.free_bytes = free_ << shift_;
        u64 largest = 0, count = 0;
        for (u64 i = first_free(0); i < n_;) {
            const u64 e = first_used(i, n_);
            largest = std::max(largest, e - i);
            ++count;
            i = first_free(e);
        }
        s.hole_count = count;
        s.largest_hole = largest << shift_;
        s.fragmentation = fragmentation_of(s.free_bytes, s.largest_hole);
        s.metadata_bytes = bitmap_bytes() + live_ * sizeof(node);
        return s;
    }

    u64 granule() const noexcept { return granule_; }
    /// Bytes of the bitmaps and the block summary: fixed for a given space and granule.
    std::uint64_t bitmap_bytes() const noexcept {
        return (2 * nwords_ + 2 * nsum_) * sizeof(u64) + nsum_ * sizeof(block_runs);
    }

private:
    static constexpr u64 npos = ~u64{0};
    static constexpr u64 ones = ~u64{0};
    /// Granules per block of the run summary: the 64 words one summary word covers.
    static constexpr u64 block_granules = 64 * 64;

    /// Free runs of one block, in granules: from its bottom, to its top, the longest inside.
    struct block_runs {
        std::uint16_t prefix, suffix, longest;
    };

    // ---- bit helpers over arrays of 64-bit words -------------------------------------------

    static bool test(const u64* a, u64 i) noexcept { return (a[i / 64] >> (i % 64)) & 1; }

    /// Sets (v) or clears bits [b, e) of `a`; b < e.
    static void fill(u64* a, u64 b, u64 e, bool v) noexcept {
        if (b >= e)
            return;
        const u64 wb = b / 64, we = (e - 1) / 64;
        const u64 mb = ones << (b % 64), me = ones >> (63 - (e - 1) % 64);
        auto apply = [&](u64 w, u64 m) { a[w] = v ? (a[w] | m) : (a[w] & ~m); };
        if (wb == we) {
            apply(wb, mb & me);
            return;
        }
        apply(wb, mb);
        std::fill(a + wb + 1, a + we, v ? ones : 0);
        apply(we, me);
    }

    /// First set bit of `a` in [from, limit), or limit. Jumps whole zero words.
    static u64 next_set(const u64* a, u64 from, u64 limit) noexcept {
        if (from >= limit)
            return limit;
        u64 w = from / 64;
        const u64 wend = (limit + 63) / 64;
        u64 x = a[w] & (ones << (from % 64));
        while (x == 0) {
            if (++w >= wend)
                return limit;
            x = a[w];
        }
        const u64 r = w * 64 + static_cast<u64>(std::countr_zero(x));
        return r < limit ? r : limit;
    }

    /// Last set bit of `a` in [lo, from], or npos.
    static u64 prev_set(const u64* a, u64 from, u64 lo) noexcept {
        u64 w = from / 64;
        const u64 wlo = lo / 64;
        u64 x = a[w] & (ones >> (63 - from % 64));
        while (x == 0) {
            if (w == wlo)
                return npos;
            x = a[--w];
        }
        const u64 r = w * 64 + 63 - static_cast<u64>(std::countl_zero(x));
        return r >= lo ? r : npos;
    }

    // ---- granule searches (indices relative to the space start) -------------------------------

    /// First free granule in [i, n), or n. A word with a free bit is found in the summary, so
    /// allocated stretches are skipped 64 words at a time.
    u64 first_free(u64 i) const noexcept {
        if (i >= n_)
            return n_;
        u64 w = i / 64;
        u64 x = ~used_[w] & (ones << (i % 64));
        if (x == 0) {
            w = next_set(some_free_.get(), w + 1, nwords_);
            if (w == nwords_)
                return n_;
            x = ~used_[w];
        }
        return w * 64 + static_cast<u64>(std::countr_zero(x)); // < n: tail bits are "allocated"
    }

    /// First allocated granule in [i, limit), or limit (limit <= n).
    u64 first_used(u64 i, u64 limit) const noexcept {
        if (i >= limit)
            return limit;
        u64 w = i / 64;
        u64 x = used_[w] & (ones << (i % 64));
        if (x == 0) {
            const u64 wlast = (limit - 1) / 64;
            w = next_set(some_used_.get(), w + 1, wlast + 1);
            if (w > wlast)
                return limit;
            x = used_[w];
        }
        const u64 r = w * 64 + static_cast<u64>(std::countr_zero(x));
        return r < limit ? r : limit;
    }

    /// Last free granule in [0, i], or npos (i < n).
    u64 last_free(u64 i) const noexcept {
        u64 w = i / 64;
        u64 x = ~used_[w] & (ones >> (63 - i % 64));
        if (x == 0) {
            if (w == 0)
                return npos;
            w = prev_set(some_free_.get(), w - 1, 0);
            if (w == npos)
                return npos;
            x = ~used_[w];
        }
        return w * 64 + 63 - static_cast<u64>(std::countl_zero(x));
    }

    /// Last allocated granule in [lo, i], or npos (lo <= i < n).
    u64 last_used(u64 lo, u64 i) const noexcept {
        u64 w = i / 64;
        const u64 wlo = lo / 64;
        u64 x = used_[w] & (ones >> (63 - i % 64));
        if (x == 0) {
            if (w == wlo)
                return npos;
            w = prev_set(some_used_.get(), w - 1, wlo);
            if (w == npos)
                return npos;
            x = used_[w];
        }
        const u64 r = w * 64 + 63 - static_cast<u64>(std::countl_zero(x));
        return r >= lo ? r : npos;
    }

    /// Lowest start s in [glo, ghi - k + 1], aligned (granule number base + s a multiple of a),
    /// with [s, s + k) free.
    bool find_low(u64 glo, u64 ghi, u64 k, u64 a, u64& at) const noexcept {
        const u64 limit = ghi - (k - 1);
        u64 i = glo, checked = npos; // checked: the block already known to possibly start a fit
        for (;;) {
            i = first_free(i);
            if (i > limit)
                return false;
            if (u64 b = i / block_granules; b != checked) {
                while (!could_start(b, k))
                    if (++b * block_granules > limit)
                        return false;
                checked = b;
                if (b * block_granules > i) {
                    i = b * block_granules;
                    continue;
                }
            }
            if (const u64 r = (base_granule_ + i) & (a - 1)) {
                if (a - r > limit - i)
                    return false;
                i += a - r;
            }
            const u64 j = first_used(i, i + k);
            if (j == i + k) {
                at = i;
                return true;
            }
            // Every aligned start in [i, j] would cover granule j.
            i = j + 1;
        }
    }

    /// Highest aligned start s >= glo with [s, s + k) free and s + k - 1 <= ghi.
    bool find_high(u64 glo, u64 ghi, u64 k, u64 a, u64& at) const noexcept {
        u64 e = ghi; // the highest granule the allocation may still cover
        u64 checked = npos; // the block already known to possibly end a fit
        for (;;) {
            e = last_free(e);
            if (e == npos || e < glo || e - glo < k - 1)
                return false;
            if (u64 b = e / block_granules; b != checked) {
                while (!could_end(b, k)) {
                    if (b == 0 || b * block_granules - 1 < glo)
                        return false;
                    --b;
                }
                checked = b;
                if ((b + 1) * block_granules - 1 < e) {
                    e = (b + 1) * block_granules - 1;
                    continue;
                }
            }
            u64 s = e - (k - 1);
            const u64 r = (base_granule_ + s) & (a - 1);
            if (r > s - glo)
                return false; // aligning down leaves the bounds
            s -= r;
            const u64 j = last_used(s, s + (k - 1));
            if (j == npos) {
                at = s;
                return true;
            }
            // Every aligned start whose allocation ends at or above j would cover granule j.
            if (j == 0)
                return false;
            e = j - 1;
        }
    }

    // ---- updates ---------------------------------------------------------------------------

    void refresh_summary(u64 w) noexcept {
        const u64 bit = u64{1} << (w % 64);
        some_free_[w / 64] = used_[w] != ones ? (some_free_[w / 64] | bit) : (some_free_[w / 64] & ~bit);
        some_used_[w / 64] = used_[w] != 0 ? (some_used_[w / 64] | bit) : (some_used_[w / 64] & ~bit);
    }

    /// Marks granules [b, e) allocated (v) or free, keeping the summaries right.
    void mark(u64 b, u64 e, bool v) noexcept {
        fill(used_.get(), b, e, v);
        const u64 wb = b / 64, we = (e - 1) / 64;
        if (we > wb + 1) { // interior words became wholly allocated / wholly free
            fill(some_free_.get(), wb + 1, we, !v);
            fill(some_used_.get(), wb + 1, we, v);
        }
        refresh_summary(wb);
        refresh_summary(we);
        const u64 bb = b / block_granules, be = (e - 1) / block_granules;
        const auto whole = static_cast<std::uint16_t>(v ? 0 : block_granules);
        for (u64 x = bb + 1; x < be; ++x) // blocks strictly inside: wholly allocated / wholly free
            blocks_[x] = {whole, whole, whole};
        rescan_block(bb);
        if (be != bb)
            rescan_block(be);
    }

    /// Recomputes a block's runs from its words (words past the end count as allocated).
    void rescan_block(u64 b) noexcept {
        const u64 w0 = b * 64, w1 = std::min(w0 + 64, nwords_);
        std::uint32_t run = 0, longest = 0, prefix = 0;
        bool in_prefix = true;
        auto close_run = [&] {
            if (in_prefix) {
                prefix = run;
                in_prefix = false;
            }
            longest = std::max(longest, run);
        };
        for (u64 w = w0; w < w1; ++w) {
            u64 f = ~used_[w];
            if (f == ones) {
                run += 64;
                continue;
            }
            const auto low = static_cast<unsigned>(std::countr_one(f));
            const auto high = static_cast<unsigned>(std::countl_one(f));
            run += low;
            close_run();
            // Runs strictly inside the word, between its bottom and top runs.
            f &= ones >> high;
            f >>= low;
            while (f != 0) {
                f >>= std::countr_zero(f);
                const auto r = static_cast<unsigned>(std::countr_one(f));
                longest = std::max<std::uint32_t>(longest, r);
                f >>= r; // r < 64: the top bits of f are clear
            }
            run = high;
        }
        if (in_prefix)
            prefix = run; // wholly free (the last block may be shorter than block_granules)
        longest = std::max(longest, run); // `run` is now the top run
        blocks_[b] = {static_cast<std::uint16_t>(prefix), static_cast<std::uint16_t>(run),
                      static_cast<std::uint16_t>(longest)};
    }

    /// Can a run of k free granules start in block b? It lies inside b (at most the block's
    /// longest run), or starts in b's top run and continues through the following blocks.
    bool could_start(u64 b, u64 k) const noexcept {
        if (blocks_[b].longest >= k)
            return true;
        u64 len = blocks_[b].suffix;
        if (len == 0)
            return false;
        for (u64 x = b + 1; len < k && x < nsum_; ++x) {
            len += blocks_[x].prefix;
            if (blocks_[x].prefix != block_granules)
                break;
        }
        return len >= k;
    }

    /// Can a run of k free granules end in block b? Mirror of could_start.
    bool could_end(u64 b, u64 k) const noexcept {
        if (blocks_[b].longest >= k)
            return true;
        u64 len = blocks_[b].prefix;
        if (len == 0)
            return false;
        for (u64 x = b; len < k && x-- > 0;) {
            len += blocks_[x].suffix;
            if (blocks_[x].suffix != block_granules)
                break;
        }
        return len >= k;
    }

    void take(node& n, u64 i, u64 k) noexcept {
        mark(i, i + k, true);
        fill(head_.get(), i, i + 1, true);
        free_ -= k;
        ++live_;
        n.start_ = base_ + (i << shift_);
        n.size_ = k << shift_;
    }

    // ---- listings ----------------------------------------------------------------------------

    /// Common shape of the two listing iterators: [s, e) is the current run in granules, s == n
    /// at the end. C++20 forward iterators yielding `range` by value.
    template <class Derived>
    class run_iterator {
    public:
        using value_type = range;
        using reference = range;
        using difference_type = std::ptrdiff_t;
        using iterator_concept = std::forward_iterator_tag;
        using iterator_category = std::input_iterator_tag; // yields prvalues

        range operator*() const noexcept { return {m_->base_ + (s_ << m_->shift_), (e_ - s_) << m_->shift_}; }
        Derived& operator++() noexcept {
            static_cast<Derived*>(this)->advance();
            return *static_cast<Derived*>(this);
        }
        Derived operator++(int) noexcept {
            Derived old = *static_cast<Derived*>(this);
            ++*this;
            return old;
        }
        friend bool operator==(const Derived& x, const Derived& y) noexcept { return x.s_ == y.s_; }

    protected:
        const bitmap* m_ = nullptr;
        u64 s_ = 0, e_ = 0;
    };

    class hole_iterator : public run_iterator<hole_iterator> {
    public:
        hole_iterator() = default;
        hole_iterator(const bitmap* m, u64 from) noexcept {
            m_ = m;
            e_ = from;
            advance();
        }
        void advance() noexcept {
            s_ = m_->first_free(e_);
            e_ = m_->first_used(s_, m_->n_);
        }
    };

    class node_iterator : public run_iterator<node_iterator> {
    public:
        node_iterator() = default;
        node_iterator(const bitmap* m, u64 from) noexcept {
            m_ = m;
            next_ = from >= m->n_ ? m->n_ : next_set(m->head_.get(), from, m->n_);
            advance();
        }
        /// A node runs from its head bit to the next head bit or the first free granule.
        void advance() noexcept {
            s_ = next_;
            if (s_ >= m_->n_) {
                e_ = s_;
                return;
            }
            next_ = next_set(m_->head_.get(), s_ + 1, m_->n_);
            e_ = std::min(next_, m_->first_free(s_ + 1));
        }

    private:
        u64 next_ = 0;
    };

    template <class It>
    class listing : public std::ranges::view_interface<listing<It>> {
    public:
        listing() = default;
        listing(It b, It e) noexcept : b_(b), e_(e) {}
        It begin() const noexcept { return b_; }
        It end() const noexcept { return e_; }

    private:
        It b_{}, e_{};
    };

    std::unique_ptr<u64[]> used_;      ///< bit per granule: allocated; tail bits past n set
    std::unique_ptr<u64[]> head_;      ///< bit per granule: first granule of an allocation
    std::unique_ptr<u64[]> some_free_; ///< bit per word of used_: it has a free granule
    std::unique_ptr<u64[]> some_used_; ///< bit per word of used_: it has an allocated granule
    std::unique_ptr<block_runs[]> blocks_; ///< per 4096 granules: free runs (see block_runs)
    u64 base_ = 0, last_ = 0;          ///< the space, as first and last byte
    u64 granule_ = default_granule;
    unsigned shift_ = 8;               ///< log2(granule_)
    u64 base_granule_ = 0;             ///< base_ / granule_, for absolute alignment
    u64 n_ = 0, nwords_ = 0, nsum_ = 0;
    u64 free_ = 0;                     ///< free granules
    u64 live_ = 0;                     ///< live allocations
};

static_assert(range_manager<bitmap>);
static_assert(std::ranges::forward_range<decltype(std::declval<const bitmap&>().holes())>);

} // namespace accel::mm

// SPDX-License-Identifier: MIT
#pragma once
/// \file `best_fit`: drm_mm's allocator, with both hole indexes embedded in the caller's node.
///
/// As in drm_mm, every node owns the hole that FOLLOWS it, and a sentinel inside the manager (a
/// zero-sized node at the start of the space) owns the hole at the very start. Free space between
/// two nodes is therefore always one maximal hole, and each hole is found from its owner.
///
/// Two indexes, both threaded through the caller-owned node, so insert allocates nothing; both
/// are detail::threaded_treap (two words of links, no parent pointer), which is what fits them
/// in 56 bytes with the two keys they read. Boost.Intrusive's hooks (three words each, as the
/// size trees had) with an address tree would take 72 bytes, and 64 (a parent-less address
/// tree) still measures 64.3 bytes per allocation on the trace replays once the manager's
/// fixed part is counted, over the 64-byte budget; nor can Boost keep subtree maxima.
/// - by address: every node, sentinel first, keyed by where the node ends (= where its hole
///   starts), each subtree holding a bound of its largest hole (drm_mm's holes_addr and
///   subtree_max_hole, as a bound: see threaded_treap). placement::low and high find the
///   lowest or highest hole that can hold the size, and reserve() the hole holding its start,
///   by descents from the root (O(log n) each, amortised for low/high); remove() and the
///   eviction scan take their neighbours from its threads. It also makes a node's start
///   implicit: a node begins where the previous node's hole ends, so start() and size() cost
///   a predecessor step (one load but for a node with a left subtree).
/// - by size: one treap per size class, keyed by (hole size, start), plus a bitmap of the
///   non-empty classes. A class is floor(log2(size)) and the next three bits, so a class tree
///   holds few holes (its descents are a few levels, each a likely cache miss: on the
///   gpu_mixed replay an eighth of the classes per power of two saved 7% of the L1 misses
///   against one class per power of two) and the classes still sort by size. Best fit is a
///   lower bound in the request's class, then in order, then on to the next non-empty class,
///   which visits holes in exactly naive's (size, start) order; the largest hole is the last
///   of the highest class, O(1).
/// Node: size links 16 bytes, then the keys (hole size, hole start) 16, then the address links
/// and bound 24. The two flags (allocated, scanned) sit in bit 1 of the address links.
///
/// Cost against the list-threaded 56-byte node this replaced (no address index: low, high and
/// reserve walked the list): every insert and remove now also links or unlinks the node in the
/// address tree (a rotation on average, and a parent found by a walk down a spine), and a
/// size-tree erase finds its parent the same way. On the gpu_mixed replay (cachegrind, L2-sized
/// last level) that is 0.4 more L2 misses, 1.9 more L1 misses and 250 more instructions per
/// operation, about 1.5x the time.
///
/// Measured and set aside: both indexes as B+trees over the holes alone, from pages the manager
/// owns (XFS's pair of free-space trees: 32 sorted keys per page in arrays, per-child maxima for
/// low/high), with a 40-byte node in a drm_mm-style address list. It placed exactly as naive
/// does, but with as many holes as allocations it took 131 to 184 bytes per allocation, and it
/// replayed the traces at 0.58 to 0.72x naive's time where this design took 0.39 to 0.51x in
/// the same run: about 1000 instructions per operation against 700 (searches inside pages,
/// shifting entries, maxima). Dropping the list too (holes only, a 24-byte node, nothing but
/// the freed node touched) gave 0.51 to 0.68x, so the scattered neighbour nodes are not what
/// costs. It also made remove() allocate (a hole can appear), which needs a fallback for
/// failed allocations.
/// Where this design's time goes (perf, gpu_mixed): the size-tree insert spends 29% of its time
/// on the first key load of each level and find_best is dominated by the same loads, i.e. cache
/// misses on holes' nodes, one per level. They are the index's own: replaying with the nodes in a
/// compact array reused LIFO (as a slab would hand them out) instead of one node per trace id
/// gained only 0.52 -> 0.46x naive.
///
/// Placement is mm::place_in() on each candidate hole clipped to [lo, last], visited in the same
/// order as `naive` visits them, so both policies put every allocation at the same address.
///
/// Eviction (drm_mm_scan): best_fit::scan. add_block() candidates in LRU order until it returns
/// true, then remove_block() every one of them in exactly the reverse order; those for which it
/// returns true overlap the hit range and must be evicted (remove()). insert_evict() then takes
/// the hole the last remove() grew, which holds the hit range (reserve(scan.hit()) also works).
/// While blocks are scanned nothing else may touch the manager (asserted in debug builds).
#include <accel/mm/detail/threaded_treap.hpp>
#include <accel/mm/range.hpp>
#include <accel/mm/range_manager.hpp>

#include <bit>
#include <cassert>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <range/v3/view/facade.hpp>

namespace accel::mm {

namespace detail {

/// Links of a by-size tree.
using bf_size_links = treap_links;

/// The two keys of a hole, which the size tree's descents read right after its links.
struct bf_hole_key {
    std::uint64_t hole_; ///< linked: free bytes right after this node (0: none); removed: its size
    /// Linked: first byte past the node, i.e. its hole's start (0 for a node ending at 2^64,
    /// which has no hole: only ever used in modular sums then). Removed: its start.
    std::uint64_t end_;
};

} // namespace detail

class best_fit {
public:
    static constexpr bool any_alignment = true;

    class node : private detail::bf_size_links, private detail::bf_hole_key, private detail::treap_max_links {
    public:
        node() noexcept : detail::bf_size_links{}, detail::bf_hole_key{}, detail::treap_max_links{} {} // all zero
        node(const node&) = delete; // linked into the trees by address
        node& operator=(const node&) = delete;

        /// Implicit while allocated: where the previous node's hole ends. Kept once removed.
        u64 start() const noexcept { return allocated() ? prev()->region_end() : end_; }
        u64 size() const noexcept { return allocated() ? end_ - start() : hole_; }
        bool allocated() const noexcept { return (detail::treap_max_links::left_bits & addr_tree::user_bit) != 0; }

    private:
        friend class best_fit;

        const node* prev() const noexcept { return as_node(addr_tree::prev(this)); }
        bool scanned() const noexcept { return (detail::treap_max_links::right_bits & addr_tree::user_bit) != 0; }
        /// Where the next node starts (mod 2^64: 0 past the end of a space ending at 2^64).
        u64 region_end() const noexcept { return end_ + hole_; }
        /// Last byte of the hole (hole_ > 0), or of the node when it has none.
        u64 region_last() const noexcept { return end_ + (hole_ - 1); }
    };
    static_assert(sizeof(void*) != 8 || sizeof(node) == 56, "best_fit::node: 56 bytes on 64-bit targets");

    class scan;

    best_fit() noexcept { reset(0, 0); }
    best_fit(const best_fit&) = delete; // nodes point at the sentinel inside the manager
    best_fit& operator=(const best_fit&) = delete;

    int init(u64 start, u64 size) noexcept {
        if (int e = validate_space(start, size))
            return e;
        reset(start, size);
        return 0;
    }

    /// Best/low/high fit of `req` inside [req.lo, req.last]; 0, -EINVAL or -ENOSPC.
    int insert(node& n, const alloc_request& req) noexcept {
        assert(scan_active_ == 0 && "best_fit: no operation while an eviction scan is active");
        assert(!n.allocated());
        u64 lo, last;
        if (int e = validate_request(req, space_.start, space_.last(), any_alignment, lo, last))
            return e;
        if (largest_hole() < req.size)
            return -ENOSPC; // O(1): nothing is big enough, whatever the bounds
        const u64 align = effective_alignment(req.alignment);
        u64 at = 0;
        node* owner = nullptr;
        switch (req.mode) {
        case placement::best: owner = find_best(req.size, align, lo, last, at); break;
        case placement::low: owner = find_low(req.size, align, lo, last, at); break;
        case placement::high: owner = find_high(req.size, align, lo, last, at); break;
        }
        if (!owner)
            return -ENOSPC;
        carve(*owner, n, at, req.size);
        return 0;
    }

    /// Like drm_mm's DRM_MM_INSERT_EVICT: tries first the hole the latest remove() grew (after
    /// evicting what a scan chose, the hole holding its hit range), placing as `req.mode` says
    /// inside it; if that hole cannot serve `req`, falls back to insert(n, req).
    int insert_evict(node& n, const alloc_request& req) noexcept {
        assert(scan_active_ == 0 && "best_fit: no operation while an eviction scan is active");
        assert(!n.allocated());
        u64 lo, last;
        if (int e = validate_request(req, space_.start, space_.last(), any_alignment, lo, last))
            return e;
        u64 at;
        if (node* h = last_hole_;
            h->hole_ >= req.size &&
            fits(*h, req.size, effective_alignment(req.alignment), lo, last, req.mode == placement::high, at)) {
            carve(*h, n, at, req.size);
            return 0;
        }
        return insert(n, req);
    }

    /// Takes exactly [start, start + size); -EINVAL (empty, wrapping, outside) or -ENOSPC.
    int reserve(node& n, u64 start, u64 size) noexcept {
        assert(scan_active_ == 0 && "best_fit: no operation while an eviction scan is active");
        assert(!n.allocated());
        if (int e = validate_reserve(start, size, space_.start, space_.last()))
            return e;
        // The owner of the hole holding `start`, if free: the last node ending at or before it.
        const u64 off = start - space_.start;
        const addr_traits tr = addr_.traits();
        node* p = as_node(addr_.last_with([&](const addr_links* x) { return tr.key(x) <= off; }, 0));
        if (p->hole_ < size || off - tr.key(p) > p->hole_ - size)
            return -ENOSPC;
        carve(*p, n, start, size);
        return 0;
    }

    /// Frees `n`: its range and its hole join the hole of the node before it.
    void remove(node& n) noexcept {
        assert(scan_active_ == 0 && "best_fit: no operation while an eviction scan is active");
        assert(n.allocated());
        node* p = const_cast<node*>(n.prev());
        if (n.hole_)
            prefetch_tree_links(n); // its erase needs them: load them alongside p
        const u64 start = p->region_end();
        const u64 grown = n.region_end() - start; // n and its hole: <= the space size, no overflow
        const u64 n_hole = n.hole_, p_hole = p->hole_;
        if (p_hole)
            prefetch_tree_links(*p);
        p->hole_ += grown;
        if (n_hole && p_hole) {
            size_erase(n, class_of(n_hole));
            size_grown(*p, p_hole);
        } else if (n_hole) {
            size_replace(n, class_of(n_hole), *p, false); // p's new hole is n's grown by n itself
        } else if (p_hole) {
            size_grown(*p, p_hole);
        } else {
            size_insert(*p);
        }
        addr_.erase(&addr_of(n), &addr_of(*p));
        const u64 size = grown - n_hole;
        set_flags(n, false, false);
        n.end_ = start; // what start() and size() answer for a removed node
        n.hole_ = size;
        free_ += size;
        --live_;
        last_hole_ = p;
    }

    /// The allocated node whose range holds `addr`, or null: one descent of the address tree,
    /// O(log n) (the `range_lookup` refinement of the concept: fake mmap offsets, faults). A
    /// pure read (unlike low/high's searches, it tightens no subtree bound), so lookups may run
    /// in parallel under a shared lock.
    const node* find(u64 addr) const noexcept {
        if (live_ == 0 || addr < space_.start || addr > space_.last())
            return nullptr;
        const u64 off = addr - space_.start;
        const addr_traits tr = addr_.traits();
        // The last node ending at or before addr; addr is in its hole or in the node after it.
        const addr_links* p = nullptr;
        for (const addr_links* x = addr_.root(); x;)
            if (tr.key(x) <= off) {
                p = x;
                x = addr_tree::right(x);
            } else {
                x = addr_tree::left(x);
            }
        const node* n = as_node(p); // the sentinel (key 0) is always a candidate
        if (off - tr.key(p) < n->hole_)
            return nullptr;
        return after(n);
    }

    /// drm_mm_for_each_node / drm_mm_for_each_hole as lazy views over the address tree's
    /// threads. A range-v3 view_facade: the cursor says how to read, step and stop, and the
    /// facade supplies the iterator (typedefs, both increments, the sentinel), which C++20's
    /// std::ranges::view_interface leaves to be written by hand. Forward, const-iterable; an
    /// iterator holds one node pointer and stays valid while the manager is left alone.
    template <bool Holes>
    class listing : public ranges::view_facade<listing<Holes>> {
    public:
        listing() = default;
        explicit listing(const node* first) noexcept : first_(first) {}

    private:
        friend ranges::range_access;
        struct cursor {
            const node* n = nullptr;
            range read() const noexcept { return Holes ? range{n->end_, n->hole_} : range{n->start(), n->size()}; }
            void next() noexcept { n = Holes ? next_with_hole(n) : after(n); }
            bool equal(const cursor& o) const noexcept { return n == o.n; }
            bool equal(ranges::default_sentinel_t) const noexcept { return n == nullptr; }
        };
        cursor begin_cursor() const noexcept { return {first_}; }
        const node* first_ = nullptr;
    };

    /// Allocated ranges in address order.
    listing<false> nodes() const noexcept { return listing<false>(after(&head_)); }
    /// Holes (maximal free intervals) in address order.
    listing<true> holes() const noexcept { return listing<true>(head_.hole_ ? &head_ : next_with_hole(&head_)); }

    range_stats stats() const noexcept {
        range_stats s;
        s.free_bytes = free_;
        s.largest_hole = largest_hole();
        s.hole_count = hole_count_;
        s.fragmentation = fragmentation_of(s.free_bytes, s.largest_hole);
        s.metadata_bytes = live_ * sizeof(node) + sizeof(best_fit);
        return s;
    }

    /// Checks both indexes against each other, O(n), for tests: each tree's order, threads,
    /// heap order, ends and (address) maxima; the address tree holds every node and the
    /// sentinel; every node with a hole is found in the tree of its size class, which hold
    /// nothing else; the class bitmap, the hole count and the free bytes. Not during a scan.
    bool check_indexes() const noexcept {
        const long long linked = addr_.check();
        if (linked < 0 || static_cast<u64>(linked) != live_ + 1 || addr_.first() != &head_)
            return false;
        u64 holes = 0, free = 0, indexed = 0;
        for (const node* n = &head_; n; n = after(n)) {
            if (n->hole_ == 0)
                continue;
            ++holes;
            free += n->hole_;
            if (classes_[class_of(n->hole_)].find(n) != static_cast<const links*>(n))
                return false;
        }
        for (unsigned c = 0; c < class_count; ++c) {
            const long long k = classes_[c].check();
            if (k < 0 || ((class_bits_[c / 64] >> (c % 64)) & 1) != (k > 0) ||
                ((class_words_ >> (c / 64)) & 1) != (class_bits_[c / 64] != 0))
                return false;
            indexed += static_cast<u64>(k);
            for (const links* x = classes_[c].first(); x; x = size_tree::next(x))
                if (as_node(x)->hole_ == 0 || class_of(as_node(x)->hole_) != c)
                    return false;
        }
        return holes == hole_count_ && indexed == holes && free == free_;
    }

private:
    using links = detail::bf_size_links;
    using addr_links = detail::treap_max_links;

    // Holes are ordered by (size, start): ties of equal size go to the lowest address.
    static bool key_less(const links* a, const links* b) noexcept {
        const node* x = as_node(a);
        const node* y = as_node(b);
        return (x->hole_ < y->hole_) | ((x->hole_ == y->hole_) & (x->end_ < y->end_));
    }
    struct size_traits {
        using links = detail::bf_size_links;
        static constexpr bool augmented = false;
        static bool less(const links* a, const links* b) noexcept { return key_less(a, b); }
    };
    using size_tree = detail::threaded_treap<size_traits>;

    /// The address index: key = offset of the node's end (its hole's start) in the space, so
    /// the sentinel is 0 and a node ending at 2^64 sorts last; value = hole size.
    struct addr_traits {
        using links = addr_links;
        static constexpr bool augmented = true;
        u64 base = 0; ///< the space start
        u64 key(const links* x) const noexcept { return as_node(x)->end_ - base; }
        bool less(const links* a, const links* b) const noexcept { return key(a) < key(b); }
        static u64 value(const links* x) noexcept { return as_node(x)->hole_; }
    };
    using addr_tree = detail::threaded_treap<addr_traits>;

    /// Size classes: floor(log2(size)) and the next sub_bits bits below the leading one, so a
    /// class tree holds an eighth of what one per power of two would (three treap levels less
    /// on every descent) and sizes still sort by class.
    static constexpr unsigned sub_bits = 3, sub_count = 1u << sub_bits;
    static constexpr unsigned class_count = 64 * sub_count, class_word_count = class_count / 64;

    void reset(u64 start, u64 size) noexcept {
        space_ = {start, size};
        head_.end_ = start; // zero-sized, so its hole is the whole space
        head_.hole_ = size;
        set_flags(head_, false, false); // never allocated nor scanned
        addr_ = addr_tree(addr_traits{start});
        addr_.insert(&head_);
        for (size_tree& t : classes_)
            t = size_tree();
        for (u64& w : class_bits_)
            w = 0;
        class_words_ = 0;
        hole_count_ = 0;
        if (size)
            size_insert(head_);
        free_ = size;
        live_ = 0;
        last_hole_ = &head_;
        scan_active_ = 0;
    }

    static node* as_node(links* l) noexcept { return static_cast<node*>(l); }
    static const node* as_node(const links* l) noexcept { return static_cast<const node*>(l); }
    static node* as_node(addr_links* l) noexcept { return static_cast<node*>(l); }
    static const node* as_node(const addr_links* l) noexcept { return static_cast<const node*>(l); }
    static links& size_links(node& n) noexcept { return n; }
    static addr_links& addr_of(node& n) noexcept { return n; }
    /// Sets both flags; the address links are untouched (a node outside the tree has none).
    static void set_flags(node& n, bool allocated, bool scanned) noexcept {
        addr_links& a = n;
        a.left_bits = (a.left_bits & ~addr_tree::user_bit) | (allocated ? addr_tree::user_bit : 0);
        a.right_bits = (a.right_bits & ~addr_tree::user_bit) | (scanned ? addr_tree::user_bit : 0);
    }

    // ---- size index: one treap per size class -------------------------------------------

    /// The class of a hole size (> 0): increasing with the size.
    static unsigned class_of(u64 hole) noexcept {
        const unsigned e = 63u - static_cast<unsigned>(std::countl_zero(hole));
        const u64 m = e >= sub_bits ? hole >> (e - sub_bits) : hole << (sub_bits - e);
        return e * sub_count + static_cast<unsigned>(m & (sub_count - 1));
    }
    void mark_class(unsigned c) noexcept {
        class_bits_[c / 64] |= u64{1} << (c % 64);
        class_words_ |= u64{1} << (c / 64);
    }
    void unmark_class(unsigned c) noexcept {
        if (!(class_bits_[c / 64] &= ~(u64{1} << (c % 64))))
            class_words_ &= ~(u64{1} << (c / 64));
    }
    /// The lowest non-empty class above c, or class_count.
    unsigned next_class_above(unsigned c) const noexcept {
        unsigned w = c / 64;
        if (const u64 m = c % 64 == 63 ? 0 : class_bits_[w] & (~u64{0} << (c % 64 + 1)))
            return w * 64 + static_cast<unsigned>(std::countr_zero(m));
        const u64 words = w + 1 == class_word_count ? 0 : class_words_ & (~u64{0} << (w + 1));
        if (!words)
            return class_count;
        w = static_cast<unsigned>(std::countr_zero(words));
        return w * 64 + static_cast<unsigned>(std::countr_zero(class_bits_[w]));
    }

    u64 largest_hole() const noexcept {
        if (!class_words_)
            return 0;
        const unsigned w = 63u - static_cast<unsigned>(std::countl_zero(class_words_));
        const unsigned c = w * 64 + 63u - static_cast<unsigned>(std::countl_zero(class_bits_[w]));
        return as_node(classes_[c].last())->hole_;
    }

    void size_insert(node& n) noexcept {
        const unsigned c = class_of(n.hole_);
        classes_[c].insert(&size_links(n));
        mark_class(c);
        ++hole_count_;
    }
    /// `n` leaves class c, the class its hole had when it was indexed.
    void size_erase(node& n, unsigned c) noexcept {
        classes_[c].erase(&size_links(n));
        if (classes_[c].empty())
            unmark_class(c);
        --hole_count_;
    }
    /// The smallest hole of class c of at least `size` bytes (ties: lowest address), or null.
    /// Written to compile to conditional moves: on a tree of hundreds of holes each comparison
    /// is a coin toss, and a mispredicted branch per level costs more than the memory access.
    const links* size_lower_bound(unsigned c, u64 size) const noexcept {
        const links* y = nullptr;
        for (const links* x = classes_[c].root(); x;) {
            const bool fits = as_node(x)->hole_ >= size;
            y = fits ? x : y;
            const std::uintptr_t b = fits ? x->left_bits : x->right_bits;
            x = size_tree::is_thread(b) ? nullptr : size_tree::ptr(b);
        }
        return y;
    }
    // A hole whose size changes keeps its place in its class tree if it stays in the class and
    // still sorts after its predecessor (it shrank) or before its successor (it grew). That
    // spares an erase and an insert in 1 to 20% of the changes on the trace replays (a large
    // hole losing or gaining a little), for one neighbour comparison.
    bool sorts_after_prev(unsigned c, const links* x, const links* at) const noexcept {
        return classes_[c].first() == at || key_less(size_tree::prev(at), x);
    }
    bool sorts_before_next(unsigned c, const links* x, const links* at) const noexcept {
        return classes_[c].last() == at || key_less(x, size_tree::next(at));
    }
    /// `n`'s hole shrank from `old` (indexed) to n.hole_ (> 0).
    void size_shrunk(node& n, u64 old) noexcept {
        const unsigned c = class_of(old);
        if (class_of(n.hole_) == c && sorts_after_prev(c, &size_links(n), &size_links(n)))
            return;
        size_erase(n, c);
        size_insert(n);
    }
    /// `n`'s hole grew from `old` (indexed) to n.hole_.
    void size_grown(node& n, u64 old) noexcept {
        const unsigned c = class_of(old);
        if (class_of(n.hole_) == c && sorts_before_next(c, &size_links(n), &size_links(n)))
            return;
        size_erase(n, c);
        size_insert(n);
    }
    /// `with` (not indexed, hole > 0) takes the place of `old` (indexed in class c) if its key
    /// sorts there, else `old` leaves and `with` is inserted. `smaller`: with's key is below
    /// old's, so only the predecessor can be out of order (else only the successor).
    void size_replace(node& old, unsigned c, node& with, bool smaller) noexcept {
        if (class_of(with.hole_) == c && (smaller ? sorts_after_prev(c, &size_links(with), &size_links(old))
                                                  : sorts_before_next(c, &size_links(with), &size_links(old)))) {
            classes_[c].replace(&size_links(old), &size_links(with));
        } else {
            size_erase(old, c);
            size_insert(with);
        }
    }

    /// Every change of a node's hole takes it out of its class tree, which reads its children
    /// (its parent is found down a spine, and they are rotated up); their addresses are known
    /// as soon as the node is, so remove() requests them early and the misses overlap.
    static void prefetch_tree_links(node& n) noexcept {
        const links& l = size_links(n);
        __builtin_prefetch(size_tree::ptr(l.left_bits));
        __builtin_prefetch(size_tree::ptr(l.right_bits));
    }

    // ---- address order: the address tree ---------------------------------------------------

    /// The next allocated node, or null past the last one (the sentinel is first).
    static const node* after(const node* n) noexcept { return as_node(addr_tree::next(n)); }
    /// The next node with a hole, or null.
    static const node* next_with_hole(const node* n) noexcept {
        do
            n = after(n);
        while (n && n->hole_ == 0);
        return n;
    }

    // ---- placement ----------------------------------------------------------------------------

    /// place_in() on h's hole clipped to [lo, last]; h.hole_ > 0.
    static bool fits(const node& h, u64 size, u64 align, u64 lo, u64 last, bool top, u64& at) noexcept {
        u64 hs = h.end_, hl = h.region_last();
        u64 cl = hs < lo ? lo : hs;
        u64 ch = hl > last ? last : hl;
        return cl <= ch && place_in(cl, ch, size, align, top, at);
    }
    /// Visits holes of at least `size` bytes in (size, start) order, as naive does.
    node* find_best(u64 size, u64 align, u64 lo, u64 last, u64& at) const noexcept {
        // The walk over holes just above `size` is long for large alignments (every hole shorter
        // than size + align - 1 may fail), so reject there with place_in()'s own condition,
        // specialised to a power of two and an unclipped hole: the padding to the next multiple
        // of `align` must leave `size` bytes. place_in() still places.
        const bool quick = align > 1 && is_pow2(align) && lo <= space_.start && last >= space_.last();
        unsigned c = class_of(size);
        const links* x = size_lower_bound(c, size);
        for (;;) {
            if (!x) { // past the end of class c: on to the next non-empty one
                c = next_class_above(c);
                if (c == class_count)
                    return nullptr;
                x = classes_[c].first();
            }
            const node* h = as_node(x);
            if ((!quick || h->hole_ - size >= ((u64{0} - h->end_) & (align - 1))) &&
                fits(*h, size, align, lo, last, false, at))
                return const_cast<node*>(h);
            x = size_tree::next(x);
        }
    }
    // Low and high visit the holes of at least `size` bytes in address order, as naive does,
    // each found by one search of the address tree: its subtree maxima skip every subtree
    // without such a hole, so a candidate costs O(log n) however many nodes lie between.
    node* find_low(u64 size, u64 align, u64 lo, u64 last, u64& at) const noexcept {
        const addr_traits tr = addr_.traits();
        const u64 lo_off = lo - space_.start, last_off = last - space_.start;
        // From the hole holding lo or the first after it: the first region ending past lo.
        u64 past = lo_off;
        for (;;) {
            const node* p = as_node(addr_.first_with(
                [&](const addr_links* x) { return tr.key(x) + as_node(x)->hole_ > past; }, size));
            if (!p || tr.key(p) > last_off)
                return nullptr;
            if (fits(*p, size, align, lo, last, false, at))
                return const_cast<node*>(p);
            past = tr.key(p) + p->hole_; // <= the space size: no wrap
        }
    }
    node* find_high(u64 size, u64 align, u64 lo, u64 last, u64& at) const noexcept {
        const addr_traits tr = addr_.traits();
        const u64 lo_off = lo - space_.start;
        // From the hole holding last or the last before it: the last hole starting at or before.
        u64 upto = last - space_.start;
        for (;;) {
            const node* p = as_node(addr_.last_with([&](const addr_links* x) { return tr.key(x) <= upto; }, size));
            if (!p || tr.key(p) + (p->hole_ - 1) < lo_off)
                return nullptr;
            if (fits(*p, size, align, lo, last, true, at))
                return const_cast<node*>(p);
            if (tr.key(p) == 0)
                return nullptr; // the sentinel's hole: nothing below
            upto = tr.key(p) - 1;
        }
    }

    /// Allocates [at, at + size) out of p's hole: p keeps the part below, n owns the part above.
    void carve(node& p, node& n, u64 at, u64 size) noexcept {
        const u64 old = p.hole_;
        const u64 below = at - p.end_;
        const u64 above = p.region_last() - (at + (size - 1));
        n.end_ = at + size; // 0 when it ends at 2^64 (then above == 0)
        n.hole_ = above;
        addr_links& a = n; // plain stores: n's line is usually cold, and nothing in it is kept
        a.left_bits = addr_tree::user_bit; // allocated; insert_after() sets the links
        a.right_bits = 0;
        p.hole_ = below;
        // Both parts are smaller than the hole was. The larger one is the likelier to keep the
        // hole's rank, so it inherits the hole's place in the size index; the other is inserted.
        if (below >= above) {
            if (below)
                size_shrunk(p, old);
            else
                size_erase(p, class_of(old)); // both 0: the allocation filled the hole
            if (above)
                size_insert(n);
        } else {
            size_replace(p, class_of(old), n, true);
            if (below)
                size_insert(p);
        }
        addr_.insert_after(&addr_of(p), &addr_of(n));
        free_ -= size;
        ++live_;
    }

    range space_{};
    node head_; ///< sentinel: zero-sized node at the space start, owns the first hole
    addr_tree addr_; ///< every node, sentinel included, by address
    size_tree classes_[class_count]{};
    u64 class_bits_[class_word_count]{}; ///< bit c set: class c holds a hole
    u64 class_words_ = 0;                ///< bit w set: class_bits_[w] is not 0
    u64 free_ = 0;
    u64 hole_count_ = 0;
    u64 live_ = 0;
    node* last_hole_ = &head_; ///< owner of the hole the latest remove() grew (DRM_MM_INSERT_EVICT)
    u64 scan_active_ = 0;     ///< blocks currently added to a scan
};

/// drm_mm_scan: finds which allocated nodes to evict so that a request fits.
///
/// init() with the request, then add_block() candidates (typically least recently used first)
/// until it returns true: the hole the added blocks would open, together with the free space
/// around them, then holds the request at hit(). Then remove_block() EVERY added node in the
/// exact reverse order (LIFO, as drm_mm requires); it returns true for the nodes that overlap
/// hit(), which the caller must evict with remove() once all blocks are out of the scan.
/// Finally insert_evict() (or reserve(hit)) places the request at hit().
///
/// While any block is scanned the manager must not be used otherwise. A scanned node lends the
/// manager its size-tree links (its hole leaves the by-size index until remove_block()); they
/// hold the first and last node of the run of adjacent scanned nodes it belongs to, kept
/// current at the run's two ends only, so a block costs O(1) to add and O(log n) to remove (its
/// hole is re-indexed), and every add is exactly undone by its remove. A remove_block() out of
/// order that would undo a run wrongly (a block added later has joined it) is asserted.
class best_fit::scan {
public:
    scan() = default;
    scan(const scan&) = delete;
    scan& operator=(const scan&) = delete;

    /// Like drm_mm_scan_init_with_range(): -EINVAL for a request insert() would reject as invalid.
    int init(best_fit& mm, const alloc_request& req) noexcept {
        assert(mm.scan_active_ == 0 && "best_fit: one eviction scan at a time");
        u64 lo, last;
        if (int e = validate_request(req, mm.space_.start, mm.space_.last(), any_alignment, lo, last))
            return e;
        mm_ = &mm;
        size_ = req.size;
        align_ = effective_alignment(req.alignment);
        lo_ = lo;
        last_ = last;
        top_ = req.mode == placement::high;
        found_ = false;
        hit_ = {};
        return 0;
    }

    /// Adds an allocated node to the eviction roster; true once the request fits (hit() set).
    bool add_block(node& n) noexcept {
        assert(mm_ && n.allocated() && !n.scanned());
        if (n.hole_)
            mm_->size_erase(n, class_of(n.hole_));
        set_flags(n, true, true);
        ++mm_->scan_active_;
        const node* p = n.prev();
        const node* q = after(&n);
        node* first = p->scanned() ? run_first(*p) : &n; // the sentinel is never scanned
        node* last = q && q->scanned() ? run_last(*q) : &n;
        set_run(*first, first, last);
        set_run(*last, first, last);
        set_run(n, first, last);
        // Free if the run were evicted: from the end of the node before it (never scanned: the
        // sentinel at worst) to the end of the last one's hole.
        u64 fl = first->prev()->end_;
        u64 fh = last->region_last();
        u64 cl = fl < lo_ ? lo_ : fl;
        u64 ch = fh > last_ ? last_ : fh;
        u64 at;
        if (cl > ch || !place_in(cl, ch, size_, align_, top_, at))
            return false;
        hit_ = {at, size_};
        found_ = true;
        return true;
    }

    /// Takes the most recently added node back out; true iff it overlaps hit() (evict it).
    bool remove_block(node& n) noexcept {
        assert(mm_ && n.scanned());
        node* first = run_first(n);
        node* last = run_last(n);
        // In reverse order, n's run is still the one its add made: a later block that joined it
        // would have moved an end.
        assert(run_first(*first) == first && run_last(*first) == last && run_first(*last) == first &&
               run_last(*last) == last && "best_fit::scan: remove_block() must run in reverse add order");
        if (first != &n) { // the run to the left of n is [first, prev(n)] again
            node* p = const_cast<node*>(n.prev());
            set_run(*first, first, p);
            set_run(*p, first, p);
        }
        if (last != &n) { // and the run to the right [next(n), last]
            node* q = const_cast<node*>(after(&n));
            set_run(*q, q, last);
            set_run(*last, q, last);
        }
        set_flags(n, true, false);
        --mm_->scan_active_;
        if (n.hole_)
            mm_->size_insert(n);
        return found_ && n.start() <= hit_.last() && hit_.start <= n.end_ - 1;
    }

    bool found() const noexcept { return found_; }
    /// Where the request fits once the overlapping blocks are evicted (valid if found()).
    range hit() const noexcept { return hit_; }

private:
    static node* run_first(const node& n) noexcept {
        return reinterpret_cast<node*>(static_cast<const links&>(n).left_bits);
    }
    static node* run_last(const node& n) noexcept {
        return reinterpret_cast<node*>(static_cast<const links&>(n).right_bits);
    }
    static void set_run(node& n, node* first, node* last) noexcept {
        links& l = n;
        l.left_bits = reinterpret_cast<std::uintptr_t>(first);
        l.right_bits = reinterpret_cast<std::uintptr_t>(last);
    }

    best_fit* mm_ = nullptr;
    u64 size_ = 0, align_ = 1, lo_ = 0, last_ = 0;
    bool top_ = false;
    bool found_ = false;
    range hit_{};
};

static_assert(range_manager<best_fit>);

} // namespace accel::mm

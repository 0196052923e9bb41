// SPDX-License-Identifier: MIT
#pragma once
/// \file `best_fit`: drm_mm's allocator, with the hole index embedded in the caller's node.
///
/// As in drm_mm, every node owns the hole that FOLLOWS it, and a sentinel inside the manager (a
/// zero-sized node at the start of the space) owns the hole at the very start. Free space between
/// two nodes is therefore always one maximal hole, and each hole is found from its owner.
///
/// Two structures, both threaded through the caller-owned node, so insert allocates nothing:
/// - address order: a circular doubly linked list of all nodes through the sentinel. It gives
///   remove() and the eviction scan their neighbours in O(1), and it makes a node's start
///   implicit: the node begins where the previous node's hole ends. The node stores where it
///   ends (= where its hole starts) and its hole size, which is all a hole search reads, so
///   candidate holes are judged without touching a neighbour; start() and size() cost one load
///   of the previous node. Not storing the start is what fits the node in 56 bytes.
/// - size order: 64 red-black trees, one per size class floor(log2(hole size)), each keyed by
///   (hole size, start) and run by Boost.Intrusive's rbtree_algorithms over compact links
///   (colour in the parent pointer), plus a bitmap of the non-empty classes. Best fit is a
///   lower_bound in the request's class, then in-order, then on to the next non-empty class
///   (countr_zero), which visits holes in exactly naive's (size, start) order. A class tree
///   holds a fraction of the holes (on the trace replays the busiest has about a quarter), so
///   its descents are a few levels, each a likely cache miss, shorter than in one tree of all
///   holes; the largest hole is the rightmost of the highest class (countl_zero), O(1).
///
/// Placement is mm::place_in() on each candidate hole clipped to [lo, last], visited in the same
/// order as `naive` visits them, so both policies put every allocation at the same address.
///
/// The price of 56 bytes: there is no index by address. placement::low/high and reserve() find
/// their starting point by walking the node list (O(live nodes)), where drm_mm's augmented
/// holes_addr tree is O(log n). Such a tree over holes would need 24 more bytes per node (two
/// parent-less links and the subtree maximum) and its upkeep, maxima repaired towards the root,
/// on every insert and remove; best mode (drm_mm_insert_node()'s default, and what the
/// benchmark replays) does not need it.
///
/// Eviction (drm_mm_scan): best_fit::scan. add_block() candidates in LRU order until it returns
/// true, then remove_block() every one of them in exactly the reverse order; those for which it
/// returns true overlap the hit range and must be evicted (remove()). insert_evict() then takes
/// the hole the last remove() grew, which holds the hit range (reserve(scan.hit()) also works).
/// While blocks are scanned nothing else may touch the manager (asserted in debug builds).
#include <accel/mm/detail/compact_rb_node.hpp>
#include <accel/mm/range.hpp>
#include <accel/mm/range_manager.hpp>

#include <boost/intrusive/rbtree_algorithms.hpp>

#include <bit>
#include <cassert>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <ranges>

namespace accel::mm {

namespace detail {

/// Links of a by-size tree: the shared three-word red-black hook (colour in the parent pointer).
using bf_size_links = compact_rb_node;
using bf_size_traits = compact_rb_traits;

} // namespace detail

class best_fit {
public:
    static constexpr bool any_alignment = true;

    class node : private detail::bf_size_links {
    public:
        node() noexcept : detail::bf_size_links{} {} // links start zeroed (the hook is trivial)
        node(const node&) = delete; // linked into the list and trees by address
        node& operator=(const node&) = delete;

        /// Implicit while allocated: where the previous node's hole ends. Kept once removed.
        u64 start() const noexcept { return allocated() ? prev()->region_end() : end_; }
        u64 size() const noexcept { return allocated() ? end_ - start() : hole_; }
        bool allocated() const noexcept { return (prev_ & allocated_bit) != 0; }

    private:
        friend class best_fit;
        static constexpr std::uintptr_t allocated_bit = 1, scanned_bit = 2, flag_bits = 3;

        // The size-tree key right after the size links: a descent mostly touches one cache line
        // per node (a 56-byte node sometimes straddles two).
        u64 hole_ = 0; ///< linked: free bytes right after this node (0: none); removed: its size
        /// Linked: first byte past the node, i.e. its hole's start (0 for a node ending at 2^64,
        /// which has no hole: only ever used in modular sums then). Removed: its start.
        u64 end_ = 0;
        std::uintptr_t prev_ = 0; ///< previous node in address order | allocated_bit | scanned_bit
        node* next_ = nullptr;    ///< next node in address order (the sentinel after the last)

        node* prev() const noexcept { return reinterpret_cast<node*>(prev_ & ~flag_bits); }
        void set_prev(node* p) noexcept { prev_ = reinterpret_cast<std::uintptr_t>(p) | (prev_ & flag_bits); }
        bool scanned() const noexcept { return (prev_ & scanned_bit) != 0; }
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
        node* p = owner_from_head(start);
        if (p->hole_ == 0 || start < p->end_ || start + (size - 1) > p->region_last())
            return -ENOSPC;
        carve(*p, n, start, size);
        return 0;
    }

    /// Frees `n`: its range and its hole join the hole of the node before it.
    void remove(node& n) noexcept {
        assert(scan_active_ == 0 && "best_fit: no operation while an eviction scan is active");
        assert(n.allocated());
        node* p = n.prev();
        node* q = n.next_;
        if (n.hole_)
            prefetch_tree_links(n); // its erase needs them: load them alongside p and q
        const u64 start = p->region_end();
        const u64 grown = n.region_end() - start; // n and its hole: <= the space size, no overflow
        const u64 n_hole = n.hole_, p_hole = p->hole_;
        if (p_hole)
            prefetch_tree_links(*p);
        p->hole_ += grown;
        p->next_ = q;
        q->set_prev(p);
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
        const u64 size = grown - n_hole;
        n.prev_ = 0;
        n.next_ = nullptr;
        n.end_ = start; // what start() and size() answer for a removed node
        n.hole_ = size;
        free_ += size;
        --live_;
        last_hole_ = p;
    }

    template <bool Holes>
    class listing_iterator {
    public:
        using value_type = range;
        using difference_type = std::ptrdiff_t;
        using iterator_concept = std::forward_iterator_tag;
        using iterator_category = std::forward_iterator_tag;
        listing_iterator() = default;
        explicit listing_iterator(const node* n) noexcept : n_(n) {}
        range operator*() const noexcept {
            return Holes ? range{n_->end_, n_->hole_} : range{n_->start(), n_->size()};
        }
        listing_iterator& operator++() noexcept {
            n_ = Holes ? next_with_hole(n_) : after(n_);
            return *this;
        }
        listing_iterator operator++(int) noexcept {
            auto t = *this;
            ++*this;
            return t;
        }
        friend bool operator==(const listing_iterator&, const listing_iterator&) = default;

    private:
        const node* n_ = nullptr;
    };

    /// Allocated ranges in address order.
    auto nodes() const noexcept {
        return std::ranges::subrange(listing_iterator<false>(after(&head_)), listing_iterator<false>());
    }
    /// Holes (maximal free intervals) in address order.
    auto holes() const noexcept {
        const node* h = head_.hole_ ? &head_ : next_with_hole(&head_);
        return std::ranges::subrange(listing_iterator<true>(h), listing_iterator<true>());
    }

    range_stats stats() const noexcept {
        range_stats s;
        s.free_bytes = free_;
        s.largest_hole = largest_hole();
        s.hole_count = hole_count_;
        s.fragmentation = fragmentation_of(s.free_bytes, s.largest_hole);
        s.metadata_bytes = live_ * sizeof(node) + sizeof(best_fit);
        return s;
    }

private:
    using size_algo = boost::intrusive::rbtree_algorithms<detail::bf_size_traits>;
    using links = detail::bf_size_links;
    static constexpr unsigned class_count = 64; ///< floor(log2) of a 64-bit hole size

    void reset(u64 start, u64 size) noexcept {
        space_ = {start, size};
        head_.end_ = start; // zero-sized, so its hole is the whole space
        head_.hole_ = size;
        head_.prev_ = reinterpret_cast<std::uintptr_t>(&head_); // never allocated: no flags
        head_.next_ = &head_;
        for (links& h : classes_)
            size_algo::init_header(&h);
        class_bits_ = 0;
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

    // ---- size index: one red-black tree per size class ------------------------------------

    /// Hole sizes in [2^c, 2^(c+1)) form class c (hole > 0).
    static unsigned class_of(u64 hole) noexcept { return 63u - static_cast<unsigned>(std::countl_zero(hole)); }
    /// The non-empty classes strictly above c.
    u64 classes_above(unsigned c) const noexcept { return c == 63 ? 0 : class_bits_ & (~u64{0} << (c + 1)); }

    u64 largest_hole() const noexcept {
        if (!class_bits_)
            return 0;
        const links& h = classes_[63u - static_cast<unsigned>(std::countl_zero(class_bits_))];
        return as_node(h.right)->hole_;
    }

    /// `c ? a : b` without a branch (compilers turn the ternary into an unpredictable jump).
    static links* select(bool c, links* a, links* b) noexcept {
        const auto m = std::uintptr_t{0} - static_cast<std::uintptr_t>(c);
        return reinterpret_cast<links*>((reinterpret_cast<std::uintptr_t>(a) & m) |
                                        (reinterpret_cast<std::uintptr_t>(b) & ~m));
    }
    links* root(unsigned c) noexcept { return detail::bf_size_traits::get_parent(&classes_[c]); }

    // Holes are ordered by (size, start): ties of equal size go to the lowest address.
    /// The descents below are written to compile to conditional moves: on a tree of hundreds of
    /// holes each comparison is a coin toss, and a mispredicted branch per level costs more
    /// than the memory access.
    void size_insert(node& n) noexcept {
        const unsigned c = class_of(n.hole_);
        const u64 h = n.hole_, s = n.end_;
        // The descent finds the leaf to hang n from; committing there spares Boost's
        // insert_before() a second search for it.
        size_algo::insert_commit_data at;
        at.node = &classes_[c]; // an empty tree: n becomes the root
        at.link_left = true;
        for (links* x = root(c); x;) {
            const node* k = as_node(x);
            const bool before = (h < k->hole_) | ((h == k->hole_) & (s < k->end_));
            at.node = x;
            at.link_left = before;
            x = select(before, x->left, x->right);
        }
        size_algo::insert_unique_commit(&classes_[c], static_cast<links*>(&n), at);
        class_bits_ |= u64{1} << c;
        ++hole_count_;
    }
    /// `n` leaves class c, the class its hole had when it was indexed.
    void size_erase(node& n, unsigned c) noexcept {
        size_algo::erase(&classes_[c], static_cast<links*>(&n));
        if (!root(c))
            class_bits_ &= ~(u64{1} << c);
        --hole_count_;
    }
    /// The smallest hole of class c of at least `size` bytes (ties: lowest address), or the header.
    links* size_lower_bound(unsigned c, u64 size) noexcept {
        links* y = &classes_[c];
        for (links* x = root(c); x;) {
            const bool fits = as_node(x)->hole_ >= size;
            y = select(fits, x, y);
            x = select(fits, x->left, x->right);
        }
        return y;
    }
    static bool key_less(const links* a, const links* b) noexcept {
        const node* x = as_node(a);
        const node* y = as_node(b);
        return (x->hole_ < y->hole_) | ((x->hole_ == y->hole_) & (x->end_ < y->end_));
    }
    // A hole whose size changes keeps its place in its class tree if it stays in the class and
    // still sorts after its predecessor (it shrank) or before its successor (it grew). That
    // spares an erase, a descent and two rebalancings in 1 to 20% of the changes on the trace
    // replays (a large hole losing or gaining a little), for one neighbour comparison.
    bool sorts_after_prev(unsigned c, const links* x, links* at) const noexcept {
        return classes_[c].left == at || key_less(size_algo::prev_node(at), x);
    }
    bool sorts_before_next(unsigned c, const links* x, links* at) const noexcept {
        return classes_[c].right == at || key_less(x, size_algo::next_node(at));
    }
    /// `n`'s hole shrank from `old` (indexed) to n.hole_ (> 0).
    void size_shrunk(node& n, u64 old) noexcept {
        const unsigned c = class_of(old);
        if (class_of(n.hole_) == c && sorts_after_prev(c, &n, &n))
            return;
        size_erase(n, c);
        size_insert(n);
    }
    /// `n`'s hole grew from `old` (indexed) to n.hole_.
    void size_grown(node& n, u64 old) noexcept {
        const unsigned c = class_of(old);
        if (class_of(n.hole_) == c && sorts_before_next(c, &n, &n))
            return;
        size_erase(n, c);
        size_insert(n);
    }
    /// `with` (not indexed, hole > 0) takes the place of `old` (indexed in class c) if its key
    /// sorts there, else `old` leaves and `with` is inserted. `smaller`: with's key is below
    /// old's, so only the predecessor can be out of order (else only the successor).
    void size_replace(node& old, unsigned c, node& with, bool smaller) noexcept {
        if (class_of(with.hole_) == c &&
            (smaller ? sorts_after_prev(c, &with, &old) : sorts_before_next(c, &with, &old))) {
            size_algo::replace_node(&old, &classes_[c], &with);
        } else {
            size_erase(old, c);
            size_insert(with);
        }
    }

    /// Every change of a node's hole erases it from its class tree, which reads its tree
    /// neighbours; their addresses are known as soon as the node is, so remove() requests them
    /// early and the misses overlap those of the list neighbours.
    static void prefetch_tree_links(const node& n) noexcept {
        const links& l = n;
        __builtin_prefetch(detail::bf_size_traits::get_parent(&l));
        __builtin_prefetch(l.left);
        __builtin_prefetch(l.right);
    }

    // ---- address order: the node list -----------------------------------------------------

    /// The next allocated node, or null past the last one (the sentinel is the only linked
    /// node that is not allocated).
    static const node* after(const node* n) noexcept {
        n = n->next_;
        return n->allocated() ? n : nullptr;
    }
    /// The next node with a hole, or null.
    static const node* next_with_hole(const node* n) noexcept {
        do
            n = after(n);
        while (n && n->hole_ == 0);
        return n;
    }
    /// Whether address x (inside the space) lies in p's node or hole. The sentinel has no
    /// node: its region is its hole, and is empty (would wrap) when the first node is at the
    /// space start. Regions tile the space in list order.
    bool holds(const node* p, u64 x) const noexcept {
        if (p == &head_)
            return head_.hole_ && x <= head_.region_last();
        return p->prev()->region_end() <= x && x <= p->region_last();
    }
    /// The node (sentinel included) whose range or hole holds address x of the space: the
    /// owner of x's hole when x is free. Walks from the start of the space.
    node* owner_from_head(u64 x) noexcept {
        node* p = &head_;
        while (!holds(p, x))
            p = p->next_;
        return p;
    }
    /// The same, walking back from the end of the space.
    node* owner_from_tail(u64 x) noexcept {
        node* p = head_.prev();
        while (!holds(p, x))
            p = p->prev();
        return p;
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
    node* find_best(u64 size, u64 align, u64 lo, u64 last, u64& at) noexcept {
        // The walk over holes just above `size` is long for large alignments (every hole shorter
        // than size + align - 1 may fail), so reject there with place_in()'s own condition,
        // specialised to a power of two and an unclipped hole: the padding to the next multiple
        // of `align` must leave `size` bytes. place_in() still places.
        const bool quick = align > 1 && is_pow2(align) && lo <= space_.start && last >= space_.last();
        unsigned c = class_of(size);
        links* x = size_lower_bound(c, size);
        for (;;) {
            if (x == &classes_[c]) { // past the end of class c: on to the next non-empty one
                const u64 above = classes_above(c);
                if (!above)
                    return nullptr;
                c = static_cast<unsigned>(std::countr_zero(above));
                x = classes_[c].left;
            }
            node* h = as_node(x);
            if ((!quick || h->hole_ - size >= ((u64{0} - h->end_) & (align - 1))) &&
                fits(*h, size, align, lo, last, false, at))
                return h;
            x = size_algo::next_node(x);
        }
    }
    node* find_low(u64 size, u64 align, u64 lo, u64 last, u64& at) noexcept {
        for (node* p = owner_from_head(lo); p; p = const_cast<node*>(after(p))) {
            if (p->hole_ < size)
                continue;
            if (p->end_ > last)
                break;
            if (fits(*p, size, align, lo, last, false, at))
                return p;
        }
        return nullptr;
    }
    node* find_high(u64 size, u64 align, u64 lo, u64 last, u64& at) noexcept {
        for (node* p = owner_from_tail(last);; p = p->prev()) {
            if (p->hole_ >= size) {
                if (p->region_last() < lo)
                    break;
                if (fits(*p, size, align, lo, last, true, at))
                    return p;
            }
            if (p == &head_)
                break;
        }
        return nullptr;
    }

    /// Allocates [at, at + size) out of p's hole: p keeps the part below, n owns the part above.
    void carve(node& p, node& n, u64 at, u64 size) noexcept {
        const u64 old = p.hole_;
        const u64 below = at - p.end_;
        const u64 above = p.region_last() - (at + (size - 1));
        node* q = p.next_;
        n.end_ = at + size; // 0 when it ends at 2^64 (then above == 0)
        n.hole_ = above;
        n.prev_ = reinterpret_cast<std::uintptr_t>(&p) | node::allocated_bit;
        n.next_ = q;
        q->set_prev(&n);
        p.next_ = &n;
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
        free_ -= size;
        ++live_;
    }

    range space_{};
    node head_; ///< sentinel: zero-sized node at the space start, owns the first hole; its
                ///< prev is the last node and its next the first (a circular list)
    links classes_[class_count]{}; ///< Boost headers: parent = root, left = smallest, right = largest
    u64 class_bits_ = 0;         ///< bit c set: class c holds a hole
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
/// hold the previous block (for the LIFO check) and the first and last node of the run of
/// adjacent scanned nodes it belongs to, kept current at the run's two ends only, so a block
/// costs O(1) to add and O(log n) to remove (its hole is re-indexed), and every add is
/// exactly undone by its remove.
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
        stack_ = nullptr;
        return 0;
    }

    /// Adds an allocated node to the eviction roster; true once the request fits (hit() set).
    bool add_block(node& n) noexcept {
        assert(mm_ && n.allocated() && !n.scanned());
        if (n.hole_)
            mm_->size_erase(n, class_of(n.hole_));
        n.prev_ |= node::scanned_bit;
        ++mm_->scan_active_;
        links& l = n;
        l.parent_and_color = reinterpret_cast<std::uintptr_t>(stack_);
        stack_ = &n;
        const node* p = n.prev();
        const node* q = n.next_;
        node* first = p->scanned() ? run_first(*p) : &n; // the sentinel is never scanned
        node* last = q->scanned() ? run_last(*q) : &n;
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
        assert(mm_ && &n == stack_ && "best_fit::scan: remove_block() must run in reverse add order");
        links& l = n;
        stack_ = reinterpret_cast<node*>(l.parent_and_color);
        node* first = as_node(l.left);
        node* last = as_node(l.right);
        if (first != &n) { // the run to the left of n is [first, prev(n)] again
            node* p = n.prev();
            set_run(*first, first, p);
            set_run(*p, first, p);
        }
        if (last != &n) { // and the run to the right [next(n), last]
            node* q = n.next_;
            set_run(*q, q, last);
            set_run(*last, q, last);
        }
        n.prev_ &= ~node::scanned_bit;
        --mm_->scan_active_;
        if (n.hole_)
            mm_->size_insert(n);
        return found_ && n.start() <= hit_.last() && hit_.start <= n.end_ - 1;
    }

    bool found() const noexcept { return found_; }
    /// Where the request fits once the overlapping blocks are evicted (valid if found()).
    range hit() const noexcept { return hit_; }

private:
    static node* run_first(const node& n) noexcept { return as_node(static_cast<const links&>(n).left); }
    static node* run_last(const node& n) noexcept { return as_node(static_cast<const links&>(n).right); }
    static void set_run(node& n, node* first, node* last) noexcept {
        links& l = n;
        l.left = first;
        l.right = last;
    }

    best_fit* mm_ = nullptr;
    u64 size_ = 0, align_ = 1, lo_ = 0, last_ = 0;
    bool top_ = false;
    bool found_ = false;
    range hit_{};
    node* stack_ = nullptr; ///< most recently added block
};

static_assert(range_manager<best_fit>);

} // namespace accel::mm

// SPDX-License-Identifier: MIT
#pragma once
/// \file `best_fit`: drm_mm's allocator, with the hole indexes embedded in the caller's node.
///
/// As in drm_mm, every node owns the hole that FOLLOWS it, and a sentinel inside the manager (a
/// zero-sized node at the start of the space) owns the hole at the very start. Free space between
/// two nodes is therefore always one maximal hole, and each hole is found from its owner.
///
/// Two indexes, both threaded through the caller-owned node, so insert allocates nothing:
/// - by size: a red-black tree of the nodes that have a hole, keyed (hole size, hole start),
///   run by Boost.Intrusive's rbtree_algorithms over compact links (colour in the parent
///   pointer). Best fit is lower_bound(size) then in-order until one fits alignment and bounds;
///   its rightmost node gives the largest hole in O(1) (the early -ENOSPC of drm_mm).
/// - by address: a treap of ALL nodes (sentinel included), augmented with the largest hole in
///   each subtree like drm_mm's rb_hole_addr. It finds a node's neighbours (drm_mm keeps a list
///   for that), the hole holding an address (reserve), and the lowest/highest fitting hole inside
///   request bounds (placement::low/high) in O(log n) typical. The treap priority is a hash of
///   the node's address, so it costs no storage; Boost.Intrusive has no augmented tree, which is
///   why this one is ours (rotations are where the subtree maxima must be repaired).
///
/// Placement is mm::place_in() on each candidate hole clipped to [lo, last], visited in the same
/// order as `naive` visits them, so both policies put every allocation at the same address.
///
/// Metadata: sizeof(node) == 80 (three u64 for start/size/hole, 3 words of size-tree links,
/// 3 words of treap links and the subtree maximum), see stats(). drm_mm's node is 168 bytes.
///
/// Eviction (drm_mm_scan): best_fit::scan. add_block() candidates in LRU order until it returns
/// true, then remove_block() every one of them in exactly the reverse order; those for which it
/// returns true overlap the hit range and must be evicted (remove()). insert_evict() then takes
/// the hole the last remove() grew, which holds the hit range (reserve(scan.hit()) also works).
/// While blocks are scanned nothing else may touch the manager (asserted in debug builds).
#include <accel/mm/range.hpp>
#include <accel/mm/range_manager.hpp>

#include <boost/intrusive/rbtree_algorithms.hpp>

#include <cassert>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <ranges>

namespace accel::mm {

namespace detail {

/// Links of the by-size tree: parent pointer with the colour in bit 0, left, right.
struct bf_size_links {
    std::uintptr_t parent_colour = 0;
    bf_size_links* left = nullptr;
    bf_size_links* right = nullptr;
};

/// Boost.Intrusive node traits for bf_size_links (the layout of its compact rbtree nodes).
struct bf_size_traits {
    using node = bf_size_links;
    using node_ptr = bf_size_links*;
    using const_node_ptr = const bf_size_links*;
    using color = unsigned;
    static node_ptr get_parent(const_node_ptr n) noexcept {
        return reinterpret_cast<node_ptr>(n->parent_colour & ~std::uintptr_t{1});
    }
    static void set_parent(node_ptr n, node_ptr p) noexcept {
        n->parent_colour = reinterpret_cast<std::uintptr_t>(p) | (n->parent_colour & 1);
    }
    static node_ptr get_left(const_node_ptr n) noexcept { return n->left; }
    static void set_left(node_ptr n, node_ptr l) noexcept { n->left = l; }
    static node_ptr get_right(const_node_ptr n) noexcept { return n->right; }
    static void set_right(node_ptr n, node_ptr r) noexcept { n->right = r; }
    static color get_color(const_node_ptr n) noexcept { return static_cast<color>(n->parent_colour & 1); }
    static void set_color(node_ptr n, color c) noexcept { n->parent_colour = (n->parent_colour & ~std::uintptr_t{1}) | c; }
    static color black() noexcept { return 0; }
    static color red() noexcept { return 1; }
};

} // namespace detail

class best_fit {
public:
    static constexpr bool any_alignment = true;

    class node : private detail::bf_size_links {
    public:
        node() = default;
        node(const node&) = delete; // linked into trees by address
        node& operator=(const node&) = delete;

        u64 start() const noexcept { return start_; }
        u64 size() const noexcept { return size_; }
        bool allocated() const noexcept { return (up_ & allocated_bit) != 0; }

    private:
        friend class best_fit;
        static constexpr std::uintptr_t allocated_bit = 1, scanned_bit = 2, flag_bits = 3;

        // Size-tree key first, next to the size links: a descent touches one cache line per node.
        u64 hole_ = 0; ///< size of the free space right after this node (0: none)
        u64 start_ = 0;
        u64 size_ = 0;
        std::uintptr_t up_ = 0; ///< treap parent | allocated_bit | scanned_bit
        node* left_ = nullptr;
        node* right_ = nullptr;
        u64 max_ = 0; ///< largest hole_ in this treap subtree

        u64 hole_start() const noexcept { return start_ + size_; } // no wrap while hole_ > 0
        u64 hole_last() const noexcept { return start_ + size_ + (hole_ - 1); }
        node* parent() const noexcept { return reinterpret_cast<node*>(up_ & ~flag_bits); }
        void set_parent(node* p) noexcept { up_ = reinterpret_cast<std::uintptr_t>(p) | (up_ & flag_bits); }
        bool scanned() const noexcept { return (up_ & scanned_bit) != 0; }
    };

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
        node* p = last_starting_at_or_before(start);
        if (p->hole_ == 0 || start < p->hole_start() || start + (size - 1) > p->hole_last())
            return -ENOSPC;
        carve(*p, n, start, size);
        return 0;
    }

    /// Frees `n`: its range and its hole join the hole of the node before it.
    void remove(node& n) noexcept {
        assert(scan_active_ == 0 && "best_fit: no operation while an eviction scan is active");
        assert(n.allocated());
        node* p = prev(&n);
        const u64 grown = n.size_ + n.hole_; // <= the space size: cannot overflow
        if (n.hole_)
            size_erase(n);
        treap_erase(n);
        if (p->hole_)
            size_erase(*p);
        p->hole_ += grown;
        size_insert(*p);
        fix_max_up(p);
        n.up_ = 0;
        free_ += n.size_;
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
            return Holes ? range{n_->hole_start(), n_->hole_} : range{n_->start_, n_->size_};
        }
        listing_iterator& operator++() noexcept {
            n_ = Holes ? next_with_hole(n_, 1) : next(n_);
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
        return std::ranges::subrange(listing_iterator<false>(next(&head_)), listing_iterator<false>());
    }
    /// Holes (maximal free intervals) in address order.
    auto holes() const noexcept {
        const node* h = head_.hole_ ? &head_ : next_with_hole(&head_, 1);
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

    void reset(u64 start, u64 size) noexcept {
        space_ = {start, size};
        head_.start_ = start;
        head_.size_ = 0;
        head_.hole_ = size;
        head_.up_ = 0;
        head_.left_ = head_.right_ = nullptr;
        head_.max_ = size;
        root_ = &head_;
        size_algo::init_header(&size_hdr_);
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

    u64 largest_hole() const noexcept {
        return size_hdr_.right == &size_hdr_ ? 0 : as_node(size_hdr_.right)->hole_;
    }

    // ---- size index -------------------------------------------------------------------------

    // Holes are ordered by (size, start): ties of equal size go to the lowest address.
    links* size_root() const noexcept { return detail::bf_size_traits::get_parent(&size_hdr_); }
    /// The descents below are written to compile to conditional moves: on a tree of thousands
    /// of holes each comparison is a coin toss, and a mispredicted branch per level costs more
    /// than the memory access.
    void size_insert(node& n) noexcept {
        const u64 h = n.hole_, s = n.start_;
        links* y = &size_hdr_;
        for (links* x = size_root(); x;) {
            const node* k = as_node(x);
            const bool before = (h < k->hole_) | ((h == k->hole_) & (s < k->start_));
            y = before ? x : y;
            x = before ? x->left : x->right;
        }
        size_algo::insert_before(&size_hdr_, y, static_cast<links*>(&n)); // y: first key above n's
        ++hole_count_;
    }
    /// The smallest hole of at least `size` bytes (ties: lowest address), or the header.
    links* size_lower_bound(u64 size) noexcept {
        links* y = &size_hdr_;
        for (links* x = size_root(); x;) {
            const bool fits = as_node(x)->hole_ >= size;
            y = fits ? x : y;
            x = fits ? x->left : x->right;
        }
        return y;
    }
    void size_erase(node& n) noexcept {
        size_algo::erase(&size_hdr_, static_cast<links*>(&n));
        --hole_count_;
    }

    // ---- address index: treap by start, max-heap on a hash of the node's address ---------

    static std::uint64_t priority(const node* n) noexcept {
        auto x = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(n));
        x ^= x >> 31; // splitmix64's finaliser: nodes laid out in a row get unrelated priorities
        x *= 0x7fb5d329728ea185ull;
        x ^= x >> 27;
        x *= 0x81dadef4bc2dd44dull;
        return x ^ (x >> 33);
    }
    static u64 max_of(const node* n) noexcept { return n ? n->max_ : 0; }
    static void recompute(node* n) noexcept {
        u64 m = n->hole_, l = max_of(n->left_), r = max_of(n->right_);
        n->max_ = m > l ? (m > r ? m : r) : (l > r ? l : r);
    }
    /// Repairs subtree maxima from `n` up, stopping where nothing changes.
    static void fix_max_up(node* n) noexcept {
        for (; n; n = n->parent()) {
            u64 old = n->max_;
            recompute(n);
            if (n->max_ == old)
                break;
        }
    }
    void replace_child(node* parent, node* old, node* with) noexcept {
        if (!parent)
            root_ = with;
        else if (parent->left_ == old)
            parent->left_ = with;
        else
            parent->right_ = with;
    }
    /// Lifts `c` over its parent; the pair keeps its set of descendants, so only the two
    /// nodes' maxima need recomputing.
    void rotate_up(node* c) noexcept {
        node* p = c->parent();
        node* g = p->parent();
        if (p->left_ == c) {
            p->left_ = c->right_;
            if (c->right_)
                c->right_->set_parent(p);
            c->right_ = p;
        } else {
            p->right_ = c->left_;
            if (c->left_)
                c->left_->set_parent(p);
            c->left_ = p;
        }
        p->set_parent(c);
        c->set_parent(g);
        replace_child(g, p, c);
        recompute(p);
        recompute(c);
    }
    /// Links `n` (fresh) right after `p` in address order.
    void treap_link_after(node* p, node* n) noexcept {
        n->left_ = n->right_ = nullptr;
        n->max_ = n->hole_;
        node* at = p;
        if (p->right_) {
            at = p->right_;
            while (at->left_)
                at = at->left_;
            at->left_ = n;
        } else {
            p->right_ = n;
        }
        n->set_parent(at);
        for (node* a = at; a && a->max_ < n->hole_; a = a->parent())
            a->max_ = n->hole_;
        const std::uint64_t pn = priority(n);
        while (n->parent() && priority(n->parent()) < pn)
            rotate_up(n);
    }
    void treap_erase(node& n) noexcept {
        while (n.left_ && n.right_)
            rotate_up(priority(n.left_) > priority(n.right_) ? n.left_ : n.right_);
        node* child = n.left_ ? n.left_ : n.right_;
        node* p = n.parent();
        if (child)
            child->set_parent(p);
        replace_child(p, &n, child);
        fix_max_up(p);
    }

    static const node* leftmost(const node* n) noexcept {
        while (n->left_)
            n = n->left_;
        return n;
    }
    static const node* rightmost(const node* n) noexcept {
        while (n->right_)
            n = n->right_;
        return n;
    }
    static const node* next(const node* n) noexcept {
        if (n->right_)
            return leftmost(n->right_);
        const node* p = n->parent();
        while (p && p->right_ == n) {
            n = p;
            p = p->parent();
        }
        return p;
    }
    static const node* prev_c(const node* n) noexcept {
        if (n->left_)
            return rightmost(n->left_);
        const node* p = n->parent();
        while (p && p->left_ == n) {
            n = p;
            p = p->parent();
        }
        return p;
    }
    static node* prev(node* n) noexcept { return const_cast<node*>(prev_c(n)); }

    /// First node of subtree `t` (in address order) whose hole is >= size; t->max_ >= size.
    static const node* first_fit_in(const node* t, u64 size) noexcept {
        for (;;) {
            if (t->left_ && t->left_->max_ >= size)
                t = t->left_;
            else if (t->hole_ >= size)
                return t;
            else
                t = t->right_;
        }
    }
    static const node* last_fit_in(const node* t, u64 size) noexcept {
        for (;;) {
            if (t->right_ && t->right_->max_ >= size)
                t = t->right_;
            else if (t->hole_ >= size)
                return t;
            else
                t = t->left_;
        }
    }
    /// The next node after `n` in address order with a hole >= size; O(log n) via the maxima.
    static const node* next_with_hole(const node* n, u64 size) noexcept {
        if (n->right_ && n->right_->max_ >= size)
            return first_fit_in(n->right_, size);
        for (const node* p = n->parent(); p; n = p, p = p->parent()) {
            if (p->left_ != n)
                continue;
            if (p->hole_ >= size)
                return p;
            if (p->right_ && p->right_->max_ >= size)
                return first_fit_in(p->right_, size);
        }
        return nullptr;
    }
    static const node* prev_with_hole(const node* n, u64 size) noexcept {
        if (n->left_ && n->left_->max_ >= size)
            return last_fit_in(n->left_, size);
        for (const node* p = n->parent(); p; n = p, p = p->parent()) {
            if (p->right_ != n)
                continue;
            if (p->hole_ >= size)
                return p;
            if (p->left_ && p->left_->max_ >= size)
                return last_fit_in(p->left_, size);
        }
        return nullptr;
    }
    /// The last node (sentinel included) starting at or before `x`: the owner of the hole, or
    /// the node, that holds address x (x inside the space).
    node* last_starting_at_or_before(u64 x) noexcept {
        node* best = &head_;
        for (node* t = root_; t;) {
            if (t->start_ <= x) {
                best = t;
                t = t->right_;
            } else {
                t = t->left_;
            }
        }
        return best;
    }

    // ---- placement ----------------------------------------------------------------------------

    /// place_in() on h's hole clipped to [lo, last]; h->hole_ > 0.
    static bool fits(const node& h, u64 size, u64 align, u64 lo, u64 last, bool top, u64& at) noexcept {
        u64 hs = h.hole_start(), hl = h.hole_last();
        u64 cl = hs < lo ? lo : hs;
        u64 ch = hl > last ? last : hl;
        return cl <= ch && place_in(cl, ch, size, align, top, at);
    }
    node* find_best(u64 size, u64 align, u64 lo, u64 last, u64& at) noexcept {
        links* end = &size_hdr_;
        for (links* x = size_lower_bound(size); x != end; x = size_algo::next_node(x))
            if (fits(*as_node(x), size, align, lo, last, false, at))
                return as_node(x);
        return nullptr;
    }
    node* find_low(u64 size, u64 align, u64 lo, u64 last, u64& at) noexcept {
        const node* h = last_starting_at_or_before(lo);
        if (h->hole_ < size)
            h = next_with_hole(h, size);
        for (; h && h->hole_start() <= last; h = next_with_hole(h, size))
            if (fits(*h, size, align, lo, last, false, at))
                return const_cast<node*>(h);
        return nullptr;
    }
    node* find_high(u64 size, u64 align, u64 lo, u64 last, u64& at) noexcept {
        const node* h = last_starting_at_or_before(last);
        if (h->hole_ < size)
            h = prev_with_hole(h, size);
        for (; h && h->hole_last() >= lo; h = prev_with_hole(h, size))
            if (fits(*h, size, align, lo, last, true, at))
                return const_cast<node*>(h);
        return nullptr;
    }

    /// Allocates [at, at + size) out of p's hole: p keeps the part below, n owns the part above.
    void carve(node& p, node& n, u64 at, u64 size) noexcept {
        const u64 below = at - p.hole_start();
        const u64 above = p.hole_last() - (at + (size - 1));
        size_erase(p);
        p.hole_ = below;
        if (below)
            size_insert(p);
        fix_max_up(&p);
        n.start_ = at;
        n.size_ = size;
        n.hole_ = above;
        n.up_ = node::allocated_bit;
        if (above)
            size_insert(n);
        treap_link_after(&p, &n);
        free_ -= size;
        ++live_;
    }

    range space_{};
    node head_;          ///< sentinel: zero-sized node at the space start, owns the first hole
    node* root_ = &head_; ///< treap root
    links size_hdr_;     ///< Boost header: parent = root, left = smallest hole, right = largest
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
/// adjacent scanned nodes it belongs to, kept current at the run's two ends only, so add and
/// remove are O(1) amortised and exactly undone in reverse order.
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
            mm_->size_erase(n);
        n.up_ |= node::scanned_bit;
        ++mm_->scan_active_;
        links& l = n;
        l.parent_colour = reinterpret_cast<std::uintptr_t>(stack_);
        stack_ = &n;
        const node* p = prev_c(&n);
        const node* q = next(&n);
        node* first = p->scanned() ? run_first(*p) : &n;
        node* last = q && q->scanned() ? run_last(*q) : &n;
        set_run(*first, first, last);
        set_run(*last, first, last);
        set_run(n, first, last);
        // Free if the run were evicted: from the end of the node before it (never scanned: the
        // sentinel at worst) to the start of the node after it, or the end of the space.
        const node* before = prev_c(first);
        const node* after = next(last);
        u64 fl = before->start_ + before->size_;
        u64 fh = after ? after->start_ - 1 : mm_->space_.last();
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
        stack_ = reinterpret_cast<node*>(l.parent_colour);
        node* first = as_node(l.left);
        node* last = as_node(l.right);
        if (first != &n) { // the run to the left of n is [first, prev(n)] again
            node* p = const_cast<node*>(prev_c(&n));
            set_run(*first, first, p);
            set_run(*p, first, p);
        }
        if (last != &n) { // and the run to the right [next(n), last]
            node* q = const_cast<node*>(next(&n));
            set_run(*q, q, last);
            set_run(*last, q, last);
        }
        n.up_ &= ~node::scanned_bit;
        --mm_->scan_active_;
        if (n.hole_)
            mm_->size_insert(n);
        return found_ && n.start_ <= hit_.last() && hit_.start <= n.start_ + (n.size_ - 1);
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

// SPDX-License-Identifier: MIT
#pragma once
/// \file threaded_treap: an intrusive balanced search tree in two words of links per node.
///
/// best_fit keeps two indexes of its holes in the caller's node, as drm_mm does (by size, and
/// by address with each subtree's largest hole), and its node has 56 bytes for both and for
/// the two keys they read: five words of links. Boost.Intrusive's hooks need three words each
/// (the parent pointer), and it cannot keep a subtree maximum through its rotations. So:
/// - no parent pointer: a missing child's link is a thread (low bit set) to the in-order
///   neighbour on that side (null past either end). Predecessor and successor come from the
///   node alone (node::start() needs the predecessor), and so does the parent: it is the
///   successor of the subtree's rightmost node if the node is a left child (bit 2 of
///   left_bits says so), else the predecessor of its leftmost one;
/// - a treap: balanced by heap order on a priority that is a bijective hash of the node's
///   address, so nothing is stored for it and it never ties. Expected depth about 2 ln n;
///   an insert or erase makes fewer than two rotations on average, at the bottom.
///
/// The augmented variant keeps in each node an upper bound of the largest value in its subtree,
/// never below its children's bounds (so a bound already high enough on the way up means every
/// bound above is too). Only a value that grows has to raise bounds, and a rotation hands the
/// lifted node the bound of the subtree it takes over; values that shrink or leave change
/// nothing. The searches skip every subtree whose bound is below what they look for, and
/// tighten the bounds of the subtrees they looked through in vain (to the maximum of their
/// children's), so a stale bound is paid for once. Exact maxima would instead need every
/// shrinking value to walk up to where it stops mattering, each step a parent found by a walk
/// down a spine (no parent pointers): on the trace replays that was five to eight levels and
/// 20 to 35 cold nodes per operation, which cost more than everything else together.
///
/// Bit 1 of each link word is left to the user (best_fit keeps its flags there). Searches
/// tighten bounds, so they write to nodes even through a const tree.
#include <cstddef>
#include <cstdint>

namespace accel::mm::detail {

/// Left and right: a child, or (thread bit) the in-order neighbour. Trivial, like compact_rb_node.
struct treap_links {
    std::uintptr_t left_bits;
    std::uintptr_t right_bits;
};

/// The same for an augmented treap, with the maximum of the value over the node's subtree.
struct treap_max_links {
    std::uintptr_t left_bits;
    std::uintptr_t right_bits;
    std::uint64_t subtree_max; ///< upper bound of the values in the subtree (see the file comment)
};

/// Traits: `using links` (one of the two above), `static constexpr bool augmented`,
/// `bool less(const links*, const links*) const` (the order; distinct nodes never equal), and
/// for an augmented treap `u64 value(const links*) const`.
template <class Traits>
class threaded_treap {
public:
    using links = typename Traits::links;
    using u64 = std::uint64_t;
    static constexpr bool augmented = Traits::augmented;
    /// Bit 2 of left_bits says the node is its parent's left child, which tells parent_of()
    /// which of its two walks finds the parent. Nodes must be 8-byte aligned.
    static constexpr std::uintptr_t thread_bit = 1, user_bit = 2, left_child_bit = 4, low_bits = 7;
    static_assert(alignof(links) >= 8);

    threaded_treap() = default;
    explicit threaded_treap(Traits tr) noexcept : tr_(tr) {}

    const Traits& traits() const noexcept { return tr_; }
    bool empty() const noexcept { return root_ == nullptr; }
    links* root() const noexcept { return root_; }
    links* first() const noexcept { return first_; } ///< smallest, or null
    links* last() const noexcept { return last_; }   ///< largest, or null

    // ---- links ------------------------------------------------------------------------------
    static links* ptr(std::uintptr_t b) noexcept { return reinterpret_cast<links*>(b & ~low_bits); }
    static bool is_thread(std::uintptr_t b) noexcept { return (b & thread_bit) != 0; }
    static links* left(const links* x) noexcept { return is_thread(x->left_bits) ? nullptr : ptr(x->left_bits); }
    static links* right(const links* x) noexcept { return is_thread(x->right_bits) ? nullptr : ptr(x->right_bits); }
    static void set_left(links* x, links* to, bool thread) noexcept {
        x->left_bits = reinterpret_cast<std::uintptr_t>(to) | (thread ? thread_bit : 0) |
                       (x->left_bits & (user_bit | left_child_bit));
        if (!thread)
            to->left_bits |= left_child_bit;
    }
    static void set_right(links* x, links* to, bool thread) noexcept {
        x->right_bits = reinterpret_cast<std::uintptr_t>(to) | (thread ? thread_bit : 0) | (x->right_bits & user_bit);
        if (!thread)
            to->left_bits &= ~left_child_bit;
    }

    /// In-order neighbours, or null past either end.
    static links* prev(const links* x) noexcept {
        if (is_thread(x->left_bits))
            return ptr(x->left_bits);
        return rightmost(ptr(x->left_bits));
    }
    static links* next(const links* x) noexcept {
        if (is_thread(x->right_bits))
            return ptr(x->right_bits);
        return leftmost(ptr(x->right_bits));
    }

    // ---- changes ----------------------------------------------------------------------------

    /// Links n (not in the tree) at its place in Traits::less order.
    void insert(links* n) noexcept {
        if (!root_) {
            set_left(n, nullptr, true);
            set_right(n, nullptr, true);
            n->left_bits &= ~left_child_bit;
            root_ = first_ = last_ = n;
            if constexpr (augmented)
                n->subtree_max = tr_.value(n);
            return;
        }
        path pa;
        for (links* x = root_;;) {
            pa.push(x);
            if (tr_.less(n, x)) {
                if (is_thread(x->left_bits)) {
                    set_left(n, ptr(x->left_bits), true);
                    set_right(n, x, true);
                    set_left(x, n, false);
                    break;
                }
                x = ptr(x->left_bits);
            } else {
                if (is_thread(x->right_bits)) {
                    set_right(n, ptr(x->right_bits), true);
                    set_left(n, x, true);
                    set_right(x, n, false);
                    break;
                }
                x = ptr(x->right_bits);
            }
        }
        if (!ptr(n->left_bits))
            first_ = n;
        if (!ptr(n->right_bits))
            last_ = n;
        if constexpr (augmented) {
            const u64 v = tr_.value(n);
            n->subtree_max = v;
            for (int i = pa.n - 1; i >= 0 && pa.at[i]->subtree_max < v; --i)
                pa.at[i]->subtree_max = v;
        }
        const u64 pn = priority(n);
        int top = pa.n;
        while (top > 0 && priority(pa.at[top - 1]) < pn) {
            rotate_up(n, pa.at[top - 1], top >= 2 ? pa.at[top - 2] : nullptr);
            --top;
        }
    }

    /// Links n (not in the tree) right after p in order, whatever Traits::less says. For an
    /// augmented treap, n's value must not exceed p's before the change the caller is making
    /// (p's bound covers it then: best_fit splits p's hole between p and n); p's value may have
    /// shrunk meanwhile.
    void insert_after(links* p, links* n) noexcept {
        [[maybe_unused]] const u64 v = augmented ? tr_.value(n) : 0;
        links* parent;
        if (is_thread(p->right_bits)) { // n becomes p's right child
            set_right(n, ptr(p->right_bits), true);
            set_left(n, p, true);
            set_right(p, n, false);
            parent = p;
        } else { // or the left child of the leftmost node of p's right subtree, whose bounds
                 // (below p's) must now cover n
            links* x = ptr(p->right_bits);
            for (;; x = ptr(x->left_bits)) {
                if constexpr (augmented)
                    x->subtree_max = x->subtree_max < v ? v : x->subtree_max;
                if (is_thread(x->left_bits))
                    break;
            }
            set_left(n, p, true);
            set_right(n, x, true);
            set_left(x, n, false);
            parent = x;
        }
        if (!ptr(n->right_bits))
            last_ = n;
        if constexpr (augmented)
            n->subtree_max = v;
        const u64 pn = priority(n);
        while (parent && priority(parent) < pn) {
            links* g = parent_of(parent);
            rotate_up(n, parent, g);
            parent = g;
        }
    }

    /// Unlinks n. For an augmented treap, `grown` (or null) is a node whose value may have
    /// grown since it was linked (best_fit: n's predecessor, whose hole takes n's place): its
    /// bound and its ancestors' are raised to cover it.
    void erase(links* n, [[maybe_unused]] links* grown = nullptr) noexcept {
        if (first_ == n)
            first_ = next(n);
        if (last_ == n)
            last_ = prev(n);
        links* g = parent_of(n);
        for (;;) { // down to a leaf, lifting the child of higher priority (the heap order)
            links* l = left(n);
            links* r = right(n);
            if (!l && !r)
                break;
            links* c = !l ? r : !r ? l : (priority(l) > priority(r) ? l : r);
            rotate_up(c, n, g);
            g = c;
        }
        if (!g) {
            root_ = nullptr;
            return;
        }
        if (left(g) == n) // a leaf's threads are its parent's new thread on that side
            set_left(g, ptr(n->left_bits), true);
        else
            set_right(g, ptr(n->right_bits), true);
        if constexpr (augmented) {
            if (grown) {
                const u64 v = tr_.value(grown);
                for (links* x = grown; x && x->subtree_max < v; x = parent_of(x))
                    x->subtree_max = v;
            }
        }
    }

    /// `with` (not in the tree) takes old's place: the caller guarantees it sorts there.
    void replace(links* old, links* with) noexcept {
        static_assert(!augmented, "replace(): maxima are not maintained");
        links* g = parent_of(old);
        with->left_bits = (old->left_bits & ~user_bit) | (with->left_bits & user_bit);
        with->right_bits = (old->right_bits & ~user_bit) | (with->right_bits & user_bit);
        if (links* l = left(old)) // the only threads to old: from its neighbours inside its subtree
            set_right(rightmost(l), with, true);
        if (links* r = right(old))
            set_left(leftmost(r), with, true);
        replace_child(g, old, with);
        if (first_ == old)
            first_ = with;
        if (last_ == old)
            last_ = with;
        // with's priority is its own: restore the heap order around it.
        const u64 pw = priority(with);
        while (g && priority(g) < pw) {
            links* gg = parent_of(g);
            rotate_up(with, g, gg);
            g = gg;
        }
        for (;;) {
            links* l = left(with);
            links* r = right(with);
            links* c = !l ? r : !r ? l : (priority(l) > priority(r) ? l : r);
            if (!c || priority(c) < pw)
                break;
            rotate_up(c, with, g);
            g = c;
        }
    }

    // ---- searches ---------------------------------------------------------------------------

    /// The first node x in order for which below(x) is false, where below is true then false.
    template <class Below>
    links* first_not(const Below& below) const noexcept {
        links* y = nullptr;
        for (links* x = root_; x;) {
            if (below(x)) {
                x = right(x);
            } else {
                y = x;
                x = left(x);
            }
        }
        return y;
    }

    /// The node equal to n in Traits::less order, or null.
    links* find(const links* n) const noexcept {
        for (links* x = root_; x;) {
            if (tr_.less(n, x))
                x = left(x);
            else if (tr_.less(x, n))
                x = right(x);
            else
                return x;
        }
        return nullptr;
    }

    /// Augmented: the first node in order with ok(x) and value >= v, where ok is false then
    /// true along the order; null if none. O(log n): a descent along the boundary of ok, and
    /// one into the first subtree past it whose maximum reaches v.
    template <class Ok>
    links* first_with(const Ok& ok, u64 v) const noexcept {
        return first_in(root_, ok, v);
    }
    /// Augmented: the last node in order with ok(x) and value >= v, where ok is true then false.
    template <class Ok>
    links* last_with(const Ok& ok, u64 v) const noexcept {
        return last_in(root_, ok, v);
    }

    /// For tests: order, threads, heap order, bounds, first and last. The node count, or -1.
    long long check() const noexcept {
        if (!root_)
            return first_ || last_ ? -1 : 0;
        long long count = 0;
        const links* seen = nullptr;
        if (!check_in(root_, nullptr, nullptr, count, seen))
            return -1;
        if (first_ != leftmost(root_) || last_ != rightmost(root_))
            return -1;
        return count;
    }

private:
    static constexpr int max_depth = 256;
    /// Ancestors from the root down, for insert(). 256 levels are out of reach for any n that
    /// fits in memory unless the hash is broken; then it traps rather than write past the end.
    struct path {
        links* at[max_depth];
        int n = 0;
        void push(links* x) noexcept {
            if (n == max_depth)
                __builtin_trap();
            at[n++] = x;
        }
    };

    /// A bijection of the address (xor-shift, odd multiplier, xor-shift): distinct nodes never
    /// tie, and nodes laid out in key order (an array of them) still get unordered priorities.
    static u64 priority(const links* x) noexcept {
        u64 h = static_cast<u64>(reinterpret_cast<std::uintptr_t>(x));
        h = (h ^ (h >> 29)) * 0xbf58476d1ce4e5b9ULL;
        return h ^ (h >> 32);
    }

    static links* leftmost(links* x) noexcept {
        while (!is_thread(x->left_bits))
            x = ptr(x->left_bits);
        return x;
    }
    static links* rightmost(links* x) noexcept {
        while (!is_thread(x->right_bits))
            x = ptr(x->right_bits);
        return x;
    }

    /// x's parent, or null for the root: the node right after x's subtree if x is a left
    /// child, else the node right before it. Costs a walk down one spine of x's subtree.
    links* parent_of(links* x) const noexcept {
        if (x == root_)
            return nullptr;
        if (x->left_bits & left_child_bit)
            return ptr(rightmost(x)->right_bits);
        return ptr(leftmost(x)->left_bits);
    }

    void replace_child(links* parent, links* old, links* with) noexcept {
        if (!parent) {
            root_ = with;
            with->left_bits &= ~left_child_bit;
        } else if (left(parent) == old)
            set_left(parent, with, false);
        else
            set_right(parent, with, false);
    }

    /// c (a child of q) takes q's place; q becomes c's child. g: q's parent, null at the root.
    void rotate_up(links* c, links* q, links* g) noexcept {
        if constexpr (augmented)
            c->subtree_max = q->subtree_max; // the same subtree now, and q keeps a bound of its part
        if (left(q) == c) {
            if (is_thread(c->right_bits))
                set_left(q, c, true);
            else
                set_left(q, ptr(c->right_bits), false);
            set_right(c, q, false);
        } else {
            if (is_thread(c->left_bits))
                set_right(q, c, true);
            else
                set_right(q, ptr(c->left_bits), false);
            set_left(c, q, false);
        }
        replace_child(g, q, c);
    }

    /// A search looked through x's subtree in vain: its bound comes down to its children's.
    void tighten(links* x) const noexcept {
        u64 m = tr_.value(x);
        if (const links* l = left(x); l && l->subtree_max > m)
            m = l->subtree_max;
        if (const links* r = right(x); r && r->subtree_max > m)
            m = r->subtree_max;
        x->subtree_max = m;
    }

    template <class Ok>
    links* first_in(links* x, const Ok& ok, u64 v) const noexcept {
        if (!x || x->subtree_max < v)
            return nullptr;
        if (ok(x)) {
            if (links* r = first_in(left(x), ok, v))
                return r;
            if (tr_.value(x) >= v)
                return x;
        }
        links* r = first_in(right(x), ok, v);
        if (!r)
            tighten(x);
        return r;
    }
    template <class Ok>
    links* last_in(links* x, const Ok& ok, u64 v) const noexcept {
        if (!x || x->subtree_max < v)
            return nullptr;
        if (ok(x)) {
            if (links* r = last_in(right(x), ok, v))
                return r;
            if (tr_.value(x) >= v)
                return x;
        }
        links* r = last_in(left(x), ok, v);
        if (!r)
            tighten(x);
        return r;
    }

    /// lo and hi: the in-order neighbours of x's subtree, where its outer threads must point.
    bool check_in(const links* x, const links* lo, const links* hi, long long& count, const links*& seen) const noexcept {
        [[maybe_unused]] u64 m = 0;
        if constexpr (augmented)
            m = tr_.value(x);
        if (const links* l = left(x)) {
            if (!(l->left_bits & left_child_bit) || priority(l) > priority(x) || !check_in(l, lo, x, count, seen))
                return false;
            if constexpr (augmented)
                m = l->subtree_max > m ? l->subtree_max : m;
        } else if (ptr(x->left_bits) != lo) {
            return false;
        }
        if (seen && !tr_.less(seen, x))
            return false;
        seen = x;
        ++count;
        if (const links* r = right(x)) {
            if ((r->left_bits & left_child_bit) || priority(r) > priority(x) || !check_in(r, x, hi, count, seen))
                return false;
            if constexpr (augmented)
                m = r->subtree_max > m ? r->subtree_max : m;
        } else if (ptr(x->right_bits) != hi) {
            return false;
        }
        if constexpr (augmented)
            return m <= x->subtree_max; // a bound, at least its value and its children's
        return true;
    }

    links* root_ = nullptr;
    links* first_ = nullptr;
    links* last_ = nullptr;
    [[no_unique_address]] Traits tr_{};
};

} // namespace accel::mm::detail

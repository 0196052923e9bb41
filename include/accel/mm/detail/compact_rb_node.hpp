// SPDX-License-Identifier: MIT
#pragma once
/// \file A red-black tree hook of three words, for Boost.Intrusive's rbtree_algorithms.
///
/// The colour bit lives in the low bit of the parent pointer (nodes are at least 2-byte
/// aligned), as in the kernel's rb_node: 24 bytes a hook instead of 32. Policies that keep their
/// metadata per allocation (best_fit, buddy) use it through rbtree_algorithms directly, with no
/// container, so nothing but the hook is stored.
#include <cstdint>

namespace accel::mm::detail {

/// Trivial on purpose (no initialisers): policies keep it in unions and pools.
struct compact_rb_node {
    std::uintptr_t parent_and_color;
    compact_rb_node* left;
    compact_rb_node* right;
};

/// Node traits in the form boost::intrusive::rbtree_algorithms expects.
struct compact_rb_traits {
    using node = compact_rb_node;
    using node_ptr = node*;
    using const_node_ptr = const node*;
    using color = unsigned;
    static node_ptr get_parent(const_node_ptr n) noexcept {
        return reinterpret_cast<node_ptr>(n->parent_and_color & ~std::uintptr_t{1});
    }
    static void set_parent(node_ptr n, node_ptr p) noexcept {
        n->parent_and_color = reinterpret_cast<std::uintptr_t>(p) | (n->parent_and_color & 1);
    }
    static node_ptr get_left(const_node_ptr n) noexcept { return n->left; }
    static void set_left(node_ptr n, node_ptr l) noexcept { n->left = l; }
    static node_ptr get_right(const_node_ptr n) noexcept { return n->right; }
    static void set_right(node_ptr n, node_ptr r) noexcept { n->right = r; }
    static color get_color(const_node_ptr n) noexcept { return static_cast<color>(n->parent_and_color & 1); }
    static void set_color(node_ptr n, color c) noexcept { n->parent_and_color = (n->parent_and_color & ~std::uintptr_t{1}) | c; }
    static color black() noexcept { return 0; }
    static color red() noexcept { return 1; }
};

} // namespace accel::mm::detail

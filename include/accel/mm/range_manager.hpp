// SPDX-License-Identifier: MIT
#pragma once
/// \file The range_manager concept family: what a memory-range policy must offer.
///
/// A range manager hands out pieces of [start, start + size) of a 64-bit space whose metadata
/// cannot live inside the space (device memory, device virtual addresses, fake mmap offsets).
/// Like drm_mm, node storage is owned by the caller: `insert` fills a caller-provided node and
/// allocates nothing per call (a policy may draw internal metadata from a pool it owns).
///
/// A policy opts in by satisfying `range_manager`; `diagnose_range_manager<M>()` explains a
/// failure one requirement at a time. Anything satisfying the concept works wherever a shipped
/// policy does: tests (tests/mm/differential.hpp) and benchmarks (bench/mm_policies.cpp).
///
/// Contract, for every policy:
/// - `int init(u64 start, u64 size)`: manage [start, start + size); -EINVAL when size is 0 or the
///   space wraps past 2^64 (ending exactly at 2^64 is fine). Called once on a fresh object.
/// - `int insert(node&, const alloc_request&)`: 0 and the node allocated, or
///   -EINVAL (size 0, bad alignment, bounds empty or outside the space) or -ENOSPC (no room);
///   a policy that draws metadata from a pool it owns may also answer -ENOMEM when the pool
///   cannot grow. `node` must not be allocated. Nothing changes on failure.
/// - `int reserve(node&, u64 start, u64 size)`: take exactly that range; -EINVAL when empty,
///   wrapping or outside the space; -ENOSPC when any byte of it is allocated.
/// - `void remove(node&)`: give an allocated node's range back. Precondition: allocated here.
/// - `nodes()` / `holes()`: forward ranges of `mm::range` in address order; holes are maximal
///   free intervals.
/// - `range_stats stats() const`.
/// - `node::start()`, `node::size()`, `node::allocated()`.
/// - `static constexpr bool any_alignment`: non-power-of-two alignments accepted.
#include <accel/mm/range.hpp>

#include <concepts>
#include <ranges>
#include <type_traits>

namespace accel::mm {

/// A caller-owned allocation record.
template <class N>
concept range_node = std::default_initializable<N> && requires(const N& n) {
    { n.start() } -> std::convertible_to<u64>;
    { n.size() } -> std::convertible_to<u64>;
    { n.allocated() } -> std::convertible_to<bool>;
};

/// A forward range of `mm::range` values, as nodes() and holes() return.
template <class R>
concept range_listing = std::ranges::forward_range<R> &&
                        std::convertible_to<std::ranges::range_value_t<R>, range>;

template <class M>
concept range_manager =
    std::default_initializable<M> && range_node<typename M::node> &&
    requires { { M::any_alignment } -> std::convertible_to<bool>; } &&
    requires(M& m, const M& cm, typename M::node& n, const alloc_request& req, u64 a, u64 b) {
        { m.init(a, b) } -> std::same_as<int>;
        { m.insert(n, req) } -> std::same_as<int>;
        { m.reserve(n, a, b) } -> std::same_as<int>;
        { m.remove(n) } -> std::same_as<void>;
        { cm.nodes() } -> range_listing;
        { cm.holes() } -> range_listing;
        { cm.stats() } -> std::same_as<range_stats>;
    };

/// A range manager that also finds the allocated node holding an address, in O(log n): what
/// an index of fake mmap offsets needs (a page fault names a page, not a node). best_fit has it.
/// find() must be a pure read: lookups run in parallel under a shared lock.
template <class M>
concept range_lookup = range_manager<M> && requires(const M& cm, u64 a) {
    { cm.find(a) } -> std::same_as<const typename M::node*>;
};

/// Fires a static_assert naming the first requirement `M` misses, instead of a long list of
/// unsatisfied constraints. Call as `static_assert(diagnose_range_manager<my_policy>());`.
template <class M>
consteval bool diagnose_range_manager() {
    if constexpr (!std::default_initializable<M>) {
        static_assert(std::default_initializable<M>, "range_manager: the policy must be default-constructible");
        return false;
    } else if constexpr (!requires { typename M::node; }) {
        static_assert(requires { typename M::node; }, "range_manager: the policy must name its caller-owned `node` type");
        return false;
    } else if constexpr (!range_node<typename M::node>) {
        static_assert(range_node<typename M::node>,
                      "range_manager: node needs start(), size() and allocated() and a default constructor");
        return false;
    } else if constexpr (!requires { { M::any_alignment } -> std::convertible_to<bool>; }) {
        static_assert(requires { { M::any_alignment } -> std::convertible_to<bool>; },
                      "range_manager: declare `static constexpr bool any_alignment`");
        return false;
    } else if constexpr (!requires(M& m, u64 a) { { m.init(a, a) } -> std::same_as<int>; }) {
        static_assert(requires(M& m, u64 a) { { m.init(a, a) } -> std::same_as<int>; },
                      "range_manager: missing `int init(u64 start, u64 size)`");
        return false;
    } else if constexpr (!requires(M& m, typename M::node& n, const alloc_request& r) {
                             { m.insert(n, r) } -> std::same_as<int>;
                         }) {
        static_assert(sizeof(M) == 0, "range_manager: missing `int insert(node&, const alloc_request&)`");
        return false;
    } else if constexpr (!requires(M& m, typename M::node& n, u64 a) { { m.reserve(n, a, a) } -> std::same_as<int>; }) {
        static_assert(sizeof(M) == 0, "range_manager: missing `int reserve(node&, u64 start, u64 size)`");
        return false;
    } else if constexpr (!requires(M& m, typename M::node& n) { { m.remove(n) } -> std::same_as<void>; }) {
        static_assert(sizeof(M) == 0, "range_manager: missing `void remove(node&)`");
        return false;
    } else if constexpr (!requires(const M& m) { { m.nodes() } -> range_listing; }) {
        static_assert(sizeof(M) == 0, "range_manager: `nodes() const` must return a forward range of mm::range");
        return false;
    } else if constexpr (!requires(const M& m) { { m.holes() } -> range_listing; }) {
        static_assert(sizeof(M) == 0, "range_manager: `holes() const` must return a forward range of mm::range");
        return false;
    } else if constexpr (!requires(const M& m) { { m.stats() } -> std::same_as<range_stats>; }) {
        static_assert(sizeof(M) == 0, "range_manager: missing `range_stats stats() const`");
        return false;
    } else {
        return true;
    }
}

} // namespace accel::mm

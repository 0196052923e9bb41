// SPDX-License-Identifier: MIT
#pragma once
/// \file Visiting the leaves of fence containers, and merging them (dma-fence-unwrap).
///
/// `fence_unwrap_for_each(head, fn)` calls fn on every leaf of `head`: a plain fence is its own
/// leaf; a chain gives its payloads, newest first (walking it, so collecting garbage: signalled
/// older nodes are skipped, as dma_fence_unwrap_next walks); an array, inside a chain or not,
/// gives its members. Containers do not nest further (the kernel's rule: an array's members
/// and a chain's payloads are plain fences).
///
/// `fence_unwrap_merge(fences)` (dma_fence_unwrap_merge):
///   1. collects the leaves of every input that have not signalled;
///   2. none: a signalled stub carrying the newest timestamp of the signalled leaves;
///   3. one: that fence;
///   4. more: sorted by context, the latest per context kept; one left: that fence, else a new
///      fence_array of them (new context, seqno 1, all-of);
///   5. out of memory: nullptr.
///
/// accel's rule: an array without members (accel allows it; it is signalled) yields no leaf;
/// the kernel's iteration would stop at it.
#include <accel/exec/fence.hpp>
#include <accel/exec/fence_array.hpp>
#include <accel/exec/fence_chain.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <new>
#include <span>
#include <vector>

namespace accel {

/// Calls fn(fence&) on every leaf of `head` (see the file comment); fn returns nothing.
template <class Fn>
void fence_unwrap_for_each(const fence_ptr& head, Fn&& fn) {
    if (!head)
        return;
    fence_chain_for_each(head, [&](const fence_ptr& node) {
        fence* f = fence_chain_contained(node.get());
        if (fence_array* a = to_fence_array(f)) {
            for (const fence_ptr& m : a->fences())
                fn(*m);
        } else {
            fn(*f);
        }
        return true;
    });
}

/// dma_fence_unwrap_merge over `fences` (null entries are skipped): see the file comment.
inline fence_ptr fence_unwrap_merge(std::span<const fence_ptr> fences) noexcept {
    std::int64_t timestamp = 0;
    std::vector<fence_ptr> pending;
    try {
        for (const fence_ptr& in : fences)
            fence_unwrap_for_each(in, [&](fence& leaf) {
                if (!fence_is_signaled(leaf))
                    pending.emplace_back(&leaf);
                else if (leaf.timestamp() > timestamp)
                    timestamp = leaf.timestamp();
            });
    } catch (...) {
        return nullptr;
    }
    if (pending.empty())
        return signaled_stub(timestamp);
    if (pending.size() == 1)
        return pending.front();
    // By context, then latest first within a context (fence_cmp), so the first of each run of
    // equal contexts is the one to keep.
    std::sort(pending.begin(), pending.end(), [](const fence_ptr& a, const fence_ptr& b) {
        if (a->context() != b->context())
            return a->context() < b->context();
        return a->is_later(*b);
    });
    std::size_t j = 0;
    for (std::size_t i = 1; i < pending.size(); ++i)
        if (pending[i]->context() != pending[j]->context())
            pending[++j] = std::move(pending[i]);
    pending.resize(j + 1);
    if (pending.size() == 1)
        return pending.front();
    return fence_array::create(pending, fence_context_alloc(1), 1, false);
}

inline fence_ptr fence_unwrap_merge(std::initializer_list<fence_ptr> fences) noexcept {
    return fence_unwrap_merge(std::span<const fence_ptr>(fences.begin(), fences.size()));
}

} // namespace accel

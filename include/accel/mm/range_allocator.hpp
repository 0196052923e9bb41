// SPDX-License-Identifier: MIT
#pragma once
/// \file `range_allocator<M>`: a range manager that owns its nodes.
///
/// The intrusive API (`M::insert(node&, ...)`) leaves node storage to the caller, as drm_mm
/// does, so the hot path allocates nothing. Most code just wants "give me a range, here is its
/// id back"; this wrapper keeps nodes in a pool that never moves them and recycles ids (LIFO;
/// ids are opaque). Not thread-safe: guard it with the lock that protects the space it manages.
#include <accel/base/errno.hpp>
#include <accel/mm/range.hpp>
#include <accel/mm/range_manager.hpp>

#include <cstdint>
#include <deque>
#include <vector>

namespace accel::mm {

template <range_manager M>
class range_allocator {
public:
    using id_type = std::uint32_t;

    int init(u64 start, u64 size) { return manager_.init(start, size); }

    /// Allocates a range; the id names it for free() and get().
    result<id_type> alloc(const alloc_request& req) {
        return with_node([&](typename M::node& n) { return manager_.insert(n, req); });
    }

    /// Takes exactly [start, start + size).
    result<id_type> reserve(u64 start, u64 size) {
        return with_node([&](typename M::node& n) { return manager_.reserve(n, start, size); });
    }

    /// Frees the range named `id`; -EINVAL for an id that names no live range.
    int free(id_type id) {
        if (id >= nodes_.size() || !nodes_[id].allocated())
            return -EINVAL;
        manager_.remove(nodes_[id]);
        free_ids_.push_back(id);
        return 0;
    }

    /// The range named `id`, or a zero-sized range for an unknown id.
    range get(id_type id) const {
        if (id >= nodes_.size() || !nodes_[id].allocated())
            return {};
        return {nodes_[id].start(), nodes_[id].size()};
    }

    M& manager() noexcept { return manager_; }
    const M& manager() const noexcept { return manager_; }
    range_stats stats() const { return manager_.stats(); }

private:
    /// Runs `fill` on a free node; on failure the node's id goes back to the free list.
    template <class Fill>
    result<id_type> with_node(Fill&& fill) {
        id_type id;
        if (!free_ids_.empty()) {
            id = free_ids_.back();
            free_ids_.pop_back();
        } else {
            nodes_.emplace_back();
            id = static_cast<id_type>(nodes_.size() - 1);
        }
        if (int e = fill(nodes_[id])) {
            free_ids_.push_back(id);
            return result<id_type>::failure(e);
        }
        return id;
    }

    M manager_;
    std::deque<typename M::node> nodes_; // deque: growing never moves a node the manager links to
    std::vector<id_type> free_ids_;
};

} // namespace accel::mm

// SPDX-License-Identifier: MIT
#pragma once
/// \file `offset_index_for<Policy>`: a range-manager policy with lookup as a device's offset index.
///
/// Included where a policy is named (core/gem/bo.hpp), never by the core's own headers.
#include <accel/core/gem/mmap_offsets.hpp>
#include <accel/mm/range.hpp>
#include <accel/mm/range_manager.hpp>

#include <new>

namespace accel {

template <mm::range_lookup Policy>
class offset_index_for final : public offset_index {
    using node = typename Policy::node;
    static_assert(sizeof(node) <= mmap_offset_node::policy_node_bytes && alignof(node) <= 16,
                  "accel: the mmap offset policy's node must fit mmap_offset_node::policy_node_bytes");

public:
    offset_index_for() noexcept {
        const std::uint64_t page = host_page_size();
        (void)pages_.init(mmap_offset_manager::start_byte / page, mmap_offset_manager::span_bytes / page); // constants
    }

    long long add(mmap_offset_node& n, std::uint64_t pages) noexcept override {
        node* p = ::new (n.policy_node()) node();
        if (int e = pages_.insert(*p, mm::alloc_request{.size = pages})) {
            p->~node();
            return e;
        }
        return static_cast<long long>(p->start());
    }
    void remove(mmap_offset_node& n) noexcept override {
        node* p = std::launder(static_cast<node*>(n.policy_node()));
        pages_.remove(*p);
        p->~node();
    }
    const mmap_offset_node* find(std::uint64_t page) const noexcept override {
        return mmap_offset_node::from_policy_node(pages_.find(page));
    }

private:
    Policy pages_;
};

} // namespace accel

// SPDX-License-Identifier: MIT
#pragma once
/// \file `mmap_offset_manager`: the fake mmap offsets of a device (drm_vma_manager.c).
///
/// A client maps a buffer object by passing mmap(2) an offset on the device node that names the
/// object: a page-granular range of a private offset space, unique across all files of the
/// device. As on 64-bit Linux the space starts at 4 GiB (DRM_FILE_PAGE_OFFSET_START) and spans
/// about 1 TiB (DRM_FILE_PAGE_OFFSET_SIZE), in pages; ranges come from accel's own `best_fit`
/// (drm_mm, best mode, as drm_vma_offset_add uses it). The manager knows nothing about objects:
/// it indexes `mmap_offset_node`s, which objects embed.
///
/// Locking: one reader-writer lock, as drm_vma_offset_manager: lookups (every mmap, every page
/// fault a FUSE client takes) share it, add and remove take it alone.
#include <accel/mm/range.hpp>
#include <accel/mm/range/best_fit.hpp>

#include <boost/intrusive/set.hpp>

#include <cerrno>
#include <cstdint>
#include <mutex>
#include <shared_mutex>
#include <unistd.h>

namespace accel {

/// The host page size: buffer sizes, mmap offsets and lengths are multiples of it.
inline std::uint64_t host_page_size() noexcept {
    static const std::uint64_t size = [] {
        long s = ::sysconf(_SC_PAGESIZE);
        return s > 0 ? static_cast<std::uint64_t>(s) : std::uint64_t{4096};
    }();
    return size;
}

/// One object's offset range (drm_vma_offset_node). Empty until added.
class mmap_offset_node {
public:
    /// `owner`: what the node belongs to, handed back by lookups (the object embedding it).
    explicit mmap_offset_node(void* owner) noexcept : owner_(owner) {}
    mmap_offset_node(const mmap_offset_node&) = delete;
    mmap_offset_node& operator=(const mmap_offset_node&) = delete;

    /// Whether the node has its range, its first page and page count (0 when not). Copies kept
    /// beside the manager's node: a best_fit node's own fields move with other nodes' inserts
    /// and removes, so only the manager, under its lock, reads them; these are written once by
    /// add() before the owner is published to other threads.
    bool allocated() const noexcept { return count_ != 0; }
    std::uint64_t start_page() const noexcept { return start_; }
    std::uint64_t page_count() const noexcept { return count_; }
    /// What user space passes to mmap(2) (drm_vma_node_offset_addr); 0 when not allocated.
    std::uint64_t offset() const noexcept { return start_page() * host_page_size(); }
    void* owner() const noexcept { return owner_; }

private:
    friend class mmap_offset_manager;
    struct start_of {
        using type = std::uint64_t;
        type operator()(const mmap_offset_node& n) const noexcept { return n.start_; }
    };
    void* owner_;
    std::uint64_t start_ = 0, count_ = 0;
    mm::best_fit::node pages_;
    boost::intrusive::set_member_hook<> by_start_;
};

class mmap_offset_manager {
public:
    /// DRM_FILE_PAGE_OFFSET_START / _SIZE for 64-bit, in pages of 4 KiB: byte 4 GiB, ~1 TiB.
    static constexpr std::uint64_t start_byte = 0x100000000ull;
    static constexpr std::uint64_t span_bytes = 0xFFFFFull * 256 * 4096;

    mmap_offset_manager() noexcept {
        const std::uint64_t page = host_page_size();
        (void)pages_.init(start_byte / page, span_bytes / page); // constants: cannot fail
    }
    mmap_offset_manager(const mmap_offset_manager&) = delete;
    mmap_offset_manager& operator=(const mmap_offset_manager&) = delete;
    ~mmap_offset_manager() { by_start_.clear(); }

    /// drm_vma_offset_add: `pages` pages for `n`; 0 if `n` already has its range (idempotent),
    /// -EINVAL for 0 pages, -ENOSPC when the offset space is full.
    int add(mmap_offset_node& n, std::uint64_t pages) {
        std::unique_lock lock(mutex_);
        if (n.allocated())
            return 0;
        if (pages == 0)
            return -EINVAL;
        if (int e = pages_.insert(n.pages_, mm::alloc_request{.size = pages}))
            return e;
        n.start_ = n.pages_.start();
        n.count_ = pages;
        by_start_.insert(n);
        return 0;
    }

    /// drm_vma_offset_remove: idempotent.
    void remove(mmap_offset_node& n) noexcept {
        std::unique_lock lock(mutex_);
        if (!n.allocated())
            return;
        by_start_.erase(by_start_.iterator_to(n));
        pages_.remove(n.pages_);
        n.start_ = n.count_ = 0;
    }

    /// Calls `fn(node)` under the shared lock for the node whose range starts exactly at
    /// `page` and holds at least `pages` pages (drm_vma_offset_exact_lookup_locked), or
    /// `fn(nullptr)`; returns what fn returns. The node may belong to a dying object: fn must
    /// take its reference with a get-unless-zero.
    template <class Fn>
    decltype(auto) with_exact(std::uint64_t page, std::uint64_t pages, Fn&& fn) const {
        std::shared_lock lock(mutex_);
        auto it = by_start_.find(page);
        const mmap_offset_node* n = it != by_start_.end() && pages <= it->count_ ? &*it : nullptr;
        return fn(n);
    }

    /// Like with_exact for the node whose range contains `page` (drm_vma_offset_lookup_locked
    /// for one page): what a page fault at that offset reaches.
    template <class Fn>
    decltype(auto) with_containing(std::uint64_t page, Fn&& fn) const {
        std::shared_lock lock(mutex_);
        auto it = by_start_.upper_bound(page);
        const mmap_offset_node* n = nullptr;
        if (it != by_start_.begin()) {
            --it;
            if (page - it->start_ < it->count_)
                n = &*it;
        }
        return fn(n);
    }

    /// Objects with an offset right now.
    std::size_t size() const {
        std::shared_lock lock(mutex_);
        return by_start_.size();
    }

private:
    using index = boost::intrusive::set<
        mmap_offset_node, boost::intrusive::member_hook<mmap_offset_node, boost::intrusive::set_member_hook<>, &mmap_offset_node::by_start_>,
        boost::intrusive::key_of_value<mmap_offset_node::start_of>, boost::intrusive::constant_time_size<true>>;

    mutable std::shared_mutex mutex_;
    mm::best_fit pages_;
    index by_start_;
};

} // namespace accel

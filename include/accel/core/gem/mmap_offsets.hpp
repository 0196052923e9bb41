// SPDX-License-Identifier: MIT
#pragma once
/// \file `mmap_offset_manager`: the fake mmap offsets of a device (drm_vma_manager.c).
///
/// A client maps a buffer object by passing mmap(2) an offset on the device node that names the
/// object: a page-granular range of a private offset space, unique across all files of the
/// device. As on 64-bit Linux the space starts at 4 GiB (DRM_FILE_PAGE_OFFSET_START) and spans
/// about 1 TiB (DRM_FILE_PAGE_OFFSET_SIZE), in pages. The manager knows nothing about objects:
/// it indexes `mmap_offset_node`s, which objects embed.
///
/// The ranges come from any range-manager policy that can also find a node by address
/// (`mm::range_lookup`; drm_vma_offset_add uses drm_mm, accel's default is `mm::best_fit`). The
/// policy sits behind `offset_index`, a small virtual interface, so that this header, and with
/// it every translation unit of the core, does not pull in a policy: a driver with buffer
/// objects gets its index from core/gem/bo.hpp (`gem::make_offset_index<D>`), which names the
/// policy (the driver's `mmap_offset_policy`, else best_fit). The policy's node lives inside
/// the mmap_offset_node, in storage sized for it, so adding an offset allocates nothing.
///
/// Locking: one reader-writer lock, as drm_vma_offset_manager: lookups (every mmap, every page
/// fault a FUSE client takes) share it, add and remove take it alone.
#include <accel/base/page_size.hpp>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <new>
#include <shared_mutex>
#include <type_traits>

namespace accel {

/// One object's offset range (drm_vma_offset_node). Empty until added.
class mmap_offset_node {
public:
    /// Bytes reserved for the policy's node (best_fit's is 56).
    static constexpr std::size_t policy_node_bytes = 64;

    /// `owner`: what the node belongs to, handed back by lookups (the object embedding it).
    explicit mmap_offset_node(void* owner) noexcept : owner_(owner) {}
    mmap_offset_node(const mmap_offset_node&) = delete;
    mmap_offset_node& operator=(const mmap_offset_node&) = delete;

    /// Whether the node has its range, its first page and page count (0 when not). Copies kept
    /// beside the policy's node: a policy node's own fields may move with other nodes' inserts
    /// and removes (best_fit's do), so only the manager, under its lock, reads them; these are
    /// written once by add() before the owner is published to other threads.
    bool allocated() const noexcept { return count_ != 0; }
    std::uint64_t start_page() const noexcept { return start_; }
    std::uint64_t page_count() const noexcept { return count_; }
    /// What user space passes to mmap(2) (drm_vma_node_offset_addr); 0 when not allocated.
    std::uint64_t offset() const noexcept { return start_page() * host_page_size(); }
    void* owner() const noexcept { return owner_; }

    /// The storage of the policy's node (for offset_index implementations).
    void* policy_node() noexcept { return storage_; }
    static mmap_offset_node* from_policy_node(const void* p) noexcept {
        return p ? reinterpret_cast<mmap_offset_node*>(const_cast<void*>(p)) : nullptr;
    }

private:
    friend class mmap_offset_manager;
    // First member: the node's address is the storage's (from_policy_node).
    alignas(16) std::byte storage_[policy_node_bytes];
    void* owner_;
    std::uint64_t start_ = 0, count_ = 0;
};
static_assert(std::is_standard_layout_v<mmap_offset_node>);

/// The range manager behind the offsets, type-erased (see the file comment). Called under the
/// manager's lock only.
class offset_index {
public:
    virtual ~offset_index() = default;
    /// Places `pages` pages in `n`'s policy storage: the first page, or -ENOSPC / -EINVAL.
    virtual long long add(mmap_offset_node& n, std::uint64_t pages) noexcept = 0;
    virtual void remove(mmap_offset_node& n) noexcept = 0;
    /// The node whose range holds `page`, or null.
    virtual const mmap_offset_node* find(std::uint64_t page) const noexcept = 0;
};

class mmap_offset_manager {
public:
    /// DRM_FILE_PAGE_OFFSET_START / _SIZE for 64-bit, in pages of 4 KiB: byte 4 GiB, ~1 TiB.
    static constexpr std::uint64_t start_byte = 0x100000000ull;
    static constexpr std::uint64_t span_bytes = 0xFFFFFull * 256 * 4096;

    mmap_offset_manager() noexcept = default;
    mmap_offset_manager(const mmap_offset_manager&) = delete;
    mmap_offset_manager& operator=(const mmap_offset_manager&) = delete;

    /// Sets the index up once (a device with buffer objects, at creation).
    void install(std::unique_ptr<offset_index> index) noexcept { index_ = std::move(index); }

    /// drm_vma_offset_add: `pages` pages for `n`; 0 if `n` already has its range (idempotent),
    /// -EINVAL for 0 pages, -ENOSPC when the offset space is full (or the device has no
    /// buffer objects, hence no index).
    int add(mmap_offset_node& n, std::uint64_t pages) {
        std::unique_lock lock(mutex_);
        if (n.allocated())
            return 0;
        if (pages == 0)
            return -EINVAL;
        if (!index_)
            return -ENOSPC;
        const long long start = index_->add(n, pages);
        if (start < 0)
            return static_cast<int>(start);
        n.start_ = static_cast<std::uint64_t>(start);
        n.count_ = pages;
        ++count_;
        return 0;
    }

    /// drm_vma_offset_remove: idempotent.
    void remove(mmap_offset_node& n) noexcept {
        std::unique_lock lock(mutex_);
        if (!n.allocated())
            return;
        index_->remove(n);
        n.start_ = n.count_ = 0;
        --count_;
    }

    /// Calls `fn(node)` under the shared lock for the node whose range starts exactly at
    /// `page` and holds at least `pages` pages (drm_vma_offset_exact_lookup_locked), or
    /// `fn(nullptr)`; returns what fn returns. The node may belong to a dying object: fn must
    /// take its reference with a get-unless-zero.
    template <class Fn>
    decltype(auto) with_exact(std::uint64_t page, std::uint64_t pages, Fn&& fn) const {
        std::shared_lock lock(mutex_);
        const mmap_offset_node* n = index_ ? index_->find(page) : nullptr;
        if (n && (n->start_ != page || pages > n->count_))
            n = nullptr;
        return fn(n);
    }

    /// Like with_exact for the node whose range contains `page` (drm_vma_offset_lookup_locked
    /// for one page): what a page fault at that offset reaches.
    template <class Fn>
    decltype(auto) with_containing(std::uint64_t page, Fn&& fn) const {
        std::shared_lock lock(mutex_);
        return fn(index_ ? index_->find(page) : nullptr);
    }

    /// Objects with an offset right now.
    std::size_t size() const {
        std::shared_lock lock(mutex_);
        return count_;
    }

private:
    mutable std::shared_mutex mutex_;
    std::unique_ptr<offset_index> index_;
    std::size_t count_ = 0;
};

namespace gem {
/// The offset index of driver D's devices: defined in core/gem/bo.hpp, which a driver with
/// buffer objects includes to create them.
template <class D>
std::unique_ptr<offset_index> make_offset_index();
} // namespace gem

} // namespace accel

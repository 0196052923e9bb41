// SPDX-License-Identifier: MIT
#pragma once
/// \file Coherent DMA memory: `dma_coherent` (dma_alloc_coherent) and `dma_pool` (dma_pool_*).
///
/// Descriptor rings, doorbell pages and small control blocks need memory that the CPU and the
/// device see alike, with two addresses: the CPU pointer the driver writes through and the
/// device address it programs into the hardware. Both come from a device_memory_region, whose
/// host backing is what a software device "DMAs" through (the CPU pointer is that backing, the
/// device address the region's), so the two views are coherent by construction.
///
/// - dma_coherent::alloc(size): whole granules, zeroed as dma_alloc_coherent's memory is;
///   free(buffer) gives them back. -EINVAL for size 0, -ENOSPC when the region is full,
///   -ENOMEM when bookkeeping cannot grow.
/// - dma_pool(coherent, block, align, boundary): fixed-size blocks carved from chunks the pool
///   takes from dma_coherent as it needs them (one granule, or one block if larger), so a
///   thousand 64-byte descriptors cost one allocation of the region, not a thousand; blocks are
///   aligned to `align` and never straddle a `boundary` (a power of two, 0 for none), as
///   dma_pool_create promises. Blocks come back zeroed only with alloc_zeroed (dma_pool_zalloc).
///   Chunks stay with the pool until it is destroyed (as the kernel's pool keeps its pages).
/// Both are thread-safe (one mutex each): drivers allocate descriptors from several paths.
#include <accel/base/errno.hpp>
#include <accel/base/fault_injection.hpp>
#include <accel/mm/device_memory.hpp>
#include <accel/mm/range.hpp>
#include <accel/mm/range_manager.hpp>

#include <range/v3/algorithm/contains.hpp>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

namespace accel::mm {

/// One coherent buffer: the CPU's pointer and the device's address of the same bytes.
struct dma_buffer {
    std::byte* cpu = nullptr;
    u64 dma = 0;
    u64 size = 0;
    explicit operator bool() const noexcept { return cpu != nullptr; }
};

template <range_manager Policy>
class dma_coherent {
public:
    /// `region` must outlive this allocator and every buffer it gave out.
    explicit dma_coherent(device_memory_region<Policy>& region) noexcept : region_(&region) {}
    dma_coherent(const dma_coherent&) = delete;
    dma_coherent& operator=(const dma_coherent&) = delete;

    result<dma_buffer> alloc(u64 size, u64 alignment = 0) {
        if (size == 0)
            return result<dma_buffer>::failure(-EINVAL);
        std::lock_guard lock(mutex_);
        if (accel::detail::alloc_may_fail())
            return result<dma_buffer>::failure(-ENOMEM);
        auto a = region_->allocate(alloc_request{.size = size, .alignment = alignment});
        if (!a)
            return result<dma_buffer>::failure(a.error());
        const dma_buffer b{a->host(), a->addr(), a->size()};
        try {
            live_.emplace(b.dma, std::move(*a));
        } catch (...) {
            return result<dma_buffer>::failure(-ENOMEM); // `a` frees the range
        }
        std::memset(b.cpu, 0, static_cast<std::size_t>(b.size));
        return b;
    }

    /// Gives a buffer back. -EINVAL when it is not one of ours (wrong address: the kernel WARNs).
    int free(const dma_buffer& b) noexcept {
        std::lock_guard lock(mutex_);
        auto it = live_.find(b.dma);
        if (it == live_.end())
            return -EINVAL;
        live_.erase(it); // the allocation handle frees the range
        return 0;
    }

    std::size_t buffers() const {
        std::lock_guard lock(mutex_);
        return live_.size();
    }
    device_memory_region<Policy>& region() const noexcept { return *region_; }

private:
    device_memory_region<Policy>* region_;
    mutable std::mutex mutex_;
    std::map<u64, typename device_memory_region<Policy>::allocation> live_; // by device address
};

template <range_manager Policy>
class dma_pool {
public:
    /// dma_pool_create: blocks of `block` bytes (rounded up to `align`), aligned to `align` (a
    /// power of two, 0 = 8) and, when `boundary` is non-zero (a power of two >= the block),
    /// never crossing a multiple of it. Check valid() (false: bad arguments, -EINVAL).
    dma_pool(dma_coherent<Policy>& coherent, u64 block, u64 align = 0, u64 boundary = 0) noexcept
        : coherent_(&coherent), boundary_(boundary) {
        if (!align)
            align = 8;
        block_ = block && is_pow2(align) ? (block + align - 1) / align * align : 0;
        valid_ = block_ != 0 && (boundary_ == 0 || (is_pow2(boundary_) && boundary_ >= block_));
        const u64 granule = coherent.region().granule();
        chunk_ = block_ > granule ? block_ : granule;
        if (boundary_ && chunk_ > boundary_ && valid_)
            chunk_ = boundary_; // a chunk never holds a block across its boundary either
    }
    dma_pool(const dma_pool&) = delete;
    dma_pool& operator=(const dma_pool&) = delete;
    ~dma_pool() {
        for (const dma_buffer& c : chunks_)
            coherent_->free(c);
    }

    bool valid() const noexcept { return valid_; }
    u64 block_size() const noexcept { return block_; }

    /// dma_pool_alloc: one block (contents unspecified). -EINVAL (invalid pool), -ENOSPC (region
    /// full), -ENOMEM.
    result<dma_buffer> alloc() {
        if (!valid_)
            return result<dma_buffer>::failure(-EINVAL);
        std::lock_guard lock(mutex_);
        if (free_.empty())
            if (int e = grow())
                return result<dma_buffer>::failure(e);
        const dma_buffer b = free_.back();
        free_.pop_back();
        ++in_use_;
        return b;
    }
    /// dma_pool_zalloc.
    result<dma_buffer> alloc_zeroed() {
        auto b = alloc();
        if (b)
            std::memset(b->cpu, 0, static_cast<std::size_t>(b->size));
        return b;
    }
    /// dma_pool_free. -EINVAL for a block this pool did not give out (or gave back already).
    int free(const dma_buffer& b) {
        std::lock_guard lock(mutex_);
        if (!owns(b))
            return -EINVAL;
        // ranges::contains with a projection: std::ranges::contains is C++23.
        if (ranges::contains(free_, b.dma, &dma_buffer::dma))
            return -EINVAL; // double free
        try {
            free_.push_back(b);
        } catch (...) {
            return -ENOMEM; // free_ has room for every block (reserved in grow): unreachable
        }
        --in_use_;
        return 0;
    }

    std::size_t blocks_in_use() const {
        std::lock_guard lock(mutex_);
        return in_use_;
    }
    std::size_t chunks() const {
        std::lock_guard lock(mutex_);
        return chunks_.size();
    }

private:
    int grow() {
        const u64 per_chunk = blocks_per_chunk();
        if (accel::detail::alloc_may_fail())
            return -ENOMEM;
        try {
            chunks_.reserve(chunks_.size() + 1);
            free_.reserve(static_cast<std::size_t>((chunks_.size() + 1) * per_chunk));
        } catch (...) {
            return -ENOMEM;
        }
        auto c = coherent_->alloc(chunk_, boundary_ ? boundary_ : 0);
        if (!c)
            return c.error();
        chunks_.push_back(*c);
        // Blocks back to front, so alloc() hands them out in address order.
        for (u64 i = per_chunk; i-- > 0;) {
            const u64 off = i * block_;
            free_.push_back({c->cpu + off, c->dma + off, block_});
        }
        return 0;
    }
    // A chunk is at most one boundary long and aligned to the boundary, so blocks laid end to
    // end in it never cross one (the region may round a chunk up; the rest of it goes unused).
    u64 blocks_per_chunk() const noexcept { return chunk_ / block_; }
    bool owns(const dma_buffer& b) const noexcept {
        for (const dma_buffer& c : chunks_)
            if (b.dma >= c.dma && b.dma - c.dma < c.size) {
                const u64 off = b.dma - c.dma;
                return b.size == block_ && b.cpu == c.cpu + off && off % block_ == 0 && off / block_ < blocks_per_chunk();
            }
        return false;
    }

    dma_coherent<Policy>* coherent_;
    u64 block_ = 0, boundary_, chunk_ = 0;
    bool valid_ = false;
    mutable std::mutex mutex_;
    std::vector<dma_buffer> chunks_;
    std::vector<dma_buffer> free_;
    std::size_t in_use_ = 0;
};

} // namespace accel::mm

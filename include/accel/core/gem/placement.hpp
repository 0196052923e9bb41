// SPDX-License-Identifier: MIT
#pragma once
/// \file Buffer objects in device memory: `bo_region<Policy>` and the placement it hands out.
///
/// A buffer object lives in host memory (shmem, the default) or in one of the device's memory
/// regions (on-chip SRAM, device DRAM), like a TTM placement. `bo_region` wraps a
/// device_memory_region with the lock the buffer-object paths need (objects are freed by
/// whichever thread drops the last reference) and with the region's accounting; its `place()`
/// returns a `bo_placement`, which the object owns and which gives its range back when the
/// object goes. A client still maps such an object at its fake offset: the region's host
/// backing is a memfd, mapped at the object's place in it.
///
/// The driver creates its regions once (in its device_data) and numbers them; region ids are
/// what per-region accounting reports (0 is host memory). A bo_region must outlive the objects
/// placed in it: device_data outlives every object, since whatever holds an object (a file, a
/// mapping) holds the device.
#include <accel/base/errno.hpp>
#include <accel/base/fault_injection.hpp>
#include <accel/core/gem/mmap_offsets.hpp>
#include <accel/mm/device_memory.hpp>
#include <accel/mm/range.hpp>
#include <accel/mm/range_manager.hpp>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <memory>
#include <mutex>
#include <new>
#include <string_view>

namespace accel {

/// Where a buffer object's memory is when it is not host memory.
class bo_placement {
public:
    virtual ~bo_placement() = default;
    /// The CPU's view of the object (the region's host backing at its place).
    std::byte* cpu() const noexcept { return cpu_; }
    /// The device address the driver programs (DMA, page tables).
    std::uint64_t device_address() const noexcept { return device_address_; }
    /// The memfd and offset a client mapping uses.
    int fd() const noexcept { return fd_; }
    std::uint64_t fd_offset() const noexcept { return fd_offset_; }
    unsigned region_id() const noexcept { return region_id_; }

protected:
    bo_placement() noexcept = default;
    bo_placement(const bo_placement&) = delete;
    bo_placement& operator=(const bo_placement&) = delete;

    std::byte* cpu_ = nullptr;
    std::uint64_t device_address_ = 0;
    int fd_ = -1;
    std::uint64_t fd_offset_ = 0;
    unsigned region_id_ = 0;
};

template <mm::range_manager Policy>
class bo_region {
public:
    /// Region `id` (>= 1) of the driver's numbering; init() sets the memory up.
    explicit bo_region(unsigned id) noexcept : id_(id) {}
    bo_region(const bo_region&) = delete;
    bo_region& operator=(const bo_region&) = delete;

    /// device_memory_region::init: -EINVAL or -ENOMEM.
    int init(std::string_view name, std::uint64_t base, std::uint64_t size, std::uint64_t granule) {
        std::lock_guard lock(mutex_);
        return region_.init(name, base, size, granule);
    }

    /// `size` bytes (page multiples: clients map them) aligned to `alignment` (raised to a page).
    /// -EINVAL (size 0 or unaligned), -ENOSPC (no room), -ENOMEM. Nothing is held on failure.
    result<std::unique_ptr<bo_placement>> place(std::uint64_t size, std::uint64_t alignment = 0) {
        using out = result<std::unique_ptr<bo_placement>>;
        const std::uint64_t page = host_page_size();
        if (size == 0 || size % page != 0)
            return out::failure(-EINVAL);
        if (detail::alloc_may_fail())
            return out::failure(-ENOMEM);
        auto p = std::unique_ptr<placed>(new (std::nothrow) placed(*this));
        if (!p)
            return out::failure(-ENOMEM);
        std::lock_guard lock(mutex_);
        auto addr = region_.alloc(p->node, mm::alloc_request{.size = size, .alignment = alignment > page ? alignment : page});
        if (!addr)
            return out::failure(addr.error()); // p's destructor sees an unallocated node
        p->set(region_.host_ptr(*addr, size), *addr, region_.backing_fd(), region_.backing_offset(*addr), id_);
        objects_.fetch_add(1, std::memory_order_relaxed);
        return out(std::move(p));
    }

    unsigned id() const noexcept { return id_; }
    /// Objects placed here now, and the region's figures.
    std::uint64_t objects() const noexcept { return objects_.load(std::memory_order_relaxed); }
    mm::region_stats stats() const {
        std::lock_guard lock(mutex_);
        return region_.stats();
    }
    /// The region itself, for what else the driver keeps in it (page tables, DMA pools): take
    /// lock() around any use while objects may come and go.
    mm::device_memory_region<Policy>& region() noexcept { return region_; }
    std::mutex& lock() noexcept { return mutex_; }

private:
    struct placed final : bo_placement {
        explicit placed(bo_region& r) noexcept : owner(&r) {}
        void set(std::byte* cpu, std::uint64_t dev, int fd, std::uint64_t off, unsigned id) noexcept {
            cpu_ = cpu;
            device_address_ = dev;
            fd_ = fd;
            fd_offset_ = off;
            region_id_ = id;
        }
        ~placed() override {
            // allocated() reads a word of the node's tree links, which frees and allocations
            // of its neighbours rewrite under the lock: read it under the lock too.
            std::lock_guard lock(owner->mutex_);
            if (node.allocated()) {
                owner->region_.free(node);
                owner->objects_.fetch_sub(1, std::memory_order_relaxed);
            }
        }
        bo_region* owner;
        typename mm::device_memory_region<Policy>::node node;
    };

    unsigned id_;
    mutable std::mutex mutex_;
    mm::device_memory_region<Policy> region_;
    std::atomic<std::uint64_t> objects_{0};
};

} // namespace accel

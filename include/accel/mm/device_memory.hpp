// SPDX-License-Identifier: MIT
#pragma once
/// \file `device_memory_region<Policy>`: one region of device memory (on-chip SRAM, device DRAM).
///
/// A region is a name, a device physical base address, a size and a minimum granule. Placement is
/// delegated to the range-manager policy the driver picks (best_fit, buddy, tlsf...), which
/// manages the device addresses [base, base + size) directly, so allocations come back as device
/// addresses. Every allocation is one contiguous range: it succeeds whole or fails with -ENOSPC
/// (or -EINVAL for a bad request) and nothing is half-allocated.
///
/// The region also owns host memory standing in for the device memory (a memfd mapped shared
/// with MAP_NORESERVE: pages cost nothing until touched), so software can "DMA" into it:
/// host_ptr(device_addr, len). A memfd rather than anonymous memory so that a buffer object
/// placed in the region can be mapped by clients too (backing_fd() at backing_offset(addr)). Page tables (vm/page_table.hpp) keep their PTEs in this backing,
/// where a device MMU would read them.
///
/// Two ways to allocate, on the same manager:
/// - caller-owned nodes (`alloc(node&, req)` / `free(node&)`), drm_mm style: nothing allocated
///   per call, for drivers that embed the node in their buffer object;
/// - an owning handle (`allocate(req)` -> `allocation`, freed by its destructor), nodes pooled
///   by the region (range_allocator).
/// Sizes are rounded up to the granule and alignments raised to it. The region must outlive
/// every allocation and node; it neither moves nor copies (nodes point into its manager).
/// Not thread-safe: the driver serialises access with the lock that guards the region.
#include <accel/base/errno.hpp>
#include <accel/mm/range.hpp>
#include <accel/mm/range_allocator.hpp>
#include <accel/mm/range_manager.hpp>

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <new>
#include <string>
#include <string_view>
#include <utility>

namespace accel::mm {

/// What a region reports: the figures a driver shows in its memory-info query.
struct region_stats {
    u64 total = 0;         ///< bytes managed
    u64 used = 0;          ///< bytes allocated (granule-rounded)
    u64 largest_free = 0;  ///< the largest single allocation that could succeed (alignment aside)
    friend constexpr bool operator==(const region_stats&, const region_stats&) = default;
};

/// A physical window: `size` bytes at device physical address `base`, backed by host memory
/// at `host`. What a region contributes to a phys_map (vm/phys_map.hpp).
struct phys_window {
    u64 base = 0;
    u64 size = 0;
    std::byte* host = nullptr;
};

template <range_manager Policy>
class device_memory_region {
    using pool = range_allocator<Policy>;

public:
    using policy_type = Policy;
    using node = typename Policy::node;
    using id_type = typename pool::id_type;

    /// An owning allocation: frees its range when destroyed. Move-only; default = empty.
    class allocation {
    public:
        allocation() = default;
        allocation(allocation&& o) noexcept : region_(std::exchange(o.region_, nullptr)), id_(o.id_) {}
        allocation& operator=(allocation&& o) noexcept {
            if (this != &o) {
                reset();
                region_ = std::exchange(o.region_, nullptr);
                id_ = o.id_;
            }
            return *this;
        }
        ~allocation() { reset(); }

        explicit operator bool() const noexcept { return region_ != nullptr; }
        /// Device address of the first byte (0 when empty).
        u64 addr() const noexcept { return region_ ? region_->pool_.get(id_).start : 0; }
        /// Bytes allocated, granule-rounded (0 when empty).
        u64 size() const noexcept { return region_ ? region_->pool_.get(id_).size : 0; }
        /// The host backing of the whole allocation.
        std::byte* host() const noexcept { return region_ ? region_->host_ptr(addr(), size()) : nullptr; }
        /// Frees now (no-op when empty).
        void reset() noexcept {
            if (region_)
                (void)region_->pool_.free(id_);
            region_ = nullptr;
        }

    private:
        friend class device_memory_region;
        allocation(device_memory_region* r, id_type id) noexcept : region_(r), id_(id) {}
        device_memory_region* region_ = nullptr;
        id_type id_ = 0;
    };

    device_memory_region() = default;
    device_memory_region(const device_memory_region&) = delete;
    device_memory_region& operator=(const device_memory_region&) = delete;
    ~device_memory_region() {
        if (host_)
            ::munmap(host_, host_len_);
        if (fd_ >= 0)
            ::close(fd_);
    }

    /// Sets the region up once: [base, base + size) of device physical space, allocations in
    /// multiples of `granule` (a power of two; base and size multiples of it).
    /// -EINVAL: granule not a power of two, size 0 or not a granule multiple, base unaligned,
    /// the range wraps past 2^64, or init() already done. -ENOMEM: no host backing (the size
    /// exceeds the host's address space), or the policy refused the space.
    int init(std::string_view name, u64 base, u64 size, u64 granule) {
        if (host_ || !is_pow2(granule) || size == 0 || (size & (granule - 1)) || (base & (granule - 1)) ||
            validate_space(base, size))
            return -EINVAL;
        const u64 page = static_cast<u64>(::sysconf(_SC_PAGESIZE));
        u64 len;
        if (!align_up(size, page, len) || len > static_cast<u64>(SIZE_MAX))
            return -ENOMEM;
        if (len > static_cast<u64>(INT64_MAX))
            return -ENOMEM;
        const int fd = ::memfd_create("accel-device-memory", MFD_CLOEXEC);
        if (fd < 0)
            return -ENOMEM;
        void* p = ::ftruncate(fd, static_cast<off_t>(len)) == 0
                      ? ::mmap(nullptr, static_cast<std::size_t>(len), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0)
                      : MAP_FAILED;
        if (p == MAP_FAILED) {
            ::close(fd);
            return -ENOMEM;
        }
        if (int e = pool_.init(base, size)) {
            ::munmap(p, static_cast<std::size_t>(len));
            ::close(fd);
            return e == -EINVAL ? -EINVAL : -ENOMEM;
        }
        fd_ = fd;
        host_ = static_cast<std::byte*>(p);
        host_len_ = static_cast<std::size_t>(len);
        name_.assign(name.data(), name.size());
        base_ = base;
        size_ = size;
        granule_ = granule;
        return 0;
    }

    // ---- caller-owned nodes ------------------------------------------------------------------

    /// Allocates into `n` (not allocated): the request's size is rounded up to the granule, its
    /// alignment raised to it; bounds [lo, last] are device addresses. Returns the device
    /// address, -EINVAL (size 0, bad alignment, bounds outside the region) or -ENOSPC.
    result<u64> alloc(node& n, const alloc_request& req) noexcept {
        alloc_request r;
        if (int e = adjust(req, r))
            return result<u64>::failure(e);
        if (int e = pool_.manager().insert(n, r))
            return result<u64>::failure(e);
        return n.start();
    }
    /// Takes exactly [addr, addr + size) (granule multiples): -EINVAL or -ENOSPC (occupied).
    int reserve(node& n, u64 addr, u64 size) noexcept {
        if (((addr | size) & (granule_ - 1)) != 0)
            return -EINVAL;
        return pool_.manager().reserve(n, addr, size);
    }
    /// Frees a node allocated here.
    void free(node& n) noexcept { pool_.manager().remove(n); }

    // ---- owning handles ----------------------------------------------------------------------

    /// Like alloc() with a pooled node; the handle frees it. -EINVAL, -ENOSPC or -ENOMEM.
    result<allocation> allocate(const alloc_request& req) {
        alloc_request r;
        if (int e = adjust(req, r))
            return result<allocation>::failure(e);
        try { // the node pool may grow: a host allocation failure is -ENOMEM, not an exception
            auto id = pool_.alloc(r);
            if (!id)
                return result<allocation>::failure(id.error());
            return allocation(this, *id);
        } catch (const std::bad_alloc&) {
            return result<allocation>::failure(-ENOMEM);
        }
    }

    // ---- host backing ------------------------------------------------------------------------

    /// Host memory behind device bytes [addr, addr + len), or null when any of it lies outside
    /// the region (len 0 asks about `addr` alone).
    std::byte* host_ptr(u64 addr, u64 len) const noexcept {
        if (!host_ || addr < base_ || addr - base_ > size_ - 1)
            return nullptr;
        const u64 off = addr - base_;
        if (len > size_ - off)
            return nullptr;
        return host_ + off;
    }
    /// The whole region as a physical window, for a phys_map.
    phys_window window() const noexcept { return {base_, size_, host_}; }

    // ---- identity and statistics ---------------------------------------------------------------

    const std::string& name() const noexcept { return name_; }
    u64 base() const noexcept { return base_; }
    u64 size() const noexcept { return size_; }
    u64 granule() const noexcept { return granule_; }
    std::byte* host_base() const noexcept { return host_; }
    /// The memfd behind the host backing, and where device address `addr` lies in it.
    int backing_fd() const noexcept { return fd_; }
    u64 backing_offset(u64 addr) const noexcept { return addr - base_; }

    region_stats stats() const {
        const range_stats s = pool_.stats();
        return {size_, size_ - s.free_bytes, s.largest_hole};
    }
    /// The policy, for its own statistics and listings (do not allocate through it directly:
    /// the region's granule rules would be bypassed).
    const Policy& policy() const noexcept { return pool_.manager(); }

private:
    /// Granule rounding of a request; -EINVAL when the size overflows when rounded up.
    int adjust(const alloc_request& req, alloc_request& r) const noexcept {
        if (!host_)
            return -EINVAL;
        r = req;
        if (req.size == 0 || !align_up(req.size, granule_, r.size))
            return -EINVAL;
        if (req.alignment > 1 && !Policy::any_alignment && !is_pow2(req.alignment))
            return -EINVAL;
        if (req.alignment <= granule_)
            r.alignment = granule_;
        else if (req.alignment % granule_ != 0) // a non-power-of-two alignment: keep both
            return -EINVAL;
        return 0;
    }

    pool pool_;
    int fd_ = -1;
    std::byte* host_ = nullptr;
    std::size_t host_len_ = 0;
    std::string name_;
    u64 base_ = 0, size_ = 0, granule_ = 1;
};

} // namespace accel::mm

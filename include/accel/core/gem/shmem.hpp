// SPDX-License-Identifier: MIT
#pragma once
/// \file `shmem_backing`: the host memory behind a buffer object, a memfd (drm_gem_object_init's
/// shmem file).
///
/// A memfd rather than malloc'd memory because every view of a buffer must see the same pages:
/// the driver's CPU view (mapped here once), a mock client's mmap (a second mapping of the same
/// memfd), a FUSE-served client (pread/pwrite on the memfd behind its page faults) and, later,
/// dma-buf importers in other processes (the fd itself). Pages are allocated on first touch, as
/// shmem does; `resident_bytes()` asks the kernel how many are. The driver's view is mapped on
/// first use (drm_gem_shmem_vmap is on demand too), so an object only clients map costs no
/// mapping in the server.
#include <accel/base/errno.hpp>
#include <accel/base/fault_injection.hpp>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

namespace accel {

class shmem_backing {
public:
    shmem_backing() noexcept = default;
    shmem_backing(shmem_backing&& o) noexcept
        : fd_(std::exchange(o.fd_, -1)), data_(o.data_.exchange(nullptr)), size_(std::exchange(o.size_, 0)) {}
    shmem_backing& operator=(shmem_backing&& o) noexcept {
        if (this != &o) {
            release();
            fd_ = std::exchange(o.fd_, -1);
            data_ = o.data_.exchange(nullptr);
            size_ = std::exchange(o.size_, 0);
        }
        return *this;
    }
    ~shmem_backing() { release(); }

    /// `size` bytes (> 0, page-granular: the caller checked). -ENOMEM when the kernel refuses the
    /// memfd (out of descriptors counts as out of memory here, as shmem_file_setup failures do
    /// for a kernel driver).
    static result<shmem_backing> create(std::uint64_t size) noexcept {
        if (detail::alloc_may_fail())
            return result<shmem_backing>::failure(-ENOMEM);
        shmem_backing b;
        b.fd_ = ::memfd_create("accel-bo", MFD_CLOEXEC);
        if (b.fd_ < 0)
            return result<shmem_backing>::failure(-ENOMEM);
        if (size > static_cast<std::uint64_t>(INT64_MAX) || ::ftruncate(b.fd_, static_cast<off_t>(size)) != 0)
            return result<shmem_backing>::failure(-ENOMEM);
        b.size_ = size;
        return b;
    }

    int fd() const noexcept { return fd_; }
    /// The driver's CPU view of the whole buffer, mapped on first use (thread-safe); null when
    /// the mapping fails (out of address space), which callers report as -ENOMEM.
    std::byte* data() const noexcept {
        std::byte* p = data_.load(std::memory_order_acquire);
        if (p || fd_ < 0)
            return p;
        void* m = ::mmap(nullptr, static_cast<std::size_t>(size_), PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
        if (m == MAP_FAILED)
            return nullptr;
        if (!data_.compare_exchange_strong(p, static_cast<std::byte*>(m), std::memory_order_acq_rel)) {
            ::munmap(m, static_cast<std::size_t>(size_)); // another thread mapped it first
            return p;
        }
        return static_cast<std::byte*>(m);
    }
    std::uint64_t size() const noexcept { return size_; }
    /// Bytes the kernel has actually allocated (st_blocks), the fdinfo "resident" figure.
    std::uint64_t resident_bytes() const noexcept {
        struct stat st {};
        return fd_ >= 0 && ::fstat(fd_, &st) == 0 ? static_cast<std::uint64_t>(st.st_blocks) * 512u : 0;
    }

private:
    void release() noexcept {
        if (std::byte* p = data_.exchange(nullptr))
            ::munmap(p, static_cast<std::size_t>(size_));
        if (fd_ >= 0)
            ::close(fd_);
        fd_ = -1;
        size_ = 0;
    }

    int fd_ = -1;
    mutable std::atomic<std::byte*> data_{nullptr};
    std::uint64_t size_ = 0;
};

} // namespace accel

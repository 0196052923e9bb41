// SPDX-License-Identifier: MIT
#pragma once
/// \file `gem_object`: the framework's side of a buffer object (struct drm_gem_object).
///
/// Size (page-granular), shmem backing, a fake mmap offset, an intrusive reference count, the
/// number of handles naming it, and the list of files allowed to mmap it (drm_vma_node's ACL:
/// a file is allowed while it holds a handle, counted per handle). The driver's payload lives
/// in `bo<D>` (bo.hpp), which derives from this.
///
/// Lifetime: every handle, every mapping and every lookup holds a reference; the last one
/// frees the offset and the backing. The object does not hold its device: whoever holds a
/// reference also keeps the device alive (a file, a mapping, the driver's own device data),
/// as with a kernel GEM object and its drm_device.
#include <accel/base/errno.hpp>
#include <accel/base/fault_injection.hpp>
#include <accel/core/fwd.hpp>
#include <accel/core/gem/extension.hpp>
#include <accel/core/gem/mmap_offsets.hpp>
#include <accel/core/gem/placement.hpp>
#include <accel/core/gem/shmem.hpp>

#include <boost/intrusive_ptr.hpp>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace accel {

class gem_object;
class open_file;

/// What the framework calls on an object, per driver (drm_gem_object_funcs): built by bo<D>
/// from the hooks of the driver's object_data (core/gem/bo.hpp).
struct object_funcs {
    /// A handle to the object was created in the file; an error undoes it (funcs.open).
    int (*open)(gem_object&, file_base&);
    /// A handle to the object in the file is going (GEM_CLOSE, or the file's close).
    void (*close)(gem_object&, file_base&) noexcept;
    /// The last reference went: destroys the most derived object (after the driver's free).
    void (*free)(gem_object*) noexcept;
    /// funcs->export: the driver's own dma-buf export of the object (the open file, carrying a
    /// reference, or -errno); null: the sharing layer's default GEM exporter
    /// (share/gem_exporter.hpp). Only the sharing layer calls it.
    result<open_file*> (*export_dmabuf)(gem_object&, int flags) = nullptr;
};

class gem_object {
public:
    gem_object(const gem_object&) = delete;
    gem_object& operator=(const gem_object&) = delete;

    std::uint64_t size() const noexcept { return size_; }
    /// The driver's CPU view of the whole object (host memory: drm_gem_shmem_vmap, mapped on
    /// first use, null if that mapping fails, which a handler reports as -ENOMEM; device
    /// memory: the region's backing).
    std::byte* vaddr() const noexcept { return placement_ ? placement_->cpu() : backing_.data(); }
    /// The memfd behind the object and where the object starts in it (client mappings and,
    /// later, dma-buf export use them).
    int backing_fd() const noexcept { return placement_ ? placement_->fd() : backing_.fd(); }
    std::uint64_t backing_offset() const noexcept { return placement_ ? placement_->fd_offset() : 0; }
    /// Bytes the object occupies now: pages the kernel has allocated for host memory, the
    /// whole object in device memory.
    std::uint64_t resident_bytes() const noexcept { return placement_ ? size_ : backing_.resident_bytes(); }
    /// The memory region the object is in: 0 for host memory, else the driver's region id.
    unsigned region_id() const noexcept { return placement_ ? placement_->region_id() : 0; }
    /// The device address of an object in device memory (0 for host memory, which a device
    /// reaches through its MMU: mm/vm).
    std::uint64_t device_address() const noexcept { return placement_ ? placement_->device_address() : 0; }
    /// What a client passes to mmap(2) on the device node to map this object.
    std::uint64_t mmap_offset() const noexcept { return offset_.offset(); }
    device_base& device() const noexcept { return *dev_; }

    /// The device wrote the object's memory outside a client's ioctl (a job's output, written
    /// by DMA or by the driver's thread): call it after the write and before anyone is told
    /// (an event, a wake-up of a wait or a poll), where a kernel driver syncs the DMA for the
    /// CPU (dma_sync_*_for_cpu). A backend whose client mappings are cached copies of the
    /// object (FUSE: the caller's page cache) drops those copies at the client's next sync
    /// point (fuse/coherency.hpp); direct mappings (the mock, a kernel node) need nothing.
    /// Defined in device_base.hpp: it also counts the write on the device.
    void device_wrote() noexcept;
    /// device_wrote() calls so far.
    std::uint64_t device_writes() const noexcept { return device_writes_.load(std::memory_order_acquire); }

    /// Handles naming the object, in all files (drm_gem_object.handle_count).
    unsigned handle_count() const noexcept { return handle_count_.load(std::memory_order_relaxed); }
    /// Shared as drm-usage-stats counts it: more than one handle, or exported / imported as a
    /// dma-buf (the sharing layer marks it: set_shared()).
    bool shared() const noexcept { return handle_count() > 1 || shared_.load(std::memory_order_relaxed); }
    void set_shared() noexcept { shared_.store(true, std::memory_order_relaxed); }

    /// The object's operations (the sharing layer reads export_dmabuf).
    const object_funcs& funcs() const noexcept { return *funcs_; }

    /// The sharing layer's state of this object (exported dma-buf, import attachment), or null
    /// when none was made (core/gem/extension.hpp).
    object_extension* extension() const noexcept { return extension_.load(std::memory_order_acquire); }
    /// The extension of type T, made by `make()` (T* from new, or null when out of memory) if
    /// there is none yet; two threads racing keep one. Null: out of memory.
    template <class T, class Make>
    T* extension(Make&& make) {
        if (object_extension* e = extension_.load(std::memory_order_acquire))
            return static_cast<T*>(e);
        if (detail::alloc_may_fail())
            return nullptr;
        T* fresh = make();
        if (!fresh)
            return nullptr;
        object_extension* expected = nullptr;
        if (extension_.compare_exchange_strong(expected, fresh, std::memory_order_acq_rel))
            return fresh;
        delete fresh;
        return static_cast<T*>(expected);
    }

    /// drm_vma_node_is_allowed: may `f` mmap this object?
    bool mmap_allowed(const file_base& f) const {
        std::lock_guard lock(acl_mutex_);
        return std::any_of(acl_.begin(), acl_.end(), [&](const acl_entry& e) { return e.file == &f; });
    }

    /// kref_get_unless_zero: a reference, unless the object is already being freed.
    bool try_get() noexcept {
        std::uint32_t n = refs_.load(std::memory_order_relaxed);
        while (n != 0)
            if (refs_.compare_exchange_weak(n, n + 1, std::memory_order_acquire, std::memory_order_relaxed))
                return true;
        return false;
    }

    friend void intrusive_ptr_add_ref(gem_object* o) noexcept { o->refs_.fetch_add(1, std::memory_order_relaxed); }
    friend void intrusive_ptr_release(gem_object* o) noexcept {
        if (o->refs_.fetch_sub(1, std::memory_order_acq_rel) == 1)
            o->funcs_->free(o);
    }

    /// The object that owns `n` (offset lookups hand out nodes).
    static gem_object* from_offset_node(const mmap_offset_node* n) noexcept {
        return n ? static_cast<gem_object*>(n->owner()) : nullptr;
    }
    /// A reference to the object owning `n`, null when there is none or it is being freed (a
    /// dying object counts as missing). For mmap_offset_manager's lookups, under their lock.
    static boost::intrusive_ptr<gem_object> get_from_offset_node(const mmap_offset_node* n) noexcept {
        gem_object* o = from_offset_node(n);
        return boost::intrusive_ptr<gem_object>(o && o->try_get() ? o : nullptr, false);
    }

protected:
    /// `funcs.free` destroys the most derived object (bo<D>); the count starts at one, the creator's.
    /// The memory is `backing` (host memory) or, when `placement` is set, device memory.
    gem_object(device_base& dev, mmap_offset_manager& offsets, std::uint64_t size, shmem_backing backing,
               std::unique_ptr<bo_placement> placement, const object_funcs& funcs) noexcept
        : dev_(&dev), offsets_(&offsets), size_(size), backing_(std::move(backing)), placement_(std::move(placement)),
          funcs_(&funcs) {}
    /// The extension goes first: it may hold what the object's memory is (an import's
    /// attachment), and the placement below only points into it.
    ~gem_object() {
        delete extension_.exchange(nullptr, std::memory_order_acq_rel);
        offsets_->remove(offset_);
    }

    /// Second construction step: the offset (-ENOSPC when the offset space is full).
    int add_offset() { return offsets_->add(offset_, size() / host_page_size()); }

private:
    friend class handle_table;
    struct acl_entry {
        const file_base* file;
        unsigned count;
    };

    /// drm_vma_node_allow (counted per call). -ENOMEM if the list cannot grow.
    int allow(const file_base& f) {
        std::lock_guard lock(acl_mutex_);
        for (acl_entry& e : acl_)
            if (e.file == &f) {
                ++e.count;
                return 0;
            }
        if (detail::alloc_may_fail())
            return -ENOMEM;
        try {
            acl_.push_back({&f, 1});
        } catch (...) {
            return -ENOMEM;
        }
        return 0;
    }
    /// drm_vma_node_revoke: one fewer; the entry goes at zero. Unknown files are a no-op.
    void revoke(const file_base& f) noexcept {
        std::lock_guard lock(acl_mutex_);
        for (auto it = acl_.begin(); it != acl_.end(); ++it)
            if (it->file == &f) {
                if (--it->count == 0)
                    acl_.erase(it);
                return;
            }
    }

    device_base* dev_;
    mmap_offset_manager* offsets_;
    std::uint64_t size_;
    shmem_backing backing_;
    std::unique_ptr<bo_placement> placement_;
    const object_funcs* funcs_;
    std::atomic<std::uint32_t> refs_{1};
    std::atomic<std::uint32_t> handle_count_{0};
    std::atomic<std::uint64_t> device_writes_{0};
    std::atomic<bool> shared_{false};
    std::atomic<object_extension*> extension_{nullptr};
    mmap_offset_node offset_{this};
    mutable std::mutex acl_mutex_;
    std::vector<acl_entry> acl_;
};

using gem_ref = boost::intrusive_ptr<gem_object>;

} // namespace accel

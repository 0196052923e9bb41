// SPDX-License-Identifier: MIT
#pragma once
/// \file The framework's side of a device (struct drm_device's role), independent of the driver.
///
/// Lifetime: refcounted (boost::intrusive_ptr). The registration, every open file and every
/// in-progress lookup hold a reference. Unregistering unplugs the device: new opens and ioctls
/// get -ENODEV, calls already inside the driver finish first (drm_dev_unplug's guarantee), and
/// files stay valid until closed, their postclose still running. The minor number returns to the
/// subsystem only when the last reference goes, as the kernel frees minors at drm_dev_put.
///
/// Concurrency: `enter()`/`exit()` (drm_dev_enter/exit) bracket the parts of a call that run
/// driver code touching the device: the driver's open, an ioctl handler, a parked request's
/// check. Not the copies in and out, and never a wait: a parked request (core/parked_call.hpp)
/// holds no guard. They are two uncontended atomic operations; unplug() sets the flag, waits
/// for the in-flight count to drain, then ends every parked request with -ENODEV. Both use
/// sequentially consistent ordering, so a call either sees the flag or is seen by the drain.
/// A handler must therefore never sleep waiting for something: it parks instead, or unplug
/// would wait for it.
#include <accel/core/device_status.hpp>
#include <accel/core/engine_clock.hpp>
#include <accel/core/driver_info.hpp>
#include <accel/base/errno.hpp>
#include <accel/core/file_base.hpp>
#include <accel/core/fwd.hpp>
#include <accel/core/ioctl_number.hpp>
#include <accel/core/ioctl_table.hpp>
#include <accel/core/parked_list.hpp>
#include <accel/core/stats_baseline.hpp>
#include <accel/core/gem/dma_domain.hpp>
#include <accel/core/gem/mmap_offsets.hpp>
#include <accel/core/gem/object.hpp>

#include <boost/intrusive/list.hpp>
#include <boost/intrusive_ptr.hpp>

#include <atomic>
#include <chrono>
#include <fcntl.h>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <sys/mman.h>
#include <thread>
#include <vector>

namespace accel {

struct attribute_tables; // core/attribute.hpp

/// What the framework needs to know about a driver at run time: one constant table per driver
/// type, built from the driver's declarations (the role of drm_driver, made by device<D>).
struct driver_ops {
    const driver_info* info;
    bool exclusive_compute;
    bool objects; ///< DRIVER_GEM: the driver declares buffer objects
    /// Builds the typed file with its driver data (the driver's open, or file_data's
    /// constructor): the file, or -ENOMEM or the driver's error, with nothing left behind.
    result<file_base*> (*make_file)(device_base&, node_kind, const caller_identity&, int flags) noexcept;
    void (*free_file)(file_base*) noexcept;
    void (*postclose)(device_base&, file_base&);    // driver's postclose callback, or a no-op
    int (*probe)(device_base&);                     // at registration, before the nodes appear
    void (*remove)(device_base&);                   // at unregistration, after in-flight calls
    void (*destroy)(device_base*) noexcept;         // last reference gone
    const ioctl_slot* driver_ioctls;                // ACCEL_COMMAND_END - ACCEL_COMMAND_BASE slots
    /// Serialises INFO item `id` into `out`; -EINVAL for an id the device does not answer.
    int (*info_item)(device_base&, file_base&, std::uint32_t id, std::vector<unsigned char>& out);
    unsigned (*poll)(device_base&, file_base&); // the driver's poll mask bits, or 0
    unsigned features;                          // driver_feature bits (core/driver.hpp)
    /// The device's DMA domain (the driver's dma_domain hook, else the identity).
    accel::dma_domain& (*dma_domain)(device_base&) noexcept;
    /// gem_prime_import_sg_table's object half: a new object of this driver of `size` bytes
    /// whose memory is `placement` (an imported dma-buf's), its object_data default-built;
    /// -EINVAL when the driver has no objects or its object_data cannot be default-built.
    result<gem_ref> (*wrap_object)(device_base&, std::uint64_t size, std::unique_ptr<bo_placement>);
    /// The driver's sensors in hwmon units (its `sensors` hook, core/info_items.hpp), read in any
    /// device state; empty without the hook. INFO's SENSORS item and the hwmon attribute
    /// directory both read them here.
    std::vector<accel_info_sensor> (*sensors)(device_base&);
    /// The file's fdinfo text (core/fdinfo.hpp), appended to `out`; and ENGINE_BUSY before
    /// CLEAR_STATS's baseline (what CLEAR_STATS takes as the new zero).
    void (*fdinfo)(device_base&, file_base&, std::string& out);
    std::vector<accel_info_engine_time> (*engine_busy)(device_base&);
    /// The driver's sysfs attributes and debugfs entries, type-erased (core/attribute.hpp).
    const attribute_tables* attributes;
};

class device_base {
public:
    device_base(const device_base&) = delete;
    device_base& operator=(const device_base&) = delete;

    const driver_info& info() const noexcept { return *ops_->info; }
    const driver_ops& ops() const noexcept { return *ops_; }
    /// N of accel/accel<N>; meaningful once registered.
    unsigned minor() const noexcept { return minor_; }
    bool unplugged() const noexcept { return unplugged_.load(std::memory_order_acquire); }
    /// Open files on both nodes.
    unsigned open_count() const noexcept { return open_count_.load(std::memory_order_relaxed); }
    /// Whether the device works (OPERATIONAL, IN_RESET, NEEDS_RESET, MALFUNCTION), its reset
    /// count and its reset handler (core/device_status.hpp).
    device_status& status() noexcept { return status_; }
    const device_status& status() const noexcept { return status_; }
    /// The engines' busy-time clocks (core/engine_clock.hpp), registered by the schedulers.
    engine_clocks& engine_time() noexcept { return engine_time_; }
    const engine_clocks& engine_time() const noexcept { return engine_time_; }
    /// Completed resets of the device since the last CLEAR_STATS, as INFO's STATUS item reports
    /// them (status().reset_count() is the raw, monotonic count).
    std::uint64_t reset_count() const noexcept { return baseline_.resets_since(status_.reset_count()); }
    /// What CLEAR_STATS cleared (core/stats_baseline.hpp).
    stats_baseline& cleared_stats() noexcept { return baseline_; }
    const stats_baseline& cleared_stats() const noexcept { return baseline_; }
    /// Counts a completed reset and returns to OPERATIONAL: the reset flow calls it once the
    /// device works again (a driver that resets its hardware by itself calls it too).
    void reset_completed() noexcept { status_.reset_completed(); }

    /// drm_dev_enter: false (and nothing held) once the device is unplugged.
    bool enter() noexcept {
        active_.fetch_add(1, std::memory_order_seq_cst);
        if (unplugged_.load(std::memory_order_seq_cst)) [[unlikely]] {
            exit();
            return false;
        }
        return true;
    }
    void exit() noexcept { active_.fetch_sub(1, std::memory_order_release); }

    /// Calls exit() at the end of the scope that a successful enter() opened.
    struct entered {
        device_base* dev;
        ~entered() { dev->exit(); }
    };

    /// Opens a file on one of the device's nodes for the current caller (accel_open +
    /// drm_open_helper). `flags` are open(2) flags: O_EXCL is refused with -EBUSY as DRM does.
    /// The file starts with one reference, the opener's; its last put() closes it.
    /// Errors: -ENODEV (unplugged), -EBUSY (exclusive compute node already open, or O_EXCL),
    /// -ENOMEM, or the driver's open error. Nothing is left behind on failure.
    result<file_base*> open(node_kind kind, int flags);

    /// Closes a file (drm_release): the driver's postclose runs after the framework has released
    /// everything the file held; then the file is freed and its device reference dropped.
    void close(file_base* f) noexcept;

    /// One ioctl on an open file, with drm_ioctl's semantics (see dispatch.hpp). call_parked
    /// when a handler parked the request (the current call's `call` answers it later).
    int ioctl(file_base& f, ioctl_cmd cmd, std::uint64_t arg) noexcept;

    /// Requests parked on this device (core/parked_call.hpp).
    parked_list& parked() noexcept { return parked_; }
    /// Ends the waits of requests parked through `f` with `error` (the mock's close).
    std::size_t cancel_parked(const open_file& f, int error) noexcept { return parked_.cancel(&f, error); }

    /// The device's fake mmap offsets (drm_device.vma_offset_manager).
    mmap_offset_manager& mmap_offsets() noexcept { return offsets_; }

    /// gem_object::device_wrote() calls on this device's objects so far: a backend that keeps
    /// cached copies of objects compares it with what it saw last, and looks at its objects
    /// only when it moved (fuse/process_view.hpp).
    std::uint64_t object_writes() const noexcept { return object_writes_.load(std::memory_order_acquire); }

    /// drm_gem_mmap's checks, for a mapping of `length` bytes at `offset` on file `f` with
    /// mmap(2)'s `prot` and `flags`; returns the object to map (a new reference).
/// In the kernel's order: mmap(2)'s own checks, then drm_gem_mmap's, then the shmem object's:
    /// -EINVAL: length 0 or offset not page-aligned (mmap(2));
    /// -EACCES: MAP_SHARED with PROT_WRITE on a file not opened for writing, or any mapping of a
    ///          file not opened for reading (O_WRONLY) (mmap(2): FMODE_WRITE, FMODE_READ);
    /// -EINVAL: no object starts at `offset` (drm_vma_offset_exact_lookup_locked);
    /// -EACCES: the file holds no handle to the object (drm_vma_node_is_allowed);
    /// -EINVAL: the mapping is longer than the object (drm_gem_mmap_obj), or it is MAP_PRIVATE:
    ///          mmap(2) gives every private mapping VM_MAYWRITE, so it is a copy-on-write
    ///          mapping, which drm_gem_shmem_mmap refuses (is_cow_mapping);
    /// -ENODEV: the device is unplugged.
    result<gem_ref> mmap_object(const file_base& f, std::uint64_t offset, std::uint64_t length, int prot, int flags);

    /// Calls `fn(file_base&)` for each open file, under the device's file lock.
    template <class Fn>
    void for_each_file(Fn&& fn) const {
        std::lock_guard lock(files_mutex_);
        for (const file_base& f : files_)
            fn(f);
    }
    /// The open file whose client id is `id`, with a reference for the caller to put(); null
    /// when there is none (or it is closing). Found under the file lock, used after it: what the
    /// caller then does with the file (format its fdinfo, call the driver) runs unlocked, so it
    /// may walk the files itself and opens and closes go on meanwhile.
    file_base* get_file(std::uint64_t id) noexcept;

    friend void intrusive_ptr_add_ref(device_base* d) noexcept { d->refs_.fetch_add(1, std::memory_order_relaxed); }
    friend void intrusive_ptr_release(device_base* d) noexcept {
        if (d->refs_.fetch_sub(1, std::memory_order_acq_rel) == 1)
            d->last_reference_gone();
    }

protected:
    explicit device_base(const driver_ops& ops) noexcept : ops_(&ops) {}
    ~device_base() = default;

private:
    friend class subsystem;
    friend class gem_object;

    /// drm_dev_unplug: refuse new calls, wait for the ones inside the driver, then end every
    /// parked request with -ENODEV (none holds the guard, so none delays the drain).
    void unplug() noexcept {
        unplugged_.store(true, std::memory_order_seq_cst);
        for (unsigned spins = 0; active_.load(std::memory_order_seq_cst) != 0; ++spins) {
            if (spins < 64)
                std::this_thread::yield();
            else
                std::this_thread::sleep_for(std::chrono::microseconds(50));
        }
        parked_.cancel(nullptr, -ENODEV);
    }
    void last_reference_gone() noexcept {
        if (release_minor_)
            release_minor_(subsystem_, minor_);
        ops_->destroy(this);
    }

    const driver_ops* ops_;
    std::atomic<std::uint32_t> refs_{1}; // the creator's reference
    std::atomic<std::uint32_t> active_{0};
    std::atomic<bool> unplugged_{false};
    std::atomic<std::uint32_t> compute_opens_{0};
    std::atomic<std::uint32_t> open_count_{0};
    device_status status_;
    engine_clocks engine_time_;
    stats_baseline baseline_;
    std::atomic<std::uint64_t> object_writes_{0};
    unsigned minor_ = 0;
    // Set by the subsystem while the device holds a minor; called when the last reference goes.
    accel::subsystem* subsystem_ = nullptr;
    void (*release_minor_)(accel::subsystem*, unsigned) noexcept = nullptr;
    std::atomic<bool> registered_once_{false};
    mutable std::mutex files_mutex_;
    boost::intrusive::list<file_base, boost::intrusive::constant_time_size<false>> files_;
    mmap_offset_manager offsets_;
    parked_list parked_;
};

using device_ref = boost::intrusive_ptr<device_base>;

// The object's count first, then the device's: whoever sees the device's count move sees the
// object's too (release, then acquire in object_writes()).
inline void gem_object::device_wrote() noexcept {
    device_writes_.fetch_add(1, std::memory_order_release);
    dev_->object_writes_.fetch_add(1, std::memory_order_release);
}

/// The file's mmap operation (-ENODEV without one, as mmap(2) answers).
inline result<mmap_target> map_file(open_file& f, std::uint64_t offset, std::uint64_t length, int prot, int flags) {
    return f.fops().mmap ? f.fops().mmap(f, offset, length, prot, flags) : result<mmap_target>::failure(-ENODEV);
}

inline result<file_base*> device_base::open(node_kind kind, int flags) {
    if (flags & O_EXCL)
        return result<file_base*>::failure(-EBUSY);
    if (!enter())
        return result<file_base*>::failure(-ENODEV);
    entered guard{this};

    const bool compute = kind == node_kind::compute;
    if (compute) {
        if (ops_->exclusive_compute) {
            std::uint32_t none = 0;
            if (!compute_opens_.compare_exchange_strong(none, 1))
                return result<file_base*>::failure(-EBUSY);
        } else {
            compute_opens_.fetch_add(1);
        }
    }
    auto made = ops_->make_file(*this, kind, current_caller(), flags);
    if (!made) {
        if (compute)
            compute_opens_.fetch_sub(1);
        return made;
    }
    file_base* f = *made;
    intrusive_ptr_add_ref(this);
    {
        std::lock_guard lock(files_mutex_);
        files_.push_back(*f);
    }
    open_count_.fetch_add(1, std::memory_order_relaxed);
    return f;
}

inline file_base* device_base::get_file(std::uint64_t id) noexcept {
    std::lock_guard lock(files_mutex_);
    for (file_base& f : files_)
        if (f.client_id() == id)
            return f.try_get() ? &f : nullptr;
    return nullptr;
}

inline void device_base::close(file_base* f) noexcept {
    {
        std::lock_guard lock(files_mutex_);
        files_.erase(files_.iterator_to(*f));
    }
    // Handles, then the sharing layer's per-file state (syncobjs, the PRIME cache), go before
    // postclose, as in drm_file_free.
    f->release_objects();
    ops_->postclose(*this, *f);
    if (f->kind() == node_kind::compute)
        compute_opens_.fetch_sub(1);
    open_count_.fetch_sub(1, std::memory_order_relaxed);
    ops_->free_file(f);
    intrusive_ptr_release(this);
}

inline result<gem_ref> device_base::mmap_object(const file_base& f, std::uint64_t offset, std::uint64_t length,
                                                 int prot, int flags) {
    const std::uint64_t page = host_page_size();
    // mmap(2)'s own checks come first, as the kernel makes them before the driver's mmap.
    if (length == 0 || offset % page != 0)
        return result<gem_ref>::failure(-EINVAL);
    if ((prot & PROT_WRITE) && (flags & MAP_SHARED) && !f.writable())
        return result<gem_ref>::failure(-EACCES);
    if (!f.readable())
        return result<gem_ref>::failure(-EACCES);
    if (unplugged())
        return result<gem_ref>::failure(-ENODEV);
    const std::uint64_t pages = length / page + (length % page != 0);
    gem_ref obj = offsets_.with_exact(offset / page, pages, &gem_object::get_from_offset_node);
    if (!obj)
        return result<gem_ref>::failure(-EINVAL);
    if (!obj->mmap_allowed(f))
        return result<gem_ref>::failure(-EACCES);
    if (!(flags & MAP_SHARED))
        return result<gem_ref>::failure(-EINVAL); // is_cow_mapping: every private mapping may write
    return obj;
}

} // namespace accel

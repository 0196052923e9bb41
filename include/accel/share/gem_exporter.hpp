// SPDX-License-Identifier: MIT
#pragma once
/// \file Buffer objects as dma-bufs: the default GEM exporter (drm_gem_prime_dmabuf_ops) and
/// the sharing state each object carries (its exported dma-buf, its import attachment).
///
/// `gem_exporter` exports any framework buffer object, in host or device memory:
///   attach   0, or -ENODEV once the object's device is unplugged
///   map      one host-address range: the object's CPU view (vaddr(), the memfd or region
///            backing mapped in this process), which covers its pages in order; -ENODEV after
///            unplug, -ENOMEM when the view cannot be mapped, -EINVAL for dma_direction::none
///   unmap, detach   nothing (the memory never moves: nothing is pinned)
///   mmap     the object's memfd at its offset (the same pages every other view maps);
///            MAP_PRIVATE -EINVAL (is_cow_mapping, as drm_gem_shmem_mmap); -ENODEV after unplug
///   vmap     the CPU view; vunmap nothing; -ENODEV after unplug
///   release  drops the object, then its device (drm_gem_dmabuf_release)
///   object   the object (self-import)
/// No begin/end_cpu_access, as in the kernel's default GEM ops (the memory is coherent).
///
/// A driver exports some objects its own way by declaring in object_data
///   static accel::result<accel::open_file_ref> export_dmabuf(accel::bo<D>&, int flags);
/// (drm_gem_object_funcs.export), typically `gem_prime_export(obj, flags, my_exporter{...})`.
///
/// `gem_share_state` is the object's extension (core/gem/extension.hpp): obj->dma_buf (the
/// exported buffer, or for an import the buffer it came from; dropped when the object's last
/// handle goes, which breaks the object <-> dma-buf cycle as drm_gem_object_handle_free does),
/// obj->import_attach with the importing device's DMA addresses, and whether the import holds
/// a vmap, and the object's reservation object (gem_object_resv: an import shares its buffer's,
/// which is the exporter's object's).
#include <accel/base/errno.hpp>
#include <accel/core/device_base.hpp>
#include <accel/core/gem/dma_domain.hpp>
#include <accel/core/gem/extension.hpp>
#include <accel/core/gem/object.hpp>
#include <accel/exec/dma_resv.hpp>
#include <accel/share/dma_buf.hpp>
#include <accel/share/dma_buf_export.hpp>

#include <cstdint>
#include <mutex>
#include <new>
#include <sys/mman.h>
#include <utility>

namespace accel {

/// The sharing layer's per-object state (see the file comment).
struct gem_share_state final : object_extension {
    std::mutex lock;
    dma_buf_ref dma_buf;                  ///< obj->dma_buf
    dma_buf_attachment_ptr import_attach; ///< obj->import_attach (imported objects only)
    dma_domain* domain = nullptr;         ///< the importing device's domain the ranges came from
    dma_ranges device_ranges;             ///< the imported memory in the importing device's addresses
    bool vmapped = false;                 ///< the import holds one vmap of the buffer (the object's CPU view)
    dma_resv resv;                        ///< obj->_resv (an import uses its buffer's instead)

    void handles_gone(gem_object& o) noexcept override {
        dma_buf_ref drop; // released after the lock
        std::lock_guard g(lock);
        if (o.handle_count() == 0)
            drop.swap(dma_buf);
    }
    /// fdinfo's drm-active: an unsignalled kernel, write or read fence (core/gem/extension.hpp).
    bool busy() const noexcept override {
        const dma_resv& r = import_attach ? import_attach->buf().resv() : resv;
        return !r.test_signaled(resv_usage_rw(true));
    }
    /// An import gives back, in reverse order: the domain's addresses, the vmap, the mapping
    /// and the attachment (which drops its buffer reference).
    ~gem_share_state() override {
        if (!import_attach)
            return;
        if (domain)
            domain->unmap(device_ranges, dma_direction::bidirectional);
        if (vmapped)
            import_attach->buf().vunmap();
        import_attach.reset();
    }
};

/// The object's sharing state, made on first use; null when out of memory.
inline gem_share_state* share_state(gem_object& obj) {
    return obj.extension<gem_share_state>([] { return new (std::nothrow) gem_share_state; });
}
/// The object's sharing state if it has one.
inline gem_share_state* find_share_state(const gem_object& obj) noexcept {
    return static_cast<gem_share_state*>(obj.extension());
}

/// Whether the object is an import (obj->import_attach).
inline bool gem_is_imported(const gem_object& obj) noexcept {
    const gem_share_state* s = find_share_state(obj);
    return s && s->import_attach;
}
/// An imported object's memory in its device's DMA addresses (what page tables map), or null.
inline const dma_ranges* gem_import_ranges(const gem_object& obj) noexcept {
    const gem_share_state* s = find_share_state(obj);
    return s && s->import_attach ? &s->device_ranges : nullptr;
}

/// obj->resv: an import's is its buffer's (obj->resv = dma_buf->resv), any other object's its
/// own, made with the object's sharing state on first use. Null when out of memory.
inline dma_resv* gem_object_resv(gem_object& obj) {
    gem_share_state* s = share_state(obj);
    if (!s)
        return nullptr;
    return s->import_attach ? &s->import_attach->buf().resv() : &s->resv;
}

class gem_exporter {
public:
    explicit gem_exporter(gem_object& obj) noexcept : dev_(&obj.device()), obj_(&obj) {}

    int attach(dma_buf_attachment&) { return dev_->unplugged() ? -ENODEV : 0; }
    result<dma_ranges> map(dma_buf_attachment&, dma_direction dir) {
        if (dir == dma_direction::none)
            return result<dma_ranges>::failure(-EINVAL);
        if (dev_->unplugged())
            return result<dma_ranges>::failure(-ENODEV);
        std::byte* p = obj_->vaddr();
        if (!p)
            return result<dma_ranges>::failure(-ENOMEM);
        return dma_ranges{dma_range{reinterpret_cast<std::uintptr_t>(p), obj_->size()}};
    }
    void unmap(dma_buf_attachment&, dma_ranges&, dma_direction) {}
    void release() {
        obj_.reset(); // the object first: its offset lives in the device
        dev_.reset();
    }
    result<mmap_target> mmap(std::uint64_t offset, std::uint64_t, int, int flags) {
        if (dev_->unplugged())
            return result<mmap_target>::failure(-ENODEV);
        if (!(flags & MAP_SHARED))
            return result<mmap_target>::failure(-EINVAL);
        return mmap_target{obj_->backing_fd(), obj_->backing_offset() + offset, obj_, dev_};
    }
    result<std::byte*> vmap() {
        if (dev_->unplugged())
            return result<std::byte*>::failure(-ENODEV);
        std::byte* p = obj_->vaddr();
        return p ? result<std::byte*>(p) : result<std::byte*>::failure(-ENOMEM);
    }
    void vunmap(std::byte*) {}
    gem_object* object() { return obj_.get(); }
    /// exp_info.resv = obj->resv: the buffer and the object share their fences.
    dma_resv* resv() { return gem_object_resv(*obj_); }

private:
    device_ref dev_; // declared first, destroyed last
    gem_ref obj_;
};
static_assert(dma_buf_exporter<gem_exporter>);

/// drm_gem_prime_export / drm_gem_dmabuf_export: `obj` as a new dma-buf with `exporter`
/// (the default GEM exporter unless given), named after the object's driver. -ENOMEM.
template <class E = gem_exporter>
result<dma_buf_ref> gem_prime_export(gem_object& obj, int flags, E exporter) {
    return dma_buf_export(std::move(exporter), dma_buf_export_info{obj.device().info().name, obj.size(), flags});
}
inline result<dma_buf_ref> gem_prime_export(gem_object& obj, int flags) { return gem_prime_export(obj, flags, gem_exporter(obj)); }

/// drm_gem_prime_handle_to_dmabuf's object half: the object's dma-buf (a new reference).
/// An import re-exports the buffer it came from; an object exported before gives the same
/// buffer again (one object, one dma-buf); otherwise the driver's export_dmabuf or the default
/// exporter makes one, which the object keeps (obj->dma_buf) until its last handle goes.
/// -ENOENT when the object has no handle any more (a racing close), -ENOMEM, or the driver's
/// export error.
inline result<dma_buf_ref> gem_export_object(gem_object& obj, int flags) {
    using out = result<dma_buf_ref>;
    gem_share_state* st = share_state(obj);
    if (!st)
        return out::failure(-ENOMEM);
    std::lock_guard g(st->lock);
    if (st->import_attach)
        return dma_buf_ref(&st->import_attach->buf());
    if (st->dma_buf)
        return st->dma_buf;
    if (obj.handle_count() == 0)
        return out::failure(-ENOENT);
    dma_buf_ref made;
    if (auto hook = obj.funcs().export_dmabuf) {
        result<open_file*> r = hook(obj, flags);
        if (!r)
            return out::failure(r.error());
        open_file_ref f(*r, false);
        if (!f || !dma_buf::is(*f))
            return out::failure(-EINVAL); // a driver hook that made no dma-buf
        made = dma_buf_ref(static_cast<dma_buf*>(f.get()));
    } else {
        auto r = gem_prime_export(obj, flags);
        if (!r)
            return out::failure(r.error());
        made = std::move(*r);
    }
    st->dma_buf = made;
    obj.set_shared();
    return made;
}

} // namespace accel

// SPDX-License-Identifier: MIT
#pragma once
/// \file PRIME (drm_prime.c): buffer-object handles to dma-buf descriptors and back, and the
/// generic import of another device's dma-buf.
///
/// Including this header provides the core's PRIME rows (core_ioctl::provide), so on a driver
/// with buffer objects PRIME_HANDLE_TO_FD and PRIME_FD_TO_HANDLE work and GET_CAP PRIME reads
/// IMPORT | EXPORT.
///
/// PRIME_HANDLE_TO_FD (drm_gem_prime_handle_to_fd):
///   flags beyond ACCEL_CLOEXEC | ACCEL_RDWR -EINVAL; unknown handle -ENOENT; the file's cache
///   by handle, else the object's dma-buf (gem_export_object: one object, one dma-buf, so two
///   exports give two descriptors of the same buffer); the buffer joins the cache; the new
///   descriptor comes from accel::fd_install (O_CLOEXEC per the flags), and is the caller's only
///   if the call succeeds. The buffer's file flags are the first export's (O_RDWR or read-only).
/// PRIME_FD_TO_HANDLE (drm_gem_prime_fd_to_handle):
///   dma_buf_get: -EBADF (not an open descriptor), -EINVAL (not a dma-buf); under the file's
///   PRIME lock: a cache hit gives the same handle again (one buffer, one handle per file);
///   else the import (gem_prime_import), a new handle, and a cache entry. The entry goes when the
///   handle is closed (GEM_CLOSE or the file's close).
///
/// gem_prime_import(dev, buf) (drm_gem_prime_import_dev):
///   self-import: the buffer's exporter names an object of `dev` -> that very object (the same
///   handle in the exporting file through its cache, a new handle to the same object in another
///   file of the device);
///   otherwise: attach `dev`, map the attachment (host-address ranges), map those through the
///   device's DMA domain (identity unless the driver remaps), vmap the buffer for the object's
///   CPU view, and wrap it all in a new object of the importing driver (driver_ops::wrap_object:
///   the driver's object_data default-built) whose memory is the exporter's: same pages, no
///   copy. A client maps it through the importer's node (the exporter's memfd at the object's
///   place), and the driver binds gem_import_ranges(obj) into its VA space. The object holds the
///   attachment, which holds the buffer, which holds the exporter's object and device: every
///   close or unplug order leaves the importer valid memory. Errors undo everything: -ENOMEM,
///   -ENODEV (the exporter's device is unplugged), -EINVAL (a driver that cannot wrap memory), or
///   the exporter's and the domain's errors.
#include <accel/base/errno.hpp>
#include <accel/core/core_ioctls.hpp>
#include <accel/core/descriptors.hpp>
#include <accel/core/device_base.hpp>
#include <accel/core/file_base.hpp>
#include <accel/core/gem/extension.hpp>
#include <accel/core/gem/placement.hpp>
#include <accel/share/dma_buf.hpp>
#include <accel/share/dma_buf_export.hpp>
#include <accel/share/gem_exporter.hpp>
#include <accel/uapi/accel_drm.h>

#include <cstdint>
#include <fcntl.h>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <sys/mman.h>

namespace accel {

/// drm_prime_file_private: the file's buffers and handles, one handle per buffer. Each entry
/// holds a reference to its buffer.
struct prime_file_state final : file_extension {
    std::mutex lock; ///< prime.lock: held through a whole import, so one buffer gets one handle
    std::map<const dma_buf*, std::uint32_t> handle_of_buf;
    std::map<std::uint32_t, dma_buf_ref> buf_of_handle;

    /// Caller holds `lock`.
    std::optional<std::uint32_t> find(const dma_buf& b) const {
        auto it = handle_of_buf.find(&b);
        return it == handle_of_buf.end() ? std::nullopt : std::optional<std::uint32_t>(it->second);
    }
    /// Caller holds `lock`.
    dma_buf_ref find(std::uint32_t handle) const {
        auto it = buf_of_handle.find(handle);
        return it == buf_of_handle.end() ? dma_buf_ref() : it->second;
    }
    /// drm_prime_add_buf_handle (caller holds `lock`): -ENOMEM with nothing added.
    int add(dma_buf& b, std::uint32_t handle) noexcept {
        if (detail::alloc_may_fail())
            return -ENOMEM;
        try {
            auto [it, fresh] = handle_of_buf.try_emplace(&b, handle);
            if (!fresh)
                return 0; // the buffer has its handle in this file already
            try {
                buf_of_handle.emplace(handle, dma_buf_ref(&b));
            } catch (...) {
                handle_of_buf.erase(it);
                throw;
            }
        } catch (...) {
            return -ENOMEM;
        }
        return 0;
    }
    /// drm_prime_remove_buf_handle.
    void handle_released(std::uint32_t handle, gem_object&) noexcept override {
        dma_buf_ref drop; // dropped after the lock: it may be the buffer's last reference
        std::lock_guard g(lock);
        auto it = buf_of_handle.find(handle);
        if (it == buf_of_handle.end())
            return;
        drop.swap(it->second);
        auto back = handle_of_buf.find(drop.get());
        if (back != handle_of_buf.end() && back->second == handle)
            handle_of_buf.erase(back);
        buf_of_handle.erase(it);
    }
};

inline prime_file_state* prime_state(file_base& f) {
    return f.extension<prime_file_state>(file_extension_slot::prime, [] { return new (std::nothrow) prime_file_state; });
}

namespace detail {
/// An imported object's memory: the buffer's CPU view and the memfd a client mapping uses,
/// as the exporter gave them; the object's sharing state holds what keeps them valid.
struct import_placement final : bo_placement {
    import_placement(std::byte* cpu, std::uint64_t device_address, int fd, std::uint64_t fd_offset) noexcept {
        cpu_ = cpu;
        device_address_ = device_address;
        fd_ = fd;
        fd_offset_ = fd_offset;
        region_id_ = 0;
    }
};
} // namespace detail

/// drm_gem_prime_import_dev: see the file comment. A new reference to the object.
inline result<gem_ref> gem_prime_import(device_base& dev, dma_buf& buf) {
    using out = result<gem_ref>;
    if (gem_object* own = buf.object(); own && &own->device() == &dev)
        return gem_ref(own); // self-import: the object itself, no attachment
    if (!dev.ops().wrap_object)
        return out::failure(-EINVAL);
    if (detail::alloc_may_fail())
        return out::failure(-ENOMEM);
    std::unique_ptr<gem_share_state> st(new (std::nothrow) gem_share_state);
    if (!st)
        return out::failure(-ENOMEM);
    auto att = buf.attach(dev);
    if (!att)
        return out::failure(att.error());
    st->import_attach = std::move(*att);
    auto cpu = st->import_attach->map(dma_direction::bidirectional);
    if (!cpu)
        return out::failure(cpu.error()); // st's destructor detaches
    if ((*cpu)->empty())
        return out::failure(-EINVAL);
    dma_domain& domain = dev.ops().dma_domain(dev);
    if (int e = detail::callback_may_fail("dma_domain.map"))
        return out::failure(e);
    auto mapped = domain.map(**cpu, dma_direction::bidirectional);
    if (!mapped)
        return out::failure(mapped.error());
    st->device_ranges = std::move(*mapped);
    st->domain = &domain;
    if (st->device_ranges.empty())
        return out::failure(-EINVAL);
    std::byte* view = nullptr;
    if (auto v = buf.vmap()) { // optional: an exporter without vmap gives no CPU view
        view = *v;
        st->vmapped = true;
    } else if (buf.offers_vmap()) {
        // The exporter has a view and failed to give it: answer its error now, not with an
        // object whose CPU view is missing and whose first use faults (-EFAULT in a job).
        return out::failure(v.error());
    }
    int fd = -1;
    std::uint64_t fd_offset = 0;
    if (auto t = buf.mmap(0, buf.size(), PROT_READ | PROT_WRITE, MAP_SHARED)) {
        fd = t->fd; // valid while the attachment holds the buffer and so the exporter's memory
        fd_offset = t->fd_offset;
    }
    std::unique_ptr<bo_placement> placement(
        new (std::nothrow) detail::import_placement(view, st->device_ranges.front().address, fd, fd_offset));
    if (!placement)
        return out::failure(-ENOMEM);
    auto obj = dev.ops().wrap_object(dev, buf.size(), std::move(placement));
    if (!obj)
        return out::failure(obj.error());
    st->dma_buf = dma_buf_ref(&buf); // obj->dma_buf = dma_buf, as drm_gem_prime_fd_to_handle sets it
    gem_share_state* raw = st.get();
    if ((*obj)->extension<gem_share_state>([&] { return st.release(); }) != raw)
        return out::failure(-ENOMEM); // st (still ours) undoes the import; the object goes with `obj`
    (*obj)->set_shared();
    return std::move(*obj);
}

namespace prime {

/// DRM_IOCTL_PRIME_HANDLE_TO_FD.
inline int handle_to_fd(device_base&, file_base& f, void* kdata) {
    auto& a = *static_cast<accel_prime_handle*>(kdata);
    if (a.flags & ~static_cast<__u32>(ACCEL_CLOEXEC | ACCEL_RDWR))
        return -EINVAL;
    gem_ref obj = f.handles().lookup(a.handle);
    if (!obj)
        return -ENOENT;
    prime_file_state* ps = prime_state(f);
    if (!ps)
        return -ENOMEM;
    dma_buf_ref buf;
    {
        std::lock_guard g(ps->lock);
        buf = ps->find(a.handle);
    }
    if (!buf) {
        auto made = gem_export_object(*obj, static_cast<int>(a.flags & ACCEL_RDWR));
        if (!made)
            return made.error();
        buf = std::move(*made);
        std::lock_guard g(ps->lock);
        if (int e = ps->add(*buf, a.handle))
            return e;
    }
    auto fd = fd_install(open_file_ref(buf.get()), static_cast<int>(a.flags & ACCEL_CLOEXEC));
    if (!fd)
        return fd.error();
    a.fd = *fd;
    return 0;
}

/// DRM_IOCTL_PRIME_FD_TO_HANDLE.
inline int fd_to_handle(device_base& dev, file_base& f, void* kdata) {
    auto& a = *static_cast<accel_prime_handle*>(kdata);
    auto buf = dma_buf_get(a.fd);
    if (!buf)
        return buf.error();
    prime_file_state* ps = prime_state(f);
    if (!ps)
        return -ENOMEM;
    std::unique_lock g(ps->lock);
    if (auto h = ps->find(**buf)) {
        a.handle = *h;
        return 0;
    }
    auto obj = gem_prime_import(dev, **buf);
    if (!obj)
        return obj.error();
    auto h = f.handles().create(**obj);
    if (!h)
        return h.error();
    // obj->dma_buf, if unset (a self-import after the last handle went): only once the object
    // has a handle again, whose going drops it, so a failure above leaves no reference cycle.
    if (gem_share_state* st = share_state(**obj)) {
        std::lock_guard sg(st->lock);
        if (!st->dma_buf && (*obj)->handle_count() > 0)
            st->dma_buf = *buf;
    }
    if (int e = ps->add(**buf, *h)) {
        g.unlock();
        (void)f.handles().remove(*h); // drm_gem_handle_delete after the lock, as the kernel unwinds
        return e;
    }
    a.handle = *h;
    return 0;
}

} // namespace prime

namespace detail {
/// The PRIME rows become live when a program includes this header.
inline const bool prime_rows_provided = core_ioctl::provide(ACCEL_IOCTL_PRIME_HANDLE_TO_FD, &prime::handle_to_fd) &&
                                        core_ioctl::provide(ACCEL_IOCTL_PRIME_FD_TO_HANDLE, &prime::fd_to_handle);
} // namespace detail

} // namespace accel

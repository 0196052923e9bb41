// SPDX-License-Identifier: MIT
#pragma once
/// \file `bo<D>`: a driver's buffer object, and the handle helpers its ioctls use.
///
/// A driver that declares `struct object_data` has buffer objects (DRIVER_GEM). It creates them
/// in its own ioctls (as ivpu's BO_CREATE does), hands the client a handle, and finds the object
/// again from a handle in later ioctls:
/// \code
///   static int bo_create(accel::device<npu>& d, accel::file<npu>& f, npu_bo_create& a) {
///       auto bo = accel::bo<npu>::create(d, a.size, /* object_data args */);
///       if (!bo) return bo.error();
///       auto h = accel::create_handle(f, **bo);      // the handle holds its own reference
///       if (!h) return h.error();
///       a.handle = *h;
///       a.mmap_offset = (*bo)->mmap_offset();
///       return 0;                                     // our reference goes with `bo`
///   }
///   auto bo = accel::lookup(f, a.handle);             // null: -ENOENT, as drivers map it
/// \endcode
/// GEM_CLOSE (core) deletes handles; mmap(2) on the node at mmap_offset() maps the object.
///
/// Object operations (drm_gem_object_funcs; the Rust abstraction's object trait) are optional
/// static members of the driver's object_data, detected by signature:
///   static int  open(bo<D>&, file<D>&);    a handle to the object is being created in the file;
///                                          an error fails the handle's creation
///   static void close(bo<D>&, file<D>&);   a handle in the file is going (GEM_CLOSE, or the
///                                          file's close): e.g. unbind the file's VA mappings
///   static void free(bo<D>&);              the last reference went, before the memory goes
///   static result<open_file_ref> export_dmabuf(bo<D>&, int flags);
///                                          funcs->export: the driver's own dma-buf of the
///                                          object (share/dma_buf.hpp's dma_buf_export with the
///                                          driver's exporter, e.g. for device memory); without
///                                          it PRIME uses the default GEM exporter
/// A member with one of these names but another signature is a compile error naming it.
#include <accel/core/descriptors.hpp>
#include <accel/core/device.hpp>
#include <accel/core/driver.hpp>
#include <accel/base/errno.hpp>
#include <accel/base/fault_injection.hpp>
#include <accel/core/gem/object.hpp>
#include <accel/core/gem/offset_index.hpp>
#include <accel/core/gem/placement.hpp>
#include <accel/core/gem/shmem.hpp>
#include <accel/mm/range/best_fit.hpp>
#include <accel/mm/range_manager.hpp>

#include <boost/intrusive_ptr.hpp>

#include <cerrno>
#include <cstdint>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

namespace accel {

namespace gem {
/// The policy behind driver D's fake offsets: `D::mmap_offset_policy` if it names one (any
/// mm::range_lookup policy), else best_fit, drm_mm's placement as drm_vma_offset_add uses it.
template <class D>
struct offset_policy {
    using type = mm::best_fit;
};
template <class D>
    requires requires { typename D::mmap_offset_policy; }
struct offset_policy<D> {
    using type = typename D::mmap_offset_policy;
};

template <class D>
std::unique_ptr<offset_index> make_offset_index() {
    return std::make_unique<offset_index_for<typename offset_policy<D>::type>>();
}
} // namespace gem

template <class D>
class bo;

template <class D>
concept object_has_open = requires(bo<D>& o, file<D>& f) { { D::object_data::open(o, f) } -> std::same_as<int>; };
template <class D>
concept object_has_close = requires(bo<D>& o, file<D>& f) { { D::object_data::close(o, f) } -> std::same_as<void>; };
template <class D>
concept object_has_free = requires(bo<D>& o) { { D::object_data::free(o) } -> std::same_as<void>; };

template <class D>
concept object_has_export = requires(bo<D>& o, int flags) {
    { D::object_data::export_dmabuf(o, flags) } -> std::same_as<result<open_file_ref>>;
};

/// Names the first object hook declared with the wrong signature.
template <class D>
consteval bool diagnose_object_hooks() {
    using O = typename D::object_data;
    if constexpr (requires { &O::open; } && !object_has_open<D>) {
        static_assert(sizeof(D) == 0, "accel object_data: hook `open` must be `static int open(accel::bo<D>&, accel::file<D>&)`");
        return false;
    } else if constexpr (requires { &O::close; } && !object_has_close<D>) {
        static_assert(sizeof(D) == 0, "accel object_data: hook `close` must be `static void close(accel::bo<D>&, accel::file<D>&)`");
        return false;
    } else if constexpr (requires { &O::free; } && !object_has_free<D>) {
        static_assert(sizeof(D) == 0, "accel object_data: hook `free` must be `static void free(accel::bo<D>&)`");
        return false;
    } else if constexpr (requires { &O::export_dmabuf; } && !object_has_export<D>) {
        static_assert(sizeof(D) == 0, "accel object_data: hook `export_dmabuf` must be "
                                      "`static accel::result<accel::open_file_ref> export_dmabuf(accel::bo<D>&, int)`");
        return false;
    } else {
        return true;
    }
}

template <class D>
class bo final : public gem_object {
    static_assert(driver_has_objects<D>, "accel::bo<D>: the driver must declare `struct object_data`");

public:
    using ref = boost::intrusive_ptr<bo>;

    /// drm_gem_object_init + drm_gem_create_mmap_offset: an object of `size` bytes rounded up to
    /// whole pages, its object_data built from `args`. -EINVAL: size 0, or so large that rounding
    /// it up overflows; -ENOMEM: no memory for the object or its backing; -ENOSPC: the device's
    /// mmap offset space is full. Nothing is left behind on failure.
    template <class... Args>
    static result<ref> create(accel::device<D>& dev, std::uint64_t size, Args&&... args) {
        if (!round_to_pages(size))
            return result<ref>::failure(-EINVAL);
        auto backing = shmem_backing::create(size);
        if (!backing)
            return result<ref>::failure(backing.error());
        return make(dev, size, std::move(*backing), nullptr, std::forward<Args>(args)...);
    }

    /// Like create(), with the memory in device memory region `region` (TTM's placement),
    /// aligned to `alignment` (at least a page). -ENOSPC when the region has no room; nothing
    /// is left allocated on any failure.
    template <mm::range_manager Policy, class... Args>
    static result<ref> create_in(accel::device<D>& dev, bo_region<Policy>& region, std::uint64_t size, std::uint64_t alignment,
                                 Args&&... args) {
        if (!round_to_pages(size))
            return result<ref>::failure(-EINVAL);
        auto placement = region.place(size, alignment);
        if (!placement)
            return result<ref>::failure(placement.error());
        return make(dev, size, shmem_backing{}, std::move(*placement), std::forward<Args>(args)...);
    }

    /// An object of `size` bytes (page-granular) whose memory is `placement`, which the object
    /// owns: what an import wraps (gem_prime_import_sg_table). -EINVAL (size), -ENOMEM, -ENOSPC.
    template <class... Args>
    static result<ref> create_wrapped(accel::device<D>& dev, std::uint64_t size, std::unique_ptr<bo_placement> placement,
                                      Args&&... args) {
        if (!placement || !round_to_pages(size))
            return result<ref>::failure(-EINVAL);
        return make(dev, size, shmem_backing{}, std::move(placement), std::forward<Args>(args)...);
    }

    typename D::object_data& data() noexcept { return data_; }
    const typename D::object_data& data() const noexcept { return data_; }
    typename D::object_data* operator->() noexcept { return &data_; }
    accel::device<D>& device() const noexcept { return static_cast<accel::device<D>&>(gem_object::device()); }

private:
    /// Page-granular size; false when `size` is 0 or rounding it up overflows.
    static bool round_to_pages(std::uint64_t& size) noexcept {
        const std::uint64_t page = host_page_size();
        if (size == 0 || size > ~std::uint64_t{0} - (page - 1))
            return false;
        size = (size + page - 1) / page * page;
        return true;
    }

    template <class... Args>
    static result<ref> make(accel::device<D>& dev, std::uint64_t size, shmem_backing backing,
                            std::unique_ptr<bo_placement> placement, Args&&... args) {
        if (detail::alloc_may_fail())
            return result<ref>::failure(-ENOMEM);
        bo* b = nullptr;
        try {
            b = new (std::nothrow) bo(dev, size, std::move(backing), std::move(placement), std::forward<Args>(args)...);
        } catch (...) { // object_data's constructor threw
            return result<ref>::failure(-ENOMEM);
        }
        if (!b)
            return result<ref>::failure(-ENOMEM);
        ref r(b, false); // adopts the creator's reference
        if (int e = b->add_offset())
            return result<ref>::failure(e); // r frees the object and its memory
        return r;
    }

    template <class... Args>
    bo(accel::device<D>& dev, std::uint64_t size, shmem_backing backing, std::unique_ptr<bo_placement> placement, Args&&... args)
        : gem_object(dev, dev.mmap_offsets(), size, std::move(backing), std::move(placement), funcs),
          data_(std::forward<Args>(args)...) {}
    ~bo() = default;

    static bo& typed(gem_object& o) noexcept { return static_cast<bo&>(o); }
    static file<D>& typed(file_base& f) noexcept { return static_cast<file<D>&>(f); }
    static int open_hook(gem_object& o, file_base& f) {
        if constexpr (object_has_open<D>) {
            if (int e = detail::callback_may_fail("object.open"))
                return e;
            return D::object_data::open(typed(o), typed(f));
        } else {
            return 0;
        }
    }
    static void close_hook(gem_object& o, file_base& f) noexcept {
        if constexpr (object_has_close<D>) {
            try {
                D::object_data::close(typed(o), typed(f));
            } catch (...) { // nothing crosses: the handle goes regardless
            }
        }
    }
    static void free_hook(gem_object* o) noexcept {
        if constexpr (object_has_free<D>) {
            try {
                D::object_data::free(typed(*o));
            } catch (...) {
            }
        }
        delete static_cast<bo*>(o);
    }
    static result<open_file*> export_hook(gem_object& o, int flags) {
        if constexpr (object_has_export<D>) {
            if (int e = detail::callback_may_fail("object.export_dmabuf"))
                return result<open_file*>::failure(e);
            result<open_file_ref> r = D::object_data::export_dmabuf(typed(o), flags);
            if (!r)
                return result<open_file*>::failure(r.error());
            return r->detach(); // the reference travels with the pointer
        } else {
            (void)o;
            (void)flags;
            return result<open_file*>::failure(-EOPNOTSUPP);
        }
    }
    static_assert(diagnose_object_hooks<D>());
    static constexpr object_funcs funcs{&open_hook, &close_hook, &free_hook,
                                        object_has_export<D> ? &export_hook : nullptr};

    typename D::object_data data_;
};

template <class D>
using bo_ref = typename bo<D>::ref;

/// A new handle in `f` naming `obj` (drm_gem_handle_create). -ENOMEM, -ENOSPC.
template <class D>
result<std::uint32_t> create_handle(file<D>& f, bo<D>& obj) {
    return f.handles().create(obj);
}

/// The object `handle` names in `f`, or null (another file's handle, closed, never valid).
template <class D>
bo_ref<D> lookup(file<D>& f, std::uint32_t handle) {
    gem_ref r = f.handles().lookup(handle);
    return bo_ref<D>(static_cast<bo<D>*>(r.detach()), false); // a file holds its driver's objects only
}

namespace detail {
template <class D>
result<gem_ref> wrap_object(device_base& dev, std::uint64_t size, std::unique_ptr<bo_placement> placement) {
    if constexpr (std::is_default_constructible_v<typename D::object_data>) {
        auto r = bo<D>::create_wrapped(static_cast<accel::device<D>&>(dev), size, std::move(placement));
        if (!r)
            return result<gem_ref>::failure(r.error());
        return gem_ref(r->detach(), false);
    } else {
        return result<gem_ref>::failure(-EINVAL); // the driver cannot make an object from memory alone
    }
}
} // namespace detail

} // namespace accel

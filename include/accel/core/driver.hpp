// SPDX-License-Identifier: MIT
#pragma once
/// \file The `driver` concept: what a driver type must declare.
///
/// A driver is one type that names everything about itself, as Rust's drm::Driver does:
/// \code
///   struct npu {
///       static constexpr accel::driver_info info{1, 0, 0, "npu", "demo NPU"};
///       struct device_data { ... };   // per device (constructed from device<npu>::create's args)
///       struct file_data { ... };     // per open file (see `open` below)
///       using ioctls = accel::ioctl_table<ACCEL_IOCTL(NPU_IOCTL_SUBMIT, &submit, 0), ...>;
///   };
/// \endcode
/// Optional members are detected, not required (drm_driver's optional hooks):
///   static int  probe(device<D>&);                 at registration; an error fails it
///   static void remove(device<D>&);                at unregistration, after in-flight calls
///   static result<file_data> open(device<D>&);     builds a file's data, or fails the open with
///                                                  its error (the Rust abstraction's
///                                                  File::open); without it file_data is built
///                                                  from device<D>& if it can be, else by default
///   static void postclose(device<D>&, file<D>&);   at close, after the framework's cleanup
///   static unsigned poll(device<D>&, file<D>&);    poll mask bits the driver adds to the file's
///                                                  (accel's hook: DRM's poll knows only events);
///                                                  wake file.event_wait() when they may change
///   static constexpr bool exclusive = true;        one open of the compute node at a time
///   struct object_data { ... };                    buffer objects (DRIVER_GEM): the driver's
///                                                  payload in each bo<D> (core/gem/bo.hpp)
///   static dma_domain& dma_domain(device<D>&);     how the device reaches host memory
///                                                  (core/gem/dma_domain.hpp): what an imported
///                                                  dma-buf's ranges become; default identity
///   info callbacks for ACCEL_IOCTL_INFO (see info_items.hpp).
/// `diagnose_driver<D>()` names the first missing piece instead of listing every constraint, and
/// a member named like an optional hook whose signature does not match is an error naming the
/// hook, never silently ignored.
#include <accel/base/errno.hpp>
#include <accel/core/driver_info.hpp>
#include <accel/core/fwd.hpp>
#include <accel/core/gem/dma_domain.hpp>
#include <accel/core/ioctl_table.hpp>

#include <concepts>
#include <type_traits>

namespace accel {

namespace detail {
template <class T>
inline constexpr bool is_ioctl_table = false;
template <class... Rows>
inline constexpr bool is_ioctl_table<ioctl_table<Rows...>> = true;
} // namespace detail

template <class D>
concept driver = requires {
    typename D::device_data;
    typename D::file_data;
    typename D::ioctls;
    { D::info } -> std::convertible_to<const driver_info&>;
} && std::is_object_v<typename D::device_data> && std::is_object_v<typename D::file_data> &&
                 detail::is_ioctl_table<typename D::ioctls>;

// Optional callbacks: detected through these concepts.
template <class D>
concept driver_has_probe = requires(device<D>& d) { { D::probe(d) } -> std::same_as<int>; };
template <class D>
concept driver_has_remove = requires(device<D>& d) { { D::remove(d) } -> std::same_as<void>; };
template <class D>
concept driver_has_open = requires(device<D>& d) {
    { D::open(d) } -> std::same_as<result<typename D::file_data>>;
};
template <class D>
concept driver_has_postclose = requires(device<D>& d, file<D>& f) { { D::postclose(d, f) } -> std::same_as<void>; };
template <class D>
concept driver_has_poll = requires(device<D>& d, file<D>& f) { { D::poll(d, f) } -> std::same_as<unsigned>; };

template <class D>
concept driver_has_dma_domain = requires(device<D>& d) { { D::dma_domain(d) } -> std::same_as<accel::dma_domain&>; };

/// DRIVER_GEM: the driver has buffer objects, so GEM_CLOSE and mmap work on its nodes.
template <class D>
concept driver_has_objects = requires { typename D::object_data; } && std::is_object_v<typename D::object_data>;

/// Optional features a driver declares, as drm_driver.driver_features does:
///   static constexpr unsigned features = accel::driver_feature::syncobj | accel::driver_feature::syncobj_timeline;
/// Buffer objects (DRIVER_GEM) need no flag: declaring `object_data` is the declaration.
namespace driver_feature {
inline constexpr unsigned syncobj = 1u << 0;          ///< DRIVER_SYNCOBJ: the syncobj ioctls
inline constexpr unsigned syncobj_timeline = 1u << 1; ///< DRIVER_SYNCOBJ_TIMELINE: the timeline ones too
inline constexpr unsigned known = syncobj | syncobj_timeline;
} // namespace driver_feature

template <class D>
constexpr unsigned driver_features() {
    if constexpr (requires { { D::features } -> std::convertible_to<unsigned>; }) {
        static_assert((D::features & ~driver_feature::known) == 0, "accel driver: unknown bits in `features`");
        static_assert(!(D::features & driver_feature::syncobj_timeline) || (D::features & driver_feature::syncobj),
                      "accel driver: driver_feature::syncobj_timeline needs driver_feature::syncobj");
        return D::features;
    } else {
        return 0;
    }
}

template <class D>
constexpr bool driver_is_exclusive() {
    if constexpr (requires { { D::exclusive } -> std::convertible_to<bool>; })
        return D::exclusive;
    else
        return false;
}

/// Explains the first requirement of `driver` that D misses, with a readable message.
template <class D>
consteval bool diagnose_driver() {
    if constexpr (!requires { { D::info } -> std::convertible_to<const driver_info&>; }) {
        static_assert(sizeof(D) == 0, "accel driver: declare `static constexpr accel::driver_info info{...}`");
        return false;
    } else if constexpr (!requires { typename D::device_data; }) {
        static_assert(sizeof(D) == 0, "accel driver: declare the per-device type `device_data` (may be an empty struct)");
        return false;
    } else if constexpr (!requires { typename D::file_data; }) {
        static_assert(sizeof(D) == 0, "accel driver: declare the per-file type `file_data` (may be an empty struct)");
        return false;
    } else if constexpr (!requires { typename D::ioctls; }) {
        static_assert(sizeof(D) == 0, "accel driver: declare `using ioctls = accel::ioctl_table<...>` (may be empty)");
        return false;
    } else if constexpr (!detail::is_ioctl_table<typename D::ioctls>) {
        static_assert(sizeof(D) == 0, "accel driver: `ioctls` must be an accel::ioctl_table<...>");
        return false;
    } else if constexpr (requires { &D::open; } && !driver_has_open<D>) {
        static_assert(sizeof(D) == 0,
                      "accel driver: hook `open` must be `static accel::result<file_data> open(accel::device<D>&)`");
        return false;
    } else if constexpr (requires { &D::probe; } && !driver_has_probe<D>) {
        static_assert(sizeof(D) == 0, "accel driver: hook `probe` must be `static int probe(accel::device<D>&)`");
        return false;
    } else if constexpr (requires { &D::remove; } && !driver_has_remove<D>) {
        static_assert(sizeof(D) == 0, "accel driver: hook `remove` must be `static void remove(accel::device<D>&)`");
        return false;
    } else if constexpr (requires { &D::postclose; } && !driver_has_postclose<D>) {
        static_assert(sizeof(D) == 0,
                      "accel driver: hook `postclose` must be `static void postclose(accel::device<D>&, accel::file<D>&)`");
        return false;
    } else if constexpr (requires { &D::poll; } && !driver_has_poll<D>) {
        static_assert(sizeof(D) == 0,
                      "accel driver: hook `poll` must be `static unsigned poll(accel::device<D>&, accel::file<D>&)`");
        return false;
    } else if constexpr (requires { &D::dma_domain; } && !driver_has_dma_domain<D>) {
        static_assert(sizeof(D) == 0,
                      "accel driver: hook `dma_domain` must be `static accel::dma_domain& dma_domain(accel::device<D>&)`");
        return false;
    } else if constexpr (requires { D::exclusive; } && !requires { { D::exclusive } -> std::convertible_to<bool>; }) {
        static_assert(sizeof(D) == 0, "accel driver: `exclusive` must be `static constexpr bool exclusive`");
        return false;
    } else {
        return true;
    }
}

} // namespace accel

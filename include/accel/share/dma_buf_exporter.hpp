// SPDX-License-Identifier: MIT
#pragma once
/// \file The exporter policy of a dma-buf (struct dma_buf_ops), as a concept.
///
/// An exporter is a type whose object the dma-buf owns (priv + ops in one). Its operations are
/// members, detected by signature; what dma_buf_export demands is required, the rest optional
/// with the kernel's default when absent:
///   required
///     result<dma_ranges> map(dma_buf_attachment&, dma_direction);   map_dma_buf: the buffer's
///                        memory as host-address ranges for that attachment (an sg_table in
///                        the CPU's view; the importer maps it through its own DMA domain)
///     void unmap(dma_buf_attachment&, dma_ranges&, dma_direction);  unmap_dma_buf
///     void release();    the dma-buf's last reference went (every descriptor in any process,
///                        every attachment, every mapping): drop what export took
///   optional
///     int  attach(dma_buf_attachment&);     a device attaches (e.g. -EBUSY, -ENODEV) [0]
///     void detach(dma_buf_attachment&);     [nothing]
///     result<mmap_target> mmap(std::uint64_t offset, std::uint64_t length, int prot, int flags);
///                        the memory a mapping of the dma-buf fd shows, `offset` bytes in, with
///                        the references that keep it alive as long as the mapping [-EINVAL]
///     result<std::byte*> vmap();  void vunmap(std::byte*);   the CPU view, counted by the
///                        dma-buf: vmap runs for the first user only, vunmap when the count
///                        returns to 0; both or neither [-EINVAL]
///     int begin_cpu_access(dma_direction); int end_cpu_access(dma_direction);  DMA_BUF_IOCTL_SYNC [0]
///     dma_resv* resv();       the reservation object the buffer shares (exp_info.resv; null:
///                        the buffer's own)
///     gem_object* object();   the buffer object exported, if it is one: a device importing its
///                        own object's dma-buf gets the object back (self-import) [none]
/// An exporter missing a required operation, declaring one with another signature, or having
/// only one of vmap/vunmap does not compile: diagnose_exporter<E>() names the operation.
#include <accel/base/errno.hpp>
#include <accel/core/gem/dma_domain.hpp>
#include <accel/core/gem/object.hpp>
#include <accel/core/open_file.hpp>
#include <accel/exec/dma_resv.hpp>

#include <concepts>
#include <cstddef>
#include <cstdint>

namespace accel {

class dma_buf;
class dma_buf_attachment;

template <class E>
concept exporter_has_map = requires(E& e, dma_buf_attachment& a, dma_direction d) {
    { e.map(a, d) } -> std::same_as<result<dma_ranges>>;
};
template <class E>
concept exporter_has_unmap = requires(E& e, dma_buf_attachment& a, dma_ranges& r, dma_direction d) {
    { e.unmap(a, r, d) } -> std::same_as<void>;
};
template <class E>
concept exporter_has_release = requires(E& e) { { e.release() } -> std::same_as<void>; };
template <class E>
concept exporter_has_attach = requires(E& e, dma_buf_attachment& a) { { e.attach(a) } -> std::same_as<int>; };
template <class E>
concept exporter_has_detach = requires(E& e, dma_buf_attachment& a) { { e.detach(a) } -> std::same_as<void>; };
template <class E>
concept exporter_has_mmap = requires(E& e, std::uint64_t off, std::uint64_t len, int prot, int flags) {
    { e.mmap(off, len, prot, flags) } -> std::same_as<result<mmap_target>>;
};
template <class E>
concept exporter_has_vmap = requires(E& e, std::byte* p) {
    { e.vmap() } -> std::same_as<result<std::byte*>>;
    { e.vunmap(p) } -> std::same_as<void>;
};
template <class E>
concept exporter_has_begin_cpu_access = requires(E& e, dma_direction d) { { e.begin_cpu_access(d) } -> std::same_as<int>; };
template <class E>
concept exporter_has_end_cpu_access = requires(E& e, dma_direction d) { { e.end_cpu_access(d) } -> std::same_as<int>; };
template <class E>
concept exporter_has_resv = requires(E& e) { { e.resv() } -> std::same_as<dma_resv*>; };
template <class E>
concept exporter_has_object = requires(E& e) { { e.object() } -> std::same_as<gem_object*>; };

/// What dma_buf_export demands: map, unmap and release.
template <class E>
concept dma_buf_exporter = std::move_constructible<E> && exporter_has_map<E> && exporter_has_unmap<E> && exporter_has_release<E>;

/// Names the first operation E lacks or declares with the wrong signature.
template <class E>
consteval bool diagnose_exporter() {
    if constexpr (!requires { &E::map; }) {
        static_assert(sizeof(E) == 0, "accel dma_buf exporter: required operation `map` is missing: "
                                      "`accel::result<accel::dma_ranges> map(accel::dma_buf_attachment&, accel::dma_direction)`");
        return false;
    } else if constexpr (!exporter_has_map<E>) {
        static_assert(sizeof(E) == 0, "accel dma_buf exporter: operation `map` must be "
                                      "`accel::result<accel::dma_ranges> map(accel::dma_buf_attachment&, accel::dma_direction)`");
        return false;
    } else if constexpr (!requires { &E::unmap; }) {
        static_assert(sizeof(E) == 0, "accel dma_buf exporter: required operation `unmap` is missing: "
                                      "`void unmap(accel::dma_buf_attachment&, accel::dma_ranges&, accel::dma_direction)`");
        return false;
    } else if constexpr (!exporter_has_unmap<E>) {
        static_assert(sizeof(E) == 0, "accel dma_buf exporter: operation `unmap` must be "
                                      "`void unmap(accel::dma_buf_attachment&, accel::dma_ranges&, accel::dma_direction)`");
        return false;
    } else if constexpr (!requires { &E::release; }) {
        static_assert(sizeof(E) == 0, "accel dma_buf exporter: required operation `release` is missing: `void release()`");
        return false;
    } else if constexpr (!exporter_has_release<E>) {
        static_assert(sizeof(E) == 0, "accel dma_buf exporter: operation `release` must be `void release()`");
        return false;
    } else if constexpr (requires { &E::attach; } && !exporter_has_attach<E>) {
        static_assert(sizeof(E) == 0, "accel dma_buf exporter: operation `attach` must be `int attach(accel::dma_buf_attachment&)`");
        return false;
    } else if constexpr (requires { &E::detach; } && !exporter_has_detach<E>) {
        static_assert(sizeof(E) == 0, "accel dma_buf exporter: operation `detach` must be `void detach(accel::dma_buf_attachment&)`");
        return false;
    } else if constexpr (requires { &E::mmap; } && !exporter_has_mmap<E>) {
        static_assert(sizeof(E) == 0, "accel dma_buf exporter: operation `mmap` must be "
                                      "`accel::result<accel::mmap_target> mmap(std::uint64_t, std::uint64_t, int, int)`");
        return false;
    } else if constexpr ((requires { &E::vmap; } || requires { &E::vunmap; }) && !exporter_has_vmap<E>) {
        static_assert(sizeof(E) == 0, "accel dma_buf exporter: operations `vmap`/`vunmap` come together as "
                                      "`accel::result<std::byte*> vmap()` and `void vunmap(std::byte*)`");
        return false;
    } else if constexpr (requires { &E::begin_cpu_access; } && !exporter_has_begin_cpu_access<E>) {
        static_assert(sizeof(E) == 0, "accel dma_buf exporter: operation `begin_cpu_access` must be "
                                      "`int begin_cpu_access(accel::dma_direction)`");
        return false;
    } else if constexpr (requires { &E::end_cpu_access; } && !exporter_has_end_cpu_access<E>) {
        static_assert(sizeof(E) == 0, "accel dma_buf exporter: operation `end_cpu_access` must be "
                                      "`int end_cpu_access(accel::dma_direction)`");
        return false;
    } else if constexpr (!std::move_constructible<E>) {
        static_assert(sizeof(E) == 0, "accel dma_buf exporter: the exporter must be move-constructible (the dma-buf owns it)");
        return false;
    } else {
        return true;
    }
}

} // namespace accel

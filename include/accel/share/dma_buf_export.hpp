// SPDX-License-Identifier: MIT
#pragma once
/// \file Making a dma-buf from an exporter (dma_buf_export) and finding one from a descriptor
/// (dma_buf_get).
///
/// `dma_buf_of<E>` is the buffer of exporter type E: its virtual operations are computed from
/// E's members (the optional ones with the kernel's defaults, share/dma_buf_exporter.hpp), and
/// whatever an exporter throws becomes the errno (exception_errno), never an exception across
/// the ioctl boundary.
#include <accel/base/errno.hpp>
#include <accel/base/fault_injection.hpp>
#include <accel/core/descriptors.hpp>
#include <accel/share/dma_buf.hpp>
#include <accel/share/dma_buf_exporter.hpp>

#include <new>
#include <type_traits>
#include <utility>

namespace accel {

/// A dma-buf whose exporter is E (the ops table computed from E's members).
template <dma_buf_exporter E>
class dma_buf_of final : public dma_buf {
public:
    dma_buf_of(E exporter, const dma_buf_export_info& info) noexcept(std::is_nothrow_move_constructible_v<E>)
        : dma_buf(dma_buf_file::fops, info), e_(std::move(exporter)) {
        if constexpr (exporter_has_resv<E>)
            resv_ = e_.resv();
    }
    E& exporter() noexcept { return e_; }

    gem_object* object() noexcept override {
        if constexpr (exporter_has_object<E>)
            return e_.object();
        else
            return nullptr;
    }

private:
    // Nothing an exporter throws crosses: it becomes the errno (exception_errno).
    int do_attach(dma_buf_attachment& a) override {
        if constexpr (exporter_has_attach<E>)
            return guarded([&] {
                if (int e = detail::callback_may_fail("exporter.attach"))
                    return e;
                return e_.attach(a);
            });
        else
            return (void)a, 0;
    }
    void do_detach(dma_buf_attachment& a) noexcept override {
        if constexpr (exporter_has_detach<E>)
            guarded([&] { e_.detach(a); return 0; });
        else
            (void)a;
    }
    result<dma_ranges> do_map(dma_buf_attachment& a, dma_direction d) override {
        if (int e = detail::callback_may_fail("exporter.map"))
            return result<dma_ranges>::failure(e);
        try {
            return e_.map(a, d);
        } catch (...) {
            return result<dma_ranges>::failure(exception_errno());
        }
    }
    void do_unmap(dma_buf_attachment& a, dma_ranges& r, dma_direction d) noexcept override {
        guarded([&] { e_.unmap(a, r, d); return 0; });
    }
    void do_release() noexcept override {
        guarded([&] { e_.release(); return 0; });
    }
    bool has_mmap() const noexcept override { return exporter_has_mmap<E>; }
    result<mmap_target> do_mmap(std::uint64_t off, std::uint64_t len, int prot, int flags) override {
        if constexpr (exporter_has_mmap<E>) {
            if (int e = detail::callback_may_fail("exporter.mmap"))
                return result<mmap_target>::failure(e);
            try {
                return e_.mmap(off, len, prot, flags);
            } catch (...) {
                return result<mmap_target>::failure(exception_errno());
            }
        } else
            return (void)off, (void)len, (void)prot, (void)flags, result<mmap_target>::failure(-EINVAL);
    }
    bool has_vmap() const noexcept override { return exporter_has_vmap<E>; }
    result<std::byte*> do_vmap() override {
        if constexpr (exporter_has_vmap<E>) {
            if (int e = detail::callback_may_fail("exporter.vmap"))
                return result<std::byte*>::failure(e);
            try {
                return e_.vmap();
            } catch (...) {
                return result<std::byte*>::failure(exception_errno());
            }
        } else
            return result<std::byte*>::failure(-EINVAL);
    }
    void do_vunmap(std::byte* p) noexcept override {
        if constexpr (exporter_has_vmap<E>)
            guarded([&] { e_.vunmap(p); return 0; });
        else
            (void)p;
    }
    int do_begin_cpu_access(dma_direction d) override { // guarded by the caller
        if constexpr (exporter_has_begin_cpu_access<E>) {
            if (int e = detail::callback_may_fail("exporter.begin_cpu_access"))
                return e;
            return e_.begin_cpu_access(d);
        }
        else
            return (void)d, 0;
    }
    int do_end_cpu_access(dma_direction d) override {
        if constexpr (exporter_has_end_cpu_access<E>) {
            if (int e = detail::callback_may_fail("exporter.end_cpu_access"))
                return e;
            return e_.end_cpu_access(d);
        }
        else
            return (void)d, 0;
    }

    E e_;
};

/// dma_buf_export: a new dma-buf owning `exporter`, one reference held by the caller.
/// -EINVAL (size 0), -ENOMEM (the exporter is destroyed, never released: export took nothing).
template <class E>
result<dma_buf_ref> dma_buf_export(E exporter, const dma_buf_export_info& info) {
    static_assert(diagnose_exporter<E>());
    if constexpr (dma_buf_exporter<E>) { // (else only the message above, no cascade)
        if (info.size == 0)
            return result<dma_buf_ref>::failure(-EINVAL);
        if (detail::alloc_may_fail())
            return result<dma_buf_ref>::failure(-ENOMEM);
        auto* b = new (std::nothrow) dma_buf_of<E>(std::move(exporter), info);
        if (!b)
            return result<dma_buf_ref>::failure(-ENOMEM);
        return dma_buf_ref(b, false); // adopts the creator's reference
    } else {
        return result<dma_buf_ref>::failure(-EINVAL);
    }
}

/// dma_buf_get: the dma-buf behind the current caller's descriptor `fd` (a new reference).
/// -EBADF: not an open descriptor; -EINVAL: a descriptor of another kind.
inline result<dma_buf_ref> dma_buf_get(int fd) noexcept {
    auto f = fget(fd);
    if (!f)
        return result<dma_buf_ref>::failure(f.error());
    if (!dma_buf::is(**f))
        return result<dma_buf_ref>::failure(-EINVAL);
    return dma_buf_ref(static_cast<dma_buf*>(f->get())); // f's reference goes, this one stays
}

} // namespace accel

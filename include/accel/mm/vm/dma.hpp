// SPDX-License-Identifier: MIT
#pragma once
/// \file Software "DMA" through a device VA: what an example driver's engine does with a job.
///
/// dma_read / dma_write copy between host memory and a device virtual range, walking the page
/// table page by page (translate()) and resolving each physical piece through a phys_map. The
/// device needs read permission to read and write permission to write, as an MMU would check.
/// Each call validates the whole range first, then copies, so a fault (-EFAULT: unmapped,
/// missing permission, physical memory outside every window, or the VA range wrapping) copies
/// nothing.
#include <accel/mm/vm/page_table_format.hpp>
#include <accel/mm/vm/phys_map.hpp>

#include <cerrno>
#include <cstddef>
#include <cstring>

namespace accel::mm::vm {

namespace detail {

/// Calls piece(host, offset, len) for each physically contiguous piece of [va, va + len);
/// first checks every piece, and returns -EFAULT before calling anything if one fails.
template <class PT, class Piece>
int dma_walk(const PT& pt, const phys_map& pm, u64 va, std::size_t len, vm_perm need, Piece&& piece) {
    if (len == 0)
        return 0;
    if (va + (len - 1) < va)
        return -EFAULT;
    for (int pass = 0; pass < 2; ++pass) {
        std::size_t off = 0;
        while (off < len) {
            const u64 at = va + off;
            auto t = pt.translate(at);
            if (!t || !allows(t->perms, need))
                return -EFAULT;
            const u64 in_page = t->page_size - (at & (t->page_size - 1));
            const std::size_t n = in_page < len - off ? static_cast<std::size_t>(in_page) : len - off;
            std::byte* host = pm.resolve(t->pa, n);
            if (!host)
                return -EFAULT;
            if (pass == 1)
                piece(host, off, n);
            off += n;
        }
    }
    return 0;
}

} // namespace detail

/// Device reads [va, va + len) into dst. 0 or -EFAULT (nothing copied).
template <class PT>
int dma_read(const PT& pt, const phys_map& pm, u64 va, void* dst, std::size_t len) {
    auto* out = static_cast<std::byte*>(dst);
    return detail::dma_walk(pt, pm, va, len, vm_perm::read,
                            [&](std::byte* host, std::size_t off, std::size_t n) { std::memcpy(out + off, host, n); });
}

/// Device writes src to [va, va + len). 0 or -EFAULT (nothing copied).
template <class PT>
int dma_write(const PT& pt, const phys_map& pm, u64 va, const void* src, std::size_t len) {
    const auto* in = static_cast<const std::byte*>(src);
    return detail::dma_walk(pt, pm, va, len, vm_perm::write,
                            [&](std::byte* host, std::size_t off, std::size_t n) { std::memcpy(host, in + off, n); });
}

} // namespace accel::mm::vm

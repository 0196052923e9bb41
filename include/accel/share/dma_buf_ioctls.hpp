// SPDX-License-Identifier: MIT
#pragma once
/// \file The ioctls of a dma-buf file (dma_buf_ioctl in dma-buf.c), over the buffer's public
/// operations; share/dma_buf.hpp's file operations dispatch to them. Templates on the buffer
/// type only so that this header needs no complete dma_buf (they run on accel::dma_buf).
///
///   sync              DMA_BUF_IOCTL_SYNC: bits outside READ|WRITE|END, or neither READ nor
///                     WRITE: -EINVAL; READ -> from_device, WRITE -> to_device, both ->
///                     bidirectional; END -> end_cpu_access, else begin_cpu_access; no fence wait
///   set_name          DMA_BUF_SET_NAME_A/_B: strndup_user(arg, DMA_BUF_NAME_LEN)
///   export_sync_file  DMA_BUF_IOCTL_EXPORT_SYNC_FILE
///   import_sync_file  DMA_BUF_IOCTL_IMPORT_SYNC_FILE
/// (the rules are in share/dma_buf.hpp's file comment)
#include <accel/base/errno.hpp>
#include <accel/core/descriptors.hpp>
#include <accel/core/gem/dma_domain.hpp>
#include <accel/core/user_memory.hpp>
#include <accel/exec/dma_resv.hpp>
#include <accel/exec/fence.hpp>
// g++ 12 at -O2 reports a false -Wstringop-overflow inside fence_unwrap_merge (an atomic load
// through a fence& it cannot prove non-null) when these are inlined into some TUs; the code is
// fine (clang and the other TUs agree).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#endif
#include <accel/exec/fence_unwrap.hpp>
#include <accel/share/sync_file.hpp>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#include <cstddef>
#include <cstdint>
#include <fcntl.h>
#include <linux/dma-buf.h>
#include <string_view>
#include <utility>

namespace accel::dma_buf_ioctl {

template <class Buf>
int sync(Buf& b, std::uint64_t arg) noexcept {
    dma_buf_sync s{};
    if (copy_from_user(&s, arg, sizeof s))
        return -EFAULT;
    if (s.flags & ~static_cast<std::uint64_t>(DMA_BUF_SYNC_VALID_FLAGS_MASK))
        return -EINVAL;
    dma_direction dir;
    switch (s.flags & DMA_BUF_SYNC_RW) {
    case DMA_BUF_SYNC_READ:
        dir = dma_direction::from_device;
        break;
    case DMA_BUF_SYNC_WRITE:
        dir = dma_direction::to_device;
        break;
    case DMA_BUF_SYNC_RW:
        dir = dma_direction::bidirectional;
        break;
    default:
        return -EINVAL;
    }
    return (s.flags & DMA_BUF_SYNC_END) ? b.end_cpu_access(dir) : b.begin_cpu_access(dir);
}

/// strndup_user(arg, DMA_BUF_NAME_LEN): the string must end within 32 bytes.
template <class Buf>
int set_name(Buf& b, std::uint64_t arg) noexcept {
    char name[DMA_BUF_NAME_LEN];
    for (std::size_t i = 0; i < sizeof name; ++i) {
        if (copy_from_user(&name[i], arg + i, 1)) // byte by byte: never read past the end
            return -EFAULT;
        if (name[i] == '\0')
            return b.set_name(std::string_view(name, i));
    }
    return -EINVAL;
}

inline int check_sync_file_flags(__u32 flags) noexcept {
    return (flags & ~static_cast<__u32>(DMA_BUF_SYNC_RW)) || !(flags & DMA_BUF_SYNC_RW) ? -EINVAL : 0;
}

/// dma_buf_export_sync_file.
template <class Buf>
int export_sync_file(Buf& b, std::uint64_t arg) noexcept {
    dma_buf_export_sync_file a{};
    if (copy_from_user(&a, arg, sizeof a))
        return -EFAULT;
    if (int e = check_sync_file_flags(a.flags))
        return e;
    auto f = b.resv().get_singleton(resv_usage_rw(a.flags & DMA_BUF_SYNC_WRITE));
    if (!f)
        return f.error();
    fence_ptr fence = *f ? std::move(*f) : signaled_stub();
    if (!fence)
        return -ENOMEM;
    auto sf = sync_file_create(std::move(fence));
    if (!sf)
        return sf.error();
    auto fd = fd_install(std::move(*sf), O_CLOEXEC);
    if (!fd)
        return fd.error();
    a.fd = *fd;
    return copy_to_user(arg, &a, sizeof a) ? -EFAULT : 0; // a failed call gives the fd back
}

/// dma_buf_import_sync_file.
template <class Buf>
int import_sync_file(Buf& b, std::uint64_t arg) noexcept {
    dma_buf_import_sync_file a{};
    if (copy_from_user(&a, arg, sizeof a))
        return -EFAULT;
    if (int e = check_sync_file_flags(a.flags))
        return e;
    // sync_file_get_fence: a descriptor that is not open and one that is no sync file are both
    // "no fence", -EINVAL.
    auto file = fget(a.fd);
    fence_ptr fence = file ? sync_file_get_fence(**file) : nullptr;
    if (!fence)
        return -EINVAL;
    const resv_usage usage = (a.flags & DMA_BUF_SYNC_WRITE) ? resv_usage::write : resv_usage::read;
    unsigned leaves = 0;
    fence_unwrap_for_each(fence, [&](accel::fence&) { ++leaves; });
    if (leaves == 0)
        return 0;
    dma_resv& r = b.resv();
    if (int e = r.lock(nullptr))
        return e;
    int err = r.reserve_fences(leaves);
    if (!err)
        fence_unwrap_for_each(fence, [&](accel::fence& leaf) {
            if (!err)
                err = r.add_fence(fence_ptr(&leaf), usage);
        });
    r.unlock();
    return err;
}

} // namespace accel::dma_buf_ioctl

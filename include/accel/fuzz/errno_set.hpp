// SPDX-License-Identifier: MIT
#pragma once
/// \file Which results an ioctl may give: 0 or a negative errno the kernel's DRM and accel
/// paths (and the VFS around them) actually return. Anything else - a positive value, an
/// errno no kernel ioctl path gives (-ENOTRECOVERABLE, a small negative number that is no errno
/// at all, -512 ERESTARTSYS leaking out) - is a bug at the boundary.
#include <cerrno>

namespace accel::fuzz {

constexpr bool is_kernel_errno(long e) noexcept {
    switch (e) {
    case EPERM: case ENOENT: case ESRCH: case EINTR: case EIO: case ENXIO: case E2BIG:
    case ENOEXEC: case EBADF: case EAGAIN: case ENOMEM: case EACCES: case EFAULT: case EBUSY:
    case EEXIST: case EXDEV: case ENODEV: case ENOTDIR: case EISDIR: case EINVAL: case ENFILE:
    case EMFILE: case ENOTTY: case EFBIG: case ENOSPC: case ESPIPE: case EROFS: case EPIPE:
    case EDOM: case ERANGE: case EDEADLK: case ENAMETOOLONG: case ENOSYS: case ENODATA:
    case ETIME: case EPROTO: case EBADMSG: case EOVERFLOW: case EILSEQ: case EOPNOTSUPP:
    case ECANCELED: case ETIMEDOUT: case EALREADY: case EINPROGRESS: case ESTALE: case EDQUOT:
    case ENOBUFS: case ENOLINK: case ENOMSG: case EHWPOISON: case ENOTCONN: case ESHUTDOWN:
        return true;
    default:
        return false;
    }
}

/// An ioctl result is well-formed: 0, or a negative errno from the set above.
constexpr bool is_ioctl_result(long r) noexcept { return r == 0 || (r < 0 && is_kernel_errno(-r)); }

} // namespace accel::fuzz

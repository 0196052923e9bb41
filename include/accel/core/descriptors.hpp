// SPDX-License-Identifier: MIT
#pragma once
/// \file The caller's descriptor table, as far as a handler may touch it: fd_install and fget.
///
/// Some calls hand the caller a new descriptor (PRIME_HANDLE_TO_FD, SYNC_IOC_MERGE,
/// SYNCOBJ_HANDLE_TO_FD, DMA_BUF_IOCTL_EXPORT_SYNC_FILE) and some take one
/// (PRIME_FD_TO_HANDLE, the sync-file imports). The kernel's handlers use
/// get_unused_fd_flags + fd_install and fget on `current->files`; an accel handler uses
/// accel::fd_install and accel::fget, which go to the table of the current call's caller, as
/// copy_from_user goes to its memory. The backend that delivered the call provides the table:
///   mock: its in-process descriptor table;
///   FUSE: the host publishes the new file under the mount and answers with a token that accel's
///         syscall backend turns into a real descriptor (no FUSE reply can create one); fget
///         takes the caller's descriptor with pidfd_getfd and recognises the files it serves.
///
/// fd_install follows the kernel's order: a descriptor is reserved now and becomes the
/// caller's only if the whole call succeeds (the backend commits when the result is >= 0, after
/// the copy-out); when the call fails - the handler's error, or -EFAULT on copy-out - the
/// number is given back and the file's reference dropped (put_unused_fd), so a failed call
/// leaves no descriptor behind. A handler installs only in a call it answers at once: a call
/// that parks after an install fails with -EINVAL (accel's rule; no kernel handler does it).
#include <accel/base/errno.hpp>
#include <accel/core/open_file.hpp>
#include <accel/core/user_memory.hpp>

#include <boost/intrusive_ptr.hpp>

#include <fcntl.h>

namespace accel {

using open_file_ref = boost::intrusive_ptr<open_file>;

class descriptor_table {
public:
    /// Reserves a descriptor for `file` (the table takes a reference). `flags`: O_CLOEXEC is
    /// the only flag a descriptor has; the file's own flags (O_RDWR) were set when it was made.
    /// The number (for FUSE, the token's placeholder number the syscall backend replaces), or
    /// -EMFILE, -ENOMEM, or -EOPNOTSUPP where the caller cannot receive a descriptor.
    virtual result<int> install(open_file_ref file, int flags) noexcept = 0;
    /// The open file behind the caller's descriptor `fd`, with a reference; -EBADF when `fd` is
    /// not an open descriptor of the caller.
    virtual result<open_file_ref> get(int fd) noexcept = 0;

protected:
    ~descriptor_table() = default;
};

/// fd_install for the current call: see descriptor_table::install. -EOPNOTSUPP outside a call
/// whose backend has a descriptor table.
inline result<int> fd_install(open_file_ref file, int flags) noexcept {
    if (!detail::current_call || !detail::current_call->files)
        return result<int>::failure(-EOPNOTSUPP);
    return detail::current_call->files->install(std::move(file), flags);
}

/// fget for the current call: the caller's open file `fd`, or -EBADF.
inline result<open_file_ref> fget(int fd) noexcept {
    if (fd < 0 || !detail::current_call || !detail::current_call->files)
        return result<open_file_ref>::failure(-EBADF);
    return detail::current_call->files->get(fd);
}

} // namespace accel

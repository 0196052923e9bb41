// SPDX-License-Identifier: MIT
#pragma once
/// \file The open(2) flags a FUSE caller passed, including the ones FUSE does not forward.
///
/// DRM refuses O_EXCL on its nodes with -EBUSY (drm_open_helper), and the conformance suite
/// checks it. The FUSE kernel module strips O_CREAT, O_EXCL and O_NOCTTY from the flags of
/// FUSE_OPEN (fs/fuse/file.c, fuse_send_open), so the server cannot see O_EXCL in the request.
/// The calling thread is blocked inside its open system call while the server answers, though,
/// so /proc/<tid>/syscall shows the call and its arguments (root, or ptrace access to the
/// caller, is needed to read it). This recovers the flags of open, openat and openat2 (whose
/// flags live in the caller's struct open_how). Best effort: anything else (io_uring, a 32-bit
/// caller, no access) yields "unknown" and the server sees only what FUSE forwarded.
#include <accel/fuse/caller_memory.hpp>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <fcntl.h>
#include <optional>
#include <sys/syscall.h>
#include <unistd.h>

namespace accel::fuse {

/// The flags argument of the open-family call thread `tid` is blocked in, if it can be found.
inline std::optional<std::uint64_t> caller_open_flags(pid_t tid) noexcept {
    char path[48];
    std::snprintf(path, sizeof path, "/proc/%d/syscall", static_cast<int>(tid));
    int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return std::nullopt;
    char text[256];
    ssize_t n;
    do
        n = ::read(fd, text, sizeof text - 1);
    while (n < 0 && errno == EINTR);
    ::close(fd);
    if (n <= 0)
        return std::nullopt;
    text[n] = '\0';
    // "<nr> 0x<arg0> 0x<arg1> ... 0x<sp> 0x<pc>", or "running" / "-1 ..." outside a syscall.
    long nr = 0;
    unsigned long long a[4] = {};
    if (std::sscanf(text, "%ld %llx %llx %llx %llx", &nr, &a[0], &a[1], &a[2], &a[3]) != 5)
        return std::nullopt;
#ifdef SYS_open
    if (nr == SYS_open)
        return a[1];
#endif
    if (nr == SYS_openat)
        return a[2];
#ifdef SYS_openat2
    if (nr == SYS_openat2) { // openat2(dirfd, path, struct open_how*, size): flags come first
        std::uint64_t flags = 0;
        if (a[3] >= sizeof flags && read_caller(tid, &flags, a[2], sizeof flags) == 0)
            return flags;
    }
#endif
    return std::nullopt;
}

} // namespace accel::fuse

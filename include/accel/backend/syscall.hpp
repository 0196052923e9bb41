// SPDX-License-Identifier: MIT
#pragma once
/// \file The real backend's client side: every operation is a system call on a real descriptor.
///
/// The same client code that runs on the mock runs here against devices served on a FUSE mount
/// (accel-serve) or against a kernel's /dev/accel/accelN: `root` is "/dev" for kernel devices,
/// or the mount point. Results follow the mock's convention, the kernel's: >= 0 on success, a
/// negative errno on failure. ioctl is retried on EINTR and EAGAIN, as libdrm's drmIoctl does.
/// Descriptors are opened with O_CLOEXEC so a client that forks and execs leaks none.
#include <accel/backend/client_backend.hpp>
#include <accel/base/errno.hpp>
#include <accel/uapi/accel_mmap.h>

#include <cerrno>
#include <cstdint>
#include <fcntl.h>
#include <poll.h>
#include <string>
#include <string_view>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

namespace accel::backend {

class syscall {
public:
    explicit syscall(std::string root = "/dev") : root_(std::move(root)) {
        while (root_.size() > 1 && root_.back() == '/')
            root_.pop_back();
    }

    std::string_view root() const noexcept { return root_; }

    int open(std::string_view path, int flags = O_RDWR) const {
        std::string p(path); // open(2) needs a terminated string
        int fd;
        do
            fd = ::open(p.c_str(), flags | O_CLOEXEC);
        while (fd < 0 && errno == EINTR);
        return fd >= 0 ? fd : -errno;
    }

    int ioctl(int fd, unsigned long request, void* arg) const noexcept {
        int r;
        do
            r = ::ioctl(fd, request, arg);
        while (r == -1 && (errno == EINTR || errno == EAGAIN));
        return r >= 0 ? r : -errno;
    }

    int close(int fd) const noexcept { return ::close(fd) == 0 ? 0 : -errno; }

    long read(int fd, void* buf, std::size_t n) const noexcept {
        ssize_t r = ::read(fd, buf, n);
        return r >= 0 ? static_cast<long>(r) : -errno;
    }
    long write(int fd, const void* buf, std::size_t n) const noexcept {
        ssize_t r = ::write(fd, buf, n);
        return r >= 0 ? static_cast<long>(r) : -errno;
    }
    /// poll(2); not restarted after a signal (-EINTR), as poll(2) is not.
    int poll(struct pollfd* fds, std::size_t n, int timeout_ms) const noexcept {
        int r = ::poll(fds, static_cast<nfds_t>(n), timeout_ms);
        return r >= 0 ? r : -errno;
    }

    /// mmap(2) of a buffer object at its fake offset on the node. First MMAP_PREPARE, so a
    /// FUSE-served node gives the kernel's errors now rather than a SIGBUS at the first touch
    /// (a kernel node answers it with ENOTTY: its mmap(2) checks for itself).
    result<void*> mmap(int fd, std::uint64_t offset, std::size_t length, int prot, int flags) const noexcept {
        accel_mmap_prepare check{offset, length, static_cast<__u32>(prot), static_cast<__u32>(flags)};
        if (int r = ioctl(fd, ACCEL_IOCTL_MMAP_PREPARE, &check); r < 0 && r != -ENOTTY)
            return result<void*>::failure(r);
        void* p = ::mmap(nullptr, length, prot, flags, fd, static_cast<off_t>(offset));
        return p != MAP_FAILED ? result<void*>(p) : result<void*>::failure(-errno);
    }
    int munmap(void* addr, std::size_t length) const noexcept { return ::munmap(addr, length) == 0 ? 0 : -errno; }

private:
    std::string root_;
};

static_assert(client_backend<syscall>);

} // namespace accel::backend

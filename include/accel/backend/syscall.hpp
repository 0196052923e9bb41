// SPDX-License-Identifier: MIT
#pragma once
/// \file The real backend's client side: every operation is a system call on a real descriptor.
///
/// The same client code that runs on the mock runs here against devices served on a FUSE mount
/// (accel-serve) or against a kernel's /dev/accel/accelN: `root` is "/dev" for kernel devices,
/// or the mount point. Results follow the mock's convention, the kernel's: >= 0 on success, a
/// negative errno on failure. ioctl is retried on EINTR and EAGAIN, as libdrm's drmIoctl does.
/// Descriptors are opened with O_CLOEXEC so a client that forks and execs leaks none.
///
/// ioctls that return a descriptor (uapi/accel_fd.h): a FUSE server cannot create a descriptor
/// in its caller, so ioctl() knows which requests return one and where (a client-side table:
/// PRIME_HANDLE_TO_FD and SYNCOBJ_HANDLE_TO_FD with the fd at byte 8, SYNC_IOC_MERGE's `fence`
/// at 36, DMA_BUF_IOCTL_EXPORT_SYNC_FILE's `fd` at 4; a driver's client code adds its own rows
/// with register_fd_ioctl(), before it issues them). Rows match by type, number and direction,
/// whatever the size (older, shorter layouts), when the size holds the field. On a file of an
/// accel FUSE mount - a device node, or a descriptor such a call returned, however it came to
/// this process (also over SCM_RIGHTS) - such a request is sent as ACCEL_IOCTL_FD_CALL; the
/// server runs it and publishes the new file, ioctl() opens the published name relative to the
/// mount's root with O_CLOEXEC and the file's access mode (O_RDWR for a PRIME export with
/// DRM_RDWR, else O_RDONLY as the kernel makes it), and stores the descriptor in the caller's
/// field: the caller sees exactly the kernel's result (but O_CLOEXEC always, as for open()).
/// On any other file (a kernel's /dev/accel node, a kernel dma-buf or sync file) the plain
/// ioctl goes out. Which mount a descriptor lives on comes from statx (AT_STATX_DONT_SYNC: no
/// request to the server) and /proc/self/mountinfo (type fuse.accel, cached per device number;
/// the wrapper answering ENOTTY drops the cache entry and sends the plain ioctl). If the open
/// of the published name fails, ioctl() returns its error and the field holds -1; the server
/// drops the unused publication when its token expires (a few seconds).
#include <accel/backend/client_backend.hpp>
#include <accel/base/errno.hpp>
#include <accel/uapi/accel_drm.h>
#include <accel/uapi/accel_fd.h>
#include <accel/uapi/accel_mmap.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <mutex>
#include <optional>
#include <poll.h>
#include <string>
#include <string_view>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

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
        if (auto off = fd_field(request))
            return fd_ioctl(fd, request, arg, *off);
        return plain_ioctl(fd, request, arg);
    }

    /// Adds a request that returns a descriptor in the __s32 field at byte `fd_offset` of its
    /// argument (see the file comment). Process-wide, for every syscall backend; register before
    /// issuing it. 0, -EINVAL (the field does not fit the request's size), -EEXIST (known with
    /// another offset), -ENOSPC (64 rows registered).
    static int register_fd_ioctl(unsigned long request, std::uint32_t fd_offset) noexcept {
        if (fd_offset % 4 != 0 || std::uint64_t{fd_offset} + 4 > _IOC_SIZE(request))
            return -EINVAL;
        auto& reg = registry();
        std::lock_guard lock(reg.m);
        if (auto known = fd_field(request))
            return *known == fd_offset ? 0 : -EEXIST;
        const std::size_t n = reg.count.load(std::memory_order_relaxed);
        if (n == reg.rows.size())
            return -ENOSPC;
        reg.rows[n] = {request, fd_offset};
        reg.count.store(n + 1, std::memory_order_release); // the row is written before it is seen
        return 0;
    }

    /// Where `request` returns a descriptor, if it does (see the file comment).
    static std::optional<std::uint32_t> fd_field(unsigned long request) noexcept {
        for (const fd_row& r : builtin_rows)
            if (same_request(r.request, request))
                return fits(r, request);
        auto& reg = registry();
        const std::size_t n = reg.count.load(std::memory_order_acquire);
        for (std::size_t i = 0; i < n; ++i)
            if (same_request(reg.rows[i].request, request))
                return fits(reg.rows[i], request);
        return std::nullopt;
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
    struct fd_row {
        unsigned long request;
        std::uint32_t fd_offset;
    };
    static constexpr fd_row builtin_rows[] = {
        {ACCEL_IOCTL_PRIME_HANDLE_TO_FD, 8}, // struct accel_prime_handle: fd
        {0xC01864C1ul, 8},                   // DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD: drm_syncobj_handle.fd
        {0xC0303E03ul, 36},                  // SYNC_IOC_MERGE: sync_merge_data.fence
        {0xC0086202ul, 4},                   // DMA_BUF_IOCTL_EXPORT_SYNC_FILE: dma_buf_export_sync_file.fd
    };
    struct fd_registry {
        std::mutex m;
        std::array<fd_row, 64> rows{};
        std::atomic<std::size_t> count{0};
    };
    static fd_registry& registry() noexcept {
        static fd_registry r;
        return r;
    }
    static constexpr unsigned long size_bits = static_cast<unsigned long>(_IOC_SIZEMASK) << _IOC_SIZESHIFT;
    static bool same_request(unsigned long a, unsigned long b) noexcept { return (a & ~size_bits) == (b & ~size_bits); }
    static std::optional<std::uint32_t> fits(const fd_row& r, unsigned long request) noexcept {
        if (std::uint64_t{r.fd_offset} + 4 > _IOC_SIZE(request))
            return std::nullopt; // a layout too short to hold the field: not this call
        return r.fd_offset;
    }

    static int plain_ioctl(int fd, unsigned long request, void* arg) noexcept {
        int r;
        do
            r = ::ioctl(fd, request, arg);
        while (r == -1 && (errno == EINTR || errno == EAGAIN));
        return r >= 0 ? r : -errno;
    }

    /// The root of the accel FUSE mount holding `fd`'s file, or nullopt for any other file.
    struct mount_entry {
        dev_t dev;
        bool accel;
        std::string root;
    };
    struct mount_cache {
        std::mutex m;
        std::vector<mount_entry> entries;
    };
    static mount_cache& mounts() noexcept {
        static mount_cache c;
        return c;
    }
    static bool device_of(int fd, dev_t& dev) noexcept {
        struct statx stx {};
        if (::statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_INO, &stx) != 0)
            return false;
        dev = makedev_(stx.stx_dev_major, stx.stx_dev_minor);
        return true;
    }
    static constexpr dev_t makedev_(unsigned maj, unsigned min) noexcept {
        return static_cast<dev_t>((std::uint64_t{maj & 0xfffff000u} << 32) | (std::uint64_t{maj & 0xfffu} << 8) |
                                  (std::uint64_t{min & 0xffffff00u} << 12) | std::uint64_t{min & 0xffu});
    }
    /// mountinfo's octal escapes (\040 for a space) undone.
    static std::string unescape(std::string_view s) {
        std::string out;
        for (std::size_t i = 0; i < s.size(); ++i) {
            if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '3') {
                out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
                i += 3;
            } else {
                out += s[i];
            }
        }
        return out;
    }
    /// Looks `dev` up in /proc/self/mountinfo: an accel FUSE mount of the file system's root.
    static mount_entry find_mount(dev_t dev) {
        mount_entry e{dev, false, {}};
        std::FILE* f = std::fopen("/proc/self/mountinfo", "re");
        if (!f)
            return e;
        char line[4096];
        while (std::fgets(line, sizeof line, f)) {
            unsigned maj = 0, min = 0;
            char root[1024], point[1024];
            if (std::sscanf(line, "%*u %*u %u:%u %1023s %1023s", &maj, &min, root, point) != 4 || makedev_(maj, min) != dev)
                continue;
            const char* dash = std::strstr(line, " - ");
            char type[64];
            if (!dash || std::sscanf(dash + 3, "%63s", type) != 1)
                continue;
            if (std::string_view(type) == "fuse.accel" && std::string_view(root) == "/") {
                e.accel = true;
                e.root = unescape(point);
                break;
            }
        }
        std::fclose(f);
        return e;
    }
    static std::optional<std::string> accel_mount_of(dev_t dev) {
        auto& c = mounts();
        {
            std::lock_guard lock(c.m);
            for (const auto& e : c.entries)
                if (e.dev == dev)
                    return e.accel ? std::optional<std::string>(e.root) : std::nullopt;
        }
        mount_entry e = find_mount(dev);
        std::lock_guard lock(c.m);
        std::erase_if(c.entries, [&](const mount_entry& o) { return o.dev == dev; });
        c.entries.push_back(e);
        return e.accel ? std::optional<std::string>(e.root) : std::nullopt;
    }
    static void forget_mount(dev_t dev) noexcept {
        auto& c = mounts();
        std::lock_guard lock(c.m);
        std::erase_if(c.entries, [&](const mount_entry& o) { return o.dev == dev; });
    }

    /// An fd-returning request (see the file comment).
    static int fd_ioctl(int fd, unsigned long request, void* arg, std::uint32_t off) noexcept {
        dev_t dev = 0;
        std::optional<std::string> root;
        try {
            if (device_of(fd, dev))
                root = accel_mount_of(dev);
        } catch (...) {
            return -ENOMEM;
        }
        if (!root)
            return plain_ioctl(fd, request, arg);
        accel_fd_call w{};
        w.cmd = request;
        w.arg = static_cast<__u64>(reinterpret_cast<std::uintptr_t>(arg));
        w.fd_offset = off;
        const std::size_t size = _IOC_SIZE(request);
        const bool inline_arg = size <= sizeof w.data && arg; // the server then reads no memory of ours
        if (inline_arg) {
            w.flags = ACCEL_FD_CALL_INLINE;
            std::memcpy(w.data, arg, size);
        }
        const int r = plain_ioctl(fd, ACCEL_IOCTL_FD_CALL, &w);
        if (r == -ENOTTY) { // not an accel server after all (a stale cache entry)
            forget_mount(dev);
            return plain_ioctl(fd, request, arg);
        }
        if (inline_arg) // the argument as the call left it (copied out on failure too; untouched
            std::memcpy(arg, w.data, size); // when the wrapper itself refused: our own copy)
        if (r < 0 || w.name[0] == '\0')
            return r;
        w.name[sizeof w.name - 1] = '\0';
        int nfd;
        try {
            auto open_in = [&](const std::string& r) {
                char path[4096]; // the root and the name, on the stack: no allocation
                if (r.size() + 1 + std::strlen(w.name) + 1 > sizeof path) {
                    errno = ENAMETOOLONG;
                    return -1;
                }
                std::memcpy(path, r.data(), r.size());
                path[r.size()] = '/';
                std::strcpy(path + r.size() + 1, w.name);
                int n;
                do
                    n = ::open(path, static_cast<int>(w.open_flags & O_ACCMODE) | O_CLOEXEC);
                while (n < 0 && errno == EINTR);
                return n;
            };
            nfd = open_in(*root);
            if (const int first = errno; nfd < 0 && (first == ENOENT || first == ENOTDIR || first == ENOTCONN)) {
                // The cached root may be an older mount's that had the same device number: look
                // again (the token is unused, since the path never reached this mount).
                forget_mount(dev);
                if (auto again = accel_mount_of(dev); again && *again != *root)
                    nfd = open_in(*again);
                else
                    errno = first;
            }
        } catch (...) {
            nfd = -1;
            errno = ENOMEM;
        }
        const std::int32_t out = nfd >= 0 ? nfd : -1;
        const int e = errno;
        std::memcpy(static_cast<char*>(arg) + off, &out, sizeof out);
        return nfd >= 0 ? r : -e;
    }

    std::string root_;
};

static_assert(client_backend<syscall>);

} // namespace accel::backend

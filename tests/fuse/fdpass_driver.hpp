// SPDX-License-Identifier: MIT
// A FUSE-test-only driver for descriptors a call makes (core/descriptors.hpp, fuse/published_files.hpp):
// FDP_MAKE fd_installs a "blob" file - a file kind of the test's own, as a dma-buf or a sync file
// is one - with an ioctl, a wakeable poll and an mmap of a memfd-backed buffer object; FDP_IMPORT
// fgets a descriptor back. Served as device 3 by the fdpass test program (test_server.hpp's
// extra device).
#pragma once
#include <accel/accel.hpp>
#include <accel/core/descriptors.hpp>

#include <atomic>
#include <cstring>
#include <map>
#include <mutex>
#include <sys/mman.h>

/* FDP_MAKE: a blob file. id 0: a new one; else the device's blob `id` (made at its first use and
 * kept until FDP_FORGET, as a GEM object keeps its dma-buf): exported twice, one file. */
struct fdp_make {
	__u32 id;
	__u32 flags; /* O_RDWR: the file is writable; O_CLOEXEC: asked for the descriptor */
	__s32 fd;    /* out */
	__u32 fail;  /* 1: the handler fails with -EIO after installing */
};
struct fdp_import {
	__s32 fd;
	__u32 id; /* out: the blob's id */
};
struct fdp_stats {
	__u32 live; /* blob files not yet released */
	__u32 pad;
};
#define FDP_IOCTL_MAKE ACCEL_IOWR(0x40, struct fdp_make)
#define FDP_IOCTL_IMPORT ACCEL_IOWR(0x41, struct fdp_import)
#define FDP_IOCTL_STATS ACCEL_IOWR(0x42, struct fdp_stats)
#define FDP_IOCTL_FORGET ACCEL_IOWR(0x43, struct fdp_import) /* drops the device's blob `id` */
/* "The device" fills the device's blob `id` with the byte `fd` (no descriptor of it needed). */
#define FDP_IOCTL_FILL ACCEL_IOWR(0x44, struct fdp_import)

/* The blob file's own ioctls (its file operations, not the device's table). */
struct blob_info {
	__u32 id;
	__u32 size;
};
#define BLOB_IOC_INFO _IOR('B', 1, struct blob_info)
#define BLOB_IOC_SIGNAL _IO('B', 2)         /* POLLIN from now on */
#define BLOB_IOC_FILL _IOW('B', 3, __u32)   /* "the device" fills the buffer with a byte, then signals */
#define BLOB_IOC_PEEK _IOR('B', 4, __u32)   /* the buffer's first word, as the driver sees it */
/* A new blob file (id + 100) on the same buffer, as EXPORT_SYNC_FILE makes a file from a
 * dma-buf: an fd-returning ioctl of a file that is itself a published descriptor. */
struct blob_clone {
	__s32 fd; /* out */
	__u32 flags; /* O_CLOEXEC */
};
#define BLOB_IOC_CLONE _IOWR('B', 5, struct blob_clone)

namespace accel::test {

inline constexpr std::uint64_t blob_size = 2 * 4096;

struct fdpass_driver;

/// The blob file kind.
struct blob_file final : accel::open_file {
    static const file_operations fops;
    blob_file(int flags, std::uint32_t i, gem_ref o, std::atomic<unsigned>& live_count)
        : accel::open_file(fops, flags), id(i), obj(std::move(o)), live(&live_count) {
        ++*live;
    }
    ~blob_file() { --*live; }
    std::uint32_t id;
    gem_ref obj;
    std::atomic<unsigned>* live;
    std::atomic<bool> ready{false};
    wait_queue readers;

    void signal() noexcept {
        ready = true;
        readers.wake_all();
    }
};

inline const file_operations blob_file::fops{
    .kind = "fdp_blob",
    .ioctl = [](accel::open_file& of, ioctl_cmd cmd, std::uint64_t arg) noexcept -> int {
        auto& b = static_cast<blob_file&>(of);
        switch (cmd) {
        case BLOB_IOC_INFO: {
            blob_info i{b.id, static_cast<__u32>(b.obj->size())};
            return copy_to_user(arg, i);
        }
        case BLOB_IOC_SIGNAL:
            b.signal();
            return 0;
        case BLOB_IOC_FILL: {
            __u32 v;
            if (int e = copy_from_user(v, arg))
                return e;
            std::memset(b.obj->vaddr(), static_cast<int>(v & 0xff), b.obj->size());
            b.obj->device_wrote(); // after the write, before the signal (coherency.hpp)
            b.signal();
            return 0;
        }
        case BLOB_IOC_CLONE: {
            blob_clone c;
            if (int e = copy_from_user(c, arg))
                return e;
            open_file_ref f;
            try {
                f = open_file_ref(new blob_file(b.flags() & O_ACCMODE, b.id + 100, b.obj, *b.live), false);
            } catch (...) {
                return -ENOMEM;
            }
            auto fd = fd_install(std::move(f), static_cast<int>(c.flags) & O_CLOEXEC);
            if (!fd)
                return fd.error();
            c.fd = *fd;
            return copy_to_user(arg, c);
        }
        case BLOB_IOC_PEEK: {
            __u32 v;
            std::memcpy(&v, b.obj->vaddr(), sizeof v);
            return copy_to_user(arg, v);
        }
        default:
            return -ENOTTY;
        }
    },
    .poll = [](accel::open_file& of, poll_table& pt) noexcept -> unsigned {
        auto& b = static_cast<blob_file&>(of);
        pt.wait(b.readers);
        return b.ready ? POLLIN | POLLRDNORM : 0u;
    },
    .mmap = [](accel::open_file& of, std::uint64_t offset, std::uint64_t length, int prot, int flags) -> result<mmap_target> {
        auto& b = static_cast<blob_file&>(of);
        if (!(flags & MAP_SHARED))
            return result<mmap_target>::failure(-EINVAL);
        if ((prot & PROT_WRITE) && !b.writable())
            return result<mmap_target>::failure(-EACCES);
        if (length == 0 || offset > b.obj->size() || length > b.obj->size() - offset)
            return result<mmap_target>::failure(-EINVAL);
        return mmap_target{b.obj->backing_fd(), b.obj->backing_offset() + offset, b.obj, device_ref(&b.obj->device())};
    },
    .llseek = [](accel::open_file& of, long long offset, int whence) noexcept -> long long {
        auto& b = static_cast<blob_file&>(of); // dma_buf_llseek: the size, and nothing else
        if (offset != 0 || (whence != SEEK_SET && whence != SEEK_END))
            return -EINVAL;
        return whence == SEEK_END ? static_cast<long long>(b.obj->size()) : 0;
    },
    .release = [](accel::open_file& of) noexcept { delete &static_cast<blob_file&>(of); },
};

struct fdpass_driver {
    static constexpr driver_info info{1, 0, 0, "fdpass", "accel FUSE descriptor test driver"};
    struct device_data {
        std::mutex m;
        std::map<std::uint32_t, open_file_ref> cached; // id -> its blob (the "export cache")
    };
    struct file_data {};
    struct object_data {};
    using dev = device<fdpass_driver>;
    using fil = file<fdpass_driver>;

    /// Blob files alive, in any device (the server's side of "released").
    static std::atomic<unsigned>& live() {
        static std::atomic<unsigned> n{0};
        return n;
    }

    static result<open_file_ref> blob(dev& d, std::uint32_t id, int flags) {
        std::lock_guard lock(d->m);
        if (id)
            if (auto it = d->cached.find(id); it != d->cached.end())
                return it->second;
        auto obj = bo<fdpass_driver>::create(d, blob_size);
        if (!obj)
            return result<open_file_ref>::failure(obj.error());
        open_file_ref f(new blob_file(flags & O_ACCMODE, id, gem_ref(obj->get()), live()), false);
        if (id)
            d->cached.emplace(id, f);
        return f;
    }

    static int make(dev& d, fil&, fdp_make& a) {
        auto f = blob(d, a.id, static_cast<int>(a.flags));
        if (!f)
            return f.error();
        auto fd = fd_install(std::move(*f), static_cast<int>(a.flags) & O_CLOEXEC);
        if (!fd)
            return fd.error();
        a.fd = *fd;
        return a.fail == 1 ? -EIO : 0;
    }
    static int import(dev&, fil&, fdp_import& a) {
        auto f = fget(a.fd);
        if (!f)
            return f.error();
        if ((*f)->fops().kind != "fdp_blob")
            return -EINVAL; // dma_buf_get's answer for a descriptor of another kind
        a.id = static_cast<blob_file&>(**f).id;
        return 0;
    }
    static int stats(dev&, fil&, fdp_stats& a) {
        a.live = live().load();
        return 0;
    }
    static int forget(dev& d, fil&, fdp_import& a) {
        open_file_ref drop;
        std::lock_guard lock(d->m);
        auto it = d->cached.find(a.id);
        if (it == d->cached.end())
            return -ENOENT;
        drop = std::move(it->second);
        d->cached.erase(it);
        return 0;
    }
    static int fill(dev& d, fil&, fdp_import& a) {
        std::lock_guard lock(d->m);
        auto it = d->cached.find(a.id);
        if (it == d->cached.end())
            return -ENOENT;
        auto& b = static_cast<blob_file&>(*it->second);
        std::memset(b.obj->vaddr(), a.fd & 0xff, b.obj->size());
        b.obj->device_wrote();
        b.signal();
        return 0;
    }
    using ioctls = ioctl_table<ACCEL_IOCTL_FD(FDP_IOCTL_MAKE, &make, ioctl_flags::render_allow, offsetof(struct fdp_make, fd)),
                               ACCEL_IOCTL(FDP_IOCTL_IMPORT, &import, ioctl_flags::render_allow),
                               ACCEL_IOCTL(FDP_IOCTL_STATS, &stats, ioctl_flags::render_allow),
                               ACCEL_IOCTL(FDP_IOCTL_FORGET, &forget, ioctl_flags::render_allow),
                               ACCEL_IOCTL(FDP_IOCTL_FILL, &fill, ioctl_flags::render_allow)>;
};

} // namespace accel::test

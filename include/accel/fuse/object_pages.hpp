// SPDX-License-Identifier: MIT
#pragma once
/// \file Buffer objects mapped through a FUSE-served node: page faults and writeback.
///
/// mmap(2) on a FUSE file never reaches the server: the kernel maps the file's page cache, fills
/// a page on first touch with a READ request at its offset and writes dirty pages back with
/// WRITE requests. The host answers those from the object whose fake offset range holds the
/// page, so a client's mapping shows the object's memory, with these differences from a kernel
/// node, where the mapping IS the object's memory:
///   - Coherency: the client's mapping is a cached copy. The host makes each ioctl on the file a
///     synchronisation point: before the driver's handler runs, the client's dirty pages of
///     every object the file has mapped are written back; after it, those pages are dropped, so
///     the next touch reads what the driver left. Between ioctls, msync(MS_SYNC) also writes
///     back. (The notification is fuse_lowlevel_notify_inval_inode, which writes dirty pages
///     back before dropping them.)
///   - Checks: mmap(2) itself cannot fail with drm_gem_mmap's errors; MMAP_PREPARE
///     (uapi/accel_mmap.h) makes them up front, and a fault the checks would refuse gets EIO,
///     which the client sees as SIGBUS.
///   - Lifetime: the kernel keeps the file open while a mapping exists, so the host pins every
///     object a file maps (MMAP_PREPARE or first fault) until the file is released; at release
///     the pinned ranges are dropped from the cache before the objects can go, so an offset
///     reused by a later object never shows stale pages.
///   - Isolation: the page cache belongs to an inode, so the compute node has one inode per
///     process (inodes.hpp); within one process, descriptors share cached pages.
/// Readahead is off on the mount (max_readahead 0), so a fault reads only its own page and
/// never caches a neighbouring object's pages.
#ifndef FUSE_USE_VERSION
#define FUSE_USE_VERSION 312
#endif
#include <fuse3/fuse_lowlevel.h>

#include <accel/core/device_base.hpp>
#include <accel/base/errno.hpp>
#include <accel/core/file_base.hpp>
#include <accel/core/gem/object.hpp>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <sys/types.h>
#include <unistd.h>
#include <utility>
#include <vector>

namespace accel::fuse {

/// The process a thread belongs to (its thread group id), from /proc; 0 if it cannot be read.
inline std::uint32_t thread_group_of(pid_t tid) noexcept {
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%d/status", static_cast<int>(tid));
    std::FILE* f = std::fopen(path, "re");
    if (!f)
        return 0;
    char line[256];
    unsigned long tgid = 0;
    while (std::fgets(line, sizeof line, f))
        if (std::sscanf(line, "Tgid: %lu", &tgid) == 1)
            break;
    std::fclose(f);
    return static_cast<std::uint32_t>(tgid);
}

struct object_pages {
    /// The object a fault of `f` at byte `offset` reaches: one `f` has pinned, or one it may map
    /// now (it holds a handle), which is then pinned. -EIO when no object is there or the file
    /// may not map it (the client gets SIGBUS, as for a fault outside a kernel mapping),
    /// -ENOMEM when the pin cannot be recorded.
    static result<gem_ref> reach(file_base& f, std::uint64_t offset) {
        const std::uint64_t page = host_page_size();
        gem_ref obj = f.base_device().mmap_offsets().with_containing(offset / page, &gem_object::get_from_offset_node);
        if (!obj)
            return result<gem_ref>::failure(-EIO);
        if (!f.mapping_pinned(*obj)) {
            if (!obj->mmap_allowed(f))
                return result<gem_ref>::failure(-EIO);
            if (int e = f.pin_mapping(*obj))
                return result<gem_ref>::failure(e);
        }
        return obj;
    }

    /// Where a READ or WRITE at `offset` lands: the object (kept alive by `ref`), and where that
    /// offset is in the object's memfd and how many of its bytes lie from there on. Replies the
    /// error itself and returns an empty target when there is none.
    struct target {
        gem_ref ref;
        off_t pos = 0;
        std::uint64_t in_object = 0;
    };
    static target locate(fuse_req_t req, file_base& f, std::uint64_t offset) {
        auto obj = reach(f, offset);
        if (!obj) {
            fuse_reply_err(req, -obj.error());
            return {};
        }
        const std::uint64_t at = offset - (*obj)->mmap_offset();
        const std::uint64_t in_object = (*obj)->size() - at;
        const auto pos = static_cast<off_t>((*obj)->backing_offset() + at);
        return {std::move(*obj), pos, in_object};
    }

    // The bytes move between the request and the object's memfd by the kernel (the reply is
    // spliced or read from the fd, the write is a pwrite), never through the driver's mapping:
    // like a device's DMA, they are ordered with the driver's own accesses by the ioctl
    // synchronisation points only.

    /// READ at `offset`: exactly `size` bytes, the object's and zeros past its end (a short
    /// read would make the kernel shrink the file's cached size).
    static void read(fuse_req_t req, file_base& f, std::uint64_t offset, std::size_t size) {
        target t = locate(req, f, offset);
        if (!t.ref)
            return;
        if (size <= t.in_object) {
            fuse_bufvec from_fd{}; // FUSE_BUFVEC_INIT is a C compound literal
            from_fd.count = 1;
            from_fd.buf[0].size = size;
            from_fd.buf[0].flags = static_cast<fuse_buf_flags>(FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK);
            from_fd.buf[0].fd = t.ref->backing_fd();
            from_fd.buf[0].pos = t.pos;
            fuse_reply_data(req, &from_fd, FUSE_BUF_SPLICE_MOVE);
            return;
        }
        std::vector<char> buf(size, 0);
        if (::pread(t.ref->backing_fd(), buf.data(), static_cast<std::size_t>(t.in_object), t.pos) < 0) {
            fuse_reply_err(req, EIO);
            return;
        }
        fuse_reply_buf(req, buf.data(), size);
    }

    /// WRITE (writeback of dirty pages) at `offset`: the bytes inside the object land in it;
    /// the whole request is acknowledged, as a page straddling the object's end is written whole.
    static void write(fuse_req_t req, file_base& f, std::uint64_t offset, const char* data, std::size_t size) {
        target t = locate(req, f, offset);
        if (!t.ref)
            return;
        const auto n = static_cast<std::size_t>(size < t.in_object ? size : t.in_object);
        if (::pwrite(t.ref->backing_fd(), data, n, t.pos) != static_cast<ssize_t>(n)) {
            fuse_reply_err(req, EIO);
            return;
        }
        fuse_reply_write(req, size);
    }

    /// Writes back and drops the cached pages of every object `f` has mapped, in the inode
    /// `view` (see the file comment: called around each ioctl and at release).
    static void sync(fuse_session* se, fuse_ino_t view, const file_base& f) noexcept {
        try {
            std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges; // no allocation when nothing is mapped
            f.for_each_mapping([&](const gem_object& o) { ranges.emplace_back(o.mmap_offset(), o.size()); });
            for (auto [off, len] : ranges) // -ENOENT: the inode has no cached pages at all
                fuse_lowlevel_notify_inval_inode(se, view, static_cast<off_t>(off), static_cast<off_t>(len));
        } catch (...) {
            // Out of memory for the list: whole-inode invalidation needs no list.
            fuse_lowlevel_notify_inval_inode(se, view, 0, 0);
        }
    }
};

} // namespace accel::fuse

// SPDX-License-Identifier: MIT
#pragma once
/// \file The page-fault path: page faults and writeback of buffer objects mapped through a
/// FUSE-served compute node.
///
/// mmap(2) on a FUSE file never reaches the server: the kernel maps the file's page cache (the
/// caller's per-process view of the node, process_view.hpp), fills a page on first touch with a
/// READ request at its offset, and writes dirty pages back with WRITE requests (msync, an
/// ioctl's sync point - coherency.hpp -, memory pressure, close). That holds for the compute
/// node's direct-I/O file too (FUSE_DIRECT_IO_ALLOW_MMAP, kernel_flags.hpp), where read(2) and
/// write(2) come as READ and WRITE as well: the host tells them apart by what the kernel marks
/// (a read(2) carries a lock owner, writeback FUSE_WRITE_CACHE; handlers.hpp) and answers the
/// page cache's from the object whose fake offset range holds the page:
///   serve_page_fault  READ: the object's bytes, from its memfd;
///   serve_writeback   WRITE: into the object's memfd.
/// Authorisation is by view, not by the request's file handle (see process_view.hpp for why):
/// a fault reaches an object pinned in the view, or one the faulting file holds a handle to
/// (then it is pinned); writeback reaches an object pinned in the view, or one the writing
/// file holds a handle to. Anything else gets EIO, which a faulting client sees as SIGBUS, as
/// for a fault outside a kernel mapping. mmap(2)'s own errors cannot come from here:
/// MMAP_PREPARE (uapi/accel_mmap.h) checks first.
/// Readahead is off on the mount (max_readahead 0), so a fault reads only its own page and
/// never caches a neighbouring object's pages.
#include <accel/base/errno.hpp>
#include <accel/base/page_size.hpp>
#include <accel/core/device_base.hpp>
#include <accel/core/file_base.hpp>
#include <accel/core/gem/object.hpp>
#include <accel/fuse/lowlevel.hpp>
#include <accel/fuse/process_view.hpp>

#include <cerrno>
#include <cstdint>
#include <sys/types.h>
#include <unistd.h>
#include <utility>
#include <vector>

namespace accel::fuse {

namespace detail {

/// The live object whose fake offset range holds byte `offset` of `f`'s device, or null.
inline gem_ref object_at(const file_base& f, std::uint64_t offset) {
    return f.base_device().mmap_offsets().with_containing(offset / host_page_size(), &gem_object::get_from_offset_node);
}

/// Where a fault or a writeback at `offset` lands: the object (kept alive by `ref`), where that
/// offset is in the object's memfd, and how many of the object's bytes lie from there on.
struct page_target {
    gem_ref ref;
    off_t pos = 0;
    std::uint64_t in_object = 0;
};
inline page_target target_in(gem_ref obj, std::uint64_t offset) {
    const std::uint64_t at = offset - obj->mmap_offset();
    const std::uint64_t in_object = obj->size() - at;
    const auto pos = static_cast<off_t>(obj->backing_offset() + at);
    return {std::move(obj), pos, in_object};
}

} // namespace detail

/// The object a page fault of view `v` through file `f` at byte `offset` reaches (see the file
/// comment), pinned in `v`. -EIO: nothing the view may map is there; -ENOMEM.
inline result<gem_ref> faulting_object(process_view& v, const file_base& f, std::uint64_t offset) {
    gem_ref obj = detail::object_at(f, offset);
    if (!obj)
        return result<gem_ref>::failure(-EIO);
    if (v.touch(*obj))
        return obj;
    if (!obj->mmap_allowed(f))
        return result<gem_ref>::failure(-EIO);
    if (int e = v.pin(*obj, true))
        return result<gem_ref>::failure(e);
    return obj;
}

/// The object a writeback of view `v` through file `f` at byte `offset` reaches. A writeback is
/// no sign of a live mapping (pages stay dirty after munmap), so it neither pins nor touches.
inline result<gem_ref> written_back_object(const process_view& v, const file_base& f, std::uint64_t offset) {
    gem_ref obj = detail::object_at(f, offset);
    if (!obj || !(v.pinned(*obj) || obj->mmap_allowed(f)))
        return result<gem_ref>::failure(-EIO);
    return obj;
}

/// After MMAP_PREPARE allowed a mapping of the object at `offset` through `f`: pins it in `v`,
/// so the mapping to come (which never reaches the server) outlives the handle as a kernel VMA
/// does. 0, -ENOMEM, or -EINVAL when the object went meanwhile (closed by another thread: the
/// mmap(2) would not have found it either).
inline int pin_for_mapping(process_view& v, const file_base& f, std::uint64_t offset) {
    gem_ref obj = detail::object_at(f, offset);
    return obj ? v.pin(*obj, false) : -EINVAL;
}

// The bytes move between the request and the object's memfd by pread and pwrite, never
// through the driver's mapping:
// like a device's DMA, they are ordered with the driver's own accesses by the sync points only.

/// READ on a compute node from the page cache: a page fault at `offset`. Replies exactly `size`
/// bytes, the object's and zeros past its end (a short read would make the kernel shrink the
/// file's cached size). The bytes are read before the reply and the object's reference goes
/// first, as for writeback: the client may go on (munmap, GEM_CLOSE) as soon as the reply is
/// in, and the object must be free then. (libfuse would copy the bytes from the memfd anyway:
/// the host's custom I/O, kernel_flags.hpp, has no splice.)
inline void serve_page_fault(fuse_req_t req, process_view& v, const file_base& f, std::uint64_t offset, std::size_t size) {
    auto obj = faulting_object(v, f, offset);
    if (!obj) {
        fuse_reply_err(req, -obj.error());
        return;
    }
    detail::page_target t = detail::target_in(std::move(*obj), offset);
    std::vector<char> buf;
    try {
        buf.assign(size, 0);
    } catch (...) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    const auto n = static_cast<std::size_t>(size < t.in_object ? size : t.in_object);
    const bool read = ::pread(t.ref->backing_fd(), buf.data(), n, t.pos) == static_cast<ssize_t>(n);
    t.ref.reset();
    if (!read) {
        fuse_reply_err(req, EIO);
        return;
    }
    fuse_reply_buf(req, buf.data(), size);
}

/// WRITE on a compute node: writeback of dirty mapped pages at `offset`. The bytes inside the
/// object land in it; the whole request is acknowledged, as a page straddling the object's end
/// is written whole. A failure is counted in the view (coherency.hpp reports it to the ioctl
/// whose sync point caused the writeback).
inline void serve_writeback(fuse_req_t req, process_view& v, const file_base& f, std::uint64_t offset, const char* data,
                            std::size_t size) {
    auto obj = written_back_object(v, f, offset);
    if (!obj) {
        v.writeback_failed();
        fuse_reply_err(req, -obj.error());
        return;
    }
    detail::page_target t = detail::target_in(std::move(*obj), offset);
    const auto n = static_cast<std::size_t>(size < t.in_object ? size : t.in_object);
    const bool written = ::pwrite(t.ref->backing_fd(), data, n, t.pos) == static_cast<ssize_t>(n);
    // The reference goes before the reply: the writeback may be the one a reclaim waits for
    // (process_view.hpp), and the object must be free once that reclaim dropped its pin.
    t.ref.reset();
    if (!written) {
        v.writeback_failed();
        fuse_reply_err(req, EIO);
        return;
    }
    fuse_reply_write(req, size);
}

} // namespace accel::fuse

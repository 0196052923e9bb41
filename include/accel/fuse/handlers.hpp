// SPDX-License-Identifier: MIT
#pragma once
/// \file The FUSE request handlers of the host: one function per request kind.
///
/// Requests map onto the core as the kernel's file operations map onto DRM:
///   lookup, forget, getattr, readdir -> the tree (device_tree.hpp)
///   open    -> subsystem::find_node + device_base::open, as the caller (uid, thread id;
///              privileged when uid 0); the host's open_file record is the file handle
///              (open_files.hpp). Callers with pid 0 are refused (caller_process.hpp). The
///              kernel has checked the file's owner, group and mode (default_permissions);
///              the host checks them again (permitted(): may_open with the request's uid, gid
///              and supplementary groups). Root-only ioctls (RESET, CLEAR_STATS) stay the
///              dispatcher's: privileged means uid 0, whatever mode let the caller open.
///   flush, release -> release tracking (open_files.hpp), device_base::close (postclose)
///   ioctl   -> the file's ioctl operation with copy_from_user/copy_to_user reaching the caller
///              (caller_memory.hpp) and the sync point of the objects the handler touches
///              (coherency.hpp); the reply carries the copied-out bytes even when the result
///              is an error, and the kernel copies them back before returning it. A parked
///              request is answered later without holding the worker, and a signal in the
///              caller ends its wait with EINTR (request_call.hpp).
///   poll    -> the file's poll operation; a wake-up of a queue it waited on notifies the
///              kernel through the poll handle (poll_notify.hpp)
///   read, write of a device node -> the file's read and write operations (DRM events; no
///              write): device nodes are direct-I/O streams (kernel_flags.hpp)
///   read, write of a compute node's page cache -> page faults and writeback of mapped objects
///              (page_faults.hpp); the kernel marks a read(2) with a lock owner and writeback
///              with FUSE_WRITE_CACHE, which tells them from read(2) and write(2)
///   lookup, readdir, getattr in sys/class/accel/accel<N>/ and sys/kernel/debug/accel/<N>/ ->
///              the device's attribute trees (device_tree.hpp); open of an attribute file ->
///              open_attribute (monitor/attribute_tree.hpp) after the permission checks; its
///              read and write -> the attribute file's, at the request's offset (direct I/O:
///              partial reads, pread, a content shorter than st_size); setattr -> truncation a
///              no-op (O_TRUNC), chmod/chown EPERM
///   lookup, open, getattr, forget in .accel/fd; and every request on a published file (a
///              descriptor a call made: a dma-buf, a sync file) -> published_files.hpp; its ioctl,
///              poll, read and write go to the file's own operations as for device nodes, its
///              page cache is served from the file's mmap target, and its answers are sync
///              points of that page cache
///   ioctl ACCEL_IOCTL_FD_CALL on any file -> the wrapped ioctl, whose fd_install publishes
///              (uapi/accel_fd.h, caller_descriptors.hpp); an fd-returning ioctl without the
///              wrapper -> EOPNOTSUPP and one line on stderr; fget in any ioctl takes the
///              caller's descriptor by pidfd_getfd (caller_descriptors.hpp)
/// The answer to every request on a compute node's file is a sync point between the caller's
/// mappings and the driver (coherency.hpp).
/// ioctls take no lock of the host's beyond the view's pin lock for objects they touch: clients
/// proceed in parallel on libfuse's worker threads.
///
/// Where FUSE differs from a character device, and what the handlers do about it:
///   - O_EXCL is not forwarded: recovered from /proc/<tid>/syscall (caller_open_flags.hpp).
///   - RELEASE is asynchronous: an -EBUSY open waits for releases in flight (open_files.hpp).
///   - mmap(2) and munmap(2) never reach the server: MMAP_PREPARE pins the object in the view,
///     and pins go when the process maps the object no more (process_view.hpp).
///   - read(2) reaches the server only on a direct-I/O file, which maps MAP_SHARED only with
///     FUSE_DIRECT_IO_ALLOW_MMAP, and concurrent readers queue on the position lock unless the
///     file is a stream: libfuse 3.14 can say neither, the host's custom I/O does
///     (kernel_flags.hpp).
///   - 32-bit callers (FUSE_IOCTL_COMPAT) get -ENOTTY, as from a kernel driver without
///     .compat_ioctl: DRM translates a few layouts for them, which accel does not do.
#include <accel/core/dispatch.hpp>
#include <accel/core/subsystem.hpp>
#include <accel/core/user_memory.hpp>
#include <accel/fuse/caller_descriptors.hpp>
#include <accel/fuse/caller_memory.hpp>
#include <accel/fuse/caller_open_flags.hpp>
#include <accel/fuse/caller_process.hpp>
#include <accel/fuse/coherency.hpp>
#include <accel/fuse/device_tree.hpp>
#include <accel/fuse/kernel_flags.hpp>
#include <accel/fuse/request_call.hpp>
#include <accel/fuse/lowlevel.hpp>
#include <accel/fuse/open_files.hpp>
#include <accel/fuse/page_faults.hpp>
#include <accel/fuse/published_files.hpp>
#include <accel/fuse/session.hpp>
#include <accel/monitor/access.hpp>
#include <accel/uapi/accel_drm.h>
#include <accel/uapi/accel_fd.h>
#include <accel/uapi/accel_mmap.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <fcntl.h>
#include <optional>
#include <string>
#include <sys/stat.h>
#include <sys/types.h>
#include <vector>

namespace accel::fuse {

/// What every handler works on (the FUSE session's userdata).
struct host_state {
    host_state(subsystem& s, const std::string& mount_point, std::chrono::milliseconds flushed_grace,
               std::chrono::milliseconds release_grace, std::chrono::milliseconds token_lifetime = std::chrono::seconds(5),
               access_policy access = {})
        : sub(&s), tree(s, std::move(access)), files(flushed_grace, release_grace), published(token_lifetime), ses(mount_point) {
        tree.before_attribute_listing([this](const device_base& d) { files.settle(d); });
    }

    subsystem* sub;
    device_tree tree;
    open_file_tracker files;
    publications published; // descriptors calls made, as files of .accel/fd (published_files.hpp)
    deferred_closer closer;   // closes what fget took, off the request paths (caller_descriptors.hpp)
    call_registry calls; // requests from their start to their reply (request_call.hpp)
    session ses;
    kernel_flags kflags; // the session's custom I/O (kernel_flags.hpp)
    dev_t mount_dev = 0; // the mount's device number, to find its mappings in /proc/<pid>/maps

    fuse_session* se() const noexcept { return ses.get(); }
    descriptor_host descriptors() noexcept { return {&published, &closer, mount_dev}; }
};

struct requests {
    static const fuse_lowlevel_ops& ops() noexcept {
        static const fuse_lowlevel_ops table = [] {
            fuse_lowlevel_ops o{};
            o.init = &requests::init;
            o.lookup = &requests::lookup;
            o.forget = &requests::forget;
            o.forget_multi = &requests::forget_multi;
            o.getattr = &requests::getattr;
            o.setattr = &requests::setattr;
            o.readdir = &requests::readdir;
            o.open = &requests::open;
            o.flush = &requests::flush;
            o.release = &requests::release;
            o.read = &requests::read;
            o.write = &requests::write;
            o.ioctl = &requests::ioctl;
            o.poll = &requests::poll;
            return o;
        }();
        return table;
    }

    static host_state& state(fuse_req_t req) noexcept { return *static_cast<host_state*>(fuse_req_userdata(req)); }
    static kernel_flags& kflags_of(void* userdata) noexcept { return static_cast<host_state*>(userdata)->kflags; }
    /// libfuse's custom I/O for the host's session (kernel_flags.hpp).
    static const fuse_custom_io& io() noexcept {
        static const fuse_custom_io table = kernel_flags::io<&requests::kflags_of>();
        return table;
    }

    static caller_identity identity(fuse_req_t req) noexcept {
        const fuse_ctx* c = fuse_req_ctx(req);
        return caller_identity{c->uid, c->pid, c->uid == 0, c->gid};
    }

    /// No readahead: a fault reads its own page only (page_faults.hpp).
    static void init(void*, fuse_conn_info* conn) noexcept { conn->max_readahead = 0; }

    static void lookup(fuse_req_t req, fuse_ino_t parent, const char* name) noexcept {
        host_state& st = state(req);
        try {
            if (parent == st.tree.fd_dir()) {
                lookup_published(req, st, name);
                return;
            }
            auto e = st.tree.lookup(parent, name, [&] { return process_of(fuse_req_ctx(req)->pid); });
            if (!e) {
                fuse_reply_err(req, -e.error()); // ENOENT is not cached: a device may appear later
                return;
            }
            fuse_entry_param p{};
            p.ino = e->ino;
            p.generation = e->generation;
            p.attr = e->attr;
            p.attr_timeout = p.entry_timeout = e->timeout;
            if (fuse_reply_entry(req, &p) != 0)
                st.tree.forget(e->ino, 1); // the kernel did not take the reference
        } catch (...) {
            fuse_reply_err(req, ENOMEM);
        }
    }

    /// LOOKUP of a published file's name in .accel/fd (published_files.hpp). The answer is
    /// cached (the name means that inode until the file goes, when the housekeeping thread
    /// drops it), so a later export of the same file costs an OPEN only; OPEN checks the
    /// caller's token itself. ENOENT is not cached.
    static void lookup_published(fuse_req_t req, host_state& st, const char* name) {
        auto e = st.published.lookup(name, fuse_req_ctx(req)->pid);
        if (!e) {
            fuse_reply_err(req, -e.error());
            return;
        }
        fuse_entry_param p{};
        p.ino = e->ino;
        p.generation = 1; // published numbers are never reused
        p.attr = e->attr;
        p.attr_timeout = 1.0; // the size never changes; st_nlink only after the last close
        p.entry_timeout = 3600.0;
        if (fuse_reply_entry(req, &p) != 0)
            st.published.forget(e->ino, 1);
    }

    static void forget_one(host_state& st, fuse_ino_t ino, std::uint64_t n) {
        if (is_published_ino(ino))
            st.published.forget(ino, n);
        else
            st.tree.forget(ino, n);
    }

    static void forget(fuse_req_t req, fuse_ino_t ino, uint64_t n) noexcept {
        try {
            forget_one(state(req), ino, n);
        } catch (...) {
            // The entry stays: a leak, not an error.
        }
        fuse_reply_none(req);
    }

    static void forget_multi(fuse_req_t req, size_t count, fuse_forget_data* forgets) noexcept {
        host_state& st = state(req);
        for (std::size_t i = 0; i < count; ++i) {
            try {
                forget_one(st, forgets[i].ino, forgets[i].nlookup);
            } catch (...) {
            }
        }
        fuse_reply_none(req);
    }

    static void getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) noexcept {
        host_state& st = state(req);
        try {
            const bool published = is_published_ino(ino);
            auto a = published ? st.published.attr(ino) : st.tree.attr(ino);
            if (!a) {
                fuse_reply_err(req, -a.error());
                return;
            }
            fuse_reply_attr(req, &*a, published ? 1.0 : st.tree.timeout(ino));
        } catch (...) {
            fuse_reply_err(req, ENOMEM);
        }
    }

    static void readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info*) noexcept {
        try {
            auto entries = state(req).tree.list(ino);
            if (!entries) {
                fuse_reply_err(req, -entries.error());
                return;
            }
            std::vector<char> buf(size);
            std::size_t used = 0;
            for (std::size_t i = static_cast<std::size_t>(off < 0 ? 0 : off); i < entries->size(); ++i) {
                const auto& en = (*entries)[i];
                struct stat st {};
                st.st_ino = en.ino;
                st.st_mode = en.dir ? S_IFDIR : S_IFREG;
                std::size_t need = fuse_add_direntry(req, buf.data() + used, size - used, en.name.c_str(), &st,
                                                     static_cast<off_t>(i + 1));
                if (need > size - used)
                    break;
                used += need;
            }
            fuse_reply_buf(req, buf.data(), used);
        } catch (...) {
            fuse_reply_err(req, ENOMEM);
        }
    }

    static void open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) noexcept {
        host_state& st = state(req);
        try {
            if (is_published_ino(ino)) {
                open_published(req, st, ino, fi);
                return;
            }
            auto n = st.tree.node(ino);
            if (!n) {
                fuse_reply_err(req, ENOENT);
                return;
            }
            if (n->type == node_type::view || n->type == node_type::monitor || n->type == node_type::attr_file) {
                if (int e = permitted(req, n->access, fi->flags, n->type == node_type::attr_file)) {
                    fuse_reply_err(req, -e);
                    return;
                }
            }
            switch (n->type) {
            case node_type::attr_file:
                open_attribute_file(req, st, *n, fi);
                return;
            case node_type::view:
            case node_type::monitor:
                open_node(req, st, *n, fi);
                return;
            case node_type::dir:
            case node_type::attr_dir:
                fuse_reply_err(req, EISDIR);
                return;
            case node_type::compute: // never handed out: lookups answer views
                break;
            }
            fuse_reply_err(req, ENOENT);
        } catch (...) {
            fuse_reply_err(req, ENOMEM);
        }
    }

    /// The host's own permission check at OPEN, after the kernel's (default_permissions): the
    /// file's owner, group and mode as its stat reports them (monitor/access.hpp, may_open), for
    /// the request's uid and gid, and the caller's supplementary groups when only they can
    /// make it a member of the file's group (read from /proc by libfuse, so only then). A mount
    /// made without default_permissions - or a kernel that skipped the check - still refuses.
    /// An attribute file also needs a read (write) bit for anyone to be opened for reading
    /// (writing), even by root (may_open_attribute: kernfs's rule). 0 or -EACCES.
    static int permitted(fuse_req_t req, const node_access& a, int flags, bool attribute) {
        auto check = attribute ? &may_open_attribute : &may_open;
        caller_identity who = identity(req);
        const int e = check(a, who, flags);
        if (e == 0 || who.uid == a.uid || who.gid == a.gid)
            return e;
        std::vector<gid_t> groups(32);
        int n = fuse_req_getgroups(req, static_cast<int>(groups.size()), groups.data());
        if (n > static_cast<int>(groups.size())) { // the list was longer: ask again with room
            groups.resize(static_cast<std::size_t>(n));
            n = fuse_req_getgroups(req, n, groups.data());
        }
        for (int i = 0; i < n && i < static_cast<int>(groups.size()); ++i)
            if (groups[static_cast<std::size_t>(i)] == a.gid) {
                who.gid = a.gid; // a member of the file's group: its group bits apply
                return check(a, who, flags);
            }
        return e;
    }

    /// OPEN of a device node (a compute node's view, or a monitor node).
    static void open_node(fuse_req_t req, host_state& st, const device_tree::node_info& n, fuse_file_info* fi) {
        const node_kind kind = n.type == node_type::view ? node_kind::compute : node_kind::monitor;
        const caller_identity who = identity(req);
        if (who.pid == 0) {
            log_unidentified_open(node_name(kind, n.minor).c_str(), who.uid);
            fuse_reply_err(req, unidentified_caller_errno);
            return;
        }
        auto node = st.sub->find_node(node_name(kind, n.minor));
        if (!node || node->device != n.dev) { // unregistered since the lookup
            fuse_reply_err(req, ENOENT);
            return;
        }
        int flags = fi->flags;
        if (auto caller_flags = caller_open_flags(who.pid); caller_flags && (*caller_flags & O_EXCL))
            flags |= O_EXCL;
        caller_call_scope as_caller(who.pid, who);
        auto f = st.files.open(*node, flags);
        if (!f) {
            fuse_reply_err(req, -f.error());
            return;
        }
        open_file* rec = st.files.track(*f, n.view, who.pid);
        if (!rec) {
            fuse_reply_err(req, ENOMEM);
            return;
        }
        fi->fh = reinterpret_cast<std::uintptr_t>(rec);
        fi->nonseekable = 1; // and FOPEN_STREAM (kernel_flags.hpp)
        fi->keep_cache = 0;
        // read(2) must reach the file's operations (DRM events), not a page cache (which would
        // answer EOF itself, the file's size being 0): direct I/O. A compute node also maps
        // objects MAP_SHARED, which a direct-I/O file allows only when the connection
        // negotiated FUSE_DIRECT_IO_ALLOW_MMAP (kernel_flags.hpp); without it (kernel < 6.6)
        // its read(2) stays the page cache's, and events are read through the monitor node.
        fi->direct_io = kind == node_kind::monitor || st.kflags.direct_io_mmap();
        if (fuse_reply_open(req, fi) != 0) // interrupted: the kernel will never release it
            st.files.release(rec, who.pid, st.se());
    }

    /// OPEN of an attribute file (monitor/attribute_tree.hpp), after the permission check: the
    /// attribute file's own checks (kernfs's: no show, no store), then a record whose reads and
    /// writes are the file's at the request's offset. Direct I/O: every read(2) reaches the show
    /// output (a page cache would pad the content to st_size, 4096, and keep stale values), and
    /// the position moves by what each read returned, so `cat` ends at the content's end. No
    /// FLUSH: nothing to do at close(2).
    static void open_attribute_file(fuse_req_t req, host_state& st, const device_tree::node_info& n, fuse_file_info* fi) {
        if (!n.dev) {
            fuse_reply_err(req, ENOENT);
            return;
        }
        st.files.settle(*n.dev); // what a client closed is gone from clients and fdinfo
        auto f = open_attribute(*n.dev, n.tree, n.rel, fi->flags, identity(req));
        if (!f) {
            fuse_reply_err(req, -f.error());
            return;
        }
        open_file* rec = st.files.track_attribute(**f);
        if (!rec) {
            fuse_reply_err(req, ENOMEM);
            return;
        }
        fi->fh = reinterpret_cast<std::uintptr_t>(rec);
        fi->direct_io = 1;
        fi->keep_cache = 0;
        fi->noflush = 1;
        if (fuse_reply_open(req, fi) != 0) // interrupted: the kernel will never release it
            st.files.release(rec, fuse_req_ctx(req)->pid, st.se());
    }

    /// SETATTR: owners, groups and modes are the access policy's (EPERM for chown and chmod);
    /// a truncation - open(2) with O_TRUNC, `echo 1 > reset` - changes nothing, as on sysfs and
    /// a character device; times are accepted and not kept. Published files: ENOSYS, as before.
    static void setattr(fuse_req_t req, fuse_ino_t ino, struct stat*, int to_set, fuse_file_info*) noexcept {
        host_state& st = state(req);
        try {
            if (is_published_ino(ino)) {
                fuse_reply_err(req, ENOSYS);
                return;
            }
            constexpr int times = FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_ATIME_NOW |
                                  FUSE_SET_ATTR_MTIME_NOW | FUSE_SET_ATTR_CTIME;
            if (to_set & ~(FUSE_SET_ATTR_SIZE | times)) {
                fuse_reply_err(req, EPERM);
                return;
            }
            auto n = st.tree.node(ino);
            if (!n) {
                fuse_reply_err(req, ENOENT);
                return;
            }
            if ((to_set & FUSE_SET_ATTR_SIZE) && (n->type == node_type::dir || n->type == node_type::attr_dir)) {
                fuse_reply_err(req, EISDIR);
                return;
            }
            auto a = st.tree.attr(ino);
            if (!a) {
                fuse_reply_err(req, -a.error());
                return;
            }
            fuse_reply_attr(req, &*a, st.tree.timeout(ino));
        } catch (...) {
            fuse_reply_err(req, ENOMEM);
        }
    }

    /// OPEN of a published file: consumes the caller's token (published_files.hpp).
    static void open_published(fuse_req_t req, host_state& st, fuse_ino_t ino, fuse_file_info* fi) {
        const caller_identity who = identity(req);
        if (who.pid == 0) {
            log_unidentified_open(ACCEL_FD_DIR, who.uid);
            fuse_reply_err(req, unidentified_caller_errno);
            return;
        }
        auto rec = st.published.open(ino, who.pid, fi->flags);
        if (!rec) {
            fuse_reply_err(req, -rec.error());
            return;
        }
        fi->fh = reinterpret_cast<std::uintptr_t>(*rec);
        // One page cache for every process: an open must not drop it, unless the device wrote
        // the buffer since the inode's last sync point (the kernel then drops it at this open).
        fi->keep_cache = !(*rec)->fresh_cache;
        fi->noflush = 1;    // close(2) sends no FLUSH: the host's own close never waits for itself
        fi->direct_io = !(*rec)->pub->maps; // read(2) and write(2) reach the file's operations
        fi->nonseekable = !(*rec)->pub->seekable;
        if (fuse_reply_open(req, fi) != 0) // interrupted: the kernel will never release it
            st.published.release(*rec, who.pid);
    }

    static void flush(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) noexcept {
        int err = 0;
        host_state& st = state(req);
        const pid_t closer = st.closer.tid();
        if (closer != 0 && fuse_req_ctx(req)->pid == closer) { // the host closing what fget took
            fuse_reply_err(req, 0);
            return;
        }
        if (open_file* rec = opened(fi); rec && rec->file) {
            st.files.mark_flushed(rec);
            caller_call_scope as_caller(fuse_req_ctx(req)->pid, identity(req));
            err = rec->file->flush();
        }
        fuse_reply_err(req, -err);
    }

    static void release(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) noexcept {
        host_state& st = state(req);
        if (open_file* rec = opened(fi)) {
            if (rec->pub)
                st.published.release(rec, fuse_req_ctx(req)->pid);
            else
                st.files.release(rec, fuse_req_ctx(req)->pid, st.se());
        }
        fuse_reply_err(req, 0);
    }

    static void read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) noexcept {
        try {
            if (open_file* rec = opened(fi)) {
                if (rec->pub && rec->pub->maps) { // the page cache of a mappable published file
                    if (off < 0)
                        fuse_reply_err(req, EINVAL);
                    else
                        serve_published_read(req, *rec, static_cast<std::uint64_t>(off), size);
                    return;
                }
                if (!rec->view || kernel_flags::is_read_syscall(fi))
                    file_read(req, *rec, size, off, fi->flags);
                else if (off >= 0)
                    serve_page_fault(req, *rec->view, *rec->file, static_cast<std::uint64_t>(off), size);
                else
                    fuse_reply_err(req, EINVAL);
                return;
            }
            fuse_reply_err(req, state(req).tree.node(ino) ? EBADF : ENOENT); // every open file has a record
        } catch (...) {
            fuse_reply_err(req, ENOMEM);
        }
    }

    static void write(fuse_req_t req, fuse_ino_t, const char* buf, size_t size, off_t off, fuse_file_info* fi) noexcept {
        open_file* rec = opened(fi);
        if (rec && rec->pub && rec->pub->maps && fi->writepage) {
            if (off < 0)
                fuse_reply_err(req, EINVAL);
            else
                serve_published_writeback(req, *rec, static_cast<std::uint64_t>(off), buf, size);
            return;
        }
        if (rec && (!rec->view || !fi->writepage)) { // write(2), not writeback of a mapping
            file_write(req, *rec, buf, size, off);
            return;
        }
        if (!rec || off < 0) {
            fuse_reply_err(req, EINVAL);
            return;
        }
        serve_writeback(req, *rec->view, *rec->file, static_cast<std::uint64_t>(off), buf, size);
    }

    // read(2) and write(2) on a file that is not a compute node's view go to the file's read
    // and write operations. (On a view, READ and WRITE are the page cache's: faults and
    // writeback of mapped objects.) The operation copies to and from "user" memory, which here
    // is the request's own buffer: a window at an address no caller can map (below
    // mmap_min_addr), so copy_to_user lands in the reply and copy_from_user reads the data.
    static constexpr std::uint64_t request_window = 0x1000;

    /// A read may park (an event file with nothing to read yet): it is a request_call too.
    static void file_read(fuse_req_t req, open_file& rec, std::size_t size, off_t off, int flags) {
        request_call* c =
            request_call::make(state(req).calls, req, request_call::reply_kind::read, identity(req), request_window, nullptr, 0, size);
        if (!c) {
            fuse_reply_err(req, ENOMEM);
            return;
        }
        if (rec.view) // a compute node: the answer is a sync point for device writes
            c->sync_in(state(req).se(), *rec.view, rec.file->base_device());
        c->arm();
        long n;
        {
            call_scope scope(c->ctx);
            // f_flags as fcntl(F_SETFL) left them (O_NONBLOCK) come with each READ; the
            // position is the kernel's (0 on a stream), never stored in the shared file.
            rec.served->set_status_flags(flags);
            std::uint64_t pos = off < 0 ? 0 : static_cast<std::uint64_t>(off);
            n = rec.served->read(request_window, size, pos);
        }
        if (n != call_parked)
            c->answer_now(n);
    }

    static void file_write(fuse_req_t req, open_file& rec, const char* buf, std::size_t size, off_t off) {
        caller_memory mem(fuse_req_ctx(req)->pid, request_window, buf, size, 0);
        call_context ctx{&mem, identity(req)};
        call_scope scope(ctx);
        std::uint64_t pos = off < 0 ? 0 : static_cast<std::uint64_t>(off);
        const long n = rec.served->write(request_window, size, pos);
        if (n < 0)
            fuse_reply_err(req, static_cast<int>(-n));
        else
            fuse_reply_write(req, static_cast<std::size_t>(n));
    }

    static void poll(fuse_req_t req, fuse_ino_t, fuse_file_info* fi, fuse_pollhandle* ph) noexcept {
        open_file* rec = opened(fi);
        if (!rec) { // a sys file: a regular file's mask
            if (ph)
                fuse_pollhandle_destroy(ph);
            fuse_reply_poll(req, default_poll_mask);
            return;
        }
        {
            std::lock_guard lock(rec->poll_mutex);
            if (!rec->poll && !(rec->poll = poll_notifier::make())) {
                if (ph)
                    fuse_pollhandle_destroy(ph);
                fuse_reply_err(req, ENOMEM);
                return;
            }
        }
        unsigned mask;
        {
            caller_call_scope as_caller(fuse_req_ctx(req)->pid, identity(req));
            mask = rec->poll->poll(*rec->served, ph);
        }
        if (rec->view) // after the mask: what made it ready was written before (coherency.hpp)
            rec->view->sync_device_writes(state(req).se(), rec->file->base_device());
        else if (rec->pub)
            sync_published(state(req).se(), *rec->pub, false);
        fuse_reply_poll(req, mask);
    }

    static void ioctl(fuse_req_t req, fuse_ino_t, unsigned int cmd, void* arg, fuse_file_info* fi, unsigned flags,
                      const void* in_buf, size_t in_bufsz, size_t out_bufsz) noexcept {
        open_file* rec = opened(fi);
        if (!rec || (flags & FUSE_IOCTL_COMPAT)) {
            fuse_reply_err(req, ENOTTY);
            return;
        }
        host_state& st = state(req);
        const auto addr = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(arg));
        if (cmd == static_cast<unsigned int>(ACCEL_IOCTL_FD_CALL)) {
            fd_call(req, st, *rec, addr, in_buf, in_bufsz, out_bufsz);
            return;
        }
        if (rec->pub && cmd == static_cast<unsigned int>(ACCEL_IOCTL_MMAP_PREPARE)) {
            mmap_prepare_published(req, *rec, in_buf, in_bufsz);
            return;
        }
        if (returns_descriptor(*rec, cmd)) { // a device file's row says so: refuse before it runs
            caller_descriptors::log_refused(*rec->served, cmd);
            fuse_reply_err(req, EOPNOTSUPP);
            return;
        }
        // On the heap: a parked request outlives this handler (request_call.hpp).
        request_call* c =
            request_call::make(state(req).calls, req, request_call::reply_kind::ioctl, identity(req), addr, in_buf, in_bufsz, out_bufsz);
        if (!c) {
            fuse_reply_err(req, ENOMEM);
            return;
        }
        c->use_descriptors(st.descriptors(), caller_descriptors::mode::refusing, 0, *rec->served, cmd);
        sync_points(st, *rec, *c);
        c->arm();
        int ret;
        {
            call_scope scope(c->ctx);
            ret = rec->served->ioctl(static_cast<ioctl_cmd>(cmd), addr);
        }
        if (ret == call_parked)
            return; // answered when the wait ends, perhaps already; `c` is not ours any more
        if (ret == 0 && rec->view)
            ret = after_object_ioctl(st, *rec, cmd, in_buf, in_bufsz);
        c->answer_now(ret);
    }

    /// MMAP_PREPARE on a published file: mmap(2) of a FUSE file never reaches the server, so the
    /// syscall backend asks first, as for device nodes, and the file's own mmap operation makes
    /// its checks (a dma-buf: a range past its end -EINVAL, dma_buf_mmap_internal); a kind that
    /// cannot be mapped answers -ENODEV, as mmap(2) on it would. Nothing is kept: the page cache
    /// is served from the same operation at each fault.
    static void mmap_prepare_published(fuse_req_t req, open_file& rec, const void* in_buf, size_t in_bufsz) noexcept {
        accel_mmap_prepare a{};
        if (in_bufsz < sizeof a) {
            fuse_reply_err(req, EINVAL);
            return;
        }
        std::memcpy(&a, in_buf, sizeof a);
        int err;
        try {
            caller_call_scope as_caller(fuse_req_ctx(req)->pid, identity(req));
            auto t = map_file(*rec.served, a.offset, a.length, static_cast<int>(a.prot), static_cast<int>(a.flags));
            err = t ? 0 : -t.error();
        } catch (...) {
            err = -exception_errno();
        }
        if (err)
            fuse_reply_err(req, err);
        else
            fuse_reply_ioctl(req, 0, nullptr, 0);
    }

    /// The sync points of an ioctl on `rec` (coherency.hpp, published_files.hpp): on a compute
    /// node's view the objects the handler touches and the device's writes; on a mappable
    /// published file its page cache, written back now (the handler sees the client's writes:
    /// DMA_BUF_IOCTL_SYNC's end) and dropped with the answer (the client sees the handler's
    /// and the device's: its start).
    static void sync_points(host_state& st, open_file& rec, request_call& c) noexcept {
        if (rec.view)
            c.sync_in(st.se(), *rec.view, rec.file->base_device());
        else if (rec.pub && rec.pub->maps) {
            sync_published(st.se(), *rec.pub, true);
            c.sync_published_in(st.se(), rec.pub);
        }
    }

    /// Whether `cmd` on a device file is a table row that returns a descriptor (fd_field).
    static bool returns_descriptor(const open_file& rec, unsigned int cmd) noexcept {
        if (!rec.file)
            return false;
        bool not_tty = false;
        const ioctl_slot* s = accel::detail::find_slot(rec.file->base_device(), static_cast<ioctl_cmd>(cmd), not_tty);
        return s && s->fd_field >= 0;
    }

    /// ACCEL_IOCTL_FD_CALL (uapi/accel_fd.h): the wrapped ioctl runs on the file with its
    /// argument in the caller's memory; its fd_install publishes, and the answer names the
    /// published file.
    static void fd_call(fuse_req_t req, host_state& st, open_file& rec, std::uint64_t addr, const void* in_buf,
                        std::size_t in_bufsz, std::size_t out_bufsz) noexcept {
        accel_fd_call w;
        if (!in_buf || in_bufsz < sizeof w || out_bufsz < sizeof w) {
            fuse_reply_err(req, EINVAL);
            return;
        }
        std::memcpy(&w, in_buf, sizeof w);
        if (int e = check_fd_call(rec, w)) {
            fuse_reply_err(req, -e);
            return;
        }
        const auto inner = static_cast<unsigned int>(w.cmd);
        request_call* c =
            request_call::make(st.calls, req, request_call::reply_kind::ioctl, identity(req), addr, in_buf, in_bufsz, out_bufsz);
        if (!c) {
            fuse_reply_err(req, ENOMEM);
            return;
        }
        c->use_descriptors(st.descriptors(), caller_descriptors::mode::wrapped, addr + offsetof(accel_fd_call, open_flags),
                           *rec.served, inner);
        sync_points(st, rec, *c);
        c->arm();
        int ret;
        {
            call_scope scope(c->ctx);
            // The argument is the caller's, or inside the wrapper's window (INLINE), whose
            // reads and writes caller_memory serves from the request and the reply.
            const std::uint64_t at = (w.flags & ACCEL_FD_CALL_INLINE) ? addr + offsetof(accel_fd_call, data) : w.arg;
            ret = rec.served->ioctl(static_cast<ioctl_cmd>(inner), at);
        }
        if (ret == call_parked)
            return;
        c->answer_now(ret);
    }

    /// The wrapper's own rules (uapi/accel_fd.h): 0 or -EINVAL.
    static int check_fd_call(const open_file& rec, const accel_fd_call& w) noexcept {
        if ((w.flags & ~ACCEL_FD_CALL_INLINE) || w.pad || w.cmd > 0xffffffffu ||
            w.cmd == static_cast<unsigned int>(ACCEL_IOCTL_FD_CALL))
            return -EINVAL;
        const auto inner = static_cast<unsigned int>(w.cmd);
        if ((w.flags & ACCEL_FD_CALL_INLINE) && ioc_size(static_cast<ioctl_cmd>(inner)) > sizeof w.data)
            return -EINVAL;
        if (w.fd_offset % 4 != 0 || std::uint64_t{w.fd_offset} + 4 > ioc_size(static_cast<ioctl_cmd>(inner)))
            return -EINVAL;
        if (rec.file) {
            bool not_tty = false;
            const ioctl_slot* s = accel::detail::find_slot(rec.file->base_device(), static_cast<ioctl_cmd>(inner), not_tty);
            if (s && s->fd_field >= 0 && static_cast<std::uint32_t>(s->fd_field) != w.fd_offset)
                return -EINVAL;
        }
        return 0;
    }

    /// What the host adds to two core ioctls, because mmap(2) and munmap(2) never reach it:
    /// MMAP_PREPARE pins the object in the caller's view for the mapping to come, and a GEM_CLOSE
    /// that leaves a pinned object without handles looks for the process's mappings at once
    /// (process_view.hpp). 0 or -ENOMEM.
    static int after_object_ioctl(host_state& st, open_file& rec, unsigned int cmd, const void* in_buf, std::size_t in_bufsz) {
        if (cmd == static_cast<unsigned int>(ACCEL_IOCTL_MMAP_PREPARE) && in_bufsz >= sizeof(accel_mmap_prepare)) {
            accel_mmap_prepare a;
            std::memcpy(&a, in_buf, sizeof a);
            return pin_for_mapping(*rec.view, *rec.file, a.offset);
        }
        if (cmd == static_cast<unsigned int>(ACCEL_IOCTL_GEM_CLOSE) && rec.view->pins_orphans()) {
            try {
                rec.view->reclaim(st.se(), st.mount_dev);
            } catch (...) {
                // Out of memory for the scan: the periodic reclaim tries again.
            }
        }
        return 0;
    }
};

} // namespace accel::fuse

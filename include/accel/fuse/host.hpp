// SPDX-License-Identifier: MIT
#pragma once
/// \file The real backend's serving side: a subsystem's devices as files on a FUSE mount.
///
///   <mount>/accel/accel<N>, <mount>/accel/accel_controlD<N>   regular files, mode 0666
///   <mount>/sys/class/accel/accel<N>/dev                        "261:<N>\n", read-only
/// The tree follows the subsystem live: lookups and listings ask subsystem::find_node/nodes()
/// each time (no caching in the kernel for per-device entries).
///
/// Requests map onto the core as the kernel's file operations map onto DRM:
///   open    -> subsystem::find_node + device_base::open, as the caller (uid, thread id;
///              privileged when uid 0); the file_base* is the FUSE file handle
///   release -> device_base::close (postclose)
///   ioctl   -> device_base::ioctl with copy_from_user/copy_to_user reaching the caller
///              (caller_memory.hpp); the reply carries the copied-out bytes even when the
///              result is an error, and the kernel copies them back before returning it.
///   read, write on a compute node -> the pages of mapped buffer objects (object_pages.hpp)
/// ioctls take no lock of the host's: clients proceed in parallel on libfuse's worker threads
/// (fuse_session_loop_mt with one cloned /dev/fuse descriptor per worker).
///
/// Where FUSE differs from a character device, and what the host does about it:
///   - O_EXCL is not forwarded: recovered from /proc/<tid>/syscall (caller_open_flags.hpp).
///   - RELEASE is asynchronous: close(2) returns before the server has run postclose, so a
///     client that closes an exclusive node and opens it again can overtake its own release.
///     FLUSH, though, is synchronous: close(2) waits for its reply, and the kernel queues
///     RELEASE only after it. So the host marks a file flushed, and an open refused with
///     -EBUSY while a file of the same device is flushed but not yet released waits for that
///     release (up to host_options::flushed_grace, generous: the release is surely coming
///     unless another descriptor or a mapping still holds the file). Without one it waits
///     host_options::release_grace (short: a release can also follow munmap, with no FLUSH).
///     It retries after each release.
///   - 32-bit callers (FUSE_IOCTL_COMPAT) get -ENOTTY, as from a kernel driver without
///     .compat_ioctl: DRM translates a few layouts for them, which accel does not do.
///
/// Lifecycle: mount() (creates the directory, clears a stale mount a killed server left -
/// statfs() gives ENOTCONN there - and refuses a live FUSE mount with -EBUSY), run() (serves
/// until stop()), stop() (async-signal-safe), unmount() / the destructor. When the server
/// process dies, the kernel aborts the connection as its /dev/fuse descriptor closes: clients
/// get ENOTCONN, never a hang. Serve from a process that does not itself use the mount (a page
/// fault or an open served by the faulting process can deadlock).
#ifndef FUSE_USE_VERSION
#define FUSE_USE_VERSION 312
#elif FUSE_USE_VERSION < 312
#error "accel/fuse needs FUSE_USE_VERSION >= 312 (libfuse 3.12 loop configuration API)"
#endif
#include <fuse3/fuse_lowlevel.h>

#include <accel/core/dispatch.hpp>
#include <accel/core/subsystem.hpp>
#include <accel/core/user_memory.hpp>
#include <accel/fuse/caller_memory.hpp>
#include <accel/fuse/caller_open_flags.hpp>
#include <accel/fuse/inodes.hpp>
#include <accel/fuse/object_pages.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <filesystem>
#include <mutex>
#include <poll.h>
#include <pthread.h>
#include <string>
#include <string_view>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <thread>
#include <unistd.h>
#include <unordered_set>
#include <vector>

namespace accel::fuse {

struct host_options {
    /// Let other users reach the files (mount option allow_other). Default: when running as
    /// root (others need user_allow_other in /etc/fuse.conf).
    int allow_other = -1; // -1: decide by euid; 0 / 1
    /// Worker threads libfuse may start.
    unsigned max_threads = 16;
    /// How long an open refused with -EBUSY waits for asynchronous releases (see above): while
    /// a file of the device has been flushed but not released, and otherwise.
    std::chrono::milliseconds flushed_grace{5000};
    std::chrono::milliseconds release_grace{100};
    /// libfuse's request log on stderr.
    bool debug = false;
};

class host {
public:
    static constexpr unsigned long fuse_super_magic = 0x65735546;

    host(subsystem& sub, std::string mount_point, host_options opts = {})
        : sub_(&sub), mp_(std::move(mount_point)), opts_(opts), started_(std::time(nullptr)) {}
    host(const host&) = delete;
    host& operator=(const host&) = delete;
    /// Unmounts. run() must have returned (call stop() and wait for it first).
    ~host() {
        unmount();
        close_pipe();
    }

    const std::string& mount_point() const noexcept { return mp_; }
    bool mounted() const noexcept { return se_ != nullptr; }

    /// Mounts the tree. 0 or -errno: -EBUSY (already mounted, or a live FUSE file system is
    /// there), -ENOENT/-ENODEV/-EACCES (no usable /dev/fuse), -EPERM, or mount's error.
    int mount() {
        if (se_)
            return -EBUSY;
        if (int e = clear_stale_mount(mp_); e < 0)
            return e;
        std::error_code ec;
        std::filesystem::create_directories(mp_, ec);
        if (ec)
            return -ec.value();
        struct statfs sf {};
        if (::statfs(mp_.c_str(), &sf) == 0 && static_cast<unsigned long>(sf.f_type) == fuse_super_magic)
            return -EBUSY;
        if (int fd = ::open("/dev/fuse", O_RDWR | O_CLOEXEC); fd >= 0)
            ::close(fd);
        else
            return -errno;
        if (int e = open_pipe())
            return e;

        const bool allow_other = opts_.allow_other < 0 ? ::geteuid() == 0 : opts_.allow_other != 0;
        std::string mount_opts = "default_permissions,fsname=accel,subtype=accel";
        if (allow_other)
            mount_opts += ",allow_other";
        std::vector<std::string> argv_s = {"accel-fuse", "-o", mount_opts};
        if (opts_.debug)
            argv_s.emplace_back("-d");
        std::vector<char*> argv;
        for (auto& s : argv_s)
            argv.push_back(s.data());
        fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
        se_ = fuse_session_new(&args, &ops(), sizeof(fuse_lowlevel_ops), this);
        fuse_opt_free_args(&args); // option parsing may have replaced argv with a copy
        if (!se_)
            return -EINVAL;
        errno = 0;
        if (fuse_session_mount(se_, mp_.c_str()) != 0) {
            int e = errno ? errno : EIO;
            fuse_session_destroy(se_);
            se_ = nullptr;
            return -e;
        }
        return 0;
    }

    /// Serves until stop() (0), or until the connection ends otherwise (0: unmounted from
    /// outside; -errno on a libfuse error). Blocks the calling thread; signals stay deliverable
    /// to it, libfuse's threads block them.
    int run() {
        if (!se_)
            return -ENOTCONN;
        loop_done_.store(false);
        int rc = 0;
        std::thread loop;
        {
            // The loop and its workers must not take the process's signals: the loop's own
            // wait would end early and race with the wake-up below.
            sigset_t all, old;
            sigfillset(&all);
            pthread_sigmask(SIG_BLOCK, &all, &old);
            loop = std::thread([this, &rc] {
                fuse_loop_config* cfg = fuse_loop_cfg_create();
                fuse_loop_cfg_set_clone_fd(cfg, 1);
                fuse_loop_cfg_set_max_threads(cfg, opts_.max_threads);
                rc = fuse_session_loop_mt(se_, cfg);
                fuse_loop_cfg_destroy(cfg);
                loop_done_.store(true);
                poke();
            });
            pthread_sigmask(SIG_SETMASK, &old, nullptr);
        }
        while (!loop_done_.load()) {
            pollfd p{pipe_r_.load(), POLLIN, 0};
            if (::poll(&p, 1, -1) > 0) {
                char drain[64];
                while (::read(p.fd, drain, sizeof drain) > 0) {
                }
            }
            if (stop_requested_.load() && !loop_done_.load() && !waker_.joinable()) {
                fuse_session_exit(se_);
                sigset_t all, old;
                sigfillset(&all);
                pthread_sigmask(SIG_BLOCK, &all, &old);
                waker_ = std::thread([this, path = mp_ + "/.accel-host-stop"] { wake_loop(path); });
                pthread_sigmask(SIG_SETMASK, &old, nullptr);
            }
        }
        loop.join();
        stop_requested_.store(false);
        return rc < 0 ? rc : (rc > 0 ? -EIO : 0);
    }

    /// Makes run() return soon (requests being served finish first). Async-signal-safe; may
    /// come before run().
    void stop() noexcept {
        stop_requested_.store(true);
        poke();
    }

    /// Detaches the mount and ends the connection: clients still holding files get ENOTCONN;
    /// the host closes those files itself (postclose runs). Idempotent.
    void unmount() noexcept {
        if (!se_)
            return;
        fuse_session_unmount(se_); // closes /dev/fuse first (aborts the connection), then detaches
        if (waker_.joinable())
            waker_.join(); // its lookup, if still pending, failed with the abort
        close_remaining_files();
        fuse_session_destroy(se_);
        se_ = nullptr;
    }

    /// Clears a mount left at `dir` by a server that died (statfs gives ENOTCONN there).
    /// 1: cleared, 0: nothing to clear, -errno.
    static int clear_stale_mount(const std::string& dir) noexcept {
        int cleared = 0;
        for (int i = 0; i < 8; ++i) { // mounts may be stacked
            // statfs, not stat: stat may be answered from the kernel's attribute cache for a
            // while after the server died; statfs always asks the server.
            struct statfs sf {};
            if (::statfs(dir.c_str(), &sf) == 0 || (errno != ENOTCONN && errno != ECONNABORTED))
                return cleared;
            if (::umount2(dir.c_str(), MNT_DETACH) != 0)
                return -errno;
            cleared = 1;
        }
        return cleared;
    }

private:
    // ---- plumbing -------------------------------------------------------------------------

    int open_pipe() noexcept {
        if (pipe_r_.load() >= 0)
            return 0;
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0)
            return -errno;
        pipe_r_.store(fds[0]);
        pipe_w_.store(fds[1]);
        return 0;
    }
    void close_pipe() noexcept {
        if (int r = pipe_r_.exchange(-1); r >= 0)
            ::close(r);
        if (int w = pipe_w_.exchange(-1); w >= 0)
            ::close(w);
    }
    void poke() noexcept {
        if (int w = pipe_w_.load(); w >= 0) {
            char c = 1;
            [[maybe_unused]] ssize_t r = ::write(w, &c, 1); // a full pipe is already a wake-up
        }
    }

    /// libfuse's workers check for exit only between requests: hand them one, a lookup of a
    /// name that never exists (answered ENOENT, which the kernel does not cache). This runs on
    /// its own thread because the lookup may never be answered - if another request ended the
    /// loop first, or the stop came before INIT - and then blocks until unmount() aborts the
    /// connection; unmount() joins it. (A retrieve notification would not block, but the
    /// kernel refuses it with EINVAL for the root directory.)
    void wake_loop(const std::string& path) noexcept {
        while (!loop_done_.load()) {
            struct stat st {};
            ::stat(path.c_str(), &st);
            for (int i = 0; i < 20 && !loop_done_.load(); ++i)
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
    }

    static host& self(fuse_req_t req) noexcept { return *static_cast<host*>(fuse_req_userdata(req)); }

    static caller_identity identity(fuse_req_t req) noexcept {
        const fuse_ctx* c = fuse_req_ctx(req);
        return caller_identity{c->uid, c->pid, c->uid == 0};
    }

    // ---- the tree -------------------------------------------------------------------------

    bool registered(unsigned minor) const {
        return static_cast<bool>(sub_->find_node(node_name(node_kind::compute, minor)));
    }
    bool exists(const inode& in) const {
        switch (in.kind) {
        case inode_kind::compute:
        case inode_kind::monitor:
        case inode_kind::attr_dir:
        case inode_kind::attr_dev:
            return registered(in.minor);
        default:
            return true;
        }
    }
    static std::string dev_attr(unsigned minor) { return std::to_string(ACCEL_MAJOR) + ":" + std::to_string(minor) + "\n"; }

    struct stat attr_of(std::uint64_t n, const inode& in) const {
        struct stat st {};
        st.st_ino = n;
        st.st_uid = ::geteuid();
        st.st_gid = ::getegid();
        st.st_atime = st.st_mtime = st.st_ctime = started_;
        st.st_blksize = 4096;
        if (ino::is_dir(in.kind)) {
            st.st_mode = S_IFDIR | 0755;
            st.st_nlink = 2;
        } else if (in.kind == inode_kind::attr_dev) {
            st.st_mode = S_IFREG | 0444;
            st.st_nlink = 1;
            st.st_size = static_cast<off_t>(dev_attr(in.minor).size());
        } else {
            st.st_mode = S_IFREG | 0666;
            st.st_nlink = 1;
            if (in.kind == inode_kind::compute) // mmap offsets lie inside the file
                st.st_size = static_cast<off_t>(mmap_offset_manager::start_byte + mmap_offset_manager::span_bytes);
        }
        return st;
    }
    // Per-device entries must not be cached by the kernel: they come and go with registrations.
    static double timeout_for(const inode& in) noexcept {
        return in.kind == inode_kind::compute || in.kind == inode_kind::monitor || in.kind == inode_kind::attr_dir ||
                       in.kind == inode_kind::attr_dev
                   ? 0.0
                   : 1.0;
    }

    std::uint64_t child_of(const inode& parent, std::string_view name) const {
        switch (parent.kind) {
        case inode_kind::root:
            return name == "accel" ? ino::accel_dir : name == "sys" ? ino::sys_dir : 0;
        case inode_kind::sys_dir:
            return name == "class" ? ino::sys_class_dir : 0;
        case inode_kind::sys_class_dir:
            return name == "accel" ? ino::sys_class_accel_dir : 0;
        case inode_kind::accel_dir:
        case inode_kind::sys_class_accel_dir: {
            node_kind k;
            unsigned minor;
            if (!parse_node_name("accel/" + std::string(name), k, minor) || !registered(minor))
                return 0;
            if (parent.kind == inode_kind::sys_class_accel_dir)
                return k == node_kind::compute ? ino::of(inode_kind::attr_dir, minor) : 0;
            return ino::of(k == node_kind::compute ? inode_kind::compute : inode_kind::monitor, minor);
        }
        case inode_kind::attr_dir:
            return name == "dev" && registered(parent.minor) ? ino::of(inode_kind::attr_dev, parent.minor) : 0;
        default:
            return 0;
        }
    }

    struct dir_entry {
        std::string name;
        std::uint64_t ino;
    };
    std::vector<dir_entry> list(std::uint64_t n, const inode& in) const {
        std::vector<dir_entry> out{{".", n}, {"..", ino::root}};
        switch (in.kind) {
        case inode_kind::root:
            out.push_back({"accel", ino::accel_dir});
            out.push_back({"sys", ino::sys_dir});
            break;
        case inode_kind::accel_dir:
            out[1].ino = ino::root;
            for (auto& node : sub_->nodes())
                out.push_back({node.name.substr(6), // strip "accel/"
                               ino::of(node.kind == node_kind::compute ? inode_kind::compute : inode_kind::monitor,
                                       node.minor)});
            break;
        case inode_kind::sys_dir:
            out.push_back({"class", ino::sys_class_dir});
            break;
        case inode_kind::sys_class_dir:
            out[1].ino = ino::sys_dir;
            out.push_back({"accel", ino::sys_class_accel_dir});
            break;
        case inode_kind::sys_class_accel_dir:
            out[1].ino = ino::sys_class_dir;
            for (auto& d : sub_->devices())
                out.push_back({"accel" + std::to_string(d->minor()), ino::of(inode_kind::attr_dir, d->minor())});
            break;
        case inode_kind::attr_dir:
            out[1].ino = ino::sys_class_accel_dir;
            out.push_back({"dev", ino::of(inode_kind::attr_dev, in.minor)});
            break;
        default:
            break;
        }
        return out;
    }

    // ---- open files -----------------------------------------------------------------------

    bool track(file_base* f) {
        std::lock_guard lock(files_mutex_);
        try {
            files_.insert(f);
            return true;
        } catch (...) {
            return false;
        }
    }
    /// close(2) of a descriptor of f was served: its release is likely queued behind it.
    void mark_flushed(file_base* f) noexcept {
        std::lock_guard lock(files_mutex_);
        try {
            if (files_.contains(f))
                flushed_.insert(f);
        } catch (...) {
            // Unmarked, an open overtaking this release waits release_grace only.
        }
    }
    /// RELEASE, or an open the kernel dropped: closes f. Waiting opens are woken only after
    /// postclose, once the device would admit them; until then the device counts as releasing.
    void release_file(file_base* f, pid_t pid) noexcept {
        device_base* dev = &f->base_device();
        bool counted = false;
        {
            std::lock_guard lock(files_mutex_);
            files_.erase(f);
            flushed_.erase(f);
            try {
                releasing_.insert(dev);
                counted = true;
            } catch (...) {
            }
        }
        close_file(f, pid);
        {
            std::lock_guard lock(files_mutex_);
            if (counted)
                releasing_.erase(releasing_.find(dev));
            ++release_gen_;
        }
        releases_.notify_all();
    }
    /// Whether a release of one of dev's files is surely coming or under way.
    bool closing(const device_base* dev) const noexcept {
        return releasing_.contains(dev) ||
               std::ranges::any_of(flushed_, [&](const file_base* g) { return &g->base_device() == dev; });
    }
    void close_file(file_base* f, pid_t pid) noexcept {
        caller_memory mem(pid);
        call_context ctx{&mem, f->opener()};
        call_scope scope(ctx);
        f->base_device().close(f);
    }
    void close_remaining_files() noexcept {
        std::unordered_set<file_base*> left;
        {
            std::lock_guard lock(files_mutex_);
            left.swap(files_);
            flushed_.clear();
        }
        for (file_base* f : left)
            close_file(f, 0);
    }

    /// device_base::open, waiting for releases in flight when the node is busy (see above).
    result<file_base*> open_file(const subsystem::node_ref& node, int flags) {
        std::uint64_t seen;
        {
            std::lock_guard lock(files_mutex_);
            seen = release_gen_;
        }
        auto f = node.device->open(node.kind, flags);
        if (f || f.error() != -EBUSY || (flags & O_EXCL))
            return f;
        const auto refused = std::chrono::steady_clock::now();
        while (!f && f.error() == -EBUSY) {
            std::unique_lock lock(files_mutex_);
            const auto deadline = refused + (closing(node.device.get()) ? opts_.flushed_grace : opts_.release_grace);
            if (!releases_.wait_until(lock, deadline, [&] { return release_gen_ != seen; }))
                break;
            seen = release_gen_;
            lock.unlock();
            f = node.device->open(node.kind, flags);
        }
        return f;
    }

    // ---- request handlers -----------------------------------------------------------------

    static void do_lookup(fuse_req_t req, fuse_ino_t parent, const char* name) noexcept {
        host& h = self(req);
        auto p = ino::decode(parent);
        std::uint64_t child = 0;
        try {
            child = p ? h.child_of(*p, name) : 0;
        } catch (...) {
            fuse_reply_err(req, ENOMEM);
            return;
        }
        if (!child) {
            fuse_reply_err(req, ENOENT); // not cached: a device may appear later
            return;
        }
        inode in = *ino::decode(child);
        if (in.kind == inode_kind::compute) { // the caller's own view (inodes.hpp)
            in.view = thread_group_of(fuse_req_ctx(req)->pid);
            child = ino::of(in.kind, in.minor, in.view);
        }
        fuse_entry_param e{};
        e.ino = child;
        e.generation = 1;
        e.attr = h.attr_of(child, in);
        e.attr_timeout = e.entry_timeout = timeout_for(in);
        fuse_reply_entry(req, &e);
    }

    static void do_getattr(fuse_req_t req, fuse_ino_t n, fuse_file_info*) noexcept {
        host& h = self(req);
        auto in = ino::decode(n);
        try {
            if (!in || !h.exists(*in)) {
                fuse_reply_err(req, ENOENT);
                return;
            }
        } catch (...) {
            fuse_reply_err(req, ENOMEM);
            return;
        }
        struct stat st = h.attr_of(n, *in);
        fuse_reply_attr(req, &st, timeout_for(*in));
    }

    static void do_readdir(fuse_req_t req, fuse_ino_t n, size_t size, off_t off, fuse_file_info*) noexcept {
        host& h = self(req);
        auto in = ino::decode(n);
        if (!in || !ino::is_dir(in->kind)) {
            fuse_reply_err(req, ENOTDIR);
            return;
        }
        try {
            if (!h.exists(*in)) {
                fuse_reply_err(req, ENOENT);
                return;
            }
            auto entries = h.list(n, *in);
            std::vector<char> buf(size);
            std::size_t used = 0;
            for (std::size_t i = static_cast<std::size_t>(off < 0 ? 0 : off); i < entries.size(); ++i) {
                struct stat st {};
                st.st_ino = entries[i].ino;
                st.st_mode = ino::is_dir(ino::decode(entries[i].ino)->kind) ? S_IFDIR : S_IFREG;
                std::size_t need = fuse_add_direntry(req, buf.data() + used, size - used, entries[i].name.c_str(), &st,
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

    static void do_open(fuse_req_t req, fuse_ino_t n, fuse_file_info* fi) noexcept {
        host& h = self(req);
        auto in = ino::decode(n);
        try {
            if (!in || !h.exists(*in)) {
                fuse_reply_err(req, ENOENT);
                return;
            }
            if (in->kind == inode_kind::attr_dev) {
                if ((fi->flags & O_ACCMODE) != O_RDONLY) { // root passes default_permissions
                    fuse_reply_err(req, EACCES);
                    return;
                }
                fi->direct_io = 1; // the value is computed on each read
                fuse_reply_open(req, fi);
                return;
            }
            if (in->kind != inode_kind::compute && in->kind != inode_kind::monitor) {
                fuse_reply_err(req, EISDIR);
                return;
            }
            auto node = h.sub_->find_node(node_name(in->kind == inode_kind::compute ? node_kind::compute : node_kind::monitor, in->minor));
            if (!node) {
                fuse_reply_err(req, -node.error());
                return;
            }
            const caller_identity who = identity(req);
            int flags = fi->flags;
            if (auto caller_flags = caller_open_flags(who.pid); caller_flags && (*caller_flags & O_EXCL))
                flags |= O_EXCL;
            caller_memory mem(who.pid);
            call_context ctx{&mem, who};
            call_scope scope(ctx);
            auto f = h.open_file(*node, flags);
            if (!f) {
                fuse_reply_err(req, -f.error());
                return;
            }
            if (!h.track(*f)) {
                h.close_file(*f, who.pid);
                fuse_reply_err(req, ENOMEM);
                return;
            }
            fi->fh = reinterpret_cast<std::uintptr_t>(*f);
            fi->nonseekable = 1;
            fi->keep_cache = 0;
            if (fuse_reply_open(req, fi) != 0) {
                // The open was interrupted: the kernel will never release this handle.
                h.release_file(*f, who.pid);
            }
        } catch (...) {
            fuse_reply_err(req, ENOMEM);
        }
    }

    /// The open accel file behind a request on a compute or monitor node, or null.
    static file_base* node_file(fuse_ino_t n, const fuse_file_info* fi) noexcept {
        auto in = ino::decode(n);
        if (!in || (in->kind != inode_kind::compute && in->kind != inode_kind::monitor))
            return nullptr;
        return reinterpret_cast<file_base*>(static_cast<std::uintptr_t>(fi->fh));
    }

    static void do_release(fuse_req_t req, fuse_ino_t n, fuse_file_info* fi) noexcept {
        host& h = self(req);
        if (file_base* f = node_file(n, fi)) {
            object_pages::sync(h.se_, n, *f); // before the pins go: no stale pages at reused offsets
            h.release_file(f, fuse_req_ctx(req)->pid);
        }
        fuse_reply_err(req, 0);
    }

    static void do_flush(fuse_req_t req, fuse_ino_t n, fuse_file_info* fi) noexcept {
        if (file_base* f = node_file(n, fi))
            self(req).mark_flushed(f);
        fuse_reply_err(req, 0);
    }

    static void do_read(fuse_req_t req, fuse_ino_t n, size_t size, off_t off, fuse_file_info* fi) noexcept {
        auto in = ino::decode(n);
        if (in && in->kind == inode_kind::compute && fi->fh && off >= 0) {
            try {
                object_pages::read(req, *reinterpret_cast<file_base*>(static_cast<std::uintptr_t>(fi->fh)),
                                   static_cast<std::uint64_t>(off), size);
            } catch (...) {
                fuse_reply_err(req, ENOMEM);
            }
            return;
        }
        if (!in || in->kind != inode_kind::attr_dev) {
            fuse_reply_err(req, EINVAL); // no events to read yet
            return;
        }
        try {
            std::string v = dev_attr(in->minor);
            std::size_t o = off < 0 ? 0 : static_cast<std::size_t>(off);
            o = o > v.size() ? v.size() : o;
            fuse_reply_buf(req, v.data() + o, std::min(size, v.size() - o));
        } catch (...) {
            fuse_reply_err(req, ENOMEM);
        }
    }

    static void do_write(fuse_req_t req, fuse_ino_t n, const char* buf, size_t size, off_t off, fuse_file_info* fi) noexcept {
        auto in = ino::decode(n);
        if (!in || in->kind != inode_kind::compute || !fi->fh || off < 0) {
            fuse_reply_err(req, EINVAL);
            return;
        }
        try {
            object_pages::write(req, *reinterpret_cast<file_base*>(static_cast<std::uintptr_t>(fi->fh)),
                                static_cast<std::uint64_t>(off), buf, size);
        } catch (...) {
            fuse_reply_err(req, ENOMEM);
        }
    }

    /// No readahead: a fault reads its own page only (object_pages.hpp).
    static void do_init(void*, fuse_conn_info* conn) noexcept { conn->max_readahead = 0; }

    static void do_ioctl(fuse_req_t req, fuse_ino_t n, unsigned int cmd, void* arg, fuse_file_info* fi, unsigned flags,
                         const void* in_buf, size_t in_bufsz, size_t out_bufsz) noexcept {
        file_base* f = node_file(n, fi);
        if (!f || (flags & FUSE_IOCTL_COMPAT)) {
            fuse_reply_err(req, ENOTTY);
            return;
        }
        const caller_identity who = identity(req);
        const auto addr = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(arg));
        caller_memory mem(who.pid, addr, in_buf, in_bufsz, out_bufsz);
        if (!mem.ok()) {
            fuse_reply_err(req, ENOMEM);
            return;
        }
        int ret;
        {
            call_context ctx{&mem, who};
            call_scope scope(ctx);
            // The ioctl is where the client's and the driver's views of mapped objects meet.
            object_pages::sync(self(req).se_, n, *f);
            ret = f->base_device().ioctl(*f, static_cast<ioctl_cmd>(cmd), addr);
            object_pages::sync(self(req).se_, n, *f);
        }
        auto out = mem.reply();
        fuse_reply_ioctl(req, ret, out.empty() ? nullptr : out.data(), out.size());
    }

    static const fuse_lowlevel_ops& ops() noexcept {
        static const fuse_lowlevel_ops table = [] {
            fuse_lowlevel_ops o{};
            o.lookup = &host::do_lookup;
            o.getattr = &host::do_getattr;
            o.readdir = &host::do_readdir;
            o.open = &host::do_open;
            o.release = &host::do_release;
            o.flush = &host::do_flush;
            o.init = &host::do_init;
            o.read = &host::do_read;
            o.write = &host::do_write;
            o.ioctl = &host::do_ioctl;
            return o;
        }();
        return table;
    }

    subsystem* sub_;
    std::string mp_;
    host_options opts_;
    std::time_t started_;
    fuse_session* se_ = nullptr;
    std::atomic<bool> stop_requested_{false};
    std::atomic<bool> loop_done_{false};
    std::thread waker_; // see wake_loop()
    std::atomic<int> pipe_r_{-1}, pipe_w_{-1};
    std::mutex files_mutex_; // open, flush and release only; never taken on the ioctl path
    std::condition_variable releases_;
    std::uint64_t release_gen_ = 0;
    std::unordered_set<file_base*> files_;
    std::unordered_set<file_base*> flushed_; // of files_: close(2) served, RELEASE not yet
    std::unordered_multiset<const device_base*> releasing_; // one per RELEASE between files_ and postclose's end
};

} // namespace accel::fuse

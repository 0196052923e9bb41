// SPDX-License-Identifier: MIT
#pragma once
/// \file The real backend's serving side: a subsystem's devices as files on a FUSE mount.
///
///   <mount>/accel/accel<N>, <mount>/accel/accel_controlD<N>   regular files, owner, group and
///                                                               mode by host_options::access
///   <mount>/sys/class/accel/accel<N>/...                        the sysfs-like attribute tree
///   <mount>/sys/kernel/debug/accel/<N>/...                      the debugfs-like tree (fdinfo/<id>
///                                                               per client); attribute_tree.hpp
///   <mount>/.accel/fd/<token>                                   descriptors calls made
///                                                               (published_files.hpp)
///
/// The host is assembled from parts, one header each (start reading at the one you need):
///   session.hpp        mount, the multi-threaded loop, stop, unmount, stale mounts
///   kernel_flags.hpp   the session's custom I/O: kernel flags libfuse 3.14 cannot set
///                      (FUSE_DIRECT_IO_ALLOW_MMAP, FOPEN_STREAM) and read(2) vs page fault
///   device_tree.hpp    the served tree in an inode table (inode_table.hpp), following the
///                      subsystem's registrations, with per-process views of compute nodes
///   handlers.hpp       the request handlers, one per FUSE request kind
///   open_files.hpp     what a file handle stands for; releases in flight and -EBUSY opens
///   page_faults.hpp    READ and WRITE on a compute node: page faults and writeback of mapped
///                      buffer objects
///   coherency.hpp      the sync points between a client's mapping and the driver (an ioctl
///                      syncs the objects its handler touches; every answer syncs device
///                      writes, so a wait's end shows the device's output; msync)
///   process_view.hpp   one process's view of a compute node: its pins, and when they go
///   caller_*.hpp       the caller: its memory, its open flags, its process and PID namespace,
///                      its descriptors (caller_descriptors.hpp: fd_install and fget)
///   published_files.hpp descriptors a call made, published as files of the mount
///   housekeeping.hpp   the thread for kernel notifications and periodic work
/// Lifecycle: mount(), run() (serves until stop()), stop() (async-signal-safe), unmount() / the
/// destructor; serve.hpp wraps them for a foreground server that stops on SIGINT/SIGTERM.
#include <accel/core/subsystem.hpp>
#include <accel/fuse/handlers.hpp>
#include <accel/fuse/housekeeping.hpp>
#include <accel/fuse/lowlevel.hpp>
#include <accel/fuse/process_maps.hpp>
#include <accel/fuse/session.hpp>

#include <chrono>
#include <filesystem>
#include <string>
#include <system_error>
#include <unistd.h>
#include <utility>

namespace accel::fuse {

struct host_options {
    /// Let other users reach the files (mount option allow_other). Default: when running as
    /// root (others need user_allow_other in /etc/fuse.conf).
    int allow_other = -1; // -1: decide by euid; 0 / 1
    /// Worker threads libfuse may start.
    unsigned max_threads = 16;
    /// How long an open refused with -EBUSY waits for asynchronous releases (open_files.hpp):
    /// while a file of the device has been flushed but not released, and otherwise.
    std::chrono::milliseconds flushed_grace{5000};
    std::chrono::milliseconds release_grace{100};
    /// How often the host reconciles the tree with the subsystem (the kernel hears of removed
    /// devices) and looks for unmapped objects that only its pins keep alive (process_view.hpp).
    std::chrono::milliseconds housekeeping_interval{250};
    /// How long a token naming a published file (uapi/accel_fd.h) may wait for its open.
    std::chrono::milliseconds token_lifetime{5000};
    /// libfuse's request log on stderr.
    bool debug = false;
    /// Owner, group and mode of the device nodes and attribute files (monitor/access.hpp):
    /// reported by stat and enforced by the kernel at open (default_permissions) and by the
    /// host. Other users reach the mount only with allow_other.
    access_policy access{};
    /// Mount with default_permissions (the kernel checks modes at open). Only tests turn it off,
    /// to see the host's own check (handlers.hpp) refuse alone.
    bool default_permissions = true;
};

class host {
public:
    static constexpr unsigned long fuse_super_magic = session::fuse_super_magic;

    host(subsystem& sub, std::string mount_point, host_options opts = {})
        : opts_(opts), state_(sub, mount_point, opts.flushed_grace, opts.release_grace, opts.token_lifetime, opts.access) {
        state_.tree.on_removals([this] { housekeeping_.poke(); });
    }
    host(const host&) = delete;
    host& operator=(const host&) = delete;
    /// Unmounts. run() must have returned (call stop() and wait for it first).
    ~host() { unmount(); }

    const std::string& mount_point() const noexcept { return state_.ses.mount_point(); }
    bool mounted() const noexcept { return state_.ses.mounted(); }

    /// Mounts the tree. 0 or -errno: -EBUSY (already mounted, or a live FUSE file system is
    /// there), -ENOENT/-ENODEV/-EACCES (no usable /dev/fuse), -EPERM, or mount's error.
    int mount() {
        // The absolute path as /proc/self/mountinfo will show it, taken before mounting (once
        // mounted, resolving it would ask this very server).
        std::error_code ec;
        std::filesystem::path where = std::filesystem::weakly_canonical(mount_point(), ec);
        if (ec)
            where = std::filesystem::absolute(mount_point(), ec);
        const bool allow_other = opts_.allow_other < 0 ? ::geteuid() == 0 : opts_.allow_other != 0;
        int e = state_.ses.mount(requests::ops(), &state_, allow_other, opts_.debug, &requests::io(), opts_.default_permissions);
        if (e == 0)
            state_.mount_dev = mount_device(where.string());
        return e;
    }

    /// Serves until stop() (0), or until the connection ends otherwise (0: unmounted from
    /// outside; -errno on a libfuse error). Blocks the calling thread.
    int run() {
        housekeeping_.start(opts_.housekeeping_interval, [this] { housekeeping_tick(); });
        // Housekeeping stops while the loop still serves: its notifications may wait for
        // writeback that the loop's workers answer.
        int rc = state_.ses.run(opts_.max_threads, [this] { housekeeping_.stop(); });
        housekeeping_.stop();
        return rc;
    }

    /// Makes run() return soon (requests being served finish first). Async-signal-safe; may
    /// come before run().
    void stop() noexcept { state_.ses.stop(); }

    /// Detaches the mount and ends the connection: clients still holding files get ENOTCONN;
    /// the host closes those files itself (postclose runs). Idempotent.
    void unmount() noexcept {
        state_.ses.unmount([this] {
            state_.calls.end_all(); // no reply from another thread may outlive the session
            state_.files.close_all();
            state_.published.close_all();
        });
    }

    /// Clears a mount left at `dir` by a server that died (statfs gives ENOTCONN there).
    /// 1: cleared, 0: nothing to clear, -errno.
    static int clear_stale_mount(const std::string& dir) noexcept { return session::clear_stale_mount(dir); }

private:
    /// On the housekeeping thread: the tree follows the subsystem, the kernel hears of removed
    /// entries, views drop the pins of objects their process maps no more, and the views of
    /// processes that are gone leave the table.
    void housekeeping_tick() noexcept {
        try {
            state_.tree.reconcile();
            for (const removal& r : state_.tree.take_removals()) {
                if (r.child) // the kernel may hold the number: mark it deleted (nlink 0)
                    fuse_lowlevel_notify_delete(state_.se(), r.parent, r.child, r.name.data(), r.name.size());
                fuse_lowlevel_notify_inval_entry(state_.se(), r.parent, r.name.data(), r.name.size());
            }
            state_.published.expire();
            for (const std::string& name : state_.published.take_stale_names()) // used or expired tokens
                fuse_lowlevel_notify_inval_entry(state_.se(), state_.tree.fd_dir(), name.data(), name.size());
            for (auto& view : state_.tree.views())
                if (view->pins_orphans())
                    view->reclaim(state_.se(), state_.mount_dev);
            state_.tree.reap_views(
                [](const process_key& p) { return p.identified() && process_of(static_cast<pid_t>(p.tgid)) != p; });
        } catch (...) {
            // Out of memory: the next tick tries again.
        }
    }

    host_options opts_;
    host_state state_;
    housekeeping housekeeping_;
};

} // namespace accel::fuse

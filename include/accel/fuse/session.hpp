// SPDX-License-Identifier: MIT
#pragma once
/// \file A FUSE session's life: mount, serve, stop, unmount (nothing about what is served).
///
/// mount() creates the directory, clears a stale mount a killed server left (statfs() gives
/// ENOTCONN there) and refuses a live FUSE mount with -EBUSY; run() serves on libfuse's
/// multi-threaded loop (one cloned /dev/fuse descriptor per worker) until stop(), which is
/// async-signal-safe; unmount() (or the destructor) detaches the mount. When the server process
/// dies, the kernel aborts the connection as its /dev/fuse descriptor closes: clients get
/// ENOTCONN, never a hang. Serve from a process that does not itself use the mount (a page
/// fault or an open served by the faulting process can deadlock).
/// Mount options: default_permissions unless asked otherwise (the kernel checks each file's
/// owner, group and mode as the server reports them, with the caller's supplementary groups, as
/// for any file), allow_other when asked (other users than the server's may reach the mount).
#include <accel/fuse/lowlevel.hpp>
#include <accel/fuse/unsignalled_thread.hpp>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <fcntl.h>
#include <filesystem>
#include <poll.h>
#include <string>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <system_error>
#include <thread>
#include <unistd.h>
#include <utility>
#include <vector>

namespace accel::fuse {

class session {
public:
    static constexpr unsigned long fuse_super_magic = 0x65735546;

    explicit session(std::string mount_point) : mp_(std::move(mount_point)) {}
    session(const session&) = delete;
    session& operator=(const session&) = delete;
    /// run() must have returned; unmount() must have been called by the owner (it closes what
    /// the session served).
    ~session() { close_pipe(); }

    const std::string& mount_point() const noexcept { return mp_; }
    bool mounted() const noexcept { return se_ != nullptr; }
    fuse_session* get() const noexcept { return se_; }

    /// Mounts with the request handlers `ops`, whose requests carry `userdata`; `io` (optional)
    /// becomes libfuse's custom I/O on the mounted descriptor (kernel_flags.hpp: it reads every
    /// request and writes every reply). 0 or -errno: -EBUSY (already mounted, or a live FUSE
    /// file system is there), -ENOENT/-ENODEV/-EACCES (no usable /dev/fuse), -EPERM, or mount's
    /// error.
    int mount(const fuse_lowlevel_ops& ops, void* userdata, bool allow_other, bool debug,
              const fuse_custom_io* io = nullptr, bool default_permissions = true) {
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
        std::string mount_opts = default_permissions ? "default_permissions,fsname=accel,subtype=accel" : "fsname=accel,subtype=accel";
        if (allow_other)
            mount_opts += ",allow_other";
        std::vector<std::string> argv_s = {"accel-fuse", "-o", mount_opts};
        if (debug)
            argv_s.emplace_back("-d");
        std::vector<char*> argv;
        for (auto& s : argv_s)
            argv.push_back(s.data());
        fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
        se_ = fuse_session_new(&args, &ops, sizeof(fuse_lowlevel_ops), userdata);
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
        // fuse_session_custom_io() stands in for fuse_session_mount() in libfuse's design; after
        // it, on the same descriptor, it changes only how that descriptor is read and written
        // (cloned worker descriptors included), and unmount and destroy work as before.
        if (io) {
            if (int e = fuse_session_custom_io(se_, io, fuse_session_fd(se_)); e != 0) {
                fuse_session_unmount(se_);
                fuse_session_destroy(se_);
                se_ = nullptr;
                return e < 0 ? e : -EIO;
            }
        }
        return 0;
    }

    /// Serves until stop() (0), or until the connection ends otherwise (0: unmounted from
    /// outside; -errno on a libfuse error). Blocks the calling thread; signals stay deliverable
    /// to it, libfuse's threads block them. `before_exit()` runs on this thread when stop() is
    /// honoured, while the loop still serves (the owner stops what needs the loop's answers).
    template <class BeforeExit>
    int run(unsigned max_threads, BeforeExit&& before_exit) {
        if (!se_)
            return -ENOTCONN;
        loop_done_.store(false);
        int rc = 0;
        std::thread loop = unsignalled_thread([this, &rc, max_threads] {
            fuse_loop_config* cfg = fuse_loop_cfg_create();
            fuse_loop_cfg_set_clone_fd(cfg, 1);
            fuse_loop_cfg_set_max_threads(cfg, max_threads);
            rc = fuse_session_loop_mt(se_, cfg);
            fuse_loop_cfg_destroy(cfg);
            loop_done_.store(true);
            poke();
        });
        while (!loop_done_.load()) {
            pollfd p{pipe_r_.load(), POLLIN, 0};
            if (::poll(&p, 1, -1) > 0) {
                char drain[64];
                while (::read(p.fd, drain, sizeof drain) > 0) {
                }
            }
            if (stop_requested_.load() && !loop_done_.load() && !waker_.joinable()) {
                before_exit();
                fuse_session_exit(se_);
                waker_ = unsignalled_thread([this, path = mp_ + "/.accel-host-stop"] { wake_loop(path); });
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

    /// Detaches the mount and ends the connection: clients still holding files get ENOTCONN.
    /// `after_abort()` runs once the connection is aborted and before the session is destroyed
    /// (no request can come any more: the owner closes what is left). Idempotent.
    template <class AfterAbort>
    void unmount(AfterAbort&& after_abort) noexcept {
        if (!se_)
            return;
        fuse_session_unmount(se_); // closes /dev/fuse first (aborts the connection), then detaches
        if (waker_.joinable())
            waker_.join(); // its lookup, if still pending, failed with the abort
        after_abort();
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

    std::string mp_;
    fuse_session* se_ = nullptr;
    std::atomic<bool> stop_requested_{false};
    std::atomic<bool> loop_done_{false};
    std::thread waker_; // see wake_loop()
    std::atomic<int> pipe_r_{-1}, pipe_w_{-1};
};

} // namespace accel::fuse

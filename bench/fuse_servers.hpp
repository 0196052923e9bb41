// SPDX-License-Identifier: MIT
// FUSE servers of the bench programs (exec_latency, sharing), each a child process: the very
// program re-executed in a server mode (`<program> --bench-fuse-server MODE MOUNT READY_FD`,
// dispatched by the program's own server_main), started the first time a benchmark needs it and
// stopped at the end (so a filter that selects no FUSE benchmark starts none, and a process that
// already has threads forks only to exec at once). This header has what every program shares:
// the `server` class (the parent's side) and one server mode, the bare daemon.
//
//   bare_poll  a bare libfuse3 low-level daemon (the floor of the FUSE benchmarks): one regular
//              file "file" whose ioctl handler copies 64 bytes in, bumps a word and replies
//              them (as bench/ioctl_real's bare daemon), then hands a "completion" to a second
//              server thread (a mutex + condition variable hand-off, as a driver hands a job to
//              its engine thread), which raises the file's POLLIN and, if a poll(2) is parked,
//              wakes it with fuse_lowlevel_notify_poll. The poll handler answers POLLIN when the
//              event is raised and otherwise keeps the poll handle and answers 0; the next ioctl
//              clears the event. BENCH_BARE_IOCTL_ECHO is the same copy and answer without the
//              completion: a plain ioctl round trip. BENCH_BARE_IOCTL_STATS reports how many
//              FUSE_POLL requests came and how many were answered 0 (parked), so the client can
//              say which path its round trips took.
// The loop runs multi-threaded with clone_fd and at most 16 workers (accel's host default);
// mount options as the host's (default_permissions, allow_other as root). A child dies with the
// benchmark (PR_SET_PDEATHSIG), writes nothing to standard output (it is the benchmark's JSON),
// and tells its parent through a pipe when it has mounted; stop() sends SIGTERM, waits, and
// checks that the mount is gone.
#pragma once
#include <accel/accel.hpp>
#include <accel/fuse/serve.hpp>
#include <accel/fuse/unsignalled_thread.hpp>

#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <mutex>
#include <poll.h>
#include <string>
#include <string_view>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <utility>
#include <vector>

namespace accel::bench::fuse_servers {

struct bump_arg {
    __u64 words[8];
};
static_assert(sizeof(bump_arg) == 64);
struct poll_stats {
    __u64 polls;        ///< FUSE_POLL requests served
    __u64 polls_parked; ///< of which answered 0 (the client then sleeps until a notification)
    __u64 notifies;     ///< fuse_lowlevel_notify_poll calls
    __u64 pad;
};
/// BUMP: the poll daemon's ioctl (answer, then a completion raises POLLIN); ECHO: the same
/// 64-byte copy and answer without the completion (a plain ioctl round trip, nothing else for
/// the daemon to do); STATS: the poll counters.
#define BENCH_BARE_IOCTL_BUMP ACCEL_IOWR(0x40, struct accel::bench::fuse_servers::bump_arg)
#define BENCH_BARE_IOCTL_ECHO ACCEL_IOWR(0x41, struct accel::bench::fuse_servers::bump_arg)
#define BENCH_BARE_IOCTL_STATS ACCEL_IOR(0x42, struct accel::bench::fuse_servers::poll_stats)

/// argv[1] of a re-executed program in a server mode: `<program> --bench-fuse-server MODE
/// MOUNT READY_FD` (each program's server_main dispatches MODE).
inline constexpr const char* server_flag = "--bench-fuse-server";
inline constexpr const char* bare_file_name = "file";

// ---- the bare poll daemon -------------------------------------------------------------------

namespace bare {

constexpr fuse_ino_t file_ino = 2;

struct state {
    std::mutex m;
    std::condition_variable cv;
    bool fire = false;  ///< an ioctl was answered: the notifier's work
    bool ready = false; ///< the file's POLLIN: raised by the notifier, cleared by the next ioctl
    bool stop = false;
    fuse_pollhandle* ph = nullptr; ///< the handle of a poll answered 0, until notified
    poll_stats stats{};
};
inline state& st() {
    static state s;
    return s;
}

inline struct stat attr(fuse_ino_t n) {
    struct stat a {};
    a.st_ino = n;
    a.st_uid = ::geteuid();
    a.st_gid = ::getegid();
    if (n == FUSE_ROOT_ID) {
        a.st_mode = S_IFDIR | 0755;
        a.st_nlink = 2;
    } else {
        a.st_mode = S_IFREG | 0666;
        a.st_nlink = 1;
    }
    return a;
}

inline void lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
    if (parent != FUSE_ROOT_ID || std::strcmp(name, bare_file_name) != 0) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    fuse_entry_param e{};
    e.ino = file_ino;
    e.generation = 1;
    e.attr = attr(file_ino);
    fuse_reply_entry(req, &e);
}

inline void getattr(fuse_req_t req, fuse_ino_t n, fuse_file_info*) {
    if (n != FUSE_ROOT_ID && n != file_ino) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    struct stat a = attr(n);
    fuse_reply_attr(req, &a, 0.0);
}

inline void open(fuse_req_t req, fuse_ino_t n, fuse_file_info* fi) {
    if (n != file_ino) {
        fuse_reply_err(req, EISDIR);
        return;
    }
    fi->nonseekable = 1; // as accel's nodes
    fuse_reply_open(req, fi);
}

inline void release(fuse_req_t req, fuse_ino_t, fuse_file_info*) { fuse_reply_err(req, 0); }

inline void ioctl(fuse_req_t req, fuse_ino_t, unsigned int cmd, void*, fuse_file_info*, unsigned flags, const void* in_buf,
                  size_t in_bufsz, size_t out_bufsz) {
    if (flags & FUSE_IOCTL_COMPAT) {
        fuse_reply_err(req, ENOTTY);
        return;
    }
    state& s = st();
    if (cmd == static_cast<unsigned int>(BENCH_BARE_IOCTL_STATS) && out_bufsz == sizeof(poll_stats)) {
        poll_stats out;
        {
            std::lock_guard lock(s.m);
            out = s.stats;
        }
        fuse_reply_ioctl(req, 0, &out, sizeof out);
        return;
    }
    const bool echo = cmd == static_cast<unsigned int>(BENCH_BARE_IOCTL_ECHO);
    if ((cmd != static_cast<unsigned int>(BENCH_BARE_IOCTL_BUMP) && !echo) || in_bufsz != sizeof(bump_arg) ||
        out_bufsz != sizeof(bump_arg)) {
        fuse_reply_err(req, ENOTTY);
        return;
    }
    bump_arg a;
    std::memcpy(&a, in_buf, sizeof a);
    a.words[0] += a.words[1];
    if (echo) { // the plain round trip: no completion, the file's POLLIN untouched
        fuse_reply_ioctl(req, 0, &a, sizeof a);
        return;
    }
    {
        std::lock_guard lock(s.m);
        s.ready = false;
    }
    fuse_reply_ioctl(req, 0, &a, sizeof a);
    // The "completion", from another thread of the server, right after the answer.
    {
        std::lock_guard lock(s.m);
        s.fire = true;
    }
    s.cv.notify_one();
}

inline void poll(fuse_req_t req, fuse_ino_t, fuse_file_info*, fuse_pollhandle* ph) {
    state& s = st();
    fuse_pollhandle* drop = ph;
    bool ready;
    {
        std::lock_guard lock(s.m);
        ready = s.ready;
        ++s.stats.polls;
        if (!ready) {
            ++s.stats.polls_parked;
            if (ph)
                drop = std::exchange(s.ph, ph); // kept until the notifier wakes it
        }
    }
    if (drop)
        fuse_pollhandle_destroy(drop);
    fuse_reply_poll(req, ready ? POLLIN : 0);
}

inline void notifier() {
    state& s = st();
    std::unique_lock lock(s.m);
    for (;;) {
        s.cv.wait(lock, [&] { return s.fire || s.stop; });
        if (s.stop)
            break;
        s.fire = false;
        s.ready = true;
        fuse_pollhandle* ph = std::exchange(s.ph, nullptr);
        if (!ph)
            continue;
        ++s.stats.notifies;
        lock.unlock();
        fuse_lowlevel_notify_poll(ph);
        fuse_pollhandle_destroy(ph);
        lock.lock();
    }
    if (s.ph)
        fuse_pollhandle_destroy(std::exchange(s.ph, nullptr));
}

inline int serve(const std::string& mnt, int ready_fd) {
    auto report = [&](int e) {
        [[maybe_unused]] ssize_t w = ::write(ready_fd, &e, sizeof e);
        ::close(ready_fd);
    };
    fuse_lowlevel_ops ops{};
    ops.lookup = lookup;
    ops.getattr = getattr;
    ops.open = open;
    ops.release = release;
    ops.ioctl = ioctl;
    ops.poll = poll;
    std::string mount_opts = "default_permissions,fsname=bare_poll,subtype=bare_poll";
    if (::geteuid() == 0)
        mount_opts += ",allow_other"; // the accel host's default
    std::vector<std::string> argv_s = {"bare-poll-fuse", "-o", mount_opts};
    std::vector<char*> argv;
    for (auto& a : argv_s)
        argv.push_back(a.data());
    fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
    fuse_session* se = fuse_session_new(&args, &ops, sizeof ops, nullptr);
    fuse_opt_free_args(&args);
    if (!se) {
        report(-EINVAL);
        return 3;
    }
    if (fuse_set_signal_handlers(se) != 0) { // SIGTERM ends the loop
        fuse_session_destroy(se);
        report(-EINVAL);
        return 3;
    }
    errno = 0;
    if (fuse_session_mount(se, mnt.c_str()) != 0) {
        const int e = errno ? errno : EIO;
        fuse_remove_signal_handlers(se);
        fuse_session_destroy(se);
        report(-e);
        return 3;
    }
    std::thread notify = accel::fuse::unsignalled_thread(notifier); // signals reach the loop
    report(0);
    fuse_loop_config* cfg = fuse_loop_cfg_create();
    fuse_loop_cfg_set_clone_fd(cfg, 1);
    fuse_loop_cfg_set_max_threads(cfg, 16);
    const int rc = fuse_session_loop_mt(se, cfg);
    fuse_loop_cfg_destroy(cfg);
    {
        std::lock_guard lock(st().m);
        st().stop = true;
    }
    st().cv.notify_one();
    notify.join();
    fuse_session_unmount(se);
    fuse_remove_signal_handlers(se);
    fuse_session_destroy(se);
    // libfuse's signal handler records the signal as the session's error, which the loop returns.
    return rc == 0 || rc == SIGTERM || rc == SIGINT || rc == SIGHUP ? 0 : 4;
}

} // namespace bare

// ---- accel's host --------------------------------------------------------------------------

/// A server mode serving the devices of `sub` through accel::fuse::host (as accel-serve does)
/// until SIGTERM; the mount's outcome goes to the parent through `ready_fd`. 0 on a clean stop,
/// 3 when the mount failed, 4 when the loop failed.
inline int serve_host(accel::subsystem& sub, const std::string& mnt, int ready_fd, accel::fuse::host_options opts = {}) {
    accel::fuse::host h(sub, mnt, opts);
    int mount_error = 0;
    const int rc = accel::fuse::serve_until_signal(h, [&](int e) {
        mount_error = e;
        [[maybe_unused]] ssize_t w = ::write(ready_fd, &e, sizeof e);
        ::close(ready_fd);
    });
    if (mount_error)
        return 3;
    return rc == 0 ? 0 : 4;
}

// ---- the parent's side -----------------------------------------------------------------------

inline bool fuse_mounted(const std::string& dir) {
    struct statfs sf {};
    if (::statfs(dir.c_str(), &sf) != 0)
        return errno == ENOTCONN || errno == ECONNABORTED;
    return static_cast<unsigned long>(sf.f_type) == accel::fuse::host::fuse_super_magic;
}

/// CPU time (user + system, all threads, exited ones too, in seconds) process `pid` has used so
/// far, from its CPU-time clock (nanoseconds); -1 if unknown.
inline double process_cpu_seconds(pid_t pid) {
    clockid_t clk;
    timespec t{};
    if (pid <= 0 || ::clock_getcpuclockid(pid, &clk) != 0 || ::clock_gettime(clk, &t) != 0)
        return -1;
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

/// A new directory /tmp/<prefix>-XXXXXX, mode 0755 (the servers' mount points go in it; other
/// users' test processes may walk it), or "" when it cannot be made.
inline std::string make_temp_base(const char* prefix) {
    std::string tmpl = std::string("/tmp/") + prefix + "-XXXXXX";
    if (!::mkdtemp(tmpl.data()))
        return std::string();
    ::chmod(tmpl.c_str(), 0755);
    return tmpl;
}

/// One server child: started by ensure() (once; later calls report the first outcome),
/// stopped by stop().
class server {
public:
    server(std::string mode, std::string node_under_mount) : mode_(std::move(mode)), node_rel_(std::move(node_under_mount)) {}
    server(const server&) = delete;
    server& operator=(const server&) = delete;
    ~server() { stop(); }

    /// Starts the server under `base` (a directory of the caller's) unless it was started
    /// before. An empty string when it serves, else why not.
    const std::string& ensure(const std::string& base) {
        if (tried_)
            return error_;
        tried_ = true;
        if (base.empty()) {
            error_ = "no temporary directory";
            return error_;
        }
        if (::access("/dev/fuse", R_OK | W_OK) != 0) {
            error_ = std::string("/dev/fuse: ") + std::strerror(errno);
            return error_;
        }
        mnt_ = base + "/" + mode_;
        node_ = mnt_ + "/" + node_rel_;
        if (::mkdir(mnt_.c_str(), 0755) != 0 && errno != EEXIST) {
            error_ = "mkdir " + mnt_ + ": " + std::strerror(errno);
            return error_;
        }
        start();
        if (!error_.empty())
            std::fprintf(stderr, "%s: %s server: %s - its benchmarks are skipped\n", program_invocation_short_name, mode_.c_str(),
                         error_.c_str());
        return error_;
    }

    const std::string& node() const noexcept { return node_; }
    pid_t pid() const noexcept { return pid_; }

    /// SIGTERM, wait, check the mount is gone. True when clean (or never started).
    bool stop() {
        if (pid_ <= 0) {
            if (!mnt_.empty())
                ::rmdir(mnt_.c_str());
            return true;
        }
        ::kill(pid_, SIGTERM);
        int status = 0;
        while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
        pid_ = -1;
        bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (!ok)
            std::fprintf(stderr, "%s: %s server: exit status %d\n", program_invocation_short_name, mode_.c_str(),
                         WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        if (fuse_mounted(mnt_)) {
            std::fprintf(stderr, "%s: %s server: %s still mounted; detaching\n", program_invocation_short_name, mode_.c_str(),
                         mnt_.c_str());
            ::umount2(mnt_.c_str(), MNT_DETACH);
            ok = false;
        }
        ::rmdir(mnt_.c_str());
        return ok;
    }

private:
    void start() {
        int p[2];
        if (::pipe2(p, O_CLOEXEC) != 0) {
            error_ = std::string("pipe: ") + std::strerror(errno);
            return;
        }
        // Everything the child needs, made before fork: after it, only async-signal-safe calls.
        std::string fd_arg = std::to_string(p[1]);
        std::vector<char*> argv = {program_invocation_short_name, const_cast<char*>(server_flag), mode_.data(),
                                   mnt_.data(), fd_arg.data(), nullptr};
        std::fflush(nullptr);
        const pid_t parent = ::getpid();
        pid_ = ::fork();
        if (pid_ < 0) {
            error_ = std::string("fork: ") + std::strerror(errno);
            ::close(p[0]);
            ::close(p[1]);
            return;
        }
        if (pid_ == 0) {
            ::prctl(PR_SET_PDEATHSIG, SIGTERM); // never outlive the benchmark (its forking thread)
            if (::getppid() != parent)
                ::_exit(5);
            ::dup2(STDERR_FILENO, STDOUT_FILENO); // standard output is the benchmark's
            ::fcntl(p[1], F_SETFD, 0);           // the ready pipe crosses exec
            ::execv("/proc/self/exe", argv.data());
            ::_exit(127);
        }
        ::close(p[1]);
        int e = 1;
        ssize_t n;
        do
            n = ::read(p[0], &e, sizeof e);
        while (n < 0 && errno == EINTR);
        ::close(p[0]);
        if (n != static_cast<ssize_t>(sizeof e) || e != 0) {
            error_ = n == static_cast<ssize_t>(sizeof e) ? "mount failed: " + std::string(std::strerror(-e)) : "exited early";
            int status;
            while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
            }
            pid_ = -1;
            return;
        }
        struct stat sb {};
        if (::stat(node_.c_str(), &sb) != 0) // waits for the loop's INIT
            error_ = node_ + ": " + std::strerror(errno);
    }

    std::string mode_, node_rel_, mnt_, node_;
    pid_t pid_ = -1;
    bool tried_ = false;
    std::string error_;
};

} // namespace accel::bench::fuse_servers

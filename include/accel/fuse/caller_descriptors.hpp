// SPDX-License-Identifier: MIT
#pragma once
/// \file The FUSE caller's descriptor table, as fd_install and fget see it (core/descriptors.hpp).
///
/// install (fd_install): no FUSE reply can create a descriptor in the caller, so
///   - in a call wrapped in ACCEL_IOCTL_FD_CALL (uapi/accel_fd.h) the file is published
///     (published_files.hpp): a token is reserved now, and the handler gets the placeholder
///     number ACCEL_FD_CALL_PENDING to write into its fd field; finish() commits the token and
///     writes its name into the wrapper's reply when the whole call succeeds (after the
///     copy-out), or gives it back - dropping the file's reference - when it fails, as the mock
///     commits or gives back its numbers. One descriptor per call (a second install:
///     -EOPNOTSUPP); a call that parks after installing fails with -EINVAL (core's rule); a
///     caller with pid 0 (another PID namespace) gets -EOPNOTSUPP: its token could be used by
///     any other such caller;
///   - in a call without the wrapper (an unmodified program's drmPrimeHandleToFD) the install
///     fails with -EOPNOTSUPP, so the handler fails and drops its file: nothing is published,
///     nothing leaks; one line on stderr names the ioctl and the remedy. (For device files the
///     host refuses such rows before the handler runs, from the table's fd_field; this catches
///     the other kinds, e.g. SYNC_IOC_MERGE on a sync file.)
/// get (fget): the caller's descriptor is taken with pidfd_open(tid, PIDFD_THREAD) and
///   pidfd_getfd, and identified with statx (AT_STATX_DONT_SYNC: no GETATTR to anyone, the
///   device and inode numbers never need one):
///   - a file of this mount in the published range: the published file (the handler's import);
///   - any other open descriptor (another file system's file, a device node of ours): a file of
///     the placeholder kind "foreign", which no handler accepts (dma_buf_get's -EINVAL);
///   - not an open descriptor: -EBADF. A caller the server cannot see (pid 0: another PID
///     namespace, caller_process.hpp) has no descriptor the server can reach: -EBADF too. A
///     server without the right to take descriptors (pidfd_getfd needs ptrace access: root, or
///     the same uid with a permissive Yama scope) gets -EPERM.
///   Closing the duplicate must never make the server wait for itself. A published file is
///   opened with FOPEN_NOFLUSH: its close sends nothing (and a last reference's RELEASE is
///   asynchronous), so the worker closes it at once. Any other file's close may send a FLUSH -
///   to this very server for a device node of ours, which a worker must answer while this one
///   waits (all workers doing it at once would deadlock), or to another FUSE server that may be
///   waiting for us. Those duplicates go to the `deferred_closer` thread, which closes them
///   off every request path; the host's FLUSH handler ignores FLUSH requests from that thread
///   (they are not a client's close: no release is coming, nothing to flush).
#include <accel/base/errno.hpp>
#include <accel/core/descriptors.hpp>
#include <accel/core/device_file.hpp>
#include <accel/core/dispatch.hpp>
#include <accel/core/open_file.hpp>
#include <accel/fuse/caller_memory.hpp>
#include <accel/fuse/process_maps.hpp>
#include <accel/fuse/published_files.hpp>
#include <accel/fuse/unsignalled_thread.hpp>
#include <accel/uapi/accel_fd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <mutex>
#include <new>
#include <string>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <thread>
#include <unistd.h>

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL // linux/pidfd.h (6.9); its value is O_EXCL
#endif

namespace accel::fuse {

/// Closes descriptors on a thread of its own (see the file comment): started at first use.
class deferred_closer {
public:
    deferred_closer() = default;
    deferred_closer(const deferred_closer&) = delete;
    deferred_closer& operator=(const deferred_closer&) = delete;
    ~deferred_closer() {
        {
            std::lock_guard lock(m_);
            stopping_ = true;
        }
        cv_.notify_one();
        if (thread_.joinable())
            thread_.join();
        for (int fd : queue_)
            ::close(fd);
    }

    /// Queues `fd` for closing; closes it here if the thread cannot be had (then the caller
    /// must be a thread for which that is safe: never a request handler).
    void close(int fd) noexcept {
        {
            std::lock_guard lock(m_);
            try {
                if (!thread_.joinable())
                    thread_ = unsignalled_thread([this] { run(); });
                queue_.push_back(fd);
                fd = -1;
            } catch (...) {
            }
        }
        if (fd >= 0) // out of memory or threads: leak rather than risk the deadlock
            return;
        cv_.notify_one();
    }

    /// The thread's id (0 before it started): FLUSH requests from it are the host's own.
    pid_t tid() const noexcept { return tid_.load(std::memory_order_acquire); }

private:
    void run() {
        tid_.store(static_cast<pid_t>(::syscall(SYS_gettid)), std::memory_order_release);
        std::unique_lock lock(m_);
        for (;;) {
            cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
            if (queue_.empty())
                return;
            const int fd = queue_.front();
            queue_.pop_front();
            lock.unlock();
            ::close(fd);
            lock.lock();
        }
    }

    std::mutex m_;
    std::condition_variable cv_;
    std::deque<int> queue_;
    bool stopping_ = false;
    std::atomic<pid_t> tid_{0};
    std::thread thread_;
};

/// What fget answers for a descriptor that is not one of the files the host published.
struct foreign_file final : accel::open_file {
    static const file_operations fops;
    foreign_file() noexcept : accel::open_file(fops, O_RDONLY) {}
};
inline const file_operations foreign_file::fops{
    .kind = "foreign",
    .release = [](accel::open_file& f) noexcept { delete &static_cast<foreign_file&>(f); },
};

/// What fget needs of the host.
struct descriptor_host {
    publications* published = nullptr;
    deferred_closer* closer = nullptr;
    dev_t mount_dev = 0;
};

/// The descriptor table of one FUSE ioctl (see the file comment).
class caller_descriptors final : public descriptor_table {
public:
    enum class mode {
        wrapped,  ///< ACCEL_IOCTL_FD_CALL: installs publish
        refusing, ///< a plain ioctl: installs fail with -EOPNOTSUPP
    };

    /// `file` and `cmd` name the call for the log line; `name_at` is the caller's address of
    /// the wrapper's open_flags field, followed by name (wrapped calls).
    caller_descriptors(const descriptor_host& host, pid_t tid, mode m, std::uint64_t flags_at, accel::open_file& file,
                       unsigned cmd) noexcept
        : host_(host), tid_(tid), mode_(m), flags_at_(flags_at), file_(&file), cmd_(cmd) {}
    caller_descriptors(const caller_descriptors&) = delete;
    caller_descriptors& operator=(const caller_descriptors&) = delete;
    ~caller_descriptors() { give_back(); }

    result<int> install(open_file_ref file, int flags) noexcept override {
        if (!file)
            return result<int>::failure(-EINVAL);
        if (mode_ == mode::refusing) {
            log_refused(*file_, cmd_);
            return result<int>::failure(-EOPNOTSUPP);
        }
        if (token_.id)
            return result<int>::failure(-EOPNOTSUPP); // one name per wrapper
        if (tid_ <= 0) // another PID namespace: its token could not be told from other such callers'
            return result<int>::failure(-EOPNOTSUPP);
        open_flags_ = (file->flags() & O_ACCMODE) | (flags & O_CLOEXEC);
        auto name = host_.published->reserve(std::move(file), tid_);
        if (!name)
            return result<int>::failure(name.error());
        token_ = std::move(*name);
        return ACCEL_FD_CALL_PENDING;
    }

    result<open_file_ref> get(int fd) noexcept override {
        if (fd < 0 || tid_ <= 0)
            return result<open_file_ref>::failure(-EBADF);
        const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, tid_, PIDFD_THREAD));
        if (pidfd < 0)
            return result<open_file_ref>::failure(-EBADF); // the thread is gone
        const int dup = static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd, fd, 0));
        const int e = errno;
        ::close(pidfd);
        if (dup < 0)
            return result<open_file_ref>::failure(e == EPERM ? -EPERM : e == EMFILE || e == ENFILE ? -EMFILE : -EBADF);
        struct statx stx {};
        const bool known = ::statx(dup, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_INO, &stx) == 0;
        const bool ours = known && device_number(stx.stx_dev_major, stx.stx_dev_minor) == host_.mount_dev;
        if (ours && is_published_ino(stx.stx_ino)) {
            open_file_ref f = host_.published->file_of(stx.stx_ino);
            ::close(dup); // FOPEN_NOFLUSH: no request; a last reference's RELEASE is asynchronous
            return f ? result<open_file_ref>(std::move(f)) : result<open_file_ref>::failure(-EBADF);
        }
        host_.closer->close(dup); // may send a FLUSH, perhaps to us: never on a worker
        auto* other = new (std::nothrow) foreign_file();
        if (!other)
            return result<open_file_ref>::failure(-ENOMEM);
        return open_file_ref(other, false);
    }

    /// The end of the call with result `r` (after its copy-out): commits the published file
    /// and writes its name into the wrapper's reply through `mem`, or gives it back. `parked`:
    /// the call was answered after waiting. Returns the call's result.
    long finish(long r, user_access& mem, bool parked) noexcept {
        if (!token_.id)
            return r;
        if (r >= 0 && parked)
            r = -EINVAL; // installed, then parked: core's rule
        if (r >= 0) {
            struct {
                __u32 open_flags, pad;
                char name[ACCEL_FD_NAME_LEN];
            } out{};
            out.open_flags = static_cast<__u32>(open_flags_);
            std::snprintf(out.name, sizeof out.name, "%s/%s", ACCEL_FD_DIR, token_.entry->name.c_str());
            static_assert(offsetof(accel_fd_call, name) - offsetof(accel_fd_call, open_flags) == 8);
            if (mem.write(flags_at_, &out, sizeof out) == 0) {
                host_.published->commit(token_);
                token_ = {};
                return r;
            }
            r = -EFAULT;
        }
        give_back();
        return r;
    }

    /// The one stderr line of an fd-returning ioctl issued without the wrapper.
    static void log_refused(accel::open_file& f, unsigned cmd) noexcept {
        std::string_view name;
        if (&f.fops() == &device_file_operations) {
            bool not_tty = false;
            if (const ioctl_slot* s = accel::detail::find_slot(static_cast<file_base&>(f).base_device(), cmd, not_tty))
                name = s->name;
        }
        std::fprintf(stderr,
                     "accel-fuse: ioctl 0x%08x%s%.*s%s on a file of kind %.*s returns a descriptor, which FUSE cannot deliver: "
                     "refused with EOPNOTSUPP. Issue it through ACCEL_IOCTL_FD_CALL (uapi/accel_fd.h; accel's syscall "
                     "backend does it for you)\n",
                     cmd, name.empty() ? "" : " (", static_cast<int>(name.size()), name.data(), name.empty() ? "" : ")",
                     static_cast<int>(f.fops().kind.size()), f.fops().kind.data());
    }

private:
    void give_back() noexcept {
        if (token_.id) {
            host_.published->give_back(token_);
            token_ = {};
        }
    }

    descriptor_host host_;
    pid_t tid_;
    mode mode_;
    std::uint64_t flags_at_;
    accel::open_file* file_;
    unsigned cmd_;
    publications::reservation token_; // reserved, not yet committed
    int open_flags_ = 0;
};

} // namespace accel::fuse

// SPDX-License-Identifier: MIT
#pragma once
/// \file The host's open files: what a FUSE file handle stands for, and releases in flight.
///
/// Each successful OPEN of a device node creates an `open_file` record, and its address is the
/// FUSE file handle (fi->fh). opened() is the one place that turns a request's fuse_file_info
/// back into the record; the record holds the accel file and, for a compute node, the view it
/// was opened in (process_view.hpp: faults and writeback are authorised by it).
///
/// RELEASE is asynchronous: close(2) returns before the server has run postclose, so a client
/// that closes an exclusive node and opens it again can overtake its own release. FLUSH,
/// though, is synchronous: close(2) waits for its reply, and the kernel queues RELEASE only
/// after it. So the tracker marks a file flushed, and an open refused with -EBUSY while a file
/// of the same device is flushed but not yet released waits for that release (up to
/// `flushed_grace`, generous: the release is surely coming unless another descriptor or a
/// mapping still holds the file). Without one it waits `release_grace` (short: a release can
/// also follow munmap, with no FLUSH). It retries after each release, and waiters wake only
/// after postclose, once the device would admit them.
/// A client's file also shows in its device's attribute trees (fdinfo/<client-id>, the clients
/// counts), which must not list it once close(2) has returned, as a kernel file is gone by
/// then: settle() waits (up to `release_grace`) for the releases of the device's files flushed
/// within that time, before the trees are listed. A file flushed earlier but still held (a
/// duplicated descriptor, a mapping) is not waited for.
/// Attribute files (monitor/attribute_file.hpp) have records too, without a device file: their
/// release drops the attribute file's reference.
/// The tracker's lock is taken by open, flush and release only, never on the ioctl path.
#include <accel/core/device_base.hpp>
#include <accel/core/file_base.hpp>
#include <accel/core/subsystem.hpp>
#include <accel/core/user_memory.hpp>
#include <accel/fuse/caller_memory.hpp>
#include <accel/fuse/lowlevel.hpp>
#include <accel/fuse/poll_notify.hpp>
#include <accel/fuse/process_view.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <fcntl.h>
#include <memory>
#include <mutex>
#include <new>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace accel::fuse {

struct published_file; // published_files.hpp

/// What a FUSE file handle stands for: an open device node, or a published file (a descriptor
/// some call made, published_files.hpp).
struct open_file {
    open_file(file_base* f, std::shared_ptr<process_view> v) noexcept : file(f), view(std::move(v)), served(f) {}
    open_file(accel::open_file& f, std::shared_ptr<published_file> p) noexcept : file(nullptr), served(&f), pub(std::move(p)) {}
    explicit open_file(accel::open_file* attribute) noexcept : file(nullptr), served(attribute) {}
    file_base* file;                    // device nodes: the core's open file; null for published and attribute files
    std::shared_ptr<process_view> view; // compute nodes: the view the file was opened in
    accel::open_file* served;           // the file whose operations serve the calls (`file` for nodes)
    std::shared_ptr<published_file> pub; // published files: what the inode stands for
    bool fresh_cache = false;            // published files: OPEN without keep_cache (device writes)
    poll_notifier* poll = nullptr;      // poll_notify.hpp; made on the first POLL
    std::mutex poll_mutex;              // guards `poll`'s creation
};

/// The record behind a request's file handle (set by the host's OPEN), or null.
inline open_file* opened(const fuse_file_info* fi) noexcept {
    return fi ? reinterpret_cast<open_file*>(static_cast<std::uintptr_t>(fi->fh)) : nullptr;
}

class open_file_tracker {
public:
    open_file_tracker(std::chrono::milliseconds flushed_grace, std::chrono::milliseconds release_grace) noexcept
        : flushed_grace_(flushed_grace), release_grace_(release_grace) {}
    open_file_tracker(const open_file_tracker&) = delete;
    open_file_tracker& operator=(const open_file_tracker&) = delete;
    ~open_file_tracker() { close_all(); }

    /// device_base::open, waiting for releases in flight when the node is busy (see above).
    result<file_base*> open(const subsystem::node_ref& node, int flags) {
        std::uint64_t seen;
        {
            std::lock_guard lock(m_);
            seen = release_gen_;
        }
        auto f = node.device->open(node.kind, flags);
        if (f || f.error() != -EBUSY || (flags & O_EXCL))
            return f;
        const auto refused = std::chrono::steady_clock::now();
        while (!f && f.error() == -EBUSY) {
            std::unique_lock lock(m_);
            const auto deadline = refused + (closing(node.device.get()) ? flushed_grace_ : release_grace_);
            if (!releases_.wait_until(lock, deadline, [&] { return release_gen_ != seen; }))
                break;
            seen = release_gen_;
            lock.unlock();
            f = node.device->open(node.kind, flags);
        }
        return f;
    }

    /// A record for `f` (opened in `view`, null for monitor nodes), tracked until release().
    /// Null when out of memory (then `f` is closed).
    open_file* track(file_base* f, std::shared_ptr<process_view> view, pid_t pid) noexcept {
        open_file* rec = insert(new (std::nothrow) open_file(f, std::move(view)));
        if (!rec) {
            close_file(f, pid);
            return nullptr;
        }
        if (rec->view)
            rec->view->attach(device_ref(&f->base_device()));
        return rec;
    }

    /// A record for the attribute file `f` (one reference, the record's), tracked until
    /// release(). Null when out of memory (then `f` is closed).
    open_file* track_attribute(accel::open_file& f) noexcept {
        open_file* rec = insert(new (std::nothrow) open_file(&f));
        if (!rec)
            f.put();
        return rec;
    }

    /// close(2) of a descriptor of `rec` was served: its release is likely queued behind it.
    void mark_flushed(open_file* rec) noexcept {
        std::lock_guard lock(m_);
        try {
            if (files_.contains(rec) && rec->file)
                flushed_.insert_or_assign(rec, std::chrono::steady_clock::now());
        } catch (...) {
            // Unmarked, an open overtaking this release waits release_grace only.
        }
    }

    /// Waits until no file of `dev` flushed within the last release_grace is still to be
    /// released (at most release_grace; see the file comment).
    void settle(const device_base& dev) {
        std::unique_lock lock(m_);
        const auto now = std::chrono::steady_clock::now();
        auto pending = [&] {
            return releasing_.contains(&dev) || std::ranges::any_of(flushed_, [&](const auto& kv) {
                       return &kv.first->file->base_device() == &dev && kv.second + release_grace_ > now;
                   });
        };
        releases_.wait_until(lock, now + release_grace_, [&] { return !pending(); });
    }

    /// RELEASE, or an open the kernel dropped: closes the file and frees the record. When it
    /// was its view's last file, the view's pins go (after `se` drops their cached pages).
    void release(open_file* rec, pid_t pid, fuse_session* se) noexcept {
        if (!rec->file) { // an attribute file
            {
                std::lock_guard lock(m_);
                files_.erase(rec);
            }
            finish(rec, pid, se);
            return;
        }
        device_base* dev = &rec->file->base_device();
        bool counted = false;
        {
            std::lock_guard lock(m_);
            files_.erase(rec);
            flushed_.erase(rec);
            try {
                releasing_.insert(dev);
                counted = true;
            } catch (...) {
            }
        }
        finish(rec, pid, se);
        {
            std::lock_guard lock(m_);
            if (counted)
                releasing_.erase(releasing_.find(dev));
            ++release_gen_;
        }
        releases_.notify_all();
    }

    /// After the connection ended (unmount): closes every file still open.
    void close_all() noexcept {
        std::unordered_set<open_file*> left;
        {
            std::lock_guard lock(m_);
            left.swap(files_);
            flushed_.clear();
        }
        for (open_file* rec : left)
            finish(rec, 0, nullptr);
    }

private:
    /// Adds a new record (null: allocation failed) to the set: the record, or null when it or
    /// the set's node could not be allocated (the record is then freed).
    open_file* insert(open_file* rec) noexcept {
        if (!rec)
            return nullptr;
        std::lock_guard lock(m_);
        try {
            files_.insert(rec);
        } catch (...) {
            delete rec;
            return nullptr;
        }
        return rec;
    }

    /// Whether a release of one of dev's files is surely coming or under way.
    bool closing(const device_base* dev) const noexcept {
        return releasing_.contains(dev) ||
               std::ranges::any_of(flushed_, [&](const auto& kv) { return &kv.first->file->base_device() == dev; });
    }
    /// Drops the host's reference: the last one (the kernel holds no other) releases the file.
    static void close_file(file_base* f, pid_t pid) noexcept {
        caller_call_scope as_opener(pid, f->opener());
        f->put();
    }
    static void finish(open_file* rec, pid_t pid, fuse_session* se) noexcept {
        if (rec->poll)
            rec->poll->close(); // before the file's queues go
        if (!rec->file) { // an attribute file
            rec->served->put();
            delete rec;
            return;
        }
        if (rec->view && rec->view->detach())
            rec->view->unpin_all(se); // no mapping is left: each holds its file
        close_file(rec->file, pid);
        delete rec;
    }

    std::chrono::milliseconds flushed_grace_, release_grace_;
    std::mutex m_;
    std::condition_variable releases_;
    std::uint64_t release_gen_ = 0;
    std::unordered_set<open_file*> files_;
    std::unordered_map<open_file*, std::chrono::steady_clock::time_point> flushed_; // of files_: close(2) served
                                                                                    // (when), RELEASE not yet
    std::unordered_multiset<const device_base*> releasing_; // one per RELEASE between files_ and postclose's end
};

} // namespace accel::fuse

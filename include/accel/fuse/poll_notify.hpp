// SPDX-License-Identifier: MIT
#pragma once
/// \file poll(2) on a served file: the file's poll operation, and the kernel notified on a wake-up.
///
/// Without a poll handler FUSE marks the connection "no poll" and poll(2) reports every file
/// ready at once (DESIGN.md, "FUSE facts"). With one, the kernel sends POLL with a poll handle
/// when a poller wants to sleep, and sleeps until fuse_lowlevel_notify_poll(handle); the
/// pollers then poll again. So each open file keeps one `poll_notifier`: a POLL runs the file's
/// poll operation with the notifier as its poll_table (one wait entry per queue it names, kept
/// across polls), and keeps the newest handle (the kernel's handle names the file, so one
/// wakes every poller of it). The first wake-up of any of those queues sends the notification
/// and uses the handle up; the next POLL brings a new one. A wake-up costs two FUSE_POLL round
/// trips, about 6 us here.
#include <accel/core/open_file.hpp>
#include <accel/core/wait_queue.hpp>
#include <accel/fuse/lowlevel.hpp>

#include <mutex>
#include <new>
#include <utility>
#include <vector>

namespace accel::fuse {

class poll_notifier final : public wait_entry, public poll_table {
public:
    static poll_notifier* make() noexcept { return new (std::nothrow) poll_notifier(); }

    /// One POLL of `f`: the ready mask; `ph` (may be null: no notification wanted) is kept.
    unsigned poll(open_file& f, fuse_pollhandle* ph) noexcept {
        if (ph) {
            fuse_pollhandle* old;
            {
                std::lock_guard lock(mutex_);
                old = std::exchange(handle_, ph);
            }
            if (old)
                fuse_pollhandle_destroy(old);
        }
        return f.poll(*this);
    }

    /// The file is going: leaves every queue and drops the handle, then the reference.
    void close() noexcept {
        fuse_pollhandle* ph;
        {
            std::lock_guard lock(mutex_);
            queues_.leave_all();
            ph = std::exchange(handle_, nullptr);
        }
        if (ph)
            fuse_pollhandle_destroy(ph);
        put();
    }

    void wait(wait_queue& q) noexcept override {
        std::lock_guard lock(mutex_); // POLLs of one file may run on several workers
        (void)queues_.join(*this, q); // out of memory: no notification; the poller's timeout ends it
    }

    /// A queue the file waited on was woken: notify the kernel once.
    void wake() noexcept override {
        fuse_pollhandle* ph;
        {
            std::lock_guard lock(mutex_);
            ph = std::exchange(handle_, nullptr);
        }
        if (ph) {
            fuse_lowlevel_notify_poll(ph);
            fuse_pollhandle_destroy(ph);
        }
    }

private:
    poll_notifier() noexcept = default;

    std::mutex mutex_;
    fuse_pollhandle* handle_ = nullptr;
    joined_queues queues_;
};

} // namespace accel::fuse

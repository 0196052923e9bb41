// SPDX-License-Identifier: MIT
#pragma once
/// \file When a client's mapping and the driver agree: the sync points of a FUSE-served node.
///
/// Through FUSE a client's mapping of a buffer object is a cached copy (the page cache of the
/// caller's view, process_view.hpp), not the object's memory as on a kernel node. The contract:
///   - an ioctl is a sync point for the objects its handler touches: before the handler first
///     reaches an object (a handle lookup: call_context::objects hears of it), the caller's
///     dirty pages of that object are written back; after the handler returns, the caller's
///     cached pages of it are dropped, so the next touch reads what the driver left;
///   - every answer to a request on a compute node's file - an ioctl (when its wait ends, for
///     a parked one: a WAIT), a read(2) (a DRM event), a poll (the reply that reports
///     readiness too) - is a sync point for *device writes*: the caller's cached pages of the
///     objects the driver marked with gem_object::device_wrote() since the view's last such
///     sync point are dropped before the answer leaves. So a client that waits - for an event
///     by read(2) or poll(2), or in a WAIT ioctl - and then reads its mapping sees what the
///     device wrote before it signalled the end of that wait. The driver's part: mark the object
///     after writing it and before sending the event or waking the waiters, where a kernel
///     driver syncs the DMA for the CPU. Cost: one atomic compare while the device marked
///     nothing since the view's last sync, else a look at the view's pins and one notification
///     per marked object;
///   - msync(MS_SYNC) writes the caller's dirty pages back at once (fsync too);
///   - mmap(2) of a compute node drops the caller's cached pages of the node, writing dirty
///     ones back first (the kernel does it for a direct-I/O file, kernel_flags.hpp);
///   - nothing else is synchronised: an object the ioctl does not touch keeps its cached (and
///     dirty) pages, and the driver sees the client's writes to it at its next sync point -
///     an ioctl that touches it, msync, or the kernel's own writeback (memory pressure, close).
///     So an ioctl costs nothing for the objects the process has mapped but the handler does
///     not reach, however many there are.
/// Dropping a page writes it back first if it is dirty (FUSE has no "discard"), page by page: a
/// client must not write to an object between handing it to the device (the ioctl that
/// submits it syncs it) and the end of its wait - on a kernel that is a race with the device
/// too, and here the client's stale copy of a whole page would overwrite the device's bytes.
/// Page faults and writeback are never sync points (the kernel holds the page locked while it
/// waits for them).
/// The sync is per view: another process's cached pages of a shared object are synced by that
/// process's own sync points.
/// A writeback that fails during the ioctl (the driver would read stale data) makes the ioctl
/// fail with -EIO after its handler ran, as fsync and msync report a failed writeback.
/// (The notification is fuse_lowlevel_notify_inval_inode, which makes the kernel launder -
/// write back - dirty pages before it drops them; its own result does not tell whether that
/// writeback worked, so the host counts failed WRITE requests per view.)
#include <accel/core/device_base.hpp>
#include <accel/core/gem/object.hpp>
#include <accel/core/user_memory.hpp>
#include <accel/fuse/lowlevel.hpp>
#include <accel/fuse/process_view.hpp>

#include <cerrno>
#include <cstdint>
#include <vector>

namespace accel::fuse {

/// The sync point of one request (an ioctl or a read) in one view: install it as the call's
/// object observer, then call finish() with the result before answering.
class view_sync final : public object_observer {
public:
    view_sync(fuse_session* se, process_view& view, const device_base& dev) noexcept
        : se_(se), view_(&view), dev_(&dev), errors_before_(view.writeback_errors()) {}
    view_sync(const view_sync&) = delete;
    view_sync& operator=(const view_sync&) = delete;

    /// Before the handler reads `obj`: the caller's dirty pages of it go back (once per ioctl).
    void reached(gem_object& obj) noexcept override {
        for (const gem_ref& r : reached_)
            if (r.get() == &obj)
                return;
        if (!view_->pinned(obj))
            return; // the view caches pages only of objects pinned in it: nothing to sync
        try {
            reached_.emplace_back(&obj);
        } catch (...) {
            drop_all_ = true; // cannot remember it: finish() drops the view's whole cache
        }
        view_->sync(se_, obj);
    }

    /// After the handler (or the wait): drops the caller's cached pages of what it touched and
    /// of what the device wrote since the view's last sync. Returns `ret`, or -EIO when a
    /// writeback of this ioctl's sync failed.
    long finish(long ret) noexcept {
        if (drop_all_ && se_)
            fuse_lowlevel_notify_inval_inode(se_, view_->ino(), 0, 0);
        for (const gem_ref& r : reached_)
            view_->sync(se_, *r);
        view_->sync_device_writes(se_, *dev_);
        const bool synced = drop_all_ || !reached_.empty();
        reached_.clear();
        return synced && view_->writeback_errors() != errors_before_ ? -EIO : ret;
    }

private:
    fuse_session* se_;
    process_view* view_;
    const device_base* dev_;
    std::uint64_t errors_before_;
    std::vector<gem_ref> reached_; // no allocation for an ioctl that reaches no mapped object
    bool drop_all_ = false;
};

} // namespace accel::fuse

// SPDX-License-Identifier: MIT
#pragma once
/// \file One process's view of one compute node: its inode, its open files, its pinned objects.
///
/// The kernel keeps a page cache per inode, and a buffer object mapped through a FUSE node
/// lives in that cache (page_faults.hpp). The host gives each process its own inode of each
/// compute node (device_tree.hpp), so one process's cached pages are never another's. Within
/// one process every descriptor of the node shares the inode, and the kernel writes a dirty
/// page back through whichever writable descriptor of the inode it picks, not the one whose
/// mapping dirtied the page. So faults and writeback are authorised by the view, not by the
/// file handle of the request: an object is reachable in a view once a file of the view was
/// allowed to map it (MMAP_PREPARE, or a first fault through a file holding a handle), and it
/// stays *pinned* to the view - the host holds a reference, as a kernel VMA does - while the
/// process may still map it.
///
/// When pins go. FUSE sends nothing at munmap(2), and a pin must outlive the handle (a mapping
/// keeps working after GEM_CLOSE). The host asks the kernel instead: /proc/<tgid>/maps lists
/// the process's mappings of this very inode with their file offsets (process_maps.hpp), which
/// is exact whatever happened to the mappings (munmap, partial munmap, mremap, fork, exit).
/// reclaim() reads it and unpins every object no mapping covers - after writing back and
/// dropping the object's cached pages, so an offset reused by a later object never shows stale
/// pages. The host reclaims (host.hpp):
///   - at once after a GEM_CLOSE of the process that leaves a pinned object without handles
///     (then the pin is what keeps it alive: munmap then GEM_CLOSE frees it before the ioctl
///     returns, as on a kernel node);
///   - periodically (host_options::reclaim_interval) for views holding such objects (GEM_CLOSE
///     then munmap: the object goes within one interval; so do objects a driver's own ioctl
///     closed the handles of);
///   - entirely when the view's last file is released: a mapping holds its file, so none is
///     left.
/// Objects that still have a handle are unpinned by the same scans when unmapped; their pins
/// cost a reference only, the handle keeps them alive anyway.
/// Limits: a scan costs time linear in the process's mappings (and runs only while the view
/// pins an object nothing else holds); it needs ptrace-read access to the client (root, or the
/// same uid while the client is dumpable) - without it, pins stay until the last file goes.
/// Races with a scan: a pin touched (prepared, faulted) after the scan started is kept, and a
/// pin made by MMAP_PREPARE is not dropped for prepare_grace unless a scan or a fault has seen it
/// mapped (so the mmap(2) that follows the prepare is not overtaken). A mapping made with a raw
/// mmap(2), no MMAP_PREPARE, is pinned only at its first fault: if its handle is closed before
/// that, the fault finds no object and gets SIGBUS (a kernel node would keep the object).
#include <accel/core/device_base.hpp>
#include <accel/core/gem/object.hpp>
#include <accel/fuse/caller_process.hpp>
#include <accel/fuse/lowlevel.hpp>
#include <accel/fuse/process_maps.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

namespace accel::fuse {

class process_view {
public:
    /// How long a pin made by MMAP_PREPARE survives scans that do not see its mapping (see above).
    static constexpr std::chrono::seconds prepare_grace{10};

    process_view(fuse_ino_t ino, process_key who) noexcept : ino_(ino), who_(who) {}
    process_view(const process_view&) = delete;
    process_view& operator=(const process_view&) = delete;

    fuse_ino_t ino() const noexcept { return ino_; }
    const process_key& process() const noexcept { return who_; }

    // ---- open files ---------------------------------------------------------------------

    /// A file of the view was opened; the view keeps `dev` alive while it pins objects of it.
    void attach(device_ref dev) noexcept {
        std::lock_guard lock(m_);
        ++open_files_;
        if (!dev_)
            dev_ = std::move(dev);
    }
    /// No open file and no pin: nothing but the table refers to the view.
    bool idle() const noexcept {
        std::lock_guard lock(m_);
        return open_files_ == 0 && pins_.empty();
    }
    /// A file of the view was released. True when it was the last one.
    bool detach() noexcept {
        std::lock_guard lock(m_);
        return --open_files_ == 0;
    }

    // ---- pins ---------------------------------------------------------------------------

    /// Whether `obj` is pinned here.
    bool pinned(const gem_object& obj) const noexcept {
        std::lock_guard lock(m_);
        return pins_.contains(&obj);
    }
    /// A fault on `obj`: a mapping exists now. Whether `obj` is pinned here.
    bool touch(const gem_object& obj) noexcept {
        std::lock_guard lock(m_);
        auto it = pins_.find(&obj);
        if (it == pins_.end())
            return false;
        it->second.touched = ++seq_;
        it->second.seen_mapped = true;
        return true;
    }
    /// Pins `obj` (or refreshes its pin): `mapped` when a fault proves a mapping. 0 or -ENOMEM.
    int pin(gem_object& obj, bool mapped) noexcept {
        std::lock_guard lock(m_);
        try {
            auto [it, fresh] = pins_.try_emplace(&obj);
            pin_state& p = it->second;
            if (fresh) {
                p.obj = gem_ref(&obj);
                p.since = std::chrono::steady_clock::now();
                p.device_writes = obj.device_writes(); // nothing of it is cached yet
            }
            p.touched = ++seq_;
            p.seen_mapped = p.seen_mapped || mapped;
        } catch (...) {
            return -ENOMEM;
        }
        return 0;
    }
    std::size_t pin_count() const noexcept {
        std::lock_guard lock(m_);
        return pins_.size();
    }
    /// Whether a pinned object has no handle left: then the pin alone keeps it alive.
    bool pins_orphans() const noexcept {
        std::lock_guard lock(m_);
        return std::ranges::any_of(pins_, [](const auto& kv) { return kv.second.obj->handle_count() == 0; });
    }

    /// Writes back this view's dirty pages of `obj` and drops its cached pages (the kernel
    /// launders dirty pages - WRITE requests - before it drops them). -ENOENT from the kernel
    /// (the inode has no cache) is success; so is a null session (unmounted: nothing cached).
    void sync(fuse_session* se, const gem_object& obj) const noexcept {
        if (se)
            fuse_lowlevel_notify_inval_inode(se, ino_, static_cast<off_t>(obj.mmap_offset()), static_cast<off_t>(obj.size()));
    }

    /// The sync point for device writes (coherency.hpp): drops this view's cached pages of the
    /// pinned objects of `dev` that gem_object::device_wrote() marked since the view's last such
    /// sync (dirty pages are written back first, as sync() does). O(1) while the device marked
    /// nothing since; else one look at each pin, and one notification per marked object. A pin
    /// counts as synced, and the view as synced up to the device's count, only once the pages
    /// are gone: a concurrent call finds the work still to do and does it too (the kernel
    /// orders the two invalidations), so no caller returns before its pages are dropped.
    void sync_device_writes(fuse_session* se, const device_base& dev) noexcept {
        const std::uint64_t now = dev.object_writes(); // before the objects' counts (device_base.hpp)
        if (now == device_writes_seen_.load(std::memory_order_acquire))
            return;
        std::vector<std::pair<gem_ref, std::uint64_t>> stale; // released after the locks
        bool complete = true;
        {
            std::lock_guard lock(m_);
            for (auto& [key, p] : pins_) {
                const std::uint64_t w = p.obj->device_writes();
                if (w == p.device_writes)
                    continue;
                try {
                    stale.emplace_back(p.obj, w);
                } catch (...) {
                    complete = false; // out of memory: the next sync point tries again
                }
            }
        }
        for (const auto& [obj, w] : stale)
            sync(se, *obj);
        {
            std::lock_guard lock(m_);
            for (const auto& [obj, w] : stale)
                if (auto it = pins_.find(obj.get()); it != pins_.end() && it->second.device_writes < w)
                    it->second.device_writes = w;
        }
        std::uint64_t seen = device_writes_seen_.load(std::memory_order_relaxed);
        while (complete && seen < now && !device_writes_seen_.compare_exchange_weak(seen, now, std::memory_order_release)) {
        }
    }

    /// Unpins the objects the process maps no more (see the file comment). `mount_dev`: the
    /// mount's device number (0: match the inode number alone).
    void reclaim(fuse_session* se, dev_t mount_dev) {
        if (!who_.identified())
            return;
        std::uint64_t start;
        {
            std::lock_guard lock(m_);
            if (pins_.empty())
                return;
            start = seq_;
        }
        std::vector<file_range> mapped;
        if (mapped_ranges(who_.tgid, mount_dev, ino_, mapped) < 0)
            return; // nothing known: keep every pin
        const auto now = std::chrono::steady_clock::now();
        std::vector<std::pair<gem_ref, std::uint64_t>> gone; // object, its touch at the scan
        {
            std::lock_guard lock(m_);
            for (auto& [key, p] : pins_) {
                const bool in_use = std::ranges::any_of(
                    mapped, [&](const file_range& r) { return r.overlaps(p.obj->mmap_offset(), p.obj->size()); });
                if (in_use)
                    p.seen_mapped = true;
                else if (p.touched <= start && (p.seen_mapped || now - p.since >= prepare_grace))
                    gone.emplace_back(p.obj, p.touched);
            }
        }
        for (auto& g : gone)
            sync(se, *g.first); // while still pinned: the writeback of dirty pages finds it
        std::vector<gem_ref> dropped; // released after the lock
        std::lock_guard lock(m_);
        for (auto& [obj, touched] : gone) {
            auto it = pins_.find(obj.get());
            if (it != pins_.end() && it->second.touched == touched) { // not touched since
                try {
                    dropped.push_back(std::move(it->second.obj));
                } catch (...) {
                    continue; // keep the pin: the reference must not go under the lock
                }
                pins_.erase(it);
            }
        }
    }

    /// After the view's last file went: syncs and drops every pin, then the device reference.
    void unpin_all(fuse_session* se) noexcept {
        std::unordered_map<const gem_object*, pin_state> pins;
        device_ref dev;
        {
            std::lock_guard lock(m_);
            if (open_files_ != 0)
                return; // reopened meanwhile
            pins.swap(pins_);
            dev = std::move(dev_);
        }
        for (auto& [key, p] : pins)
            sync(se, *p.obj);
        pins.clear(); // the objects before their device
    }

    // ---- writeback errors ---------------------------------------------------------------

    void writeback_failed() noexcept { writeback_errors_.fetch_add(1, std::memory_order_relaxed); }
    std::uint64_t writeback_errors() const noexcept { return writeback_errors_.load(std::memory_order_relaxed); }

private:
    struct pin_state {
        gem_ref obj;
        std::uint64_t touched = 0;  // seq_ at the last pin or fault
        bool seen_mapped = false;   // a fault or a scan saw a mapping of it
        std::chrono::steady_clock::time_point since{};
        std::uint64_t device_writes = 0; // obj->device_writes() at the last device-write sync
    };

    const fuse_ino_t ino_;
    const process_key who_;
    mutable std::mutex m_;
    unsigned open_files_ = 0;
    device_ref dev_;
    std::uint64_t seq_ = 0;
    std::unordered_map<const gem_object*, pin_state> pins_;
    std::atomic<std::uint64_t> writeback_errors_{0};
    std::atomic<std::uint64_t> device_writes_seen_{0}; // device_base::object_writes() synced up to
};

} // namespace accel::fuse

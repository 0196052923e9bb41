// SPDX-License-Identifier: MIT
#pragma once
/// \file DRM syncobjs (drivers/gpu/drm/drm_syncobj.c): a fence slot with per-file handles.
///
/// A `syncobj` holds a fence pointer, possibly null. Binary use replaces it (`replace_fence`);
/// timeline use adds points (`add_point`): the new fence becomes the payload of a fence_chain
/// node after the current one, so point N signals once every point <= N has. A point not above
/// the head starts a new context (exec/fence_chain.hpp); every add walks the chain once,
/// collecting garbage. Whoever waits for a fence to *arrive* (WAIT_FOR_SUBMIT, WAIT_AVAILABLE)
/// waits on the syncobj's queue, woken on every change of the fence.
///
/// Handles are per file (the file's extension slot file_extension_slot::syncobj), an idr from
/// 1; every import makes a new handle. A syncobj shared by descriptor is a "syncobj_file" open
/// file (O_RDONLY, as the kernel's anon file; installed O_CLOEXEC). This header provides the
/// syncobj rows of the core table (core_ioctl::provide); they answer only for drivers that
/// declare driver_feature::syncobj (timeline rows: syncobj_timeline too), else -EOPNOTSUPP.
/// Errno rules are the kernel's (KERNEL-EXEC.md 4.3), including the order of the checks:
///   CREATE        unknown flags -EINVAL; CREATE_SIGNALED holds a signalled stub.
///   DESTROY       pad -EINVAL; unknown handle -EINVAL.
///   HANDLE_TO_FD  pad or flags other than 0, EXPORT_SYNC_FILE, EXPORT_SYNC_FILE|TIMELINE -EINVAL;
///                 with EXPORT_SYNC_FILE: the fence at `point` (TIMELINE only) as a new sync
///                 file (unknown handle -ENOENT, no fence or point not submitted -EINVAL);
///                 without: point != 0 -EINVAL, unknown handle -EINVAL, else a syncobj file.
///   FD_TO_HANDLE  pad or flags other than 0, IMPORT_SYNC_FILE, IMPORT_SYNC_FILE|TIMELINE -EINVAL;
///                 with IMPORT_SYNC_FILE: fd not a sync file -EINVAL, unknown handle -ENOENT,
///                 point != 0 adds a point, else replaces the fence; without: point != 0
///                 -EINVAL, an fd that is not open or not a syncobj file -EINVAL, else a new
///                 handle.
///   WAIT, TIMELINE_WAIT
///                 unknown flags -EINVAL (AVAILABLE only on TIMELINE_WAIT); count 0 returns 0
///                 (Linux 6.4+); -EFAULT; unknown handle -ENOENT; more than 524288 handles
///                 -ENOMEM (kmalloc's limit for the kernel's array). Then the wait algorithm of
///                 KERNEL-EXEC.md 4.4: a missing fence or unsubmitted point is -EINVAL unless
///                 FOR_SUBMIT or AVAILABLE; the timeout is absolute CLOCK_MONOTONIC (0 or past:
///                 poll once; INT64_MAX: for ever), -ETIME when it passes; first_signaled is the
///                 first satisfied entry (~0 after an ALL wait that had to block).
///   RESET, SIGNAL pad or count 0 -EINVAL; -EFAULT; unknown handle -ENOENT; all or nothing.
///   TIMELINE_SIGNAL flags or count 0 -EINVAL; -EFAULT; -ENOENT; null points means point 0.
///   QUERY         unknown flags or count 0 -EINVAL; -ENOENT; -EFAULT; LAST_SUBMITTED: the
///                 head's seqno; else the last signalled point of the head's context; 0 for
///                 a fence that is not a chain.
///   TRANSFER      pad -EINVAL; unknown destination -ENOENT; the source as syncobj_find_fence
///                 finds it (flags other than FOR_SUBMIT -EINVAL, -ENOENT, -EINVAL); dst_point
///                 != 0 adds the flattened source as that point, else replaces the fence.
///   EVENTFD       unknown flags or pad -EINVAL; unknown handle -ENOENT; then the eventfd:
///                 accel's rule: an eventfd is never a file the backend serves (FUSE cannot reach
///                 the caller's eventfd, the mock has none), so the call answers what the kernel
///                 answers for a descriptor that is no eventfd: -EBADF when it is not open, else
///                 -EINVAL. Clients see the feature as unusable, never as half-working.
///
/// Blocking waits park the request (core/parked_call.hpp): no thread is held and no lock other
/// clients need; the waiter joins the wait queues of the fences it waits on and, for
/// FOR_SUBMIT/AVAILABLE, of the syncobjs (so a fence's arrival or signal re-runs the check on
/// the thread that caused it); a FUSE interrupt ends the wait with -EINTR, which libdrm's
/// drmIoctl restarts (the kernel's -ERESTARTSYS).
///
/// For drivers (a submit's in/out syncobjs): syncobj_lookup, syncobj_find_fence,
/// syncobj_replace_fence, syncobj_add_point. syncobj_find_fence with FOR_SUBMIT waits up to 5 s
/// for a fence to arrive, as the kernel does; accel's rule: that wait blocks the handler's
/// thread (bounded, not interruptible), since a driver calls it in the middle of its handler.
#include <accel/core/core_ioctls.hpp>
#include <accel/core/descriptors.hpp>
#include <accel/core/file_base.hpp>
#include <accel/core/parked_call.hpp>
#include <accel/core/user_memory.hpp>
#include <accel/core/wait_queue.hpp>
#include <accel/exec/fence.hpp>
#include <accel/exec/fence_chain.hpp>
#include <accel/exec/fence_unwrap.hpp>
#include <accel/share/sync_file.hpp>
#include <accel/uapi/accel_drm.h>

#include <boost/intrusive_ptr.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <vector>

namespace accel {

class syncobj;
using syncobj_ref = boost::intrusive_ptr<syncobj>;

class syncobj {
public:
    syncobj(const syncobj&) = delete;
    syncobj& operator=(const syncobj&) = delete;

    static syncobj_ref create() noexcept {
        if (detail::alloc_may_fail())
            return nullptr;
        return syncobj_ref(new (std::nothrow) syncobj);
    }

    /// The current fence with a reference (drm_syncobj_fence_get); null when none.
    fence_ptr fence() const noexcept {
        std::lock_guard lock(mutex_);
        return fence_;
    }

    /// drm_syncobj_replace_fence: `f` (may be null: RESET) replaces the fence; waiters for a
    /// fence's arrival are woken.
    void replace_fence(fence_ptr f) noexcept {
        {
            std::lock_guard lock(mutex_);
            fence_.swap(f);
        }
        f.reset(); // the old fence, outside the lock (it may release a long chain)
        changed_.wake_all();
    }

    /// drm_syncobj_add_point: `f` becomes point `point` of the timeline, in a chain node built
    /// in `mem` (allocated beforehand, so this cannot fail for memory). -EINVAL for a null fence
    /// or a chain, -ENOMEM for empty `mem`; nothing changes then.
    int add_point(fence_ptr f, std::uint64_t point, fence_chain::storage& mem) noexcept {
        if (!f || to_fence_chain(f.get()))
            return -EINVAL;
        if (!mem)
            return -ENOMEM;
        fence_ptr prev;
        {
            std::lock_guard lock(mutex_);
            prev = fence_;
            // A point not above the head (prev->seqno() >= point) only logs in the kernel; the
            // chain then starts a new context.
            fence_ = fence_chain::create(mem, prev, std::move(f), point);
        }
        changed_.wake_all();
        fence_chain_for_each(std::move(prev), [](const fence_ptr&) { return true; }); // garbage collection
        return 0;
    }

    /// add_point() with a node allocated here (-ENOMEM when that fails).
    int add_point(fence_ptr f, std::uint64_t point) noexcept {
        fence_chain::storage mem;
        return add_point(std::move(f), point, mem);
    }

    /// Woken whenever the fence changes.
    wait_queue& changed() noexcept { return changed_; }

    friend void intrusive_ptr_add_ref(syncobj* s) noexcept { s->refs_.fetch_add(1, std::memory_order_relaxed); }
    friend void intrusive_ptr_release(syncobj* s) noexcept {
        if (s->refs_.fetch_sub(1, std::memory_order_acq_rel) == 1)
            delete s;
    }

private:
    syncobj() noexcept = default;
    ~syncobj() = default;

    mutable std::mutex mutex_;
    fence_ptr fence_;
    wait_queue changed_;
    std::atomic<std::uint32_t> refs_{0};
};

/// The "syncobj_file" kind: a syncobj shared by descriptor (drm_syncobj_file_fops).
class syncobj_file final : public open_file {
public:
    static const file_operations fops;
    static syncobj_file* create(syncobj_ref s) noexcept {
        return detail::alloc_may_fail() ? nullptr : new (std::nothrow) syncobj_file(std::move(s));
    }
    const syncobj_ref& object() const noexcept { return obj_; }

private:
    explicit syncobj_file(syncobj_ref s) noexcept : open_file(fops, O_RDONLY), obj_(std::move(s)) {}
    ~syncobj_file() = default;
    syncobj_ref obj_;
};

inline const file_operations syncobj_file::fops{
    .kind = "syncobj_file",
    .release = [](open_file& f) noexcept { delete &static_cast<syncobj_file&>(f); },
};

namespace detail {

/// A file's syncobj handles (drm_file.syncobj_idr): the lowest free handle from 1.
struct syncobj_table final : file_extension {
    std::mutex mutex;
    std::vector<syncobj_ref> slots; // handle h at slots[h - 1]

    result<std::uint32_t> add(syncobj_ref s) noexcept {
        std::lock_guard lock(mutex);
        std::size_t i = 0;
        while (i < slots.size() && slots[i])
            ++i;
        if (i == slots.size()) {
            if (i >= 0x7fffffff)
                return result<std::uint32_t>::failure(-ENOSPC);
            if (alloc_may_fail())
                return result<std::uint32_t>::failure(-ENOMEM);
            try {
                slots.emplace_back();
            } catch (...) {
                return result<std::uint32_t>::failure(-ENOMEM);
            }
        }
        slots[i] = std::move(s);
        return static_cast<std::uint32_t>(i + 1);
    }
    syncobj_ref find(std::uint32_t h) noexcept {
        std::lock_guard lock(mutex);
        return h && h <= slots.size() ? slots[h - 1] : nullptr;
    }
    syncobj_ref remove(std::uint32_t h) noexcept {
        std::lock_guard lock(mutex);
        if (!h || h > slots.size())
            return nullptr;
        return std::move(slots[h - 1]); // released by the caller, outside the lock
    }
};

inline syncobj_table* syncobj_table_of(file_base& f, bool make) noexcept {
    if (!make)
        return static_cast<syncobj_table*>(f.extension(file_extension_slot::syncobj));
    return f.extension<syncobj_table>(file_extension_slot::syncobj, [] { return new (std::nothrow) syncobj_table; });
}

/// drm_syncobj_create_handle.
inline result<std::uint32_t> syncobj_new_handle(file_base& f, syncobj_ref s) noexcept {
    syncobj_table* t = syncobj_table_of(f, true);
    if (!t)
        return result<std::uint32_t>::failure(-ENOMEM);
    return t->add(std::move(s));
}

/// The most handles one call takes: the kernel's kmalloc_array of pointers fails beyond
/// KMALLOC_MAX_SIZE (4 MiB on x86-64), with -ENOMEM.
inline constexpr std::uint32_t max_syncobj_array = (4u << 20) / 8;

} // namespace detail

/// drm_syncobj_find: the syncobj behind `handle` of file `f`, or -ENOENT.
inline result<syncobj_ref> syncobj_lookup(file_base& f, std::uint32_t handle) noexcept {
    detail::syncobj_table* t = detail::syncobj_table_of(f, false);
    syncobj_ref s = t ? t->find(handle) : nullptr;
    if (!s)
        return result<syncobj_ref>::failure(-ENOENT);
    return s;
}

namespace detail {
/// A thread's bounded wait for a syncobj's fence to change (syncobj_find_fence FOR_SUBMIT).
/// On the heap, reference-counted: a wake_all() in progress may still hold and wake it after it
/// left the queue.
struct changed_sleeper final : wait_entry {
    std::mutex m;
    std::condition_variable cv;
    std::uint64_t wakes = 0;
    void wake() noexcept override {
        std::lock_guard lock(m);
        ++wakes;
        cv.notify_all();
    }
};
} // namespace detail

/// drm_syncobj_find_fence: the fence at `point` of syncobj `handle`. flags other than
/// ACCEL_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT -EINVAL; unknown handle -ENOENT; no fence (or point
/// not submitted) -EINVAL, except with FOR_SUBMIT, which waits up to 5 s for it (then -ETIME);
/// a point that has signalled gives a signalled stub.
inline result<fence_ptr> syncobj_find_fence(file_base& f, std::uint32_t handle, std::uint64_t point, std::uint32_t flags) noexcept {
    using R = result<fence_ptr>;
    if (flags & ~static_cast<std::uint32_t>(ACCEL_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT))
        return R::failure(-EINVAL);
    auto s = syncobj_lookup(f, handle);
    if (!s)
        return R::failure(s.error());
    auto find = [&]() -> std::optional<fence_ptr> {
        fence_ptr fence = (*s)->fence();
        if (!fence || fence_chain_find_seqno(fence, point))
            return std::nullopt;
        return fence ? fence : signaled_stub();
    };
    if (auto r = find())
        return *r ? R(std::move(*r)) : R::failure(-ENOMEM);
    if (!(flags & ACCEL_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT))
        return R::failure(-EINVAL);
    auto* sleeper = new (std::nothrow) detail::changed_sleeper;
    if (!sleeper)
        return R::failure(-ENOMEM);
    (*s)->changed().add(*sleeper);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    std::optional<fence_ptr> r;
    for (;;) {
        std::uint64_t seen;
        {
            std::lock_guard lock(sleeper->m);
            seen = sleeper->wakes;
        }
        if ((r = find()))
            break;
        std::unique_lock lock(sleeper->m);
        if (!sleeper->cv.wait_until(lock, deadline, [&] { return sleeper->wakes != seen; }))
            break;
    }
    (*s)->changed().remove(*sleeper);
    sleeper->put();
    if (!r && !(r = find()))
        return R::failure(-ETIME);
    return *r ? R(std::move(*r)) : R::failure(-ENOMEM);
}

/// drm_syncobj_replace_fence on handle `handle` of `f` (`fence` may be null: reset). -ENOENT.
inline int syncobj_replace_fence(file_base& f, std::uint32_t handle, fence_ptr fence) noexcept {
    auto s = syncobj_lookup(f, handle);
    if (!s)
        return s.error();
    (*s)->replace_fence(std::move(fence));
    return 0;
}

/// drm_syncobj_add_point on handle `handle` of `f`: `fence` becomes timeline point `point`.
/// -ENOENT, -EINVAL (null fence), -ENOMEM.
inline int syncobj_add_point(file_base& f, std::uint32_t handle, fence_ptr fence, std::uint64_t point) noexcept {
    auto s = syncobj_lookup(f, handle);
    if (!s)
        return s.error();
    return (*s)->add_point(std::move(fence), point);
}

namespace syncobj_ioctl {

using accel::detail::max_syncobj_array;

/// drm_syncobj_array_find: copies `count` handles from `user` and looks each up.
inline int array_find(file_base& f, std::uint64_t user, std::uint32_t count, std::vector<syncobj_ref>& out) noexcept {
    if (count > max_syncobj_array)
        return -ENOMEM;
    std::vector<std::uint32_t> handles;
    try {
        handles.resize(count);
        out.resize(count);
    } catch (...) {
        return -ENOMEM;
    }
    if (copy_from_user(handles.data(), user, count * sizeof(std::uint32_t)))
        return -EFAULT;
    for (std::uint32_t i = 0; i < count; ++i) {
        auto s = syncobj_lookup(f, handles[i]);
        if (!s)
            return -ENOENT;
        out[i] = std::move(*s);
    }
    return 0;
}

inline int create(device_base&, file_base& f, void* kdata) {
    auto& a = *static_cast<accel_syncobj_create*>(kdata);
    if (a.flags & ~static_cast<__u32>(ACCEL_SYNCOBJ_CREATE_SIGNALED))
        return -EINVAL;
    syncobj_ref s = syncobj::create();
    if (!s)
        return -ENOMEM;
    if (a.flags & ACCEL_SYNCOBJ_CREATE_SIGNALED) {
        fence_ptr stub = signaled_stub();
        if (!stub)
            return -ENOMEM;
        s->replace_fence(std::move(stub));
    }
    auto h = accel::detail::syncobj_new_handle(f, std::move(s));
    if (!h)
        return h.error();
    a.handle = *h;
    return 0;
}

inline int destroy(device_base&, file_base& f, void* kdata) {
    auto& a = *static_cast<accel_syncobj_destroy*>(kdata);
    if (a.pad)
        return -EINVAL;
    accel::detail::syncobj_table* t = accel::detail::syncobj_table_of(f, false);
    syncobj_ref gone = t ? t->remove(a.handle) : nullptr;
    return gone ? 0 : -EINVAL;
}

inline int handle_to_fd(device_base&, file_base& f, void* kdata) {
    auto& a = *static_cast<accel_syncobj_handle*>(kdata);
    constexpr __u32 exp = ACCEL_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE;
    constexpr __u32 tl = ACCEL_SYNCOBJ_HANDLE_TO_FD_FLAGS_TIMELINE;
    if (a.pad)
        return -EINVAL;
    if (a.flags != 0 && a.flags != exp && a.flags != (exp | tl))
        return -EINVAL;
    const std::uint64_t point = (a.flags & tl) ? a.point : 0;
    if (a.flags & exp) {
        auto fence = syncobj_find_fence(f, a.handle, point, 0);
        if (!fence)
            return fence.error();
        auto file = sync_file_create(std::move(*fence));
        if (!file)
            return file.error();
        auto fd = fd_install(std::move(*file), O_CLOEXEC);
        if (!fd)
            return fd.error();
        a.fd = *fd;
        return 0;
    }
    if (a.point)
        return -EINVAL;
    auto s = syncobj_lookup(f, a.handle);
    if (!s)
        return -EINVAL;
    syncobj_file* file = syncobj_file::create(std::move(*s));
    if (!file)
        return -ENOMEM;
    auto fd = fd_install(open_file_ref(file, false), O_CLOEXEC);
    if (!fd)
        return fd.error();
    a.fd = *fd;
    return 0;
}

inline int fd_to_handle(device_base&, file_base& f, void* kdata) {
    auto& a = *static_cast<accel_syncobj_handle*>(kdata);
    constexpr __u32 imp = ACCEL_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE;
    constexpr __u32 tl = ACCEL_SYNCOBJ_FD_TO_HANDLE_FLAGS_TIMELINE;
    if (a.pad)
        return -EINVAL;
    if (a.flags != 0 && a.flags != imp && a.flags != (imp | tl))
        return -EINVAL;
    const std::uint64_t point = (a.flags & tl) ? a.point : 0;
    if (a.flags & imp) {
        // drm_syncobj_import_sync_file_fence: the fence first (-EINVAL), then the handle.
        auto file = fget(a.fd);
        fence_ptr fence = file ? sync_file_get_fence(**file) : nullptr;
        if (!fence)
            return -EINVAL;
        auto s = syncobj_lookup(f, a.handle);
        if (!s)
            return -ENOENT;
        if (point) {
            // A sync file exported at a timeline point holds a chain node; the kernel adds it
            // as it is, a chain's payload may not be a chain here: its leaves, merged, are the
            // same wait.
            if (to_fence_chain(fence.get())) {
                const fence_ptr one[] = {fence};
                fence = fence_unwrap_merge(one);
                if (!fence)
                    return -ENOMEM;
            }
            return (*s)->add_point(std::move(fence), point);
        }
        (*s)->replace_fence(std::move(fence));
        return 0;
    }
    if (a.point)
        return -EINVAL;
    // drm_syncobj_fd_to_handle: a descriptor that is not open is -EINVAL too (IGT's
    // bad-fd-to-handle), not fget's -EBADF.
    auto file = fget(a.fd);
    if (!file || &(*file)->fops() != &syncobj_file::fops)
        return -EINVAL;
    auto h = accel::detail::syncobj_new_handle(f, static_cast<syncobj_file&>(**file).object());
    if (!h)
        return h.error();
    a.handle = *h;
    return 0;
}

/// One entry of a wait (syncobj_wait_entry).
struct wait_entry_state {
    syncobj_ref obj;
    std::uint64_t point = 0;
    fence_ptr fence;
};

/// The state of a parked wait: what it waits on, and the queue its parked request sits on,
/// woken through the fences' and (FOR_SUBMIT/AVAILABLE) the syncobjs' queues.
class waiter final : public accel::wait_entry {
public:
    waiter(std::vector<wait_entry_state> e, std::uint32_t flags, std::uint32_t first) noexcept
        : entries(std::move(e)), flags_(flags), first_(first) {}
    void wake() noexcept override { queue.wake_all(); }

    /// One round of the kernel's loop: new fences of entries still without one are taken (and
    /// joined); the result when the wait is over, else nothing. Runs serialised (first from
    /// the handler, then as the parked check).
    std::optional<int> round(std::uint32_t& first_signaled) noexcept {
        const bool all = flags_ & ACCEL_SYNCOBJ_WAIT_FLAGS_WAIT_ALL;
        const bool available = flags_ & ACCEL_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE;
        std::size_t signaled = 0;
        for (std::size_t i = 0; i < entries.size(); ++i) {
            wait_entry_state& e = entries[i];
            if (!e.fence) { // syncobj_wait_syncobj_func: a fence arrived?
                fence_ptr f = e.obj->fence();
                if (!f || fence_chain_find_seqno(f, e.point))
                    continue;
                e.fence = f ? std::move(f) : signaled_stub();
                if (!e.fence)
                    return -ENOMEM;
                if (!joined_.join(*this, e.fence->waiters()))
                    return -ENOMEM;
            }
            if (available || fence_is_signaled(*e.fence)) {
                if (!all) {
                    first_signaled = static_cast<std::uint32_t>(i);
                    return 0;
                }
                ++signaled;
            }
        }
        if (signaled == entries.size()) {
            first_signaled = first_;
            return 0;
        }
        return std::nullopt;
    }

    /// Joins the queues whose wake-ups may end the wait. False when out of memory.
    bool join_all() noexcept {
        const bool arrival = flags_ & (ACCEL_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT | ACCEL_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE);
        for (wait_entry_state& e : entries) {
            if (arrival && !joined_.join(*this, e.obj->changed()))
                return false;
            if (e.fence && !joined_.join(*this, e.fence->waiters())) // enables signalling too
                return false;
        }
        return true;
    }
    void leave_all() noexcept { joined_.leave_all(); }

    accel::wait_queue queue;
    std::vector<wait_entry_state> entries;

private:
    void destroy() noexcept override { delete this; }
    std::uint32_t flags_;
    std::uint32_t first_;
    accel::joined_queues joined_;
};

/// drm_timeout_abs_to_jiffies without jiffies: the time left until absolute `timeout_nsec`
/// (0: poll), or -1 for a deadline too far for the clock (INT64_MAX: for ever).
inline std::chrono::nanoseconds time_left(std::int64_t timeout_nsec) noexcept {
    if (timeout_nsec == 0)
        return std::chrono::nanoseconds(0);
    const std::int64_t now = monotonic_ns();
    if (timeout_nsec <= now)
        return std::chrono::nanoseconds(0);
    const std::chrono::nanoseconds left(timeout_nsec - now);
    if (!accel::detail::deadline_after(left, std::chrono::steady_clock::now()))
        return std::chrono::nanoseconds(-1);
    return left;
}

/// drm_syncobj_array_wait_timeout, parking instead of sleeping. `Arg` is the ioctl's argument
/// (first_signaled is written there on success).
template <class Arg>
int array_wait(Arg& a, std::vector<syncobj_ref>& objs, const std::vector<std::uint64_t>& points, std::uint32_t flags) {
    constexpr std::uint32_t arrival = ACCEL_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT | ACCEL_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE;
    const std::size_t count = objs.size();
    std::vector<wait_entry_state> entries(count);
    std::uint32_t first = ~0u;
    std::size_t signaled = 0;
    // First pass, up front, so a missing fence is -EINVAL here and never later.
    for (std::size_t i = 0; i < count; ++i) {
        entries[i].obj = std::move(objs[i]);
        entries[i].point = points[i];
        fence_ptr f = entries[i].obj->fence();
        if (!f || fence_chain_find_seqno(f, points[i])) {
            if (flags & arrival)
                continue;
            return -EINVAL;
        }
        entries[i].fence = f ? std::move(f) : signaled_stub();
        if (!entries[i].fence)
            return -ENOMEM;
        if ((flags & ACCEL_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE) || fence_is_signaled(*entries[i].fence)) {
            if (signaled == 0)
                first = static_cast<std::uint32_t>(i);
            ++signaled;
        }
    }
    if (signaled == count || (signaled > 0 && !(flags & ACCEL_SYNCOBJ_WAIT_FLAGS_WAIT_ALL))) {
        a.first_signaled = first;
        return 0;
    }
    auto* w = accel::detail::alloc_may_fail() ? nullptr : new (std::nothrow) waiter(std::move(entries), flags, first);
    if (!w)
        return -ENOMEM;
    // The holder ends the waiter's membership of every queue when the parked request (which
    // owns the check, and with it the holder) goes; the waiter lives while a queue may wake it.
    struct holder {
        explicit holder(waiter* x) noexcept : w(x) {}
        holder(const holder&) = delete;
        holder& operator=(const holder&) = delete;
        waiter* w;
        ~holder() {
            w->leave_all();
            w->put();
        }
    };
    std::shared_ptr<holder> h;
    try {
        if (accel::detail::alloc_may_fail())
            throw std::bad_alloc();
        h = std::make_shared<holder>(w);
    } catch (...) {
        w->put();
        return -ENOMEM;
    }
    if (!w->join_all())
        return -ENOMEM;
    std::uint32_t out = first;
    if (std::optional<int> r = w->round(out)) { // the kernel's zero-timeout pass
        if (*r == 0)
            a.first_signaled = out;
        return *r;
    }
    const std::chrono::nanoseconds left = time_left(a.timeout_nsec);
    if (left.count() == 0)
        return -ETIME;
    return park(a, w->queue, left, [h](Arg& arg) -> std::optional<int> {
        std::uint32_t o = 0;
        std::optional<int> r = h->w->round(o);
        if (r && *r == 0)
            arg.first_signaled = o;
        return r;
    });
}

inline int wait(device_base&, file_base& f, void* kdata) {
    auto& a = *static_cast<accel_syncobj_wait*>(kdata);
    constexpr __u32 possible = ACCEL_SYNCOBJ_WAIT_FLAGS_WAIT_ALL | ACCEL_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT |
                               ACCEL_SYNCOBJ_WAIT_FLAGS_WAIT_DEADLINE;
    if (a.flags & ~possible)
        return -EINVAL;
    if (a.count_handles == 0)
        return 0;
    std::vector<syncobj_ref> objs;
    if (int e = array_find(f, a.handles, a.count_handles, objs))
        return e;
    std::vector<std::uint64_t> points(a.count_handles, 0);
    return array_wait(a, objs, points, a.flags);
}

inline int timeline_wait(device_base&, file_base& f, void* kdata) {
    auto& a = *static_cast<accel_syncobj_timeline_wait*>(kdata);
    constexpr __u32 possible = ACCEL_SYNCOBJ_WAIT_FLAGS_WAIT_ALL | ACCEL_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT |
                               ACCEL_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE | ACCEL_SYNCOBJ_WAIT_FLAGS_WAIT_DEADLINE;
    if (a.flags & ~possible)
        return -EINVAL;
    if (a.count_handles == 0)
        return 0;
    std::vector<syncobj_ref> objs;
    if (int e = array_find(f, a.handles, a.count_handles, objs))
        return e;
    std::vector<std::uint64_t> points(a.count_handles, 0);
    if (a.points && copy_from_user(points.data(), a.points, points.size() * sizeof(std::uint64_t)))
        return -EFAULT;
    return array_wait(a, objs, points, a.flags);
}

template <bool Signal>
int reset_or_signal(device_base&, file_base& f, void* kdata) {
    auto& a = *static_cast<accel_syncobj_array*>(kdata);
    if (a.pad || a.count_handles == 0)
        return -EINVAL;
    std::vector<syncobj_ref> objs;
    if (int e = array_find(f, a.handles, a.count_handles, objs))
        return e;
    std::vector<fence_ptr> stubs(Signal ? objs.size() : 0);
    for (fence_ptr& s : stubs) // allocated first: all or nothing
        if (!(s = signaled_stub()))
            return -ENOMEM;
    for (std::size_t i = 0; i < objs.size(); ++i)
        objs[i]->replace_fence(Signal ? std::move(stubs[i]) : nullptr);
    return 0;
}

inline int timeline_signal(device_base&, file_base& f, void* kdata) {
    auto& a = *static_cast<accel_syncobj_timeline_array*>(kdata);
    if (a.flags != 0 || a.count_handles == 0)
        return -EINVAL;
    std::vector<syncobj_ref> objs;
    if (int e = array_find(f, a.handles, a.count_handles, objs))
        return e;
    std::vector<std::uint64_t> points(a.count_handles, 0);
    if (a.points && copy_from_user(points.data(), a.points, points.size() * sizeof(std::uint64_t)))
        return -EFAULT;
    // Every node and stub first, as the kernel allocates its chains first: all points or none.
    std::vector<fence_chain::storage> nodes;
    std::vector<fence_ptr> stubs;
    try {
        nodes.resize(objs.size());
        stubs.resize(objs.size());
    } catch (...) {
        return -ENOMEM;
    }
    for (std::size_t i = 0; i < objs.size(); ++i)
        if (!nodes[i] || !(stubs[i] = signaled_stub()))
            return -ENOMEM;
    for (std::size_t i = 0; i < objs.size(); ++i)
        objs[i]->add_point(std::move(stubs[i]), points[i], nodes[i]); // cannot fail now
    return 0;
}

inline int query(device_base&, file_base& f, void* kdata) {
    auto& a = *static_cast<accel_syncobj_timeline_array*>(kdata);
    if (a.flags & ~static_cast<__u32>(ACCEL_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED))
        return -EINVAL;
    if (a.count_handles == 0)
        return -EINVAL;
    std::vector<syncobj_ref> objs;
    if (int e = array_find(f, a.handles, a.count_handles, objs))
        return e;
    for (std::size_t i = 0; i < objs.size(); ++i) {
        fence_ptr fence = objs[i]->fence();
        std::uint64_t point = 0;
        if (to_fence_chain(fence.get())) {
            if (a.flags & ACCEL_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED) {
                point = fence->seqno();
            } else {
                fence_ptr last = fence;
                const std::uint64_t ctx = fence->context();
                fence_chain_for_each(fence, [&](const fence_ptr& it) {
                    if (it->context() != ctx)
                        return false; // most likely unordered points
                    last = it;
                    return true;
                });
                point = fence_is_signaled(*last) ? last->seqno() : to_fence_chain(last.get())->prev_seqno();
            }
        }
        if (copy_to_user(a.points + i * sizeof(std::uint64_t), &point, sizeof point))
            return -EFAULT;
    }
    return 0;
}

inline int transfer(device_base&, file_base& f, void* kdata) {
    auto& a = *static_cast<accel_syncobj_transfer*>(kdata);
    if (a.pad)
        return -EINVAL;
    auto dst = syncobj_lookup(f, a.dst_handle);
    if (!dst)
        return -ENOENT;
    auto src = syncobj_find_fence(f, a.src_handle, a.src_point, a.flags);
    if (!src)
        return src.error();
    if (a.dst_point) {
        const fence_ptr one[1] = {std::move(*src)};
        fence_ptr flat = fence_unwrap_merge(one);
        if (!flat)
            return -ENOMEM;
        return (*dst)->add_point(std::move(flat), a.dst_point);
    }
    (*dst)->replace_fence(std::move(*src));
    return 0;
}

inline int eventfd(device_base&, file_base& f, void* kdata) {
    auto& a = *static_cast<accel_syncobj_eventfd*>(kdata);
    if (a.flags & ~static_cast<__u32>(ACCEL_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE))
        return -EINVAL;
    if (a.pad)
        return -EINVAL;
    if (!syncobj_lookup(f, a.handle))
        return -ENOENT;
    // eventfd_ctx_fdget: see the file comment (no served file is an eventfd).
    auto file = fget(a.fd);
    return file ? -EINVAL : -EBADF;
}

/// The rows this header provides (core_ioctl::provide, from this inline variable's
/// initialiser: present in every program that includes the header).
inline const bool provided = [] {
    auto rw = [](unsigned nr, unsigned size) { return static_cast<ioctl_cmd>(_IOC(_IOC_READ | _IOC_WRITE, ACCEL_IOCTL_BASE, nr, size)); };
    core_ioctl::provide(rw(0xBF, 8), &create);
    core_ioctl::provide(rw(0xC0, 8), &destroy);
    core_ioctl::provide(rw(0xC1, 24), &handle_to_fd);
    core_ioctl::provide(rw(0xC2, 24), &fd_to_handle);
    core_ioctl::provide(rw(0xC3, 40), &wait);
    core_ioctl::provide(rw(0xC4, 16), &reset_or_signal<false>);
    core_ioctl::provide(rw(0xC5, 16), &reset_or_signal<true>);
    core_ioctl::provide(rw(0xCA, 48), &timeline_wait);
    core_ioctl::provide(rw(0xCB, 24), &query);
    core_ioctl::provide(rw(0xCC, 32), &transfer);
    core_ioctl::provide(rw(0xCD, 24), &timeline_signal);
    core_ioctl::provide(rw(0xCF, 24), &eventfd);
    return true;
}();

} // namespace syncobj_ioctl
} // namespace accel

// SPDX-License-Identifier: MIT
#pragma once
/// \file The dma-buf (drivers/dma-buf/dma-buf.c): a buffer shared between devices and processes
/// as an open file of its own kind ("dma_buf"), with an exporter policy (dma_buf_exporter.hpp).
///
/// Exporting (share/dma_buf_export.hpp): `dma_buf_export(exporter, {exp_name, size, flags})`
/// makes the buffer; the new
/// open_file holds one reference, the creator's (fd_install hands it to a descriptor). Its flags
/// are `flags & (O_ACCMODE | O_NONBLOCK)`, as dma_buf_export gives the anon file.
///
/// Importing (the kernel's importer API, used by share/prime.hpp and by drivers):
///   dma_buf_get(fd)                  the caller's descriptor's dma-buf: -EBADF (no such fd),
///                                    -EINVAL (an fd of another kind) (share/dma_buf_export.hpp)
///   buf.attach(importer_device)      an attachment, holding a reference to the buffer
///   att.map(dir) / att.unmap()       the buffer's memory as host-address ranges for that
///                                    device (one mapping per attachment at a time: -EBUSY)
///   buf.vmap() / buf.vunmap()        the CPU view, counted: the exporter's vmap runs for the
///                                    first user only, its vunmap when the count returns to 0
///   buf.begin/end_cpu_access(dir)    the exporter's hooks, 0 without them
///   buf.mmap(offset, len, prot, fl)  dma_buf_mmap: the exporter's memory for a mapping
///
/// Lifetime: the buffer lives while anything holds a reference: a descriptor in any process,
/// an attachment, an importer's object (its `dma_buf` and cache entries), an in-flight call.
/// The last one runs the exporter's release (which drops what export took, e.g. the exported
/// object and its device), then frees the buffer. Attachments hold the buffer, so an importer's
/// object keeps the exporter's object and its memory alive, through unplug of the exporter's
/// device too (the default GEM exporter then answers -ENODEV to new attach, map, mmap and vmap:
/// share/gem_exporter.hpp).
///
/// File operations (dma_buf_fops):
///   mmap       mmap(2)'s checks (-EINVAL length 0 or unaligned offset; -EACCES writable shared
///              mapping of a read-only dma-buf, or any mapping of a write-only one), then
///              -EINVAL without an exporter mmap, -EINVAL when offset pages + length pages
///              exceed the size, else the exporter's mmap
///   llseek     SEEK_END -> size, SEEK_SET -> 0, offset 0 only; anything else -EINVAL
///   ioctl      DMA_BUF_IOCTL_SYNC (unknown flag bits or neither READ nor WRITE -EINVAL; START
///              -> begin_cpu_access, END -> end_cpu_access; no fence wait), DMA_BUF_SET_NAME_A /
///              _B (a user string shorter than DMA_BUF_NAME_LEN, else -EINVAL; a bad pointer
///              -EFAULT; replaces the name), anything else -ENOTTY
///              DMA_BUF_IOCTL_EXPORT_SYNC_FILE (flags a non-empty subset of READ|WRITE, else
///              -EINVAL; READ waits for the writers, WRITE for everyone: one fence, or a signalled
///              stub when none is pending, in a new O_CLOEXEC sync file through fd_install),
///              DMA_BUF_IOCTL_IMPORT_SYNC_FILE (same flag check; an fd that is not a sync file
///              -EINVAL; every leaf of its fence goes into the reservation object as WRITE if
///              WRITE is set, else READ, slots reserved first: -ENOMEM adds nothing)
///   show_fdinfo  size, count (references), exp_name, name when set
///   poll       dma_buf_poll's implicit-sync meaning: POLLIN when no unsignalled write (or
///              kernel) fence, POLLOUT when no unsignalled fence at all; at most one callback per
///              direction is armed on the pending fences (get_singleton), and while it is armed
///              that direction reports not ready; its firing wakes the pollers
///   release    the last reference: see Lifetime
///
/// Reservation object: the exporter's (an exporter's optional `dma_resv* resv()`, as
/// exp_info.resv; the GEM exporter gives the object's), else the buffer's own.
#include <accel/base/errno.hpp>
#include <accel/base/fault_injection.hpp>
#include <accel/core/descriptors.hpp>
#include <accel/core/device_base.hpp>
#include <accel/core/gem/dma_domain.hpp>
#include <accel/core/open_file.hpp>
#include <accel/core/user_memory.hpp>
#include <accel/core/wait_queue.hpp>
#include <accel/exec/dma_resv.hpp>
#include <accel/exec/fence.hpp>
#include <accel/share/dma_buf_ioctls.hpp>

#include <boost/intrusive_ptr.hpp>

#include <atomic>
#include <cstdint>
#include <fcntl.h>
#include <linux/dma-buf.h>
#include <memory>
#include <mutex>
#include <new>
#include <poll.h>
#include <string>
#include <string_view>
#include <thread>
#include <sys/mman.h>
#include <unistd.h>
#include <utility>

namespace accel {

// linux/dma-buf.h's numbers, as KERNEL-EXEC.md lists them.
static_assert(DMA_BUF_IOCTL_SYNC == 0x40086200u);
static_assert(DMA_BUF_SET_NAME_A == 0x40046201u);
static_assert(DMA_BUF_SET_NAME_B == 0x40086201u);
static_assert(DMA_BUF_IOCTL_EXPORT_SYNC_FILE == 0xC0086202u);
static_assert(DMA_BUF_IOCTL_IMPORT_SYNC_FILE == 0x40086203u);
static_assert(DMA_BUF_SYNC_VALID_FLAGS_MASK == 7 && DMA_BUF_NAME_LEN == 32);

class dma_buf;
using dma_buf_ref = boost::intrusive_ptr<dma_buf>;

/// What dma_buf_export takes besides the exporter (struct dma_buf_export_info).
struct dma_buf_export_info {
    std::string_view exp_name; ///< the exporter's name (static storage: a driver's name)
    std::uint64_t size = 0;    ///< bytes, > 0
    int flags = O_RDWR;        ///< the file's flags: O_ACCMODE and O_NONBLOCK are kept
};

/// One device's attachment to a dma-buf (struct dma_buf_attachment). Owned by the importer;
/// holds a reference to the buffer and to the importing device; destroying it unmaps, detaches
/// (the exporter's detach) and drops the reference (dma_buf_detach + dma_buf_put).
class dma_buf_attachment {
public:
    dma_buf_attachment(const dma_buf_attachment&) = delete;
    dma_buf_attachment& operator=(const dma_buf_attachment&) = delete;
    inline ~dma_buf_attachment();

    dma_buf& buf() const noexcept { return *buf_; }
    /// The importing device (struct dma_buf_attachment.dev).
    device_base& device() const noexcept { return *dev_; }
    /// dma_buf_map_attachment: the buffer's memory for this device as host-address ranges
    /// (the exporter's map). -EINVAL for dma_direction::none, -EBUSY when already mapped, or
    /// the exporter's error (-ENODEV, -ENOMEM, ...). The ranges stay valid until unmap().
    inline result<const dma_ranges*> map(dma_direction dir);
    /// dma_buf_unmap_attachment (nothing when not mapped).
    inline void unmap() noexcept;
    bool mapped() const noexcept { return mapped_; }

    /// The exporter's per-attachment data (attach may set it; detach frees it).
    void* exporter_priv = nullptr;

private:
    friend class dma_buf;
    dma_buf_attachment(dma_buf_ref buf, device_ref dev) noexcept : buf_(std::move(buf)), dev_(std::move(dev)) {}
    dma_buf_ref buf_;
    device_ref dev_;
    dma_ranges ranges_;
    dma_direction dir_ = dma_direction::none;
    bool mapped_ = false;
};
using dma_buf_attachment_ptr = std::unique_ptr<dma_buf_attachment>;

class dma_buf : public open_file {
public:
    std::uint64_t size() const noexcept { return size_; }
    std::string_view exp_name() const noexcept { return exp_name_; }
    /// DMA_BUF_SET_NAME's name ("" when unset).
    std::string name() const {
        std::lock_guard lock(name_mutex_);
        return name_;
    }
    /// Replaces the name. -ENOMEM.
    int set_name(std::string_view name) noexcept {
        if (detail::alloc_may_fail())
            return -ENOMEM;
        try {
            std::string n(name);
            std::lock_guard lock(name_mutex_);
            name_.swap(n);
        } catch (...) {
            return -ENOMEM;
        }
        return 0;
    }

    /// dma_buf_attach: a new attachment of `importer` (a reference to the buffer comes with
    /// it). -ENOMEM, or the exporter's attach error (-ENODEV once its device is unplugged).
    result<dma_buf_attachment_ptr> attach(device_base& importer) {
        using out = result<dma_buf_attachment_ptr>;
        if (detail::alloc_may_fail())
            return out::failure(-ENOMEM);
        dma_buf_attachment_ptr a(new (std::nothrow) dma_buf_attachment(dma_buf_ref(this), device_ref(&importer)));
        if (!a)
            return out::failure(-ENOMEM);
        if (int e = do_attach(*a)) {
            a->buf_.reset(); // no detach for an attachment the exporter refused
            a.reset();
            return out::failure(e < 0 ? e : -EINVAL);
        }
        attachments_.fetch_add(1, std::memory_order_relaxed);
        return a;
    }
    /// Attachments now.
    unsigned attachments() const noexcept { return attachments_.load(std::memory_order_relaxed); }

    /// dma_buf_vmap: the CPU view; -EINVAL when the exporter has none, else its error.
    result<std::byte*> vmap() {
        std::lock_guard lock(vmap_mutex_);
        if (vmap_count_ > 0) {
            ++vmap_count_;
            return vaddr_;
        }
        auto p = do_vmap();
        if (!p)
            return p;
        vaddr_ = *p;
        vmap_count_ = 1;
        return vaddr_;
    }
    /// dma_buf_vunmap: one user fewer; the exporter's vunmap at 0 (an unmatched call is ignored).
    void vunmap() noexcept {
        std::lock_guard lock(vmap_mutex_);
        if (vmap_count_ == 0)
            return;
        if (--vmap_count_ == 0) {
            do_vunmap(vaddr_);
            vaddr_ = nullptr;
        }
    }
    /// Whether the exporter has a CPU view at all (vmap's -EINVAL is then its own error).
    bool offers_vmap() const noexcept { return has_vmap(); }
    unsigned vmap_count() const {
        std::lock_guard lock(vmap_mutex_);
        return vmap_count_;
    }

    /// dma_buf_begin_cpu_access / dma_buf_end_cpu_access: the exporter's hooks, else 0.
    int begin_cpu_access(dma_direction dir) noexcept { return guarded([&] { return do_begin_cpu_access(dir); }); }
    int end_cpu_access(dma_direction dir) noexcept { return guarded([&] { return do_end_cpu_access(dir); }); }

    /// dma_buf_mmap for an importer (`offset` bytes into the buffer): -EINVAL without an
    /// exporter mmap, for an unaligned offset or a range past the end (-EOVERFLOW when it
    /// wraps), else the exporter's answer.
    result<mmap_target> mmap(std::uint64_t offset, std::uint64_t length, int prot, int flags) {
        const std::uint64_t page = host_page_size();
        if (!has_mmap() || offset % page != 0 || length == 0)
            return result<mmap_target>::failure(-EINVAL);
        const std::uint64_t pages = length / page + (length % page != 0);
        if (offset / page + pages < pages)
            return result<mmap_target>::failure(-EOVERFLOW);
        if (offset / page + pages > size_ / page + (size_ % page != 0))
            return result<mmap_target>::failure(-EINVAL);
        return do_mmap(offset, length, prot, flags);
    }

    /// The buffer object exported, when the exporter says (self-import), else null.
    virtual gem_object* object() noexcept = 0;

    /// dma_buf.resv: the exporter's reservation object, or the buffer's own.
    dma_resv& resv() noexcept { return resv_ ? *resv_ : own_resv_; }

    /// dma_buf_poll (see the file comment): POLLIN | POLLRDNORM, POLLOUT | POLLWRNORM.
    unsigned poll(poll_table& pt) noexcept {
        pt.wait(poll_wait_);
        std::lock_guard g(poll_mutex_); // pollers only: the callbacks never take it
        unsigned mask = 0;
        if (poll_ready(poll_in_, resv_usage_rw(false)))
            mask |= POLLIN | POLLRDNORM;
        if (poll_ready(poll_out_, resv_usage_rw(true)))
            mask |= POLLOUT | POLLWRNORM;
        return mask;
    }

    friend void intrusive_ptr_add_ref(dma_buf* b) noexcept { b->get(); }
    friend void intrusive_ptr_release(dma_buf* b) noexcept { b->put(); }

    /// The open file is a dma-buf (by its operations, as is_dma_buf_file compares f_op).
    static inline bool is(const open_file& f) noexcept;

protected:
    dma_buf(const file_operations& fops, const dma_buf_export_info& info) noexcept
        : open_file(fops, info.flags & (O_ACCMODE | O_NONBLOCK)), exp_name_(info.exp_name), size_(info.size) {
        poll_in_.owner = poll_out_.owner = this; // set once: a firing callback reads it unlocked
    }
    virtual ~dma_buf() = default;

    /// The exporter's reservation object (null: the buffer's own); set once, at export.
    dma_resv* resv_ = nullptr;

    virtual int do_attach(dma_buf_attachment&) = 0;
    virtual void do_detach(dma_buf_attachment&) noexcept = 0;
    virtual result<dma_ranges> do_map(dma_buf_attachment&, dma_direction) = 0;
    virtual void do_unmap(dma_buf_attachment&, dma_ranges&, dma_direction) noexcept = 0;
    virtual void do_release() noexcept = 0;
    virtual bool has_mmap() const noexcept = 0;
    virtual result<mmap_target> do_mmap(std::uint64_t, std::uint64_t, int, int) = 0;
    virtual bool has_vmap() const noexcept = 0;
    virtual result<std::byte*> do_vmap() = 0;
    virtual void do_vunmap(std::byte*) noexcept = 0;
    virtual int do_begin_cpu_access(dma_direction) = 0;
    virtual int do_end_cpu_access(dma_direction) = 0;

    template <class Fn>
    static int guarded(Fn&& fn) noexcept {
        try {
            return fn();
        } catch (...) {
            return exception_errno();
        }
    }

private:
    friend class dma_buf_attachment;
    friend struct dma_buf_file;

    /// The last reference went (dma_buf_release): an unbalanced vmap is undone (the kernel
    /// BUGs), then the exporter releases, then the buffer goes.
    void release() noexcept {
        // An armed poll callback goes first (the kernel BUGs on one; its dma_buf_poll holds the
        // file while one is armed). A callback removed never runs; one that has fired may still
        // be running on the signaller's thread - even for a fence the slot has since forgotten
        // (a poll saw it fired) - so the buffer goes only once none is in flight.
        for (poll_slot* ps : {&poll_in_, &poll_out_}) {
            if (ps->fence && ps->fence->remove_callback(*ps))
                ps->in_flight.fetch_sub(1, std::memory_order_relaxed);
            ps->fence.reset();
        }
        while (poll_in_.in_flight.load(std::memory_order_acquire) || poll_out_.in_flight.load(std::memory_order_acquire))
            std::this_thread::yield(); // a callback between its wake-up and its return
        {
            std::lock_guard lock(vmap_mutex_);
            if (vmap_count_) {
                do_vunmap(vaddr_);
                vmap_count_ = 0;
            }
        }
        do_release();
        delete this;
    }

    /// One direction's poll callback (dma_buf_poll_cb_t).
    struct poll_slot : fence_cb {
        dma_buf* owner = nullptr;
        fence_ptr fence;                 ///< the fence it is armed on (kept until re-armed)
        std::atomic<bool> active{false}; ///< armed and not fired
        std::atomic<int> in_flight{0};   ///< armed, or fired and still running (release waits)
    };
    static void poll_fired(fence&, fence_cb& cb) noexcept {
        auto& ps = static_cast<poll_slot&>(cb);
        ps.active.store(false, std::memory_order_release);
        ps.owner->poll_wait_.wake_all();
        ps.in_flight.fetch_sub(1, std::memory_order_release); // last: the buffer may go from here on
    }
    /// Caller holds poll_mutex_. Ready when nothing of usage <= `u` is pending; otherwise arms
    /// the slot on the pending fences (out of memory: reported ready, as a failed kernel
    /// allocation there leaves the direction without a callback).
    bool poll_ready(poll_slot& ps, resv_usage u) noexcept {
        if (ps.active.load(std::memory_order_acquire))
            return false;
        ps.fence.reset(); // its callback has run (the signaller still holds the fence)
        auto f = resv().get_singleton(u);
        if (!f || !*f)
            return true;
        ps.fence = std::move(*f);
        ps.active.store(true, std::memory_order_relaxed);
        ps.in_flight.fetch_add(1, std::memory_order_relaxed);
        if (ps.fence->add_callback(ps, &poll_fired) != 0) { // -ENOENT: signalled meanwhile
            ps.in_flight.fetch_sub(1, std::memory_order_relaxed);
            ps.active.store(false, std::memory_order_relaxed);
            return true;
        }
        return false;
    }

    std::string_view exp_name_;
    std::uint64_t size_;
    dma_resv own_resv_;
    wait_queue poll_wait_;
    std::mutex poll_mutex_;
    poll_slot poll_in_, poll_out_;
    mutable std::mutex name_mutex_;
    std::string name_;
    mutable std::mutex vmap_mutex_;
    unsigned vmap_count_ = 0;
    std::byte* vaddr_ = nullptr;
    std::atomic<unsigned> attachments_{0};
};

inline result<const dma_ranges*> dma_buf_attachment::map(dma_direction dir) {
    using out = result<const dma_ranges*>;
    if (dir == dma_direction::none)
        return out::failure(-EINVAL);
    if (mapped_)
        return out::failure(-EBUSY);
    auto r = buf_->do_map(*this, dir);
    if (!r)
        return out::failure(r.error());
    ranges_ = std::move(*r);
    dir_ = dir;
    mapped_ = true;
    return &ranges_;
}

inline void dma_buf_attachment::unmap() noexcept {
    if (!mapped_)
        return;
    buf_->do_unmap(*this, ranges_, dir_);
    ranges_.clear();
    mapped_ = false;
}

inline dma_buf_attachment::~dma_buf_attachment() {
    if (!buf_)
        return;
    unmap();
    buf_->do_detach(*this);
    buf_->attachments_.fetch_sub(1, std::memory_order_relaxed);
    // Then the members: the device reference, and last the buffer's (maybe its release).
}

/// The file operations of every dma-buf (dma_buf_fops).
struct dma_buf_file {
    static dma_buf& of(open_file& f) noexcept { return static_cast<dma_buf&>(f); }
    static const dma_buf& of(const open_file& f) noexcept { return static_cast<const dma_buf&>(f); }

    static constexpr file_operations fops{
        .kind = "dma_buf",
        .ioctl = [](open_file& f, ioctl_cmd cmd, std::uint64_t arg) noexcept -> int {
            switch (static_cast<unsigned long>(cmd)) {
            case DMA_BUF_IOCTL_SYNC:
                return dma_buf_ioctl::sync(of(f), arg);
            case DMA_BUF_SET_NAME_A:
            case DMA_BUF_SET_NAME_B:
                return dma_buf_ioctl::set_name(of(f), arg);
            case DMA_BUF_IOCTL_EXPORT_SYNC_FILE:
                return dma_buf_ioctl::export_sync_file(of(f), arg);
            case DMA_BUF_IOCTL_IMPORT_SYNC_FILE:
                return dma_buf_ioctl::import_sync_file(of(f), arg);
            default:
                return -ENOTTY;
            }
        },
        .read = nullptr,
        .write = nullptr,
        .poll = [](open_file& f, poll_table& pt) noexcept -> unsigned { return of(f).poll(pt); },
        .mmap = [](open_file& f, std::uint64_t offset, std::uint64_t length, int prot, int flags) -> result<mmap_target> {
            dma_buf& b = of(f);
            const std::uint64_t page = host_page_size();
            if (length == 0 || offset % page != 0)
                return result<mmap_target>::failure(-EINVAL); // mmap(2)
            if (((prot & PROT_WRITE) && (flags & MAP_SHARED) && !f.writable()) || !f.readable())
                return result<mmap_target>::failure(-EACCES); // mmap(2): FMODE_WRITE, FMODE_READ
            auto r = b.mmap(offset, length, prot, flags);
            if (!r && r.error() == -EOVERFLOW)
                return result<mmap_target>::failure(-EINVAL); // dma_buf_mmap_internal has no overflow case
            return r;
        },
        .llseek = [](open_file& f, long long offset, int whence) noexcept -> long long {
            long long base;
            if (whence == SEEK_END)
                base = static_cast<long long>(of(f).size());
            else if (whence == SEEK_SET)
                base = 0;
            else
                return -EINVAL;
            if (offset != 0)
                return -EINVAL;
            return base;
        },
        .flush = nullptr,
        .release = [](open_file& f) noexcept { of(f).release(); },
        .show_fdinfo = [](const open_file& f, std::string& out) {
            const dma_buf& b = of(f);
            out += "size:\t" + std::to_string(b.size()) + "\n";
            out += "count:\t" + std::to_string(b.ref_count()) + "\n";
            out += "exp_name:\t";
            out += b.exp_name();
            out += "\n";
            if (std::string n = b.name(); !n.empty())
                out += "name:\t" + n + "\n";
        },
        .cancel_waits = nullptr,
    };
};

inline bool dma_buf::is(const open_file& f) noexcept { return &f.fops() == &dma_buf_file::fops; }

} // namespace accel

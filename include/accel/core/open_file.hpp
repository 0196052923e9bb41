// SPDX-License-Identifier: MIT
#pragma once
/// \file `open_file` and `file_operations`: the kernel's struct file and its f_op.
///
/// Every descriptor a backend hands out names an open_file, and every call on it goes through
/// the file's operations, chosen by its kind, as DRM_ACCEL_FOPS serves accel nodes and
/// dma_buf_fops serves dma-bufs. Backends know nothing of kinds: the mock's descriptor table
/// and the FUSE host's file handles hold open_files and call their operations, so a new kind
/// (sync files, dma-buf files, event files, attribute files) needs no backend change.
///
/// Kinds today: the device files of the compute and monitor nodes (core/device_file.hpp), and
/// dma-bufs (share/dma_buf.hpp).
///
/// Operations (null: the default in brackets, which is the kernel's for a missing f_op member):
///   ioctl(file, cmd, arg)            result, or call_parked when answered later (core/call.hpp)
///                                    [-ENOTTY]
///   read(file, buf, n, pos)          bytes copied to the caller's `buf` (copy_to_user), or
///                                    -errno; may park like ioctl [-EINVAL]
///   write(file, buf, n, pos)         bytes taken from `buf` (copy_from_user) [-EINVAL]
///   poll(file, table)                the ready mask (POLLIN, POLLOUT, ...), after registering
///                                    with table.wait(queue) on each queue whose wake-up could
///                                    change it [POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM,
///                                    DEFAULT_POLLMASK]
///   mmap(file, offset, length, prot, flags)
///                                    what to map: an object's memory [-ENODEV]
///   llseek(file, offset, whence)     the new position [-ESPIPE]
///   flush(file)                      at each close(2) of a descriptor [0]
///   release(file)                    when the last reference goes: frees the file (required)
///   show_fdinfo(file, out)           lines appended to /proc/<pid>/fdinfo/<fd> [none]
///   cancel_waits(file, error)        ends requests parked through the file [none parked]
/// `open` belongs to what is opened, not to an open file: a node's open creates the file
/// (device_base::open), as a character device's open builds file->private_data.
#include <accel/base/errno.hpp>
#include <accel/core/gem/object.hpp>
#include <accel/core/ioctl_number.hpp>

#include <boost/intrusive_ptr.hpp>

#include <atomic>
#include <cstdint>
#include <fcntl.h>
#include <poll.h>
#include <string>
#include <string_view>

namespace accel {

class wait_queue;
class open_file;
class device_base;

/// What a poll operation registers with (poll_table_struct): the backend's waiter joins each
/// queue, so that a wake-up on any of them makes the backend poll again.
class poll_table {
public:
    virtual void wait(wait_queue& q) noexcept = 0;

protected:
    ~poll_table() = default;
};

/// What an mmap operation hands the backend: memory to map and the references that keep it
/// alive as long as the mapping (the VMA's vm_file and object references).
struct mmap_target {
    int fd = -1;                  ///< the memfd holding the memory
    std::uint64_t fd_offset = 0;  ///< where the mapping starts in it
    gem_ref object;               ///< the object mapped
    boost::intrusive_ptr<device_base> device; ///< its device (the object's offset lives there)
};

/// The default poll mask of a file without a poll operation (DEFAULT_POLLMASK).
inline constexpr unsigned default_poll_mask = POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM;

struct file_operations {
    std::string_view kind; ///< for diagnostics: "accel", "sync_file", "dma_buf", ...
    int (*ioctl)(open_file&, ioctl_cmd cmd, std::uint64_t arg) noexcept = nullptr;
    long (*read)(open_file&, std::uint64_t buf, std::size_t n, std::uint64_t& pos) noexcept = nullptr;
    long (*write)(open_file&, std::uint64_t buf, std::size_t n, std::uint64_t& pos) noexcept = nullptr;
    unsigned (*poll)(open_file&, poll_table&) noexcept = nullptr;
    result<mmap_target> (*mmap)(open_file&, std::uint64_t offset, std::uint64_t length, int prot, int flags) = nullptr;
    long long (*llseek)(open_file&, long long offset, int whence) noexcept = nullptr;
    int (*flush)(open_file&) noexcept = nullptr;
    void (*release)(open_file&) noexcept = nullptr;
    void (*show_fdinfo)(const open_file&, std::string& out) = nullptr;
    /// Ends the waits of requests parked through this file with `error` (no kernel
    /// counterpart: for a backend whose close must first end the calls on the descriptor).
    void (*cancel_waits)(open_file&, int error) noexcept = nullptr;
};

/// An open file (struct file): its operations, its open(2) flags, a position, and a reference
/// count (fget/fput): the backend's descriptor holds one, and whatever else keeps the file
/// (a dup, an import, an in-flight call that may outlive the descriptor) holds its own. The
/// last put() calls release. Kinds derive from it (file_base for device files).
class open_file {
public:
    open_file(const open_file&) = delete;
    open_file& operator=(const open_file&) = delete;

    const file_operations& fops() const noexcept { return *fops_; }
    /// open(2)'s flags (O_ACCMODE, O_NONBLOCK, ...), as fcntl(F_SETFL) left them: f_flags.
    int flags() const noexcept { return flags_.load(std::memory_order_relaxed); }
    bool readable() const noexcept { return (flags() & O_ACCMODE) != O_WRONLY; }
    /// Opened for writing (O_WRONLY or O_RDWR): a shared mapping's VM_MAYWRITE.
    bool writable() const noexcept { return (flags() & O_ACCMODE) != O_RDONLY; }
    /// fcntl(F_SETFL): takes the status flags it may change (SETFL_MASK: O_APPEND, O_NONBLOCK,
    /// O_ASYNC, O_DIRECT, O_NOATIME) from `flags`, keeps the others. A backend that learns
    /// f_flags per call (FUSE sends them with each READ) brings the file up to date with it.
    void set_status_flags(int flags) noexcept {
        constexpr int settable = O_APPEND | O_NONBLOCK | O_ASYNC | O_DIRECT | O_NOATIME;
        int old = flags_.load(std::memory_order_relaxed);
        while (!flags_.compare_exchange_weak(old, (old & ~settable) | (flags & settable), std::memory_order_relaxed)) {
        }
    }
    std::uint64_t& pos() noexcept { return pos_; }
    /// References now (file_count: what a dma-buf's fdinfo reports as `count`).
    std::uint32_t ref_count() const noexcept { return refs_.load(std::memory_order_relaxed); }

    void get() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
    /// get() unless the count already reached 0 (kref_get_unless_zero / get_file_rcu): for a
    /// finder that sees the file in a list its release has not yet left. False: it is going.
    bool try_get() noexcept {
        std::uint32_t n = refs_.load(std::memory_order_relaxed);
        do {
            if (n == 0)
                return false;
        } while (!refs_.compare_exchange_weak(n, n + 1, std::memory_order_relaxed));
        return true;
    }
    /// References now (file_count): only meaningful to a holder that knows nobody can take a
    /// new one behind its back (the FUSE host keeps a published file while others hold it).
    std::uint32_t refs() const noexcept { return refs_.load(std::memory_order_acquire); }
    void put() noexcept {
        if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1)
            fops_->release(*this);
    }

    // ---- the operations, with the kernel's defaults for missing ones ----
    int ioctl(ioctl_cmd cmd, std::uint64_t arg) noexcept { return fops_->ioctl ? fops_->ioctl(*this, cmd, arg) : -ENOTTY; }
    long read(std::uint64_t buf, std::size_t n) noexcept { return read(buf, n, pos_); }
    long write(std::uint64_t buf, std::size_t n) noexcept { return write(buf, n, pos_); }
    /// At a position the caller keeps (pread, a stream's local position, or a backend whose
    /// kernel keeps f_pos itself, as FUSE's does): the file's own position is not touched.
    long read(std::uint64_t buf, std::size_t n, std::uint64_t& pos) noexcept {
        return fops_->read ? fops_->read(*this, buf, n, pos) : -EINVAL;
    }
    long write(std::uint64_t buf, std::size_t n, std::uint64_t& pos) noexcept {
        return fops_->write ? fops_->write(*this, buf, n, pos) : -EINVAL;
    }
    unsigned poll(poll_table& pt) noexcept { return fops_->poll ? fops_->poll(*this, pt) : default_poll_mask; }
    /// mmap: see map_file() in core/device_base.hpp (mmap_target needs the device complete).
    long long llseek(long long offset, int whence) noexcept {
        return fops_->llseek ? fops_->llseek(*this, offset, whence) : -ESPIPE;
    }
    int flush() noexcept { return fops_->flush ? fops_->flush(*this) : 0; }
    void cancel_waits(int error) noexcept {
        if (fops_->cancel_waits)
            fops_->cancel_waits(*this, error);
    }
    void show_fdinfo(std::string& out) const {
        if (fops_->show_fdinfo)
            fops_->show_fdinfo(*this, out);
    }

    friend void intrusive_ptr_add_ref(open_file* f) noexcept { f->get(); }
    friend void intrusive_ptr_release(open_file* f) noexcept { f->put(); }

protected:
    open_file(const file_operations& fops, int flags) noexcept : fops_(&fops), flags_(flags) {}
    ~open_file() = default;

private:
    const file_operations* fops_;
    std::atomic<int> flags_;
    std::uint64_t pos_ = 0;
    std::atomic<std::uint32_t> refs_{1}; // the opener's
};

} // namespace accel

// SPDX-License-Identifier: MIT
#pragma once
/// \file The open_file kind "attribute": an open sysfs-like attribute or debugfs-like entry,
/// with kernfs's file semantics (fs/kernfs/file.c, fs/sysfs/file.c).
///
///   read    the show output of the file, produced by a read at offset 0 and kept: a read or
///           pread at offset k returns bytes [k, k + n) of it, 0 at or past its end. A read at a
///           non-zero offset before any read at 0 produces it first. (seq_file re-runs show at
///           offset 0 and whenever a read is not where the last one ended; accel re-runs it at
///           offset 0 only, so a reader that seeks back to 0 gets a fresh value, as with
///           sysfs, and the slices of one value stay consistent.) Output past limit - 1 bytes
///           (show_limit) is cut: 4095 for sysfs, as sysfs_kf_seq_show keeps PAGE_SIZE - 1 bytes of an
///           overlong show; debugfs_limit - 1 for debugfs files (seq_file has no page limit). A show error is what read returns.
///   write   one store call with the whole buffer of the write, whatever the offset (sysfs_kf_write
///           ignores the position; the position then advances by the count, as kernfs's does).
///           0 bytes: 0, store not called. A root-only store (sysfs `reset`) opened by an
///           unprivileged caller: -EACCES, whatever the mode let it open. More than the limit
///           (4096 by default): -EINVAL, store not called (sysfs cuts such a write to one page;
///           see core/attribute.hpp).
///           Success: the byte count; a store error is returned and the store has changed
///           nothing. No store: -EINVAL (kernfs_fop_write_iter without ops->write).
///   llseek  generic_file_llseek with the stat size: SEEK_SET, SEEK_CUR, SEEK_END (from the
///           size); a negative result or another whence is -EINVAL.
///   poll    none: DEFAULT_POLLMASK (sysfs_notify is not offered)
///   ioctl   none: -ENOTTY;  mmap: none (-ENODEV)
///   release drops the device reference
/// Every read and write runs the callback inside the device's enter()/exit(): once the device
/// is unplugged they answer -ENODEV, as kernfs answers after the node's deactivation.
///
/// Opening is attribute_tree.hpp's open_attribute(), which also holds kernfs_fop_open's checks.
#include <accel/base/errno.hpp>
#include <accel/base/fault_injection.hpp>
#include <accel/core/device_base.hpp>
#include <accel/core/open_file.hpp>
#include <accel/core/user_memory.hpp>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <mutex>
#include <new>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <unistd.h>

namespace accel {

/// The show cap of debugfs files (the framework's and the driver's): seq_file, which
/// debugfs uses, has no page limit, so a long clients table or fdinfo text is not cut at 4095
/// bytes as a sysfs attribute is; 1 MiB bounds what one show may build.
inline constexpr std::size_t debugfs_limit = std::size_t{1} << 20;

/// What one attribute file reads and writes, type-erased (a driver row, or a framework
/// attribute with what it needs captured). show appends to `out`; store takes one write's
/// bytes; both return 0 or -errno and either may be empty.
struct attribute_source {
    mode_t mode = 0444;
    /// A write of more than `limit` bytes is refused (the row's limit, at most one page).
    std::size_t limit = 4096;
    /// Show output past show_limit - 1 bytes is cut: the limit for sysfs, debugfs_limit for
    /// debugfs.
    std::size_t show_limit = 4096;
    /// A store only a privileged opener may call, whatever the mode (the kernel's store checks
    /// capable(CAP_SYS_ADMIN) against the opener's credentials): -EACCES for anyone else.
    bool store_root_only = false;
    /// What stat reports as st_size: 4096 for sysfs attributes, 0 for debugfs entries.
    std::uint64_t size = 4096;
    std::function<int(device_base&, std::string& out)> show;
    std::function<int(device_base&, std::string_view in)> store;
};

namespace detail {
/// Runs a callback inside enter()/exit(), catching what it throws (as device<D> does).
template <class Fn>
int attribute_call(device_base& dev, Fn&& fn) noexcept {
    if (!dev.enter())
        return -ENODEV;
    device_base::entered guard{&dev};
    try {
        return fn();
    } catch (const std::bad_alloc&) {
        return -ENOMEM;
    } catch (...) {
        return -EIO;
    }
}
} // namespace detail

class attribute_file;
inline const file_operations& attribute_file_operations() noexcept;

/// An open attribute: its device (a reference), its source, and the show output read so far.
class attribute_file final : public open_file {
public:
    /// A new open file with one reference, or null when out of memory.
    /// `opener` is the caller of open(2): a root-only store checks it at every write, as the
    /// kernel checks the opener's credentials (file->f_cred), not the writer's.
    static attribute_file* create(device_ref dev, attribute_source src, int flags,
                                  const caller_identity& opener) noexcept {
        if (detail::alloc_may_fail())
            return nullptr;
        try {
            return new attribute_file(std::move(dev), std::move(src), flags, opener.privileged);
        } catch (...) {
            return nullptr;
        }
    }

    device_base& device() const noexcept { return *dev_; }
    const attribute_source& source() const noexcept { return src_; }

    long read_at(std::uint64_t buf, std::size_t n, std::uint64_t& pos) noexcept {
        if (past_max_offset(pos, n))
            return -EINVAL;
        std::lock_guard lock(mutex_);
        if (pos == 0 || !filled_) {
            std::string fresh;
            auto show = [&] {
                if (int e = detail::callback_may_fail("attribute.show"))
                    return e;
                return src_.show(*dev_, fresh);
            };
            const int r = src_.show ? detail::attribute_call(*dev_, show) : -EINVAL;
            if (r < 0)
                return r;
            if (fresh.size() > src_.show_limit - 1)
                fresh.resize(src_.show_limit - 1);
            text_.swap(fresh);
            filled_ = true;
        }
        if (pos >= text_.size())
            return 0;
        const std::size_t count = std::min<std::size_t>(n, text_.size() - static_cast<std::size_t>(pos));
        if (copy_to_user(buf, text_.data() + pos, count))
            return -EFAULT;
        pos += count;
        return static_cast<long>(count);
    }

    long write_at(std::uint64_t buf, std::size_t n, std::uint64_t& pos) noexcept {
        if (!src_.store || past_max_offset(pos, n))
            return -EINVAL;
        if (n == 0)
            return 0;
        if (src_.store_root_only && !opener_privileged_)
            return -EACCES;
        if (n > src_.limit)
            return -EINVAL;
        std::string in;
        try {
            in.resize(n);
        } catch (...) {
            return -ENOMEM;
        }
        if (copy_from_user(in.data(), buf, n))
            return -EFAULT;
        std::lock_guard lock(mutex_); // one call at a time on an open file, as f_pos_lock orders them
        const int r = detail::attribute_call(*dev_, [&] {
            if (int e = detail::callback_may_fail("attribute.store"))
                return e;
            return src_.store(*dev_, in);
        });
        if (r < 0)
            return r;
        pos += n;
        return static_cast<long>(n);
    }

    long long seek(long long offset, int whence) noexcept {
        std::lock_guard lock(mutex_);
        long long base = 0;
        switch (whence) {
        case SEEK_SET: base = 0; break;
        case SEEK_CUR: base = static_cast<long long>(pos()); break;
        case SEEK_END: base = static_cast<long long>(src_.size); break;
        default: return -EINVAL;
        }
        // vfs_setpos: a position below 0 or past the largest offset is -EINVAL. base is never
        // negative, so only a positive offset can overflow the sum.
        if ((offset > 0 && base > std::numeric_limits<long long>::max() - offset) || base + offset < 0)
            return -EINVAL;
        pos() = static_cast<std::uint64_t>(base + offset);
        return base + offset;
    }

private:
    /// rw_verify_area: a transfer whose end would pass the largest offset (LLONG_MAX) is
    /// -EINVAL before the file's operation runs (so a position can never pass it).
    static bool past_max_offset(std::uint64_t pos, std::size_t n) noexcept {
        constexpr auto max = static_cast<std::uint64_t>(std::numeric_limits<long long>::max());
        return pos > max || n > max - pos;
    }

    attribute_file(device_ref dev, attribute_source src, int flags, bool opener_privileged)
        : open_file(attribute_file_operations(), flags), dev_(std::move(dev)), src_(std::move(src)),
          opener_privileged_(opener_privileged) {}
    ~attribute_file() = default;
    friend const file_operations& attribute_file_operations() noexcept;

    device_ref dev_;
    attribute_source src_;
    bool opener_privileged_;
    std::mutex mutex_;
    std::string text_;
    bool filled_ = false;
};

/// The operations of attribute files (see the file comment).
inline const file_operations& attribute_file_operations() noexcept {
    static constexpr file_operations ops{
        .kind = "attribute",
        .ioctl = nullptr,
        .read = [](open_file& f, std::uint64_t buf, std::size_t n, std::uint64_t& pos) noexcept -> long {
            return static_cast<attribute_file&>(f).read_at(buf, n, pos);
        },
        .write = [](open_file& f, std::uint64_t buf, std::size_t n, std::uint64_t& pos) noexcept -> long {
            return static_cast<attribute_file&>(f).write_at(buf, n, pos);
        },
        .poll = nullptr,
        .mmap = nullptr,
        .llseek = [](open_file& f, long long offset, int whence) noexcept -> long long {
            return static_cast<attribute_file&>(f).seek(offset, whence);
        },
        .flush = nullptr,
        .release = [](open_file& f) noexcept { delete &static_cast<attribute_file&>(f); },
        .show_fdinfo = nullptr,
        .cancel_waits = nullptr,
    };
    return ops;
}

} // namespace accel

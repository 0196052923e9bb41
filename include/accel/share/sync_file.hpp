// SPDX-License-Identifier: MIT
#pragma once
/// \file Sync files: a fence as a pollable file (drivers/dma-buf/sync_file.c).
///
/// A sync file holds one fence (which may be an array or a chain) and answers linux/sync_file.h's
/// ioctls with the kernel's numbers, layouts and rules; the numbers and structs come from the
/// system's <linux/sync_file.h> (SET_DEADLINE, newer than Debian 12's header, is spelled here
/// when the header lacks it):
///   SYNC_IOC_MERGE (0xC0303E03): flags or pad set -EINVAL; fd2 not a sync file (or not a
///       descriptor) -ENOENT, as sync_file_fdget's NULL answers; the result is
///       fence_unwrap_merge(this, fd2) in a new O_CLOEXEC sync file named by the caller (31
///       characters at most), which becomes the caller's only when the call succeeds (the
///       copy-out included): accel::fd_install commits after the call. Merging a file with
///       itself is allowed; the inputs stay valid.
///   SYNC_IOC_FILE_INFO (0xC0383E04): flags or pad set -EINVAL; num_fences 0 returns the count,
///       the fence's status and the name only; a count smaller than the leaves -EINVAL; else one
///       sync_fence_info per leaf (timestamp only when signalled, flags 0) and a status that
///       starts at 1 and becomes the first leaf status <= 0.
///   SYNC_IOC_SET_DEADLINE (0x40103E05): pad set -EINVAL; else 0 (accel's fences have no
///       deadline hint to pass, as a kernel fence without set_deadline ignores it).
///   any other request: -ENOTTY.
/// poll: POLLIN once the fence has signalled, with or without an error; never POLLOUT or
/// POLLERR. A poll waits on the fence's wait queue, which its signal wakes after the callbacks
/// (the kernel's sync_file_poll adds a fence callback that wakes the file's queue: the same
/// wake-up, one queue fewer).
///
/// The name when none was given: "<driver>-<timeline><context>-<seqno>" (sync_file_get_name).
#include <accel/core/descriptors.hpp>
#include <accel/core/open_file.hpp>
#include <accel/core/user_memory.hpp>
#include <accel/core/wait_queue.hpp>
#include <accel/exec/fence.hpp>
#include <accel/exec/fence_chain.hpp>
#include <accel/exec/fence_unwrap.hpp>

#include <linux/sync_file.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#ifndef SYNC_IOC_SET_DEADLINE
/* Linux 6.3's addition (uapi/linux/sync_file.h), missing from older system headers. */
struct sync_set_deadline {
    __u64 deadline_ns;
    __u64 pad;
};
#define SYNC_IOC_SET_DEADLINE _IOW(SYNC_IOC_MAGIC, 5, struct sync_set_deadline)
#endif

namespace accel {

static_assert(SYNC_IOC_MERGE == 0xC0303E03 && sizeof(sync_merge_data) == 48, "linux/sync_file.h: SYNC_IOC_MERGE");
static_assert(SYNC_IOC_FILE_INFO == 0xC0383E04 && sizeof(sync_file_info) == 56, "linux/sync_file.h: SYNC_IOC_FILE_INFO");
static_assert(sizeof(sync_fence_info) == 80, "linux/sync_file.h: struct sync_fence_info");
static_assert(SYNC_IOC_SET_DEADLINE == 0x40103E05, "SYNC_IOC_SET_DEADLINE");

class sync_file final : public open_file {
public:
    static const file_operations fops;

    /// A sync file holding `f` (not null), one reference (the caller's). nullptr when out of
    /// memory.
    static sync_file* create(fence_ptr f) noexcept {
        if (!f || detail::alloc_may_fail())
            return nullptr;
        return new (std::nothrow) sync_file(std::move(f));
    }

    const fence_ptr& fence() const noexcept { return fence_; }

    /// sync_file_get_name into `buf` (32 bytes, NUL-terminated).
    void get_name(char (&buf)[32]) const noexcept {
        if (user_name_[0]) {
            std::memcpy(buf, user_name_, sizeof buf);
            buf[31] = '\0';
            return;
        }
        const auto drv = fence_->driver_name();
        const auto tl = fence_->timeline_name();
        std::snprintf(buf, sizeof buf, "%.*s-%.*s%llu-%lld", static_cast<int>(drv.size()), drv.data(),
                      static_cast<int>(tl.size()), tl.data(), static_cast<unsigned long long>(fence_->context()),
                      static_cast<long long>(fence_->seqno()));
    }

private:
    explicit sync_file(fence_ptr f) noexcept : open_file(fops, O_RDONLY), fence_(std::move(f)) {}
    ~sync_file() = default;

    static int ioctl(open_file& of, ioctl_cmd cmd, std::uint64_t arg) noexcept {
        auto& sf = static_cast<sync_file&>(of);
        switch (cmd) {
        case SYNC_IOC_MERGE:
            return sf.merge(arg);
        case SYNC_IOC_FILE_INFO:
            return sf.file_info(arg);
        case SYNC_IOC_SET_DEADLINE: {
            sync_set_deadline d{};
            if (copy_from_user(&d, arg, sizeof d))
                return -EFAULT;
            return d.pad ? -EINVAL : 0;
        }
        default:
            return -ENOTTY;
        }
    }

    int merge(std::uint64_t arg) noexcept {
        sync_merge_data data{};
        if (copy_from_user(&data, arg, sizeof data))
            return -EFAULT;
        if (data.flags || data.pad)
            return -EINVAL;
        auto other = fget(data.fd2);
        if (!other || &(*other)->fops() != &fops)
            return -ENOENT;
        data.name[sizeof data.name - 1] = '\0';
        const fence_ptr both[2] = {fence_, static_cast<sync_file&>(**other).fence_};
        fence_ptr merged = fence_unwrap_merge(both);
        if (!merged)
            return -ENOMEM;
        sync_file* made = create(std::move(merged));
        if (!made)
            return -ENOMEM;
        std::memcpy(made->user_name_, data.name, sizeof data.name);
        auto fd = fd_install(open_file_ref(made, false), O_CLOEXEC);
        if (!fd)
            return fd.error();
        data.fence = *fd;
        // A fault here fails the call, and the descriptor is given back (never installed).
        return copy_to_user(arg, &data, sizeof data) ? -EFAULT : 0;
    }

    static int fill_info(accel::fence& f, sync_fence_info& out) noexcept {
        auto copy = [](char (&dst)[32], std::string_view s) {
            const std::size_t n = std::min(s.size(), sizeof dst - 1);
            std::memcpy(dst, s.data(), n);
            dst[n] = '\0';
        };
        copy(out.obj_name, f.timeline_name());
        copy(out.driver_name, f.driver_name());
        fence_is_signaled(f);
        out.status = f.status();
        out.flags = 0;
        out.timestamp_ns = out.status ? static_cast<__u64>(f.timestamp()) : 0;
        return out.status;
    }

    int file_info(std::uint64_t arg) noexcept {
        sync_file_info info{};
        if (copy_from_user(&info, arg, sizeof info))
            return -EFAULT;
        if (info.flags || info.pad)
            return -EINVAL;
        std::vector<fence_ptr> leaves;
        try {
            fence_unwrap_for_each(fence_, [&](accel::fence& f) { leaves.emplace_back(&f); });
        } catch (...) {
            return -ENOMEM;
        }
        if (!info.num_fences) {
            fence_is_signaled(*fence_);
            info.status = fence_->status();
        } else {
            info.status = 1;
            if (info.num_fences < leaves.size())
                return -EINVAL;
            std::vector<sync_fence_info> out;
            try {
                out.resize(leaves.size());
            } catch (...) {
                return -ENOMEM;
            }
            for (std::size_t i = 0; i < leaves.size(); ++i) {
                const int status = fill_info(*leaves[i], out[i]);
                info.status = info.status <= 0 ? info.status : status;
            }
            if (!out.empty() && copy_to_user(info.sync_fence_info, out.data(), out.size() * sizeof(sync_fence_info)))
                return -EFAULT;
        }
        get_name(info.name);
        info.num_fences = static_cast<__u32>(leaves.size());
        return copy_to_user(arg, &info, sizeof info) ? -EFAULT : 0;
    }

    static unsigned poll(open_file& of, poll_table& pt) noexcept {
        auto& sf = static_cast<sync_file&>(of);
        pt.wait(sf.fence_->waiters()); // also enables signalling, as sync_file_poll's callback does
        return fence_is_signaled(*sf.fence_) ? POLLIN : 0;
    }

    fence_ptr fence_;
    char user_name_[32] = {};
};

inline const file_operations sync_file::fops{
    .kind = "sync_file",
    .ioctl = &sync_file::ioctl,
    .poll = &sync_file::poll,
    .release = [](open_file& f) noexcept { delete &static_cast<sync_file&>(f); },
    .show_fdinfo =
        [](const open_file& f, std::string& out) {
            char name[32];
            static_cast<const sync_file&>(f).get_name(name);
            out += "name:\t";
            out += name;
            out += "\n";
        },
};

/// Whether `f` is a sync file.
inline bool is_sync_file(const open_file& f) noexcept { return &f.fops() == &sync_file::fops; }

/// A new sync file holding `f` (sync_file_create): the file with one reference, ready for
/// accel::fd_install. -EINVAL for a null fence, -ENOMEM.
inline result<open_file_ref> sync_file_create(fence_ptr f) noexcept {
    if (!f)
        return result<open_file_ref>::failure(-EINVAL);
    sync_file* s = sync_file::create(std::move(f));
    if (!s)
        return result<open_file_ref>::failure(-ENOMEM);
    return open_file_ref(s, false);
}

/// The fence of sync file `f` with a reference (sync_file_get_fence), or null when `f` is not
/// a sync file.
inline fence_ptr sync_file_get_fence(open_file& f) noexcept {
    return is_sync_file(f) ? static_cast<sync_file&>(f).fence() : nullptr;
}

} // namespace accel

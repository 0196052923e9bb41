// SPDX-License-Identifier: MIT
#pragma once
/// \file ACCEL_IOCTL_INFO: the framework-wide query (uapi/accel_info.h has the protocol).
///
/// The ioctl walks the caller's item array; each item is answered on its own, its outcome
/// written back into the item's length (bytes written, bytes needed, or -errno), as the
/// i915/xe query ioctls do. What an item contains comes from the device's `info_item` (built
/// from the driver's optional callbacks by info_items.hpp).
#include <accel/core/attribute.hpp>
#include <accel/core/device_base.hpp>
#include <accel/core/parked_call.hpp>
#include <accel/base/fault_injection.hpp>
#include <accel/core/file_base.hpp>
#include <accel/core/ioctl_flags.hpp>
#include <accel/core/ioctl_table.hpp>
#include <accel/core/user_memory.hpp>
#include <accel/uapi/accel_info.h>
#include <accel/uapi/accel_mmap.h>
#include <accel/uapi/accel_monitor.h>
#include <accel/uapi/accel_reset.h>

#include <array>
#include <climits>
#include <cstddef>
#include <new>
#include <string>
#include <vector>

namespace accel::info_ioctl {

/// Answers one item; returns what goes into its length field.
inline std::int32_t answer_item(device_base& dev, file_base& f, const accel_info_item& item) {
    if (item.flags || item.pad)
        return -EINVAL;
    std::vector<unsigned char> bytes;
    if (detail::alloc_may_fail())
        return -ENOMEM;
    int e;
    try {
        e = dev.ops().info_item(dev, f, item.id, bytes);
    } catch (const std::bad_alloc&) {
        e = -ENOMEM;
    }
    if (e)
        return e;
    if (bytes.size() > INT32_MAX)
        return -E2BIG;
    const auto needed = static_cast<std::int32_t>(bytes.size());
    if (item.length == 0)
        return needed;
    if (item.length < needed)
        return -EINVAL;
    if (copy_to_user(item.data, bytes.data(), bytes.size()))
        return -EFAULT;
    return needed;
}

inline int info(device_base& dev, file_base& f, void* kdata) {
    auto& a = *static_cast<accel_info*>(kdata);
    if (a.flags || a.num_items > ACCEL_INFO_MAX_ITEMS)
        return -EINVAL;
    for (std::uint32_t i = 0; i < a.num_items; ++i) {
        const std::uint64_t at = a.items + std::uint64_t{i} * sizeof(accel_info_item);
        accel_info_item item;
        if (copy_from_user(item, at))
            return -EFAULT;
        std::int32_t len = answer_item(dev, f, item);
        if (len != item.length &&
            copy_to_user(at + offsetof(accel_info_item, length), &len, sizeof len))
            return -EFAULT;
    }
    return 0;
}

/// ACCEL_IOCTL_MMAP_PREPARE (uapi/accel_mmap.h): mmap(2)'s checks before the mmap, for
/// backends whose mmap never reaches the device. Only the checks: keeping the object alive for
/// the mapping to come is the backend's job (the FUSE host pins it per process view and unpins
/// it when the process's last mapping of it goes), as only the backend can see mappings go.
inline int mmap_prepare(device_base& dev, file_base& f, void* kdata) {
    const auto& a = *static_cast<const accel_mmap_prepare*>(kdata);
    auto obj = dev.mmap_object(f, a.offset, a.length, static_cast<int>(a.prot), static_cast<int>(a.flags));
    return obj ? 0 : obj.error();
}

/// ACCEL_IOCTL_RESET (uapi/accel_reset.h): asks the device's reset handler for a reset and,
/// with ACCEL_RESET_WAIT, parks until it has ended (the reset runs on the reset domain's own
/// thread, never in the caller's: a handler must not hold the device guard for a reset).
inline int reset(device_base& dev, file_base&, void* kdata) {
    auto& a = *static_cast<accel_reset_request*>(kdata);
    if ((a.flags & ~ACCEL_RESET_WAIT) || a.pad)
        return -EINVAL;
    const std::uint64_t before = dev.status().reset_count();
    if (int r = dev.status().request_reset())
        return r;
    if (!(a.flags & ACCEL_RESET_WAIT))
        return 0;
    auto ended = [&st = dev.status(), before](accel_reset_request&) -> std::optional<int> {
        const accel_device_state s = st.state();
        if (s == ACCEL_STATE_MALFUNCTION)
            return -EIO;
        if (s != ACCEL_STATE_IN_RESET && st.reset_count() > before)
            return 0;
        return std::nullopt;
    };
    if (std::optional<int> r = ended(a))
        return *r;
    return park(a, dev.status().changed(), std::chrono::nanoseconds(-1), ended);
}

/// ACCEL_IOCTL_FDINFO (uapi/accel_monitor.h): the fdinfo text (core/fdinfo.hpp) of the device's
/// open file with `client_id`: any client on the monitor node, the caller's own on the compute
/// node (-EACCES for another id, existing or not). The file is found under the device's file
/// lock and held by a reference while its text is built outside the lock, as the kernel's
/// fdinfo holds the struct file: the driver's show_fdinfo may walk the files (for_each_file)
/// and opens and closes go on meanwhile.
inline int fdinfo(device_base& dev, file_base& caller, void* kdata) {
    auto& a = *static_cast<accel_fdinfo*>(kdata);
    if (a.flags)
        return -EINVAL;
    if (caller.kind() != node_kind::monitor && a.client_id != caller.client_id())
        return -EACCES;
    file_base* c = dev.get_file(a.client_id);
    if (!c)
        return -ENOENT;
    struct put_on_exit {
        file_base* f;
        ~put_on_exit() { f->put(); }
    } held{c};
    std::string text;
    try {
        if (detail::alloc_may_fail())
            return -ENOMEM;
        dev.ops().fdinfo(dev, *c, text);
    } catch (const std::bad_alloc&) {
        return -ENOMEM;
    }
    if (text.size() > UINT32_MAX)
        return -E2BIG;
    if (a.length != 0) {
        if (a.length < text.size())
            return -EINVAL;
        if (copy_to_user(a.data, text.data(), text.size()))
            return -EFAULT;
    }
    a.length = static_cast<std::uint32_t>(text.size());
    return 0;
}

/// ACCEL_IOCTL_CLEAR_STATS (uapi/accel_monitor.h): the reset count and ENGINE_BUSY start again
/// from 0 (a baseline, core/stats_baseline.hpp; the counters stay monotonic). Root only: the
/// table's root_only flag answers -EACCES before this runs. -EBUSY unless the device is
/// OPERATIONAL: the baseline reads ENGINE_BUSY, which reads the hardware and answers -EBUSY then.
inline int clear_stats(device_base& dev, file_base&, void* kdata) {
    const auto& a = *static_cast<const accel_clear_stats*>(kdata);
    if (a.flags || a.pad)
        return -EINVAL;
    if (dev.ops().attributes->state(dev) != ACCEL_STATE_OPERATIONAL)
        return -EBUSY;
    try {
        if (detail::alloc_may_fail())
            return -ENOMEM;
        dev.cleared_stats().clear(dev.status().reset_count(), dev.ops().engine_busy(dev));
    } catch (const std::bad_alloc&) {
        return -ENOMEM;
    }
    return 0;
}

/// The framework's own ioctls (type byte ACCEL_INFO_IOCTL_BASE), indexed by number.
inline constexpr std::array<ioctl_slot, 6> table = {
    ioctl_slot{ACCEL_IOCTL_INFO, ioctl_flags::render_allow | ioctl_flags::monitor, &info, "INFO"},
    ioctl_slot{ACCEL_IOCTL_MMAP_PREPARE, ioctl_flags::render_allow, &mmap_prepare, "MMAP_PREPARE"},
    ioctl_slot{ACCEL_IOCTL_RESET, ioctl_flags::render_allow | ioctl_flags::monitor | ioctl_flags::root_only, &reset,
               "RESET"},
    ioctl_slot{}, // 0x03 FD_CALL: the FUSE client's wrapper, answered by the backend (uapi/accel_fd.h)
    ioctl_slot{ACCEL_IOCTL_FDINFO, ioctl_flags::render_allow | ioctl_flags::monitor, &fdinfo, "FDINFO"},
    ioctl_slot{ACCEL_IOCTL_CLEAR_STATS, ioctl_flags::render_allow | ioctl_flags::monitor | ioctl_flags::root_only,
               &clear_stats, "CLEAR_STATS"},
};

} // namespace accel::info_ioctl

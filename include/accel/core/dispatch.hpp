// SPDX-License-Identifier: MIT
#pragma once
/// \file The ioctl dispatcher: drm_ioctl's algorithm, step for step (KERNEL.md section 2).
///
///  1. unplugged device: -ENODEV (drm_dev_is_unplugged);
///  2. type byte other than 'd' (or accel's INFO byte): -ENOTTY - the only -ENOTTY;
///  3. driver number [0x40, 0xA0) -> the driver's table, else the core table; a number past
///     the table or an empty slot: -EINVAL;
///  4. sizes: in = out = the user's size; IOC_IN counts only if set in both the user's and the
///     table's number, likewise IOC_OUT; the buffer is max(in, out, table size), on the stack up
///     to 128 bytes, else allocated (-ENOMEM);
///  5. copy in `in` bytes (-EFAULT, and nothing is copied back), zero the rest;
///  6. permission (-EACCES): ROOT_ONLY needs a privileged caller, AUTH a privileged opener,
///     MASTER never passes on accel; on the monitor node only `monitor` rows;
///  7. the handler, on the zero-extended buffer: it never sees bytes the caller did not send;
///     inside the device guard (drm_dev_enter: -ENODEV if the device went meanwhile), which
///     covers the handler only, not the copies; a handler that parks its request
///     (core/parked_call.hpp) returns at once, and the buffer moves to the parked request;
///  8. copy out `out` bytes - even when the handler failed; a fault there gives -EFAULT. A
///     parked request copies out when its wait ends.
/// A handler that throws is caught here: std::bad_alloc becomes -ENOMEM, anything else -EIO.
#include <accel/core/core_ioctls.hpp>
#include <accel/core/device_base.hpp>
#include <accel/base/fault_injection.hpp>
#include <accel/core/file_base.hpp>
#include <accel/core/info_ioctl.hpp>
#include <accel/core/ioctl_flags.hpp>
#include <accel/core/ioctl_number.hpp>
#include <accel/core/parked_call.hpp>
#include <accel/core/user_memory.hpp>

#include <cstring>
#include <utility>
#include <memory>
#include <new>

namespace accel {

namespace detail {

/// drm_ioctl_permit with accel's rules, plus the monitor node's restriction.
inline int ioctl_permitted(const file_base& f, unsigned flags) noexcept {
    if ((flags & ioctl_flags::root_only) && !current_caller().privileged)
        return -EACCES;
    if ((flags & ioctl_flags::auth) && !f.authenticated())
        return -EACCES;
    if (flags & ioctl_flags::master)
        return -EACCES; // accel files are never DRM master
    if (f.kind() == node_kind::monitor && !(flags & ioctl_flags::monitor))
        return -EACCES;
    return 0;
}

/// Finds the slot for `cmd`; nullptr means -EINVAL, and `*not_tty` is set for a foreign type byte.
inline const ioctl_slot* find_slot(const device_base& dev, ioctl_cmd cmd, bool& not_tty) noexcept {
    const std::uint32_t nr = ioc_nr(cmd);
    const std::uint32_t type = ioc_type(cmd);
    const ioctl_slot* slot = nullptr;
    if (type == ACCEL_IOCTL_BASE) {
        if (is_driver_nr(nr))
            slot = &dev.ops().driver_ioctls[nr - ACCEL_COMMAND_BASE];
        else if (nr < core_ioctl::table.size())
            slot = &core_ioctl::table[nr];
    } else if (type == ACCEL_INFO_IOCTL_BASE) {
        if (nr < info_ioctl::table.size())
            slot = &info_ioctl::table[nr];
    } else {
        not_tty = true;
        return nullptr;
    }
    return slot && slot->fn ? slot : nullptr;
}

inline int call_handler(const ioctl_slot& slot, device_base& dev, file_base& f, void* kdata) noexcept {
    try {
        return slot.fn(dev, f, kdata);
    } catch (...) {
        return exception_errno();
    }
}

} // namespace detail

inline int device_base::ioctl(file_base& f, ioctl_cmd cmd, std::uint64_t arg) noexcept {
    if (unplugged())
        return -ENODEV;

    bool not_tty = false;
    const ioctl_slot* slot = detail::find_slot(*this, cmd, not_tty);
    if (!slot)
        return not_tty ? -ENOTTY : -EINVAL;

    const std::size_t drv_size = ioc_size(slot->cmd);
    std::size_t in_size = ioc_size(cmd), out_size = in_size;
    if ((cmd & slot->cmd & ioc_in_bit) == 0)
        in_size = 0;
    if ((cmd & slot->cmd & ioc_out_bit) == 0)
        out_size = 0;
    std::size_t ksize = in_size > out_size ? in_size : out_size;
    if (drv_size > ksize)
        ksize = drv_size;

    alignas(16) unsigned char stack_kdata[128];
    std::unique_ptr<unsigned char[]> heap_kdata;
    unsigned char* kdata = stack_kdata;
    if (ksize > sizeof stack_kdata) {
        if (detail::alloc_may_fail())
            return -ENOMEM;
        heap_kdata.reset(new (std::nothrow) unsigned char[ksize]); // new[] aligns for any scalar
        if (!heap_kdata)
            return -ENOMEM;
        kdata = heap_kdata.get();
    }

    if (copy_from_user(kdata, arg, in_size))
        return -EFAULT;
    std::memset(kdata + in_size, 0, ksize - in_size);

    int ret = detail::ioctl_permitted(f, slot->flags);
    const bool driver_row = ioc_type(cmd) == ACCEL_IOCTL_BASE && is_driver_nr(ioc_nr(cmd));
    // A device left MALFUNCTION by a failed reset refuses the driver's compute ioctls; the core
    // and framework ioctls (VERSION, GET_CAP, GEM_CLOSE, INFO, RESET) and the monitor node keep
    // working so that clients can learn what happened and clean up (accel's rule).
    if (ret == 0 && f.kind() == node_kind::compute && driver_row && status_.state() == ACCEL_STATE_MALFUNCTION)
        ret = -EIO;
    if (ret == 0) {
        call_context* ctx = detail::current_call;
        park_request park;
        park.kdata = kdata;
        park_request* saved = ctx ? std::exchange(ctx->park, &park) : nullptr;
        if (!enter()) {
            ret = -ENODEV;
        } else {
            entered guard{this};
            if (!driver_row || (ret = detail::callback_may_fail("ioctl")) == 0)
                ret = detail::call_handler(*slot, *this, f, kdata);
        }
        if (ctx)
            ctx->park = saved;
        if (ret == call_parked) {
            if (!park.check) // returned the marker without parking: a driver bug
                ret = -EIO;
            else if ((ret = parked_call::start(*this, f, *ctx->async, std::move(park), kdata, ksize, arg, out_size)) ==
                     call_parked)
                return call_parked; // copied out and answered when the wait ends
        }
    }

    if (copy_to_user(arg, kdata, out_size))
        ret = -EFAULT;
    return ret;
}

} // namespace accel

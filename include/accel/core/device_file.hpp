// SPDX-License-Identifier: MIT
#pragma once
/// \file The operations of a device file (DRM_ACCEL_FOPS): the compute and the monitor node.
///
///   ioctl       drm_ioctl (core/dispatch.hpp); a handler may park the request
///   read        drm_read: whole events (file_base::send_event), oldest first; 0 when the first
///               does not fit; none pending: -EAGAIN with O_NONBLOCK, else the read parks until
///               one comes (a parked read, core/parked_call.hpp)
///   poll        drm_poll: waits on the file's event_wait; POLLIN | POLLRDNORM while events are
///               pending, plus what the driver's poll hook reports
///   mmap        drm_gem_mmap: a buffer object at its fake offset (device_base::mmap_object)
///   llseek      noop_llseek: the position never moves
///   release     drm_release: handles, then postclose, then the file is freed
///   show_fdinfo drm_show_fdinfo: the whole usage-statistics text (core/fdinfo.hpp); nothing
///               once the device is unplugged (drm_dev_enter fails)
///   write       none, as DRM has none (-EINVAL)
#include <accel/core/device_base.hpp>
#include <accel/core/dispatch.hpp>
#include <accel/core/file_base.hpp>
#include <accel/core/open_file.hpp>
#include <accel/core/parked_call.hpp>

#include <chrono>
#include <cstddef>
#include <new>
#include <optional>
#include <string>
#include <vector>

namespace accel {

namespace detail {
inline file_base& as_device_file(open_file& f) noexcept { return static_cast<file_base&>(f); }
inline const file_base& as_device_file(const open_file& f) noexcept { return static_cast<const file_base&>(f); }
} // namespace detail

inline constexpr file_operations device_file_operations{
    .kind = "accel",
    .ioctl = [](open_file& of, ioctl_cmd cmd, std::uint64_t arg) noexcept {
        file_base& f = detail::as_device_file(of);
        return f.base_device().ioctl(f, cmd, arg);
    },
    .read = [](open_file& of, std::uint64_t buf, std::size_t n, std::uint64_t&) noexcept -> long {
        file_base& f = detail::as_device_file(of);
        try {
            if (f.has_events() || (f.flags() & O_NONBLOCK)) {
                std::vector<std::byte> k(n);
                const long got = f.take_events(k.data(), n);
                if (got > 0 && copy_to_user(buf, k.data(), static_cast<std::size_t>(got))) {
                    f.return_events(k.data(), static_cast<std::size_t>(got));
                    return -EFAULT;
                }
                return got;
            }
            return park_read(f.base_device(), f, buf, n, f.event_wait(), std::chrono::nanoseconds(-1),
                             [&f](std::byte* k, std::size_t len) -> std::optional<long> {
                                 const long got = f.take_events(k, len);
                                 return got == -EAGAIN ? std::nullopt : std::optional<long>(got);
                             });
        } catch (const std::bad_alloc&) {
            return -ENOMEM;
        }
    },
    .write = nullptr,
    .poll = [](open_file& of, poll_table& pt) noexcept -> unsigned {
        file_base& f = detail::as_device_file(of);
        pt.wait(f.event_wait());
        const unsigned events = f.has_events() ? POLLIN | POLLRDNORM : 0u;
        device_base& dev = f.base_device();
        if (!dev.enter())
            return events | POLLERR | POLLHUP; // unplugged: nothing more will come
        device_base::entered guard{&dev};
        return events | dev.ops().poll(dev, f);
    },
    .mmap = [](open_file& of, std::uint64_t offset, std::uint64_t length, int prot, int flags) -> result<mmap_target> {
        file_base& f = detail::as_device_file(of);
        auto obj = f.base_device().mmap_object(f, offset, length, prot, flags);
        if (!obj)
            return result<mmap_target>::failure(obj.error());
        const int fd = (*obj)->backing_fd();
        const std::uint64_t at = (*obj)->backing_offset();
        return mmap_target{fd, at, std::move(*obj), device_ref(&f.base_device())};
    },
    .llseek = [](open_file& of, long long, int) noexcept -> long long { return static_cast<long long>(of.pos()); },
    .flush = nullptr,
    .release = [](open_file& of) noexcept {
        file_base& f = detail::as_device_file(of);
        f.base_device().close(&f);
    },
    .show_fdinfo = [](const open_file& of, std::string& out) {
        // The file is not changed: the driver's show_fdinfo hook takes it non-const, as the
        // kernel's takes a struct drm_file *.
        file_base& f = const_cast<file_base&>(detail::as_device_file(of));
        device_base& dev = f.base_device();
        if (!dev.enter())
            return;
        device_base::entered guard{&dev};
        dev.ops().fdinfo(dev, f, out);
    },
    .cancel_waits = [](open_file& of, int error) noexcept {
        file_base& f = detail::as_device_file(of);
        f.base_device().cancel_parked(f, error);
    },
};

} // namespace accel

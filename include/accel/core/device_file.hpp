// SPDX-License-Identifier: MIT
#pragma once
/// \file The operations of a device file (DRM_ACCEL_FOPS): the compute and the monitor node.
///
///   ioctl       drm_ioctl (core/dispatch.hpp); a handler may park the request
///   poll        drm_poll: waits on the file's event_wait; the mask is what the driver's poll
///               hook reports (0 without one: DRM sets POLLIN only for pending events, which
///               arrive with the execution layer)
///   mmap        drm_gem_mmap: a buffer object at its fake offset (device_base::mmap_object)
///   llseek      noop_llseek: the position never moves
///   release     drm_release: handles, then postclose, then the file is freed
///   show_fdinfo drm_show_fdinfo's identity keys: drm-driver, drm-client-id, drm-client-name
///   read        none yet: DRM events come with the execution layer (-EINVAL until then)
#include <accel/core/device_base.hpp>
#include <accel/core/dispatch.hpp>
#include <accel/core/file_base.hpp>
#include <accel/core/open_file.hpp>

#include <string>

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
    .read = nullptr,
    .write = nullptr,
    .poll = [](open_file& of, poll_table& pt) noexcept -> unsigned {
        file_base& f = detail::as_device_file(of);
        pt.wait(f.event_wait());
        device_base& dev = f.base_device();
        if (!dev.enter())
            return POLLERR | POLLHUP; // unplugged: nothing will ever be ready
        device_base::entered guard{&dev};
        return dev.ops().poll(dev, f);
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
        const file_base& f = detail::as_device_file(of);
        out += "drm-driver:\t";
        out += f.base_device().info().name;
        out += "\ndrm-client-id:\t" + std::to_string(f.client_id()) + "\n";
        if (std::string name = f.client_name(); !name.empty())
            out += "drm-client-name:\t" + name + "\n";
    },
    .cancel_waits = [](open_file& of, int error) noexcept {
        file_base& f = detail::as_device_file(of);
        f.base_device().cancel_parked(f, error);
    },
};

} // namespace accel

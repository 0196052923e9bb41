// SPDX-License-Identifier: MIT
#pragma once
/// \file The core ioctls every accel device answers, with DRM's numbers and semantics.
///
/// VERSION, GET_CAP and SET_CLIENT_NAME behave as drm_version, drm_getcap and
/// drm_set_client_name do on a kernel accel node. SET_CLIENT_CAP answers -EOPNOTSUPP (accel
/// nodes have no KMS). GEM_CLOSE deletes a buffer-object handle on a driver with buffer objects
/// and answers -EOPNOTSUPP on one without (no DRIVER_GEM). Advertised is only what works:
///   - PRIME: the ioctls answer -EOPNOTSUPP until dma-buf sharing exists, so GET_CAP PRIME reads
///     0. (accel's rule for now: a kernel GEM driver's PRIME works and reads IMPORT|EXPORT.)
///   - SYNCOBJ: every syncobj ioctl answers -EOPNOTSUPP, as drm_syncobj_*_ioctl do on a device
///     without DRIVER_SYNCOBJ, and GET_CAP SYNCOBJ / SYNCOBJ_TIMELINE read 0, as drm_getcap
///     reports them there.
/// Every other core number is an empty slot (-EINVAL). INFO, accel's own query, lives in
/// info_ioctl.hpp.
#include <accel/core/device_base.hpp>
#include <accel/base/fault_injection.hpp>
#include <accel/core/file_base.hpp>
#include <accel/core/ioctl_flags.hpp>
#include <accel/core/ioctl_table.hpp>
#include <accel/core/user_memory.hpp>
#include <accel/uapi/accel_drm.h>

#include <array>
#include <cstring>
#include <new>
#include <string>
#include <string_view>

namespace accel {

/// DRM_IOCTL_SET_CLIENT_CAP's argument (drm_set_client_cap).
struct accel_set_client_cap {
    __u64 capability;
    __u64 value;
};

namespace core_ioctl {

/// drm_copy_field: report the true length; copy at most the caller's length; no terminator.
inline int copy_field(__u64 buf, __u64& buf_len, std::string_view value) noexcept {
    std::size_t len = value.size() < buf_len ? value.size() : static_cast<std::size_t>(buf_len);
    buf_len = value.size();
    if (len && buf)
        return copy_to_user(buf, value.data(), len);
    return 0;
}

inline int version(device_base& dev, file_base&, void* kdata) {
    auto& v = *static_cast<accel_version*>(kdata);
    const driver_info& info = dev.info();
    v.version_major = info.major;
    v.version_minor = info.minor;
    v.version_patchlevel = info.patchlevel;
    if (int e = copy_field(v.name, v.name_len, info.name))
        return e;
    if (int e = copy_field(v.date, v.date_len, info.date))
        return e;
    return copy_field(v.desc, v.desc_len, info.desc);
}

inline int get_cap(device_base&, file_base&, void* kdata) {
    auto& c = *static_cast<accel_get_cap*>(kdata);
    c.value = 0;
    switch (c.capability) {
    case ACCEL_CAP_TIMESTAMP_MONOTONIC:
        c.value = 1;
        return 0;
    case ACCEL_CAP_PRIME:        // no dma-buf sharing yet (see above)
    case ACCEL_CAP_SYNCOBJ:      // no DRIVER_SYNCOBJ: the feature bit reads 0, as in drm_getcap
    case ACCEL_CAP_SYNCOBJ_TIMELINE:
        return 0;
    default:
        return -EOPNOTSUPP; // every other capability needs KMS, which accel nodes never have
    }
}

/// drm_valid_client_name: printable ASCII without spaces.
constexpr bool valid_client_name(std::string_view name) noexcept {
    for (char c : name) {
        auto u = static_cast<unsigned char>(c);
        if (u > 0x7f || u <= 0x20 || u == 0x7f)
            return false;
    }
    return true;
}

inline int set_client_name(device_base&, file_base& f, void* kdata) {
    auto& a = *static_cast<accel_set_client_name*>(kdata);
    if (a.name_len > ACCEL_CLIENT_NAME_MAX_LEN)
        return -EINVAL;
    std::string name;
    if (a.name_len) {
        char buf[ACCEL_CLIENT_NAME_MAX_LEN + 1] = {};
        if (copy_from_user(buf, a.name, static_cast<std::size_t>(a.name_len)))
            return -EFAULT;
        std::string_view sv(buf, static_cast<std::size_t>(a.name_len));
        if (std::strlen(buf) != sv.size() || !valid_client_name(sv))
            return -EINVAL; // embedded NUL, space or control character
        if (detail::alloc_may_fail())
            return -ENOMEM;
        name.assign(sv); // at most 64 bytes: inside the small-string buffer or one allocation
    }
    f.set_client_name(std::move(name));
    return 0;
}

inline int not_supported(device_base&, file_base&, void*) { return -EOPNOTSUPP; }

/// drm_gem_close_ioctl: unknown handle -EINVAL; the pad is not checked, as in the kernel.
inline int gem_close(device_base& dev, file_base& f, void* kdata) {
    if (!dev.ops().objects)
        return -EOPNOTSUPP;
    return f.handles().remove(static_cast<accel_gem_close*>(kdata)->handle);
}

/// The core table, indexed by number like drm_ioctls[]; size = highest number + 1.
inline constexpr std::size_t table_size = 0xD2;
inline constexpr std::array<ioctl_slot, table_size> table = [] {
    using namespace ioctl_flags;
    std::array<ioctl_slot, table_size> t{};
    auto set = [&](ioctl_cmd cmd, unsigned flags, ioctl_fn fn, std::string_view name) {
        t[ioc_nr(cmd)] = ioctl_slot{cmd, flags, fn, name};
    };
    set(ACCEL_IOCTL_VERSION, render_allow | monitor, &version, "VERSION");
    set(ACCEL_IOCTL_GEM_CLOSE, render_allow, &gem_close, "GEM_CLOSE");
    set(ACCEL_IOCTL_GET_CAP, render_allow | monitor, &get_cap, "GET_CAP");
    set(_IOW(ACCEL_IOCTL_BASE, 0x0d, accel_set_client_cap), monitor, &not_supported, "SET_CLIENT_CAP");
    set(ACCEL_IOCTL_PRIME_HANDLE_TO_FD, render_allow, &not_supported, "PRIME_HANDLE_TO_FD");
    set(ACCEL_IOCTL_PRIME_FD_TO_HANDLE, render_allow, &not_supported, "PRIME_FD_TO_HANDLE");
    set(ACCEL_IOCTL_SET_CLIENT_NAME, render_allow | monitor, &set_client_name, "SET_CLIENT_NAME");
    // drm_ioctls[]'s syncobj rows (DRM_RENDER_ALLOW), with the current kernel's argument sizes
    // (wait and timeline wait carry deadline_nsec); the size rules admit older, shorter ones.
    auto syncobj = [&](unsigned nr, unsigned size, std::string_view name) {
        set(static_cast<ioctl_cmd>(_IOC(_IOC_READ | _IOC_WRITE, ACCEL_IOCTL_BASE, nr, size)), render_allow, &not_supported, name);
    };
    syncobj(0xBF, 8, "SYNCOBJ_CREATE");
    syncobj(0xC0, 8, "SYNCOBJ_DESTROY");
    syncobj(0xC1, 16, "SYNCOBJ_HANDLE_TO_FD");
    syncobj(0xC2, 16, "SYNCOBJ_FD_TO_HANDLE");
    syncobj(0xC3, 40, "SYNCOBJ_WAIT");
    syncobj(0xC4, 16, "SYNCOBJ_RESET");
    syncobj(0xC5, 16, "SYNCOBJ_SIGNAL");
    syncobj(0xCA, 48, "SYNCOBJ_TIMELINE_WAIT");
    syncobj(0xCB, 24, "SYNCOBJ_QUERY");
    syncobj(0xCC, 32, "SYNCOBJ_TRANSFER");
    syncobj(0xCD, 24, "SYNCOBJ_TIMELINE_SIGNAL");
    syncobj(0xCF, 24, "SYNCOBJ_EVENTFD");
    return t;
}();

} // namespace core_ioctl
} // namespace accel

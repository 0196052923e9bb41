// SPDX-License-Identifier: MIT
#pragma once
/// \file The core ioctls every accel device answers, with DRM's numbers and semantics.
///
/// VERSION, GET_CAP and SET_CLIENT_NAME behave as drm_version, drm_getcap and
/// drm_set_client_name do on a kernel accel node. SET_CLIENT_CAP answers -EOPNOTSUPP (accel
/// nodes have no KMS). GEM_CLOSE deletes a buffer-object handle on a driver with buffer objects
/// and answers -EOPNOTSUPP on one without (no DRIVER_GEM).
///
/// PRIME and syncobj rows are core rows (drm_ioctls[] has them) whose handlers live in the
/// sharing layer (share/), above core: that layer provides them (`provide`) when a program
/// includes it, as a module fills in a table at load. Advertised is only what works:
///   - PRIME: a driver with buffer objects in a program with share/prime.hpp (accel/accel.hpp
///     includes it): HANDLE_TO_FD and FD_TO_HANDLE follow drm_prime.c (share/prime.hpp) and
///     GET_CAP PRIME reads IMPORT|EXPORT, as for a kernel GEM driver; a driver without objects
///     answers -EOPNOTSUPP and the cap reads 0 (the kernel's !DRIVER_GEM answer).
///   - SYNCOBJ: a driver that declares driver_feature::syncobj (DRIVER_SYNCOBJ; timeline rows
///     also need syncobj_timeline) in a program with share/syncobj.hpp; otherwise every syncobj
///     ioctl answers -EOPNOTSUPP, as drm_syncobj_*_ioctl do without DRIVER_SYNCOBJ, and GET_CAP
///     SYNCOBJ / SYNCOBJ_TIMELINE read 0, as drm_getcap reports them there.
/// Every other core number is an empty slot (-EINVAL). INFO, accel's own query, lives in
/// info_ioctl.hpp.
#include <accel/core/device_base.hpp>
#include <accel/core/driver.hpp>
#include <accel/base/fault_injection.hpp>
#include <accel/core/file_base.hpp>
#include <accel/core/ioctl_flags.hpp>
#include <accel/core/ioctl_table.hpp>
#include <accel/core/user_memory.hpp>
#include <accel/uapi/accel_drm.h>

#include <array>
#include <atomic>
#include <cstddef>
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

/// The handlers the sharing layer provides, by core number (see the file comment).
inline constexpr std::size_t provided_slots = 0x100;
inline std::array<std::atomic<ioctl_fn>, provided_slots> provided{};

/// Called by the sharing layer's headers (an inline variable's initialiser): the handler of
/// core row `cmd`. true, so it can initialise that variable.
inline bool provide(ioctl_cmd cmd, ioctl_fn fn) noexcept {
    provided[ioc_nr(cmd)].store(fn, std::memory_order_release);
    return true;
}
inline ioctl_fn provided_handler(ioctl_cmd cmd) noexcept {
    return provided[ioc_nr(cmd)].load(std::memory_order_acquire);
}

/// PRIME works on a device with buffer objects once share/prime.hpp provides it.
inline bool prime_available(const device_base& dev) noexcept {
    return dev.ops().objects && provided_handler(ACCEL_IOCTL_PRIME_HANDLE_TO_FD);
}
/// DRIVER_SYNCOBJ (and with `timeline`, DRIVER_SYNCOBJ_TIMELINE) once share/syncobj.hpp provides it.
inline bool syncobj_available(const device_base& dev, bool timeline) noexcept {
    const unsigned need = timeline ? driver_feature::syncobj | driver_feature::syncobj_timeline : driver_feature::syncobj;
    return (dev.ops().features & need) == need &&
           provided_handler(static_cast<ioctl_cmd>(_IOC(_IOC_READ | _IOC_WRITE, ACCEL_IOCTL_BASE, 0xBF, 8)));
}

/// A PRIME row: the provided handler, or -EOPNOTSUPP.
template <unsigned Nr>
int prime_row(device_base& dev, file_base& f, void* kdata) {
    ioctl_fn fn = provided[Nr].load(std::memory_order_acquire);
    return fn && dev.ops().objects ? fn(dev, f, kdata) : -EOPNOTSUPP;
}
/// A syncobj row: -EOPNOTSUPP without the driver's feature (drm_core_check_feature), as in
/// every drm_syncobj_*_ioctl; timeline rows need DRIVER_SYNCOBJ_TIMELINE too.
template <unsigned Nr, bool Timeline>
int syncobj_row(device_base& dev, file_base& f, void* kdata) {
    ioctl_fn fn = provided[Nr].load(std::memory_order_acquire);
    const unsigned need = Timeline ? driver_feature::syncobj | driver_feature::syncobj_timeline : driver_feature::syncobj;
    return fn && (dev.ops().features & need) == need ? fn(dev, f, kdata) : -EOPNOTSUPP;
}

inline int get_cap(device_base& dev, file_base&, void* kdata) {
    auto& c = *static_cast<accel_get_cap*>(kdata);
    c.value = 0;
    switch (c.capability) {
    case ACCEL_CAP_TIMESTAMP_MONOTONIC:
        c.value = 1;
        return 0;
    case ACCEL_CAP_PRIME:
        c.value = prime_available(dev) ? ACCEL_PRIME_CAP_IMPORT | ACCEL_PRIME_CAP_EXPORT : 0;
        return 0;
    case ACCEL_CAP_SYNCOBJ: // without DRIVER_SYNCOBJ the feature bit reads 0, as in drm_getcap
        c.value = syncobj_available(dev, false) ? 1 : 0;
        return 0;
    case ACCEL_CAP_SYNCOBJ_TIMELINE:
        c.value = syncobj_available(dev, true) ? 1 : 0;
        return 0;
    default:
        return -EOPNOTSUPP; // every other capability needs KMS, which accel nodes never have
    }
}

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
    auto set = [&](ioctl_cmd cmd, unsigned flags, ioctl_fn fn, std::string_view name, int fd_field = -1) {
        t[ioc_nr(cmd)] = ioctl_slot{cmd, flags, fn, name, fd_field};
    };
    set(ACCEL_IOCTL_VERSION, render_allow | monitor, &version, "VERSION");
    set(ACCEL_IOCTL_GEM_CLOSE, render_allow, &gem_close, "GEM_CLOSE");
    set(ACCEL_IOCTL_GET_CAP, render_allow | monitor, &get_cap, "GET_CAP");
    set(_IOW(ACCEL_IOCTL_BASE, 0x0d, accel_set_client_cap), monitor, &not_supported, "SET_CLIENT_CAP");
    set(ACCEL_IOCTL_PRIME_HANDLE_TO_FD, render_allow, &prime_row<0x2d>, "PRIME_HANDLE_TO_FD",
        static_cast<int>(offsetof(accel_prime_handle, fd)));
    set(ACCEL_IOCTL_PRIME_FD_TO_HANDLE, render_allow, &prime_row<0x2e>, "PRIME_FD_TO_HANDLE");
    set(ACCEL_IOCTL_SET_CLIENT_NAME, render_allow | monitor, &set_client_name, "SET_CLIENT_NAME");
    // drm_ioctls[]'s syncobj rows (DRM_RENDER_ALLOW), with the current kernel's argument sizes
    // (wait and timeline wait carry deadline_nsec); the size rules admit older, shorter ones.
    auto syncobj = [&](unsigned nr, unsigned size, ioctl_fn fn, std::string_view name, int fd_field = -1) {
        set(static_cast<ioctl_cmd>(_IOC(_IOC_READ | _IOC_WRITE, ACCEL_IOCTL_BASE, nr, size)), render_allow, fn, name, fd_field);
    };
    syncobj(0xBF, 8, &syncobj_row<0xBF, false>, "SYNCOBJ_CREATE");
    syncobj(0xC0, 8, &syncobj_row<0xC0, false>, "SYNCOBJ_DESTROY");
    // drm_syncobj_handle {u32 handle; u32 flags; s32 fd; u32 pad; u64 point}: the fd at 8; 24
    // bytes since `point` came (timeline import/export), older callers send the first 16
    syncobj(0xC1, 24, &syncobj_row<0xC1, false>, "SYNCOBJ_HANDLE_TO_FD", 8);
    syncobj(0xC2, 24, &syncobj_row<0xC2, false>, "SYNCOBJ_FD_TO_HANDLE");
    syncobj(0xC3, 40, &syncobj_row<0xC3, false>, "SYNCOBJ_WAIT");
    syncobj(0xC4, 16, &syncobj_row<0xC4, false>, "SYNCOBJ_RESET");
    syncobj(0xC5, 16, &syncobj_row<0xC5, false>, "SYNCOBJ_SIGNAL");
    syncobj(0xCA, 48, &syncobj_row<0xCA, true>, "SYNCOBJ_TIMELINE_WAIT");
    syncobj(0xCB, 24, &syncobj_row<0xCB, true>, "SYNCOBJ_QUERY");
    syncobj(0xCC, 32, &syncobj_row<0xCC, true>, "SYNCOBJ_TRANSFER");
    syncobj(0xCD, 24, &syncobj_row<0xCD, true>, "SYNCOBJ_TIMELINE_SIGNAL");
    syncobj(0xCF, 24, &syncobj_row<0xCF, true>, "SYNCOBJ_EVENTFD");
    return t;
}();

} // namespace core_ioctl
} // namespace accel

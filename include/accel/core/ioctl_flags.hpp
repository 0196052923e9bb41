// SPDX-License-Identifier: MIT
#pragma once
/// \file Permission flags of an ioctl-table entry.
///
/// The DRM values, with the meaning they have on an accel node (KERNEL.md section 2): there is
/// no DRM master on accel, so MASTER ioctls always fail with -EACCES; a file is authenticated
/// only if its opener was privileged, so AUTH ioctls need a privileged opener; ROOT_ONLY needs a
/// privileged caller. `monitor` is accel's own: the ioctl may be issued on the monitor node.
namespace accel::ioctl_flags {
inline constexpr unsigned none = 0;
inline constexpr unsigned auth = 1u << 0;         // DRM_AUTH
inline constexpr unsigned master = 1u << 1;       // DRM_MASTER
inline constexpr unsigned root_only = 1u << 2;    // DRM_ROOT_ONLY
inline constexpr unsigned render_allow = 1u << 5; // DRM_RENDER_ALLOW (no effect on accel nodes)
inline constexpr unsigned monitor = 1u << 8;      // allowed on accel_controlD<N>
inline constexpr unsigned known = auth | master | root_only | render_allow | monitor;
} // namespace accel::ioctl_flags

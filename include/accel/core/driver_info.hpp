// SPDX-License-Identifier: MIT
#pragma once
/// \file A driver's identity, as DRM_IOCTL_VERSION and the INFO identity item report it.
#include <string_view>

namespace accel {

struct driver_info {
    int major = 0;
    int minor = 0;
    int patchlevel = 0;
    std::string_view name;
    std::string_view desc;
    /// The kernel reports "0" since driver dates were deprecated; user space expects non-empty.
    std::string_view date = "0";
};

/// Which node of a device a file was opened on.
enum class node_kind : unsigned char {
    compute, ///< accel/accel<N>: the driver's full ioctl set
    monitor, ///< accel/accel_controlD<N>: any number of opens, only ioctls flagged `monitor`
};

} // namespace accel

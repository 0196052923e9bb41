// SPDX-License-Identifier: MIT
#pragma once
/// \file Decoding ioctl request numbers (the _IOC layout of <linux/ioctl.h>) at compile time.
#include <accel/uapi/accel_drm.h>

#include <cstdint>

namespace accel {

/// An ioctl request number as user space passes it: direction, size, type byte and number.
using ioctl_cmd = std::uint32_t;

constexpr std::uint32_t ioc_nr(ioctl_cmd cmd) noexcept { return (cmd >> _IOC_NRSHIFT) & _IOC_NRMASK; }
constexpr std::uint32_t ioc_type(ioctl_cmd cmd) noexcept { return (cmd >> _IOC_TYPESHIFT) & _IOC_TYPEMASK; }
constexpr std::uint32_t ioc_size(ioctl_cmd cmd) noexcept { return (cmd >> _IOC_SIZESHIFT) & _IOC_SIZEMASK; }
constexpr std::uint32_t ioc_dir(ioctl_cmd cmd) noexcept { return (cmd >> _IOC_DIRSHIFT) & _IOC_DIRMASK; }
/// IOC_IN / IOC_OUT as bits of the whole request number, as drm_ioctl tests them.
constexpr ioctl_cmd ioc_in_bit = static_cast<ioctl_cmd>(_IOC_WRITE) << _IOC_DIRSHIFT;
constexpr ioctl_cmd ioc_out_bit = static_cast<ioctl_cmd>(_IOC_READ) << _IOC_DIRSHIFT;

constexpr bool is_driver_nr(std::uint32_t nr) noexcept { return nr >= ACCEL_COMMAND_BASE && nr < ACCEL_COMMAND_END; }

} // namespace accel

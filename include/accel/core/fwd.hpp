// SPDX-License-Identifier: MIT
#pragma once
/// \file Forward declarations of the core types.
namespace accel {
class device_base;
class file_base;
class subsystem;
class registration;
template <class D>
class device;
template <class D>
class file;
} // namespace accel

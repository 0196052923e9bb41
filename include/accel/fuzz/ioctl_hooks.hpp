// SPDX-License-Identifier: MIT
#pragma once
/// \file What a driver may tell the ioctl harness (fuzz/ioctl_harness.hpp): a hooks type with
/// static members, usually derived from default_ioctl_hooks<D> overriding only what it needs.
///
///   devices              how many devices of the driver the program may open (1..4)
///   create_device(i)     builds device i: a driver that needs firmware, a config or a platform
///                        device sets it up here (default: device<D>::create())
///   prepare(cmd, arg, n) adjusts an argument just before the call - the place to clamp an
///                        absolute wait deadline so a fuzzed wait cannot block for hours (the
///                        harness already clamps the core syncobj waits)
///   result_allowed(cmd, r) a result other than 0 / -errno this command may give (a count)
///   settle(dev)          after the files closed: wait (bounded) for asynchronous work the
///                        driver still has - jobs finishing, fences signalling
///   check_idle(dev)      then: driver state that must be gone (VA mappings, jobs in flight,
///                        per-client records); call accel::fuzz::violation() when it is not
#include <accel/core/device.hpp>
#include <accel/core/ioctl_number.hpp>

#include <cstddef>
#include <cstdint>

namespace accel::fuzz {

template <class D>
struct default_ioctl_hooks {
    static constexpr unsigned devices = 1;
    static result<typename device<D>::ref> create_device(unsigned) { return device<D>::create(); }
    static void prepare(ioctl_cmd, std::uint8_t*, std::size_t) noexcept {}
    static bool result_allowed(ioctl_cmd, long) noexcept { return false; }
    static void settle(device<D>&) noexcept {}
    static void check_idle(device<D>&) noexcept {}
};

} // namespace accel::fuzz

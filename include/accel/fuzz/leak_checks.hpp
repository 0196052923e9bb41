// SPDX-License-Identifier: MIT
#pragma once
/// \file What must be gone once a fuzzed program's files are closed, from the counters the
/// library keeps: the mock's descriptors and mappings, each device's open files, mmap offsets
/// (every buffer object has one until it is freed, so this counts live objects) and parked
/// requests, and the subsystem's minors once the devices are unregistered. A driver adds its
/// own (VA mappings, jobs in flight) through its hooks' check_idle.
#include <accel/backend/mock.hpp>
#include <accel/core/device_base.hpp>
#include <accel/core/subsystem.hpp>
#include <accel/fuzz/violation.hpp>

namespace accel::fuzz {

inline void check_nothing_left(const backend::mock& m) {
    if (int n = m.open_descriptors())
        violation("after closing every descriptor: %d still open", n);
    if (std::size_t n = m.mappings())
        violation("after unmapping everything: %zu mappings left", n);
}

inline void check_device_idle(device_base& d) {
    if (unsigned n = d.open_count())
        violation("device %u: %u files still open after every descriptor closed", d.minor(), n);
    if (std::size_t n = d.mmap_offsets().size())
        violation("device %u: %zu buffer objects (mmap offsets) leaked after every file closed", d.minor(), n);
    if (std::size_t n = d.parked().size())
        violation("device %u: %zu parked requests left after every file closed", d.minor(), n);
}

inline void check_minors_free(const subsystem& sub) {
    if (unsigned n = sub.minors_in_use())
        violation("%u minors still held after every device was unregistered and released", n);
}

} // namespace accel::fuzz

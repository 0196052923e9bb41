// SPDX-License-Identifier: MIT
#pragma once
/// \file A file's buffer-object memory, as DRM's fdinfo counts it (drm_show_memory_stats).
///
/// Per file, over the objects its handles name (an object with two handles in the file counts
/// twice, as in drm_show_memory_stats): `total` bytes; `shared` bytes of objects with more
/// than one handle in any file or exported; `resident` bytes the kernel has pages for (all of an
/// object in device memory); `active` bytes of objects busy on an engine (object_extension::busy:
/// unsignalled fences in the reservation object, answered by the sharing layer); `purgeable`
/// is always 0 (accel has no madvise: no object is ever purgeable). Per region or over all of
/// them. fdinfo prints them as drm-total-/drm-shared-/drm-active-/drm-resident-<region>
/// (core/fdinfo.hpp).
#include <accel/core/file_base.hpp>

#include <cstdint>

namespace accel {

/// Every region at once, for memory_stats().
inline constexpr int all_regions = -1;

struct file_memory_stats {
    std::uint64_t handles = 0;
    std::uint64_t total = 0;
    std::uint64_t shared = 0;
    std::uint64_t resident = 0;
    std::uint64_t active = 0;
    std::uint64_t purgeable = 0;
    std::uint64_t active_objects = 0; ///< objects counted in `active` (drm-active is shown when > 0)
};

/// The file's objects in `region` (0: host memory, else the driver's region id), or in all.
inline file_memory_stats memory_stats(const file_base& f, int region = all_regions) {
    file_memory_stats s;
    f.handles().for_each([&](std::uint32_t, const gem_object& o) {
        if (region != all_regions && static_cast<int>(o.region_id()) != region)
            return;
        ++s.handles;
        s.total += o.size();
        if (o.shared())
            s.shared += o.size();
        s.resident += o.resident_bytes();
        if (const object_extension* e = o.extension(); e && e->busy()) {
            s.active += o.resident_bytes();
            ++s.active_objects;
        }
    });
    return s;
}

} // namespace accel

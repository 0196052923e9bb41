// SPDX-License-Identifier: MIT
#pragma once
/// \file Per-object and per-file state of the layers above core (share/: dma-buf, PRIME, later
/// reservation objects and syncobjs), which core stores but cannot name.
///
/// Core keeps one opaque pointer per slot and destroys it with the thing that holds it. It
/// also tells the extensions of the two events only core sees:
///   - a handle of a file is going (handle_released): drm_gem_object_release_handle calls
///     drm_prime_remove_buf_handle, so the file's PRIME cache forgets the handle;
///   - an object's last handle went (handles_gone): drm_gem_object_handle_free drops the
///     object's exported dma-buf, the reference that would otherwise keep the object and its
///     dma-buf alive through each other.
#include <cstdint>

namespace accel {

class gem_object;

/// The sharing layer's state of one buffer object (its exported dma-buf, its import
/// attachment): made on first use (gem_object::extension), destroyed when the object is freed.
struct object_extension {
    virtual ~object_extension() = default;
    /// The object's handle count reached 0 (called once per time it does; a new handle may
    /// come later, through an fd still open).
    virtual void handles_gone(gem_object&) noexcept {}
    /// Whether the object is busy on an engine: its reservation object holds an unsignalled
    /// fence of kernel, write or read usage (drm_show_memory_stats'
    /// `!dma_resv_test_signaled(obj->resv, dma_resv_usage_rw(true))`), what fdinfo counts as
    /// drm-active-<region>. Core cannot see reservation objects; the sharing layer, which owns
    /// them, answers. An object without an extension has no fences, so it is idle.
    virtual bool busy() const noexcept { return false; }
};

/// Per-file state of a layer above core (share/: the PRIME import cache, the syncobj handle
/// table). Made on first use (file_base::extension); destroyed at close after the file's
/// handles are released (so a handle's release may still reach it) and before the driver's
/// postclose, last slot first.
struct file_extension {
    virtual ~file_extension() = default;
    /// Handle `handle` of the file, naming `obj`, is going (GEM_CLOSE or the file's close),
    /// after the driver's per-handle close and before the handle's reference is dropped.
    virtual void handle_released(std::uint32_t /*handle*/, gem_object& /*obj*/) noexcept {}
};
enum class file_extension_slot : unsigned { prime, syncobj, count };

} // namespace accel

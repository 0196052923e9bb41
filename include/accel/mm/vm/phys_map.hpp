// SPDX-License-Identifier: MIT
#pragma once
/// \file `phys_map`: the device's physical address space, as the software "DMA" engine sees it.
///
/// A page-table walk ends at a device physical address; to touch the bytes, software needs the
/// host memory behind it. The map holds non-overlapping windows: device memory regions (their
/// host backing) and host windows (host memory the device reaches at some physical address, as
/// system RAM behind an IOMMU or a PCIe BAR). resolve(pa, len) answers with the host pointer, or
/// null when any byte is outside every window or the range straddles two windows (they need
/// not be contiguous on the host). Lookups are a binary search over a sorted vector: the set of
/// windows changes rarely, translations are frequent.
#include <accel/mm/device_memory.hpp>
#include <accel/mm/range.hpp>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <vector>

namespace accel::mm::vm {

class phys_map {
public:
    /// Adds a window. -EINVAL: size 0, wrapping past 2^64, or null host memory; -EEXIST: it
    /// overlaps a window already present.
    int add(u64 base, u64 size, std::byte* host) {
        if (size == 0 || !host || base + (size - 1) < base)
            return -EINVAL;
        auto it = std::upper_bound(windows_.begin(), windows_.end(), base,
                                   [](u64 a, const phys_window& w) { return a < w.base; });
        if (it != windows_.end() && it->base <= base + (size - 1))
            return -EEXIST;
        if (it != windows_.begin() && last_of(*(it - 1)) >= base)
            return -EEXIST;
        windows_.insert(it, phys_window{base, size, host});
        return 0;
    }
    int add(const phys_window& w) { return add(w.base, w.size, w.host); }
    /// Adds a device memory region's backing (anything with window()).
    template <class Region>
    int add_region(const Region& r) {
        return add(r.window());
    }

    /// Removes the window starting exactly at `base`; -ENOENT when there is none.
    int remove(u64 base) {
        auto it = std::lower_bound(windows_.begin(), windows_.end(), base,
                                   [](const phys_window& w, u64 a) { return w.base < a; });
        if (it == windows_.end() || it->base != base)
            return -ENOENT;
        windows_.erase(it);
        return 0;
    }

    /// Host memory behind physical [pa, pa + len), or null (outside, straddling; len 0 asks
    /// about `pa` alone).
    std::byte* resolve(u64 pa, u64 len) const noexcept {
        auto it = std::upper_bound(windows_.begin(), windows_.end(), pa,
                                   [](u64 a, const phys_window& w) { return a < w.base; });
        if (it == windows_.begin())
            return nullptr;
        const phys_window& w = *(it - 1);
        const u64 off = pa - w.base;
        if (off > w.size - 1 || len > w.size - off)
            return nullptr;
        return w.host + off;
    }

    const std::vector<phys_window>& windows() const noexcept { return windows_; }

private:
    static u64 last_of(const phys_window& w) noexcept { return w.base + (w.size - 1); }
    std::vector<phys_window> windows_; // sorted by base, disjoint
};

} // namespace accel::mm::vm

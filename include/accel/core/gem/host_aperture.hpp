// SPDX-License-Identifier: MIT
#pragma once
/// \file `host_aperture`: host-memory buffer objects made reachable by the device (userptr).
///
/// A device reaches host memory at some device physical ("bus") address, behind an IOMMU or a
/// PCIe window. The aperture is that range of bus addresses; pin(obj) gives a host buffer
/// object a place in it and registers the object's memory in the device's phys_map, so page
/// tables can map device VAs onto it and the software walker can "DMA" to it. This is the
/// habanalabs userptr case modelled safely: the device never sees a raw client pointer, and
/// the pin holds a reference to the object, so its memory stays while the device may touch it
/// (pin_user_pages' role), whatever the client does with its handle in the meantime.
///
/// `bo_pin` is the owning result: destroying it (after the driver has unmapped the VA range and
/// invalidated its TLB) removes the window and drops the reference. Not thread-safe: the
/// aperture and the phys_map are the driver's, under its VM lock.
#include <accel/base/errno.hpp>
#include <accel/core/gem/object.hpp>
#include <accel/mm/range.hpp>
#include <accel/mm/range_allocator.hpp>
#include <accel/mm/range_manager.hpp>
#include <accel/mm/vm/phys_map.hpp>

#include <cerrno>
#include <cstdint>
#include <utility>

namespace accel {

template <mm::range_manager Policy>
class host_aperture;

/// A host object pinned at a bus address (move-only; releases on destruction).
template <mm::range_manager Policy>
class bo_pin {
public:
    bo_pin() noexcept = default;
    bo_pin(bo_pin&& o) noexcept
        : aperture_(std::exchange(o.aperture_, nullptr)), map_(std::exchange(o.map_, nullptr)), obj_(std::move(o.obj_)),
          id_(o.id_), bus_(o.bus_) {}
    bo_pin& operator=(bo_pin&& o) noexcept {
        if (this != &o) {
            reset();
            aperture_ = std::exchange(o.aperture_, nullptr);
            map_ = std::exchange(o.map_, nullptr);
            obj_ = std::move(o.obj_);
            id_ = o.id_;
            bus_ = o.bus_;
        }
        return *this;
    }
    ~bo_pin() { reset(); }

    /// The bus address where the device reaches the object's first byte.
    std::uint64_t bus_address() const noexcept { return bus_; }
    std::uint64_t size() const noexcept { return obj_ ? obj_->size() : 0; }
    gem_object* object() const noexcept { return obj_.get(); }

    void reset() noexcept {
        if (!obj_)
            return;
        map_->remove(bus_);
        aperture_->ranges_.free(id_);
        obj_.reset();
        aperture_ = nullptr;
        map_ = nullptr;
    }

private:
    friend class host_aperture<Policy>;
    host_aperture<Policy>* aperture_ = nullptr;
    mm::vm::phys_map* map_ = nullptr;
    gem_ref obj_;
    typename mm::range_allocator<Policy>::id_type id_ = 0;
    std::uint64_t bus_ = 0;
};

template <mm::range_manager Policy>
class host_aperture {
public:
    /// Bus addresses [base, base + size). -EINVAL for an empty or wrapping range, -ENOMEM.
    int init(std::uint64_t base, std::uint64_t size) {
        total_ = size;
        return ranges_.init(base, size);
    }

    /// Pins a host-memory object (not one in a device region: that one has its own device
    /// address) into `map`, aligned to `alignment` (at least a page). -EINVAL (device-memory
    /// object, or its CPU view cannot be mapped), -ENOSPC (aperture full), -ENOMEM.
    result<bo_pin<Policy>> pin(gem_object& obj, mm::vm::phys_map& map, std::uint64_t alignment = 0) {
        using out = result<bo_pin<Policy>>;
        std::byte* cpu = obj.vaddr();
        if (obj.region_id() != 0 || !cpu)
            return out::failure(obj.region_id() != 0 ? -EINVAL : -ENOMEM);
        const std::uint64_t page = host_page_size();
        auto id = ranges_.alloc(mm::alloc_request{.size = obj.size(), .alignment = alignment > page ? alignment : page});
        if (!id)
            return out::failure(id.error());
        const std::uint64_t bus = ranges_.get(*id).start;
        if (int e = map.add(bus, obj.size(), cpu)) {
            ranges_.free(*id);
            return out::failure(e == -EEXIST ? -ENOSPC : e); // someone else's window in our range
        }
        bo_pin<Policy> p;
        p.aperture_ = this;
        p.map_ = &map;
        p.obj_ = gem_ref(&obj);
        p.id_ = *id;
        p.bus_ = bus;
        return out(std::move(p));
    }

    /// Bus bytes in use.
    std::uint64_t used() const { return total_ - ranges_.stats().free_bytes; }

private:
    friend class bo_pin<Policy>;
    mm::range_allocator<Policy> ranges_;
    std::uint64_t total_ = 0;
};

} // namespace accel

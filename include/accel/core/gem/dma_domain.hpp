// SPDX-License-Identifier: MIT
#pragma once
/// \file How a device reaches host memory: its DMA domain (the kernel's dma_map_sg behind an
/// IOMMU or a bus window), and the scatter list a mapping is described by.
///
/// An exporter describes a buffer's memory as host-address ranges (the CPU's view, the
/// identity domain); an importing device maps those through its own domain to the addresses
/// it programs (page tables, DMA descriptors). The default is the identity (a device that
/// reaches host memory at its CPU address); a driver declares
///   static accel::dma_domain& dma_domain(accel::device<D>&);
/// to remap per device, e.g. through its own window of bus addresses (core/driver.hpp).
#include <accel/base/errno.hpp>

#include <cstdint>
#include <span>
#include <vector>

namespace accel {

/// One contiguous piece of a mapping (a scatterlist entry after dma_map: address, length).
struct dma_range {
    std::uint64_t address = 0;
    std::uint64_t length = 0;
    friend bool operator==(const dma_range&, const dma_range&) = default;
};
/// A whole mapping (an sg_table): the pieces in buffer order.
using dma_ranges = std::vector<dma_range>;

/// enum dma_data_direction.
enum class dma_direction : unsigned { bidirectional = 0, to_device = 1, from_device = 2, none = 3 };

class dma_domain {
public:
    /// The device's addresses for the host ranges `cpu` (same pieces, same lengths, or merged
    /// pieces covering the same bytes in order), or -ENOMEM / -ENOSPC when the domain has no
    /// room. A failure maps nothing.
    virtual result<dma_ranges> map(std::span<const dma_range> cpu, dma_direction dir) = 0;
    /// Gives back what map() returned.
    virtual void unmap(std::span<const dma_range> mapped, dma_direction dir) noexcept = 0;

protected:
    ~dma_domain() = default;
};

/// The identity domain: the device sees host memory at its CPU addresses.
class identity_dma_domain final : public dma_domain {
public:
    result<dma_ranges> map(std::span<const dma_range> cpu, dma_direction) override {
        try {
            return dma_ranges(cpu.begin(), cpu.end());
        } catch (...) {
            return result<dma_ranges>::failure(-ENOMEM);
        }
    }
    void unmap(std::span<const dma_range>, dma_direction) noexcept override {}

    static identity_dma_domain& instance() noexcept {
        static identity_dma_domain d;
        return d;
    }
};

} // namespace accel

// SPDX-License-Identifier: MIT
#pragma once
// vdnn's memory: on-chip SRAM and device DRAM (buffer-object regions over best-fit range
// policies), a small region for page tables, the host aperture through which the engines reach
// host buffer objects, and the physical map the MMU walker resolves addresses with.
//
// Device physical address map (what BO_INFO's device_addr and the page tables hold):
//   0x0010_0000_0000 .. +4 MiB     SRAM      (region 1)
//   0x0020_0000_0000 .. +64 MiB    DRAM      (region 2)
//   0x0030_0000_0000 .. +8 MiB     page tables (not for buffer objects)
//   0x0100_0000_0000 .. +64 GiB    host aperture: host BOs pinned while bound
// One MMU lock (shared_mutex) covers the page-table region, the aperture and the physical map:
// binds take it exclusively, the engines take it shared while they translate and copy.
#include "vdnn_vm.hpp"

#include <accel/accel.hpp>

#include <cstdint>
#include <shared_mutex>

namespace vdnn {

struct memory_layout {
    static constexpr std::uint64_t sram_base = 0x0010'0000'0000ull, sram_size = 4ull << 20;
    static constexpr std::uint64_t dram_base = 0x0020'0000'0000ull, dram_size = 64ull << 20;
    static constexpr std::uint64_t pt_base = 0x0030'0000'0000ull, pt_size = 8ull << 20;
    static constexpr std::uint64_t aperture_base = 0x0100'0000'0000ull, aperture_size = 64ull << 30;
    /// Every file's device VA space: [va_start, va_start + va_size).
    static constexpr std::uint64_t va_start = 1ull << 20, va_size = (1ull << 40) - (1ull << 20);
};

class device_memory {
public:
    static constexpr unsigned host_region = 0, sram_region = 1, dram_region = 2;

    /// -errno when a region cannot be set up (the device's probe fails with it).
    int init() {
        using L = memory_layout;
        if (int e = sram.init("sram", L::sram_base, L::sram_size, page_size))
            return e;
        if (int e = dram.init("dram", L::dram_base, L::dram_size, page_size))
            return e;
        if (int e = tables.init("page-tables", L::pt_base, L::pt_size, page_size))
            return e;
        if (int e = aperture.init(L::aperture_base, L::aperture_size))
            return e;
        if (int e = phys.add_region(sram.region()))
            return e;
        if (int e = phys.add_region(dram.region()))
            return e;
        return phys.add_region(tables);
    }

    accel::bo_region<accel::mm::best_fit> sram{sram_region};
    accel::bo_region<accel::mm::best_fit> dram{dram_region};
    pt_region tables;
    bus_aperture aperture;
    accel::mm::vm::phys_map phys;
    /// Binds (exclusive) against engine walks (shared).
    mutable std::shared_mutex mmu_lock;
};

} // namespace vdnn

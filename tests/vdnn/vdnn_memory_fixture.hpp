// SPDX-License-Identifier: MIT
#pragma once
// Device memory for running vdnn engines in tests and benchmarks: a DRAM region, a 4 KiB-page
// LPAE page table kept in its own region, and the physical map the engine resolves through;
// buffers bound at chosen VAs whose pages are physically contiguous or scattered (so that
// gathering and scattering run), and windows of host memory at a physical address. No doctest
// here: the benchmarks use it too.
#include "vdnn_mmu.hpp"

#include <accel/mm/device_memory.hpp>
#include <accel/mm/range/best_fit.hpp>
#include <accel/mm/vm/lpae_formats.hpp>
#include <accel/mm/vm/page_table.hpp>
#include <accel/mm/vm/phys_map.hpp>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <new>
#include <random>
#include <stdexcept>
#include <vector>

namespace vdnn::test {

using region = accel::mm::device_memory_region<accel::mm::best_fit>;
using page_table = accel::mm::vm::page_table<accel::mm::vm::lpae_4k, region>;
using mmu_type = page_table_mmu<page_table>;

inline constexpr u64 page = 4096;
inline constexpr u64 dram_base = 0x1'0000'0000;

inline void require(int e, const char* what) {
    if (e != 0)
        throw std::runtime_error(what);
}

struct device_memory {
    region dram, pt_mem;
    page_table pt;
    accel::mm::vm::phys_map phys;
    mmu_type mmu{pt};

    explicit device_memory(u64 dram_bytes = u64{64} << 20) {
        require(dram.init("dram", dram_base, dram_bytes, page), "dram init");
        require(pt_mem.init("pt", 0x8000'0000, u64{8} << 20, page), "page-table region init");
        require(pt.init(pt_mem), "page table init");
        require(phys.add_region(dram), "phys map");
    }
    device_memory(const device_memory&) = delete;
    device_memory& operator=(const device_memory&) = delete;
};

enum class layout { contiguous, scattered };

/// A buffer bound at [va, va + size): its pages' host memory, in VA order.
struct buffer {
    std::vector<region::allocation> mem;
    std::vector<std::byte*> pages;
    std::vector<u64> pas; ///< each page's device physical address
    u64 va = 0;
    u64 size = 0;  ///< bytes bound (whole pages)
    u64 bytes = 0; ///< bytes asked for

    void write(u64 off, const void* src, u64 len) {
        const auto* s = static_cast<const std::byte*>(src);
        for (u64 done = 0; done < len;) {
            const u64 at = off + done, n = std::min(len - done, page - at % page);
            std::memcpy(pages[at / page] + at % page, s + done, n);
            done += n;
        }
    }
    void read(u64 off, void* dst, u64 len) const {
        auto* d = static_cast<std::byte*>(dst);
        for (u64 done = 0; done < len;) {
            const u64 at = off + done, n = std::min(len - done, page - at % page);
            std::memcpy(d + done, pages[at / page] + at % page, n);
            done += n;
        }
    }
    template <class T>
    std::vector<T> read_all() const {
        std::vector<T> v(bytes / sizeof(T));
        read(0, v.data(), v.size() * sizeof(T));
        return v;
    }
    template <class T>
    void write_all(const std::vector<T>& v, u64 off = 0) {
        write(off, v.data(), v.size() * sizeof(T));
    }
};

/// Allocates `bytes` (rounded up to pages) of DRAM and binds it at `va` with `perms`.
/// Scattered: each page its own allocation, no two VA-adjacent pages physically adjacent.
inline buffer make_buffer(device_memory& d, u64 va, u64 bytes, layout how, vm_perm perms, std::mt19937_64& rng) {
    buffer b;
    b.va = va;
    b.bytes = bytes;
    b.size = (bytes + page - 1) / page * page;
    const u64 n = b.size / page;
    if (how == layout::contiguous) {
        auto a = d.dram.allocate({.size = b.size});
        require(a.error(), "dram allocation");
        require(d.pt.map(va, a->addr(), b.size, perms), "map");
        for (u64 i = 0; i < n; ++i) {
            b.pages.push_back(a->host() + i * page);
            b.pas.push_back(a->addr() + i * page);
        }
        b.mem.push_back(std::move(*a));
        return b;
    }
    // Twice the pages, a random half of them in random order: adjacent VA pages end up
    // physically adjacent only by chance, and those pairs are broken up below.
    std::vector<region::allocation> pool;
    for (u64 i = 0; i < 2 * n; ++i) {
        auto a = d.dram.allocate({.size = page});
        require(a.error(), "dram allocation");
        pool.push_back(std::move(*a));
    }
    auto adjacent = [&] {
        for (u64 i = 1; i < n; ++i)
            if (pool[i].addr() == pool[i - 1].addr() + page)
                return true;
        return false;
    };
    do
        std::shuffle(pool.begin(), pool.end(), rng);
    while (adjacent());
    pool.resize(n);
    for (u64 i = 0; i < n; ++i) {
        require(d.pt.map(va + i * page, pool[i].addr(), page, perms), "map");
        b.pages.push_back(pool[i].host());
        b.pas.push_back(pool[i].addr());
    }
    b.mem = std::move(pool);
    return b;
}

/// Binds the pages of `b` a second time, at `va` with `perms` (two VAs, one memory).
inline void alias(device_memory& d, const buffer& b, u64 va, vm_perm perms) {
    for (std::size_t i = 0; i < b.pas.size(); ++i)
        require(d.pt.map(va + i * page, b.pas[i], page, perms), "map");
}

/// Host memory the device reaches at physical address `pa` (system RAM behind an IOMMU),
/// `skew` bytes past a page boundary on the host (misaligned host memory for the engine).
struct host_window {
    std::byte* storage = nullptr;
    std::byte* host = nullptr;
    u64 pa = 0, size = 0;

    host_window(device_memory& d, u64 pa_, u64 size_, std::size_t skew = 0) : pa(pa_), size(size_) {
        storage = static_cast<std::byte*>(::operator new(size + page, std::align_val_t{page}));
        host = storage + skew;
        std::memset(storage, 0, size + page);
        require(d.phys.add(pa, size, host), "host window");
    }
    ~host_window() { ::operator delete(storage, std::align_val_t{page}); }
    host_window(const host_window&) = delete;
    host_window& operator=(const host_window&) = delete;
};

} // namespace vdnn::test

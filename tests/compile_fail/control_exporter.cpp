// SPDX-License-Identifier: MIT
// Control: a complete dma-buf exporter (map, unmap, release, and optional vmap/vunmap) compiles.
// CF_EXPECT_SUCCESS
#include <accel/share/dma_buf_export.hpp>

struct complete_exporter {
    accel::result<accel::dma_ranges> map(accel::dma_buf_attachment&, accel::dma_direction) { return accel::dma_ranges{}; }
    void unmap(accel::dma_buf_attachment&, accel::dma_ranges&, accel::dma_direction) {}
    void release() {}
    accel::result<std::byte*> vmap() { return accel::result<std::byte*>::failure(-ENOMEM); }
    void vunmap(std::byte*) {}
};

int main() {
    auto buf = accel::dma_buf_export(complete_exporter{}, accel::dma_buf_export_info{"cf", 4096, O_RDWR});
    return buf ? 0 : 1;
}

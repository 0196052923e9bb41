// SPDX-License-Identifier: MIT
// One defect: a dma-buf exporter without `unmap`, which dma_buf_export requires (map_dma_buf,
// unmap_dma_buf and release); the missing operation is named in the error.
// CF_NAME: exporter_without_unmap
// CF_EXPECT: required operation `unmap` is missing
#include <accel/share/dma_buf_export.hpp>

struct exporter_without_unmap {
    accel::result<accel::dma_ranges> map(accel::dma_buf_attachment&, accel::dma_direction) { return accel::dma_ranges{}; }
    void release() {}
};

int main() {
    auto buf = accel::dma_buf_export(exporter_without_unmap{}, accel::dma_buf_export_info{"cf", 4096, O_RDWR});
    return buf ? 0 : 1;
}

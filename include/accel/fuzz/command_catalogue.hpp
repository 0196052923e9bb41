// SPDX-License-Identifier: MIT
#pragma once
/// \file The request numbers a fuzzed program picks from: every row of the driver's ioctl table,
/// every core row (core_ioctl::table: VERSION, GET_CAP, GEM_CLOSE, PRIME, SET_CLIENT_NAME, the
/// syncobj rows), accel's own (info_ioctl::table: INFO, MMAP_PREPARE, RESET, FDINFO,
/// CLEAR_STATS), and the ioctls of the files calls hand out (sync files, dma-bufs). Built from
/// the tables themselves, so a row added to any of them is fuzzed without touching the harness.
#include <accel/core/core_ioctls.hpp>
#include <accel/core/device.hpp>
#include <accel/core/info_ioctl.hpp>
#include <accel/core/ioctl_table.hpp>
#include <accel/share/dma_buf.hpp>
#include <accel/share/sync_file.hpp>

#include <string_view>
#include <vector>

namespace accel::fuzz {

struct command {
    ioctl_cmd cmd = 0;
    std::string_view name;
};

template <class D>
std::vector<command> commands_of() {
    std::vector<command> out;
    for (const ioctl_slot& s : ::accel::detail::driver_dispatch<D, typename D::ioctls>::table)
        if (s.fn)
            out.push_back({s.cmd, s.name});
    for (const ioctl_slot& s : core_ioctl::table)
        if (s.fn)
            out.push_back({s.cmd, s.name});
    for (const ioctl_slot& s : info_ioctl::table)
        if (s.fn)
            out.push_back({s.cmd, s.name});
    out.push_back({SYNC_IOC_MERGE, "SYNC_IOC_MERGE"});
    out.push_back({SYNC_IOC_FILE_INFO, "SYNC_IOC_FILE_INFO"});
    out.push_back({SYNC_IOC_SET_DEADLINE, "SYNC_IOC_SET_DEADLINE"});
    out.push_back({DMA_BUF_IOCTL_SYNC, "DMA_BUF_IOCTL_SYNC"});
    out.push_back({DMA_BUF_SET_NAME_B, "DMA_BUF_SET_NAME"});
    out.push_back({DMA_BUF_IOCTL_EXPORT_SYNC_FILE, "DMA_BUF_IOCTL_EXPORT_SYNC_FILE"});
    out.push_back({DMA_BUF_IOCTL_IMPORT_SYNC_FILE, "DMA_BUF_IOCTL_IMPORT_SYNC_FILE"});
    return out;
}

} // namespace accel::fuzz

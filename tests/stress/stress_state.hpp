// SPDX-License-Identifier: MIT
// What a device's monitor node says about its state, for the invariant checks at the end of a
// stress run (on any backend): open files and state (STATUS), bytes in use per region
// (MEMORY_USAGE), the clients (CLIENTS, with the handles each holds).
#pragma once
#include <accel/uapi/accel_info.h>

#include <fcntl.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace accel::stress {

struct device_view {
    int error = 0; // 0, or the -errno of the open, the INFO call or an item
    accel_info_status status{};
    std::vector<accel_info_memory_use> memory;
    std::vector<accel_info_client> clients;

    std::uint64_t memory_used() const {
        std::uint64_t n = 0;
        for (auto& m : memory)
            n += m.used;
        return n;
    }
    std::string describe() const {
        std::string s = "error " + std::to_string(error) + ", state " + std::to_string(status.state) + ", open files " +
                        std::to_string(status.open_files) + ", memory";
        for (auto& m : memory)
            s += " [" + std::to_string(m.region_id) + "]=" + std::to_string(m.used);
        s += ", clients";
        for (auto& c : clients)
            s += " (id " + std::to_string(c.client_id) + " pid " + std::to_string(c.pid) + " node " + std::to_string(c.node) +
                 " handles " + std::to_string(c.handles) + ")";
        return s;
    }
};

/// Opens `monitor_path` on backend `b`, reads STATUS, MEMORY_USAGE and CLIENTS, closes it (its
/// own file is among the clients and open files).
template <class B>
device_view view_device(B& b, const std::string& monitor_path) {
    device_view v;
    const int fd = b.open(monitor_path, O_RDWR);
    if (fd < 0) {
        v.error = fd;
        return v;
    }
    alignas(8) unsigned char mem[512] = {};
    std::vector<unsigned char> cl(sizeof(accel_info_clients) + 256 * sizeof(accel_info_client));
    accel_info_item items[3] = {
        {ACCEL_INFO_STATUS, static_cast<std::int32_t>(sizeof v.status), 0, 0, reinterpret_cast<std::uintptr_t>(&v.status)},
        {ACCEL_INFO_MEMORY_USAGE, static_cast<std::int32_t>(sizeof mem), 0, 0, reinterpret_cast<std::uintptr_t>(mem)},
        {ACCEL_INFO_CLIENTS, static_cast<std::int32_t>(cl.size()), 0, 0, reinterpret_cast<std::uintptr_t>(cl.data())},
    };
    accel_info q{3, 0, reinterpret_cast<std::uintptr_t>(items)};
    v.error = b.ioctl(fd, ACCEL_IOCTL_INFO, &q);
    for (auto& it : items)
        if (!v.error && it.length < 0)
            v.error = it.length;
    if (!v.error) {
        accel_info_memory_usage mu;
        std::memcpy(&mu, mem, sizeof mu);
        for (std::uint32_t i = 0; i < mu.count && sizeof mu + (i + 1) * sizeof(accel_info_memory_use) <= sizeof mem; ++i) {
            accel_info_memory_use u;
            std::memcpy(&u, mem + sizeof mu + i * sizeof u, sizeof u);
            v.memory.push_back(u);
        }
        accel_info_clients ch;
        std::memcpy(&ch, cl.data(), sizeof ch);
        for (std::uint32_t i = 0; i < ch.count && sizeof ch + (i + 1) * sizeof(accel_info_client) <= cl.size(); ++i) {
            accel_info_client c;
            std::memcpy(&c, cl.data() + sizeof ch + i * sizeof c, sizeof c);
            v.clients.push_back(c);
        }
    }
    b.close(fd);
    return v;
}

/// A device at rest: operational, only the viewer's own file open, no handle held, memory back
/// to `baseline` bytes.
inline bool at_rest(const device_view& v, std::uint64_t baseline) {
    return v.error == 0 && v.status.state == ACCEL_STATE_OPERATIONAL && v.status.open_files == 1 && v.clients.size() == 1 &&
           v.clients[0].handles == 0 && v.memory_used() == baseline;
}

} // namespace accel::stress

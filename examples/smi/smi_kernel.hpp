// SPDX-License-Identifier: MIT
#pragma once
/// \file Kernel accel devices (/dev/accel/accel<N>, drivers/accel/*): they answer VERSION but not
/// accel's INFO (ENOTTY), so accel-smi shows what VERSION gives and, per client, what the kernel
/// publishes in /proc/<pid>/fdinfo/<fd> for every process holding such a node - the same source
/// nvtop and gputop read. A file is one client: several descriptors of one file (dup, fork,
/// SCM_RIGHTS) show the same drm-client-id and are counted once, under the first process found.
/// Processes of other users are visible only to root (ptrace access to /proc/<pid>/fd), as for
/// nvtop; they are skipped silently otherwise.
#include "smi_fdinfo.hpp"
#include "smi_model.hpp"

#include <cstdint>
#include <cstdlib>
#include <dirent.h>
#include <fstream>
#include <iterator>
#include <limits.h>
#include <map>
#include <set>
#include <string>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

namespace accel_smi {

inline std::string read_small_file(const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// Every file open on a character device `rdev`, as (pid, fdinfo) pairs, one per client id.
inline std::vector<std::pair<std::int32_t, fdinfo>> kernel_clients_of(dev_t rdev, const std::string& proc = "/proc") {
    std::vector<std::pair<std::int32_t, fdinfo>> out;
    std::set<std::uint64_t> seen;
    DIR* pd = ::opendir(proc.c_str());
    if (!pd)
        return out;
    while (const dirent* pe = ::readdir(pd)) {
        char* end = nullptr;
        const long pid = std::strtol(pe->d_name, &end, 10);
        if (pid <= 0 || *end != '\0')
            continue;
        const std::string fd_dir = proc + "/" + pe->d_name + "/fd";
        DIR* fd = ::opendir(fd_dir.c_str());
        if (!fd)
            continue; // gone, or another user's process
        while (const dirent* fe = ::readdir(fd)) {
            if (fe->d_name[0] == '.')
                continue;
            struct stat st {};
            if (::stat((fd_dir + "/" + fe->d_name).c_str(), &st) != 0 || !S_ISCHR(st.st_mode) || st.st_rdev != rdev)
                continue;
            fdinfo info = parse_fdinfo(read_small_file(proc + "/" + pe->d_name + "/fdinfo/" + fe->d_name));
            if (info.client_id && !seen.insert(*info.client_id).second)
                continue;
            out.emplace_back(static_cast<std::int32_t>(pid), std::move(info));
        }
        ::closedir(fd);
    }
    ::closedir(pd);
    return out;
}

inline std::string process_comm(std::int32_t pid, const std::string& proc = "/proc") {
    std::string c = read_small_file(proc + "/" + std::to_string(pid) + "/comm");
    while (!c.empty() && c.back() == '\n')
        c.pop_back();
    return c;
}

/// Fills d (a device whose VERSION is known) with its clients from fdinfo, this process's own
/// file left out; engines and memory regions are the union of the keys its clients show (a
/// kernel device lists none itself).
inline void collect_kernel_clients(dev_t rdev, device_info& d, const std::string& proc = "/proc") {
    d.source = "kernel";
    d.clients.emplace();
    std::set<std::string> engines, regions;
    std::map<std::string, std::uint32_t> capacity;
    for (auto& [pid, info] : kernel_clients_of(rdev, proc)) {
        if (pid == ::getpid())
            continue; // accel-smi's own open of the node (for VERSION)
        client_info c;
        c.client_id = info.client_id.value_or(0);
        c.pid = pid;
        c.comm = process_comm(pid, proc);
        c.name = info.client_name;
        c.node = "compute";
        for (const auto& [name, ns] : info.engine_ns) {
            c.engines.push_back(client_engine{name, ns, std::nullopt});
            engines.insert(name);
        }
        for (const auto& [name, n] : info.capacity)
            capacity[name] = static_cast<std::uint32_t>(n);
        for (const auto& [name, r] : info.memory) {
            c.memory.push_back(client_region{name, r.total, r.shared, r.resident, r.active, r.purgeable});
            regions.insert(name);
        }
        d.clients->push_back(std::move(c));
    }
    std::uint32_t id = 0;
    for (const auto& e : engines) {
        auto cap = capacity.find(e);
        d.engines.push_back(engine_info{id++, e, cap != capacity.end() && cap->second ? cap->second : 1, std::nullopt,
                                        std::nullopt});
    }
    id = 0;
    for (const auto& r : regions)
        d.memory.push_back(region_info{id++, r, "unknown", 0, std::nullopt});
    d.notes.push_back("INFO: not supported (a kernel accel device); usage from /proc/<pid>/fdinfo");
}

} // namespace accel_smi

// SPDX-License-Identifier: MIT
#pragma once
/// \file Reading a device through the syscall backend: DRM_IOCTL_VERSION (two passes, lengths
/// then strings, as libdrm's drmGetVersion) and ACCEL_IOCTL_INFO for any set of items (a
/// length-0 call for the sizes, then the fetch), and the snapshot of one accel device built from
/// its items (smi_model.hpp).
///
/// The monitor node is what accel-smi opens (accel_controlD<N>): it answers VERSION and INFO
/// while a compute client holds the device exclusively, and it never reaches a compute client's
/// buffers. Per-item errors are expected and not fatal: an older server answers the monitoring
/// items (CLIENTS, CLIENT_ENGINES, CLIENT_MEMORY, SENSORS) with -EINVAL (unknown id), and a
/// device in reset answers ENGINE_BUSY and SENSORS with -EBUSY; those parts are shown as absent.
#include "smi_model.hpp"

#include <accel/backend/syscall.hpp>
#include <accel/uapi/accel_drm.h>
#include <accel/uapi/accel_info.h>

#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace accel_smi {

inline std::uint64_t user_ptr(const void* p) { return static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(p)); }

inline std::uint64_t monotonic_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<std::uint64_t>(ts.tv_nsec);
}

inline const char* errno_name(int e) {
    switch (e) {
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case EBUSY: return "EBUSY";
    case ENOENT: return "ENOENT";
    case ENODEV: return "ENODEV";
    case ENOTTY: return "ENOTTY";
    case EINVAL: return "EINVAL";
    case EFAULT: return "EFAULT";
    case EIO: return "EIO";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case ENOTCONN: return "ENOTCONN";
    default: return nullptr;
    }
}

/// N of "accel<N>", or -1 for any other name (accel_controlD<N>, accel0x, ...).
inline long compute_minor(std::string_view name) {
    if (!name.starts_with("accel"))
        return -1;
    name.remove_prefix(5);
    if (name.empty() || name.size() > 9 || (name.size() > 1 && name[0] == '0'))
        return -1;
    long n = 0;
    auto [p, ec] = std::from_chars(name.data(), name.data() + name.size(), n);
    return ec == std::errc{} && p == name.data() + name.size() ? n : -1;
}

/// "Permission denied (EACCES)" for e > 0.
inline std::string describe_error(int e) {
    std::string s = std::strerror(e);
    s += " (";
    if (const char* n = errno_name(e))
        s += n;
    else
        s += "errno " + std::to_string(e);
    s += ")";
    return s;
}

struct version_info {
    int major = 0, minor = 0, patchlevel = 0;
    std::string name, date, desc;
};

inline int query_version(const accel::backend::syscall& sys, int fd, version_info& out) {
    accel_version v{};
    if (int e = sys.ioctl(fd, ACCEL_IOCTL_VERSION, &v); e < 0)
        return e;
    constexpr std::uint64_t max_len = 4096; // a device reporting absurd lengths
    out.name.assign(std::min<std::uint64_t>(v.name_len, max_len), '\0');
    out.date.assign(std::min<std::uint64_t>(v.date_len, max_len), '\0');
    out.desc.assign(std::min<std::uint64_t>(v.desc_len, max_len), '\0');
    v.name_len = out.name.size();
    v.name = user_ptr(out.name.data());
    v.date_len = out.date.size();
    v.date = user_ptr(out.date.data());
    v.desc_len = out.desc.size();
    v.desc = user_ptr(out.desc.data());
    if (int e = sys.ioctl(fd, ACCEL_IOCTL_VERSION, &v); e < 0)
        return e;
    out.major = v.version_major;
    out.minor = v.version_minor;
    out.patchlevel = v.version_patchlevel;
    // The strings may have been shorter the second time; cut at the first NUL.
    for (std::string* s : {&out.name, &out.date, &out.desc})
        s->resize(strnlen(s->data(), s->size()));
    return 0;
}

/// One item's answer: data, or error (-errno for this item).
struct info_answer {
    int error = 0;
    std::vector<unsigned char> data;

    template <class T>
    bool read(std::size_t off, T& v) const {
        if (error || data.size() < off || data.size() - off < sizeof(T))
            return false;
        std::memcpy(&v, data.data() + off, sizeof(T));
        return true;
    }
    /// A list item (header {count, pad} then count Elems); false when malformed or absent.
    template <class Elem>
    bool list(std::vector<Elem>& out) const {
        std::uint32_t header[2] = {};
        if (!read(0, header))
            return false;
        out.assign(header[0], Elem{});
        for (std::uint32_t i = 0; i < header[0]; ++i)
            if (!read(sizeof header + std::size_t{i} * sizeof(Elem), out[i]))
                return false;
        return true;
    }
};

/// ACCEL_IOCTL_INFO for `ids`: 0 with per-item answers, or the ioctl's -errno (-ENOTTY: the
/// device does not speak INFO, e.g. a kernel accel node). A dynamic list that grew between the
/// sizing and the fetch is asked again (a few times).
inline int query_info(const accel::backend::syscall& sys, int fd, const std::vector<std::uint32_t>& ids,
                      std::map<std::uint32_t, info_answer>& out) {
    std::vector<accel_info_item> items(ids.size());
    accel_info req{};
    req.num_items = static_cast<__u32>(ids.size());
    req.items = user_ptr(items.data());
    for (int attempt = 0; attempt < 4; ++attempt) {
        for (std::size_t i = 0; i < ids.size(); ++i)
            items[i] = accel_info_item{ids[i], 0, 0, 0, 0};
        if (int e = sys.ioctl(fd, ACCEL_IOCTL_INFO, &req); e < 0)
            return e;
        out.clear();
        for (std::size_t i = 0; i < ids.size(); ++i) {
            info_answer& a = out[ids[i]];
            if (items[i].length < 0)
                a.error = items[i].length;
            else
                a.data.resize(static_cast<std::size_t>(items[i].length) + 64 * sizeof(accel_info_client_memory));
            // (room for a list that grows a little in between)
            items[i].length = a.error ? 0 : static_cast<__s32>(a.data.size());
            items[i].data = a.error ? 0 : user_ptr(a.data.data());
        }
        if (int e = sys.ioctl(fd, ACCEL_IOCTL_INFO, &req); e < 0)
            return e;
        bool grew = false;
        for (std::size_t i = 0; i < ids.size(); ++i) {
            info_answer& a = out[ids[i]];
            if (a.error)
                continue;
            if (items[i].length < 0) {
                a.error = items[i].length;
                // -EINVAL on the fetch of an item that sized fine: the list outgrew the room.
                grew = grew || items[i].length == -EINVAL;
            } else {
                a.data.resize(static_cast<std::size_t>(items[i].length));
            }
        }
        if (!grew)
            return 0;
    }
    return 0;
}

template <std::size_t N>
std::string c_name(const char (&s)[N]) {
    return std::string(s, strnlen(s, N));
}

/// The snapshot of one device through INFO on an open node; -ENOTTY when the node has no INFO.
/// `d.minor` and `d.node` are set by the caller.
inline int collect_info_device(const accel::backend::syscall& sys, int fd, device_info& d) {
    static const std::vector<std::uint32_t> ids = {
        ACCEL_INFO_IDENTITY,       ACCEL_INFO_MEMORY_REGIONS, ACCEL_INFO_ENGINES,       ACCEL_INFO_STATUS,
        ACCEL_INFO_MEMORY_USAGE,   ACCEL_INFO_ENGINE_BUSY,    ACCEL_INFO_CLIENTS,       ACCEL_INFO_CLIENT_ENGINES,
        ACCEL_INFO_CLIENT_MEMORY,  ACCEL_INFO_SENSORS};
    std::map<std::uint32_t, info_answer> a;
    if (int e = query_info(sys, fd, ids, a); e < 0)
        return e;
    d.sampled_ns = monotonic_ns();
    d.source = "info";

    auto note = [&](const char* what, int err) {
        if (err == -EINVAL)
            d.notes.push_back(std::string(what) + ": not supported by this server");
        else if (err == -EBUSY)
            d.notes.push_back(std::string(what) + ": unavailable while the device is not operational");
        else if (err)
            d.notes.push_back(std::string(what) + ": " + describe_error(-err));
        else
            d.notes.push_back(std::string(what) + ": malformed answer");
    };

    accel_info_identity id{};
    if (a[ACCEL_INFO_IDENTITY].read(0, id)) {
        d.driver = c_name(id.name);
        d.desc = c_name(id.desc);
        d.version = std::to_string(id.version_major) + "." + std::to_string(id.version_minor) + "." +
                    std::to_string(id.version_patchlevel);
    } else {
        note("identity", a[ACCEL_INFO_IDENTITY].error);
    }
    const std::uint64_t self = id.client_id; // this tool's own file: not listed as a client

    accel_info_status st{};
    if (a[ACCEL_INFO_STATUS].read(0, st)) {
        d.status = state_name(st.state);
        d.reset_count = st.reset_count;
        d.open_files = st.open_files;
    } else {
        note("status", a[ACCEL_INFO_STATUS].error);
    }

    std::vector<accel_info_memory_region> regions;
    std::vector<accel_info_memory_use> uses;
    if (a[ACCEL_INFO_MEMORY_REGIONS].list(regions)) {
        const bool have_use = a[ACCEL_INFO_MEMORY_USAGE].list(uses);
        for (const auto& r : regions) {
            region_info ri{r.id, c_name(r.name), memory_kind(r.kind), r.size, std::nullopt};
            if (have_use)
                for (const auto& u : uses)
                    if (u.region_id == r.id)
                        ri.used = u.used;
            d.memory.push_back(std::move(ri));
        }
        if (!have_use)
            note("memory usage", a[ACCEL_INFO_MEMORY_USAGE].error);
    } else {
        note("memory regions", a[ACCEL_INFO_MEMORY_REGIONS].error);
    }
    auto region_name = [&](std::uint32_t rid) -> std::string {
        for (const auto& r : d.memory)
            if (r.id == rid)
                return r.name;
        return rid == 0 ? "memory" : "region" + std::to_string(rid); // 0: host memory (fdinfo's "memory")
    };

    std::vector<accel_info_engine> engines;
    std::vector<accel_info_engine_time> busy;
    if (a[ACCEL_INFO_ENGINES].list(engines)) {
        const bool have_busy = a[ACCEL_INFO_ENGINE_BUSY].list(busy);
        for (const auto& e : engines) {
            engine_info ei{e.id, c_name(e.name), e.instances ? e.instances : 1, std::nullopt, std::nullopt};
            if (have_busy)
                for (const auto& b : busy)
                    if (b.engine_id == e.id)
                        ei.busy_ns = b.busy_ns;
            d.engines.push_back(std::move(ei));
        }
        if (!have_busy)
            note("engine busy time", a[ACCEL_INFO_ENGINE_BUSY].error);
    } else {
        note("engines", a[ACCEL_INFO_ENGINES].error);
    }
    auto engine_name = [&](std::uint32_t eid) -> std::string {
        for (const auto& e : d.engines)
            if (e.id == eid)
                return e.name;
        return "engine" + std::to_string(eid);
    };

    std::vector<accel_info_sensor> sensors;
    if (a[ACCEL_INFO_SENSORS].list(sensors)) {
        d.sensors.emplace();
        for (const auto& s : sensors)
            d.sensors->push_back(sensor_info{s.type, s.index, s.value, c_name(s.label)});
    } else {
        note("sensors", a[ACCEL_INFO_SENSORS].error);
    }

    std::vector<accel_info_client> clients;
    if (a[ACCEL_INFO_CLIENTS].list(clients)) {
        std::vector<accel_info_client_engine> ce;
        std::vector<accel_info_client_memory> cm;
        const bool have_ce = a[ACCEL_INFO_CLIENT_ENGINES].list(ce);
        const bool have_cm = a[ACCEL_INFO_CLIENT_MEMORY].list(cm);
        if (!have_ce)
            note("client engines", a[ACCEL_INFO_CLIENT_ENGINES].error);
        if (!have_cm)
            note("client memory", a[ACCEL_INFO_CLIENT_MEMORY].error);
        d.clients.emplace();
        for (const auto& c : clients) {
            if (c.client_id == self)
                continue;
            client_info ci;
            ci.client_id = c.client_id;
            ci.pid = c.pid;
            ci.uid = c.uid;
            ci.comm = c_name(c.comm);
            ci.name = c_name(c.name);
            ci.node = c.node == ACCEL_NODE_MONITOR ? "monitor" : "compute";
            ci.handles = c.handles;
            for (const auto& u : ce)
                if (u.client_id == c.client_id)
                    ci.engines.push_back(client_engine{engine_name(u.engine_id), u.busy_ns, std::nullopt});
            for (const auto& u : cm)
                if (u.client_id == c.client_id)
                    ci.memory.push_back(
                        client_region{region_name(u.region_id), u.total, u.shared, u.resident, u.active, u.purgeable});
            d.clients->push_back(std::move(ci));
        }
    } else {
        note("clients", a[ACCEL_INFO_CLIENTS].error);
    }
    return 0;
}

} // namespace accel_smi

// SPDX-License-Identifier: MIT
#pragma once
/// \file What a device answers to ACCEL_IOCTL_INFO, built from the driver's optional callbacks.
///
/// Fixed information (identity, memory regions, engines, capabilities) and dynamic information
/// (status, memory in use per region, engine busy time). The framework fills what it knows
/// (identity from driver_info, open files, reset count); the rest comes from callbacks a driver
/// may declare, each taking the device:
///   static std::vector<accel_info_memory_region> memory_regions(device<D>&);
///   static std::vector<accel_info_engine>        engines(device<D>&);
///   static accel_info_capabilities               capabilities(device<D>&);
///   static accel_device_state                    state(device<D>&);
///   static std::vector<accel_info_memory_use>    memory_usage(device<D>&);
///   static std::vector<accel_info_engine_time>   engine_busy(device<D>&);
///   static std::vector<accel_info_sensor>        sensors(device<D>&);
///   static void show_fdinfo(file<D>&, std::string& out);  (driver keys, core/fdinfo.hpp)
///   static std::uint64_t engine_clock_hz(device<D>&, std::uint32_t engine_id);  (fdinfo's
///       drm-cycles-/drm-total-cycles- of that engine; 0: no clock, no cycle keys)
/// Without engine_busy, ENGINE_BUSY reports the busy time the schedulers measured
/// (core/engine_clock.hpp). ENGINE_BUSY and STATUS's reset count are reported since the last
/// CLEAR_STATS (core/stats_baseline.hpp).
/// A missing callback answers an empty list, zero capabilities, or the framework's device status
/// (core/device_status.hpp).
///
/// Monitoring items (built by the framework for every driver). On the monitor node they answer
/// for every open file of the device; on the compute node for the caller's own file only
/// (accel's rule: the kernel has no such items, and a monitor node locked down by its mode must
/// not be bypassed through the compute node):
///   CLIENTS         every open file of the device, both nodes, oldest first: client id, the
///                   opener's thread group and command name at open (core/client_process.hpp),
///                   uid, node, handle count, client name
///   CLIENT_ENGINES  per client, one entry per declared engine (then any other engine id its
///                   entities registered), the engine time of its jobs (file_base::engine_time)
///   CLIENT_MEMORY   per client, one entry per region: host memory (0) then each declared
///                   region, the file's objects as fdinfo counts them (core/gem/memory_stats.hpp)
///   SENSORS         the driver's `sensors` hook (driver_ops::sensors), hwmon units
/// ENGINE_BUSY and SENSORS read the hardware: they answer -EBUSY unless the device is
/// OPERATIONAL (STATUS's state, the driver's `state` when it has one), as habanalabs' INFO
/// refuses its hardware opcodes with -EBUSY while the device is not operational. Every other
/// item answers in any state.
#include <accel/core/device_base.hpp>
#include <accel/core/driver_hooks.hpp>
#include <accel/core/fdinfo.hpp>
#include <accel/core/file_base.hpp>
#include <accel/core/fwd.hpp>
#include <accel/core/gem/memory_stats.hpp>
#include <accel/uapi/accel_info.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <concepts>
#include <cstring>
#include <ctime>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace accel::detail {

template <class T>
void append_bytes(std::vector<unsigned char>& out, const T& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    const auto* p = reinterpret_cast<const unsigned char*>(&v);
    out.insert(out.end(), p, p + sizeof(T));
}

/// A header {count, pad} followed by the elements: the layout of every list item.
template <class Elem>
void append_list(std::vector<unsigned char>& out, const std::vector<Elem>& elems) {
    const std::uint32_t header[2] = {static_cast<std::uint32_t>(elems.size()), 0};
    append_bytes(out, header);
    for (const Elem& e : elems)
        append_bytes(out, e);
}

template <std::size_t N>
void copy_name(char (&dst)[N], std::string_view src) noexcept {
    std::size_t n = std::min(src.size(), N - 1);
    std::memcpy(dst, src.data(), n);
    dst[n] = '\0';
}

/// A NUL-padded name field as a string (at most N bytes).
template <std::size_t N>
std::string fixed_name(const char (&name)[N]) {
    std::size_t n = 0;
    while (n < N && name[n] != '\0')
        ++n;
    return std::string(name, n);
}

/// Sums clocks per engine id into `into`, in first-seen order.
template <class Clocks>
void sum_engine_clocks(const Clocks& clocks, std::vector<accel_info_engine_time>& into) {
    clocks.for_each([&](std::uint32_t id, std::uint64_t ns) {
        auto it = std::find_if(into.begin(), into.end(), [&](const auto& b) { return b.engine_id == id; });
        if (it == into.end())
            into.push_back(accel_info_engine_time{id, 0, ns});
        else
            it->busy_ns += ns;
    });
}

/// ENGINE_BUSY before CLEAR_STATS's baseline: the driver's engine_busy, else the schedulers'
/// clocks, one entry per engine id (instances summed).
template <class D>
std::vector<accel_info_engine_time> raw_engine_busy(device<D>& dev) {
    if constexpr (requires { D::engine_busy(dev); }) {
        return D::engine_busy(dev);
    } else {
        std::vector<accel_info_engine_time> busy;
        sum_engine_clocks(dev.engine_time(), busy);
        return busy;
    }
}

/// A file's engine time per declared engine (in declaration order, 0 when it ran nothing
/// there), then per other engine id its entities registered.
inline std::vector<accel_info_engine_time> client_engine_time(const file_base& f,
                                                              const std::vector<accel_info_engine>& engines) {
    std::vector<accel_info_engine_time> t;
    t.reserve(engines.size());
    for (const accel_info_engine& e : engines)
        if (std::none_of(t.begin(), t.end(), [&](const auto& x) { return x.engine_id == e.id; }))
            t.push_back(accel_info_engine_time{e.id, 0, 0});
    sum_engine_clocks(f.engine_time(), t);
    return t;
}

/// Region ids in CLIENT_MEMORY's and fdinfo's order: host memory (0), then each declared one.
inline std::vector<std::uint32_t> region_ids(const std::vector<accel_info_memory_region>& regions) {
    std::vector<std::uint32_t> ids{0};
    for (const accel_info_memory_region& r : regions)
        if (std::find(ids.begin(), ids.end(), r.id) == ids.end())
            ids.push_back(r.id);
    return ids;
}

/// The fdinfo record of file `f` (core/fdinfo.hpp).
template <class D>
fdinfo_record fdinfo_record_of(device<D>& dev, file<D>& f) {
    fdinfo_record r;
    r.driver = D::info.name;
    r.client_id = f.client_id();
    r.client_name = f.client_name();
    const std::vector<accel_info_engine> engines = engines_of(dev);
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    [[maybe_unused]] const std::uint64_t now_ns =
        static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(ts.tv_nsec);
    for (const accel_info_engine_time& t : client_engine_time(f, engines)) {
        fdinfo_engine e;
        e.busy_ns = t.busy_ns;
        auto decl = std::find_if(engines.begin(), engines.end(), [&](const auto& x) { return x.id == t.engine_id; });
        if (decl != engines.end()) {
            e.name = fixed_name(decl->name);
            e.capacity = decl->instances;
        }
        if (e.name.empty())
            e.name = std::to_string(t.engine_id);
        if constexpr (requires { { D::engine_clock_hz(dev, t.engine_id) } -> std::convertible_to<std::uint64_t>; }) {
            e.clock_hz = D::engine_clock_hz(dev, t.engine_id);
            e.now_ns = now_ns;
        }
        r.engines.push_back(std::move(e));
    }
    const std::vector<accel_info_memory_region> regions = regions_of(dev);
    // drm_show_memory_stats' supported mask is file-wide: resident for every region once the
    // file has an object (each reports RESIDENT), for none without one.
    const bool has_objects = f.handles().size() > 0;
    for (std::uint32_t id : region_ids(regions)) {
        const file_memory_stats s = memory_stats(f, static_cast<int>(id));
        fdinfo_region m;
        if (id == 0) {
            m.name = "memory";
        } else {
            for (const accel_info_memory_region& x : regions)
                if (x.id == id) {
                    m.name = fixed_name(x.name);
                    break;
                }
            if (m.name.empty() || m.name == "memory") // "memory" is reserved for system RAM
                m.name = "region" + std::to_string(id);
        }
        m.total = s.total;
        m.shared = s.shared;
        m.active = s.active;
        m.resident = s.resident;
        m.purgeable = s.purgeable;
        m.show_active = s.active_objects > 0;
        m.show_resident = has_objects;
        r.regions.push_back(std::move(m));
    }
    if constexpr (requires(std::string& out) { D::show_fdinfo(f, out); })
        D::show_fdinfo(f, r.driver_keys);
    return r;
}

/// Calls fn(const file_base&) on the clients `caller` may see: on the monitor node every open
/// file of the device (under its file lock, oldest first), on the compute node the caller's own
/// file only (accel's rule, uapi/accel_info.h: a compute user never sees other clients).
template <class Fn>
void for_each_visible_client(const device_base& dev, const file_base& caller, Fn&& fn) {
    if (caller.kind() == node_kind::monitor)
        dev.for_each_file(fn);
    else
        fn(caller);
}

template <class D>
int info_item(device<D>& dev, file<D>& f, std::uint32_t id, std::vector<unsigned char>& out) {
    switch (id) {
    case ACCEL_INFO_IDENTITY: {
        accel_info_identity v{};
        v.version_major = static_cast<std::uint32_t>(D::info.major);
        v.version_minor = static_cast<std::uint32_t>(D::info.minor);
        v.version_patchlevel = static_cast<std::uint32_t>(D::info.patchlevel);
        v.minor = dev.minor();
        v.client_id = f.client_id();
        copy_name(v.name, D::info.name);
        copy_name(v.desc, D::info.desc);
        append_bytes(out, v);
        return 0;
    }
    case ACCEL_INFO_MEMORY_REGIONS:
        append_list(out, regions_of(dev));
        return 0;
    case ACCEL_INFO_ENGINES:
        append_list(out, engines_of(dev));
        return 0;
    case ACCEL_INFO_CAPABILITIES: {
        accel_info_capabilities caps{};
        if constexpr (requires { D::capabilities(dev); })
            caps = D::capabilities(dev);
        append_bytes(out, caps);
        return 0;
    }
    case ACCEL_INFO_STATUS: {
        accel_info_status st{};
        st.state = static_cast<std::uint32_t>(device_state_of(dev));
        st.open_files = dev.open_count();
        st.reset_count = dev.reset_count();
        append_bytes(out, st);
        return 0;
    }
    case ACCEL_INFO_MEMORY_USAGE:
        append_list(out, memory_usage_of(dev));
        return 0;
    case ACCEL_INFO_ENGINE_BUSY: {
        if (device_state_of(dev) != ACCEL_STATE_OPERATIONAL)
            return -EBUSY;
        std::vector<accel_info_engine_time> busy = raw_engine_busy(dev);
        dev.cleared_stats().subtract(busy);
        append_list(out, busy);
        return 0;
    }
    case ACCEL_INFO_CLIENTS: {
        std::vector<accel_info_client> clients;
        for_each_visible_client(dev, f, [&](const file_base& c) {
            accel_info_client v{};
            v.client_id = c.client_id();
            v.pid = c.process().tgid;
            v.uid = static_cast<std::uint32_t>(c.opener().uid);
            v.node = c.kind() == node_kind::monitor ? ACCEL_NODE_MONITOR : ACCEL_NODE_COMPUTE;
            v.handles = static_cast<std::uint32_t>(c.handles().size());
            static_assert(sizeof v.comm == sizeof c.process().comm);
            std::memcpy(v.comm, c.process().comm, sizeof v.comm);
            copy_name(v.name, c.client_name());
            clients.push_back(v);
        });
        append_list(out, clients);
        return 0;
    }
    case ACCEL_INFO_CLIENT_ENGINES: {
        const std::vector<accel_info_engine> engines = engines_of(dev);
        std::vector<accel_info_client_engine> usage;
        for_each_visible_client(dev, f, [&](const file_base& c) {
            for (const accel_info_engine_time& t : client_engine_time(c, engines))
                usage.push_back(accel_info_client_engine{c.client_id(), t.engine_id, 0, t.busy_ns});
        });
        append_list(out, usage);
        return 0;
    }
    case ACCEL_INFO_CLIENT_MEMORY: {
        const std::vector<std::uint32_t> ids = region_ids(regions_of(dev));
        std::vector<accel_info_client_memory> usage;
        for_each_visible_client(dev, f, [&](const file_base& c) {
            for (std::uint32_t region : ids) {
                const file_memory_stats s = memory_stats(c, static_cast<int>(region));
                usage.push_back(accel_info_client_memory{c.client_id(), region, 0, s.total, s.shared, s.resident,
                                                         s.active, s.purgeable});
            }
        });
        append_list(out, usage);
        return 0;
    }
    case ACCEL_INFO_SENSORS:
        if (device_state_of(dev) != ACCEL_STATE_OPERATIONAL)
            return -EBUSY;
        append_list(out, static_cast<device_base&>(dev).ops().sensors(dev));
        return 0;
    default:
        return -EINVAL;
    }
}

} // namespace accel::detail

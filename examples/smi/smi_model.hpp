// SPDX-License-Identifier: MIT
#pragma once
/// \file What accel-smi shows: a snapshot of the devices under a root, independent of where it
/// came from (INFO on a served device's monitor node, or VERSION and /proc/<pid>/fdinfo on a
/// kernel device) and of how it is printed (smi_table.hpp, smi_json.hpp).
///
/// Utilisation is not a counter a device keeps: like nvtop and intel_gpu_top, accel-smi takes
/// two samples of the cumulative busy times (ENGINE_BUSY, CLIENT_ENGINES or drm-engine-<name>)
/// and divides the difference by the wall time between them times the engine's instances
/// (drm-engine-capacity). The one-shot view samples twice ~200 ms apart; --watch uses its
/// successive refreshes.
#include <accel/uapi/accel_info.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

namespace accel_smi {

struct region_info {
    std::uint32_t id = 0;
    std::string name;
    std::string kind; // "system", "device", "sram"
    std::uint64_t size = 0;
    std::optional<std::uint64_t> used; // MEMORY_USAGE
};

struct engine_info {
    std::uint32_t id = 0;
    std::string name;
    std::uint32_t instances = 1;
    std::optional<std::uint64_t> busy_ns;    // cumulative (ENGINE_BUSY)
    std::optional<double> utilisation;       // percent, from two samples
};

struct sensor_info {
    std::uint32_t type = 0; // enum accel_sensor_type
    std::uint32_t index = 0;
    std::int64_t value = 0; // the hwmon unit
    std::string label;
};

struct client_engine {
    std::string engine; // engine name (fdinfo's key) or its id as text
    std::uint64_t busy_ns = 0;
    std::optional<double> utilisation;
};

struct client_region {
    std::string region;
    std::uint64_t total = 0, shared = 0, resident = 0, active = 0, purgeable = 0;
};

struct client_info {
    std::uint64_t client_id = 0;
    std::int32_t pid = 0;
    std::uint32_t uid = 0;
    std::string comm;
    std::string name;
    std::string node; // "compute" or "monitor"
    std::uint32_t handles = 0;
    std::vector<client_engine> engines;
    std::vector<client_region> memory;
};

/// What could not be read, per part, so that an older server (an unknown item: -EINVAL) or a
/// device in reset (-EBUSY) shows "-" there and the rest normally.
struct device_info {
    std::uint32_t minor = 0;
    std::string node;      // the file queried
    std::string source;    // "info" (accel INFO) or "kernel" (VERSION + /proc fdinfo)
    std::string driver;
    std::string version;   // "major.minor.patch"
    std::string desc;
    std::optional<std::string> status;       // "operational", ...
    std::optional<std::uint64_t> reset_count;
    std::optional<std::uint32_t> open_files;
    std::vector<region_info> memory;
    std::vector<engine_info> engines;
    std::optional<std::vector<sensor_info>> sensors; // nullopt: not supported or unavailable
    std::optional<std::vector<client_info>> clients;  // nullopt: not supported
    std::vector<std::string> notes; // "sensors: unavailable while in reset", errors
    std::uint64_t sampled_ns = 0;   // CLOCK_MONOTONIC of the sample
};

struct snapshot {
    std::string root;
    std::vector<device_info> devices;
    std::vector<std::string> errors; // devices that could not be opened or queried
};

inline const char* state_name(std::uint32_t s) {
    switch (s) {
    case ACCEL_STATE_OPERATIONAL: return "operational";
    case ACCEL_STATE_IN_RESET: return "in reset";
    case ACCEL_STATE_MALFUNCTION: return "malfunction";
    case ACCEL_STATE_NEEDS_RESET: return "needs reset";
    default: return "unknown";
    }
}

inline const char* memory_kind(std::uint32_t k) {
    switch (k) {
    case ACCEL_MEMORY_SYSTEM: return "system";
    case ACCEL_MEMORY_DEVICE: return "device";
    case ACCEL_MEMORY_SRAM: return "sram";
    default: return "unknown";
    }
}

/// The hwmon file name of a sensor: temp1, in0, power1, ...
inline std::string sensor_name(const sensor_info& s) {
    static constexpr const char* prefix[] = {"temp", "in", "curr", "power", "energy", "fan"};
    const std::string p = s.type < std::size(prefix) ? prefix[s.type] : "sensor";
    return p + std::to_string(s.index);
}

/// The hwmon attribute the value comes from (power is power<n>_average, the rest <n>_input).
inline std::string sensor_file(const sensor_info& s) {
    return sensor_name(s) + (s.type == ACCEL_SENSOR_POWER ? "_average" : "_input");
}

/// A sensor's value in the unit people read: °C, V as mV, mA, W, J, RPM.
inline std::string sensor_text(const sensor_info& s) {
    char buf[64];
    const double v = static_cast<double>(s.value);
    switch (s.type) {
    case ACCEL_SENSOR_TEMP: std::snprintf(buf, sizeof buf, "%.1f \xC2\xB0" "C", v / 1000.0); break;
    case ACCEL_SENSOR_IN: std::snprintf(buf, sizeof buf, "%lld mV", static_cast<long long>(s.value)); break;
    case ACCEL_SENSOR_CURR: std::snprintf(buf, sizeof buf, "%lld mA", static_cast<long long>(s.value)); break;
    case ACCEL_SENSOR_POWER: std::snprintf(buf, sizeof buf, "%.2f W", v / 1e6); break;
    case ACCEL_SENSOR_ENERGY: std::snprintf(buf, sizeof buf, "%.3f J", v / 1e6); break;
    case ACCEL_SENSOR_FAN: std::snprintf(buf, sizeof buf, "%lld RPM", static_cast<long long>(s.value)); break;
    default: std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(s.value)); break;
    }
    return buf;
}

/// Bytes in the largest binary unit that keeps one decimal meaningful: "0 B", "4.0 KiB", "12.5 MiB".
inline std::string human_bytes(std::uint64_t bytes) {
    static constexpr const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    if (bytes < 1024)
        return std::to_string(bytes) + " B";
    double v = static_cast<double>(bytes);
    std::size_t u = 0;
    while (v >= 1024.0 && u + 1 < std::size(units)) {
        v /= 1024.0;
        ++u;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
    return buf;
}

/// Percent of `capacity` engines busy over `wall_ns`, clamped to [0, 100]; nullopt without time.
inline std::optional<double> utilisation(std::uint64_t busy_before, std::uint64_t busy_after, std::uint64_t wall_ns,
                                         std::uint32_t capacity) {
    if (wall_ns == 0 || busy_after < busy_before) // no interval, or the counters were cleared
        return std::nullopt;
    const double cap = capacity ? static_cast<double>(capacity) : 1.0;
    const double pct = 100.0 * static_cast<double>(busy_after - busy_before) / (static_cast<double>(wall_ns) * cap);
    return std::clamp(pct, 0.0, 100.0);
}

/// Fills `now`'s utilisation fields from an earlier sample of the same devices: engines by id,
/// clients by client id (a client absent from `before` opened in between and counts from 0).
inline void compute_utilisation(const snapshot& before, snapshot& now) {
    for (auto& d : now.devices) {
        auto prev = std::find_if(before.devices.begin(), before.devices.end(),
                                 [&](const device_info& p) { return p.minor == d.minor; });
        if (prev == before.devices.end() || d.sampled_ns <= prev->sampled_ns)
            continue;
        const std::uint64_t wall = d.sampled_ns - prev->sampled_ns;
        auto capacity_of = [&](const std::string& engine) -> std::uint32_t {
            for (const auto& e : d.engines)
                if (e.name == engine)
                    return e.instances;
            return 1;
        };
        for (auto& e : d.engines) {
            auto pe = std::find_if(prev->engines.begin(), prev->engines.end(),
                                   [&](const engine_info& x) { return x.id == e.id && x.name == e.name; });
            if (pe != prev->engines.end() && pe->busy_ns && e.busy_ns)
                e.utilisation = utilisation(*pe->busy_ns, *e.busy_ns, wall, e.instances);
        }
        if (!d.clients)
            continue;
        for (auto& c : *d.clients) {
            const client_info* pc = nullptr;
            if (prev->clients)
                for (const auto& x : *prev->clients)
                    if (x.client_id == c.client_id && x.pid == c.pid)
                        pc = &x;
            for (auto& ce : c.engines) {
                std::uint64_t before_ns = 0;
                if (pc)
                    for (const auto& x : pc->engines)
                        if (x.engine == ce.engine)
                            before_ns = x.busy_ns;
                ce.utilisation = utilisation(before_ns, ce.busy_ns, wall, capacity_of(ce.engine));
            }
        }
        // A kernel device reports no device-wide busy time: its engines' utilisation is the sum
        // of its clients' (what nvtop shows for fdinfo-only drivers).
        if (d.source == "kernel") {
            for (auto& e : d.engines) {
                double sum = 0;
                bool any = false;
                for (const auto& c : *d.clients)
                    for (const auto& ce : c.engines)
                        if (ce.engine == e.name && ce.utilisation) {
                            sum += *ce.utilisation;
                            any = true;
                        }
                if (any)
                    e.utilisation = std::min(sum, 100.0);
            }
        }
    }
}

} // namespace accel_smi

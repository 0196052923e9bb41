// SPDX-License-Identifier: MIT
#pragma once
/// \file A client's usage statistics as the text of /proc/<pid>/fdinfo/<fd> (drm_show_fdinfo,
/// Documentation/gpu/drm-usage-stats.rst).
///
/// Lines, in the kernel's order, each "key:\tvalue\n":
///   drm-driver            the driver's name
///   drm-client-id         the file's client id (global, never reused)
///   drm-client-name       when set by SET_CLIENT_NAME
///   (drm-pdev is never printed: accel devices are not PCI functions)
///   then what a driver's show_fdinfo prints in the kernel, produced here by the framework, in
///   the order of the drivers that use the common helpers (panfrost, msm: their engine lines,
///   then drm_show_memory_stats; i915 and xe print memory first, amdgpu memory first too):
///   drm-engine-<name>     "<ns> ns", per engine the driver declares (INFO ENGINES order): the
///                         engine time of the file's jobs, summed over the clocks its scheduler
///                         entities registered under that engine id (file_base::engine_time);
///                         an id that has clocks but no declared engine is named by its number
///   drm-engine-capacity-<name>  right after its engine, when the engine has instances > 1
///   drm-cycles-<name>, drm-total-cycles-<name>  when the driver gives the engine's clock
///                         (`static std::uint64_t engine_clock_hz(device<D>&, std::uint32_t
///                         engine_id)`, 0: none): the busy time in cycles of that clock, and
///                         the monotonic clock's time in cycles of it (drm-total-cycles "matches
///                         drm-cycles' update rate", so a tool's delta-cycles / delta-total-cycles
///                         is the engine's utilisation, summed over its instances); a driver
///                         gives total-cycles, never drm-maxfreq (the document: one of the two)
///   per memory region: host memory (region 0) as "memory", then each declared region by name:
///   drm-total-<region>    always (drm_print_memory_stats)
///   drm-shared-<region>   always
///   drm-active-<region>   when an object of the file in that region is busy (the kernel marks
///                         ACTIVE supported only when it meets such an object)
///   drm-resident-<region> when the file has at least one object, in any region: every accel
///                         object reports its residency, and the kernel prints resident for
///                         every region once some object of the file reported RESIDENT (the
///                         supported-status mask is file-wide), never for a file without one
///   drm-purgeable-<region> never: accel has no madvise, no object is ever purgeable
///   then the driver's own keys (below).
/// Sizes use drm_fdinfo_print_size's rule: divided by 1024 while non-zero and a multiple of
/// 1024, at most twice, with units "", " KiB", " MiB" (0 -> "0", 4096 -> "4 KiB", 1536 ->
/// "1536", 3 GiB -> "3072 MiB").
///
/// Driver keys: an optional `static void show_fdinfo(file<D>&, std::string& out)` appends lines
/// after the framework's (the kernel's driver->show_fdinfo runs after the common lines). Keys a
/// driver adds must be prefixed "<drivername>-" (drm-usage-stats.rst: "drm-" is the standard's);
/// a line that is not "<drivername>-<key>:<value>" with a key free of whitespace and control
/// characters, and without NUL, is dropped, so no driver can forge a standard key or break a
/// parser (the cycle keys come from the clock hook above, never from these lines).
///
/// Engine and region names are used as declared, with whitespace and ':' replaced by '_' (a
/// <keystr> contains neither).
#include <accel/core/fwd.hpp>
#include <accel/uapi/accel_info.h>

#include <cinttypes>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace accel {

/// One engine line group of fdinfo.
struct fdinfo_engine {
    std::string name;
    std::uint64_t busy_ns = 0;
    std::uint32_t capacity = 1;
    /// The engine's clock in Hz (drm-cycles-/drm-total-cycles-), 0 when the driver gives none.
    std::uint64_t clock_hz = 0;
    std::uint64_t now_ns = 0; ///< CLOCK_MONOTONIC when the record was made (drm-total-cycles)
};

/// One region's memory keys of fdinfo.
struct fdinfo_region {
    std::string name;
    std::uint64_t total = 0, shared = 0, active = 0, resident = 0, purgeable = 0;
    bool show_active = false, show_resident = true, show_purgeable = false;
};

/// Everything fdinfo prints for one file.
struct fdinfo_record {
    std::string driver;
    std::uint64_t client_id = 0;
    std::string client_name;
    std::vector<fdinfo_engine> engines;
    std::vector<fdinfo_region> regions;
    std::string driver_keys; ///< what the driver's show_fdinfo appended (filtered by format_fdinfo)
};

namespace fdinfo {

/// A <keystr>: whitespace and ':' become '_' (an empty name becomes "_").
inline std::string keystr(std::string_view s) {
    std::string k(s);
    for (char& c : k)
        if (c == ':' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f')
            c = '_';
    return k.empty() ? std::string("_") : k;
}

/// `ns` nanoseconds in cycles of a `hz` clock, without overflow for any ns and clocks up to
/// 10 GHz (a faster clock is counted as 10 GHz); UINT64_MAX when the count passes 2^64.
inline std::uint64_t cycles_of(std::uint64_t ns, std::uint64_t hz) noexcept {
    constexpr std::uint64_t giga = 1'000'000'000;
    if (hz > 10 * giga)
        hz = 10 * giga;
    const std::uint64_t whole = ns / giga, part = ns % giga; // part * hz < 1e19 < 2^64
    if (whole != 0 && hz > UINT64_MAX / whole)
        return UINT64_MAX;
    const std::uint64_t high = whole * hz, low = part * hz / giga;
    return low > UINT64_MAX - high ? UINT64_MAX : high + low; // the sum may pass 2^64 too
}

/// drm_fdinfo_print_size: "drm-<stat>-<region>:\t<value><unit>\n".
inline void print_size(std::string& out, std::string_view stat, std::string_view region, std::uint64_t sz) {
    static constexpr const char* units[] = {"", " KiB", " MiB"};
    unsigned u = 0;
    for (; u < 2; ++u) {
        if (sz == 0 || sz % 1024 != 0)
            break;
        sz /= 1024;
    }
    char num[32];
    std::snprintf(num, sizeof num, "%" PRIu64, sz);
    out += "drm-";
    out += stat;
    out += '-';
    out += region;
    out += ":\t";
    out += num;
    out += units[u];
    out += '\n';
}

/// The lines of `keys` that a driver named `driver` may add: "<driver>-<key>:<value>" with a
/// key free of whitespace and control characters, and no NUL in the line (the text has none);
/// others are dropped. Every kept line ends with '\n'.
inline std::string driver_lines(std::string_view driver, std::string_view keys) {
    std::string kept;
    while (!keys.empty()) {
        const std::size_t nl = keys.find('\n');
        const std::string_view line = keys.substr(0, nl);
        keys = nl == std::string_view::npos ? std::string_view{} : keys.substr(nl + 1);
        const std::size_t colon = line.find(':');
        if (colon == std::string_view::npos)
            continue;
        const std::string_view key = line.substr(0, colon);
        if (key.size() <= driver.size() + 1 || key.substr(0, driver.size()) != driver || key[driver.size()] != '-')
            continue;
        bool clean = line.find('\0') == std::string_view::npos;
        for (char c : key)
            clean = clean && static_cast<unsigned char>(c) > 0x20 && static_cast<unsigned char>(c) != 0x7f;
        if (!clean)
            continue;
        kept += line;
        kept += '\n';
    }
    return kept;
}

} // namespace fdinfo

/// The fdinfo text of `r` (see the file comment for the lines and their order).
inline std::string format_fdinfo(const fdinfo_record& r) {
    std::string out;
    out += "drm-driver:\t" + r.driver + "\n";
    out += "drm-client-id:\t" + std::to_string(r.client_id) + "\n";
    if (!r.client_name.empty())
        out += "drm-client-name:\t" + r.client_name + "\n";
    for (const fdinfo_engine& e : r.engines) {
        const std::string name = fdinfo::keystr(e.name);
        out += "drm-engine-" + name + ":\t" + std::to_string(e.busy_ns) + " ns\n";
        if (e.capacity > 1)
            out += "drm-engine-capacity-" + name + ":\t" + std::to_string(e.capacity) + "\n";
        if (e.clock_hz) {
            out += "drm-cycles-" + name + ":\t" + std::to_string(fdinfo::cycles_of(e.busy_ns, e.clock_hz)) + "\n";
            out += "drm-total-cycles-" + name + ":\t" + std::to_string(fdinfo::cycles_of(e.now_ns, e.clock_hz)) + "\n";
        }
    }
    for (const fdinfo_region& m : r.regions) {
        const std::string name = fdinfo::keystr(m.name);
        fdinfo::print_size(out, "total", name, m.total);
        fdinfo::print_size(out, "shared", name, m.shared);
        if (m.show_active)
            fdinfo::print_size(out, "active", name, m.active);
        if (m.show_resident)
            fdinfo::print_size(out, "resident", name, m.resident);
        if (m.show_purgeable)
            fdinfo::print_size(out, "purgeable", name, m.purgeable);
    }
    out += fdinfo::driver_lines(r.driver, r.driver_keys);
    return out;
}

} // namespace accel

// SPDX-License-Identifier: MIT
#pragma once
/// \file A parser of DRM's fdinfo text (Documentation/gpu/drm-usage-stats.rst), as
/// /proc/<pid>/fdinfo/<fd> shows it for an open DRM or accel file (and as accel's
/// ACCEL_IOCTL_FDINFO returns it). Lines are "key:<whitespace>value"; the non-drm keys the VFS
/// adds (pos, flags, mnt_id, ino) and unknown drm- keys are skipped, as the document asks of
/// parsers. Units follow the document: drm-engine-<name> is "<uint> ns"; drm-total-, -shared-,
/// -resident-, -purgeable-, -active- and the older drm-memory-<region> are "<uint>" in bytes or
/// with a KiB or MiB suffix (GiB accepted too); drm-cycles-<name>, drm-total-cycles-<name> and
/// drm-engine-capacity-<name> are bare numbers; drm-maxfreq-<name> is "<uint> [Hz|KHz|MHz]"
/// (kept in Hz). The engine keys are matched before the memory ones: "drm-total-cycles-compute"
/// is engine compute's cycle clock (xe, panthor, accel's own fdinfo), not a region
/// "cycles-compute" of drm-total-<region>. A malformed value drops that key only, never the
/// whole text.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace accel_smi {

struct fdinfo_region {
    std::uint64_t total = 0, shared = 0, resident = 0, purgeable = 0, active = 0;
};

struct fdinfo {
    std::string driver;                          // drm-driver
    std::string pdev;                            // drm-pdev ("" when absent)
    std::optional<std::uint64_t> client_id;      // drm-client-id
    std::string client_name;                     // drm-client-name
    std::map<std::string, std::uint64_t> engine_ns;   // drm-engine-<name>
    std::map<std::string, std::uint64_t> capacity;    // drm-engine-capacity-<name>
    std::map<std::string, std::uint64_t> cycles;      // drm-cycles-<name>
    std::map<std::string, std::uint64_t> total_cycles; // drm-total-cycles-<name>
    std::map<std::string, std::uint64_t> maxfreq_hz;  // drm-maxfreq-<name>, in Hz
    std::map<std::string, fdinfo_region> memory;      // drm-{total,shared,...}-<region>, drm-memory-<region>
};

namespace detail {

inline std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
        s.remove_suffix(1);
    return s;
}

/// The leading unsigned number of s, the rest (after blanks) in `unit`; nullopt without digits
/// or on overflow.
inline std::optional<std::uint64_t> leading_number(std::string_view s, std::string_view& unit) {
    std::uint64_t v = 0;
    std::size_t i = 0;
    for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
        const std::uint64_t d = static_cast<std::uint64_t>(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return std::nullopt;
        v = v * 10 + d;
    }
    if (i == 0)
        return std::nullopt;
    unit = trim(s.substr(i));
    return v;
}

inline std::optional<std::uint64_t> scaled(std::uint64_t v, unsigned shift) {
    if (shift && v > (UINT64_MAX >> shift))
        return std::nullopt;
    return v << shift;
}

} // namespace detail

/// A memory value ("4 KiB", "1536", "3072 MiB") in bytes; nullopt for an unknown unit.
inline std::optional<std::uint64_t> parse_fdinfo_size(std::string_view value) {
    std::string_view unit;
    auto v = detail::leading_number(detail::trim(value), unit);
    if (!v)
        return std::nullopt;
    if (unit.empty() || unit == "B")
        return v;
    if (unit == "KiB")
        return detail::scaled(*v, 10);
    if (unit == "MiB")
        return detail::scaled(*v, 20);
    if (unit == "GiB")
        return detail::scaled(*v, 30);
    return std::nullopt;
}

/// An engine time ("123 ns"); the unit is required by the document, but a bare number is read as ns.
inline std::optional<std::uint64_t> parse_fdinfo_ns(std::string_view value) {
    std::string_view unit;
    auto v = detail::leading_number(detail::trim(value), unit);
    if (!v || !(unit.empty() || unit == "ns"))
        return std::nullopt;
    return v;
}

/// A frequency ("1100 MHz", "800000 KHz", "5 Hz"; a bare number is Hz) in Hz; nullopt for an
/// unknown unit or on overflow.
inline std::optional<std::uint64_t> parse_fdinfo_frequency(std::string_view value) {
    std::string_view unit;
    auto v = detail::leading_number(detail::trim(value), unit);
    if (!v)
        return std::nullopt;
    std::uint64_t scale = 0;
    if (unit.empty() || unit == "Hz")
        scale = 1;
    else if (unit == "KHz" || unit == "kHz")
        scale = 1000;
    else if (unit == "MHz")
        scale = 1000000;
    else
        return std::nullopt;
    if (*v > UINT64_MAX / scale)
        return std::nullopt;
    return *v * scale;
}

inline std::optional<std::uint64_t> parse_fdinfo_count(std::string_view value) {
    std::string_view unit;
    auto v = detail::leading_number(detail::trim(value), unit);
    if (!v || !unit.empty())
        return std::nullopt;
    return v;
}

/// Applies one "key: value" line to out; returns false when the line is not a drm- key it knows.
inline bool parse_fdinfo_line(std::string_view line, fdinfo& out) {
    const auto colon = line.find(':');
    if (colon == std::string_view::npos)
        return false;
    const std::string_view key = detail::trim(line.substr(0, colon));
    const std::string_view value = detail::trim(line.substr(colon + 1));
    if (!key.starts_with("drm-"))
        return false;
    auto suffix = [&](std::string_view prefix, std::string& name) {
        if (!key.starts_with(prefix) || key.size() == prefix.size())
            return false;
        name = std::string(key.substr(prefix.size()));
        return true;
    };
    std::string name;
    if (key == "drm-driver") {
        out.driver = std::string(value);
        return true;
    }
    if (key == "drm-pdev") {
        out.pdev = std::string(value);
        return true;
    }
    if (key == "drm-client-id") {
        auto v = parse_fdinfo_count(value);
        if (v)
            out.client_id = *v;
        return v.has_value();
    }
    if (key == "drm-client-name") {
        out.client_name = std::string(value);
        return true;
    }
    // drm-engine-capacity- before drm-engine-: the longer prefix names a different key.
    if (suffix("drm-engine-capacity-", name)) {
        auto v = parse_fdinfo_count(value);
        if (v)
            out.capacity[name] = *v;
        return v.has_value();
    }
    if (suffix("drm-engine-", name)) {
        auto v = parse_fdinfo_ns(value);
        if (v)
            out.engine_ns[name] = *v;
        return v.has_value();
    }
    if (suffix("drm-cycles-", name)) {
        auto v = parse_fdinfo_count(value);
        if (v)
            out.cycles[name] = *v;
        return v.has_value();
    }
    // Engine keys that share drm-total-'s prefix or could pass for a region: before the memory keys.
    if (suffix("drm-total-cycles-", name)) {
        auto v = parse_fdinfo_count(value);
        if (v)
            out.total_cycles[name] = *v;
        return v.has_value();
    }
    if (suffix("drm-maxfreq-", name)) {
        auto v = parse_fdinfo_frequency(value);
        if (v)
            out.maxfreq_hz[name] = *v;
        return v.has_value();
    }
    struct mem_key {
        std::string_view prefix;
        std::uint64_t fdinfo_region::*field;
    };
    static constexpr mem_key mem_keys[] = {
        {"drm-total-", &fdinfo_region::total},         {"drm-memory-", &fdinfo_region::total},
        {"drm-shared-", &fdinfo_region::shared},       {"drm-resident-", &fdinfo_region::resident},
        {"drm-purgeable-", &fdinfo_region::purgeable}, {"drm-active-", &fdinfo_region::active},
    };
    for (const auto& k : mem_keys) {
        if (suffix(k.prefix, name)) {
            auto v = parse_fdinfo_size(value);
            if (v)
                out.memory[name].*k.field = *v;
            return v.has_value();
        }
    }
    return false; // driver keys: not shown
}

/// The whole text of one file's fdinfo.
inline fdinfo parse_fdinfo(std::string_view text) {
    fdinfo out;
    while (!text.empty()) {
        const auto nl = text.find('\n');
        parse_fdinfo_line(text.substr(0, nl), out);
        if (nl == std::string_view::npos)
            break;
        text.remove_prefix(nl + 1);
    }
    return out;
}

} // namespace accel_smi

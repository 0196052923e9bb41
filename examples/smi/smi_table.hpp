// SPDX-License-Identifier: MIT
#pragma once
/// \file accel-smi's text view: a column-aligned table helper and the screen of a snapshot, as
/// lines (no escape sequences), shared by the one-shot output and --watch: per device its
/// identity, status, memory per region, engines with a utilisation bar, sensors, then one
/// process list for all devices (nvidia-smi's layout, nvtop's bars).
#include "smi_model.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace accel_smi {

/// Display width of a UTF-8 string (code points; every character accel-smi prints is narrow).
inline std::size_t display_width(const std::string& s) {
    std::size_t n = 0;
    for (unsigned char c : s)
        n += (c & 0xC0) != 0x80;
    return n;
}

/// Columns separated by two spaces; numbers right-aligned when asked.
class text_table {
public:
    explicit text_table(std::vector<std::string> header, std::vector<bool> right = {})
        : right_(std::move(right)) {
        right_.resize(header.size(), false);
        rows_.push_back(std::move(header));
    }
    void add(std::vector<std::string> row) {
        row.resize(rows_.front().size());
        rows_.push_back(std::move(row));
    }
    std::size_t rows() const { return rows_.size() - 1; }

    void render(std::vector<std::string>& lines, const std::string& indent = "") const {
        std::vector<std::size_t> width(rows_.front().size(), 0);
        for (const auto& r : rows_)
            for (std::size_t i = 0; i < r.size(); ++i)
                width[i] = std::max(width[i], display_width(r[i]));
        for (const auto& r : rows_) {
            std::string line = indent;
            for (std::size_t i = 0; i < r.size(); ++i) {
                const std::size_t pad = width[i] - display_width(r[i]);
                const bool last = i + 1 == r.size();
                if (right_[i])
                    line.append(pad, ' ');
                line += r[i];
                if (!right_[i] && !last)
                    line.append(pad, ' ');
                if (!last)
                    line += "  ";
            }
            while (!line.empty() && line.back() == ' ')
                line.pop_back();
            lines.push_back(std::move(line));
        }
    }

private:
    std::vector<std::vector<std::string>> rows_;
    std::vector<bool> right_;
};

inline std::string percent_text(const std::optional<double>& p) {
    if (!p)
        return "-";
    char buf[16];
    std::snprintf(buf, sizeof buf, "%.0f%%", *p);
    return buf;
}

/// "[#####.....]" of `width` cells for a percentage ("[----------]" when unknown).
inline std::string bar(const std::optional<double>& p, std::size_t width) {
    std::string b = "[";
    if (!p) {
        b.append(width, '-');
    } else {
        const auto full = static_cast<std::size_t>(std::clamp(*p, 0.0, 100.0) / 100.0 * static_cast<double>(width) + 0.5);
        b.append(full, '#');
        b.append(width - full, '.');
    }
    return b + "]";
}

inline std::string busy_text(const std::optional<std::uint64_t>& ns) {
    if (!ns)
        return "-";
    char buf[32];
    const double v = static_cast<double>(*ns);
    if (*ns == 0)
        return "0 s";
    if (*ns < 1'000'000) // a short job's time is not "0.000 s"
        std::snprintf(buf, sizeof buf, "%.0f us", v / 1e3);
    else if (*ns < 1'000'000'000)
        std::snprintf(buf, sizeof buf, "%.1f ms", v / 1e6);
    else
        std::snprintf(buf, sizeof buf, "%.3f s", v / 1e9);
    return buf;
}

/// A device's block: memory, engines and sensors as tables.
inline void render_device(const device_info& d, std::size_t bar_width, std::vector<std::string>& lines) {
    lines.emplace_back();
    std::string title = "accel" + std::to_string(d.minor);
    for (const std::string* part : {&d.driver, &d.node})
        if (!part->empty())
            title += "  " + *part;
    lines.push_back(std::move(title));
    if (!d.memory.empty()) {
        text_table t({"  MEMORY", "KIND", "USED", "TOTAL", "USE"}, {false, false, true, true, true});
        for (const auto& r : d.memory) {
            std::optional<double> pct;
            if (r.used && r.size)
                pct = 100.0 * static_cast<double>(*r.used) / static_cast<double>(r.size);
            t.add({"  " + r.name, r.kind, r.used ? human_bytes(*r.used) : "-", r.size ? human_bytes(r.size) : "-",
                   percent_text(pct)});
        }
        t.render(lines);
    }
    if (!d.engines.empty()) {
        text_table t({"  ENGINE", "INST", "UTIL", "", "BUSY"}, {false, true, true, false, true});
        for (const auto& e : d.engines)
            t.add({"  " + e.name, std::to_string(e.instances), percent_text(e.utilisation), bar(e.utilisation, bar_width),
                   busy_text(e.busy_ns)});
        t.render(lines);
    }
    if (d.sensors && !d.sensors->empty()) {
        text_table t({"  SENSOR", "LABEL", "VALUE"}, {false, false, true});
        for (const auto& x : *d.sensors)
            t.add({"  " + sensor_name(x), x.label.empty() ? "-" : x.label, sensor_text(x)});
        t.render(lines);
    }
    for (const auto& n : d.notes)
        lines.push_back("  (" + n + ")");
}

/// A device's block in few lines (--watch, so the process list fits a terminal): regions on the
/// title line, one line per engine with its bar, the sensors on one line.
inline void render_device_compact(const device_info& d, std::size_t bar_width, std::vector<std::string>& lines) {
    lines.emplace_back();
    std::string title = "accel" + std::to_string(d.minor) + "  " + d.driver;
    for (const auto& r : d.memory)
        title += "  " + r.name + " " + (r.used ? human_bytes(*r.used) : "-") + " / " + (r.size ? human_bytes(r.size) : "-");
    lines.push_back(std::move(title));
    if (!d.engines.empty()) {
        text_table t({"  ENGINE", "", "UTIL"}, {false, false, true});
        for (const auto& e : d.engines)
            t.add({"  " + e.name + " x" + std::to_string(e.instances), bar(e.utilisation, bar_width),
                   percent_text(e.utilisation)});
        std::vector<std::string> rows;
        t.render(rows);
        lines.insert(lines.end(), rows.begin() + 1, rows.end()); // no header row
    }
    if (d.sensors && !d.sensors->empty()) {
        std::string line = " ";
        for (const auto& x : *d.sensors)
            line += " " + sensor_name(x) + " " + sensor_text(x) + " ";
        while (!line.empty() && line.back() == ' ')
            line.pop_back();
        lines.push_back(std::move(line));
    }
    for (const auto& n : d.notes)
        lines.push_back("  (" + n + ")");
}

/// The screen of a snapshot for a terminal `columns` wide (bars shrink with it); `compact`: the
/// short device blocks of --watch.
inline std::vector<std::string> render_snapshot(const snapshot& s, std::size_t columns = 100, bool compact = false) {
    std::vector<std::string> lines;
    const std::size_t bar_width = columns >= 100 ? 30 : columns >= 80 ? 20 : 10;
    {
        text_table t({"DEV", "DRIVER", "VERSION", "STATUS", "RESETS", "CLIENTS", "DESCRIPTION"},
                     {true, false, false, false, true, true, false});
        for (const auto& d : s.devices)
            t.add({std::to_string(d.minor), d.driver.empty() ? "-" : d.driver, d.version.empty() ? "-" : d.version,
                   d.status.value_or(d.source == "kernel" ? "kernel" : "-"),
                   d.reset_count ? std::to_string(*d.reset_count) : "-",
                   d.clients ? std::to_string(d.clients->size()) : "-", d.desc.empty() ? "-" : d.desc});
        t.render(lines);
    }
    for (const auto& d : s.devices) {
        if (compact)
            render_device_compact(d, bar_width, lines);
        else
            render_device(d, bar_width, lines);
    }
    lines.emplace_back();
    lines.push_back("PROCESSES");
    text_table t({"DEV", "PID", "COMMAND", "CLIENT", "NAME", "NODE", "ENGINES", "MEMORY"},
                 {true, true, false, true, false, false, false, false});
    for (const auto& d : s.devices) {
        if (!d.clients)
            continue;
        for (const auto& c : *d.clients) {
            std::string eng, mem;
            for (const auto& e : c.engines)
                eng += (eng.empty() ? "" : " ") + e.engine + " " + percent_text(e.utilisation);
            for (const auto& m : c.memory)
                if (m.total)
                    mem += (mem.empty() ? "" : " ") + m.region + " " + human_bytes(m.total);
            t.add({std::to_string(d.minor), c.pid ? std::to_string(c.pid) : "-", c.comm.empty() ? "-" : c.comm,
                   std::to_string(c.client_id), c.name.empty() ? "-" : c.name, c.node, eng.empty() ? "-" : eng,
                   mem.empty() ? "-" : mem});
        }
    }
    if (t.rows() == 0)
        lines.push_back("  no processes");
    else
        t.render(lines);
    for (const auto& e : s.errors)
        lines.push_back("error: " + e);
    return lines;
}

} // namespace accel_smi

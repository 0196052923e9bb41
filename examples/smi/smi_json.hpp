// SPDX-License-Identifier: MIT
#pragma once
/// \file accel-smi --json: a minimal JSON writer (RFC 8259) and the snapshot as one object,
/// {"root": ..., "devices": [...], "errors": [...]}; each device with its identity, status,
/// reset_count, memory, engines, sensors and clients. Strings from devices and processes (comm,
/// client names, labels) are arbitrary bytes: quotes, backslashes and control characters are
/// escaped, and bytes that are not valid UTF-8 become U+FFFD so the output always parses. A part
/// the device could not report is null (sensors, clients) rather than missing, so scripts can
/// tell "none" from "unknown".
#include "smi_model.hpp"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace accel_smi {

/// Appends s to out as a JSON string literal.
inline void json_escape(std::string_view s, std::string& out) {
    out += '"';
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            default:
                if (c < 0x20 || c == 0x7f) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", c);
                    out += buf;
                } else {
                    out += static_cast<char>(c);
                }
            }
            ++i;
            continue;
        }
        // A UTF-8 sequence: lead byte, length, minimum code point (no overlongs, no surrogates).
        std::size_t len = 0;
        std::uint32_t cp = 0, min = 0;
        if ((c & 0xE0) == 0xC0) {
            len = 2, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4, cp = c & 0x07, min = 0x10000;
        }
        bool ok = len != 0 && i + len <= s.size();
        for (std::size_t k = 1; ok && k < len; ++k) {
            const auto cc = static_cast<unsigned char>(s[i + k]);
            ok = (cc & 0xC0) == 0x80;
            cp = (cp << 6) | (cc & 0x3F);
        }
        ok = ok && cp >= min && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
        if (ok) {
            out.append(s.substr(i, len));
            i += len;
        } else {
            out += "\\ufffd";
            ++i;
        }
    }
    out += '"';
}

/// A streaming writer: values, and keys inside objects; commas are placed automatically.
class json_writer {
public:
    json_writer& begin_object() { return open('{'); }
    json_writer& end_object() { return close('}'); }
    json_writer& begin_array() { return open('['); }
    json_writer& end_array() { return close(']'); }

    json_writer& key(std::string_view k) {
        separate();
        json_escape(k, out_);
        out_ += ':';
        after_key_ = true;
        return *this;
    }
    json_writer& value(std::string_view s) {
        separate();
        json_escape(s, out_);
        return *this;
    }
    json_writer& value(const char* s) { return value(std::string_view(s)); }
    json_writer& value(std::uint64_t v) { return raw(std::to_string(v)); }
    json_writer& value(std::int64_t v) { return raw(std::to_string(v)); }
    json_writer& value(std::uint32_t v) { return raw(std::to_string(v)); }
    json_writer& value(std::int32_t v) { return raw(std::to_string(v)); }
    json_writer& value(bool v) { return raw(v ? "true" : "false"); }
    /// A number with `decimals` digits after the point; NaN and infinities (no JSON form) are null.
    json_writer& value(double v, int decimals = 1) {
        if (!std::isfinite(v))
            return null();
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
        return raw(buf);
    }
    json_writer& null() { return raw("null"); }
    template <class T>
    json_writer& value(const std::optional<T>& v) {
        return v ? value(*v) : null();
    }
    template <class T>
    json_writer& member(std::string_view k, const T& v) {
        key(k);
        return value(v);
    }

    const std::string& str() const { return out_; }

private:
    json_writer& open(char c) {
        separate();
        out_ += c;
        first_ = true;
        return *this;
    }
    json_writer& close(char c) {
        out_ += c;
        first_ = false;
        return *this;
    }
    json_writer& raw(std::string_view s) {
        separate();
        out_ += s;
        return *this;
    }
    void separate() {
        if (after_key_) {
            after_key_ = false;
            return;
        }
        if (!first_)
            out_ += ',';
        first_ = false;
    }

    std::string out_;
    bool first_ = true;      // nothing yet in the innermost object or array
    bool after_key_ = false; // a key was written, its value comes next
};

inline std::string snapshot_json(const snapshot& s) {
    json_writer j;
    j.begin_object();
    j.member("root", s.root);
    j.key("devices").begin_array();
    for (const auto& d : s.devices) {
        j.begin_object();
        j.member("minor", d.minor).member("node", d.node).member("source", d.source);
        j.key("identity").begin_object();
        j.member("driver", d.driver).member("version", d.version).member("description", d.desc);
        j.end_object();
        j.member("status", d.status).member("reset_count", d.reset_count).member("open_files", d.open_files);
        j.key("memory").begin_array();
        for (const auto& r : d.memory) {
            j.begin_object();
            j.member("id", r.id).member("name", r.name).member("kind", r.kind).member("total", r.size);
            j.member("used", r.used);
            j.end_object();
        }
        j.end_array();
        j.key("engines").begin_array();
        for (const auto& e : d.engines) {
            j.begin_object();
            j.member("id", e.id).member("name", e.name).member("instances", e.instances);
            j.member("busy_ns", e.busy_ns).member("utilisation", e.utilisation);
            j.end_object();
        }
        j.end_array();
        j.key("sensors");
        if (d.sensors) {
            j.begin_array();
            for (const auto& x : *d.sensors) {
                j.begin_object();
                j.member("name", sensor_name(x)).member("file", sensor_file(x)).member("label", x.label);
                j.member("value", x.value).member("text", sensor_text(x));
                j.end_object();
            }
            j.end_array();
        } else {
            j.null();
        }
        j.key("clients");
        if (d.clients) {
            j.begin_array();
            for (const auto& c : *d.clients) {
                j.begin_object();
                j.member("client_id", c.client_id).member("pid", c.pid).member("uid", c.uid);
                j.member("comm", c.comm).member("name", c.name).member("node", c.node).member("handles", c.handles);
                j.key("engines").begin_array();
                for (const auto& e : c.engines) {
                    j.begin_object();
                    j.member("name", e.engine).member("busy_ns", e.busy_ns).member("utilisation", e.utilisation);
                    j.end_object();
                }
                j.end_array();
                j.key("memory").begin_array();
                for (const auto& m : c.memory) {
                    j.begin_object();
                    j.member("region", m.region).member("total", m.total).member("shared", m.shared);
                    j.member("resident", m.resident).member("active", m.active).member("purgeable", m.purgeable);
                    j.end_object();
                }
                j.end_array();
                j.end_object();
            }
            j.end_array();
        } else {
            j.null();
        }
        j.key("notes").begin_array();
        for (const auto& n : d.notes)
            j.value(n);
        j.end_array();
        j.end_object();
    }
    j.end_array();
    j.key("errors").begin_array();
    for (const auto& e : s.errors)
        j.value(e);
    j.end_array();
    j.end_object();
    return j.str();
}

} // namespace accel_smi

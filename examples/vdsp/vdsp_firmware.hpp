// SPDX-License-Identifier: MIT
#pragma once
// vdsp's firmware: the file format (vdsp_uapi.h, end), its parser (what the driver runs on a
// blob from accel::firmware_loader) and its builder (what vdsp-mkfw and the tests use to make
// files from a text description).
//
// Description (one statement per line, '#' starts a comment):
//   version MAJOR.MINOR        the firmware's version (required)
//   function fir|fft [VER]     a function the firmware provides (function version, default 1)
//   fft_max N                  largest FFT size (a power of two); required with fft
//   window hann|none           the window table (default hann when fft is present)
#include "vdsp_uapi.h"

#include <accel/base/errno.hpp>
#include <accel/core/firmware.hpp>

#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <numbers>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace vdsp {

/// CRC-32 (IEEE 802.3, reflected, zlib's crc32()).
inline std::uint32_t crc32(std::span<const std::byte> data, std::uint32_t crc = 0) noexcept {
    crc = ~crc;
    for (std::byte b : data) {
        crc ^= static_cast<std::uint32_t>(b);
        for (int i = 0; i < 8; ++i)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

/// A parsed, checked firmware image: what the driver runs jobs with.
struct fw_image {
    std::string path;             // where it came from
    std::uint32_t version = 0;    // major << 16 | minor
    bool has_fir = false;
    bool has_fft = false;
    std::uint32_t fir_version = 0, fft_version = 0;
    std::uint32_t fft_max = 0;    // 0 without FFT
    std::vector<float> twiddle;   // fft_max / 2 complex pairs (re, im interleaved)
    std::vector<float> window;    // fft_max floats, or empty

    /// Bitmask of the ops it runs (1 << VDSP_OP_x), NOP included.
    std::uint64_t functions() const noexcept {
        return (1u << VDSP_OP_NOP) | (has_fir ? 1u << VDSP_OP_FIR : 0u) | (has_fft ? 1u << VDSP_OP_FFT : 0u);
    }
};

/// The firmware description (see the file comment).
struct fw_description {
    std::uint32_t version = 0;
    bool fir = false, fft = false;
    std::uint32_t fir_version = 1, fft_version = 1;
    std::uint32_t fft_max = 0;
    bool window = true;
};

namespace detail {
inline bool power_of_two(std::uint64_t n) noexcept { return n >= 2 && (n & (n - 1)) == 0; }
template <class T>
T load(std::span<const std::byte> b, std::size_t at) noexcept {
    T v;
    std::memcpy(&v, b.data() + at, sizeof v);
    return v;
}
} // namespace detail

/// Parses a description; 0, or -EINVAL with `error` saying which line and why.
inline int parse_description(std::string_view text, fw_description& out, std::string& error) {
    fw_description d;
    bool have_version = false, window_set = false;
    unsigned line_no = 0;
    std::istringstream in{std::string(text)};
    for (std::string line; std::getline(in, line);) {
        ++line_no;
        if (auto hash = line.find('#'); hash != std::string::npos)
            line.erase(hash);
        std::istringstream ls(line);
        std::string word;
        if (!(ls >> word))
            continue;
        auto fail = [&](const std::string& why) {
            error = "line " + std::to_string(line_no) + ": " + why;
            return -EINVAL;
        };
        std::string arg, extra;
        if (word == "version") {
            unsigned major = 0, minor = 0;
            char dot = 0;
            if (!(ls >> major >> dot >> minor) || dot != '.' || major > 0xffff || minor > 0xffff)
                return fail("version wants MAJOR.MINOR");
            d.version = major << 16 | minor;
            have_version = true;
        } else if (word == "function") {
            if (!(ls >> arg))
                return fail("function wants fir or fft");
            unsigned ver = 1;
            if (ls >> extra) {
                try {
                    ver = static_cast<unsigned>(std::stoul(extra));
                } catch (...) {
                    return fail("bad function version \"" + extra + "\"");
                }
            }
            if (arg == "fir") {
                if (d.fir)
                    return fail("fir listed twice");
                d.fir = true;
                d.fir_version = ver;
            } else if (arg == "fft") {
                if (d.fft)
                    return fail("fft listed twice");
                d.fft = true;
                d.fft_version = ver;
            } else {
                return fail("unknown function \"" + arg + "\"");
            }
        } else if (word == "fft_max") {
            unsigned long n = 0;
            if (!(ls >> n) || !detail::power_of_two(n) || n > VDSP_FW_MAX_FFT)
                return fail("fft_max wants a power of two in 2.." + std::to_string(VDSP_FW_MAX_FFT));
            d.fft_max = static_cast<std::uint32_t>(n);
        } else if (word == "window") {
            if (!(ls >> arg) || (arg != "hann" && arg != "none"))
                return fail("window wants hann or none");
            d.window = arg == "hann";
            window_set = true;
        } else {
            return fail("unknown statement \"" + word + "\"");
        }
        if (ls >> extra)
            return fail("trailing \"" + extra + "\"");
    }
    if (!have_version) {
        error = "no version";
        return -EINVAL;
    }
    if (d.fft && !d.fft_max) {
        error = "fft needs fft_max";
        return -EINVAL;
    }
    if (!d.fft) {
        d.fft_max = 0;
        if (!window_set)
            d.window = false;
    }
    out = d;
    return 0;
}

/// The firmware file for a description (valid: header, tables, CRC).
inline std::vector<std::byte> build_firmware(const fw_description& d) {
    std::vector<vdsp_fw_function> funcs;
    if (d.fir)
        funcs.push_back(vdsp_fw_function{VDSP_OP_FIR, d.fir_version, 0x100, 0});
    if (d.fft)
        funcs.push_back(vdsp_fw_function{VDSP_OP_FFT, d.fft_version, 0x200, 0});
    std::vector<float> twiddle, window;
    const std::uint32_t n = d.fft_max;
    if (n) {
        for (std::uint32_t k = 0; k < n / 2; ++k) {
            const double a = -2.0 * std::numbers::pi * k / n;
            twiddle.push_back(static_cast<float>(std::cos(a)));
            twiddle.push_back(static_cast<float>(std::sin(a)));
        }
        if (d.window)
            for (std::uint32_t k = 0; k < n; ++k)
                window.push_back(static_cast<float>(0.5 - 0.5 * std::cos(2.0 * std::numbers::pi * k / n)));
    }
    std::vector<vdsp_fw_table> tables;
    const std::size_t dir_end = sizeof(vdsp_fw_header) + funcs.size() * sizeof(vdsp_fw_function) +
                                (static_cast<std::size_t>(!twiddle.empty()) + !window.empty()) * sizeof(vdsp_fw_table);
    std::size_t at = dir_end;
    if (!twiddle.empty()) {
        tables.push_back(vdsp_fw_table{VDSP_FW_TABLE_TWIDDLE, n / 2, static_cast<std::uint32_t>(at),
                                       static_cast<std::uint32_t>(twiddle.size() * 4)});
        at += twiddle.size() * 4;
    }
    if (!window.empty()) {
        tables.push_back(vdsp_fw_table{VDSP_FW_TABLE_WINDOW, n, static_cast<std::uint32_t>(at),
                                       static_cast<std::uint32_t>(window.size() * 4)});
        at += window.size() * 4;
    }
    std::vector<std::byte> out(at);
    vdsp_fw_header h{};
    h.magic = VDSP_FW_MAGIC;
    h.format_version = VDSP_FW_FORMAT_VERSION;
    h.header_size = sizeof h;
    h.total_size = static_cast<std::uint32_t>(at);
    h.fw_version = d.version;
    h.num_functions = static_cast<std::uint32_t>(funcs.size());
    h.num_tables = static_cast<std::uint32_t>(tables.size());
    h.fft_max_size = n;
    std::size_t p = sizeof h;
    if (!funcs.empty())
        std::memcpy(out.data() + p, funcs.data(), funcs.size() * sizeof funcs[0]);
    p += funcs.size() * sizeof(vdsp_fw_function);
    if (!tables.empty())
        std::memcpy(out.data() + p, tables.data(), tables.size() * sizeof tables[0]);
    for (const vdsp_fw_table& t : tables)
        std::memcpy(out.data() + t.offset, t.kind == VDSP_FW_TABLE_TWIDDLE ? twiddle.data() : window.data(), t.size);
    h.crc32 = crc32(std::span<const std::byte>(out).subspan(sizeof h));
    std::memcpy(out.data(), &h, sizeof h);
    return out;
}

/// Recomputes the CRC of a (possibly edited) image in place, so a test can change the contents
/// and still pass the CRC check.
inline void reseal(std::vector<std::byte>& image) {
    if (image.size() < sizeof(vdsp_fw_header))
        return;
    const std::uint32_t c = crc32(std::span<const std::byte>(image).subspan(sizeof(vdsp_fw_header)));
    std::memcpy(image.data() + offsetof(vdsp_fw_header, crc32), &c, sizeof c);
}

/// Checks a firmware blob (in the order vdsp_uapi.h lists) and extracts what jobs need.
/// -EINVAL with ONE line through `log` ("vdsp: firmware NAME (PATH): CHECK check failed: ...")
/// on the first check that fails.
inline accel::result<fw_image> parse_firmware(const accel::firmware& fw, const accel::firmware_loader& log) {
    using out = accel::result<fw_image>;
    const std::span<const std::byte> b = fw.data();
    auto fail = [&](const char* check, const std::string& why) {
        log.log("vdsp: firmware " + fw.name() + " (" + fw.path() + "): " + check + " check failed: " + why);
        return out::failure(-EINVAL);
    };
    if (b.size() < sizeof(vdsp_fw_header))
        return fail("truncated", std::to_string(b.size()) + " bytes, shorter than the 32-byte header");
    const auto h = detail::load<vdsp_fw_header>(b, 0);
    if (h.magic != VDSP_FW_MAGIC)
        return fail("magic", "bad magic");
    if (h.format_version != VDSP_FW_FORMAT_VERSION || h.header_size != sizeof h)
        return fail("version", "format version " + std::to_string(h.format_version) + " (header size " +
                                   std::to_string(h.header_size) + "), this driver reads version " +
                                   std::to_string(VDSP_FW_FORMAT_VERSION));
    if (b.size() < h.total_size)
        return fail("truncated", std::to_string(b.size()) + " bytes of " + std::to_string(h.total_size));
    if (b.size() > h.total_size || h.total_size < sizeof h)
        return fail("size", std::to_string(b.size()) + " bytes, the header says " + std::to_string(h.total_size));
    if (const std::uint32_t c = crc32(b.subspan(sizeof h)); c != h.crc32) {
        char msg[64];
        std::snprintf(msg, sizeof msg, "CRC32 is 0x%08x, the header says 0x%08x", c, h.crc32);
        return fail("crc", msg);
    }
    fw_image img;
    img.path = fw.path();
    img.version = h.fw_version;
    const std::uint64_t funcs_end = sizeof h + std::uint64_t{h.num_functions} * sizeof(vdsp_fw_function);
    const std::uint64_t dir_end = funcs_end + std::uint64_t{h.num_tables} * sizeof(vdsp_fw_table);
    if (dir_end > b.size())
        return fail("layout", "the function and table entries run past the end of the file");
    for (std::uint32_t i = 0; i < h.num_functions; ++i) {
        const auto f = detail::load<vdsp_fw_function>(b, sizeof h + i * sizeof(vdsp_fw_function));
        if (f.reserved)
            return fail("layout", "function " + std::to_string(i) + ": reserved field not 0");
        bool& have = f.op == VDSP_OP_FIR ? img.has_fir : img.has_fft;
        if (f.op != VDSP_OP_FIR && f.op != VDSP_OP_FFT)
            return fail("layout", "function " + std::to_string(i) + ": unknown op " + std::to_string(f.op));
        if (have)
            return fail("layout", "function " + std::to_string(i) + ": op " + std::to_string(f.op) + " listed twice");
        have = true;
        (f.op == VDSP_OP_FIR ? img.fir_version : img.fft_version) = f.version;
    }
    const vdsp_fw_table* twiddle = nullptr;
    const vdsp_fw_table* window = nullptr;
    std::vector<vdsp_fw_table> tables(h.num_tables);
    for (std::uint32_t i = 0; i < h.num_tables; ++i) {
        tables[i] = detail::load<vdsp_fw_table>(b, funcs_end + i * sizeof(vdsp_fw_table));
        const vdsp_fw_table& t = tables[i];
        if (t.offset % 4 || t.offset < dir_end || t.offset > b.size() || t.size > b.size() - t.offset)
            return fail("layout", "table " + std::to_string(i) + ": data outside the file or misaligned");
        const vdsp_fw_table** slot = t.kind == VDSP_FW_TABLE_TWIDDLE ? &twiddle
                                     : t.kind == VDSP_FW_TABLE_WINDOW ? &window
                                                                      : nullptr;
        if (!slot)
            return fail("layout", "table " + std::to_string(i) + ": unknown kind " + std::to_string(t.kind));
        if (*slot)
            return fail("layout", "table " + std::to_string(i) + ": kind " + std::to_string(t.kind) + " listed twice");
        *slot = &t;
    }
    const std::uint32_t n = h.fft_max_size;
    if (img.has_fft) {
        if (!detail::power_of_two(n) || n > VDSP_FW_MAX_FFT)
            return fail("tables", "fft_max_size " + std::to_string(n) + " is not a power of two in 2.." +
                                      std::to_string(VDSP_FW_MAX_FFT));
        if (!twiddle)
            return fail("tables", "FFT without a twiddle table");
    }
    if (twiddle && (twiddle->entries != n / 2 || twiddle->size != std::uint64_t{n / 2} * 8 || n == 0))
        return fail("tables", "twiddle table: " + std::to_string(twiddle->entries) + " entries in " +
                                  std::to_string(twiddle->size) + " bytes for fft_max_size " + std::to_string(n));
    if (window && (window->entries != n || window->size != std::uint64_t{n} * 4 || n == 0))
        return fail("tables", "window table: " + std::to_string(window->entries) + " entries in " +
                                  std::to_string(window->size) + " bytes for fft_max_size " + std::to_string(n));
    img.fft_max = img.has_fft ? n : 0;
    if (img.has_fft) {
        img.twiddle.resize(std::size_t{n});
        std::memcpy(img.twiddle.data(), b.data() + twiddle->offset, twiddle->size);
        if (window) {
            img.window.resize(n);
            std::memcpy(img.window.data(), b.data() + window->offset, window->size);
        }
    }
    return img;
}

} // namespace vdsp

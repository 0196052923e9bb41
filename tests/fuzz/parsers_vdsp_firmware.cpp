// SPDX-License-Identifier: MIT
// accel_fuzz_vdsp_firmware: vdsp's firmware parser (examples/vdsp/vdsp_firmware.hpp) on any
// bytes, and its description parser and image builder (what vdsp-mkfw runs).
//
// Input: a mode byte, then the payload.
//   mode & 3 == 0: the payload is the firmware file as it is;
//             1: the same with its CRC recomputed (so mutations get past the "crc" check);
//             2: the same with total_size set to the payload's size, then the CRC recomputed;
//             3: the payload is a text description: parse_description(), and when it is
//                accepted build_firmware() then parse_firmware() (a round trip).
// Checks:
//  - parse_firmware() answers an image or -EINVAL, never anything else;
//  - a rejected image logs exactly one line, "vdsp: firmware NAME (PATH): CHECK check failed: ...",
//    whose CHECK is the first failing check in vdsp_uapi.h's documented order, computed here
//    independently; an accepted image logs nothing;
//  - an accepted image is self-consistent with the file: every documented check holds
//    (recomputed here), version and functions as in the header and function table, the
//    twiddle and window tables exactly the bytes the table directory points at, inside the file;
//  - a description parse_description() accepts builds an image parse_firmware() accepts and
//    that says what the description said; a rejected description gives -EINVAL and a reason.
#include "parsers_common.hpp"
#include "vdsp_firmware.hpp"

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

using accel::fuzz_parsers::fail;

const char accel::fuzz_parsers::target_name[] = "accel_fuzz_vdsp_firmware";

namespace {

template <class T>
T load(const std::vector<std::byte>& b, std::size_t at) {
    T v;
    std::memcpy(&v, b.data() + at, sizeof v);
    return v;
}

bool pow2(std::uint64_t n) { return n >= 2 && (n & (n - 1)) == 0; }

/// The first documented check `b` fails ("" when it passes them all), written from
/// vdsp_uapi.h's list, not from the parser.
std::string first_failing_check(const std::vector<std::byte>& b) {
    if (b.size() < sizeof(vdsp_fw_header))
        return "truncated";
    const auto h = load<vdsp_fw_header>(b, 0);
    if (h.magic != VDSP_FW_MAGIC)
        return "magic";
    if (h.format_version != VDSP_FW_FORMAT_VERSION || h.header_size != 32)
        return "version";
    if (b.size() < h.total_size)
        return "truncated";
    if (b.size() > h.total_size || h.total_size < 32)
        return "size";
    if (vdsp::crc32(std::span<const std::byte>(b).subspan(32)) != h.crc32)
        return "crc";
    const unsigned __int128 funcs_end = 32 + static_cast<unsigned __int128>(h.num_functions) * 16;
    const unsigned __int128 dir_end = funcs_end + static_cast<unsigned __int128>(h.num_tables) * 16;
    if (dir_end > b.size())
        return "layout";
    bool fir = false, fft = false;
    for (std::uint32_t i = 0; i < h.num_functions; ++i) {
        const auto f = load<vdsp_fw_function>(b, 32 + std::size_t{i} * 16);
        if (f.reserved || (f.op != VDSP_OP_FIR && f.op != VDSP_OP_FFT))
            return "layout";
        bool& have = f.op == VDSP_OP_FIR ? fir : fft;
        if (have)
            return "layout";
        have = true;
    }
    int twiddle = -1, window = -1;
    std::vector<vdsp_fw_table> t(h.num_tables);
    for (std::uint32_t i = 0; i < h.num_tables; ++i) {
        t[i] = load<vdsp_fw_table>(b, static_cast<std::size_t>(funcs_end) + std::size_t{i} * 16);
        if (t[i].offset % 4 || t[i].offset < dir_end || std::uint64_t{t[i].offset} + t[i].size > b.size())
            return "layout";
        int* slot = t[i].kind == VDSP_FW_TABLE_TWIDDLE ? &twiddle : t[i].kind == VDSP_FW_TABLE_WINDOW ? &window : nullptr;
        if (!slot || *slot >= 0)
            return "layout";
        *slot = static_cast<int>(i);
    }
    const std::uint64_t n = h.fft_max_size;
    if (fft && (!pow2(n) || n > VDSP_FW_MAX_FFT || twiddle < 0))
        return "tables";
    if (twiddle >= 0 && (n == 0 || t[twiddle].entries != n / 2 || t[twiddle].size != n / 2 * 8))
        return "tables";
    if (window >= 0 && (n == 0 || t[window].entries != n || t[window].size != n * 4))
        return "tables";
    return "";
}

/// An accepted image against the file it came from.
void check_image(const vdsp::fw_image& img, const std::vector<std::byte>& b) {
    EXPECT(first_failing_check(b).empty());
    const auto h = load<vdsp_fw_header>(b, 0);
    EXPECT(img.version == h.fw_version);
    bool fir = false, fft = false;
    std::uint32_t fir_v = 0, fft_v = 0;
    for (std::uint32_t i = 0; i < h.num_functions; ++i) {
        const auto f = load<vdsp_fw_function>(b, 32 + std::size_t{i} * 16);
        (f.op == VDSP_OP_FIR ? fir : fft) = true;
        (f.op == VDSP_OP_FIR ? fir_v : fft_v) = f.version;
    }
    EXPECT(img.has_fir == fir && img.has_fft == fft);
    EXPECT(!fir || img.fir_version == fir_v);
    EXPECT(!fft || img.fft_version == fft_v);
    EXPECT(img.functions() == ((1u << VDSP_OP_NOP) | (fir ? 1u << VDSP_OP_FIR : 0u) | (fft ? 1u << VDSP_OP_FFT : 0u)));
    if (!fft) {
        EXPECT(img.fft_max == 0 && img.twiddle.empty() && img.window.empty());
        return;
    }
    EXPECT(img.fft_max == h.fft_max_size && pow2(img.fft_max) && img.fft_max <= VDSP_FW_MAX_FFT);
    const std::size_t dir = 32 + std::size_t{h.num_functions} * 16;
    bool saw_window = false;
    for (std::uint32_t i = 0; i < h.num_tables; ++i) {
        const auto t = load<vdsp_fw_table>(b, dir + std::size_t{i} * 16);
        EXPECT(std::uint64_t{t.offset} + t.size <= b.size());
        const std::vector<float>& v = t.kind == VDSP_FW_TABLE_TWIDDLE ? img.twiddle : img.window;
        EXPECT(v.size() * 4 == t.size);
        EXPECT(t.size == 0 || std::memcmp(v.data(), b.data() + t.offset, t.size) == 0);
        saw_window |= t.kind == VDSP_FW_TABLE_WINDOW;
    }
    EXPECT(img.twiddle.size() == img.fft_max);
    EXPECT(saw_window == !img.window.empty());
}

/// Parses `bytes` as the loader would hand them over; checks the answer and the log.
accel::result<vdsp::fw_image> parse_checked(const std::vector<std::byte>& bytes) {
    std::vector<std::string> lines;
    accel::firmware_loader log;
    log.set_log([&](std::string_view l) { lines.emplace_back(l); });
    const accel::firmware fw("accel/vdsp.fw", "/lib/firmware/accel/vdsp.fw", bytes);
    auto r = vdsp::parse_firmware(fw, log);
    const std::string want = first_failing_check(bytes);
    if (r) {
        if (!want.empty())
            fail("accepted an image that fails the check", want);
        EXPECT(lines.empty());
        check_image(*r, bytes);
    } else {
        EXPECT(r.error() == -EINVAL);
        if (want.empty())
            fail("rejected an image that passes every documented check", lines.empty() ? "" : lines[0]);
        EXPECT(lines.size() == 1);
        const std::string prefix = "vdsp: firmware accel/vdsp.fw (/lib/firmware/accel/vdsp.fw): " + want + " check failed: ";
        if (lines[0].compare(0, prefix.size(), prefix) != 0)
            fail("log line names the wrong check, want", want + ": " + lines[0]);
    }
    return r;
}

void description_round_trip(const std::uint8_t* p, std::size_t n) {
    const std::string_view text(reinterpret_cast<const char*>(p), n);
    vdsp::fw_description d;
    std::string error;
    const int e = vdsp::parse_description(text, d, error);
    if (e != 0) {
        EXPECT(e == -EINVAL);
        EXPECT(!error.empty());
        return;
    }
    EXPECT(d.fft_max <= VDSP_FW_MAX_FFT && (d.fft ? pow2(d.fft_max) : d.fft_max == 0));
    const std::vector<std::byte> image = vdsp::build_firmware(d);
    auto img = parse_checked(image);
    if (!img)
        fail("a built image was rejected");
    EXPECT(img->version == d.version && img->has_fir == d.fir && img->has_fft == d.fft);
    EXPECT(!d.fir || img->fir_version == d.fir_version);
    EXPECT(!d.fft || img->fft_version == d.fft_version);
    EXPECT(img->fft_max == d.fft_max);
    EXPECT(img->window.empty() == !(d.fft && d.window));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1)
        return 0;
    const unsigned mode = data[0] & 3;
    if (mode == 3) {
        description_round_trip(data + 1, size - 1);
        return 0;
    }
    std::vector<std::byte> bytes(reinterpret_cast<const std::byte*>(data + 1), reinterpret_cast<const std::byte*>(data + size));
    if (mode == 2 && bytes.size() >= sizeof(vdsp_fw_header)) {
        const auto total = static_cast<std::uint32_t>(bytes.size());
        std::memcpy(bytes.data() + offsetof(vdsp_fw_header, total_size), &total, sizeof total);
    }
    if (mode >= 1)
        vdsp::reseal(bytes);
    (void)parse_checked(bytes);
    return 0;
}

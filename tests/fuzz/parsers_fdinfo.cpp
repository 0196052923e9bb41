// SPDX-License-Identifier: MIT
// accel_fuzz_fdinfo: the fdinfo producer (core/fdinfo.hpp) and the ACCEL_IOCTL_FDINFO /
// SET_CLIENT_NAME path that feeds it (core/info_ioctl.hpp, core/core_ioctls.hpp).
//
// Input: a mode byte, then
//   mode & 1 == 0: a record for format_fdinfo(), read field by field from the bytes: driver
//     name (one of a few), client id, client name (kept only when SET_CLIENT_NAME would accept
//     it), engines (names of any bytes but NUL, busy time, capacity, clock, now), regions (any
//     sizes and show flags), and the rest of the bytes as the driver's show_fdinfo text;
//   mode & 1 == 1: through backend::mock on a test_driver device: SET_CLIENT_NAME with any bytes
//     (length, null pointer), then ACCEL_IOCTL_FDINFO with any length, client id and flags on
//     the compute or the monitor node, into a canary-filled buffer.
// Checks: the text is lines "key:<value>\n" whose key is non-empty without whitespace, ':' or
// control characters; the framework's lines are exactly the documented ones ("key:\tvalue", in
// order; names through keystr; sizes by drm_fdinfo_print_size's rule, re-derived here; cycles
// recomputed in 128-bit arithmetic, saturating); every other line is a "<driver>-" line of the
// driver's text, verbatim and in order, and every such line of the driver's text is there;
// SET_CLIENT_NAME accepts exactly printable ASCII without spaces up to 64 bytes; FDINFO answers
// the size for length 0, -EINVAL for a short length, and writes nothing past the text.
#include "parsers_common.hpp"
#include "test_drivers.hpp"

#include <accel/accel.hpp>
#include <accel/backend/mock.hpp>
#include <accel/core/fdinfo.hpp>
#include <accel/uapi/accel_info.h>
#include <accel/uapi/accel_monitor.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

using namespace accel;
using accel::fuzz_parsers::fail;
using accel::fuzz_parsers::reader;

const char accel::fuzz_parsers::target_name[] = "accel_fuzz_fdinfo";

namespace {

using world = fuzz_parsers::device_world<test::test_driver>;

bool printable_no_space(std::string_view s) {
    for (unsigned char c : s)
        if (c <= 0x20 || c >= 0x7f)
            return false;
    return true;
}

/// The <keystr> of a name, as the file comment says (whitespace and ':' -> '_', "" -> "_").
std::string keystr(std::string_view s) {
    std::string k;
    for (char c : s)
        k += (c == ':' || c == ' ' || (c >= '\t' && c <= '\r')) ? '_' : c;
    return k.empty() ? "_" : k;
}

std::string u64s(std::uint64_t v) { return std::to_string(v); }

/// drm_fdinfo_print_size's value: divided by 1024 while non-zero and a multiple, at most twice.
std::string size_value(std::uint64_t sz) {
    const char* units[] = {"", " KiB", " MiB"};
    int u = 0;
    while (u < 2 && sz != 0 && sz % 1024 == 0) {
        sz /= 1024;
        ++u;
    }
    return u64s(sz) + units[u];
}

std::uint64_t cycles(std::uint64_t ns, std::uint64_t hz) {
    const unsigned __int128 h = hz > 10'000'000'000ull ? 10'000'000'000ull : hz;
    const unsigned __int128 c = static_cast<unsigned __int128>(ns) * h / 1'000'000'000u;
    return c > UINT64_MAX ? UINT64_MAX : static_cast<std::uint64_t>(c);
}

std::vector<std::string> split_lines(const std::string& text) {
    if (text.empty() || text.back() != '\n')
        fail("fdinfo text does not end with a newline");
    std::vector<std::string> lines;
    std::size_t at = 0;
    while (at < text.size()) {
        const std::size_t nl = text.find('\n', at);
        lines.push_back(text.substr(at, nl - at));
        at = nl + 1;
    }
    return lines;
}

/// Every line "key:<value>" with a clean key.
void check_keys(const std::vector<std::string>& lines) {
    for (const std::string& l : lines) {
        const std::size_t colon = l.find(':');
        if (colon == std::string::npos || colon == 0)
            fail("a line without a key", l);
        for (std::size_t i = 0; i < colon; ++i) {
            const auto c = static_cast<unsigned char>(l[i]);
            if (c <= 0x20 || c == 0x7f)
                fail("a key with whitespace or a control character", l);
        }
    }
}

/// The driver's lines that must survive, verbatim (the documented rule, written here again).
std::vector<std::string> kept_driver_lines(std::string_view driver, std::string_view keys) {
    std::vector<std::string> kept;
    while (!keys.empty()) {
        const std::size_t nl = keys.find('\n');
        const std::string_view line = keys.substr(0, nl);
        keys = nl == std::string_view::npos ? std::string_view{} : keys.substr(nl + 1);
        const std::size_t colon = line.find(':');
        if (colon == std::string_view::npos)
            continue;
        const std::string_view key = line.substr(0, colon);
        const bool clean_key = std::none_of(key.begin(), key.end(), [](char c) {
            return static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) == 0x7f;
        });
        if (key.size() > driver.size() + 1 && key.starts_with(driver) && key[driver.size()] == '-' && clean_key &&
            line.find('\0') == std::string_view::npos)
            kept.emplace_back(line);
    }
    return kept;
}

/// An engine or region name as a driver declares it (a C string in its code): any bytes but
/// NUL and the control characters that are not whitespace (keystr handles whitespace and ':').
std::string declared_name(reader& in) {
    std::string s = in.bytes(in.get<std::uint8_t>() % 40);
    std::erase_if(s, [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return (u < 0x20 && !(u >= '\t' && u <= '\r')) || u == 0x7f;
    });
    return s;
}

void direct(reader in) {
    static const char* drivers[] = {"test", "vdnn", "vdsp", "a-b"};
    fdinfo_record r;
    r.driver = drivers[in.get<std::uint8_t>() % 4];
    r.client_id = in.get<std::uint64_t>();
    r.client_name = in.bytes(in.get<std::uint8_t>() % 72);
    if (r.client_name.size() > ACCEL_CLIENT_NAME_MAX_LEN || !printable_no_space(r.client_name))
        r.client_name.clear(); // SET_CLIENT_NAME would have refused it
    const unsigned engines = in.get<std::uint8_t>() % 5;
    for (unsigned i = 0; i < engines; ++i) {
        fdinfo_engine e;
        e.name = declared_name(in);
        e.busy_ns = in.get<std::uint64_t>();
        e.capacity = in.get<std::uint32_t>();
        e.clock_hz = in.get<std::uint64_t>();
        e.now_ns = in.get<std::uint64_t>();
        r.engines.push_back(e);
    }
    const unsigned regions = in.get<std::uint8_t>() % 5;
    for (unsigned i = 0; i < regions; ++i) {
        fdinfo_region m;
        m.name = declared_name(in);
        m.total = in.get<std::uint64_t>();
        m.shared = in.get<std::uint64_t>();
        m.active = in.get<std::uint64_t>();
        m.resident = in.get<std::uint64_t>();
        m.purgeable = in.get<std::uint64_t>();
        const auto show = in.get<std::uint8_t>();
        m.show_active = show & 1;
        m.show_resident = show & 2;
        m.show_purgeable = show & 4;
        r.regions.push_back(m);
    }
    r.driver_keys = in.rest();

    const std::string text = format_fdinfo(r);
    const std::vector<std::string> lines = split_lines(text);
    check_keys(lines);
    std::vector<std::string> want = {"drm-driver:\t" + r.driver, "drm-client-id:\t" + u64s(r.client_id)};
    if (!r.client_name.empty())
        want.push_back("drm-client-name:\t" + r.client_name);
    for (const fdinfo_engine& e : r.engines) {
        const std::string k = keystr(e.name);
        want.push_back("drm-engine-" + k + ":\t" + u64s(e.busy_ns) + " ns");
        if (e.capacity > 1)
            want.push_back("drm-engine-capacity-" + k + ":\t" + u64s(e.capacity));
        if (e.clock_hz) {
            want.push_back("drm-cycles-" + k + ":\t" + u64s(cycles(e.busy_ns, e.clock_hz)));
            want.push_back("drm-total-cycles-" + k + ":\t" + u64s(cycles(e.now_ns, e.clock_hz)));
        }
    }
    for (const fdinfo_region& m : r.regions) {
        const std::string k = keystr(m.name);
        want.push_back("drm-total-" + k + ":\t" + size_value(m.total));
        want.push_back("drm-shared-" + k + ":\t" + size_value(m.shared));
        if (m.show_active)
            want.push_back("drm-active-" + k + ":\t" + size_value(m.active));
        if (m.show_resident)
            want.push_back("drm-resident-" + k + ":\t" + size_value(m.resident));
        if (m.show_purgeable)
            want.push_back("drm-purgeable-" + k + ":\t" + size_value(m.purgeable));
    }
    for (std::string& l : kept_driver_lines(r.driver, r.driver_keys))
        want.push_back(std::move(l));
    if (lines.size() != want.size())
        fail("fdinfo line count", u64s(lines.size()) + " vs " + u64s(want.size()));
    for (std::size_t i = 0; i < lines.size(); ++i)
        if (lines[i] != want[i])
            fail("fdinfo line differs:", "got \"" + lines[i] + "\" want \"" + want[i] + "\"");
}

void through_mock(reader in) {
    world& w = fuzz_parsers::the_world<world>();
    backend::mock& m = w.mock;
    const auto cfg = in.get<std::uint8_t>();
    const int fd = m.open(w.node(node_kind::compute));
    EXPECT(fd >= 0);
    const int mon = (cfg & 1) ? m.open(w.node(node_kind::monitor)) : -1;
    accel_info_identity id{};
    accel_info_item item{ACCEL_INFO_IDENTITY, sizeof id, 0, 0, reinterpret_cast<std::uintptr_t>(&id)};
    accel_info q{1, 0, reinterpret_cast<std::uintptr_t>(&item)};
    EXPECT(m.ioctl(fd, ACCEL_IOCTL_INFO, &q) == 0 && item.length == sizeof id);

    // Up to three names in a row: the last accepted one counts.
    std::string name;
    const unsigned sets = cfg >> 5 & 3;
    for (unsigned s = 0; s < sets; ++s) {
        const auto len = in.get<std::uint8_t>();
        const bool null = len & 0x80;
        const std::size_t n = len & 0x7f;
        std::string bytes = in.bytes(n);
        bytes.resize(n, 'x');
        accel_set_client_name a{n, null ? 0 : reinterpret_cast<std::uintptr_t>(bytes.data())};
        const int ret = m.ioctl(fd, ACCEL_IOCTL_SET_CLIENT_NAME, &a);
        int want = 0;
        if (n > ACCEL_CLIENT_NAME_MAX_LEN)
            want = -EINVAL;
        else if (n && null)
            want = -EFAULT;
        else if (!printable_no_space(bytes))
            want = -EINVAL;
        if (ret != want)
            fail("SET_CLIENT_NAME answer", u64s(static_cast<std::uint64_t>(-ret)) + " for \"" + bytes + "\"");
        if (ret == 0)
            name = bytes;
    }

    // FDINFO: whose, how much room, which node.
    const bool other = cfg & 2;
    const std::uint64_t client = other ? in.get<std::uint64_t>() : id.client_id;
    const auto flags = (cfg & 4) ? in.get<std::uint32_t>() : 0u;
    const auto length = in.get<std::uint32_t>() % 8192;
    const int via = mon >= 0 ? mon : fd;
    std::vector<char> buf(8192 + 64, '\x5a');
    accel_fdinfo a{client, reinterpret_cast<std::uintptr_t>(buf.data()), length, flags};
    const int ret = m.ioctl(via, ACCEL_IOCTL_FDINFO, &a);
    if (flags) {
        EXPECT(ret == -EINVAL);
    } else if (via == fd && client != id.client_id) {
        EXPECT(ret == -EACCES);
    } else if (client != id.client_id && ret == -ENOENT) {
        // another id, not open (the monitor node may name any client that is)
    } else if (ret == -EINVAL) {
        EXPECT(length != 0);
        accel_fdinfo size_q{client, 0, 0, 0};
        EXPECT(m.ioctl(via, ACCEL_IOCTL_FDINFO, &size_q) == 0);
        EXPECT(length < size_q.length);
        EXPECT(a.length == length);
    } else {
        EXPECT(ret == 0);
        if (length == 0) {
            EXPECT(std::all_of(buf.begin(), buf.end(), [](char c) { return c == '\x5a'; }));
        } else {
            EXPECT(a.length <= length);
            EXPECT(std::all_of(buf.begin() + a.length, buf.end(), [](char c) { return c == '\x5a'; }));
            if (client == id.client_id) {
                const std::string text(buf.data(), a.length);
                const auto lines = split_lines(text);
                check_keys(lines);
                EXPECT(lines[0] == "drm-driver:\ttest");
                EXPECT(lines[1] == "drm-client-id:\t" + u64s(id.client_id));
                EXPECT(name.empty() ? !lines[2].starts_with("drm-client-name:")
                                    : lines[2] == "drm-client-name:\t" + name);
                for (const std::string& l : lines)
                    EXPECT(l.starts_with("drm-") ? !l.starts_with("drm-engine-forged") : l.starts_with("test-"));
            }
        }
    }
    if (mon >= 0)
        EXPECT(m.close(mon) == 0);
    EXPECT(m.close(fd) == 0);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1)
        return 0;
    reader in{data + 1, size - 1};
    if (data[0] & 1)
        through_mock(in);
    else
        direct(in);
    return 0;
}

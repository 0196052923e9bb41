// SPDX-License-Identifier: MIT
// accel::firmware_loader (core/firmware.hpp): the search path, its errnos and log lines; vdsp's
// firmware format: the description, the builder, every check of the parser with its errno and
// its one log line.
#include "vdsp_firmware.hpp"
#include "vdsp_test_util.hpp"

#include <accel/core/firmware.hpp>

#include <doctest/doctest.h>

#include <climits>
#include <cstddef>
#include <cstdlib>
#include <string>
#include <sys/stat.h>
#include <sys/utsname.h>

using namespace vdsp;
using namespace vdsp::test;

namespace {
std::vector<std::byte> bytes(std::string_view s) {
    std::vector<std::byte> b(s.size());
    std::memcpy(b.data(), s.data(), s.size());
    return b;
}
std::string text(const accel::firmware& fw) {
    return std::string(reinterpret_cast<const char*>(fw.data().data()), fw.size());
}
bool contains(const std::string& s, std::string_view what) { return s.find(what) != std::string::npos; }
} // namespace

TEST_CASE("loader: the kernel's search order under a root") {
    temp_dir root;
    log_capture log;
    auto l = accel::firmware_loader::under_root(root.path);
    l.set_release("6.1.0-test");
    l.set_log(log.sink());
    const std::string base = root.path + "/lib/firmware";
    CHECK(l.search_path() == std::vector<std::string>{base + "/updates/6.1.0-test", base + "/updates",
                                                       base + "/6.1.0-test", base});
    temp_dir custom;
    l.set_custom_path(custom.path);
    CHECK(l.search_path().front() == custom.path);

    root.write("lib/firmware/x/fw.bin", "plain");
    root.write("lib/firmware/6.1.0-test/x/fw.bin", "release");
    root.write("lib/firmware/updates/x/fw.bin", "updates");
    root.write("lib/firmware/updates/6.1.0-test/x/fw.bin", "updates-release");
    const std::string found[] = {"updates-release", "updates", "release", "plain"};
    const std::string dirs[] = {"lib/firmware/updates/6.1.0-test", "lib/firmware/updates", "lib/firmware/6.1.0-test",
                                "lib/firmware"};
    custom.write("x/fw.bin", "custom");
    auto r = l.request("x/fw.bin");
    REQUIRE(r);
    CHECK(text(*r) == "custom");
    CHECK(r->path() == custom.path + "/x/fw.bin");
    CHECK(r->name() == "x/fw.bin");
    std::filesystem::remove(custom.path + "/x/fw.bin");
    for (int i = 0; i < 4; ++i) {
        auto f = l.request("x/fw.bin");
        REQUIRE(f);
        CHECK(text(*f) == found[i]);
        CHECK(f->path() == root.path + "/" + dirs[i] + "/x/fw.bin");
        std::filesystem::remove(f->path());
    }
    CHECK(log.take().empty()); // files not there are skipped silently
    CHECK(l.request("x/fw.bin").error() == -ENOENT);
    const auto lines = log.take();
    REQUIRE(lines.size() == 1);
    CHECK(contains(lines[0], "Direct firmware load for x/fw.bin failed with error -2"));
}

TEST_CASE("loader: uname's release by default, an explicit list, quiet") {
    struct utsname u {};
    REQUIRE(::uname(&u) == 0);
    auto l = accel::firmware_loader::under_root("/nonexistent-root");
    CHECK(l.search_path().front() == std::string("/nonexistent-root/lib/firmware/updates/") + u.release);

    temp_dir a, b;
    log_capture log;
    auto e = accel::firmware_loader::with_path({a.path, b.path});
    e.set_log(log.sink());
    CHECK(e.search_path() == std::vector<std::string>{a.path, b.path});
    b.write("f", "b");
    CHECK(text(*e.request("f")) == "b");
    a.write("f", "a");
    CHECK(text(*e.request("f")) == "a");
    e.set_quiet(true);
    CHECK(e.request("g").error() == -ENOENT);
    CHECK(log.take().empty());
}

TEST_CASE("loader: bad names are -EINVAL with a warning, long paths -ENAMETOOLONG") {
    temp_dir d;
    log_capture log;
    auto l = accel::firmware_loader::with_path({d.path});
    l.set_log(log.sink());
    d.write("ok", "x");
    for (const char* bad : {"", "..", "../ok", "a/../ok", "a/.."}) {
        CAPTURE(bad);
        CHECK(l.request(bad).error() == -EINVAL);
        const auto lines = log.take();
        REQUIRE(lines.size() == 1);
        CHECK(contains(lines[0], "invalid firmware name"));
    }
    CHECK(l.request(static_cast<const char*>(nullptr)).error() == -EINVAL);
    CHECK(log.take().size() == 1);
    // ".." inside a component is an ordinary name.
    d.write("a..b", "y");
    CHECK(text(*l.request("a..b")) == "y");

    const std::string long_name(PATH_MAX, 'n');
    CHECK(l.request(long_name).error() == -ENAMETOOLONG);
    const auto lines = log.take();
    REQUIRE(lines.size() == 1);
    CHECK(contains(lines[0], "too long"));
}

TEST_CASE("loader: a read error is logged and the search goes on") {
    temp_dir a, b;
    log_capture log;
    auto l = accel::firmware_loader::with_path({a.path, b.path});
    l.set_log(log.sink());
    std::filesystem::create_directories(a.path + "/fw"); // a directory where the file should be
    b.write("fw", "good");
    auto r = l.request("fw");
    REQUIRE(r);
    CHECK(text(*r) == "good");
    auto lines = log.take();
    REQUIRE(lines.size() == 1);
    CHECK(contains(lines[0], a.path + "/fw"));
    CHECK(contains(lines[0], "error -21")); // EISDIR

    // Found nowhere readable: -ENOENT in the end, after the logged error.
    std::filesystem::remove(b.path + "/fw");
    CHECK(l.request("fw").error() == -ENOENT);
    lines = log.take();
    REQUIRE(lines.size() == 2);
    CHECK(contains(lines[1], "Direct firmware load for fw failed"));
}

TEST_CASE("loader: from_environment (ACCEL_FIRMWARE_PATH, ACCEL_FIRMWARE_ROOT)") {
    temp_dir a, b;
    ::setenv("ACCEL_FIRMWARE_PATH", (a.path + "::" + b.path).c_str(), 1);
    CHECK(accel::firmware_loader::from_environment().search_path() == std::vector<std::string>{a.path, b.path});
    ::unsetenv("ACCEL_FIRMWARE_PATH");
    ::setenv("ACCEL_FIRMWARE_ROOT", a.path.c_str(), 1);
    CHECK(accel::firmware_loader::from_environment().search_path().back() == a.path + "/lib/firmware");
    ::unsetenv("ACCEL_FIRMWARE_ROOT");
    CHECK(accel::firmware_loader::from_environment().search_path().back() == "/lib/firmware");
}

// ---- the vdsp format -------------------------------------------------------------------------

TEST_CASE("crc32 is zlib's") {
    CHECK(crc32(bytes("123456789")) == 0xCBF43926u);
    CHECK(crc32({}) == 0u);
}

TEST_CASE("description: the shipped one, and errors with a line number") {
    fw_description d;
    std::string err;
    REQUIRE(parse_description("# c\nversion 1.0\nfunction fir 1\nfunction fft 1\nfft_max 4096\nwindow hann\n", d, err) == 0);
    CHECK(d.version == 0x10000u);
    CHECK(d.fir);
    CHECK(d.fft);
    CHECK(d.fft_max == 4096);
    CHECK(build_firmware(d) == shipped_image());
    REQUIRE(parse_description("version 2.3\nfunction fir 7\n", d, err) == 0);
    CHECK(d.version == 0x20003u);
    CHECK_FALSE(d.fft);
    CHECK(d.fir_version == 7);
    for (const char* bad : {"function fir\n", "version 1.0\nfunction dct\n", "version 1.0\nfunction fft\n",
                            "version 1.0\nfft_max 1000\n", "version 1.0\nbogus\n", "version 1.0 extra\n",
                            "version 1.0\nfunction fir\nfunction fir\n", "version 1.0\nwindow blackman\n"}) {
        CAPTURE(bad);
        CHECK(parse_description(bad, d, err) == -EINVAL);
        CHECK_FALSE(err.empty());
    }
    CHECK(parse_description("version 1.0\nbogus\n", d, err) == -EINVAL);
    CHECK(err.rfind("line 2:", 0) == 0);
}

namespace {
/// parse_firmware on an image: the errno and the log lines it wrote.
int parse(const std::vector<std::byte>& img, std::vector<std::string>& lines, fw_image* out = nullptr) {
    log_capture log;
    accel::firmware_loader l;
    l.set_log(log.sink());
    accel::firmware fw("accel/vdsp.fw", "/some/dir/accel/vdsp.fw", img);
    auto r = parse_firmware(fw, l);
    lines = log.take();
    if (r && out)
        *out = *r;
    return r.error();
}
template <class T>
void poke(std::vector<std::byte>& img, std::size_t at, T v) {
    std::memcpy(img.data() + at, &v, sizeof v);
}
/// The one line a failed check must write.
void one_line(const std::vector<std::string>& lines, const char* check) {
    REQUIRE(lines.size() == 1);
    CHECK(contains(lines[0], "accel/vdsp.fw"));
    CHECK(contains(lines[0], "/some/dir/accel/vdsp.fw"));
    CHECK(contains(lines[0], std::string(check) + " check failed"));
}
} // namespace

TEST_CASE("parser: a valid image and its tables") {
    std::vector<std::string> lines;
    fw_image img;
    REQUIRE(parse(shipped_image(), lines, &img) == 0);
    CHECK(lines.empty());
    CHECK(img.version == 0x10000u);
    CHECK(img.has_fir);
    CHECK(img.has_fft);
    CHECK(img.fft_max == 4096);
    CHECK(img.functions() == 7u);
    REQUIRE(img.twiddle.size() == 4096);
    CHECK(img.twiddle[0] == 1.0f);
    CHECK(std::abs(img.twiddle[2 * 1024 + 1] + 1.0f) < 1e-6f); // w[N/4] = -i
    REQUIRE(img.window.size() == 4096);
    CHECK(img.window[0] == 0.0f);
    CHECK(std::abs(img.window[2048] - 1.0f) < 1e-6f);

    fw_description d;
    d.version = 3;
    d.fir = true;
    REQUIRE(parse(build_firmware(d), lines, &img) == 0);
    CHECK(img.functions() == 3u);
    CHECK(img.fft_max == 0);
    CHECK(img.twiddle.empty());
}

TEST_CASE("parser: every check is -EINVAL with one line naming the file and the check") {
    const auto good = shipped_image();
    std::vector<std::string> lines;
    SUBCASE("truncated: shorter than the header") {
        CHECK(parse(std::vector<std::byte>(good.begin(), good.begin() + 31), lines) == -EINVAL);
        one_line(lines, "truncated");
        CHECK(parse({}, lines) == -EINVAL);
        one_line(lines, "truncated");
    }
    SUBCASE("magic") {
        auto img = good;
        img[0] = std::byte{'X'};
        CHECK(parse(img, lines) == -EINVAL);
        one_line(lines, "magic");
    }
    SUBCASE("version") {
        auto img = good;
        poke<std::uint16_t>(img, offsetof(vdsp_fw_header, format_version), 2);
        CHECK(parse(img, lines) == -EINVAL);
        one_line(lines, "version");
        img = good;
        poke<std::uint16_t>(img, offsetof(vdsp_fw_header, header_size), 48);
        CHECK(parse(img, lines) == -EINVAL);
        one_line(lines, "version");
    }
    SUBCASE("truncated: shorter than total_size") {
        CHECK(parse(std::vector<std::byte>(good.begin(), good.end() - 1), lines) == -EINVAL);
        one_line(lines, "truncated");
    }
    SUBCASE("size: longer than total_size") {
        auto img = good;
        img.push_back(std::byte{0});
        CHECK(parse(img, lines) == -EINVAL);
        one_line(lines, "size");
    }
    SUBCASE("crc") {
        auto img = good;
        img[good.size() / 2] ^= std::byte{1}; // one bit of the twiddle table
        CHECK(parse(img, lines) == -EINVAL);
        one_line(lines, "crc");
        img = good;
        img[offsetof(vdsp_fw_header, crc32)] ^= std::byte{0x80};
        CHECK(parse(img, lines) == -EINVAL);
        one_line(lines, "crc");
    }
    SUBCASE("layout") {
        auto img = good;
        poke<std::uint32_t>(img, offsetof(vdsp_fw_header, num_functions), 100000); // past the end
        reseal(img);
        CHECK(parse(img, lines) == -EINVAL);
        one_line(lines, "layout");
        img = good;
        poke<std::uint32_t>(img, sizeof(vdsp_fw_header), 9); // function 0's op
        reseal(img);
        CHECK(parse(img, lines) == -EINVAL);
        one_line(lines, "layout");
        img = good;
        poke<std::uint32_t>(img, sizeof(vdsp_fw_header) + sizeof(vdsp_fw_function), VDSP_OP_FIR); // FIR twice
        reseal(img);
        CHECK(parse(img, lines) == -EINVAL);
        one_line(lines, "layout");
        img = good;
        const std::size_t t0 = sizeof(vdsp_fw_header) + 2 * sizeof(vdsp_fw_function);
        poke<std::uint32_t>(img, t0 + offsetof(vdsp_fw_table, size), 1u << 30); // data past the end
        reseal(img);
        CHECK(parse(img, lines) == -EINVAL);
        one_line(lines, "layout");
        img = good;
        poke<std::uint32_t>(img, t0 + offsetof(vdsp_fw_table, kind), 7); // unknown table
        reseal(img);
        CHECK(parse(img, lines) == -EINVAL);
        one_line(lines, "layout");
    }
    SUBCASE("tables") {
        auto img = good;
        poke<std::uint32_t>(img, offsetof(vdsp_fw_header, fft_max_size), 3000);
        reseal(img);
        CHECK(parse(img, lines) == -EINVAL);
        one_line(lines, "tables");
        img = good;
        poke<std::uint32_t>(img, offsetof(vdsp_fw_header, fft_max_size), 2048); // tables are for 4096
        reseal(img);
        CHECK(parse(img, lines) == -EINVAL);
        one_line(lines, "tables");
        img = good;
        poke<std::uint32_t>(img, offsetof(vdsp_fw_header, num_tables), 0); // FFT without twiddles
        reseal(img);
        CHECK(parse(img, lines) == -EINVAL);
        one_line(lines, "tables");
    }
}

#ifdef VDSP_GENERATED_FIRMWARE
TEST_CASE("the build's generated firmware (vdsp-mkfw on firmware/vdsp.fw.txt) is the shipped image") {
    auto l = accel::firmware_loader::with_path({VDSP_GENERATED_FIRMWARE});
    auto fw = l.request("accel/vdsp.fw");
    REQUIRE(fw);
    CHECK(std::vector<std::byte>(fw->data().begin(), fw->data().end()) == shipped_image());
}
#endif

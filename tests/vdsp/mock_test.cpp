// SPDX-License-Identifier: MIT
// The vdsp uAPI suite on the mock backend (vdsp_conformance.hpp), and what only an in-process
// test can see: the probe's log line for each failed load, what the firmware's functions and
// tables change, WAIT's -ETIME on a held engine.
#include "vdsp_conformance.hpp"
#include "vdsp_fixtures.hpp"

TYPE_TO_STRING_AS("mock", vdsp::test::mock_vdsp_fixture);

namespace vdsp::test {
using fixtures = std::tuple<mock_vdsp_fixture>;
TEST_CASE_TEMPLATE_APPLY(vdsp_get_param_t, fixtures);
TEST_CASE_TEMPLATE_APPLY(vdsp_bo_t, fixtures);
TEST_CASE_TEMPLATE_APPLY(vdsp_monitor_t, fixtures);
TEST_CASE_TEMPLATE_APPLY(vdsp_submit_errors_t, fixtures);
TEST_CASE_TEMPLATE_APPLY(vdsp_wait_t, fixtures);
TEST_CASE_TEMPLATE_APPLY(vdsp_fir_t, fixtures);
TEST_CASE_TEMPLATE_APPLY(vdsp_fft_t, fixtures);
TEST_CASE_TEMPLATE_APPLY(vdsp_recovery_t, fixtures);

namespace {
bool contains(const std::string& s, std::string_view what) { return s.find(what) != std::string::npos; }

} // namespace

/// A device whose firmware directory holds `img` when it probes.
struct custom_fw {
    temp_dir dir;
    log_capture log;
    accel::subsystem sub;
    device::ref dev;
    accel::registration reg;
    accel::backend::mock mock{sub};
    accel::backend::mock::identity root_scope{{0, 1, true}};
    int fd = -1;

    explicit custom_fw(const std::vector<std::byte>* img) {
        if (img)
            dir.write("accel/vdsp.fw", *img);
        device_config c;
        c.loader = accel::firmware_loader::with_path({dir.path});
        c.loader.set_log(log.sink());
        c.job_timeout = std::chrono::milliseconds(60'000);
        auto d = device::create(std::move(c));
        REQUIRE(d);
        dev = *d;
        auto r = sub.register_device(dev);
        REQUIRE(r);
        reg = std::move(*r);
        fd = mock.open((std::string(mock.root()) + "/" + accel::node_name(accel::node_kind::compute, reg.minor())).c_str(),
                       O_RDWR);
        REQUIRE(fd >= 0);
    }
    ~custom_fw() { mock.close(fd); }
    client<accel::backend::mock> c() { return client<accel::backend::mock>(mock, fd); }
    std::int32_t run(std::int64_t seqno) {
        REQUIRE(seqno > 0);
        std::int32_t err = 1;
        REQUIRE(c().wait(static_cast<std::uint64_t>(seqno), 10 * second, err) == 0);
        return err;
    }
};

TEST_CASE("probe: each failed load leaves NEEDS_RESET and one log line naming the file and check") {
    struct bad_case {
        const char* check;
        std::vector<std::byte> img;
    };
    auto good = shipped_image();
    std::vector<bad_case> cases;
    cases.push_back({"truncated", std::vector<std::byte>(good.begin(), good.begin() + 20)});
    cases.push_back({"truncated", std::vector<std::byte>(good.begin(), good.end() - 8)});
    auto m = good;
    m[1] = std::byte{0};
    cases.push_back({"magic", m});
    auto v = good;
    v[4] = std::byte{9};
    cases.push_back({"version", v});
    auto crc = good;
    crc[good.size() - 1] ^= std::byte{0x40};
    cases.push_back({"crc", crc});
    for (const auto& bc : cases) {
        CAPTURE(bc.check);
        custom_fw fx(&bc.img);
        CHECK(fx.dev->status().state() == ACCEL_STATE_NEEDS_RESET);
        CHECK(fx.dev->data().firmware_status() == -EINVAL);
        const auto lines = fx.log.take();
        REQUIRE(lines.size() == 1);
        CHECK(contains(lines[0], fx.dir.path + "/accel/vdsp.fw"));
        CHECK(contains(lines[0], std::string(bc.check) + " check failed"));
        std::uint64_t val = 0;
        CHECK(fx.c().param(VDSP_PARAM_FW_STATUS, val) == 0);
        CHECK(val == EINVAL);
        vdsp_submit nop{};
        CHECK(fx.c().submit(nop) == -EIO);
    }
    custom_fw none(nullptr);
    CHECK(none.dev->status().state() == ACCEL_STATE_NEEDS_RESET);
    CHECK(none.dev->data().firmware_status() == -ENOENT);
    const auto lines = none.log.take();
    REQUIRE(lines.size() == 1);
    CHECK(contains(lines[0], "accel/vdsp.fw failed with error -2"));
    custom_fw ok(&good);
    CHECK(ok.dev->status().state() == ACCEL_STATE_OPERATIONAL);
    CHECK(ok.log.take().empty());
}

TEST_CASE("firmware functions: no FFT -> -EOPNOTSUPP, smaller tables, no window") {
    const auto x = random_signal(2048, 5);
    fw_description d;
    d.version = 0x20001;
    d.fir = true;
    auto img = build_firmware(d);
    custom_fw fx(&img);
    std::uint64_t v = 0;
    CHECK(fx.c().param(VDSP_PARAM_FUNCTIONS, v) == 0);
    CHECK(v == ((1u << VDSP_OP_NOP) | (1u << VDSP_OP_FIR)));
    CHECK(fx.c().param(VDSP_PARAM_FFT_MAX_SIZE, v) == 0);
    CHECK(v == 0);
    client_buffer in, out;
    REQUIRE(fx.c().create(16384, in) == 0);
    REQUIRE(fx.c().create(16384, out) == 0);
    CHECK(fx.c().fft(in, out, 256, 256) == -EOPNOTSUPP);
    const float h[1] = {2};
    CHECK(fx.run(fx.c().fir(in, out, 16, h)) == 0);

    d.fir = false;
    d.fft = true;
    d.fft_max = 256;
    d.window = false;
    img = build_firmware(d);
    custom_fw small(&img);
    REQUIRE(small.c().create(16384, in) == 0);
    REQUIRE(small.c().create(16384, out) == 0);
    CHECK(small.c().fir(in, out, 16, h) == -EOPNOTSUPP);
    CHECK(small.c().fft(in, out, 512, 512) == -EINVAL);
    CHECK(small.c().fft(in, out, 512, 256, VDSP_FFT_WINDOW) == -EOPNOTSUPP);
    std::memcpy(in.map, x.data(), 512 * 8);
    CHECK(small.run(small.c().fft(in, out, 512, 256)) == 0);
    CHECK(max_diff(out.as<float>(), reference::dft(std::vector<float>(x.begin(), x.begin() + 1024), 256, false, false)) <
          1e-3);
}

TEST_CASE("firmware tables: the FFT uses the firmware's twiddles and window") {
    // A firmware whose tables are scaled (resealed, so it passes every check): the results follow it.
    auto img = shipped_image();
    vdsp_fw_header h;
    std::memcpy(&h, img.data(), sizeof h);
    const std::size_t dir = sizeof h + h.num_functions * sizeof(vdsp_fw_function);
    vdsp_fw_table win;
    std::memcpy(&win, img.data() + dir + sizeof(vdsp_fw_table), sizeof win);
    REQUIRE(win.kind == VDSP_FW_TABLE_WINDOW);
    for (std::uint32_t i = 0; i < win.entries; ++i) { // window *= 2
        float f;
        std::memcpy(&f, img.data() + win.offset + 4 * i, 4);
        f *= 2;
        std::memcpy(img.data() + win.offset + 4 * i, &f, 4);
    }
    vdsp_fw_table tw;
    std::memcpy(&tw, img.data() + dir, sizeof tw);
    REQUIRE(tw.kind == VDSP_FW_TABLE_TWIDDLE);
    for (std::uint32_t i = 0; i < 2 * tw.entries; i += 2) { // conjugated: forward becomes inverse
        float f;
        std::memcpy(&f, img.data() + tw.offset + 4 * (i + 1), 4);
        f = -f;
        std::memcpy(img.data() + tw.offset + 4 * (i + 1), &f, 4);
    }
    reseal(img);
    custom_fw fx(&img);
    REQUIRE(fx.dev->status().state() == ACCEL_STATE_OPERATIONAL);
    client_buffer in, out;
    REQUIRE(fx.c().create(8192, in) == 0);
    REQUIRE(fx.c().create(8192, out) == 0);
    const auto x = random_signal(2 * 1024, 6);
    std::memcpy(in.map, x.data(), 8192);
    CHECK(fx.run(fx.c().fft(in, out, 1024, 64, VDSP_FFT_WINDOW)) == 0);
    auto want = reference::dft(x, 64, true, false); // the inverse transform, unscaled and windowed x2
    // reference::dft(inverse) divides by N and has no window: rebuild the expectation directly.
    std::vector<float> xw(x);
    for (std::size_t b = 0; b < 1024 / 64; ++b)
        for (std::size_t n = 0; n < 64; ++n) {
            const double w = 2 * reference::hann(n, 64);
            xw[2 * (b * 64 + n)] = static_cast<float>(xw[2 * (b * 64 + n)] * w);
            xw[2 * (b * 64 + n) + 1] = static_cast<float>(xw[2 * (b * 64 + n) + 1] * w);
        }
    want = reference::dft(xw, 64, true, false);
    for (float& f : want)
        f *= 64; // no 1/N: the job ran a forward transform, with the conjugated table
    CHECK(max_diff(out.as<float>(), want) < 1e-3);
    // And it is not the correct forward transform.
    CHECK(max_diff(out.as<float>(), reference::dft(x, 64, false, true)) > 0.1);
}

TEST_CASE("wait: -ETIME while the engine is held, then the job's end") {
    custom_fw fx(nullptr);
    auto good = shipped_image();
    fx.dir.write("accel/vdsp.fw", good);
    CHECK(reset_wait(fx.mock, fx.fd) == 0);
    fx.dev->data().hw.hang();
    vdsp_submit nop{};
    const std::int64_t q = fx.c().submit(nop);
    REQUIRE(q > 0);
    std::int32_t err = 0;
    CHECK(fx.c().wait(static_cast<std::uint64_t>(q), 50'000'000, err) == -ETIME);
    vdsp_wait past{static_cast<std::uint64_t>(q), 0, 0, 0};
    CHECK(fx.mock.ioctl(fx.fd, VDSP_IOCTL_WAIT, &past) == -ETIME);
    fx.dev->data().hw.resume();
    CHECK(fx.run(q) == 0);
}

TEST_CASE("reset: a reload of a firmware without FFT takes FFT away") {
    auto good = shipped_image();
    custom_fw fx(&good);
    client_buffer in, out;
    REQUIRE(fx.c().create(8192, in) == 0);
    REQUIRE(fx.c().create(8192, out) == 0);
    CHECK(fx.run(fx.c().fft(in, out, 1024, 1024)) == 0);
    fw_description d;
    d.version = 0x30000;
    d.fir = true;
    fx.dir.write("accel/vdsp.fw", build_firmware(d));
    CHECK(reset_wait(fx.mock, fx.fd) == 0);
    CHECK(fx.dev->status().state() == ACCEL_STATE_OPERATIONAL);
    std::uint64_t v = 0;
    CHECK(fx.c().param(VDSP_PARAM_FW_VERSION, v) == 0);
    CHECK(v == 0x30000u);
    CHECK(fx.c().fft(in, out, 1024, 1024) == -EOPNOTSUPP);
}

TEST_CASE("reset: a job on the engine ends with -ECANCELED, and the device runs again") {
    auto good = shipped_image();
    custom_fw fx(&good);
    client_buffer in, out;
    REQUIRE(fx.c().create(8192, in) == 0);
    REQUIRE(fx.c().create(8192, out) == 0);
    fx.dev->data().hw.hang();
    const std::int64_t q = fx.c().fft(in, out, 1024, 1024);
    REQUIRE(q > 0);
    CHECK(reset_wait(fx.mock, fx.fd) == 0);
    CHECK(fx.run(q) == -ECANCELED);
    CHECK(fx.run(fx.c().fft(in, out, 1024, 1024)) == 0);
    CHECK(fx.dev->status().reset_count() == 1);
}

TEST_CASE("a job is checked again against the firmware it runs with") {
    fw_image fft_only;
    fft_only.has_fft = true;
    fft_only.fft_max = 256;
    fft_only.twiddle.assign(256, 0.0f);
    job_desc d;
    d.op = VDSP_OP_FIR;
    CHECK(check_firmware(fft_only, d) == -EOPNOTSUPP);
    CHECK(execute(fft_only, d) == -EOPNOTSUPP);
    d.op = VDSP_OP_FFT;
    d.fft_size = 512;
    CHECK(check_firmware(fft_only, d) == -EINVAL);
    d.fft_size = 256;
    d.fft_flags = VDSP_FFT_WINDOW;
    CHECK(check_firmware(fft_only, d) == -EOPNOTSUPP); // no window table
    d.fft_flags = 0;
    CHECK(check_firmware(fft_only, d) == 0);
    d.op = VDSP_OP_NOP;
    CHECK(execute(fw_image{}, d) == 0);
}

TEST_CASE("unplug with jobs queued: they end, nothing leaks") {
    auto good = shipped_image();
    auto fx = std::make_unique<custom_fw>(&good);
    fx->dev->data().hw.hang();
    vdsp_submit nop{};
    const std::int64_t q = fx->c().submit(nop);
    REQUIRE(q > 0);
    fx->reg = accel::registration(); // unplug
    fx.reset();
}
} // namespace vdsp::test

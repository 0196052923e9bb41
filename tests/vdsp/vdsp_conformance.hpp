// SPDX-License-Identifier: MIT
#pragma once
// The vdsp uAPI suite, run on every fixture (vdsp_fixtures.hpp): GET_PARAM, BO_CREATE/BO_INFO,
// SUBMIT's errnos, WAIT's, FIR and FFT results against the reference, and the firmware's
// recovery (no file -> NEEDS_RESET -> bad file -> RESET fails -> good file -> RESET ->
// OPERATIONAL).
#include "../core/monitor_helpers.hpp"
#include "vdsp_client.hpp"
#include "vdsp_fixtures.hpp"
#include "vdsp_reference.hpp"
#include "vdsp_test_util.hpp"

#include <doctest/doctest.h>

#include <accel/exec/sim_sensors.hpp>
#include <accel/uapi/accel_info.h>
#include <accel/uapi/accel_monitor.h>

#include <cstring>
#include <fcntl.h>
#include <string>
#include <vector>

namespace vdsp::test {

inline constexpr std::int64_t second = 1'000'000'000;

/// An open file on the fixture's node with a client, closed at the end.
template <class F>
struct session {
    F& fx;
    int fd;
    client<std::remove_reference_t<decltype(std::declval<F&>().client())>> c;
    explicit session(F& f) : fx(f), fd(f.client().open(f.node().c_str(), O_RDWR)), c(f.client(), fd) { REQUIRE(fd >= 0); }
    ~session() { fx.client().close(fd); }
    session(const session&) = delete;
    session& operator=(const session&) = delete;

    /// Runs a job to its end: the job's error.
    std::int32_t run(std::int64_t seqno) {
        REQUIRE(seqno > 0);
        std::int32_t err = 1;
        REQUIRE(c.wait(static_cast<std::uint64_t>(seqno), 10 * second, err) == 0);
        return err;
    }
};

TEST_CASE_TEMPLATE_DEFINE("get_param", F, vdsp_get_param_t) {
    F fx;
    session<F> s(fx);
    std::uint64_t v = 99;
    CHECK(s.c.param(VDSP_PARAM_FW_STATUS, v) == 0);
    CHECK(v == 0);
    CHECK(s.c.param(VDSP_PARAM_FW_VERSION, v) == 0);
    CHECK(v == 0x10000u);
    CHECK(s.c.param(VDSP_PARAM_FUNCTIONS, v) == 0);
    CHECK(v == ((1u << VDSP_OP_NOP) | (1u << VDSP_OP_FIR) | (1u << VDSP_OP_FFT)));
    CHECK(s.c.param(VDSP_PARAM_FFT_MAX_SIZE, v) == 0);
    CHECK(v == 4096);
    CHECK(s.c.param(VDSP_PARAM_MAX_TAPS, v) == 0);
    CHECK(v == VDSP_MAX_TAPS);
    CHECK(s.c.param(VDSP_PARAM_MAX_SAMPLES, v) == 0);
    CHECK(v == VDSP_MAX_SAMPLES);
    CHECK(s.c.param(6, v) == -EINVAL);
    vdsp_get_param p{VDSP_PARAM_FW_STATUS, 1, 0};
    CHECK(fx.client().ioctl(s.fd, VDSP_IOCTL_GET_PARAM, &p) == -EINVAL);
}

TEST_CASE_TEMPLATE_DEFINE("bo_create and bo_info", F, vdsp_bo_t) {
    F fx;
    session<F> s(fx);
    vdsp_bo_create c{0, 0, 0};
    CHECK(fx.client().ioctl(s.fd, VDSP_IOCTL_BO_CREATE, &c) == -EINVAL);
    c = vdsp_bo_create{100, 1, 0};
    CHECK(fx.client().ioctl(s.fd, VDSP_IOCTL_BO_CREATE, &c) == -EINVAL);
    c = vdsp_bo_create{100, 0, 0};
    REQUIRE(fx.client().ioctl(s.fd, VDSP_IOCTL_BO_CREATE, &c) == 0);
    vdsp_bo_info i{c.handle, 0, 0, 0};
    REQUIRE(fx.client().ioctl(s.fd, VDSP_IOCTL_BO_INFO, &i) == 0);
    CHECK(i.size == 4096);
    CHECK(i.mmap_offset != 0);
    i = vdsp_bo_info{c.handle + 100, 0, 0, 0};
    CHECK(fx.client().ioctl(s.fd, VDSP_IOCTL_BO_INFO, &i) == -ENOENT);
    i = vdsp_bo_info{c.handle, 1, 0, 0};
    CHECK(fx.client().ioctl(s.fd, VDSP_IOCTL_BO_INFO, &i) == -EINVAL);
}

TEST_CASE_TEMPLATE_DEFINE("submit: every bad field has its errno", F, vdsp_submit_errors_t) {
    F fx;
    session<F> s(fx);
    client_buffer a, b, co;
    REQUIRE(s.c.create(8192, a) == 0);
    REQUIRE(s.c.create(8192, b) == 0);
    REQUIRE(s.c.create(4096, co) == 0);
    const float taps[4] = {1, 2, 3, 4};
    auto fir = [&] {
        vdsp_submit x{};
        x.op = VDSP_OP_FIR;
        x.in_handle = a.handle;
        x.out_handle = b.handle;
        x.count = 2048;
        x.fir_taps = 4;
        x.coef = uptr(taps);
        return x;
    };
    auto fft = [&] {
        vdsp_submit x{};
        x.op = VDSP_OP_FFT;
        x.in_handle = a.handle;
        x.out_handle = b.handle;
        x.count = 1024;
        x.fft_size = 256;
        return x;
    };
    CHECK(s.run(s.c.submit(fir())) == 0);
    CHECK(s.run(s.c.submit(fft())) == 0);
    vdsp_submit nop{};
    CHECK(s.run(s.c.submit(nop)) == 0);

    auto with = [&](vdsp_submit x, auto edit) {
        edit(x);
        return s.c.submit(x);
    };
    // Fields.
    CHECK(with(fir(), [](auto& x) { x.flags = 1; }) == -EINVAL);
    // Syncobjs: unknown handles -ENOENT (drm_syncobj_find), an in-syncobj without a fence
    // -EINVAL (nothing submitted for it yet); then a signalled one holds nothing back, and the
    // out-syncobj gets the job's fence.
    CHECK(with(fir(), [](auto& x) { x.in_syncobj = 1; }) == -ENOENT);
    CHECK(with(fir(), [](auto& x) { x.out_syncobj = 1; }) == -ENOENT);
    {
        auto& cl = s.fx.client();
        accel_syncobj_create empty{0, 0}, done{0, ACCEL_SYNCOBJ_CREATE_SIGNALED}, out{0, 0};
        REQUIRE(cl.ioctl(s.fd, ACCEL_IOCTL_SYNCOBJ_CREATE, &empty) == 0);
        REQUIRE(cl.ioctl(s.fd, ACCEL_IOCTL_SYNCOBJ_CREATE, &done) == 0);
        REQUIRE(cl.ioctl(s.fd, ACCEL_IOCTL_SYNCOBJ_CREATE, &out) == 0);
        CHECK(with(fir(), [&](auto& x) { x.in_syncobj = empty.handle; }) == -EINVAL);
        CHECK(s.run(with(fir(), [&](auto& x) { x.in_syncobj = done.handle, x.out_syncobj = out.handle; })) == 0);
        accel_syncobj_wait w{};
        w.handles = static_cast<__u64>(reinterpret_cast<std::uintptr_t>(&out.handle));
        w.count_handles = 1;
        w.timeout_nsec = accel::monotonic_ns() + 10'000'000'000;
        CHECK(cl.ioctl(s.fd, ACCEL_IOCTL_SYNCOBJ_WAIT, &w) == 0);
    }
    CHECK(with(fir(), [](auto& x) { x.op = 3; }) == -EINVAL);
    CHECK(with(nop, [](auto& x) { x.count = 1; }) == -EINVAL);
    CHECK(with(nop, [&](auto& x) { x.in_handle = a.handle; }) == -EINVAL);
    CHECK(with(fir(), [](auto& x) { x.count = 0; }) == -EINVAL);
    CHECK(with(fir(), [](auto& x) { x.count = VDSP_MAX_SAMPLES + 1ull; }) == -EINVAL);
    CHECK(with(fir(), [](auto& x) { x.fir_taps = 0; }) == -EINVAL);
    CHECK(with(fir(), [](auto& x) { x.fir_taps = VDSP_MAX_TAPS + 1; }) == -EINVAL);
    CHECK(with(fir(), [](auto& x) { x.fft_size = 256; }) == -EINVAL);
    CHECK(with(fir(), [](auto& x) { x.in_offset = 2; }) == -EINVAL);
    CHECK(with(fir(), [&](auto& x) { x.coef_handle = co.handle; x.coef = 2; }) == -EINVAL);
    CHECK(with(fft(), [](auto& x) { x.fft_size = 384; }) == -EINVAL);
    CHECK(with(fft(), [](auto& x) { x.fft_size = 1; }) == -EINVAL);
    CHECK(with(fft(), [](auto& x) { x.count = 1000; }) == -EINVAL);
    CHECK(with(fft(), [](auto& x) { x.fft_flags = 4; }) == -EINVAL);
    CHECK(with(fft(), [](auto& x) { x.fft_flags = VDSP_FFT_INVERSE | VDSP_FFT_WINDOW; }) == -EINVAL);
    CHECK(with(fft(), [](auto& x) { x.fir_taps = 1; }) == -EINVAL);
    // Beyond the firmware's tables.
    CHECK(with(fft(), [](auto& x) { x.fft_size = 8192; x.count = 8192; }) == -EINVAL);
    // Objects.
    CHECK(with(fir(), [](auto& x) { x.in_handle = 999; }) == -ENOENT);
    CHECK(with(fir(), [](auto& x) { x.out_handle = 999; }) == -ENOENT);
    CHECK(with(fir(), [](auto& x) { x.coef_handle = 999; }) == -ENOENT);
    CHECK(with(fir(), [](auto& x) { x.count = 2049; }) == -EINVAL);      // 8196 bytes of 8192
    CHECK(with(fir(), [](auto& x) { x.in_offset = 4; }) == -EINVAL);     // ends 4 bytes past
    CHECK(with(fir(), [](auto& x) { x.out_offset = 1ull << 62; }) == -EINVAL);
    CHECK(with(fft(), [](auto& x) { x.count = 2048; }) == -EINVAL);      // 16 KiB of 8 KiB
    CHECK(with(fir(), [&](auto& x) { x.coef_handle = co.handle; x.coef = 4088; }) == -EINVAL);
    // Overlap: same object, overlapping ranges; disjoint ranges of one object are fine.
    CHECK(with(fir(), [&](auto& x) { x.out_handle = a.handle; x.count = 1024; x.out_offset = 2048; }) == -EINVAL);
    CHECK(s.run(with(fir(), [&](auto& x) { x.out_handle = a.handle; x.count = 1024; x.out_offset = 4096; })) == 0);
    CHECK(with(fir(), [&](auto& x) { x.coef_handle = b.handle; x.coef = 0; }) == -EINVAL); // taps in the output
    // Unreadable inline taps (null, or a range wrapping around the address space).
    CHECK(with(fir(), [](auto& x) { x.coef = 0; }) == -EFAULT);
    CHECK(with(fir(), [](auto& x) { x.coef = ~std::uint64_t{0} - 3; }) == -EFAULT);
    // After all that, the file still works and numbers its jobs on.
    const std::int64_t last = s.c.submit(nop);
    CHECK(last == 6); // fir, fft, nop, the syncobj job, the disjoint FIR, this
    CHECK(s.run(last) == 0);
}

TEST_CASE_TEMPLATE_DEFINE("wait: errnos", F, vdsp_wait_t) {
    F fx;
    session<F> s(fx);
    std::int32_t err = 0;
    CHECK(s.c.wait(0, second, err) == -EINVAL);
    CHECK(s.c.wait(1, second, err) == -EINVAL); // not issued yet
    vdsp_submit nop{};
    const std::int64_t q = s.c.submit(nop);
    REQUIRE(q == 1);
    CHECK(s.run(q) == 0);
    vdsp_wait w{1, accel::monotonic_ns() + second, 0, 1};
    CHECK(fx.client().ioctl(s.fd, VDSP_IOCTL_WAIT, &w) == -EINVAL);
    // A deadline in the past on an ended job still answers.
    w = vdsp_wait{1, 0, 7, 0};
    CHECK(fx.client().ioctl(s.fd, VDSP_IOCTL_WAIT, &w) == 0);
    CHECK(w.error == 0);
    // Another file's seqnos are not this file's.
    session<F> t(fx);
    CHECK(t.c.wait(1, second, err) == -EINVAL);
}

TEST_CASE_TEMPLATE_DEFINE("fir: results against the reference", F, vdsp_fir_t) {
    F fx;
    session<F> s(fx);
    const std::size_t n = 3000;
    client_buffer in, out, co;
    REQUIRE(s.c.create(n * 4, in) == 0);
    REQUIRE(s.c.create(n * 4, out) == 0);
    REQUIRE(s.c.create(4096, co) == 0);
    const auto x = random_signal(n, 1);
    std::memcpy(in.map, x.data(), n * 4);
    for (std::size_t taps : {std::size_t{1}, std::size_t{7}, std::size_t{64}, std::size_t{VDSP_MAX_TAPS}}) {
        CAPTURE(taps);
        const auto h = random_signal(taps, static_cast<unsigned>(taps));
        std::memset(out.map, 0, n * 4);
        CHECK(s.run(s.c.fir(in, out, n, h)) == 0);
        const auto want = reference::fir(x, h);
        CHECK(max_diff(out.template as<float>(), want) < 1e-4);
        // The same taps from an object, at an offset.
        std::memcpy(co.as<std::byte>() + 256, h.data(), taps * 4);
        std::memset(out.map, 0, n * 4);
        vdsp_submit sub{};
        sub.op = VDSP_OP_FIR;
        sub.in_handle = in.handle;
        sub.out_handle = out.handle;
        sub.count = n;
        sub.fir_taps = static_cast<std::uint32_t>(taps);
        sub.coef_handle = co.handle;
        sub.coef = 256;
        CHECK(s.run(s.c.submit(sub)) == 0);
        CHECK(max_diff(out.template as<float>(), want) < 1e-4);
    }
    // Offsets: a window of the input into the middle of the output; the rest untouched.
    std::memset(out.map, 0xff, n * 4);
    vdsp_submit sub{};
    sub.op = VDSP_OP_FIR;
    sub.in_handle = in.handle;
    sub.out_handle = out.handle;
    sub.in_offset = 400;
    sub.out_offset = 800;
    sub.count = 1000;
    const float h2[2] = {0.5f, 0.5f};
    sub.fir_taps = 2;
    sub.coef = uptr(h2);
    CHECK(s.run(s.c.submit(sub)) == 0);
    const auto want = reference::fir(std::vector<float>(x.begin() + 100, x.begin() + 1100), {0.5f, 0.5f});
    CHECK(max_diff(out.template as<float>() + 200, want) < 1e-6);
    std::uint32_t before;
    std::memcpy(&before, out.as<std::byte>() + 796, 4);
    CHECK(before == 0xffffffffu);
    std::memcpy(&before, out.as<std::byte>() + 4800, 4);
    CHECK(before == 0xffffffffu);
}

TEST_CASE_TEMPLATE_DEFINE("fft: results against the reference", F, vdsp_fft_t) {
    F fx;
    session<F> s(fx);
    client_buffer in, out, back;
    const std::size_t count = 4096; // complex samples
    REQUIRE(s.c.create(count * 8, in) == 0);
    REQUIRE(s.c.create(count * 8, out) == 0);
    REQUIRE(s.c.create(count * 8, back) == 0);
    const auto x = random_signal(2 * count, 2);
    std::memcpy(in.map, x.data(), count * 8);
    for (std::uint32_t size : {2u, 8u, 256u, 4096u}) {
        CAPTURE(size);
        const std::size_t used = size >= 1024 ? size : 1024; // a few blocks
        const std::vector<float> xs(x.begin(), x.begin() + 2 * used);
        CHECK(s.run(s.c.fft(in, out, used, size)) == 0);
        const double tol = 1e-5 * size; // float error grows with log N, the magnitudes with N
        CHECK(max_diff(out.template as<float>(), reference::dft(xs, size, false, false)) < tol);
        CHECK(s.run(s.c.fft(out, back, used, size, VDSP_FFT_INVERSE)) == 0);
        CHECK(max_diff(back.template as<float>(), xs) < 1e-5);
        CHECK(s.run(s.c.fft(in, out, used, size, VDSP_FFT_WINDOW)) == 0);
        CHECK(max_diff(out.template as<float>(), reference::dft(xs, size, false, true)) < tol);
    }
}

/// The firmware's recovery through the uAPI: the device starts without a firmware file.
TEST_CASE_TEMPLATE_DEFINE("firmware: missing -> NEEDS_RESET, bad -> reset fails, good -> OPERATIONAL", F,
                          vdsp_recovery_t) {
    F fx(fw::none);
    session<F> s(fx);
    auto& c = fx.client();
    CHECK(status_of(c, s.fd).state == ACCEL_STATE_NEEDS_RESET);
    std::uint64_t v = 0;
    CHECK(s.c.param(VDSP_PARAM_FW_STATUS, v) == 0);
    CHECK(v == ENOENT);
    CHECK(s.c.param(VDSP_PARAM_FW_VERSION, v) == -EIO);
    CHECK(s.c.param(VDSP_PARAM_FUNCTIONS, v) == -EIO);
    vdsp_submit nop{};
    CHECK(s.c.submit(nop) == -EIO);
    client_buffer a; // memory works without firmware
    CHECK(s.c.create(4096, a) == 0);

    // A bad file: the reset's reload fails, and a failed reset is MALFUNCTION.
    auto bad = shipped_image();
    bad[100] ^= std::byte{1};
    fx.install(bad);
    CHECK(reset_wait(c, s.fd) == -EIO);
    CHECK(status_of(c, s.fd).state == ACCEL_STATE_MALFUNCTION);
    CHECK(s.c.param(VDSP_PARAM_FW_STATUS, v) == -EIO); // the framework refuses driver ioctls now
    CHECK(s.c.submit(nop) == -EIO);

    // A good file: the next reset recovers.
    const std::uint64_t resets = status_of(c, s.fd).reset_count;
    fx.install(shipped_image());
    CHECK(reset_wait(c, s.fd) == 0);
    const auto st = status_of(c, s.fd);
    CHECK(st.state == ACCEL_STATE_OPERATIONAL);
    CHECK(st.reset_count == resets + 1);
    CHECK(s.c.param(VDSP_PARAM_FW_STATUS, v) == 0);
    CHECK(v == 0);
    CHECK(s.c.param(VDSP_PARAM_FW_VERSION, v) == 0);
    CHECK(v == 0x10000u);
    CHECK(s.run(s.c.submit(nop)) == 0);
    client_buffer in, out;
    REQUIRE(s.c.create(4096, in) == 0);
    REQUIRE(s.c.create(4096, out) == 0);
    const auto x = random_signal(512, 9);
    std::memcpy(in.map, x.data(), 2048);
    const float h[3] = {1, -1, 0.5f};
    CHECK(s.run(s.c.fir(in, out, 512, h)) == 0);
    CHECK(max_diff(out.template as<float>(), reference::fir(x, {1, -1, 0.5f})) < 1e-5);
}

/// The elements of list item `id` (INFO's size negotiation, then {count, pad} + elements).
template <class T, class B>
std::vector<T> info_list(B& c, int fd, std::uint32_t id) {
    accel_info_item item{};
    item.id = id;
    accel_info a{};
    a.num_items = 1;
    a.items = uptr(&item);
    REQUIRE(c.ioctl(fd, ACCEL_IOCTL_INFO, &a) == 0);
    REQUIRE(item.length >= 8);
    std::vector<unsigned char> buf(static_cast<std::size_t>(item.length));
    item.data = uptr(buf.data());
    REQUIRE(c.ioctl(fd, ACCEL_IOCTL_INFO, &a) == 0);
    std::uint32_t count;
    std::memcpy(&count, buf.data(), 4);
    REQUIRE(buf.size() == 8 + count * sizeof(T));
    std::vector<T> v(count);
    if (count)
        std::memcpy(v.data(), buf.data() + 8, count * sizeof(T));
    return v;
}

TEST_CASE_TEMPLATE_DEFINE("monitor: the dsp engine's per-client time, fdinfo and sensors", F, vdsp_monitor_t) {
    F fx;
    session<F> s(fx);
    auto& c = fx.client();
    const int mon = c.open(accel::test::monitor_path_of(fx.node()).c_str(), O_RDWR);
    REQUIRE(mon >= 0);
    const auto engines = info_list<accel_info_engine>(c, mon, ACCEL_INFO_ENGINES);
    REQUIRE(engines.size() == 1);
    CHECK(std::string(engines[0].name) == "dsp");
    std::uint64_t me = 0;
    {
        accel_info_identity id{};
        accel_info_item item{ACCEL_INFO_IDENTITY, static_cast<std::int32_t>(sizeof id), 0, 0, uptr(&id)};
        accel_info a{1, 0, uptr(&item)};
        REQUIRE(c.ioctl(s.fd, ACCEL_IOCTL_INFO, &a) == 0);
        me = id.client_id;
    }
    auto my_time = [&] {
        std::uint64_t ns = 0;
        for (const auto& e : info_list<accel_info_client_engine>(c, mon, ACCEL_INFO_CLIENT_ENGINES))
            if (e.client_id == me && e.engine_id == 0)
                ns += e.busy_ns;
        return ns;
    };
    auto power = [&]() -> std::int64_t {
        for (const auto& x : info_list<accel_info_sensor>(c, mon, ACCEL_INFO_SENSORS))
            if (x.type == ACCEL_SENSOR_POWER)
                return x.value;
        FAIL("no power sensor");
        return std::int64_t{0};
    };
    CHECK(my_time() == 0);
    const std::size_t n = 3000;
    client_buffer in, out;
    REQUIRE(s.c.create(n * 4, in) == 0);
    REQUIRE(s.c.create(n * 4, out) == 0);
    for (unsigned i = 0; i < 4; ++i)
        CHECK(s.run(s.c.fir(in, out, n, random_signal(64, i + 1))) == 0);
    const std::uint64_t t = my_time();
    CHECK(t > 0);
    const auto busy = info_list<accel_info_engine_time>(c, mon, ACCEL_INFO_ENGINE_BUSY);
    REQUIRE(busy.size() == 1);
    CHECK(busy[0].busy_ns >= t);
    CHECK(power() > std::int64_t{3'000'000}); // above vdsp's idle power: the engine was busy

    const std::string text = accel::test::fdinfo_text(c, mon, me);
    CHECK(text.rfind("drm-driver:\tvdsp\n", 0) == 0);
    CHECK(text.find("\ndrm-engine-dsp:\t" + std::to_string(t) + " ns\n") != std::string::npos);
    // The DSP's 600 MHz clock: the busy time in its cycles.
    CHECK(text.find("\ndrm-cycles-dsp:\t" + std::to_string(t / 1000 * 600 + t % 1000 * 600 / 1000) + "\n") != std::string::npos);
    CHECK(text.find("\ndrm-total-cycles-dsp:\t") != std::string::npos);
    CHECK(text.find("drm-engine-capacity-dsp") == std::string::npos);
    CHECK(c.close(mon) == 0);
}

} // namespace vdsp::test

// SPDX-License-Identifier: MIT
// accel_fuzz_ioctl_vdsp: examples/vdsp's ioctls (GET_PARAM, BO_CREATE/INFO, SUBMIT, WAIT) with the
// core's, through the reusable harness. vdsp needs its firmware: the hooks' create_device points
// the device's firmware loader at a private directory holding the shipped firmware, built once
// from examples/vdsp/firmware/vdsp.fw.txt as vdsp-mkfw builds it (tests/vdsp do the same).
// RESET on the monitor node reloads it. WAIT's deadline is clamped; jobs must drain after close.
#include "seeds.hpp"
#include "vdsp_driver.hpp"

#include <accel/fuzz/ioctl_harness.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

namespace vdsp_fuzz {

using P = accel::fuzz::patch;

/// The firmware directory of this process (removed at exit).
inline std::string firmware_dir;

void make_firmware_dir() {
    char tmpl[] = "/tmp/accel-fuzz-vdsp-XXXXXX";
    if (!::mkdtemp(tmpl))
        accel::fuzz::violation("vdsp: mkdtemp failed");
    firmware_dir = tmpl;
    std::ifstream in(VDSP_FIRMWARE_DESCRIPTION);
    std::stringstream text;
    text << in.rdbuf();
    vdsp::fw_description desc;
    std::string error;
    if (vdsp::parse_description(text.str(), desc, error) != 0)
        accel::fuzz::violation("vdsp: the shipped firmware description does not parse: %s", error.c_str());
    const auto image = vdsp::build_firmware(desc);
    std::filesystem::create_directories(firmware_dir + "/accel");
    std::ofstream out(firmware_dir + "/accel/vdsp.fw", std::ios::binary);
    out.write(reinterpret_cast<const char*>(image.data()), static_cast<std::streamsize>(image.size()));
    std::atexit([] { std::filesystem::remove_all(firmware_dir); });
}

struct hooks : accel::fuzz::default_ioctl_hooks<vdsp::driver> {
    static accel::result<vdsp::device::ref> create_device(unsigned) {
        vdsp::device_config c;
        c.loader = accel::firmware_loader::with_path({firmware_dir});
        c.loader.set_log([](std::string_view) {});
        c.job_timeout = std::chrono::milliseconds(200);
        return vdsp::device::create(std::move(c));
    }
    static void prepare(accel::ioctl_cmd cmd, std::uint8_t* arg, std::size_t size) noexcept {
        if (accel::ioc_type(cmd) == ACCEL_IOCTL_BASE && accel::ioc_nr(cmd) == accel::ioc_nr(VDSP_IOCTL_WAIT))
            accel::fuzz::clamp_deadline(arg, size, offsetof(vdsp_wait, timeout_ns));
    }
    /// Jobs outlive their file, holding their objects: wait (at most 5 s) for both to go.
    static void settle(vdsp::device& d) noexcept {
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        while (((d->sched && d->sched->pending_jobs()) || d.mmap_offsets().size()) && std::chrono::steady_clock::now() < until)
            std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    static void check_idle(vdsp::device& d) noexcept {
        if (d->sched && d->sched->pending_jobs())
            accel::fuzz::violation("vdsp: %zu jobs still pending 5 s after every file closed", d->sched->pending_jobs());
    }
};

void write_seeds(const std::string& dir) {
    using W = accel::fuzz::program_writer<vdsp::driver>;
    {
        W w;
        w.open();
        for (std::uint32_t p = 0; p <= VDSP_PARAM_MAX_SAMPLES; ++p)
            w.ioctl(0, VDSP_IOCTL_GET_PARAM, vdsp_get_param{p, 0, 0});
        w.ioctl(0, VDSP_IOCTL_BO_CREATE, vdsp_bo_create{65536, 0, 0});
        w.ioctl(0, VDSP_IOCTL_BO_INFO, vdsp_bo_info{1, 0, 0, 0});
        w.mmap(0, 2, 4, true, true);
        w.save(dir, "param_bo");
    }
    {
        // FIR over 256 samples of BO 1 into BO 2 with 4 taps from user memory, then FFT, waits.
        W w;
        const float taps[4] = {0.25f, 0.25f, 0.25f, 0.25f};
        w.arena(1024, taps, sizeof taps);
        w.open();
        w.ioctl(0, VDSP_IOCTL_BO_CREATE, vdsp_bo_create{16384, 0, 0});
        w.ioctl(0, VDSP_IOCTL_BO_CREATE, vdsp_bo_create{16384, 0, 0});
        w.ioctl(0, ACCEL_IOCTL_SYNCOBJ_CREATE, accel_syncobj_create{0, 0});
        vdsp_submit s{};
        s.op = VDSP_OP_FIR;
        s.in_handle = 1;
        s.out_handle = 2;
        s.count = 256;
        s.fir_taps = 4;
        s.out_syncobj = 1;
        w.ioctl(0, VDSP_IOCTL_SUBMIT, s, {{P::arena_ptr, offsetof(vdsp_submit, coef), 1024}});
        w.ioctl(0, VDSP_IOCTL_WAIT, vdsp_wait{1, 0x7fffffffffffffff, 0, 0});
        vdsp_submit f{};
        f.op = VDSP_OP_FFT;
        f.in_handle = 2;
        f.out_handle = 1;
        f.count = 256;
        f.fft_size = 256;
        f.fft_flags = VDSP_FFT_WINDOW;
        f.in_syncobj = 1;
        w.ioctl(0, VDSP_IOCTL_SUBMIT, f);
        w.ioctl(0, VDSP_IOCTL_WAIT, vdsp_wait{2, 0x7fffffffffffffff, 0, 0});
        vdsp_submit n{};
        w.ioctl(0, VDSP_IOCTL_SUBMIT, n);
        w.close(0);
        w.save(dir, "fir_fft_wait");
    }
    {
        W w;
        w.open().open(0, true);
        accel_reset_request rr{};
        w.ioctl(1, ACCEL_IOCTL_RESET, rr);
        w.ioctl(0, VDSP_IOCTL_GET_PARAM, vdsp_get_param{0, 0, 0});
        w.save(dir, "reset_reload");
    }
}

} // namespace vdsp_fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    accel::fuzz_test::write_seeds_if_asked(vdsp_fuzz::write_seeds);
    vdsp_fuzz::make_firmware_dir();
    return 0;
}

ACCEL_FUZZ_IOCTL_TARGET_WITH(vdsp::driver, vdsp_fuzz::hooks)

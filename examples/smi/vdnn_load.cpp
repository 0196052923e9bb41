// SPDX-License-Identifier: MIT
// vdnn-load: a vdnn client that keeps the engines of a served vdnn device busy for a while, so
// that accel-smi has a process to show (its demo, its tests, trying --watch by hand).
//
//   vdnn-load MOUNT [SECONDS [READY_FILE]]
//
// Finds the first vdnn device under MOUNT/accel (DRM_IOCTL_VERSION's name), names its client
// "vdnn-load" (DRM_IOCTL_SET_CLIENT_NAME), allocates 4 MiB of DRAM and 64 KiB of SRAM bound in
// its VA space, then for SECONDS (default 5) submits back to back: a FILL of the DRAM buffer on
// the DMA engine and an ADD over it on a compute engine, waiting for each pair. READY_FILE, when
// given, is created once the first pair has completed (a test waits for it instead of sleeping).
// SIGINT or SIGTERM ends the loop early, as a normal end (tests stop it once they have looked).
// Exit status 0 when every job ended VDNN_STATUS_OK, 1 otherwise, 2 on usage.
#include "smi_info.hpp"
#include "vdnn_client.hpp"

#include <accel/backend/syscall.hpp>
#include <accel/backend/unique_fd.hpp>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

namespace {

volatile std::sig_atomic_t stop_requested = 0;
extern "C" void on_stop(int) { stop_requested = 1; }

/// The first device under mount whose driver is vdnn, opened; -ENODEV when there is none.
int open_vdnn(const accel::backend::syscall& sys, const std::string& mount) {
    for (int n = 0; n < 64; ++n) {
        const int fd = sys.open(mount + "/accel/accel" + std::to_string(n), O_RDWR);
        if (fd < 0)
            continue;
        accel_smi::version_info v;
        if (accel_smi::query_version(sys, fd, v) == 0 && v.name == "vdnn")
            return fd;
        ::close(fd);
    }
    return -ENODEV;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2 || argc > 4) {
        std::fprintf(stderr, "usage: vdnn-load MOUNT [SECONDS [READY_FILE]]\n");
        return 2;
    }
    const std::string mount = argv[1];
    const double seconds = argc > 2 ? std::strtod(argv[2], nullptr) : 5.0;
    const char* ready = argc > 3 ? argv[3] : nullptr;
    if (!(seconds > 0)) {
        std::fprintf(stderr, "vdnn-load: SECONDS must be positive\n");
        return 2;
    }

    struct sigaction sa {};
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);

    accel::backend::syscall sys{mount};
    const int fd = open_vdnn(sys, mount);
    if (fd < 0) {
        std::fprintf(stderr, "vdnn-load: no vdnn device under %s/accel\n", mount.c_str());
        return 1;
    }
    accel::backend::unique_fd owned(fd);
    const std::string name = "vdnn-load";
    accel_set_client_name cn{name.size(), accel_smi::user_ptr(name.data())};
    if (int e = sys.ioctl(fd, ACCEL_IOCTL_SET_CLIENT_NAME, &cn); e < 0)
        std::fprintf(stderr, "vdnn-load: SET_CLIENT_NAME: %s (continuing)\n", accel_smi::describe_error(-e).c_str());

    vdnn::client<accel::backend::syscall> c(sys, fd);
    constexpr std::uint64_t bytes = 4u << 20;
    vdnn::client_buffer dram, sram;
    if (int e = c.create(bytes, VDNN_REGION_DRAM, dram); e < 0 ||
        (e = c.bind(dram, VDNN_BIND_READ | VDNN_BIND_WRITE)) < 0 || (e = c.create(64u << 10, VDNN_REGION_SRAM, sram)) < 0 ||
        (e = c.bind(sram, VDNN_BIND_READ | VDNN_BIND_WRITE)) < 0) {
        std::fprintf(stderr, "vdnn-load: buffers: %s\n", accel_smi::describe_error(-e).c_str());
        return 1;
    }

    vdnn::stream_writer fill, add;
    fill.add(vdnn_cmd_fill{{}, 0x3f800000u /* 1.0f */, 0, bytes, dram.va});
    add.add(vdnn_cmd_add{{}, VDNN_DTYPE_FP32, 0, bytes / 4 / 2, dram.va, dram.va + bytes / 2, dram.va});
    const std::uint32_t bos[] = {dram.handle};

    const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    unsigned long jobs = 0;
    bool ok = true;
    while (ok && !stop_requested && std::chrono::steady_clock::now() < end) {
        const std::int64_t f = c.submit(VDNN_ENGINE_DMA, fill.bytes(), bos);
        const std::uint64_t dep = f > 0 ? static_cast<std::uint64_t>(f) : 0;
        const std::int64_t a = f < 0 ? f : c.submit(VDNN_ENGINE_COMPUTE0 + jobs % 2, add.bytes(), bos, {&dep, 1});
        vdnn_wait w{};
        if (f < 0 || a < 0 || c.wait(VDNN_WAIT_JOB, static_cast<std::uint64_t>(a), 10'000'000'000, w) < 0 ||
            w.status != VDNN_STATUS_OK) {
            std::fprintf(stderr, "vdnn-load: job failed (submit %lld/%lld, status %u)\n", static_cast<long long>(f),
                         static_cast<long long>(a), w.status);
            ok = false;
            break;
        }
        jobs += 2;
        if (ready && jobs == 2)
            std::ofstream(ready) << "ready\n";
    }
    std::printf("vdnn-load: %lu jobs\n", jobs);
    return ok ? 0 : 1;
}

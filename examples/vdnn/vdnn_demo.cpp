// SPDX-License-Identifier: MIT
// vdnn_demo: a small convolutional network run end to end on the vdnn example driver.
//
//   vdnn_demo               in one process, on the mock backend
//   vdnn_demo --mount DIR   through real system calls on DIR/accel/accel<N>, a vdnn device
//                           served by accel-serve (--minor N picks it; default: the first vdnn)
//
// Upload weights and input to buffer objects, bind them into the file's device VA space, submit
// the layers as jobs with dependencies (CONV2D+bias+ReLU on compute engine 0, GEMM and ReLU on
// compute engine 1, GEMM on compute engine 0, a DMA copy of the logits with a completion event),
// wait for the event, read back and check against the plain reference kernels, with per-stage
// timings. Then, when the device accepts VDNN_OP_DEBUG_HANG, a job that hangs: the engine's
// timeout fires, the framework resets the device, the hung job ends with VDNN_STATUS_TIMEOUT,
// INFO's reset count goes up, and the network runs again on the recovered device.
// Exit status 0 when every check passed.
#include "vdnn_client.hpp"
#include "vdnn_driver.hpp"
#include "vdnn_reference.hpp"

#include <accel/accel.hpp>
#include <accel/backend/syscall.hpp>
#include <accel/uapi/accel_info.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace {

using clk = std::chrono::steady_clock;
double ms_since(clk::time_point t) { return std::chrono::duration<double, std::milli>(clk::now() - t).count(); }

int failures = 0;
void check(bool ok, const char* what) {
    if (!ok) {
        std::printf("  FAILED: %s\n", what);
        ++failures;
    }
}

/// The network: conv 3->16 (3x3, pad 1) + bias + ReLU, then fc 16*32*32 -> 128 + ReLU, then
/// fc 128 -> 10, for a batch of 8 images of 32x32.
struct network {
    static constexpr std::uint32_t batch = 8, c = 3, h = 32, w = 32, o = 16, hidden = 128, classes = 10;
    static constexpr std::uint32_t flat = o * h * w;
    std::vector<float> input, conv_w, conv_b, fc1, fc2;
    network() {
        std::mt19937 rng(42);
        std::uniform_real_distribution<float> u(-1.0f, 1.0f);
        auto fill = [&](std::vector<float>& v, std::size_t n, float scale) {
            v.resize(n);
            for (float& x : v)
                x = u(rng) * scale;
        };
        fill(input, std::size_t{batch} * c * h * w, 1.0f);
        fill(conv_w, std::size_t{o} * c * 3 * 3, 0.5f);
        fill(conv_b, o, 0.1f);
        fill(fc1, std::size_t{flat} * hidden, 0.02f);
        fill(fc2, std::size_t{hidden} * classes, 0.1f);
    }
    vdnn::kernels::conv2d_shape conv_shape() const {
        vdnn::kernels::conv2d_shape s;
        s.n = batch, s.c = c, s.h = h, s.w = w, s.o = o, s.kh = 3, s.kw = 3, s.pad_h = 1, s.pad_w = 1;
        return s;
    }
    /// The logits by the reference kernels (computed once: plain loops in double are slow).
    const std::vector<float>& reference() const {
        if (expected.empty())
            expected = compute_reference();
        return expected;
    }
    mutable std::vector<float> expected;
    std::vector<float> compute_reference() const {
        std::vector<float> a(std::size_t{batch} * flat), b(std::size_t{batch} * hidden), out(std::size_t{batch} * classes);
        vdnn::reference::conv2d_f32(conv_shape(), input.data(), conv_w.data(), conv_b.data(), a.data(), true);
        vdnn::reference::gemm_f32(batch, hidden, flat, a.data(), flat, fc1.data(), hidden, b.data(), hidden, false);
        vdnn::reference::relu_f32(b.data(), b.data(), b.size());
        vdnn::reference::gemm_f32(batch, classes, hidden, b.data(), hidden, fc2.data(), classes, out.data(), classes, false);
        return out;
    }
};

template <class B>
accel_info_status status_of(B& b, int fd) {
    accel_info_status st{};
    accel_info_item item{ACCEL_INFO_STATUS, static_cast<__s32>(sizeof st), 0, 0, reinterpret_cast<std::uintptr_t>(&st)};
    accel_info q{1, 0, reinterpret_cast<std::uintptr_t>(&item)};
    if (b.ioctl(fd, ACCEL_IOCTL_INFO, &q) != 0 || item.length != static_cast<__s32>(sizeof st))
        check(false, "INFO STATUS");
    return st;
}

/// One inference; the logits, checked against the reference.
template <class B>
void infer(vdnn::client<B>& cl, const network& net, const char* label) {
    using namespace vdnn;
    std::printf("  %s\n", label);
    auto t = clk::now();
    client_buffer in, cw, cb, act, w1, hid, w2, logits, out;
    const std::uint64_t f = sizeof(float);
    bool ok = cl.create(net.input.size() * f, VDNN_REGION_DRAM, in) == 0 &&
              cl.create(net.conv_w.size() * f, VDNN_REGION_SRAM, cw) == 0 &&
              cl.create(net.conv_b.size() * f, VDNN_REGION_SRAM, cb) == 0 &&
              cl.create(std::uint64_t{network::batch} * network::flat * f, VDNN_REGION_DRAM, act) == 0 &&
              cl.create(net.fc1.size() * f, VDNN_REGION_HOST, w1) == 0 &&
              cl.create(std::uint64_t{network::batch} * network::hidden * f, VDNN_REGION_SRAM, hid) == 0 &&
              cl.create(net.fc2.size() * f, VDNN_REGION_SRAM, w2) == 0 &&
              cl.create(std::uint64_t{network::batch} * network::classes * f, VDNN_REGION_SRAM, logits) == 0 &&
              cl.create(std::uint64_t{network::batch} * network::classes * f, VDNN_REGION_HOST, out) == 0;
    check(ok, "BO_CREATE + mmap");
    if (!ok)
        return;
    std::memcpy(in.map, net.input.data(), net.input.size() * f);
    std::memcpy(cw.map, net.conv_w.data(), net.conv_w.size() * f);
    std::memcpy(cb.map, net.conv_b.data(), net.conv_b.size() * f);
    std::memcpy(w1.map, net.fc1.data(), net.fc1.size() * f);
    std::memcpy(w2.map, net.fc2.data(), net.fc2.size() * f);
    const double upload = ms_since(t);

    t = clk::now();
    ok = cl.bind(in, VDNN_BIND_READ) == 0 && cl.bind(cw, VDNN_BIND_READ) == 0 && cl.bind(cb, VDNN_BIND_READ) == 0 &&
         cl.bind(act, VDNN_BIND_READ | VDNN_BIND_WRITE) == 0 && cl.bind(w1, VDNN_BIND_READ) == 0 &&
         cl.bind(hid, VDNN_BIND_READ | VDNN_BIND_WRITE) == 0 && cl.bind(w2, VDNN_BIND_READ) == 0 &&
         cl.bind(logits, VDNN_BIND_READ | VDNN_BIND_WRITE) == 0 && cl.bind(out, VDNN_BIND_WRITE) == 0;
    check(ok, "VM_BIND");
    const double bind = ms_since(t);

    t = clk::now();
    const auto s = net.conv_shape();
    vdnn_cmd_conv2d conv{};
    conv.dtype = VDNN_DTYPE_FP32;
    conv.flags = VDNN_CONV2D_BIAS | VDNN_CONV2D_RELU;
    conv.n = s.n, conv.c = s.c, conv.h = s.h, conv.w = s.w, conv.o = s.o, conv.kh = 3, conv.kw = 3;
    conv.stride_h = conv.stride_w = 1, conv.pad_h = conv.pad_w = 1;
    conv.input = in.va, conv.weights = cw.va, conv.bias = cb.va, conv.output = act.va;
    stream_writer l1;
    l1.add(conv);
    const std::uint32_t l1_bos[] = {in.handle, cw.handle, cb.handle, act.handle};
    const std::int64_t j1 = cl.submit(VDNN_ENGINE_COMPUTE0, l1.bytes(), l1_bos);

    vdnn_cmd_gemm g1{};
    g1.dtype = VDNN_DTYPE_FP32, g1.m = network::batch, g1.n = network::hidden, g1.k = network::flat;
    g1.lda = network::flat, g1.ldb = network::hidden, g1.ldc = network::hidden;
    g1.a = act.va, g1.b = w1.va, g1.c = hid.va;
    vdnn_cmd_relu r1{};
    r1.dtype = VDNN_DTYPE_FP32, r1.count = std::uint64_t{network::batch} * network::hidden, r1.src = hid.va, r1.dst = hid.va;
    stream_writer l2;
    l2.add(g1).add(r1);
    const std::uint32_t l2_bos[] = {act.handle, w1.handle, hid.handle};
    const std::uint64_t l2_deps[] = {static_cast<std::uint64_t>(j1)};
    const std::int64_t j2 = cl.submit(VDNN_ENGINE_COMPUTE1, l2.bytes(), l2_bos, l2_deps);

    vdnn_cmd_gemm g2{};
    g2.dtype = VDNN_DTYPE_FP32, g2.m = network::batch, g2.n = network::classes, g2.k = network::hidden;
    g2.lda = network::hidden, g2.ldb = network::classes, g2.ldc = network::classes;
    g2.a = hid.va, g2.b = w2.va, g2.c = logits.va;
    stream_writer l3;
    l3.add(g2);
    const std::uint32_t l3_bos[] = {hid.handle, w2.handle, logits.handle};
    const std::uint64_t l3_deps[] = {static_cast<std::uint64_t>(j2)};
    const std::int64_t j3 = cl.submit(VDNN_ENGINE_COMPUTE0, l3.bytes(), l3_bos, l3_deps);

    vdnn_cmd_copy cp{};
    cp.bytes = logits.size < out.size ? logits.size : out.size, cp.src = logits.va, cp.dst = out.va;
    stream_writer l4;
    l4.add(cp);
    const std::uint32_t l4_bos[] = {logits.handle, out.handle};
    const std::uint64_t l4_deps[] = {static_cast<std::uint64_t>(j3)};
    const std::int64_t j4 = cl.submit(VDNN_ENGINE_DMA, l4.bytes(), l4_bos, l4_deps, true, 0xd0d0);
    check(j1 > 0 && j2 > 0 && j3 > 0 && j4 > 0, "SUBMIT of the four layers");
    const double submit = ms_since(t);

    t = clk::now();
    std::vector<vdnn_event_job_done> events;
    while (events.empty() && cl.read_events(events) > 0) {
    }
    check(events.size() == 1 && events[0].seqno == static_cast<std::uint64_t>(j4) && events[0].user_data == 0xd0d0 &&
              events[0].status == VDNN_STATUS_OK,
          "the completion event of the last layer");
    vdnn_wait wt;
    check(cl.wait(VDNN_WAIT_BO, out.handle, 1'000'000'000, wt) == 0 && wt.status == VDNN_STATUS_OK,
          "WAIT_BO on the output: done");
    const double run = ms_since(t);

    t = clk::now();
    const auto& want = net.reference();
    float worst = 0;
    for (std::size_t i = 0; i < want.size(); ++i)
        worst = std::max(worst, std::fabs(out.as<float>()[i] - want[i]) / (1.0f + std::fabs(want[i])));
    check(worst < 1e-3f, "logits match the reference");
    const double verify = ms_since(t);
    std::printf("    upload %.2f ms, bind %.2f ms, submit 4 jobs %.2f ms, run until the event %.2f ms, verify %.2f ms"
                " (worst relative error %.2g)\n",
                upload, bind, submit, run, verify, static_cast<double>(worst));
    for (client_buffer* b : {&in, &cw, &cb, &act, &w1, &hid, &w2, &logits, &out})
        (void)cl.release(*b);
}

template <class B>
void hang_and_recover(vdnn::client<B>& cl, B& b, const network& net) {
    using namespace vdnn;
    std::uint64_t hang = 0;
    if (cl.param(VDNN_PARAM_DEBUG_HANG, hang) != 0 || !hang) {
        std::printf("  (the device does not accept VDNN_OP_DEBUG_HANG: no hang demo)\n");
        return;
    }
    const accel_info_status before = status_of(b, cl.fd());
    auto t = clk::now();
    stream_writer s;
    s.add(vdnn_cmd_debug_hang{});
    const std::int64_t j = cl.submit(VDNN_ENGINE_COMPUTE1, s.bytes(), {}, {}, true, 0xdead);
    check(j > 0, "SUBMIT of a hanging job");
    std::vector<vdnn_event_job_done> events;
    while (events.empty() && cl.read_events(events) > 0) {
    }
    check(events.size() == 1 && events[0].status == VDNN_STATUS_TIMEOUT && events[0].error == -ETIMEDOUT,
          "the hung job ends with VDNN_STATUS_TIMEOUT");
    const double recovered = ms_since(t);
    accel_info_status after = status_of(b, cl.fd());
    for (int i = 0; i < 100 && after.state != ACCEL_STATE_OPERATIONAL; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        after = status_of(b, cl.fd());
    }
    check(after.reset_count == before.reset_count + 1 && after.state == ACCEL_STATE_OPERATIONAL,
          "one reset counted, the device operational again");
    std::printf("  a job hung: timed out and the device reset in %.0f ms (reset count %llu -> %llu)\n", recovered,
                static_cast<unsigned long long>(before.reset_count), static_cast<unsigned long long>(after.reset_count));
    infer(cl, net, "the network again, on the recovered device:");
}

template <class B>
int run(B& b, const std::string& node, const char* how) {
    int fd = b.open(node, O_RDWR);
    if (fd < 0) {
        std::printf("cannot open %s: %s\n", node.c_str(), std::strerror(-fd));
        return 1;
    }
    std::printf("vdnn through %s (%s):\n", how, node.c_str());
    network net;
    const auto t = clk::now();
    (void)net.reference();
    std::printf("  (reference logits by the plain kernels on the CPU: %.0f ms)\n", ms_since(t));
    {
        vdnn::client<B> cl(b, fd);
        infer(cl, net, "a conv + 2 fc network, batch 8, 4 jobs with dependencies:");
        hang_and_recover(cl, b, net);
    }
    b.close(fd);
    return failures ? 1 : 0;
}

} // namespace

int main(int argc, char** argv) {
    std::string mount;
    int minor = -1;
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        if (a == "--mount" && i + 1 < argc)
            mount = argv[++i];
        else if (a == "--minor" && i + 1 < argc)
            minor = std::atoi(argv[++i]);
        else {
            std::fprintf(stderr, "usage: %s [--mount DIR [--minor N]]\n", argv[0]);
            return 2;
        }
    }
    if (mount.empty()) {
        accel::subsystem sub;
        vdnn::device_config cfg;
        cfg.debug_hang = true;
        cfg.job_timeout = std::chrono::milliseconds(300);
        auto d = vdnn::device::create(cfg);
        if (!d)
            return 1;
        auto reg = sub.register_device(*d);
        if (!reg)
            return 1;
        accel::backend::mock m{sub};
        return run(m, std::string(m.root()) + "/" + accel::node_name(accel::node_kind::compute, reg->minor()),
                   "the mock backend, in one process");
    }
    accel::backend::syscall sys{mount};
    if (minor < 0) { // the first vdnn device of the mount
        for (int n = 0; n < 64 && minor < 0; ++n) {
            int fd = sys.open(mount + "/accel/accel" + std::to_string(n), O_RDWR);
            if (fd < 0)
                continue;
            char name[32] = {};
            accel_version v{};
            v.name = reinterpret_cast<std::uintptr_t>(name);
            v.name_len = sizeof name - 1;
            if (sys.ioctl(fd, ACCEL_IOCTL_VERSION, &v) == 0 && std::string_view(name) == "vdnn")
                minor = n;
            sys.close(fd);
        }
        if (minor < 0) {
            std::printf("no vdnn device under %s\n", mount.c_str());
            return 1;
        }
    }
    return run(sys, mount + "/accel/accel" + std::to_string(minor), "real system calls on a FUSE mount");
}

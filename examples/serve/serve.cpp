// SPDX-License-Identifier: MIT
// accel-serve: serves the example drivers as files under a mount point, in the foreground.
//
//   accel-serve --mount DIR [--devices LIST] [--debug-hang] [--job-timeout-ms N]
//               [--firmware-path DIRS] [--debug]
//
// One device per driver by default, in this order (minor numbers from 0):
//   minimal   the minimal example driver (MINIMAL_IOCTL_ADD)
//   vdnn      the virtual DNN accelerator (examples/vdnn)
//   vdsp      the firmware-loaded DSP (examples/vdsp)
// --devices picks others, a comma-separated list in minor order, a driver named twice serving
// two devices ("minimal,minimal,vdnn"). --debug-hang lets vdnn accept VDNN_OP_DEBUG_HANG (the
// demo's hang-and-recover), --job-timeout-ms sets vdnn's job timeout (default 2000).
// --firmware-path DIRS: where vdsp's firmware loader looks for "accel/vdsp.fw" (':'-separated
// directories, searched in order, nothing else). Default: the environment's (ACCEL_FIRMWARE_PATH
// or ACCEL_FIRMWARE_ROOT, core/firmware.hpp) if set, else the build's generated firmware
// directory, <build>/firmware, found relative to this executable (ACCEL_SERVE_FIRMWARE_REL, set
// by CMake). A vdsp device whose firmware is missing or bad is served all the same, NEEDS_RESET.
// DIR/accel/accel<N>, DIR/accel/accel_controlD<N>: the compute and monitor nodes;
// DIR/sys/class/accel/accel<N>/dev: "261:<N>".
// Prints one line per node, serves until SIGINT/SIGTERM/SIGHUP, then unmounts. Any program can
// use the nodes with open(2)/ioctl(2); several instances on different mount points coexist.
// A stale mount left by a killed instance is cleared on the next start.
#include "minimal_driver.hpp"
#include "vdnn_driver.hpp"
#include "vdsp_driver.hpp"

#include <accel/fuse/serve.hpp>

#include <cstdio>
#include <cstdlib>
#include <limits.h>
#include <unistd.h>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {
int usage(const char* argv0) {
    std::fprintf(stderr,
                 "usage: %s --mount DIR [--devices minimal,vdnn,vdsp] [--debug-hang] [--job-timeout-ms N] "
                 "[--firmware-path DIRS] [--debug]\n",
                 argv0);
    return 2;
}

/// A new device of driver `name`, or an error (-EINVAL for an unknown name).
accel::result<accel::device_ref> make_device(std::string_view name, const vdnn::device_config& vcfg,
                                             const vdsp::device_config& dcfg) {
    using out = accel::result<accel::device_ref>;
    if (name == "minimal") {
        auto d = accel::device<minimal_driver>::create();
        return d ? out(accel::device_ref(d->get())) : out::failure(d.error());
    }
    if (name == "vdnn") {
        auto d = vdnn::device::create(vcfg);
        return d ? out(accel::device_ref(d->get())) : out::failure(d.error());
    }
    if (name == "vdsp") {
        auto d = vdsp::device::create(dcfg);
        return d ? out(accel::device_ref(d->get())) : out::failure(d.error());
    }
    return out::failure(-EINVAL);
}

/// The build's firmware directory: ACCEL_SERVE_FIRMWARE_REL from this executable's directory.
std::string default_firmware_dir() {
#ifdef ACCEL_SERVE_FIRMWARE_REL
    char exe[PATH_MAX];
    const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        std::string dir(exe, static_cast<std::size_t>(n));
        dir.erase(dir.rfind('/') + 1);
        return dir + ACCEL_SERVE_FIRMWARE_REL;
    }
#endif
    return {};
}

/// ':'-separated directories.
std::vector<std::string> split_path(std::string_view p) {
    std::vector<std::string> dirs;
    while (!p.empty()) {
        const std::size_t colon = p.find(':');
        if (!p.substr(0, colon).empty())
            dirs.emplace_back(p.substr(0, colon));
        p = colon == std::string_view::npos ? std::string_view{} : p.substr(colon + 1);
    }
    return dirs;
}
} // namespace

int main(int argc, char** argv) {
    std::string mount_point;
    std::string devices = "minimal,vdnn,vdsp";
    vdnn::device_config vcfg;
    std::string firmware_path;
    accel::fuse::host_options opts;
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        if (a == "--mount" && i + 1 < argc)
            mount_point = argv[++i];
        else if (a.starts_with("--mount="))
            mount_point = std::string(a.substr(8));
        else if (a == "--devices" && i + 1 < argc)
            devices = argv[++i];
        else if (a.starts_with("--devices="))
            devices = std::string(a.substr(10));
        else if (a == "--debug-hang")
            vcfg.debug_hang = true;
        else if (a == "--job-timeout-ms" && i + 1 < argc)
            vcfg.job_timeout = std::chrono::milliseconds(std::strtoul(argv[++i], nullptr, 10));
        else if (a == "--firmware-path" && i + 1 < argc)
            firmware_path = argv[++i];
        else if (a.starts_with("--firmware-path="))
            firmware_path = std::string(a.substr(16));
        else if (a == "--debug")
            opts.debug = true;
        else
            return usage(argv[0]);
    }
    if (mount_point.empty() || vcfg.job_timeout.count() <= 0)
        return usage(argv[0]);

    vdsp::device_config dcfg;
    if (firmware_path.empty() && !std::getenv("ACCEL_FIRMWARE_PATH") && !std::getenv("ACCEL_FIRMWARE_ROOT"))
        firmware_path = default_firmware_dir();
    if (!firmware_path.empty())
        dcfg.loader = accel::firmware_loader::with_path(split_path(firmware_path));

    accel::subsystem sub;
    std::vector<accel::registration> regs;
    for (std::string_view rest = devices; !rest.empty();) {
        const std::size_t comma = rest.find(',');
        const std::string_view name = rest.substr(0, comma);
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
        auto dev = make_device(name, vcfg, dcfg);
        if (!dev) {
            std::fprintf(stderr, "accel-serve: creating a device \"%.*s\": %s\n", static_cast<int>(name.size()), name.data(),
                         dev.error() == -EINVAL ? "no such driver (minimal, vdnn, vdsp)" : std::strerror(-dev.error()));
            return dev.error() == -EINVAL ? 2 : 1;
        }
        auto r = sub.register_device(*dev);
        if (!r) {
            std::fprintf(stderr, "accel-serve: registering a device: %s\n", std::strerror(-r.error()));
            return 1;
        }
        regs.push_back(std::move(*r));
    }

    accel::fuse::host host(sub, mount_point, opts);
    int rc = accel::fuse::serve_until_signal(host, [&](int e) {
        if (e) {
            std::fprintf(stderr, "accel-serve: mounting %s: %s\n", mount_point.c_str(), std::strerror(-e));
            return;
        }
        for (const auto& node : sub.nodes()) {
            const auto& info = node.device->info();
            std::printf("%s/%s %.*s %d.%d.%d (%s node)\n", host.mount_point().c_str(), node.name.c_str(),
                        static_cast<int>(info.name.size()), info.name.data(), info.major, info.minor, info.patchlevel,
                        node.kind == accel::node_kind::compute ? "compute" : "monitor");
        }
        std::fflush(stdout);
    });
    if (rc) {
        std::fprintf(stderr, "accel-serve: %s\n", std::strerror(-rc));
        return 1;
    }
    return 0;
}

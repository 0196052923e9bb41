// SPDX-License-Identifier: MIT
// accel-serve: serves the example drivers as files under a mount point, in the foreground.
//
//   accel-serve --mount DIR [--debug]
//
// DIR/accel/accel0, DIR/accel/accel_controlD0: the minimal example driver (MINIMAL_IOCTL_ADD);
// DIR/accel/accel1, DIR/accel/accel_controlD1: a second instance of it;
// DIR/sys/class/accel/accel<N>/dev: "261:<N>".
// Prints one line per node, serves until SIGINT/SIGTERM/SIGHUP, then unmounts. Any program can
// use the nodes with open(2)/ioctl(2); several instances on different mount points coexist.
// A stale mount left by a killed instance is cleared on the next start.
#include "minimal_driver.hpp"

#include <accel/fuse/serve.hpp>

#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

namespace {
int usage(const char* argv0) {
    std::fprintf(stderr, "usage: %s --mount DIR [--debug]\n", argv0);
    return 2;
}
} // namespace

int main(int argc, char** argv) {
    std::string mount_point;
    accel::fuse::host_options opts;
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        if (a == "--mount" && i + 1 < argc)
            mount_point = argv[++i];
        else if (a.starts_with("--mount="))
            mount_point = std::string(a.substr(8));
        else if (a == "--debug")
            opts.debug = true;
        else
            return usage(argv[0]);
    }
    if (mount_point.empty())
        return usage(argv[0]);

    accel::subsystem sub;
    accel::registration regs[2];
    for (auto& reg : regs) {
        auto dev = accel::device<minimal_driver>::create();
        if (!dev) {
            std::fprintf(stderr, "accel-serve: creating a device: %s\n", std::strerror(-dev.error()));
            return 1;
        }
        auto r = sub.register_device(*dev);
        if (!r) {
            std::fprintf(stderr, "accel-serve: registering a device: %s\n", std::strerror(-r.error()));
            return 1;
        }
        reg = std::move(*r);
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

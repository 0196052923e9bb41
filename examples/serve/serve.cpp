// SPDX-License-Identifier: MIT
// accel-serve: serves the example drivers as files under a mount point, in the foreground.
//
//   accel-serve --mount DIR [--devices LIST] [--debug-hang] [--job-timeout-ms N]
//               [--firmware-path DIRS] [--owner USER] [--group GROUP] [--mode OCTAL]
//               [--rule RULE]... [--rules FILE] [--debug]
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
// DIR/sys/class/accel/accel<N>/...: the device's sysfs-like attributes (dev, status, reset,
// memory, hwmon, the driver's under device/); DIR/sys/kernel/debug/accel/<N>/...: its
// debugfs-like entries (name, clients, fdinfo/<client-id>, the driver's).
// Permissions (monitor/access.hpp): --owner, --group (a name or a number) and --mode (octal, at
// most 07777) set every device node's owner, group and mode (default root:root 0666; attribute
// files keep root:root and their declared mode); --rule adds one udev-like rule (repeatable,
// applied in order after those, later rules winning; one without KERNEL also reaches
// attribute files: a DRIVER-only rule gives its mode to every sysfs and debugfs file of the
// driver's devices, so give nodes to a group with KERNEL; sysfs `reset` stays root's whatever
// its mode), e.g.
//   --rule 'KERNEL=="accel_controlD*", MODE="0644"'
//   --rule 'KERNEL=="accel*", DRIVER=="vdnn", GROUP="video", MODE="0660"'
//   --rule 'PATH=="sys/class/accel/*/reset", MODE="0200"'
// and --rules FILE adds a file of them (one a line, '#' comments), in its place among the
// --rule options. The kernel enforces them on the mount (default_permissions; run as root for
// other users to reach the mount at all: allow_other). A bad value is a message and status 2.
// Prints one line per node, serves until SIGINT/SIGTERM/SIGHUP, then unmounts. Any program can
// use the nodes with open(2)/ioctl(2); several instances on different mount points coexist.
// A stale mount left by a killed instance is cleared on the next start.
#include "minimal_driver.hpp"
#include "vdnn_driver.hpp"
#include "vdsp_driver.hpp"

#include <accel/fuse/serve.hpp>
#include <accel/monitor/access.hpp>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <limits.h>
#include <unistd.h>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {
constexpr const char* usage_line =
    "usage: %s --mount DIR [--devices minimal,vdnn,vdsp] [--debug-hang] [--job-timeout-ms N]\n"
    "       [--firmware-path DIRS] [--owner USER] [--group GROUP] [--mode OCTAL]\n"
    "       [--rule RULE]... [--rules FILE] [--debug]\n";

int usage(const char* argv0) {
    std::fprintf(stderr, usage_line, argv0);
    std::fprintf(stderr, "(--help for more)\n");
    return 2;
}

int help(const char* argv0) {
    std::printf(usage_line, argv0);
    std::printf(
        "Serves the example drivers' devices as files under DIR, in the foreground, until SIGINT,\n"
        "SIGTERM or SIGHUP (then unmounts): DIR/accel/accel<N> and accel_controlD<N> (the nodes),\n"
        "DIR/sys/class/accel/accel<N>/ (attributes) and DIR/sys/kernel/debug/accel/<N>/ (debug\n"
        "entries, fdinfo/<client-id> per client).\n"
        "  --mount DIR           the mount point (created if missing; a stale mount is cleared)\n"
        "  --devices LIST        drivers in minor order, comma-separated (default minimal,vdnn,vdsp)\n"
        "  --debug-hang          vdnn accepts VDNN_OP_DEBUG_HANG\n"
        "  --job-timeout-ms N    vdnn's job timeout, 1..86400000 ms (default 2000)\n"
        "  --firmware-path DIRS  where vdsp looks for accel/vdsp.fw (':'-separated)\n"
        "  --owner USER          owner of every device node (name or number; default root)\n"
        "  --group GROUP         group of every device node (name or number; default root)\n"
        "  --mode OCTAL          mode of every device node (at most 07777; default 0666)\n"
        "  --rule RULE           a udev-like rule, applied after the above (repeatable; later wins):\n"
        "                          match keys (==, shell globs): KERNEL (a node's name: accel0,\n"
        "                          accel_controlD0), PATH (under DIR: accel/accel0,\n"
        "                          sys/class/accel/accel0/reset), DRIVER (minimal, vdnn, vdsp);\n"
        "                          a rule without KERNEL also reaches attribute files (a\n"
        "                          DRIVER-only rule gives its mode to every sysfs and debugfs\n"
        "                          file of the driver's devices: match nodes with KERNEL)\n"
        "                          assignments (=): OWNER, GROUP, MODE\n"
        "                        e.g. --rule 'KERNEL==\"accel_controlD*\", MODE=\"0644\"'\n"
        "                             --rule 'KERNEL==\"accel*\", DRIVER==\"vdnn\", GROUP=\"video\",\n"
        "                                     MODE=\"0660\"'\n"
        "                        sysfs reset stays root's whatever its mode; debugfs files are\n"
        "                        root's (0400; name 0444) unless a rule widens them\n"
        "  --rules FILE          rules from FILE, one a line ('#' comments)\n"
        "  --debug               libfuse's request log on stderr\n"
        "The kernel enforces owners, groups and modes on the mount (default_permissions); other\n"
        "users reach the mount only when accel-serve runs as root (allow_other).\n"
        "Exit status: 0 after a clean stop, 1 on a mount or serving error, 2 on a bad argument.\n");
    return 0;
}

/// The text of a whole file, or nullopt with errno set.
std::optional<std::string> read_text(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "r");
    if (!f)
        return std::nullopt;
    std::string text;
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0)
        text.append(buf, n);
    const bool failed = std::ferror(f) != 0;
    std::fclose(f);
    if (failed) {
        errno = EIO;
        return std::nullopt;
    }
    return text;
}

constexpr const char* rule_syntax = "match keys KERNEL==, PATH==, DRIVER== and assignments OWNER=, GROUP=, MODE= with "
                                    "double-quoted values, comma-separated; a known user and group, an octal mode up "
                                    "to 07777, at least one assignment, no key twice";

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
    accel::node_access node_defaults = opts.access.node_defaults();
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        // "--name VALUE" or "--name=VALUE": the value, or nullptr when `a` is another option.
        auto value = [&](std::string_view name) -> const char* {
            if (a == name && i + 1 < argc)
                return argv[++i];
            if (a.starts_with(name) && a.size() > name.size() && a[name.size()] == '=')
                return argv[i] + name.size() + 1;
            return nullptr;
        };
        if (a == "--help" || a == "-h")
            return help(argv[0]);
        if (const char* v = value("--mount"))
            mount_point = v;
        else if (const char* v = value("--devices"))
            devices = v;
        else if (a == "--debug-hang")
            vcfg.debug_hang = true;
        else if (const char* v = value("--job-timeout-ms")) {
            // The whole value, in 1 ms .. 1 day: "10abc" or a count whose nanoseconds overflow
            // the scheduler's timeout is an error, not a silently different timeout.
            char* end = nullptr;
            errno = 0;
            const unsigned long long ms = std::strtoull(v, &end, 10);
            if (errno || v[0] < '0' || v[0] > '9' || *end || ms < 1 || ms > 86'400'000ull) {
                std::fprintf(stderr, "accel-serve: --job-timeout-ms %s: not a number of milliseconds in 1..86400000\n", v);
                return 2;
            }
            vcfg.job_timeout = std::chrono::milliseconds(ms);
        }
        else if (const char* v = value("--firmware-path"))
            firmware_path = v;
        else if (const char* v = value("--owner")) {
            auto uid = accel::detail::lookup_user(v);
            if (!uid) {
                std::fprintf(stderr, "accel-serve: --owner %s: no such user\n", v);
                return 2;
            }
            node_defaults.uid = *uid;
        } else if (const char* v = value("--group")) {
            auto gid = accel::detail::lookup_group(v);
            if (!gid) {
                std::fprintf(stderr, "accel-serve: --group %s: no such group\n", v);
                return 2;
            }
            node_defaults.gid = *gid;
        } else if (const char* v = value("--mode")) {
            auto mode = accel::detail::parse_mode(v);
            if (!mode) {
                std::fprintf(stderr, "accel-serve: --mode %s: not an octal mode from 0 to 07777\n", v);
                return 2;
            }
            node_defaults.mode = *mode;
        } else if (const char* v = value("--rules")) {
            auto text = read_text(v);
            if (!text) {
                std::fprintf(stderr, "accel-serve: --rules %s: %s\n", v, std::strerror(errno));
                return 2;
            }
            unsigned line = 0;
            if (opts.access.load_rules(*text, &line) != 0) {
                std::fprintf(stderr, "accel-serve: %s:%u: bad rule (%s)\n", v, line, rule_syntax);
                return 2;
            }
        } else if (const char* v = value("--rule")) {
            auto rule = accel::access_policy::parse_rule(v);
            if (!rule) {
                std::fprintf(stderr, "accel-serve: --rule '%s': bad rule (%s)\n", v, rule_syntax);
                return 2;
            }
            opts.access.add_rule(std::move(*rule));
        } else if (a == "--debug")
            opts.debug = true;
        else
            return usage(argv[0]);
    }
    if (mount_point.empty() || vcfg.job_timeout.count() <= 0)
        return usage(argv[0]);
    opts.access.set_node_defaults(node_defaults);

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

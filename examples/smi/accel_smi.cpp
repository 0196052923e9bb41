// SPDX-License-Identifier: MIT
// accel-smi: what the accel devices under a root are doing, for people who operate them (in the
// manner of nvidia-smi, hl-smi and nvtop's text view).
//
//   accel-smi [ROOT]                   one-shot table: devices, memory, engines with their
//                                      utilisation (two samples ~200 ms apart), sensors, processes
//   accel-smi [ROOT] --watch [SECONDS] the same, refreshed in place every SECONDS (default 1);
//                                      q quits
//   accel-smi [ROOT] --json            one JSON object on stdout: {"devices": [...], ...}
//   accel-smi [ROOT] --reset N         resets device N and waits for it (root only)
//
// ROOT is a mount point of accel-serve (devices in ROOT/accel) or a directory of accel nodes;
// the default is /dev/accel, a kernel's devices. Served devices are read through their monitor
// node (accel_controlD<N>) with INFO (smi_info.hpp), so accel-smi works while a compute client
// holds the device exclusively; a kernel device (INFO answers ENOTTY) shows what VERSION gives
// and its clients' /proc/<pid>/fdinfo (smi_kernel.hpp).
//
// Exit status: 0 ok; 1 no devices under ROOT, or a device could not be read, or the reset
// failed; 2 usage.
#include "smi_info.hpp"
#include "smi_json.hpp"
#include "smi_kernel.hpp"
#include "smi_model.hpp"
#include "smi_table.hpp"
#include "smi_terminal.hpp"

#include <accel/backend/syscall.hpp>
#include <accel/backend/unique_fd.hpp>
#include <accel/uapi/accel_reset.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <dirent.h>
#include <string>
#include <string_view>
#include <sys/stat.h>
#include <thread>
#include <vector>

namespace {

using accel::backend::unique_fd;
using namespace accel_smi;


bool is_dir(const std::string& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool exists(const std::string& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0;
}

/// The devices under a root, each with one open node (the monitor node when there is one).
class device_set {
public:
    /// ROOT/accel when it exists (a mount point of accel-serve, or /dev), else ROOT itself.
    explicit device_set(std::string root) : root_(std::move(root)) {
        while (root_.size() > 1 && root_.back() == '/')
            root_.pop_back();
        dir_ = is_dir(root_ + "/accel") ? root_ + "/accel" : root_;
    }

    /// Lists and opens the devices; 0, or -errno when the directory cannot be listed.
    int open_all(std::vector<std::string>& errors) {
        std::vector<long> minors;
        DIR* d = ::opendir(dir_.c_str());
        if (!d)
            return -errno;
        while (const dirent* e = ::readdir(d))
            if (long n = compute_minor(e->d_name); n >= 0)
                minors.push_back(n);
        ::closedir(d);
        std::sort(minors.begin(), minors.end());
        for (long n : minors) {
            const std::string compute = dir_ + "/accel" + std::to_string(n);
            const std::string monitor = dir_ + "/accel_controlD" + std::to_string(n);
            const std::string node = exists(monitor) ? monitor : compute;
            int fd = sys_.open(node, O_RDWR);
            if (fd == -EACCES || fd == -EPERM)
                fd = sys_.open(node, O_RDONLY);
            if (fd < 0) {
                errors.push_back(node + ": " + describe_error(-fd));
                continue;
            }
            entry e{n, node, compute, unique_fd(fd)};
            nodes_.push_back(std::move(e));
        }
        return 0;
    }

    bool empty() const { return nodes_.empty(); }
    const std::string& root() const { return root_; }

    /// One sample of every device.
    snapshot sample() const {
        snapshot s;
        s.root = root_;
        for (const auto& n : nodes_) {
            device_info d;
            d.minor = static_cast<std::uint32_t>(n.minor);
            d.node = n.node;
            int e = collect_info_device(sys_, n.fd.get(), d);
            if (e == -ENOTTY) {
                // A kernel accel node: VERSION and the clients' fdinfo.
                d = device_info{};
                d.minor = static_cast<std::uint32_t>(n.minor);
                d.node = n.node;
                version_info v;
                if (int ve = query_version(sys_, n.fd.get(), v); ve < 0) {
                    s.errors.push_back(n.node + ": VERSION: " + describe_error(-ve));
                    continue;
                }
                d.driver = v.name;
                d.desc = v.desc;
                d.version = std::to_string(v.major) + "." + std::to_string(v.minor) + "." + std::to_string(v.patchlevel);
                struct stat st {};
                if (::stat(n.compute.c_str(), &st) == 0 && S_ISCHR(st.st_mode))
                    collect_kernel_clients(st.st_rdev, d);
                else
                    d.source = "kernel";
                d.sampled_ns = monotonic_ns();
            } else if (e < 0) {
                s.errors.push_back(n.node + ": INFO: " + describe_error(-e));
                continue;
            }
            s.devices.push_back(std::move(d));
        }
        return s;
    }

    /// ACCEL_IOCTL_RESET with ACCEL_RESET_WAIT on device `minor`; 0 or -errno (-ENOENT: no such device).
    int reset(long minor) const {
        for (const auto& n : nodes_) {
            if (n.minor != minor)
                continue;
            accel_reset_request req{ACCEL_RESET_WAIT, 0};
            return sys_.ioctl(n.fd.get(), ACCEL_IOCTL_RESET, &req);
        }
        return -ENOENT;
    }

private:
    struct entry {
        long minor;
        std::string node, compute;
        unique_fd fd;
    };
    std::string root_, dir_;
    accel::backend::syscall sys_{"/"}; // plain ioctls only: no descriptor-returning request is made
    std::vector<entry> nodes_;
};

/// Two samples `gap` apart, the second with its utilisation.
snapshot sample_twice(const device_set& devs, std::chrono::milliseconds gap) {
    snapshot first = devs.sample();
    std::this_thread::sleep_for(gap);
    snapshot second = devs.sample();
    compute_utilisation(first, second);
    return second;
}

std::string clock_text() {
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    ::localtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    return buf;
}

int run_watch(const device_set& devs, double seconds) {
    watch_terminal term;
    if (!term.start()) {
        std::perror("accel-smi: --watch");
        return 1;
    }
    const auto interval = std::chrono::milliseconds(static_cast<long>(seconds * 1000));
    snapshot prev = devs.sample();
    // The first frame after a short interval, so that it already shows utilisation.
    auto wait_for = std::chrono::milliseconds(std::min<long>(200, static_cast<long>(interval.count())));
    snapshot shown;
    char every[32];
    std::snprintf(every, sizeof every, "%g", seconds);
    for (;;) {
        const auto deadline = std::chrono::steady_clock::now() + wait_for;
        bool quit = false, redraw = false;
        for (;;) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0)
                break;
            auto ev = term.wait(static_cast<int>(left.count()));
            if (ev == watch_terminal::event::quit) {
                quit = true;
                break;
            }
            if (ev == watch_terminal::event::resize && !shown.devices.empty()) {
                redraw = true;
                break;
            }
        }
        // Input that ends before the first frame (</dev/null, a closed pipe) still gets one frame.
        if (quit && (!shown.devices.empty() || watch_terminal::signal()))
            break;
        if (!redraw) {
            snapshot now = devs.sample();
            compute_utilisation(prev, now);
            prev = now;
            shown = std::move(now);
            wait_for = interval;
        }
        std::size_t cols, rows;
        watch_terminal::size(cols, rows);
        std::vector<std::string> lines;
        lines.push_back("accel-smi  " + devs.root() + "  every " + every + " s  " + clock_text() + "  (q to quit)");
        lines.emplace_back();
        for (auto& l : render_snapshot(shown, cols, true))
            lines.push_back(std::move(l));
        watch_terminal::draw(lines);
        if (quit)
            break;
    }
    term.stop();
    return 0;
}

int usage(FILE* to) {
    std::fprintf(to,
                 "usage: accel-smi [ROOT] [--watch [SECONDS] | --json | --reset N]\n"
                 "  ROOT         a mount point of accel-serve, or a directory of accel nodes (default /dev/accel)\n"
                 "  --watch [S]  refresh in place every S seconds (default 1); q quits\n"
                 "  --json       one JSON object on stdout\n"
                 "  --reset N    reset device N and wait for it (root only)\n");
    return 2;
}

} // namespace

int main(int argc, char** argv) {
    std::string root = "/dev/accel";
    bool have_root = false, json = false, watch = false;
    double seconds = 1.0;
    long reset = -1;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (a == "-h" || a == "--help") {
            usage(stdout);
            return 0;
        }
        if (a == "--json") {
            json = true;
        } else if (a == "--watch" || a == "-w") {
            watch = true;
            if (i + 1 < argc) { // an optional number of seconds
                char* end = nullptr;
                const double s = std::strtod(argv[i + 1], &end);
                if (end != argv[i + 1] && *end == '\0') {
                    if (!(s >= 0.1 && s <= 3600)) {
                        std::fprintf(stderr, "accel-smi: --watch takes 0.1 to 3600 seconds\n");
                        return usage(stderr);
                    }
                    seconds = s;
                    ++i;
                }
            }
        } else if (a == "--reset") {
            if (i + 1 >= argc)
                return usage(stderr);
            const std::string_view n = argv[++i];
            auto [p, ec] = std::from_chars(n.data(), n.data() + n.size(), reset);
            if (ec != std::errc{} || p != n.data() + n.size() || reset < 0)
                return usage(stderr);
        } else if (!a.starts_with("-") && !have_root) {
            root = std::string(a);
            have_root = true;
        } else {
            return usage(stderr);
        }
    }
    if (int(json) + int(watch) + int(reset >= 0) > 1)
        return usage(stderr);

    device_set devs(root);
    std::vector<std::string> open_errors;
    if (int e = devs.open_all(open_errors); e == -ENOENT) {
        std::fprintf(stderr, "accel-smi: no accel devices under %s (no such directory)\n", root.c_str());
        return 1;
    } else if (e < 0) {
        std::fprintf(stderr, "accel-smi: %s: %s\n", root.c_str(), describe_error(-e).c_str());
        return 1;
    }
    for (const auto& e : open_errors)
        std::fprintf(stderr, "accel-smi: cannot open %s\n", e.c_str());
    if (devs.empty()) {
        std::fprintf(stderr, "accel-smi: no accel devices under %s\n", root.c_str());
        return 1;
    }

    if (reset >= 0) {
        const int e = devs.reset(reset);
        if (e == 0) {
            std::printf("accel%ld: reset done\n", reset);
            return 0;
        }
        std::string why = describe_error(-e);
        if (e == -EACCES || e == -EPERM)
            why += ": only root may reset a device";
        else if (e == -ENOENT)
            why = "no such device under " + root;
        else if (e == -EIO)
            why += ": the reset failed, the device is left in malfunction";
        else if (e == -ENOTTY || e == -EINVAL)
            why += ": this device does not take accel's RESET request";
        std::fprintf(stderr, "accel-smi: reset of accel%ld: %s\n", reset, why.c_str());
        return 1;
    }
    if (watch)
        return run_watch(devs, seconds);

    snapshot s = sample_twice(devs, std::chrono::milliseconds(200));
    for (auto& e : open_errors)
        s.errors.insert(s.errors.begin(), "cannot open " + e);
    if (json) {
        std::string out = snapshot_json(s);
        out += '\n';
        std::fwrite(out.data(), 1, out.size(), stdout);
    } else {
        for (const auto& l : render_snapshot(s))
            std::printf("%s\n", l.c_str());
    }
    return s.errors.empty() ? 0 : 1;
}

// SPDX-License-Identifier: MIT
// accel-info: lists the accel devices under a root and what they say about themselves.
//
//   accel-info [ROOT]          ROOT defaults to /dev; a mount point of accel-serve works too
//   accel-info --root ROOT
//
// For every ROOT/accel/accel<N> (sorted by N): the node, the monitor node accel_controlD<N> if
// there is one, the driver's name, version, date and description (DRM_IOCTL_VERSION, asked
// twice as libdrm's drmGetVersion does: lengths first, then the strings), and the INFO items
// (ACCEL_IOCTL_INFO, sized with a length-0 call first). A kernel accel node answers INFO with
// ENOTTY; accel-info then says that INFO is not supported and shows only what VERSION gives.
// When the compute node cannot be opened because it is busy (an exclusive device) or not
// permitted, the monitor node is queried instead when there is one (VERSION and INFO are
// allowed on it).
//
// Exit status: 0 when every device found was listed; 1 when there are no accel devices under
// ROOT (the message "no accel devices under ROOT" goes to stderr), ROOT is unusable, or some
// device could not be opened or queried; 2 on a usage error.
#include "smi_info.hpp" // shared with accel-smi: VERSION, errno names, node names, states

#include <accel/backend/syscall.hpp>
#include <accel/backend/unique_fd.hpp>
#include <accel/uapi/accel_drm.h>
#include <accel/uapi/accel_info.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <string>
#include <string_view>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <vector>

namespace {

using accel::backend::unique_fd;
using accel_smi::compute_minor;
using accel_smi::query_version;
using accel_smi::state_name;
using accel_smi::user_ptr;
using accel_smi::version_info;

/// accel-smi's description ("Permission denied (EACCES)"), with what to do about a refusal.
std::string describe_error(int e) { // e > 0
    std::string s = accel_smi::describe_error(e);
    if (e == EACCES || e == EPERM)
        s += "; run as root or as a member of the node's group";
    return s;
}


struct info_answer {
    std::uint32_t id = 0;
    int error = 0; // -errno for this item, 0 when data holds the answer
    std::vector<unsigned char> data;
};

constexpr std::uint32_t info_ids[] = {ACCEL_INFO_IDENTITY, ACCEL_INFO_MEMORY_REGIONS, ACCEL_INFO_ENGINES,
                                      ACCEL_INFO_CAPABILITIES, ACCEL_INFO_STATUS, ACCEL_INFO_MEMORY_USAGE,
                                      ACCEL_INFO_ENGINE_BUSY};
constexpr std::size_t info_count = sizeof info_ids / sizeof info_ids[0];

/// ACCEL_IOCTL_INFO for every item: one call with length 0 to learn the sizes, one to fetch.
/// Returns 0 (per-item errors in the answers) or the ioctl's -errno (-ENOTTY: no INFO here).
int query_info(const accel::backend::syscall& sys, int fd, std::vector<info_answer>& out) {
    accel_info_item items[info_count] = {};
    for (std::size_t i = 0; i < info_count; ++i)
        items[i].id = info_ids[i];
    accel_info req{};
    req.num_items = static_cast<__u32>(info_count);
    req.items = user_ptr(items);
    if (int e = sys.ioctl(fd, ACCEL_IOCTL_INFO, &req); e < 0)
        return e;

    out.clear();
    for (std::size_t i = 0; i < info_count; ++i) {
        info_answer a;
        a.id = info_ids[i];
        if (items[i].length < 0)
            a.error = items[i].length;
        else
            a.data.resize(static_cast<std::size_t>(items[i].length));
        out.push_back(std::move(a));
    }
    for (std::size_t i = 0; i < info_count; ++i) {
        items[i].flags = 0;
        items[i].pad = 0;
        items[i].length = out[i].error ? 0 : static_cast<__s32>(out[i].data.size());
        items[i].data = out[i].error ? 0 : user_ptr(out[i].data.data());
    }
    // Items that failed sizing are asked again with length 0, which cannot write anything.
    if (int e = sys.ioctl(fd, ACCEL_IOCTL_INFO, &req); e < 0)
        return e;
    for (std::size_t i = 0; i < info_count; ++i) {
        if (out[i].error)
            continue;
        if (items[i].length < 0)
            out[i].error = items[i].length;
        else if (static_cast<std::size_t>(items[i].length) > out[i].data.size())
            out[i].error = -EOVERFLOW; // the item grew between the calls (a dynamic list)
        else
            out[i].data.resize(static_cast<std::size_t>(items[i].length));
    }
    return 0;
}

/// Reads a T at byte offset off of an answer, or returns false when the answer is too short.
template <class T>
bool read_at(const info_answer& a, std::size_t off, T& v) {
    if (a.data.size() < off || a.data.size() - off < sizeof(T))
        return false;
    std::memcpy(&v, a.data.data() + off, sizeof(T));
    return true;
}

/// A fixed-size char array from the device, printed up to its first NUL (never past the end).
template <std::size_t N>
std::string c_name(const char (&s)[N]) {
    return std::string(s, strnlen(s, N));
}

std::string human_size(std::uint64_t bytes) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    std::size_t u = 0;
    while (u + 1 < std::size(units) && bytes >= (1ull << (10 * (u + 1))) && bytes % (1ull << (10 * (u + 1))) == 0)
        ++u;
    return std::to_string(bytes >> (10 * u)) + " " + units[u];
}

const char* memory_kind(std::uint32_t k) {
    switch (k) {
    case ACCEL_MEMORY_SYSTEM: return "system";
    case ACCEL_MEMORY_DEVICE: return "device";
    case ACCEL_MEMORY_SRAM: return "sram";
    default: return "unknown";
    }
}


const char* item_title(std::uint32_t id) {
    switch (id) {
    case ACCEL_INFO_IDENTITY: return "identity";
    case ACCEL_INFO_MEMORY_REGIONS: return "memory regions";
    case ACCEL_INFO_ENGINES: return "engines";
    case ACCEL_INFO_CAPABILITIES: return "capabilities";
    case ACCEL_INFO_STATUS: return "status";
    case ACCEL_INFO_MEMORY_USAGE: return "memory usage";
    case ACCEL_INFO_ENGINE_BUSY: return "engine busy";
    default: return "item";
    }
}

/// A list item: header {count, pad} then count elements of Elem. Calls fn for each element.
template <class Elem, class Fn>
bool for_each_elem(const info_answer& a, Fn&& fn) {
    std::uint32_t header[2] = {};
    if (!read_at(a, 0, header))
        return false;
    if (header[0] == 0) {
        std::printf(" none\n");
        return true;
    }
    std::printf(" %" PRIu32 "\n", header[0]);
    for (std::uint32_t i = 0; i < header[0]; ++i) {
        Elem e{};
        if (!read_at(a, sizeof header + std::size_t{i} * sizeof(Elem), e))
            return false;
        fn(e);
    }
    return true;
}

bool print_item(const info_answer& a) {
    std::printf("    %s:", item_title(a.id));
    if (a.error) {
        std::printf(" error: %s\n", describe_error(-a.error).c_str());
        return false;
    }
    bool ok = true;
    switch (a.id) {
    case ACCEL_INFO_IDENTITY: {
        accel_info_identity v{};
        if ((ok = read_at(a, 0, v)))
            std::printf(" %s %" PRIu32 ".%" PRIu32 ".%" PRIu32 " \"%s\", minor %" PRIu32 ", client id %" PRIu64 "\n",
                        c_name(v.name).c_str(), v.version_major, v.version_minor, v.version_patchlevel,
                        c_name(v.desc).c_str(), v.minor, static_cast<std::uint64_t>(v.client_id));
        break;
    }
    case ACCEL_INFO_MEMORY_REGIONS:
        ok = for_each_elem<accel_info_memory_region>(a, [](const accel_info_memory_region& r) {
            std::printf("      region %" PRIu32 " \"%s\": %s, %s\n", r.id, c_name(r.name).c_str(), memory_kind(r.kind),
                        human_size(r.size).c_str());
        });
        break;
    case ACCEL_INFO_ENGINES:
        ok = for_each_elem<accel_info_engine>(a, [](const accel_info_engine& e) {
            std::printf("      engine %" PRIu32 " \"%s\": %" PRIu32 " instance%s\n", e.id, c_name(e.name).c_str(),
                        e.instances, e.instances == 1 ? "" : "s");
        });
        break;
    case ACCEL_INFO_CAPABILITIES: {
        accel_info_capabilities c{};
        if ((ok = read_at(a, 0, c))) {
            std::string names;
            auto flag = [&](std::uint64_t bit, const char* n) {
                if (c.flags & bit)
                    names += names.empty() ? n : std::string(" ") + n;
            };
            flag(ACCEL_INFO_CAP_PRIME, "prime");
            flag(ACCEL_INFO_CAP_MMU, "mmu");
            flag(ACCEL_INFO_CAP_EXCLUSIVE, "exclusive");
            std::printf(" flags 0x%" PRIx64 " (%s), page sizes 0x%" PRIx64 ", va bits %" PRIu32 "\n",
                        static_cast<std::uint64_t>(c.flags), names.empty() ? "none" : names.c_str(),
                        static_cast<std::uint64_t>(c.page_sizes), c.va_bits);
        }
        break;
    }
    case ACCEL_INFO_STATUS: {
        accel_info_status s{};
        if ((ok = read_at(a, 0, s)))
            std::printf(" %s, %" PRIu32 " open file%s (this one included), %" PRIu64 " reset%s\n", state_name(s.state),
                        s.open_files, s.open_files == 1 ? "" : "s", static_cast<std::uint64_t>(s.reset_count),
                        s.reset_count == 1 ? "" : "s");
        break;
    }
    case ACCEL_INFO_MEMORY_USAGE:
        ok = for_each_elem<accel_info_memory_use>(a, [](const accel_info_memory_use& u) {
            std::printf("      region %" PRIu32 ": %" PRIu64 " bytes used\n", u.region_id, static_cast<std::uint64_t>(u.used));
        });
        break;
    case ACCEL_INFO_ENGINE_BUSY:
        ok = for_each_elem<accel_info_engine_time>(a, [](const accel_info_engine_time& t) {
            std::printf("      engine %" PRIu32 ": %" PRIu64 " ns busy\n", t.engine_id, static_cast<std::uint64_t>(t.busy_ns));
        });
        break;
    default:
        break;
    }
    if (!ok)
        std::printf(" (malformed answer, %zu bytes)\n", a.data.size());
    return ok;
}

bool exists(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
}

std::string node_kind_text(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
        return "unknown";
    if (S_ISCHR(st.st_mode))
        return "character device " + std::to_string(major(st.st_rdev)) + ":" + std::to_string(minor(st.st_rdev));
    if (S_ISREG(st.st_mode))
        return "served file";
    return "other file";
}

/// Lists one device; returns true when it could be opened and queried.
bool list_device(const accel::backend::syscall& sys, long n) {
    const std::string root(sys.root());
    const std::string compute = root + "/accel/accel" + std::to_string(n);
    const std::string monitor = root + "/accel/accel_controlD" + std::to_string(n);
    const bool has_monitor = exists(monitor);

    std::printf("%s (%s)\n", compute.c_str(), node_kind_text(compute).c_str());
    if (has_monitor)
        std::printf("  monitor node: %s\n", monitor.c_str());

    std::string queried = compute;
    int fd = sys.open(compute, O_RDWR);
    if (fd < 0) {
        std::printf("  cannot open %s: %s\n", compute.c_str(), describe_error(-fd).c_str());
        if (!has_monitor || (fd != -EBUSY && fd != -EACCES && fd != -EPERM))
            return false;
        fd = sys.open(monitor, O_RDWR);
        if (fd < 0) {
            std::printf("  cannot open %s: %s\n", monitor.c_str(), describe_error(-fd).c_str());
            return false;
        }
        queried = monitor;
        std::printf("  (queried through the monitor node)\n");
    }
    unique_fd owned(fd);

    version_info v;
    if (int e = query_version(sys, owned.get(), v); e < 0) {
        std::printf("  VERSION failed: %s\n", describe_error(-e).c_str());
        return false;
    }
    std::printf("  driver: %s %d.%d.%d (date %s)\n", v.name.c_str(), v.major, v.minor, v.patchlevel,
                v.date.empty() ? "-" : v.date.c_str());
    std::printf("  description: %s\n", v.desc.empty() ? "-" : v.desc.c_str());

    std::vector<info_answer> answers;
    int e = query_info(sys, owned.get(), answers);
    if (e == -ENOTTY) {
        std::printf("  INFO: not supported by this device (ENOTTY: not an accel framework device, e.g. a kernel "
                    "accel node)\n");
        return true;
    }
    if (e < 0) {
        std::printf("  INFO failed: %s\n", describe_error(-e).c_str());
        return false;
    }
    std::printf("  INFO:\n");
    bool ok = true;
    for (const auto& a : answers)
        ok = print_item(a) && ok;
    return ok;
}

int usage(const char* argv0) {
    std::fprintf(stderr, "usage: %s [ROOT | --root ROOT]\n  ROOT: /dev (default) or the mount point of accel-serve\n",
                 argv0);
    return 2;
}

} // namespace

int main(int argc, char** argv) {
    std::string root = "/dev";
    bool have_root = false;
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        if (a == "-h" || a == "--help") {
            usage(argv[0]);
            return 0;
        }
        if (have_root)
            return usage(argv[0]);
        if (a == "--root" && i + 1 < argc)
            root = argv[++i];
        else if (a.starts_with("--root="))
            root = std::string(a.substr(7));
        else if (!a.starts_with("-") && !a.empty())
            root = std::string(a);
        else
            return usage(argv[0]);
        have_root = true;
    }

    accel::backend::syscall sys(root);
    const std::string dir = std::string(sys.root()) + "/accel";

    struct stat st {};
    if (::stat(std::string(sys.root()).c_str(), &st) != 0) {
        int e = errno;
        std::fprintf(stderr, "accel-info: %s: %s\n", root.c_str(), describe_error(e).c_str());
        return 1;
    }
    if (!S_ISDIR(st.st_mode)) {
        std::fprintf(stderr, "accel-info: %s: not a directory\n", root.c_str());
        return 1;
    }

    std::vector<long> minors;
    if (DIR* d = ::opendir(dir.c_str())) {
        while (const dirent* ent = ::readdir(d))
            if (long n = compute_minor(ent->d_name); n >= 0)
                minors.push_back(n);
        ::closedir(d);
    } else if (errno != ENOENT && errno != ENOTDIR) {
        int e = errno;
        std::fprintf(stderr, "accel-info: cannot list %s: %s\n", dir.c_str(), describe_error(e).c_str());
        return 1;
    }
    if (minors.empty()) {
        std::fprintf(stderr, "accel-info: no accel devices under %s\n", root.c_str());
        return 1;
    }
    std::sort(minors.begin(), minors.end());

    bool all_ok = true;
    for (std::size_t i = 0; i < minors.size(); ++i) {
        if (i)
            std::printf("\n");
        all_ok = list_device(sys, minors[i]) && all_ok;
    }
    return all_ok ? 0 : 1;
}

// SPDX-License-Identifier: MIT
#pragma once
/// \file A device's two attribute trees: the sysfs-like one (/sys/class/accel/accel<N>/) and
/// the debugfs-like one (/sys/kernel/debug/accel/<N>/), what is in them, and how a backend
/// lists, finds and opens their files (monitor/attribute_paths.hpp maps mount paths to them).
///
/// sysfs (directories 0755, files as listed; every file's st_size is 4096, as sysfs reports):
///   dev              0444  "261:<N>\n" (accel's char major 261 and the minor)
///   uevent           0444  MAJOR=261, MINOR=<N>, DEVNAME=accel/accel<N> (read-only: accel has
///                          no uevents to synthesise, the kernel's file is 0644)
///   status           0444  operational | in_reset | needs_reset | malfunction (INFO STATUS)
///   reset_count      0444  completed resets (INFO STATUS)
///   clients          0444  open files on both nodes (INFO STATUS's open_files)
///   driver           0444  the driver's name (the kernel's is a symlink to the driver)
///   version          0444  "<major>.<minor>.<patchlevel>\n" (DRM_IOCTL_VERSION)
///   description      0444  the driver's description
///   memory/<region>/total, memory/<region>/used
///                    0444  bytes, per region of INFO MEMORY_REGIONS (named by its name, '/'
///                          made '_'; a region without a name is region<id>) and MEMORY_USAGE
///   reset            0200  store "1" (with or without a newline) asks the device's reset
///                          handler for a reset (ACCEL_IOCTL_RESET's request, without waiting):
///                          its error is the write's (-EOPNOTSUPP without a handler); anything
///                          else -EINVAL. Root only whatever the mode, as the ioctl: a rule may
///                          widen the mode (a DRIVER-only rule reaches attribute files too), but
///                          a write by a file an unprivileged caller opened is -EACCES.
///   device/<name>          the driver's sysfs_attributes (core/attribute.hpp)
///   hwmon/hwmon0/    present when the driver reports sensors (driver_ops::sensors):
///     name           0444  the driver name with hwmon's bad characters ('-', '*', ' ', '\t',
///                          '\n') made '_' (hwmon_is_bad_char)
///     temp<n>_input, in<n>_input, curr<n>_input, power<n>_average, energy<n>_input,
///     fan<n>_input   0444  the value in hwmon units, and <type><n>_label when labelled.
///                    The files are those the driver reports when the tree is looked at; a
///                    read of a sensor the driver no longer reports is -ENODATA. A value read
///                    while the device is not operational is -EBUSY, as INFO's SENSORS item
///                    answers then (habanalabs' hwmon answers -ENODEV, amdgpu's -EPERM during
///                    a reset; accel keeps the monitor node's errno). Labels and `name` read
///                    in any state.
///
/// debugfs (directories 0755, st_size 0 as debugfs reports; the framework's files are 0400,
/// root's only, as the kernel's debugfs root is 0700, except `name` (0444); the access policy's
/// rules may widen them; every debugfs show is cut at debugfs_limit, 1 MiB, not at a page:
/// seq_file has no page limit):
///   name             0444  "<driver name> dev=accel<N> unique=accel<N>\n": accel_name_info's
///                    text, with accel's device name where the kernel prints the parent's
///   clients          0400  drm_clients_info's table: command, tgid, dev (the minor), master (always
///                    'n': accel has no master), a (authenticated: opened by a privileged
///                    caller), uid, magic (always 0), name (the client name or <unset>), id
///                    (the client id); one line per open file of both nodes, by client id
///   fdinfo/<client-id>
///                    0400  that client's fdinfo text (its file's show_fdinfo), one file per open
///                    file; a file appears with its client and goes with it; reading it after
///                    the client closed is -EIO (debugfs answers -EIO for a removed file)
///   <name>           the driver's debugfs_entries, with their declared modes
///
/// Permissions: open_attribute() does not check the caller (the backend checks the access the
/// policy gives with may_open_attribute() first); it makes kernfs_fop_open's own checks,
/// which hold even for root: opening for reading a file without a show, or for writing one
/// without a store, is -EACCES. may_open_attribute() adds the other half of that check: a
/// file whose effective mode has no read (write) bit for anyone cannot be opened for reading
/// (writing), even by root.
#include <accel/base/errno.hpp>
#include <accel/core/attribute.hpp>
#include <accel/core/device_base.hpp>
#include <accel/core/file_base.hpp>
#include <accel/monitor/access.hpp>
#include <accel/monitor/attribute_file.hpp>
#include <accel/uapi/accel_info.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <fcntl.h>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <utility>
#include <vector>

namespace accel {

/// accel's character major (the kernel's ACCEL_MAJOR).
inline constexpr unsigned accel_char_major = 261;

enum class attribute_tree { sysfs, debugfs };

/// A file or directory of a tree. `path` is relative to the device's directory ("status",
/// "hwmon/hwmon0/temp1_input", "fdinfo/7"); the device's directory itself is "".
/// `mode` holds the permission bits only; `size` is st_size (4096 for sysfs files, else 0).
struct attribute_entry {
    std::string path;
    bool directory = false;
    mode_t mode = 0;
    std::uint64_t size = 0;
};

namespace detail {

/// One file of a tree with its source (directories are derived from the files' paths).
struct attribute_node {
    std::string path;
    attribute_source source;
};

inline std::string_view state_name(accel_device_state s) noexcept {
    switch (s) {
    case ACCEL_STATE_OPERATIONAL: return "operational";
    case ACCEL_STATE_IN_RESET: return "in_reset";
    case ACCEL_STATE_MALFUNCTION: return "malfunction";
    case ACCEL_STATE_NEEDS_RESET: return "needs_reset";
    }
    return "unknown";
}

/// hwmon's file name stem and suffix of a sensor type; empty for an unknown type.
inline std::string sensor_file(const accel_info_sensor& s, bool label) {
    std::string_view stem, suffix = "_input";
    switch (s.type) {
    case ACCEL_SENSOR_TEMP: stem = "temp"; break;
    case ACCEL_SENSOR_IN: stem = "in"; break;
    case ACCEL_SENSOR_CURR: stem = "curr"; break;
    case ACCEL_SENSOR_POWER: stem = "power"; suffix = "_average"; break;
    case ACCEL_SENSOR_ENERGY: stem = "energy"; break;
    case ACCEL_SENSOR_FAN: stem = "fan"; break;
    default: return {};
    }
    return std::string(stem) + std::to_string(s.index) + std::string(label ? std::string_view("_label") : suffix);
}

/// hwmon_is_bad_char's characters made '_'.
inline std::string hwmon_name(std::string_view driver) {
    std::string n(driver);
    for (char& c : n)
        if (c == '-' || c == '*' || c == ' ' || c == '\t' || c == '\n')
            c = '_';
    return n;
}

/// A memory region's directory name.
inline std::string region_dir(const accel_info_memory_region& r) {
    std::string n(r.name, strnlen(r.name, sizeof r.name));
    for (char& c : n)
        if (c == '/')
            c = '_';
    if (n.empty() || n == "." || n == "..")
        n = "region" + std::to_string(r.id);
    return n;
}

/// /proc/<pid>/comm, or "<unknown>".
inline std::string process_command(pid_t pid) {
    std::string path = "/proc/" + std::to_string(pid) + "/comm";
    std::FILE* f = std::fopen(path.c_str(), "re");
    if (!f)
        return "<unknown>";
    char buf[64] = {};
    const bool got = std::fgets(buf, sizeof buf, f) != nullptr;
    std::fclose(f);
    std::string s = got ? std::string(buf) : std::string("<unknown>");
    while (!s.empty() && s.back() == '\n')
        s.pop_back();
    return s.empty() ? "<unknown>" : s;
}

/// The command name and thread group of a file's opener: what the file captured at open when
/// it does (file_base::process(), core/client_process.hpp), else read now from /proc.
template <class File>
std::pair<std::string, pid_t> client_command(const File& f) {
    if constexpr (requires { f.process().comm; f.process().tgid; }) {
        const auto& p = f.process();
        if (p.tgid > 0 && p.comm[0] != '\0')
            return {std::string(p.comm, strnlen(p.comm, sizeof p.comm)), static_cast<pid_t>(p.tgid)};
    }
    return {process_command(f.opener().pid), f.opener().pid};
}

/// A read-only framework file: sysfs's (st_size 4096, one page of show) or debugfs's
/// (st_size 0, debugfs_limit of show).
inline attribute_source text_source(std::function<int(device_base&, std::string&)> show, attribute_tree tree,
                                    mode_t mode = 0444) {
    attribute_source s;
    s.mode = mode;
    s.size = tree == attribute_tree::sysfs ? 4096 : 0;
    s.show_limit = tree == attribute_tree::sysfs ? 4096 : debugfs_limit;
    s.show = std::move(show);
    return s;
}

inline attribute_source row_source(const attribute_row& row, attribute_tree tree) {
    attribute_source s;
    s.mode = row.mode;
    s.limit = row.limit;
    s.show_limit = tree == attribute_tree::sysfs ? row.limit : debugfs_limit;
    s.size = tree == attribute_tree::sysfs ? 4096 : 0;
    if (row.show)
        s.show = row.show;
    if (row.store)
        s.store = row.store;
    return s;
}

inline std::vector<attribute_node> sysfs_nodes(device_base& dev) {
    constexpr std::uint64_t size = 4096;
    std::vector<attribute_node> out;
    const unsigned minor = dev.minor();
    auto text = [&](std::string path, std::function<int(device_base&, std::string&)> show) {
        out.push_back({std::move(path), text_source(std::move(show), attribute_tree::sysfs)});
    };
    text("dev", [minor](device_base&, std::string& o) {
        o += std::to_string(accel_char_major) + ":" + std::to_string(minor) + "\n";
        return 0;
    });
    text("uevent", [minor](device_base&, std::string& o) {
        o += "MAJOR=" + std::to_string(accel_char_major) + "\nMINOR=" + std::to_string(minor) +
             "\nDEVNAME=accel/accel" + std::to_string(minor) + "\n";
        return 0;
    });
    text("status", [](device_base& d, std::string& o) {
        o += state_name(d.ops().attributes->state(d));
        o += "\n";
        return 0;
    });
    text("reset_count", [](device_base& d, std::string& o) {
        o += std::to_string(d.reset_count()) + "\n";
        return 0;
    });
    text("clients", [](device_base& d, std::string& o) {
        o += std::to_string(d.open_count()) + "\n";
        return 0;
    });
    text("driver", [](device_base& d, std::string& o) {
        o += d.info().name;
        o += "\n";
        return 0;
    });
    text("version", [](device_base& d, std::string& o) {
        o += std::to_string(d.info().major) + "." + std::to_string(d.info().minor) + "." +
             std::to_string(d.info().patchlevel) + "\n";
        return 0;
    });
    text("description", [](device_base& d, std::string& o) {
        o += d.info().desc;
        o += "\n";
        return 0;
    });
    {
        attribute_source reset;
        reset.mode = 0200;
        reset.size = size;
        reset.store_root_only = true; // whatever a rule makes of the mode, as ACCEL_IOCTL_RESET
        reset.store = [](device_base& d, std::string_view in) {
            if (in != "1" && in != "1\n")
                return -EINVAL;
            return d.status().request_reset();
        };
        out.push_back({"reset", std::move(reset)});
    }
    const attribute_tables& tables = *dev.ops().attributes;
    for (const accel_info_memory_region& r : tables.memory_regions(dev)) {
        const std::string dir = "memory/" + region_dir(r);
        if (std::any_of(out.begin(), out.end(), [&](const attribute_node& n) { return n.path == dir + "/total"; }))
            continue; // two regions of one name: the first keeps it
        const std::uint64_t total = r.size;
        const std::uint32_t id = r.id;
        text(dir + "/total", [total](device_base&, std::string& o) {
            o += std::to_string(total) + "\n";
            return 0;
        });
        text(dir + "/used", [id](device_base& d, std::string& o) {
            std::uint64_t used = 0;
            for (const accel_info_memory_use& u : d.ops().attributes->memory_usage(d))
                if (u.region_id == id)
                    used += u.used;
            o += std::to_string(used) + "\n";
            return 0;
        });
    }
    for (const attribute_row& row : tables.sysfs)
        out.push_back({"device/" + std::string(row.name), row_source(row, attribute_tree::sysfs)});
    const std::vector<accel_info_sensor> sensors = dev.ops().sensors(dev);
    if (!sensors.empty()) {
        text("hwmon/hwmon0/name", [](device_base& d, std::string& o) {
            o += hwmon_name(d.info().name) + "\n";
            return 0;
        });
        for (const accel_info_sensor& s : sensors) {
            const std::string file = sensor_file(s, false);
            if (file.empty())
                continue;
            const std::uint32_t type = s.type, index = s.index;
            auto find = [type, index](device_base& d, auto&& fn) {
                for (const accel_info_sensor& now : d.ops().sensors(d))
                    if (now.type == type && now.index == index)
                        return fn(now);
                return -ENODATA;
            };
            text("hwmon/hwmon0/" + file, [find](device_base& d, std::string& o) {
                if (d.ops().attributes->state(d) != ACCEL_STATE_OPERATIONAL)
                    return -EBUSY;
                return find(d, [&](const accel_info_sensor& now) {
                    o += std::to_string(now.value) + "\n";
                    return 0;
                });
            });
            if (s.label[0] != '\0')
                text("hwmon/hwmon0/" + sensor_file(s, true), [find](device_base& d, std::string& o) {
                    return find(d, [&](const accel_info_sensor& now) {
                        o += std::string(now.label, strnlen(now.label, sizeof now.label)) + "\n";
                        return 0;
                    });
                });
        }
    }
    return out;
}

/// Calls fn(const file_base&) on the open file whose client id is `id`; false when none is.
/// The file is held by a reference, not the device's file lock, while fn runs (a driver's
/// show_fdinfo may walk the files; opens and closes go on).
template <class Fn>
bool with_client(device_base& dev, std::uint64_t id, Fn&& fn) {
    file_base* f = dev.get_file(id);
    if (!f)
        return false;
    struct put_on_exit {
        file_base* f;
        ~put_on_exit() { f->put(); }
    } held{f};
    fn(static_cast<const file_base&>(*f));
    return true;
}

inline std::vector<attribute_node> debugfs_nodes(device_base& dev) {
    std::vector<attribute_node> out;
    out.push_back({"name", text_source(
                               [](device_base& d, std::string& o) {
                                   const std::string n = "accel" + std::to_string(d.minor());
                                   o += std::string(d.info().name) + " dev=" + n + " unique=" + n + "\n";
                                   return 0;
                               },
                               attribute_tree::debugfs)});
    out.push_back({"clients", text_source(
                                  [](device_base& d, std::string& o) {
                                      struct row {
                                          std::uint64_t id;
                                          pid_t pid;
                                          uid_t uid;
                                          bool authenticated;
                                          std::string name;
                                          std::string command;
                                      };
                                      std::vector<row> rows;
                                      d.for_each_file([&](const file_base& f) {
                                          auto [command, tgid] = client_command(f);
                                          rows.push_back({f.client_id(), tgid, f.opener().uid, f.authenticated(),
                                                          f.client_name(), std::move(command)});
                                      });
                                      std::sort(rows.begin(), rows.end(),
                                                [](const row& a, const row& b) { return a.id < b.id; });
                                      char line[256];
                                      std::snprintf(line, sizeof line, "%20s %5s %3s master a %5s %10s %*s %20s\n",
                                                    "command", "tgid", "dev", "uid", "magic", 64, "name", "id");
                                      o += line;
                                      for (const row& r : rows) {
                                          std::snprintf(line, sizeof line,
                                                        "%20s %5d %3u   %c    %c %5u %10u %*s %20" PRIu64 "\n",
                                                        r.command.c_str(), static_cast<int>(r.pid),
                                                        d.minor(), 'n', r.authenticated ? 'y' : 'n',
                                                        static_cast<unsigned>(r.uid), 0u, 64,
                                                        r.name.empty() ? "<unset>" : r.name.c_str(), r.id);
                                          o += line;
                                      }
                                      return 0;
                                  },
                                  attribute_tree::debugfs, 0400)});
    std::vector<std::uint64_t> ids;
    dev.for_each_file([&](const file_base& f) { ids.push_back(f.client_id()); });
    std::sort(ids.begin(), ids.end());
    for (std::uint64_t id : ids)
        out.push_back({"fdinfo/" + std::to_string(id), text_source(
                                                           [id](device_base& d, std::string& o) {
                                                               return with_client(d, id, [&](const file_base& f) {
                                                                   f.show_fdinfo(o);
                                                               }) ? 0 : -EIO;
                                                           },
                                                           attribute_tree::debugfs, 0400)});
    for (const attribute_row& row : dev.ops().attributes->debugfs)
        out.push_back({std::string(row.name), row_source(row, attribute_tree::debugfs)});
    return out;
}

inline std::vector<attribute_node> tree_nodes(device_base& dev, attribute_tree tree) {
    return tree == attribute_tree::sysfs ? sysfs_nodes(dev) : debugfs_nodes(dev);
}

/// Whether `dir` ("" for the top) is a directory of the files in `nodes`.
inline bool is_directory_of(const std::vector<attribute_node>& nodes, std::string_view dir) {
    if (dir.empty())
        return true;
    return std::any_of(nodes.begin(), nodes.end(), [&](const attribute_node& n) {
        return n.path.size() > dir.size() && std::string_view(n.path).starts_with(dir) && n.path[dir.size()] == '/';
    });
}

} // namespace detail

/// Every file and directory of the device's tree, the device's directory excluded, each
/// directory before what it holds (a snapshot: fdinfo files and hwmon files follow the clients
/// and sensors of the moment). Empty for an unplugged device.
inline std::vector<attribute_entry> list_attributes(device_base& dev, attribute_tree tree) {
    std::vector<attribute_entry> out;
    if (!dev.enter()) // the driver's callbacks (sensors, memory regions) run inside the guard
        return out;
    device_base::entered guard{&dev};
    for (detail::attribute_node& n : detail::tree_nodes(dev, tree)) {
        // Its directories first, each once.
        for (std::size_t slash = n.path.find('/'); slash != std::string::npos; slash = n.path.find('/', slash + 1)) {
            std::string dir = n.path.substr(0, slash);
            if (std::none_of(out.begin(), out.end(), [&](const attribute_entry& e) { return e.path == dir; }))
                out.push_back({std::move(dir), true, 0755, 0});
        }
        out.push_back({std::move(n.path), false, n.source.mode, n.source.size});
    }
    return out;
}

/// The entry at `path` (relative to the device's directory; "" is the directory itself):
/// -ENOENT when there is none, -ENODEV when the device is unplugged.
inline result<attribute_entry> find_attribute(device_base& dev, attribute_tree tree, std::string_view path) {
    if (!dev.enter())
        return result<attribute_entry>::failure(-ENODEV);
    device_base::entered guard{&dev};
    const std::vector<detail::attribute_node> nodes = detail::tree_nodes(dev, tree);
    for (const detail::attribute_node& n : nodes)
        if (n.path == path)
            return attribute_entry{n.path, false, n.source.mode, n.source.size};
    if (detail::is_directory_of(nodes, path))
        return attribute_entry{std::string(path), true, 0755, 0};
    return result<attribute_entry>::failure(-ENOENT);
}

/// The names directly in directory `path` of the tree ("" the device's directory), sorted:
/// -ENOENT (no such entry), -ENOTDIR (a file), -ENODEV (unplugged).
inline result<std::vector<std::string>> list_attribute_directory(device_base& dev, attribute_tree tree,
                                                                 std::string_view path) {
    using out_t = result<std::vector<std::string>>;
    auto entry = find_attribute(dev, tree, path);
    if (!entry)
        return out_t::failure(entry.error());
    if (!entry->directory)
        return out_t::failure(-ENOTDIR);
    std::vector<std::string> names;
    const std::string prefix = path.empty() ? std::string() : std::string(path) + "/";
    for (const attribute_entry& e : list_attributes(dev, tree)) {
        if (!std::string_view(e.path).starts_with(prefix))
            continue;
        const std::string_view rest = std::string_view(e.path).substr(prefix.size());
        if (!rest.empty() && rest.find('/') == std::string_view::npos)
            names.emplace_back(rest);
    }
    std::sort(names.begin(), names.end());
    return names;
}

/// Opens the file at `path` with open(2) `flags` (O_ACCMODE; the others are kept as the file's
/// flags): a new attribute file with one reference (the caller's; put() closes it), or
/// -ENOENT, -EISDIR (a directory), -EACCES (kernfs's checks: reading without a show, writing
/// without a store), -ENODEV (unplugged), -ENOMEM. The caller's permission is not checked
/// here (see may_open_attribute()); `opener` (the caller of open(2)) is kept by the file for
/// a root-only store (sysfs `reset`), which refuses the writes of an unprivileged opener.
inline result<open_file*> open_attribute(device_base& dev, attribute_tree tree, std::string_view path, int flags,
                                         const caller_identity& opener = current_caller()) {
    using out_t = result<open_file*>;
    if (!dev.enter())
        return out_t::failure(-ENODEV);
    device_base::entered guard{&dev};
    try {
        std::vector<detail::attribute_node> nodes = detail::tree_nodes(dev, tree);
        for (detail::attribute_node& n : nodes) {
            if (n.path != path)
                continue;
            const int acc = flags & O_ACCMODE;
            if (acc == O_ACCMODE)
                return out_t::failure(-EINVAL);
            if ((acc != O_WRONLY && !n.source.show) || (acc != O_RDONLY && !n.source.store))
                return out_t::failure(-EACCES);
            attribute_file* f = attribute_file::create(device_ref(&dev), std::move(n.source), flags, opener);
            if (!f)
                return out_t::failure(-ENOMEM);
            return static_cast<open_file*>(f);
        }
        if (detail::is_directory_of(nodes, path))
            return out_t::failure(-EISDIR);
        return out_t::failure(-ENOENT);
    } catch (const std::bad_alloc&) {
        return out_t::failure(-ENOMEM);
    }
}

/// may_open() for an attribute file with its effective access `a`, plus kernfs_fop_open's
/// mode check that binds root too: opening for reading a file with no read bit for anyone, or
/// for writing one with no write bit, is -EACCES. 0 or -EACCES.
inline int may_open_attribute(const node_access& a, const caller_identity& who, int flags) noexcept {
    const int acc = flags & O_ACCMODE;
    if ((acc != O_WRONLY && !(a.mode & 0444)) || (acc != O_RDONLY && !(a.mode & 0222)))
        return -EACCES;
    return may_open(a, who, flags);
}

} // namespace accel

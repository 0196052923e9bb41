// SPDX-License-Identifier: MIT
#pragma once
/// \file Who may open a device node or an attribute file: owner, group and mode per file, set
/// by the server's configuration in the spirit of udev rules, checked as the kernel checks a
/// file's mode (generic_permission).
///
/// What a file gets, in order (later wins, as udev's last assignment does):
///   1. its default: device nodes (accel/accel<N>, accel/accel_controlD<N>) root:root 0666, the
///      udev default for accel nodes being group "render" with uaccess; attribute files
///      root:root with the mode their declaration gives (0444, 0644, 0200, ...);
///   2. for device nodes, the server-wide owner/group/mode (`accel-serve --owner --group --mode`);
///   3. each matching rule's assignments, in the order the rules were added.
///
/// A rule is one line of comma-separated keys, as in a udev rules file:
///   KERNEL=="accel_controlD*", DRIVER=="vdnn", OWNER="root", GROUP="video", MODE="0640"
/// Match keys (`==`, shell globs as udev's): KERNEL (the node's name: accel0, accel_controlD0;
/// never matches an attribute), PATH (the path under the mount root: accel/accel0,
/// sys/class/accel/accel0/reset; `*` also matches `/`), DRIVER (the device's driver name).
/// A rule without KERNEL reaches attribute files too: a DRIVER-only rule such as
/// `DRIVER=="vdnn", GROUP="video", MODE="0660"` gives that mode to every sysfs and debugfs file
/// of the driver's devices (debugfs included); give nodes to a group with KERNEL=="accel*". The
/// sysfs `reset` store stays root-only whatever its mode (monitor/attribute_tree.hpp).
/// Assignment keys (`=`): OWNER and GROUP (a name or a number), MODE (octal, at most 07777).
/// A key given twice, an unknown key, a bad operator, an unknown user or group, or a rule with
/// no assignment is -EINVAL. `#` starts a comment line.
///
/// Enforcement: the FUSE host reports these as the files' st_uid/st_gid/st_mode and mounts with
/// default_permissions, so the kernel checks every open (with the caller's supplementary
/// groups); the mock calls may_open() on every open with the caller's uid and effective gid
/// (supplementary groups are not carried in a caller_identity: accel's rule for the mock).
/// A privileged caller (root) passes the read/write checks, as CAP_DAC_OVERRIDE does.
#include <accel/base/errno.hpp>
#include <accel/core/user_memory.hpp>

#include <cerrno>
#include <charconv>
#include <cstdint>
#include <fcntl.h>
#include <fnmatch.h>
#include <grp.h>
#include <optional>
#include <pwd.h>
#include <string>
#include <string_view>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include <vector>

namespace accel {

/// A file's owner, group and permission bits (st_uid, st_gid, the low 12 bits of st_mode).
struct node_access {
    uid_t uid = 0;
    gid_t gid = 0;
    mode_t mode = 0666;
};

/// One rule: what it matches (empty: anything) and what it assigns (absent: unchanged).
struct access_rule {
    std::string kernel;
    std::string path;
    std::string driver;
    std::optional<uid_t> owner;
    std::optional<gid_t> group;
    std::optional<mode_t> mode;
};

namespace detail {

inline std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
        s.remove_suffix(1);
    return s;
}

inline bool glob_matches(const std::string& pattern, std::string_view text) {
    return pattern.empty() || ::fnmatch(pattern.c_str(), std::string(text).c_str(), 0) == 0;
}

template <class Id>
std::optional<Id> parse_id_number(std::string_view s) noexcept {
    unsigned long v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || end != s.data() + s.size() || s.empty() || v > 0xfffffffeul)
        return std::nullopt;
    return static_cast<Id>(v);
}

inline std::optional<uid_t> lookup_user(std::string_view name) {
    if (auto n = parse_id_number<uid_t>(name))
        return n;
    std::string key(name);
    std::vector<char> buf(4096);
    passwd pw{};
    passwd* found = nullptr;
    if (::getpwnam_r(key.c_str(), &pw, buf.data(), buf.size(), &found) != 0 || !found)
        return std::nullopt;
    return found->pw_uid;
}

inline std::optional<gid_t> lookup_group(std::string_view name) {
    if (auto n = parse_id_number<gid_t>(name))
        return n;
    std::string key(name);
    std::vector<char> buf(4096);
    group gr{};
    group* found = nullptr;
    if (::getgrnam_r(key.c_str(), &gr, buf.data(), buf.size(), &found) != 0 || !found)
        return std::nullopt;
    return found->gr_gid;
}

inline std::optional<mode_t> parse_mode(std::string_view s) noexcept {
    unsigned v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 8);
    if (s.empty() || ec != std::errc{} || end != s.data() + s.size() || v > 07777)
        return std::nullopt;
    return static_cast<mode_t>(v);
}

} // namespace detail

/// The server's access configuration: node defaults and rules (see the file comment).
class access_policy {
public:
    /// The owner, group and mode of every device node before rules (`accel-serve --owner
    /// --group --mode`).
    void set_node_defaults(node_access a) noexcept { node_defaults_ = a; }
    const node_access& node_defaults() const noexcept { return node_defaults_; }

    void add_rule(access_rule r) { rules_.push_back(std::move(r)); }
    const std::vector<access_rule>& rules() const noexcept { return rules_; }

    /// Parses one rule line (see the file comment): the rule, or -EINVAL.
    static result<access_rule> parse_rule(std::string_view line) {
        access_rule r;
        bool seen[6] = {};
        bool assigns = false;
        line = detail::trim(line);
        if (line.empty())
            return result<access_rule>::failure(-EINVAL);
        while (!line.empty()) {
            const std::size_t comma = line.find(',');
            std::string_view item = detail::trim(line.substr(0, comma));
            line = comma == std::string_view::npos ? std::string_view{} : line.substr(comma + 1);
            const std::size_t eq = item.find('=');
            if (eq == std::string_view::npos || eq == 0)
                return result<access_rule>::failure(-EINVAL);
            const bool match = eq + 1 < item.size() && item[eq + 1] == '=';
            const std::string_view key = detail::trim(item.substr(0, eq));
            std::string_view value = detail::trim(item.substr(eq + (match ? 2 : 1)));
            if (value.size() < 2 || value.front() != '"' || value.back() != '"')
                return result<access_rule>::failure(-EINVAL);
            value = value.substr(1, value.size() - 2);
            static constexpr std::string_view keys[6] = {"KERNEL", "PATH", "DRIVER", "OWNER", "GROUP", "MODE"};
            unsigned k = 0;
            while (k < 6 && keys[k] != key)
                ++k;
            if (k == 6 || seen[k] || match != (k < 3))
                return result<access_rule>::failure(-EINVAL);
            seen[k] = true;
            switch (k) {
            case 0: r.kernel = value; break;
            case 1: r.path = value; break;
            case 2: r.driver = value; break;
            case 3:
                if (!(r.owner = detail::lookup_user(value)))
                    return result<access_rule>::failure(-EINVAL);
                assigns = true;
                break;
            case 4:
                if (!(r.group = detail::lookup_group(value)))
                    return result<access_rule>::failure(-EINVAL);
                assigns = true;
                break;
            default:
                if (!(r.mode = detail::parse_mode(value)))
                    return result<access_rule>::failure(-EINVAL);
                assigns = true;
                break;
            }
        }
        if (!assigns)
            return result<access_rule>::failure(-EINVAL);
        return r;
    }

    /// Adds every rule of a rules file's text: 0, or -EINVAL naming the first bad line's number
    /// (1-based) in `bad_line`, with no rule of the text added.
    int load_rules(std::string_view text, unsigned* bad_line = nullptr) {
        std::vector<access_rule> parsed;
        unsigned number = 0;
        while (!text.empty()) {
            const std::size_t nl = text.find('\n');
            const std::string_view line = detail::trim(text.substr(0, nl));
            text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
            ++number;
            if (line.empty() || line.front() == '#')
                continue;
            auto r = parse_rule(line);
            if (!r) {
                if (bad_line)
                    *bad_line = number;
                return r.error();
            }
            parsed.push_back(std::move(*r));
        }
        for (auto& r : parsed)
            rules_.push_back(std::move(r));
        return 0;
    }

    /// A device node's access: `path` under the mount root ("accel/accel0"), its driver's name.
    node_access for_node(std::string_view path, std::string_view driver) const {
        return apply(node_defaults_, path, driver, true);
    }
    /// An attribute file's access: `path` under the mount root, `declared` its declared mode.
    node_access for_attribute(std::string_view path, std::string_view driver, mode_t declared) const {
        return apply(node_access{0, 0, declared}, path, driver, false);
    }

private:
    node_access apply(node_access a, std::string_view path, std::string_view driver, bool is_node) const {
        const std::size_t slash = path.rfind('/');
        const std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
        for (const access_rule& r : rules_) {
            if (!r.kernel.empty() && (!is_node || !detail::glob_matches(r.kernel, name)))
                continue;
            if (!detail::glob_matches(r.path, path) || !detail::glob_matches(r.driver, driver))
                continue;
            if (r.owner)
                a.uid = *r.owner;
            if (r.group)
                a.gid = *r.group;
            if (r.mode)
                a.mode = *r.mode;
        }
        return a;
    }

    node_access node_defaults_{};
    std::vector<access_rule> rules_;
};

/// generic_permission for an open with open(2) `flags`: the owner's bits when the caller owns
/// the file, else the group's when the caller's gid is the file's, else the others'; a
/// privileged caller passes (CAP_DAC_OVERRIDE). 0, or -EACCES.
inline int may_open(const node_access& a, const caller_identity& who, int flags) noexcept {
    if (who.privileged)
        return 0;
    const int acc = flags & O_ACCMODE;
    unsigned want = 0;
    if (acc == O_RDONLY || acc == O_RDWR)
        want |= 4;
    if (acc == O_WRONLY || acc == O_RDWR)
        want |= 2;
    unsigned bits;
    if (who.uid == a.uid)
        bits = (a.mode >> 6) & 7;
    else if (who.gid == a.gid)
        bits = (a.mode >> 3) & 7;
    else
        bits = a.mode & 7;
    return (bits & want) == want ? 0 : -EACCES;
}

} // namespace accel

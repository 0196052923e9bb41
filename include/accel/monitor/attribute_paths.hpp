// SPDX-License-Identifier: MIT
#pragma once
/// \file Where the attribute trees live under a backend's root (a mount point, the mock's root):
///
///   sys/class/accel/accel<N>[/<rel>]      the sysfs tree of minor N (as /sys/class/accel/accel<N>,
///                                          a directory here rather than sysfs's symlink)
///   sys/kernel/debug/accel/<N>[/<rel>]    the debugfs tree of minor N (the kernel's accel
///                                          debugfs root, /sys/kernel/debug/accel/<minor>)
///
/// and the directories above them (sys, sys/class, sys/class/accel, sys/kernel,
/// sys/kernel/debug, sys/kernel/debug/accel), which list the registered devices.
/// Paths are relative to the root, without a leading, trailing or doubled '/'.
#include <accel/base/errno.hpp>
#include <accel/core/subsystem.hpp>
#include <accel/monitor/attribute_tree.hpp>

#include <cerrno>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace accel {

inline constexpr std::string_view sysfs_class_dir = "sys/class/accel";
inline constexpr std::string_view debugfs_accel_dir = "sys/kernel/debug/accel";

/// "sys/class/accel/accel<N>": the sysfs directory of minor N.
inline std::string sysfs_device_dir(unsigned minor) {
    return std::string(sysfs_class_dir) + "/accel" + std::to_string(minor);
}
/// "sys/kernel/debug/accel/<N>": the debugfs directory of minor N.
inline std::string debugfs_device_dir(unsigned minor) {
    return std::string(debugfs_accel_dir) + "/" + std::to_string(minor);
}
/// The directory of `tree` for minor N.
inline std::string attribute_device_dir(attribute_tree tree, unsigned minor) {
    return tree == attribute_tree::sysfs ? sysfs_device_dir(minor) : debugfs_device_dir(minor);
}

/// A path resolved to a tree of a device: `rel` is relative to its directory ("" for it).
struct attribute_location {
    device_ref device;
    attribute_tree tree = attribute_tree::sysfs;
    std::string rel;
};

namespace detail {
/// A minor as node names write it: decimal, no leading zero, below ACCEL_MAX_MINORS.
constexpr std::optional<unsigned> parse_minor(std::string_view digits) noexcept {
    if (digits.empty() || digits.size() > 3 || (digits.size() > 1 && digits[0] == '0'))
        return std::nullopt;
    unsigned v = 0;
    for (char c : digits) {
        if (c < '0' || c > '9')
            return std::nullopt;
        v = v * 10 + static_cast<unsigned>(c - '0');
    }
    if (v >= ACCEL_MAX_MINORS)
        return std::nullopt;
    return v;
}
} // namespace detail

/// Resolves a path under the root to a device's tree. -ENOENT: not a path inside a device's
/// tree directory (the directories above, listed by attribute_ancestor_entries(), included);
/// -ENODEV: a well-formed device directory whose minor no registered device has (as
/// subsystem::find_node answers). Whether `rel` exists is find_attribute()'s business.
inline result<attribute_location> resolve_attribute_path(const subsystem& sub, std::string_view path) {
    using out_t = result<attribute_location>;
    attribute_tree tree;
    std::string_view rest;
    std::string_view digits;
    if (path.starts_with(sysfs_class_dir) && path.size() > sysfs_class_dir.size() &&
        path[sysfs_class_dir.size()] == '/') {
        tree = attribute_tree::sysfs;
        rest = path.substr(sysfs_class_dir.size() + 1);
        if (!rest.starts_with("accel"))
            return out_t::failure(-ENOENT);
        rest.remove_prefix(5);
    } else if (path.starts_with(debugfs_accel_dir) && path.size() > debugfs_accel_dir.size() &&
               path[debugfs_accel_dir.size()] == '/') {
        tree = attribute_tree::debugfs;
        rest = path.substr(debugfs_accel_dir.size() + 1);
    } else {
        return out_t::failure(-ENOENT);
    }
    const std::size_t slash = rest.find('/');
    digits = rest.substr(0, slash);
    std::string_view rel = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
    if (slash != std::string_view::npos && rel.empty())
        return out_t::failure(-ENOENT); // a trailing '/'
    const auto minor = detail::parse_minor(digits);
    if (!minor)
        return out_t::failure(-ENOENT);
    auto node = sub.find_node(node_name(node_kind::compute, *minor));
    if (!node)
        return out_t::failure(node.error());
    return attribute_location{std::move(node->device), tree, std::string(rel)};
}

/// The names in one of the directories above the trees ("sys", "sys/class", "sys/class/accel",
/// "sys/kernel", "sys/kernel/debug", "sys/kernel/debug/accel"), the last two levels listing the
/// registered devices by minor; -ENOENT for any other path.
inline result<std::vector<std::string>> attribute_ancestor_entries(const subsystem& sub, std::string_view dir) {
    using out_t = result<std::vector<std::string>>;
    if (dir == "sys")
        return std::vector<std::string>{"class", "kernel"};
    if (dir == "sys/class")
        return std::vector<std::string>{"accel"};
    if (dir == "sys/kernel")
        return std::vector<std::string>{"debug"};
    if (dir == "sys/kernel/debug")
        return std::vector<std::string>{"accel"};
    const bool sysfs = dir == sysfs_class_dir;
    if (!sysfs && dir != debugfs_accel_dir)
        return out_t::failure(-ENOENT);
    std::vector<std::string> names;
    for (const device_ref& d : sub.devices())
        names.push_back(sysfs ? "accel" + std::to_string(d->minor()) : std::to_string(d->minor()));
    return names;
}

} // namespace accel

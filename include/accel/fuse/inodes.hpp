// SPDX-License-Identifier: MIT
#pragma once
/// \file The fixed inode numbers of a served tree (no inode table: a number names its file).
///
///   1  /                         5  sys/class/accel/
///   2  accel/                    16 + 4N + 0  accel/accel<N>              (compute node)
///   3  sys/                      16 + 4N + 1  accel/accel_controlD<N>     (monitor node)
///   4  sys/class/                16 + 4N + 2  sys/class/accel/accel<N>/
///                                16 + 4N + 3  sys/class/accel/accel<N>/dev ("261:<N>\n")
/// A number stays meaningful across unregistration and re-registration of minor N, as a
/// /dev node does; whether the file exists right now is asked of the subsystem each time.
///
/// Compute nodes come in per-process views: the upper 32 bits of the number carry the id of the
/// process that looked the name up (0 in listings). The kernel keeps a page cache per inode, and
/// a buffer object mapped through the node lives in that cache (object_pages.hpp); one inode per
/// process keeps one process's cached pages out of another's reach, as separate VMAs do.
#include <accel/uapi/accel_drm.h>

#include <cstdint>
#include <optional>

namespace accel::fuse {

enum class inode_kind { root, accel_dir, sys_dir, sys_class_dir, sys_class_accel_dir, compute, monitor, attr_dir, attr_dev };

struct inode {
    inode_kind kind;
    unsigned minor = 0;     // for the per-minor kinds
    std::uint32_t view = 0; // compute nodes: the process the number was looked up for
};

namespace ino {
inline constexpr std::uint64_t root = 1, accel_dir = 2, sys_dir = 3, sys_class_dir = 4, sys_class_accel_dir = 5;
inline constexpr std::uint64_t per_minor_base = 16;

constexpr std::uint64_t of(inode_kind k, unsigned minor = 0, std::uint32_t view = 0) noexcept {
    const std::uint64_t base = per_minor_base + 4 * std::uint64_t{minor};
    switch (k) {
    case inode_kind::root: return root;
    case inode_kind::accel_dir: return accel_dir;
    case inode_kind::sys_dir: return sys_dir;
    case inode_kind::sys_class_dir: return sys_class_dir;
    case inode_kind::sys_class_accel_dir: return sys_class_accel_dir;
    case inode_kind::compute: return base | std::uint64_t{view} << 32;
    case inode_kind::monitor: return base + 1;
    case inode_kind::attr_dir: return base + 2;
    case inode_kind::attr_dev: return base + 3;
    }
    return 0;
}

constexpr std::optional<inode> decode(std::uint64_t number) noexcept {
    const auto view = static_cast<std::uint32_t>(number >> 32);
    const std::uint64_t n = number & 0xffffffffu;
    if (view != 0 && (n < per_minor_base || (n - per_minor_base) % 4 != 0))
        return std::nullopt; // only compute nodes have views
    switch (n) {
    case root: return inode{inode_kind::root};
    case accel_dir: return inode{inode_kind::accel_dir};
    case sys_dir: return inode{inode_kind::sys_dir};
    case sys_class_dir: return inode{inode_kind::sys_class_dir};
    case sys_class_accel_dir: return inode{inode_kind::sys_class_accel_dir};
    default: break;
    }
    if (n < per_minor_base || n >= per_minor_base + 4 * std::uint64_t{ACCEL_MAX_MINORS})
        return std::nullopt;
    const auto minor = static_cast<unsigned>((n - per_minor_base) / 4);
    constexpr inode_kind kinds[] = {inode_kind::compute, inode_kind::monitor, inode_kind::attr_dir, inode_kind::attr_dev};
    return inode{kinds[(n - per_minor_base) % 4], minor, view};
}

constexpr bool is_dir(inode_kind k) noexcept {
    return k != inode_kind::compute && k != inode_kind::monitor && k != inode_kind::attr_dev;
}
} // namespace ino

static_assert(ino::decode(ino::of(inode_kind::attr_dev, 255))->minor == 255);
static_assert(ino::decode(ino::of(inode_kind::monitor, 7))->kind == inode_kind::monitor);
static_assert(ino::decode(ino::of(inode_kind::compute, 9, 4242))->view == 4242);
static_assert(ino::decode(ino::of(inode_kind::compute, 9, 4242))->minor == 9);
static_assert(!ino::decode(ino::of(inode_kind::monitor, 9) | std::uint64_t{1} << 32));

} // namespace accel::fuse

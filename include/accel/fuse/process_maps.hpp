// SPDX-License-Identifier: MIT
#pragma once
/// \file Which parts of a served file a process maps right now, from /proc/<pid>/maps.
///
/// FUSE never tells the server about mmap(2) or munmap(2): the only trace of a mapping the
/// server can see is the process's VMA list. Each line of /proc/<pid>/maps names the mapped
/// file by device and inode number and gives the file offset where the VMA starts, so the
/// byte ranges of one inode a process maps are exact, whatever the process did in between
/// (munmap, partial munmap, mremap, fork, exit). Reading the file costs time linear in the
/// process's mappings (about 0.1-0.3 us per line) and needs ptrace-read access to the process
/// (root, or the same uid while it is dumpable); the kernel takes the process's mmap lock for
/// reading while it prints.
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <sys/types.h>
#include <vector>

namespace accel::fuse {

/// glibc's makedev(), which lives in <sys/sysmacros.h> beside macros named major() and minor()
/// that would break any member function of those names in a file that includes this one.
constexpr dev_t device_number(unsigned maj, unsigned min) noexcept {
    return static_cast<dev_t>((std::uint64_t{maj & 0xfffff000u} << 32) | (std::uint64_t{maj & 0xfffu} << 8) |
                              (std::uint64_t{min & 0xffffff00u} << 12) | std::uint64_t{min & 0xffu});
}

/// Bytes [offset, offset + length) of a file, mapped by some VMA.
struct file_range {
    std::uint64_t offset = 0;
    std::uint64_t length = 0;
    bool overlaps(std::uint64_t off, std::uint64_t len) const noexcept { return off < offset + length && offset < off + len; }
};

/// The ranges of inode `ino` on device `dev` that process `pid` maps. An empty list when the
/// process is gone (it maps nothing); -EACCES or another -errno when the list cannot be read
/// (then nothing is known). dev 0 matches any device.
inline int mapped_ranges(std::uint32_t pid, dev_t dev, std::uint64_t ino, std::vector<file_range>& out) {
    out.clear();
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%u/maps", static_cast<unsigned>(pid));
    std::FILE* f = std::fopen(path, "re");
    if (!f)
        return errno == ENOENT || errno == ESRCH ? 0 : -errno;
    char line[512];
    while (std::fgets(line, sizeof line, f)) {
        const bool whole = std::strchr(line, '\n') != nullptr;
        unsigned long long start, end, off, inode;
        unsigned maj, min;
        if (std::sscanf(line, "%llx-%llx %*s %llx %x:%x %llu", &start, &end, &off, &maj, &min, &inode) == 6 &&
            inode == ino && (dev == 0 || device_number(maj, min) == dev))
            out.push_back({off, end - start});
        while (!whole && std::fgets(line, sizeof line, f) && !std::strchr(line, '\n')) {
            // the rest of a long path
        }
    }
    const bool failed = std::ferror(f);
    std::fclose(f);
    return failed ? -EIO : 0;
}

/// The device number of the FUSE file system mounted at `mount_point` (an absolute path without
/// symbolic links), from /proc/self/mountinfo: the last such mount if several are stacked
/// there. 0 when it is not found. Reading mountinfo never touches the mount itself, so a
/// server may call this without serving.
inline dev_t mount_device(const std::string& mount_point) {
    std::FILE* f = std::fopen("/proc/self/mountinfo", "re");
    if (!f)
        return 0;
    dev_t found = 0;
    char* line = nullptr;
    std::size_t cap = 0;
    while (::getline(&line, &cap, f) > 0) {
        // "<id> <parent> <major>:<minor> <root> <mount point> <options> ... - <fstype> ..."
        unsigned maj, min;
        char point[4096];
        if (std::sscanf(line, "%*d %*d %u:%u %*s %4095s", &maj, &min, point) != 3 || !std::strstr(line, " - fuse"))
            continue;
        // mountinfo escapes space, tab, newline and backslash as \ooo.
        std::string unescaped;
        for (const char* p = point; *p; ++p) {
            if (p[0] == '\\' && p[1] >= '0' && p[1] <= '7' && p[2] && p[3]) {
                unescaped += static_cast<char>(std::strtol(std::string(p + 1, 3).c_str(), nullptr, 8));
                p += 3;
            } else {
                unescaped += *p;
            }
        }
        if (unescaped == mount_point)
            found = device_number(maj, min);
    }
    std::free(line);
    std::fclose(f);
    return found;
}

} // namespace accel::fuse

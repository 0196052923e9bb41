// SPDX-License-Identifier: MIT
#pragma once
/// \file The process behind a FUSE request, and callers the server cannot identify.
///
/// A request carries the calling *thread's* id as seen from the server's PID namespace (the
/// namespace of the process that mounted). The host keys its per-process views of the compute
/// node (device_tree.hpp) by the thread group and its start time, so that a pid reused by a
/// later process never meets the earlier process's view.
///
/// A caller that is not visible in the server's PID namespace (it lives in an ancestor or a
/// sibling namespace, e.g. the server runs in a container and the client on the host) arrives
/// with pid 0. The host cannot tell such callers apart, so they would all share one view and
/// one page cache of each compute node; nor can it reach their memory (process_vm_readv), their
/// open flags (/proc/<tid>/syscall) or their mappings (/proc/<tgid>/maps). It refuses their
/// opens of device nodes with EPERM and says so in one line on stderr per refused open.
/// EPERM, not EACCES: the file's mode would allow the open (stat shows 0666, and EACCES is the
/// errno of mode bits and of default_permissions); what is missing is an identity the server
/// can use, a restriction on the caller rather than on the file, which is what EPERM reports
/// elsewhere (ptrace, pidfd_getfd across namespaces). Lookups, stat and the sys files need no
/// identity and work. A server meant for such clients runs in their PID namespace or an
/// ancestor of it. (The server also reads /proc by the pids it receives: its /proc must be
/// the one of its own PID namespace.)
#include <cerrno>
#include <compare>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <sys/types.h>

namespace accel::fuse {

/// A process as the host tells processes apart: thread group id and start time (clock ticks
/// after boot, /proc/<pid>/stat field 22). {0, 0}: a caller the server cannot identify.
struct process_key {
    std::uint32_t tgid = 0;
    std::uint64_t start = 0;
    bool identified() const noexcept { return tgid != 0; }
    friend bool operator==(const process_key&, const process_key&) = default;
    friend auto operator<=>(const process_key&, const process_key&) = default;
};

/// The errno of an open refused because the caller has pid 0 (see the file comment).
inline constexpr int unidentified_caller_errno = EPERM;

namespace detail {
/// Reads /proc/<pid>/<name> into buf (NUL-terminated); false if it cannot be read.
inline bool read_proc(long pid, const char* name, char* buf, std::size_t size) noexcept {
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%ld/%s", pid, name);
    std::FILE* f = std::fopen(path, "re");
    if (!f)
        return false;
    const std::size_t n = std::fread(buf, 1, size - 1, f);
    std::fclose(f);
    buf[n] = '\0';
    return n > 0;
}
} // namespace detail

/// The process a thread belongs to (its thread group id), from /proc; 0 if it cannot be read.
inline std::uint32_t thread_group_of(pid_t tid) noexcept {
    if (tid <= 0)
        return 0;
    char text[2048];
    if (!detail::read_proc(tid, "status", text, sizeof text))
        return 0;
    const char* line = std::strstr(text, "\nTgid:");
    unsigned long tgid = 0;
    return line && std::sscanf(line + 1, "Tgid: %lu", &tgid) == 1 ? static_cast<std::uint32_t>(tgid) : 0;
}

/// The process of thread `tid` ({} for pid 0 or a thread that is gone).
inline process_key process_of(pid_t tid) noexcept {
    const std::uint32_t tgid = thread_group_of(tid);
    if (tgid == 0)
        return {};
    char text[1024];
    if (!detail::read_proc(tgid, "stat", text, sizeof text))
        return {};
    const char* p = std::strrchr(text, ')'); // the command name may hold spaces and parentheses
    unsigned long long start = 0;
    // After ")": state, then fields 4..21, then 22 = starttime.
    if (!p || std::sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu", &start) != 1)
        return {};
    return {tgid, start};
}

/// The one log line of an open refused for want of a caller identity.
inline void log_unidentified_open(const char* node, uid_t uid) noexcept {
    std::fprintf(stderr,
                 "accel-fuse: open of %s by uid %u refused with EPERM: the caller is outside the server's PID namespace "
                 "(pid 0), so the server cannot tell it from other such callers\n",
                 node, static_cast<unsigned>(uid));
}

} // namespace accel::fuse

// SPDX-License-Identifier: MIT
#pragma once
/// \file `client_process`: the process that opened a file, as monitoring reports it.
///
/// The kernel keeps `drm_file.pid = task_tgid(current)` (the opener's thread group) and reads
/// the command name from that task when fdinfo or debugfs shows it. accel captures both once,
/// at open, from the caller's pid:
///   - the backends pass the caller's *thread* id in caller_identity.pid (FUSE requests carry
///     the calling thread; the mock passes getpid(), which is already a thread group id), so
///     the thread group is read from /proc/<pid>/status ("Tgid:"), the mechanism
///     fuse/caller_process.hpp uses to key its process views;
///   - the command name is the thread-group leader's /proc/<tgid>/comm, read once (a process
///     that renames itself later keeps its old name here; the kernel would show the new one).
/// pid 0 (a caller the server cannot identify) or an unreadable /proc leaves tgid 0 and an
/// empty comm, which CLIENTS reports as "unknown". The server must see the callers' PID
/// namespace in its /proc, as the FUSE host already requires.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <sys/types.h>

namespace accel {

struct client_process {
    std::int32_t tgid = 0; ///< thread group id; 0 when unknown
    char comm[16] = {};    ///< TASK_COMM_LEN bytes, NUL-terminated; "" when unknown
};

namespace detail {
/// Reads /proc/<pid>/<name> into buf (NUL-terminated); the bytes read, 0 when unreadable.
inline std::size_t read_proc_file(long pid, const char* name, char* buf, std::size_t size) noexcept {
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%ld/%s", pid, name);
    std::FILE* f = std::fopen(path, "re");
    if (!f)
        return 0;
    const std::size_t n = std::fread(buf, 1, size - 1, f);
    std::fclose(f);
    buf[n] = '\0';
    return n;
}
} // namespace detail

/// The process of thread `tid` and its command name (see the file comment); {} for tid <= 0.
inline client_process identify_process(pid_t tid) noexcept {
    client_process p;
    if (tid <= 0)
        return p;
    char status[2048];
    if (detail::read_proc_file(tid, "status", status, sizeof status) == 0)
        return p;
    const char* line = std::strstr(status, "\nTgid:");
    long tgid = 0;
    if (!line || std::sscanf(line + 1, "Tgid: %ld", &tgid) != 1 || tgid <= 0)
        return p;
    p.tgid = static_cast<std::int32_t>(tgid);
    char comm[64];
    std::size_t n = detail::read_proc_file(tgid, "comm", comm, sizeof comm);
    while (n > 0 && (comm[n - 1] == '\n' || comm[n - 1] == '\0'))
        --n;
    n = n < sizeof p.comm ? n : sizeof p.comm - 1;
    std::memcpy(p.comm, comm, n);
    p.comm[n] = '\0';
    return p;
}

} // namespace accel

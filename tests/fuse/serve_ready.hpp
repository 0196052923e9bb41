// SPDX-License-Identifier: MIT
#pragma once
// accel-serve prints one line once its mount serves: the tests that start it as a process (the
// vdnn and vdsp fixtures, the FUSE stress suite) wait for that line on its stdout pipe.
#include <cerrno>
#include <poll.h>
#include <unistd.h>

namespace accel::test {

/// Reads `fd` up to its first newline, waiting at most `timeout_ms` for each byte. True when the
/// newline came; false on EOF (the server exited: its stderr says why), an error or the timeout.
inline bool wait_ready_line(int fd, int timeout_ms = 60'000) {
    for (;;) {
        pollfd pf{fd, POLLIN, 0};
        const int r = ::poll(&pf, 1, timeout_ms);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        char c = 0;
        const ssize_t n = ::read(fd, &c, 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n != 1)
            return false;
        if (c == '\n')
            return true;
    }
}

} // namespace accel::test

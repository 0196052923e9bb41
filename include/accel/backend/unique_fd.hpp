// SPDX-License-Identifier: MIT
#pragma once
/// \file An owned file descriptor: closed exactly once, never leaked on an error path.
#include <unistd.h>
#include <utility>

namespace accel::backend {

class unique_fd {
public:
    unique_fd() noexcept = default;
    explicit unique_fd(int fd) noexcept : fd_(fd) {}
    unique_fd(unique_fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    unique_fd& operator=(unique_fd&& o) noexcept {
        if (this != &o)
            reset(std::exchange(o.fd_, -1));
        return *this;
    }
    unique_fd(const unique_fd&) = delete;
    unique_fd& operator=(const unique_fd&) = delete;
    ~unique_fd() { reset(); }

    int get() const noexcept { return fd_; }
    explicit operator bool() const noexcept { return fd_ >= 0; }
    /// Gives up ownership.
    int release() noexcept { return std::exchange(fd_, -1); }
    /// Closes the current descriptor (if any) and owns `fd`.
    void reset(int fd = -1) noexcept {
        if (fd_ >= 0)
            ::close(fd_); // close(2) releases the descriptor even when it reports an error
        fd_ = fd;
    }

private:
    int fd_ = -1;
};

} // namespace accel::backend

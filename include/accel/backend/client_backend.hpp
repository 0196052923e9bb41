// SPDX-License-Identifier: MIT
#pragma once
/// \file The client side of a backend: what a program uses to reach accel devices.
///
/// The same client code runs on the in-process mock and on real file descriptors (a FUSE mount
/// or a kernel's /dev/accel), chosen at compile time by the backend type. The interface mirrors
/// POSIX with one error convention, the kernel's: results >= 0 are successes, failures are
/// negative errno values (no -1/errno pair, no exceptions).
///   int open(std::string_view path, int flags)   -> fd or -errno (paths like root + "/accel/accel0")
///   int ioctl(int fd, unsigned long request, void* arg) -> >= 0 or -errno
///   int close(int fd)                             -> 0 or -errno
///   long read(int fd, void* buf, size_t n)        -> bytes or -errno
///   long write(int fd, const void* buf, size_t n) -> bytes or -errno
///   int poll(pollfd* fds, size_t n, int timeout_ms) -> descriptors with events, 0 on timeout,
///                                                 or -errno (poll(2); several at once)
///   result<void*> mmap(int fd, u64 offset, size_t length, int prot, int flags)
///                                                 -> a buffer object mapped at its fake offset
///   int munmap(void* addr, size_t length)         -> 0 or -errno
///   std::string_view root()                       -> the directory the node names hang off
#include <accel/base/errno.hpp>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <poll.h>
#include <string_view>

namespace accel::backend {

template <class B>
concept client_backend = requires(B& b, std::string_view path, int flags, int fd, unsigned long req, void* arg) {
    { b.open(path, flags) } -> std::same_as<int>;
    { b.ioctl(fd, req, arg) } -> std::same_as<int>;
    { b.close(fd) } -> std::same_as<int>;
    { b.read(fd, arg, std::size_t{}) } -> std::same_as<long>;
    { b.write(fd, static_cast<const void*>(arg), std::size_t{}) } -> std::same_as<long>;
    { b.poll(static_cast<struct pollfd*>(nullptr), std::size_t{}, flags) } -> std::same_as<int>;
    { b.mmap(fd, std::uint64_t{}, std::size_t{}, flags, flags) } -> std::same_as<result<void*>>;
    { b.munmap(arg, std::size_t{}) } -> std::same_as<int>;
    { b.root() } -> std::convertible_to<std::string_view>;
};

} // namespace accel::backend

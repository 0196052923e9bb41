// SPDX-License-Identifier: MIT
#pragma once
/// \file Error convention shared by every accel layer.
///
/// accel reports failure the way the kernel does at the ioctl boundary: an `int` that is 0 on
/// success or a negative errno value (-EINVAL, -ENOSPC, ...). Nothing throws across that
/// boundary. `result<T>` carries either a value or such an errno for functions that also
/// produce something (a handle, a file descriptor, an offset).
#include <cerrno>
#include <new>
#include <type_traits>
#include <utility>

namespace accel {

/// A value or a negative errno. Small on purpose: C++20 has no std::expected, and the framework
/// needs only "ok + value" or "negative errno".
template <class T>
class [[nodiscard]] result {
public:
    constexpr result(T value) noexcept(std::is_nothrow_move_constructible_v<T>) // NOLINT: implicit on purpose
        : value_(std::move(value)), err_(0) {}
    /// Builds a failed result; `negative_errno` must be < 0.
    static constexpr result failure(int negative_errno) noexcept { return result(negative_errno, tag{}); }

    constexpr bool ok() const noexcept { return err_ == 0; }
    constexpr explicit operator bool() const noexcept { return ok(); }
    /// 0 when ok, else the negative errno.
    constexpr int error() const noexcept { return err_; }
    constexpr T& value() & noexcept { return value_; }
    constexpr const T& value() const& noexcept { return value_; }
    constexpr T&& value() && noexcept { return std::move(value_); }
    constexpr T* operator->() noexcept { return &value_; }
    constexpr const T* operator->() const noexcept { return &value_; }
    constexpr T& operator*() & noexcept { return value_; }
    constexpr const T& operator*() const& noexcept { return value_; }
    constexpr T&& operator*() && noexcept { return std::move(value_); }

private:
    struct tag {};
    constexpr result(int e, tag) noexcept : value_{}, err_(e) {}
    T value_;
    int err_;
};

/// The errno for the exception being handled: -ENOMEM for std::bad_alloc, -EIO for anything
/// else. Call it only inside a catch block; it is how accel turns whatever a driver throws into
/// an answer, since no exception crosses the ioctl boundary.
inline int exception_errno() noexcept {
    try {
        throw;
    } catch (const std::bad_alloc&) {
        return -ENOMEM;
    } catch (...) {
        return -EIO;
    }
}

} // namespace accel

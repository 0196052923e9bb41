// SPDX-License-Identifier: MIT
#pragma once
/// \file The memory of a FUSE caller, as copy_from_user/copy_to_user see it during one request.
///
/// A restricted FUSE ioctl arrives with the argument struct already copied in by the kernel
/// (`in_buf`, _IOC_SIZE bytes when the number has _IOC_WRITE), and the kernel copies back
/// whatever the server replies into [arg, arg + out_bufsz) when the number has _IOC_READ - after
/// the server answered, whatever the result. So:
///   - reads of the argument struct come from the kernel's copy (no system call),
///   - writes into [arg, arg + out_bufsz) go into a shadow of that window, sent back as the
///     reply's data; only the prefix up to the last byte written is sent, so an ioctl that
///     copies nothing out (early error, table row without IOC_OUT) leaves the caller's struct
///     untouched, exactly as the dispatcher does in-process,
///   - every other address (pointers embedded in the struct) is the caller's memory, reached
///     with process_vm_readv/process_vm_writev on the calling thread. A short transfer or any
///     error is -EFAULT, as is a null or wrapping range (user_range_invalid, like the mock).
/// The thread id works: FUSE requests carry the calling thread's id, and process_vm_* accept
/// any thread of the target process.
#include <accel/core/user_memory.hpp>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <span>
#include <sys/types.h>
#include <sys/uio.h>

namespace accel::fuse {

/// Reads `n` bytes at `src` in thread `tid`'s process: 0 or -EFAULT.
inline int read_caller(pid_t tid, void* dst, std::uint64_t src, std::size_t n) noexcept {
    if (user_range_invalid(src, n))
        return -EFAULT;
    if (n == 0)
        return 0;
    iovec local{dst, n};
    iovec remote{reinterpret_cast<void*>(static_cast<std::uintptr_t>(src)), n};
    ssize_t got = ::process_vm_readv(tid, &local, 1, &remote, 1, 0);
    return got == static_cast<ssize_t>(n) ? 0 : -EFAULT;
}

/// Writes `n` bytes to `dst` in thread `tid`'s process: 0 or -EFAULT.
inline int write_caller(pid_t tid, std::uint64_t dst, const void* src, std::size_t n) noexcept {
    if (user_range_invalid(dst, n))
        return -EFAULT;
    if (n == 0)
        return 0;
    iovec local{const_cast<void*>(src), n};
    iovec remote{reinterpret_cast<void*>(static_cast<std::uintptr_t>(dst)), n};
    ssize_t put = ::process_vm_writev(tid, &local, 1, &remote, 1, 0);
    return put == static_cast<ssize_t>(n) ? 0 : -EFAULT;
}

/// The user_access of one FUSE request from thread `tid` (see the file comment).
class caller_memory final : public user_access {
public:
    /// A request without an argument window (open, release).
    explicit caller_memory(pid_t tid) noexcept : tid_(tid) {}

    /// An ioctl request: `in` holds `in_size` bytes the kernel copied from `arg`; up to
    /// `out_size` bytes written at `arg` go back in the reply. Check ok() afterwards.
    caller_memory(pid_t tid, std::uint64_t arg, const void* in, std::size_t in_size, std::size_t out_size) noexcept
        : tid_(tid), arg_(arg), in_(static_cast<const unsigned char*>(in)), in_size_(in ? in_size : 0),
          out_size_(out_size) {
        if (out_size_ > sizeof inline_) {
            heap_.reset(new (std::nothrow) unsigned char[out_size_]);
            if (!heap_) {
                ok_ = false;
                return;
            }
        }
        shadow_ = heap_ ? heap_.get() : inline_;
        // The caller's bytes in the window are known up to in_size; the rest is fetched on demand.
        known_ = std::min(in_size_, out_size_);
        if (known_)
            std::memcpy(shadow_, in_, known_);
    }
    caller_memory(const caller_memory&) = delete;
    caller_memory& operator=(const caller_memory&) = delete;

    /// False when the shadow of a large window could not be allocated (-ENOMEM).
    bool ok() const noexcept { return ok_; }

    /// Copies the kernel's input bytes that are not in the shadow yet (an input-only window),
    /// so that the request's buffer may go while this memory is still in use (a parked
    /// request). False when out of memory (the input window is then dropped: reads of it fault).
    bool keep_input() noexcept {
        if (!in_ || out_size_ || !in_size_ || in_ == inline_ || in_ == kept_in_.get())
            return true;
        if (in_size_ <= sizeof inline_) { // the shadow is unused without an out window
            std::memcpy(inline_, in_, in_size_);
            in_ = inline_;
            return true;
        }
        kept_in_.reset(new (std::nothrow) unsigned char[in_size_]);
        if (!kept_in_) {
            in_ = nullptr;
            in_size_ = 0;
            return false;
        }
        std::memcpy(kept_in_.get(), in_, in_size_);
        in_ = kept_in_.get();
        return true;
    }

    /// The reply's data: the window up to the last byte written.
    std::span<const unsigned char> reply() const noexcept { return {shadow_, written_}; }

    int read(void* dst, std::uint64_t src, std::size_t n) noexcept override {
        if (user_range_invalid(src, n))
            return -EFAULT;
        auto* out = static_cast<unsigned char*>(dst);
        // The out window (shadow) takes precedence: it holds what this call already wrote.
        const std::size_t win = out_size_ ? out_size_ : in_size_;
        return split(src, n, win, [&](std::uint64_t a, std::size_t len, std::size_t off, bool inside) {
            if (!inside)
                return read_caller(tid_, out + off, a, len);
            const std::size_t w = static_cast<std::size_t>(a - arg_);
            if (!out_size_) {
                std::memcpy(out + off, in_ + w, len);
                return 0;
            }
            if (int e = fetch(w + len))
                return e;
            std::memcpy(out + off, shadow_ + w, len);
            return 0;
        });
    }

    int write(std::uint64_t dst, const void* src, std::size_t n) noexcept override {
        if (user_range_invalid(dst, n))
            return -EFAULT;
        auto* in = static_cast<const unsigned char*>(src);
        return split(dst, n, out_size_, [&](std::uint64_t a, std::size_t len, std::size_t off, bool inside) {
            if (!inside)
                return write_caller(tid_, a, in + off, len);
            const std::size_t w = static_cast<std::size_t>(a - arg_);
            // Bytes before this write that are still unknown must be the caller's own, since
            // the reply rewrites the whole prefix; a write that starts at or before the known
            // end needs nothing fetched.
            if (w > known_)
                if (int e = fetch(w))
                    return e;
            std::memcpy(shadow_ + w, in + off, len);
            known_ = std::max(known_, w + len);
            written_ = std::max(written_, w + len);
            return 0;
        });
    }

private:
    /// Calls fn(addr, len, offset_in_access, inside_window) for the up to three pieces of
    /// [a, a + n) before, inside and after the window [arg_, arg_ + win). Stops at an error.
    template <class Fn>
    int split(std::uint64_t a, std::size_t n, std::size_t win, Fn&& fn) noexcept {
        const std::uint64_t end = a + n, wlo = arg_, whi = arg_ + win;
        if (win == 0 || end <= wlo || a >= whi)
            return fn(a, n, 0, false);
        if (a < wlo)
            if (int e = fn(a, static_cast<std::size_t>(wlo - a), 0, false))
                return e;
        const std::uint64_t lo = std::max(a, wlo), hi = std::min(end, whi);
        if (int e = fn(lo, static_cast<std::size_t>(hi - lo), static_cast<std::size_t>(lo - a), true))
            return e;
        if (end > whi)
            return fn(whi, static_cast<std::size_t>(end - whi), static_cast<std::size_t>(whi - a), false);
        return 0;
    }

    /// Makes shadow bytes [known_, upto) hold the caller's current bytes.
    int fetch(std::size_t upto) noexcept {
        if (upto <= known_)
            return 0;
        if (int e = read_caller(tid_, shadow_ + known_, arg_ + known_, upto - known_))
            return e;
        known_ = upto;
        return 0;
    }

    pid_t tid_;
    std::uint64_t arg_ = 0;
    const unsigned char* in_ = nullptr;
    std::size_t in_size_ = 0, out_size_ = 0;
    std::size_t known_ = 0;   // shadow bytes [0, known_) are valid
    std::size_t written_ = 0; // shadow bytes [0, written_) go back to the caller
    bool ok_ = true;
    alignas(16) unsigned char inline_[256];
    std::unique_ptr<unsigned char[]> heap_;
    std::unique_ptr<unsigned char[]> kept_in_; // keep_input()'s copy
    unsigned char* shadow_ = inline_;
};

/// The current call of a request without an argument window (open, flush, poll, release): the
/// memory of thread `tid` and the identity `who`, installed (call_scope) for the scope.
class caller_call_scope {
public:
    caller_call_scope(pid_t tid, const caller_identity& who) noexcept : mem_(tid), ctx_{&mem_, who}, scope_(ctx_) {}
    caller_call_scope(const caller_call_scope&) = delete;
    caller_call_scope& operator=(const caller_call_scope&) = delete;

private:
    caller_memory mem_;
    call_context ctx_;
    call_scope scope_;
};

} // namespace accel::fuse

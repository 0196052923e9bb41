// SPDX-License-Identifier: MIT
#pragma once
// A small client library for vdsp over any accel client backend (the in-process mock, or real
// system calls on a FUSE mount): what the tests use and an application would write. Every call
// answers 0 / a value, or -errno, as the ioctls do.
//
// Coherency through FUSE (as vdnn_client.hpp): SUBMIT names the job's objects, so what the
// client wrote through its mapping before SUBMIT is what the job reads; the engine marks the
// output device-written before the job's fence signals, and a WAIT that ends drops the caller's
// cached pages of it, so after WAIT the mapping shows the results.
#include "vdsp_uapi.h"

#include <accel/backend/client_backend.hpp>
#include <accel/exec/fence.hpp>

#include <cerrno>
#include <cstdint>
#include <span>
#include <sys/mman.h>

namespace vdsp {

struct client_buffer {
    std::uint32_t handle = 0;
    std::uint64_t size = 0;
    std::uint64_t mmap_offset = 0;
    void* map = nullptr;
    template <class T>
    T* as() const noexcept { return static_cast<T*>(map); }
};

template <accel::backend::client_backend B>
class client {
public:
    client(B& b, int fd) noexcept : b_(&b), fd_(fd) {}
    int fd() const noexcept { return fd_; }

    int param(std::uint32_t p, std::uint64_t& value) {
        vdsp_get_param a{p, 0, 0};
        int r = b_->ioctl(fd_, VDSP_IOCTL_GET_PARAM, &a);
        value = a.value;
        return r;
    }

    /// A buffer object mapped read-write.
    int create(std::uint64_t size, client_buffer& out) {
        vdsp_bo_create c{size, 0, 0};
        if (int r = b_->ioctl(fd_, VDSP_IOCTL_BO_CREATE, &c))
            return r;
        vdsp_bo_info i{c.handle, 0, 0, 0};
        if (int r = b_->ioctl(fd_, VDSP_IOCTL_BO_INFO, &i))
            return r;
        auto m = b_->mmap(fd_, i.mmap_offset, i.size, PROT_READ | PROT_WRITE, MAP_SHARED);
        if (!m)
            return m.error();
        out = client_buffer{c.handle, i.size, i.mmap_offset, *m};
        return 0;
    }

    /// Unmaps and closes a buffer.
    int release(client_buffer& buf) {
        if (buf.map && b_->munmap(buf.map, buf.size) != 0)
            return -EINVAL;
        buf.map = nullptr;
        accel_gem_close gc{buf.handle, 0};
        return b_->ioctl(fd_, ACCEL_IOCTL_GEM_CLOSE, &gc);
    }

    /// Any SUBMIT; the seqno or -errno.
    std::int64_t submit(vdsp_submit s) {
        if (int r = b_->ioctl(fd_, VDSP_IOCTL_SUBMIT, &s))
            return r;
        return static_cast<std::int64_t>(s.seqno);
    }

    /// FIR of `count` samples from in to out (offset 0) with inline taps.
    std::int64_t fir(const client_buffer& in, const client_buffer& out, std::uint64_t count, std::span<const float> taps) {
        vdsp_submit s{};
        s.op = VDSP_OP_FIR;
        s.in_handle = in.handle;
        s.out_handle = out.handle;
        s.count = count;
        s.fir_taps = static_cast<std::uint32_t>(taps.size());
        s.coef = reinterpret_cast<std::uintptr_t>(taps.data());
        return submit(s);
    }

    /// FFTs of `size` over `count` complex samples from in to out (offset 0).
    std::int64_t fft(const client_buffer& in, const client_buffer& out, std::uint64_t count, std::uint32_t size,
                     std::uint32_t flags = 0) {
        vdsp_submit s{};
        s.op = VDSP_OP_FFT;
        s.in_handle = in.handle;
        s.out_handle = out.handle;
        s.count = count;
        s.fft_size = size;
        s.fft_flags = flags;
        return submit(s);
    }

    /// Waits for a job at most `timeout_ns` from now: the ioctl's answer; `error` gets the job's.
    int wait(std::uint64_t seqno, std::int64_t timeout_ns, std::int32_t& error) {
        vdsp_wait w{seqno, accel::monotonic_ns() + timeout_ns, 0, 0};
        int r = b_->ioctl(fd_, VDSP_IOCTL_WAIT, &w);
        error = w.error;
        return r;
    }

private:
    B* b_;
    int fd_;
};

} // namespace vdsp

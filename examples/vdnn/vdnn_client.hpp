// SPDX-License-Identifier: MIT
#pragma once
// A small client library for vdnn over any accel client backend (the in-process mock, or real
// system calls on a FUSE mount or /dev/accel): what the demo and the tests use, and what an
// application would write. Every call answers 0 / a value, or -errno, as the ioctls do.
//
// Sync points through FUSE (fuse/coherency.hpp): an ioctl that names a buffer object writes the
// caller's dirty pages of it back before the driver reads it. SUBMIT names every object of the
// job (command buffer, bo_handles), so what the client wrote before SUBMIT is what the job reads.
// The engine marks the job's objects as device-written before the job's fences signal, and every
// answer on the compute node (the JOB_DONE event's read(2), a WAIT that ends, poll(2)) drops the
// caller's cached pages of marked objects first, so a client that waited sees the results
// through its mapping. A client must not write an object between its SUBMIT and the end of the
// wait (a dirty page is written back before it is dropped). On the mock and on a kernel node the
// mapping is the object's memory.
#include "vdnn_commands.hpp"
#include "vdnn_uapi.h"

#include <accel/backend/client_backend.hpp>
#include <accel/exec/fence.hpp>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <span>
#include <sys/mman.h>
#include <vector>

namespace vdnn {

struct client_buffer {
    std::uint32_t handle = 0;
    std::uint64_t size = 0;
    std::uint64_t mmap_offset = 0;
    std::uint64_t va = 0; // 0 until bound
    void* map = nullptr;
    template <class T>
    T* as() const noexcept { return static_cast<T*>(map); }
};

template <accel::backend::client_backend B>
class client {
public:
    client(B& b, int fd) noexcept : b_(&b), fd_(fd) {}
    client(const client&) = delete;
    client& operator=(const client&) = delete;
    ~client() {
        if (cmd_.map)
            (void)release(cmd_);
    }

    int fd() const noexcept { return fd_; }
    B& backend() const noexcept { return *b_; }

    int param(std::uint32_t p, std::uint64_t& value) {
        vdnn_get_param a{p, 0, 0};
        int r = b_->ioctl(fd_, VDNN_IOCTL_GET_PARAM, &a);
        value = a.value;
        return r;
    }

    /// A buffer object in `region`, mapped read-write.
    int create(std::uint64_t size, std::uint32_t region, client_buffer& out) {
        vdnn_bo_create c{size, region, 0, 0, 0};
        if (int r = b_->ioctl(fd_, VDNN_IOCTL_BO_CREATE, &c))
            return r;
        vdnn_bo_info i{c.handle, 0, 0, 0, 0, 0, 0};
        if (int r = b_->ioctl(fd_, VDNN_IOCTL_BO_INFO, &i))
            return r;
        auto m = b_->mmap(fd_, i.mmap_offset, i.size, PROT_READ | PROT_WRITE, MAP_SHARED);
        if (!m)
            return m.error();
        out = client_buffer{c.handle, i.size, i.mmap_offset, 0, *m};
        return 0;
    }

    /// Binds the whole buffer where the driver picks (`flags`: VDNN_BIND_READ/WRITE).
    int bind(client_buffer& buf, std::uint32_t flags) {
        vdnn_vm_bind a{buf.handle, flags, 0, 0, buf.size};
        if (int r = b_->ioctl(fd_, VDNN_IOCTL_VM_BIND, &a))
            return r;
        buf.va = a.va;
        return 0;
    }

    /// Unmaps and closes a buffer (its bind, if any, stays until unbound: it holds the object).
    int release(client_buffer& buf) {
        if (buf.map && b_->munmap(buf.map, buf.size) != 0)
            return -EINVAL;
        buf.map = nullptr;
        accel_gem_close gc{buf.handle, 0};
        return b_->ioctl(fd_, ACCEL_IOCTL_GEM_CLOSE, &gc);
    }

    /// Submits `stream` to `engine`; the job's seqno, or -errno. `bos`: the objects it uses.
    std::int64_t submit(std::uint32_t engine, std::span<const std::byte> stream, std::span<const std::uint32_t> bos,
                        std::span<const std::uint64_t> deps = {}, bool event = false, std::uint64_t user_data = 0) {
        if (!cmd_.map)
            if (int r = create(VDNN_MAX_CMD_SIZE, VDNN_REGION_HOST, cmd_))
                return r;
        if (stream.size() > cmd_.size)
            return -EINVAL;
        // The driver copies the stream at SUBMIT, so one command buffer serves every job.
        std::memcpy(cmd_.map, stream.data(), stream.size());
        vdnn_submit s{};
        s.engine = engine;
        s.flags = event ? VDNN_SUBMIT_EVENT : 0;
        s.cmd_handle = cmd_.handle;
        s.bo_count = static_cast<std::uint32_t>(bos.size());
        s.cmd_offset = 0;
        s.cmd_size = stream.size();
        s.bo_handles = reinterpret_cast<std::uintptr_t>(bos.data());
        s.deps = reinterpret_cast<std::uintptr_t>(deps.data());
        s.dep_count = static_cast<std::uint32_t>(deps.size());
        s.user_data = user_data;
        if (int r = b_->ioctl(fd_, VDNN_IOCTL_SUBMIT, &s))
            return r;
        return static_cast<std::int64_t>(s.seqno);
    }

    /// SUBMIT with explicit sync: the job waits for each of `in` (syncobj, point) and, when
    /// `out_syncobj` is not 0, its finished fence becomes that syncobj's. The seqno, or -errno.
    std::int64_t submit_synced(std::uint32_t engine, std::span<const std::byte> stream, std::span<const std::uint32_t> bos,
                               std::span<const vdnn_sync> in, std::uint32_t out_syncobj) {
        if (!cmd_.map)
            if (int r = create(VDNN_MAX_CMD_SIZE, VDNN_REGION_HOST, cmd_))
                return r;
        if (stream.size() > cmd_.size)
            return -EINVAL;
        std::memcpy(cmd_.map, stream.data(), stream.size());
        vdnn_submit s{};
        s.engine = engine;
        s.cmd_handle = cmd_.handle;
        s.cmd_size = stream.size();
        s.bo_count = static_cast<std::uint32_t>(bos.size());
        s.bo_handles = reinterpret_cast<std::uintptr_t>(bos.data());
        s.in_syncs = reinterpret_cast<std::uintptr_t>(in.data());
        s.in_sync_count = static_cast<std::uint32_t>(in.size());
        s.out_sync.handle = out_syncobj;
        if (int r = b_->ioctl(fd_, VDNN_IOCTL_SUBMIT, &s))
            return r;
        return static_cast<std::int64_t>(s.seqno);
    }

    /// Waits for a job (VDNN_WAIT_JOB) or for the jobs using a buffer (VDNN_WAIT_BO), at most
    /// `timeout_ns` from now; -ETIME when that passes.
    int wait(std::uint32_t flags, std::uint64_t what, std::int64_t timeout_ns, vdnn_wait& out) {
        out = vdnn_wait{};
        out.flags = flags;
        out.handle_or_seqno = what;
        out.timeout_ns = accel::monotonic_ns() + timeout_ns;
        return b_->ioctl(fd_, VDNN_IOCTL_WAIT, &out);
    }

    /// Blocks in read(2) until at least one event came; appends the JOB_DONE events read.
    long read_events(std::vector<vdnn_event_job_done>& out) {
        alignas(8) unsigned char buf[4096];
        long n = b_->read(fd_, buf, sizeof buf);
        if (n < 0)
            return n;
        for (long at = 0; at + static_cast<long>(sizeof(vdnn_drm_event)) <= n;) {
            vdnn_drm_event h;
            std::memcpy(&h, buf + at, sizeof h);
            if (h.length < sizeof h || at + static_cast<long>(h.length) > n)
                return -EIO; // malformed: never from drm_read
            if (h.type == VDNN_EVENT_JOB_DONE && h.length == sizeof(vdnn_event_job_done)) {
                vdnn_event_job_done e;
                std::memcpy(&e, buf + at, sizeof e);
                out.push_back(e);
            }
            at += h.length;
        }
        return n;
    }

private:
    B* b_;
    int fd_;
    client_buffer cmd_;
};

} // namespace vdnn

// SPDX-License-Identifier: MIT
#pragma once
// Helpers of the vdnn driver tests, over any client backend (the mock or real system calls on
// a FUSE mount): a session (one open file with its vdnn::client and the buffers it made),
// buffers placed in a region and bound whole or page by page in a shuffled order (so that an
// operand's consecutive device pages are not consecutive in memory), waits, event reading and
// INFO queries. Every wait has a deadline far beyond what a job needs on a loaded machine:
// nothing here depends on how fast anything runs.
#include "vdnn_client.hpp"
#include "vdnn_commands.hpp"
#include "vdnn_uapi.h"
#include "vdnn_test_util.hpp" // tests/vdnn: the seeded generator

#include <accel/exec/fence.hpp>
#include <accel/uapi/accel_info.h>
#include <accel/uapi/accel_reset.h>

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <map>
#include <optional>
#include <poll.h>
#include <string>
#include <thread>
#include <vector>

namespace vdnn::dtest {

using u32 = std::uint32_t;
using u64 = std::uint64_t;

inline constexpr u64 page = 4096;
/// "Never" for a wait that must succeed: far beyond any job here, even under a sanitizer on a
/// loaded machine.
inline constexpr std::int64_t long_ns = 60'000'000'000;

inline u64 uptr(const void* p) { return static_cast<u64>(reinterpret_cast<std::uintptr_t>(p)); }
inline std::int64_t deadline_in(std::int64_t ns) { return accel::monotonic_ns() + ns; }

/// A job that hangs (VDNN_OP_DEBUG_HANG) cannot end before the device's job timeout has passed
/// since it was submitted (the timeout is armed when it reaches the engine, later still). A
/// test that needs it still hung when something happened takes a hang_clock before the SUBMIT
/// and asks certain() after that something: on a machine so loaded that the timeout passed
/// first, the check is inconclusive (accepted, or retried), never a false failure.
struct hang_clock {
    std::int64_t timeout_ns = 300'000'000; // both fixtures' job timeout
    std::int64_t t0 = accel::monotonic_ns();
    bool certain() const { return accel::monotonic_ns() < t0 + timeout_ns; }
};

// ---- INFO ------------------------------------------------------------------------------------

template <class B>
int info(B& c, int fd, std::vector<accel_info_item>& items) {
    accel_info a{};
    a.num_items = static_cast<u32>(items.size());
    a.items = uptr(items.data());
    return c.ioctl(fd, ACCEL_IOCTL_INFO, &a);
}

/// One INFO item through the two-call size negotiation.
template <class B>
std::vector<unsigned char> info_item(B& c, int fd, u32 id) {
    std::vector<accel_info_item> items(1);
    items[0].id = id;
    REQUIRE(info(c, fd, items) == 0);
    REQUIRE(items[0].length > 0);
    std::vector<unsigned char> buf(static_cast<std::size_t>(items[0].length));
    items[0].data = uptr(buf.data());
    REQUIRE(info(c, fd, items) == 0);
    REQUIRE(items[0].length == static_cast<std::int32_t>(buf.size()));
    return buf;
}

template <class T>
T item_as(const std::vector<unsigned char>& b, std::size_t offset = 0) {
    T v;
    REQUIRE(b.size() >= offset + sizeof v);
    std::memcpy(&v, b.data() + offset, sizeof v);
    return v;
}

/// A list item (header with count, then count entries of T).
template <class T>
std::vector<T> item_list(const std::vector<unsigned char>& b) {
    const u32 count = item_as<u32>(b);
    std::vector<T> out;
    for (u32 i = 0; i < count; ++i)
        out.push_back(item_as<T>(b, 8 + i * sizeof(T)));
    return out;
}

template <class B>
accel_info_status status_of(B& c, int fd) {
    return item_as<accel_info_status>(info_item(c, fd, ACCEL_INFO_STATUS));
}

/// Bytes used in a device memory region (INFO MEMORY_USAGE).
template <class B>
u64 region_used(B& c, int fd, u32 region) {
    for (const auto& u : item_list<accel_info_memory_use>(info_item(c, fd, ACCEL_INFO_MEMORY_USAGE)))
        if (u.region_id == region)
            return u.used;
    FAIL("no MEMORY_USAGE entry for region " << region);
    return 0;
}

/// Busy nanoseconds per engine id (INFO ENGINE_BUSY).
template <class B>
std::map<u32, u64> engine_busy(B& c, int fd) {
    std::map<u32, u64> m;
    for (const auto& e : item_list<accel_info_engine_time>(info_item(c, fd, ACCEL_INFO_ENGINE_BUSY)))
        m[e.engine_id] += e.busy_ns;
    return m;
}

/// Polls INFO STATUS until `pred(status)` holds (a reset's end is not an event a client can
/// wait for); fails after `limit`.
template <class B, class Pred>
accel_info_status status_until(B& c, int fd, Pred pred, std::chrono::milliseconds limit = std::chrono::seconds(60)) {
    const auto end = std::chrono::steady_clock::now() + limit;
    accel_info_status st = status_of(c, fd);
    while (!pred(st) && std::chrono::steady_clock::now() < end) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        st = status_of(c, fd);
    }
    REQUIRE(pred(st));
    return st;
}

// ---- streams ---------------------------------------------------------------------------------

/// A stream of one command. (The buffer is reserved first: g++ 12 otherwise warns, wrongly,
/// that inserting into the empty vector overflows it, -Wstringop-overflow.)
template <class Cmd>
stream_writer one(const Cmd& c) {
    stream_writer s;
    s.buffer().reserve(sizeof(Cmd));
    s.add(c);
    return s;
}
inline stream_writer nop_stream() { return one(vdnn_cmd_nop{}); }
inline stream_writer hang_stream() { return one(vdnn_cmd_debug_hang{}); }
inline vdnn_cmd_fill fill_cmd(u64 dst, u64 bytes, u32 pattern) {
    vdnn_cmd_fill f{};
    f.pattern = pattern;
    f.bytes = bytes;
    f.dst = dst;
    return f;
}
inline vdnn_cmd_copy copy_cmd(u64 src, u64 dst, u64 bytes) {
    vdnn_cmd_copy c{};
    c.src = src;
    c.dst = dst;
    c.bytes = bytes;
    return c;
}

// ---- buffers ---------------------------------------------------------------------------------

/// A buffer object seen through a device VA range: bound whole (perm empty) or page by page,
/// device page i being BO page perm[i].
struct placed {
    client_buffer bo;
    u64 va = 0;
    u64 bytes = 0;
    std::vector<u32> perm;

    std::byte* host(u64 off) const {
        const u64 p = off / page;
        const u64 bo_page = perm.empty() ? p : perm[p];
        return static_cast<std::byte*>(bo.map) + bo_page * page + off % page;
    }
    /// Copies between the device view and CPU memory, page piece by page piece.
    void write(u64 off, const void* src, std::size_t n) const {
        const auto* s = static_cast<const std::byte*>(src);
        while (n) {
            const std::size_t k = std::min<std::size_t>(n, page - off % page);
            std::memcpy(host(off), s, k);
            off += k, s += k, n -= k;
        }
    }
    void read(u64 off, void* dst, std::size_t n) const {
        auto* d = static_cast<std::byte*>(dst);
        while (n) {
            const std::size_t k = std::min<std::size_t>(n, page - off % page);
            std::memcpy(d, host(off), k);
            off += k, d += k, n -= k;
        }
    }
    template <class T>
    void write_vec(u64 off, const std::vector<T>& v) const {
        write(off, v.data(), v.size() * sizeof(T));
    }
    template <class T>
    std::vector<T> read_vec(u64 off, std::size_t count) const {
        std::vector<T> v(count);
        read(off, v.data(), count * sizeof(T));
        return v;
    }
    std::vector<std::byte> snapshot() const { return read_vec<std::byte>(0, bytes); }
};

/// One open file of a vdnn device, with the client library on it. The buffers it makes are
/// unmapped when it closes (their handles go with the file).
template <class B>
class session {
public:
    session(B& c, const std::string& node, int flags = O_RDWR) : c_(&c) {
        fd_ = c.open(node, flags);
        REQUIRE_MESSAGE(fd_ >= 0, "open " << node << ": " << fd_);
        cl_.emplace(c, fd_);
    }
    session(const session&) = delete;
    session& operator=(const session&) = delete;
    ~session() { close(); }

    /// Closes the file (unmapping its buffers first); the file's jobs go on without it.
    void close() {
        if (fd_ < 0)
            return;
        for (auto& b : bufs_)
            if (b.map) {
                CHECK(c_->munmap(b.map, b.size) == 0);
                b.map = nullptr;
            }
        cl_.reset();
        CHECK(c_->close(fd_) == 0);
        fd_ = -1;
    }

    int fd() const { return fd_; }
    B& backend() const { return *c_; }
    client<B>& cl() { return *cl_; }
    template <class Arg>
    int ioctl(unsigned long req, Arg* arg) {
        return c_->ioctl(fd_, req, arg);
    }

    /// A new buffer object, mapped read-write (its memory filled with `fill`).
    client_buffer& buffer(u64 size, u32 region, int fill = -1) {
        client_buffer b;
        const int r = cl_->create(size, region, b);
        REQUIRE_MESSAGE(r == 0, "BO_CREATE/BO_INFO/mmap of " << size << " bytes in region " << region << ": " << r);
        if (fill >= 0)
            std::memset(b.map, fill, b.size);
        bufs_.push_back(b);
        return bufs_.back();
    }
    /// A new buffer object bound whole where the driver picks.
    client_buffer& bound(u64 size, u32 region, u32 bind_flags = VDNN_BIND_READ | VDNN_BIND_WRITE, int fill = -1) {
        client_buffer& b = buffer(size, region, fill);
        REQUIRE(cl_->bind(b, bind_flags) == 0);
        return b;
    }

    /// VM_BIND; the ioctl's result (va out on success).
    int bind(u32 handle, u32 flags, u64 bo_offset, u64& va, u64 size) {
        vdnn_vm_bind a{handle, flags, bo_offset, va, size};
        const int r = ioctl(VDNN_IOCTL_VM_BIND, &a);
        if (r == 0)
            va = a.va;
        return r;
    }
    int unbind(u64 va, u64 size) {
        vdnn_vm_unbind a{va, size};
        return ioctl(VDNN_IOCTL_VM_UNBIND, &a);
    }
    int close_handle(u32 handle) {
        accel_gem_close gc{handle, 0};
        return ioctl(ACCEL_IOCTL_GEM_CLOSE, &gc);
    }

    /// A VA range for FIXED binds, away from where the driver places the others.
    u64 fixed_va(u64 bytes) {
        const u64 va = next_fixed_;
        next_fixed_ += (bytes + page - 1) / page * page + 16 * page; // a gap after each
        return va;
    }

    /// A buffer of `bytes` (rounded up to pages) in `region`, bound at a fresh fixed VA: whole,
    /// or with `scatter` page by page in a random order.
    placed place(u64 bytes, u32 region, bool scatter, test::rng& r,
                 u32 bind_flags = VDNN_BIND_READ | VDNN_BIND_WRITE, int fill = 0) {
        placed p;
        p.bytes = (bytes + page - 1) / page * page;
        p.bo = buffer(p.bytes, region, fill);
        p.va = fixed_va(p.bytes);
        const u64 pages = p.bytes / page;
        if (!scatter || pages == 1) {
            u64 va = p.va;
            REQUIRE(bind(p.bo.handle, bind_flags | VDNN_BIND_FIXED, 0, va, p.bytes) == 0);
            return p;
        }
        p.perm.resize(pages);
        for (u32 i = 0; i < pages; ++i)
            p.perm[i] = i;
        std::shuffle(p.perm.begin(), p.perm.end(), r.gen);
        if (p.perm[0] == 0 && pages > 1) // never the identity at the start
            std::swap(p.perm[0], p.perm[1]);
        for (u64 i = 0; i < pages; ++i) {
            u64 va = p.va + i * page;
            REQUIRE(bind(p.bo.handle, bind_flags | VDNN_BIND_FIXED, u64{p.perm[i]} * page, va, page) == 0);
        }
        return p;
    }

    /// SUBMIT through the client library: the seqno, or -errno.
    std::int64_t submit(u32 engine, const stream_writer& s, std::vector<u32> bos = {}, std::vector<u64> deps = {},
                        bool event = false, u64 user_data = 0) {
        return cl_->submit(engine, s.bytes(), bos, deps, event, user_data);
    }
    /// SUBMIT that must succeed.
    u64 run(u32 engine, const stream_writer& s, std::vector<u32> bos = {}, std::vector<u64> deps = {}, bool event = false,
            u64 user_data = 0) {
        const std::int64_t seq = submit(engine, s, std::move(bos), std::move(deps), event, user_data);
        REQUIRE_MESSAGE(seq > 0, "SUBMIT: " << seq);
        return static_cast<u64>(seq);
    }

    int wait(u32 flags, u64 what, std::int64_t timeout_ns, vdnn_wait& out) { return cl_->wait(flags, what, timeout_ns, out); }
    /// WAIT for a job that must end (whatever its status) within the long deadline.
    vdnn_wait wait_job(u64 seqno) {
        vdnn_wait w{};
        REQUIRE(wait(VDNN_WAIT_JOB, seqno, long_ns, w) == 0);
        return w;
    }
    /// WAIT_BO: the jobs using the object have ended, and (FUSE) the mapping shows their writes.
    vdnn_wait sync(const client_buffer& b) {
        vdnn_wait w{};
        REQUIRE(wait(VDNN_WAIT_BO, b.handle, long_ns, w) == 0);
        return w;
    }
    vdnn_wait sync(const placed& p) { return sync(p.bo); }

    /// Reads JOB_DONE events until `n` came or `timeout_ms` passed (poll, then read).
    std::vector<vdnn_event_job_done> events(std::size_t n, int timeout_ms = 60'000) {
        std::vector<vdnn_event_job_done> out;
        const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
        while (out.size() < n) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
            if (left.count() <= 0)
                break;
            pollfd p{fd_, POLLIN, 0};
            const int r = c_->poll(&p, 1, static_cast<int>(left.count()));
            if (r <= 0 || !(p.revents & POLLIN))
                break;
            if (cl_->read_events(out) <= 0)
                break;
        }
        return out;
    }

private:
    B* c_;
    int fd_ = -1;
    std::optional<client<B>> cl_;
    std::deque<client_buffer> bufs_;
    u64 next_fixed_ = u64{1} << 39; // 512 GiB, in the middle of the file's VA space
};

} // namespace vdnn::dtest

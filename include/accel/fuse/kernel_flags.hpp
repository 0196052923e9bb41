// SPDX-License-Identifier: MIT
#pragma once
/// \file What the host tells the kernel beyond libfuse 3.14's vocabulary, on the wire.
///
/// A compute node must deliver DRM events through read(2) and poll(2) *and* map buffer objects
/// MAP_SHARED on the same descriptor. read(2) reaches the server only on a file opened with
/// FOPEN_DIRECT_IO (otherwise it is the page cache's), and the kernel refuses MAP_SHARED on
/// such a file with ENODEV unless the connection negotiated FUSE_DIRECT_IO_ALLOW_MMAP (INIT
/// flag bit 36, kernel >= 6.6; then the mapping is the inode's page cache as before, filled by
/// READ and written back by WRITE, page_faults.hpp). Concurrent read(2)s of one descriptor
/// serialise uninterruptibly on the file position lock unless the OPEN reply carries
/// FOPEN_STREAM (kernel >= 5.2). libfuse 3.14 knows neither flag, so the host adds them itself:
/// `kernel_flags` is libfuse's custom I/O (fuse_session_custom_io, installed on the mounted
/// descriptor by session.hpp), which sees every request it reads and every reply it writes:
///   - INIT request: notes whether the kernel offers FUSE_DIRECT_IO_ALLOW_MMAP (FUSE_INIT_EXT
///     and flags2 bit 4); INIT reply: sets FUSE_INIT_EXT and that bit when offered. Everything
///     else libfuse negotiated is kept. direct_io_mmap() then tells the OPEN handler whether a
///     compute node may be opened with direct I/O.
///   - OPEN reply: FOPEN_NONSEEKABLE, which the host sets on device nodes only, becomes
///     FOPEN_NONSEEKABLE | FOPEN_STREAM (no position at all: every read(2) has offset 0, and
///     readers of one descriptor do not queue on its position lock).
///   - READ request: on a direct-I/O file, one READ is a read(2) and another a page fault of a
///     mapping (the page cache's READ, at the object's fake offset). The kernel marks the
///     former with FUSE_READ_LOCKOWNER and a lock owner; libfuse passes the owner on
///     (fuse_file_info::lock_owner) but not the flag. So the owner is made exact here: non-zero
///     (1 if the kernel's happened to be 0) for a read(2), 0 for the page cache's READ, and
///     `is_read_syscall()` tells the READ handler which one it serves. (WRITE needs nothing:
///     libfuse passes FUSE_WRITE_CACHE on as fuse_file_info::writepage.)
/// Checked on kernel 6.18 with libfuse 3.14: the kernel's INIT offers protocol 7.45 with
/// FUSE_INIT_EXT and flags2 bit 4; libfuse answers 7.31 with FUSE_INIT_EXT set and flags2 0,
/// and once bit 4 is added MAP_SHARED works on the direct-I/O compute node (without it: ENODEV);
/// a read(2) arrives with FUSE_READ_LOCKOWNER and offset 0, a fault without it at the object's
/// offset; the OPEN reply goes out as FOPEN_DIRECT_IO | FOPEN_NONSEEKABLE | FOPEN_STREAM
/// (tests/fuse/events_test.cpp and mmap_test.cpp depend on all of it). Each mmap(2) of a
/// direct-I/O file drops the inode's cached pages (fuse_file_mmap: invalidate_inode_pages2,
/// which writes dirty pages back first): a new mapping is one more sync point of the caller's
/// view (coherency.hpp). A kernel that does not offer the flag (< 6.6) gets compute nodes
/// without direct I/O, as before: mappings work, and events are read through the monitor node.
/// Needs libfuse >= 3.14 (fuse_session_custom_io).
#include <accel/fuse/lowlevel.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <sys/uio.h>
#include <unistd.h>
#include <vector>

namespace accel::fuse {

namespace wire {
// The kernel's FUSE ABI (include/uapi/linux/fuse.h), the parts the host reads or patches.
// Spelled out here rather than included: linux-libc-dev's copy may predate the flags, and its
// macros collide with libfuse's.
struct in_header {
    std::uint32_t len, opcode;
    std::uint64_t unique, nodeid;
    std::uint32_t uid, gid, pid;
    std::uint16_t total_extlen, padding;
};
struct out_header {
    std::uint32_t len;
    std::int32_t error;
    std::uint64_t unique;
};
struct init_in {
    std::uint32_t major, minor, max_readahead, flags, flags2;
};
struct init_out { // the prefix up to flags2; the reply is longer
    std::uint32_t major, minor, max_readahead, flags;
    std::uint16_t max_background, congestion_threshold;
    std::uint32_t max_write, time_gran;
    std::uint16_t max_pages, map_alignment;
    std::uint32_t flags2;
};
struct open_out {
    std::uint64_t fh;
    std::uint32_t open_flags, padding;
};
struct read_in {
    std::uint64_t fh, offset;
    std::uint32_t size, read_flags;
    std::uint64_t lock_owner;
    std::uint32_t flags, padding;
};
static_assert(sizeof(in_header) == 40 && sizeof(out_header) == 16 && sizeof(open_out) == 16 && sizeof(read_in) == 40);
static_assert(offsetof(init_in, flags2) == 16 && offsetof(init_out, flags2) == 32);

inline constexpr std::uint32_t op_open = 14, op_read = 15, op_init = 26;
inline constexpr std::uint32_t init_ext = 1u << 30;                // FUSE_INIT_EXT
inline constexpr std::uint32_t direct_io_allow_mmap_hi = 1u << 4;  // FUSE_DIRECT_IO_ALLOW_MMAP (1ull << 36) in flags2
inline constexpr std::uint32_t fopen_nonseekable = 1u << 2, fopen_stream = 1u << 4;
inline constexpr std::uint32_t read_lockowner = 1u << 1;           // FUSE_READ_LOCKOWNER
} // namespace wire

class kernel_flags {
public:
    kernel_flags() = default;
    kernel_flags(const kernel_flags&) = delete;
    kernel_flags& operator=(const kernel_flags&) = delete;

    /// Whether the connection negotiated FUSE_DIRECT_IO_ALLOW_MMAP (known once INIT is answered).
    bool direct_io_mmap() const noexcept { return direct_io_mmap_.load(std::memory_order_acquire); }

    /// Whether a READ request on a direct-I/O file comes from read(2) (else from the page cache).
    static bool is_read_syscall(const fuse_file_info* fi) noexcept { return fi && fi->lock_owner != 0; }

    /// libfuse's custom I/O for a session whose userdata leads to a kernel_flags by `Of`.
    template <kernel_flags& (*Of)(void* userdata)>
    static fuse_custom_io io() noexcept {
        fuse_custom_io io{};
        io.read = [](int fd, void* buf, std::size_t len, void* userdata) -> ssize_t {
            return Of(userdata).read(fd, buf, len);
        };
        io.writev = [](int fd, iovec* iov, int count, void* userdata) -> ssize_t {
            return Of(userdata).writev(fd, iov, count);
        };
        return io; // no splice: libfuse then copies, and every reply passes writev
    }

    /// One request from /dev/fuse (a worker's cloned descriptor or the session's). Not noexcept:
    /// libfuse ends its workers with pthread_cancel while they block in this read(2), and the
    /// cancellation unwinds through it (a noexcept frame would turn that into std::terminate).
    ssize_t read(int fd, void* buf, std::size_t len) {
        const ssize_t n = ::read(fd, buf, len);
        if (n < static_cast<ssize_t>(sizeof(wire::in_header)))
            return n;
        auto* bytes = static_cast<unsigned char*>(buf);
        wire::in_header h;
        std::memcpy(&h, bytes, sizeof h);
        const std::size_t body = static_cast<std::size_t>(n) - sizeof h;
        if (h.opcode == wire::op_read && body >= sizeof(wire::read_in)) {
            wire::read_in r;
            std::memcpy(&r, bytes + sizeof h, sizeof r);
            if (!(r.read_flags & wire::read_lockowner))
                r.lock_owner = 0;
            else if (r.lock_owner == 0)
                r.lock_owner = 1;
            std::memcpy(bytes + sizeof h, &r, sizeof r);
        } else if (h.opcode == wire::op_open) {
            remember_open(h.unique);
        } else if (h.opcode == wire::op_init && body >= sizeof(wire::init_in)) {
            wire::init_in i;
            std::memcpy(&i, bytes + sizeof h, sizeof i);
            offered_mmap_ = (i.flags & wire::init_ext) && (i.flags2 & wire::direct_io_allow_mmap_hi);
            init_unique_.store(h.unique, std::memory_order_release);
        }
        return n;
    }

    /// One reply or notification to /dev/fuse.
    ssize_t writev(int fd, iovec* iov, int count) noexcept {
        wire::out_header h{};
        if (count < 1 || iov[0].iov_len != sizeof h)
            return ::writev(fd, iov, count);
        std::memcpy(&h, iov[0].iov_base, sizeof h);
        if (h.unique == 0) // a notification
            return ::writev(fd, iov, count);
        if (h.unique == init_unique_.load(std::memory_order_acquire))
            return write_init(fd, iov, count, h);
        if (opens_pending_.load(std::memory_order_acquire) != 0 && forget_open(h.unique))
            return write_open(fd, iov, count, h);
        return ::writev(fd, iov, count);
    }

private:
    /// The payload of a reply (after its header) gathered into `out`, up to its size. Its length.
    static std::size_t gather(const iovec* iov, int count, unsigned char* out, std::size_t cap) noexcept {
        std::size_t used = 0;
        for (int i = 1; i < count && used < cap; ++i) {
            const std::size_t n = std::min(iov[i].iov_len, cap - used);
            std::memcpy(out + used, iov[i].iov_base, n);
            used += n;
        }
        return used;
    }
    static std::size_t payload_size(const iovec* iov, int count) noexcept {
        std::size_t n = 0;
        for (int i = 1; i < count; ++i)
            n += iov[i].iov_len;
        return n;
    }
    static ssize_t write_patched(int fd, const iovec& header, unsigned char* payload, std::size_t size) noexcept {
        iovec out[2] = {header, {payload, size}};
        return ::writev(fd, out, 2);
    }

    ssize_t write_init(int fd, iovec* iov, int count, const wire::out_header& h) noexcept {
        unsigned char payload[256];
        const std::size_t size = payload_size(iov, count);
        if (h.error != 0 || size < sizeof(wire::init_out) || size > sizeof payload || !offered_mmap_)
            return ::writev(fd, iov, count);
        gather(iov, count, payload, size);
        wire::init_out o;
        std::memcpy(&o, payload, sizeof o);
        o.flags |= wire::init_ext;
        o.flags2 |= wire::direct_io_allow_mmap_hi;
        std::memcpy(payload, &o, sizeof o);
        const ssize_t n = write_patched(fd, iov[0], payload, size);
        if (n >= 0)
            direct_io_mmap_.store(true, std::memory_order_release);
        init_unique_.store(~std::uint64_t{0}, std::memory_order_release); // answered: no more to patch
        return n;
    }

    ssize_t write_open(int fd, iovec* iov, int count, const wire::out_header& h) noexcept {
        unsigned char payload[sizeof(wire::open_out)];
        if (h.error != 0 || payload_size(iov, count) != sizeof payload)
            return ::writev(fd, iov, count);
        gather(iov, count, payload, sizeof payload);
        wire::open_out o;
        std::memcpy(&o, payload, sizeof o);
        if (!(o.open_flags & wire::fopen_nonseekable))
            return ::writev(fd, iov, count);
        o.open_flags |= wire::fopen_stream;
        std::memcpy(payload, &o, sizeof o);
        return write_patched(fd, iov[0], payload, sizeof payload);
    }

    void remember_open(std::uint64_t unique) noexcept {
        std::lock_guard lock(opens_mutex_);
        try {
            opens_.push_back(unique);
            opens_pending_.store(opens_.size(), std::memory_order_release);
        } catch (...) {
            // Out of memory: this open's reply goes out unpatched (no FOPEN_STREAM).
        }
    }
    bool forget_open(std::uint64_t unique) noexcept {
        std::lock_guard lock(opens_mutex_);
        auto it = std::find(opens_.begin(), opens_.end(), unique);
        if (it == opens_.end())
            return false;
        *it = opens_.back();
        opens_.pop_back();
        opens_pending_.store(opens_.size(), std::memory_order_release);
        return true;
    }

    std::atomic<std::uint64_t> init_unique_{~std::uint64_t{0}};
    bool offered_mmap_ = false; // written before init_unique_ is published, read after
    std::atomic<bool> direct_io_mmap_{false};
    std::mutex opens_mutex_;
    std::vector<std::uint64_t> opens_;           // OPEN requests read and not yet answered
    std::atomic<std::size_t> opens_pending_{0}; // opens_.size(), read without the lock
};

} // namespace accel::fuse

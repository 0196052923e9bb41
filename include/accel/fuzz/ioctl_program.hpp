// SPDX-License-Identifier: MIT
#pragma once
/// \file The call-sequence language a fuzz input is read as, and its interpreter.
///
/// A program is a sequence of operations (at most `max_ops`), each an opcode byte and its
/// fields (fuzz/input_stream.hpp: a short input reads as zeros, so every input is a program):
///
///   OPEN    dev_kind         device (low 2 bits) and node (bit 4: monitor), bits 5-6 open
///                            flags: O_RDWR, O_RDONLY, O_RDWR|O_EXCL, O_WRONLY
///   CLOSE   which            one of the program's descriptors
///   IOCTL   which sel index mode fill patches...
///           which:  the descriptor (node, sync file, dma-buf: whatever the program holds)
///           sel:    < 240: the catalogue entry (fuzz/command_catalogue.hpp) picked by the next
///                   byte; 240-247 that entry with a new size (u16); 248-251 with other direction
///                   bits; 252-255 a raw u32 request number
///           mode:   bit 0 unprivileged caller (uid 65534) instead of root; bit 1: the
///                   (1 + bits 2-5)th framework allocation during the call fails (-ENOMEM)
///           fill:   that many input bytes are copied to the argument's start (rest zero)
///           patches (count & 7): kind u8, offset u16 (4-byte aligned unless kind bit 7), then
///             0 a pool value as u32  1 as u64  2 a pointer into the arena (offset u16, may run
///             past its end: -EFAULT)  3 a descriptor as s32  4 a small u8  5 a pool value plus a
///             small signed delta  6 a raw u32  7 a raw u64
///   MMAP    which offset_sel pages how   offset: a pool value, or (sel bit 7) page u16 of the
///                            file; how: bit 0 read, 1 write, 2 private, 3 copy the arena's
///                            start into the new mapping (a command stream, input data)
///   MUNMAP  which alter
///   ARENA   how offset n...  bytes, a pool value or a pointer into the arena written into the
///                            user arena (what embedded pointers point at)
/// Opcodes are taken modulo 8, IOCTL covering three of them so most programs are mostly calls.
#include <accel/backend/mock.hpp>
#include <accel/base/fault_injection.hpp>
#include <accel/fuzz/command_catalogue.hpp>
#include <accel/fuzz/errno_set.hpp>
#include <accel/fuzz/input_stream.hpp>
#include <accel/fuzz/resource_pool.hpp>
#include <accel/fuzz/user_arena.hpp>
#include <accel/fuzz/violation.hpp>

#include <accel/base/page_size.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/mman.h>
#include <unistd.h>
#include <vector>

namespace accel::fuzz {

inline constexpr unsigned max_ops = 48;
inline constexpr std::size_t max_descriptors = 32;

/// What a running program holds.
struct program_state {
    program_state(backend::mock& mk, user_arena& a, const std::vector<command>& c, input_stream& i) noexcept
        : m(mk), arena(a), commands(c), in(i) {}
    backend::mock& m;
    user_arena& arena;
    const std::vector<command>& commands;
    input_stream& in;
    unsigned devices = 1;
    unsigned node_minors[4] = {};
    void (*prepare)(ioctl_cmd, std::uint8_t*, std::size_t) noexcept = nullptr;
    bool (*result_allowed)(ioctl_cmd, long) noexcept = nullptr;
    std::vector<int> fds;
    struct mapping {
        void* addr;
        std::size_t length;
    };
    std::vector<mapping> maps;
    resource_pool pool;
    std::vector<std::uint8_t> sent = std::vector<std::uint8_t>(user_arena::arg_capacity);
    /// Set by the debugging aid ACCEL_FUZZ_TRACE=1: each operation on stderr.
    bool trace = std::getenv("ACCEL_FUZZ_TRACE") != nullptr;
};

/// Clamps the absolute CLOCK_MONOTONIC deadline (__s64 ns) at byte `at` of an argument to at
/// most a millisecond from now; for hooks' prepare() of drivers with their own waits.
inline void clamp_deadline(std::uint8_t* arg, std::size_t size, std::size_t at) noexcept {
    if (at + 8 > size)
        return;
    std::int64_t t;
    std::memcpy(&t, arg + at, 8);
    const std::int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                 std::chrono::steady_clock::now().time_since_epoch())
                                 .count();
    if (t > now + 1'000'000 || t < 0) {
        t = now + (t < 0 ? 0 : t % 1'000'000);
        std::memcpy(arg + at, &t, 8);
    }
}

namespace detail {

inline std::string cmd_text(ioctl_cmd cmd, const std::vector<command>& cat) {
    for (const command& c : cat)
        if (c.cmd == cmd)
            return std::string(c.name);
    char buf[32];
    std::snprintf(buf, sizeof buf, "0x%08x", static_cast<unsigned>(cmd));
    return buf;
}

/// Core syncobj waits take an absolute CLOCK_MONOTONIC deadline: one far ahead would park the
/// program's only thread for as long. Clamped to at most a millisecond from now.
inline void clamp_core_waits(ioctl_cmd cmd, std::uint8_t* arg, std::size_t size) noexcept {
    std::size_t at;
    if (ioc_type(cmd) != ACCEL_IOCTL_BASE)
        return;
    if (ioc_nr(cmd) == 0xC3)
        at = 8; // accel_syncobj_wait.timeout_nsec
    else if (ioc_nr(cmd) == 0xCA)
        at = 16; // accel_syncobj_timeline_wait.timeout_nsec
    else
        return;
    clamp_deadline(arg, size, at);
}

} // namespace detail

inline std::string node_path(const program_state& st, unsigned dev, bool monitor) {
    return std::string(st.m.root()) + "/" + node_name(monitor ? node_kind::monitor : node_kind::compute, st.node_minors[dev]);
}

/// Whether `fd` is open in the mock (a no-op lseek answers -EBADF only for a closed one).
inline bool fd_open(backend::mock& m, int fd) { return m.lseek(fd, 0, SEEK_CUR) != -EBADF; }

/// Finds the descriptors a successful call created and adds them to the program's.
inline void adopt_new_descriptors(program_state& st, int before) {
    int want = st.m.open_descriptors() - before;
    for (int fd = 0; want > 0 && fd < 4096; ++fd) {
        if (std::find(st.fds.begin(), st.fds.end(), fd) != st.fds.end() || !fd_open(st.m, fd))
            continue;
        st.fds.push_back(fd);
        st.pool.add(static_cast<std::uint64_t>(fd));
        --want;
    }
}

inline int pick_fd(program_state& st, std::uint8_t which) {
    if (st.fds.empty())
        return which % 2 ? -1 : 0; // nothing open: a bad descriptor
    return st.fds[which % st.fds.size()];
}

inline void op_open(program_state& st) {
    const std::uint8_t b = st.in.u8();
    static constexpr int flag_choices[4] = {O_RDWR, O_RDONLY, O_RDWR | O_EXCL, O_WRONLY};
    if (st.fds.size() >= max_descriptors)
        return;
    const unsigned dev = (b & 3) % st.devices;
    const bool monitor = (b >> 4) & 1;
    const int flags = flag_choices[(b >> 5) & 3];
    const int fd = st.m.open(node_path(st, dev, monitor), flags);
    if (st.trace)
        std::fprintf(stderr, "OPEN dev %u %s flags %#x -> %d\n", dev, monitor ? "monitor" : "compute", flags, fd);
    if (fd >= 0) {
        st.fds.push_back(fd);
    } else if (!is_kernel_errno(-fd)) {
        violation("open(%s): result %d", node_path(st, dev, monitor).c_str(), fd);
    }
}

inline void op_close(program_state& st) {
    const std::uint8_t which = st.in.u8();
    if (st.fds.empty())
        return;
    const std::size_t i = which % st.fds.size();
    const int fd = st.fds[i];
    const int r = st.m.close(fd);
    if (st.trace)
        std::fprintf(stderr, "CLOSE %d -> %d\n", fd, r);
    if (r != 0)
        violation("close(%d) of an open descriptor: %d", fd, r);
    st.fds.erase(st.fds.begin() + static_cast<std::ptrdiff_t>(i));
}

inline void apply_patch(program_state& st, std::uint8_t* arg, std::size_t size) {
    const std::uint8_t kind = st.in.u8();
    std::size_t off = st.in.u16();
    if (size == 0) {
        (void)st.in.u16(); // keep the encoding's shape
        return;
    }
    off %= size;
    if (!(kind & 0x80))
        off &= ~std::size_t{3};
    std::uint64_t v = 0;
    std::size_t width = 4;
    switch (kind & 7) {
    case 0: v = st.pool.pick(st.in.u8()); break;
    case 1: v = st.pool.pick(st.in.u8()); width = 8; break;
    case 2: v = st.arena.arena_address(st.in.u16() % (user_arena::arena_size + 64)); width = 8; break;
    case 3: v = static_cast<std::uint32_t>(pick_fd(st, st.in.u8())); break;
    case 4: v = st.in.u8(); break;
    case 5: v = st.pool.pick(st.in.u8()) + static_cast<std::uint64_t>(static_cast<std::int64_t>(static_cast<std::int8_t>(st.in.u8()))); width = 8; break;
    case 6: v = st.in.u32(); break;
    default: v = st.in.u64(); width = 8; break;
    }
    if (off + width > size)
        width = size - off;
    std::memcpy(arg + off, &v, width); // little-endian: the low bytes when cut short
}

inline void op_ioctl(program_state& st) {
    const int fd = pick_fd(st, st.in.u8());
    const std::uint8_t sel = st.in.u8();
    ioctl_cmd cmd = st.commands[st.in.u8() % st.commands.size()].cmd;
    if (sel >= 252) {
        cmd = st.in.u32();
    } else if (sel >= 248) {
        cmd = (cmd & ~(ioctl_cmd{3} << 30)) | (ioctl_cmd{sel & 3u} << 30);
    } else if (sel >= 240) {
        cmd = (cmd & ~(ioctl_cmd{0x3fff} << 16)) | (ioctl_cmd{st.in.u16() & 0x3fffu} << 16);
    }
    const std::uint8_t mode = st.in.u8();
    const std::size_t size = ioc_size(cmd);
    std::uint8_t* arg = st.arena.arg();
    std::memset(arg, 0, size);
    st.in.bytes(arg, std::min<std::size_t>(st.in.u8(), size));
    for (unsigned n = st.in.u8() & 7; n; --n)
        apply_patch(st, arg, size);
    detail::clamp_core_waits(cmd, arg, size);
    if (st.prepare)
        st.prepare(cmd, arg, size);
    std::memcpy(st.sent.data(), arg, size);

    const int before = st.m.open_descriptors();
    st.arena.begin_call(size, (ioc_dir(cmd) & _IOC_READ) != 0);
    // Mode bit 1: the call runs with the nth framework allocation failing (base/fault_injection.hpp),
    // so the error paths face the same checks - a clean errno, nothing left behind at the end.
    // Counted on this thread only (the mock runs the call here): a scheduler worker allocating
    // meanwhile neither shifts the count nor takes the failure, so an input replays the same.
    const std::int64_t fail_nth = mode & 2 ? 1 + ((mode >> 2) & 15) : 0;
    if (fail_nth)
        fail_nth_allocation_here(fail_nth);
    int r;
    if (mode & 1) {
        backend::mock::identity user({65534, ::getpid(), false, 65534});
        r = st.m.ioctl(fd, cmd, arg);
    } else {
        r = st.m.ioctl(fd, cmd, arg);
    }
    if (fail_nth)
        disarm_allocation_faults();
    const std::string name = st.trace || !is_ioctl_result(r) ? detail::cmd_text(cmd, st.commands) : std::string();
    if (st.trace)
        std::fprintf(stderr, "IOCTL fd %d %s size %zu%s%s -> %d\n", fd, name.c_str(), size, mode & 1 ? " (user)" : "",
                     fail_nth ? " (allocation fails)" : "", r);
    st.arena.check_guards("ioctl");
    if (!is_ioctl_result(r) && !(st.result_allowed && st.result_allowed(cmd, r)))
        violation("ioctl %s on fd %d: result %d is neither 0 nor a kernel errno", name.c_str(), fd, r);
    const int after = st.m.open_descriptors();
    if (r < 0 && after != before)
        violation("ioctl %s failed (%d) yet changed the open descriptors from %d to %d", detail::cmd_text(cmd, st.commands).c_str(),
                  r, before, after);
    if (r >= 0) {
        st.pool.harvest(st.sent.data(), arg, size);
        if (st.trace)
            for (std::size_t i = 0; i < st.pool.size() && i < 6; ++i)
                std::fprintf(stderr, "  pool[%zu] = %#llx\n", i, static_cast<unsigned long long>(st.pool.pick(i)));
        if (after > before)
            adopt_new_descriptors(st, before);
    }
}

inline void op_mmap(program_state& st) {
    const int fd = pick_fd(st, st.in.u8());
    const std::uint8_t sel = st.in.u8();
    const std::uint64_t page = host_page_size();
    std::uint64_t offset = sel & 0x80 ? std::uint64_t{st.in.u16()} * page : st.pool.pick(sel);
    const std::uint8_t pb = st.in.u8();
    const std::size_t length = pb & 0x80 ? (pb & 0x7f) : (1u + (pb & 3u)) * page; // odd lengths now and then
    const std::uint8_t how = st.in.u8();
    const int prot = (how & 1 ? PROT_READ : 0) | (how & 2 ? PROT_WRITE : 0);
    const int flags = how & 4 ? MAP_PRIVATE : MAP_SHARED;
    auto r = st.m.mmap(fd, offset, length, prot, flags);
    if (st.trace)
        std::fprintf(stderr, "MMAP fd %d offset %#llx length %zu prot %d flags %d -> %d\n", fd, static_cast<unsigned long long>(offset),
                     length, prot, flags, r ? 0 : r.error());
    if (!r) {
        if (!is_kernel_errno(-r.error()))
            violation("mmap: result %d", r.error());
        return;
    }
    st.maps.push_back({*r, length});
    if ((how & 8) && (prot & PROT_WRITE) && !(flags & MAP_PRIVATE)) // the client fills the object: a
        std::memcpy(*r, st.arena.arena(), std::min(length, user_arena::arena_size)); // command stream, data
    if (prot & PROT_READ) {
        volatile std::uint8_t x = *static_cast<std::uint8_t*>(*r); // the pages are really there
        (void)x;
    }
}

inline void op_munmap(program_state& st) {
    const std::uint8_t which = st.in.u8();
    const std::uint8_t alter = st.in.u8();
    if (st.maps.empty())
        return;
    const std::size_t i = which % st.maps.size();
    const auto mp = st.maps[i];
    const std::uint64_t page = host_page_size();
    // Now and then a length that covers only part of the mapping: the mock refuses it.
    const std::size_t length = alter & 1 && mp.length > page ? page : mp.length;
    const int r = st.m.munmap(mp.addr, length);
    if (st.trace)
        std::fprintf(stderr, "MUNMAP %p %zu -> %d\n", mp.addr, length, r);
    if (r == 0)
        st.maps.erase(st.maps.begin() + static_cast<std::ptrdiff_t>(i));
    else if (length == mp.length || r != -EINVAL)
        violation("munmap of a whole mapping (%zu bytes): %d", length, r);
}

inline void op_arena(program_state& st) {
    const std::uint8_t how = st.in.u8();
    const std::size_t off = st.in.u16() % user_arena::arena_size;
    std::uint8_t* a = st.arena.arena();
    switch (how % 3) {
    case 0: st.in.bytes(a + off, std::min<std::size_t>(st.in.u8(), user_arena::arena_size - off)); break;
    case 1: {
        const std::uint64_t v = st.pool.pick(st.in.u8());
        std::memcpy(a + off, &v, std::min<std::size_t>(8, user_arena::arena_size - off));
        break;
    }
    default: {
        const std::uint64_t v = st.arena.arena_address(st.in.u16() % user_arena::arena_size);
        std::memcpy(a + off, &v, std::min<std::size_t>(8, user_arena::arena_size - off));
        break;
    }
    }
}

/// Runs the program in `st.in` to its end (or max_ops operations).
inline void run_program(program_state& st) {
    for (unsigned n = 0; n < max_ops && !st.in.empty(); ++n) {
        switch (st.in.u8() % 8) {
        case 0: op_open(st); break;
        case 1: op_close(st); break;
        case 2: case 3: case 4: op_ioctl(st); break;
        case 5: op_mmap(st); break;
        case 6: op_munmap(st); break;
        default: op_arena(st); break;
        }
    }
}

/// Unmaps every mapping and closes every descriptor the program holds.
inline void close_everything(program_state& st) {
    for (const auto& mp : st.maps)
        if (int r = st.m.munmap(mp.addr, mp.length))
            violation("final munmap: %d", r);
    st.maps.clear();
    for (int fd : st.fds)
        if (int r = st.m.close(fd))
            violation("final close(%d): %d", fd, r);
    st.fds.clear();
}

} // namespace accel::fuzz

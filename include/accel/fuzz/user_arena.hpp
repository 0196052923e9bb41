// SPDX-License-Identifier: MIT
#pragma once
/// \file The fuzzed program's user memory: what its ioctls' pointers may reach.
///
/// backend::mock trusts any non-null user pointer (direct_user_access: a plain memcpy), which
/// is right for tests and wrong for a fuzzer that plants arbitrary pointers and lengths. This
/// user_access, installed with mock::set_user_memory, knows the two regions the program owns -
/// the arena (fuzzer-filled bytes that embedded pointers point into) and the argument buffer of
/// the call in progress - and answers -EFAULT for any range not wholly inside one of them, as
/// the kernel does for an unmapped address. A length running off the arena's end therefore
/// faults cleanly instead of corrupting the harness; the guard bytes after the arena are never
/// reachable and are checked to be intact after each call.
///
/// It also watches the dispatcher's copy-out: a write into the argument buffer must lie within
/// the size the request number encodes and the number must have the _IOC_READ (out) bit; any
/// other write there is a violation (drm_ioctl copies out `out_size` bytes only).
#include <accel/core/user_memory.hpp>
#include <accel/fuzz/violation.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace accel::fuzz {

class user_arena final : public user_access {
public:
    static constexpr std::size_t arena_size = 4096;
    static constexpr std::size_t guard_size = 64;
    static constexpr std::size_t arg_capacity = 1u << 14; ///< the 14-bit size field's range
    static constexpr std::uint8_t guard_byte = 0xa5;

    user_arena() noexcept { reset(); }

    /// Clears the arena for a new program.
    void reset() noexcept {
        arena_.fill(0);
        guard_.fill(guard_byte);
        arg_guard_.fill(guard_byte);
    }

    std::uint8_t* arena() noexcept { return arena_.data(); }
    std::uint64_t arena_address(std::size_t offset) const noexcept {
        return reinterpret_cast<std::uintptr_t>(arena_.data()) + offset;
    }

    /// The argument buffer for the next call (`arg_capacity` bytes, zeroed by the caller).
    std::uint8_t* arg() noexcept { return arg_.data(); }
    /// Declares the call about to run: its argument's encoded size and whether it copies out.
    void begin_call(std::size_t size, bool copies_out) noexcept {
        call_size_ = size;
        copies_out_ = copies_out;
    }

    /// Checks the guard bytes after the arena and after the argument buffer. `what` names the
    /// call for the message.
    void check_guards(const char* what) const noexcept {
        for (std::uint8_t b : guard_)
            if (b != guard_byte)
                violation("%s: a write past the end of the user arena", what);
        for (std::uint8_t b : arg_guard_)
            if (b != guard_byte)
                violation("%s: a write past the end of the argument buffer", what);
    }

    int read(void* dst, std::uint64_t src, std::size_t n) noexcept override {
        if (user_range_invalid(src, n))
            return -EFAULT;
        if (!n)
            return 0;
        if (!inside(arena_.data(), arena_size, src, n) && !inside(arg_.data(), arg_capacity, src, n))
            return -EFAULT;
        std::memcpy(dst, reinterpret_cast<const void*>(static_cast<std::uintptr_t>(src)), n);
        return 0;
    }

    int write(std::uint64_t dst, const void* src, std::size_t n) noexcept override {
        if (user_range_invalid(dst, n))
            return -EFAULT;
        if (!n)
            return 0;
        if (inside(arg_.data(), arg_capacity, dst, n)) {
            const std::uint64_t off = dst - reinterpret_cast<std::uintptr_t>(arg_.data());
            if (!copies_out_)
                violation("a write of %zu bytes into the argument of an ioctl without _IOC_READ", n);
            if (off + n > call_size_)
                violation("a write of [%llu, %llu) into an argument of %zu bytes", static_cast<unsigned long long>(off),
                          static_cast<unsigned long long>(off + n), call_size_);
        } else if (!inside(arena_.data(), arena_size, dst, n)) {
            return -EFAULT;
        }
        std::memcpy(reinterpret_cast<void*>(static_cast<std::uintptr_t>(dst)), src, n);
        return 0;
    }

private:
    static bool inside(const std::uint8_t* base, std::size_t size, std::uint64_t addr, std::size_t n) noexcept {
        const auto b = reinterpret_cast<std::uintptr_t>(base);
        return addr >= b && addr - b <= size && n <= size - (addr - b);
    }

    alignas(64) std::array<std::uint8_t, arena_size> arena_{};
    std::array<std::uint8_t, guard_size> guard_{};
    alignas(64) std::array<std::uint8_t, arg_capacity> arg_{};
    std::array<std::uint8_t, guard_size> arg_guard_{};
    std::size_t call_size_ = 0;
    bool copies_out_ = false;
};

} // namespace accel::fuzz

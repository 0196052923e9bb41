// SPDX-License-Identifier: MIT
#pragma once
/// \file Values that flow from one call of a fuzzed program to the next, as syzkaller's
/// resources do: handles, mmap offsets, VAs, syncobj handles, job numbers, descriptors. The
/// harness knows no driver's structs, so it takes every word a successful call wrote that differs
/// from what was sent (a handle, an offset, a sequence number the kernel filled in) and every
/// descriptor a call created; later calls patch them into their arguments by index.
#include <array>
#include <cstddef>
#include <cstdint>

namespace accel::fuzz {

class resource_pool {
public:
    static constexpr std::size_t capacity = 64;

    void clear() noexcept { n_ = next_ = 0; }
    std::size_t size() const noexcept { return n_; }

    /// Adds `v` (a ring: the oldest value goes when full). Zero and repeats of the last value
    /// are skipped: they carry nothing.
    void add(std::uint64_t v) noexcept {
        if (v == 0 || (n_ && values_[(next_ + capacity - 1) % capacity] == v))
            return;
        values_[next_] = v;
        next_ = (next_ + 1) % capacity;
        if (n_ < capacity)
            ++n_;
    }

    /// The value `index` picks, counting back from the newest (0: the newest), or 0 when empty.
    std::uint64_t pick(std::size_t index) const noexcept {
        if (!n_)
            return 0;
        return values_[(next_ + capacity - 1 - index % n_) % capacity];
    }

    /// Harvests the words of a call's output: each aligned 4-byte word (and 8-byte word with a
    /// non-zero upper half) that differs from the input's.
    void harvest(const std::uint8_t* in, const std::uint8_t* out, std::size_t size) noexcept {
        for (std::size_t off = 0; off + 4 <= size && off < 256; off += 4) {
            std::uint32_t a, b;
            __builtin_memcpy(&a, in + off, 4);
            __builtin_memcpy(&b, out + off, 4);
            if (a != b)
                add(b);
            if (off % 8 == 0 && off + 8 <= size) {
                std::uint64_t x, y;
                __builtin_memcpy(&x, in + off, 8);
                __builtin_memcpy(&y, out + off, 8);
                if (x != y && (y >> 32))
                    add(y);
            }
        }
    }

private:
    std::array<std::uint64_t, capacity> values_{};
    std::size_t n_ = 0, next_ = 0;
};

} // namespace accel::fuzz

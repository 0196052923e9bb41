// SPDX-License-Identifier: MIT
#pragma once
/// \file The fuzzer's bytes, read front to back as the call-sequence program's fields.
///
/// Like libFuzzer's FuzzedDataProvider but simpler and stable: each field takes the next bytes
/// (little-endian) and an exhausted input reads as zeros, so every byte string is a program and a
/// mutation of one byte changes one field, which keeps the fuzzer's mutations meaningful.
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace accel::fuzz {

class input_stream {
public:
    input_stream(const std::uint8_t* data, std::size_t size) noexcept : p_(data), left_(size) {}

    bool empty() const noexcept { return left_ == 0; }
    std::size_t left() const noexcept { return left_; }

    std::uint8_t u8() noexcept {
        if (!left_)
            return 0;
        --left_;
        return *p_++;
    }
    std::uint16_t u16() noexcept { return static_cast<std::uint16_t>(u8() | (u8() << 8)); }
    std::uint32_t u32() noexcept { return u16() | (static_cast<std::uint32_t>(u16()) << 16); }
    std::uint64_t u64() noexcept { return u32() | (static_cast<std::uint64_t>(u32()) << 32); }

    /// Copies up to `n` bytes into `out` (fewer when the input ends); the number copied.
    std::size_t bytes(void* out, std::size_t n) noexcept {
        const std::size_t k = n < left_ ? n : left_;
        if (k)
            std::memcpy(out, p_, k);
        p_ += k;
        left_ -= k;
        return k;
    }

private:
    const std::uint8_t* p_;
    std::size_t left_;
};

} // namespace accel::fuzz

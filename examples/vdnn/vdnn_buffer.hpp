// SPDX-License-Identifier: MIT
#pragma once
/// \file `aligned_buffer`: scratch memory of the kernels and engines.
///
/// Packed GEMM panels and staged operands are read with full-width vector loads, so they start
/// on a cache line (64 bytes: also the widest vector). The buffer only grows: an engine runs
/// job after job with the same shapes, and giving memory back between them would make every
/// job pay for page faults again. Contents are not preserved when it grows.
#include <cstddef>
#include <new>

namespace vdnn {

class aligned_buffer {
public:
    static constexpr std::size_t alignment = 64;

    aligned_buffer() = default;
    aligned_buffer(const aligned_buffer&) = delete;
    aligned_buffer& operator=(const aligned_buffer&) = delete;
    aligned_buffer(aligned_buffer&& o) noexcept : p_(o.p_), size_(o.size_) {
        o.p_ = nullptr;
        o.size_ = 0;
    }
    aligned_buffer& operator=(aligned_buffer&& o) noexcept {
        if (this != &o) {
            release();
            p_ = o.p_;
            size_ = o.size_;
            o.p_ = nullptr;
            o.size_ = 0;
        }
        return *this;
    }
    ~aligned_buffer() { release(); }

    /// At least `bytes` of storage, 64-byte aligned; throws std::bad_alloc.
    std::byte* reserve(std::size_t bytes) {
        if (bytes > size_) {
            // Round up to 4 KiB so that slightly growing shapes do not reallocate each time.
            const std::size_t want = (bytes + 4095) & ~std::size_t{4095};
            auto* p = static_cast<std::byte*>(::operator new(want, std::align_val_t{alignment}));
            release();
            p_ = p;
            size_ = want;
        }
        return p_;
    }
    /// reserve() viewed as `n` elements of T.
    template <class T>
    T* as(std::size_t n) {
        return reinterpret_cast<T*>(reserve(n * sizeof(T)));
    }

    std::byte* data() const noexcept { return p_; }
    std::size_t capacity() const noexcept { return size_; }

private:
    void release() noexcept {
        if (p_)
            ::operator delete(p_, std::align_val_t{alignment});
        p_ = nullptr;
        size_ = 0;
    }
    std::byte* p_ = nullptr;
    std::size_t size_ = 0;
};

} // namespace vdnn

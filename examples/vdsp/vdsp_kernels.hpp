// SPDX-License-Identifier: MIT
#pragma once
// What the DSP's functions compute, on host memory: FIR (direct form) and radix-2 FFT with the
// firmware's twiddle and window tables (fw_image). The engine calls these on the spans the
// driver's object accessor hands out (vdsp_jobs.hpp); vdsp_reference.hpp is the definition they
// are tested against.
#include "vdsp_firmware.hpp"
#include "vdsp_uapi.h"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace vdsp {

/// out[n] = sum over k < taps of h[k] * in[n - k] (in[i < 0] = 0); `in` and `out` do not overlap.
inline void fir(std::span<const float> in, std::span<float> out, std::span<const float> h) noexcept {
    const std::size_t count = in.size() < out.size() ? in.size() : out.size();
    for (std::size_t n = 0; n < count; ++n) {
        float acc = 0.0f;
        const std::size_t kmax = n + 1 < h.size() ? n + 1 : h.size();
        for (std::size_t k = 0; k < kmax; ++k)
            acc += h[k] * in[n - k];
        out[n] = acc;
    }
}

/// One FFT block of `size` complex samples (interleaved re, im) from `in` into `out` (no
/// overlap), with the firmware's tables: twiddle w[k] = exp(-2 pi i k / fft_max), window of
/// fft_max entries; a size below fft_max takes every (fft_max / size)-th entry. The caller has
/// checked size (a power of two, <= fw.fft_max) and that the window exists when asked for.
inline void fft_block(const fw_image& fw, const float* in, float* out, std::uint32_t size, std::uint32_t flags) noexcept {
    const bool inverse = flags & VDSP_FFT_INVERSE;
    const bool window = (flags & VDSP_FFT_WINDOW) && !inverse;
    const std::uint32_t wstride = fw.fft_max / size;
    // Bit-reversed copy (windowed).
    unsigned bits = 0;
    while ((1u << bits) < size)
        ++bits;
    for (std::uint32_t i = 0; i < size; ++i) {
        std::uint32_t r = 0;
        for (unsigned b = 0; b < bits; ++b)
            r |= ((i >> b) & 1u) << (bits - 1 - b);
        float re = in[2 * i], im = in[2 * i + 1];
        if (window) {
            const float w = fw.window[std::size_t{i} * wstride];
            re *= w;
            im *= w;
        }
        out[2 * r] = re;
        out[2 * r + 1] = im;
    }
    for (std::uint32_t len = 2; len <= size; len <<= 1) {
        const std::uint32_t half = len / 2, step = fw.fft_max / len;
        for (std::uint32_t i = 0; i < size; i += len)
            for (std::uint32_t j = 0; j < half; ++j) {
                const float wr = fw.twiddle[2 * std::size_t{j} * step];
                const float wi = inverse ? -fw.twiddle[2 * std::size_t{j} * step + 1] : fw.twiddle[2 * std::size_t{j} * step + 1];
                float* u = out + 2 * (i + j);
                float* v = out + 2 * (i + j + half);
                const float tr = v[0] * wr - v[1] * wi;
                const float ti = v[0] * wi + v[1] * wr;
                v[0] = u[0] - tr;
                v[1] = u[1] - ti;
                u[0] += tr;
                u[1] += ti;
            }
    }
    if (inverse) {
        const float s = 1.0f / static_cast<float>(size);
        for (std::uint32_t i = 0; i < 2 * size; ++i)
            out[i] *= s;
    }
}

} // namespace vdsp

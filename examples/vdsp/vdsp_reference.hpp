// SPDX-License-Identifier: MIT
#pragma once
// vdsp's reference: plain loops in double precision, from the definitions in vdsp_uapi.h and
// independent of the firmware's tables (the window is recomputed from its formula). Tests
// compare the driver's results against these with a tolerance.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numbers>
#include <vector>

namespace vdsp::reference {

inline std::vector<float> fir(const std::vector<float>& in, const std::vector<float>& h) {
    std::vector<float> out(in.size());
    for (std::size_t n = 0; n < in.size(); ++n) {
        double acc = 0;
        for (std::size_t k = 0; k < h.size() && k <= n; ++k)
            acc += double{h[k]} * in[n - k];
        out[n] = static_cast<float>(acc);
    }
    return out;
}

/// The Hann window of the shipped firmware, entry i of a size-n block (fft_max / n stride).
inline double hann(std::size_t i, std::size_t n) { return 0.5 - 0.5 * std::cos(2.0 * std::numbers::pi * double(i) / double(n)); }

/// count / size DFTs of interleaved complex float32 (the O(N^2) definition).
inline std::vector<float> dft(const std::vector<float>& in, std::size_t size, bool inverse, bool window) {
    std::vector<float> out(in.size());
    const std::size_t blocks = in.size() / 2 / size;
    const double sign = inverse ? 1.0 : -1.0;
    for (std::size_t b = 0; b < blocks; ++b) {
        const float* x = in.data() + 2 * b * size;
        for (std::size_t k = 0; k < size; ++k) {
            double re = 0, im = 0;
            for (std::size_t n = 0; n < size; ++n) {
                const double w = window && !inverse ? hann(n, size) : 1.0;
                const double a = sign * 2.0 * std::numbers::pi * double((n * k) % size) / double(size);
                re += w * (x[2 * n] * std::cos(a) - x[2 * n + 1] * std::sin(a));
                im += w * (x[2 * n] * std::sin(a) + x[2 * n + 1] * std::cos(a));
            }
            if (inverse) {
                re /= double(size);
                im /= double(size);
            }
            out[2 * (b * size + k)] = static_cast<float>(re);
            out[2 * (b * size + k) + 1] = static_cast<float>(im);
        }
    }
    return out;
}

} // namespace vdsp::reference

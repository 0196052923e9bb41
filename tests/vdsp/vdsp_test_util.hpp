// SPDX-License-Identifier: MIT
#pragma once
// Helpers of the vdsp tests: a temporary directory tree for firmware files, a captured log, the
// shipped firmware description, random signals, INFO STATUS.
#include "vdsp_firmware.hpp"

#include <accel/accel.hpp>
#include <accel/uapi/accel_info.h>
#include <accel/uapi/accel_reset.h>

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace vdsp::test {

/// A fresh directory under /tmp, removed with everything in it.
struct temp_dir {
    std::string path;
    temp_dir() {
        char tmpl[] = "/tmp/vdsp-test-XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        path = tmpl;
    }
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;

    /// Writes `bytes` to path/rel (creating the directories on the way); the full path.
    std::string write(const std::string& rel, const std::vector<std::byte>& bytes) const {
        const std::filesystem::path p = std::filesystem::path(path) / rel;
        std::filesystem::create_directories(p.parent_path());
        const std::string tmp = p.string() + ".tmp";
        {
            std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
            out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
            REQUIRE(out.good());
        }
        std::filesystem::rename(tmp, p); // atomic: a server reading it sees the old or the new file
        return p.string();
    }
    std::string write(const std::string& rel, std::string_view text) const {
        std::vector<std::byte> b(text.size());
        std::memcpy(b.data(), text.data(), text.size());
        return write(rel, b);
    }
};

/// Captures a loader's log lines.
struct log_capture {
    std::mutex m;
    std::vector<std::string> lines;
    accel::firmware_loader::log_sink sink() {
        return [this](std::string_view l) {
            std::lock_guard lock(m);
            lines.emplace_back(l);
        };
    }
    std::vector<std::string> take() {
        std::lock_guard lock(m);
        return std::exchange(lines, {});
    }
};

/// The shipped description (examples/vdsp/firmware/vdsp.fw.txt).
inline fw_description shipped() {
    fw_description d;
    d.version = 1u << 16;
    d.fir = d.fft = true;
    d.fft_max = 4096;
    return d;
}
inline std::vector<std::byte> shipped_image() { return build_firmware(shipped()); }

inline std::vector<float> random_signal(std::size_t n, unsigned seed) {
    std::mt19937 g(seed);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    std::vector<float> v(n);
    for (float& x : v)
        x = u(g);
    return v;
}

/// Largest |a - b| over both.
inline double max_diff(const float* a, const std::vector<float>& b) {
    double m = 0;
    for (std::size_t i = 0; i < b.size(); ++i)
        m = std::max(m, std::abs(double{a[i]} - b[i]));
    return m;
}

inline std::uint64_t uptr(const void* p) { return reinterpret_cast<std::uintptr_t>(p); }

template <class B>
accel_info_status status_of(B& c, int fd) {
    accel_info_status st{};
    accel_info_item item{};
    item.id = ACCEL_INFO_STATUS;
    item.length = sizeof st;
    item.data = uptr(&st);
    accel_info a{};
    a.num_items = 1;
    a.items = uptr(&item);
    REQUIRE(c.ioctl(fd, ACCEL_IOCTL_INFO, &a) == 0);
    REQUIRE(item.length == static_cast<std::int32_t>(sizeof st));
    return st;
}

/// ACCEL_IOCTL_RESET with ACCEL_RESET_WAIT: the ioctl's answer.
template <class B>
int reset_wait(B& c, int fd) {
    accel_reset_request r{ACCEL_RESET_WAIT, 0};
    return c.ioctl(fd, ACCEL_IOCTL_RESET, &r);
}

} // namespace vdsp::test

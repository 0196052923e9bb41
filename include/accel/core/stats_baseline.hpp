// SPDX-License-Identifier: MIT
#pragma once
/// \file `stats_baseline`: what ACCEL_IOCTL_CLEAR_STATS clears, without touching the counters.
///
/// CLEAR_STATS (uapi/accel_monitor.h) zeroes the device-wide statistics INFO reports: the reset
/// count (STATUS) and the engines' busy time (ENGINE_BUSY). The counters underneath stay
/// monotonic (the reset flow and RESET's wait compare the raw reset count; the schedulers'
/// clocks and every per-client engine time keep counting), so clearing records a baseline and
/// the reported values are raw minus baseline. A raw value below its baseline means the counter
/// restarted (a driver's engine_busy counting from 0 again after its hardware reset): the raw
/// value is then reported as it is, not 0, so the statistic keeps moving. Per-client values are never
/// cleared: fdinfo parsers rely on them growing for the client's life.
#include <accel/uapi/accel_info.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <utility>
#include <vector>

namespace accel {

class stats_baseline {
public:
    /// Takes the current raw values as the new zero.
    void clear(std::uint64_t resets_now, const std::vector<accel_info_engine_time>& busy_now) {
        std::vector<std::pair<std::uint32_t, std::uint64_t>> fresh;
        fresh.reserve(busy_now.size());
        for (const accel_info_engine_time& b : busy_now)
            fresh.emplace_back(b.engine_id, b.busy_ns);
        std::lock_guard lock(mutex_);
        engines_.swap(fresh);
        resets_.store(resets_now, std::memory_order_release);
    }
    /// The reset count since the last clear.
    std::uint64_t resets_since(std::uint64_t raw) const noexcept {
        const std::uint64_t base = resets_.load(std::memory_order_acquire);
        return raw >= base ? raw - base : raw;
    }
    /// Subtracts each engine's baseline from `busy` in place.
    void subtract(std::vector<accel_info_engine_time>& busy) const {
        std::lock_guard lock(mutex_);
        for (accel_info_engine_time& b : busy)
            for (const auto& [id, ns] : engines_)
                if (id == b.engine_id)
                    b.busy_ns = b.busy_ns >= ns ? b.busy_ns - ns : b.busy_ns; // restarted: raw
    }

private:
    std::atomic<std::uint64_t> resets_{0};
    mutable std::mutex mutex_;
    std::vector<std::pair<std::uint32_t, std::uint64_t>> engines_;
};

} // namespace accel

// SPDX-License-Identifier: MIT
#pragma once
/// \file `sim_sensors`: simulated hwmon sensors for example drivers, moving with engine load.
///
/// Real accelerators report temperature, power, energy, voltage, current and fan speed
/// (hwmon ABI, Documentation/hwmon/sysfs-interface.rst; KERNEL-EXEC.md §10). The simulation
/// derives them from the engines' busy time, read at the time of the query (no thread, no
/// timer): between two samples the utilisation u is the busy time gained divided by the time
/// elapsed times the engines that can be busy at once (clamped to [0, 1]). Then
///   power1_average  idle + (max - idle) * u                      microwatt
///   energy1_input   integral of that power since the device came up: idle * dt +
///                   (max - idle) * busy gained / capacity         microjoule, cumulative
///   in0_input       idle + (max - idle) * u                      millivolt
///   curr1_input     power / voltage                              milliampere
///   temp1_input     idle + rise * h, h following u with the profile's thermal time
///                   constant (h += (u - h) * (1 - exp(-dt / tau)))  millidegree Celsius
///   fan1_input      idle + (max - idle) * h                      RPM
/// Every value is a deterministic function of the samples' times and busy times. A sample is
/// kept as the new reference only when at least `window` has passed since the last one; the
/// utilisation is measured from the newest kept reference at least a window old (the one
/// before the newest while the newest is younger than a window), so a read just after a
/// reference moved does not measure over a few microseconds and jump between 0 and 1, and
/// monitors polling fast see a utilisation over at least a window (only the first window after
/// creation is shorter). A read is a few arithmetic operations under a mutex. Energy and heat
/// integrate from the newest reference.
#include <accel/uapi/accel_info.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <string_view>
#include <vector>

namespace accel {

struct sim_sensor_profile {
    std::int64_t idle_temp_mc = 35'000, temp_rise_mc = 45'000;
    std::int64_t idle_power_uw = 12'000'000, max_power_uw = 75'000'000;
    std::int64_t idle_mv = 750, max_mv = 950;
    std::int64_t idle_rpm = 1'200, max_rpm = 4'800;
    std::int64_t thermal_tau_ns = 2'000'000'000; ///< the temperature's time constant
    std::int64_t window_ns = 100'000'000;        ///< a reference sample is kept at most this often
};

class sim_sensors {
public:
    /// `capacity`: engines that can be busy at once; `now_ns`/`busy_ns`: the first reference.
    sim_sensors(std::uint32_t capacity, std::int64_t now_ns, std::uint64_t busy_ns = 0,
                sim_sensor_profile profile = {}) noexcept
        : p_(profile), cap_(capacity ? capacity : 1), t0_(now_ns), busy0_(busy_ns) {}

    /// The sensors at `now_ns` with the engines' total busy time `busy_ns` (monotonic).
    std::vector<accel_info_sensor> read(std::int64_t now_ns, std::uint64_t busy_ns) {
        std::lock_guard lock(mutex_);
        const std::int64_t dt = std::max<std::int64_t>(now_ns - t0_, 0);
        const double gained = busy_ns > busy0_ ? static_cast<double>(busy_ns - busy0_) : 0.0;
        // The utilisation's interval: from the newest reference once it is a window old, from the
        // one before it until then.
        const bool from_prev = has_prev_ && dt < p_.window_ns;
        const std::int64_t u_dt = from_prev ? std::max<std::int64_t>(now_ns - prev_t_, 0) : dt;
        const std::uint64_t u_busy0 = from_prev ? prev_busy_ : busy0_;
        const double u_gained = busy_ns > u_busy0 ? static_cast<double>(busy_ns - u_busy0) : 0.0;
        double u = last_util_;
        if (u_dt > 0)
            u = std::clamp(u_gained / (static_cast<double>(u_dt) * cap_), 0.0, 1.0);
        const double span_power = static_cast<double>(p_.max_power_uw - p_.idle_power_uw);
        // Energy over the interval: idle power all along, the rest while the engines were busy
        // (the busy time gained, capped at the interval's capacity).
        const double busy_share = std::min(gained / cap_, static_cast<double>(dt));
        const double energy_uj = energy0_uj_ + (static_cast<double>(p_.idle_power_uw) * static_cast<double>(dt) +
                                                span_power * busy_share) / 1e9;
        const double heat = heat0_ + (u - heat0_) * (1.0 - std::exp(-static_cast<double>(dt) / static_cast<double>(p_.thermal_tau_ns)));
        if (dt >= p_.window_ns) {
            prev_t_ = t0_;
            prev_busy_ = busy0_;
            has_prev_ = true;
            t0_ = now_ns;
            busy0_ = std::max(busy_ns, busy0_);
            energy0_uj_ = energy_uj;
            heat0_ = heat;
            last_util_ = u;
        }
        const auto lerp = [](std::int64_t lo, std::int64_t hi, double x) {
            return lo + static_cast<std::int64_t>(std::llround(static_cast<double>(hi - lo) * x));
        };
        const std::int64_t power = lerp(p_.idle_power_uw, p_.max_power_uw, u);
        const std::int64_t mv = lerp(p_.idle_mv, p_.max_mv, u);
        std::vector<accel_info_sensor> s;
        s.reserve(6);
        add(s, ACCEL_SENSOR_TEMP, 1, lerp(p_.idle_temp_mc, p_.idle_temp_mc + p_.temp_rise_mc, heat), "edge");
        add(s, ACCEL_SENSOR_IN, 0, mv, "vddcore");
        add(s, ACCEL_SENSOR_CURR, 1, mv > 0 ? power / mv : 0, "vddcore");
        add(s, ACCEL_SENSOR_POWER, 1, power, "board");
        add(s, ACCEL_SENSOR_ENERGY, 1, static_cast<std::int64_t>(energy_uj), "board");
        add(s, ACCEL_SENSOR_FAN, 1, lerp(p_.idle_rpm, p_.max_rpm, heat), "fan");
        return s;
    }

private:
    static void add(std::vector<accel_info_sensor>& s, std::uint32_t type, std::uint32_t index, std::int64_t value,
                    std::string_view label) {
        accel_info_sensor v{};
        v.type = type;
        v.index = index;
        v.value = value;
        const std::size_t n = std::min(label.size(), sizeof v.label - 1);
        std::memcpy(v.label, label.data(), n);
        s.push_back(v);
    }

    const sim_sensor_profile p_;
    const double cap_;
    std::mutex mutex_;
    std::int64_t t0_;
    std::uint64_t busy0_;
    double energy0_uj_ = 0;
    double heat0_ = 0;
    double last_util_ = 0;
    std::int64_t prev_t_ = 0; // the reference before t0_ (when has_prev_)
    std::uint64_t prev_busy_ = 0;
    bool has_prev_ = false;
};

} // namespace accel

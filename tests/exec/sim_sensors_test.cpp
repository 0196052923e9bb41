// SPDX-License-Identifier: MIT
// sim_sensors (exec/sim_sensors.hpp): hwmon values as a deterministic function of the engines'
// busy time and the sample times.
#include <accel/exec/sim_sensors.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <string>

namespace {

constexpr std::int64_t ms = 1'000'000;

std::int64_t value(const std::vector<accel_info_sensor>& s, std::uint32_t type) {
    for (const auto& x : s)
        if (x.type == type)
            return x.value;
    FAIL("no sensor of type " << type);
    return 0;
}

} // namespace

TEST_CASE("sim_sensors: idle engines read the idle values, labelled in hwmon terms") {
    accel::sim_sensor_profile p;
    accel::sim_sensors s(2, 0, 0, p);
    auto v = s.read(1000 * ms, 0);
    REQUIRE(v.size() == 6);
    CHECK(value(v, ACCEL_SENSOR_TEMP) == p.idle_temp_mc);
    CHECK(value(v, ACCEL_SENSOR_POWER) == p.idle_power_uw);
    CHECK(value(v, ACCEL_SENSOR_IN) == p.idle_mv);
    CHECK(value(v, ACCEL_SENSOR_CURR) == p.idle_power_uw / p.idle_mv);
    CHECK(value(v, ACCEL_SENSOR_FAN) == p.idle_rpm);
    // One second at idle power: idle_power_uw microwatts for 1 s is that many microjoules.
    CHECK(value(v, ACCEL_SENSOR_ENERGY) == p.idle_power_uw);
    CHECK(std::string(v[0].label) == "edge");
    CHECK(v[0].index == 1);
    CHECK(v[1].type == ACCEL_SENSOR_IN);
    CHECK(v[1].index == 0); // in0: voltages start at 0
}

TEST_CASE("sim_sensors: load moves power, voltage, temperature and fan, energy integrates power") {
    accel::sim_sensor_profile p;
    accel::sim_sensors s(2, 0, 0, p);
    // Both engines busy for the whole first second: utilisation 1.
    auto full = s.read(1000 * ms, 2000 * ms);
    CHECK(value(full, ACCEL_SENSOR_POWER) == p.max_power_uw);
    CHECK(value(full, ACCEL_SENSOR_IN) == p.max_mv);
    CHECK(value(full, ACCEL_SENSOR_ENERGY) == p.max_power_uw); // 1 s at max power
    const std::int64_t t1 = value(full, ACCEL_SENSOR_TEMP);
    CHECK(t1 > p.idle_temp_mc);
    CHECK(t1 < p.idle_temp_mc + p.temp_rise_mc); // the heat follows with its time constant
    CHECK(value(full, ACCEL_SENSOR_FAN) > p.idle_rpm);
    // Half load for the next second: power halfway; the heat moves towards 0.5 from where it was.
    auto half = s.read(2000 * ms, 3000 * ms);
    CHECK(value(half, ACCEL_SENSOR_POWER) == (p.idle_power_uw + p.max_power_uw) / 2);
    CHECK(value(half, ACCEL_SENSOR_ENERGY) == p.max_power_uw + (p.idle_power_uw + p.max_power_uw) / 2);
    // Long idle: everything goes back to idle, energy keeps its sum.
    auto idle = s.read(60'000 * ms, 3000 * ms);
    CHECK(value(idle, ACCEL_SENSOR_POWER) == p.idle_power_uw);
    CHECK(value(idle, ACCEL_SENSOR_TEMP) - p.idle_temp_mc < 10);
    CHECK(value(idle, ACCEL_SENSOR_ENERGY) > value(half, ACCEL_SENSOR_ENERGY));
}

TEST_CASE("sim_sensors: the same samples give the same values, fast polls keep their window") {
    accel::sim_sensors a(1, 0), b(1, 0);
    CHECK(value(a.read(500 * ms, 250 * ms), ACCEL_SENSOR_TEMP) == value(b.read(500 * ms, 250 * ms), ACCEL_SENSOR_TEMP));
    // Polls 1 ms apart measure over the interval since a kept sample at least a window old,
    // not over 1 ms.
    accel::sim_sensor_profile p;
    accel::sim_sensors s(1, 0, 0, p);
    (void)s.read(1000 * ms, 0);             // kept: idle second
    auto v1 = s.read(1100 * ms, 50 * ms);   // kept: 50% over the window since it
    auto v2 = s.read(1101 * ms, 50 * ms);   // no busy time in the last 1 ms: 50 of 101 ms
    CHECK(value(v1, ACCEL_SENSOR_POWER) == p.idle_power_uw + (p.max_power_uw - p.idle_power_uw) / 2);
    const std::int64_t span = p.max_power_uw - p.idle_power_uw;
    CHECK(value(v2, ACCEL_SENSOR_POWER) == p.idle_power_uw + std::llround(static_cast<double>(span) * 50 / 101));
    CHECK(value(v2, ACCEL_SENSOR_ENERGY) >= value(v1, ACCEL_SENSOR_ENERGY)); // monotonic
}

TEST_CASE("sim_sensors: a read just after the reference moved measures over the previous one, not a few microseconds") {
    accel::sim_sensor_profile p;
    const std::int64_t us = 1'000;
    const std::int64_t span = p.max_power_uw - p.idle_power_uw;
    const auto at = [&](double u) { return p.idle_power_uw + std::llround(static_cast<double>(span) * u); };
    // One engine busy a quarter of the time, sampled every window (100 ms): 25% at every read.
    accel::sim_sensors s(1, 0, 0, p);
    CHECK(value(s.read(100 * ms, 25 * ms), ACCEL_SENSOR_POWER) == at(0.25)); // kept
    // 1 us later, busy all along (1 us gained): not 100%, but 25 ms + 1 us over 100 ms + 1 us.
    CHECK(value(s.read(100 * ms + us, 25 * ms + us), ACCEL_SENSOR_POWER) ==
          at(static_cast<double>(25 * ms + us) / static_cast<double>(100 * ms + us)));
    // 1 us later again, idle in it: not 0%.
    CHECK(value(s.read(100 * ms + 2 * us, 25 * ms + us), ACCEL_SENSOR_POWER) ==
          at(static_cast<double>(25 * ms + us) / static_cast<double>(100 * ms + 2 * us)));
    // The next kept sample (one window after the last) measures over that window: 50%.
    CHECK(value(s.read(200 * ms, 75 * ms), ACCEL_SENSOR_POWER) == at(0.5));
    // And reads right after it measure from the one before (100 ms): still about 50%, never 0 or 1.
    const std::int64_t next = value(s.read(200 * ms + us, 75 * ms), ACCEL_SENSOR_POWER);
    CHECK(next == at(static_cast<double>(50 * ms) / static_cast<double>(100 * ms + us)));
}

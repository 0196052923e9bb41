// SPDX-License-Identifier: MIT
// sim_sensors (exec/sim_sensors.hpp): hwmon values as a deterministic function of the engines'
// busy time and the sample times.
#include <accel/exec/sim_sensors.hpp>

#include <doctest/doctest.h>

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

TEST_CASE("sim_sensors: load moves power, voltage, temperature and fan; energy integrates power") {
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

TEST_CASE("sim_sensors: the same samples give the same values; fast polls keep their window") {
    accel::sim_sensors a(1, 0), b(1, 0);
    CHECK(value(a.read(500 * ms, 250 * ms), ACCEL_SENSOR_TEMP) == value(b.read(500 * ms, 250 * ms), ACCEL_SENSOR_TEMP));
    // Polls 1 ms apart measure over the interval since the last kept sample (>= the window),
    // not over 1 ms.
    accel::sim_sensor_profile p;
    accel::sim_sensors s(1, 0, 0, p);
    (void)s.read(1000 * ms, 0); // kept: idle second
    auto v1 = s.read(1050 * ms, 25 * ms);
    auto v2 = s.read(1051 * ms, 25 * ms); // no busy time in the last 1 ms, still 50% over 51 ms
    CHECK(value(v1, ACCEL_SENSOR_POWER) == p.idle_power_uw + (p.max_power_uw - p.idle_power_uw) / 2);
    CHECK(value(v2, ACCEL_SENSOR_POWER) > p.idle_power_uw);
    CHECK(value(v2, ACCEL_SENSOR_ENERGY) >= value(v1, ACCEL_SENSOR_ENERGY)); // monotonic
}

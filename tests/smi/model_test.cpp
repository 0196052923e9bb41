// SPDX-License-Identifier: MIT
// accel-smi's model and text view: utilisation from two samples, hwmon units shown as people
// read them, sizes, the table's alignment and the screen's parts.
#include "smi_model.hpp"
#include "smi_table.hpp"

#include <doctest/doctest.h>

using namespace accel_smi;

TEST_CASE("utilisation: busy time over wall time and instances, clamped, none without an interval") {
    CHECK(utilisation(0, 500, 1000, 1) == doctest::Approx(50.0));
    CHECK(utilisation(0, 500, 1000, 2) == doctest::Approx(25.0));
    CHECK(utilisation(100, 100, 1000, 1) == doctest::Approx(0.0));
    CHECK(utilisation(0, 5000, 1000, 1) == doctest::Approx(100.0)); // more than the wall time: clamped
    CHECK_FALSE(utilisation(0, 500, 0, 1).has_value());
    CHECK_FALSE(utilisation(600, 500, 1000, 1).has_value()); // counters cleared in between
}

TEST_CASE("compute_utilisation pairs engines by id and clients by client id") {
    snapshot a, b;
    device_info d;
    d.minor = 1;
    d.source = "info";
    d.engines.push_back(engine_info{0, "compute", 2, 1000, std::nullopt});
    d.clients.emplace();
    client_info c;
    c.client_id = 7;
    c.pid = 10;
    c.engines.push_back(client_engine{"compute", 1000, std::nullopt});
    d.clients->push_back(c);
    d.sampled_ns = 1'000'000;
    a.devices.push_back(d);

    d.sampled_ns = 2'000'000; // 1 ms later
    d.engines[0].busy_ns = 1000 + 1'000'000; // one of two instances busy all along: 50%
    d.clients->at(0).engines[0].busy_ns = 1000 + 500'000;
    client_info fresh; // opened in between: counted from 0
    fresh.client_id = 8;
    fresh.engines.push_back(client_engine{"compute", 200'000, std::nullopt});
    d.clients->push_back(fresh);
    b.devices.push_back(d);

    compute_utilisation(a, b);
    const auto& e = b.devices[0].engines[0];
    REQUIRE(e.utilisation.has_value());
    CHECK(*e.utilisation == doctest::Approx(50.0));
    CHECK(*b.devices[0].clients->at(0).engines[0].utilisation == doctest::Approx(25.0));
    CHECK(*b.devices[0].clients->at(1).engines[0].utilisation == doctest::Approx(10.0));
}

TEST_CASE("a kernel device's engine utilisation is the sum of its clients'") {
    snapshot a, b;
    device_info d;
    d.source = "kernel";
    d.engines.push_back(engine_info{0, "npu", 1, std::nullopt, std::nullopt});
    d.clients.emplace();
    for (std::uint64_t id : {1u, 2u}) {
        client_info c;
        c.client_id = id;
        c.engines.push_back(client_engine{"npu", 0, std::nullopt});
        d.clients->push_back(c);
    }
    d.sampled_ns = 1000;
    a.devices.push_back(d);
    d.sampled_ns = 2000;
    d.clients->at(0).engines[0].busy_ns = 300;
    d.clients->at(1).engines[0].busy_ns = 200;
    b.devices.push_back(d);
    compute_utilisation(a, b);
    CHECK(*b.devices[0].engines[0].utilisation == doctest::Approx(50.0));
}

TEST_CASE("sensors in hwmon units are shown as people read them") {
    CHECK(sensor_text({ACCEL_SENSOR_TEMP, 1, 45250, ""}) == "45.2 \xC2\xB0" "C");
    CHECK(sensor_text({ACCEL_SENSOR_TEMP, 1, -5000, ""}) == "-5.0 \xC2\xB0" "C");
    CHECK(sensor_text({ACCEL_SENSOR_POWER, 1, 12500000, ""}) == "12.50 W");
    CHECK(sensor_text({ACCEL_SENSOR_ENERGY, 1, 3000000, ""}) == "3.000 J");
    CHECK(sensor_text({ACCEL_SENSOR_IN, 0, 850, ""}) == "850 mV");
    CHECK(sensor_text({ACCEL_SENSOR_CURR, 1, 1200, ""}) == "1200 mA");
    CHECK(sensor_text({ACCEL_SENSOR_FAN, 1, 2400, ""}) == "2400 RPM");
    CHECK(sensor_name({ACCEL_SENSOR_IN, 0, 0, ""}) == "in0");
    CHECK(sensor_file({ACCEL_SENSOR_POWER, 1, 0, ""}) == "power1_average");
    CHECK(sensor_file({ACCEL_SENSOR_TEMP, 2, 0, ""}) == "temp2_input");
}

TEST_CASE("sizes and bars") {
    CHECK(human_bytes(0) == "0 B");
    CHECK(human_bytes(1023) == "1023 B");
    CHECK(human_bytes(4096) == "4.0 KiB");
    CHECK(human_bytes(64ull << 20) == "64.0 MiB");
    CHECK(human_bytes(3ull << 30) == "3.0 GiB");
    CHECK(bar(50.0, 10) == "[#####.....]");
    CHECK(bar(100.0, 4) == "[####]");
    CHECK(bar(0.0, 4) == "[....]");
    CHECK(bar(std::nullopt, 4) == "[----]");
    CHECK(busy_text(std::nullopt) == "-");
    CHECK(busy_text(0) == "0 s");
    CHECK(busy_text(250'000) == "250 us");
    CHECK(busy_text(12'340'000) == "12.3 ms");
    CHECK(busy_text(2'000'000'000) == "2.000 s");
}

TEST_CASE("text_table aligns columns by display width, numbers to the right") {
    text_table t({"NAME", "N"}, {false, true});
    t.add({"\xC2\xB0" "C", "5"});
    t.add({"long name", "123"});
    std::vector<std::string> lines;
    t.render(lines);
    REQUIRE(lines.size() == 3);
    CHECK(lines[0] == "NAME         N");
    CHECK(lines[1] == "\xC2\xB0" "C           5");
    CHECK(lines[2] == "long name  123");
}

TEST_CASE("the screen: the device row, its memory, engines with bars, sensors and the process list") {
    snapshot s;
    device_info d;
    d.minor = 1;
    d.node = "/m/accel/accel_controlD1";
    d.driver = "vdnn";
    d.version = "1.0.0";
    d.desc = "virtual DNN accelerator";
    d.status = "operational";
    d.reset_count = 0;
    d.memory.push_back(region_info{2, "dram", "device", 64u << 20, 4u << 20});
    d.engines.push_back(engine_info{0, "compute", 2, 2'000'000'000, 50.0});
    d.sensors.emplace();
    d.sensors->push_back(sensor_info{ACCEL_SENSOR_POWER, 1, 20'000'000, "board"});
    d.clients.emplace();
    client_info c;
    c.client_id = 5;
    c.pid = 4321;
    c.comm = "vdnn-load";
    c.name = "vdnn-load";
    c.node = "compute";
    c.engines.push_back(client_engine{"compute", 1, 50.0});
    c.memory.push_back(client_region{"dram", 4u << 20, 0, 4u << 20, 0, 0});
    d.clients->push_back(c);
    s.devices.push_back(d);
    const auto lines = render_snapshot(s, 80);
    std::string all;
    for (const auto& l : lines)
        all += l + "\n";
    CHECK(all.find("DEV  DRIVER  VERSION  STATUS       RESETS  CLIENTS  DESCRIPTION\n"
                   "  1  vdnn    1.0.0    operational       0        1  virtual DNN accelerator\n") == 0);
    CHECK(all.find("  dram    device  4.0 MiB  64.0 MiB   6%") != std::string::npos);
    CHECK(all.find("  compute     2   50%  [##########..........]  2.000 s") != std::string::npos);
    CHECK(all.find("  power1  board  20.00 W") != std::string::npos);
    CHECK(all.find("PROCESSES\nDEV   PID  COMMAND    CLIENT  NAME       NODE     ENGINES      MEMORY\n"
                   "  1  4321  vdnn-load       5  vdnn-load  compute  compute 50%  dram 4.0 MiB\n") != std::string::npos);
}

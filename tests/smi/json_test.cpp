// SPDX-License-Identifier: MIT
// accel-smi --json's writer: structure, commas, escaping (quotes, control characters, invalid
// UTF-8 from process names), numbers, null for what a device could not report.
#include "smi_json.hpp"

#include <doctest/doctest.h>

#include <limits>

using namespace accel_smi;

namespace {
std::string esc(std::string_view s) {
    std::string out;
    json_escape(s, out);
    return out;
}
} // namespace

TEST_CASE("strings are escaped so the output always parses") {
    CHECK(esc("plain") == "\"plain\"");
    CHECK(esc("a\"b\\c") == "\"a\\\"b\\\\c\"");
    CHECK(esc("tab\tnl\ncr\r") == "\"tab\\tnl\\ncr\\r\"");
    CHECK(esc(std::string_view("\x01\x1f\x7f", 3)) == "\"\\u0001\\u001f\\u007f\"");
    CHECK(esc(std::string_view("nul\0x", 5)) == "\"nul\\u0000x\"");
    // Valid UTF-8 stays as it is.
    CHECK(esc("45.0 \xC2\xB0" "C \xE2\x82\xAC \xF0\x9F\x98\x80") == "\"45.0 \xC2\xB0" "C \xE2\x82\xAC \xF0\x9F\x98\x80\"");
    // Invalid bytes (a lone continuation, a truncated sequence, an overlong '/', a surrogate) become U+FFFD.
    CHECK(esc("\x80") == "\"\\ufffd\"");
    CHECK(esc("a\xE2\x82") == "\"a\\ufffd\\ufffd\"");
    CHECK(esc("\xC0\xAF") == "\"\\ufffd\\ufffd\"");
    CHECK(esc("\xED\xA0\x80") == "\"\\ufffd\\ufffd\\ufffd\"");
    CHECK(esc("\xFF") == "\"\\ufffd\"");
}

TEST_CASE("writer: nesting, commas, keys, numbers, null") {
    json_writer j;
    j.begin_object();
    j.member("a", std::uint64_t{18446744073709551615ull});
    j.member("b", std::int32_t{-3});
    j.key("list").begin_array().value("x").value(true).null().begin_object().end_object().begin_array().end_array().end_array();
    j.member("pct", 12.345);
    j.member("nan", std::numeric_limits<double>::quiet_NaN());
    j.member("none", std::optional<std::uint64_t>{});
    j.member("some", std::optional<std::string>{"s"});
    j.end_object();
    CHECK(j.str() == "{\"a\":18446744073709551615,\"b\":-3,\"list\":[\"x\",true,null,{},[]],\"pct\":12.3,\"nan\":null,"
                     "\"none\":null,\"some\":\"s\"}");
}

TEST_CASE("a snapshot: one object with a devices list, each device with its parts") {
    snapshot s;
    s.root = "/mnt";
    device_info d;
    d.minor = 2;
    d.node = "/mnt/accel/accel_controlD2";
    d.source = "info";
    d.driver = "vdnn";
    d.version = "1.0.0";
    d.desc = "virtual \"DNN\"";
    d.status = "operational";
    d.reset_count = 1;
    d.memory.push_back(region_info{2, "dram", "device", 64u << 20, 4u << 20});
    d.engines.push_back(engine_info{0, "compute", 2, 1000, 50.0});
    d.sensors.emplace();
    d.sensors->push_back(sensor_info{ACCEL_SENSOR_TEMP, 1, 45500, "die"});
    d.clients.emplace();
    client_info c;
    c.client_id = 9;
    c.pid = 1234;
    c.comm = "bad\xff";
    c.node = "compute";
    c.engines.push_back(client_engine{"compute", 500, 25.0});
    c.memory.push_back(client_region{"dram", 4096, 0, 4096, 0, 0});
    d.clients->push_back(c);
    s.devices.push_back(d);
    device_info old; // an older server: no sensors, no clients
    old.minor = 3;
    s.devices.push_back(old);

    const std::string j = snapshot_json(s);
    CHECK(j.starts_with("{\"root\":\"/mnt\",\"devices\":[{\"minor\":2,"));
    CHECK(j.find("\"identity\":{\"driver\":\"vdnn\",\"version\":\"1.0.0\",\"description\":\"virtual \\\"DNN\\\"\"}") !=
          std::string::npos);
    CHECK(j.find("\"status\":\"operational\",\"reset_count\":1,\"open_files\":null") != std::string::npos);
    CHECK(j.find("\"memory\":[{\"id\":2,\"name\":\"dram\",\"kind\":\"device\",\"total\":67108864,\"used\":4194304}]") !=
          std::string::npos);
    CHECK(j.find("{\"id\":0,\"name\":\"compute\",\"instances\":2,\"busy_ns\":1000,\"utilisation\":50.0}") != std::string::npos);
    CHECK(j.find("\"sensors\":[{\"name\":\"temp1\",\"file\":\"temp1_input\",\"label\":\"die\",\"value\":45500,"
                 "\"text\":\"45.5 \xC2\xB0" "C\"}]") != std::string::npos);
    CHECK(j.find("\"comm\":\"bad\\ufffd\"") != std::string::npos);
    CHECK(j.find("\"engines\":[{\"name\":\"compute\",\"busy_ns\":500,\"utilisation\":25.0}]") != std::string::npos);
    CHECK(j.find("\"minor\":3,") != std::string::npos);
    CHECK(j.find("\"sensors\":null,\"clients\":null") != std::string::npos);
    CHECK(j.ends_with("],\"errors\":[]}"));
}

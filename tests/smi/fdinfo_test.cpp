// SPDX-License-Identifier: MIT
// accel-smi's fdinfo parser against the text kernel drivers print in /proc/<pid>/fdinfo/<fd>
// (Documentation/gpu/drm-usage-stats.rst's example, i915/xe, amdgpu and ivpu's key sets).
#include "smi_fdinfo.hpp"

#include <doctest/doctest.h>

using namespace accel_smi;

TEST_CASE("the drm-usage-stats.rst example, with the VFS's own keys around it") {
    const char* text = "pos:\t0\n"
                       "flags:\t0100002\n"
                       "mnt_id:\t21\n"
                       "ino:\t1234\n"
                       "drm-driver:\ti915\n"
                       "drm-pdev:\t0000:00:02.0\n"
                       "drm-client-id:\t7\n"
                       "drm-engine-render:\t9288864723 ns\n"
                       "drm-engine-copy:\t2035071108 ns\n"
                       "drm-engine-video:\t0 ns\n"
                       "drm-engine-capacity-video:\t2\n"
                       "drm-engine-video-enhance:\t227567642 ns\n"
                       "drm-memory-system:\t0\n"
                       "drm-total-local0:\t1024 KiB\n"
                       "drm-resident-local0:\t3 MiB\n"
                       "drm-cycles-render:\t123456\n"
                       "drm-maxfreq-render:\t1100 MHz\n";
    const fdinfo f = parse_fdinfo(text);
    CHECK(f.driver == "i915");
    CHECK(f.pdev == "0000:00:02.0");
    REQUIRE(f.client_id.has_value());
    CHECK(*f.client_id == 7);
    CHECK(f.engine_ns.size() == 4);
    CHECK(f.engine_ns.at("render") == 9288864723ull);
    CHECK(f.engine_ns.at("copy") == 2035071108ull);
    CHECK(f.engine_ns.at("video") == 0);
    // "video-enhance" is an engine named with a dash, not a capacity key.
    CHECK(f.engine_ns.at("video-enhance") == 227567642ull);
    CHECK(f.capacity.size() == 1);
    CHECK(f.capacity.at("video") == 2);
    CHECK(f.cycles.at("render") == 123456);
    CHECK(f.maxfreq_hz.at("render") == 1100000000ull);
    CHECK(f.memory.size() == 2); // system and local0; no region "render" or "maxfreq-render"
    CHECK(f.memory.at("system").total == 0);
    CHECK(f.memory.at("local0").total == 1024 * 1024);
    CHECK(f.memory.at("local0").resident == 3ull << 20);
}

TEST_CASE("ivpu's keys (an accel driver): engine time and total/shared/resident/active of one region") {
    const char* text = "drm-driver:\tintel_vpu\n"
                       "drm-client-id:\t42\n"
                       "drm-client-name:\tmy inference\n"
                       "drm-engine-compute:\t500000000 ns\n"
                       "drm-total-memory:\t4 KiB\n"
                       "drm-shared-memory:\t0\n"
                       "drm-active-memory:\t1536\n"
                       "drm-resident-memory:\t3072 MiB\n"
                       "drm-purgeable-memory:\t8 KiB\n";
    const fdinfo f = parse_fdinfo(text);
    CHECK(f.driver == "intel_vpu");
    CHECK(f.pdev.empty());
    CHECK(f.client_id == 42u);
    CHECK(f.client_name == "my inference");
    CHECK(f.engine_ns.at("compute") == 500000000ull);
    const fdinfo_region& m = f.memory.at("memory");
    CHECK(m.total == 4096);
    CHECK(m.shared == 0);
    CHECK(m.active == 1536);
    CHECK(m.resident == 3ull << 30);
    CHECK(m.purgeable == 8192);
}

TEST_CASE("sizes: the kernel's units, bytes without a unit, nothing else") {
    CHECK(parse_fdinfo_size("4 KiB") == 4096u);
    CHECK(parse_fdinfo_size("1536") == 1536u);
    CHECK(parse_fdinfo_size("3072 MiB") == 3ull << 30);
    CHECK(parse_fdinfo_size("2 GiB") == 2ull << 30);
    CHECK(parse_fdinfo_size("  12\tKiB ") == 12u * 1024);
    CHECK_FALSE(parse_fdinfo_size("4 kB").has_value());
    CHECK_FALSE(parse_fdinfo_size("KiB").has_value());
    CHECK_FALSE(parse_fdinfo_size("").has_value());
    CHECK_FALSE(parse_fdinfo_size("-4 KiB").has_value());
    CHECK_FALSE(parse_fdinfo_size("18446744073709551615 KiB").has_value()); // overflows when scaled
    CHECK_FALSE(parse_fdinfo_size("99999999999999999999").has_value());    // overflows u64
    CHECK(parse_fdinfo_ns("5 ns") == 5u);
    CHECK_FALSE(parse_fdinfo_ns("5 us").has_value());
}

TEST_CASE("a malformed value drops its key only, lines without a colon, CRLF and unknown keys are skipped") {
    const char* text = "drm-driver: accel_x\r\n"
                       "garbage line\n"
                       "drm-client-id: seven\n"
                       "drm-engine-npu: lots ns\n"
                       "drm-engine-dma: 10 ns\n"
                       "drm-total-sram: 7 parsecs\n"
                       "drm-total-dram: 2 MiB\n"
                       "drm-engine-: 5 ns\n"
                       "drm-vendor-thing: 3\n"
                       "drm-engine-last: 99 ns"; // no final newline
    const fdinfo f = parse_fdinfo(text);
    CHECK(f.driver == "accel_x");
    CHECK_FALSE(f.client_id.has_value());
    CHECK(f.engine_ns.size() == 2);
    CHECK(f.engine_ns.at("dma") == 10);
    CHECK(f.engine_ns.at("last") == 99);
    CHECK(f.memory.count("sram") == 0);
    CHECK(f.memory.at("dram").total == 2u << 20);
}

TEST_CASE("drm-total-cycles-<engine> (xe, panthor, accel) is an engine's clock, never a memory region") {
    // xe's key set: cycles per engine class, no engine time; then accel's own (vdnn: engine time,
    // capacity, cycles and total-cycles after each engine with a clock, then the regions).
    const char* xe = "drm-driver:\txe\n"
                     "drm-client-id:\t3\n"
                     "drm-total-system:\t8 KiB\n"
                     "drm-cycles-rcs:\t28257900\n"
                     "drm-total-cycles-rcs:\t7655183225\n"
                     "drm-cycles-ccs:\t0\n"
                     "drm-total-cycles-ccs:\t7655183225\n";
    const fdinfo x = parse_fdinfo(xe);
    CHECK(x.cycles.at("rcs") == 28257900ull);
    CHECK(x.total_cycles.at("rcs") == 7655183225ull);
    CHECK(x.total_cycles.at("ccs") == 7655183225ull);
    REQUIRE(x.memory.size() == 1);
    CHECK(x.memory.at("system").total == 8192);

    const char* vdnn = "drm-driver:\tvdnn\n"
                       "drm-client-id:\t12\n"
                       "drm-client-name:\tvdnn-load\n"
                       "drm-engine-compute:\t5000 ns\n"
                       "drm-engine-capacity-compute:\t2\n"
                       "drm-cycles-compute:\t5000\n"
                       "drm-total-cycles-compute:\t987654321\n"
                       "drm-engine-dma:\t1000 ns\n"
                       "drm-cycles-dma:\t800\n"
                       "drm-total-cycles-dma:\t790123456\n"
                       "drm-total-memory:\t4 KiB\n"
                       "drm-shared-memory:\t0\n"
                       "drm-resident-memory:\t4 KiB\n"
                       "drm-total-sram:\t0\n"
                       "drm-total-dram:\t4096 KiB\n"
                       "drm-shared-dram:\t0\n";
    const fdinfo v = parse_fdinfo(vdnn);
    CHECK(v.engine_ns.size() == 2);
    CHECK(v.capacity.at("compute") == 2);
    CHECK(v.cycles.at("dma") == 800);
    CHECK(v.total_cycles.at("compute") == 987654321ull);
    CHECK(v.total_cycles.at("dma") == 790123456ull);
    CHECK(v.memory.size() == 3); // memory, sram, dram: no "cycles-compute" or "cycles-dma"
    CHECK(v.memory.count("cycles-compute") == 0);
    CHECK(v.memory.at("dram").total == 4u << 20);
}

TEST_CASE("drm-maxfreq-<engine>: Hz, KHz, MHz, kept in Hz") {
    const fdinfo f = parse_fdinfo("drm-maxfreq-a:\t5 Hz\ndrm-maxfreq-b:\t800000 KHz\ndrm-maxfreq-c:\t1100 MHz\n"
                                  "drm-maxfreq-d:\t7\ndrm-maxfreq-e:\t3 GHz\n");
    CHECK(f.maxfreq_hz.at("a") == 5);
    CHECK(f.maxfreq_hz.at("b") == 800000000ull);
    CHECK(f.maxfreq_hz.at("c") == 1100000000ull);
    CHECK(f.maxfreq_hz.at("d") == 7);
    CHECK(f.maxfreq_hz.count("e") == 0); // not a unit of the document
    CHECK(f.memory.empty());
    CHECK_FALSE(parse_fdinfo_frequency("18446744073709551615 MHz").has_value());
}

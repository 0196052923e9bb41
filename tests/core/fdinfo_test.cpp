// SPDX-License-Identifier: MIT
// fdinfo text (core/fdinfo.hpp) against the kernel's unit rule (drm_fdinfo_print_size) and
// line order (drm_show_fdinfo, drm_print_memory_stats), the driver-key filter, the opener's
// process identification (core/client_process.hpp) and CLEAR_STATS's baseline
// (core/stats_baseline.hpp). No device: pure functions.
#include <accel/core/client_process.hpp>
#include <accel/core/fdinfo.hpp>
#include <accel/core/stats_baseline.hpp>

#include <doctest/doctest.h>

#include <cstdint>

#include <fstream>
#include <string>
#include <sys/syscall.h>
#include <thread>
#include <unistd.h>

namespace {

std::string size_line(std::uint64_t sz) {
    std::string out;
    accel::fdinfo::print_size(out, "total", "memory", sz);
    return out;
}

} // namespace

TEST_CASE("fdinfo: drm_fdinfo_print_size's unit rule") {
    // The kernel's documented vectors (KERNEL.md section 3).
    CHECK(size_line(0) == "drm-total-memory:\t0\n");
    CHECK(size_line(4096) == "drm-total-memory:\t4 KiB\n");
    CHECK(size_line(1048576) == "drm-total-memory:\t1 MiB\n");
    CHECK(size_line(1536) == "drm-total-memory:\t1536\n");
    CHECK(size_line(3ull << 30) == "drm-total-memory:\t3072 MiB\n"); // no GiB unit
    // Around the edges: divided only while a multiple of 1024, at most twice.
    CHECK(size_line(1) == "drm-total-memory:\t1\n");
    CHECK(size_line(1023) == "drm-total-memory:\t1023\n");
    CHECK(size_line(1024) == "drm-total-memory:\t1 KiB\n");
    CHECK(size_line(1025) == "drm-total-memory:\t1025\n");
    CHECK(size_line(1536ull * 1024) == "drm-total-memory:\t1536 KiB\n");
    CHECK(size_line(1ull << 40) == "drm-total-memory:\t1048576 MiB\n");
    CHECK(size_line(~0ull) == "drm-total-memory:\t18446744073709551615\n");
    std::string out;
    accel::fdinfo::print_size(out, "resident", "vram0", 8192);
    CHECK(out == "drm-resident-vram0:\t8 KiB\n");
}

TEST_CASE("fdinfo: the whole text in the kernel's line order") {
    accel::fdinfo_record r;
    r.driver = "vdnn";
    r.client_id = 7;
    r.client_name = "resnet";
    r.engines = {{"compute", 1234567, 2}, {"dma", 0, 1}};
    accel::fdinfo_region host;
    host.name = "memory";
    host.total = 4096;
    host.shared = 0;
    host.resident = 4096;
    accel::fdinfo_region dram;
    dram.name = "dram";
    dram.total = 3ull << 30;
    dram.shared = 1ull << 20;
    dram.resident = 3ull << 30;
    dram.active = 1536;
    dram.show_active = true;
    r.regions = {host, dram};
    r.driver_keys = "vdnn-faults:\t3\n";
    CHECK(accel::format_fdinfo(r) == "drm-driver:\tvdnn\n"
                                     "drm-client-id:\t7\n"
                                     "drm-client-name:\tresnet\n"
                                     "drm-engine-compute:\t1234567 ns\n"
                                     "drm-engine-capacity-compute:\t2\n"
                                     "drm-engine-dma:\t0 ns\n"
                                     "drm-total-memory:\t4 KiB\n"
                                     "drm-shared-memory:\t0\n"
                                     "drm-resident-memory:\t4 KiB\n"
                                     "drm-total-dram:\t3072 MiB\n"
                                     "drm-shared-dram:\t1 MiB\n"
                                     "drm-active-dram:\t1536\n"
                                     "drm-resident-dram:\t3072 MiB\n"
                                     "vdnn-faults:\t3\n");
    // Without a client name, engines or regions: the identity lines only (drm-driver is the
    // one mandatory key).
    accel::fdinfo_record bare;
    bare.driver = "minimal";
    bare.client_id = 1;
    CHECK(accel::format_fdinfo(bare) == "drm-driver:\tminimal\ndrm-client-id:\t1\n");
    // Optional keys the kernel prints only when supported.
    accel::fdinfo_region all;
    all.name = "memory";
    all.show_active = all.show_purgeable = true;
    all.show_resident = false;
    bare.regions = {all};
    CHECK(accel::format_fdinfo(bare) == "drm-driver:\tminimal\ndrm-client-id:\t1\n"
                                        "drm-total-memory:\t0\ndrm-shared-memory:\t0\n"
                                        "drm-active-memory:\t0\ndrm-purgeable-memory:\t0\n");
}

TEST_CASE("fdinfo: every line parses as drm-usage-stats' key:value with keys free of whitespace") {
    accel::fdinfo_record r;
    r.driver = "d";
    r.client_id = 2;
    r.engines = {{"vector unit:0", 5, 1}, {"", 1, 1}};
    accel::fdinfo_region m;
    m.name = "on chip";
    r.regions = {m};
    const std::string text = accel::format_fdinfo(r);
    CHECK(text.find("drm-engine-vector_unit_0:\t5 ns\n") != std::string::npos);
    CHECK(text.find("drm-engine-_:\t1 ns\n") != std::string::npos);
    CHECK(text.find("drm-total-on_chip:\t0\n") != std::string::npos);
    std::size_t at = 0;
    while (at < text.size()) {
        const std::size_t nl = text.find('\n', at);
        REQUIRE(nl != std::string::npos);
        const std::string line = text.substr(at, nl - at);
        const std::size_t colon = line.find(':');
        REQUIRE(colon != std::string::npos);
        CHECK(line.substr(0, colon).find_first_of(" \t") == std::string::npos);
        at = nl + 1;
    }
}

TEST_CASE("fdinfo: an engine with a clock gets drm-cycles- and drm-total-cycles- after its time") {
    using accel::fdinfo::cycles_of;
    CHECK(cycles_of(0, 1'000'000'000) == 0);
    CHECK(cycles_of(1'500'000'000, 1'000'000'000) == 1'500'000'000);   // 1.5 s at 1 GHz
    CHECK(cycles_of(1'000, 800'000'000) == 800);                       // 1 us at 800 MHz
    CHECK(cycles_of(2'500'000'001, 600'000'000) == 1'500'000'000);     // the fraction rounds down
    CHECK(cycles_of(UINT64_MAX, 10'000'000'000) == UINT64_MAX);        // saturates, never wraps
    CHECK(cycles_of(UINT64_MAX / 2, 1'000'000'000) == UINT64_MAX / 2); // no overflow at 1 GHz
    accel::fdinfo_record r;
    r.driver = "vdnn";
    r.client_id = 3;
    accel::fdinfo_engine compute{"compute", 2'000, 2, 1'000'000'000, 5'000'000'000};
    accel::fdinfo_engine dma{"dma", 10, 1, 0, 5'000'000'000}; // no clock: no cycle keys
    r.engines = {compute, dma};
    CHECK(accel::format_fdinfo(r) == "drm-driver:\tvdnn\n"
                                     "drm-client-id:\t3\n"
                                     "drm-engine-compute:\t2000 ns\n"
                                     "drm-engine-capacity-compute:\t2\n"
                                     "drm-cycles-compute:\t2000\n"
                                     "drm-total-cycles-compute:\t5000000000\n"
                                     "drm-engine-dma:\t10 ns\n");
    // A driver cannot print the cycle keys itself: they are the standard's.
    CHECK(accel::fdinfo::driver_lines("vdnn", "drm-cycles-compute:\t1\n") == "");
}

TEST_CASE("fdinfo: a driver's keys must carry its name as prefix") {
    using accel::fdinfo::driver_lines;
    CHECK(driver_lines("vdnn", "vdnn-a:\t1\nvdnn-b: 2") == "vdnn-a:\t1\nvdnn-b: 2\n");
    CHECK(driver_lines("vdnn", "drm-engine-x:\t1 ns\n") == "");   // the standard's namespace
    CHECK(driver_lines("vdnn", "vdsp-a:\t1\n") == "");            // another driver's
    CHECK(driver_lines("vdnn", "vdnnx-a:\t1\n") == "");           // prefix, but no '-'
    CHECK(driver_lines("vdnn", "vdnn-:\t1\n") == "");             // empty key
    CHECK(driver_lines("vdnn", "vdnn-a b:\t1\n") == "");          // whitespace in the key
    CHECK(driver_lines("vdnn", "vdnn-a\n") == "");                // no value
    CHECK(driver_lines("vdnn", "\n\nvdnn-a:1\n\n") == "vdnn-a:1\n");
}

TEST_CASE("client_process: the thread group and its command name") {
    std::ifstream in("/proc/self/comm");
    std::string comm;
    std::getline(in, comm);
    const accel::client_process self = accel::identify_process(::getpid());
    CHECK(self.tgid == ::getpid());
    CHECK(std::string(self.comm) == comm);
    // Another thread of this process: its tid names this process.
    accel::client_process from_thread;
    pid_t tid = 0;
    std::thread([&] {
        tid = static_cast<pid_t>(::syscall(SYS_gettid));
        from_thread = accel::identify_process(tid);
    }).join();
    CHECK(tid != ::getpid());
    CHECK(from_thread.tgid == ::getpid());
    CHECK(std::string(from_thread.comm) == comm);
    // Unknown callers: pid 0 and a pid that does not exist.
    CHECK(accel::identify_process(0).tgid == 0);
    CHECK(accel::identify_process(0).comm[0] == '\0');
    CHECK(accel::identify_process(-5).tgid == 0);
    CHECK(accel::identify_process(0x3fffffff).tgid == 0); // above pid_max's limit
}

TEST_CASE("stats_baseline: cleared values count from the clear, a counter below it restarted and is reported raw") {
    accel::stats_baseline b;
    CHECK(b.resets_since(5) == 5);
    std::vector<accel_info_engine_time> now{{0, 0, 1000}, {1, 0, 50}};
    b.clear(5, now);
    CHECK(b.resets_since(5) == 0);
    CHECK(b.resets_since(7) == 2);
    CHECK(b.resets_since(3) == 3); // below the baseline: the counter restarted, reported raw
    std::vector<accel_info_engine_time> later{{0, 0, 1500}, {1, 0, 50}, {2, 0, 9}};
    b.subtract(later);
    CHECK(later[0].busy_ns == 500);
    CHECK(later[1].busy_ns == 0);
    CHECK(later[2].busy_ns == 9); // an engine unknown at the clear counts from its start
    // A driver's counter that restarted (below its baseline) is reported raw, not 0.
    std::vector<accel_info_engine_time> restarted{{0, 0, 200}, {1, 0, 49}};
    b.subtract(restarted);
    CHECK(restarted[0].busy_ns == 200);
    CHECK(restarted[1].busy_ns == 49);
}

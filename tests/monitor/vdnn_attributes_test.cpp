// SPDX-License-Identifier: MIT
// vdnn's attributes (examples/vdnn/vdnn_attributes.hpp) through the mock: the writable
// fault_log_size tunable, the MMU fault log a faulting job fills, and the engine queues.
#include "vdnn_driver_fixtures.hpp"
#include "vdnn_driver_util.hpp"

#include <accel/monitor/attribute_paths.hpp>

#include <doctest/doctest.h>

#include <string>

using namespace vdnn;
using namespace vdnn::dtest;

namespace {

std::string read_file(accel::backend::mock& m, const std::string& path) {
    const int fd = m.open(path, O_RDONLY);
    if (fd < 0)
        return "<errno " + std::to_string(fd) + ">";
    std::string out(8192, '\0');
    const long n = m.read(fd, out.data(), out.size());
    m.close(fd);
    if (n < 0)
        return "<errno " + std::to_string(n) + ">";
    out.resize(static_cast<std::size_t>(n));
    return out;
}

long write_file(accel::backend::mock& m, const std::string& path, std::string_view text) {
    const int fd = m.open(path, O_WRONLY);
    if (fd < 0)
        return fd;
    const long r = m.write(fd, text.data(), text.size());
    m.close(fd);
    return r;
}

std::size_t count_lines(const std::string& s) { return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n')); }

} // namespace

TEST_CASE("vdnn sysfs: job_timeout_ms reads the configured timeout, fault_log_size validates its input") {
    mock_device d;
    const std::string dir = std::string(d.mock.root()) + "/" + accel::sysfs_device_dir(d.reg.minor()) + "/device/";
    CHECK(read_file(d.mock, dir + "job_timeout_ms") == "300\n");
    CHECK(d.mock.open(dir + "job_timeout_ms", O_WRONLY) == -EACCES);
    CHECK(read_file(d.mock, dir + "fault_log_size") == "16\n");
    CHECK(write_file(d.mock, dir + "fault_log_size", "4\n") == 2);
    CHECK(read_file(d.mock, dir + "fault_log_size") == "4\n");
    CHECK(d.state().faults.capacity() == 4);
    for (const char* bad : {"0\n", "1025\n", "-1\n", "four\n", "\n", "4 4\n"}) {
        CHECK_MESSAGE(write_file(d.mock, dir + "fault_log_size", bad) == -EINVAL, bad);
        CHECK(read_file(d.mock, dir + "fault_log_size") == "4\n");
    }
    // kstrtoul's answers, passed through as a kernel store does: past the type's range -ERANGE,
    // and one leading '+' is a number.
    CHECK(write_file(d.mock, dir + "fault_log_size", "99999999999\n") == -ERANGE);
    CHECK(read_file(d.mock, dir + "fault_log_size") == "4\n");
    CHECK(write_file(d.mock, dir + "fault_log_size", "+8\n") == 3);
    CHECK(read_file(d.mock, dir + "fault_log_size") == "8\n");
    CHECK(write_file(d.mock, dir + "fault_log_size", "+\n") == -EINVAL);
    CHECK(write_file(d.mock, dir + "fault_log_size", "++8\n") == -EINVAL);
    CHECK(write_file(d.mock, dir + "fault_log_size", std::string(17, '1')) == -EINVAL); // past its 16-byte limit
    CHECK(write_file(d.mock, dir + "fault_log_size", "1024") == 4);
}

TEST_CASE("vdnn debugfs: mmu_faults logs a faulting job, bounded by fault_log_size") {
    mock_device d;
    const std::string sys = std::string(d.mock.root()) + "/" + accel::sysfs_device_dir(d.reg.minor()) + "/device/";
    const std::string dbg = std::string(d.mock.root()) + "/" + accel::debugfs_device_dir(d.reg.minor()) + "/";
    std::string log = read_file(d.mock, dbg + "mmu_faults");
    CHECK(log == "time_ns          engine        seqno                 va  command\ntotal 0\n");

    session s(d.mock, d.node());
    client_buffer& bo = s.bound(page, VDNN_REGION_HOST, VDNN_BIND_READ | VDNN_BIND_WRITE, 0);
    const u64 fault = s.run(VDNN_ENGINE_COMPUTE1, one(fill_cmd(bo.va + page - 8, 16, 5)), {bo.handle});
    REQUIRE(s.wait_job(fault).status == VDNN_STATUS_MMU_FAULT);
    log = read_file(d.mock, dbg + "mmu_faults");
    char va[32];
    std::snprintf(va, sizeof va, "0x%016llx", static_cast<unsigned long long>(bo.va + page));
    CHECK(log.find(va) != std::string::npos);
    CHECK(log.find("compute1") != std::string::npos);
    CHECK(log.find(" " + std::to_string(fault) + " ") != std::string::npos);
    CHECK(log.ends_with("total 1\n"));

    // A log of 2 keeps the last two of three faults; the total counts all.
    REQUIRE(write_file(d.mock, sys + "fault_log_size", "2") == 1);
    for (int i = 0; i < 2; ++i) {
        const u64 f = s.run(VDNN_ENGINE_COMPUTE0, one(fill_cmd(bo.va + page - 8, 16, 5)), {bo.handle});
        REQUIRE(s.wait_job(f).status == VDNN_STATUS_MMU_FAULT);
    }
    log = read_file(d.mock, dbg + "mmu_faults");
    CHECK(count_lines(log) == 4); // header, two entries, total
    CHECK(log.find("compute1") == std::string::npos);
    CHECK(log.ends_with("total 3\n"));
}

TEST_CASE("vdnn debugfs: engine_queues shows a hung job on its engine and a job waiting for it queued on another") {
    // A job timeout far beyond the test (not the fixture's 300 ms): on a loaded machine the
    // timeout's reset could otherwise come before the queues are read. The reset is requested,
    // and cancels what was on the engines (an innocent hung job resubmitted would hang again).
    device_config cfg = conformance_config();
    cfg.job_timeout = std::chrono::minutes(10);
    cfg.policy = accel::reset_policy::cancel;
    mock_device d(cfg);
    const std::string dbg = std::string(d.mock.root()) + "/" + accel::debugfs_device_dir(d.reg.minor()) + "/";
    auto row = [&](const std::string& table, const std::string& engine) {
        const std::size_t at = table.find("\n" + engine + " ");
        REQUIRE(at != std::string::npos);
        return table.substr(at + 1, table.find('\n', at + 1) - at - 1);
    };
    std::string q = read_file(d.mock, dbg + "engine_queues");
    CHECK(q.starts_with("engine       queued  running  pending   credits  hw_resets\n"));
    CHECK(row(q, "compute0") == "compute0          0        0        0       0/8          0");

    session s(d.mock, d.node());
    const u64 hung = s.run(VDNN_ENGINE_COMPUTE0, hang_stream());
    const u64 behind = s.run(VDNN_ENGINE_DMA, nop_stream(), {}, {hung});
    // The hung job reaches its engine; the DMA job depending on it waits in its queue.
    std::string r;
    for (int i = 0; i < 200; ++i) {
        r = row(read_file(d.mock, dbg + "engine_queues"), "compute0");
        if (r == "compute0          0        1        1       1/8          0")
            break;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    CHECK(r == "compute0          0        1        1       1/8          0");
    CHECK(row(read_file(d.mock, dbg + "engine_queues"), "dma") == "dma               1        0        0       0/8          0");
    CHECK(row(read_file(d.mock, dbg + "engine_queues"), "compute0") == "compute0          0        1        1       1/8          0");
    // A reset (sysfs reset, root's) resets the engines; the queue drains.
    const std::string sys = std::string(d.mock.root()) + "/" + accel::sysfs_device_dir(d.reg.minor()) + "/";
    REQUIRE(write_file(d.mock, sys + "reset", "1\n") == 2);
    s.wait_job(behind);
    q = read_file(d.mock, dbg + "engine_queues");
    CHECK(row(q, "compute0").starts_with("compute0          0        0"));
    CHECK(!row(q, "compute0").ends_with(" 0")); // hardware resets counted
}

// SPDX-License-Identifier: MIT
// accel-smi on kernel devices: the clients of a character device found in a /proc-like tree
// (fd symlinks, fdinfo text, comm), one per drm-client-id, engines and regions from their keys.
// The tree is built in a temporary directory with /dev/null standing in for /dev/accel/accel0.
#include "smi_kernel.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

using namespace accel_smi;
namespace fs = std::filesystem;

namespace {
struct fake_proc {
    fs::path root;
    fake_proc() {
        char tmpl[] = "/tmp/accel-smi-proc-XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        root = tmpl;
    }
    ~fake_proc() { fs::remove_all(root); }
    void fd(int pid, int fd, const char* target, const std::string& fdinfo, const char* comm) {
        const fs::path p = root / std::to_string(pid);
        fs::create_directories(p / "fd");
        fs::create_directories(p / "fdinfo");
        fs::create_symlink(target, p / "fd" / std::to_string(fd));
        std::ofstream(p / "fdinfo" / std::to_string(fd)) << fdinfo;
        std::ofstream(p / "comm") << comm << "\n";
    }
};

std::string client_text(int id, std::uint64_t npu_ns, const char* total) {
    return "pos:\t0\nflags:\t02100002\nmnt_id:\t24\nino:\t5\ndrm-driver:\tintel_vpu\ndrm-client-id:\t" + std::to_string(id) +
           "\ndrm-engine-compute:\t" + std::to_string(npu_ns) + " ns\ndrm-total-memory:\t" + total + "\n";
}
} // namespace

TEST_CASE("the clients of a device: by rdev, one per client id, with comm, engines and memory, not itself") {
    fake_proc proc;
    proc.fd(100, 4, "/dev/null", client_text(7, 1000, "8 KiB"), "infer");
    proc.fd(100, 9, "/dev/null", client_text(7, 1000, "8 KiB"), "infer"); // a dup: same client
    proc.fd(200, 3, "/dev/null", client_text(8, 5000, "2 MiB"), "train");
    proc.fd(300, 3, "/dev/zero", client_text(9, 1, "4 KiB"), "other"); // another device
    proc.fd(::getpid(), 3, "/dev/null", client_text(10, 0, "0"), "accel-smi"); // accel-smi's own open
    struct stat st {};
    REQUIRE(::stat("/dev/null", &st) == 0);

    auto found = kernel_clients_of(st.st_rdev, proc.root.string());
    REQUIRE(found.size() == 3); // 7 (once), 8, and this process's 10

    device_info d;
    collect_kernel_clients(st.st_rdev, d, proc.root.string());
    CHECK(d.source == "kernel");
    REQUIRE(d.clients.has_value());
    REQUIRE(d.clients->size() == 2);
    const client_info* infer = nullptr;
    const client_info* train = nullptr;
    for (const auto& c : *d.clients)
        (c.pid == 100 ? infer : train) = &c;
    REQUIRE(infer != nullptr);
    REQUIRE(train != nullptr);
    CHECK(infer->client_id == 7);
    CHECK(infer->comm == "infer");
    CHECK(train->pid == 200);
    CHECK(train->comm == "train");
    REQUIRE(train->engines.size() == 1);
    CHECK(train->engines[0].engine == "compute");
    CHECK(train->engines[0].busy_ns == 5000);
    REQUIRE(train->memory.size() == 1);
    CHECK(train->memory[0].region == "memory");
    CHECK(train->memory[0].total == 2u << 20);
    REQUIRE(d.engines.size() == 1);
    CHECK(d.engines[0].name == "compute");
    REQUIRE(d.memory.size() == 1);
    CHECK(d.memory[0].name == "memory");
}

TEST_CASE("a missing /proc tree gives no clients, not an error") {
    CHECK(kernel_clients_of(0, "/nonexistent-proc").empty());
}

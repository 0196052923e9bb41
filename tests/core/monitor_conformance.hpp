// SPDX-License-Identifier: MIT
// The monitor node's standard interface, written once against the client_backend interface and
// instantiated for each backend (mock: mock_conformance_test.cpp; FUSE: tests/fuse/
// conformance_test.cpp): the monitoring INFO items (CLIENTS, CLIENT_ENGINES, CLIENT_MEMORY,
// SENSORS) with their size negotiation, the -EBUSY rule while the device is not operational,
// ACCEL_IOCTL_FDINFO and ACCEL_IOCTL_CLEAR_STATS, and the isolation of monitor clients.
// Uses conformance.hpp's fixture interface and helpers.
#pragma once
#include "conformance.hpp"
#include "monitor_helpers.hpp" // fdinfo_text: FDINFO's size negotiation

#include <accel/uapi/accel_drm.h>
#include <accel/uapi/accel_monitor.h>

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

namespace accel::test {

/// The elements of a list item ({count, pad} then count elements).
template <class T>
std::vector<T> list_of(const std::vector<unsigned char>& b) {
    const std::uint32_t count = item_as<std::uint32_t>(b);
    REQUIRE(b.size() == 8 + std::size_t{count} * sizeof(T));
    std::vector<T> v(count);
    if (count)
        std::memcpy(v.data(), b.data() + 8, count * sizeof(T));
    return v;
}

template <class B>
std::uint64_t client_id_of(B& c, int fd) {
    return item_as<accel_info_identity>(info_item(c, fd, ACCEL_INFO_IDENTITY)).client_id;
}

/// The item's length after one INFO call with room for `room` bytes (0: ask for the size).
template <class B>
std::int32_t item_length(B& c, int fd, std::uint32_t id, std::size_t room = 4096) {
    std::vector<unsigned char> buf(room ? room : 1);
    std::vector<accel_info_item> items(1);
    items[0].id = id;
    items[0].length = static_cast<std::int32_t>(room);
    items[0].data = uptr(buf.data());
    REQUIRE(info(c, fd, items) == 0);
    return items[0].length;
}

/// This process's command name as /proc shows it.
inline std::string own_comm() {
    std::ifstream in("/proc/self/comm");
    std::string s;
    std::getline(in, s);
    return s;
}

inline bool has_line(const std::string& text, const std::string& line) {
    return text.find(line + "\n") != std::string::npos &&
           (text.rfind(line + "\n", 0) == 0 || text.find("\n" + line + "\n") != std::string::npos);
}

TEST_CASE_TEMPLATE_DEFINE("monitor conformance", F, monitor_conformance) {
    F fx;
    auto& c = fx.client();

    SUBCASE("CLIENTS: every open file of both nodes on the monitor node, the caller's own on compute") {
        int fd = c.open(fx.compute(0), O_RDWR);
        int mon = c.open(fx.monitor(0), O_RDWR);
        REQUIRE(fd >= 0);
        REQUIRE(mon >= 0);
        const std::string name = "trainer-7";
        accel_set_client_name n{name.size(), uptr(name.data())};
        REQUIRE(c.ioctl(fd, ACCEL_IOCTL_SET_CLIENT_NAME, &n) == 0);
        test_bo_create bo{4096, 0, 0, 0};
        REQUIRE(c.ioctl(fd, TEST_IOCTL_BO_CREATE, &bo) == 0);
        const std::uint64_t cid = client_id_of(c, fd), mid = client_id_of(c, mon);

        // Size negotiation: 0 asks, one byte short is -EINVAL, the exact size answers.
        const std::int32_t need = item_length(c, mon, ACCEL_INFO_CLIENTS, 0);
        REQUIRE(need >= static_cast<std::int32_t>(8 + 2 * sizeof(accel_info_client)));
        CHECK((need - 8) % sizeof(accel_info_client) == 0);
        CHECK(item_length(c, mon, ACCEL_INFO_CLIENTS, static_cast<std::size_t>(need - 1)) == -EINVAL);
        CHECK(item_length(c, mon, ACCEL_INFO_CLIENTS, static_cast<std::size_t>(need)) == need);

        auto clients = list_of<accel_info_client>(info_item(c, mon, ACCEL_INFO_CLIENTS));
        auto find = [&](std::uint64_t id) {
            return std::find_if(clients.begin(), clients.end(), [&](const auto& x) { return x.client_id == id; });
        };
        REQUIRE(find(cid) != clients.end());
        REQUIRE(find(mid) != clients.end());
        CHECK(find(cid) < find(mid)); // oldest first
        const accel_info_client cc = *find(cid), mc = *find(mid);
        CHECK(cc.node == ACCEL_NODE_COMPUTE);
        CHECK(mc.node == ACCEL_NODE_MONITOR);
        CHECK(cc.pid == ::getpid()); // the thread group, whichever thread opened
        CHECK(mc.pid == ::getpid());
        CHECK(cc.uid == (fx.privileged() ? 0u : static_cast<std::uint32_t>(::geteuid())));
        CHECK(std::string(cc.comm) == own_comm());
        CHECK(cc.handles == 1);
        CHECK(mc.handles == 0);
        CHECK(std::string(cc.name) == name);
        CHECK(std::string(mc.name).empty());
        // STATUS counts the same files (asked again while a file of an earlier case is still
        // leaving through FUSE: its RELEASE comes after close(2) returned).
        for (int tries = 0;; ++tries) {
            const auto st = item_as<accel_info_status>(info_item(c, mon, ACCEL_INFO_STATUS));
            const auto now = list_of<accel_info_client>(info_item(c, mon, ACCEL_INFO_CLIENTS));
            if (st.open_files == now.size() || tries == 500) {
                CHECK(st.open_files == now.size());
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }

        // The compute node lists the caller's own file only (a locked-down monitor node is not
        // bypassed through it), even with another compute client open.
        int fd2 = c.open(fx.compute(0), O_RDWR);
        REQUIRE(fd2 >= 0);
        const auto own = list_of<accel_info_client>(info_item(c, fd, ACCEL_INFO_CLIENTS));
        REQUIRE(own.size() == 1);
        CHECK(own[0].client_id == cid);
        CHECK(own[0].handles == 1);
        CHECK(std::string(own[0].name) == name);
        const auto own2 = list_of<accel_info_client>(info_item(c, fd2, ACCEL_INFO_CLIENTS));
        REQUIRE(own2.size() == 1);
        CHECK(own2[0].client_id == client_id_of(c, fd2));
        {
            // The monitor node lists the new client too (by id: through FUSE a file closed by
            // an earlier case may still be leaving, so counts could differ).
            const auto all = list_of<accel_info_client>(info_item(c, mon, ACCEL_INFO_CLIENTS));
            const std::uint64_t id2 = client_id_of(c, fd2);
            CHECK(std::any_of(all.begin(), all.end(), [&](const auto& x) { return x.client_id == id2; }));
            CHECK(std::any_of(all.begin(), all.end(), [&](const auto& x) { return x.client_id == cid; }));
        }
        CHECK(c.close(fd2) == 0);
        // A closed file leaves the list: at once on the mock; through FUSE once the server has
        // seen the RELEASE, which the kernel sends after close(2) returns (a deadline).
        CHECK(c.close(fd) == 0);
        for (int tries = 0; tries < 500; ++tries) {
            clients = list_of<accel_info_client>(info_item(c, mon, ACCEL_INFO_CLIENTS));
            if (find(cid) == clients.end())
                break;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        CHECK(find(cid) == clients.end());
        CHECK(find(mid) != clients.end());
        CHECK(c.close(mon) == 0);
    }

    SUBCASE("CLIENT_ENGINES and CLIENT_MEMORY: per client, every engine and region (compute: its own)") {
        int fd = c.open(fx.compute(0), O_RDWR);
        int mon = c.open(fx.monitor(0), O_RDWR);
        REQUIRE(fd >= 0);
        REQUIRE(mon >= 0);
        test_bo_create bo{8192, 0, 0, 0};
        REQUIRE(c.ioctl(fd, TEST_IOCTL_BO_CREATE, &bo) == 0);
        const std::uint64_t cid = client_id_of(c, fd), mid = client_id_of(c, mon);

        auto engines = list_of<accel_info_client_engine>(info_item(c, mon, ACCEL_INFO_CLIENT_ENGINES));
        for (std::uint64_t id : {cid, mid}) {
            std::vector<std::uint32_t> ids;
            for (const auto& e : engines)
                if (e.client_id == id) {
                    ids.push_back(e.engine_id);
                    CHECK(e.busy_ns == 0); // the test driver has no scheduler: no engine time
                    CHECK(e.pad == 0);
                }
            CHECK(ids == std::vector<std::uint32_t>{0, 1}); // the declared engines, in order
        }
        // The compute node answers for its own client only.
        for (const auto& e : list_of<accel_info_client_engine>(info_item(c, fd, ACCEL_INFO_CLIENT_ENGINES)))
            CHECK(e.client_id == cid);
        CHECK(list_of<accel_info_client_engine>(info_item(c, fd, ACCEL_INFO_CLIENT_ENGINES)).size() == 2);
        const auto own_mem = list_of<accel_info_client_memory>(info_item(c, fd, ACCEL_INFO_CLIENT_MEMORY));
        REQUIRE(own_mem.size() == 2);
        CHECK(own_mem[0].client_id == cid);
        CHECK(own_mem[0].total == 8192);
        CHECK(own_mem[1].client_id == cid);
        CHECK(item_length(c, mon, ACCEL_INFO_CLIENT_ENGINES, 0) ==
              static_cast<std::int32_t>(8 + engines.size() * sizeof(accel_info_client_engine)));

        auto mem = list_of<accel_info_client_memory>(info_item(c, mon, ACCEL_INFO_CLIENT_MEMORY));
        std::vector<accel_info_client_memory> mine;
        for (const auto& m : mem)
            if (m.client_id == cid)
                mine.push_back(m);
        REQUIRE(mine.size() == 2); // host memory (0), then the declared sram (1)
        CHECK(mine[0].region_id == 0);
        CHECK(mine[0].total == 8192);
        CHECK(mine[0].shared == 0);
        CHECK(mine[0].resident <= 8192);
        CHECK(mine[0].active == 0);
        CHECK(mine[0].purgeable == 0);
        CHECK(mine[1].region_id == 1);
        CHECK(mine[1].total == 0);
        for (const auto& m : mem)
            if (m.client_id == mid)
                CHECK(m.total == 0);
        if constexpr (passes_descriptors<F>()) {
            // Exported: shared from now on (drm_gem_object_is_shared_for_memory_stats).
            accel_prime_handle ph{bo.handle, ACCEL_CLOEXEC | ACCEL_RDWR, -1};
            REQUIRE(c.ioctl(fd, ACCEL_IOCTL_PRIME_HANDLE_TO_FD, &ph) == 0);
            REQUIRE(ph.fd >= 0);
            bool seen = false;
            for (const auto& m : list_of<accel_info_client_memory>(info_item(c, mon, ACCEL_INFO_CLIENT_MEMORY)))
                if (m.client_id == cid && m.region_id == 0) {
                    CHECK(m.shared == 8192);
                    seen = true;
                }
            CHECK(seen);
            CHECK(has_line(fdinfo_text(c, mon, cid), "drm-shared-memory:\t8 KiB"));
            CHECK(c.close(ph.fd) == 0);
        }
        CHECK(c.close(mon) == 0);
        CHECK(c.close(fd) == 0);
    }

    SUBCASE("SENSORS: the driver's sensors in hwmon units") {
        int mon = c.open(fx.monitor(0), O_RDWR);
        REQUIRE(mon >= 0);
        CHECK(item_length(c, mon, ACCEL_INFO_SENSORS, 0) == static_cast<std::int32_t>(8 + 2 * sizeof(accel_info_sensor)));
        CHECK(item_length(c, mon, ACCEL_INFO_SENSORS, 8 + sizeof(accel_info_sensor)) == -EINVAL);
        auto s = list_of<accel_info_sensor>(info_item(c, mon, ACCEL_INFO_SENSORS));
        REQUIRE(s.size() == 2);
        CHECK(s[0].type == ACCEL_SENSOR_TEMP);
        CHECK(s[0].index == 1);
        CHECK(s[0].value == 42000);
        CHECK(std::string(s[0].label) == "edge");
        CHECK(s[1].type == ACCEL_SENSOR_POWER);
        CHECK(s[1].value == 1500000);
        CHECK(std::string(s[1].label) == "board");
        CHECK(c.close(mon) == 0);
    }

    SUBCASE("not operational: ENGINE_BUSY and SENSORS answer -EBUSY, every other item answers") {
        int fd = c.open(fx.compute(0), O_RDWR);
        int mon = c.open(fx.monitor(0), O_RDWR);
        REQUIRE(fd >= 0);
        REQUIRE(mon >= 0);
        const std::uint64_t cid = client_id_of(c, fd);
        for (std::uint32_t state : {ACCEL_STATE_IN_RESET, ACCEL_STATE_NEEDS_RESET}) {
            CAPTURE(state);
            test_set_state s{state, 0};
            REQUIRE(c.ioctl(fd, TEST_IOCTL_SET_STATE, &s) == 0);
            // One INFO call with every item: the refused ones do not fail the others.
            const std::uint32_t ids[] = {ACCEL_INFO_IDENTITY,      ACCEL_INFO_MEMORY_REGIONS, ACCEL_INFO_ENGINES,
                                         ACCEL_INFO_CAPABILITIES,  ACCEL_INFO_STATUS,         ACCEL_INFO_MEMORY_USAGE,
                                         ACCEL_INFO_ENGINE_BUSY,   ACCEL_INFO_CLIENTS,        ACCEL_INFO_CLIENT_ENGINES,
                                         ACCEL_INFO_CLIENT_MEMORY, ACCEL_INFO_SENSORS};
            std::vector<accel_info_item> items;
            for (std::uint32_t id : ids) {
                accel_info_item it{};
                it.id = id;
                items.push_back(it);
            }
            REQUIRE(info(c, mon, items) == 0);
            for (const auto& it : items) {
                CAPTURE(it.id);
                if (it.id == ACCEL_INFO_ENGINE_BUSY || it.id == ACCEL_INFO_SENSORS)
                    CHECK(it.length == -EBUSY);
                else
                    CHECK(it.length > 0);
            }
            CHECK(item_as<accel_info_status>(info_item(c, mon, ACCEL_INFO_STATUS)).state == state);
            CHECK(list_of<accel_info_client>(info_item(c, mon, ACCEL_INFO_CLIENTS)).size() >= 2);
            CHECK(fdinfo_text(c, mon, cid).rfind("drm-driver:\ttest\n", 0) == 0); // fdinfo too
        }
        test_set_state ok{ACCEL_STATE_OPERATIONAL, 0};
        REQUIRE(c.ioctl(fd, TEST_IOCTL_SET_STATE, &ok) == 0);
        CHECK(item_length(c, mon, ACCEL_INFO_ENGINE_BUSY) > 0);
        CHECK(item_length(c, mon, ACCEL_INFO_SENSORS) > 0);
        CHECK(c.close(mon) == 0);
        CHECK(c.close(fd) == 0);
    }

    SUBCASE("while another file holds the exclusive compute node, the monitor node answers everything") {
        int x = c.open(fx.compute(1), O_RDWR);
        REQUIRE(x >= 0);
        CHECK(c.open(fx.compute(1), O_RDWR) == -EBUSY);
        test_bo_create bo{4096, 0, 0, 0};
        REQUIRE(c.ioctl(x, TEST_IOCTL_BO_CREATE, &bo) == 0);
        int mon = c.open(fx.monitor(1), O_RDWR);
        REQUIRE(mon >= 0);
        const std::uint64_t xid = client_id_of(c, x);
        for (std::uint32_t id = ACCEL_INFO_IDENTITY; id <= ACCEL_INFO_SENSORS; ++id) {
            CAPTURE(id);
            CHECK(item_length(c, mon, id) > 0);
        }
        auto clients = list_of<accel_info_client>(info_item(c, mon, ACCEL_INFO_CLIENTS));
        REQUIRE(clients.size() == 2);
        CHECK(clients[0].client_id == xid);
        CHECK(clients[0].node == ACCEL_NODE_COMPUTE);
        CHECK(clients[0].handles == 1);
        CHECK(clients[1].node == ACCEL_NODE_MONITOR);
        const std::string text = fdinfo_text(c, mon, xid);
        CHECK(text.rfind("drm-driver:\ttest_excl\ndrm-client-id:\t" + std::to_string(xid) + "\n", 0) == 0);
        CHECK(has_line(text, "drm-total-memory:\t4 KiB"));
        CHECK(has_line(text, "test_excl-noarg-calls:\t0"));
        CHECK(c.close(mon) == 0);
        CHECK(c.close(x) == 0);
    }

    SUBCASE("FDINFO: any client by id on the monitor node, its own on compute, in DRM's format") {
        int fd = c.open(fx.compute(0), O_RDWR);
        int mon = c.open(fx.monitor(0), O_RDWR);
        int other = c.open(fx.monitor(1), O_RDWR);
        REQUIRE(fd >= 0);
        REQUIRE(mon >= 0);
        REQUIRE(other >= 0);
        const std::uint64_t cid = client_id_of(c, fd);
        test_bo_create bo{3 * 4096, 0, 0, 0};
        REQUIRE(c.ioctl(fd, TEST_IOCTL_BO_CREATE, &bo) == 0);
        REQUIRE(c.ioctl(fd, TEST_IOCTL_NOARG, nullptr) == 0);
        REQUIRE(c.ioctl(fd, TEST_IOCTL_NOARG, nullptr) == 0);
        std::string text = fdinfo_text(c, mon, cid);
        const std::string head = "drm-driver:\ttest\ndrm-client-id:\t" + std::to_string(cid) + "\n";
        CHECK(text.rfind(head, 0) == 0);
        CHECK(text.find("drm-client-name") == std::string::npos); // none set
        const std::string engines = "drm-engine-compute:\t0 ns\n"
                                    "drm-engine-capacity-compute:\t4\n"
                                    "drm-engine-dma:\t0 ns\n";
        CHECK(text.substr(head.size(), engines.size()) == engines);
        const std::size_t mem_at = text.find("drm-total-memory:\t12 KiB\ndrm-shared-memory:\t0\n");
        CHECK(mem_at == head.size() + engines.size());
        CHECK(text.find("drm-total-sram:\t0\ndrm-shared-sram:\t0\ndrm-resident-sram:\t0\n") != std::string::npos);
        CHECK(text.find("drm-purgeable-") == std::string::npos);
        CHECK(text.find("drm-active-") == std::string::npos); // nothing busy
        // The driver's keys come last; keys without its prefix are dropped.
        const std::string last = "\ntest-noarg-calls:\t2\n";
        REQUIRE(text.size() > last.size());
        CHECK(text.substr(text.size() - last.size()) == last);
        CHECK(text.find("forged") == std::string::npos);
        CHECK(text.find("other-key") == std::string::npos);
        CHECK(text.back() == '\n');

        // The client name appears right after the id once set.
        const std::string name = "fdinfo-client";
        accel_set_client_name n{name.size(), uptr(name.data())};
        REQUIRE(c.ioctl(fd, ACCEL_IOCTL_SET_CLIENT_NAME, &n) == 0);
        text = fdinfo_text(c, fd, cid); // from the compute node too, for its own client
        CHECK(text.rfind(head + "drm-client-name:\t" + name + "\n", 0) == 0);
        // On the compute node any other id is -EACCES, existing or not.
        int err = 0;
        CHECK(fdinfo_text(c, fd, client_id_of(c, mon), &err).empty());
        CHECK(err == -EACCES);
        CHECK(fdinfo_text(c, fd, ~0ull, &err).empty());
        CHECK(err == -EACCES);
        // A file without objects prints no drm-resident- (the kernel's supported mask is
        // file-wide: set once an object reported RESIDENT); one with an object prints it for
        // every region, sram included where it has none (above).
        const std::string empty = fdinfo_text(c, mon, client_id_of(c, mon));
        CHECK(has_line(empty, "drm-total-memory:\t0"));
        CHECK(has_line(empty, "drm-total-sram:\t0"));
        CHECK(empty.find("drm-resident-") == std::string::npos);
        CHECK(text.find("drm-resident-memory:\t") != std::string::npos);

        // Size negotiation and errors.
        accel_fdinfo a{};
        a.client_id = cid;
        REQUIRE(c.ioctl(mon, ACCEL_IOCTL_FDINFO, &a) == 0);
        const std::uint32_t size = a.length;
        CHECK(size == text.size());
        std::string buf(size, 'x');
        a.data = uptr(buf.data());
        a.length = size - 1;
        CHECK(c.ioctl(mon, ACCEL_IOCTL_FDINFO, &a) == -EINVAL);
        CHECK(buf == std::string(size, 'x')); // nothing copied
        a.length = size;
        a.data = 0; // nothing can be written there
        CHECK(c.ioctl(mon, ACCEL_IOCTL_FDINFO, &a) == -EFAULT);
        a.data = uptr(buf.data());
        a.flags = 1;
        CHECK(c.ioctl(mon, ACCEL_IOCTL_FDINFO, &a) == -EINVAL);
        a.flags = 0;
        a.client_id = 0;
        CHECK(c.ioctl(mon, ACCEL_IOCTL_FDINFO, &a) == -ENOENT);
        a.client_id = ~0ull;
        CHECK(c.ioctl(mon, ACCEL_IOCTL_FDINFO, &a) == -ENOENT);
        a.client_id = cid; // a client of device 0, asked on device 1
        CHECK(c.ioctl(other, ACCEL_IOCTL_FDINFO, &a) == -ENOENT);
        CHECK(fdinfo_text(c, other, client_id_of(c, other)).rfind("drm-driver:\ttest_excl\n", 0) == 0);
        // A closed client is gone: at once on the mock; through FUSE once the server has seen
        // the RELEASE, which the kernel sends after close(2) returns (a deadline, not a sleep).
        CHECK(c.close(fd) == 0);
        a.client_id = cid;
        int gone = 0;
        for (int tries = 0; tries < 500; ++tries) {
            a.length = 0;
            gone = c.ioctl(mon, ACCEL_IOCTL_FDINFO, &a);
            if (gone == -ENOENT)
                break;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        CHECK(gone == -ENOENT);
        CHECK(c.close(other) == 0);
        CHECK(c.close(mon) == 0);
    }

    SUBCASE("CLEAR_STATS: root zeroes the reset count and ENGINE_BUSY; -EACCES otherwise, -EBUSY not operational") {
        int fd = c.open(fx.compute(0), O_RDWR);
        int mon = c.open(fx.monitor(0), O_RDWR);
        REQUIRE(fd >= 0);
        REQUIRE(mon >= 0);
        accel_clear_stats cs{};
        fx.as_unprivileged([&] {
            int u = c.open(fx.monitor(0), O_RDWR);
            REQUIRE(u >= 0);
            CHECK(c.ioctl(u, ACCEL_IOCTL_CLEAR_STATS, &cs) == -EACCES);
            CHECK(c.close(u) == 0);
        });
        if (fx.privileged()) {
            REQUIRE(c.ioctl(fd, TEST_IOCTL_RESET, nullptr) == 0);
            auto status = [&] { return item_as<accel_info_status>(info_item(c, mon, ACCEL_INFO_STATUS)); };
            auto busy0 = [&] { return list_of<accel_info_engine_time>(info_item(c, mon, ACCEL_INFO_ENGINE_BUSY))[0]; };
            CHECK(status().reset_count >= 1);
            CHECK(busy0().busy_ns >= 1000);
            accel_clear_stats bad{1, 0};
            CHECK(c.ioctl(mon, ACCEL_IOCTL_CLEAR_STATS, &bad) == -EINVAL);
            bad = {0, 1};
            CHECK(c.ioctl(mon, ACCEL_IOCTL_CLEAR_STATS, &bad) == -EINVAL);
            CHECK(status().reset_count >= 1); // nothing cleared by a refused call
            // Not operational: -EBUSY (ENGINE_BUSY, its baseline, answers -EBUSY then), nothing
            // cleared.
            for (std::uint32_t state : {ACCEL_STATE_IN_RESET, ACCEL_STATE_NEEDS_RESET}) {
                test_set_state s{state, 0};
                REQUIRE(c.ioctl(fd, TEST_IOCTL_SET_STATE, &s) == 0);
                CHECK(c.ioctl(mon, ACCEL_IOCTL_CLEAR_STATS, &cs) == -EBUSY);
            }
            test_set_state ok{ACCEL_STATE_OPERATIONAL, 0};
            REQUIRE(c.ioctl(fd, TEST_IOCTL_SET_STATE, &ok) == 0);
            CHECK(status().reset_count >= 1);
            CHECK(c.ioctl(mon, ACCEL_IOCTL_CLEAR_STATS, &cs) == 0);
            CHECK(status().reset_count == 0);
            CHECK(busy0().engine_id == 0);
            CHECK(busy0().busy_ns == 0);
            // The counters underneath kept going: new activity counts from the new zero.
            REQUIRE(c.ioctl(fd, TEST_IOCTL_RESET, nullptr) == 0);
            CHECK(status().reset_count == 1);
            int more = c.open(fx.compute(0), O_RDWR); // the test driver's busy time: 1000 ns per open
            REQUIRE(more >= 0);
            CHECK(busy0().busy_ns == 1000);
            CHECK(c.close(more) == 0);
            // From the compute node as well.
            CHECK(c.ioctl(fd, ACCEL_IOCTL_CLEAR_STATS, &cs) == 0);
            CHECK(status().reset_count == 0);
        }
        CHECK(c.close(mon) == 0);
        CHECK(c.close(fd) == 0);
    }

    SUBCASE("a monitor client never reaches a compute client's buffers or handles") {
        int fd = c.open(fx.compute(0), O_RDWR);
        int mon = c.open(fx.monitor(0), O_RDWR);
        int fd2 = c.open(fx.compute(0), O_RDWR);
        REQUIRE(fd >= 0);
        REQUIRE(mon >= 0);
        REQUIRE(fd2 >= 0);
        test_bo_create bo{4096, 0, 0, 0};
        REQUIRE(c.ioctl(fd, TEST_IOCTL_BO_CREATE, &bo) == 0);
        test_bo_info bi{bo.handle, 0, 0, 0, 0};
        CHECK(c.ioctl(mon, TEST_IOCTL_BO_INFO, &bi) == -EACCES); // not a monitor ioctl
        test_bo_poke poke{};
        poke.handle = bo.handle;
        CHECK(c.ioctl(mon, TEST_IOCTL_BO_POKE, &poke) == -EACCES);
        accel_gem_close gc{bo.handle, 0};
        CHECK(c.ioctl(mon, ACCEL_IOCTL_GEM_CLOSE, &gc) == -EACCES);
        accel_prime_handle ph{bo.handle, ACCEL_CLOEXEC, -1};
        CHECK(c.ioctl(mon, ACCEL_IOCTL_PRIME_HANDLE_TO_FD, &ph) == -EACCES);
        CHECK(ph.fd == -1);
        if constexpr (F::maps_objects) {
            auto m = c.mmap(mon, bo.mmap_offset, 4096, PROT_READ, MAP_SHARED);
            CHECK(!m); // the monitor file holds no handle to it
        }
        // Handles are per file: another compute client cannot name it either.
        CHECK(c.ioctl(fd2, TEST_IOCTL_BO_INFO, &bi) == -ENOENT);
        CHECK(c.ioctl(fd2, ACCEL_IOCTL_GEM_CLOSE, &gc) == -EINVAL);
        // The object is untouched: its owner still has it, with one handle.
        CHECK(c.ioctl(fd, TEST_IOCTL_BO_INFO, &bi) == 0);
        CHECK(bi.handle_count == 1);
        CHECK(c.close(fd2) == 0);
        CHECK(c.close(mon) == 0);
        CHECK(c.close(fd) == 0);
    }
}

} // namespace accel::test

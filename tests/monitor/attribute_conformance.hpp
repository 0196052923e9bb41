// SPDX-License-Identifier: MIT
// The attribute-file conformance suite: what a client sees of the sysfs-like and debugfs-like
// trees and of node permissions, written once against a fixture of path operations, so the
// mock (attributes_mock_test.cpp) and a FUSE mount give identical results and errnos.
//
// A fixture F serves one attr_test_driver device (attribute_test_driver.hpp) and provides:
//   std::string root();                         the root the tree hangs off (no trailing '/')
//   unsigned minor();                           the device's minor
//   int open(const std::string& path, int flags)          fd or -errno, as root
//   long read(int fd, void* buf, std::size_t n)           bytes or -errno
//   long pread(int fd, void* buf, std::size_t n, off_t offset)
//   long write(int fd, const void* buf, std::size_t n)
//   long long lseek(int fd, long long offset, int whence)
//   int close(int fd)
//   int stat(const std::string& path, struct stat& st)    0 or -errno (st_mode, st_uid, st_gid,
//                                                          st_size at least)
//   std::vector<std::string> list(const std::string& dir) the names in a directory, sorted,
//                                                          without "." and ".." (empty on error)
//   int open_unprivileged(const std::string& path, int flags)
//                                               opens (and closes) as uid 65534, gid 65534, no
//                                               supplementary groups: 0 or -errno
//   void set_access_policy(const accel::access_policy&)   node and attribute access from now on
//
// Instantiate with TEST_CASE_TEMPLATE_INSTANTIATE(accel::test::attribute_conformance, F).
#pragma once
#include "attribute_test_driver.hpp"

#include <accel/core/subsystem.hpp>
#include <accel/monitor/access.hpp>
#include <accel/monitor/attribute_paths.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace accel::test {

/// The whole content of a file read with `chunk`-byte reads, or "<errno N>".
template <class F>
std::string read_all(F& fx, const std::string& path, std::size_t chunk = 65536) {
    const int fd = fx.open(path, O_RDONLY);
    if (fd < 0)
        return "<errno " + std::to_string(fd) + ">";
    std::string out;
    std::vector<char> buf(chunk);
    for (;;) {
        const long n = fx.read(fd, buf.data(), buf.size());
        if (n < 0) {
            out = "<errno " + std::to_string(n) + ">";
            break;
        }
        if (n == 0)
            break;
        out.append(buf.data(), static_cast<std::size_t>(n));
    }
    fx.close(fd);
    return out;
}

/// Opens `path` for writing, writes `text` in one write, closes: the write's result (or the
/// open's error).
template <class F>
long write_once(F& fx, const std::string& path, std::string_view text) {
    const int fd = fx.open(path, O_WRONLY);
    if (fd < 0)
        return fd;
    const long r = fx.write(fd, text.data(), text.size());
    fx.close(fd);
    return r;
}

/// Whether `cond()` holds within 5 s (asked every 10 ms): a file closed through FUSE leaves the
/// device when the server sees its RELEASE, which the kernel sends after close(2) returned; the
/// host waits a short grace for it (fuse/open_files.hpp settle()), a loaded machine may need more.
template <class Cond>
bool eventually(Cond&& cond) {
    for (int tries = 0; tries < 500; ++tries) {
        if (cond())
            return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return cond();
}

inline bool contains(const std::vector<std::string>& names, std::string_view n) {
    return std::find(names.begin(), names.end(), n) != names.end();
}

TEST_CASE_TEMPLATE_DEFINE("attribute files", F, attribute_conformance) {
    F fx;
    const std::string m = std::to_string(fx.minor());
    const std::string sys = fx.root() + "/" + sysfs_device_dir(fx.minor());
    const std::string dbg = fx.root() + "/" + debugfs_device_dir(fx.minor());

    SUBCASE("sysfs framework attributes") {
        CHECK(read_all(fx, sys + "/dev") == "261:" + m + "\n");
        CHECK(read_all(fx, sys + "/uevent") == "MAJOR=261\nMINOR=" + m + "\nDEVNAME=accel/accel" + m + "\n");
        CHECK(read_all(fx, sys + "/status") == "operational\n");
        CHECK(read_all(fx, sys + "/reset_count") == "0\n");
        CHECK(read_all(fx, sys + "/driver") == "attr-test\n");
        CHECK(read_all(fx, sys + "/version") == "2.7.1\n");
        CHECK(read_all(fx, sys + "/description") == "attribute test driver\n");
        CHECK(read_all(fx, sys + "/memory/hbm/total") == "1048576\n");
        CHECK(read_all(fx, sys + "/memory/hbm/used") == "4096\n");
        const std::vector<std::string> top = fx.list(sys);
        for (const char* n : {"dev", "uevent", "status", "reset_count", "clients", "driver", "version", "description",
                              "reset", "memory", "device", "hwmon"})
            CHECK_MESSAGE(contains(top, n), n);
        CHECK(fx.list(sys + "/memory") == std::vector<std::string>{"hbm"});
        CHECK(fx.list(sys + "/memory/hbm") == std::vector<std::string>{"total", "used"});
        CHECK(contains(fx.list(fx.root() + "/sys/class/accel"), "accel" + m));
        CHECK(contains(fx.list(fx.root() + "/sys/kernel/debug/accel"), m));
    }

    SUBCASE("the clients attribute counts open files on both nodes") {
        const std::string before = read_all(fx, sys + "/clients");
        const int a = fx.open(fx.root() + "/" + node_name(node_kind::compute, fx.minor()), O_RDWR);
        const int b = fx.open(fx.root() + "/" + node_name(node_kind::monitor, fx.minor()), O_RDONLY);
        REQUIRE(a >= 0);
        REQUIRE(b >= 0);
        CHECK(std::stoul(read_all(fx, sys + "/clients")) == std::stoul(before) + 2);
        fx.close(a);
        fx.close(b);
        CHECK(eventually([&] { return read_all(fx, sys + "/clients") == before; }));
    }

    SUBCASE("hwmon: one file per sensor, hwmon names and units") {
        const std::string h = sys + "/hwmon/hwmon0";
        CHECK(read_all(fx, h + "/name") == "attr_test\n"); // '-' is not allowed in a hwmon name
        CHECK(read_all(fx, h + "/temp1_input") == "45000\n");
        CHECK(read_all(fx, h + "/temp1_label") == "die\n");
        CHECK(read_all(fx, h + "/in0_input") == "850\n");
        CHECK(read_all(fx, h + "/curr1_input") == "1200\n");
        CHECK(read_all(fx, h + "/power1_average") == "75000000\n");
        CHECK(read_all(fx, h + "/energy1_input") == "123456789\n");
        CHECK(read_all(fx, h + "/fan1_input") == "2400\n");
        CHECK(fx.list(h) == std::vector<std::string>{"curr1_input", "energy1_input", "fan1_input", "in0_input", "name",
                                                     "power1_average", "temp1_input", "temp1_label"});
        struct stat st {};
        CHECK(fx.stat(h + "/fan1_label", st) == -ENOENT);
        REQUIRE(fx.stat(h + "/temp1_input", st) == 0);
        CHECK((st.st_mode & 07777) == 0444);
    }

    SUBCASE("driver attributes live under device/") {
        CHECK(read_all(fx, sys + "/device/value") == "42\n");
        CHECK(read_all(fx, sys + "/device/nested/deep/leaf") == "leaf\n");
        CHECK(fx.list(sys + "/device") == std::vector<std::string>{"big", "failing", "limited", "nested", "show_error",
                                                                   "value", "write_only"});
        struct stat st {};
        CHECK(fx.stat(sys + "/value", st) == -ENOENT);
        CHECK(fx.open(sys + "/device/nested", O_WRONLY) == -EISDIR); // open(2) for reading makes a directory fd
        CHECK(fx.open(sys + "/device/nope", O_RDONLY) == -ENOENT);
    }

    SUBCASE("partial reads and preads return slices of one show") {
        const int fd = fx.open(sys + "/device/value", O_RDONLY);
        REQUIRE(fd >= 0);
        char c[8] = {};
        CHECK(fx.read(fd, c, 1) == 1);
        CHECK(c[0] == '4');
        CHECK(fx.read(fd, c, 1) == 1);
        CHECK(c[0] == '2');
        CHECK(fx.read(fd, c, 8) == 1);
        CHECK(c[0] == '\n');
        CHECK(fx.read(fd, c, 8) == 0);
        CHECK(fx.pread(fd, c, 8, 1) == 2);
        CHECK(std::string_view(c, 2) == "2\n");
        CHECK(fx.pread(fd, c, 8, 3) == 0);
        CHECK(fx.pread(fd, c, 8, 100) == 0);
        fx.close(fd);
    }

    SUBCASE("a show longer than a page is cut to 4095 bytes, as sysfs does") {
        const std::string big = read_all(fx, sys + "/device/big", 1000);
        REQUIRE(big.size() == 4095);
        CHECK(big.substr(0, 3) == "abc");
        const int fd = fx.open(sys + "/device/big", O_RDONLY);
        REQUIRE(fd >= 0);
        std::vector<char> buf(300);
        CHECK(fx.pread(fd, buf.data(), buf.size(), 4000) == 95);
        CHECK(buf[0] == static_cast<char>('a' + 4000 % 26));
        fx.close(fd);
    }

    SUBCASE("a show error is what read returns") {
        CHECK(read_all(fx, sys + "/device/show_error") == "<errno " + std::to_string(-EIO) + ">");
    }

    SUBCASE("stat: sysfs files are 4096 bytes with their declared modes, debugfs files 0") {
        struct stat st {};
        REQUIRE(fx.stat(sys + "/device/value", st) == 0);
        CHECK(S_ISREG(st.st_mode));
        CHECK((st.st_mode & 07777) == 0644);
        CHECK(st.st_size == 4096);
        CHECK(st.st_uid == 0);
        CHECK(st.st_gid == 0);
        REQUIRE(fx.stat(sys + "/status", st) == 0);
        CHECK((st.st_mode & 07777) == 0444);
        CHECK(st.st_size == 4096);
        REQUIRE(fx.stat(sys + "/reset", st) == 0);
        CHECK((st.st_mode & 07777) == 0200);
        REQUIRE(fx.stat(sys + "/device/write_only", st) == 0);
        CHECK((st.st_mode & 07777) == 0200);
        REQUIRE(fx.stat(sys + "/hwmon", st) == 0);
        CHECK(S_ISDIR(st.st_mode));
        REQUIRE(fx.stat(sys, st) == 0);
        CHECK(S_ISDIR(st.st_mode));
        REQUIRE(fx.stat(dbg + "/name", st) == 0);
        CHECK(S_ISREG(st.st_mode));
        CHECK((st.st_mode & 07777) == 0444);
        CHECK(st.st_size == 0);
        REQUIRE(fx.stat(dbg + "/clients", st) == 0);
        CHECK((st.st_mode & 07777) == 0400);
        CHECK(st.st_size == 0);
        CHECK(fx.stat(sys + "/no_such", st) == -ENOENT);
    }

    SUBCASE("lseek: SEEK_SET, SEEK_CUR, SEEK_END from the 4096-byte size") {
        const int fd = fx.open(sys + "/device/value", O_RDONLY);
        REQUIRE(fd >= 0);
        CHECK(fx.lseek(fd, 0, SEEK_END) == 4096);
        CHECK(fx.lseek(fd, 1, SEEK_SET) == 1);
        char c[8] = {};
        CHECK(fx.read(fd, c, 8) == 2);
        CHECK(std::string_view(c, 2) == "2\n");
        CHECK(fx.lseek(fd, -3, SEEK_CUR) == 0);
        CHECK(fx.lseek(fd, -1, SEEK_SET) == -EINVAL);
        // Past the largest offset is -EINVAL, as vfs_setpos answers, never an overflowed sum
        // (UBSan in the asan preset catches the sum); the position is left where it was.
        CHECK(fx.lseek(fd, 5, SEEK_SET) == 5);
        CHECK(fx.lseek(fd, LLONG_MAX, SEEK_END) == -EINVAL);
        CHECK(fx.lseek(fd, LLONG_MAX, SEEK_CUR) == -EINVAL);
        CHECK(fx.lseek(fd, LLONG_MIN, SEEK_CUR) == -EINVAL);
        CHECK(fx.lseek(fd, 0, SEEK_CUR) == 5);
        CHECK(fx.lseek(fd, LLONG_MAX, SEEK_SET) == LLONG_MAX);
        // rw_verify_area: a read whose end would pass LLONG_MAX is -EINVAL, not 0 (end of file).
        CHECK(fx.read(fd, c, 1) == -EINVAL);
        CHECK(fx.lseek(fd, 0, SEEK_CUR) == LLONG_MAX);
        fx.close(fd);
    }

    SUBCASE("a successful store takes every byte and the value changes") {
        CHECK(write_once(fx, sys + "/device/value", "7\n") == 2);
        CHECK(read_all(fx, sys + "/device/value") == "7\n");
        CHECK(write_once(fx, sys + "/device/value", "8") == 1);
        CHECK(read_all(fx, sys + "/device/value") == "8\n");
    }

    SUBCASE("a failed store returns its errno and changes nothing") {
        CHECK(write_once(fx, sys + "/device/value", "2000\n") == -EINVAL); // out of the driver's range
        CHECK(write_once(fx, sys + "/device/value", "x\n") == -EINVAL);
        CHECK(read_all(fx, sys + "/device/value") == "42\n");
        CHECK(write_once(fx, sys + "/device/failing", "5\n") == -EIO);
        CHECK(read_all(fx, sys + "/device/failing") == "42\n");
    }

    SUBCASE("a write longer than a page (or than the attribute's limit) is -EINVAL, store not called") {
        std::string zeros(4096, '0');
        CHECK(write_once(fx, sys + "/device/value", zeros + "1") == -EINVAL);
        CHECK(read_all(fx, sys + "/device/value") == "42\n");
        CHECK(write_once(fx, sys + "/device/value", zeros) == 4096); // exactly a page: stored (0)
        CHECK(read_all(fx, sys + "/device/value") == "0\n");
        CHECK(write_once(fx, sys + "/device/limited", "000000009") == -EINVAL); // 9 bytes, limit 8
        CHECK(write_once(fx, sys + "/device/limited", "00000009") == 8);
        CHECK(read_all(fx, sys + "/device/value") == "9\n");
    }

    SUBCASE("each write is one store, whatever the position") {
        const int fd = fx.open(sys + "/device/value", O_WRONLY);
        REQUIRE(fd >= 0);
        CHECK(fx.write(fd, "5\n", 2) == 2);
        CHECK(fx.write(fd, "6\n", 2) == 2); // at offset 2: a new store of "6\n"
        CHECK(fx.write(fd, "", 0) == 0);
        fx.close(fd);
        CHECK(read_all(fx, sys + "/device/value") == "6\n");
    }

    SUBCASE("read-only and write-only files, even for root (kernfs's open checks)") {
        CHECK(fx.open(sys + "/device/big", O_WRONLY) == -EACCES);
        CHECK(fx.open(sys + "/device/big", O_RDWR) == -EACCES);
        CHECK(fx.open(sys + "/status", O_WRONLY) == -EACCES);
        CHECK(fx.open(sys + "/device/write_only", O_RDONLY) == -EACCES);
        CHECK(fx.open(sys + "/reset", O_RDONLY) == -EACCES);
        CHECK(write_once(fx, sys + "/device/write_only", "1") == 1);
        CHECK(read_all(fx, dbg + "/counters") == "value 42\nwrite_only_stores 1\n");
        const int fd = fx.open(sys + "/device/value", O_RDONLY);
        REQUIRE(fd >= 0);
        CHECK(fx.write(fd, "1", 1) == -EBADF);
        fx.close(fd);
    }

    SUBCASE("reset: root asks for a reset, an unprivileged caller cannot open it") {
        CHECK(write_once(fx, sys + "/reset", "1\n") == 2);
        CHECK(read_all(fx, sys + "/reset_count") == "1\n");
        CHECK(read_all(fx, sys + "/status") == "operational\n");
        CHECK(write_once(fx, sys + "/reset", "2\n") == -EINVAL);
        CHECK(write_once(fx, sys + "/reset", "yes") == -EINVAL);
        CHECK(read_all(fx, sys + "/reset_count") == "1\n");
        CHECK(fx.open_unprivileged(sys + "/reset", O_WRONLY) == -EACCES);
        CHECK(read_all(fx, sys + "/reset_count") == "1\n");
    }

    SUBCASE("an unprivileged caller reads 0444 and 0644 files and writes none of them") {
        CHECK(fx.open_unprivileged(sys + "/status", O_RDONLY) == 0);
        CHECK(fx.open_unprivileged(sys + "/device/value", O_RDONLY) == 0);
        CHECK(fx.open_unprivileged(sys + "/device/value", O_WRONLY) == -EACCES);
        CHECK(fx.open_unprivileged(sys + "/device/value", O_RDWR) == -EACCES);
        CHECK(fx.open_unprivileged(sys + "/device/write_only", O_WRONLY) == -EACCES);
    }

    SUBCASE("debugfs: name, clients, driver entries") {
        CHECK(read_all(fx, dbg + "/name") == "attr-test dev=accel" + m + " unique=accel" + m + "\n");
        const std::string clients = read_all(fx, dbg + "/clients");
        CHECK(clients.starts_with("             command  tgid dev master a   uid      magic"));
        CHECK(read_all(fx, dbg + "/dir/entry") == "leaf\n");
        const std::vector<std::string> top = fx.list(dbg);
        for (const char* n : {"big", "clients", "counters", "dir", "name"})
            CHECK_MESSAGE(contains(top, n), n);
        // seq_file has no page limit: a debugfs show is not cut at 4095 bytes.
        const std::string big = read_all(fx, dbg + "/big", 1000);
        CHECK(big.size() == 5000);
        CHECK(big == read_all(fx, sys + "/device/big") + big.substr(4095));
    }

    SUBCASE("debugfs clients: more clients than a page holds, none cut") {
        const std::string compute = fx.root() + "/" + node_name(node_kind::compute, fx.minor());
        const auto lines = [](const std::string& t) { return std::count(t.begin(), t.end(), '\n'); };
        const long before = lines(read_all(fx, dbg + "/clients"));
        std::vector<int> fds;
        for (int i = 0; i < 40; ++i) {
            fds.push_back(fx.open(compute, O_RDWR));
            REQUIRE(fds.back() >= 0);
        }
        const std::string clients = read_all(fx, dbg + "/clients");
        CHECK(clients.size() > 4096);
        CHECK(lines(clients) == before + 40);
        CHECK(clients.back() == '\n');
        for (int fd : fds)
            fx.close(fd);
        CHECK(lines(read_all(fx, dbg + "/clients")) == before);
    }

    SUBCASE("debugfs is root's: the framework's files are 0400 but name, rules aside") {
        const int fd = fx.open(fx.root() + "/" + node_name(node_kind::compute, fx.minor()), O_RDWR);
        REQUIRE(fd >= 0);
        const std::vector<std::string> ids = fx.list(dbg + "/fdinfo");
        REQUIRE(!ids.empty());
        struct stat st {};
        for (const std::string& f : {std::string("clients"), "fdinfo/" + ids[0]}) {
            CAPTURE(f);
            REQUIRE(fx.stat(dbg + "/" + f, st) == 0);
            CHECK((st.st_mode & 07777) == 0400);
            CHECK(fx.open_unprivileged(dbg + "/" + f, O_RDONLY) == -EACCES);
            CHECK(read_all(fx, dbg + "/" + f).find("<errno") == std::string::npos); // root reads
        }
        REQUIRE(fx.stat(dbg + "/name", st) == 0);
        CHECK((st.st_mode & 07777) == 0444);
        CHECK(fx.open_unprivileged(dbg + "/name", O_RDONLY) == 0);
        CHECK(fx.open_unprivileged(dbg + "/counters", O_RDONLY) == 0); // the driver's declared 0444
        fx.close(fd);
        // A rule widens them (a FUSE fixture restarts its server for a new policy).
        access_policy p;
        REQUIRE(p.load_rules("PATH==\"sys/kernel/debug/accel/*/clients\", MODE=\"0444\"\n") == 0);
        fx.set_access_policy(p);
        REQUIRE(fx.stat(dbg + "/clients", st) == 0);
        CHECK((st.st_mode & 07777) == 0444);
        CHECK(fx.open_unprivileged(dbg + "/clients", O_RDONLY) == 0);
    }

    SUBCASE("debugfs fdinfo: one file per open client, gone when it closes") {
        const std::vector<std::string> before = fx.list(dbg + "/fdinfo");
        const int fd = fx.open(fx.root() + "/" + node_name(node_kind::compute, fx.minor()), O_RDWR);
        REQUIRE(fd >= 0);
        std::vector<std::string> after = fx.list(dbg + "/fdinfo");
        REQUIRE(after.size() == before.size() + 1);
        std::string id;
        for (const std::string& n : after)
            if (!contains(before, n))
                id = n;
        REQUIRE(!id.empty());
        const std::string text = read_all(fx, dbg + "/fdinfo/" + id);
        CHECK(text.find("drm-driver:\tattr-test\n") != std::string::npos);
        CHECK(text.find("drm-client-id:\t" + id + "\n") != std::string::npos);
        // The driver's show_fdinfo walks the device's files: it runs outside the file lock.
        CHECK(text.find("attr-test-device-files:\t") != std::string::npos);
        const std::string clients = read_all(fx, dbg + "/clients");
        CHECK(clients.find(" " + id + "\n") != std::string::npos);
        CHECK(clients.find("<unset>") != std::string::npos);
        fx.close(fd);
        CHECK(eventually([&] { return fx.list(dbg + "/fdinfo") == before; }));
        struct stat st {};
        CHECK(fx.stat(dbg + "/fdinfo/" + id, st) == -ENOENT);
        CHECK(fx.open(dbg + "/fdinfo/" + id, O_RDONLY) == -ENOENT);
    }

    SUBCASE("node permissions from the access policy") {
        const std::string compute = fx.root() + "/" + node_name(node_kind::compute, fx.minor());
        const std::string monitor = fx.root() + "/" + node_name(node_kind::monitor, fx.minor());
        CHECK(fx.open_unprivileged(compute, O_RDWR) == 0); // the default: 0666
        access_policy p;
        p.set_node_defaults({0, 0, 0660});
        REQUIRE(p.load_rules("KERNEL==\"accel_controlD*\", MODE=\"0644\"\n"
                             "PATH==\"sys/class/accel/*/device/value\", MODE=\"0666\"\n") == 0);
        fx.set_access_policy(p);
        struct stat st {};
        REQUIRE(fx.stat(compute, st) == 0);
        CHECK((S_ISCHR(st.st_mode) || S_ISREG(st.st_mode))); // a regular file on a FUSE mount
        CHECK((st.st_mode & 07777) == 0660);
        REQUIRE(fx.stat(monitor, st) == 0);
        CHECK((st.st_mode & 07777) == 0644);
        CHECK(fx.open_unprivileged(compute, O_RDWR) == -EACCES);
        CHECK(fx.open_unprivileged(compute, O_RDONLY) == -EACCES);
        CHECK(fx.open_unprivileged(monitor, O_RDONLY) == 0);
        CHECK(fx.open_unprivileged(monitor, O_RDWR) == -EACCES);
        const int fd = fx.open(compute, O_RDWR); // root passes
        CHECK(fd >= 0);
        fx.close(fd);
        // An attribute rule: the driver's value becomes writable by anyone.
        REQUIRE(fx.stat(sys + "/device/value", st) == 0);
        CHECK((st.st_mode & 07777) == 0666);
        CHECK(fx.open_unprivileged(sys + "/device/value", O_WRONLY) == 0);
        CHECK(fx.open_unprivileged(sys + "/device/failing", O_WRONLY) == -EACCES);
    }
}

} // namespace accel::test

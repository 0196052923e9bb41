// SPDX-License-Identifier: MIT
// The attribute trees at the API level and what only the mock can show: device state changes,
// sensors that come and go, clients closing under an open fdinfo file, unplug, path
// resolution, the compile-time checks of declarations and the mock's directory calls.
#include "mock_attribute_fixture.hpp"

#include <accel/monitor/attribute_paths.hpp>
#include <accel/monitor/attribute_tree.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

using namespace accel;
using namespace accel::test;

namespace {

std::string read_path(mock_attribute_fixture& fx, const std::string& path) {
    const int fd = fx.open(path, O_RDONLY);
    if (fd < 0)
        return "<errno " + std::to_string(fd) + ">";
    char buf[8192];
    const long n = fx.read(fd, buf, sizeof buf);
    fx.close(fd);
    return n < 0 ? "<errno " + std::to_string(n) + ">" : std::string(buf, static_cast<std::size_t>(n));
}

const attribute_entry* find_entry(const std::vector<attribute_entry>& v, std::string_view path) {
    for (const attribute_entry& e : v)
        if (e.path == path)
            return &e;
    return nullptr;
}

} // namespace

// Names and modes are checked when a declaration is compiled.
static_assert(detail::valid_attribute_name("status"));
static_assert(detail::valid_attribute_name("a/b/c"));
static_assert(!detail::valid_attribute_name(""));
static_assert(!detail::valid_attribute_name("/abs"));
static_assert(!detail::valid_attribute_name("dir/"));
static_assert(!detail::valid_attribute_name("a//b"));
static_assert(!detail::valid_attribute_name(".."));
static_assert(!detail::valid_attribute_name("a/../b"));
static_assert(!detail::valid_attribute_name("a/."));
static_assert(detail::valid_attribute_mode(0644));
static_assert(detail::valid_attribute_mode(0200));
static_assert(detail::valid_attribute_mode(0440));
static_assert(!detail::valid_attribute_mode(0646)); // others may not write
static_assert(!detail::valid_attribute_mode(0464)); // group reads more than the owner
static_assert(!detail::valid_attribute_mode(01644));
static_assert(detail::names_clash(std::array<attribute<attr_test_driver>, 2>{
                                      attribute<attr_test_driver>{"x", 0444, &attr_test_driver::leaf_show, nullptr},
                                      attribute<attr_test_driver>{"x/y", 0444, &attr_test_driver::leaf_show, nullptr}},
                                  {}));
static_assert(detail::names_clash(std::array<attribute<attr_test_driver>, 1>{attribute<attr_test_driver>{
                                      "fdinfo/x", 0444, &attr_test_driver::leaf_show, nullptr}},
                                  {"name", "clients", "fdinfo"}));
static_assert(!detail::names_clash(attr_test_driver::sysfs_attributes, {}));

TEST_CASE("list_attributes: the full tree, each directory once and before its files") {
    mock_attribute_fixture fx;
    const std::vector<attribute_entry> all = list_attributes(*fx.dev, attribute_tree::sysfs);
    for (std::size_t i = 0; i < all.size(); ++i) {
        const std::size_t slash = all[i].path.rfind('/');
        if (slash == std::string::npos)
            continue;
        const std::string parent = all[i].path.substr(0, slash);
        auto it = std::find_if(all.begin(), all.end(), [&](const attribute_entry& e) { return e.path == parent; });
        REQUIRE_MESSAGE(it != all.end(), all[i].path);
        CHECK(it->directory);
        CHECK(static_cast<std::size_t>(it - all.begin()) < i);
        CHECK(std::count_if(all.begin(), all.end(), [&](const attribute_entry& e) { return e.path == parent; }) == 1);
    }
    const attribute_entry* deep = find_entry(all, "device/nested/deep");
    REQUIRE(deep);
    CHECK(deep->directory);
    CHECK(deep->mode == 0755);
    const attribute_entry* reset = find_entry(all, "reset");
    REQUIRE(reset);
    CHECK(!reset->directory);
    CHECK(reset->mode == 0200);
    CHECK(reset->size == 4096);
    CHECK(find_entry(all, "hwmon/hwmon0/temp1_label"));
    CHECK(!find_entry(all, "hwmon/hwmon0/in0_label"));

    auto e = find_attribute(*fx.dev, attribute_tree::sysfs, "");
    REQUIRE(e);
    CHECK(e->directory);
    CHECK(find_attribute(*fx.dev, attribute_tree::sysfs, "hwmon/hwmon0")->directory);
    CHECK(find_attribute(*fx.dev, attribute_tree::sysfs, "hwmon/hwmon").error() == -ENOENT);
    CHECK(find_attribute(*fx.dev, attribute_tree::debugfs, "status").error() == -ENOENT);
    CHECK(open_attribute(*fx.dev, attribute_tree::sysfs, "hwmon", O_RDONLY).error() == -EISDIR);
    CHECK(open_attribute(*fx.dev, attribute_tree::sysfs, "nope", O_RDONLY).error() == -ENOENT);
    CHECK(open_attribute(*fx.dev, attribute_tree::sysfs, "status", O_ACCMODE).error() == -EINVAL);
    auto f = open_attribute(*fx.dev, attribute_tree::sysfs, "status", O_RDONLY);
    REQUIRE(f);
    CHECK((*f)->fops().kind == "attribute");
    CHECK((*f)->ioctl(0, 0) == -ENOTTY);
    (*f)->put();
}

TEST_CASE("status follows the device's state, memory used follows the driver") {
    mock_attribute_fixture fx;
    const std::string sys = fx.root() + "/" + sysfs_device_dir(fx.minor());
    fx.dev->status().set_state(ACCEL_STATE_IN_RESET);
    CHECK(read_path(fx, sys + "/status") == "in_reset\n");
    fx.dev->status().set_state(ACCEL_STATE_NEEDS_RESET);
    CHECK(read_path(fx, sys + "/status") == "needs_reset\n");
    fx.dev->status().set_state(ACCEL_STATE_MALFUNCTION);
    CHECK(read_path(fx, sys + "/status") == "malfunction\n");
    fx.dev->status().reset_completed();
    CHECK(read_path(fx, sys + "/status") == "operational\n");
    CHECK(read_path(fx, sys + "/reset_count") == "1\n");
    (*fx.dev)->hbm_used = 12345;
    CHECK(read_path(fx, sys + "/memory/hbm/used") == "12345\n");
}

TEST_CASE("sensor values read -EBUSY while the device is not operational, labels and name do not") {
    mock_attribute_fixture fx;
    const std::string h = fx.root() + "/" + sysfs_device_dir(fx.minor()) + "/hwmon/hwmon0/";
    fx.dev->status().set_state(ACCEL_STATE_IN_RESET);
    CHECK(read_path(fx, h + "temp1_input") == "<errno " + std::to_string(-EBUSY) + ">");
    CHECK(read_path(fx, h + "power1_average") == "<errno " + std::to_string(-EBUSY) + ">");
    CHECK(read_path(fx, h + "temp1_label") == "die\n");
    CHECK(read_path(fx, h + "name") == "attr_test\n");
    fx.dev->status().reset_completed();
    CHECK(read_path(fx, h + "temp1_input") == "45000\n");
}

TEST_CASE("a read at offset 0 shows afresh, reads further on return slices of the last show") {
    mock_attribute_fixture fx;
    const std::string temp = fx.root() + "/" + sysfs_device_dir(fx.minor()) + "/hwmon/hwmon0/temp1_input";
    const int fd = fx.open(temp, O_RDONLY);
    REQUIRE(fd >= 0);
    char buf[16];
    CHECK(fx.read(fd, buf, 2) == 2); // "45"
    (*fx.dev)->temp = 51000;
    CHECK(fx.read(fd, buf, 16) == 4); // "000\n" of the first show
    CHECK(std::string_view(buf, 4) == "000\n");
    CHECK(fx.pread(fd, buf, 16, 0) == 6);
    CHECK(std::string_view(buf, 6) == "51000\n");
    (*fx.dev)->temp = 52000;
    CHECK(fx.lseek(fd, 0, SEEK_SET) == 0);
    CHECK(fx.read(fd, buf, 16) == 6);
    CHECK(std::string_view(buf, 6) == "52000\n");
    fx.close(fd);
}

TEST_CASE("hwmon files follow the sensors the driver reports, a vanished sensor reads -ENODATA") {
    mock_attribute_fixture fx;
    const std::string sys = fx.root() + "/" + sysfs_device_dir(fx.minor());
    const int fd = fx.open(sys + "/hwmon/hwmon0/temp1_input", O_RDONLY);
    REQUIRE(fd >= 0);
    (*fx.dev)->sensors_on = false;
    char buf[16];
    CHECK(fx.read(fd, buf, sizeof buf) == -ENODATA);
    fx.close(fd);
    struct stat st {};
    CHECK(fx.stat(sys + "/hwmon", st) == -ENOENT);
    const std::vector<std::string> top = fx.list(sys);
    CHECK(!top.empty());
    CHECK(std::count(top.begin(), top.end(), "hwmon") == 0);
    (*fx.dev)->sensors_on = true;
    CHECK(fx.stat(sys + "/hwmon/hwmon0/name", st) == 0);
}

TEST_CASE("an open fdinfo file of a client that closed reads -EIO, as a removed debugfs file") {
    mock_attribute_fixture fx;
    const int node = fx.open(fx.root() + "/" + node_name(node_kind::monitor, fx.minor()), O_RDONLY);
    REQUIRE(node >= 0);
    std::uint64_t id = 0;
    fx.dev->for_each_file([&](const file_base& f) { id = f.client_id(); });
    const std::string path = fx.root() + "/" + debugfs_device_dir(fx.minor()) + "/fdinfo/" + std::to_string(id);
    const int fd = fx.open(path, O_RDONLY);
    REQUIRE(fd >= 0);
    fx.close(node);
    char buf[256];
    CHECK(fx.read(fd, buf, sizeof buf) == -EIO);
    fx.close(fd);
}

TEST_CASE("a write past the limit never reaches the store") {
    mock_attribute_fixture fx;
    const std::string path = fx.root() + "/" + sysfs_device_dir(fx.minor()) + "/device/write_only";
    const int fd = fx.open(path, O_WRONLY);
    REQUIRE(fd >= 0);
    const std::string big(4097, '1');
    CHECK(fx.write(fd, big.data(), big.size()) == -EINVAL);
    CHECK((*fx.dev)->write_only_stores == 0);
    CHECK(fx.write(fd, big.data(), 4096) == 4096);
    CHECK((*fx.dev)->write_only_stores == 1);
    CHECK(fx.mock.pwrite(fd, "1", 1, 100) == 1);
    CHECK((*fx.dev)->write_only_stores == 2);
    CHECK(fx.pread(fd, const_cast<char*>(big.data()), 1, 0) == -EBADF);
    fx.close(fd);
}

TEST_CASE("unplug: open attribute files answer -ENODEV, the trees are gone") {
    mock_attribute_fixture fx;
    const std::string sys = fx.root() + "/" + sysfs_device_dir(fx.minor());
    const int r = fx.open(sys + "/status", O_RDONLY);
    const int w = fx.open(sys + "/device/value", O_WRONLY);
    REQUIRE(r >= 0);
    REQUIRE(w >= 0);
    fx.reg.reset();
    char buf[16];
    CHECK(fx.read(r, buf, sizeof buf) == -ENODEV);
    CHECK(fx.write(w, "1", 1) == -ENODEV);
    CHECK(fx.open(sys + "/status", O_RDONLY) == -ENODEV);
    struct stat st {};
    CHECK(fx.stat(sys + "/status", st) == -ENODEV);
    CHECK(fx.list(fx.root() + "/sys/class/accel").empty());
    CHECK(list_attributes(*fx.dev, attribute_tree::sysfs).empty());
    CHECK(find_attribute(*fx.dev, attribute_tree::sysfs, "status").error() == -ENODEV);
    CHECK(open_attribute(*fx.dev, attribute_tree::sysfs, "status", O_RDONLY).error() == -ENODEV);
    fx.close(r);
    fx.close(w);
}

TEST_CASE("resolve_attribute_path and the directories above the trees") {
    mock_attribute_fixture fx;
    const unsigned m = fx.minor();
    auto s = resolve_attribute_path(fx.sub, sysfs_device_dir(m) + "/hwmon/hwmon0/temp1_input");
    REQUIRE(s);
    CHECK(s->tree == attribute_tree::sysfs);
    CHECK(s->rel == "hwmon/hwmon0/temp1_input");
    CHECK(s->device.get() == fx.dev.get());
    auto d = resolve_attribute_path(fx.sub, debugfs_device_dir(m));
    REQUIRE(d);
    CHECK(d->tree == attribute_tree::debugfs);
    CHECK(d->rel.empty());
    CHECK(resolve_attribute_path(fx.sub, "sys/class/accel/accel07").error() == -ENOENT);
    CHECK(resolve_attribute_path(fx.sub, "sys/class/accel/accel256").error() == -ENOENT);
    CHECK(resolve_attribute_path(fx.sub, "sys/class/accel/accel9").error() == -ENODEV);
    CHECK(resolve_attribute_path(fx.sub, "sys/class/accel/card0").error() == -ENOENT);
    CHECK(resolve_attribute_path(fx.sub, sysfs_device_dir(m) + "/").error() == -ENOENT);
    CHECK(resolve_attribute_path(fx.sub, "sys/class/accel").error() == -ENOENT);
    CHECK(resolve_attribute_path(fx.sub, "sys/kernel/debug/accel/x").error() == -ENOENT);
    CHECK(attribute_device_dir(attribute_tree::debugfs, 3) == "sys/kernel/debug/accel/3");
    CHECK(*attribute_ancestor_entries(fx.sub, "sys") == std::vector<std::string>{"class", "kernel"});
    CHECK(*attribute_ancestor_entries(fx.sub, "sys/kernel/debug") == std::vector<std::string>{"accel"});
    CHECK(attribute_ancestor_entries(fx.sub, "sys/devices").error() == -ENOENT);
}

TEST_CASE("mock: directories, nodes and errors of stat, list and open") {
    mock_attribute_fixture fx;
    const std::string r = fx.root();
    const std::string m = std::to_string(fx.minor());
    CHECK(fx.list(r) == std::vector<std::string>{"accel", "sys"});
    CHECK(fx.list(r + "/accel") == std::vector<std::string>{"accel" + m, "accel_controlD" + m});
    CHECK(fx.list(r + "/sys/class/accel") == std::vector<std::string>{"accel" + m});
    CHECK(fx.list(r + "/sys/kernel/debug/accel") == std::vector<std::string>{m});
    CHECK(fx.mock.list(r + "/accel/accel" + m).error() == -ENOTDIR);
    CHECK(fx.mock.list(r + "/" + sysfs_device_dir(fx.minor()) + "/status").error() == -ENOTDIR);
    CHECK(fx.mock.list(r + "/nowhere").error() == -ENOENT);
    CHECK(fx.mock.list("/elsewhere").error() == -ENOENT);
    struct stat st {};
    for (const std::string& dir : {r, r + "/accel", r + "/sys", r + "/sys/kernel/debug/accel", r + "/" + debugfs_device_dir(fx.minor())}) {
        REQUIRE_MESSAGE(fx.stat(dir, st) == 0, dir);
        CHECK(S_ISDIR(st.st_mode));
        CHECK((st.st_mode & 07777) == 0755);
    }
    REQUIRE(fx.stat(r + "/accel/accel_controlD" + m, st) == 0);
    CHECK(S_ISCHR(st.st_mode));
    CHECK((st.st_mode & 07777) == 0666);
    CHECK(st.st_rdev != 0);
    CHECK(fx.stat(r + "/accel/accel99", st) == -ENODEV);
    CHECK(fx.stat(r + "/accel/other", st) == -ENOENT);
    CHECK(fx.open(r + "/sys/class", O_RDONLY) == -EISDIR);
    CHECK(fx.open(r + "/" + sysfs_device_dir(fx.minor()), O_RDONLY) == -EISDIR);
    CHECK(fx.open(r + "/accel", O_RDONLY) == -EISDIR);
    CHECK(fx.mock.open_descriptors() == 0);
}

TEST_CASE("mock: the node check uses the caller's uid, then its gid, then the others' bits") {
    mock_attribute_fixture fx;
    const std::string node = fx.root() + "/" + node_name(node_kind::compute, fx.minor());
    access_policy p;
    p.set_node_defaults({1000, 2000, 0640});
    fx.set_access_policy(p);
    auto open_as = [&](caller_identity who, int flags) {
        backend::mock::identity as(who);
        const int fd = fx.mock.open(node, flags);
        if (fd >= 0)
            fx.mock.close(fd);
        return fd < 0 ? fd : 0;
    };
    CHECK(open_as({1000, 7, false, 1}, O_RDWR) == 0);            // owner: rw
    CHECK(open_as({1001, 7, false, 2000}, O_RDONLY) == 0);       // group: r
    CHECK(open_as({1001, 7, false, 2000}, O_RDWR) == -EACCES);   // group: not w
    CHECK(open_as({1001, 7, false, 2001}, O_RDONLY) == -EACCES); // others: nothing
    CHECK(open_as({1001, 7, true, 2001}, O_RDWR) == 0);          // privileged
    CHECK(fx.mock.access_policy().node_defaults().mode == 0640);
    CHECK(fx.mock.open_descriptors() == 0);
}

TEST_CASE("attributes read while clients open and close on other threads") {
    mock_attribute_fixture fx;
    const std::string node = fx.root() + "/" + node_name(node_kind::monitor, fx.minor());
    const std::string dbg = fx.root() + "/" + debugfs_device_dir(fx.minor());
    const int kept = fx.open(node, O_RDONLY); // always one fdinfo file to read
    REQUIRE(kept >= 0);
    std::atomic<bool> stop{false};
    std::thread churn([&] {
        backend::mock::identity root({0, 1, true, 0});
        while (!stop) {
            const int fd = fx.mock.open(node, O_RDONLY);
            if (fd >= 0)
                fx.mock.close(fd);
        }
    });
    int reads = 0;
    for (int i = 0; i < 300; ++i) {
        const std::vector<std::string> ids = fx.list(dbg + "/fdinfo");
        for (const std::string& id : ids) {
            const std::string t = read_path(fx, dbg + "/fdinfo/" + id);
            // Either the client was still there, or it went between the listing and the open.
            const bool ok = t.starts_with("drm-driver:") || t == "<errno " + std::to_string(-ENOENT) + ">" ||
                            t == "<errno " + std::to_string(-EIO) + ">";
            CHECK_MESSAGE(ok, t);
            ++reads;
        }
        CHECK(read_path(fx, dbg + "/clients").starts_with("             command"));
    }
    stop = true;
    churn.join();
    CHECK(reads >= 300);
    fx.close(kept);
    CHECK(fx.mock.open_descriptors() == 0);
}

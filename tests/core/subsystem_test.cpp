// SPDX-License-Identifier: MIT
// Mock-side behaviour of the subsystem and device lifetime: minors, nodes, registration,
// unplug with open files, driver callbacks, concepts.
#include "test_drivers.hpp"

#include <accel/accel.hpp>

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace accel;
using accel::test::test_driver;

namespace {
device<test_driver>::ref make_dev() {
    auto d = device<test_driver>::create();
    REQUIRE(d);
    return *d;
}
std::string path(const backend::mock& m, node_kind k, unsigned minor) {
    return std::string(m.root()) + "/" + node_name(k, minor);
}
} // namespace

static_assert(driver<test_driver>);
static_assert(driver<accel::test::exclusive_test_driver>);
static_assert(driver_has_open<test_driver> && driver_has_postclose<test_driver> && driver_has_probe<test_driver>);
static_assert(backend::client_backend<backend::mock>);
struct not_a_driver {};
static_assert(!driver<not_a_driver>);

TEST_CASE("node names") {
    CHECK(node_name(node_kind::compute, 0) == "accel/accel0");
    CHECK(node_name(node_kind::monitor, 12) == "accel/accel_controlD12");
    node_kind k;
    unsigned m;
    CHECK(parse_node_name("accel/accel255", k, m));
    CHECK(m == 255);
    CHECK(k == node_kind::compute);
    CHECK(parse_node_name("accel/accel_controlD3", k, m));
    CHECK(k == node_kind::monitor);
    CHECK_FALSE(parse_node_name("accel/accel256", k, m));
    CHECK_FALSE(parse_node_name("accel/accel01", k, m));
    CHECK_FALSE(parse_node_name("accel/accel", k, m));
    CHECK_FALSE(parse_node_name("accel/accelX", k, m));
    CHECK_FALSE(parse_node_name("dri/card0", k, m));
}

TEST_CASE("minors: dense from 0, lowest free first, 256 at most") {
    subsystem sub;
    std::vector<registration> regs;
    for (unsigned i = 0; i < subsystem::max_devices; ++i) {
        auto r = sub.register_device(make_dev());
        REQUIRE(r);
        CHECK(r->minor() == i);
        regs.push_back(std::move(*r));
    }
    auto extra = make_dev();
    auto full = sub.register_device(extra);
    CHECK(full.error() == -ENOSPC);
    CHECK(sub.devices().size() == 256);
    CHECK(sub.nodes().size() == 512);

    regs[7].reset();
    regs[3].reset();
    auto again = sub.register_device(make_dev());
    REQUIRE(again);
    CHECK(again->minor() == 3);
    auto again2 = sub.register_device(make_dev());
    REQUIRE(again2);
    CHECK(again2->minor() == 7);
    CHECK(sub.register_device(make_dev()).error() == -ENOSPC);
}

TEST_CASE("registration errors and probe") {
    subsystem sub;
    CHECK(sub.register_device(nullptr).error() == -EINVAL);
    auto d = make_dev();
    (*d)->fail_probe = -EIO;
    CHECK(sub.register_device(d).error() == -EIO);
    CHECK((*d)->probes == 1);
    CHECK(sub.devices().empty());
    auto ok = make_dev();
    auto r = sub.register_device(ok);
    REQUIRE(r);
    CHECK(r->minor() == 0); // the failed probe gave its minor back
    CHECK(sub.register_device(ok).error() == -EINVAL); // already registered
}

TEST_CASE("nodes are enumerable and found by name") {
    subsystem sub;
    auto r0 = sub.register_device(make_dev());
    auto r1 = sub.register_device(make_dev());
    REQUIRE(r0);
    REQUIRE(r1);
    auto nodes = sub.nodes();
    REQUIRE(nodes.size() == 4);
    CHECK(nodes[0].name == "accel/accel0");
    CHECK(nodes[1].name == "accel/accel_controlD0");
    CHECK(nodes[3].name == "accel/accel_controlD1");
    CHECK(nodes[3].kind == node_kind::monitor);
    auto found = sub.find_node("accel/accel_controlD1");
    REQUIRE(found);
    CHECK(found->device.get() == r1->device());
    CHECK(found->kind == node_kind::monitor);
    CHECK(sub.find_node("accel/accel2").error() == -ENODEV);
    CHECK(sub.find_node("accel/nope").error() == -ENOENT);
}

TEST_CASE("unplug: open files get ENODEV, close still runs postclose, the minor waits for the last close") {
    subsystem sub;
    backend::mock m(sub);
    auto d = make_dev();
    auto r = sub.register_device(d);
    REQUIRE(r);
    int fd = m.open(path(m, node_kind::compute, 0));
    REQUIRE(fd >= 0);
    CHECK((*d)->opens == 1);
    r->reset();
    CHECK((*d)->removes == 1);
    test_echo e{};
    CHECK(m.ioctl(fd, TEST_IOCTL_ECHO, &e) == -ENODEV);
    CHECK(m.ioctl(fd, 0x1234, &e) == -ENODEV); // unplugged comes before the number checks
    CHECK(m.open(path(m, node_kind::compute, 0)) == -ENODEV);
    CHECK(m.open(path(m, node_kind::monitor, 0)) == -ENODEV);
    // The unplugged device still holds minor 0: a new device gets 1.
    auto r2 = sub.register_device(make_dev());
    REQUIRE(r2);
    CHECK(r2->minor() == 1);
    CHECK(m.close(fd) == 0);
    CHECK((*d)->postcloses == 1);
    d.reset(); // last reference: minor 0 is free again
    auto r3 = sub.register_device(make_dev());
    REQUIRE(r3);
    CHECK(r3->minor() == 0);
}

TEST_CASE("driver open failure leaves no descriptor and no file") {
    subsystem sub;
    backend::mock m(sub);
    auto d = make_dev();
    auto r = sub.register_device(d);
    REQUIRE(r);
    (*d)->fail_open = -EPERM;
    CHECK(m.open(path(m, node_kind::compute, 0)) == -EPERM);
    CHECK(m.open_descriptors() == 0);
    CHECK(d->open_count() == 0);
    (*d)->fail_open = 0;
    CHECK(m.open(path(m, node_kind::compute, 0)) == 0); // fd 0 was never consumed
}

TEST_CASE("mock paths must be under the root") {
    subsystem sub;
    backend::mock m(sub, "/run/accel/");
    auto r = sub.register_device(make_dev());
    REQUIRE(r);
    CHECK(m.root() == "/run/accel");
    CHECK(m.open("/dev/accel/accel0") == -ENOENT);
    CHECK(m.open("/run/accelx/accel/accel0") == -ENOENT);
    int fd = m.open("/run/accel/accel/accel0");
    CHECK(fd == 0);
}

TEST_CASE("client name is stored per file") {
    subsystem sub;
    backend::mock m(sub);
    auto d = make_dev();
    auto r = sub.register_device(d);
    REQUIRE(r);
    int fd = m.open(path(m, node_kind::compute, 0));
    REQUIRE(fd >= 0);
    const char name[] = "worker-1";
    accel_set_client_name n{8, reinterpret_cast<std::uintptr_t>(name)};
    REQUIRE(m.ioctl(fd, ACCEL_IOCTL_SET_CLIENT_NAME, &n) == 0);
    std::vector<std::string> names;
    d->for_each_file([&](const file_base& f) { names.push_back(f.client_name()); });
    REQUIRE(names.size() == 1);
    CHECK(names[0] == "worker-1");
    n = {0, 0};
    REQUIRE(m.ioctl(fd, ACCEL_IOCTL_SET_CLIENT_NAME, &n) == 0);
    names.clear();
    d->for_each_file([&](const file_base& f) { names.push_back(f.client_name()); });
    CHECK(names[0].empty());
}

namespace {
struct throwing_driver {
    static constexpr driver_info info{1, 0, 0, "throwing", "handlers that throw"};
    struct device_data {};
    struct file_data {};
    struct arg {
        __u64 what;
    };
    static int handler(device<throwing_driver>&, file<throwing_driver>&, arg& a) {
        if (a.what == 1)
            throw std::bad_alloc();
        throw 42;
    }
    using ioctls = ioctl_table<ACCEL_IOCTL(ACCEL_IOWR(0x40, arg), &handler, ioctl_flags::none)>;
};
} // namespace

TEST_CASE("nothing a handler throws crosses the ioctl boundary") {
    subsystem sub;
    backend::mock m(sub);
    auto d = device<throwing_driver>::create();
    REQUIRE(d);
    auto r = sub.register_device(*d);
    REQUIRE(r);
    int fd = m.open(path(m, node_kind::compute, 0));
    REQUIRE(fd >= 0);
    throwing_driver::arg a{1};
    CHECK(m.ioctl(fd, ACCEL_IOWR(0x40, throwing_driver::arg), &a) == -ENOMEM);
    a.what = 2;
    CHECK(m.ioctl(fd, ACCEL_IOWR(0x40, throwing_driver::arg), &a) == -EIO);
}

TEST_CASE("descriptor table: up to 16384, then EMFILE") {
    subsystem sub;
    backend::mock m(sub);
    auto r = sub.register_device(make_dev());
    REQUIRE(r);
    const auto p = path(m, node_kind::monitor, 0);
    int last = -1;
    for (int i = 0; i < backend::mock::max_chunks * backend::mock::chunk_slots; ++i) {
        last = m.open(p);
        if (last != i)
            break;
    }
    CHECK(last == backend::mock::max_chunks * backend::mock::chunk_slots - 1);
    CHECK(m.open(p) == -EMFILE);
    CHECK(m.close(5000) == 0);
    CHECK(m.open(p) == 5000);
}

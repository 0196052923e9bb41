// SPDX-License-Identifier: MIT
// The minimal driver's own test, on the mock backend.
#include "minimal_driver.hpp"

#include <doctest/doctest.h>

#include <string>

namespace {
struct fixture {
    accel::subsystem sub;
    accel::device<minimal_driver>::ref dev = *accel::device<minimal_driver>::create();
    accel::registration reg = std::move(*sub.register_device(dev));
    accel::backend::mock client{sub};
    std::string node = std::string(client.root()) + "/accel/accel0";
};
} // namespace

TEST_CASE("minimal driver: MINIMAL_IOCTL_ADD") {
    fixture fx;
    int fd = fx.client.open(fx.node);
    REQUIRE(fd >= 0);
    minimal_add a{};
    a.a = 40;
    a.b = 2;
    REQUIRE(fx.client.ioctl(fd, MINIMAL_IOCTL_ADD, &a) == 0);
    CHECK(a.sum == 42);
    CHECK(a.calls == 1);
    REQUIRE(fx.client.ioctl(fd, MINIMAL_IOCTL_ADD, &a) == 0);
    CHECK(a.calls == 2);

    SUBCASE("unknown flags and pad are refused") {
        a.flags = 1;
        CHECK(fx.client.ioctl(fd, MINIMAL_IOCTL_ADD, &a) == -EINVAL);
        a.flags = 0;
        a.pad = 1;
        CHECK(fx.client.ioctl(fd, MINIMAL_IOCTL_ADD, &a) == -EINVAL);
    }
    SUBCASE("overflow is refused, not wrapped") {
        a.a = ~0ull;
        a.b = 1;
        a.sum = 7;
        CHECK(fx.client.ioctl(fd, MINIMAL_IOCTL_ADD, &a) == -EOVERFLOW);
        CHECK(a.sum == 7);
    }
    SUBCASE("counts are per file and per device") {
        int fd2 = fx.client.open(fx.node);
        REQUIRE(fd2 >= 0);
        REQUIRE(fx.client.ioctl(fd2, MINIMAL_IOCTL_ADD, &a) == 0);
        CHECK(a.calls == 1);
        CHECK(fx.dev->data().adds == 3);
        fx.client.close(fd2);
    }
    CHECK(fx.client.close(fd) == 0);
}

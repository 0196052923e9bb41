// SPDX-License-Identifier: MIT
// The attribute conformance fixture for the mock backend: one attr_test_driver device in an
// in-process subsystem, reached through backend::mock's path API.
#pragma once
#include "attribute_test_driver.hpp"

#include <accel/backend/mock.hpp>

#include <doctest/doctest.h>

#include <string>
#include <sys/stat.h>
#include <vector>

namespace accel::test {

struct mock_attribute_fixture {
    subsystem sub;
    registration reg;
    device<attr_test_driver>::ref dev;
    backend::mock mock{sub, "/mnt/accel"};
    // The default caller acts as root whatever the test runs as.
    backend::mock::identity root_scope{{0, 1, true, 0}};

    mock_attribute_fixture() {
        auto d = device<attr_test_driver>::create();
        REQUIRE(d);
        dev = *d;
        auto r = sub.register_device(*d);
        REQUIRE(r);
        reg = std::move(*r);
    }
    // Destroyed in reverse: the mock closes its descriptors before the device is unregistered.

    std::string root() const { return std::string(mock.root()); }
    unsigned minor() const { return reg.minor(); }
    int open(const std::string& p, int flags) { return mock.open(p, flags); }
    long read(int fd, void* buf, std::size_t n) { return mock.read(fd, buf, n); }
    long pread(int fd, void* buf, std::size_t n, off_t off) { return mock.pread(fd, buf, n, off); }
    long write(int fd, const void* buf, std::size_t n) { return mock.write(fd, buf, n); }
    long long lseek(int fd, long long off, int whence) { return mock.lseek(fd, off, whence); }
    int close(int fd) { return mock.close(fd); }
    int stat(const std::string& p, struct stat& st) { return mock.stat(p, st); }
    std::vector<std::string> list(const std::string& p) {
        auto r = mock.list(p);
        return r ? *r : std::vector<std::string>{};
    }
    int open_unprivileged(const std::string& p, int flags) {
        backend::mock::identity nobody({65534, 4242, false, 65534});
        const int fd = mock.open(p, flags);
        if (fd < 0)
            return fd;
        mock.close(fd);
        return 0;
    }
    void set_access_policy(const access_policy& p) { mock.set_access_policy(p); }
};

} // namespace accel::test

// SPDX-License-Identifier: MIT
// The conformance fixture for the mock backend: two test devices in an in-process subsystem.
#pragma once
#include "test_drivers.hpp"

#include <accel/accel.hpp>

#include <doctest/doctest.h>

#include <string>
#include <unistd.h>

namespace accel::test {

struct mock_fixture {
    static constexpr bool maps_objects = true;
    static constexpr bool passes_descriptors = true;
    subsystem sub;
    registration regs[2];
    backend::mock mock{sub};

    mock_fixture() {
        auto d0 = device<test_driver>::create();
        auto d1 = device<exclusive_test_driver>::create();
        REQUIRE(d0);
        REQUIRE(d1);
        auto r0 = sub.register_device(*d0);
        auto r1 = sub.register_device(*d1);
        REQUIRE(r0);
        REQUIRE(r1);
        regs[0] = std::move(*r0);
        regs[1] = std::move(*r1);
    }
    // Members are destroyed in reverse order: the mock (closing every descriptor) goes before
    // the registrations, and those before the subsystem.

    backend::mock& client() { return mock; }
    void unplug0() { regs[0].reset(); }
    std::string compute(unsigned i) { return std::string(mock.root()) + "/" + node_name(node_kind::compute, regs[i].minor()); }
    std::string monitor(unsigned i) { return std::string(mock.root()) + "/" + node_name(node_kind::monitor, regs[i].minor()); }
    bool privileged() const { return current_privileged; }
    template <class Fn>
    void as_unprivileged(Fn&& fn) {
        backend::mock::identity as({65534, ::getpid(), false});
        fn();
    }
    // The default caller acts as root in the mock, whatever the test runs as, so the privileged
    // paths are always exercised here.
    // The caller's pid is this process's, as the FUSE server sees it (CLIENTS reports it).
    backend::mock::identity root_scope{{0, ::getpid(), true}};
    bool current_privileged = true;
};

} // namespace accel::test

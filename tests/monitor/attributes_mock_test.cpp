// SPDX-License-Identifier: MIT
// The attribute conformance suite on the mock.
#include "attribute_conformance.hpp"
#include "mock_attribute_fixture.hpp"

TYPE_TO_STRING(accel::test::mock_attribute_fixture);
TEST_CASE_TEMPLATE_INSTANTIATE(accel::test::attribute_conformance, accel::test::mock_attribute_fixture);

#include <accel/uapi/accel_info.h>
#include <accel/uapi/accel_monitor.h>

namespace accel::test {

TEST_CASE("mock attributes: reset is root's whatever a DRIVER-only rule makes of its mode") {
    mock_attribute_fixture fx;
    const std::string sys = fx.root() + "/" + sysfs_device_dir(fx.minor());
    access_policy p;
    // The rule a deployment might write to give the driver's nodes to a group: without KERNEL
    // it reaches every attribute file too, reset included (0660, group 4242).
    REQUIRE(p.load_rules("DRIVER==\"attr-test\", GROUP=\"4242\", MODE=\"0660\"\n") == 0);
    fx.set_access_policy(p);
    struct stat st {};
    REQUIRE(fx.stat(sys + "/reset", st) == 0);
    CHECK((st.st_mode & 07777) == 0660);
    CHECK(st.st_gid == 4242);
    const std::uint64_t before = (*fx.dev)->resetter.requests;
    {
        backend::mock::identity member({65534, 4242, false, 4242});
        const int fd = fx.mock.open(sys + "/reset", O_WRONLY);
        REQUIRE(fd >= 0); // the mode lets the group open it
        CHECK(fx.mock.write(fd, "1\n", 2) == -EACCES); // but the store is root's
        CHECK(fx.mock.write(fd, "", 0) == 0);
        fx.mock.close(fd);
        // The group's other files follow the rule as before.
        const int v = fx.mock.open(sys + "/device/value", O_WRONLY);
        REQUIRE(v >= 0);
        CHECK(fx.mock.write(v, "7\n", 2) == 2);
        fx.mock.close(v);
    }
    CHECK((*fx.dev)->resetter.requests == before);
    // The opener counts, not the writer (the kernel checks file->f_cred): a file root opened
    // resets even when written under another identity; one a member opened never does.
    const int root_fd = fx.mock.open(sys + "/reset", O_WRONLY);
    REQUIRE(root_fd >= 0);
    int member_fd = -1;
    {
        backend::mock::identity member({65534, 4242, false, 4242});
        member_fd = fx.mock.open(sys + "/reset", O_WRONLY);
        REQUIRE(member_fd >= 0);
        CHECK(fx.mock.write(root_fd, "1\n", 2) == 2);
    }
    CHECK((*fx.dev)->resetter.requests == before + 1);
    CHECK(fx.mock.write(member_fd, "1\n", 2) == -EACCES);
    CHECK((*fx.dev)->resetter.requests == before + 1);
    fx.mock.close(member_fd);
    fx.mock.close(root_fd);
}

TEST_CASE("mock attributes: open_attribute keeps the opener for the root-only store") {
    mock_attribute_fixture fx;
    for (bool privileged : {false, true}) {
        CAPTURE(privileged);
        auto f = open_attribute(*fx.dev, attribute_tree::sysfs, "reset", O_WRONLY,
                                caller_identity{privileged ? 0u : 65534u, 1, privileged, 0});
        REQUIRE(f);
        const char one[] = "1";
        std::uint64_t pos = 0;
        call_context ctx{nullptr, caller_identity{}};
        call_scope scope(ctx);
        // No caller memory is reachable here: an admitted store gets as far as copying (-EFAULT);
        // a refused one stops before.
        CHECK((*f)->write(reinterpret_cast<std::uintptr_t>(one), 1, pos) == (privileged ? -EFAULT : -EACCES));
        (*f)->put();
    }
}

TEST_CASE("mock attributes: fdinfo runs the driver's show_fdinfo outside the device's file lock") {
    mock_attribute_fixture fx;
    const int fd = fx.open(fx.root() + "/" + node_name(node_kind::compute, fx.minor()), O_RDWR);
    const int mon = fx.open(fx.root() + "/" + node_name(node_kind::monitor, fx.minor()), O_RDWR);
    REQUIRE(fd >= 0);
    REQUIRE(mon >= 0);
    accel_info_identity id{};
    accel_info_item item{ACCEL_INFO_IDENTITY, sizeof id, 0, 0, reinterpret_cast<std::uintptr_t>(&id)};
    accel_info q{1, 0, reinterpret_cast<std::uintptr_t>(&item)};
    REQUIRE(fx.mock.ioctl(fd, ACCEL_IOCTL_INFO, &q) == 0);
    REQUIRE(item.length == static_cast<std::int32_t>(sizeof id));
    // The driver's hook walks the files (dev.for_each_file): under the lock it would deadlock.
    std::string text(4096, '\0');
    accel_fdinfo a{};
    a.client_id = id.client_id;
    a.length = static_cast<std::uint32_t>(text.size());
    a.data = reinterpret_cast<std::uintptr_t>(text.data());
    REQUIRE(fx.mock.ioctl(mon, ACCEL_IOCTL_FDINFO, &a) == 0);
    text.resize(a.length);
    CHECK(text.find("attr-test-device-files:\t2\n") != std::string::npos);
    const std::string dbg = fx.root() + "/" + debugfs_device_dir(fx.minor());
    CHECK(read_all(fx, dbg + "/fdinfo/" + std::to_string(id.client_id)).find("attr-test-device-files:\t2\n") !=
          std::string::npos);
    fx.close(mon);
    fx.close(fd);
}

} // namespace accel::test

// SPDX-License-Identifier: MIT
// A consumer of the installed accel package: a tiny driver with one ioctl, registered with a
// subsystem, opened and called through the mock backend. Exits non-zero on any failure.
#include <accel/accel.hpp>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

struct pkg_echo {
    __u64 in;
    __u64 out;
};
#define PKG_IOCTL_ECHO ACCEL_IOWR(ACCEL_COMMAND_BASE + 0x00, struct pkg_echo)

struct pkg_driver {
    static constexpr accel::driver_info info{0, 1, 2, "pkgtest", "accel package consumer test"};
    struct device_data {};
    struct file_data {
        std::uint64_t calls = 0;
    };
    static int echo(accel::device<pkg_driver>&, accel::file<pkg_driver>& file, pkg_echo& arg) {
        arg.out = arg.in + ++file->calls;
        return 0;
    }
    using ioctls = accel::ioctl_table<ACCEL_IOCTL(PKG_IOCTL_ECHO, &echo, accel::ioctl_flags::none)>;
};
static_assert(accel::driver<pkg_driver>);

namespace {
int failures = 0;
void check(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "FAILED: %s\n", what);
        ++failures;
    }
}
} // namespace

int main() {
    accel::subsystem subsystem;
    auto dev = accel::device<pkg_driver>::create();
    if (!dev) {
        std::fprintf(stderr, "device create: %s\n", std::strerror(-dev.error()));
        return 1;
    }
    auto reg = subsystem.register_device(*dev);
    if (!reg) {
        std::fprintf(stderr, "register: %s\n", std::strerror(-reg.error()));
        return 1;
    }
    accel::backend::mock client(subsystem);
    const std::string node =
        std::string(client.root()) + "/" + accel::node_name(accel::node_kind::compute, reg->minor());
    const int fd = client.open(node, O_RDWR);
    if (fd < 0) {
        std::fprintf(stderr, "open %s: %s\n", node.c_str(), std::strerror(-fd));
        return 1;
    }

    char name[16] = {};
    accel_version v{};
    v.name = reinterpret_cast<std::uintptr_t>(name);
    v.name_len = sizeof name - 1;
    check(client.ioctl(fd, ACCEL_IOCTL_VERSION, &v) == 0, "VERSION succeeds");
    check(v.version_major == 0 && v.version_minor == 1 && v.version_patchlevel == 2, "VERSION numbers");
    check(v.name_len == 7 && std::strcmp(name, "pkgtest") == 0, "VERSION name");

    pkg_echo e{};
    e.in = 41;
    check(client.ioctl(fd, PKG_IOCTL_ECHO, &e) == 0 && e.out == 42, "driver ioctl");
    check(client.close(fd) == 0, "close");

    std::printf("accel package consumer: %s %d.%d.%d on %s, %d failure(s)\n", name, v.version_major,
                v.version_minor, v.version_patchlevel, node.c_str(), failures);
    return failures == 0 ? 0 : 1;
}

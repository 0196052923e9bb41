// SPDX-License-Identifier: MIT
// The minimal driver end to end on the mock backend: register a device, open its node, ask
// VERSION and INFO, use the driver ioctl, see the errno of a bad call, close, unregister.
#include "minimal_driver.hpp"

#include <cstdio>
#include <cstring>
#include <string>

template <accel::backend::client_backend B>
int run(B& client, const std::string& node) {
    int fd = client.open(node, O_RDWR);
    if (fd < 0) {
        std::printf("open %s: %s\n", node.c_str(), std::strerror(-fd));
        return 1;
    }
    char name[32] = {};
    accel_version v{};
    v.name = reinterpret_cast<std::uintptr_t>(name);
    v.name_len = sizeof name - 1;
    if (int e = client.ioctl(fd, ACCEL_IOCTL_VERSION, &v); e < 0)
        return std::printf("VERSION: %s\n", std::strerror(-e)), 1;
    std::printf("%s: driver %s %d.%d.%d\n", node.c_str(), name, v.version_major, v.version_minor, v.version_patchlevel);

    minimal_add add{};
    add.a = 40;
    add.b = 2;
    if (int e = client.ioctl(fd, MINIMAL_IOCTL_ADD, &add); e < 0)
        return std::printf("ADD: %s\n", std::strerror(-e)), 1;
    std::printf("MINIMAL_IOCTL_ADD 40 + 2 = %llu (call %llu on this file)\n", static_cast<unsigned long long>(add.sum),
                static_cast<unsigned long long>(add.calls));

    add.flags = 1;
    std::printf("MINIMAL_IOCTL_ADD with unknown flags: %s\n", std::strerror(-client.ioctl(fd, MINIMAL_IOCTL_ADD, &add)));
    std::printf("unknown driver ioctl: %s\n",
                std::strerror(-client.ioctl(fd, ACCEL_IOWR(0x5f, struct minimal_add), &add)));
    client.close(fd);
    return add.sum == 42 ? 0 : 1;
}

int main() {
    accel::subsystem subsystem;
    auto dev = accel::device<minimal_driver>::create();
    if (!dev)
        return 1;
    auto reg = subsystem.register_device(*dev);
    if (!reg) {
        std::printf("register: %s\n", std::strerror(-reg.error()));
        return 1;
    }
    accel::backend::mock client(subsystem);
    std::string node = std::string(client.root()) + "/" + accel::node_name(accel::node_kind::compute, reg->minor());
    return run(client, node);
}

// SPDX-License-Identifier: MIT
// Monitor-node helpers for the tests of any driver on either backend: the monitor node next to a
// compute node, and ACCEL_IOCTL_FDINFO's size negotiation (accel_monitor.h). Header-only, in
// accel::test; driver tests outside tests/core include it by its relative path.
#pragma once
#include <accel/uapi/accel_monitor.h>

#include <doctest/doctest.h>

#include <cerrno>
#include <cstdint>
#include <string>

namespace accel::test {

/// The monitor node of the device whose compute node is `compute` (".../accel/accelN" ->
/// ".../accel/accel_controlDN"), on the mock's paths and on a mount alike.
inline std::string monitor_path_of(const std::string& compute) {
    const std::size_t at = compute.rfind("/accel");
    REQUIRE(at != std::string::npos);
    return compute.substr(0, at) + "/accel_controlD" + compute.substr(at + 6);
}

/// The fdinfo text of `client` through monitor (or compute) node `fd` of client `c` (anything
/// with ioctl(fd, request, arg)): ACCEL_IOCTL_FDINFO with length 0 for the size, then with
/// that room for the text. The text may grow between the two calls (engine time gains a digit):
/// -EINVAL then, and the size is asked again. With `err`, a failure of the first call returns ""
/// with its errno in *err (0 on success); without, it fails the test, as any other failure does.
template <class B>
std::string fdinfo_text(B& c, int fd, std::uint64_t client, int* err = nullptr) {
    for (int attempt = 0; attempt < 8; ++attempt) {
        accel_fdinfo a{};
        a.client_id = client;
        int r = c.ioctl(fd, ACCEL_IOCTL_FDINFO, &a);
        if (err)
            *err = r;
        else
            REQUIRE(r == 0); // a caller without err expects the text
        if (r != 0)
            return {};
        std::string text(a.length, '\0');
        a.data = reinterpret_cast<std::uintptr_t>(text.data());
        r = c.ioctl(fd, ACCEL_IOCTL_FDINFO, &a);
        if (r == -EINVAL)
            continue; // grown meanwhile
        REQUIRE(r == 0);
        REQUIRE(a.length <= text.size());
        text.resize(a.length);
        return text;
    }
    FAIL("ACCEL_IOCTL_FDINFO: the text grew at each of 8 tries");
    return {};
}

} // namespace accel::test

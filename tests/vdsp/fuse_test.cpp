// SPDX-License-Identifier: MIT
// The vdsp uAPI suite through real system calls: accel-serve serves a vdsp device on a fresh
// FUSE mount per test, its firmware found through --firmware-path (the build's generated
// firmware directory, or a temporary one for the recovery test). Exits 77 (SKIPPED for CTest)
// where FUSE cannot be mounted.
#define DOCTEST_CONFIG_IMPLEMENT
#include "vdsp_conformance.hpp"
#include "vdsp_fixtures.hpp"

#include <accel/fuse/host.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string_view>
#include <unistd.h>

TYPE_TO_STRING_AS("fuse", vdsp::test::fuse_vdsp_fixture);

namespace vdsp::test {
using fixtures = std::tuple<fuse_vdsp_fixture>;
TEST_CASE_TEMPLATE_APPLY(vdsp_get_param_t, fixtures);
TEST_CASE_TEMPLATE_APPLY(vdsp_bo_t, fixtures);
TEST_CASE_TEMPLATE_APPLY(vdsp_monitor_t, fixtures);
TEST_CASE_TEMPLATE_APPLY(vdsp_submit_errors_t, fixtures);
TEST_CASE_TEMPLATE_APPLY(vdsp_wait_t, fixtures);
TEST_CASE_TEMPLATE_APPLY(vdsp_fir_t, fixtures);
TEST_CASE_TEMPLATE_APPLY(vdsp_fft_t, fixtures);
TEST_CASE_TEMPLATE_APPLY(vdsp_recovery_t, fixtures);

TEST_CASE("accel-serve's defaults: minimal, vdnn and vdsp, which finds the build's firmware next to the executable") {
    fuse_vdsp_fixture fx(fw::server_default);
    auto& c = fx.client();
    const char* names[] = {"minimal", "vdnn", "vdsp"};
    for (int minor = 0; minor < 3; ++minor) {
        const std::string node = fx.mnt + "/accel/accel" + std::to_string(minor);
        const int fd = c.open(node.c_str(), O_RDWR);
        REQUIRE(fd >= 0);
        char name[32] = {};
        accel_version v{};
        v.name_len = sizeof name - 1;
        v.name = uptr(name);
        CHECK(c.ioctl(fd, ACCEL_IOCTL_VERSION, &v) == 0);
        CHECK(std::string(name) == names[minor]);
        c.close(fd);
    }
    session<fuse_vdsp_fixture> s(fx);
    std::uint64_t v = 1;
    CHECK(s.c.param(VDSP_PARAM_FW_STATUS, v) == 0);
    CHECK(v == 0);
    CHECK(status_of(c, s.fd).state == ACCEL_STATE_OPERATIONAL);
    vdsp_submit nop{};
    CHECK(s.run(s.c.submit(nop)) == 0);
}
} // namespace vdsp::test

namespace {

int probe_fuse() {
    char tmpl[] = "/tmp/vdsp-fuse-probe-XXXXXX";
    if (!::mkdtemp(tmpl))
        return -errno;
    int e;
    {
        accel::subsystem sub;
        accel::fuse::host h(sub, tmpl);
        e = h.mount();
    }
    ::rmdir(tmpl);
    return e;
}

bool doctest_query(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        if (a.starts_with("--list") || a.starts_with("-l") || a == "-h" || a == "--help" || a == "-v" || a == "--version")
            return true;
    }
    return false;
}

} // namespace

int main(int argc, char** argv) {
    if (!doctest_query(argc, argv)) {
        const int e = probe_fuse();
        if (e == -ENOENT || e == -ENODEV || e == -EACCES || e == -EPERM) {
            std::printf("FUSE unavailable here (%s): skipping the vdsp FUSE tests\n", std::strerror(-e));
            return 77;
        }
        if (e)
            std::printf("warning: FUSE probe mount failed (%s); running the tests anyway\n", std::strerror(-e));
    }
    doctest::Context ctx(argc, argv);
    return ctx.run();
}

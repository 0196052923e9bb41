// SPDX-License-Identifier: MIT
// main() of the FUSE test programs:
//   --accel-fuse-serve <mount> <fd>   run as the test server (test_server.hpp), no doctest;
//   --list-* and other doctest queries  plain doctest (CTest's test discovery uses them);
//   otherwise                          probe FUSE first: with no usable /dev/fuse, or a mount
//                                      refused with EPERM, exit 77, which CTest reports as
//                                      SKIPPED (SKIP_RETURN_CODE), then run doctest; a
//                                      program that needs_root() (test_server.hpp) run as
//                                      another user exits 77 too.
#define DOCTEST_CONFIG_IMPLEMENT
#include "test_server.hpp"

#include <doctest/doctest.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <unistd.h>

namespace {

/// 0 when FUSE can be mounted here, else the -errno that makes the tests pointless.
int probe_fuse() {
    char tmpl[] = "/tmp/accel-fuse-probe-XXXXXX";
    if (!::mkdtemp(tmpl))
        return -errno;
    int e;
    {
        accel::subsystem sub;
        accel::fuse::host h(sub, tmpl);
        e = h.mount(); // mounted and unmounted without serving: nothing here touches the mount
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
    if (argc == 4 && std::string_view(argv[1]) == accel::test::serve_flag)
        return accel::test::serve_test_devices(argv[2], std::atoi(argv[3]));
    if (!doctest_query(argc, argv)) {
        if (accel::test::needs_root() && ::geteuid() != 0) {
            std::printf("these FUSE tests act as root and as other users: run them as root; skipping\n");
            return 77;
        }
        int e = probe_fuse();
        if (e == -ENOENT || e == -ENODEV || e == -EACCES || e == -EPERM) {
            std::printf("FUSE unavailable here (%s): skipping the FUSE tests\n", std::strerror(-e));
            return 77;
        }
        if (e)
            std::printf("warning: FUSE probe mount failed (%s); running the tests anyway\n", std::strerror(-e));
    }
    doctest::Context ctx(argc, argv);
    return ctx.run();
}

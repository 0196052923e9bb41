// SPDX-License-Identifier: MIT
// The vdnn uAPI suite through real system calls: the accel-serve program serves a vdnn device
// on a fresh FUSE mount per test (vdnn_driver_fixtures.hpp), and a smaller set of the results
// against the reference kernels. Exits 77 (SKIPPED for CTest) where FUSE cannot be mounted.
#define DOCTEST_CONFIG_IMPLEMENT
#include "vdnn_conformance.hpp"
#include "vdnn_driver_fixtures.hpp"
#include "vdnn_results.hpp"

#include <accel/fuse/host.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string_view>
#include <unistd.h>

TYPE_TO_STRING_AS("fuse", vdnn::dtest::fuse_vdnn_fixture);

namespace vdnn::dtest {
using fixtures = std::tuple<fuse_vdnn_fixture>;
TEST_CASE_TEMPLATE_APPLY(vdnn_get_param_t, fixtures);
TEST_CASE_TEMPLATE_APPLY(vdnn_bo_create_t, fixtures);
TEST_CASE_TEMPLATE_APPLY(vdnn_sram_full_t, fixtures);
TEST_CASE_TEMPLATE_APPLY(vdnn_mmap_t, fixtures);
TEST_CASE_TEMPLATE_APPLY(vdnn_vm_bind_t, fixtures);
TEST_CASE_TEMPLATE_APPLY(vdnn_vm_unbind_t, fixtures);
TEST_CASE_TEMPLATE_APPLY(vdnn_submit_fields_t, fixtures);
TEST_CASE_TEMPLATE_APPLY(vdnn_submit_streams_t, fixtures);
TEST_CASE_TEMPLATE_APPLY(vdnn_submit_syncobj_t, fixtures);
TEST_CASE_TEMPLATE_APPLY(vdnn_wait_t, fixtures);
TEST_CASE_TEMPLATE_APPLY(vdnn_wait_min_t, fixtures);
TEST_CASE_TEMPLATE_APPLY(vdnn_wait_bo_t, fixtures);
TEST_CASE_TEMPLATE_APPLY(vdnn_info_t, fixtures);
TEST_CASE_TEMPLATE_APPLY(vdnn_monitor_t, fixtures);
TEST_CASE_TEMPLATE_APPLY(vdnn_coherency_t, fixtures);
TEST_CASE_TEMPLATE_APPLY(vdnn_faults_t, fixtures);
TEST_CASE_TEMPLATE_APPLY(vdnn_unbind_queued_t, fixtures);
TEST_CASE_TEMPLATE_APPLY(vdnn_teardown_hung_t, fixtures);
TEST_CASE_TEMPLATE_APPLY(vdnn_results_gemm_t, fixtures);
TEST_CASE_TEMPLATE_APPLY(vdnn_results_conv_t, fixtures);
TEST_CASE_TEMPLATE_APPLY(vdnn_results_elementwise_t, fixtures);
TEST_CASE_TEMPLATE_APPLY(vdnn_results_chain_t, fixtures);
} // namespace vdnn::dtest

// read(2) on the FUSE-served compute node delivers the events.
TEST_CASE("events: JOB_DONE through read(2) with user_data, seqno, status<fuse>") {
    vdnn::dtest::events_checks<vdnn::dtest::fuse_vdnn_fixture>();
}

namespace {

/// 0 when a FUSE file system can be mounted here, else the -errno that makes the tests pointless.
int probe_fuse() {
    char tmpl[] = "/tmp/vdnn-driver-probe-XXXXXX";
    if (!::mkdtemp(tmpl))
        return -errno;
    int e;
    {
        accel::subsystem sub;
        accel::fuse::host h(sub, tmpl);
        e = h.mount(); // mounted and unmounted without serving
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
            std::printf("FUSE unavailable here (%s): skipping the vdnn FUSE tests\n", std::strerror(-e));
            return 77;
        }
        if (e)
            std::printf("warning: FUSE probe mount failed (%s); running the tests anyway\n", std::strerror(-e));
    }
    doctest::Context ctx(argc, argv);
    return ctx.run();
}

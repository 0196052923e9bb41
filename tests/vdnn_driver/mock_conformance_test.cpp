// SPDX-License-Identifier: MIT
// The vdnn uAPI suite and the results against the reference kernels on the mock backend: one
// vdnn device in an in-process subsystem (vdnn_driver_fixtures.hpp).
#include "vdnn_conformance.hpp"
#include "vdnn_driver_fixtures.hpp"
#include "vdnn_results.hpp"

TYPE_TO_STRING_AS("mock", vdnn::dtest::mock_vdnn_fixture);

namespace vdnn::dtest {
using fixtures = std::tuple<mock_vdnn_fixture>;
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

TEST_CASE("events: JOB_DONE through read(2) with user_data, seqno, status<mock>") {
    vdnn::dtest::events_checks<vdnn::dtest::mock_vdnn_fixture>();
}

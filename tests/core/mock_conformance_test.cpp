// SPDX-License-Identifier: MIT
// The conformance suite on the mock backend.
#include "conformance.hpp"
#include "conformance_wait.hpp"
#include "monitor_conformance.hpp"
#include "mock_fixture.hpp"

TYPE_TO_STRING(accel::test::mock_fixture);
TEST_CASE_TEMPLATE_INSTANTIATE(accel::test::conformance, accel::test::mock_fixture);
TEST_CASE_TEMPLATE_INSTANTIATE(accel::test::conformance_wait, accel::test::mock_fixture);
TEST_CASE_TEMPLATE_INSTANTIATE(accel::test::monitor_conformance, accel::test::mock_fixture);

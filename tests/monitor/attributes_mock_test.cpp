// SPDX-License-Identifier: MIT
// The attribute conformance suite on the mock.
#include "attribute_conformance.hpp"
#include "mock_attribute_fixture.hpp"

TYPE_TO_STRING(accel::test::mock_attribute_fixture);
TEST_CASE_TEMPLATE_INSTANTIATE(accel::test::attribute_conformance, accel::test::mock_attribute_fixture);

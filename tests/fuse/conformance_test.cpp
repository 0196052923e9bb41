// SPDX-License-Identifier: MIT
// The conformance suite on the real backend: FUSE-served devices, syscall client.
#include "conformance.hpp"
#include "conformance_wait.hpp"
#include "monitor_conformance.hpp"
#include "fuse_fixture.hpp"

TYPE_TO_STRING(accel::test::fuse_fixture);
TEST_CASE_TEMPLATE_INSTANTIATE(accel::test::conformance, accel::test::fuse_fixture);
TEST_CASE_TEMPLATE_INSTANTIATE(accel::test::conformance_wait, accel::test::fuse_fixture);
TEST_CASE_TEMPLATE_INSTANTIATE(accel::test::monitor_conformance, accel::test::fuse_fixture);

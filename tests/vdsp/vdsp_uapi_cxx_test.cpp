// SPDX-License-Identifier: MIT
// vdsp_uapi.h compiled as C++20 with the same checks as vdsp_uapi_c11_test.c.
#include "vdsp_uapi_checks.h"

#include <type_traits>

static_assert(std::has_unique_object_representations_v<vdsp_submit>);
static_assert(std::has_unique_object_representations_v<vdsp_wait>);
static_assert(std::has_unique_object_representations_v<vdsp_fw_header>);

int main() { return 0; }

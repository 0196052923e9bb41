// SPDX-License-Identifier: MIT
// The accel uAPI headers compiled as C++ (C++20, the project's warnings): the same layout and
// number checks as the C11 test, plus the properties the C++ side relies on (the structs are
// plain uAPI structs that the ioctl table accepts, and the request numbers are constant
// expressions usable as template arguments).
#include "uapi_layout_checks.h"
#include "vdnn_uapi_checks.h"

#include <type_traits>

namespace {
template <class T>
constexpr bool plain_uapi_struct = std::is_trivially_copyable_v<T> && std::is_standard_layout_v<T> &&
                                   std::is_aggregate_v<T> && std::has_unique_object_representations_v<T>;

static_assert(plain_uapi_struct<accel_version>);
static_assert(plain_uapi_struct<accel_get_cap>);
static_assert(plain_uapi_struct<accel_gem_close>);
static_assert(plain_uapi_struct<accel_prime_handle>);
static_assert(plain_uapi_struct<accel_set_client_name>);
static_assert(plain_uapi_struct<accel_info_item>);
static_assert(plain_uapi_struct<accel_info>);
static_assert(plain_uapi_struct<accel_info_identity>);
static_assert(plain_uapi_struct<accel_info_memory_region>);
static_assert(plain_uapi_struct<accel_info_memory_regions>);
static_assert(plain_uapi_struct<accel_info_engine>);
static_assert(plain_uapi_struct<accel_info_engines>);
static_assert(plain_uapi_struct<accel_info_capabilities>);
static_assert(plain_uapi_struct<accel_info_status>);
static_assert(plain_uapi_struct<accel_info_memory_use>);
static_assert(plain_uapi_struct<accel_info_memory_usage>);
static_assert(plain_uapi_struct<accel_info_engine_time>);
static_assert(plain_uapi_struct<accel_info_engine_busy>);
static_assert(plain_uapi_struct<vdnn_get_param>);
static_assert(plain_uapi_struct<vdnn_bo_create>);
static_assert(plain_uapi_struct<vdnn_bo_info>);
static_assert(plain_uapi_struct<vdnn_vm_bind>);
static_assert(plain_uapi_struct<vdnn_vm_unbind>);
static_assert(plain_uapi_struct<vdnn_submit>);
static_assert(plain_uapi_struct<vdnn_wait>);
static_assert(plain_uapi_struct<vdnn_event_job_done>);
static_assert(plain_uapi_struct<vdnn_cmd_gemm>);
static_assert(plain_uapi_struct<vdnn_cmd_conv2d>);
static_assert(plain_uapi_struct<vdnn_cmd_relu>);
static_assert(plain_uapi_struct<vdnn_cmd_add>);
static_assert(plain_uapi_struct<vdnn_cmd_copy>);
static_assert(plain_uapi_struct<vdnn_cmd_fill>);

template <unsigned long Cmd>
struct request {
    static constexpr unsigned long value = Cmd;
};
static_assert(request<ACCEL_IOCTL_VERSION>::value == ACCEL_IOCTL_VERSION);
static_assert(request<ACCEL_IOCTL_INFO>::value == ACCEL_IOCTL_INFO);
static_assert(request<VDNN_IOCTL_SUBMIT>::value == VDNN_IOCTL_SUBMIT);
} // namespace

int main() {
    accel_version v{};
    return v.version_major;
}

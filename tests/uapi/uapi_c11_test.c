/* SPDX-License-Identifier: MIT */
/*
 * The accel uAPI headers as plain C11 (-std=c11 -Wall -Wextra -Wpedantic -Werror): they compile,
 * and their layouts and ioctl numbers are those of the DRM uAPI (see uapi_layout_checks.h; all
 * checks are _Static_assert, so building this program is the test; running it returns 0).
 */
#include "uapi_layout_checks.h"
#include "vdnn_uapi_checks.h"

#if !defined(__STDC_VERSION__) || __STDC_VERSION__ != 201112L
#error "uapi_c11_test.c must be compiled as C11 (-std=c11)"
#endif

int main(void)
{
	/* Designated initialisers and a compound literal, as C clients write them. */
	struct accel_version v = { .name_len = 0, .date_len = 0, .desc_len = 0 };
	struct accel_info_item item = { .id = ACCEL_INFO_IDENTITY, .length = 0 };
	struct accel_info info = { .num_items = 1, .items = (__u64)(unsigned long)&item };
	struct vdnn_cmd_gemm g = { .hdr = { .op = VDNN_OP_GEMM, .length_bytes = sizeof(struct vdnn_cmd_gemm) },
				   .dtype = VDNN_DTYPE_FP32 };
	return v.version_major + (int)(info.num_items - 1) + (int)item.flags + (int)(g.hdr.length_bytes - 64);
}

/* SPDX-License-Identifier: MIT */
/*
 * vdsp's uAPI (examples/vdsp/vdsp_uapi.h) as the C ABI it is: compiled as C11 (and, from
 * vdsp_uapi_cxx_test.cpp, as C++20) with the layout macros of tests/uapi/uapi_layout_checks.h:
 * sizes, offsets, no implicit padding, __u64 fields 8-byte aligned, ioctl numbers from
 * ACCEL_COMMAND_BASE, the firmware file's structures. Building is the test; running returns 0.
 */
#include "vdsp_uapi_checks.h"

#if !defined(__cplusplus) && (!defined(__STDC_VERSION__) || __STDC_VERSION__ != 201112L)
#error "vdsp_uapi_c11_test.c must be compiled as C11 (-std=c11)"
#endif

int main(void)
{
	struct vdsp_submit s = { .op = VDSP_OP_FFT, .fft_size = 256, .count = 256 };
	return (int)(s.count - s.fft_size);
}

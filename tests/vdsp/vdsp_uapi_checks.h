/* SPDX-License-Identifier: MIT */
/* Layout checks of vdsp_uapi.h (see vdsp_uapi_c11_test.c). */
#ifndef ACCEL_TESTS_VDSP_UAPI_CHECKS_H
#define ACCEL_TESTS_VDSP_UAPI_CHECKS_H

#include "uapi_layout_checks.h"

#include <vdsp_uapi.h>

UAPI_FIELD(struct vdsp_get_param, param, 0, 4);
UAPI_FIELD(struct vdsp_get_param, pad, 4, 4);
UAPI_U64(struct vdsp_get_param, value, 8);
UAPI_SIZE(struct vdsp_get_param, 16, value);

UAPI_U64(struct vdsp_bo_create, size, 0);
UAPI_FIELD(struct vdsp_bo_create, flags, 8, 4);
UAPI_FIELD(struct vdsp_bo_create, handle, 12, 4);
UAPI_SIZE(struct vdsp_bo_create, 16, handle);

UAPI_FIELD(struct vdsp_bo_info, handle, 0, 4);
UAPI_FIELD(struct vdsp_bo_info, pad, 4, 4);
UAPI_U64(struct vdsp_bo_info, mmap_offset, 8);
UAPI_U64(struct vdsp_bo_info, size, 16);
UAPI_SIZE(struct vdsp_bo_info, 24, size);

UAPI_FIELD(struct vdsp_submit, op, 0, 4);
UAPI_FIELD(struct vdsp_submit, flags, 4, 4);
UAPI_FIELD(struct vdsp_submit, in_handle, 8, 4);
UAPI_FIELD(struct vdsp_submit, out_handle, 12, 4);
UAPI_U64(struct vdsp_submit, in_offset, 16);
UAPI_U64(struct vdsp_submit, out_offset, 24);
UAPI_U64(struct vdsp_submit, count, 32);
UAPI_FIELD(struct vdsp_submit, fir_taps, 40, 4);
UAPI_FIELD(struct vdsp_submit, coef_handle, 44, 4);
UAPI_U64(struct vdsp_submit, coef, 48);
UAPI_FIELD(struct vdsp_submit, fft_size, 56, 4);
UAPI_FIELD(struct vdsp_submit, fft_flags, 60, 4);
UAPI_FIELD(struct vdsp_submit, in_syncobj, 64, 4);
UAPI_FIELD(struct vdsp_submit, out_syncobj, 68, 4);
UAPI_U64(struct vdsp_submit, seqno, 72);
UAPI_SIZE(struct vdsp_submit, 80, seqno);

UAPI_U64(struct vdsp_wait, seqno, 0);
UAPI_U64(struct vdsp_wait, timeout_ns, 8);
UAPI_FIELD(struct vdsp_wait, error, 16, 4);
UAPI_FIELD(struct vdsp_wait, pad, 20, 4);
UAPI_SIZE(struct vdsp_wait, 24, pad);

UAPI_IOCTL(VDSP_IOCTL_GET_PARAM, _IOC_READ | _IOC_WRITE, 'd', 0x40, 16);
UAPI_IOCTL(VDSP_IOCTL_BO_CREATE, _IOC_READ | _IOC_WRITE, 'd', 0x41, 16);
UAPI_IOCTL(VDSP_IOCTL_BO_INFO, _IOC_READ | _IOC_WRITE, 'd', 0x42, 24);
UAPI_IOCTL(VDSP_IOCTL_SUBMIT, _IOC_READ | _IOC_WRITE, 'd', 0x43, 80);
UAPI_IOCTL(VDSP_IOCTL_WAIT, _IOC_READ | _IOC_WRITE, 'd', 0x44, 24);

/* The firmware file. */
UAPI_FIELD(struct vdsp_fw_header, magic, 0, 4);
UAPI_FIELD(struct vdsp_fw_header, format_version, 4, 2);
UAPI_FIELD(struct vdsp_fw_header, header_size, 6, 2);
UAPI_FIELD(struct vdsp_fw_header, total_size, 8, 4);
UAPI_FIELD(struct vdsp_fw_header, crc32, 12, 4);
UAPI_FIELD(struct vdsp_fw_header, fw_version, 16, 4);
UAPI_FIELD(struct vdsp_fw_header, num_functions, 20, 4);
UAPI_FIELD(struct vdsp_fw_header, num_tables, 24, 4);
UAPI_FIELD(struct vdsp_fw_header, fft_max_size, 28, 4);
UAPI_SIZE(struct vdsp_fw_header, 32, fft_max_size);
UAPI_SIZE(struct vdsp_fw_function, 16, reserved);
UAPI_SIZE(struct vdsp_fw_table, 16, size);
UAPI_ASSERT(VDSP_OP_FFT < 32, "ops fit the VDSP_PARAM_FUNCTIONS bitmask");

#endif /* ACCEL_TESTS_VDSP_UAPI_CHECKS_H */

/* SPDX-License-Identifier: MIT */
/*
 * Layout checks of the vdnn example driver's uAPI (examples/vdnn/vdnn_uapi.h), with the macros
 * of uapi_layout_checks.h: sizes, offsets, no implicit padding, every __u64 8-byte aligned,
 * ioctl numbers from ACCEL_COMMAND_BASE, command struct sizes as the command stream defines them.
 * Included by the C11 and the C++ uAPI tests, after uapi_layout_checks.h.
 */
#ifndef ACCEL_TESTS_VDNN_UAPI_CHECKS_H
#define ACCEL_TESTS_VDNN_UAPI_CHECKS_H

#include "uapi_layout_checks.h"

#include <vdnn_uapi.h>

/* ---- ioctl arguments ---- */
UAPI_FIELD(struct vdnn_get_param, param, 0, 4);
UAPI_FIELD(struct vdnn_get_param, pad, 4, 4);
UAPI_U64(struct vdnn_get_param, value, 8);
UAPI_SIZE(struct vdnn_get_param, 16, value);

UAPI_U64(struct vdnn_bo_create, size, 0);
UAPI_FIELD(struct vdnn_bo_create, region, 8, 4);
UAPI_FIELD(struct vdnn_bo_create, flags, 12, 4);
UAPI_FIELD(struct vdnn_bo_create, handle, 16, 4);
UAPI_FIELD(struct vdnn_bo_create, pad, 20, 4);
UAPI_SIZE(struct vdnn_bo_create, 24, pad);

UAPI_FIELD(struct vdnn_bo_info, handle, 0, 4);
UAPI_FIELD(struct vdnn_bo_info, pad, 4, 4);
UAPI_U64(struct vdnn_bo_info, mmap_offset, 8);
UAPI_U64(struct vdnn_bo_info, device_addr, 16);
UAPI_U64(struct vdnn_bo_info, size, 24);
UAPI_FIELD(struct vdnn_bo_info, region, 32, 4);
UAPI_FIELD(struct vdnn_bo_info, flags, 36, 4);
UAPI_SIZE(struct vdnn_bo_info, 40, flags);

UAPI_FIELD(struct vdnn_vm_bind, handle, 0, 4);
UAPI_FIELD(struct vdnn_vm_bind, flags, 4, 4);
UAPI_U64(struct vdnn_vm_bind, bo_offset, 8);
UAPI_U64(struct vdnn_vm_bind, va, 16);
UAPI_U64(struct vdnn_vm_bind, size, 24);
UAPI_SIZE(struct vdnn_vm_bind, 32, size);

UAPI_U64(struct vdnn_vm_unbind, va, 0);
UAPI_U64(struct vdnn_vm_unbind, size, 8);
UAPI_SIZE(struct vdnn_vm_unbind, 16, size);

UAPI_FIELD(struct vdnn_submit, engine, 0, 4);
UAPI_FIELD(struct vdnn_submit, flags, 4, 4);
UAPI_FIELD(struct vdnn_submit, cmd_handle, 8, 4);
UAPI_FIELD(struct vdnn_submit, bo_count, 12, 4);
UAPI_U64(struct vdnn_submit, cmd_offset, 16);
UAPI_U64(struct vdnn_submit, cmd_size, 24);
UAPI_U64(struct vdnn_submit, bo_handles, 32);
UAPI_U64(struct vdnn_submit, deps, 40);
UAPI_FIELD(struct vdnn_submit, dep_count, 48, 4);
UAPI_FIELD(struct vdnn_submit, pad, 52, 4);
UAPI_U64(struct vdnn_submit, user_data, 56);
UAPI_U64(struct vdnn_submit, seqno, 64);
UAPI_U64(struct vdnn_submit, in_syncs, 72);
UAPI_FIELD(struct vdnn_submit, in_sync_count, 80, 4);
UAPI_FIELD(struct vdnn_submit, pad2, 84, 4);
UAPI_FIELD(struct vdnn_submit, out_sync, 88, 16);
UAPI_SIZE(struct vdnn_submit, 104, out_sync);

UAPI_FIELD(struct vdnn_sync, handle, 0, 4);
UAPI_FIELD(struct vdnn_sync, flags, 4, 4);
UAPI_U64(struct vdnn_sync, point, 8);
UAPI_SIZE(struct vdnn_sync, 16, point);

UAPI_FIELD(struct vdnn_wait, flags, 0, 4);
UAPI_FIELD(struct vdnn_wait, pad, 4, 4);
UAPI_U64(struct vdnn_wait, handle_or_seqno, 8);
UAPI_U64(struct vdnn_wait, timeout_ns, 16);
UAPI_FIELD(struct vdnn_wait, status, 24, 4);
UAPI_FIELD(struct vdnn_wait, error, 28, 4);
UAPI_U64(struct vdnn_wait, fault_va, 32);
UAPI_SIZE(struct vdnn_wait, 40, fault_va);

/* ---- the event: struct drm_event first, as drm_read hands it out ---- */
UAPI_FIELD(struct vdnn_drm_event, type, 0, 4);
UAPI_FIELD(struct vdnn_drm_event, length, 4, 4);
UAPI_SIZE(struct vdnn_drm_event, 8, length);
UAPI_FIELD(struct vdnn_event_job_done, base, 0, 8);
UAPI_U64(struct vdnn_event_job_done, user_data, 8);
UAPI_U64(struct vdnn_event_job_done, seqno, 16);
UAPI_FIELD(struct vdnn_event_job_done, error, 24, 4);
UAPI_FIELD(struct vdnn_event_job_done, status, 28, 4);
UAPI_U64(struct vdnn_event_job_done, fault_va, 32);
UAPI_SIZE(struct vdnn_event_job_done, 40, fault_va);
UAPI_ASSERT(VDNN_EVENT_JOB_DONE >= 0x80000000u, "driver events use the driver-private type range");

/* ---- ioctl numbers: 'd', from ACCEL_COMMAND_BASE, in order ---- */
UAPI_IOCTL(VDNN_IOCTL_GET_PARAM, _IOC_READ | _IOC_WRITE, 'd', 0x40, 16);
UAPI_IOCTL(VDNN_IOCTL_BO_CREATE, _IOC_READ | _IOC_WRITE, 'd', 0x41, 24);
UAPI_IOCTL(VDNN_IOCTL_BO_INFO, _IOC_READ | _IOC_WRITE, 'd', 0x42, 40);
UAPI_IOCTL(VDNN_IOCTL_VM_BIND, _IOC_READ | _IOC_WRITE, 'd', 0x43, 32);
UAPI_IOCTL(VDNN_IOCTL_VM_UNBIND, _IOC_WRITE, 'd', 0x44, 16);
UAPI_IOCTL(VDNN_IOCTL_SUBMIT, _IOC_READ | _IOC_WRITE, 'd', 0x45, 104);
UAPI_IOCTL(VDNN_IOCTL_WAIT, _IOC_READ | _IOC_WRITE, 'd', 0x46, 40);

/* ---- the command stream ---- */
UAPI_FIELD(struct vdnn_cmd_header, op, 0, 4);
UAPI_FIELD(struct vdnn_cmd_header, length_bytes, 4, 4);
UAPI_SIZE(struct vdnn_cmd_header, 8, length_bytes);

UAPI_FIELD(struct vdnn_cmd_gemm, dtype, 8, 4);
UAPI_FIELD(struct vdnn_cmd_gemm, flags, 12, 4);
UAPI_FIELD(struct vdnn_cmd_gemm, m, 16, 4);
UAPI_FIELD(struct vdnn_cmd_gemm, n, 20, 4);
UAPI_FIELD(struct vdnn_cmd_gemm, k, 24, 4);
UAPI_FIELD(struct vdnn_cmd_gemm, lda, 28, 4);
UAPI_FIELD(struct vdnn_cmd_gemm, ldb, 32, 4);
UAPI_FIELD(struct vdnn_cmd_gemm, ldc, 36, 4);
UAPI_U64(struct vdnn_cmd_gemm, a, 40);
UAPI_U64(struct vdnn_cmd_gemm, b, 48);
UAPI_U64(struct vdnn_cmd_gemm, c, 56);
UAPI_SIZE(struct vdnn_cmd_gemm, 64, c);

UAPI_FIELD(struct vdnn_cmd_conv2d, dtype, 8, 4);
UAPI_FIELD(struct vdnn_cmd_conv2d, flags, 12, 4);
UAPI_FIELD(struct vdnn_cmd_conv2d, n, 16, 4);
UAPI_FIELD(struct vdnn_cmd_conv2d, c, 20, 4);
UAPI_FIELD(struct vdnn_cmd_conv2d, h, 24, 4);
UAPI_FIELD(struct vdnn_cmd_conv2d, w, 28, 4);
UAPI_FIELD(struct vdnn_cmd_conv2d, o, 32, 4);
UAPI_FIELD(struct vdnn_cmd_conv2d, kh, 36, 4);
UAPI_FIELD(struct vdnn_cmd_conv2d, kw, 40, 4);
UAPI_FIELD(struct vdnn_cmd_conv2d, stride_h, 44, 4);
UAPI_FIELD(struct vdnn_cmd_conv2d, stride_w, 48, 4);
UAPI_FIELD(struct vdnn_cmd_conv2d, pad_h, 52, 4);
UAPI_FIELD(struct vdnn_cmd_conv2d, pad_w, 56, 4);
UAPI_FIELD(struct vdnn_cmd_conv2d, pad, 60, 4);
UAPI_U64(struct vdnn_cmd_conv2d, input, 64);
UAPI_U64(struct vdnn_cmd_conv2d, weights, 72);
UAPI_U64(struct vdnn_cmd_conv2d, bias, 80);
UAPI_U64(struct vdnn_cmd_conv2d, output, 88);
UAPI_SIZE(struct vdnn_cmd_conv2d, 96, output);

UAPI_FIELD(struct vdnn_cmd_relu, dtype, 8, 4);
UAPI_FIELD(struct vdnn_cmd_relu, flags, 12, 4);
UAPI_U64(struct vdnn_cmd_relu, count, 16);
UAPI_U64(struct vdnn_cmd_relu, src, 24);
UAPI_U64(struct vdnn_cmd_relu, dst, 32);
UAPI_SIZE(struct vdnn_cmd_relu, 40, dst);

UAPI_FIELD(struct vdnn_cmd_add, dtype, 8, 4);
UAPI_FIELD(struct vdnn_cmd_add, flags, 12, 4);
UAPI_U64(struct vdnn_cmd_add, count, 16);
UAPI_U64(struct vdnn_cmd_add, a, 24);
UAPI_U64(struct vdnn_cmd_add, b, 32);
UAPI_U64(struct vdnn_cmd_add, dst, 40);
UAPI_SIZE(struct vdnn_cmd_add, 48, dst);

UAPI_U64(struct vdnn_cmd_copy, bytes, 8);
UAPI_U64(struct vdnn_cmd_copy, src, 16);
UAPI_U64(struct vdnn_cmd_copy, dst, 24);
UAPI_SIZE(struct vdnn_cmd_copy, 32, dst);

UAPI_FIELD(struct vdnn_cmd_fill, pattern, 8, 4);
UAPI_FIELD(struct vdnn_cmd_fill, flags, 12, 4);
UAPI_U64(struct vdnn_cmd_fill, bytes, 16);
UAPI_U64(struct vdnn_cmd_fill, dst, 24);
UAPI_SIZE(struct vdnn_cmd_fill, 32, dst);

UAPI_SIZE(struct vdnn_cmd_nop, 8, hdr);
UAPI_SIZE(struct vdnn_cmd_debug_hang, 8, hdr);
UAPI_ASSERT(VDNN_OP_DEBUG_HANG < 32, "ops fit the VDNN_PARAM_OPS bitmask");
UAPI_ASSERT(VDNN_MAX_CMD_SIZE % 8 == 0, "the stream limit is a whole number of 8-byte units");

#endif /* ACCEL_TESTS_VDNN_UAPI_CHECKS_H */

/* SPDX-License-Identifier: MIT */
/*
 * accel MMAP_PREPARE: the mmap(2) checks of a buffer object, made before the mmap.
 *
 * A kernel accel node checks a mapping inside mmap(2) (drm_gem_mmap) and fails it there with
 * EINVAL, EACCES or ENODEV. A FUSE-served node cannot: mmap(2) on a FUSE file never reaches the
 * server, which only sees the page faults later. A client that wants the kernel's errors at
 * mmap time on both asks first with this ioctl (accel's backend::syscall::mmap does), then
 * calls mmap(2) with the same offset, length, prot and flags:
 *   - 0: the mapping is allowed; the server keeps the object alive for the caller's mappings
 *     from now on (until the process's last mapping of it goes), so the mapping outlives the
 *     handle as a kernel VMA does;
 *   - -EINVAL, -EACCES, -ENODEV: what mmap(2) on a kernel node would have said.
 * A kernel node answers ENOTTY (foreign type byte): skip the check and call mmap(2) directly.
 * prot and flags are mmap(2)'s PROT_* and MAP_* values.
 */
#ifndef ACCEL_UAPI_ACCEL_MMAP_H
#define ACCEL_UAPI_ACCEL_MMAP_H

#include <linux/ioctl.h>
#include <linux/types.h>

#include "accel_info.h" /* ACCEL_INFO_IOCTL_BASE: accel's own type byte */

#ifdef __cplusplus
extern "C" {
#endif

struct accel_mmap_prepare {
	__u64 offset; /* the object's fake offset, as passed to mmap(2) */
	__u64 length; /* bytes to map */
	__u32 prot;   /* PROT_READ | PROT_WRITE */
	__u32 flags;  /* MAP_SHARED or MAP_PRIVATE */
};

#define ACCEL_IOCTL_MMAP_PREPARE _IOW(ACCEL_INFO_IOCTL_BASE, 0x01, struct accel_mmap_prepare)

#ifdef __cplusplus
}
#endif

#endif /* ACCEL_UAPI_ACCEL_MMAP_H */

/* SPDX-License-Identifier: MIT */
/* uAPI of the minimal example driver: one driver ioctl that adds two numbers. */
#ifndef MINIMAL_UAPI_H
#define MINIMAL_UAPI_H
#include <accel/uapi/accel_drm.h>

struct minimal_add {
	__u64 a;
	__u64 b;
	__u64 sum;   /* out */
	__u64 calls; /* out: adds made through this file so far */
	__u32 flags; /* must be 0 */
	__u32 pad;   /* must be 0 */
};

#define MINIMAL_IOCTL_ADD ACCEL_IOWR(ACCEL_COMMAND_BASE + 0x00, struct minimal_add)

#endif

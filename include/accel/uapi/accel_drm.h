/* SPDX-License-Identifier: MIT */
/*
 * accel core uAPI: the DRM-compatible part.
 *
 * Numbers and layouts are those of the Linux DRM core (include/uapi/drm/drm.h), so that a client
 * built against this header (or against libdrm) talks to an accel device and to a kernel
 * /dev/accel/accelN node alike. Names carry an ACCEL_/accel_ prefix so this header can be
 * included next to libdrm's drm.h without clashes.
 *
 * Plain C11, no C++: fixed-width __u32/__u64 fields, user pointers carried as __u64.
 */
#ifndef ACCEL_UAPI_ACCEL_DRM_H
#define ACCEL_UAPI_ACCEL_DRM_H

#include <linux/ioctl.h>
#include <linux/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The DRM ioctl type byte. Every core and driver ioctl of a device uses it. */
#define ACCEL_IOCTL_BASE 'd'
#define ACCEL_IO(nr) _IO(ACCEL_IOCTL_BASE, nr)
#define ACCEL_IOR(nr, type) _IOR(ACCEL_IOCTL_BASE, nr, type)
#define ACCEL_IOW(nr, type) _IOW(ACCEL_IOCTL_BASE, nr, type)
#define ACCEL_IOWR(nr, type) _IOWR(ACCEL_IOCTL_BASE, nr, type)

/* Driver-private ioctl numbers live in [ACCEL_COMMAND_BASE, ACCEL_COMMAND_END), as in DRM. */
#define ACCEL_COMMAND_BASE 0x40
#define ACCEL_COMMAND_END 0xA0

/* DRM_IOCTL_VERSION: lengths are the true string lengths; strings are copied up to the caller's
 * buffer lengths with no terminator. Call once with zero lengths, then with buffers. */
struct accel_version {
	__s32 version_major;
	__s32 version_minor;
	__s32 version_patchlevel;
	__u32 __pad; /* C's natural padding before the size_t; named so every byte is accounted for */
	__u64 name_len; /* size_t in drm.h: 8 bytes on every 64-bit ABI */
	__u64 name;     /* char __user * */
	__u64 date_len;
	__u64 date;
	__u64 desc_len;
	__u64 desc;
};

/* DRM_IOCTL_GET_CAP */
struct accel_get_cap {
	__u64 capability;
	__u64 value;
};
#define ACCEL_CAP_PRIME 0x5
#define ACCEL_PRIME_CAP_IMPORT 0x1
#define ACCEL_PRIME_CAP_EXPORT 0x2
#define ACCEL_CAP_TIMESTAMP_MONOTONIC 0x6
#define ACCEL_CAP_SYNCOBJ 0x13
#define ACCEL_CAP_SYNCOBJ_TIMELINE 0x14

/* DRM_IOCTL_GEM_CLOSE */
struct accel_gem_close {
	__u32 handle;
	__u32 pad;
};

/* Export flags of PRIME_HANDLE_TO_FD, as drm.h spells them (the caller includes <fcntl.h>). */
#define ACCEL_CLOEXEC O_CLOEXEC
#define ACCEL_RDWR O_RDWR

/* DRM_IOCTL_PRIME_HANDLE_TO_FD / DRM_IOCTL_PRIME_FD_TO_HANDLE */
struct accel_prime_handle {
	__u32 handle;
	__u32 flags; /* ACCEL_CLOEXEC | ACCEL_RDWR on export */
	__s32 fd;
};

/* DRM_IOCTL_SET_CLIENT_NAME: printable ASCII without spaces, at most 64 bytes; length 0 clears. */
struct accel_set_client_name {
	__u64 name_len;
	__u64 name; /* char __user * */
};
#define ACCEL_CLIENT_NAME_MAX_LEN 64

#define ACCEL_IOCTL_VERSION ACCEL_IOWR(0x00, struct accel_version)
#define ACCEL_IOCTL_GEM_CLOSE ACCEL_IOW(0x09, struct accel_gem_close)
#define ACCEL_IOCTL_GET_CAP ACCEL_IOWR(0x0c, struct accel_get_cap)
#define ACCEL_IOCTL_PRIME_HANDLE_TO_FD ACCEL_IOWR(0x2d, struct accel_prime_handle)
#define ACCEL_IOCTL_PRIME_FD_TO_HANDLE ACCEL_IOWR(0x2e, struct accel_prime_handle)
#define ACCEL_IOCTL_SET_CLIENT_NAME ACCEL_IOWR(0xD1, struct accel_set_client_name)

/* Syncobjs (drm_syncobj_*): DRM's layouts, numbers and flag values. A driver that declares
 * DRIVER_SYNCOBJ (and DRIVER_SYNCOBJ_TIMELINE for the timeline calls) answers them; others
 * answer -EOPNOTSUPP. Timeouts are absolute CLOCK_MONOTONIC nanoseconds. */
struct accel_syncobj_create {
	__u32 handle;
#define ACCEL_SYNCOBJ_CREATE_SIGNALED (1 << 0)
	__u32 flags;
};

struct accel_syncobj_destroy {
	__u32 handle;
	__u32 pad;
};

#define ACCEL_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE (1 << 0)
#define ACCEL_SYNCOBJ_FD_TO_HANDLE_FLAGS_TIMELINE (1 << 1)
#define ACCEL_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE (1 << 0)
#define ACCEL_SYNCOBJ_HANDLE_TO_FD_FLAGS_TIMELINE (1 << 1)
struct accel_syncobj_handle {
	__u32 handle;
	__u32 flags;
	__s32 fd;
	__u32 pad;
	__u64 point;
};

struct accel_syncobj_transfer {
	__u32 src_handle;
	__u32 dst_handle;
	__u64 src_point;
	__u64 dst_point;
	__u32 flags;
	__u32 pad;
};

#define ACCEL_SYNCOBJ_WAIT_FLAGS_WAIT_ALL (1 << 0)
#define ACCEL_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT (1 << 1)
#define ACCEL_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE (1 << 2) /* wait for the point to be submitted */
#define ACCEL_SYNCOBJ_WAIT_FLAGS_WAIT_DEADLINE (1 << 3)  /* set the fences' deadline */
struct accel_syncobj_wait {
	__u64 handles; /* __u32 __user * */
	__s64 timeout_nsec;
	__u32 count_handles;
	__u32 flags;
	__u32 first_signaled; /* out: the first satisfied entry */
	__u32 pad;
	__u64 deadline_nsec; /* since Linux 6.4; older callers send the 32 bytes before it */
};

struct accel_syncobj_timeline_wait {
	__u64 handles; /* __u32 __user * */
	__u64 points;  /* __u64 __user *, or 0: every point 0 */
	__s64 timeout_nsec;
	__u32 count_handles;
	__u32 flags;
	__u32 first_signaled;
	__u32 pad;
	__u64 deadline_nsec; /* since Linux 6.4 */
};

struct accel_syncobj_eventfd {
	__u32 handle;
	__u32 flags;
	__u64 point;
	__s32 fd;
	__u32 pad;
};

struct accel_syncobj_array {
	__u64 handles; /* __u32 __user * */
	__u32 count_handles;
	__u32 pad;
};

#define ACCEL_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED (1 << 0) /* the last submitted point */
struct accel_syncobj_timeline_array {
	__u64 handles; /* __u32 __user * */
	__u64 points;  /* __u64 __user * */
	__u32 count_handles;
	__u32 flags;
};

#define ACCEL_IOCTL_SYNCOBJ_CREATE ACCEL_IOWR(0xBF, struct accel_syncobj_create)
#define ACCEL_IOCTL_SYNCOBJ_DESTROY ACCEL_IOWR(0xC0, struct accel_syncobj_destroy)
#define ACCEL_IOCTL_SYNCOBJ_HANDLE_TO_FD ACCEL_IOWR(0xC1, struct accel_syncobj_handle)
#define ACCEL_IOCTL_SYNCOBJ_FD_TO_HANDLE ACCEL_IOWR(0xC2, struct accel_syncobj_handle)
#define ACCEL_IOCTL_SYNCOBJ_WAIT ACCEL_IOWR(0xC3, struct accel_syncobj_wait)
#define ACCEL_IOCTL_SYNCOBJ_RESET ACCEL_IOWR(0xC4, struct accel_syncobj_array)
#define ACCEL_IOCTL_SYNCOBJ_SIGNAL ACCEL_IOWR(0xC5, struct accel_syncobj_array)
#define ACCEL_IOCTL_SYNCOBJ_TIMELINE_WAIT ACCEL_IOWR(0xCA, struct accel_syncobj_timeline_wait)
#define ACCEL_IOCTL_SYNCOBJ_QUERY ACCEL_IOWR(0xCB, struct accel_syncobj_timeline_array)
#define ACCEL_IOCTL_SYNCOBJ_TRANSFER ACCEL_IOWR(0xCC, struct accel_syncobj_transfer)
#define ACCEL_IOCTL_SYNCOBJ_TIMELINE_SIGNAL ACCEL_IOWR(0xCD, struct accel_syncobj_timeline_array)
#define ACCEL_IOCTL_SYNCOBJ_EVENTFD ACCEL_IOWR(0xCF, struct accel_syncobj_eventfd)

/* Device numbers of accel nodes, as the kernel assigns them. */
#define ACCEL_MAJOR 261
#define ACCEL_MAX_MINORS 256

#ifdef __cplusplus
}
#endif

#endif /* ACCEL_UAPI_ACCEL_DRM_H */

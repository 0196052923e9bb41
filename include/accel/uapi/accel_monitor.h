/* SPDX-License-Identifier: MIT */
/*
 * accel monitor-node requests besides INFO (accel_info.h) and RESET (accel_reset.h), with the
 * INFO type byte so they never collide with DRM or a driver. Both work on the compute and the
 * monitor node of a device.
 *
 * ACCEL_IOCTL_FDINFO: one client's usage statistics as the text /proc/<pid>/fdinfo/<fd> shows
 * for its file (Documentation/gpu/drm-usage-stats.rst), so a parser written for fdinfo reads it
 * unchanged. On the monitor node any client of the device may be named (a monitoring tool
 * reads them all, as root reads every process's fdinfo); on the compute node only the calling
 * file's own client (accel's rule: a monitor node locked down by its mode must not be bypassed
 * through the compute node).
 *   - client_id: an id from ACCEL_INFO_CLIENTS (or ACCEL_INFO_IDENTITY's client_id);
 *   - length 0: the device writes the size the text needs into length and copies nothing;
 *   - otherwise the text (no NUL) goes to data, length becomes its size; a length shorter than
 *     the text is -EINVAL with nothing copied (the text may grow between the two calls: ask
 *     again);
 *   - -ENOENT when no open file of this device has that client id, -EACCES on the compute node
 *     for any id but the caller's own (whether or not such a client exists), -EINVAL for
 *     non-zero flags, -EFAULT for an unwritable data.
 *
 * ACCEL_IOCTL_CLEAR_STATS: root only (-EACCES otherwise). Zeroes the device-wide statistics INFO
 * reports: the reset count (STATUS) and the engines' busy time (ENGINE_BUSY) start again from 0.
 * Per-client engine time and memory (fdinfo, CLIENT_ENGINES, CLIENT_MEMORY) are never cleared:
 * fdinfo parsers rely on them being monotonic for the client's life. -EINVAL for non-zero flags
 * or pad; -EBUSY unless the device is OPERATIONAL (ENGINE_BUSY, whose baseline it takes, reads
 * the hardware and answers -EBUSY then too).
 */
#ifndef ACCEL_UAPI_ACCEL_MONITOR_H
#define ACCEL_UAPI_ACCEL_MONITOR_H

#include <linux/ioctl.h>
#include <linux/types.h>

#include "accel_info.h"

#ifdef __cplusplus
extern "C" {
#endif

struct accel_fdinfo {
	__u64 client_id;
	__u64 data;   /* user pointer to length bytes */
	__u32 length; /* in: room at data (0: ask for the size); out: the text's size */
	__u32 flags;  /* must be 0 */
};

struct accel_clear_stats {
	__u32 flags; /* must be 0 */
	__u32 pad;   /* must be 0 */
};

#define ACCEL_IOCTL_FDINFO _IOWR(ACCEL_INFO_IOCTL_BASE, 0x04, struct accel_fdinfo)
#define ACCEL_IOCTL_CLEAR_STATS _IOW(ACCEL_INFO_IOCTL_BASE, 0x05, struct accel_clear_stats)

#ifdef __cplusplus
}
#endif

#endif /* ACCEL_UAPI_ACCEL_MONITOR_H */

/* SPDX-License-Identifier: MIT */
/*
 * accel RESET: ask the framework to reset a device (habanalabs' hard-reset request, as a
 * framework ioctl with the INFO type byte so it never collides with DRM or a driver).
 *
 * Root only (-EACCES otherwise), on the compute or the monitor node. The reset runs as a timed-out
 * job's would: the device goes IN_RESET, its schedulers stop, the driver resets the hardware, the
 * jobs that were on it are resubmitted or cancelled (the driver's policy), and the device returns
 * to OPERATIONAL (reset_count + 1 in INFO's STATUS item) or, when the driver's reset fails, to
 * MALFUNCTION.
 *   - flags 0: returns once the reset has started (0);
 *   - ACCEL_RESET_WAIT: returns when it has ended: 0 when the device works again, -EIO when it is
 *     left MALFUNCTION; the wait is interruptible (-EINTR).
 * Errors: -EINVAL for unknown flags or a non-zero pad, -EOPNOTSUPP when the device cannot be
 * reset, -ENODEV after unplug.
 */
#ifndef ACCEL_UAPI_ACCEL_RESET_H
#define ACCEL_UAPI_ACCEL_RESET_H

#include <linux/ioctl.h>
#include <linux/types.h>

#include "accel_info.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ACCEL_RESET_WAIT (1u << 0)

struct accel_reset_request {
	__u32 flags; /* ACCEL_RESET_* */
	__u32 pad;   /* must be 0 */
};

#define ACCEL_IOCTL_RESET _IOW(ACCEL_INFO_IOCTL_BASE, 0x02, struct accel_reset_request)

#ifdef __cplusplus
}
#endif

#endif /* ACCEL_UAPI_ACCEL_RESET_H */

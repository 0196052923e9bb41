/* SPDX-License-Identifier: MIT */
/* uAPI of the test drivers: every dispatch rule gets an ioctl that makes its effect visible to
 * the client, so one scenario can be checked identically through every backend. */
#ifndef ACCEL_TEST_UAPI_H
#define ACCEL_TEST_UAPI_H
#include <accel/uapi/accel_drm.h>

/* ECHO: the handler reports what it saw and transforms what it returns:
 *   report = TEST_ECHO_RAN | bit i set when words[i] arrived non-zero;  words[i] += 1. */
struct test_echo {
	__u64 report;
	__u64 words[7];
};
#define TEST_ECHO_RAN (1ull << 63)

/* A struct larger than the dispatcher's 128-byte stack buffer. */
struct test_big {
	__u64 report;
	__u64 words[39];
};

/* Reads `count` __u64 values from the user pointer `values` and returns their sum. */
struct test_sum {
	__u64 values; /* __u64 __user * */
	__u32 count;
	__u32 pad;
	__u64 sum;
};

/* Fills `words` with the marker, then fails with -EIO: output is copied back even on failure. */
struct test_fail {
	__u64 words[2];
};
#define TEST_FAIL_MARKER 0x5eadbeefcafef00dull

#define TEST_IOCTL_ECHO ACCEL_IOWR(0x40, struct test_echo)
#define TEST_IOCTL_ECHO_IN ACCEL_IOW(0x41, struct test_echo)   /* table says IOW only */
#define TEST_IOCTL_ECHO_OUT ACCEL_IOR(0x42, struct test_echo)  /* table says IOR only */
#define TEST_IOCTL_ROOT ACCEL_IOWR(0x43, struct test_echo)     /* ROOT_ONLY */
#define TEST_IOCTL_AUTH ACCEL_IOWR(0x44, struct test_echo)     /* AUTH */
#define TEST_IOCTL_MASTER ACCEL_IOWR(0x45, struct test_echo)   /* MASTER: never on accel */
#define TEST_IOCTL_MONITOR ACCEL_IOWR(0x46, struct test_echo)  /* allowed on the monitor node */
#define TEST_IOCTL_BIG ACCEL_IOWR(0x47, struct test_big)
#define TEST_IOCTL_SUM ACCEL_IOWR(0x48, struct test_sum)
#define TEST_IOCTL_FAIL ACCEL_IOWR(0x49, struct test_fail)
#define TEST_IOCTL_NOARG ACCEL_IO(0x4a)                         /* counts calls on this file */
/* 0x4b, 0x4c and 0x4f are empty slots; 0x5b..0x9f are past the last row. */
#define TEST_IOCTL_HOLE ACCEL_IOWR(0x4b, struct test_echo)
#define TEST_IOCTL_COUNT ACCEL_IOR(0x4d, struct test_count)
/* From now on every postclose on this device sleeps postclose_ms (at most 2000): a slow release. */
#define TEST_IOCTL_SLOW_CLOSE ACCEL_IOW(0x4e, struct test_slow_close)

struct test_count {
	__u64 noarg_calls; /* TEST_IOCTL_NOARG calls on this file */
	__u64 opens;       /* files the driver opened on this device so far */
	__u64 postcloses;  /* postclose calls on this device so far */
};

struct test_slow_close {
	__u32 postclose_ms;
	__u32 pad; /* must be 0 */
};

/* Buffer objects (the shape of ivpu's BO_CREATE / BO_INFO). */
struct test_bo_create {
	__u64 size;        /* in: bytes (rounded up to pages); out: the object's size */
	__u32 flags;       /* must be 0 */
	__u32 handle;      /* out */
	__u64 mmap_offset; /* out: pass to mmap(2) on the node */
};
struct test_bo_info {
	__u32 handle;      /* in */
	__u32 pad;
	__u64 size;        /* out */
	__u64 mmap_offset; /* out */
	__u64 handle_count; /* out: handles naming the object, all files */
};
/* The driver's CPU access to an object: write (op 1) or read (op 0) one u64 at byte `offset`. */
struct test_bo_poke {
	__u32 handle;
	__u32 op;
	__u64 offset;
	__u64 value;
};
/* This file's memory, as drm-usage-stats counts it. */
struct test_mem_stats {
	__u64 handles;
	__u64 total;
	__u64 shared;
	__u64 resident;
};
#define TEST_IOCTL_BO_CREATE ACCEL_IOWR(0x50, struct test_bo_create)
#define TEST_IOCTL_BO_INFO ACCEL_IOWR(0x51, struct test_bo_info)
#define TEST_IOCTL_BO_POKE ACCEL_IOWR(0x52, struct test_bo_poke)
#define TEST_IOCTL_MEM_STATS ACCEL_IOR(0x53, struct test_mem_stats)

/* Deferred completion: a doorbell counter per device.
 * WAIT parks until the doorbell reaches `target` (answering 0 with `seen` = the doorbell then),
 * or until `timeout_ms` passes (-ETIME; timeout_ms = ~0u waits for ever). RING adds `count`
 * to the doorbell and wakes the waiters and pollers; it answers the number of requests that
 * were parked on the device when it rang. POLL_ARM sets this file's poll target: the file polls
 * POLLIN | POLLRDNORM while the doorbell is at or past it (0: never). */
struct test_wait {
	__u64 target;
	__u32 timeout_ms;
	__u32 pad; /* must be 0 */
	__u64 seen;
};
struct test_ring {
	__u64 count;
	__u64 doorbell; /* out: the value after ringing */
};
#define TEST_IOCTL_WAIT ACCEL_IOWR(0x54, struct test_wait)
#define TEST_IOCTL_RING ACCEL_IOWR(0x55, struct test_ring)
#define TEST_IOCTL_POLL_ARM ACCEL_IOW(0x56, __u64)
/* The driver reset its hardware: the device counts one completed reset (INFO STATUS). */
#define TEST_IOCTL_RESET ACCEL_IO(0x57)
/* Device status: moves the device to `state` (enum accel_device_state); `fail_reset` makes the
 * driver's next reset fail (once) (the device is left MALFUNCTION). The non-exclusive test driver
 * resets at once when ACCEL_IOCTL_RESET asks; the exclusive one has no reset (-EOPNOTSUPP). */
struct test_set_state {
	__u32 state;
	__u32 fail_reset;
};
#define TEST_IOCTL_SET_STATE ACCEL_IOW(0x5a, struct test_set_state)
/* DRM events: sends `count` events {type, length 16, value + i} to every file of the device
 * (read(2) returns them, as drm_read returns drm_event records). */
struct test_send_events {
	__u32 type;
	__u32 count;
	__u64 value;
};
struct test_event { /* struct drm_event, then the payload */
	__u32 type;
	__u32 length;
	__u64 value;
};
#define TEST_IOCTL_SEND_EVENTS ACCEL_IOW(0x58, struct test_send_events)

/* A job the device runs on its own (a driver thread, as hardware would): once the doorbell
 * reaches `after_doorbell`, the device writes `value` (a __u64) at byte `offset` of the object,
 * the driver marks the object device-written, sends the submitting file the event
 * {TEST_EVENT_JOB, 16, value} and adds 1 to the doorbell (waking waiters and pollers, as RING
 * does). JOB answers at once. */
struct test_job {
	__u32 handle;
	__u32 pad; /* must be 0 */
	__u64 offset; /* 8-byte aligned, inside the object */
	__u64 value;
	__u64 after_doorbell;
};
#define TEST_EVENT_JOB 0x80000001u /* driver-private event types start at 0x80000000 */
#define TEST_IOCTL_JOB ACCEL_IOW(0x59, struct test_job)

#endif

/* SPDX-License-Identifier: MIT */
/*
 * libdrm, unmodified, against a compute node served by accel-serve (the minimal driver):
 *   drmGetVersion            name "minimal", version 1.0.0, the driver's description;
 *   drmIoctl                 MINIMAL_IOCTL_ADD;
 *   drmGetCap                DRM_CAP_PRIME == 0 (no sharing yet), DRM_CAP_TIMESTAMP_MONOTONIC == 1,
 *                            an unknown capability -> -1 with errno EOPNOTSUPP.
 *
 *   libdrm_client ROOT [N]   ROOT: the mount point; N: the device minor (default 0)
 *
 * Prints one line per step; exits 0 only when every step behaved as expected.
 */
/* POSIX.1-2008 for O_CLOEXEC: the program is strict C11 (no GNU extensions). */
#define _POSIX_C_SOURCE 200809L

#include <xf86drm.h>

#include <minimal_uapi.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int failures;

static void step(int ok, const char *what, const char *detail)
{
	printf("%s: %s%s%s\n", ok ? "ok  " : "FAIL", what, detail[0] ? ": " : "", detail);
	if (!ok)
		++failures;
}

static void check_cap(int fd, uint64_t cap, const char *name, int want_ret, uint64_t want_value, int want_errno)
{
	char detail[160];
	uint64_t value = 0;
	int ret, e;

	errno = 0;
	ret = drmGetCap(fd, cap, &value);
	e = errno;
	if (ret == 0)
		snprintf(detail, sizeof detail, "value %llu (want %llu)", (unsigned long long)value,
			 (unsigned long long)want_value);
	else
		snprintf(detail, sizeof detail, "returned %d, errno %s (want %d%s%s)", ret, strerror(e), want_ret,
			 want_errno ? ", " : "", want_errno ? strerror(want_errno) : "");
	if (want_ret == 0)
		step(ret == 0 && value == want_value, name, detail);
	else
		step(ret == want_ret && e == want_errno, name, detail);
}

int main(int argc, char **argv)
{
	char path[4096], detail[4200];
	struct minimal_add add;
	drmVersionPtr v;
	unsigned minor = 0;
	int fd, r;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: %s ROOT [N]\n", argv[0]);
		return 2;
	}
	if (argc == 3)
		minor = (unsigned)strtoul(argv[2], NULL, 10);
	snprintf(path, sizeof path, "%s/accel/accel%u", argv[1], minor);

	fd = open(path, O_RDWR | O_CLOEXEC);
	snprintf(detail, sizeof detail, "%s%s%s", path, fd < 0 ? ": " : "", fd < 0 ? strerror(errno) : "");
	step(fd >= 0, "open compute node", detail);
	if (fd < 0)
		return 1;

	v = drmGetVersion(fd);
	if (!v) {
		snprintf(detail, sizeof detail, "NULL (%s)", strerror(errno));
		step(0, "drmGetVersion", detail);
	} else {
		snprintf(detail, sizeof detail, "%s %d.%d.%d, date \"%s\", desc \"%s\"", v->name ? v->name : "(null)",
			 v->version_major, v->version_minor, v->version_patchlevel, v->date ? v->date : "(null)",
			 v->desc ? v->desc : "(null)");
		step(v->name && strcmp(v->name, "minimal") == 0 && v->name_len == 7 && v->version_major == 1 &&
			     v->version_minor == 0 && v->version_patchlevel == 0 && v->desc &&
			     strcmp(v->desc, "accel minimal example driver") == 0,
		     "drmGetVersion", detail);
		drmFreeVersion(v);
	}

	memset(&add, 0, sizeof add);
	add.a = 1000000;
	add.b = 234567;
	r = drmIoctl(fd, MINIMAL_IOCTL_ADD, &add);
	if (r != 0)
		snprintf(detail, sizeof detail, "returned %d, %s", r, strerror(errno));
	else
		snprintf(detail, sizeof detail, "sum %llu, call %llu on this file", (unsigned long long)add.sum,
			 (unsigned long long)add.calls);
	step(r == 0 && add.sum == 1234567 && add.calls == 1, "drmIoctl(MINIMAL_IOCTL_ADD)", detail);

	add.flags = 1; /* unknown flags: the driver refuses them */
	errno = 0;
	r = drmIoctl(fd, MINIMAL_IOCTL_ADD, &add);
	snprintf(detail, sizeof detail, "returned %d, errno %s (want -1, %s)", r, strerror(errno), strerror(EINVAL));
	step(r == -1 && errno == EINVAL, "drmIoctl(MINIMAL_IOCTL_ADD) with unknown flags", detail);

	check_cap(fd, DRM_CAP_PRIME, "drmGetCap(DRM_CAP_PRIME)", 0, 0, 0); /* no dma-buf sharing yet */
	check_cap(fd, DRM_CAP_TIMESTAMP_MONOTONIC, "drmGetCap(DRM_CAP_TIMESTAMP_MONOTONIC)", 0, 1, 0);
	check_cap(fd, 0x7fff, "drmGetCap(unknown capability 0x7fff)", -1, 0, EOPNOTSUPP);

	snprintf(detail, sizeof detail, "%s", close(fd) == 0 ? "" : strerror(errno));
	step(detail[0] == '\0', "close", detail);

	printf("%s: %d failed step(s)\n", failures ? "FAILED" : "PASSED", failures);
	return failures ? 1 : 0;
}

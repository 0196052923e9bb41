/* SPDX-License-Identifier: MIT */
/*
 * A C11 client of an accel device that knows nothing of accel but its uAPI headers: only
 * <accel/uapi/...h>, the minimal driver's minimal_uapi.h and libc. Against a device served by
 * accel-serve (the minimal driver) it checks, step by step:
 *   open the compute node, VERSION (lengths, then strings), INFO (length 0, then the buffer),
 *   MINIMAL_IOCTL_ADD, an unknown driver ioctl (-1/EINVAL), the monitor node refusing
 *   MINIMAL_IOCTL_ADD (-1/EACCES), close.
 *
 *   c_client ROOT [N]    ROOT: the mount point; N: the device minor (default 0)
 *
 * Prints one line per step; exits 0 only when every step behaved as expected, 1 otherwise,
 * 2 on a usage error.
 */
/* POSIX.1-2008 for O_CLOEXEC: the program is strict C11 (no GNU extensions). */
#define _POSIX_C_SOURCE 200809L

#include <accel/uapi/accel_drm.h>
#include <accel/uapi/accel_info.h>
#include <minimal_uapi.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int failures;

static void step(int ok, const char *what, const char *detail)
{
	printf("%s: %s%s%s\n", ok ? "ok  " : "FAIL", what, detail[0] ? ": " : "", detail);
	if (!ok)
		++failures;
}

static __u64 user_ptr(const void *p)
{
	return (__u64)(uintptr_t)p;
}

/* ioctl retried on EINTR/EAGAIN, as libdrm's drmIoctl does. */
static int xioctl(int fd, unsigned long request, void *arg)
{
	int r;
	do
		r = ioctl(fd, request, arg);
	while (r == -1 && (errno == EINTR || errno == EAGAIN));
	return r;
}

static void check_version(int fd)
{
	struct accel_version v;
	char detail[256];
	char *name = NULL, *date = NULL, *desc = NULL;

	memset(&v, 0, sizeof v);
	if (xioctl(fd, ACCEL_IOCTL_VERSION, &v) != 0) {
		snprintf(detail, sizeof detail, "%s", strerror(errno));
		step(0, "VERSION (lengths)", detail);
		return;
	}
	snprintf(detail, sizeof detail, "name_len %llu, date_len %llu, desc_len %llu",
		 (unsigned long long)v.name_len, (unsigned long long)v.date_len, (unsigned long long)v.desc_len);
	step(v.name_len == 7 && v.date_len > 0 && v.desc_len > 0 && v.name_len < 4096 && v.date_len < 4096 &&
		     v.desc_len < 4096,
	     "VERSION (lengths)", detail);
	if (v.name_len >= 4096 || v.date_len >= 4096 || v.desc_len >= 4096)
		return;

	/* One spare byte each for the terminator the ioctl does not write. */
	name = calloc(1, (size_t)v.name_len + 1);
	date = calloc(1, (size_t)v.date_len + 1);
	desc = calloc(1, (size_t)v.desc_len + 1);
	if (!name || !date || !desc) {
		step(0, "VERSION (strings)", "out of memory");
		goto out;
	}
	v.name = user_ptr(name);
	v.date = user_ptr(date);
	v.desc = user_ptr(desc);
	if (xioctl(fd, ACCEL_IOCTL_VERSION, &v) != 0) {
		snprintf(detail, sizeof detail, "%s", strerror(errno));
		step(0, "VERSION (strings)", detail);
		goto out;
	}
	snprintf(detail, sizeof detail, "%s %d.%d.%d, date \"%s\", \"%s\"", name, v.version_major, v.version_minor,
		 v.version_patchlevel, date, desc);
	step(strcmp(name, "minimal") == 0 && v.version_major == 1 && v.version_minor == 0 &&
		     v.version_patchlevel == 0 && strcmp(desc, "accel minimal example driver") == 0,
	     "VERSION (strings)", detail);
out:
	free(name);
	free(date);
	free(desc);
}

static void check_info(int fd, unsigned minor)
{
	struct accel_info_item items[2];
	struct accel_info req;
	struct accel_info_identity id;
	struct accel_info_status st;
	char detail[256];

	memset(items, 0, sizeof items);
	memset(&req, 0, sizeof req);
	items[0].id = ACCEL_INFO_IDENTITY;
	items[1].id = ACCEL_INFO_STATUS;
	req.num_items = 2;
	req.items = user_ptr(items);
	if (xioctl(fd, ACCEL_IOCTL_INFO, &req) != 0) {
		snprintf(detail, sizeof detail, "%s", strerror(errno));
		step(0, "INFO (sizes, length 0)", detail);
		return;
	}
	snprintf(detail, sizeof detail, "identity needs %d bytes (struct: %zu), status %d (struct: %zu)",
		 items[0].length, sizeof id, items[1].length, sizeof st);
	step(items[0].length == (__s32)sizeof id && items[1].length == (__s32)sizeof st, "INFO (sizes, length 0)",
	     detail);
	if (items[0].length != (__s32)sizeof id || items[1].length != (__s32)sizeof st)
		return;

	memset(&id, 0, sizeof id);
	memset(&st, 0, sizeof st);
	items[0].data = user_ptr(&id);
	items[1].data = user_ptr(&st);
	if (xioctl(fd, ACCEL_IOCTL_INFO, &req) != 0) {
		snprintf(detail, sizeof detail, "%s", strerror(errno));
		step(0, "INFO (data)", detail);
		return;
	}
	id.name[sizeof id.name - 1] = '\0';
	snprintf(detail, sizeof detail, "written %d + %d bytes: %s %u.%u.%u, minor %u, client id %llu; %u open file(s)",
		 items[0].length, items[1].length, id.name, id.version_major, id.version_minor,
		 id.version_patchlevel, id.minor, (unsigned long long)id.client_id, st.open_files);
	step(items[0].length == (__s32)sizeof id && items[1].length == (__s32)sizeof st &&
		     strcmp(id.name, "minimal") == 0 && id.version_major == 1 && id.minor == minor &&
		     id.client_id > 0 && st.state == ACCEL_STATE_OPERATIONAL && st.open_files >= 1,
	     "INFO (data)", detail);

	/* Too short a buffer: the item, not the ioctl, reports -EINVAL. */
	items[0].length = (__s32)sizeof id - 1;
	items[1].length = 0;
	if (xioctl(fd, ACCEL_IOCTL_INFO, &req) != 0) {
		snprintf(detail, sizeof detail, "%s", strerror(errno));
		step(0, "INFO (short buffer)", detail);
		return;
	}
	snprintf(detail, sizeof detail, "item length %d (want %d)", items[0].length, -EINVAL);
	step(items[0].length == -EINVAL, "INFO (short buffer)", detail);
}

static void check_add(int fd)
{
	struct minimal_add add;
	char detail[128];

	memset(&add, 0, sizeof add);
	add.a = 40;
	add.b = 2;
	if (xioctl(fd, MINIMAL_IOCTL_ADD, &add) != 0) {
		snprintf(detail, sizeof detail, "%s", strerror(errno));
		step(0, "MINIMAL_IOCTL_ADD 40 + 2", detail);
		return;
	}
	snprintf(detail, sizeof detail, "sum %llu, call %llu on this file", (unsigned long long)add.sum,
		 (unsigned long long)add.calls);
	step(add.sum == 42 && add.calls == 1, "MINIMAL_IOCTL_ADD 40 + 2", detail);
}

static void expect_errno(int fd, unsigned long request, void *arg, int want, const char *what)
{
	char detail[128];
	int r = xioctl(fd, request, arg);
	int e = r == -1 ? errno : 0;

	snprintf(detail, sizeof detail, "returned %d, errno %s (want -1, %s)", r, e ? strerror(e) : "unset",
		 strerror(want));
	step(r == -1 && e == want, what, detail);
}

int main(int argc, char **argv)
{
	char compute[4096], monitor[4096], detail[4200];
	struct minimal_add add;
	unsigned minor = 0;
	int fd, mfd;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: %s ROOT [N]\n", argv[0]);
		return 2;
	}
	if (argc == 3)
		minor = (unsigned)strtoul(argv[2], NULL, 10);
	snprintf(compute, sizeof compute, "%s/accel/accel%u", argv[1], minor);
	snprintf(monitor, sizeof monitor, "%s/accel/accel_controlD%u", argv[1], minor);

	fd = open(compute, O_RDWR | O_CLOEXEC);
	snprintf(detail, sizeof detail, "%s%s%s", compute, fd < 0 ? ": " : "", fd < 0 ? strerror(errno) : "");
	step(fd >= 0, "open compute node", detail);
	if (fd < 0)
		return 1;

	check_version(fd);
	check_info(fd, minor);
	check_add(fd);

	memset(&add, 0, sizeof add);
	expect_errno(fd, ACCEL_IOWR(ACCEL_COMMAND_BASE + 0x1f, struct minimal_add), &add, EINVAL,
		     "unknown driver ioctl");
	expect_errno(fd, ACCEL_IOWR(0x3f, struct minimal_add), &add, EINVAL, "unknown core ioctl");

	mfd = open(monitor, O_RDWR | O_CLOEXEC);
	snprintf(detail, sizeof detail, "%s%s%s", monitor, mfd < 0 ? ": " : "", mfd < 0 ? strerror(errno) : "");
	step(mfd >= 0, "open monitor node", detail);
	if (mfd >= 0) {
		add.a = 1;
		add.b = 2;
		expect_errno(mfd, MINIMAL_IOCTL_ADD, &add, EACCES, "MINIMAL_IOCTL_ADD on the monitor node");
		snprintf(detail, sizeof detail, "%s", close(mfd) == 0 ? "" : strerror(errno));
		step(detail[0] == '\0', "close monitor node", detail);
	}

	snprintf(detail, sizeof detail, "%s", close(fd) == 0 ? "" : strerror(errno));
	step(detail[0] == '\0', "close compute node", detail);

	printf("%s: %d failed step(s)\n", failures ? "FAILED" : "PASSED", failures);
	return failures ? 1 : 0;
}

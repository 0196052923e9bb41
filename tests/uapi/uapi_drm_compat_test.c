/* SPDX-License-Identifier: MIT */
/*
 * Layout compatibility with the real DRM uAPI: includes libdrm's <drm.h> next to the accel uAPI
 * headers (proving the names do not clash) and asserts that request numbers, struct sizes and
 * field offsets are equal. Built only when libdrm's headers are found (pkg-config libdrm).
 */
#define _POSIX_C_SOURCE 200809L /* O_CLOEXEC in strict C11 (DRM_CLOEXEC and ACCEL_CLOEXEC use it) */
#include <drm.h>

#include <accel/uapi/accel_drm.h>
#include <accel/uapi/accel_info.h>

#include <fcntl.h>
#include <stddef.h>

#define SAME_SIZE(a, b) _Static_assert(sizeof(struct a) == sizeof(struct b), "sizeof " #a " != " #b)
#define SAME_FIELD(a, b, fa, fb)                                                                     \
	_Static_assert(offsetof(struct a, fa) == offsetof(struct b, fb), "offsetof " #a "." #fa);    \
	_Static_assert(sizeof(((struct a *)0)->fa) == sizeof(((struct b *)0)->fb), "sizeof " #a "." #fa)
#define SAME(x, y) _Static_assert((x) == (y), #x " != " #y)

SAME(ACCEL_IOCTL_BASE, DRM_IOCTL_BASE);
SAME(ACCEL_COMMAND_BASE, DRM_COMMAND_BASE);
SAME(ACCEL_CLOEXEC, DRM_CLOEXEC);
SAME(ACCEL_RDWR, DRM_RDWR);
SAME(ACCEL_COMMAND_END, DRM_COMMAND_END);
SAME(ACCEL_CAP_PRIME, DRM_CAP_PRIME);
SAME(ACCEL_PRIME_CAP_IMPORT, DRM_PRIME_CAP_IMPORT);
SAME(ACCEL_PRIME_CAP_EXPORT, DRM_PRIME_CAP_EXPORT);
SAME(ACCEL_CAP_TIMESTAMP_MONOTONIC, DRM_CAP_TIMESTAMP_MONOTONIC);
SAME(ACCEL_CAP_SYNCOBJ, DRM_CAP_SYNCOBJ);
SAME(ACCEL_CAP_SYNCOBJ_TIMELINE, DRM_CAP_SYNCOBJ_TIMELINE);

/* Syncobjs. libdrm's drm.h may predate Linux 6.4's deadline_nsec: the wait structs are compared
 * field by field, and the request numbers of the older, shorter structs must be what the
 * dispatcher's size rules accept (same number, smaller size). */
SAME(ACCEL_IOCTL_SYNCOBJ_CREATE, DRM_IOCTL_SYNCOBJ_CREATE);
SAME(ACCEL_IOCTL_SYNCOBJ_DESTROY, DRM_IOCTL_SYNCOBJ_DESTROY);
/* drm_syncobj_handle gained `point` (timeline import/export) after libdrm 2.4.114's header. */
SAME(_IOC_NR(ACCEL_IOCTL_SYNCOBJ_HANDLE_TO_FD), _IOC_NR(DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD));
SAME(_IOC_NR(ACCEL_IOCTL_SYNCOBJ_FD_TO_HANDLE), _IOC_NR(DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE));
_Static_assert(sizeof(struct drm_syncobj_handle) <= sizeof(struct accel_syncobj_handle), "handle size");
SAME(ACCEL_IOCTL_SYNCOBJ_RESET, DRM_IOCTL_SYNCOBJ_RESET);
SAME(ACCEL_IOCTL_SYNCOBJ_SIGNAL, DRM_IOCTL_SYNCOBJ_SIGNAL);
SAME(ACCEL_IOCTL_SYNCOBJ_QUERY, DRM_IOCTL_SYNCOBJ_QUERY);
SAME(ACCEL_IOCTL_SYNCOBJ_TRANSFER, DRM_IOCTL_SYNCOBJ_TRANSFER);
SAME(ACCEL_IOCTL_SYNCOBJ_TIMELINE_SIGNAL, DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL);
SAME(_IOC_NR(ACCEL_IOCTL_SYNCOBJ_WAIT), _IOC_NR(DRM_IOCTL_SYNCOBJ_WAIT));
SAME(_IOC_NR(ACCEL_IOCTL_SYNCOBJ_TIMELINE_WAIT), _IOC_NR(DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT));
_Static_assert(sizeof(struct drm_syncobj_wait) <= sizeof(struct accel_syncobj_wait), "wait size");
_Static_assert(sizeof(struct drm_syncobj_timeline_wait) <= sizeof(struct accel_syncobj_timeline_wait), "timeline wait size");
SAME(ACCEL_SYNCOBJ_CREATE_SIGNALED, DRM_SYNCOBJ_CREATE_SIGNALED);
SAME(ACCEL_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE, DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE);
SAME(ACCEL_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE, DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE);
SAME(ACCEL_SYNCOBJ_WAIT_FLAGS_WAIT_ALL, DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL);
SAME(ACCEL_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT, DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT);
SAME(ACCEL_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE, DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE);
SAME(ACCEL_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED, DRM_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED);
SAME_SIZE(accel_syncobj_create, drm_syncobj_create);
SAME_FIELD(accel_syncobj_handle, drm_syncobj_handle, flags, flags);
SAME_FIELD(accel_syncobj_handle, drm_syncobj_handle, fd, fd);
SAME_SIZE(accel_syncobj_transfer, drm_syncobj_transfer);
SAME_FIELD(accel_syncobj_transfer, drm_syncobj_transfer, dst_point, dst_point);
SAME_FIELD(accel_syncobj_wait, drm_syncobj_wait, count_handles, count_handles);
SAME_FIELD(accel_syncobj_wait, drm_syncobj_wait, first_signaled, first_signaled);
SAME_FIELD(accel_syncobj_timeline_wait, drm_syncobj_timeline_wait, points, points);
SAME_FIELD(accel_syncobj_timeline_wait, drm_syncobj_timeline_wait, first_signaled, first_signaled);
SAME_SIZE(accel_syncobj_array, drm_syncobj_array);
SAME_SIZE(accel_syncobj_timeline_array, drm_syncobj_timeline_array);
SAME_FIELD(accel_syncobj_timeline_array, drm_syncobj_timeline_array, flags, flags);

/* struct drm_version holds size_t and pointers: equal to accel_version on LP64 only. */
#if defined(__LP64__) || defined(_LP64)
SAME(ACCEL_IOCTL_VERSION, DRM_IOCTL_VERSION);
SAME_SIZE(accel_version, drm_version);
SAME_FIELD(accel_version, drm_version, version_major, version_major);
SAME_FIELD(accel_version, drm_version, version_minor, version_minor);
SAME_FIELD(accel_version, drm_version, version_patchlevel, version_patchlevel);
SAME_FIELD(accel_version, drm_version, name_len, name_len);
SAME_FIELD(accel_version, drm_version, name, name);
SAME_FIELD(accel_version, drm_version, date_len, date_len);
SAME_FIELD(accel_version, drm_version, date, date);
SAME_FIELD(accel_version, drm_version, desc_len, desc_len);
SAME_FIELD(accel_version, drm_version, desc, desc);
#endif

SAME(ACCEL_IOCTL_GET_CAP, DRM_IOCTL_GET_CAP);
SAME_SIZE(accel_get_cap, drm_get_cap);
SAME_FIELD(accel_get_cap, drm_get_cap, capability, capability);
SAME_FIELD(accel_get_cap, drm_get_cap, value, value);

SAME(ACCEL_IOCTL_GEM_CLOSE, DRM_IOCTL_GEM_CLOSE);
SAME_SIZE(accel_gem_close, drm_gem_close);
SAME_FIELD(accel_gem_close, drm_gem_close, handle, handle);
SAME_FIELD(accel_gem_close, drm_gem_close, pad, pad);

SAME(ACCEL_IOCTL_PRIME_HANDLE_TO_FD, DRM_IOCTL_PRIME_HANDLE_TO_FD);
SAME(ACCEL_IOCTL_PRIME_FD_TO_HANDLE, DRM_IOCTL_PRIME_FD_TO_HANDLE);
SAME_SIZE(accel_prime_handle, drm_prime_handle);
SAME_FIELD(accel_prime_handle, drm_prime_handle, handle, handle);
SAME_FIELD(accel_prime_handle, drm_prime_handle, flags, flags);
SAME_FIELD(accel_prime_handle, drm_prime_handle, fd, fd);

/* DRM_IOCTL_SET_CLIENT_NAME is recent (Linux 6.13): older libdrm headers lack it. */
#ifdef DRM_IOCTL_SET_CLIENT_NAME
SAME(ACCEL_IOCTL_SET_CLIENT_NAME, DRM_IOCTL_SET_CLIENT_NAME);
SAME_SIZE(accel_set_client_name, drm_set_client_name);
SAME_FIELD(accel_set_client_name, drm_set_client_name, name_len, name_len);
SAME_FIELD(accel_set_client_name, drm_set_client_name, name, name);
SAME(ACCEL_CLIENT_NAME_MAX_LEN, DRM_CLIENT_NAME_MAX_LEN);
#define HAVE_SET_CLIENT_NAME 1
#else
/* Built the way drm.h will: _IOWR('d', 0xD1, a 16-byte struct of two __u64). */
struct drm_set_client_name_expected {
	__u64 name_len;
	__u64 name;
};
SAME(ACCEL_IOCTL_SET_CLIENT_NAME, DRM_IOWR(0xD1, struct drm_set_client_name_expected));
#define HAVE_SET_CLIENT_NAME 0
#endif

/* INFO must never collide with a DRM number: its type byte is not DRM's. */
_Static_assert(_IOC_TYPE(ACCEL_IOCTL_INFO) != DRM_IOCTL_BASE, "INFO uses its own type byte");

int main(void)
{
	return HAVE_SET_CLIENT_NAME - HAVE_SET_CLIENT_NAME;
}

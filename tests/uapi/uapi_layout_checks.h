/* SPDX-License-Identifier: MIT */
/*
 * Compile-time checks of the accel uAPI: struct sizes, field offsets and sizes, 8-byte alignment
 * of every __u64 field, no implicit padding, ioctl numbers and ABI constants. Written once, valid
 * as C11 (uapi_c11_test.c) and as C++ (uapi_cxx_test.cpp).
 *
 * The include list below must name every header in include/accel/uapi/: the CTest test
 * uapi.header_list_complete fails when a header is missing here, so a new uAPI header gets its
 * layout checks added next to the others.
 */
#ifndef ACCEL_TESTS_UAPI_LAYOUT_CHECKS_H
#define ACCEL_TESTS_UAPI_LAYOUT_CHECKS_H

#include <accel/uapi/accel_drm.h>
#include <accel/uapi/accel_fd.h>
#include <accel/uapi/accel_info.h>
#include <accel/uapi/accel_mmap.h>
#include <accel/uapi/accel_monitor.h>
#include <accel/uapi/accel_reset.h>

#include <stddef.h>

#ifdef __cplusplus
#define UAPI_ASSERT(expr, msg) static_assert(expr, msg)
#else
#define UAPI_ASSERT(expr, msg) _Static_assert(expr, msg)
#endif

#define UAPI_FIELD_SIZE(type, field) sizeof(((type *)0)->field)

/* A field at a fixed offset with a fixed size. */
#define UAPI_FIELD(type, field, off, size)                                                     \
	UAPI_ASSERT(offsetof(type, field) == (off), "offsetof(" #type ", " #field ") != " #off); \
	UAPI_ASSERT(UAPI_FIELD_SIZE(type, field) == (size), "sizeof(" #type "." #field ") != " #size)
/* A __u64 field: 8 bytes at an 8-byte aligned offset (same layout on i386 and x86-64). */
#define UAPI_U64(type, field, off)                                                              \
	UAPI_FIELD(type, field, off, 8);                                                        \
	UAPI_ASSERT(offsetof(type, field) % 8 == 0, #type "." #field " is not 8-byte aligned")
/* The struct's size, and that its last field ends it (no tail padding). */
#define UAPI_SIZE(type, size, last)                                                             \
	UAPI_ASSERT(sizeof(type) == (size), "sizeof(" #type ") != " #size);                     \
	UAPI_ASSERT(offsetof(type, last) + UAPI_FIELD_SIZE(type, last) == sizeof(type),          \
		    #type " has tail padding after " #last)
/* A struct holding __u64 fields or used as an array element after an 8-byte header. */
#define UAPI_SIZE_MULTIPLE_OF_8(type) UAPI_ASSERT(sizeof(type) % 8 == 0, "sizeof(" #type ") is not a multiple of 8")

/* Every request number, decomposed (valid on every architecture's _IOC encoding). */
#define UAPI_IOCTL(cmd, dir, type_byte, nr, size)                                               \
	UAPI_ASSERT(_IOC_DIR(cmd) == (dir), #cmd ": direction");                                \
	UAPI_ASSERT(_IOC_TYPE(cmd) == (type_byte), #cmd ": type byte");                         \
	UAPI_ASSERT(_IOC_NR(cmd) == (nr), #cmd ": number");                                     \
	UAPI_ASSERT(_IOC_SIZE(cmd) == (size), #cmd ": size")

/* ---- accel_drm.h: the layouts of struct drm_version & co. on LP64 ---- */

/* struct drm_version: three ints, padding, then six size_t / pointers: 64 bytes on LP64. */
UAPI_FIELD(struct accel_version, version_major, 0, 4);
UAPI_FIELD(struct accel_version, version_minor, 4, 4);
UAPI_FIELD(struct accel_version, version_patchlevel, 8, 4);
UAPI_FIELD(struct accel_version, __pad, 12, 4);
UAPI_U64(struct accel_version, name_len, 16);
UAPI_U64(struct accel_version, name, 24);
UAPI_U64(struct accel_version, date_len, 32);
UAPI_U64(struct accel_version, date, 40);
UAPI_U64(struct accel_version, desc_len, 48);
UAPI_U64(struct accel_version, desc, 56);
UAPI_SIZE(struct accel_version, 64, desc);

UAPI_U64(struct accel_get_cap, capability, 0);
UAPI_U64(struct accel_get_cap, value, 8);
UAPI_SIZE(struct accel_get_cap, 16, value);

UAPI_FIELD(struct accel_gem_close, handle, 0, 4);
UAPI_FIELD(struct accel_gem_close, pad, 4, 4);
UAPI_SIZE(struct accel_gem_close, 8, pad);

UAPI_FIELD(struct accel_prime_handle, handle, 0, 4);
UAPI_FIELD(struct accel_prime_handle, flags, 4, 4);
UAPI_FIELD(struct accel_prime_handle, fd, 8, 4);
UAPI_SIZE(struct accel_prime_handle, 12, fd);

UAPI_U64(struct accel_set_client_name, name_len, 0);
UAPI_U64(struct accel_set_client_name, name, 8);
UAPI_SIZE(struct accel_set_client_name, 16, name);

UAPI_FIELD(struct accel_syncobj_create, handle, 0, 4);
UAPI_FIELD(struct accel_syncobj_create, flags, 4, 4);
UAPI_SIZE(struct accel_syncobj_create, 8, flags);
UAPI_SIZE(struct accel_syncobj_destroy, 8, pad);
UAPI_FIELD(struct accel_syncobj_handle, flags, 4, 4);
UAPI_FIELD(struct accel_syncobj_handle, fd, 8, 4);
UAPI_U64(struct accel_syncobj_handle, point, 16);
UAPI_SIZE(struct accel_syncobj_handle, 24, point);
UAPI_U64(struct accel_syncobj_transfer, src_point, 8);
UAPI_U64(struct accel_syncobj_transfer, dst_point, 16);
UAPI_FIELD(struct accel_syncobj_transfer, flags, 24, 4);
UAPI_SIZE(struct accel_syncobj_transfer, 32, pad);
UAPI_U64(struct accel_syncobj_wait, handles, 0);
UAPI_U64(struct accel_syncobj_wait, timeout_nsec, 8);
UAPI_FIELD(struct accel_syncobj_wait, count_handles, 16, 4);
UAPI_FIELD(struct accel_syncobj_wait, first_signaled, 24, 4);
UAPI_U64(struct accel_syncobj_wait, deadline_nsec, 32);
UAPI_SIZE(struct accel_syncobj_wait, 40, deadline_nsec);
UAPI_U64(struct accel_syncobj_timeline_wait, points, 8);
UAPI_U64(struct accel_syncobj_timeline_wait, timeout_nsec, 16);
UAPI_FIELD(struct accel_syncobj_timeline_wait, count_handles, 24, 4);
UAPI_FIELD(struct accel_syncobj_timeline_wait, first_signaled, 32, 4);
UAPI_U64(struct accel_syncobj_timeline_wait, deadline_nsec, 40);
UAPI_SIZE(struct accel_syncobj_timeline_wait, 48, deadline_nsec);
UAPI_U64(struct accel_syncobj_eventfd, point, 8);
UAPI_FIELD(struct accel_syncobj_eventfd, fd, 16, 4);
UAPI_SIZE(struct accel_syncobj_eventfd, 24, pad);
UAPI_U64(struct accel_syncobj_array, handles, 0);
UAPI_FIELD(struct accel_syncobj_array, count_handles, 8, 4);
UAPI_SIZE(struct accel_syncobj_array, 16, pad);
UAPI_U64(struct accel_syncobj_timeline_array, points, 8);
UAPI_FIELD(struct accel_syncobj_timeline_array, count_handles, 16, 4);
UAPI_SIZE(struct accel_syncobj_timeline_array, 24, flags);

UAPI_ASSERT(ACCEL_IOCTL_BASE == 'd', "DRM_IOCTL_BASE is 'd'");
UAPI_ASSERT(ACCEL_COMMAND_BASE == 0x40 && ACCEL_COMMAND_END == 0xA0, "DRM_COMMAND_BASE/END");
UAPI_ASSERT(ACCEL_CAP_PRIME == 0x5 && ACCEL_PRIME_CAP_IMPORT == 0x1 && ACCEL_PRIME_CAP_EXPORT == 0x2,
	    "DRM_CAP_PRIME and its bits");
UAPI_ASSERT(ACCEL_CAP_TIMESTAMP_MONOTONIC == 0x6, "DRM_CAP_TIMESTAMP_MONOTONIC");
UAPI_ASSERT(ACCEL_CAP_SYNCOBJ == 0x13 && ACCEL_CAP_SYNCOBJ_TIMELINE == 0x14, "DRM_CAP_SYNCOBJ(_TIMELINE)");
UAPI_ASSERT(ACCEL_CLIENT_NAME_MAX_LEN == 64, "DRM_CLIENT_NAME_MAX_LEN");
UAPI_ASSERT(ACCEL_MAJOR == 261 && ACCEL_MAX_MINORS == 256, "ACCEL_MAJOR / ACCEL_MAX_MINORS of the kernel");

UAPI_IOCTL(ACCEL_IOCTL_VERSION, _IOC_READ | _IOC_WRITE, 'd', 0x00, 64);
UAPI_IOCTL(ACCEL_IOCTL_GEM_CLOSE, _IOC_WRITE, 'd', 0x09, 8);
UAPI_IOCTL(ACCEL_IOCTL_GET_CAP, _IOC_READ | _IOC_WRITE, 'd', 0x0c, 16);
UAPI_IOCTL(ACCEL_IOCTL_PRIME_HANDLE_TO_FD, _IOC_READ | _IOC_WRITE, 'd', 0x2d, 12);
UAPI_IOCTL(ACCEL_IOCTL_PRIME_FD_TO_HANDLE, _IOC_READ | _IOC_WRITE, 'd', 0x2e, 12);
UAPI_IOCTL(ACCEL_IOCTL_SET_CLIENT_NAME, _IOC_READ | _IOC_WRITE, 'd', 0xD1, 16);
UAPI_ASSERT(ACCEL_IOCTL_SYNCOBJ_CREATE == 0xC00864BF && ACCEL_IOCTL_SYNCOBJ_DESTROY == 0xC00864C0, "SYNCOBJ_CREATE/DESTROY");
UAPI_ASSERT(ACCEL_IOCTL_SYNCOBJ_HANDLE_TO_FD == 0xC01864C1 && ACCEL_IOCTL_SYNCOBJ_FD_TO_HANDLE == 0xC01864C2, "SYNCOBJ_HANDLE_TO_FD/FD_TO_HANDLE");
UAPI_ASSERT(ACCEL_IOCTL_SYNCOBJ_WAIT == 0xC02864C3 && ACCEL_IOCTL_SYNCOBJ_TIMELINE_WAIT == 0xC03064CA, "SYNCOBJ_WAIT/TIMELINE_WAIT (6.4 sizes)");
UAPI_ASSERT(ACCEL_IOCTL_SYNCOBJ_RESET == 0xC01064C4 && ACCEL_IOCTL_SYNCOBJ_SIGNAL == 0xC01064C5, "SYNCOBJ_RESET/SIGNAL");
UAPI_ASSERT(ACCEL_IOCTL_SYNCOBJ_QUERY == 0xC01864CB && ACCEL_IOCTL_SYNCOBJ_TRANSFER == 0xC02064CC, "SYNCOBJ_QUERY/TRANSFER");
UAPI_ASSERT(ACCEL_IOCTL_SYNCOBJ_TIMELINE_SIGNAL == 0xC01864CD && ACCEL_IOCTL_SYNCOBJ_EVENTFD == 0xC01864CF, "SYNCOBJ_TIMELINE_SIGNAL/EVENTFD");
UAPI_ASSERT(ACCEL_SYNCOBJ_WAIT_FLAGS_WAIT_ALL == 1 && ACCEL_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT == 2 &&
	    ACCEL_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE == 4 && ACCEL_SYNCOBJ_WAIT_FLAGS_WAIT_DEADLINE == 8, "DRM_SYNCOBJ_WAIT_FLAGS_*");
UAPI_IOCTL(ACCEL_IOCTL_INFO, _IOC_READ | _IOC_WRITE, 0xAC, 0x00, 16);
UAPI_IOCTL(ACCEL_IOCTL_MMAP_PREPARE, _IOC_WRITE, 0xAC, 0x01, 24);
UAPI_IOCTL(ACCEL_IOCTL_RESET, _IOC_WRITE, 0xAC, 0x02, 8);

/* The literal values of drm.h on the generic _IOC encoding (x86, x86-64, arm64, riscv...). */
#if _IOC_NRBITS == 8 && _IOC_TYPEBITS == 8 && _IOC_SIZEBITS == 14 && _IOC_DIRBITS == 2
UAPI_ASSERT(ACCEL_IOCTL_VERSION == 0xc0406400u, "DRM_IOCTL_VERSION");
UAPI_ASSERT(ACCEL_IOCTL_GEM_CLOSE == 0x40086409u, "DRM_IOCTL_GEM_CLOSE");
UAPI_ASSERT(ACCEL_IOCTL_GET_CAP == 0xc010640cu, "DRM_IOCTL_GET_CAP");
UAPI_ASSERT(ACCEL_IOCTL_PRIME_HANDLE_TO_FD == 0xc00c642du, "DRM_IOCTL_PRIME_HANDLE_TO_FD");
UAPI_ASSERT(ACCEL_IOCTL_PRIME_FD_TO_HANDLE == 0xc00c642eu, "DRM_IOCTL_PRIME_FD_TO_HANDLE");
UAPI_ASSERT(ACCEL_IOCTL_SET_CLIENT_NAME == 0xc01064d1u, "DRM_IOCTL_SET_CLIENT_NAME");
UAPI_ASSERT(ACCEL_IOCTL_INFO == 0xc010ac00u, "ACCEL_IOCTL_INFO");
UAPI_ASSERT(ACCEL_IOCTL_MMAP_PREPARE == 0x4018ac01u, "ACCEL_IOCTL_MMAP_PREPARE");
#endif

/* ---- accel_info.h ---- */

UAPI_ASSERT(ACCEL_INFO_IOCTL_BASE == 0xAC && ACCEL_INFO_MAX_ITEMS == 64, "INFO type byte and item limit");
UAPI_ASSERT(ACCEL_INFO_IDENTITY == 1 && ACCEL_INFO_MEMORY_REGIONS == 2 && ACCEL_INFO_ENGINES == 3 &&
		    ACCEL_INFO_CAPABILITIES == 4 && ACCEL_INFO_STATUS == 5 && ACCEL_INFO_MEMORY_USAGE == 6 &&
		    ACCEL_INFO_ENGINE_BUSY == 7,
	    "enum accel_info_id values are ABI");
UAPI_ASSERT(ACCEL_MEMORY_SYSTEM == 0 && ACCEL_MEMORY_DEVICE == 1 && ACCEL_MEMORY_SRAM == 2,
	    "enum accel_memory_kind values are ABI");
UAPI_ASSERT(ACCEL_STATE_OPERATIONAL == 0 && ACCEL_STATE_IN_RESET == 1 && ACCEL_STATE_MALFUNCTION == 2 &&
		    ACCEL_STATE_NEEDS_RESET == 3,
	    "enum accel_device_state values are ABI");
UAPI_ASSERT(ACCEL_INFO_CAP_PRIME == 1 && ACCEL_INFO_CAP_MMU == 2 && ACCEL_INFO_CAP_EXCLUSIVE == 4,
	    "ACCEL_INFO_CAP_* bits are ABI");

UAPI_FIELD(struct accel_info_item, id, 0, 4);
UAPI_FIELD(struct accel_info_item, length, 4, 4);
UAPI_FIELD(struct accel_info_item, flags, 8, 4);
UAPI_FIELD(struct accel_info_item, pad, 12, 4);
UAPI_U64(struct accel_info_item, data, 16);
UAPI_SIZE(struct accel_info_item, 24, data);
UAPI_SIZE_MULTIPLE_OF_8(struct accel_info_item);

UAPI_FIELD(struct accel_info, num_items, 0, 4);
UAPI_FIELD(struct accel_info, flags, 4, 4);
UAPI_U64(struct accel_info, items, 8);
UAPI_SIZE(struct accel_info, 16, items);

UAPI_FIELD(struct accel_info_identity, version_major, 0, 4);
UAPI_FIELD(struct accel_info_identity, version_minor, 4, 4);
UAPI_FIELD(struct accel_info_identity, version_patchlevel, 8, 4);
UAPI_FIELD(struct accel_info_identity, minor, 12, 4);
UAPI_U64(struct accel_info_identity, client_id, 16);
UAPI_FIELD(struct accel_info_identity, name, 24, 32);
UAPI_FIELD(struct accel_info_identity, desc, 56, 64);
UAPI_SIZE(struct accel_info_identity, 120, desc);
UAPI_SIZE_MULTIPLE_OF_8(struct accel_info_identity);

/* Variable-length items: an 8-byte header, then an array of 8-byte-multiple elements. */
UAPI_FIELD(struct accel_info_memory_regions, count, 0, 4);
UAPI_FIELD(struct accel_info_memory_regions, pad, 4, 4);
UAPI_SIZE(struct accel_info_memory_regions, 8, pad);
UAPI_FIELD(struct accel_info_memory_region, id, 0, 4);
UAPI_FIELD(struct accel_info_memory_region, kind, 4, 4);
UAPI_U64(struct accel_info_memory_region, size, 8);
UAPI_FIELD(struct accel_info_memory_region, name, 16, 32);
UAPI_SIZE(struct accel_info_memory_region, 48, name);
UAPI_SIZE_MULTIPLE_OF_8(struct accel_info_memory_region);

UAPI_FIELD(struct accel_info_engines, count, 0, 4);
UAPI_FIELD(struct accel_info_engines, pad, 4, 4);
UAPI_SIZE(struct accel_info_engines, 8, pad);
UAPI_FIELD(struct accel_info_engine, id, 0, 4);
UAPI_FIELD(struct accel_info_engine, instances, 4, 4);
UAPI_FIELD(struct accel_info_engine, name, 8, 32);
UAPI_SIZE(struct accel_info_engine, 40, name);
UAPI_SIZE_MULTIPLE_OF_8(struct accel_info_engine);

UAPI_U64(struct accel_info_capabilities, flags, 0);
UAPI_U64(struct accel_info_capabilities, page_sizes, 8);
UAPI_FIELD(struct accel_info_capabilities, va_bits, 16, 4);
UAPI_FIELD(struct accel_info_capabilities, pad, 20, 4);
UAPI_SIZE(struct accel_info_capabilities, 24, pad);
UAPI_SIZE_MULTIPLE_OF_8(struct accel_info_capabilities);

UAPI_FIELD(struct accel_info_status, state, 0, 4);
UAPI_FIELD(struct accel_info_status, open_files, 4, 4);
UAPI_U64(struct accel_info_status, reset_count, 8);
UAPI_SIZE(struct accel_info_status, 16, reset_count);

UAPI_FIELD(struct accel_info_memory_usage, count, 0, 4);
UAPI_FIELD(struct accel_info_memory_usage, pad, 4, 4);
UAPI_SIZE(struct accel_info_memory_usage, 8, pad);
UAPI_FIELD(struct accel_info_memory_use, region_id, 0, 4);
UAPI_FIELD(struct accel_info_memory_use, pad, 4, 4);
UAPI_U64(struct accel_info_memory_use, used, 8);
UAPI_SIZE(struct accel_info_memory_use, 16, used);
UAPI_SIZE_MULTIPLE_OF_8(struct accel_info_memory_use);

UAPI_FIELD(struct accel_info_engine_busy, count, 0, 4);
UAPI_FIELD(struct accel_info_engine_busy, pad, 4, 4);
UAPI_SIZE(struct accel_info_engine_busy, 8, pad);
UAPI_FIELD(struct accel_info_engine_time, engine_id, 0, 4);
UAPI_FIELD(struct accel_info_engine_time, pad, 4, 4);
UAPI_U64(struct accel_info_engine_time, busy_ns, 8);
UAPI_SIZE(struct accel_info_engine_time, 16, busy_ns);
UAPI_SIZE_MULTIPLE_OF_8(struct accel_info_engine_time);

/* ---- accel_mmap.h ---- */
UAPI_U64(struct accel_mmap_prepare, offset, 0);
UAPI_U64(struct accel_mmap_prepare, length, 8);
UAPI_FIELD(struct accel_mmap_prepare, prot, 16, 4);
UAPI_FIELD(struct accel_mmap_prepare, flags, 20, 4);
UAPI_SIZE(struct accel_mmap_prepare, 24, flags);
UAPI_SIZE_MULTIPLE_OF_8(struct accel_mmap_prepare);

/* ---- accel_reset.h ---- */
UAPI_FIELD(struct accel_reset_request, flags, 0, 4);
UAPI_FIELD(struct accel_reset_request, pad, 4, 4);
UAPI_SIZE(struct accel_reset_request, 8, pad);

/* ---- accel_fd.h ---- */
UAPI_U64(struct accel_fd_call, cmd, 0);
UAPI_U64(struct accel_fd_call, arg, 8);
UAPI_FIELD(struct accel_fd_call, fd_offset, 16, 4);
UAPI_FIELD(struct accel_fd_call, flags, 20, 4);
UAPI_FIELD(struct accel_fd_call, open_flags, 24, 4);
UAPI_FIELD(struct accel_fd_call, pad, 28, 4);
UAPI_FIELD(struct accel_fd_call, name, 32, 64);
UAPI_FIELD(struct accel_fd_call, data, 96, 64);
UAPI_SIZE(struct accel_fd_call, 160, data);
UAPI_IOCTL(ACCEL_IOCTL_FD_CALL, _IOC_READ | _IOC_WRITE, 0xAC, 0x03, 160);

/* ---- accel_info.h: monitoring items ---- */
UAPI_ASSERT(ACCEL_INFO_CLIENTS == 8 && ACCEL_INFO_CLIENT_ENGINES == 9 && ACCEL_INFO_CLIENT_MEMORY == 10 &&
		    ACCEL_INFO_SENSORS == 11,
	    "monitoring item ids");
UAPI_ASSERT(ACCEL_NODE_COMPUTE == 0 && ACCEL_NODE_MONITOR == 1, "node kinds");
UAPI_ASSERT(ACCEL_SENSOR_TEMP == 0 && ACCEL_SENSOR_IN == 1 && ACCEL_SENSOR_CURR == 2 && ACCEL_SENSOR_POWER == 3 &&
		    ACCEL_SENSOR_ENERGY == 4 && ACCEL_SENSOR_FAN == 5,
	    "sensor types");
UAPI_U64(struct accel_info_client, client_id, 0);
UAPI_FIELD(struct accel_info_client, pid, 8, 4);
UAPI_FIELD(struct accel_info_client, uid, 12, 4);
UAPI_FIELD(struct accel_info_client, node, 16, 4);
UAPI_FIELD(struct accel_info_client, handles, 20, 4);
UAPI_FIELD(struct accel_info_client, comm, 24, 16);
UAPI_FIELD(struct accel_info_client, name, 40, 64);
UAPI_SIZE(struct accel_info_client, 104, name);
UAPI_SIZE_MULTIPLE_OF_8(struct accel_info_client);
UAPI_FIELD(struct accel_info_clients, count, 0, 4);
UAPI_SIZE(struct accel_info_clients, 8, pad);
UAPI_U64(struct accel_info_client_engine, client_id, 0);
UAPI_FIELD(struct accel_info_client_engine, engine_id, 8, 4);
UAPI_FIELD(struct accel_info_client_engine, pad, 12, 4);
UAPI_U64(struct accel_info_client_engine, busy_ns, 16);
UAPI_SIZE(struct accel_info_client_engine, 24, busy_ns);
UAPI_SIZE(struct accel_info_client_engines, 8, pad);
UAPI_U64(struct accel_info_client_memory, client_id, 0);
UAPI_FIELD(struct accel_info_client_memory, region_id, 8, 4);
UAPI_FIELD(struct accel_info_client_memory, pad, 12, 4);
UAPI_U64(struct accel_info_client_memory, total, 16);
UAPI_U64(struct accel_info_client_memory, shared, 24);
UAPI_U64(struct accel_info_client_memory, resident, 32);
UAPI_U64(struct accel_info_client_memory, active, 40);
UAPI_U64(struct accel_info_client_memory, purgeable, 48);
UAPI_SIZE(struct accel_info_client_memory, 56, purgeable);
UAPI_SIZE(struct accel_info_client_memories, 8, pad);
UAPI_FIELD(struct accel_info_sensor, type, 0, 4);
UAPI_FIELD(struct accel_info_sensor, index, 4, 4);
UAPI_U64(struct accel_info_sensor, value, 8);
UAPI_FIELD(struct accel_info_sensor, label, 16, 32);
UAPI_SIZE(struct accel_info_sensor, 48, label);
UAPI_SIZE(struct accel_info_sensors, 8, pad);

/* ---- accel_monitor.h ---- */
UAPI_U64(struct accel_fdinfo, client_id, 0);
UAPI_U64(struct accel_fdinfo, data, 8);
UAPI_FIELD(struct accel_fdinfo, length, 16, 4);
UAPI_FIELD(struct accel_fdinfo, flags, 20, 4);
UAPI_SIZE(struct accel_fdinfo, 24, flags);
UAPI_IOCTL(ACCEL_IOCTL_FDINFO, _IOC_READ | _IOC_WRITE, 0xAC, 0x04, 24);
UAPI_FIELD(struct accel_clear_stats, flags, 0, 4);
UAPI_FIELD(struct accel_clear_stats, pad, 4, 4);
UAPI_SIZE(struct accel_clear_stats, 8, pad);
UAPI_IOCTL(ACCEL_IOCTL_CLEAR_STATS, _IOC_WRITE, 0xAC, 0x05, 8);

#endif /* ACCEL_TESTS_UAPI_LAYOUT_CHECKS_H */

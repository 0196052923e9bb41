/* SPDX-License-Identifier: MIT */
/*
 * accel INFO: one framework-wide query ioctl for what a device is and how it is doing.
 *
 * Modelled on the i915/xe query ioctls: the caller passes an array of items; each item names
 * what it wants (id), where to put it (data, a user pointer) and how much room it has (length).
 *   - length 0: the device writes the size it needs into length and copies nothing;
 *   - length too short, unknown id, or non-zero item flags: length becomes -EINVAL for that item;
 *   - a fault writing data: length becomes -EFAULT for that item;
 *   - success: length becomes the number of bytes written.
 * The ioctl itself fails only when the request is malformed (-EINVAL for non-zero flags or more
 * than ACCEL_INFO_MAX_ITEMS items, -EFAULT for an unreadable item array).
 *
 * The ioctl uses its own type byte, ACCEL_INFO_IOCTL_BASE, so its number can never collide with
 * a DRM core or driver ioctl; a kernel accel node rejects it with ENOTTY (drm_ioctl refuses every
 * type byte but 'd'), which is how a client learns that a device does not speak INFO.
 *
 * Items may grow at their end in later versions: a caller that passes a shorter (older) length
 * than a fixed-size item needs gets -EINVAL, so always size through the length-0 call.
 */
#ifndef ACCEL_UAPI_ACCEL_INFO_H
#define ACCEL_UAPI_ACCEL_INFO_H

#include <linux/ioctl.h>
#include <linux/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ACCEL_INFO_IOCTL_BASE 0xAC
#define ACCEL_INFO_MAX_ITEMS 64

enum accel_info_id {
	ACCEL_INFO_IDENTITY = 1,       /* struct accel_info_identity */
	ACCEL_INFO_MEMORY_REGIONS = 2, /* struct accel_info_memory_regions + regions[count] */
	ACCEL_INFO_ENGINES = 3,        /* struct accel_info_engines + engines[count] */
	ACCEL_INFO_CAPABILITIES = 4,   /* struct accel_info_capabilities */
	ACCEL_INFO_STATUS = 5,         /* struct accel_info_status (dynamic) */
	ACCEL_INFO_MEMORY_USAGE = 6,   /* struct accel_info_memory_usage + usage[count] (dynamic) */
	ACCEL_INFO_ENGINE_BUSY = 7,    /* struct accel_info_engine_busy + busy[count] (dynamic) */
	ACCEL_INFO_CLIENTS = 8,        /* struct accel_info_clients + clients[count] (dynamic) */
	ACCEL_INFO_CLIENT_ENGINES = 9, /* struct accel_info_client_engines + usage[count] (dynamic) */
	ACCEL_INFO_CLIENT_MEMORY = 10, /* struct accel_info_client_memories + usage[count] (dynamic) */
	ACCEL_INFO_SENSORS = 11,       /* struct accel_info_sensors + sensors[count] (dynamic) */
};

/*
 * Which items need a working device: ENGINE_BUSY and SENSORS read the hardware, so they answer
 * -EBUSY (in the item's length) unless the device is OPERATIONAL, as habanalabs' INFO answers
 * its hardware opcodes; every other item answers in any state, also on the monitor node while
 * another process holds the compute node exclusively.
 *
 * Who is seen: CLIENTS, CLIENT_ENGINES and CLIENT_MEMORY answer for every open file of the
 * device on the monitor node, and for the calling file's own client only on the compute node
 * (accel's rule: a monitor node locked down by its mode, say 0600, must not be bypassed by any
 * compute user; the device-wide items answer on both nodes).
 */

struct accel_info_item {
	__u32 id;     /* enum accel_info_id */
	__s32 length; /* in: room at data; out: bytes written, bytes needed (when 0 in) or -errno */
	__u32 flags;  /* must be 0 */
	__u32 pad;    /* must be 0 */
	__u64 data;   /* user pointer */
};

struct accel_info {
	__u32 num_items;
	__u32 flags; /* must be 0 */
	__u64 items; /* user pointer to struct accel_info_item[num_items] */
};

#define ACCEL_IOCTL_INFO _IOWR(ACCEL_INFO_IOCTL_BASE, 0x00, struct accel_info)

struct accel_info_identity {
	__u32 version_major;
	__u32 version_minor;
	__u32 version_patchlevel;
	__u32 minor;        /* N of accel/accel<N> */
	__u64 client_id;    /* the calling file's client id (as in DRM fdinfo) */
	char name[32];      /* driver name, NUL-terminated (truncated if longer) */
	char desc[64];      /* driver description, NUL-terminated (truncated if longer) */
};

enum accel_memory_kind {
	ACCEL_MEMORY_SYSTEM = 0, /* host memory */
	ACCEL_MEMORY_DEVICE = 1, /* device DRAM */
	ACCEL_MEMORY_SRAM = 2,   /* on-chip memory */
};

struct accel_info_memory_region {
	__u32 id;
	__u32 kind; /* enum accel_memory_kind */
	__u64 size; /* bytes */
	char name[32];
};

struct accel_info_memory_regions {
	__u32 count;
	__u32 pad;
	/* followed by struct accel_info_memory_region regions[count] */
};

struct accel_info_engine {
	__u32 id;
	__u32 instances; /* identical engines in this group (drm-engine-capacity) */
	char name[32];
};

struct accel_info_engines {
	__u32 count;
	__u32 pad;
	/* followed by struct accel_info_engine engines[count] */
};

#define ACCEL_INFO_CAP_PRIME (1ull << 0)     /* buffers shareable as dma-buf */
#define ACCEL_INFO_CAP_MMU (1ull << 1)       /* device virtual address spaces */
#define ACCEL_INFO_CAP_EXCLUSIVE (1ull << 2) /* the compute node admits one open at a time */

struct accel_info_capabilities {
	__u64 flags;      /* ACCEL_INFO_CAP_* */
	__u64 page_sizes; /* bitmask of device page sizes (bit n = 2^n bytes); 0 without an MMU */
	__u32 va_bits;    /* width of the device virtual address space; 0 without an MMU */
	__u32 pad;
};

enum accel_device_state {
	ACCEL_STATE_OPERATIONAL = 0,
	ACCEL_STATE_IN_RESET = 1,
	ACCEL_STATE_MALFUNCTION = 2,
	ACCEL_STATE_NEEDS_RESET = 3,
};

struct accel_info_status {
	__u32 state;      /* enum accel_device_state */
	__u32 open_files; /* open files on both nodes of the device */
	__u64 reset_count;
};

struct accel_info_memory_use {
	__u32 region_id;
	__u32 pad;
	__u64 used; /* bytes allocated in the region */
};

struct accel_info_memory_usage {
	__u32 count;
	__u32 pad;
	/* followed by struct accel_info_memory_use usage[count] */
};

struct accel_info_engine_time {
	__u32 engine_id;
	__u32 pad;
	__u64 busy_ns; /* cumulative busy time, monotonic */
};

struct accel_info_engine_busy {
	__u32 count;
	__u32 pad;
	/* followed by struct accel_info_engine_time busy[count] */
};

/* ACCEL_INFO_CLIENTS: the device's open files, both nodes, oldest first (the monitor node; the
 * compute node lists the caller's own file only). */
enum accel_node_kind {
	ACCEL_NODE_COMPUTE = 0, /* accel/accel<N> */
	ACCEL_NODE_MONITOR = 1, /* accel/accel_controlD<N> */
};

struct accel_info_client {
	__u64 client_id; /* drm-client-id: global, never reused */
	__s32 pid;       /* the opener's process (thread group id); 0 when unknown */
	__u32 uid;       /* the opener's user id */
	__u32 node;      /* enum accel_node_kind */
	__u32 handles;   /* buffer-object handles the file holds */
	char comm[16];   /* the opener's command name at open (/proc/<pid>/comm), NUL-terminated */
	char name[64];   /* the name set by DRM_IOCTL_SET_CLIENT_NAME, "" when none */
};

struct accel_info_clients {
	__u32 count;
	__u32 pad;
	/* followed by struct accel_info_client clients[count] */
};

/* ACCEL_INFO_CLIENT_ENGINES: per client and engine, the engine time of its jobs (drm-engine-). */
struct accel_info_client_engine {
	__u64 client_id;
	__u32 engine_id;
	__u32 pad;
	__u64 busy_ns; /* cumulative, monotonic for the client's life */
};

struct accel_info_client_engines {
	__u32 count;
	__u32 pad;
	/* followed by struct accel_info_client_engine usage[count] */
};

/* ACCEL_INFO_CLIENT_MEMORY: per client and region, its buffer objects as fdinfo counts them. */
struct accel_info_client_memory {
	__u64 client_id;
	__u32 region_id; /* accel_info_memory_region.id; 0 is host memory ("memory" in fdinfo) */
	__u32 pad;
	__u64 total;     /* drm-total-<region>: bytes of every object the client has a handle to */
	__u64 shared;    /* drm-shared-<region>: of which shared (more than one handle, or exported) */
	__u64 resident;  /* drm-resident-<region> */
	__u64 active;    /* drm-active-<region>: busy on an engine (unsignalled fences) */
	__u64 purgeable; /* drm-purgeable-<region> */
};

struct accel_info_client_memories {
	__u32 count;
	__u32 pad;
	/* followed by struct accel_info_client_memory usage[count] */
};

/*
 * ACCEL_INFO_SENSORS: the device's sensors in the hwmon ABI's units; type and index name the
 * hwmon file (temp1_input is {ACCEL_SENSOR_TEMP, 1}; in starts at 0, the others at 1).
 */
enum accel_sensor_type {
	ACCEL_SENSOR_TEMP = 0,   /* temp<n>_input, millidegree Celsius */
	ACCEL_SENSOR_IN = 1,     /* in<n>_input, millivolt */
	ACCEL_SENSOR_CURR = 2,   /* curr<n>_input, milliampere */
	ACCEL_SENSOR_POWER = 3,  /* power<n>_average, microwatt */
	ACCEL_SENSOR_ENERGY = 4, /* energy<n>_input, microjoule, cumulative */
	ACCEL_SENSOR_FAN = 5,    /* fan<n>_input, RPM */
};

struct accel_info_sensor {
	__u32 type;  /* enum accel_sensor_type */
	__u32 index; /* n of the hwmon file name */
	__s64 value; /* in the type's unit */
	char label[32]; /* <type><n>_label, NUL-terminated; "" when none */
};

struct accel_info_sensors {
	__u32 count;
	__u32 pad;
	/* followed by struct accel_info_sensor sensors[count] */
};

#ifdef __cplusplus
}
#endif

#endif /* ACCEL_UAPI_ACCEL_INFO_H */

/* SPDX-License-Identifier: MIT */
/*
 * accel FD_CALL: an ioctl that returns a new descriptor, completed by the client library.
 *
 * Some ioctls hand the caller a new descriptor in a field of their argument: DRM's
 * PRIME_HANDLE_TO_FD and SYNCOBJ_HANDLE_TO_FD, linux/sync_file.h's SYNC_IOC_MERGE,
 * linux/dma-buf.h's DMA_BUF_IOCTL_EXPORT_SYNC_FILE, and driver ioctls of the same kind. A
 * device served through FUSE cannot put a descriptor into its caller: no FUSE reply creates
 * one. So the client wraps such a call in ACCEL_IOCTL_FD_CALL:
 *   1. the server reads the real argument at `arg` from the caller's memory, runs the file's
 *      own ioctl `cmd` on it and writes it back there, as the kernel would (the descriptor
 *      field then holds ACCEL_FD_CALL_PENDING, a number that is never a valid descriptor);
 *   2. when the call succeeded and made a descriptor, the server publishes the new file under
 *      the mount as `name` (ACCEL_FD_DIR "/<token>", relative to the mount's root) and answers
 *      the inner call's result;
 *   3. the client opens `name` with the access mode in `open_flags` and stores the real
 *      descriptor in the field at `fd_offset`; the caller then sees exactly the kernel's result.
 * accel's syscall backend (include/accel/backend/syscall.hpp) does all of this inside its
 * ioctl(): client code never sees the wrapper.
 *
 * Each successful call gives the calling process a token: the right to open `name` once (its
 * last component is 128 random bits, the same for every export of one file), from the process
 * that made the call (the thread group of the calling thread), within a few seconds (the
 * server's host_options::token_lifetime, 5 s by default):
 *   - another process's open of the name: EACCES (while the token is unused);
 *   - a second open, an open after the lifetime, or an open without a token (a reopen of
 *     /proc/<pid>/fd/<n>): ENOENT. An unused token's reference to the file is dropped when it
 *     expires, so an abandoned export leaks nothing;
 *   - O_RDWR on a file made read-only: EACCES.
 * One published file per exported file: a file exported twice (a dma-buf) is one inode with
 * one st_ino and one page cache in every process that opens it. Its descriptors behave as the
 * kernel's: ioctl, poll, mmap and close reach the file's operations; they pass to other
 * processes over UNIX sockets (SCM_RIGHTS); the file is released when the last descriptor in
 * any process closes (and nothing else holds it).
 *
 * With ACCEL_FD_CALL_INLINE the argument travels in `data` instead (the kernel copies the
 * wrapper in and out): cheaper, as the server then reaches no caller memory for it (the
 * syscall backend does so for arguments of up to ACCEL_FD_INLINE_MAX bytes).
 *
 * Errors of the wrapper itself (before the inner call runs): EINVAL for unknown flags or pad,
 * an INLINE argument larger than ACCEL_FD_INLINE_MAX,
 * a `cmd` that is ACCEL_IOCTL_FD_CALL itself, a `fd_offset` that is not 4-aligned or not inside
 * _IOC_SIZE(cmd), or (on a device node) a `fd_offset` other than the one the ioctl's table row
 * names. Otherwise the result is the inner call's, with its argument copied back as the kernel
 * does (also on failure); a failed call publishes nothing. A call that makes its descriptor
 * only after waiting fails with EINVAL (no accel handler does that). A call can make at most one
 * descriptor (EOPNOTSUPP for a second).
 *
 * Unmodified programs: an fd-returning ioctl issued at a FUSE-served file *without* the wrapper
 * (libdrm's drmPrimeHandleToFD, libsync's sync_merge) fails with EOPNOTSUPP - no descriptor, no
 * file, nothing published - and the server writes one line on its stderr naming the ioctl and
 * the remedy. Such programs need accel's syscall backend (or, later, a preload library).
 *
 * Kernel nodes do not know the wrapper: on /dev/accel a client issues the plain ioctl (accel's
 * syscall backend uses the wrapper only on files of an accel FUSE mount, and also falls back
 * to the plain ioctl when the wrapper gets ENOTTY).
 *
 * Own type byte (ACCEL_INFO_IOCTL_BASE, 0xAC), numbers used: 0x00 INFO, 0x01 MMAP_PREPARE,
 * 0x02 RESET, 0x03 FD_CALL.
 */
#ifndef ACCEL_UAPI_ACCEL_FD_H
#define ACCEL_UAPI_ACCEL_FD_H

#include <linux/ioctl.h>
#include <linux/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef ACCEL_INFO_IOCTL_BASE
#define ACCEL_INFO_IOCTL_BASE 0xAC
#endif

/* Where published files appear, relative to the mount's root (a hidden directory that lists
 * nothing: a token is found only by its name). */
#define ACCEL_FD_DIR ".accel/fd"
/* Room for ACCEL_FD_DIR "/" and the token (32 hex digits) with its NUL. */
#define ACCEL_FD_NAME_LEN 64
/* accel_fd_call.flags: the argument travels inside the wrapper, in `data` (at most
 * ACCEL_FD_INLINE_MAX bytes; `arg` is ignored): the server then needs no access to the caller's
 * memory, and the client copies `data` back into its argument afterwards. */
#define ACCEL_FD_CALL_INLINE (1u << 0)
#define ACCEL_FD_INLINE_MAX 64

/* What the descriptor field holds after the server ran the call, until the client stores the
 * real descriptor there: above any descriptor number (RLIMIT_NOFILE is at most 2^30). */
#define ACCEL_FD_CALL_PENDING 0x7fffffff

struct accel_fd_call {
	__u64 cmd;        /* in: the ioctl request that returns a descriptor */
	__u64 arg;        /* in: user pointer to its argument (_IOC_SIZE(cmd) bytes), unless INLINE */
	__u32 fd_offset;  /* in: byte offset of the __s32 descriptor field in that argument */
	__u32 flags;      /* in: 0 or ACCEL_FD_CALL_INLINE */
	__u32 open_flags; /* out: O_RDONLY or O_RDWR (the new file's access mode), | O_CLOEXEC when
	                     the call asked for it */
	__u32 pad;        /* must be 0 */
	char name[ACCEL_FD_NAME_LEN]; /* out: the published file, relative to the mount's root,
	                                 NUL-terminated; "" when the call made no descriptor */
	__u8 data[ACCEL_FD_INLINE_MAX]; /* in/out with ACCEL_FD_CALL_INLINE: the argument */
};

#define ACCEL_IOCTL_FD_CALL _IOWR(ACCEL_INFO_IOCTL_BASE, 0x03, struct accel_fd_call)

#ifdef __cplusplus
}
#endif

#endif /* ACCEL_UAPI_ACCEL_FD_H */

/* SPDX-License-Identifier: MIT */
/*
 * uAPI of vdsp, a virtual firmware-loaded DSP: one engine that runs FIR filters and FFTs over
 * buffer objects, with the functions and their tables (FFT twiddle factors, a window) coming from
 * a firmware file the driver loads ("accel/vdsp.fw" through accel's firmware loader).
 *
 * Plain C11: fixed-width fields, explicit padding (must be 0), every struct a multiple of 8
 * bytes, user pointers carried as __u64. Flags, pads and fields an op does not use must be 0:
 * the driver refuses anything else with -EINVAL.
 *
 * The flow: BO_CREATE (host memory) -> BO_INFO (mmap offset) -> mmap and fill -> SUBMIT a FIR or
 * FFT naming input and output objects -> WAIT for the job's seqno.
 *
 * Without firmware (the load at probe failed: the device is NEEDS_RESET; or a reset's reload
 * failed: the device is MALFUNCTION and the framework answers -EIO to every driver ioctl):
 * SUBMIT answers -EIO, and so do the GET_PARAMs that describe the firmware; VDSP_PARAM_FW_STATUS
 * says why. BO_CREATE, BO_INFO and WAIT keep working. A root ACCEL_IOCTL_RESET reloads the
 * firmware (accel/uapi/accel_reset.h).
 *
 * The firmware file's format is at the end of this header.
 */
#ifndef VDSP_UAPI_H
#define VDSP_UAPI_H

#include <accel/uapi/accel_drm.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- GET_PARAM ------------------------------------------------------------------------------ */

#define VDSP_PARAM_FW_STATUS 0     /* 0: firmware loaded; else the positive errno of the last load
				    * (ENOENT: no file; EINVAL: a check failed, see the log) */
#define VDSP_PARAM_FW_VERSION 1    /* the firmware's version (major << 16 | minor); -EIO without */
#define VDSP_PARAM_FUNCTIONS 2     /* bitmask (1 << VDSP_OP_x) of the ops SUBMIT runs now (NOP
				    * always, FIR and FFT as the firmware provides them); -EIO without */
#define VDSP_PARAM_FFT_MAX_SIZE 3  /* largest fft_size (the firmware's tables); -EIO without */
#define VDSP_PARAM_MAX_TAPS 4      /* largest fir_taps (VDSP_MAX_TAPS) */
#define VDSP_PARAM_MAX_SAMPLES 5   /* largest count (VDSP_MAX_SAMPLES) */

struct vdsp_get_param {
	__u32 param; /* in: VDSP_PARAM_* (unknown: -EINVAL) */
	__u32 pad;   /* must be 0 */
	__u64 value; /* out */
};

/* ---- buffer objects (host memory, the framework's GEM objects) ------------------------------- */

struct vdsp_bo_create {
	__u64 size;   /* in: bytes, rounded up to the page size; 0: -EINVAL */
	__u32 flags;  /* in: must be 0 */
	__u32 handle; /* out */
};

struct vdsp_bo_info {
	__u32 handle;      /* in */
	__u32 pad;         /* must be 0 */
	__u64 mmap_offset; /* out: the offset to mmap(2) the BO at on this file */
	__u64 size;        /* out: bytes (page-rounded) */
};

/* ---- SUBMIT ------------------------------------------------------------------------------------ */

#define VDSP_OP_NOP 0 /* does nothing; every other field 0 */
/* out[n] = sum over k < fir_taps of h[k] * in[n - k], in[i < 0] = 0 (direct form, zero initial
 * state); in and out: count float32 samples each; h: fir_taps float32. */
#define VDSP_OP_FIR 1
/* count / fft_size transforms of fft_size complex samples each (interleaved float32 re, im):
 * X[k] = sum over n of x[n] * exp(-2 pi i n k / N) (forward), or with +2 pi i and a 1/N scale
 * (VDSP_FFT_INVERSE), radix-2 with the firmware's twiddle table. VDSP_FFT_WINDOW multiplies each
 * block by the firmware's window (forward only) before the transform. */
#define VDSP_OP_FFT 2

#define VDSP_FFT_INVERSE 0x1
#define VDSP_FFT_WINDOW 0x2

#define VDSP_MAX_TAPS 256u
#define VDSP_MAX_SAMPLES (16u * 1024u * 1024u)

/*
 * Offsets into objects must be multiples of 4 (float32); the bytes an op reads or writes must
 * lie inside its object (else -EINVAL); an op whose function the firmware lacks: -EOPNOTSUPP;
 * an unknown object handle: -ENOENT. Input and output may be the same object but their byte
 * ranges may not overlap (-EINVAL). The checks happen at SUBMIT: a job that is accepted runs,
 * unless the firmware changed under it (a reset loaded another file): then it ends with
 * -EOPNOTSUPP or -EINVAL, as SUBMIT would have answered.
 */
struct vdsp_submit {
	__u32 op;          /* in: VDSP_OP_* */
	__u32 flags;       /* in: must be 0 */
	__u32 in_handle;   /* in: the object read */
	__u32 out_handle;  /* in: the object written */
	__u64 in_offset;   /* in: first byte read */
	__u64 out_offset;  /* in: first byte written */
	__u64 count;       /* in: FIR: samples (1..VDSP_MAX_SAMPLES); FFT: complex samples, a
			    * multiple of fft_size (at most VDSP_MAX_SAMPLES) */
	__u32 fir_taps;    /* in: FIR: 1..VDSP_MAX_TAPS */
	__u32 coef_handle; /* in: FIR: the object holding the taps, or 0: `coef` is a user pointer
			    * to float32[fir_taps], copied at SUBMIT (-EFAULT if unreadable) */
	__u64 coef;        /* in: FIR: byte offset in coef_handle, or the user pointer */
	__u32 fft_size;    /* in: FFT: a power of two, 2..VDSP_PARAM_FFT_MAX_SIZE */
	__u32 fft_flags;   /* in: FFT: VDSP_FFT_* */
	__u32 in_syncobj;  /* in: 0, or a syncobj of this file whose fence the job waits for
			    * (drm_syncobj_find_fence: unknown -ENOENT, no fence -EINVAL) */
	__u32 out_syncobj; /* in: 0, or a syncobj of this file whose fence becomes the job's
			    * finished fence when SUBMIT succeeds (unknown -ENOENT) */
	__u64 seqno;       /* out: the job's number in this file (from 1, never reused) */
};

/* ---- WAIT -------------------------------------------------------------------------------------- */

struct vdsp_wait {
	__u64 seqno;      /* in: a job of this file (0 or not yet issued: -EINVAL; forgotten: -ENOENT) */
	__s64 timeout_ns; /* in: absolute CLOCK_MONOTONIC deadline; past it: -ETIME */
	__s32 error;      /* out: 0, or how the job ended: -EIO (no firmware, failed reset),
			   * -EOPNOTSUPP / -EINVAL (the firmware changed), -ETIMEDOUT (hung),
			   * -ECANCELED (reset or unplug) */
	__u32 pad;        /* must be 0 */
};

/* ---- ioctls ------------------------------------------------------------------------------------ */

#define VDSP_IOCTL_GET_PARAM ACCEL_IOWR(ACCEL_COMMAND_BASE + 0x00, struct vdsp_get_param)
#define VDSP_IOCTL_BO_CREATE ACCEL_IOWR(ACCEL_COMMAND_BASE + 0x01, struct vdsp_bo_create)
#define VDSP_IOCTL_BO_INFO ACCEL_IOWR(ACCEL_COMMAND_BASE + 0x02, struct vdsp_bo_info)
#define VDSP_IOCTL_SUBMIT ACCEL_IOWR(ACCEL_COMMAND_BASE + 0x03, struct vdsp_submit)
#define VDSP_IOCTL_WAIT ACCEL_IOWR(ACCEL_COMMAND_BASE + 0x04, struct vdsp_wait)

/* ==== the firmware file ("accel/vdsp.fw") ======================================================
 *
 * Little-endian throughout. Layout:
 *   struct vdsp_fw_header                       at 0
 *   struct vdsp_fw_function[num_functions]      at header_size
 *   struct vdsp_fw_table[num_tables]            right after the functions
 *   table data                                  anywhere after that, 4-byte aligned, in the file
 * crc32 is the CRC-32 (IEEE 802.3, zlib's crc32()) of the bytes [header_size, total_size): all
 * but the header. The driver checks, in this order, and fails the load with -EINVAL and one log
 * line naming the file and the check on the first that fails:
 *   "truncated"   the file is shorter than the header, or than total_size
 *   "magic"       magic is not VDSP_FW_MAGIC
 *   "version"     format_version is not VDSP_FW_FORMAT_VERSION or header_size is not 32
 *   "size"        the file is longer than total_size
 *   "crc"         the CRC does not match
 *   "layout"      a function or table entry, or a table's data, lies outside the file, an
 *                 unknown op or table kind, a function listed twice, non-zero reserved fields
 *   "tables"      FFT without a twiddle table, fft_max_size not a power of two in
 *                 2..VDSP_FW_MAX_FFT, a table with the wrong number of entries for it
 * Tables:
 *   VDSP_FW_TABLE_TWIDDLE  fft_max_size / 2 complex float32 (re, im) pairs:
 *                          w[k] = exp(-2 pi i k / fft_max_size); needed by FFT
 *   VDSP_FW_TABLE_WINDOW   fft_max_size float32 (a Hann window, for VDSP_FFT_WINDOW; optional:
 *                          without it VDSP_FFT_WINDOW is -EOPNOTSUPP)
 * An FFT of size N < fft_max_size uses every (fft_max_size / N)-th entry of both.
 */
#define VDSP_FW_MAGIC 0x50534456u /* the bytes "VDSP" */
#define VDSP_FW_FORMAT_VERSION 1
#define VDSP_FW_MAX_FFT 65536u

struct vdsp_fw_header {
	__u32 magic;          /* VDSP_FW_MAGIC */
	__u16 format_version; /* VDSP_FW_FORMAT_VERSION */
	__u16 header_size;    /* sizeof(struct vdsp_fw_header) = 32 */
	__u32 total_size;     /* bytes of the whole file */
	__u32 crc32;          /* of bytes [header_size, total_size) */
	__u32 fw_version;     /* major << 16 | minor (VDSP_PARAM_FW_VERSION) */
	__u32 num_functions;  /* entries of the function table */
	__u32 num_tables;     /* entries of the table directory */
	__u32 fft_max_size;   /* largest FFT (0 without FFT) */
};

struct vdsp_fw_function {
	__u32 op;       /* VDSP_OP_FIR or VDSP_OP_FFT */
	__u32 version;  /* the function's own version */
	__u32 entry;    /* its entry id in the DSP's code (informational) */
	__u32 reserved; /* 0 */
};

#define VDSP_FW_TABLE_TWIDDLE 1
#define VDSP_FW_TABLE_WINDOW 2

struct vdsp_fw_table {
	__u32 kind;    /* VDSP_FW_TABLE_* */
	__u32 entries; /* elements (complex pairs for TWIDDLE, floats for WINDOW) */
	__u32 offset;  /* of the data from the start of the file, 4-byte aligned */
	__u32 size;    /* bytes of data */
};

#ifdef __cplusplus
}
#endif

#endif /* VDSP_UAPI_H */

/* SPDX-License-Identifier: MIT */
/*
 * uAPI of vdnn, a virtual DNN accelerator (after the Toshiba Visconti DNN engine): two compute
 * engines and a DMA engine behind one device MMU, on-chip SRAM and device DRAM.
 *
 * Plain C11: fixed-width fields, explicit padding (must be 0), every struct a multiple of 8
 * bytes, user pointers carried as __u64. Flags and pads that are not defined must be 0: the
 * driver refuses anything else with -EINVAL so that they can be given a meaning later.
 *
 * The flow, as in ivpu and ethos-u:
 *   BO_CREATE (host memory, SRAM or DRAM) -> BO_INFO (mmap offset, device address) -> mmap and
 *   fill -> VM_BIND the BOs into the file's device VA space -> SUBMIT a command buffer (a BO
 *   holding the command stream below) to an engine -> WAIT for the job (or read(2) its
 *   VDNN_EVENT_JOB_DONE event).
 * Every address in a command is a device VA of the submitting file: the engines reach memory
 * only through the MMU, and a job that touches an unmapped VA, or writes through a read-only
 * mapping, ends with VDNN_STATUS_MMU_FAULT and the faulting VA.
 */
#ifndef VDNN_UAPI_H
#define VDNN_UAPI_H

#include <accel/uapi/accel_drm.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- GET_PARAM ------------------------------------------------------------------------------ */

#define VDNN_PARAM_NUM_ENGINES 0   /* engines SUBMIT accepts (VDNN_ENGINE_*) */
#define VDNN_PARAM_SRAM_SIZE 1     /* bytes of on-chip SRAM (VDNN_REGION_SRAM) */
#define VDNN_PARAM_DRAM_SIZE 2     /* bytes of device DRAM (VDNN_REGION_DRAM) */
#define VDNN_PARAM_VA_START 3      /* first device VA a file may bind */
#define VDNN_PARAM_VA_SIZE 4       /* bytes of device VA from VA_START on */
#define VDNN_PARAM_PAGE_SIZE 5     /* MMU page size: BO sizes, VAs and bind offsets are multiples */
#define VDNN_PARAM_MAX_CMD_SIZE 6  /* largest cmd_size SUBMIT accepts (VDNN_MAX_CMD_SIZE) */
#define VDNN_PARAM_MAX_BO_HANDLES 7 /* largest SUBMIT bo_count */
#define VDNN_PARAM_MAX_DEPS 8      /* largest SUBMIT dep_count */
#define VDNN_PARAM_OPS 9           /* bitmask of the supported ops: bit (1 << VDNN_OP_x) */
#define VDNN_PARAM_DEBUG_HANG 10   /* 1 when VDNN_OP_DEBUG_HANG is accepted, else 0 */

struct vdnn_get_param {
	__u32 param; /* in: VDNN_PARAM_* (unknown: -EINVAL) */
	__u32 pad;   /* must be 0 */
	__u64 value; /* out */
};

/* ---- buffer objects ------------------------------------------------------------------------- */

#define VDNN_REGION_HOST 0 /* system memory, pages need not be physically contiguous */
#define VDNN_REGION_SRAM 1 /* on-chip SRAM: one physically contiguous range */
#define VDNN_REGION_DRAM 2 /* device DRAM: one physically contiguous range */

struct vdnn_bo_create {
	__u64 size;   /* in: bytes, rounded up to the page size; 0: -EINVAL */
	__u32 region; /* in: VDNN_REGION_* */
	__u32 flags;  /* in: must be 0 */
	__u32 handle; /* out: the new BO's handle in this file */
	__u32 pad;    /* must be 0 */
};

struct vdnn_bo_info {
	__u32 handle;      /* in */
	__u32 pad;         /* must be 0 */
	__u64 mmap_offset; /* out: the offset to mmap(2) the BO at on this file */
	__u64 device_addr; /* out: SRAM/DRAM: the device physical address of its first byte; host: 0 */
	__u64 size;        /* out: bytes (page-rounded) */
	__u32 region;      /* out: VDNN_REGION_* */
	__u32 flags;       /* out: the BO_CREATE flags */
};

/* ---- device VA space (one per file) --------------------------------------------------------- */

#define VDNN_BIND_READ 0x1  /* the engines may read through the mapping */
#define VDNN_BIND_WRITE 0x2 /* the engines may write through the mapping */
#define VDNN_BIND_FIXED 0x4 /* map at `va` exactly (replacing what is there); else the driver picks */

struct vdnn_vm_bind {
	__u32 handle;    /* in: the BO */
	__u32 flags;     /* in: VDNN_BIND_*; READ and/or WRITE required */
	__u64 bo_offset; /* in: first byte of the BO mapped (page multiple) */
	__u64 va;        /* in with FIXED (page multiple); out: the VA chosen otherwise */
	__u64 size;      /* in: bytes (page multiple, inside the BO) */
};

struct vdnn_vm_unbind {
	__u64 va;   /* in: page multiple */
	__u64 size; /* in: page multiple; holes are fine, partly covered mappings are split */
};

/* ---- job submission --------------------------------------------------------------------------- */

#define VDNN_ENGINE_COMPUTE0 0
#define VDNN_ENGINE_COMPUTE1 1
#define VDNN_ENGINE_DMA 2 /* runs COPY, FILL, NOP (and DEBUG_HANG) only; others fail SUBMIT */

#define VDNN_SUBMIT_EVENT 0x1 /* queue a VDNN_EVENT_JOB_DONE event on this file when the job ends */

/* A DRM syncobj of this file (SYNCOBJ_CREATE, SYNCOBJ_FD_TO_HANDLE) and a timeline point, as
 * SUBMIT's explicit in- and out-fences name them (the shape of rocket's and ethos-u's submits). */
struct vdnn_sync {
	__u32 handle; /* a syncobj handle */
	__u32 flags;  /* must be 0 */
	__u64 point;  /* in-fence: the timeline point to wait for (0: the syncobj's fence, binary);
		       * out-fence: must be 0 (binary: a timeline gets its point by SYNCOBJ_TRANSFER) */
};

struct vdnn_submit {
	__u32 engine;     /* in: VDNN_ENGINE_* */
	__u32 flags;      /* in: VDNN_SUBMIT_* */
	__u32 cmd_handle; /* in: the BO holding the command stream */
	__u32 bo_count;   /* in: entries of bo_handles (at most VDNN_PARAM_MAX_BO_HANDLES) */
	__u64 cmd_offset; /* in: where the stream starts in the BO (8-byte aligned) */
	__u64 cmd_size;   /* in: stream bytes (8-byte multiple, 1..VDNN_MAX_CMD_SIZE); copied and
			   * validated at SUBMIT: a bad stream fails the ioctl with -EINVAL */
	__u64 bo_handles; /* in: user pointer to __u32[bo_count]: the BOs the job reads or writes
			   * (kept alive until it ends; implicit sync through their reservation
			   * objects, shared with their dma-bufs and importers: the job waits for every
			   * earlier job of any driver using them, and later ones wait for it) */
	__u64 deps;       /* in: user pointer to __u64[dep_count]: seqnos of this file's jobs that
			   * must end first (any engine) */
	__u32 dep_count;  /* in: at most VDNN_PARAM_MAX_DEPS */
	__u32 pad;        /* must be 0 */
	__u64 user_data;  /* in: copied into the job's event */
	__u64 seqno;      /* out: the job's sequence number in this file (from 1, never reused) */
	/* Explicit sync (fields a client built against the first version of this struct leaves
	 * out: the kernel's size rules give them zeros, so its SUBMIT keeps working). */
	__u64 in_syncs;      /* in: user pointer to struct vdnn_sync[in_sync_count]: the job waits
			      * for each one's fence (drm_syncobj_find_fence: unknown handle -ENOENT,
			      * no fence or a point not yet submitted -EINVAL) */
	__u32 in_sync_count; /* in: at most VDNN_PARAM_MAX_DEPS */
	__u32 pad2;          /* must be 0 */
	struct vdnn_sync out_sync; /* in: handle 0: none; else the job's finished fence replaces the
				    * syncobj's fence when SUBMIT succeeds (unknown handle -ENOENT) */
};

/* ---- waiting ----------------------------------------------------------------------------------- */

#define VDNN_WAIT_JOB 0x1 /* handle_or_seqno is a job seqno */
#define VDNN_WAIT_BO 0x2  /* handle_or_seqno is a BO handle: wait for every job using it */

/* How a job ended (WAIT status, event status). */
#define VDNN_STATUS_OK 0
#define VDNN_STATUS_MMU_FAULT 1   /* unmapped VA, or a write through a read-only mapping */
#define VDNN_STATUS_BAD_COMMAND 2 /* a command the engine cannot run (or no scratch memory for it) */
#define VDNN_STATUS_TIMEOUT 3     /* the job ran past the driver's job timeout and was stopped */
#define VDNN_STATUS_CANCELLED 4   /* the job was dropped before or while running (file closed) */

struct vdnn_wait {
	__u32 flags;           /* in: exactly one of VDNN_WAIT_JOB, VDNN_WAIT_BO */
	__u32 pad;             /* must be 0 */
	__u64 handle_or_seqno; /* in */
	__s64 timeout_ns;      /* in: absolute CLOCK_MONOTONIC deadline; past it: -ETIME */
	__u32 status;          /* out: VDNN_STATUS_* of the job (VDNN_WAIT_BO: of the last job that
				* ended with an error, else OK) */
	__s32 error;           /* out: 0 or the job's negative errno: -EFAULT (MMU_FAULT), -EINVAL or
				* -ENOMEM (BAD_COMMAND), -ETIMEDOUT (TIMEOUT), -ECANCELED (CANCELLED) */
	__u64 fault_va;        /* out: VDNN_STATUS_MMU_FAULT: the faulting device VA; else 0 */
};

/* ---- events (read(2) on the device file) ---------------------------------------------------- */

/* The layout of struct drm_event: length counts the whole event, this header included. */
struct vdnn_drm_event {
	__u32 type;
	__u32 length;
};

#define VDNN_EVENT_JOB_DONE 0x80000001 /* driver-private event types start at 0x80000000 */

struct vdnn_event_job_done {
	struct vdnn_drm_event base; /* type VDNN_EVENT_JOB_DONE, length sizeof(this) */
	__u64 user_data;            /* SUBMIT's user_data */
	__u64 seqno;                /* SUBMIT's seqno */
	__s32 error;                /* 0 or the job's negative errno (as vdnn_wait.error) */
	__u32 status;               /* VDNN_STATUS_* */
	__u64 fault_va;             /* VDNN_STATUS_MMU_FAULT: the faulting device VA; else 0 */
};

/* ---- ioctls ------------------------------------------------------------------------------------ */

#define VDNN_IOCTL_GET_PARAM ACCEL_IOWR(ACCEL_COMMAND_BASE + 0x00, struct vdnn_get_param)
#define VDNN_IOCTL_BO_CREATE ACCEL_IOWR(ACCEL_COMMAND_BASE + 0x01, struct vdnn_bo_create)
#define VDNN_IOCTL_BO_INFO ACCEL_IOWR(ACCEL_COMMAND_BASE + 0x02, struct vdnn_bo_info)
#define VDNN_IOCTL_VM_BIND ACCEL_IOWR(ACCEL_COMMAND_BASE + 0x03, struct vdnn_vm_bind)
#define VDNN_IOCTL_VM_UNBIND ACCEL_IOW(ACCEL_COMMAND_BASE + 0x04, struct vdnn_vm_unbind)
#define VDNN_IOCTL_SUBMIT ACCEL_IOWR(ACCEL_COMMAND_BASE + 0x05, struct vdnn_submit)
#define VDNN_IOCTL_WAIT ACCEL_IOWR(ACCEL_COMMAND_BASE + 0x06, struct vdnn_wait)

/* ==== the command stream ======================================================================
 *
 * A command buffer is a sequence of commands, each starting with a vdnn_cmd_header whose
 * length_bytes is the whole command's size (header included), which must equal the size of the
 * op's struct below: one version of each op, so a length mismatch is a malformed stream, not a
 * newer client. Commands are 8-byte multiples and follow each other without gaps; the stream
 * ends exactly at cmd_size. Commands run in order, and reserved fields must be 0.
 *
 * Overlap: GEMM and CONV2D read all of their inputs before writing their output, whatever the
 * layout. RELU and ADD may run in place (dst equal to src, a or b) but their output may not
 * otherwise overlap an input, and COPY's two ranges may not overlap at all: -EINVAL. Two VAs
 * mapped onto the same memory are not seen as overlapping: outputs are then unspecified, and
 * the engine still touches nothing but the job's mappings.
 *
 * Element layouts are row-major and densely typed: fp32 = IEEE binary32, int8 = two's
 * complement bytes, int32 = two's complement little-endian. Every VA must be aligned to its
 * element size. Integer arithmetic wraps (two's complement); int8 products are summed exactly
 * in int32 (the reduction limit below keeps the sum in range).
 *
 * Limits (a command beyond them fails validation, and SUBMIT, with -EINVAL):
 *   VDNN_MAX_CMD_SIZE       bytes of one command stream
 *   VDNN_MAX_DIM            any GEMM/CONV2D dimension (M, N, K; N, C, H, W, O, KH, KW, strides)
 *   VDNN_MAX_REDUCTION      GEMM K, CONV2D C * KH * KW (keeps int8 sums exact in int32)
 *   VDNN_MAX_TENSOR_BYTES   the bytes one GEMM/CONV2D operand covers (stride gaps included):
 *                           the engines stage operands in their scratch memory
 *   no byte count or VA range may pass 2^64 (elementwise ops are otherwise unlimited: they
 *   stream through memory)
 */
#define VDNN_MAX_CMD_SIZE (64u * 1024u)
#define VDNN_MAX_DIM 65536u
#define VDNN_MAX_REDUCTION 65536u
#define VDNN_MAX_TENSOR_BYTES (256ull * 1024u * 1024u)

#define VDNN_OP_GEMM 1
#define VDNN_OP_CONV2D 2
#define VDNN_OP_RELU 3
#define VDNN_OP_ADD 4
#define VDNN_OP_COPY 5
#define VDNN_OP_FILL 6
#define VDNN_OP_NOP 7
/* Debug: the engine stops making progress, so the driver's job timeout fires. Accepted only
 * when the driver was loaded with its debug switch (VDNN_PARAM_DEBUG_HANG reports it). */
#define VDNN_OP_DEBUG_HANG 31

#define VDNN_DTYPE_FP32 1
#define VDNN_DTYPE_INT8 2  /* GEMM, CONV2D: int8 inputs, int32 outputs (and bias) */
#define VDNN_DTYPE_INT32 3 /* RELU, ADD */

struct vdnn_cmd_header {
	__u32 op;           /* VDNN_OP_* */
	__u32 length_bytes; /* sizeof the op's struct, header included */
};

/* C[M x N] = A[M x K] * B[K x N] (+ C with VDNN_GEMM_ACCUMULATE).
 * FP32: all fp32. INT8: A and B int8, C int32. lda >= K, ldb >= N, ldc >= N. */
#define VDNN_GEMM_ACCUMULATE 0x1
struct vdnn_cmd_gemm {
	struct vdnn_cmd_header hdr; /* VDNN_OP_GEMM, 64 */
	__u32 dtype;                /* VDNN_DTYPE_FP32 or VDNN_DTYPE_INT8 */
	__u32 flags;                /* VDNN_GEMM_* */
	__u32 m, n, k;              /* 1..VDNN_MAX_DIM (k also <= VDNN_MAX_REDUCTION) */
	__u32 lda, ldb, ldc;        /* row strides in elements */
	__u64 a, b, c;              /* device VAs */
};

/* out[N][O][OH][OW] = sum over c, kh, kw of
 *     w[o][c][kh][kw] * in[n][c][oh * stride_h - pad_h + kh][ow * stride_w - pad_w + kw]
 *   (+ bias[o] with VDNN_CONV2D_BIAS; then max(0, x) with VDNN_CONV2D_RELU), where input
 * positions outside the image read as 0, OH = (H + 2 pad_h - KH) / stride_h + 1 and OW likewise.
 * Input NCHW, weights OIHW, output NOHW, all dense. FP32: all fp32; INT8: input and weights
 * int8, bias and output int32. KH <= H + 2 pad_h, pad_h < KH (likewise for W). */
#define VDNN_CONV2D_BIAS 0x1
#define VDNN_CONV2D_RELU 0x2
struct vdnn_cmd_conv2d {
	struct vdnn_cmd_header hdr;   /* VDNN_OP_CONV2D, 96 */
	__u32 dtype;                  /* VDNN_DTYPE_FP32 or VDNN_DTYPE_INT8 */
	__u32 flags;                  /* VDNN_CONV2D_* */
	__u32 n, c, h, w;             /* input shape, 1..VDNN_MAX_DIM */
	__u32 o, kh, kw;              /* output channels, kernel size, 1..VDNN_MAX_DIM */
	__u32 stride_h, stride_w;     /* 1..VDNN_MAX_DIM */
	__u32 pad_h, pad_w;           /* zero padding on each side */
	__u32 pad;                    /* must be 0 */
	__u64 input, weights, bias, output; /* device VAs (bias: 0 without VDNN_CONV2D_BIAS) */
};

/* dst[i] = max(0, src[i]) for count elements (FP32 or INT32). */
struct vdnn_cmd_relu {
	struct vdnn_cmd_header hdr; /* VDNN_OP_RELU, 40 */
	__u32 dtype;                /* VDNN_DTYPE_FP32 or VDNN_DTYPE_INT32 */
	__u32 flags;                /* must be 0 */
	__u64 count;                /* elements, >= 1 */
	__u64 src, dst;
};

/* dst[i] = a[i] + b[i] for count elements (FP32, or INT32 wrapping). */
struct vdnn_cmd_add {
	struct vdnn_cmd_header hdr; /* VDNN_OP_ADD, 48 */
	__u32 dtype;                /* VDNN_DTYPE_FP32 or VDNN_DTYPE_INT32 */
	__u32 flags;                /* must be 0 */
	__u64 count;                /* elements, >= 1 */
	__u64 a, b, dst;
};

/* Copies bytes from src to dst (overlapping VA ranges: as memmove). */
struct vdnn_cmd_copy {
	struct vdnn_cmd_header hdr; /* VDNN_OP_COPY, 32 */
	__u64 bytes;                /* >= 1 */
	__u64 src, dst;
};

/* Fills bytes at dst with the little-endian bytes of pattern, repeated from dst on (a byte
 * count that is not a multiple of 4 ends with the pattern's first bytes). */
struct vdnn_cmd_fill {
	struct vdnn_cmd_header hdr; /* VDNN_OP_FILL, 32 */
	__u32 pattern;
	__u32 flags; /* must be 0 */
	__u64 bytes; /* >= 1 */
	__u64 dst;
};

/* Does nothing: a job with only NOPs orders and signals like any other. */
struct vdnn_cmd_nop {
	struct vdnn_cmd_header hdr; /* VDNN_OP_NOP, 8 */
};

/* See VDNN_OP_DEBUG_HANG. */
struct vdnn_cmd_debug_hang {
	struct vdnn_cmd_header hdr; /* VDNN_OP_DEBUG_HANG, 8 */
};

#ifdef __cplusplus
}
#endif

#endif /* VDNN_UAPI_H */

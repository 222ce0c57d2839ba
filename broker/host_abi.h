/* SPDX-License-Identifier: Apache-2.0 */
/*
 * broker/host_abi.h - what the broker and a plugin host process share.
 *
 * A plugin running isolated (isolation = plugin | tenant) lives in a host
 * process of its own: accelringd started with --plugin-host (hostd.c),
 * supervised by the broker (isolate.c). The two talk over:
 *
 * - a SOCK_SEQPACKET socketpair, the control channel: the host's start
 *   (AR_HC_HELLO with the link's fds, answered by AR_HC_READY with the
 *   plugin's descriptor), the memory the host maps (AR_HC_MAP of a tenant's
 *   data area or a resource's memfd, passed with SCM_RIGHTS and answered
 *   with AR_HC_MAPPED; AR_HC_UNMAP when the broker lets it go), and
 *   AR_HC_SESSION_CLOSED. One request at a time, under the broker's lock
 *   for the host, so replies come in order.
 *
 * - the link: a region of ring/ (one memfd) whose channel 0 SQ carries
 *   requests (struct ar_host_req: which slots hold the ops), and whose
 *   data area holds AR_HOST_SLOTS slots. A slot holds one op's descriptor
 *   (struct ar_host_op: every buffer named by region and offset, never by
 *   pointer) and its scratch bytes: the op's inline inputs, room for its
 *   inline outputs and its refusal reason. Data-area buffers are not
 *   copied: the host maps the tenant's data area and the plugin reads and
 *   writes it in place, as it would in the broker.
 *
 * Completion: the host writes each op's status and output lengths into its
 * slot, then stores AR_HS_DONE into the request's first slot's state word
 * (release; pairs with the broker's acquire load in isolate.c) and wakes
 * the broker's futex on it if AR_HS_WAITER is set. The worker that
 * submitted the request posts the completions to the tenant's CQ itself.
 *
 * Trust: the host runs plugin code, and for exec a tenant's code: the
 * broker reads a slot back once, into private memory, and checks every
 * value (a status out of range, a length above what was offered) before
 * anything of it reaches a tenant. The host checks every region index,
 * offset and length of a descriptor against what it mapped.
 */
#ifndef ACCELRING_BROKER_HOST_ABI_H
#define ACCELRING_BROKER_HOST_ABI_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

#include <accelring/wire.h>

#define AR_HOST_MAGIC 0x41524853u	/* "ARHS" */
#define AR_HOST_VERSION 1u

/* Slots of a link: ops one host runs or queues at once. */
#define AR_HOST_SLOTS 128u
/* A slot's descriptor page; its scratch follows. */
#define AR_HOST_DESC_BYTES 4096u
/* Regions (data areas, resources) one host maps at once. */
#define AR_HOST_REGIONS 4096u

/* The state word of a request's first slot (a futex). */
enum {
	AR_HS_FREE = 0,
	AR_HS_SUBMITTED = 1,
	AR_HS_DONE = 2,
	AR_HS_DEAD = 3,			/* the broker's, for a host that died */
	AR_HS_WAITER = 0x80000000u,	/* the broker sleeps on it */
};

/* Where a buffer lies. */
enum {
	AR_HW_NONE = 0,			/* NULL */
	AR_HW_DATA = 1,			/* a mapped data area: region, off, len */
	AR_HW_SCRATCH = 2,		/* the slot's scratch: off, len */
};

struct ar_host_arg {
	uint32_t where;			/* AR_HW_* */
	uint32_t region;		/* AR_HW_DATA: the host's region index */
	uint64_t off;
	uint64_t len;			/* written back: the plugin's len */
	uint32_t type;
	uint32_t custom_id;
};
static_assert(sizeof(struct ar_host_arg) == 32, "ar_host_arg layout");
static_assert(offsetof(struct ar_host_arg, off) == 8, "ar_host_arg.off");
static_assert(offsetof(struct ar_host_arg, len) == 16, "ar_host_arg.len");
static_assert(offsetof(struct ar_host_arg, type) == 24, "ar_host_arg.type");

/* One op, as struct ar_op with buffers as (region, offset). sgemm's a and
 * b are read[0..1] and c write[0]; an image op's picture is read[0], its
 * text and image name write[0..1]. */
struct ar_host_op {
	_Atomic uint32_t state;		/* first slot of a request: AR_HS_* */
	uint32_t seq;			/* the broker's, echoed in nothing: checked */
	uint32_t op;
	uint32_t session;
	uint32_t session_flags;
	uint32_t tenant;
	int32_t status;			/* written by the host */
	uint32_t why_cap;		/* 0: no reason buffer */
	uint64_t why_off;		/* in scratch */
	uint32_t nr_read, nr_write;
	uint32_t res_region;		/* the resource's region, or UINT32_MAX */
	uint32_t mbench_us;
	int64_t m, n, k, lda, ldb, ldc;
	float alpha, beta;
	uint64_t resv;
	struct ar_host_arg library, symbol;
	struct ar_host_arg read[AR_WIRE_MAX_ARGS];
	struct ar_host_arg write[AR_WIRE_MAX_ARGS];
};
static_assert(offsetof(struct ar_host_op, state) == 0, "ar_host_op.state");
static_assert(offsetof(struct ar_host_op, seq) == 4, "ar_host_op.seq");
static_assert(offsetof(struct ar_host_op, op) == 8, "ar_host_op.op");
static_assert(offsetof(struct ar_host_op, tenant) == 20, "ar_host_op.tenant");
static_assert(offsetof(struct ar_host_op, status) == 24, "ar_host_op.status");
static_assert(offsetof(struct ar_host_op, why_off) == 32, "ar_host_op.why_off");
static_assert(offsetof(struct ar_host_op, nr_read) == 40, "ar_host_op.nr_read");
static_assert(offsetof(struct ar_host_op, res_region) == 48, "ar_host_op.res_region");
static_assert(offsetof(struct ar_host_op, m) == 56, "ar_host_op.m");
static_assert(offsetof(struct ar_host_op, alpha) == 104, "ar_host_op.alpha");
static_assert(offsetof(struct ar_host_op, library) == 120, "ar_host_op.library");
static_assert(offsetof(struct ar_host_op, read) == 184, "ar_host_op.read");
static_assert(offsetof(struct ar_host_op, write) == 184 + 32 * AR_WIRE_MAX_ARGS,
	      "ar_host_op.write");
static_assert(sizeof(struct ar_host_op) <= AR_HOST_DESC_BYTES, "a slot's descriptor page");

/* An SQ record: run slots[0..n) as one call (n > 1: the plugin's batch
 * entry); slots[0]'s state word completes the request. */
struct ar_host_req {
	uint32_t n;
	uint32_t seq;			/* slots[0]'s seq */
	uint16_t slots[];
};
static_assert(sizeof(struct ar_host_req) == 8, "ar_host_req layout");

/* ---- control messages (SOCK_SEQPACKET), each starting with a type ---- */

enum {
	AR_HC_HELLO = 1,		/* broker -> host, fds: link memfd, doorbell */
	AR_HC_READY = 2,		/* host -> broker */
	AR_HC_MAP = 3,			/* broker -> host, fd: the memfd */
	AR_HC_MAPPED = 4,		/* host -> broker */
	AR_HC_UNMAP = 5,		/* broker -> host, no answer */
	AR_HC_SESSION_CLOSED = 6,	/* broker -> host, no answer */
};

#define AR_HOST_SETTING_BYTES 4096u

struct ar_hc_hello {
	uint32_t type, version;
	uint32_t log_level;
	uint32_t threads;		/* ops the host runs at once */
	uint64_t spin_ns;
	uint64_t memory_max;		/* bytes over its baseline, 0: none */
	uint32_t seccomp;		/* exec's filter: no execve, no sockets */
	uint32_t uid, gid;		/* UINT32_MAX: stay */
	uint32_t tenant;		/* 0: a host of the whole plugin */
	char name[64];			/* for logs: "exec" */
	char path[4096];		/* the plugin's shared object */
	char plugin_dir[4096];
	/* The settings plugins read (AR_PLUGIN_KEYS order), then their
	 * values: NUL-separated, at most AR_HOST_SETTING_BYTES each. */
	uint32_t settings_len;
	char settings[];
};

struct ar_hc_ready {
	uint32_t type;
	int32_t status;			/* 0, or why the plugin would not load */
	uint32_t plugin_type;		/* AR_PLUGIN_* */
	uint32_t has_batch;
	uint32_t has_session_closed;
	uint32_t pid;
	uint8_t ops[AR_OP_MAX];		/* 1: the plugin serves it */
	char name[64];
	char version[64];
	char error[256];
};

/* A region to map: kind data: a data area at [off, off + len) of the fd;
 * kind resource: the whole memfd, len bytes, and its file table after the
 * message: nr_files struct ar_hc_file, then their names, NUL-terminated. */
enum { AR_HM_DATA = 1, AR_HM_RESOURCE = 2 };

struct ar_hc_map {
	uint32_t type;
	uint32_t kind;
	uint32_t index;			/* the host's region index */
	uint32_t nr_files;
	uint64_t key;			/* checked against later uses */
	uint64_t off, len;
	uint64_t res_id;
	uint32_t res_type;
	uint32_t names_len;
	uint8_t res_sha256[32];
};

struct ar_hc_file {
	uint64_t offset, size;
	uint32_t whole;			/* the file is all of the memfd */
	uint32_t name_len;		/* with its NUL */
	uint8_t sha256[32];
};

struct ar_hc_mapped {
	uint32_t type;
	int32_t status;
	uint32_t index;
	uint32_t resv;
};

struct ar_hc_unmap {
	uint32_t type;
	uint32_t index;
	uint64_t key;
};

struct ar_hc_session {
	uint32_t type;
	uint32_t tenant, session;
	uint32_t resv;
};

/* The largest control message either side sends or takes. */
#define AR_HC_MAX (sizeof(struct ar_hc_hello) + 2 * 8 * AR_HOST_SETTING_BYTES)

#endif /* ACCELRING_BROKER_HOST_ABI_H */

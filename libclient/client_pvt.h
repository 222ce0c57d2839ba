/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libclient's private structures (never installed).
 *
 * A client holds links: connections to the broker, each with its region
 * (channels and a data area). A queue is one channel of a link, owned by
 * one thread at a time. A queue keeps a table of slots, one per op in
 * flight; an op's request id is its slot index and the slot's generation,
 * so a stale or forged completion id matches nothing.
 */
#ifndef ACCELRING_CLIENT_PVT_H
#define ACCELRING_CLIENT_PVT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <accelring/client.h>
#include <accelring/ring.h>
#include <accelring/wire.h>

#define AR_VISIBLE __attribute__((visibility("default")))
/* Thread-locals the op path reads: static TLS, no __tls_get_addr call per
 * access (the library is linked, not dlopen'ed, in the usual case, and
 * glibc keeps static TLS room for the few bytes a dlopen needs). */
#define AR_TLS __thread __attribute__((tls_model("initial-exec")))

/* The local data area of a stream connection, unless asked otherwise. */
#define AR_STREAM_DATA_BYTES (64ull << 20)
/* Ops one queue may have in flight. */
#define AR_QUEUE_SLOTS 4096u
/* Inline outputs a slot records without allocating. */
#define AR_SLOT_OUTS 4u

enum { SLOT_FREE, SLOT_PENDING, SLOT_DONE };

struct out_dst {
	void *dst;
	uint64_t cap;
};

struct slot {
	uint64_t user_data;
	uint32_t gen;
	uint8_t state;
	bool sync;		/* a caller waits for it; ar_reap skips it */
	uint16_t nr_out;
	int32_t status;
	uint32_t op;		/* for traces; UINT32_MAX: not an op */
	uint32_t next_free;
	uint64_t value;
	struct out_dst out[AR_SLOT_OUTS];
	struct out_dst *more;	/* outputs beyond AR_SLOT_OUTS */
};

struct link;

struct ar_queue {
	struct link *link;
	uint32_t idx;
	bool owned;
	bool faulted;			/* its rings prefaulted (shm) */
	int err;			/* sticky: -EPROTO or -ECONNRESET */
	struct ar_ring_prod sq;
	struct ar_ring_cons cq;
	struct ar_ring_wait sq_wait;	/* the doorbell */
	int doorbell, wake;
	uint64_t spin_ns;
	struct ar_wire_enc *enc;
	struct slot *slots;
	uint32_t free_head;		/* UINT32_MAX: none free */
	uint32_t fresh;			/* slots [fresh, AR_QUEUE_SLOTS) were
					 * never used: zero, untouched pages */
	uint32_t inflight;
	uint32_t *done;			/* FIFO of completed async slots */
	uint32_t done_head, done_tail;
	uint8_t *cbuf;			/* private copy of one completion */
	/* Why the broker refused the last synchronous call, or "". */
	char why[AR_WIRE_MAX_MESSAGE];
	struct ar_stream_q *st;		/* stream transport (stream.c), or NULL */
};

/* One block of free data area. */
struct blk {
	uint64_t off, len;
};

struct link {
	struct link *next;
	struct ar_client *client;
	int sock;
	bool stream;			/* stream transport: no shared memory */
	uint32_t max_frame;		/* stream: the broker's largest frame */
	uint32_t tenant;
	uint32_t nr_channels;
	struct ar_region region;
	uint8_t *data;
	uint64_t data_bytes;
	struct ar_queue *q;
	pthread_mutex_t alloc_lock;
	/* Shared memory: one ResourceOpen on the socket at a time, and its
	 * answer (resource.c). */
	pthread_mutex_t ctl_lock;
	struct blk *free;
	uint32_t nr_free, cap_free;
};

/* Address kinds: where and how a client reaches the broker. */
enum { AR_ADDR_UNIX, AR_ADDR_UNIX_STREAM, AR_ADDR_TCP, AR_ADDR_VSOCK };

struct ar_client {
	uint64_t id;			/* tells thread caches apart */
	int kind;			/* AR_ADDR_* */
	/* The address as given, and where it came from (a variable's name,
	 * "the default" or "the caller"): error messages name both. */
	char address[320];
	const char *from;
	char path[108];			/* UNIX socket */
	char host[256], port[16];	/* TCP */
	uint32_t cid, vport;		/* vsock */
	pthread_mutex_t lock;
	struct link *links;
	uint32_t want_channels;
	uint64_t data_bytes;
	uint64_t spin_ns;
	uint32_t sq_bytes, cq_bytes;	/* 0: the broker's */
	pthread_key_t key;
	char error[512];		/* why the last connection attempt failed */
	/* Variables that were ignored or clamped at connect, one line each
	 * ("" if none): for the vAccel layer to log (conn.c). */
	char warnings[1024];
};

/* env.c: the client's environment variables, one parser for all. */
enum ar__env {
	AR_ENV_CHANNELS,
	AR_ENV_DATA_BYTES,
	AR_ENV_SPIN_NS,
	AR_ENV_SQ_BYTES,
	AR_ENV_CQ_BYTES,
	AR_ENV_TENSOR_OUT_BYTES,
	AR_ENV_TRACE,
	AR_ENV_MAX
};

#define AR_ENV_F_BYTES 1u	/* a size: K, M, G suffixes */
#define AR_ENV_F_POW2 2u	/* rounded up to a power of two */
#define AR_ENV_F_ZERO 4u	/* 0 is allowed below min: "the broker's" */

/* A variable: its default (when unset or unparsable) and its range. */
struct ar__env_var {
	const char *name;
	uint64_t def, min, max;
	unsigned flags;
};
extern const struct ar__env_var ar__env_vars[AR_ENV_MAX];

/*
 * ar__env_parse - s (the variable's value, NULL when unset) as v says:
 * *out gets what is used. Returns 0, or -EINVAL (not a number: *out is the
 * default) or -ERANGE (clamped or rounded up); then warn (cap bytes, may
 * be NULL) says what was given and what is used instead, else it is "".
 */
int ar__env_parse(const struct ar__env_var *v, const char *s, uint64_t *out,
		  char *warn, size_t cap);
/* The variable's value from the environment; warn as ar__env_parse. */
uint64_t ar__env_get(enum ar__env which, char *warn, size_t cap);

/* client.c */
/*
 * ar__client_open - ar_client_connect, and on failure why (cap bytes, may
 * be NULL) says what is wrong with the address and which variable it came
 * from.
 */
int ar__client_open(const char *address, struct ar_client **out, char *why, size_t cap);
/* A getaddrinfo() error as an errno (negative): EAI_NONAME -ENXIO,
 * EAI_AGAIN -EAGAIN, EAI_FAIL -EIO, EAI_MEMORY -ENOMEM, EAI_SERVICE
 * -EINVAL, EAI_SYSTEM -errno... */
int ar__gai_errno(int gai);
/* Record why connecting to c's broker failed (err: -errno) in c->error,
 * with what a user may do about it. */
void ar__connect_failed(struct ar_client *c, int err);

/* client.c */
int ar__link_open(struct ar_client *c, struct link **out);
/* Send the Hello; receive the Welcome (and its fds, up to max_fds).
 * Returns the number of fds, or -errno. */
int ar__handshake(struct ar_client *c, int fd, uint32_t transport, int *fds,
		  unsigned max_fds, struct ar_wire_msg *m, uint64_t *buf, size_t buflen);
/* Record a completion in its slot. Returns 1 if it completed one. */
int ar__complete(struct ar_queue *q, const struct ar_wire_completion *cm);
int ar__queue_init(struct link *l, uint32_t i);
/* A queue's fatal error, kept: returns it. */
int ar__gone(struct ar_queue *q, int err);

/* stream.c: the stream transport (VMs: TCP, vsock; or a UNIX stream) */
struct ar_stream_q;
int ar__stream_link_open(struct ar_client *c, struct link **out);
void ar__stream_queue_fini(struct ar_queue *q);
int ar__stream_put(struct ar_queue *q, const struct ar_wire_msg *m);
int ar__stream_flush(struct ar_queue *q);
int ar__stream_drain(struct ar_queue *q);
/* Wait until the socket has bytes, or the deadline: 1, 0, or -errno. */
int ar__stream_wait(struct ar_queue *q, uint64_t deadline_ns);
void ar__link_close(struct link *l);
/* Take a free slot; -EAGAIN if none. */
int ar__slot_get(struct ar_queue *q, uint64_t user_data, bool sync);
void ar__slot_put(struct ar_queue *q, uint32_t idx);
static inline uint64_t ar__slot_id(const struct ar_queue *q, uint32_t idx)
{
	return ((uint64_t)q->slots[idx].gen << 32) | idx;
}
/* Encode m into the SQ (not published). -EAGAIN: flushed, retry later. */
int ar__queue_put(struct ar_queue *q, const struct ar_wire_msg *m);
/* Read every completion in the CQ into its slot. */
int ar__queue_drain(struct ar_queue *q);
/* ops.c: queue m (a session or resource message) as a sync request and
 * wait for it; *value gets the completion's value. */
int ar__call(struct ar_queue *q, struct ar_wire_msg *m, uint64_t *value);
/* stream.c: a resource's bytes (bytes of memfd) as a ResourceOpen and
 * ResourceData frames, queued to send before the ResourceRegister. */
int ar__stream_res_upload(struct ar_queue *q, uint32_t token, int memfd, uint64_t bytes);
/* Wait for the slot to complete; returns its status, frees the slot. */
int ar__queue_wait_slot(struct ar_queue *q, uint32_t idx, uint64_t *value);

/* ops.c: a submission made while ar__tls_sync is set takes a slot that
 * ar_reap() skips; its index is left in ar__tls_slot for
 * ar__queue_wait_slot(). */
extern AR_TLS bool ar__tls_sync;
extern AR_TLS int ar__tls_slot;

/* alloc.c */
int ar__alloc_init(struct link *l);
void ar__alloc_fini(struct link *l);
/* Whether [p, p+len) lies in l's data area; its offset if so. */
bool ar__in_area(const struct link *l, const void *p, uint64_t len, uint64_t *off);

/*
 * trace.c: the client's tracepoint probes, loaded at the first connect
 * where a trace can be taken. mode is ACCELRING_TRACE's value: 0 never,
 * 1 always, 2 when an LTTng session daemon runs. Returns one of
 * AR_TRACE_PROBES_*; MISSING (wanted, not loadable) also says why in why,
 * to the first caller only.
 * Without lttng-ust at build time, always OFF.
 */
enum { AR_TRACE_PROBES_OFF, AR_TRACE_PROBES_LOADED, AR_TRACE_PROBES_MISSING };
#ifdef AR_HAVE_LTTNG
int ar__trace_load_probes(int mode, char *why, size_t cap);
#else
static inline int ar__trace_load_probes(int mode, char *why, size_t cap)
{
	(void)mode, (void)why, (void)cap;
	return AR_TRACE_PROBES_OFF;
}
#endif

#endif /* ACCELRING_CLIENT_PVT_H */

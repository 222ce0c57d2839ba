/* SPDX-License-Identifier: Apache-2.0 */
/*
 * accelring/client.h - libaccelring's native API.
 *
 * A client connects to accelringd (ar_client_connect), and each thread
 * that submits ops gets a queue of its own (ar_queue_get): a channel of SQ
 * and CQ rings in shared memory. Ops are submitted without waiting
 * (ar_submit_*), become visible to the broker at ar_flush() (one store and,
 * only if the broker sleeps, one eventfd write per batch), and complete
 * into ar_cqe entries that ar_reap() / ar_wait() return.
 *
 * Zero copy: ar_buf_alloc() returns memory in the queue's shared data
 * area; ops whose buffers lie there pass only offsets, and the broker's
 * plugins read and write them in place.
 *
 * Threads: a struct ar_client may be shared by every thread of the
 * process; ar_queue_get() gives each thread a queue of its own, and a
 * queue is used by that thread alone (no locks on the submission path):
 * every call that takes a struct ar_queue must come from the thread that
 * got it. ar_buf_alloc() and ar_buf_free() may be called from any thread
 * holding a queue of the connection. ar_client_close() must not run while
 * any thread still uses one of its queues.
 *
 * Every function returns 0 (or a count) on success and a negative errno on
 * failure; the native API never prints (ar_client_error and ar_queue_error
 * say why, in words; the vAccel API logs them). A broker that goes away
 * fails pending and later calls with -ECONNRESET instead of hanging.
 *
 * An example of each part: libclient/examples/async.c (many ops in
 * flight), zerocopy.c (ar_buf_alloc), and the README's quick start.
 *
 * The vAccel-compatible API (vaccel.h) is built on this one.
 */
#ifndef ACCELRING_CLIENT_H
#define ACCELRING_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <accelring/wire.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Where ar_client_connect(NULL) looks when the environment names nothing:
 * the broker's default socket (accelringd's `socket` setting). */
#define AR_DEFAULT_ADDRESS "unix:///run/accelring/accelring.sock"

struct ar_client;
struct ar_queue;

/* The library's version, "MAJOR.MINOR.PATCH" (the project's; the soname
 * is libaccelring.so.1 whatever the minor and patch). */
const char *ar_version(void);

/* A completion. */
struct ar_cqe {
	uint64_t user_data;	/* as given at submission */
	int32_t status;		/* 0 or -errno */
	uint32_t resv;
	uint64_t value;		/* op specific (ar_session_open: the id) */
};

/*
 * ar_client_connect - a client of the broker at address, one of
 *   unix:///path          shared memory over the UNIX socket at /path (also
 *                         "unix:/path" or a bare "/path"); the fast path
 *   unix-stream:///path   the stream transport over that same socket
 *   tcp://host:port       the stream transport over TCP (VMs); host is a
 *                         name, an IPv4 address or [an IPv6 address]
 *   vsock://cid:port      the stream transport over vsock (VMs)
 * or NULL: $ACCELRING_ADDRESS if set, else $VACCEL_RPC_ADDRESS if set and
 * not empty (any of the schemes above), else AR_DEFAULT_ADDRESS. The
 * stream transport carries the same ops: the data area is then this
 * process's memory and buffers travel in frames. The address is only
 * parsed here: nothing is connected or mapped until a thread asks for its
 * queue (ar_queue_get), so a refusal shows there. The tuning variables
 * (ACCELRING_CHANNELS, ACCELRING_DATA_BYTES, ACCELRING_SPIN_NS,
 * ACCELRING_SQ_BYTES, ACCELRING_CQ_BYTES) are read here: a value that does
 * not parse is ignored and one out of range clamped, never an error.
 * Returns 0, or -EINVAL (malformed address: a path that is not absolute or
 * longer than 107 bytes, a tcp:// without host or port, vsock:// numbers
 * that do not parse), -EPROTONOSUPPORT (another scheme), -ENOMEM.
 */
int ar_client_connect(const char *address, struct ar_client **out);

/* ar_client_close - disconnect and unmap everything. No queue of c may be
 * used afterwards. */
void ar_client_close(struct ar_client *c);

/*
 * ar_queue_get - the calling thread's queue, bound on first use to a free
 * channel (a new connection is opened when every channel is taken: each
 * connection has $ACCELRING_CHANNELS channels, 4 by default, over shared
 * memory, and one over a stream). Later calls on the same thread return
 * the same queue, at no cost. It is given back when the thread exits (and
 * retired, not reused, if ops were still in flight). Thread-safe; the
 * queue it returns is for the calling thread only.
 * Returns 0, or -ENOENT / -ECONNREFUSED (no broker at the address),
 * -ENXIO (tcp://: no such host), -EAGAIN (tcp://: the host's name could
 * not be resolved now; try again), -EIO (the resolver failed),
 * -EACCES (not admitted by allow-uids / allow-gids / allow-peers, or by
 * the socket's mode), -EDQUOT (the tenant's channels or region memory are
 * used up), -E2BIG (rings or data area beyond the broker's limits),
 * -ETIMEDOUT / -EPROTO (the broker did not answer, or broke the
 * handshake), -EPROTONOSUPPORT (an incompatible broker), -ENOMEM, -EMFILE.
 * ar_client_error says why, and what to do about it.
 */
int ar_queue_get(struct ar_client *c, struct ar_queue **q);

/* Why the last connection attempt of c failed: the address, where it
 * came from (the program, a variable, the default) and the system's or
 * the broker's words ("" if nothing failed). Valid until the next
 * attempt. */
const char *ar_client_error(const struct ar_client *c);

/*
 * Sessions (synchronous): the context ops run in on the broker (vAccel's
 * sessions; resources are registered with one). flags are plugin hints,
 * the AR_PLUGIN_* type bits of <accelring/plugin.h> (vAccel's
 * VACCEL_PLUGIN_* values): each op of the session goes to the first
 * plugin, in the broker's `plugins` order, that implements it and whose
 * type shares a bit with flags, else to the first that implements it at
 * all; 0 is no preference. Its id is valid on every queue of the client
 * (sessions are the tenant's: another tenant's id is -EPERM), and it is
 * closed by ar_session_close or when the connection that opened it closes.
 * ar_session_open returns 0 with *id set, or -EDQUOT (the broker's
 * tenant-sessions), -ENOMEM, -ECONNRESET / -EPROTO; ar_session_close 0 or
 * -EPERM (not an open session of this tenant).
 */
int ar_session_open(struct ar_queue *q, uint32_t flags, uint32_t *id);
int ar_session_close(struct ar_queue *q, uint32_t id);

/*
 * ar_buf_alloc - size bytes of shared memory in q's data area, 64-byte
 * aligned (no two buffers share a cache line), or NULL if the area has no
 * room. The area is per connection: over shared memory the broker's
 * data-bytes (64M by default), over a stream 64M; $ACCELRING_DATA_BYTES
 * asks for another size, up to the broker's max-data-bytes (a stream:
 * stream-max-data-bytes).
 *
 * Sharing: the area belongs to q's connection, and the broker maps it too
 * (over a stream transport it is this process's memory, copied in frames).
 * A buffer passes by offset, without a copy, in ops submitted on q or on
 * another queue of the same connection; on a queue of another connection
 * it is not in that queue's area (ar_submit_sgemm: -EFAULT; a read
 * argument of ar_submit_generic: sent inline). Other threads may read and
 * write it, but nobody should touch a buffer while an op that writes it
 * is in flight, nor change what an op reads before its completion: the
 * plugin works on it in place.
 *
 * Lifetime: until ar_buf_free(q, p) (with q, or a queue of the same
 * connection; a pointer not from ar_buf_alloc, or freed twice, is
 * ignored) or ar_client_close(), which unmaps the area. A thread's exit
 * does not free what it allocated. The memory is not zeroed.
 */
void *ar_buf_alloc(struct ar_queue *q, size_t size);
void ar_buf_free(struct ar_queue *q, void *p);

/* ---- asynchronous submission ----
 *
 * Each returns 0 once the op is queued (visible after ar_flush()), or
 * -EAGAIN when the SQ or the queue's table of ops in flight is full (the
 * SQ was flushed: reap completions and retry), -EINVAL for arguments that
 * cannot be encoded, -EPROTO or -ECONNRESET when the broker is gone.
 */
int ar_submit_noop(struct ar_queue *q, uint32_t session, uint64_t user_data);
int ar_submit_mbench(struct ar_queue *q, uint32_t session, uint32_t time_us,
		     uint64_t user_data);

/* C = alpha * A * B + beta * C, row-major. a, b and c must come from
 * ar_buf_alloc(q, ...) (-EFAULT otherwise). */
struct ar_sgemm {
	int64_t m, n, k, lda, ldb, ldc;
	float alpha, beta;
	const float *a, *b;
	float *c;
};
int ar_submit_sgemm(struct ar_queue *q, uint32_t session,
		    const struct ar_sgemm *s, uint64_t user_data);

/* An argument of a generic op. Read arguments: data from buf (passed by
 * reference if it lies in q's data area, else inline). Write arguments:
 * written in place if in the data area, else copied into buf at
 * completion (at most size bytes). type and custom_id travel to the
 * plugin unchanged: the vaccel_arg_type_t (0: raw bytes) and a custom
 * type's id; the broker refuses a scalar whose size is not its type's. */
struct ar_arg {
	void *buf;
	uint32_t size;
	uint32_t type;
	uint32_t custom_id;
};

/* Image ops (AR_OP_IMAGE_*): outputs as write arguments. */
int ar_submit_image(struct ar_queue *q, uint32_t session, uint32_t op,
		    const void *img, size_t len_img, void *out_text,
		    size_t len_text, void *out_imgname, size_t len_imgname,
		    uint64_t user_data);

/* Any op with Generic arguments (exec, the model ops, ...), within the
 * bounds of its line of the op table (accelring/optable.h): -EINVAL
 * otherwise. */
int ar_submit_generic(struct ar_queue *q, uint32_t session, uint32_t op,
		      const char *library, const char *symbol,
		      const struct ar_arg *read, uint32_t nr_read,
		      const struct ar_arg *write, uint32_t nr_write,
		      uint64_t user_data);

/* An op on a resource (exec_with_resource, the model ops): as
 * ar_submit_generic, the resource (an id from ar_resource_register) in
 * place of the library. */
int ar_submit_resource_op(struct ar_queue *q, uint32_t session, uint32_t op,
			  uint64_t resource, const char *symbol,
			  const struct ar_arg *read, uint32_t nr_read,
			  const struct ar_arg *write, uint32_t nr_write,
			  uint64_t user_data);

/* ---- resources (synchronous) ----
 *
 * A resource (vAccel's models, libraries, data) goes to the broker once:
 * its files are packed into a memfd, sealed against any change, which the
 * broker maps (shared memory: no copy) or receives in frames (stream), and
 * keeps for the tenant while a session has it registered. Identical
 * content is stored once per tenant.
 */

/* One file of a resource: from data, or (data NULL) the first size bytes
 * of the file fd. */
struct ar_res_piece {
	const char *name;	/* a file name: no '/', not . or .. */
	const void *data;
	uint64_t size;
	int fd;
};

/* Where a file lies in the packed memfd. */
struct ar_res_file {
	const char *name;
	uint64_t offset, size;
};

/*
 * ar_resource_pack - a sealed memfd holding n pieces (at most 64): one
 * piece is the whole memfd; more are each page aligned. files (n entries)
 * says where each lies, *bytes the memfd's size. Returns the fd (the
 * caller closes it), or -EINVAL, -ENOMEM, -errno of a copy that failed.
 */
int ar_resource_pack(const struct ar_res_piece *pieces, uint32_t n,
		     struct ar_res_file *files, uint64_t *bytes);

/*
 * ar_resource_register - ship memfd (from ar_resource_pack; sealed, every
 * page present) to the broker and register it with session as a resource
 * of type (vaccel_resource_type_t); *id is its broker id. The caller may
 * close memfd afterwards. Returns 0, or -EDQUOT (tenant-resource-bytes or
 * tenant-resources), -EPERM (not sealed, or not the tenant's session),
 * -EINVAL (bad names or ranges), -EBUSY, -ECONNRESET...; ar_queue_error()
 * says why in the broker's words.
 */
int ar_resource_register(struct ar_queue *q, uint32_t session, uint32_t type,
			 int memfd, uint64_t bytes, const struct ar_res_file *files,
			 uint32_t nr_files, uint64_t *id);

/* Register the tenant's resource id with another session: nothing is
 * shipped. -ENOENT once the resource was freed (ship it again). */
int ar_resource_attach(struct ar_queue *q, uint32_t session, uint64_t id);

/* Unregister it from session; freed with its last session. -ENOENT if it
 * was not registered with session. */
int ar_resource_unregister(struct ar_queue *q, uint32_t session, uint64_t id);

/* Why the broker refused q's last synchronous call (a resource call, a
 * session or a Generic op), in its words, or "". */
const char *ar_queue_error(const struct ar_queue *q);

/* ar_flush - make submitted ops visible; wake the broker if it sleeps.
 * Returns 0 or -ECONNRESET / -EPROTO. */
int ar_flush(struct ar_queue *q);

/* ar_reap - up to max completions that are ready, without waiting (and
 * without flushing: ops submitted since the last flush are not seen by the
 * broker until ar_flush or ar_wait).
 * Returns how many (0 if none), or -EPROTO / -ECONNRESET. */
int ar_reap(struct ar_queue *q, struct ar_cqe *cqes, unsigned max);

/*
 * ar_wait - flush, then wait until at least min completions are ready
 * (spinning briefly, then sleeping), for at most timeout_ns (negative:
 * forever). Returns how many were reaped (up to max; fewer than min on
 * timeout), or -ECONNRESET (the broker went away), -EPROTO, -EINTR.
 */
int ar_wait(struct ar_queue *q, struct ar_cqe *cqes, unsigned max,
	    unsigned min, int64_t timeout_ns);

/* Ops submitted and not yet reaped on q. */
unsigned ar_queue_inflight(const struct ar_queue *q);

/* The tenant id the broker gave this client (for logs and traces). */
uint32_t ar_queue_tenant(const struct ar_queue *q);

#ifdef __cplusplus
}
#endif

#endif /* ACCELRING_CLIENT_H */

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * broker/internal.h - accelringd's private structures.
 *
 * Threads and who owns what:
 * - The loop thread (loop.c) runs an io_uring: it accepts connections, does
 *   the handshake (conn.c), watches each socket for EOF, handles signals and
 *   timers. It alone creates and tears down connections.
 * - Worker threads (worker.c) each own a set of channels. A worker polls its
 *   channels' SQ rings, copies, verifies and decodes requests (request.c),
 *   runs them in plugins (plugin.c) and posts completions to the CQ rings.
 *   When every channel has been idle for spin_ns it sleeps in its own
 *   io_uring on its channels' doorbell eventfds.
 * - The loop hands channels to workers, and takes them back, through each
 *   worker's command queue; a channel is only ever touched by its worker.
 * - A connection is freed when its last reference goes: one held by the
 *   loop until the socket closes, one per channel until its worker has
 *   dropped it. So a worker never sees a region unmapped under it. What
 *   its tenant is charged for does not wait for that (a worker may be
 *   busy in a long op): when the loop sees the socket close, the channels
 *   and sessions go back at once and the region's pages are punched out
 *   (reclaim.c), since a client may keep the memfd; a worker still in an
 *   op there sees zero pages.
 */
#ifndef ACCELRING_BROKER_INTERNAL_H
#define ACCELRING_BROKER_INTERNAL_H

#include <limits.h>
#include <stdarg.h>
#include <liburing.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <accelring/plugin.h>
#include <accelring/ring.h>
#include <accelring/wire.h>

/* ---- log.c ---- */

/* Atomic: SIGHUP changes it while workers log. */
extern _Atomic int ar__log_level;
/* Look at JOURNAL_STREAM: whether stderr is the journal (lines then carry
 * "<N>" syslog priorities and no timestamp). */
bool ar__log_init(void);
void ar__log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A line shown at the default level (warn) and above, as a notice: the
 * one "ready, listening on ..." line. */
void ar__log_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* At most one line a second for what a tenant can repeat at will (its
 * refusals): true if this one may be logged, with *missed the lines
 * dropped since the last. Any thread. */
struct ar_ratelimit {
	_Atomic uint64_t next_ns;
	_Atomic uint32_t missed;
};
bool ar__ratelimit(struct ar_ratelimit *rl, uint32_t *missed);
/* A tenant's refusal, with its reason: a warning (README: log-level),
 * at most one a second per call site at the default level, since a
 * tenant can repeat it at will; every one at info and debug. */
#define ar_refusal(fmt, ...)                                               \
	do {                                                               \
		static struct ar_ratelimit rl_;                            \
		uint32_t missed_;                                          \
		if (ar__log_level >= AR_LOG_INFO)                          \
			ar__log(AR_LOG_WARN, fmt, ##__VA_ARGS__);          \
		else if (ar__log_level >= AR_LOG_WARN &&                   \
			 ar__ratelimit(&rl_, &missed_))                    \
			ar__log(AR_LOG_WARN, fmt " (%u more refusals here not logged " \
				"in the last second)", ##__VA_ARGS__, missed_); \
	} while (0)
#define ar_err(...) ar__log(AR_LOG_ERROR, __VA_ARGS__)
#define ar_warn(...)                                                       \
	do {                                                               \
		if (ar__log_level >= AR_LOG_WARN)                          \
			ar__log(AR_LOG_WARN, __VA_ARGS__);                 \
	} while (0)
#define ar_info(...)                                                       \
	do {                                                               \
		if (ar__log_level >= AR_LOG_INFO)                          \
			ar__log(AR_LOG_INFO, __VA_ARGS__);                 \
	} while (0)
#define ar_debug(...)                                                      \
	do {                                                               \
		if (ar__log_level >= AR_LOG_DEBUG)                         \
			ar__log(AR_LOG_DEBUG, __VA_ARGS__);                \
	} while (0)
/* A plugin's log line (ar_plugin_host.log), after "prefix: " if not NULL. */
void ar__vlog_prefixed(int level, const char *prefix, const char *fmt, va_list ap);
/* Parse "1".."4" or "error".."debug"; -EINVAL otherwise. */
int ar__log_parse_level(const char *s);

/* ---- config.c ---- */

#define AR_DEFAULT_SOCKET "/run/accelring/accelring.sock"
#define AR_DEFAULT_CONFIG "/etc/accelring/accelringd.conf"
/* Owner and group may connect; others only with socket-mode 0666 (or
 * through socket-group): who reaches the socket at all is the first
 * gate, allow-uids the second. */
#define AR_DEFAULT_SOCKET_MODE 0660u
/* The plugins a broker loads unless told: the ones that compute real
 * results (blas, exec, and torch where CMake builds it: it passes the
 * list). noop answers ops with dummy outputs, so it loads only when
 * listed. */
#ifndef AR_DEFAULT_PLUGINS
#define AR_DEFAULT_PLUGINS "blas:exec"
#endif
#define AR_BATCH_MAX 256u	/* batch-max's ceiling: ops in one coalesced call */
#define AR_MAX_CHANNELS 64u	/* per connection: 1 + 2 * 64 fds fit in one SCM_RIGHTS */

/*
 * Settings the broker keeps for its plugins, which read them by name
 * through ar_plugin_host.setting (plugins/exec.c, plugins/torch):
 *   exec-allow, exec-allow-sha256: exec's allowlists ("PATH:SYM,SYM;..."
 *       and "SHA256:SYM,..."; empty: exec is off);
 *   torch-threads: libtorch's intra-op threads (empty: 1);
 *   torch-image-model, torch-image-labels: the image ops' default model
 *       (a TorchScript file) and its labels (one per line);
 *   torch-image-topk: labels an image classification returns (empty: 5).
 */
#define AR_PLUGIN_KEYS(X)                                                   \
	X("exec-allow") X("exec-allow-sha256") X("torch-threads")           \
	X("torch-image-model") X("torch-image-labels") X("torch-image-topk")
#define AR_PLUGIN_KEY_COUNT_(k) +1
#define AR_NR_PLUGIN_KEYS (0 AR_PLUGIN_KEYS(AR_PLUGIN_KEY_COUNT_))

struct ar_config {
	char socket_path[108];		/* sizeof(sun_path) */
	uint32_t socket_mode;		/* the socket file's mode */
	uint32_t socket_gid;		/* its group; UINT32_MAX: the broker's */
	char plugin_dir[PATH_MAX];
	char plugins[4096];		/* ':'-separated names or paths */
	unsigned workers;		/* 0: half the CPUs, 1..8 */
	unsigned batch;			/* records per channel per pass */
	uint64_t spin_ns;		/* worker spin before sleeping */
	unsigned max_channels;		/* per connection */
	uint32_t sq_bytes, cq_bytes;	/* ring sizes when a client asks 0 */
	uint32_t max_ring_bytes;	/* the largest ring a client may ask for */
	uint64_t data_bytes;		/* data area when a client asks 0 */
	uint64_t max_data_bytes;	/* the most a client may ask for */
	unsigned handshake_ms;		/* to finish the handshake */
	unsigned grace_ms;		/* SIGTERM: drain for this long */
	int log_level;
	/* Stream transports (VMs): listeners, limits, timeouts. */
	char tcp[128];			/* "HOST:PORT" to listen on, or "" */
	uint32_t vsock_port;		/* 0: no vsock listener */
	uint32_t max_frame;		/* largest frame, header excluded */
	unsigned idle_ms;		/* nothing received, nothing in flight */
	unsigned frame_ms;		/* a started frame must be complete */
	unsigned keepalive_s;		/* TCP keepalive idle time; 0: off */
	/* Who may connect over TCP/vsock: ','-separated prefixes and vsock
	 * CIDs; "" admits nobody. A loopback peer (a local user of any uid)
	 * only by a loopback entry (admit.c). */
	char allow_peers[1024];
	/* A stream connection's region is the broker's own memory (the loop
	 * plays the client's side of it): its own, smaller limits. */
	uint64_t stream_data_bytes;	/* data area when a stream Hello asks 0 */
	uint64_t stream_max_data_bytes;	/* the most a stream Hello may ask */
	uint64_t stream_tenant_shm;	/* a tenant's stream connections */
	uint64_t listener_shm;		/* all stream connections of a listener */
	/* Connections that have not finished their handshake. */
	unsigned tenant_handshakes;	/* per tenant key (uid, address) */
	unsigned max_handshakes;	/* per listener */
	/* Access control and per-tenant limits (tenant.c). */
	char allow_uids[1024];		/* "0,1000-1999"; "" with allow_gids "": all */
	char allow_gids[1024];
	unsigned tenant_channels;	/* channels over all its connections */
	unsigned tenant_sessions;	/* sessions open at once */
	uint64_t tenant_shm;		/* bytes of regions (rings + data areas) */
	unsigned tenant_inflight;	/* its ops executing at once, all workers; 0: any */
	unsigned tenant_long_ops;	/* its long ops on threads of their own; 0: any */
	/* Resources (resource.c): the bytes and the number of resources a
	 * tenant may hold, uploads in progress included. */
	uint64_t tenant_resource_bytes;
	unsigned tenant_resources;
	/* Batching across channels, connections and tenants (coalesce.c):
	 * ops of a coalescing kind (AR_OPF_COALESCE) on the same model wait
	 * up to batch_delay_us for others, at most batch_max rows in one
	 * call. 0 us: off. */
	unsigned batch_max;
	unsigned batch_delay_us;
	/* What plugins read through ar_plugin_host.setting (AR_PLUGIN_KEYS),
	 * as written: each plugin checks its own. */
	char plugin_set[AR_NR_PLUGIN_KEYS][4096];
	/* Plugin hosts (isolate.c): "MODE" or "NAME:MODE,..." lists as
	 * written, their uid and gid (UINT32_MAX: the broker's), the ops
	 * one host runs at once. */
	char isolation[1024];
	char op_timeout_ms[1024];
	char plugin_memory_max[1024];
	uint32_t host_uid, host_gid;
	unsigned host_threads;
};
/* A setting's value by name, for plugins (ar_plugin_host.setting): the
 * keys plugins read, or NULL. */
const char *ar__config_setting(const struct ar_config *c, const char *key);

void ar__config_defaults(struct ar_config *c);
/* Apply the "name = value" lines of a file (format: config.c), every line
 * checked. Returns 0 or -errno; each error is logged with its line. */
int ar__config_load(struct ar_config *c, const char *path);
/* Apply one setting by name; where (NULL, "FILE:LINE", "--flag", ...)
 * prefixes the error. Returns 0 or -EINVAL, logged with the values the
 * setting accepts, or for an unknown name the nearest known one. */
int ar__config_set_from(struct ar_config *c, const char *key, const char *val,
			const char *where);
int ar__config_set(struct ar_config *c, const char *key, const char *val);
/* The settings' environment variables (ACCELRING_SOCKET, ...). 0 or -EINVAL. */
int ar__config_env(struct ar_config *c);
/* One config-file line, split in place. Returns 1 (*name, *value set), 0
 * (blank or comment), or -EINVAL with *why. */
int ar__config_parse_line(char *line, char **name, char **value, const char **why);
/* The setting nearest to key (edit distance), or NULL if none is close. */
const char *ar__config_suggest(const char *key);
bool ar__config_known(const char *key);
size_t ar__config_distance(const char *a, const char *b);
/* --help: every setting, from the one table the parser uses. */
void ar__config_usage(FILE *f);
/* SIGHUP: apply to cur what can change at run time from next, and log
 * every other change as needing a restart. Returns whether any did. */
bool ar__config_reload(struct ar_config *cur, const struct ar_config *next);
/* Split a tcp setting into host ("" for any) and port. 0 or -EINVAL. */
int ar__tcp_split(const char *val, char *host, size_t hcap, unsigned *port);

/* ---- plugin.c ---- */

struct ar_vplugin;
struct ar_vop;

/* A loaded plugin. desc is its own descriptor, or for a vAccel plugin
 * (vp set) one vplugin.c made from its struct vaccel_plugin_info, which
 * has no op table: its routes come from vp. */
struct ar_iso;

struct ar_loaded_plugin {
	void *dl;
	const struct ar_plugin *desc;
	struct ar_vplugin *vp;
	/* Isolated (isolate.c): not loaded here; desc is what its host
	 * reported, and its ops run there. */
	struct ar_iso *iso;
	char path[PATH_MAX];
};

/* Where an op goes: one entry per plugin implementing it, in order. fn
 * for an accelring plugin; vop for a vAccel plugin's op (fn NULL). */
struct ar_route {
	const struct ar_loaded_plugin *plugin;
	int (*fn)(struct ar_op *op);
	const struct ar_vop *vop;
};

#define AR_MAX_PLUGINS 32u

struct ar_plugins {
	unsigned nr;
	struct ar_loaded_plugin p[AR_MAX_PLUGINS];
	unsigned nr_routes[AR_OP_MAX];
	struct ar_route routes[AR_OP_MAX][AR_MAX_PLUGINS];
};

/*
 * Load each plugin of list (':'-separated; a name without '/' resolves to
 * dir/libaccelring-<name>.so). Returns 0, or -errno after logging why a
 * plugin was refused; nothing stays loaded on failure.
 */
int ar__plugins_load(struct ar_plugins *ps, const char *list,
		     const struct ar_plugin_host *host, const char *dir);
void ar__plugins_unload(struct ar_plugins *ps);
/* --check-config: every entry of cfg's plugins resolves to a file whose
 * descriptor is valid (read, not initialized). 0 or -errno, logged. */
int ar__plugins_check(const struct ar_config *cfg);
/* --list-plugins: what plugin-dir holds and the plugins list names, each
 * plugin's name, version and ops, and its place in plugins. 0, or -errno
 * if any could not be read (logged). */
int ar__plugins_list(const struct ar_config *cfg, FILE *f);
/* The route for op in a session with hint flags, or NULL (ENOTSUP). */
const struct ar_route *ar__plugins_route(const struct ar_plugins *ps,
					 uint32_t op, uint32_t flags);

/* ---- vplugin.c: plugins written for upstream vAccel ---- */

/*
 * ar__vplugin_open - lp->dl exports vaccel_plugin (sym, its address):
 * check the descriptor it points to. Returns 0 with lp->vp and lp->desc
 * set (nothing of the plugin has run yet), or -errno, logged.
 */
int ar__vplugin_open(struct ar_loaded_plugin *lp, const char *name,
		     const void *sym);
/*
 * ar__vplugin_init - run the plugin's init, which registers its ops
 * (vaccel_plugin_register_ops). Returns 0, or -errno (logged) if init
 * failed or any registration was refused; fini has then run.
 */
int ar__vplugin_init(struct ar_loaded_plugin *lp);
/* The op of lp's plugin that serves op, or NULL (none, or one the
 * broker cannot serve yet). */
const struct ar_vop *ar__vplugin_served(const struct ar_loaded_plugin *lp,
					uint32_t op);
/* Call fini if init succeeded, and free lp->vp (before the dlclose). */
void ar__vplugin_close(struct ar_loaded_plugin *lp);
/* Run op in a vAccel plugin: 0 or -errno, as an accelring plugin's. */
int ar__vplugin_run(const struct ar_vop *vop, struct ar_op *op);

/* ---- isolate.c: plugins in host processes of their own ---- */

enum { AR_ISO_NONE = 0, AR_ISO_PLUGIN = 1, AR_ISO_TENANT = 2 };

/* The configuration plugin.c loads with (main.c sets it); NULL: every
 * plugin in process (unit tests, fuzz targets). */
extern const struct ar_config *ar__iso_cfg;
/* A plugins-list entry's name for the per-plugin settings. */
void ar__iso_plugin_name(const char *entry, char *out, size_t cap);
/* The isolation the configuration gives a plugins-list entry (AR_ISO_*). */
int ar__iso_mode(const struct ar_config *cfg, const char *entry);
/* 0 if an isolation / op-timeout-ms / plugin-memory-max list parses. */
int ar__iso_check(const char *key, const char *list);
/* Start lp's first host, which loads the plugin and reports its
 * descriptor: lp->desc and lp->iso are set. 0 or -errno (logged). */
int ar__iso_open(struct ar_loaded_plugin *lp, const char *entry, int mode);
/* Stop lp's hosts (shutdown); ar__iso_stop then reaps them. */
void ar__iso_close(struct ar_loaded_plugin *lp);
void ar__iso_stop(void);
/* Run ops[0..n) (one op, or a batch: the plugin's batch entry) in iso's
 * host, setting each op's status (and why). */
void ar__iso_run(struct ar_iso *iso, struct ar_op **ops, uint32_t n);
bool ar__iso_per_tenant(const struct ar_iso *iso);
bool ar__iso_has_batch(const struct ar_iso *iso);
void ar__iso_session_closed(struct ar_iso *iso, uint32_t tenant, uint32_t session);
/* A connection or a resource is freed: hosts unmap it. */
struct ar_conn;
void ar__iso_conn_gone(const struct ar_conn *c);
void ar__iso_res_gone(uint32_t tenant, uint64_t res_id);
/* accelringd --plugin-host (hostd.c): never returns. */
int ar__host_main(void);

/* Run op on its route. */
static inline int ar__route_run(const struct ar_route *rt, struct ar_op *op)
{
	if (rt->plugin->iso) {
		ar__iso_run(rt->plugin->iso, &op, 1);
		return op->status;
	}
	return rt->vop ? ar__vplugin_run(rt->vop, op) : rt->fn(op);
}

/* Whether rt's plugin has a batch entry, and calling it. */
static inline bool ar__route_can_batch(const struct ar_route *rt)
{
	return rt->plugin->iso ? ar__iso_has_batch(rt->plugin->iso) :
				 rt->plugin->desc->batch != NULL;
}

static inline void ar__route_batch(const struct ar_route *rt, struct ar_op *const *ops,
				   uint32_t n)
{
	if (rt->plugin->iso)
		ar__iso_run(rt->plugin->iso, (struct ar_op **)ops, n);
	else
		rt->plugin->desc->batch(ops, n);
}

/* ---- request.c ---- */

/* The largest request a channel accepts is its SQ's largest record. */
struct ar_req_ctx {
	uint8_t *data;			/* the client's data area */
	uint64_t data_bytes;
	uint8_t *arena;			/* inline outputs of this batch */
	size_t arena_cap, arena_used;
	uint32_t max_inline;		/* inline output bytes one completion holds */
	bool report_writes;		/* stream channel: list written ranges */
};

struct ar_req {
	uint32_t type;			/* AR_WIRE_OP, _SESSION_OPEN, _SESSION_CLOSE */
	int32_t status;			/* set before running: a range error */
	uint64_t id;
	uint64_t value;			/* SESSION_OPEN: the new session */
	uint32_t sess_flags;		/* SESSION_OPEN: its hints */
	uint32_t cq_bound;		/* the completion's largest size */
	const struct ar_route *route;
	const struct ar_conn *conn;	/* whose data area the buffers are in */
	uint32_t nr_inline;		/* outputs returned in the completion */
	struct ar_buf *inline_out[AR_WIRE_MAX_ARGS];
	uint64_t inline_cap[AR_WIRE_MAX_ARGS];	/* a plugin may only lower len */
	/* Stream channels: the data-area ranges the op may write, as
	 * declared (sgemm's C: its span), and the ar_buf each belongs to,
	 * whose len the plugin may lower to what it wrote (NULL: written
	 * whole). ar__req_written() makes the completion's list of them. */
	uint32_t nr_written;
	struct ar_wire_range written[AR_WIRE_MAX_ARGS];
	const struct ar_buf *written_buf[AR_WIRE_MAX_ARGS];
	struct ar_op op;
	struct ar_buf read[AR_WIRE_MAX_ARGS];
	struct ar_buf write[AR_WIRE_MAX_ARGS];
	/* Resources: an op's (AR_OPF_RESOURCE) id and, while it runs, the
	 * resource held; a ResourceRegister / Unregister is decoded again
	 * from its private copy when it runs. */
	uint64_t res_id;
	struct ar_res *res;
	const void *copy;
	uint32_t copy_len;
	/* Why it was refused, for the completion (ops that may say: Generic
	 * ones, and resource requests). */
	char why[AR_WIRE_MAX_MESSAGE];
};

/*
 * ar__req_parse - verify and decode copy (private, 8-byte aligned) and
 * range-check every value, resolving buffers against ctx.
 *
 * Returns 0 with r filled; r->status is 0 or the error to complete the
 * request with (-EINVAL: a value out of range, -EMSGSIZE: inline outputs
 * larger than a completion can hold). Or, when r cannot be completed at
 * all, -EBADMSG (not a valid message, or not one a client may send on a
 * ring) or -ENOBUFS (the batch's output arena is full: retry next batch).
 */
int ar__req_parse(struct ar_req_ctx *ctx, const void *copy, size_t len,
		  struct ar_req *r);
/* ar__req_parse in its two steps (the worker traces between them):
 * verify and decode into *m (r gets type, id, op and any range error),
 * then check and resolve every value against ctx. Same returns. */
int ar__req_decode(const void *copy, size_t len, struct ar_req *r,
		   struct ar_wire_msg *m);
int ar__req_resolve(struct ar_req_ctx *ctx, struct ar_req *r,
		    const struct ar_wire_msg *m);
/*
 * ar__req_written - after the plugin ran: the data-area ranges a stream
 * peer gets back in Chunks, into out (room for AR_WIRE_MAX_ARGS). Each
 * range is as long as its buffer's len after the plugin (never longer than
 * declared), empty ones are left out, and overlapping or adjacent ones are
 * merged, in ascending order: they are disjoint and inside the data area,
 * so one op never makes the broker send more than the data area.
 * Returns how many ranges out holds (0..r->nr_written).
 */
int ar__req_written(const struct ar_req *r, struct ar_wire_range *out);

/* ---- tenant.c ---- */

struct ar_res;

struct ar_session {
	uint32_t id;
	uint32_t flags;
	uint32_t conn;		/* opened through this connection; goes with it */
	uint32_t nr_res, cap_res;	/* resources registered with it */
	struct ar_res **res;
};

struct ar_tenant {
	struct ar_tenant *next;		/* global list, under tenants lock */
	uint32_t id;
	char key[80];			/* "uid N", "tcp ADDR" or "vsock cid N" */
	unsigned refs;			/* connections; under tenants lock */
	pthread_mutex_t lock;		/* sessions and what it holds */
	struct ar_session *sessions;
	uint32_t nr_sessions, cap_sessions;
	_Atomic uint32_t gen;		/* bumped when a session closes */
	_Atomic uint32_t inflight;	/* its ops taken by workers, not posted */
	_Atomic uint32_t long_ops;	/* its ops on rescued threads (worker.c) */
	uint32_t channels;		/* held over all its connections */
	uint64_t shm;			/* bytes of regions held */
	uint64_t stream_shm;		/* bytes its stream connections hold */
	/* Limits, from the configuration when it was created. */
	uint32_t max_channels, max_sessions, max_inflight, max_long_ops;
	uint64_t max_shm, max_stream_shm;
	/* Its resources (resource.c), under lock: the store, and what it
	 * holds with uploads in flight, against tenant-resources and
	 * tenant-resource-bytes. */
	struct ar_res *res;
	uint32_t nr_res, max_res;
	uint64_t res_bytes, max_res_bytes;
};

/* The tenant of a peer, by key (a uid for UNIX peers, an address or a
 * vsock CID for network ones), created on first use. NULL: ENOMEM. */
struct ar_tenant *ar__tenant_get(const struct ar_config *cfg, const char *key);
void ar__tenant_put(struct ar_tenant *t);
/* Take up to *nr channels (at least one) and the region they need (fixed
 * bytes, plus per_ch bytes a channel) from t's allowance: tenant-shm, or
 * for a stream connection (stream) stream-tenant-shm; *nr becomes what
 * was granted, *bytes what was taken. -EDQUOT with the reason in why when
 * not even one channel fits. */
int ar__tenant_take(struct ar_tenant *t, bool stream, uint32_t *nr, uint64_t fixed,
		    uint64_t per_ch, uint64_t *bytes, char *why, size_t cap);
void ar__tenant_give_back(struct ar_tenant *t, bool stream, uint32_t nr,
			  uint64_t bytes);
/* Whether id is in a list like "0,1000-1999" (config syntax). */
bool ar__id_in_list(const char *list, uint32_t id);
/* 0 if the list parses, -EINVAL if not. */
int ar__id_list_check(const char *list);
/* Returns the new session id, or -ENOMEM / -EMFILE (too many). */
int64_t ar__session_open(struct ar_tenant *t, uint32_t conn, uint32_t flags);
/* The connection went: close the sessions opened through it. */
void ar__sessions_drop(struct ar_tenant *t, uint32_t conn);
/* fn hears of every session's end (closed, its connection or its tenant
 * gone), outside the tenant's lock where it can. Set once, at start. */
void ar__sessions_set_hook(void (*fn)(uint32_t tenant, uint32_t session));
/* Returns 0 or -EPERM (not a session of t). */
int ar__session_close(struct ar_tenant *t, uint32_t id);
/* Returns 0 with *flags, or -EPERM (not a session of t). */
int ar__session_lookup(struct ar_tenant *t, uint32_t id, uint32_t *flags);

/* ---- conn.c, worker.c, loop.c ---- */

struct ar_worker;
struct ar_conn;

struct ar_channel {
	struct ar_conn *conn;
	uint32_t idx;
	struct ar_worker *worker;
	struct ar_ring_cons sq;
	struct ar_ring_prod cq;
	/* Broker -> client wake-up: a pipe. The broker keeps the write end
	 * (O_NONBLOCK, an open file description nobody else holds, one page)
	 * and sends the read end, so nothing a client does to its fd can
	 * make a write block or fail other than "already signalled"
	 * (SECURITY.md 21). Client -> broker doorbell: an eventfd the client
	 * holds too, so the broker only ever reads it through io_uring,
	 * never with a plain read(2) or write(2) that its flags could block. */
	struct ar_ring_wait cq_wait;	/* AR_WAIT_FD on wake */
	int doorbell;			/* client -> broker eventfd */
	int wake;			/* broker -> client: the pipe's write end */
	int wake_rd;			/* its read end: the stream transport's
					 * loop reads it; -1 once sent to a
					 * shared-memory client */
	/* Worker-private from here on. The thread serving the worker owns
	 * the first group; the thread running the channel's ops owns the
	 * second (the same thread, except while a rescued thread finishes
	 * a long op: worker.c). */
	uint32_t slot;			/* index in the worker's channel array */
	bool armed;			/* a doorbell read is in the io_uring */
	bool removing;			/* dropped once the read is cancelled */
	uint8_t io_pending;		/* removing: reads, recvs, sends still out */
	bool loaned;			/* a rescued thread has it */
	bool remove_pending;		/* removed while loaned */
	bool rung;			/* its doorbell rang since it parked */
	uint64_t dbuf;			/* the doorbell read's target */
	bool parked;			/* waits for CQ room: not polled */
	uint32_t park_head;		/* the CQ head that left no room */
	bool dozing;			/* idle: not polled until its doorbell
					 * rings (NEED_WAKEUP up on its SQ) */
	bool busy;			/* took a request since the last sweep */
	uint64_t idle_since;		/* the sweep that first found it idle */
	uint32_t sess_id, sess_flags, sess_gen;	/* last session looked up */
	uint64_t ops, cancelled;
};

enum { AR_CONN_HANDSHAKE, AR_CONN_ACTIVE, AR_CONN_DEAD };

/* ---- resource.c ---- */

/* Uploads one connection may have waiting for their ResourceRegister. */
#define AR_RES_UPLOADS 4u

struct ar_res_upload {
	uint32_t token;			/* 0: a free slot */
	int fd;				/* the memfd, or -1 */
	uint64_t bytes, received;	/* received < bytes: a stream upload filling */
	bool charged;			/* counted in its tenant's resources */
	_Atomic uint64_t *pool;		/* stream: the listener-shm it holds */
	/* Stream: a ResourceOpen refused (nobody to answer on the socket):
	 * its data is dropped, and its ResourceRegister gets this. */
	int32_t status;
	char why[160];
};

struct ar_conn;
struct ar_broker;

void ar__res_conn_init(struct ar_conn *c);
/* The connection is freed: its uploads go. */
void ar__res_conn_fini(struct ar_conn *c);
/*
 * Loop thread: a ResourceOpen. fd >= 0 (shared memory): the client's
 * memfd, checked and kept (or closed); fd < 0 (stream): a memfd of ours
 * for ResourceData to fill. Returns 0, or -errno with the reason in why
 * (-EDQUOT: tenant-resource-bytes, tenant-resources or listener-shm;
 * -EPERM: not sealed; -EBUSY: no free slot or the token in use).
 */
int ar__res_open(struct ar_broker *b, struct ar_conn *c,
		 const struct ar_wire_res_open *o, int fd, char *why, size_t cap);
/* Loop thread, stream: bytes of an upload, in order. -EPROTO for data the
 * connection never announced, -EIO if they cannot be stored. */
int ar__res_data(struct ar_conn *c, const struct ar_wire_res_data *d, char *why,
		 size_t cap);
/*
 * Worker: a ResourceRegister. Makes the upload of m->token a resource of
 * the tenant (or, stored already, links that one), or links the tenant's
 * resource m->resource; *id is its id. -EPERM (not the tenant's session),
 * -ENOENT (no such resource), -EINVAL (no complete upload, bad names or
 * ranges, a bad type), -ENOMEM; why says which.
 */
int ar__res_register(struct ar_conn *c, const struct ar_wire_res_register *m,
		     uint64_t *id, char *why, size_t cap);
int ar__res_unregister(struct ar_tenant *t, uint32_t session, uint64_t id, char *why,
		       size_t cap);
/* The resource id registered with session, held for an op (ar__res_put
 * when it completes), or NULL with why. */
struct ar_res *ar__res_get(struct ar_tenant *t, uint32_t session, uint64_t id,
			   char *why, size_t cap);
void ar__res_put(struct ar_res *r);
const struct ar_resource *ar__res_pub(const struct ar_res *r);
/* A session closes (t->lock held): unlink its resources. */
void ar__res_session_gone(struct ar_tenant *t, struct ar_session *s);

#define AR_HELLO_MAX 1024u		/* the largest handshake frame */
#define AR_MIN_FRAME 4096u		/* max-frame's bounds */
#define AR_MAX_FRAME (64u << 20)

/* Where a connection came in. */
enum { AR_LISTEN_UNIX, AR_LISTEN_TCP, AR_LISTEN_VSOCK, AR_LISTEN_MAX };

/* io_uring user_data tags of the loop, in a pointer's low bits (conns) or
 * alone (the rest, which may use the bits above the tag). */
enum { L_ACCEPT = 1, L_RECV = 2, L_SIGNAL = 3, L_TIMER = 4, L_CANCEL = 5,
       L_HUP = 6, L_MASK = 7 };

struct ar_stream;
/* How long a stopping broker keeps sending stream peers what was completed
 * for them (one that does not read loses it). */
#define FLUSH_NS 1000000000ull

struct ar_conn {
	struct ar_conn *next;		/* the loop's list */
	int fd;				/* closed when the last ref goes */
	uint32_t id;
	int state;			/* loop thread only */
	_Atomic int refs;
	/* A worker found a protocol error, or the loop tore the connection
	 * down: workers serve its channels no more (service() checks). */
	_Atomic bool poisoned;
	struct ucred cred;		/* UNIX peers */
	int kind;			/* AR_LISTEN_* */
	bool stream;			/* stream transport (frames on the socket) */
	char peer[80];			/* who, for logs */
	char key[80];			/* its tenant's key */
	/* Taken from its tenant's allowance; what is still held. Channels
	 * and sessions go back at teardown (the loop saw the socket close),
	 * region bytes once the teardown's punch freed its pages (reclaim.c),
	 * the rest when the last reference goes. */
	uint32_t held_channels;
	uint64_t held_shm;
	/* A stream connection's memory, taken from its listener's
	 * listener-shm (given back when it is freed). */
	_Atomic uint64_t *listener_pool;
	uint64_t listener_held;
	bool hs_counted;		/* in the handshake counts (admit.c) */
	/* The loop's teardown released the region's pages: release them once
	 * more at the end. Not set when the broker itself shuts down: its
	 * clients still read what it completed for them (SECURITY.md 14). */
	bool reclaimed;
	struct ar_stream *st;		/* stream.c; loop thread only */
	/* Resource uploads waiting for their ResourceRegister (resource.c):
	 * the loop fills a slot, a worker takes it, under res_lock. */
	pthread_mutex_t res_lock;
	struct ar_res_upload up[AR_RES_UPLOADS];
	int ctl_fd;			/* shared memory: an fd received with the
					 * control frame being read, or -1 */
	struct ar_tenant *tenant;
	uint64_t deadline_ns;		/* handshake */
	struct ar_region region;
	uint8_t *data;
	uint64_t data_bytes;
	uint32_t nr_channels;
	struct ar_channel *ch;
	/* The loop's recvmsg. */
	struct msghdr msg;
	struct iovec iov;
	/* Room for the most fds one message can carry (SCM_MAX_FD, 253),
	 * so that an fd flood is seen and closed rather than truncated:
	 * CMSG_SPACE(253 * sizeof(int)) = 1032 on Linux, with margin. */
	union {
		struct cmsghdr align;
		char buf[1088];
	} cbuf;
	uint32_t rlen;
	uint8_t rbuf[4 + AR_HELLO_MAX] __attribute__((aligned(8)));
};

/* The broker: one per process. */
struct ar_broker {
	struct ar_config cfg;
	struct ar_plugins plugins;
	struct ar_plugin_host host;
	int listen_fd;
	bool listen_owned;		/* we bound it (not socket activation) */
	int stream_fd[AR_LISTEN_MAX];	/* TCP and vsock listeners; -1: none */
	/* Bytes the stream connections of each listener hold (listener-shm):
	 * taken by the loop, given back by whoever frees the connection. */
	_Atomic uint64_t listener_shm[AR_LISTEN_MAX];
	struct ar_handshakes *hs;	/* admit.c; loop thread only */
	char tcp_bound[80];		/* the TCP listener's address, port resolved */
	/* tcp, resolved before anything binds (ar__broker_resolve). */
	struct sockaddr_storage tcp_addr;
	socklen_t tcp_addrlen;
	char listen_path[108];		/* the UNIX socket's path, as bound or passed */
	/* SIGHUP (loop.c calls it on the loop thread; main.c sets it). */
	void (*reload)(struct ar_broker *b);
	int sig_fd;
	struct io_uring ring;
	struct ar_conn *conns;
	unsigned conn_ops;		/* loop operations in flight on conns */
	bool closing;			/* close_conns: the workers are joined */
	uint32_t next_conn_id;
	unsigned nr_workers;
	struct ar_worker **workers;
	unsigned next_worker;
	int nodes;			/* NUMA nodes, 1 without libnuma */
	_Atomic bool draining;
	_Atomic unsigned workers_running;
	_Atomic uint64_t drain_deadline_ns;	/* a second signal moves it to 0 */
	_Atomic uint64_t ops_done, ops_cancelled;
	/* The watchdog (worker.c): rescues workers stuck in a long op. */
	pthread_t wd_thr;
	_Atomic bool wd_stop, wd_parked;
	_Atomic uint32_t wd_gen;	/* futex: bumped to wake it */
	_Atomic uint64_t rescues;
	struct ar_coalescer *coal;	/* NULL: batch-delay-us is 0 */
};

uint64_t ar__now_ns(void);

/* conn.c */
struct ar_conn *ar__conn_new(struct ar_broker *b, int fd, int kind);
/* Handle bytes (and fds) the loop received during the handshake. Returns 1
 * when the connection became active, 0 to keep reading, <0 to drop it. */
int ar__conn_handshake(struct ar_broker *b, struct ar_conn *c, int res);
/* A shared-memory connection's socket after the handshake: ResourceOpen
 * frames (and their memfds). 0 to keep reading, <0 to drop it. */
int ar__conn_control(struct ar_broker *b, struct ar_conn *c, int res);
void ar__conn_get(struct ar_conn *c);
void ar__conn_put(struct ar_conn *c);
/* A protocol violation found by a worker: log it, and make the loop see
 * EOF on the socket so that it tears the connection down. */
void ar__conn_poison(struct ar_conn *c, const char *why, int err);

/* reclaim.c: a dead connection's region pages, punched out of its memfd
 * (a client may keep the fd), on a background thread when there are many.
 * ar__reclaim_conn: at teardown; gives the tenant its tenant-shm back once
 * the pages are gone (c's reference is kept until then). ar__reclaim_region:
 * when the last reference goes, then unmaps and closes; r is reset.
 * ar__reclaim_stop: after close_conns, finishes what is queued. */
void ar__reclaim_conn(struct ar_conn *c);
void ar__reclaim_region(struct ar_region *r);
void ar__reclaim_stop(void);

/* ---- coalesce.c: one plugin call for ops of many clients ---- */

/* What ops must share to be coalesced: the route, the op, the model's
 * content and the shape of their inputs but the first dim. */
struct ar_coalesce_key {	/* no padding: keys compare with memcmp */
	const struct ar_route *route;
	uint64_t shape;
	uint8_t model[32];
	uint32_t op;
	uint32_t tenant;	/* a plugin isolated per tenant: its tenant, else 0 */
};
struct ar_coalescer;

/* *out: NULL when batch-delay-us is 0 or batch-max 1 (off). -ENOMEM. */
int ar__coalesce_new(const struct ar_config *cfg, struct ar_coalescer **out);
void ar__coalesce_free(struct ar_coalescer *c);
/* An AR_OPF_COALESCE op's key and its rows (its first input's first
 * dim); false if it cannot be coalesced (its route cannot batch). */
bool ar__coalesce_key(const struct ar_route *rt, const struct ar_op *op,
		      struct ar_coalesce_key *k, uint64_t *rows);
/* The most rows one call takes (batch-max): an op with more runs alone. */
uint64_t ar__coalesce_rows(const struct ar_coalescer *c);
/*
 * Run ops[0..n) (all of key k, rows in all, at most batch-max) in one
 * plugin call with other threads' ops of the same key that arrive within
 * batch-delay-us, at most batch-max rows in all: a tenant's large input
 * cannot make another's call larger than that. Each op's status is set.
 * handoff(arg) is called first: the caller blocks here.
 */
void ar__coalesce_run(struct ar_coalescer *c, const struct ar_coalesce_key *k,
		      struct ar_op **ops, uint32_t n, uint64_t rows,
		      void (*handoff)(void *), void *arg);

/* worker.c */
int ar__worker_start(struct ar_broker *b, unsigned idx, int node,
		     struct ar_worker **out);
void ar__worker_add(struct ar_worker *w, struct ar_channel *ch);
void ar__worker_remove(struct ar_worker *w, struct ar_channel *ch);
/* Wake a worker so that it sees the draining flag. */
void ar__worker_kick(struct ar_worker *w);
/* After the loop saw every worker stop. Returns false (the worker is left
 * allocated) if an op still runs on a rescued thread past the grace. */
bool ar__worker_join(struct ar_worker *w);
/* A worker with no thread, and one pass over one channel with it: what
 * the fuzz target drives (tests/fuzz/fuzz_channel.c). */
struct ar_worker *ar__worker_detached(struct ar_broker *b);
unsigned ar__worker_pass(struct ar_worker *w, struct ar_channel *ch);
void ar__worker_detached_free(struct ar_worker *w);
/* The thread that hands long ops' channels to threads of their own. */
int ar__watchdog_start(struct ar_broker *b);
void ar__watchdog_stop(struct ar_broker *b);
int ar__worker_node(const struct ar_worker *w);

/* stream.c: the loop's side of a stream connection */
/* A stream Hello's sizes: rings (asked, or sq-bytes / cq-bytes) capped to
 * what max-frame needs, the data area (asked, or stream-data-bytes) at
 * most stream-max-data-bytes, and in *extra the frame buffers the loop
 * will hold for it. Returns 0, or -E2BIG with the reason in why. */
int ar__stream_size(const struct ar_broker *b, const struct ar_wire_hello *h,
		    struct ar_region_params *p, uint64_t *extra, char *why,
		    size_t cap);
/* Take bytes from c's listener's listener-shm. Returns 0, or -EDQUOT with
 * the reason in why. */
int ar__stream_take(struct ar_broker *b, struct ar_conn *c, uint64_t bytes,
		    char *why, size_t cap);
/* Give back what ar__stream_take took; any thread. */
void ar__stream_give_back(struct ar_conn *c);
int ar__stream_init(struct ar_broker *b, struct ar_conn *c);
/* The largest request c's submission ring takes (the Welcome says it). */
uint32_t ar__stream_max_request(const struct ar_conn *c);
void ar__stream_free(struct ar_conn *c);
/* The loop thread: after the handshake, the hang-up poll (the worker
 * serving the channel does the socket's I/O); its completion (<0: tear
 * the connection down); cancelling it at teardown, with a shutdown. */
int ar__stream_start(struct ar_broker *b, struct ar_conn *c);
int ar__stream_on_hup(struct ar_broker *b, struct ar_conn *c, int res);
void ar__stream_cancel(struct ar_broker *b, struct ar_conn *c);
/* 1: all completions were sent; 0: not yet; <0: the connection broke. */
int ar__stream_flushed(struct ar_broker *b, struct ar_conn *c);
/* The thread serving the channel's worker (worker.c): whether a recv
 * should be armed, and arming one or a send (sqe's user data ud); what is
 * armed (the count); one that ended without its callback (cancelled at
 * removal); the callbacks; moving completions out (1: arm a send for the
 * rest); whether output is still pending (a drain waits for it); and the
 * slow-peer and idle clocks. A worker ends a connection by shutting its
 * socket down: the loop's poll then tears it down. */
struct io_uring_sqe;
bool ar__stream_wants_recv(const struct ar_conn *c);
void ar__stream_prep_recv(struct ar_conn *c, struct io_uring_sqe *sqe, void *ud);
void ar__stream_prep_send(struct ar_conn *c, struct io_uring_sqe *sqe, void *ud);
unsigned ar__stream_armed(const struct ar_conn *c, bool *recv, bool *send);
void ar__stream_io_over(struct ar_conn *c, bool recv);
void ar__stream_on_recv(struct ar_broker *b, struct ar_conn *c, int res);
void ar__stream_on_send(struct ar_conn *c, int res);
int ar__stream_flush(struct ar_broker *b, struct ar_conn *c);
bool ar__stream_out_pending(const struct ar_conn *c);
void ar__stream_tick(struct ar_broker *b, struct ar_conn *c, uint64_t now);
/* Keepalive and no-delay on an accepted TCP connection. */
void ar__stream_socket_opts(struct ar_broker *b, int fd, int kind);

/* admit.c: who gets in */
/* 0 if every entry of an allow-peers list parses, -EINVAL if not. */
int ar__peer_list_check(const char *list);
/* Whether allow-peers admits c (a network peer); if not, why. */
bool ar__peer_allowed(const struct ar_broker *b, const struct ar_conn *c,
		      char *why, size_t cap);
/* At start: warn about what allow-peers does with the listeners configured
 * (an empty one refuses every peer; one that admits loopback lets local
 * users outside allow-uids in). */
void ar__admit_warn(const struct ar_config *cfg);
/* A new connection, before its handshake: false (logged, rate-limited)
 * when its tenant key has tenant-handshakes connections in the handshake
 * already, or its listener max-handshakes; the caller closes it then. */
bool ar__handshake_admit(struct ar_broker *b, struct ar_conn *c);
/* c left the handshake (active, refused or gone); idempotent. */
void ar__handshake_done(struct ar_broker *b, struct ar_conn *c);
void ar__handshake_free(struct ar_broker *b);

/* loop.c */
struct io_uring_sqe *ar__loop_sqe(struct ar_broker *b);
/* An operation on c is going into the loop's io_uring: it holds a
 * reference until its completion has been handled. */
void ar__loop_hold(struct ar_broker *b, struct ar_conn *c);
/* Check and resolve every listener's address before anything binds (the
 * socket path, tcp's host and port). 0 or -errno, logged. */
int ar__broker_resolve(struct ar_broker *b);
int ar__broker_listen(struct ar_broker *b);
/* Remove the UNIX socket file if this broker bound it (a failed start). */
void ar__broker_unlisten(struct ar_broker *b);
/* "unix:///path, tcp://HOST:PORT, vsock:PORT": what it listens on. */
void ar__broker_addresses(const struct ar_broker *b, char *out, size_t cap);
/* sd_notify(3) when NOTIFY_SOCKET is set (systemd Type=notify). */
void ar__notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* TCP and vsock listeners, if configured. */
int ar__broker_listen_streams(struct ar_broker *b);
void ar__broker_close_listeners(struct ar_broker *b);
int ar__broker_run(struct ar_broker *b);
void ar__broker_close_conns(struct ar_broker *b);

#endif /* ACCELRING_BROKER_INTERNAL_H */

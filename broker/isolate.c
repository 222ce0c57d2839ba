/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Isolated plugins: the broker's side of plugin host processes.
 *
 * A plugin whose isolation is "plugin" or "tenant" is never dlopen'ed into
 * the broker. It runs in a host process (accelringd --plugin-host, hostd.c):
 * one for the plugin, or one per tenant. Its ops reach the host over a link
 * of its own (host_abi.h): descriptors in slots of a shared region, a ring
 * of requests, a futex per request for its completion. Zero copy stays: the
 * host maps the tenant's data area (sent once, with SCM_RIGHTS, when the
 * connection's first op reaches it) and the plugin reads and writes it in
 * place; only inline arguments and outputs go through the slot's scratch.
 *
 * Who owns what:
 * - struct ar_iso: one isolated plugin; its hosts and the model loads to
 *   replay after a restart, under iso->lock.
 * - struct ar_host: one host of it (tenant 0: the plugin's): the running
 *   instance, restart accounting, under host->lock.
 * - struct ar_hinst: one process. Held by host->cur while it is the one
 *   ops go to, and by each request in it. Its slots, its SQ's producer and
 *   its control socket are used under host->lock.
 * - The supervisor thread reaps instances (pidfds): it marks a dead one
 *   dead, completes its requests with AR_HS_DEAD, and logs why.
 *
 * Faults: a host that dies fails its in-flight ops with EIO and a reason
 * naming the plugin and the signal, and the next op starts a new one (after
 * a back-off once it keeps crashing at start). An op past op-timeout-ms
 * completes with ETIMEDOUT and its host is killed. An op that fails with
 * ENOMEM in a host with plugin-memory-max retires that host once it is idle:
 * what leaked goes with it. Models a session loaded (torch, tf, tflite model
 * loads) are loaded again into a new instance before that session's next op.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <accelring/optable.h>

#include "host_abi.h"
#include "internal.h"
#include "accelring/trace.h"

extern char **environ;

#define ISO_START_MS 60000		/* a host's start, its plugin's init included */
#define ISO_RPC_MS 2000		/* a control request's answer */
/* Scratch an op may leave resident in its slot; beyond, it is punched. */
#define ISO_SCRATCH_KEEP (256u << 10)
#define ISO_WAIT_SLICE_NS 100000000ull	/* a sleeping waiter looks again */
#define ISO_SPIN_PURE_NS 2000u		/* a waiter spins without yielding */
#define ISO_QUICK_CRASH_NS 1000000000ull	/* died this soon after start */
#define ISO_BACKOFF_FREE 2u		/* quick crashes before any back-off */
#define ISO_BACKOFF_MIN_NS 100000000ull
#define ISO_BACKOFF_MAX_NS 5000000000ull
#define ISO_MAP_CAP (2 * AR_HOST_REGIONS)	/* key -> index table */

struct ar_hinst {
	struct ar_host *h;
	struct ar_hinst *next;		/* the supervisor's list */
	_Atomic int refs;
	pid_t pid;
	int pidfd, ctl, bell;		/* bell: the doorbell pipe's write end */
	unsigned gen;			/* the host's instance number */
	uint64_t started_ns;
	struct ar_region link;
	struct ar_ring_prod sq;		/* under h->lock */
	struct ar_ring_wait sq_wait;
	uint8_t *slots;
	uint64_t slot_bytes, scratch_bytes;
	uint32_t seq;
	uint16_t free[AR_HOST_SLOTS];	/* under h->lock */
	unsigned nr_free;
	bool head[AR_HOST_SLOTS];	/* a request's first slot, in flight */
	/* Regions it mapped: key -> index, linear probing; index -> key. */
	struct { uint64_t key; uint32_t index; } map[ISO_MAP_CAP];
	uint64_t idx_key[AR_HOST_REGIONS];
	unsigned nr_mapped, idx_hint;
	_Atomic bool dead;		/* reaped (or the link broke) */
	bool killed;			/* we killed it: reason says why */
	bool retire;			/* idle and done with: not a crash */
	char reason[192];		/* under h->lock */
};

struct ar_host {
	struct ar_iso *iso;
	struct ar_host *next;		/* iso->hosts */
	uint32_t tenant;		/* 0: the plugin's one host */
	pthread_mutex_t lock;
	pthread_cond_t cond;		/* slots freed, a start finished */
	struct ar_hinst *cur;
	bool starting;
	unsigned gen;			/* instances started */
	unsigned quick_crashes;		/* in a row, soon after their start */
	uint64_t not_before_ns;		/* back-off: no start before */
	bool recycle;			/* ENOMEM under a cap: retire when idle */
	uint64_t restarts;
};

/* A model a session loaded, loaded again into a new instance. */
struct ar_reload {
	uint32_t tenant, session, flags, op;
	uint64_t res_id;
	unsigned gen;			/* the instance it is loaded into */
};

struct ar_iso {
	char name[64];			/* as the configuration names it */
	char path[PATH_MAX];
	int mode;			/* AR_ISO_PLUGIN, AR_ISO_TENANT */
	uint64_t timeout_ns;		/* 0: none */
	uint64_t memory_max;
	bool seccomp;
	const struct ar_config *cfg;
	/* The plugin's descriptor as its host reported it. */
	struct ar_plugin desc;
	struct ar_plugin_op ops[AR_OP_MAX];
	char dname[64], dversion[64];
	bool has_batch, has_session_closed;
	pthread_mutex_t lock;		/* hosts, reloads */
	struct ar_host *hosts;
	struct ar_host *probe;		/* tenant mode: the host that read the descriptor */
	struct ar_reload *reloads;
	unsigned nr_reloads, cap_reloads;
};

/* ---- settings ---- */

const struct ar_config *ar__iso_cfg;

static const char *const mode_names[] = { "none", "plugin", "tenant" };

/* The name a configuration entry gives a plugin: its list entry without
 * directory, "libaccelring-" and ".so". */
void ar__iso_plugin_name(const char *entry, char *out, size_t cap)
{
	const char *s = strrchr(entry, '/');
	size_t n;

	s = s ? s + 1 : entry;
	if (!strncmp(s, "libaccelring-", 13))
		s += 13;
	n = strlen(s);
	if (n > 3 && !strcmp(s + n - 3, ".so"))
		n -= 3;
	if (n >= cap)
		n = cap - 1;
	memcpy(out, s, n);
	out[n] = '\0';
}

/* The entry of a "VALUE" or "NAME:VALUE,..." list for name: a named one,
 * else a bare one; false if neither. */
static bool list_value(const char *list, const char *name, char *val, size_t cap)
{
	char buf[1024], *save = NULL, *e;
	bool found = false;

	snprintf(buf, sizeof(buf), "%s", list);
	for (e = strtok_r(buf, ",", &save); e; e = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(e, ':');

		while (*e == ' ')
			e++;
		if (!colon) {
			if (!found)
				snprintf(val, cap, "%s", e);
			found = true;
		} else {
			*colon = '\0';
			if (!strcmp(e, name)) {
				snprintf(val, cap, "%s", colon + 1);
				return true;
			}
		}
	}
	return found;
}

static int parse_mode(const char *s)
{
	for (int i = 0; i < 3; i++)
		if (!strcmp(s, mode_names[i]))
			return i;
	return -EINVAL;
}

static int parse_u64(const char *s, bool suffix, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	if (suffix && *end) {
		int sh = *end == 'K' || *end == 'k' ? 10 : *end == 'M' || *end == 'm' ? 20 :
			 *end == 'G' || *end == 'g' ? 30 : -1;

		if (sh < 0 || end[1] || v > (UINT64_MAX >> sh))
			return -EINVAL;
		v <<= sh;
		end++;
	}
	if (*end)
		return -EINVAL;
	*out = v;
	return 0;
}

int ar__iso_check(const char *key, const char *list)
{
	char buf[1024], *save = NULL, *e;

	if (strlen(list) >= sizeof(buf))
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%s", list);
	for (e = strtok_r(buf, ",", &save); e; e = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(e, ':');
		const char *v = colon ? colon + 1 : e;
		uint64_t u;

		if (colon && colon == e)
			return -EINVAL;
		if (!strcmp(key, "isolation") ? parse_mode(v) < 0 :
		    parse_u64(v, !strcmp(key, "plugin-memory-max"), &u))
			return -EINVAL;
	}
	return 0;
}

/* exec runs host code a tenant picked: one host per tenant. torch parses
 * what tenants upload (TorchScript, pictures) in a large C++ library: a
 * host of its own. The rest run in the broker: noop and mbench measure the
 * framework, blas is a thin call into OpenBLAS (README: Isolation). */
static int default_mode(const char *name)
{
	if (!strcmp(name, "exec"))
		return AR_ISO_TENANT;
	if (!strcmp(name, "torch"))
		return AR_ISO_PLUGIN;
	return AR_ISO_NONE;
}

int ar__iso_mode(const struct ar_config *cfg, const char *entry)
{
	char name[64], v[64];

	ar__iso_plugin_name(entry, name, sizeof(name));
	if (cfg && list_value(cfg->isolation, name, v, sizeof(v)))
		return parse_mode(v);
	return default_mode(name);
}

static uint64_t setting_u64(const char *list, const char *name, bool suffix,
			    uint64_t dflt)
{
	char v[64];
	uint64_t u;

	if (list_value(list, name, v, sizeof(v)) && !parse_u64(v, suffix, &u))
		return u;
	return dflt;
}

/* ---- small helpers ---- */

static int futex(_Atomic uint32_t *uaddr, int op, uint32_t val, const struct timespec *ts)
{
	/* Not FUTEX_PRIVATE: the word is in memory the host shares. */
	return (int)syscall(SYS_futex, uaddr, op, val, ts, NULL, 0);
}

static void sigdesc(int sig, char *buf, size_t cap)
{
	const char *d = sigdescr_np(sig);

	snprintf(buf, cap, "signal %d (%s)", sig, d ? d : "unknown");
}

static const char *who(const struct ar_host *h, char *buf, size_t cap)
{
	if (h->tenant)
		snprintf(buf, cap, "plugin %s's host for tenant %u", h->iso->name, h->tenant);
	else
		snprintf(buf, cap, "plugin %s's host", h->iso->name);
	return buf;
}

/* Wait for fd to be readable: 0, -ETIMEDOUT, or -errno. */
static int wait_readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int n;

	do
		n = poll(&p, 1, ms);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n == 0 ? -ETIMEDOUT : 0;
}

static int send_msg(int fd, const void *buf, size_t len, const int *fds, unsigned nr)
{
	union { struct cmsghdr h; char b[CMSG_SPACE(4 * sizeof(int))]; } cb;
	struct iovec iov = { (void *)buf, len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (nr) {
		memset(&cb, 0, sizeof(cb));
		m.msg_control = cb.b;
		m.msg_controllen = CMSG_SPACE(nr * sizeof(int));
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);

		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nr * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nr * sizeof(int));
	}
	/* Non-blocking: a host that stopped reading its socket is hung, and
	 * a full socket must not hold a worker. */
	do
		n = sendmsg(fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

/* One answer on the control socket: no fds accepted (closed if any). */
static ssize_t recv_answer(int fd, void *buf, size_t cap, int ms)
{
	union { struct cmsghdr h; char b[CMSG_SPACE(8 * sizeof(int))]; } cb;
	struct iovec iov = { buf, cap };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = cb.b, .msg_controllen = sizeof(cb.b) };
	ssize_t n;
	int ret = wait_readable(fd, ms);

	if (ret)
		return ret;
	do
		n = recvmsg(fd, &m, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++)
				close(((int *)CMSG_DATA(c))[i]);
	if (n == 0)
		return -ECONNRESET;
	if (m.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
		return -EPROTO;
	return n;
}

/* ---- instances and the supervisor ---- */

static struct {
	pthread_mutex_t lock;
	struct ar_hinst *list;		/* live instances, reaped or not */
	int wake;			/* eventfd: the list changed, or stop */
	pthread_t thr;
	bool running, stop;
	char exe[PATH_MAX];
	struct ar_iso *isos[AR_MAX_PLUGINS];
	unsigned nr_isos;
} sup = { .lock = PTHREAD_MUTEX_INITIALIZER, .wake = -1 };

static void inst_put(struct ar_hinst *in)
{
	/* acq_rel: the last holder sees every other's use before it frees. */
	if (atomic_fetch_sub_explicit(&in->refs, 1, memory_order_acq_rel) != 1)
		return;
	if (in->pidfd >= 0)
		close(in->pidfd);
	if (in->ctl >= 0)
		close(in->ctl);
	if (in->bell >= 0)
		close(in->bell);
	if (in->link.base)
		ar_region_release(&in->link);
	free(in);
}

static void inst_get(struct ar_hinst *in)
{
	atomic_fetch_add_explicit(&in->refs, 1, memory_order_relaxed);
}

static struct ar_host_op *slot_op(const struct ar_hinst *in, unsigned s)
{
	return (struct ar_host_op *)(in->slots + (uint64_t)s * in->slot_bytes);
}

static uint8_t *slot_scratch(const struct ar_hinst *in, unsigned s)
{
	return in->slots + (uint64_t)s * in->slot_bytes + AR_HOST_DESC_BYTES;
}

/*
 * in is dead (h->lock held): every request in it completes with
 * AR_HS_DEAD, and ops go to a new instance from now on. The state words
 * are ours to write: the host that shared them is gone (or killed).
 */
static void mark_dead_locked(struct ar_host *h, struct ar_hinst *in)
{
	atomic_store_explicit(&in->dead, true, memory_order_release);
	for (unsigned s = 0; s < AR_HOST_SLOTS; s++) {
		if (!in->head[s])
			continue;
		atomic_store_explicit(&slot_op(in, s)->state, AR_HS_DEAD, memory_order_release);
		futex(&slot_op(in, s)->state, FUTEX_WAKE, INT32_MAX, NULL);
	}
	if (h->cur == in) {
		h->cur = NULL;
		inst_put(in);
	}
	pthread_cond_broadcast(&h->cond);
}

/* Kill in (h->lock held), saying why; the supervisor reaps it. */
static void kill_locked(struct ar_host *h, struct ar_hinst *in, const char *why)
{
	if (!in->killed && !atomic_load(&in->dead)) {
		in->killed = true;
		snprintf(in->reason, sizeof(in->reason), "%s", why);
	}
	syscall(SYS_pidfd_send_signal, in->pidfd, SIGKILL, NULL, 0);
	mark_dead_locked(h, in);
}

static void reaped(struct ar_hinst *in, const siginfo_t *si)
{
	struct ar_host *h = in->h;
	uint64_t now = ar__now_ns(), lived = now - in->started_ns;
	unsigned inflight = 0;
	char what[96], name[128];

	if (si->si_code == CLD_EXITED)
		snprintf(what, sizeof(what), "exited with status %d", si->si_status);
	else
		sigdesc(si->si_status, what, sizeof(what));
	pthread_mutex_lock(&h->lock);
	for (unsigned s = 0; s < AR_HOST_SLOTS; s++)
		inflight += in->head[s];
	if (in->retire) {
		ar_info("%s (pid %d) stopped: it had nothing left to serve", who(h, name,
			sizeof(name)), (int)in->pid);
	} else if (in->killed) {
		ar_warn("%s (pid %d) killed: %s; %u requests in flight; the next op starts "
			"another", who(h, name, sizeof(name)), (int)in->pid, in->reason, inflight);
	} else {
		snprintf(in->reason, sizeof(in->reason), "plugin %.40s's host (pid %d) %s%.60s",
			 h->iso->name, (int)in->pid,
			 si->si_code == CLD_EXITED ? "" : "was killed by ", what);
		if (lived < ISO_QUICK_CRASH_NS)
			h->quick_crashes++;
		else
			h->quick_crashes = 0;
		if (h->quick_crashes > ISO_BACKOFF_FREE) {
			uint64_t d = ISO_BACKOFF_MIN_NS << (h->quick_crashes - ISO_BACKOFF_FREE - 1 < 6 ?
							   h->quick_crashes - ISO_BACKOFF_FREE - 1 : 6);

			if (d > ISO_BACKOFF_MAX_NS)
				d = ISO_BACKOFF_MAX_NS;
			h->not_before_ns = now + d;
		}
		ar_warn("%s, %u requests in flight (they fail with EIO); restarts so far: %" PRIu64
			"%s", in->reason, inflight, h->restarts,
			h->quick_crashes > ISO_BACKOFF_FREE ? "; it keeps crashing: backing off" : "");
	}
	mark_dead_locked(h, in);
	pthread_mutex_unlock(&h->lock);
}

static void *supervisor_main(void *arg)
{
	struct pollfd *pfd = NULL;
	struct ar_hinst **who_ = NULL;
	unsigned cap = 0;

	(void)arg;
	for (;;) {
		unsigned n = 1, live = 0;

		pthread_mutex_lock(&sup.lock);
		if (sup.stop && !sup.list) {
			pthread_mutex_unlock(&sup.lock);
			free(pfd);
			free(who_);
			return NULL;
		}
		for (struct ar_hinst *in = sup.list; in; in = in->next)
			live++;
		if (live + 1 > cap) {
			unsigned nc = (live + 1) * 2;
			struct pollfd *p = realloc(pfd, nc * sizeof(*pfd));
			struct ar_hinst **w = p ? realloc(who_, nc * sizeof(*who_)) : NULL;

			if (p)
				pfd = p;
			if (w) {
				who_ = w;
				cap = nc;
			}
		}
		if (pfd)
			pfd[0] = (struct pollfd){ .fd = sup.wake, .events = POLLIN };
		for (struct ar_hinst *in = sup.list; in && n < cap; in = in->next) {
			pfd[n] = (struct pollfd){ .fd = in->pidfd, .events = POLLIN };
			who_[n++] = in;
		}
		pthread_mutex_unlock(&sup.lock);
		if (!cap) {
			/* Out of memory: look again in a while. */
			struct timespec ts = { 0, 10000000 };

			nanosleep(&ts, NULL);
			continue;
		}
		if (poll(pfd, n, 1000) < 0 && errno != EINTR)
			continue;
		if (pfd[0].revents) {
			uint64_t v;

			if (read(sup.wake, &v, sizeof(v)) < 0)
				(void)0;
		}
		for (unsigned i = 1; i < n; i++) {
			siginfo_t si = { 0 };

			if (!pfd[i].revents)
				continue;
			if (waitid((idtype_t)P_PIDFD, (id_t)who_[i]->pidfd, &si, WEXITED) < 0)
				continue;
			pthread_mutex_lock(&sup.lock);
			for (struct ar_hinst **pp = &sup.list; *pp; pp = &(*pp)->next) {
				if (*pp == who_[i]) {
					*pp = who_[i]->next;
					break;
				}
			}
			pthread_mutex_unlock(&sup.lock);
			reaped(who_[i], &si);
			inst_put(who_[i]);	/* the supervisor's */
		}
	}
}

static void sup_kick(void)
{
	uint64_t one = 1;

	if (write(sup.wake, &one, sizeof(one)) < 0)
		(void)0;
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#ifdef __SANITIZE_ADDRESS__
#define SAN_VAR "ASAN_OPTIONS"
#else
#define SAN_VAR "TSAN_OPTIONS"
#endif
/* A sanitizer build's hosts die of their signals and see allocations fail
 * as a production build's do (the sanitizer would turn a SIGSEGV or an
 * allocation past plugin-memory-max into its own report and exit 1), so
 * the faults the tests make look the same in every build. */
static char **host_environ(void)
{
	static char **env;
	static char opt[4096];
	size_t n = 0, k = 0;
	const char *old = getenv(SAN_VAR);

	if (env)
		return env;
	while (environ[n])
		n++;
	env = calloc(n + 2, sizeof(*env));
	if (!env)
		return environ;
	snprintf(opt, sizeof(opt), SAN_VAR "=%s%shandle_segv=0:handle_abort=0:handle_sigbus=0:"
		 "allocator_may_return_null=1", old ? old : "", old && *old ? ":" : "");
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], SAN_VAR "=", sizeof(SAN_VAR)))
			env[k++] = environ[i];
	env[k++] = opt;
	env[k] = NULL;
	return env;
}
#else
static char **host_environ(void)
{
	return environ;
}
#endif

/* The settings a host's plugin reads, NUL-separated: keys, then values. */
static size_t pack_settings(const struct ar_config *cfg, char *out)
{
	static const char *const keys[] = {
#define AR_ISO_KEY_(k) k,
		AR_PLUGIN_KEYS(AR_ISO_KEY_)
#undef AR_ISO_KEY_
	};
	size_t n = 0;

	for (unsigned i = 0; i < AR_NR_PLUGIN_KEYS; i++) {
		const char *v = ar__config_setting(cfg, keys[i]);
		size_t kl = strlen(keys[i]) + 1, vl = strlen(v ? v : "") + 1;

		memcpy(out + n, keys[i], kl);
		memcpy(out + n + kl, v ? v : "", vl);
		n += kl + vl;
	}
	return n;
}

/*
 * Start an instance of h (h->lock not held; h->starting set by the
 * caller). Returns it with one reference (the caller's), or NULL with
 * why. ready, if not NULL, gets the host's descriptor.
 */
static struct ar_hinst *inst_start(struct ar_host *h, struct ar_hc_ready *ready,
				   char *why, size_t cap)
{
	const struct ar_iso *iso = h->iso;
	const struct ar_config *cfg = iso->cfg;
	struct ar_region_params rp = { 0 };
	struct ar_hc_ready rd;
	struct ar_hc_hello *hello = NULL;
	posix_spawn_file_actions_t fa;
	char *argv[] = { "accelringd", "--plugin-host", NULL };
	struct ar_hinst *in;
	int sv[2] = { -1, -1 }, bell[2] = { -1, -1 }, ret;
	ssize_t n;

	in = calloc(1, sizeof(*in));
	if (!in) {
		snprintf(why, cap, "out of memory starting plugin %s's host", iso->name);
		return NULL;
	}
	in->h = h;
	in->refs = 1;
	in->pidfd = in->ctl = in->bell = -1;
	in->pid = -1;
	/* Scratch: a request's inline inputs, its inline outputs, its reason. */
	in->scratch_bytes = 2ull * AR_REC_MAX_LEN(cfg->max_ring_bytes) +
			    AR_WIRE_MAX_MESSAGE + 2 * 8 * (2 * AR_WIRE_MAX_ARGS + 4);
	in->scratch_bytes = (in->scratch_bytes + 4095) & ~4095ull;
	in->slot_bytes = AR_HOST_DESC_BYTES + in->scratch_bytes;
	rp.nr_channels = 1;
	rp.sq_bytes = 64u << 10;
	rp.cq_bytes = AR_RING_BYTES_MIN;
	rp.data_bytes = in->slot_bytes * AR_HOST_SLOTS;
	if ((ret = ar_region_create(&in->link, &rp)) ||
	    (ret = ar_ring_prod_init(&in->sq, &in->link, 0, AR_RING_SQ))) {
		snprintf(why, cap, "cannot create plugin %s's host link: %s", iso->name,
			 strerror(-ret));
		goto err;
	}
	in->slots = ar_region_data(&in->link, NULL);
	for (unsigned s = 0; s < AR_HOST_SLOTS; s++)
		in->free[s] = (uint16_t)(AR_HOST_SLOTS - 1 - s);
	in->nr_free = AR_HOST_SLOTS;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) ||
	    pipe2(bell, O_CLOEXEC | O_NONBLOCK)) {
		snprintf(why, cap, "cannot start plugin %s's host: %s", iso->name,
			 strerror(errno));
		goto err;
	}
	in->ctl = sv[0];
	in->bell = bell[1];
	in->sq_wait = (struct ar_ring_wait){ .mode = AR_WAIT_FD, .efd = bell[1] };
	ret = posix_spawn_file_actions_init(&fa);
	if (ret) {
		snprintf(why, cap, "cannot start plugin %s's host: %s", iso->name, strerror(ret));
		goto err;
	}
	ret = posix_spawn_file_actions_adddup2(&fa, sv[1], 3);
	/* Nothing of the broker's but the control socket: an fd it forgot
	 * to mark close-on-exec (a tenant's socket) must not reach plugin
	 * code. Closed in the child before the exec, not by the host: the
	 * host's own libraries (lttng-ust) open fds in their constructors,
	 * before its main runs. */
	if (!ret)
		ret = posix_spawn_file_actions_addclosefrom_np(&fa, 4);
	if (!ret)
		ret = posix_spawn(&in->pid, sup.exe, &fa, NULL, argv, host_environ());
	posix_spawn_file_actions_destroy(&fa);
	close(sv[1]);
	sv[1] = -1;
	if (ret) {
		in->pid = -1;
		snprintf(why, cap, "cannot start plugin %s's host (%.200s): %s", iso->name,
			 sup.exe, strerror(ret));
		goto err;
	}
	in->pidfd = (int)syscall(SYS_pidfd_open, in->pid, 0);
	if (in->pidfd < 0) {
		snprintf(why, cap, "pidfd_open: %s", strerror(errno));
		kill(in->pid, SIGKILL);
		waitpid(in->pid, NULL, 0);
		goto err;
	}
	hello = calloc(1, sizeof(*hello) + 2 * 8 * AR_HOST_SETTING_BYTES);
	if (!hello) {
		snprintf(why, cap, "out of memory starting plugin %s's host", iso->name);
		goto err_kill;
	}
	*hello = (struct ar_hc_hello){
		.type = AR_HC_HELLO, .version = AR_HOST_VERSION,
		.log_level = (uint32_t)ar__log_level,
		.threads = cfg->host_threads, .spin_ns = cfg->spin_ns,
		.memory_max = iso->memory_max, .seccomp = iso->seccomp,
		.uid = cfg->host_uid, .gid = cfg->host_gid, .tenant = h->tenant,
	};
	snprintf(hello->name, sizeof(hello->name), "%s", iso->name);
	snprintf(hello->path, sizeof(hello->path), "%s", iso->path);
	snprintf(hello->plugin_dir, sizeof(hello->plugin_dir), "%s", cfg->plugin_dir);
	hello->settings_len = (uint32_t)pack_settings(cfg, hello->settings);
	{
		int fds[2] = { in->link.fd, bell[0] };

		ret = send_msg(in->ctl, hello, sizeof(*hello) + hello->settings_len, fds, 2);
	}
	close(bell[0]);
	bell[0] = -1;
	free(hello);
	if (ret) {
		snprintf(why, cap, "plugin %s's host: %s", iso->name, strerror(-ret));
		goto err_kill;
	}
	n = recv_answer(in->ctl, &rd, sizeof(rd), ISO_START_MS);
	if (n != (ssize_t)sizeof(rd) || rd.type != AR_HC_READY) {
		snprintf(why, cap, "plugin %s's host (pid %d) did not start: %s", iso->name,
			 (int)in->pid, n < 0 ? strerror((int)-n) : "a malformed answer");
		goto err_kill;
	}
	rd.error[sizeof(rd.error) - 1] = '\0';
	rd.name[sizeof(rd.name) - 1] = rd.version[sizeof(rd.version) - 1] = '\0';
	if (rd.status) {
		snprintf(why, cap, "plugin %s: %s", iso->name, rd.error[0] ? rd.error :
			 strerror(rd.status < 0 ? -rd.status : rd.status));
		goto err_kill;
	}
	if (ready)
		*ready = rd;
	in->started_ns = ar__now_ns();
	/* The supervisor's reference: it reaps the process. */
	inst_get(in);
	pthread_mutex_lock(&sup.lock);
	in->next = sup.list;
	sup.list = in;
	pthread_mutex_unlock(&sup.lock);
	sup_kick();
	return in;
err_kill:
	syscall(SYS_pidfd_send_signal, in->pidfd, SIGKILL, NULL, 0);
	waitpid(in->pid, NULL, 0);
err:
	if (sv[1] >= 0)
		close(sv[1]);
	if (bell[0] >= 0)
		close(bell[0]);
	inst_put(in);
	return NULL;
}

/* The instance ops of h go to, started if need be, with a reference; or
 * NULL with the error in *err and why. */
static struct ar_hinst *host_get(struct ar_host *h, uint64_t deadline, int *err,
				 char *why, size_t cap)
{
	struct ar_hinst *in;
	char name[128];

	pthread_mutex_lock(&h->lock);
	for (;;) {
		uint64_t now = ar__now_ns();

		in = h->cur;
		if (in && h->recycle) {
			/* It failed an allocation under its cap: once idle,
			 * retire it with what it leaked. */
			unsigned busy = AR_HOST_SLOTS - in->nr_free;

			if (!busy) {
				h->recycle = false;
				in->retire = true;
				ar_info("%s (pid %d): an op ran out of memory under plugin-memory-max: "
					"restarting it", who(h, name, sizeof(name)), (int)in->pid);
				kill_locked(h, in, "retired after running out of memory");
				continue;
			}
		}
		if (in) {
			inst_get(in);
			break;
		}
		if (h->starting) {
			pthread_cond_wait(&h->cond, &h->lock);
			continue;
		}
		if (h->not_before_ns > now) {
			if (deadline && h->not_before_ns > deadline) {
				snprintf(why, cap, "%s keeps crashing at start (%u times in a row): "
					 "not restarted for %" PRIu64 " ms", who(h, name, sizeof(name)),
					 h->quick_crashes, (h->not_before_ns - now) / 1000000);
				*err = -EIO;
				break;
			}
			pthread_mutex_unlock(&h->lock);
			uint64_t d = h->not_before_ns - now;
			struct timespec ts = { (time_t)(d / 1000000000u), (long)(d % 1000000000u) };

			nanosleep(&ts, NULL);
			pthread_mutex_lock(&h->lock);
			continue;
		}
		h->starting = true;
		pthread_mutex_unlock(&h->lock);
		in = inst_start(h, NULL, why, cap);
		pthread_mutex_lock(&h->lock);
		h->starting = false;
		pthread_cond_broadcast(&h->cond);
		if (!in) {
			ar_err("%s", why);
			*err = -EIO;
			break;
		}
		in->gen = ++h->gen;
		if (in->gen > 1)
			h->restarts++;
		ar_info("%s started: pid %d (instance %u)", who(h, name, sizeof(name)),
			(int)in->pid, in->gen);
		h->cur = in;	/* the caller's reference becomes h->cur's */
		inst_get(in);
		break;
	}
	pthread_mutex_unlock(&h->lock);
	return in;
}

/* ---- regions a host maps ---- */

static unsigned map_hash(uint64_t key)
{
	key ^= key >> 33;
	key *= 0xff51afd7ed558ccdull;
	key ^= key >> 33;
	return (unsigned)(key % ISO_MAP_CAP);
}

static int map_find(const struct ar_hinst *in, uint64_t key)
{
	for (unsigned i = map_hash(key), k = 0; k < ISO_MAP_CAP; k++, i = (i + 1) % ISO_MAP_CAP) {
		if (!in->map[i].key)
			return -1;
		if (in->map[i].key == key)
			return (int)i;
	}
	return -1;
}

static void map_del(struct ar_hinst *in, int pos)
{
	/* Backward-shift deletion keeps every probe sequence unbroken. */
	unsigned i = (unsigned)pos, j = i;

	for (;;) {
		j = (j + 1) % ISO_MAP_CAP;
		if (!in->map[j].key)
			break;
		unsigned home = map_hash(in->map[j].key);

		if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
			in->map[i] = in->map[j];
			i = j;
		}
	}
	in->map[i].key = 0;
}

#define KEY_CONN(id) ((1ull << 63) | (uint64_t)(id))
#define KEY_RES(id) ((uint64_t)(id) & ~(1ull << 63))

/* The index of key in in, mapped now if it is not (h->lock held). */
static int region_index(struct ar_hinst *in, uint64_t key, int fd, uint32_t kind,
			uint64_t off, uint64_t len, const struct ar_resource *res,
			char *why, size_t cap)
{
	uint8_t buf[sizeof(struct ar_hc_map) + 64 * 1024];
	struct ar_hc_map *m = (struct ar_hc_map *)buf;
	struct ar_hc_mapped a;
	size_t mlen = sizeof(*m);
	unsigned idx;
	int pos, ret;
	ssize_t n;

	if ((pos = map_find(in, key)) >= 0)
		return (int)in->map[pos].index;
	if (in->nr_mapped >= AR_HOST_REGIONS) {
		snprintf(why, cap, "plugin %s's host maps %u regions already", in->h->iso->name,
			 in->nr_mapped);
		return -ENOSPC;
	}
	for (idx = in->idx_hint; in->idx_key[idx]; idx = (idx + 1) % AR_HOST_REGIONS)
		;
	in->idx_hint = (idx + 1) % AR_HOST_REGIONS;
	*m = (struct ar_hc_map){ .type = AR_HC_MAP, .kind = kind, .index = idx, .key = key,
				 .off = off, .len = len };
	if (res) {
		struct ar_hc_file *f = (struct ar_hc_file *)(m + 1);
		char *np = (char *)(f + res->nr_files);

		if (sizeof(*m) + res->nr_files * sizeof(*f) > sizeof(buf))
			return -E2BIG;
		m->res_id = res->id;
		m->res_type = res->type;
		m->nr_files = res->nr_files;
		memcpy(m->res_sha256, res->sha256, 32);
		for (uint32_t i = 0; i < res->nr_files; i++) {
			size_t nl = strlen(res->files[i].name) + 1;

			if ((size_t)(np - (char *)buf) + nl > sizeof(buf)) {
				snprintf(why, cap, "resource %" PRIu64 "'s file names are too long "
					 "for an isolated plugin", res->id);
				return -E2BIG;
			}
			f[i] = (struct ar_hc_file){ .offset = res->files[i].offset,
						    .size = res->files[i].size,
						    .whole = res->files[i].path != NULL,
						    .name_len = (uint32_t)nl };
			memcpy(f[i].sha256, res->files[i].sha256, 32);
			memcpy(np, res->files[i].name, nl);
			np += nl;
		}
		m->names_len = (uint32_t)(np - (char *)(f + res->nr_files));
		mlen = (size_t)(np - (char *)buf);
	}
	ret = send_msg(in->ctl, buf, mlen, &fd, 1);
	n = ret ? ret : recv_answer(in->ctl, &a, sizeof(a), ISO_RPC_MS);
	if (n != (ssize_t)sizeof(a) || a.type != AR_HC_MAPPED || a.index != idx) {
		snprintf(why, cap, "%s (pid %d) did not map a region: %s", in->h->iso->name,
			 (int)in->pid, n < 0 ? strerror((int)-n) : "a malformed answer");
		kill_locked(in->h, in, why);
		return -EIO;
	}
	if (a.status) {
		snprintf(why, cap, "plugin %s's host cannot map a region: %s", in->h->iso->name,
			 strerror(a.status < 0 ? -a.status : a.status));
		return a.status < 0 ? a.status : -EIO;
	}
	for (pos = (int)map_hash(key); in->map[pos].key; pos = (pos + 1) % ISO_MAP_CAP)
		;
	in->map[pos].key = key;
	in->map[pos].index = idx;
	in->idx_key[idx] = key;
	in->nr_mapped++;
	return (int)idx;
}

static void region_forget_locked(struct ar_hinst *in, uint64_t key)
{
	struct ar_hc_unmap u = { .type = AR_HC_UNMAP };
	int pos = map_find(in, key);

	if (pos < 0)
		return;
	u.index = in->map[pos].index;
	u.key = key;
	in->idx_key[u.index] = 0;
	map_del(in, pos);
	in->nr_mapped--;
	if (send_msg(in->ctl, &u, sizeof(u), NULL, 0))
		kill_locked(in->h, in, "its control socket is full or gone");
}

static void forget(uint32_t tenant, uint64_t key)
{
	for (unsigned i = 0; i < sup.nr_isos; i++) {
		struct ar_iso *iso = sup.isos[i];

		pthread_mutex_lock(&iso->lock);
		for (struct ar_host *h = iso->hosts; h; h = h->next) {
			if (h->tenant && h->tenant != tenant)
				continue;
			pthread_mutex_lock(&h->lock);
			if (h->cur) {
				region_forget_locked(h->cur, key);
				/* A tenant's host with nothing of its tenant
				 * mapped has nothing left to serve. */
				if (h->cur && h->tenant && !h->cur->nr_mapped &&
				    h->cur->nr_free == AR_HOST_SLOTS) {
					h->cur->retire = true;
					kill_locked(h, h->cur, "retired: its tenant left");
				}
			}
			pthread_mutex_unlock(&h->lock);
		}
		pthread_mutex_unlock(&iso->lock);
	}
}

void ar__iso_conn_gone(const struct ar_conn *c)
{
	if (sup.nr_isos && c->tenant)
		forget(c->tenant->id, KEY_CONN(c->id));
}

void ar__iso_res_gone(uint32_t tenant, uint64_t res_id)
{
	if (sup.nr_isos)
		forget(tenant, KEY_RES(res_id));
}

/* ---- ops ---- */

/* The slot's scratch, bump-allocated. */
struct scratch {
	uint8_t *base;
	uint64_t used, cap;
};

static int scratch_put(struct scratch *s, const void *src, uint64_t len, bool zero,
		       struct ar_host_arg *a)
{
	uint64_t off = (s->used + 7) & ~7ull;

	if (off > s->cap || len > s->cap - off)
		return -EMSGSIZE;
	if (src)
		memcpy(s->base + off, src, len);
	else if (zero)
		memset(s->base + off, 0, len);
	a->where = AR_HW_SCRATCH;
	a->off = off;
	a->len = len;
	s->used = off + len;
	return 0;
}

/* Encode one buffer: in the tenant's data area by offset (zero copy), else
 * through the scratch (inputs copied in; outputs zeroed, copied back). */
static int enc_buf(struct scratch *s, const struct ar_conn *c, int data_idx,
		   const void *ptr, uint64_t len, bool out, struct ar_host_arg *a)
{
	const uint8_t *p = ptr;

	memset(a, 0, sizeof(*a));
	if (!p)
		return 0;
	if (c && c->data && p >= c->data && len <= c->data_bytes &&
	    (uint64_t)(p - c->data) <= c->data_bytes - len) {
		a->where = AR_HW_DATA;
		a->region = (uint32_t)data_idx;
		a->off = (uint64_t)(p - c->data);
		a->len = len;
		return 0;
	}
	return scratch_put(s, out ? NULL : ptr, len, out, a);
}

static const struct ar_conn *op_conn(const struct ar_op *op)
{
	/* Every op the broker runs is the op of a request (worker.c), or a
	 * replay's, which sets conn too. */
	const struct ar_req *r = (const struct ar_req *)((const char *)op -
							 offsetof(struct ar_req, op));

	return r->conn;
}

static int encode(struct ar_hinst *in, unsigned slot, struct ar_op *op, uint64_t *used,
		  char *why, size_t cap)
{
	struct ar_host_op *d = slot_op(in, slot);
	struct scratch s = { slot_scratch(in, slot), 0, in->scratch_bytes };
	const struct ar_conn *c = op_conn(op);
	uint32_t kind = ar_op_args_kind(op->op);
	int data_idx = -1, ret = 0;

	if (c && c->data) {
		data_idx = region_index(in, KEY_CONN(c->id), c->region.fd, AR_HM_DATA,
					(uint64_t)(c->data - (uint8_t *)c->region.base),
					c->data_bytes, NULL, why, cap);
		if (data_idx < 0)
			return data_idx;
	}
	/* The fixed part only: each argument is written whole below, and
	 * the host reads no more of them than nr_read and nr_write say. */
	memset((uint8_t *)d + sizeof(d->state), 0,
	       offsetof(struct ar_host_op, read) - sizeof(d->state));
	d->seq = in->seq;
	d->op = op->op;
	d->session = op->session;
	d->session_flags = op->session_flags;
	d->tenant = op->tenant;
	d->res_region = UINT32_MAX;
	if (op->why && op->why_cap) {
		struct ar_host_arg a;

		if ((ret = scratch_put(&s, NULL, op->why_cap, true, &a)))
			return ret;
		d->why_off = a.off;
		d->why_cap = op->why_cap;
	}
	switch (kind) {
	case AR_ARGS_SGEMM: {
		const struct ar_op_sgemm *g = &op->u.sgemm;
		uint64_t na = ((uint64_t)(g->m - 1) * (uint64_t)g->lda + (uint64_t)g->k) * 4;
		uint64_t nb = ((uint64_t)(g->k - 1) * (uint64_t)g->ldb + (uint64_t)g->n) * 4;
		uint64_t nc = ((uint64_t)(g->m - 1) * (uint64_t)g->ldc + (uint64_t)g->n) * 4;

		d->m = g->m, d->n = g->n, d->k = g->k;
		d->lda = g->lda, d->ldb = g->ldb, d->ldc = g->ldc;
		d->alpha = g->alpha, d->beta = g->beta;
		d->nr_read = 2;
		d->nr_write = 1;
		if ((ret = enc_buf(&s, c, data_idx, g->a, na, false, &d->read[0])) ||
		    (ret = enc_buf(&s, c, data_idx, g->b, nb, false, &d->read[1])) ||
		    (ret = enc_buf(&s, c, data_idx, g->c, nc, false, &d->write[0])))
			return ret;
		/* C is read and written: only the data area will do
		 * (request.c). */
		if (d->write[0].where != AR_HW_DATA)
			return -EINVAL;
		break;
	}
	case AR_ARGS_IMAGE: {
		const struct ar_op_image *g = &op->u.image;

		d->nr_read = 1;
		d->nr_write = 2;
		if ((ret = enc_buf(&s, c, data_idx, g->img.ptr, g->img.len, false, &d->read[0])) ||
		    (ret = enc_buf(&s, c, data_idx, g->out_text.ptr, g->out_text.len, true,
				   &d->write[0])) ||
		    (ret = enc_buf(&s, c, data_idx, g->out_imgname.ptr, g->out_imgname.len, true,
				   &d->write[1])))
			return ret;
		d->read[0].type = g->img.type;
		break;
	}
	case AR_ARGS_GENERIC: {
		const struct ar_op_generic *g = &op->u.generic;

		if (g->library &&
		    (ret = scratch_put(&s, g->library, strlen(g->library) + 1, false, &d->library)))
			return ret;
		if (g->symbol &&
		    (ret = scratch_put(&s, g->symbol, strlen(g->symbol) + 1, false, &d->symbol)))
			return ret;
		if (g->nr_read > AR_WIRE_MAX_ARGS || g->nr_write > AR_WIRE_MAX_ARGS)
			return -EINVAL;
		d->nr_read = g->nr_read;
		d->nr_write = g->nr_write;
		for (uint32_t i = 0; i < g->nr_read; i++) {
			if ((ret = enc_buf(&s, c, data_idx, g->read[i].ptr, g->read[i].len, false,
					   &d->read[i])))
				return ret;
			d->read[i].type = g->read[i].type;
			d->read[i].custom_id = g->read[i].custom_id;
		}
		for (uint32_t i = 0; i < g->nr_write; i++) {
			if ((ret = enc_buf(&s, c, data_idx, g->write[i].ptr, g->write[i].len, true,
					   &d->write[i])))
				return ret;
			d->write[i].type = g->write[i].type;
			d->write[i].custom_id = g->write[i].custom_id;
		}
		if (g->resource) {
			const struct ar_resource *r = g->resource;
			int ri = region_index(in, KEY_RES(r->id), r->nr_files ? r->files[0].fd : -1,
					      AR_HM_RESOURCE, 0, 0, r, why, cap);

			if (ri < 0)
				return ri;
			d->res_region = (uint32_t)ri;
		}
		break;
	}
	case AR_ARGS_MBENCH:
		d->mbench_us = op->u.mbench.time_us;
		break;
	default:
		break;
	}
	if (ret == -EMSGSIZE)
		snprintf(why, cap, "the op's inline arguments do not fit an isolated plugin's slot");
	*used = s.used;
	return ret;
}

/* What encode() chose for an op's outputs, kept in private memory: the
 * host's copy of the descriptor is never trusted for where to read. */
struct enc_info {
	uint64_t used;			/* scratch bytes the op took */
	uint64_t why_off;
	uint32_t why_cap;
	uint32_t nr_out;
	uint64_t out_off[AR_WIRE_MAX_ARGS];	/* UINT64_MAX: in the data area */
};

static void remember(const struct ar_host_op *d, uint32_t kind, struct enc_info *e)
{
	e->why_off = d->why_off;
	e->why_cap = d->why_cap;
	e->nr_out = kind == AR_ARGS_IMAGE ? 2 : kind == AR_ARGS_GENERIC ? d->nr_write : 0;
	for (uint32_t i = 0; i < e->nr_out; i++)
		e->out_off[i] = d->write[i].where == AR_HW_SCRATCH ? d->write[i].off : UINT64_MAX;
}

/* Read a completed op back: once, into private memory, every value
 * checked against what was offered; outputs that went through the
 * scratch are copied to where the request has them (the arena). */
static int decode(struct ar_hinst *in, unsigned slot, const struct enc_info *e,
		  struct ar_op *op)
{
	const struct ar_host_op *d = slot_op(in, slot);
	const uint8_t *sc = slot_scratch(in, slot);
	uint32_t kind = ar_op_args_kind(op->op);
	struct ar_buf *w[AR_WIRE_MAX_ARGS];
	int st;

	/* Each value the host wrote is read once (volatile), then checked. */
	st = *(const volatile int32_t *)&d->status;
	if (st > 0)
		st = -st;
	if (st < -4095)
		st = -EIO;
	if (op->why && e->why_cap == op->why_cap && op->why_cap) {
		memcpy(op->why, sc + e->why_off, op->why_cap);
		op->why[op->why_cap - 1] = '\0';
	}
	if (kind == AR_ARGS_IMAGE) {
		w[0] = op->u.image.out_text.ptr ? &op->u.image.out_text : NULL;
		w[1] = op->u.image.out_imgname.ptr ? &op->u.image.out_imgname : NULL;
	} else {
		for (uint32_t i = 0; i < e->nr_out; i++)
			w[i] = &op->u.generic.write[i];
	}
	for (uint32_t i = 0; i < e->nr_out; i++) {
		uint64_t len = *(const volatile uint64_t *)&d->write[i].len;

		if (!w[i])
			continue;
		/* The host may only lower a length. */
		if (len < w[i]->len)
			w[i]->len = len;
		if (e->out_off[i] != UINT64_MAX)
			memcpy(w[i]->ptr, sc + e->out_off[i], w[i]->len);
	}
	return st;
}

static void set_all(struct ar_op **ops, uint32_t n, int st, const char *why)
{
	for (uint32_t i = 0; i < n; i++) {
		ops[i]->status = st;
		if (why && ops[i]->why && ops[i]->why_cap)
			snprintf(ops[i]->why, ops[i]->why_cap, "%s", why);
	}
}

/* Wait for the request whose first slot is head: 0 done, -EIO (the host
 * died), -ETIMEDOUT. */
static int wait_done(struct ar_hinst *in, unsigned head, uint64_t deadline)
{
	_Atomic uint32_t *st = &slot_op(in, head)->state;
	uint64_t spin_start = ar__now_ns(), spin_end = spin_start + in->h->iso->cfg->spin_ns;

	for (;;) {
		/* acquire: pairs with the host's release of AR_HS_DONE, so
		 * every result it wrote before is seen. */
		uint32_t v = atomic_load_explicit(st, memory_order_acquire);
		uint64_t now;

		if ((v & ~AR_HS_WAITER) == AR_HS_DONE)
			return 0;
		if ((v & ~AR_HS_WAITER) == AR_HS_DEAD ||
		    atomic_load_explicit(&in->dead, memory_order_acquire))
			return -EIO;
		now = ar__now_ns();
		if (deadline && now >= deadline)
			return -ETIMEDOUT;
		if (now < spin_end) {
			/* The host's thread needs a CPU to answer: past the
			 * first microseconds, spin yielding it (on a machine
			 * with fewer CPUs than spinning threads, a pure spin
			 * would hold the answer up for a time slice). */
			if (now - spin_start > ISO_SPIN_PURE_NS)
				sched_yield();
			else
				ar_cpu_relax();
			continue;
		}
		if (!(v & AR_HS_WAITER) &&
		    !atomic_compare_exchange_strong(st, &v, v | AR_HS_WAITER))
			continue;
		{
			uint64_t left = deadline ? deadline - now : ISO_WAIT_SLICE_NS;
			struct timespec ts;

			if (left > ISO_WAIT_SLICE_NS)
				left = ISO_WAIT_SLICE_NS;
			ts.tv_sec = (time_t)(left / 1000000000u);
			ts.tv_nsec = (long)(left % 1000000000u);
			futex(st, FUTEX_WAIT, v | AR_HS_WAITER, &ts);
		}
	}
}

static struct ar_host *host_of(struct ar_iso *iso, uint32_t tenant)
{
	struct ar_host *h;

	/* A plugin's one host is made at load and never changes. */
	if (iso->mode != AR_ISO_TENANT && iso->hosts)
		return iso->hosts;
	if (iso->mode != AR_ISO_TENANT)
		tenant = 0;
	pthread_mutex_lock(&iso->lock);
	for (h = iso->hosts; h && h->tenant != tenant; h = h->next)
		;
	if (!h && (h = calloc(1, sizeof(*h)))) {
		h->iso = iso;
		h->tenant = tenant;
		pthread_mutex_init(&h->lock, NULL);
		pthread_cond_init(&h->cond, NULL);
		h->next = iso->hosts;
		iso->hosts = h;
	}
	pthread_mutex_unlock(&iso->lock);
	return h;
}

static void run_in(struct ar_iso *iso, struct ar_host *h, struct ar_op **ops, uint32_t n,
		   bool replaying);

static bool is_load(uint32_t op)
{
	return op == AR_OP_TORCH_MODEL_LOAD || op == AR_OP_TF_MODEL_LOAD ||
	       op == AR_OP_TFLITE_MODEL_LOAD;
}

static bool is_unload(uint32_t op)
{
	return op == AR_OP_TF_MODEL_UNLOAD || op == AR_OP_TFLITE_MODEL_UNLOAD;
}

/* Before ops of a session run in instance gen: what it loaded into an
 * earlier instance is loaded again (iso->lock not held). */
static void replay(struct ar_iso *iso, struct ar_host *h, const struct ar_op *op,
		   unsigned gen)
{
	const struct ar_conn *c = op_conn(op);

	for (;;) {
		struct ar_reload rl;
		bool found = false;

		pthread_mutex_lock(&iso->lock);
		for (unsigned i = 0; i < iso->nr_reloads; i++) {
			struct ar_reload *x = &iso->reloads[i];

			if (x->tenant == op->tenant && x->session == op->session && x->gen != gen &&
			    x->op != op->op) {
				x->gen = gen;	/* tried once per instance */
				rl = *x;
				found = true;
				break;
			}
		}
		pthread_mutex_unlock(&iso->lock);
		if (!found || !c || !c->tenant)
			return;
		struct ar_req *r = calloc(1, sizeof(*r));
		struct ar_op *p;

		if (!r)
			return;
		r->conn = c;
		r->op.op = rl.op;
		r->op.session = rl.session;
		r->op.session_flags = rl.flags;
		r->op.tenant = rl.tenant;
		r->op.why = r->why;
		r->op.why_cap = sizeof(r->why);
		r->res = ar__res_get(c->tenant, rl.session, rl.res_id, r->why, sizeof(r->why));
		if (r->res) {
			r->op.u.generic.resource = ar__res_pub(r->res);
			p = &r->op;
			run_in(iso, h, &p, 1, true);
			ar_info("plugin %s: %s of session %u (tenant %u) loaded again into a new "
				"host: %s", iso->name, ar_op_name(rl.op), rl.session, rl.tenant,
				r->op.status ? strerror(-r->op.status) : "ok");
			ar__res_put(r->res);
		}
		free(r);
	}
}

static void note_load(struct ar_iso *iso, const struct ar_op *op, unsigned gen)
{
	const struct ar_resource *res = op->u.generic.resource;

	if (!res)
		return;
	pthread_mutex_lock(&iso->lock);
	for (unsigned i = 0; i < iso->nr_reloads; i++) {
		struct ar_reload *x = &iso->reloads[i];

		if (x->tenant == op->tenant && x->session == op->session &&
		    x->res_id == res->id) {
			if (is_unload(op->op))
				iso->reloads[i] = iso->reloads[--iso->nr_reloads];
			else
				x->gen = gen;
			pthread_mutex_unlock(&iso->lock);
			return;
		}
	}
	if (is_load(op->op)) {
		if (iso->nr_reloads == iso->cap_reloads) {
			unsigned nc = iso->cap_reloads ? 2 * iso->cap_reloads : 16;
			void *p = realloc(iso->reloads, nc * sizeof(*iso->reloads));

			if (!p) {
				pthread_mutex_unlock(&iso->lock);
				return;
			}
			iso->reloads = p;
			iso->cap_reloads = nc;
		}
		iso->reloads[iso->nr_reloads++] = (struct ar_reload){
			.tenant = op->tenant, .session = op->session,
			.flags = op->session_flags, .op = op->op, .res_id = res->id, .gen = gen };
	}
	pthread_mutex_unlock(&iso->lock);
}

/* Returns true if ops never reached the host and may go to a new one: the
 * instance died before they were submitted (the first map of a region
 * found it gone). */
static bool run_once(struct ar_iso *iso, struct ar_host *h, struct ar_op **ops, uint32_t n,
		     bool replaying, bool last)
{
	uint64_t start = ar__now_ns();
	uint64_t deadline = iso->timeout_ns ? start + iso->timeout_ns : 0;
	uint8_t reqbuf[sizeof(struct ar_host_req) + 2 * AR_BATCH_MAX + 8];
	struct ar_host_req *rq = (struct ar_host_req *)reqbuf;
	struct enc_info one, *info = &one;
	unsigned slots[AR_BATCH_MAX];
	struct ar_hinst *in;
	char why[AR_WIRE_MAX_MESSAGE] = "";
	char name[128];
	int err = 0, ret;

	if (n > AR_BATCH_MAX || n > AR_HOST_SLOTS) {
		set_all(ops, n, -E2BIG, NULL);
		return false;
	}
	in = host_get(h, deadline, &err, why, sizeof(why));
	if (!in) {
		set_all(ops, n, err, why);
		return false;
	}
	if (!replaying) {
		unsigned gen = in->gen;

		for (uint32_t i = 0; i < n; i++)
			if (i == 0 || ops[i]->session != ops[i - 1]->session ||
			    ops[i]->tenant != ops[i - 1]->tenant)
				replay(iso, h, ops[i], gen);
	}
	pthread_mutex_lock(&h->lock);
	while (!atomic_load(&in->dead) && in->nr_free < n) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 10000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&h->cond, &h->lock, &ts);
		if (deadline && ar__now_ns() >= deadline)
			break;
	}
	if (atomic_load(&in->dead) || in->nr_free < n) {
		/* Dead before the ops reached it (retired, killed): they may
		 * go to a new one. */
		bool retry = !last && atomic_load(&in->dead);

		ret = atomic_load(&in->dead) ? -EIO : -ETIMEDOUT;
		snprintf(why, sizeof(why), "%s", atomic_load(&in->dead) && in->reason[0] ?
			 in->reason : "no free slot in the plugin's host before op-timeout-ms");
		pthread_mutex_unlock(&h->lock);
		if (!retry)
			set_all(ops, n, ret, why);
		inst_put(in);
		return retry;
	}
	in->seq++;
	for (uint32_t i = 0; i < n; i++)
		slots[i] = in->free[--in->nr_free];
	ret = 0;
	if (n > 1 && !(info = malloc(n * sizeof(*info))))
		ret = -ENOMEM;
	for (uint32_t i = 0; i < n && !ret; i++) {
		info[i].used = 0;
		ret = encode(in, slots[i], ops[i], &info[i].used, why, sizeof(why));
		remember(slot_op(in, slots[i]), ar_op_args_kind(ops[i]->op), &info[i]);
	}
	if (!ret && !atomic_load(&in->dead)) {
		rq->n = n;
		rq->seq = in->seq;
		for (uint32_t i = 0; i < n; i++)
			rq->slots[i] = (uint16_t)slots[i];
		/* release (in the publish): the descriptors above are
		 * written before the host sees the request. */
		atomic_store_explicit(&slot_op(in, slots[0])->state, AR_HS_SUBMITTED,
				      memory_order_relaxed);
		ret = ar_ring_sp_enqueue(&in->sq, rq, (uint32_t)(sizeof(*rq) + 2 * n));
		if (ret == -EAGAIN)
			ret = -EBUSY;
		if (!ret) {
			in->head[slots[0]] = true;
			ar_ring_sp_publish(&in->sq);
			ar_ring_sp_wake(&in->sq, &in->sq_wait);
		}
	} else if (!ret) {
		ret = -EIO;
		snprintf(why, sizeof(why), "%s", in->reason);
	}
	pthread_mutex_unlock(&h->lock);
	if (ret) {
		bool retry = !last && atomic_load(&in->dead);

		pthread_mutex_lock(&h->lock);
		for (uint32_t i = 0; i < n; i++)
			in->free[in->nr_free++] = (uint16_t)slots[i];
		pthread_cond_broadcast(&h->cond);
		pthread_mutex_unlock(&h->lock);
		if (!retry)
			set_all(ops, n, ret, why);
		if (info != &one)
			free(info);
		inst_put(in);
		return retry;
	}

	ret = wait_done(in, slots[0], deadline);
	pthread_mutex_lock(&h->lock);
	in->head[slots[0]] = false;
	if (ret == -ETIMEDOUT) {
		snprintf(why, sizeof(why), "plugin %s's %s took longer than op-timeout-ms (%" PRIu64
			 " ms): its host (pid %d) was killed", iso->name, ar_op_name(ops[0]->op),
			 iso->timeout_ns / 1000000, (int)in->pid);
		kill_locked(h, in, why);
	} else if (ret) {
		snprintf(why, sizeof(why), "%s", in->reason[0] ? in->reason :
			 "the plugin's host broke its link");
		if (!atomic_load(&in->dead))
			kill_locked(h, in, "it broke its link (a state word it must not write)");
	}
	pthread_mutex_unlock(&h->lock);
	if (ret) {
		/* The slots die with the instance. */
		set_all(ops, n, ret, why);
		if (info != &one)
			free(info);
		inst_put(in);
		return false;
	}
	for (uint32_t i = 0; i < n; i++) {
		ops[i]->status = decode(in, slots[i], &info[i], ops[i]);
		if (!ops[i]->status && (is_load(ops[i]->op) || is_unload(ops[i]->op)))
			note_load(iso, ops[i], in->gen);
		/* A large inline op's pages go back: a slot keeps at most
		 * ISO_SCRATCH_KEEP of them resident. */
		if (info[i].used > ISO_SCRATCH_KEEP)
			fallocate(in->link.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				  (off_t)(slot_scratch(in, slots[i]) - (uint8_t *)in->link.base) +
				  ISO_SCRATCH_KEEP, (off_t)(info[i].used - ISO_SCRATCH_KEEP + 4095) &
				  ~(off_t)4095);
	}
	pthread_mutex_lock(&h->lock);
	for (uint32_t i = 0; i < n; i++)
		if (ops[i]->status == -ENOMEM && iso->memory_max)
			h->recycle = true;
	h->quick_crashes = 0;
	atomic_store_explicit(&slot_op(in, slots[0])->state, AR_HS_FREE, memory_order_relaxed);
	for (uint32_t i = 0; i < n; i++)
		in->free[in->nr_free++] = (uint16_t)slots[i];
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
	if (info != &one)
		free(info);
	ar_debug("%s (pid %d) ran %u %s in %" PRIu64 " us: %s", who(h, name, sizeof(name)),
		 (int)in->pid, n, ar_op_name(ops[0]->op), (ar__now_ns() - start) / 1000,
		 ops[0]->status ? strerror(-ops[0]->status) : "ok");
	AR_TRACE(host_run, ops[0]->tenant, ops[0]->op, n, iso->name, (uint32_t)in->pid,
		 ops[0]->status);
	inst_put(in);
	return false;
}

static void run_in(struct ar_iso *iso, struct ar_host *h, struct ar_op **ops, uint32_t n,
		   bool replaying)
{
	/* Once more in a new host if the one it went to was found dead
	 * before the ops reached it (they never ran). */
	if (run_once(iso, h, ops, n, replaying, false))
		run_once(iso, h, ops, n, replaying, true);
}


void ar__iso_run(struct ar_iso *iso, struct ar_op **ops, uint32_t n)
{
	struct ar_host *h = host_of(iso, ops[0]->tenant);

	if (!h) {
		set_all(ops, n, -ENOMEM, NULL);
		return;
	}
	/* A tenant's host runs only that tenant's ops: the coalescer's key
	 * keeps tenants apart for it (ar__iso_per_tenant). */
	for (uint32_t i = 1; iso->mode == AR_ISO_TENANT && i < n; i++) {
		if (ops[i]->tenant != ops[0]->tenant) {
			ar__iso_run(iso, ops + i, n - i);
			n = i;
			break;
		}
	}
	run_in(iso, h, ops, n, false);
}

bool ar__iso_per_tenant(const struct ar_iso *iso)
{
	return iso && iso->mode == AR_ISO_TENANT;
}

bool ar__iso_has_batch(const struct ar_iso *iso)
{
	return iso->has_batch;
}

void ar__iso_session_closed(struct ar_iso *iso, uint32_t tenant, uint32_t session)
{
	struct ar_hc_session m = { .type = AR_HC_SESSION_CLOSED, .tenant = tenant,
				   .session = session };

	pthread_mutex_lock(&iso->lock);
	for (unsigned i = 0; i < iso->nr_reloads;) {
		if (iso->reloads[i].tenant == tenant && iso->reloads[i].session == session)
			iso->reloads[i] = iso->reloads[--iso->nr_reloads];
		else
			i++;
	}
	for (struct ar_host *h = iso->hosts; iso->has_session_closed && h; h = h->next) {
		if (h->tenant && h->tenant != tenant)
			continue;
		pthread_mutex_lock(&h->lock);
		if (h->cur && send_msg(h->cur->ctl, &m, sizeof(m), NULL, 0))
			kill_locked(h, h->cur, "its control socket is full or gone");
		pthread_mutex_unlock(&h->lock);
	}
	pthread_mutex_unlock(&iso->lock);
}

/* ---- loading ---- */

static int sup_start(void)
{
	ssize_t n;

	if (sup.running)
		return 0;
	n = readlink("/proc/self/exe", sup.exe, sizeof(sup.exe) - 1);
	if (n <= 0)
		return -errno;
	sup.exe[n] = '\0';
	sup.wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (sup.wake < 0)
		return -errno;
	if (pthread_create(&sup.thr, NULL, supervisor_main, NULL)) {
		close(sup.wake);
		return -EAGAIN;
	}
	sup.running = true;
	return 0;
}

int ar__iso_open(struct ar_loaded_plugin *lp, const char *entry, int mode)
{
	const struct ar_config *cfg = ar__iso_cfg;
	struct ar_hc_ready rd;
	struct ar_iso *iso;
	struct ar_host *h;
	struct ar_hinst *in;
	char why[512];
	unsigned nr = 0;
	int ret;

	if (!cfg || sup.nr_isos == AR_MAX_PLUGINS)
		return -EINVAL;
	if ((ret = sup_start())) {
		ar_err("plugin %s: cannot supervise hosts: %s", entry, strerror(-ret));
		return ret;
	}
	iso = calloc(1, sizeof(*iso));
	if (!iso)
		return -ENOMEM;
	ar__iso_plugin_name(entry, iso->name, sizeof(iso->name));
	snprintf(iso->path, sizeof(iso->path), "%s", lp->path);
	iso->mode = mode;
	iso->cfg = cfg;
	iso->timeout_ns = setting_u64(cfg->op_timeout_ms, iso->name, false, 30000) * 1000000ull;
	iso->memory_max = setting_u64(cfg->plugin_memory_max, iso->name, true,
				      !strcmp(iso->name, "exec") ? 2ull << 30 : 0);
	iso->seccomp = !strcmp(iso->name, "exec");
	pthread_mutex_init(&iso->lock, NULL);
	h = host_of(iso, 0);
	if (!h) {
		free(iso);
		return -ENOMEM;
	}
	/* The first host tells what the plugin is (it loads it: the broker
	 * never does). A tenant-isolated plugin's first host only says so. */
	h->starting = true;
	in = inst_start(h, &rd, why, sizeof(why));
	h->starting = false;
	if (!in) {
		ar_err("%s", why);
		return -ENOEXEC;
	}
	snprintf(iso->dname, sizeof(iso->dname), "%s", rd.name);
	snprintf(iso->dversion, sizeof(iso->dversion), "%s", rd.version);
	iso->has_batch = rd.has_batch;
	iso->has_session_closed = rd.has_session_closed;
	for (uint32_t op = 0; op < AR_OP_MAX; op++)
		if (rd.ops[op])
			iso->ops[nr++] = (struct ar_plugin_op){ .op = op, .fn = NULL };
	iso->desc = (struct ar_plugin){ .abi_version = AR_PLUGIN_ABI_VERSION,
					.size = sizeof(struct ar_plugin),
					.name = iso->dname, .version = iso->dversion,
					.type = rd.plugin_type, .nr_ops = nr, .ops = iso->ops };
	pthread_mutex_lock(&h->lock);
	if (mode == AR_ISO_PLUGIN) {
		in->gen = ++h->gen;
		h->cur = in;
		ar_info("plugin %s's host started: pid %d", iso->name, (int)in->pid);
	} else {
		in->retire = true;
		kill_locked(h, in, "its plugin's descriptor was read");
		inst_put(in);
	}
	pthread_mutex_unlock(&h->lock);
	if (mode == AR_ISO_TENANT) {
		/* Tenants get hosts of their own; this one was the probe. */
		pthread_mutex_lock(&iso->lock);
		iso->hosts = NULL;
		iso->probe = h;
		pthread_mutex_unlock(&iso->lock);
		/* h stays allocated: the dying probe names it. */
	}
	lp->desc = &iso->desc;
	lp->iso = iso;
	sup.isos[sup.nr_isos++] = iso;
	ar_info("plugin %s runs isolated: %s, op-timeout-ms %" PRIu64 ", plugin-memory-max %"
		PRIu64 "%s", iso->name, mode_names[mode], iso->timeout_ns / 1000000,
		iso->memory_max, iso->seccomp ? ", seccomp" : "");
	return 0;
}

/* At shutdown, after the workers: every host is asked to go (its socket
 * closes), then killed if it has not gone within the grace. */
void ar__iso_close(struct ar_loaded_plugin *lp)
{
	struct ar_iso *iso = lp->iso;

	if (!iso)
		return;
	pthread_mutex_lock(&iso->lock);
	for (struct ar_host *h = iso->hosts; h; h = h->next) {
		pthread_mutex_lock(&h->lock);
		if (h->cur) {
			h->cur->retire = true;
			kill_locked(h, h->cur, "the broker stops");
		}
		pthread_mutex_unlock(&h->lock);
	}
	pthread_mutex_unlock(&iso->lock);
	lp->iso = NULL;
	lp->desc = NULL;
	/* iso stays allocated: the supervisor may still reap its hosts. */
}

/* At the very end: reap what is left and stop the supervisor. */
void ar__iso_stop(void)
{
	if (!sup.running)
		return;
	pthread_mutex_lock(&sup.lock);
	sup.stop = true;
	pthread_mutex_unlock(&sup.lock);
	sup_kick();
	pthread_join(sup.thr, NULL);
	close(sup.wake);
	sup.running = false;
}

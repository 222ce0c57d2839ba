/* SPDX-License-Identifier: Apache-2.0 */
/*
 * accelringd --plugin-host: one isolated plugin's process (host_abi.h).
 *
 * The broker starts it with the control socket as fd 3 and sends the rest
 * in AR_HC_HELLO. It then, in this order: makes itself the OOM killer's
 * first choice, takes
 * the configured uid and gid, loads the one plugin with the broker's own
 * loader (plugin.c: a plugin cannot tell where it runs), starts its
 * threads, caps its address space (plugin-memory-max over what it has
 * mapped), installs exec's seccomp filter, and answers AR_HC_READY.
 *
 * Threads: the main thread serves the control socket (maps, unmaps,
 * sessions closed); of `threads` op threads one leads: it takes requests
 * from the link's SQ and runs them in the plugin, completing them in their
 * slots, and a watchdog hands the lead to another when a request keeps it
 * for more than a tick (op_thread). The socket closing, or any
 * impossible value from the broker, ends the process: the broker restarts
 * it.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <malloc.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <accelring/optable.h>

#include "host_abi.h"
#include "internal.h"

#define CTL_FD 3

struct hregion {
	_Atomic uint64_t key;		/* 0: free; published last (release) */
	uint32_t kind;
	uint8_t *base;			/* the data area, or the resource's map */
	uint64_t len;
	int fd;
	struct ar_resource res;
	struct ar_resource_file *files;
	char *names;
	char path[32];
};

static struct {
	struct ar_plugins ps;
	struct ar_plugin_host host;
	struct ar_region link;
	struct ar_ring_cons sq;
	struct ar_ring_wait wait;
	uint8_t *slots;
	uint64_t slot_bytes, scratch_bytes;
	struct hregion reg[AR_HOST_REGIONS];
	char keys[AR_NR_PLUGIN_KEYS][64];
	char vals[AR_NR_PLUGIN_KEYS][AR_HOST_SETTING_BYTES];
	unsigned nr_keys;
	uint64_t memory_max, as_base, mapped;
	char name[160];
	/* Bumped (release) before each completion and read (acquire) before
	 * each request: a slot's memory passes from one host thread to the
	 * next through the broker, which a thread sanitizer cannot see. */
	_Atomic uint64_t epoch;
} H;

static _Noreturn void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static _Noreturn void die(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	ar_err("%s: %s: exiting", H.name, buf);
	_exit(1);
}

static const char *setting(const char *key)
{
	for (unsigned i = 0; i < H.nr_keys; i++)
		if (!strcmp(H.keys[i], key))
			return H.vals[i];
	return NULL;
}

static void log_plugin(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ar__vlog_prefixed(level, H.name, fmt, ap);
	va_end(ap);
}

/* ---- the address-space cap ---- */

static uint64_t vm_size(void)
{
	char line[256];
	unsigned long long kb = 0;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmSize: %llu kB", &kb) == 1)
			break;
	fclose(f);
	return (uint64_t)kb << 10;
}

/* RLIMIT_AS = what the host had after starting + plugin-memory-max + what
 * it maps for tenants: the cap is on the plugin's own allocations. */
static void set_cap(void)
{
	struct rlimit rl;

	if (!H.memory_max)
		return;
	getrlimit(RLIMIT_AS, &rl);
	rl.rlim_cur = H.as_base + H.memory_max + H.mapped;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_cur > rl.rlim_max)
		rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_AS, &rl))
		ar_warn("%s: setrlimit(RLIMIT_AS): %s", H.name, strerror(errno));
}

/* ---- exec's seccomp filter ---- */

static int install_seccomp(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	const int deny[] = {
		SCMP_SYS(execve), SCMP_SYS(execveat), SCMP_SYS(socket),
		SCMP_SYS(socketpair), SCMP_SYS(ptrace), SCMP_SYS(process_vm_readv),
		SCMP_SYS(process_vm_writev), SCMP_SYS(fork), SCMP_SYS(vfork),
		SCMP_SYS(setuid),
		SCMP_SYS(setgid), SCMP_SYS(setreuid), SCMP_SYS(setregid),
		SCMP_SYS(setresuid), SCMP_SYS(setresgid), SCMP_SYS(mount),
		SCMP_SYS(unshare), SCMP_SYS(setns), SCMP_SYS(pidfd_open),
		SCMP_SYS(pidfd_getfd), SCMP_SYS(kexec_load), SCMP_SYS(bpf),
	};
	pid_t self = getpid();
	int ret = 0;

	if (!ctx)
		return -ENOMEM;
	for (size_t i = 0; i < sizeof(deny) / sizeof(deny[0]) && !ret; i++)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), deny[i], 0);
	/* New processes: clone only as a thread (pthread_create); clone3
	 * says ENOSYS, so glibc falls back to clone. */
	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
				       SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0));
	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	/* Signals only to itself (abort and raise use tgkill on their own
	 * pid): never the broker or another tenant's host. */
	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(kill), 1,
				       SCMP_A0(SCMP_CMP_NE, (scmp_datum_t)self));
	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(tgkill), 1,
				       SCMP_A0(SCMP_CMP_NE, (scmp_datum_t)self));
	/* Every thread, the plugin's own pools included. */
	if (!ret)
		ret = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (!ret)
		ret = seccomp_load(ctx);
	seccomp_release(ctx);
	return ret;
}

/* exec's host gives up every capability: a root host keeps its uid (and
 * what that may read) but not CAP_SYS_PTRACE, CAP_DAC_OVERRIDE, CAP_KILL
 * and the rest, so it cannot reach into the broker's or another host's
 * memory through /proc (both are not dumpable). */
static int drop_capabilities(void)
{
	struct { uint32_t version; int pid; } hdr = { 0x20080522, 0 };	/* _LINUX_CAPABILITY_VERSION_3 */
	struct { uint32_t effective, permitted, inheritable; } data[2] = { { 0 } };

	for (int cap = 0; cap <= 63; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) && errno != EINVAL && errno != EPERM)
			return -errno;
	if (syscall(SYS_capset, &hdr, data))
		return -errno;
	return 0;
}

/* ---- ops ---- */

static int res_arg(const struct ar_host_arg *a, const uint8_t *scratch, struct ar_buf *b)
{
	memset(b, 0, sizeof(*b));
	b->type = a->type;
	b->custom_id = a->custom_id;
	b->len = a->len;
	switch (a->where) {
	case AR_HW_NONE:
		return 0;
	case AR_HW_SCRATCH:
		if (a->off > H.scratch_bytes || a->len > H.scratch_bytes - a->off)
			return -EINVAL;
		b->ptr = (void *)(scratch + a->off);
		return 0;
	case AR_HW_DATA: {
		const struct hregion *r;

		if (a->region >= AR_HOST_REGIONS)
			return -EINVAL;
		r = &H.reg[a->region];
		if (!atomic_load_explicit(&r->key, memory_order_acquire) ||
		    r->kind != AR_HM_DATA || a->off > r->len || a->len > r->len - a->off)
			return -EINVAL;
		b->ptr = r->base + a->off;
		return 0;
	}
	default:
		return -EINVAL;
	}
}

/* A slot's descriptor into an ar_op; -EINVAL for anything out of range. */
static int build(struct ar_host_op *d, uint8_t *sc, struct ar_op *op, struct ar_buf *rd,
		 struct ar_buf *wr)
{
	uint32_t kind = ar_op_args_kind(d->op);
	struct ar_buf lib, sym;
	int ret = 0;

	memset(op, 0, sizeof(*op));
	op->op = d->op;
	op->session = d->session;
	op->session_flags = d->session_flags;
	op->tenant = d->tenant;
	if (d->op >= AR_OP_MAX || d->nr_read > AR_WIRE_MAX_ARGS || d->nr_write > AR_WIRE_MAX_ARGS)
		return -EINVAL;
	if (d->why_cap) {
		if (d->why_off > H.scratch_bytes || d->why_cap > H.scratch_bytes - d->why_off)
			return -EINVAL;
		op->why = (char *)sc + d->why_off;
		op->why_cap = d->why_cap;
		op->why[0] = '\0';
	}
	for (uint32_t i = 0; i < d->nr_read && !ret; i++)
		ret = res_arg(&d->read[i], sc, &rd[i]);
	for (uint32_t i = 0; i < d->nr_write && !ret; i++)
		ret = res_arg(&d->write[i], sc, &wr[i]);
	if (ret)
		return ret;
	switch (kind) {
	case AR_ARGS_SGEMM:
		if (d->nr_read != 2 || d->nr_write != 1)
			return -EINVAL;
		op->u.sgemm = (struct ar_op_sgemm){ .m = d->m, .n = d->n, .k = d->k,
						    .lda = d->lda, .ldb = d->ldb, .ldc = d->ldc,
						    .alpha = d->alpha, .beta = d->beta,
						    .a = rd[0].ptr, .b = rd[1].ptr, .c = wr[0].ptr };
		break;
	case AR_ARGS_IMAGE:
		if (d->nr_read != 1 || d->nr_write != 2)
			return -EINVAL;
		op->u.image.img = rd[0];
		op->u.image.out_text = wr[0];
		op->u.image.out_imgname = wr[1];
		break;
	case AR_ARGS_GENERIC:
		if ((ret = res_arg(&d->library, sc, &lib)) || (ret = res_arg(&d->symbol, sc, &sym)))
			return ret;
		/* Strings end with their NUL inside their bytes. */
		if ((lib.ptr && (!lib.len || ((char *)lib.ptr)[lib.len - 1])) ||
		    (sym.ptr && (!sym.len || ((char *)sym.ptr)[sym.len - 1])))
			return -EINVAL;
		op->u.generic.library = lib.ptr;
		op->u.generic.symbol = sym.ptr;
		op->u.generic.nr_read = d->nr_read;
		op->u.generic.nr_write = d->nr_write;
		op->u.generic.read = rd;
		op->u.generic.write = wr;
		if (d->res_region != UINT32_MAX) {
			const struct hregion *r;

			if (d->res_region >= AR_HOST_REGIONS)
				return -EINVAL;
			r = &H.reg[d->res_region];
			if (!atomic_load_explicit(&r->key, memory_order_acquire) ||
			    r->kind != AR_HM_RESOURCE)
				return -EINVAL;
			op->u.generic.resource = &r->res;
		}
		break;
	case AR_ARGS_MBENCH:
		op->u.mbench.time_us = d->mbench_us;
		break;
	default:
		break;
	}
	return 0;
}

struct one {
	struct ar_op op;
	struct ar_buf rd[AR_WIRE_MAX_ARGS], wr[AR_WIRE_MAX_ARGS];
};

static void run_request(const struct ar_host_req *rq, uint32_t len)
{
	static _Thread_local struct one *ones;
	static _Thread_local struct ar_op **ptrs;
	const struct ar_route *rt = NULL;
	struct ar_host_op *head;
	uint32_t n = rq->n;

	if (len < sizeof(*rq) || n == 0 || n > AR_BATCH_MAX || len < sizeof(*rq) + 2 * n)
		die("a malformed request (%u bytes, %u ops)", len, n);
	if (!ones) {
		ones = calloc(AR_BATCH_MAX, sizeof(*ones));
		ptrs = calloc(AR_BATCH_MAX, sizeof(*ptrs));
		if (!ones || !ptrs)
			die("out of memory");
	}
	for (uint32_t i = 0; i < n; i++)
		if (rq->slots[i] >= AR_HOST_SLOTS)
			die("a request names slot %u", rq->slots[i]);
	head = (struct ar_host_op *)(H.slots + (uint64_t)rq->slots[0] * H.slot_bytes);
	for (uint32_t i = 0; i < n; i++) {
		uint8_t *base = H.slots + (uint64_t)rq->slots[i] * H.slot_bytes;
		struct ar_host_op *d = (struct ar_host_op *)base;
		int ret = build(d, base + AR_HOST_DESC_BYTES, &ones[i].op, ones[i].rd, ones[i].wr);

		if (ret)
			die("slot %u: an op out of range", rq->slots[i]);
		ptrs[i] = &ones[i].op;
	}
	rt = ar__plugins_route(&H.ps, ptrs[0]->op, 0);
	if (!rt) {
		for (uint32_t i = 0; i < n; i++)
			ptrs[i]->status = -ENOTSUP;
	} else if (n == 1) {
		int st = ar__route_run(rt, ptrs[0]);

		ptrs[0]->status = st > 0 ? -st : st;
	} else if (ar__route_can_batch(rt)) {
		for (uint32_t i = 0; i < n; i++)
			ptrs[i]->status = 0;
		ar__route_batch(rt, ptrs, n);
	} else {
		for (uint32_t i = 0; i < n; i++) {
			int st = ar__route_run(rt, ptrs[i]);

			ptrs[i]->status = st > 0 ? -st : st;
		}
	}
	for (uint32_t i = 0; i < n; i++) {
		struct ar_host_op *d = (struct ar_host_op *)(H.slots +
							      (uint64_t)rq->slots[i] * H.slot_bytes);
		uint32_t kind = ar_op_args_kind(d->op);
		const struct ar_op *op = ptrs[i];

		d->status = op->status;
		if (kind == AR_ARGS_IMAGE) {
			d->write[0].len = op->u.image.out_text.len;
			d->write[1].len = op->u.image.out_imgname.len;
		} else if (kind == AR_ARGS_GENERIC) {
			for (uint32_t k = 0; k < d->nr_write; k++)
				d->write[k].len = ones[i].wr[k].len;
		}
	}
	atomic_fetch_add_explicit(&H.epoch, 1, memory_order_release);
	/* release: the results above are written before the broker's
	 * acquire load sees AR_HS_DONE (isolate.c, wait_done). */
	if (atomic_exchange_explicit(&head->state, AR_HS_DONE, memory_order_acq_rel) &
	    AR_HS_WAITER)
		syscall(SYS_futex, &head->state, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
}

/*
 * Who polls the ring. The leader takes a request and runs it itself,
 * staying the leader: no hand-off on the fast path. A leader inside one
 * request for a whole tick (HANDOFF_NS) is relieved by the host's
 * watchdog, which makes an idle thread the leader (the broker's worker
 * rescue, in small): the long op finishes on its thread, which then waits
 * to lead again. H.lead packs (generation << 1) | inside-a-request; the
 * leader leaves a request with a CAS that fails once it was relieved.
 */
#define HANDOFF_NS 1000000ull

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool led;			/* a thread leads (under lock) */
	unsigned idle;			/* threads waiting to lead (under lock) */
	_Atomic uint64_t lead;
	_Atomic uint64_t since;		/* when the leader entered its request */
	_Atomic unsigned started;	/* threads that made their malloc arena */
} L = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

static void *op_thread(void *arg)
{
	uint8_t buf[sizeof(struct ar_host_req) + 2 * AR_BATCH_MAX + 64]
		__attribute__((aligned(8)));

	(void)arg;
	/* Its malloc arena now (glibc reserves 64 MiB of address space for
	 * it at a thread's first malloc): part of the host's start, not of
	 * what plugin-memory-max gives the plugin (ar__host_main). */
	free(malloc(64));
	atomic_fetch_add(&L.started, 1);
	for (;;) {
		uint64_t gen;

		pthread_mutex_lock(&L.lock);
		L.idle++;
		while (L.led)
			pthread_cond_wait(&L.cond, &L.lock);
		L.idle--;
		L.led = true;
		gen = atomic_load(&L.lead) >> 1;
		pthread_mutex_unlock(&L.lock);
		for (;;) {
			uint64_t in;
			int64_t n;

			n = ar_ring_sc_dequeue(&H.sq, buf, sizeof(buf));
			if (n == -EAGAIN) {
				int ret;

				ar_ring_sc_release(&H.sq);
				ret = ar_ring_sc_wait(&H.sq, &H.wait, -1);
				if (ret < 0 && ret != -EINTR)
					die("waiting for requests: %s", strerror(-ret));
				continue;
			}
			if (n < 0)
				die("the request ring: %s", strerror((int)-n));
			ar_ring_sc_release(&H.sq);
			(void)atomic_load_explicit(&H.epoch, memory_order_acquire);
			in = (gen << 1) | 1;
			atomic_store(&L.since, ar__now_ns());
			/* seq_cst, paired with the watchdog's CAS: it sees this
			 * thread inside a request, or not at all. */
			atomic_store(&L.lead, in);
			run_request((const struct ar_host_req *)buf, (uint32_t)n);
			/* The worker waiting for that completion may share this
			 * CPU: let it run now, not at the next yield of the
			 * ring's spin (a microsecond's system call, after the
			 * completion is out). */
			sched_yield();
			if (!atomic_compare_exchange_strong(&L.lead, &in, gen << 1))
				break;	/* relieved: another thread leads */
		}
	}
	return NULL;
}

static void *watchdog_thread(void *arg)
{
	(void)arg;
	for (;;) {
		struct timespec ts = { 0, (long)HANDOFF_NS };
		uint64_t v = atomic_load(&L.lead);

		nanosleep(&ts, NULL);
		if (!(v & 1) || atomic_load(&L.lead) != v ||
		    ar__now_ns() - atomic_load(&L.since) < HANDOFF_NS)
			continue;
		pthread_mutex_lock(&L.lock);
		/* Only with a thread to take over; the next generation, not
		 * inside a request. */
		if (L.idle && atomic_compare_exchange_strong(&L.lead, &v, ((v >> 1) + 1) << 1)) {
			L.led = false;
			pthread_cond_signal(&L.cond);
		}
		pthread_mutex_unlock(&L.lock);
	}
	return NULL;
}

/* ---- the control socket ---- */

static void answer(const void *m, size_t len)
{
	ssize_t n;

	do
		n = send(CTL_FD, m, len, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)len)
		die("the control socket: %s", n < 0 ? strerror(errno) : "short send");
}

static int do_map(const struct ar_hc_map *m, size_t len, int fd)
{
	struct hregion *r;
	struct stat st;
	uint64_t off = m->off, mlen = m->len;
	void *p;

	if (m->index >= AR_HOST_REGIONS || !m->key)
		return -EINVAL;
	r = &H.reg[m->index];
	if (atomic_load(&r->key))
		return -EBUSY;
	if (fstat(fd, &st))
		return -errno;
	if (m->kind == AR_HM_RESOURCE) {
		off = 0;
		mlen = (uint64_t)st.st_size;
	}
	if (m->kind != AR_HM_DATA && m->kind != AR_HM_RESOURCE)
		return -EINVAL;
	if (off % 4096 || off > (uint64_t)st.st_size || mlen > (uint64_t)st.st_size - off)
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	r->kind = m->kind;
	r->fd = fd;
	r->len = mlen;
	if (mlen) {
		p = mmap(NULL, mlen, m->kind == AR_HM_DATA ? PROT_READ | PROT_WRITE : PROT_READ,
			 MAP_SHARED, fd, (off_t)off);
		if (p == MAP_FAILED)
			return -errno;
		r->base = p;
	}
	if (m->kind == AR_HM_RESOURCE) {
		const struct ar_hc_file *f = (const void *)(m + 1);
		const char *np;
		size_t fixed = sizeof(*m) + (size_t)m->nr_files * sizeof(*f);

		if (m->nr_files > 65536 || len < fixed || len - fixed != m->names_len)
			goto bad;
		np = (const char *)(f + m->nr_files);
		r->files = calloc(m->nr_files ? m->nr_files : 1, sizeof(*r->files));
		r->names = malloc(m->names_len + 1);
		if (!r->files || !r->names)
			goto bad;
		memcpy(r->names, np, m->names_len);
		snprintf(r->path, sizeof(r->path), "/proc/self/fd/%d", fd);
		for (uint32_t i = 0, at = 0; i < m->nr_files; i++) {
			if (f[i].name_len == 0 || f[i].name_len > m->names_len - at ||
			    r->names[at + f[i].name_len - 1] != '\0' || f[i].offset > mlen ||
			    f[i].size > mlen - f[i].offset)
				goto bad;
			r->files[i] = (struct ar_resource_file){
				.name = r->names + at, .data = r->base + f[i].offset,
				.size = f[i].size, .fd = fd, .offset = f[i].offset,
				.path = f[i].whole ? r->path : NULL };
			memcpy(r->files[i].sha256, f[i].sha256, 32);
			at += f[i].name_len;
		}
		r->res = (struct ar_resource){ .id = m->res_id, .type = m->res_type,
					       .nr_files = m->nr_files, .files = r->files };
		memcpy(r->res.sha256, m->res_sha256, 32);
	}
	H.mapped += mlen;
	set_cap();
	/* release: an op thread that sees the key sees the region. */
	atomic_store_explicit(&r->key, m->key, memory_order_release);
	return 0;
bad:
	if (r->base)
		munmap(r->base, mlen);
	free(r->files);
	free(r->names);
	memset(r, 0, sizeof(*r));
	return -EINVAL;
}

static void do_unmap(const struct ar_hc_unmap *u)
{
	struct hregion *r;

	if (u->index >= AR_HOST_REGIONS)
		die("unmap of region %u", u->index);
	r = &H.reg[u->index];
	if (atomic_load(&r->key) != u->key)
		return;
	/* No op of it runs: the broker unmaps a region once its connection
	 * or resource is gone. */
	atomic_store(&r->key, 0);
	if (r->base)
		munmap(r->base, r->len);
	close(r->fd);
	H.mapped -= r->len;
	free(r->files);
	free(r->names);
	memset(r, 0, sizeof(*r));
}

static _Noreturn void serve_control(void)
{
	uint8_t *buf = malloc(AR_HC_MAX);

	if (!buf)
		die("out of memory");
	for (;;) {
		union { struct cmsghdr h; char b[CMSG_SPACE(8 * sizeof(int))]; } cb;
		struct iovec iov = { buf, AR_HC_MAX };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb.b,
				    .msg_controllen = sizeof(cb.b) };
		int fds[8], nr_fds = 0;
		ssize_t n = recvmsg(CTL_FD, &m, MSG_CMSG_CLOEXEC);
		uint32_t type;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* The broker went, or let this host go. */
			if (n < 0)
				die("the control socket: %s", strerror(errno));
			ar_debug("%s: the broker let this host go", H.name);
			_exit(0);
		}
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
				for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++)
					if (nr_fds < 8)
						fds[nr_fds++] = ((int *)CMSG_DATA(c))[i];
		if ((size_t)n < sizeof(type) || (m.msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
			die("a malformed control message");
		memcpy(&type, buf, sizeof(type));
		if (type == AR_HC_MAP && (size_t)n >= sizeof(struct ar_hc_map) && nr_fds == 1) {
			const struct ar_hc_map *mp = (const void *)buf;
			struct ar_hc_mapped a = { .type = AR_HC_MAPPED, .index = mp->index };

			a.status = do_map(mp, (size_t)n, fds[0]);
			if (a.status)
				close(fds[0]);
			answer(&a, sizeof(a));
		} else if (type == AR_HC_UNMAP && n == sizeof(struct ar_hc_unmap) && !nr_fds) {
			do_unmap((const void *)buf);
		} else if (type == AR_HC_SESSION_CLOSED && n == sizeof(struct ar_hc_session) &&
			   !nr_fds) {
			const struct ar_hc_session *s = (const void *)buf;

			if (H.ps.nr && H.ps.p[0].desc->session_closed && !H.ps.p[0].vp)
				H.ps.p[0].desc->session_closed(s->tenant, s->session);
		} else {
			die("an unexpected control message (type %u, %zd bytes, %d fds)", type, n,
			    nr_fds);
		}
	}
}

int ar__host_main(void)
{
	uint8_t *buf = malloc(AR_HC_MAX);
	union { struct cmsghdr h; char b[CMSG_SPACE(8 * sizeof(int))]; } cb;
	struct iovec iov = { buf, AR_HC_MAX };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb.b,
			    .msg_controllen = sizeof(cb.b) };
	struct ar_hc_ready rd = { .type = AR_HC_READY };
	const struct ar_hc_hello *hi = (const void *)buf;
	int fds[2] = { -1, -1 }, nr_fds = 0, ret;
	struct cmsghdr *c;
	ssize_t n;
	sigset_t none;

	snprintf(H.name, sizeof(H.name), "plugin host");
	/* Nothing of the broker's reaches here but the control socket: the
	 * broker's spawn closed the rest (addclosefrom). Closing them here
	 * would close what lttng-ust's constructor opened. */
	/* The broker blocked its signals for its signalfd: a host takes
	 * them the usual way (SIGTERM ends it). */
	sigemptyset(&none);
	pthread_sigmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* No PR_SET_PDEATHSIG: it fires when the broker thread that started
	 * the host ends (a worker's rescued thread does), not the broker.
	 * The control socket closing is what ends a host (serve_control). */
	if (!buf)
		_exit(1);
	do
		n = recvmsg(CTL_FD, &m, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	for (c = n > 0 ? CMSG_FIRSTHDR(&m) : NULL; c; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++)
				if (nr_fds < 2)
					fds[nr_fds++] = ((int *)CMSG_DATA(c))[i];
	if (n < (ssize_t)sizeof(*hi) || hi->type != AR_HC_HELLO ||
	    hi->version != AR_HOST_VERSION || nr_fds != 2 ||
	    hi->settings_len > (size_t)n - sizeof(*hi)) {
		fprintf(stderr, "accelringd --plugin-host is started by accelringd, not by hand\n");
		_exit(2);
	}
	fcntl(CTL_FD, F_SETFD, FD_CLOEXEC);
	ar__log_level = (int)hi->log_level;
	{
		char nm[64];

		memcpy(nm, hi->name, sizeof(nm));
		nm[sizeof(nm) - 1] = '\0';
		if (hi->tenant)
			snprintf(H.name, sizeof(H.name), "plugin %s's host for tenant %u (pid %d)",
				 nm, hi->tenant, (int)getpid());
		else
			snprintf(H.name, sizeof(H.name), "plugin %s's host (pid %d)", nm,
				 (int)getpid());
	}
	/* Settings: key, value, key, value..., NUL-separated. */
	for (size_t at = 0; at < hi->settings_len && H.nr_keys < AR_NR_PLUGIN_KEYS;) {
		const char *k = hi->settings + at;
		size_t kl = strnlen(k, hi->settings_len - at);

		if (at + kl + 1 >= hi->settings_len)
			break;
		const char *v = k + kl + 1;
		size_t vl = strnlen(v, hi->settings_len - at - kl - 1);

		snprintf(H.keys[H.nr_keys], sizeof(H.keys[0]), "%.*s", (int)kl, k);
		snprintf(H.vals[H.nr_keys], sizeof(H.vals[0]), "%.*s", (int)vl, v);
		H.nr_keys++;
		at += kl + 1 + vl + 1;
	}
	/* The OOM killer takes a host before anything else. */
	{
		int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);

		if (fd >= 0) {
			if (write(fd, "1000", 4) < 0)
				(void)0;
			close(fd);
		}
	}
	if (hi->gid != UINT32_MAX && (setgroups(0, NULL) || setgid(hi->gid))) {
		snprintf(rd.error, sizeof(rd.error), "cannot take gid %u: %s", hi->gid,
			 strerror(errno));
		rd.status = -EPERM;
		goto out;
	}
	if (hi->uid != UINT32_MAX && setuid(hi->uid)) {
		snprintf(rd.error, sizeof(rd.error), "cannot take uid %u: %s", hi->uid,
			 strerror(errno));
		rd.status = -EPERM;
		goto out;
	}
	/* No other process of this uid may read or write this one's memory
	 * through /proc (another tenant's exec host, say). */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	/* Capabilities and no_new_privs are a thread's: give them up before
	 * any thread starts (the plugin's own, at its init, or ours), so that
	 * every thread that will run plugin code is without them. */
	if (hi->seccomp && (ret = drop_capabilities())) {
		snprintf(rd.error, sizeof(rd.error), "dropping capabilities: %s", strerror(-ret));
		rd.status = ret;
		goto out;
	}
	if (hi->seccomp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		snprintf(rd.error, sizeof(rd.error), "no_new_privs: %s", strerror(errno));
		rd.status = -errno;
		goto out;
	}
	if ((ret = ar_region_attach(&H.link, fds[0])) ||
	    (ret = ar_ring_cons_init(&H.sq, &H.link, 0, AR_RING_SQ))) {
		snprintf(rd.error, sizeof(rd.error), "the link: %s", strerror(-ret));
		rd.status = ret;
		goto out;
	}
	{
		uint64_t data_bytes;

		H.slots = ar_region_data(&H.link, &data_bytes);
		H.slot_bytes = data_bytes / AR_HOST_SLOTS;
		if (H.slot_bytes <= AR_HOST_DESC_BYTES || H.slot_bytes % 4096) {
			snprintf(rd.error, sizeof(rd.error), "the link's slots are %" PRIu64
				 " bytes", H.slot_bytes);
			rd.status = -EINVAL;
			goto out;
		}
		H.scratch_bytes = H.slot_bytes - AR_HOST_DESC_BYTES;
	}
	H.wait = (struct ar_ring_wait){ .mode = AR_WAIT_FD, .efd = fds[1],
					.spin_ns = hi->spin_ns };
	H.host = (struct ar_plugin_host){ .size = sizeof(H.host),
					  .log_level = (uint32_t)ar__log_level,
					  .log = log_plugin, .op_name = ar_op_name,
					  .setting = setting };
	{
		char path[4096], dir[4096];

		memcpy(path, hi->path, sizeof(path));
		memcpy(dir, hi->plugin_dir, sizeof(dir));
		path[sizeof(path) - 1] = dir[sizeof(dir) - 1] = '\0';
		/* ar__iso_cfg is NULL here: the plugin loads in this process. */
		if ((ret = ar__plugins_load(&H.ps, path, &H.host, dir)) || H.ps.nr != 1) {
			snprintf(rd.error, sizeof(rd.error), "%.160s would not load (%s): the host's "
				 "log says why", path, strerror(ret ? -ret : ENOENT));
			rd.status = ret ? ret : -ENOENT;
			goto out;
		}
	}
	for (unsigned i = 0; i < (hi->threads ? hi->threads : 1); i++) {
		pthread_t t;

		if (pthread_create(&t, NULL, op_thread, NULL)) {
			snprintf(rd.error, sizeof(rd.error), "cannot start its threads");
			rd.status = -EAGAIN;
			goto out;
		}
		pthread_detach(t);
	}
	{
		pthread_t t;

		if (pthread_create(&t, NULL, watchdog_thread, NULL)) {
			snprintf(rd.error, sizeof(rd.error), "cannot start its threads");
			rd.status = -EAGAIN;
			goto out;
		}
		pthread_detach(t);
	}
	H.memory_max = hi->memory_max;
	while (atomic_load(&L.started) < (hi->threads ? hi->threads : 1)) {
		struct timespec ts = { 0, 100000 };

		nanosleep(&ts, NULL);
	}
	if (H.memory_max) {
		/* The baseline: the plugin loaded, its threads and theirs
		 * started, with their stacks and arenas. A thread that makes
		 * its first allocation later (the watchdog, lttng-ust's
		 * listeners, a plugin's own) would reserve a 64 MiB arena
		 * out of what plugin-memory-max gives the plugin: from here
		 * on threads share the arenas there are. */
		mallopt(M_ARENA_MAX, 1);
		H.as_base = vm_size();
		set_cap();
	}
	if (hi->seccomp && (ret = install_seccomp())) {
		snprintf(rd.error, sizeof(rd.error), "seccomp: %s", strerror(-ret));
		rd.status = ret;
		goto out;
	}
	{
		const struct ar_plugin *d = H.ps.p[0].desc;

		rd.plugin_type = d->type;
		rd.has_batch = d->batch != NULL && !H.ps.p[0].vp;
		rd.has_session_closed = d->session_closed != NULL && !H.ps.p[0].vp;
		for (uint32_t op = 0; op < AR_OP_MAX; op++)
			rd.ops[op] = H.ps.nr_routes[op] != 0;
		snprintf(rd.name, sizeof(rd.name), "%s", d->name);
		snprintf(rd.version, sizeof(rd.version), "%s", d->version);
	}
	rd.pid = (uint32_t)getpid();
out:
	answer(&rd, sizeof(rd));
	if (rd.status)
		_exit(1);
	ar_debug("%s: serving", H.name);
	free(buf);
	serve_control();
}

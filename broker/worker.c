/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Workers: poll channels, run ops in plugins, post completions.
 *
 * One pass of a worker's loop, in this order:
 *   1. commands from the loop (channels added or removed);
 *   2. every channel: drain up to `batch` requests from its SQ, copying
 *      each out of shared memory before anything reads it, run them
 *      (consecutive same-type ops of one plugin as one batch if the plugin
 *      takes batches), post each group's completions and wake the client
 *      if it sleeps;
 *   3. if nothing was found: spin (yielding the CPU every few us) until
 *      spin_ns have passed without work, then raise NEED_WAKEUP on every
 *      SQ and sleep in the worker's io_uring on the channels' doorbells.
 *
 * A request is consumed only once its completion is sure to fit in the CQ
 * (SECURITY.md: "a completion slot is reserved before a submission is
 * consumed"): a client that never reaps its completions stops being
 * served, and costs the broker no memory.
 */
#include <errno.h>
#include <numa.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "internal.h"
#include "accelring/trace.h"

enum { CMD_ADD, CMD_REMOVE };
/* io_uring user_data tags, in a pointer's low bits. */
enum { TAG_DOORBELL = 1, TAG_CMD = 2, TAG_CANCEL = 3, TAG_MASK = 7 };

#define SPIN_YIELD_NS 5000u
/* Idle passes between clock reads while spinning. */
#define IDLE_CLOCK_PASSES 32u
#define ARENA_MIN (1u << 20)

struct cmd {
	int type;
	struct ar_channel *ch;
};

struct ar_worker {
	struct ar_broker *b;
	unsigned idx;
	int node;
	pthread_t thr;
	struct io_uring ring;
	int cmd_fd;
	uint64_t cmd_buf;
	bool cmd_armed;
	/* The command queue: the loop appends, the worker takes. */
	pthread_mutex_t lock;
	struct cmd *cmds;
	unsigned nr_cmds, cap_cmds;
	_Atomic bool cmd_pending;
	/* Worker-private from here on. */
	struct ar_channel **ch;
	unsigned nr_ch, cap_ch;
	unsigned nr_removing;		/* channels waiting for their read's CQE */
	struct ar_wire_enc *enc;
	uint8_t *copy;			/* this batch's private copies */
	size_t copy_cap;
	uint8_t *arena;			/* this batch's inline outputs */
	size_t arena_cap;
	struct ar_req *reqs;
	struct ar_op **ops;
};

int ar__worker_node(const struct ar_worker *w)
{
	return w->node;
}

/* ---- commands ---- */

static void push_cmd(struct ar_worker *w, int type, struct ar_channel *ch)
{
	pthread_mutex_lock(&w->lock);
	if (w->nr_cmds == w->cap_cmds) {
		unsigned cap = w->cap_cmds ? w->cap_cmds * 2 : 64;
		struct cmd *c = realloc(w->cmds, cap * sizeof(*c));

		if (!c) {
			/* Cannot queue: the loop must not lose a channel. */
			pthread_mutex_unlock(&w->lock);
			ar_err("worker %u: out of memory queueing a command", w->idx);
			abort();
		}
		w->cmds = c;
		w->cap_cmds = cap;
	}
	w->cmds[w->nr_cmds++] = (struct cmd){ type, ch };
	/* Release: the worker that sees the flag sees the command. */
	atomic_store_explicit(&w->cmd_pending, true, memory_order_release);
	pthread_mutex_unlock(&w->lock);
	ar__worker_kick(w);
}

void ar__worker_kick(struct ar_worker *w)
{
	(void)eventfd_write(w->cmd_fd, 1);
}

void ar__worker_add(struct ar_worker *w, struct ar_channel *ch)
{
	ch->worker = w;
	push_cmd(w, CMD_ADD, ch);
}

void ar__worker_remove(struct ar_worker *w, struct ar_channel *ch)
{
	push_cmd(w, CMD_REMOVE, ch);
}

static int grow(void **p, size_t *cap, size_t need)
{
	void *n;

	if (*cap >= need)
		return 0;
	n = aligned_alloc(64, (need + 63) & ~(size_t)63);
	if (!n)
		return -ENOMEM;
	free(*p);
	*p = n;
	*cap = need;
	return 0;
}

static struct io_uring_sqe *sqe_get(struct ar_worker *w)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);

	if (!sqe) {
		io_uring_submit(&w->ring);
		sqe = io_uring_get_sqe(&w->ring);
	}
	return sqe;
}

static void finish_remove(struct ar_worker *w, struct ar_channel *ch)
{
	w->nr_removing--;
	ar__conn_put(ch->conn);
}

static void do_add(struct ar_worker *w, struct ar_channel *ch)
{
	struct ar_conn *c = ch->conn;

	/* The batch buffers must hold a whole SQ of copies and the largest
	 * completion's inline outputs. */
	if (grow((void **)&w->copy, &w->copy_cap, ch->sq.g.bytes) ||
	    grow((void **)&w->arena, &w->arena_cap,
		 ch->cq.g.max_len > ARENA_MIN ? ch->cq.g.max_len : ARENA_MIN)) {
		ar__conn_poison(c, "broker out of memory for its channel", -ENOMEM);
		ar__conn_put(c);
		return;
	}
	if (w->nr_ch == w->cap_ch) {
		unsigned cap = w->cap_ch ? w->cap_ch * 2 : 16;
		struct ar_channel **n = realloc(w->ch, cap * sizeof(*n));

		if (!n) {
			ar__conn_poison(c, "broker out of memory for its channel", -ENOMEM);
			ar__conn_put(c);
			return;
		}
		w->ch = n;
		w->cap_ch = cap;
	}
	ch->slot = w->nr_ch;
	w->ch[w->nr_ch++] = ch;
	ar_debug("worker %u: serving conn %u channel %u", w->idx, c->id, ch->idx);
}

static void do_remove(struct ar_worker *w, struct ar_channel *ch)
{
	struct io_uring_sqe *sqe;

	/* Out of the polled set at once... */
	w->ch[ch->slot] = w->ch[--w->nr_ch];
	w->ch[ch->slot]->slot = ch->slot;
	ch->removing = true;
	w->nr_removing++;
	atomic_fetch_add_explicit(&w->b->ops_done, ch->ops, memory_order_relaxed);
	atomic_fetch_add_explicit(&w->b->ops_cancelled, ch->cancelled,
				  memory_order_relaxed);
	ar_debug("worker %u: conn %u channel %u: %llu ops, %llu cancelled",
		 w->idx, ch->conn->id, ch->idx, (unsigned long long)ch->ops,
		 (unsigned long long)ch->cancelled);
	/* ...but its memory stays until the io_uring no longer holds a read
	 * into ch->dbuf. */
	if (!ch->armed) {
		finish_remove(w, ch);
		return;
	}
	sqe = sqe_get(w);
	io_uring_prep_cancel(sqe, (void *)((uintptr_t)ch | TAG_DOORBELL), 0);
	io_uring_sqe_set_data(sqe, (void *)(uintptr_t)TAG_CANCEL);
	io_uring_submit(&w->ring);
}

static void take_cmds(struct ar_worker *w)
{
	struct cmd local[64];
	unsigned n;

	for (;;) {
		pthread_mutex_lock(&w->lock);
		n = w->nr_cmds < 64 ? w->nr_cmds : 64;
		if (n) {	/* w->cmds is NULL until the first command */
			memcpy(local, w->cmds, n * sizeof(*local));
			memmove(w->cmds, w->cmds + n, (w->nr_cmds - n) * sizeof(*local));
			w->nr_cmds -= n;
		}
		if (!w->nr_cmds)
			atomic_store_explicit(&w->cmd_pending, false,
					      memory_order_relaxed);
		pthread_mutex_unlock(&w->lock);
		for (unsigned i = 0; i < n; i++) {
			if (local[i].type == CMD_ADD)
				do_add(w, local[i].ch);
			else
				do_remove(w, local[i].ch);
		}
		if (n < 64)
			return;
	}
}

/* ---- the io_uring: doorbells and commands ---- */

static void arm(struct ar_worker *w)
{
	struct io_uring_sqe *sqe;

	for (unsigned i = 0; i < w->nr_ch; i++) {
		struct ar_channel *ch = w->ch[i];

		if (ch->armed || !(sqe = sqe_get(w)))
			continue;
		/* A read drains the eventfd as it completes, so a doorbell
		 * rung once wakes us once. */
		io_uring_prep_read(sqe, ch->doorbell, &ch->dbuf, sizeof(ch->dbuf), 0);
		io_uring_sqe_set_data(sqe, (void *)((uintptr_t)ch | TAG_DOORBELL));
		ch->armed = true;
	}
	if (!w->cmd_armed && (sqe = sqe_get(w))) {
		io_uring_prep_read(sqe, w->cmd_fd, &w->cmd_buf, sizeof(w->cmd_buf), 0);
		io_uring_sqe_set_data(sqe, (void *)((uintptr_t)w | TAG_CMD));
		w->cmd_armed = true;
	}
}

static void reap(struct ar_worker *w)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;

	io_uring_for_each_cqe(&w->ring, head, cqe) {
		uintptr_t ud = (uintptr_t)io_uring_cqe_get_data(cqe);
		void *p = (void *)(ud & ~(uintptr_t)TAG_MASK);

		n++;
		switch (ud & TAG_MASK) {
		case TAG_DOORBELL: {
			struct ar_channel *ch = p;

			ch->armed = false;
			if (ch->removing)
				finish_remove(w, ch);
			break;
		}
		case TAG_CMD:
			w->cmd_armed = false;
			break;
		default:
			break;
		}
	}
	io_uring_cq_advance(&w->ring, n);
}

static void sleep_until_doorbell(struct ar_worker *w)
{
	struct __kernel_timespec ts = { .tv_sec = 1 };
	struct io_uring_cqe *cqe;
	unsigned prepared = 0;
	bool idle = true;

	arm(w);
	io_uring_submit(&w->ring);
	for (; prepared < w->nr_ch; prepared++) {
		if (!ar_ring_sc_prepare_sleep(&w->ch[prepared]->sq)) {
			idle = false;
			break;
		}
	}
	if (idle && !atomic_load_explicit(&w->cmd_pending, memory_order_acquire) &&
	    !atomic_load_explicit(&w->b->draining, memory_order_relaxed))
		(void)io_uring_wait_cqe_timeout(&w->ring, &cqe, &ts);
	for (unsigned i = 0; i < prepared; i++)
		ar_ring_sc_finish_sleep(&w->ch[i]->sq);
	reap(w);
}

/* ---- requests ---- */

static void post(struct ar_worker *w, struct ar_channel *ch, struct ar_req *r)
{
	/* Not zeroed as a whole: the union is 2 KiB, and only the first
	 * nr_outputs outputs are read. */
	struct ar_wire_msg m;
	struct ar_wire_completion *c = &m.u.completion;
	const void *p;
	int64_t n;
	int ret;

	m.type = AR_WIRE_COMPLETION;
	c->id = r->id;
	c->status = r->status;
	c->value = r->value;
	c->nr_outputs = 0;
	c->nr_written = 0;
	if (r->status == 0) {
		c->nr_written = (uint32_t)ar__req_written(r, c->written);
		c->nr_outputs = r->nr_inline;
		for (uint32_t i = 0; i < r->nr_inline; i++) {
			uint64_t len = r->inline_out[i]->len;

			if (len > r->inline_cap[i])
				len = r->inline_cap[i];
			c->outputs[i] = (struct ar_wire_buf){
				.kind = AR_BUF_BYTES,
				.bytes = r->inline_out[i]->ptr, .len = len };
		}
	}
	n = ar_wire_encode(w->enc, &m, &p);
	if (n < 0) {
		ar_err("conn %u: cannot encode a completion: %s", ch->conn->id,
		       strerror((int)-n));
		return;
	}
	ret = ar_ring_sp_enqueue(&ch->cq, p, (uint32_t)n);
	if (ret) {
		/* Room was checked before the request was consumed: only a
		 * client that moved its CQ head, or flagged the CQ, gets here. */
		ar__conn_poison(ch->conn, "completion ring refused a completion", ret);
		return;
	}
	if (r->type == AR_WIRE_OP)
		AR_TRACE(completion_posted, ch->conn->tenant->id, ch->idx, r->id,
			 r->op.op, r->status);
	if (r->status == -ECANCELED)
		ch->cancelled++;
	else
		ch->ops++;
}

static void publish(struct ar_channel *ch)
{
	ar_ring_sp_publish(&ch->cq);
	if (ar_ring_sp_needs_wakeup(&ch->cq))
		(void)ar_ring_sp_wake(&ch->cq, &ch->cq_wait);
}

/* Sessions, routing and permission, before anything runs. */
static void prepare(struct ar_broker *b, struct ar_channel *ch, struct ar_req *r,
		    bool cancel)
{
	struct ar_tenant *t = ch->conn->tenant;

	if (cancel) {
		r->status = -ECANCELED;
		return;
	}
	if (r->status)
		return;
	switch (r->type) {
	case AR_WIRE_SESSION_OPEN: {
		int64_t id = ar__session_open(t, ch->conn->id, r->sess_flags);

		if (id < 0)
			r->status = (int32_t)id;
		else
			r->value = (uint64_t)id;
		return;
	}
	case AR_WIRE_SESSION_CLOSE:
		r->status = ar__session_close(t, r->op.session);
		return;
	}
	/* The channel caches its last session; a close anywhere bumps the
	 * tenant's generation and so invalidates it. */
	uint32_t gen = atomic_load_explicit(&t->gen, memory_order_acquire);

	if (ch->sess_id != r->op.session || ch->sess_gen != gen || !ch->sess_id) {
		if (ar__session_lookup(t, r->op.session, &ch->sess_flags)) {
			r->status = -EPERM;
			ar_debug("conn %u: op %s names session %u, not one of tenant %u's",
				 ch->conn->id, ar_op_name(r->op.op), r->op.session, t->id);
			return;
		}
		ch->sess_id = r->op.session;
		ch->sess_gen = gen;
	}
	r->op.session_flags = ch->sess_flags;
	r->op.tenant = t->id;
	r->route = ar__plugins_route(&b->plugins, r->op.op, ch->sess_flags);
	if (!r->route) {
		r->status = -ENOTSUP;
		ar_debug("conn %u: no plugin implements %s", ch->conn->id,
			 ar_op_name(r->op.op));
	}
}

static bool past_grace(struct ar_broker *b)
{
	return atomic_load_explicit(&b->draining, memory_order_acquire) &&
	       ar__now_ns() >= atomic_load_explicit(&b->drain_deadline_ns,
							   memory_order_relaxed);
}

/* Run reqs[0..n) and post their completions, group by group. */
static void run(struct ar_worker *w, struct ar_channel *ch, struct ar_req *reqs,
		unsigned n, bool cancel)
{
	struct ar_broker *b = w->b;
	uint32_t tid = ch->conn->tenant->id;
	unsigned i = 0, j;

	(void)tid;	/* only traces use it */
	for (unsigned k = 0; k < n; k++)
		prepare(b, ch, &reqs[k], cancel);
	while (i < n) {
		struct ar_req *r = &reqs[i];
		const struct ar_route *rt = r->route;

		j = i + 1;
		if (r->type == AR_WIRE_OP && !r->status) {
			/* A run of ops going to the same plugin function. */
			while (j < n && reqs[j].type == AR_WIRE_OP &&
			       !reqs[j].status && reqs[j].route == rt &&
			       reqs[j].op.op == r->op.op)
				j++;
			if (j - i > 1 && rt->plugin->desc->batch) {
				for (unsigned k = i; k < j; k++) {
					reqs[k].op.status = 0;
					w->ops[k - i] = &reqs[k].op;
					AR_TRACE(plugin_start, tid, ch->idx, reqs[k].id,
						 reqs[k].op.op, rt->plugin->desc->name);
				}
				rt->plugin->desc->batch(w->ops, j - i);
				for (unsigned k = i; k < j; k++) {
					reqs[k].status = reqs[k].op.status > 0 ?
						-reqs[k].op.status : reqs[k].op.status;
					AR_TRACE(plugin_end, tid, ch->idx, reqs[k].id,
						 reqs[k].op.op, reqs[k].status);
				}
			} else {
				/* One by one, each completion posted as soon as
				 * its op is done; past a shutdown's grace period
				 * the rest are cancelled. */
				for (unsigned k = i; k < j; k++) {
					int ret;

					AR_TRACE(plugin_start, tid, ch->idx, reqs[k].id,
						 reqs[k].op.op, rt->plugin->desc->name);
					ret = past_grace(b) ? -ECANCELED : rt->fn(&reqs[k].op);
					reqs[k].status = ret > 0 ? -ret : ret;
					AR_TRACE(plugin_end, tid, ch->idx, reqs[k].id,
						 reqs[k].op.op, reqs[k].status);
					post(w, ch, &reqs[k]);
					publish(ch);
				}
				i = j;
				continue;
			}
		}
		for (unsigned k = i; k < j; k++)
			post(w, ch, &reqs[k]);
		/* Completions go out as each group finishes. */
		publish(ch);
		i = j;
	}
}

/*
 * Drain up to `batch` requests from ch and run them. Returns how many.
 * cancel: complete them all with ECANCELED instead (the grace period of a
 * shutdown is over).
 */
static unsigned service(struct ar_worker *w, struct ar_channel *ch, bool cancel)
{
	struct ar_conn *c = ch->conn;
	struct ar_req_ctx ctx = {
		.data = c->data, .data_bytes = c->data_bytes,
		.arena = w->arena, .arena_cap = w->arena_cap,
		.max_inline = ch->cq.g.max_len,
		.report_writes = c->stream,
	};
	struct ar_tenant *t = c->tenant;
	struct ar_wire_msg m;	/* not zeroed: 2 KiB, and decode fills it */
	unsigned n = 0, batch = w->b->cfg.batch;
	size_t copied = 0;
	int64_t cq_free;
	uint64_t reserved = 0;
	uint32_t busy;
	bool limited;

	if (atomic_load_explicit(&c->poisoned, memory_order_relaxed))
		return 0;
	/* tenant-inflight, when set: take no more than the tenant may still
	 * run; what is left waits in its SQ. Relaxed: a worker that reads a
	 * stale count takes too little (it comes back) or, racing another
	 * worker's take, at most one batch too many. Unset, nothing is
	 * counted: no shared atomic on the op path. Cancelling (end of
	 * drain) ignores it. */
	limited = t->max_inflight && !cancel;
	if (limited) {
		busy = atomic_load_explicit(&t->inflight, memory_order_relaxed);
		if (busy >= t->max_inflight)
			return 0;
		if (batch > t->max_inflight - busy)
			batch = t->max_inflight - busy;
	}
	/* What the CQ had free when we last looked: reading the client's
	 * head again is a cache miss, paid only when this is not enough. */
	cq_free = (int64_t)ch->cq.g.bytes - ar_ring_sp_used(&ch->cq);
	while (n < batch) {
		struct ar_req *r = &w->reqs[n];
		struct ar_ring_rec rec;
		size_t mark = ctx.arena_used;
		uint64_t need;
		int ret = ar_ring_sc_peek(&ch->sq, &rec);

		if (ret == 0)
			break;
		if (ret < 0) {
			ar__conn_poison(c, "submission ring corrupt (tail or record header)", ret);
			break;
		}
		/* Copy, then verify and decode the copy only. The peek
		 * bounded rec.len by the ring's largest record, and a batch's
		 * copies together never exceed the SQ they came from. */
		memcpy(w->copy + copied, rec.data, rec.len);
		ret = ar__req_decode(w->copy + copied, rec.len, r, &m);
		if (ret) {
			ar__conn_poison(c, "undecodable request", ret);
			break;
		}
		/* A request left for the next pass (arena or CQ full) is
		 * traced again then: the last dequeue before plugin_start
		 * is the one that counts. */
		if (r->type == AR_WIRE_OP)
			AR_TRACE(broker_dequeue, t->id, ch->idx, r->id, r->op.op);
		ret = ar__req_resolve(&ctx, r, &m);
		if (ret == -ENOBUFS)
			break;
		if (r->type == AR_WIRE_OP)
			AR_TRACE(broker_decoded, t->id, ch->idx, r->id, r->op.op);
		/* The completion's room in the CQ, before consuming. */
		need = 2 * AR_REC_SIZE((uint64_t)r->cq_bound);
		if (reserved + need > (uint64_t)cq_free) {
			cq_free = ar_ring_sp_free(&ch->cq);
			if (cq_free < 0) {
				ar__conn_poison(c, "completion ring corrupt", (int)cq_free);
				break;
			}
			if (reserved + need > (uint64_t)cq_free) {
				/* Full: the client must reap first. */
				ctx.arena_used = mark;
				break;
			}
		}
		reserved += need;
		ar_ring_sc_consume(&ch->sq);
		copied += AR_REC_SIZE(rec.len);
		n++;
	}
	if (!n)
		return 0;
	if (limited)
		atomic_fetch_add_explicit(&t->inflight, n, memory_order_relaxed);
	run(w, ch, w->reqs, n, cancel);
	if (limited)
		atomic_fetch_sub_explicit(&t->inflight, n, memory_order_relaxed);
	/* Give the SQ bytes back only now: the copies are no longer read,
	 * but the client's view stays "in flight" until completions exist. */
	ar_ring_sc_release(&ch->sq);
	return n;
}

/* ---- the thread ---- */

static void *worker_main(void *arg)
{
	struct ar_worker *w = arg;
	struct ar_broker *b = w->b;
	uint64_t last_work = ar__now_ns(), last_yield = last_work;
	unsigned idle = 0;
	bool worked = false;

	if (b->nodes > 1)
		numa_run_on_node(w->node);
	for (;;) {
		unsigned work = 0;
		bool draining;
		uint64_t now;

		if (atomic_load_explicit(&w->cmd_pending, memory_order_acquire))
			take_cmds(w);
		if (w->nr_removing)
			reap(w);
		draining = atomic_load_explicit(&b->draining, memory_order_acquire);
		if (draining && ar__now_ns() >= atomic_load_explicit(&b->drain_deadline_ns,
							   memory_order_relaxed)) {
			/* Grace is over: whatever is queued is cancelled. */
			for (unsigned i = 0; i < w->nr_ch; i++)
				while (service(w, w->ch[i], true))
					;
			break;
		}
		for (unsigned i = 0; i < w->nr_ch; i++)
			work += service(w, w->ch[i], false);
		if (work) {
			/* The clock is read at the next idle check, not here:
			 * a clock read (~30 ns in a VM) after every batch
			 * delays noticing the next request. */
			worked = true;
			idle = 0;
			continue;
		}
		if (draining)
			break;	/* nothing queued anywhere: drained */
		if (++idle % IDLE_CLOCK_PASSES) {
			ar_cpu_relax();
			continue;
		}
		now = ar__now_ns();
		if (worked) {
			last_work = last_yield = now;
			worked = false;
		}
		if (now - last_work < b->cfg.spin_ns) {
			/* Spin, but give the CPU to a client sharing it now and
			 * then (PLATFORM.md: two busy pollers on one core). */
			if (now - last_yield >= SPIN_YIELD_NS) {
				sched_yield();
				last_yield = now;
			}
			continue;
		}
		sleep_until_doorbell(w);
		last_work = last_yield = ar__now_ns();
	}
	ar_debug("worker %u: exiting", w->idx);
	atomic_fetch_sub(&b->workers_running, 1);
	return NULL;
}

int ar__worker_start(struct ar_broker *b, unsigned idx, int node,
		     struct ar_worker **out)
{
	struct ar_worker *w = calloc(1, sizeof(*w));
	int ret;

	if (!w)
		return -ENOMEM;
	w->b = b;
	w->idx = idx;
	w->node = node;
	pthread_mutex_init(&w->lock, NULL);
	w->cmd_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	w->enc = ar_wire_enc_create();
	w->reqs = calloc(b->cfg.batch, sizeof(*w->reqs));
	w->ops = calloc(b->cfg.batch, sizeof(*w->ops));
	if (w->cmd_fd < 0 || !w->enc || !w->reqs || !w->ops) {
		ret = -ENOMEM;
		goto err;
	}
	ret = io_uring_queue_init(256, &w->ring, 0);
	if (ret)
		goto err;
	atomic_fetch_add(&b->workers_running, 1);
	ret = -pthread_create(&w->thr, NULL, worker_main, w);
	if (ret) {
		atomic_fetch_sub(&b->workers_running, 1);
		io_uring_queue_exit(&w->ring);
		goto err;
	}
	*out = w;
	return 0;
err:
	if (w->cmd_fd >= 0)
		close(w->cmd_fd);
	ar_wire_enc_destroy(w->enc);
	free(w->reqs);
	free(w->ops);
	free(w);
	return ret;
}

/* After the thread has exited: drop the channels it still held. */
void ar__worker_join(struct ar_worker *w)
{
	pthread_join(w->thr, NULL);
	take_cmds(w);
	while (w->nr_ch)
		do_remove(w, w->ch[w->nr_ch - 1]);
	while (w->nr_removing) {
		struct io_uring_cqe *cqe;

		if (io_uring_wait_cqe(&w->ring, &cqe))
			break;
		reap(w);
	}
	io_uring_queue_exit(&w->ring);
	close(w->cmd_fd);
	ar_wire_enc_destroy(w->enc);
	free(w->cmds);
	free(w->ch);
	free(w->copy);
	free(w->arena);
	free(w->reqs);
	free(w->ops);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Workers: poll channels, run ops in plugins, post completions.
 *
 * One pass of a worker's loop, in this order:
 *   1. commands from the loop (channels added or removed) and from rescued
 *      threads (channels handed back);
 *   2. every channel: drain up to `batch` requests from its SQ, copying
 *      each out of shared memory before anything reads it, run them
 *      (consecutive same-type ops of one plugin as one batch if the plugin
 *      takes batches), post each group's completions and wake the client
 *      if it sleeps;
 *   3. if nothing was found: spin (yielding the CPU every few us) until
 *      spin_ns have passed without work, then raise NEED_WAKEUP on every
 *      SQ and sleep in the worker's io_uring on the channels' doorbells.
 *
 * A channel that has had no request for DOZE_NS dozes: NEED_WAKEUP goes up
 * on its SQ alone and the passes skip it (without touching its memory)
 * until its doorbell rings, as if the worker slept for that channel only.
 * A pass then costs what the busy channels cost, not every channel of
 * every client: 64 processes with 4 channels each made 256 SQs to look at
 * per pass, and a quarter of the throughput of one channel each. A sweep
 * every SWEEP_NS finds the idle ones, and looks at each dozing tail once,
 * so that a doorbell never rung (a client that cleared the flag) costs
 * that client a sweep's delay, and nobody else anything.
 *
 * A request is consumed only once its completion is sure to fit in the CQ
 * (SECURITY.md: "a completion slot is reserved before a submission is
 * consumed"): a client that never reaps its completions stops being
 * served, and costs the broker no memory. Such a channel is parked: it is
 * not polled again until its CQ head moves (checked with one load per
 * pass) or its doorbell rings, and it does not keep the worker awake, so a
 * full CQ burns no CPU (SECURITY 23). The client learns of the park from
 * AR_RING_F_CQ_WAIT on its SQ and rings the doorbell once it made room.
 *
 * What one pass takes from a channel is bounded by the thread's own copy
 * buffer, never by what the tenant wrote: the ring's consumer bounds a
 * batch by the head it last released (ring.h, refill), and the copy loop
 * checks the buffer besides (SECURITY 20).
 *
 * Long ops (SECURITY 25). A worker serves many channels of many tenants
 * with one thread, which runs each op inline: the cheapest path for the
 * short ops the framework is for. An op that runs long would hold every
 * other channel of that worker behind it, so a watchdog thread looks at
 * each worker every millisecond, and a worker whose thread has been inside
 * one channel's ops for a whole tick is rescued: the thread keeps only that
 * channel (it finishes its batch, posts the completions, hands the channel
 * back through the command queue and exits), and a new thread takes over
 * the worker with buffers of its own. A tenant may hold at most
 * tenant-long-ops such threads at once; past that its channels wait in
 * their rings. This is the Go runtime's hand-off of a processor from a
 * thread blocked in a system call, applied to plugin calls.
 */
#include <errno.h>
#include <linux/futex.h>
#include <numa.h>
#include <sched.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "accelring/trace.h"

enum { CMD_ADD, CMD_REMOVE, CMD_RETURN };
/* io_uring user_data tags, in a pointer's low bits. */
enum { TAG_DOORBELL = 1, TAG_CMD = 2, TAG_CANCEL = 3, TAG_SRECV = 4, TAG_SSEND = 5,
       TAG_MASK = 7 };

#define SPIN_YIELD_NS 5000u
/* A channel idle this long dozes; idle channels are looked for this often
 * (and a working worker reads the clock every SWEEP_PASSES passes). */
#define DOZE_NS 1000000u
#define SWEEP_NS 250000u
#define SWEEP_PASSES 64u
/* A worker whose clients share its CPU moves at most this often. */
#define ASIDE_EVERY_NS 1000000u
/* Idle passes between clock reads while spinning. */
#define IDLE_CLOCK_PASSES 32u
#define ARENA_MIN (1u << 20)
/* How often the watchdog looks: an op is long after one to two ticks. */
#define WATCHDOG_TICK_NS 1000000u
/* A parked channel is looked at again at least this often while the
 * worker sleeps, for clients that do not ring the doorbell on CQ room. */
#define PARKED_RECHECK_NS 50000000u
/* At the end of a drain: how long to wait for rescued threads. */
#define LOAN_WAIT_NS 1000000000ull

/* w->run_seq: bit 0 while a thread is inside run() (plugins), RESCUED once
 * the watchdog took the worker from that thread. 64 bits: no wrap. */
#define RUN_IN 1ull
#define RUN_RESCUED (1ull << 63)

struct cmd {
	int type;
	struct ar_channel *ch;
};

/* The buffers one thread uses for one pass. A rescued thread keeps its
 * own (the requests it still has to finish point into them). */
struct batch {
	struct ar_wire_enc *enc;
	uint8_t *copy;			/* this batch's private copies */
	size_t copy_cap;
	uint8_t *arena;			/* this batch's inline outputs */
	size_t arena_cap;
	struct ar_req *reqs;
	struct ar_op **ops;
	uint64_t seq;			/* this thread's run_seq, even */
	bool rescued;			/* the worker is another thread's now */
};

struct ar_worker {
	struct ar_broker *b;
	unsigned idx;
	int node;
	pthread_mutex_t thr_lock;	/* thr */
	pthread_t thr;			/* the thread serving it now */
	struct io_uring ring;
	int cmd_fd;
	uint64_t cmd_buf;
	bool cmd_armed;
	/* The command queue: the loop appends, the worker takes. */
	pthread_mutex_t lock;
	struct cmd *cmds;
	unsigned nr_cmds, cap_cmds;
	_Atomic bool cmd_pending;
	/* The watchdog's view (see RUN_*). Written by the serving thread
	 * (release on entry, CAS on exit) and by the watchdog (CAS). */
	_Atomic uint64_t run_seq __attribute__((aligned(64)));
	_Atomic(struct ar_channel *) run_ch;	/* the channel inside run() */
	_Atomic bool asleep;			/* in its io_uring wait */
	_Atomic unsigned loaned;		/* channels with rescued threads */
	uint64_t wd_seen;			/* watchdog only: last run_seq */
	/* The last run_seq the watchdog saw inside run(): equal to the
	 * serving thread's, the batch running now has run across a tick
	 * (~1 ms) or close to one. Written by the watchdog, read by the
	 * serving thread (both relaxed: a hint, see publish()). */
	_Atomic uint64_t wd_saw;
	/* Serving-thread private from here on. */
	/* The channels: [0, nr_active) polled every pass, [nr_active,
	 * nr_ch) dozing (ch->slot is the index, ch->dozing the part). */
	struct ar_channel **ch __attribute__((aligned(64)));
	unsigned nr_ch, cap_ch, nr_active;
	unsigned nr_removing;		/* channels waiting for their read's CQE */
	unsigned nr_parked;		/* channels that wait for CQ room */
	uint64_t last_sweep;		/* ns */
	size_t need_copy, need_arena;	/* what its channels need of a batch */
	struct batch *detached;		/* ar__worker_detached() only */
	unsigned nr_stream;		/* stream channels: their I/O is ours */
};

int ar__worker_node(const struct ar_worker *w)
{
	return w->node;
}

/* ---- batches ---- */

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

static void batch_free(struct batch *bt)
{
	if (!bt)
		return;
	ar_wire_enc_destroy(bt->enc);
	free(bt->copy);
	free(bt->arena);
	free(bt->reqs);
	free(bt->ops);
	free(bt);
}

static struct batch *batch_new(struct ar_worker *w)
{
	struct batch *bt = calloc(1, sizeof(*bt));

	if (!bt)
		return NULL;
	bt->enc = ar_wire_enc_create();
	bt->reqs = calloc(w->b->cfg.batch, sizeof(*bt->reqs));
	bt->ops = calloc(w->b->cfg.batch, sizeof(*bt->ops));
	if (!bt->enc || !bt->reqs || !bt->ops ||
	    grow((void **)&bt->copy, &bt->copy_cap, w->need_copy) ||
	    grow((void **)&bt->arena, &bt->arena_cap, w->need_arena)) {
		batch_free(bt);
		return NULL;
	}
	return bt;
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
	if (type == CMD_RETURN) {
		/* A rescued thread's last touch of w: kick under the lock,
		 * since once the command is taken the worker may be freed
		 * (ar__worker_join). */
		ar__worker_kick(w);
		pthread_mutex_unlock(&w->lock);
		return;
	}
	pthread_mutex_unlock(&w->lock);
	ar__worker_kick(w);
}

void ar__worker_kick(struct ar_worker *w)
{
	/* Our own eventfd, never a tenant's: non-blocking, and a full
	 * counter (EAGAIN) means a wake-up is pending anyway. */
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

/* A removing channel's read, recv or send is over: the last one lets it go. */
static void io_over(struct ar_worker *w, struct ar_channel *ch)
{
	if (!--ch->io_pending)
		finish_remove(w, ch);
}

/* ---- stream channels: the peer's socket is served here (stream.c) ---- */

static void stream_recv(struct ar_worker *w, struct ar_channel *ch)
{
	if (!ar__stream_wants_recv(ch->conn))
		return;
	ar__stream_prep_recv(ch->conn, sqe_get(w), (void *)((uintptr_t)ch | TAG_SRECV));
	io_uring_submit(&w->ring);
}

/* Completions out to the peer (at once, or a send armed for the rest),
 * and a recv again if a full SQ had stopped it. */
static void stream_out(struct ar_worker *w, struct ar_channel *ch)
{
	if (ar__stream_flush(w->b, ch->conn) == 1) {
		ar__stream_prep_send(ch->conn, sqe_get(w), (void *)((uintptr_t)ch | TAG_SSEND));
		io_uring_submit(&w->ring);
	}
	stream_recv(w, ch);
}

static void ch_swap(struct ar_worker *w, unsigned i, unsigned j)
{
	struct ar_channel *t = w->ch[i];

	w->ch[i] = w->ch[j];
	w->ch[j] = t;
	w->ch[i]->slot = i;
	w->ch[j]->slot = j;
}

/* Into the polled set. */
static int set_add(struct ar_worker *w, struct ar_channel *ch)
{
	if (w->nr_ch == w->cap_ch) {
		unsigned cap = w->cap_ch ? w->cap_ch * 2 : 16;
		struct ar_channel **n = realloc(w->ch, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		w->ch = n;
		w->cap_ch = cap;
	}
	ch->slot = w->nr_ch;
	w->ch[w->nr_ch++] = ch;
	ch->dozing = false;
	ch_swap(w, ch->slot, w->nr_active++);
	if (ch->parked)
		w->nr_parked++;
	return 0;
}

/* Out of the channels, polled or dozing (a dozer's NEED_WAKEUP may stay
 * up: one needless doorbell from the client at most). */
static void set_del(struct ar_worker *w, struct ar_channel *ch)
{
	if (!ch->dozing)
		ch_swap(w, ch->slot, --w->nr_active);
	ch_swap(w, ch->slot, --w->nr_ch);
	ch->dozing = false;
	if (ch->parked)
		w->nr_parked--;
}

/*
 * Dozing. Raise NEED_WAKEUP on ch's SQ and move it out of the passes,
 * unless a request came meanwhile (ar_ring_sc_prepare_sleep() looks again
 * after the flag: F2, the client's publish then flag check being F1, so
 * either it rings or we see its request). Returns whether it dozes.
 */
static bool doze(struct ar_worker *w, struct ar_channel *ch)
{
	if (!ar_ring_sc_prepare_sleep(&ch->sq))
		return false;
	ch_swap(w, ch->slot, --w->nr_active);
	ch->dozing = true;
	ar_debug("worker %u: conn %u channel %u dozes", w->idx, ch->conn->id, ch->idx);
	return true;
}

/* Back into the passes: its doorbell rang, or its SQ has requests. */
static void wake_dozer(struct ar_worker *w, struct ar_channel *ch)
{
	ar_ring_sc_finish_sleep(&ch->sq);
	ch_swap(w, ch->slot, w->nr_active++);
	ch->dozing = false;
	ch->busy = true;
}

static void do_add(struct ar_worker *w, struct batch *bt, struct ar_channel *ch)
{
	struct ar_conn *c = ch->conn;
	size_t arena = ch->cq.g.max_len > ARENA_MIN ? ch->cq.g.max_len : ARENA_MIN;

	/* The batch buffers must hold a whole SQ of copies and the largest
	 * completion's inline outputs. */
	if (w->need_copy < ch->sq.g.bytes)
		w->need_copy = ch->sq.g.bytes;
	if (w->need_arena < arena)
		w->need_arena = arena;
	/* bt is NULL only at join, where every channel goes at once. */
	if ((bt && (grow((void **)&bt->copy, &bt->copy_cap, w->need_copy) ||
		    grow((void **)&bt->arena, &bt->arena_cap, w->need_arena))) ||
	    set_add(w, ch)) {
		ar__conn_poison(c, "broker out of memory for its channel", -ENOMEM);
		ar__conn_put(c);
		return;
	}
	ar_debug("worker %u: serving conn %u channel %u", w->idx, c->id, ch->idx);
	if (c->stream) {
		w->nr_stream++;
		if (bt)		/* not at join: it is removed at once */
			stream_recv(w, ch);
	}
}

/* Drop a channel that is out of the polled set. */
static void drop(struct ar_worker *w, struct ar_channel *ch)
{
	struct io_uring_sqe *sqe;

	ch->removing = true;
	w->nr_removing++;
	atomic_fetch_add_explicit(&w->b->ops_done, ch->ops, memory_order_relaxed);
	atomic_fetch_add_explicit(&w->b->ops_cancelled, ch->cancelled,
				  memory_order_relaxed);
	ar_debug("worker %u: conn %u channel %u: %llu ops, %llu cancelled",
		 w->idx, ch->conn->id, ch->idx, (unsigned long long)ch->ops,
		 (unsigned long long)ch->cancelled);
	if (ch->conn->stream) {
		bool recv, send;

		w->nr_stream--;
		ch->io_pending = (uint8_t)ar__stream_armed(ch->conn, &recv, &send);
		if (recv) {
			sqe = sqe_get(w);
			io_uring_prep_cancel(sqe, (void *)((uintptr_t)ch | TAG_SRECV), 0);
			io_uring_sqe_set_data(sqe, (void *)(uintptr_t)TAG_CANCEL);
		}
		if (send) {
			sqe = sqe_get(w);
			io_uring_prep_cancel(sqe, (void *)((uintptr_t)ch | TAG_SSEND), 0);
			io_uring_sqe_set_data(sqe, (void *)(uintptr_t)TAG_CANCEL);
		}
	} else {
		ch->io_pending = 0;
	}
	if (ch->armed) {
		ch->io_pending++;
		sqe = sqe_get(w);
		io_uring_prep_cancel(sqe, (void *)((uintptr_t)ch | TAG_DOORBELL), 0);
		io_uring_sqe_set_data(sqe, (void *)(uintptr_t)TAG_CANCEL);
	}
	if (!ch->io_pending) {
		finish_remove(w, ch);
		return;
	}
	io_uring_submit(&w->ring);
}

static void do_remove(struct ar_worker *w, struct ar_channel *ch)
{
	if (ch->loaned) {
		/* A rescued thread still runs its ops: dropped when it
		 * hands the channel back. */
		ch->remove_pending = true;
		return;
	}
	/* Out of the polled set at once; its memory stays until the
	 * io_uring holds no read into it (drop). */
	set_del(w, ch);
	drop(w, ch);
}

/* A rescued thread is done with ch: serve it again, or let it go. */
static void do_return(struct ar_worker *w, struct ar_channel *ch)
{

	ch->loaned = false;
	atomic_fetch_sub_explicit(&ch->conn->tenant->long_ops, 1, memory_order_relaxed);
	atomic_fetch_sub_explicit(&w->loaned, 1, memory_order_relaxed);
	if (ch->remove_pending) {
		ch->remove_pending = false;
		drop(w, ch);
		return;
	}
	if (set_add(w, ch))
		ar__conn_poison(ch->conn, "broker out of memory for its channel", -ENOMEM);
	else if (ch->conn->stream)
		stream_out(w, ch);	/* what the rescued thread completed */
}

static void take_cmds(struct ar_worker *w, struct batch *bt)
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
			switch (local[i].type) {
			case CMD_ADD:
				do_add(w, bt, local[i].ch);
				break;
			case CMD_REMOVE:
				do_remove(w, local[i].ch);
				break;
			default:
				do_return(w, local[i].ch);
				break;
			}
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
		 * rung once wakes us once. Only ever through the io_uring:
		 * the tenant holds this eventfd too and may have cleared
		 * its O_NONBLOCK, which a read(2) here would obey. */
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

	/* Completions waiting for our kernel entry (COOP_TASKRUN). */
	if (IO_URING_READ_ONCE(*w->ring.sq.kflags) & IORING_SQ_TASKRUN)
		(void)io_uring_get_events(&w->ring);

	io_uring_for_each_cqe(&w->ring, head, cqe) {
		uintptr_t ud = (uintptr_t)io_uring_cqe_get_data(cqe);
		void *p = (void *)(ud & ~(uintptr_t)TAG_MASK);

		n++;
		switch (ud & TAG_MASK) {
		case TAG_DOORBELL: {
			struct ar_channel *ch = p;

			ch->armed = false;
			if (ch->removing)
				io_over(w, ch);
			else if (ch->dozing)
				wake_dozer(w, ch);
			else
				ch->rung = true;
			break;
		}
		case TAG_CMD:
			w->cmd_armed = false;
			break;
		case TAG_SRECV:
		case TAG_SSEND: {
			struct ar_channel *ch = p;
			bool recv = (ud & TAG_MASK) == TAG_SRECV;

			if (ch->removing) {
				ar__stream_io_over(ch->conn, recv);
				io_over(w, ch);
				break;
			}
			if (!recv) {
				ar__stream_on_send(ch->conn, cqe->res);
				stream_out(w, ch);
				break;
			}
			/* Its requests are ours to read now: no doorbell. */
			if (ch->dozing)
				wake_dozer(w, ch);
			ar__stream_on_recv(w->b, ch->conn, cqe->res);
			stream_recv(w, ch);
			break;
		}
		default:
			break;
		}
	}
	io_uring_cq_advance(&w->ring, n);
}

/* Wake the watchdog if it parked because every worker slept. */
static void watchdog_poke(struct ar_broker *b)
{
	/* Seq_cst pairs with the watchdog's store of parked before it looks
	 * at asleep: either it sees us awake or we see it parked. */
	if (atomic_load(&b->wd_parked)) {
		atomic_fetch_add(&b->wd_gen, 1);
		syscall(SYS_futex, &b->wd_gen, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	}
}

static void sleep_until_doorbell(struct ar_worker *w)
{
	struct __kernel_timespec ts = { .tv_sec = 1 };
	struct io_uring_cqe *cqe;
	unsigned prepared = 0;
	bool idle = true;

	if (w->nr_parked || w->nr_stream) {
		/* A parked channel's recheck; stream peers' clocks (sweep). */
		ts.tv_sec = 0;
		ts.tv_nsec = PARKED_RECHECK_NS;
	}
	arm(w);
	io_uring_submit(&w->ring);
	/* The dozers have NEED_WAKEUP up already. */
	for (; prepared < w->nr_active; prepared++) {
		struct ar_channel *ch = w->ch[prepared];

		/* A parked channel has requests but no CQ room: they do not
		 * keep us awake (its doorbell, or the recheck, does). */
		if (ch->parked)
			continue;
		if (!ar_ring_sc_prepare_sleep(&ch->sq)) {
			idle = false;
			break;
		}
	}
	atomic_store(&w->asleep, true);
	if (idle && !atomic_load_explicit(&w->cmd_pending, memory_order_acquire) &&
	    !atomic_load_explicit(&w->b->draining, memory_order_relaxed))
		(void)io_uring_wait_cqe_timeout(&w->ring, &cqe, &ts);
	atomic_store(&w->asleep, false);
	watchdog_poke(w->b);
	for (unsigned i = 0; i < prepared; i++)
		if (!w->ch[i]->parked)
			ar_ring_sc_finish_sleep(&w->ch[i]->sq);
	reap(w);
}

/* ---- dozing: idle channels out of the passes ---- */

/* Every SWEEP_NS: idle channels doze, dozing ones with requests in their
 * SQ (a doorbell lost, or never rung) wake. Arms the doorbell reads of the
 * new dozers: one io_uring_submit() a sweep that dozed any. */
static void sweep(struct ar_worker *w, uint64_t now)
{
	bool dozed = false;

	if (now - w->last_sweep < SWEEP_NS)
		return;
	w->last_sweep = now;
	/* Stream peers that are slow, idle or stalled (stream.c). */
	for (unsigned i = 0; i < w->nr_ch && w->nr_stream; i++)
		if (w->ch[i]->conn->stream)
			ar__stream_tick(w->b, w->ch[i]->conn, now);
	/* Forward: a woken dozer swaps with the first dozer, seen already. */
	for (unsigned i = w->nr_active; i < w->nr_ch; i++) {
		struct ar_channel *ch = w->ch[i];

		if (ar_ring_sc_has_news(&ch->sq)) {
			ar_debug("worker %u: conn %u channel %u has requests but rang no doorbell",
				 w->idx, ch->conn->id, ch->idx);
			wake_dozer(w, ch);
		}
	}
	/* Backward: a dozer swaps with the last polled one, seen already. */
	for (unsigned i = w->nr_active; i-- > 0;) {
		struct ar_channel *ch = w->ch[i];

		if (ch->parked)
			continue;
		if (ch->busy) {
			ch->busy = false;
			ch->idle_since = now;
		} else if (now - ch->idle_since >= DOZE_NS && doze(w, ch)) {
			dozed = true;
		}
	}
	if (dozed) {
		arm(w);
		io_uring_submit(&w->ring);
	}
}

/* ---- requests ---- */

static void post(struct batch *bt, struct ar_channel *ch, struct ar_req *r)
{
	/* Not zeroed as a whole: the union is 2 KiB, and only the first
	 * nr_outputs outputs are read. */
	struct ar_wire_msg m;
	struct ar_wire_completion *c = &m.u.completion;
	const void *p;
	int64_t n;
	int ret;

	/* The op is over: the resource it held may go. */
	if (r->res) {
		ar__res_put(r->res);
		r->res = NULL;
	}
	m.type = AR_WIRE_COMPLETION;
	c->id = r->id;
	c->status = r->status;
	c->value = r->value;
	c->nr_outputs = 0;
	c->nr_written = 0;
	c->message = r->status && r->why[0] ? r->why : NULL;
	if (c->message)
		ar_refusal("conn %u (%s): %s refused (%s): %s", ch->conn->id, ch->conn->peer,
			r->type == AR_WIRE_OP ? ar_op_name(r->op.op) :
			r->type == AR_WIRE_RES_REGISTER ? "resource register" :
							  "resource unregister",
			strerror(-r->status), r->why);
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
	n = ar_wire_encode(bt->enc, &m, &p);
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

/*
 * Move this thread off `cpu` to another it may run on, and allow it every
 * one of those again (the allowed set is read each time: numa_run_on_node(),
 * cpusets, taskset; a broker pinned to one CPU stays). Once a client and
 * its worker share a CPU while another idles, the scheduler keeps them
 * there: each wake-up of the client from the worker's pipe write is a
 * synchronous one, placed on the waker's CPU, and neither a running
 * cache-hot thread nor one woken while the CPUs' utilisation is high
 * (SIS_UTIL) is moved to the idle CPU. Each op then costs a sleep and a
 * wake-up on one CPU (~8 us here) instead of two spins on two. At most
 * once a millisecond per thread, so that two clients on two CPUs cannot
 * make a worker chase them.
 */
static bool step_aside(int cpu)
{
	static __thread uint64_t last;
	cpu_set_t all, other;
	uint64_t now = ar__now_ns();

	if (last && now - last < ASIDE_EVERY_NS)
		return false;
	last = now;
	if (sched_getaffinity(0, sizeof(all), &all))
		return false;
	other = all;
	CPU_CLR(cpu, &other);
	if (!CPU_COUNT(&other) || sched_setaffinity(0, sizeof(other), &other))
		return false;
	(void)sched_setaffinity(0, sizeof(all), &all);
	ar_debug("worker thread: moved off CPU %d, where a client waits for it", cpu);
	return true;
}

/* Whether the batch w's thread runs now has been running long: the
 * watchdog saw it inside run() (a rescued thread's loan is long anyway). */
static bool running_long(struct ar_worker *w, const struct batch *bt)
{
	return !w || atomic_load_explicit(&w->wd_saw, memory_order_relaxed) == (bt->seq | RUN_IN);
}

static void publish(struct ar_channel *ch, bool long_op)
{
	int cpu = sched_getcpu();

	ar_ring_sp_publish(&ch->cq);
	/* The wake-up fd is the broker's own end (conn.c): a write never
	 * blocks, and a full one means the client has a wake-up pending. */
	if (ar_ring_sp_needs_wakeup(&ch->cq))
		(void)ar_ring_sp_wake(&ch->cq, &ch->cq_wait);
	/* A client that submitted from our CPU waits there, yielding to us
	 * (client.c wait_cq()): move, and the pair spins on two CPUs. Not
	 * after a long op, which the client slept through: it took nothing
	 * from us, and moving would put us next to whatever ran on the other
	 * CPU meanwhile (OpenBLAS's helper: sgemm 1024 went from 1.00x to
	 * 1.3x in process). */
	if (!long_op && ar_ring_sc_peer_here(&ch->sq, cpu) && step_aside(cpu))
		cpu = sched_getcpu();
	/* For the client deciding how to wait (abi.h prod_cpu). */
	ar_ring_sp_note_cpu(&ch->cq, cpu);
}

/* A ResourceRegister or Unregister, decoded again from its copy (the
 * batch's first decode kept only its id). Registering hashes the content:
 * a long op, which the watchdog rescues the channel from like any other. */
static void res_request(struct ar_channel *ch, struct ar_req *r)
{
	struct ar_wire_msg m;

	if (ar_wire_decode(r->copy, r->copy_len, &m)) {
		r->status = -EINVAL;
		return;
	}
	if (m.type == AR_WIRE_RES_REGISTER)
		r->status = ar__res_register(ch->conn, &m.u.res_register, &r->value,
					     r->why, sizeof(r->why));
	else
		r->status = ar__res_unregister(ch->conn->tenant, m.u.res_unregister.session,
					       m.u.res_unregister.resource, r->why,
					       sizeof(r->why));
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
	case AR_WIRE_RES_REGISTER:
	case AR_WIRE_RES_UNREGISTER:
		res_request(ch, r);
		return;
	}
	/* The channel caches its last session; a close anywhere bumps the
	 * tenant's generation and so invalidates it. */
	uint32_t gen = atomic_load_explicit(&t->gen, memory_order_acquire);

	if (ch->sess_id != r->op.session || ch->sess_gen != gen || !ch->sess_id) {
		if (ar__session_lookup(t, r->op.session, &ch->sess_flags)) {
			r->status = -EPERM;
			ar_refusal("conn %u (%s): %s refused (EPERM): session %u is not one of "
				   "tenant %u's", ch->conn->id, ch->conn->peer,
				   ar_op_name(r->op.op), r->op.session, t->id);
			return;
		}
		ch->sess_id = r->op.session;
		ch->sess_gen = gen;
	}
	r->op.session_flags = ch->sess_flags;
	r->op.tenant = t->id;
	r->conn = ch->conn;
	r->route = ar__plugins_route(&b->plugins, r->op.op, ch->sess_flags);
	if (!r->route) {
		r->status = -ENOTSUP;
		ar_refusal("conn %u (%s): %s refused (ENOTSUP): no plugin loaded implements it",
			   ch->conn->id, ch->conn->peer, ar_op_name(r->op.op));
		return;
	}
	/* An op on a resource gets it held, if the session registered it. */
	if (r->res_id) {
		r->res = ar__res_get(t, r->op.session, r->res_id, r->why, sizeof(r->why));
		if (!r->res)
			r->status = -EPERM;
		else
			r->op.u.generic.resource = ar__res_pub(r->res);
	}
}

static bool past_grace(struct ar_broker *b)
{
	return atomic_load_explicit(&b->draining, memory_order_acquire) &&
	       ar__now_ns() >= atomic_load_explicit(&b->drain_deadline_ns,
							   memory_order_relaxed);
}

/* A thread about to wait in the coalescer hands its worker over first
 * (as the watchdog would after a tick): the worker's other channels are
 * served, and may join, meanwhile. */
struct handoff {
	struct ar_worker *w;
	uint64_t seq;
};

static void rescue(struct ar_broker *b, struct ar_worker *w, uint64_t seq);

static void hand_off(void *arg)
{
	struct handoff *h = arg;

	/* Once: a second join of the same pass finds the worker gone
	 * (rescue()'s CAS fails on RUN_RESCUED, and nothing is undone). */
	if (h->w && !(atomic_load_explicit(&h->w->run_seq, memory_order_relaxed) &
		      RUN_RESCUED))
		rescue(h->w->b, h->w, h->seq);
}

/* reqs[0..n): ops of one route and op that may be coalesced. Each joins
 * the group of its key with the consecutive ops sharing it, as many rows
 * as batch-max; an op with more rows runs alone. */
static void run_coalesced(struct ar_broker *b, struct ar_worker *w, struct batch *bt,
			  struct ar_channel *ch, struct ar_req *reqs, unsigned n)
{
	struct handoff h = { w, w ? atomic_load_explicit(&w->run_seq,
							 memory_order_relaxed) : 0 };
	uint32_t tid = ch->conn->tenant->id;
	unsigned i = 0;

	(void)tid;	/* only traces use it */
	uint64_t max = ar__coalesce_rows(b->coal);

	for (unsigned m = 0; m < n; m++)
		AR_TRACE(plugin_start, tid, ch->idx, reqs[m].id, reqs[m].op.op,
			 reqs[m].route->plugin->desc->name);
	while (i < n) {
		struct ar_coalesce_key k, k2;
		uint64_t rows, r2;
		unsigned j = i + 1;

		if (!ar__coalesce_key(reqs[i].route, &reqs[i].op, &k, &rows) || rows > max) {
			/* Alone: no key, or more rows than a call takes. */
			reqs[i].op.status = ar__route_run(reqs[i].route, &reqs[i].op);
		} else {
			/* With the next ops of the same key, as many rows
			 * as one call takes. */
			while (j < n && ar__coalesce_key(reqs[j].route, &reqs[j].op, &k2, &r2) &&
			       !memcmp(&k, &k2, sizeof(k)) && rows + r2 <= max) {
				rows += r2;
				j++;
			}
			for (unsigned m = i; m < j; m++)
				bt->ops[m - i] = &reqs[m].op;
			ar__coalesce_run(b->coal, &k, bt->ops, j - i, rows,
					 w ? hand_off : NULL, &h);
		}
		for (unsigned m = i; m < j; m++) {
			int ret = reqs[m].op.status;

			reqs[m].status = ret > 0 ? -ret : ret;
			AR_TRACE(plugin_end, tid, ch->idx, reqs[m].id, reqs[m].op.op,
				 reqs[m].status);
		}
		i = j;
	}
}

/* Run reqs[0..n) and post their completions, group by group. w: the
 * worker whose thread runs them, NULL for a rescued thread's loan. */
static void run(struct ar_broker *b, struct ar_worker *w, struct batch *bt,
		struct ar_channel *ch, struct ar_req *reqs, unsigned n, bool cancel)
{
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
			if (b->coal && (ar_op_lookup(r->op.op)->flags & AR_OPF_COALESCE) &&
			    ar__route_can_batch(rt) && !past_grace(b)) {
				run_coalesced(b, w, bt, ch, reqs + i, j - i);
			} else if (j - i > 1 && ar__route_can_batch(rt)) {
				for (unsigned k = i; k < j; k++) {
					reqs[k].op.status = 0;
					bt->ops[k - i] = &reqs[k].op;
					AR_TRACE(plugin_start, tid, ch->idx, reqs[k].id,
						 reqs[k].op.op, rt->plugin->desc->name);
				}
				ar__route_batch(rt, bt->ops, j - i);
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
					ret = past_grace(b) ? -ECANCELED :
					      ar__route_run(rt, &reqs[k].op);
					reqs[k].status = ret > 0 ? -ret : ret;
					AR_TRACE(plugin_end, tid, ch->idx, reqs[k].id,
						 reqs[k].op.op, reqs[k].status);
					post(bt, ch, &reqs[k]);
					publish(ch, running_long(w, bt));
				}
				i = j;
				continue;
			}
		}
		for (unsigned k = i; k < j; k++)
			post(bt, ch, &reqs[k]);
		/* Completions go out as each group finishes. */
		publish(ch, running_long(w, bt));
		i = j;
	}
}

/*
 * run() as the watchdog sees it: the thread enters (release: the watchdog
 * that sees RUN_IN sees the worker as this thread left it, and so does the
 * thread it starts) and leaves with a CAS, which fails only if the
 * watchdog rescued the worker meanwhile (its CAS set RUN_RESCUED): then
 * the worker is another thread's, and this one keeps only ch.
 */
static void run_watched(struct ar_worker *w, struct batch *bt,
			struct ar_channel *ch, unsigned n, bool cancel)
{
	uint64_t in = bt->seq | RUN_IN;

	atomic_store_explicit(&w->run_ch, ch, memory_order_relaxed);
	atomic_store_explicit(&w->run_seq, in, memory_order_release);
	run(w->b, w, bt, ch, bt->reqs, n, cancel);
	if (atomic_compare_exchange_strong_explicit(&w->run_seq, &in, bt->seq + 2,
						    memory_order_acq_rel,
						    memory_order_acquire))
		bt->seq += 2;
	else
		bt->rescued = true;
}

/* Whether ch may be served now: its CQ had no room at the last look and
 * still has none (one load of the client's head), or its tenant is at a
 * limit. A parked channel is skipped without touching its SQ. */
static bool parked_still(struct ar_worker *w, struct ar_channel *ch)
{
	if (!ch->parked)
		return false;
	if (!ch->rung && ar_load_relaxed(&ch->cq.g.ctl->cons_head) == ch->park_head)
		return true;
	ch->parked = false;
	ch->rung = false;
	/* Only channels of the set park (a loan is never parked). */
	w->nr_parked--;
	/* Clear the request for a doorbell; a stale flag would cost the
	 * client one extra doorbell at most. */
	ar_store_relaxed(&ch->sq.g.ctl->flags,
			 ar_load_relaxed(&ch->sq.g.ctl->flags) & ~AR_RING_F_CQ_WAIT);
	return false;
}

/* The CQ cannot take the next completion: park ch until the client makes
 * room. Returns true if it is parked, false if room appeared meanwhile. */
static bool park_on_cq(struct ar_worker *w, struct ar_channel *ch)
{
	/* The head that left no room (the last ar_ring_sp_free() read). */
	uint32_t seen = ch->cq.head_cache;
	uint32_t f = ar_load_relaxed(&ch->sq.g.ctl->flags);

	ar_store_relaxed(&ch->sq.g.ctl->flags, f | AR_RING_F_CQ_WAIT);
	/* F4: pairs with F3 in ar_ring_sp_cq_wait(): our flag store before
	 * our look at the CQ head, the client's head store before its look
	 * at the flag. So a client that missed the flag made its room
	 * before this load, and we see it. */
	ar_smp_mb();
	if (ar_load_relaxed(&ch->cq.g.ctl->cons_head) != seen) {
		ar_store_relaxed(&ch->sq.g.ctl->flags, f & ~AR_RING_F_CQ_WAIT);
		return false;
	}
	ch->park_head = seen;
	ch->parked = true;
	ch->rung = false;
	w->nr_parked++;
	return true;
}

/*
 * Drain up to `batch` requests from ch and run them. Returns how many.
 * cancel: complete them all with ECANCELED instead (the grace period of a
 * shutdown is over). w is NULL for a rescued thread serving its loan.
 */
static unsigned service(struct ar_worker *w, struct ar_worker *owner,
			struct batch *bt, struct ar_channel *ch, bool cancel)
{
	struct ar_conn *c = ch->conn;
	struct ar_req_ctx ctx = {
		.data = c->data, .data_bytes = c->data_bytes,
		.arena = bt->arena, .arena_cap = bt->arena_cap,
		.max_inline = ch->cq.g.max_len,
		.report_writes = c->stream,
	};
	struct ar_tenant *t = c->tenant;
	struct ar_wire_msg m;	/* not zeroed: 2 KiB, and decode fills it */
	unsigned n = 0, batch = owner->b->cfg.batch;
	size_t copied = 0;
	int64_t cq_free;
	uint64_t reserved = 0;
	uint32_t busy;
	bool limited, full = false;

	if (atomic_load_explicit(&c->poisoned, memory_order_relaxed))
		return 0;
	if (!cancel && w && parked_still(w, ch))
		return 0;
	/* tenant-long-ops: a tenant with that many ops on rescued threads
	 * starts no more until one ends; its requests wait in its rings. */
	if (!cancel && t->max_long_ops &&
	    atomic_load_explicit(&t->long_ops, memory_order_relaxed) >= t->max_long_ops)
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
		struct ar_req *r = &bt->reqs[n];
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
		 * bounded rec.len by the ring's largest record and the batch
		 * by the head we last released (at most one SQ); the copy
		 * buffer holds an SQ, and is checked all the same: what one
		 * pass takes is bounded by our buffer, whatever the tail. */
		if (AR_REC_SIZE(rec.len) > bt->copy_cap - copied)
			break;
		memcpy(bt->copy + copied, rec.data, rec.len);
		ret = ar__req_decode(bt->copy + copied, rec.len, r, &m);
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
		if (ret == -ENOBUFS) {
			/* Alone in an empty arena the outputs always fit
			 * (request.c refuses larger ones with EMSGSIZE):
			 * anything else would wedge the channel. */
			if (!n)
				ar__conn_poison(c, "request outputs larger than the arena", ret);
			break;
		}
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
				full = true;
				break;
			}
		}
		reserved += need;
		ar_ring_sc_consume(&ch->sq);
		copied += AR_REC_SIZE(rec.len);
		n++;
	}
	if (n) {
		ch->busy = true;
		if (limited)
			atomic_fetch_add_explicit(&t->inflight, n, memory_order_relaxed);
		if (w)
			run_watched(w, bt, ch, n, cancel);
		else
			run(owner->b, NULL, bt, ch, bt->reqs, n, cancel);
		if (limited)
			atomic_fetch_sub_explicit(&t->inflight, n, memory_order_relaxed);
	}
	/* Give the SQ bytes back only now: the copies are no longer read,
	 * but the client's view stays "in flight" until completions exist. */
	ar_ring_sc_release(&ch->sq);
	/* Nothing could be taken for want of CQ room: park (our own
	 * completions above may have filled it, so only when none went). */
	if (full && !n && w && !bt->rescued)
		park_on_cq(w, ch);
	return n;
}

/* Passes that cancel what an SQ can hold at most: past the grace, a
 * tenant that keeps refilling its ring must not keep the broker from
 * stopping. */
static unsigned cancel_passes(const struct ar_broker *b, const struct ar_channel *ch)
{
	return ch->sq.g.bytes / AR_REC_ALIGN / b->cfg.batch;
}

/* ---- rescued threads ---- */

/*
 * The thread the watchdog took a worker from, once its run() returned:
 * it owns only ch now. Serve ch until it has nothing more (its tenant's
 * ops are its own business: they no longer hold anyone else), then hand
 * it back and exit. Nothing of the worker is touched but the command
 * queue and the loan count.
 */
static void serve_loan(struct ar_worker *w, struct batch *bt, struct ar_channel *ch)
{
	/* service(NULL, ...): no parking, no watching; a CQ without room
	 * ends the loan (the worker parks the channel if so). */
	for (unsigned k = 0; service(NULL, w, bt, ch, past_grace(w->b)); k++)
		if (past_grace(w->b) && k > cancel_passes(w->b, ch))
			break;	/* refilled as fast as we cancel: stop */
	push_cmd(w, CMD_RETURN, ch);
}

/* ---- the thread ---- */

/*
 * A thread taking over from a rescued one: the stream recvs and sends that
 * thread armed are its own (io_uring completes a request in its
 * submitter's context, and with COOP_TASKRUN only when that thread next
 * enters the kernel: at its next tick while it runs a plugin, up to ~4 ms
 * later). Cancel them now, while its op still runs, and arm them again
 * from here (their -ECANCELED completions do that), so that none of the
 * peers waits for the old thread afterwards: sgemm 1024 over TCP went 17.5
 * -> 23-28 ms an op when the next request's recv was left to it.
 */
static void take_over_streams(struct ar_worker *w, struct ar_channel *loaned)
{
	bool any = false;

	for (unsigned i = 0; i <= w->nr_ch && w->nr_stream; i++) {
		struct ar_channel *ch = i < w->nr_ch ? w->ch[i] : loaned;
		bool recv, send;

		if (!ch || !ch->conn->stream || !ar__stream_armed(ch->conn, &recv, &send))
			continue;
		for (int k = 0; k < 2; k++) {
			struct io_uring_sqe *sqe;

			if (!(k ? send : recv))
				continue;
			sqe = sqe_get(w);
			io_uring_prep_cancel(sqe, (void *)((uintptr_t)ch | (k ? TAG_SSEND : TAG_SRECV)),
					     0);
			io_uring_sqe_set_data(sqe, (void *)(uintptr_t)TAG_CANCEL);
			any = true;
		}
	}
	if (any)
		io_uring_submit(&w->ring);
}

/* Stopping: whether a stream peer still has completions to get (its
 * sends are ours), moving them along. */
static bool streams_pending(struct ar_worker *w)
{
	bool any = false;

	for (unsigned i = 0; i < w->nr_ch && w->nr_stream; i++) {
		struct ar_channel *ch = w->ch[i];

		if (!ch->conn->stream)
			continue;
		stream_out(w, ch);
		any |= ar__stream_out_pending(ch->conn);
	}
	return any;
}

/* Before a stopping worker ends: stream peers get what was completed for
 * them, for at most FLUSH_NS. Returns whether to go on (and flush more). */
static bool flush_before_exit(struct ar_worker *w, uint64_t *end)
{
	const struct timespec ms = { .tv_nsec = 1000000 };
	uint64_t now = ar__now_ns();

	if (!*end)
		*end = now + FLUSH_NS;
	if (now >= *end || !streams_pending(w))
		return false;
	nanosleep(&ms, NULL);
	reap(w);
	return true;
}

struct start {
	struct ar_worker *w;
	struct ar_channel *loaned;	/* taken from the set: serve it not */
	bool gated;			/* wait for the watchdog's word */
	bool proceed;			/* its word: take over, or exit */
	sem_t go;
};

static void *worker_main(void *arg)
{
	struct start *st = arg;
	struct ar_worker *w = st->w;
	struct ar_broker *b;
	uint64_t last_work = ar__now_ns(), last_yield = last_work, flush_end = 0;
	unsigned idle = 0, busy_passes = 0;
	bool worked = false;
	struct batch *bt;

	/* Nothing of w is touched before the gate opens: a thread told not
	 * to proceed may outlive the worker. */
	if (st->gated) {
		/* The watchdog starts us before it takes the worker, so that
		 * the take never has to be undone. */
		sem_wait(&st->go);
		if (!st->proceed) {
			sem_destroy(&st->go);
			free(st);
			return NULL;
		}
		sem_destroy(&st->go);
	}
	b = w->b;
	if (b->nodes > 1)
		numa_run_on_node(w->node);
	bt = batch_new(w);
	if (!bt) {
		/* No memory for a new thread's buffers: nothing to do but
		 * say so; the channels stay listed and the rescued thread
		 * hands its own back to nobody. */
		ar_err("worker %u: out of memory for a batch: worker stops", w->idx);
		free(st);
		atomic_fetch_sub(&b->workers_running, 1);
		return NULL;
	}
	bt->seq = (atomic_load(&w->run_seq) & ~(RUN_RESCUED | RUN_IN)) + 2;
	atomic_store_explicit(&w->run_seq, bt->seq, memory_order_relaxed);
	if (st->loaned) {
		/* The previous thread keeps this one until it is done. */
		set_del(w, st->loaned);
		st->loaned->loaned = true;
		take_over_streams(w, st->loaned);
	}
	free(st);
	for (;;) {
		unsigned work = 0;
		bool draining;
		uint64_t now;

		if (atomic_load_explicit(&w->cmd_pending, memory_order_acquire))
			take_cmds(w, bt);
		if (w->nr_removing || w->nr_parked || w->nr_active < w->nr_ch || w->nr_stream)
			reap(w);
		draining = atomic_load_explicit(&b->draining, memory_order_acquire);
		if (draining && ar__now_ns() >= atomic_load_explicit(&b->drain_deadline_ns,
							   memory_order_relaxed)) {
			/* Grace is over: whatever is queued is cancelled. */
			for (unsigned i = 0; i < w->nr_ch; i++) {
				struct ar_channel *ch = w->ch[i];

				for (unsigned k = 0; k <= cancel_passes(b, ch) &&
				     service(w, w, bt, ch, true) && !bt->rescued; k++)
					;
				if (bt->rescued) {
					serve_loan(w, bt, ch);
					goto rescued;
				}
			}
			/* A rescued thread cancels what its channel still
			 * holds and hands it back; wait a little for that, so
			 * that the loop sends stream peers those completions
			 * too. An op that runs on is not waited for long. */
			if (atomic_load(&w->loaned) &&
			    ar__now_ns() < atomic_load(&b->drain_deadline_ns) + LOAN_WAIT_NS) {
				const struct timespec ms = { .tv_nsec = 1000000 };

				nanosleep(&ms, NULL);
				continue;
			}
			if (flush_before_exit(w, &flush_end))
				continue;
			break;
		}
		for (unsigned i = 0; i < w->nr_active; i++) {
			struct ar_channel *ch = w->ch[i];

			unsigned n = service(w, w, bt, ch, false);

			if (bt->rescued) {
				serve_loan(w, bt, ch);
				goto rescued;
			}
			if (n && ch->conn->stream)
				stream_out(w, ch);
			work += n;
		}
		if (work) {
			/* The clock is read at the next idle check, not here:
			 * a clock read (~30 ns in a VM) after every batch
			 * delays noticing the next request. */
			worked = true;
			idle = 0;
			if (!(++busy_passes % SWEEP_PASSES))
				sweep(w, ar__now_ns());
			continue;
		}
		if (draining) {
			const struct timespec ms = { .tv_nsec = 1000000 };

			if (!atomic_load(&w->loaned)) {
				if (flush_before_exit(w, &flush_end))
					continue;
				break;	/* nothing queued anywhere: drained */
			}
			/* A rescued thread still finishes its channel and
			 * hands it back (and the grace may end meanwhile). */
			nanosleep(&ms, NULL);
			continue;
		}
		if (++idle % IDLE_CLOCK_PASSES) {
			ar_cpu_relax();
			continue;
		}
		now = ar__now_ns();
		sweep(w, now);
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
	batch_free(bt);
	atomic_fetch_sub(&b->workers_running, 1);
	return NULL;
rescued:
	/* The worker is another thread's; this one is done. */
	batch_free(bt);
	return NULL;
}

/* Start a thread for w. With gate, it waits for *gate's word first
 * (gate_open()). */
static int start_thread(struct ar_worker *w, struct ar_channel *loaned,
			pthread_t *thr, struct start **gate)
{
	struct start *st = calloc(1, sizeof(*st));
	int ret;

	if (!st)
		return -ENOMEM;
	st->w = w;
	st->loaned = loaned;
	st->gated = gate != NULL;
	if (st->gated && sem_init(&st->go, 0, 0)) {
		free(st);
		return -errno;
	}
	ret = -pthread_create(thr, NULL, worker_main, st);
	if (ret) {
		if (st->gated)
			sem_destroy(&st->go);
		free(st);
		return ret;
	}
	if (gate)
		*gate = st;
	return 0;
}

static void gate_open(struct start *st, bool proceed)
{
	st->proceed = proceed;
	sem_post(&st->go);	/* the thread owns st from here */
}

/* ---- the watchdog ---- */

/* Take w from its thread, stuck in run() with seq seen a tick ago. */
static void rescue(struct ar_broker *b, struct ar_worker *w, uint64_t seq)
{
	struct ar_channel *ch;
	struct ar_tenant *t;
	struct start *gate = NULL;
	pthread_t old, thr;

	/* The new thread first, waiting: without one the stuck thread
	 * simply keeps the worker, and nothing needs undoing. */
	if (start_thread(w, NULL, &thr, &gate)) {
		ar_warn("worker %u: cannot start a thread to take over from a long op", w->idx);
		return;
	}
	/* The thread is inside run() for ch while the CAS succeeds: it can
	 * only leave through its own CAS, which now fails. Until then the
	 * channel (and its connection and tenant) may be gone: nothing of it
	 * is read before. */
	if (!atomic_compare_exchange_strong_explicit(&w->run_seq, &seq, seq | RUN_RESCUED,
						    memory_order_acq_rel,
						    memory_order_relaxed)) {
		gate_open(gate, false);
		pthread_detach(thr);
		return;
	}
	/* Stored before that run's RUN_IN (release), which our CAS read. */
	ch = atomic_load_explicit(&w->run_ch, memory_order_relaxed);
	t = ch->conn->tenant;
	/* Counted before the new thread runs: it gives both back when the
	 * stuck thread hands the channel back (do_return). */
	atomic_fetch_add_explicit(&t->long_ops, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&w->loaned, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&b->rescues, 1, memory_order_relaxed);
	ar_debug("worker %u: conn %u channel %u (tenant %u) runs long: its thread keeps it, "
		 "a new one serves the rest", w->idx, ch->conn->id, ch->idx, t->id);
	pthread_mutex_lock(&w->thr_lock);
	old = w->thr;
	w->thr = thr;
	pthread_mutex_unlock(&w->thr_lock);
	gate->loaned = ch;
	gate_open(gate, true);	/* ch is the new thread's and the old one's now */
	pthread_detach(old);
}

static void *watchdog_main(void *arg)
{
	struct ar_broker *b = arg;
	const struct timespec tick = { .tv_nsec = WATCHDOG_TICK_NS };

	while (!atomic_load(&b->wd_stop)) {
		bool all_asleep = true;

		for (unsigned i = 0; i < b->nr_workers; i++) {
			struct ar_worker *w = b->workers[i];
			uint64_t s = atomic_load_explicit(&w->run_seq, memory_order_acquire);

			if (!atomic_load(&w->asleep))
				all_asleep = false;
			if (s & RUN_IN)
				atomic_store_explicit(&w->wd_saw, s, memory_order_relaxed);
			if ((s & RUN_IN) && !(s & RUN_RESCUED) && s == w->wd_seen)
				rescue(b, w, s);
			w->wd_seen = s;
		}
		if (all_asleep) {
			uint32_t gen = atomic_load(&b->wd_gen);
			const struct timespec park = { .tv_sec = 1 };

			/* Seq_cst: see watchdog_poke(). */
			atomic_store(&b->wd_parked, true);
			all_asleep = true;
			for (unsigned i = 0; i < b->nr_workers; i++)
				if (!atomic_load(&b->workers[i]->asleep))
					all_asleep = false;
			if (all_asleep && !atomic_load(&b->wd_stop))
				syscall(SYS_futex, &b->wd_gen, FUTEX_WAIT_PRIVATE, gen,
					&park, NULL, 0);
			atomic_store(&b->wd_parked, false);
			continue;
		}
		nanosleep(&tick, NULL);
	}
	return NULL;
}

int ar__watchdog_start(struct ar_broker *b)
{
	return -pthread_create(&b->wd_thr, NULL, watchdog_main, b);
}

void ar__watchdog_stop(struct ar_broker *b)
{
	atomic_store(&b->wd_stop, true);
	atomic_fetch_add(&b->wd_gen, 1);
	syscall(SYS_futex, &b->wd_gen, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	pthread_join(b->wd_thr, NULL);
}

int ar__worker_start(struct ar_broker *b, unsigned idx, int node,
		     struct ar_worker **out)
{
	struct ar_worker *w = aligned_alloc(64, (sizeof(*w) + 63) & ~(size_t)63);
	int ret;

	if (!w)
		return -ENOMEM;
	memset(w, 0, sizeof(*w));
	w->b = b;
	w->idx = idx;
	w->node = node;
	w->need_copy = AR_RING_BYTES_DEFAULT;
	w->need_arena = ARENA_MIN;
	pthread_mutex_init(&w->lock, NULL);
	pthread_mutex_init(&w->thr_lock, NULL);
	w->cmd_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->cmd_fd < 0) {
		ret = -ENOMEM;
		goto err;
	}
	/* A doorbell's read completes in task work of the worker's thread:
	 * without COOP_TASKRUN every rung doorbell would interrupt a busy
	 * worker with an IPI. With it the work waits for the next kernel
	 * entry, and TASKRUN_FLAG tells reap() when to make one. Kernels
	 * before 5.19 refuse the flags: then as before. */
	ret = io_uring_queue_init(256, &w->ring,
				  IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG);
	if (ret == -EINVAL)
		ret = io_uring_queue_init(256, &w->ring, 0);
	if (ret)
		goto err;
	atomic_fetch_add(&b->workers_running, 1);
	pthread_mutex_lock(&w->thr_lock);
	ret = start_thread(w, NULL, &w->thr, NULL);
	pthread_mutex_unlock(&w->thr_lock);
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
	pthread_mutex_destroy(&w->lock);
	pthread_mutex_destroy(&w->thr_lock);
	free(w);
	return ret;
}

/*
 * After the serving thread has exited (the loop saw workers_running drop
 * to zero, and the watchdog is stopped): wait for rescued threads to hand
 * their channels back (until the drain deadline plus a second: an op that
 * runs longer cannot be interrupted), then drop every channel. Returns
 * false, leaving the worker allocated, if a rescued thread still runs.
 */
bool ar__worker_join(struct ar_worker *w)
{
	uint64_t end = atomic_load(&w->b->drain_deadline_ns) + LOAN_WAIT_NS;
	pthread_t thr;

	pthread_mutex_lock(&w->thr_lock);
	thr = w->thr;
	pthread_mutex_unlock(&w->thr_lock);
	pthread_join(thr, NULL);
	while (atomic_load(&w->loaned) && ar__now_ns() < end) {
		const struct timespec ms = { .tv_nsec = 10000000 };

		nanosleep(&ms, NULL);
		take_cmds(w, NULL);
	}
	if (atomic_load(&w->loaned)) {
		ar_warn("worker %u: an op still runs in a plugin past the grace period; "
			"not waiting for it", w->idx);
		return false;
	}
	take_cmds(w, NULL);
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
	free(w->cmds);
	free(w->ch);
	pthread_mutex_destroy(&w->lock);
	pthread_mutex_destroy(&w->thr_lock);
	free(w);
	return true;
}

/* ---- a worker without a thread, for the fuzz target ---- */

/*
 * tests/fuzz/fuzz_channel.c drives the very code a worker runs, one pass
 * at a time, on a channel whose client it plays: requests, hostile tails,
 * a CQ that fills, reaps. No thread, no io_uring, no watchdog.
 */
struct ar_worker *ar__worker_detached(struct ar_broker *b)
{
	struct ar_worker *w = aligned_alloc(64, (sizeof(*w) + 63) & ~(size_t)63);

	if (!w)
		return NULL;
	memset(w, 0, sizeof(*w));
	w->b = b;
	w->need_copy = AR_RING_BYTES_DEFAULT;
	w->need_arena = ARENA_MIN;
	w->cmd_fd = -1;
	w->detached = batch_new(w);
	if (!w->detached) {
		free(w);
		return NULL;
	}
	return w;
}

unsigned ar__worker_pass(struct ar_worker *w, struct ar_channel *ch)
{
	struct batch *bt = w->detached;
	size_t arena = ch->cq.g.max_len > ARENA_MIN ? ch->cq.g.max_len : ARENA_MIN;

	if (grow((void **)&bt->copy, &bt->copy_cap, ch->sq.g.bytes) ||
	    grow((void **)&bt->arena, &bt->arena_cap, arena))
		return 0;
	return service(w, w, bt, ch, false);
}

void ar__worker_detached_free(struct ar_worker *w)
{
	batch_free(w->detached);
	free(w);
}

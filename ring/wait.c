/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Adaptive waiting: spin, then sleep with NEED_WAKEUP raised.
 *
 * A cross-CPU sleep/wake round trip costs ~65 us on the machines we measure
 * on while a polled one costs ~0.17 us, so a consumer spins for spin_ns
 * before it sleeps. The spin yields the CPU every few microseconds: when the
 * producer shares our CPU (more clients than cores), an unbounded spin would
 * keep it from running until the scheduler tick.
 */
#include <linux/futex.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ring_pvt.h"

/* Polls of the tail between clock reads (a clock read is ~20 ns). */
#define SPIN_BATCH 32
/* Yield the CPU after this much spinning without news. */
#define SPIN_YIELD_NS 5000

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

bool ar_ring_sc_prepare_sleep(struct ar_ring_cons *c)
{
	uint32_t f = ar_load_relaxed(&c->g.ctl->flags);

	ar_store_relaxed(&c->g.ctl->flags, f | AR_RING_F_NEED_WAKEUP);
	/* F2: pairs with F1 in ar_ring_sp_needs_wakeup(). Our flags store is
	 * ordered before the tail load below; see F1. */
	ar_smp_mb();
	if (ar_ring_sc_has_news(c)) {
		ar_ring_sc_finish_sleep(c);
		return false;
	}
	return true;
}

void ar_ring_sc_finish_sleep(struct ar_ring_cons *c)
{
	uint32_t f = ar_load_relaxed(&c->g.ctl->flags);

	ar_store_relaxed(&c->g.ctl->flags, f & ~AR_RING_F_NEED_WAKEUP);
}

static int sleep_futex(struct ar_ring_cons *c, int64_t timeout_ns)
{
	struct timespec ts, *tsp = NULL;
	long ret;

	if (timeout_ns >= 0) {
		ts.tv_sec = timeout_ns / 1000000000;
		ts.tv_nsec = timeout_ns % 1000000000;
		tsp = &ts;
	}
	/* Not FUTEX_PRIVATE_FLAG: the word is shared between processes. The
	 * kernel compares prod_tail with our head atomically with queueing us,
	 * so a publish after prepare_sleep either changes the word (EAGAIN) or
	 * finds us queued. */
	ret = syscall(SYS_futex, &c->g.ctl->prod_tail, FUTEX_WAIT, c->head, tsp,
		      NULL, 0);
	if (ret < 0 && errno != EAGAIN && errno != ETIMEDOUT)
		return -errno;
	return 0;
}

/* Sleep on an eventfd or a pipe (AR_WAIT_FD) until it is readable. */
static int sleep_fd(int efd, int64_t timeout_ns)
{
	struct pollfd pfd = { .fd = efd, .events = POLLIN };
	uint64_t buf[8];
	int ms = timeout_ns < 0 ? -1 : (int)((timeout_ns + 999999) / 1000000);
	int n = poll(&pfd, 1, ms);

	if (n < 0)
		return -errno;
	/* An fd that is gone (closed under us: POLLNVAL), or a pipe whose
	 * producer is gone with nothing left to read (POLLHUP alone), would
	 * be "readable" forever: the wait would spin. Say so instead. */
	if (n > 0 && (pfd.revents & POLLNVAL))
		return -EBADF;
	if (n > 0 && (pfd.revents & (POLLHUP | POLLERR)) && !(pfd.revents & POLLIN))
		return -EPIPE;
	/* Drain it: an eventfd gives its 8-byte count, a pipe up to 64
	 * bytes (8 wake-ups; any left wake us once more, harmlessly). Only
	 * after poll said readable, so that an fd whose O_NONBLOCK someone
	 * cleared cannot block us; EAGAIN (a racing reader) is benign. */
	if (n > 0 && (pfd.revents & POLLIN))
		(void)!read(efd, buf, sizeof(buf));
	return 0;
}

int ar_ring_sc_wait(struct ar_ring_cons *c, const struct ar_ring_wait *w,
		    int64_t timeout_ns)
{
	uint64_t start = now_ns(), t = start, last_yield = start;
	struct ar_ring_rec rec;
	int ret;

	for (;;) {
		/* Spin phase: poll the tail, read the clock now and then. */
		for (int i = 0; i < SPIN_BATCH; i++) {
			if (ar_ring_sc_has_news(c))
				goto peek;
			ar_cpu_relax();
		}
		t = now_ns();
		if (timeout_ns >= 0 && t - start >= (uint64_t)timeout_ns)
			return 0;
		if (w->mode == AR_WAIT_POLL || t - start < w->spin_ns) {
			if (t - last_yield >= SPIN_YIELD_NS) {
				sched_yield();
				last_yield = t;
			}
			continue;
		}
		/* Sleep phase. */
		if (!ar_ring_sc_prepare_sleep(c))
			goto peek;
		{
			int64_t left = timeout_ns < 0 ? -1 :
				(int64_t)(start + (uint64_t)timeout_ns - t);

			ret = w->mode == AR_WAIT_FD ?
				      sleep_fd(w->efd, left) :
				      sleep_futex(c, left);
		}
		ar_ring_sc_finish_sleep(c);
		if (ret)
			return ret;
		continue;
peek:
		ret = ar_ring_sc_peek(c, &rec);
		if (ret)
			return ret;
		/* Only padding arrived so far: keep waiting. */
	}
}

int ar_ring_sp_wake(struct ar_ring_prod *p, const struct ar_ring_wait *w)
{
	long ret;

	if (w->mode == AR_WAIT_POLL || !ar_ring_sp_needs_wakeup(p))
		return 0;
	if (w->mode == AR_WAIT_FD) {
		const uint64_t one = 1;

		/* 8 bytes: what an eventfd takes, and a pipe takes whole or
		 * not at all (at most PIPE_BUF). EAGAIN: full, so the
		 * consumer has a wake-up it has not read yet. */
		ret = write(w->efd, &one, sizeof(one));
		if (ret < 0 && errno == EAGAIN)
			return 1;
	} else {
		ret = syscall(SYS_futex, &p->g.ctl->prod_tail, FUTEX_WAKE, 1,
			      NULL, NULL, 0);
	}
	return ret < 0 ? -errno : 1;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reclaim: give a dead connection's region pages back to the system, off
 * the loop thread when there are many of them.
 *
 * A client may keep its region memfd (and its mapping) after it left, so
 * closing the broker's fd and unmapping its copy frees nothing: the pages
 * live as long as any fd does. So a region's pages are released with
 * fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE) over the whole
 * memfd. Our seals (SHRINK, GROW, SEAL) allow it, and the size does not
 * change, so no mapping can SIGBUS: the client's mapping, and a worker
 * still finishing an op there, just see zero pages from then on (which the
 * broker treats as hostile input anyway), and whatever the client touches
 * afterwards it faults, and is charged for, itself (SECURITY.md 26).
 *
 * It happens twice: when the loop tears the connection down (then the
 * tenant's tenant-shm comes back, not before: until the punch the pages
 * were still the tenant's to keep), and when the last reference goes
 * (whatever a worker wrote in between, at most what its op in flight
 * wrote). Not when the broker shuts down: a client reads the completions
 * of the drain (ECANCELED ones too) from its CQ after the broker exited,
 * and a broker that is gone has no quota left to keep.
 *
 * Punching costs about 0.2 ms per MiB of pages here (a 2 GiB region 0.4 s),
 * so a region with more than RECLAIM_INLINE bytes of pages goes to one
 * background thread, started on first use, rather than stall the loop, or
 * the worker that drops the last reference, with every other connection.
 * Why a thread and not bounded steps on the loop: a punch of part of a
 * range costs the same per page, and steps would need the region kept, a
 * timer and a cursor per connection for no gain; one thread that does
 * them in order is simpler and keeps the loop's own latency flat. What it
 * has not done yet holds a reference to the connection (so its fd stays
 * open) or a copy of the region (its fd and mapping).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

/* Pages a punch may free where it is asked for (about 50 us of work). */
#define RECLAIM_INLINE (256u << 10)

struct job {
	struct job *next;
	struct ar_conn *c;		/* teardown: holds a reference */
	struct ar_region r;		/* or a region to release (c NULL) */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static struct job *head, **tailp = &head;
static pthread_t thr;
static bool started, stopping;

/* Bytes of pages a region's memfd holds now. */
static uint64_t populated(const struct ar_region *r)
{
	struct stat st;

	if (r->fd < 0 || fstat(r->fd, &st))
		return 0;
	return (uint64_t)st.st_blocks * 512;
}

/* Free every page of the region; returns how long it took. */
static uint64_t punch(const struct ar_region *r)
{
	uint64_t t0 = ar__now_ns();

	if (r->fd >= 0 && r->bytes &&
	    fallocate(r->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
		      (off_t)r->bytes))
		ar_warn("region of %llu bytes: cannot release its pages: %s",
			(unsigned long long)r->bytes, strerror(errno));
	return ar__now_ns() - t0;
}

/* The teardown's part: punch, then the tenant may have its memory back. */
static void do_conn(struct ar_conn *c, uint64_t pages)
{
	uint64_t ns = punch(&c->region);

	if (pages > RECLAIM_INLINE)
		ar_info("conn %u: released %llu KiB of region pages in %.1f ms",
			c->id, (unsigned long long)(pages >> 10), ns / 1e6);
	if (c->tenant && c->held_shm) {
		ar__tenant_give_back(c->tenant, c->stream, 0, c->held_shm);
		c->held_shm = 0;
	}
}

static void *reclaim_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock);
	for (;;) {
		struct job *j = head;

		if (!j) {
			if (stopping)
				break;
			pthread_cond_wait(&cond, &lock);
			continue;
		}
		head = j->next;
		if (!head)
			tailp = &head;
		pthread_mutex_unlock(&lock);
		if (j->c) {
			do_conn(j->c, populated(&j->c->region));
			ar__conn_put(j->c);	/* may queue its region */
		} else {
			(void)punch(&j->r);
			ar_region_release(&j->r);
		}
		free(j);
		pthread_mutex_lock(&lock);
	}
	pthread_mutex_unlock(&lock);
	return NULL;
}

/* Queue a job for the thread. Returns false when the caller must do the
 * work itself (out of memory, no thread, or shutting down). */
static bool enqueue(struct ar_conn *c, const struct ar_region *r)
{
	struct job *j = calloc(1, sizeof(*j));
	bool ok = false;

	if (!j)
		return false;
	j->c = c;
	if (r)
		j->r = *r;
	pthread_mutex_lock(&lock);
	if (!started && !stopping)
		started = pthread_create(&thr, NULL, reclaim_main, NULL) == 0;
	if (started && (!stopping || pthread_equal(pthread_self(), thr))) {
		*tailp = j;
		tailp = &j->next;
		pthread_cond_signal(&cond);
		ok = true;
	}
	pthread_mutex_unlock(&lock);
	if (!ok)
		free(j);
	return ok;
}

void ar__reclaim_conn(struct ar_conn *c)
{
	uint64_t pages = c->region.base ? populated(&c->region) : 0;

	if (!c->region.base) {
		do_conn(c, 0);
		return;
	}
	if (pages > RECLAIM_INLINE) {
		ar__conn_get(c);
		if (enqueue(c, NULL))
			return;
		ar__conn_put(c);	/* the loop still holds its own */
	}
	do_conn(c, pages);
}

void ar__reclaim_region(struct ar_region *r)
{
	uint64_t pages = populated(r);

	if (pages > RECLAIM_INLINE && enqueue(NULL, r)) {
		memset(r, 0, sizeof(*r));
		r->fd = -1;
		return;
	}
	if (pages)
		(void)punch(r);
	ar_region_release(r);
}

void ar__reclaim_stop(void)
{
	pthread_mutex_lock(&lock);
	stopping = true;
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&lock);
	if (started)
		pthread_join(thr, NULL);
	started = false;
}

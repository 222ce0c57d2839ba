/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Coalescing: one plugin call for ops of many clients.
 *
 * An inference server's trick, across tenants: ops flagged AR_OPF_COALESCE
 * (torch_model_run) that arrive together on the same model content with
 * inputs alike but for their first (batch) dim run as one call of the
 * plugin's batch function, which splits the outputs back (accelring/
 * plugin.h, struct ar_plugin.batch).
 *
 * A rendezvous, not a queue: each worker thread that has such ops joins
 * the group forming under their key, or starts one and leads it. The
 * leader waits until the group is full (batch-max) or batch-delay-us has
 * passed since it started it, closes it, and calls the plugin on every
 * member's ops; members wait until it is done. batch-max bounds the rows
 * of a call (each op's first input's first dim), not only its ops: a
 * tenant cannot make another's forward larger than that by joining it
 * with a large input (an op with more rows runs alone). Each op stays in the memory
 * of the thread that took it from its ring, and each thread posts its own
 * completions to its own channel's CQ when it returns: the rings keep
 * their single producer and consumer, and nothing of an op outlives the
 * pass that took it.
 *
 * A thread that waits here holds its worker's other channels: it hands
 * the worker to a new thread first (worker.c, the hand-off the watchdog
 * does for any long op), so that the other channels of that worker are
 * served, and can join too, while it waits.
 *
 * What groups share is only the plugin call: every op keeps its session,
 * tenant and buffers, and the plugin writes each op's outputs into that
 * op's own buffers. The key is a hint the plugin checks (it groups again
 * by what it reads: a client may change its dims in shared memory after
 * the key was computed); a wrong key costs batching, never correctness.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "accelring/trace.h"

/* The most dims a tensor's key covers (libclient's OUT_DIMS, torch's). */
#define AR_COALESCE_MAX_DIMS 8

struct group {
	struct group *next;
	struct ar_coalesce_key key;
	pthread_cond_t cond;		/* the leader: full; members: done */
	bool closed;			/* out of the forming list */
	bool done;			/* the plugin returned */
	unsigned refs;			/* threads that still read it */
	uint32_t n;
	uint64_t rows;			/* over its ops: at most batch-max */
	uint64_t start_ns;
	struct ar_op *ops[];		/* batch_max of them */
};

struct ar_coalescer {
	pthread_mutex_t lock;
	pthread_condattr_t mono;
	struct group *forming;		/* open to joiners */
	uint32_t max;
	uint64_t delay_ns;
	_Atomic uint64_t batches, ops, largest;
};

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 0x100000001b3ull;
	return h;
}

bool ar__coalesce_key(const struct ar_route *rt, const struct ar_op *op,
		      struct ar_coalesce_key *k, uint64_t *rows)
{
	const struct ar_op_generic *g = &op->u.generic;
	uint64_t h = 0xcbf29ce484222325ull;

	if (!ar__route_can_batch(rt) || !g->resource)
		return false;
	*rows = 1;
	memset(k, 0, sizeof(*k));
	k->route = rt;
	k->op = op->op;
	/* A host of one tenant runs that tenant's ops only. */
	k->tenant = ar__iso_per_tenant(rt->plugin->iso) ? op->tenant : 0;
	memcpy(k->model, g->resource->sha256, sizeof(k->model));
	h = fnv(h, &g->nr_read, sizeof(g->nr_read));
	h = fnv(h, &g->nr_write, sizeof(g->nr_write));
	/* read[0] is the run options; then (dims, data) per input. The
	 * dims are read once here, from wherever the request put them (the
	 * client's data area included): the plugin reads them again. */
	for (uint32_t i = 1; i + 1 < g->nr_read; i += 2) {
		const struct ar_buf *d = &g->read[i], *x = &g->read[i + 1];
		uint64_t nd = d->len / sizeof(int64_t);

		/* More dims than a tensor may have: the plugin refuses it
		 * alone, and a long list is not worth hashing first. */
		if (nd > AR_COALESCE_MAX_DIMS)
			return false;

		h = fnv(h, &x->custom_id, sizeof(x->custom_id));
		h = fnv(h, &nd, sizeof(nd));
		if (nd > 1)
			h = fnv(h, (const uint8_t *)d->ptr + sizeof(int64_t),
				(nd - 1) * sizeof(int64_t));
		/* The rows: the first input's first dim (a plugin that
		 * finds them inconsistent runs the op alone). */
		if (i == 1 && nd) {
			int64_t r;

			/* An inline argument is only byte-aligned. */
			memcpy(&r, d->ptr, sizeof(r));
			*rows = r > 0 ? (uint64_t)r : 1;
		}
	}
	k->shape = h;
	return true;
}

static bool key_eq(const struct ar_coalesce_key *a, const struct ar_coalesce_key *b)
{
	return !memcmp(a, b, sizeof(*a));
}

int ar__coalesce_new(const struct ar_config *cfg, struct ar_coalescer **out)
{
	struct ar_coalescer *c;

	*out = NULL;
	if (!cfg->batch_delay_us || cfg->batch_max < 2)
		return 0;	/* off */
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->lock, NULL);
	/* The leader's deadline is on ar__now_ns()'s clock. */
	pthread_condattr_init(&c->mono);
	pthread_condattr_setclock(&c->mono, CLOCK_MONOTONIC);
	c->max = cfg->batch_max;
	c->delay_ns = (uint64_t)cfg->batch_delay_us * 1000;
	*out = c;
	return 0;
}

void ar__coalesce_free(struct ar_coalescer *c)
{
	if (!c)
		return;
	if (atomic_load(&c->batches))
		ar_info("coalesced %llu ops into %llu plugin calls (largest %llu)",
			(unsigned long long)atomic_load(&c->ops),
			(unsigned long long)atomic_load(&c->batches),
			(unsigned long long)atomic_load(&c->largest));
	pthread_condattr_destroy(&c->mono);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

static void unlink_forming(struct ar_coalescer *c, struct group *g)
{
	struct group **pp;

	for (pp = &c->forming; *pp; pp = &(*pp)->next)
		if (*pp == g) {
			*pp = g->next;
			break;
		}
	g->closed = true;
}

static void put_locked(struct group *g)
{
	if (--g->refs)
		return;
	pthread_cond_destroy(&g->cond);
	free(g);
}

/* The tenants a group serves, for the trace. */
static uint32_t tenants_of(const struct group *g)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < g->n; i++) {
		uint32_t j = 0;

		while (j < i && g->ops[j]->tenant != g->ops[i]->tenant)
			j++;
		n += j == i;
	}
	return n;
}

/* The leader: wait for the group to fill or its time to pass, then run it. */
static void lead(struct ar_coalescer *c, struct group *g)
{
	struct timespec until;
	uint64_t end = g->start_ns + c->delay_ns, waited;
	uint32_t tenants;

	until.tv_sec = (time_t)(end / 1000000000u);
	until.tv_nsec = (long)(end % 1000000000u);
	while (!g->closed)
		if (pthread_cond_timedwait(&g->cond, &c->lock, &until) == ETIMEDOUT)
			unlink_forming(c, g);
	pthread_mutex_unlock(&c->lock);
	waited = (ar__now_ns() - g->start_ns) / 1000;
	tenants = tenants_of(g);
	AR_TRACE(batch_formed, g->ops[0]->tenant, g->n, tenants, g->key.op,
		 (uint32_t)waited, g->key.route->plugin->desc->name);
	ar_debug("%s: %u ops of %u tenants in one call after %llu us",
		 ar_op_name(g->key.op), g->n, tenants, (unsigned long long)waited);
	/* Members' ops: theirs, in their threads' memory, which waits. */
	for (uint32_t i = 0; i < g->n; i++)
		g->ops[i]->status = 0;
	if (g->n == 1)
		g->ops[0]->status = ar__route_run(g->key.route, g->ops[0]);
	else
		ar__route_batch(g->key.route, g->ops, g->n);
	atomic_fetch_add_explicit(&c->batches, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&c->ops, g->n, memory_order_relaxed);
	for (uint64_t l = atomic_load(&c->largest); g->n > l &&
	     !atomic_compare_exchange_weak(&c->largest, &l, g->n);)
		;
	pthread_mutex_lock(&c->lock);
	g->done = true;
	pthread_cond_broadcast(&g->cond);
}

uint64_t ar__coalesce_rows(const struct ar_coalescer *c)
{
	return c->max;
}

void ar__coalesce_run(struct ar_coalescer *c, const struct ar_coalesce_key *k,
		      struct ar_op **ops, uint32_t n, uint64_t rows,
		      void (*handoff)(void *), void *arg)
{
	struct group *g;
	bool leader = false;

	/* What waits here must not hold a worker's other channels. */
	if (handoff)
		handoff(arg);
	pthread_mutex_lock(&c->lock);
	for (g = c->forming; g && !key_eq(&g->key, k); g = g->next)
		;
	if (g && g->rows + rows > c->max) {
		/* No room for all of ours: it goes now, we start the next. */
		unlink_forming(c, g);
		pthread_cond_broadcast(&g->cond);
		g = NULL;
	}
	if (!g) {
		g = calloc(1, sizeof(*g) + c->max * sizeof(g->ops[0]));
		if (!g) {
			pthread_mutex_unlock(&c->lock);
			/* No memory for a group: run alone, as unbatched. */
			for (uint32_t i = 0; i < n; i++)
				ops[i]->status = ar__route_run(k->route, ops[i]);
			return;
		}
		pthread_cond_init(&g->cond, &c->mono);
		g->key = *k;
		g->start_ns = ar__now_ns();
		g->next = c->forming;
		c->forming = g;
		leader = true;
	}
	memcpy(&g->ops[g->n], ops, n * sizeof(*ops));
	g->n += n;
	g->rows += rows;
	g->refs++;
	if (g->rows >= c->max && !g->closed) {
		unlink_forming(c, g);
		/* Full: its leader goes (the members wait on, for done). */
		pthread_cond_broadcast(&g->cond);
	}
	if (leader)
		lead(c, g);
	else
		while (!g->done)
			pthread_cond_wait(&g->cond, &c->lock);
	put_locked(g);
	pthread_mutex_unlock(&c->lock);
}


/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_coalesce - the broker's coalescer (broker/coalesce.c) as a unit:
 * real threads, each with ops of its own as a worker thread has them,
 * joining through ar__coalesce_run(); a plugin descriptor whose batch
 * function computes each op's output from that op's own input, checks
 * that every op of a call shares the call's model and shapes, and records
 * the calls. What must hold: ops of one key arriving together run in one
 * call, never more than batch-max; ops of different models or shapes never
 * share a call; each op gets the result of its own input; every joiner
 * hands its worker off once before waiting.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>

#include <cmocka.h>

#include "internal.h"

#define MAXT 64

/* ---- the plugin: out = in * 3 + model's first byte, per op ---- */

static pthread_mutex_t calls_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned nr_calls, sizes[MAXT], singles;
static atomic_bool mixed;

static int32_t expect_out(int32_t in, uint8_t model)
{
	return in * 3 + model;
}

static int one(struct ar_op *op)
{
	const struct ar_op_generic *g = &op->u.generic;

	*(int32_t *)g->write[0].ptr = expect_out(*(const int32_t *)g->read[2].ptr,
						 g->resource->sha256[0]);
	pthread_mutex_lock(&calls_lock);
	singles++;
	pthread_mutex_unlock(&calls_lock);
	return 0;
}

static void batch(struct ar_op *const *ops, uint32_t n)
{
	const struct ar_op_generic *g0 = &ops[0]->u.generic;

	for (uint32_t i = 0; i < n; i++) {
		const struct ar_op_generic *g = &ops[i]->u.generic;

		if (g->resource->sha256[0] != g0->resource->sha256[0] ||
		    ((const int64_t *)g->read[1].ptr)[1] != ((const int64_t *)g0->read[1].ptr)[1])
			atomic_store(&mixed, true);
		*(int32_t *)g->write[0].ptr = expect_out(*(const int32_t *)g->read[2].ptr,
							 g->resource->sha256[0]);
		ops[i]->status = 0;
	}
	pthread_mutex_lock(&calls_lock);
	if (nr_calls < MAXT)
		sizes[nr_calls] = n;
	nr_calls++;
	pthread_mutex_unlock(&calls_lock);
}

static const struct ar_plugin desc = { .abi_version = AR_PLUGIN_ABI_VERSION,
				       .size = sizeof(struct ar_plugin),
				       .name = "test", .version = "1", .batch = batch };
static const struct ar_loaded_plugin lp = { .desc = &desc };
static const struct ar_route route = { .plugin = &lp, .fn = one };

/* ---- one op as a worker thread holds it ---- */

struct top {
	struct ar_resource res;
	int64_t dims[2];
	int32_t in, out;
	struct ar_buf read[3], write[1];
	struct ar_op op;
};

static void top_init(struct top *t, uint8_t model, int64_t rows, int64_t width, int32_t in)
{
	memset(t, 0, sizeof(*t));
	t->res.sha256[0] = model;
	t->dims[0] = rows;
	t->dims[1] = width;
	t->in = in;
	t->read[1] = (struct ar_buf){ .ptr = t->dims, .len = sizeof(t->dims), .type = 4 };
	t->read[2] = (struct ar_buf){ .ptr = &t->in, .len = sizeof(t->in), .custom_id = 7 };
	t->write[0] = (struct ar_buf){ .ptr = &t->out, .len = sizeof(t->out) };
	t->op.op = AR_OP_TORCH_MODEL_RUN;
	t->op.tenant = (uint32_t)in;
	t->op.u.generic = (struct ar_op_generic){ .nr_read = 3, .nr_write = 1,
						  .read = t->read, .write = t->write,
						  .resource = &t->res };
}

struct joiner {
	pthread_t thr;
	struct ar_coalescer *c;
	pthread_barrier_t *go;
	struct top t;
	unsigned handoffs;
};

static void count_handoff(void *arg)
{
	((struct joiner *)arg)->handoffs++;
}

static void *join_main(void *arg)
{
	struct joiner *j = arg;
	struct ar_coalesce_key k;
	struct ar_op *ops[1] = { &j->t.op };

	assert_true(ar__coalesce_key(&route, &j->t.op, &k));
	pthread_barrier_wait(j->go);
	assert_int_equal(ar__coalesce_run(j->c, &k, ops, 1, count_handoff, j), 1);
	return NULL;
}

static void reset(void)
{
	nr_calls = singles = 0;
	memset(sizes, 0, sizeof(sizes));
	atomic_store(&mixed, false);
}

static struct ar_coalescer *coalescer(unsigned max, unsigned delay_us)
{
	struct ar_config cfg = { .batch_max = max, .batch_delay_us = delay_us };
	struct ar_coalescer *c;

	assert_int_equal(ar__coalesce_new(&cfg, &c), 0);
	assert_non_null(c);
	return c;
}

/* n threads; thread i's op on model models[i % nm], width widths[i % nw]. */
static void join_all(struct ar_coalescer *c, unsigned n, const uint8_t *models, unsigned nm,
		     const int64_t *widths, unsigned nw)
{
	struct joiner *js = calloc(n, sizeof(*js));
	pthread_barrier_t go;

	assert_non_null(js);
	pthread_barrier_init(&go, NULL, n);
	for (unsigned i = 0; i < n; i++) {
		js[i].c = c;
		js[i].go = &go;
		top_init(&js[i].t, models[i % nm], 1 + i % 2, widths[i % nw], (int32_t)(100 + i));
		assert_int_equal(pthread_create(&js[i].thr, NULL, join_main, &js[i]), 0);
	}
	for (unsigned i = 0; i < n; i++)
		pthread_join(js[i].thr, NULL);
	for (unsigned i = 0; i < n; i++) {
		/* Its own input's result, and one hand-off. */
		assert_int_equal(js[i].t.op.status, 0);
		assert_int_equal(js[i].t.out, expect_out((int32_t)(100 + i), models[i % nm]));
		assert_int_equal(js[i].handoffs, 1);
	}
	pthread_barrier_destroy(&go);
	free(js);
}

/* 16 ops of one key, a delay long enough for all to arrive: one call. */
static void test_coalesce_one_call_for_all(void **state)
{
	static const uint8_t m[] = { 7 };
	static const int64_t w[] = { 10 };
	struct ar_coalescer *c = coalescer(16, 2000000);

	(void)state;
	reset();
	join_all(c, 16, m, 1, w, 1);
	assert_int_equal(nr_calls, 1);
	assert_int_equal(sizes[0], 16);
	assert_false(atomic_load(&mixed));
	ar__coalesce_free(c);
}

/* 40 ops, batch-max 8: every call at most 8, all 40 run, each its own. */
static void test_coalesce_caps_at_batch_max(void **state)
{
	static const uint8_t m[] = { 7 };
	static const int64_t w[] = { 10 };
	struct ar_coalescer *c = coalescer(8, 200000);
	unsigned total = 0;

	(void)state;
	reset();
	join_all(c, 40, m, 1, w, 1);
	for (unsigned i = 0; i < nr_calls; i++) {
		assert_in_range(sizes[i], 1, 8);
		total += sizes[i];
	}
	/* A group of one runs through the op function, not batch. */
	assert_int_equal(total + singles, 40);
	assert_true(nr_calls + singles >= 5);
	ar__coalesce_free(c);
}

/* Two models and two widths at once: never in one call. */
static void test_coalesce_keeps_keys_apart(void **state)
{
	static const uint8_t m[] = { 7, 9 };
	static const int64_t w[] = { 10, 10, 12, 12 };
	struct ar_coalescer *c = coalescer(64, 500000);

	(void)state;
	reset();
	/* i % 2 picks the model, i % 4 the width: four keys of 8 ops. */
	join_all(c, 32, m, 2, w, 4);
	assert_false(atomic_load(&mixed));
	assert_true(nr_calls + singles >= 4);
	ar__coalesce_free(c);
}

/* The key: the first dim is free, every other dim and the model are not. */
static void test_coalesce_key(void **state)
{
	struct top a, b;
	struct ar_coalesce_key ka, kb;

	(void)state;
	top_init(&a, 1, 1, 10, 0);
	top_init(&b, 1, 5, 10, 0);
	assert_true(ar__coalesce_key(&route, &a.op, &ka));
	assert_true(ar__coalesce_key(&route, &b.op, &kb));
	assert_memory_equal(&ka, &kb, sizeof(ka));
	top_init(&b, 1, 1, 11, 0);
	assert_true(ar__coalesce_key(&route, &b.op, &kb));
	assert_memory_not_equal(&ka, &kb, sizeof(ka));
	top_init(&b, 2, 1, 10, 0);
	assert_true(ar__coalesce_key(&route, &b.op, &kb));
	assert_memory_not_equal(&ka, &kb, sizeof(ka));
	top_init(&b, 1, 1, 10, 0);
	b.read[2].custom_id = 4;
	assert_true(ar__coalesce_key(&route, &b.op, &kb));
	assert_memory_not_equal(&ka, &kb, sizeof(ka));
	/* A route whose plugin cannot batch has no key. */
	{
		static const struct ar_plugin nb = { .name = "nb", .version = "1" };
		static const struct ar_loaded_plugin nlp = { .desc = &nb };
		static const struct ar_route nr = { .plugin = &nlp, .fn = one };

		assert_false(ar__coalesce_key(&nr, &a.op, &ka));
	}
}

/* Off unless both settings allow it. */
static void test_coalesce_off(void **state)
{
	struct ar_config cfg = { .batch_max = 16, .batch_delay_us = 0 };
	struct ar_coalescer *c = (void *)1;

	(void)state;
	assert_int_equal(ar__coalesce_new(&cfg, &c), 0);
	assert_null(c);
	cfg.batch_delay_us = 100;
	cfg.batch_max = 1;
	assert_int_equal(ar__coalesce_new(&cfg, &c), 0);
	assert_null(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_coalesce_one_call_for_all),
		cmocka_unit_test(test_coalesce_caps_at_batch_max),
		cmocka_unit_test(test_coalesce_keeps_keys_apart),
		cmocka_unit_test(test_coalesce_key),
		cmocka_unit_test(test_coalesce_off),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

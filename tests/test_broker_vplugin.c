/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_broker_vplugin - plugins written for upstream vAccel, in accelringd
 * (broker/vplugin.c): tests/plugins/vaccel_style.c, loaded alone, serves
 * ops called through the vAccel API (and the native one, where a test
 * needs to shape the wire); plugins with a broken descriptor
 * (tests/plugins/vaccel_bad.c) are refused at load, saying why.
 */
#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <accelring/client.h>
#include <accelring/optable.h>
#include <vaccel.h>

#include "broker_harness.h"

static struct test_broker broker;

#define LIB "libvstyle.so"

static void fill(float *x, size_t n, unsigned seed)
{
	srand(seed);
	for (size_t i = 0; i < n; i++)
		x[i] = (float)rand() / RAND_MAX - 0.5f;
}

static double max_diff(const float *x, const float *y, size_t n)
{
	double worst = 0;

	for (size_t i = 0; i < n; i++)
		if (fabs((double)x[i] - y[i]) > worst)
			worst = fabs((double)x[i] - y[i]);
	return worst;
}

static struct vaccel_arg arg(void *buf, size_t size, vaccel_arg_type_t type,
			     uint32_t id)
{
	return (struct vaccel_arg){ .buf = buf, .size = size, .type = type,
				    .custom_type_id = id };
}

/* The plugin's count of noop calls (its exec "noop_count"). */
static uint64_t noop_count(struct vaccel_session *s)
{
	uint64_t n = UINT64_MAX;
	struct vaccel_arg w = arg(&n, sizeof(n), VACCEL_ARG_UINT64, 0);

	assert_int_equal(vaccel_exec(s, LIB, "noop_count", NULL, 0, &w, 1), 0);
	return n;
}

/* One op through the native API; its completion's status. */
static int native_generic(uint32_t op, const char *lib, const char *sym,
			  const struct ar_arg *r, uint32_t nr,
			  const struct ar_arg *w, uint32_t nw)
{
	struct ar_client *c;
	struct ar_queue *q;
	struct ar_cqe cqe;
	uint32_t sid;

	assert_int_equal(ar_client_connect(NULL, &c), 0);
	assert_int_equal(ar_queue_get(c, &q), 0);
	assert_int_equal(ar_session_open(q, 0, &sid), 0);
	assert_int_equal(ar_submit_generic(q, sid, op, lib, sym, r, nr, w, nw, 7), 0);
	assert_int_equal(ar_wait(q, &cqe, 1, 1, -1), 1);
	assert_int_equal(cqe.user_data, 7);
	assert_int_equal(ar_session_close(q, sid), 0);
	ar_client_close(c);
	return cqe.status;
}

/* The plugin was loaded as a vAccel plugin, and the ops it registered
 * that the broker cannot serve are named. */
static void test_vplugin_loaded_and_logged(void **state)
{
	(void)state;
	assert_true(test_broker_logged(&broker, "loaded vAccel plugin vaccel_style 1.0"));
	assert_true(test_broker_logged(&broker, "(15 ops)"));
	assert_true(test_broker_logged(&broker, "vAccel plugin vaccel_style: not serving "
					       "tf_model_load (it takes a vaccel_tf_status"));
}

/* vaccel_noop runs the plugin's noop: its count grows by exactly the
 * calls made. */
static void test_vplugin_noop_counted(void **state)
{
	struct vaccel_session s;
	uint64_t before;

	(void)state;
	assert_int_equal(vaccel_session_init(&s, 0), 0);
	before = noop_count(&s);
	for (int i = 0; i < 100; i++)
		assert_int_equal(vaccel_noop(&s), 0);
	assert_int_equal(noop_count(&s), before + 100);
	assert_int_equal(vaccel_session_release(&s), 0);
	assert_int_equal(vaccel_noop(&s), VACCEL_EINVAL);
}

enum { THREADS = 4, CALLS = 200 };

/* One client thread: its own session, noops and typed execs. */
static void *noop_thread(void *p)
{
	struct vaccel_session s;
	intptr_t bad = 0;

	(void)p;
	if (vaccel_session_init(&s, 0))
		return (void *)1;
	for (int i = 0; i < CALLS; i++) {
		int32_t a = i;
		float f = 0.5f, out = 0;
		struct vaccel_arg r[] = { arg(&a, 4, VACCEL_ARG_INT32, 0),
					  arg(&f, 4, VACCEL_ARG_FLOAT32, 0) };
		struct vaccel_arg w = arg(&out, 4, VACCEL_ARG_FLOAT32, 0);

		bad += vaccel_noop(&s) != 0;
		bad += vaccel_exec(&s, LIB, "sum", r, 2, &w, 1) != 0 || out != i + 0.5f;
	}
	bad += vaccel_session_release(&s) != 0;
	return (void *)bad;
}

/* Clients on several threads, ops on several workers at once (the plugin
 * runs concurrently, as upstream's do in a threaded program): every call
 * counted once, every result right. */
static void test_vplugin_concurrent_clients(void **state)
{
	pthread_t t[THREADS];
	struct vaccel_session s;
	uint64_t before;

	(void)state;
	assert_int_equal(vaccel_session_init(&s, 0), 0);
	before = noop_count(&s);
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, noop_thread, NULL), 0);
	for (int i = 0; i < THREADS; i++) {
		void *bad;

		assert_int_equal(pthread_join(t[i], &bad), 0);
		assert_null(bad);
	}
	assert_int_equal(noop_count(&s), before + THREADS * CALLS);
	assert_int_equal(vaccel_session_release(&s), 0);
}

/* The plugin's plain-loop sgemm equals cblas for odd shapes, leading
 * dimensions wider than rows, inline-sized and staged matrices. */
static void test_vplugin_sgemm_matches_cblas(void **state)
{
	static const int64_t shapes[][6] = {
		{ 1, 1, 1, 1, 1, 1 },
		{ 17, 33, 9, 9, 33, 33 },
		{ 5, 7, 3, 8, 9, 10 },
		{ 128, 96, 64, 64, 96, 100 },
	};
	struct vaccel_session s;

	(void)state;
	assert_int_equal(vaccel_session_init(&s, VACCEL_PLUGIN_CPU), 0);
	for (size_t t = 0; t < sizeof(shapes) / sizeof(shapes[0]); t++) {
		int64_t m = shapes[t][0], n = shapes[t][1], k = shapes[t][2];
		int64_t lda = shapes[t][3], ldb = shapes[t][4], ldc = shapes[t][5];
		size_t na = (size_t)((m - 1) * lda + k), nb = (size_t)((k - 1) * ldb + n),
		       nc = (size_t)((m - 1) * ldc + n);
		float *a = malloc(na * 4), *b = malloc(nb * 4), *c1 = malloc(nc * 4),
		      *c2 = malloc(nc * 4);

		fill(a, na, 1);
		fill(b, nb, 2);
		fill(c1, nc, 3);
		memcpy(c2, c1, nc * 4);
		assert_int_equal(vaccel_sgemm(&s, m, n, k, 0.75f, a, lda, b, ldb,
					      -0.5f, c1, ldc), 0);
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n,
			    (int)k, 0.75f, a, (int)lda, b, (int)ldb, -0.5f, c2, (int)ldc);
		assert_true(max_diff(c1, c2, nc) < 1e-4);
		free(a);
		free(b);
		free(c1);
		free(c2);
	}
	assert_int_equal(vaccel_session_release(&s), 0);
}

/* A shipped resource reaches an upstream plugin as the vaccel_resource it
 * takes: a LIB's bytes in its first blob (summed by the plugin), with a
 * path of the broker's that reads back the same bytes; a model for torch's
 * load likewise. */
static void test_vplugin_resources(void **state)
{
	struct vaccel_session s;
	struct vaccel_resource lib, model;
	uint8_t bytes[10000], same = 0;
	uint64_t sum = 0, want = 0;
	struct vaccel_arg w[2] = { arg(&sum, 8, VACCEL_ARG_UINT64, 0),
				   arg(&same, 1, VACCEL_ARG_UINT8, 0) };

	(void)state;
	for (size_t i = 0; i < sizeof(bytes); i++) {
		bytes[i] = (uint8_t)(i * 31 + 7);
		want += bytes[i];
	}
	assert_int_equal(vaccel_session_init(&s, 0), 0);
	assert_int_equal(vaccel_resource_init_from_buf(&lib, bytes, sizeof(bytes),
						       VACCEL_RESOURCE_LIB, "libx.so", true), 0);
	assert_int_equal(vaccel_resource_init_from_buf(&model, bytes, 100,
						       VACCEL_RESOURCE_MODEL, "m.pt", true), 0);
	assert_int_equal(vaccel_resource_register(&lib, &s), 0);
	assert_int_equal(vaccel_resource_register(&model, &s), 0);
	assert_int_equal(vaccel_exec_with_resource(&s, &lib, "resource_sum", NULL, 0, w, 2), 0);
	assert_true(sum == want);
	assert_int_equal(same, 1);
	assert_int_equal(vaccel_exec_with_resource(&s, &lib, "other", NULL, 0, w, 2),
			 VACCEL_ENOENT);
	assert_int_equal(vaccel_torch_model_load(&s, &model), 0);
	assert_int_equal(vaccel_resource_unregister(&model, &s), 0);
	assert_int_equal(vaccel_resource_unregister(&lib, &s), 0);
	assert_int_equal(vaccel_resource_release(&model), 0);
	assert_int_equal(vaccel_resource_release(&lib), 0);
	assert_int_equal(vaccel_session_release(&s), 0);
}

/* vaccel_exec's typed arguments arrive as built: an INT32 and a FLOAT32
 * are summed into a FLOAT32; other types are the plugin's EINVAL; custom
 * ids travel; library and symbol arrive. */
static void test_vplugin_exec_typed_args(void **state)
{
	struct vaccel_session s;
	int32_t i = 7, j = 2;
	float f = 2.5f, out = 0;
	uint8_t blob[3] = { 1, 2, 3 };
	uint32_t types[8] = { 0 };
	struct vaccel_arg r[] = { arg(&i, 4, VACCEL_ARG_INT32, 0),
				  arg(&f, 4, VACCEL_ARG_FLOAT32, 0) };
	struct vaccel_arg w[] = { arg(&out, 4, VACCEL_ARG_FLOAT32, 0) };

	(void)state;
	assert_int_equal(vaccel_session_init(&s, 0), 0);
	assert_int_equal(vaccel_exec(&s, LIB, "sum", r, 2, w, 1), 0);
	assert_true(out == 9.5f);
	/* An INT32 where the plugin expects a FLOAT32: its refusal. */
	r[1] = arg(&j, 4, VACCEL_ARG_INT32, 0);
	out = 0;
	assert_int_equal(vaccel_exec(&s, LIB, "sum", r, 2, w, 1), VACCEL_EINVAL);
	assert_true(out == 0);
	/* The library and symbol arrive too. */
	r[1] = arg(&f, 4, VACCEL_ARG_FLOAT32, 0);
	assert_int_equal(vaccel_exec(&s, "libother.so", "sum", r, 2, w, 1), VACCEL_ENOENT);
	assert_int_equal(vaccel_exec(&s, LIB, "nosuch", r, 2, w, 1), VACCEL_ENOENT);
	{
		struct vaccel_arg tr[] = { arg(&i, 4, VACCEL_ARG_INT32, 0),
					   arg(blob, 3, VACCEL_ARG_CUSTOM, 42),
					   arg(blob, 3, VACCEL_ARG_RAW, 0),
					   arg("hi", 3, VACCEL_ARG_STRING, 0) };
		struct vaccel_arg tw = arg(types, sizeof(types), VACCEL_ARG_UINT32_ARRAY, 0);

		assert_int_equal(vaccel_exec(&s, LIB, "types", tr, 4, &tw, 1), 0);
		assert_int_equal(types[0], VACCEL_ARG_INT32);
		assert_int_equal(types[1], 0);
		assert_int_equal(types[2], VACCEL_ARG_CUSTOM);
		assert_int_equal(types[3], 42);
		assert_int_equal(types[4], VACCEL_ARG_RAW);
		assert_int_equal(types[6], VACCEL_ARG_STRING);
	}
	assert_int_equal(vaccel_session_release(&s), 0);
}

/* The session a plugin runs in: the broker's id for it, its hints, the
 * plugin itself, nothing else. */
static void test_vplugin_session_seen(void **state)
{
	struct vaccel_session s;
	int64_t id = -1;
	uint32_t hint = 0;
	uint8_t mine = 0;
	struct vaccel_arg w[] = { arg(&id, 8, VACCEL_ARG_INT64, 0),
				  arg(&hint, 4, VACCEL_ARG_UINT32, 0),
				  arg(&mine, 1, VACCEL_ARG_UINT8, 0) };

	(void)state;
	assert_int_equal(vaccel_session_init(&s, VACCEL_PLUGIN_CPU | VACCEL_PLUGIN_GPU), 0);
	assert_int_equal(vaccel_exec(&s, LIB, "session", NULL, 0, w, 3), 0);
	assert_int_equal(id, s.remote_id);
	assert_int_equal(hint, VACCEL_PLUGIN_CPU | VACCEL_PLUGIN_GPU);
	assert_int_equal(mine, 1);
	assert_int_equal(vaccel_session_release(&s), 0);
}

/* Image ops: the plugin's outputs come back; its error code reaches the
 * client as is; a code that is no errno becomes EPROTO; an op it did not
 * register is ENOTSUP. */
static void test_vplugin_image_ops(void **state)
{
	struct vaccel_session s;
	unsigned char img[64] = { 0 }, text[64], name[64];

	(void)state;
	assert_int_equal(vaccel_session_init(&s, 0), 0);
	memset(text, 'x', sizeof(text));
	memset(name, 'x', sizeof(name));
	assert_int_equal(vaccel_image_classification(&s, img, text, name, sizeof(img),
						     sizeof(text), sizeof(name)), 0);
	assert_string_equal((char *)text, "vstyle: a tag");
	assert_string_equal((char *)name, "vstyle: classified");
	/* Truncated to the room given, as upstream's noop does. */
	assert_int_equal(vaccel_image_classification(&s, img, text, name, sizeof(img),
						     4, sizeof(name)), 0);
	assert_string_equal((char *)text, "vst");
	assert_int_equal(vaccel_image_detection(&s, img, name, sizeof(img), sizeof(name)), 0);
	assert_string_equal((char *)name, "vstyle: detected");
	assert_int_equal(vaccel_image_depth(&s, img, name, sizeof(img), sizeof(name)),
			 VACCEL_ENODEV);
	assert_int_equal(vaccel_image_segmentation(&s, img, name, sizeof(img), sizeof(name)),
			 VACCEL_EBACKEND);
	assert_int_equal(vaccel_image_pose(&s, img, name, sizeof(img), sizeof(name)),
			 VACCEL_ENOTSUP);
	assert_int_equal(vaccel_session_release(&s), 0);
}

/* minmax and the fpga ops reach the plugin with the lengths the buffers
 * have; opencv with the unpack signature. */
static void test_vplugin_minmax_fpga_opencv(void **state)
{
	struct vaccel_session s;
	double in[5] = { 3, -4, 10, 0.5, 7 }, out[5], mn = 0, mx = 0;
	int ia[4] = { 1, 2, 3, 4 }, ib[4] = { 0 };
	float a[3] = { 1, 2, 3 }, b[4] = { 10, 20, 30, 40 }, c[4], d[3];

	(void)state;
	assert_int_equal(vaccel_session_init(&s, 0), 0);
	assert_int_equal(vaccel_minmax(&s, in, 5, 0, 5, out, &mn, &mx), 0);
	assert_true(mn == -4 && mx == 10);
	assert_true(out[0] == 3 && out[1] == 0 && out[2] == 5 && out[3] == 0.5 && out[4] == 5);
	assert_int_equal(vaccel_fpga_arraycopy(&s, ia, ib, 4), 0);
	assert_memory_equal(ia, ib, sizeof(ia));
	assert_int_equal(vaccel_fpga_mmult(&s, a, b, c, 3), 0);
	assert_true(c[0] == 10 && c[1] == 40 && c[2] == 90);
	assert_int_equal(vaccel_fpga_parallel(&s, a, b, c, d, 3), 0);
	assert_true(c[0] == 11 && c[2] == 33 && d[1] == 40);
	assert_int_equal(vaccel_fpga_vadd(&s, a, b, c, 3, 3), 0);
	assert_true(c[0] == 11 && c[1] == 22 && c[2] == 33);
	{
		char src[] = "opencv", dst[8] = { 0 };
		struct vaccel_arg r = arg(src, sizeof(src), VACCEL_ARG_RAW, 0);
		struct vaccel_arg w = arg(dst, sizeof(dst), VACCEL_ARG_RAW, 0);

		assert_int_equal(vaccel_opencv_unpack(&s, &r, 1, &w, 1), 0);
		assert_string_equal(dst, "opencv");
	}
	assert_int_equal(vaccel_session_release(&s), 0);
}

/* Lengths a hostile client makes disagree with the buffers are refused
 * before the plugin runs: minmax's ndata past its arrays, vadd's C
 * shorter than its longer input, mmult's B shorter than A, an ndata of
 * the wrong size. */
static void test_vplugin_lengths_bounded(void **state)
{
	double in[2] = { 1, 2 }, out[2], mn, mx;
	int32_t nd = 1000, lo = 0, hi = 1;
	int16_t nd16 = 2;
	float a[2] = { 1, 2 }, b[4] = { 1, 2, 3, 4 }, c[2];
	struct ar_arg r[4] = {
		{ in, sizeof(in), VACCEL_ARG_FLOAT64_ARRAY, 0 },
		{ &nd, 4, VACCEL_ARG_INT32, 0 },
		{ &lo, 4, VACCEL_ARG_INT32, 0 },
		{ &hi, 4, VACCEL_ARG_INT32, 0 },
	};
	struct ar_arg w[3] = {
		{ out, sizeof(out), VACCEL_ARG_FLOAT64_ARRAY, 0 },
		{ &mn, 8, VACCEL_ARG_FLOAT64, 0 },
		{ &mx, 8, VACCEL_ARG_FLOAT64, 0 },
	};

	(void)state;
	assert_int_equal(native_generic(AR_OP_MINMAX, NULL, NULL, r, 4, w, 3), -EINVAL);
	nd = 2;
	assert_int_equal(native_generic(AR_OP_MINMAX, NULL, NULL, r, 4, w, 3), 0);
	assert_true(mn == 1 && mx == 2);
	r[1] = (struct ar_arg){ &nd16, 2, VACCEL_ARG_INT16, 0 };
	assert_int_equal(native_generic(AR_OP_MINMAX, NULL, NULL, r, 4, w, 3), -EINVAL);
	{
		struct ar_arg fr[2] = { { a, sizeof(a), VACCEL_ARG_FLOAT32_ARRAY, 0 },
					{ b, sizeof(b), VACCEL_ARG_FLOAT32_ARRAY, 0 } };
		struct ar_arg fw = { c, sizeof(c), VACCEL_ARG_FLOAT32_ARRAY, 0 };

		assert_int_equal(native_generic(AR_OP_FPGA_VECTORADD, NULL, NULL, fr, 2,
						&fw, 1), -EINVAL);
		fr[0] = (struct ar_arg){ b, sizeof(b), VACCEL_ARG_FLOAT32_ARRAY, 0 };
		fr[1] = (struct ar_arg){ a, sizeof(a), VACCEL_ARG_FLOAT32_ARRAY, 0 };
		fw = (struct ar_arg){ b, sizeof(b), VACCEL_ARG_FLOAT32_ARRAY, 0 };
		assert_int_equal(native_generic(AR_OP_FPGA_MMULT, NULL, NULL, fr, 2, &fw, 1),
				 -EINVAL);
	}
}

/* Typed arguments a client placed at addresses not aligned for their type
 * (data-area offsets are the client's) reach the plugin aligned, and what
 * the plugin writes into such a copy comes back; past 64 KiB they are
 * refused. */
static void test_vplugin_misaligned_args_aligned(void **state)
{
	struct ar_client *c;
	struct ar_queue *q;
	struct ar_cqe cqe;
	uint32_t sid;
	uint8_t *area;
	int32_t bad = -1;

	(void)state;
	assert_int_equal(ar_client_connect(NULL, &c), 0);
	assert_int_equal(ar_queue_get(c, &q), 0);
	assert_int_equal(ar_session_open(q, 0, &sid), 0);
	area = ar_buf_alloc(q, 4096);
	assert_non_null(area);
	memset(area, 0, 4096);
	{
		double v[3] = { 1.5, -2, 8 };
		struct ar_arg r[] = {
			{ area + 1, sizeof(v), VACCEL_ARG_FLOAT64_ARRAY, 0 },
			{ area + 1001, 4, VACCEL_ARG_INT32, 0 },
			{ area + 2001, 3, VACCEL_ARG_RAW, 0 },
		};
		struct ar_arg w[] = {
			{ &bad, 4, VACCEL_ARG_INT32, 0 },
			{ area + 3001, 16, VACCEL_ARG_UINT64_ARRAY, 0 },
		};

		memcpy(area + 1, v, sizeof(v));
		assert_int_equal(ar_submit_generic(q, sid, AR_OP_EXEC, LIB, "align", r, 3,
						   w, 2, 1), 0);
		assert_int_equal(ar_wait(q, &cqe, 1, 1, -1), 1);
		assert_int_equal(cqe.status, 0);
		assert_int_equal(bad, 0);
		for (int i = 0; i < 16; i++)
			assert_int_equal(area[3001 + i], 0xab);
		assert_int_equal(area[3000], 0);
		assert_int_equal(area[3017], 0);
	}
	{
		/* minmax's doubles at odd offsets, results back in place. */
		double v[3] = { 4, -1, 9 }, mn, mx;
		int32_t n = 3, lo = 0, hi = 5;
		struct ar_arg r[] = {
			{ area + 9, sizeof(v), VACCEL_ARG_FLOAT64_ARRAY, 0 },
			{ &n, 4, VACCEL_ARG_INT32, 0 },
			{ &lo, 4, VACCEL_ARG_INT32, 0 },
			{ &hi, 4, VACCEL_ARG_INT32, 0 },
		};
		struct ar_arg w[] = {
			{ area + 101, sizeof(v), VACCEL_ARG_FLOAT64_ARRAY, 0 },
			{ area + 203, 8, VACCEL_ARG_FLOAT64, 0 },
			{ area + 305, 8, VACCEL_ARG_FLOAT64, 0 },
		};
		double out[3];

		memcpy(area + 9, v, sizeof(v));
		assert_int_equal(ar_submit_generic(q, sid, AR_OP_MINMAX, NULL, NULL, r, 4,
						   w, 3, 2), 0);
		assert_int_equal(ar_wait(q, &cqe, 1, 1, -1), 1);
		assert_int_equal(cqe.status, 0);
		memcpy(out, area + 101, sizeof(out));
		memcpy(&mn, area + 203, 8);
		memcpy(&mx, area + 305, 8);
		assert_true(out[0] == 4 && out[1] == 0 && out[2] == 5);
		assert_true(mn == -1 && mx == 9);
	}
	ar_buf_free(q, area);
	{
		/* A large one misaligned on purpose is refused: the broker does
		 * not allocate a tenant's data area's worth per op. */
		size_t n = (128u << 10) + 8;
		uint8_t *big = ar_buf_alloc(q, n);
		struct ar_arg r = { big + 4, (uint32_t)(n - 8), VACCEL_ARG_FLOAT64_ARRAY, 0 };
		struct ar_arg w = { &bad, 4, VACCEL_ARG_INT32, 0 };

		assert_non_null(big);
		assert_int_equal(ar_submit_generic(q, sid, AR_OP_EXEC, LIB, "align", &r, 1,
						   &w, 1, 3), 0);
		assert_int_equal(ar_wait(q, &cqe, 1, 1, -1), 1);
		assert_int_equal(cqe.status, -EINVAL);
		ar_buf_free(q, big);
	}
	assert_int_equal(ar_session_close(q, sid), 0);
	ar_client_close(c);
}

/* An op the plugin registered but the broker cannot serve (tf's load
 * takes a status object), and one it did not register: ENOTSUP, as
 * upstream answers when no plugin implements an op. */
static void test_vplugin_unserved_enotsup(void **state)
{
	static const char bytes[] = "a tf model";
	struct vaccel_session s;
	struct vaccel_resource model;
	struct vaccel_tf_status st = { 0 };
	unsigned char img[8] = { 0 }, name[8];

	(void)state;
	assert_int_equal(vaccel_session_init(&s, 0), 0);
	assert_int_equal(vaccel_resource_init_from_buf(&model, bytes, sizeof(bytes),
						       VACCEL_RESOURCE_MODEL, "m.pb", true), 0);
	assert_int_equal(vaccel_resource_register(&model, &s), 0);
	assert_int_equal(vaccel_tf_model_load(&s, &model, &st), VACCEL_ENOTSUP);
	assert_int_equal(vaccel_resource_unregister(&model, &s), 0);
	assert_int_equal(vaccel_resource_release(&model), 0);
	assert_int_equal(vaccel_image_pose(&s, img, name, sizeof(img), sizeof(name)),
			 VACCEL_ENOTSUP);
	/* And the broker serves on. */
	assert_int_equal(vaccel_noop(&s), 0);
	assert_int_equal(vaccel_session_release(&s), 0);
}

/* A registration from a plugin's op, on a worker, long after init: refused
 * with EPERM and logged; the op it tried to add stays unserved. */
static void test_vplugin_late_register_refused(void **state)
{
	struct vaccel_session s;
	int32_t ret = -1;
	struct vaccel_arg w = arg(&ret, 4, VACCEL_ARG_INT32, 0);
	unsigned char img[8] = { 0 }, name[8];

	(void)state;
	assert_int_equal(vaccel_session_init(&s, 0), 0);
	assert_int_equal(vaccel_exec(&s, LIB, "register", NULL, 0, &w, 1), 0);
	assert_int_equal(ret, VACCEL_EPERM);
	assert_int_equal(vaccel_image_pose(&s, img, name, sizeof(img), sizeof(name)),
			 VACCEL_ENOTSUP);
	assert_int_equal(vaccel_noop(&s), 0);
	assert_int_equal(vaccel_session_release(&s), 0);
	assert_true(test_broker_logged(&broker, "vaccel_plugin_register_ops() outside a "
					       "plugin's init"));
}

/* In a client, the plugin API refuses: plugins run in the broker. NULLs
 * are EINVAL, as upstream. */
static void test_vplugin_client_api_refuses(void **state)
{
	struct vaccel_op op = { VACCEL_OP_NOOP, (void *)test_vplugin_client_api_refuses, NULL };

	(void)state;
	assert_int_equal(vaccel_plugin_load(AR_VSTYLE_PLUGIN), VACCEL_ENOTSUP);
	assert_int_equal(vaccel_plugin_load(NULL), VACCEL_EINVAL);
	assert_int_equal(vaccel_plugin_parse_and_load(AR_VSTYLE_PLUGIN ":" AR_VSTYLE_PLUGIN),
			 VACCEL_ENOTSUP);
	assert_int_equal(vaccel_plugin_parse_and_load(NULL), VACCEL_EINVAL);
	assert_int_equal(vaccel_plugin_register_ops(&op, 1), VACCEL_ENOTSUP);
	assert_int_equal(vaccel_plugin_register_op(&op), VACCEL_ENOTSUP);
	assert_int_equal(vaccel_plugin_register_ops(NULL, 1), VACCEL_EINVAL);
	assert_int_equal(vaccel_plugin_register_ops(&op, 0), VACCEL_EINVAL);
}

/*
 * Run accelringd with plugins, to its exit, its log in out. Returns its
 * exit status (-1 if it did not exit).
 */
static int run_broker(const char *plugins, char *out, size_t cap)
{
	char dir[] = "/tmp/accelring-vplug.XXXXXX", cmd[2048];
	size_t n = 0;
	FILE *p;
	int st;

	assert_non_null(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd), "%s --socket=%s/s.sock --plugin-dir=%s "
		 "--plugins=%s --log-level=info 2>&1", AR_BROKER_PATH, dir,
		 AR_PLUGIN_BUILD_DIR, plugins);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (n + 1 < cap && fgets(out + n, (int)(cap - n), p))
		n += strlen(out + n);
	out[n] = '\0';
	st = pclose(p);
	unlink(strcat(strcpy(cmd, dir), "/s.sock"));
	rmdir(dir);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Each broken descriptor stops the broker at start, with a line that
 * says what is wrong. */
static void test_vplugin_bad_descriptors_refused(void **state)
{
	static const struct {
		const char *kind, *says;
	} bad[] = {
		{ "no_init", "descriptor lacks an init function" },
		{ "no_name", "descriptor lacks a name" },
		{ "range", "registers op type 27, past the last op (23): refused" },
		{ "dup", "registers noop twice: refused" },
		{ "owner", "registers noop for another plugin" },
		{ "init_fails", "init failed: No such device" },
		{ "version", "built for vAccel 99.1.0, incompatible" },
	};
	char path[512], log[16384];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(path, sizeof(path), "%s/libar_test_vbad_%s.so", AR_VBAD_PLUGIN_DIR,
			 bad[i].kind);
		assert_int_equal(access(path, R_OK), 0);
		assert_int_not_equal(run_broker(path, log, sizeof(log)), 0);
		if (!strstr(log, bad[i].says))
			fail_msg("%s: no '%s' in:\n%s", bad[i].kind, bad[i].says, log);
		/* A refused registration fails the load even if init said 0. */
		if (!strcmp(bad[i].kind, "range") && !strstr(log, "1 registration refused"))
			fail_msg("range: load not refused:\n%s", log);
	}
	/* Loaded after a good one: nothing of the good one is left running
	 * either (the broker exits 1, cleanly: no sanitizer report). */
	snprintf(path, sizeof(path), "%s:%s/libar_test_vbad_dup.so", AR_VSTYLE_PLUGIN,
		 AR_VBAD_PLUGIN_DIR);
	assert_int_equal(run_broker(path, log, sizeof(log)), 1);
	assert_non_null(strstr(log, "registers noop twice"));
	assert_null(strstr(log, "ERROR: "));	/* ASan, LSan, UBSan, TSan */
	assert_null(strstr(log, "WARNING: ThreadSanitizer"));
}

/* A vAccel plugin linked to libvaccel (our libvaccel.so.0 in the broker)
 * registers through the broker's vaccel_plugin_register_ops and serves,
 * using libvaccel's arg-array functions. */
static void test_vplugin_linked_to_libvaccel(void **state)
{
	const char *args[] = { "--plugins=" AR_VSTYLE_LINKED_PLUGIN, NULL };
	struct test_broker b2;
	struct vaccel_session s;
	int32_t i = 40;
	float f = 2.25f, out = 0;
	struct vaccel_arg r[] = { arg(&i, 4, VACCEL_ARG_INT32, 0),
				  arg(&f, 4, VACCEL_ARG_FLOAT32, 0) };
	struct vaccel_arg w = arg(&out, 4, VACCEL_ARG_FLOAT32, 0);

	(void)state;
	vaccel_cleanup();
	assert_int_equal(test_broker_start(&b2, args), 0);
	assert_true(test_broker_logged(&b2, "loaded vAccel plugin vaccel_style_linked"));
	assert_int_equal(vaccel_session_init(&s, 0), 0);
	assert_int_equal(vaccel_exec(&s, LIB, "sum", r, 2, &w, 1), 0);
	assert_true(out == 42.25f);
	assert_int_equal(vaccel_noop(&s), 0);
	assert_int_equal(vaccel_session_release(&s), 0);
	vaccel_cleanup();
	assert_int_equal(test_broker_stop(&b2), 0);
	setenv("ACCELRING_ADDRESS", broker.address, 1);
}

/* With accelring's noop plugin listed first, a session hinting CPU (the
 * vAccel plugin's type) gets the vAccel plugin's noop, one with no hint
 * the first listed. */
static void test_vplugin_hints_route(void **state)
{
	const char *args[] = { "--plugins=noop:" AR_VSTYLE_PLUGIN, NULL };
	struct test_broker b2;
	struct vaccel_session cpu, any;
	uint64_t n0;

	(void)state;
	vaccel_cleanup();
	assert_int_equal(test_broker_start(&b2, args), 0);
	assert_int_equal(vaccel_session_init(&cpu, VACCEL_PLUGIN_CPU), 0);
	assert_int_equal(vaccel_session_init(&any, 0), 0);
	n0 = noop_count(&cpu);
	assert_int_equal(vaccel_noop(&any), 0);
	assert_int_equal(noop_count(&cpu), n0);
	assert_int_equal(vaccel_noop(&cpu), 0);
	assert_int_equal(noop_count(&cpu), n0 + 1);
	assert_int_equal(vaccel_session_release(&cpu), 0);
	assert_int_equal(vaccel_session_release(&any), 0);
	vaccel_cleanup();
	assert_int_equal(test_broker_stop(&b2), 0);
	setenv("ACCELRING_ADDRESS", broker.address, 1);
}

/* The broker's executable exports one vaccel_ symbol:
 * vaccel_plugin_register_ops. */
static void test_vplugin_broker_exports_one(void **state)
{
	char line[512], cmd[1024];
	int n = 0, ours = 0;
	FILE *p;

	(void)state;
	snprintf(cmd, sizeof(cmd), "nm -D --defined-only %s", AR_BROKER_PATH);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p)) {
		if (!strstr(line, " vaccel_"))
			continue;
		n++;
		ours += strstr(line, " T vaccel_plugin_register_ops\n") != NULL;
	}
	assert_int_equal(pclose(p), 0);
	assert_int_equal(n, 1);
	assert_int_equal(ours, 1);
}

/* The suite's broker exits 0 on SIGTERM (fini ran, no sanitizer report). */
static void test_vplugin_exits_clean(void **state)
{
	(void)state;
	vaccel_cleanup();
	assert_int_equal(test_broker_stop(&broker), 0);
}

static int setup(void **state)
{
	/* Several workers, so that the plugin's ops run concurrently. */
	const char *args[] = { "--plugins=" AR_VSTYLE_PLUGIN, "--workers=4", NULL };

	(void)state;
	return test_broker_start(&broker, args);
}

static int teardown(void **state)
{
	(void)state;
	vaccel_cleanup();
	if (broker.pid <= 0)
		return 0;
	return test_broker_stop(&broker) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vplugin_loaded_and_logged),
		cmocka_unit_test(test_vplugin_noop_counted),
		cmocka_unit_test(test_vplugin_concurrent_clients),
		cmocka_unit_test(test_vplugin_sgemm_matches_cblas),
		cmocka_unit_test(test_vplugin_exec_typed_args),
		cmocka_unit_test(test_vplugin_resources),
		cmocka_unit_test(test_vplugin_session_seen),
		cmocka_unit_test(test_vplugin_image_ops),
		cmocka_unit_test(test_vplugin_minmax_fpga_opencv),
		cmocka_unit_test(test_vplugin_lengths_bounded),
		cmocka_unit_test(test_vplugin_misaligned_args_aligned),
		cmocka_unit_test(test_vplugin_unserved_enotsup),
		cmocka_unit_test(test_vplugin_late_register_refused),
		cmocka_unit_test(test_vplugin_client_api_refuses),
		cmocka_unit_test(test_vplugin_bad_descriptors_refused),
		cmocka_unit_test(test_vplugin_linked_to_libvaccel),
		cmocka_unit_test(test_vplugin_hints_route),
		cmocka_unit_test(test_vplugin_broker_exports_one),
		cmocka_unit_test(test_vplugin_exits_clean),
	};

	if (getenv("ACCELRING_TEST_FILTER"))
		cmocka_set_test_filter(getenv("ACCELRING_TEST_FILTER"));
	return cmocka_run_group_tests_name("broker_vplugin", tests, setup, teardown);
}

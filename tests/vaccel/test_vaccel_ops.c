/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_vaccel_ops - every op function of <vaccel/ops/...>, end to end: a
 * real accelringd with the echo test plugin first (tests/plugins/echo.c:
 * its outputs say what it received), then blas and noop. Each op with good
 * input (its outputs, the types and lengths the plugin received, output
 * tensors, statuses) and bad input (refused by the client, by the broker's
 * checks, or by the plugin); genop with upstream's argument orders; large
 * arguments through the data area both ways; a dead session; an op that
 * no plugin serves (a second broker with blas alone, driven by a child
 * process of this program); profiling regions (a child process with
 * VACCEL_PROFILING_ENABLED=1).
 *
 * The tests with resources (vaccel_resource_init/register) and tensors
 * need those groups in the library: until they are, they fail and say so.
 */
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
#include <unistd.h>

#include <cmocka.h>

#include <vaccel.h>

#include "broker_harness.h"
#include "echo.h"
#include "run_child.h"

#ifndef AR_ECHO_PLUGIN
#error "AR_ECHO_PLUGIN must name the echo test plugin"
#endif

/* The resources group may not be in the library yet: referenced weakly,
 * so that the suite links, and checked before use (res_open). */
#pragma weak vaccel_resource_init
#pragma weak vaccel_resource_register
#pragma weak vaccel_resource_unregister
#pragma weak vaccel_resource_release


/* What plugins/noop.c writes for the image ops. */
#define DUMMY_TAG "This is a dummy classification tag!"
#define DUMMY_IMGNAME "This is a dummy imgname!"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static struct test_broker broker;

/* The files the model and library resources name. */
static char tmpdir[64];
static char path_pt[128], path_pb[128], path_tflite[128], path_lib[128], path_gone[128];

/* ---- helpers ---- */

static int write_file(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fputs("not really a model\n", f);
	return fclose(f);
}

/* What echo records of a resource made from a file write_file wrote. */
static void check_res_rec(const struct echo_rec *rec, uint32_t type)
{
	static const char body[] = "not really a model\n";

	assert_int_not_equal(rec->res_id, 0);
	assert_int_equal(rec->res_type, type);
	assert_int_equal(rec->res_files, 1);
	assert_int_equal(rec->res_size, sizeof(body) - 1);
	assert_true(rec->res_fnv == echo_fnv(body, sizeof(body) - 1));
	assert_int_equal(rec->res_path_ok, 1);
}

static void files_teardown(void)
{
	if (!tmpdir[0])
		return;
	unlink(path_pt);
	unlink(path_pb);
	unlink(path_tflite);
	unlink(path_lib);
	unlink(path_gone);
	rmdir(tmpdir);
	tmpdir[0] = '\0';
}

static int files_setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/accelring-ops.XXXXXX");
	if (!mkdtemp(tmpdir)) {
		tmpdir[0] = '\0';
		return -1;
	}
	atexit(files_teardown);
	snprintf(path_pt, sizeof(path_pt), "%s/model.pt", tmpdir);
	snprintf(path_pb, sizeof(path_pb), "%s/model.pb", tmpdir);
	snprintf(path_tflite, sizeof(path_tflite), "%s/model.tflite", tmpdir);
	snprintf(path_lib, sizeof(path_lib), "%s/libecho.so", tmpdir);
	snprintf(path_gone, sizeof(path_gone), "%s/gone.pt", tmpdir);
	return write_file(path_pt) || write_file(path_pb) || write_file(path_tflite) ||
	       write_file(path_lib);
}

static struct vaccel_arg arg(const void *buf, size_t size, vaccel_arg_type_t type, uint32_t id)
{
	return (struct vaccel_arg){ .buf = (void *)buf, .size = size, .type = type,
				    .custom_type_id = id };
}

static void sess_open(struct vaccel_session *s)
{
	assert_int_equal(vaccel_session_init(s, 0), 0);
}

static void sess_close(struct vaccel_session *s)
{
	assert_int_equal(vaccel_session_release(s), 0);
}

/* A resource of path, registered with s. */
static void res_open(struct vaccel_resource *r, struct vaccel_session *s, const char *path,
		     vaccel_resource_type_t type)
{
	if (!vaccel_resource_init || !vaccel_resource_register)
		fail_msg("vaccel_resource_init/register are not in this library yet "
			 "(the resources group)");
	assert_int_equal(vaccel_resource_init(r, path, type), 0);
	if (s)
		assert_int_equal(vaccel_resource_register(r, s), 0);
}

static void res_close(struct vaccel_resource *r, struct vaccel_session *s)
{
	if (s)
		assert_int_equal(vaccel_resource_unregister(r, s), 0);
	assert_int_equal(vaccel_resource_release(r), 0);
}

/* The record echo wrote: the op, its library and symbol, and each
 * argument's type, custom id and length as the caller built it. */
static void check_rec(const struct echo_rec *rec, uint32_t op, const char *lib,
		      const char *sym, const struct vaccel_arg *rd, size_t nr,
		      const struct vaccel_arg *wr, size_t nw)
{
	assert_int_equal(rec->magic, ECHO_MAGIC);
	assert_int_equal(rec->op, op);
	assert_string_equal(rec->library, lib);
	assert_string_equal(rec->symbol, sym);
	assert_int_equal(rec->nr_read, nr);
	assert_int_equal(rec->nr_write, nw);
	for (size_t i = 0; i < nr; i++) {
		assert_int_equal(rec->read[i].type, rd[i].type);
		assert_int_equal(rec->read[i].custom_id, rd[i].custom_type_id);
		assert_int_equal(rec->read[i].len, rd[i].size);
	}
	for (size_t i = 0; i < nw; i++) {
		assert_int_equal(rec->write[i].type, wr[i].type);
		assert_int_equal(rec->write[i].custom_id, wr[i].custom_type_id);
		assert_int_equal(rec->write[i].len, wr[i].size);
	}
}

static void fill_bytes(void *p, size_t n, unsigned seed)
{
	unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		b[i] = (unsigned char)(i * 31 + seed * 7 + (i >> 8));
}

static bool all_bytes(const void *p, size_t n, unsigned char v)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i] != v)
			return false;
	return true;
}

static struct vaccel_torch_tensor *torch_in(int64_t nd, const int64_t *dims,
					    enum vaccel_torch_data_type type, void *data,
					    size_t size)
{
	struct vaccel_torch_tensor *t = NULL;
	int ret = vaccel_torch_tensor_new(&t, nd, dims, type);

	if (ret)
		fail_msg("vaccel_torch_tensor_new: %d (is the tensors group in this library?)",
			 ret);
	assert_int_equal(vaccel_torch_tensor_set_data(t, data, size), 0);
	return t;
}

static struct vaccel_tf_tensor *tf_in(int nd, const int64_t *dims,
				      enum vaccel_tf_data_type type, void *data, size_t size)
{
	struct vaccel_tf_tensor *t = NULL;
	int ret = vaccel_tf_tensor_new(&t, nd, dims, type);

	if (ret)
		fail_msg("vaccel_tf_tensor_new: %d (is the tensors group in this library?)", ret);
	assert_int_equal(vaccel_tf_tensor_set_data(t, data, size), 0);
	return t;
}

static struct vaccel_tflite_tensor *tflite_in(int nd, const int32_t *dims,
					      enum vaccel_tflite_data_type type, void *data,
					      size_t size)
{
	struct vaccel_tflite_tensor *t = NULL;
	int ret = vaccel_tflite_tensor_new(&t, nd, dims, type);

	if (ret)
		fail_msg("vaccel_tflite_tensor_new: %d (is the tensors group in this library?)",
			 ret);
	assert_int_equal(vaccel_tflite_tensor_set_data(t, data, size), 0);
	return t;
}

/* ---- noop ---- */

/* noop runs on the broker; a NULL, released or never initialized session
 * is EINVAL. */
static void test_vaccel_ops_noop(void **state)
{
	struct vaccel_session s, never;

	(void)state;
	sess_open(&s);
	for (int i = 0; i < 100; i++)
		assert_int_equal(vaccel_noop(&s), 0);
	sess_close(&s);
	assert_int_equal(vaccel_noop(&s), VACCEL_EINVAL);
	assert_int_equal(vaccel_noop(NULL), VACCEL_EINVAL);
	memset(&never, 0, sizeof(never));
	assert_int_equal(vaccel_noop(&never), VACCEL_EINVAL);
}

/* ---- sgemm ---- */

static void ref_sgemm(int64_t m, int64_t n, int64_t k, float alpha, const float *a,
		      int64_t lda, const float *b, int64_t ldb, float beta, float *c,
		      int64_t ldc)
{
	for (int64_t i = 0; i < m; i++)
		for (int64_t j = 0; j < n; j++) {
			double s = 0;

			for (int64_t x = 0; x < k; x++)
				s += (double)a[i * lda + x] * b[x * ldb + j];
			c[i * ldc + j] = (float)(alpha * s + (beta != 0.0f ? beta * c[i * ldc + j] : 0));
		}
}

static void fill_floats(float *x, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		x[i] = (float)((int)((i * 7 + seed * 13) % 23) - 11) / 8.0f;
}

/* sgemm on blas equals the reference for odd shapes and leading dimensions
 * wider than the rows, small and large (staged) matrices, beta 0 or not;
 * the elements of C between n and ldc are the caller's and stay as they
 * were. Bad shapes and buffers are EINVAL. */
static void test_vaccel_ops_sgemm(void **state)
{
	static const int64_t shapes[][6] = {
		/* m, n, k, lda, ldb, ldc */
		{ 1, 1, 1, 1, 1, 1 },
		{ 2, 3, 4, 4, 3, 3 },
		{ 3, 5, 2, 4, 7, 6 },
		{ 48, 40, 56, 56, 40, 44 },
	};
	static const float betas[] = { 0.5f, 0.0f };
	struct vaccel_session s;
	float a[4], b[4], c[4];

	(void)state;
	sess_open(&s);
	for (size_t t = 0; t < ARRAY_SIZE(shapes); t++)
		for (size_t bi = 0; bi < ARRAY_SIZE(betas); bi++) {
			int64_t m = shapes[t][0], n = shapes[t][1], k = shapes[t][2];
			int64_t lda = shapes[t][3], ldb = shapes[t][4], ldc = shapes[t][5];
			size_t na = (size_t)((m - 1) * lda + k), nb = (size_t)((k - 1) * ldb + n),
			       nc = (size_t)((m - 1) * ldc + n);
			float *ma = malloc(na * 4), *mb = malloc(nb * 4), *mc = malloc(nc * 4),
			      *want = malloc(nc * 4);

			assert_non_null(ma);
			assert_non_null(mb);
			assert_non_null(mc);
			assert_non_null(want);
			fill_floats(ma, na, 1);
			fill_floats(mb, nb, 2);
			fill_floats(mc, nc, 3);
			/* The padding of each row of C: the caller's (a value
			 * of its own each time, so that a stale copy shows). */
			for (int64_t i = 0; i < m - 1; i++)
				for (int64_t j = n; j < ldc; j++)
					mc[i * ldc + j] = 777.0f + (float)(t * 2 + bi);
			memcpy(want, mc, nc * 4);
			ref_sgemm(m, n, k, 0.75f, ma, lda, mb, ldb, betas[bi], want, ldc);
			assert_int_equal(vaccel_sgemm(&s, m, n, k, 0.75f, ma, lda, mb, ldb,
						      betas[bi], mc, ldc), 0);
			for (size_t i = 0; i < nc; i++)
				if (fabsf(mc[i] - want[i]) > 1e-3f)
					fail_msg("shape %zu beta %g: c[%zu] = %g, want %g", t,
						 (double)betas[bi], i, (double)mc[i],
						 (double)want[i]);
			free(ma);
			free(mb);
			free(mc);
			free(want);
		}
	/* Bad input, refused before anything runs. */
	assert_int_equal(vaccel_sgemm(NULL, 1, 1, 1, 1, a, 1, b, 1, 0, c, 1), VACCEL_EINVAL);
	assert_int_equal(vaccel_sgemm(&s, 1, 1, 1, 1, NULL, 1, b, 1, 0, c, 1), VACCEL_EINVAL);
	assert_int_equal(vaccel_sgemm(&s, 1, 1, 1, 1, a, 1, NULL, 1, 0, c, 1), VACCEL_EINVAL);
	assert_int_equal(vaccel_sgemm(&s, 1, 1, 1, 1, a, 1, b, 1, 0, NULL, 1), VACCEL_EINVAL);
	assert_int_equal(vaccel_sgemm(&s, 0, 1, 1, 1, a, 1, b, 1, 0, c, 1), VACCEL_EINVAL);
	assert_int_equal(vaccel_sgemm(&s, 1, -1, 1, 1, a, 1, b, 1, 0, c, 1), VACCEL_EINVAL);
	assert_int_equal(vaccel_sgemm(&s, 1, 1, 0, 1, a, 1, b, 1, 0, c, 1), VACCEL_EINVAL);
	assert_int_equal(vaccel_sgemm(&s, 2, 2, 2, 1, a, 1, b, 2, 0, c, 2), VACCEL_EINVAL);
	assert_int_equal(vaccel_sgemm(&s, 2, 2, 2, 1, a, 2, b, 1, 0, c, 2), VACCEL_EINVAL);
	assert_int_equal(vaccel_sgemm(&s, 2, 2, 2, 1, a, 2, b, 2, 0, c, 1), VACCEL_EINVAL);
	assert_int_equal(vaccel_sgemm(&s, 1, 1, 1, 1, a, (int64_t)1 << 40, b, 1, 0, c, 1),
			 VACCEL_EINVAL);
	sess_close(&s);
	assert_int_equal(vaccel_sgemm(&s, 1, 1, 1, 1, a, 1, b, 1, 0, c, 1), VACCEL_EINVAL);
}

/* ---- images ---- */

/* The image ops return noop's dummy strings, truncated (and terminated) to
 * the room given; a large image travels through the data area, and so do
 * output buffers larger than a completion (64 KiB); NULL buffers with
 * lengths are EINVAL. */
static void test_vaccel_ops_image(void **state)
{
	typedef int (*img_fn)(struct vaccel_session *, const void *, unsigned char *, size_t,
			      size_t);
	static const img_fn fns[] = { vaccel_image_detection, vaccel_image_segmentation,
				      vaccel_image_pose, vaccel_image_depth };
	enum { BIG = 16384 };
	unsigned char img[64] = "an image", text[128], name[128];
	static unsigned char big[BIG], btext[65536], bname[65536];
	struct vaccel_session s;

	(void)state;
	fill_bytes(big, BIG, 5);
	sess_open(&s);
	memset(text, 'x', sizeof(text));
	memset(name, 'x', sizeof(name));
	assert_int_equal(vaccel_image_classification(&s, img, text, name, sizeof(img),
						     sizeof(text), sizeof(name)), 0);
	assert_string_equal((char *)text, DUMMY_TAG);
	assert_string_equal((char *)name, DUMMY_IMGNAME);
	/* Truncated to the room, terminated, the rest untouched. */
	memset(text, 'x', sizeof(text));
	memset(name, 'x', sizeof(name));
	assert_int_equal(vaccel_image_classification(&s, img, text, name, sizeof(img), 8, 5), 0);
	assert_string_equal((char *)text, "This is");
	assert_string_equal((char *)name, "This");
	assert_true(all_bytes(text + 8, sizeof(text) - 8, 'x'));
	assert_true(all_bytes(name + 5, sizeof(name) - 5, 'x'));
	/* No text asked for: only the name. */
	memset(name, 'x', sizeof(name));
	assert_int_equal(vaccel_image_classification(&s, img, NULL, name, sizeof(img), 0,
						     sizeof(name)), 0);
	assert_string_equal((char *)name, DUMMY_IMGNAME);
	/* Large image, large outputs (larger than a completion carries):
	 * the string, and the rest of the room as it was. */
	memset(btext, 'x', sizeof(btext));
	memset(bname, 'x', sizeof(bname));
	assert_int_equal(vaccel_image_classification(&s, big, btext, bname, BIG, sizeof(btext),
						     sizeof(bname)), 0);
	assert_string_equal((char *)btext, DUMMY_TAG);
	assert_string_equal((char *)bname, DUMMY_IMGNAME);
	assert_true(all_bytes(btext + sizeof(DUMMY_TAG), sizeof(btext) - sizeof(DUMMY_TAG), 'x'));
	assert_true(all_bytes(bname + sizeof(DUMMY_IMGNAME), sizeof(bname) - sizeof(DUMMY_IMGNAME),
			      'x'));
	for (size_t f = 0; f < ARRAY_SIZE(fns); f++) {
		memset(name, 'x', sizeof(name));
		assert_int_equal(fns[f](&s, img, name, sizeof(img), sizeof(name)), 0);
		assert_string_equal((char *)name, DUMMY_IMGNAME);
		memset(bname, 'x', sizeof(bname));
		assert_int_equal(fns[f](&s, big, bname, BIG, sizeof(bname)), 0);
		assert_string_equal((char *)bname, DUMMY_IMGNAME);
		assert_true(all_bytes(bname + sizeof(DUMMY_IMGNAME),
				      sizeof(bname) - sizeof(DUMMY_IMGNAME), 'x'));
		assert_int_equal(fns[f](NULL, img, name, sizeof(img), sizeof(name)),
				 VACCEL_EINVAL);
		assert_int_equal(fns[f](&s, NULL, name, 8, sizeof(name)), VACCEL_EINVAL);
		assert_int_equal(fns[f](&s, img, NULL, sizeof(img), 8), VACCEL_EINVAL);
	}
	assert_int_equal(vaccel_image_classification(NULL, img, text, name, 8, 8, 8),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_image_classification(&s, NULL, text, name, 8, 8, 8),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_image_classification(&s, img, NULL, name, 8, 8, 8),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_image_classification(&s, img, text, NULL, 8, 8, 8),
			 VACCEL_EINVAL);
	sess_close(&s);
	assert_int_equal(vaccel_image_classification(&s, img, text, name, 8, 8, 8),
			 VACCEL_EINVAL);
	for (size_t f = 0; f < ARRAY_SIZE(fns); f++)
		assert_int_equal(fns[f](&s, img, name, sizeof(img), sizeof(name)),
				 VACCEL_EINVAL);
}

/* ---- exec ---- */

/* exec hands the plugin every argument with the type, custom id and
 * length the caller gave; outputs come back where they have room, and
 * what the plugin did not write stays as it was. */
static void test_vaccel_ops_exec_typed_args(void **state)
{
	struct range {
		int32_t lo, hi;
	} cu = { 3, 9 }, o_cu = { 0, 0 };
	int32_t i32 = -7, o_i32 = 0;
	double f64[3] = { 1.5, -2.5, 3.25 }, o_f64[3] = { 0 };
	char str[] = "hello";
	unsigned char blob[5] = { 1, 2, 3, 4, 5 }, o_str[16], o_blob[2] = { 0xee, 0xee };
	bool flag = true, o_flag = false;
	int64_t i64 = (int64_t)1 << 40, o_i64 = 0;
	uint16_t u16[4] = { 1, 2, 65535, 4 }, o_u16[4] = { 0 };
	struct echo_rec rec;
	struct vaccel_arg rd[] = {
		arg(&i32, sizeof(i32), VACCEL_ARG_INT32, 0),
		arg(f64, sizeof(f64), VACCEL_ARG_FLOAT64_ARRAY, 0),
		arg(str, sizeof(str), VACCEL_ARG_STRING, 0),
		arg(blob, sizeof(blob), VACCEL_ARG_BUFFER, 0),
		arg(&cu, sizeof(cu), VACCEL_ARG_CUSTOM, 42),
		arg(&flag, 1, VACCEL_ARG_BOOL, 0),
		arg(&i64, sizeof(i64), VACCEL_ARG_INT64, 0),
		arg(u16, sizeof(u16), VACCEL_ARG_UINT16_ARRAY, 0),
		arg(blob, 3, VACCEL_ARG_RAW, 0),
	};
	struct vaccel_arg wr[] = {
		arg(&o_i32, sizeof(o_i32), VACCEL_ARG_INT32, 0),
		arg(o_f64, sizeof(o_f64), VACCEL_ARG_FLOAT64_ARRAY, 0),
		arg(o_str, sizeof(o_str), VACCEL_ARG_BUFFER, 0),
		arg(o_blob, sizeof(o_blob), VACCEL_ARG_BUFFER, 7),
		arg(&o_cu, sizeof(o_cu), VACCEL_ARG_CUSTOM, 42),
		arg(&o_flag, 1, VACCEL_ARG_BOOL, 0),
		arg(&o_i64, sizeof(o_i64), VACCEL_ARG_INT64, 0),
		arg(o_u16, sizeof(o_u16), VACCEL_ARG_UINT16_ARRAY, 0),
		arg(&rec, sizeof(rec), VACCEL_ARG_RAW, 0),
	};
	struct vaccel_session s;

	(void)state;
	memset(o_str, 'x', sizeof(o_str));
	memset(&rec, 0, sizeof(rec));
	sess_open(&s);
	assert_int_equal(vaccel_exec(&s, "libmytestlib.so", "mytestfunc", rd, ARRAY_SIZE(rd),
				     wr, ARRAY_SIZE(wr)), 0);
	check_rec(&rec, VACCEL_OP_EXEC, "libmytestlib.so", "mytestfunc", rd, ARRAY_SIZE(rd),
		  wr, ARRAY_SIZE(wr));
	assert_int_equal(o_i32, -7);
	assert_memory_equal(o_f64, f64, sizeof(f64));
	assert_string_equal((char *)o_str, "hello");
	assert_true(all_bytes(o_str + sizeof(str), sizeof(o_str) - sizeof(str), 'x'));
	/* No room for the 5 bytes: not written. */
	assert_true(all_bytes(o_blob, sizeof(o_blob), 0xee));
	assert_int_equal(o_cu.lo, 3);
	assert_int_equal(o_cu.hi, 9);
	assert_true(o_flag);
	assert_int_equal(o_i64, (int64_t)1 << 40);
	assert_memory_equal(o_u16, u16, sizeof(u16));
	/* The caller's buffers are what travels: nothing of them changed. */
	assert_int_equal(i32, -7);
	assert_string_equal(str, "hello");
	sess_close(&s);
}

/* The argument counts: none at all, the most the wire carries (32 and 32),
 * one more (EINVAL); missing library or symbol, NULL arrays and buffers
 * with sizes, unknown types: EINVAL; a plugin's error is the op's. */
static void test_vaccel_ops_exec_limits(void **state)
{
	int32_t in[32], out[32];
	struct vaccel_arg rd[33], wr[33];
	struct echo_rec rec;
	struct vaccel_session s;

	(void)state;
	sess_open(&s);
	assert_int_equal(vaccel_exec(&s, "lib", "sym", NULL, 0, NULL, 0), 0);
	for (int i = 0; i < 33; i++) {
		if (i < 32)
			in[i] = i * 3 - 50, out[i] = 0;
		rd[i] = arg(&in[i % 32], 4, VACCEL_ARG_INT32, (uint32_t)i);
		wr[i] = arg(&out[i % 32], 4, VACCEL_ARG_INT32, (uint32_t)i);
	}
	memset(&rec, 0, sizeof(rec));
	wr[31] = arg(&rec, sizeof(rec), VACCEL_ARG_RAW, 0);
	assert_int_equal(vaccel_exec(&s, "lib", "sym", rd, 32, wr, 32), 0);
	check_rec(&rec, VACCEL_OP_EXEC, "lib", "sym", rd, 32, wr, 32);
	for (int i = 0; i < 31; i++)
		assert_int_equal(out[i], i * 3 - 50);
	assert_int_equal(vaccel_exec(&s, "lib", "sym", rd, 33, wr, 1), VACCEL_EINVAL);
	assert_int_equal(vaccel_exec(&s, "lib", "sym", rd, 1, wr, 33), VACCEL_EINVAL);
	assert_int_equal(vaccel_exec(&s, "lib", "sym", rd, SIZE_MAX, wr, 1), VACCEL_EINVAL);
	assert_int_equal(vaccel_exec(&s, NULL, "sym", rd, 1, wr, 1), VACCEL_EINVAL);
	assert_int_equal(vaccel_exec(&s, "lib", NULL, rd, 1, wr, 1), VACCEL_EINVAL);
	assert_int_equal(vaccel_exec(NULL, "lib", "sym", rd, 1, wr, 1), VACCEL_EINVAL);
	assert_int_equal(vaccel_exec(&s, "lib", "sym", NULL, 1, wr, 1), VACCEL_EINVAL);
	assert_int_equal(vaccel_exec(&s, "lib", "sym", rd, 1, NULL, 1), VACCEL_EINVAL);
	rd[0] = arg(NULL, 4, VACCEL_ARG_INT32, 0);
	assert_int_equal(vaccel_exec(&s, "lib", "sym", rd, 1, wr, 1), VACCEL_EINVAL);
	rd[0] = arg(NULL, 0, VACCEL_ARG_RAW, 0);
	assert_int_equal(vaccel_exec(&s, "lib", "sym", rd, 1, wr, 1), 0);
	wr[0] = arg(NULL, 8, VACCEL_ARG_RAW, 0);
	assert_int_equal(vaccel_exec(&s, "lib", "sym", rd, 1, wr, 1), VACCEL_EINVAL);
	wr[0] = arg(out, 4, VACCEL_ARG_MAX, 0);
	assert_int_equal(vaccel_exec(&s, "lib", "sym", rd, 1, wr, 1), VACCEL_EINVAL);
	rd[0] = arg(in, 4, (vaccel_arg_type_t)1000, 0);
	wr[0] = arg(out, 4, VACCEL_ARG_INT32, 0);
	assert_int_equal(vaccel_exec(&s, "lib", "sym", rd, 1, wr, 1), VACCEL_EINVAL);
	/* The plugin's errno, as vAccel's code. */
	rd[0] = arg(in, 4, VACCEL_ARG_INT32, 0);
	assert_int_equal(vaccel_exec(&s, "lib", ECHO_FAIL_PREFIX "5", rd, 1, wr, 1), VACCEL_EIO);
	assert_int_equal(vaccel_exec(&s, "lib", ECHO_FAIL_PREFIX "28", rd, 1, wr, 1),
			 VACCEL_ENOSPC);
	sess_close(&s);
	assert_int_equal(vaccel_exec(&s, "lib", "sym", rd, 1, wr, 1), VACCEL_EINVAL);
}

/* The broker checks every typed argument: a scalar's size is its type's,
 * an array holds whole elements, an inline string ends with its NUL, in
 * the data area too; a refused op never reaches the plugin (its record
 * stays unwritten). The same bytes typed RAW pass. */
static void test_vaccel_ops_exec_broker_type_checks(void **state)
{
	static const struct {
		vaccel_arg_type_t type;
		size_t size;
	} bad[] = {
		{ VACCEL_ARG_INT32, 3 },	{ VACCEL_ARG_INT32, 8 },
		{ VACCEL_ARG_INT64, 4 },	{ VACCEL_ARG_INT8, 2 },
		{ VACCEL_ARG_UINT16, 1 },	{ VACCEL_ARG_FLOAT32, 8 },
		{ VACCEL_ARG_FLOAT64, 4 },	{ VACCEL_ARG_BOOL, 2 },
		{ VACCEL_ARG_CHAR, 0 },		{ VACCEL_ARG_FLOAT64_ARRAY, 12 },
		{ VACCEL_ARG_INT32_ARRAY, 6 },	{ VACCEL_ARG_UINT64_ARRAY, 4 },
		{ VACCEL_ARG_STRING, 3 },	{ VACCEL_ARG_STRING, 0 },
		/* in the data area (above 2 KiB) */
		{ VACCEL_ARG_FLOAT32_ARRAY, 4098 }, { VACCEL_ARG_INT64, 4096 },
	};
	static char buf[8192];
	struct echo_rec rec;
	struct vaccel_arg rd, wr[2];
	struct vaccel_session s;
	int32_t out;

	(void)state;
	memset(buf, 'a', sizeof(buf));
	sess_open(&s);
	wr[0] = arg(&out, sizeof(out), VACCEL_ARG_INT32, 0);
	wr[1] = arg(&rec, sizeof(rec), VACCEL_ARG_RAW, 0);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		memset(&rec, 0, sizeof(rec));
		rd = arg(buf, bad[i].size, bad[i].type, 0);
		if (vaccel_exec(&s, "lib", "sym", &rd, 1, wr, 2) != VACCEL_EINVAL)
			fail_msg("type %d size %zu passed", bad[i].type, bad[i].size);
		assert_int_equal(rec.magic, 0);
		/* As RAW the same bytes are fine. */
		rd.type = VACCEL_ARG_RAW;
		assert_int_equal(vaccel_exec(&s, "lib", "sym", &rd, 1, wr, 2), 0);
		assert_int_equal(rec.magic, ECHO_MAGIC);
		assert_int_equal(rec.read[0].len, bad[i].size);
	}
	/* Outputs are checked the same way. */
	memset(&rec, 0, sizeof(rec));
	rd = arg(buf, 4, VACCEL_ARG_RAW, 0);
	wr[0] = arg(buf, 8, VACCEL_ARG_INT32, 0);
	assert_int_equal(vaccel_exec(&s, "lib", "sym", &rd, 1, wr, 2), VACCEL_EINVAL);
	wr[0] = arg(buf, 6, VACCEL_ARG_FLOAT32_ARRAY, 0);
	assert_int_equal(vaccel_exec(&s, "lib", "sym", &rd, 1, wr, 2), VACCEL_EINVAL);
	assert_int_equal(rec.magic, 0);
	/* A string in the data area is only bounds-checked: its bytes may
	 * change under the plugin anyway (accelring/plugin.h). */
	rd = arg(buf, 4096, VACCEL_ARG_STRING, 0);
	wr[0] = arg(&out, sizeof(out), VACCEL_ARG_INT32, 0);
	assert_int_equal(vaccel_exec(&s, "lib", "sym", &rd, 1, wr, 2), 0);
	assert_int_equal(rec.read[0].type, VACCEL_ARG_STRING);
	assert_int_equal(rec.read[0].len, 4096);
	/* Good scalars and arrays of every numeric type pass. */
	{
		static const struct {
			vaccel_arg_type_t type;
			size_t size;
		} good[] = {
			{ VACCEL_ARG_INT8, 1 },	  { VACCEL_ARG_INT16, 2 },
			{ VACCEL_ARG_UINT32, 4 }, { VACCEL_ARG_UINT64, 8 },
			{ VACCEL_ARG_FLOAT32, 4 }, { VACCEL_ARG_UCHAR, 1 },
			{ VACCEL_ARG_INT16_ARRAY, 6 }, { VACCEL_ARG_INT64_ARRAY, 0 },
			{ VACCEL_ARG_BOOL_ARRAY, 3 }, { VACCEL_ARG_CHAR_ARRAY, 5 },
			{ VACCEL_ARG_CUSTOM, 3 }, { VACCEL_ARG_BUFFER, 0 },
			{ VACCEL_ARG_INT32_ARRAY, 4096 },
		};

		for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
			rd = arg(buf, good[i].size, good[i].type, 0);
			if (vaccel_exec(&s, "lib", "sym", &rd, 1, wr, 2))
				fail_msg("type %d size %zu refused", good[i].type, good[i].size);
			assert_int_equal(rec.read[0].type, good[i].type);
		}
	}
	sess_close(&s);
}

/* Arguments above 2 KiB travel through the data area, both ways: inputs
 * arrive whole, outputs come back whole, and what the plugin did not write
 * of a larger output stays as it was; at the inline boundary too, and
 * many inline-sized ones whose sum is more than a message carries. */
static void test_vaccel_ops_exec_large_args(void **state)
{
	static const size_t sizes[] = { 2047, 2048, 2049, 3000, 65536, 262144 };
	struct vaccel_session s;
	struct echo_rec rec;

	(void)state;
	sess_open(&s);
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		size_t n = sizes[i];
		unsigned char *in = malloc(n), *out = malloc(n), *wide = malloc(n + 5000);
		struct vaccel_arg rd[2], wr[3];

		assert_non_null(in);
		assert_non_null(out);
		assert_non_null(wide);
		fill_bytes(in, n, (unsigned)i);
		memset(out, 0, n);
		memset(wide, 0x5a, n + 5000);
		memset(&rec, 0, sizeof(rec));
		rd[0] = arg(in, n, VACCEL_ARG_BUFFER, 1);
		rd[1] = arg(in, n, VACCEL_ARG_UINT8_ARRAY, 2);
		wr[0] = arg(out, n, VACCEL_ARG_BUFFER, 3);
		wr[1] = arg(wide, n + 5000, VACCEL_ARG_BUFFER, 4);
		wr[2] = arg(&rec, sizeof(rec), VACCEL_ARG_RAW, 0);
		assert_int_equal(vaccel_exec(&s, "lib", "big", rd, 2, wr, 3), 0);
		check_rec(&rec, VACCEL_OP_EXEC, "lib", "big", rd, 2, wr, 3);
		assert_memory_equal(out, in, n);
		assert_memory_equal(wide, in, n);
		assert_true(all_bytes(wide + n, 5000, 0x5a));
		free(in);
		free(out);
		free(wide);
	}
	/* 31 arguments of 2 KiB each way (each inline-sized, 62 KiB in
	 * all: more than one request or completion carries). */
	{
		static unsigned char in[31][2048], out[31][2048];
		struct vaccel_arg rd[31], wr[32];

		for (int i = 0; i < 31; i++) {
			fill_bytes(in[i], 2048, (unsigned)i + 100);
			memset(out[i], 0, 2048);
			rd[i] = arg(in[i], 2048, VACCEL_ARG_BUFFER, (uint32_t)i);
			wr[i] = arg(out[i], 2048, VACCEL_ARG_BUFFER, (uint32_t)i);
		}
		wr[31] = arg(&rec, sizeof(rec), VACCEL_ARG_RAW, 0);
		memset(&rec, 0, sizeof(rec));
		assert_int_equal(vaccel_exec(&s, "lib", "many", rd, 31, wr, 32), 0);
		check_rec(&rec, VACCEL_OP_EXEC, "lib", "many", rd, 31, wr, 32);
		assert_memory_equal(out, in, sizeof(in));
		/* The session (and the connection) still works. */
		assert_int_equal(vaccel_noop(&s), 0);
	}
	sess_close(&s);
}

/* Threads each with a session run exec at once, small and staged
 * arguments: every output is the thread's own. */
struct exec_worker {
	int id;
	int errors;
};

static void *exec_worker(void *p)
{
	struct exec_worker *w = p;
	struct vaccel_session s;
	unsigned char big[8192], big_out[8192];

	if (vaccel_session_init(&s, 0)) {
		w->errors++;
		return NULL;
	}
	for (int i = 0; i < 100; i++) {
		int32_t x = w->id * 1000 + i, y = -1;
		struct echo_rec rec = { 0 };
		struct vaccel_arg rd[2] = { arg(&x, 4, VACCEL_ARG_INT32, 0),
					    arg(big, sizeof(big), VACCEL_ARG_BUFFER, 0) };
		struct vaccel_arg wr[3] = { arg(&y, 4, VACCEL_ARG_INT32, 0),
					    arg(big_out, sizeof(big_out), VACCEL_ARG_BUFFER, 0),
					    arg(&rec, sizeof(rec), VACCEL_ARG_RAW, 0) };
		size_t nr = i % 10 ? 1 : 2;

		memset(big, (int)(x & 0xff), sizeof(big));
		memset(big_out, 0, sizeof(big_out));
		wr[nr] = wr[2];
		if (vaccel_exec(&s, "lib", "sym", rd, nr, wr, nr + 1) || y != x ||
		    rec.magic != ECHO_MAGIC || rec.nr_read != nr ||
		    (nr == 2 && memcmp(big, big_out, sizeof(big))))
			w->errors++;
	}
	if (vaccel_session_release(&s))
		w->errors++;
	return NULL;
}

static void test_vaccel_ops_exec_threads(void **state)
{
	enum { N = 4 };
	struct exec_worker w[N];
	pthread_t t[N];

	(void)state;
	for (int i = 0; i < N; i++) {
		w[i] = (struct exec_worker){ .id = i + 1 };
		assert_int_equal(pthread_create(&t[i], NULL, exec_worker, &w[i]), 0);
	}
	for (int i = 0; i < N; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].errors, 0);
	}
}

/* exec_with_resource carries the library resource, shipped to the broker;
 * an unregistered resource is EPERM, one of another type EINVAL. */
static void test_vaccel_ops_exec_with_resource(void **state)
{
	struct vaccel_resource lib, model, loose;
	struct vaccel_session s;
	struct echo_rec rec;
	int32_t x = 99, y = 0;
	struct vaccel_arg rd = arg(&x, 4, VACCEL_ARG_INT32, 0);
	struct vaccel_arg wr[2] = { arg(&y, 4, VACCEL_ARG_INT32, 0),
				    arg(&rec, sizeof(rec), VACCEL_ARG_RAW, 0) };

	(void)state;
	sess_open(&s);
	res_open(&lib, &s, path_lib, VACCEL_RESOURCE_LIB);
	res_open(&model, &s, path_pt, VACCEL_RESOURCE_MODEL);
	res_open(&loose, NULL, path_lib, VACCEL_RESOURCE_LIB);
	memset(&rec, 0, sizeof(rec));
	assert_int_equal(vaccel_exec_with_resource(&s, &lib, "fn", &rd, 1, wr, 2), 0);
	/* The library's bytes travelled: the plugin sees its name, its
	 * bytes mapped and a path of the broker's own, never the client's. */
	check_rec(&rec, VACCEL_OP_EXEC_WITH_RESOURCE, "libecho.so", "fn", &rd, 1, wr, 2);
	check_res_rec(&rec, VACCEL_RESOURCE_LIB);
	assert_int_equal(y, 99);
	assert_int_equal(vaccel_exec_with_resource(&s, &lib, "fn", NULL, 0, NULL, 0), 0);
	assert_int_equal(vaccel_exec_with_resource(&s, &loose, "fn", &rd, 1, wr, 2),
			 VACCEL_EPERM);
	assert_int_equal(vaccel_exec_with_resource(&s, &model, "fn", &rd, 1, wr, 2),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_exec_with_resource(&s, NULL, "fn", &rd, 1, wr, 2),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_exec_with_resource(&s, &lib, NULL, &rd, 1, wr, 2),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_exec_with_resource(NULL, &lib, "fn", &rd, 1, wr, 2),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_exec_with_resource(&s, &lib, "fn", &rd, 33, wr, 2),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_exec_with_resource(&s, &lib, "fn", NULL, 1, wr, 2),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_exec_with_resource(&s, &lib, ECHO_FAIL_PREFIX "5", &rd, 1, wr,
						   2), VACCEL_EIO);
	res_close(&loose, NULL);
	res_close(&model, &s);
	res_close(&lib, &s);
	/* Released: the session is what is wrong, whatever the resource. */
	sess_close(&s);
	assert_int_equal(vaccel_exec_with_resource(&s, &lib, "fn", &rd, 1, wr, 2),
			 VACCEL_EINVAL);
}

/* ---- opencv ---- */

/* opencv passes the caller's arguments as they are, with no library or
 * symbol; negative counts are EINVAL. */
static void test_vaccel_ops_opencv(void **state)
{
	float mat[6] = { 1, 2, 3, 4, 5, 6 }, o_mat[6] = { 0 };
	int32_t rows = 2;
	struct echo_rec rec;
	struct vaccel_arg rd[2] = { arg(mat, sizeof(mat), VACCEL_ARG_FLOAT32_ARRAY, 0),
				    arg(&rows, 4, VACCEL_ARG_INT32, 0) };
	struct vaccel_arg wr[2] = { arg(o_mat, sizeof(o_mat), VACCEL_ARG_FLOAT32_ARRAY, 0),
				    arg(&rec, sizeof(rec), VACCEL_ARG_RAW, 0) };
	struct vaccel_session s;

	(void)state;
	sess_open(&s);
	memset(&rec, 0, sizeof(rec));
	assert_int_equal(vaccel_opencv_unpack(&s, rd, 2, wr, 2), 0);
	check_rec(&rec, VACCEL_OP_OPENCV, "", "", rd, 2, wr, 2);
	assert_memory_equal(o_mat, mat, sizeof(mat));
	assert_int_equal(vaccel_opencv_unpack(&s, NULL, 0, NULL, 0), 0);
	assert_int_equal(vaccel_opencv_unpack(&s, rd, -1, wr, 2), VACCEL_EINVAL);
	assert_int_equal(vaccel_opencv_unpack(&s, rd, 2, wr, -1), VACCEL_EINVAL);
	assert_int_equal(vaccel_opencv_unpack(&s, rd, 33, wr, 2), VACCEL_EINVAL);
	assert_int_equal(vaccel_opencv_unpack(&s, NULL, 2, wr, 2), VACCEL_EINVAL);
	assert_int_equal(vaccel_opencv_unpack(&s, rd, 2, NULL, 2), VACCEL_EINVAL);
	assert_int_equal(vaccel_opencv_unpack(NULL, rd, 2, wr, 2), VACCEL_EINVAL);
	rd[0].size = 6;		/* not whole floats */
	assert_int_equal(vaccel_opencv_unpack(&s, rd, 2, wr, 2), VACCEL_EINVAL);
	sess_close(&s);
	rd[0].size = sizeof(mat);
	assert_int_equal(vaccel_opencv_unpack(&s, rd, 2, wr, 2), VACCEL_EINVAL);
}

/* ---- minmax ---- */

/* minmax: min and max of the data, the data clamped to the thresholds;
 * small and staged (4000 doubles); bad pointers and counts are EINVAL. */
static void test_vaccel_ops_minmax(void **state)
{
	enum { BIG = 4000 };
	double in[5] = { 5, -3, 12.5, 7, 0 }, out[5] = { 0 }, mn = 0, mx = 0;
	static double bin[BIG], bout[BIG];
	struct vaccel_session s;

	(void)state;
	sess_open(&s);
	assert_int_equal(vaccel_minmax(&s, in, 5, 0, 10, out, &mn, &mx), 0);
	assert_true(mn == -3 && mx == 12.5);
	assert_true(out[0] == 5 && out[1] == 0 && out[2] == 10 && out[3] == 7 && out[4] == 0);
	for (int i = 0; i < BIG; i++)
		bin[i] = sin(i * 0.01) * 100;
	assert_int_equal(vaccel_minmax(&s, bin, BIG, -50, 50, bout, &mn, &mx), 0);
	{
		double lo = bin[0], hi = bin[0];

		for (int i = 0; i < BIG; i++) {
			double c = bin[i] < -50 ? -50 : bin[i] > 50 ? 50 : bin[i];

			lo = bin[i] < lo ? bin[i] : lo;
			hi = bin[i] > hi ? bin[i] : hi;
			if (bout[i] != c)
				fail_msg("outdata[%d] = %g, want %g", i, bout[i], c);
		}
		assert_true(mn == lo && mx == hi);
	}
	assert_int_equal(vaccel_minmax(NULL, in, 5, 0, 10, out, &mn, &mx), VACCEL_EINVAL);
	assert_int_equal(vaccel_minmax(&s, NULL, 5, 0, 10, out, &mn, &mx), VACCEL_EINVAL);
	assert_int_equal(vaccel_minmax(&s, in, 5, 0, 10, NULL, &mn, &mx), VACCEL_EINVAL);
	assert_int_equal(vaccel_minmax(&s, in, 5, 0, 10, out, NULL, &mx), VACCEL_EINVAL);
	assert_int_equal(vaccel_minmax(&s, in, 5, 0, 10, out, &mn, NULL), VACCEL_EINVAL);
	assert_int_equal(vaccel_minmax(&s, in, 0, 0, 10, out, &mn, &mx), VACCEL_EINVAL);
	assert_int_equal(vaccel_minmax(&s, in, -1, 0, 10, out, &mn, &mx), VACCEL_EINVAL);
	sess_close(&s);
	assert_int_equal(vaccel_minmax(&s, in, 5, 0, 10, out, &mn, &mx), VACCEL_EINVAL);
}

/* ---- fpga ---- */

/* The fpga ops compute (echo does them for real): arraycopy, mmult of
 * square matrices, parallel's sum and product, vadd with a shorter b;
 * small and staged; NULL buffers are EINVAL, a plugin's refusal too. */
static void test_vaccel_ops_fpga(void **state)
{
	enum { BIG = 5000 };
	int ia[10], io[10];
	float a[9], b[9], c[9], d[9];
	static int bia[BIG], bio[BIG];
	static float fa[BIG], fb[BIG], fc[BIG], fd[BIG];
	struct vaccel_session s;

	(void)state;
	sess_open(&s);
	for (int i = 0; i < 10; i++)
		ia[i] = i * i - 20, io[i] = 0;
	assert_int_equal(vaccel_fpga_arraycopy(&s, ia, io, 10), 0);
	assert_memory_equal(io, ia, sizeof(ia));
	for (int i = 0; i < BIG; i++)
		bia[i] = i * 7, bio[i] = 0;
	assert_int_equal(vaccel_fpga_arraycopy(&s, bia, bio, BIG), 0);
	assert_memory_equal(bio, bia, BIG * sizeof(int));
	assert_int_equal(vaccel_fpga_arraycopy(&s, ia, io, 0), 0);
	/* mmult: 3 x 3. */
	for (int i = 0; i < 9; i++)
		a[i] = (float)(i + 1), b[i] = (float)(9 - i), c[i] = 0;
	assert_int_equal(vaccel_fpga_mmult(&s, a, b, c, 9), 0);
	for (int r = 0; r < 3; r++)
		for (int col = 0; col < 3; col++) {
			float want = 0;

			for (int k = 0; k < 3; k++)
				want += a[r * 3 + k] * b[k * 3 + col];
			assert_true(c[r * 3 + col] == want);
		}
	/* Not square: the plugin refuses. */
	assert_int_equal(vaccel_fpga_mmult(&s, a, b, c, 8), VACCEL_EINVAL);
	/* parallel */
	assert_int_equal(vaccel_fpga_parallel(&s, a, b, c, d, 9), 0);
	for (int i = 0; i < 9; i++)
		assert_true(c[i] == a[i] + b[i] && d[i] == a[i] * b[i]);
	for (int i = 0; i < BIG; i++)
		fa[i] = (float)i * 0.5f, fb[i] = (float)(BIG - i), fc[i] = fd[i] = 0;
	assert_int_equal(vaccel_fpga_parallel(&s, fa, fb, fc, fd, BIG), 0);
	for (int i = 0; i < BIG; i++)
		assert_true(fc[i] == fa[i] + fb[i] && fd[i] == fa[i] * fb[i]);
	/* vadd, b shorter than a: zeros. */
	memset(c, 0, sizeof(c));
	assert_int_equal(vaccel_fpga_vadd(&s, a, b, c, 9, 4), 0);
	for (int i = 0; i < 9; i++)
		assert_true(c[i] == a[i] + (i < 4 ? b[i] : 0));
	assert_int_equal(vaccel_fpga_vadd(&s, fa, fb, fc, BIG, BIG), 0);
	for (int i = 0; i < BIG; i++)
		assert_true(fc[i] == fa[i] + fb[i]);
	/* Bad input. */
	assert_int_equal(vaccel_fpga_arraycopy(NULL, ia, io, 10), VACCEL_EINVAL);
	assert_int_equal(vaccel_fpga_arraycopy(&s, NULL, io, 10), VACCEL_EINVAL);
	assert_int_equal(vaccel_fpga_arraycopy(&s, ia, NULL, 10), VACCEL_EINVAL);
	assert_int_equal(vaccel_fpga_arraycopy(&s, ia, io, SIZE_MAX / 2), VACCEL_EINVAL);
	assert_int_equal(vaccel_fpga_mmult(NULL, a, b, c, 9), VACCEL_EINVAL);
	assert_int_equal(vaccel_fpga_mmult(&s, NULL, b, c, 9), VACCEL_EINVAL);
	assert_int_equal(vaccel_fpga_mmult(&s, a, NULL, c, 9), VACCEL_EINVAL);
	assert_int_equal(vaccel_fpga_mmult(&s, a, b, NULL, 9), VACCEL_EINVAL);
	assert_int_equal(vaccel_fpga_parallel(NULL, a, b, c, d, 9), VACCEL_EINVAL);
	assert_int_equal(vaccel_fpga_parallel(&s, a, b, NULL, d, 9), VACCEL_EINVAL);
	assert_int_equal(vaccel_fpga_parallel(&s, a, b, c, NULL, 9), VACCEL_EINVAL);
	assert_int_equal(vaccel_fpga_parallel(&s, NULL, b, c, d, 9), VACCEL_EINVAL);
	assert_int_equal(vaccel_fpga_vadd(NULL, a, b, c, 9, 9), VACCEL_EINVAL);
	assert_int_equal(vaccel_fpga_vadd(&s, a, NULL, c, 9, 9), VACCEL_EINVAL);
	assert_int_equal(vaccel_fpga_vadd(&s, a, b, NULL, 9, 9), VACCEL_EINVAL);
	assert_int_equal(vaccel_fpga_vadd(&s, a, b, c, 9, SIZE_MAX), VACCEL_EINVAL);
	sess_close(&s);
	assert_int_equal(vaccel_fpga_arraycopy(&s, ia, io, 10), VACCEL_EINVAL);
	assert_int_equal(vaccel_fpga_mmult(&s, a, b, c, 9), VACCEL_EINVAL);
	assert_int_equal(vaccel_fpga_parallel(&s, a, b, c, d, 9), VACCEL_EINVAL);
	assert_int_equal(vaccel_fpga_vadd(&s, a, b, c, 9, 9), VACCEL_EINVAL);
}

/* ---- genop ---- */

/* genop runs each op it supports with upstream's argument order (after
 * read[0], the op type: a uint8 as upstream's genop reads, or a 4-byte
 * vaccel_op_type_t as its documentation passes). */
static void test_vaccel_ops_genop(void **state)
{
	struct vaccel_session s;
	uint8_t op;
	uint32_t op4;
	struct echo_rec rec;

	(void)state;
	sess_open(&s);
	/* noop */
	op = VACCEL_OP_NOOP;
	op4 = VACCEL_OP_NOOP;
	{
		struct vaccel_arg r8 = arg(&op, 1, VACCEL_ARG_UINT8, 0);
		struct vaccel_arg r32 = arg(&op4, 4, VACCEL_ARG_UINT32, 0);

		assert_int_equal(vaccel_genop(&s, &r8, 1, NULL, 0), 0);
		assert_int_equal(vaccel_genop(&s, &r32, 1, NULL, 0), 0);
	}
	/* sgemm: m, n, k, alpha, a, lda, b, ldb, beta, ldc; write c. */
	{
		int64_t m = 2, n = 3, k = 4, lda = 4, ldb = 3, ldc = 3;
		float alpha = 1.5f, beta = 0.5f, a[8], b[12], c[6], want[6];
		struct vaccel_arg rd[11], wr;

		fill_floats(a, 8, 4);
		fill_floats(b, 12, 5);
		fill_floats(c, 6, 6);
		memcpy(want, c, sizeof(c));
		ref_sgemm(m, n, k, alpha, a, lda, b, ldb, beta, want, ldc);
		op = VACCEL_OP_BLAS_SGEMM;
		rd[0] = arg(&op, 1, VACCEL_ARG_UINT8, 0);
		rd[1] = arg(&m, 8, VACCEL_ARG_INT64, 0);
		rd[2] = arg(&n, 8, VACCEL_ARG_INT64, 0);
		rd[3] = arg(&k, 8, VACCEL_ARG_INT64, 0);
		rd[4] = arg(&alpha, 4, VACCEL_ARG_FLOAT32, 0);
		rd[5] = arg(a, sizeof(a), VACCEL_ARG_FLOAT32_ARRAY, 0);
		rd[6] = arg(&lda, 8, VACCEL_ARG_INT64, 0);
		rd[7] = arg(b, sizeof(b), VACCEL_ARG_FLOAT32_ARRAY, 0);
		rd[8] = arg(&ldb, 8, VACCEL_ARG_INT64, 0);
		rd[9] = arg(&beta, 4, VACCEL_ARG_FLOAT32, 0);
		rd[10] = arg(&ldc, 8, VACCEL_ARG_INT64, 0);
		wr = arg(c, sizeof(c), VACCEL_ARG_FLOAT32_ARRAY, 0);
		assert_int_equal(vaccel_genop(&s, rd, 11, &wr, 1), 0);
		for (int i = 0; i < 6; i++)
			assert_true(fabsf(c[i] - want[i]) < 1e-4f);
		/* Wrong counts and sizes. */
		assert_int_equal(vaccel_genop(&s, rd, 10, &wr, 1), VACCEL_EINVAL);
		assert_int_equal(vaccel_genop(&s, rd, 11, &wr, 0), VACCEL_EINVAL);
		rd[1].size = 4;
		assert_int_equal(vaccel_genop(&s, rd, 11, &wr, 1), VACCEL_EINVAL);
		rd[1].size = 8;
		rd[5].size = 4;		/* a too small for m x k */
		assert_int_equal(vaccel_genop(&s, rd, 11, &wr, 1), VACCEL_EINVAL);
	}
	/* images: img; write text and name (classify) or name. */
	for (uint8_t o = VACCEL_OP_IMAGE_CLASSIFY; o <= VACCEL_OP_IMAGE_DEPTH; o++) {
		unsigned char img[16] = "img", text[64], name[64];
		struct vaccel_arg rd[2] = { arg(&op, 1, VACCEL_ARG_UINT8, 0),
					    arg(img, sizeof(img), VACCEL_ARG_BUFFER, 0) };
		struct vaccel_arg wr[2];
		int nw = o == VACCEL_OP_IMAGE_CLASSIFY ? 2 : 1;

		op = o;
		memset(text, 0, sizeof(text));
		memset(name, 0, sizeof(name));
		wr[0] = arg(nw == 2 ? text : name, 64, VACCEL_ARG_BUFFER, 0);
		wr[1] = arg(name, 64, VACCEL_ARG_BUFFER, 0);
		assert_int_equal(vaccel_genop(&s, rd, 2, wr, nw), 0);
		assert_string_equal((char *)name, DUMMY_IMGNAME);
		if (nw == 2)
			assert_string_equal((char *)text, DUMMY_TAG);
		assert_int_equal(vaccel_genop(&s, rd, 2, wr, 3 - nw), VACCEL_EINVAL);
		assert_int_equal(vaccel_genop(&s, rd, 1, wr, nw), VACCEL_EINVAL);
	}
	/* exec: library, symbol, then the op's arguments. */
	{
		char lib[] = "libgen.so", sym[] = "genfn";
		int32_t x = 1234, y = 0;
		struct vaccel_arg rd[4] = { arg(&op, 1, VACCEL_ARG_UINT8, 0),
					    arg(lib, sizeof(lib), VACCEL_ARG_STRING, 0),
					    arg(sym, sizeof(sym), VACCEL_ARG_STRING, 0),
					    arg(&x, 4, VACCEL_ARG_INT32, 0) };
		struct vaccel_arg wr[2] = { arg(&y, 4, VACCEL_ARG_INT32, 0),
					    arg(&rec, sizeof(rec), VACCEL_ARG_RAW, 0) };

		op = VACCEL_OP_EXEC;
		memset(&rec, 0, sizeof(rec));
		assert_int_equal(vaccel_genop(&s, rd, 4, wr, 2), 0);
		check_rec(&rec, VACCEL_OP_EXEC, "libgen.so", "genfn", rd + 3, 1, wr, 2);
		assert_int_equal(y, 1234);
		assert_int_equal(vaccel_genop(&s, rd, 2, wr, 2), VACCEL_EINVAL);
		rd[1].size = 3;	/* "lib", not terminated */
		assert_int_equal(vaccel_genop(&s, rd, 4, wr, 2), VACCEL_EINVAL);
	}
	/* minmax: indata, ndata, low, high; write outdata, min, max. */
	{
		double in[4] = { 4, -1, 9, 2 }, out[4], mn, mx;
		int32_t nd = 4, lo = 0, hi = 5;
		struct vaccel_arg rd[5] = { arg(&op, 1, VACCEL_ARG_UINT8, 0),
					    arg(in, sizeof(in), VACCEL_ARG_FLOAT64_ARRAY, 0),
					    arg(&nd, 4, VACCEL_ARG_INT32, 0),
					    arg(&lo, 4, VACCEL_ARG_INT32, 0),
					    arg(&hi, 4, VACCEL_ARG_INT32, 0) };
		struct vaccel_arg wr[3] = { arg(out, sizeof(out), VACCEL_ARG_FLOAT64_ARRAY, 0),
					    arg(&mn, 8, VACCEL_ARG_FLOAT64, 0),
					    arg(&mx, 8, VACCEL_ARG_FLOAT64, 0) };

		op = VACCEL_OP_MINMAX;
		assert_int_equal(vaccel_genop(&s, rd, 5, wr, 3), 0);
		assert_true(mn == -1 && mx == 9);
		assert_true(out[0] == 4 && out[1] == 0 && out[2] == 5 && out[3] == 2);
		assert_int_equal(vaccel_genop(&s, rd, 4, wr, 3), VACCEL_EINVAL);
		assert_int_equal(vaccel_genop(&s, rd, 5, wr, 2), VACCEL_EINVAL);
		nd = 5;		/* more than the data holds */
		assert_int_equal(vaccel_genop(&s, rd, 5, wr, 3), VACCEL_EINVAL);
	}
	/* fpga: arraycopy a -> out; mmult a, b -> c; parallel a, b -> add,
	 * mult; vadd a, b -> c. */
	{
		int ia[4] = { 1, 2, 3, 4 }, io[4] = { 0 };
		float a[4] = { 1, 2, 3, 4 }, b[4] = { 5, 6, 7, 8 }, c[4], d[4];
		struct vaccel_arg rd[3] = { arg(&op, 1, VACCEL_ARG_UINT8, 0),
					    arg(a, sizeof(a), VACCEL_ARG_FLOAT32_ARRAY, 0),
					    arg(b, sizeof(b), VACCEL_ARG_FLOAT32_ARRAY, 0) };
		struct vaccel_arg wr[2] = { arg(c, sizeof(c), VACCEL_ARG_FLOAT32_ARRAY, 0),
					    arg(d, sizeof(d), VACCEL_ARG_FLOAT32_ARRAY, 0) };
		struct vaccel_arg ird[2] = { arg(&op, 1, VACCEL_ARG_UINT8, 0),
					     arg(ia, sizeof(ia), VACCEL_ARG_INT32_ARRAY, 0) };
		struct vaccel_arg iwr[2] = { arg(io, sizeof(io), VACCEL_ARG_INT32_ARRAY, 0),
					     arg(io, sizeof(io), VACCEL_ARG_INT32_ARRAY, 0) };

		op = VACCEL_OP_FPGA_ARRAYCOPY;
		assert_int_equal(vaccel_genop(&s, ird, 2, iwr, 1), 0);
		assert_memory_equal(io, ia, sizeof(ia));
		assert_int_equal(vaccel_genop(&s, ird, 2, iwr, 2), VACCEL_EINVAL);
		op = VACCEL_OP_FPGA_MMULT;
		assert_int_equal(vaccel_genop(&s, rd, 3, wr, 1), 0);
		assert_true(c[0] == 1 * 5 + 2 * 7 && c[1] == 1 * 6 + 2 * 8 &&
			    c[2] == 3 * 5 + 4 * 7 && c[3] == 3 * 6 + 4 * 8);
		assert_int_equal(vaccel_genop(&s, rd, 2, wr, 1), VACCEL_EINVAL);
		op = VACCEL_OP_FPGA_PARALLEL;
		assert_int_equal(vaccel_genop(&s, rd, 3, wr, 2), 0);
		for (int i = 0; i < 4; i++)
			assert_true(c[i] == a[i] + b[i] && d[i] == a[i] * b[i]);
		assert_int_equal(vaccel_genop(&s, rd, 3, wr, 1), VACCEL_EINVAL);
		op = VACCEL_OP_FPGA_VECTORADD;
		memset(c, 0, sizeof(c));
		assert_int_equal(vaccel_genop(&s, rd, 3, wr, 1), 0);
		for (int i = 0; i < 4; i++)
			assert_true(c[i] == a[i] + b[i]);
		assert_int_equal(vaccel_genop(&s, rd, 2, wr, 1), VACCEL_EINVAL);
	}
	/* opencv: the arguments as they are. */
	{
		int32_t x = 5, y = 0;
		struct vaccel_arg rd[2] = { arg(&op, 1, VACCEL_ARG_UINT8, 0),
					    arg(&x, 4, VACCEL_ARG_INT32, 0) };
		struct vaccel_arg wr[2] = { arg(&y, 4, VACCEL_ARG_INT32, 0),
					    arg(&rec, sizeof(rec), VACCEL_ARG_RAW, 0) };

		op = VACCEL_OP_OPENCV;
		memset(&rec, 0, sizeof(rec));
		assert_int_equal(vaccel_genop(&s, rd, 2, wr, 2), 0);
		check_rec(&rec, VACCEL_OP_OPENCV, "", "", rd + 1, 1, wr, 2);
		assert_int_equal(y, 5);
	}
	/* The model ops take objects an argument list cannot carry: not
	 * supported through genop. */
	for (uint8_t o = VACCEL_OP_TF_MODEL_LOAD; o <= VACCEL_OP_TORCH_SGEMM; o++) {
		struct vaccel_arg rd = arg(&op, 1, VACCEL_ARG_UINT8, 0);

		op = o;
		if (vaccel_genop(&s, &rd, 1, NULL, 0) != VACCEL_ENOTSUP)
			fail_msg("genop of op %u is not ENOTSUP", o);
	}
	sess_close(&s);
}

/* genop's refusals: no op type, an op type out of range or of the wrong
 * size, negative counts, NULL arrays, a dead session. */
static void test_vaccel_ops_genop_bad(void **state)
{
	struct vaccel_session s;
	uint8_t op = VACCEL_OP_NOOP;
	uint16_t op2 = VACCEL_OP_NOOP;
	uint32_t op4;
	int32_t x = 0;
	struct vaccel_arg rd[2] = { arg(&op, 1, VACCEL_ARG_UINT8, 0),
				    arg(&x, 4, VACCEL_ARG_INT32, 0) };
	struct vaccel_arg wr = arg(&x, 4, VACCEL_ARG_INT32, 0);

	(void)state;
	sess_open(&s);
	assert_int_equal(vaccel_genop(NULL, rd, 1, NULL, 0), VACCEL_EINVAL);
	assert_int_equal(vaccel_genop(&s, NULL, 1, NULL, 0), VACCEL_EINVAL);
	assert_int_equal(vaccel_genop(&s, rd, 0, NULL, 0), VACCEL_EINVAL);
	assert_int_equal(vaccel_genop(&s, rd, -1, NULL, 0), VACCEL_EINVAL);
	assert_int_equal(vaccel_genop(&s, rd, 1, NULL, -1), VACCEL_EINVAL);
	assert_int_equal(vaccel_genop(&s, rd, 1, NULL, 1), VACCEL_EINVAL);
	/* noop takes nothing else. */
	assert_int_equal(vaccel_genop(&s, rd, 2, NULL, 0), VACCEL_EINVAL);
	assert_int_equal(vaccel_genop(&s, rd, 1, &wr, 1), VACCEL_EINVAL);
	op = VACCEL_OP_MAX;
	assert_int_equal(vaccel_genop(&s, rd, 1, NULL, 0), VACCEL_EINVAL);
	op = 255;
	assert_int_equal(vaccel_genop(&s, rd, 1, NULL, 0), VACCEL_EINVAL);
	op4 = 1000;
	rd[0] = arg(&op4, 4, VACCEL_ARG_UINT32, 0);
	assert_int_equal(vaccel_genop(&s, rd, 1, NULL, 0), VACCEL_EINVAL);
	op4 = 0x100;	/* not a uint8 in disguise */
	assert_int_equal(vaccel_genop(&s, rd, 1, NULL, 0), VACCEL_EINVAL);
	rd[0] = arg(&op2, 2, VACCEL_ARG_UINT16, 0);
	assert_int_equal(vaccel_genop(&s, rd, 1, NULL, 0), VACCEL_EINVAL);
	rd[0] = arg(NULL, 1, VACCEL_ARG_UINT8, 0);
	assert_int_equal(vaccel_genop(&s, rd, 1, NULL, 0), VACCEL_EINVAL);
	/* exec_with_resource: the resource id is an int64. */
	{
		int32_t id4 = 1;
		char sym[] = "fn";
		struct vaccel_arg er[3] = { arg(&op, 1, VACCEL_ARG_UINT8, 0),
					    arg(&id4, 4, VACCEL_ARG_INT32, 0),
					    arg(sym, sizeof(sym), VACCEL_ARG_STRING, 0) };

		op = VACCEL_OP_EXEC_WITH_RESOURCE;
		assert_int_equal(vaccel_genop(&s, er, 3, NULL, 0), VACCEL_EINVAL);
		assert_int_equal(vaccel_genop(&s, er, 2, NULL, 0), VACCEL_EINVAL);
	}
	op = VACCEL_OP_NOOP;
	rd[0] = arg(&op, 1, VACCEL_ARG_UINT8, 0);
	sess_close(&s);
	assert_int_equal(vaccel_genop(&s, rd, 1, NULL, 0), VACCEL_EINVAL);
}

/* genop's exec_with_resource finds the resource by its id (upstream's
 * order: id, symbol, arguments); an unknown id is ENOENT. */
static void test_vaccel_ops_genop_exec_with_resource(void **state)
{
	struct vaccel_resource lib;
	struct vaccel_session s;
	struct echo_rec rec;
	uint8_t op = VACCEL_OP_EXEC_WITH_RESOURCE;
	int64_t id, bad = INT64_MAX;
	char sym[] = "fn";
	int32_t x = 77, y = 0;
	struct vaccel_arg rd[4] = { arg(&op, 1, VACCEL_ARG_UINT8, 0),
				    arg(&id, 8, VACCEL_ARG_INT64, 0),
				    arg(sym, sizeof(sym), VACCEL_ARG_STRING, 0),
				    arg(&x, 4, VACCEL_ARG_INT32, 0) };
	struct vaccel_arg wr[2] = { arg(&y, 4, VACCEL_ARG_INT32, 0),
				    arg(&rec, sizeof(rec), VACCEL_ARG_RAW, 0) };

	(void)state;
	sess_open(&s);
	res_open(&lib, &s, path_lib, VACCEL_RESOURCE_LIB);
	id = lib.id;
	memset(&rec, 0, sizeof(rec));
	assert_int_equal(vaccel_genop(&s, rd, 4, wr, 2), 0);
	check_rec(&rec, VACCEL_OP_EXEC_WITH_RESOURCE, "libecho.so", "fn", rd + 3, 1, wr, 2);
	check_res_rec(&rec, VACCEL_RESOURCE_LIB);
	assert_int_equal(y, 77);
	rd[1].buf = &bad;
	assert_int_equal(vaccel_genop(&s, rd, 4, wr, 2), VACCEL_ENOENT);
	res_close(&lib, &s);
	sess_close(&s);
}

/* ---- torch ---- */

/* A model's load carries the model, shipped at registration (a file
 * removed afterwards still loads: the broker has its bytes); the resource
 * must be registered (EPERM) and a model (EINVAL). */
static void test_vaccel_ops_torch_model_load(void **state)
{
	struct vaccel_resource model, lib, loose, gone;
	struct vaccel_session s;

	(void)state;
	assert_int_equal(write_file(path_gone), 0);
	sess_open(&s);
	res_open(&model, &s, path_pt, VACCEL_RESOURCE_MODEL);
	res_open(&lib, &s, path_lib, VACCEL_RESOURCE_LIB);
	res_open(&loose, NULL, path_pt, VACCEL_RESOURCE_MODEL);
	res_open(&gone, &s, path_gone, VACCEL_RESOURCE_MODEL);
	unlink(path_gone);
	assert_int_equal(vaccel_torch_model_load(&s, &model), 0);
	assert_int_equal(vaccel_torch_model_load(&s, &gone), 0);
	assert_int_equal(vaccel_torch_model_load(&s, &loose), VACCEL_EPERM);
	assert_int_equal(vaccel_torch_model_load(&s, &lib), VACCEL_EINVAL);
	assert_int_equal(vaccel_torch_model_load(&s, NULL), VACCEL_EINVAL);
	assert_int_equal(vaccel_torch_model_load(NULL, &model), VACCEL_EINVAL);
	res_close(&gone, &s);
	res_close(&loose, NULL);
	res_close(&lib, &s);
	res_close(&model, &s);
	sess_close(&s);
	assert_int_equal(vaccel_torch_model_load(&s, &model), VACCEL_EINVAL);
}

static void check_floats(const void *data, const float *in, size_t n, float f)
{
	const float *d = data;

	for (size_t i = 0; i < n; i++)
		if (d[i] != in[i] * f)
			fail_msg("element %zu: %g, want %g", i, (double)d[i], (double)(in[i] * f));
}

/* torch_model_run: each output a real tensor (type, dims, data) that owns
 * its data; outputs the plugin did not produce are NULL; the run options
 * travel; a large input is staged. */
static void test_vaccel_ops_torch_model_run(void **state)
{
	enum { BIG = 64 * 64 };
	int64_t dims_a[2] = { 2, 3 }, dims_b[1] = { 4 }, dims_big[2] = { 64, 64 };
	static float big[BIG];
	float a[6] = { 1, 2, 3, 4, 5, 6 };
	int32_t b[4] = { -1, 0, 7, 100 };
	char opt[] = "scale=3";
	struct vaccel_torch_buffer run_opt = { opt, sizeof(opt) };
	struct vaccel_torch_tensor *in[2], *out[3] = { NULL, NULL, NULL }, *bin;
	struct vaccel_resource model;
	struct vaccel_session s;

	(void)state;
	for (int i = 0; i < BIG; i++)
		big[i] = (float)i / 16;
	sess_open(&s);
	res_open(&model, &s, path_pt, VACCEL_RESOURCE_MODEL);
	in[0] = torch_in(2, dims_a, VACCEL_TORCH_FLOAT, a, sizeof(a));
	in[1] = torch_in(1, dims_b, VACCEL_TORCH_INT, b, sizeof(b));
	bin = torch_in(2, dims_big, VACCEL_TORCH_FLOAT, big, BIG * 4);
	assert_int_equal(vaccel_torch_model_load(&s, &model), 0);
	assert_int_equal(vaccel_torch_model_run(&s, &model, NULL, in, 2, out, 3), 0);
	assert_non_null(out[0]);
	assert_int_equal(out[0]->data_type, VACCEL_TORCH_FLOAT);
	assert_int_equal(out[0]->nr_dims, 2);
	assert_int_equal(out[0]->dims[0], 2);
	assert_int_equal(out[0]->dims[1], 3);
	assert_int_equal(out[0]->size, sizeof(a));
	assert_true(out[0]->owned);
	check_floats(out[0]->data, a, 6, ECHO_SCALE);
	assert_non_null(out[1]);
	assert_int_equal(out[1]->data_type, VACCEL_TORCH_INT);
	assert_int_equal(out[1]->nr_dims, 1);
	assert_int_equal(out[1]->dims[0], 4);
	assert_int_equal(out[1]->size, sizeof(b));
	for (int i = 0; i < 4; i++)
		assert_int_equal(((int32_t *)out[1]->data)[i], b[i] * ECHO_SCALE);
	assert_null(out[2]);
	assert_int_equal(vaccel_torch_tensor_delete(out[0]), 0);
	assert_int_equal(vaccel_torch_tensor_delete(out[1]), 0);
	/* Run options reach the plugin. */
	assert_int_equal(vaccel_torch_model_run(&s, &model, &run_opt, in, 1, out, 1), 0);
	assert_non_null(out[0]);
	check_floats(out[0]->data, a, 6, 3);
	assert_int_equal(vaccel_torch_tensor_delete(out[0]), 0);
	/* A large input, staged; its output back through the data area. */
	assert_int_equal(vaccel_torch_model_run(&s, &model, NULL, &bin, 1, out, 1), 0);
	assert_non_null(out[0]);
	assert_int_equal(out[0]->dims[0], 64);
	assert_int_equal(out[0]->size, BIG * 4);
	check_floats(out[0]->data, big, BIG, ECHO_SCALE);
	assert_int_equal(vaccel_torch_tensor_delete(out[0]), 0);
	/* No inputs, no outputs: fine. */
	assert_int_equal(vaccel_torch_model_run(&s, &model, NULL, NULL, 0, NULL, 0), 0);
	assert_int_equal(vaccel_torch_tensor_delete(in[0]), 0);
	assert_int_equal(vaccel_torch_tensor_delete(in[1]), 0);
	assert_int_equal(vaccel_torch_tensor_delete(bin), 0);
	res_close(&model, &s);
	sess_close(&s);
}

/* torch_model_run's refusals, and results it cannot take: then no output
 * is left to the caller (none to free). */
static void test_vaccel_ops_torch_model_run_bad(void **state)
{
	int64_t dims[2] = { 2, 3 };
	float a[6] = { 1, 2, 3, 4, 5, 6 };
	char bad_meta[] = ECHO_BAD_META;
	struct vaccel_torch_buffer bad_opt = { bad_meta, sizeof(bad_meta) }, nul_opt = { NULL, 4 };
	struct vaccel_torch_tensor *in[17], *out[17] = { NULL }, nodims, nodata;
	struct vaccel_resource model, lib, loose;
	struct vaccel_session s;

	(void)state;
	sess_open(&s);
	res_open(&model, &s, path_pt, VACCEL_RESOURCE_MODEL);
	res_open(&lib, &s, path_lib, VACCEL_RESOURCE_LIB);
	res_open(&loose, NULL, path_pt, VACCEL_RESOURCE_MODEL);
	in[0] = torch_in(2, dims, VACCEL_TORCH_FLOAT, a, sizeof(a));
	for (int i = 1; i < 17; i++)
		in[i] = in[0];
	nodims = *in[0];
	nodims.dims = NULL;
	nodata = *in[0];
	nodata.data = NULL;
	assert_int_equal(vaccel_torch_model_run(NULL, &model, NULL, in, 1, out, 1), VACCEL_EINVAL);
	assert_int_equal(vaccel_torch_model_run(&s, NULL, NULL, in, 1, out, 1), VACCEL_EINVAL);
	assert_int_equal(vaccel_torch_model_run(&s, &loose, NULL, in, 1, out, 1), VACCEL_EPERM);
	assert_int_equal(vaccel_torch_model_run(&s, &lib, NULL, in, 1, out, 1), VACCEL_EINVAL);
	assert_int_equal(vaccel_torch_model_run(&s, &model, NULL, in, -1, out, 1), VACCEL_EINVAL);
	assert_int_equal(vaccel_torch_model_run(&s, &model, NULL, in, 1, out, -1), VACCEL_EINVAL);
	assert_int_equal(vaccel_torch_model_run(&s, &model, NULL, NULL, 1, out, 1), VACCEL_EINVAL);
	assert_int_equal(vaccel_torch_model_run(&s, &model, NULL, in, 1, NULL, 1), VACCEL_EINVAL);
	assert_int_equal(vaccel_torch_model_run(&s, &model, &nul_opt, in, 1, out, 1),
			 VACCEL_EINVAL);
	{
		struct vaccel_torch_tensor *one[1] = { NULL };

		assert_int_equal(vaccel_torch_model_run(&s, &model, NULL, one, 1, out, 1),
				 VACCEL_EINVAL);
		one[0] = &nodims;
		assert_int_equal(vaccel_torch_model_run(&s, &model, NULL, one, 1, out, 1),
				 VACCEL_EINVAL);
		one[0] = &nodata;
		assert_int_equal(vaccel_torch_model_run(&s, &model, NULL, one, 1, out, 1),
				 VACCEL_EINVAL);
	}
	/* 1 + 2 x 16 read arguments, 2 x 17 write: more than the wire's 32. */
	assert_int_equal(vaccel_torch_model_run(&s, &model, NULL, in, 16, out, 1), VACCEL_EINVAL);
	assert_int_equal(vaccel_torch_model_run(&s, &model, NULL, in, 1, out, 17), VACCEL_EINVAL);
	/* The most that fits: 15 inputs, 16 outputs (1 MiB of room each). */
	setenv("ACCELRING_TENSOR_OUT_BYTES", "4096", 1);
	assert_int_equal(vaccel_torch_model_run(&s, &model, NULL, in, 15, out, 16), 0);
	for (int i = 0; i < 15; i++) {
		if (!out[i])
			fail_msg("output %d missing", i);
		check_floats(out[i]->data, a, 6, ECHO_SCALE);
		assert_int_equal(vaccel_torch_tensor_delete(out[i]), 0);
	}
	assert_null(out[15]);
	/* Output room smaller than the output: the plugin says ENOSPC. */
	setenv("ACCELRING_TENSOR_OUT_BYTES", "16", 1);
	out[0] = (struct vaccel_torch_tensor *)1;
	assert_int_equal(vaccel_torch_model_run(&s, &model, NULL, in, 1, out, 1), VACCEL_ENOSPC);
	assert_null(out[0]);
	unsetenv("ACCELRING_TENSOR_OUT_BYTES");
	/* The second output's metadata is unusable: an error, and the first
	 * output, already made, is not left to the caller either. */
	out[0] = out[1] = (struct vaccel_torch_tensor *)1;
	assert_int_equal(vaccel_torch_model_run(&s, &model, &bad_opt, in, 2, out, 2),
			 VACCEL_EBACKEND);
	assert_null(out[0]);
	assert_null(out[1]);
	assert_int_equal(vaccel_torch_tensor_delete(in[0]), 0);
	res_close(&loose, NULL);
	res_close(&lib, &s);
	res_close(&model, &s);
	sess_close(&s);
	/* A released session: EINVAL, whatever the model. */
	assert_int_equal(vaccel_torch_model_run(&s, &model, NULL, NULL, 0, NULL, 0),
			 VACCEL_EINVAL);
}

/* torch_sgemm: out = A x B + C (echo computes it), a 2-dim float tensor
 * of M x N; each input's dims travel (a wrong shape is refused by the
 * plugin); large matrices are staged; bad input is EINVAL. */
static void test_vaccel_ops_torch_sgemm(void **state)
{
	enum { M = 2, N = 4, K = 3, L = 40 };
	int64_t da[2] = { M, K }, db[2] = { K, N }, dc[2] = { M, N }, dl[2] = { L, L },
		dwrong[2] = { K, M };
	float a[M * K], b[K * N], c[M * N], want[M * N];
	static float la[L * L], lb[L * L], lc[L * L];
	struct vaccel_torch_tensor *ta, *tb, *tc, *tl[3], *out = NULL, *wrong, *none = NULL;
	struct vaccel_session s;

	(void)state;
	fill_floats(a, M * K, 1);
	fill_floats(b, K * N, 2);
	fill_floats(c, M * N, 3);
	memcpy(want, c, sizeof(c));
	ref_sgemm(M, N, K, 1, a, K, b, N, 1, want, N);
	sess_open(&s);
	ta = torch_in(2, da, VACCEL_TORCH_FLOAT, a, sizeof(a));
	tb = torch_in(2, db, VACCEL_TORCH_FLOAT, b, sizeof(b));
	tc = torch_in(2, dc, VACCEL_TORCH_FLOAT, c, sizeof(c));
	wrong = torch_in(2, dwrong, VACCEL_TORCH_FLOAT, a, sizeof(a));
	assert_int_equal(vaccel_torch_sgemm(&s, &ta, &tb, &tc, M, N, K, &out), 0);
	assert_non_null(out);
	assert_int_equal(out->data_type, VACCEL_TORCH_FLOAT);
	assert_int_equal(out->nr_dims, 2);
	assert_int_equal(out->dims[0], M);
	assert_int_equal(out->dims[1], N);
	assert_int_equal(out->size, sizeof(want));
	for (int i = 0; i < M * N; i++)
		assert_true(fabsf(((float *)out->data)[i] - want[i]) < 1e-4f);
	assert_int_equal(vaccel_torch_tensor_delete(out), 0);
	/* Large: 40 x 40 (6400 bytes each), staged. */
	fill_floats(la, L * L, 4);
	fill_floats(lb, L * L, 5);
	fill_floats(lc, L * L, 6);
	tl[0] = torch_in(2, dl, VACCEL_TORCH_FLOAT, la, L * L * 4);
	tl[1] = torch_in(2, dl, VACCEL_TORCH_FLOAT, lb, L * L * 4);
	tl[2] = torch_in(2, dl, VACCEL_TORCH_FLOAT, lc, L * L * 4);
	assert_int_equal(vaccel_torch_sgemm(&s, &tl[0], &tl[1], &tl[2], L, L, L, &out), 0);
	assert_non_null(out);
	ref_sgemm(L, L, L, 1, la, L, lb, L, 1, lc, L);
	for (int i = 0; i < L * L; i++)
		assert_true(fabsf(((float *)out->data)[i] - lc[i]) < 1e-3f);
	assert_int_equal(vaccel_torch_tensor_delete(out), 0);
	/* Bad input. */
	assert_int_equal(vaccel_torch_sgemm(&s, &wrong, &tb, &tc, M, N, K, &out), VACCEL_EINVAL);
	assert_null(out);
	assert_int_equal(vaccel_torch_sgemm(NULL, &ta, &tb, &tc, M, N, K, &out), VACCEL_EINVAL);
	assert_int_equal(vaccel_torch_sgemm(&s, &ta, &tb, &tc, M, N, K, NULL), VACCEL_EINVAL);
	assert_int_equal(vaccel_torch_sgemm(&s, NULL, &tb, &tc, M, N, K, &out), VACCEL_EINVAL);
	assert_int_equal(vaccel_torch_sgemm(&s, &ta, &none, &tc, M, N, K, &out), VACCEL_EINVAL);
	assert_int_equal(vaccel_torch_sgemm(&s, &ta, &tb, NULL, M, N, K, &out), VACCEL_EINVAL);
	assert_int_equal(vaccel_torch_sgemm(&s, &ta, &tb, &tc, 0, N, K, &out), VACCEL_EINVAL);
	assert_int_equal(vaccel_torch_sgemm(&s, &ta, &tb, &tc, M, -1, K, &out), VACCEL_EINVAL);
	assert_int_equal(vaccel_torch_sgemm(&s, &ta, &tb, &tc, M, N, 0, &out), VACCEL_EINVAL);
	sess_close(&s);
	assert_int_equal(vaccel_torch_sgemm(&s, &ta, &tb, &tc, M, N, K, &out), VACCEL_EINVAL);
	for (int i = 0; i < 3; i++)
		assert_int_equal(vaccel_torch_tensor_delete(tl[i]), 0);
	assert_int_equal(vaccel_torch_tensor_delete(ta), 0);
	assert_int_equal(vaccel_torch_tensor_delete(tb), 0);
	assert_int_equal(vaccel_torch_tensor_delete(tc), 0);
	assert_int_equal(vaccel_torch_tensor_delete(wrong), 0);
}

/* ---- TensorFlow ---- */

/* tf load and unload fill the status the plugin returns (a NULL status is
 * fine); run: output tensors, the nodes' names and ids reach the plugin
 * (its status message lists them), run options travel; refusals. */
static void test_vaccel_ops_tf(void **state)
{
	int64_t dims[2] = { 1, 4 }, ddims[1] = { 3 };
	float x[4] = { 0.5f, -1, 2, 8 };
	double dx[3] = { 1e10, -2.5, 0 };
	char in_name[] = "serving_default_input", in2_name[] = "aux", out_name[] = "Identity",
	     out2_name[] = "Identity_1", opt[] = "scale=5", s_name[] = "str";
	struct vaccel_tf_node in_nodes[2] = { { in_name, 3 }, { in2_name, 0 } };
	struct vaccel_tf_node out_nodes[3] = { { out_name, 4 }, { out2_name, 1 }, { s_name, 2 } };
	struct vaccel_tf_buffer run_opt = { opt, sizeof(opt) };
	struct vaccel_tf_tensor *in[2], *out[3] = { NULL, NULL, NULL }, *str_in[2];
	struct vaccel_tf_status st = { 0, NULL };
	struct vaccel_resource model, loose, lib;
	struct vaccel_session s;

	(void)state;
	sess_open(&s);
	res_open(&model, &s, path_pb, VACCEL_RESOURCE_MODEL);
	res_open(&loose, NULL, path_pb, VACCEL_RESOURCE_MODEL);
	res_open(&lib, &s, path_lib, VACCEL_RESOURCE_LIB);
	in[0] = tf_in(2, dims, VACCEL_TF_FLOAT, x, sizeof(x));
	in[1] = tf_in(1, ddims, VACCEL_TF_DOUBLE, dx, sizeof(dx));
	assert_int_equal(vaccel_tf_model_load(&s, &model, &st), 0);
	assert_int_equal(st.code, 0);
	assert_non_null(st.message);
	assert_string_equal(st.message, "tf_model_load model.pb");
	assert_int_equal(vaccel_tf_model_load(&s, &model, NULL), 0);
	/* Run: two inputs, two outputs. */
	assert_int_equal(vaccel_tf_model_run(&s, &model, NULL, in_nodes, in, 2, out_nodes, out, 2,
					     &st), 0);
	assert_int_equal(st.code, 0);
	assert_string_equal(st.message, "in:serving_default_input#3,aux#0;out:Identity#4,"
					"Identity_1#1");
	assert_non_null(out[0]);
	assert_int_equal(out[0]->data_type, VACCEL_TF_FLOAT);
	assert_int_equal(out[0]->nr_dims, 2);
	assert_int_equal(out[0]->dims[0], 1);
	assert_int_equal(out[0]->dims[1], 4);
	assert_int_equal(out[0]->size, sizeof(x));
	check_floats(out[0]->data, x, 4, ECHO_SCALE);
	assert_non_null(out[1]);
	assert_int_equal(out[1]->data_type, VACCEL_TF_DOUBLE);
	assert_int_equal(out[1]->nr_dims, 1);
	assert_int_equal(out[1]->dims[0], 3);
	for (int i = 0; i < 3; i++)
		assert_true(((double *)out[1]->data)[i] == dx[i] * ECHO_SCALE);
	assert_int_equal(vaccel_tf_tensor_delete(out[0]), 0);
	assert_int_equal(vaccel_tf_tensor_delete(out[1]), 0);
	/* Run options; more outputs than inputs: the extra one is NULL. */
	assert_int_equal(vaccel_tf_model_run(&s, &model, &run_opt, in_nodes, in, 1, out_nodes,
					     out, 2, NULL), 0);
	assert_non_null(out[0]);
	check_floats(out[0]->data, x, 4, 5);
	assert_null(out[1]);
	assert_int_equal(vaccel_tf_tensor_delete(out[0]), 0);
	/* Refusals. */
	assert_int_equal(vaccel_tf_model_run(&s, &model, NULL, in_nodes, in, -1, out_nodes, out, 1,
					     &st), VACCEL_EINVAL);
	assert_int_equal(vaccel_tf_model_run(&s, &model, NULL, in_nodes, in, 1, out_nodes, out, -1,
					     &st), VACCEL_EINVAL);
	assert_int_equal(vaccel_tf_model_run(&s, &model, NULL, NULL, in, 1, out_nodes, out, 1, &st),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_tf_model_run(&s, &model, NULL, in_nodes, NULL, 1, out_nodes, out, 1,
					     &st), VACCEL_EINVAL);
	assert_int_equal(vaccel_tf_model_run(&s, &model, NULL, in_nodes, in, 1, NULL, out, 1, &st),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_tf_model_run(&s, &model, NULL, in_nodes, in, 1, out_nodes, NULL, 1,
					     &st), VACCEL_EINVAL);
	{
		struct vaccel_tf_node noname = { NULL, 0 };

		assert_int_equal(vaccel_tf_model_run(&s, &model, NULL, &noname, in, 1, out_nodes,
						     out, 1, &st), VACCEL_EINVAL);
		assert_int_equal(vaccel_tf_model_run(&s, &model, NULL, in_nodes, in, 1, &noname,
						     out, 1, &st), VACCEL_EINVAL);
	}
	{
		/* 1 + 3 x 11 read arguments: more than the wire's 32. */
		struct vaccel_tf_node many_nodes[11];
		struct vaccel_tf_tensor *many[11];

		for (int i = 0; i < 11; i++)
			many_nodes[i] = in_nodes[0], many[i] = in[0];
		assert_int_equal(vaccel_tf_model_run(&s, &model, NULL, many_nodes, many, 11,
						     out_nodes, out, 1, &st), VACCEL_EINVAL);
	}
	assert_int_equal(vaccel_tf_model_run(&s, &loose, NULL, in_nodes, in, 1, out_nodes, out, 1,
					     &st), VACCEL_EPERM);
	assert_int_equal(vaccel_tf_model_run(NULL, &model, NULL, in_nodes, in, 1, out_nodes, out, 1,
					     &st), VACCEL_EINVAL);
	assert_int_equal(vaccel_tf_model_run(&s, NULL, NULL, in_nodes, in, 1, out_nodes, out, 1,
					     &st), VACCEL_EINVAL);
	/* A second output of a type without a fixed element size: refused,
	 * and the first, already made, is not left to the caller. */
	str_in[0] = in[0];
	str_in[1] = tf_in(1, ddims, VACCEL_TF_STRING, dx, sizeof(dx));
	out[0] = out[1] = (struct vaccel_tf_tensor *)1;
	assert_int_equal(vaccel_tf_model_run(&s, &model, NULL, in_nodes, str_in, 2, out_nodes, out,
					     2, &st), VACCEL_EBACKEND);
	assert_null(out[0]);
	assert_null(out[1]);
	/* Unload. */
	assert_int_equal(vaccel_tf_model_unload(&s, &model, &st), 0);
	assert_string_equal(st.message, "tf_model_unload model.pb");
	assert_int_equal(vaccel_tf_model_unload(&s, &loose, &st), VACCEL_EPERM);
	assert_int_equal(vaccel_tf_model_unload(&s, NULL, &st), VACCEL_EINVAL);
	assert_int_equal(vaccel_tf_model_unload(NULL, &model, &st), VACCEL_EINVAL);
	assert_int_equal(vaccel_tf_model_load(&s, &loose, &st), VACCEL_EPERM);
	assert_int_equal(vaccel_tf_model_load(&s, NULL, &st), VACCEL_EINVAL);
	assert_int_equal(vaccel_tf_model_load(NULL, &model, &st), VACCEL_EINVAL);
	/* Not a model. */
	assert_int_equal(vaccel_tf_model_load(&s, &lib, &st), VACCEL_EINVAL);
	assert_int_equal(vaccel_tf_model_unload(&s, &lib, &st), VACCEL_EINVAL);
	assert_int_equal(vaccel_tf_model_run(&s, &lib, NULL, in_nodes, in, 1, out_nodes, out, 1,
					     &st), VACCEL_EINVAL);
	res_close(&lib, &s);
	assert_int_equal(vaccel_tf_status_release(&st), 0);
	assert_int_equal(vaccel_tf_tensor_delete(in[0]), 0);
	assert_int_equal(vaccel_tf_tensor_delete(in[1]), 0);
	assert_int_equal(vaccel_tf_tensor_delete(str_in[1]), 0);
	res_close(&loose, NULL);
	res_close(&model, &s);
	sess_close(&s);
	st = (struct vaccel_tf_status){ 0, NULL };
	assert_int_equal(vaccel_tf_model_load(&s, &model, &st), VACCEL_EINVAL);
	assert_int_equal(vaccel_tf_model_unload(&s, &model, &st), VACCEL_EINVAL);
	assert_int_equal(vaccel_tf_model_run(&s, &model, NULL, in_nodes, in, 0, out_nodes, out, 0,
					     &st), VACCEL_EINVAL);
}

/* ---- TensorFlow Lite ---- */

/* tflite: load, unload, run (int32 dims; output tensors; the status byte:
 * 0 when every output was produced); refusals. */
static void test_vaccel_ops_tflite(void **state)
{
	int32_t dims[2] = { 2, 3 }, bdims[1] = { 1024 };
	static float big[1024];
	float x[6] = { 1, -2, 3, -4, 5, -6 };
	int64_t l[2] = { INT64_MAX / 4, -9 };
	int32_t ldims[1] = { 2 };
	struct vaccel_tflite_tensor *in[2], *out[17] = { NULL }, *bin, *str_in[2];
	struct vaccel_resource model, loose, lib;
	struct vaccel_session s;
	uint8_t st = 0xaa;

	(void)state;
	for (int i = 0; i < 1024; i++)
		big[i] = (float)(i - 512);
	sess_open(&s);
	res_open(&model, &s, path_tflite, VACCEL_RESOURCE_MODEL);
	res_open(&loose, NULL, path_tflite, VACCEL_RESOURCE_MODEL);
	res_open(&lib, &s, path_lib, VACCEL_RESOURCE_LIB);
	in[0] = tflite_in(2, dims, VACCEL_TFLITE_FLOAT32, x, sizeof(x));
	in[1] = tflite_in(1, ldims, VACCEL_TFLITE_INT64, l, sizeof(l));
	bin = tflite_in(1, bdims, VACCEL_TFLITE_FLOAT32, big, 1024 * 4);
	assert_int_equal(vaccel_tflite_model_load(&s, &model), 0);
	assert_int_equal(vaccel_tflite_model_run(&s, &model, in, 2, out, 2, &st), 0);
	assert_int_equal(st, 0);
	assert_non_null(out[0]);
	assert_int_equal(out[0]->data_type, VACCEL_TFLITE_FLOAT32);
	assert_int_equal(out[0]->nr_dims, 2);
	assert_int_equal(out[0]->dims[0], 2);
	assert_int_equal(out[0]->dims[1], 3);
	assert_int_equal(out[0]->size, sizeof(x));
	check_floats(out[0]->data, x, 6, ECHO_SCALE);
	assert_non_null(out[1]);
	assert_int_equal(out[1]->data_type, VACCEL_TFLITE_INT64);
	assert_int_equal(((int64_t *)out[1]->data)[0], l[0] * ECHO_SCALE);
	assert_int_equal(((int64_t *)out[1]->data)[1], l[1] * ECHO_SCALE);
	assert_int_equal(vaccel_tflite_tensor_delete(out[0]), 0);
	assert_int_equal(vaccel_tflite_tensor_delete(out[1]), 0);
	/* More outputs than inputs: status 1, the extra output NULL. */
	st = 0xaa;
	assert_int_equal(vaccel_tflite_model_run(&s, &model, in, 1, out, 2, &st), 0);
	assert_int_equal(st, 1);
	assert_non_null(out[0]);
	assert_null(out[1]);
	assert_int_equal(vaccel_tflite_tensor_delete(out[0]), 0);
	/* Large, staged; a NULL status is fine. */
	assert_int_equal(vaccel_tflite_model_run(&s, &model, &bin, 1, out, 1, NULL), 0);
	assert_non_null(out[0]);
	assert_int_equal(out[0]->dims[0], 1024);
	check_floats(out[0]->data, big, 1024, ECHO_SCALE);
	assert_int_equal(vaccel_tflite_tensor_delete(out[0]), 0);
	/* Refusals. */
	assert_int_equal(vaccel_tflite_model_run(&s, &model, in, -1, out, 1, &st), VACCEL_EINVAL);
	assert_int_equal(vaccel_tflite_model_run(&s, &model, in, 1, out, -1, &st), VACCEL_EINVAL);
	assert_int_equal(vaccel_tflite_model_run(&s, &model, NULL, 1, out, 1, &st), VACCEL_EINVAL);
	assert_int_equal(vaccel_tflite_model_run(&s, &model, in, 1, NULL, 1, &st), VACCEL_EINVAL);
	assert_int_equal(vaccel_tflite_model_run(&s, &model, in, 17, out, 1, &st), VACCEL_EINVAL);
	assert_int_equal(vaccel_tflite_model_run(&s, &model, in, 1, out, 16, &st), VACCEL_EINVAL);
	assert_int_equal(vaccel_tflite_model_run(&s, &loose, in, 1, out, 1, &st), VACCEL_EPERM);
	assert_int_equal(vaccel_tflite_model_run(NULL, &model, in, 1, out, 1, &st), VACCEL_EINVAL);
	assert_int_equal(vaccel_tflite_model_run(&s, NULL, in, 1, out, 1, &st), VACCEL_EINVAL);
	/* A second output of a type without a fixed element size: refused,
	 * and the first is not left to the caller. */
	str_in[0] = in[0];
	str_in[1] = tflite_in(1, ldims, VACCEL_TFLITE_STRING, l, sizeof(l));
	out[0] = out[1] = (struct vaccel_tflite_tensor *)1;
	assert_int_equal(vaccel_tflite_model_run(&s, &model, str_in, 2, out, 2, &st),
			 VACCEL_EBACKEND);
	assert_null(out[0]);
	assert_null(out[1]);
	assert_int_equal(vaccel_tflite_model_unload(&s, &model), 0);
	assert_int_equal(vaccel_tflite_model_load(&s, &loose), VACCEL_EPERM);
	assert_int_equal(vaccel_tflite_model_unload(&s, &loose), VACCEL_EPERM);
	assert_int_equal(vaccel_tflite_model_load(&s, NULL), VACCEL_EINVAL);
	assert_int_equal(vaccel_tflite_model_unload(&s, NULL), VACCEL_EINVAL);
	assert_int_equal(vaccel_tflite_model_load(NULL, &model), VACCEL_EINVAL);
	assert_int_equal(vaccel_tflite_model_unload(NULL, &model), VACCEL_EINVAL);
	/* Not a model. */
	assert_int_equal(vaccel_tflite_model_load(&s, &lib), VACCEL_EINVAL);
	assert_int_equal(vaccel_tflite_model_unload(&s, &lib), VACCEL_EINVAL);
	assert_int_equal(vaccel_tflite_model_run(&s, &lib, in, 1, out, 1, &st), VACCEL_EINVAL);
	res_close(&lib, &s);
	assert_int_equal(vaccel_tflite_tensor_delete(in[0]), 0);
	assert_int_equal(vaccel_tflite_tensor_delete(in[1]), 0);
	assert_int_equal(vaccel_tflite_tensor_delete(bin), 0);
	assert_int_equal(vaccel_tflite_tensor_delete(str_in[1]), 0);
	res_close(&loose, NULL);
	res_close(&model, &s);
	sess_close(&s);
	assert_int_equal(vaccel_tflite_model_load(&s, &model), VACCEL_EINVAL);
	assert_int_equal(vaccel_tflite_model_unload(&s, &model), VACCEL_EINVAL);
	assert_int_equal(vaccel_tflite_model_run(&s, &model, NULL, 0, NULL, 0, &st), VACCEL_EINVAL);
}

/* ---- a dead session ---- */

/* Every op on a never initialized (zeroed) or released session is EINVAL,
 * before anything else is looked at (the resource, the arguments). */
static void run_all_ops_einval(struct vaccel_session *s)
{
	struct vaccel_resource model = { .type = VACCEL_RESOURCE_MODEL };
	struct vaccel_resource lib = { .type = VACCEL_RESOURCE_LIB };
	struct vaccel_tf_status st = { 0, NULL };
	unsigned char buf[64] = { 0 };
	float f[4] = { 0 };
	double d[4] = { 0 }, mn, mx;
	int ia[4] = { 0 };
	uint8_t op = VACCEL_OP_NOOP, tst;
	struct vaccel_arg rd = arg(&op, 1, VACCEL_ARG_UINT8, 0);
	int64_t dims[1] = { 1 };
	struct vaccel_torch_tensor tt = { .data = f, .size = 4, .nr_dims = 1, .dims = dims,
					  .data_type = VACCEL_TORCH_FLOAT };
	struct vaccel_torch_tensor *t = &tt, *tout = NULL;
	int rets[] = {
		vaccel_noop(s),
		vaccel_sgemm(s, 1, 1, 1, 1, f, 1, f, 1, 0, f, 1),
		vaccel_image_classification(s, buf, buf, buf, 8, 8, 8),
		vaccel_image_detection(s, buf, buf, 8, 8),
		vaccel_image_segmentation(s, buf, buf, 8, 8),
		vaccel_image_pose(s, buf, buf, 8, 8),
		vaccel_image_depth(s, buf, buf, 8, 8),
		vaccel_exec(s, "lib", "sym", NULL, 0, NULL, 0),
		vaccel_exec_with_resource(s, &lib, "sym", NULL, 0, NULL, 0),
		vaccel_opencv_unpack(s, NULL, 0, NULL, 0),
		vaccel_genop(s, &rd, 1, NULL, 0),
		vaccel_minmax(s, d, 4, 0, 1, d, &mn, &mx),
		vaccel_fpga_arraycopy(s, ia, ia, 4),
		vaccel_fpga_mmult(s, f, f, f, 4),
		vaccel_fpga_parallel(s, f, f, f, f, 4),
		vaccel_fpga_vadd(s, f, f, f, 4, 4),
		vaccel_torch_model_load(s, &model),
		vaccel_torch_model_run(s, &model, NULL, NULL, 0, NULL, 0),
		vaccel_torch_sgemm(s, &t, &t, &t, 1, 1, 1, &tout),
		vaccel_tf_model_load(s, &model, &st),
		vaccel_tf_model_unload(s, &model, &st),
		vaccel_tf_model_run(s, &model, NULL, NULL, NULL, 0, NULL, NULL, 0, &st),
		vaccel_tflite_model_load(s, &model),
		vaccel_tflite_model_unload(s, &model),
		vaccel_tflite_model_run(s, &model, NULL, 0, NULL, 0, &tst),
	};

	for (size_t i = 0; i < ARRAY_SIZE(rets); i++)
		if (rets[i] != VACCEL_EINVAL)
			fail_msg("op %zu on a dead session: %d, want EINVAL", i, rets[i]);
}

static void test_vaccel_ops_dead_session(void **state)
{
	struct vaccel_session s;

	(void)state;
	memset(&s, 0, sizeof(s));
	run_all_ops_einval(&s);
	run_all_ops_einval(NULL);
	sess_open(&s);
	sess_close(&s);
	run_all_ops_einval(&s);
}

/* ---- an op no plugin serves (child process, blas-only broker) ---- */

/* Every op but sgemm is ENOTSUP on a broker with blas alone, which still
 * serves sgemm. */
static void enotsup_plain(void **state)
{
	unsigned char buf[64] = "x";
	float f[4] = { 1, 1, 1, 1 }, c = 0;
	double d[4] = { 1, 2, 3, 4 }, mn, mx;
	int ia[4] = { 0 };
	uint8_t op = VACCEL_OP_NOOP;
	int32_t x = 1;
	struct vaccel_arg rd = arg(&op, 1, VACCEL_ARG_UINT8, 0), xa = arg(&x, 4, VACCEL_ARG_INT32, 0);
	struct vaccel_session s;
	/* A tensor as a program may build it by hand (the struct is public). */
	int64_t dims[2] = { 1, 1 };
	struct vaccel_torch_tensor tt = { .data = f, .size = 4, .nr_dims = 2, .dims = dims,
					  .data_type = VACCEL_TORCH_FLOAT };
	struct vaccel_torch_tensor *t = &tt, *out = NULL;

	(void)state;
	sess_open(&s);
	assert_int_equal(vaccel_sgemm(&s, 1, 1, 1, 1, f, 1, f, 1, 0, &c, 1), 0);
	assert_true(c == 1);
	assert_int_equal(vaccel_noop(&s), VACCEL_ENOTSUP);
	assert_int_equal(vaccel_image_classification(&s, buf, buf, buf, 8, 8, 8), VACCEL_ENOTSUP);
	assert_int_equal(vaccel_image_detection(&s, buf, buf, 8, 8), VACCEL_ENOTSUP);
	assert_int_equal(vaccel_image_segmentation(&s, buf, buf, 8, 8), VACCEL_ENOTSUP);
	assert_int_equal(vaccel_image_pose(&s, buf, buf, 8, 8), VACCEL_ENOTSUP);
	assert_int_equal(vaccel_image_depth(&s, buf, buf, 8, 8), VACCEL_ENOTSUP);
	assert_int_equal(vaccel_exec(&s, "lib", "sym", &xa, 1, &xa, 1), VACCEL_ENOTSUP);
	assert_int_equal(vaccel_opencv_unpack(&s, &xa, 1, NULL, 0), VACCEL_ENOTSUP);
	assert_int_equal(vaccel_genop(&s, &rd, 1, NULL, 0), VACCEL_ENOTSUP);
	assert_int_equal(vaccel_minmax(&s, d, 4, 0, 1, d, &mn, &mx), VACCEL_ENOTSUP);
	assert_int_equal(vaccel_fpga_arraycopy(&s, ia, ia, 4), VACCEL_ENOTSUP);
	assert_int_equal(vaccel_fpga_mmult(&s, f, f, f, 4), VACCEL_ENOTSUP);
	assert_int_equal(vaccel_fpga_parallel(&s, f, f, f, f, 4), VACCEL_ENOTSUP);
	assert_int_equal(vaccel_fpga_vadd(&s, f, f, f, 4, 4), VACCEL_ENOTSUP);
	assert_int_equal(vaccel_torch_sgemm(&s, &t, &t, &t, 1, 1, 1, &out), VACCEL_ENOTSUP);
	assert_null(out);
	sess_close(&s);
}

static void enotsup_models(void **state)
{
	struct vaccel_resource lib, pt, pb, tfl;
	struct vaccel_tf_status st = { 0, NULL };
	struct vaccel_session s;
	uint8_t tst;

	(void)state;
	sess_open(&s);
	res_open(&lib, &s, path_lib, VACCEL_RESOURCE_LIB);
	res_open(&pt, &s, path_pt, VACCEL_RESOURCE_MODEL);
	res_open(&pb, &s, path_pb, VACCEL_RESOURCE_MODEL);
	res_open(&tfl, &s, path_tflite, VACCEL_RESOURCE_MODEL);
	assert_int_equal(vaccel_exec_with_resource(&s, &lib, "sym", NULL, 0, NULL, 0),
			 VACCEL_ENOTSUP);
	assert_int_equal(vaccel_torch_model_load(&s, &pt), VACCEL_ENOTSUP);
	assert_int_equal(vaccel_torch_model_run(&s, &pt, NULL, NULL, 0, NULL, 0), VACCEL_ENOTSUP);
	assert_int_equal(vaccel_tf_model_load(&s, &pb, &st), VACCEL_ENOTSUP);
	assert_int_equal(vaccel_tf_model_run(&s, &pb, NULL, NULL, NULL, 0, NULL, NULL, 0, &st),
			 VACCEL_ENOTSUP);
	assert_int_equal(vaccel_tf_model_unload(&s, &pb, &st), VACCEL_ENOTSUP);
	assert_int_equal(vaccel_tflite_model_load(&s, &tfl), VACCEL_ENOTSUP);
	assert_int_equal(vaccel_tflite_model_run(&s, &tfl, NULL, 0, NULL, 0, &tst),
			 VACCEL_ENOTSUP);
	assert_int_equal(vaccel_tflite_model_unload(&s, &tfl), VACCEL_ENOTSUP);
	res_close(&tfl, &s);
	res_close(&pb, &s);
	res_close(&pt, &s);
	res_close(&lib, &s);
	sess_close(&s);
}

static int enotsup_main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(enotsup_plain),
		cmocka_unit_test(enotsup_models),
	};
	int ret;

	if (files_setup())
		return 1;
	ret = cmocka_run_group_tests_name("ops_enotsup", tests, NULL, NULL);
	files_teardown();
	vaccel_cleanup();
	return ret;
}

/* A broker whose plugins serve none of the op: ENOTSUP, and it keeps
 * serving what it has (a child of this program on a blas-only broker). */
static void test_vaccel_ops_unserved_enotsup(void **state)
{
	const char *args[] = { "--plugins=blas", NULL };
	char addr[256];
	const char *env[] = { addr, "ACCELRING_TEST_FILTER", NULL };
	struct test_broker b2;
	char out[8192];
	int ret, stop;

	(void)state;
	assert_int_equal(test_broker_start(&b2, args), 0);
	snprintf(addr, sizeof(addr), "ACCELRING_ADDRESS=%s", b2.address);
	ret = run_child("--enotsup", env, out, sizeof(out), 120);
	setenv("ACCELRING_ADDRESS", broker.address, 1);
	stop = test_broker_stop(&b2);
	if (ret)
		print_message("%s", out);
	assert_int_equal(ret, 0);
	assert_int_equal(stop, 0);
}

/* ---- profiling (child process) ---- */

static int prof_main(void)
{
	struct vaccel_session s;
	double d[3] = { 1, 2, 3 }, o[3], mn, mx;
	int32_t x = 1;
	struct vaccel_arg a = arg(&x, 4, VACCEL_ARG_INT32, 0);
	int bad = 0;

	if (vaccel_session_init(&s, 0))
		return 1;
	for (int i = 0; i < 3; i++)
		bad |= vaccel_noop(&s);
	for (int i = 0; i < 2; i++)
		bad |= vaccel_minmax(&s, d, 3, 0, 5, o, &mn, &mx);
	bad |= vaccel_exec(&s, "lib", "sym", &a, 1, &a, 1);
	bad |= vaccel_session_release(&s);
	return bad ? 2 : 0;
}

/* The line of region name in a profile printout ("[prof] <name>: ..."),
 * or NULL. */
static const char *prof_line(const char *out, const char *name)
{
	char key[96];

	snprintf(key, sizeof(key), "[prof] %s: ", name);
	return strstr(out, key);
}

static void check_prof_entries(const char *out, const char *name, int n)
{
	const char *l = prof_line(out, name);
	char want[32];
	size_t len;

	if (!l)
		fail_msg("no profile line for %s in:\n%s", name, out);
	len = strcspn(l, "\n");
	snprintf(want, sizeof(want), "nr_entries: %d", n);
	if (!memmem(l, len, want, strlen(want)))
		fail_msg("%.*s: want %s", (int)len, l, want);
}

/* With VACCEL_PROFILING_ENABLED=1 each op's calls are a region
 * "vaccel_<op>_op" (and the client's stages regions of their own), printed
 * at exit; without it, nothing is. */
static void test_vaccel_ops_profiling(void **state)
{
	const char *on[] = { "VACCEL_PROFILING_ENABLED=1", "VACCEL_LOG_LEVEL=3", NULL };
	const char *off[] = { "VACCEL_PROFILING_ENABLED", "VACCEL_LOG_LEVEL=3", NULL };
	static char out[1 << 16];
	size_t cap = sizeof(out);

	(void)state;
	assert_int_equal(run_child("--prof", on, out, cap, 120), 0);
	check_prof_entries(out, "vaccel_noop_op", 3);
	check_prof_entries(out, "vaccel_minmax_op", 2);
	check_prof_entries(out, "vaccel_exec_op", 1);
	/* The client's stages: the round trips of the ops with arguments
	 * (noop has no stages). */
	check_prof_entries(out, "accelring_roundtrip", 3);
	assert_null(prof_line(out, "vaccel_blas_sgemm_op"));
	assert_int_equal(run_child("--prof", off, out, cap, 120), 0);
	if (strstr(out, "[prof]"))
		fail_msg("profile printed with profiling off:\n%s", out);
}

/* ---- the suite ---- */

/* The suite's broker exits 0 on SIGTERM: no sanitizer report, no leak. */
static void test_vaccel_ops_exits_clean(void **state)
{
	(void)state;
	assert_int_equal(test_broker_stop(&broker), 0);
}

static int setup(void **state)
{
	const char *args[] = { "--plugins=" AR_ECHO_PLUGIN ":blas:noop", NULL };

	(void)state;
	if (files_setup())
		return -1;
	return test_broker_start(&broker, args);
}

static int teardown(void **state)
{
	int ret = 0;

	(void)state;
	vaccel_cleanup();
	if (broker.pid > 0)
		ret = test_broker_stop(&broker) == 0 ? 0 : -1;
	files_teardown();
	return ret;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vaccel_ops_noop),
		cmocka_unit_test(test_vaccel_ops_sgemm),
		cmocka_unit_test(test_vaccel_ops_image),
		cmocka_unit_test(test_vaccel_ops_exec_typed_args),
		cmocka_unit_test(test_vaccel_ops_exec_limits),
		cmocka_unit_test(test_vaccel_ops_exec_broker_type_checks),
		cmocka_unit_test(test_vaccel_ops_exec_large_args),
		cmocka_unit_test(test_vaccel_ops_exec_threads),
		cmocka_unit_test(test_vaccel_ops_exec_with_resource),
		cmocka_unit_test(test_vaccel_ops_opencv),
		cmocka_unit_test(test_vaccel_ops_minmax),
		cmocka_unit_test(test_vaccel_ops_fpga),
		cmocka_unit_test(test_vaccel_ops_genop),
		cmocka_unit_test(test_vaccel_ops_genop_bad),
		cmocka_unit_test(test_vaccel_ops_genop_exec_with_resource),
		cmocka_unit_test(test_vaccel_ops_torch_model_load),
		cmocka_unit_test(test_vaccel_ops_torch_model_run),
		cmocka_unit_test(test_vaccel_ops_torch_model_run_bad),
		cmocka_unit_test(test_vaccel_ops_torch_sgemm),
		cmocka_unit_test(test_vaccel_ops_tf),
		cmocka_unit_test(test_vaccel_ops_tflite),
		cmocka_unit_test(test_vaccel_ops_dead_session),
		cmocka_unit_test(test_vaccel_ops_unserved_enotsup),
		cmocka_unit_test(test_vaccel_ops_profiling),
		cmocka_unit_test(test_vaccel_ops_exits_clean),
	};

	if (argc > 1 && !strcmp(argv[1], "--enotsup"))
		return enotsup_main();
	if (argc > 1 && !strcmp(argv[1], "--prof"))
		return prof_main();
	if (getenv("ACCELRING_TEST_FILTER"))
		cmocka_set_test_filter(getenv("ACCELRING_TEST_FILTER"));
	return cmocka_run_group_tests_name("vaccel_ops", tests, setup, teardown);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A plugin written as one is for upstream vAccel: <vaccel.h>, VACCEL_PLUGIN,
 * VACCEL_OP_INIT and vaccel_plugin_register_ops, nothing of accelring's.
 * Built without libvaccel (its one undefined symbol,
 * vaccel_plugin_register_ops, is the broker's), and again with
 * VSTYLE_LINKED linked to libvaccel, whose vaccel_arg_array_* its exec
 * then uses (tests/test_broker_vplugin.c).
 *
 *   noop          counts its calls (exec "noop_count" reads the count)
 *   sgemm         C = alpha * A * B + beta * C, plain loops
 *   exec          by symbol: "sum" (INT32 + FLOAT32 into a FLOAT32),
 *                 "types" (each read's type and custom id), "session"
 *                 (the session it ran in), "align" (misaligned typed
 *                 arguments), "register" (a registration after init),
 *                 "noop_count"
 *   classify      a fixed tag and image name; detect: a fixed image name
 *   depth         fails with VACCEL_ENODEV; segment returns a code that is
 *                 no VACCEL_E* (123456)
 *   minmax, fpga  computed; opencv: each write is a copy of its read
 *   exec_with_resource  "resource_sum": the sum of the LIB resource's
 *                 first file's bytes into a UINT64, and whether its blob's
 *                 path reads back the same bytes into a UINT8
 *   torch load    VACCEL_OK if the model's first blob has bytes and a path
 *                 that opens, else VACCEL_ENOENT
 *   tf load       registered, but the broker cannot serve it
 */
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <vaccel.h>

#ifndef VSTYLE_NAME
#define VSTYLE_NAME "vaccel_style"
#endif

static _Atomic uint64_t noop_calls;

static int v_noop(struct vaccel_session *sess)
{
	(void)sess;
	atomic_fetch_add(&noop_calls, 1);
	return VACCEL_OK;
}

static int v_sgemm(struct vaccel_session *sess, int64_t m, int64_t n, int64_t k,
		   float alpha, float *a, int64_t lda, float *b, int64_t ldb,
		   float beta, float *c, int64_t ldc)
{
	(void)sess;
	for (int64_t i = 0; i < m; i++) {
		for (int64_t j = 0; j < n; j++) {
			float acc = 0;

			for (int64_t p = 0; p < k; p++)
				acc += a[i * lda + p] * b[p * ldb + j];
			c[i * ldc + j] = alpha * acc + beta * c[i * ldc + j];
		}
	}
	return VACCEL_OK;
}

static bool is(const struct vaccel_arg *a, vaccel_arg_type_t type, size_t size)
{
	return a->type == type && a->size == size && a->buf && !a->owned;
}

#ifdef VSTYLE_LINKED
/* The same sum through libvaccel's typed accessors. */
static int sum(struct vaccel_arg *read, size_t nr_read, struct vaccel_arg *write,
	       size_t nr_write)
{
	struct vaccel_arg_array r, w;
	int32_t i;
	float f;
	int ret;

	if ((ret = vaccel_arg_array_wrap(&r, read, nr_read)) ||
	    (ret = vaccel_arg_array_wrap(&w, write, nr_write)) ||
	    (ret = vaccel_arg_array_get_int32(&r, &i)) ||
	    (ret = vaccel_arg_array_get_float(&r, &f)))
		return ret;
	f += (float)i;
	return vaccel_arg_array_set_float(&w, &f);
}
#else
static int sum(struct vaccel_arg *read, size_t nr_read, struct vaccel_arg *write,
	       size_t nr_write)
{
	int32_t i;
	float f;

	if (nr_read != 2 || nr_write != 1 || !is(&read[0], VACCEL_ARG_INT32, 4) ||
	    !is(&read[1], VACCEL_ARG_FLOAT32, 4) || !is(&write[0], VACCEL_ARG_FLOAT32, 4))
		return VACCEL_EINVAL;
	memcpy(&i, read[0].buf, 4);
	memcpy(&f, read[1].buf, 4);
	f += (float)i;
	memcpy(write[0].buf, &f, 4);
	return VACCEL_OK;
}
#endif

/* The alignment a typed argument's type asks for (0 for bytes). */
static size_t align_of(vaccel_arg_type_t t)
{
	static const uint8_t elem[13] = { 1, 2, 4, 8, 1, 2, 4, 8, 4, 8, 1, 1, 1 };

	return t >= VACCEL_ARG_INT8 && t <= VACCEL_ARG_UCHAR_ARRAY ? elem[(t - 1) / 2] : 1;
}

static struct vaccel_op late_op;

static int v_exec(struct vaccel_session *sess, const char *library,
		  const char *fn_symbol, struct vaccel_arg *read, size_t nr_read,
		  struct vaccel_arg *write, size_t nr_write)
{
	if (!sess || !library || !fn_symbol || strcmp(library, "libvstyle.so"))
		return VACCEL_ENOENT;
	if (!strcmp(fn_symbol, "sum"))
		return sum(read, nr_read, write, nr_write);
	if (!strcmp(fn_symbol, "noop_count")) {
		uint64_t n = atomic_load(&noop_calls);

		if (nr_write != 1 || !is(&write[0], VACCEL_ARG_UINT64, 8))
			return VACCEL_EINVAL;
		memcpy(write[0].buf, &n, 8);
		return VACCEL_OK;
	}
	if (!strcmp(fn_symbol, "types")) {
		uint32_t *out;

		if (nr_write != 1 || write[0].size < nr_read * 8 || write[0].type != VACCEL_ARG_UINT32_ARRAY)
			return VACCEL_EINVAL;
		out = write[0].buf;
		for (size_t i = 0; i < nr_read; i++) {
			out[2 * i] = (uint32_t)read[i].type;
			out[2 * i + 1] = read[i].custom_type_id;
		}
		return VACCEL_OK;
	}
	if (!strcmp(fn_symbol, "session")) {
		int64_t id = sess->id;
		uint32_t hint = sess->hint;
		uint8_t mine = sess->plugin == &vaccel_this_plugin && !sess->remote_id &&
			       !sess->rundir[0] && !sess->priv &&
			       sess->resources[0].next == &sess->resources[0];

		if (nr_write != 3)
			return VACCEL_EINVAL;
		memcpy(write[0].buf, &id, 8);
		memcpy(write[1].buf, &hint, 4);
		memcpy(write[2].buf, &mine, 1);
		return VACCEL_OK;
	}
	if (!strcmp(fn_symbol, "align")) {
		int32_t bad = 0;

		for (size_t i = 0; i < nr_read; i++)
			bad += (uintptr_t)read[i].buf % align_of(read[i].type) != 0;
		for (size_t i = 1; i < nr_write; i++)
			bad += (uintptr_t)write[i].buf % align_of(write[i].type) != 0;
		if (nr_write < 1 || !is(&write[0], VACCEL_ARG_INT32, 4))
			return VACCEL_EINVAL;
		memcpy(write[0].buf, &bad, 4);
		/* The rest are written: 0xab bytes. */
		for (size_t i = 1; i < nr_write; i++)
			memset(write[i].buf, 0xab, write[i].size);
		return VACCEL_OK;
	}
	if (!strcmp(fn_symbol, "register")) {
		/* On a broker worker, long after init returned. */
		int32_t ret;

		late_op = (struct vaccel_op)VACCEL_OP_INIT(late_op, VACCEL_OP_IMAGE_POSE, v_noop);
		ret = vaccel_plugin_register_ops(&late_op, 1);
		if (nr_write != 1 || !is(&write[0], VACCEL_ARG_INT32, 4))
			return VACCEL_EINVAL;
		memcpy(write[0].buf, &ret, 4);
		return VACCEL_OK;
	}
	return VACCEL_ENOENT;
}

static void put(unsigned char *out, size_t len, const char *s)
{
	size_t n = strlen(s) + 1;

	if (!out || !len)
		return;
	if (n > len)
		n = len;
	memcpy(out, s, n);
	out[n - 1] = '\0';
}

static int v_classify(struct vaccel_session *sess, const void *img,
		      unsigned char *out_text, unsigned char *out_imgname,
		      size_t len_img, size_t len_out_text, size_t len_out_imgname)
{
	(void)sess;
	if (!img || !len_img)
		return VACCEL_EINVAL;
	put(out_text, len_out_text, "vstyle: a tag");
	put(out_imgname, len_out_imgname, "vstyle: classified");
	return VACCEL_OK;
}

static int v_detect(struct vaccel_session *sess, const void *img,
		    unsigned char *out_imgname, size_t len_img, size_t len_out_imgname)
{
	(void)sess;
	(void)img;
	(void)len_img;
	put(out_imgname, len_out_imgname, "vstyle: detected");
	return VACCEL_OK;
}

static int v_depth(struct vaccel_session *sess, const void *img,
		   unsigned char *out_imgname, size_t len_img, size_t len_out_imgname)
{
	(void)sess;
	(void)img;
	(void)out_imgname;
	(void)len_img;
	(void)len_out_imgname;
	return VACCEL_ENODEV;
}

static int v_segment(struct vaccel_session *sess, const void *img,
		     unsigned char *out_imgname, size_t len_img, size_t len_out_imgname)
{
	(void)sess;
	(void)img;
	(void)out_imgname;
	(void)len_img;
	(void)len_out_imgname;
	return 123456;
}

static int v_minmax(struct vaccel_session *sess, const double *indata, int ndata,
		    int low, int high, double *outdata, double *min, double *max)
{
	(void)sess;
	if ((uintptr_t)indata % 8 || (uintptr_t)outdata % 8 || (uintptr_t)min % 8 ||
	    (uintptr_t)max % 8)
		return VACCEL_EFAULT;
	*min = *max = indata[0];
	for (int i = 0; i < ndata; i++) {
		double v = indata[i];

		*min = v < *min ? v : *min;
		*max = v > *max ? v : *max;
		outdata[i] = v < low ? low : v > high ? high : v;
	}
	return VACCEL_OK;
}

static int v_arraycopy(struct vaccel_session *sess, int *a, int *out_a, size_t len_a)
{
	(void)sess;
	for (size_t i = 0; i < len_a; i++)
		out_a[i] = a[i];
	return VACCEL_OK;
}

static int v_mmult(struct vaccel_session *sess, float *a, float *b, float *c,
		   size_t len_a)
{
	(void)sess;
	for (size_t i = 0; i < len_a; i++)
		c[i] = a[i] * b[i];
	return VACCEL_OK;
}

static int v_parallel(struct vaccel_session *sess, float *a, float *b,
		      float *add_output, float *mult_output, size_t len_a)
{
	(void)sess;
	for (size_t i = 0; i < len_a; i++) {
		add_output[i] = a[i] + b[i];
		mult_output[i] = a[i] * b[i];
	}
	return VACCEL_OK;
}

static int v_vadd(struct vaccel_session *sess, float *a, float *b, float *c,
		  size_t len_a, size_t len_b)
{
	(void)sess;
	for (size_t i = 0; i < len_a || i < len_b; i++)
		c[i] = (i < len_a ? a[i] : 0) + (i < len_b ? b[i] : 0);
	return VACCEL_OK;
}

static int v_opencv(struct vaccel_session *sess, struct vaccel_arg *read, int nr_read,
		    struct vaccel_arg *write, int nr_write)
{
	(void)sess;
	if (nr_read != nr_write)
		return VACCEL_EINVAL;
	for (int i = 0; i < nr_read; i++)
		memcpy(write[i].buf, read[i].buf,
		       read[i].size < write[i].size ? read[i].size : write[i].size);
	return VACCEL_OK;
}

/* Whether path reads back exactly the n bytes at data. */
static uint8_t reads_back(const char *path, const uint8_t *data, size_t n)
{
	uint8_t buf[4096];
	size_t off = 0;
	ssize_t k;
	int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;

	if (fd < 0)
		return 0;
	while ((k = read(fd, buf, sizeof(buf))) > 0) {
		if (off + (size_t)k > n || memcmp(buf, data + off, (size_t)k))
			break;
		off += (size_t)k;
	}
	close(fd);
	return k == 0 && off == n;
}

static int v_exec_res(struct vaccel_session *sess, struct vaccel_resource *res,
		      const char *fn_symbol, struct vaccel_arg *read, size_t nr_read,
		      struct vaccel_arg *write, size_t nr_write)
{
	const struct vaccel_blob *b;
	uint64_t sum = 0;
	uint8_t same;

	(void)read;
	(void)nr_read;
	if (!sess || !res || !fn_symbol || strcmp(fn_symbol, "resource_sum"))
		return VACCEL_ENOENT;
	if (res->type != VACCEL_RESOURCE_LIB || !res->nr_blobs || !res->blobs[0] ||
	    nr_write != 2 || !is(&write[0], VACCEL_ARG_UINT64, 8) ||
	    !is(&write[1], VACCEL_ARG_UINT8, 1))
		return VACCEL_EINVAL;
	b = res->blobs[0];
	for (size_t i = 0; i < b->size; i++)
		sum += b->data[i];
	same = reads_back(b->path, b->data, b->size);
	memcpy(write[0].buf, &sum, 8);
	memcpy(write[1].buf, &same, 1);
	return VACCEL_OK;
}

static int v_torch_load(struct vaccel_session *sess, struct vaccel_resource *model)
{
	const struct vaccel_blob *b;

	if (!sess || !model || !model->nr_blobs || !(b = model->blobs[0]) || !b->size ||
	    !b->data || !reads_back(b->path, b->data, b->size))
		return VACCEL_ENOENT;
	return VACCEL_OK;
}

static int v_tf_load(struct vaccel_session *sess, struct vaccel_resource *model,
		     struct vaccel_tf_status *status)
{
	(void)sess;
	(void)model;
	(void)status;
	return VACCEL_OK;
}

static struct vaccel_op ops[] = {
	VACCEL_OP_INIT(ops[0], VACCEL_OP_NOOP, v_noop),
	VACCEL_OP_INIT(ops[1], VACCEL_OP_BLAS_SGEMM, v_sgemm),
	VACCEL_OP_INIT(ops[2], VACCEL_OP_EXEC, v_exec),
	VACCEL_OP_INIT(ops[3], VACCEL_OP_IMAGE_CLASSIFY, v_classify),
	VACCEL_OP_INIT(ops[4], VACCEL_OP_IMAGE_DETECT, v_detect),
	VACCEL_OP_INIT(ops[5], VACCEL_OP_IMAGE_DEPTH, v_depth),
	VACCEL_OP_INIT(ops[6], VACCEL_OP_IMAGE_SEGMENT, v_segment),
	VACCEL_OP_INIT(ops[7], VACCEL_OP_MINMAX, v_minmax),
	VACCEL_OP_INIT(ops[8], VACCEL_OP_FPGA_ARRAYCOPY, v_arraycopy),
	VACCEL_OP_INIT(ops[9], VACCEL_OP_FPGA_MMULT, v_mmult),
	VACCEL_OP_INIT(ops[10], VACCEL_OP_FPGA_PARALLEL, v_parallel),
	VACCEL_OP_INIT(ops[11], VACCEL_OP_FPGA_VECTORADD, v_vadd),
	VACCEL_OP_INIT(ops[12], VACCEL_OP_OPENCV, v_opencv),
	VACCEL_OP_INIT(ops[13], VACCEL_OP_TORCH_MODEL_LOAD, v_torch_load),
	VACCEL_OP_INIT(ops[14], VACCEL_OP_EXEC_WITH_RESOURCE, v_exec_res),
	VACCEL_OP_INIT(ops[15], VACCEL_OP_TF_MODEL_LOAD, v_tf_load),
};

static int init(void)
{
	return vaccel_plugin_register_ops(ops, sizeof(ops) / sizeof(ops[0]));
}

static int fini(void)
{
	return VACCEL_OK;
}

VACCEL_PLUGIN(.name = VSTYLE_NAME, .version = "1.0",
	      .vaccel_version = VACCEL_VERSION, .type = VACCEL_PLUGIN_CPU,
	      .init = init, .fini = fini)

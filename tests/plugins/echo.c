/* SPDX-License-Identifier: Apache-2.0 */
/*
 * echo - a test plugin whose every output says what it received, so that
 * a suite can check the whole way of an op: the client's encoding, the
 * broker's validation and the outputs' way back (tests/plugins/echo.h says
 * what each op writes). The Generic ops' argument layouts are those of
 * accelring/optable.h; an argument of another type than the layout's makes
 * the op fail with EPROTO, so a client that encodes wrongly fails a test.
 *
 * Arguments may be unaligned (inline bytes in the message), hence memcpy
 * for every element.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <accelring/optable.h>
#include <accelring/plugin.h>

#include "echo.h"

/* vaccel_arg_type_t values the layouts use (<vaccel/arg.h>). */
enum {
	T_INT32 = 5,
	T_INT32_ARRAY = 6,
	T_INT64_ARRAY = 8,
	T_UINT8 = 9,
	T_FLOAT32_ARRAY = 18,
	T_FLOAT64 = 19,
	T_FLOAT64_ARRAY = 20,
	T_STRING = 27,
	T_BUFFER = 28,
	T_RAW = 0,
};

/* Tensor element kinds the runs scale; others are copied as they are. */
enum kind { K_OTHER, K_F32, K_F64, K_I32, K_I64 };

#define OUT_DIMS 8	/* the client's output metadata: [type, nd, dims[8]] */

static const struct ar_plugin_host *host;

#define debug(...)                                                          \
	do {                                                                \
		if (host->log_level >= AR_LOG_DEBUG)                        \
			host->log(AR_LOG_DEBUG, "[echo] " __VA_ARGS__);     \
	} while (0)

static bool typed(const struct ar_buf *b, uint32_t type)
{
	return b->type == type;
}

static int32_t get_i32(const struct ar_buf *b)
{
	int32_t v;

	memcpy(&v, b->ptr, sizeof(v));
	return v;
}

/* "echo_fail_<errno>" as -errno, else 0. */
static int fail_code(const char *symbol)
{
	size_t n = strlen(ECHO_FAIL_PREFIX);

	if (!symbol || strncmp(symbol, ECHO_FAIL_PREFIX, n))
		return 0;
	return -atoi(symbol + n);
}

/* ---- exec, exec_with_resource, opencv ---- */

/* Whether path reads back exactly n bytes equal to data. */
static bool reads_same(const char *path, const void *data, uint64_t n)
{
	char buf[65536];
	uint64_t off = 0;
	bool same = true;
	int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;

	if (fd < 0)
		return false;
	for (;;) {
		ssize_t k = read(fd, buf, sizeof(buf));

		if (k <= 0) {
			same = same && !k && off == n;
			break;
		}
		if (off + (uint64_t)k > n || memcmp(buf, (const char *)data + off, (size_t)k)) {
			same = false;
			break;
		}
		off += (uint64_t)k;
	}
	close(fd);
	return same;
}

static void record(const struct ar_op *op, struct echo_rec *rec)
{
	const struct ar_op_generic *g = &op->u.generic;
	const struct ar_resource *res = g->resource;

	memset(rec, 0, sizeof(*rec));
	rec->magic = ECHO_MAGIC;
	rec->op = op->op;
	rec->nr_read = g->nr_read;
	rec->nr_write = g->nr_write;
	snprintf(rec->library, sizeof(rec->library), "%s", g->library ? g->library : "");
	if (res && res->nr_files) {
		const struct ar_resource_file *f = &res->files[0];

		snprintf(rec->library, sizeof(rec->library), "%s", f->name);
		rec->res_id = res->id;
		rec->res_type = res->type;
		rec->res_files = res->nr_files;
		rec->res_size = f->size;
		rec->res_fnv = echo_fnv(f->data, f->size);
		rec->res_path_ok = reads_same(f->path, f->data, f->size);
	}
	snprintf(rec->symbol, sizeof(rec->symbol), "%s", g->symbol ? g->symbol : "");
	for (uint32_t i = 0; i < g->nr_read && i < 32; i++)
		rec->read[i] = (struct echo_arg){ g->read[i].type, g->read[i].custom_id,
						  g->read[i].len };
	for (uint32_t i = 0; i < g->nr_write && i < 32; i++)
		rec->write[i] = (struct echo_arg){ g->write[i].type, g->write[i].custom_id,
						   g->write[i].len };
}

static int echo_args(struct ar_op *op)
{
	struct ar_op_generic *g = &op->u.generic;
	struct echo_rec rec;
	uint32_t ncopy = g->nr_write;
	bool has_rec = false;
	int err = fail_code(g->symbol);

	debug("%s: library %s symbol %s, %u read, %u write", host->op_name(op->op),
	      g->library ? g->library : "(none)", g->symbol ? g->symbol : "(none)",
	      g->nr_read, g->nr_write);
	if (err)
		return err;
	/* What was received, before any len is lowered. */
	record(op, &rec);
	if (g->nr_write && g->write[g->nr_write - 1].len >= sizeof(rec)) {
		has_rec = true;
		ncopy--;
	}
	for (uint32_t i = 0; i < ncopy; i++) {
		struct ar_buf *w = &g->write[i];

		if (i < g->nr_read && w->len >= g->read[i].len) {
			if (g->read[i].len)
				memmove(w->ptr, g->read[i].ptr, g->read[i].len);
			w->len = g->read[i].len;
		} else {
			w->len = 0;	/* unwritten */
		}
	}
	if (has_rec) {
		memcpy(g->write[g->nr_write - 1].ptr, &rec, sizeof(rec));
		g->write[g->nr_write - 1].len = sizeof(rec);
	}
	return 0;
}

/* ---- minmax ---- */

/* read: indata, ndata, low, high; write: outdata (indata clamped to
 * [low, high]), min, max (of indata). */
static int echo_minmax(struct ar_op *op)
{
	struct ar_op_generic *g = &op->u.generic;
	double lo = 0, hi = 0;
	int32_t n, low, high;

	if (g->nr_read != 4 || g->nr_write != 3 || !typed(&g->read[0], T_FLOAT64_ARRAY) ||
	    !typed(&g->read[1], T_INT32) || !typed(&g->read[2], T_INT32) ||
	    !typed(&g->read[3], T_INT32) || !typed(&g->write[0], T_FLOAT64_ARRAY) ||
	    !typed(&g->write[1], T_FLOAT64) || !typed(&g->write[2], T_FLOAT64))
		return -EPROTO;
	n = get_i32(&g->read[1]);
	low = get_i32(&g->read[2]);
	high = get_i32(&g->read[3]);
	if (n <= 0 || (uint64_t)n * 8 > g->read[0].len || (uint64_t)n * 8 > g->write[0].len)
		return -EINVAL;
	for (int32_t i = 0; i < n; i++) {
		double x;

		memcpy(&x, (const char *)g->read[0].ptr + (size_t)i * 8, 8);
		if (!i || x < lo)
			lo = x;
		if (!i || x > hi)
			hi = x;
		x = x < low ? low : x > high ? high : x;
		memcpy((char *)g->write[0].ptr + (size_t)i * 8, &x, 8);
	}
	g->write[0].len = (uint64_t)n * 8;
	memcpy(g->write[1].ptr, &lo, 8);
	memcpy(g->write[2].ptr, &hi, 8);
	return 0;
}

/* ---- fpga ---- */

static float get_f(const struct ar_buf *b, size_t i)
{
	float v;

	memcpy(&v, (const char *)b->ptr + i * 4, 4);
	return v;
}

static void put_f(struct ar_buf *b, size_t i, float v)
{
	memcpy((char *)b->ptr + i * 4, &v, 4);
}

static int echo_fpga(struct ar_op *op)
{
	struct ar_op_generic *g = &op->u.generic;
	size_t na, nb, d = 0;

	if (op->op == AR_OP_FPGA_ARRAYCOPY) {
		if (!typed(&g->read[0], T_INT32_ARRAY) || !typed(&g->write[0], T_INT32_ARRAY))
			return -EPROTO;
		if (g->write[0].len < g->read[0].len)
			return -EINVAL;
		if (g->read[0].len)
			memcpy(g->write[0].ptr, g->read[0].ptr, g->read[0].len);
		g->write[0].len = g->read[0].len;
		return 0;
	}
	for (uint32_t i = 0; i < g->nr_read; i++)
		if (!typed(&g->read[i], T_FLOAT32_ARRAY))
			return -EPROTO;
	for (uint32_t i = 0; i < g->nr_write; i++)
		if (!typed(&g->write[i], T_FLOAT32_ARRAY) || g->write[i].len < g->read[0].len)
			return -EPROTO;
	na = g->read[0].len / 4;
	nb = g->read[1].len / 4;
	switch (op->op) {
	case AR_OP_FPGA_VECTORADD:	/* c = a + b, b short: zeros */
		for (size_t i = 0; i < na; i++)
			put_f(&g->write[0], i, get_f(&g->read[0], i) +
						       (i < nb ? get_f(&g->read[1], i) : 0));
		break;
	case AR_OP_FPGA_PARALLEL:	/* a + b, a * b */
		if (nb != na)
			return -EINVAL;
		for (size_t i = 0; i < na; i++) {
			put_f(&g->write[0], i, get_f(&g->read[0], i) + get_f(&g->read[1], i));
			put_f(&g->write[1], i, get_f(&g->read[0], i) * get_f(&g->read[1], i));
		}
		g->write[1].len = na * 4;
		break;
	default:			/* mmult: square row-major a x b */
		while (d * d < na)
			d++;
		if (d * d != na || nb != na)
			return -EINVAL;
		for (size_t r = 0; r < d; r++)
			for (size_t c = 0; c < d; c++) {
				float s = 0;

				for (size_t k = 0; k < d; k++)
					s += get_f(&g->read[0], r * d + k) *
					     get_f(&g->read[1], k * d + c);
				put_f(&g->write[0], r * d + c, s);
			}
		break;
	}
	g->write[0].len = na * 4;
	return 0;
}

/* ---- models ---- */

/* A model's first file must have a path the plugin can open. */
static int model_path(const struct ar_op *op)
{
	const struct ar_resource *r = op->u.generic.resource;
	const char *p = r && r->nr_files ? r->files[0].path : NULL;

	return p && !access(p, R_OK) ? 0 : -ENOENT;
}

static const char *model_name(const struct ar_op *op)
{
	const struct ar_resource *r = op->u.generic.resource;

	return r && r->nr_files ? r->files[0].name : "(none)";
}

/* tf's status argument: a code byte, then the message (the client's
 * struct status_buf). */
struct tf_status {
	uint8_t code;
	char message[255];
};

static int put_status(struct ar_buf *b, uint8_t code, const char *msg)
{
	struct tf_status s = { .code = code };

	if (!typed(b, T_RAW) || b->len < sizeof(s))
		return -EPROTO;
	snprintf(s.message, sizeof(s.message), "%.*s", (int)sizeof(s.message) - 1, msg);
	memcpy(b->ptr, &s, sizeof(s));
	b->len = sizeof(s);
	return 0;
}

static int echo_model_load(struct ar_op *op)
{
	struct ar_op_generic *g = &op->u.generic;
	int ret = model_path(op);
	char msg[300];

	debug("%s %s", host->op_name(op->op), model_name(op));
	if (ret)
		return ret;
	if (op->op != AR_OP_TF_MODEL_LOAD && op->op != AR_OP_TF_MODEL_UNLOAD)
		return g->nr_write ? -EPROTO : 0;
	if (g->nr_write != 1)
		return -EPROTO;
	snprintf(msg, sizeof(msg), "%s %s", host->op_name(op->op), model_name(op));
	return put_status(&g->write[0], 0, msg);
}

/* A tensor as a run receives it: its dims argument and data argument. */
struct tensor {
	const struct ar_buf *dims, *data;
};

static enum kind kind_of(uint32_t op, uint32_t type)
{
	switch (op) {
	case AR_OP_TORCH_MODEL_RUN:	/* vaccel_torch_data_type */
		return type == 7 ? K_F32 : type == 4 ? K_I32 : type == 5 ? K_I64 : K_OTHER;
	case AR_OP_TF_MODEL_RUN:	/* vaccel_tf_data_type */
		return type == 1 ? K_F32 : type == 2 ? K_F64 : type == 3 ? K_I32 :
		       type == 9 ? K_I64 : K_OTHER;
	default:			/* vaccel_tflite_data_type */
		return type == 1 ? K_F32 : type == 11 ? K_F64 : type == 2 ? K_I32 :
		       type == 4 ? K_I64 : K_OTHER;
	}
}

static void scale(void *dst, const void *src, uint64_t len, enum kind k, int f)
{
	size_t e = k == K_F32 || k == K_I32 ? 4 : 8;

	if (k == K_OTHER) {
		memcpy(dst, src, len);
		return;
	}
	for (uint64_t i = 0; i + e <= len; i += e) {
		union { float f; double d; int32_t i; int64_t l; } v;

		memcpy(&v, (const char *)src + i, e);
		if (k == K_F32)
			v.f *= (float)f;
		else if (k == K_F64)
			v.d *= f;
		else if (k == K_I32)
			v.i *= f;
		else
			v.l *= f;
		memcpy((char *)dst + i, &v, e);
	}
}

/* Output (meta, data) from input t: its type, its dims, its data scaled. */
static int tensor_out(uint32_t op, const struct tensor *t, struct ar_buf *meta,
		      struct ar_buf *data, int f, bool bad)
{
	uint32_t dsize = op == AR_OP_TFLITE_MODEL_RUN ? 4 : 8;
	uint64_t nd = t->dims->len / dsize;
	int64_t m[2 + OUT_DIMS] = { 0 };

	if (!typed(t->dims, dsize == 4 ? T_INT32_ARRAY : T_INT64_ARRAY) ||
	    !typed(t->data, T_BUFFER) || !typed(meta, T_INT64_ARRAY) ||
	    !typed(data, T_BUFFER))
		return -EPROTO;
	if (nd > OUT_DIMS || meta->len < sizeof(m))
		return -EINVAL;
	if (data->len < t->data->len)
		return -ENOSPC;
	m[0] = bad ? 99 : t->data->custom_id;
	m[1] = (int64_t)nd;
	for (uint64_t i = 0; i < nd; i++) {
		if (dsize == 4) {
			int32_t v;

			memcpy(&v, (const char *)t->dims->ptr + i * 4, 4);
			m[2 + i] = v;
		} else {
			memcpy(&m[2 + i], (const char *)t->dims->ptr + i * 8, 8);
		}
	}
	memcpy(meta->ptr, m, (2 + nd) * 8);
	meta->len = (2 + nd) * 8;
	scale(data->ptr, t->data->ptr, t->data->len, kind_of(op, t->data->custom_id), f);
	data->len = t->data->len;
	return 0;
}

/* Run options: "scale=N" sets the factor, ECHO_BAD_META spoils the last
 * output's metadata. */
static void run_options(const struct ar_buf *b, int *f, bool *bad)
{
	char s[32] = "";

	*f = ECHO_SCALE;
	*bad = false;
	if (!b->len)
		return;
	memcpy(s, b->ptr, b->len < sizeof(s) - 1 ? b->len : sizeof(s) - 1);
	if (!strncmp(s, "scale=", 6))
		*f = atoi(s + 6);
	*bad = !strcmp(s, ECHO_BAD_META);
}

/*
 * Outputs j < nr_in from inputs j; the rest unwritten. in: the inputs,
 * meta and data of output j at w[2j], w[2j + 1].
 */
static int run_outputs(uint32_t op, const struct tensor *in, uint32_t nr_in,
		       struct ar_buf *w, uint32_t nr_out, int f, bool bad)
{
	for (uint32_t j = 0; j < nr_out; j++) {
		int ret = 0;

		if (j < nr_in)
			ret = tensor_out(op, &in[j], &w[2 * j], &w[2 * j + 1], f,
					 bad && j == nr_out - 1);
		else
			w[2 * j].len = w[2 * j + 1].len = 0;
		if (ret)
			return ret;
	}
	return 0;
}

/* torch: read[0] options, (dims, data) per input; write (meta, data) per
 * output. */
static int echo_torch_run(struct ar_op *op)
{
	struct ar_op_generic *g = &op->u.generic;
	struct tensor in[AR_OP_ARGS / 2];
	uint32_t nin = (g->nr_read - 1) / 2;
	bool bad;
	int f, ret = model_path(op);

	if (ret)
		return ret;
	if (!typed(&g->read[0], T_BUFFER) || (g->nr_read - 1) % 2 || g->nr_write % 2)
		return -EPROTO;
	run_options(&g->read[0], &f, &bad);
	for (uint32_t i = 0; i < nin; i++)
		in[i] = (struct tensor){ &g->read[1 + 2 * i], &g->read[2 + 2 * i] };
	return run_outputs(op->op, in, nin, g->write, g->nr_write / 2, f, bad);
}

/* tflite: (dims, data) per input; write (meta, data) per output, then the
 * status: 0 when every output was produced, else 1. */
static int echo_tflite_run(struct ar_op *op)
{
	struct ar_op_generic *g = &op->u.generic;
	struct tensor in[AR_OP_ARGS / 2];
	uint32_t nin = g->nr_read / 2, nout = (g->nr_write - 1) / 2;
	struct ar_buf *st = &g->write[g->nr_write - 1];
	uint8_t code = nout > nin;
	int ret = model_path(op);

	if (ret)
		return ret;
	if (g->nr_read % 2 || !(g->nr_write % 2) || !typed(st, T_UINT8))
		return -EPROTO;
	for (uint32_t i = 0; i < nin; i++)
		in[i] = (struct tensor){ &g->read[2 * i], &g->read[2 * i + 1] };
	ret = run_outputs(op->op, in, nin, g->write, nout, ECHO_SCALE, false);
	if (!ret)
		memcpy(st->ptr, &code, 1);
	return ret;
}

/* "<name>#<id>" of a node-name argument, appended to s. */
static void node_name(char *s, size_t cap, const struct ar_buf *b, bool first)
{
	size_t n = strlen(s);

	snprintf(s + n, cap - n, "%s%.*s#%u", first ? "" : ",", (int)(b->len ? b->len - 1 : 0),
		 (const char *)b->ptr, b->custom_id);
}

/* tf: read[0] options, (name, dims, data) per input, name per output;
 * write (meta, data) per output, then the status. */
static int echo_tf_run(struct ar_op *op)
{
	struct ar_op_generic *g = &op->u.generic;
	struct tensor in[AR_OP_ARGS / 3];
	uint32_t nout = (g->nr_write - 1) / 2, nin;
	char msg[255] = "in:";
	bool bad;
	int f, ret = model_path(op);

	if (ret)
		return ret;
	if (!(g->nr_write % 2) || g->nr_read < 1 + nout || (g->nr_read - 1 - nout) % 3 ||
	    !typed(&g->read[0], T_BUFFER))
		return -EPROTO;
	nin = (g->nr_read - 1 - nout) / 3;
	run_options(&g->read[0], &f, &bad);
	for (uint32_t i = 0; i < nin; i++) {
		const struct ar_buf *name = &g->read[1 + 3 * i];

		if (!typed(name, T_STRING))
			return -EPROTO;
		node_name(msg, sizeof(msg), name, !i);
		in[i] = (struct tensor){ &g->read[2 + 3 * i], &g->read[3 + 3 * i] };
	}
	strncat(msg, ";out:", sizeof(msg) - strlen(msg) - 1);
	for (uint32_t j = 0; j < nout; j++) {
		const struct ar_buf *name = &g->read[1 + 3 * nin + j];

		if (!typed(name, T_STRING))
			return -EPROTO;
		node_name(msg, sizeof(msg), name, !j);
	}
	ret = run_outputs(op->op, in, nin, g->write, nout, f, bad);
	return ret ? ret : put_status(&g->write[g->nr_write - 1], 0, msg);
}

/* torch_sgemm: read A, B, C (dims, data each), M, N, K; write out =
 * A (M x K) x B (K x N) + C (M x N), floats; each matrix's dims, when it
 * has two, must be its shape. */
static int echo_torch_sgemm(struct ar_op *op)
{
	struct ar_op_generic *g = &op->u.generic;
	int64_t want[3][2];
	int32_t m, n, k;

	for (int i = 0; i < 3; i++)
		if (!typed(&g->read[2 * i], T_INT64_ARRAY) || !typed(&g->read[2 * i + 1], T_BUFFER) ||
		    g->read[2 * i + 1].custom_id != 7)
			return -EPROTO;
	for (int i = 6; i < 9; i++)
		if (!typed(&g->read[i], T_INT32))
			return -EPROTO;
	if (!typed(&g->write[0], T_BUFFER))
		return -EPROTO;
	m = get_i32(&g->read[6]);
	n = get_i32(&g->read[7]);
	k = get_i32(&g->read[8]);
	if (m <= 0 || n <= 0 || k <= 0 || m > 4096 || n > 4096 || k > 4096)
		return -EINVAL;
	want[0][0] = m, want[0][1] = k;
	want[1][0] = k, want[1][1] = n;
	want[2][0] = m, want[2][1] = n;
	for (int i = 0; i < 3; i++) {
		const struct ar_buf *d = &g->read[2 * i];
		int64_t dims[2];

		if ((uint64_t)(want[i][0] * want[i][1]) * 4 > g->read[2 * i + 1].len)
			return -EINVAL;
		if (d->len != sizeof(dims))
			continue;
		memcpy(dims, d->ptr, sizeof(dims));
		if (dims[0] != want[i][0] || dims[1] != want[i][1])
			return -EINVAL;
	}
	if ((uint64_t)m * (uint64_t)n * 4 > g->write[0].len)
		return -ENOSPC;
	for (int32_t r = 0; r < m; r++)
		for (int32_t c = 0; c < n; c++) {
			float s = get_f(&g->read[5], (size_t)r * (size_t)n + (size_t)c);

			for (int32_t x = 0; x < k; x++)
				s += get_f(&g->read[1], (size_t)r * (size_t)k + (size_t)x) *
				     get_f(&g->read[3], (size_t)x * (size_t)n + (size_t)c);
			put_f(&g->write[0], (size_t)r * (size_t)n + (size_t)c, s);
		}
	g->write[0].len = (uint64_t)m * (uint64_t)n * 4;
	return 0;
}

static int echo_init(const struct ar_plugin_host *h)
{
	host = h;
	return 0;
}

static const struct ar_plugin_op echo_ops[] = {
	{ AR_OP_EXEC, echo_args },
	{ AR_OP_EXEC_WITH_RESOURCE, echo_args },
	{ AR_OP_OPENCV, echo_args },
	{ AR_OP_MINMAX, echo_minmax },
	{ AR_OP_FPGA_ARRAYCOPY, echo_fpga },
	{ AR_OP_FPGA_MMULT, echo_fpga },
	{ AR_OP_FPGA_PARALLEL, echo_fpga },
	{ AR_OP_FPGA_VECTORADD, echo_fpga },
	{ AR_OP_TORCH_MODEL_LOAD, echo_model_load },
	{ AR_OP_TORCH_MODEL_RUN, echo_torch_run },
	{ AR_OP_TORCH_SGEMM, echo_torch_sgemm },
	{ AR_OP_TF_MODEL_LOAD, echo_model_load },
	{ AR_OP_TF_MODEL_UNLOAD, echo_model_load },
	{ AR_OP_TF_MODEL_RUN, echo_tf_run },
	{ AR_OP_TFLITE_MODEL_LOAD, echo_model_load },
	{ AR_OP_TFLITE_MODEL_UNLOAD, echo_model_load },
	{ AR_OP_TFLITE_MODEL_RUN, echo_tflite_run },
};

AR_PLUGIN(.name = "echo", .version = "1.0", .type = AR_PLUGIN_GENERIC,
	  .nr_ops = sizeof(echo_ops) / sizeof(echo_ops[0]), .ops = echo_ops,
	  .init = echo_init);

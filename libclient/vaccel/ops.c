/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ops. Every one runs on the broker; none is answered here. Each is
 * encoded as its line of the op table (accelring/optable.h) says, and
 * every call is synchronous on the calling thread's queue.
 *
 * Buffers: vAccel hands us plain pointers. Those already in the queue's
 * shared data area (ar_buf_alloc) travel by reference; other inputs and
 * outputs above INLINE_MAX are staged through a temporary data-area buffer
 * (copied in before, out after), smaller ones travel inline in the message.
 * Typed arguments (struct vaccel_arg's type and custom id) travel with
 * their bytes, so that a plugin receives exactly what the caller built.
 *
 * Profiling (VACCEL_PROFILING_ENABLED): each op's whole call is a region
 * "vaccel_<op>_op", as upstream names them, and the client's own stages
 * are regions too: "accelring_stage_in" (copies into the data area),
 * "accelring_roundtrip" (encode, publish, the broker, the completion) and
 * "accelring_stage_out". They are printed at exit.
 *
 * Errors: an op that fails logs one line at error level (on by default,
 * as upstream's), "<op>: <errno's words>: <why>", why being what the
 * client found wrong (fail()) or the broker's or plugin's reason from the
 * completion; the caller gets the bare code, as upstream's do.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../client_pvt.h"
#include "vaccel_pvt.h"

/* The app's buffers up to this size go inline in the message, as long as
 * an op's inline inputs, and its inline outputs, stay within INLINE_TOTAL:
 * a request must fit the SQ's largest record, and a completion the CQ's
 * (32 KiB with the default rings; a stream broker disconnects a client
 * whose request does not fit). The rest is staged. */
#define INLINE_MAX 2048u
#define INLINE_TOTAL 8192u

/* The op table's numbers are upstream's, one for one. */
#define SAME_OP(NAME) _Static_assert((int)AR_OP_##NAME == (int)VACCEL_OP_##NAME, #NAME)
SAME_OP(NOOP); SAME_OP(EXEC); SAME_OP(EXEC_WITH_RESOURCE); SAME_OP(IMAGE_CLASSIFY);
SAME_OP(IMAGE_DETECT); SAME_OP(IMAGE_SEGMENT); SAME_OP(IMAGE_POSE); SAME_OP(IMAGE_DEPTH);
SAME_OP(TF_MODEL_LOAD); SAME_OP(TF_MODEL_UNLOAD); SAME_OP(TF_MODEL_RUN);
SAME_OP(TFLITE_MODEL_LOAD); SAME_OP(TFLITE_MODEL_UNLOAD); SAME_OP(TFLITE_MODEL_RUN);
SAME_OP(TORCH_MODEL_LOAD); SAME_OP(TORCH_MODEL_RUN); SAME_OP(TORCH_SGEMM);
SAME_OP(BLAS_SGEMM); SAME_OP(FPGA_ARRAYCOPY); SAME_OP(FPGA_MMULT); SAME_OP(FPGA_PARALLEL);
SAME_OP(FPGA_VECTORADD); SAME_OP(MINMAX); SAME_OP(OPENCV);
_Static_assert((int)AR_OP_MBENCH >= (int)VACCEL_OP_MAX, "accelring's own ops follow upstream's");
_Static_assert(AR_ARG_TYPES == (int)VACCEL_ARG_MAX, "the wire knows every argument type");

/* ---- profiling ---- */

enum { ST_IN, ST_RT, ST_OUT, NR_STAGES };
static const char *const stage_names[NR_STAGES] = {
	"accelring_stage_in", "accelring_roundtrip", "accelring_stage_out",
};
static char op_region_names[AR_OP_MAX][48];
static struct vaccel_prof_region op_regions[AR_OP_MAX], stage_regions[NR_STAGES];
/* Regions pair each start with the next stop: threads take turns. */
static pthread_mutex_t prof_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t prof_once = PTHREAD_ONCE_INIT;
static bool prof_on;

static void prof_init(void)
{
	prof_on = vaccel_prof_enabled();
	if (!prof_on)
		return;
	for (uint32_t op = 0; op < AR_OP_MAX; op++) {
		if (!ar_op_name(op))
			continue;
		snprintf(op_region_names[op], sizeof(op_region_names[op]),
			 "vaccel_%s_op", ar_op_name(op));
		vaccel_prof_region_init(&op_regions[op], op_region_names[op]);
	}
	for (int i = 0; i < NR_STAGES; i++)
		vaccel_prof_region_init(&stage_regions[i], stage_names[i]);
}

static void prof_start(struct vaccel_prof_region *r)
{
	pthread_once(&prof_once, prof_init);
	if (!prof_on)
		return;
	pthread_mutex_lock(&prof_lock);
	vaccel_prof_region_start(r);
	pthread_mutex_unlock(&prof_lock);
}

static void prof_stop(const struct vaccel_prof_region *r)
{
	if (!prof_on)
		return;
	pthread_mutex_lock(&prof_lock);
	vaccel_prof_region_stop(r);
	pthread_mutex_unlock(&prof_lock);
}

__attribute__((destructor)) static void prof_fini(void)
{
	if (!prof_on)
		return;
	for (uint32_t op = 0; op < AR_OP_MAX; op++) {
		if (!op_regions[op].name)
			continue;
		if (op_regions[op].nr_entries)
			vaccel_prof_region_print(&op_regions[op]);
		vaccel_prof_region_release(&op_regions[op]);
	}
	for (int i = 0; i < NR_STAGES; i++) {
		if (stage_regions[i].nr_entries)
			vaccel_prof_region_print(&stage_regions[i]);
		vaccel_prof_region_release(&stage_regions[i]);
	}
}

/* ---- the common path ---- */

/*
 * Run a submission synchronously: retry while the SQ is full (reading
 * completions meanwhile, so that the broker never waits on our CQ), then
 * wait for this op's completion. submit is an expression using q.
 */
#define SYNC(q, submit)                                                        \
	({                                                                    \
		int r_;                                                       \
		ar__tls_sync = true;                                          \
		while ((r_ = (submit)) == -EAGAIN) {                          \
			if ((r_ = ar__queue_drain(q)) < 0)                    \
				break;                                        \
			sched_yield();                                        \
		}                                                             \
		ar__tls_sync = false;                                         \
		r_ = r_ < 0 ? r_ : ar__queue_wait_slot(q, (uint32_t)ar__tls_slot, NULL); \
		r_;                                                           \
	})

/*
 * Why the calling thread's op failed, for its log line (op_end): set by
 * fail() where the client finds something wrong, or from the broker's
 * reason (refused()); "" when neither said. Global-dynamic TLS, not
 * AR_TLS: it is too large for the static TLS a dlopen of the library
 * (a broker loading a plugin linked to libvaccel) may use.
 */
static __thread char op_why[AR_WIRE_MAX_MESSAGE + 192];

static int fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(op_why, sizeof(op_why), fmt, ap);
	va_end(ap);
	return err;
}

/* The calling thread's queue and the session's broker id. */
static int op_begin(const struct vaccel_session *sess, struct ar_queue **q,
		    uint32_t *sid)
{
	if (ar__vaccel_session_remote(sess, sid))
		return fail(-EINVAL, sess ? "the session is not open (released, or never "
				     "initialized)" : "no session (NULL)");
	return ar__vaccel_queue(q);
}

/* A refused op's reason, from the broker or its plugin (the completion's
 * message), for its log line. */
static void refused(struct ar_queue *q, int ret)
{
	if (ret && ar_queue_error(q)[0] && !op_why[0])
		snprintf(op_why, sizeof(op_why), "%s", ar_queue_error(q));
}

/*
 * No room in q's data area for len bytes (what: which buffer): the area's
 * size and what set it, so that a user knows which knob to turn.
 */
static int area_full(struct ar_queue *q, uint64_t len, const char *what)
{
	const struct link *l = q->link;

	return fail(-ENOMEM,
		    "no room for %s (%" PRIu64 " bytes) in the data area (%" PRIu64 " bytes, %s); "
		    "raise ACCELRING_DATA_BYTES (the broker allows up to its %s) or free "
		    "buffers", what, len, l->data_bytes,
		    l->client->data_bytes ? "as ACCELRING_DATA_BYTES asked"
		    : l->stream ? "the stream default: ACCELRING_DATA_BYTES is not set"
				: "the broker's data-bytes: ACCELRING_DATA_BYTES is not set",
		    l->stream ? "stream-max-data-bytes" : "max-data-bytes");
}

/*
 * One argument on its way: the caller's buffer, and where it travels from
 * (the buffer itself, or a data-area copy for a large one).
 */
struct xarg {
	void *user;
	uint64_t len;
	void *tmp;		/* data-area copy, or NULL */
};

/* A buffer in the data area for an argument not already there that is
 * large, or past the inline budget of its direction (*inl: bytes inline so
 * far). */
static int stage(struct ar_queue *q, struct xarg *x, bool copy_in, size_t *inl)
{
	uint64_t off;

	x->tmp = NULL;
	if (x->len && ar__in_area(q->link, x->user, x->len, &off))
		return 0;
	if (x->len <= INLINE_MAX && *inl + x->len <= INLINE_TOTAL) {
		*inl += x->len;
		return 0;
	}
	x->tmp = ar_buf_alloc(q, x->len);
	if (!x->tmp)
		return area_full(q, x->len, "an argument");
	if (copy_in && x->user)
		memcpy(x->tmp, x->user, x->len);
	return 0;
}

static void *where(const struct xarg *x)
{
	return x->tmp ? x->tmp : x->user;
}

/*
 * A Generic op: read and write are typed arguments (struct ar_arg, with
 * the caller's pointers); large ones are staged, outputs copied back.
 * Write arguments are in/out, as a plugin upstream sees the caller's
 * memory: a staged one is copied in too.
 */
static int generic(const struct vaccel_session *sess, uint32_t op, const char *lib,
		   uint64_t res, const char *sym, const struct ar_arg *read, size_t nr_read,
		   const struct ar_arg *write, size_t nr_write)
{
	struct ar_arg r[AR_WIRE_MAX_ARGS], w[AR_WIRE_MAX_ARGS];
	struct xarg xr[AR_WIRE_MAX_ARGS], xw[AR_WIRE_MAX_ARGS];
	size_t nr = 0, nw = 0, rd_inl = 0, wr_inl = 0;
	struct ar_queue *q;
	uint32_t sid;
	int ret;

	if (nr_read > AR_WIRE_MAX_ARGS || nr_write > AR_WIRE_MAX_ARGS ||
	    (nr_read && !read) || (nr_write && !write))
		return -EINVAL;
	for (size_t i = 0; i < nr_read; i++)
		if (!read[i].buf && read[i].size)
			return -EINVAL;
	for (size_t i = 0; i < nr_write; i++)
		if (!write[i].buf && write[i].size)
			return -EINVAL;
	ret = op_begin(sess, &q, &sid);
	if (ret)
		return ret;
	prof_start(&stage_regions[ST_IN]);
	for (; nr < nr_read && !ret; nr++) {
		xr[nr] = (struct xarg){ read[nr].buf, read[nr].size, NULL };
		ret = stage(q, &xr[nr], true, &rd_inl);
		r[nr] = read[nr];
		r[nr].buf = where(&xr[nr]);
	}
	for (; nw < nr_write && !ret; nw++) {
		xw[nw] = (struct xarg){ write[nw].buf, write[nw].size, NULL };
		ret = stage(q, &xw[nw], true, &wr_inl);
		w[nw] = write[nw];
		w[nw].buf = where(&xw[nw]);
	}
	prof_stop(&stage_regions[ST_IN]);
	if (!ret) {
		prof_start(&stage_regions[ST_RT]);
		ret = res ? SYNC(q, ar_submit_resource_op(q, sid, op, res, sym, r,
							  (uint32_t)nr_read, w,
							  (uint32_t)nr_write, 0))
			  : SYNC(q, ar_submit_generic(q, sid, op, lib, sym, r, (uint32_t)nr_read,
						      w, (uint32_t)nr_write, 0));
		refused(q, ret);
		prof_stop(&stage_regions[ST_RT]);
	}
	prof_start(&stage_regions[ST_OUT]);
	for (size_t i = 0; i < nw; i++) {
		if (!xw[i].tmp)
			continue;
		if (!ret)
			memcpy(xw[i].user, xw[i].tmp, xw[i].len);
		ar_buf_free(q, xw[i].tmp);
	}
	prof_stop(&stage_regions[ST_OUT]);
	for (size_t i = 0; i < nr; i++)
		if (xr[i].tmp)
			ar_buf_free(q, xr[i].tmp);
	return ret;
}

/* vaccel_args as typed native ones. */
static int to_args(const struct vaccel_arg *v, size_t n, struct ar_arg *a)
{
	if (n > AR_WIRE_MAX_ARGS || (n && !v))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (v[i].size > UINT32_MAX || v[i].type >= VACCEL_ARG_MAX)
			return -EINVAL;
		a[i] = (struct ar_arg){ .buf = v[i].buf, .size = (uint32_t)v[i].size,
					.type = v[i].type,
					.custom_id = v[i].custom_type_id };
	}
	return 0;
}

static int vgeneric(const struct vaccel_session *sess, uint32_t op, const char *lib,
		    uint64_t res, const char *sym, const struct vaccel_arg *read, size_t nr_read,
		    const struct vaccel_arg *write, size_t nr_write)
{
	struct ar_arg r[AR_WIRE_MAX_ARGS], w[AR_WIRE_MAX_ARGS];
	int ret;

	if ((ret = to_args(read, nr_read, r)) || (ret = to_args(write, nr_write, w)))
		return ret;
	return generic(sess, op, lib, res, sym, r, nr_read, w, nr_write);
}

/* A typed native argument. */
static struct ar_arg targ(const void *buf, size_t size, uint32_t type, uint32_t id)
{
	return (struct ar_arg){ .buf = (void *)buf, .size = (uint32_t)size, .type = type,
				.custom_id = id };
}

/* A failed op's log line (see the top of the file); returns err. */
static int op_end(uint32_t op, int err)
{
	if (err == ECONNRESET && !op_why[0])
		fail(0, "the connection to the broker is gone (it exited, or closed it)");
	if (err)
		ar__vaccel_log(VACCEL_LOG_ERROR, "%s: %s%s%s", ar_op_name(op), strerror(err),
			       op_why[0] ? ": " : "", op_why);
	return err;
}

/* Every op function: its region around the call, the errno turned into
 * vAccel's positive code, and a failure logged. */
#define OP_RUN(op, expr)                                                     \
	({                                                                   \
		int o_;                                                      \
		op_why[0] = '\0';                                            \
		prof_start(&op_regions[op]);                                 \
		o_ = (expr);                                                 \
		prof_stop(&op_regions[op]);                                  \
		op_end(op, ar__vaccel_err(o_));                              \
	})

/* ---- noop, sgemm, images ---- */

static int noop(struct vaccel_session *sess)
{
	struct ar_queue *q;
	uint32_t sid;
	int ret = op_begin(sess, &q, &sid);

	if (ret)
		return ret;
	ret = SYNC(q, ar_submit_noop(q, sid, 0));
	refused(q, ret);
	return ret;
}

AR_VISIBLE int vaccel_noop(struct vaccel_session *sess)
{
	if (!sess)
		return VACCEL_EINVAL;
	return OP_RUN(AR_OP_NOOP, noop(sess));
}

/*
 * The bytes of a row-major rows x cols matrix with leading dimension ld
 * (name: "A", ...; the dimensions' names for the message), or 0 with the
 * reason in op_why.
 */
static uint64_t mat_bytes(const char *name, int64_t rows, const char *rname, int64_t cols,
			  const char *cname, int64_t ld, const char *ldname)
{
	uint64_t n;

	if (rows < 1 || cols < 1)
		return fail(0, "%s = %" PRId64 ": a dimension must be at least 1",
			    rows < 1 ? rname : cname, rows < 1 ? rows : cols);
	if (ld < cols)
		return fail(0, "%s = %" PRId64 " is below %s = %" PRId64 " (row-major: %s's "
			    "rows hold %s elements)", ldname, ld, cname, cols, name, cname);
	if (rows > INT32_MAX || ld > INT32_MAX)
		return fail(0, "%s = %" PRId64 ": above %d", rows > INT32_MAX ? rname : ldname,
			    rows > INT32_MAX ? rows : ld, INT32_MAX);
	if (__builtin_mul_overflow((uint64_t)(rows - 1), (uint64_t)ld, &n) ||
	    __builtin_add_overflow(n, (uint64_t)cols, &n) ||
	    __builtin_mul_overflow(n, sizeof(float), &n) || n > AR_REGION_DATA_MAX)
		return fail(0, "%s (%s = %" PRId64 ", %s = %" PRId64 ") is larger than any data "
			    "area (%llu bytes)", name, rname, rows, ldname, ld,
			    (unsigned long long)AR_REGION_DATA_MAX);
	return n;
}

static int sgemm(struct vaccel_session *sess, int64_t m, int64_t n, int64_t k,
		 float alpha, float *a, int64_t lda, float *b, int64_t ldb,
		 float beta, float *c, int64_t ldc)
{
	struct xarg xa = { a, 0, NULL }, xb = { b, 0, NULL }, xc = { c, 0, NULL };
	struct xarg *const xs[] = { &xa, &xb, &xc };
	static const char *const names[] = { "A", "B", "C" };
	struct ar_sgemm s = { .m = m, .n = n, .k = k, .lda = lda, .ldb = ldb,
			      .ldc = ldc, .alpha = alpha, .beta = beta };
	struct ar_queue *q;
	uint32_t sid;
	int ret;

	if (!a || !b || !c)
		return fail(-EINVAL, "%s is NULL", !a ? "a" : !b ? "b" : "c");
	if (!(xa.len = mat_bytes("A", m, "m", k, "k", lda, "lda")) ||
	    !(xb.len = mat_bytes("B", k, "k", n, "n", ldb, "ldb")) ||
	    !(xc.len = mat_bytes("C", m, "m", n, "n", ldc, "ldc")))
		return -EINVAL;
	ret = op_begin(sess, &q, &sid);
	if (ret)
		return ret;
	/* sgemm's matrices always travel through the data area (zero copy
	 * when they are already there), whatever their size. */
	prof_start(&stage_regions[ST_IN]);
	for (size_t i = 0; i < 3; i++) {
		struct xarg *x = xs[i];
		uint64_t off;

		x->tmp = NULL;
		if (ar__in_area(q->link, x->user, x->len, &off))
			continue;
		x->tmp = ar_buf_alloc(q, x->len);
		if (!x->tmp) {
			ret = area_full(q, x->len, names[i]);
			break;
		}
		/* C is read too unless beta is 0. */
		if (x != &xc || beta != 0.0f)
			memcpy(x->tmp, x->user, x->len);
	}
	prof_stop(&stage_regions[ST_IN]);
	if (!ret) {
		s.a = where(&xa);
		s.b = where(&xb);
		s.c = where(&xc);
		prof_start(&stage_regions[ST_RT]);
		ret = SYNC(q, ar_submit_sgemm(q, sid, &s, 0));
		refused(q, ret);
		prof_stop(&stage_regions[ST_RT]);
		if (!ret && xc.tmp) {
			prof_start(&stage_regions[ST_OUT]);
			/* Only what BLAS wrote, m rows of n: with ldc > n the
			 * elements between the rows are the caller's, and the
			 * copy's may be stale (not copied in when beta is 0,
			 * nor uploaded by a stream transport). */
			if (ldc == n)
				memcpy(c, xc.tmp, xc.len);
			else
				for (int64_t i = 0; i < m; i++)
					memcpy(c + i * ldc, (float *)xc.tmp + i * ldc,
					       (size_t)n * sizeof(float));
			prof_stop(&stage_regions[ST_OUT]);
		}
	}
	for (size_t i = 0; i < 3; i++)
		if (xs[i]->tmp)
			ar_buf_free(q, xs[i]->tmp);
	return ret;
}

AR_VISIBLE int vaccel_sgemm(struct vaccel_session *sess, int64_t m, int64_t n,
			    int64_t k, float alpha, float *a, int64_t lda,
			    float *b, int64_t ldb, float beta, float *c,
			    int64_t ldc)
{
	/* A NULL session too is refused inside, with its line. */
	return OP_RUN(AR_OP_BLAS_SGEMM,
		      sgemm(sess, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc));
}

/* An image op: large buffers (the image, and outputs: an inline output
 * cannot be larger than a completion) are staged through the data area,
 * the outputs copied in and back (what the plugin does not write stays the
 * caller's); small ones travel inline. */
static int image(struct vaccel_session *sess, uint32_t op, const void *img,
		 size_t len_img, unsigned char *out_text, size_t len_text,
		 unsigned char *out_name, size_t len_name)
{
	struct xarg xi = { (void *)img, len_img, NULL }, xt = { out_text, len_text, NULL },
		    xn = { out_name, len_name, NULL };
	struct ar_queue *q;
	size_t rd_inl = 0, wr_inl = 0;
	uint32_t sid;
	int ret;

	if ((!img && len_img) || (!out_text && len_text) || (!out_name && len_name))
		return -EINVAL;
	ret = op_begin(sess, &q, &sid);
	if (ret)
		return ret;
	prof_start(&stage_regions[ST_IN]);
	ret = stage(q, &xi, true, &rd_inl);
	if (!ret)
		ret = stage(q, &xt, true, &wr_inl);
	if (!ret)
		ret = stage(q, &xn, true, &wr_inl);
	prof_stop(&stage_regions[ST_IN]);
	if (!ret) {
		prof_start(&stage_regions[ST_RT]);
		ret = SYNC(q, ar_submit_image(q, sid, op, where(&xi), len_img, where(&xt),
					      len_text, where(&xn), len_name, 0));
		refused(q, ret);
		prof_stop(&stage_regions[ST_RT]);
	}
	prof_start(&stage_regions[ST_OUT]);
	if (!ret && xt.tmp)
		memcpy(out_text, xt.tmp, len_text);
	if (!ret && xn.tmp)
		memcpy(out_name, xn.tmp, len_name);
	prof_stop(&stage_regions[ST_OUT]);
	if (xi.tmp)
		ar_buf_free(q, xi.tmp);
	if (xt.tmp)
		ar_buf_free(q, xt.tmp);
	if (xn.tmp)
		ar_buf_free(q, xn.tmp);
	return ret;
}

AR_VISIBLE int vaccel_image_classification(struct vaccel_session *sess,
					   const void *img, unsigned char *out_text,
					   unsigned char *out_imgname, size_t len_img,
					   size_t len_out_text, size_t len_out_imgname)
{
	if (!sess)
		return VACCEL_EINVAL;
	return OP_RUN(AR_OP_IMAGE_CLASSIFY,
		      image(sess, AR_OP_IMAGE_CLASSIFY, img, len_img, out_text,
			    len_out_text, out_imgname, len_out_imgname));
}

#define IMAGE_OP(fn, OP)                                                       \
	AR_VISIBLE int fn(struct vaccel_session *sess, const void *img,        \
			  unsigned char *out_imgname, size_t len_img,          \
			  size_t len_out_imgname)                              \
	{                                                                      \
		if (!sess)                                                     \
			return VACCEL_EINVAL;                                  \
		return OP_RUN(OP, image(sess, OP, img, len_img, NULL, 0,       \
					out_imgname, len_out_imgname));        \
	}
IMAGE_OP(vaccel_image_detection, AR_OP_IMAGE_DETECT)
IMAGE_OP(vaccel_image_segmentation, AR_OP_IMAGE_SEGMENT)
IMAGE_OP(vaccel_image_pose, AR_OP_IMAGE_POSE)
IMAGE_OP(vaccel_image_depth, AR_OP_IMAGE_DEPTH)

/* ---- exec, opencv ---- */

AR_VISIBLE int vaccel_exec(struct vaccel_session *sess, const char *library,
			   const char *fn_symbol, struct vaccel_arg *read,
			   size_t nr_read, struct vaccel_arg *write, size_t nr_write)
{
	if (!sess || !library || !fn_symbol)
		return VACCEL_EINVAL;
	return OP_RUN(AR_OP_EXEC, vgeneric(sess, AR_OP_EXEC, library, 0, fn_symbol, read,
					   nr_read, write, nr_write));
}

/* A model or library resource an op may use: registered with the session
 * (VACCEL_EPERM otherwise, as upstream), of the type asked (if any). A
 * released or never initialized session is EINVAL first, as for every op:
 * its registrations are gone, or garbage. */
static int check_res(struct vaccel_session *sess, struct vaccel_resource *res,
		     int type)
{
	uint32_t sid;

	if (ar__vaccel_session_remote(sess, &sid))
		return -EINVAL;
	if (!res || (type >= 0 && res->type != (vaccel_resource_type_t)type))
		return -EINVAL;
	if (!vaccel_session_has_resource(sess, res))
		return fail(-EPERM, "resource %lld is not registered to session %lld",
			    (long long)res->id, (long long)sess->id);
	/* Registered with a session means shipped: the broker has its id. */
	return res->remote_id > 0 ? 0 : -EINVAL;
}

static int exec_res(struct vaccel_session *sess, struct vaccel_resource *res,
		    const char *sym, struct vaccel_arg *read, size_t nr_read,
		    struct vaccel_arg *write, size_t nr_write)
{
	int ret = check_res(sess, res, VACCEL_RESOURCE_LIB);

	if (ret)
		return ret;
	if (!sym)
		return fail(-EINVAL, "no function symbol (NULL)");
	return vgeneric(sess, AR_OP_EXEC_WITH_RESOURCE, NULL, (uint64_t)res->remote_id, sym,
			read, nr_read, write, nr_write);
}

AR_VISIBLE int vaccel_exec_with_resource(struct vaccel_session *sess,
					 struct vaccel_resource *resource,
					 const char *fn_symbol, struct vaccel_arg *read,
					 size_t nr_read, struct vaccel_arg *write,
					 size_t nr_write)
{
	if (!sess || !resource)
		return VACCEL_EINVAL;
	return OP_RUN(AR_OP_EXEC_WITH_RESOURCE,
		      exec_res(sess, resource, fn_symbol, read, nr_read, write, nr_write));
}

AR_VISIBLE int vaccel_opencv_unpack(struct vaccel_session *sess, struct vaccel_arg *read,
			     int nr_read, struct vaccel_arg *write, int nr_write)
{
	if (!sess || nr_read < 0 || nr_write < 0)
		return VACCEL_EINVAL;
	return OP_RUN(AR_OP_OPENCV, vgeneric(sess, AR_OP_OPENCV, NULL, 0, NULL, read,
					     (size_t)nr_read, write, (size_t)nr_write));
}

/* ---- the deprecated minmax and fpga ops ---- */

static int bytes_of(size_t count, size_t elem, size_t *out)
{
	return __builtin_mul_overflow(count, elem, out) || *out > UINT32_MAX ? -EINVAL : 0;
}

AR_VISIBLE int vaccel_minmax(struct vaccel_session *sess, const double *indata,
			     int ndata, int low_threshold, int high_threshold,
			     double *outdata, double *min, double *max)
{
	struct ar_arg r[4], w[3];
	size_t n;

	if (!sess || !indata || !outdata || !min || !max || ndata <= 0 ||
	    bytes_of((size_t)ndata, sizeof(double), &n))
		return VACCEL_EINVAL;
	r[0] = targ(indata, n, VACCEL_ARG_FLOAT64_ARRAY, 0);
	r[1] = targ(&ndata, sizeof(ndata), VACCEL_ARG_INT32, 0);
	r[2] = targ(&low_threshold, sizeof(int), VACCEL_ARG_INT32, 0);
	r[3] = targ(&high_threshold, sizeof(int), VACCEL_ARG_INT32, 0);
	w[0] = targ(outdata, n, VACCEL_ARG_FLOAT64_ARRAY, 0);
	w[1] = targ(min, sizeof(*min), VACCEL_ARG_FLOAT64, 0);
	w[2] = targ(max, sizeof(*max), VACCEL_ARG_FLOAT64, 0);
	return OP_RUN(AR_OP_MINMAX, generic(sess, AR_OP_MINMAX, NULL, 0, NULL, r, 4, w, 3));
}

AR_VISIBLE int vaccel_fpga_arraycopy(struct vaccel_session *sess, int *a, int *out_a,
				     size_t len_a)
{
	struct ar_arg r, w;
	size_t n;

	if (!sess || !a || !out_a || bytes_of(len_a, sizeof(int), &n))
		return VACCEL_EINVAL;
	r = targ(a, n, VACCEL_ARG_INT32_ARRAY, 0);
	w = targ(out_a, n, VACCEL_ARG_INT32_ARRAY, 0);
	return OP_RUN(AR_OP_FPGA_ARRAYCOPY,
		      generic(sess, AR_OP_FPGA_ARRAYCOPY, NULL, 0, NULL, &r, 1, &w, 1));
}

/* Two float arrays in, nr_out float arrays out (len_a elements each). */
static int fpga2(struct vaccel_session *sess, uint32_t op, float *a, size_t len_a,
		 float *b, size_t len_b, float *o1, float *o2)
{
	struct ar_arg r[2], w[2];
	size_t na, nb;

	if (!sess || !a || !b || !o1 || bytes_of(len_a, sizeof(float), &na) ||
	    bytes_of(len_b, sizeof(float), &nb))
		return VACCEL_EINVAL;
	r[0] = targ(a, na, VACCEL_ARG_FLOAT32_ARRAY, 0);
	r[1] = targ(b, nb, VACCEL_ARG_FLOAT32_ARRAY, 0);
	w[0] = targ(o1, na, VACCEL_ARG_FLOAT32_ARRAY, 0);
	w[1] = targ(o2, na, VACCEL_ARG_FLOAT32_ARRAY, 0);
	return OP_RUN(op, generic(sess, op, NULL, 0, NULL, r, 2, w, o2 ? 2 : 1));
}

AR_VISIBLE int vaccel_fpga_mmult(struct vaccel_session *sess, float *a, float *b,
				 float *c, size_t len_a)
{
	return fpga2(sess, AR_OP_FPGA_MMULT, a, len_a, b, len_a, c, NULL);
}

AR_VISIBLE int vaccel_fpga_vadd(struct vaccel_session *sess, float *a, float *b,
				float *c, size_t len_a, size_t len_b)
{
	return fpga2(sess, AR_OP_FPGA_VECTORADD, a, len_a, b, len_b, c, NULL);
}

AR_VISIBLE int vaccel_fpga_parallel(struct vaccel_session *sess, float *a, float *b,
				    float *add_output, float *mult_output, size_t len_a)
{
	if (!mult_output)
		return VACCEL_EINVAL;
	return fpga2(sess, AR_OP_FPGA_PARALLEL, a, len_a, b, len_a, add_output,
		     mult_output);
}

/* ---- models: tensors ---- */

/* Most dimensions an output tensor may come back with. */
#define OUT_DIMS 8
/* The room an output tensor's data gets: ACCELRING_TENSOR_OUT_BYTES
 * (read at each op: a program may change it between runs), else 1 MiB. A
 * value that is ignored or clamped is a warning, once per process. */
static size_t out_bytes(void)
{
	static atomic_bool warned;
	char w[256];
	uint64_t v = ar__env_get(AR_ENV_TENSOR_OUT_BYTES, w, sizeof(w));

	if (w[0] && !atomic_exchange(&warned, true))
		ar__vaccel_log_setting("accelring: %s", w);
	return (size_t)v;
}

/*
 * What an output tensor's metadata argument holds when the plugin has
 * written it: [data type, number of dims, dims...], as int64. A plugin
 * that writes nothing leaves it zero: no tensor.
 */
struct out_meta {
	int64_t v[2 + OUT_DIMS];
};

/* A model's op with no tensors: load/unload. */
static int model_op(struct vaccel_session *sess, struct vaccel_resource *model,
		    uint32_t op, const struct ar_arg *w, size_t nr_write)
{
	int ret = check_res(sess, model, VACCEL_RESOURCE_MODEL);

	return ret ? ret : generic(sess, op, NULL, (uint64_t)model->remote_id, NULL, NULL, 0,
				   w, nr_write);
}

AR_VISIBLE int vaccel_torch_model_load(struct vaccel_session *sess,
				       struct vaccel_resource *model)
{
	if (!sess || !model)
		return VACCEL_EINVAL;
	return OP_RUN(AR_OP_TORCH_MODEL_LOAD,
		      model_op(sess, model, AR_OP_TORCH_MODEL_LOAD, NULL, 0));
}

/*
 * Tensor-in, tensor-out ops share one encoding: per input, its dims (an
 * int64 or int32 array) and its data (BUFFER, custom id = its data type);
 * per output, a metadata argument and a data argument the plugin fills.
 */
struct tin {
	const void *dims;
	size_t nr_dims, dim_size;
	const void *data;
	size_t size;
	uint32_t type;
};

/*
 * An output's room: in the queue's data area when it has room (the plugin
 * writes it in place: nothing is copied in, and only the bytes produced
 * are copied out, by tout_take), else the app's memory (staged as any
 * write argument).
 */
struct tout {
	struct out_meta meta;
	void *data;
	size_t cap;
	struct ar_queue *q;	/* data in q's data area, else malloc'd */
};

/* The output's first n bytes as a malloc'd buffer the caller owns. */
static void *tout_take(struct tout *o, size_t n)
{
	void *p;

	if (!o->q) {
		p = o->data;
		o->data = NULL;
		return p;
	}
	p = malloc(n ? n : 1);
	if (p)
		memcpy(p, o->data, n);
	return p;
}

static void tout_free(struct tout *o)
{
	if (o->q && o->data)
		ar_buf_free(o->q, o->data);
	else
		free(o->data);
	o->data = NULL;
}

static int tensor_args(const struct tin *in, size_t nr_in, struct tout *out,
		       size_t nr_out, struct ar_arg *r, size_t *nr, struct ar_arg *w,
		       size_t *nw)
{
	size_t cap = out_bytes(), n;
	struct ar_queue *q = NULL;

	for (size_t i = 0; i < nr_in; i++) {
		if (*nr + 2 > AR_WIRE_MAX_ARGS ||
		    bytes_of(in[i].nr_dims, in[i].dim_size, &n) ||
		    (in[i].size && !in[i].data) || in[i].size > UINT32_MAX)
			return -EINVAL;
		r[(*nr)++] = targ(in[i].dims, n, in[i].dim_size == 8 ? VACCEL_ARG_INT64_ARRAY
								     : VACCEL_ARG_INT32_ARRAY, 0);
		r[(*nr)++] = targ(in[i].data, in[i].size, VACCEL_ARG_BUFFER, in[i].type);
	}
	for (size_t i = 0; i < nr_out; i++) {
		if (*nw + 2 > AR_WIRE_MAX_ARGS)
			return -EINVAL;
		memset(&out[i].meta, 0, sizeof(out[i].meta));
		out[i].cap = cap;
		out[i].q = NULL;
		out[i].data = NULL;
		if (!q && ar__vaccel_queue(&q))
			q = NULL;
		if (q)
			out[i].data = ar_buf_alloc(q, cap);
		if (out[i].data)
			out[i].q = q;
		else
			out[i].data = calloc(1, cap);
		if (!out[i].data)
			return -ENOMEM;
		w[(*nw)++] = targ(&out[i].meta, sizeof(out[i].meta), VACCEL_ARG_INT64_ARRAY, 0);
		w[(*nw)++] = targ(out[i].data, cap, VACCEL_ARG_BUFFER, 0);
	}
	return 0;
}

/* Bytes of one element of a torch tensor type. */
static size_t torch_elem(int64_t type)
{
	switch (type) {
	case VACCEL_TORCH_BYTE:
	case VACCEL_TORCH_CHAR:
		return 1;
	case VACCEL_TORCH_SHORT:
	case VACCEL_TORCH_HALF:
		return 2;
	case VACCEL_TORCH_INT:
	case VACCEL_TORCH_FLOAT:
		return 4;
	case VACCEL_TORCH_LONG:
		return 8;
	}
	return 0;
}

/* Shared by torch, tf and tflite: an output's byte count from its metadata, or
 * -EPROTO; 0 with *nd 0 when the plugin produced nothing. */
static int out_size(const struct tout *o, size_t elem, size_t *bytes, int *nd)
{
	size_t n = elem, e;

	*nd = (int)o->meta.v[1];
	*bytes = 0;
	if (!o->meta.v[1] && !o->meta.v[0])
		return 0;
	if (o->meta.v[1] < 1 || o->meta.v[1] > OUT_DIMS || !elem)
		return -EPROTO;
	for (int i = 0; i < *nd; i++)
		if (o->meta.v[2 + i] < 0 ||
		    __builtin_mul_overflow(n, (size_t)o->meta.v[2 + i], &e) || (n = e) > o->cap)
			return -EPROTO;
	*bytes = n;
	return 0;
}

/* The torch tensor an output's metadata and data describe, or NULL (the
 * plugin produced none). */
static int torch_out(struct tout *o, struct vaccel_torch_tensor **t)
{
	int64_t type = o->meta.v[0];
	void *data;
	size_t n;
	int nd, ret;

	*t = NULL;
	ret = out_size(o, torch_elem(type), &n, &nd);
	if (ret || !nd)
		return ret;
	ret = vaccel_torch_tensor_new(t, nd, &o->meta.v[2], (enum vaccel_torch_data_type)type);
	if (ret)
		return -ret;
	data = tout_take(o, n);
	ret = data ? vaccel_torch_tensor_set_data(*t, data, n) : VACCEL_ENOMEM;
	if (ret) {
		free(data);
		vaccel_torch_tensor_delete(*t);
		*t = NULL;
		return -ret;
	}
	/* The tensor owns its data now; it frees it. */
	(*t)->owned = true;
	return 0;
}

static int torch_run(struct vaccel_session *sess, struct vaccel_resource *model,
		     const struct vaccel_torch_buffer *run_options,
		     struct vaccel_torch_tensor *const *inputs, int nr_inputs,
		     struct vaccel_torch_tensor **outputs, int nr_outputs)
{
	struct ar_arg r[AR_WIRE_MAX_ARGS], w[AR_WIRE_MAX_ARGS];
	struct tin in[AR_WIRE_MAX_ARGS];
	struct tout out[AR_WIRE_MAX_ARGS / 2];
	size_t nr = 0, nw = 0, nalloc;
	int ret = check_res(sess, model, VACCEL_RESOURCE_MODEL);

	if (ret)
		return ret;
	if (nr_inputs < 0 || nr_outputs < 0 || (nr_inputs && !inputs) ||
	    (nr_outputs && !outputs) || (size_t)nr_inputs * 2 + 1 > AR_WIRE_MAX_ARGS ||
	    (size_t)nr_outputs * 2 > AR_WIRE_MAX_ARGS)
		return -EINVAL;
	for (int i = 0; i < nr_inputs; i++) {
		const struct vaccel_torch_tensor *t = inputs[i];

		if (!t || t->nr_dims < 0 || (t->nr_dims && !t->dims))
			return -EINVAL;
		in[i] = (struct tin){ t->dims, (size_t)t->nr_dims, 8, t->data, t->size,
				      (uint32_t)t->data_type };
	}
	r[nr++] = targ(run_options ? run_options->data : NULL,
		       run_options ? run_options->size : 0, VACCEL_ARG_BUFFER, 0);
	if (run_options && run_options->size && !run_options->data)
		return -EINVAL;
	ret = tensor_args(in, (size_t)nr_inputs, out, (size_t)nr_outputs, r, &nr, w, &nw);
	nalloc = nw / 2;
	if (!ret)
		ret = generic(sess, AR_OP_TORCH_MODEL_RUN, NULL, (uint64_t)model->remote_id,
			      NULL, r, nr, w, nw);
	for (int i = 0; i < nr_outputs; i++) {
		if (!ret && (size_t)i * 2 < nw)
			ret = torch_out(&out[i], &outputs[i]);
		else if (outputs)
			outputs[i] = NULL;
	}
	for (size_t i = 0; i < nalloc; i++)
		tout_free(&out[i]);
	/* A failed run leaves the caller no tensor to free: those made
	 * before a later output failed go too. */
	for (int i = 0; ret && i < nr_outputs; i++)
		if (outputs[i]) {
			vaccel_torch_tensor_delete(outputs[i]);
			outputs[i] = NULL;
		}
	return ret;
}

AR_VISIBLE int vaccel_torch_model_run(struct vaccel_session *sess,
				      struct vaccel_resource *model,
				      const struct vaccel_torch_buffer *run_options,
				      struct vaccel_torch_tensor *const *inputs,
				      int nr_inputs, struct vaccel_torch_tensor **outputs,
				      int nr_outputs)
{
	if (!sess || !model)
		return VACCEL_EINVAL;
	return OP_RUN(AR_OP_TORCH_MODEL_RUN, torch_run(sess, model, run_options, inputs,
						       nr_inputs, outputs, nr_outputs));
}

static int torch_sgemm(struct vaccel_session *sess, struct vaccel_torch_tensor **in_A,
		       struct vaccel_torch_tensor **in_B,
		       struct vaccel_torch_tensor **in_C, int M, int N, int K,
		       struct vaccel_torch_tensor **out)
{
	struct vaccel_torch_tensor *t[3] = { in_A ? *in_A : NULL, in_B ? *in_B : NULL,
					     in_C ? *in_C : NULL };
	struct ar_arg r[AR_WIRE_MAX_ARGS], w[2];
	struct tin in[3];
	struct tout o;
	size_t nr = 0, nw = 0;
	int ret;

	if (!out || M <= 0 || N <= 0 || K <= 0)
		return -EINVAL;
	for (int i = 0; i < 3; i++) {
		if (!t[i] || t[i]->nr_dims < 0 || (t[i]->nr_dims && !t[i]->dims))
			return -EINVAL;
		in[i] = (struct tin){ t[i]->dims, (size_t)t[i]->nr_dims, 8, t[i]->data,
				      t[i]->size, (uint32_t)t[i]->data_type };
	}
	ret = tensor_args(in, 3, &o, 1, r, &nr, w, &nw);
	if (ret) {
		if (nw)
			tout_free(&o);
		return ret;
	}
	r[nr++] = targ(&M, sizeof(M), VACCEL_ARG_INT32, 0);
	r[nr++] = targ(&N, sizeof(N), VACCEL_ARG_INT32, 0);
	r[nr++] = targ(&K, sizeof(K), VACCEL_ARG_INT32, 0);
	/* One write argument: the output's data (M x N floats). */
	w[0] = w[1];
	w[0].size = (uint32_t)(o.cap < (size_t)M * N * 4 ? o.cap : (size_t)M * N * 4);
	ret = generic(sess, AR_OP_TORCH_SGEMM, NULL, 0, NULL, r, nr, w, 1);
	*out = NULL;
	if (!ret) {
		int64_t dims[2] = { M, N };

		o.meta.v[0] = VACCEL_TORCH_FLOAT;
		o.meta.v[1] = 2;
		memcpy(&o.meta.v[2], dims, sizeof(dims));
		ret = torch_out(&o, out);
	}
	tout_free(&o);
	return ret;
}

AR_VISIBLE int vaccel_torch_sgemm(struct vaccel_session *sess,
				  struct vaccel_torch_tensor **in_A,
				  struct vaccel_torch_tensor **in_B,
				  struct vaccel_torch_tensor **in_C, int M, int N, int K,
				  struct vaccel_torch_tensor **out)
{
	if (!sess)
		return VACCEL_EINVAL;
	return OP_RUN(AR_OP_TORCH_SGEMM, torch_sgemm(sess, in_A, in_B, in_C, M, N, K, out));
}

/* ---- TensorFlow ---- */

/* A status as a plugin returns it: a code byte, then the message. */
struct status_buf {
	uint8_t code;
	char message[255];
};

static int tf_status_out(const struct status_buf *b, struct vaccel_tf_status *status)
{
	char msg[sizeof(b->message) + 1];

	if (!status)
		return 0;
	memcpy(msg, b->message, sizeof(b->message));
	msg[sizeof(b->message)] = '\0';
	vaccel_tf_status_release(status);
	return -vaccel_tf_status_init(status, b->code, msg);
}

static int tf_model_op(struct vaccel_session *sess, struct vaccel_resource *model,
		       uint32_t op, struct vaccel_tf_status *status)
{
	struct status_buf sb = { 0 };
	struct ar_arg w = targ(&sb, sizeof(sb), VACCEL_ARG_RAW, 0);
	int ret = model_op(sess, model, op, &w, 1);

	return ret ? ret : tf_status_out(&sb, status);
}

AR_VISIBLE int vaccel_tf_model_load(struct vaccel_session *sess,
				    struct vaccel_resource *model,
				    struct vaccel_tf_status *status)
{
	if (!sess || !model)
		return VACCEL_EINVAL;
	return OP_RUN(AR_OP_TF_MODEL_LOAD,
		      tf_model_op(sess, model, AR_OP_TF_MODEL_LOAD, status));
}

AR_VISIBLE int vaccel_tf_model_unload(struct vaccel_session *sess,
				      struct vaccel_resource *model,
				      struct vaccel_tf_status *status)
{
	if (!sess || !model)
		return VACCEL_EINVAL;
	return OP_RUN(AR_OP_TF_MODEL_UNLOAD,
		      tf_model_op(sess, model, AR_OP_TF_MODEL_UNLOAD, status));
}

/* Bytes of one element of a tf tensor type (0: unknown or variable). */
static size_t tf_elem(int64_t type)
{
	switch (type) {
	case VACCEL_TF_INT8:
	case VACCEL_TF_UINT8:
	case VACCEL_TF_BOOL:
	case VACCEL_TF_QINT8:
	case VACCEL_TF_QUINT8:
		return 1;
	case VACCEL_TF_INT16:
	case VACCEL_TF_UINT16:
	case VACCEL_TF_HALF:
	case VACCEL_TF_BFLOAT16:
	case VACCEL_TF_QINT16:
	case VACCEL_TF_QUINT16:
		return 2;
	case VACCEL_TF_FLOAT:
	case VACCEL_TF_INT32:
	case VACCEL_TF_UINT32:
	case VACCEL_TF_QINT32:
		return 4;
	case VACCEL_TF_DOUBLE:
	case VACCEL_TF_INT64:
	case VACCEL_TF_UINT64:
	case VACCEL_TF_COMPLEX64:
		return 8;
	case VACCEL_TF_COMPLEX128:
		return 16;
	}
	return 0;
}

static int tf_run(struct vaccel_session *sess, struct vaccel_resource *model,
		  const struct vaccel_tf_buffer *run_options,
		  const struct vaccel_tf_node *in_nodes,
		  struct vaccel_tf_tensor *const *in_tensors, int nr_inputs,
		  const struct vaccel_tf_node *out_nodes, struct vaccel_tf_tensor **out_tensors,
		  int nr_outputs, struct vaccel_tf_status *status)
{
	struct ar_arg r[AR_WIRE_MAX_ARGS], w[AR_WIRE_MAX_ARGS], tr[AR_WIRE_MAX_ARGS];
	struct tin in[AR_WIRE_MAX_ARGS] = { 0 };
	struct tout out[AR_WIRE_MAX_ARGS / 2];
	struct status_buf sb = { 0 };
	size_t nr = 0, nw = 0, tn = 0, nalloc;
	int ret = check_res(sess, model, VACCEL_RESOURCE_MODEL);

	if (ret)
		return ret;
	if (nr_inputs < 0 || nr_outputs < 0 || (nr_inputs && (!in_nodes || !in_tensors)) ||
	    (nr_outputs && (!out_nodes || !out_tensors)) ||
	    1 + (size_t)nr_inputs * 3 + (size_t)nr_outputs > AR_WIRE_MAX_ARGS ||
	    (size_t)nr_outputs * 2 + 1 > AR_WIRE_MAX_ARGS)
		return -EINVAL;
	for (int i = 0; i < nr_inputs; i++) {
		const struct vaccel_tf_tensor *t = in_tensors[i];

		if (!t || t->nr_dims < 0 || (t->nr_dims && !t->dims) || !in_nodes[i].name)
			return -EINVAL;
		in[i] = (struct tin){ t->dims, (size_t)t->nr_dims, 8, t->data, t->size,
				      (uint32_t)t->data_type };
	}
	for (int i = 0; i < nr_outputs; i++)
		if (!out_nodes[i].name)
			return -EINVAL;
	ret = tensor_args(in, (size_t)nr_inputs, out, (size_t)nr_outputs, tr, &tn, w, &nw);
	nalloc = nw / 2;
	/* run options; per input: node name, dims, data; per output: its
	 * node name. */
	r[nr++] = targ(run_options ? run_options->data : NULL,
		       run_options ? run_options->size : 0, VACCEL_ARG_BUFFER, 0);
	for (int i = 0; !ret && i < nr_inputs; i++) {
		r[nr++] = targ(in_nodes[i].name, strlen(in_nodes[i].name) + 1,
			       VACCEL_ARG_STRING, (uint32_t)in_nodes[i].id);
		r[nr++] = tr[(size_t)i * 2];
		r[nr++] = tr[(size_t)i * 2 + 1];
	}
	for (int i = 0; !ret && i < nr_outputs; i++)
		r[nr++] = targ(out_nodes[i].name, strlen(out_nodes[i].name) + 1,
			       VACCEL_ARG_STRING, (uint32_t)out_nodes[i].id);
	w[nw++] = targ(&sb, sizeof(sb), VACCEL_ARG_RAW, 0);
	if (!ret)
		ret = generic(sess, AR_OP_TF_MODEL_RUN, NULL, (uint64_t)model->remote_id,
			      NULL, r, nr, w, nw);
	for (int i = 0; i < nr_outputs; i++) {
		size_t bytes;
		void *data;
		int nd;

		out_tensors[i] = NULL;
		if (ret || (ret = out_size(&out[i], tf_elem(out[i].meta.v[0]), &bytes, &nd)) ||
		    !nd)
			continue;
		ret = -vaccel_tf_tensor_new(&out_tensors[i], nd, &out[i].meta.v[2],
					    (enum vaccel_tf_data_type)out[i].meta.v[0]);
		if (ret)
			continue;
		data = tout_take(&out[i], bytes);
		ret = data ? -vaccel_tf_tensor_set_data(out_tensors[i], data, bytes) : -ENOMEM;
		if (ret) {
			free(data);
			vaccel_tf_tensor_delete(out_tensors[i]);
			out_tensors[i] = NULL;
		} else {
			out_tensors[i]->owned = true;
		}
	}
	for (size_t i = 0; i < nalloc; i++)
		tout_free(&out[i]);
	if (!ret)
		ret = tf_status_out(&sb, status);
	/* A failed run leaves the caller no tensor to free. */
	for (int i = 0; ret && i < nr_outputs; i++)
		if (out_tensors[i]) {
			vaccel_tf_tensor_delete(out_tensors[i]);
			out_tensors[i] = NULL;
		}
	return ret;
}

AR_VISIBLE int vaccel_tf_model_run(struct vaccel_session *sess,
				   struct vaccel_resource *model,
				   const struct vaccel_tf_buffer *run_options,
				   const struct vaccel_tf_node *in_nodes,
				   struct vaccel_tf_tensor *const *in_tensors, int nr_inputs,
				   const struct vaccel_tf_node *out_nodes,
				   struct vaccel_tf_tensor **out_tensors, int nr_outputs,
				   struct vaccel_tf_status *status)
{
	if (!sess || !model)
		return VACCEL_EINVAL;
	return OP_RUN(AR_OP_TF_MODEL_RUN,
		      tf_run(sess, model, run_options, in_nodes, in_tensors, nr_inputs,
			     out_nodes, out_tensors, nr_outputs, status));
}

/* ---- TensorFlow Lite ---- */

AR_VISIBLE int vaccel_tflite_model_load(struct vaccel_session *sess,
					struct vaccel_resource *model)
{
	if (!sess || !model)
		return VACCEL_EINVAL;
	return OP_RUN(AR_OP_TFLITE_MODEL_LOAD,
		      model_op(sess, model, AR_OP_TFLITE_MODEL_LOAD, NULL, 0));
}

AR_VISIBLE int vaccel_tflite_model_unload(struct vaccel_session *sess,
					  struct vaccel_resource *model)
{
	if (!sess || !model)
		return VACCEL_EINVAL;
	return OP_RUN(AR_OP_TFLITE_MODEL_UNLOAD,
		      model_op(sess, model, AR_OP_TFLITE_MODEL_UNLOAD, NULL, 0));
}

static size_t tflite_elem(int64_t type)
{
	switch (type) {
	case VACCEL_TFLITE_UINT8:
	case VACCEL_TFLITE_INT8:
	case VACCEL_TFLITE_BOOL:
		return 1;
	case VACCEL_TFLITE_INT16:
	case VACCEL_TFLITE_UINT16:
	case VACCEL_TFLITE_FLOAT16:
		return 2;
	case VACCEL_TFLITE_FLOAT32:
	case VACCEL_TFLITE_INT32:
	case VACCEL_TFLITE_UINT32:
		return 4;
	case VACCEL_TFLITE_INT64:
	case VACCEL_TFLITE_UINT64:
	case VACCEL_TFLITE_FLOAT64:
	case VACCEL_TFLITE_COMPLEX64:
		return 8;
	case VACCEL_TFLITE_COMPLEX128:
		return 16;
	}
	return 0;
}

static int tflite_run(struct vaccel_session *sess, struct vaccel_resource *model,
		      struct vaccel_tflite_tensor *const *inputs, int nr_inputs,
		      struct vaccel_tflite_tensor **outputs, int nr_outputs, uint8_t *status)
{
	struct ar_arg r[AR_WIRE_MAX_ARGS], w[AR_WIRE_MAX_ARGS];
	struct tin in[AR_WIRE_MAX_ARGS];
	struct tout out[AR_WIRE_MAX_ARGS / 2];
	uint8_t st = 0;
	size_t nr = 0, nw = 0, nalloc;
	int ret = check_res(sess, model, VACCEL_RESOURCE_MODEL);

	if (ret)
		return ret;
	if (nr_inputs < 0 || nr_outputs < 0 || (nr_inputs && !inputs) ||
	    (nr_outputs && !outputs) || (size_t)nr_inputs * 2 > AR_WIRE_MAX_ARGS ||
	    (size_t)nr_outputs * 2 + 1 > AR_WIRE_MAX_ARGS)
		return -EINVAL;
	for (int i = 0; i < nr_inputs; i++) {
		const struct vaccel_tflite_tensor *t = inputs[i];

		if (!t || t->nr_dims < 0 || (t->nr_dims && !t->dims))
			return -EINVAL;
		in[i] = (struct tin){ t->dims, (size_t)t->nr_dims, 4, t->data, t->size,
				      (uint32_t)t->data_type };
	}
	ret = tensor_args(in, (size_t)nr_inputs, out, (size_t)nr_outputs, r, &nr, w, &nw);
	nalloc = nw / 2;
	w[nw++] = targ(&st, sizeof(st), VACCEL_ARG_UINT8, 0);
	if (!ret)
		ret = generic(sess, AR_OP_TFLITE_MODEL_RUN, NULL, (uint64_t)model->remote_id,
			      NULL, r, nr, w, nw);
	for (int i = 0; i < nr_outputs; i++) {
		int32_t dims[OUT_DIMS];
		size_t bytes;
		void *data;
		int nd;

		outputs[i] = NULL;
		if (ret || (ret = out_size(&out[i], tflite_elem(out[i].meta.v[0]), &bytes, &nd)) ||
		    !nd)
			continue;
		for (int d = 0; d < nd; d++) {
			if (out[i].meta.v[2 + d] > INT32_MAX) {
				ret = -EPROTO;
				break;
			}
			dims[d] = (int32_t)out[i].meta.v[2 + d];
		}
		if (ret)
			continue;
		ret = -vaccel_tflite_tensor_new(&outputs[i], nd, dims,
						(enum vaccel_tflite_data_type)out[i].meta.v[0]);
		if (ret)
			continue;
		data = tout_take(&out[i], bytes);
		ret = data ? -vaccel_tflite_tensor_set_data(outputs[i], data, bytes) : -ENOMEM;
		if (ret) {
			free(data);
			vaccel_tflite_tensor_delete(outputs[i]);
			outputs[i] = NULL;
		} else {
			outputs[i]->owned = true;
		}
	}
	for (size_t i = 0; i < nalloc; i++)
		tout_free(&out[i]);
	/* A failed run leaves the caller no tensor to free. */
	for (int i = 0; ret && i < nr_outputs; i++)
		if (outputs[i]) {
			vaccel_tflite_tensor_delete(outputs[i]);
			outputs[i] = NULL;
		}
	if (!ret && status)
		*status = st;
	return ret;
}

AR_VISIBLE int vaccel_tflite_model_run(struct vaccel_session *sess,
				       struct vaccel_resource *model,
				       struct vaccel_tflite_tensor *const *inputs,
				       int nr_inputs, struct vaccel_tflite_tensor **outputs,
				       int nr_outputs, uint8_t *status)
{
	if (!sess || !model)
		return VACCEL_EINVAL;
	return OP_RUN(AR_OP_TFLITE_MODEL_RUN, tflite_run(sess, model, inputs, nr_inputs,
							 outputs, nr_outputs, status));
}

/* ---- genop: any op from an argument list ---- */

/* genop reaches the deprecated ops too, as upstream's does. */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

/*
 * The arguments of each op in the order of its function's parameters (as
 * upstream's unpack functions take them), after read[0], the op type.
 * Each unpacker checks the counts and sizes and calls the op's function,
 * so that a genop is exactly the op it names.
 */
static bool scalar(const struct vaccel_arg *a, void *dst, size_t n)
{
	if (!a->buf || a->size != n)
		return false;
	memcpy(dst, a->buf, n);
	return true;
}

static bool is_str(const struct vaccel_arg *a)
{
	return a->buf && a->size && memchr(a->buf, '\0', a->size);
}

static int unpack_sgemm(struct vaccel_session *s, struct vaccel_arg *r, int nr,
			struct vaccel_arg *w, int nw)
{
	int64_t m, n, k, lda, ldb, ldc;
	float alpha, beta;

	if (nr != 10 || nw != 1 || !scalar(&r[0], &m, 8) || !scalar(&r[1], &n, 8) ||
	    !scalar(&r[2], &k, 8) || !scalar(&r[3], &alpha, 4) || !scalar(&r[5], &lda, 8) ||
	    !scalar(&r[7], &ldb, 8) || !scalar(&r[8], &beta, 4) || !scalar(&r[9], &ldc, 8))
		return VACCEL_EINVAL;
	/* Bad dimensions are vaccel_sgemm's to refuse, with their line. */
	const uint64_t need[3] = { mat_bytes("A", m, "m", k, "k", lda, "lda"),
				   mat_bytes("B", k, "k", n, "n", ldb, "ldb"),
				   mat_bytes("C", m, "m", n, "n", ldc, "ldc") };
	const size_t have[3] = { r[4].size, r[6].size, w[0].size };

	for (int i = 0; i < 3; i++) {
		if (need[i] && have[i] < need[i]) {
			ar__vaccel_log(VACCEL_LOG_ERROR,
				       "genop: blas_sgemm: the argument of %c holds %zu bytes, "
				       "its dimensions need %" PRIu64, "ABC"[i], have[i], need[i]);
			return VACCEL_EINVAL;
		}
	}
	return vaccel_sgemm(s, m, n, k, alpha, r[4].buf, lda, r[6].buf, ldb, beta,
			    w[0].buf, ldc);
}

static int unpack_image(struct vaccel_session *s, uint8_t op, struct vaccel_arg *r,
			int nr, struct vaccel_arg *w, int nw)
{
	if (op == VACCEL_OP_IMAGE_CLASSIFY) {
		if (nr != 1 || nw != 2)
			return VACCEL_EINVAL;
		return vaccel_image_classification(s, r[0].buf, w[0].buf, w[1].buf,
						   r[0].size, w[0].size, w[1].size);
	}
	if (nr != 1 || nw != 1)
		return VACCEL_EINVAL;
	return OP_RUN(op, image(s, op, r[0].buf, r[0].size, NULL, 0, w[0].buf, w[0].size));
}

static int unpack_exec(struct vaccel_session *s, struct vaccel_arg *r, int nr,
		       struct vaccel_arg *w, int nw)
{
	if (nr < 2 || !is_str(&r[0]) || !is_str(&r[1]))
		return VACCEL_EINVAL;
	return vaccel_exec(s, r[0].buf, r[1].buf, r + 2, (size_t)nr - 2, w, (size_t)nw);
}

static int unpack_exec_res(struct vaccel_session *s, struct vaccel_arg *r, int nr,
			   struct vaccel_arg *w, int nw)
{
	struct vaccel_resource *res;
	int64_t id;
	int ret;

	if (nr < 2 || !scalar(&r[0], &id, 8) || !is_str(&r[1]))
		return VACCEL_EINVAL;
	if ((ret = vaccel_resource_get_by_id(&res, id)))
		return ret;
	return vaccel_exec_with_resource(s, res, r[1].buf, r + 2, (size_t)nr - 2, w,
					 (size_t)nw);
}

static int unpack_minmax(struct vaccel_session *s, struct vaccel_arg *r, int nr,
			 struct vaccel_arg *w, int nw)
{
	int ndata, low, high;

	if (nr != 4 || nw != 3 || !scalar(&r[1], &ndata, 4) || !scalar(&r[2], &low, 4) ||
	    !scalar(&r[3], &high, 4) || ndata <= 0 ||
	    r[0].size < (size_t)ndata * sizeof(double) ||
	    w[0].size < (size_t)ndata * sizeof(double) || w[1].size != sizeof(double) ||
	    w[2].size != sizeof(double))
		return VACCEL_EINVAL;
	return vaccel_minmax(s, r[0].buf, ndata, low, high, w[0].buf, w[1].buf, w[2].buf);
}

static int unpack_fpga(struct vaccel_session *s, uint8_t op, struct vaccel_arg *r,
		       int nr, struct vaccel_arg *w, int nw)
{
	switch (op) {
	case VACCEL_OP_FPGA_ARRAYCOPY:
		if (nr != 1 || nw != 1 || w[0].size < r[0].size)
			return VACCEL_EINVAL;
		return vaccel_fpga_arraycopy(s, r[0].buf, w[0].buf, r[0].size / sizeof(int));
	case VACCEL_OP_FPGA_MMULT:
		if (nr != 2 || nw != 1 || r[1].size != r[0].size || w[0].size < r[0].size)
			return VACCEL_EINVAL;
		return vaccel_fpga_mmult(s, r[0].buf, r[1].buf, w[0].buf,
					 r[0].size / sizeof(float));
	case VACCEL_OP_FPGA_PARALLEL:
		if (nr != 2 || nw != 2 || r[1].size != r[0].size || w[0].size < r[0].size ||
		    w[1].size < r[0].size)
			return VACCEL_EINVAL;
		return vaccel_fpga_parallel(s, r[0].buf, r[1].buf, w[0].buf, w[1].buf,
					    r[0].size / sizeof(float));
	default:	/* VACCEL_OP_FPGA_VECTORADD */
		if (nr != 2 || nw != 1 || w[0].size < r[0].size)
			return VACCEL_EINVAL;
		return vaccel_fpga_vadd(s, r[0].buf, r[1].buf, w[0].buf,
					r[0].size / sizeof(float), r[1].size / sizeof(float));
	}
}

AR_VISIBLE int vaccel_genop(struct vaccel_session *sess, struct vaccel_arg *read,
			    int nr_read, struct vaccel_arg *write, int nr_write)
{
	struct vaccel_arg *r;
	uint32_t op32;
	uint8_t op;
	int nr;

	if (!sess || !read || nr_read < 1 || nr_write < 0 || (nr_write && !write))
		return VACCEL_EINVAL;
	/* The op type: a uint8 (upstream's genop reads one), or the 4-byte
	 * vaccel_op_type_t its documentation's examples pass. */
	if (scalar(&read[0], &op, 1))
		op32 = op;
	else if (!scalar(&read[0], &op32, 4))
		return VACCEL_EINVAL;
	if (op32 >= VACCEL_OP_MAX) {
		ar__vaccel_log(VACCEL_LOG_ERROR, "genop: invalid operation type %u", op32);
		return VACCEL_EINVAL;
	}
	op = (uint8_t)op32;
	r = read + 1;
	nr = nr_read - 1;
	switch (op) {
	case VACCEL_OP_NOOP:
		if (nr || nr_write)
			return VACCEL_EINVAL;
		return vaccel_noop(sess);
	case VACCEL_OP_BLAS_SGEMM:
		return unpack_sgemm(sess, r, nr, write, nr_write);
	case VACCEL_OP_IMAGE_CLASSIFY:
	case VACCEL_OP_IMAGE_DETECT:
	case VACCEL_OP_IMAGE_SEGMENT:
	case VACCEL_OP_IMAGE_POSE:
	case VACCEL_OP_IMAGE_DEPTH:
		return unpack_image(sess, op, r, nr, write, nr_write);
	case VACCEL_OP_EXEC:
		return unpack_exec(sess, r, nr, write, nr_write);
	case VACCEL_OP_EXEC_WITH_RESOURCE:
		return unpack_exec_res(sess, r, nr, write, nr_write);
	case VACCEL_OP_MINMAX:
		return unpack_minmax(sess, r, nr, write, nr_write);
	case VACCEL_OP_FPGA_ARRAYCOPY:
	case VACCEL_OP_FPGA_MMULT:
	case VACCEL_OP_FPGA_PARALLEL:
	case VACCEL_OP_FPGA_VECTORADD:
		return unpack_fpga(sess, op, r, nr, write, nr_write);
	case VACCEL_OP_OPENCV:
		return vaccel_opencv_unpack(sess, r, nr, write, nr_write);
	default:
		/* The model ops take objects (resources, tensors) that an
		 * argument list cannot carry: upstream has no genop for them. */
		ar__vaccel_log(VACCEL_LOG_ERROR, "genop: operation not implemented for %s",
			       vaccel_op_type_to_str((vaccel_op_type_t)op));
		return VACCEL_ENOTSUP;
	}
}

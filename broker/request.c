/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Requests: verify, decode and range-check a private copy of a ring record.
 *
 * The worker has already copied the record out of shared memory (the copy
 * is all we read: no double fetch). ar_wire_decode() runs the FlatBuffers
 * verifier and checks enums, union types and counts; here every value that
 * needs the channel's context is checked, so that a plugin only ever sees
 * buffers that lie inside the client's data area or inside the copy, and
 * are at least as long as the op needs. Offsets and lengths are computed in
 * 64 bits with overflow checks (SECURITY.md, rule 3).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "internal.h"

/* Fixed part of an encoded completion, and what each output adds beyond
 * its bytes (table, vtable, vector header, alignment): generous bounds. */
#define COMPL_BASE 128u
#define COMPL_PER_OUT 48u
#define COMPL_PER_REF 24u

/*
 * An argument's length against its type (vaccel_arg_type_t): a scalar is
 * exactly its size, an array a whole number of elements; raw, string,
 * buffer and custom arguments any length.
 */
static int check_type(const struct ar_wire_buf *w)
{
	enum { STRING = 27 };
	uint32_t t = w->type;
	uint64_t size = ar_arg_elem_size(t);

	if (size)
		return (ar_arg_is_array(t) ? w->len % size == 0 : w->len == size) ? 0 : -EINVAL;
	/* An inline string ends with its NUL (a data-area one may change
	 * under the plugin anyway). */
	if (t == STRING && w->kind == AR_BUF_BYTES &&
	    (!w->len || ((const char *)w->bytes)[w->len - 1] != '\0'))
		return -EINVAL;
	return 0;
}

/* Resolve an input: inline bytes in the copy, or a range of the data area.
 * align: the element alignment the op needs. */
static int resolve_in(struct ar_req_ctx *ctx, const struct ar_wire_buf *w,
		      uint64_t min, uint64_t align, struct ar_buf *out)
{
	switch (w->kind) {
	case AR_BUF_BYTES:
		if (w->len < min)
			return -EINVAL;
		out->ptr = (void *)w->bytes;
		out->len = w->len;
		break;
	case AR_BUF_REF:
		if (ar_wire_ref_check(w, ctx->data_bytes, min))
			return -EINVAL;
		out->ptr = ctx->data + w->off;
		out->len = w->len;
		break;
	default:
		return -EINVAL;
	}
	if ((uintptr_t)out->ptr % align || check_type(w))
		return -EINVAL;
	out->type = w->type;
	out->custom_id = w->custom_id;
	return 0;
}

/* Resolve an output: a range of the data area, written in place, or a size
 * returned inline, for which this batch's arena provides the memory. */
static int resolve_out(struct ar_req_ctx *ctx, struct ar_req *r,
		       const struct ar_wire_buf *w, uint64_t min, uint64_t align,
		       bool inline_ok, struct ar_buf *out)
{
	if (check_type(w))
		return -EINVAL;
	out->type = w->type;
	out->custom_id = w->custom_id;
	switch (w->kind) {
	case AR_BUF_REF:
		if (ar_wire_ref_check(w, ctx->data_bytes, min) ||
		    (uintptr_t)(ctx->data + w->off) % align)
			return -EINVAL;
		out->ptr = ctx->data + w->off;
		out->len = w->len;
		if (ctx->report_writes) {
			/* A stream client gets these bytes back in Chunks
			 * before the completion, which lists the ranges. */
			r->cq_bound += COMPL_PER_REF;
			if (r->cq_bound > ctx->max_inline)
				return -EMSGSIZE;
			r->written_buf[r->nr_written] = out;
			r->written[r->nr_written++] =
				(struct ar_wire_range){ w->off, w->len };
		}
		return 0;
	case AR_BUF_SIZE: {
		uint64_t need;

		if (!inline_ok || w->len < min)
			return -EINVAL;
		/* In 64 bits, before anything is rounded or added: a size of
		 * 0xFFFFFFFF once rounded to 2^32 and truncated to 0, passed
		 * this check, and then never fit the arena (the channel
		 * retried it forever). */
		if (w->len > ctx->max_inline ||
		    (uint64_t)r->cq_bound + ((w->len + 7) & ~7ull) + COMPL_PER_OUT >
			    ctx->max_inline)
			return -EMSGSIZE;
		need = (w->len + 7) & ~7ull;
		r->cq_bound += (uint32_t)need + COMPL_PER_OUT;
		if (ctx->arena_cap - ctx->arena_used < need)
			return -ENOBUFS;
		out->ptr = ctx->arena + ctx->arena_used;
		/* The arena is shared by every tenant this worker serves: a
		 * plugin that leaves len as it is returns these bytes, which
		 * must not be an earlier op's outputs. */
		memset(out->ptr, 0, need);
		out->len = w->len;
		ctx->arena_used += need;
		r->inline_cap[r->nr_inline] = w->len;
		r->inline_out[r->nr_inline++] = out;
		return 0;
	}
	default:
		return -EINVAL;
	}
}

/* Elements one row-major matrix with rows x cols and leading dimension ld
 * spans: (rows - 1) * ld + cols, or 0 if it has no rows. */
static int span(int64_t rows, int64_t cols, int64_t ld, uint64_t *bytes)
{
	uint64_t e;

	if (rows == 0 || cols == 0) {
		*bytes = 0;
		return 0;
	}
	if (__builtin_mul_overflow((uint64_t)(rows - 1), (uint64_t)ld, &e) ||
	    __builtin_add_overflow(e, (uint64_t)cols, &e) ||
	    __builtin_mul_overflow(e, (uint64_t)sizeof(float), bytes))
		return -EINVAL;
	return 0;
}

static int parse_sgemm(struct ar_req_ctx *ctx, struct ar_req *r,
		       const struct ar_wire_sgemm *s)
{
	struct ar_op_sgemm *o = &r->op.u.sgemm;
	uint64_t na, nb, nc;
	struct ar_buf a, b, c;
	int ret;

	/* cblas takes int dimensions; each must be at least 1 (BLAS wants
	 * ld >= 1 even for empty matrices) and the leading dimensions at
	 * least the row length. */
	if (s->m < 1 || s->n < 1 || s->k < 1 || s->m > INT32_MAX ||
	    s->n > INT32_MAX || s->k > INT32_MAX || s->lda < s->k ||
	    s->ldb < s->n || s->ldc < s->n || s->lda > INT32_MAX ||
	    s->ldb > INT32_MAX || s->ldc > INT32_MAX)
		return -EINVAL;
	if (span(s->m, s->k, s->lda, &na) || span(s->k, s->n, s->ldb, &nb) ||
	    span(s->m, s->n, s->ldc, &nc))
		return -EINVAL;
	if ((ret = resolve_in(ctx, &s->a, na, sizeof(float), &a)) ||
	    (ret = resolve_in(ctx, &s->b, nb, sizeof(float), &b)))
		return ret;
	/* C is read (beta) and written: only the data area will do. */
	if (s->c.kind != AR_BUF_REF)
		return -EINVAL;
	if ((ret = resolve_out(ctx, r, &s->c, nc, sizeof(float), false, &c)))
		return ret;
	if (ctx->report_writes) {
		/* sgemm writes all of C's span and nothing else, however
		 * long the ref: that span goes back, not the ref. */
		r->written_buf[r->nr_written - 1] = NULL;
		r->written[r->nr_written - 1].len = nc;
	}
	*o = (struct ar_op_sgemm){ .m = s->m, .n = s->n, .k = s->k,
				   .lda = s->lda, .ldb = s->ldb, .ldc = s->ldc,
				   .alpha = s->alpha, .beta = s->beta,
				   .a = a.ptr, .b = b.ptr, .c = c.ptr };
	return 0;
}

static int parse_image(struct ar_req_ctx *ctx, struct ar_req *r,
		       const struct ar_wire_image *s)
{
	struct ar_op_image *o = &r->op.u.image;
	int ret;

	memset(o, 0, sizeof(*o));
	/* An image op's plugin may say why it refused (a corrupt picture,
	 * no model), as a Generic op's may. */
	r->op.why = r->why;
	r->op.why_cap = sizeof(r->why);
	r->cq_bound += AR_WIRE_MAX_MESSAGE;
	if ((ret = resolve_in(ctx, &s->img, 0, 1, &o->img)))
		return ret;
	if (s->out_text.kind != AR_BUF_NONE &&
	    (ret = resolve_out(ctx, r, &s->out_text, 0, 1, true, &o->out_text)))
		return ret;
	if (s->out_imgname.kind != AR_BUF_NONE &&
	    (ret = resolve_out(ctx, r, &s->out_imgname, 0, 1, true,
			       &o->out_imgname)))
		return ret;
	return 0;
}

static int parse_generic(struct ar_req_ctx *ctx, struct ar_req *r,
			 const struct ar_wire_generic *s)
{
	struct ar_op_generic *o = &r->op.u.generic;
	int ret;

	o->library = s->library;
	o->symbol = s->symbol;
	o->nr_read = s->nr_read;
	o->nr_write = s->nr_write;
	o->read = r->read;
	o->write = r->write;
	o->resource = NULL;	/* prepare() resolves res_id (worker.c) */
	r->res_id = s->resource;
	/* A Generic op's plugin may say why it refused. */
	r->op.why = r->why;
	r->op.why_cap = sizeof(r->why);
	r->cq_bound += AR_WIRE_MAX_MESSAGE;
	for (uint32_t i = 0; i < s->nr_read; i++)
		if ((ret = resolve_in(ctx, &s->read[i], 0, 1, &r->read[i])))
			return ret;
	for (uint32_t i = 0; i < s->nr_write; i++)
		if ((ret = resolve_out(ctx, r, &s->write[i], 0, 1, true,
				       &r->write[i])))
			return ret;
	return 0;
}

/* The longest op mbench may be asked to spin: a worker is not a sleep
 * service, and a longer op would starve the channels sharing it. */
#define MBENCH_MAX_US (10u * 1000 * 1000)

int ar__req_decode(const void *copy, size_t len, struct ar_req *r,
		   struct ar_wire_msg *mp)
{
	int ret;

	r->status = 0;
	r->value = 0;
	r->id = 0;
	r->route = NULL;
	r->nr_inline = 0;
	r->nr_written = 0;
	r->cq_bound = COMPL_BASE;
	r->res_id = 0;
	r->res = NULL;
	r->why[0] = '\0';
	ret = ar_wire_decode(copy, len, mp);
	if (ret == -EBADMSG)
		return ret;
	r->type = mp->type;
	switch (mp->type) {
	case AR_WIRE_RES_REGISTER:
	case AR_WIRE_RES_UNREGISTER:
		/* Run by the worker from the copy (prepare), with a reason
		 * for any refusal; a value out of range completes with
		 * -EINVAL, as an op's. */
		r->id = mp->type == AR_WIRE_RES_REGISTER ? mp->u.res_register.id :
							  mp->u.res_unregister.id;
		r->copy = copy;
		r->copy_len = (uint32_t)len;
		r->cq_bound = COMPL_BASE + AR_WIRE_MAX_MESSAGE;
		r->status = ret;
		return 0;
	case AR_WIRE_SESSION_OPEN:
		r->id = mp->u.session_open.id;
		r->sess_flags = mp->u.session_open.flags;
		return 0;
	case AR_WIRE_SESSION_CLOSE:
		r->id = mp->u.session_close.id;
		r->op.session = mp->u.session_close.session;
		return 0;
	case AR_WIRE_OP:
		break;
	default:
		/* Undecodable, or a message only the broker sends: there is no
		 * request id to complete with. */
		return -EBADMSG;
	}
	r->id = mp->u.op.id;
	r->op.op = mp->u.op.op;
	/* The op decoded far enough to have an id, but a value may be out
	 * of range: it completes with that error. */
	r->status = ret;
	return 0;
}

int ar__req_resolve(struct ar_req_ctx *ctx, struct ar_req *r,
		    const struct ar_wire_msg *mp)
{
	size_t arena_mark = ctx->arena_used;
	int ret;

	if (r->type != AR_WIRE_OP || r->status)
		return 0;
	memset(&r->op, 0, sizeof(r->op));
	r->op.op = mp->u.op.op;
	r->op.session = mp->u.op.session;
	switch (mp->u.op.args_kind) {
	case AR_ARGS_NONE:
		r->op.u.generic.read = r->read;
		r->op.u.generic.write = r->write;
		ret = 0;
		break;
	case AR_ARGS_SGEMM:
		ret = parse_sgemm(ctx, r, &mp->u.op.u.sgemm);
		break;
	case AR_ARGS_IMAGE:
		ret = parse_image(ctx, r, &mp->u.op.u.image);
		break;
	case AR_ARGS_GENERIC:
		ret = parse_generic(ctx, r, &mp->u.op.u.generic);
		break;
	case AR_ARGS_MBENCH:
		r->op.u.mbench.time_us = mp->u.op.u.mbench.time_us;
		ret = r->op.u.mbench.time_us > MBENCH_MAX_US ? -EINVAL : 0;
		break;
	default:
		ret = -EINVAL;
		break;
	}
	if (ret == -ENOBUFS && arena_mark) {
		/* The batch's arena is full: retry in the next batch. */
		ctx->arena_used = arena_mark;
		return ret;
	}
	if (ret == -ENOBUFS)
		ret = -EMSGSIZE;	/* an empty arena cannot hold it: never */
	if (ret) {
		/* Completed with an error: it returns no outputs. */
		ctx->arena_used = arena_mark;
		r->nr_inline = 0;
		r->cq_bound = COMPL_BASE;
		r->status = ret;
	}
	return 0;
}

int ar__req_written(const struct ar_req *r, struct ar_wire_range *out)
{
	uint32_t n = 0, k = 0;

	/* What each output holds after the plugin, in ascending order
	 * (insertion sort: at most AR_WIRE_MAX_ARGS of them). */
	for (uint32_t i = 0; i < r->nr_written && i < AR_WIRE_MAX_ARGS; i++) {
		struct ar_wire_range w = r->written[i];
		const struct ar_buf *b = r->written_buf[i];
		uint32_t j;

		/* A plugin may only lower len; one that raised it gets the
		 * declared length. */
		if (b && b->len < w.len)
			w.len = b->len;
		if (!w.len)
			continue;
		for (j = n; j > 0 && out[j - 1].off > w.off; j--)
			out[j] = out[j - 1];
		out[j] = w;
		n++;
	}
	/* Merge what overlaps or touches. Every range was checked to lie in
	 * the data area, so off + len does not overflow. */
	for (uint32_t i = 0; i < n; i++) {
		if (k && out[i].off <= out[k - 1].off + out[k - 1].len) {
			uint64_t end = out[i].off + out[i].len;

			if (end > out[k - 1].off + out[k - 1].len)
				out[k - 1].len = end - out[k - 1].off;
			continue;
		}
		out[k++] = out[i];
	}
	return (int)k;
}

int ar__req_parse(struct ar_req_ctx *ctx, const void *copy, size_t len,
		  struct ar_req *r)
{
	struct ar_wire_msg m;
	int ret = ar__req_decode(copy, len, r, &m);

	return ret ? ret : ar__req_resolve(ctx, r, &m);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The native API's ops: encode a request into the calling thread's SQ.
 * Buffers in the queue's data area travel as references (zero copy);
 * others travel inline, and inline outputs are copied to the caller's
 * buffers when the completion is read.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "accelring/trace.h"
#include "client_pvt.h"

/* Describe a read buffer: a reference if it lies in the data area. */
static void in_buf(struct ar_queue *q, const void *p, uint64_t len,
		   struct ar_wire_buf *b)
{
	uint64_t off;

	if (len && ar__in_area(q->link, p, len, &off))
		*b = (struct ar_wire_buf){ .kind = AR_BUF_REF, .off = off, .len = len };
	else
		*b = (struct ar_wire_buf){ .kind = AR_BUF_BYTES, .bytes = p, .len = len };
}

/* A typed argument. */
static void in_arg(struct ar_queue *q, const struct ar_arg *a, struct ar_wire_buf *b)
{
	in_buf(q, a->buf, a->size, b);
	b->type = a->type;
	b->custom_id = a->custom_id;
}

/* Describe a write buffer; inline ones are recorded in the slot. */
static int out_buf(struct ar_queue *q, struct slot *s, void *p, uint64_t len,
		   struct ar_wire_buf *b)
{
	uint64_t off;
	struct out_dst *d;

	if (len && ar__in_area(q->link, p, len, &off)) {
		*b = (struct ar_wire_buf){ .kind = AR_BUF_REF, .off = off, .len = len };
		return 0;
	}
	if (len > UINT32_MAX)
		return -EINVAL;
	*b = (struct ar_wire_buf){ .kind = AR_BUF_SIZE, .len = len };
	if (s->nr_out >= AR_SLOT_OUTS) {
		if (!s->more) {
			s->more = calloc(AR_WIRE_MAX_ARGS, sizeof(*s->more));
			if (!s->more)
				return -ENOMEM;
		}
		d = &s->more[s->nr_out - AR_SLOT_OUTS];
	} else {
		d = &s->out[s->nr_out];
	}
	*d = (struct out_dst){ p, len };
	s->nr_out++;
	return 0;
}

/* Queue m for slot idx; on failure the slot is given back. */
static int put(struct ar_queue *q, struct ar_wire_msg *m, int idx)
{
	int ret;

	m->u.op.id = ar__slot_id(q, (uint32_t)idx);
	q->slots[idx].op = m->u.op.op;
	ret = ar__queue_put(q, m);
	if (ret)
		ar__slot_put(q, (uint32_t)idx);
	else
		AR_TRACE(client_submit, q->link->tenant, q->idx, m->u.op.id, m->u.op.op);
	return ret;
}

/*
 * Fill an op's header. The message is not zeroed as a whole: its union
 * holds the generic op's two argument arrays (2 KiB), and clearing them for
 * every op cost more than encoding it. Each caller fills its own member.
 */
static void op_msg(struct ar_wire_msg *m, uint32_t session, uint32_t op,
		   uint32_t args_kind)
{
	m->type = AR_WIRE_OP;
	m->u.op.session = session;
	m->u.op.op = op;
	m->u.op.args_kind = args_kind;
}

/* Set by the vAccel layer around a submission it waits for itself. */
AR_TLS bool ar__tls_sync;
AR_TLS int ar__tls_slot;

static int slot(struct ar_queue *q, uint64_t user_data)
{
	int idx;

	if (q->err)
		return q->err;
	idx = ar__slot_get(q, user_data, ar__tls_sync);
	if (idx == -EAGAIN)
		ar_flush(q);
	ar__tls_slot = idx;
	return idx;
}

AR_VISIBLE int ar_submit_noop(struct ar_queue *q, uint32_t session, uint64_t user_data)
{
	struct ar_wire_msg m;
	int idx = slot(q, user_data);

	if (idx < 0)
		return idx;
	op_msg(&m, session, AR_OP_NOOP, AR_ARGS_NONE);
	return put(q, &m, idx);
}

AR_VISIBLE int ar_submit_mbench(struct ar_queue *q, uint32_t session,
				uint32_t time_us, uint64_t user_data)
{
	struct ar_wire_msg m;
	int idx = slot(q, user_data);

	if (idx < 0)
		return idx;
	op_msg(&m, session, AR_OP_MBENCH, AR_ARGS_MBENCH);
	m.u.op.u.mbench.time_us = time_us;
	return put(q, &m, idx);
}

static bool span_bytes(int64_t rows, int64_t cols, int64_t ld, uint64_t *bytes)
{
	if (rows < 1 || cols < 1 || ld < cols)
		return false;
	return !__builtin_mul_overflow((uint64_t)(rows - 1), (uint64_t)ld, bytes) &&
	       !__builtin_add_overflow(*bytes, (uint64_t)cols, bytes) &&
	       !__builtin_mul_overflow(*bytes, 4u, bytes);
}

AR_VISIBLE int ar_submit_sgemm(struct ar_queue *q, uint32_t session,
			       const struct ar_sgemm *s, uint64_t user_data)
{
	struct ar_wire_msg m;
	struct ar_wire_sgemm *w = &m.u.op.u.sgemm;
	uint64_t na, nb, nc, oa, ob, oc;
	int idx;

	if (!span_bytes(s->m, s->k, s->lda, &na) || !span_bytes(s->k, s->n, s->ldb, &nb) ||
	    !span_bytes(s->m, s->n, s->ldc, &nc))
		return -EINVAL;
	if (!ar__in_area(q->link, s->a, na, &oa) || !ar__in_area(q->link, s->b, nb, &ob) ||
	    !ar__in_area(q->link, s->c, nc, &oc))
		return -EFAULT;
	idx = slot(q, user_data);
	if (idx < 0)
		return idx;
	op_msg(&m, session, AR_OP_BLAS_SGEMM, AR_ARGS_SGEMM);
	*w = (struct ar_wire_sgemm){ .m = s->m, .n = s->n, .k = s->k,
				     .lda = s->lda, .ldb = s->ldb, .ldc = s->ldc,
				     .alpha = s->alpha, .beta = s->beta };
	w->a = (struct ar_wire_buf){ .kind = AR_BUF_REF, .off = oa, .len = na };
	w->b = (struct ar_wire_buf){ .kind = AR_BUF_REF, .off = ob, .len = nb };
	w->c = (struct ar_wire_buf){ .kind = AR_BUF_REF, .off = oc, .len = nc };
	return put(q, &m, idx);
}

AR_VISIBLE int ar_submit_image(struct ar_queue *q, uint32_t session, uint32_t op,
			       const void *img, size_t len_img, void *out_text,
			       size_t len_text, void *out_imgname,
			       size_t len_imgname, uint64_t user_data)
{
	struct ar_wire_msg m;
	struct ar_wire_image *w = &m.u.op.u.image;
	int idx, ret;

	if (ar_op_args_kind(op) != AR_ARGS_IMAGE)
		return -EINVAL;
	idx = slot(q, user_data);
	if (idx < 0)
		return idx;
	op_msg(&m, session, op, AR_ARGS_IMAGE);
	*w = (struct ar_wire_image){ 0 };
	in_buf(q, img, len_img, &w->img);
	ret = 0;
	if (out_text && len_text)
		ret = out_buf(q, &q->slots[idx], out_text, len_text, &w->out_text);
	if (!ret && out_imgname && len_imgname)
		ret = out_buf(q, &q->slots[idx], out_imgname, len_imgname, &w->out_imgname);
	if (ret) {
		ar__slot_put(q, (uint32_t)idx);
		return ret;
	}
	return put(q, &m, idx);
}

static int submit_generic(struct ar_queue *q, uint32_t session, uint32_t op,
			  const char *library, uint64_t resource, const char *symbol,
			  const struct ar_arg *read, uint32_t nr_read,
			  const struct ar_arg *write, uint32_t nr_write, uint64_t user_data)
{
	struct ar_wire_msg m;
	struct ar_wire_generic *g = &m.u.op.u.generic;
	const struct ar_op_info *info = ar_op_lookup(op);
	int idx, ret = 0;

	if (!info || info->args_kind != AR_ARGS_GENERIC || nr_read < info->rd_min ||
	    nr_read > info->rd_max || nr_write < info->wr_min ||
	    nr_write > info->wr_max || ((info->flags & AR_OPF_LIBRARY) && !library) ||
	    ((info->flags & AR_OPF_SYMBOL) && !symbol) ||
	    !(info->flags & AR_OPF_RESOURCE) != !resource)
		return -EINVAL;
	idx = slot(q, user_data);
	if (idx < 0)
		return idx;
	/* Only the first nr_read and nr_write entries are read. */
	op_msg(&m, session, op, AR_ARGS_GENERIC);
	g->library = library;
	g->symbol = symbol;
	g->resource = resource;
	g->nr_read = nr_read;
	g->nr_write = nr_write;
	for (uint32_t i = 0; i < nr_read; i++)
		in_arg(q, &read[i], &g->read[i]);
	for (uint32_t i = 0; i < nr_write && !ret; i++) {
		ret = out_buf(q, &q->slots[idx], write[i].buf, write[i].size, &g->write[i]);
		g->write[i].type = write[i].type;
		g->write[i].custom_id = write[i].custom_id;
	}
	if (ret) {
		ar__slot_put(q, (uint32_t)idx);
		return ret;
	}
	return put(q, &m, idx);
}

AR_VISIBLE int ar_submit_generic(struct ar_queue *q, uint32_t session, uint32_t op,
				 const char *library, const char *symbol,
				 const struct ar_arg *read, uint32_t nr_read,
				 const struct ar_arg *write, uint32_t nr_write,
				 uint64_t user_data)
{
	return submit_generic(q, session, op, library, 0, symbol, read, nr_read, write,
			      nr_write, user_data);
}

AR_VISIBLE int ar_submit_resource_op(struct ar_queue *q, uint32_t session, uint32_t op,
				     uint64_t resource, const char *symbol,
				     const struct ar_arg *read, uint32_t nr_read,
				     const struct ar_arg *write, uint32_t nr_write,
				     uint64_t user_data)
{
	if (!resource)
		return -EINVAL;
	return submit_generic(q, session, op, NULL, resource, symbol, read, nr_read, write,
			      nr_write, user_data);
}

/* ---- sessions: synchronous ---- */

/* Queue m as a sync op, retrying while the SQ is full, and wait for it. */
int ar__call(struct ar_queue *q, struct ar_wire_msg *m, uint64_t *value)
{
	uint64_t id;
	int idx, ret;

	for (;;) {
		idx = ar__slot_get(q, 0, true);
		if (idx >= 0)
			break;
		/* Every slot is in flight: completions free them. */
		ret = ar__queue_drain(q);
		if (ret < 0)
			return ret;
		if (q->free_head == UINT32_MAX && q->fresh == AR_QUEUE_SLOTS)
			return -EAGAIN;
	}
	id = ar__slot_id(q, (uint32_t)idx);
	switch (m->type) {
	case AR_WIRE_SESSION_OPEN:
		m->u.session_open.id = id;
		break;
	case AR_WIRE_SESSION_CLOSE:
		m->u.session_close.id = id;
		break;
	case AR_WIRE_RES_REGISTER:
		m->u.res_register.id = id;
		break;
	case AR_WIRE_RES_UNREGISTER:
		m->u.res_unregister.id = id;
		break;
	default:
		ar__slot_put(q, (uint32_t)idx);
		return -EINVAL;
	}
	while ((ret = ar__queue_put(q, m)) == -EAGAIN) {
		/* Room comes back as the broker consumes; read completions
		 * meanwhile so that it never waits on our CQ. */
		ret = ar__queue_drain(q);
		if (ret < 0)
			break;
		sched_yield();
	}
	if (ret < 0) {
		ar__slot_put(q, (uint32_t)idx);
		return ret;
	}
	return ar__queue_wait_slot(q, (uint32_t)idx, value);
}

AR_VISIBLE int ar_session_open(struct ar_queue *q, uint32_t flags, uint32_t *id)
{
	struct ar_wire_msg m = { .type = AR_WIRE_SESSION_OPEN };
	uint64_t v = 0;
	int ret;

	m.u.session_open.flags = flags;
	ret = ar__call(q, &m, &v);
	if (!ret)
		*id = (uint32_t)v;
	return ret;
}

AR_VISIBLE int ar_session_close(struct ar_queue *q, uint32_t id)
{
	struct ar_wire_msg m = { .type = AR_WIRE_SESSION_CLOSE };

	m.u.session_close.session = id;
	return ar__call(q, &m, NULL);
}

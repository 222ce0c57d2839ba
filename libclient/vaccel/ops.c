/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ops: every one runs on the broker. Every call is synchronous, on the
 * calling thread's queue.
 *
 * Buffers: vAccel hands us plain pointers. Those already in the queue's
 * shared data area (ar_buf_alloc) travel by reference; other large inputs
 * and outputs are staged through a temporary data-area buffer, small ones
 * travel inline in the message.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "../client_pvt.h"
#include "vaccel_pvt.h"

/* The app's buffers up to this size go inline in the message. */
#define INLINE_MAX 2048u

#define pos ar__vaccel_err

/* The calling thread's queue and the session's broker id. */
static int op_begin(const struct vaccel_session *sess, struct ar_queue **q,
		    uint32_t *sid)
{
	if (ar__vaccel_session_remote(sess, sid))
		return -EINVAL;
	return ar__vaccel_queue(q);
}

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

/* ---- ops ---- */

AR_VISIBLE int vaccel_noop(struct vaccel_session *sess)
{
	struct ar_queue *q;
	uint32_t sid;
	int ret;

	if (!sess)
		return VACCEL_EINVAL;
	ret = op_begin(sess, &q, &sid);
	if (!ret)
		ret = SYNC(q, ar_submit_noop(q, sid, 0));
	return pos(ret);
}

/* A buffer in the data area for [p, p+len): p itself if it is there,
 * else a temporary copy (copy_in) that the caller frees. */
static float *stage(struct ar_queue *q, const float *p, uint64_t len,
		    bool copy_in, bool *tmp)
{
	uint64_t off;
	float *t;

	*tmp = false;
	if (ar__in_area(q->link, p, len, &off))
		return (float *)p;
	t = ar_buf_alloc(q, len);
	if (!t)
		return NULL;
	if (copy_in)
		memcpy(t, p, len);
	*tmp = true;
	return t;
}

static uint64_t mat_bytes(int64_t rows, int64_t cols, int64_t ld)
{
	if (rows < 1 || cols < 1 || ld < cols || rows > INT32_MAX || ld > INT32_MAX)
		return 0;
	return ((uint64_t)(rows - 1) * (uint64_t)ld + (uint64_t)cols) * sizeof(float);
}

AR_VISIBLE int vaccel_sgemm(struct vaccel_session *sess, int64_t m, int64_t n,
			    int64_t k, float alpha, float *a, int64_t lda,
			    float *b, int64_t ldb, float beta, float *c,
			    int64_t ldc)
{
	uint64_t na = mat_bytes(m, k, lda), nb = mat_bytes(k, n, ldb),
		 nc = mat_bytes(m, n, ldc);
	struct ar_sgemm s = { .m = m, .n = n, .k = k, .lda = lda, .ldb = ldb,
			      .ldc = ldc, .alpha = alpha, .beta = beta };
	bool ta = false, tb = false, tc = false;
	struct ar_queue *q;
	uint32_t sid;
	int ret;

	if (!sess || !a || !b || !c || !na || !nb || !nc)
		return VACCEL_EINVAL;
	ret = op_begin(sess, &q, &sid);
	if (ret)
		return pos(ret);
	s.a = stage(q, a, na, true, &ta);
	s.b = stage(q, b, nb, true, &tb);
	/* C is read too unless beta is 0. */
	s.c = stage(q, c, nc, beta != 0.0f, &tc);
	if (!s.a || !s.b || !s.c) {
		ret = -ENOMEM;
		goto out;
	}
	ret = SYNC(q, ar_submit_sgemm(q, sid, &s, 0));
	if (!ret && tc)
		memcpy(c, s.c, nc);
out:
	if (ta)
		ar_buf_free(q, (void *)s.a);
	if (tb)
		ar_buf_free(q, (void *)s.b);
	if (tc)
		ar_buf_free(q, s.c);
	return pos(ret);
}

/* An image op: a large image is staged through the data area. */
static int image_op(struct vaccel_session *sess, uint32_t op, const void *img,
		    size_t len_img, unsigned char *out_text, size_t len_text,
		    unsigned char *out_name, size_t len_name)
{
	struct ar_queue *q;
	uint32_t sid;
	const void *src = img;
	bool tmp = false;
	int ret;

	if (!sess || (!img && len_img))
		return VACCEL_EINVAL;
	ret = op_begin(sess, &q, &sid);
	if (ret)
		return pos(ret);
	if (len_img > INLINE_MAX) {
		src = stage(q, img, len_img, true, &tmp);
		if (!src)
			return VACCEL_ENOMEM;
	}
	ret = SYNC(q, ar_submit_image(q, sid, op, src, len_img,
				      out_text, len_text, out_name, len_name, 0));
	if (tmp)
		ar_buf_free(q, (void *)src);
	return pos(ret);
}

AR_VISIBLE int vaccel_image_classification(struct vaccel_session *sess,
					   const void *img, unsigned char *out_text,
					   unsigned char *out_imgname, size_t len_img,
					   size_t len_out_text, size_t len_out_imgname)
{
	return image_op(sess, AR_OP_IMAGE_CLASSIFY, img, len_img, out_text,
			len_out_text, out_imgname, len_out_imgname);
}

AR_VISIBLE int vaccel_image_detection(struct vaccel_session *sess, const void *img,
				      unsigned char *out_imgname, size_t len_img,
				      size_t len_out_imgname)
{
	return image_op(sess, AR_OP_IMAGE_DETECT, img, len_img, NULL, 0,
			out_imgname, len_out_imgname);
}

AR_VISIBLE int vaccel_image_segmentation(struct vaccel_session *sess, const void *img,
					 unsigned char *out_imgname, size_t len_img,
					 size_t len_out_imgname)
{
	return image_op(sess, AR_OP_IMAGE_SEGMENT, img, len_img, NULL, 0,
			out_imgname, len_out_imgname);
}

AR_VISIBLE int vaccel_image_pose(struct vaccel_session *sess, const void *img,
				 unsigned char *out_imgname, size_t len_img,
				 size_t len_out_imgname)
{
	return image_op(sess, AR_OP_IMAGE_POSE, img, len_img, NULL, 0,
			out_imgname, len_out_imgname);
}

AR_VISIBLE int vaccel_image_depth(struct vaccel_session *sess, const void *img,
				  unsigned char *out_imgname, size_t len_img,
				  size_t len_out_imgname)
{
	return image_op(sess, AR_OP_IMAGE_DEPTH, img, len_img, NULL, 0,
			out_imgname, len_out_imgname);
}

/* Generic ops: vaccel_args as native ones. */
static int generic(struct vaccel_session *sess, uint32_t op, const char *lib,
		   const char *sym, const struct vaccel_arg *read, size_t nr_read,
		   const struct vaccel_arg *write, size_t nr_write)
{
	struct ar_arg r[AR_WIRE_MAX_ARGS], w[AR_WIRE_MAX_ARGS];
	struct ar_queue *q;
	uint32_t sid;
	int ret;

	if (!sess || nr_read > AR_WIRE_MAX_ARGS || nr_write > AR_WIRE_MAX_ARGS ||
	    (nr_read && !read) || (nr_write && !write))
		return VACCEL_EINVAL;
	for (size_t i = 0; i < nr_read; i++)
		r[i] = (struct ar_arg){ read[i].buf, read[i].size };
	for (size_t i = 0; i < nr_write; i++)
		w[i] = (struct ar_arg){ write[i].buf, write[i].size };
	ret = op_begin(sess, &q, &sid);
	if (!ret)
		ret = SYNC(q, ar_submit_generic(q, sid, op, lib, sym,
						r, (uint32_t)nr_read, w,
						(uint32_t)nr_write, 0));
	return pos(ret);
}

AR_VISIBLE int vaccel_exec(struct vaccel_session *sess, const char *library,
			   const char *fn_symbol, struct vaccel_arg *read,
			   size_t nr_read, struct vaccel_arg *write, size_t nr_write)
{
	if (!library || !fn_symbol)
		return VACCEL_EINVAL;
	return generic(sess, AR_OP_EXEC, library, fn_symbol, read, nr_read,
		       write, nr_write);
}

AR_VISIBLE int vaccel_exec_with_resource(struct vaccel_session *sess,
					 struct vaccel_resource *resource,
					 const char *fn_symbol, struct vaccel_arg *read,
					 size_t nr_read, struct vaccel_arg *write,
					 size_t nr_write)
{
	if (!resource || !fn_symbol || !resource->nr_paths)
		return VACCEL_EINVAL;
	return generic(sess, AR_OP_EXEC_WITH_RESOURCE, resource->paths[0],
		       fn_symbol, read, nr_read, write, nr_write);
}

/* Model ops: the model's path (or name) travels as the library string. */
static const char *res_name(const struct vaccel_resource *r)
{
	return r->nr_paths ? r->paths[0] : NULL;
}

AR_VISIBLE int vaccel_torch_model_load(struct vaccel_session *sess,
				       struct vaccel_resource *model)
{
	if (!model)
		return VACCEL_EINVAL;
	return generic(sess, AR_OP_TORCH_JITLOAD_FORWARD, res_name(model), "load",
		       NULL, 0, NULL, 0);
}

AR_VISIBLE int vaccel_torch_model_run(struct vaccel_session *sess,
				      struct vaccel_resource *model,
				      const struct vaccel_torch_buffer *run_options,
				      struct vaccel_torch_tensor *const *in, int nr_read,
				      struct vaccel_torch_tensor **out, int nr_write)
{
	struct vaccel_arg r[AR_WIRE_MAX_ARGS], w[AR_WIRE_MAX_ARGS];

	(void)run_options;
	if (!model || nr_read < 0 || nr_write < 0 ||
	    (unsigned)nr_read > AR_WIRE_MAX_ARGS || (unsigned)nr_write > AR_WIRE_MAX_ARGS)
		return VACCEL_EINVAL;
	for (int i = 0; i < nr_read; i++)
		r[i] = (struct vaccel_arg){ .buf = in[i]->data, .size = in[i]->size };
	for (int i = 0; i < nr_write; i++)
		w[i] = (struct vaccel_arg){ .buf = out[i]->data, .size = out[i]->size };
	return generic(sess, AR_OP_TORCH_JITLOAD_FORWARD, res_name(model), "run",
		       r, (size_t)nr_read, w, (size_t)nr_write);
}

/* A model op with no arguments but the model's name. */
static int model_op(struct vaccel_session *sess, const struct vaccel_resource *model,
		    uint32_t op)
{
	if (!model)
		return VACCEL_EINVAL;
	return generic(sess, op, res_name(model), NULL, NULL, 0, NULL, 0);
}

AR_VISIBLE int vaccel_tf_model_load(struct vaccel_session *sess,
				    struct vaccel_resource *model,
				    struct vaccel_tf_status *status)
{
	(void)status;
	return model_op(sess, model, AR_OP_TF_SESSION_LOAD);
}

AR_VISIBLE int vaccel_tf_model_unload(struct vaccel_session *sess,
				      struct vaccel_resource *model,
				    struct vaccel_tf_status *status)
{
	(void)status;
	return model_op(sess, model, AR_OP_TF_SESSION_DELETE);
}

AR_VISIBLE int vaccel_tflite_model_load(struct vaccel_session *sess,
					struct vaccel_resource *model)
{
	return model_op(sess, model, AR_OP_TFLITE_SESSION_LOAD);
}

AR_VISIBLE int vaccel_tflite_model_unload(struct vaccel_session *sess,
					  struct vaccel_resource *model)
{
	return model_op(sess, model, AR_OP_TFLITE_SESSION_DELETE);
}

/*
 * genop: read[0] holds the op type as a uint8; the rest are that op's
 * arguments in the order of its function's parameters:
 *   noop:            (none)
 *   blas_sgemm:      read m, n, k (int64), alpha (float), a, lda (int64),
 *                    b, ldb (int64), beta (float), ldc (int64); write c
 *   image_classify:  read img; write out_text, out_imgname
 *   image_detect..depth: read img; write out_imgname
 *   exec:            read library, symbol (strings), args...; write args...
 *   others:          read and write args, passed on as they are
 */
static bool scalar(const struct vaccel_arg *a, void *dst, size_t n)
{
	if (!a->buf || a->size != n)
		return false;
	memcpy(dst, a->buf, n);
	return true;
}

AR_VISIBLE int vaccel_genop(struct vaccel_session *sess, struct vaccel_arg *read,
			    int nr_read, struct vaccel_arg *write, int nr_write)
{
	uint8_t op;

	if (!sess || !read || nr_read < 1 || nr_write < 0 || (nr_write && !write) ||
	    !scalar(&read[0], &op, 1))
		return VACCEL_EINVAL;
	switch (op) {
	case VACCEL_OP_NOOP:
		return vaccel_noop(sess);
	case VACCEL_OP_BLAS_SGEMM: {
		int64_t m, n, k, lda, ldb, ldc;
		float alpha, beta;

		if (nr_read != 11 || nr_write != 1 || !scalar(&read[1], &m, 8) ||
		    !scalar(&read[2], &n, 8) || !scalar(&read[3], &k, 8) ||
		    !scalar(&read[4], &alpha, 4) || !scalar(&read[6], &lda, 8) ||
		    !scalar(&read[8], &ldb, 8) || !scalar(&read[9], &beta, 4) ||
		    !scalar(&read[10], &ldc, 8))
			return VACCEL_EINVAL;
		if ((uint64_t)read[5].size < mat_bytes(m, k, lda) ||
		    (uint64_t)read[7].size < mat_bytes(k, n, ldb) ||
		    (uint64_t)write[0].size < mat_bytes(m, n, ldc))
			return VACCEL_EINVAL;
		return vaccel_sgemm(sess, m, n, k, alpha, read[5].buf, lda,
				    read[7].buf, ldb, beta, write[0].buf, ldc);
	}
	case VACCEL_OP_IMAGE_CLASSIFY:
		if (nr_read != 2 || nr_write != 2)
			return VACCEL_EINVAL;
		return image_op(sess, op, read[1].buf, read[1].size, write[0].buf,
				write[0].size, write[1].buf, write[1].size);
	case VACCEL_OP_IMAGE_DETECT:
	case VACCEL_OP_IMAGE_SEGMENT:
	case VACCEL_OP_IMAGE_POSE:
	case VACCEL_OP_IMAGE_DEPTH:
		if (nr_read != 2 || nr_write != 1)
			return VACCEL_EINVAL;
		return image_op(sess, op, read[1].buf, read[1].size, NULL, 0,
				write[0].buf, write[0].size);
	case VACCEL_OP_EXEC:
		if (nr_read < 3 || !read[1].buf || !read[2].buf ||
		    !memchr(read[1].buf, 0, read[1].size) ||
		    !memchr(read[2].buf, 0, read[2].size))
			return VACCEL_EINVAL;
		return vaccel_exec(sess, read[1].buf, read[2].buf, read + 3,
				   (size_t)nr_read - 3, write, (size_t)nr_write);
	default:
		if (op >= VACCEL_OP_MAX)
			return VACCEL_EINVAL;
		return generic(sess, op, NULL, NULL, read + 1, (size_t)nr_read - 1,
			       write, (size_t)nr_write);
	}
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Plugins written for upstream vAccel, loaded into accelringd.
 *
 * Such a plugin defines VACCEL_PLUGIN(.name, .version, .vaccel_version,
 * .type, .init, .fini) (<vaccel/plugin.h>): an exported pointer
 * vaccel_plugin to its hidden struct vaccel_plugin vaccel_this_plugin,
 * whose info holds what it declared. Its init registers the ops it
 * implements with vaccel_plugin_register_ops(), each struct vaccel_op a
 * function with the signature of the op's vaccel_* function. plugin.c
 * finds the symbol when there is no ar_plugin; here the descriptor is
 * checked, init runs with this thread's "registering" context pointing at
 * the plugin's op table (a registration outside it is refused), and each op
 * the broker can serve gets a route through an adapter, which turns the
 * validated struct ar_op into the vAccel call.
 *
 * Symbols. The plugin references vaccel_plugin_register_ops, undefined:
 * the broker exports that one function (vplugin.dynlist, its only addition
 * to the executable's dynamic symbols), and dlopen(RTLD_NOW) binds the
 * plugin to it. A plugin that also calls other libvaccel functions
 * (vaccel_arg_array_*, the vaccel_info() macros' slog_display...) links
 * -lvaccel, so its load brings our libvaccel.so.0 into the broker too:
 * that library's constructors may only read the environment and must
 * never connect anywhere (they do nothing else; the first op connects, and
 * the broker never calls one). Symbol lookup searches the executable
 * before the plugin's own dependencies, so the plugin's (and libvaccel's)
 * vaccel_plugin_register_ops is still the broker's, not libvaccel's client
 * one, which refuses.
 *
 * Trust. A vAccel plugin is trusted code the host's admin configured, but
 * what it is called with comes from tenants: every vaccel_arg is built
 * from the ar_bufs the broker validated (inside the tenant's data area or
 * the broker's private copy), every length a plugin is given is one those
 * buffers have, and ops whose upstream signature implies a size (minmax's
 * ndata, the fpga ops' output arrays) are refused when the buffers are
 * shorter. A typed array or scalar whose address is not aligned for its
 * type (a tenant chooses data-area offsets) reaches the plugin as an
 * aligned copy, up to 64 KiB (VARG_COPY_MAX; larger is EINVAL). A descriptor that cannot be used (no name, no init, an op
 * out of range, a duplicate, a registration after init) is refused with a
 * log line, never followed.
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <accelring/optable.h>
#include <vaccel.h>

#include "internal.h"

/* Op numbers are upstream's on both sides: a route is indexed by either. */
#define SAME_OP_(NAME) \
	_Static_assert((int)AR_OP_##NAME == (int)VACCEL_OP_##NAME, "op " #NAME);
SAME_OP_(NOOP) SAME_OP_(EXEC) SAME_OP_(EXEC_WITH_RESOURCE)
SAME_OP_(IMAGE_CLASSIFY) SAME_OP_(IMAGE_DETECT) SAME_OP_(IMAGE_SEGMENT)
SAME_OP_(IMAGE_POSE) SAME_OP_(IMAGE_DEPTH) SAME_OP_(TF_MODEL_LOAD)
SAME_OP_(TF_MODEL_UNLOAD) SAME_OP_(TF_MODEL_RUN) SAME_OP_(TFLITE_MODEL_LOAD)
SAME_OP_(TFLITE_MODEL_UNLOAD) SAME_OP_(TFLITE_MODEL_RUN)
SAME_OP_(TORCH_MODEL_LOAD) SAME_OP_(TORCH_MODEL_RUN) SAME_OP_(TORCH_SGEMM)
SAME_OP_(BLAS_SGEMM) SAME_OP_(FPGA_ARRAYCOPY) SAME_OP_(FPGA_MMULT)
SAME_OP_(FPGA_PARALLEL) SAME_OP_(FPGA_VECTORADD) SAME_OP_(MINMAX)
SAME_OP_(OPENCV)
#undef SAME_OP_
_Static_assert((int)VACCEL_OP_MAX <= (int)AR_OP_MAX, "vAccel ops fit the routes");
_Static_assert(AR_OP_ARGS == AR_WIRE_MAX_ARGS, "Generic argument bound");

/* Turn op into the call of func, a vAccel plugin's function for it. */
typedef int (*vop_call_fn)(void *func, struct ar_op *op,
			   struct vaccel_session *sess);

struct ar_vop {
	void *func;			/* NULL: not registered */
	vop_call_fn call;		/* NULL: registered, not served */
	const struct ar_vplugin *vp;
	uint32_t type;
};

/*
 * One vAccel plugin. Written only by the loading thread, before the
 * workers start (they see it through thread creation); read-only after.
 */
struct ar_vplugin {
	struct vaccel_plugin *self;	/* the plugin's vaccel_this_plugin */
	const struct vaccel_plugin_info *info;
	struct ar_plugin desc;		/* what routing and the worker read */
	bool live;			/* init succeeded: fini at close */
	unsigned refused;		/* registrations refused during init */
	unsigned nr_ops;		/* registered */
	struct ar_vop ops[VACCEL_OP_MAX];
};

/* The plugin whose init this thread is running, if any. */
static _Thread_local struct ar_vplugin *registering;

/* ---- adapters: struct ar_op to the vAccel call ---- */

/*
 * A Generic op's arguments as vaccel_args. An argument whose address is
 * not a multiple of the alignment its use needs is copied (malloc aligns
 * for any type); a write argument's copy goes back after the call.
 */
struct vargs {
	struct vaccel_arg r[AR_OP_ARGS], w[AR_OP_ARGS];
	void *tmp_r[AR_OP_ARGS], *tmp_w[AR_OP_ARGS];
	uint32_t nr, nw;
};

/* What a typed argument's address must be a multiple of: its element's
 * size (ar_arg_elem_size), 1 for raw, string, buffer and custom bytes. */
static size_t type_align(uint32_t type)
{
	uint32_t size = ar_arg_elem_size(type);

	return size ? size : 1;
}

/*
 * The most a misaligned argument is copied for: libvaccel stages large
 * arguments 64-byte aligned, so only small inline ones (4-byte aligned in
 * the message) are ever copied for an honest client. A tenant that
 * misaligns a large data-area argument on purpose would make the broker
 * allocate as much as its data area per op: refused.
 */
#define VARG_COPY_MAX (64u << 10)

static int varg_set(struct vaccel_arg *a, void **tmp, const struct ar_buf *b,
		    size_t align)
{
	*a = (struct vaccel_arg){ .buf = b->ptr, .size = (size_t)b->len,
				  .type = (vaccel_arg_type_t)b->type,
				  .custom_type_id = b->custom_id, .owned = false };
	if (!b->len || !((uintptr_t)b->ptr % align))
		return 0;
	if (b->len > VARG_COPY_MAX)
		return -EINVAL;
	*tmp = malloc((size_t)b->len);
	if (!*tmp)
		return -ENOMEM;
	memcpy(*tmp, b->ptr, (size_t)b->len);
	a->buf = *tmp;
	return 0;
}

static void vargs_done(struct vargs *va, const struct ar_op_generic *g)
{
	for (uint32_t i = 0; i < va->nr; i++)
		free(va->tmp_r[i]);
	for (uint32_t i = 0; i < va->nw; i++) {
		if (!va->tmp_w[i])
			continue;
		memcpy(g->write[i].ptr, va->tmp_w[i], (size_t)g->write[i].len);
		free(va->tmp_w[i]);
	}
}

/*
 * Build va from g, each argument aligned for its declared type, or (align
 * non-zero) for align, what the op's signature makes of it. Returns 0 or
 * -EINVAL / -ENOMEM (nothing left to free).
 */
static int vargs_build(struct vargs *va, const struct ar_op_generic *g,
		       size_t align)
{
	int ret = 0;

	memset(va, 0, sizeof(*va));
	if (g->nr_read > AR_OP_ARGS || g->nr_write > AR_OP_ARGS ||
	    (g->nr_read && !g->read) || (g->nr_write && !g->write))
		return -EINVAL;
	for (; va->nr < g->nr_read && !ret; va->nr++)
		ret = varg_set(&va->r[va->nr], &va->tmp_r[va->nr], &g->read[va->nr],
			       align ? align : type_align(g->read[va->nr].type));
	for (; va->nw < g->nr_write && !ret; va->nw++)
		ret = varg_set(&va->w[va->nw], &va->tmp_w[va->nw], &g->write[va->nw],
			       align ? align : type_align(g->write[va->nw].type));
	if (ret) {
		/* Nothing ran: no copy goes back. */
		for (uint32_t i = 0; i < va->nw; i++) {
			free(va->tmp_w[i]);
			va->tmp_w[i] = NULL;
		}
		vargs_done(va, g);
	}
	return ret;
}

typedef int (*noop_fn)(struct vaccel_session *);

static int call_noop(void *func, struct ar_op *op, struct vaccel_session *sess)
{
	(void)op;
	return ((noop_fn)func)(sess);
}

typedef int (*sgemm_fn)(struct vaccel_session *, int64_t, int64_t, int64_t,
			float, float *, int64_t, float *, int64_t, float,
			float *, int64_t);

/* Dimensions and spans were checked by the request parser. */
static int call_sgemm(void *func, struct ar_op *op, struct vaccel_session *sess)
{
	const struct ar_op_sgemm *s = &op->u.sgemm;

	return ((sgemm_fn)func)(sess, s->m, s->n, s->k, s->alpha, (float *)s->a,
				s->lda, (float *)s->b, s->ldb, s->beta, s->c,
				s->ldc);
}

typedef int (*classify_fn)(struct vaccel_session *, const void *,
			   unsigned char *, unsigned char *, size_t, size_t,
			   size_t);
typedef int (*image_fn)(struct vaccel_session *, const void *,
			unsigned char *, size_t, size_t);

/* An output not asked for is NULL with length 0. */
static size_t out_len(const struct ar_buf *b)
{
	return b->ptr ? (size_t)b->len : 0;
}

static int call_classify(void *func, struct ar_op *op, struct vaccel_session *sess)
{
	const struct ar_op_image *im = &op->u.image;

	return ((classify_fn)func)(sess, im->img.ptr, im->out_text.ptr,
				   im->out_imgname.ptr, (size_t)im->img.len,
				   out_len(&im->out_text), out_len(&im->out_imgname));
}

static int call_image(void *func, struct ar_op *op, struct vaccel_session *sess)
{
	const struct ar_op_image *im = &op->u.image;

	return ((image_fn)func)(sess, im->img.ptr, im->out_imgname.ptr,
				(size_t)im->img.len, out_len(&im->out_imgname));
}

typedef int (*exec_fn)(struct vaccel_session *, const char *, const char *,
		       struct vaccel_arg *, size_t, struct vaccel_arg *, size_t);
typedef int (*unpack_fn)(struct vaccel_session *, struct vaccel_arg *, int,
			 struct vaccel_arg *, int);

static int call_exec(void *func, struct ar_op *op, struct vaccel_session *sess)
{
	const struct ar_op_generic *g = &op->u.generic;
	struct vargs va;
	int ret;

	if (!g->library || !g->symbol)
		return -EINVAL;
	if ((ret = vargs_build(&va, g, 0)))
		return ret;
	ret = ((exec_fn)func)(sess, g->library, g->symbol, va.r, va.nr, va.w, va.nw);
	vargs_done(&va, g);
	return ret;
}

/*
 * A shipped resource (broker/resource.c) as the struct vaccel_resource an
 * upstream plugin takes: one MAPPED blob per file, its bytes the broker's
 * read-only mapping, its path /proc/self/fd/N where the file has one (a
 * single-file resource), else NULL; paths the same. Lives for the call.
 */
struct vres {
	struct vaccel_resource res;
	struct vaccel_blob blob[AR_WIRE_MAX_FILES];
	struct vaccel_blob *blobs[AR_WIRE_MAX_FILES];
	char *paths[AR_WIRE_MAX_FILES];
};

static int vres_build(struct vres *v, const struct ar_resource *r, uint32_t type)
{
	if (!r || r->type != type || !r->nr_files || r->nr_files > AR_WIRE_MAX_FILES)
		return -EINVAL;
	memset(&v->res, 0, sizeof(v->res));
	v->res.id = (vaccel_id_t)r->id;
	v->res.remote_id = (vaccel_id_t)r->id;
	v->res.type = (vaccel_resource_type_t)r->type;
	v->res.path_type = VACCEL_PATH_LOCAL_FILE;
	for (uint32_t i = 0; i < r->nr_files; i++) {
		const struct ar_resource_file *f = &r->files[i];

		v->blob[i] = (struct vaccel_blob){ .type = VACCEL_BLOB_MAPPED,
						   .name = (char *)f->name,
						   .path = (char *)f->path,
						   .data = (uint8_t *)f->data,
						   .size = (size_t)f->size };
		v->blobs[i] = &v->blob[i];
		v->paths[i] = (char *)f->path;
	}
	v->res.blobs = v->blobs;
	v->res.nr_blobs = r->nr_files;
	v->res.paths = v->paths;
	v->res.nr_paths = r->nr_files;
	v->res.entry = (struct vaccel_list_entry)LIST_ENTRY_INIT(v->res.entry);
	v->res.sessions = (struct vaccel_list_entry)LIST_ENTRY_INIT(v->res.sessions);
	pthread_mutex_init(&v->res.sessions_lock, NULL);
	return 0;
}

static void vres_done(struct vres *v)
{
	pthread_mutex_destroy(&v->res.sessions_lock);
}

typedef int (*exec_res_fn)(struct vaccel_session *, struct vaccel_resource *, const char *,
			   struct vaccel_arg *, size_t, struct vaccel_arg *, size_t);

static int call_exec_res(void *func, struct ar_op *op, struct vaccel_session *sess)
{
	const struct ar_op_generic *g = &op->u.generic;
	struct vargs va;
	struct vres v;
	int ret;

	if (!g->symbol || vres_build(&v, g->resource, VACCEL_RESOURCE_LIB))
		return -EINVAL;
	if (!(ret = vargs_build(&va, g, 0))) {
		ret = ((exec_res_fn)func)(sess, &v.res, g->symbol, va.r, va.nr, va.w, va.nw);
		vargs_done(&va, g);
	}
	vres_done(&v);
	return ret;
}

typedef int (*model_fn)(struct vaccel_session *, struct vaccel_resource *);

/* torch_model_load, tflite_model_load / unload: (session, model). */
static int call_model(void *func, struct ar_op *op, struct vaccel_session *sess)
{
	const struct ar_op_generic *g = &op->u.generic;
	struct vres v;
	int ret;

	if (g->nr_read || g->nr_write || vres_build(&v, g->resource, VACCEL_RESOURCE_MODEL))
		return -EINVAL;
	ret = ((model_fn)func)(sess, &v.res);
	vres_done(&v);
	return ret;
}

static int call_opencv(void *func, struct ar_op *op, struct vaccel_session *sess)
{
	const struct ar_op_generic *g = &op->u.generic;
	struct vargs va;
	int ret;

	if ((ret = vargs_build(&va, g, 0)))
		return ret;
	ret = ((unpack_fn)func)(sess, va.r, (int)va.nr, va.w, (int)va.nw);
	vargs_done(&va, g);
	return ret;
}

/* A scalar int argument (its bytes, whatever its declared type). */
static int int_arg(const struct ar_buf *b, int *v)
{
	if (b->len != sizeof(*v))
		return -EINVAL;
	memcpy(v, b->ptr, sizeof(*v));
	return 0;
}

typedef int (*minmax_fn)(struct vaccel_session *, const double *, int, int,
			 int, double *, double *, double *);

/* indata and outdata hold ndata doubles, min and max one each. */
static int call_minmax(void *func, struct ar_op *op, struct vaccel_session *sess)
{
	const struct ar_op_generic *g = &op->u.generic;
	int ndata, low, high, ret;
	struct vargs va;
	uint64_t need;

	if (g->nr_read != 4 || g->nr_write != 3 || int_arg(&g->read[1], &ndata) ||
	    int_arg(&g->read[2], &low) || int_arg(&g->read[3], &high) || ndata <= 0)
		return -EINVAL;
	need = (uint64_t)ndata * sizeof(double);
	if (g->read[0].len < need || g->write[0].len < need ||
	    g->write[1].len < sizeof(double) || g->write[2].len < sizeof(double))
		return -EINVAL;
	if ((ret = vargs_build(&va, g, _Alignof(double))))
		return ret;
	ret = ((minmax_fn)func)(sess, va.r[0].buf, ndata, low, high, va.w[0].buf,
				va.w[1].buf, va.w[2].buf);
	vargs_done(&va, g);
	return ret;
}

typedef int (*arraycopy_fn)(struct vaccel_session *, int *, int *, size_t);
typedef int (*fpga3_fn)(struct vaccel_session *, float *, float *, float *, size_t);
typedef int (*parallel_fn)(struct vaccel_session *, float *, float *, float *,
			   float *, size_t);
typedef int (*vadd_fn)(struct vaccel_session *, float *, float *, float *,
		       size_t, size_t);

/*
 * The fpga ops: read and write counts as the op table bounds them; every
 * output holds as many bytes as out_min, and (same_b) b as many as a, as
 * the one length the plugin is told of says.
 */
static int fpga_args(struct vargs *va, const struct ar_op_generic *g,
		     uint32_t nr, uint32_t nw, uint64_t out_min, bool same_b)
{
	if (g->nr_read != nr || g->nr_write != nw ||
	    (same_b && g->read[1].len < g->read[0].len))
		return -EINVAL;
	for (uint32_t i = 0; i < nw; i++)
		if (g->write[i].len < out_min)
			return -EINVAL;
	/* int and float are both 4 bytes. */
	return vargs_build(va, g, sizeof(float));
}

static int call_fpga(void *func, struct ar_op *op, struct vaccel_session *sess)
{
	const struct ar_op_generic *g = &op->u.generic;
	uint64_t la = g->nr_read ? g->read[0].len : 0;
	uint64_t lb = g->nr_read > 1 ? g->read[1].len : 0;
	struct vargs va;
	int ret;

	switch (op->op) {
	case AR_OP_FPGA_ARRAYCOPY:
		if ((ret = fpga_args(&va, g, 1, 1, la, false)))
			return ret;
		ret = ((arraycopy_fn)func)(sess, va.r[0].buf, va.w[0].buf,
					   (size_t)la / sizeof(int));
		break;
	case AR_OP_FPGA_MMULT:
		if ((ret = fpga_args(&va, g, 2, 1, la, true)))
			return ret;
		ret = ((fpga3_fn)func)(sess, va.r[0].buf, va.r[1].buf, va.w[0].buf,
				       (size_t)la / sizeof(float));
		break;
	case AR_OP_FPGA_PARALLEL:
		if ((ret = fpga_args(&va, g, 2, 2, la, true)))
			return ret;
		ret = ((parallel_fn)func)(sess, va.r[0].buf, va.r[1].buf, va.w[0].buf,
					  va.w[1].buf, (size_t)la / sizeof(float));
		break;
	default:	/* AR_OP_FPGA_VECTORADD: C as long as the longer input */
		if ((ret = fpga_args(&va, g, 2, 1, la > lb ? la : lb, false)))
			return ret;
		ret = ((vadd_fn)func)(sess, va.r[0].buf, va.r[1].buf, va.w[0].buf,
				      (size_t)la / sizeof(float),
				      (size_t)lb / sizeof(float));
		break;
	}
	vargs_done(&va, g);
	return ret;
}

#define NEEDS_STATUS "it takes a vaccel_tf_status, which the broker does not build yet"
#define NEEDS_TENSOR "it takes tensors, which the broker does not build yet"

/* Every vAccel op: its adapter, or why the broker does not serve it. */
static const struct {
	vop_call_fn call;
	const char *why;
} adapters[VACCEL_OP_MAX] = {
	[VACCEL_OP_NOOP] = { call_noop, NULL },
	[VACCEL_OP_EXEC] = { call_exec, NULL },
	[VACCEL_OP_EXEC_WITH_RESOURCE] = { call_exec_res, NULL },
	[VACCEL_OP_IMAGE_CLASSIFY] = { call_classify, NULL },
	[VACCEL_OP_IMAGE_DETECT] = { call_image, NULL },
	[VACCEL_OP_IMAGE_SEGMENT] = { call_image, NULL },
	[VACCEL_OP_IMAGE_POSE] = { call_image, NULL },
	[VACCEL_OP_IMAGE_DEPTH] = { call_image, NULL },
	[VACCEL_OP_TF_MODEL_LOAD] = { NULL, NEEDS_STATUS },
	[VACCEL_OP_TF_MODEL_UNLOAD] = { NULL, NEEDS_STATUS },
	[VACCEL_OP_TF_MODEL_RUN] = { NULL, NEEDS_TENSOR },
	[VACCEL_OP_TFLITE_MODEL_LOAD] = { call_model, NULL },
	[VACCEL_OP_TFLITE_MODEL_UNLOAD] = { call_model, NULL },
	[VACCEL_OP_TFLITE_MODEL_RUN] = { NULL, NEEDS_TENSOR },
	[VACCEL_OP_TORCH_MODEL_LOAD] = { call_model, NULL },
	[VACCEL_OP_TORCH_MODEL_RUN] = { NULL, NEEDS_TENSOR },
	[VACCEL_OP_TORCH_SGEMM] = { NULL, NEEDS_TENSOR },
	[VACCEL_OP_BLAS_SGEMM] = { call_sgemm, NULL },
	[VACCEL_OP_FPGA_ARRAYCOPY] = { call_fpga, NULL },
	[VACCEL_OP_FPGA_MMULT] = { call_fpga, NULL },
	[VACCEL_OP_FPGA_PARALLEL] = { call_fpga, NULL },
	[VACCEL_OP_FPGA_VECTORADD] = { call_fpga, NULL },
	[VACCEL_OP_MINMAX] = { call_minmax, NULL },
	[VACCEL_OP_OPENCV] = { call_opencv, NULL },
};

/*
 * The session an op runs in, as the plugin sees it: the broker's id and
 * the session's hints, the plugin itself, and nothing else (no rundir, no
 * resources: empty lists, so that list walks find nothing).
 */
static void session_init(struct vaccel_session *s, const struct ar_op *op,
			 struct vaccel_plugin *plugin)
{
	/* Zero is PTHREAD_MUTEX_INITIALIZER for resources_lock. */
	memset(s, 0, sizeof(*s));
	s->id = op->session;
	s->hint = op->session_flags;
	s->entry.next = s->entry.prev = &s->entry;
	for (int i = 0; i < VACCEL_RESOURCE_MAX; i++)
		s->resources[i].next = s->resources[i].prev = &s->resources[i];
	s->plugin = plugin;
}

int ar__vplugin_run(const struct ar_vop *vop, struct ar_op *op)
{
	struct vaccel_session sess;	/* 4 KiB; worker stacks are 8 MiB */
	int ret;

	session_init(&sess, op, vop->vp->self);
	ret = vop->call(vop->func, op, &sess);
	/* vAccel's 0 or positive VACCEL_E* (or an adapter's -errno). */
	if (ret > 0 && ret < 4096)
		return -ret;
	if (ret <= 0 && ret > -4096)
		return ret;
	ar_debug("vAccel plugin %s: %s returned %d, not a VACCEL_E* code",
		 vop->vp->desc.name, ar_op_name(vop->type), ret);
	return -EPROTO;
}

/* ---- registration ---- */

static const char *op_name(uint32_t type)
{
	const char *n = ar_op_name(type);

	return n ? n : "?";
}

/* Check one registration of vp. Returns 0 or a VACCEL_E* code, logged. */
static int check_op(const struct ar_vplugin *vp, const struct vaccel_op *ops,
		    size_t i)
{
	uint32_t type = (uint32_t)ops[i].type;
	const char *name = vp->desc.name;

	if (type >= VACCEL_OP_MAX) {
		ar_err("vAccel plugin %s: registers op type %u, past the last op (%u): refused",
		       name, type, VACCEL_OP_MAX - 1);
		return VACCEL_EINVAL;
	}
	if (!ops[i].func) {
		ar_err("vAccel plugin %s: registers %s without a function: refused",
		       name, op_name(type));
		return VACCEL_EINVAL;
	}
	if (ops[i].owner != vp->self) {
		ar_err("vAccel plugin %s: registers %s for another plugin (owner is not "
		       "its vaccel_this_plugin): refused", name, op_name(type));
		return VACCEL_EINVAL;
	}
	if (vp->ops[type].func) {
		ar_err("vAccel plugin %s: registers %s twice: refused", name, op_name(type));
		return VACCEL_EEXIST;
	}
	for (size_t j = 0; j < i; j++) {
		if ((uint32_t)ops[j].type == type) {
			ar_err("vAccel plugin %s: registers %s twice: refused", name,
			       op_name(type));
			return VACCEL_EEXIST;
		}
	}
	return 0;
}

/*
 * What VACCEL_PLUGIN's init calls: the broker's own (vplugin.dynlist
 * exports it). All of ops or none are registered. Returns 0, or
 * VACCEL_EINVAL (no ops, too many, an unknown type, no function, another
 * plugin's owner), VACCEL_EEXIST (an op registered already), VACCEL_EPERM
 * (not inside a plugin's init on the loading thread).
 */
__attribute__((visibility("default"))) int
vaccel_plugin_register_ops(struct vaccel_op *ops, size_t nr_ops)
{
	struct ar_vplugin *vp = registering;
	int ret;

	if (!vp) {
		ar_err("vaccel_plugin_register_ops() outside a plugin's init (after it "
		       "returned, or on another thread): refused; a vAccel plugin "
		       "registers its ops in init");
		return VACCEL_EPERM;
	}
	if (!ops || !nr_ops || nr_ops > VACCEL_OP_MAX) {
		ar_err("vAccel plugin %s: registers %zu ops%s: refused", vp->desc.name,
		       nr_ops, ops ? "" : " from NULL");
		vp->refused++;
		return VACCEL_EINVAL;
	}
	for (size_t i = 0; i < nr_ops; i++) {
		if ((ret = check_op(vp, ops, i))) {
			vp->refused++;
			return ret;
		}
	}
	for (size_t i = 0; i < nr_ops; i++) {
		uint32_t type = (uint32_t)ops[i].type;

		vp->ops[type] = (struct ar_vop){ .func = ops[i].func,
						 .call = adapters[type].call,
						 .vp = vp, .type = type };
		/* As upstream keeps it, for a plugin that looks. */
		vp->self->ops[type] = &ops[i];
		vp->nr_ops++;
		ar_debug("vAccel plugin %s: registered %s", vp->desc.name, op_name(type));
	}
	return VACCEL_OK;
}

/* ---- loading ---- */

/* Whether [p, p + len) lies in the object whose base is base. */
static bool in_object(const void *p, size_t len, const void *base)
{
	Dl_info a, b;

	return p && dladdr(p, &a) && a.dli_fbase == base &&
	       dladdr((const char *)p + len - 1, &b) && b.dli_fbase == base;
}

static bool env_true(const char *name)
{
	const char *v = getenv(name);

	return v && (!strcmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes"));
}

static int parse_version(const char *s, int v[3])
{
	if (*s == 'v')
		s++;
	return sscanf(s, "%d.%d.%d", &v[0], &v[1], &v[2]) == 3 ? 0 : -EINVAL;
}

/* Upstream's rule: the plugin's vaccel_version must have our major; a
 * different minor or patch is a warning. VACCEL_VERSION_IGNORE skips it. */
static int check_version(const char *name, const char *path, const char *pv)
{
	int mine[3], theirs[3];

	if (env_true("VACCEL_VERSION_IGNORE"))
		return 0;
	if (!pv || parse_version(pv, theirs)) {
		ar_err("vAccel plugin %s (%s): %s vaccel_version: refused "
		       "(VACCEL_VERSION_IGNORE=1 skips the check)",
		       name, path, pv ? "cannot parse its" : "has no");
		return -EINVAL;
	}
	if (parse_version(VACCEL_VERSION, mine))
		return -EINVAL;
	if (theirs[0] != mine[0]) {
		ar_err("vAccel plugin %s (%s): built for vAccel %s, incompatible with %s: refused",
		       name, path, pv, VACCEL_VERSION);
		return -EINVAL;
	}
	if (strcmp(pv, VACCEL_VERSION))
		ar_warn("vAccel plugin %s (%s): built for vAccel %s, may be incompatible with %s",
			name, path, pv, VACCEL_VERSION);
	return 0;
}

int ar__vplugin_open(struct ar_loaded_plugin *lp, const char *name,
		     const void *sym)
{
	const struct vaccel_plugin_info *info;
	struct vaccel_plugin *self;
	struct ar_vplugin *vp;
	Dl_info di;
	int ret;

	/* The descriptor and its info are the plugin's own statics: an
	 * address elsewhere is a plugin built against another layout of
	 * struct vaccel_plugin (or no plugin at all), not one to follow. */
	if (!dladdr(sym, &di) || !in_object(sym, sizeof(void *), di.dli_fbase) ||
	    !(self = *(struct vaccel_plugin *const *)sym) ||
	    !in_object(self, sizeof(*self), di.dli_fbase) ||
	    !(info = self->info) || !in_object(info, sizeof(*info), di.dli_fbase)) {
		ar_err("plugin %s (%s): its vaccel_plugin does not point to a "
		       "struct vaccel_plugin with info of its own: refused "
		       "(built against another vAccel's <vaccel/plugin.h>?)",
		       name, lp->path);
		return -EINVAL;
	}
	if (!info->name || !info->version) {
		ar_err("vAccel plugin %s (%s): descriptor lacks a %s: refused",
		       name, lp->path, info->name ? "version" : "name");
		return -EINVAL;
	}
	if (!info->init || !info->fini) {
		ar_err("vAccel plugin %s (%s): descriptor lacks an %s function: refused",
		       info->name, lp->path, info->init ? "fini" : "init");
		return -EINVAL;
	}
	if ((ret = check_version(info->name, lp->path, info->vaccel_version)))
		return ret;
	vp = calloc(1, sizeof(*vp));
	if (!vp) {
		ar_err("vAccel plugin %s: out of memory", info->name);
		return -ENOMEM;
	}
	vp->self = self;
	vp->info = info;
	vp->desc = (struct ar_plugin){ .abi_version = AR_PLUGIN_ABI_VERSION,
				       .size = sizeof(struct ar_plugin),
				       .name = info->name, .version = info->version,
				       .type = (uint32_t)info->type };
	lp->vp = vp;
	lp->desc = &vp->desc;
	return 0;
}

/* One info line per reason: the ops vp registered that get no route. */
static void log_unserved(const struct ar_vplugin *vp)
{
	const char *reasons[] = { NEEDS_STATUS, NEEDS_TENSOR };

	for (size_t r = 0; r < sizeof(reasons) / sizeof(reasons[0]); r++) {
		char list[512];
		size_t n = 0;

		list[0] = '\0';
		for (uint32_t t = 0; t < VACCEL_OP_MAX; t++) {
			int k;

			if (!vp->ops[t].func || adapters[t].why != reasons[r])
				continue;
			k = snprintf(list + n, sizeof(list) - n, "%s%s", n ? ", " : "",
				     op_name(t));
			if (k > 0)
				n = n + (size_t)k < sizeof(list) ? n + (size_t)k : sizeof(list) - 1;
		}
		if (n)
			ar_info("vAccel plugin %s: not serving %s (%s): clients get ENOTSUP",
				vp->desc.name, list, reasons[r]);
	}
}

int ar__vplugin_init(struct ar_loaded_plugin *lp)
{
	struct ar_vplugin *vp = lp->vp;
	int ret;

	registering = vp;
	ret = vp->info->init();
	registering = NULL;
	if (ret || vp->refused) {
		if (ret)
			ar_err("vAccel plugin %s (%s): init failed: %s (%d)", vp->desc.name,
			       lp->path, strerror(ret < 0 ? -ret : ret), ret);
		if (vp->refused)
			ar_err("vAccel plugin %s (%s): %u registration%s refused: not loaded",
			       vp->desc.name, lp->path, vp->refused,
			       vp->refused == 1 ? "" : "s");
		/* Upstream unregisters a plugin whose init failed, which
		 * runs its fini. */
		vp->info->fini();
		if (ret > 0 && ret < 4096)
			return -ret;
		return ret < 0 && ret > -4096 ? ret : -EINVAL;
	}
	vp->live = true;
	vp->self->dl_handle = lp->dl;
	if (!vp->nr_ops)
		ar_warn("vAccel plugin %s (%s) registered no ops", vp->desc.name, lp->path);
	log_unserved(vp);
	return 0;
}

const struct ar_vop *ar__vplugin_served(const struct ar_loaded_plugin *lp,
					uint32_t op)
{
	const struct ar_vop *vop;

	if (!lp->vp || op >= VACCEL_OP_MAX)
		return NULL;
	vop = &lp->vp->ops[op];
	return vop->func && vop->call ? vop : NULL;
}

void ar__vplugin_close(struct ar_loaded_plugin *lp)
{
	struct ar_vplugin *vp = lp->vp;
	int ret;

	if (!vp)
		return;
	if (vp->live && (ret = vp->info->fini()))
		ar_warn("vAccel plugin %s: fini returned %d", vp->desc.name, ret);
	free(vp);
	lp->vp = NULL;
}

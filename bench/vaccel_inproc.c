/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vaccel_inproc - the vAccel calls that the noop and sgemm examples make,
 * served in the calling process by accelring's own plugins, dlopen()ed
 * here the way vAccel loads its plugins. Linked with the unchanged example
 * sources, it gives bench/run the "same program, same plugin, no broker"
 * baseline for its whole-process comparisons (hyperfine).
 *
 * Plugins: ACCELRING_PLUGINS (':'-separated names or paths; default
 * "blas:noop") from ACCELRING_PLUGIN_DIR (default: the build's plugins/).
 * The first plugin that implements an op runs it, as in the broker.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <accelring/plugin.h>
#include <accelring/wire.h>
#include <vaccel.h>

#define MAX_PLUGINS 8

static const struct ar_plugin *plugins[MAX_PLUGINS];
static int nplugins, load_err;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void host_log(int level, const char *fmt, ...)
{
	va_list ap;

	if (level > AR_LOG_WARN)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static const struct ar_plugin_host host = {
	.size = sizeof(struct ar_plugin_host),
	.log_level = AR_LOG_WARN,
	.log = host_log,
	.op_name = ar_op_name,
};

static int load_one(const char *dir, const char *name)
{
	const struct ar_plugin *p;
	char path[512];
	void *h;

	if (strchr(name, '/'))
		snprintf(path, sizeof(path), "%s", name);
	else
		snprintf(path, sizeof(path), "%s/libaccelring-%s.so", dir, name);
	h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		fprintf(stderr, "vaccel_inproc: %s\n", dlerror());
		return -ENOENT;
	}
	p = dlsym(h, AR_PLUGIN_SYMBOL);
	if (!p || p->abi_version != AR_PLUGIN_ABI_VERSION || p->size < sizeof(*p)) {
		fprintf(stderr, "vaccel_inproc: %s: not an accelring plugin of ABI %u\n", path,
			AR_PLUGIN_ABI_VERSION);
		dlclose(h);
		return -EINVAL;
	}
	if (p->init && p->init(&host)) {
		fprintf(stderr, "vaccel_inproc: %s: init failed\n", path);
		dlclose(h);
		return -EIO;
	}
	plugins[nplugins++] = p;
	return 0;
}

static void load(void)
{
	const char *dir = getenv("ACCELRING_PLUGIN_DIR"), *list = getenv("ACCELRING_PLUGINS");
	char buf[1024], *save, *tok;

	snprintf(buf, sizeof(buf), "%s", list && *list ? list : "blas:noop");
	for (tok = strtok_r(buf, ":", &save); tok && nplugins < MAX_PLUGINS;
	     tok = strtok_r(NULL, ":", &save)) {
		load_err = load_one(dir && *dir ? dir : AR_PLUGIN_BUILD_DIR, tok);
		if (load_err)
			return;
	}
}

/* 0 or a positive errno, as vAccel's calls return. */
static int run(struct ar_op *op)
{
	for (int i = 0; i < nplugins; i++)
		for (uint32_t j = 0; j < plugins[i]->nr_ops; j++)
			if (plugins[i]->ops[j].op == op->op)
				return -plugins[i]->ops[j].fn(op);
	return ENOTSUP;
}

int vaccel_session_init(struct vaccel_session *sess, uint32_t flags)
{
	static uint32_t ids;

	pthread_once(&once, load);
	if (load_err)
		return -load_err;
	memset(sess, 0, sizeof(*sess));
	sess->id = __atomic_add_fetch(&ids, 1, __ATOMIC_RELAXED);
	sess->hint = flags;
	return 0;
}

int vaccel_session_release(struct vaccel_session *sess)
{
	return sess ? 0 : EINVAL;
}

int vaccel_noop(struct vaccel_session *sess)
{
	struct ar_op op = { .op = AR_OP_NOOP, .session = (uint32_t)sess->id,
			    .session_flags = sess->hint };

	return run(&op);
}

int vaccel_sgemm(struct vaccel_session *sess, int64_t m, int64_t n, int64_t k, float alpha,
		 float *a, int64_t lda, float *b, int64_t ldb, float beta, float *c,
		 int64_t ldc)
{
	struct ar_op op = { .op = AR_OP_BLAS_SGEMM, .session = (uint32_t)sess->id,
			    .session_flags = sess->hint };

	/* What the broker checks before a plugin sees an sgemm. */
	if (m < 1 || n < 1 || k < 1 || m > INT32_MAX || n > INT32_MAX || k > INT32_MAX ||
	    lda < k || ldb < n || ldc < n || lda > INT32_MAX || ldb > INT32_MAX ||
	    ldc > INT32_MAX || !a || !b || !c)
		return EINVAL;
	op.u.sgemm = (struct ar_op_sgemm){ .m = m, .n = n, .k = k, .lda = lda, .ldb = ldb,
					   .ldc = ldc, .alpha = alpha, .beta = beta,
					   .a = a, .b = b, .c = c };
	return run(&op);
}

// SPDX-License-Identifier: Apache-2.0
/*
 * test_plugin_torch - the torch plugin (plugins/torch) as a unit: its .so
 * dlopen()ed as the broker does, initialised with a real struct
 * ar_plugin_host whose settings the test chooses, its ops built here over
 * resources in real sealed memfds (sha256 by OpenSSL, as the broker
 * hashes them). Answers are compared with libtorch run in this process by
 * tests/torch_ref.cc, with the same thread count on both sides (libtorch's
 * setting is process-wide, and both sides share this process's libtorch).
 * The models and images are the build's (tests/models/make_models.py).
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

extern "C" {
#include <cmocka.h>
}
#include <openssl/evp.h>
#include <zlib.h>

#include <accelring/optable.h>
#include <accelring/plugin.h>
#include <vaccel/arg.h>
#include <vaccel/ops/torch.h>
#include <vaccel/resource.h>

#include "torch_ref.h"

#if !defined(AR_TORCH_PLUGIN) || !defined(AR_TEST_MODELS_DIR)
#error "AR_TORCH_PLUGIN and AR_TEST_MODELS_DIR must name the built plugin and models"
#endif

#define M(f) AR_TEST_MODELS_DIR "/" f
#define THREADS 1

static void *plug_dl;
static const struct ar_plugin *plug;
static bool started;

// ---- the host ----

static const char *set_model, *set_labels, *set_topk;

static const char *host_setting(const char *key)
{
	if (!strcmp(key, "torch-threads"))
		return "1";	// THREADS
	if (!strcmp(key, "torch-image-model"))
		return set_model;
	if (!strcmp(key, "torch-image-labels"))
		return set_labels;
	if (!strcmp(key, "torch-image-topk"))
		return set_topk;
	return NULL;
}

__attribute__((format(printf, 2, 3))) static void host_log(int level, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "plugin log %d: ", level);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static const char *host_op_name(uint32_t op)
{
	switch (op) {
#define OP_(num, NAME, name, ...) \
	case num:                 \
		return name;
		AR_OP_TABLE(OP_)
#undef OP_
	}
	return "?";
}

static const struct ar_plugin_host host = {
	sizeof(struct ar_plugin_host), AR_LOG_INFO, host_log, host_op_name, host_setting,
};

static int start(const char *model, const char *labels, const char *topk)
{
	int ret;

	set_model = model;
	set_labels = labels;
	set_topk = topk;
	ret = plug->init(&host);
	started = ret == 0;
	return ret;
}

static void stop(void)
{
	if (started)
		plug->fini();
	started = false;
}

// ---- resources: files in sealed memfds ----

static std::string slurp(const char *path)
{
	std::string s;
	FILE *f = fopen(path, "rb");
	char buf[65536];
	size_t n;

	assert_non_null(f);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		s.append(buf, n);
	fclose(f);
	return s;
}

struct res_fix {
	std::vector<int> fds;
	std::vector<void *> maps;
	std::vector<std::string> names;
	std::vector<struct ar_resource_file> files;
	struct ar_resource res;
};

static void sha256(const void *p, size_t n, uint8_t out[32])
{
	unsigned int len = 0;

	assert_int_equal(EVP_Digest(p, n, out, &len, EVP_sha256(), NULL), 1);
	assert_int_equal(len, 32);
}

// A resource of these (name, bytes) files, each in its own sealed memfd;
// its hash covers the type, the names and each file's hash, as the
// broker's does.
static void res_make(struct res_fix *f, uint32_t type,
		     const std::vector<std::pair<std::string, std::string>> &files)
{
	std::string all = std::to_string(type);

	f->files.resize(files.size());
	for (size_t i = 0; i < files.size(); i++) {
		const std::string &b = files[i].second;
		int fd = memfd_create("artest-torch", MFD_CLOEXEC | MFD_ALLOW_SEALING);
		void *map;

		assert_true(fd >= 0);
		assert_int_equal(write(fd, b.data(), b.size()), (ssize_t)b.size());
		assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK |
				       F_SEAL_GROW | F_SEAL_SEAL), 0);
		map = mmap(NULL, b.size() ? b.size() : 1, PROT_READ, MAP_PRIVATE, fd, 0);
		assert_true(map != MAP_FAILED);
		f->fds.push_back(fd);
		f->maps.push_back(map);
		f->names.push_back(files[i].first);
		struct ar_resource_file &rf = f->files[i];
		memset(&rf, 0, sizeof(rf));
		rf.data = map;
		rf.size = b.size();
		rf.fd = fd;
		sha256(map, b.size(), rf.sha256);
		all += files[i].first;
		all.append((const char *)rf.sha256, 32);
	}
	for (size_t i = 0; i < files.size(); i++)
		f->files[i].name = f->names[i].c_str();
	memset(&f->res, 0, sizeof(f->res));
	f->res.id = 7;
	f->res.type = type;
	f->res.nr_files = (uint32_t)files.size();
	f->res.files = f->files.data();
	sha256(all.data(), all.size(), f->res.sha256);
}

static void res_file(struct res_fix *f, const char *path)
{
	const char *base = strrchr(path, '/') + 1;

	res_make(f, VACCEL_RESOURCE_MODEL, { { base, slurp(path) } });
}

static void res_free(struct res_fix *f)
{
	for (size_t i = 0; i < f->fds.size(); i++) {
		munmap(f->maps[i], f->files[i].size ? f->files[i].size : 1);
		close(f->fds[i]);
	}
	f->fds.clear();
}

// ---- ops ----

struct op_fix {
	struct ar_op op;
	char why[256];
	int64_t meta[4][10];
	std::vector<std::vector<char>> out;
	struct ar_buf rd[9], wr[8];
	std::vector<int64_t> dims;
	std::vector<float> in;
};

static void op_init(struct op_fix *o, uint32_t opn, uint32_t tenant, uint32_t session)
{
	memset(&o->op, 0, sizeof(o->op));
	o->op.op = opn;
	o->op.tenant = tenant;
	o->op.session = session;
	o->op.why = o->why;
	o->op.why_cap = sizeof(o->why);
	o->why[0] = '\0';
}

static int load(const struct res_fix *r, uint32_t tenant, uint32_t session, char *why)
{
	struct op_fix o;

	op_init(&o, AR_OP_TORCH_MODEL_LOAD, tenant, session);
	o.op.u.generic.resource = &r->res;
	// Every entry of the plugin's table is its one dispatcher.
	int ret = plug->ops[0].fn(&o.op);
	if (why)
		strcpy(why, o.why);
	return ret;
}

// A torch_model_run of one float input (dims, values) with nout output
// pairs of room bytes each; o keeps everything the op points to.
static void run_prep(struct op_fix *o, const struct res_fix *r, uint32_t tenant,
		     uint32_t session, const std::vector<int64_t> &dims,
		     const std::vector<float> &in, uint32_t nout, size_t room)
{
	op_init(o, AR_OP_TORCH_MODEL_RUN, tenant, session);
	o->dims = dims;
	o->in = in;
	memset(o->rd, 0, sizeof(o->rd));
	memset(o->wr, 0, sizeof(o->wr));
	o->rd[0].type = VACCEL_ARG_BUFFER;
	o->rd[1].ptr = o->dims.data();
	o->rd[1].len = o->dims.size() * 8;
	o->rd[1].type = VACCEL_ARG_INT64_ARRAY;
	o->rd[2].ptr = o->in.data();
	o->rd[2].len = o->in.size() * sizeof(float);
	o->rd[2].type = VACCEL_ARG_BUFFER;
	o->rd[2].custom_id = VACCEL_TORCH_FLOAT;
	o->out.assign(nout, std::vector<char>(room, 0x5a));
	for (uint32_t i = 0; i < nout; i++) {
		memset(o->meta[i], 0x5a, sizeof(o->meta[i]));
		o->wr[2 * i] = { o->meta[i], sizeof(o->meta[i]), VACCEL_ARG_INT64_ARRAY, 0 };
		o->wr[2 * i + 1] = { o->out[i].data(), room, VACCEL_ARG_BUFFER, 0 };
	}
	o->op.u.generic.resource = &r->res;
	o->op.u.generic.nr_read = 3;
	o->op.u.generic.read = o->rd;
	o->op.u.generic.nr_write = 2 * nout;
	o->op.u.generic.write = o->wr;
}

static int op_call(struct op_fix *o)
{
	return plug->ops[0].fn(&o->op);
}

static std::vector<float> randv(size_t n, uint32_t seed)
{
	std::vector<float> v(n);

	for (size_t i = 0; i < n; i++) {
		seed = seed * 1664525u + 1013904223u;
		v[i] = (float)(seed >> 8) / (float)(1u << 24) * 2.0f - 1.0f;
	}
	return v;
}

static size_t numel(const std::vector<int64_t> &d)
{
	size_t n = 1;

	for (int64_t x : d)
		n *= (size_t)x;
	return n;
}

static float max_diff(const float *a, const float *b, size_t n)
{
	float m = 0;

	for (size_t i = 0; i < n; i++)
		m = fmaxf(m, fabsf(a[i] - b[i]));
	return m;
}

// ---- the tests ----

// The descriptor names torch's ops, its batch and session_closed.
static void test_plugin_torch_descriptor(void **state)
{
	(void)state;
	assert_string_equal(plug->name, "torch");
	assert_int_equal(plug->type, AR_PLUGIN_CPU | AR_PLUGIN_TORCH);
	assert_int_equal(plug->nr_ops, 7);
	assert_non_null(plug->batch);
	assert_non_null(plug->session_closed);
	assert_int_equal(start(NULL, NULL, NULL), 0);
}

// A forward through the plugin is libtorch's in process, bit for bit.
static void check_bitexact(const char *path, const std::vector<int64_t> &dims,
			   const std::vector<int64_t> &want_dims)
{
	struct res_fix r;
	struct op_fix o;
	struct ar_tref *ref = ar_tref_load(path, THREADS);
	std::vector<float> in = randv(numel(dims), 42), want(numel(want_dims));
	int64_t rd[8];
	int rnd = 0;

	assert_non_null(ref);
	long n = ar_tref_forward(ref, in.data(), dims.data(), (int)dims.size(), want.data(),
				 want.size() * 4, rd, &rnd);
	assert_int_equal(n, (long)(want.size() * 4));
	res_file(&r, path);
	assert_int_equal(load(&r, 1, 1, NULL), 0);
	// The loaded module keeps nothing of the resource's mapping: a run
	// names the resource by its hash only, and works after the unmap.
	res_free(&r);
	run_prep(&o, &r, 1, 1, dims, in, 2, 1 << 20);
	assert_int_equal(op_call(&o), 0);
	assert_int_equal(o.meta[0][0], VACCEL_TORCH_FLOAT);
	assert_int_equal(o.meta[0][1], (int64_t)want_dims.size());
	for (size_t i = 0; i < want_dims.size(); i++)
		assert_int_equal(o.meta[0][2 + i], want_dims[i]);
	assert_int_equal(o.wr[1].len, want.size() * 4);
	assert_memory_equal(o.out[0].data(), want.data(), want.size() * 4);
	// The second pair, which the model does not fill: zero meta, no data.
	for (int i = 0; i < 10; i++)
		assert_int_equal(o.meta[1][i], 0);
	assert_int_equal(o.wr[3].len, 0);
	plug->session_closed(1, 1);
	ar_tref_free(ref);
}

static void test_plugin_torch_run_tiny(void **state)
{
	(void)state;
	assert_int_equal(start(NULL, NULL, NULL), 0);
	check_bitexact(M("tiny.pt"), { 2, 3, 32, 32 }, { 2, 10 });
}

static void test_plugin_torch_run_resnet18(void **state)
{
	(void)state;
	assert_int_equal(start(NULL, NULL, NULL), 0);
	check_bitexact(M("resnet18.pt"), { 1, 3, 224, 224 }, { 1, 1000 });
}

// A run needs a load in its own session, and ends with the session.
static void test_plugin_torch_sessions(void **state)
{
	struct res_fix r;
	struct op_fix o;
	std::vector<float> in = randv(3 * 32 * 32, 1);

	(void)state;
	assert_int_equal(start(NULL, NULL, NULL), 0);
	res_file(&r, M("tiny.pt"));
	run_prep(&o, &r, 1, 1, { 1, 3, 32, 32 }, in, 1, 4096);
	assert_int_equal(op_call(&o), -EINVAL);
	assert_non_null(strstr(o.why, "model not loaded in this session"));
	assert_int_equal(load(&r, 1, 1, NULL), 0);
	assert_int_equal(load(&r, 1, 1, NULL), 0);	// again: a no-op
	run_prep(&o, &r, 1, 1, { 1, 3, 32, 32 }, in, 1, 4096);
	assert_int_equal(op_call(&o), 0);
	// Session 2 of the same tenant, session 1 of another: not theirs.
	run_prep(&o, &r, 1, 2, { 1, 3, 32, 32 }, in, 1, 4096);
	assert_int_equal(op_call(&o), -EINVAL);
	run_prep(&o, &r, 2, 1, { 1, 3, 32, 32 }, in, 1, 4096);
	assert_int_equal(op_call(&o), -EINVAL);
	plug->session_closed(1, 1);
	run_prep(&o, &r, 1, 1, { 1, 3, 32, 32 }, in, 1, 4096);
	assert_int_equal(op_call(&o), -EINVAL);
	assert_non_null(strstr(o.why, "model not loaded"));
	res_free(&r);
}

// Corrupt models are EINVAL with torch's reason; graphs reaching host
// files are EPERM; a resource not a MODEL is EINVAL.
static void test_plugin_torch_bad_models(void **state)
{
	struct res_fix r;
	char why[256];
	std::string tiny = slurp(M("tiny.pt"));
	std::vector<float> junk = randv(4096, 9);

	(void)state;
	assert_int_equal(start(NULL, NULL, NULL), 0);
	res_make(&r, VACCEL_RESOURCE_MODEL,
		 { { "junk.pt", std::string((const char *)junk.data(), junk.size() * 4) } });
	// The zip check (archive.h) refuses these before torch's reader.
	assert_int_equal(load(&r, 1, 1, why), -EINVAL);
	assert_non_null(strstr(why, "not a zip archive"));
	assert_non_null(strstr(why, "torch: model_load: "));
	assert_true(strlen(why) > strlen("torch: model_load: "));
	res_free(&r);
	res_make(&r, VACCEL_RESOURCE_MODEL, { { "cut.pt", tiny.substr(0, tiny.size() / 2) } });
	assert_int_equal(load(&r, 1, 1, why), -EINVAL);
	assert_non_null(strstr(why, "no end of central directory"));
	assert_non_null(strstr(why, "torch: model_load: "));
	res_free(&r);
	// Refused before loading: the last one's __setstate__ would read
	// its file during the load itself.
	for (const char *p : { M("from_file.pt"), M("from_file_nested.pt"),
			       M("from_file_setstate.pt") }) {
		res_file(&r, p);
		assert_int_equal(load(&r, 1, 1, why), -EPERM);
		assert_non_null(strstr(why, "aten::from_file"));
		assert_non_null(strstr(why, "refused before loading it"));
		res_free(&r);
	}
	res_make(&r, VACCEL_RESOURCE_DATA, { { "tiny.pt", tiny } });
	assert_int_equal(load(&r, 1, 1, why), -EINVAL);
	res_free(&r);
	plug->session_closed(1, 1);
}

// Inputs are checked to the byte; torch's own refusals come back as
// EINVAL with its message; a short room is ENOBUFS naming the bytes; an
// input of no rows gives an output of none.
static void test_plugin_torch_bad_inputs(void **state)
{
	struct res_fix r;
	struct op_fix o;

	(void)state;
	assert_int_equal(start(NULL, NULL, NULL), 0);
	res_file(&r, M("tiny.pt"));
	assert_int_equal(load(&r, 1, 1, NULL), 0);
	run_prep(&o, &r, 1, 1, { 1, 4, 32, 32 }, randv(4 * 32 * 32, 2), 1, 4096);
	assert_int_equal(op_call(&o), -EINVAL);
	assert_non_null(strstr(o.why, "torch: model_run: "));
	assert_non_null(strstr(o.why, "channels"));	// torch's conv2d message
	run_prep(&o, &r, 1, 1, { 1, 3, 32, 32 }, randv(3 * 32 * 32, 2), 1, 4096);
	o.rd[2].len -= 4;
	assert_int_equal(op_call(&o), -EINVAL);
	assert_non_null(strstr(o.why, "12288 bytes"));
	run_prep(&o, &r, 1, 1, { 1, 3, 32, 32 }, randv(3 * 32 * 32, 2), 1, 4096);
	o.rd[2].custom_id = 99;
	assert_int_equal(op_call(&o), -EINVAL);
	run_prep(&o, &r, 1, 1, { 1, 3, 32, 32 }, randv(3 * 32 * 32, 2), 1, 4096);
	o.dims[1] = INT64_MAX / 2;
	assert_int_equal(op_call(&o), -EINVAL);
	run_prep(&o, &r, 1, 1, { 1, 3, 32, 32 }, randv(3 * 32 * 32, 2), 1, 39);
	assert_int_equal(op_call(&o), -ENOBUFS);
	assert_non_null(strstr(o.why, "needs 40 bytes"));
	// No rows: a valid batch of nothing, an empty output.
	run_prep(&o, &r, 1, 1, { 0, 3, 32, 32 }, {}, 1, 4096);
	assert_int_equal(op_call(&o), 0);
	assert_int_equal(o.meta[0][1], 2);
	assert_int_equal(o.meta[0][2], 0);
	assert_int_equal(o.meta[0][3], 10);
	assert_int_equal(o.wr[1].len, 0);
	plug->session_closed(1, 1);
	res_free(&r);
}

// A batch of 8 runs from 4 tenants' sessions: each op gets its own rows,
// as close to its unbatched run as libtorch itself is for this batch in
// process, and far from any other op's; an op whose session did not load
// the model fails alone.
static void test_plugin_torch_batch(void **state)
{
	const int N = 8, rows[N] = { 1, 2, 1, 2, 2, 1, 1, 2 };
	const int64_t px = 3 * 32 * 32;
	struct res_fix r;
	struct op_fix alone[N], b[N];
	struct ar_op *ops[N];
	struct ar_tref *ref = ar_tref_load(M("tiny.pt"), THREADS);
	std::vector<float> all, ref_all, ref_one;
	int64_t total = 0, od[8];
	int ond;

	(void)state;
	assert_non_null(ref);
	assert_int_equal(start(NULL, NULL, NULL), 0);
	res_file(&r, M("tiny.pt"));
	for (uint32_t t = 1; t <= 4; t++)
		assert_int_equal(load(&r, t, 10 + t, NULL), 0);
	for (int i = 0; i < N; i++) {
		std::vector<float> in = randv((size_t)(rows[i] * px), 100 + i);

		run_prep(&alone[i], &r, 1 + i % 4, 11 + i % 4, { rows[i], 3, 32, 32 }, in, 1, 4096);
		assert_int_equal(op_call(&alone[i]), 0);
		run_prep(&b[i], &r, 1 + i % 4, 11 + i % 4, { rows[i], 3, 32, 32 }, in, 1, 4096);
		ops[i] = &b[i].op;
		all.insert(all.end(), in.begin(), in.end());
		total += rows[i];
	}
	// libtorch's own batched-vs-alone difference for this very batch.
	ref_all.resize((size_t)total * 10);
	int64_t dims[4] = { total, 3, 32, 32 };
	assert_true(ar_tref_forward(ref, all.data(), dims, 4, ref_all.data(),
				    ref_all.size() * 4, od, &ond) > 0);
	float tol = 0;
	for (int i = 0, row = 0; i < N; row += rows[i++]) {
		int64_t d1[4] = { rows[i], 3, 32, 32 };
		ref_one.resize((size_t)rows[i] * 10);
		assert_true(ar_tref_forward(ref, &all[(size_t)row * px], d1, 4, ref_one.data(),
					    ref_one.size() * 4, od, &ond) > 0);
		tol = fmaxf(tol, max_diff(ref_one.data(), &ref_all[(size_t)row * 10],
					  ref_one.size()));
	}
	plug->batch(ops, N);
	for (int i = 0; i < N; i++) {
		assert_int_equal(b[i].op.status, 0);
		assert_int_equal(b[i].meta[0][2], rows[i]);
		assert_int_equal(b[i].wr[1].len, (uint64_t)rows[i] * 40);
		float d = max_diff((const float *)b[i].out[0].data(),
				   (const float *)alone[i].out[0].data(), (size_t)rows[i] * 10);
		assert_true(d <= tol);
		// Another op's first row is far away: a swapped row would show.
		for (int j = 0; j < N; j++)
			if (j != i)
				assert_true(max_diff((const float *)b[i].out[0].data(),
						     (const float *)alone[j].out[0].data(),
						     10) > 100 * tol + 1e-4f);
	}
	fprintf(stderr, "batch tolerance (libtorch in process): %g\n", tol);
	// Tenant 9 never loaded the model: its op fails, the rest run.
	run_prep(&b[3], &r, 9, 19, { rows[3], 3, 32, 32 }, alone[3].in, 1, 4096);
	for (int i = 0; i < N; i++)
		b[i].wr[1].len = 4096;
	plug->batch(ops, N);
	for (int i = 0; i < N; i++) {
		if (i == 3) {
			assert_int_equal(b[i].op.status, -EINVAL);
			assert_non_null(strstr(b[i].why, "not loaded"));
			continue;
		}
		assert_int_equal(b[i].op.status, 0);
		assert_true(max_diff((const float *)b[i].out[0].data(),
				     (const float *)alone[i].out[0].data(),
				     (size_t)rows[i] * 10) <= tol);
	}
	for (uint32_t t = 1; t <= 4; t++)
		plug->session_closed(t, 10 + t);
	res_free(&r);
	ar_tref_free(ref);
}

// A tuple of outputs fills the pairs in order; a model whose outputs mix
// the rows of a batch (a mean over dim 0) cannot share a forward, so a
// batch of its runs falls back to one forward each, and every op gets the
// mean of its own rows only.
static void test_plugin_torch_batch_fallback(void **state)
{
	const int N = 3, rows[N] = { 1, 2, 3 };
	const size_t px = 3 * 4;
	struct res_fix r;
	struct op_fix b[N];
	struct ar_op *ops[N];

	(void)state;
	assert_int_equal(start(NULL, NULL, NULL), 0);
	res_file(&r, M("multi.pt"));
	for (int i = 0; i < N; i++) {
		assert_int_equal(load(&r, 1 + i, 1, NULL), 0);
		run_prep(&b[i], &r, 1 + i, 1, { rows[i], 3, 4 }, randv(rows[i] * px, 7 + i), 2,
			 4096);
		ops[i] = &b[i].op;
	}
	plug->batch(ops, N);
	for (int i = 0; i < N; i++) {
		const float *x = b[i].in.data(), *twice = (const float *)b[i].out[0].data(),
			    *mean = (const float *)b[i].out[1].data();

		assert_int_equal(b[i].op.status, 0);
		assert_int_equal(b[i].meta[0][1], 3);
		assert_int_equal(b[i].meta[0][2], rows[i]);
		assert_int_equal(b[i].wr[1].len, rows[i] * px * 4);
		assert_int_equal(b[i].meta[1][0], VACCEL_TORCH_FLOAT);
		assert_int_equal(b[i].meta[1][2], 1);
		assert_int_equal(b[i].wr[3].len, px * 4);
		for (size_t k = 0; k < rows[i] * px; k++)
			assert_true(twice[k] == 2 * x[k]);
		for (size_t k = 0; k < px; k++) {
			float m = 0;

			for (int j = 0; j < rows[i]; j++)
				m += x[j * px + k];
			assert_true(fabsf(mean[k] - m / rows[i]) < 1e-6f);
		}
		plug->session_closed(1 + i, 1);
	}
	res_free(&r);
}

// An output of a type vaccel cannot carry (float64) is EINVAL, said why.
static void test_plugin_torch_output_type(void **state)
{
	struct res_fix r;
	struct op_fix o;

	(void)state;
	assert_int_equal(start(NULL, NULL, NULL), 0);
	res_file(&r, M("double.pt"));
	assert_int_equal(load(&r, 1, 1, NULL), 0);
	run_prep(&o, &r, 1, 1, { 2, 2 }, randv(4, 3), 1, 4096);
	assert_int_equal(op_call(&o), -EINVAL);
	assert_non_null(strstr(o.why, "Double"));
	assert_non_null(strstr(o.why, "no vaccel_torch_data_type"));
	plug->session_closed(1, 1);
	res_free(&r);
}

// The same content loaded by two sessions is one cache entry that the
// other session keeps when one closes; a different resource (the same
// model with labels) is its own.
static void test_plugin_torch_shared_cache(void **state)
{
	struct res_fix r, rl;
	struct op_fix a, b;
	std::vector<float> in = randv(3 * 32 * 32, 5);

	(void)state;
	assert_int_equal(start(NULL, NULL, NULL), 0);
	res_file(&r, M("tiny.pt"));
	res_make(&rl, VACCEL_RESOURCE_MODEL, { { "tiny.pt", slurp(M("tiny.pt")) },
					       { "l.txt", slurp(M("tiny_labels.txt")) } });
	assert_int_equal(load(&r, 1, 1, NULL), 0);
	assert_int_equal(load(&r, 2, 2, NULL), 0);
	assert_int_equal(load(&rl, 2, 2, NULL), 0);
	run_prep(&a, &r, 1, 1, { 1, 3, 32, 32 }, in, 1, 4096);
	assert_int_equal(op_call(&a), 0);
	plug->session_closed(1, 1);
	run_prep(&b, &r, 2, 2, { 1, 3, 32, 32 }, in, 1, 4096);
	assert_int_equal(op_call(&b), 0);
	assert_memory_equal(a.out[0].data(), b.out[0].data(), 40);
	run_prep(&b, &rl, 2, 2, { 1, 3, 32, 32 }, in, 1, 4096);
	assert_int_equal(op_call(&b), 0);
	assert_memory_equal(a.out[0].data(), b.out[0].data(), 40);
	plug->session_closed(2, 2);
	run_prep(&b, &r, 2, 2, { 1, 3, 32, 32 }, in, 1, 4096);
	assert_int_equal(op_call(&b), -EINVAL);
	res_free(&r);
	res_free(&rl);
}

struct worker_arg {
	const struct res_fix *r;
	uint32_t tenant;
	const std::vector<float> *in;
	const std::vector<char> *want;
	int bad;
};

static void *worker(void *p)
{
	auto *w = static_cast<struct worker_arg *>(p);

	for (int i = 0; i < 20; i++) {
		struct op_fix o;

		if (i % 5 == 0)
			w->bad += load(w->r, w->tenant, 1, NULL) != 0;
		run_prep(&o, w->r, w->tenant, 1, { 1, 3, 32, 32 }, *w->in, 1, 4096);
		w->bad += op_call(&o) != 0 || memcmp(o.out[0].data(), w->want->data(), 40);
		if (i % 5 == 4)
			plug->session_closed(w->tenant, 1);
	}
	return NULL;
}

// Loads, runs and session closes on four threads at once: every run
// answers its own input, as one thread alone does.
static void test_plugin_torch_threads(void **state)
{
	const int T = 4;
	struct res_fix r;
	pthread_t th[T];
	struct worker_arg wa[T];
	std::vector<std::vector<float>> in(T);
	std::vector<std::vector<char>> want(T);

	(void)state;
	assert_int_equal(start(NULL, NULL, NULL), 0);
	res_file(&r, M("tiny.pt"));
	assert_int_equal(load(&r, 99, 1, NULL), 0);
	for (int t = 0; t < T; t++) {
		struct op_fix o;

		in[t] = randv(3 * 32 * 32, 50 + t);
		run_prep(&o, &r, 99, 1, { 1, 3, 32, 32 }, in[t], 1, 4096);
		assert_int_equal(op_call(&o), 0);
		want[t].assign(o.out[0].begin(), o.out[0].begin() + 40);
		wa[t] = { &r, (uint32_t)(t + 1), &in[t], &want[t], 0 };
	}
	for (int t = 0; t < T; t++)
		assert_int_equal(pthread_create(&th[t], NULL, worker, &wa[t]), 0);
	for (int t = 0; t < T; t++) {
		pthread_join(th[t], NULL);
		assert_int_equal(wa[t].bad, 0);
	}
	plug->session_closed(99, 1);
	res_free(&r);
}

// ---- images ----

static std::vector<std::string> labels_of(const char *path)
{
	std::vector<std::string> v;
	std::string s = slurp(path);
	size_t i = 0, e;

	while ((e = s.find('\n', i)) != std::string::npos) {
		v.push_back(s.substr(i, e - i));
		i = e + 1;
	}
	return v;
}

static int classify(uint32_t tenant, uint32_t session, const std::string &img, char *text,
		    size_t cap, char *name, char *why, uint32_t opn = AR_OP_IMAGE_CLASSIFY)
{
	struct op_fix o;

	op_init(&o, opn, tenant, session);
	o.op.u.image.img = { (void *)img.data(), img.size(), VACCEL_ARG_RAW, 0 };
	o.op.u.image.out_text = { text, cap, VACCEL_ARG_RAW, 0 };
	o.op.u.image.out_imgname = { name, 64, VACCEL_ARG_RAW, 0 };
	int ret = op_call(&o);
	strcpy(why, o.why);
	return ret;
}

// What ar_tref_classify says of this image with mobilenet_v3_small.
static std::string ref_text(const std::string &img, int topk)
{
	static struct ar_tref *ref;
	static std::vector<std::string> labels = labels_of(M("labels.txt"));
	std::vector<const char *> lp;
	char text[4096];

	if (!ref)
		ref = ar_tref_load(M("mobilenet_v3_small.pt"), THREADS);
	assert_non_null(ref);
	for (const auto &l : labels)
		lp.push_back(l.c_str());
	assert_true(ar_tref_classify(ref, img.data(), img.size(), lp.data(), (int)lp.size(), topk,
				     text, sizeof(text)) > 0);
	return text;
}

static void check_classify(uint32_t t, uint32_t s, const char *path, int topk)
{
	char text[4096], name[64], why[256];
	std::string img = slurp(path), want = ref_text(img, topk);

	assert_int_equal(classify(t, s, img, text, sizeof(text), name, why), 0);
	assert_string_equal(text, want.c_str());
	assert_int_equal(std::count(want.begin(), want.end(), '\n'), topk - 1);
	assert_int_equal(strncmp(text, name, strlen(name)), 0);
	assert_int_equal(text[strlen(name)], ' ');
}

// A PNG, a JPEG, a 224x224 PNG and a grey PNG, classified by a model and
// labels the session loaded as one resource: exactly the reference's text.
static void test_plugin_torch_classify(void **state)
{
	struct res_fix r;
	char text[256], name[64], why[256];

	(void)state;
	assert_int_equal(start(NULL, NULL, NULL), 0);
	res_make(&r, VACCEL_RESOURCE_MODEL,
		 { { "labels.txt", slurp(M("labels.txt")) },
		   { "mobilenet_v3_small.pt", slurp(M("mobilenet_v3_small.pt")) } });
	assert_int_equal(classify(1, 1, slurp(M("picture.png")), text, sizeof(text), name, why),
			 -ENOTSUP);
	assert_non_null(strstr(why, "no image model"));
	assert_int_equal(load(&r, 1, 1, NULL), 0);
	for (const char *p : { M("picture.png"), M("picture.jpg"), M("picture224.png"),
			       M("gray.png") })
		check_classify(1, 1, p, 5);
	// Truncated to the room, still NUL-terminated.
	assert_int_equal(classify(1, 1, slurp(M("picture.png")), text, 8, name, why), 0);
	assert_int_equal(strlen(text), 7);
	assert_int_equal(classify(1, 1, slurp(M("corrupt.jpg")), text, sizeof(text), name, why),
			 -EINVAL);
	assert_non_null(strstr(why, "bad image"));
	assert_int_equal(classify(1, 1, "not an image", text, sizeof(text), name, why), -EINVAL);
	// Another session has no model of its own.
	assert_int_equal(classify(1, 2, slurp(M("picture.png")), text, sizeof(text), name, why),
			 -ENOTSUP);
	plug->session_closed(1, 1);
	res_free(&r);
}

// A PNG whose header claims 20000x20000, and nothing after it: refused
// from the header (libpng's own limit, set to the plugin's), before the
// plugin reads any further or allocates the pixels.
static void test_plugin_torch_oversized(void **state)
{
	char text[256], name[64], why[256];
	unsigned char ihdr[17] = { 'I', 'H', 'D', 'R', 0, 0, 0x4e, 0x20, 0, 0, 0x4e, 0x20,
				   8, 2, 0, 0, 0 };
	std::string png("\x89PNG\r\n\x1a\n\0\0\0\x0d", 12);
	uLong crc = crc32(0, ihdr, sizeof(ihdr));

	(void)state;
	png.append((const char *)ihdr, sizeof(ihdr));
	for (int s = 24; s >= 0; s -= 8)
		png += (char)((crc >> s) & 0xff);
	assert_int_equal(start(M("mobilenet_v3_small.pt"), M("labels.txt"), NULL), 0);
	assert_int_equal(classify(1, 1, png, text, sizeof(text), name, why), -EINVAL);
	assert_non_null(strstr(why, "exceeds user limit"));
}

// The torch-image-model setting serves sessions that loaded nothing;
// topk follows its setting; bad settings fail init.
static void test_plugin_torch_settings(void **state)
{
	char text[256], name[64], why[256];

	(void)state;
	assert_int_equal(start(M("mobilenet_v3_small.pt"), M("labels.txt"), "3"), 0);
	check_classify(5, 5, M("picture.jpg"), 3);
	stop();
	assert_int_equal(start(M("mobilenet_v3_small.pt"), M("tiny_labels.txt"), NULL), -EINVAL);
	assert_int_equal(start(M("missing.pt"), M("labels.txt"), NULL), -ENOENT);
	assert_int_equal(start(M("mobilenet_v3_small.pt"), NULL, NULL), -EINVAL);
	assert_int_equal(start(NULL, NULL, "0"), -EINVAL);
	assert_int_equal(start(NULL, NULL, "101"), -EINVAL);
	assert_int_equal(start(NULL, NULL, "5x"), -EINVAL);
	assert_int_equal(start(NULL, NULL, ""), 0);
	assert_int_equal(classify(1, 1, slurp(M("picture.png")), text, sizeof(text), name, why),
			 -ENOTSUP);
}

// The other image ops are refused with a reason, never answered.
static void test_plugin_torch_detect(void **state)
{
	char text[256], name[64], why[256];

	(void)state;
	assert_int_equal(start(M("mobilenet_v3_small.pt"), M("labels.txt"), NULL), 0);
	assert_int_equal(classify(1, 1, slurp(M("picture.png")), text, sizeof(text), name, why,
				  AR_OP_IMAGE_DETECT), -ENOTSUP);
	assert_string_equal(why, "torch: image_detect needs a detection model; this plugin "
				 "serves image classification only");
	assert_int_equal(classify(1, 1, slurp(M("picture.png")), text, sizeof(text), name, why,
				  AR_OP_IMAGE_DEPTH), -ENOTSUP);
}

static int group_setup(void **state)
{
	(void)state;
	plug_dl = dlopen(AR_TORCH_PLUGIN, RTLD_NOW | RTLD_LOCAL);
	if (!plug_dl) {
		fprintf(stderr, "dlopen: %s\n", dlerror());
		return -1;
	}
	plug = (const struct ar_plugin *)dlsym(plug_dl, AR_PLUGIN_SYMBOL);
	return plug && plug->abi_version == AR_PLUGIN_ABI_VERSION ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	if (plug_dl)
		dlclose(plug_dl);
	return 0;
}

static int each_teardown(void **state)
{
	(void)state;
	stop();
	return 0;
}

int main(void)
{
#define T(fn) cmocka_unit_test_teardown(fn, each_teardown)
	const struct CMUnitTest tests[] = {
		T(test_plugin_torch_descriptor),  T(test_plugin_torch_run_tiny),
		T(test_plugin_torch_run_resnet18), T(test_plugin_torch_sessions),
		T(test_plugin_torch_bad_models),  T(test_plugin_torch_bad_inputs),
		T(test_plugin_torch_batch),       T(test_plugin_torch_batch_fallback),
		T(test_plugin_torch_output_type), T(test_plugin_torch_shared_cache),
		T(test_plugin_torch_threads),     T(test_plugin_torch_classify),
		T(test_plugin_torch_oversized),   T(test_plugin_torch_settings),
		T(test_plugin_torch_detect),
	};
#undef T

	return cmocka_run_group_tests_name("plugin_torch", tests, group_setup, group_teardown);
}

// SPDX-License-Identifier: Apache-2.0
/*
 * bench_torch - the torch plugin (its .so, dlopen()ed, driven through
 * struct ar_plugin as the broker drives it) against libtorch in this
 * process (tests/torch_ref.h), same thread count on both sides:
 *   - one forward of each model through the plugin / the reference: what
 *     the plugin's own path (argument checks, from_blob, output copy)
 *     costs on top of libtorch;
 *   - k single-row runs of tiny.pt as one batch() / as k single ops: what
 *     cross-session batching gains where it can.
 * Medians of repeated runs, and ratios to the baseline of the same run
 * (PLATFORM.md: absolute times move between runs on these machines).
 * Usage: bench_torch [reps] (default 20).
 */
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <dlfcn.h>
#include <openssl/evp.h>

#include <accelring/optable.h>
#include <accelring/plugin.h>
#include <vaccel/arg.h>
#include <vaccel/ops/torch.h>
#include <vaccel/resource.h>

#include "torch_ref.h"

static const ar_plugin *plug;

static const char *setting(const char *key)
{
	return !strcmp(key, "torch-threads") ? "1" : nullptr;
}

static void logf(int, const char *, ...) {}

static const char *op_name(uint32_t)
{
	return "torch_model_run";
}

static const ar_plugin_host host = { sizeof(ar_plugin_host), AR_LOG_ERROR, logf, op_name,
				     setting };

struct model_file {
	std::string bytes, name;
	ar_resource_file file;
	ar_resource res;
};

static bool model_open(model_file &m, const char *path)
{
	FILE *f = fopen(path, "rb");
	char buf[65536];
	size_t n;
	unsigned int len = 0;

	if (!f)
		return false;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		m.bytes.append(buf, n);
	fclose(f);
	m.name = strrchr(path, '/') + 1;
	memset(&m.file, 0, sizeof(m.file));
	m.file.name = m.name.c_str();
	m.file.data = m.bytes.data();
	m.file.size = m.bytes.size();
	m.file.fd = -1;
	EVP_Digest(m.bytes.data(), m.bytes.size(), m.file.sha256, &len, EVP_sha256(), nullptr);
	memset(&m.res, 0, sizeof(m.res));
	m.res.type = VACCEL_RESOURCE_MODEL;
	m.res.nr_files = 1;
	m.res.files = &m.file;
	memcpy(m.res.sha256, m.file.sha256, 32);
	return true;
}

// One torch_model_run's arguments and outputs.
struct run_args {
	ar_op op;
	char why[256];
	std::vector<int64_t> dims;
	std::vector<float> in;
	int64_t meta[10];
	std::vector<char> out;
	ar_buf rd[3], wr[2];

	run_args(const model_file &m, uint32_t session, std::vector<int64_t> d)
		: dims(std::move(d)), out(1 << 20)
	{
		size_t n = 1;

		for (int64_t x : dims)
			n *= (size_t)x;
		in.resize(n);
		for (size_t i = 0; i < n; i++)
			in[i] = (float)((i * 7919 + session) % 1000) / 500.0f - 1.0f;
		memset(&op, 0, sizeof(op));
		op.op = AR_OP_TORCH_MODEL_RUN;
		op.tenant = session;
		op.session = session;
		op.why = why;
		op.why_cap = sizeof(why);
		rd[0] = { nullptr, 0, VACCEL_ARG_BUFFER, 0 };
		rd[1] = { dims.data(), dims.size() * 8, VACCEL_ARG_INT64_ARRAY, 0 };
		rd[2] = { in.data(), in.size() * 4, VACCEL_ARG_BUFFER, VACCEL_TORCH_FLOAT };
		op.u.generic.resource = &m.res;
		op.u.generic.nr_read = 3;
		op.u.generic.read = rd;
		op.u.generic.nr_write = 2;
		op.u.generic.write = wr;
		reset();
	}

	void reset()
	{
		wr[0] = { meta, sizeof(meta), VACCEL_ARG_INT64_ARRAY, 0 };
		wr[1] = { out.data(), out.size(), VACCEL_ARG_BUFFER, 0 };
	}
};

static int load(const model_file &m, uint32_t session)
{
	ar_op op;

	memset(&op, 0, sizeof(op));
	op.op = AR_OP_TORCH_MODEL_LOAD;
	op.tenant = session;
	op.session = session;
	op.u.generic.resource = &m.res;
	return plug->ops[0].fn(&op);
}

template <typename F> static double median_us(int reps, F &&f)
{
	std::vector<double> t;

	f();	// warm: the first forward profiles the graph
	for (int i = 0; i < reps; i++) {
		auto a = std::chrono::steady_clock::now();
		f();
		auto b = std::chrono::steady_clock::now();
		t.push_back(std::chrono::duration<double, std::micro>(b - a).count());
	}
	std::sort(t.begin(), t.end());
	return t[t.size() / 2];
}

static int single(const char *path, std::vector<int64_t> dims, int reps)
{
	model_file m;
	struct ar_tref *ref = ar_tref_load(path, 1);
	int64_t od[8];
	int ond;

	if (!ref || !model_open(m, path) || load(m, 1))
		return -1;
	run_args a(m, 1, dims);
	std::vector<float> out(1 << 18);
	double p = median_us(reps, [&] {
		a.reset();
		if (plug->ops[0].fn(&a.op))
			abort();
	});
	double r = median_us(reps, [&] {
		if (ar_tref_forward(ref, a.in.data(), a.dims.data(), (int)a.dims.size(),
				    out.data(), out.size() * 4, od, &ond) < 0)
			abort();
	});
	printf("%-24s plugin %10.1f us  in-process %10.1f us  ratio %.3f\n", m.name.c_str(), p, r,
	       p / r);
	plug->session_closed(1, 1);
	ar_tref_free(ref);
	return 0;
}

static int batched(const char *path, int k, int reps)
{
	model_file m;
	std::vector<run_args *> runs;
	std::vector<ar_op *> ops;

	if (!model_open(m, path))
		return -1;
	for (int i = 0; i < k; i++) {
		if (load(m, 10 + i))
			return -1;
		runs.push_back(new run_args(m, 10 + i, { 1, 3, 32, 32 }));
		ops.push_back(&runs.back()->op);
	}
	double one = median_us(reps, [&] {
		for (run_args *a : runs) {
			a->reset();
			if (plug->ops[0].fn(&a->op))
				abort();
		}
	});
	double b = median_us(reps, [&] {
		for (run_args *a : runs)
			a->reset();
		plug->batch(ops.data(), (uint32_t)k);
		for (run_args *a : runs)
			if (a->op.status)
				abort();
	});
	printf("tiny.pt x%-2d 1-row runs    alone %10.1f us  batch() %10.1f us  ratio %.3f\n", k,
	       one, b, b / one);
	for (int i = 0; i < k; i++) {
		plug->session_closed(10 + i, 10 + i);
		delete runs[i];
	}
	return 0;
}

int main(int argc, char **argv)
{
	int reps = argc > 1 ? atoi(argv[1]) : 20;
	void *dl = dlopen(AR_TORCH_PLUGIN, RTLD_NOW | RTLD_LOCAL);

	if (reps < 1 || !dl || !(plug = (const ar_plugin *)dlsym(dl, AR_PLUGIN_SYMBOL)) ||
	    plug->init(&host)) {
		fprintf(stderr, "bench_torch: cannot start the plugin (%s)\n", dl ? "init" : dlerror());
		return 1;
	}
	printf("bench_torch: 1 intra-op thread each side, median of %d\n", reps);
	if (single(AR_TEST_MODELS_DIR "/tiny.pt", { 1, 3, 32, 32 }, reps) ||
	    single(AR_TEST_MODELS_DIR "/mobilenet_v3_small.pt", { 1, 3, 224, 224 }, reps) ||
	    single(AR_TEST_MODELS_DIR "/resnet18.pt", { 1, 3, 224, 224 }, reps) ||
	    batched(AR_TEST_MODELS_DIR "/tiny.pt", 8, reps) ||
	    batched(AR_TEST_MODELS_DIR "/tiny.pt", 32, reps))
		return 1;
	plug->fini();
	return 0;
}

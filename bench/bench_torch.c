/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_torch - TorchScript inference through accelringd's torch plugin,
 * the vAccel way (vaccel_torch_model_load / vaccel_torch_model_run from
 * libvaccel), against libtorch in process (tests/torch_ref.h), with the
 * same intra-op threads on both sides (--threads, the broker's
 * torch-threads), measured in the same run:
 *
 *   - latency: one forward of --model (default resnet18) on one float
 *     input (1x3x224x224; tiny takes 1x3x32x32), one op in flight: the
 *     forward by ar_tref_forward in a process of its own (the baseline),
 *     and vaccel_torch_model_run over shared memory (against it), a UNIX
 *     stream socket and TCP loopback (against shared memory: what a VM's
 *     stream costs on top). The four processes take turns of --block
 *     forwards (default 5) until each has done --runs, so that the
 *     machine's drift falls on all of them alike. Each broker output is checked bit for
 *     bit against the in-process one first.
 *   - throughput: --clients processes (default 16) forwarding
 *     --clients-model (default mobilenet_v3_small) as fast as they can,
 *     each with its own session and resource, for --seconds after a
 *     warm-up: through one broker without coalescing (batch-delay-us=0)
 *     against as many processes running ar_tref_forward at once (sharing
 *     the CPUs), and through one broker coalescing the clients'
 *     torch_model_run calls (--batch-delay-us, --batch-max) against the
 *     one without. The rows give the aggregate ops/s (ops that ended in
 *     the window, over its length) and each op's latency over all the
 *     processes; the coalescing row's note has the mean batch formed,
 *     from the broker's debug log of the window.
 *
 * Every process is a child of this one, which never runs libtorch or
 * opens a vAccel session itself: a fork after libtorch's threads started
 * is not safe, and libvaccel's connection is per process.
 * Unpinned throughout: the broker's worker, its long-op threads and the
 * clients share the CPUs as the scheduler places them.
 *
 * usage: bench_torch [--json] [--model F] [--runs N] [--block N] [--threads T]
 *                    [--clients N] [--clients-model F] [--seconds S]
 *                    [--batch-delay-us U] [--batch-max M]
 *   models are files of the build's tests/models (tests/models/make_models.py);
 *   --clients 0 leaves the throughput rows out (for a look at latency alone)
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <vaccel.h>

#include "bench_common.h"
#include "broker_harness.h"
#ifdef AR_BENCH_TORCH
#include "torch_ref.h"
#endif

#ifndef AR_TEST_MODELS_DIR
#error "AR_TEST_MODELS_DIR must name the directory of the test models"
#endif
#define TORCH_PLUGIN AR_PLUGIN_BUILD_DIR "/libaccelring-torch.so"

#define MAX_RUNNERS 64
#define CAP (1u << 15)		/* samples a runner keeps per command */
#define OUT_CAP 4096		/* floats of the first output kept for the check */
#define WARMUP 3		/* forwards before a runner says it is ready */
#define WINDOW_WARMUP_MS 500	/* throughput: running, not yet counted */

static struct {
	const char *model, *clients_model;
	uint32_t runs, block, clients, threads, batch_delay_us, batch_max;
	double seconds;
} opt = {
	.model = "resnet18.pt",
	.clients_model = "mobilenet_v3_small.pt",
	.runs = 200,
	.block = 5,
	.clients = 16,
	.threads = 1,
	.batch_delay_us = 2000,
	.batch_max = 16,
	.seconds = 5.0,
};

static void skipped(const char *name, const char *why)
{
	struct result *r = &results[nresults++];

	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", name);
	snprintf(r->baseline, sizeof(r->baseline), "%s", name);
	snprintf(r->note, sizeof(r->note), "skipped: %s", why);
	r->skipped = true;
}

/* "resnet18.pt" -> "resnet18": what row names carry. */
static void stem(const char *model, char *out, size_t cap)
{
	const char *b = strrchr(model, '/');

	snprintf(out, cap, "%s", b ? b + 1 : model);
	if (strlen(out) > 3 && !strcmp(out + strlen(out) - 3, ".pt"))
		out[strlen(out) - 3] = '\0';
}

/* The row names, also for the rows skipped. */
static void latency_name(char *out, size_t cap, const char *how)
{
	char m[40];

	stem(opt.model, m, sizeof(m));
	snprintf(out, cap, "torch_%s_%s", m, how);
}

static void clients_name(char *out, size_t cap, const char *how)
{
	snprintf(out, cap, "torch_clients%u_%s", opt.clients, how);
}

static const char *const latency_rows[] = { "inprocess", "shm", "unix_stream", "tcp",
					     "shm_inbroker" };
static const char *const clients_rows[] = { "inprocess", "nobatch", "batch" };

static void skip_all(const char *why)
{
	char name[64];

	for (size_t i = 0; i < sizeof(latency_rows) / sizeof(latency_rows[0]); i++) {
		latency_name(name, sizeof(name), latency_rows[i]);
		skipped(name, why);
	}
	for (size_t i = 0; i < sizeof(clients_rows) / sizeof(clients_rows[0]); i++) {
		clients_name(name, sizeof(name), clients_rows[i]);
		skipped(name, why);
	}
}

#ifdef AR_BENCH_TORCH

__attribute__((format(printf, 1, 2), noreturn)) static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "bench_torch: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	/* The harness's atexit handler stops the broker; runners see their
	 * command pipes close and exit. */
	exit(1);
}

/* ---- runners: the processes that forward ---- */

/* One runner's part of the shared memory: written by the runner while it
 * runs a command, read by the parent after the runner said done (the
 * pipe's write and read order the two). */
struct slot {
	uint64_t n;		/* samples in s[] from the last command */
	uint64_t ops;		/* throughput: ops that ended in the window */
	int64_t out_bytes;	/* the first output's size, for the check */
	float out[OUT_CAP];
	uint64_t s[CAP];	/* ns per op */
};

/* A command: count forwards (latency), or forwards until until_ns,
 * counting those that end after from_ns (throughput); all zero: exit. */
struct cmd {
	uint64_t count, from_ns, until_ns;
};

enum kind { K_INPROC, K_VACCEL };

struct runner {
	pid_t pid;
	int cmd, done;		/* the parent's ends of the runner's pipes */
	struct slot *slot;
};

/* What a runner forwards with, in its own process. */
struct ctx {
	enum kind kind;
	struct ar_tref *ref;
	struct vaccel_session sess;
	struct vaccel_resource res;
	struct vaccel_torch_tensor *in;
	float *x;
	int64_t dims[4];
	size_t nx;
	float out[OUT_CAP];
};

static struct slot *slots;

/* A runner has no broker to stop and must not run the parent's atexit
 * handlers (they would stop the parent's broker): _exit. */
__attribute__((format(printf, 1, 2), noreturn)) static void runner_die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "bench_torch: runner %d: ", (int)getpid());
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	_exit(1);
}

static void model_path(const char *model, char *out, size_t cap)
{
	if (strchr(model, '/'))
		snprintf(out, cap, "%s", model);
	else
		snprintf(out, cap, "%s/%s", AR_TEST_MODELS_DIR, model);
}

/* tests/models/make_models.py: tiny takes Nx3x32x32, the torchvision
 * models Nx3x224x224; one image here. */
static void ctx_input(struct ctx *c, const char *model)
{
	int64_t side = strstr(model, "tiny") ? 32 : 224;
	uint32_t seed = 12345;

	c->dims[0] = 1;
	c->dims[1] = 3;
	c->dims[2] = side;
	c->dims[3] = side;
	c->nx = (size_t)(3 * side * side);
	c->x = malloc(c->nx * sizeof(float));
	if (!c->x)
		runner_die("out of memory");
	for (size_t i = 0; i < c->nx; i++) {
		seed = seed * 1664525u + 1013904223u;
		c->x[i] = (float)((seed >> 8) & 0xffff) / 32768.0f - 1.0f;
	}
}

static void ctx_init(struct ctx *c, enum kind kind, const char *model, const char *addr)
{
	char path[512];
	int ret;

	memset(c, 0, sizeof(*c));
	c->kind = kind;
	model_path(model, path, sizeof(path));
	ctx_input(c, model);
	if (kind == K_INPROC) {
		c->ref = ar_tref_load(path, (int)opt.threads);
		if (!c->ref)
			runner_die("ar_tref_load %s failed", path);
		return;
	}
	/* libvaccel connects at its first call, to $ACCELRING_ADDRESS. */
	setenv("ACCELRING_ADDRESS", addr, 1);
	if ((ret = vaccel_session_init(&c->sess, 0)) ||
	    (ret = vaccel_resource_init(&c->res, path, VACCEL_RESOURCE_MODEL)) ||
	    (ret = vaccel_resource_register(&c->res, &c->sess)) ||
	    (ret = vaccel_torch_model_load(&c->sess, &c->res)) ||
	    (ret = vaccel_torch_tensor_new(&c->in, 4, c->dims, VACCEL_TORCH_FLOAT)) ||
	    (ret = vaccel_torch_tensor_set_data(c->in, c->x, c->nx * sizeof(float))))
		runner_die("%s over %s: vAccel error %d", path, addr, ret);
}

/* One forward; the first output's bytes (kept in c->out up to OUT_CAP
 * floats) or -1. */
static long forward(struct ctx *c)
{
	struct vaccel_torch_tensor *out = NULL;
	int64_t odims[8];
	int ond;
	long bytes;

	if (c->kind == K_INPROC)
		return ar_tref_forward(c->ref, c->x, c->dims, 4, c->out, sizeof(c->out), odims,
				       &ond);
	if (vaccel_torch_model_run(&c->sess, &c->res, NULL, &c->in, 1, &out, 1) || !out)
		return -1;
	bytes = (long)out->size;
	memcpy(c->out, out->data, out->size < sizeof(c->out) ? out->size : sizeof(c->out));
	vaccel_torch_tensor_delete(out);
	return bytes;
}

static void runner_main(enum kind kind, const char *model, const char *addr, struct slot *sl,
			int cmd_fd, int done_fd)
{
	struct ctx c;
	struct cmd m;
	long bytes = -1;

	ctx_init(&c, kind, model, addr);
	for (int i = 0; i < WARMUP; i++)
		if ((bytes = forward(&c)) <= 0)
			runner_die("forward failed (warm-up)");
	sl->out_bytes = bytes;
	memcpy(sl->out, c.out, sizeof(sl->out));
	if (write(done_fd, "r", 1) != 1)
		runner_die("parent gone");
	while (read(cmd_fd, &m, sizeof(m)) == (ssize_t)sizeof(m) && (m.count || m.until_ns)) {
		sl->n = sl->ops = 0;
		for (uint64_t i = 0; m.count ? i < m.count : now_ns() < m.until_ns; i++) {
			uint64_t t0 = now_ns(), t1;

			if (forward(&c) != bytes)
				runner_die("forward failed");
			t1 = now_ns();
			if (m.count || t1 > m.from_ns) {
				if (t1 <= m.until_ns || m.count)
					sl->ops++;
				if (sl->n < CAP)
					sl->s[sl->n++] = t1 - t0;
			}
		}
		if (write(done_fd, "d", 1) != 1)
			runner_die("parent gone");
	}
	/* The session and resource go with the connection. */
	_exit(0);
}

static void runner_start(struct runner *r, int idx, enum kind kind, const char *model,
			 const char *addr)
{
	int cmd[2], done[2];

	if (pipe2(cmd, O_CLOEXEC) || pipe2(done, O_CLOEXEC))
		die("pipe: %s", strerror(errno));
	r->slot = &slots[idx];
	r->pid = fork();
	if (r->pid < 0)
		die("fork: %s", strerror(errno));
	if (r->pid == 0) {
		close(cmd[1]);
		close(done[0]);
		runner_main(kind, model, addr, r->slot, cmd[0], done[1]);
	}
	close(cmd[0]);
	close(done[1]);
	r->cmd = cmd[1];
	r->done = done[0];
}

/* The runner's next byte: its ready after start, its done after a
 * command. */
static void runner_wait(const struct runner *r)
{
	char b;

	if (read(r->done, &b, 1) != 1)
		die("a runner (pid %d) failed: see above", (int)r->pid);
}

static void runner_send(const struct runner *r, uint64_t count, uint64_t from, uint64_t until)
{
	struct cmd m = { count, from, until };

	if (write(r->cmd, &m, sizeof(m)) != (ssize_t)sizeof(m))
		die("a runner (pid %d) is gone", (int)r->pid);
}

static void runner_stop(struct runner *r)
{
	runner_send(r, 0, 0, 0);
	close(r->cmd);
	close(r->done);
	reap(r->pid);
}

/* ---- brokers ---- */

static void broker_start(struct test_broker *b, uint32_t delay_us, const char *isolation)
{
	char threads[48], delay[48], max[48];
	const char *args[] = { isolation, "--plugins=" TORCH_PLUGIN, threads, "--tcp=127.0.0.1:0",
			       "--allow-peers=127.0.0.1", delay, max,
			       /* All the clients here are one tenant (one uid),
				* where in use they would be as many (VMs,
				* containers): its long ops (each forward) are not
				* held to the default 4 at once. */
			       "--tenant-long-ops=0",
			       /* Each coalesced call is a line: the mean batch. */
			       "--log-level=debug", NULL };

	snprintf(threads, sizeof(threads), "--torch-threads=%u", opt.threads);
	snprintf(delay, sizeof(delay), "--batch-delay-us=%u", delay_us);
	snprintf(max, sizeof(max), "--batch-max=%u", opt.batch_max);
	if (test_broker_start(b, args))
		die("cannot start accelringd");
}

static off_t log_size(const struct test_broker *b)
{
	struct stat st;

	return stat(b->log, &st) ? 0 : st.st_size;
}

/* The coalesced calls the broker logged in bytes [from, to) of its log:
 * "torch_model_run: N ops of M tenants in one call after U us". */
struct batches {
	uint64_t calls, ops, largest, waited_us;
};

static struct batches log_batches(const struct test_broker *b, off_t from, off_t to)
{
	struct batches s = { 0 };
	FILE *f = fopen(b->log, "r");
	char line[512];

	if (!f)
		return s;
	fseeko(f, from, SEEK_SET);
	while (ftello(f) < to && fgets(line, sizeof(line), f)) {
		const char *p = strstr(line, "torch_model_run: ");
		unsigned n, t;
		unsigned long long us;

		if (p && sscanf(p, "torch_model_run: %u ops of %u tenants in one call after %llu us",
				&n, &t, &us) == 3) {
			s.calls++;
			s.ops += n;
			s.waited_us += us;
			if (n > s.largest)
				s.largest = n;
		}
	}
	fclose(f);
	return s;
}

/* ---- latency ---- */

/* Each broker output equals the in-process one, bit for bit (the same
 * libtorch, model, input and threads; test_broker_torch checks it too). */
static void check_outputs(const struct runner *rs, int n)
{
	for (int i = 1; i < n; i++) {
		const struct slot *a = rs[0].slot, *b = rs[i].slot;
		size_t bytes = (size_t)a->out_bytes < sizeof(a->out) ? (size_t)a->out_bytes :
									 sizeof(a->out);

		if (a->out_bytes != b->out_bytes || memcmp(a->out, b->out, bytes))
			die("the broker's output (%s) differs from libtorch's in process",
			    latency_rows[i]);
	}
}

static void bench_latency(void)
{
	enum { NR = 5 };
	struct test_broker b, b2;
	struct runner rs[NR];
	char addr[NR][256], name[64];
	uint64_t *all[NR], n = 0;
	struct result *r[NR];

	broker_start(&b, 0, "--isolation=torch:plugin");
	broker_start(&b2, 0, "--isolation=torch:none");
	snprintf(addr[4], sizeof(addr[4]), "unix://%s", b2.sock);
	snprintf(addr[1], sizeof(addr[1]), "unix://%s", b.sock);
	snprintf(addr[2], sizeof(addr[2]), "unix-stream://%s", b.sock);
	snprintf(addr[3], sizeof(addr[3]), "tcp://%s", b.tcp);
	for (int i = 0; i < NR; i++) {
		all[i] = calloc(opt.runs, sizeof(uint64_t));
		if (!all[i])
			die("out of memory");
		runner_start(&rs[i], i, i ? K_VACCEL : K_INPROC, opt.model, addr[i]);
	}
	for (int i = 0; i < NR; i++)
		runner_wait(&rs[i]);
	check_outputs(rs, NR);
	/* Turns of opt.block forwards, each round starting with the next
	 * runner: one runs at a time, the others wait in read(). */
	for (uint32_t turn = 0; n < opt.runs; turn++) {
		uint64_t per = opt.runs - n < opt.block ? opt.runs - n : opt.block;

		for (int k = 0; k < NR; k++) {
			int i = (int)((turn + (uint32_t)k) % NR);

			runner_send(&rs[i], per, 0, 0);
			runner_wait(&rs[i]);
			memcpy(all[i] + n, rs[i].slot->s, per * sizeof(uint64_t));
		}
		n += per;
	}
	for (int i = 0; i < NR; i++)
		runner_stop(&rs[i]);
	if (!test_broker_alive(&b) || !test_broker_alive(&b2))
		die("accelringd died");
	test_broker_stop(&b);
	test_broker_stop(&b2);
	for (int i = 0; i < NR; i++) {
		latency_name(name, sizeof(name), latency_rows[i]);
		r[i] = add(name, all[i], n, 1.0);
		r[i]->p999 = -1;
		free(all[i]);
	}
	for (int i = 0; i < NR; i++) {
		/* The stream rows against shm; the in-broker row against the
		 * isolated one's baseline, in process (and shm against it in
		 * its note). */
		const struct result *base = r[i > 1 && i < 4 ? 1 : 0];

		r[i]->ratio = r[i]->p50 / base->p50;
		snprintf(r[i]->baseline, sizeof(r[i]->baseline), "%s", base->name);
	}
	snprintf(r[0]->note, sizeof(r[0]->note),
		 "ar_tref_forward: libtorch in a process of its own; %u thread%s; %llu runs in "
		 "turns of %u with the others", opt.threads, opt.threads == 1 ? "" : "s",
		 (unsigned long long)n, opt.block);
	snprintf(r[1]->note, sizeof(r[1]->note),
		 "vaccel_torch_model_run over shm, the plugin in a host process (default); "
		 "p50 %+.2f ms over in process, %.3fx in the broker",
		 (r[1]->p50 - r[0]->p50) / 1e6, r[1]->p50 / r[4]->p50);
	snprintf(r[4]->note, sizeof(r[4]->note),
		 "the same with the plugin loaded in the broker (isolation=torch:none); p50 %+.2f "
		 "ms over in process", (r[4]->p50 - r[0]->p50) / 1e6);
	for (int i = 2; i < 4; i++)
		snprintf(r[i]->note, sizeof(r[i]->note),
			 "the same over %s; p50 %+.2f ms over shm, %.3fx in process",
			 i == 2 ? "a UNIX stream socket" : "TCP loopback",
			 (r[i]->p50 - r[1]->p50) / 1e6, r[i]->p50 / r[0]->p50);
}

/* ---- throughput ---- */

/* opt.clients runners of kind at once for the window; a row of their
 * ops. With a broker, *bt gets the coalesced calls it logged in the
 * window. */
static struct result *clients_run(enum kind kind, const struct test_broker *b,
				  const char *how, struct batches *bt)
{
	struct runner rs[MAX_RUNNERS];
	uint64_t from, until, ops = 0, kept = 0, *all;
	off_t log0 = 0, log1 = 0;
	char addr[256] = "", name[64];
	struct result *r;
	struct timespec ts;

	if (b)
		snprintf(addr, sizeof(addr), "unix://%s", b->sock);
	for (uint32_t i = 0; i < opt.clients; i++)
		runner_start(&rs[i], (int)i, kind, opt.clients_model, addr);
	for (uint32_t i = 0; i < opt.clients; i++)
		runner_wait(&rs[i]);
	from = now_ns() + WINDOW_WARMUP_MS * 1000000ull;
	until = from + (uint64_t)(opt.seconds * 1e9);
	for (uint32_t i = 0; i < opt.clients; i++)
		runner_send(&rs[i], 0, from, until);
	if (b) {
		ts = (struct timespec){ .tv_sec = (time_t)(from / 1000000000u),
					.tv_nsec = (long)(from % 1000000000u) };
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		log0 = log_size(b);
		ts = (struct timespec){ .tv_sec = (time_t)(until / 1000000000u),
					.tv_nsec = (long)(until % 1000000000u) };
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		log1 = log_size(b);
	}
	all = malloc((size_t)opt.clients * CAP * sizeof(*all));
	if (!all)
		die("out of memory");
	for (uint32_t i = 0; i < opt.clients; i++) {
		runner_wait(&rs[i]);
		memcpy(all + kept, rs[i].slot->s, rs[i].slot->n * sizeof(*all));
		kept += rs[i].slot->n;
		ops += rs[i].slot->ops;
	}
	for (uint32_t i = 0; i < opt.clients; i++)
		runner_stop(&rs[i]);
	if (!ops)
		die("%s: no op ended in the window", how);
	clients_name(name, sizeof(name), how);
	r = add(name, all, kept, 1.0);
	free(all);
	if (kept < 1000)
		r->p999 = -1;
	r->ops = (double)ops * 1e9 / (double)(until - from);
	if (b)
		*bt = log_batches(b, log0, log1);
	return r;
}

static void bench_clients(void)
{
	struct result *in, *nob, *bat;
	struct test_broker b;
	struct batches bt;
	char m[40];

	stem(opt.clients_model, m, sizeof(m));
	in = clients_run(K_INPROC, NULL, "inprocess", NULL);
	in->ratio = 1.0;
	snprintf(in->baseline, sizeof(in->baseline), "%s", in->name);
	snprintf(in->note, sizeof(in->note),
		 "%u processes forwarding %s by ar_tref_forward at once, %u thread%s each; %.1f s",
		 opt.clients, m, opt.threads, opt.threads == 1 ? "" : "s", opt.seconds);

	broker_start(&b, 0, "--isolation=torch:plugin");
	nob = clients_run(K_VACCEL, &b, "nobatch", &bt);
	if (!test_broker_alive(&b))
		die("accelringd died");
	test_broker_stop(&b);
	nob->ratio = in->ops / nob->ops;
	snprintf(nob->baseline, sizeof(nob->baseline), "%s", in->name);
	snprintf(nob->note, sizeof(nob->note),
		 "%u vAccel clients, one session and resource each, over shm; batch-delay-us=0; "
		 "%.2fx in-process ops/s", opt.clients, nob->ops / in->ops);

	broker_start(&b, opt.batch_delay_us, "--isolation=torch:plugin");
	bat = clients_run(K_VACCEL, &b, "batch", &bt);
	if (!test_broker_alive(&b))
		die("accelringd died");
	test_broker_stop(&b);
	bat->ratio = nob->ops / bat->ops;
	snprintf(bat->baseline, sizeof(bat->baseline), "%s", nob->name);
	snprintf(bat->note, sizeof(bat->note),
		 "batch-delay-us=%u batch-max=%u: %.1f ops a call (%llu calls, largest %llu, "
		 "mean wait %.0f us); %.2fx in-process ops/s", opt.batch_delay_us, opt.batch_max,
		 bt.calls ? (double)bt.ops / (double)bt.calls : 0.0,
		 (unsigned long long)bt.calls, (unsigned long long)bt.largest,
		 bt.calls ? (double)bt.waited_us / (double)bt.calls : 0.0, bat->ops / in->ops);
}

#endif /* AR_BENCH_TORCH */

static void usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s [--json] [--model F] [--runs N] [--block N] [--threads T]\n"
		"       [--clients N] [--clients-model F] [--seconds S]\n"
		"       [--batch-delay-us U] [--batch-max M]\n", argv0);
	exit(2);
}

static bool u32_arg(const char *s, uint32_t lo, uint32_t hi, uint32_t *v)
{
	char *end;
	unsigned long x = strtoul(s, &end, 10);

	if (end == s || *end || x < lo || x > hi)
		return false;
	*v = (uint32_t)x;
	return true;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		BENCH_COMMON_OPTIONS,
		{ "model", required_argument, NULL, 'm' },
		{ "runs", required_argument, NULL, 'r' },
		{ "block", required_argument, NULL, 'B' },
		{ "threads", required_argument, NULL, 't' },
		{ "clients", required_argument, NULL, 'C' },
		{ "clients-model", required_argument, NULL, 'M' },
		{ "seconds", required_argument, NULL, 's' },
		{ "batch-delay-us", required_argument, NULL, 'd' },
		{ "batch-max", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	bool ok = true;
	int c;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'm':
			opt.model = optarg;
			break;
		case 'M':
			opt.clients_model = optarg;
			break;
		case 'r':
			ok = u32_arg(optarg, 1, CAP, &opt.runs);
			break;
		case 'B':
			ok = u32_arg(optarg, 1, CAP, &opt.block);
			break;
		case 't':
			ok = u32_arg(optarg, 1, 64, &opt.threads);
			break;
		case 'C':
			ok = u32_arg(optarg, 0, MAX_RUNNERS, &opt.clients);
			break;
		case 's':
			opt.seconds = strtod(optarg, NULL);
			ok = opt.seconds > 0 && opt.seconds <= 600;
			break;
		case 'd':
			ok = u32_arg(optarg, 1, 1000000, &opt.batch_delay_us);
			break;
		case 'b':
			ok = u32_arg(optarg, 2, 1024, &opt.batch_max);
			break;
		default:
			ok = bench_option(c, optarg);
		}
		if (!ok)
			usage(argv[0]);
	}
	if (!bench_setup())
		usage(argv[0]);
	/* Unpinned throughout (see the top). */
	unpin();
	bench.pinned = false;
	/* Our brokers speak every transport, whatever a test run asked of
	 * the harness. */
	unsetenv("ACCELRING_TEST_TRANSPORT");
#ifdef AR_BENCH_TORCH
	if (access(TORCH_PLUGIN, R_OK)) {
		skip_all("torch plugin not built (no " TORCH_PLUGIN ")");
	} else {
		/* Big enough for every runner at once. */
		slots = (struct slot *)shm_new((size_t)MAX_RUNNERS * sizeof(struct slot));
		bench_latency();
		if (opt.clients)
			bench_clients();
	}
#else
	skip_all("torch plugin not built (no libtorch in this build)");
#endif
	print_table("Latency rows: p50/p99 of the forwards, one in flight; ratio = p50 / the\n"
		    "baseline's p50 (in process for shm, shm for the stream transports).\n"
		    "Throughput rows (ops/s over all clients; p50/p99 per op): ratio = the\n"
		    "baseline's ops/s / ours, below 1 is more work done.");
	return 0;
}

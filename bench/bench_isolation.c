/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_isolation - what running a plugin in a host process of its own
 * (isolation = plugin) costs against the same plugin loaded in the broker
 * (isolation = none), measured in the same run on two real brokers:
 *   - the noop round trip over shared memory, busy-polling and with the
 *     defaults (spin 20 us, then sleep): the framework's cost, where the
 *     extra hop (worker -> host -> worker) shows the most;
 *   - blas sgemm at 64, 256 and 1024, matrices in the data area: the host
 *     maps it, so they are not copied.
 * The noop rows alternate between the two, one broker running at a time
 * (a busy-polling broker left idle would take the CPU from the other), six
 * rounds each on a fresh broker; the sgemm rows keep both brokers up (their
 * workers sleep when idle) and take turns of --block / 20 runs. Either way
 * the machine's drift falls on both alike. Each row's ratio is its p50 over
 * the in-broker row's.
 *
 * usage: bench_isolation [--json] [--iters N] [--reps N] [--cpus A,B] [--block N]
 */
#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <accelring/client.h>

#include "bench_common.h"
#include "broker_harness.h"

enum { NONE, PLUGIN, NR };
static const char *const how[NR] = { "inbroker", "isolated" };

static uint32_t block = 200;

struct side {
	struct test_broker b;
	struct ar_client *c;
	struct ar_queue *q;
	uint32_t sid;
};

static void side_start(struct side *s, int iso, const char *spin_us)
{
	char spin[48];
	const char *args[] = { spin, "--workers=1",
			       iso == PLUGIN ? "--isolation=noop:plugin,blas:plugin" :
					       "--isolation=none", NULL };
	char addr[256];

	snprintf(spin, sizeof(spin), "--spin-us=%s", spin_us);
	if (test_broker_start(&s->b, args)) {
		fprintf(stderr, "bench_isolation: cannot start accelringd\n");
		exit(1);
	}
	snprintf(addr, sizeof(addr), "unix://%s", s->b.sock);
	if (ar_client_connect(addr, &s->c) || ar_queue_get(s->c, &s->q) ||
	    ar_session_open(s->q, 0, &s->sid)) {
		fprintf(stderr, "bench_isolation: cannot open a session\n");
		exit(1);
	}
}

/* The client on the first CPU, the broker on the second, and a host on
 * HOST_CPU (env, default the second: with the worker that waits for it). */
static void place(struct side *s)
{
	pid_t h[4];
	const char *hc = getenv("HOST_CPU");
	int n;

	if (!bench.pinned)
		return;
	pin(0);
	pin_tasks(s->b.pid, bench.cpu[1]);
	n = test_broker_hosts(&s->b, h, 4);
	for (int i = 0; i < n; i++)
		pin_tasks(h[i], bench.cpu[hc ? atoi(hc) : 1]);
}

static void side_stop(struct side *s)
{
	ar_client_close(s->c);
	if (!test_broker_alive(&s->b)) {
		fprintf(stderr, "bench_isolation: accelringd died\n");
		exit(1);
	}
	test_broker_stop(&s->b);
}

static void ratios(int first, const char *note0, const char *note1)
{
	results[first].ratio = 1.0;
	memcpy(results[first].baseline, results[first].name, sizeof(results[0].baseline));
	results[first + 1].ratio = results[first + 1].p50 / results[first].p50;
	memcpy(results[first + 1].baseline, results[first].name, sizeof(results[0].baseline));
	snprintf(results[first].note, sizeof(results[0].note), "%s", note0);
	snprintf(results[first + 1].note, sizeof(results[0].note), "%s; p50 %+.2f us",
		 note1, (results[first + 1].p50 - results[first].p50) / 1e3);
}

/* One broker at a time: an idle broker's busy-polling worker (and host)
 * would take the CPU from the other's. NONE and PLUGIN alternate, ROUNDS
 * times, each round on a fresh broker. */
#define ROUNDS 6

static void bench_noop(const char *name, const char *spin_us, const char *client_spin_ns,
		       const char *note)
{
	uint64_t n = bench.iters / ROUNDS, *s[NR], kept = 0;
	struct ar_cqe cqe;
	char row[64];
	int first = nresults;

	if (n < 100)
		n = 100;
	setenv("ACCELRING_SPIN_NS", client_spin_ns, 1);
	for (int k = 0; k < NR; k++) {
		s[k] = calloc(n * ROUNDS, sizeof(uint64_t));
		if (!s[k])
			exit(1);
	}
	for (int round = 0; round < ROUNDS; round++) {
		for (int k = 0; k < NR; k++) {
			struct side sd;

			side_start(&sd, k, spin_us);
			place(&sd);
			for (uint64_t i = 0; i < n; i++) {
				uint64_t t0 = now_ns();

				if (ar_submit_noop(sd.q, sd.sid, i) ||
				    ar_wait(sd.q, &cqe, 1, 1, -1) != 1 || cqe.status)
					exit(1);
				/* The first tenth of each round is its warm-up
				 * (the host's first op maps the data area). */
				if (i >= n / 10)
					s[k][kept + i - n / 10] = now_ns() - t0;
			}
			side_stop(&sd);
		}
		kept += n - n / 10;
	}
	for (int k = 0; k < NR; k++) {
		snprintf(row, sizeof(row), "%s_%s", name, how[k]);
		add(row, s[k], kept, 1.0);
		free(s[k]);
	}
	unsetenv("ACCELRING_SPIN_NS");
	ratios(first, note, "the noop plugin in a host process (isolation=plugin)");
}

static void bench_sgemm(int64_t d, uint32_t runs)
{
	size_t bytes = (size_t)(d * d * 4);
	uint64_t *s[NR];
	struct side sd[NR];
	struct ar_sgemm sg[NR];
	struct ar_cqe cqe;
	uint32_t per_block = block / 20 ? block / 20 : 1;
	char row[64], note[160];
	int first = nresults;

	/* Unpinned: OpenBLAS uses every CPU, in the broker and in a host. */
	unpin();
	for (int k = 0; k < NR; k++) {
		float *a, *b, *c;

		side_start(&sd[k], k, "20");
		s[k] = calloc(runs, sizeof(uint64_t));
		a = ar_buf_alloc(sd[k].q, bytes);
		b = ar_buf_alloc(sd[k].q, bytes);
		c = ar_buf_alloc(sd[k].q, bytes);
		if (!s[k] || !a || !b || !c) {
			fprintf(stderr, "bench_isolation: data area too small for %lld\n",
				(long long)d);
			exit(1);
		}
		for (int64_t i = 0; i < d * d; i++)
			a[i] = (float)(i % 13) / 13, b[i] = (float)(i % 7) / 7;
		sg[k] = (struct ar_sgemm){ .m = d, .n = d, .k = d, .lda = d, .ldb = d, .ldc = d,
					   .alpha = 1, .beta = 0, .a = a, .b = b, .c = c };
		/* Warm-up: the host maps the data area, OpenBLAS starts. */
		if (ar_submit_sgemm(sd[k].q, sd[k].sid, &sg[k], 0) ||
		    ar_wait(sd[k].q, &cqe, 1, 1, -1) != 1 || cqe.status)
			exit(1);
	}
	for (uint32_t done = 0; done < runs;) {
		uint32_t per = runs - done < per_block ? runs - done : per_block;

		for (int k = 0; k < NR; k++) {
			for (uint32_t i = 0; i < per; i++) {
				uint64_t t0 = now_ns();

				if (ar_submit_sgemm(sd[k].q, sd[k].sid, &sg[k], i) ||
				    ar_wait(sd[k].q, &cqe, 1, 1, -1) != 1 || cqe.status)
					exit(1);
				s[k][done + i] = now_ns() - t0;
			}
		}
		done += per;
	}
	/* Both computed the same product. */
	if (memcmp(sg[NONE].c, sg[PLUGIN].c, bytes)) {
		fprintf(stderr, "bench_isolation: sgemm %lld differs between the brokers\n",
			(long long)d);
		exit(1);
	}
	for (int k = 0; k < NR; k++) {
		side_stop(&sd[k]);
		snprintf(row, sizeof(row), "sgemm_%lld_%s", (long long)d, how[k]);
		add(row, s[k], runs, 1.0);
		free(s[k]);
	}
	snprintf(note, sizeof(note), "blas sgemm %lldx%lld in the broker, %u runs", (long long)d,
		 (long long)d, runs);
	ratios(first, note, "the blas plugin in a host process, the matrices mapped there");
}

static void usage(const char *argv0)
{
	fprintf(stderr, "usage: %s [--json] [--iters N] [--reps N] [--cpus A,B] [--block N]\n",
		argv0);
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		BENCH_COMMON_OPTIONS,
		{ "block", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	uint32_t scale;
	int c;

	bench.iters = 100000;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (c == 'b') {
			block = (uint32_t)strtoul(optarg, NULL, 10);
			if (!block)
				usage(argv[0]);
		} else if (!bench_option(c, optarg)) {
			usage(argv[0]);
		}
	}
	if (!bench_setup())
		usage(argv[0]);
	scale = (uint32_t)(bench.iters < 100000 ? bench.iters : 100000);
	bench_noop("noop_rtt_poll", "10000000", "10000000000",
		   "noop in the broker, broker and client busy-poll");
	bench_noop("noop_rtt_spin_sleep", "20", "20000",
		   "noop in the broker, spin 20 us then sleep (defaults)");
	bench_sgemm(64, 2000 * scale / 100000 + 20);
	bench_sgemm(256, 200 * scale / 100000 + 10);
	bench_sgemm(1024, 24 * scale / 100000 + 4);
	print_table("Each isolated row against the same op in the broker, measured in turns;\n"
		    "ratio = p50 / the in-broker p50.");
	return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What every benchmark shares: timing, pinning, percentiles, the result
 * table (text or --json), and the floor every latency is compared with.
 */
#include <dirent.h>
#include <getopt.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <accelring/barrier.h>

#include "bench_common.h"

struct bench_opt bench = {
	.iters = 200000,
	.reps = 3,
	.cpu = { 0, 1 },
};

struct result results[64];
int nresults;

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void pin_tasks(pid_t pid, int cpu)
{
	char path[64];
	struct dirent *e;
	cpu_set_t set;
	DIR *d;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.')
			sched_setaffinity(atoi(e->d_name), sizeof(set), &set);
	if (d)
		closedir(d);
}

void pin(int which)
{
	cpu_set_t set;

	if (!bench.pinned)
		return;
	CPU_ZERO(&set);
	CPU_SET(bench.cpu[which], &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		perror("sched_setaffinity");
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double pct(const uint64_t *s, size_t n, double p)
{
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);

	return (double)s[i < n ? i : n - 1];
}

/* Index of the median of v[0..n), ties broken by position. */
int median_index(const double *v, int n)
{
	for (int i = 0; i < n; i++) {
		int below = 0;

		for (int j = 0; j < n; j++)
			below += v[j] < v[i] || (v[j] == v[i] && j < i);
		if (below == n / 2)
			return i;
	}
	return 0;
}

/* Sorts samples and stores their percentiles, divided by scale, in r. */
void set_pcts(struct result *r, uint64_t *samples, size_t n, double scale)
{
	qsort(samples, n, sizeof(*samples), cmp_u64);
	r->p50 = pct(samples, n, 0.50) / scale;
	r->p99 = pct(samples, n, 0.99) / scale;
	r->p999 = pct(samples, n, 0.999) / scale;
}

/*
 * Latency rows run bench.reps times; the run with the median p50 is kept.
 * add() appends a run, keep_median() folds the last reps runs into one.
 */
void keep_median(int reps)
{
	int first = nresults - reps;
	double p50[9];

	for (int i = 0; i < reps; i++)
		p50[i] = results[first + i].p50;
	results[first] = results[first + median_index(p50, reps)];
	nresults = first + 1;
}

struct result *add(const char *name, uint64_t *samples, size_t n,
			  double scale)
{
	struct result *r = &results[nresults++];

	snprintf(r->name, sizeof(r->name), "%s", name);
	set_pcts(r, samples, n, scale);
	return r;
}


struct shared *shm_new(size_t extra)
{
	void *p = mmap(NULL, sizeof(struct shared) + extra,
		       PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	return p;
}

/* Runs fn(arg) in a child pinned to the second CPU; returns its pid. */
pid_t spawn(void (*fn)(void *), void *arg)
{
	pid_t pid = fork();

	if (pid < 0) {
		perror("fork");
		exit(1);
	}
	if (pid == 0) {
		pin(1);
		fn(arg);
		_exit(0);
	}
	return pid;
}

void reap(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status)) {
		fprintf(stderr, "bench peer failed (status %d)\n", status);
		exit(1);
	}
}

/* ------------------------------------------------------------------ */
/* The floor: one atomic each way. */

static struct shared *floor_shm;

static void floor_peer(void *arg)
{
	uint64_t n = *(uint64_t *)arg;

	for (uint64_t i = 1; i <= n; i++) {
		while (ar_load_acquire(&floor_shm->ping) != i)
			ar_cpu_relax();
		ar_store_release(&floor_shm->pong, i);
	}
}

void bench_floor(void)
{
	uint64_t n = bench.iters, *s = calloc(n, sizeof(*s));
	pid_t pid;

	floor_shm = shm_new(0);
	pid = spawn(floor_peer, &n);
	for (uint64_t i = 1; i <= n; i++) {
		uint64_t t0 = now_ns();

		ar_store_release(&floor_shm->ping, i);
		while (ar_load_acquire(&floor_shm->pong) != i)
			ar_cpu_relax();
		s[i - 1] = now_ns() - t0;
	}
	reap(pid);
	/* Drop the first tenth: page faults, caches, frequency. */
	add("floor_pingpong", s + n / 10, n - n / 10, 1.0);
	snprintf(results[nresults - 1].note, sizeof(results[0].note),
		 "one atomic each way");
	free(s);
	munmap(floor_shm, sizeof(struct shared));
}

void print_table(const char *footer)
{
	if (bench.json) {
		for (int i = 0; i < nresults; i++) {
			struct result *r = &results[i];

			if (r->skipped) {
				/* No figures: bench/run shows the row and its
				 * note, and --check lets it be. */
				printf("{\"name\":\"%s\",\"p50_ns\":null,\"p99_ns\":null,"
				       "\"p999_ns\":null,\"ops_per_s\":null,\"ratio\":null,"
				       "\"baseline\":\"%s\",\"pinned\":%s,\"skipped\":true,"
				       "\"note\":\"%s\"}\n", r->name, r->name,
				       bench.pinned ? "true" : "false", r->note);
				continue;
			}
			printf("{\"name\":\"%s\",\"p50_ns\":%.1f,\"p99_ns\":%.1f,",
			       r->name, r->p50, r->p99);
			if (r->p999 >= 0)
				printf("\"p999_ns\":%.1f,", r->p999);
			else
				printf("\"p999_ns\":null,");
			if (r->ops > 0)
				printf("\"ops_per_s\":%.0f,", r->ops);
			else
				printf("\"ops_per_s\":null,");
			/* Names and notes are ours: no quotes or backslashes. */
			printf("\"ratio\":%.4g,\"baseline\":\"%s\","
			       "\"pinned\":%s,\"note\":\"%s\"}\n", r->ratio, r->baseline,
			       bench.pinned ? "true" : "false", r->note);
		}
		return;
	}
	printf("%-30s %10s %10s %10s %12s %8s  %s\n", "measurement", "p50 ns",
	       "p99 ns", "p99.9 ns", "ops/s", "ratio", "baseline; notes");
	for (int i = 0; i < nresults; i++) {
		struct result *r = &results[i];
		char ops[32] = "-", p999[32] = "-";

		if (r->skipped) {
			printf("%-30s %10s %10s %10s %12s %8s  -; %s\n", r->name, "-", "-",
			       "-", "-", "-", r->note);
			continue;
		}
		if (r->ops > 0)
			snprintf(ops, sizeof(ops), "%.1fM", r->ops / 1e6);
		if (r->p999 >= 0)
			snprintf(p999, sizeof(p999), "%.1f", r->p999);
		printf("%-30s %10.1f %10.1f %10s %12s %8.2f  %s; %s\n", r->name,
		       r->p50, r->p99, p999, ops, r->ratio, r->baseline, r->note);
	}
	printf("\n%s\n%s\n", footer,
	       bench.pinned ? "Processes pinned to two CPUs." :
			    "Not pinned: the scheduler placed the processes.");
}


bool bench_option(int c, const char *arg)
{
	switch (c) {
	case 'j':
		bench.json = true;
		return true;
	case 'i':
		bench.iters = strtoull(arg, NULL, 0);
		return true;
	case 'n':
		bench.reps = (uint32_t)strtoul(arg, NULL, 0);
		return true;
	case 'c':
		return sscanf(arg, "%d,%d", &bench.cpu[0], &bench.cpu[1]) == 2;
	default:
		return false;
	}
}

/* The CPUs this process was allowed before bench_setup pinned it. */
static cpu_set_t allowed;

void unpin(void)
{
	if (bench.pinned && sched_setaffinity(0, sizeof(allowed), &allowed))
		perror("sched_setaffinity");
}

bool bench_setup(void)
{
	cpu_set_t set;

	if (bench.iters < 100 || bench.reps < 1 || bench.reps > 9)
		return false;
	sched_getaffinity(0, sizeof(set), &set);
	allowed = set;
	bench.pinned = CPU_ISSET(bench.cpu[0], &set) && CPU_ISSET(bench.cpu[1], &set) &&
		       bench.cpu[0] != bench.cpu[1];
	pin(0);
	return true;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* bench_common - shared by bench_ring and bench_broker (bench_common.c). */
#ifndef ACCELRING_BENCH_COMMON_H
#define ACCELRING_BENCH_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct bench_opt {
	bool json;
	uint64_t iters;		/* round trips per latency run */
	uint32_t reps;		/* runs per row; the median is kept */
	int cpu[2];		/* the two CPUs to pin the two sides to */
	bool pinned;
};
extern struct bench_opt bench;

struct result {
	char name[64];
	char baseline[64];
	double p50, p99, p999;	/* ns per op; p999 < 0: too few samples */
	double ops;		/* ops/s, 0 for latency rows */
	double ratio;		/* times the baseline's cost */
	bool skipped;		/* not measured; note says why */
	char note[160];
};
extern struct result results[64];
extern int nresults;

/* Shared between the two processes of one measurement. */
struct shared {
	_Alignas(64) uint64_t ping;
	_Alignas(64) uint64_t pong;
	_Alignas(64) uint32_t go;
	_Alignas(64) uint8_t slots[];	/* raw baseline ring */
};

uint64_t now_ns(void);
/* Pin the calling process to bench.cpu[which] (if bench.pinned). */
void pin(int which);
/* Pin every thread of process pid to cpu. */
void pin_tasks(pid_t pid, int cpu);
/* Give this process back every CPU it had before bench_setup. */
void unpin(void);
/* Index of the median of v[0..n), ties broken by position. */
int median_index(const double *v, int n);
/* Sorts samples and stores their percentiles, divided by scale, in r. */
void set_pcts(struct result *r, uint64_t *samples, size_t n, double scale);
/* Fold the last reps rows into the one with the median p50. */
void keep_median(int reps);
/* Append a row from latency samples (ns * scale). */
struct result *add(const char *name, uint64_t *samples, size_t n, double scale);
struct shared *shm_new(size_t extra);
/* Run fn(arg) in a child pinned to the second CPU; returns its pid. */
pid_t spawn(void (*fn)(void *), void *arg);
/* Wait for a child; exit(1) if it failed. */
void reap(pid_t pid);
/* Append the floor row: one atomic each way between two processes. */
void bench_floor(void);
/* The options every benchmark takes, for its getopt_long table. */
#define BENCH_COMMON_OPTIONS                                   \
	{ "json", no_argument, NULL, 'j' },                    \
	{ "iters", required_argument, NULL, 'i' },             \
	{ "reps", required_argument, NULL, 'n' },              \
	{ "cpus", required_argument, NULL, 'c' }
/* Apply one of them (c as in the table). Returns false for any other
 * option, or a value that does not parse. */
bool bench_option(int c, const char *arg);
/* Check the common settings (false: show usage), then decide whether the
 * two CPUs can be pinned and pin this process to the first. */
bool bench_setup(void);
/* Print every row, as a table with footer or as JSON lines. */
void print_table(const char *footer);

#endif

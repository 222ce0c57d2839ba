/* SPDX-License-Identifier: Apache-2.0 */
/* sgemm [iterations] [size] - vAccel's sgemm example: C = alpha*A*B + beta*C
 * through the broker, checked against the same product computed here. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vaccel.h>

#define MAX_ITER 1000000ul
#define MAX_SIZE 16384ul	/* 1 GiB a matrix */
/* Up to this many entries every one is checked; beyond, this many chosen
 * at random (each costs k multiply-adds here, as in the broker). */
#define CHECK_ENTRIES 4096
#define SAMPLE_ENTRIES 1024

static void usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s [ITERATIONS] [SIZE]\n"
		"Runs ITERATIONS vaccel_sgemm calls (1..%lu, default 1) of SIZE x SIZE\n"
		"matrices (1..%lu, default 256), C = alpha*A*B + beta*C, and checks C\n"
		"against the same product computed here: every entry up to %d entries,\n"
		"else %d entries chosen at random. Prints the time per call, and\n"
		"progress on stderr every second. The broker is found at\n"
		"$ACCELRING_ADDRESS (else $VACCEL_RPC_ADDRESS, else the default socket).\n",
		prog, MAX_ITER, MAX_SIZE, CHECK_ENTRIES, SAMPLE_ENTRIES);
}

/* A whole decimal number in [min, max], or -1 (the caller says why). */
static long long parse_count(const char *s, unsigned long min, unsigned long max)
{
	unsigned long v;
	char *end;

	if (*s < '0' || *s > '9')	/* no sign, no space: strtoul takes both */
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	return (long long)v;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* C's value before the call (the same formula the setup used). */
static float c_before(int64_t i)
{
	return (float)(i % 7) - 3;
}

/* Entry (i, j) of alpha*A*B + beta*C, in double precision. */
static double expected(int64_t i, int64_t j, int64_t n, int64_t k, float alpha,
		       const float *a, const float *b, float beta)
{
	double acc = 0;

	for (int64_t p = 0; p < k; p++)
		acc += (double)a[i * k + p] * b[p * n + j];
	return alpha * acc + beta * c_before(i * n + j);
}

int main(int argc, char **argv)
{
	float alpha = 32412.0f / 65536, beta = 2123.0f / 65536;
	double worst = 0, ms = 0, t_check, last_progress;
	long long iter = 1, size = 256;
	struct vaccel_session sess;
	int64_t m, n, k, total, checked;
	float *a, *b, *c;
	int ret;

	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		usage(stdout, argv[0]);
		return 0;
	}
	if (argc > 3) {
		fprintf(stderr, "%s: too many arguments\n", argv[0]);
		usage(stderr, argv[0]);
		return 2;
	}
	if (argc > 1 && (iter = parse_count(argv[1], 1, MAX_ITER)) < 0) {
		fprintf(stderr, "%s: ITERATIONS must be a whole number from 1 to %lu, not '%s'\n",
			argv[0], MAX_ITER, argv[1]);
		usage(stderr, argv[0]);
		return 2;
	}
	if (argc > 2 && (size = parse_count(argv[2], 1, MAX_SIZE)) < 0) {
		fprintf(stderr, "%s: SIZE must be a whole number from 1 to %lu, not '%s'\n",
			argv[0], MAX_SIZE, argv[2]);
		usage(stderr, argv[0]);
		return 2;
	}
	m = n = k = size;
	a = malloc(sizeof(float) * m * k);
	b = malloc(sizeof(float) * k * n);
	c = malloc(sizeof(float) * m * n);
	if (!a || !b || !c) {
		fprintf(stderr, "%s: no memory for three %lldx%lld matrices\n", argv[0], size, size);
		return 1;
	}
	srand(42);
	for (int64_t i = 0; i < m * k; i++)
		a[i] = (float)rand() / RAND_MAX - 0.5f;
	for (int64_t i = 0; i < k * n; i++)
		b[i] = (float)rand() / RAND_MAX - 0.5f;
	ret = vaccel_session_init(&sess, 0);
	if (ret) {
		fprintf(stderr, "Could not initialize session: %s\n", strerror(ret));
		return 1;
	}
	printf("Initialized session with id: %lld\n", (long long)sess.id);
	last_progress = now_ms();
	for (long long it = 0; it < iter; it++) {
		double t0, t1;

		for (int64_t i = 0; i < m * n; i++)
			c[i] = c_before(i);
		t0 = now_ms();
		ret = vaccel_sgemm(&sess, m, n, k, alpha, a, k, b, n, beta, c, n);
		t1 = now_ms();
		if (ret) {
			fprintf(stderr, "Could not run sgemm: %s\n", strerror(ret));
			if (ret == ENOMEM)
				fprintf(stderr, "(A, B and C, %llu bytes, travel through the "
					"connection's data area: ACCELRING_DATA_BYTES asks "
					"the broker for a larger one)\n",
					(unsigned long long)(3 * sizeof(float) * m * n));
			vaccel_session_release(&sess);
			return 1;
		}
		ms += t1 - t0;
		if (t1 - last_progress >= 1000 && it + 1 < iter) {
			fprintf(stderr, "sgemm: %lld of %lld iterations, %.3f ms each so far\n",
				it + 1, iter, ms / (double)(it + 1));
			last_progress = t1;
		}
	}
	printf("sgemm %lldx%lldx%lld: %lld iterations, %.3f ms each; C[0]=%f C[last]=%f\n",
	       (long long)m, (long long)n, (long long)k, iter, ms / (double)iter, c[0],
	       c[m * n - 1]);

	/* The check: every entry of a small C; a random sample of a large
	 * one, which a naive O(n^3) loop would take minutes over. */
	t_check = now_ms();
	srand(7);
	total = m * n;
	checked = total <= CHECK_ENTRIES ? total : SAMPLE_ENTRIES;
	for (int64_t s = 0; s < checked; s++) {
		int64_t idx = total <= CHECK_ENTRIES ? s :
			(int64_t)(((uint64_t)rand() << 31 | (uint64_t)rand()) % (uint64_t)total);
		double d = fabs(c[idx] - expected(idx / n, idx % n, n, k, alpha, a, b, beta));

		if (d > worst)
			worst = d;
	}
	t_check = now_ms() - t_check;
	printf("checked against a local computation: %lld of %lld entries%s, max |error| "
	       "%.2e (%.1f ms): %s\n", (long long)checked, (long long)total,
	       checked < total ? " chosen at random" : "", worst, t_check,
	       worst < 1e-3 * k ? "OK" : "MISMATCH");
	vaccel_session_release(&sess);
	free(a);
	free(b);
	free(c);
	return worst < 1e-3 * k ? 0 : 1;
}

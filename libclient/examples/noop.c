/* SPDX-License-Identifier: Apache-2.0 */
/* noop [iterations] - vAccel's noop example: the op that does nothing, so
 * what it costs is the framework's own cost. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vaccel.h>

#define MAX_ITER 1000000000ul

static void usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s [ITERATIONS]\n"
		"Runs ITERATIONS vaccel_noop calls (1..%lu, default 1) in one session\n"
		"and prints the mean time per op. The broker is found at\n"
		"$ACCELRING_ADDRESS (else $VACCEL_RPC_ADDRESS, else the default socket).\n",
		prog, MAX_ITER);
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

int main(int argc, char **argv)
{
	struct vaccel_session sess;
	struct timespec t0, t1;
	long long iter = 1;
	int ret;

	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		usage(stdout, argv[0]);
		return 0;
	}
	if (argc > 2) {
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

	ret = vaccel_session_init(&sess, 0);
	if (ret) {
		fprintf(stderr, "Could not initialize session: %s\n", strerror(ret));
		return 1;
	}
	printf("Initialized session with id: %lld\n", (long long)sess.id);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long long i = 0; i < iter; i++) {
		ret = vaccel_noop(&sess);
		if (ret) {
			fprintf(stderr, "Could not run op: %s\n", strerror(ret));
			vaccel_session_release(&sess);
			return 1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("noop: %lld ops, %.2f us per op\n", iter,
	       ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / 1e3 / (double)iter);
	ret = vaccel_session_release(&sess);
	if (ret) {
		fprintf(stderr, "Could not release session: %s\n", strerror(ret));
		return 1;
	}
	return 0;
}

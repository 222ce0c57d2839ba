/* SPDX-License-Identifier: Apache-2.0 */
/*
 * async [ops] [depth] - the native API's asynchronous submission: keep up
 * to DEPTH noops in flight on this thread's queue, make each batch visible
 * with one ar_flush (inside ar_wait), and reap completions as they come.
 * Every op's user_data is its number, and each must complete exactly once
 * with status 0.
 *
 *   cc async.c $(pkg-config --cflags --libs accelring) -o async
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <accelring/client.h>

#define MAX_OPS 1000000000ul
#define MAX_DEPTH 4096ul	/* a queue's table of ops in flight */
#define BATCH 64		/* completions taken per ar_wait */

static void usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s [OPS] [DEPTH]\n"
		"Submits OPS noops (1..%lu, default 100000) with up to DEPTH in flight\n"
		"(1..%lu, default 1024) through the native API (ar_submit_noop, ar_wait),\n"
		"checks that each completed once with status 0, and prints the rate.\n"
		"The broker is found at $ACCELRING_ADDRESS (else $VACCEL_RPC_ADDRESS,\n"
		"else %s).\n",
		prog, MAX_OPS, MAX_DEPTH, AR_DEFAULT_ADDRESS);
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

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	long long ops = 100000, depth = 1024, sent = 0, done = 0, again = 0;
	struct ar_cqe cqe[BATCH];
	struct ar_client *c;
	struct ar_queue *q;
	unsigned char *seen;
	uint32_t sess;
	double t0, t1;
	int ret;

	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		usage(stdout, argv[0]);
		return 0;
	}
	if (argc > 3 ||
	    (argc > 1 && (ops = parse_count(argv[1], 1, MAX_OPS)) < 0) ||
	    (argc > 2 && (depth = parse_count(argv[2], 1, MAX_DEPTH)) < 0)) {
		fprintf(stderr, "%s: bad arguments: OPS is 1..%lu, DEPTH 1..%lu\n",
			argv[0], MAX_OPS, MAX_DEPTH);
		usage(stderr, argv[0]);
		return 2;
	}
	seen = calloc((size_t)ops, 1);
	if (!seen)
		return 1;

	/* NULL: the address from the environment. The queue is this
	 * thread's own; the session is where ops run on the broker. */
	ret = ar_client_connect(NULL, &c);
	if (ret) {
		fprintf(stderr, "ar_client_connect: %s\n", strerror(-ret));
		return 1;
	}
	ret = ar_queue_get(c, &q);
	if (ret) {
		fprintf(stderr, "ar_queue_get: %s (%s)\n", strerror(-ret), ar_client_error(c));
		ar_client_close(c);
		return 1;
	}
	ret = ar_session_open(q, 0, &sess);
	if (ret) {
		fprintf(stderr, "ar_session_open: %s (%s)\n", strerror(-ret), ar_queue_error(q));
		ar_client_close(c);
		return 1;
	}

	t0 = now_s();
	while (done < ops) {
		/* Fill the window. Submissions are not visible to the broker
		 * until flushed: ar_wait flushes them all at once. */
		while (sent < ops && sent - done < depth) {
			ret = ar_submit_noop(q, sess, (uint64_t)sent);
			if (ret == -EAGAIN) {	/* SQ or op table full: reap first */
				again++;
				break;
			}
			if (ret) {
				fprintf(stderr, "ar_submit_noop: %s\n", strerror(-ret));
				goto out;
			}
			sent++;
		}
		ret = ar_wait(q, cqe, BATCH, 1, -1);
		if (ret < 0) {
			fprintf(stderr, "ar_wait: %s\n", strerror(-ret));
			goto out;
		}
		for (int i = 0; i < ret; i++) {
			uint64_t id = cqe[i].user_data;

			if (cqe[i].status || id >= (uint64_t)sent || seen[id]++) {
				fprintf(stderr, "op %llu: status %d (%s)%s\n",
					(unsigned long long)id, cqe[i].status,
					strerror(-cqe[i].status),
					id < (uint64_t)sent && seen[id] > 1 ? ", completed twice" : "");
				ret = -EPROTO;
				goto out;
			}
		}
		done += ret;
	}
	t1 = now_s();
	ret = 0;
	printf("async: %lld noops, up to %lld in flight (%lld times the queue was full): "
	       "%.0f ops/s, %.3f us per op; every op completed once, status 0\n",
	       ops, depth, again, ops / (t1 - t0), (t1 - t0) * 1e6 / ops);
out:
	ar_session_close(q, sess);
	ar_client_close(c);
	free(seen);
	return ret ? 1 : 0;
}

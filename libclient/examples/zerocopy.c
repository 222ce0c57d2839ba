/* SPDX-License-Identifier: Apache-2.0 */
/*
 * zerocopy [size] [iterations] - the native API's zero-copy buffers: A, B
 * and C of C = A*B are allocated with ar_buf_alloc, in the data area this
 * client shares with the broker, so the blas plugin reads A and B and
 * writes C in place; only offsets travel in the ring. C is checked here
 * against the product computed locally (a sample of entries on big sizes).
 * A matrix from malloc is refused with -EFAULT: sgemm's buffers must come
 * from ar_buf_alloc. (Over a stream transport, tcp:// or unix-stream://,
 * the same program works; the data area is then this process's memory
 * and the bytes travel in frames.)
 *
 *   cc zerocopy.c $(pkg-config --cflags --libs accelring) -o zerocopy
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <accelring/client.h>

#define MAX_SIZE 8192ul
#define MAX_ITER 100000ul
#define SAMPLE_ENTRIES 1024

static void usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s [SIZE] [ITERATIONS]\n"
		"Multiplies two SIZE x SIZE matrices (1..%lu, default 256) ITERATIONS\n"
		"times (1..%lu, default 10) in the broker's blas plugin, the matrices\n"
		"in shared memory from ar_buf_alloc (zero copy), and checks C here\n"
		"(every entry of a small C, %d chosen at random of a big one). The\n"
		"three matrices must fit the connection's data area (the broker's\n"
		"data-bytes, 64M by default; ACCELRING_DATA_BYTES asks for more).\n"
		"The broker is found at $ACCELRING_ADDRESS (else $VACCEL_RPC_ADDRESS,\n"
		"else %s).\n",
		prog, MAX_SIZE, MAX_ITER, SAMPLE_ENTRIES, AR_DEFAULT_ADDRESS);
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

int main(int argc, char **argv)
{
	long long size = 256, iter = 10;
	struct ar_client *cl;
	struct ar_queue *q;
	struct ar_sgemm s;
	struct ar_cqe cqe;
	float *a, *b, *c, *heap;
	double worst = 0, ms = 0;
	int64_t n, total, checked;
	size_t bytes;
	uint32_t sess;
	int ret;

	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		usage(stdout, argv[0]);
		return 0;
	}
	if (argc > 3 ||
	    (argc > 1 && (size = parse_count(argv[1], 1, MAX_SIZE)) < 0) ||
	    (argc > 2 && (iter = parse_count(argv[2], 1, MAX_ITER)) < 0)) {
		fprintf(stderr, "%s: bad arguments: SIZE is 1..%lu, ITERATIONS 1..%lu\n",
			argv[0], MAX_SIZE, MAX_ITER);
		usage(stderr, argv[0]);
		return 2;
	}
	n = size;
	bytes = sizeof(float) * (size_t)(n * n);

	ret = ar_client_connect(NULL, &cl);
	if (ret) {
		fprintf(stderr, "ar_client_connect: %s\n", strerror(-ret));
		return 1;
	}
	if ((ret = ar_queue_get(cl, &q))) {
		fprintf(stderr, "ar_queue_get: %s (%s)\n", strerror(-ret), ar_client_error(cl));
		ar_client_close(cl);
		return 1;
	}
	if ((ret = ar_session_open(q, 0, &sess))) {
		fprintf(stderr, "ar_session_open: %s (%s)\n", strerror(-ret), ar_queue_error(q));
		ar_client_close(cl);
		return 1;
	}

	/* Shared memory, valid until ar_buf_free or ar_client_close; the
	 * broker reads and writes it while an op that names it is in flight,
	 * so it is not touched then. */
	a = ar_buf_alloc(q, bytes);
	b = ar_buf_alloc(q, bytes);
	c = ar_buf_alloc(q, bytes);
	if (!a || !b || !c) {
		fprintf(stderr, "ar_buf_alloc: the data area has no room for three %lldx%lld "
			"matrices (%zu bytes): ask for more with ACCELRING_DATA_BYTES\n",
			size, size, 3 * bytes);
		ret = -ENOMEM;
		goto out;
	}
	srand(42);
	for (int64_t i = 0; i < n * n; i++) {
		a[i] = (float)rand() / RAND_MAX - 0.5f;
		b[i] = (float)rand() / RAND_MAX - 0.5f;
	}
	s = (struct ar_sgemm){ .m = n, .n = n, .k = n, .lda = n, .ldb = n, .ldc = n,
			       .alpha = 1.0f, .beta = 0.0f, .a = a, .b = b, .c = c };

	/* Memory that is not in the data area cannot be passed by offset. */
	heap = malloc(bytes);
	if (heap) {
		struct ar_sgemm h = s;

		h.c = heap;
		ret = ar_submit_sgemm(q, sess, &h, 0);
		free(heap);
		if (ret != -EFAULT) {
			fprintf(stderr, "ar_submit_sgemm with C from malloc: %d, not -EFAULT\n", ret);
			ret = -EPROTO;
			goto out;
		}
	}

	for (long long it = 0; it < iter; it++) {
		double t0 = now_ms();

		ret = ar_submit_sgemm(q, sess, &s, (uint64_t)it);
		if (ret) {
			fprintf(stderr, "ar_submit_sgemm: %s\n", strerror(-ret));
			goto out;
		}
		/* Flushes, then waits for the one completion. */
		ret = ar_wait(q, &cqe, 1, 1, -1);
		if (ret != 1 || cqe.status || cqe.user_data != (uint64_t)it) {
			fprintf(stderr, "sgemm %lld: %s\n", it,
				strerror(ret < 0 ? -ret : cqe.status ? -cqe.status : EPROTO));
			ret = -EPROTO;
			goto out;
		}
		ms += now_ms() - t0;
	}

	/* C was written in place: read it where it lies. */
	total = n * n;
	checked = total <= SAMPLE_ENTRIES * 4 ? total : SAMPLE_ENTRIES;
	srand(7);
	for (int64_t e = 0; e < checked; e++) {
		int64_t idx = checked == total ? e :
			(int64_t)(((uint64_t)rand() << 31 | (uint64_t)rand()) % (uint64_t)total);
		int64_t i = idx / n, j = idx % n;
		double acc = 0;

		for (int64_t p = 0; p < n; p++)
			acc += (double)a[i * n + p] * b[p * n + j];
		if (fabs(c[idx] - acc) > worst)
			worst = fabs(c[idx] - acc);
	}
	ret = worst < 1e-3 * n ? 0 : -EPROTO;
	printf("zerocopy: sgemm %lldx%lld in the data area, %lld iterations, %.3f ms each; "
	       "checked %lld of %lld entries%s: max |error| %.2e: %s\n",
	       size, size, iter, ms / (double)iter, (long long)checked, (long long)total,
	       checked < total ? " chosen at random" : "", worst, ret ? "MISMATCH" : "OK");
out:
	ar_buf_free(q, a);
	ar_buf_free(q, b);
	ar_buf_free(q, c);
	ar_session_close(q, sess);
	ar_client_close(cl);
	return ret ? 1 : 0;
}

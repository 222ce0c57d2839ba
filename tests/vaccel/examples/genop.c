/* SPDX-License-Identifier: Apache-2.0 */
/*
 * genop - vaccel_genop, the op chosen by its first argument (the op type,
 * a uint8) and the rest in the order of the op's own function:
 *   VACCEL_OP_NOOP        nothing else
 *   VACCEL_OP_BLAS_SGEMM  read m, n, k (int64), alpha (float), a (float[]),
 *                         lda (int64), b (float[]), ldb (int64), beta
 *                         (float), ldc (int64); write c (float[])
 * sgemm's result (row-major C = alpha * A * B + beta * C) is checked
 * against one computed here, for a small and a larger problem.
 *
 * A plain vAccel program: only <vaccel.h>. Exit status 0 when every check
 * passed.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vaccel.h>

static int failures;

#define CHECK(cond, ...)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__,         \
				__LINE__, #cond);                              \
			fprintf(stderr, __VA_ARGS__);                          \
			fputc('\n', stderr);                                   \
			failures++;                                            \
		}                                                              \
	} while (0)

static void genop_noop(struct vaccel_session *sess)
{
	struct vaccel_arg_array read;
	uint8_t op = VACCEL_OP_NOOP, bad = VACCEL_OP_MAX;
	int ret;

	CHECK(vaccel_arg_array_init(&read, 1) == VACCEL_OK, "init");
	CHECK(vaccel_arg_array_add_uint8(&read, &op) == VACCEL_OK, "add op");
	ret = vaccel_genop(sess, read.args, (int)read.count, NULL, 0);
	printf("genop(VACCEL_OP_NOOP) = %d\n", ret);
	CHECK(ret == VACCEL_OK, "genop noop: %d (%s)", ret, strerror(ret));

	/* No op type, or one past the last: refused. */
	CHECK(vaccel_genop(sess, read.args, 0, NULL, 0) == VACCEL_EINVAL,
	      "genop without an op type accepted");
	read.args[0].buf = &bad;
	CHECK(vaccel_genop(sess, read.args, 1, NULL, 0) == VACCEL_EINVAL,
	      "genop with op type VACCEL_OP_MAX accepted");
	CHECK(vaccel_arg_array_release(&read) == VACCEL_OK, "release");
}

static void fill(float *x, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		x[i] = (float)((seed >> 8) % 2001) / 1000.0f - 1.0f;
	}
}

/* C = alpha * A * B + beta * C over m x n x k, through genop. */
static void genop_sgemm(struct vaccel_session *sess, int64_t m, int64_t n,
			int64_t k)
{
	float *a = malloc(sizeof(float) * m * k), *b = malloc(sizeof(float) * k * n);
	float *c = malloc(sizeof(float) * m * n);
	double *want = malloc(sizeof(double) * m * n), worst = 0;
	int64_t lda = k, ldb = n, ldc = n;
	float alpha = 1.5f, beta = -0.5f;
	struct vaccel_arg_array read, write;
	uint8_t op = VACCEL_OP_BLAS_SGEMM;
	int ret;

	if (!a || !b || !c || !want) {
		CHECK(0, "out of memory");
		goto out;
	}
	fill(a, m * k, 1);
	fill(b, k * n, 2);
	fill(c, m * n, 3);
	for (int64_t i = 0; i < m; i++)
		for (int64_t j = 0; j < n; j++) {
			double s = 0;

			for (int64_t p = 0; p < k; p++)
				s += (double)a[i * lda + p] * b[p * ldb + j];
			want[i * n + j] = alpha * s + beta * (double)c[i * ldc + j];
		}

	CHECK(vaccel_arg_array_init(&read, 11) == VACCEL_OK, "init read");
	CHECK(vaccel_arg_array_init(&write, 1) == VACCEL_OK, "init write");
	CHECK(!vaccel_arg_array_add_uint8(&read, &op) &&
	      !vaccel_arg_array_add_int64(&read, &m) &&
	      !vaccel_arg_array_add_int64(&read, &n) &&
	      !vaccel_arg_array_add_int64(&read, &k) &&
	      !vaccel_arg_array_add_float(&read, &alpha) &&
	      !vaccel_arg_array_add_float_array(&read, a, (size_t)(m * k)) &&
	      !vaccel_arg_array_add_int64(&read, &lda) &&
	      !vaccel_arg_array_add_float_array(&read, b, (size_t)(k * n)) &&
	      !vaccel_arg_array_add_int64(&read, &ldb) &&
	      !vaccel_arg_array_add_float(&read, &beta) &&
	      !vaccel_arg_array_add_int64(&read, &ldc) &&
	      !vaccel_arg_array_add_float_array(&write, c, (size_t)(m * n)),
	      "building the arguments");
	CHECK(read.count == 11 && write.count == 1, "%zu read, %zu write",
	      read.count, write.count);
	if (failures)
		goto release;

	ret = vaccel_genop(sess, read.args, (int)read.count, write.args,
			   (int)write.count);
	printf("genop(VACCEL_OP_BLAS_SGEMM, %lldx%lldx%lld) = %d\n", (long long)m,
	       (long long)n, (long long)k, ret);
	CHECK(ret == VACCEL_OK, "genop sgemm: %d (%s)", ret, strerror(ret));
	for (int64_t i = 0; i < m * n; i++) {
		double d = fabs(c[i] - want[i]) / (1.0 + fabs(want[i]));

		if (d > worst || isnan(c[i]))
			worst = isnan(c[i]) ? INFINITY : d;
	}
	printf("  C[0] = %f (expected %f), worst relative error %.2e\n", c[0],
	       want[0], worst);
	CHECK(worst < 1e-4, "sgemm result off by %.2e", worst);

	/* One argument short: refused, C left alone. */
	CHECK(vaccel_genop(sess, read.args, (int)read.count - 1, write.args,
			   (int)write.count) == VACCEL_EINVAL,
	      "sgemm with 10 read args accepted");
release:
	CHECK(vaccel_arg_array_release(&write) == VACCEL_OK, "release write");
	CHECK(vaccel_arg_array_release(&read) == VACCEL_OK, "release read");
out:
	free(a);
	free(b);
	free(c);
	free(want);
}

int main(void)
{
	struct vaccel_session sess;
	int ret = vaccel_session_init(&sess, 0);

	if (ret) {
		fprintf(stderr, "vaccel_session_init: %d (%s)\n", ret, strerror(ret));
		return 1;
	}
	printf("session %lld\n", (long long)sess.id);
	genop_noop(&sess);
	genop_sgemm(&sess, 4, 3, 5);
	genop_sgemm(&sess, 96, 80, 64);
	CHECK(vaccel_session_release(&sess) == VACCEL_OK, "session release");
	printf("genop: %s\n", failures ? "FAILED" : "ok");
	return failures ? 1 : 0;
}

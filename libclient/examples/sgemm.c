/* SPDX-License-Identifier: Apache-2.0 */
/* sgemm [iterations] [size] - vAccel's sgemm example: C = alpha*A*B + beta*C
 * through the broker, checked against the same product computed here. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vaccel.h>

static void reference(int64_t m, int64_t n, int64_t k, float alpha,
		      const float *a, const float *b, float beta, float *c)
{
	for (int64_t i = 0; i < m; i++)
		for (int64_t j = 0; j < n; j++) {
			double acc = 0;

			for (int64_t p = 0; p < k; p++)
				acc += (double)a[i * k + p] * b[p * n + j];
			c[i * n + j] = (float)(alpha * acc + beta * c[i * n + j]);
		}
}

int main(int argc, char **argv)
{
	int iter = argc > 1 ? atoi(argv[1]) : 1;
	int64_t m = argc > 2 ? atoll(argv[2]) : 256, n = m, k = m;
	float alpha = 32412.0f / 65536, beta = 2123.0f / 65536;
	float *a = malloc(sizeof(float) * m * k), *b = malloc(sizeof(float) * k * n);
	float *c = malloc(sizeof(float) * m * n), *want = malloc(sizeof(float) * m * n);
	struct vaccel_session sess;
	double worst = 0, ms = 0;
	int ret;

	if (!a || !b || !c || !want)
		return 1;
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
	for (int it = 0; it < iter; it++) {
		struct timespec t0, t1;

		for (int64_t i = 0; i < m * n; i++)
			c[i] = want[i] = (float)(i % 7) - 3;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		ret = vaccel_sgemm(&sess, m, n, k, alpha, a, k, b, n, beta, c, n);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (ret) {
			fprintf(stderr, "Could not run sgemm: %s\n", strerror(ret));
			vaccel_session_release(&sess);
			return 1;
		}
		ms += (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
	}
	reference(m, n, k, alpha, a, b, beta, want);
	for (int64_t i = 0; i < m * n; i++) {
		double d = fabs((double)c[i] - want[i]);

		if (d > worst)
			worst = d;
	}
	printf("sgemm %lldx%lldx%lld: %d iterations, %.3f ms each; C[0]=%f C[last]=%f\n",
	       (long long)m, (long long)n, (long long)k, iter, ms / iter, c[0],
	       c[m * n - 1]);
	printf("checked against a local computation: max |error| %.2e: %s\n", worst,
	       worst < 1e-3 * k ? "OK" : "MISMATCH");
	vaccel_session_release(&sess);
	free(a);
	free(b);
	free(c);
	free(want);
	return worst < 1e-3 * k ? 0 : 1;
}

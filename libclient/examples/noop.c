/* SPDX-License-Identifier: Apache-2.0 */
/* noop [iterations] - vAccel's noop example: the op that does nothing, so
 * what it costs is the framework's own cost. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vaccel.h>

int main(int argc, char **argv)
{
	struct vaccel_session sess;
	int iter = argc > 1 ? atoi(argv[1]) : 1, ret;
	struct timespec t0, t1;

	ret = vaccel_session_init(&sess, 0);
	if (ret) {
		fprintf(stderr, "Could not initialize session: %s\n", strerror(ret));
		return 1;
	}
	printf("Initialized session with id: %lld\n", (long long)sess.id);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < iter; i++) {
		ret = vaccel_noop(&sess);
		if (ret) {
			fprintf(stderr, "Could not run op: %s\n", strerror(ret));
			vaccel_session_release(&sess);
			return 1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("noop: %d ops, %.2f us per op\n", iter,
	       ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / 1e3 / iter);
	ret = vaccel_session_release(&sess);
	if (ret) {
		fprintf(stderr, "Could not release session: %s\n", strerror(ret));
		return 1;
	}
	return 0;
}

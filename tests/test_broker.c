/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_broker - end to end: a real accelringd, real clients (libaccelring
 * through both its APIs), real plugins on real libraries.
 */
#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <accelring/client.h>
#include <vaccel.h>

#include "broker_harness.h"
#include "exec_lib.h"

#ifndef AR_TEST_EXEC_LIB
#error "AR_TEST_EXEC_LIB must name the exec test library"
#endif

static struct test_broker broker;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void fill(float *x, size_t n, unsigned seed)
{
	srand(seed);
	for (size_t i = 0; i < n; i++)
		x[i] = (float)rand() / RAND_MAX - 0.5f;
}

static double max_diff(const float *x, const float *y, size_t n)
{
	double worst = 0;

	for (size_t i = 0; i < n; i++)
		if (fabs((double)x[i] - y[i]) > worst)
			worst = fabs((double)x[i] - y[i]);
	return worst;
}

/* vaccel_noop runs in the broker: a thousand of them, in one session. */
/* Connect (NULL: ACCELRING_ADDRESS), take a queue and open a session,
 * asserting each step. */
static void open_session(const char *addr, struct ar_client **c, struct ar_queue **q,
			 uint32_t *sid)
{
	assert_int_equal(ar_client_connect(addr, c), 0);
	assert_int_equal(ar_queue_get(*c, q), 0);
	assert_int_equal(ar_session_open(*q, 0, sid), 0);
}

static void test_broker_noop_roundtrip(void **state)
{
	struct vaccel_session s;

	(void)state;
	assert_int_equal(vaccel_session_init(&s, 0), 0);
	assert_true(s.id > 0);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(vaccel_noop(&s), 0);
	assert_int_equal(vaccel_session_release(&s), 0);
	/* Released means gone: an invalid session, as upstream says. */
	assert_int_equal(vaccel_noop(&s), VACCEL_EINVAL);
	assert_int_equal(vaccel_session_release(&s), VACCEL_EINVAL);
}

/* sgemm through the broker equals cblas_sgemm in process, for odd shapes,
 * leading dimensions wider than the rows, and both staged and zero-copy
 * buffers. */
static void test_broker_sgemm_matches_cblas(void **state)
{
	static const int64_t shapes[][6] = {
		/* m, n, k, lda, ldb, ldc */
		{ 1, 1, 1, 1, 1, 1 },
		{ 17, 33, 9, 9, 33, 33 },
		{ 5, 7, 3, 8, 9, 10 },
		{ 256, 256, 256, 256, 256, 256 },
	};
	struct vaccel_session s;
	struct ar_client *c;
	struct ar_queue *q;
	uint32_t sid;

	(void)state;
	assert_int_equal(vaccel_session_init(&s, VACCEL_PLUGIN_CPU), 0);
	for (size_t t = 0; t < sizeof(shapes) / sizeof(shapes[0]); t++) {
		int64_t m = shapes[t][0], n = shapes[t][1], k = shapes[t][2];
		int64_t lda = shapes[t][3], ldb = shapes[t][4], ldc = shapes[t][5];
		size_t na = (size_t)((m - 1) * lda + k), nb = (size_t)((k - 1) * ldb + n),
		       nc = (size_t)((m - 1) * ldc + n);
		float *a = malloc(na * 4), *b = malloc(nb * 4), *c1 = malloc(nc * 4),
		      *c2 = malloc(nc * 4);

		fill(a, na, 1);
		fill(b, nb, 2);
		fill(c1, nc, 3);
		memcpy(c2, c1, nc * 4);
		assert_int_equal(vaccel_sgemm(&s, m, n, k, 0.75f, a, lda, b, ldb,
					      -0.5f, c1, ldc), 0);
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m,
			    (int)n, (int)k, 0.75f, a, (int)lda, b, (int)ldb,
			    -0.5f, c2, (int)ldc);
		/* Same library, same inputs: the same result bit for bit is
		 * likely but not promised across thread counts. */
		assert_true(max_diff(c1, c2, nc) < 1e-4);
		free(a);
		free(b);
		free(c1);
		free(c2);
	}
	assert_int_equal(vaccel_session_release(&s), 0);

	/* Zero copy: buffers in the shared data area, via the native API. */
	open_session(NULL, &c, &q, &sid);
	{
		int64_t d = 128;
		float *a = ar_buf_alloc(q, d * d * 4), *b = ar_buf_alloc(q, d * d * 4),
		      *cc = ar_buf_alloc(q, d * d * 4), *want = malloc(d * d * 4);
		struct ar_sgemm sg = { .m = d, .n = d, .k = d, .lda = d, .ldb = d,
				       .ldc = d, .alpha = 1, .beta = 0, .a = a,
				       .b = b, .c = cc };
		struct ar_cqe cqe;

		assert_non_null(a);
		assert_non_null(cc);
		fill(a, d * d, 4);
		fill(b, d * d, 5);
		assert_int_equal(ar_submit_sgemm(q, sid, &sg, 77), 0);
		assert_int_equal(ar_wait(q, &cqe, 1, 1, -1), 1);
		assert_int_equal(cqe.user_data, 77);
		assert_int_equal(cqe.status, 0);
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)d, (int)d,
			    (int)d, 1, a, (int)d, b, (int)d, 0, want, (int)d);
		assert_true(max_diff(cc, want, d * d) < 1e-4);
		/* Buffers outside the data area are refused, not copied. */
		sg.a = want;
		assert_int_equal(ar_submit_sgemm(q, sid, &sg, 78), -EFAULT);
		ar_buf_free(q, a);
		ar_buf_free(q, b);
		ar_buf_free(q, cc);
		free(want);
	}
	{
		/* Rows of C wider than n, beta 0: the elements between the
		 * rows are the caller's and stay so (over a stream the broker
		 * returns C's whole span, so the client must send it). */
		int64_t m = 5, n = 3, k = 4, ldc = 7;
		float *a = ar_buf_alloc(q, m * k * 4), *b = ar_buf_alloc(q, k * n * 4),
		      *cc = ar_buf_alloc(q, m * ldc * 4);
		struct ar_sgemm sg = { .m = m, .n = n, .k = k, .lda = k, .ldb = n,
				       .ldc = ldc, .alpha = 1, .beta = 0, .a = a,
				       .b = b, .c = cc };
		struct ar_cqe cqe;
		float want[15];

		assert_non_null(cc);
		fill(a, m * k, 6);
		fill(b, k * n, 7);
		for (int64_t i = 0; i < m * ldc; i++)
			cc[i] = -1234.5f;
		assert_int_equal(ar_submit_sgemm(q, sid, &sg, 79), 0);
		assert_int_equal(ar_wait(q, &cqe, 1, 1, -1), 1);
		assert_int_equal(cqe.status, 0);
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n,
			    (int)k, 1, a, (int)k, b, (int)n, 0, want, (int)n);
		for (int64_t i = 0; i < m; i++)
			for (int64_t j = 0; j < ldc; j++) {
				if (j < n)
					assert_true(fabsf(cc[i * ldc + j] - want[i * n + j]) < 1e-4f);
				else if (i < m - 1)
					assert_true(cc[i * ldc + j] == -1234.5f);
			}
		ar_buf_free(q, a);
		ar_buf_free(q, b);
		ar_buf_free(q, cc);
	}
	assert_int_equal(ar_session_close(q, sid), 0);
	ar_client_close(c);
}

/* Image ops return the noop plugin's dummy outputs, truncated to the
 * caller's buffers, for inline and staged images alike. */
static void test_broker_image_ops(void **state)
{
	unsigned char text[512], name[512], tiny[8];
	static unsigned char big[300000];
	struct vaccel_session s;

	(void)state;
	assert_int_equal(vaccel_session_init(&s, 0), 0);
	memset(big, 7, sizeof(big));
	assert_int_equal(vaccel_image_classification(&s, big, text, name, 100,
						     sizeof(text), sizeof(name)), 0);
	assert_string_equal(text, "This is a dummy classification tag!");
	assert_string_equal(name, "This is a dummy imgname!");
	memset(name, 0, sizeof(name));
	assert_int_equal(vaccel_image_classification(&s, big, text, name, sizeof(big),
						     sizeof(text), sizeof(name)), 0);
	assert_string_equal(name, "This is a dummy imgname!");
	memset(tiny, 'x', sizeof(tiny));
	assert_int_equal(vaccel_image_detection(&s, big, tiny, 10, sizeof(tiny)), 0);
	assert_memory_equal(tiny, "This is", 7);
	assert_int_equal(tiny[7], '\0');
	assert_int_equal(vaccel_image_segmentation(&s, big, name, 10, sizeof(name)), 0);
	assert_int_equal(vaccel_image_pose(&s, big, name, 10, sizeof(name)), 0);
	assert_int_equal(vaccel_image_depth(&s, big, name, 10, sizeof(name)), 0);
	assert_int_equal(vaccel_session_release(&s), 0);
}

/* vaccel_exec runs a real function of a library on the broker's
 * exec-allow (the exec plugin), inline and through the data area: its
 * results are the test's own computation; a function that fails is
 * ENOEXEC, an unlisted symbol or library EPERM, a missing one ENOENT
 * (under the allowed path), and all 32 + 32 arguments arrive in order
 * (ar_test_count). */
static void test_broker_exec_runs_allowed_function(void **state)
{
	static uint8_t big[300000];
	size_t sizes[] = { 0, 1, 100, sizeof(big) };
	struct vaccel_session s;

	(void)state;
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 2654435761u >> 11);
	assert_int_equal(vaccel_session_init(&s, 0), 0);
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		struct ar_test_exec_in in = { .seed = (uint32_t)k * 7, .rounds = 2 };
		struct ar_test_exec_out out;
		uint64_t sum = 0;
		struct vaccel_arg r[] = {
			{ .buf = big, .size = sizes[k], .type = VACCEL_ARG_BUFFER },
			{ .buf = &in, .size = sizeof(in), .type = VACCEL_ARG_CUSTOM,
			  .custom_type_id = AR_TEST_EXEC_IN_ID },
		};
		struct vaccel_arg w[] = {
			{ .buf = &sum, .size = sizeof(sum), .type = VACCEL_ARG_UINT64 },
			{ .buf = &out, .size = sizeof(out), .type = VACCEL_ARG_RAW },
		};

		memset(&out, 0xee, sizeof(out));
		assert_int_equal(vaccel_exec(&s, AR_TEST_EXEC_LIB, "ar_test_checksum", r, 2,
					     w, 2), 0);
		assert_int_equal(sum, ar_test_exec_expect(big, sizes[k], in.seed, in.rounds));
		assert_int_equal(out.bytes, sizes[k]);
		assert_int_equal(out.type_seen, VACCEL_ARG_BUFFER);
		{
			uint32_t nz = 0;

			for (size_t i = 0; i < sizes[k]; i++)
				nz += big[i] != 0;
			assert_int_equal(out.nonzero, nz);
		}
		/* The same through vaccel_genop, exec's op number first. */
		if (k == 2) {
			uint8_t op = VACCEL_OP_EXEC;
			char lib[] = AR_TEST_EXEC_LIB, sym[] = "ar_test_checksum";
			struct vaccel_arg g[] = {
				{ .size = 1, .buf = &op }, { .size = sizeof(lib), .buf = lib },
				{ .size = sizeof(sym), .buf = sym }, r[0], r[1],
			};

			sum = 0;
			assert_int_equal(vaccel_genop(&s, g, 5, w, 2), 0);
			assert_int_equal(sum, ar_test_exec_expect(big, sizes[k], in.seed, in.rounds));
		}
	}
	assert_int_equal(vaccel_exec(&s, AR_TEST_EXEC_LIB, "ar_test_fail", NULL, 0, NULL, 0),
			 VACCEL_ENOEXEC);
	assert_int_equal(vaccel_exec(&s, AR_TEST_EXEC_LIB, "ar_test_hidden", NULL, 0, NULL, 0),
			 VACCEL_EPERM);
	assert_int_equal(vaccel_exec(&s, "/lib/libfoo.so", "bar", NULL, 0, NULL, 0),
			 VACCEL_EPERM);
	assert_int_equal(vaccel_exec(&s, "libartest-exec.so", "ar_test_count", NULL, 0,
				     NULL, 0), VACCEL_EPERM);
	assert_int_equal(vaccel_exec(&s, AR_TEST_EXEC_LIB, "ar_test_nosuch", NULL, 0, NULL, 0),
			 VACCEL_ENOENT);
	{
		int32_t in[32], out[32];
		struct vaccel_arg r[32], w[32];

		for (int i = 0; i < 32; i++) {
			in[i] = i * 3 - 50;
			out[i] = 0;
			r[i] = (struct vaccel_arg){ .buf = &in[i], .size = 4,
						    .type = VACCEL_ARG_INT32,
						    .custom_type_id = (uint32_t)i };
			w[i] = (struct vaccel_arg){ .buf = &out[i], .size = 4,
						    .type = VACCEL_ARG_INT32 };
		}
		assert_int_equal(vaccel_exec(&s, AR_TEST_EXEC_LIB, "ar_test_count", r, 32, w,
					     32), 0);
		assert_int_equal(out[0], 32);
		assert_int_equal(out[1], 32);
		for (int j = 2; j < 32; j++)
			assert_int_equal(out[j], j * 3 - 50 + j);
		/* One more than the wire carries: the client refuses it. */
		assert_int_equal(vaccel_exec(&s, AR_TEST_EXEC_LIB, "ar_test_count", r, 33, w,
					     1), VACCEL_EINVAL);
	}
	assert_int_equal(vaccel_session_release(&s), 0);
}

/* genop reaches the broker; its sgemm is the real sgemm. */
static void test_broker_genop(void **state)
{
	struct vaccel_session s;

	(void)state;
	assert_int_equal(vaccel_session_init(&s, 0), 0);
	{
		uint8_t op = VACCEL_OP_NOOP;
		struct vaccel_arg g[] = { { .size = 1, .buf = &op } };

		assert_int_equal(vaccel_genop(&s, g, 1, NULL, 0), 0);
	}
	{
		uint8_t op = VACCEL_OP_BLAS_SGEMM;
		int64_t m = 3, n = 4, k = 2, lda = 2, ldb = 4, ldc = 4;
		float alpha = 1, beta = 0, a[6], b[8], c[12], want[12];
		struct vaccel_arg g[] = {
			{ .size = 1, .buf = &op }, { .size = 8, .buf = &m },
			{ .size = 8, .buf = &n }, { .size = 8, .buf = &k },
			{ .size = 4, .buf = &alpha }, { .size = sizeof(a), .buf = a },
			{ .size = 8, .buf = &lda }, { .size = sizeof(b), .buf = b },
			{ .size = 8, .buf = &ldb }, { .size = 4, .buf = &beta },
			{ .size = 8, .buf = &ldc },
		};
		struct vaccel_arg gw[] = { { .size = sizeof(c), .buf = c } };

		fill(a, 6, 7);
		fill(b, 8, 8);
		assert_int_equal(vaccel_genop(&s, g, 11, gw, 1), 0);
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 3, 4, 2, 1,
			    a, 2, b, 4, 0, want, 4);
		assert_true(max_diff(c, want, 12) < 1e-5);
		/* A wrong argument count is the caller's error. */
		assert_int_equal(vaccel_genop(&s, g, 10, gw, 1), EINVAL);
	}
	assert_int_equal(vaccel_session_release(&s), 0);
}

/* A request too large for the broker's submission ring, or with a name
 * past AR_WIRE_MAX_NAME, is that op's error at submission (EMSGSIZE,
 * EINVAL), over every transport: the connection and the session go on
 * (over a stream it once cost the connection). */
static void test_broker_oversized_request_refused(void **state)
{
	size_t big = 256u << 10;
	struct ar_client *c;
	struct ar_queue *q;
	struct ar_cqe cqe;
	char *name = malloc(40000);
	uint8_t *bytes = calloc(1, big);
	struct ar_arg r = { bytes, (uint32_t)big, 0, 0 };
	uint32_t sid;

	(void)state;
	assert_non_null(name);
	assert_non_null(bytes);
	memset(name, 'x', 39999);
	name[39999] = '\0';
	open_session(NULL, &c, &q, &sid);
	assert_int_equal(ar_submit_generic(q, sid, AR_OP_EXEC, "lib", "sym", &r, 1, NULL, 0, 1),
			 -EMSGSIZE);
	assert_int_equal(ar_submit_generic(q, sid, AR_OP_EXEC, "lib", name, NULL, 0, NULL, 0, 2),
			 -EINVAL);
	assert_int_equal(ar_submit_noop(q, sid, 3), 0);
	assert_int_equal(ar_wait(q, &cqe, 1, 1, -1), 1);
	assert_int_equal(cqe.status, 0);
	assert_true(cqe.user_data == 3);
	assert_int_equal(ar_session_close(q, sid), 0);
	ar_client_close(c);
	free(name);
	free(bytes);
}

/* A broker without a plugin for an op answers ENOTSUP, cleanly, and keeps
 * serving the ops it has. */
static void test_broker_unsupported_op_enotsup(void **state)
{
	const char *args[] = { "--plugins=blas", NULL };
	struct test_broker b2;
	struct ar_client *c;
	struct ar_queue *q;
	struct ar_cqe cqe;
	uint32_t sid;

	(void)state;
	assert_int_equal(test_broker_start(&b2, args), 0);
	open_session(b2.address, &c, &q, &sid);
	assert_int_equal(ar_submit_noop(q, sid, 1), 0);
	assert_int_equal(ar_submit_generic(q, sid, AR_OP_OPENCV, NULL, NULL, NULL, 0,
					   NULL, 0, 2), 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(ar_wait(q, &cqe, 1, 1, -1), 1);
		assert_int_equal(cqe.status, -ENOTSUP);
	}
	assert_int_equal(ar_session_close(q, sid), 0);
	ar_client_close(c);
	test_broker_stop(&b2);
	/* noop serves every op but exec's: without the exec plugin, exec
	 * is unsupported, not a fake success. */
	args[0] = "--plugins=noop";
	assert_int_equal(test_broker_start(&b2, args), 0);
	open_session(b2.address, &c, &q, &sid);
	assert_int_equal(ar_submit_generic(q, sid, AR_OP_EXEC, AR_TEST_EXEC_LIB,
					   "ar_test_noop", NULL, 0, NULL, 0, 3), 0);
	assert_int_equal(ar_submit_generic(q, sid, AR_OP_OPENCV, NULL, NULL, NULL, 0,
					   NULL, 0, 4), 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(ar_wait(q, &cqe, 1, 1, -1), 1);
		assert_int_equal(cqe.status, cqe.user_data == 3 ? -ENOTSUP : 0);
	}
	assert_int_equal(ar_session_close(q, sid), 0);
	ar_client_close(c);
	test_broker_stop(&b2);
	/* The process-wide vAccel client still points at the main broker. */
	setenv("ACCELRING_ADDRESS", broker.address, 1);
}

/* A session belongs to the process that opened it: another tenant naming
 * its id is refused, for ops and for release. */
/* A tenant is a uid (SO_PEERCRED): another user's process cannot use or
 * close our session, whatever id it names. */
static void test_broker_sessions_are_per_tenant(void **state)
{
	int p2c[2], c2p[2];
	uint32_t theirs;
	struct ar_client *c;
	struct ar_queue *q;
	struct ar_cqe cqe;
	pid_t pid;
	char go;

	(void)state;
	if (!strcmp(test_transport(), "tcp")) {
		/* Over TCP the tenant is the source address: two processes
		 * on one host are one tenant, by design (test_broker_hostile
		 * checks two addresses). */
		skip();
	}
	if (geteuid() != 0) {
		/* The other tenant is another uid: we must be able to setuid. */
		skip();
	}
	assert_int_equal(pipe(p2c), 0);
	assert_int_equal(pipe(c2p), 0);
	pid = fork();
	if (pid == 0) {
		struct ar_client *cc;
		struct ar_queue *cq;
		uint32_t id = 0;

		alarm(30);	/* never outlive a failed parent */
		if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(3);
		if (ar_client_connect(NULL, &cc) || ar_queue_get(cc, &cq) ||
		    ar_session_open(cq, 0, &id))
			_exit(1);
		if (write(c2p[1], &id, sizeof(id)) != sizeof(id) ||
		    read(p2c[0], &go, 1) != 1)
			_exit(1);
		/* Still ours after the other tenant's attempts. */
		_exit(ar_session_close(cq, id) == 0 ? 0 : 2);
	}
	assert_int_equal(read(c2p[0], &theirs, sizeof(theirs)), sizeof(theirs));
	assert_int_equal(ar_client_connect(NULL, &c), 0);
	assert_int_equal(ar_queue_get(c, &q), 0);
	assert_int_equal(ar_submit_noop(q, theirs, 5), 0);
	assert_int_equal(ar_wait(q, &cqe, 1, 1, -1), 1);
	assert_int_equal(cqe.status, -EPERM);
	/* A refusal is a warning with its reason (README: log-level); the
	 * worker logs it before it posts the completion. */
	{
		char want[128], line[1024];
		bool warned = false;
		FILE *f = fopen(broker.log, "r");

		assert_non_null(f);
		snprintf(want, sizeof(want), "noop refused (EPERM): session %u is not one of tenant",
			 theirs);
		while (fgets(line, sizeof(line), f))
			if (strstr(line, want) && strstr(line, "<warn> conn "))
				warned = true;
		fclose(f);
		assert_true(warned);
	}
	assert_int_equal(ar_session_close(q, theirs), -EPERM);
	assert_int_equal(ar_session_close(q, 0xdeadbeef), -EPERM);
	/* Our own uid's other connections share our sessions. */
	{
		struct ar_client *c2;
		struct ar_queue *q2;
		uint32_t mine;

		assert_int_equal(ar_session_open(q, 0, &mine), 0);
		assert_int_equal(ar_client_connect(NULL, &c2), 0);
		assert_int_equal(ar_queue_get(c2, &q2), 0);
		assert_int_equal(ar_submit_noop(q2, mine, 6), 0);
		assert_int_equal(ar_wait(q2, &cqe, 1, 1, -1), 1);
		assert_int_equal(cqe.status, 0);
		assert_int_equal(ar_session_close(q2, mine), 0);
		ar_client_close(c2);
	}
	ar_client_close(c);
	assert_int_equal(write(p2c[1], "g", 1), 1);
	{
		int st;

		assert_int_equal(waitpid(pid, &st, 0), pid);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	close(p2c[0]);
	close(p2c[1]);
	close(c2p[0]);
	close(c2p[1]);
}

/* Several processes with several threads each, at once: every op of every
 * thread completes with its own result. */
struct worker_arg {
	int id;
	int failures;
};

static void *client_thread(void *p)
{
	struct worker_arg *w = p;
	struct vaccel_session s;
	float a[64], b[64], c[64], want[64];

	if (vaccel_session_init(&s, 0)) {
		w->failures++;
		return NULL;
	}
	for (int i = 0; i < 500; i++) {
		if (vaccel_noop(&s))
			w->failures++;
		if (i % 50 == 0) {
			fill(a, 64, (unsigned)(w->id * 1000 + i));
			fill(b, 64, (unsigned)(w->id * 1000 + i + 1));
			if (vaccel_sgemm(&s, 8, 8, 8, 1, a, 8, b, 8, 0, c, 8)) {
				w->failures++;
				continue;
			}
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 8, 8, 8,
				    1, a, 8, b, 8, 0, want, 8);
			if (max_diff(c, want, 64) > 1e-5)
				w->failures++;
		}
	}
	if (vaccel_session_release(&s))
		w->failures++;
	return NULL;
}

static void test_broker_many_clients(void **state)
{
	enum { PROCS = 4, THREADS = 3 };
	pid_t pids[PROCS];

	(void)state;
	for (int p = 0; p < PROCS; p++) {
		pids[p] = fork();
		if (pids[p] == 0) {
			pthread_t t[THREADS];
			struct worker_arg w[THREADS];
			int bad = 0;

			for (int i = 0; i < THREADS; i++) {
				w[i] = (struct worker_arg){ p * THREADS + i, 0 };
				pthread_create(&t[i], NULL, client_thread, &w[i]);
			}
			for (int i = 0; i < THREADS; i++) {
				pthread_join(t[i], NULL);
				bad += w[i].failures;
			}
			_exit(bad ? 1 : 0);
		}
	}
	for (int p = 0; p < PROCS; p++) {
		int st;

		assert_int_equal(waitpid(pids[p], &st, 0), pids[p]);
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 0);
	}
}

/* Wait for completions and reap them: each successful, each user_data
 * below `ids` and seen once (seen[] counts). Returns how many. */
static unsigned reap_each_once(struct ar_queue *q, uint8_t *seen, uint64_t ids)
{
	struct ar_cqe cqes[256];
	int n = ar_wait(q, cqes, 256, 1, -1);

	assert_true(n > 0);
	for (int i = 0; i < n; i++) {
		assert_true(cqes[i].user_data < ids);
		assert_int_equal(cqes[i].status, 0);
		assert_int_equal(seen[cqes[i].user_data]++, 0);
	}
	return (unsigned)n;
}

/* The async API: many ops in flight, each completing once with its own
 * user_data, in batches larger than the broker's. */
static void test_broker_async_many_inflight(void **state)
{
	enum { N = 3000 };
	static uint8_t seen[N];
	struct ar_client *c;
	struct ar_queue *q;
	unsigned done = 0, sent = 0;
	uint32_t sid;

	(void)state;
	memset(seen, 0, sizeof(seen));
	open_session(NULL, &c, &q, &sid);
	while (done < N) {
		while (sent < N) {
			int ret = (sent % 10 == 9) ? ar_submit_mbench(q, sid, 1, sent)
						   : ar_submit_noop(q, sid, sent);

			if (ret == -EAGAIN)
				break;
			assert_int_equal(ret, 0);
			sent++;
		}
		done += reap_each_once(q, seen, N);
	}
	assert_int_equal(ar_queue_inflight(q), 0);
	assert_int_equal(ar_session_close(q, sid), 0);
	ar_client_close(c);
}

/* The queue's whole table of ops in flight, filled without reaping (rings
 * large enough that the table fills first): EAGAIN at 4096, every op
 * answered once, and the slots reused after (a fresh queue hands out
 * untouched slots first, then the ones freed: client.c ar__slot_get()).
 * Over the stream transport too: the same table. */
static void test_broker_async_all_slots(void **state)
{
	enum { SLOTS = 4096 };
	static uint8_t seen[2 * SLOTS];
	struct ar_client *c;
	struct ar_queue *q;
	unsigned sent = 0, done = 0;
	uint32_t sid;

	(void)state;
	memset(seen, 0, sizeof(seen));
	setenv("ACCELRING_SQ_BYTES", "1M", 1);
	setenv("ACCELRING_CQ_BYTES", "1M", 1);
	open_session(NULL, &c, &q, &sid);
	unsetenv("ACCELRING_SQ_BYTES");
	unsetenv("ACCELRING_CQ_BYTES");
	for (int round = 0; round < 2; round++) {
		int ret;

		/* The session's own slot is free again: all 4096 are ours. */
		while ((ret = ar_submit_noop(q, sid, sent)) == 0)
			sent++;
		assert_int_equal(ret, -EAGAIN);
		assert_int_equal(sent, (unsigned)(round + 1) * SLOTS);
		assert_int_equal(ar_queue_inflight(q), SLOTS);
		while (done < sent)
			done += reap_each_once(q, seen, 2 * SLOTS);
		assert_int_equal(ar_queue_inflight(q), 0);
	}
	assert_int_equal(ar_session_close(q, sid), 0);
	ar_client_close(c);
}

/* A client killed with an op in flight: the broker notices, releases its
 * fds and region, and keeps serving everyone else. */
static void test_broker_client_killed_mid_op(void **state)
{
	struct vaccel_session s;
	int base, now = -1;
	pid_t pid;

	(void)state;
	/* Our own connection exists already; count with it, once the broker
	 * has finished releasing the earlier tests' clients. */
	assert_int_equal(vaccel_session_init(&s, 0), 0);
	base = test_broker_settled_fds(&broker);
	assert_true(base > 0);
	for (int round = 0; round < 5; round++) {
		int pfd[2];
		char x;

		assert_int_equal(pipe(pfd), 0);
		pid = fork();
		if (pid == 0) {
			struct ar_client *c;
			struct ar_queue *q;
			uint32_t sid;

			if (ar_client_connect(NULL, &c) || ar_queue_get(c, &q) ||
			    ar_session_open(q, 0, &sid))
				_exit(1);
			ar_submit_mbench(q, sid, 200000, 1);
			ar_flush(q);
			(void)!write(pfd[1], "x", 1);
			pause();
			_exit(0);
		}
		assert_int_equal(read(pfd[0], &x, 1), 1);
		usleep(1000 * (unsigned)(round * 10));
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		close(pfd[0]);
		close(pfd[1]);
		/* Meanwhile the broker serves us. */
		assert_int_equal(vaccel_noop(&s), 0);
	}
	/* fds come back once the mbench ops have finished (<= 0.2 s each). */
	for (uint64_t t0 = now_ms(); now_ms() - t0 < 5000; usleep(20000)) {
		now = test_broker_fds(&broker);
		if (now == base)
			break;
	}
	assert_int_equal(now, base);
	assert_true(test_broker_alive(&broker));
	assert_int_equal(vaccel_noop(&s), 0);
	assert_int_equal(vaccel_session_release(&s), 0);
}

/* A broker that dies is an error for its clients, never a hang. */
static void test_broker_gone_gives_error(void **state)
{
	struct test_broker b2;
	struct ar_client *c;
	struct ar_queue *q;
	struct ar_cqe cqe;
	uint32_t sid;
	uint64_t t0;

	(void)state;
	assert_int_equal(test_broker_start(&b2, NULL), 0);
	open_session(b2.address, &c, &q, &sid);
	assert_int_equal(ar_submit_mbench(q, sid, 2000000, 9), 0);
	assert_int_equal(ar_flush(q), 0);
	usleep(50000);
	kill(b2.pid, SIGKILL);
	t0 = now_ms();
	assert_int_equal(ar_wait(q, &cqe, 1, 1, 10ll * 1000000000), 1);
	assert_int_equal(cqe.user_data, 9);
	assert_int_equal(cqe.status, -ECONNRESET);
	assert_true(now_ms() - t0 < 5000);
	assert_int_equal(ar_submit_noop(q, sid, 10), -ECONNRESET);
	ar_client_close(c);
	test_broker_stop(&b2);
	setenv("ACCELRING_ADDRESS", broker.address, 1);
	/* No broker at all: a clear error at connect time. */
	assert_int_equal(ar_client_connect("unix:///nonexistent/accelring.sock", &c), 0);
	assert_int_equal(ar_queue_get(c, &q), -ENOENT);
	ar_client_close(c);
	/* Nobody listens on TCP port 1: refused, not a hang. */
	assert_int_equal(ar_client_connect("tcp://127.0.0.1:1", &c), 0);
	assert_int_equal(ar_queue_get(c, &q), -ECONNREFUSED);
	ar_client_close(c);
	assert_int_equal(ar_client_connect("ftp://host/x", &c), -EPROTONOSUPPORT);
	assert_int_equal(ar_client_connect("vsock://2", &c), -EINVAL);
	assert_int_equal(ar_client_connect("relative/path", &c), -EINVAL);
}

/* An unknown plugin, or one built for another plugin ABI, stops the
 * broker at start with a message saying so. */
static void test_broker_refuses_bad_plugins(void **state)
{
	const char *unknown[] = { "--plugins=noop:doesnotexist", NULL };
	const char *abi[] = { "--plugins=noop:" AR_BAD_ABI_PLUGIN, NULL };
	struct test_broker b2;

	(void)state;
	assert_int_equal(test_broker_start(&b2, unknown), -1);
	assert_int_equal(test_broker_start(&b2, abi), -1);
	/* The harness printed both logs; check the words with a fresh run
	 * kept alive long enough to read them. */
	{
		char cmd[1024];

		snprintf(cmd, sizeof(cmd),
			 "%s --socket=/tmp/accelring-abi-%d.sock --plugin-dir=%s "
			 "--plugins=%s 2>&1 | grep -q 'built for plugin ABI 99'",
			 AR_BROKER_PATH, (int)getpid(), AR_PLUGIN_BUILD_DIR,
			 AR_BAD_ABI_PLUGIN);
		assert_int_equal(system(cmd), 0);
		snprintf(cmd, sizeof(cmd),
			 "%s --socket=/tmp/accelring-abi-%d.sock --plugin-dir=%s "
			 "--plugins=doesnotexist 2>&1 | grep -q 'cannot load'",
			 AR_BROKER_PATH, (int)getpid(), AR_PLUGIN_BUILD_DIR);
		assert_int_equal(system(cmd), 0);
	}
}

/* A plugin all of whose ops an earlier one takes (noop before blas) is
 * named at start; the usual order (blas before noop) is not. */
static void test_broker_warns_shadowed_plugin(void **state)
{
	const char *wrong[] = { "--plugins=noop:blas", NULL };
	const char *right[] = { "--plugins=blas:noop", NULL };
	struct test_broker b2;

	(void)state;
	assert_int_equal(test_broker_start(&b2, wrong), 0);
	assert_true(test_broker_logged(&b2, "plugin blas serves none of its 1 ops: noop"));
	assert_int_equal(test_broker_stop(&b2), 0);
	assert_int_equal(test_broker_start(&b2, right), 0);
	assert_false(test_broker_logged(&b2, "serves none"));
	assert_int_equal(test_broker_stop(&b2), 0);
	/* The broker's default order: noop leaves exec's ops to exec. */
	assert_int_equal(test_broker_start(&b2, (const char *[]){ "--plugins=noop:exec", NULL }),
			 0);
	assert_true(test_broker_logged(&b2, "loaded plugin exec"));
	assert_false(test_broker_logged(&b2, "serves none"));
	assert_int_equal(test_broker_stop(&b2), 0);
	setenv("ACCELRING_ADDRESS", broker.address, 1);
}

/* SIGTERM under load: queued ops run for the grace period, the rest
 * complete with ECANCELED; every op completes exactly once. */
static void test_broker_sigterm_drains(void **state)
{
	const char *args[] = { "--grace-ms=150", NULL };
	enum { N = 100 };
	struct test_broker b2;
	struct ar_client *c;
	struct ar_queue *q;
	struct ar_cqe cqes[N];
	int done = 0, ok = 0, cancelled = 0;
	uint32_t sid;

	(void)state;
	assert_int_equal(test_broker_start(&b2, args), 0);
	open_session(b2.address, &c, &q, &sid);
	for (int i = 0; i < N; i++)
		assert_int_equal(ar_submit_mbench(q, sid, 10000, (uint64_t)i), 0);
	assert_int_equal(ar_flush(q), 0);
	usleep(30000);
	kill(b2.pid, SIGTERM);
	while (done < N) {
		int n = ar_wait(q, cqes, N, 1, 10ll * 1000000000);

		assert_true(n > 0);
		for (int i = 0; i < n; i++) {
			if (cqes[i].status == 0)
				ok++;
			else if (cqes[i].status == -ECANCELED)
				cancelled++;
			else {
				fail_msg("op %llu: status %d",
					 (unsigned long long)cqes[i].user_data,
					 cqes[i].status);
			}
		}
		done += n;
	}
	assert_int_equal(ok + cancelled, N);
	assert_true(ok > 0);
	assert_true(cancelled > 0);
	ar_client_close(c);
	assert_int_equal(test_broker_stop(&b2), 0);
	setenv("ACCELRING_ADDRESS", broker.address, 1);
}

/* The suite's broker exits 0 on SIGTERM: no sanitizer report, no leak
 * (a failing group teardown does not fail a cmocka 1.1 run, so this is a
 * test of its own, the last). */
static void test_broker_exits_clean(void **state)
{
	(void)state;
	assert_int_equal(test_broker_stop(&broker), 0);
}

/* The exec plugin with the test library on its exec-allow (but for
 * ar_test_hidden). */
static int setup(void **state)
{
	const char *args[] = {
		"--plugins=blas:mbench:noop:exec",
		"--exec-allow=" AR_TEST_EXEC_LIB ":ar_test_checksum,ar_test_count,ar_test_fail,"
		"ar_test_nosuch",
		NULL,
	};

	(void)state;
	return test_broker_start(&broker, args);
}

static int teardown(void **state)
{
	(void)state;
	vaccel_cleanup();
	/* Stopped by the last test already, which checked its exit. */
	if (broker.pid <= 0)
		return 0;
	return test_broker_stop(&broker) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_broker_noop_roundtrip),
		cmocka_unit_test(test_broker_sgemm_matches_cblas),
		cmocka_unit_test(test_broker_image_ops),
		cmocka_unit_test(test_broker_exec_runs_allowed_function),
		cmocka_unit_test(test_broker_genop),
		cmocka_unit_test(test_broker_oversized_request_refused),
		cmocka_unit_test(test_broker_unsupported_op_enotsup),
		cmocka_unit_test(test_broker_sessions_are_per_tenant),
		cmocka_unit_test(test_broker_many_clients),
		cmocka_unit_test(test_broker_async_many_inflight),
		cmocka_unit_test(test_broker_async_all_slots),
		cmocka_unit_test(test_broker_client_killed_mid_op),
		cmocka_unit_test(test_broker_gone_gives_error),
		cmocka_unit_test(test_broker_refuses_bad_plugins),
		cmocka_unit_test(test_broker_warns_shadowed_plugin),
		cmocka_unit_test(test_broker_sigterm_drains),
		cmocka_unit_test(test_broker_exits_clean),
	};

	if (getenv("ACCELRING_TEST_FILTER"))
		cmocka_set_test_filter(getenv("ACCELRING_TEST_FILTER"));
	return cmocka_run_group_tests_name("broker", tests, setup, teardown);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_client_errors - what a vAccel program's user reads when something
 * fails, at the default log level (nothing set): no broker at the socket
 * (missing, or nobody listening), no broker on a TCP port, a host name
 * that does not resolve (its own errno, not EHOSTUNREACH), sgemm's bad
 * arguments one by one, a data area too small (its size and
 * ACCELRING_DATA_BYTES), a released session, and the broker's or a
 * plugin's reason for a refusal. Each case runs in a fresh child process
 * (this program again) whose output is read whole.
 *
 * Over shared memory, and again over a UNIX stream (the local data area
 * is the client's own there).
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include <vaccel.h>

#include "broker_harness.h"
#include "run_child.h"

static struct test_broker broker;
static char out[1 << 16];

/* The variables a child must not inherit from whoever runs the suite. */
#define CLEAN_ENV "VACCEL_LOG_LEVEL", "VACCEL_LOG_FILE", "VACCEL_RPC_ADDRESS", \
	"ACCELRING_CHANNELS", "ACCELRING_DATA_BYTES", "ACCELRING_SPIN_NS", \
	"ACCELRING_SQ_BYTES", "ACCELRING_CQ_BYTES"

static void want(const char *text, const char *s)
{
	if (!strstr(text, s))
		fail_msg("no \"%s\" in:\n%s", s, text);
}

/* ---- children ---- */

static int child_session(void)
{
	struct vaccel_session s;
	int ret = vaccel_session_init(&s, 0);

	printf("session=%d\n", ret);
	if (!ret)
		vaccel_session_release(&s);
	return 0;
}

/* Each op that must fail, its code on a line of its own ("name=code"). */
static int child_ops(void)
{
	enum { N = 600 };	/* 600 x 600 floats: 1.44 MB, more than 1 MiB */
	static float a[N * N], b[N * N], c[N * N];
	struct vaccel_session s;
	int32_t x = 0;
	struct vaccel_arg arg = { .buf = &x, .size = sizeof(x), .type = VACCEL_ARG_INT32 };

	if (vaccel_session_init(&s, 0))
		return 1;
#define P(name, call) printf("%s=%d\n", name, call)
	P("null_a", vaccel_sgemm(&s, 2, 2, 2, 1, NULL, 2, b, 2, 0, c, 2));
	P("null_c", vaccel_sgemm(&s, 2, 2, 2, 1, a, 2, b, 2, 0, NULL, 2));
	P("m0", vaccel_sgemm(&s, 0, 2, 2, 1, a, 2, b, 2, 0, c, 2));
	P("kneg", vaccel_sgemm(&s, 2, 2, -3, 1, a, 2, b, 2, 0, c, 2));
	P("lda", vaccel_sgemm(&s, 2, 3, 4, 1, a, 2, b, 3, 0, c, 3));
	P("ldb", vaccel_sgemm(&s, 2, 3, 4, 1, a, 4, b, 1, 0, c, 3));
	P("ldc", vaccel_sgemm(&s, 2, 3, 4, 1, a, 4, b, 3, 0, c, 2));
	P("mbig", vaccel_sgemm(&s, 3000000000ll, 2, 2, 1, a, 2, b, 2, 0, c, 2));
	P("huge", vaccel_sgemm(&s, INT32_MAX, 2, INT32_MAX, 1, a, INT32_MAX, b, 2, 0, c, 2));
	P("nosess", vaccel_sgemm(NULL, 2, 2, 2, 1, a, 2, b, 2, 0, c, 2));
	/* More than the data area that ACCELRING_DATA_BYTES (or the
	 * broker's data-bytes) made. */
	P("area", vaccel_sgemm(&s, N, N, N, 1, a, N, b, N, 0, c, N));
	/* A plugin's reason: exec is off (exec-allow is empty). */
	P("exec", vaccel_exec(&s, "/usr/lib/libm.so.6", "cos", &arg, 1, NULL, 0));
	/* And the good ones still run, silently. */
	P("good", vaccel_sgemm(&s, 2, 2, 2, 1, a, 2, b, 2, 0, c, 2));
	vaccel_session_release(&s);
	P("released", vaccel_noop(&s));
#undef P
	fflush(stdout);
	return 0;
}

/* ---- connecting ---- */

/* No socket at the address: ENOENT, and the line names the address, its
 * variable, and what to check. */
static void test_client_errors_no_socket(void **state)
{
	char set[256], line[512];
	const char *env[] = { CLEAN_ENV, set, NULL };

	(void)state;
	for (int stream = 0; stream < 2; stream++) {
		snprintf(set, sizeof(set), "ACCELRING_ADDRESS=%s://%s/none.sock",
			 stream ? "unix-stream" : "unix", broker.dir);
		assert_int_equal(run_child("--session", env, out, sizeof(out), 60), 0);
		want(out, "session=2\n");
		snprintf(line, sizeof(line),
			 "<error> accelring: no channel to the broker: cannot connect to %s (from "
			 "ACCELRING_ADDRESS): No such file or directory; no socket there: is "
			 "accelringd running", set + strlen("ACCELRING_ADDRESS="));
		want(out, line);
		want(out, "mounted into this container?\n");
	}
}

/* A socket nobody listens on (a broker that exited leaves its file), and
 * a TCP port nobody listens on: ECONNREFUSED, each with its hint. */
static void test_client_errors_refused(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(in);
	char set[256];
	const char *env[] = { CLEAN_ENV, set, NULL };
	int fd;

	(void)state;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/stale.sock", broker.dir);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	snprintf(set, sizeof(set), "ACCELRING_ADDRESS=unix://%s", sa.sun_path);
	assert_int_equal(run_child("--session", env, out, sizeof(out), 60), 0);
	want(out, "session=111\n");
	want(out, "Connection refused; nothing listens on the socket: is accelringd running?");
	unlink(sa.sun_path);

	/* Bound, never listening: the port is ours and refuses. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&in, sizeof(in)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&in, &len), 0);
	snprintf(set, sizeof(set), "ACCELRING_ADDRESS=tcp://127.0.0.1:%u", ntohs(in.sin_port));
	assert_int_equal(run_child("--session", env, out, sizeof(out), 60), 0);
	close(fd);
	want(out, "session=111\n");
	want(out, set + strlen("ACCELRING_ADDRESS="));
	want(out, "Connection refused; nothing listens there: is accelringd running with tcp = "
		  "HOST:PORT");
}

/* A name that does not resolve: "cannot resolve host", the resolver's
 * words, and its own errno (no such host: ENXIO; a resolver that cannot
 * be reached from this sandbox: EAGAIN), never EHOSTUNREACH. */
static void test_client_errors_dns(void **state)
{
	const char *env[] = { CLEAN_ENV, "ACCELRING_ADDRESS=tcp://no-such-host.invalid:7355",
			      /* no more than a second or two without a resolver */
			      "RES_OPTIONS=timeout:1 attempts:1", NULL };
	int code = -1;
	const char *s;

	(void)state;
	assert_int_equal(run_child("--session", env, out, sizeof(out), 60), 0);
	s = strstr(out, "session=");
	assert_non_null(s);
	assert_int_equal(sscanf(s, "session=%d", &code), 1);
	if (code != ENXIO && code != EAGAIN)
		fail_msg("session=%d, want ENXIO or EAGAIN:\n%s", code, out);
	want(out, "<error> accelring: no channel to the broker: cannot resolve host "
		  "no-such-host.invalid (tcp://no-such-host.invalid:7355, from ACCELRING_ADDRESS): ");
	want(out, gai_strerror(code == ENXIO ? EAI_NONAME : EAI_AGAIN));
}

/* ---- ops ---- */

/* sgemm's EINVAL names its argument; the data area's ENOMEM its size and
 * ACCELRING_DATA_BYTES (1M here, K/M/G accepted); a plugin's reason and a
 * released session reach the log; good ops log nothing. */
static void test_client_errors_ops(void **state)
{
	static const struct {
		const char *name;
		int code;
		const char *line;
	} cases[] = {
		{ "null_a", EINVAL, "blas_sgemm: Invalid argument: a is NULL\n" },
		{ "null_c", EINVAL, "blas_sgemm: Invalid argument: c is NULL\n" },
		{ "m0", EINVAL, "blas_sgemm: Invalid argument: m = 0: a dimension must be at least 1\n" },
		{ "kneg", EINVAL, "blas_sgemm: Invalid argument: k = -3: a dimension must be at least 1\n" },
		{ "lda", EINVAL, "blas_sgemm: Invalid argument: lda = 2 is below k = 4 (row-major: A's "
				 "rows hold k elements)\n" },
		{ "ldb", EINVAL, "blas_sgemm: Invalid argument: ldb = 1 is below n = 3" },
		{ "ldc", EINVAL, "blas_sgemm: Invalid argument: ldc = 2 is below n = 3" },
		{ "mbig", EINVAL, "blas_sgemm: Invalid argument: m = 3000000000: above 2147483647\n" },
		{ "huge", EINVAL, "blas_sgemm: Invalid argument: A (m = 2147483647, lda = 2147483647) "
				  "is larger than any data area" },
		{ "nosess", EINVAL, "blas_sgemm: Invalid argument: no session (NULL)\n" },
		{ "area", ENOMEM, "blas_sgemm: Cannot allocate memory: no room for A (1440000 bytes) in "
				  "the data area (1048576 bytes, as ACCELRING_DATA_BYTES asked); raise "
				  "ACCELRING_DATA_BYTES (the broker allows up to its " },
		{ "exec", EPERM, "exec: Operation not permitted: exec is off: exec-allow is empty\n" },
		{ "good", 0, NULL },
		{ "released", EINVAL, "noop: Invalid argument: the session is not open (released, "
				      "or never initialized)\n" },
	};
	const char *env[] = { CLEAN_ENV, "ACCELRING_DATA_BYTES=1M", NULL };

	(void)state;
	assert_int_equal(run_child("--ops", env, out, sizeof(out), 120), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char code[64];

		snprintf(code, sizeof(code), "\n%s=%d\n", cases[i].name, cases[i].code);
		if (!strstr(out, code) && strncmp(out, code + 1, strlen(code + 1)))
			fail_msg("want %s in:\n%s", code + 1, out);
		if (cases[i].line)
			want(out, cases[i].line);
	}
	/* One line per failure (13 of 14), each an error: nothing else. */
	assert_int_equal(count_of(out, "<error>"), 13);
	assert_int_equal(count_of(out, " - <"), 13);
}

/* Without ACCELRING_DATA_BYTES the line says what made the area: the
 * broker's data-bytes (shared memory; 1M on this broker) or the stream
 * client's own default. */
static void test_client_errors_area_default(void **state)
{
	const char *env[] = { CLEAN_ENV, NULL };

	(void)state;
	assert_int_equal(run_child("--ops", env, out, sizeof(out), 120), 0);
	if (test_transport_is_shm()) {
		want(out, "\narea=12\n");
		want(out, "in the data area (1048576 bytes, the broker's data-bytes: "
			  "ACCELRING_DATA_BYTES is not set); raise ACCELRING_DATA_BYTES (the broker "
			  "allows up to its max-data-bytes)");
	} else {
		/* 64 MiB of its own: the 1.44 MB matrices fit. */
		want(out, "\narea=0\n");
	}
}

static void test_client_errors_exits_clean(void **state)
{
	(void)state;
	assert_int_equal(test_broker_stop(&broker), 0);
}

static int setup(void **state)
{
	/* exec without exec-allow: off, with its reason. */
	const char *args[] = { "--plugins=exec:blas:noop", "--data-bytes=1M", NULL };

	(void)state;
	return test_broker_start(&broker, args);
}

static int teardown(void **state)
{
	(void)state;
	vaccel_cleanup();
	if (broker.pid <= 0)
		return 0;
	return test_broker_stop(&broker) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_client_errors_no_socket),
		cmocka_unit_test(test_client_errors_refused),
		cmocka_unit_test(test_client_errors_dns),
		cmocka_unit_test(test_client_errors_ops),
		cmocka_unit_test(test_client_errors_area_default),
		cmocka_unit_test(test_client_errors_exits_clean),
	};

	if (argc > 1 && !strcmp(argv[1], "--session"))
		return child_session();
	if (argc > 1 && !strcmp(argv[1], "--ops"))
		return child_ops();
	return cmocka_run_group_tests_name("client_errors", tests, setup, teardown);
}

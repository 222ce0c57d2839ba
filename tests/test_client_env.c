/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_client_env - the client's environment: one parser for the
 * ACCELRING_* variables (sizes with K/M/G as the broker takes them,
 * values that do not parse ignored, values out of range clamped, each
 * with a warning that a fresh process logs by default, once, at connect,
 * saying what is used instead), the broker's address and the variable it
 * came from in every refusal of it, and the library's version
 * (ar_version, exported at ACCELRING_1.2, logged at debug).
 *
 * Linked with the static library: the parser is tested as a unit, and
 * the same process, run again as a child with an environment of its own,
 * talks to a real accelringd through the vAccel and the native API.
 */
#include <dlfcn.h>
#include <errno.h>
#include <netdb.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <accelring/client.h>
#include <vaccel.h>

#include "../libclient/client_pvt.h"
#include "broker_harness.h"
#include "run_child.h"

#ifndef AR_CLIENT_SO
#error "AR_CLIENT_SO must name the built libaccelring.so.1"
#endif

static struct test_broker broker;
static char out[1 << 16];

/* ---- the parser ---- */

struct env_case {
	enum ar__env var;
	const char *in;		/* NULL: unset */
	uint64_t want;
	int ret;
	const char *warn;	/* a substring of the warning, or NULL: none */
};

/* Sizes take K, M, G (either case) as the broker's settings do; numbers
 * as strtoull reads them; an unset or empty variable is its default. */
static void test_client_env_sizes(void **state)
{
	static const struct env_case cases[] = {
		{ AR_ENV_DATA_BYTES, NULL, 0, 0, NULL },
		{ AR_ENV_DATA_BYTES, "", 0, 0, NULL },
		{ AR_ENV_DATA_BYTES, "4096", 4096, 0, NULL },
		{ AR_ENV_DATA_BYTES, "0x1000", 4096, 0, NULL },
		{ AR_ENV_DATA_BYTES, "64K", 64 << 10, 0, NULL },
		{ AR_ENV_DATA_BYTES, "64k", 64 << 10, 0, NULL },
		{ AR_ENV_DATA_BYTES, "2M", 2 << 20, 0, NULL },
		{ AR_ENV_DATA_BYTES, "3G", 3ull << 30, 0, NULL },
		{ AR_ENV_DATA_BYTES, "0", 0, 0, NULL },
		{ AR_ENV_TENSOR_OUT_BYTES, "16", 16, 0, NULL },
		{ AR_ENV_TENSOR_OUT_BYTES, "4m", 4 << 20, 0, NULL },
		{ AR_ENV_TENSOR_OUT_BYTES, NULL, 1 << 20, 0, NULL },
		{ AR_ENV_SQ_BYTES, "128K", 128 << 10, 0, NULL },
		{ AR_ENV_SQ_BYTES, "0", 0, 0, NULL },
		{ AR_ENV_CQ_BYTES, "1M", 1 << 20, 0, NULL },
		{ AR_ENV_CHANNELS, "8", 8, 0, NULL },
		{ AR_ENV_SPIN_NS, "0", 0, 0, NULL },
		{ AR_ENV_TRACE, NULL, 2, 0, NULL },
		{ AR_ENV_TRACE, "0", 0, 0, NULL },
		{ AR_ENV_TRACE, "1", 1, 0, NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct env_case *c = &cases[i];
		char warn[256] = "x";
		uint64_t v = 1234567;
		int ret = ar__env_parse(&ar__env_vars[c->var], c->in, &v, warn, sizeof(warn));

		if (ret != c->ret || v != c->want || warn[0])
			fail_msg("%s=%s: ret %d value %llu warning \"%s\"", ar__env_vars[c->var].name,
				 c->in ? c->in : "(unset)", ret, (unsigned long long)v, warn);
	}
}

/* What does not parse is the default; what lies outside the range is
 * clamped; a ring that is not a power of two is rounded up: never an
 * error, always a warning that names the variable, the value and what is
 * used instead. */
static void test_client_env_ignored_or_clamped(void **state)
{
	static const struct env_case cases[] = {
		{ AR_ENV_CHANNELS, "abc", 4, -EINVAL,
		  "ACCELRING_CHANNELS=abc is not a number: using the default, 4" },
		{ AR_ENV_CHANNELS, "1000", 64, -ERANGE,
		  "ACCELRING_CHANNELS=1000 is outside 1..64: using 64" },
		{ AR_ENV_CHANNELS, "0", 1, -ERANGE, "ACCELRING_CHANNELS=0 is outside 1..64: using 1" },
		/* Suffixes are for sizes only. */
		{ AR_ENV_CHANNELS, "4K", 4, -EINVAL, "ACCELRING_CHANNELS=4K is not a number" },
		{ AR_ENV_CHANNELS, "-1", 4, -EINVAL, "ACCELRING_CHANNELS=-1 is not a number" },
		{ AR_ENV_DATA_BYTES, "lots", 0, -EINVAL,
		  "ACCELRING_DATA_BYTES=lots is not a size (a number, with K, M or G): using the "
		  "broker's default" },
		{ AR_ENV_DATA_BYTES, "2T", 0, -EINVAL, "ACCELRING_DATA_BYTES=2T is not a size" },
		{ AR_ENV_DATA_BYTES, "8MB", 0, -EINVAL, "ACCELRING_DATA_BYTES=8MB is not a size" },
		{ AR_ENV_DATA_BYTES, "100G", 64ull << 30, -ERANGE,
		  "ACCELRING_DATA_BYTES=100G is outside 0..64G: using 64G" },
		/* Beyond 64 bits, and beyond them only by the suffix. */
		{ AR_ENV_DATA_BYTES, "99999999999999999999", 64ull << 30, -ERANGE, "using 64G" },
		{ AR_ENV_DATA_BYTES, "17179869184G", 64ull << 30, -ERANGE, "using 64G" },
		{ AR_ENV_SQ_BYTES, "100000", 128 << 10, -ERANGE,
		  "ACCELRING_SQ_BYTES=100000 is not a power of two: using 128K" },
		{ AR_ENV_CQ_BYTES, "100", 4096, -ERANGE,
		  "ACCELRING_CQ_BYTES=100 is outside 4K..256M (or 0, the broker's default): using 4K" },
		{ AR_ENV_SPIN_NS, "5000000000", 1000000000, -ERANGE,
		  "ACCELRING_SPIN_NS=5000000000 is outside 0..1000000000: using 1000000000" },
		{ AR_ENV_TENSOR_OUT_BYTES, "0", 1, -ERANGE, "ACCELRING_TENSOR_OUT_BYTES=0 is outside" },
		{ AR_ENV_TRACE, "3", 2, -ERANGE, "ACCELRING_TRACE=3 is outside 0..2: using 2" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct env_case *c = &cases[i];
		char warn[256] = "";
		uint64_t v = 1234567;
		int ret = ar__env_parse(&ar__env_vars[c->var], c->in, &v, warn, sizeof(warn));

		if (ret != c->ret || v != c->want || !strstr(warn, c->warn))
			fail_msg("%s=%s: ret %d value %llu warning \"%s\", want %d %llu \"%s\"",
				 ar__env_vars[c->var].name, c->in, ret, (unsigned long long)v, warn,
				 c->ret, (unsigned long long)c->want, c->warn);
	}
}

/* Each resolver failure is its own errno, and none is EHOSTUNREACH (which
 * says the network has no route, not that the name is unknown). */
static void test_client_env_gai_errno(void **state)
{
	(void)state;
	assert_int_equal(ar__gai_errno(0), 0);
	assert_int_equal(ar__gai_errno(EAI_NONAME), -ENXIO);
	assert_int_equal(ar__gai_errno(EAI_AGAIN), -EAGAIN);
	assert_int_equal(ar__gai_errno(EAI_FAIL), -EIO);
	assert_int_equal(ar__gai_errno(EAI_MEMORY), -ENOMEM);
	assert_int_equal(ar__gai_errno(EAI_SERVICE), -EINVAL);
	errno = EMFILE;
	assert_int_equal(ar__gai_errno(EAI_SYSTEM), -EMFILE);
}

/* ---- children: a fresh process, its defaults, its own environment ---- */

/* vAccel: a session and a noop, then the native API's data area: what
 * of it can be had (with ACCELRING_DATA_BYTES=2M: 1 MiB, not 3 MiB). */
static int child_session(void)
{
	struct vaccel_session s;
	struct ar_client *c;
	struct ar_queue *q;
	int ret = vaccel_session_init(&s, 0);

	printf("session=%d\n", ret);
	if (ret)
		return 0;
	printf("noop=%d\n", vaccel_noop(&s));
	vaccel_session_release(&s);
	if (ar_client_connect(NULL, &c) || ar_queue_get(c, &q))
		return 1;
	printf("1M=%s 3M=%s\n", ar_buf_alloc(q, 1 << 20) ? "yes" : "no",
	       ar_buf_alloc(q, 3 << 20) ? "yes" : "no");
	ar_client_close(c);
	fflush(stdout);
	return 0;
}

/* The variables a child must not inherit from whoever runs the suite. */
#define CLEAN_ENV "VACCEL_LOG_LEVEL", "VACCEL_LOG_FILE", "VACCEL_RPC_ADDRESS", \
	"ACCELRING_CHANNELS", "ACCELRING_DATA_BYTES", "ACCELRING_SPIN_NS", \
	"ACCELRING_SQ_BYTES", "ACCELRING_CQ_BYTES", "ACCELRING_TRACE"

/* Values that are ignored or clamped still connect; each is a warning at
 * the default log level, once (however many sessions and threads), with
 * what is used; a good value is silent and used (2M: a 1 MiB buffer fits,
 * a 3 MiB one does not). */
static void test_client_env_warned_at_connect(void **state)
{
	const char *env[] = { CLEAN_ENV, "ACCELRING_CHANNELS=abc", "ACCELRING_SQ_BYTES=100000",
			      "ACCELRING_SPIN_NS=5000000000", "ACCELRING_DATA_BYTES=2M", NULL };

	(void)state;
	assert_int_equal(run_child("--session", env, out, sizeof(out), 60), 0);
	if (!strstr(out, "session=0\nnoop=0\n") || !strstr(out, "1M=yes 3M=no"))
		fail_msg("the ignored values stopped the client:\n%s", out);
	if (count_of(out, "<warn> accelring: ACCELRING_CHANNELS=abc is not a number: using the "
			  "default, 4\n") != 1 ||
	    count_of(out, "<warn> accelring: ACCELRING_SQ_BYTES=100000 is not a power of two: "
			  "using 128K\n") != 1 ||
	    count_of(out, "<warn> accelring: ACCELRING_SPIN_NS=5000000000 is outside "
			  "0..1000000000: using 1000000000\n") != 1)
		fail_msg("want each warning once:\n%s", out);
	if (strstr(out, "ACCELRING_DATA_BYTES"))
		fail_msg("a good value warned:\n%s", out);
	/* The broker was asked for the rounded ring: it accepted it. */
	assert_int_equal(count_of(out, "<warn>"), 3);
}

/* Every bad address is refused with the address, the variable it came
 * from and what is wrong, at the default level; the session gets EINVAL
 * (EPROTONOSUPPORT for a scheme this client does not speak). */
static void test_client_env_bad_address(void **state)
{
	static const struct {
		const char *var, *value;
		int ret;
		const char *why;
	} cases[] = {
		{ "ACCELRING_ADDRESS", "tcp://nohostport", EINVAL, "tcp:// needs HOST:PORT" },
		{ "ACCELRING_ADDRESS", "tcp://:7355", EINVAL, "tcp:// needs HOST:PORT" },
		{ "ACCELRING_ADDRESS", "relative.sock", EINVAL, "a socket path must be absolute" },
		{ "ACCELRING_ADDRESS", "unix://run/x.sock", EINVAL, "a socket path must be absolute" },
		{ "ACCELRING_ADDRESS", "vsock://two:7355", EINVAL, "vsock:// needs CID:PORT" },
		{ "ACCELRING_ADDRESS", "vsock://2:", EINVAL, "vsock:// needs CID:PORT" },
		{ "ACCELRING_ADDRESS", "ftp://host/x", EPROTONOSUPPORT, "unknown scheme" },
		{ "ACCELRING_ADDRESS", "", EINVAL, "it is empty" },
		{ "VACCEL_RPC_ADDRESS", "tcp://nohostport", EINVAL, "tcp:// needs HOST:PORT" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char set[256], want[512], ret[32];
		const char *env[] = { CLEAN_ENV, "ACCELRING_ADDRESS", set, NULL };

		snprintf(set, sizeof(set), "%s=%s", cases[i].var, cases[i].value);
		snprintf(want, sizeof(want), "<error> accelring: bad broker address \"%s\" (from %s): %s",
			 cases[i].value, cases[i].var, cases[i].why);
		snprintf(ret, sizeof(ret), "session=%d\n", cases[i].ret);
		assert_int_equal(run_child("--session", env, out, sizeof(out), 60), 0);
		if (!strstr(out, want) || !strstr(out, ret))
			fail_msg("%s: want \"%s\" and %s in:\n%s", set, want, ret, out);
	}
}

/* The native API: ar_client_connect's errno, and the same words from the
 * private entry the vAccel layer uses; the program's own address is named
 * as such. */
static void test_client_env_bad_address_native(void **state)
{
	struct ar_client *c = NULL;
	char why[512];

	(void)state;
	assert_int_equal(ar_client_connect("tcp://x", &c), -EINVAL);
	assert_int_equal(ar_client_connect("sctp://x:1", &c), -EPROTONOSUPPORT);
	assert_null(c);
	assert_int_equal(ar__client_open("/a/path/that/is/far/too/long/for/a/unix/socket/name/"
					 "which/holds/at/most/one/hundred/and/seven/bytes/and/this/one/holds/more.sock",
					 &c, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "(given by the program): a UNIX socket path is at most 107"));
	/* IPv6 hosts in brackets, with a port; nothing connects yet. */
	assert_int_equal(ar_client_connect("tcp://[::1]:7355", &c), 0);
	ar_client_close(c);
	assert_int_equal(ar_client_connect("tcp://::1:7355", &c), -EINVAL);
	assert_int_equal(ar_client_connect("tcp://[]:7355", &c), -EINVAL);
	setenv("ACCELRING_ADDRESS", "tcp://[::1]", 1);
	assert_int_equal(ar__client_open(NULL, &c, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "bad broker address \"tcp://[::1]\" (from ACCELRING_ADDRESS)"));
	setenv("ACCELRING_ADDRESS", broker.address, 1);
	assert_int_equal(ar__client_open(NULL, &c, why, sizeof(why)), 0);
	ar_client_close(c);
}

/* ---- the version ---- */

/* ar_version is the project's version, exported by libaccelring.so.1 at
 * its own version node, and a fresh process logs it at debug. */
static void test_client_env_version(void **state)
{
	const char *env[] = { CLEAN_ENV, "VACCEL_LOG_LEVEL=4", NULL };
	const char *(*fn)(void);
	char want[512];
	regex_t re;
	void *h;

	(void)state;
	assert_string_equal(ar_version(), AR_VERSION_STRING);
	assert_int_equal(regcomp(&re, "^[0-9]+\\.[0-9]+\\.[0-9]+$", REG_EXTENDED | REG_NOSUB), 0);
	assert_int_equal(regexec(&re, ar_version(), 0, NULL, 0), 0);
	regfree(&re);
	h = dlopen(AR_CLIENT_SO, RTLD_NOW | RTLD_LOCAL);
	assert_non_null(h);
	*(void **)&fn = dlvsym(h, "ar_version", "ACCELRING_1.2");
	assert_non_null(fn);
	assert_string_equal(fn(), AR_VERSION_STRING);
	dlclose(h);

	assert_int_equal(run_child("--session", env, out, sizeof(out), 60), 0);
	snprintf(want, sizeof(want), "<debug> libaccelring %s\n", AR_VERSION_STRING);
	if (!strstr(out, want))
		fail_msg("no \"%s\" in:\n%s", want, out);
	snprintf(want, sizeof(want), "<debug> accelring %s: broker at %s (from ACCELRING_ADDRESS)\n",
		 AR_VERSION_STRING, broker.address);
	if (!strstr(out, want))
		fail_msg("no \"%s\" in:\n%s", want, out);
	/* At the default level, none of it. */
	const char *quiet[] = { CLEAN_ENV, NULL };

	assert_int_equal(run_child("--session", quiet, out, sizeof(out), 60), 0);
	if (strstr(out, "<debug>") || strstr(out, "<warn>") || strstr(out, "<error>"))
		fail_msg("a good run logged at the default level:\n%s", out);
}

static void test_client_env_exits_clean(void **state)
{
	(void)state;
	assert_int_equal(test_broker_stop(&broker), 0);
}

static int setup(void **state)
{
	(void)state;
	return test_broker_start(&broker, NULL);
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
		cmocka_unit_test(test_client_env_sizes),
		cmocka_unit_test(test_client_env_ignored_or_clamped),
		cmocka_unit_test(test_client_env_gai_errno),
		cmocka_unit_test(test_client_env_warned_at_connect),
		cmocka_unit_test(test_client_env_bad_address),
		cmocka_unit_test(test_client_env_bad_address_native),
		cmocka_unit_test(test_client_env_version),
		cmocka_unit_test(test_client_env_exits_clean),
	};

	if (argc > 1 && !strcmp(argv[1], "--session"))
		return child_session();
	return cmocka_run_group_tests_name("client_env", tests, setup, teardown);
}

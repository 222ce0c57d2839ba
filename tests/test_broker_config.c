/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_broker_config - the broker's configuration (broker/config.c) as a
 * unit: the file's format, every refusal saying what is accepted (with the
 * line), did-you-mean, the defaults, --help generated from the parser's
 * own table, and what SIGHUP applies.
 *
 * The broker logs to stderr: each check that reads a message sends fd 2
 * to a file for the call and reads it back.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "internal.h"

static char logpath[] = "/tmp/test_broker_config.XXXXXX";
static int saved_err = -1;
static char logged[16384];

/* Everything the broker logs from here until log_end() goes to a file. */
static void log_begin(void)
{
	int fd = open(logpath, O_WRONLY | O_TRUNC);

	assert_true(fd >= 0);
	fflush(stderr);
	saved_err = dup(2);
	dup2(fd, 2);
	close(fd);
}

/* What was logged since log_begin(), in logged. */
static const char *log_end(void)
{
	FILE *f;
	size_t n;

	fflush(stderr);
	dup2(saved_err, 2);
	close(saved_err);
	f = fopen(logpath, "r");
	assert_non_null(f);
	n = fread(logged, 1, sizeof(logged) - 1, f);
	logged[n] = '\0';
	fclose(f);
	return logged;
}

/* A config file with the given text; returns its path (static). */
static const char *write_file(const char *text)
{
	static char path[64];
	int fd;

	snprintf(path, sizeof(path), "/tmp/test_broker_config.conf.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

/* Loads text as a file into c; returns ar__config_load's result, with
 * what it logged in logged. */
static int load_text(struct ar_config *c, const char *text)
{
	const char *path = write_file(text);
	int ret;

	log_begin();
	ret = ar__config_load(c, path);
	log_end();
	unlink(path);
	return ret;
}

static int set_logged(struct ar_config *c, const char *key, const char *val)
{
	int ret;

	log_begin();
	ret = ar__config_set(c, key, val);
	log_end();
	return ret;
}

/* The defaults load only plugins that compute real results: never noop. */
static void test_broker_config_defaults_honest(void **state)
{
	struct ar_config c;

	(void)state;
	ar__config_defaults(&c);
	assert_null(strstr(c.plugins, "noop"));
	assert_non_null(strstr(c.plugins, "blas"));
	assert_non_null(strstr(c.plugins, "exec"));
	assert_string_equal(c.plugins, AR_TEST_DEFAULT_PLUGINS);
	assert_int_equal(c.socket_mode, 0660);
	assert_int_equal(c.socket_gid, UINT32_MAX);
	assert_int_equal(c.log_level, AR_LOG_WARN);
	assert_string_equal(c.socket_path, AR_DEFAULT_SOCKET);
}

/* A line's value: quotes stripped, a '#' after whitespace is a comment, a
 * '#' inside a word is not; quotes anywhere else are refused. */
static void test_broker_config_line_format(void **state)
{
	static const struct {
		const char *line, *name, *value;
		int ret;
	} cases[] = {
		{ "socket = \"/x/y.sock\"\n", "socket", "/x/y.sock", 1 },
		{ "socket = /x.sock # c\n", "socket", "/x.sock", 1 },
		{ "socket=/x.sock#c\n", "socket", "/x.sock#c", 1 },
		{ "  plugins =blas:exec\t\n", "plugins", "blas:exec", 1 },
		{ "exec-allow = \"/lib/a b.so:*\"  # spaces kept\n", "exec-allow",
		  "/lib/a b.so:*", 1 },
		{ "tcp = \"127.0.0.1:7 # not a comment\"\n", "tcp", "127.0.0.1:7 # not a comment", 1 },
		{ "exec-allow =\n", "exec-allow", "", 1 },
		{ "exec-allow = # empty, commented\n", "exec-allow", "", 1 },
		{ "# a comment\n", NULL, NULL, 0 },
		{ "   \n", NULL, NULL, 0 },
		{ "socket = \"/x.sock\n", NULL, NULL, -EINVAL },
		{ "socket = \"/x.sock\" junk\n", NULL, NULL, -EINVAL },
		{ "socket = /x\"y.sock\n", NULL, NULL, -EINVAL },
		{ "socket /x.sock\n", NULL, NULL, -EINVAL },
		{ "= /x.sock\n", NULL, NULL, -EINVAL },
		{ "two words = 1\n", NULL, NULL, -EINVAL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[256], *name = NULL, *value = NULL;
		const char *why = NULL;
		int ret;

		snprintf(buf, sizeof(buf), "%s", cases[i].line);
		ret = ar__config_parse_line(buf, &name, &value, &why);
		if (ret != cases[i].ret)
			fail_msg("'%s': %d, expected %d", cases[i].line, ret, cases[i].ret);
		if (ret == 1) {
			assert_string_equal(name, cases[i].name);
			assert_string_equal(value, cases[i].value);
		} else if (ret < 0) {
			assert_non_null(why);
		}
	}
}

/* socket = "/x/y.sock" is the path without its quotes; a relative path
 * for any path setting is refused with the file's line number. */
static void test_broker_config_file_paths(void **state)
{
	struct ar_config c;

	(void)state;
	ar__config_defaults(&c);
	assert_int_equal(load_text(&c, "# x\nsocket = \"/x/y.sock\" # the socket\n"
				   "plugin-dir = /opt/p\n"), 0);
	assert_string_equal(c.socket_path, "/x/y.sock");
	assert_string_equal(c.plugin_dir, "/opt/p");

	ar__config_defaults(&c);
	assert_int_equal(load_text(&c, "\nsocket = x/y.sock\n"), -EINVAL);
	assert_non_null(strstr(logged, ":2: bad value 'x/y.sock' for socket"));
	assert_non_null(strstr(logged, "not an absolute path"));
	assert_string_equal(c.socket_path, AR_DEFAULT_SOCKET);

	static const char *const rel[] = { "plugin-dir = lib\n", "torch-image-model = m.pt\n",
					   "torch-image-labels = ./l.txt\n",
					   "plugins = blas:./x.so\n", "socket = \"\"\n" };
	for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		ar__config_defaults(&c);
		assert_int_equal(load_text(&c, rel[i]), -EINVAL);
		assert_non_null(strstr(logged, ":1: bad value"));
	}
	/* Names and absolute paths in plugins pass; an empty model is none. */
	ar__config_defaults(&c);
	assert_int_equal(load_text(&c, "plugins = blas:/opt/x.so\ntorch-image-model =\n"), 0);
}

/* Every line of a file is checked: one run lists every mistake. */
static void test_broker_config_file_all_errors(void **state)
{
	struct ar_config c;

	(void)state;
	ar__config_defaults(&c);
	assert_int_equal(load_text(&c, "batch = 5000\nworkers = 2\nbach = 3\nnonsense\n"),
			 -EINVAL);
	assert_non_null(strstr(logged, ":1: bad value '5000' for batch: an integer, 1..1024"));
	assert_non_null(strstr(logged, ":3: unknown setting 'bach' (did you mean 'batch'?)"));
	assert_non_null(strstr(logged, ":4: expected 'name = value'"));
	assert_int_equal(c.workers, 2);
}

/* Every bad value says what is accepted: the range, and K/M/G where sizes
 * take them (and only there). */
static void test_broker_config_bad_values(void **state)
{
	struct ar_config c;

	(void)state;
	ar__config_defaults(&c);
	assert_int_equal(set_logged(&c, "sq-bytes", "3Q"), -EINVAL);
	assert_non_null(strstr(logged, "bad value '3Q' for sq-bytes: bytes, 4K..256M (K, M or G"));
	assert_int_equal(set_logged(&c, "tenant-shm", "2G"), 0);
	assert_int_equal(c.tenant_shm, 2ull << 30);
	assert_int_equal(set_logged(&c, "handshake-ms", "1K"), -EINVAL);
	assert_non_null(strstr(logged, "an integer, 1..3600000"));
	assert_int_equal(set_logged(&c, "max-channels", "65"), -EINVAL);
	assert_non_null(strstr(logged, "1..64"));
	assert_int_equal(set_logged(&c, "batch", "-1"), -EINVAL);
	assert_int_equal(set_logged(&c, "batch", ""), -EINVAL);
	assert_int_equal(set_logged(&c, "batch", "99999999999999999999999"), -EINVAL);
	assert_int_equal(set_logged(&c, "log-level", "loud"), -EINVAL);
	assert_non_null(strstr(logged, "error, warn, info, debug or 1..4"));
	assert_int_equal(set_logged(&c, "log-level", "info"), 0);
	assert_int_equal(c.log_level, AR_LOG_INFO);
	assert_int_equal(set_logged(&c, "spin-us", "7"), 0);
	assert_int_equal(c.spin_ns, 7000);
	assert_int_equal(set_logged(&c, "torch-threads", "0"), -EINVAL);
	assert_int_equal(set_logged(&c, "torch-threads", "4"), 0);
	assert_string_equal(ar__config_setting(&c, "torch-threads"), "4");
	assert_int_equal(set_logged(&c, "isolation", "sometimes"), -EINVAL);
	assert_non_null(strstr(logged, "none, plugin or tenant"));
	assert_int_equal(set_logged(&c, "allow-peers", "10.0.0.0/99"), -EINVAL);
	assert_int_equal(set_logged(&c, "allow-uids", "x-y"), -EINVAL);
	assert_non_null(strstr(logged, "IDs and FIRST-LAST ranges"));
}

/* tcp needs a port, and an IPv6 address its brackets; what the host
 * resolves to is checked before binding (test_accelringd_cli). */
static void test_broker_config_tcp(void **state)
{
	static const char *const good[] = { "127.0.0.1:0", "[::1]:7355", ":7355", "localhost:1",
					    "" };
	static const char *const bad[] = { "localhost", "127.0.0.1:", "::1:7355", "h:70000",
					   "h:x", "h:-1", "[::1]" };
	struct ar_config c;
	char host[128];
	unsigned port;

	(void)state;
	ar__config_defaults(&c);
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(set_logged(&c, "tcp", good[i]), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(set_logged(&c, "tcp", bad[i]), -EINVAL);
		assert_non_null(strstr(logged, "HOST:PORT"));
	}
	assert_int_equal(ar__tcp_split("[::1]:7355", host, sizeof(host), &port), 0);
	assert_string_equal(host, "::1");
	assert_int_equal(port, 7355);
	assert_int_equal(ar__tcp_split(":0", host, sizeof(host), &port), 0);
	assert_string_equal(host, "");
}

/* socket-mode is octal, within 0..0777; socket-group a gid or a name. */
static void test_broker_config_socket_access(void **state)
{
	struct ar_config c;

	(void)state;
	ar__config_defaults(&c);
	assert_int_equal(set_logged(&c, "socket-mode", "0600"), 0);
	assert_int_equal(c.socket_mode, 0600);
	assert_int_equal(set_logged(&c, "socket-mode", "666"), 0);
	assert_int_equal(c.socket_mode, 0666);
	assert_int_equal(set_logged(&c, "socket-mode", "01777"), -EINVAL);
	assert_non_null(strstr(logged, "an octal mode, 0..0777"));
	assert_int_equal(set_logged(&c, "socket-mode", "0689"), -EINVAL);
	assert_int_equal(set_logged(&c, "socket-group", "123"), 0);
	assert_int_equal(c.socket_gid, 123);
	assert_int_equal(set_logged(&c, "socket-group", "root"), 0);
	assert_int_equal(c.socket_gid, 0);
	assert_int_equal(set_logged(&c, "socket-group", "no-such-group-here"), -EINVAL);
	assert_non_null(strstr(logged, "no group named 'no-such-group-here'"));
}

/* Unknown names get the nearest known one, if one is near. */
static void test_broker_config_did_you_mean(void **state)
{
	struct ar_config c;

	(void)state;
	assert_string_equal(ar__config_suggest("max-chanels"), "max-channels");
	assert_string_equal(ar__config_suggest("socketmode"), "socket-mode");
	assert_string_equal(ar__config_suggest("plugin_dir"), "plugin-dir");
	assert_null(ar__config_suggest("zzzzzzzzzzzz"));
	ar__config_defaults(&c);
	assert_int_equal(set_logged(&c, "log-levle", "info"), -EINVAL);
	assert_non_null(strstr(logged, "unknown setting 'log-levle' (did you mean 'log-level'?)"));
	assert_int_equal(set_logged(&c, "zzzzzzzzzzzz", "1"), -EINVAL);
	assert_non_null(strstr(logged, "accelringd --help lists them"));
}

/* --help lists every setting the parser accepts (it is made from the same
 * table), each with its range and default, and the environment. */
static void test_broker_config_help_complete(void **state)
{
	static const char *const must[] = {
		"socket", "socket-mode", "socket-group", "plugins", "plugin-dir", "workers",
		"batch", "spin-us", "max-channels", "sq-bytes", "cq-bytes", "max-ring-bytes",
		"data-bytes", "max-data-bytes", "handshake-ms", "tenant-handshakes",
		"max-handshakes", "grace-ms", "tcp", "vsock-port", "allow-peers", "max-frame",
		"stream-data-bytes", "stream-max-data-bytes", "stream-tenant-shm",
		"listener-shm", "idle-ms", "frame-ms", "keepalive-s", "tenant-resource-bytes",
		"tenant-resources", "exec-allow", "exec-allow-sha256", "torch-threads",
		"torch-image-model", "torch-image-labels", "torch-image-topk", "batch-delay-us",
		"batch-max", "isolation", "op-timeout-ms", "plugin-memory-max", "host-uid",
		"host-gid", "host-threads", "log-level", "allow-uids", "allow-gids",
		"tenant-channels", "tenant-sessions", "tenant-shm", "tenant-inflight",
		"tenant-long-ops",
	};
	char *text = NULL, *line, *save = NULL;
	size_t len = 0;
	unsigned listed = 0;
	FILE *f = open_memstream(&text, &len);

	(void)state;
	assert_non_null(f);
	ar__config_usage(f);
	fclose(f);
	for (size_t i = 0; i < sizeof(must) / sizeof(must[0]); i++) {
		char want[80];

		snprintf(want, sizeof(want), "\n  %s ", must[i]);
		if (!strstr(text, want))
			fail_msg("--help does not list %s", must[i]);
		assert_true(ar__config_known(must[i]));
	}
	/* Every name --help lists at the start of a line is one the parser
	 * knows, and the reverse count matches. */
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[64];

		if (strncmp(line, "  ", 2) || line[2] == ' ' || line[2] == '-' ||
		    sscanf(line + 2, "%63s", name) != 1 || !strchr(line + 2, ' '))
			continue;
		if (!strcmp(name, "ACCELRING_SOCKET,") || !strncmp(name, "ACCELRING_", 10) ||
		    !strncmp(name, "LISTEN_", 7) || !strcmp(name, "NOTIFY_SOCKET") ||
		    !strcmp(name, "JOURNAL_STREAM"))
			continue;
		if (!ar__config_known(name))
			fail_msg("--help lists '%s', which the parser refuses", name);
		listed++;
	}
	assert_int_equal(listed, sizeof(must) / sizeof(must[0]));
	free(text);
	f = open_memstream(&text, &len);
	ar__config_usage(f);
	fclose(f);
	assert_non_null(strstr(text, AR_DEFAULT_CONFIG));
	assert_non_null(strstr(text, "env ACCELRING_PLUGINS or"));
	assert_non_null(strstr(text, "JOURNAL_STREAM"));
	assert_non_null(strstr(text, "NOTIFY_SOCKET"));
	assert_non_null(strstr(text, "bytes, 4K..256M (K, M or G suffix); default 64K"));
	assert_non_null(strstr(text, "an integer, 1..1024; default 64"));
	free(text);
}

/* The environment: ACCELRING_* wins over VACCEL_*, and a bad value names
 * the variable. */
static void test_broker_config_env(void **state)
{
	struct ar_config c;
	int ret;

	(void)state;
	ar__config_defaults(&c);
	setenv("VACCEL_PLUGINS", "noop", 1);
	setenv("ACCELRING_PLUGINS", "blas", 1);
	setenv("VACCEL_LOG_LEVEL", "4", 1);
	assert_int_equal(ar__config_env(&c), 0);
	assert_string_equal(c.plugins, "blas");
	assert_int_equal(c.log_level, AR_LOG_DEBUG);
	setenv("ACCELRING_SOCKET", "rel.sock", 1);
	log_begin();
	ret = ar__config_env(&c);
	log_end();
	assert_int_equal(ret, -EINVAL);
	assert_non_null(strstr(logged, "environment ACCELRING_SOCKET: bad value 'rel.sock'"));
	unsetenv("VACCEL_PLUGINS");
	unsetenv("ACCELRING_PLUGINS");
	unsetenv("VACCEL_LOG_LEVEL");
	unsetenv("ACCELRING_SOCKET");
}

/* SIGHUP applies log-level, and says every other change needs a restart
 * (leaving the running value alone). */
static void test_broker_config_reload(void **state)
{
	struct ar_config *cur = malloc(sizeof(*cur)), *next = malloc(sizeof(*next));
	int level = ar__log_level;

	(void)state;
	assert_non_null(cur);
	assert_non_null(next);
	ar__config_defaults(cur);
	ar__config_defaults(next);
	assert_false(ar__config_reload(cur, next));
	assert_int_equal(ar__config_set(next, "log-level", "debug"), 0);
	assert_int_equal(ar__config_set(next, "socket", "/elsewhere.sock"), 0);
	assert_int_equal(ar__config_set(next, "torch-threads", "3"), 0);
	ar__log_level = AR_LOG_WARN;
	log_begin();
	assert_true(ar__config_reload(cur, next));
	log_end();
	ar__log_level = level;
	assert_int_equal(cur->log_level, AR_LOG_DEBUG);
	assert_string_equal(cur->socket_path, AR_DEFAULT_SOCKET);
	assert_non_null(strstr(logged, "socket changed: it takes effect at the next start"));
	assert_non_null(strstr(logged, "torch-threads changed: it takes effect at the next start"));
	assert_null(strstr(logged, "log-level changed: it takes"));
	free(cur);
	free(next);
}

/* A refusal a tenant can repeat is logged once a second at the default
 * level, with the count of those left out. */
static void test_broker_config_ratelimit(void **state)
{
	struct ar_ratelimit rl = { 0 };
	uint32_t missed = 99;

	(void)state;
	assert_true(ar__ratelimit(&rl, &missed));
	assert_int_equal(missed, 0);
	for (int i = 0; i < 100; i++)
		assert_false(ar__ratelimit(&rl, &missed));
	/* The next window: open it by hand rather than wait a second. */
	atomic_store(&rl.next_ns, 0);
	assert_true(ar__ratelimit(&rl, &missed));
	assert_int_equal(missed, 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_broker_config_defaults_honest),
		cmocka_unit_test(test_broker_config_line_format),
		cmocka_unit_test(test_broker_config_file_paths),
		cmocka_unit_test(test_broker_config_file_all_errors),
		cmocka_unit_test(test_broker_config_bad_values),
		cmocka_unit_test(test_broker_config_tcp),
		cmocka_unit_test(test_broker_config_socket_access),
		cmocka_unit_test(test_broker_config_did_you_mean),
		cmocka_unit_test(test_broker_config_help_complete),
		cmocka_unit_test(test_broker_config_env),
		cmocka_unit_test(test_broker_config_reload),
		cmocka_unit_test(test_broker_config_ratelimit),
	};
	int fd = mkstemp(logpath), ret;

	if (fd < 0)
		return 1;
	close(fd);
	unsetenv("JOURNAL_STREAM");
	ret = cmocka_run_group_tests_name("broker_config", tests, NULL, NULL);
	unlink(logpath);
	return ret;
}

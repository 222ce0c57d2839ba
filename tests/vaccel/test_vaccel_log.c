/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_vaccel_log - vaccel/log.h: levels, VACCEL_LOG_FILE, the line
 * format, slog_display with upstream's flag values (what programs built
 * against upstream's headers call), the vaccel_info()... macros, lines
 * from many threads that never mix.
 */
#include <errno.h>
#include <pthread.h>
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

#include <vaccel.h>

#include "core_test_util.h"

/* upstream's slog flags */
enum { F_NOTAG = 1, F_NOTE = 2, F_INFO = 4, F_WARN = 8, F_DEBUG = 16, F_TRACE = 32,
       F_ERROR = 64, F_FATAL = 128 };

struct fixture {
	char *dir;
	char *log;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f || !(f->dir = ctu_tmpdir()) || asprintf(&f->log, "%s/vaccel.log", f->dir) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	vaccel_cleanup();
	ctu_rm_rf(f->dir);
	free(f->log);
	free(f->dir);
	free(f);
	return 0;
}

/* Logging at level into a fresh f->log. */
static void log_to_file(struct fixture *f, vaccel_log_level_t level)
{
	unlink(f->log);
	assert_int_equal(ctu_bootstrap(level, f->log, false), VACCEL_OK);
	/* Bootstrap's own lines are not what the tests look at. */
	assert_int_equal(truncate(f->log, 0), 0);
}

static void emit_all(void)
{
	vaccel_error("e-line");
	vaccel_warn("w-line");
	vaccel_info("i-line");
	vaccel_debug("d-line");
	vaccel_trace("t-line");
	vaccel_fatal("f-line");
}

/* Each level lets through itself and what is more severe. */
static void test_log_levels(void **state)
{
	static const char *const lines[] = { "e-line", "w-line", "i-line", "d-line" };
	struct fixture *f = *state;

	for (int level = VACCEL_LOG_ERROR; level <= VACCEL_LOG_DEBUG; level++) {
		char *text;

		log_to_file(f, (vaccel_log_level_t)level);
		emit_all();
		text = ctu_slurp(f->log);
		for (int i = 0; i < 4; i++) {
			if (i < level)
				assert_non_null(strstr(text, lines[i]));
			else
				assert_null(strstr(text, lines[i]));
		}
		/* Fatal always, with errors; trace never (as upstream). */
		assert_non_null(strstr(text, "<fatal> f-line\n"));
		assert_null(strstr(text, "t-line"));
		assert_int_equal(ctu_count(text, "\n"), level + 1);
		free(text);
	}
}

/* A level outside 1..4 lets nothing through, as upstream's mapping. */
static void test_log_levels_out_of_range(void **state)
{
	struct fixture *f = *state;
	char *text;

	log_to_file(f, (vaccel_log_level_t)0);
	emit_all();
	log_to_file(f, (vaccel_log_level_t)5);
	emit_all();
	text = ctu_slurp(f->log);
	assert_string_equal(text, "");
	free(text);
}

/* "2025.03.23-09:45:58.89 - <warn> message", one per line. */
static void test_log_format(void **state)
{
	struct fixture *f = *state;
	regex_t re;
	char *text;

	log_to_file(f, VACCEL_LOG_DEBUG);
	vaccel_warn("value %d of %s", 42, "x");
	text = ctu_slurp(f->log);
	assert_int_equal(regcomp(&re,
				 "^[0-9]{4}\\.[01][0-9]\\.[0-3][0-9]-[0-2][0-9]:[0-5][0-9]:"
				 "[0-6][0-9]\\.[0-9]{2} - <warn> value 42 of x\n$",
				 REG_EXTENDED),
			 0);
	assert_int_equal(regexec(&re, text, 0, NULL, 0), 0);
	regfree(&re);
	free(text);
}

/* slog_display as upstream's macros call it; newline 0 appends none;
 * flags that are not a level, and NULL, print nothing. */
static void test_log_slog_display(void **state)
{
	struct fixture *f = *state;
	char *text;

	log_to_file(f, VACCEL_LOG_DEBUG);
	slog_display(F_INFO, 1, "info %s", "one");
	slog_display(F_ERROR, 1, "error %d", 2);
	slog_display(F_DEBUG, 0, "no newline");
	slog_display(F_WARN, 1, "|after");
	slog_display(F_NOTAG, 1, "notag");
	slog_display(F_NOTE, 1, "note");
	slog_display(F_INFO | F_WARN, 1, "combined");
	slog_display(0, 1, "zero");
	slog_display(F_TRACE, 1, "trace");
	slog_display(F_INFO, 1, NULL);
	text = ctu_slurp(f->log);
	assert_non_null(strstr(text, "<info> info one\n"));
	assert_non_null(strstr(text, "<error> error 2\n"));
	assert_non_null(strstr(text, "<debug> no newline"));
	assert_null(strstr(text, "no newline\n"));
	assert_non_null(strstr(text, "<warn> |after\n"));
	assert_null(strstr(text, "notag"));
	assert_null(strstr(text, "note"));
	assert_null(strstr(text, "combined"));
	assert_null(strstr(text, "zero"));
	assert_null(strstr(text, "trace"));
	assert_int_equal(ctu_count(text, "\n"), 3);
	free(text);
}

/* A line longer than any stack buffer arrives whole. */
static void test_log_long_line(void **state)
{
	struct fixture *f = *state;
	size_t n = 20000;
	char *big = malloc(n + 1), *text;

	assert_non_null(big);
	memset(big, 'x', n);
	big[n] = '\0';
	log_to_file(f, VACCEL_LOG_INFO);
	vaccel_info("[%s]", big);
	text = ctu_slurp(f->log);
	big[n - 1] = '\0';
	assert_non_null(strstr(text, big));
	assert_non_null(strstr(text, "<info> [x"));
	assert_non_null(strstr(text, "xx]\n"));
	assert_int_equal(strlen(strstr(text, "[")), n + 3);
	free(text);
	free(big);
}

/* The lines go to stderr without a log file. */
static void test_log_stderr(void **state)
{
	struct ctu_capture c;
	char *err;

	(void)state;
	assert_int_equal(ctu_bootstrap(VACCEL_LOG_WARN, NULL, false), VACCEL_OK);
	assert_int_equal(ctu_capture_begin(&c, STDERR_FILENO), 0);
	vaccel_warn("to stderr");
	vaccel_info("not shown");
	err = ctu_capture_end(&c);
	assert_non_null(err);
	assert_non_null(strstr(err, "<warn> to stderr\n"));
	assert_null(strstr(err, "not shown"));
	free(err);
}

/* /dev/stdout is the process's stdout. */
static void test_log_dev_stdout(void **state)
{
	struct ctu_capture c;
	char *out;

	(void)state;
	assert_int_equal(ctu_bootstrap(VACCEL_LOG_ERROR, "/dev/stdout", false), VACCEL_OK);
	fflush(stdout);
	assert_int_equal(ctu_capture_begin(&c, STDOUT_FILENO), 0);
	vaccel_error("to stdout");
	out = ctu_capture_end(&c);
	assert_non_null(out);
	assert_non_null(strstr(out, "<error> to stdout\n"));
	free(out);
}

/* A log file is appended to, never truncated. */
static void test_log_file_appends(void **state)
{
	struct fixture *f = *state;
	FILE *fp = fopen(f->log, "w");
	char *text;

	assert_non_null(fp);
	fputs("before\n", fp);
	fclose(fp);
	assert_int_equal(ctu_bootstrap(VACCEL_LOG_ERROR, f->log, false), VACCEL_OK);
	vaccel_error("after");
	text = ctu_slurp(f->log);
	assert_int_equal(strncmp(text, "before\n", 7), 0);
	assert_non_null(strstr(text, "<error> after\n"));
	free(text);
}

/* VACCEL_LOG_LEVEL and VACCEL_LOG_FILE, read by vaccel_bootstrap(). */
static void test_log_env(void **state)
{
	struct fixture *f = *state;
	char *text;

	unlink(f->log);
	setenv("VACCEL_LOG_LEVEL", "4", 1);
	setenv("VACCEL_LOG_FILE", f->log, 1);
	assert_int_equal(vaccel_bootstrap(), VACCEL_OK);
	unsetenv("VACCEL_LOG_LEVEL");
	unsetenv("VACCEL_LOG_FILE");
	vaccel_debug("from env");
	text = ctu_slurp(f->log);
	assert_non_null(strstr(text, "<debug> Initializing vAccel\n"));
	assert_non_null(strstr(text, "<debug> from env\n"));
	free(text);
}

/* vaccel_log_init: 0, or the errno of a file it cannot open (the lines
 * then go to stderr). */
static void test_log_init(void **state)
{
	struct fixture *f = *state;
	struct ctu_capture c;
	char *bad = NULL, *err, *text;

	log_to_file(f, VACCEL_LOG_ERROR);
	assert_int_equal(vaccel_log_init(), VACCEL_OK);
	vaccel_error("init again");
	text = ctu_slurp(f->log);
	assert_non_null(strstr(text, "<error> init again\n"));
	free(text);

	assert_true(asprintf(&bad, "%s/no/such/dir/log", f->dir) > 0);
	assert_int_equal(ctu_capture_begin(&c, STDERR_FILENO), 0);
	assert_int_equal(ctu_bootstrap(VACCEL_LOG_ERROR, bad, false), VACCEL_OK);
	assert_int_equal(vaccel_log_init(), VACCEL_ENOENT);
	vaccel_error("fell back");
	err = ctu_capture_end(&c);
	assert_non_null(strstr(err, "Could not open log file"));
	assert_non_null(strstr(err, "<error> fell back\n"));
	free(err);
	free(bad);
}

/* After vaccel_log_shutdown the next line sets logging up again. */
static void test_log_shutdown(void **state)
{
	struct fixture *f = *state;
	char *text;

	log_to_file(f, VACCEL_LOG_ERROR);
	assert_int_equal(vaccel_log_shutdown(), VACCEL_OK);
	assert_int_equal(vaccel_log_shutdown(), VACCEL_OK);
	vaccel_error("after shutdown");
	text = ctu_slurp(f->log);
	assert_non_null(strstr(text, "<error> after shutdown\n"));
	free(text);
}

enum { NR_THREADS = 8, NR_LINES = 300, PAYLOAD = 3000 };

static char payload[PAYLOAD + 1];

static void *log_thread(void *arg)
{
	int t = (int)(intptr_t)arg;

	for (int i = 0; i < NR_LINES; i++)
		vaccel_info("T%d L%d %s", t, i, payload);
	return NULL;
}

/* Lines from many threads never mix: each arrives whole, once. */
static void test_log_threads(void **state)
{
	struct fixture *f = *state;
	pthread_t th[NR_THREADS];
	static int seen[NR_THREADS][NR_LINES];
	char *text, *line, *save = NULL;
	int lines = 0;

	memset(payload, 'p', PAYLOAD);
	log_to_file(f, VACCEL_LOG_INFO);
	for (int t = 0; t < NR_THREADS; t++)
		assert_int_equal(pthread_create(&th[t], NULL, log_thread, (void *)(intptr_t)t), 0);
	for (int t = 0; t < NR_THREADS; t++)
		pthread_join(th[t], NULL);
	text = ctu_slurp(f->log);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		const char *m = strstr(line, " - <info> T");
		int t, i, off = 0;

		assert_non_null(m);
		assert_int_equal(m - line, 22);
		assert_int_equal(sscanf(m, " - <info> T%d L%d %n", &t, &i, &off), 2);
		assert_true(t >= 0 && t < NR_THREADS && i >= 0 && i < NR_LINES);
		assert_string_equal(m + off, payload);
		seen[t][i]++;
		lines++;
	}
	assert_int_equal(lines, NR_THREADS * NR_LINES);
	for (int t = 0; t < NR_THREADS; t++)
		for (int i = 0; i < NR_LINES; i++)
			assert_int_equal(seen[t][i], 1);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_log_levels),
		cmocka_unit_test(test_log_levels_out_of_range),
		cmocka_unit_test(test_log_format),
		cmocka_unit_test(test_log_slog_display),
		cmocka_unit_test(test_log_long_line),
		cmocka_unit_test(test_log_stderr),
		cmocka_unit_test(test_log_dev_stdout),
		cmocka_unit_test(test_log_file_appends),
		cmocka_unit_test(test_log_env),
		cmocka_unit_test(test_log_init),
		cmocka_unit_test(test_log_shutdown),
		cmocka_unit_test(test_log_threads),
	};

	return cmocka_run_group_tests_name("vaccel_log", tests, setup, teardown);
}

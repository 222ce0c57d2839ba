/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_vaccel_prof - vaccel/prof.h: real durations, growing sample arrays,
 * the printed lines (to the log and to a buffer), regions by name, the
 * VACCEL_PROFILING_ENABLED gate, one region shared by many threads.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <vaccel.h>

#include "core_test_util.h"

struct fixture {
	char *dir;
	char *log;
};

static struct fixture fx;

static int setup(void **state)
{
	(void)state;
	fx.dir = ctu_tmpdir();
	if (!fx.dir || asprintf(&fx.log, "%s/vaccel.log", fx.dir) < 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	vaccel_cleanup();
	ctu_rm_rf(fx.dir);
	free(fx.log);
	free(fx.dir);
	return 0;
}

/* Each test: profiling on, info lines to a fresh log file. */
static int prof_on(void **state)
{
	(void)state;
	unlink(fx.log);
	return ctu_bootstrap(VACCEL_LOG_INFO, fx.log, true) ? -1 : 0;
}

static int prof_off(void **state)
{
	(void)state;
	unlink(fx.log);
	return ctu_bootstrap(VACCEL_LOG_INFO, fx.log, false) ? -1 : 0;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = ms * 1000000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* vaccel_prof_enabled follows the configuration. */
static void test_prof_enabled(void **state)
{
	(void)state;
	assert_true(vaccel_prof_enabled());
	assert_int_equal(ctu_bootstrap(VACCEL_LOG_ERROR, NULL, false), VACCEL_OK);
	assert_false(vaccel_prof_enabled());
	assert_int_equal(ctu_bootstrap(VACCEL_LOG_ERROR, NULL, true), VACCEL_OK);
	assert_true(vaccel_prof_enabled());
}

/* init copies the name and preallocates; a NULL name gets an empty
 * buffer of its own; release empties the region. */
static void test_prof_region_init_release(void **state)
{
	char name[] = "test_region";
	struct vaccel_prof_region r;

	(void)state;
	memset(&r, 0xa5, sizeof(r));
	assert_int_equal(vaccel_prof_region_init(&r, name), VACCEL_OK);
	assert_string_equal(r.name, "test_region");
	assert_ptr_not_equal(r.name, name);
	assert_true(r.name_owned);
	assert_int_equal(r.nr_entries, 0);
	assert_non_null(r.samples);
	assert_true(r.size > 0);
	assert_int_equal(vaccel_prof_region_release(&r), VACCEL_OK);
	assert_null(r.name);
	assert_false(r.name_owned);
	assert_null(r.samples);
	assert_int_equal(r.size, 0);
	assert_int_equal(r.nr_entries, 0);

	memset(&r, 0xa5, sizeof(r));
	assert_int_equal(vaccel_prof_region_init(&r, NULL), VACCEL_OK);
	assert_non_null(r.name);
	assert_string_equal(r.name, "");
	assert_true(r.name_owned);
	strcpy((char *)r.name, "named later");
	assert_int_equal(vaccel_prof_region_release(&r), VACCEL_OK);

	assert_int_equal(vaccel_prof_region_init(NULL, "x"), VACCEL_EINVAL);
	assert_int_equal(vaccel_prof_region_release(NULL), VACCEL_EINVAL);
}

/* A region around a 2 ms sleep has one sample of at least 2 ms, started
 * on CLOCK_MONOTONIC. */
static void test_prof_real_duration(void **state)
{
	struct vaccel_prof_region r = VACCEL_PROF_REGION_INIT("sleep");
	uint64_t before, after;

	(void)state;
	before = mono_ns();
	assert_int_equal(vaccel_prof_region_start(&r), VACCEL_OK);
	sleep_ms(2);
	assert_int_equal(vaccel_prof_region_stop(&r), VACCEL_OK);
	after = mono_ns();
	assert_int_equal(r.nr_entries, 1);
	assert_true(r.samples[0].start >= before);
	assert_true(r.samples[0].time >= 2000000);
	assert_true(r.samples[0].start + r.samples[0].time <= after);
	assert_string_equal(r.name, "sleep");
	assert_int_equal(vaccel_prof_region_release(&r), VACCEL_OK);
}

/* stop with nothing started is ENOENT; NULL regions are EINVAL. */
static void test_prof_start_stop_bad(void **state)
{
	struct vaccel_prof_region r = VACCEL_PROF_REGION_INIT("r");

	(void)state;
	assert_int_equal(vaccel_prof_region_stop(&r), VACCEL_ENOENT);
	assert_int_equal(vaccel_prof_region_start(NULL), VACCEL_EINVAL);
	assert_int_equal(vaccel_prof_region_stop(NULL), VACCEL_EINVAL);
	assert_int_equal(r.nr_entries, 0);
}

/* Nested pairs close innermost first; the outer one spans both. */
static void test_prof_nested(void **state)
{
	struct vaccel_prof_region r = VACCEL_PROF_REGION_INIT("nested");

	(void)state;
	assert_int_equal(vaccel_prof_region_start(&r), VACCEL_OK);
	sleep_ms(2);
	assert_int_equal(vaccel_prof_region_start(&r), VACCEL_OK);
	assert_int_equal(r.nr_entries, 2);
	assert_int_equal(vaccel_prof_region_stop(&r), VACCEL_OK);
	assert_true(r.samples[1].time > 0);
	assert_int_equal(r.samples[0].time, 0);
	assert_int_equal(vaccel_prof_region_stop(&r), VACCEL_OK);
	assert_true(r.samples[0].time >= 2000000 + r.samples[1].time);
	assert_int_equal(vaccel_prof_region_release(&r), VACCEL_OK);
}

/* The sample array grows as needed and keeps every sample. */
static void test_prof_grows(void **state)
{
	struct vaccel_prof_region r;
	size_t n = 10000;

	(void)state;
	assert_int_equal(vaccel_prof_region_init(&r, "many"), VACCEL_OK);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(vaccel_prof_region_start(&r), VACCEL_OK);
		assert_int_equal(vaccel_prof_region_stop(&r), VACCEL_OK);
	}
	assert_int_equal(r.nr_entries, n);
	assert_true(r.size >= n);
	for (size_t i = 0; i < n; i++) {
		assert_true(r.samples[i].time > 0);
		if (i)
			assert_true(r.samples[i].start >= r.samples[i - 1].start);
	}
	assert_int_equal(vaccel_prof_region_release(&r), VACCEL_OK);
}

static uint64_t total_of(const struct vaccel_prof_region *r)
{
	uint64_t t = 0;

	for (size_t i = 0; i < r->nr_entries; i++)
		t += r->samples[i].time;
	return t;
}

/* print logs "[prof] name: total_time: T nsec nr_entries: N" at info;
 * a region without samples prints nothing. */
static void test_prof_print(void **state)
{
	struct vaccel_prof_region r = VACCEL_PROF_REGION_INIT("printed");
	struct vaccel_prof_region e = VACCEL_PROF_REGION_INIT("empty");
	char want[128], *text;

	(void)state;
	assert_int_equal(vaccel_prof_region_print(&e), VACCEL_OK);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(vaccel_prof_region_start(&r), VACCEL_OK);
		assert_int_equal(vaccel_prof_region_stop(&r), VACCEL_OK);
	}
	assert_int_equal(vaccel_prof_region_print(&r), VACCEL_OK);
	assert_int_equal(vaccel_prof_region_print(NULL), VACCEL_EINVAL);
	snprintf(want, sizeof(want), "<info> [prof] printed: total_time: %" PRIu64
		 " nsec nr_entries: 3\n", total_of(&r));
	text = ctu_slurp(fx.log);
	assert_non_null(strstr(text, want));
	assert_null(strstr(text, "empty"));
	free(text);
	assert_int_equal(vaccel_prof_region_release(&r), VACCEL_OK);
}

/* Regions by name: found (the last of that name), missing, bad. */
static void test_prof_by_name(void **state)
{
	struct vaccel_prof_region rs[] = {
		VACCEL_PROF_REGION_INIT("region_0"),
		VACCEL_PROF_REGION_INIT("region_1"),
		VACCEL_PROF_REGION_INIT("region_1"),
	};

	(void)state;
	assert_int_equal(vaccel_prof_regions_stop_by_name(rs, 3, "region_0"), VACCEL_ENOENT);
	assert_int_equal(vaccel_prof_regions_start_by_name(rs, 3, "region_0"), VACCEL_OK);
	assert_int_equal(vaccel_prof_regions_stop_by_name(rs, 3, "region_0"), VACCEL_OK);
	assert_int_equal(rs[0].nr_entries, 1);
	assert_true(rs[0].samples[0].time > 0);
	assert_int_equal(vaccel_prof_regions_start_by_name(rs, 3, "region_1"), VACCEL_OK);
	assert_int_equal(rs[1].nr_entries, 0);
	assert_int_equal(rs[2].nr_entries, 1);

	assert_int_equal(vaccel_prof_regions_start_by_name(rs, 3, "missing"), VACCEL_EINVAL);
	assert_int_equal(vaccel_prof_regions_stop_by_name(rs, 3, "missing"), VACCEL_EINVAL);
	/* Only the first nregions are looked at. */
	assert_int_equal(vaccel_prof_regions_start_by_name(rs, 1, "region_1"), VACCEL_EINVAL);
	assert_int_equal(vaccel_prof_regions_start_by_name(NULL, 3, "region_0"), VACCEL_EINVAL);
	assert_int_equal(vaccel_prof_regions_stop_by_name(NULL, 3, "region_0"), VACCEL_EINVAL);
	assert_int_equal(vaccel_prof_regions_start_by_name(rs, 3, NULL), VACCEL_EINVAL);
	assert_int_equal(vaccel_prof_regions_stop_by_name(rs, 3, NULL), VACCEL_EINVAL);
	assert_int_equal(vaccel_prof_regions_start_by_name(rs, -1, "region_0"), VACCEL_EINVAL);
	assert_int_equal(rs[0].nr_entries, 1);
	assert_int_equal(vaccel_prof_regions_release(rs, 3), VACCEL_OK);
}

/* regions_init gives each region an empty name buffer of its own;
 * regions_release frees samples and owned names but keeps names it does
 * not own, so a static array can be used again. */
static void test_prof_regions_init_release(void **state)
{
	struct vaccel_prof_region rs[3];
	struct vaccel_prof_region st[] = {
		VACCEL_PROF_REGION_INIT("a"),
		VACCEL_PROF_REGION_INIT("b"),
	};

	(void)state;
	memset(rs, 0x5a, sizeof(rs));
	assert_int_equal(vaccel_prof_regions_init(rs, 3), VACCEL_OK);
	for (int i = 0; i < 3; i++) {
		assert_non_null(rs[i].name);
		assert_string_equal(rs[i].name, "");
		assert_true(rs[i].name_owned);
		assert_int_equal(rs[i].nr_entries, 0);
		assert_non_null(rs[i].samples);
		snprintf((char *)rs[i].name, 256, "stage_%d", i);
	}
	assert_int_equal(vaccel_prof_regions_start_by_name(rs, 3, "stage_2"), VACCEL_OK);
	assert_int_equal(rs[2].nr_entries, 1);
	assert_int_equal(vaccel_prof_regions_release(rs, 3), VACCEL_OK);
	for (int i = 0; i < 3; i++) {
		assert_null(rs[i].name);
		assert_null(rs[i].samples);
		assert_int_equal(rs[i].nr_entries, 0);
		assert_int_equal(rs[i].size, 0);
	}

	assert_int_equal(vaccel_prof_regions_start_by_name(st, 2, "b"), VACCEL_OK);
	assert_int_equal(vaccel_prof_regions_release(st, 2), VACCEL_OK);
	assert_string_equal(st[1].name, "b");
	assert_null(st[1].samples);
	assert_int_equal(st[1].nr_entries, 0);
	assert_int_equal(vaccel_prof_regions_start_by_name(st, 2, "b"), VACCEL_OK);
	assert_int_equal(vaccel_prof_regions_stop_by_name(st, 2, "b"), VACCEL_OK);
	assert_int_equal(st[1].nr_entries, 1);
	assert_int_equal(vaccel_prof_regions_release(st, 2), VACCEL_OK);

	assert_int_equal(vaccel_prof_regions_init(NULL, 2), VACCEL_EINVAL);
	assert_int_equal(vaccel_prof_regions_init(rs, -1), VACCEL_EINVAL);
	assert_int_equal(vaccel_prof_regions_release(NULL, 2), VACCEL_EINVAL);
	assert_int_equal(vaccel_prof_regions_release(rs, -1), VACCEL_EINVAL);
	assert_int_equal(vaccel_prof_regions_init(rs, 0), VACCEL_OK);
	assert_int_equal(vaccel_prof_regions_release(rs, 0), VACCEL_OK);
}

/* print_all logs one line per region with samples. */
static void test_prof_print_all(void **state)
{
	struct vaccel_prof_region rs[] = {
		VACCEL_PROF_REGION_INIT("region_0"),
		VACCEL_PROF_REGION_INIT("region_1"),
		VACCEL_PROF_REGION_INIT("region_2"),
	};
	char *text;

	(void)state;
	assert_int_equal(vaccel_prof_regions_start_by_name(rs, 3, "region_0"), VACCEL_OK);
	assert_int_equal(vaccel_prof_regions_stop_by_name(rs, 3, "region_0"), VACCEL_OK);
	assert_int_equal(vaccel_prof_regions_start_by_name(rs, 3, "region_2"), VACCEL_OK);
	assert_int_equal(vaccel_prof_regions_stop_by_name(rs, 3, "region_2"), VACCEL_OK);
	assert_int_equal(vaccel_prof_regions_print_all(rs, 3), VACCEL_OK);
	assert_int_equal(vaccel_prof_regions_print_all(NULL, 3), VACCEL_EINVAL);
	assert_int_equal(vaccel_prof_regions_print_all(rs, -2), VACCEL_EINVAL);
	text = ctu_slurp(fx.log);
	assert_int_equal(ctu_count(text, "<info> [prof] region_0: total_time: "), 1);
	assert_int_equal(ctu_count(text, "<info> [prof] region_2: total_time: "), 1);
	assert_int_equal(ctu_count(text, " nsec nr_entries: 1\n"), 2);
	assert_null(strstr(text, "region_1"));
	free(text);
	assert_int_equal(vaccel_prof_regions_release(rs, 3), VACCEL_OK);
}

/* print_all_to_buf: the size it asks for, the text, the count returned,
 * and upstream's negative codes. */
static void test_prof_print_all_to_buf(void **state)
{
	struct vaccel_prof_region rs[] = {
		VACCEL_PROF_REGION_INIT("region_0"),
		VACCEL_PROF_REGION_INIT("region_1"),
		VACCEL_PROF_REGION_INIT("region_2"),
	};
	char want[256], *buf = NULL;
	int need;

	(void)state;
	need = vaccel_prof_regions_print_all_to_buf(NULL, 0, rs, 3);
	assert_int_equal(need, 1);
	assert_int_equal(vaccel_prof_regions_print_all_to_buf(&buf, 64, rs, 3), 3);
	assert_non_null(buf);
	assert_string_equal(buf, "");
	free(buf);
	buf = NULL;

	assert_int_equal(vaccel_prof_regions_start_by_name(rs, 3, "region_0"), VACCEL_OK);
	sleep_ms(1);
	assert_int_equal(vaccel_prof_regions_stop_by_name(rs, 3, "region_0"), VACCEL_OK);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(vaccel_prof_regions_start_by_name(rs, 3, "region_2"), VACCEL_OK);
		assert_int_equal(vaccel_prof_regions_stop_by_name(rs, 3, "region_2"), VACCEL_OK);
	}
	snprintf(want, sizeof(want),
		 "[prof] region_0: total_time: %" PRIu64 " nsec nr_entries: 1\n"
		 "[prof] region_2: total_time: %" PRIu64 " nsec nr_entries: 2",
		 total_of(&rs[0]), total_of(&rs[2]));
	need = vaccel_prof_regions_print_all_to_buf(NULL, 0, rs, 3);
	assert_int_equal(need, (int)strlen(want) + 1);
	assert_int_equal(vaccel_prof_regions_print_all_to_buf(&buf, (size_t)need, rs, 3), 3);
	assert_string_equal(buf, want);
	free(buf);
	buf = NULL;
	assert_int_equal(vaccel_prof_regions_print_all_to_buf(&buf, 4096, rs, 3), 3);
	assert_string_equal(buf, want);
	free(buf);
	buf = NULL;

	/* Too small: nothing allocated. */
	assert_int_equal(vaccel_prof_regions_print_all_to_buf(&buf, (size_t)need - 1, rs, 3),
			 -VACCEL_ENOMEM);
	assert_null(buf);
	assert_int_equal(vaccel_prof_regions_print_all_to_buf(&buf, 0, rs, 3), -VACCEL_ENOMEM);
	assert_null(buf);
	assert_int_equal(vaccel_prof_regions_print_all_to_buf(&buf, 1024, NULL, 3),
			 -VACCEL_EINVAL);
	assert_int_equal(vaccel_prof_regions_print_all_to_buf(&buf, 1024, rs, -1),
			 -VACCEL_EINVAL);
	assert_null(buf);
	assert_int_equal(vaccel_prof_regions_release(rs, 3), VACCEL_OK);
}

/* Profiling off: nothing is recorded or printed, and everything is 0,
 * even for NULL (as upstream). */
static void test_prof_disabled(void **state)
{
	struct vaccel_prof_region r = VACCEL_PROF_REGION_INIT("off");
	struct vaccel_prof_region rs[2] = {
		VACCEL_PROF_REGION_INIT("a"),
		VACCEL_PROF_REGION_INIT("b"),
	};
	struct vaccel_prof_region i;
	char *buf = (char *)0x1, *text;

	(void)state;
	assert_false(vaccel_prof_enabled());
	assert_int_equal(vaccel_prof_region_start(&r), VACCEL_OK);
	assert_int_equal(vaccel_prof_region_stop(&r), VACCEL_OK);
	assert_int_equal(r.nr_entries, 0);
	assert_null(r.samples);
	assert_int_equal(vaccel_prof_region_print(&r), VACCEL_OK);
	assert_int_equal(vaccel_prof_regions_start_by_name(rs, 2, "a"), VACCEL_OK);
	assert_int_equal(vaccel_prof_regions_stop_by_name(rs, 2, "a"), VACCEL_OK);
	assert_int_equal(vaccel_prof_regions_start_by_name(rs, 2, "missing"), VACCEL_OK);
	assert_int_equal(rs[0].nr_entries, 0);
	assert_int_equal(vaccel_prof_regions_print_all(rs, 2), VACCEL_OK);
	assert_int_equal(vaccel_prof_regions_print_all_to_buf(&buf, 1024, rs, 2), 0);
	assert_ptr_equal(buf, (char *)0x1);

	/* NULL is not refused when off. */
	assert_int_equal(vaccel_prof_region_start(NULL), VACCEL_OK);
	assert_int_equal(vaccel_prof_region_stop(NULL), VACCEL_OK);
	assert_int_equal(vaccel_prof_region_init(NULL, "x"), VACCEL_OK);
	assert_int_equal(vaccel_prof_region_release(NULL), VACCEL_OK);
	assert_int_equal(vaccel_prof_region_print(NULL), VACCEL_OK);
	assert_int_equal(vaccel_prof_regions_init(NULL, 1), VACCEL_OK);
	assert_int_equal(vaccel_prof_regions_release(NULL, 1), VACCEL_OK);
	assert_int_equal(vaccel_prof_regions_print_all(NULL, 1), VACCEL_OK);
	assert_int_equal(vaccel_prof_regions_print_all_to_buf(&buf, 1, NULL, 1), 0);

	/* init allocates nothing but leaves a safe, empty region. */
	memset(&i, 0xa5, sizeof(i));
	assert_int_equal(vaccel_prof_region_init(&i, "lazy"), VACCEL_OK);
	assert_string_equal(i.name, "lazy");
	assert_false(i.name_owned);
	assert_null(i.samples);
	assert_int_equal(i.size, 0);
	assert_int_equal(i.nr_entries, 0);
	/* Turned on later, the same region works. */
	assert_int_equal(ctu_bootstrap(VACCEL_LOG_INFO, fx.log, true), VACCEL_OK);
	assert_int_equal(vaccel_prof_region_start(&i), VACCEL_OK);
	assert_int_equal(vaccel_prof_region_stop(&i), VACCEL_OK);
	assert_int_equal(i.nr_entries, 1);
	assert_int_equal(vaccel_prof_region_release(&i), VACCEL_OK);

	text = ctu_slurp(fx.log);
	assert_null(strstr(text, "[prof]"));
	free(text);
}

enum { NR_THREADS = 8, NR_PAIRS = 5000, NR_SLOW = 20 };

static void *prof_thread(void *arg)
{
	struct vaccel_prof_region *r = arg;

	for (int i = 0; i < NR_PAIRS; i++) {
		if (vaccel_prof_region_start(r) || vaccel_prof_region_stop(r))
			return (void *)1;
	}
	return NULL;
}

static void *prof_slow_thread(void *arg)
{
	struct vaccel_prof_region *r = arg;

	for (int i = 0; i < NR_SLOW; i++) {
		if (vaccel_prof_region_start(r))
			return (void *)1;
		sleep_ms(2);
		if (vaccel_prof_region_stop(r))
			return (void *)1;
	}
	return NULL;
}

/* One region shared by threads: every pair is one sample, each closed,
 * and a thread's stop closes its own start (the slow thread's 2 ms pairs
 * are all there, however many fast pairs ran meanwhile). */
static void test_prof_threads(void **state)
{
	struct vaccel_prof_region r;
	pthread_t th[NR_THREADS];
	size_t slow = 0;

	(void)state;
	assert_int_equal(vaccel_prof_region_init(&r, "shared"), VACCEL_OK);
	for (int t = 0; t < NR_THREADS; t++)
		assert_int_equal(pthread_create(&th[t], NULL, t ? prof_thread : prof_slow_thread,
						&r),
				 0);
	for (int t = 0; t < NR_THREADS; t++) {
		void *ret;

		assert_int_equal(pthread_join(th[t], &ret), 0);
		assert_null(ret);
	}
	assert_int_equal(r.nr_entries, (size_t)(NR_THREADS - 1) * NR_PAIRS + NR_SLOW);
	for (size_t i = 0; i < r.nr_entries; i++) {
		assert_true(r.samples[i].time > 0);
		slow += r.samples[i].time >= 2000000;
	}
	assert_true(slow >= NR_SLOW);
	assert_int_equal(vaccel_prof_region_release(&r), VACCEL_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_prof_enabled, prof_on),
		cmocka_unit_test_setup(test_prof_region_init_release, prof_on),
		cmocka_unit_test_setup(test_prof_real_duration, prof_on),
		cmocka_unit_test_setup(test_prof_start_stop_bad, prof_on),
		cmocka_unit_test_setup(test_prof_nested, prof_on),
		cmocka_unit_test_setup(test_prof_grows, prof_on),
		cmocka_unit_test_setup(test_prof_print, prof_on),
		cmocka_unit_test_setup(test_prof_by_name, prof_on),
		cmocka_unit_test_setup(test_prof_regions_init_release, prof_on),
		cmocka_unit_test_setup(test_prof_print_all, prof_on),
		cmocka_unit_test_setup(test_prof_print_all_to_buf, prof_on),
		cmocka_unit_test_setup(test_prof_disabled, prof_off),
		cmocka_unit_test_setup(test_prof_threads, prof_on),
	};

	return cmocka_run_group_tests_name("vaccel_prof", tests, setup, teardown);
}

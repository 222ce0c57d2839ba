/* SPDX-License-Identifier: Apache-2.0 */
/*
 * profiling - profiling regions around noops: a region with a sample per
 * noop, one with a single sample over a batch, and two in an array used by
 * name. Run with VACCEL_PROFILING_ENABLED=1 (the library reads it when it
 * starts); each region's samples are checked and printed.
 *
 * A plain vAccel program: only <vaccel.h>. Exit status 0 when every check
 * passed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vaccel.h>

enum { NR_NOOPS = 50, BATCH = 10 };

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

/* A region's samples: nr of them, each of some time, in start order.
 * Prints the region; returns its total time. */
static uint64_t check_region(const struct vaccel_prof_region *r, size_t nr)
{
	uint64_t total = 0;

	CHECK(r->nr_entries == nr, "%s: %zu samples, expected %zu", r->name,
	      r->nr_entries, nr);
	for (size_t i = 0; i < r->nr_entries && i < nr; i++) {
		CHECK(r->samples[i].time > 0, "%s: sample %zu took no time", r->name, i);
		if (i)
			CHECK(r->samples[i].start >= r->samples[i - 1].start,
			      "%s: sample %zu started before the one before it",
			      r->name, i);
		total += r->samples[i].time;
	}
	printf("region %-12s %3zu samples, %10llu ns in all, %8llu ns each on average\n",
	       r->name, r->nr_entries, (unsigned long long)total,
	       (unsigned long long)(r->nr_entries ? total / r->nr_entries : 0));
	CHECK(vaccel_prof_region_print(r) == VACCEL_OK, "region_print");
	return total;
}

static void noop(struct vaccel_session *sess)
{
	int ret = vaccel_noop(sess);

	CHECK(ret == VACCEL_OK, "vaccel_noop: %d (%s)", ret, strerror(ret));
}

int main(void)
{
	struct vaccel_prof_region each = VACCEL_PROF_REGION_INIT("noop");
	struct vaccel_prof_region batch;
	struct vaccel_prof_region byname[2] = {
		VACCEL_PROF_REGION_INIT("first"), VACCEL_PROF_REGION_INIT("second")
	};
	struct vaccel_session sess;
	char *buf = NULL;
	int ret, len;

	if (!vaccel_prof_enabled()) {
		fprintf(stderr, "profiling is off: run with VACCEL_PROFILING_ENABLED=1\n");
		return 1;
	}
	ret = vaccel_session_init(&sess, 0);
	if (ret) {
		fprintf(stderr, "vaccel_session_init: %d (%s)\n", ret, strerror(ret));
		return 1;
	}

	for (int i = 0; i < NR_NOOPS; i++) {
		CHECK(vaccel_prof_region_start(&each) == VACCEL_OK, "start");
		noop(&sess);
		CHECK(vaccel_prof_region_stop(&each) == VACCEL_OK, "stop");
	}

	CHECK(vaccel_prof_region_init(&batch, "noop_batch") == VACCEL_OK, "init");
	CHECK(batch.name && !strcmp(batch.name, "noop_batch") && batch.name_owned,
	      "region_init's name");
	/* Stopping a region that never started is refused. */
	CHECK(vaccel_prof_region_stop(&batch) == VACCEL_ENOENT,
	      "stop before any start accepted");
	CHECK(vaccel_prof_region_start(&batch) == VACCEL_OK, "start batch");
	for (int i = 0; i < BATCH; i++)
		noop(&sess);
	CHECK(vaccel_prof_region_stop(&batch) == VACCEL_OK, "stop batch");

	for (int i = 0; i < 3; i++) {
		const char *name = i == 1 ? "second" : "first";

		CHECK(vaccel_prof_regions_start_by_name(byname, 2, name) == VACCEL_OK,
		      "start %s", name);
		noop(&sess);
		CHECK(vaccel_prof_regions_stop_by_name(byname, 2, name) == VACCEL_OK,
		      "stop %s", name);
	}
	CHECK(vaccel_prof_regions_start_by_name(byname, 2, "third") == VACCEL_EINVAL,
	      "a region by a name no region has");

	check_region(&each, NR_NOOPS);
	check_region(&batch, 1);
	check_region(&byname[0], 2);
	check_region(&byname[1], 1);
	CHECK(vaccel_prof_regions_print_all(byname, 2) == VACCEL_OK, "print_all");
	len = vaccel_prof_regions_print_all_to_buf(NULL, 0, byname, 2);
	CHECK(len > 0, "print_all_to_buf's size: %d", len);
	if (len > 0) {
		vaccel_prof_regions_print_all_to_buf(&buf, (size_t)len, byname, 2);
		CHECK(buf && strstr(buf, "first"), "print_all_to_buf: %s",
		      buf ? buf : "(null)");
		if (buf)
			printf("to_buf: %s\n", buf);
		free(buf);
	}

	CHECK(vaccel_prof_region_release(&each) == VACCEL_OK, "release");
	CHECK(each.samples == NULL && each.nr_entries == 0, "release left samples");
	CHECK(vaccel_prof_region_release(&batch) == VACCEL_OK, "release batch");
	CHECK(vaccel_prof_region_release(&byname[0]) == VACCEL_OK &&
	      vaccel_prof_region_release(&byname[1]) == VACCEL_OK, "release byname");
	CHECK(vaccel_session_release(&sess) == VACCEL_OK, "session release");
	printf("profiling: %s\n", failures ? "FAILED" : "ok");
	return failures ? 1 : 0;
}

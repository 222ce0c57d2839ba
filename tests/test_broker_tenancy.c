/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_broker_tenancy - access control and per-tenant limits on a real
 * accelringd: allow-uids / allow-gids, tenant-channels, tenant-shm,
 * tenant-sessions and tenant-inflight. A tenant is a uid as SO_PEERCRED gives it; the second
 * tenant here is a forked child that became uid/gid 65534 (so these tests
 * need root, and skip without it). A refused or over-limit tenant gets a
 * clear error; the other tenant is served all along.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <accelring/client.h>

#include "broker_harness.h"

#define OTHER_ID 65534	/* nobody/nogroup: the other tenant */

/* One noop through a new connection: 0, or the first error. */
static int one_noop(void)
{
	struct ar_client *c;
	struct ar_queue *q;
	struct ar_cqe cqe;
	uint32_t sid;
	int ret;

	ret = ar_client_connect(NULL, &c);
	if (ret)
		return ret;
	ret = ar_queue_get(c, &q);
	if (!ret)
		ret = ar_session_open(q, 0, &sid);
	if (!ret)
		ret = ar_submit_noop(q, sid, 1);
	if (!ret)
		ret = ar_wait(q, &cqe, 1, 1, 5ll * 1000000000) == 1 ? cqe.status : -ETIMEDOUT;
	ar_client_close(c);
	return ret;
}

/* Run fn as the other tenant in a child; returns fn's result (-errno). */
static int as_other(int (*fn)(void))
{
	int st;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		alarm(30);
		if (setresgid(OTHER_ID, OTHER_ID, OTHER_ID) ||
		    setresuid(OTHER_ID, OTHER_ID, OTHER_ID))
			_exit(255);
		_exit(-fn() & 0xff);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_not_equal(WEXITSTATUS(st), 255);
	return -WEXITSTATUS(st);
}

static void start(struct test_broker *b, const char *const *args)
{
	assert_int_equal(test_broker_start(b, args), 0);
}

static int setup(void **state)
{
	(void)state;
	if (geteuid() != 0) {
		fprintf(stderr, "test_broker_tenancy: needs root to be a second uid\n");
		exit(77);	/* ctest: skipped */
	}
	return 0;
}

/* allow-uids admits root only: the other uid is refused with the reason,
 * and root keeps working. allow-gids then admits the other by its group. */
static void test_broker_tenancy_allow_uids(void **state)
{
	const char *uids[] = { "--allow-uids=0,1000-1999", NULL };
	const char *gids[] = { "--allow-uids=0", "--allow-gids=65534", NULL };
	struct test_broker b;

	(void)state;
	start(&b, uids);
	assert_int_equal(as_other(one_noop), -EACCES);
	assert_true(test_broker_logged(&b, "uid 65534 gid 65534 is in neither allow-uids nor allow-gids"));
	assert_int_equal(one_noop(), 0);
	assert_int_equal(test_broker_stop(&b), 0);

	start(&b, gids);
	assert_int_equal(as_other(one_noop), 0);
	assert_int_equal(one_noop(), 0);
	assert_int_equal(test_broker_stop(&b), 0);
}

/* A bad list stops the broker at start with the setting named. */
static void test_broker_tenancy_bad_list(void **state)
{
	const char *bad[] = { "--allow-uids=12,x", NULL };
	struct test_broker b;

	(void)state;
	assert_int_equal(test_broker_start(&b, bad), -1);
}

/* tenant-channels=4: a tenant asking 3 channels per connection gets 3,
 * then 1, then is refused (EDQUOT, with the reason); the other tenant is
 * untouched; closing a connection gives its channels back. */
static void test_broker_tenancy_channels(void **state)
{
	const char *args[] = { "--tenant-channels=4", NULL };
	struct ar_client *c[3];
	struct ar_queue *q;
	struct test_broker b;

	(void)state;
	setenv("ACCELRING_CHANNELS", "3", 1);
	start(&b, args);
	for (int i = 0; i < 3; i++)
		assert_int_equal(ar_client_connect(NULL, &c[i]), 0);
	assert_int_equal(ar_queue_get(c[0], &q), 0);
	assert_int_equal(ar_queue_get(c[1], &q), 0);
	assert_int_equal(ar_queue_get(c[2], &q), -EDQUOT);
	assert_non_null(strstr(ar_client_error(c[2]), "tenant-channels is 4"));
	assert_true(test_broker_logged(&b, "tenant uid 0 holds 4 channels, tenant-channels is 4"));
	assert_int_equal(as_other(one_noop), 0);
	ar_client_close(c[0]);
	ar_client_close(c[2]);
	/* The broker releases a closed connection asynchronously. */
	{
		int ret = -EDQUOT;

		for (int i = 0; i < 50 && ret == -EDQUOT; i++) {
			ret = one_noop();
			if (ret == -EDQUOT)
				usleep(100000);
		}
		assert_int_equal(ret, 0);
	}
	ar_client_close(c[1]);
	assert_int_equal(test_broker_stop(&b), 0);
	unsetenv("ACCELRING_CHANNELS");
}

/* tenant-shm: a data area beyond the tenant's allowance is refused. */
static void test_broker_tenancy_shm(void **state)
{
	const char *args[] = { "--tenant-shm=8M", NULL };
	struct test_broker b;

	(void)state;
	start(&b, args);
	setenv("ACCELRING_DATA_BYTES", "16777216", 1);
	assert_int_equal(one_noop(), -EDQUOT);
	assert_true(test_broker_logged(&b, "tenant-shm is 8388608"));
	setenv("ACCELRING_DATA_BYTES", "1048576", 1);
	assert_int_equal(one_noop(), 0);
	assert_int_equal(as_other(one_noop), 0);
	unsetenv("ACCELRING_DATA_BYTES");
	assert_int_equal(test_broker_stop(&b), 0);
}

static int sessions_fill(void)
{
	struct ar_client *c;
	struct ar_queue *q;
	uint32_t sid;
	int ret = ar_client_connect(NULL, &c);

	if (ret)
		return ret;
	ret = ar_queue_get(c, &q);
	for (int i = 0; !ret && i < 3; i++)
		ret = ar_session_open(q, 0, &sid);
	ar_client_close(c);
	return ret;
}

/* tenant-sessions=2: the third session is refused (EDQUOT); the other
 * tenant has its own two. */
static void test_broker_tenancy_sessions(void **state)
{
	const char *args[] = { "--tenant-sessions=2", NULL };
	struct ar_client *c;
	struct ar_queue *q;
	struct test_broker b;
	uint32_t sid;

	(void)state;
	start(&b, args);
	assert_int_equal(ar_client_connect(NULL, &c), 0);
	assert_int_equal(ar_queue_get(c, &q), 0);
	assert_int_equal(ar_session_open(q, 0, &sid), 0);
	assert_int_equal(ar_session_open(q, 0, &sid), 0);
	assert_int_equal(ar_session_open(q, 0, &sid), -EDQUOT);
	assert_int_equal(as_other(sessions_fill), -EDQUOT);	/* its third */
	/* Its sessions went with its connection (asynchronously). */
	{
		int ret = -EDQUOT;

		for (int i = 0; i < 50 && ret == -EDQUOT; i++) {
			ret = as_other(one_noop);
			if (ret == -EDQUOT)
				usleep(100000);
		}
		assert_int_equal(ret, 0);
	}
	assert_int_equal(ar_session_close(q, sid), 0);
	assert_int_equal(ar_session_open(q, 0, &sid), 0);
	ar_client_close(c);
	assert_int_equal(test_broker_stop(&b), 0);
}

/* tenant-inflight=1 with two workers: a tenant's second op, on a channel
 * of the other worker, waits until its first (a 400 ms mbench) is done.
 * Checked by the order of completions: without the limit the second op (a
 * noop) completes long before the first (checked by hand). */
static void test_broker_tenancy_inflight(void **state)
{
	const char *args[] = { "--workers=2", "--tenant-inflight=1", NULL };
	struct ar_client *c1, *c2;
	struct ar_queue *q1, *q2;
	struct test_broker b;
	struct ar_cqe cqe;
	uint32_t s1, s2;

	(void)state;
	setenv("ACCELRING_CHANNELS", "1", 1);
	start(&b, args);
	/* One channel each; channels go to the workers in turn. */
	assert_int_equal(ar_client_connect(NULL, &c1), 0);
	assert_int_equal(ar_queue_get(c1, &q1), 0);
	assert_int_equal(ar_session_open(q1, 0, &s1), 0);
	assert_int_equal(ar_client_connect(NULL, &c2), 0);
	assert_int_equal(ar_queue_get(c2, &q2), 0);
	assert_int_equal(ar_session_open(q2, 0, &s2), 0);

	assert_int_equal(ar_submit_mbench(q1, s1, 400000, 1), 0);
	assert_int_equal(ar_flush(q1), 0);
	usleep(100000);	/* its worker has taken it */
	assert_int_equal(ar_submit_noop(q2, s2, 2), 0);
	assert_int_equal(ar_flush(q2), 0);
	assert_int_equal(ar_wait(q2, &cqe, 1, 1, 10ll * 1000000000), 1);
	assert_int_equal(cqe.status, 0);
	/* By then the first op had completed. */
	assert_int_equal(ar_reap(q1, &cqe, 1), 1);
	assert_int_equal(cqe.user_data, 1);
	assert_int_equal(cqe.status, 0);
	ar_client_close(c1);
	ar_client_close(c2);
	assert_int_equal(test_broker_stop(&b), 0);
	unsetenv("ACCELRING_CHANNELS");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_broker_tenancy_allow_uids),
		cmocka_unit_test(test_broker_tenancy_bad_list),
		cmocka_unit_test(test_broker_tenancy_channels),
		cmocka_unit_test(test_broker_tenancy_shm),
		cmocka_unit_test(test_broker_tenancy_sessions),
		cmocka_unit_test(test_broker_tenancy_inflight),
	};

	if (getenv("ACCELRING_TEST_FILTER"))
		cmocka_set_test_filter(getenv("ACCELRING_TEST_FILTER"));
	return cmocka_run_group_tests_name("broker_tenancy", tests, setup, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_vaccel_session - <vaccel/session.h> against a real accelringd
 * (over shared memory, and again over TCP and a UNIX stream): sessions
 * opened and closed on the broker, their run directories, the registry of
 * live sessions, the resources registered with them; a released session is
 * refused by ops and by release. Every function with good and bad input.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <vaccel.h>

#include "broker_harness.h"

static struct test_broker broker;
static const uint8_t bytes[] = "session test bytes";

static bool is_dir(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* init opens the session on the broker (ops run), makes its run
 * directory and registers it; release undoes all that, and a released
 * session is refused by ops, by release and by lookups. */
static void test_vaccel_session_lifecycle(void **state)
{
	struct vaccel_session s, *found;
	char rundir[PATH_MAX];
	vaccel_id_t id;

	(void)state;
	assert_int_equal(vaccel_session_init(&s, VACCEL_PLUGIN_CPU), 0);
	assert_int_equal(s.id, 1);
	id = s.id;
	assert_true(s.remote_id > 0);
	assert_int_equal(s.hint, VACCEL_PLUGIN_CPU);
	assert_false(s.is_virtio);
	snprintf(rundir, sizeof(rundir), "%s/session.%" PRId64, vaccel_rundir(), id);
	assert_string_equal(s.rundir, rundir);
	assert_true(is_dir(rundir));
	for (int t = 0; t < VACCEL_RESOURCE_MAX; t++) {
		assert_ptr_equal(s.resources[t].next, &s.resources[t]);
		assert_int_equal(s.resource_counts[t], 0);
	}
	assert_int_equal(vaccel_session_get_by_id(&found, id), 0);
	assert_ptr_equal(found, &s);
	assert_int_equal(vaccel_noop(&s), 0);

	assert_int_equal(vaccel_session_release(&s), 0);
	assert_true(s.id <= 0);
	assert_false(is_dir(rundir));
	assert_int_equal(vaccel_session_get_by_id(&found, id), VACCEL_ENOENT);
	assert_int_equal(vaccel_noop(&s), VACCEL_EINVAL);
	assert_int_equal(vaccel_session_release(&s), VACCEL_EINVAL);
	assert_int_equal(vaccel_session_delete(NULL), VACCEL_EINVAL);
}

/* Missing or never initialized sessions are refused everywhere. */
static void test_vaccel_session_refuses(void **state)
{
	struct vaccel_session zero, *p = NULL, *found = NULL;
	struct vaccel_resource *r;
	size_t n = 5;

	(void)state;
	memset(&zero, 0, sizeof(zero));
	assert_int_equal(vaccel_session_init(NULL, 0), VACCEL_EINVAL);
	assert_int_equal(vaccel_session_new(NULL, 0), VACCEL_EINVAL);
	assert_int_equal(vaccel_session_release(NULL), VACCEL_EINVAL);
	assert_int_equal(vaccel_session_release(&zero), VACCEL_EINVAL);
	assert_int_equal(vaccel_noop(&zero), VACCEL_EINVAL);
	assert_int_equal(vaccel_noop(NULL), VACCEL_EINVAL);
	assert_int_equal(vaccel_session_update(NULL, 0), VACCEL_EINVAL);
	assert_int_equal(vaccel_session_update(&zero, 0), VACCEL_EINVAL);
	assert_int_equal(vaccel_session_get_by_id(NULL, 1), VACCEL_EINVAL);
	assert_int_equal(vaccel_session_get_by_id(&found, 0), VACCEL_ENOENT);
	assert_int_equal(vaccel_session_get_by_id(&found, 12345), VACCEL_ENOENT);
	assert_null(found);
	assert_false(vaccel_session_has_resource(NULL, NULL));
	assert_int_equal(vaccel_session_resource_by_id(&zero, &r, 1), VACCEL_EINVAL);
	assert_int_equal(vaccel_session_resource_by_type(&zero, &r, VACCEL_RESOURCE_LIB),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_session_resources_by_type(&zero, NULL, &n,
							  VACCEL_RESOURCE_LIB), VACCEL_EINVAL);
	assert_null(p);
}

/* new/delete: the allocating pair; ids go up. */
static void test_vaccel_session_new_delete(void **state)
{
	struct vaccel_session *a, *b, *found;

	(void)state;
	assert_int_equal(vaccel_session_new(&a, 0), 0);
	assert_int_equal(vaccel_session_new(&b, 0), 0);
	assert_true(a->id > 0 && b->id > a->id);
	assert_int_not_equal(a->remote_id, b->remote_id);
	assert_int_equal(vaccel_noop(a), 0);
	assert_int_equal(vaccel_noop(b), 0);
	assert_int_equal(vaccel_session_get_by_id(&found, b->id), 0);
	assert_ptr_equal(found, b);
	assert_int_equal(vaccel_session_delete(a), 0);
	assert_int_equal(vaccel_noop(b), 0);
	assert_int_equal(vaccel_session_delete(b), 0);
}

/* The resources registered with a session, by id, by type, all of a type
 * (in the order registered); release unregisters them. */
static void test_vaccel_session_resources(void **state)
{
	struct vaccel_resource lib1, lib2, data, other, *r = NULL, **all = NULL;
	struct vaccel_session s;
	size_t n = 9;

	(void)state;
	assert_int_equal(vaccel_session_init(&s, 0), 0);
	assert_int_equal(vaccel_resource_init_from_buf(&lib1, bytes, 3, VACCEL_RESOURCE_LIB,
						       "l1", true), 0);
	assert_int_equal(vaccel_resource_init_from_buf(&lib2, bytes, 3, VACCEL_RESOURCE_LIB,
						       "l2", true), 0);
	assert_int_equal(vaccel_resource_init_from_buf(&data, bytes, 3, VACCEL_RESOURCE_DATA,
						       "d", true), 0);
	assert_int_equal(vaccel_resource_init_from_buf(&other, bytes, 3,
						       VACCEL_RESOURCE_LIB, "o", true), 0);

	assert_int_equal(vaccel_session_resources_by_type(&s, &all, &n,
							  VACCEL_RESOURCE_LIB), VACCEL_ENOENT);
	assert_int_equal(n, 0);
	assert_int_equal(vaccel_session_resource_by_type(&s, &r, VACCEL_RESOURCE_LIB),
			 VACCEL_ENOENT);
	assert_int_equal(vaccel_resource_register(&lib2, &s), 0);
	assert_int_equal(vaccel_resource_register(&data, &s), 0);
	assert_int_equal(vaccel_resource_register(&lib1, &s), 0);

	assert_int_equal(vaccel_session_resources_by_type(&s, &all, &n,
							  VACCEL_RESOURCE_LIB), 0);
	assert_int_equal(n, 2);
	assert_ptr_equal(all[0], &lib2);
	assert_ptr_equal(all[1], &lib1);
	free(all);
	assert_int_equal(vaccel_session_resources_by_type(&s, &all, &n,
							  VACCEL_RESOURCE_DATA), 0);
	assert_int_equal(n, 1);
	assert_ptr_equal(all[0], &data);
	free(all);
	assert_int_equal(vaccel_session_resources_by_type(&s, &all, &n,
							  VACCEL_RESOURCE_MODEL), VACCEL_ENOENT);
	assert_int_equal(n, 0);
	assert_int_equal(vaccel_session_resources_by_type(NULL, &all, &n,
							  VACCEL_RESOURCE_LIB), VACCEL_EINVAL);
	assert_int_equal(vaccel_session_resources_by_type(&s, NULL, &n,
							  VACCEL_RESOURCE_LIB), VACCEL_EINVAL);
	assert_int_equal(vaccel_session_resources_by_type(&s, &all, NULL,
							  VACCEL_RESOURCE_LIB), VACCEL_EINVAL);
	assert_int_equal(vaccel_session_resources_by_type(&s, &all, &n,
							  VACCEL_RESOURCE_MAX), VACCEL_EINVAL);

	assert_int_equal(vaccel_session_resource_by_type(&s, &r, VACCEL_RESOURCE_LIB), 0);
	assert_ptr_equal(r, &lib2);
	assert_int_equal(vaccel_session_resource_by_type(&s, &r, VACCEL_RESOURCE_MODEL),
			 VACCEL_ENOENT);
	assert_int_equal(vaccel_session_resource_by_type(NULL, &r, VACCEL_RESOURCE_LIB),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_session_resource_by_type(&s, NULL, VACCEL_RESOURCE_LIB),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_session_resource_by_type(&s, &r, VACCEL_RESOURCE_MAX),
			 VACCEL_EINVAL);

	assert_int_equal(vaccel_session_resource_by_id(&s, &r, data.id), 0);
	assert_ptr_equal(r, &data);
	assert_int_equal(vaccel_session_resource_by_id(&s, &r, other.id), VACCEL_ENOENT);
	assert_int_equal(vaccel_session_resource_by_id(&s, &r, 0), VACCEL_EINVAL);
	assert_int_equal(vaccel_session_resource_by_id(NULL, &r, data.id), VACCEL_EINVAL);
	assert_int_equal(vaccel_session_resource_by_id(&s, NULL, data.id), VACCEL_EINVAL);

	assert_true(vaccel_session_has_resource(&s, &lib1));
	assert_false(vaccel_session_has_resource(&s, &other));
	assert_false(vaccel_session_has_resource(&s, NULL));
	assert_false(vaccel_session_has_resource(NULL, &lib1));

	/* Not with resources registered (upstream: VACCEL_ENOTSUP). */
	assert_int_equal(vaccel_session_update(&s, VACCEL_PLUGIN_CPU), VACCEL_ENOTSUP);

	assert_int_equal(vaccel_session_release(&s), 0);
	assert_int_equal(vaccel_resource_refcount(&lib1), 0);
	assert_int_equal(vaccel_resource_refcount(&lib2), 0);
	assert_int_equal(vaccel_resource_refcount(&data), 0);
	assert_false(vaccel_session_has_resource(&s, &lib1));
	assert_int_equal(vaccel_session_resource_by_id(&s, &r, data.id), VACCEL_EINVAL);
	assert_int_equal(vaccel_resource_register(&lib1, &s), VACCEL_EINVAL);
	assert_int_equal(vaccel_resource_release(&lib1), 0);
	assert_int_equal(vaccel_resource_release(&lib2), 0);
	assert_int_equal(vaccel_resource_release(&data), 0);
	assert_int_equal(vaccel_resource_release(&other), 0);
}

/* update: new flags, a new session on the broker that serves ops. */
static void test_vaccel_session_update(void **state)
{
	struct vaccel_session s;
	vaccel_id_t remote;

	(void)state;
	assert_int_equal(vaccel_session_init(&s, 0), 0);
	remote = s.remote_id;
	assert_int_equal(vaccel_session_update(&s, 0), 0);
	assert_int_equal(s.remote_id, remote);
	assert_int_equal(vaccel_session_update(&s, VACCEL_PLUGIN_CPU), 0);
	assert_int_equal(s.hint, VACCEL_PLUGIN_CPU);
	assert_int_not_equal(s.remote_id, remote);
	assert_int_equal(vaccel_noop(&s), 0);
	assert_int_equal(vaccel_session_release(&s), 0);
	assert_int_equal(vaccel_session_update(&s, 0), VACCEL_EINVAL);
}

/* The deprecated names do what the new ones do. */
static void test_vaccel_session_deprecated(void **state)
{
	struct vaccel_session s;
	struct vaccel_resource res;

	(void)state;
	assert_int_equal(vaccel_sess_init(&s, 0), 0);
	assert_true(s.id > 0);
	assert_int_equal(vaccel_sess_update(&s, VACCEL_PLUGIN_CPU), 0);
	assert_int_equal(s.hint, VACCEL_PLUGIN_CPU);
	assert_int_equal(vaccel_resource_init_from_buf(&res, bytes, 2, VACCEL_RESOURCE_DATA,
						       "x", true), 0);
	assert_false(vaccel_sess_has_resource(&s, &res));
	assert_int_equal(vaccel_resource_register(&res, &s), 0);
	assert_true(vaccel_sess_has_resource(&s, &res));
	assert_int_equal(vaccel_sess_update(&s, 0), VACCEL_ENOTSUP);
	assert_int_equal(vaccel_sess_free(&s), 0);
	assert_false(vaccel_sess_has_resource(&s, &res));
	assert_int_equal(vaccel_sess_free(&s), VACCEL_EINVAL);
	assert_int_equal(vaccel_sess_init(NULL, 0), VACCEL_EINVAL);
	assert_int_equal(vaccel_sess_update(NULL, 0), VACCEL_EINVAL);
	assert_int_equal(vaccel_resource_release(&res), 0);
}

/* Sessions from many threads at once: each its own id, each serving
 * ops, each found by id while it lives and not after. */
enum { THREADS = 8, ROUNDS = 20 };
static struct vaccel_resource shared_res;

static void *worker(void *arg)
{
	long fails = 0;

	(void)arg;
	for (int i = 0; i < ROUNDS; i++) {
		struct vaccel_session s, *found;
		vaccel_id_t id;

		if (vaccel_session_init(&s, 0))
			return (void *)1000;
		id = s.id;
		for (int k = 0; k < 10; k++)
			fails += vaccel_noop(&s) != 0;
		fails += vaccel_session_get_by_id(&found, id) != 0 || found != &s;
		fails += vaccel_resource_register(&shared_res, &s) != 0;
		fails += !vaccel_session_has_resource(&s, &shared_res);
		if (i % 2)
			fails += vaccel_resource_unregister(&shared_res, &s) != 0;
		fails += vaccel_session_release(&s) != 0;
		fails += vaccel_noop(&s) != VACCEL_EINVAL;
		/* The id may be another thread's session by now, never s. */
		fails += !vaccel_session_get_by_id(&found, id) && found == &s;
	}
	return (void *)fails;
}

static void test_vaccel_session_threads(void **state)
{
	pthread_t t[THREADS];
	void *fails;

	(void)state;
	assert_int_equal(vaccel_resource_init_from_buf(&shared_res, bytes, 4,
						       VACCEL_RESOURCE_DATA, "s", true), 0);
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, worker, NULL), 0);
	for (int i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(t[i], &fails), 0);
		assert_null(fails);
	}
	assert_int_equal(vaccel_resource_refcount(&shared_res), 0);
	assert_int_equal(vaccel_resource_release(&shared_res), 0);
}

/*
 * A broker that refuses us: the session fails with the broker's errno and
 * its reason lands in the log file the configuration names (VACCEL_LOG_FILE
 * through vaccel_config), in the broker's words.
 */
static void test_vaccel_session_refusal_logged(void **state)
{
	/* Over UNIX sockets allow-uids refuses us, over TCP allow-peers. */
	const char *args[] = { "--allow-uids=65534", "--allow-peers=192.0.2.1", NULL };
	char path[] = "/tmp/vaccel-refusal-XXXXXX", line[4096];
	struct vaccel_config cfg;
	struct test_broker b2;
	struct vaccel_session s;
	bool found = false;
	FILE *f;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	vaccel_cleanup();
	assert_int_equal(test_broker_start(&b2, args), 0);
	assert_int_equal(vaccel_config_init(&cfg, NULL, VACCEL_LOG_ERROR, path, false,
					    false), 0);
	assert_int_equal(vaccel_bootstrap_with_config(&cfg), 0);
	assert_int_equal(vaccel_session_init(&s, 0), VACCEL_EACCES);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "<error>") && strstr(line, "no channel to the broker") &&
		    (strstr(line, "allow-uids") || strstr(line, "allow-peers")))
			found = true;
	fclose(f);
	unlink(path);
	assert_true(found);
	assert_int_equal(vaccel_config_release(&cfg), 0);
	assert_int_equal(test_broker_stop(&b2), 0);
	/* Back to the suite's broker, with the environment's configuration. */
	vaccel_cleanup();
	setenv("ACCELRING_ADDRESS", broker.address, 1);
	assert_int_equal(vaccel_bootstrap(), 0);
	assert_int_equal(vaccel_session_init(&s, 0), 0);
	assert_int_equal(vaccel_session_release(&s), 0);
}

/* The suite's broker exits 0 on SIGTERM (last test: see test_broker.c). */
static void test_vaccel_session_exits_clean(void **state)
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vaccel_session_lifecycle),
		cmocka_unit_test(test_vaccel_session_refuses),
		cmocka_unit_test(test_vaccel_session_new_delete),
		cmocka_unit_test(test_vaccel_session_resources),
		cmocka_unit_test(test_vaccel_session_update),
		cmocka_unit_test(test_vaccel_session_deprecated),
		cmocka_unit_test(test_vaccel_session_threads),
		cmocka_unit_test(test_vaccel_session_refusal_logged),
		cmocka_unit_test(test_vaccel_session_exits_clean),
	};

	if (getenv("ACCELRING_TEST_FILTER"))
		cmocka_set_test_filter(getenv("ACCELRING_TEST_FILTER"));
	return cmocka_run_group_tests_name("vaccel_session", tests, setup, teardown);
}

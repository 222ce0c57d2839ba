/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_broker_batch - batching across tenants, end to end: a real
 * accelringd with the torch plugin and batch-delay-us set, 16 client
 * processes, each its own tenant (uid 61000 + i over UNIX sockets), each
 * with inputs of its own (1 or 2 rows) on the same TorchScript model,
 * submitting together round after round through vAccel's
 * vaccel_torch_model_run.
 *
 * Each client checks every output against its own unbatched run of the
 * same model in this process (libtorch, tests/torch_ref.h, same threads):
 * equal within the difference libtorch itself shows in process between a
 * batched and an unbatched forward of the same rows (measured here, over
 * batches of 2..16 clients' inputs: printed). The clients' outputs differ
 * from one another by far more than that bound (checked), so a row given
 * to the wrong client, or shared, fails the test. The broker's log says
 * which batches formed (its debug line per coalesced call): the test
 * prints their sizes and checks that batches of several tenants formed.
 * And with batch-max 2, a 3-row run goes alone while two 1-row runs
 * released with it share a call.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <vaccel.h>

#include "broker_harness.h"
#include "torch_ref.h"

#ifndef AR_TEST_MODELS
#error "AR_TEST_MODELS must name the directory of the test models"
#endif
#ifndef AR_TORCH_PLUGIN
#error "AR_TORCH_PLUGIN must name the built torch plugin"
#endif

#define CLIENTS 16
#define ROUNDS 4
#define MAX_ROWS 2
#define IN_ELEMS (3 * 32 * 32)	/* tiny.pt: N x 3 x 32 x 32 -> N x 10 */
#define OUT_W 10
#define FIRST_UID 61000

static struct test_broker broker;
static uint8_t *model;
static size_t model_len;
static float in[CLIENTS][MAX_ROWS * IN_ELEMS];
static float want[CLIENTS][MAX_ROWS * OUT_W];
static double tol;

/* What each client reports, in memory shared with the parent. */
struct report {
	int status;		/* 0, or the first failing call's vAccel error */
	int bad_dims;
	double max_diff;	/* against its own unbatched run */
	unsigned runs;
};
static struct report *reports;
static pthread_barrier_t *round_start;

static int rows_of(int i)
{
	return 1 + i % 2;
}

static int read_file(const char *path, uint8_t **buf, size_t *len)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st))
		return -1;
	*len = (size_t)st.st_size;
	*buf = malloc(*len);
	if (!*buf || read(fd, *buf, *len) != (ssize_t)*len)
		return -1;
	close(fd);
	return 0;
}

static double max_abs_diff(const float *a, const float *b, size_t n)
{
	double d = 0;

	for (size_t i = 0; i < n; i++)
		d = fmax(d, fabs((double)a[i] - (double)b[i]));
	return d;
}

/*
 * The references: each client's unbatched output, and the bound: the
 * largest difference between a client's rows in a batched forward of the
 * first k clients' inputs (k = 2..16, as the broker may form them) and
 * its unbatched output.
 */
static int references(void)
{
	static float cat[CLIENTS * MAX_ROWS * IN_ELEMS], out[CLIENTS * MAX_ROWS * OUT_W];
	struct ar_tref *ref = ar_tref_load(AR_TEST_MODELS "/tiny.pt", 1);
	uint32_t x = 12345;
	int64_t odims[8];
	int ond;

	if (!ref)
		return -1;
	for (int i = 0; i < CLIENTS; i++)
		for (int e = 0; e < rows_of(i) * IN_ELEMS; e++) {
			x = x * 1664525u + 1013904223u;
			in[i][e] = (float)((x >> 8) & 0xffff) / 65536.0f - 0.5f;
		}
	for (int i = 0; i < CLIENTS; i++) {
		int64_t dims[4] = { rows_of(i), 3, 32, 32 };

		if (ar_tref_forward(ref, in[i], dims, 4, want[i], sizeof(want[i]), odims,
				    &ond) != (long)(rows_of(i) * OUT_W * sizeof(float)))
			return -1;
	}
	tol = 0;
	for (int k = 2; k <= CLIENTS; k++) {
		int64_t rows = 0, dims[4] = { 0, 3, 32, 32 };
		size_t off = 0;

		for (int i = 0; i < k; i++) {
			memcpy(cat + rows * IN_ELEMS, in[i],
			       (size_t)rows_of(i) * IN_ELEMS * sizeof(float));
			rows += rows_of(i);
		}
		dims[0] = rows;
		if (ar_tref_forward(ref, cat, dims, 4, out, sizeof(out), odims, &ond) < 0)
			return -1;
		for (int i = 0; i < k; i++) {
			tol = fmax(tol, max_abs_diff(out + off, want[i],
						     (size_t)rows_of(i) * OUT_W));
			off += (size_t)rows_of(i) * OUT_W;
		}
	}
	ar_tref_free(ref);
	return 0;
}

static int setup(void **state)
{
	const char *args[] = { "--plugins=" AR_TORCH_PLUGIN, "--batch-delay-us=200000",
			       "--batch-max=32", "--tenant-long-ops=0", "--torch-threads=1",
			       "--log-level=debug",
			       /* Over TCP the 16 clients are one tenant (one
			        * address), each asking the default data area. */
			       "--stream-tenant-shm=4G", "--listener-shm=4G", NULL };
	pthread_barrierattr_t a;

	(void)state;
	if (read_file(AR_TEST_MODELS "/tiny.pt", &model, &model_len) || references())
		return -1;
	reports = mmap(NULL, sizeof(*reports) * CLIENTS + sizeof(*round_start),
		       PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (reports == MAP_FAILED)
		return -1;
	round_start = (pthread_barrier_t *)(reports + CLIENTS);
	pthread_barrierattr_init(&a);
	pthread_barrierattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_barrier_init(round_start, &a, CLIENTS);
	pthread_barrierattr_destroy(&a);
	return test_broker_start(&broker, args);
}

static int teardown(void **state)
{
	(void)state;
	pthread_barrier_destroy(round_start);
	munmap(reports, sizeof(*reports) * CLIENTS + sizeof(*round_start));
	free(model);
	return test_broker_stop(&broker);
}

/* A session with the model registered and loaded: 0 or a vAccel error. */
static int open_model(struct vaccel_session *s, struct vaccel_resource *res)
{
	int ret = vaccel_session_init(s, 0);

	if (!ret)
		ret = vaccel_resource_init_from_buf(res, model, model_len,
						    VACCEL_RESOURCE_MODEL, "tiny.pt", true);
	if (!ret)
		ret = vaccel_resource_register(res, s);
	if (!ret)
		ret = vaccel_torch_model_load(s, res);
	return ret;
}

/* One client, in a child: its own tenant, session and model resource. */
static int client(int i)
{
	struct report *rep = &reports[i];
	struct vaccel_session s;
	struct vaccel_resource res;
	int64_t dims[4] = { rows_of(i), 3, 32, 32 };
	int ret;

	/* Over a UNIX socket a tenant is a uid; over TCP all share one. */
	if (strcmp(test_transport(), "tcp") &&
	    (setresgid(FIRST_UID + i, FIRST_UID + i, FIRST_UID + i) ||
	     setresuid(FIRST_UID + i, FIRST_UID + i, FIRST_UID + i)))
		ret = -errno;
	else
		ret = open_model(&s, &res);
	if (ret) {
		rep->status = ret;
		/* The others go on: every round's barrier still counts us. */
		for (int r = 0; r < ROUNDS; r++)
			pthread_barrier_wait(round_start);
		return 1;
	}
	pthread_barrier_wait(round_start);
	for (int r = 0; r < ROUNDS; r++) {
		struct vaccel_torch_tensor *t, *out = NULL;

		if (r)
			pthread_barrier_wait(round_start);
		ret = vaccel_torch_tensor_new(&t, 4, dims, VACCEL_TORCH_FLOAT);
		if (!ret)
			ret = vaccel_torch_tensor_set_data(t, in[i], (size_t)rows_of(i) *
								    IN_ELEMS * sizeof(float));
		if (!ret)
			ret = vaccel_torch_model_run(&s, &res, NULL, &t, 1, &out, 1);
		if (ret) {
			rep->status = ret;
			continue;	/* keep the barrier's count */
		}
		rep->runs++;
		if (out->nr_dims != 2 || out->dims[0] != rows_of(i) || out->dims[1] != OUT_W ||
		    out->size != (size_t)rows_of(i) * OUT_W * sizeof(float))
			rep->bad_dims++;
		else
			rep->max_diff = fmax(rep->max_diff,
					     max_abs_diff(out->data, want[i],
							  (size_t)rows_of(i) * OUT_W));
		/* The data is ours (in[i]): only the tensor goes. */
		t->data = NULL;
		vaccel_torch_tensor_delete(t);
		vaccel_torch_tensor_delete(out);
	}
	vaccel_resource_unregister(&res, &s);
	vaccel_resource_release(&res);
	vaccel_session_release(&s);
	return 0;
}

/* The sizes of the coalesced calls the broker logged. */
static unsigned logged_batches(unsigned *sizes, unsigned cap, unsigned *tenants_max)
{
	char line[1024];
	unsigned n = 0;
	FILE *f = fopen(broker.log, "r");

	*tenants_max = 0;
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		const char *p = strstr(line, "torch_model_run: ");
		unsigned ops, tenants;

		if (p && sscanf(p, "torch_model_run: %u ops of %u tenants", &ops, &tenants) == 2 &&
		    n < cap) {
			sizes[n++] = ops;
			if (tenants > *tenants_max)
				*tenants_max = tenants;
		}
	}
	fclose(f);
	return n;
}

static void test_batch_each_tenant_gets_its_own_rows(void **state)
{
	pid_t pids[CLIENTS];
	unsigned sizes[256], nb, tenants_max, in_batches = 0;
	double sep = INFINITY;

	(void)state;
	if (strcmp(test_transport(), "tcp") && geteuid() != 0)
		skip();	/* tenants are uids: we must be able to become them */
	/* The bound must be able to tell clients apart: their outputs
	 * differ by far more than batching moves one. */
	for (int i = 0; i < CLIENTS; i++)
		for (int j = i + 1; j < CLIENTS; j++)
			sep = fmin(sep, max_abs_diff(want[i], want[j], OUT_W));
	printf("batched against unbatched in process (libtorch, 1 thread, batches of 2..%d):"
	       " max |diff| %.3g; clients' outputs apart by at least %.3g\n",
	       CLIENTS, tol, sep);
	assert_true(sep > 100 * tol && sep > 1e-4);

	for (int i = 0; i < CLIENTS; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0)
			_exit(client(i));
	}
	for (int i = 0; i < CLIENTS; i++) {
		int st;

		assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
		if (!WIFEXITED(st) || WEXITSTATUS(st) || reports[i].status ||
		    reports[i].bad_dims || reports[i].max_diff > tol)
			printf("client %d: exit %d, status %d, runs %u, bad dims %d, max diff %.3g\n",
			       i, WIFEXITED(st) ? WEXITSTATUS(st) : -1, reports[i].status,
			       reports[i].runs, reports[i].bad_dims, reports[i].max_diff);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		assert_int_equal(reports[i].status, 0);
		assert_int_equal(reports[i].runs, ROUNDS);
		assert_int_equal(reports[i].bad_dims, 0);
		assert_true(reports[i].max_diff <= tol);
	}
	nb = logged_batches(sizes, 256, &tenants_max);
	printf("coalesced calls:");
	for (unsigned k = 0; k < nb; k++) {
		printf(" %u", sizes[k]);
		in_batches += sizes[k];
	}
	printf(" (%u of %d ops; most tenants in one call: %u)\n", in_batches,
	       CLIENTS * ROUNDS, tenants_max);
	/* Every op went through the coalescer, and ops of several tenants
	 * shared calls (16 clients released together, 200 ms to join). */
	assert_int_equal(in_batches, CLIENTS * ROUNDS);
	assert_true(nb < (unsigned)(CLIENTS * ROUNDS));
	if (strcmp(test_transport(), "tcp"))
		assert_true(tenants_max >= 2);
	assert_true(test_broker_alive(&broker));
}

/*
 * batch-max bounds a call's rows: with batch-max 2, a client's 3-row input
 * runs alone (no coalesced call holds it) and is still exact, while two
 * 1-row clients released with it share a call of 2.
 */
struct big_client {
	const float *x;
	int64_t rows;
	const float *want;	/* rows x OUT_W */
};

static int big_run(const struct big_client *bc, int uid, pthread_barrier_t *go,
		   struct report *rep)
{
	struct vaccel_session s;
	struct vaccel_resource res;
	struct vaccel_torch_tensor *t = NULL, *out = NULL;
	int64_t dims[4] = { bc->rows, 3, 32, 32 };
	int ret;

	if (strcmp(test_transport(), "tcp") &&
	    (setresgid(uid, uid, uid) || setresuid(uid, uid, uid)))
		ret = -errno;
	else
		ret = open_model(&s, &res);
	pthread_barrier_wait(go);
	if (!ret)
		ret = vaccel_torch_tensor_new(&t, 4, dims, VACCEL_TORCH_FLOAT);
	if (!ret)
		ret = vaccel_torch_tensor_set_data(t, (void *)bc->x,
						   (size_t)bc->rows * IN_ELEMS * sizeof(float));
	if (!ret)
		ret = vaccel_torch_model_run(&s, &res, NULL, &t, 1, &out, 1);
	rep->status = ret;
	if (ret)
		return 1;
	rep->runs = 1;
	if (out->nr_dims != 2 || out->dims[0] != bc->rows || out->dims[1] != OUT_W)
		rep->bad_dims = 1;
	else
		rep->max_diff = max_abs_diff(out->data, bc->want, (size_t)bc->rows * OUT_W);
	return 0;
}

static void test_batch_rows_bound_a_call(void **state)
{
	static float x3[3 * IN_ELEMS], w3[3 * OUT_W];
	const char *args[] = { "--plugins=" AR_TORCH_PLUGIN, "--batch-delay-us=300000",
			       "--batch-max=2", "--tenant-long-ops=0", "--torch-threads=1",
			       "--log-level=debug", NULL };
	/* in[0] (1 row) then in[1] (2 rows): 3 rows, whose outputs are
	 * want[0]'s and want[1]'s. */
	const struct big_client cl[3] = { { x3, 3, w3 }, { in[0], 1, want[0] },
					  { in[2], 1, want[2] } };
	struct test_broker small = { 0 };
	struct report *rep = reports;
	pthread_barrier_t *go = round_start;
	unsigned sizes[16], nb, total = 0, tenants_max;
	pid_t pids[3];
	char addr[256];

	(void)state;
	if (strcmp(test_transport(), "tcp") && geteuid() != 0)
		skip();
	memcpy(x3, in[0], IN_ELEMS * sizeof(float));
	memcpy(x3 + IN_ELEMS, in[1], 2 * IN_ELEMS * sizeof(float));
	memcpy(w3, want[0], OUT_W * sizeof(float));
	memcpy(w3 + OUT_W, want[1], 2 * OUT_W * sizeof(float));
	/* The shared report slots and a barrier for three. */
	memset(reports, 0, sizeof(*reports) * CLIENTS);
	pthread_barrier_destroy(round_start);
	{
		pthread_barrierattr_t a;

		pthread_barrierattr_init(&a);
		pthread_barrierattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
		pthread_barrier_init(go, &a, 3);
		pthread_barrierattr_destroy(&a);
	}
	/* The harness points ACCELRING_ADDRESS at the broker it starts:
	 * the first broker's is put back after. */
	snprintf(addr, sizeof(addr), "%s", getenv("ACCELRING_ADDRESS"));
	assert_int_equal(test_broker_start(&small, args), 0);
	for (int i = 0; i < 3; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0)
			_exit(big_run(&cl[i], FIRST_UID + 100 + i, go, &rep[i]));
	}
	for (int i = 0; i < 3; i++) {
		int st;

		assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		assert_int_equal(rep[i].status, 0);
		assert_int_equal(rep[i].bad_dims, 0);
		assert_true(rep[i].max_diff <= tol);
	}
	{
		/* The log is the small broker's. */
		struct test_broker keep = broker;

		broker = small;
		nb = logged_batches(sizes, 16, &tenants_max);
		broker = keep;
	}
	for (unsigned k = 0; k < nb; k++) {
		assert_true(sizes[k] <= 2);
		total += sizes[k];
	}
	printf("batch-max 2: coalesced calls of %u ops in all; the 3-row run alone\n", total);
	/* Only the two 1-row runs went through the coalescer. */
	assert_int_equal(total, 2);
	assert_int_equal(test_broker_stop(&small), 0);
	setenv("ACCELRING_ADDRESS", addr, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batch_each_tenant_gets_its_own_rows),
		cmocka_unit_test(test_batch_rows_bound_a_call),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_broker_resource - resources end to end (broker/resource.c,
 * libclient/resource.c): a real broker, real memfds, real sockets, over the
 * transport ACCELRING_TEST_TRANSPORT names (shm, tcp, unix-stream).
 *
 * What a plugin gets of a resource is checked through the echo test plugin
 * (tests/plugins/echo.c), which records the bytes it sees mapped, their
 * path and the resource's id. The adversarial cases speak the protocol by
 * hand (tests/raw_client.c): unsealed, sparse, mis-sized and non-memfd
 * fds, fd floods, uploads out of order, names that are paths.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <accelring/client.h>
#include <accelring/optable.h>

#include "broker_harness.h"
#include "echo.h"
#include "raw_client.h"

#define RES_LIB 0	/* vaccel_resource_type_t */
#define RES_DATA 1
#define RES_MODEL 2
#define SEALS (F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)
#define MIB (1024ull * 1024)

static struct test_broker broker;

static int setup(void **state)
{
	const char *args[] = { "--plugins=" AR_ECHO_PLUGIN ":noop", NULL };

	(void)state;
	if (test_broker_start(&broker, args))
		return -1;
	raw_use(&broker);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return test_broker_stop(&broker);
}

/* ---- helpers ---- */

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed * 131u + i * 7u + (i >> 12));
}

struct conn {
	struct ar_client *c;
	struct ar_queue *q;
	uint32_t sid;
};

static void conn_open(struct conn *k)
{
	assert_int_equal(ar_client_connect(NULL, &k->c), 0);
	assert_int_equal(ar_queue_get(k->c, &k->q), 0);
	assert_int_equal(ar_session_open(k->q, 0, &k->sid), 0);
}

static void conn_close(struct conn *k)
{
	ar_client_close(k->c);
}

/* A packed memfd of one piece, n bytes of seed. */
static int pack1(const char *name, size_t n, unsigned seed, struct ar_res_file *f,
		 uint64_t *bytes)
{
	uint8_t *p = malloc(n);
	struct ar_res_piece pc = { .name = name, .data = p, .size = n, .fd = -1 };
	int fd;

	assert_non_null(p);
	fill(p, n, seed);
	fd = ar_resource_pack(&pc, 1, f, bytes);
	free(p);
	assert_true(fd >= 0);
	return fd;
}

/* Register n bytes of seed with k's session; returns the status. */
static int reg1(struct conn *k, uint32_t type, size_t n, unsigned seed, uint64_t *id)
{
	struct ar_res_file f;
	uint64_t bytes;
	int fd = pack1("blob.bin", n, seed, &f, &bytes), ret;

	ret = ar_resource_register(k->q, k->sid, type, fd, bytes, &f, 1, id);
	close(fd);
	return ret;
}

/* Run exec_with_resource on id through echo, and return what it saw. */
static int echo_res(struct conn *k, uint64_t id, struct echo_rec *rec)
{
	struct ar_arg w = { .buf = rec, .size = sizeof(*rec) };
	struct ar_cqe cqe;
	int ret;

	memset(rec, 0, sizeof(*rec));
	ret = ar_submit_resource_op(k->q, k->sid, AR_OP_EXEC_WITH_RESOURCE, id, "fn", NULL,
				    0, &w, 1, 7);
	if (ret)
		return ret;
	assert_int_equal(ar_wait(k->q, &cqe, 1, 1, -1), 1);
	return cqe.status;
}

/* The broker's RssAnon and RssShmem, KiB. */
static void broker_rss(long *anon, long *shmem)
{
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)broker.pid);
	f = fopen(path, "r");
	assert_non_null(f);
	*anon = *shmem = -1;
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "RssAnon: %ld kB", anon);
		sscanf(line, "RssShmem: %ld kB", shmem);
	}
	fclose(f);
	assert_true(*anon >= 0 && *shmem >= 0);
}

/* Whether the broker maps a file whose inode is ino (/proc/PID/maps). */
static bool broker_maps_inode(ino_t ino)
{
	char path[64], line[512];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)broker.pid);
	f = fopen(path, "r");
	assert_non_null(f);
	while (!found && fgets(line, sizeof(line), f)) {
		unsigned long long a, b, off, i;
		char perms[8], dev[16];

		if (sscanf(line, "%llx-%llx %7s %llx %15s %llu", &a, &b, perms, &off, dev, &i) == 6)
			found = i == (unsigned long long)ino;
	}
	fclose(f);
	return found;
}

/* ---- through the client library, on every transport ---- */

/* Content registered reaches a plugin intact: mapped, by a path of the
 * broker's own for a single file, each of a multi-file resource in
 * place; a resource of another session of the tenant is refused. */
static void test_resource_reaches_plugin(void **state)
{
	struct conn k, other;
	struct echo_rec rec;
	uint8_t a[5000], b[300];
	struct ar_res_piece pc[2] = {
		{ .name = "weights.bin", .data = a, .size = sizeof(a), .fd = -1 },
		{ .name = "labels.txt", .data = b, .size = sizeof(b), .fd = -1 },
	};
	struct ar_res_file f[2];
	uint64_t bytes, one, two;
	int fd;

	(void)state;
	conn_open(&k);
	conn_open(&other);
	assert_int_equal(reg1(&k, RES_LIB, 100000, 1, &one), 0);
	assert_int_not_equal(one, 0);
	assert_int_equal(echo_res(&k, one, &rec), 0);
	{
		uint8_t *p = malloc(100000);

		fill(p, 100000, 1);
		assert_string_equal(rec.library, "blob.bin");
		assert_int_equal(rec.res_id, one);
		assert_int_equal(rec.res_type, RES_LIB);
		assert_int_equal(rec.res_files, 1);
		assert_int_equal(rec.res_size, 100000);
		assert_true(rec.res_fnv == echo_fnv(p, 100000));
		assert_int_equal(rec.res_path_ok, 1);
		free(p);
	}
	/* Two files: page aligned in one memfd, each seen in place; not
	 * the whole memfd, so no path of their own. */
	fill(a, sizeof(a), 2);
	fill(b, sizeof(b), 3);
	fd = ar_resource_pack(pc, 2, f, &bytes);
	assert_true(fd >= 0);
	assert_int_equal(f[0].offset, 0);
	assert_int_equal(f[1].offset, 8192);
	assert_int_equal(bytes, 8192 + sizeof(b));
	assert_int_equal(ar_resource_register(k.q, k.sid, RES_MODEL, fd, bytes, f, 2, &two), 0);
	close(fd);
	assert_int_not_equal(two, one);
	assert_int_equal(echo_res(&k, two, &rec), 0);
	assert_string_equal(rec.library, "weights.bin");
	assert_int_equal(rec.res_files, 2);
	assert_int_equal(rec.res_type, RES_MODEL);
	assert_true(rec.res_fnv == echo_fnv(a, sizeof(a)));
	assert_int_equal(rec.res_path_ok, 0);
	/* Not registered with that session: EPERM, and nothing ran. */
	assert_int_equal(echo_res(&other, one, &rec), -EPERM);
	assert_int_equal(rec.magic, 0);
	assert_int_equal(echo_res(&k, 999999, &rec), -EPERM);
	/* Registered there too: now it runs. */
	assert_int_equal(ar_resource_attach(other.q, other.sid, one), 0);
	assert_int_equal(echo_res(&other, one, &rec), 0);
	assert_int_equal(rec.res_id, one);
	conn_close(&other);
	conn_close(&k);
}

/* Identical content is stored once per tenant; a resource lives while a
 * session has it and goes with its last one (unregistered or closed). */
static void test_resource_stored_once_freed_last(void **state)
{
	struct conn k1, k2;
	struct echo_rec rec;
	uint64_t a, b, c;

	(void)state;
	conn_open(&k1);
	conn_open(&k2);
	assert_int_equal(reg1(&k1, RES_DATA, 65536, 9, &a), 0);
	assert_int_equal(reg1(&k2, RES_DATA, 65536, 9, &b), 0);
	assert_int_equal(a, b);
	/* Identical content registered again with the same session (another
	 * client resource): the same resource, a registration of its own,
	 * which its own unregister undoes. */
	assert_int_equal(reg1(&k1, RES_DATA, 65536, 9, &c), 0);
	assert_int_equal(c, a);
	assert_int_equal(ar_resource_unregister(k1.q, k1.sid, c), 0);
	assert_int_equal(echo_res(&k1, a, &rec), 0);
	/* Another type or other bytes are another resource. */
	assert_int_equal(reg1(&k1, RES_LIB, 65536, 9, &c), 0);
	assert_int_not_equal(c, a);
	assert_int_equal(ar_resource_unregister(k1.q, k1.sid, c), 0);
	assert_int_equal(ar_resource_unregister(k1.q, k1.sid, c), -ENOENT);
	assert_int_equal(ar_resource_attach(k1.q, k1.sid, c), -ENOENT);
	/* k2 still has a. */
	assert_int_equal(ar_resource_unregister(k1.q, k1.sid, a), 0);
	assert_int_equal(echo_res(&k2, a, &rec), 0);
	assert_int_equal(ar_resource_attach(k1.q, k1.sid, a), 0);
	/* The last session's close frees it. */
	assert_int_equal(ar_resource_unregister(k1.q, k1.sid, a), 0);
	assert_int_equal(ar_session_close(k2.q, k2.sid), 0);
	assert_int_equal(ar_resource_attach(k1.q, k1.sid, a), -ENOENT);
	assert_non_null(strstr(ar_queue_error(k1.q), "no resource"));
	conn_close(&k2);
	conn_close(&k1);
}

/* Names are names and ranges lie inside: EINVAL with the reason. */
static void test_resource_names_and_ranges_checked(void **state)
{
	static const char *const bad[] = { "../etc", "a/b", "", ".", "..", "/abs" };
	struct ar_res_file f;
	struct conn k;
	uint64_t bytes, id;
	int fd;

	(void)state;
	conn_open(&k);
	fd = pack1("ok", 4096, 5, &f, &bytes);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ar_res_file g = f;

		g.name = bad[i];
		assert_int_equal(ar_resource_register(k.q, k.sid, RES_DATA, fd, bytes, &g, 1, &id),
				 -EINVAL);
		assert_non_null(strstr(ar_queue_error(k.q), "file name"));
	}
	{
		struct ar_res_file g = f;

		g.size = bytes + 1;
		assert_int_equal(ar_resource_register(k.q, k.sid, RES_DATA, fd, bytes, &g, 1, &id),
				 -EINVAL);
		assert_non_null(strstr(ar_queue_error(k.q), "outside"));
		g = f;
		g.offset = UINT64_MAX - 1;
		assert_int_equal(ar_resource_register(k.q, k.sid, RES_DATA, fd, bytes, &g, 1, &id),
				 -EINVAL);
	}
	assert_int_equal(ar_resource_register(k.q, k.sid, 7, fd, bytes, &f, 1, &id), -EINVAL);
	assert_non_null(strstr(ar_queue_error(k.q), "type"));
	/* A session that is not the tenant's. */
	assert_int_equal(ar_resource_register(k.q, 0x7fffffff, RES_DATA, fd, bytes, &f, 1, &id),
			 -EPERM);
	/* Still fine after all that. */
	assert_int_equal(ar_resource_register(k.q, k.sid, RES_DATA, fd, bytes, &f, 1, &id), 0);
	close(fd);
	conn_close(&k);
}

/* tenant-resource-bytes and tenant-resources: EDQUOT with the reason,
 * and room again once resources go. */
static void test_resource_quota(void **state)
{
	const char *args[] = { "--tenant-resource-bytes=1048576", "--tenant-resources=3",
			       NULL };
	struct test_broker b2;
	struct conn k;
	uint64_t a, b, c, d;

	(void)state;
	assert_int_equal(test_broker_start(&b2, args), 0);
	conn_open(&k);
	assert_int_equal(reg1(&k, RES_DATA, 600000, 1, &a), 0);
	assert_int_equal(reg1(&k, RES_DATA, 600000, 2, &b), -EDQUOT);
	assert_non_null(strstr(ar_queue_error(k.q), "tenant-resource-bytes"));
	assert_int_equal(reg1(&k, RES_DATA, 2 * MIB, 2, &b), -EDQUOT);
	assert_int_equal(ar_resource_unregister(k.q, k.sid, a), 0);
	assert_int_equal(reg1(&k, RES_DATA, 600000, 2, &b), 0);
	assert_int_equal(reg1(&k, RES_DATA, 1000, 3, &c), 0);
	assert_int_equal(reg1(&k, RES_DATA, 1000, 4, &d), 0);
	assert_int_equal(reg1(&k, RES_DATA, 1000, 5, &a), -EDQUOT);
	assert_non_null(strstr(ar_queue_error(k.q), "tenant-resources"));
	/* Identical content needs no more room (stored once), once the
	 * upload itself fits: a free count. */
	assert_int_equal(ar_resource_unregister(k.q, k.sid, d), 0);
	assert_int_equal(reg1(&k, RES_DATA, 1000, 3, &a), 0);
	assert_int_equal(a, c);
	assert_true(test_broker_logged(&b2, "tenant-resources"));
	conn_close(&k);
	assert_int_equal(test_broker_stop(&b2), 0);
	setenv("ACCELRING_ADDRESS", broker.address, 1);
}

/* A client killed with its resource registered: its fds, its mapping and
 * its charge go back (the broker's fds at their baseline again, and the
 * same tenant can hold as much as before). */
static void test_resource_freed_after_kill(void **state)
{
	const char *args[] = { "--tenant-resource-bytes=67108864", NULL };
	struct test_broker b2;
	int base, during, pfd[2];
	long rss0, rss1, rss2;
	struct conn k;
	uint64_t id;
	pid_t pid;
	char x;

	(void)state;
	assert_int_equal(test_broker_start(&b2, args), 0);
	base = test_broker_settled_fds(&b2);
	rss0 = test_broker_rss_kib(&b2);
	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	if (pid == 0) {
		struct conn c;
		uint64_t rid;

		close(pfd[0]);
		conn_open(&c);
		if (reg1(&c, RES_MODEL, 48 * MIB, 11, &rid))
			_exit(1);
		(void)!write(pfd[1], "r", 1);
		pause();
		_exit(0);
	}
	close(pfd[1]);
	assert_int_equal(read(pfd[0], &x, 1), 1);
	close(pfd[0]);
	during = test_broker_settled_fds(&b2);
	rss1 = test_broker_rss_kib(&b2);
	assert_true(during > base);
	/* The hash touched every page of the mapping. */
	assert_true(rss1 - rss0 >= 40 * 1024);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	/* Back to the baseline: what the connection held is gone. */
	for (int i = 0; i < 50 && test_broker_settled_fds(&b2) != base; i++)
		;
	assert_int_equal(test_broker_settled_fds(&b2), base);
	rss2 = test_broker_rss_kib(&b2);
	assert_true(rss2 - rss0 < 16 * 1024);
	/* And the tenant's allowance: 48 MiB fits again in 64. */
	conn_open(&k);
	assert_int_equal(reg1(&k, RES_MODEL, 48 * MIB, 12, &id), 0);
	conn_close(&k);
	assert_true(test_broker_alive(&b2));
	assert_int_equal(test_broker_stop(&b2), 0);
	setenv("ACCELRING_ADDRESS", broker.address, 1);
}

/* 256 MiB registered over shared memory is not copied: the broker maps
 * the client's own memfd (the same inode in its /proc/PID/maps), and its
 * memory grows by the pages it touched (hashing: all of them), shared with
 * the client, with no private copy. Over a stream the bytes must be
 * copied into a memfd of the broker's: a different inode. */
static void test_resource_256m_no_copy(void **state)
{
	struct ar_res_piece pc = { .name = "model.pt", .size = 256 * MIB, .fd = -1 };
	long anon0, shm0, anon1, shm1;
	struct ar_res_file f;
	struct echo_rec rec;
	struct stat st;
	struct conn k;
	uint64_t bytes, id;
	uint8_t *p;
	int fd;

	(void)state;
	p = malloc(pc.size);
	assert_non_null(p);
	fill(p, pc.size, 42);
	pc.data = p;
	fd = ar_resource_pack(&pc, 1, &f, &bytes);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	conn_open(&k);
	broker_rss(&anon0, &shm0);
	assert_int_equal(ar_resource_register(k.q, k.sid, RES_MODEL, fd, bytes, &f, 1, &id), 0);
	broker_rss(&anon1, &shm1);
	print_message("broker RssAnon %+ld KiB, RssShmem %+ld KiB for a %llu MiB resource over %s\n",
		      anon1 - anon0, shm1 - shm0, (unsigned long long)(bytes / MIB),
		      test_transport());
	if (test_transport_is_shm()) {
		assert_true(broker_maps_inode(st.st_ino));
		/* No private copy: anonymous memory barely moves... */
		assert_true(anon1 - anon0 < 32 * 1024);
		/* ...and the shared pages it maps are the resource's once. */
		assert_true(shm1 - shm0 >= 200 * 1024);
		assert_true(shm1 - shm0 <= 256 * 1024 + 16 * 1024);
	} else {
		assert_false(broker_maps_inode(st.st_ino));
	}
	close(fd);
	assert_int_equal(echo_res(&k, id, &rec), 0);
	assert_true(rec.res_fnv == echo_fnv(p, pc.size));
	free(p);
	assert_int_equal(ar_resource_unregister(k.q, k.sid, id), 0);
	conn_close(&k);
}

/* Many threads register and use resources at once, each its own and one
 * they share. */
struct worker_arg {
	unsigned seed;
	int bad;
};

#include <pthread.h>

static void *worker(void *p)
{
	struct worker_arg *a = p;
	struct echo_rec rec;
	struct conn k;
	uint64_t mine, shared;

	conn_open(&k);
	for (int i = 0; i < 20; i++) {
		a->bad += reg1(&k, RES_DATA, 20000 + a->seed, a->seed, &mine) != 0;
		a->bad += reg1(&k, RES_DATA, 30000, 77, &shared) != 0;
		a->bad += echo_res(&k, mine, &rec) != 0 || rec.res_size != 20000 + a->seed;
		a->bad += echo_res(&k, shared, &rec) != 0 || rec.res_size != 30000;
		a->bad += ar_resource_unregister(k.q, k.sid, mine) != 0;
		a->bad += ar_resource_unregister(k.q, k.sid, shared) != 0;
	}
	conn_close(&k);
	return NULL;
}

static void test_resource_concurrent(void **state)
{
	pthread_t t[4];
	struct worker_arg a[4];

	(void)state;
	for (unsigned i = 0; i < 4; i++) {
		a[i] = (struct worker_arg){ .seed = i + 1 };
		assert_int_equal(pthread_create(&t[i], NULL, worker, &a[i]), 0);
	}
	for (unsigned i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(a[i].bad, 0);
	}
}

/* ---- by hand: what a hostile client may send ---- */

/* A ResourceOpen with fds on a raw shared-memory connection, and the
 * broker's answer (its status; why into why). */
static int raw_res_open(struct raw *r, uint32_t token, uint64_t bytes, const int *fds,
			int nfds, char *why, size_t cap)
{
	static uint64_t buf[RAW_MAX_FRAME / 8];
	struct ar_wire_msg m = { .type = AR_WIRE_RES_OPEN };

	m.u.res_open.token = token;
	m.u.res_open.bytes = bytes;
	send_frame(r->sock, &m, fds, nfds);
	stream_read(r->sock, &m, buf, sizeof(buf));
	assert_int_equal(m.type, AR_WIRE_COMPLETION);
	assert_int_equal(m.u.completion.id, token);
	snprintf(why, cap, "%s", m.u.completion.message ? m.u.completion.message : "");
	return m.u.completion.status;
}

static int memfd_of(size_t n, bool populate, unsigned seals)
{
	int fd = memfd_create("hostile", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	uint8_t page[4096];

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)n), 0);
	memset(page, 0x5a, sizeof(page));
	for (size_t off = 0; populate && off < n; off += sizeof(page))
		assert_true(pwrite(fd, page, n - off < sizeof(page) ? n - off : sizeof(page),
				   (off_t)off) > 0);
	if (seals)
		assert_int_equal(fcntl(fd, F_ADD_SEALS, seals), 0);
	return fd;
}

static int raw_register(struct raw *r, uint32_t sid, uint32_t token, uint64_t len,
			const char *name)
{
	struct ar_wire_msg m = { .type = AR_WIRE_RES_REGISTER };
	struct ar_wire_completion c;

	m.u.res_register = (struct ar_wire_res_register){
		.id = 5, .session = sid, .token = token, .type = RES_DATA, .nr_files = 1 };
	m.u.res_register.files[0] = (struct ar_wire_file){ .name = name, .len = len };
	raw_send(r, &m);
	c = raw_complete(r);
	assert_int_equal(c.id, 5);
	return c.status;
}

/* Every fd a client may pass that is not a sealed, full memfd of the
 * size it announced is refused with the reason, and the connection goes
 * on; the upload slots are bounded. */
static void test_resource_hostile_fds_refused(void **state)
{
	struct raw r;
	char why[256];
	uint32_t sid;
	int fd, p[2];

	(void)state;
	if (!test_transport_is_shm())
		skip();
	raw_open(&r);
	sid = raw_session(&r);
	/* Not sealed, or sealed only against writes. */
	fd = memfd_of(8192, true, 0);
	assert_int_equal(raw_res_open(&r, 1, 8192, &fd, 1, why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "sealed"));
	close(fd);
	fd = memfd_of(8192, true, F_SEAL_WRITE);
	assert_int_equal(raw_res_open(&r, 1, 8192, &fd, 1, why, sizeof(why)), -EPERM);
	close(fd);
	/* A pipe, and a socket. */
	assert_int_equal(pipe(p), 0);
	assert_int_equal(raw_res_open(&r, 1, 8192, &p[0], 1, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "not a memfd"));
	close(p[0]);
	close(p[1]);
	assert_int_equal(raw_res_open(&r, 1, 8192, &r.sock, 1, why, sizeof(why)), -EINVAL);
	/* Sparse: the broker would fault its pages in. */
	fd = memfd_of(64 * 4096, false, SEALS);
	assert_int_equal(raw_res_open(&r, 1, 64 * 4096, &fd, 1, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "sparse"));
	close(fd);
	/* A size other than the memfd's, none, or beyond the quota. */
	fd = memfd_of(8192, true, SEALS);
	assert_int_equal(raw_res_open(&r, 1, 4096, &fd, 1, why, sizeof(why)), -EINVAL);
	assert_int_equal(raw_res_open(&r, 1, 0, &fd, 1, why, sizeof(why)), -EINVAL);
	assert_int_equal(raw_res_open(&r, 1, 1ull << 50, &fd, 1, why, sizeof(why)), -EDQUOT);
	/* No fd at all. */
	assert_int_equal(raw_res_open(&r, 1, 8192, NULL, 0, why, sizeof(why)), -EINVAL);
	/* Registering what was never uploaded. */
	assert_int_equal(raw_register(&r, sid, 99, 10, "x"), -EINVAL);
	/* Four uploads wait at most; the fifth is refused, the token reused
	 * too. Registering one frees its slot. */
	for (uint32_t t = 1; t <= 4; t++)
		assert_int_equal(raw_res_open(&r, t, 8192, &fd, 1, why, sizeof(why)), 0);
	assert_int_equal(raw_res_open(&r, 5, 8192, &fd, 1, why, sizeof(why)), -EBUSY);
	assert_int_equal(raw_register(&r, sid, 2, 8192, "a"), 0);
	assert_int_equal(raw_res_open(&r, 1, 8192, &fd, 1, why, sizeof(why)), -EBUSY);
	assert_int_equal(raw_res_open(&r, 5, 8192, &fd, 1, why, sizeof(why)), 0);
	/* A name that is a path, on a real upload: refused, slot freed. */
	assert_int_equal(raw_register(&r, sid, 3, 8192, "../../etc/passwd"), -EINVAL);
	close(fd);
	assert_true(test_broker_alive(&broker));
	raw_close(&r);
	served_at(broker.address);
}

/* Two fds with one frame, or a frame that is not a ResourceOpen, end the
 * connection; nobody else notices. */
static void test_resource_hostile_socket_disconnects(void **state)
{
	struct ar_wire_msg m = { .type = AR_WIRE_RES_OPEN };
	int fds[2];
	struct raw r;

	(void)state;
	if (!test_transport_is_shm())
		skip();
	fds[0] = memfd_of(4096, true, SEALS);
	fds[1] = memfd_of(4096, true, SEALS);
	raw_open(&r);
	m.u.res_open.token = 1;
	m.u.res_open.bytes = 4096;
	send_frame(r.sock, &m, fds, 2);
	assert_true(closed_by_broker(r.sock));
	raw_close(&r);
	raw_open(&r);
	m = (struct ar_wire_msg){ .type = AR_WIRE_SESSION_OPEN };
	send_frame(r.sock, &m, NULL, 0);
	assert_true(closed_by_broker(r.sock));
	raw_close(&r);
	raw_open(&r);
	{
		uint8_t junk[64];

		memset(junk, 0xee, sizeof(junk));
		ar_frame_put_len(junk, 60);
		assert_int_equal(send(r.sock, junk, sizeof(junk), MSG_NOSIGNAL), 64);
	}
	assert_true(closed_by_broker(r.sock));
	raw_close(&r);
	close(fds[0]);
	close(fds[1]);
	assert_true(test_broker_alive(&broker));
	served_at(broker.address);
}

/* Over a stream: data out of order, past the size, or for a token never
 * opened ends the connection; a refused ResourceOpen is answered at its
 * ResourceRegister. */
static void test_resource_hostile_stream(void **state)
{
	struct ar_wire_msg m;
	uint8_t bytes[1000];
	uint64_t v;
	uint32_t sid;
	int fd;

	(void)state;
	if (!test_transport_is_shm())
		skip();
	memset(bytes, 1, sizeof(bytes));
	/* In order, then the register: fine. */
	fd = stream_open(false);
	sid = stream_session(fd);
	m = (struct ar_wire_msg){ .type = AR_WIRE_RES_OPEN };
	m.u.res_open = (struct ar_wire_res_open){ .token = 3, .bytes = 2000 };
	stream_send(fd, &m);
	m = (struct ar_wire_msg){ .type = AR_WIRE_RES_DATA };
	m.u.res_data = (struct ar_wire_res_data){ .token = 3, .off = 0, .bytes = bytes,
						  .len = 1000 };
	stream_send(fd, &m);
	/* Registering a half-filled upload: EINVAL, the connection stays. */
	m = (struct ar_wire_msg){ .type = AR_WIRE_RES_REGISTER };
	m.u.res_register = (struct ar_wire_res_register){ .id = 8, .session = sid, .token = 3,
							  .nr_files = 1 };
	m.u.res_register.files[0] = (struct ar_wire_file){ .name = "f", .len = 2000 };
	assert_int_equal(stream_call(fd, &m, NULL), -EINVAL);
	m = (struct ar_wire_msg){ .type = AR_WIRE_RES_DATA };
	m.u.res_data = (struct ar_wire_res_data){ .token = 3, .off = 1000, .bytes = bytes,
						  .len = 1000 };
	stream_send(fd, &m);
	m = (struct ar_wire_msg){ .type = AR_WIRE_RES_REGISTER };
	m.u.res_register = (struct ar_wire_res_register){ .id = 8, .session = sid, .token = 3,
							  .nr_files = 1 };
	m.u.res_register.files[0] = (struct ar_wire_file){ .name = "f", .len = 2000 };
	assert_int_equal(stream_call(fd, &m, &v), 0);
	assert_int_not_equal(v, 0);
	/* A refused open: its data is dropped, its register says why. */
	m = (struct ar_wire_msg){ .type = AR_WIRE_RES_OPEN };
	m.u.res_open = (struct ar_wire_res_open){ .token = 4, .bytes = 1ull << 50 };
	stream_send(fd, &m);
	m = (struct ar_wire_msg){ .type = AR_WIRE_RES_DATA };
	m.u.res_data = (struct ar_wire_res_data){ .token = 4, .off = 0, .bytes = bytes,
						  .len = 1000 };
	stream_send(fd, &m);
	m = (struct ar_wire_msg){ .type = AR_WIRE_RES_REGISTER };
	m.u.res_register = (struct ar_wire_res_register){ .id = 9, .session = sid, .token = 4,
							  .nr_files = 1 };
	m.u.res_register.files[0] = (struct ar_wire_file){ .name = "f", .len = 10 };
	assert_int_equal(stream_call(fd, &m, NULL), -EDQUOT);
	assert_non_null(m.u.completion.message);
	assert_non_null(strstr(m.u.completion.message, "tenant-resource-bytes"));
	assert_int_equal(stream_noop(fd, sid), 0);
	close(fd);

	/* Out of order. */
	fd = stream_open(false);
	m = (struct ar_wire_msg){ .type = AR_WIRE_RES_OPEN };
	m.u.res_open = (struct ar_wire_res_open){ .token = 1, .bytes = 2000 };
	stream_send(fd, &m);
	m = (struct ar_wire_msg){ .type = AR_WIRE_RES_DATA };
	m.u.res_data = (struct ar_wire_res_data){ .token = 1, .off = 500, .bytes = bytes,
						  .len = 100 };
	stream_send(fd, &m);
	assert_true(closed_by_broker(fd));
	close(fd);
	/* Past the end. */
	fd = stream_open(false);
	m = (struct ar_wire_msg){ .type = AR_WIRE_RES_OPEN };
	m.u.res_open = (struct ar_wire_res_open){ .token = 1, .bytes = 500 };
	stream_send(fd, &m);
	m = (struct ar_wire_msg){ .type = AR_WIRE_RES_DATA };
	m.u.res_data = (struct ar_wire_res_data){ .token = 1, .off = 0, .bytes = bytes,
						  .len = 1000 };
	stream_send(fd, &m);
	assert_true(closed_by_broker(fd));
	close(fd);
	/* Never opened. */
	fd = stream_open(false);
	m = (struct ar_wire_msg){ .type = AR_WIRE_RES_DATA };
	m.u.res_data = (struct ar_wire_res_data){ .token = 77, .off = 0, .bytes = bytes,
						  .len = 10 };
	stream_send(fd, &m);
	assert_true(closed_by_broker(fd));
	close(fd);
	assert_true(test_broker_alive(&broker));
	served_at(broker.address);
}

/* Another tenant (uid) never sees ours: identical content is its own
 * resource, and our ids name nothing for it. */
static void test_resource_tenants_apart(void **state)
{
	struct conn k;
	uint64_t mine;
	int pfd[2], st;
	pid_t pid;

	(void)state;
	/* Over TCP every local user is the one tenant "tcp 127.0.0.1". */
	if (geteuid() != 0 || !strcmp(test_transport(), "tcp"))
		skip();
	conn_open(&k);
	assert_int_equal(reg1(&k, RES_DATA, 40000, 21, &mine), 0);
	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	if (pid == 0) {
		struct conn o;
		struct echo_rec rec;
		uint64_t theirs = 0;
		int bad = 0;

		close(pfd[0]);
		if (setgid(BYSTANDER_UID) || setuid(BYSTANDER_UID))
			_exit(2);
		conn_open(&o);
		bad += ar_resource_attach(o.q, o.sid, mine) != -ENOENT;
		bad += echo_res(&o, mine, &rec) != -EPERM;
		bad += ar_resource_unregister(o.q, o.sid, mine) != -ENOENT;
		bad += reg1(&o, RES_DATA, 40000, 21, &theirs) != 0;
		bad += theirs == mine;
		_exit(bad ? 1 : 0);
	}
	close(pfd[1]);
	close(pfd[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	/* Ours is untouched. */
	{
		struct echo_rec rec;

		assert_int_equal(echo_res(&k, mine, &rec), 0);
		assert_int_equal(rec.res_size, 40000);
	}
	conn_close(&k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resource_reaches_plugin),
		cmocka_unit_test(test_resource_stored_once_freed_last),
		cmocka_unit_test(test_resource_names_and_ranges_checked),
		cmocka_unit_test(test_resource_quota),
		cmocka_unit_test(test_resource_freed_after_kill),
		cmocka_unit_test(test_resource_256m_no_copy),
		cmocka_unit_test(test_resource_concurrent),
		cmocka_unit_test(test_resource_hostile_fds_refused),
		cmocka_unit_test(test_resource_hostile_socket_disconnects),
		cmocka_unit_test(test_resource_hostile_stream),
		cmocka_unit_test(test_resource_tenants_apart),
	};

	if (getenv("ACCELRING_TEST_FILTER"))
		cmocka_set_test_filter(getenv("ACCELRING_TEST_FILTER"));
	return cmocka_run_group_tests_name("broker_resource", tests, setup, teardown);
}

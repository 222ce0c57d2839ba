/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_resource - what registering a resource and running exec through
 * accelringd cost, against baselines measured in the same run:
 *   - registration at each size of --sizes (MiB): ar_resource_register of
 *     a memfd packed once beforehand, then ar_resource_unregister, so that
 *     each run is a full registration (identical content is stored once
 *     only while a first copy is registered); over shared memory (the
 *     sealed memfd passed on the socket, mapped by the broker), TCP
 *     loopback and a UNIX stream socket (the bytes in ResourceData
 *     frames). Baselines: the same bytes copied over a plain UNIX stream
 *     socket into a receiver's buffer, acknowledged with one byte (what a
 *     protobuf-over-socket RPC such as vAccel's agent does at the least),
 *     and the same followed by SHA-256 of the bytes received (the broker
 *     hashes every file of every registration). Packing (ar_resource_pack,
 *     which a vAccel program pays once per registration) is a row too.
 *   - exec of a function that does nothing (bench_exec_noop in
 *     libbench-exec.so, on the broker's exec-allow list): vaccel_exec, and
 *     ar_submit_generic + ar_wait per transport, against the same call in
 *     process through a function pointer from one dlopen/dlsym, and
 *     against dlopen + dlsym + call + dlclose on each call. The broker rows
 *     are marked skipped when the exec plugin is not built.
 * Everything runs unpinned: a registration keeps the broker's loop thread
 * and a worker busy as well as the client.
 *
 * usage: bench_resource [--json] [--sizes MiB,...] [--runs N] [--iters N]
 *   --sizes  the registration sizes (default 1,64,256)
 *   --runs   at most this many registrations per row (default 20; a size
 *            of S MiB gets 1024/S of them, at least 5)
 *   --iters  exec round trips per row (default 20000; the in-process
 *            rows take a tenth of it in samples)
 */
#include <dlfcn.h>
#include <errno.h>
#include <getopt.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <accelring/client.h>
#include <accelring/optable.h>
#include <vaccel.h>

#include "bench_common.h"
#include "broker_harness.h"

#ifndef AR_BENCH_EXEC_LIB
#error "AR_BENCH_EXEC_LIB must name libbench-exec.so"
#endif

#define MIB (1ull << 20)
#define MAX_SIZES 8
#define EXEC_SYM "bench_exec_noop"
#define EXEC_PLUGIN AR_PLUGIN_BUILD_DIR "/libaccelring-exec.so"
#define FN_BATCH 1000u	/* in-process calls per timed sample */

typedef int (*exec_fn)(struct vaccel_arg *, size_t, struct vaccel_arg *, size_t);

static uint32_t sizes[MAX_SIZES] = { 1, 64, 256 }, nsizes = 3, max_runs = 20;

__attribute__((format(printf, 1, 2), noreturn)) static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "bench_resource: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	/* The harness's atexit handler stops every broker still running and
	 * removes its directory; the kernel closes the memfds. */
	exit(1);
}

/* Registrations of a resource of mib MiB: 1024 / mib, within [5, runs]. */
static uint32_t runs_for(uint32_t mib)
{
	uint32_t n = 1024 / mib;

	if (n < 5)
		n = 5;
	return n < max_runs ? n : max_runs;
}

/* A row from n samples; p99.9 only where there are enough of them. */
__attribute__((format(printf, 5, 6))) static struct result *
row(const char *name, uint64_t *s, size_t n, double scale, const char *fmt, ...)
{
	struct result *r = add(name, s, n, scale);
	va_list ap;

	if (n < 1000)
		r->p999 = -1;
	snprintf(r->baseline, sizeof(r->baseline), "%s", name);
	r->ratio = 1.0;
	va_start(ap, fmt);
	vsnprintf(r->note, sizeof(r->note), fmt, ap);
	va_end(ap);
	return r;
}

static void against(struct result *r, const struct result *base)
{
	r->ratio = r->p50 / base->p50;
	snprintf(r->baseline, sizeof(r->baseline), "%s", base->name);
}

static void skipped(const char *name, const char *why)
{
	struct result *r = &results[nresults++];

	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", name);
	snprintf(r->baseline, sizeof(r->baseline), "%s", name);
	snprintf(r->note, sizeof(r->note), "skipped: %s", why);
	r->skipped = true;
}

/* How a client reaches the broker. */
enum transport { T_SHM, T_TCP, T_UNIX_STREAM, T_MAX };
static const char *const tname[T_MAX] = { "shm", "tcp", "unix_stream" };

static void session_on(const struct test_broker *b, enum transport t,
		       struct ar_client **c, struct ar_queue **q, uint32_t *sid)
{
	char addr[256];

	if (t == T_TCP)
		snprintf(addr, sizeof(addr), "tcp://%s", b->tcp);
	else if (t == T_UNIX_STREAM)
		snprintf(addr, sizeof(addr), "unix-stream://%s", b->sock);
	else
		snprintf(addr, sizeof(addr), "unix://%s", b->sock);
	if (ar_client_connect(addr, c))
		die("cannot connect to %s", addr);
	if (ar_queue_get(*c, q) || ar_session_open(*q, 0, sid))
		die("cannot open a session over %s: %s", addr, ar_client_error(*c));
}

static void start(struct test_broker *b, const char *const *extra)
{
	const char *args[16] = { "--tcp=127.0.0.1:0", "--allow-peers=127.0.0.1" };
	int n = 2;

	for (int i = 0; extra && extra[i] && n < 15; i++)
		args[n++] = extra[i];
	args[n] = NULL;
	if (test_broker_start(b, args))
		die("cannot start accelringd");
}

/* ---- registration ---- */

static void fill(uint8_t *p, uint64_t bytes)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;

	/* Incompressible, and not all alike: no file system or hash shortcut. */
	for (uint64_t i = 0; i + 8 <= bytes; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(p + i, &x, 8);
	}
}

static int pack(const uint8_t *data, uint64_t bytes, struct ar_res_file *f, uint64_t *packed)
{
	struct ar_res_piece pc = { .name = "blob.bin", .data = data, .size = bytes, .fd = -1 };

	return ar_resource_pack(&pc, 1, f, packed);
}

static struct result *bench_pack(const uint8_t *data, uint64_t bytes, uint32_t n,
				 const char *name)
{
	uint64_t *s = calloc(n, sizeof(*s)), packed;
	struct ar_res_file f;
	struct result *r;

	if (!s)
		die("out of memory");
	/* One warm-up, then n timed: each a new memfd, filled, sealed. */
	for (uint32_t i = 0; i <= n; i++) {
		uint64_t t0 = now_ns();
		int fd = pack(data, bytes, &f, &packed);

		if (fd < 0)
			die("ar_resource_pack: %s", strerror(-fd));
		if (i)
			s[i - 1] = now_ns() - t0;
		close(fd);
	}
	r = row(name, s, n, 1.0, "ar_resource_pack from memory: memfd_create, fallocate, "
		"pwrite, seal; %u runs%s", n, n <= 51 ? ", p99 = max" : "");
	free(s);
	return r;
}

/* The baseline's receiver: reads each message whole into its own buffer
 * (allocated and faulted in once, the cheapest case), hashes it if asked,
 * and acknowledges it with one byte. */
struct sink {
	int fd;
	uint8_t *buf;
	uint64_t bytes;
	uint32_t msgs;
	bool hash;
};

static void *sink_main(void *arg)
{
	struct sink *k = arg;
	uint8_t md[32], ack = 1;
	unsigned int mdlen;

	for (uint32_t m = 0; m < k->msgs; m++) {
		for (uint64_t got = 0; got < k->bytes;) {
			ssize_t n = read(k->fd, k->buf + got, k->bytes - got);

			if (n <= 0)
				die("baseline receiver: %s", n ? strerror(errno) : "EOF");
			got += (uint64_t)n;
		}
		if (k->hash && (!EVP_Digest(k->buf, k->bytes, md, &mdlen, EVP_sha256(), NULL) ||
				mdlen != 32))
			die("baseline receiver: EVP_Digest failed");
		if (write(k->fd, &ack, 1) != 1)
			die("baseline receiver: cannot acknowledge");
	}
	return NULL;
}

static struct result *bench_copy(const uint8_t *data, uint64_t bytes, uint32_t n, bool hash,
				 const char *name)
{
	uint64_t *s = calloc(n, sizeof(*s));
	struct sink k = { .bytes = bytes, .msgs = n + 1, .hash = hash };
	struct result *r;
	pthread_t th;
	int sv[2];
	uint8_t ack;

	k.buf = malloc(bytes);
	if (!s || !k.buf || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		die("baseline: %s", strerror(errno ? errno : ENOMEM));
	memset(k.buf, 0, bytes);
	k.fd = sv[1];
	if (pthread_create(&th, NULL, sink_main, &k))
		die("baseline: cannot start its receiver");
	for (uint32_t i = 0; i <= n; i++) {
		uint64_t t0 = now_ns();

		for (uint64_t off = 0; off < bytes;) {
			ssize_t w = write(sv[0], data + off, bytes - off);

			if (w <= 0)
				die("baseline: write: %s", strerror(errno));
			off += (uint64_t)w;
		}
		if (read(sv[0], &ack, 1) != 1)
			die("baseline: no acknowledgement");
		if (i)
			s[i - 1] = now_ns() - t0;
	}
	pthread_join(th, NULL);
	close(sv[0]);
	close(sv[1]);
	free(k.buf);
	r = row(name, s, n, 1.0, "%s a UNIX stream socket into a reused buffer, "
		"1-byte ack, receiver thread; %u runs%s",
		hash ? "copied and SHA-256d, over" : "copied over", n, n <= 51 ? ", p99 = max" : "");
	free(s);
	return r;
}

/* Registrations of memfd over transport t, each unregistered after:
 * register times into reg[], unregister times into unreg[]. */
static void register_runs(const struct test_broker *b, enum transport t, int memfd,
			  uint64_t bytes, const struct ar_res_file *f, uint32_t n,
			  uint64_t *reg, uint64_t *unreg)
{
	struct ar_client *c;
	struct ar_queue *q;
	uint32_t sid;

	session_on(b, t, &c, &q, &sid);
	for (uint32_t i = 0; i <= n; i++) {
		uint64_t id = 0, t0 = now_ns(), t1, t2;
		int ret = ar_resource_register(q, sid, VACCEL_RESOURCE_DATA, memfd, bytes, f, 1,
					       &id);

		t1 = now_ns();
		if (ret)
			die("ar_resource_register over %s (%llu bytes): %s: %s", tname[t],
			    (unsigned long long)bytes, strerror(-ret), ar_queue_error(q));
		ret = ar_resource_unregister(q, sid, id);
		t2 = now_ns();
		if (ret)
			die("ar_resource_unregister over %s: %s: %s", tname[t], strerror(-ret),
			    ar_queue_error(q));
		/* The first is a warm-up. */
		if (i) {
			reg[i - 1] = t1 - t0;
			unreg[i - 1] = t2 - t1;
		}
	}
	ar_session_close(q, sid);
	ar_client_close(c);
	if (!test_broker_alive(b))
		die("accelringd died registering %llu bytes over %s",
		    (unsigned long long)bytes, tname[t]);
}

static void bench_size(const struct test_broker *b, uint32_t mib)
{
	uint64_t bytes = (uint64_t)mib * MIB, packed = 0;
	uint32_t n = runs_for(mib);
	uint64_t *reg = calloc(n, sizeof(*reg)), *unreg = calloc(n, sizeof(*unreg));
	uint8_t *data = malloc(bytes);
	struct result *copy, *copy_sha, *r;
	struct ar_res_file f;
	char name[64];
	int memfd;

	if (!reg || !unreg || !data)
		die("out of memory for %u MiB", mib);
	fill(data, bytes);
	snprintf(name, sizeof(name), "socket_copy_%uMiB", mib);
	copy = bench_copy(data, bytes, n, false, name);
	snprintf(name, sizeof(name), "socket_copy_sha256_%uMiB", mib);
	copy_sha = bench_copy(data, bytes, n, true, name);
	against(copy_sha, copy);
	snprintf(name, sizeof(name), "resource_pack_%uMiB", mib);
	against(bench_pack(data, bytes, n, name), copy);
	/* Packed once; every registration below ships this memfd. */
	memfd = pack(data, bytes, &f, &packed);
	if (memfd < 0)
		die("ar_resource_pack: %s", strerror(-memfd));
	for (int t = 0; t < T_MAX; t++) {
		struct result un;

		register_runs(b, (enum transport)t, memfd, bytes, &f, n, reg, unreg);
		set_pcts(&un, unreg, n, 1.0);
		snprintf(name, sizeof(name), "resource_register_%uMiB_%s", mib, tname[t]);
		r = row(name, reg, n, 1.0, "%s", "");
		against(r, copy_sha);
		snprintf(r->note, sizeof(r->note),
			 "%s; full registration each run (unregistered after: no dedup), "
			 "%u runs%s; unregister p50 %.2f ms; %.2fx plain copy",
			 t == T_SHM ? "memfd passed, broker maps it" :
				      "bytes in 1 MiB ResourceData frames", n,
			 n <= 51 ? ", p99 = max" : "", un.p50 / 1e6, r->p50 / copy->p50);
	}
	close(memfd);
	free(data);
	free(reg);
	free(unreg);
}

static void bench_resources(void)
{
	/* Generous, and said: tenant-resource-bytes (default 4 GiB) and, for
	 * stream uploads, listener-shm (default 2 GiB) bound what a tenant
	 * holds; one resource is held at a time here. max-frame is the
	 * default, written out: it sets the ResourceData frame size. */
	static const char *const extra[] = { "--tenant-resource-bytes=8G",
					     "--listener-shm=8G", "--tenant-resources=256",
					     "--max-frame=1M", NULL };
	struct test_broker b;
	int fds0, fds1;

	start(&b, extra);
	fds0 = test_broker_settled_fds(&b);
	for (uint32_t i = 0; i < nsizes; i++)
		bench_size(&b, sizes[i]);
	/* Healthy: alive, and every memfd and socket of ours given back once
	 * the clients are gone. */
	fds1 = test_broker_settled_fds(&b);
	if (!test_broker_alive(&b) || fds1 != fds0)
		die("accelringd is not as it was: %s, %d fds before, %d after",
		    test_broker_alive(&b) ? "alive" : "dead", fds0, fds1);
	fprintf(stderr, "bench_resource: broker healthy after the registrations: %d fds as "
		"before, RSS %ld KiB\n", fds1, test_broker_rss_kib(&b));
	if (test_broker_stop(&b))
		die("accelringd did not exit cleanly");
}

/* ---- exec ---- */

static struct result *bench_fnptr(uint32_t n)
{
	uint64_t *s = calloc(n, sizeof(*s));
	void *h = dlopen(AR_BENCH_EXEC_LIB, RTLD_NOW | RTLD_LOCAL);
	exec_fn volatile fn;
	struct result *r;

	if (!s || !h || !(fn = (exec_fn)dlsym(h, EXEC_SYM)))
		die("%s: %s", AR_BENCH_EXEC_LIB, dlerror());
	for (uint32_t i = 0; i < n + n / 10; i++) {
		uint64_t t0 = now_ns();

		for (uint32_t j = 0; j < FN_BATCH; j++)
			if (fn(NULL, 0, NULL, 0))
				die("%s returned non-zero", EXEC_SYM);
		if (i >= n / 10)
			s[i - n / 10] = now_ns() - t0;
	}
	dlclose(h);
	r = row("exec_fnptr_inprocess", s, n, FN_BATCH, "one dlopen/dlsym, then calls "
		"through the pointer; %u samples of %u calls", n, FN_BATCH);
	free(s);
	return r;
}

/* Nothing else holds the library: each dlopen loads and relocates it,
 * each dlclose unloads it. */
static struct result *bench_dlopen_each(uint32_t n)
{
	uint64_t *s = calloc(n, sizeof(*s));
	struct result *r;

	if (!s)
		die("out of memory");
	for (uint32_t i = 0; i < n + n / 10; i++) {
		uint64_t t0 = now_ns();
		void *h = dlopen(AR_BENCH_EXEC_LIB, RTLD_NOW | RTLD_LOCAL);
		exec_fn fn = h ? (exec_fn)dlsym(h, EXEC_SYM) : NULL;

		if (!fn || fn(NULL, 0, NULL, 0))
			die("%s: %s", AR_BENCH_EXEC_LIB, dlerror());
		dlclose(h);
		if (i >= n / 10)
			s[i - n / 10] = now_ns() - t0;
	}
	r = row("exec_dlopen_each_inprocess", s, n, 1.0, "dlopen + dlsym + call + dlclose "
		"per call, library loaded and unloaded each time; %u runs", n);
	free(s);
	return r;
}

/* Round trips of a native op over t: exec of EXEC_SYM, or a noop. */
static struct result *bench_native(const struct test_broker *b, enum transport t, bool exec,
				   uint64_t n, const char *name, const char *note)
{
	uint64_t *s = calloc(n, sizeof(*s));
	struct ar_client *c;
	struct ar_queue *q;
	struct ar_cqe cqe;
	struct result *r;
	uint32_t sid;

	if (!s)
		die("out of memory");
	session_on(b, t, &c, &q, &sid);
	if (exec) {
		/* The exec plugin, not another, runs it: a symbol off the
		 * allowlist is refused (noop, for one, would take any). */
		if (ar_submit_generic(q, sid, AR_OP_EXEC, AR_BENCH_EXEC_LIB,
				      "bench_exec_not_allowed", NULL, 0, NULL, 0, 0) ||
		    ar_wait(q, &cqe, 1, 1, -1) != 1)
			die("exec over %s: no completion", tname[t]);
		if (!cqe.status)
			die("exec of a symbol off exec-allow succeeded over %s: the op does "
			    "not reach the exec plugin", tname[t]);
	}
	for (uint64_t i = 0; i < n + n / 10; i++) {
		uint64_t t0 = now_ns();
		int ret = exec ? ar_submit_generic(q, sid, AR_OP_EXEC, AR_BENCH_EXEC_LIB,
						   EXEC_SYM, NULL, 0, NULL, 0, i)
			       : ar_submit_noop(q, sid, i);

		if (ret || ar_wait(q, &cqe, 1, 1, -1) != 1 || cqe.status)
			die("%s over %s: %s: %s", exec ? "exec" : "noop", tname[t],
			    strerror(ret ? -ret : -cqe.status), ar_queue_error(q));
		if (i >= n / 10)
			s[i - n / 10] = now_ns() - t0;
	}
	ar_session_close(q, sid);
	ar_client_close(c);
	r = row(name, s, n, 1.0, "%s; %llu round trips", note, (unsigned long long)n);
	free(s);
	return r;
}

static struct result *bench_vaccel_exec(uint64_t n)
{
	uint64_t *s = calloc(n, sizeof(*s));
	struct vaccel_session sess;
	struct result *r;
	int ret;

	if (!s)
		die("out of memory");
	/* libvaccel connects to $ACCELRING_ADDRESS, which test_broker_start
	 * set to the exec broker's unix:// address. */
	ret = vaccel_session_init(&sess, 0);
	if (ret)
		die("vaccel_session_init: %d", ret);
	for (uint64_t i = 0; i < n + n / 10; i++) {
		uint64_t t0 = now_ns();

		ret = vaccel_exec(&sess, AR_BENCH_EXEC_LIB, EXEC_SYM, NULL, 0, NULL, 0);
		if (ret)
			die("vaccel_exec: %d", ret);
		if (i >= n / 10)
			s[i - n / 10] = now_ns() - t0;
	}
	vaccel_session_release(&sess);
	r = row("exec_vaccel_shm", s, n, 1.0, "vaccel_exec (libvaccel) over shared memory; "
		"%llu round trips", (unsigned long long)n);
	free(s);
	return r;
}

static void bench_exec(void)
{
	uint32_t n_in = (uint32_t)(bench.iters / 10 > 100 ? bench.iters / 10 : 100);
	struct result *fnptr, *dl, *r;
	char allow[512], why[160];
	struct test_broker b;
	int first;

	/* Before anything else has the library loaded. */
	dl = bench_dlopen_each(n_in);
	fnptr = bench_fnptr(n_in);
	against(dl, fnptr);
	if (access(EXEC_PLUGIN, R_OK)) {
		snprintf(why, sizeof(why), "exec plugin not built (no %s)", EXEC_PLUGIN);
		skipped("exec_vaccel_shm", why);
		for (int t = 0; t < T_MAX; t++) {
			char name[64];

			snprintf(name, sizeof(name), "exec_native_%s", tname[t]);
			skipped(name, why);
		}
		skipped("exec_broker_noop_shm", why);
		return;
	}
	snprintf(allow, sizeof(allow), "--exec-allow=%s:%s", AR_BENCH_EXEC_LIB, EXEC_SYM);
	{
		/* exec first: earlier plugins win, and noop implements every
		 * op, exec included. */
		const char *const extra[] = { "--plugins=exec:noop", allow, NULL };

		start(&b, extra);
	}
	first = nresults;
	bench_vaccel_exec(bench.iters);
	for (int t = 0; t < T_MAX; t++) {
		char name[64], note[96];

		snprintf(name, sizeof(name), "exec_native_%s", tname[t]);
		snprintf(note, sizeof(note), "ar_submit_generic(AR_OP_EXEC) + ar_wait over %s",
			 t == T_SHM ? "shared memory" : t == T_TCP ? "TCP loopback" :
			 "a UNIX stream socket");
		bench_native(&b, (enum transport)t, true, bench.iters, name, note);
	}
	bench_native(&b, T_SHM, false, bench.iters, "exec_broker_noop_shm",
		     "ar_submit_noop + ar_wait on the same broker: the transport's share");
	if (!test_broker_alive(&b))
		die("accelringd died running exec");
	if (test_broker_stop(&b))
		die("accelringd did not exit cleanly");
	for (int i = first; i < nresults; i++) {
		size_t len;

		r = &results[i];
		against(r, fnptr);
		len = strlen(r->note);
		snprintf(r->note + len, sizeof(r->note) - len, "; %.2fx dlopen each call",
			 r->p50 / dl->p50);
	}
}

static void usage(const char *argv0)
{
	fprintf(stderr, "usage: %s [--json] [--sizes MiB,...] [--runs N] [--iters N]\n",
		argv0);
	exit(2);
}

static bool parse_sizes(const char *s)
{
	char *end;

	nsizes = 0;
	do {
		unsigned long v = strtoul(s, &end, 10);

		if (end == s || !v || v > 4096 || nsizes == MAX_SIZES)
			return false;
		sizes[nsizes++] = (uint32_t)v;
		s = end + 1;
	} while (*end == ',');
	return !*end;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		BENCH_COMMON_OPTIONS,
		{ "sizes", required_argument, NULL, 's' },
		{ "runs", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	bench.iters = 20000;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (c == 's') {
			if (!parse_sizes(optarg))
				usage(argv[0]);
		} else if (c == 'r') {
			max_runs = (uint32_t)strtoul(optarg, NULL, 10);
			if (!max_runs || max_runs > 1000)
				usage(argv[0]);
		} else if (!bench_option(c, optarg)) {
			usage(argv[0]);
		}
	}
	if (!bench_setup())
		usage(argv[0]);
	/* Unpinned throughout (see the top). */
	unpin();
	bench.pinned = false;
	/* Our brokers speak every transport, whatever a test run asked of
	 * the harness. */
	unsetenv("ACCELRING_TEST_TRANSPORT");
	bench_resources();
	bench_exec();
	print_table("Registration rows: p50 of the runs (p99 = max with up to 51 runs);\n"
		    "ratio = p50 / the baseline's p50 (socket copy + SHA-256 for registrations).\n"
		    "exec rows: ratio = p50 / a call through a function pointer in process.");
	return 0;
}

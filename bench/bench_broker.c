/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_broker - what an op through accelringd costs, against baselines
 * measured in the same run:
 *   - the floor (one atomic each way between two pinned processes) and a
 *     plain UNIX-socket request/response of the same size, for the noop
 *     round trip (broker and client busy-polling, and spinning 20 us then
 *     sleeping);
 *   - the same socket pipelining batches of 64, for the async API's noop
 *     throughput from one client thread;
 *   - cblas_sgemm in process, for sgemm through the broker with its
 *     matrices in the shared data area (zero copy), at 64, 256 and 1024;
 *   - the stream transport (what VMs use), over TCP loopback and a UNIX
 *     stream socket, against shared memory on the same broker: noop round
 *     trip (and against a plain TCP / UNIX socket round trip), async noop
 *     throughput (against the same kind of socket pipelining batches of
 *     64) and sgemm at 256 and 1024, the matrices travelling in the frames.
 * --iters scales everything: round trips per row, async ops (20x), and the
 * sgemm blocks (32 of 62 runs, 32 of 12 and 256 of 3 at the default
 * 100000; the 1024 row's blocks, not its runs, scale).
 * A real broker is started for each configuration (tests/broker_harness.c).
 *
 * usage: bench_broker [--json] [--iters N] [--reps N] [--cpus A,B]
 */
#include <cblas.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <accelring/barrier.h>
#include <accelring/client.h>

#include "bench_common.h"
#include "broker_harness.h"

#define MSG 64		/* the socket baseline's message: a noop request's size */
#define TP_BATCH 256u

/* Pin every thread of the broker to the second CPU. */
static void pin_broker(pid_t pid)
{
	if (bench.pinned)
		pin_tasks(pid, bench.cpu[1]);
}

static void start(struct test_broker *b, const char *spin_us, bool pinned)
{
	char spin[64];
	/* TCP too: the stream rows use the same broker, from loopback. */
	const char *args[] = { spin, "--workers=1", "--tcp=127.0.0.1:0",
			       "--allow-peers=127.0.0.1", NULL };

	snprintf(spin, sizeof(spin), "--spin-us=%s", spin_us);
	if (test_broker_start(b, args)) {
		fprintf(stderr, "bench_broker: cannot start accelringd\n");
		exit(1);
	}
	if (pinned)
		pin_broker(b->pid);
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
	if (ar_client_connect(addr, c) || ar_queue_get(*c, q) ||
	    ar_session_open(*q, 0, sid)) {
		fprintf(stderr, "bench_broker: cannot open a session over %s\n", addr);
		exit(1);
	}
}

/* ---- baselines: a UNIX socket ---- */

static int sv[2];

static void sock_echo(void *arg)
{
	uint8_t buf[MSG * 64];
	uint64_t n = *(uint64_t *)arg;

	close(sv[0]);
	for (;;) {
		ssize_t got = read(sv[1], buf, sizeof(buf));

		if (got <= 0)
			break;
		if (write(sv[1], buf, (size_t)got) != got)
			break;
	}
	(void)n;
}

/* A connected TCP pair on loopback, no Nagle: what a TCP client sees. */
static void tcp_pair(int fds[2])
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) || listen(l, 1) ||
	    getsockname(l, (struct sockaddr *)&sa, &len))
		exit(1);
	fds[0] = socket(AF_INET, SOCK_STREAM, 0);
	if (fds[0] < 0 || connect(fds[0], (struct sockaddr *)&sa, sizeof(sa)))
		exit(1);
	fds[1] = accept(l, NULL, NULL);
	if (fds[1] < 0)
		exit(1);
	close(l);
	setsockopt(fds[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fds[1], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Pinned: the two sides on the two CPUs, like the shared-memory rows.
 * Unpinned: where the scheduler puts them, like the stream rows. */
static void bench_socket_rtt(bool tcp, bool pinned)
{
	uint64_t n = bench.iters, *s = calloc(n, sizeof(*s));
	uint8_t msg[MSG] = { 1 };
	char name[64];
	pid_t pid;

	if (tcp)
		tcp_pair(sv);
	else
		socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	if (pinned) {
		pid = spawn(sock_echo, &n);
	} else {
		unpin();
		pid = fork();
		if (pid == 0) {
			sock_echo(&n);
			_exit(0);
		}
	}
	close(sv[1]);
	for (uint64_t i = 0; i < n; i++) {
		uint64_t t0 = now_ns();
		size_t got = 0;

		if (write(sv[0], msg, MSG) != MSG)
			exit(1);
		while (got < MSG) {
			ssize_t r = read(sv[0], msg + got, MSG - got);

			if (r <= 0)
				exit(1);
			got += (size_t)r;
		}
		s[i] = now_ns() - t0;
	}
	close(sv[0]);
	reap(pid);
	pin(0);
	snprintf(name, sizeof(name), "%s_socket_rtt%s", tcp ? "tcp" : "unix",
		 pinned ? "" : "_unpinned");
	add(name, s + n / 10, n - n / 10, 1.0);
	snprintf(results[nresults - 1].note, sizeof(results[0].note),
		 "%d B request and response, blocking read", MSG);
	free(s);
}

/* Pipelined throughput of a plain socket of the kind the transport uses:
 * 64 messages per write, echoed. */
static void bench_socket_tp(bool tcp, uint64_t n)
{
	uint8_t buf[MSG * 64];
	uint64_t t0, dt;
	struct result *r;
	pid_t pid;

	if (tcp)
		tcp_pair(sv);
	else
		socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	pid = spawn(sock_echo, &n);
	close(sv[1]);
	memset(buf, 1, sizeof(buf));
	t0 = now_ns();
	for (uint64_t i = 0; i < n; i += 64) {
		size_t got = 0;

		if (write(sv[0], buf, sizeof(buf)) != (ssize_t)sizeof(buf))
			exit(1);
		while (got < sizeof(buf)) {
			ssize_t rd = read(sv[0], buf + got, sizeof(buf) - got);

			if (rd <= 0)
				exit(1);
			got += (size_t)rd;
		}
	}
	dt = now_ns() - t0;
	close(sv[0]);
	reap(pid);
	r = &results[nresults++];
	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s_socket_batch64", tcp ? "tcp" : "unix");
	r->ops = (double)n * 1e9 / (double)dt;
	r->p50 = r->p99 = r->p999 = (double)dt / (double)n;
	r->ratio = 1.0;
	memcpy(r->baseline, r->name, sizeof(r->baseline));
	snprintf(r->note, sizeof(r->note), "%d B messages, 64 per write, echoed", MSG);
}

/* ---- through the broker ---- */

static void bench_noop_rtt_on(enum transport t, bool pinned, const char *name,
			      const char *spin_us, const char *client_spin_ns,
			      const char *note)
{
	uint64_t n = bench.iters, *s = calloc(n, sizeof(*s));
	struct test_broker b;
	struct ar_client *c;
	struct ar_queue *q;
	struct ar_cqe cqe;
	uint32_t sid;

	setenv("ACCELRING_SPIN_NS", client_spin_ns, 1);
	if (!pinned)
		unpin();
	start(&b, spin_us, pinned);
	session_on(&b, t, &c, &q, &sid);
	for (uint64_t i = 0; i < n; i++) {
		uint64_t t0 = now_ns();

		if (ar_submit_noop(q, sid, i) || ar_wait(q, &cqe, 1, 1, -1) != 1 ||
		    cqe.status)
			exit(1);
		s[i] = now_ns() - t0;
	}
	ar_client_close(c);
	test_broker_stop(&b);
	pin(0);
	unsetenv("ACCELRING_SPIN_NS");
	add(name, s + n / 10, n - n / 10, 1.0);
	snprintf(results[nresults - 1].note, sizeof(results[0].note), "%s", note);
	free(s);
}

static void bench_noop_rtt(const char *name, const char *spin_us,
			   const char *client_spin_ns, const char *note)
{
	bench_noop_rtt_on(T_SHM, true, name, spin_us, client_spin_ns, note);
}

/* Async noop throughput from one client thread: up to 4 batches in
 * flight, a flush per batch. */
static void bench_noop_async(enum transport t, uint64_t n)
{
	struct ar_cqe cqes[TP_BATCH];
	struct test_broker b;
	struct ar_client *c;
	struct ar_queue *q;
	uint64_t sent = 0, done = 0, t0, dt;
	struct result *r;
	uint32_t sid;

	start(&b, "20", t == T_SHM);
	session_on(&b, t, &c, &q, &sid);
	t0 = now_ns();
	while (done < n) {
		while (sent < n && sent - done < 4 * TP_BATCH) {
			if (ar_submit_noop(q, sid, sent))
				break;
			sent++;
			if (sent % TP_BATCH == 0)
				ar_flush(q);
		}
		ar_flush(q);
		int got = ar_wait(q, cqes, TP_BATCH, 1, -1);

		if (got <= 0)
			exit(1);
		for (int i = 0; i < got; i++)
			if (cqes[i].status)
				exit(1);
		done += (uint64_t)got;
	}
	dt = now_ns() - t0;
	ar_client_close(c);
	test_broker_stop(&b);
	r = &results[nresults++];
	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "broker_noop_async%s%s", t == T_SHM ? "" : "_",
		 t == T_SHM ? "" : tname[t]);
	r->ops = (double)n * 1e9 / (double)dt;
	r->p50 = r->p99 = r->p999 = (double)dt / (double)n;
	snprintf(r->note, sizeof(r->note), "one client thread, %u in flight, flush per %u%s",
		 4 * TP_BATCH, TP_BATCH, t == T_SHM ? "" : ", unpinned");
}

/* Throughput row `row` against the baseline row `base`: baseline ops/s
 * over ours, below 1 when we are faster. */
static void tp_ratio(int row, int base)
{
	results[row].ratio = results[base].ops / results[row].ops;
	memcpy(results[row].baseline, results[base].name, sizeof(results[0].baseline));
}

#define SGEMM_PAUSE_US 300000u	/* OpenBLAS helpers park after ~0.1 s */
#define CI_RESAMPLES 2000

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median_of(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The median of v[0..n) (v is sorted) and its 95% confidence interval:
 * the 2.5th and 97.5th percentiles of the medians of CI_RESAMPLES
 * resamples of v with replacement (a fixed seed: a rerun of the same
 * figures gives the same interval). */
static double median_ci(double *v, int n, double *lo, double *hi)
{
	double *m = malloc(CI_RESAMPLES * sizeof(*m)), *r = malloc((size_t)n * sizeof(*r));
	uint64_t x = 0x9e3779b97f4a7c15ull;

	if (!m || !r)
		exit(1);
	for (int k = 0; k < CI_RESAMPLES; k++) {
		for (int i = 0; i < n; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;	/* xorshift64 */
			r[i] = v[x % (uint64_t)n];
		}
		m[k] = median_of(r, n);
	}
	qsort(m, CI_RESAMPLES, sizeof(*m), cmp_double);
	*lo = m[CI_RESAMPLES * 25 / 1000];
	*hi = m[CI_RESAMPLES * 975 / 1000 - 1];
	free(m);
	free(r);
	return median_of(v, n);
}

static double block_p50(uint64_t *s, uint64_t n)
{
	struct result r;

	set_pcts(&r, s, n, 1.0);
	return r.p50;
}

/* In-process sgemm: `n` timed runs (after one warm-up) into out[]. */
static void sgemm_local(int64_t d, uint32_t n, uint64_t *out)
{
	size_t bytes = (size_t)(d * d * 4);
	float *la = malloc(bytes), *lb = malloc(bytes), *lc = malloc(bytes);

	if (!la || !lb || !lc)
		exit(1);
	for (int64_t i = 0; i < d * d; i++)
		la[i] = (float)(i % 13) / 13, lb[i] = (float)(i % 7) / 7;
	for (uint32_t i = 0; i <= n; i++) {
		uint64_t t0 = now_ns();

		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)d, (int)d,
			    (int)d, 1, la, (int)d, lb, (int)d, 0, lc, (int)d);
		if (i)
			out[i - 1] = now_ns() - t0;
	}
	free(la);
	free(lb);
	free(lc);
}

/*
 * sgemm through the broker against cblas_sgemm in process, in alternating
 * blocks so that drift hits both alike. Each in-process block runs in a
 * fresh child: OpenBLAS's helper threads busy-wait for a long while after
 * a call (about 2^28 cycles), and if they lived in this process they would
 * spin against the broker's threads during its blocks (2 CPUs here). For
 * the same reason each in-process block starts after a pause in which the
 * broker's helpers go to sleep (the child's die with it). With `stream`,
 * each broker block also runs the same sgemm over TCP and a UNIX stream
 * socket (one client each, same broker), whose rows compare with shared
 * memory. A row's ratio is the median of the per-block ratios of p50s (a
 * run that lost a CPU to the hypervisor moves one block, not the row),
 * with its 95% confidence interval in the note: what the README can say
 * of the ratio. The blocks are many and short for that reason.
 */
static void bench_sgemm(int64_t d, uint32_t blocks, uint32_t per, bool stream)
{
	uint32_t nt = stream ? T_MAX : 1, iters = blocks * per;
	size_t bytes = (size_t)(d * d * 4);
	uint64_t *in = mmap(NULL, iters * sizeof(uint64_t), PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	uint64_t *br[T_MAX] = { 0 };
	double *ratio[T_MAX] = { 0 }, lo, hi;
	struct test_broker b;
	struct ar_client *c[T_MAX];
	struct ar_queue *q[T_MAX];
	struct ar_sgemm sg[T_MAX];
	struct ar_cqe cqe;
	struct result *r;
	uint32_t sid[T_MAX];
	char name[64];
	int st, shm_row = 0;

	if (in == MAP_FAILED)
		exit(1);
	/* Unpinned, the client too: OpenBLAS uses every CPU, in process and
	 * in the broker. */
	unpin();
	start(&b, "20", false);
	for (uint32_t t = 0; t < nt; t++) {
		float *a, *bb, *cc;

		br[t] = calloc(iters, sizeof(uint64_t));
		ratio[t] = calloc(blocks, sizeof(double));
		session_on(&b, (enum transport)t, &c[t], &q[t], &sid[t]);
		a = ar_buf_alloc(q[t], bytes);
		bb = ar_buf_alloc(q[t], bytes);
		cc = ar_buf_alloc(q[t], bytes);
		if (!br[t] || !ratio[t] || !a || !bb || !cc) {
			fprintf(stderr, "bench_broker: data area too small for %lld\n",
				(long long)d);
			exit(1);
		}
		for (int64_t i = 0; i < d * d; i++)
			a[i] = (float)(i % 13) / 13, bb[i] = (float)(i % 7) / 7;
		sg[t] = (struct ar_sgemm){ .m = d, .n = d, .k = d, .lda = d, .ldb = d,
					   .ldc = d, .alpha = 1, .beta = 0,
					   .a = a, .b = bb, .c = cc };
	}
	for (uint32_t blk = 0; blk < blocks; blk++) {
		uint64_t *local = in + blk * per;
		double p50[T_MAX], lp50;
		pid_t pid;

		usleep(SGEMM_PAUSE_US);
		pid = fork();

		if (pid == 0) {
			sgemm_local(d, per, local);
			_exit(0);
		}
		if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
		    WEXITSTATUS(st))
			exit(1);
		lp50 = block_p50(local, per);
		for (uint32_t t = 0; t < nt; t++) {
			uint64_t *o = br[t] + blk * per;

			/* One warm-up, then the timed runs. */
			for (uint32_t i = 0; i <= per; i++) {
				uint64_t t0 = now_ns();

				if (ar_submit_sgemm(q[t], sid[t], &sg[t], i) ||
				    ar_wait(q[t], &cqe, 1, 1, -1) != 1 || cqe.status)
					exit(1);
				if (i)
					o[i - 1] = now_ns() - t0;
			}
			p50[t] = block_p50(o, per);
			/* shm against in process; the stream rows against shm. */
			ratio[t][blk] = p50[t] / (t == T_SHM ? lp50 : p50[T_SHM]);
		}
	}
	snprintf(name, sizeof(name), "sgemm_%lld_inprocess", (long long)d);
	r = add(name, in, iters, 1.0);
	snprintf(r->baseline, sizeof(r->baseline), "%s", name);
	r->ratio = 1.0;
	snprintf(r->note, sizeof(r->note), "cblas_sgemm in a client process, %u blocks of %u runs",
		 blocks, per);
	for (uint32_t t = 0; t < nt; t++) {
		int base = t == T_SHM ? nresults - 1 : shm_row;

		if (t == T_SHM)
			snprintf(name, sizeof(name), "sgemm_%lld_broker", (long long)d);
		else
			snprintf(name, sizeof(name), "sgemm_%lld_%s", (long long)d, tname[t]);
		r = add(name, br[t], iters, 1.0);
		snprintf(r->baseline, sizeof(r->baseline), "%s", results[base].name);
		r->ratio = median_ci(ratio[t], (int)blocks, &lo, &hi);
		if (t == T_SHM)
			shm_row = nresults - 1;
		snprintf(r->note, sizeof(r->note),
			 "%s; median of %u per-block ratios, 95%% CI %.3f-%.3f",
			 t == T_SHM ? "blas plugin, zero copy" : "A, B and C travel in frames",
			 blocks, lo, hi);
		ar_client_close(c[t]);
		free(br[t]);
		free(ratio[t]);
	}
	test_broker_stop(&b);
	pin(0);
	munmap(in, iters * sizeof(uint64_t));
}

/* ---- the floor and the noop in alternating blocks ---- */

/* The floor's peer for the interleaved rows: pinned to the second CPU,
 * asleep on a pipe between blocks (the brokers take that CPU then), one
 * round trip per ping within a block. */
static struct shared *il_shm;
static int il_pipe[2];

static void il_floor_peer(void *arg)
{
	uint64_t m, seq = 0;

	(void)arg;
	close(il_pipe[1]);
	while (read(il_pipe[0], &m, sizeof(m)) == (ssize_t)sizeof(m) && m) {
		for (uint64_t i = 1; i <= m; i++) {
			while (ar_load_acquire(&il_shm->ping) != seq + i)
				ar_cpu_relax();
			ar_store_release(&il_shm->pong, seq + i);
		}
		seq += m;
	}
}

/* "cpu N: socket S core C (siblings L)" for the two pinned CPUs, from
 * sysfs: what lscpu shows, and what moves a floor between runs. */
static void cpu_topology(char *out, size_t cap)
{
	size_t len = 0;

	out[0] = '\0';
	for (int k = 0; k < 2; k++) {
		static const char *const f[3] = { "physical_package_id", "core_id",
						  "thread_siblings_list" };
		char v[3][32];

		for (int j = 0; j < 3; j++) {
			char path[128];
			FILE *fp;

			snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/topology/%s",
				 bench.cpu[k], f[j]);
			snprintf(v[j], sizeof(v[j]), "?");
			if ((fp = fopen(path, "r"))) {
				if (fscanf(fp, "%31s", v[j]) != 1)
					snprintf(v[j], sizeof(v[j]), "?");
				fclose(fp);
			}
		}
		len += (size_t)snprintf(out + len, cap - len, "%scpu %d: socket %s core %s (siblings %s)",
					k ? ", " : "", bench.cpu[k], v[0], v[1], v[2]);
		if (len >= cap)
			break;
	}
}

/*
 * The floor, the busy-polled noop and the default noop in alternating
 * blocks on the same two pinned CPUs: a floor measured minutes apart from
 * the noop moves with where the hypervisor placed the vCPUs, so each
 * block's noop is divided by the floor of its own round. A broker not in
 * its block is stopped (SIGSTOP: the busy-polling one would take the
 * second CPU from the others); the floor's peer sleeps on a pipe. Rows:
 * the pooled percentiles of each kind, ratio = the median of the
 * per-round ratios, the note their range and the noop's median cost
 * above the floor in ns (the software's share, which placement moves
 * less).
 */
#define IL_ROUNDS 9
static void bench_interleaved(void)
{
	uint64_t per = bench.iters / 10 < 1000 ? 1000 : bench.iters / 10;
	uint64_t *s[3], seq = 0;
	double ratio[2][IL_ROUNDS], above[2][IL_ROUNDS], lo[2], hi[2];
	static const char *const name[3] = { "floor_blocks",
					      "broker_noop_poll_blocks",
					      "broker_noop_default_blocks" };
	struct test_broker b[2];
	struct ar_client *c[2];
	struct ar_queue *q[2];
	uint32_t sid[2];
	char topo[256];
	pid_t peer;

	if (!bench.pinned) {
		/* Blocks on the same two CPUs need two CPUs to pin to. */
		for (int k = 0; k < 3; k++) {
			struct result *row = &results[nresults++];

			memset(row, 0, sizeof(*row));
			snprintf(row->name, sizeof(row->name), "%s", name[k]);
			row->skipped = true;
			snprintf(row->note, sizeof(row->note), "not pinned: needs two CPUs");
		}
		return;
	}
	for (int k = 0; k < 3; k++)
		s[k] = calloc(per * IL_ROUNDS, sizeof(uint64_t));
	il_shm = shm_new(0);
	if (pipe(il_pipe)) {
		perror("pipe");
		exit(1);
	}
	peer = spawn(il_floor_peer, NULL);
	close(il_pipe[0]);
	/* The two brokers of bench_noop_rtt: busy-poll, and the defaults. */
	setenv("ACCELRING_SPIN_NS", "10000000000", 1);
	start(&b[0], "10000000", true);
	session_on(&b[0], T_SHM, &c[0], &q[0], &sid[0]);
	kill(b[0].pid, SIGSTOP);
	setenv("ACCELRING_SPIN_NS", "20000", 1);
	start(&b[1], "20", true);
	session_on(&b[1], T_SHM, &c[1], &q[1], &sid[1]);
	unsetenv("ACCELRING_SPIN_NS");
	for (int r = 0; r < IL_ROUNDS; r++) {
		uint64_t *f = s[0] + r * per;
		double fp50;

		if (write(il_pipe[1], &per, sizeof(per)) != (ssize_t)sizeof(per))
			exit(1);
		for (uint64_t i = 1; i <= per; i++) {
			uint64_t t0 = now_ns();

			ar_store_release(&il_shm->ping, seq + i);
			while (ar_load_acquire(&il_shm->pong) != seq + i)
				ar_cpu_relax();
			f[i - 1] = now_ns() - t0;
		}
		seq += per;
		fp50 = block_p50(f, per);
		for (int k = 0; k < 2; k++) {
			uint64_t *o = s[1 + k] + r * per;
			struct ar_cqe cqe;
			double p50;

			if (k == 0)
				kill(b[0].pid, SIGCONT);
			/* A first tenth of each block warms what the pause
			 * cooled (caches, the other side's spin); not kept. */
			for (uint64_t i = 0; i < per + per / 10; i++) {
				uint64_t t0 = now_ns();

				if (ar_submit_noop(q[k], sid[k], i) ||
				    ar_wait(q[k], &cqe, 1, 1, -1) != 1 || cqe.status)
					exit(1);
				if (i >= per / 10)
					o[i - per / 10] = now_ns() - t0;
			}
			if (k == 0)
				kill(b[0].pid, SIGSTOP);
			p50 = block_p50(o, per);
			ratio[k][r] = p50 / fp50;
			above[k][r] = p50 - fp50;
		}
	}
	seq = 0;
	if (write(il_pipe[1], &seq, sizeof(seq)) != (ssize_t)sizeof(seq))
		exit(1);
	close(il_pipe[1]);
	reap(peer);
	kill(b[0].pid, SIGCONT);
	for (int k = 0; k < 2; k++) {
		ar_client_close(c[k]);
		test_broker_stop(&b[k]);
	}
	munmap(il_shm, sizeof(struct shared));
	cpu_topology(topo, sizeof(topo));
	add(name[0], s[0], per * IL_ROUNDS, 1.0);
	results[nresults - 1].ratio = 1.0;
	snprintf(results[nresults - 1].baseline, sizeof(results[0].baseline), "%s", name[0]);
	snprintf(results[nresults - 1].note, sizeof(results[0].note), "%d rounds of %llu; %s",
		 IL_ROUNDS, (unsigned long long)per, topo);
	for (int k = 0; k < 2; k++) {
		struct result *row;

		lo[k] = hi[k] = ratio[k][0];
		for (int r = 1; r < IL_ROUNDS; r++) {
			lo[k] = ratio[k][r] < lo[k] ? ratio[k][r] : lo[k];
			hi[k] = ratio[k][r] > hi[k] ? ratio[k][r] : hi[k];
		}
		row = add(name[1 + k], s[1 + k], per * IL_ROUNDS, 1.0);
		row->ratio = median_of(ratio[k], IL_ROUNDS);
		snprintf(row->baseline, sizeof(row->baseline), "%s", name[0]);
		snprintf(row->note, sizeof(row->note),
			 "median of %d per-round ratios (range %.2f-%.2f); %.0f ns above the floor",
			 IL_ROUNDS, lo[k], hi[k], median_of(above[k], IL_ROUNDS));
	}
	for (int k = 0; k < 3; k++)
		free(s[k]);
}

static void usage(const char *argv0)
{
	fprintf(stderr, "usage: %s [--json] [--iters N] [--reps N] [--cpus A,B]\n", argv0);
	exit(2);
}

static void latency_ratios(int from, int base)
{
	for (int i = from; i < nresults; i++) {
		results[i].ratio = results[i].p50 / results[base].p50;
		snprintf(results[i].baseline, sizeof(results[i].baseline), "%s",
			 results[base].name);
	}
}

/* Runs per block (at least min) and blocks (at least 4), scaled by
 * --iters (per 100000). */
static uint32_t per_block(uint32_t n, uint32_t scale, uint32_t min)
{
	n = (uint32_t)((uint64_t)n * scale / 100000);
	return n < min ? min : n;
}

static uint32_t blocks_of(uint32_t n, uint32_t scale)
{
	n = (uint32_t)((uint64_t)n * scale / 100000);
	return n < 4 ? 4 : n;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		BENCH_COMMON_OPTIONS,
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	char footer[640];
	int c, first, sock, unix_free, tcp_free, shm_free;
	uint64_t tp_ops;
	uint32_t sg_scale;

	bench.iters = 100000;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1)
		if (!bench_option(c, optarg))
			usage(argv[0]);
	if (!bench_setup())
		usage(argv[0]);
	/* --iters scales every row: async ops, and sgemm runs (per 100000). */
	tp_ops = bench.iters * 20;
	sg_scale = (uint32_t)(bench.iters < 100000 ? bench.iters : 100000);

	for (uint32_t i = 0; i < bench.reps; i++)
		bench_floor();
	keep_median((int)bench.reps);
	latency_ratios(0, 0);
	for (uint32_t i = 0; i < bench.reps; i++)
		bench_socket_rtt(false, true);
	keep_median((int)bench.reps);
	sock = nresults - 1;
	first = nresults;
	for (uint32_t i = 0; i < bench.reps; i++)
		bench_noop_rtt("broker_noop_rtt_poll", "10000000", "10000000000",
			       "broker and client busy-poll");
	keep_median((int)bench.reps);
	for (uint32_t i = 0; i < bench.reps; i++)
		bench_noop_rtt("broker_noop_rtt_spin_sleep", "20", "20000",
			       "spin 20 us, then sleep (defaults)");
	keep_median((int)bench.reps);
	latency_ratios(sock, 0);
	/* And each broker row against the socket too, as a second line. */
	for (int i = first; i < first + 2; i++) {
		results[nresults] = results[i];
		results[nresults].ratio = results[i].p50 / results[sock].p50;
		memcpy(results[nresults].baseline, results[sock].name,
		       sizeof(results[0].baseline));
		nresults++;
	}
	bench_interleaved();
	bench_socket_tp(false, tp_ops / 4);
	bench_noop_async(T_SHM, tp_ops);
	tp_ratio(nresults - 1, nresults - 2);
	/* The stream transport (VMs): the same round trip over TCP and a UNIX
	 * stream socket, against shared memory and against a plain socket of
	 * the same kind. All unpinned: the broker's loop thread and worker
	 * both take part in a stream op, and pinning them to one CPU would
	 * measure that CPU's sharing. Defaults (spin 20 us, then sleep). */
	for (uint32_t i = 0; i < bench.reps; i++)
		bench_socket_rtt(false, false);
	keep_median((int)bench.reps);
	unix_free = nresults - 1;
	for (uint32_t i = 0; i < bench.reps; i++)
		bench_socket_rtt(true, false);
	keep_median((int)bench.reps);
	tcp_free = nresults - 1;
	for (uint32_t i = 0; i < bench.reps; i++)
		bench_noop_rtt_on(T_SHM, false, "broker_noop_rtt_shm_unpinned", "20", "20000",
				  "shared memory, unpinned, defaults");
	keep_median((int)bench.reps);
	shm_free = nresults - 1;
	latency_ratios(unix_free, 0);
	for (int t = T_TCP; t < T_MAX; t++) {
		int row, plain = t == T_TCP ? tcp_free : unix_free;
		char name[64], note[96];

		snprintf(name, sizeof(name), "broker_noop_rtt_%s", tname[t]);
		snprintf(note, sizeof(note), "stream transport over %s, unpinned, defaults",
			 t == T_TCP ? "TCP loopback" : "a UNIX stream socket");
		for (uint32_t i = 0; i < bench.reps; i++)
			bench_noop_rtt_on((enum transport)t, false, name, "20", "20000", note);
		keep_median((int)bench.reps);
		row = nresults - 1;
		results[row].ratio = results[row].p50 / results[shm_free].p50;
		memcpy(results[row].baseline, results[shm_free].name,
		       sizeof(results[0].baseline));
		results[nresults] = results[row];
		results[nresults].ratio = results[row].p50 / results[plain].p50;
		memcpy(results[nresults].baseline, results[plain].name,
		       sizeof(results[0].baseline));
		nresults++;
	}
	/* Async throughput over the stream transport, against a plain socket
	 * of the same kind pipelining the same way (fewer ops: it is slower). */
	for (int t = T_TCP; t < T_MAX; t++) {
		bench_socket_tp(t == T_TCP, tp_ops / 20);
		bench_noop_async((enum transport)t, tp_ops / 20);
		tp_ratio(nresults - 1, nresults - 2);
	}
	/* Blocks x runs at the default --iters: 32 x 62, 32 x 12 and
	 * 256 x 3 (the 1024 row's interval is what its blocks buy: 1.3% wide
	 * at 128 here, 3% at 64). */
	bench_sgemm(64, blocks_of(32, sg_scale), per_block(62, sg_scale, 10), false);
	bench_sgemm(256, blocks_of(32, sg_scale), per_block(12, sg_scale, 2), true);
	bench_sgemm(1024, blocks_of(256, sg_scale), 3, true);
	snprintf(footer, sizeof(footer),
		 "Latency rows: one op's round trip, median of %u runs by p50; "
		 "ratio = p50 / the baseline's p50.\n"
		 "Throughput rows (ops/s): ratio = baseline ops/s / ours (below 1: faster).\n"
		 "sgemm rows: ratio = p50 / the baseline's p50 (in process for shared memory,\n"
		 "shared memory for tcp and unix_stream): the median of alternating blocks' ratios.",
		 bench.reps);
	print_table(footer);
	return 0;
}

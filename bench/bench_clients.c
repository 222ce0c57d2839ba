/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_clients - many client processes at once against one accelringd.
 *
 * Each of N processes connects, opens a session and runs noop round trips
 * (one op in flight, the client library's default waiting: spin, then
 * sleep) until told to stop. After a warm-up, every process records its
 * round trips for a fixed window. A row gives the latency percentiles over
 * all the processes' ops in the window and the aggregate throughput.
 *
 * Baseline, measured in the same run with the same number of processes:
 * a plain echo server on one epoll thread (the broker's default on 2 CPUs
 * is one worker), over a UNIX socket for the shared-memory and UNIX stream
 * transports and over TCP loopback for TCP; each process sends a 64-byte
 * request and reads the response, one at a time.
 *
 * Over shared memory, each N runs twice: with the default waiting, and
 * with ACCELRING_SPIN_NS=0 (sleep at once; the _nospin rows).
 *
 * ratio = p50 / the baseline's p50 at the same N; the note has the
 * aggregate throughput against the baseline's (above 1: we do more) and
 * how even the processes' shares were (the slowest against the mean).
 *
 * usage: bench_clients [--json] [--clients 1,4,16,64] [--seconds S]
 *                      [--transports shm,tcp,unix-stream]
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <accelring/barrier.h>
#include <accelring/client.h>

#include "bench_common.h"
#include "broker_harness.h"

#define MAX_CLIENTS 256
#define SAMPLE_BUDGET (4u << 20)	/* samples kept over all clients */
#define MSG 64
#define WARMUP_MS 300

/* Shared by the parent and its client processes. */
struct ctl {
	_Alignas(64) uint32_t ready;	/* clients connected */
	_Alignas(64) uint32_t go;	/* run (warm-up) */
	_Alignas(64) uint32_t measure;	/* record */
	_Alignas(64) uint32_t stop;
	struct {
		_Alignas(64) uint64_t ops;	/* round trips while measuring */
		uint64_t failed;
	} cl[MAX_CLIENTS];
	uint64_t samples[];		/* cap per client */
};

static struct {
	int clients[16], nclients;
	char transports[4][16];
	int ntransports;
	double seconds;
} opt = {
	.clients = { 1, 4, 16, 64 },
	.nclients = 4,
	.transports = { "shm", "tcp" },
	.ntransports = 2,
	.seconds = 2.0,
};

static struct ctl *ctl;
static uint64_t cap;		/* samples per client */

/* A client's loop around one round trip; rt returns 0 or -1. */
static void client_run(int idx, int (*rt)(void *), void *arg)
{
	uint64_t *s = &ctl->samples[(uint64_t)idx * cap], n = 0;

	__atomic_fetch_add(&ctl->ready, 1, __ATOMIC_RELEASE);
	/* Acquire pairs with the parent's release stores of go/measure/stop. */
	while (!ar_load_acquire(&ctl->go))
		usleep(200);
	while (!ar_load_acquire(&ctl->stop)) {
		uint64_t t0 = now_ns();

		if (rt(arg)) {
			ctl->cl[idx].failed++;
			break;
		}
		if (ar_load_acquire(&ctl->measure)) {
			s[n % cap] = now_ns() - t0;
			n++;
		}
	}
	ctl->cl[idx].ops = n;
}

/* ---- through the broker ---- */

struct broker_client {
	struct ar_queue *q;
	uint32_t sid;
	uint64_t id;
};

static int broker_rt(void *arg)
{
	struct broker_client *bc = arg;
	struct ar_cqe cqe;

	if (ar_submit_noop(bc->q, bc->sid, bc->id++) || ar_wait(bc->q, &cqe, 1, 1, -1) != 1 ||
	    cqe.status)
		return -1;
	return 0;
}

static void broker_client(int idx, const char *addr)
{
	struct broker_client bc = { 0 };
	struct ar_client *c = NULL;
	int ret = ar_client_connect(addr, &c);

	if (!ret)
		ret = ar_queue_get(c, &bc.q);
	if (!ret)
		ret = ar_session_open(bc.q, 0, &bc.sid);
	if (ret) {
		fprintf(stderr, "bench_clients: client %d cannot reach %s: %s (%s)\n", idx,
			addr, strerror(-ret), c ? ar_client_error(c) : "");
		ctl->cl[idx].failed++;
		__atomic_fetch_add(&ctl->ready, 1, __ATOMIC_RELEASE);
		return;
	}
	client_run(idx, broker_rt, &bc);
	ar_client_close(c);
}

/* ---- the baseline: an echo server on one epoll thread ---- */

static int sock_rt(void *arg)
{
	int fd = *(int *)arg;
	uint8_t msg[MSG] = { 1 };
	size_t got = 0;

	if (write(fd, msg, MSG) != MSG)
		return -1;
	while (got < MSG) {
		ssize_t r = read(fd, msg + got, MSG - got);

		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

static int sock_connect(const struct sockaddr *sa, socklen_t len)
{
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0 || connect(fd, sa, len)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (sa->sa_family == AF_INET)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static void sock_client(int idx, const struct sockaddr *sa, socklen_t len)
{
	int fd = sock_connect(sa, len);

	if (fd < 0) {
		perror("bench_clients: connect");
		ctl->cl[idx].failed++;
		__atomic_fetch_add(&ctl->ready, 1, __ATOMIC_RELEASE);
		return;
	}
	client_run(idx, sock_rt, &fd);
	close(fd);
}

/* Serve n connections on listener l until all have closed. */
static void echo_server(int l, int n)
{
	struct epoll_event ev = { .events = EPOLLIN }, evs[64];
	int ep = epoll_create1(EPOLL_CLOEXEC), open = 0, closed = 0, one = 1;
	uint8_t buf[4096];

	ev.data.fd = l;
	epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev);
	while (closed < n) {
		int got = epoll_wait(ep, evs, 64, -1);

		for (int i = 0; i < got; i++) {
			int fd = evs[i].data.fd;
			ssize_t r;

			if (fd == l) {
				int c = accept4(l, NULL, NULL, SOCK_CLOEXEC);

				if (c < 0)
					continue;
				setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
				ev.data.fd = c;
				epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
				open++;
				continue;
			}
			r = read(fd, buf, sizeof(buf));
			if (r <= 0 || write(fd, buf, (size_t)r) != r) {
				close(fd);
				closed++;
			}
		}
		if (got < 0 && errno != EINTR)
			_exit(1);
	}
	(void)open;
	_exit(0);
}

/* ---- one configuration ---- */

static void reap_all(pid_t *pids, int n)
{
	for (int i = 0; i < n; i++)
		if (pids[i] > 0)
			reap(pids[i]);
}

static void wait_ready(int n)
{
	for (int i = 0; i < 30000 && ar_load_acquire(&ctl->ready) < (uint32_t)n; i++)
		usleep(1000);
}

/* Run n clients (fork, fn(idx)), measure, and add a row named name.
 * *slowest: the slowest client's ops, in percent of the mean. */
static struct result *run_clients(int n, const char *name, void (*fn)(int, const void *),
				  const void *arg, double *slowest)
{
	pid_t pids[MAX_CLIENTS];
	uint64_t t0, dt, total = 0, min = UINT64_MAX, kept = 0, *all;
	struct result *r;

	memset(ctl, 0, sizeof(*ctl));
	cap = SAMPLE_BUDGET / (uint64_t)n;
	for (int i = 0; i < n; i++) {
		pids[i] = fork();
		if (pids[i] < 0) {
			perror("fork");
			exit(1);
		}
		if (pids[i] == 0) {
			fn(i, arg);
			_exit(ctl->cl[i].failed ? 1 : 0);
		}
	}
	wait_ready(n);
	/* Release pairs with the clients' acquire loads. */
	ar_store_release(&ctl->go, 1);
	usleep(WARMUP_MS * 1000);
	t0 = now_ns();
	ar_store_release(&ctl->measure, 1);
	usleep((useconds_t)(opt.seconds * 1e6));
	ar_store_release(&ctl->measure, 0);
	dt = now_ns() - t0;
	ar_store_release(&ctl->stop, 1);
	reap_all(pids, n);

	all = malloc(SAMPLE_BUDGET * sizeof(*all));
	if (!all)
		exit(1);
	for (int i = 0; i < n; i++) {
		uint64_t ops = ctl->cl[i].ops, k = ops < cap ? ops : cap;

		memcpy(all + kept, &ctl->samples[(uint64_t)i * cap], k * sizeof(*all));
		kept += k;
		total += ops;
		if (ops < min)
			min = ops;
	}
	if (!kept) {
		fprintf(stderr, "bench_clients: %s completed no op\n", name);
		exit(1);
	}
	r = add(name, all, kept, 1.0);
	free(all);
	r->ops = (double)total * 1e9 / (double)dt;
	*slowest = 100.0 * (double)min * n / (double)total;
	snprintf(r->note, sizeof(r->note), "%d process%s, slowest %.0f%% of the mean", n,
		 n == 1 ? "" : "es", *slowest);
	return r;
}

static const char *broker_addr;

static void broker_fn(int idx, const void *arg)
{
	(void)arg;
	broker_client(idx, broker_addr);
}

struct sock_target {
	struct sockaddr_storage sa;
	socklen_t len;
};

static void sock_fn(int idx, const void *arg)
{
	const struct sock_target *t = arg;

	sock_client(idx, (const struct sockaddr *)&t->sa, t->len);
}

/* The echo server's listener: on a UNIX path in dir, or TCP loopback. */
static int listener(bool tcp, const char *dir, struct sock_target *t)
{
	int l = socket(tcp ? AF_INET : AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memset(t, 0, sizeof(*t));
	if (tcp) {
		struct sockaddr_in *in = (struct sockaddr_in *)&t->sa;

		in->sin_family = AF_INET;
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		t->len = sizeof(*in);
	} else {
		struct sockaddr_un *un = (struct sockaddr_un *)&t->sa;

		un->sun_family = AF_UNIX;
		snprintf(un->sun_path, sizeof(un->sun_path), "%s/echo.sock", dir);
		t->len = sizeof(*un);
	}
	if (l < 0 || bind(l, (struct sockaddr *)&t->sa, t->len) || listen(l, MAX_CLIENTS) ||
	    getsockname(l, (struct sockaddr *)&t->sa, &t->len)) {
		perror("bench_clients: echo listener");
		exit(1);
	}
	return l;
}

static void bench_n(int n, const char *transport)
{
	bool tcp = !strcmp(transport, "tcp");
	struct test_broker b;
	struct sock_target t;
	struct result *base, *r;
	char name[64], addr[256];
	double base_ops, slowest;
	pid_t server;
	int l, baserow;

	/* The baseline: the echo server in a child of its own. */
	/* Up to 64 processes from one address (or uid over unix-stream) are
	 * one tenant with a stream connection each, 64 MiB of data area
	 * asked apiece: more than the stream limits' defaults, which are for
	 * hostile peers. They connect at once, too. */
	if (test_broker_start(&b, (const char *const[]){
			"--tcp=127.0.0.1:0", "--allow-peers=127.0.0.1",
			"--stream-tenant-shm=16G", "--listener-shm=16G", NULL })) {
		fprintf(stderr, "bench_clients: cannot start accelringd\n");
		exit(1);
	}
	l = listener(tcp, b.dir, &t);
	server = fork();
	if (server == 0)
		echo_server(l, n);
	close(l);
	/* Unique names when both UNIX transports run: each has its own. */
	snprintf(name, sizeof(name), "clients_%d_%s_socket%s", n, tcp ? "tcp" : "unix",
		 strcmp(transport, "unix-stream") ? "" : "_for_stream");
	base = run_clients(n, name, sock_fn, &t, &slowest);
	reap(server);
	base->ratio = 1.0;
	memcpy(base->baseline, base->name, sizeof(base->baseline));
	base_ops = base->ops;
	baserow = nresults - 1;

	if (!strcmp(transport, "tcp"))
		snprintf(addr, sizeof(addr), "tcp://%s", b.tcp);
	else if (!strcmp(transport, "unix-stream"))
		snprintf(addr, sizeof(addr), "unix-stream://%s", b.sock);
	else
		snprintf(addr, sizeof(addr), "unix://%s", b.sock);
	broker_addr = addr;
	/* The clients' default waiting (spin 20 us, then sleep); over shared
	 * memory also sleeping at once (ACCELRING_SPIN_NS=0), which trades
	 * latency for fairness when processes outnumber CPUs. */
	for (int sleep = 0; sleep < (strcmp(transport, "shm") ? 1 : 2); sleep++) {
		if (sleep)
			setenv("ACCELRING_SPIN_NS", "0", 1);
		snprintf(name, sizeof(name), "clients_%d_%s%s", n,
			 strcmp(transport, "unix-stream") ? transport : "unix_stream",
			 sleep ? "_nospin" : "");
		r = run_clients(n, name, broker_fn, NULL, &slowest);
		unsetenv("ACCELRING_SPIN_NS");
		r->ratio = r->p50 / results[baserow].p50;
		memcpy(r->baseline, results[baserow].name, sizeof(r->baseline));
		snprintf(r->note, sizeof(r->note),
			 "%d process%s, slowest %.0f%% of the mean, %.2fx its ops/s%s", n,
			 n == 1 ? "" : "es", slowest, r->ops / base_ops,
			 sleep ? ", ACCELRING_SPIN_NS=0" : "");
	}
	test_broker_stop(&b);
}

static void usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s [--json] [--clients N,N,...] [--seconds S]\n"
		"          [--transports shm,tcp,unix-stream]\n", argv0);
	exit(2);
}

static bool parse_clients(const char *arg)
{
	char buf[128], *save, *tok;

	snprintf(buf, sizeof(buf), "%s", arg);
	opt.nclients = 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		int n = atoi(tok);

		if (n < 1 || n > MAX_CLIENTS || opt.nclients == 16)
			return false;
		opt.clients[opt.nclients++] = n;
	}
	return opt.nclients > 0;
}

static bool parse_transports(const char *arg)
{
	char buf[128], *save, *tok;

	snprintf(buf, sizeof(buf), "%s", arg);
	opt.ntransports = 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if ((strcmp(tok, "shm") && strcmp(tok, "tcp") && strcmp(tok, "unix-stream")) ||
		    opt.ntransports == 4)
			return false;
		snprintf(opt.transports[opt.ntransports++], sizeof(opt.transports[0]), "%s", tok);
	}
	return opt.ntransports > 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		BENCH_COMMON_OPTIONS,
		{ "clients", required_argument, NULL, 'C' },
		{ "seconds", required_argument, NULL, 's' },
		{ "transports", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	char footer[512];
	int c;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (c == 'C') {
			if (!parse_clients(optarg))
				usage(argv[0]);
		} else if (c == 's') {
			opt.seconds = atof(optarg);
			if (opt.seconds <= 0 || opt.seconds > 600)
				usage(argv[0]);
		} else if (c == 't') {
			if (!parse_transports(optarg))
				usage(argv[0]);
		} else if (!bench_option(c, optarg)) {
			usage(argv[0]);
		}
	}
	if (!bench_setup())
		usage(argv[0]);
	/* Many processes: the scheduler places them all. */
	unpin();
	bench.pinned = false;
	ctl = mmap(NULL, sizeof(*ctl) + SAMPLE_BUDGET * sizeof(uint64_t),
		   PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ctl == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	for (int t = 0; t < opt.ntransports; t++)
		for (int i = 0; i < opt.nclients; i++)
			bench_n(opt.clients[i], opt.transports[t]);
	snprintf(footer, sizeof(footer),
		 "N client processes, one noop in flight each, %.1f s measured after a "
		 "%d ms warm-up;\nratio = p50 / the plain echo server's p50 at the same N; "
		 "ops/s is the aggregate.", opt.seconds, WARMUP_MS);
	print_table(footer);
	return 0;
}

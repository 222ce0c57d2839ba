/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_broker_network - SECURITY.md 27, 28, 29 and 11 against a real
 * accelringd: what a stream peer (a VM over TCP, or a UNIX-socket client
 * asking for the stream transport) can make the broker hold and send, who
 * a TCP peer is, and connection storms. Each attack runs next to a
 * bystander, a tenant of its own (uid 65534 over the UNIX socket), whose
 * noops must keep being answered. Needs root (the bystander and the other
 * users are forked children that change uid): skipped without it.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <accelring/client.h>
#include <accelring/wire.h>

#include "broker_harness.h"
#include "internal.h"	/* broker/: ar__req_parse, ar__req_written */
#include "raw_client.h"

static struct test_broker broker;

/* A noop of the bystander may take this long while an attack runs: far
 * above its usual tens of microseconds, far below the seconds an attack
 * that stalls the broker costs. */
#define BYSTANDER_BOUND_NS 2000000000ull

#define MIB (1ull << 20)

/* What the broker's RSS grows by for each byte it writes: under TSan (the
 * broker is built like the tests) each byte written also maps its shadow,
 * about 4.5 more (measured: 16 MiB areas filled, 5.5x). */
#if defined(__SANITIZE_THREAD__)
#define RSS_PER_BYTE 6
#else
#define RSS_PER_BYTE 1
#endif
#define OTHER_UID 1001u	/* a local user who is not in allow-uids */

/* ---- helpers ---- */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Start this test's broker with args (NULL-terminated). */
static void start(const char *const *args)
{
	assert_int_equal(test_broker_start(&broker, args), 0);
	raw_use(&broker);
}

/* A stream Hello asking for sq, cq and data bytes: the Welcome's status,
 * its reason in why. */
static int stream_hello(int fd, uint32_t sq, uint32_t cq, uint64_t data,
			char *why, size_t cap)
{
	struct ar_wire_msg m = hello();
	int fds[8], nfds, st;

	m.u.hello.transport = AR_TRANSPORT_STREAM;
	m.u.hello.sq_bytes = sq;
	m.u.hello.cq_bytes = cq;
	m.u.hello.data_bytes = data;
	if (why)
		why[0] = '\0';
	send_frame(fd, &m, NULL, 0);
	st = read_welcome(fd, fds, &nfds, why, cap);
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	return st;
}

static void send_chunk(int fd, uint64_t off, const void *bytes, uint64_t len)
{
	struct ar_wire_msg m = { .type = AR_WIRE_CHUNK };

	m.u.chunk.off = off;
	m.u.chunk.bytes = bytes;
	m.u.chunk.len = len;
	stream_send(fd, &m);
}

/* Frames until the next completion: its status; the Chunks before it in
 * *chunk_bytes (and how many in *nr_chunks). */
static int read_completion(int fd, uint64_t *chunk_bytes, uint64_t *nr_chunks)
{
	static uint64_t buf[(RAW_MAX_FRAME + 4096) / 8];
	struct ar_wire_msg m;

	*chunk_bytes = 0;
	if (nr_chunks)
		*nr_chunks = 0;
	for (;;) {
		stream_read(fd, &m, buf, sizeof(buf));
		if (m.type == AR_WIRE_COMPLETION)
			return m.u.completion.status;
		assert_int_equal(m.type, AR_WIRE_CHUNK);
		*chunk_bytes += m.u.chunk.len;
		if (nr_chunks)
			(*nr_chunks)++;
	}
}

/* Run fn(arg) in a child that became uid (and gid) first; returns what
 * fn returned (-errno, 0..-254). */
static int as_uid(uint32_t uid, int (*fn)(void *), void *arg)
{
	int st;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		alarm(60);
		if (setresgid(uid, uid, uid) || setresuid(uid, uid, uid))
			_exit(255);
		_exit(-fn(arg) & 0xff);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_not_equal(WEXITSTATUS(st), 255);
	return -WEXITSTATUS(st);
}

/* A stream Hello over TCP to arg ("HOST:PORT"): the Welcome's status.
 * Runs in a child: no cmocka assertion (a failed one would go on running
 * the suite there), -EIO for anything unexpected. */
static int tcp_hello_status(void *arg)
{
	const char *hostport = arg, *colon = strrchr(hostport, ':');
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct timeval tv = { .tv_sec = 5 };
	struct ar_wire_msg m = hello();
	uint64_t buf[128], copy[128];
	char host[64];
	uint32_t len;
	ssize_t n;
	int fd;

	if (!colon || colon - hostport >= (int)sizeof(host))
		return -EIO;
	snprintf(host, sizeof(host), "%.*s", (int)(colon - hostport), hostport);
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return -EIO;
	sa.sin_port = htons((uint16_t)atoi(colon + 1));
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		return -EIO;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	m.u.hello.transport = AR_TRANSPORT_STREAM;
	send_frame(fd, &m, NULL, 0);
	n = recv(fd, buf, sizeof(buf), 0);
	close(fd);
	if (n < 4)
		return -ECONNRESET;
	memcpy(&len, buf, 4);
	len = le32toh(len);
	if (len + 4 > (size_t)n)
		return -EIO;
	memcpy(copy, (uint8_t *)buf + 4, len);
	if (ar_wire_decode(copy, len, &m) || m.type != AR_WIRE_WELCOME)
		return -EIO;
	return m.u.welcome.status;
}

/* A UNIX-socket connection that sends nothing (non-blocking connect: a
 * full backlog is a refusal, not a wait). -1 when refused. */
static int unix_silent(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	assert_true(fd >= 0);
	strcpy(sa.sun_path, broker.sock);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A shared-memory Hello of ours over the UNIX socket: the Welcome's
 * status (-ECONNRESET when the broker closed the connection at once). */
static int hello_status(void)
{
	struct ar_wire_msg m = hello();
	int fd = raw_connect(), fds[8], nfds, st;

	send_frame(fd, &m, NULL, 0);
	st = read_welcome(fd, fds, &nfds, NULL, 0);
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	close(fd);
	return st;
}

/* ---- SECURITY 27: what a stream peer makes the broker hold ---- */

/* A stream Hello asking for the largest rings and the largest data area
 * a stream peer may have, again and again from several addresses: each
 * makes the broker resident by a few MiB at most (its rings are sized for
 * max-frame, not for the ask), and past listener-shm the Hello is refused
 * with EDQUOT naming it. */
static void test_broker_network_stream_hellos_rss(void **state)
{
	const char *args[] = { "--tcp=127.0.0.1:0", "--allow-peers=127.0.0.0/8", NULL };
	enum { ADDRS = 4, PER_ADDR = 12 };
	int fds[ADDRS * PER_ADDR], nr = 0, admitted = 0, quota = 0;
	struct bystander *by;
	long rss0, grown = 0;
	char why[256];

	(void)state;
	start(args);
	by = bystander_start(NULL, BYSTANDER_UID);
	rss0 = test_broker_rss_kib(&broker);
	for (int a = 0; a < ADDRS; a++) {
		for (int i = 0; i < PER_ADDR; i++) {
			char src[32];
			int fd, st;

			snprintf(src, sizeof(src), "127.0.1.%d", 10 + a);
			fd = tcp_connect_from(broker.tcp, src);
			st = stream_hello(fd, AR_RING_BYTES_MAX, AR_RING_BYTES_MAX,
					  64 * MIB, why, sizeof(why));
			grown = test_broker_rss_kib(&broker) - rss0;
			/* Stop at once when a Hello costs what it did: the
			 * machine is shared. */
			if (grown > 256 * 1024)
				fail_msg("after %d Hellos (%d admitted) the broker grew by %ld MiB",
					 nr + 1, admitted, grown / 1024);
			if (st == 0) {
				admitted++;
				fds[nr++] = fd;
				continue;
			}
			if (st != -EDQUOT)
				fail_msg("Hello %d refused with %d (%s), want -EDQUOT", nr + 1, st, why);
			assert_non_null(strstr(why, "listener-shm"));
			quota++;
			close(fd);
		}
	}
	print_message("%d stream Hellos admitted, %d refused, broker +%ld MiB\n",
		      admitted, quota, grown / 1024);
	/* The default listener-shm admits some dozens of such peers, not all. */
	assert_true(admitted >= 8);
	assert_true(quota > 0);
	/* Their rings are sized for a 1 MiB max-frame, whatever was asked. */
	assert_true(test_broker_logged(&broker, "sq 4194304 cq 2097152, data 67108864 bytes"));
	bystander_check(by, BYSTANDER_BOUND_NS);
	for (int i = 0; i < nr; i++)
		close(fds[i]);
}

/* The defaults are small: a Hello that asks for nothing gets a 4 MiB data
 * area; asking above stream-max-data-bytes is E2BIG with its name; one
 * address holds at most stream-tenant-shm. */
static void test_broker_network_stream_defaults_small(void **state)
{
	const char *args[] = { "--tcp=127.0.0.1:0", "--allow-peers=127.0.0.0/8", NULL };
	static uint8_t bytes[4096];
	struct bystander *by;
	int fd, fds[64], nr = 0, st;
	char why[256];

	(void)state;
	start(args);
	by = bystander_start(NULL, BYSTANDER_UID);

	/* Data area when the Hello asks 0: 4 MiB, the last byte usable... */
	fd = tcp_connect(broker.tcp);
	assert_int_equal(stream_hello(fd, 0, 0, 0, why, sizeof(why)), 0);
	send_chunk(fd, 4 * MIB - sizeof(bytes), bytes, sizeof(bytes));
	assert_int_equal(stream_session(fd) > 0, 1);
	/* ...and a byte past it refused. */
	send_chunk(fd, 4 * MIB, bytes, 1);
	assert_true(closed_by_broker(fd));
	close(fd);
	assert_true(test_broker_logged(&broker, "outside the 4194304-byte data area"));

	/* Above stream-max-data-bytes (64 MiB): E2BIG, naming it. */
	fd = tcp_connect(broker.tcp);
	assert_int_equal(stream_hello(fd, 0, 0, 64 * MIB + 4096, why, sizeof(why)), -E2BIG);
	assert_non_null(strstr(why, "stream-max-data-bytes"));
	close(fd);

	/* One address: stream-tenant-shm (1 GiB) holds a dozen or so 64 MiB
	 * areas, and then EDQUOT, naming it. */
	for (;;) {
		fd = tcp_connect_from(broker.tcp, "127.0.2.1");
		st = stream_hello(fd, 0, 0, 64 * MIB, why, sizeof(why));
		if (st) {
			close(fd);
			break;
		}
		fds[nr++] = fd;
		if (nr == 64)
			fail_msg("64 stream connections of 64 MiB from one address admitted");
	}
	print_message("one address: %d stream connections of 64 MiB admitted\n", nr);
	assert_int_equal(st, -EDQUOT);
	assert_non_null(strstr(why, "stream-tenant-shm"));
	assert_true(nr >= 4);
	/* Another address is another tenant, still admitted. */
	fd = tcp_connect_from(broker.tcp, "127.0.2.2");
	assert_int_equal(stream_hello(fd, 0, 0, 64 * MIB, why, sizeof(why)), 0);
	assert_int_equal(stream_noop(fd, stream_session(fd)), 0);
	close(fd);
	for (int i = 0; i < nr; i++)
		close(fds[i]);
	/* Given back when they go: the first address is admitted again. */
	for (uint64_t t0 = now_ms();; usleep(50000)) {
		fd = tcp_connect_from(broker.tcp, "127.0.2.1");
		st = stream_hello(fd, 0, 0, 64 * MIB, why, sizeof(why));
		close(fd);
		if (st == 0)
			break;
		if (now_ms() - t0 > 5000)
			fail_msg("still refused 5 s after its connections closed: %s", why);
	}
	bystander_check(by, BYSTANDER_BOUND_NS);
}

/* With a small listener-shm, stream peers that fill every byte of their
 * data areas with Chunks hold no more broker memory than it. */
static void test_broker_network_listener_shm_bounds_memory(void **state)
{
	const char *args[] = { "--tcp=127.0.0.1:0", "--allow-peers=127.0.0.0/8",
			       "--listener-shm=192M", "--stream-tenant-shm=64M", NULL };
	static uint8_t bytes[512 * 1024];
	enum { MAX = 32 };
	int fds[MAX], nr = 0, refused = 0;
	struct bystander *by;
	long rss0, grown;
	char why[256];

	(void)state;
	memset(bytes, 0x5a, sizeof(bytes));
	start(args);
	by = bystander_start(NULL, BYSTANDER_UID);
	rss0 = test_broker_rss_kib(&broker);
	for (int i = 0; i < MAX; i++) {
		char src[32];
		int fd, st;

		/* Two connections an address: the tenant limit is not the one
		 * that bites. */
		snprintf(src, sizeof(src), "127.0.3.%d", 1 + i / 2);
		fd = tcp_connect_from(broker.tcp, src);
		st = stream_hello(fd, 0, 0, 16 * MIB, why, sizeof(why));
		if (st) {
			assert_int_equal(st, -EDQUOT);
			assert_non_null(strstr(why, "listener-shm"));
			refused++;
			close(fd);
			continue;
		}
		for (uint64_t off = 0; off < 16 * MIB; off += sizeof(bytes))
			send_chunk(fd, off, bytes, sizeof(bytes));
		/* A completion after the Chunks: all of them were taken in. */
		assert_true(stream_session(fd) > 0);
		fds[nr++] = fd;
	}
	grown = test_broker_rss_kib(&broker) - rss0;
	print_message("%d peers filled 16 MiB each, %d refused: broker +%ld MiB\n",
		      nr, refused, grown / 1024);
	assert_true(nr >= 4);
	assert_true(refused > 0);
	assert_true(grown < (192 + 64) * 1024 * RSS_PER_BYTE);
	bystander_check(by, BYSTANDER_BOUND_NS);
	for (int i = 0; i < nr; i++)
		close(fds[i]);
}

/* ---- SECURITY 28: a TCP tenant is an address ---- */

/* A TCP listener with no allow-peers admits nobody: the Welcome says
 * -EACCES and why, and the broker said so when it started. */
static void test_broker_network_tcp_default_refuses(void **state)
{
	const char *args[] = { "--tcp=127.0.0.1:0", NULL };
	struct bystander *by;
	char why[256];
	int fd;

	(void)state;
	start(args);
	by = bystander_start(NULL, BYSTANDER_UID);
	assert_true(test_broker_logged(&broker, "allow-peers is empty"));
	fd = tcp_connect(broker.tcp);
	assert_int_equal(stream_hello(fd, 0, 0, MIB, why, sizeof(why)), -EACCES);
	assert_non_null(strstr(why, "allow-peers is empty"));
	close(fd);
	/* From another loopback address too. */
	fd = tcp_connect_from(broker.tcp, "127.0.0.2");
	assert_int_equal(stream_hello(fd, 0, 0, MIB, why, sizeof(why)), -EACCES);
	close(fd);
	bystander_check(by, BYSTANDER_BOUND_NS);
}

/* Loopback peers (local users of any uid) are admitted only by a loopback
 * entry: 0.0.0.0/0 and ::/0 do not let them in. */
static void test_broker_network_loopback_needs_loopback_entry(void **state)
{
	const char *args[] = { "--tcp=127.0.0.1:0", "--allow-peers=0.0.0.0/0,::/0", NULL };
	struct bystander *by;
	char why[256];
	int fd;

	(void)state;
	start(args);
	by = bystander_start(NULL, BYSTANDER_UID);
	fd = tcp_connect(broker.tcp);
	assert_int_equal(stream_hello(fd, 0, 0, MIB, why, sizeof(why)), -EACCES);
	assert_non_null(strstr(why, "loopback"));
	close(fd);
	bystander_check(by, BYSTANDER_BOUND_NS);
	assert_int_equal(test_broker_stop(&broker), 0);

	/* Nor on a dual-stack listener, where an IPv4 peer is ::ffff:127.0.0.1. */
	{
		const char *a6[] = { "--tcp=[::]:0", "--allow-peers=0.0.0.0/0,::/0", NULL };
		char v4[64];

		if (test_broker_start(&broker, a6) == 0) {
			snprintf(v4, sizeof(v4), "127.0.0.1:%s", strrchr(broker.tcp, ':') + 1);
			fd = tcp_connect(v4);
			assert_int_equal(stream_hello(fd, 0, 0, MIB, why, sizeof(why)), -EACCES);
			assert_non_null(strstr(why, "loopback"));
			close(fd);
			assert_int_equal(test_broker_stop(&broker), 0);
		} else {
			print_message("no IPv6 listener here: the dual-stack case is not run\n");
		}
	}

	/* A loopback entry does admit it. */
	{
		const char *a2[] = { "--tcp=127.0.0.1:0", "--allow-peers=0.0.0.0/0,127.0.0.1", NULL };

		start(a2);
		fd = tcp_connect(broker.tcp);
		assert_int_equal(stream_hello(fd, 0, 0, MIB, why, sizeof(why)), 0);
		assert_int_equal(stream_noop(fd, stream_session(fd)), 0);
		close(fd);
		/* Only that address: 127.0.0.2 is another local peer. */
		fd = tcp_connect_from(broker.tcp, "127.0.0.2");
		assert_int_equal(stream_hello(fd, 0, 0, MIB, why, sizeof(why)), -EACCES);
		close(fd);
	}
}

/* allow-uids cannot be bypassed through TCP: with allow-uids=0 and
 * allow-peers=0.0.0.0/0, uid 1001 is refused over TCP as on the UNIX
 * socket. With a loopback entry the broker warns at start that local
 * users outside allow-uids reach it. */
static void test_broker_network_allow_uids_not_bypassed(void **state)
{
	const char *args[] = { "--tcp=127.0.0.1:0", "--allow-peers=0.0.0.0/0",
			       "--allow-uids=0,65534", NULL };
	struct bystander *by;

	(void)state;
	start(args);
	by = bystander_start(NULL, BYSTANDER_UID);
	assert_int_equal(as_uid(OTHER_UID, tcp_hello_status, broker.tcp), -EACCES);
	assert_false(test_broker_logged(&broker, "outside allow-uids"));
	bystander_check(by, BYSTANDER_BOUND_NS);
	assert_int_equal(test_broker_stop(&broker), 0);

	{
		const char *a2[] = { "--tcp=127.0.0.1:0", "--allow-peers=127.0.0.1",
				     "--allow-uids=0,65534", NULL };

		start(a2);
		assert_true(test_broker_logged(&broker, "outside allow-uids"));
	}
}

/* The network namespace to go back to after a test that made its own. */
static int saved_netns = -1;

/* Move this (single-threaded) process into a new network namespace with
 * lo up and extra an address of lo. false if that cannot be done here. */
static bool netns_enter(const char *extra)
{
	char cmd[256];

	saved_netns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (saved_netns < 0)
		return false;
	if (unshare(CLONE_NEWNET)) {
		close(saved_netns);
		saved_netns = -1;
		return false;
	}
	snprintf(cmd, sizeof(cmd), "ip link set lo up && ip addr add %s/32 dev lo", extra);
	return system(cmd) == 0;
}

/* A peer from one of this machine's own (non-loopback) addresses is a
 * local process of any uid too: an entry for the guests' subnet that holds
 * that address does not admit it, only an entry for exactly that address.
 * In a network namespace of the test's own, where 10.123.0.1 is an
 * address of lo. */
static void test_broker_network_host_address_needs_exact_entry(void **state)
{
	const char *args[] = { "--tcp=10.123.0.1:0", "--allow-peers=10.123.0.0/24", NULL };
	const char *a2[] = { "--tcp=10.123.0.1:0", "--allow-peers=10.123.0.1", NULL };
	struct bystander *by;
	char why[256];
	int fd;

	(void)state;
	if (!netns_enter("10.123.0.1"))
		skip();
	start(args);
	by = bystander_start(NULL, BYSTANDER_UID);
	fd = tcp_connect_from(broker.tcp, "10.123.0.1");
	assert_int_equal(stream_hello(fd, 0, 0, MIB, why, sizeof(why)), -EACCES);
	assert_non_null(strstr(why, "address of this machine"));
	close(fd);
	bystander_check(by, BYSTANDER_BOUND_NS);
	assert_int_equal(test_broker_stop(&broker), 0);

	start(a2);
	fd = tcp_connect_from(broker.tcp, "10.123.0.1");
	assert_int_equal(stream_hello(fd, 0, 0, MIB, why, sizeof(why)), 0);
	assert_int_equal(stream_noop(fd, stream_session(fd)), 0);
	close(fd);
}

/* A session opened over the UNIX socket by uid 0 belongs to "uid 0"; a
 * TCP peer from 127.0.0.1 (of any uid) is "tcp 127.0.0.1" and can neither
 * use nor close it. */
static void test_broker_network_tcp_tenant_is_address(void **state)
{
	const char *args[] = { "--tcp=127.0.0.1:0", "--allow-peers=127.0.0.1", NULL };
	struct ar_wire_msg m = { .type = AR_WIRE_SESSION_CLOSE };
	struct bystander *by;
	struct raw r;
	uint32_t sid;
	int fd;

	(void)state;
	start(args);
	by = bystander_start(NULL, BYSTANDER_UID);
	raw_open(&r);
	sid = raw_session(&r);
	fd = stream_open(true);
	assert_int_equal(stream_noop(fd, sid), -EPERM);
	m.u.session_close.id = 9;
	m.u.session_close.session = sid;
	assert_int_equal(stream_call(fd, &m, NULL), -EPERM);
	close(fd);
	/* Still uid 0's. */
	{
		struct ar_wire_msg op = { .type = AR_WIRE_OP };

		op.u.op.id = 3;
		op.u.op.session = sid;
		raw_send(&r, &op);
		assert_int_equal(raw_complete(&r).status, 0);
	}
	raw_close(&r);
	bystander_check(by, BYSTANDER_BOUND_NS);
}

/* ---- SECURITY 29: what one op makes the broker send ---- */

/* A 1 KiB Generic request (opencv) whose 32 outputs each declare the
 * whole data area: what comes back in Chunks is at most the data area
 * (noop writes none of them: nothing), the op completes, and the
 * connection goes on. The same for an sgemm whose C is declared as the
 * whole area (its span comes back) and for two image outputs on the same
 * bytes (merged). */
static void test_broker_network_write_amplification(void **state)
{
	const char *args[] = { "--tcp=127.0.0.1:0", "--allow-peers=127.0.0.1", NULL };
	struct ar_wire_enc *e = ar_wire_enc_create();
	struct ar_wire_msg m = { .type = AR_WIRE_OP };
	struct ar_wire_generic *g = &m.u.op.u.generic;
	struct bystander *by;
	uint64_t bytes, nr;
	const void *p;
	uint32_t sid;
	int64_t n;
	int fd;

	(void)state;
	start(args);
	by = bystander_start(NULL, BYSTANDER_UID);
	fd = stream_open(true);		/* a 1 MiB data area */
	sid = stream_session(fd);

	m.u.op.id = 10;
	m.u.op.session = sid;
	/* opencv: Generic arguments, noop's (exec's are the exec plugin's). */
	m.u.op.op = AR_OP_OPENCV;
	m.u.op.args_kind = AR_ARGS_GENERIC;
	g->nr_write = AR_WIRE_MAX_ARGS;
	for (uint32_t i = 0; i < AR_WIRE_MAX_ARGS; i++)
		g->write[i] = (struct ar_wire_buf){ .kind = AR_BUF_REF, .off = 0, .len = MIB };
	n = ar_wire_encode(e, &m, &p);
	print_message("the opencv request: %lld bytes\n", (long long)n);
	assert_true(n > 0 && n < 2048);
	stream_send(fd, &m);
	assert_int_equal(read_completion(fd, &bytes, &nr), 0);
	print_message("opencv: %llu bytes in %llu Chunks came back\n",
		      (unsigned long long)bytes, (unsigned long long)nr);
	assert_true(bytes <= MIB);
	assert_int_equal(bytes, 0);	/* noop wrote none of them */

	/* sgemm 1x1x1 with C declared as the whole area: its 4 bytes. */
	memset(&m.u.op.u, 0, sizeof(m.u.op.u));
	m.u.op.id = 11;
	m.u.op.op = AR_OP_BLAS_SGEMM;
	m.u.op.args_kind = AR_ARGS_SGEMM;
	m.u.op.u.sgemm = (struct ar_wire_sgemm){ .m = 1, .n = 1, .k = 1, .lda = 1,
						 .ldb = 1, .ldc = 1, .alpha = 1 };
	m.u.op.u.sgemm.a = (struct ar_wire_buf){ .kind = AR_BUF_REF, .off = 0, .len = 4 };
	m.u.op.u.sgemm.b = (struct ar_wire_buf){ .kind = AR_BUF_REF, .off = 4, .len = 4 };
	m.u.op.u.sgemm.c = (struct ar_wire_buf){ .kind = AR_BUF_REF, .off = 0, .len = MIB };
	stream_send(fd, &m);
	assert_int_equal(read_completion(fd, &bytes, &nr), 0);
	assert_int_equal(bytes, 4);

	/* Two image outputs on the same bytes: sent once, as long as the
	 * longer of what noop wrote (its dummy strings, with their NULs). */
	memset(&m.u.op.u, 0, sizeof(m.u.op.u));
	m.u.op.id = 12;
	m.u.op.op = AR_OP_IMAGE_CLASSIFY;
	m.u.op.args_kind = AR_ARGS_IMAGE;
	m.u.op.u.image.img = (struct ar_wire_buf){ .kind = AR_BUF_BYTES, .bytes = "x", .len = 1 };
	m.u.op.u.image.out_text = (struct ar_wire_buf){ .kind = AR_BUF_REF, .off = 0, .len = MIB };
	m.u.op.u.image.out_imgname = (struct ar_wire_buf){ .kind = AR_BUF_REF, .off = 0, .len = MIB };
	stream_send(fd, &m);
	assert_int_equal(read_completion(fd, &bytes, &nr), 0);
	assert_int_equal(bytes, sizeof("This is a dummy classification tag!"));
	assert_int_equal(nr, 1);

	/* And the connection goes on. */
	assert_int_equal(stream_noop(fd, sid), 0);
	close(fd);
	ar_wire_enc_destroy(e);
	bystander_check(by, BYSTANDER_BOUND_NS);
}

/* The same at unit level (broker/request.c): the ranges a completion
 * lists are what the plugin left in each output's len, never more than
 * declared, merged where they overlap or touch, sgemm's C as its span. */
static void test_broker_network_written_ranges(void **state)
{
	static const struct { uint64_t off, len, wrote; } w[] = {
		{ 0, 100, 100 }, { 50, 150, 150 },	/* overlap: [0, 200) */
		{ 200, 100, 100 },			/* touches it: [0, 300) */
		{ 1000, 1000, 10 },			/* lowered: [1000, 1010) */
		{ 5000, 1000, 0 },			/* nothing written */
		{ 4000, 100, 1u << 30 },		/* raised: declared only */
		{ 0, 4096, 0 },				/* over them all, wrote none */
	};
	static uint8_t data[1 << 20] __attribute__((aligned(64)));
	static uint8_t arena[1 << 16] __attribute__((aligned(64)));
	static uint64_t copy[1024];
	static struct ar_req r;
	struct ar_req_ctx ctx = { .data = data, .data_bytes = sizeof(data),
				  .arena = arena, .arena_cap = sizeof(arena),
				  .max_inline = 1 << 16, .report_writes = true };
	struct ar_wire_enc *e = ar_wire_enc_create();
	struct ar_wire_msg m = { .type = AR_WIRE_OP };
	struct ar_wire_range out[AR_WIRE_MAX_ARGS];
	const void *p;
	int64_t n;
	int nr;

	(void)state;
	m.u.op.id = 1;
	m.u.op.op = AR_OP_EXEC;
	m.u.op.args_kind = AR_ARGS_GENERIC;
	m.u.op.u.generic.library = "l";
	m.u.op.u.generic.symbol = "s";
	m.u.op.u.generic.nr_write = sizeof(w) / sizeof(w[0]);
	for (unsigned i = 0; i < sizeof(w) / sizeof(w[0]); i++)
		m.u.op.u.generic.write[i] = (struct ar_wire_buf){
			.kind = AR_BUF_REF, .off = w[i].off, .len = w[i].len };
	n = ar_wire_encode(e, &m, &p);
	assert_true(n > 0 && (size_t)n <= sizeof(copy));
	memcpy(copy, p, (size_t)n);
	assert_int_equal(ar__req_parse(&ctx, copy, (size_t)n, &r), 0);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.nr_written, sizeof(w) / sizeof(w[0]));
	/* What the plugin says it wrote. */
	for (unsigned i = 0; i < sizeof(w) / sizeof(w[0]); i++)
		r.write[i].len = w[i].wrote;
	nr = ar__req_written(&r, out);
	assert_int_equal(nr, 3);
	assert_int_equal(out[0].off, 0);
	assert_int_equal(out[0].len, 300);
	assert_int_equal(out[1].off, 1000);
	assert_int_equal(out[1].len, 10);
	assert_int_equal(out[2].off, 4000);
	assert_int_equal(out[2].len, 100);

	/* 32 outputs over the whole area: the area once, at most. */
	m.u.op.u.generic.nr_write = AR_WIRE_MAX_ARGS;
	for (unsigned i = 0; i < AR_WIRE_MAX_ARGS; i++)
		m.u.op.u.generic.write[i] = (struct ar_wire_buf){
			.kind = AR_BUF_REF, .off = 0, .len = sizeof(data) };
	n = ar_wire_encode(e, &m, &p);
	memcpy(copy, p, (size_t)n);
	assert_int_equal(ar__req_parse(&ctx, copy, (size_t)n, &r), 0);
	nr = ar__req_written(&r, out);
	assert_int_equal(nr, 1);
	assert_int_equal(out[0].len, sizeof(data));

	/* sgemm 2x2x2 with C declared as the whole area: its 16 bytes. */
	memset(&m.u.op.u, 0, sizeof(m.u.op.u));
	m.u.op.op = AR_OP_BLAS_SGEMM;
	m.u.op.args_kind = AR_ARGS_SGEMM;
	m.u.op.u.sgemm = (struct ar_wire_sgemm){ .m = 2, .n = 2, .k = 2, .lda = 2,
						 .ldb = 2, .ldc = 2, .alpha = 1 };
	m.u.op.u.sgemm.a = (struct ar_wire_buf){ .kind = AR_BUF_REF, .off = 0, .len = 16 };
	m.u.op.u.sgemm.b = (struct ar_wire_buf){ .kind = AR_BUF_REF, .off = 16, .len = 16 };
	m.u.op.u.sgemm.c = (struct ar_wire_buf){ .kind = AR_BUF_REF, .off = 4096,
						 .len = sizeof(data) - 4096 };
	n = ar_wire_encode(e, &m, &p);
	memcpy(copy, p, (size_t)n);
	assert_int_equal(ar__req_parse(&ctx, copy, (size_t)n, &r), 0);
	assert_int_equal(r.status, 0);
	nr = ar__req_written(&r, out);
	assert_int_equal(nr, 1);
	assert_int_equal(out[0].off, 4096);
	assert_int_equal(out[0].len, 16);
	ar_wire_enc_destroy(e);
}

/* ---- SECURITY 11: connection storms and half-open handshakes ---- */

/* One uid opens hundreds of connections and never sends a Hello: the
 * broker holds a bounded number (tenant-handshakes), closes the rest at
 * once, keeps serving and admitting other uids, and admits that uid again
 * once its half-open connections timed out. */
static void test_broker_network_handshake_storm(void **state)
{
	/* Long enough to look at the broker well before the first timeout. */
	const char *args[] = { "--handshake-ms=4000", NULL };
	enum { N = 300 };
	static int fds[N];
	struct bystander *by, *late;
	int base, peak = 0, nr = 0;
	uint64_t t0;

	(void)state;
	start(args);
	by = bystander_start(NULL, BYSTANDER_UID);
	base = test_broker_settled_fds(&broker);
	t0 = now_ms();
	for (int i = 0; i < N; i++) {
		int fd = unix_silent();

		if (fd >= 0)
			fds[nr++] = fd;
	}
	/* Well within handshake-ms: everything the broker keeps is still
	 * kept. */
	for (int i = 0; i < 5; i++) {
		int now;

		usleep(100000);
		now = test_broker_fds(&broker);
		if (now > peak)
			peak = now;
	}
	print_message("%d silent connections: broker fds %d -> %d (peak) in %llu ms\n",
		      nr, base, peak, (unsigned long long)(now_ms() - t0));
	assert_true(now_ms() - t0 < 3500);
	assert_true(peak - base <= 16 + 16);
	/* Another uid gets in meanwhile; this one does not. */
	late = bystander_start(NULL, 65533);
	assert_true(test_broker_logged(&broker, "tenant-handshakes"));
	assert_int_not_equal(hello_status(), 0);
	/* Once the half-open ones timed out, this uid is admitted again,
	 * while its dead sockets are still open on our side. */
	for (uint64_t t1 = now_ms();; usleep(100000)) {
		if (hello_status() == 0) {
			print_message("uid 0 admitted again %llu ms after the storm began\n",
				      (unsigned long long)(now_ms() - t0));
			break;
		}
		if (now_ms() - t1 > 10000)
			fail_msg("uid 0 still not admitted 10 s after the storm");
	}
	for (int i = 0; i < nr; i++)
		close(fds[i]);
	bystander_check(late, BYSTANDER_BOUND_NS);
	bystander_check(by, BYSTANDER_BOUND_NS);
	assert_true(test_broker_settled_fds(&broker) <= base + 2);
}

/* Many TCP addresses, one silent connection each: max-handshakes bounds
 * the half-open connections of the listener; the broker's fds stay
 * bounded and its established tenants are served. */
static void test_broker_network_handshake_storm_addresses(void **state)
{
	const char *args[] = { "--tcp=127.0.0.1:0", "--allow-peers=127.0.0.0/8",
			       "--max-handshakes=32", "--handshake-ms=3000", NULL };
	enum { N = 200 };
	static int fds[N];
	struct bystander *by;
	int base, peak = 0;

	(void)state;
	start(args);
	by = bystander_start(NULL, BYSTANDER_UID);
	base = test_broker_settled_fds(&broker);
	for (int i = 0; i < N; i++) {
		char src[32];

		snprintf(src, sizeof(src), "127.0.%d.%d", 10 + i / 200, 1 + i % 200);
		fds[i] = tcp_connect_from(broker.tcp, src);
	}
	for (int i = 0; i < 5; i++) {
		int now;

		usleep(100000);
		now = test_broker_fds(&broker);
		if (now > peak)
			peak = now;
	}
	print_message("%d silent TCP peers: broker fds %d -> %d (peak)\n", N, base, peak);
	assert_true(peak - base <= 32 + 16);
	assert_true(test_broker_logged(&broker, "max-handshakes"));
	for (int i = 0; i < N; i++)
		close(fds[i]);
	/* A peer that speaks is admitted once they are gone. */
	for (uint64_t t1 = now_ms();; usleep(100000)) {
		int fd = tcp_connect(broker.tcp), st = stream_hello(fd, 0, 0, MIB, NULL, 0);

		close(fd);
		if (st == 0)
			break;
		if (now_ms() - t1 > 10000)
			fail_msg("still refused 10 s after the storm: %d", st);
	}
	bystander_check(by, BYSTANDER_BOUND_NS);
}

/* Stop this test's broker: it must exit cleanly (0: drained, no leak
 * reported by a sanitizer build) for the test to pass. */
static int stop_broker(void **state)
{
	int ret = 0;

	(void)state;
	if (broker.pid > 0 && test_broker_stop(&broker) != 0)
		ret = -1;
	if (saved_netns >= 0) {
		/* Back to where the other tests run (the namespace goes). */
		if (setns(saved_netns, CLONE_NEWNET))
			return -1;
		close(saved_netns);
		saved_netns = -1;
	}
	return ret;
}

int main(void)
{
#define T(f) cmocka_unit_test_teardown(f, stop_broker)
	const struct CMUnitTest tests[] = {
		T(test_broker_network_stream_hellos_rss),
		T(test_broker_network_stream_defaults_small),
		T(test_broker_network_listener_shm_bounds_memory),
		T(test_broker_network_tcp_default_refuses),
		T(test_broker_network_loopback_needs_loopback_entry),
		T(test_broker_network_allow_uids_not_bypassed),
		T(test_broker_network_host_address_needs_exact_entry),
		T(test_broker_network_tcp_tenant_is_address),
		T(test_broker_network_write_amplification),
		cmocka_unit_test(test_broker_network_written_ranges),
		T(test_broker_network_handshake_storm),
		T(test_broker_network_handshake_storm_addresses),
	};
#undef T

	if (geteuid() != 0) {
		fprintf(stderr, "test_broker_network needs root (other uids); skipped\n");
		return 77;
	}
	if (getenv("ACCELRING_TEST_FILTER"))
		cmocka_set_test_filter(getenv("ACCELRING_TEST_FILTER"));
	return cmocka_run_group_tests_name("broker_network", tests, NULL, NULL);
}

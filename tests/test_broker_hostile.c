/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_broker_hostile - SECURITY.md's attacks on a real accelringd, from a
 * raw client that speaks the protocol itself and then breaks it. Each
 * attack must cost the attacker its connection (or get a clear error) and
 * nobody else anything: after each, a well-behaved client still works.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <accelring/client.h>
#include <accelring/ring.h>
#include <accelring/wire.h>

#include "broker_harness.h"
#include "raw_client.h"

static struct test_broker broker;

#define MAX_FRAME 65536u	/* the broker's --max-frame in this suite */


/* SECURITY 1: a tail past the ring, wrapped, backwards or misaligned
 * poisons the tenant (EPROTO), and nothing is read out of range. */
static void test_broker_hostile_lying_tail(void **state)
{
	static const int64_t delta[] = { 65536 * 2, 65536 + 8, -8, 3, 0x80000000ll };

	(void)state;
	for (size_t i = 0; i < sizeof(delta) / sizeof(delta[0]); i++) {
		struct raw r;

		raw_open(&r);
		raw_session(&r);
		ar_store_release(&r.sq.g.ctl->prod_tail,
				 (uint32_t)(r.sq.tail + (uint32_t)delta[i]));
		(void)eventfd_write(r.doorbell, 1);
		assert_true(closed_by_broker(r.sock));
		/* The broker told us why, through the ring's flag too, unless
		 * it has already released the closed connection's pages
		 * (SECURITY 26: a kept memfd keeps nothing), flag included:
		 * then the page reads zero, the tail we wrote too. */
		assert_true((ar_load_acquire(&r.sq.g.ctl->flags) & AR_RING_F_ERROR) ||
			    ar_load_acquire(&r.sq.g.ctl->prod_tail) == 0);
		raw_close(&r);
	}
	assert_true(test_broker_logged(&broker, "submission ring corrupt"));
	others_unharmed();
}

/* A record that is not a message poisons the tenant (protocol error). */
static void test_broker_hostile_garbage_message(void **state)
{
	uint64_t junk[16];
	struct raw r;

	(void)state;
	memset(junk, 0x5a, sizeof(junk));
	raw_open(&r);
	raw_push(&r, junk, sizeof(junk));
	assert_true(closed_by_broker(r.sock));
	raw_close(&r);
	/* A message only the broker may send is refused the same way. */
	raw_open(&r);
	{
		struct ar_wire_msg m = { .type = AR_WIRE_COMPLETION };

		raw_send(&r, &m);
	}
	assert_true(closed_by_broker(r.sock));
	raw_close(&r);
	assert_true(test_broker_logged(&broker, "undecodable request"));
	others_unharmed();
}

/* SECURITY 3: offsets and lengths of 0, 1, UINT32_MAX, overflowing, below
 * the minimum, misaligned: EINVAL, and the connection stays usable. */
static void test_broker_hostile_bad_refs(void **state)
{
	struct { uint64_t a_off, a_len, c_off, c_len; int64_t m; } t[] = {
		{ 0, 0, 4096, 64, 4 },			/* A empty */
		{ 0, 1, 4096, 64, 4 },			/* A of 1 byte */
		{ 0, UINT32_MAX, 4096, 64, 4 },		/* past the area */
		{ UINT64_MAX - 8, 64, 4096, 64, 4 },	/* off + len overflows */
		{ 1ull << 20, 64, 4096, 64, 4 },	/* at the end */
		{ 0, 60, 4096, 64, 4 },			/* below 4x4 floats */
		{ 2, 64, 4096, 64, 4 },			/* misaligned */
		{ 0, 64, 4096, 64, 0 },			/* m = 0 */
		{ 0, 64, 4096, 64, -1 },		/* m < 0 */
		{ 0, 64, 4096, 64, 1ll << 40 },		/* m beyond int */
	};
	struct raw r;
	uint32_t sid;

	(void)state;
	raw_open(&r);
	sid = raw_session(&r);
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct ar_wire_msg m = { .type = AR_WIRE_OP };
		struct ar_wire_sgemm *s = &m.u.op.u.sgemm;
		struct ar_wire_completion c;

		m.u.op.id = 100 + i;
		m.u.op.session = sid;
		m.u.op.op = AR_OP_BLAS_SGEMM;
		m.u.op.args_kind = AR_ARGS_SGEMM;
		*s = (struct ar_wire_sgemm){ .m = t[i].m, .n = 4, .k = 4, .lda = 4,
					     .ldb = 4, .ldc = 4, .alpha = 1 };
		s->a = (struct ar_wire_buf){ .kind = AR_BUF_REF, .off = t[i].a_off, .len = t[i].a_len };
		s->b = (struct ar_wire_buf){ .kind = AR_BUF_REF, .off = 8192, .len = 64 };
		s->c = (struct ar_wire_buf){ .kind = AR_BUF_REF, .off = t[i].c_off, .len = t[i].c_len };
		raw_send(&r, &m);
		c = raw_complete(&r);
		assert_int_equal(c.id, 100 + i);
		if (c.status != -EINVAL)
			fail_msg("case %zu: status %d, want -EINVAL", i, c.status);
	}
	/* An inline output bigger than a completion can hold: EMSGSIZE. */
	{
		struct ar_wire_msg m = { .type = AR_WIRE_OP };
		struct ar_wire_completion c;

		m.u.op.id = 7;
		m.u.op.session = sid;
		m.u.op.op = AR_OP_IMAGE_CLASSIFY;
		m.u.op.args_kind = AR_ARGS_IMAGE;
		m.u.op.u.image.img = (struct ar_wire_buf){ .kind = AR_BUF_BYTES, .bytes = "x", .len = 1 };
		m.u.op.u.image.out_text = (struct ar_wire_buf){ .kind = AR_BUF_SIZE, .len = 1u << 30 };
		raw_send(&r, &m);
		c = raw_complete(&r);
		assert_int_equal(c.status, -EMSGSIZE);
	}
	/* And a valid op still runs on the same connection. */
	{
		struct ar_wire_msg m = { .type = AR_WIRE_OP };

		m.u.op.id = 8;
		m.u.op.session = sid;
		raw_send(&r, &m);
		assert_int_equal(raw_complete(&r).status, 0);
	}
	raw_close(&r);
	others_unharmed();
}

/* SECURITY 2: the broker acts on its private copy while another thread
 * flips the record's bytes in shared memory; whatever it sees, it never
 * crashes (this test runs under ASan in the sanitizer build). */
static _Atomic bool flipping;

static void *flipper(void *arg)
{
	struct raw *r = arg;
	unsigned x = 1;

	while (atomic_load(&flipping)) {
		x = x * 1103515245 + 12345;
		r->sq.g.data[(x >> 8) % 512] ^= (uint8_t)(x >> 24);
	}
	return NULL;
}

static void test_broker_hostile_double_fetch(void **state)
{
	struct raw r;
	pthread_t t;
	uint32_t sid;

	(void)state;
#if defined(__SANITIZE_THREAD__)
	/* The flipper races with our own producer on purpose; TSan would
	 * report the attack itself. The broker (another process) is what is
	 * under test, and the ASan build runs this. */
	skip();
#endif
	raw_open(&r);
	sid = raw_session(&r);
	atomic_store(&flipping, true);
	pthread_create(&t, NULL, flipper, &r);
	for (int i = 0; i < 2000; i++) {
		struct ar_wire_msg m = { .type = AR_WIRE_OP };
		const void *p;
		int64_t n;

		m.u.op.id = (uint64_t)i;
		m.u.op.session = sid;
		m.u.op.op = AR_OP_IMAGE_CLASSIFY;
		m.u.op.args_kind = AR_ARGS_IMAGE;
		m.u.op.u.image.img = (struct ar_wire_buf){ .kind = AR_BUF_REF, .off = 0, .len = 64 };
		m.u.op.u.image.out_text = (struct ar_wire_buf){ .kind = AR_BUF_SIZE, .len = 64 };
		n = ar_wire_encode(r.enc, &m, &p);
		if (ar_ring_sp_enqueue(&r.sq, p, (uint32_t)n))
			break;	/* poisoned, or full: either ends the run */
		ar_ring_sp_publish(&r.sq);
		(void)eventfd_write(r.doorbell, 1);
		while (ar_ring_sc_dequeue(&r.cq, (uint8_t[4096]){ 0 }, 4096) > 0)
			;
		ar_ring_sc_release(&r.cq);
	}
	atomic_store(&flipping, false);
	pthread_join(t, NULL);
	raw_close(&r);
	others_unharmed();
}

/* SECURITY 5: the region memfd cannot be shrunk or grown by the client. */
static void test_broker_hostile_memfd_sealed(void **state)
{
	struct raw r;

	(void)state;
	raw_open(&r);
	assert_int_equal(ftruncate(r.region.fd, 4096), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(ftruncate(r.region.fd, (off_t)r.region.bytes * 2), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(fcntl(r.region.fd, F_ADD_SEALS, F_SEAL_WRITE), -1);
	raw_close(&r);
	others_unharmed();
}

/* SECURITY 6: fds sent to the broker (one, or 253, or with truncated
 * control data) are closed and the connection refused; after 10k such
 * attempts the broker holds no more fds than before. */
static void test_broker_hostile_fd_abuse(void **state)
{
	int fds[253], base, after = -1;
	char why[256];

	(void)state;
	base = test_broker_settled_fds(&broker);
	for (int i = 0; i < 253; i++)
		fds[i] = eventfd(0, EFD_CLOEXEC);
	for (int i = 0; i < 10000; i++) {
		struct ar_wire_msg m = hello();
		int got[8], n, fd = raw_connect();

		send_frame(fd, &m, fds, i % 100 == 0 ? 253 : 1 + i % 3);
		if (i % 1000 == 0) {
			assert_int_equal(read_welcome(fd, got, &n, why, sizeof(why)), -EPROTO);
			assert_int_equal(n, 0);
			assert_non_null(strstr(why, "file descriptors"));
		}
		close(fd);
	}
	for (int i = 0; i < 253; i++)
		close(fds[i]);
	after = test_broker_settled_fds(&broker);
	assert_int_equal(after, base);
	others_unharmed();
}

/* A hello from another ABI major is refused with a reason; so is silence
 * past the handshake timeout, and a hello frame claiming to be huge. */
static void test_broker_hostile_handshake(void **state)
{
	struct ar_wire_msg m = hello();
	char why[256] = "";
	int fds[8], n, fd;
	uint32_t huge = htole32(1u << 30);

	(void)state;
	m.u.hello.abi_major = AR_ABI_MAJOR + 1;
	fd = raw_connect();
	send_frame(fd, &m, NULL, 0);
	assert_int_equal(read_welcome(fd, fds, &n, why, sizeof(why)), -EPROTONOSUPPORT);
	assert_non_null(strstr(why, "ABI"));
	close(fd);

	fd = raw_connect();
	assert_int_equal(send(fd, &huge, 4, 0), 4);
	assert_int_equal(read_welcome(fd, fds, &n, why, sizeof(why)), -EMSGSIZE);
	close(fd);

	m = hello();
	m.u.hello.data_bytes = 1ull << 40;
	fd = raw_connect();
	send_frame(fd, &m, NULL, 0);
	assert_int_equal(read_welcome(fd, fds, &n, why, sizeof(why)), -E2BIG);
	close(fd);

	/* The harness runs this broker with a 300 ms handshake limit. */
	fd = raw_connect();
	assert_true(closed_by_broker(fd));
	close(fd);
	assert_true(test_broker_logged(&broker, "no hello within"));
	others_unharmed();
}

/* SECURITY 9: a client that never reaps stops being served at capacity:
 * the broker keeps its requests in the client's own SQ, not in memory. */
static void test_broker_hostile_never_reaps(void **state)
{
	struct ar_wire_msg m = { .type = AR_WIRE_OP };
	struct raw r;
	uint32_t sid, sent = 0;
	const void *p;
	int64_t n;

	struct bystander *by = bystander_start(NULL, BYSTANDER_UID);

	(void)state;
	raw_open(&r);
	sid = raw_session(&r);
	m.u.op.session = sid;
	n = ar_wire_encode(r.enc, &m, &p);
	for (;;) {
		if (ar_ring_sp_enqueue(&r.sq, p, (uint32_t)n)) {
			ar_ring_sp_publish(&r.sq);
			(void)eventfd_write(r.doorbell, 1);
			usleep(200000);
			/* Full SQ, and it stays full: the broker stopped. */
			if (ar_ring_sp_enqueue(&r.sq, p, (uint32_t)n))
				break;
		}
		if (++sent > 10000000)
			fail_msg("the SQ never filled up");
	}
	assert_true(ar_load_acquire(&r.sq.g.ctl->cons_head) != r.sq.tail);
	bystander_check(by, 2000000000ull);
	others_unharmed();
	raw_close(&r);
}

/* The CPU hints (abi.h prod_cpu) are the tenant's to write, on both rings:
 * whatever they say, every op is answered and a bystander is served. They
 * steer only the waiting: claiming the worker's CPU makes it step aside at
 * most once a millisecond (worker.c step_aside()). */
static void test_broker_hostile_cpu_hint(void **state)
{
	const uint32_t lies[] = { 0, 1, 2, 3, 4, 0x7fffffffu, 0x80000000u, UINT32_MAX };
	struct ar_wire_msg m = { .type = AR_WIRE_OP };
	struct bystander *by = bystander_start(NULL, BYSTANDER_UID);
	struct raw r;

	(void)state;
	raw_open(&r);
	m.u.op.session = raw_session(&r);
	m.u.op.op = AR_OP_NOOP;
	for (uint32_t i = 0; i < 4000; i++) {
		uint32_t lie = lies[i % (sizeof(lies) / sizeof(lies[0]))];

		/* The SQ's (read by the worker), and the CQ's, which only
		 * the broker writes and only we read. */
		ar_store_relaxed(&r.sq.g.ctl->prod_cpu, lie);
		if (i & 1)
			ar_store_relaxed(&r.cq.g.ctl->prod_cpu, lie ^ 0x5a5a5a5au);
		m.u.op.id = i;
		raw_send(&r, &m);
		assert_int_equal(raw_complete(&r).status, 0);
	}
	bystander_check(by, 2000000000ull);
	others_unharmed();
	raw_close(&r);
}

/* ---- stream transport (VMs): a raw peer that speaks frames itself ---- */


/* SECURITY 17: a length prefix above --max-frame ends the connection on
 * the prefix alone: nothing of that size is allocated or waited for. */
static void test_broker_hostile_stream_oversized_prefix(void **state)
{
	static const uint32_t lens[] = { MAX_FRAME + 1, 1u << 30, UINT32_MAX };
	long rss0 = test_broker_rss_kib(&broker);

	(void)state;
	for (unsigned t = 0; t < 2; t++) {
		for (unsigned i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
			int fd = stream_open(t == 0);
			uint32_t le = htole32(lens[i]);
			char msg[96];

			stream_session(fd);
			assert_int_equal(send(fd, &le, 4, MSG_NOSIGNAL), 4);
			assert_true(closed_by_broker(fd));
			close(fd);
			snprintf(msg, sizeof(msg), "frame of %u bytes, at most %u",
				 lens[i], MAX_FRAME);
			assert_true(test_broker_logged(&broker, msg));
		}
	}
	/* Not one of those frames was buffered (a 1 GiB one would show). */
	assert_true(test_broker_rss_kib(&broker) - rss0 < 64 * 1024);
	others_unharmed();
}

/* SECURITY 17: a peer that sends a frame a byte at a time, slower than
 * --frame-ms for the whole frame, is disconnected. */
static void test_broker_hostile_stream_slow_peer(void **state)
{
	struct ar_wire_enc *e = ar_wire_enc_create();
	struct ar_wire_msg m = { .type = AR_WIRE_SESSION_OPEN };
	const uint8_t *p;
	uint8_t frame[256];
	int64_t n;
	int fd = stream_open(true);
	unsigned sent = 0;

	(void)state;
	m.u.session_open.id = 7;
	n = ar_wire_encode(e, &m, (const void **)&p);
	assert_true(n > 0 && n + 4 <= (int64_t)sizeof(frame));
	ar_frame_put_len(frame, (uint32_t)n);
	memcpy(frame + 4, p, (size_t)n);
	/* 100 ms a byte: the 300 ms limit passes after a few bytes. */
	for (; sent < (unsigned)n + 4; sent++) {
		if (send(fd, frame + sent, 1, MSG_NOSIGNAL) != 1)
			break;
		usleep(100000);
	}
	assert_true(sent < (unsigned)n + 4);
	assert_true(closed_by_broker(fd));
	assert_true(test_broker_logged(&broker, "(slow peer)"));
	close(fd);
	ar_wire_enc_destroy(e);
	others_unharmed();
}

/* A frame cut short by the peer's close is dropped with the connection;
 * the broker's fds return to what they were. */
static void test_broker_hostile_stream_truncated_frame(void **state)
{
	uint8_t bytes[64] = { 0 };
	int before, fd;

	(void)state;
	before = test_broker_settled_fds(&broker);
	for (int i = 0; i < 20; i++) {
		fd = stream_open(i % 2);
		ar_frame_put_len(bytes, 1000);
		assert_int_equal(send(fd, bytes, sizeof(bytes), MSG_NOSIGNAL),
				 (ssize_t)sizeof(bytes));
		shutdown(fd, SHUT_WR);
		assert_true(closed_by_broker(fd));
		close(fd);
	}
	assert_int_equal(test_broker_settled_fds(&broker), before);
	others_unharmed();
}

/* Frames that decode to nonsense, or to messages only the broker sends,
 * or to data outside the peer's data area: disconnected with the reason. */
static void test_broker_hostile_stream_bad_frames(void **state)
{
	static const struct {
		const char *log;
	} cases[] = {
		{ "undecodable frame" },
		{ "which clients do not send" },
		{ "outside the" },
		{ "outside the" },
	};
	uint8_t junk[128];

	(void)state;
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int fd = stream_open(true);
		struct ar_wire_msg m = { 0 };

		switch (i) {
		case 0:
			memset(junk, 0xa5, sizeof(junk));
			ar_frame_put_len(junk, sizeof(junk) - 4);
			assert_int_equal(send(fd, junk, sizeof(junk), MSG_NOSIGNAL),
					 (ssize_t)sizeof(junk));
			break;
		case 1:
			m.type = AR_WIRE_COMPLETION;
			m.u.completion.id = 1;
			stream_send(fd, &m);
			break;
		case 2:
			/* The data area is 1 MiB (hello()). */
			m.type = AR_WIRE_CHUNK;
			m.u.chunk.off = (1 << 20) - 8;
			m.u.chunk.bytes = junk;
			m.u.chunk.len = 16;
			stream_send(fd, &m);
			break;
		case 3:
			m.type = AR_WIRE_CHUNK;
			m.u.chunk.off = UINT64_MAX - 4;
			m.u.chunk.bytes = junk;
			m.u.chunk.len = 16;
			stream_send(fd, &m);
			break;
		}
		assert_true(closed_by_broker(fd));
		close(fd);
		assert_true(test_broker_logged(&broker, cases[i].log));
	}
	others_unharmed();
}

/* Idle after the handshake: closed after --idle-ms. Silent before it (a
 * half-open connection): closed after --handshake-ms, like on UNIX. */
static void test_broker_hostile_stream_idle(void **state)
{
	int fd;

	(void)state;
	fd = stream_open(true);
	stream_session(fd);
	assert_true(closed_by_broker(fd));
	close(fd);
	assert_true(test_broker_logged(&broker, "idle for 1500 ms"));

	fd = tcp_connect(broker.tcp);
	assert_true(closed_by_broker(fd));
	close(fd);
	others_unharmed();
}

/* Keepalives are on for TCP peers, so a vanished VM is found: the
 * broker's end of our connection has its keepalive timer running
 * (/proc/net/tcp, timer kind 2). */
static void test_broker_hostile_stream_keepalive(void **state)
{
	struct sockaddr_in me;
	socklen_t len = sizeof(me);
	unsigned bport = (unsigned)atoi(strrchr(broker.tcp, ':') + 1), found = 0;
	char line[512];
	FILE *f;
	int fd;

	(void)state;
	fd = stream_open(true);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&me, &len), 0);
	f = fopen("/proc/net/tcp", "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned lport, rport, st, tr;

		if (sscanf(line, " %*u: %*x:%x %*x:%x %x %*x:%*x %x:", &lport, &rport,
			   &st, &tr) != 4)
			continue;
		if (lport == bport && rport == ntohs(me.sin_port)) {
			found++;
			assert_int_equal(tr, 2);	/* keepalive timer */
		}
	}
	fclose(f);
	assert_int_equal(found, 1);
	close(fd);
}

/* A peer that floods ops and never reads a completion stalls only itself:
 * its socket, then its CQ, then its SQ fill, and the broker stops reading
 * it. Its memory stays what the connection was given. */
static void test_broker_hostile_stream_never_reads(void **state)
{
	struct ar_wire_enc *e = ar_wire_enc_create();
	struct ar_wire_msg m = { .type = AR_WIRE_OP };
	uint8_t frame[256];
	const void *p;
	int64_t n;
	long rss0;
	int fd;
	unsigned long sent = 0;

	(void)state;
	fd = stream_open(true);
	m.u.op.session = stream_session(fd);
	m.u.op.op = AR_OP_NOOP;
	rss0 = test_broker_rss_kib(&broker);
	n = ar_wire_encode(e, &m, &p);
	ar_frame_put_len(frame, (uint32_t)n);
	memcpy(frame + 4, p, (size_t)n);
	/* Until the broker has stopped taking bytes for half a second. */
	for (size_t at = 0, idle = 0; idle < 5;) {
		ssize_t k = send(fd, frame + at, (size_t)n + 4 - at,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (k > 0) {
			at += (size_t)k;
			if (at == (size_t)n + 4) {
				at = 0;
				sent++;
			}
			idle = 0;
			continue;
		}
		if (k < 0 && errno != EAGAIN)
			fail_msg("send: %s after %lu ops", strerror(errno), sent);
		usleep(100000);
		idle++;
		if (sent > 50000000)
			fail_msg("the broker never stopped reading");
	}
	assert_true(sent > 1000);
	assert_true(test_broker_alive(&broker));
	others_unharmed();
	/* Fixed buffers per connection, nothing per queued op. */
	assert_true(test_broker_rss_kib(&broker) - rss0 < 64 * 1024);
	close(fd);
	ar_wire_enc_destroy(e);
}

/* SECURITY 7 over TCP: the tenant is the source address, never a payload.
 * A session opened from 127.0.0.1 serves another connection from there,
 * and refuses one from 127.0.0.2 (loopback too), which claims its id. */
static void test_broker_hostile_stream_tenant_by_address(void **state)
{
	struct ar_wire_msg m = { .type = AR_WIRE_SESSION_CLOSE };
	int mine = stream_open(true), again = stream_open(true), other;
	uint32_t sid = stream_session(mine);

	(void)state;
	other = stream_handshake(tcp_connect_from(broker.tcp, "127.0.0.2"));
	assert_int_equal(stream_noop(mine, sid), 0);
	assert_int_equal(stream_noop(again, sid), 0);
	assert_int_equal(stream_noop(other, sid), -EPERM);
	m.u.session_close.id = sid;
	assert_int_equal(stream_call(other, &m, NULL), -EPERM);
	/* Still there for its owner. */
	assert_int_equal(stream_noop(mine, sid), 0);
	assert_true(test_broker_logged(&broker, "tcp 127.0.0.2:"));
	close(mine);
	close(again);
	close(other);
	others_unharmed();
}

/* Shared memory cannot cross TCP; allow-peers refuses other addresses
 * with a clear reason in the Welcome. */
static void test_broker_hostile_stream_refused(void **state)
{
	const char *args[] = { "--tcp=127.0.0.1:0", "--allow-peers=10.0.0.0/8,vsock:3", NULL };
	struct test_broker other;
	struct ar_wire_msg m = hello();
	char why[256] = "";
	int fds[8], nfds, fd;

	(void)state;
	fd = tcp_connect(broker.tcp);
	send_frame(fd, &m, NULL, 0);
	assert_int_equal(read_welcome(fd, fds, &nfds, why, sizeof(why)), -EPROTONOSUPPORT);
	assert_non_null(strstr(why, "stream transport"));
	close(fd);

	assert_int_equal(test_broker_start(&other, args), 0);
	fd = tcp_connect(other.tcp);
	m.u.hello.transport = AR_TRANSPORT_STREAM;
	send_frame(fd, &m, NULL, 0);
	assert_int_equal(read_welcome(fd, fds, &nfds, why, sizeof(why)), -EACCES);
	assert_non_null(strstr(why, "not in allow-peers"));
	close(fd);
	assert_int_equal(test_broker_stop(&other), 0);
	others_unharmed();
}

/* The suite's broker exits 0 on SIGTERM: no sanitizer report, no leak
 * (a failing group teardown does not fail a cmocka 1.1 run, so this is a
 * test of its own, the last). */
static void test_broker_hostile_exits_clean(void **state)
{
	(void)state;
	assert_int_equal(test_broker_stop(&broker), 0);
}

static int setup(void **state)
{
	/* Short stream limits so that the attacks end quickly. The TCP
	 * peers are local, from 127.0.0.1 and (a second tenant) 127.0.0.2:
	 * allow-peers must list them, with a loopback entry. */
	const char *args[] = { "--handshake-ms=300", "--tcp=127.0.0.1:0",
			       "--allow-peers=127.0.0.0/8",
			       "--frame-ms=300", "--idle-ms=1500",
			       "--max-frame=65536", NULL };

	(void)state;
	raw_use(&broker);
	return test_broker_start(&broker, args);
}

static int teardown(void **state)
{
	(void)state;
	/* Stopped by the last test already, which checked its exit. */
	if (broker.pid <= 0)
		return 0;
	return test_broker_stop(&broker) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_broker_hostile_lying_tail),
		cmocka_unit_test(test_broker_hostile_garbage_message),
		cmocka_unit_test(test_broker_hostile_bad_refs),
		cmocka_unit_test(test_broker_hostile_double_fetch),
		cmocka_unit_test(test_broker_hostile_memfd_sealed),
		cmocka_unit_test(test_broker_hostile_fd_abuse),
		cmocka_unit_test(test_broker_hostile_handshake),
		cmocka_unit_test(test_broker_hostile_never_reaps),
		cmocka_unit_test(test_broker_hostile_cpu_hint),
		cmocka_unit_test(test_broker_hostile_stream_oversized_prefix),
		cmocka_unit_test(test_broker_hostile_stream_slow_peer),
		cmocka_unit_test(test_broker_hostile_stream_truncated_frame),
		cmocka_unit_test(test_broker_hostile_stream_bad_frames),
		cmocka_unit_test(test_broker_hostile_stream_idle),
		cmocka_unit_test(test_broker_hostile_stream_keepalive),
		cmocka_unit_test(test_broker_hostile_stream_never_reads),
		cmocka_unit_test(test_broker_hostile_stream_tenant_by_address),
		cmocka_unit_test(test_broker_hostile_stream_refused),
		cmocka_unit_test(test_broker_hostile_exits_clean),
	};

	if (getenv("ACCELRING_TEST_FILTER"))
		cmocka_set_test_filter(getenv("ACCELRING_TEST_FILTER"));
	return cmocka_run_group_tests_name("broker_hostile", tests, setup, teardown);
}

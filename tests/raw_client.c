/* SPDX-License-Identifier: Apache-2.0 */
/*
 * raw_client - a client that speaks the wire protocol and the region ABI
 * itself, for the adversarial suites: everything a hostile tenant can do
 * starts from here, and breaks the protocol on purpose afterwards.
 */
#include <endian.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <accelring/client.h>

#include "raw_client.h"

const struct test_broker *raw_broker;

void raw_use(const struct test_broker *b)
{
	raw_broker = b;
}

int raw_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 5 };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	strcpy(sa.sun_path, raw_broker->sock);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

void send_frame(int fd, const struct ar_wire_msg *m, const int *fds, int nfds)
{
	struct ar_wire_enc *e = ar_wire_enc_create();
	union {
		struct cmsghdr align;
		char b[CMSG_SPACE(253 * sizeof(int))];
	} cb;
	struct msghdr msg = { 0 };
	struct iovec iov[2];
	const void *p;
	int64_t n = ar_wire_encode(e, m, &p);
	uint32_t len = htole32((uint32_t)n);

	iov[0] = (struct iovec){ &len, 4 };
	iov[1] = (struct iovec){ (void *)p, (size_t)n };
	msg.msg_iov = iov;
	msg.msg_iovlen = 2;
	if (nfds) {
		struct cmsghdr *cm;

		memset(&cb, 0, sizeof(cb));
		msg.msg_control = cb.b;
		msg.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, (size_t)nfds * sizeof(int));
	}
	(void)sendmsg(fd, &msg, MSG_NOSIGNAL);
	ar_wire_enc_destroy(e);
}

struct ar_wire_msg hello(void)
{
	struct ar_wire_msg m = { .type = AR_WIRE_HELLO };

	m.u.hello = (struct ar_wire_hello){ .abi_major = AR_ABI_MAJOR,
					    .abi_minor = AR_ABI_MINOR,
					    .channels = 1, .data_bytes = 1 << 20 };
	return m;
}

/* Read the welcome; returns its status, fills fds. */
int read_welcome(int fd, int *fds, int *nfds, char *why, size_t whylen)
{
	union {
		struct cmsghdr align;
		char b[CMSG_SPACE(253 * sizeof(int))];
	} cb;
	uint64_t frame[128];
	struct iovec iov = { frame, sizeof(frame) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = cb.b, .msg_controllen = sizeof(cb.b) };
	struct ar_wire_msg m;
	uint64_t copy[128];
	ssize_t n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
	uint32_t len;

	*nfds = 0;
	if (n < 4)
		return -ECONNRESET;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
		int k = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));

		memcpy(fds + *nfds, CMSG_DATA(cm), (size_t)k * sizeof(int));
		*nfds += k;
	}
	memcpy(&len, frame, 4);
	len = le32toh(len);
	assert_true(4 + len <= (size_t)n);
	memcpy(copy, (uint8_t *)frame + 4, len);
	assert_int_equal(ar_wire_decode(copy, len, &m), 0);
	assert_int_equal(m.type, AR_WIRE_WELCOME);
	if (why && m.u.welcome.message)
		snprintf(why, whylen, "%s", m.u.welcome.message);
	return m.u.welcome.status;
}

void raw_open(struct raw *r)
{
	struct ar_wire_msg m = hello();
	int fds[8], nfds;

	memset(r, 0, sizeof(*r));
	r->sock = raw_connect();
	send_frame(r->sock, &m, NULL, 0);
	assert_int_equal(read_welcome(r->sock, fds, &nfds, NULL, 0), 0);
	assert_int_equal(nfds, 3);
	assert_int_equal(ar_region_attach(&r->region, fds[0]), 0);
	r->doorbell = fds[1];
	r->wake = fds[2];
	assert_int_equal(ar_ring_prod_init(&r->sq, &r->region, 0, AR_RING_SQ), 0);
	assert_int_equal(ar_ring_cons_init(&r->cq, &r->region, 0, AR_RING_CQ), 0);
	r->enc = ar_wire_enc_create();
	r->data = ar_region_data(&r->region, &r->data_bytes);
}

void raw_close(struct raw *r)
{
	ar_wire_enc_destroy(r->enc);
	ar_region_release(&r->region);
	close(r->doorbell);
	close(r->wake);
	close(r->sock);
}

void raw_push(struct raw *r, const void *buf, uint32_t len)
{
	assert_int_equal(ar_ring_sp_enqueue(&r->sq, buf, len), 0);
	ar_ring_sp_publish(&r->sq);
	(void)eventfd_write(r->doorbell, 1);
}

void raw_send(struct raw *r, const struct ar_wire_msg *m)
{
	const void *p;
	int64_t n = ar_wire_encode(r->enc, m, &p);

	assert_true(n > 0);
	raw_push(r, p, (uint32_t)n);
}

/* The next completion, waiting up to 5 s. */
struct ar_wire_completion raw_complete(struct raw *r)
{
	static uint64_t copy[8192];
	struct ar_wire_msg m;
	struct ar_ring_rec rec;
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (ar_ring_sc_peek(&r->cq, &rec) != 1) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > 5)
			fail_msg("no completion within 5 s");
		usleep(100);
	}
	memcpy(copy, rec.data, rec.len);
	ar_ring_sc_consume(&r->cq);
	ar_ring_sc_release(&r->cq);
	assert_int_equal(ar_wire_decode(copy, rec.len, &m), 0);
	assert_int_equal(m.type, AR_WIRE_COMPLETION);
	return m.u.completion;
}

uint32_t raw_session(struct raw *r)
{
	struct ar_wire_msg m = { .type = AR_WIRE_SESSION_OPEN };
	struct ar_wire_completion c;

	m.u.session_open.id = 1;
	raw_send(r, &m);
	c = raw_complete(r);
	assert_int_equal(c.status, 0);
	return (uint32_t)c.value;
}

/* Whether the broker closed our socket within 5 s. */
bool closed_by_broker(int fd)
{
	char b[64];
	ssize_t n;

	for (int i = 0; i < 50; i++) {
		n = recv(fd, b, sizeof(b), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN))
			return true;
		usleep(100000);
	}
	return false;
}

void served_at(const char *address)
{
	struct ar_client *c;
	struct ar_queue *q;
	struct ar_cqe cqe;
	uint32_t sid;

	assert_int_equal(ar_client_connect(address, &c), 0);
	assert_int_equal(ar_queue_get(c, &q), 0);
	assert_int_equal(ar_session_open(q, 0, &sid), 0);
	assert_int_equal(ar_submit_noop(q, sid, 1), 0);
	assert_int_equal(ar_wait(q, &cqe, 1, 1, 5ll * 1000000000), 1);
	assert_int_equal(cqe.status, 0);
	ar_client_close(c);
}

/* Well-behaved clients still get served, over shared memory and over TCP. */
void others_unharmed(void)
{
	char tcp[128];

	assert_true(test_broker_alive(raw_broker));
	served_at(raw_broker->address);
	snprintf(tcp, sizeof(tcp), "tcp://%s", raw_broker->tcp);
	served_at(tcp);
}

/* From the source address src (NULL: any). */
int tcp_connect_from(const char *hostport, const char *src)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct timeval tv = { .tv_sec = 5 };
	char host[64];
	const char *colon = strrchr(hostport, ':');
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_non_null(colon);
	if (src) {
		struct sockaddr_in me = { .sin_family = AF_INET };

		assert_int_equal(inet_pton(AF_INET, src, &me.sin_addr), 1);
		assert_int_equal(bind(fd, (struct sockaddr *)&me, sizeof(me)), 0);
	}
	snprintf(host, sizeof(host), "%.*s", (int)(colon - hostport), hostport);
	assert_int_equal(inet_pton(AF_INET, host, &sa.sin_addr), 1);
	sa.sin_port = htons((uint16_t)atoi(colon + 1));
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

int tcp_connect(const char *hostport)
{
	return tcp_connect_from(hostport, NULL);
}

/* The stream handshake on a connected fd. */
int stream_handshake(int fd)
{
	struct ar_wire_msg m = hello();
	int fds[8], nfds;

	m.u.hello.transport = AR_TRANSPORT_STREAM;
	send_frame(fd, &m, NULL, 0);
	assert_int_equal(read_welcome(fd, fds, &nfds, NULL, 0), 0);
	assert_int_equal(nfds, 0);
	return fd;
}

/* Connect over TCP (or the UNIX socket) and do the stream handshake. */
int stream_open(bool tcp)
{
	return stream_handshake(tcp ? tcp_connect(raw_broker->tcp) : raw_connect());
}

void stream_send(int fd, const struct ar_wire_msg *m)
{
	send_frame(fd, m, NULL, 0);
}

/* The next frame's message (into buf); fails the test after 5 s. */
void stream_read(int fd, struct ar_wire_msg *m, uint64_t *buf, size_t cap)
{
	uint32_t len;

	assert_int_equal(recv(fd, &len, 4, MSG_WAITALL), 4);
	len = le32toh(len);
	assert_true(len <= cap);
	assert_int_equal(recv(fd, buf, len, MSG_WAITALL), (ssize_t)len);
	assert_int_equal(ar_wire_decode(buf, len, m), 0);
}

/* Send m and return its completion's status (and value). */
int stream_call(int fd, struct ar_wire_msg *m, uint64_t *value)
{
	static uint64_t buf[RAW_MAX_FRAME / 8];

	stream_send(fd, m);
	stream_read(fd, m, buf, sizeof(buf));
	assert_int_equal(m->type, AR_WIRE_COMPLETION);
	if (value)
		*value = m->u.completion.value;
	return m->u.completion.status;
}

uint32_t stream_session(int fd)
{
	struct ar_wire_msg m = { .type = AR_WIRE_SESSION_OPEN };
	uint64_t sid;

	m.u.session_open.id = 1;
	assert_int_equal(stream_call(fd, &m, &sid), 0);
	return (uint32_t)sid;
}

int stream_noop(int fd, uint32_t sid)
{
	struct ar_wire_msg m = { .type = AR_WIRE_OP };

	m.u.op.id = 2;
	m.u.op.session = sid;
	m.u.op.op = AR_OP_NOOP;
	return stream_call(fd, &m, NULL);
}

/* ---- the bystander ---- */

struct bystander {
	pid_t pid;
	struct shared {
		_Atomic int stop;
		_Atomic int ready;
		struct bystander_stats st;
		uint64_t nr_samples;
		uint64_t lat[BYSTANDER_SAMPLES];
	} *sh;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void bystander_run(struct shared *sh, const char *address)
{
	struct ar_client *c;
	struct ar_queue *q;
	uint32_t sid;
	int ret;

	ret = ar_client_connect(address, &c);
	if (!ret)
		ret = ar_queue_get(c, &q);
	if (!ret)
		ret = ar_session_open(q, 0, &sid);
	if (ret) {
		sh->st.err = ret;
		atomic_store(&sh->ready, 1);
		return;
	}
	while (!atomic_load(&sh->stop)) {
		struct ar_cqe cqe;
		uint64_t t0 = mono_ns(), dt;

		sh->st.submitted++;
		ret = ar_submit_noop(q, sid, sh->st.submitted);
		if (!ret)
			ret = ar_wait(q, &cqe, 1, 1, 10ll * 1000000000) == 1 ? 0 : -ETIMEDOUT;
		if (ret) {
			sh->st.err = ret;
			break;
		}
		dt = mono_ns() - t0;
		if (cqe.status)
			sh->st.failed++;
		else
			sh->st.completed++;
		if (dt > sh->st.max_ns)
			sh->st.max_ns = dt;
		if (sh->nr_samples < BYSTANDER_SAMPLES)
			sh->lat[sh->nr_samples++] = dt;
		atomic_store(&sh->ready, 1);
		usleep(500);
	}
	ar_client_close(c);
}

struct bystander *bystander_start(const char *address, uint32_t uid)
{
	struct bystander *b = calloc(1, sizeof(*b));
	char addr[256];

	assert_non_null(b);
	snprintf(addr, sizeof(addr), "%s", address ? address : raw_broker->address);
	b->sh = mmap(NULL, sizeof(*b->sh), PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(b->sh != MAP_FAILED);
	b->pid = fork();
	assert_true(b->pid >= 0);
	if (b->pid == 0) {
		alarm(600);
		if (setresgid(uid, uid, uid) || setresuid(uid, uid, uid))
			b->sh->st.err = -EPERM;
		else
			bystander_run(b->sh, addr);
		atomic_store(&b->sh->ready, 1);
		_exit(0);
	}
	for (int i = 0; i < 10000 && !atomic_load(&b->sh->ready); i++)
		usleep(1000);
	if (!atomic_load(&b->sh->ready) || b->sh->st.err)
		fail_msg("bystander (uid %u) not served: %d", uid, b->sh->st.err);
	return b;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

void bystander_stop(struct bystander *b, struct bystander_stats *st)
{
	int status;

	atomic_store(&b->sh->stop, 1);
	if (waitpid(b->pid, &status, 0) != b->pid)
		kill(b->pid, SIGKILL);
	*st = b->sh->st;
	if (b->sh->nr_samples) {
		uint64_t n = b->sh->nr_samples;

		qsort(b->sh->lat, n, sizeof(b->sh->lat[0]), cmp_u64);
		st->p50_ns = b->sh->lat[n / 2];
		st->p99_ns = b->sh->lat[n * 99 / 100];
	}
	munmap(b->sh, sizeof(*b->sh));
	free(b);
}

struct bystander_stats bystander_check(struct bystander *b, uint64_t bound_ns)
{
	struct bystander_stats st;

	bystander_stop(b, &st);
	print_message("bystander: %llu noops, p50 %.1f us, p99 %.1f us, max %.1f ms\n",
		      (unsigned long long)st.completed, st.p50_ns / 1e3,
		      st.p99_ns / 1e3, st.max_ns / 1e6);
	if (st.err)
		fail_msg("bystander lost its connection: %d", st.err);
	if (st.submitted != st.completed + st.failed)
		fail_msg("bystander: submitted %llu != completed %llu + failed %llu",
			 (unsigned long long)st.submitted,
			 (unsigned long long)st.completed,
			 (unsigned long long)st.failed);
	if (st.failed || !st.completed)
		fail_msg("bystander: %llu failed, %llu completed",
			 (unsigned long long)st.failed, (unsigned long long)st.completed);
	if (st.max_ns > bound_ns)
		fail_msg("bystander waited %.1f ms for a noop (bound %.1f ms)",
			 st.max_ns / 1e6, bound_ns / 1e6);
	return st;
}

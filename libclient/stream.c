/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The stream transport, for clients that cannot share memory with the
 * broker (a VM reaching it over vsock or TCP, or a UNIX-socket client that
 * asks for it): the same messages, each in a frame (a 32-bit little-endian
 * length, then the message) on the socket.
 *
 * The API does not change. The data area is local memory here; what an op
 * reads from it travels before the op as Chunk frames, and what the op
 * wrote comes back as Chunks before its completion, so ar_buf_alloc()
 * buffers and refs work as with shared memory. One connection per queue
 * (thread); many ops may be in flight on it.
 *
 * Deadlock avoidance: a queue that must wait to send keeps reading its
 * completions, so the broker is never blocked on a client that is itself
 * blocked on the broker.
 */
#include <errno.h>
#include <linux/vm_sockets.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "client_pvt.h"

#define HANDSHAKE_TIMEOUT_S 10
/* A Chunk's encoding beyond its bytes: generous. */
#define CHUNK_OVERHEAD 128u
/* Received bytes beyond the largest frame, for several small ones. */
#define IN_SLACK 65536u

struct ar_stream_q {
	int fd;
	uint32_t max_frame;
	uint32_t max_request;	/* the broker's largest request (Welcome) */
	uint8_t *out;			/* frames not yet sent */
	size_t out_len, out_sent, out_cap;
	uint8_t *in;			/* bytes received, frames not yet handled */
	size_t in_len, in_cap;
	uint64_t *scratch;		/* an aligned copy of one frame */
	struct ar_wire_msg m;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- connecting ---- */

static int connect_unix(struct ar_client *c)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	strcpy(sa.sun_path, c->path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	return fd;
}

static int connect_tcp(struct ar_client *c)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai, *a;
	int fd = -1, one = 1, ret = getaddrinfo(c->host, c->port, &hints, &ai);

	if (ret) {
		/* Each failure its own errno, and its words in the error. */
		int err = ar__gai_errno(ret);

		snprintf(c->error, sizeof(c->error), "cannot resolve host %.200s (%.200s, %s): %s",
			 c->host, c->address, c->from,
			 ret == EAI_SYSTEM ? strerror(-err) : gai_strerror(ret));
		return err;
	}
	ret = -ECONNREFUSED;
	for (a = ai; a; a = a->ai_next) {
		fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		if (!connect(fd, a->ai_addr, a->ai_addrlen))
			break;
		ret = -errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	if (fd < 0)
		return ret;
	/* Requests are small and latency matters; a dead broker host is
	 * noticed by keepalive. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	return fd;
}

static int connect_vsock(struct ar_client *c)
{
	struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = c->cid,
				  .svm_port = c->vport };
	int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	return fd;
}

int ar__stream_link_open(struct ar_client *c, struct link **out)
{
	struct timeval tv = { .tv_sec = HANDSHAKE_TIMEOUT_S }, none = { 0 };
	struct ar_stream_q *st = NULL;
	struct ar_wire_msg m;
	uint64_t buf[128];
	struct link *l = NULL;
	int fd, fds[4], nfds, ret;

	if (c->kind == AR_ADDR_TCP)
		fd = connect_tcp(c);
	else if (c->kind == AR_ADDR_VSOCK)
		fd = connect_vsock(c);
	else
		fd = connect_unix(c);
	if (fd < 0) {
		/* A name that did not resolve said so already. */
		if (!c->error[0])
			ar__connect_failed(c, fd);
		return fd;
	}
	/* Bounded: a broker that accepts and never answers is an error. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	nfds = ar__handshake(c, fd, AR_TRANSPORT_STREAM, fds, 4, &m, buf, sizeof(buf));
	if (nfds < 0) {
		close(fd);
		return nfds;
	}
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	if (m.u.welcome.status) {
		close(fd);
		return m.u.welcome.status < 0 ? m.u.welcome.status : -EPROTO;
	}
	if (nfds || m.u.welcome.max_frame < 4096) {
		snprintf(c->error, sizeof(c->error), "the broker's Welcome holds %d fds and "
			 "a %u-byte frame limit (protocol error)", nfds, m.u.welcome.max_frame);
		close(fd);
		return -EPROTO;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof(none));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof(none));
	ret = -ENOMEM;
	l = calloc(1, sizeof(*l));
	if (!l)
		goto err;
	l->client = c;
	l->sock = fd;
	l->tenant = m.u.welcome.tenant;
	l->stream = true;
	l->max_frame = m.u.welcome.max_frame;
	l->data_bytes = c->data_bytes ? c->data_bytes : AR_STREAM_DATA_BYTES;
	/* Pages are only touched as buffers are used. */
	l->data = mmap(NULL, l->data_bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (l->data == MAP_FAILED) {
		l->data = NULL;
		goto err;
	}
	l->nr_channels = 1;
	l->q = calloc(1, sizeof(*l->q));
	st = calloc(1, sizeof(*st));
	if (!l->q || !st || ar__alloc_init(l) || ar__queue_init(l, 0))
		goto err;
	st->fd = fd;
	st->max_frame = l->max_frame;
	st->max_request = m.u.welcome.max_request && m.u.welcome.max_request < l->max_frame ?
				  m.u.welcome.max_request : l->max_frame;
	st->out_cap = st->in_cap = AR_FRAME_HDR + l->max_frame + IN_SLACK;
	st->out = malloc(st->out_cap);
	st->in = malloc(st->in_cap);
	st->scratch = aligned_alloc(8, (l->max_frame + 7) & ~7u);
	if (!st->out || !st->in || !st->scratch)
		goto err;
	l->q[0].st = st;
	st = NULL;
	*out = l;
	return 0;
err:
	if (st) {
		free(st->out);
		free(st->in);
		free(st->scratch);
		free(st);
	}
	if (l && l->q) {
		ar__link_close(l);	/* closes fd */
		return ret;
	}
	if (l && l->data)
		munmap(l->data, l->data_bytes);
	free(l);
	close(fd);
	return ret;
}

void ar__stream_queue_fini(struct ar_queue *q)
{
	struct ar_stream_q *st = q->st;

	if (!st)
		return;
	free(st->out);
	free(st->in);
	free(st->scratch);
	free(st);
	q->st = NULL;
}

/* ---- receiving ---- */

/* Handle the whole frames received. Returns completions recorded, or a
 * negative error (the queue is then gone). */
static int handle_frames(struct ar_queue *q)
{
	struct ar_stream_q *st = q->st;
	struct link *l = q->link;
	size_t pos = 0;
	int n = 0;

	while (st->in_len - pos >= AR_FRAME_HDR) {
		uint32_t len = ar_frame_get_len(st->in + pos);
		uint8_t *p = st->in + pos + AR_FRAME_HDR;

		if (len > st->max_frame)
			return ar__gone(q, -EPROTO);
		if (st->in_len - pos - AR_FRAME_HDR < len)
			break;
		if ((uintptr_t)p % 8) {
			memcpy(st->scratch, p, len);
			p = (uint8_t *)st->scratch;
		}
		if (ar_wire_decode(p, len, &st->m))
			return ar__gone(q, -EPROTO);
		if (st->m.type == AR_WIRE_CHUNK) {
			const struct ar_wire_chunk *k = &st->m.u.chunk;

			if (k->off > l->data_bytes || k->len > l->data_bytes - k->off)
				return ar__gone(q, -EPROTO);
			memcpy(l->data + k->off, k->bytes, k->len);
		} else if (st->m.type == AR_WIRE_COMPLETION) {
			n += ar__complete(q, &st->m.u.completion);
		} else {
			return ar__gone(q, -EPROTO);
		}
		pos += AR_FRAME_HDR + len;
	}
	memmove(st->in, st->in + pos, st->in_len - pos);
	st->in_len -= pos;
	return n;
}

/* Read what the socket has, without blocking, and handle it. */
static int receive(struct ar_queue *q)
{
	struct ar_stream_q *st = q->st;
	int n = 0, ret;

	for (;;) {
		ssize_t got = recv(st->fd, st->in + st->in_len, st->in_cap - st->in_len,
				   MSG_DONTWAIT);

		if (got < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (got <= 0) {
			/* What arrived before the end is still ours. */
			ret = handle_frames(q);
			if (ret > 0)
				n += ret;
			ar__gone(q, -ECONNRESET);
			return n ? n : -ECONNRESET;
		}
		st->in_len += (size_t)got;
		ret = handle_frames(q);
		if (ret < 0)
			return ret;
		n += ret;
	}
	return n;
}

int ar__stream_drain(struct ar_queue *q)
{
	if (q->err)
		return q->err;
	return receive(q);
}

int ar__stream_wait(struct ar_queue *q, uint64_t deadline)
{
	struct pollfd p = { .fd = q->st->fd, .events = POLLIN | POLLRDHUP };
	uint64_t t = now_ns();
	int ms;

	if (q->err)
		return q->err;
	if (t >= deadline)
		return 0;
	ms = deadline == UINT64_MAX ? -1 : (int)((deadline - t + 999999) / 1000000);
	if (poll(&p, 1, ms) < 0)
		return errno == EINTR ? 1 : -errno;
	return p.revents ? 1 : 0;
}

/* ---- sending ---- */

/* Send everything buffered, reading completions while the socket is full. */
static int send_all(struct ar_queue *q)
{
	struct ar_stream_q *st = q->st;

	while (st->out_sent < st->out_len) {
		ssize_t n = send(st->fd, st->out + st->out_sent, st->out_len - st->out_sent,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n >= 0) {
			st->out_sent += (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return ar__gone(q, -ECONNRESET);
		struct pollfd p = { .fd = st->fd, .events = POLLIN | POLLOUT };

		if (poll(&p, 1, -1) < 0 && errno != EINTR)
			return ar__gone(q, -errno);
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			int ret = receive(q);

			if (ret < 0)
				return ret;
		}
	}
	st->out_len = st->out_sent = 0;
	return 0;
}

static int append(struct ar_queue *q, const void *p, uint32_t len)
{
	struct ar_stream_q *st = q->st;
	int ret;

	if (len > st->max_frame)
		return -EMSGSIZE;
	if (st->out_cap - st->out_len < AR_FRAME_HDR + len) {
		ret = send_all(q);
		if (ret)
			return ret;
	}
	ar_frame_put_len(st->out + st->out_len, len);
	memcpy(st->out + st->out_len + AR_FRAME_HDR, p, len);
	st->out_len += AR_FRAME_HDR + len;
	return 0;
}

/* The data-area range [off, off+len) as Chunks. */
static int upload(struct ar_queue *q, uint64_t off, uint64_t len)
{
	struct ar_stream_q *st = q->st;
	uint64_t piece_max = st->max_frame - CHUNK_OVERHEAD;
	struct ar_wire_msg m = { .type = AR_WIRE_CHUNK };

	while (len) {
		const void *p;
		int64_t n;
		int ret;

		m.u.chunk.off = off;
		m.u.chunk.len = len < piece_max ? len : piece_max;
		m.u.chunk.bytes = q->link->data + off;
		n = ar_wire_encode(q->enc, &m, &p);
		if (n < 0)
			return (int)n;
		ret = append(q, p, (uint32_t)n);
		if (ret)
			return ret;
		off += m.u.chunk.len;
		len -= m.u.chunk.len;
	}
	return 0;
}

static int upload_buf(struct ar_queue *q, const struct ar_wire_buf *b)
{
	return b->kind == AR_BUF_REF && b->len ? upload(q, b->off, b->len) : 0;
}

/* Before an op: the data-area ranges it reads. */
static int upload_inputs(struct ar_queue *q, const struct ar_wire_op *op)
{
	int ret = 0;

	switch (op->args_kind) {
	case AR_ARGS_SGEMM:
		ret = upload_buf(q, &op->u.sgemm.a);
		if (!ret)
			ret = upload_buf(q, &op->u.sgemm.b);
		/* C is read only when beta is not zero; but the broker sends
		 * C's whole span back, so with rows wider than n (ldc > n) the
		 * bytes between them must be the client's own, uploaded. */
		if (!ret && (op->u.sgemm.beta != 0.0f || op->u.sgemm.ldc != op->u.sgemm.n))
			ret = upload_buf(q, &op->u.sgemm.c);
		return ret;
	case AR_ARGS_IMAGE:
		return upload_buf(q, &op->u.image.img);
	case AR_ARGS_GENERIC:
		for (uint32_t i = 0; i < op->u.generic.nr_read && !ret; i++)
			ret = upload_buf(q, &op->u.generic.read[i]);
		return ret;
	default:
		return 0;
	}
}

int ar__stream_put(struct ar_queue *q, const struct ar_wire_msg *m)
{
	const void *p;
	int64_t n;
	int ret;

	if (m->type == AR_WIRE_OP) {
		ret = upload_inputs(q, &m->u.op);
		if (ret)
			return ret;
	}
	n = ar_wire_encode(q->enc, m, &p);
	if (n < 0)
		return (int)n;
	/* Larger than the broker's submission ring takes: this op's error,
	 * where sending it would cost the connection. */
	if (n > q->st->max_request)
		return -EMSGSIZE;
	return append(q, p, (uint32_t)n);
}

int ar__stream_res_upload(struct ar_queue *q, uint32_t token, int memfd, uint64_t bytes)
{
	struct ar_stream_q *st = q->st;
	uint64_t piece_max = st->max_frame - CHUNK_OVERHEAD;
	struct ar_wire_msg m = { .type = AR_WIRE_RES_OPEN };
	const uint8_t *map;
	const void *p;
	int64_t n;
	int ret;

	/* Sealed: a read-only shared mapping is all we need of it. */
	map = mmap(NULL, bytes, PROT_READ, MAP_SHARED, memfd, 0);
	if (map == MAP_FAILED)
		return -errno;
	m.u.res_open = (struct ar_wire_res_open){ .token = token, .bytes = bytes };
	n = ar_wire_encode(q->enc, &m, &p);
	ret = n < 0 ? (int)n : append(q, p, (uint32_t)n);
	m.type = AR_WIRE_RES_DATA;
	for (uint64_t off = 0; !ret && off < bytes;) {
		m.u.res_data = (struct ar_wire_res_data){
			.token = token, .off = off, .bytes = map + off,
			.len = bytes - off < piece_max ? bytes - off : piece_max };
		n = ar_wire_encode(q->enc, &m, &p);
		ret = n < 0 ? (int)n : append(q, p, (uint32_t)n);
		off += m.u.res_data.len;
	}
	munmap((void *)map, bytes);
	return ret;
}

int ar__stream_flush(struct ar_queue *q)
{
	return send_all(q);
}

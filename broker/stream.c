/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Stream transport: clients that cannot share memory with the broker (VMs
 * over vsock or TCP, or anyone on the UNIX socket who asks for it) send
 * every message as a frame on their socket.
 *
 * The broker keeps the shared-memory design for them: a stream connection
 * has a region like any other, private to the broker, with one channel,
 * served by a worker exactly like a shared one. The worker that serves the
 * channel also plays the client's part of it, on its own io_uring: it
 * receives the frames, writes the requests into the SQ ring (and the
 * Chunks into the data area), and after running them reads the CQ ring,
 * sending for each completion first the data-area ranges the op wrote
 * (Chunks; the worker lists them in the completion) and then the
 * completion itself. So plugins and request checks are the same code for
 * both transports, and an op costs what it costs an echo server: one
 * thread receives, runs and sends (with the loop thread in between, each
 * op took two wake-ups more: 0.4-0.6x a plain socket's throughput at 4-16
 * clients, issue 19).
 *
 * Threads: after the handshake the loop only watches the socket for a
 * hang-up (a poll: the peer closed, or we shut it down), which tears the
 * connection down; everything in struct ar_stream belongs to the thread
 * serving the channel's worker (worker.c), also the slow-peer and idle
 * clocks (its sweep). A thread rescued from a long op (worker.c) only
 * produces completions into the CQ; they are sent when the channel comes
 * back. A worker ends a connection by shutting its socket down.

 * Memory: that region, and the frame buffers below, are the broker's own
 * memory, which the peer fills (Chunks into the data area, frames into the
 * buffers). So a stream connection has limits of its own: its rings are
 * capped to what max-frame needs, its data area to stream-max-data-bytes
 * (stream-data-bytes when it asks none), and all it holds is counted
 * against its tenant's stream-tenant-shm and its listener's listener-shm
 * (ar__stream_size, ar__stream_take). The Chunks sent back for an op are
 * what its plugin wrote, merged (request.c), so at most the data area.
 *
 * Flow control: a full SQ stops reading from the socket; a full send
 * buffer stops reading the CQ; a full CQ stops the worker consuming. A peer
 * that does not read its completions stalls only itself: sends never
 * block (MSG_DONTWAIT, then a send in the worker's io_uring).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"

/* Encoding overhead of a Chunk beyond its bytes: generous. */
#define CHUNK_OVERHEAD 128u
/* Room for several small frames per recv beyond the largest frame. */
#define IN_SLACK 65536u

struct ar_stream {
	struct ar_ring_prod sq;		/* we produce the client's requests */
	struct ar_ring_cons cq;		/* and consume its completions */
	struct ar_ring_wait sq_wait;	/* the channel's doorbell */
	struct ar_wire_msg cm;		/* the completion being sent, decoded */
	struct ar_wire_enc *enc;
	struct ar_wire_msg m;		/* the message being handled */
	uint8_t *in;			/* received bytes: whole and partial frames */
	uint32_t in_len, in_cap;
	uint8_t *out;			/* frames to send */
	uint32_t out_len, out_sent, out_cap;
	uint64_t *scratch;		/* an 8-byte aligned copy of one frame */
	uint64_t *cpl;			/* the completion being sent */
	uint32_t cpl_len;
	bool have_cpl;
	struct ar_wire_range pend[AR_WIRE_MAX_ARGS];	/* its written ranges */
	uint32_t nr_pend, cur;
	uint64_t done;			/* bytes of pend[cur] sent */
	bool recv_armed, send_armed;	/* in the worker's io_uring */
	bool hup_armed;			/* the loop's hang-up poll */
	bool closed;			/* shut down by the worker */
	bool stalled;			/* the SQ was full: input waits */
	uint64_t last_rx_ns;		/* the last byte received */
	uint64_t frame_start_ns;	/* the partial frame's first byte; 0: none */
	uint64_t inflight;		/* requests queued, completions not sent */
};

/* ---- sizes and memory ---- */

/* The smallest ring whose largest record holds n bytes. */
static uint32_t ring_holding(uint32_t n)
{
	uint32_t b = AR_RING_BYTES_MIN;

	while (AR_REC_MAX_LEN(b) < n && b < AR_RING_BYTES_MAX)
		b <<= 1;
	return b;
}

/* The largest ring whose largest record is at most n bytes. */
static uint32_t ring_within(uint32_t n)
{
	uint32_t b = AR_RING_BYTES_MIN;

	while (b < AR_RING_BYTES_MAX && AR_REC_MAX_LEN(b << 1) <= n)
		b <<= 1;
	return b;
}

/* What ar__stream_init allocates beyond the region, for a CQ of cq bytes:
 * memory a peer can fill (a frame in, Chunks out), so it is counted. */
static uint64_t buffer_bytes(uint32_t max_frame, uint32_t cq)
{
	return sizeof(struct ar_stream) + 2ull * (AR_FRAME_HDR + max_frame + IN_SLACK) +
	       ((max_frame + 7) & ~7u) + ((AR_REC_MAX_LEN(cq) + 7) & ~7u);
}

int ar__stream_size(const struct ar_broker *b, const struct ar_wire_hello *h,
		    struct ar_region_params *p, uint64_t *extra, char *why,
		    size_t cap)
{
	const struct ar_config *cfg = &b->cfg;
	/* The region is the broker's, and everything in it is broker memory
	 * (the rings are prefaulted). Rings beyond what max-frame needs buy
	 * nothing: the SQ must hold the largest request frame the loop
	 * enqueues, and a completion must fit in a frame. */
	uint32_t sq_max = ring_holding(cfg->max_frame), cq_max = ring_within(cfg->max_frame);
	uint64_t total;

	if (p->sq_bytes > sq_max)
		p->sq_bytes = sq_max;
	if (p->cq_bytes > cq_max)
		p->cq_bytes = cq_max;
	p->data_bytes = h->data_bytes ? h->data_bytes : cfg->stream_data_bytes;
	if (p->data_bytes > cfg->stream_max_data_bytes) {
		snprintf(why, cap, "data area of %llu bytes asked, at most %llu over the "
			 "stream transport (stream-max-data-bytes)",
			 (unsigned long long)p->data_bytes,
			 (unsigned long long)cfg->stream_max_data_bytes);
		return -E2BIG;
	}
	*extra = buffer_bytes(cfg->max_frame, p->cq_bytes);
	total = p->data_bytes + *extra + p->sq_bytes + p->cq_bytes;
	/* An ask no allowance could ever hold is not a quota matter. */
	if (total > cfg->stream_tenant_shm || total > cfg->listener_shm) {
		bool t = cfg->stream_tenant_shm <= cfg->listener_shm;

		snprintf(why, cap, "a stream connection of %llu bytes (data area, rings "
			 "and frame buffers) asked, %s is %llu",
			 (unsigned long long)total, t ? "stream-tenant-shm" : "listener-shm",
			 (unsigned long long)(t ? cfg->stream_tenant_shm : cfg->listener_shm));
		return -E2BIG;
	}
	return 0;
}

static const char *const listener_name[AR_LISTEN_MAX] = { "unix", "tcp", "vsock" };

int ar__stream_take(struct ar_broker *b, struct ar_conn *c, uint64_t bytes,
		    char *why, size_t cap)
{
	_Atomic uint64_t *pool = &b->listener_shm[c->kind];
	uint64_t held = atomic_load_explicit(pool, memory_order_relaxed);

	/* Only the loop takes, but connections are given back by whichever
	 * thread drops their last reference. */
	do {
		if (bytes > b->cfg.listener_shm - held ||
		    held > b->cfg.listener_shm) {
			snprintf(why, cap, "the %s listener's stream connections hold %llu bytes "
				 "and this one asks %llu more, listener-shm is %llu",
				 listener_name[c->kind], (unsigned long long)held,
				 (unsigned long long)bytes,
				 (unsigned long long)b->cfg.listener_shm);
			return -EDQUOT;
		}
	} while (!atomic_compare_exchange_weak_explicit(pool, &held, held + bytes,
							memory_order_relaxed,
							memory_order_relaxed));
	c->listener_pool = pool;
	c->listener_held = bytes;
	return 0;
}

void ar__stream_give_back(struct ar_conn *c)
{
	if (!c->listener_pool)
		return;
	atomic_fetch_sub_explicit(c->listener_pool, c->listener_held, memory_order_relaxed);
	c->listener_pool = NULL;
	c->listener_held = 0;
}

uint32_t ar__stream_max_request(const struct ar_conn *c)
{
	return c->st ? c->st->sq.g.max_len : 0;
}

int ar__stream_init(struct ar_broker *b, struct ar_conn *c)
{
	struct ar_stream *st = calloc(1, sizeof(*st));
	uint32_t mf = b->cfg.max_frame;

	if (!st)
		return -ENOMEM;
	c->st = st;
	st->in_cap = AR_FRAME_HDR + mf + IN_SLACK;
	st->out_cap = AR_FRAME_HDR + mf + IN_SLACK;
	st->in = malloc(st->in_cap);
	st->out = malloc(st->out_cap);
	st->scratch = aligned_alloc(8, (mf + 7) & ~7u);
	st->enc = ar_wire_enc_create();
	if (!st->in || !st->out || !st->scratch || !st->enc)
		return -ENOMEM;
	if (ar_ring_prod_init(&st->sq, &c->region, 0, AR_RING_SQ) ||
	    ar_ring_cons_init(&st->cq, &c->region, 0, AR_RING_CQ))
		return -EINVAL;
	st->cpl = aligned_alloc(8, (st->cq.g.max_len + 7) & ~7u);
	if (!st->cpl)
		return -ENOMEM;
	st->sq_wait = (struct ar_ring_wait){ .mode = AR_WAIT_EVENTFD,
					     .efd = c->ch[0].doorbell };
	st->last_rx_ns = ar__now_ns();
	return 0;
}

void ar__stream_free(struct ar_conn *c)
{
	struct ar_stream *st = c->st;

	if (!st)
		return;
	free(st->in);
	free(st->out);
	free(st->scratch);
	free(st->cpl);
	ar_wire_enc_destroy(st->enc);
	free(st);
	c->st = NULL;
}

/* ---- the loop's part: a hang-up poll ---- */

static void arm_hup(struct ar_broker *b, struct ar_conn *c)
{
	struct io_uring_sqe *sqe = ar__loop_sqe(b);

	/* POLLRDHUP: the peer closed; POLLHUP (always reported): we shut
	 * the socket down, a worker (a protocol error, a slow or idle peer,
	 * a send that failed) or ar__conn_poison. */
	io_uring_prep_poll_add(sqe, c->fd, POLLRDHUP);
	io_uring_sqe_set_data(sqe, (void *)((uintptr_t)c | L_HUP));
	c->st->hup_armed = true;
	ar__loop_hold(b, c);
}

/* Cancel the hang-up poll of a connection that is going away. */
void ar__stream_cancel(struct ar_broker *b, struct ar_conn *c)
{
	struct ar_stream *st = c->st;

	if (!st)
		return;
	if (st->hup_armed) {
		struct io_uring_sqe *sqe = ar__loop_sqe(b);

		io_uring_prep_poll_remove(sqe, (uint64_t)((uintptr_t)c | L_HUP));
		io_uring_sqe_set_data(sqe, (void *)(uintptr_t)L_CANCEL);
	}
	/* The worker's recv and send end on their own once the socket is
	 * shut down (and its removal cancels them). */
	shutdown(c->fd, SHUT_RDWR);
}

/* After the handshake: the worker takes the socket (worker.c do_add). */
int ar__stream_start(struct ar_broker *b, struct ar_conn *c)
{
	arm_hup(b, c);
	return 0;
}

/* The hang-up poll completed: the connection goes. A poll that fires with
 * neither (it should not) is armed again. */
int ar__stream_on_hup(struct ar_broker *b, struct ar_conn *c, int res)
{
	c->st->hup_armed = false;
	if (c->state != AR_CONN_ACTIVE || res == -ECANCELED)
		return 0;
	if (res > 0 && !(res & (POLLRDHUP | POLLHUP | POLLERR))) {
		arm_hup(b, c);
		return 0;
	}
	return -ECONNRESET;
}

/* ---- input: frames from the peer ---- */

static int fail(struct ar_conn *c, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct ar_conn *c, int err, const char *fmt, ...)
{
	char why[192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	ar_refusal("conn %u (%s): protocol error, disconnecting: %s", c->id, c->peer, why);
	return err;
}

/* Handle every whole frame received. Returns 0 or a negative error after
 * which the connection goes. */
static int input(struct ar_broker *b, struct ar_conn *c)
{
	struct ar_stream *st = c->st;
	uint32_t pos = 0;
	bool queued = false;
	int ret = 0;

	while (st->in_len - pos >= AR_FRAME_HDR) {
		uint32_t len = ar_frame_get_len(st->in + pos);
		uint8_t *p = st->in + pos + AR_FRAME_HDR;

		/* Refused on the length alone, before anything is read. */
		if (len > b->cfg.max_frame) {
			ret = fail(c, -EMSGSIZE, "frame of %u bytes, at most %u",
				   len, b->cfg.max_frame);
			break;
		}
		if (st->in_len - pos - AR_FRAME_HDR < len)
			break;
		if ((uintptr_t)p % 8) {
			memcpy(st->scratch, p, len);
			p = (uint8_t *)st->scratch;
		}
		ret = ar_wire_decode(p, len, &st->m);
		if (ret == -EBADMSG || st->m.type == AR_WIRE_NONE) {
			ret = fail(c, -EBADMSG, "undecodable frame of %u bytes", len);
			break;
		}
		bool bad_value = ret == -EINVAL;

		ret = 0;
		switch (st->m.type) {
		case AR_WIRE_CHUNK: {
			const struct ar_wire_chunk *k = &st->m.u.chunk;

			if (k->off > c->data_bytes || k->len > c->data_bytes - k->off) {
				ret = fail(c, -EFAULT, "chunk [%llu, +%llu) outside the %llu-byte data area",
					   (unsigned long long)k->off,
					   (unsigned long long)k->len,
					   (unsigned long long)c->data_bytes);
				break;
			}
			memcpy(c->data + k->off, k->bytes, k->len);
			break;
		}
		case AR_WIRE_RES_OPEN:
		case AR_WIRE_RES_DATA: {
			/* A resource's bytes, into a memfd of ours (resource.c);
			 * a refused ResourceOpen is answered at its
			 * ResourceRegister, which comes through the ring. */
			char why[AR_WIRE_MAX_MESSAGE];

			if (st->m.type == AR_WIRE_RES_OPEN) {
				if (bad_value) {
					ret = fail(c, -EPROTO, "a ResourceOpen without a token");
					break;
				}
				ret = ar__res_open(b, c, &st->m.u.res_open, -1, why, sizeof(why));
				if (ret)
					ar_info("conn %u (%s): resource upload %u refused (%s): %s",
						c->id, c->peer, st->m.u.res_open.token,
						strerror(-ret), why);
				ret = 0;
			} else {
				ret = ar__res_data(c, &st->m.u.res_data, why, sizeof(why));
				if (ret)
					ret = fail(c, ret, "%s", why);
			}
			break;
		}
		case AR_WIRE_OP:
		case AR_WIRE_SESSION_OPEN:
		case AR_WIRE_SESSION_CLOSE:
		case AR_WIRE_RES_REGISTER:
		case AR_WIRE_RES_UNREGISTER:
			/* An op with a value out of range still goes to the
			 * worker, which completes it with the error. */
			if (len > st->sq.g.max_len) {
				ret = fail(c, -EMSGSIZE, "request of %u bytes, at most %u",
					   len, st->sq.g.max_len);
				break;
			}
			ret = ar_ring_sp_enqueue(&st->sq, p, len);
			if (ret == -EAGAIN) {
				/* Full: the rest waits for completions. */
				st->stalled = true;
				ret = 0;
				goto out;
			}
			if (ret) {
				ret = fail(c, ret, "submission ring refused a request");
				break;
			}
			queued = true;
			st->inflight++;
			break;
		default:
			ret = fail(c, -EPROTO, "a message of type %u, which clients do not send",
				   st->m.type);
			break;
		}
		if (ret)
			break;
		pos += AR_FRAME_HDR + len;
		st->frame_start_ns = 0;
	}
out:
	if (queued) {
		ar_ring_sp_publish(&st->sq);
		if (ar_ring_sp_needs_wakeup(&st->sq))
			(void)ar_ring_sp_wake(&st->sq, &st->sq_wait);
	}
	memmove(st->in, st->in + pos, st->in_len - pos);
	st->in_len -= pos;
	if (st->in_len && !st->frame_start_ns)
		st->frame_start_ns = ar__now_ns();
	return ret;
}

/* ---- output: completions to the peer ---- */

static bool append_frame(struct ar_stream *st, const void *p, uint32_t len)
{
	if (st->out_cap - st->out_len < AR_FRAME_HDR + len)
		return false;
	ar_frame_put_len(st->out + st->out_len, len);
	memcpy(st->out + st->out_len + AR_FRAME_HDR, p, len);
	st->out_len += AR_FRAME_HDR + len;
	return true;
}

/* Move completions (and the data they wrote) into the send buffer. */
static int fill(struct ar_broker *b, struct ar_conn *c)
{
	struct ar_stream *st = c->st;
	uint32_t piece_max = b->cfg.max_frame - CHUNK_OVERHEAD;

	/* Start from an empty buffer when everything was sent. */
	if (st->out_sent == st->out_len)
		st->out_sent = st->out_len = 0;
	for (;;) {
		if (st->have_cpl) {
			if (st->cur < st->nr_pend) {
				const struct ar_wire_range *r = &st->pend[st->cur];
				uint64_t left = r->len - st->done;
				uint64_t piece = left < piece_max ? left : piece_max;
				struct ar_wire_msg m = { .type = AR_WIRE_CHUNK };
				const void *p;
				int64_t n;

				/* An empty buffer always holds the largest
				 * piece (out_cap > max_frame). */
				if (st->out_cap - st->out_len <
				    AR_FRAME_HDR + CHUNK_OVERHEAD + piece)
					return 0;	/* after the next send */
				m.u.chunk.off = r->off + st->done;
				m.u.chunk.len = piece;
				m.u.chunk.bytes = c->data + m.u.chunk.off;
				n = ar_wire_encode(st->enc, &m, &p);
				if (n < 0 || !append_frame(st, p, (uint32_t)n))
					return -EIO;
				st->done += m.u.chunk.len;
				if (st->done == r->len) {
					st->cur++;
					st->done = 0;
				}
				continue;
			}
			if (!append_frame(st, st->cpl, st->cpl_len))
				return 0;
			st->have_cpl = false;
			st->inflight--;
			continue;
		}
		struct ar_ring_rec rec;
		int ret = ar_ring_sc_peek(&st->cq, &rec);

		if (ret == 0)
			break;
		if (ret < 0)
			return ret;
		memcpy(st->cpl, rec.data, rec.len);
		st->cpl_len = rec.len;
		ar_ring_sc_consume(&st->cq);
		/* Written by our own worker; decoded for its ranges. */
		if (ar_wire_decode(st->cpl, rec.len, &st->cm) ||
		    st->cm.type != AR_WIRE_COMPLETION)
			return -EIO;
		st->nr_pend = 0;
		for (uint32_t i = 0; i < st->cm.u.completion.nr_written; i++) {
			const struct ar_wire_range *r = &st->cm.u.completion.written[i];

			if (r->off <= c->data_bytes && r->len <= c->data_bytes - r->off &&
			    r->len)
				st->pend[st->nr_pend++] = *r;
		}
		st->cur = 0;
		st->done = 0;
		st->have_cpl = true;
	}
	ar_ring_sc_release(&st->cq);
	/* We play the client: the channel may be parked for want of the CQ
	 * room we just made (worker.c, park_on_cq), and its doorbell ends
	 * that. */
	if (ar_ring_sp_cq_wait(&st->sq))
		(void)eventfd_write(st->sq_wait.efd, 1);
	return 0;
}

/* ---- the worker's part: recv, send, clocks ---- */

/* Shut the socket down (the loop's hang-up poll then tears the connection
 * down) and do nothing more on it. */
static void close_peer(struct ar_conn *c)
{
	c->st->closed = true;
	atomic_store_explicit(&c->poisoned, true, memory_order_relaxed);
	shutdown(c->fd, SHUT_RDWR);
}

bool ar__stream_wants_recv(const struct ar_conn *c)
{
	const struct ar_stream *st = c->st;

	return !st->closed && !st->recv_armed && !st->stalled && st->in_len < st->in_cap;
}

void ar__stream_prep_recv(struct ar_conn *c, struct io_uring_sqe *sqe, void *ud)
{
	struct ar_stream *st = c->st;

	io_uring_prep_recv(sqe, c->fd, st->in + st->in_len, st->in_cap - st->in_len, 0);
	io_uring_sqe_set_data(sqe, ud);
	st->recv_armed = true;
}

void ar__stream_prep_send(struct ar_conn *c, struct io_uring_sqe *sqe, void *ud)
{
	struct ar_stream *st = c->st;

	io_uring_prep_send(sqe, c->fd, st->out + st->out_sent, st->out_len - st->out_sent,
			   MSG_NOSIGNAL);
	io_uring_sqe_set_data(sqe, ud);
	st->send_armed = true;
}

unsigned ar__stream_armed(const struct ar_conn *c, bool *recv, bool *send)
{
	*recv = c->st->recv_armed;
	*send = c->st->send_armed;
	return *recv + *send;
}

void ar__stream_io_over(struct ar_conn *c, bool recv)
{
	if (recv)
		c->st->recv_armed = false;
	else
		c->st->send_armed = false;
}

void ar__stream_on_recv(struct ar_broker *b, struct ar_conn *c, int res)
{
	struct ar_stream *st = c->st;

	st->recv_armed = false;
	/* Cancelled: the thread that armed it ended (a rescued one, whose
	 * io_uring requests go with it); armed again by the caller. */
	if (st->closed || res == -ECANCELED)
		return;
	if (res <= 0) {
		/* EOF or an error: the loop's poll sees the hang-up too. */
		close_peer(c);
		return;
	}
	st->in_len += (uint32_t)res;
	st->last_rx_ns = ar__now_ns();
	if (input(b, c))
		close_peer(c);
}

int ar__stream_flush(struct ar_broker *b, struct ar_conn *c)
{
	struct ar_stream *st = c->st;
	ssize_t n;
	int ret;

	for (;;) {
		if (st->closed)
			return 0;
		if (st->send_armed)
			return 0;	/* its completion flushes again */
		ret = fill(b, c);
		if (ret) {
			fail(c, ret, "completion ring unreadable");
			close_peer(c);
			return 0;
		}
		if (st->stalled) {
			/* Completions moved on: the SQ may have room again. */
			st->stalled = false;
			if (input(b, c)) {
				close_peer(c);
				return 0;
			}
		}
		if (st->out_sent == st->out_len)
			return 0;
		/* At once, as an echo server would; what the socket does not
		 * take now goes through the io_uring. */
		n = send(c->fd, st->out + st->out_sent, st->out_len - st->out_sent,
			 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			close_peer(c);
			return 0;
		}
		if (n > 0)
			st->out_sent += (uint32_t)n;
		if (st->out_sent != st->out_len)
			return 1;
		/* All sent: more may have waited for the room. */
		if (!st->have_cpl && !ar_ring_sc_has_news(&st->cq))
			return 0;
	}
}

void ar__stream_on_send(struct ar_conn *c, int res)
{
	struct ar_stream *st = c->st;

	st->send_armed = false;
	if (st->closed || res == -ECANCELED)
		return;	/* as a recv: sent again by the caller */
	if (res <= 0) {
		close_peer(c);
		return;
	}
	st->out_sent += (uint32_t)res;
}

bool ar__stream_out_pending(const struct ar_conn *c)
{
	const struct ar_stream *st = c->st;

	return !st->closed && (st->send_armed || st->have_cpl || st->out_sent != st->out_len ||
			       ar_ring_sc_has_news(&st->cq));
}

/* The loop, at the end of a drain, after the workers stopped: they sent
 * what they could before stopping (worker.c). */
int ar__stream_flushed(struct ar_broker *b, struct ar_conn *c)
{
	(void)b, (void)c;
	return 1;
}

/* Every sweep of the worker: a slow, idle or stalled peer. */
void ar__stream_tick(struct ar_broker *b, struct ar_conn *c, uint64_t now)
{
	struct ar_stream *st = c->st;

	if (st->closed)
		return;
	/* While we do not read (its SQ is full), the peer is not slow: the
	 * frame's clock starts again when we read. */
	if (st->frame_start_ns && (st->stalled || !st->recv_armed)) {
		st->frame_start_ns = now;
	} else if (st->frame_start_ns &&
		   now - st->frame_start_ns > (uint64_t)b->cfg.frame_ms * 1000000u) {
		fail(c, -ETIMEDOUT, "a frame still incomplete after %u ms (slow peer)",
		     b->cfg.frame_ms);
		close_peer(c);
		return;
	}
	if (!st->inflight && !st->in_len && !st->have_cpl &&
	    now - st->last_rx_ns > (uint64_t)b->cfg.idle_ms * 1000000u) {
		ar_info("conn %u (%s): idle for %u ms: closing", c->id, c->peer,
			b->cfg.idle_ms);
		close_peer(c);
	}
}

/* ---- peers ---- */

void ar__stream_socket_opts(struct ar_broker *b, int fd, int kind)
{
	int one = 1, idle = (int)b->cfg.keepalive_s, intvl = 5, cnt = 3;

	if (kind != AR_LISTEN_TCP)
		return;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (!idle)
		return;
	/* A peer that vanished (a VM killed, a cable pulled) is found after
	 * keepalive-s + 3 probes 5 s apart, and its connection torn down. */
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

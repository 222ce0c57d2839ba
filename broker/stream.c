/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Stream transport: clients that cannot share memory with the broker (VMs
 * over vsock or TCP, or anyone on the UNIX socket who asks for it) send
 * every message as a frame on their socket.
 *
 * The broker keeps the shared-memory design for them: a stream connection
 * has a region like any other, private to the broker, with one channel,
 * served by a worker exactly like a shared one. The loop thread plays the
 * client's part of that channel: it writes the requests it receives into
 * the SQ ring (and the Chunks into the data area), and it reads the CQ
 * ring, sending for each completion first the data-area ranges the op
 * wrote (Chunks; the worker lists them in the completion) and then the
 * completion itself. So workers, plugins and request checks are the same
 * code for both transports.
 *
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
 * that does not read its completions stalls only itself.
 *
 * Everything here runs on the loop thread. Each io_uring operation in
 * flight on a connection (recv, send, the wake-up read) holds a reference
 * (ar__loop_hold), which the loop drops after the callback.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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
	bool recv_armed, send_armed, wake_armed;
	bool stalled;			/* the SQ was full: input waits */
	uint64_t wake_buf[8];		/* up to 8 wake-ups per read */
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

/* ---- arming ---- */

bool ar__stream_owns_recv(const struct ar_conn *c)
{
	return c->st && c->st->recv_armed;
}

static void arm_recv(struct ar_broker *b, struct ar_conn *c)
{
	struct ar_stream *st = c->st;
	struct io_uring_sqe *sqe;

	if (st->recv_armed || st->stalled || st->in_len == st->in_cap)
		return;
	sqe = ar__loop_sqe(b);
	io_uring_prep_recv(sqe, c->fd, st->in + st->in_len, st->in_cap - st->in_len, 0);
	io_uring_sqe_set_data(sqe, (void *)((uintptr_t)c | L_RECV));
	st->recv_armed = true;
	ar__loop_hold(b, c);
}

static void arm_send(struct ar_broker *b, struct ar_conn *c)
{
	struct ar_stream *st = c->st;
	struct io_uring_sqe *sqe;

	if (st->send_armed || st->out_sent == st->out_len)
		return;
	sqe = ar__loop_sqe(b);
	io_uring_prep_send(sqe, c->fd, st->out + st->out_sent,
			   st->out_len - st->out_sent, MSG_NOSIGNAL);
	io_uring_sqe_set_data(sqe, (void *)((uintptr_t)c | L_SEND));
	st->send_armed = true;
	ar__loop_hold(b, c);
}

static void arm_wake(struct ar_broker *b, struct ar_conn *c)
{
	struct ar_stream *st = c->st;
	struct io_uring_sqe *sqe = ar__loop_sqe(b);

	/* The channel's wake-up pipe: the worker writes its other end. */
	io_uring_prep_read(sqe, c->ch[0].wake_rd, st->wake_buf, sizeof(st->wake_buf), 0);
	io_uring_sqe_set_data(sqe, (void *)((uintptr_t)c | L_WAKE));
	st->wake_armed = true;
	ar__loop_hold(b, c);
}

/* Cancel whatever is in flight on a connection that is going away. */
void ar__stream_cancel(struct ar_broker *b, struct ar_conn *c)
{
	struct ar_stream *st = c->st;

	if (!st)
		return;
	if (st->wake_armed) {
		struct io_uring_sqe *sqe = ar__loop_sqe(b);

		io_uring_prep_cancel(sqe, (void *)((uintptr_t)c | L_WAKE), 0);
		io_uring_sqe_set_data(sqe, (void *)(uintptr_t)L_CANCEL);
	}
	/* recv and send end on their own once the socket is shut down. */
	shutdown(c->fd, SHUT_RDWR);
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
		if (ar_wire_decode(st->cpl, rec.len, &st->m) ||
		    st->m.type != AR_WIRE_COMPLETION)
			return -EIO;
		st->nr_pend = 0;
		for (uint32_t i = 0; i < st->m.u.completion.nr_written; i++) {
			const struct ar_wire_range *r = &st->m.u.completion.written[i];

			if (r->off <= c->data_bytes && r->len <= c->data_bytes - r->off &&
			    r->len)
				st->pend[st->nr_pend++] = *r;
		}
		st->cur = 0;
		st->done = 0;
		st->have_cpl = true;
	}
	ar_ring_sc_release(&st->cq);
	/* We play the client: the worker may have parked the channel for
	 * want of the CQ room we just made (worker.c, park_on_cq). */
	if (ar_ring_sp_cq_wait(&st->sq))
		(void)eventfd_write(st->sq_wait.efd, 1);
	return 0;
}

/* Send what is ready, take in what waited for SQ room, and sleep on the
 * CQ's wake-up pipe when there is nothing more. */
static int pump(struct ar_broker *b, struct ar_conn *c)
{
	struct ar_stream *st = c->st;
	int ret;

	for (;;) {
		if (!st->send_armed) {
			ret = fill(b, c);
			if (ret)
				return fail(c, ret, "completion ring unreadable");
			arm_send(b, c);
		}
		if (st->stalled) {
			/* Completions moved on: the SQ may have room again. */
			st->stalled = false;
			ret = input(b, c);
			if (ret)
				return ret;
		}
		arm_recv(b, c);
		if (st->wake_armed || st->send_armed)
			return 0;	/* their completions pump again */
		if (ar_ring_sc_prepare_sleep(&st->cq)) {
			arm_wake(b, c);
			return 0;
		}
	}
}

/* ---- the loop's callbacks; a negative return tears the connection down ---- */

int ar__stream_start(struct ar_broker *b, struct ar_conn *c)
{
	return pump(b, c);
}

int ar__stream_on_recv(struct ar_broker *b, struct ar_conn *c, int res)
{
	struct ar_stream *st = c->st;
	int ret;

	st->recv_armed = false;
	if (c->state != AR_CONN_ACTIVE)
		return 0;
	if (res <= 0)
		return res ? res : -ECONNRESET;
	st->in_len += (uint32_t)res;
	st->last_rx_ns = ar__now_ns();
	ret = input(b, c);
	if (ret)
		return ret;
	return pump(b, c);
}

int ar__stream_on_send(struct ar_broker *b, struct ar_conn *c, int res)
{
	struct ar_stream *st = c->st;

	st->send_armed = false;
	if (c->state != AR_CONN_ACTIVE)
		return 0;
	if (res <= 0)
		return res ? res : -EPIPE;
	st->out_sent += (uint32_t)res;
	return pump(b, c);
}

int ar__stream_on_wake(struct ar_broker *b, struct ar_conn *c, int res)
{
	struct ar_stream *st = c->st;

	st->wake_armed = false;
	if (c->state != AR_CONN_ACTIVE)
		return 0;
	ar_ring_sc_finish_sleep(&st->cq);
	if (res < 0 && res != -EAGAIN)
		return res;
	return pump(b, c);
}

/* At the end of a drain, after the workers stopped: whether everything the
 * worker completed went out to the peer. Moves what is left along. */
int ar__stream_flushed(struct ar_broker *b, struct ar_conn *c)
{
	struct ar_stream *st = c->st;
	int ret;

	if (!st->send_armed) {
		ret = pump(b, c);
		if (ret)
			return ret;
	}
	return !st->send_armed && !st->have_cpl && st->out_sent == st->out_len;
}

/* Every tick: a slow, idle or stalled peer. */
int ar__stream_tick(struct ar_broker *b, struct ar_conn *c, uint64_t now)
{
	struct ar_stream *st = c->st;

	/* While we do not read (its SQ is full), the peer is not slow: the
	 * frame's clock starts again when we read. */
	if (st->frame_start_ns && (st->stalled || !st->recv_armed))
		st->frame_start_ns = now;
	else if (st->frame_start_ns &&
		 now - st->frame_start_ns > (uint64_t)b->cfg.frame_ms * 1000000u)
		return fail(c, -ETIMEDOUT, "a frame still incomplete after %u ms (slow peer)",
			    b->cfg.frame_ms);
	if (!st->inflight && !st->in_len && !st->have_cpl &&
	    now - st->last_rx_ns > (uint64_t)b->cfg.idle_ms * 1000000u) {
		ar_info("conn %u (%s): idle for %u ms: closing", c->id, c->peer,
			b->cfg.idle_ms);
		return -ETIMEDOUT;
	}
	/* A stall the completions did not clear (the worker released SQ
	 * room just after we looked). */
	if (st->stalled && !st->send_armed)
		return pump(b, c);
	return 0;
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

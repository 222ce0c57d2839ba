/* SPDX-License-Identifier: Apache-2.0 */
/*
 * accelring rings: the region (one sealed memfd holding channels of SPSC
 * record rings and a data area), producer and consumer handles, and waiting.
 *
 * The fast paths are static inline here, the slow paths (create, attach,
 * wait) are in ring/. Treat the inline code as ABI: it is compiled into
 * every program that includes this header.
 *
 * Threading: a producer handle and a consumer handle each belong to one
 * thread at a time. The two ends of a ring may be in different processes.
 *
 * Trust: the consumer never trusts the producer. It keeps its head and the
 * ring's geometry in the private handle, reads prod_tail once per refill and
 * clamps it, reads each record header once and validates it before use, and
 * stops with -EPROTO (setting AR_RING_F_ERROR) at the first impossible
 * value. The payload a peek returns still points into shared memory: a
 * consumer facing a hostile producer must copy it before looking inside
 * (ar_ring_sc_dequeue does), because the producer can change it at any time.
 */
#ifndef ACCELRING_RING_H
#define ACCELRING_RING_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <accelring/abi.h>
#include <accelring/barrier.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Which ring of a channel. */
enum {
	AR_RING_SQ = 0,	/* client -> broker */
	AR_RING_CQ = 1,	/* broker -> client */
};

/* What ar_region_create() lays out. Zeroed fields take the defaults. */
struct ar_region_params {
	uint32_t nr_channels;	/* default 1 */
	uint32_t sq_bytes;	/* power of two, default 64 KiB */
	uint32_t cq_bytes;	/* power of two, default 64 KiB */
	uint32_t idx_start;	/* first index value; tests start near 2^32 */
	uint64_t data_bytes;	/* data area, rounded up to pages, default 0 */
	uint32_t flags;		/* none defined: must be zero */
	uint32_t resv;		/* must be zero */
};

#define AR_RING_BYTES_DEFAULT (64u * 1024)

/* One ring's geometry, private to the process that uses it. */
struct ar_ring_geom {
	struct ar_ring_ctl *ctl;
	uint8_t *data;
	uint32_t bytes;		/* power of two */
	uint32_t mask;		/* bytes - 1 */
	uint32_t max_len;	/* largest payload: AR_REC_MAX_LEN(bytes) */
	uint32_t idx_start;
};

/*
 * A mapped region. Private memory: created by ar_region_create() from
 * parameters, or by ar_region_attach() from a header it has validated; in
 * either case nothing here is read back from shared memory later.
 */
struct ar_region {
	void *base;
	uint64_t bytes;
	int fd;
	uint32_t idx_start;
	struct ar_region_offsets offs;	/* private copy */
};

/*
 * ar_region_create - create, lay out, map and seal a region in a new memfd
 * (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL); r->fd is what the broker
 * sends to the client. Nothing is prefaulted: only the header and the
 * rings' control blocks are written, so the cost does not grow with the
 * sizes asked for, and the rest is faulted by whoever touches it first
 * (ar_region_attach prefaults the rings for the client).
 *
 * Returns 0, or -EINVAL for parameters out of range (sizes that are not
 * powers of two or outside the AR_*_MIN/MAX limits, unknown flags, non-zero
 * reserved fields), or the -errno of memfd_create, ftruncate, fcntl or mmap.
 */
int ar_region_create(struct ar_region *r, const struct ar_region_params *p);

/*
 * ar_region_attach - map a region received as fd after checking, before
 * trusting anything in it, that fd is a memfd sealed against shrinking,
 * growing and further sealing, that its size matches the header, and that
 * the header's magic, major version and layout are valid. On success the
 * region owns fd; on failure fd is left open for the caller.
 *
 * Returns 0, or
 *   -EPERM             the seals are missing,
 *   -EINVAL            fd cannot be sealed (not a memfd), wrong magic, or a
 *                      layout that is impossible or leaves the region,
 *   -EPROTONOSUPPORT   a different ABI major version,
 *   -EMSGSIZE          the memfd's size differs from the header's, or is too
 *                      small to hold a header,
 *   or the -errno of fstat, fcntl or mmap.
 */
int ar_region_attach(struct ar_region *r, int fd);

/* ar_region_release - unmap the region and close its fd. */
void ar_region_release(struct ar_region *r);

/*
 * ar_region_prefault_channel - fault in channel ch's rings now (attach
 * faults the header and channel 0 only): for the client, when a thread
 * first takes the channel. Best effort; returns 0, or -EINVAL for a
 * channel out of range or a region not attached.
 */
int ar_region_prefault_channel(const struct ar_region *r, uint32_t ch);

/*
 * ar_region_ring - the geometry of one ring of channel ch.
 * Returns 0, or -EINVAL for a channel or ring out of range.
 */
int ar_region_ring(const struct ar_region *r, uint32_t ch, int which,
		   struct ar_ring_geom *g);

/* ar_region_data - the data area and its size (0 if none). */
static inline void *ar_region_data(const struct ar_region *r, uint64_t *bytes)
{
	if (bytes)
		*bytes = r->offs.data_bytes;
	return (uint8_t *)r->base + r->offs.data;
}

/* Producer end of one ring. Private memory, one thread. */
struct ar_ring_prod {
	struct ar_ring_geom g;
	uint32_t tail;		/* next byte to write; published up to pub */
	uint32_t head_cache;	/* last cons_head seen; free space estimate */
	uint32_t resv_off;	/* offset of the reserved record, or UINT32_MAX */
	uint32_t resv_len;	/* its reserved payload length */
	uint32_t cpu;		/* last prod_cpu stored */
	int err;		/* sticky -EPROTO once the consumer gave up */
};

/* A record seen by ar_ring_sc_peek(); data points into shared memory. */
struct ar_ring_rec {
	const void *data;
	uint32_t len;
};

/* Consumer end of one ring. Private memory, one thread. */
struct ar_ring_cons {
	struct ar_ring_geom g;
	uint32_t head;		/* next byte to read */
	uint32_t avail_end;	/* clamped prod_tail snapshot: head..avail_end */
	uint32_t released;	/* last head stored to cons_head */
	uint32_t peeked;	/* bytes of the record peek returned, or 0 */
	int err;		/* sticky -EPROTO once the ring was poisoned */
	struct ar_ring_rec cur;	/* what peek returned, while peeked != 0 */
};

/*
 * ar_ring_prod_init / ar_ring_cons_init - attach a handle to one end of a
 * ring. The indices start at the region's idx_start, so a handle must be
 * initialised before the first record crosses the ring and only once.
 * Returns 0, or -EINVAL for a channel or ring out of range.
 */
int ar_ring_prod_init(struct ar_ring_prod *p, const struct ar_region *r,
		      uint32_t ch, int which);
int ar_ring_cons_init(struct ar_ring_cons *c, const struct ar_region *r,
		      uint32_t ch, int which);

/* Internal: mark the ring corrupt, tell the producer, return -EPROTO. */
int ar__ring_poison(struct ar_ring_cons *c);

/* ----------------------------------------------------------------------
 * Producer fast path.
 */

/*
 * ar_ring_sp_reserve - reserve room for one record of up to len payload
 * bytes and return where to write the payload. Writes a padding record if
 * the record does not fit before the end of the ring. Nothing is visible to
 * the consumer until ar_ring_sp_commit() and ar_ring_sp_publish().
 *
 * Returns 0, or
 *   -EAGAIN    the ring is full: publish and wake the consumer before
 *              waiting, since the records it has not been shown may be
 *              what fills it (the model in tests/model/ring.pml deadlocks
 *              otherwise), then retry,
 *   -EMSGSIZE  len is larger than the ring's largest record,
 *   -EBUSY     a reservation is already open,
 *   -EPROTO    the consumer stopped reading this ring as corrupt.
 */
static inline int ar_ring_sp_reserve(struct ar_ring_prod *p, uint32_t len,
				     void **payload)
{
	uint32_t off, to_end, size, need, used;

	if (p->err)
		return p->err;
	if (p->resv_off != UINT32_MAX)
		return -EBUSY;
	if (len > p->g.max_len)
		return -EMSGSIZE;
	size = (uint32_t)AR_REC_SIZE(len);
	off = p->tail & p->g.mask;
	to_end = p->g.bytes - off;
	need = size > to_end ? size + to_end : size;
	used = p->tail - p->head_cache;
	if (need > p->g.bytes - used) {
		uint32_t flags;

		/* A0: pairs with R2 in ar_ring_sc_release(); the consumer is
		 * done with every byte before the head we see. */
		p->head_cache = ar_load_acquire(&p->g.ctl->cons_head);
		used = p->tail - p->head_cache;
		flags = ar_load_relaxed(&p->g.ctl->flags);
		if ((flags & AR_RING_F_ERROR) || used > p->g.bytes) {
			p->err = -EPROTO;
			return p->err;
		}
		if (need > p->g.bytes - used)
			return -EAGAIN;
	}
	if (size > to_end) {
		/* R0: the padding record is complete when its header is. */
		ar_store_release((uint64_t *)(p->g.data + off),
				 (uint64_t)(to_end - sizeof(struct ar_rec_hdr)) |
					 ((uint64_t)AR_REC_PAD << 32));
		p->tail += to_end;
		off = 0;
	}
	p->resv_off = off;
	p->resv_len = len;
	*payload = p->g.data + off + sizeof(struct ar_rec_hdr);
	return 0;
}

/*
 * ar_ring_sp_commit - finish the reserved record with its final payload
 * length (at most the reserved one) by writing its header. The record
 * becomes visible at the next ar_ring_sp_publish().
 * Returns 0, or -EINVAL with no reservation open or len too large.
 */
static inline int ar_ring_sp_commit(struct ar_ring_prod *p, uint32_t len)
{
	if (p->resv_off == UINT32_MAX || len > p->resv_len)
		return -EINVAL;
	/* R0: the header is the record's last store: whoever acquires it, or
	 * a later prod_tail (R1), sees the whole payload. */
	ar_store_release((uint64_t *)(p->g.data + p->resv_off),
			 (uint64_t)len | ((uint64_t)AR_REC_MSG << 32));
	p->tail += (uint32_t)AR_REC_SIZE(len);
	p->resv_off = UINT32_MAX;
	return 0;
}

/* ar_ring_sp_cancel - drop an open reservation (padding stays). */
static inline void ar_ring_sp_cancel(struct ar_ring_prod *p)
{
	p->resv_off = UINT32_MAX;
}

/*
 * ar_ring_sp_publish - make every committed record visible to the consumer.
 * Call once per batch: one store to a line the consumer reads.
 */
static inline void ar_ring_sp_publish(struct ar_ring_prod *p)
{
	/* R1: pairs with A1 in ar_ring_sc_peek(); every header and payload
	 * before tail is visible to a consumer that sees tail. */
	ar_store_release(&p->g.ctl->prod_tail, p->tail);
}

/*
 * ar_ring_sp_note_cpu - tell the consumer which CPU the producer runs on
 * (cpu from sched_getcpu(); negative: unknown). Stores only when it
 * changed, so the line stays shared in the consumer's cache. A hint for
 * ar_ring_sc_peer_here(), ordered with nothing.
 */
static inline void ar_ring_sp_note_cpu(struct ar_ring_prod *p, int cpu)
{
	uint32_t v = cpu < 0 ? 0 : (uint32_t)cpu + 1;

	if (v != p->cpu) {
		p->cpu = v;
		ar_store_relaxed(&p->g.ctl->prod_cpu, v);
	}
}

/*
 * ar_ring_sp_needs_wakeup - after a publish: whether the consumer sleeps or
 * is about to, so that the producer must wake it (ar_ring_sp_wake()).
 */
static inline bool ar_ring_sp_needs_wakeup(const struct ar_ring_prod *p)
{
	/* F1: pairs with F2 in ar_ring_sc_prepare_sleep(). Our prod_tail store
	 * is ordered before this flags load and the consumer's flags store
	 * before its prod_tail load, so either we see NEED_WAKEUP or the
	 * consumer sees the new tail and does not sleep: no lost wake-up. */
	ar_smp_mb();
	return ar_load_relaxed(&p->g.ctl->flags) & AR_RING_F_NEED_WAKEUP;
}

/*
 * ar_ring_sp_enqueue - copy one record in and commit it (not published).
 * Returns 0 or the errors of ar_ring_sp_reserve().
 */
static inline int ar_ring_sp_enqueue(struct ar_ring_prod *p, const void *buf,
				     uint32_t len)
{
	void *dst;
	int ret = ar_ring_sp_reserve(p, len, &dst);

	if (ret)
		return ret;
	memcpy(dst, buf, len);
	return ar_ring_sp_commit(p, len);
}

/*
 * ar_ring_sp_free - bytes the producer may still fill, with the consumer's
 * latest head. A record of payload len needs at most 2 * AR_REC_SIZE(len)
 * of them (itself, and padding up to the end of the ring before it).
 * Returns the free bytes, or -EPROTO if the consumer's head is impossible
 * or it flagged the ring as corrupt.
 */
static inline int64_t ar_ring_sp_free(struct ar_ring_prod *p)
{
	uint32_t used;

	if (p->err)
		return p->err;
	/* A0: pairs with R2 in ar_ring_sc_release(), as in reserve. */
	p->head_cache = ar_load_acquire(&p->g.ctl->cons_head);
	used = p->tail - p->head_cache;
	if (used > p->g.bytes ||
	    (ar_load_relaxed(&p->g.ctl->flags) & AR_RING_F_ERROR)) {
		p->err = -EPROTO;
		return p->err;
	}
	return p->g.bytes - used;
}

/* Bytes the producer has committed and the consumer not yet released, as
 * far as the producer knows. */
static inline uint32_t ar_ring_sp_used(const struct ar_ring_prod *p)
{
	return p->tail - p->head_cache;
}

/*
 * ar_ring_sp_cq_wait - for a channel's client, after it released bytes of
 * its CQ (ar_ring_sc_release() on the CQ handle): whether the broker
 * stopped taking this SQ's requests until the CQ has room
 * (AR_RING_F_CQ_WAIT), so that the client must ring the doorbell now.
 * sq is the client's producer handle of the same channel.
 */
static inline bool ar_ring_sp_cq_wait(const struct ar_ring_prod *sq)
{
	/* F3: pairs with F4 in the broker (worker.c, park_on_cq()). Our CQ
	 * head store is ordered before this flags load, and the broker's
	 * flag store before its CQ head load: either we see CQ_WAIT or the
	 * broker sees the room we made. */
	ar_smp_mb();
	return ar_load_relaxed(&sq->g.ctl->flags) & AR_RING_F_CQ_WAIT;
}

/* ----------------------------------------------------------------------
 * Consumer fast path.
 */

/*
 * ar_ring_sc_refill - read prod_tail once and clamp it. Returns the bytes
 * now available, 0 if none, or -EPROTO if the tail is impossible.
 */
static inline int64_t ar_ring_sc_refill(struct ar_ring_cons *c)
{
	/* A1: pairs with R1 in ar_ring_sp_publish(). */
	uint32_t tail = ar_load_acquire(&c->g.ctl->prod_tail);
	uint32_t avail = tail - c->head;
	uint32_t held = tail - c->released;

	/*
	 * A correct producer never publishes more than a ring past the head
	 * we last released (it waits for cons_head, A0): measured from our
	 * private head instead, a producer that keeps moving its tail while
	 * we consume without releasing (one release per batch) could hand
	 * us a ring's worth after every refill, and one batch would take
	 * more than the ring holds. So the bound is against what we
	 * released; the tail must also be at or past our head (avail <=
	 * held), and record aligned.
	 */
	if (held > c->g.bytes || avail > held || (avail & (AR_REC_ALIGN - 1)))
		return ar__ring_poison(c);
	c->avail_end = tail;
	return avail;
}

/*
 * ar_ring_sc_peek - the next record, without consuming it. Padding records
 * are skipped. Peeking again without ar_ring_sc_consume() returns the same
 * record (from the same single header read).
 *
 * Returns 1 with *rec filled, 0 if the ring is empty, or -EPROTO if the
 * ring holds an impossible tail or record (sticky; AR_RING_F_ERROR is set
 * for the producer to see).
 */
static inline int ar_ring_sc_peek(struct ar_ring_cons *c, struct ar_ring_rec *rec)
{
	rec->data = NULL;
	rec->len = 0;
	for (;;) {
		uint32_t off, left, len, kind;
		uint64_t hdr, size;

		if (c->err)
			return c->err;
		if (c->peeked) {
			*rec = c->cur;
			return 1;
		}
		left = c->avail_end - c->head;
		if (left == 0) {
			int64_t n = ar_ring_sc_refill(c);

			if (n <= 0)
				return (int)n;
			left = (uint32_t)n;
		}
		off = c->head & c->g.mask;
		/* One read of the header; everything below uses the copy.
		 * A1, in the refill that saw a tail covering it, orders it. */
		hdr = ar_load_relaxed((uint64_t *)(c->g.data + off));
		len = (uint32_t)hdr;
		kind = (uint32_t)(hdr >> 32);	/* kind | resv << 16 */
		size = AR_REC_SIZE(len);
		if (size > left || off + size > c->g.bytes)
			return ar__ring_poison(c);
		if (kind == AR_REC_PAD) {
			/* Padding always runs exactly to the end of the ring. */
			if (off + size != c->g.bytes)
				return ar__ring_poison(c);
			c->head += (uint32_t)size;
			continue;
		}
		if (kind != AR_REC_MSG || len > c->g.max_len)
			return ar__ring_poison(c);
		c->cur.data = c->g.data + off + sizeof(struct ar_rec_hdr);
		c->cur.len = len;
		c->peeked = (uint32_t)size;
		*rec = c->cur;
		return 1;
	}
}

/* ar_ring_sc_consume - step past the record the last peek returned. The
 * producer may reuse its bytes after the next ar_ring_sc_release(). */
static inline void ar_ring_sc_consume(struct ar_ring_cons *c)
{
	c->head += c->peeked;
	c->peeked = 0;
}

/*
 * ar_ring_sc_release - give every consumed byte back to the producer. Call
 * once per batch: one store to a line the producer reads. Between two
 * releases the consumer takes at most one ring's worth (see refill).
 */
static inline void ar_ring_sc_release(struct ar_ring_cons *c)
{
	if (c->released == c->head)
		return;
	c->released = c->head;
	/* R2: pairs with A0 in ar_ring_sp_reserve(); we are done reading every
	 * byte before head, so the producer may overwrite them. */
	ar_store_release(&c->g.ctl->cons_head, c->head);
}

/*
 * ar_ring_sc_dequeue - copy the next record into buf and consume it. Safe
 * against a hostile producer: the caller gets a private copy of a record
 * whose header was validated, and never a pointer into shared memory.
 *
 * Returns the payload length (a zero-length record returns 0 too, so use
 * ar_ring_sc_peek() if those matter), -EAGAIN if the ring is empty,
 * -EMSGSIZE if buf is too small (the record is not consumed), or -EPROTO.
 */
static inline int64_t ar_ring_sc_dequeue(struct ar_ring_cons *c, void *buf,
					 uint32_t buflen)
{
	struct ar_ring_rec rec;
	int ret = ar_ring_sc_peek(c, &rec);

	if (ret <= 0)
		return ret ? ret : -EAGAIN;
	if (rec.len > buflen)
		return -EMSGSIZE;
	memcpy(buf, rec.data, rec.len);
	ar_ring_sc_consume(c);
	return rec.len;
}

/* ----------------------------------------------------------------------
 * Waiting (ring/wait.c).
 *
 * A consumer that finds its ring empty spins for spin_ns, checking the tail
 * and yielding the CPU now and then, and then sleeps after raising
 * AR_RING_F_NEED_WAKEUP, so that a producer makes a wake-up system call
 * only when the consumer really sleeps (io_uring's IORING_SQ_NEED_WAKEUP).
 * It sleeps on a futex on prod_tail (AR_WAIT_FUTEX: cheap, no fd) or on a
 * pollable fd (AR_WAIT_FD, also spelt AR_WAIT_EVENTFD: pollable, so one
 * broker thread can wait for many rings with io_uring or epoll).
 *
 * AR_WAIT_FD is an eventfd or a pipe: the producer's end (efd) gets an
 * 8-byte write per wake-up, which both take whole or not at all, and the
 * consumer drains its end with a read of up to 64 bytes, which both
 * accept. A write that finds the fd full (EAGAIN: an eventfd at its
 * largest count, a full pipe) means the consumer has already been
 * signalled and not yet drained: it is a success. So efd must be
 * non-blocking, and in its own open file description whenever the other
 * end is in another process's hands: the flags of a shared description,
 * and an eventfd's count, are the other holder's to change (SECURITY.md
 * 21). The broker's wake-up of a client is therefore a pipe whose write
 * end only the broker holds; a writer to a pipe must ignore SIGPIPE (a
 * reader that went away is -EPIPE).
 */
enum {
	AR_WAIT_POLL = 0,	/* never sleep: spin until data or timeout */
	AR_WAIT_FUTEX = 1,
	AR_WAIT_FD = 2,		/* an eventfd or a pipe */
	AR_WAIT_EVENTFD = AR_WAIT_FD,	/* the older name */
};

#define AR_WAIT_SPIN_NS_DEFAULT 20000u

struct ar_ring_wait {
	uint32_t mode;		/* AR_WAIT_* */
	int efd;		/* AR_WAIT_FD: this side's end, non-blocking */
	uint64_t spin_ns;	/* spin this long before sleeping */
};

/*
 * ar_ring_sc_has_news - whether peek would find something (or the ring is
 * poisoned): for deciding to wait, not for reading. Relaxed is enough to
 * notice; the peek that follows re-reads the tail with acquire (A1).
 */
static inline bool ar_ring_sc_has_news(const struct ar_ring_cons *c)
{
	return c->err || c->peeked || c->avail_end != c->head ||
	       ar_load_relaxed(&c->g.ctl->prod_tail) != c->head;
}

/*
 * ar_ring_sc_prepare_sleep - raise NEED_WAKEUP and check the ring once more.
 * Returns true if the ring is still empty and the caller may sleep (it must
 * call ar_ring_sc_finish_sleep() when it wakes), false if records arrived
 * (the flag is already cleared again).
 */
bool ar_ring_sc_prepare_sleep(struct ar_ring_cons *c);

/* ar_ring_sc_finish_sleep - clear NEED_WAKEUP after a sleep. */
void ar_ring_sc_finish_sleep(struct ar_ring_cons *c);

/*
 * ar_ring_sc_peer_here - whether the producer last said it runs on cpu
 * (ar_ring_sp_note_cpu()). A consumer that shares its producer's CPU gains
 * nothing by spinning: the producer runs only when the spin yields, so it
 * yields at once (and the broker's worker, seeing its client on its CPU,
 * moves off it: two spinners on one CPU are never migrated apart while
 * both stay runnable and cache-hot). The value is the peer's to write: it
 * only ever changes how a side waits.
 */
static inline bool ar_ring_sc_peer_here(const struct ar_ring_cons *c, int cpu)
{
	return cpu >= 0 && ar_load_relaxed(&c->g.ctl->prod_cpu) == (uint32_t)cpu + 1;
}

/*
 * ar_ring_sc_wait - wait until the ring holds a record, for at most
 * timeout_ns (negative: forever). Spins for w->spin_ns first.
 *
 * Returns 1 if a record can be peeked, 0 on timeout, -EPROTO if the ring
 * is poisoned, -EINTR if a signal interrupted the sleep, -EBADF (AR_WAIT_FD)
 * if efd is not open, -EPIPE if it is a pipe whose write end is closed and
 * empty (the producer is gone), or the -errno of the sleep.
 */
int ar_ring_sc_wait(struct ar_ring_cons *c, const struct ar_ring_wait *w,
		    int64_t timeout_ns);

/*
 * ar_ring_sp_wake - after a publish: wake the consumer if it sleeps.
 * Never blocks with a non-blocking efd: a full fd (EAGAIN) is a consumer
 * already signalled.
 * Returns 1 if a wake-up was sent or was pending already, 0 if none was
 * needed, or the -errno of the system call (-EPIPE: the reader of a pipe
 * went away).
 */
int ar_ring_sp_wake(struct ar_ring_prod *p, const struct ar_ring_wait *w);

#ifdef __cplusplus
}
#endif

#endif /* ACCELRING_RING_H */

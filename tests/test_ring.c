/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the SPSC record ring: producer and consumer fast paths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "ring_pvt.h"

#define RING_BYTES 4096u

struct fx {
	struct ar_region r;
	struct ar_ring_prod p;
	struct ar_ring_cons c;
};

static int fx_setup_at(void **state, uint32_t idx_start)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct ar_region_params p = { .sq_bytes = RING_BYTES,
				      .idx_start = idx_start };

	assert_non_null(f);
	assert_int_equal(ar_region_create(&f->r, &p), 0);
	assert_int_equal(ar_ring_prod_init(&f->p, &f->r, 0, AR_RING_SQ), 0);
	assert_int_equal(ar_ring_cons_init(&f->c, &f->r, 0, AR_RING_SQ), 0);
	*state = f;
	return 0;
}

static int fx_setup(void **state)
{
	return fx_setup_at(state, 0);
}

/* Indices start two rings below the 32-bit wrap, so a few laps cross it. */
static int fx_setup_high(void **state)
{
	return fx_setup_at(state, 0u - 2 * RING_BYTES);
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	ar_region_release(&f->r);
	free(f);
	return 0;
}

/* Fill a payload with a pattern derived from (seq, i). */
static void fill(uint8_t *b, uint32_t len, uint32_t seq)
{
	for (uint32_t i = 0; i < len; i++)
		b[i] = (uint8_t)(seq * 31 + i);
}

static void check(const uint8_t *b, uint32_t len, uint32_t seq)
{
	for (uint32_t i = 0; i < len; i++)
		assert_int_equal(b[i], (uint8_t)(seq * 31 + i));
}

static int put(struct fx *f, uint32_t len, uint32_t seq)
{
	void *dst = NULL;
	int ret = ar_ring_sp_reserve(&f->p, len, &dst);

	if (ret)
		return ret;
	fill(dst, len, seq);
	return ar_ring_sp_commit(&f->p, len);
}

/* Raw access to the shared ring, as a hostile producer would write it. */
static void poke_hdr(struct fx *f, uint32_t off, uint32_t len, uint16_t kind,
		     uint16_t resv)
{
	struct ar_rec_hdr h = { .len = len, .kind = kind, .resv = resv };

	memcpy(f->c.g.data + off, &h, sizeof(h));
}

static void poke_tail(struct fx *f, uint32_t tail)
{
	f->c.g.ctl->prod_tail = tail;
}

static void expect_poisoned(struct fx *f)
{
	struct ar_ring_rec rec;

	assert_int_equal(ar_ring_sc_peek(&f->c, &rec), -EPROTO);
	assert_true(f->c.g.ctl->flags & AR_RING_F_ERROR);
}

/* An empty ring yields nothing, and a consumer may sleep on it. */
static void test_ring_empty(void **state)
{
	struct fx *f = *state;
	struct ar_ring_rec rec;
	uint8_t buf[16];

	assert_int_equal(ar_ring_sc_peek(&f->c, &rec), 0);
	assert_int_equal(ar_ring_sc_dequeue(&f->c, buf, sizeof(buf)), -EAGAIN);
	/* Committed but unpublished records are invisible. */
	assert_int_equal(put(f, 8, 1), 0);
	assert_int_equal(ar_ring_sc_peek(&f->c, &rec), 0);
	assert_true(ar_ring_sc_prepare_sleep(&f->c));
	ar_ring_sc_finish_sleep(&f->c);
	assert_int_equal(f->c.g.ctl->flags, 0);
}

/* A full ring refuses with -EAGAIN until the consumer releases space. */
static void test_ring_full(void **state)
{
	struct fx *f = *state;
	struct ar_ring_rec rec;
	uint32_t n = 0;

	/* 56-byte payloads are 64-byte records: exactly 64 fit. */
	while (put(f, 56, n) == 0)
		n++;
	assert_int_equal(n, RING_BYTES / 64);
	assert_int_equal(put(f, 0, n), -EAGAIN);
	ar_ring_sp_publish(&f->p);
	/* Consuming without releasing frees nothing. */
	assert_int_equal(ar_ring_sc_peek(&f->c, &rec), 1);
	check(rec.data, rec.len, 0);
	ar_ring_sc_consume(&f->c);
	assert_int_equal(put(f, 56, n), -EAGAIN);
	ar_ring_sc_release(&f->c);
	assert_int_equal(put(f, 56, n), 0);
	assert_int_equal(put(f, 0, n + 1), -EAGAIN);
}

/* Records of mixed sizes cross the ring end many times, intact and in order. */
static void test_ring_wrap_mixed_sizes(void **state)
{
	struct fx *f = *state;
	static const uint32_t sizes[] = { 0, 1, 7, 8, 9, 100, 1000, 13, 2040 };
	uint32_t sent = 0, got = 0, start = f->c.head;
	uint8_t buf[RING_BYTES];

	while (got < 5000) {
		/* Produce a burst of up to 5 records, publish once. */
		for (int i = 0; i < 5; i++) {
			uint32_t len = sizes[sent % 9];

			if (put(f, len, sent))
				break;
			sent++;
		}
		ar_ring_sp_publish(&f->p);
		/* Consume up to 3, release once. */
		for (int i = 0; i < 3; i++) {
			int64_t n = ar_ring_sc_dequeue(&f->c, buf, sizeof(buf));

			if (n == -EAGAIN)
				break;
			assert_int_equal(n, sizes[got % 9]);
			check(buf, (uint32_t)n, got);
			got++;
		}
		ar_ring_sc_release(&f->c);
	}
	/* Many laps: the index moved far beyond one ring. */
	assert_true(f->c.head - start > 100 * RING_BYTES);
}

/* Free-running indices work across the 32-bit wrap. */
static void test_ring_index_wraps_u32(void **state)
{
	struct fx *f = *state;
	uint8_t buf[512];
	uint32_t seq = 0;

	assert_true(f->p.tail >= UINT32_MAX - 2 * RING_BYTES);
	for (uint32_t lap = 0; lap < 4 * RING_BYTES / 64; lap++) {
		assert_int_equal(put(f, 200, seq), 0);
		ar_ring_sp_publish(&f->p);
		assert_int_equal(ar_ring_sc_dequeue(&f->c, buf, sizeof(buf)), 200);
		check(buf, 200, seq++);
		ar_ring_sc_release(&f->c);
	}
	/* The head wrapped past 0 and everything still lines up. */
	assert_true(f->c.head > 0 && f->c.head < 16 * RING_BYTES);
	assert_int_equal(f->c.g.ctl->cons_head, f->c.head);
}

/* A record that does not fit before the end goes to offset 0 after a pad. */
static void test_ring_padding_record(void **state)
{
	struct fx *f = *state;
	struct ar_ring_rec rec;
	struct ar_rec_hdr h;
	uint8_t buf[RING_BYTES];

	/* Advance to 64 bytes before the end. */
	for (uint32_t i = 0; i < (RING_BYTES - 64) / 1024; i++)
		assert_int_equal(put(f, 1016, i), 0);
	assert_int_equal(put(f, 1016 - 64, 9), 0);
	ar_ring_sp_publish(&f->p);
	for (int i = 0; i < 4; i++)
		assert_true(ar_ring_sc_dequeue(&f->c, buf, sizeof(buf)) > 0);
	ar_ring_sc_release(&f->c);
	assert_int_equal(f->p.tail & f->p.g.mask, RING_BYTES - 64);
	/* 100 bytes need 112: pad the last 64, write at 0. */
	assert_int_equal(put(f, 100, 77), 0);
	ar_ring_sp_publish(&f->p);
	memcpy(&h, f->c.g.data + RING_BYTES - 64, sizeof(h));
	assert_int_equal(h.kind, AR_REC_PAD);
	assert_int_equal(h.len, 64 - sizeof(h));
	assert_int_equal(ar_ring_sc_peek(&f->c, &rec), 1);
	assert_ptr_equal(rec.data, f->c.g.data + sizeof(h));
	assert_int_equal(rec.len, 100);
	check(rec.data, 100, 77);
}

/* The largest record fits an empty ring at any offset; one byte more does not. */
static void test_ring_max_record(void **state)
{
	struct fx *f = *state;
	uint32_t max = f->p.g.max_len;
	static uint8_t buf[RING_BYTES];

	assert_int_equal(max, RING_BYTES / 2 - 8);
	assert_int_equal(put(f, max + 1, 0), -EMSGSIZE);
	for (uint32_t i = 0; i < 20; i++) {
		assert_int_equal(put(f, max, i), 0);
		ar_ring_sp_publish(&f->p);
		assert_int_equal(ar_ring_sc_dequeue(&f->c, buf, sizeof(buf)), max);
		check(buf, max, i);
		ar_ring_sc_release(&f->c);
		/* Shift the offset by a small record. */
		assert_int_equal(put(f, 8 * i, i), 0);
		ar_ring_sp_publish(&f->p);
		assert_int_equal(ar_ring_sc_dequeue(&f->c, buf, sizeof(buf)), 8 * i);
		ar_ring_sc_release(&f->c);
	}
}

/* A tail more than one ring ahead of the head poisons the ring. */
static void test_ring_rejects_tail_past_size(void **state)
{
	struct fx *f = *state;

	poke_tail(f, f->c.head + RING_BYTES + 8);
	expect_poisoned(f);
}

/* SECURITY 20: between two releases the consumer takes at most one ring,
 * however the tail moves: a tail that stays within a ring of the private
 * head but runs more than a ring past the released one poisons the ring. */
static void test_ring_rejects_tail_past_released(void **state)
{
	struct fx *f = *state;
	uint8_t buf[RING_BYTES];
	uint32_t start = f->c.head, n = 0;

	/* A whole ring of 64-byte records, consumed but not released. */
	while (put(f, 56, n) == 0)
		n++;
	ar_ring_sp_publish(&f->p);
	for (uint32_t i = 0; i < n; i++)
		assert_int_equal(ar_ring_sc_dequeue(&f->c, buf, sizeof(buf)), 56);
	assert_int_equal(f->c.head - start, RING_BYTES);
	/* The producer ignores cons_head and republishes the same bytes a
	 * ring later: within a ring of our private head, a ring past what we
	 * released. */
	poke_tail(f, start + RING_BYTES + 64);
	expect_poisoned(f);
	assert_true(f->c.head - start <= RING_BYTES);
}

/* The same tail once the consumer has released is an honest one. */
static void test_ring_accepts_tail_after_release(void **state)
{
	struct fx *f = *state;
	uint8_t buf[RING_BYTES];
	uint32_t n = 0;

	while (put(f, 56, n) == 0)
		n++;
	ar_ring_sp_publish(&f->p);
	for (uint32_t i = 0; i < n; i++)
		assert_int_equal(ar_ring_sc_dequeue(&f->c, buf, sizeof(buf)), 56);
	ar_ring_sc_release(&f->c);
	assert_int_equal(put(f, 56, n), 0);
	ar_ring_sp_publish(&f->p);
	assert_int_equal(ar_ring_sc_dequeue(&f->c, buf, sizeof(buf)), 56);
}

/* A tail behind the head (a huge unsigned distance) poisons the ring. */
static void test_ring_rejects_tail_backwards(void **state)
{
	struct fx *f = *state;

	poke_tail(f, f->c.head - 8);
	expect_poisoned(f);
}

/* A tail that is not record aligned poisons the ring. */
static void test_ring_rejects_tail_misaligned(void **state)
{
	struct fx *f = *state;

	poke_tail(f, f->c.head + 12);
	expect_poisoned(f);
}

/* A record longer than what was published poisons the ring. */
static void test_ring_rejects_len_beyond_tail(void **state)
{
	struct fx *f = *state;

	poke_hdr(f, 0, 64, AR_REC_MSG, 0);	/* 72 bytes claimed */
	poke_tail(f, f->c.head + 64);		/* 64 published */
	expect_poisoned(f);
}

/* A record that would cross the end of the ring poisons it. */
static void test_ring_rejects_len_crossing_end(void **state)
{
	struct fx *f = *state;
	const uint32_t off = RING_BYTES - 16;

	/* Move head and tail to 16 bytes before the end (a legal state). */
	f->c.head = f->c.avail_end = f->c.released = off;
	poke_hdr(f, off, 64, AR_REC_MSG, 0);
	poke_tail(f, off + 128);
	expect_poisoned(f);
}

/* A record longer than the ring's largest, even if published, poisons it. */
static void test_ring_rejects_len_over_max(void **state)
{
	struct fx *f = *state;

	poke_hdr(f, 0, f->c.g.max_len + 8, AR_REC_MSG, 0);
	poke_tail(f, f->c.head + RING_BYTES);
	expect_poisoned(f);
}

/* Lengths near UINT32_MAX do not overflow the size computation. */
static void test_ring_rejects_len_u32_max(void **state)
{
	struct fx *f = *state;

	poke_hdr(f, 0, UINT32_MAX - 3, AR_REC_MSG, 0);
	poke_tail(f, f->c.head + 64);
	expect_poisoned(f);
}

/* Unknown kinds, non-zero reserved bits and padding short of the end poison. */
static void test_ring_rejects_bad_header(void **state)
{
	struct fx *f = *state;
	struct {
		uint16_t kind, resv;
		uint32_t len;
	} bad[] = {
		{ 0, 0, 8 }, { 3, 0, 8 }, { AR_REC_MSG, 1, 8 },
		{ AR_REC_PAD, 0, 8 },	/* a pad that stops mid-ring */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ar_ring_cons c;

		assert_int_equal(ar_ring_cons_init(&c, &f->r, 0, AR_RING_SQ), 0);
		f->c.g.ctl->flags = 0;
		poke_hdr(f, 0, bad[i].len, bad[i].kind, bad[i].resv);
		poke_tail(f, c.head + 64);
		f->c = c;
		expect_poisoned(f);
	}
}

/* Once poisoned, a ring stays poisoned and the producer learns of it. */
static void test_ring_poison_sticky(void **state)
{
	struct fx *f = *state;
	struct ar_ring_rec rec;
	void *dst = NULL;

	poke_tail(f, f->c.head + 12);
	expect_poisoned(f);
	poke_tail(f, f->c.head);	/* "repaired" */
	assert_int_equal(ar_ring_sc_peek(&f->c, &rec), -EPROTO);
	/* Fill the ring so the producer takes its slow path and sees it. */
	for (int i = 0; i < 1000; i++) {
		int ret = ar_ring_sp_reserve(&f->p, 100, &dst);

		if (ret) {
			assert_int_equal(ret, -EPROTO);
			return;
		}
		ar_ring_sp_commit(&f->p, 100);
	}
	fail_msg("producer never saw AR_RING_F_ERROR");
}

/* A head released beyond the tail is a corrupt consumer: -EPROTO. */
static void test_ring_producer_rejects_lying_head(void **state)
{
	struct fx *f = *state;
	void *dst = NULL;

	while (put(f, 100, 0) == 0)
		;
	f->c.g.ctl->cons_head = f->p.tail + 64;
	assert_int_equal(ar_ring_sp_reserve(&f->p, 100, &dst), -EPROTO);
	/* Sticky, even once the head looks sane again. */
	f->c.g.ctl->cons_head = f->p.tail;
	assert_int_equal(ar_ring_sp_reserve(&f->p, 100, &dst), -EPROTO);
}

/* A peek reads the header once: a later change does not alter the record. */
static void test_ring_peek_reads_header_once(void **state)
{
	struct fx *f = *state;
	struct ar_ring_rec a, b;

	assert_int_equal(put(f, 16, 1), 0);
	assert_int_equal(put(f, 16, 2), 0);
	ar_ring_sp_publish(&f->p);
	assert_int_equal(ar_ring_sc_peek(&f->c, &a), 1);
	poke_hdr(f, 0, 2000, AR_REC_MSG, 0);	/* flip it after validation */
	assert_int_equal(ar_ring_sc_peek(&f->c, &b), 1);
	assert_int_equal(b.len, 16);
	assert_ptr_equal(a.data, b.data);
	ar_ring_sc_consume(&f->c);
	/* The step was the validated 24 bytes, so record 2 is next. */
	assert_int_equal(ar_ring_sc_peek(&f->c, &b), 1);
	assert_int_equal(b.len, 16);
	check(b.data, 16, 2);
}

/* dequeue copies; a buffer too small leaves the record in place. */
static void test_ring_dequeue_small_buffer(void **state)
{
	struct fx *f = *state;
	uint8_t buf[64];

	assert_int_equal(put(f, 40, 5), 0);
	ar_ring_sp_publish(&f->p);
	assert_int_equal(ar_ring_sc_dequeue(&f->c, buf, 39), -EMSGSIZE);
	assert_int_equal(ar_ring_sc_dequeue(&f->c, buf, sizeof(buf)), 40);
	check(buf, 40, 5);
}

/* A reservation may be committed shorter; only one may be open. */
static void test_ring_commit_shorter(void **state)
{
	struct fx *f = *state;
	uint32_t t0 = f->p.tail;
	void *dst = NULL, *dst2 = NULL;
	uint8_t buf[128];

	assert_int_equal(ar_ring_sp_reserve(&f->p, 100, &dst), 0);
	assert_int_equal(ar_ring_sp_reserve(&f->p, 10, &dst2), -EBUSY);
	fill(dst, 10, 3);
	assert_int_equal(ar_ring_sp_commit(&f->p, 101), -EINVAL);
	assert_int_equal(ar_ring_sp_commit(&f->p, 10), 0);
	assert_int_equal(f->p.tail - t0, AR_REC_SIZE(10));
	assert_int_equal(ar_ring_sp_commit(&f->p, 10), -EINVAL);
	ar_ring_sp_publish(&f->p);
	assert_int_equal(ar_ring_sc_dequeue(&f->c, buf, sizeof(buf)), 10);
	check(buf, 10, 3);
	/* A cancelled reservation leaves nothing behind. */
	assert_int_equal(ar_ring_sp_reserve(&f->p, 100, &dst), 0);
	ar_ring_sp_cancel(&f->p);
	ar_ring_sp_publish(&f->p);
	assert_int_equal(ar_ring_sc_dequeue(&f->c, buf, sizeof(buf)), -EAGAIN);
}

/* The producer is told to wake a consumer only while it prepares to sleep. */
static void test_ring_needs_wakeup(void **state)
{
	struct fx *f = *state;

	assert_false(ar_ring_sp_needs_wakeup(&f->p));
	assert_true(ar_ring_sc_prepare_sleep(&f->c));
	assert_true(ar_ring_sp_needs_wakeup(&f->p));
	ar_ring_sc_finish_sleep(&f->c);
	assert_false(ar_ring_sp_needs_wakeup(&f->p));
	/* With a record already published, prepare_sleep refuses to sleep. */
	assert_int_equal(put(f, 8, 0), 0);
	ar_ring_sp_publish(&f->p);
	assert_false(ar_ring_sc_prepare_sleep(&f->c));
	assert_false(ar_ring_sp_needs_wakeup(&f->p));
}

/* The producer's CPU hint (abi.h prod_cpu): unknown until noted, stored
 * as cpu + 1 and only when it changed, any value read safely. */
static void test_ring_cpu_hint(void **state)
{
	struct fx *f = *state;
	uint32_t *hint = &f->p.g.ctl->prod_cpu;

	assert_int_equal(*hint, 0);
	assert_false(ar_ring_sc_peer_here(&f->c, 0));
	ar_ring_sp_note_cpu(&f->p, 3);
	assert_int_equal(*hint, 4);
	assert_true(ar_ring_sc_peer_here(&f->c, 3));
	assert_false(ar_ring_sc_peer_here(&f->c, 2));
	/* An unknown CPU of our own (sched_getcpu() failed) is nobody's. */
	assert_false(ar_ring_sc_peer_here(&f->c, -1));
	/* Not stored again while it is the same: the line stays shared.
	 * Whatever the peer wrote over it meanwhile stays. */
	*hint = 77;
	ar_ring_sp_note_cpu(&f->p, 3);
	assert_int_equal(*hint, 77);
	ar_ring_sp_note_cpu(&f->p, 1);
	assert_int_equal(*hint, 2);
	ar_ring_sp_note_cpu(&f->p, -1);
	assert_int_equal(*hint, 0);
	assert_false(ar_ring_sc_peer_here(&f->c, 0));
	/* A hostile value matches no CPU sched_getcpu() can return. */
	*hint = 0;
	assert_false(ar_ring_sc_peer_here(&f->c, -1));
	*hint = UINT32_MAX;
	assert_false(ar_ring_sc_peer_here(&f->c, -1));
	assert_false(ar_ring_sc_peer_here(&f->c, 0));
	/* The hint changes nothing a record carries. */
	assert_int_equal(put(f, 8, 0), 0);
	ar_ring_sp_publish(&f->p);
	{
		struct ar_ring_rec rec;

		assert_int_equal(ar_ring_sc_peek(&f->c, &rec), 1);
		assert_int_equal(rec.len, 8);
	}
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
#define TH(fn) cmocka_unit_test_setup_teardown(fn, fx_setup_high, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_ring_empty),
		T(test_ring_full),
		TH(test_ring_full),
		T(test_ring_wrap_mixed_sizes),
		TH(test_ring_wrap_mixed_sizes),
		TH(test_ring_index_wraps_u32),
		T(test_ring_padding_record),
		TH(test_ring_padding_record),
		T(test_ring_max_record),
		TH(test_ring_max_record),
		T(test_ring_rejects_tail_past_size),
		TH(test_ring_rejects_tail_past_size),
		T(test_ring_rejects_tail_past_released),
		TH(test_ring_rejects_tail_past_released),
		T(test_ring_accepts_tail_after_release),
		TH(test_ring_accepts_tail_after_release),
		T(test_ring_rejects_tail_backwards),
		TH(test_ring_rejects_tail_backwards),
		T(test_ring_rejects_tail_misaligned),
		T(test_ring_rejects_len_beyond_tail),
		T(test_ring_rejects_len_crossing_end),
		T(test_ring_rejects_len_over_max),
		T(test_ring_rejects_len_u32_max),
		T(test_ring_rejects_bad_header),
		T(test_ring_poison_sticky),
		T(test_ring_producer_rejects_lying_head),
		T(test_ring_peek_reads_header_once),
		T(test_ring_cpu_hint),
		T(test_ring_dequeue_small_buffer),
		T(test_ring_commit_shorter),
		T(test_ring_needs_wakeup),
	};

	return cmocka_run_group_tests_name("ring", tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz the ring consumer: the input is a consumer head, a producer tail and
 * the ring's bytes, all hostile, and optionally more tails that the
 * producer publishes each time the consumer has drained to the last one,
 * within one batch (no release in between: the broker's worker releases
 * once per pass). The consumer must only hand out records inside the ring,
 * must take at most one ring's worth between two releases however the tail
 * moves (SECURITY 20), and must either drain to the tail or poison the ring.
 *
 * Input: u32 head | u32 tail | ring bytes (zero-filled to 4 KiB)
 *        [| u32 tail ...: tails published mid-batch, when the input is
 *        longer than the ring].
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <accelring/ring.h>

#define RING 4096u

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static struct ar_ring_ctl ctl;
	struct ar_ring_cons c;
	struct ar_ring_rec rec;
	uint32_t head, tail, seen = 0;
	const uint8_t *more = NULL;
	size_t nr_more = 0;
	uint8_t *ring;
	int ret;

	if (n < 8)
		return 0;
	memcpy(&head, d, 4);
	memcpy(&tail, d + 4, 4);
	/* Exactly the ring, on the heap, so ASan sees any byte beyond it. */
	ring = calloc(1, RING);
	if (!ring)
		abort();
	memcpy(ring, d + 8, n - 8 < RING ? n - 8 : RING);
	if (n > 8 + RING) {
		more = d + 8 + RING;
		nr_more = (n - 8 - RING) / 4;
	}
	memset(&ctl, 0, sizeof(ctl));
	memset(&c, 0, sizeof(c));
	c.g.ctl = &ctl;
	c.g.data = ring;
	c.g.bytes = RING;
	c.g.mask = RING - 1;
	c.g.max_len = AR_REC_MAX_LEN(RING);
	/* The consumer's own head is private and always record aligned. */
	head &= ~(AR_REC_ALIGN - 1);
	c.head = c.avail_end = c.released = head;
	ctl.prod_tail = tail;
	for (;;) {
		ret = ar_ring_sc_peek(&c, &rec);
		if (ret == 0 && nr_more) {
			/* Drained: the producer moves its tail again. */
			memcpy(&tail, more, 4);
			more += 4;
			nr_more--;
			ctl.prod_tail = tail;
			continue;
		}
		if (ret != 1)
			break;
		const uint8_t *p = rec.data;

		if (rec.len > c.g.max_len || p < ring + 8 ||
		    p + rec.len > ring + RING)
			abort();
		/* Touch every byte handed out. */
		for (uint32_t i = 0; i < rec.len; i++)
			seen += p[i];
		ar_ring_sc_consume(&c);
		/* One batch (no release) never takes more than a ring,
		 * whatever the tails. */
		if (c.head - head > RING)
			abort();
	}
	if (ret == 0 && c.head != tail)
		abort();	/* empty must mean drained to the tail */
	if (ret < 0 && (ret != -EPROTO || !(ctl.flags & AR_RING_F_ERROR)))
		abort();
	ar_ring_sc_release(&c);
	free(ring);
	return (int)(seen & 0);
}

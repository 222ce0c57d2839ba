/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz the ring consumer: the input is a consumer head, a producer tail and
 * the ring's bytes, all hostile. The consumer must only hand out records
 * inside the ring, must stop within one ring's worth of records per tail,
 * and must either drain to the tail or poison the ring.
 *
 * Input: u32 head | u32 tail | ring bytes (zero-filled to 4 KiB).
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
	while ((ret = ar_ring_sc_peek(&c, &rec)) == 1) {
		const uint8_t *p = rec.data;

		if (rec.len > c.g.max_len || p < ring + 8 ||
		    p + rec.len > ring + RING)
			abort();
		/* Touch every byte handed out. */
		for (uint32_t i = 0; i < rec.len; i++)
			seen += p[i];
		ar_ring_sc_consume(&c);
		/* One tail never yields more than a ring of records. */
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

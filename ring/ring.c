/* SPDX-License-Identifier: Apache-2.0 */
/* Ring handles: the slow paths behind the inline fast paths in ring.h. */
#include "ring_pvt.h"

int ar_ring_prod_init(struct ar_ring_prod *p, const struct ar_region *r,
		      uint32_t ch, int which)
{
	int ret;

	memset(p, 0, sizeof(*p));
	ret = ar_region_ring(r, ch, which, &p->g);
	if (ret)
		return ret;
	p->tail = p->g.idx_start;
	p->head_cache = p->g.idx_start;
	p->resv_off = UINT32_MAX;
	return 0;
}

int ar_ring_cons_init(struct ar_ring_cons *c, const struct ar_region *r,
		      uint32_t ch, int which)
{
	int ret;

	memset(c, 0, sizeof(*c));
	ret = ar_region_ring(r, ch, which, &c->g);
	if (ret)
		return ret;
	c->head = c->g.idx_start;
	c->avail_end = c->g.idx_start;
	c->released = c->g.idx_start;
	return 0;
}

int ar__ring_poison(struct ar_ring_cons *c)
{
	uint32_t f;

	c->err = -EPROTO;
	c->peeked = 0;
	/* Only the consumer writes flags, so a load and a store suffice. The
	 * producer reads it on its slow path and reports -EPROTO. */
	f = ar_load_relaxed(&c->g.ctl->flags);
	ar_store_release(&c->g.ctl->flags, f | AR_RING_F_ERROR);
	return c->err;
}

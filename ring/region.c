/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Regions: create (broker side) and attach (client side).
 *
 * The creator lays the region out from its parameters and keeps that layout
 * in private memory; it never reads the shared header back. The attacher
 * copies the header out once and validates the copy before using it.
 */
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ring_pvt.h"

static bool is_pow2(uint64_t x)
{
	return x && !(x & (x - 1));
}

static uint64_t align_up(uint64_t x, uint64_t a)
{
	return (x + a - 1) & ~(a - 1);
}

static bool ring_bytes_ok(uint32_t b)
{
	return is_pow2(b) && b >= AR_RING_BYTES_MIN && b <= AR_RING_BYTES_MAX;
}

static bool mem_is_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/* The layout ar_region_create() uses; attach accepts any valid one. */
static int layout(const struct ar_region_params *p, struct ar_region_offsets *o,
		  uint64_t *bytes)
{
	uint32_t sq = p->sq_bytes ? p->sq_bytes : AR_RING_BYTES_DEFAULT;
	uint32_t cq = p->cq_bytes ? p->cq_bytes : AR_RING_BYTES_DEFAULT;
	uint32_t nr = p->nr_channels ? p->nr_channels : 1;
	uint64_t data = align_up(p->data_bytes, AR_PAGE_SIZE);
	uint64_t stride;

	if (p->flags || p->resv || !ring_bytes_ok(sq) || !ring_bytes_ok(cq) ||
	    nr > AR_REGION_CHANNELS_MAX || p->data_bytes > AR_REGION_DATA_MAX ||
	    (p->idx_start & (AR_REC_ALIGN - 1)))
		return -EINVAL;
	/* Control blocks first, then the record bytes: the hot index lines of
	 * both rings share no page with the bulk data. */
	stride = align_up(2 * sizeof(struct ar_ring_ctl) + (uint64_t)sq + cq,
			  AR_PAGE_SIZE);
	if (stride > UINT32_MAX)
		return -EINVAL;
	memset(o, 0, sizeof(*o));
	o->channels = AR_REGION_HDR_PAGE;
	o->nr_channels = nr;
	o->channel_stride = (uint32_t)stride;
	o->sq.ctl = 0;
	o->cq.ctl = sizeof(struct ar_ring_ctl);
	o->sq.data = 2 * sizeof(struct ar_ring_ctl);
	o->sq.bytes = sq;
	o->cq.data = o->sq.data + sq;
	o->cq.bytes = cq;
	o->data = o->channels + (uint64_t)nr * stride;
	o->data_bytes = data;
	*bytes = o->data + data;
	return 0;
}

/* An empty region: nothing mapped, no fd. */
static void region_reset(struct ar_region *r)
{
	memset(r, 0, sizeof(*r));
	r->fd = -1;
}

/* Fault in `len` bytes at p now rather than on the first op (~1.6 us a
 * page here). Best effort: older kernels lack MADV_POPULATE_WRITE. Only
 * the attaching side does this: the pages are then faulted, and charged,
 * by the client whose rings they are, never by the broker that creates the
 * region (SECURITY.md 24 and 26). */
static void prefault(void *p, uint64_t len)
{
#ifdef MADV_POPULATE_WRITE
	(void)madvise(p, (size_t)len, MADV_POPULATE_WRITE);
#else
	(void)p;
	(void)len;
#endif
}

/* Channel ch's first byte (ch < nr_channels). */
static uint8_t *chan_base(const struct ar_region *r, uint32_t ch)
{
	return (uint8_t *)r->base + r->offs.channels + (uint64_t)ch * r->offs.channel_stride;
}

int ar_region_prefault_channel(const struct ar_region *r, uint32_t ch)
{
	if (!r->base || ch >= r->offs.nr_channels)
		return -EINVAL;
	prefault(chan_base(r, ch), r->offs.channel_stride);
	return 0;
}

static void init_ring(struct ar_region *r, uint32_t ch, int which)
{
	struct ar_ring_geom g;

	ar_region_ring(r, ch, which, &g);
	g.ctl->prod_tail = r->idx_start;
	g.ctl->cons_head = r->idx_start;
}

int ar_region_create(struct ar_region *r, const struct ar_region_params *p)
{
	struct ar_region_hdr *h;
	uint64_t bytes;
	void *base;
	int fd, ret;

	region_reset(r);
	ret = layout(p, &r->offs, &bytes);
	if (ret)
		return ret;
	fd = memfd_create("accelring-region", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)bytes) < 0)
		goto fail_errno;
	base = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (base == MAP_FAILED)
		goto fail_errno;
	/* No prefault: creating a region costs the same for any size (the
	 * broker does it on its loop thread), and only the pages written
	 * below, the header and each ring's control block, exist until the
	 * client touches its rings. */
	r->base = base;
	r->bytes = bytes;
	r->fd = fd;
	r->idx_start = p->idx_start;
	for (uint32_t ch = 0; ch < r->offs.nr_channels; ch++) {
		init_ring(r, ch, AR_RING_SQ);
		init_ring(r, ch, AR_RING_CQ);
	}
	h = base;
	h->hdr_bytes = sizeof(*h);
	h->region_bytes = bytes;
	h->idx_start = p->idx_start;
	h->offs = r->offs;
	/* R3: pairs with A3 in ar_region_attach(); the magic goes last. */
	ar_store_release((uint64_t *)base,
			 (uint64_t)AR_ABI_MAGIC |
				 ((uint64_t)AR_ABI_MAJOR << 32) |
				 ((uint64_t)AR_ABI_MINOR << 48));
	if (fcntl(fd, F_ADD_SEALS, AR_REGION_SEALS) < 0) {
		ret = -errno;
		ar_region_release(r);
		return ret;
	}
	return 0;

fail_errno:
	ret = -errno;
	close(fd);
	r->fd = -1;
	return ret;
}

/* A ring's two parts lie inside the channel stride. */
static bool ring_offsets_ok(const struct ar_ring_offsets *ro, uint32_t stride)
{
	return ring_bytes_ok(ro->bytes) && !ro->resv &&
	       !(ro->ctl % AR_CACHELINE) && !(ro->data % AR_CACHELINE) &&
	       (uint64_t)ro->ctl + sizeof(struct ar_ring_ctl) <= stride &&
	       (uint64_t)ro->data + ro->bytes <= stride;
}

static bool disjoint(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a + alen <= b || b + blen <= a;
}

int ar__region_validate(const struct ar_region_hdr *h, uint64_t fd_bytes,
			struct ar_region *r)
{
	const struct ar_region_offsets *o = &h->offs;
	const uint64_t ctl = sizeof(struct ar_ring_ctl);
	uint64_t chans_end;

	if (h->magic != AR_ABI_MAGIC)
		return -EINVAL;
	if (h->abi_major != AR_ABI_MAJOR)
		return -EPROTONOSUPPORT;
	if (h->region_bytes != fd_bytes)
		return -EMSGSIZE;
	/* A newer minor may use what is reserved to us; an equal or older one
	 * must leave it zero. */
	if (h->abi_minor <= AR_ABI_MINOR &&
	    (h->resv0 || !mem_is_zero(h->resv, sizeof(h->resv)) ||
	     !mem_is_zero(o->resv, sizeof(o->resv))))
		return -EINVAL;
	if (h->flags || h->hdr_bytes < sizeof(*h) ||
	    (h->idx_start & (AR_REC_ALIGN - 1)))
		return -EINVAL;
	/* Channels: after the header, page aligned, before the data area. */
	if (o->nr_channels == 0 || o->nr_channels > AR_REGION_CHANNELS_MAX ||
	    o->channel_stride == 0 || o->channel_stride % AR_PAGE_SIZE ||
	    o->channels % AR_PAGE_SIZE || o->channels < h->hdr_bytes ||
	    o->channels > fd_bytes)
		return -EINVAL;
	chans_end = o->channels + (uint64_t)o->nr_channels * o->channel_stride;
	if (o->data % AR_PAGE_SIZE || o->data < chans_end ||
	    o->data_bytes > AR_REGION_DATA_MAX || o->data > fd_bytes ||
	    o->data_bytes > fd_bytes - o->data)
		return -EINVAL;
	/* Rings: inside the stride and apart from each other. */
	if (!ring_offsets_ok(&o->sq, o->channel_stride) ||
	    !ring_offsets_ok(&o->cq, o->channel_stride))
		return -EINVAL;
	if (!disjoint(o->sq.ctl, ctl, o->cq.ctl, ctl) ||
	    !disjoint(o->sq.ctl, ctl, o->sq.data, o->sq.bytes) ||
	    !disjoint(o->sq.ctl, ctl, o->cq.data, o->cq.bytes) ||
	    !disjoint(o->cq.ctl, ctl, o->sq.data, o->sq.bytes) ||
	    !disjoint(o->cq.ctl, ctl, o->cq.data, o->cq.bytes) ||
	    !disjoint(o->sq.data, o->sq.bytes, o->cq.data, o->cq.bytes))
		return -EINVAL;
	r->offs = *o;
	r->bytes = fd_bytes;
	r->idx_start = h->idx_start;
	return 0;
}

int ar_region_attach(struct ar_region *r, int fd)
{
	struct ar_region_hdr h;
	struct stat st;
	void *base;
	int seals, ret;

	region_reset(r);
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0)
		return -errno;	/* EINVAL: not a memfd; EBADF */
	if ((seals & AR_REGION_SEALS) != AR_REGION_SEALS)
		return -EPERM;
	if (fstat(fd, &st) < 0)
		return -errno;
	/* The seals make this size final: the mapping below cannot SIGBUS. */
	if (st.st_size < AR_REGION_HDR_PAGE)
		return -EMSGSIZE;
	base = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		    fd, 0);
	if (base == MAP_FAILED)
		return -errno;
	/* A3: pairs with R3 in ar_region_create(); then one private copy. */
	(void)ar_load_acquire((uint64_t *)base);
	memcpy(&h, base, sizeof(h));
	ret = ar__region_validate(&h, (uint64_t)st.st_size, r);
	if (ret) {
		munmap(base, (size_t)st.st_size);
		region_reset(r);
		return ret;
	}
	/* The header and channel 0: a client's first thread uses it. The
	 * others are faulted when a thread first takes them
	 * (ar_region_prefault_channel()), the data area on first touch. */
	prefault(base, r->offs.channels + r->offs.channel_stride);
	r->base = base;
	r->fd = fd;
	return 0;
}

void ar_region_release(struct ar_region *r)
{
	if (r->base)
		munmap(r->base, r->bytes);
	if (r->fd >= 0)
		close(r->fd);
	region_reset(r);
}

int ar_region_ring(const struct ar_region *r, uint32_t ch, int which,
		   struct ar_ring_geom *g)
{
	const struct ar_ring_offsets *ro;
	uint8_t *chan;

	if (ch >= r->offs.nr_channels ||
	    (which != AR_RING_SQ && which != AR_RING_CQ))
		return -EINVAL;
	ro = which == AR_RING_SQ ? &r->offs.sq : &r->offs.cq;
	chan = chan_base(r, ch);
	g->ctl = (struct ar_ring_ctl *)(chan + ro->ctl);
	g->data = chan + ro->data;
	g->bytes = ro->bytes;
	g->mask = ro->bytes - 1;
	g->max_len = (uint32_t)AR_REC_MAX_LEN(ro->bytes);
	g->idx_start = r->idx_start;
	return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz the validation of a region header on attach. A header accepted for
 * a memfd of a given size must describe rings and a data area that all lie
 * inside that size: we touch the first and last byte of each in a buffer of
 * exactly that size, so ASan reports any escape.
 *
 * Input: u64 memfd size | header bytes (zero-filled to the header size).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ring_pvt.h"

/* Regions larger than this are validated but not touched. */
#define TOUCH_MAX (4u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static void touch(volatile uint8_t *p, uint64_t len)
{
	if (len) {
		p[0]++;
		p[len - 1]++;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct ar_region_hdr h;
	struct ar_region r;
	uint64_t bytes;

	if (n < 8)
		return 0;
	memcpy(&bytes, d, 8);
	memset(&h, 0, sizeof(h));
	memcpy(&h, d + 8, n - 8 < sizeof(h) ? n - 8 : sizeof(h));
	memset(&r, 0, sizeof(r));
	if (ar__region_validate(&h, bytes, &r))
		return 0;
	if (r.bytes != bytes || r.offs.data + r.offs.data_bytes > bytes)
		abort();
	if (bytes > TOUCH_MAX)
		return 0;
	r.base = calloc(1, bytes);
	if (!r.base)
		abort();
	for (uint32_t ch = 0; ch < r.offs.nr_channels; ch++) {
		for (int w = AR_RING_SQ; w <= AR_RING_CQ; w++) {
			struct ar_ring_geom g;

			if (ar_region_ring(&r, ch, w, &g))
				abort();
			touch((uint8_t *)g.ctl, sizeof(*g.ctl));
			touch(g.data, g.bytes);
		}
	}
	touch(ar_region_data(&r, NULL), r.offs.data_bytes);
	free(r.base);
	return 0;
}

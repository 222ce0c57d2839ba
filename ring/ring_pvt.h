/* SPDX-License-Identifier: Apache-2.0 */
/* Private to ring/ and its tests; never installed. */
#ifndef AR_RING_PVT_H
#define AR_RING_PVT_H

#include <accelring/ring.h>

/* Size of the header page in front of the channels. */
#define AR_REGION_HDR_PAGE AR_PAGE_SIZE
/* Required seals on a region memfd. */
#define AR_REGION_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)

/*
 * ar__region_validate - check a private copy of a region header against
 * the size of the memfd it came from and, on success, fill r->offs,
 * r->bytes and r->idx_start from it. Shared by attach and its fuzz target.
 * Returns 0, -EINVAL, -EPROTONOSUPPORT or -EMSGSIZE as ar_region_attach().
 */
int ar__region_validate(const struct ar_region_hdr *h, uint64_t fd_bytes,
			struct ar_region *r);

#endif /* AR_RING_PVT_H */

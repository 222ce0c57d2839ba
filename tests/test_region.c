/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for regions: layout, create, and attach's refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ring_pvt.h"

/* A memfd holding a copy of src's bytes, resized to bytes, with seals. */
static int clone_memfd(const struct ar_region *src, uint64_t bytes, int seals)
{
	int fd = memfd_create("test", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	uint64_t n = bytes < src->bytes ? bytes : src->bytes;

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)bytes), 0);
	assert_int_equal(pwrite(fd, src->base, n, 0), (ssize_t)n);
	if (seals)
		assert_int_equal(fcntl(fd, F_ADD_SEALS, seals), 0);
	return fd;
}

static struct ar_region_hdr *hdr(struct ar_region *r)
{
	return r->base;
}

/* Attach on an fd that fails; the fd must stay open and owned by us. */
static void expect_attach_fails(int fd, int err)
{
	struct ar_region r;

	assert_int_equal(ar_region_attach(&r, fd), err);
	assert_null(r.base);
	assert_true(fcntl(fd, F_GETFD) >= 0);
	close(fd);
}

/* A created region attaches, and both sides see the same layout. */
static void test_region_create_attach_roundtrip(void **state)
{
	struct ar_region_params p = { .nr_channels = 3, .sq_bytes = 8192,
				      .cq_bytes = 16384, .data_bytes = 5000 };
	struct ar_region a, b;
	struct ar_ring_geom ga, gb;

	(void)state;
	assert_int_equal(ar_region_create(&a, &p), 0);
	assert_int_equal(ar_region_attach(&b, dup(a.fd)), 0);
	assert_memory_equal(&a.offs, &b.offs, sizeof(a.offs));
	assert_int_equal(a.bytes, b.bytes);
	assert_int_equal(b.offs.data_bytes, 8192);	/* rounded to pages */
	assert_int_equal(ar_region_ring(&a, 2, AR_RING_CQ, &ga), 0);
	assert_int_equal(ar_region_ring(&b, 2, AR_RING_CQ, &gb), 0);
	assert_int_equal(ga.bytes, 16384);
	/* Same memory: a store through one mapping shows in the other. */
	ga.data[100] = 0x5a;
	assert_int_equal(gb.data[100], 0x5a);
	assert_int_equal(ar_region_ring(&a, 3, AR_RING_SQ, &ga), -EINVAL);
	assert_int_equal(ar_region_ring(&a, 0, 7, &ga), -EINVAL);
	/* Attach faulted channel 0; the others are faulted on demand. */
	assert_int_equal(ar_region_prefault_channel(&b, 2), 0);
	assert_int_equal(gb.data[100], 0x5a);
	assert_int_equal(ar_region_prefault_channel(&b, 3), -EINVAL);
	ar_region_release(&b);
	assert_int_equal(ar_region_prefault_channel(&b, 0), -EINVAL);
	ar_region_release(&a);
}

/* Every ring and the data area lie inside the region without overlap. */
static void test_region_layout_disjoint(void **state)
{
	struct ar_region_params p = { .nr_channels = 4, .data_bytes = 1 << 20 };
	struct ar_region r;
	uintptr_t lo, hi, prev_hi;

	(void)state;
	assert_int_equal(ar_region_create(&r, &p), 0);
	lo = (uintptr_t)r.base;
	prev_hi = lo + sizeof(struct ar_region_hdr);
	for (uint32_t ch = 0; ch < 4; ch++) {
		struct ar_ring_geom sq, cq;

		assert_int_equal(ar_region_ring(&r, ch, AR_RING_SQ, &sq), 0);
		assert_int_equal(ar_region_ring(&r, ch, AR_RING_CQ, &cq), 0);
		/* ctl blocks, then record bytes, in this order. */
		assert_true((uintptr_t)sq.ctl >= prev_hi);
		assert_true((uintptr_t)(cq.ctl) >= (uintptr_t)(sq.ctl + 1));
		assert_true((uintptr_t)sq.data >= (uintptr_t)(cq.ctl + 1));
		assert_true((uintptr_t)cq.data >= (uintptr_t)sq.data + sq.bytes);
		prev_hi = (uintptr_t)cq.data + cq.bytes;
	}
	hi = (uintptr_t)ar_region_data(&r, NULL);
	assert_true(hi >= prev_hi);
	assert_int_equal(hi + (1 << 20), lo + r.bytes);
	ar_region_release(&r);
}

/* Out-of-range parameters are refused before anything is created. */
static void test_region_create_rejects_bad_params(void **state)
{
	struct ar_region r;
	struct ar_region_params bad[] = {
		{ .sq_bytes = 3000 },			/* not a power of 2 */
		{ .cq_bytes = 2048 },			/* below minimum */
		{ .sq_bytes = 1u << 29 },		/* above maximum */
		{ .nr_channels = AR_REGION_CHANNELS_MAX + 1 },
		{ .data_bytes = AR_REGION_DATA_MAX + 1 },
		{ .idx_start = 4 },			/* misaligned */
		{ .flags = 1 },
		{ .resv = 1 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(ar_region_create(&r, &bad[i]), -EINVAL);
		assert_int_equal(r.fd, -1);
	}
}

/* The memfd the creator hands out is sealed: it cannot shrink or grow. */
static void test_region_create_seals(void **state)
{
	struct ar_region_params p = { 0 };
	struct ar_region r;
	int seals;

	(void)state;
	assert_int_equal(ar_region_create(&r, &p), 0);
	seals = fcntl(r.fd, F_GET_SEALS);
	assert_int_equal(seals & AR_REGION_SEALS, AR_REGION_SEALS);
	assert_int_equal(ftruncate(r.fd, 4096), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(ftruncate(r.fd, (off_t)r.bytes * 2), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(fcntl(r.fd, F_ADD_SEALS, F_SEAL_WRITE), -1);
	ar_region_release(&r);
}

/* Attach refuses a region whose magic is wrong. */
static void test_region_attach_rejects_magic(void **state)
{
	struct ar_region_params p = { 0 };
	struct ar_region r;

	(void)state;
	assert_int_equal(ar_region_create(&r, &p), 0);
	hdr(&r)->magic ^= 1;
	expect_attach_fails(dup(r.fd), -EINVAL);
	ar_region_release(&r);
}

/* Attach refuses another ABI major version, and accepts a newer minor. */
static void test_region_attach_rejects_major(void **state)
{
	struct ar_region_params p = { 0 };
	struct ar_region r, a;

	(void)state;
	assert_int_equal(ar_region_create(&r, &p), 0);
	hdr(&r)->abi_minor = AR_ABI_MINOR + 1;
	hdr(&r)->resv[0] = 42;	/* a newer minor may use reserved space */
	assert_int_equal(ar_region_attach(&a, dup(r.fd)), 0);
	ar_region_release(&a);
	hdr(&r)->abi_minor = AR_ABI_MINOR;
	expect_attach_fails(dup(r.fd), -EINVAL);	/* ... ours may not */
	hdr(&r)->resv[0] = 0;
	hdr(&r)->abi_major = AR_ABI_MAJOR + 1;
	expect_attach_fails(dup(r.fd), -EPROTONOSUPPORT);
	hdr(&r)->abi_major = AR_ABI_MAJOR - 1;
	expect_attach_fails(dup(r.fd), -EPROTONOSUPPORT);
	ar_region_release(&r);
}

/* Attach refuses a memfd whose size differs from the header's. */
static void test_region_attach_rejects_size(void **state)
{
	struct ar_region_params p = { 0 };
	struct ar_region r;

	(void)state;
	assert_int_equal(ar_region_create(&r, &p), 0);
	expect_attach_fails(clone_memfd(&r, r.bytes + 4096, AR_REGION_SEALS),
			    -EMSGSIZE);
	expect_attach_fails(clone_memfd(&r, r.bytes - 4096, AR_REGION_SEALS),
			    -EMSGSIZE);
	expect_attach_fails(clone_memfd(&r, 100, AR_REGION_SEALS), -EMSGSIZE);
	/* The exact copy, sealed, is fine: the checks above are about size. */
	{
		struct ar_region a;
		int fd = clone_memfd(&r, r.bytes, AR_REGION_SEALS);

		assert_int_equal(ar_region_attach(&a, fd), 0);
		ar_region_release(&a);
	}
	ar_region_release(&r);
}

/* Attach refuses a memfd missing any of the three seals, and non-memfds. */
static void test_region_attach_rejects_seals(void **state)
{
	struct ar_region_params p = { 0 };
	struct ar_region r;
	const int partial[] = { 0, F_SEAL_SHRINK | F_SEAL_GROW,
				F_SEAL_SHRINK | F_SEAL_SEAL,
				F_SEAL_GROW | F_SEAL_SEAL };
	char path[] = "/tmp/ar_test_region_XXXXXX";
	int fd;

	(void)state;
	assert_int_equal(ar_region_create(&r, &p), 0);
	for (size_t i = 0; i < 4; i++)
		expect_attach_fails(clone_memfd(&r, r.bytes, partial[i]), -EPERM);
	/* A regular file cannot be sealed at all. */
	fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(pwrite(fd, r.base, r.bytes, 0), (ssize_t)r.bytes);
	expect_attach_fails(fd, -EINVAL);
	ar_region_release(&r);
}

/* Attach refuses layouts that leave the region or overlap. */
static void test_region_attach_rejects_layout(void **state)
{
	struct ar_region_params p = { .nr_channels = 2, .data_bytes = 4096 };
	struct ar_region r, a;
	struct ar_region_hdr good;

	(void)state;
	assert_int_equal(ar_region_create(&r, &p), 0);
	good = *hdr(&r);
#define BAD(stmt)                                                     \
	do {                                                          \
		*hdr(&r) = good;                                      \
		stmt;                                                 \
		assert_int_equal(ar__region_validate(hdr(&r), r.bytes, &a), \
				 -EINVAL);                            \
	} while (0)
	BAD(hdr(&r)->offs.nr_channels = 0);
	BAD(hdr(&r)->offs.nr_channels = 3);		/* into the data area */
	BAD(hdr(&r)->offs.channel_stride = 100);	/* not page aligned */
	BAD(hdr(&r)->offs.channels = 0);		/* over the header */
	BAD(hdr(&r)->offs.data = r.bytes);		/* data leaves region */
	BAD(hdr(&r)->offs.data_bytes = UINT64_MAX);	/* overflow */
	BAD(hdr(&r)->offs.sq.bytes = 3000);
	BAD(hdr(&r)->offs.sq.ctl = 8);			/* misaligned */
	BAD(hdr(&r)->offs.cq.ctl = hdr(&r)->offs.sq.ctl);	/* overlap */
	BAD(hdr(&r)->offs.cq.data = hdr(&r)->offs.sq.data);
	BAD(hdr(&r)->offs.cq.data = hdr(&r)->offs.channel_stride - 64);
	BAD(hdr(&r)->offs.sq.resv = 1);
	BAD(hdr(&r)->flags = 1);
	BAD(hdr(&r)->hdr_bytes = 8);
	BAD(hdr(&r)->idx_start = 3);
#undef BAD
	*hdr(&r) = good;
	assert_int_equal(ar__region_validate(hdr(&r), r.bytes, &a), 0);
	ar_region_release(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_region_create_attach_roundtrip),
		cmocka_unit_test(test_region_layout_disjoint),
		cmocka_unit_test(test_region_create_rejects_bad_params),
		cmocka_unit_test(test_region_create_seals),
		cmocka_unit_test(test_region_attach_rejects_magic),
		cmocka_unit_test(test_region_attach_rejects_major),
		cmocka_unit_test(test_region_attach_rejects_size),
		cmocka_unit_test(test_region_attach_rejects_seals),
		cmocka_unit_test(test_region_attach_rejects_layout),
	};

	return cmocka_run_group_tests_name("region", tests, NULL, NULL);
}

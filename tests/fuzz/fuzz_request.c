/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_request - the broker's copy -> verify -> decode -> range-check path
 * (broker/request.c) on arbitrary records. Beyond not crashing, every
 * buffer a request resolves to must lie inside the data area or inside
 * the private copy, and be at least as long as the op needs: that is what
 * plugins are promised.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define AREA (64u * 1024)
#define ARENA (64u * 1024)

static uint8_t area[AREA] __attribute__((aligned(64)));
static uint8_t arena[ARENA] __attribute__((aligned(64)));
static uint64_t copy[(AREA + 7) / 8];
static struct ar_req req;

static void check(const void *p, uint64_t len, const uint8_t *cp, size_t n)
{
	const uint8_t *b = p;

	if (!len)
		return;
	if (b >= area && b + len <= area + AREA)
		return;
	if (b >= arena && b + len <= arena + ARENA)
		return;
	if (b >= cp && b + len <= cp + n)
		return;
	abort();	/* a plugin would read or write out of bounds */
}

static uint64_t span(int64_t rows, int64_t cols, int64_t ld)
{
	return ((uint64_t)(rows - 1) * (uint64_t)ld + (uint64_t)cols) * 4;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct ar_req_ctx ctx = { .data = area, .data_bytes = AREA,
				  .arena = arena, .arena_cap = ARENA,
				  .max_inline = 32 * 1024 };
	const uint8_t *cp = (const uint8_t *)copy;
	struct ar_req *r = &req;

	if (n > sizeof(copy))
		return 0;
	/* The worker's copy: private, aligned. */
	memcpy(copy, d, n);
	if (ar__req_parse(&ctx, copy, n, r) || r->status || r->type != AR_WIRE_OP)
		return 0;
	if (ctx.arena_used > ctx.arena_cap || r->cq_bound > ctx.max_inline)
		abort();
	switch (ar_op_args_kind(r->op.op)) {
	case AR_ARGS_SGEMM: {
		const struct ar_op_sgemm *s = &r->op.u.sgemm;

		if (s->m < 1 || s->n < 1 || s->k < 1 || s->lda < s->k ||
		    s->ldb < s->n || s->ldc < s->n)
			abort();
		check(s->a, span(s->m, s->k, s->lda), cp, n);
		check(s->b, span(s->k, s->n, s->ldb), cp, n);
		check(s->c, span(s->m, s->n, s->ldc), cp, n);
		break;
	}
	case AR_ARGS_IMAGE:
		check(r->op.u.image.img.ptr, r->op.u.image.img.len, cp, n);
		check(r->op.u.image.out_text.ptr, r->op.u.image.out_text.len, cp, n);
		check(r->op.u.image.out_imgname.ptr, r->op.u.image.out_imgname.len, cp, n);
		break;
	case AR_ARGS_GENERIC:
		for (uint32_t i = 0; i < r->op.u.generic.nr_read; i++)
			check(r->read[i].ptr, r->read[i].len, cp, n);
		for (uint32_t i = 0; i < r->op.u.generic.nr_write; i++)
			check(r->write[i].ptr, r->write[i].len, cp, n);
		if (r->op.u.generic.library &&
		    strlen(r->op.u.generic.library) >= AR_WIRE_MAX_NAME)
			abort();
		break;
	default:
		break;
	}
	return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The data area allocator: first fit over a sorted list of free blocks,
 * kept in private memory (the broker never sees it and a bug in the app's
 * use of shared memory cannot corrupt it). Allocations are 64-byte aligned
 * so that no two buffers share a cache line with the broker's writes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client_pvt.h"

#define ALIGN 64u

int ar__alloc_init(struct link *l)
{
	pthread_mutex_init(&l->alloc_lock, NULL);
	/* The socket's control frames (resource.c) share this setup. */
	pthread_mutex_init(&l->ctl_lock, NULL);
	l->cap_free = 16;
	l->free = malloc(l->cap_free * sizeof(*l->free));
	if (!l->free)
		return -ENOMEM;
	l->nr_free = 0;
	if (l->data_bytes >= ALIGN)
		l->free[l->nr_free++] = (struct blk){ 0, l->data_bytes & ~(uint64_t)(ALIGN - 1) };
	return 0;
}

void ar__alloc_fini(struct link *l)
{
	free(l->free);
	l->free = NULL;
	pthread_mutex_destroy(&l->alloc_lock);
	pthread_mutex_destroy(&l->ctl_lock);
}

bool ar__in_area(const struct link *l, const void *p, uint64_t len, uint64_t *off)
{
	uintptr_t a = (uintptr_t)p, base = (uintptr_t)l->data;

	if (a < base || a - base > l->data_bytes || len > l->data_bytes - (a - base))
		return false;
	*off = a - base;
	return true;
}

/* Allocation sizes live in a private table keyed by address, not in a
 * header next to the buffer: shared memory can be overwritten by the app
 * (or read by the broker), private memory cannot. */
struct used {
	uint64_t off, len;
};

static struct used *used_tab;
static size_t nr_used, cap_used;
static pthread_mutex_t used_lock = PTHREAD_MUTEX_INITIALIZER;

static int used_add(uint64_t key, uint64_t len)
{
	pthread_mutex_lock(&used_lock);
	if (nr_used == cap_used) {
		size_t cap = cap_used ? cap_used * 2 : 64;
		struct used *n = realloc(used_tab, cap * sizeof(*n));

		if (!n) {
			pthread_mutex_unlock(&used_lock);
			return -ENOMEM;
		}
		used_tab = n;
		cap_used = cap;
	}
	used_tab[nr_used++] = (struct used){ key, len };
	pthread_mutex_unlock(&used_lock);
	return 0;
}

static uint64_t used_take(uint64_t key)
{
	uint64_t len = 0;

	pthread_mutex_lock(&used_lock);
	for (size_t i = 0; i < nr_used; i++) {
		if (used_tab[i].off == key) {
			len = used_tab[i].len;
			used_tab[i] = used_tab[--nr_used];
			break;
		}
	}
	pthread_mutex_unlock(&used_lock);
	return len;
}

AR_VISIBLE void *ar_buf_alloc(struct ar_queue *q, size_t size)
{
	struct link *l = q->link;
	uint64_t len = ((uint64_t)size + ALIGN - 1) & ~(uint64_t)(ALIGN - 1);
	void *p = NULL;

	if (!len)
		len = ALIGN;
	pthread_mutex_lock(&l->alloc_lock);
	for (uint32_t i = 0; i < l->nr_free; i++) {
		struct blk *b = &l->free[i];

		if (b->len < len)
			continue;
		p = l->data + b->off;
		b->off += len;
		b->len -= len;
		if (!b->len)
			memmove(b, b + 1, (l->nr_free - i - 1) * sizeof(*b)), l->nr_free--;
		break;
	}
	pthread_mutex_unlock(&l->alloc_lock);
	if (p && used_add((uint64_t)(uintptr_t)p, len)) {
		ar_buf_free(q, p);
		return NULL;
	}
	return p;
}

AR_VISIBLE void ar_buf_free(struct ar_queue *q, void *p)
{
	struct link *l = q->link;
	uint64_t off, len;
	uint32_t i;

	if (!p || !ar__in_area(l, p, 0, &off))
		return;
	len = used_take((uint64_t)(uintptr_t)p);
	if (!len)
		return;	/* not ours, or freed twice */
	pthread_mutex_lock(&l->alloc_lock);
	for (i = 0; i < l->nr_free && l->free[i].off < off; i++)
		;
	/* Merge with the neighbours where they touch. */
	if (i > 0 && l->free[i - 1].off + l->free[i - 1].len == off) {
		l->free[i - 1].len += len;
		if (i < l->nr_free && off + len == l->free[i].off) {
			l->free[i - 1].len += l->free[i].len;
			memmove(&l->free[i], &l->free[i + 1],
				(l->nr_free - i - 1) * sizeof(*l->free));
			l->nr_free--;
		}
	} else if (i < l->nr_free && off + len == l->free[i].off) {
		l->free[i].off = off;
		l->free[i].len += len;
	} else {
		if (l->nr_free == l->cap_free) {
			struct blk *n = realloc(l->free, 2 * l->cap_free * sizeof(*n));

			if (!n) {
				pthread_mutex_unlock(&l->alloc_lock);
				return;	/* leaks the block rather than corrupt */
			}
			l->free = n;
			l->cap_free *= 2;
		}
		memmove(&l->free[i + 1], &l->free[i],
			(l->nr_free - i) * sizeof(*l->free));
		l->free[i] = (struct blk){ off, len };
		l->nr_free++;
	}
	pthread_mutex_unlock(&l->alloc_lock);
}

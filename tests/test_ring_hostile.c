/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A hostile producer (SECURITY.md item 1): a forked process attaches the
 * region and writes random tails (past the size, wrapped, backwards,
 * misaligned) and random bytes into the ring and its headers, while the
 * consumer reads. The consumer must never read outside the ring (run this
 * under ASan), never return a record it did not validate, never loop without
 * bound, and end every round poisoned with -EPROTO.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sched.h>
#include <signal.h>
#include <string.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ring_pvt.h"

#define RING_BYTES 4096u
#define ROUNDS 64
/* Reads per round before we call it a hang. */
#define MAX_READS 10000000

static uint64_t xs(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Honest records the real producer (strategy 1) publishes, and waits to
 * see consumed, before it attacks: the consumer's accepting path runs in
 * every such round whatever the scheduling. */
#define HONEST 4

/* The attacker. strategy 0: random tails only; 1: a real producer that
 * corrupts now and then; 2: everything random. Writes a byte to ready once
 * attached (and, for 1, its honest records published); runs until killed. */
static void attack(int fd, int strategy, uint64_t seed, int ready)
{
	struct ar_region r;
	struct ar_ring_geom g;

	if (ar_region_attach(&r, fd) || ar_region_ring(&r, 0, AR_RING_SQ, &g))
		_exit(1);
	if (strategy == 1) {
		struct ar_ring_prod p;
		void *dst;

		if (ar_ring_prod_init(&p, &r, 0, AR_RING_SQ))
			_exit(1);
		for (int i = 0; i < HONEST; i++) {
			if (ar_ring_sp_reserve(&p, 16, &dst))
				_exit(1);
			memset(dst, i, 16);
			ar_ring_sp_commit(&p, 16);
		}
		ar_ring_sp_publish(&p);
	}
	if (write(ready, "r", 1) != 1)
		_exit(1);
	/* Pairs with the consumer's release of its head (ar_ring_sc_release
	 * on an empty ring): all honest records were read. */
	while (strategy == 1 &&
	       ar_load_acquire(&g.ctl->cons_head) != ar_load_relaxed(&g.ctl->prod_tail))
		sched_yield();
	for (;;) {
		uint64_t x = xs(&seed);
		uint32_t tail = ar_load_relaxed(&g.ctl->prod_tail);

		switch (strategy) {
		case 0:
			switch (x % 5) {
			case 0: tail += RING_BYTES + 8 * (uint32_t)(x >> 8 & 63); break;
			case 1: tail -= 8 * (1 + (uint32_t)(x >> 8 & 63)); break;
			case 2: tail += 1 + (uint32_t)(x >> 8 & 6); break;
			case 3: tail = (uint32_t)(x >> 16); break;
			default: tail += 8 * (uint32_t)(x >> 8 & 15); break;
			}
			break;
		case 1: {
			/* A real producer that now and then corrupts a header it
			 * already published, or lies about the tail. */
			struct ar_ring_prod p;
			uint32_t len = (uint32_t)(x >> 8) % 300;
			void *dst;

			if (ar_ring_prod_init(&p, &r, 0, AR_RING_SQ))
				_exit(1);
			/* Honest about the consumer's head: reserve waits for
			 * what it released (a producer that assumed an empty
			 * ring would run more than a ring past it, and be
			 * poisoned at once before any record got through). */
			p.tail = tail;
			p.head_cache = ar_load_acquire(&g.ctl->cons_head);
			if (ar_ring_sp_reserve(&p, len, &dst) == 0) {
				memset(dst, (int)x, len);
				ar_ring_sp_commit(&p, len);
			}
			tail = p.tail;
			if ((x >> 40) % 64 == 0) {
				uint32_t off = (uint32_t)(x >> 20) & (RING_BYTES - 8);

				memcpy(g.data + off, &x, sizeof(x));
			} else if ((x >> 40) % 64 == 1) {
				tail += 8 * (uint32_t)(x >> 50);
			}
			break;
		}
		default:
			g.data[x % RING_BYTES] = (uint8_t)(x >> 32);
			if ((x >> 40) % 4 == 0)
				tail = (uint32_t)(x >> 8);
			break;
		}
		ar_store_release(&g.ctl->prod_tail, tail);
	}
}

/* Every round ends poisoned, and every record seen lay inside the ring. */
static void test_ring_hostile_producer(void **state)
{
	int poisoned = 0;
	long records = 0;

	(void)state;
	for (int round = 0; round < ROUNDS; round++) {
		struct ar_region_params p = { .sq_bytes = RING_BYTES };
		struct ar_region r;
		struct ar_ring_cons c;
		uint8_t buf[RING_BYTES];
		pid_t pid;
		int ret = 0, status, ready[2];
		char byte;

		assert_int_equal(ar_region_create(&r, &p), 0);
		assert_int_equal(ar_ring_cons_init(&c, &r, 0, AR_RING_SQ), 0);
		assert_int_equal(pipe(ready), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0)
			attack(dup(r.fd), round % 3, 0x9e3779b97f4a7c15ull * (round + 1),
			       ready[1]);
		/* MAX_READS counts from the attacker's start, not the fork's
		 * (a loaded machine may run the child late). */
		close(ready[1]);
		assert_int_equal(read(ready[0], &byte, 1), 1);
		close(ready[0]);
		for (long i = 0; i < MAX_READS; i++) {
			struct ar_ring_rec rec;

			ret = ar_ring_sc_peek(&c, &rec);
			if (ret < 0)
				break;
			if (ret == 0) {
				ar_ring_sc_release(&c);
				continue;
			}
			/* What peek hands out lies inside the ring. */
			assert_true(rec.len <= c.g.max_len);
			assert_true((const uint8_t *)rec.data >= c.g.data + 8);
			assert_true((const uint8_t *)rec.data + rec.len <=
				    c.g.data + c.g.bytes);
			memcpy(buf, rec.data, rec.len);
			ar_ring_sc_consume(&c);
			records++;
		}
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status));	/* it did not fail early */
		assert_int_equal(ret, -EPROTO);
		assert_true(c.g.ctl->flags & AR_RING_F_ERROR);
		poisoned++;
		ar_region_release(&r);
	}
	assert_int_equal(poisoned, ROUNDS);
	/* The consumer got past its first checks, not only rejections: at
	 * least the honest records of every strategy-1 round. */
	print_message("%ld records consumed before poisoning\n", records);
	assert_true(records >= HONEST * (ROUNDS / 3));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ring_hostile_producer),
	};

	return cmocka_run_group_tests_name("ring_hostile", tests, NULL, NULL);
}

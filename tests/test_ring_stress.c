/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Stress test for one ring: a producer and a consumer in separate processes
 * (or threads, for ThreadSanitizer) over a real memfd. Every record carries
 * its sequence number and a checksum of its bytes, and its length is a
 * function of the sequence number, so loss, duplication, reordering and
 * corruption are all detected. The ring is small and the indices start just
 * below 2^32, so the run wraps the ring and the index space many times.
 * The producer pauses now and then so that the consumer really sleeps and
 * must be woken: a lost wake-up shows up as a stall.
 *
 * Usage: test_ring_stress process|thread
 * Environment: AR_STRESS_RECORDS (default 10000000).
 */
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ring_pvt.h"

#define RING_BYTES (16u * 1024)
#define STALL_NS (20ll * 1000000000)	/* no progress for this long: fail */

struct hdr {
	uint64_t seq;
	uint64_t sum;
};

static uint64_t nrecords = 10000000;
static struct ar_region region;
static const struct ar_ring_wait wait_cfg = { .mode = AR_WAIT_FUTEX,
					      .spin_ns = 2000 };

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

/* Payload length of record seq: mostly small, sometimes the ring's max. */
static uint32_t rec_len(uint64_t seq, uint32_t max)
{
	uint64_t r = mix(seq);

	if ((r & 255) == 0)
		return max;
	if ((r & 15) == 0)
		return sizeof(struct hdr) + (uint32_t)(r >> 8) % 2000;
	return sizeof(struct hdr) + (uint32_t)(r >> 8) % 120;
}

static uint64_t fnv(const uint8_t *b, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

static void fill(uint8_t *b, uint32_t len, uint64_t seq)
{
	struct hdr h = { .seq = seq };
	uint64_t x = seq;

	for (uint32_t i = sizeof(h); i < len; i++) {
		if (((i - sizeof(h)) & 7) == 0)
			x = mix(x + i);
		b[i] = (uint8_t)(x >> (8 * ((i - sizeof(h)) & 7)));
	}
	h.sum = fnv(b + sizeof(h), len - sizeof(h));
	memcpy(b, &h, sizeof(h));
}

static int produce(void)
{
	struct ar_ring_prod p;
	uint64_t seq = 0, rnd = 1;

	if (ar_ring_prod_init(&p, &region, 0, AR_RING_SQ))
		return 1;
	while (seq < nrecords) {
		uint32_t batch = 1 + (uint32_t)((rnd = mix(rnd)) % 32);

		for (uint32_t i = 0; i < batch && seq < nrecords; i++) {
			uint32_t len = rec_len(seq, p.g.max_len);
			void *dst;
			int ret;

			while ((ret = ar_ring_sp_reserve(&p, len, &dst)) == -EAGAIN) {
				/* Full: let the consumer see what we have. */
				ar_ring_sp_publish(&p);
				if (ar_ring_sp_wake(&p, &wait_cfg) < 0)
					return 2;
				sched_yield();
			}
			if (ret)
				return 3;
			fill(dst, len, seq);
			ar_ring_sp_commit(&p, len);
			seq++;
		}
		ar_ring_sp_publish(&p);
		if (ar_ring_sp_wake(&p, &wait_cfg) < 0)
			return 4;
		/* Go quiet now and then so the consumer goes to sleep. */
		if ((rnd & 0x3fff) == 0)
			usleep(200);
	}
	return 0;
}

static int consume(void)
{
	struct ar_ring_cons c;
	uint64_t seq = 0, bytes = 0;
	static uint8_t buf[RING_BYTES];
	struct timespec t0, t1;

	if (ar_ring_cons_init(&c, &region, 0, AR_RING_SQ))
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (seq < nrecords) {
		int ret = ar_ring_sc_wait(&c, &wait_cfg, STALL_NS);

		if (ret == 0) {
			fprintf(stderr, "stalled at record %" PRIu64
				" (lost wake-up?)\n", seq);
			return 2;
		}
		if (ret < 0) {
			fprintf(stderr, "wait: %s\n", strerror(-ret));
			return 3;
		}
		if (c.g.ctl->flags & AR_RING_F_NEED_WAKEUP)
			return 4;	/* wait must lower it */
		/* Drain up to 16 records, then release them in one store. */
		for (int i = 0; i < 16 && seq < nrecords; i++) {
			int64_t n = ar_ring_sc_dequeue(&c, buf, sizeof(buf));
			struct hdr h;

			if (n == -EAGAIN)
				break;
			if (n < 0) {
				fprintf(stderr, "dequeue: %s\n", strerror((int)-n));
				return 5;
			}
			memcpy(&h, buf, sizeof(h));
			if (h.seq != seq) {
				fprintf(stderr, "record %" PRIu64 " has seq %" PRIu64
					" (%s)\n", seq, h.seq,
					h.seq < seq ? "duplicate" : "loss");
				return 6;
			}
			if ((uint32_t)n != rec_len(seq, c.g.max_len) ||
			    h.sum != fnv(buf + sizeof(h), (size_t)n - sizeof(h))) {
				fprintf(stderr, "record %" PRIu64 " corrupt\n", seq);
				return 7;
			}
			bytes += (uint64_t)n;
			seq++;
		}
		ar_ring_sc_release(&c);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%" PRIu64 " records, %" PRIu64 " payload bytes, %.2f s, "
	       "index now %" PRIu32 " (started at %" PRIu32 ")\n",
	       seq, bytes,
	       (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9,
	       c.head, region.idx_start);
	return 0;
}

static void *producer_thread(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)produce();
}

int main(int argc, char **argv)
{
	struct ar_region_params params = {
		.sq_bytes = RING_BYTES,
		.idx_start = 0u - 64 * 1024,	/* wrap 2^32 early */
	};
	const char *env = getenv("AR_STRESS_RECORDS");
	int ret, status;

	if (argc != 2 || (strcmp(argv[1], "process") && strcmp(argv[1], "thread"))) {
		fprintf(stderr, "usage: %s process|thread\n", argv[0]);
		return 2;
	}
	if (env)
		nrecords = strtoull(env, NULL, 0);
	if (ar_region_create(&region, &params)) {
		perror("ar_region_create");
		return 1;
	}
	if (!strcmp(argv[1], "thread")) {
		pthread_t t;
		void *pret;

		pthread_create(&t, NULL, producer_thread, NULL);
		ret = consume();
		if (ret) {
			/* The producer may be stuck on a full ring: detach. */
			fprintf(stderr, "consumer failed: %d\n", ret);
			return 1;
		}
		pthread_join(t, &pret);
		if ((intptr_t)pret) {
			fprintf(stderr, "producer failed: %d\n", (int)(intptr_t)pret);
			return 1;
		}
	} else {
		pid_t pid = fork();

		if (pid < 0)
			return 1;
		if (pid == 0) {
			/* The producer attaches the memfd like a client would. */
			int fd = dup(region.fd);

			if (ar_region_attach(&region, fd))
				_exit(10);
			_exit(produce());
		}
		ret = consume();
		if (ret) {
			fprintf(stderr, "consumer failed: %d\n", ret);
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return 1;
		}
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
		    WEXITSTATUS(status)) {
			fprintf(stderr, "producer failed: status %d\n", status);
			return 1;
		}
	}
	ar_region_release(&region);
	return 0;
}

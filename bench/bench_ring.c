/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_ring - what the ring costs, against baselines measured in the same
 * run, between two processes pinned to two CPUs over a real memfd.
 *
 * Latency rows (round trips, one record each way) are compared with the
 * floor: two processes ping-ponging one atomic each way, the least any
 * cross-core hand-off can cost. Throughput rows (one way) are compared with
 * a raw SPSC ring of fixed slots of the same size with the same batching: no
 * headers, no padding, no validation, i.e. what our ring's safety costs.
 *
 * ratio: latency rows, p50 / floor p50; throughput rows, baseline
 * ops/s / our ops/s. Both read "times the floor's cost"; 1.0 is the floor.
 *
 * usage: bench_ring [--json] [--iters N] [--records N] [--spin-ns N]
 *                   [--reps N] [--cpus A,B]
 */
#include <getopt.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <accelring/ring.h>

#include "bench_common.h"

#define CHUNK 4096	/* throughput: records per timed chunk */

static struct {
	uint64_t records;
	uint64_t spin_ns;
} opt = {
	.records = 10000000,
	.spin_ns = AR_WAIT_SPIN_NS_DEFAULT,
};

/* ------------------------------------------------------------------ */
/* Ring round trip: one 64-byte record each way (56-byte payload). */

#define RTT_LEN 56

struct rtt_ctx {
	struct ar_region *r;
	int efd;		/* SQ doorbell */
	uint32_t mode;		/* AR_WAIT_* for both sides */
	uint64_t spin_ns;
};

static void rtt_waits(const struct rtt_ctx *x, struct ar_ring_wait *sq,
		      struct ar_ring_wait *cq)
{
	/* The broker side sleeps on an eventfd doorbell (it will poll many
	 * with io_uring); the client side on a futex on the CQ tail. */
	*sq = (struct ar_ring_wait){ .mode = x->mode ? AR_WAIT_EVENTFD : 0,
				     .efd = x->efd, .spin_ns = x->spin_ns };
	*cq = (struct ar_ring_wait){ .mode = x->mode ? AR_WAIT_FUTEX : 0,
				     .spin_ns = x->spin_ns };
}

static void rtt_server(void *arg)
{
	struct rtt_ctx *x = arg;
	struct ar_region r;
	struct ar_ring_cons sq;
	struct ar_ring_prod cq;
	struct ar_ring_wait wsq, wcq;
	uint8_t buf[RTT_LEN];

	if (ar_region_attach(&r, dup(x->r->fd)) ||
	    ar_ring_cons_init(&sq, &r, 0, AR_RING_SQ) ||
	    ar_ring_prod_init(&cq, &r, 0, AR_RING_CQ))
		_exit(2);
	rtt_waits(x, &wsq, &wcq);
	for (;;) {
		uint64_t seq;

		if (ar_ring_sc_wait(&sq, &wsq, -1) != 1)
			_exit(3);
		if (ar_ring_sc_dequeue(&sq, buf, sizeof(buf)) != RTT_LEN)
			_exit(4);
		ar_ring_sc_release(&sq);
		memcpy(&seq, buf, sizeof(seq));
		if (ar_ring_sp_enqueue(&cq, buf, RTT_LEN))
			_exit(5);
		ar_ring_sp_publish(&cq);
		if (ar_ring_sp_wake(&cq, &wcq) < 0)
			_exit(6);
		if (seq == UINT64_MAX)
			break;
	}
}

static void rtt_send(struct ar_ring_prod *sq, const struct ar_ring_wait *w,
		     uint64_t seq)
{
	uint8_t buf[RTT_LEN] = { 0 };

	memcpy(buf, &seq, sizeof(seq));
	if (ar_ring_sp_enqueue(sq, buf, RTT_LEN))
		abort();
	ar_ring_sp_publish(sq);
	if (ar_ring_sp_wake(sq, w) < 0)
		abort();
}

static void bench_rtt(const char *name, uint32_t mode, uint64_t spin_ns,
		      uint64_t n, const char *note)
{
	struct ar_region_params p = { 0 };
	struct ar_region r;
	struct ar_ring_prod sq;
	struct ar_ring_cons cq;
	struct ar_ring_wait wsq, wcq;
	struct rtt_ctx x = { .r = &r, .mode = mode, .spin_ns = spin_ns };
	uint64_t *s = calloc(n, sizeof(*s));
	uint8_t buf[RTT_LEN];
	struct result *res;
	pid_t pid;

	if (ar_region_create(&r, &p) ||
	    ar_ring_prod_init(&sq, &r, 0, AR_RING_SQ) ||
	    ar_ring_cons_init(&cq, &r, 0, AR_RING_CQ)) {
		fprintf(stderr, "region setup failed\n");
		exit(1);
	}
	x.efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	rtt_waits(&x, &wsq, &wcq);
	pid = spawn(rtt_server, &x);
	for (uint64_t i = 0; i < n; i++) {
		uint64_t t0 = now_ns(), seq;

		rtt_send(&sq, &wsq, i);
		if (ar_ring_sc_wait(&cq, &wcq, -1) != 1 ||
		    ar_ring_sc_dequeue(&cq, buf, sizeof(buf)) != RTT_LEN)
			abort();
		ar_ring_sc_release(&cq);
		s[i] = now_ns() - t0;
		memcpy(&seq, buf, sizeof(seq));
		if (seq != i)
			abort();
	}
	rtt_send(&sq, &wsq, UINT64_MAX);
	if (ar_ring_sc_wait(&cq, &wcq, -1) == 1)
		ar_ring_sc_dequeue(&cq, buf, sizeof(buf));
	reap(pid);
	res = add(name, s + n / 10, n - n / 10, 1.0);
	snprintf(res->note, sizeof(res->note), "%s", note);
	close(x.efd);
	ar_region_release(&r);
	free(s);
}

/* ------------------------------------------------------------------ */
/* One-way throughput: our ring, and the raw fixed-slot baseline. */

#define TP_RING (256u * 1024)

struct tp_ctx {
	struct ar_region *r;
	struct shared *shm;	/* raw baseline */
	uint32_t len;		/* bytes per record, header included */
	uint32_t batch;
	bool copy;		/* copy each record out, or read it in place */
	uint64_t n;
};

static void tp_producer(void *arg)
{
	struct tp_ctx *x = arg;
	uint32_t plen = x->len - (uint32_t)sizeof(struct ar_rec_hdr);
	struct ar_region r;
	struct ar_ring_prod p;
	uint8_t src[1024] = { 1 };

	if (ar_region_attach(&r, dup(x->r->fd)) ||
	    ar_ring_prod_init(&p, &r, 0, AR_RING_SQ))
		_exit(2);
	uint32_t left = x->batch;

	while (!ar_load_acquire(&x->shm->go))
		ar_cpu_relax();
	for (uint64_t i = 0; i < x->n; i++) {
		void *dst;

		while (ar_ring_sp_reserve(&p, plen, &dst)) {
			ar_ring_sp_publish(&p);
			ar_cpu_relax();
		}
		memcpy(src, &i, sizeof(i));
		memcpy(dst, src, plen);
		ar_ring_sp_commit(&p, plen);
		if (--left == 0) {
			ar_ring_sp_publish(&p);
			left = x->batch;
		}
	}
	ar_ring_sp_publish(&p);
}

/* Returns chunk samples (ns per CHUNK records) in s; total time in *total. */
static size_t tp_consume(struct tp_ctx *x, uint64_t *s, uint64_t *total)
{
	uint32_t plen = x->len - (uint32_t)sizeof(struct ar_rec_hdr);
	struct ar_ring_cons c;
	uint8_t buf[1024];
	uint64_t i = 0, t0, tc, ns = 0;
	uint32_t since = 0;

	if (ar_ring_cons_init(&c, x->r, 0, AR_RING_SQ))
		abort();
	ar_store_release(&x->shm->go, 1);
	t0 = tc = now_ns();
	while (i < x->n) {
		struct ar_ring_rec rec;
		int64_t got;
		uint64_t seq;

		if (x->copy) {
			/* As the broker reads a tenant's requests: copy out
			 * before looking inside. */
			got = ar_ring_sc_dequeue(&c, buf, sizeof(buf));
		} else {
			/* As a client reads the broker's completions: in place. */
			got = ar_ring_sc_peek(&c, &rec);
			if (got == 1) {
				memcpy(buf, rec.data, sizeof(seq));
				ar_ring_sc_consume(&c);
				got = rec.len;
			} else if (got == 0) {
				got = -EAGAIN;
			}
		}
		if (got == -EAGAIN) {
			ar_ring_sc_release(&c);
			since = 0;
			ar_cpu_relax();
			continue;
		}
		memcpy(&seq, buf, sizeof(seq));
		if (got != plen || seq != i)
			abort();
		if (++since == x->batch) {
			ar_ring_sc_release(&c);
			since = 0;
		}
		if (++i % CHUNK == 0) {
			uint64_t t = now_ns();

			s[ns++] = t - tc;
			tc = t;
		}
	}
	ar_ring_sc_release(&c);
	*total = now_ns() - t0;
	return ns;
}

/* The raw baseline: fixed slots, u32 indices, no headers or checks. */
struct raw_idx {
	_Alignas(64) uint32_t tail;
	_Alignas(128) uint32_t head;
};

static void raw_producer(void *arg)
{
	struct tp_ctx *x = arg;
	struct raw_idx *ix = (struct raw_idx *)x->shm->slots;
	uint8_t *slots = x->shm->slots + 256;
	uint32_t nslots = TP_RING / x->len, mask = nslots - 1;
	uint32_t tail = 0, head = 0, left = x->batch;
	uint8_t src[1024] = { 1 };

	while (!ar_load_acquire(&x->shm->go))
		ar_cpu_relax();
	for (uint64_t i = 0; i < x->n; i++) {
		while (tail - head == nslots) {
			ar_store_release(&ix->tail, tail);
			head = ar_load_acquire(&ix->head);
		}
		memcpy(src, &i, sizeof(i));
		memcpy(slots + (size_t)(tail & mask) * x->len, src, x->len);
		tail++;
		if (--left == 0) {
			ar_store_release(&ix->tail, tail);
			left = x->batch;
		}
	}
	ar_store_release(&ix->tail, tail);
}

static size_t raw_consume(struct tp_ctx *x, uint64_t *s, uint64_t *total)
{
	struct raw_idx *ix = (struct raw_idx *)x->shm->slots;
	uint8_t *slots = x->shm->slots + 256;
	uint32_t nslots = TP_RING / x->len, mask = nslots - 1;
	uint32_t head = 0, tail = 0, since = 0;
	uint8_t buf[1024];
	uint64_t i = 0, t0, tc, ns = 0;

	ar_store_release(&x->shm->go, 1);
	t0 = tc = now_ns();
	while (i < x->n) {
		uint64_t seq;

		if (head == tail) {
			ar_store_release(&ix->head, head);
			since = 0;
			tail = ar_load_acquire(&ix->tail);
			if (head == tail) {
				ar_cpu_relax();
				continue;
			}
		}
		memcpy(buf, slots + (size_t)(head & mask) * x->len,
		       x->copy ? x->len : sizeof(seq));
		head++;
		memcpy(&seq, buf, sizeof(seq));
		if (seq != i)
			abort();
		if (++since == x->batch) {
			ar_store_release(&ix->head, head);
			since = 0;
		}
		if (++i % CHUNK == 0) {
			uint64_t t = now_ns();

			s[ns++] = t - tc;
			tc = t;
		}
	}
	*total = now_ns() - t0;
	return ns;
}

/* One run of one consumer style: fills *r, returns ops/s. */
static double tp_run(struct tp_ctx *x, bool raw, struct result *r,
		     uint64_t *s, size_t maxchunks)
{
	uint64_t total;
	size_t ns;
	pid_t pid;

	x->shm = shm_new(raw ? 256 + TP_RING : 0);
	pid = spawn(raw ? raw_producer : tp_producer, x);
	ns = raw ? raw_consume(x, s, &total) : tp_consume(x, s, &total);
	reap(pid);
	munmap(x->shm, sizeof(struct shared) + (raw ? 256 + TP_RING : 0));
	if (ns > maxchunks)
		abort();
	set_pcts(r, s + ns / 10, ns - ns / 10, CHUNK);
	r->ops = (double)x->n * 1e9 / (double)total;
	return r->ops;
}

/*
 * Throughput moves several-fold within minutes on a shared VM, so the
 * baseline and the ring run back to back, bench.reps times, and the pair
 * with the median ratio is reported.
 */
static void bench_tp(uint32_t len, uint32_t batch, bool copy)
{
	struct ar_region_params p = { .sq_bytes = TP_RING };
	struct ar_region reg;
	struct tp_ctx x = { .r = &reg, .len = len, .batch = batch, .copy = copy };
	const char *how = copy ? "copy" : "inplace";
	struct result raw[9], ours[9], *out;
	char base[64];
	double ratio[9];
	uint32_t reps = bench.reps;
	int pick;
	size_t maxchunks;
	uint64_t *s;

	/* Fewer large records: the same bytes, roughly. */
	x.n = len > 64 ? opt.records / 4 : opt.records;
	maxchunks = x.n / CHUNK + 1;
	s = calloc(maxchunks, sizeof(*s));
	for (uint32_t i = 0; i < reps; i++) {
		/* A fresh region per run: the indices start over. */
		if (ar_region_create(&reg, &p))
			exit(1);
		memset(&raw[i], 0, sizeof(raw[i]));
		memset(&ours[i], 0, sizeof(ours[i]));
		tp_run(&x, true, &raw[i], s, maxchunks);
		tp_run(&x, false, &ours[i], s, maxchunks);
		ratio[i] = raw[i].ops / ours[i].ops;
		ar_region_release(&reg);
	}
	pick = median_index(ratio, (int)reps);

	snprintf(base, sizeof(base), "raw_spsc_%s_%uB_batch%u", how, len, batch);
	out = &results[nresults++];
	*out = raw[pick];
	memcpy(out->name, base, sizeof(base));
	memcpy(out->baseline, base, sizeof(base));
	snprintf(out->note, sizeof(out->note), "baseline: fixed slots, no checks");
	out->ratio = 1.0;

	out = &results[nresults++];
	*out = ours[pick];
	snprintf(out->name, sizeof(out->name), "ring_%s_%uB_batch%u", how, len,
		 batch);
	snprintf(out->baseline, sizeof(out->baseline), "%s", base);
	snprintf(out->note, sizeof(out->note),
		 "%u B records (%u B payload), %s; median of %u", len, len - 8,
		 copy ? "copied out" : "read in place", reps);
	out->ratio = ratio[pick];
	free(s);
}

/* ------------------------------------------------------------------ */

static void print(void)
{
	char footer[512];

	snprintf(footer, sizeof(footer),
		 "Latency rows: round trip of one 64 B record each way, median "
		 "of %u runs by p50; ratio = p50 / floor_pingpong p50.\n"
		 "Throughput rows: one way, ns per record per %d-record chunk; "
		 "ratio = raw_spsc ops/s / ring ops/s.", bench.reps, CHUNK);
	print_table(footer);
}

static void usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s [--json] [--iters N] [--records N] [--spin-ns N] "
		"[--reps N] [--cpus A,B]\n", argv0);
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		BENCH_COMMON_OPTIONS,
		{ "records", required_argument, NULL, 'r' },
		{ "spin-ns", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	char note[96];
	struct result *fl;
	int c;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'r': opt.records = strtoull(optarg, NULL, 0); break;
		case 's': opt.spin_ns = strtoull(optarg, NULL, 0); break;
		default:
			if (!bench_option(c, optarg))
				usage(argv[0]);
		}
	}
	if (opt.records < 10 * CHUNK || !bench_setup())
		usage(argv[0]);

	for (uint32_t i = 0; i < bench.reps; i++)
		bench_floor();
	keep_median((int)bench.reps);
	fl = &results[0];
	fl->ratio = 1.0;
	snprintf(fl->baseline, sizeof(fl->baseline), "floor_pingpong");

	for (uint32_t i = 0; i < bench.reps; i++)
		bench_rtt("ring_rtt_poll", AR_WAIT_POLL, 0, bench.iters,
			  "busy-poll both sides");
	keep_median((int)bench.reps);
	snprintf(note, sizeof(note), "spin %" PRIu64 " ns, then eventfd/futex",
		 opt.spin_ns);
	for (uint32_t i = 0; i < bench.reps; i++)
		bench_rtt("ring_rtt_spin_sleep", AR_WAIT_FUTEX, opt.spin_ns,
			  bench.iters, note);
	keep_median((int)bench.reps);
	/* Sleeping every time costs ~65 us a round trip: fewer iterations. */
	bench_rtt("ring_rtt_sleep", AR_WAIT_FUTEX, 0,
		  bench.iters / 20 > 1000 ? bench.iters / 20 : 1000,
		  "spin 0: sleeps every time");
	for (int i = 1; i < nresults; i++) {
		results[i].ratio = results[i].p50 / fl->p50;
		snprintf(results[i].baseline, sizeof(results[i].baseline),
			 "floor_pingpong");
	}
	for (int copy = 0; copy <= 1; copy++) {
		bench_tp(64, 1, copy);
		bench_tp(64, 64, copy);
		bench_tp(1024, 1, copy);
		bench_tp(1024, 64, copy);
	}
	print();
	return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * accelring shared-memory ABI.
 *
 * This is the only description of the memory a client and the broker share.
 * The region is one sealed memfd, created and laid out by the broker, mapped
 * at different addresses by each side, so it holds no pointers: every
 * location is an offset from the region's base.
 *
 *   +---------------------------+ 0
 *   | struct ar_region_hdr      |  magic, ABI version, sizes, offsets
 *   +---------------------------+ offs.channels (page aligned)
 *   | channel 0                 |  SQ ctl | CQ ctl | SQ records | CQ records
 *   | channel 1 ...             |  every channel_stride bytes
 *   +---------------------------+ offs.data (page aligned)
 *   | data area                 |  large payloads, referenced by offset
 *   +---------------------------+ region_bytes
 *
 * A channel is a pair of single-producer single-consumer rings: the
 * submission ring (SQ, client to broker) and the completion ring (CQ, broker
 * to client). A client that wants concurrency uses one channel per thread.
 *
 * A ring is a byte ring of variable-length records. Indices are free-running
 * uint32_t byte counters, masked with (bytes - 1) on access; (tail - head)
 * is the number of bytes in flight and never exceeds bytes. Every record
 * starts with a struct ar_rec_hdr and occupies AR_REC_SIZE(len) bytes, so
 * every record and every index is AR_REC_ALIGN aligned. A record never wraps:
 * when one does not fit before the end, the producer fills the rest of the
 * ring with one AR_REC_PAD record and starts the record at offset 0.
 *
 * Publication: the producer writes the payload, then the record header with
 * release ordering, then (once per batch) prod_tail with release ordering.
 * The consumer reads prod_tail once with acquire ordering, clamps it, and
 * reads each header once before validating it.
 *
 * Trust: the broker treats everything here as hostile. It never reads the
 * header or the offsets back after creating the region; it keeps a private
 * copy of its ring geometry and of its consumer head (see ring/ring_pvt.h).
 */
#ifndef ACCELRING_ABI_H
#define ACCELRING_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
#define AR_STATIC_ASSERT static_assert
#else
#include <assert.h>
#define AR_STATIC_ASSERT _Static_assert
#endif

/* "ACRG" little-endian. */
#define AR_ABI_MAGIC 0x47524341u
/* A different major is refused on attach; a newer minor only adds fields in
 * space that older versions required to be zero. */
#define AR_ABI_MAJOR 2
/* 1: ar_ring_ctl.prod_cpu (a waiting hint; zero from a minor 0 peer). */
#define AR_ABI_MINOR 1

#define AR_CACHELINE 64
#define AR_PAGE_SIZE 4096

/* Ring sizes accepted on create and on attach (bytes, powers of two). */
#define AR_RING_BYTES_MIN 4096u
#define AR_RING_BYTES_MAX (1u << 28)
/* Channels per region. */
#define AR_REGION_CHANNELS_MAX 4096u
/* Data area bytes per region. */
#define AR_REGION_DATA_MAX (1ull << 36)

/*
 * struct ar_rec_hdr - the first 8 bytes of every record.
 *
 * Written by the producer as one 64-bit store with release ordering, after
 * the payload: a header with a non-zero kind is the last thing a record
 * gets. Read by the consumer as one 64-bit load, once, before validation.
 */
struct ar_rec_hdr {
	uint32_t len;	/* payload bytes after this header */
	uint16_t kind;	/* AR_REC_MSG or AR_REC_PAD */
	uint16_t resv;	/* must be zero */
};
AR_STATIC_ASSERT(sizeof(struct ar_rec_hdr) == 8, "ABI");
AR_STATIC_ASSERT(offsetof(struct ar_rec_hdr, len) == 0, "ABI");
AR_STATIC_ASSERT(offsetof(struct ar_rec_hdr, kind) == 4, "ABI");
AR_STATIC_ASSERT(offsetof(struct ar_rec_hdr, resv) == 6, "ABI");

/* Record kinds. */
#define AR_REC_MSG 1	/* one encoded message */
#define AR_REC_PAD 2	/* filler from its offset to the end of the ring */

#define AR_REC_ALIGN 8u
/* Bytes a record with a payload of len bytes occupies (64-bit safe). */
#define AR_REC_SIZE(len) \
	((((uint64_t)(len)) + sizeof(struct ar_rec_hdr) + AR_REC_ALIGN - 1) & \
	 ~(uint64_t)(AR_REC_ALIGN - 1))
/* Largest record a ring of b bytes takes: half the ring, so that a record
 * plus the padding before it always fits in an empty ring. */
#define AR_REC_MAX_SIZE(b) ((b) / 2)
#define AR_REC_MAX_LEN(b) (AR_REC_MAX_SIZE(b) - sizeof(struct ar_rec_hdr))

/* ar_ring_ctl.flags bits. Unknown bits are ignored by the producer. */
/* The consumer is about to sleep or sleeps: the producer must wake it. */
#define AR_RING_F_NEED_WAKEUP (1u << 0)
/* The consumer found the ring corrupt and stopped reading it (EPROTO). */
#define AR_RING_F_ERROR (1u << 1)
/* On an SQ: the broker stopped taking requests because the channel's CQ
 * has no room for their completions; the client rings the doorbell after
 * it releases CQ bytes (ar_ring_sp_cq_wait()). */
#define AR_RING_F_CQ_WAIT (1u << 2)

/*
 * struct ar_ring_ctl - the shared indices of one ring.
 *
 * Each index lives on its own cache line with a guard line after it, so the
 * producer's stores never invalidate the line the consumer writes and
 * adjacent-line prefetch does not couple them. flags sits on a third line
 * because the producer reads it after every publish while the consumer
 * writes it only around sleeps: kept apart from cons_head it stays shared
 * in both caches and costs the producer an L1 hit. prod_cpu, on a fourth
 * line, changes only when the producer moves to another CPU.
 */
struct ar_ring_ctl {
	/* Written by the producer (release), read by the consumer (acquire). */
	uint32_t prod_tail;
	uint8_t __pad0[AR_CACHELINE - 4];
	uint8_t __guard0[AR_CACHELINE];
	/* Written by the consumer (release), read by the producer (acquire). */
	uint32_t cons_head;
	uint8_t __pad1[AR_CACHELINE - 4];
	uint8_t __guard1[AR_CACHELINE];
	/* Written by the consumer, read by the producer: AR_RING_F_*. */
	uint32_t flags;
	uint8_t __pad2[AR_CACHELINE - 4];
	/*
	 * Written by the producer (relaxed), read by the consumer (relaxed):
	 * the CPU the producer last published from, plus one; 0 when not
	 * known (a minor 0 peer). A hint for waiting only, never for what is
	 * read: a consumer on the producer's CPU yields at once instead of
	 * spinning, because the producer cannot run while it spins, and a
	 * worker whose client submitted from its CPU moves off it (see
	 * ar_ring_sc_peer_here()). Any value is safe.
	 */
	uint32_t prod_cpu;
	uint8_t __pad3[AR_CACHELINE - 4];
	/* Reserved, zero. */
	uint8_t resv[2 * AR_CACHELINE];
};
AR_STATIC_ASSERT(sizeof(struct ar_ring_ctl) == 512, "ABI");
AR_STATIC_ASSERT(offsetof(struct ar_ring_ctl, prod_tail) == 0, "ABI");
AR_STATIC_ASSERT(offsetof(struct ar_ring_ctl, __guard0) == 64, "ABI");
AR_STATIC_ASSERT(offsetof(struct ar_ring_ctl, cons_head) == 128, "ABI");
AR_STATIC_ASSERT(offsetof(struct ar_ring_ctl, __guard1) == 192, "ABI");
AR_STATIC_ASSERT(offsetof(struct ar_ring_ctl, flags) == 256, "ABI");
AR_STATIC_ASSERT(offsetof(struct ar_ring_ctl, prod_cpu) == 320, "ABI");
AR_STATIC_ASSERT(offsetof(struct ar_ring_ctl, resv) == 384, "ABI");

/*
 * struct ar_ring_offsets - where one ring of a channel lives, in the manner
 * of io_uring's io_sqring_offsets. Offsets are from the channel's base.
 * Written by the broker at creation; read by the client on attach.
 */
struct ar_ring_offsets {
	uint32_t ctl;	/* struct ar_ring_ctl, cache-line aligned */
	uint32_t data;	/* the record bytes, cache-line aligned */
	uint32_t bytes;	/* size of the record bytes, a power of two */
	uint32_t resv;	/* must be zero */
};
AR_STATIC_ASSERT(sizeof(struct ar_ring_offsets) == 16, "ABI");
AR_STATIC_ASSERT(offsetof(struct ar_ring_offsets, ctl) == 0, "ABI");
AR_STATIC_ASSERT(offsetof(struct ar_ring_offsets, data) == 4, "ABI");
AR_STATIC_ASSERT(offsetof(struct ar_ring_offsets, bytes) == 8, "ABI");
AR_STATIC_ASSERT(offsetof(struct ar_ring_offsets, resv) == 12, "ABI");

/*
 * struct ar_region_offsets - the region's layout. Offsets are from the
 * region's base. Written by the broker at creation; read by the client on
 * attach, which checks that every part lies inside the region and that no
 * two parts overlap.
 */
struct ar_region_offsets {
	uint64_t channels;	 /* channel 0, page aligned */
	uint32_t nr_channels;	 /* 1 .. AR_REGION_CHANNELS_MAX */
	uint32_t channel_stride; /* bytes between channels, page aligned */
	struct ar_ring_offsets sq; /* submission ring: client -> broker */
	struct ar_ring_offsets cq; /* completion ring: broker -> client */
	uint64_t data;		 /* data area, page aligned */
	uint64_t data_bytes;	 /* data area size, may be zero */
	uint64_t resv[2];	 /* must be zero */
};
AR_STATIC_ASSERT(sizeof(struct ar_region_offsets) == 80, "ABI");
AR_STATIC_ASSERT(offsetof(struct ar_region_offsets, channels) == 0, "ABI");
AR_STATIC_ASSERT(offsetof(struct ar_region_offsets, nr_channels) == 8, "ABI");
AR_STATIC_ASSERT(offsetof(struct ar_region_offsets, channel_stride) == 12,
		 "ABI");
AR_STATIC_ASSERT(offsetof(struct ar_region_offsets, sq) == 16, "ABI");
AR_STATIC_ASSERT(offsetof(struct ar_region_offsets, cq) == 32, "ABI");
AR_STATIC_ASSERT(offsetof(struct ar_region_offsets, data) == 48, "ABI");
AR_STATIC_ASSERT(offsetof(struct ar_region_offsets, data_bytes) == 56, "ABI");
AR_STATIC_ASSERT(offsetof(struct ar_region_offsets, resv) == 64, "ABI");

/*
 * struct ar_region_hdr - at offset 0 of every region.
 *
 * Written by the broker at creation, never afterwards; read by the client
 * on attach. The first 8 bytes (magic and version) are stored last, as one
 * 64-bit store with release ordering, so a reader that sees the magic sees
 * the rest (Aeron's CnC file does the same with its version field).
 */
struct ar_region_hdr {
	uint32_t magic;		/* AR_ABI_MAGIC */
	uint16_t abi_major;	/* AR_ABI_MAJOR */
	uint16_t abi_minor;	/* AR_ABI_MINOR */
	uint32_t hdr_bytes;	/* sizeof(struct ar_region_hdr) */
	uint32_t flags;		/* none defined: must be zero */
	uint64_t region_bytes;	/* size of the memfd */
	uint32_t idx_start;	/* initial value of every ring index */
	uint32_t resv0;		/* must be zero */
	struct ar_region_offsets offs;
	uint64_t resv[18];	/* must be zero */
};
AR_STATIC_ASSERT(sizeof(struct ar_region_hdr) == 256, "ABI");
AR_STATIC_ASSERT(offsetof(struct ar_region_hdr, magic) == 0, "ABI");
AR_STATIC_ASSERT(offsetof(struct ar_region_hdr, abi_major) == 4, "ABI");
AR_STATIC_ASSERT(offsetof(struct ar_region_hdr, abi_minor) == 6, "ABI");
AR_STATIC_ASSERT(offsetof(struct ar_region_hdr, hdr_bytes) == 8, "ABI");
AR_STATIC_ASSERT(offsetof(struct ar_region_hdr, flags) == 12, "ABI");
AR_STATIC_ASSERT(offsetof(struct ar_region_hdr, region_bytes) == 16, "ABI");
AR_STATIC_ASSERT(offsetof(struct ar_region_hdr, idx_start) == 24, "ABI");
AR_STATIC_ASSERT(offsetof(struct ar_region_hdr, resv0) == 28, "ABI");
AR_STATIC_ASSERT(offsetof(struct ar_region_hdr, offs) == 32, "ABI");
AR_STATIC_ASSERT(offsetof(struct ar_region_hdr, resv) == 112, "ABI");

#endif /* ACCELRING_ABI_H */

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Every atomic access accelring makes to shared memory goes through these
 * wrappers, as liburing's barrier.h does. Each use site names its pair:
 *
 *   R0  producer stores a record header (release)     -- record complete
 *   R1  producer stores prod_tail (release)           pairs with A1
 *   A1  consumer loads prod_tail (acquire)            pairs with R1
 *   R2  consumer stores cons_head (release)           pairs with A0
 *   A0  producer loads cons_head (acquire)            pairs with R2
 *   F1  producer full fence before reading flags      pairs with F2
 *   F2  consumer full fence after setting NEED_WAKEUP pairs with F1
 *   R3/A3  region creator stores the magic last / attach loads it first
 *
 * This header lives beside ring.h, not inside ring/, because ring.h's fast
 * paths are static inline (as liburing's are) and need it wherever they are
 * compiled; liburing installs its barrier.h for the same reason.
 */
#ifndef ACCELRING_BARRIER_H
#define ACCELRING_BARRIER_H

#include <stdint.h>

#ifdef __cplusplus
#error "accelring/barrier.h is C11; C++ code uses the C API of libaccelring"
#endif
#include <stdatomic.h>

#define AR__ATOMIC(t) _Atomic t
#define ar__mo(x) memory_order_##x

/* A plain load the compiler may not tear, merge or repeat (READ_ONCE). */
#define ar_load_relaxed(p) \
	atomic_load_explicit((AR__ATOMIC(__typeof__(*(p))) *)(p), ar__mo(relaxed))
#define ar_store_relaxed(p, v) \
	atomic_store_explicit((AR__ATOMIC(__typeof__(*(p))) *)(p), (v), \
			      ar__mo(relaxed))
#define ar_load_acquire(p) \
	atomic_load_explicit((AR__ATOMIC(__typeof__(*(p))) *)(p), ar__mo(acquire))
#define ar_store_release(p, v) \
	atomic_store_explicit((AR__ATOMIC(__typeof__(*(p))) *)(p), (v), \
			      ar__mo(release))
/* Full barrier: orders an earlier store before a later load (Dekker). */
#define ar_smp_mb() atomic_thread_fence(ar__mo(seq_cst))

/* A hint that we are spinning; lets an SMT sibling run. */
static inline void ar_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

#endif /* ACCELRING_BARRIER_H */

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * exec_lib.h - the exec test library's functions (tests/plugins/
 * exec_lib.c, libartest-exec.so), called through vaccel_exec with
 * upstream vAccel's convention:
 *
 *   int fn(struct vaccel_arg *read, size_t nr_read,
 *          struct vaccel_arg *write, size_t nr_write);
 *
 * Plain C (no accelring header), so that an upstream-API example program
 * can share these definitions.
 *
 * ar_test_checksum: read[0] any bytes (any type); read[1] a struct
 *   ar_test_exec_in (VACCEL_ARG_CUSTOM with id AR_TEST_EXEC_IN_ID, or
 *   VACCEL_ARG_RAW); write[0] a uint64 (VACCEL_ARG_UINT64, 8 bytes): the
 *   checksum below; write[1] a struct ar_test_exec_out (its size exactly).
 *   Exactly 2 and 2 arguments. Returns 0, or AR_TEST_EXEC_EARGS (counts),
 *   AR_TEST_EXEC_ESIZE (a size), AR_TEST_EXEC_ETYPE (a type).
 *
 *   The checksum is FNV-1a 64 with a seeded offset basis, over the bytes
 *   `rounds` times, the state carried from one round to the next:
 *     h = 0xcbf29ce484222325 ^ seed
 *     repeat rounds times: for each byte b: h ^= b; h *= 0x100000001b3
 *   (mod 2^64). Seed 0, one round: plain FNV-1a 64 ("a" gives
 *   0xaf63dc4c8601ec8c). No rounds: the basis alone.
 *
 * ar_test_count: every write argument must be 4 bytes (else returns
 *   AR_TEST_EXEC_ESIZE). Writes, as uint32: write[0] = nr_read, write[1] =
 *   nr_write, write[j] (j >= 2) = j < nr_read and read[j] is 4 bytes ?
 *   read[j]'s value + read[j].custom_type_id : 0xffffffff.
 *
 * ar_test_noop: returns 0 and touches nothing.
 * ar_test_fail: returns AR_TEST_EXEC_FAIL.
 * ar_test_hidden: returns 0; the tests leave it off every allowlist.
 * ar_test_data: a const uint32_t, not a function.
 *
 * Misbehaving functions, for the isolation tests (test_broker_isolation):
 * whatever process runs them (the broker, or a plugin host) suffers it.
 * ar_test_segv: a store through a null pointer (SIGSEGV).
 * ar_test_abort: abort() (SIGABRT).
 * ar_test_loop: spins forever.
 * ar_test_leak: allocates AR_TEST_EXEC_LEAK_BYTES and touches every page,
 *   never freed, per call; returns AR_TEST_EXEC_ENOMEM once malloc fails.
 * ar_test_closefds: closes every fd from 3 to 1023, then returns 0.
 * ar_test_escape: tries what an exec host must not let a function do, and
 *   writes into write[0] (UINT32) a bit per attempt that succeeded:
 *   AR_TEST_ESC_EXEC (execve of /bin/true, in a child if fork works),
 *   _SOCKET (socket(AF_UNIX)), _FORK, _KILL (signal 0 to its parent, the
 *   broker), _MEM (open /proc/PARENT/mem for writing); returns 0.
 * ar_test_pid: write[0] (4 bytes, else AR_TEST_EXEC_ESIZE) gets the pid of
 *   the process that runs it, as a uint32.
 */
#ifndef ACCELRING_TESTS_EXEC_LIB_H
#define ACCELRING_TESTS_EXEC_LIB_H

#include <stddef.h>
#include <stdint.h>

#define AR_TEST_EXEC_IN_ID 0x45584543u	/* "EXEC" */

#define AR_TEST_EXEC_EARGS 1
#define AR_TEST_EXEC_ESIZE 2
#define AR_TEST_EXEC_ETYPE 3
#define AR_TEST_EXEC_FAIL 7
#define AR_TEST_EXEC_ENOMEM 8

#define AR_TEST_ESC_EXEC 0x1u
#define AR_TEST_ESC_SOCKET 0x2u
#define AR_TEST_ESC_FORK 0x4u
#define AR_TEST_ESC_KILL 0x8u
#define AR_TEST_ESC_MEM 0x10u

#define AR_TEST_EXEC_LEAK_BYTES (64u << 20)

struct ar_test_exec_in {
	uint32_t seed;
	uint32_t rounds;
};

struct ar_test_exec_out {
	uint64_t bytes;		/* read[0]'s size */
	uint32_t nonzero;	/* its bytes that are not 0 */
	uint32_t type_seen;	/* its vaccel_arg_type_t */
};

/* The checksum above, as the tests expect it: computed apart from the
 * library's own code (exec_lib.c), so that a wrong library fails them. */
static inline uint64_t ar_test_exec_expect(const void *data, size_t n, uint32_t seed,
					   uint32_t rounds)
{
	const unsigned char *p = (const unsigned char *)data;
	uint64_t h = 0xcbf29ce484222325ull ^ seed;

	while (rounds--)
		for (size_t i = 0; i < n; i++)
			h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

#endif

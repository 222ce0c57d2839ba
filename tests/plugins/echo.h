/* SPDX-License-Identifier: Apache-2.0 */
/*
 * echo - what the echo test plugin (tests/plugins/echo.c) writes, shared
 * with the suites that check it (tests/vaccel/test_vaccel_ops.c).
 *
 * exec, exec_with_resource and opencv: write[i] gets a copy of read[i]
 * when it has room (its len lowered to the bytes copied), and the last
 * write argument, when it has room for one, gets a struct echo_rec: what
 * the plugin received, argument by argument, as the broker handed it over.
 * A symbol "echo_fail_<errno>" makes the op fail with that errno instead.
 *
 * An op on a resource (exec_with_resource, the models) records in library
 * its first file's name, and in res_* what the plugin got of it: its type,
 * files, first file's size, an FNV-1a 64 of its bytes as mapped, and
 * whether its path (/proc/self/fd/N) reads the same bytes.
 *
 * Models: load/unload fail with ENOENT when the model resource's first
 * file has no path the plugin can open. Each run makes output j
 * from input j % nr_inputs: the same type and dims, every element times
 * ECHO_SCALE (or times the number a run option "scale=N" gives); outputs
 * past the inputs' count are left unwritten. tf's status message says
 * which nodes the op carried: "in:<name>#<id>,...;out:<name>#<id>,...".
 */
#ifndef ACCELRING_TESTS_ECHO_H
#define ACCELRING_TESTS_ECHO_H

#include <stdint.h>

#define ECHO_MAGIC 0x6f686365u	/* "echo" */
#define ECHO_SCALE 2
#define ECHO_FAIL_PREFIX "echo_fail_"
/* A run option that makes a run return output metadata no client can
 * take (an unknown data type): the client must refuse the result. */
#define ECHO_BAD_META "bad_meta"

struct echo_arg {
	uint32_t type;
	uint32_t custom_id;
	uint64_t len;
};

struct echo_rec {
	uint32_t magic;		/* ECHO_MAGIC once written */
	uint32_t op;		/* enum ar_op_type */
	uint32_t nr_read, nr_write;
	char library[256];	/* "" when absent */
	char symbol[64];
	struct echo_arg read[32], write[32];
	uint64_t res_id, res_size, res_fnv;
	uint32_t res_type, res_files;
	uint32_t res_path_ok;	/* its path reads back res_size identical bytes */
	uint32_t resv;
};

/* FNV-1a 64, as echo records a resource's bytes. */
static inline uint64_t echo_fnv(const void *p, uint64_t n)
{
	const unsigned char *b = (const unsigned char *)p;
	uint64_t h = 0xcbf29ce484222325ull;

	for (uint64_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

#endif /* ACCELRING_TESTS_ECHO_H */

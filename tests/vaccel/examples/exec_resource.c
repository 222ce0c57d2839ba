/* SPDX-License-Identifier: Apache-2.0 */
/*
 * exec_resource - a host library shipped as a vAccel resource and run with
 * vaccel_exec_with_resource, as an upstream program does: the library file
 * (accelring's exec test library, tests/plugins/exec_lib.h) becomes a LIB
 * resource, is registered with two sessions, and its ar_test_checksum runs
 * on the host on our bytes; the checksum and byte counts must be the ones
 * computed here. The broker loads it from the bytes it received (its
 * SHA-256 is on the broker's exec-allow-sha256), not from our path: after
 * registration the file could be gone.
 *
 * usage: exec_resource LIBRARY (the test library's path)
 *
 * A plain vAccel program: <vaccel.h>, and exec_lib.h for the library's
 * argument structs (plain C). Exit status 0 when every check passed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vaccel.h>

#include "../../plugins/exec_lib.h"

#define CHECK(cond, ...)                                                     \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "exec_resource: " __VA_ARGS__);      \
			fprintf(stderr, "\n");                               \
			return 1;                                            \
		}                                                            \
	} while (0)

/* ar_test_checksum of n bytes through lib in sess, checked. */
static int run(struct vaccel_session *sess, struct vaccel_resource *lib, size_t n)
{
	uint8_t *data = malloc(n);
	struct ar_test_exec_in in = { .seed = 7, .rounds = 2 };
	struct ar_test_exec_out out = { 0 };
	uint64_t sum = 0;
	uint32_t nonzero = 0;
	int ret;

	CHECK(data, "out of memory");
	for (size_t i = 0; i < n; i++) {
		data[i] = (uint8_t)(i % 251);
		nonzero += data[i] != 0;
	}
	struct vaccel_arg read[2] = {
		{ .buf = data, .size = n, .type = VACCEL_ARG_BUFFER },
		{ .buf = &in, .size = sizeof(in), .type = VACCEL_ARG_CUSTOM,
		  .custom_type_id = AR_TEST_EXEC_IN_ID },
	};
	struct vaccel_arg write[2] = {
		{ .buf = &sum, .size = sizeof(sum), .type = VACCEL_ARG_UINT64 },
		{ .buf = &out, .size = sizeof(out), .type = VACCEL_ARG_RAW },
	};

	ret = vaccel_exec_with_resource(sess, lib, "ar_test_checksum", read, 2, write, 2);
	printf("vaccel_exec_with_resource(ar_test_checksum, %zu bytes) = %d: checksum %016llx\n",
	       n, ret, (unsigned long long)sum);
	CHECK(ret == VACCEL_OK, "vaccel_exec_with_resource: %d", ret);
	CHECK(sum == ar_test_exec_expect(data, n, in.seed, in.rounds), "wrong checksum");
	CHECK(out.bytes == n && out.nonzero == nonzero && out.type_seen == VACCEL_ARG_BUFFER,
	      "wrong counts: %llu bytes, %u nonzero, type %u", (unsigned long long)out.bytes,
	      out.nonzero, out.type_seen);
	free(data);
	return 0;
}

int main(int argc, char **argv)
{
	struct vaccel_session one, two;
	struct vaccel_resource *lib;

	CHECK(argc == 2, "usage: exec_resource LIBRARY");
	CHECK(vaccel_resource_new(&lib, argv[1], VACCEL_RESOURCE_LIB) == VACCEL_OK,
	      "vaccel_resource_new(%s)", argv[1]);
	CHECK(vaccel_session_init(&one, 0) == VACCEL_OK, "vaccel_session_init");
	CHECK(vaccel_session_init(&two, 0) == VACCEL_OK, "vaccel_session_init");
	CHECK(vaccel_resource_register(lib, &one) == VACCEL_OK, "register with one");
	CHECK(vaccel_resource_register(lib, &two) == VACCEL_OK, "register with two");
	CHECK(vaccel_resource_refcount(lib) == 2, "refcount %ld", vaccel_resource_refcount(lib));
	if (run(&one, lib, 1000) || run(&two, lib, 1 << 20))
		return 1;
	/* Unregistered from one, it still runs in two; not in one. */
	CHECK(vaccel_resource_unregister(lib, &one) == VACCEL_OK, "unregister from one");
	if (run(&two, lib, 10))
		return 1;
	CHECK(vaccel_exec_with_resource(&one, lib, "ar_test_checksum", NULL, 0, NULL, 0) ==
		      VACCEL_EPERM, "ran in a session it is not registered with");
	CHECK(vaccel_resource_unregister(lib, &two) == VACCEL_OK, "unregister from two");
	CHECK(vaccel_resource_delete(lib) == VACCEL_OK, "vaccel_resource_delete");
	CHECK(vaccel_session_release(&two) == VACCEL_OK, "release two");
	CHECK(vaccel_session_release(&one) == VACCEL_OK, "release one");
	printf("exec_resource: ok\n");
	return 0;
}

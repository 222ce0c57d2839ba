/* SPDX-License-Identifier: Apache-2.0 */
/*
 * exec_lib - the functions the exec tests call (exec_lib.h says what each
 * does). A host library as a vAccel user would write one: upstream's
 * calling convention, its struct vaccel_arg.
 */
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vaccel/arg.h>

#include "exec_lib.h"

#define EXPORT __attribute__((visibility("default")))

/* Data, not a function: exec must refuse to call it. */
EXPORT const uint32_t ar_test_data = 0x12345678u;

EXPORT int ar_test_checksum(struct vaccel_arg *read, size_t nr_read,
			    struct vaccel_arg *write, size_t nr_write);
EXPORT int ar_test_count(struct vaccel_arg *read, size_t nr_read,
			 struct vaccel_arg *write, size_t nr_write);
EXPORT int ar_test_noop(struct vaccel_arg *read, size_t nr_read,
			struct vaccel_arg *write, size_t nr_write);
EXPORT int ar_test_fail(struct vaccel_arg *read, size_t nr_read,
			struct vaccel_arg *write, size_t nr_write);
EXPORT int ar_test_hidden(struct vaccel_arg *read, size_t nr_read,
			  struct vaccel_arg *write, size_t nr_write);
EXPORT /* Not instrumented: a sanitizer build must crash here as a production
 * build does, not report the store and exit. */
__attribute__((no_sanitize("address", "undefined")))
int ar_test_segv(struct vaccel_arg *read, size_t nr_read,
			struct vaccel_arg *write, size_t nr_write);
EXPORT int ar_test_abort(struct vaccel_arg *read, size_t nr_read,
			 struct vaccel_arg *write, size_t nr_write);
EXPORT int ar_test_loop(struct vaccel_arg *read, size_t nr_read,
			struct vaccel_arg *write, size_t nr_write);
EXPORT int ar_test_leak(struct vaccel_arg *read, size_t nr_read,
			struct vaccel_arg *write, size_t nr_write);
EXPORT int ar_test_closefds(struct vaccel_arg *read, size_t nr_read,
			    struct vaccel_arg *write, size_t nr_write);
EXPORT int ar_test_pid(struct vaccel_arg *read, size_t nr_read,
		       struct vaccel_arg *write, size_t nr_write);
EXPORT int ar_test_escape(struct vaccel_arg *read, size_t nr_read,
			  struct vaccel_arg *write, size_t nr_write);

int ar_test_checksum(struct vaccel_arg *read, size_t nr_read,
		     struct vaccel_arg *write, size_t nr_write)
{
	const unsigned char *p;
	struct ar_test_exec_in in;
	struct ar_test_exec_out out = { 0 };
	uint64_t h;

	if (nr_read != 2 || nr_write != 2)
		return AR_TEST_EXEC_EARGS;
	if ((read[0].size && !read[0].buf) || read[1].size != sizeof(in) ||
	    !read[1].buf || write[0].size != sizeof(h) || !write[0].buf ||
	    write[1].size != sizeof(out) || !write[1].buf)
		return AR_TEST_EXEC_ESIZE;
	if (!(read[1].type == VACCEL_ARG_RAW ||
	      (read[1].type == VACCEL_ARG_CUSTOM &&
	       read[1].custom_type_id == AR_TEST_EXEC_IN_ID)) ||
	    write[0].type != VACCEL_ARG_UINT64)
		return AR_TEST_EXEC_ETYPE;
	/* The arguments may be the client's shared memory: read each once. */
	memcpy(&in, read[1].buf, sizeof(in));
	p = read[0].buf;
	h = 0xcbf29ce484222325ull ^ in.seed;
	for (uint32_t r = 0; r < in.rounds; r++)
		for (size_t i = 0; i < read[0].size; i++) {
			h ^= p[i];
			h *= 0x100000001b3ull;
		}
	out.bytes = read[0].size;
	for (size_t i = 0; i < read[0].size; i++)
		out.nonzero += p[i] != 0;
	out.type_seen = (uint32_t)read[0].type;
	memcpy(write[0].buf, &h, sizeof(h));
	memcpy(write[1].buf, &out, sizeof(out));
	return 0;
}

int ar_test_count(struct vaccel_arg *read, size_t nr_read,
		  struct vaccel_arg *write, size_t nr_write)
{
	for (size_t j = 0; j < nr_write; j++)
		if (write[j].size != 4 || !write[j].buf)
			return AR_TEST_EXEC_ESIZE;
	for (size_t j = 0; j < nr_write; j++) {
		uint32_t v = 0xffffffffu;

		if (j == 0) {
			v = (uint32_t)nr_read;
		} else if (j == 1) {
			v = (uint32_t)nr_write;
		} else if (j < nr_read && read[j].size == 4 && read[j].buf) {
			memcpy(&v, read[j].buf, 4);
			v += read[j].custom_type_id;
		}
		memcpy(write[j].buf, &v, 4);
	}
	return 0;
}

int ar_test_noop(struct vaccel_arg *read, size_t nr_read,
		 struct vaccel_arg *write, size_t nr_write)
{
	(void)read, (void)nr_read, (void)write, (void)nr_write;
	return 0;
}

int ar_test_fail(struct vaccel_arg *read, size_t nr_read,
		 struct vaccel_arg *write, size_t nr_write)
{
	(void)read, (void)nr_read, (void)write, (void)nr_write;
	return AR_TEST_EXEC_FAIL;
}

int ar_test_hidden(struct vaccel_arg *read, size_t nr_read,
		   struct vaccel_arg *write, size_t nr_write)
{
	(void)read, (void)nr_read, (void)write, (void)nr_write;
	return 0;
}

/* ---- misbehaving functions, for the isolation tests ---- */

int ar_test_segv(struct vaccel_arg *read, size_t nr_read,
		 struct vaccel_arg *write, size_t nr_write)
{
	volatile int *volatile p = NULL;

	(void)read, (void)nr_read, (void)write, (void)nr_write;
	*p = 42;
	return 0;	/* not reached */
}

int ar_test_abort(struct vaccel_arg *read, size_t nr_read,
		  struct vaccel_arg *write, size_t nr_write)
{
	(void)read, (void)nr_read, (void)write, (void)nr_write;
	abort();
}

int ar_test_loop(struct vaccel_arg *read, size_t nr_read,
		 struct vaccel_arg *write, size_t nr_write)
{
	volatile uint64_t spins = 0;

	(void)read, (void)nr_read, (void)write, (void)nr_write;
	for (;;)
		spins++;
	return 0;	/* not reached */
}

/* The blocks ar_test_leak hands out, chained through their first word:
 * reachable from a global, so that no compiler drops them or their
 * writes. */
static void *volatile leaked;

int ar_test_leak(struct vaccel_arg *read, size_t nr_read,
		 struct vaccel_arg *write, size_t nr_write)
{
	char *p = malloc(AR_TEST_EXEC_LEAK_BYTES);

	(void)read, (void)nr_read, (void)write, (void)nr_write;
	if (!p)
		return AR_TEST_EXEC_ENOMEM;
	memset(p, 0xa5, AR_TEST_EXEC_LEAK_BYTES);
	*(void **)p = leaked;
	leaked = p;
	return 0;
}

int ar_test_closefds(struct vaccel_arg *read, size_t nr_read,
		     struct vaccel_arg *write, size_t nr_write)
{
	(void)read, (void)nr_read, (void)write, (void)nr_write;
	for (int fd = 3; fd < 1024; fd++)
		close(fd);
	return 0;
}

int ar_test_pid(struct vaccel_arg *read, size_t nr_read,
		struct vaccel_arg *write, size_t nr_write)
{
	uint32_t pid = (uint32_t)getpid();

	(void)read, (void)nr_read;
	if (nr_write < 1 || !write[0].buf || write[0].size != sizeof(pid))
		return AR_TEST_EXEC_ESIZE;
	memcpy(write[0].buf, &pid, sizeof(pid));
	return 0;
}

int ar_test_escape(struct vaccel_arg *read, size_t nr_read,
		   struct vaccel_arg *write, size_t nr_write)
{
	char *const argv[] = { "/bin/true", NULL };
	char path[64];
	uint32_t got = 0;
	pid_t pid;
	int fd;

	(void)read, (void)nr_read;
	if (nr_write < 1 || !write[0].buf || write[0].size != sizeof(got))
		return AR_TEST_EXEC_ESIZE;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		got |= AR_TEST_ESC_SOCKET;
		close(fd);
	}
	if (kill(getppid(), 0) == 0)
		got |= AR_TEST_ESC_KILL;
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)getppid());
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		got |= AR_TEST_ESC_MEM;
		close(fd);
	}
	pid = fork();
	if (pid == 0) {
		execve(argv[0], argv, NULL);
		_exit(127);
	}
	if (pid > 0) {
		int st;

		got |= AR_TEST_ESC_FORK;
		if (waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0)
			got |= AR_TEST_ESC_EXEC;
	} else if (execve(argv[0], argv, NULL) == 0) {
		got |= AR_TEST_ESC_EXEC;	/* not reached: the host would be gone */
	}
	memcpy(write[0].buf, &got, sizeof(got));
	return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * broker_harness - start a real accelringd on a temporary socket for a
 * test, and stop it (by its pid) and remove everything afterwards, also
 * when the test fails (an atexit handler covers assertion exits).
 */
#ifndef ACCELRING_TESTS_BROKER_HARNESS_H
#define ACCELRING_TESTS_BROKER_HARNESS_H

#include <stdbool.h>
#include <sys/types.h>

struct test_broker {
	pid_t pid;
	char dir[64];
	char sock[128];
	char address[200];
	char log[128];
	char tcp[80];		/* HOST:PORT when it listens on TCP, else "" */
};

/*
 * Start accelringd with the build's plugins and extra "--name=value"
 * arguments (NULL-terminated). Sets ACCELRING_ADDRESS for clients started
 * afterwards. Returns 0, or -1 if it did not become ready (its log is
 * printed).
 *
 * ACCELRING_TEST_BROKER_WRAPPER runs the broker under a command (words
 * split at spaces): scripts/test.sh --long uses valgrind's leak check, and
 * a wrapper's exit status (valgrind's --error-exitcode) is what
 * test_broker_stop() returns. ACCELRING_TEST_TIME_SCALE multiplies the
 * harness's start and stop timeouts (default 20 with a wrapper, else 1).
 */
int test_broker_start(struct test_broker *b, const char *const *args);

/*
 * The transport clients use (ACCELRING_TEST_TRANSPORT): "shm" (default),
 * "tcp" (the broker also listens on 127.0.0.1, port of its choosing, with
 * --allow-peers=127.0.0.1; a suite that passes its own --tcp passes its
 * own --allow-peers too) or
 * "unix-stream" (the same UNIX socket, stream transport). The end-to-end
 * suite runs once per transport.
 */
const char *test_transport(void);
bool test_transport_is_shm(void);

/* SIGTERM, wait; SIGKILL after 10 s (times the time scale). Returns the
 * exit status, or -1. */
int test_broker_stop(struct test_broker *b);

/* Whether the broker process is still running. */
bool test_broker_alive(const struct test_broker *b);

/* Open fds of the broker (from /proc), or -1. */
int test_broker_fds(const struct test_broker *b);

/* Resident memory of the broker in KiB, or -1. */
long test_broker_rss_kib(const struct test_broker *b);

/* Open fds of the broker once the count has not changed for 200 ms (a
 * closed client is released asynchronously), or -1. */
int test_broker_settled_fds(const struct test_broker *b);

/* The broker's plugin host processes (isolation: its children running
 * --plugin-host), at most max of them into out. Returns how many. */
int test_broker_hosts(const struct test_broker *b, pid_t *out, int max);

/* Whether the broker's log contains s. */
bool test_broker_logged(const struct test_broker *b, const char *s);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * probe - a client for the sandbox tests (tests/sandbox/test_sandbox.sh),
 * statically linked so that a rootfs of busybox and this file is enough.
 * It talks to $ACCELRING_ADDRESS like any application.
 *
 *   probe hold        open a session, print "session ID", keep it (and the
 *                     connection) until stdin closes
 *   probe use ID      a noop on session ID; print "status N"
 *   probe hog         open connections until the broker refuses one; print
 *                     "held N refused STATUS: REASON", then hold them all
 *                     until stdin closes
 *
 * Exit status: 0, or 1 when something that should work did not.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <accelring/client.h>

#define MAX_CONNS 256

static void wait_stdin(void)
{
	char b[64];

	while (read(0, b, sizeof(b)) > 0)
		;
}

static const char *why(const struct ar_client *c)
{
	return c ? ar_client_error(c) : "no client";
}

static int open_session(struct ar_client **c, struct ar_queue **q, uint32_t *sid)
{
	int ret = ar_client_connect(NULL, c);

	if (ret) {
		*c = NULL;
		return ret;
	}
	ret = ar_queue_get(*c, q);
	if (!ret)
		ret = ar_session_open(*q, 0, sid);
	return ret;
}

static int hold(void)
{
	struct ar_client *c;
	struct ar_queue *q;
	uint32_t sid;
	int ret = open_session(&c, &q, &sid);

	if (ret) {
		printf("error %d: %s\n", ret, why(c));
		return 1;
	}
	printf("session %u\n", sid);
	fflush(stdout);
	wait_stdin();
	ar_client_close(c);
	return 0;
}

static int use(uint32_t id)
{
	struct ar_client *c;
	struct ar_queue *q;
	struct ar_cqe cqe;
	uint32_t mine;
	int ret = open_session(&c, &q, &mine);

	if (ret) {
		printf("error %d: %s\n", ret, why(c));
		return 1;
	}
	ret = ar_submit_noop(q, id, 1);
	if (!ret)
		ret = ar_wait(q, &cqe, 1, 1, 5ll * 1000000000) == 1 ? cqe.status : -ETIMEDOUT;
	printf("status %d\n", ret);
	ar_client_close(c);
	return 0;
}

static int hog(void)
{
	static struct ar_client *c[MAX_CONNS];
	struct ar_queue *q;
	int n, ret = 0;

	for (n = 0; n < MAX_CONNS; n++) {
		ret = ar_client_connect(NULL, &c[n]);
		if (ret)
			c[n] = NULL;
		else
			ret = ar_queue_get(c[n], &q);
		if (ret)
			break;
	}
	printf("held %d refused %d: %s\n", n, ret, n < MAX_CONNS ? why(c[n]) : "");
	fflush(stdout);
	wait_stdin();
	for (int i = 0; i <= n && i < MAX_CONNS; i++)
		if (c[i])
			ar_client_close(c[i]);
	return n < MAX_CONNS ? 0 : 1;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 2 && !strcmp(argv[1], "hold"))
		return hold();
	if (argc == 3 && !strcmp(argv[1], "use"))
		return use((uint32_t)strtoul(argv[2], NULL, 10));
	if (argc == 2 && !strcmp(argv[1], "hog"))
		return hog();
	fprintf(stderr, "usage: probe hold | use ID | hog\n");
	return 2;
}

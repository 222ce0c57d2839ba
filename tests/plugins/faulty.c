/* SPDX-License-Identifier: Apache-2.0 */
/*
 * faulty - a test plugin that misbehaves on request, for the isolation
 * suite (tests/test_broker_isolation.c, SECURITY.md item 12): a plugin
 * host must contain a plugin that crashes, hangs, eats memory or breaks
 * its own process, and the broker must keep serving everyone else.
 *
 * exec (AR_OP_EXEC): the symbol is the behaviour, the library is ignored.
 *   ok        returns 0; a first write argument of 3 bytes or more gets
 *             "ok\0" (its len lowered to 3)
 *   segv      a store through a null pointer (SIGSEGV)
 *   abort     abort() (SIGABRT)
 *   loop      spins forever
 *   leak      allocates 64 MiB and touches every page, never freed;
 *             -ENOMEM ("out of memory" in op->why) once malloc fails
 *   closefds  closes every fd from 3 to 1023 (the host's own channels
 *             to the broker among them), then returns 0
 *   sleep     sleeps read[0] ms (a uint32) if present, else 100 ms;
 *             returns 0
 *   pid       writes the pid of the process that runs the plugin (the
 *             broker's, or its plugin host's) as a uint32 into write[0];
 *             -EINVAL when write[0] is missing or shorter than 4 bytes
 *   anything else: -EINVAL.
 * noop (AR_OP_NOOP): returns 0. Its type (AR_PLUGIN_DEBUG) is not one a
 * session hints by default, so a noop goes to a plugin listed before it.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <accelring/optable.h>
#include <accelring/plugin.h>

#define LEAK_BYTES (64u << 20)

/* The blocks leak hands out, chained through their first word: reachable
 * from a global, so that no compiler drops the allocation or its writes. */
static void *volatile leaked;

static const struct ar_plugin_host *host;

static void say(struct ar_op *op, const char *why)
{
	if (op->why && op->why_cap)
		snprintf(op->why, op->why_cap, "%s", why);
}

/* Not instrumented: a sanitizer build must crash here as a production
 * build does, not report the store and exit. */
__attribute__((no_sanitize("address", "undefined")))
static int do_segv(void)
{
	volatile int *volatile p = NULL;

	*p = 42;
	return -EFAULT;	/* not reached */
}

static int do_loop(void)
{
	volatile uint64_t spins = 0;

	for (;;)
		spins++;
	return 0;	/* not reached */
}

static int do_leak(struct ar_op *op)
{
	char *p = malloc(LEAK_BYTES);

	if (!p) {
		say(op, "out of memory");
		return -ENOMEM;
	}
	memset(p, 0xa5, LEAK_BYTES);
	/* Ops run on several threads: push atomically. */
	*(void **)p = __atomic_exchange_n(&leaked, p, __ATOMIC_ACQ_REL);
	return 0;
}

static int do_closefds(void)
{
	for (int fd = 3; fd < 1024; fd++)
		close(fd);
	return 0;
}

static int do_sleep(const struct ar_op_generic *g)
{
	uint32_t ms = 100;

	if (g->nr_read && g->read[0].ptr && g->read[0].len >= sizeof(ms))
		memcpy(&ms, g->read[0].ptr, sizeof(ms));
	usleep((useconds_t)ms * 1000u);
	return 0;
}

static int do_ok(struct ar_op_generic *g)
{
	if (g->nr_write && g->write[0].ptr && g->write[0].len >= 3) {
		memcpy(g->write[0].ptr, "ok", 3);
		g->write[0].len = 3;
	}
	return 0;
}

static int do_pid(struct ar_op_generic *g)
{
	uint32_t pid = (uint32_t)getpid();

	if (!g->nr_write || !g->write[0].ptr || g->write[0].len < sizeof(pid))
		return -EINVAL;
	memcpy(g->write[0].ptr, &pid, sizeof(pid));
	g->write[0].len = sizeof(pid);
	return 0;
}

static int faulty_exec(struct ar_op *op)
{
	struct ar_op_generic *g = &op->u.generic;
	const char *s = g->symbol ? g->symbol : "";

	if (host && host->log_level >= AR_LOG_DEBUG)
		host->log(AR_LOG_DEBUG, "[faulty] session %u: %s", op->session, s);
	if (!strcmp(s, "ok"))
		return do_ok(g);
	if (!strcmp(s, "segv"))
		return do_segv();
	if (!strcmp(s, "abort"))
		abort();
	if (!strcmp(s, "loop"))
		return do_loop();
	if (!strcmp(s, "leak"))
		return do_leak(op);
	if (!strcmp(s, "closefds"))
		return do_closefds();
	if (!strcmp(s, "sleep"))
		return do_sleep(g);
	if (!strcmp(s, "pid"))
		return do_pid(g);
	say(op, "faulty: unknown behaviour");
	return -EINVAL;
}

static int faulty_noop(struct ar_op *op)
{
	(void)op;
	return 0;
}

static int faulty_init(const struct ar_plugin_host *h)
{
	host = h;
	return 0;
}

static const struct ar_plugin_op faulty_ops[] = {
	{ AR_OP_NOOP, faulty_noop },
	{ AR_OP_EXEC, faulty_exec },
};

AR_PLUGIN(.name = "faulty", .version = "1.0", .type = AR_PLUGIN_DEBUG,
	  .nr_ops = sizeof(faulty_ops) / sizeof(faulty_ops[0]), .ops = faulty_ops,
	  .init = faulty_init);

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mbench - busy-waits the requested time on the CPU that runs the op, as
 * upstream vAccel's mbench plugin does: with a known op cost, whatever an
 * op takes beyond it is the framework's overhead.
 */
#include <time.h>

#include <accelring/plugin.h>

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int mbench_run(struct ar_op *op)
{
	uint64_t end = now_ns() + (uint64_t)op->u.mbench.time_us * 1000u;

	while (now_ns() < end)
		__asm__ __volatile__("" ::: "memory");
	return 0;
}

static const struct ar_plugin_op mbench_ops[] = {
	{ AR_OP_MBENCH, mbench_run },
};

AR_PLUGIN(.name = "mbench", .version = "1.0", .type = AR_PLUGIN_CPU | AR_PLUGIN_DEBUG,
	  .nr_ops = 1, .ops = mbench_ops);

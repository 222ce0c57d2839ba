/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libbench-exec.so - the function bench_resource runs with exec: it does
 * nothing, so that what an exec costs is the framework's cost (the
 * broker's exec plugin, the transport, the vAccel layer), measured against
 * the same call made in process.
 */
#include <stddef.h>

#include <vaccel/arg.h>

__attribute__((visibility("default"))) int bench_exec_noop(struct vaccel_arg *read,
							   size_t nr_read,
							   struct vaccel_arg *write,
							   size_t nr_write);

int bench_exec_noop(struct vaccel_arg *read, size_t nr_read, struct vaccel_arg *write,
		    size_t nr_write)
{
	(void)read;
	(void)nr_read;
	(void)write;
	(void)nr_write;
	return 0;
}

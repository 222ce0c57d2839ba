/* SPDX-License-Identifier: Apache-2.0 */
/*
 * <vaccel/ops/exec.h> - run a function of a host library
 *
 * accelring's own header for vAccel's public API: names, types, values and
 * layouts as upstream vAccel installs them (tests/vaccel checks them against
 * the reference sheet), implemented by libvaccel.so.0 (libclient/vaccel/).
 */
#ifndef ACCELRING_VACCEL_OPS_EXEC_H
#define ACCELRING_VACCEL_OPS_EXEC_H

#include <stddef.h>
#include <stdint.h>
#include "../session.h"
#include "../arg.h"
#include "../resource.h"

#ifdef __cplusplus
extern "C" {
#endif

int vaccel_exec(struct vaccel_session *sess,
	const char *library,
	const char *fn_symbol,
	struct vaccel_arg *read,
	size_t nr_read,
	struct vaccel_arg *write,
	size_t nr_write);

int vaccel_exec_with_resource(struct vaccel_session *sess,
	struct vaccel_resource *resource,
	const char *fn_symbol,
	struct vaccel_arg *read,
	size_t nr_read,
	struct vaccel_arg *write,
	size_t nr_write);

#ifdef __cplusplus
}
#endif

#endif /* ACCELRING_VACCEL_OPS_EXEC_H */

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * <vaccel/ops/noop.h> - the noop op (the framework alone)
 *
 * accelring's own header for vAccel's public API: names, types, values and
 * layouts as upstream vAccel installs them (tests/vaccel checks them against
 * the reference sheet), implemented by libvaccel.so.0 (libclient/vaccel/).
 */
#ifndef ACCELRING_VACCEL_OPS_NOOP_H
#define ACCELRING_VACCEL_OPS_NOOP_H

#include <stddef.h>
#include <stdint.h>
#include "../session.h"

#ifdef __cplusplus
extern "C" {
#endif

int vaccel_noop(struct vaccel_session *sess);

#ifdef __cplusplus
}
#endif

#endif /* ACCELRING_VACCEL_OPS_NOOP_H */

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * <vaccel/id.h> - object ids
 *
 * accelring's own header for vAccel's public API: names, types, values and
 * layouts as upstream vAccel installs them (tests/vaccel checks them against
 * the reference sheet), implemented by libvaccel.so.0 (libclient/vaccel/).
 */
#ifndef ACCELRING_VACCEL_ID_H
#define ACCELRING_VACCEL_ID_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Ids of sessions and resources: positive once assigned. */
typedef int64_t vaccel_id_t;

#ifdef __cplusplus
}
#endif

#endif /* ACCELRING_VACCEL_ID_H */

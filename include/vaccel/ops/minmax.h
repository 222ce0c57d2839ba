/* SPDX-License-Identifier: Apache-2.0 */
/*
 * <vaccel/ops/minmax.h> - minmax (deprecated)
 *
 * accelring's own header for vAccel's public API: names, types, values and
 * layouts as upstream vAccel installs them (tests/vaccel checks them against
 * the reference sheet), implemented by libvaccel.so.0 (libclient/vaccel/).
 */
#ifndef ACCELRING_VACCEL_OPS_MINMAX_H
#define ACCELRING_VACCEL_OPS_MINMAX_H

#include <stddef.h>
#include <stdint.h>
#include "../session.h"

#ifdef __cplusplus
extern "C" {
#endif

__attribute__((deprecated)) int vaccel_minmax(struct vaccel_session *sess,
	const double *indata,
	int ndata,
	int low_threshold,
	int high_threshold,
	double *outdata,
	double *min,
	double *max);

#ifdef __cplusplus
}
#endif

#endif /* ACCELRING_VACCEL_OPS_MINMAX_H */

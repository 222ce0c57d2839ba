/* SPDX-License-Identifier: Apache-2.0 */
/*
 * <vaccel/ops/opencv.h> - OpenCV ops
 *
 * accelring's own header for vAccel's public API: names, types, values and
 * layouts as upstream vAccel installs them (tests/vaccel checks them against
 * the reference sheet), implemented by libvaccel.so.0 (libclient/vaccel/).
 */
#ifndef ACCELRING_VACCEL_OPS_OPENCV_H
#define ACCELRING_VACCEL_OPS_OPENCV_H

#include <stddef.h>
#include <stdint.h>
#include "../session.h"
#include "../arg.h"

#ifdef __cplusplus
extern "C" {
#endif

int vaccel_opencv_unpack(struct vaccel_session *sess,
	struct vaccel_arg *read,
	int nr_read,
	struct vaccel_arg *write,
	int nr_write);

#ifdef __cplusplus
}
#endif

#endif /* ACCELRING_VACCEL_OPS_OPENCV_H */

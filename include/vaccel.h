/* SPDX-License-Identifier: Apache-2.0 */
/*
 * <vaccel.h> - the whole vAccel API
 *
 * accelring's own header for vAccel's public API: names, types, values and
 * layouts as upstream vAccel installs them (tests/vaccel checks them against
 * the reference sheet), implemented by libvaccel.so.0 (libclient/vaccel/).
 */
#ifndef ACCELRING_VACCEL_H
#define ACCELRING_VACCEL_H

#include "vaccel/arg.h"
#include "vaccel/blob.h"
#include "vaccel/config.h"
#include "vaccel/core.h"
#include "vaccel/error.h"
#include "vaccel/id.h"
#include "vaccel/list.h"
#include "vaccel/log.h"
#include "vaccel/op.h"
#include "vaccel/ops/blas.h"
#include "vaccel/ops/exec.h"
#include "vaccel/ops/fpga.h"
#include "vaccel/ops/genop.h"
#include "vaccel/ops/image.h"
#include "vaccel/ops/minmax.h"
#include "vaccel/ops/noop.h"
#include "vaccel/ops/opencv.h"
#include "vaccel/ops/tf.h"
#include "vaccel/ops/tflite.h"
#include "vaccel/ops/torch.h"
#include "vaccel/plugin.h"
#include "vaccel/prof.h"
#include "vaccel/resource.h"
#include "vaccel/session.h"
#include "vaccel/utils/enum.h"
#include "vaccel/utils/path.h"
#include "vaccel/utils/str.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The vAccel version whose API this is. */
#define VACCEL_VERSION "0.7.1-93-ebc23b1f"

#ifdef __cplusplus
}
#endif

#endif /* ACCELRING_VACCEL_H */

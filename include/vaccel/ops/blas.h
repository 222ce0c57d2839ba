/* SPDX-License-Identifier: Apache-2.0 */
/*
 * <vaccel/ops/blas.h> - BLAS sgemm
 *
 * accelring's own header for vAccel's public API: names, types, values and
 * layouts as upstream vAccel installs them (tests/vaccel checks them against
 * the reference sheet), implemented by libvaccel.so.0 (libclient/vaccel/).
 */
#ifndef ACCELRING_VACCEL_OPS_BLAS_H
#define ACCELRING_VACCEL_OPS_BLAS_H

#include <stddef.h>
#include <stdint.h>
#include "../session.h"

#ifdef __cplusplus
extern "C" {
#endif

int vaccel_sgemm(struct vaccel_session *sess,
	int64_t m,
	int64_t n,
	int64_t k,
	float alpha,
	float *a,
	int64_t lda,
	float *b,
	int64_t ldb,
	float beta,
	float *c,
	int64_t ldc);

#ifdef __cplusplus
}
#endif

#endif /* ACCELRING_VACCEL_OPS_BLAS_H */

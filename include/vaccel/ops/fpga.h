/* SPDX-License-Identifier: Apache-2.0 */
/*
 * <vaccel/ops/fpga.h> - FPGA example ops (deprecated)
 *
 * accelring's own header for vAccel's public API: names, types, values and
 * layouts as upstream vAccel installs them (tests/vaccel checks them against
 * the reference sheet), implemented by libvaccel.so.0 (libclient/vaccel/).
 */
#ifndef ACCELRING_VACCEL_OPS_FPGA_H
#define ACCELRING_VACCEL_OPS_FPGA_H

#include <stddef.h>
#include <stdint.h>
#include "../session.h"

#ifdef __cplusplus
extern "C" {
#endif

__attribute__((deprecated)) int vaccel_fpga_arraycopy(struct vaccel_session *sess,
	int *a,
	int *out_a,
	size_t len_a);

__attribute__((deprecated)) int vaccel_fpga_mmult(struct vaccel_session *sess,
	float *a,
	float *b,
	float *c,
	size_t len_a);

__attribute__((deprecated)) int vaccel_fpga_parallel(struct vaccel_session *sess,
	float *a,
	float *b,
	float *add_output,
	float *mult_output,
	size_t len_a);

__attribute__((deprecated)) int vaccel_fpga_vadd(struct vaccel_session *sess,
	float *a,
	float *b,
	float *c,
	size_t len_a,
	size_t len_b);

#ifdef __cplusplus
}
#endif

#endif /* ACCELRING_VACCEL_OPS_FPGA_H */

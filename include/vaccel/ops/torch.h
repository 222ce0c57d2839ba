/* SPDX-License-Identifier: Apache-2.0 */
/*
 * <vaccel/ops/torch.h> - TorchScript models
 *
 * accelring's own header for vAccel's public API: names, types, values and
 * layouts as upstream vAccel installs them (tests/vaccel checks them against
 * the reference sheet), implemented by libvaccel.so.0 (libclient/vaccel/).
 */
#ifndef ACCELRING_VACCEL_OPS_TORCH_H
#define ACCELRING_VACCEL_OPS_TORCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../resource.h"
#include "../session.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Element types of a tensor. */
enum vaccel_torch_data_type {
	VACCEL_TORCH_BYTE = 1,
	VACCEL_TORCH_CHAR = 2,
	VACCEL_TORCH_SHORT = 3,
	VACCEL_TORCH_INT = 4,
	VACCEL_TORCH_LONG = 5,
	VACCEL_TORCH_HALF = 6,
	VACCEL_TORCH_FLOAT = 7,
};

/* A run option buffer, and a tensor: dims, element type and its data
 * (owned: freed with the tensor). */
struct vaccel_torch_buffer {
	char *data;
	size_t size;
};

struct vaccel_torch_tensor {
	void *data;
	size_t size;
	bool owned;
	int64_t nr_dims;
	int64_t *dims;
	enum vaccel_torch_data_type data_type;
};

int vaccel_torch_buffer_delete(struct vaccel_torch_buffer *buffer);

int vaccel_torch_buffer_init(struct vaccel_torch_buffer *buffer,
	char *data,
	size_t size);

int vaccel_torch_buffer_new(struct vaccel_torch_buffer **buffer,
	char *data,
	size_t size);

int vaccel_torch_buffer_release(struct vaccel_torch_buffer *buffer);

int vaccel_torch_buffer_take_data(struct vaccel_torch_buffer *buffer,
	void **data,
	size_t *size);

int vaccel_torch_model_load(struct vaccel_session *sess,
	struct vaccel_resource *model);

int vaccel_torch_model_run(struct vaccel_session *sess,
	struct vaccel_resource *model,
	const struct vaccel_torch_buffer *run_options,
	struct vaccel_torch_tensor *const *inputs,
	int nr_inputs,
	struct vaccel_torch_tensor **outputs,
	int nr_outputs);

__attribute__((deprecated)) int vaccel_torch_sgemm(struct vaccel_session *sess,
	struct vaccel_torch_tensor **in_A,
	struct vaccel_torch_tensor **in_B,
	struct vaccel_torch_tensor **in_C,
	int M,
	int N,
	int K,
	struct vaccel_torch_tensor **out);

int vaccel_torch_tensor_allocate(struct vaccel_torch_tensor **tensor,
	int64_t nr_dims,
	const int64_t *dims,
	enum vaccel_torch_data_type type,
	size_t total_size);

int vaccel_torch_tensor_delete(struct vaccel_torch_tensor *tensor);

int vaccel_torch_tensor_init(struct vaccel_torch_tensor *tensor,
	int64_t nr_dims,
	const int64_t *dims,
	enum vaccel_torch_data_type type);

int vaccel_torch_tensor_new(struct vaccel_torch_tensor **tensor,
	int64_t nr_dims,
	const int64_t *dims,
	enum vaccel_torch_data_type type);

int vaccel_torch_tensor_release(struct vaccel_torch_tensor *tensor);

int vaccel_torch_tensor_set_data(struct vaccel_torch_tensor *tensor,
	void *data,
	size_t size);

int vaccel_torch_tensor_take_data(struct vaccel_torch_tensor *tensor,
	void **data,
	size_t *size);

#ifdef __cplusplus
}
#endif

#endif /* ACCELRING_VACCEL_OPS_TORCH_H */

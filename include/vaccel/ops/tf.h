/* SPDX-License-Identifier: Apache-2.0 */
/*
 * <vaccel/ops/tf.h> - TensorFlow models
 *
 * accelring's own header for vAccel's public API: names, types, values and
 * layouts as upstream vAccel installs them (tests/vaccel checks them against
 * the reference sheet), implemented by libvaccel.so.0 (libclient/vaccel/).
 */
#ifndef ACCELRING_VACCEL_OPS_TF_H
#define ACCELRING_VACCEL_OPS_TF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../resource.h"
#include "../session.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Element types of a tensor (TensorFlow's TF_DataType values). */
enum vaccel_tf_data_type {
	VACCEL_TF_FLOAT = 1,
	VACCEL_TF_DOUBLE = 2,
	VACCEL_TF_INT32 = 3,
	VACCEL_TF_UINT8 = 4,
	VACCEL_TF_INT16 = 5,
	VACCEL_TF_INT8 = 6,
	VACCEL_TF_STRING = 7,
	VACCEL_TF_COMPLEX64 = 8,
	VACCEL_TF_COMPLEX = 8,
	VACCEL_TF_INT64 = 9,
	VACCEL_TF_BOOL = 10,
	VACCEL_TF_QINT8 = 11,
	VACCEL_TF_QUINT8 = 12,
	VACCEL_TF_QINT32 = 13,
	VACCEL_TF_BFLOAT16 = 14,
	VACCEL_TF_QINT16 = 15,
	VACCEL_TF_QUINT16 = 16,
	VACCEL_TF_UINT16 = 17,
	VACCEL_TF_COMPLEX128 = 18,
	VACCEL_TF_HALF = 19,
	VACCEL_TF_RESOURCE = 20,
	VACCEL_TF_VARIANT = 21,
	VACCEL_TF_UINT32 = 22,
	VACCEL_TF_UINT64 = 23,
};

/* Buffers (run options), graph nodes, statuses and tensors. */
struct vaccel_tf_buffer {
	void *data;
	size_t size;
};

struct vaccel_tf_node {
	char *name;
	int id;
};

struct vaccel_tf_status {
	uint8_t code;
	char *message;
};

struct vaccel_tf_tensor {
	void *data;
	size_t size;
	bool owned;
	int nr_dims;
	int64_t *dims;
	enum vaccel_tf_data_type data_type;
};

int vaccel_tf_buffer_delete(struct vaccel_tf_buffer *buffer);

int vaccel_tf_buffer_init(struct vaccel_tf_buffer *buffer,
	void *data,
	size_t size);

int vaccel_tf_buffer_new(struct vaccel_tf_buffer **buffer,
	void *data,
	size_t size);

int vaccel_tf_buffer_release(struct vaccel_tf_buffer *buffer);

int vaccel_tf_buffer_take_data(struct vaccel_tf_buffer *buffer,
	void **data,
	size_t *size);

int vaccel_tf_model_load(struct vaccel_session *sess,
	struct vaccel_resource *model,
	struct vaccel_tf_status *status);

int vaccel_tf_model_run(struct vaccel_session *sess,
	struct vaccel_resource *model,
	const struct vaccel_tf_buffer *run_options,
	const struct vaccel_tf_node *in_nodes,
	struct vaccel_tf_tensor *const *in_tensors,
	int nr_inputs,
	const struct vaccel_tf_node *out_nodes,
	struct vaccel_tf_tensor **out_tensors,
	int nr_outputs,
	struct vaccel_tf_status *status);

int vaccel_tf_model_unload(struct vaccel_session *sess,
	struct vaccel_resource *model,
	struct vaccel_tf_status *status);

int vaccel_tf_node_delete(struct vaccel_tf_node *node);

int vaccel_tf_node_init(struct vaccel_tf_node *node,
	const char *name,
	int id);

int vaccel_tf_node_new(struct vaccel_tf_node **node,
	const char *name,
	int id);

int vaccel_tf_node_release(struct vaccel_tf_node *node);

int vaccel_tf_status_delete(struct vaccel_tf_status *status);

int vaccel_tf_status_init(struct vaccel_tf_status *status,
	uint8_t code,
	const char *message);

int vaccel_tf_status_new(struct vaccel_tf_status **status,
	uint8_t code,
	const char *message);

int vaccel_tf_status_release(struct vaccel_tf_status *status);

int vaccel_tf_tensor_allocate(struct vaccel_tf_tensor **tensor,
	int nr_dims,
	const int64_t *dims,
	enum vaccel_tf_data_type type,
	size_t total_size);

int vaccel_tf_tensor_delete(struct vaccel_tf_tensor *tensor);

int vaccel_tf_tensor_init(struct vaccel_tf_tensor *tensor,
	int nr_dims,
	const int64_t *dims,
	enum vaccel_tf_data_type type);

int vaccel_tf_tensor_new(struct vaccel_tf_tensor **tensor,
	int nr_dims,
	const int64_t *dims,
	enum vaccel_tf_data_type type);

int vaccel_tf_tensor_release(struct vaccel_tf_tensor *tensor);

int vaccel_tf_tensor_set_data(struct vaccel_tf_tensor *tensor,
	void *data,
	size_t size);

int vaccel_tf_tensor_take_data(struct vaccel_tf_tensor *tensor,
	void **data,
	size_t *size);

#ifdef __cplusplus
}
#endif

#endif /* ACCELRING_VACCEL_OPS_TF_H */

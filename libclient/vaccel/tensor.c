/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The model ops' data types, client side only: Torch buffers and tensors,
 * TensorFlow buffers, nodes, statuses and tensors, TensorFlow Lite tensors
 * (vaccel/ops/torch.h, tf.h, tflite.h). The ops that carry them are in
 * ops.c.
 *
 * Ownership, as upstream has it:
 *  - a buffer owns its data: release frees it (take_data hands it over);
 *  - a tensor owns its data only when allocate gave it (owned); set_data
 *    lends data (owned false, never freed by the tensor) and take_data
 *    hands over whatever the tensor holds, leaving it empty;
 *  - dims are always the tensor's own copy (zeros when none are given);
 *  - a node's name and a status's message are the object's own copies.
 * _init / _release work on the caller's struct; _new / _delete allocate it.
 * A failed _init / _new / _allocate leaves what the caller passed as it
 * was. _release leaves a struct that may be released again.
 */
#include <stdlib.h>
#include <string.h>

#include "vaccel_pvt.h"

/* ---- shared helpers ---- */

/* A copy of nr dims of elem bytes each (zeros if src is NULL) in *dst.
 * nr must be at least 1. */
static int dims_dup(void **dst, const void *src, int64_t nr, size_t elem)
{
	size_t bytes;
	void *d;

	if (nr < 1)
		return VACCEL_EINVAL;
	if ((uint64_t)nr > SIZE_MAX ||
	    __builtin_mul_overflow((size_t)nr, elem, &bytes))
		return VACCEL_ENOMEM;
	d = calloc(1, bytes);
	if (!d)
		return VACCEL_ENOMEM;
	if (src)
		memcpy(d, src, bytes);
	*dst = d;
	return VACCEL_OK;
}

/* A tensor's data for allocate: zeroed, total_size bytes (none for 0). */
static int data_alloc(void **data, size_t total_size)
{
	*data = NULL;
	if (!total_size)
		return VACCEL_OK;
	*data = calloc(1, total_size);
	return *data ? VACCEL_OK : VACCEL_ENOMEM;
}

/* set_data on a tensor that owns its data: the data is not freed (the
 * caller may hold it), as upstream warns. */
static void warn_owned(bool owned, const void *data)
{
	if (owned && data)
		ar__vaccel_log(VACCEL_LOG_WARN,
			       "Previous tensor data will not be freed by release");
}

/* Hand over (*data, *size) to (*out, *out_size) and forget them. */
static void take(void **data, size_t *size, void **out, size_t *out_size)
{
	*out = *data;
	*out_size = *size;
	*data = NULL;
	*size = 0;
}

/* A copy of a string the object keeps. */
static int str_dup(char **dst, const char *s)
{
	if (!s)
		return VACCEL_EINVAL;
	*dst = strdup(s);
	return *dst ? VACCEL_OK : VACCEL_ENOMEM;
}

/*
 * Torch and TensorFlow buffers are the same object but for their data's
 * pointer type; so are the three tensors but for their dims' and count's
 * types. Each is written once, here, and instantiated per family.
 */

/* vaccel_<name>_buffer_{init,release,new,delete,take_data}. */
#define BUFFER_FUNCS(name, DATA_T)						\
AR_VISIBLE int vaccel_##name##_buffer_init(struct vaccel_##name##_buffer *buffer, \
				     DATA_T data, size_t size)			\
{										\
	if (!buffer)								\
		return VACCEL_EINVAL;						\
	buffer->data = data;							\
	buffer->size = size;							\
	return VACCEL_OK;							\
}										\
										\
AR_VISIBLE int vaccel_##name##_buffer_release(struct vaccel_##name##_buffer *buffer) \
{										\
	if (!buffer)								\
		return VACCEL_EINVAL;						\
	free(buffer->data);							\
	buffer->data = NULL;							\
	buffer->size = 0;							\
	return VACCEL_OK;							\
}										\
										\
AR_VISIBLE int vaccel_##name##_buffer_new(struct vaccel_##name##_buffer **buffer, \
				    DATA_T data, size_t size)			\
{										\
	struct vaccel_##name##_buffer *b;					\
										\
	if (!buffer)								\
		return VACCEL_EINVAL;						\
	b = calloc(1, sizeof(*b));						\
	if (!b)									\
		return VACCEL_ENOMEM;						\
	vaccel_##name##_buffer_init(b, data, size);				\
	*buffer = b;								\
	return VACCEL_OK;							\
}										\
										\
AR_VISIBLE int vaccel_##name##_buffer_delete(struct vaccel_##name##_buffer *buffer) \
{										\
	int ret = vaccel_##name##_buffer_release(buffer);			\
										\
	if (!ret)								\
		free(buffer);							\
	return ret;								\
}										\
										\
AR_VISIBLE int vaccel_##name##_buffer_take_data(struct vaccel_##name##_buffer *buffer, \
					  void **data, size_t *size)		\
{										\
	if (!buffer || !data || !size)						\
		return VACCEL_EINVAL;						\
	*data = buffer->data;							\
	*size = buffer->size;							\
	buffer->data = NULL;							\
	buffer->size = 0;							\
	return VACCEL_OK;							\
}										\

/* vaccel_<name>_tensor_{init,release,new,allocate,delete,set_data,
 * take_data}: nr_dims of type NR_T, dims of DIM_T. */
#define TENSOR_FUNCS(name, NR_T, DIM_T)						\
AR_VISIBLE int vaccel_##name##_tensor_init(struct vaccel_##name##_tensor *tensor, \
				     NR_T nr_dims, const DIM_T *dims,		\
				     enum vaccel_##name##_data_type type)	\
{										\
	void *d;								\
	int ret;								\
										\
	if (!tensor)								\
		return VACCEL_EINVAL;						\
	ret = dims_dup(&d, dims, nr_dims, sizeof(*dims));			\
	if (ret)								\
		return ret;							\
	*tensor = (struct vaccel_##name##_tensor){				\
		.nr_dims = nr_dims, .dims = d, .data_type = type		\
	};									\
	return VACCEL_OK;							\
}										\
										\
AR_VISIBLE int vaccel_##name##_tensor_release(struct vaccel_##name##_tensor *tensor) \
{										\
	if (!tensor)								\
		return VACCEL_EINVAL;						\
	free(tensor->dims);							\
	if (tensor->owned)							\
		free(tensor->data);						\
	tensor->data = NULL;							\
	tensor->size = 0;							\
	tensor->owned = false;							\
	tensor->nr_dims = 0;							\
	tensor->dims = NULL;							\
	return VACCEL_OK;							\
}										\
										\
AR_VISIBLE int vaccel_##name##_tensor_new(struct vaccel_##name##_tensor **tensor, \
				    NR_T nr_dims, const DIM_T *dims,		\
				    enum vaccel_##name##_data_type type)	\
{										\
	struct vaccel_##name##_tensor *t;					\
	int ret;								\
										\
	if (!tensor)								\
		return VACCEL_EINVAL;						\
	t = calloc(1, sizeof(*t));						\
	if (!t)									\
		return VACCEL_ENOMEM;						\
	ret = vaccel_##name##_tensor_init(t, nr_dims, dims, type);		\
	if (ret) {								\
		free(t);							\
		return ret;							\
	}									\
	*tensor = t;								\
	return VACCEL_OK;							\
}										\
										\
AR_VISIBLE int vaccel_##name##_tensor_allocate(struct vaccel_##name##_tensor **tensor, \
					 NR_T nr_dims, const DIM_T *dims,	\
					 enum vaccel_##name##_data_type type,	\
					 size_t total_size)			\
{										\
	struct vaccel_##name##_tensor *t;					\
	int ret;								\
										\
	if (!tensor)								\
		return VACCEL_EINVAL;						\
	ret = vaccel_##name##_tensor_new(&t, nr_dims, dims, type);		\
	if (ret)								\
		return ret;							\
	ret = data_alloc(&t->data, total_size);					\
	if (ret) {								\
		vaccel_##name##_tensor_delete(t);				\
		return ret;							\
	}									\
	t->size = total_size;							\
	t->owned = total_size != 0;						\
	*tensor = t;								\
	return VACCEL_OK;							\
}										\
										\
AR_VISIBLE int vaccel_##name##_tensor_delete(struct vaccel_##name##_tensor *tensor) \
{										\
	int ret = vaccel_##name##_tensor_release(tensor);			\
										\
	if (!ret)								\
		free(tensor);							\
	return ret;								\
}										\
										\
AR_VISIBLE int vaccel_##name##_tensor_set_data(struct vaccel_##name##_tensor *tensor, \
					 void *data, size_t size)		\
{										\
	if (!tensor)								\
		return VACCEL_EINVAL;						\
	warn_owned(tensor->owned, tensor->data);				\
	tensor->data = data;							\
	tensor->size = size;							\
	tensor->owned = false;							\
	return VACCEL_OK;							\
}										\
										\
AR_VISIBLE int vaccel_##name##_tensor_take_data(struct vaccel_##name##_tensor *tensor, \
					  void **data, size_t *size)		\
{										\
	if (!tensor || !data || !size)						\
		return VACCEL_EINVAL;						\
	take(&tensor->data, &tensor->size, data, size);				\
	tensor->owned = false;							\
	return VACCEL_OK;							\
}										\

/* ---- Torch ---- */

BUFFER_FUNCS(torch, char *)
TENSOR_FUNCS(torch, int64_t, int64_t)

/* ---- TensorFlow ---- */

BUFFER_FUNCS(tf, void *)
TENSOR_FUNCS(tf, int, int64_t)

/* ---- TensorFlow nodes ---- */

AR_VISIBLE int vaccel_tf_node_init(struct vaccel_tf_node *node,
				   const char *name, int id)
{
	char *n;
	int ret;

	if (!node)
		return VACCEL_EINVAL;
	ret = str_dup(&n, name);
	if (ret)
		return ret;
	node->name = n;
	node->id = id;
	return VACCEL_OK;
}

/* A released node has no name and id -1. */
AR_VISIBLE int vaccel_tf_node_release(struct vaccel_tf_node *node)
{
	if (!node)
		return VACCEL_EINVAL;
	free(node->name);
	node->name = NULL;
	node->id = -1;
	return VACCEL_OK;
}

AR_VISIBLE int vaccel_tf_node_new(struct vaccel_tf_node **node,
				  const char *name, int id)
{
	struct vaccel_tf_node *n;
	int ret;

	if (!node)
		return VACCEL_EINVAL;
	n = calloc(1, sizeof(*n));
	if (!n)
		return VACCEL_ENOMEM;
	ret = vaccel_tf_node_init(n, name, id);
	if (ret) {
		free(n);
		return ret;
	}
	*node = n;
	return VACCEL_OK;
}

AR_VISIBLE int vaccel_tf_node_delete(struct vaccel_tf_node *node)
{
	int ret = vaccel_tf_node_release(node);

	if (!ret)
		free(node);
	return ret;
}

/* ---- TensorFlow statuses ---- */

AR_VISIBLE int vaccel_tf_status_init(struct vaccel_tf_status *status,
				     uint8_t code, const char *message)
{
	char *m;
	int ret;

	if (!status)
		return VACCEL_EINVAL;
	ret = str_dup(&m, message);
	if (ret)
		return ret;
	status->code = code;
	status->message = m;
	return VACCEL_OK;
}

/* A released status has code 0 and no message. */
AR_VISIBLE int vaccel_tf_status_release(struct vaccel_tf_status *status)
{
	if (!status)
		return VACCEL_EINVAL;
	free(status->message);
	status->code = 0;
	status->message = NULL;
	return VACCEL_OK;
}

AR_VISIBLE int vaccel_tf_status_new(struct vaccel_tf_status **status,
				    uint8_t code, const char *message)
{
	struct vaccel_tf_status *s;
	int ret;

	if (!status)
		return VACCEL_EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return VACCEL_ENOMEM;
	ret = vaccel_tf_status_init(s, code, message);
	if (ret) {
		free(s);
		return ret;
	}
	*status = s;
	return VACCEL_OK;
}

AR_VISIBLE int vaccel_tf_status_delete(struct vaccel_tf_status *status)
{
	int ret = vaccel_tf_status_release(status);

	if (!ret)
		free(status);
	return ret;
}


/* ---- TensorFlow Lite ---- */

TENSOR_FUNCS(tflite, int, int32_t)

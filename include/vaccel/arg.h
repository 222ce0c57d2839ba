/* SPDX-License-Identifier: Apache-2.0 */
/*
 * <vaccel/arg.h> - op arguments and argument arrays
 *
 * accelring's own header for vAccel's public API: names, types, values and
 * layouts as upstream vAccel installs them (tests/vaccel checks them against
 * the reference sheet), implemented by libvaccel.so.0 (libclient/vaccel/).
 */
#ifndef ACCELRING_VACCEL_ARG_H
#define ACCELRING_VACCEL_ARG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "utils/enum.h"

#ifdef __cplusplus
extern "C" {
#endif

#undef _ENUM_PREFIX
#define _ENUM_PREFIX VACCEL_ARG
#define VACCEL_ARG_TYPE_ENUM_LIST(VACCEL_ENUM_ITEM)                          \
	VACCEL_ENUM_ITEM(RAW, 0, _ENUM_PREFIX)                               \
	VACCEL_ENUM_ITEM(INT8, _ENUM_PREFIX)                                 \
	VACCEL_ENUM_ITEM(INT8_ARRAY, _ENUM_PREFIX)                           \
	VACCEL_ENUM_ITEM(INT16, _ENUM_PREFIX)                                \
	VACCEL_ENUM_ITEM(INT16_ARRAY, _ENUM_PREFIX)                          \
	VACCEL_ENUM_ITEM(INT32, _ENUM_PREFIX)                                \
	VACCEL_ENUM_ITEM(INT32_ARRAY, _ENUM_PREFIX)                          \
	VACCEL_ENUM_ITEM(INT64, _ENUM_PREFIX)                                \
	VACCEL_ENUM_ITEM(INT64_ARRAY, _ENUM_PREFIX)                          \
	VACCEL_ENUM_ITEM(UINT8, _ENUM_PREFIX)                                \
	VACCEL_ENUM_ITEM(UINT8_ARRAY, _ENUM_PREFIX)                          \
	VACCEL_ENUM_ITEM(UINT16, _ENUM_PREFIX)                               \
	VACCEL_ENUM_ITEM(UINT16_ARRAY, _ENUM_PREFIX)                         \
	VACCEL_ENUM_ITEM(UINT32, _ENUM_PREFIX)                               \
	VACCEL_ENUM_ITEM(UINT32_ARRAY, _ENUM_PREFIX)                         \
	VACCEL_ENUM_ITEM(UINT64, _ENUM_PREFIX)                               \
	VACCEL_ENUM_ITEM(UINT64_ARRAY, _ENUM_PREFIX)                         \
	VACCEL_ENUM_ITEM(FLOAT32, _ENUM_PREFIX)                              \
	VACCEL_ENUM_ITEM(FLOAT32_ARRAY, _ENUM_PREFIX)                        \
	VACCEL_ENUM_ITEM(FLOAT64, _ENUM_PREFIX)                              \
	VACCEL_ENUM_ITEM(FLOAT64_ARRAY, _ENUM_PREFIX)                        \
	VACCEL_ENUM_ITEM(BOOL, _ENUM_PREFIX)                                 \
	VACCEL_ENUM_ITEM(BOOL_ARRAY, _ENUM_PREFIX)                           \
	VACCEL_ENUM_ITEM(CHAR, _ENUM_PREFIX)                                 \
	VACCEL_ENUM_ITEM(CHAR_ARRAY, _ENUM_PREFIX)                           \
	VACCEL_ENUM_ITEM(UCHAR, _ENUM_PREFIX)                                \
	VACCEL_ENUM_ITEM(UCHAR_ARRAY, _ENUM_PREFIX)                          \
	VACCEL_ENUM_ITEM(STRING, _ENUM_PREFIX)                               \
	VACCEL_ENUM_ITEM(BUFFER, _ENUM_PREFIX)                               \
	VACCEL_ENUM_ITEM(CUSTOM, _ENUM_PREFIX)

/* vaccel_arg_type_t: what an argument's bytes are. */
VACCEL_ENUM_DEF_WITH_STR_FUNCS(vaccel_arg_type, _ENUM_PREFIX,
			       VACCEL_ARG_TYPE_ENUM_LIST)
#undef _ENUM_PREFIX

/* A custom type's hooks: whether bytes are a valid value, and how to turn
 * a value into bytes and back. */
typedef bool (*vaccel_arg_type_validator_fn)(const void *buf, size_t size,
					     uint32_t custom_id);
typedef int (*vaccel_arg_serializer_fn)(const void *data, size_t data_size,
					uint32_t custom_id, void **out_buf,
					size_t *out_size);
typedef int (*vaccel_arg_deserializer_fn)(const void *buf, size_t size,
					  uint32_t custom_id, size_t data_size,
					  void *out_data);

/* An op argument; an arg array is a growable list of them with a read
 * position (get_* advance it, set_* overwrite in place). */
struct vaccel_arg {
	void *buf;
	size_t size;
	vaccel_arg_type_t type;
	uint32_t custom_type_id;
	bool owned;
};

struct vaccel_arg_array {
	struct vaccel_arg *args;
	size_t count;
	size_t capacity;
	size_t position;
	bool owned;
};

struct vaccel_arg_list {
	uint32_t size;
	struct vaccel_arg *list;
	int curr_idx;
	int *idcs_allocated_space;
};

/* X(TYPE_NAME, C_TYPE, ARG_TYPE, ARRAY_TYPE) for every numeric type that has
 * typed add/get/set functions. */
#define VACCEL_ARG_NUMERIC_TYPES(X)                                          \
	X(int8, int8_t, VACCEL_ARG_INT8, VACCEL_ARG_INT8_ARRAY)              \
	X(int16, int16_t, VACCEL_ARG_INT16, VACCEL_ARG_INT16_ARRAY)          \
	X(int32, int32_t, VACCEL_ARG_INT32, VACCEL_ARG_INT32_ARRAY)          \
	X(int64, int64_t, VACCEL_ARG_INT64, VACCEL_ARG_INT64_ARRAY)          \
	X(uint8, uint8_t, VACCEL_ARG_UINT8, VACCEL_ARG_UINT8_ARRAY)          \
	X(uint16, uint16_t, VACCEL_ARG_UINT16, VACCEL_ARG_UINT16_ARRAY)      \
	X(uint32, uint32_t, VACCEL_ARG_UINT32, VACCEL_ARG_UINT32_ARRAY)      \
	X(uint64, uint64_t, VACCEL_ARG_UINT64, VACCEL_ARG_UINT64_ARRAY)      \
	X(float, float, VACCEL_ARG_FLOAT32, VACCEL_ARG_FLOAT32_ARRAY)        \
	X(double, double, VACCEL_ARG_FLOAT64, VACCEL_ARG_FLOAT64_ARRAY)      \
	X(bool, bool, VACCEL_ARG_BOOL, VACCEL_ARG_BOOL_ARRAY)                \
	X(char, char, VACCEL_ARG_CHAR, VACCEL_ARG_CHAR_ARRAY)                \
	X(uchar, unsigned char, VACCEL_ARG_UCHAR, VACCEL_ARG_UCHAR_ARRAY)

/* vaccel_arg_array_add_<T>(array, &v) and _add_<T>_array(array, v, n):
 * append an argument that points to the caller's value(s). */
#define VACCEL_ARG_ARRAY_DECLARE_ADD_FUNCS(TYPE_NAME, C_TYPE, ARG_TYPE, ARRAY_TYPE) \
	int vaccel_arg_array_add_##TYPE_NAME(struct vaccel_arg_array *array,  \
					     C_TYPE *value);                  \
	int vaccel_arg_array_add_##TYPE_NAME##_array(                         \
		struct vaccel_arg_array *array, C_TYPE *values, size_t count);

/* vaccel_arg_array_get_<T>(array, &v) and _get_<T>_array(array, &p, &n):
 * read the argument at the position, which must be of that type, and
 * advance. */
#define VACCEL_ARG_ARRAY_DECLARE_GET_FUNCS(TYPE_NAME, C_TYPE, ARG_TYPE, ARRAY_TYPE) \
	int vaccel_arg_array_get_##TYPE_NAME(struct vaccel_arg_array *array,  \
					     C_TYPE *value);                  \
	int vaccel_arg_array_get_##TYPE_NAME##_array(                         \
		struct vaccel_arg_array *array, C_TYPE **values, size_t *count);

/* vaccel_arg_array_set_<T>(array, &v) and _set_<T>_array(array, v, n):
 * write into the argument at the position (an output) and advance. */
#define VACCEL_ARG_ARRAY_DECLARE_SET_FUNCS(TYPE_NAME, C_TYPE, ARG_TYPE, ARRAY_TYPE) \
	int vaccel_arg_array_set_##TYPE_NAME(struct vaccel_arg_array *array,  \
					     C_TYPE *value);                  \
	int vaccel_arg_array_set_##TYPE_NAME##_array(                         \
		struct vaccel_arg_array *array, C_TYPE *values, size_t count);

VACCEL_ARG_NUMERIC_TYPES(VACCEL_ARG_ARRAY_DECLARE_ADD_FUNCS)
VACCEL_ARG_NUMERIC_TYPES(VACCEL_ARG_ARRAY_DECLARE_GET_FUNCS)
VACCEL_ARG_NUMERIC_TYPES(VACCEL_ARG_ARRAY_DECLARE_SET_FUNCS)

__attribute__((deprecated)) int vaccel_add_nonserial_arg(struct vaccel_arg_list *args,
	void *buf,
	uint32_t type,
	void *(*serializer)(void *, uint32_t *));

__attribute__((deprecated)) int vaccel_add_serial_arg(struct vaccel_arg_list *args,
	void *buf,
	uint32_t size);

int vaccel_arg_array_add_all(struct vaccel_arg_array *dest,
	const struct vaccel_arg_array *src,
	bool copy);

int vaccel_arg_array_add_buffer(struct vaccel_arg_array *array,
	void *buf,
	size_t size);

int vaccel_arg_array_add_custom(struct vaccel_arg_array *array,
	uint32_t custom_id,
	void *buf,
	size_t size,
	vaccel_arg_type_validator_fn validator);

int vaccel_arg_array_add_range(struct vaccel_arg_array *dest,
	const struct vaccel_arg_array *src,
	size_t start_idx,
	size_t count,
	bool copy);

int vaccel_arg_array_add_raw(struct vaccel_arg_array *array,
	void *buf,
	size_t size);

int vaccel_arg_array_add_remaining(struct vaccel_arg_array *dest,
	const struct vaccel_arg_array *src,
	bool copy);

int vaccel_arg_array_add_serialized(struct vaccel_arg_array *array,
	vaccel_arg_type_t type,
	uint32_t custom_id,
	const void *data,
	size_t data_size,
	vaccel_arg_serializer_fn serializer);

int vaccel_arg_array_add_string(struct vaccel_arg_array *array,
	char *str);

void vaccel_arg_array_clear(struct vaccel_arg_array *array);

size_t vaccel_arg_array_count(const struct vaccel_arg_array *array);

int vaccel_arg_array_delete(struct vaccel_arg_array *array);

int vaccel_arg_array_get_buffer(struct vaccel_arg_array *array,
	void **buf,
	size_t *size);

int vaccel_arg_array_get_custom(struct vaccel_arg_array *array,
	uint32_t expected_id,
	void **buf,
	size_t *size,
	vaccel_arg_type_validator_fn validator);

int vaccel_arg_array_get_raw(struct vaccel_arg_array *array,
	void **buf,
	size_t *size);

int vaccel_arg_array_get_remaining(struct vaccel_arg_array *array,
	struct vaccel_arg **args,
	size_t *count);

int vaccel_arg_array_get_serialized(struct vaccel_arg_array *array,
	vaccel_arg_type_t expected_type,
	uint32_t expected_custom_id,
	void *data,
	size_t expected_size,
	vaccel_arg_deserializer_fn deserializer);

int vaccel_arg_array_get_string(struct vaccel_arg_array *array,
	char **str);

int vaccel_arg_array_init(struct vaccel_arg_array *array,
	size_t initial_capacity);

int vaccel_arg_array_new(struct vaccel_arg_array **array,
	size_t initial_capacity);

size_t vaccel_arg_array_position(const struct vaccel_arg_array *array);

struct vaccel_arg *vaccel_arg_array_raw(struct vaccel_arg_array *array);

int vaccel_arg_array_release(struct vaccel_arg_array *array);

size_t vaccel_arg_array_remaining_count(const struct vaccel_arg_array *array);

void vaccel_arg_array_reset_position(struct vaccel_arg_array *array);

int vaccel_arg_array_set_buffer(struct vaccel_arg_array *array,
	void *buf,
	size_t size);

int vaccel_arg_array_set_custom(struct vaccel_arg_array *array,
	uint32_t expected_id,
	void *buf,
	size_t size,
	vaccel_arg_type_validator_fn validator);

void vaccel_arg_array_set_position(struct vaccel_arg_array *array,
	size_t position);

int vaccel_arg_array_set_raw(struct vaccel_arg_array *array,
	void *buf,
	size_t size);

int vaccel_arg_array_set_serialized(struct vaccel_arg_array *array,
	vaccel_arg_type_t expected_type,
	uint32_t expected_custom_id,
	void *data,
	size_t data_size,
	vaccel_arg_serializer_fn serializer);

int vaccel_arg_array_set_string(struct vaccel_arg_array *array,
	char *str);

int vaccel_arg_array_wrap(struct vaccel_arg_array *array,
	struct vaccel_arg *args,
	size_t count);

int vaccel_arg_delete(struct vaccel_arg *arg);

int vaccel_arg_from_buf(struct vaccel_arg **arg,
	void *buf,
	size_t size,
	vaccel_arg_type_t type,
	uint32_t custom_id);

int vaccel_arg_init(struct vaccel_arg *arg,
	const void *buf,
	size_t size,
	vaccel_arg_type_t type,
	uint32_t custom_id);

int vaccel_arg_init_from_buf(struct vaccel_arg *arg,
	void *buf,
	size_t size,
	vaccel_arg_type_t type,
	uint32_t custom_id);

int vaccel_arg_new(struct vaccel_arg **arg,
	const void *buf,
	size_t size,
	vaccel_arg_type_t type,
	uint32_t custom_id);

int vaccel_arg_release(struct vaccel_arg *arg);

__attribute__((deprecated)) struct vaccel_arg_list *vaccel_args_init(uint32_t size);

__attribute__((deprecated)) int vaccel_delete_args(struct vaccel_arg_list *args);

__attribute__((deprecated)) int vaccel_expect_nonserial_arg(struct vaccel_arg_list *args,
	uint32_t expected_size);

__attribute__((deprecated)) int vaccel_expect_serial_arg(struct vaccel_arg_list *args,
	void *buf,
	uint32_t size);

__attribute__((deprecated)) void *vaccel_extract_nonserial_arg(struct vaccel_arg *args,
	int idx,
	void *(*deserializer)(void *, uint32_t));

__attribute__((deprecated)) void *vaccel_extract_serial_arg(struct vaccel_arg *args,
	int idx);

__attribute__((deprecated)) int vaccel_write_nonserial_arg(struct vaccel_arg *args,
	int idx,
	void *buf,
	void *(*serializer)(void *, uint32_t *));

__attribute__((deprecated)) int vaccel_write_serial_arg(struct vaccel_arg *args,
	int idx,
	void *buf);

#ifdef __cplusplus
}
#endif

#endif /* ACCELRING_VACCEL_ARG_H */

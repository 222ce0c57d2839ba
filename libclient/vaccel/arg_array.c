/* SPDX-License-Identifier: Apache-2.0 */
/*
 * struct vaccel_arg_array: a growable list of arguments with a read
 * position, what an op's callers build and a plugin reads back.
 *
 * Invariants: args[0..count) are initialized, count <= capacity, and
 * position <= count except where a caller wrote the fields itself. owned
 * says whether args is ours (freed by release, grown by realloc) or the
 * caller's (vaccel_arg_array_wrap: fixed size, never freed here); each
 * argument's own owned says whether its buf is freed with it.
 *
 * add_* append an argument that borrows the caller's bytes (add_serialized
 * and add_range's copies own theirs); get_* read the argument at the
 * position and advance; set_* write into it (an output) and advance. A get
 * or set that fails leaves the position where it was: VACCEL_EINVAL for a
 * missing pointer or an argument of another type or shape, VACCEL_ERANGE
 * when the position is past the last argument.
 */
#include <stdlib.h>
#include <string.h>

#include "vaccel_pvt.h"

/* The capacity of an array initialized with 0 (upstream's default). */
#define ARG_ARRAY_CAPACITY_DEFAULT 8

/* bools are checked byte by byte (a bool read as a bool must be 0 or 1). */
_Static_assert(sizeof(bool) == 1, "bool is one byte");

/* The bytes a built-in numeric type (or an array of it) must have. */
struct arg_shape {
	size_t elem;	/* the element's size; 0 for non-numeric types */
	bool array;	/* any whole, non-zero number of elements */
	bool boolean;	/* every byte 0 or 1 */
};

#define ARG_SHAPE(TYPE_NAME, C_TYPE, ARG_TYPE, ARRAY_TYPE)                    \
	[ARG_TYPE] = { sizeof(C_TYPE), false, ARG_TYPE == VACCEL_ARG_BOOL },  \
	[ARRAY_TYPE] = { sizeof(C_TYPE), true,                                \
			 ARRAY_TYPE == VACCEL_ARG_BOOL_ARRAY },

static const struct arg_shape arg_shapes[VACCEL_ARG_MAX] = {
	VACCEL_ARG_NUMERIC_TYPES(ARG_SHAPE)
};

static bool bytes_are_bools(const void *buf, size_t size)
{
	const unsigned char *b = buf;

	for (size_t i = 0; i < size; i++)
		if (b[i] > 1)
			return false;
	return true;
}

/*
 * Whether buf/size is a value of a built-in type: a scalar's exact size, a
 * whole non-zero number of an array's elements, bools of 0 or 1, a
 * NUL-terminated string, a non-empty buffer. RAW and CUSTOM bytes are
 * anything here (a custom type has its own validator); an unknown type is
 * never valid.
 */
static bool arg_valid(vaccel_arg_type_t type, const void *buf, size_t size)
{
	const struct arg_shape *s;

	switch (type) {
	case VACCEL_ARG_RAW:
	case VACCEL_ARG_CUSTOM:
		return true;
	case VACCEL_ARG_STRING:
		return buf && size && ((const char *)buf)[size - 1] == '\0';
	case VACCEL_ARG_BUFFER:
		return buf && size;
	default:
		break;
	}
	if ((unsigned int)type >= VACCEL_ARG_MAX)
		return false;
	s = &arg_shapes[type];
	if (!buf || !s->elem)
		return false;
	if (s->array ? !size || size % s->elem : size != s->elem)
		return false;
	return !s->boolean || bytes_are_bools(buf, size);
}

/* ---- lifecycle ---- */

/*
 * An empty array with room for initial_capacity arguments (0: the
 * default), growing as needed. Returns 0, VACCEL_EINVAL or VACCEL_ENOMEM.
 */
AR_VISIBLE int vaccel_arg_array_init(struct vaccel_arg_array *array,
				     size_t initial_capacity)
{
	size_t cap = initial_capacity ? initial_capacity :
					ARG_ARRAY_CAPACITY_DEFAULT;
	struct vaccel_arg *args = NULL;
	size_t bytes;

	if (!array)
		return VACCEL_EINVAL;
	/* Refused here rather than by calloc: a sanitizer's allocator aborts
	 * on an impossible size instead of returning NULL. */
	if (!__builtin_mul_overflow(cap, sizeof(*args), &bytes))
		args = calloc(cap, sizeof(*args));
	if (!args) {
		*array = (struct vaccel_arg_array){ 0 };
		return VACCEL_ENOMEM;
	}
	*array = (struct vaccel_arg_array){
		.args = args, .capacity = cap, .owned = true,
	};
	return VACCEL_OK;
}

/*
 * Release every argument and the storage of an array we own; a wrapped
 * array's arguments are the caller's and stay as they are. Returns 0 or
 * VACCEL_EINVAL (no array, or one without arguments' storage).
 */
AR_VISIBLE int vaccel_arg_array_release(struct vaccel_arg_array *array)
{
	if (!array || !array->args)
		return VACCEL_EINVAL;
	if (array->owned) {
		for (size_t i = 0; i < array->count; i++)
			vaccel_arg_release(&array->args[i]);
		free(array->args);
	}
	*array = (struct vaccel_arg_array){ 0 };
	return VACCEL_OK;
}

AR_VISIBLE int vaccel_arg_array_new(struct vaccel_arg_array **array,
				    size_t initial_capacity)
{
	struct vaccel_arg_array *a;
	int ret;

	if (!array)
		return VACCEL_EINVAL;
	a = malloc(sizeof(*a));
	if (!a)
		return VACCEL_ENOMEM;
	ret = vaccel_arg_array_init(a, initial_capacity);
	if (ret) {
		free(a);
		return ret;
	}
	*array = a;
	return VACCEL_OK;
}

AR_VISIBLE int vaccel_arg_array_delete(struct vaccel_arg_array *array)
{
	int ret = vaccel_arg_array_release(array);

	if (ret)
		return ret;
	free(array);
	return VACCEL_OK;
}

/*
 * An array over the caller's count arguments: fixed size (adding past them
 * fails with VACCEL_ERANGE), never freed by release. Returns 0 or
 * VACCEL_EINVAL.
 */
AR_VISIBLE int vaccel_arg_array_wrap(struct vaccel_arg_array *array,
				     struct vaccel_arg *args, size_t count)
{
	if (!array || (!args && count))
		return VACCEL_EINVAL;
	*array = (struct vaccel_arg_array){
		.args = args, .count = count, .capacity = count,
	};
	return VACCEL_OK;
}

/* Release every argument (wrapped ones too, as upstream does) and rewind;
 * the capacity stays. */
AR_VISIBLE void vaccel_arg_array_clear(struct vaccel_arg_array *array)
{
	if (!array || !array->args)
		return;
	for (size_t i = 0; i < array->count; i++)
		vaccel_arg_release(&array->args[i]);
	array->count = 0;
	array->position = 0;
}

AR_VISIBLE size_t vaccel_arg_array_count(const struct vaccel_arg_array *array)
{
	return array ? array->count : 0;
}

AR_VISIBLE struct vaccel_arg *vaccel_arg_array_raw(struct vaccel_arg_array *array)
{
	return array ? array->args : NULL;
}

/* ---- position ---- */

AR_VISIBLE size_t vaccel_arg_array_position(const struct vaccel_arg_array *array)
{
	return array ? array->position : 0;
}

/* Move the position, at most to just past the last argument. */
AR_VISIBLE void vaccel_arg_array_set_position(struct vaccel_arg_array *array,
					      size_t position)
{
	if (array)
		array->position = position < array->count ? position :
							     array->count;
}

AR_VISIBLE void vaccel_arg_array_reset_position(struct vaccel_arg_array *array)
{
	if (array)
		array->position = 0;
}

AR_VISIBLE size_t
vaccel_arg_array_remaining_count(const struct vaccel_arg_array *array)
{
	if (!array || array->position >= array->count)
		return 0;
	return array->count - array->position;
}

/*
 * The arguments from the position on, in place (*args NULL and *count 0
 * when none are left); the position stays. Returns 0 or VACCEL_EINVAL.
 */
AR_VISIBLE int vaccel_arg_array_get_remaining(struct vaccel_arg_array *array,
					      struct vaccel_arg **args,
					      size_t *count)
{
	if (!array || !args || !count)
		return VACCEL_EINVAL;
	*count = vaccel_arg_array_remaining_count(array);
	*args = *count ? &array->args[array->position] : NULL;
	return VACCEL_OK;
}

/* ---- adding ---- */

/*
 * Room for n more arguments: doubling an array we own, never a wrapped
 * one (VACCEL_ERANGE). VACCEL_ENOMEM if it cannot grow.
 */
static int arg_array_reserve(struct vaccel_arg_array *array, size_t n)
{
	struct vaccel_arg *args;
	size_t need, cap, bytes;

	if (__builtin_add_overflow(array->count, n, &need))
		return VACCEL_ENOMEM;
	if (need <= array->capacity)
		return VACCEL_OK;
	if (!array->owned)
		return VACCEL_ERANGE;
	cap = array->capacity ? array->capacity : ARG_ARRAY_CAPACITY_DEFAULT;
	while (cap < need)
		if (__builtin_mul_overflow(cap, 2, &cap))
			return VACCEL_ENOMEM;
	if (__builtin_mul_overflow(cap, sizeof(*args), &bytes))
		return VACCEL_ENOMEM;
	args = realloc(array->args, bytes);
	if (!args)
		return VACCEL_ENOMEM;
	array->args = args;
	array->capacity = cap;
	return VACCEL_OK;
}

/* Append an argument as given (checked by the caller). */
static int arg_array_push(struct vaccel_arg_array *array, void *buf,
			  size_t size, vaccel_arg_type_t type,
			  uint32_t custom_id, bool owned)
{
	int ret = arg_array_reserve(array, 1);

	if (ret)
		return ret;
	array->args[array->count++] = (struct vaccel_arg){
		.buf = buf, .size = size, .type = type,
		.custom_type_id = custom_id, .owned = owned,
	};
	return VACCEL_OK;
}

/* Append an argument whose bytes must be a value of its built-in type. */
static int arg_array_add(struct vaccel_arg_array *array, void *buf,
			 size_t size, vaccel_arg_type_t type,
			 uint32_t custom_id, bool owned)
{
	if (!array || !arg_valid(type, buf, size))
		return VACCEL_EINVAL;
	return arg_array_push(array, buf, size, type, custom_id, owned);
}

/* Append count elements of elem bytes each (an *_ARRAY type). */
static int arg_array_add_elems(struct vaccel_arg_array *array, void *values,
			       size_t count, size_t elem,
			       vaccel_arg_type_t type)
{
	size_t size;

	if (!array || !values || !count ||
	    __builtin_mul_overflow(count, elem, &size))
		return VACCEL_EINVAL;
	return arg_array_add(array, values, size, type, 0, false);
}

/* A raw argument borrowing buf (both buf and size, or neither). */
AR_VISIBLE int vaccel_arg_array_add_raw(struct vaccel_arg_array *array,
					void *buf, size_t size)
{
	if (!array || !buf != !size)
		return VACCEL_EINVAL;
	return arg_array_push(array, buf, size, VACCEL_ARG_RAW, 0, false);
}

/* A string argument borrowing str, its NUL included. */
AR_VISIBLE int vaccel_arg_array_add_string(struct vaccel_arg_array *array,
					   char *str)
{
	if (!array || !str)
		return VACCEL_EINVAL;
	return arg_array_add(array, str, strlen(str) + 1, VACCEL_ARG_STRING, 0,
			     false);
}

/* A buffer argument borrowing buf (non-empty). */
AR_VISIBLE int vaccel_arg_array_add_buffer(struct vaccel_arg_array *array,
					   void *buf, size_t size)
{
	return arg_array_add(array, buf, size, VACCEL_ARG_BUFFER, 0, false);
}

/* A custom-type argument borrowing buf, which validator must accept. */
AR_VISIBLE int vaccel_arg_array_add_custom(struct vaccel_arg_array *array,
					   uint32_t custom_id, void *buf,
					   size_t size,
					   vaccel_arg_type_validator_fn validator)
{
	if (!array || !validator || !validator(buf, size, custom_id))
		return VACCEL_EINVAL;
	return arg_array_push(array, buf, size, VACCEL_ARG_CUSTOM, custom_id,
			      false);
}

/*
 * An argument of type holding serializer's bytes for data (a malloc'd
 * buffer the array then owns). Returns serializer's error, VACCEL_EINVAL
 * if the bytes are not a value of a built-in type, or 0.
 */
AR_VISIBLE int vaccel_arg_array_add_serialized(struct vaccel_arg_array *array,
					       vaccel_arg_type_t type,
					       uint32_t custom_id,
					       const void *data,
					       size_t data_size,
					       vaccel_arg_serializer_fn serializer)
{
	void *buf = NULL;
	size_t size = 0;
	int ret;

	if (!array || !serializer)
		return VACCEL_EINVAL;
	ret = serializer(data, data_size, custom_id, &buf, &size);
	if (ret)
		return ret;
	ret = arg_array_add(array, buf, size, type, custom_id, true);
	if (ret)
		free(buf);
	return ret;
}

/* dst as src: borrowing src's bytes, or owning a copy of them. */
static int arg_dup(struct vaccel_arg *dst, const struct vaccel_arg *src,
		   bool copy)
{
	*dst = *src;
	dst->owned = false;
	if (!copy || !src->buf || !src->size)
		return VACCEL_OK;
	dst->buf = malloc(src->size);
	if (!dst->buf)
		return VACCEL_ENOMEM;
	memcpy(dst->buf, src->buf, src->size);
	dst->owned = true;
	return VACCEL_OK;
}

/*
 * Append src's count arguments from start_idx, borrowing their bytes or
 * (copy) owning copies. All or nothing. Returns 0, VACCEL_EINVAL,
 * VACCEL_ERANGE (a range outside src; a wrapped dest without room) or
 * VACCEL_ENOMEM.
 */
AR_VISIBLE int vaccel_arg_array_add_range(struct vaccel_arg_array *dest,
					  const struct vaccel_arg_array *src,
					  size_t start_idx, size_t count,
					  bool copy)
{
	struct vaccel_arg *base;
	int ret;

	if (!dest || !src)
		return VACCEL_EINVAL;
	if (start_idx >= src->count || count > src->count - start_idx)
		return VACCEL_ERANGE;
	if (!count)
		return VACCEL_OK;
	/* src may be dest: read its arguments only after growing. */
	ret = arg_array_reserve(dest, count);
	if (ret)
		return ret;
	base = &dest->args[dest->count];
	for (size_t i = 0; i < count; i++) {
		ret = arg_dup(&base[i], &src->args[start_idx + i], copy);
		if (ret) {
			while (i--)
				vaccel_arg_release(&base[i]);
			return ret;
		}
	}
	dest->count += count;
	return VACCEL_OK;
}

/* add_range of src's arguments from its position on. */
AR_VISIBLE int vaccel_arg_array_add_remaining(struct vaccel_arg_array *dest,
					      const struct vaccel_arg_array *src,
					      bool copy)
{
	if (!dest || !src)
		return VACCEL_EINVAL;
	if (src->position >= src->count)
		return VACCEL_OK;
	return vaccel_arg_array_add_range(dest, src, src->position,
					  src->count - src->position, copy);
}

/* add_range of all src's arguments. */
AR_VISIBLE int vaccel_arg_array_add_all(struct vaccel_arg_array *dest,
					const struct vaccel_arg_array *src,
					bool copy)
{
	if (!dest || !src)
		return VACCEL_EINVAL;
	if (!src->count)
		return VACCEL_OK;
	return vaccel_arg_array_add_range(dest, src, 0, src->count, copy);
}

/* ---- reading and writing at the position ---- */

/* The argument at the position. */
static int arg_array_cur(struct vaccel_arg_array *array,
			 struct vaccel_arg **arg)
{
	if (!array)
		return VACCEL_EINVAL;
	if (array->position >= array->count)
		return VACCEL_ERANGE;
	if (!array->args)
		return VACCEL_EINVAL;
	*arg = &array->args[array->position];
	return VACCEL_OK;
}

/* The argument at the position, which must be a value of built-in type. */
static int arg_array_cur_typed(struct vaccel_arg_array *array,
			       vaccel_arg_type_t type, struct vaccel_arg **arg)
{
	int ret = arg_array_cur(array, arg);

	if (ret)
		return ret;
	if ((*arg)->type != type || !arg_valid(type, (*arg)->buf, (*arg)->size))
		return VACCEL_EINVAL;
	return VACCEL_OK;
}

/* Read a scalar of elem bytes into out. */
static int arg_array_get_scalar(struct vaccel_arg_array *array, void *out,
				size_t elem, vaccel_arg_type_t type)
{
	struct vaccel_arg *a;
	int ret;

	if (!array || !out)
		return VACCEL_EINVAL;
	ret = arg_array_cur_typed(array, type, &a);
	if (ret)
		return ret;
	memcpy(out, a->buf, elem);
	array->position++;
	return VACCEL_OK;
}

/* The elements of an array argument, in place. */
static int arg_array_get_elems(struct vaccel_arg_array *array, void **values,
			       size_t *count, size_t elem,
			       vaccel_arg_type_t type)
{
	struct vaccel_arg *a;
	int ret;

	if (!array || !values)
		return VACCEL_EINVAL;
	ret = arg_array_cur_typed(array, type, &a);
	if (ret)
		return ret;
	*values = a->buf;
	if (count)
		*count = a->size / elem;
	array->position++;
	return VACCEL_OK;
}

/* Write a scalar of elem bytes (itself a valid value) into the argument. */
static int arg_array_set_scalar(struct vaccel_arg_array *array,
				const void *value, size_t elem,
				vaccel_arg_type_t type)
{
	struct vaccel_arg *a;
	int ret;

	if (!array || !value)
		return VACCEL_EINVAL;
	ret = arg_array_cur_typed(array, type, &a);
	if (ret)
		return ret;
	if (!arg_valid(type, value, elem))
		return VACCEL_EINVAL;
	memcpy(a->buf, value, elem);
	array->position++;
	return VACCEL_OK;
}

/* Write count elements into an array argument that has room for them. */
static int arg_array_set_elems(struct vaccel_arg_array *array,
			       const void *values, size_t count, size_t elem,
			       vaccel_arg_type_t type)
{
	struct vaccel_arg *a;
	size_t size;
	int ret;

	if (!array || !values)
		return VACCEL_EINVAL;
	ret = arg_array_cur_typed(array, type, &a);
	if (ret)
		return ret;
	if (__builtin_mul_overflow(count, elem, &size) || size > a->size ||
	    (size && !arg_valid(type, values, size)))
		return VACCEL_EINVAL;
	memcpy(a->buf, values, size);
	array->position++;
	return VACCEL_OK;
}

/* The typed functions, for every numeric type. */
#define ARG_ARRAY_DEFINE_NUMERIC(TYPE_NAME, C_TYPE, ARG_TYPE, ARRAY_TYPE)     \
	AR_VISIBLE int vaccel_arg_array_add_##TYPE_NAME(                      \
		struct vaccel_arg_array *array, C_TYPE *value)                \
	{                                                                     \
		return arg_array_add(array, value, sizeof(C_TYPE), ARG_TYPE,  \
				     0, false);                               \
	}                                                                     \
	AR_VISIBLE int vaccel_arg_array_add_##TYPE_NAME##_array(              \
		struct vaccel_arg_array *array, C_TYPE *values, size_t count) \
	{                                                                     \
		return arg_array_add_elems(array, values, count,              \
					   sizeof(C_TYPE), ARRAY_TYPE);       \
	}                                                                     \
	AR_VISIBLE int vaccel_arg_array_get_##TYPE_NAME(                      \
		struct vaccel_arg_array *array, C_TYPE *value)                \
	{                                                                     \
		return arg_array_get_scalar(array, value, sizeof(C_TYPE),     \
					    ARG_TYPE);                        \
	}                                                                     \
	AR_VISIBLE int vaccel_arg_array_get_##TYPE_NAME##_array(              \
		struct vaccel_arg_array *array, C_TYPE **values,              \
		size_t *count)                                                \
	{                                                                     \
		void *p = NULL;                                               \
		int ret = arg_array_get_elems(array, values ? &p : NULL,      \
					      count, sizeof(C_TYPE),          \
					      ARRAY_TYPE);                    \
		if (!ret)                                                     \
			*values = p;                                          \
		return ret;                                                   \
	}                                                                     \
	AR_VISIBLE int vaccel_arg_array_set_##TYPE_NAME(                      \
		struct vaccel_arg_array *array, C_TYPE *value)                \
	{                                                                     \
		return arg_array_set_scalar(array, value, sizeof(C_TYPE),     \
					    ARG_TYPE);                        \
	}                                                                     \
	AR_VISIBLE int vaccel_arg_array_set_##TYPE_NAME##_array(              \
		struct vaccel_arg_array *array, C_TYPE *values, size_t count) \
	{                                                                     \
		return arg_array_set_elems(array, values, count,              \
					   sizeof(C_TYPE), ARRAY_TYPE);       \
	}

VACCEL_ARG_NUMERIC_TYPES(ARG_ARRAY_DEFINE_NUMERIC)

/* The bytes of the argument at the position, which must be of type, in
 * place. */
static int arg_array_get_bytes(struct vaccel_arg_array *array, vaccel_arg_type_t type,
			       void **buf, size_t *size)
{
	struct vaccel_arg *a;
	int ret;

	if (!array || !buf || !size)
		return VACCEL_EINVAL;
	ret = arg_array_cur_typed(array, type, &a);
	if (ret)
		return ret;
	*buf = a->buf;
	*size = a->size;
	array->position++;
	return VACCEL_OK;
}

/* A raw argument's bytes, in place. */
AR_VISIBLE int vaccel_arg_array_get_raw(struct vaccel_arg_array *array,
					void **buf, size_t *size)
{
	return arg_array_get_bytes(array, VACCEL_ARG_RAW, buf, size);
}

/* A string argument (NUL-terminated), in place. */
AR_VISIBLE int vaccel_arg_array_get_string(struct vaccel_arg_array *array,
					   char **str)
{
	struct vaccel_arg *a;
	int ret;

	if (!array || !str)
		return VACCEL_EINVAL;
	ret = arg_array_cur_typed(array, VACCEL_ARG_STRING, &a);
	if (ret)
		return ret;
	*str = a->buf;
	array->position++;
	return VACCEL_OK;
}

/* A buffer argument (non-empty), in place. */
AR_VISIBLE int vaccel_arg_array_get_buffer(struct vaccel_arg_array *array,
					   void **buf, size_t *size)
{
	return arg_array_get_bytes(array, VACCEL_ARG_BUFFER, buf, size);
}

/* The argument at the position as a custom type's: its id and validator. */
static int arg_array_cur_custom(struct vaccel_arg_array *array,
				uint32_t expected_id, struct vaccel_arg **arg)
{
	int ret = arg_array_cur(array, arg);

	if (ret)
		return ret;
	if ((*arg)->type != VACCEL_ARG_CUSTOM ||
	    (*arg)->custom_type_id != expected_id)
		return VACCEL_EINVAL;
	return VACCEL_OK;
}

/* A custom argument of id expected_id that validator accepts, in place
 * (size optional). */
AR_VISIBLE int vaccel_arg_array_get_custom(struct vaccel_arg_array *array,
					   uint32_t expected_id, void **buf,
					   size_t *size,
					   vaccel_arg_type_validator_fn validator)
{
	struct vaccel_arg *a;
	int ret;

	if (!array || !validator || !buf)
		return VACCEL_EINVAL;
	ret = arg_array_cur_custom(array, expected_id, &a);
	if (ret)
		return ret;
	if (!validator(a->buf, a->size, a->custom_type_id))
		return VACCEL_EINVAL;
	*buf = a->buf;
	if (size)
		*size = a->size;
	array->position++;
	return VACCEL_OK;
}

/*
 * The argument at the position if it is of type (for CUSTOM, of id
 * *custom_id; for a built-in type, a valid value, and *custom_id becomes
 * 0: what the (de)serializer is told).
 */
static int arg_array_cur_serialized(struct vaccel_arg_array *array,
				    vaccel_arg_type_t type,
				    uint32_t *custom_id,
				    struct vaccel_arg **arg)
{
	int ret;

	if (type == VACCEL_ARG_CUSTOM)
		return arg_array_cur_custom(array, *custom_id, arg);
	ret = arg_array_cur_typed(array, type, arg);
	if (!ret)
		*custom_id = 0;
	return ret;
}

/* Deserialize the argument at the position into data. Returns 0,
 * VACCEL_EINVAL, VACCEL_ERANGE or deserializer's error. */
AR_VISIBLE int vaccel_arg_array_get_serialized(struct vaccel_arg_array *array,
					       vaccel_arg_type_t expected_type,
					       uint32_t expected_custom_id,
					       void *data, size_t expected_size,
					       vaccel_arg_deserializer_fn deserializer)
{
	struct vaccel_arg *a;
	int ret;

	if (!array || !data || !deserializer)
		return VACCEL_EINVAL;
	ret = arg_array_cur_serialized(array, expected_type,
				       &expected_custom_id, &a);
	if (ret)
		return ret;
	ret = deserializer(a->buf, a->size, expected_custom_id, expected_size,
			   data);
	if (ret)
		return ret;
	array->position++;
	return VACCEL_OK;
}

/*
 * Write size bytes of buf into a raw argument with room for them; with no
 * bytes to write, the argument must have none either.
 */
AR_VISIBLE int vaccel_arg_array_set_raw(struct vaccel_arg_array *array,
					void *buf, size_t size)
{
	struct vaccel_arg *a;
	int ret;

	if (!array)
		return VACCEL_EINVAL;
	ret = arg_array_cur_typed(array, VACCEL_ARG_RAW, &a);
	if (ret)
		return ret;
	if (buf && size) {
		if (!a->buf || a->size < size)
			return VACCEL_EINVAL;
		memcpy(a->buf, buf, size);
	} else if (a->buf && a->size) {
		return VACCEL_EINVAL;
	}
	array->position++;
	return VACCEL_OK;
}

/* Write str (NUL included; the rest zeroed) into a string argument with
 * room for it. */
AR_VISIBLE int vaccel_arg_array_set_string(struct vaccel_arg_array *array,
					   char *str)
{
	struct vaccel_arg *a;
	size_t len;
	int ret;

	if (!array || !str)
		return VACCEL_EINVAL;
	ret = arg_array_cur(array, &a);
	if (ret)
		return ret;
	len = strlen(str) + 1;
	if (a->type != VACCEL_ARG_STRING || !a->buf || a->size < len)
		return VACCEL_EINVAL;
	memcpy(a->buf, str, len);
	memset((char *)a->buf + len, 0, a->size - len);
	array->position++;
	return VACCEL_OK;
}

/* Write size bytes of buf into a buffer argument with room for them. */
AR_VISIBLE int vaccel_arg_array_set_buffer(struct vaccel_arg_array *array,
					   void *buf, size_t size)
{
	struct vaccel_arg *a;
	int ret;

	if (!array || !buf || !size)
		return VACCEL_EINVAL;
	ret = arg_array_cur(array, &a);
	if (ret)
		return ret;
	if (a->type != VACCEL_ARG_BUFFER || !a->buf || a->size < size)
		return VACCEL_EINVAL;
	memcpy(a->buf, buf, size);
	array->position++;
	return VACCEL_OK;
}

/* Write a custom value (validator must accept it) of exactly the
 * argument's size into it. */
AR_VISIBLE int vaccel_arg_array_set_custom(struct vaccel_arg_array *array,
					   uint32_t expected_id, void *buf,
					   size_t size,
					   vaccel_arg_type_validator_fn validator)
{
	struct vaccel_arg *a;
	int ret;

	if (!array || !validator)
		return VACCEL_EINVAL;
	ret = arg_array_cur_custom(array, expected_id, &a);
	if (ret)
		return ret;
	if (a->size != size || !validator(buf, size, a->custom_type_id) ||
	    (size && (!buf || !a->buf)))
		return VACCEL_EINVAL;
	if (size)
		memcpy(a->buf, buf, size);
	array->position++;
	return VACCEL_OK;
}

/*
 * Serialize data into the argument at the position: the bytes must be of
 * exactly its size (and, for a built-in type, a valid value). Returns 0,
 * VACCEL_EINVAL, VACCEL_ERANGE or serializer's error.
 */
AR_VISIBLE int vaccel_arg_array_set_serialized(struct vaccel_arg_array *array,
					       vaccel_arg_type_t expected_type,
					       uint32_t expected_custom_id,
					       void *data, size_t data_size,
					       vaccel_arg_serializer_fn serializer)
{
	struct vaccel_arg *a;
	void *buf = NULL;
	size_t size = 0;
	int ret;

	if (!array || !data || !serializer)
		return VACCEL_EINVAL;
	ret = arg_array_cur_serialized(array, expected_type,
				       &expected_custom_id, &a);
	if (ret)
		return ret;
	ret = serializer(data, data_size, expected_custom_id, &buf, &size);
	if (ret)
		return ret;
	if (size != a->size || (size && (!buf || !a->buf)) ||
	    !arg_valid(expected_type, buf, size)) {
		free(buf);
		return VACCEL_EINVAL;
	}
	if (size)
		memcpy(a->buf, buf, size);
	free(buf);
	array->position++;
	return VACCEL_OK;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_vaccel_arg - <vaccel/arg.h>: struct vaccel_arg, struct
 * vaccel_arg_array (every typed add/get/set), the deprecated arg lists.
 * A unit suite: no broker. Leaks and stray frees show under ASan.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <vaccel.h>

/*
 * vaccel_arg_type_name() (static inline, <vaccel/utils/enum.h>) calls
 * vaccel_str_to_lower, which the str group provides; referenced weakly so
 * that this suite links before that group lands, and checks the name once
 * it has.
 */
#pragma weak vaccel_str_to_lower

/* ---- helpers ---- */

static void check_arg(const struct vaccel_arg *a, const void *buf,
		      size_t size, vaccel_arg_type_t type, uint32_t id,
		      bool owned)
{
	assert_ptr_equal(a->buf, buf);
	assert_int_equal(a->size, size);
	assert_int_equal(a->type, type);
	assert_int_equal(a->custom_type_id, id);
	assert_int_equal(a->owned, owned);
}

/* A custom type with a validator: a range, lo <= hi. */
enum { RANGE_ID = 42 };
struct range {
	int32_t lo, hi;
};

static bool range_valid(const void *buf, size_t size, uint32_t id)
{
	const struct range *r = buf;

	return buf && size == sizeof(*r) && id == RANGE_ID && r->lo <= r->hi;
}

/* A custom type that needs serializing: a counted array behind a pointer,
 * as [count][values...] in uint32s. */
enum { VEC_ID = 7 };
struct vec {
	uint32_t count;
	uint32_t *values;
};

static int vec_serialize(const void *data, size_t data_size, uint32_t id,
			 void **out, size_t *out_size)
{
	const struct vec *v = data;
	uint32_t *b;

	if (!data || data_size != sizeof(*v) || id != VEC_ID)
		return VACCEL_EINVAL;
	b = malloc((v->count + 1) * sizeof(*b));
	if (!b)
		return VACCEL_ENOMEM;
	b[0] = v->count;
	memcpy(b + 1, v->values, v->count * sizeof(*b));
	*out = b;
	*out_size = (v->count + 1) * sizeof(*b);
	return VACCEL_OK;
}

static int vec_deserialize(const void *buf, size_t size, uint32_t id,
			   size_t data_size, void *out)
{
	struct vec *v = out;
	uint32_t count;

	if (!buf || size < sizeof(count) || id != VEC_ID ||
	    data_size != sizeof(*v))
		return VACCEL_EINVAL;
	memcpy(&count, buf, sizeof(count));
	if (size != (count + 1) * sizeof(count))
		return VACCEL_EINVAL;
	v->values = malloc(count * sizeof(count) + 1);
	if (!v->values)
		return VACCEL_ENOMEM;
	memcpy(v->values, (const uint32_t *)buf + 1, count * sizeof(count));
	v->count = count;
	return VACCEL_OK;
}

/* A built-in type through a serializer: an int stored as INT32. The
 * library passes custom id 0 for built-in types. */
static uint32_t last_ser_id;

static int i32_serialize(const void *data, size_t data_size, uint32_t id,
			 void **out, size_t *out_size)
{
	int32_t v;

	last_ser_id = id;
	if (!data || data_size != sizeof(int))
		return VACCEL_EINVAL;
	v = (int32_t)*(const int *)data;
	*out = malloc(sizeof(v));
	if (!*out)
		return VACCEL_ENOMEM;
	memcpy(*out, &v, sizeof(v));
	*out_size = sizeof(v);
	return VACCEL_OK;
}

static int i32_deserialize(const void *buf, size_t size, uint32_t id,
			   size_t data_size, void *out)
{
	int32_t v;

	last_ser_id = id;
	if (!buf || size != sizeof(v) || data_size != sizeof(int))
		return VACCEL_EINVAL;
	memcpy(&v, buf, sizeof(v));
	*(int *)out = v;
	return VACCEL_OK;
}

/* Serializers that misbehave: an error of their own, and 3 bytes for a
 * 4-byte type. */
static int failing_serialize(const void *data, size_t data_size, uint32_t id,
			     void **out, size_t *out_size)
{
	(void)data, (void)data_size, (void)id, (void)out, (void)out_size;
	return VACCEL_EBACKEND;
}

static int short_serialize(const void *data, size_t data_size, uint32_t id,
			   void **out, size_t *out_size)
{
	(void)data, (void)data_size, (void)id;
	*out = calloc(1, 3);
	*out_size = 3;
	return *out ? VACCEL_OK : VACCEL_ENOMEM;
}

static int failing_deserialize(const void *buf, size_t size, uint32_t id,
			       size_t data_size, void *out)
{
	(void)buf, (void)size, (void)id, (void)data_size, (void)out;
	return VACCEL_EBACKEND;
}

/* ---- struct vaccel_arg ---- */

/* init copies the caller's bytes into a buffer it owns (zeroed when no
 * bytes are given) and records type and custom id. */
static void test_vaccel_arg_init_copies(void **state)
{
	int32_t v = 5;
	struct vaccel_arg a;

	(void)state;
	assert_int_equal(vaccel_arg_init(&a, &v, sizeof(v), VACCEL_ARG_CUSTOM, 9),
			 VACCEL_OK);
	assert_non_null(a.buf);
	assert_ptr_not_equal(a.buf, &v);
	assert_int_equal(*(int32_t *)a.buf, 5);
	v = 6;
	assert_int_equal(*(int32_t *)a.buf, 5);
	assert_int_equal(a.size, sizeof(v));
	assert_int_equal(a.type, VACCEL_ARG_CUSTOM);
	assert_int_equal(a.custom_type_id, 9);
	assert_true(a.owned);
	assert_int_equal(vaccel_arg_release(&a), VACCEL_OK);

	assert_int_equal(vaccel_arg_init(&a, NULL, 16, VACCEL_ARG_RAW, 0), VACCEL_OK);
	assert_non_null(a.buf);
	for (size_t i = 0; i < 16; i++)
		assert_int_equal(((unsigned char *)a.buf)[i], 0);
	assert_true(a.owned);
	assert_int_equal(vaccel_arg_release(&a), VACCEL_OK);

	assert_int_equal(vaccel_arg_init(&a, NULL, 0, VACCEL_ARG_RAW, 0), VACCEL_OK);
	check_arg(&a, NULL, 0, VACCEL_ARG_RAW, 0, true);
	assert_int_equal(vaccel_arg_release(&a), VACCEL_OK);

	assert_int_equal(vaccel_arg_init(NULL, &v, sizeof(v), VACCEL_ARG_RAW, 0),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_init(&a, &v, 0, VACCEL_ARG_RAW, 0), VACCEL_EINVAL);
}

/* init_from_buf borrows: the argument is the caller's buffer, not owned;
 * buf and size come together or not at all. */
static void test_vaccel_arg_init_from_buf_borrows(void **state)
{
	int32_t v = 5;
	struct vaccel_arg a;

	(void)state;
	assert_int_equal(vaccel_arg_init_from_buf(&a, &v, sizeof(v),
						  VACCEL_ARG_INT32, 0), VACCEL_OK);
	check_arg(&a, &v, sizeof(v), VACCEL_ARG_INT32, 0, false);
	/* release must not free the caller's (stack) buffer */
	assert_int_equal(vaccel_arg_release(&a), VACCEL_OK);
	assert_int_equal(v, 5);

	assert_int_equal(vaccel_arg_init_from_buf(&a, NULL, 0, VACCEL_ARG_CUSTOM, 3),
			 VACCEL_OK);
	check_arg(&a, NULL, 0, VACCEL_ARG_CUSTOM, 3, false);

	assert_int_equal(vaccel_arg_init_from_buf(NULL, &v, sizeof(v),
						  VACCEL_ARG_RAW, 0), VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_init_from_buf(&a, &v, 0, VACCEL_ARG_RAW, 0),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_init_from_buf(&a, NULL, 4, VACCEL_ARG_RAW, 0),
			 VACCEL_EINVAL);
}

/* release frees an owned buffer and empties the argument (type MAX);
 * NULL is refused and a failed call changes nothing. */
static void test_vaccel_arg_release_empties(void **state)
{
	int32_t v = 1;
	struct vaccel_arg a;

	(void)state;
	assert_int_equal(vaccel_arg_init(&a, &v, sizeof(v), VACCEL_ARG_INT32, 0),
			 VACCEL_OK);
	assert_int_equal(vaccel_arg_release(NULL), VACCEL_EINVAL);
	assert_true(a.owned);
	assert_int_equal(*(int32_t *)a.buf, 1);
	assert_int_equal(vaccel_arg_release(&a), VACCEL_OK);
	check_arg(&a, NULL, 0, VACCEL_ARG_MAX, 0, false);
	/* twice is harmless: nothing is owned any more */
	assert_int_equal(vaccel_arg_release(&a), VACCEL_OK);
}

/* new/from_buf allocate the struct; delete releases and frees it. */
static void test_vaccel_arg_new_from_buf_delete(void **state)
{
	int32_t v = 3;
	struct vaccel_arg *a = NULL;

	(void)state;
	assert_int_equal(vaccel_arg_new(&a, &v, sizeof(v), VACCEL_ARG_INT32, 0),
			 VACCEL_OK);
	assert_non_null(a);
	assert_ptr_not_equal(a->buf, &v);
	assert_int_equal(*(int32_t *)a->buf, 3);
	assert_true(a->owned);
	assert_int_equal(a->type, VACCEL_ARG_INT32);
	assert_int_equal(vaccel_arg_delete(a), VACCEL_OK);

	a = NULL;
	assert_int_equal(vaccel_arg_from_buf(&a, &v, sizeof(v), VACCEL_ARG_CUSTOM, 11),
			 VACCEL_OK);
	assert_non_null(a);
	check_arg(a, &v, sizeof(v), VACCEL_ARG_CUSTOM, 11, false);
	assert_int_equal(vaccel_arg_delete(a), VACCEL_OK);
	assert_int_equal(v, 3);

	a = NULL;
	assert_int_equal(vaccel_arg_new(NULL, &v, sizeof(v), VACCEL_ARG_RAW, 0),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_new(&a, &v, 0, VACCEL_ARG_RAW, 0), VACCEL_EINVAL);
	assert_null(a);
	assert_int_equal(vaccel_arg_from_buf(NULL, &v, sizeof(v), VACCEL_ARG_RAW, 0),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_from_buf(&a, NULL, sizeof(v), VACCEL_ARG_RAW, 0),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_from_buf(&a, &v, 0, VACCEL_ARG_RAW, 0),
			 VACCEL_EINVAL);
	assert_null(a);
	assert_int_equal(vaccel_arg_delete(NULL), VACCEL_EINVAL);
}

/* The enum's string functions name every type, and MAX for others. */
static void test_vaccel_arg_type_strings(void **state)
{
	char name[VACCEL_ENUM_STR_MAX];

	(void)state;
	assert_string_equal(vaccel_arg_type_to_str(VACCEL_ARG_RAW), "VACCEL_ARG_RAW");
	assert_string_equal(vaccel_arg_type_to_str(VACCEL_ARG_UINT16_ARRAY),
			    "VACCEL_ARG_UINT16_ARRAY");
	assert_string_equal(vaccel_arg_type_to_str((vaccel_arg_type_t)999),
			    "VACCEL_ARG_MAX");
	assert_string_equal(vaccel_arg_type_to_base_str(VACCEL_ARG_CUSTOM), "CUSTOM");
	assert_string_equal(vaccel_arg_type_to_base_str((vaccel_arg_type_t)999),
			    "MAX");
	if (vaccel_str_to_lower) {
		assert_string_equal(vaccel_arg_type_name(VACCEL_ARG_FLOAT64, name,
							 sizeof(name)), "float64");
		assert_string_equal(vaccel_arg_type_name((vaccel_arg_type_t)999,
							 name, sizeof(name)), "max");
	} else {
		print_message("vaccel_str_to_lower not in the library yet: "
			      "vaccel_arg_type_name unchecked\n");
	}
}

/* ---- struct vaccel_arg_array: lifecycle ---- */

/* init gives an empty owned array (capacity 8 by default); release frees
 * it and the buffers its arguments own. */
static void test_vaccel_arg_array_init_release(void **state)
{
	struct vaccel_arg_array a;
	int v = 1;

	(void)state;
	assert_int_equal(vaccel_arg_array_init(&a, 0), VACCEL_OK);
	assert_non_null(a.args);
	assert_int_equal(a.count, 0);
	assert_int_equal(a.capacity, 8);
	assert_int_equal(a.position, 0);
	assert_true(a.owned);
	assert_int_equal(vaccel_arg_array_release(&a), VACCEL_OK);
	assert_null(a.args);
	assert_int_equal(a.capacity, 0);
	assert_false(a.owned);
	/* released already: no storage left */
	assert_int_equal(vaccel_arg_array_release(&a), VACCEL_EINVAL);

	assert_int_equal(vaccel_arg_array_init(&a, 3), VACCEL_OK);
	assert_int_equal(a.capacity, 3);
	/* an owned buffer (from add_serialized) is freed by release: ASan
	 * would report it otherwise */
	assert_int_equal(vaccel_arg_array_add_serialized(&a, VACCEL_ARG_INT32, 0, &v,
							 sizeof(v), i32_serialize),
			 VACCEL_OK);
	assert_true(a.args[0].owned);
	assert_int_equal(vaccel_arg_array_release(&a), VACCEL_OK);

	assert_int_equal(vaccel_arg_array_init(NULL, 1), VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_init(&a, SIZE_MAX), VACCEL_ENOMEM);
	assert_null(a.args);
	assert_int_equal(vaccel_arg_array_release(NULL), VACCEL_EINVAL);
}

/* new/delete: the same on a heap array. */
static void test_vaccel_arg_array_new_delete(void **state)
{
	struct vaccel_arg_array *a = NULL;
	int32_t v = 1;

	(void)state;
	assert_int_equal(vaccel_arg_array_new(&a, 2), VACCEL_OK);
	assert_non_null(a);
	assert_int_equal(a->capacity, 2);
	assert_true(a->owned);
	assert_int_equal(vaccel_arg_array_add_int32(a, &v), VACCEL_OK);
	assert_int_equal(vaccel_arg_array_delete(a), VACCEL_OK);

	a = NULL;
	assert_int_equal(vaccel_arg_array_new(NULL, 2), VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_new(&a, SIZE_MAX), VACCEL_ENOMEM);
	assert_null(a);
	assert_int_equal(vaccel_arg_array_delete(NULL), VACCEL_EINVAL);
}

/* wrap reads the caller's arguments in place: fixed size, never freed. */
static void test_vaccel_arg_array_wrap_borrows(void **state)
{
	struct vaccel_arg raw[2];
	struct vaccel_arg_array a;
	int32_t x = 7, y = 8, out = 0;

	(void)state;
	assert_int_equal(vaccel_arg_init(&raw[0], &x, sizeof(x), VACCEL_ARG_INT32, 0),
			 VACCEL_OK);
	assert_int_equal(vaccel_arg_init_from_buf(&raw[1], &y, sizeof(y),
						  VACCEL_ARG_INT32, 0), VACCEL_OK);
	assert_int_equal(vaccel_arg_array_wrap(&a, raw, 2), VACCEL_OK);
	assert_ptr_equal(a.args, raw);
	assert_int_equal(a.count, 2);
	assert_int_equal(a.capacity, 2);
	assert_int_equal(a.position, 0);
	assert_false(a.owned);
	assert_int_equal(vaccel_arg_array_get_int32(&a, &out), VACCEL_OK);
	assert_int_equal(out, 7);
	assert_int_equal(vaccel_arg_array_get_int32(&a, &out), VACCEL_OK);
	assert_int_equal(out, 8);
	/* no room, and no growing the caller's storage */
	assert_int_equal(vaccel_arg_array_add_int32(&a, &x), VACCEL_ERANGE);
	assert_int_equal(a.count, 2);
	assert_int_equal(vaccel_arg_array_release(&a), VACCEL_OK);
	/* raw[0] still owns its copy */
	assert_true(raw[0].owned);
	assert_int_equal(*(int32_t *)raw[0].buf, 7);
	assert_int_equal(vaccel_arg_release(&raw[0]), VACCEL_OK);
	assert_int_equal(vaccel_arg_release(&raw[1]), VACCEL_OK);

	assert_int_equal(vaccel_arg_array_wrap(&a, NULL, 0), VACCEL_OK);
	assert_int_equal(a.count, 0);
	assert_int_equal(vaccel_arg_array_wrap(NULL, raw, 1), VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_wrap(&a, NULL, 1), VACCEL_EINVAL);
}

/* clear releases the arguments and rewinds, keeping the capacity. */
static void test_vaccel_arg_array_clear_keeps_capacity(void **state)
{
	struct vaccel_arg_array a;
	struct vaccel_arg *args;
	int v = 5;
	int32_t x = 1, out;

	(void)state;
	assert_int_equal(vaccel_arg_array_init(&a, 4), VACCEL_OK);
	assert_int_equal(vaccel_arg_array_add_int32(&a, &x), VACCEL_OK);
	assert_int_equal(vaccel_arg_array_add_serialized(&a, VACCEL_ARG_INT32, 0, &v,
							 sizeof(v), i32_serialize),
			 VACCEL_OK);
	assert_int_equal(vaccel_arg_array_get_int32(&a, &out), VACCEL_OK);

	/* NULL and storage-less arrays: nothing happens */
	vaccel_arg_array_clear(NULL);
	args = a.args;
	a.args = NULL;
	vaccel_arg_array_clear(&a);
	assert_int_equal(a.count, 2);
	assert_int_equal(a.position, 1);
	a.args = args;

	vaccel_arg_array_clear(&a);
	assert_ptr_equal(a.args, args);
	assert_int_equal(a.count, 0);
	assert_int_equal(a.position, 0);
	assert_int_equal(a.capacity, 4);
	check_arg(&a.args[0], NULL, 0, VACCEL_ARG_MAX, 0, false);
	check_arg(&a.args[1], NULL, 0, VACCEL_ARG_MAX, 0, false);
	assert_int_equal(x, 1);
	assert_int_equal(vaccel_arg_array_add_int32(&a, &x), VACCEL_OK);
	assert_int_equal(vaccel_arg_array_count(&a), 1);
	assert_int_equal(vaccel_arg_array_release(&a), VACCEL_OK);
}

/* Adding past the capacity grows the array and keeps every argument. */
static void test_vaccel_arg_array_grows(void **state)
{
	struct vaccel_arg_array a;
	int32_t v[40];

	(void)state;
	assert_int_equal(vaccel_arg_array_init(&a, 1), VACCEL_OK);
	for (int i = 0; i < 40; i++) {
		v[i] = i * 3;
		assert_int_equal(vaccel_arg_array_add_int32(&a, &v[i]), VACCEL_OK);
		assert_true(a.capacity >= a.count);
	}
	assert_int_equal(vaccel_arg_array_count(&a), 40);
	assert_true(a.capacity >= 40);
	for (int i = 0; i < 40; i++) {
		int32_t out;

		check_arg(&a.args[i], &v[i], sizeof(v[i]), VACCEL_ARG_INT32, 0, false);
		assert_int_equal(vaccel_arg_array_get_int32(&a, &out), VACCEL_OK);
		assert_int_equal(out, i * 3);
	}
	assert_int_equal(vaccel_arg_array_release(&a), VACCEL_OK);

	/* a zeroed struct is no array of ours: it does not grow */
	a = (struct vaccel_arg_array){ 0 };
	assert_int_equal(vaccel_arg_array_add_int32(&a, &v[0]), VACCEL_ERANGE);
}

/* count, raw, position, set/reset_position, remaining_count and
 * get_remaining, with NULL arrays answered by 0/NULL/EINVAL. */
static void test_vaccel_arg_array_position(void **state)
{
	struct vaccel_arg_array a;
	struct vaccel_arg *rest = NULL;
	size_t n = 99;
	int32_t v[6] = { 0, 1, 2, 3, 4, 5 }, out;

	(void)state;
	assert_int_equal(vaccel_arg_array_init(&a, 2), VACCEL_OK);
	for (int i = 0; i < 6; i++)
		assert_int_equal(vaccel_arg_array_add_int32(&a, &v[i]), VACCEL_OK);
	assert_int_equal(vaccel_arg_array_count(&a), 6);
	assert_int_equal(vaccel_arg_array_count(NULL), 0);
	assert_ptr_equal(vaccel_arg_array_raw(&a), a.args);
	assert_null(vaccel_arg_array_raw(NULL));
	assert_int_equal(vaccel_arg_array_position(&a), 0);
	assert_int_equal(vaccel_arg_array_position(NULL), 0);
	assert_int_equal(vaccel_arg_array_remaining_count(&a), 6);
	assert_int_equal(vaccel_arg_array_remaining_count(NULL), 0);

	vaccel_arg_array_set_position(&a, 4);
	assert_int_equal(vaccel_arg_array_position(&a), 4);
	assert_int_equal(vaccel_arg_array_remaining_count(&a), 2);
	assert_int_equal(vaccel_arg_array_get_int32(&a, &out), VACCEL_OK);
	assert_int_equal(out, 4);
	assert_int_equal(vaccel_arg_array_get_remaining(&a, &rest, &n), VACCEL_OK);
	assert_int_equal(n, 1);
	assert_ptr_equal(rest, &a.args[5]);
	assert_int_equal(vaccel_arg_array_position(&a), 5);

	/* clamped to the count */
	vaccel_arg_array_set_position(&a, 100);
	assert_int_equal(vaccel_arg_array_position(&a), 6);
	assert_int_equal(vaccel_arg_array_remaining_count(&a), 0);
	assert_int_equal(vaccel_arg_array_get_remaining(&a, &rest, &n), VACCEL_OK);
	assert_int_equal(n, 0);
	assert_null(rest);
	assert_int_equal(vaccel_arg_array_get_int32(&a, &out), VACCEL_ERANGE);
	vaccel_arg_array_set_position(NULL, 1);

	vaccel_arg_array_reset_position(&a);
	assert_int_equal(vaccel_arg_array_position(&a), 0);
	vaccel_arg_array_reset_position(NULL);
	assert_int_equal(vaccel_arg_array_get_remaining(&a, &rest, &n), VACCEL_OK);
	assert_int_equal(n, 6);
	assert_ptr_equal(rest, a.args);

	assert_int_equal(vaccel_arg_array_get_remaining(NULL, &rest, &n), VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_get_remaining(&a, NULL, &n), VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_get_remaining(&a, &rest, NULL), VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_release(&a), VACCEL_OK);
}

/* ---- typed arguments ---- */

/* raw: any bytes (or none), borrowed; set_raw fits them in place. */
static void test_vaccel_arg_array_raw(void **state)
{
	struct vaccel_arg_array a;
	int32_t v = 1, w = 2;
	char big[8] = { 0 };
	void *buf;
	size_t size;

	(void)state;
	assert_int_equal(vaccel_arg_array_init(&a, 1), VACCEL_OK);
	assert_int_equal(vaccel_arg_array_add_raw(&a, &v, sizeof(v)), VACCEL_OK);
	check_arg(&a.args[0], &v, sizeof(v), VACCEL_ARG_RAW, 0, false);
	assert_int_equal(vaccel_arg_array_add_raw(&a, NULL, 0), VACCEL_OK);
	check_arg(&a.args[1], NULL, 0, VACCEL_ARG_RAW, 0, false);
	assert_int_equal(vaccel_arg_array_add_raw(NULL, &v, sizeof(v)), VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_add_raw(&a, NULL, sizeof(v)), VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_add_raw(&a, &v, 0), VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_count(&a), 2);

	assert_int_equal(vaccel_arg_array_get_raw(NULL, &buf, &size), VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_get_raw(&a, NULL, &size), VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_get_raw(&a, &buf, NULL), VACCEL_EINVAL);
	assert_int_equal(a.position, 0);
	assert_int_equal(vaccel_arg_array_get_raw(&a, &buf, &size), VACCEL_OK);
	assert_ptr_equal(buf, &v);
	assert_int_equal(size, sizeof(v));
	assert_int_equal(vaccel_arg_array_get_raw(&a, &buf, &size), VACCEL_OK);
	assert_null(buf);
	assert_int_equal(size, 0);
	assert_int_equal(vaccel_arg_array_get_raw(&a, &buf, &size), VACCEL_ERANGE);
	assert_int_equal(a.position, 2);

	vaccel_arg_array_reset_position(&a);
	assert_int_equal(vaccel_arg_array_set_raw(NULL, &w, sizeof(w)), VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_set_raw(&a, big, sizeof(big)), VACCEL_EINVAL);
	/* no bytes for an argument that has some */
	assert_int_equal(vaccel_arg_array_set_raw(&a, NULL, sizeof(w)), VACCEL_EINVAL);
	assert_int_equal(a.position, 0);
	assert_int_equal(vaccel_arg_array_set_raw(&a, &w, sizeof(w)), VACCEL_OK);
	assert_int_equal(v, 2);
	/* an empty one takes no bytes */
	assert_int_equal(vaccel_arg_array_set_raw(&a, &w, sizeof(w)), VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_set_raw(&a, NULL, 0), VACCEL_OK);
	assert_int_equal(vaccel_arg_array_set_raw(&a, &w, sizeof(w)), VACCEL_ERANGE);

	/* another type at the position */
	assert_int_equal(vaccel_arg_array_add_int32(&a, &v), VACCEL_OK);
	assert_int_equal(vaccel_arg_array_get_raw(&a, &buf, &size), VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_set_raw(&a, &w, sizeof(w)), VACCEL_EINVAL);
	assert_int_equal(a.position, 2);
	assert_int_equal(vaccel_arg_array_release(&a), VACCEL_OK);
}

/* strings: borrowed with their NUL; get checks the NUL, set the room. */
static void test_vaccel_arg_array_string(void **state)
{
	struct vaccel_arg_array a;
	char s[] = "hello", longer[] = "hello!", shorter[] = "hi";
	char c = 'x', *out = NULL;
	void *keep;

	(void)state;
	assert_int_equal(vaccel_arg_array_init(&a, 1), VACCEL_OK);
	assert_int_equal(vaccel_arg_array_add_string(&a, s), VACCEL_OK);
	check_arg(&a.args[0], s, sizeof(s), VACCEL_ARG_STRING, 0, false);
	assert_int_equal(vaccel_arg_array_add_string(NULL, s), VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_add_string(&a, NULL), VACCEL_EINVAL);

	assert_int_equal(vaccel_arg_array_get_string(NULL, &out), VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_get_string(&a, NULL), VACCEL_EINVAL);
	/* not NUL-terminated within its size */
	a.args[0].size = 3;
	assert_int_equal(vaccel_arg_array_get_string(&a, &out), VACCEL_EINVAL);
	a.args[0].size = sizeof(s);
	keep = a.args[0].buf;
	a.args[0].buf = NULL;
	assert_int_equal(vaccel_arg_array_get_string(&a, &out), VACCEL_EINVAL);
	a.args[0].buf = keep;
	assert_int_equal(a.position, 0);
	assert_int_equal(vaccel_arg_array_get_string(&a, &out), VACCEL_OK);
	assert_ptr_equal(out, s);
	assert_int_equal(vaccel_arg_array_get_string(&a, &out), VACCEL_ERANGE);

	vaccel_arg_array_reset_position(&a);
	assert_int_equal(vaccel_arg_array_set_string(NULL, shorter), VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_set_string(&a, NULL), VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_set_string(&a, longer), VACCEL_EINVAL);
	assert_int_equal(a.position, 0);
	assert_int_equal(vaccel_arg_array_set_string(&a, shorter), VACCEL_OK);
	assert_string_equal(s, "hi");
	/* the rest of the buffer is zeroed */
	assert_int_equal(s[4], '\0');
	assert_int_equal(a.position, 1);
	assert_int_equal(vaccel_arg_array_set_string(&a, shorter), VACCEL_ERANGE);

	assert_int_equal(vaccel_arg_array_add_char(&a, &c), VACCEL_OK);
	assert_int_equal(vaccel_arg_array_get_string(&a, &out), VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_set_string(&a, shorter), VACCEL_EINVAL);
	assert_int_equal(a.position, 1);
	assert_int_equal(vaccel_arg_array_release(&a), VACCEL_OK);
}

/* buffers: non-empty bytes, borrowed; set writes at most their size. */
static void test_vaccel_arg_array_buffer(void **state)
{
	struct vaccel_arg_array a;
	unsigned char b[4] = { 1, 2, 3, 4 }, w[2] = { 9, 8 }, big[5] = { 0 };
	int32_t x = 0;
	void *out;
	size_t size;

	(void)state;
	assert_int_equal(vaccel_arg_array_init(&a, 1), VACCEL_OK);
	assert_int_equal(vaccel_arg_array_add_buffer(&a, b, sizeof(b)), VACCEL_OK);
	check_arg(&a.args[0], b, sizeof(b), VACCEL_ARG_BUFFER, 0, false);
	assert_int_equal(vaccel_arg_array_add_buffer(NULL, b, sizeof(b)), VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_add_buffer(&a, NULL, sizeof(b)), VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_add_buffer(&a, b, 0), VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_count(&a), 1);

	assert_int_equal(vaccel_arg_array_get_buffer(NULL, &out, &size), VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_get_buffer(&a, NULL, &size), VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_get_buffer(&a, &out, NULL), VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_get_buffer(&a, &out, &size), VACCEL_OK);
	assert_ptr_equal(out, b);
	assert_int_equal(size, sizeof(b));
	assert_int_equal(vaccel_arg_array_get_buffer(&a, &out, &size), VACCEL_ERANGE);

	vaccel_arg_array_reset_position(&a);
	assert_int_equal(vaccel_arg_array_set_buffer(NULL, w, sizeof(w)), VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_set_buffer(&a, NULL, sizeof(w)), VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_set_buffer(&a, w, 0), VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_set_buffer(&a, big, sizeof(big)), VACCEL_EINVAL);
	assert_int_equal(a.position, 0);
	assert_int_equal(vaccel_arg_array_set_buffer(&a, w, sizeof(w)), VACCEL_OK);
	assert_int_equal(b[0], 9);
	assert_int_equal(b[1], 8);
	assert_int_equal(b[2], 3);
	assert_int_equal(vaccel_arg_array_set_buffer(&a, w, sizeof(w)), VACCEL_ERANGE);

	/* a buffer is not a raw argument, nor the other way round */
	assert_int_equal(vaccel_arg_array_add_raw(&a, &x, sizeof(x)), VACCEL_OK);
	assert_int_equal(vaccel_arg_array_get_buffer(&a, &out, &size), VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_set_buffer(&a, w, sizeof(w)), VACCEL_EINVAL);
	assert_int_equal(a.position, 1);
	assert_int_equal(vaccel_arg_array_release(&a), VACCEL_OK);
}

/* custom: the validator decides at add, get and set; the id must match. */
static void test_vaccel_arg_array_custom_validator(void **state)
{
	struct vaccel_arg_array a;
	struct range r = { 1, 5 }, bad = { 9, 2 }, w = { 2, 3 };
	int32_t x = 0;
	void *out;
	size_t size = 0;

	(void)state;
	assert_int_equal(vaccel_arg_array_init(&a, 1), VACCEL_OK);
	assert_int_equal(vaccel_arg_array_add_custom(&a, RANGE_ID, &r, sizeof(r),
						     range_valid), VACCEL_OK);
	check_arg(&a.args[0], &r, sizeof(r), VACCEL_ARG_CUSTOM, RANGE_ID, false);
	/* the validator rejects: a value, a size, an id */
	assert_int_equal(vaccel_arg_array_add_custom(&a, RANGE_ID, &bad, sizeof(bad),
						     range_valid), VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_add_custom(&a, RANGE_ID, &r, 4, range_valid),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_add_custom(&a, 1, &r, sizeof(r), range_valid),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_add_custom(NULL, RANGE_ID, &r, sizeof(r),
						     range_valid), VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_add_custom(&a, RANGE_ID, &r, sizeof(r), NULL),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_count(&a), 1);

	assert_int_equal(vaccel_arg_array_get_custom(NULL, RANGE_ID, &out, &size,
						     range_valid), VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_get_custom(&a, RANGE_ID, NULL, &size,
						     range_valid), VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_get_custom(&a, RANGE_ID, &out, &size, NULL),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_get_custom(&a, RANGE_ID + 1, &out, &size,
						     range_valid), VACCEL_EINVAL);
	/* the bytes went bad after adding: get's validator rejects them */
	r.lo = 10;
	assert_int_equal(vaccel_arg_array_get_custom(&a, RANGE_ID, &out, &size,
						     range_valid), VACCEL_EINVAL);
	r.lo = 1;
	assert_int_equal(a.position, 0);
	assert_int_equal(vaccel_arg_array_get_custom(&a, RANGE_ID, &out, &size,
						     range_valid), VACCEL_OK);
	assert_ptr_equal(out, &r);
	assert_int_equal(size, sizeof(r));
	assert_int_equal(vaccel_arg_array_get_custom(&a, RANGE_ID, &out, NULL,
						     range_valid), VACCEL_ERANGE);
	vaccel_arg_array_reset_position(&a);
	/* size is optional */
	assert_int_equal(vaccel_arg_array_get_custom(&a, RANGE_ID, &out, NULL,
						     range_valid), VACCEL_OK);

	vaccel_arg_array_reset_position(&a);
	assert_int_equal(vaccel_arg_array_set_custom(NULL, RANGE_ID, &w, sizeof(w),
						     range_valid), VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_set_custom(&a, RANGE_ID, &w, sizeof(w), NULL),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_set_custom(&a, 0, &w, sizeof(w), range_valid),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_set_custom(&a, RANGE_ID, &w, sizeof(w) - 1,
						     range_valid), VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_set_custom(&a, RANGE_ID, &bad, sizeof(bad),
						     range_valid), VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_set_custom(&a, RANGE_ID, NULL, sizeof(w),
						     range_valid), VACCEL_EINVAL);
	assert_int_equal(r.lo, 1);
	assert_int_equal(a.position, 0);
	assert_int_equal(vaccel_arg_array_set_custom(&a, RANGE_ID, &w, sizeof(w),
						     range_valid), VACCEL_OK);
	assert_int_equal(r.lo, 2);
	assert_int_equal(r.hi, 3);
	assert_int_equal(vaccel_arg_array_set_custom(&a, RANGE_ID, &w, sizeof(w),
						     range_valid), VACCEL_ERANGE);

	/* raw bytes are no custom argument */
	assert_int_equal(vaccel_arg_array_add_raw(&a, &x, sizeof(x)), VACCEL_OK);
	assert_int_equal(vaccel_arg_array_get_custom(&a, 0, &out, &size, range_valid),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_set_custom(&a, 0, &w, sizeof(w), range_valid),
			 VACCEL_EINVAL);
	assert_int_equal(a.position, 1);
	assert_int_equal(vaccel_arg_array_release(&a), VACCEL_OK);
}

/* A custom struct round trips through add/get/set_serialized; the array
 * owns the serialized bytes. */
static void test_vaccel_arg_array_serialized_roundtrip(void **state)
{
	struct vaccel_arg_array a;
	uint32_t in_vals[5] = { 2, 4, 6, 8, 10 }, set_vals[5] = { 1, 3, 5, 7, 9 };
	uint32_t wrong_vals[3] = { 1, 2, 3 };
	struct vec in = { 5, in_vals }, set = { 5, set_vals }, wrong = { 3, wrong_vals };
	struct vec out = { 0, NULL };

	(void)state;
	assert_int_equal(vaccel_arg_array_init(&a, 1), VACCEL_OK);
	assert_int_equal(vaccel_arg_array_add_serialized(&a, VACCEL_ARG_CUSTOM, VEC_ID,
							 &in, sizeof(in),
							 vec_serialize), VACCEL_OK);
	assert_int_equal(a.count, 1);
	assert_non_null(a.args[0].buf);
	assert_int_equal(a.args[0].size, 6 * sizeof(uint32_t));
	assert_int_equal(a.args[0].type, VACCEL_ARG_CUSTOM);
	assert_int_equal(a.args[0].custom_type_id, VEC_ID);
	assert_true(a.args[0].owned);
	/* the bytes are a copy: changing the source changes nothing */
	in_vals[0] = 100;

	assert_int_equal(vaccel_arg_array_get_serialized(NULL, VACCEL_ARG_CUSTOM,
							 VEC_ID, &out, sizeof(out),
							 vec_deserialize), VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_get_serialized(&a, VACCEL_ARG_CUSTOM, VEC_ID,
							 NULL, sizeof(out),
							 vec_deserialize), VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_get_serialized(&a, VACCEL_ARG_CUSTOM, VEC_ID,
							 &out, sizeof(out), NULL),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_get_serialized(&a, VACCEL_ARG_CUSTOM, 0,
							 &out, sizeof(out),
							 vec_deserialize), VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_get_serialized(&a, VACCEL_ARG_RAW, VEC_ID,
							 &out, sizeof(out),
							 vec_deserialize), VACCEL_EINVAL);
	/* the deserializer's own refusal, returned as is */
	assert_int_equal(vaccel_arg_array_get_serialized(&a, VACCEL_ARG_CUSTOM, VEC_ID,
							 &out, 0, vec_deserialize),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_get_serialized(&a, VACCEL_ARG_CUSTOM, VEC_ID,
							 &out, sizeof(out),
							 failing_deserialize),
			 VACCEL_EBACKEND);
	assert_int_equal(a.position, 0);
	assert_int_equal(vaccel_arg_array_get_serialized(&a, VACCEL_ARG_CUSTOM, VEC_ID,
							 &out, sizeof(out),
							 vec_deserialize), VACCEL_OK);
	assert_int_equal(a.position, 1);
	assert_int_equal(out.count, 5);
	assert_int_equal(out.values[0], 2);
	assert_int_equal(out.values[4], 10);
	free(out.values);
	out.values = NULL;
	assert_int_equal(vaccel_arg_array_get_serialized(&a, VACCEL_ARG_CUSTOM, VEC_ID,
							 &out, sizeof(out),
							 vec_deserialize), VACCEL_ERANGE);

	/* set: same size only, into the array's own bytes */
	vaccel_arg_array_reset_position(&a);
	assert_int_equal(vaccel_arg_array_set_serialized(NULL, VACCEL_ARG_CUSTOM,
							 VEC_ID, &set, sizeof(set),
							 vec_serialize), VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_set_serialized(&a, VACCEL_ARG_CUSTOM, VEC_ID,
							 NULL, sizeof(set),
							 vec_serialize), VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_set_serialized(&a, VACCEL_ARG_CUSTOM, VEC_ID,
							 &set, sizeof(set), NULL),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_set_serialized(&a, VACCEL_ARG_CUSTOM, 0,
							 &set, sizeof(set),
							 vec_serialize), VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_set_serialized(&a, VACCEL_ARG_CUSTOM, VEC_ID,
							 &wrong, sizeof(wrong),
							 vec_serialize), VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_set_serialized(&a, VACCEL_ARG_CUSTOM, VEC_ID,
							 &set, 0, vec_serialize),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_set_serialized(&a, VACCEL_ARG_CUSTOM, VEC_ID,
							 &set, sizeof(set),
							 failing_serialize),
			 VACCEL_EBACKEND);
	assert_int_equal(a.position, 0);
	assert_int_equal(vaccel_arg_array_set_serialized(&a, VACCEL_ARG_CUSTOM, VEC_ID,
							 &set, sizeof(set),
							 vec_serialize), VACCEL_OK);
	assert_int_equal(a.position, 1);
	vaccel_arg_array_reset_position(&a);
	assert_int_equal(vaccel_arg_array_get_serialized(&a, VACCEL_ARG_CUSTOM, VEC_ID,
							 &out, sizeof(out),
							 vec_deserialize), VACCEL_OK);
	assert_int_equal(out.count, 5);
	for (int i = 0; i < 5; i++)
		assert_int_equal(out.values[i], set_vals[i]);
	free(out.values);
	assert_int_equal(vaccel_arg_array_set_serialized(&a, VACCEL_ARG_CUSTOM, VEC_ID,
							 &set, sizeof(set),
							 vec_serialize), VACCEL_ERANGE);

	/* add: refused inputs leave the array as it was */
	assert_int_equal(vaccel_arg_array_add_serialized(NULL, VACCEL_ARG_CUSTOM,
							 VEC_ID, &in, sizeof(in),
							 vec_serialize), VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_add_serialized(&a, VACCEL_ARG_CUSTOM, VEC_ID,
							 &in, sizeof(in), NULL),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_add_serialized(&a, VACCEL_ARG_CUSTOM, VEC_ID,
							 NULL, sizeof(in),
							 vec_serialize), VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_add_serialized(&a, VACCEL_ARG_CUSTOM, VEC_ID,
							 &in, sizeof(in),
							 failing_serialize),
			 VACCEL_EBACKEND);
	assert_int_equal(a.count, 1);
	assert_int_equal(vaccel_arg_array_release(&a), VACCEL_OK);
}

/* A built-in type through a serializer: its bytes are checked against
 * the type, and the (de)serializer is told custom id 0. */
static void test_vaccel_arg_array_serialized_builtin(void **state)
{
	struct vaccel_arg_array a;
	int in = -12, out = 0, set = 77;
	int32_t direct;

	(void)state;
	assert_int_equal(vaccel_arg_array_init(&a, 1), VACCEL_OK);
	last_ser_id = 99;
	assert_int_equal(vaccel_arg_array_add_serialized(&a, VACCEL_ARG_INT32, 0, &in,
							 sizeof(in), i32_serialize),
			 VACCEL_OK);
	assert_int_equal(last_ser_id, 0);
	assert_int_equal(a.args[0].type, VACCEL_ARG_INT32);
	assert_true(a.args[0].owned);
	/* the typed getter reads it as well */
	assert_int_equal(vaccel_arg_array_get_int32(&a, &direct), VACCEL_OK);
	assert_int_equal(direct, -12);
	vaccel_arg_array_reset_position(&a);
	last_ser_id = 99;
	assert_int_equal(vaccel_arg_array_get_serialized(&a, VACCEL_ARG_INT32, 5, &out,
							 sizeof(out), i32_deserialize),
			 VACCEL_OK);
	assert_int_equal(last_ser_id, 0);
	assert_int_equal(out, -12);
	vaccel_arg_array_reset_position(&a);
	assert_int_equal(vaccel_arg_array_get_serialized(&a, VACCEL_ARG_UINT32, 0, &out,
							 sizeof(out), i32_deserialize),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_set_serialized(&a, VACCEL_ARG_INT32, 0, &set,
							 sizeof(set), i32_serialize),
			 VACCEL_OK);
	assert_int_equal(*(int32_t *)a.args[0].buf, 77);
	vaccel_arg_array_reset_position(&a);
	/* 3 bytes are no INT32: refused and freed (ASan watches) */
	assert_int_equal(vaccel_arg_array_set_serialized(&a, VACCEL_ARG_INT32, 0, &set,
							 sizeof(set), short_serialize),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_add_serialized(&a, VACCEL_ARG_INT32, 0, &in,
							 sizeof(in), short_serialize),
			 VACCEL_EINVAL);
	/* an unknown type is refused too */
	assert_int_equal(vaccel_arg_array_add_serialized(&a, VACCEL_ARG_MAX, 0, &in,
							 sizeof(in), i32_serialize),
			 VACCEL_EINVAL);
	assert_int_equal(a.count, 1);
	assert_int_equal(vaccel_arg_array_release(&a), VACCEL_OK);
}

/* add_range/add_all/add_remaining: borrowed (not owned) or copied (owned,
 * independent of the source), types and ids kept, all or nothing. */
static void test_vaccel_arg_array_add_range_copy(void **state)
{
	struct vaccel_arg_array src, dst, fixed;
	struct vaccel_arg one[1];
	struct range r = { 0, 1 };
	int32_t v[4] = { 10, 11, 12, 13 }, out;

	(void)state;
	assert_int_equal(vaccel_arg_array_init(&src, 8), VACCEL_OK);
	for (int i = 0; i < 3; i++)
		assert_int_equal(vaccel_arg_array_add_int32(&src, &v[i]), VACCEL_OK);
	assert_int_equal(vaccel_arg_array_add_custom(&src, RANGE_ID, &r, sizeof(r),
						     range_valid), VACCEL_OK);

	/* borrow a range: the same buffers, not owned; growing from 1 */
	assert_int_equal(vaccel_arg_array_init(&dst, 1), VACCEL_OK);
	assert_int_equal(vaccel_arg_array_add_range(&dst, &src, 1, 3, false), VACCEL_OK);
	assert_int_equal(dst.count, 3);
	check_arg(&dst.args[0], &v[1], sizeof(int32_t), VACCEL_ARG_INT32, 0, false);
	check_arg(&dst.args[1], &v[2], sizeof(int32_t), VACCEL_ARG_INT32, 0, false);
	check_arg(&dst.args[2], &r, sizeof(r), VACCEL_ARG_CUSTOM, RANGE_ID, false);
	assert_int_equal(vaccel_arg_array_release(&dst), VACCEL_OK);

	/* copy everything: owned buffers of the same bytes */
	assert_int_equal(vaccel_arg_array_init(&dst, 2), VACCEL_OK);
	assert_int_equal(vaccel_arg_array_add_all(&dst, &src, true), VACCEL_OK);
	assert_int_equal(dst.count, 4);
	for (size_t i = 0; i < 4; i++) {
		assert_ptr_not_equal(dst.args[i].buf, src.args[i].buf);
		assert_memory_equal(dst.args[i].buf, src.args[i].buf, src.args[i].size);
		assert_int_equal(dst.args[i].size, src.args[i].size);
		assert_int_equal(dst.args[i].type, src.args[i].type);
		assert_int_equal(dst.args[i].custom_type_id, src.args[i].custom_type_id);
		assert_true(dst.args[i].owned);
	}
	v[0] = -1;
	assert_int_equal(vaccel_arg_array_get_int32(&dst, &out), VACCEL_OK);
	assert_int_equal(out, 10);
	v[0] = 10;
	/* borrowing all again appends, not owned */
	assert_int_equal(vaccel_arg_array_add_all(&dst, &src, false), VACCEL_OK);
	assert_int_equal(dst.count, 8);
	assert_ptr_equal(dst.args[4].buf, &v[0]);
	assert_false(dst.args[4].owned);
	assert_int_equal(vaccel_arg_array_release(&dst), VACCEL_OK);

	/* add_remaining takes from the source's position */
	assert_int_equal(vaccel_arg_array_get_int32(&src, &out), VACCEL_OK);
	assert_int_equal(vaccel_arg_array_get_int32(&src, &out), VACCEL_OK);
	assert_int_equal(vaccel_arg_array_init(&dst, 0), VACCEL_OK);
	assert_int_equal(vaccel_arg_array_add_remaining(&dst, &src, false), VACCEL_OK);
	assert_int_equal(dst.count, 2);
	check_arg(&dst.args[0], &v[2], sizeof(int32_t), VACCEL_ARG_INT32, 0, false);
	assert_int_equal(vaccel_arg_array_add_remaining(&dst, &src, true), VACCEL_OK);
	assert_int_equal(dst.count, 4);
	assert_true(dst.args[2].owned);
	assert_int_equal(*(int32_t *)dst.args[2].buf, 12);
	assert_int_equal(dst.args[3].custom_type_id, RANGE_ID);
	/* nothing remaining, nothing in src: no change */
	vaccel_arg_array_set_position(&src, 4);
	assert_int_equal(vaccel_arg_array_add_remaining(&dst, &src, true), VACCEL_OK);
	assert_int_equal(dst.count, 4);
	vaccel_arg_array_reset_position(&src);

	/* out of src's range; a zero count inside it is fine */
	assert_int_equal(vaccel_arg_array_add_range(&dst, &src, 4, 0, false),
			 VACCEL_ERANGE);
	assert_int_equal(vaccel_arg_array_add_range(&dst, &src, 1, 4, false),
			 VACCEL_ERANGE);
	assert_int_equal(vaccel_arg_array_add_range(&dst, &src, 1, SIZE_MAX, true),
			 VACCEL_ERANGE);
	assert_int_equal(vaccel_arg_array_add_range(&dst, &src, 2, 0, true), VACCEL_OK);
	assert_int_equal(dst.count, 4);
	assert_int_equal(vaccel_arg_array_add_range(NULL, &src, 0, 1, false),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_add_range(&dst, NULL, 0, 1, false),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_add_all(NULL, &src, false), VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_add_all(&dst, NULL, false), VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_add_remaining(NULL, &src, false),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_add_remaining(&dst, NULL, false),
			 VACCEL_EINVAL);

	/* an array into itself, growing meanwhile */
	assert_int_equal(vaccel_arg_array_add_all(&dst, &dst, true), VACCEL_OK);
	assert_int_equal(dst.count, 8);
	assert_int_equal(*(int32_t *)dst.args[6].buf, 12);
	assert_true(dst.args[6].owned);
	assert_int_equal(vaccel_arg_array_release(&dst), VACCEL_OK);

	/* a wrapped destination without room takes nothing */
	assert_int_equal(vaccel_arg_init_from_buf(&one[0], &v[3], sizeof(v[3]),
						  VACCEL_ARG_INT32, 0), VACCEL_OK);
	assert_int_equal(vaccel_arg_array_wrap(&fixed, one, 1), VACCEL_OK);
	assert_int_equal(vaccel_arg_array_add_range(&fixed, &src, 0, 2, true),
			 VACCEL_ERANGE);
	assert_int_equal(fixed.count, 1);
	/* an empty source adds nothing, even to a full array */
	assert_int_equal(vaccel_arg_array_init(&dst, 1), VACCEL_OK);
	assert_int_equal(vaccel_arg_array_add_all(&fixed, &dst, true), VACCEL_OK);
	assert_int_equal(vaccel_arg_array_release(&dst), VACCEL_OK);
	assert_int_equal(vaccel_arg_array_release(&fixed), VACCEL_OK);
	assert_int_equal(vaccel_arg_array_release(&src), VACCEL_OK);
}

/* Each numeric type: add borrows with the right type, get reads only that
 * type and shape and advances, set writes into the caller's storage. */
#define TEST_NUMERIC(TN, CT, AT, ART)                                          \
	static void test_vaccel_arg_array_numeric_##TN(void **state)          \
	{                                                                      \
		struct vaccel_arg_array a;                                     \
		CT v = (CT)1, out = (CT)0, w = (CT)0, *p = NULL;               \
		CT vals[4] = { (CT)1, (CT)0, (CT)1, (CT)1 };                   \
		CT zeros[5] = { (CT)0 };                                       \
		size_t n = 0;                                                  \
		void *keep;                                                    \
                                                                               \
		(void)state;                                                   \
		assert_int_equal(vaccel_arg_array_init(&a, 1), VACCEL_OK);     \
		assert_int_equal(vaccel_arg_array_add_##TN(NULL, &v),          \
				 VACCEL_EINVAL);                               \
		assert_int_equal(vaccel_arg_array_add_##TN(&a, NULL),          \
				 VACCEL_EINVAL);                               \
		assert_int_equal(vaccel_arg_array_add_##TN(&a, &v), VACCEL_OK);\
		check_arg(&a.args[0], &v, sizeof(CT), AT, 0, false);           \
		assert_int_equal(vaccel_arg_array_add_##TN##_array(NULL, vals, \
								   4),         \
				 VACCEL_EINVAL);                               \
		assert_int_equal(vaccel_arg_array_add_##TN##_array(&a, NULL,   \
								   4),         \
				 VACCEL_EINVAL);                               \
		assert_int_equal(vaccel_arg_array_add_##TN##_array(&a, vals,   \
								   0),         \
				 VACCEL_EINVAL);                               \
		/* a byte count that overflows (none for 1-byte types) */     \
		if (sizeof(CT) > 1)                                            \
			assert_int_equal(vaccel_arg_array_add_##TN##_array(    \
						 &a, vals,                     \
						 SIZE_MAX / sizeof(CT) + 1),   \
					 VACCEL_EINVAL);                       \
		assert_int_equal(a.count, 1);                                  \
		assert_int_equal(vaccel_arg_array_add_##TN##_array(&a, vals,   \
								   4),         \
				 VACCEL_OK);                                   \
		check_arg(&a.args[1], vals, sizeof(vals), ART, 0, false);      \
		assert_true(a.capacity >= 2);                                  \
                                                                               \
		assert_int_equal(vaccel_arg_array_get_##TN(NULL, &out),        \
				 VACCEL_EINVAL);                               \
		assert_int_equal(vaccel_arg_array_get_##TN(&a, NULL),          \
				 VACCEL_EINVAL);                               \
		assert_int_equal(vaccel_arg_array_get_##TN##_array(&a, &p,     \
								   &n),        \
				 VACCEL_EINVAL);                               \
		assert_int_equal(a.position, 0);                               \
		assert_int_equal(vaccel_arg_array_get_##TN(&a, &out),          \
				 VACCEL_OK);                                   \
		assert_true(out == v);                                         \
		assert_int_equal(a.position, 1);                               \
		assert_int_equal(vaccel_arg_array_get_##TN(&a, &out),          \
				 VACCEL_EINVAL);                               \
		assert_int_equal(vaccel_arg_array_get_##TN##_array(NULL, &p,   \
								   &n),        \
				 VACCEL_EINVAL);                               \
		assert_int_equal(vaccel_arg_array_get_##TN##_array(&a, NULL,   \
								   &n),        \
				 VACCEL_EINVAL);                               \
		assert_int_equal(a.position, 1);                               \
		assert_int_equal(vaccel_arg_array_get_##TN##_array(&a, &p,     \
								   &n),        \
				 VACCEL_OK);                                   \
		assert_ptr_equal(p, vals);                                     \
		assert_int_equal(n, 4);                                        \
		assert_int_equal(vaccel_arg_array_get_##TN(&a, &out),          \
				 VACCEL_ERANGE);                               \
		assert_int_equal(vaccel_arg_array_get_##TN##_array(&a, &p,     \
								   &n),        \
				 VACCEL_ERANGE);                               \
		assert_int_equal(a.position, 2);                               \
		/* the count is optional */                                    \
		vaccel_arg_array_set_position(&a, 1);                          \
		assert_int_equal(vaccel_arg_array_get_##TN##_array(&a, &p,     \
								   NULL),      \
				 VACCEL_OK);                                   \
                                                                               \
		/* the wrong size or no bytes: not a value of the type */      \
		vaccel_arg_array_reset_position(&a);                           \
		a.args[0].size = sizeof(CT) + 1;                               \
		assert_int_equal(vaccel_arg_array_get_##TN(&a, &out),          \
				 VACCEL_EINVAL);                               \
		a.args[0].size = sizeof(CT);                                   \
		keep = a.args[0].buf;                                          \
		a.args[0].buf = NULL;                                          \
		assert_int_equal(vaccel_arg_array_get_##TN(&a, &out),          \
				 VACCEL_EINVAL);                               \
		a.args[0].buf = keep;                                          \
		vaccel_arg_array_set_position(&a, 1);                          \
		a.args[1].size = 0;                                            \
		assert_int_equal(vaccel_arg_array_get_##TN##_array(&a, &p,     \
								   &n),        \
				 VACCEL_EINVAL);                               \
		if (sizeof(CT) > 1) {                                          \
			a.args[1].size = sizeof(vals) - 1;                     \
			assert_int_equal(vaccel_arg_array_get_##TN##_array(    \
						 &a, &p, &n),                  \
					 VACCEL_EINVAL);                       \
		}                                                              \
		a.args[1].size = sizeof(vals);                                 \
		assert_int_equal(a.position, 1);                               \
                                                                               \
		/* set: into the caller's storage the arguments borrow */      \
		vaccel_arg_array_reset_position(&a);                           \
		assert_int_equal(vaccel_arg_array_set_##TN(NULL, &w),          \
				 VACCEL_EINVAL);                               \
		assert_int_equal(vaccel_arg_array_set_##TN(&a, NULL),          \
				 VACCEL_EINVAL);                               \
		assert_int_equal(vaccel_arg_array_set_##TN##_array(&a, zeros,  \
								   4),         \
				 VACCEL_EINVAL);                               \
		assert_int_equal(vaccel_arg_array_set_##TN(&a, &w), VACCEL_OK);\
		assert_true(v == (CT)0);                                       \
		assert_int_equal(a.position, 1);                               \
		assert_int_equal(vaccel_arg_array_set_##TN(&a, &w),            \
				 VACCEL_EINVAL);                               \
		assert_int_equal(vaccel_arg_array_set_##TN##_array(NULL,       \
								   zeros, 4),  \
				 VACCEL_EINVAL);                               \
		assert_int_equal(vaccel_arg_array_set_##TN##_array(&a, NULL,   \
								   4),         \
				 VACCEL_EINVAL);                               \
		assert_int_equal(vaccel_arg_array_set_##TN##_array(&a, zeros,  \
								   5),         \
				 VACCEL_EINVAL);                               \
		assert_int_equal(vaccel_arg_array_set_##TN##_array(            \
					 &a, zeros, SIZE_MAX / 2 + 1),         \
				 VACCEL_EINVAL);                               \
		assert_true(vals[0] == (CT)1);                                 \
		assert_int_equal(a.position, 1);                               \
		assert_int_equal(vaccel_arg_array_set_##TN##_array(&a, zeros,  \
								   3),         \
				 VACCEL_OK);                                   \
		assert_true(vals[0] == (CT)0 && vals[2] == (CT)0);             \
		assert_true(vals[3] == (CT)1);                                 \
		assert_int_equal(vaccel_arg_array_set_##TN(&a, &w),            \
				 VACCEL_ERANGE);                               \
		assert_int_equal(vaccel_arg_array_set_##TN##_array(&a, zeros,  \
								   4),         \
				 VACCEL_ERANGE);                               \
                                                                               \
		/* raw bytes of the same size are not of the type */           \
		assert_int_equal(vaccel_arg_array_add_raw(&a, &v, sizeof(CT)), \
				 VACCEL_OK);                                   \
		assert_int_equal(vaccel_arg_array_get_##TN(&a, &out),          \
				 VACCEL_EINVAL);                               \
		assert_int_equal(vaccel_arg_array_set_##TN(&a, &w),            \
				 VACCEL_EINVAL);                               \
		assert_int_equal(vaccel_arg_array_get_##TN##_array(&a, &p,     \
								   &n),        \
				 VACCEL_EINVAL);                               \
		assert_int_equal(vaccel_arg_array_set_##TN##_array(&a, zeros,  \
								   1),         \
				 VACCEL_EINVAL);                               \
		assert_int_equal(a.position, 2);                               \
		assert_int_equal(vaccel_arg_array_release(&a), VACCEL_OK);     \
	}

VACCEL_ARG_NUMERIC_TYPES(TEST_NUMERIC)

/* Types are told apart even where the bytes would fit: int32 is not
 * uint32 nor float, and an int32 array of one is not an int32. */
static void test_vaccel_arg_array_types_distinct(void **state)
{
	struct vaccel_arg_array a;
	int32_t v = 1;
	uint32_t u;
	float f;
	int32_t i;

	(void)state;
	assert_int_equal(vaccel_arg_array_init(&a, 2), VACCEL_OK);
	assert_int_equal(vaccel_arg_array_add_int32(&a, &v), VACCEL_OK);
	assert_int_equal(vaccel_arg_array_add_int32_array(&a, &v, 1), VACCEL_OK);
	assert_int_equal(vaccel_arg_array_get_uint32(&a, &u), VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_get_float(&a, &f), VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_set_uint32(&a, &u), VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_get_int32(&a, &i), VACCEL_OK);
	assert_int_equal(vaccel_arg_array_get_int32(&a, &i), VACCEL_EINVAL);
	assert_int_equal(a.position, 1);
	assert_int_equal(vaccel_arg_array_release(&a), VACCEL_OK);
}

/* A bool is a byte of 0 or 1: others are refused at add, get and set
 * (read as bytes, never loaded as bool). */
static void test_vaccel_arg_array_bool_bytes(void **state)
{
	struct vaccel_arg_array a;
	unsigned char two = 2, bytes[3] = { 1, 0, 1 }, bad[3] = { 0, 3, 1 };
	bool t = true, out;

	(void)state;
	assert_int_equal(vaccel_arg_array_init(&a, 1), VACCEL_OK);
	assert_int_equal(vaccel_arg_array_add_bool(&a, (bool *)(void *)&two),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_arg_array_add_bool_array(&a, (bool *)(void *)bad, 3),
			 VACCEL_EINVAL);
	assert_int_equal(a.count, 0);
	assert_int_equal(vaccel_arg_array_add_bool(&a, &t), VACCEL_OK);
	assert_int_equal(vaccel_arg_array_add_bool_array(&a, (bool *)(void *)bytes, 3),
			 VACCEL_OK);
	/* set refuses a bad value and leaves the output alone */
	assert_int_equal(vaccel_arg_array_set_bool(&a, (bool *)(void *)&two),
			 VACCEL_EINVAL);
	assert_true(t);
	vaccel_arg_array_set_position(&a, 1);
	assert_int_equal(vaccel_arg_array_set_bool_array(&a, (bool *)(void *)bad, 3),
			 VACCEL_EINVAL);
	assert_int_equal(bytes[1], 0);
	/* bytes that went bad after adding: get refuses them */
	bytes[1] = 7;
	assert_int_equal(vaccel_arg_array_get_bool_array(&a, &(bool *){ NULL }, NULL),
			 VACCEL_EINVAL);
	vaccel_arg_array_reset_position(&a);
	assert_int_equal(vaccel_arg_array_get_bool(&a, &out), VACCEL_OK);
	assert_true(out);
	assert_int_equal(vaccel_arg_array_release(&a), VACCEL_OK);
}

/* ---- the deprecated arg lists ---- */

static void *int_serializer(void *buf, uint32_t *bytes)
{
	int *copy = malloc(sizeof(int));

	if (copy) {
		*copy = *(int *)buf;
		*bytes = sizeof(int);
	}
	return copy;
}

static void *big_serializer(void *buf, uint32_t *bytes)
{
	(void)buf;
	*bytes = 64;
	return calloc(1, 64);
}

static void *empty_serializer(void *buf, uint32_t *bytes)
{
	(void)buf;
	*bytes = 0;
	return malloc(1);
}

static void *null_serializer(void *buf, uint32_t *bytes)
{
	(void)buf;
	*bytes = 4;
	return NULL;
}

static void *int_deserializer(void *buf, uint32_t size)
{
	int *v;

	if (size != sizeof(int))
		return NULL;
	v = malloc(sizeof(*v));
	if (v)
		memcpy(v, buf, sizeof(*v));
	return v;
}

/* The list fills its slots in order: serial ones borrow (RAW), nonserial
 * ones own the serializer's bytes (CUSTOM, id = type) or a zeroed output;
 * delete frees exactly those (ASan would see a leak or a bad free). */
static void test_vaccel_args_list(void **state)
{
	struct vaccel_arg_list *l;
	int in = 5, nonser = 41, out_buf = 0, w = 9, *got;

	(void)state;
	assert_null(vaccel_args_init(0));
	l = vaccel_args_init(5);
	assert_non_null(l);
	assert_int_equal(l->size, 5);
	assert_int_equal(l->curr_idx, 0);

	assert_int_equal(vaccel_add_serial_arg(l, &in, sizeof(in)), VACCEL_OK);
	check_arg(&l->list[0], &in, sizeof(in), VACCEL_ARG_RAW, 0, false);
	assert_int_equal(l->idcs_allocated_space[0], 0);
	assert_int_equal(vaccel_add_serial_arg(NULL, &in, sizeof(in)), VACCEL_EINVAL);
	assert_int_equal(vaccel_add_serial_arg(l, NULL, sizeof(in)), VACCEL_EINVAL);
	assert_int_equal(vaccel_add_serial_arg(l, &in, 0), VACCEL_EINVAL);

	assert_int_equal(vaccel_add_nonserial_arg(l, &nonser, 1234, int_serializer),
			 VACCEL_OK);
	assert_ptr_not_equal(l->list[1].buf, &nonser);
	assert_int_equal(*(int *)l->list[1].buf, 41);
	assert_int_equal(l->list[1].size, sizeof(int));
	assert_int_equal(l->list[1].type, VACCEL_ARG_CUSTOM);
	assert_int_equal(l->list[1].custom_type_id, 1234);
	assert_true(l->list[1].owned);
	assert_int_equal(l->idcs_allocated_space[1], 1);
	assert_int_equal(vaccel_add_nonserial_arg(NULL, &nonser, 1, int_serializer),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_add_nonserial_arg(l, NULL, 1, int_serializer),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_add_nonserial_arg(l, &nonser, 1, NULL), VACCEL_EINVAL);
	assert_int_equal(vaccel_add_nonserial_arg(l, &nonser, 1, null_serializer),
			 VACCEL_EINVAL);
	/* no bytes: refused, and what the serializer returned is freed */
	assert_int_equal(vaccel_add_nonserial_arg(l, &nonser, 1, empty_serializer),
			 VACCEL_EINVAL);
	assert_int_equal(l->curr_idx, 2);

	assert_int_equal(vaccel_expect_serial_arg(l, &out_buf, sizeof(out_buf)),
			 VACCEL_OK);
	check_arg(&l->list[2], &out_buf, sizeof(out_buf), VACCEL_ARG_RAW, 0, false);
	assert_int_equal(vaccel_expect_serial_arg(NULL, &out_buf, 4), VACCEL_EINVAL);
	assert_int_equal(vaccel_expect_serial_arg(l, NULL, 4), VACCEL_EINVAL);
	assert_int_equal(vaccel_expect_serial_arg(l, &out_buf, 0), VACCEL_EINVAL);

	assert_int_equal(vaccel_expect_nonserial_arg(l, sizeof(int)), VACCEL_OK);
	assert_non_null(l->list[3].buf);
	assert_int_equal(*(int *)l->list[3].buf, 0);
	assert_int_equal(l->list[3].size, sizeof(int));
	assert_int_equal(l->list[3].type, VACCEL_ARG_RAW);
	assert_true(l->list[3].owned);
	assert_int_equal(l->idcs_allocated_space[3], 1);
	assert_int_equal(vaccel_expect_nonserial_arg(NULL, 4), VACCEL_EINVAL);
	assert_int_equal(vaccel_expect_nonserial_arg(l, 0), VACCEL_EINVAL);
	assert_int_equal(l->curr_idx, 4);

	/* the last slot, then a full list */
	assert_int_equal(vaccel_add_serial_arg(l, &in, sizeof(in)), VACCEL_OK);
	assert_int_equal(vaccel_add_serial_arg(l, &in, sizeof(in)), VACCEL_EINVAL);
	assert_int_equal(vaccel_add_nonserial_arg(l, &nonser, 1, int_serializer),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_expect_serial_arg(l, &out_buf, 4), VACCEL_EINVAL);
	assert_int_equal(vaccel_expect_nonserial_arg(l, 4), VACCEL_EINVAL);
	assert_int_equal(l->curr_idx, 5);

	/* extract */
	assert_ptr_equal(vaccel_extract_serial_arg(l->list, 0), &in);
	assert_null(vaccel_extract_serial_arg(NULL, 0));
	assert_null(vaccel_extract_serial_arg(l->list, -1));
	got = vaccel_extract_nonserial_arg(l->list, 1, int_deserializer);
	assert_non_null(got);
	assert_int_equal(*got, 41);
	free(got);
	assert_null(vaccel_extract_nonserial_arg(NULL, 1, int_deserializer));
	assert_null(vaccel_extract_nonserial_arg(l->list, -1, int_deserializer));
	assert_null(vaccel_extract_nonserial_arg(l->list, 1, NULL));

	/* write: into the outputs, within their size */
	assert_int_equal(vaccel_write_serial_arg(l->list, 2, &w), VACCEL_OK);
	assert_int_equal(out_buf, 9);
	assert_int_equal(vaccel_write_serial_arg(NULL, 2, &w), VACCEL_EINVAL);
	assert_int_equal(vaccel_write_serial_arg(l->list, -1, &w), VACCEL_EINVAL);
	assert_int_equal(vaccel_write_serial_arg(l->list, 2, NULL), VACCEL_EINVAL);
	w = 31;
	assert_int_equal(vaccel_write_nonserial_arg(l->list, 3, &w, int_serializer),
			 VACCEL_OK);
	assert_int_equal(*(int *)l->list[3].buf, 31);
	assert_int_equal(vaccel_write_nonserial_arg(NULL, 3, &w, int_serializer),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_write_nonserial_arg(l->list, -1, &w, int_serializer),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_write_nonserial_arg(l->list, 3, NULL, int_serializer),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_write_nonserial_arg(l->list, 3, &w, NULL),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_write_nonserial_arg(l->list, 3, &w, null_serializer),
			 VACCEL_EINVAL);
	/* 64 bytes into a 4-byte argument: refused, not written past its end */
	assert_int_equal(vaccel_write_nonserial_arg(l->list, 3, &w, big_serializer),
			 VACCEL_EINVAL);
	assert_int_equal(*(int *)l->list[3].buf, 31);

	assert_int_equal(vaccel_delete_args(NULL), VACCEL_EINVAL);
	assert_int_equal(vaccel_delete_args(l), VACCEL_OK);
	assert_int_equal(in, 5);
}

/* delete refuses what vaccel_args_init did not make; a partly filled
 * list frees only its filled, allocated slots. */
static void test_vaccel_args_delete_partial(void **state)
{
	struct vaccel_arg_list fake = { 0 };
	struct vaccel_arg_list *l;

	(void)state;
	assert_int_equal(vaccel_delete_args(&fake), VACCEL_EINVAL);
	l = vaccel_args_init(8);
	assert_non_null(l);
	assert_int_equal(vaccel_expect_nonserial_arg(l, 32), VACCEL_OK);
	assert_int_equal(vaccel_delete_args(l), VACCEL_OK);
}

int main(void)
{
#define NUMERIC_ENTRY(TN, CT, AT, ART)                                         \
	cmocka_unit_test(test_vaccel_arg_array_numeric_##TN),
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vaccel_arg_init_copies),
		cmocka_unit_test(test_vaccel_arg_init_from_buf_borrows),
		cmocka_unit_test(test_vaccel_arg_release_empties),
		cmocka_unit_test(test_vaccel_arg_new_from_buf_delete),
		cmocka_unit_test(test_vaccel_arg_type_strings),
		cmocka_unit_test(test_vaccel_arg_array_init_release),
		cmocka_unit_test(test_vaccel_arg_array_new_delete),
		cmocka_unit_test(test_vaccel_arg_array_wrap_borrows),
		cmocka_unit_test(test_vaccel_arg_array_clear_keeps_capacity),
		cmocka_unit_test(test_vaccel_arg_array_grows),
		cmocka_unit_test(test_vaccel_arg_array_position),
		cmocka_unit_test(test_vaccel_arg_array_raw),
		cmocka_unit_test(test_vaccel_arg_array_string),
		cmocka_unit_test(test_vaccel_arg_array_buffer),
		cmocka_unit_test(test_vaccel_arg_array_custom_validator),
		cmocka_unit_test(test_vaccel_arg_array_serialized_roundtrip),
		cmocka_unit_test(test_vaccel_arg_array_serialized_builtin),
		cmocka_unit_test(test_vaccel_arg_array_add_range_copy),
		VACCEL_ARG_NUMERIC_TYPES(NUMERIC_ENTRY)
		cmocka_unit_test(test_vaccel_arg_array_types_distinct),
		cmocka_unit_test(test_vaccel_arg_array_bool_bytes),
		cmocka_unit_test(test_vaccel_args_list),
		cmocka_unit_test(test_vaccel_args_delete_partial),
	};
#undef NUMERIC_ENTRY

	return cmocka_run_group_tests_name("vaccel_arg", tests, NULL, NULL);
}

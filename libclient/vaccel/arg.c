/* SPDX-License-Identifier: Apache-2.0 */
/*
 * struct vaccel_arg: one op argument, a (buf, size) pair with the type of
 * its bytes (and, for VACCEL_ARG_CUSTOM, the caller's id of that type).
 *
 * An argument either owns its buffer (owned: vaccel_arg_release frees it)
 * or borrows the caller's. _init/_new copy the caller's bytes into a buffer
 * of their own; _init_from_buf/_from_buf borrow the caller's buffer as is.
 * The arrays (arg_array.c) and the deprecated lists (arg_deprecated.c) are
 * built from these.
 */
#include <stdlib.h>
#include <string.h>

#include "vaccel_pvt.h"

static void arg_set(struct vaccel_arg *arg, void *buf, size_t size,
		    vaccel_arg_type_t type, uint32_t custom_id, bool owned)
{
	arg->buf = buf;
	arg->size = size;
	arg->type = type;
	arg->custom_type_id = custom_id;
	arg->owned = owned;
}

/*
 * An argument with a buffer of its own: a copy of size bytes of buf, or
 * size zeroed bytes when buf is NULL (an output to be written), or none
 * when size is 0. Returns 0, VACCEL_EINVAL (no arg, or a buf of no size)
 * or VACCEL_ENOMEM.
 */
AR_VISIBLE int vaccel_arg_init(struct vaccel_arg *arg, const void *buf,
			       size_t size, vaccel_arg_type_t type,
			       uint32_t custom_id)
{
	void *copy = NULL;

	if (!arg || (buf && !size))
		return VACCEL_EINVAL;
	if (size) {
		copy = buf ? malloc(size) : calloc(1, size);
		if (!copy)
			return VACCEL_ENOMEM;
		if (buf)
			memcpy(copy, buf, size);
	}
	arg_set(arg, copy, size, type, custom_id, true);
	return VACCEL_OK;
}

/*
 * An argument that borrows buf (never freed by it). buf and size must both
 * be given or both be absent. Returns 0 or VACCEL_EINVAL.
 */
AR_VISIBLE int vaccel_arg_init_from_buf(struct vaccel_arg *arg, void *buf,
					size_t size, vaccel_arg_type_t type,
					uint32_t custom_id)
{
	if (!arg || !buf != !size)
		return VACCEL_EINVAL;
	arg_set(arg, buf, size, type, custom_id, false);
	return VACCEL_OK;
}

/*
 * Free the buffer if the argument owns it and leave the argument empty
 * (type VACCEL_ARG_MAX). Returns 0 or VACCEL_EINVAL (no arg).
 */
AR_VISIBLE int vaccel_arg_release(struct vaccel_arg *arg)
{
	if (!arg)
		return VACCEL_EINVAL;
	if (arg->owned)
		free(arg->buf);
	arg_set(arg, NULL, 0, VACCEL_ARG_MAX, 0, false);
	return VACCEL_OK;
}

/* vaccel_arg_init on a new struct vaccel_arg; vaccel_arg_delete frees it. */
AR_VISIBLE int vaccel_arg_new(struct vaccel_arg **arg, const void *buf,
			      size_t size, vaccel_arg_type_t type,
			      uint32_t custom_id)
{
	struct vaccel_arg *a;
	int ret;

	if (!arg)
		return VACCEL_EINVAL;
	a = malloc(sizeof(*a));
	if (!a)
		return VACCEL_ENOMEM;
	ret = vaccel_arg_init(a, buf, size, type, custom_id);
	if (ret) {
		free(a);
		return ret;
	}
	*arg = a;
	return VACCEL_OK;
}

/* vaccel_arg_init_from_buf on a new struct vaccel_arg. */
AR_VISIBLE int vaccel_arg_from_buf(struct vaccel_arg **arg, void *buf,
				   size_t size, vaccel_arg_type_t type,
				   uint32_t custom_id)
{
	struct vaccel_arg *a;
	int ret;

	if (!arg)
		return VACCEL_EINVAL;
	a = malloc(sizeof(*a));
	if (!a)
		return VACCEL_ENOMEM;
	ret = vaccel_arg_init_from_buf(a, buf, size, type, custom_id);
	if (ret) {
		free(a);
		return ret;
	}
	*arg = a;
	return VACCEL_OK;
}

/* Release an argument from _new/_from_buf and free it. */
AR_VISIBLE int vaccel_arg_delete(struct vaccel_arg *arg)
{
	int ret = vaccel_arg_release(arg);

	if (ret)
		return ret;
	free(arg);
	return VACCEL_OK;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The deprecated argument lists (struct vaccel_arg_list), kept for
 * programs written against vAccel before struct vaccel_arg_array: a fixed
 * number of slots filled in order (curr_idx), and a flag per slot,
 * idcs_allocated_space, for the buffers the list allocated and frees.
 *
 * "serial" arguments borrow the caller's bytes; "nonserial" ones own the
 * buffer a serializer returned (malloc'd) or, for an expected output, a
 * zeroed one. Each slot's owned mirrors its flag.
 */
#include <stdlib.h>
#include <string.h>

#include "vaccel_pvt.h"

/*
 * A list of size slots, NULL if size is 0 or memory is short. Every slot
 * starts empty and unflagged, so that vaccel_delete_args frees exactly
 * what was allocated (upstream leaves the flags of unused slots
 * uninitialized).
 */
AR_VISIBLE struct vaccel_arg_list *vaccel_args_init(uint32_t size)
{
	struct vaccel_arg_list *l;

	if (!size)
		return NULL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->list = calloc(size, sizeof(*l->list));
	l->idcs_allocated_space = calloc(size, sizeof(*l->idcs_allocated_space));
	if (!l->list || !l->idcs_allocated_space) {
		free(l->list);
		free(l->idcs_allocated_space);
		free(l);
		return NULL;
	}
	l->size = size;
	return l;
}

/* Fill the next slot; VACCEL_EINVAL if the list is full. */
static int args_push(struct vaccel_arg_list *args, void *buf, uint32_t size,
		     vaccel_arg_type_t type, uint32_t custom_id, bool owned)
{
	int i = args->curr_idx;

	if (i < 0 || (uint32_t)i >= args->size || !args->list ||
	    !args->idcs_allocated_space)
		return VACCEL_EINVAL;
	args->list[i] = (struct vaccel_arg){
		.buf = buf, .size = size, .type = type,
		.custom_type_id = custom_id, .owned = owned,
	};
	args->idcs_allocated_space[i] = owned;
	args->curr_idx++;
	return VACCEL_OK;
}

/* A raw input borrowing size bytes of buf. Returns 0 or VACCEL_EINVAL. */
AR_VISIBLE int vaccel_add_serial_arg(struct vaccel_arg_list *args, void *buf,
				     uint32_t size)
{
	if (!args || !buf || !size)
		return VACCEL_EINVAL;
	return args_push(args, buf, size, VACCEL_ARG_RAW, 0, false);
}

/*
 * A custom input (custom id type): serializer's bytes for buf, owned by
 * the list. Returns 0 or VACCEL_EINVAL (also when the serializer gives
 * nothing, or the list is full: the bytes are freed then).
 */
AR_VISIBLE int vaccel_add_nonserial_arg(struct vaccel_arg_list *args,
					void *buf, uint32_t type,
					void *(*serializer)(void *, uint32_t *))
{
	uint32_t bytes = 0;
	void *ser;
	int ret;

	if (!args || !buf || !serializer)
		return VACCEL_EINVAL;
	if (args->curr_idx < 0 || (uint32_t)args->curr_idx >= args->size)
		return VACCEL_EINVAL;
	ser = serializer(buf, &bytes);
	if (!ser || !bytes) {
		free(ser);
		return VACCEL_EINVAL;
	}
	ret = args_push(args, ser, bytes, VACCEL_ARG_CUSTOM, type, true);
	if (ret)
		free(ser);
	return ret;
}

/* A raw output: the caller's buffer of size bytes. */
AR_VISIBLE int vaccel_expect_serial_arg(struct vaccel_arg_list *args,
					void *buf, uint32_t size)
{
	if (!args || !buf || !size)
		return VACCEL_EINVAL;
	return args_push(args, buf, size, VACCEL_ARG_RAW, 0, false);
}

/* A raw output into a zeroed buffer of expected_size bytes the list owns.
 * Returns 0, VACCEL_EINVAL or VACCEL_ENOMEM. */
AR_VISIBLE int vaccel_expect_nonserial_arg(struct vaccel_arg_list *args,
					   uint32_t expected_size)
{
	void *buf;
	int ret;

	if (!args || !expected_size)
		return VACCEL_EINVAL;
	if (args->curr_idx < 0 || (uint32_t)args->curr_idx >= args->size)
		return VACCEL_EINVAL;
	buf = calloc(1, expected_size);
	if (!buf)
		return VACCEL_ENOMEM;
	ret = args_push(args, buf, expected_size, VACCEL_ARG_RAW, 0, true);
	if (ret)
		free(buf);
	return ret;
}

/* args[idx]'s bytes (NULL for no args or a negative idx); idx is not
 * bounded: the caller knows how many there are. */
AR_VISIBLE void *vaccel_extract_serial_arg(struct vaccel_arg *args, int idx)
{
	if (!args || idx < 0)
		return NULL;
	return args[idx].buf;
}

/* What deserializer makes of args[idx]'s bytes. */
AR_VISIBLE void *vaccel_extract_nonserial_arg(struct vaccel_arg *args, int idx,
					      void *(*deserializer)(void *,
								    uint32_t))
{
	if (!args || idx < 0 || !deserializer)
		return NULL;
	return deserializer(args[idx].buf, (uint32_t)args[idx].size);
}

/* Copy args[idx].size bytes of buf into args[idx] (an output). Returns 0
 * or VACCEL_EINVAL. */
AR_VISIBLE int vaccel_write_serial_arg(struct vaccel_arg *args, int idx,
				       void *buf)
{
	if (!args || idx < 0 || !buf)
		return VACCEL_EINVAL;
	if (args[idx].size && !args[idx].buf)
		return VACCEL_EINVAL;
	if (args[idx].size)
		memcpy(args[idx].buf, buf, args[idx].size);
	return VACCEL_OK;
}

/*
 * Serialize buf into args[idx] (an output). Returns 0 or VACCEL_EINVAL:
 * also when the serializer gives nothing or more bytes than the argument
 * holds (upstream writes past its end then).
 */
AR_VISIBLE int vaccel_write_nonserial_arg(struct vaccel_arg *args, int idx,
					  void *buf,
					  void *(*serializer)(void *, uint32_t *))
{
	uint32_t bytes = 0;
	void *ser;
	int ret = VACCEL_OK;

	if (!args || idx < 0 || !buf || !serializer)
		return VACCEL_EINVAL;
	ser = serializer(buf, &bytes);
	if (!ser || !bytes || bytes > args[idx].size || !args[idx].buf)
		ret = VACCEL_EINVAL;
	else
		memcpy(args[idx].buf, ser, bytes);
	free(ser);
	return ret;
}

/* Free the buffers the list allocated, and the list. Returns 0 or
 * VACCEL_EINVAL (no list, or not one from vaccel_args_init). */
AR_VISIBLE int vaccel_delete_args(struct vaccel_arg_list *args)
{
	if (!args)
		return VACCEL_EINVAL;
	if (!args->list || !args->size || !args->idcs_allocated_space)
		return VACCEL_EINVAL;
	for (uint32_t i = 0; i < args->size; i++)
		if (args->idcs_allocated_space[i] == 1)
			free(args->list[i].buf);
	free(args->list);
	free(args->idcs_allocated_space);
	free(args);
	return VACCEL_OK;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * <vaccel/op.h> - op types and op descriptors
 *
 * accelring's own header for vAccel's public API: names, types, values and
 * layouts as upstream vAccel installs them (tests/vaccel checks them against
 * the reference sheet), implemented by libvaccel.so.0 (libclient/vaccel/).
 */
#ifndef ACCELRING_VACCEL_OP_H
#define ACCELRING_VACCEL_OP_H

#include <stddef.h>
#include <stdint.h>
#include "list.h"
#include "utils/enum.h"
#include "utils/str.h"

#ifdef __cplusplus
extern "C" {
#endif

#undef _ENUM_PREFIX
#define _ENUM_PREFIX VACCEL_OP
#define VACCEL_OP_TYPE_ENUM_LIST(VACCEL_ENUM_ITEM)                           \
	VACCEL_ENUM_ITEM(NOOP, 0, _ENUM_PREFIX)                              \
	VACCEL_ENUM_ITEM(EXEC, _ENUM_PREFIX)                                 \
	VACCEL_ENUM_ITEM(EXEC_WITH_RESOURCE, _ENUM_PREFIX)                   \
	VACCEL_ENUM_ITEM(IMAGE_CLASSIFY, _ENUM_PREFIX)                       \
	VACCEL_ENUM_ITEM(IMAGE_DETECT, _ENUM_PREFIX)                         \
	VACCEL_ENUM_ITEM(IMAGE_SEGMENT, _ENUM_PREFIX)                        \
	VACCEL_ENUM_ITEM(IMAGE_POSE, _ENUM_PREFIX)                           \
	VACCEL_ENUM_ITEM(IMAGE_DEPTH, _ENUM_PREFIX)                          \
	VACCEL_ENUM_ITEM(TF_MODEL_LOAD, _ENUM_PREFIX)                        \
	VACCEL_ENUM_ITEM(TF_MODEL_UNLOAD, _ENUM_PREFIX)                      \
	VACCEL_ENUM_ITEM(TF_MODEL_RUN, _ENUM_PREFIX)                         \
	VACCEL_ENUM_ITEM(TFLITE_MODEL_LOAD, _ENUM_PREFIX)                    \
	VACCEL_ENUM_ITEM(TFLITE_MODEL_UNLOAD, _ENUM_PREFIX)                  \
	VACCEL_ENUM_ITEM(TFLITE_MODEL_RUN, _ENUM_PREFIX)                     \
	VACCEL_ENUM_ITEM(TORCH_MODEL_LOAD, _ENUM_PREFIX)                     \
	VACCEL_ENUM_ITEM(TORCH_MODEL_RUN, _ENUM_PREFIX)                      \
	VACCEL_ENUM_ITEM(TORCH_SGEMM, _ENUM_PREFIX)                          \
	VACCEL_ENUM_ITEM(BLAS_SGEMM, _ENUM_PREFIX)                           \
	VACCEL_ENUM_ITEM(FPGA_ARRAYCOPY, _ENUM_PREFIX)                       \
	VACCEL_ENUM_ITEM(FPGA_MMULT, _ENUM_PREFIX)                           \
	VACCEL_ENUM_ITEM(FPGA_PARALLEL, _ENUM_PREFIX)                        \
	VACCEL_ENUM_ITEM(FPGA_VECTORADD, _ENUM_PREFIX)                       \
	VACCEL_ENUM_ITEM(MINMAX, _ENUM_PREFIX)                               \
	VACCEL_ENUM_ITEM(OPENCV, _ENUM_PREFIX)

/* vaccel_op_type_t: op numbers, as genop's first argument carries them. */
VACCEL_ENUM_DEF_WITH_STR_FUNCS(vaccel_op_type, _ENUM_PREFIX,
			       VACCEL_OP_TYPE_ENUM_LIST)
#undef _ENUM_PREFIX

/* Older names of renamed ops. */
#define VACCEL_OP_TORCH_JITLOAD_FORWARD VACCEL_OP_TORCH_MODEL_RUN
#define VACCEL_OP_TF_SESSION_LOAD VACCEL_OP_TF_MODEL_LOAD
#define VACCEL_OP_TF_SESSION_RUN VACCEL_OP_TF_MODEL_RUN
#define VACCEL_OP_TF_SESSION_DELETE VACCEL_OP_TF_MODEL_UNLOAD
#define VACCEL_OP_TFLITE_SESSION_LOAD VACCEL_OP_TFLITE_MODEL_LOAD
#define VACCEL_OP_TFLITE_SESSION_RUN VACCEL_OP_TFLITE_MODEL_RUN
#define VACCEL_OP_TFLITE_SESSION_DELETE VACCEL_OP_TFLITE_MODEL_UNLOAD

/* "image_classify": the op's base name in lower case, into lower. */
static inline char *vaccel_op_type_to_lower(vaccel_op_type_t op_type,
					    char *lower, size_t size)
{
	return vaccel_op_type_name(op_type, lower, size);
}

struct vaccel_plugin;

/* One op a plugin implements: func has the signature of the op's
 * vaccel_* function (vaccel_noop: int (*)(struct vaccel_session *)). */
struct vaccel_op {
	vaccel_op_type_t type;
	void *func;
	struct vaccel_plugin *owner;
};

/* The plugin being defined (VACCEL_PLUGIN, in vaccel/plugin.h). */
extern struct vaccel_plugin vaccel_this_plugin;

/* struct vaccel_op ops[] = { VACCEL_OP_INIT(ops[0], VACCEL_OP_NOOP, my_noop) } */
#define VACCEL_OP_INIT(name, type, func)                                     \
	{ (type), (void *)(func), &vaccel_this_plugin }

#ifdef __cplusplus
}
#endif

#endif /* ACCELRING_VACCEL_OP_H */

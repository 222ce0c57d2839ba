/* SPDX-License-Identifier: Apache-2.0 */
/*
 * accelring/optable.h - every op, declared once.
 *
 * One line per op: its number (upstream vAccel's VACCEL_OP_* numbering, so
 * that genop's op argument and VACCEL_OP_* mean the same thing on both
 * sides), its name, the argument table it travels with (its shape), and the
 * bounds on its Generic arguments. This table drives the client's encoding
 * (libclient/vaccel/ops.c), the wire's checks (schemas/wire.cc), the
 * broker's validation (broker/request.c) and the dispatch (broker/plugin.c):
 * adding an op is a line here plus its plugin.
 *
 *   X(num, NAME, "name", SHAPE, rd_min, rd_max, wr_min, wr_max, flags)
 *
 * SHAPE: NONE (no arguments), SGEMM, IMAGE, GENERIC (typed read and write
 * argument lists, a library and a symbol), MBENCH. rd/wr bounds apply to
 * GENERIC ops: how many read and write arguments the op may carry. flags:
 * AR_OPF_LIBRARY / AR_OPF_SYMBOL: the library / symbol string is required;
 * AR_OPF_RESOURCE: a resource registered with the session (its broker id),
 * which the plugin receives mapped (accelring/plugin.h, struct ar_resource);
 * AR_OPF_COALESCE: concurrent ops on the same model (resource content),
 * with inputs alike but for their first dim, may run as one batch across
 * clients (batch-delay-us; broker/coalesce.c).
 *
 * How each GENERIC op lays out its arguments (what a plugin receives, each
 * with the vaccel_arg_type_t and custom id the caller gave):
 *   exec: library (a host path on the broker's exec-allow), symbol;
 *       read and write: the caller's arguments, as built
 *   exec_with_resource: the resource (a LIB), symbol; arguments as exec
 *   tf/tflite/torch model load/unload/run: the resource is the model
 *   torch_model_run: read[0] run options (BUFFER, may be empty), then per
 *       input tensor: dims (INT64_ARRAY), data (BUFFER, custom id = its
 *       vaccel_torch_data_type); write: per output tensor: dims, data
 *   torch_sgemm: read A, B, C (dims, data each), M, N, K (INT32); write:
 *       the output's data
 *   tf_model_run: read[0] run options, then per input: node name (STRING,
 *       custom id = the node id), dims, data (custom id = the data type),
 *       then per output: node name; write: per output dims, data; and a
 *       last write: the status (UINT8 code, then the message)
 *   tflite_model_run: read per input: dims (INT32_ARRAY), data; write per
 *       output: dims, data; and a last write: the status (UINT8)
 *   fpga_arraycopy: read a (INT32_ARRAY); write out_a
 *   fpga_mmult, fpga_vectoradd: read a, b (FLOAT32_ARRAY); write c
 *   fpga_parallel: read a, b; write add_output, mult_output
 *   minmax: read indata (FLOAT64_ARRAY), ndata, low, high (INT32); write
 *       outdata, min, max (FLOAT64)
 *   opencv: read and write: the caller's arguments
 */
#ifndef ACCELRING_OPTABLE_H
#define ACCELRING_OPTABLE_H

#include <stdint.h>

#define AR_OPF_LIBRARY 0x1u
#define AR_OPF_SYMBOL 0x2u
#define AR_OPF_RESOURCE 0x4u
#define AR_OPF_COALESCE 0x8u

/* Argument types (vaccel_arg_type_t: VACCEL_ARG_RAW .. VACCEL_ARG_CUSTOM). */
#define AR_ARG_TYPES 30

/*
 * The element size of a typed argument: types 1..26 come in (scalar,
 * array) pairs of int8, int16, int32, int64, uint8, uint16, uint32,
 * uint64, float32, float64, bool, char, uchar; raw, string, buffer and
 * custom bytes (and unknown types) have none: 0. ar_arg_is_array: the
 * array of such a pair.
 */
static inline uint32_t ar_arg_elem_size(uint32_t type)
{
	static const unsigned char elem[13] = { 1, 2, 4, 8, 1, 2, 4, 8, 4, 8, 1, 1, 1 };

	return type >= 1 && type <= 26 ? elem[(type - 1) / 2] : 0;
}

static inline int ar_arg_is_array(uint32_t type)
{
	return type >= 1 && type <= 26 && type % 2 == 0;
}

/* The most read or write arguments of a Generic op (AR_WIRE_MAX_ARGS). */
#define AR_OP_ARGS 32

#define AR_OP_TABLE(X)                                                             \
	X(0, NOOP, "noop", NONE, 0, 0, 0, 0, 0)                                    \
	X(1, EXEC, "exec", GENERIC, 0, AR_OP_ARGS, 0, AR_OP_ARGS,                  \
	  AR_OPF_LIBRARY | AR_OPF_SYMBOL)                                          \
	X(2, EXEC_WITH_RESOURCE, "exec_with_resource", GENERIC, 0, AR_OP_ARGS, 0,  \
	  AR_OP_ARGS, AR_OPF_RESOURCE | AR_OPF_SYMBOL)                             \
	X(3, IMAGE_CLASSIFY, "image_classify", IMAGE, 0, 0, 0, 0, 0)               \
	X(4, IMAGE_DETECT, "image_detect", IMAGE, 0, 0, 0, 0, 0)                   \
	X(5, IMAGE_SEGMENT, "image_segment", IMAGE, 0, 0, 0, 0, 0)                 \
	X(6, IMAGE_POSE, "image_pose", IMAGE, 0, 0, 0, 0, 0)                       \
	X(7, IMAGE_DEPTH, "image_depth", IMAGE, 0, 0, 0, 0, 0)                     \
	X(8, TF_MODEL_LOAD, "tf_model_load", GENERIC, 0, 0, 0, 1, AR_OPF_RESOURCE)\
	X(9, TF_MODEL_UNLOAD, "tf_model_unload", GENERIC, 0, 0, 0, 1,              \
	  AR_OPF_RESOURCE)                                                        \
	X(10, TF_MODEL_RUN, "tf_model_run", GENERIC, 1, AR_OP_ARGS, 1, AR_OP_ARGS, \
	  AR_OPF_RESOURCE)                                                        \
	X(11, TFLITE_MODEL_LOAD, "tflite_model_load", GENERIC, 0, 0, 0, 0,         \
	  AR_OPF_RESOURCE)                                                        \
	X(12, TFLITE_MODEL_UNLOAD, "tflite_model_unload", GENERIC, 0, 0, 0, 0,     \
	  AR_OPF_RESOURCE)                                                        \
	X(13, TFLITE_MODEL_RUN, "tflite_model_run", GENERIC, 0, AR_OP_ARGS, 1,     \
	  AR_OP_ARGS, AR_OPF_RESOURCE)                                            \
	X(14, TORCH_MODEL_LOAD, "torch_model_load", GENERIC, 0, 0, 0, 0,           \
	  AR_OPF_RESOURCE)                                                        \
	X(15, TORCH_MODEL_RUN, "torch_model_run", GENERIC, 1, AR_OP_ARGS, 0,       \
	  AR_OP_ARGS, AR_OPF_RESOURCE | AR_OPF_COALESCE)                          \
	X(16, TORCH_SGEMM, "torch_sgemm", GENERIC, 9, 9, 1, 1, 0)                  \
	X(17, BLAS_SGEMM, "blas_sgemm", SGEMM, 0, 0, 0, 0, 0)                      \
	X(18, FPGA_ARRAYCOPY, "fpga_arraycopy", GENERIC, 1, 1, 1, 1, 0)            \
	X(19, FPGA_MMULT, "fpga_mmult", GENERIC, 2, 2, 1, 1, 0)                    \
	X(20, FPGA_PARALLEL, "fpga_parallel", GENERIC, 2, 2, 2, 2, 0)              \
	X(21, FPGA_VECTORADD, "fpga_vectoradd", GENERIC, 2, 2, 1, 1, 0)            \
	X(22, MINMAX, "minmax", GENERIC, 4, 4, 3, 3, 0)                            \
	X(23, OPENCV, "opencv", GENERIC, 0, AR_OP_ARGS, 0, AR_OP_ARGS, 0)          \
	/* accelring's own: busy-wait the requested time (framework cost) */      \
	X(64, MBENCH, "mbench", MBENCH, 0, 0, 0, 0, 0)

/* AR_OP_NOOP ... AR_OP_MBENCH; AR_OP_MAX bounds the numbers (some unused). */
enum ar_op_type {
#define AR_OP_ENUM_(num, NAME, name, shape, rmin, rmax, wmin, wmax, flags) \
	AR_OP_##NAME = num,
	AR_OP_TABLE(AR_OP_ENUM_)
#undef AR_OP_ENUM_
	AR_OP_MAX
};

#endif /* ACCELRING_OPTABLE_H */

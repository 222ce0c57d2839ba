/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vaccel.h - accelring's vAccel-compatible API.
 *
 * A program written for vAccel compiles against this header unchanged and
 * links with `pkg-config --libs accelring`; its ops then run in accelringd's
 * plugins, over shared memory. Functions return 0 or a positive errno value
 * (VACCEL_EINVAL == EINVAL, ...), as vAccel's do; an op that no loaded
 * plugin implements returns VACCEL_ENOTSUP.
 *
 * The broker's address comes from ACCELRING_ADDRESS (or vAccel's
 * VACCEL_RPC_ADDRESS when it names a unix:// socket), default
 * unix:///run/accelring/accelring.sock. The connection is made at the
 * first session, and each thread gets a channel of its own.
 */
#ifndef ACCELRING_VACCEL_H
#define ACCELRING_VACCEL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VACCEL_OK 0
#define VACCEL_EINVAL EINVAL
#define VACCEL_ENOMEM ENOMEM
#define VACCEL_ENOTSUP ENOTSUP
#define VACCEL_EIO EIO
#define VACCEL_EBUSY EBUSY
#define VACCEL_ENOENT ENOENT
#define VACCEL_EEXIST EEXIST
#define VACCEL_EPERM EPERM
#define VACCEL_EBACKEND ENOTCONN

typedef int64_t vaccel_id_t;

/* Op types, as vAccel numbers them (genop's first argument). */
typedef enum {
	VACCEL_OP_NOOP = 0,
	VACCEL_OP_BLAS_SGEMM,
	VACCEL_OP_IMAGE_CLASSIFY,
	VACCEL_OP_IMAGE_DETECT,
	VACCEL_OP_IMAGE_SEGMENT,
	VACCEL_OP_IMAGE_POSE,
	VACCEL_OP_IMAGE_DEPTH,
	VACCEL_OP_EXEC,
	VACCEL_OP_TF_SESSION_LOAD,
	VACCEL_OP_TF_SESSION_RUN,
	VACCEL_OP_TF_SESSION_DELETE,
	VACCEL_OP_MINMAX,
	VACCEL_OP_FPGA_ARRAYCOPY,
	VACCEL_OP_FPGA_VECTORADD,
	VACCEL_OP_FPGA_PARALLEL,
	VACCEL_OP_FPGA_MMULT,
	VACCEL_OP_EXEC_WITH_RESOURCE,
	VACCEL_OP_TORCH_JITLOAD_FORWARD,
	VACCEL_OP_TORCH_SGEMM,
	VACCEL_OP_OPENCV,
	VACCEL_OP_TFLITE_SESSION_LOAD,
	VACCEL_OP_TFLITE_SESSION_RUN,
	VACCEL_OP_TFLITE_SESSION_DELETE,
	VACCEL_OP_MAX
} vaccel_op_type_t;

/* Session hint flags: which kind of plugin should run the ops. */
#define VACCEL_PLUGIN_CPU 0x0001u
#define VACCEL_PLUGIN_GPU 0x0002u
#define VACCEL_PLUGIN_FPGA 0x0004u
#define VACCEL_PLUGIN_SOFTWARE 0x0008u
#define VACCEL_PLUGIN_TENSORFLOW 0x0010u
#define VACCEL_PLUGIN_TORCH 0x0020u
#define VACCEL_PLUGIN_JETSON 0x0040u
#define VACCEL_PLUGIN_GENERIC 0x0080u
#define VACCEL_PLUGIN_DEBUG 0x0100u
#define VACCEL_REMOTE 0x4000u

/* ---- core ---- */
int vaccel_bootstrap(void);
int vaccel_cleanup(void);
bool vaccel_is_initialized(void);

/* ---- sessions ---- */
struct vaccel_session {
	vaccel_id_t id;
	uint32_t hint;
	void *priv;		/* accelring's: unused */
	bool is_virtio;
};

int vaccel_session_init(struct vaccel_session *sess, uint32_t flags);
int vaccel_session_release(struct vaccel_session *sess);
int vaccel_session_new(struct vaccel_session **sess, uint32_t flags);
int vaccel_session_delete(struct vaccel_session *sess);

/* ---- resources ---- */
typedef enum {
	VACCEL_RESOURCE_LIB = 0,
	VACCEL_RESOURCE_DATA,
	VACCEL_RESOURCE_MODEL,
	VACCEL_RESOURCE_MAX
} vaccel_resource_type_t;

struct vaccel_resource {
	vaccel_id_t id;
	vaccel_resource_type_t type;
	char **paths;
	size_t nr_paths;
	void *buf;		/* from _init_from_buf: a private copy */
	size_t size;
	char *filename;
	bool registered;
};

int vaccel_resource_init(struct vaccel_resource *res, const char *path,
			 vaccel_resource_type_t type);
int vaccel_resource_init_multi(struct vaccel_resource *res, const char **paths,
			       size_t nr_paths, vaccel_resource_type_t type);
int vaccel_resource_init_from_buf(struct vaccel_resource *res, const void *buf,
				  size_t nr_bytes, vaccel_resource_type_t type,
				  const char *filename, bool mem_only);
int vaccel_resource_release(struct vaccel_resource *res);
int vaccel_resource_register(struct vaccel_resource *res,
			     struct vaccel_session *sess);
int vaccel_resource_unregister(struct vaccel_resource *res,
			       struct vaccel_session *sess);

/* ---- arguments ---- */
struct vaccel_arg {
	uint32_t argtype;
	uint32_t size;
	void *buf;
};

/* ---- ops ---- */
int vaccel_noop(struct vaccel_session *sess);

int vaccel_sgemm(struct vaccel_session *sess, int64_t m, int64_t n, int64_t k,
		 float alpha, float *a, int64_t lda, float *b, int64_t ldb,
		 float beta, float *c, int64_t ldc);

int vaccel_image_classification(struct vaccel_session *sess, const void *img,
				unsigned char *out_text, unsigned char *out_imgname,
				size_t len_img, size_t len_out_text,
				size_t len_out_imgname);
int vaccel_image_detection(struct vaccel_session *sess, const void *img,
			   unsigned char *out_imgname, size_t len_img,
			   size_t len_out_imgname);
int vaccel_image_segmentation(struct vaccel_session *sess, const void *img,
			      unsigned char *out_imgname, size_t len_img,
			      size_t len_out_imgname);
int vaccel_image_pose(struct vaccel_session *sess, const void *img,
		      unsigned char *out_imgname, size_t len_img,
		      size_t len_out_imgname);
int vaccel_image_depth(struct vaccel_session *sess, const void *img,
		       unsigned char *out_imgname, size_t len_img,
		       size_t len_out_imgname);

int vaccel_exec(struct vaccel_session *sess, const char *library,
		const char *fn_symbol, struct vaccel_arg *read, size_t nr_read,
		struct vaccel_arg *write, size_t nr_write);
int vaccel_exec_with_resource(struct vaccel_session *sess,
			      struct vaccel_resource *resource,
			      const char *fn_symbol, struct vaccel_arg *read,
			      size_t nr_read, struct vaccel_arg *write,
			      size_t nr_write);

/* TorchScript. */
enum vaccel_torch_data_type {
	VACCEL_TORCH_BYTE = 1,
	VACCEL_TORCH_CHAR,
	VACCEL_TORCH_SHORT,
	VACCEL_TORCH_INT,
	VACCEL_TORCH_LONG,
	VACCEL_TORCH_HALF,
	VACCEL_TORCH_FLOAT
};

struct vaccel_torch_buffer {
	char *data;
	size_t size;
};

struct vaccel_torch_tensor {
	void *data;
	size_t size;
	bool owned;
	int nr_dims;
	int64_t *dims;
	enum vaccel_torch_data_type data_type;
};

int vaccel_torch_model_load(struct vaccel_session *sess,
			    struct vaccel_resource *model);
int vaccel_torch_model_run(struct vaccel_session *sess,
			   const struct vaccel_resource *model,
			   const struct vaccel_torch_buffer *run_options,
			   struct vaccel_torch_tensor *const *in_tensors, int nr_read,
			   struct vaccel_torch_tensor **out_tensors, int nr_write);

/* TensorFlow and TFLite: declared for source compatibility; no Debian
 * package provides the libraries, so no bundled plugin implements them. */
int vaccel_tf_model_load(struct vaccel_session *sess,
			 struct vaccel_resource *model, void *status);
int vaccel_tf_model_unload(struct vaccel_session *sess,
			   struct vaccel_resource *model, void *status);
int vaccel_tflite_model_load(struct vaccel_session *sess,
			     struct vaccel_resource *model);
int vaccel_tflite_model_unload(struct vaccel_session *sess,
			       struct vaccel_resource *model);

int vaccel_genop(struct vaccel_session *sess, struct vaccel_arg *read,
		 int nr_read, struct vaccel_arg *write, int nr_write);

#ifdef __cplusplus
}
#endif

#endif /* ACCELRING_VACCEL_H */

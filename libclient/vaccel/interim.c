/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TEMPORARY, removed when the groups land (see vaccel_pvt.h): weak
 * placeholders so that the libraries link while prof.c, resource.c,
 * session.c and tensor.c are being written. Every one refuses.
 */
#include "vaccel_pvt.h"

#define WEAK __attribute__((weak)) AR_VISIBLE

WEAK int vaccel_resource_get_by_id(struct vaccel_resource **r, vaccel_id_t id) { (void)r; (void)id; return VACCEL_ENOTSUP; }
WEAK bool vaccel_session_has_resource(struct vaccel_session *s, struct vaccel_resource *r) { (void)s; (void)r; return false; }
WEAK int vaccel_tf_status_init(struct vaccel_tf_status *s, uint8_t c, const char *m) { (void)s; (void)c; (void)m; return VACCEL_ENOTSUP; }
WEAK int vaccel_tf_status_release(struct vaccel_tf_status *s) { (void)s; return VACCEL_ENOTSUP; }
WEAK int vaccel_tf_tensor_delete(struct vaccel_tf_tensor *t) { (void)t; return VACCEL_ENOTSUP; }
WEAK int vaccel_tf_tensor_new(struct vaccel_tf_tensor **t, int n, const int64_t *d, enum vaccel_tf_data_type ty) { (void)t; (void)n; (void)d; (void)ty; return VACCEL_ENOTSUP; }
WEAK int vaccel_tf_tensor_set_data(struct vaccel_tf_tensor *t, void *d, size_t s) { (void)t; (void)d; (void)s; return VACCEL_ENOTSUP; }
WEAK int vaccel_tflite_tensor_delete(struct vaccel_tflite_tensor *t) { (void)t; return VACCEL_ENOTSUP; }
WEAK int vaccel_tflite_tensor_new(struct vaccel_tflite_tensor **t, int n, const int32_t *d, enum vaccel_tflite_data_type ty) { (void)t; (void)n; (void)d; (void)ty; return VACCEL_ENOTSUP; }
WEAK int vaccel_tflite_tensor_set_data(struct vaccel_tflite_tensor *t, void *d, size_t s) { (void)t; (void)d; (void)s; return VACCEL_ENOTSUP; }
WEAK int vaccel_torch_tensor_delete(struct vaccel_torch_tensor *t) { (void)t; return VACCEL_ENOTSUP; }
WEAK int vaccel_torch_tensor_new(struct vaccel_torch_tensor **t, int64_t n, const int64_t *d, enum vaccel_torch_data_type ty) { (void)t; (void)n; (void)d; (void)ty; return VACCEL_ENOTSUP; }
WEAK int vaccel_torch_tensor_set_data(struct vaccel_torch_tensor *t, void *d, size_t s) { (void)t; (void)d; (void)s; return VACCEL_ENOTSUP; }

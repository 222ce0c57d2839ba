/* SPDX-License-Identifier: Apache-2.0 */
/*
 * <vaccel/ops/image.h> - image inference ops
 *
 * accelring's own header for vAccel's public API: names, types, values and
 * layouts as upstream vAccel installs them (tests/vaccel checks them against
 * the reference sheet), implemented by libvaccel.so.0 (libclient/vaccel/).
 */
#ifndef ACCELRING_VACCEL_OPS_IMAGE_H
#define ACCELRING_VACCEL_OPS_IMAGE_H

#include <stddef.h>
#include <stdint.h>
#include "../session.h"

#ifdef __cplusplus
extern "C" {
#endif

int vaccel_image_classification(struct vaccel_session *sess,
	const void *img,
	unsigned char *out_text,
	unsigned char *out_imgname,
	size_t len_img,
	size_t len_out_text,
	size_t len_out_imgname);

int vaccel_image_depth(struct vaccel_session *sess,
	const void *img,
	unsigned char *out_imgname,
	size_t len_img,
	size_t len_out_imgname);

int vaccel_image_detection(struct vaccel_session *sess,
	const void *img,
	unsigned char *out_imgname,
	size_t len_img,
	size_t len_out_imgname);

int vaccel_image_pose(struct vaccel_session *sess,
	const void *img,
	unsigned char *out_imgname,
	size_t len_img,
	size_t len_out_imgname);

int vaccel_image_segmentation(struct vaccel_session *sess,
	const void *img,
	unsigned char *out_imgname,
	size_t len_img,
	size_t len_out_imgname);

#ifdef __cplusplus
}
#endif

#endif /* ACCELRING_VACCEL_OPS_IMAGE_H */

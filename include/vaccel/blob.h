/* SPDX-License-Identifier: Apache-2.0 */
/*
 * <vaccel/blob.h> - blobs: the files and buffers of a resource
 *
 * accelring's own header for vAccel's public API: names, types, values and
 * layouts as upstream vAccel installs them (tests/vaccel checks them against
 * the reference sheet), implemented by libvaccel.so.0 (libclient/vaccel/).
 */
#ifndef ACCELRING_VACCEL_BLOB_H
#define ACCELRING_VACCEL_BLOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "utils/enum.h"

#ifdef __cplusplus
extern "C" {
#endif

#undef _ENUM_PREFIX
#define _ENUM_PREFIX VACCEL_BLOB
#define VACCEL_BLOB_TYPE_ENUM_LIST(VACCEL_ENUM_ITEM)                         \
	VACCEL_ENUM_ITEM(FILE, 0, _ENUM_PREFIX)                              \
	VACCEL_ENUM_ITEM(BUFFER, _ENUM_PREFIX)                               \
	VACCEL_ENUM_ITEM(MAPPED, _ENUM_PREFIX)

/* vaccel_blob_type_t: where a blob's bytes are. */
VACCEL_ENUM_DEF_WITH_STR_FUNCS(vaccel_blob_type, _ENUM_PREFIX,
			       VACCEL_BLOB_TYPE_ENUM_LIST)
#undef _ENUM_PREFIX

/* A named run of bytes: a file, a buffer, or a file mapped in memory. */
struct vaccel_blob {
	vaccel_blob_type_t type;
	char *name;
	char *path;
	bool path_owned;
	uint8_t *data;
	bool data_owned;
	size_t size;
};

uint8_t *vaccel_blob_data(struct vaccel_blob *blob,
	size_t *size);

int vaccel_blob_delete(struct vaccel_blob *blob);

int vaccel_blob_from_buf(struct vaccel_blob **blob,
	const uint8_t *buf,
	size_t size,
	bool own,
	const char *filename,
	const char *dir,
	bool randomize);

int vaccel_blob_init(struct vaccel_blob *blob,
	const char *path);

int vaccel_blob_init_from_buf(struct vaccel_blob *blob,
	const uint8_t *buf,
	size_t size,
	bool own,
	const char *filename,
	const char *dir,
	bool randomize);

int vaccel_blob_new(struct vaccel_blob **blob,
	const char *path);

const char *vaccel_blob_path(struct vaccel_blob *blob);

int vaccel_blob_persist(struct vaccel_blob *blob,
	const char *dir,
	const char *filename,
	bool randomize);

int vaccel_blob_read(struct vaccel_blob *blob);

int vaccel_blob_release(struct vaccel_blob *blob);

bool vaccel_blob_valid(const struct vaccel_blob *blob);

#ifdef __cplusplus
}
#endif

#endif /* ACCELRING_VACCEL_BLOB_H */

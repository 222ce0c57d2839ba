/* SPDX-License-Identifier: Apache-2.0 */
/*
 * <vaccel/resource.h> - resources
 *
 * accelring's own header for vAccel's public API: names, types, values and
 * layouts as upstream vAccel installs them (tests/vaccel checks them against
 * the reference sheet), implemented by libvaccel.so.0 (libclient/vaccel/).
 */
#ifndef ACCELRING_VACCEL_RESOURCE_H
#define ACCELRING_VACCEL_RESOURCE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include "blob.h"
#include "id.h"
#include "list.h"
#include "utils/enum.h"
#include "utils/path.h"

/* C++ (before C++23) has no <stdatomic.h>: there the count is a plain
 * unsigned int, which has the same size and alignment. */
#ifdef __cplusplus
typedef unsigned int vaccel__atomic_uint;
extern "C" {
#else
#include <stdatomic.h>
typedef atomic_uint vaccel__atomic_uint;
#endif

#undef _ENUM_PREFIX
#define _ENUM_PREFIX VACCEL_RESOURCE
#define VACCEL_RESOURCE_TYPE_ENUM_LIST(VACCEL_ENUM_ITEM)                     \
	VACCEL_ENUM_ITEM(LIB, 0, _ENUM_PREFIX)                               \
	VACCEL_ENUM_ITEM(DATA, _ENUM_PREFIX)                                 \
	VACCEL_ENUM_ITEM(MODEL, _ENUM_PREFIX)

/* vaccel_resource_type_t: what a resource holds. */
VACCEL_ENUM_DEF_WITH_STR_FUNCS(vaccel_resource_type, _ENUM_PREFIX,
			       VACCEL_RESOURCE_TYPE_ENUM_LIST)
#undef _ENUM_PREFIX

struct vaccel_session;

/* Files or buffers an op uses (a model, a library), registered with
 * sessions. */
struct vaccel_resource {
	vaccel_id_t id;
	vaccel_id_t remote_id;
	vaccel_resource_type_t type;
	vaccel_path_type_t path_type;
	char **paths;
	size_t nr_paths;
	char *rundir;
	struct vaccel_blob **blobs;
	size_t nr_blobs;
	struct vaccel_list_entry entry;
	struct vaccel_list_entry sessions;
	pthread_mutex_t sessions_lock;
	vaccel__atomic_uint refcount;
	void *plugin_priv;
};

int vaccel_resource_delete(struct vaccel_resource *res);

int vaccel_resource_directory(struct vaccel_resource *res,
	char *out_path,
	size_t out_path_size,
	char **alloc_path);

int vaccel_resource_from_blobs(struct vaccel_resource **res,
	const struct vaccel_blob **blobs,
	size_t nr_blobs,
	vaccel_resource_type_t type);

int vaccel_resource_from_buf(struct vaccel_resource **res,
	const void *buf,
	size_t nr_bytes,
	vaccel_resource_type_t type,
	const char *filename,
	bool mem_only);

int vaccel_resource_get_all_by_type(struct vaccel_resource ***res,
	size_t *nr_found,
	vaccel_resource_type_t type);

int vaccel_resource_get_by_id(struct vaccel_resource **res,
	vaccel_id_t id);

int vaccel_resource_get_by_type(struct vaccel_resource **res,
	vaccel_resource_type_t type);

int vaccel_resource_init(struct vaccel_resource *res,
	const char *path,
	vaccel_resource_type_t type);

int vaccel_resource_init_from_blobs(struct vaccel_resource *res,
	const struct vaccel_blob **blobs,
	size_t nr_blobs,
	vaccel_resource_type_t type);

int vaccel_resource_init_from_buf(struct vaccel_resource *res,
	const void *buf,
	size_t nr_bytes,
	vaccel_resource_type_t type,
	const char *filename,
	bool mem_only);

int vaccel_resource_init_multi(struct vaccel_resource *res,
	const char **paths,
	size_t nr_paths,
	vaccel_resource_type_t type);

int vaccel_resource_multi_new(struct vaccel_resource **res,
	const char **paths,
	size_t nr_paths,
	vaccel_resource_type_t type);

int vaccel_resource_new(struct vaccel_resource **res,
	const char *path,
	vaccel_resource_type_t type);

long vaccel_resource_refcount(const struct vaccel_resource *res);

int vaccel_resource_register(struct vaccel_resource *res,
	struct vaccel_session *sess);

int vaccel_resource_release(struct vaccel_resource *res);

int vaccel_resource_sync(struct vaccel_resource *res,
	struct vaccel_session *sess);

int vaccel_resource_unregister(struct vaccel_resource *res,
	struct vaccel_session *sess);

#ifdef __cplusplus
}
#endif

#endif /* ACCELRING_VACCEL_RESOURCE_H */

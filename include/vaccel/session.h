/* SPDX-License-Identifier: Apache-2.0 */
/*
 * <vaccel/session.h> - sessions
 *
 * accelring's own header for vAccel's public API: names, types, values and
 * layouts as upstream vAccel installs them (tests/vaccel checks them against
 * the reference sheet), implemented by libvaccel.so.0 (libclient/vaccel/).
 */
#ifndef ACCELRING_VACCEL_SESSION_H
#define ACCELRING_VACCEL_SESSION_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "id.h"
#include "list.h"
#include "resource.h"

#ifdef __cplusplus
extern "C" {
#endif

struct vaccel_plugin;

/* A session: the context ops run in, on the broker. */
struct vaccel_session {
	vaccel_id_t id;
	vaccel_id_t remote_id;
	unsigned int hint;
	bool is_virtio;
	char rundir[4096];
	struct vaccel_list_entry entry;
	struct vaccel_list_entry resources[VACCEL_RESOURCE_MAX];
	size_t resource_counts[VACCEL_RESOURCE_MAX];
	pthread_mutex_t resources_lock;
	struct vaccel_plugin *plugin;
	void *priv;
};

__attribute__((deprecated)) int vaccel_sess_free(struct vaccel_session *sess);

__attribute__((deprecated)) bool vaccel_sess_has_resource(struct vaccel_session *sess,
	struct vaccel_resource *res);

__attribute__((deprecated)) int vaccel_sess_init(struct vaccel_session *sess,
	uint32_t flags);

__attribute__((deprecated)) int vaccel_sess_update(struct vaccel_session *sess,
	uint32_t flags);

int vaccel_session_delete(struct vaccel_session *sess);

int vaccel_session_get_by_id(struct vaccel_session **sess,
	vaccel_id_t id);

bool vaccel_session_has_resource(struct vaccel_session *sess,
	struct vaccel_resource *res);

int vaccel_session_init(struct vaccel_session *sess,
	uint32_t flags);

int vaccel_session_new(struct vaccel_session **sess,
	uint32_t flags);

int vaccel_session_release(struct vaccel_session *sess);

int vaccel_session_resource_by_id(struct vaccel_session *sess,
	struct vaccel_resource **res,
	vaccel_id_t id);

int vaccel_session_resource_by_type(struct vaccel_session *sess,
	struct vaccel_resource **res,
	vaccel_resource_type_t type);

int vaccel_session_resources_by_type(struct vaccel_session *sess,
	struct vaccel_resource ***resources,
	size_t *nr_found,
	vaccel_resource_type_t type);

__attribute__((deprecated)) int vaccel_session_update(struct vaccel_session *sess,
	uint32_t flags);

#ifdef __cplusplus
}
#endif

#endif /* ACCELRING_VACCEL_SESSION_H */

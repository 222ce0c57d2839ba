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

/*
 * A session: the context ops run in, on the broker. id is this process's
 * number for it, remote_id the broker's; hint the flags it was opened
 * with.
 *
 * Session flags (vaccel_session_init, _new, _update) are plugin hints, the
 * vaccel_plugin_type_t bits of <vaccel/plugin.h> (VACCEL_PLUGIN_CPU,
 * _GPU, _TORCH, ...): the broker sends each op of the session to the first
 * plugin, in its `plugins` order, that implements the op and whose type
 * shares a bit with the flags, else to the first that implements it at
 * all (a preference, as upstream, not a requirement); 0 is no preference.
 *
 * Threads: ops on one session may be called from several threads at once;
 * each thread's ops travel through a queue of its own (accelring/client.h).
 * Initializing or releasing a session must not race with its ops.
 *
 * The process connects to the broker at its first session, at
 * $ACCELRING_ADDRESS, else $VACCEL_RPC_ADDRESS, else
 * unix:///run/accelring/accelring.sock (the schemes: ar_client_connect in
 * accelring/client.h). Functions return VACCEL_OK (0) or a positive
 * vAccel error code (VACCEL_EINVAL, ...: errno values).
 */
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

/* Open a session with flags (above) in caller memory. VACCEL_EUSERS once
 * 1024 are live in the process; else the errno of what the connection or
 * the broker refused (ECONNREFUSED or ENOENT: no broker at the address;
 * EACCES: not admitted; EDQUOT: the tenant's sessions are used up). */
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

/* New flags for a session that has no resources registered (VACCEL_ENOTSUP
 * otherwise, as upstream): the broker's session is opened again with them,
 * and on failure the session stays as it was. */
__attribute__((deprecated)) int vaccel_session_update(struct vaccel_session *sess,
	uint32_t flags);

#ifdef __cplusplus
}
#endif

#endif /* ACCELRING_VACCEL_SESSION_H */

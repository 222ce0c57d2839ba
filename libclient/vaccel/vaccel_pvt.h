/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libvaccel's private interface between its groups (never installed).
 *
 * libclient/vaccel/ implements upstream vAccel's public API (include/vaccel.h)
 * over the native one (include/accelring/client.h). One file per group:
 *
 *   conn.c      the connection: one ar_client per process, a queue per thread
 *   core.c      bootstrap, cleanup, config(), rundir
 *   config.c    struct vaccel_config and the VACCEL_* environment
 *   log.c       vaccel_log_*, slog_display (what vaccel_info() calls)
 *   prof.c      profiling regions
 *   str.c       utils/str.h
 *   arg.c       vaccel_arg, vaccel_arg_array, the deprecated arg lists
 *   blob.c      blobs
 *   resource.c  resources and their registry
 *   session.c   sessions (opened on the broker) and their registry
 *   tensor.c    torch / tf / tflite tensors, buffers, nodes, statuses
 *   ops.c       every op: encoded from the op table, run on the broker
 *   plugin.c    the plugin-authoring API
 *
 * Conventions: public functions return 0 or a positive errno (VACCEL_E*);
 * the native API's -errno stops at these files' boundary (ar__vaccel_err).
 */
#ifndef ACCELRING_VACCEL_PVT_H
#define ACCELRING_VACCEL_PVT_H

#include <stdbool.h>
#include <stdint.h>

#include <accelring/client.h>
#include <vaccel.h>

#define AR_VISIBLE __attribute__((visibility("default")))

/* A native -errno (or an already positive code) as vAccel's positive one. */
static inline int ar__vaccel_err(int r)
{
	return r < 0 ? -r : r;
}

/* ---- conn.c ---- */

/* The calling thread's queue, connecting to the broker at the first call
 * (ACCELRING_ADDRESS, else VACCEL_RPC_ADDRESS, else the default socket).
 * Returns 0 or -errno; a refusal's reason is logged at error level. */
int ar__vaccel_queue(struct ar_queue **q);
/* Whether the process is connected. */
bool ar__vaccel_connected(void);
/* Close the connection (vaccel_cleanup); the next op connects again. */
void ar__vaccel_disconnect(void);
/* Open and close a session on the broker: the broker's id in *id. */
int ar__vaccel_session_open(uint32_t flags, uint32_t *id);
int ar__vaccel_session_close(uint32_t id);

/* ---- log.c ---- */

/* Log a line at level (VACCEL_LOG_ERROR..DEBUG) if the configured level
 * lets it through: "<level> message". */
void ar__vaccel_log(vaccel_log_level_t level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* A warning about a setting the user made ("<warn> message"), shown at
 * every level that shows errors: the default included. */
void ar__vaccel_log_setting(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- core.c ---- */

/* The configuration in force: bootstrap's, else the environment's (read
 * once). Never NULL. */
const struct vaccel_config *ar__vaccel_config(void);

/* ---- session.c ---- */

/* The broker's id of a live session, or -EINVAL (NULL, never initialized
 * or released). */
int ar__vaccel_session_remote(const struct vaccel_session *sess, uint32_t *id);

/* ---- resource.c ---- */

/* Whether res is registered with sess. */
bool ar__vaccel_resource_in(const struct vaccel_resource *res,
			    const struct vaccel_session *sess);

#endif /* ACCELRING_VACCEL_PVT_H */

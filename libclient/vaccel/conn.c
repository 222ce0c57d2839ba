/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The process's connection to the broker: one ar_client, made at the
 * first call that needs it, and a queue (channel) per thread.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "../client_pvt.h"
#include "vaccel_pvt.h"

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
/* Written under g_lock; read without it on every op (acquire pairs with
 * the release store after connecting). */
static struct ar_client *_Atomic g_client;

/*
 * A forked child is a new tenant: it must not share its parent's channels
 * (two processes on one SPSC ring), so it forgets the parent's client and
 * connects on its own at its next call. The parent's mappings and fds stay
 * in the child unused, as with any library state across fork().
 */
static void atfork_child(void)
{
	pthread_mutex_init(&g_lock, NULL);
	atomic_store_explicit(&g_client, NULL, memory_order_relaxed);
}

static void register_atfork(void)
{
	pthread_atfork(NULL, NULL, atfork_child);
}

/*
 * Once per client (at the process's first session, and again after a
 * cleanup): the library's version and where it connects, at debug; each
 * variable that was ignored or clamped, as a warning shown by default,
 * with what is used instead.
 */
static void log_client(const struct ar_client *c)
{
	const char *w = c->warnings;

	ar__vaccel_log(VACCEL_LOG_DEBUG, "accelring %s: broker at %s (%s)", ar_version(),
		       c->address, c->from);
	while (*w) {
		size_t n = strcspn(w, "\n");

		ar__vaccel_log_setting("accelring: %.*s", (int)n, w);
		w += n + (w[n] == '\n');
	}
}

int ar__vaccel_queue(struct ar_queue **q)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct ar_client *c = atomic_load_explicit(&g_client, memory_order_acquire);
	int ret = 0;

	if (!c) {
		pthread_once(&once, register_atfork);
		pthread_mutex_lock(&g_lock);
		c = atomic_load_explicit(&g_client, memory_order_relaxed);
		if (!c) {
			char why[512];

			ret = ar__client_open(NULL, &c, why, sizeof(why));
			if (!ret) {
				log_client(c);
				atomic_store_explicit(&g_client, c, memory_order_release);
			} else {
				ar__vaccel_log(VACCEL_LOG_ERROR, "accelring: %s", why);
			}
		}
		pthread_mutex_unlock(&g_lock);
		if (ret)
			return ret;
	}
	ret = ar_queue_get(c, q);
	if (ret) {
		const char *why = ar_client_error(c);

		ar__vaccel_log(VACCEL_LOG_ERROR, "accelring: no channel to the broker: %s",
			       why && *why ? why : strerror(-ret));
	}
	return ret;
}

bool ar__vaccel_connected(void)
{
	return atomic_load_explicit(&g_client, memory_order_acquire) != NULL;
}

void ar__vaccel_disconnect(void)
{
	pthread_mutex_lock(&g_lock);
	ar_client_close(atomic_exchange(&g_client, NULL));
	pthread_mutex_unlock(&g_lock);
}

int ar__vaccel_session_open(uint32_t flags, uint32_t *id)
{
	struct ar_queue *q;
	int ret = ar__vaccel_queue(&q);

	if (ret)
		return ret;
	ret = ar_session_open(q, flags, id);
	if (ret)
		ar__vaccel_log(VACCEL_LOG_ERROR, "accelring: the broker opened no session: %s%s%s",
			       strerror(-ret), ar_queue_error(q)[0] ? ": " : "",
			       ar_queue_error(q));
	return ret;
}

int ar__vaccel_session_close(uint32_t id)
{
	struct ar_queue *q;
	int ret = ar__vaccel_queue(&q);

	return ret ? ret : ar_session_close(q, id);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The process's connection to the broker: one ar_client, made at the
 * first call that needs it, and a queue (channel) per thread.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>

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
			ret = ar_client_connect(NULL, &c);
			if (!ret)
				atomic_store_explicit(&g_client, c, memory_order_release);
			else
				ar__vaccel_log(VACCEL_LOG_ERROR,
					       "accelring: bad broker address (%d)", ret);
		}
		pthread_mutex_unlock(&g_lock);
		if (ret)
			return ret;
	}
	ret = ar_queue_get(c, q);
	if (ret) {
		const char *why = ar_client_error(c);

		ar__vaccel_log(VACCEL_LOG_ERROR, "accelring: no channel to the broker: %s",
			       why && *why ? why : "connection failed");
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

	return ret ? ret : ar_session_open(q, flags, id);
}

int ar__vaccel_session_close(uint32_t id)
{
	struct ar_queue *q;
	int ret = ar__vaccel_queue(&q);

	return ret ? ret : ar_session_close(q, id);
}

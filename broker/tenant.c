/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tenants and their sessions. A tenant is a client process, identified by
 * the kernel (SO_PEERCRED at accept), or for stream transports a peer
 * address (a VM's vsock CID, a TCP source address), never by anything it
 * sends; all of a tenant's connections share its sessions. A session id names a session
 * only within its tenant's table, so an id guessed or copied from another
 * tenant finds nothing: EPERM, whether or not it exists elsewhere.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Sessions one tenant may hold open. */
#define MAX_SESSIONS 4096u

static pthread_mutex_t tenants_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ar_tenant *tenants;
static uint32_t next_tenant = 1;
/* Session ids are unique in the broker's lifetime, so a stale id can never
 * name a newer session. */
static _Atomic uint32_t next_session = 1;

struct ar_tenant *ar__tenant_get(const char *key)
{
	struct ar_tenant *t;

	pthread_mutex_lock(&tenants_lock);
	for (t = tenants; t; t = t->next)
		if (!strcmp(t->key, key))
			break;
	if (!t) {
		t = calloc(1, sizeof(*t));
		if (t) {
			t->id = next_tenant++;
			snprintf(t->key, sizeof(t->key), "%s", key);
			pthread_mutex_init(&t->lock, NULL);
			t->next = tenants;
			tenants = t;
		}
	}
	if (t)
		t->refs++;
	pthread_mutex_unlock(&tenants_lock);
	return t;
}

void ar__tenant_put(struct ar_tenant *t)
{
	struct ar_tenant **pp;

	pthread_mutex_lock(&tenants_lock);
	if (--t->refs) {
		pthread_mutex_unlock(&tenants_lock);
		return;
	}
	for (pp = &tenants; *pp != t; pp = &(*pp)->next)
		;
	*pp = t->next;
	pthread_mutex_unlock(&tenants_lock);
	if (t->nr_sessions)
		ar_info("tenant %u (%s) gone: released %u sessions", t->id,
			t->key, t->nr_sessions);
	pthread_mutex_destroy(&t->lock);
	free(t->sessions);
	free(t);
}

int64_t ar__session_open(struct ar_tenant *t, uint32_t flags)
{
	int64_t id;

	pthread_mutex_lock(&t->lock);
	if (t->nr_sessions == t->cap_sessions) {
		uint32_t cap = t->cap_sessions ? t->cap_sessions * 2 : 8;
		struct ar_session *s;

		if (cap > MAX_SESSIONS) {
			pthread_mutex_unlock(&t->lock);
			return -EMFILE;
		}
		s = realloc(t->sessions, cap * sizeof(*s));
		if (!s) {
			pthread_mutex_unlock(&t->lock);
			return -ENOMEM;
		}
		t->sessions = s;
		t->cap_sessions = cap;
	}
	id = atomic_fetch_add_explicit(&next_session, 1, memory_order_relaxed);
	t->sessions[t->nr_sessions++] = (struct ar_session){ (uint32_t)id, flags };
	pthread_mutex_unlock(&t->lock);
	return id;
}

int ar__session_close(struct ar_tenant *t, uint32_t id)
{
	int ret = -EPERM;

	pthread_mutex_lock(&t->lock);
	for (uint32_t i = 0; i < t->nr_sessions; i++) {
		if (t->sessions[i].id != id)
			continue;
		t->sessions[i] = t->sessions[--t->nr_sessions];
		/* Channels cache their last lookup; this invalidates it. */
		atomic_fetch_add_explicit(&t->gen, 1, memory_order_release);
		ret = 0;
		break;
	}
	pthread_mutex_unlock(&t->lock);
	return ret;
}

int ar__session_lookup(struct ar_tenant *t, uint32_t id, uint32_t *flags)
{
	int ret = -EPERM;

	pthread_mutex_lock(&t->lock);
	for (uint32_t i = 0; i < t->nr_sessions; i++) {
		if (t->sessions[i].id == id) {
			*flags = t->sessions[i].flags;
			ret = 0;
			break;
		}
	}
	pthread_mutex_unlock(&t->lock);
	return ret;
}

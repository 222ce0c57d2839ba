/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tenants, their sessions and their limits. A tenant is a user as the
 * kernel names it (the uid SO_PEERCRED gives at accept, after user
 * namespace mapping: a container's root is the host uid it maps to), or
 * for stream transports a peer address (a VM's vsock CID, a TCP source
 * address); never anything a client sends. All of a tenant's connections
 * share its sessions and its allowance of channels, sessions and region
 * memory (tenant-channels, tenant-sessions, tenant-shm), and of workers:
 * at most tenant-inflight of its ops execute at once, the rest wait in its
 * own submission rings, so a tenant with long ops on many channels cannot
 * occupy every worker (worker.c). A session lives as
 * long as the connection that opened it (a process that dies leaves none
 * behind), and any connection of its tenant may use it. A session id names
 * a session only within its tenant's table, so an id guessed or copied
 * from another tenant finds nothing: EPERM, whether or not it exists
 * elsewhere. The regions of its stream connections are broker memory (the
 * broker plays the client's side of them): they count against
 * stream-tenant-shm instead of tenant-shm.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static pthread_mutex_t tenants_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ar_tenant *tenants;
static uint32_t next_tenant = 1;
/* Session ids are unique in the broker's lifetime, so a stale id can never
 * name a newer session. */
static _Atomic uint32_t next_session = 1;
/* Who hears of a session's end (the plugins, main.c); set before any
 * tenant exists. */
static void (*session_hook)(uint32_t tenant, uint32_t session);

void ar__sessions_set_hook(void (*fn)(uint32_t tenant, uint32_t session))
{
	session_hook = fn;
}

static void session_ended(const struct ar_tenant *t, uint32_t id)
{
	if (session_hook)
		session_hook(t->id, id);
}

struct ar_tenant *ar__tenant_get(const struct ar_config *cfg, const char *key)
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
			t->max_channels = cfg->tenant_channels;
			t->max_sessions = cfg->tenant_sessions;
			t->max_inflight = cfg->tenant_inflight;
			t->max_long_ops = cfg->tenant_long_ops;
			t->max_shm = cfg->tenant_shm;
			t->max_stream_shm = cfg->stream_tenant_shm;
			t->max_res = cfg->tenant_resources;
			t->max_res_bytes = cfg->tenant_resource_bytes;
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
	for (uint32_t i = 0; i < t->nr_sessions; i++) {
		ar__res_session_gone(t, &t->sessions[i]);
		session_ended(t, t->sessions[i].id);
	}
	pthread_mutex_destroy(&t->lock);
	free(t->sessions);
	free(t);
}

int64_t ar__session_open(struct ar_tenant *t, uint32_t conn, uint32_t flags)
{
	int64_t id;

	pthread_mutex_lock(&t->lock);
	if (t->nr_sessions >= t->max_sessions) {
		/* Read under the lock: the loop drops a dead connection's
		 * sessions at teardown, on its own thread. */
		uint32_t open = t->nr_sessions;

		pthread_mutex_unlock(&t->lock);
		ar_info("tenant %u (%s): session refused: %u open, tenant-sessions %u",
			t->id, t->key, open, t->max_sessions);
		return -EDQUOT;
	}
	if (t->nr_sessions == t->cap_sessions) {
		uint32_t cap = t->cap_sessions ? t->cap_sessions * 2 : 8;
		struct ar_session *s;

		if (cap > t->max_sessions)
			cap = t->max_sessions;
		s = realloc(t->sessions, cap * sizeof(*s));
		if (!s) {
			pthread_mutex_unlock(&t->lock);
			return -ENOMEM;
		}
		t->sessions = s;
		t->cap_sessions = cap;
	}
	id = atomic_fetch_add_explicit(&next_session, 1, memory_order_relaxed);
	t->sessions[t->nr_sessions++] = (struct ar_session){ .id = (uint32_t)id,
							     .flags = flags, .conn = conn };
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
		ar__res_session_gone(t, &t->sessions[i]);
		t->sessions[i] = t->sessions[--t->nr_sessions];
		/* Channels cache their last lookup; this invalidates it. */
		atomic_fetch_add_explicit(&t->gen, 1, memory_order_release);
		ret = 0;
		break;
	}
	pthread_mutex_unlock(&t->lock);
	/* Outside the lock: a plugin may take a while to let go (a model). */
	if (!ret)
		session_ended(t, id);
	return ret;
}

void ar__sessions_drop(struct ar_tenant *t, uint32_t conn)
{
	uint32_t n = 0, *ids;

	pthread_mutex_lock(&t->lock);
	/* The ids, to tell the plugins after the lock; without memory for
	 * them, they hear of each under it. */
	ids = t->nr_sessions ? malloc(t->nr_sessions * sizeof(*ids)) : NULL;
	for (uint32_t i = 0; i < t->nr_sessions;) {
		if (t->sessions[i].conn == conn) {
			ar__res_session_gone(t, &t->sessions[i]);
			if (ids)
				ids[n] = t->sessions[i].id;
			else
				session_ended(t, t->sessions[i].id);
			t->sessions[i] = t->sessions[--t->nr_sessions];
			n++;
		} else {
			i++;
		}
	}
	if (n)
		atomic_fetch_add_explicit(&t->gen, 1, memory_order_release);
	pthread_mutex_unlock(&t->lock);
	for (uint32_t i = 0; ids && i < n; i++)
		session_ended(t, ids[i]);
	free(ids);
	if (n)
		ar_debug("tenant %u (%s): conn %u gone: closed its %u sessions",
			 t->id, t->key, conn, n);
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

int ar__tenant_take(struct ar_tenant *t, bool stream, uint32_t *nr, uint64_t fixed,
		    uint64_t per_ch, uint64_t *bytes, char *why, size_t cap)
{
	/* A stream connection's region is the broker's memory, not shared
	 * with the tenant: its own allowance. */
	uint64_t *held = stream ? &t->stream_shm : &t->shm;
	uint64_t max = stream ? t->max_stream_shm : t->max_shm;
	uint64_t left;
	int ret = 0;

	pthread_mutex_lock(&t->lock);
	left = max - *held;
	if (*nr > t->max_channels - t->channels)
		*nr = t->max_channels - t->channels;
	/* Fewer channels if their rings do not fit, but never none. */
	while (*nr && fixed + *nr * per_ch > left)
		(*nr)--;
	if (t->channels >= t->max_channels) {
		snprintf(why, cap, "tenant %s holds %u channels, tenant-channels is %u",
			 t->key, t->channels, t->max_channels);
		ret = -EDQUOT;
	} else if (!*nr) {
		snprintf(why, cap, "tenant %s holds %llu bytes of %s and asks %llu more, "
			 "%s is %llu", t->key, (unsigned long long)*held,
			 stream ? "stream connections" : "regions",
			 (unsigned long long)(fixed + per_ch),
			 stream ? "stream-tenant-shm" : "tenant-shm", (unsigned long long)max);
		ret = -EDQUOT;
	} else {
		*bytes = fixed + *nr * per_ch;
		t->channels += *nr;
		*held += *bytes;
	}
	pthread_mutex_unlock(&t->lock);
	return ret;
}

void ar__tenant_give_back(struct ar_tenant *t, bool stream, uint32_t nr,
			  uint64_t bytes)
{
	pthread_mutex_lock(&t->lock);
	t->channels -= nr;
	*(stream ? &t->stream_shm : &t->shm) -= bytes;
	pthread_mutex_unlock(&t->lock);
}

/* One item of an id list: "N" or "N-M". Returns the end, or NULL. */
static const char *id_item(const char *s, uint32_t *lo, uint32_t *hi)
{
	char *end;
	unsigned long a, b;

	if (*s < '0' || *s > '9')
		return NULL;
	a = strtoul(s, &end, 10);
	b = a;
	if (*end == '-') {
		if (end[1] < '0' || end[1] > '9')
			return NULL;
		b = strtoul(end + 1, &end, 10);
	}
	if (a > UINT32_MAX || b > UINT32_MAX || b < a)
		return NULL;
	*lo = (uint32_t)a;
	*hi = (uint32_t)b;
	return end;
}

/* Parse "N,N-M,..." (spaces allowed around commas); with found, also
 * whether id is in it. */
static int id_list_walk(const char *list, uint32_t id, bool *found)
{
	const char *s = list;

	while (*s) {
		uint32_t lo, hi;

		while (*s == ' ' || *s == ',')
			s++;
		if (!*s)
			break;
		s = id_item(s, &lo, &hi);
		if (!s)
			return -EINVAL;
		if (found && id >= lo && id <= hi)
			*found = true;
		while (*s == ' ')
			s++;
		if (*s && *s != ',')
			return -EINVAL;
	}
	return 0;
}

bool ar__id_in_list(const char *list, uint32_t id)
{
	bool found = false;

	return id_list_walk(list, id, &found) == 0 && found;
}

int ar__id_list_check(const char *list)
{
	return id_list_walk(list, 0, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What resource.c and session.c share (never installed): intrusive list
 * helpers, the id pools of both registries, and the registrations that tie
 * a resource to a session.
 *
 * A registration is one node on two lists: the resource's sessions list and
 * the session's resources[type] list. It is made and unmade only under
 * resource.c's registration lock, then under res->sessions_lock and
 * sess->resources_lock (in that order); readers of one side's list hold
 * that side's lock alone.
 */
#ifndef ACCELRING_VACCEL_RESOURCE_PVT_H
#define ACCELRING_VACCEL_RESOURCE_PVT_H

#include <stdbool.h>
#include <stdint.h>

#include <vaccel.h>

static inline void ar__list_init(struct vaccel_list_entry *head)
{
	head->next = head;
	head->prev = head;
}

static inline bool ar__list_empty(const struct vaccel_list_entry *head)
{
	return head->next == head;
}

static inline void ar__list_add_tail(struct vaccel_list_entry *head,
				     struct vaccel_list_entry *e)
{
	e->prev = head->prev;
	e->next = head;
	head->prev->next = e;
	head->prev = e;
}

/* Unlink e and leave it a lone node (upstream's tests check an unlinked
 * entry is empty). */
static inline void ar__list_del(struct vaccel_list_entry *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
	ar__list_init(e);
}

/*
 * Ids 1..max as upstream hands them out: the next one after the last
 * given while there are any, then the lowest freed one. The caller holds
 * the registry's lock.
 */
struct ar__id_pool {
	bool *used;		/* used[id - 1] */
	int64_t max;
	int64_t last;		/* the last id given */
};

/* A free id, or -VACCEL_EUSERS when all are in use. */
static inline int64_t ar__id_get(struct ar__id_pool *p)
{
	int64_t id;

	for (id = p->last + 1; id <= p->max; id++)
		if (!p->used[id - 1]) {
			p->last = id;
			goto take;
		}
	for (id = 1; id <= p->last; id++)
		if (!p->used[id - 1])
			goto take;
	return -VACCEL_EUSERS;
take:
	p->used[id - 1] = true;
	return id;
}

static inline void ar__id_put(struct ar__id_pool *p, int64_t id)
{
	if (id >= 1 && id <= p->max)
		p->used[id - 1] = false;
}

/* ---- resource.c, for session.c ---- */

/* The resource of a registration, from its node on a session's list. */
struct vaccel_resource *ar__vaccel_reg_resource(const struct vaccel_list_entry *e);

/*
 * Close sess to registrations and unregister every resource it holds:
 * *remote is its broker id, which is then 0 in sess (ops refuse it).
 * Returns 0, or -EINVAL if sess was not live (released meanwhile).
 */
int ar__vaccel_session_detach(struct vaccel_session *sess, uint32_t *remote);

#endif /* ACCELRING_VACCEL_RESOURCE_PVT_H */

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sessions: each is opened on the broker, whose id is remote_id, and kept
 * in a process-wide registry of live sessions (ids 1..1024, as upstream's).
 *
 * A live session has id > 0 and remote_id > 0. Release makes remote_id 0
 * first (under the registration lock: no resource is registered with it
 * after that, and ops refuse it) and id 0 last; both stay 0, so a second
 * release, an op or a lookup finds it released.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "resource_pvt.h"
#include "vaccel_pvt.h"

enum { SESSIONS_MAX = 1024 };

static bool ids_used[SESSIONS_MAX];

static struct {
	pthread_mutex_t lock;
	struct vaccel_list_entry all;
	struct ar__id_pool ids;
} registry = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.all = LIST_ENTRY_INIT(registry.all),
	.ids = { ids_used, SESSIONS_MAX, 0 },
};

/* A child forked while another thread held a registry lock would wait on
 * it forever: it starts with them unlocked (as conn.c does with its own). */
static void atfork_child(void)
{
	pthread_mutex_init(&registry.lock, NULL);
}

__attribute__((constructor)) static void register_atfork(void)
{
	pthread_atfork(NULL, NULL, atfork_child);
}

#define sess_of(e) \
	((struct vaccel_session *)(void *)((char *)(e) - offsetof(struct vaccel_session, entry)))

static bool session_live(const struct vaccel_session *sess)
{
	return sess && sess->id > 0 && sess->remote_id > 0;
}

int ar__vaccel_session_remote(const struct vaccel_session *sess, uint32_t *id)
{
	if (!session_live(sess))
		return -EINVAL;
	*id = (uint32_t)sess->remote_id;
	return 0;
}

static void put_id(vaccel_id_t id)
{
	pthread_mutex_lock(&registry.lock);
	ar__id_put(&registry.ids, id);
	pthread_mutex_unlock(&registry.lock);
}

/* <vaccel_rundir()>/session.<id>, made 0700, as upstream's. */
static int rundir_create(struct vaccel_session *sess)
{
	const char *root = vaccel_rundir();
	int n;

	if (!root)
		return VACCEL_ENOENT;
	n = snprintf(sess->rundir, sizeof(sess->rundir), "%s/session.%" PRId64, root,
		     sess->id);
	if (n < 0 || (size_t)n >= sizeof(sess->rundir))
		return VACCEL_ENAMETOOLONG;
	if (mkdir(sess->rundir, 0700))
		return errno;
	return 0;
}

/*
 * Open a session on the broker with flags (its plugin hint) and register
 * it. Returns 0, VACCEL_EINVAL, VACCEL_EUSERS (1024 live), or why the
 * broker (or the connection, or the run directory) refused.
 */
AR_VISIBLE int vaccel_session_init(struct vaccel_session *sess, uint32_t flags)
{
	uint32_t remote;
	int64_t id;
	int ret;

	if (!sess)
		return VACCEL_EINVAL;
	memset(sess, 0, sizeof(*sess));
	pthread_mutex_lock(&registry.lock);
	id = ar__id_get(&registry.ids);
	pthread_mutex_unlock(&registry.lock);
	if (id < 0)
		return (int)-id;
	sess->id = id;

	ret = ar__vaccel_session_open(flags, &remote);
	if (ret) {
		ret = ar__vaccel_err(ret);
		goto err;
	}
	/*
	 * The run directory is the client's own scratch space: a sandbox
	 * without a writable /tmp (a read-only or scratch container image)
	 * still gets its session, without one (upstream fails here; an
	 * accelring session lives on the broker).
	 */
	ret = rundir_create(sess);
	if (ret) {
		ar__vaccel_log(VACCEL_LOG_WARN,
			       "session %" PRId64 ": no run directory (%s): going on without",
			       id, strerror(ret));
		sess->rundir[0] = '\0';
	}
	sess->remote_id = remote;
	sess->hint = flags;
	sess->is_virtio = false;
	for (int t = 0; t < VACCEL_RESOURCE_MAX; t++)
		ar__list_init(&sess->resources[t]);
	pthread_mutex_init(&sess->resources_lock, NULL);

	pthread_mutex_lock(&registry.lock);
	ar__list_add_tail(&registry.all, &sess->entry);
	pthread_mutex_unlock(&registry.lock);
	return 0;
err:
	put_id(id);
	memset(sess, 0, sizeof(*sess));
	return ret;
}

/*
 * Unregister the session's resources, remove its run directory, close it
 * on the broker and take it out of the registry. A broker that cannot
 * close it (gone meanwhile) is a warning, as upstream's remote release
 * is: the session is released here all the same.
 */
AR_VISIBLE int vaccel_session_release(struct vaccel_session *sess)
{
	uint32_t remote;
	int ret;

	if (!sess || sess->id <= 0)
		return VACCEL_EINVAL;
	if (ar__vaccel_session_detach(sess, &remote))
		return VACCEL_EINVAL;

	pthread_mutex_destroy(&sess->resources_lock);
	if (sess->rundir[0] && rmdir(sess->rundir))
		ar__vaccel_log(VACCEL_LOG_WARN, "session %" PRId64 ": cannot remove %s: %m",
			       sess->id, sess->rundir);
	ret = ar__vaccel_session_close(remote);
	if (ret)
		ar__vaccel_log(VACCEL_LOG_WARN,
			       "session %" PRId64 ": broker could not close it (%d)",
			       sess->id, ar__vaccel_err(ret));
	sess->plugin = NULL;
	sess->priv = NULL;

	pthread_mutex_lock(&registry.lock);
	ar__list_del(&sess->entry);
	ar__id_put(&registry.ids, sess->id);
	sess->id = 0;
	pthread_mutex_unlock(&registry.lock);
	return 0;
}

AR_VISIBLE int vaccel_session_new(struct vaccel_session **sess, uint32_t flags)
{
	struct vaccel_session *s;
	int ret;

	if (!sess)
		return VACCEL_EINVAL;
	s = malloc(sizeof(*s));
	if (!s)
		return VACCEL_ENOMEM;
	ret = vaccel_session_init(s, flags);
	if (ret) {
		free(s);
		return ret;
	}
	*sess = s;
	return 0;
}

/* Release and free; kept if release fails (as upstream). */
AR_VISIBLE int vaccel_session_delete(struct vaccel_session *sess)
{
	int ret = vaccel_session_release(sess);

	if (!ret)
		free(sess);
	return ret;
}

static bool session_has_resources(struct vaccel_session *sess)
{
	bool any = false;

	pthread_mutex_lock(&sess->resources_lock);
	for (int t = 0; t < VACCEL_RESOURCE_MAX; t++)
		any |= sess->resource_counts[t] > 0;
	pthread_mutex_unlock(&sess->resources_lock);
	return any;
}

/*
 * New flags for a session without resources (VACCEL_ENOTSUP otherwise, as
 * upstream). The broker picks a session's plugins by the flags it was
 * opened with, so the session is opened again with the new ones and the
 * old one closed; on failure it stays as it was.
 */
static int session_update(struct vaccel_session *sess, uint32_t flags)
{
	uint32_t remote;
	int ret;

	if (!session_live(sess))
		return VACCEL_EINVAL;
	if (session_has_resources(sess))
		return VACCEL_ENOTSUP;
	if (flags == sess->hint)
		return 0;
	ret = ar__vaccel_session_open(flags, &remote);
	if (ret)
		return ar__vaccel_err(ret);
	if (ar__vaccel_session_close((uint32_t)sess->remote_id))
		ar__vaccel_log(VACCEL_LOG_WARN, "session %" PRId64 ": cannot close %" PRId64
			       " on the broker", sess->id, sess->remote_id);
	sess->remote_id = remote;
	sess->hint = flags;
	return 0;
}

AR_VISIBLE int vaccel_session_update(struct vaccel_session *sess, uint32_t flags)
{
	return session_update(sess, flags);
}

/* A live session by its id. */
AR_VISIBLE int vaccel_session_get_by_id(struct vaccel_session **sess, vaccel_id_t id)
{
	int ret = VACCEL_ENOENT;

	if (!sess)
		return VACCEL_EINVAL;
	pthread_mutex_lock(&registry.lock);
	for (struct vaccel_list_entry *e = registry.all.next; e != &registry.all;
	     e = e->next) {
		if (sess_of(e)->id == id) {
			*sess = sess_of(e);
			ret = 0;
			break;
		}
	}
	pthread_mutex_unlock(&registry.lock);
	return ret;
}

AR_VISIBLE bool vaccel_session_has_resource(struct vaccel_session *sess,
					    struct vaccel_resource *res)
{
	return ar__vaccel_resource_in(res, sess);
}

/* The resource registered with sess that has this id. */
AR_VISIBLE int vaccel_session_resource_by_id(struct vaccel_session *sess,
					     struct vaccel_resource **res, vaccel_id_t id)
{
	int ret = VACCEL_ENOENT;

	if (!sess || !res || id <= 0 || sess->id <= 0)
		return VACCEL_EINVAL;
	pthread_mutex_lock(&sess->resources_lock);
	for (int t = 0; t < VACCEL_RESOURCE_MAX && ret; t++)
		for (struct vaccel_list_entry *e = sess->resources[t].next;
		     e != &sess->resources[t]; e = e->next) {
			struct vaccel_resource *r = ar__vaccel_reg_resource(e);

			if (r->id == id) {
				*res = r;
				ret = 0;
				break;
			}
		}
	pthread_mutex_unlock(&sess->resources_lock);
	return ret;
}

/* The first resource of a type registered with sess. */
AR_VISIBLE int vaccel_session_resource_by_type(struct vaccel_session *sess,
					       struct vaccel_resource **res,
					       vaccel_resource_type_t type)
{
	int ret = VACCEL_ENOENT;

	if (!sess || !res || type >= VACCEL_RESOURCE_MAX || sess->id <= 0)
		return VACCEL_EINVAL;
	pthread_mutex_lock(&sess->resources_lock);
	if (!ar__list_empty(&sess->resources[type])) {
		*res = ar__vaccel_reg_resource(sess->resources[type].next);
		ret = 0;
	}
	pthread_mutex_unlock(&sess->resources_lock);
	return ret;
}

/* Every resource of a type registered with sess, in the order registered,
 * in a new array (*resources, for the caller to free). VACCEL_ENOENT with
 * *nr_found 0 if there are none. */
AR_VISIBLE int vaccel_session_resources_by_type(struct vaccel_session *sess,
						struct vaccel_resource ***resources,
						size_t *nr_found,
						vaccel_resource_type_t type)
{
	struct vaccel_resource **a = NULL;
	size_t n = 0;
	int ret = 0;

	if (!sess || !resources || !nr_found || type >= VACCEL_RESOURCE_MAX ||
	    sess->id <= 0)
		return VACCEL_EINVAL;
	pthread_mutex_lock(&sess->resources_lock);
	if (!sess->resource_counts[type]) {
		ret = VACCEL_ENOENT;
	} else if (!(a = calloc(sess->resource_counts[type], sizeof(*a)))) {
		ret = VACCEL_ENOMEM;
	} else {
		for (struct vaccel_list_entry *e = sess->resources[type].next;
		     e != &sess->resources[type]; e = e->next)
			a[n++] = ar__vaccel_reg_resource(e);
	}
	pthread_mutex_unlock(&sess->resources_lock);
	if (ret == VACCEL_ENOENT)
		*nr_found = 0;
	if (ret)
		return ret;
	*resources = a;
	*nr_found = n;
	return 0;
}

/* ---- deprecated names (upstream warns at each call) ---- */

static void deprecated(const char *old, const char *new)
{
	ar__vaccel_log(VACCEL_LOG_WARN, "%s() is deprecated. Please use %s() instead.",
		       old, new);
}

AR_VISIBLE int vaccel_sess_init(struct vaccel_session *sess, uint32_t flags)
{
	deprecated("vaccel_sess_init", "vaccel_session_init");
	return vaccel_session_init(sess, flags);
}

AR_VISIBLE int vaccel_sess_update(struct vaccel_session *sess, uint32_t flags)
{
	deprecated("vaccel_sess_update", "vaccel_session_update");
	return session_update(sess, flags);
}

AR_VISIBLE int vaccel_sess_free(struct vaccel_session *sess)
{
	deprecated("vaccel_sess_free", "vaccel_session_release");
	return vaccel_session_release(sess);
}

AR_VISIBLE bool vaccel_sess_has_resource(struct vaccel_session *sess,
					 struct vaccel_resource *res)
{
	deprecated("vaccel_sess_has_resource", "vaccel_session_has_resource");
	return vaccel_session_has_resource(sess, res);
}

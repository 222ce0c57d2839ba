/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Resources, their process-wide registry, and their registrations with
 * sessions (resource_pvt.h).
 *
 * A resource is made from paths (local files, one local directory, or
 * remote URLs), from a buffer, or from blobs. Its blobs are made when it
 * is first registered with a session (paths) or at init (buffer, blobs).
 * In this issue nothing of a resource travels to the broker: registering
 * is the client's bookkeeping, and a later issue ships the files.
 *
 * Locks, in the order they nest:
 *   reg_lock               makes and unmakes registrations, and a
 *                          resource's blobs once it is initialized
 *   res->sessions_lock     a resource's list of registrations
 *   sess->resources_lock   a session's lists of registrations and counts
 * and, alone, registry.lock for the registry's lists, counts and ids (and
 * res->id, which the registry's lookups read).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "resource_pvt.h"
#include "vaccel_pvt.h"

/* Live resources at most, as upstream's. */
enum { RESOURCES_MAX = 2048 };
/* Directory levels a LOCAL_DIR resource may have (a link to a parent
 * would otherwise recurse forever). */
enum { DIR_DEPTH_MAX = 32 };

_Static_assert(VACCEL_RESOURCE_MAX == 3, "registry lists below");

static bool ids_used[RESOURCES_MAX];

static struct {
	pthread_mutex_t lock;
	struct vaccel_list_entry all[VACCEL_RESOURCE_MAX];
	size_t count[VACCEL_RESOURCE_MAX];
	struct ar__id_pool ids;
} registry = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.all = { LIST_ENTRY_INIT(registry.all[0]), LIST_ENTRY_INIT(registry.all[1]),
		 LIST_ENTRY_INIT(registry.all[2]) },
	.ids = { ids_used, RESOURCES_MAX, 0 },
};

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;

/* A child forked while another thread held a registry lock would wait on
 * it forever: it starts with them unlocked (as conn.c does with its own). */
static void atfork_child(void)
{
	pthread_mutex_init(&registry.lock, NULL);
	pthread_mutex_init(&reg_lock, NULL);
}

__attribute__((constructor)) static void register_atfork(void)
{
	pthread_atfork(NULL, NULL, atfork_child);
}

/* A resource registered with a session: on both their lists. */
struct reg {
	struct vaccel_resource *res;
	struct vaccel_session *sess;
	struct vaccel_list_entry in_res;	/* on res->sessions */
	struct vaccel_list_entry in_sess;	/* on sess->resources[res->type] */
};

#define container_of(p, type, member) \
	((type *)(void *)((char *)(p) - offsetof(type, member)))

struct vaccel_resource *ar__vaccel_reg_resource(const struct vaccel_list_entry *e)
{
	return container_of(e, struct reg, in_sess)->res;
}

/* ---- the registry ---- */

static int take_id(struct vaccel_resource *res)
{
	int64_t id;

	pthread_mutex_lock(&registry.lock);
	id = ar__id_get(&registry.ids);
	pthread_mutex_unlock(&registry.lock);
	if (id < 0)
		return (int)-id;
	res->id = id;
	return 0;
}

static void put_id(struct vaccel_resource *res)
{
	pthread_mutex_lock(&registry.lock);
	ar__id_put(&registry.ids, res->id);
	res->id = 0;
	pthread_mutex_unlock(&registry.lock);
}

/* What every kind of resource starts with; then it is published. */
static void resource_start(struct vaccel_resource *res, vaccel_resource_type_t type)
{
	res->remote_id = 0;
	res->type = type;
	res->plugin_priv = NULL;
	ar__list_init(&res->sessions);
	pthread_mutex_init(&res->sessions_lock, NULL);
	atomic_init(&res->refcount, 0);

	pthread_mutex_lock(&registry.lock);
	ar__list_add_tail(&registry.all[type], &res->entry);
	registry.count[type]++;
	pthread_mutex_unlock(&registry.lock);
}

static void resource_unpublish(struct vaccel_resource *res)
{
	pthread_mutex_lock(&registry.lock);
	ar__list_del(&res->entry);
	registry.count[res->type]--;
	ar__id_put(&registry.ids, res->id);
	res->id = 0;
	pthread_mutex_unlock(&registry.lock);
}

/* ---- run directories and blobs ---- */

/* <vaccel_rundir()>/resource.<id>, made 0700, as upstream's. */
static int rundir_create(struct vaccel_resource *res)
{
	const char *root = vaccel_rundir();
	char path[PATH_MAX];
	int n;

	if (!root)
		return VACCEL_ENOENT;
	n = snprintf(path, sizeof(path), "%s/resource.%" PRId64, root, res->id);
	if (n < 0 || (size_t)n >= sizeof(path))
		return VACCEL_ENAMETOOLONG;
	if (mkdir(path, 0700))
		return errno;
	res->rundir = strdup(path);
	if (!res->rundir) {
		rmdir(path);
		return VACCEL_ENOMEM;
	}
	return 0;
}

static void rundir_destroy(struct vaccel_resource *res)
{
	if (!res->rundir)
		return;
	if (rmdir(res->rundir))
		ar__vaccel_log(VACCEL_LOG_WARN, "resource %" PRId64 ": cannot remove %s: %m",
			       res->id, res->rundir);
	free(res->rundir);
	res->rundir = NULL;
}

static void blobs_delete(struct vaccel_resource *res)
{
	for (size_t i = 0; res->blobs && i < res->nr_blobs; i++)
		if (res->blobs[i] && vaccel_blob_delete(res->blobs[i]))
			ar__vaccel_log(VACCEL_LOG_WARN,
				       "resource %" PRId64 ": cannot delete blob %zu",
				       res->id, i);
	free(res->blobs);
	res->blobs = NULL;
	res->nr_blobs = 0;
}

static void paths_free(struct vaccel_resource *res)
{
	for (size_t i = 0; res->paths && i < res->nr_paths; i++)
		free(res->paths[i]);
	free(res->paths);
	res->paths = NULL;
	res->nr_paths = 0;
}

/* One more blob slot in res->blobs (doubling). */
static int blobs_grow(struct vaccel_resource *res, size_t *cap)
{
	struct vaccel_blob **b;
	size_t n = *cap ? *cap * 2 : 8, bytes;

	if (res->nr_blobs < *cap)
		return 0;
	if (__builtin_mul_overflow(n, sizeof(*b), &bytes))
		return VACCEL_ENOMEM;
	b = realloc(res->blobs, bytes);
	if (!b)
		return VACCEL_ENOMEM;
	res->blobs = b;
	*cap = n;
	return 0;
}

static int blob_add(struct vaccel_resource *res, const char *path, size_t *cap)
{
	int ret = blobs_grow(res, cap);

	if (!ret)
		ret = vaccel_blob_new(&res->blobs[res->nr_blobs], path);
	if (!ret)
		res->nr_blobs++;
	return ret;
}

/* A FILE blob for every regular file under dir, at any depth (the files
 * of subdirectories are flattened, as upstream does). */
static int blobs_from_dir(struct vaccel_resource *res, const char *dir, int depth,
			  size_t *cap)
{
	struct dirent *d;
	DIR *dp;
	int ret = 0;

	if (depth > DIR_DEPTH_MAX)
		return VACCEL_ELOOP;
	dp = opendir(dir);
	if (!dp)
		return errno;
	while (!ret && (d = readdir(dp))) {
		char path[PATH_MAX];
		struct stat st;
		int n;

		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
			continue;
		n = snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
		if (n < 0 || (size_t)n >= sizeof(path))
			ret = VACCEL_ENAMETOOLONG;
		else if (stat(path, &st))
			ret = errno;
		else if (S_ISDIR(st.st_mode))
			ret = blobs_from_dir(res, path, depth + 1, cap);
		else if (S_ISREG(st.st_mode))
			ret = blob_add(res, path, cap);
	}
	closedir(dp);
	return ret;
}

static int blobs_from_paths(struct vaccel_resource *res)
{
	int ret;

	res->blobs = calloc(res->nr_paths, sizeof(*res->blobs));
	if (!res->blobs)
		return VACCEL_ENOMEM;
	for (size_t i = 0; i < res->nr_paths; i++) {
		ret = vaccel_blob_new(&res->blobs[i], res->paths[i]);
		if (ret)
			return ret;
		res->nr_blobs++;
	}
	return 0;
}

/*
 * The blobs of a resource made from paths, at its first registration
 * (under reg_lock), as upstream makes them for a local session:
 * LOCAL_FILE: a FILE blob per path, and the resource's rundir;
 * LOCAL_DIR: a FILE blob per file in the directory;
 * REMOTE_FILE: none. Upstream fetches the URL here unless the session's
 * plugin runs elsewhere, whose host fetches it; our sessions run on the
 * broker, so the URL stays as it is for the broker (a later issue).
 */
static int resource_add_blobs(struct vaccel_resource *res)
{
	size_t cap = 0;
	int ret = 0;

	if (res->blobs || !res->paths)
		return 0;
	switch (res->path_type) {
	case VACCEL_PATH_LOCAL_FILE:
		ret = res->rundir ? 0 : rundir_create(res);
		if (!ret)
			ret = blobs_from_paths(res);
		if (ret)
			rundir_destroy(res);
		break;
	case VACCEL_PATH_LOCAL_DIR:
		ret = blobs_from_dir(res, res->paths[0], 0, &cap);
		break;
	case VACCEL_PATH_REMOTE_FILE:
		return 0;
	default:
		return VACCEL_EINVAL;
	}
	if (ret) {
		ar__vaccel_log(VACCEL_LOG_ERROR, "resource %" PRId64 ": cannot add files: %s",
			       res->id, strerror(ret));
		blobs_delete(res);
	}
	return ret;
}

/* ---- paths ---- */

static bool is_remote_scheme(const char *uri, size_t len)
{
	static const char *const schemes[] = { "http", "https", "ftp", "ftps" };

	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (strlen(schemes[i]) == len && !strncmp(uri, schemes[i], len))
			return true;
	return false;
}

/*
 * What a path names, as upstream reads it: "<http|https|ftp|ftps>://host..."
 * is a REMOTE_FILE (kept whole), "file://<path>" or a bare path an existing
 * file (LOCAL_FILE) or directory (LOCAL_DIR). Anything else (another
 * scheme, a missing path) is VACCEL_EINVAL. *local points into uri.
 */
static int parse_path(const char *uri, const char **local, vaccel_path_type_t *type)
{
	const char *sep = strstr(uri, "://");
	const char *p = uri;
	struct stat st;

	if (sep && is_remote_scheme(uri, (size_t)(sep - uri))) {
		if (!sep[3] || sep[3] == '/')
			return VACCEL_EINVAL;
		if (strlen(uri) >= PATH_MAX)
			return VACCEL_ENAMETOOLONG;
		*type = VACCEL_PATH_REMOTE_FILE;
		*local = uri;
		return 0;
	}
	if (sep) {
		if (sep - uri != 4 || strncmp(uri, "file", 4))
			return VACCEL_EINVAL;
		p = sep + 3;
	}
	if (strlen(p) >= PATH_MAX)
		return VACCEL_ENAMETOOLONG;
	if (stat(p, &st))
		return VACCEL_EINVAL;
	if (S_ISDIR(st.st_mode))
		*type = VACCEL_PATH_LOCAL_DIR;
	else if (S_ISREG(st.st_mode))
		*type = VACCEL_PATH_LOCAL_FILE;
	else
		return VACCEL_EINVAL;
	*local = p;
	return 0;
}

/* res->paths and path_type from paths: all of one type, and a directory
 * only alone (upstream: VACCEL_ENOTSUP for more than one). */
static int resource_set_paths(struct vaccel_resource *res, const char **paths,
			      size_t nr_paths)
{
	int ret;

	res->paths = calloc(nr_paths, sizeof(*res->paths));
	if (!res->paths)
		return VACCEL_ENOMEM;
	res->nr_paths = nr_paths;
	for (size_t i = 0; i < nr_paths; i++) {
		vaccel_path_type_t type;
		const char *p;

		if (!paths[i])
			return VACCEL_EINVAL;
		ret = parse_path(paths[i], &p, &type);
		if (ret) {
			ar__vaccel_log(VACCEL_LOG_ERROR, "resource: invalid path %s",
				       paths[i]);
			return ret;
		}
		if (i == 0)
			res->path_type = type;
		else if (type == VACCEL_PATH_LOCAL_DIR)
			return VACCEL_ENOTSUP;
		else if (type != res->path_type)
			return VACCEL_EINVAL;
		res->paths[i] = strdup(p);
		if (!res->paths[i])
			return VACCEL_ENOMEM;
	}
	return 0;
}

static void resource_clear(struct vaccel_resource *res)
{
	res->id = 0;
	res->remote_id = 0;
	res->path_type = VACCEL_PATH_LOCAL_FILE;
	res->paths = NULL;
	res->nr_paths = 0;
	res->rundir = NULL;
	res->blobs = NULL;
	res->nr_blobs = 0;
	res->plugin_priv = NULL;
	ar__list_init(&res->entry);
	ar__list_init(&res->sessions);
	atomic_init(&res->refcount, 0);
}

/* ---- init and release ---- */

AR_VISIBLE int vaccel_resource_init_multi(struct vaccel_resource *res, const char **paths,
					  size_t nr_paths, vaccel_resource_type_t type)
{
	int ret;

	if (!res || !paths || !nr_paths || type >= VACCEL_RESOURCE_MAX)
		return VACCEL_EINVAL;
	resource_clear(res);
	ret = resource_set_paths(res, paths, nr_paths);
	if (!ret)
		ret = take_id(res);
	if (ret) {
		paths_free(res);
		return ret;
	}
	resource_start(res, type);
	return 0;
}

AR_VISIBLE int vaccel_resource_init(struct vaccel_resource *res, const char *path,
				    vaccel_resource_type_t type)
{
	return vaccel_resource_init_multi(res, &path, 1, type);
}

/*
 * A resource of one blob from a buffer: persisted as filename (or "file"
 * with a random part) in the resource's rundir, or, with mem_only, the
 * caller's buffer itself (not copied, as upstream: it must outlive the
 * resource).
 */
AR_VISIBLE int vaccel_resource_init_from_buf(struct vaccel_resource *res, const void *buf,
					     size_t nr_bytes, vaccel_resource_type_t type,
					     const char *filename, bool mem_only)
{
	int ret;

	if (!res || !buf || !nr_bytes || type >= VACCEL_RESOURCE_MAX)
		return VACCEL_EINVAL;
	resource_clear(res);
	ret = take_id(res);
	if (ret)
		return ret;
	ret = VACCEL_ENOMEM;
	res->blobs = calloc(1, sizeof(*res->blobs));
	if (!res->blobs)
		goto err;
	if (!mem_only && (ret = rundir_create(res)))
		goto err;
	ret = vaccel_blob_from_buf(&res->blobs[0], buf, nr_bytes, false,
				   filename ? filename : "file", res->rundir, !filename);
	if (ret)
		goto err;
	res->nr_blobs = 1;
	resource_start(res, type);
	return 0;
err:
	free(res->blobs);
	res->blobs = NULL;
	rundir_destroy(res);
	put_id(res);
	return ret;
}

/* A copy of a blob for a resource: a file by its path, a buffer as it is
 * (a copy of the bytes if the original owns them), a mapped file persisted
 * again in the resource's rundir. */
static int blob_copy(struct vaccel_resource *res, const struct vaccel_blob *b,
		     struct vaccel_blob **out)
{
	if (b->type == VACCEL_BLOB_FILE)
		return vaccel_blob_new(out, b->path);
	return vaccel_blob_from_buf(out, b->data, b->size, b->data_owned, b->name,
				    b->type == VACCEL_BLOB_BUFFER ? NULL : res->rundir,
				    false);
}

AR_VISIBLE int vaccel_resource_init_from_blobs(struct vaccel_resource *res,
					       const struct vaccel_blob **blobs,
					       size_t nr_blobs, vaccel_resource_type_t type)
{
	bool need_rundir = false;
	int ret;

	if (!res || !blobs || !nr_blobs || type >= VACCEL_RESOURCE_MAX)
		return VACCEL_EINVAL;
	for (size_t i = 0; i < nr_blobs; i++) {
		if (!vaccel_blob_valid(blobs[i]))
			return VACCEL_EINVAL;
		need_rundir |= blobs[i]->type != VACCEL_BLOB_BUFFER;
	}
	resource_clear(res);
	ret = take_id(res);
	if (ret)
		return ret;
	ret = VACCEL_ENOMEM;
	res->blobs = calloc(nr_blobs, sizeof(*res->blobs));
	if (!res->blobs)
		goto err;
	if (need_rundir && (ret = rundir_create(res)))
		goto err;
	for (size_t i = 0; i < nr_blobs; i++) {
		ret = blob_copy(res, blobs[i], &res->blobs[i]);
		if (ret)
			goto err;
		res->nr_blobs++;
	}
	resource_start(res, type);
	return 0;
err:
	blobs_delete(res);
	rundir_destroy(res);
	put_id(res);
	return ret;
}

static int remote_unregister(struct vaccel_resource *res, struct vaccel_session *sess);

static void reg_link(struct reg *r)
{
	pthread_mutex_lock(&r->res->sessions_lock);
	pthread_mutex_lock(&r->sess->resources_lock);
	ar__list_add_tail(&r->res->sessions, &r->in_res);
	ar__list_add_tail(&r->sess->resources[r->res->type], &r->in_sess);
	r->sess->resource_counts[r->res->type]++;
	atomic_fetch_add(&r->res->refcount, 1);
	pthread_mutex_unlock(&r->sess->resources_lock);
	pthread_mutex_unlock(&r->res->sessions_lock);
}

/* Unlink and free a registration (under reg_lock). */
static void reg_drop(struct reg *r)
{
	pthread_mutex_lock(&r->res->sessions_lock);
	pthread_mutex_lock(&r->sess->resources_lock);
	ar__list_del(&r->in_res);
	ar__list_del(&r->in_sess);
	r->sess->resource_counts[r->res->type]--;
	atomic_fetch_sub(&r->res->refcount, 1);
	pthread_mutex_unlock(&r->sess->resources_lock);
	pthread_mutex_unlock(&r->res->sessions_lock);
	free(r);
}

/* res's registration with sess, or NULL (under reg_lock or
 * res->sessions_lock). */
static struct reg *reg_find(const struct vaccel_resource *res,
			    const struct vaccel_session *sess)
{
	for (struct vaccel_list_entry *e = res->sessions.next; e != &res->sessions;
	     e = e->next) {
		struct reg *r = container_of(e, struct reg, in_res);

		if (r->sess == sess)
			return r;
	}
	return NULL;
}

/*
 * Unregister the resource from every session it is registered with (as
 * upstream does) and free all it holds. The resource is left
 * uninitialized: a second release is VACCEL_EINVAL.
 */
AR_VISIBLE int vaccel_resource_release(struct vaccel_resource *res)
{
	if (!res || res->id <= 0)
		return VACCEL_EINVAL;

	pthread_mutex_lock(&reg_lock);
	while (!ar__list_empty(&res->sessions)) {
		struct reg *r = container_of(res->sessions.next, struct reg, in_res);

		(void)remote_unregister(res, r->sess);
		reg_drop(r);
	}
	res->remote_id = 0;
	pthread_mutex_unlock(&reg_lock);

	pthread_mutex_destroy(&res->sessions_lock);
	blobs_delete(res);
	rundir_destroy(res);
	paths_free(res);
	res->plugin_priv = NULL;
	resource_unpublish(res);
	return 0;
}

/* ---- allocating forms ---- */

static int resource_alloc(struct vaccel_resource **res, struct vaccel_resource **r)
{
	if (!res)
		return VACCEL_EINVAL;
	*r = malloc(sizeof(**r));
	return *r ? 0 : VACCEL_ENOMEM;
}

static int resource_done(struct vaccel_resource **res, struct vaccel_resource *r, int ret)
{
	if (ret)
		free(r);
	else
		*res = r;
	return ret;
}

AR_VISIBLE int vaccel_resource_multi_new(struct vaccel_resource **res, const char **paths,
					 size_t nr_paths, vaccel_resource_type_t type)
{
	struct vaccel_resource *r;
	int ret = resource_alloc(res, &r);

	if (ret)
		return ret;
	return resource_done(res, r, vaccel_resource_init_multi(r, paths, nr_paths, type));
}

AR_VISIBLE int vaccel_resource_new(struct vaccel_resource **res, const char *path,
				   vaccel_resource_type_t type)
{
	return vaccel_resource_multi_new(res, &path, 1, type);
}

AR_VISIBLE int vaccel_resource_from_buf(struct vaccel_resource **res, const void *buf,
					size_t nr_bytes, vaccel_resource_type_t type,
					const char *filename, bool mem_only)
{
	struct vaccel_resource *r;
	int ret = resource_alloc(res, &r);

	if (ret)
		return ret;
	return resource_done(res, r, vaccel_resource_init_from_buf(r, buf, nr_bytes, type,
								   filename, mem_only));
}

AR_VISIBLE int vaccel_resource_from_blobs(struct vaccel_resource **res,
					  const struct vaccel_blob **blobs,
					  size_t nr_blobs, vaccel_resource_type_t type)
{
	struct vaccel_resource *r;
	int ret = resource_alloc(res, &r);

	if (ret)
		return ret;
	return resource_done(res, r, vaccel_resource_init_from_blobs(r, blobs, nr_blobs,
								     type));
}

/* Release and free; kept if release fails. */
AR_VISIBLE int vaccel_resource_delete(struct vaccel_resource *res)
{
	int ret = vaccel_resource_release(res);

	if (!ret)
		free(res);
	return ret;
}

/* ---- registration ---- */

/*
 * The broker's side of a registration (under reg_lock): the first ships
 * res's blobs to the broker in a sealed memfd (ar_resource_pack), later
 * ones attach the id it gave; a resource the broker freed meanwhile (its
 * last session went) is shipped again.
 */
static int remote_register(struct vaccel_resource *res, struct vaccel_session *sess)
{
	struct ar_res_piece pieces[AR_WIRE_MAX_FILES];
	struct ar_res_file files[AR_WIRE_MAX_FILES];
	struct ar_queue *q;
	uint64_t bytes, id = 0;
	uint32_t sid, n = 0;
	int fd, ret;

	if (ar__vaccel_session_remote(sess, &sid))
		return VACCEL_EINVAL;
	if ((ret = ar__vaccel_queue(&q)))
		return ar__vaccel_err(ret);
	if (res->remote_id > 0) {
		ret = ar_resource_attach(q, sid, (uint64_t)res->remote_id);
		if (ret != -ENOENT)
			goto out;
		res->remote_id = 0;
	}
	if (!res->nr_blobs) {
		ar__vaccel_log(VACCEL_LOG_ERROR, "resource %" PRId64 ": nothing to ship%s",
			       res->id, res->path_type == VACCEL_PATH_REMOTE_FILE ?
			       " (remote files are not fetched: built without libcurl)" : "");
		return res->path_type == VACCEL_PATH_REMOTE_FILE ? VACCEL_ENOTSUP : VACCEL_EINVAL;
	}
	if (res->nr_blobs > AR_WIRE_MAX_FILES) {
		ar__vaccel_log(VACCEL_LOG_ERROR, "resource %" PRId64 ": %zu files, at most %u",
			       res->id, res->nr_blobs, AR_WIRE_MAX_FILES);
		return VACCEL_EINVAL;
	}
	for (; n < res->nr_blobs; n++) {
		const struct vaccel_blob *b = res->blobs[n];
		struct stat st;

		pieces[n] = (struct ar_res_piece){ .name = b->name, .fd = -1 };
		if (b->data) {
			pieces[n].data = b->data;
			pieces[n].size = b->size;
			continue;
		}
		pieces[n].fd = b->path ? open(b->path, O_RDONLY | O_CLOEXEC) : -1;
		if (pieces[n].fd < 0 || fstat(pieces[n].fd, &st)) {
			ret = -errno;
			ar__vaccel_log(VACCEL_LOG_ERROR, "resource %" PRId64 ": cannot read %s: %m",
				       res->id, b->path ? b->path : "(no path)");
			if (pieces[n].fd >= 0)
				close(pieces[n].fd);
			goto close_files;
		}
		pieces[n].size = (uint64_t)st.st_size;
	}
	fd = ar_resource_pack(pieces, n, files, &bytes);
	if (fd < 0) {
		ret = fd;
		ar__vaccel_log(VACCEL_LOG_ERROR, "resource %" PRId64 ": cannot pack it: %s",
			       res->id, strerror(-ret));
		goto close_files;
	}
	ret = ar_resource_register(q, sid, res->type, fd, bytes, files, n, &id);
	close(fd);
	if (!ret)
		res->remote_id = (vaccel_id_t)id;
close_files:
	for (uint32_t i = 0; i < n; i++)
		if (pieces[i].fd >= 0)
			close(pieces[i].fd);
out:
	if (ret)
		ar__vaccel_log(VACCEL_LOG_ERROR, "resource %" PRId64 ": the broker refused it: %s%s%s",
			       res->id, strerror(-ret), ar_queue_error(q)[0] ? ": " : "",
			       ar_queue_error(q));
	return ar__vaccel_err(ret);
}

/* The broker's side of an unregistration; the session may be gone. */
static int remote_unregister(struct vaccel_resource *res, struct vaccel_session *sess)
{
	struct ar_queue *q;
	uint32_t sid;
	int ret;

	if (res->remote_id <= 0 || ar__vaccel_session_remote(sess, &sid))
		return 0;
	if ((ret = ar__vaccel_queue(&q)))
		return ar__vaccel_err(ret);
	ret = ar_resource_unregister(q, sid, (uint64_t)res->remote_id);
	if (ret)
		ar__vaccel_log(VACCEL_LOG_WARN, "resource %" PRId64 ": unregistering it from "
			       "session %" PRId64 " on the broker: %s", res->id, sess->id,
			       strerror(-ret));
	return ar__vaccel_err(ret);
}

/*
 * Register res with a live session: its blobs are made at the first
 * registration (resource_add_blobs). Registering it again with the same
 * session is a no-op (VACCEL_OK, as upstream).
 */
AR_VISIBLE int vaccel_resource_register(struct vaccel_resource *res,
					struct vaccel_session *sess)
{
	struct reg *r;
	int ret = 0;

	if (!res || !sess || res->path_type >= VACCEL_PATH_MAX || res->id <= 0 ||
	    sess->id <= 0)
		return VACCEL_EINVAL;

	pthread_mutex_lock(&reg_lock);
	/* A session being released is closed to registrations. */
	if (sess->remote_id <= 0) {
		ret = VACCEL_EINVAL;
		goto out;
	}
	ret = resource_add_blobs(res);
	if (ret || reg_find(res, sess))
		goto out;
	ret = remote_register(res, sess);
	if (ret)
		goto out;
	r = malloc(sizeof(*r));
	if (!r) {
		(void)remote_unregister(res, sess);
		ret = VACCEL_ENOMEM;
		goto out;
	}
	r->res = res;
	r->sess = sess;
	reg_link(r);
out:
	pthread_mutex_unlock(&reg_lock);
	return ret;
}

/* Unregister res from sess: VACCEL_EINVAL if it is not registered. */
AR_VISIBLE int vaccel_resource_unregister(struct vaccel_resource *res,
					  struct vaccel_session *sess)
{
	struct reg *r;

	if (!res || !sess || res->id <= 0)
		return VACCEL_EINVAL;
	int ret = 0;

	pthread_mutex_lock(&reg_lock);
	r = reg_find(res, sess);
	if (r) {
		ret = remote_unregister(res, sess);
		reg_drop(r);
	}
	pthread_mutex_unlock(&reg_lock);
	return r ? ret : VACCEL_EINVAL;
}

/*
 * Bring a buffer resource's bytes to sess's side. Refused (VACCEL_EPERM)
 * for a resource not registered with sess, VACCEL_EINVAL for one that is
 * not a buffer. The broker's copy is sealed (it cannot change on the
 * host), so there is nothing to bring back: the client's bytes are the
 * resource's.
 */
AR_VISIBLE int vaccel_resource_sync(struct vaccel_resource *res,
				    struct vaccel_session *sess)
{
	int ret = 0;

	if (!res || !sess || res->id <= 0)
		return VACCEL_EINVAL;
	if (!ar__vaccel_resource_in(res, sess))
		return VACCEL_EPERM;
	pthread_mutex_lock(&reg_lock);
	if (!res->blobs || !res->nr_blobs || !res->blobs[0] ||
	    res->blobs[0]->type != VACCEL_BLOB_BUFFER)
		ret = VACCEL_EINVAL;
	pthread_mutex_unlock(&reg_lock);
	return ret;
}

bool ar__vaccel_resource_in(const struct vaccel_resource *res,
			    const struct vaccel_session *sess)
{
	pthread_mutex_t *lock;
	bool in;

	if (!res || !sess || res->id <= 0)
		return false;
	lock = (pthread_mutex_t *)&res->sessions_lock;
	pthread_mutex_lock(lock);
	in = reg_find(res, sess) != NULL;
	pthread_mutex_unlock(lock);
	return in;
}

int ar__vaccel_session_detach(struct vaccel_session *sess, uint32_t *remote)
{
	int ret = 0;

	pthread_mutex_lock(&reg_lock);
	if (sess->remote_id <= 0) {
		ret = -EINVAL;
		goto out;
	}
	*remote = (uint32_t)sess->remote_id;
	sess->remote_id = 0;
	for (int t = 0; t < VACCEL_RESOURCE_MAX; t++)
		while (!ar__list_empty(&sess->resources[t]))
			reg_drop(container_of(sess->resources[t].next, struct reg,
					      in_sess));
out:
	pthread_mutex_unlock(&reg_lock);
	return ret;
}

/* The number of sessions res is registered with, or -VACCEL_EINVAL. */
AR_VISIBLE long vaccel_resource_refcount(const struct vaccel_resource *res)
{
	if (!res)
		return -VACCEL_EINVAL;
	return (long)atomic_load(&res->refcount);
}

/*
 * The directory of a LOCAL_DIR resource (VACCEL_ENOTSUP for others):
 * copied to out_path (out_path_size bytes; VACCEL_EINVAL if too small) or,
 * given alloc_path, a new string there.
 */
AR_VISIBLE int vaccel_resource_directory(struct vaccel_resource *res, char *out_path,
					 size_t out_path_size, char **alloc_path)
{
	const char *dir;

	if (!res || (!out_path && !alloc_path) || res->id <= 0)
		return VACCEL_EINVAL;
	if (res->path_type != VACCEL_PATH_LOCAL_DIR)
		return VACCEL_ENOTSUP;
	dir = res->rundir;
	if (!dir && (!res->paths || !res->nr_paths || !(dir = res->paths[0])))
		return VACCEL_EINVAL;
	if (alloc_path) {
		*alloc_path = strdup(dir);
		return *alloc_path ? 0 : VACCEL_ENOMEM;
	}
	if (strlen(dir) >= out_path_size)
		return VACCEL_EINVAL;
	strcpy(out_path, dir);
	return 0;
}

/* ---- lookups ---- */

AR_VISIBLE int vaccel_resource_get_by_id(struct vaccel_resource **res, vaccel_id_t id)
{
	int ret = VACCEL_ENOENT;

	if (!res)
		return VACCEL_EINVAL;
	pthread_mutex_lock(&registry.lock);
	for (int t = 0; t < VACCEL_RESOURCE_MAX && ret; t++)
		for (struct vaccel_list_entry *e = registry.all[t].next;
		     e != &registry.all[t]; e = e->next) {
			struct vaccel_resource *r =
				container_of(e, struct vaccel_resource, entry);

			if (r->id == id) {
				*res = r;
				ret = 0;
				break;
			}
		}
	pthread_mutex_unlock(&registry.lock);
	return ret;
}

/* The oldest live resource of a type. */
AR_VISIBLE int vaccel_resource_get_by_type(struct vaccel_resource **res,
					   vaccel_resource_type_t type)
{
	int ret = VACCEL_ENOENT;

	if (!res || type >= VACCEL_RESOURCE_MAX)
		return VACCEL_EINVAL;
	pthread_mutex_lock(&registry.lock);
	if (!ar__list_empty(&registry.all[type])) {
		*res = container_of(registry.all[type].next, struct vaccel_resource, entry);
		ret = 0;
	}
	pthread_mutex_unlock(&registry.lock);
	return ret;
}

/* Every live resource of a type, oldest first, in a new array (*res, for
 * the caller to free). VACCEL_ENOENT with *nr_found 0 if there are none. */
AR_VISIBLE int vaccel_resource_get_all_by_type(struct vaccel_resource ***res,
					       size_t *nr_found,
					       vaccel_resource_type_t type)
{
	struct vaccel_resource **a = NULL;
	size_t n = 0;
	int ret = 0;

	if (!res || !nr_found || type >= VACCEL_RESOURCE_MAX)
		return VACCEL_EINVAL;
	pthread_mutex_lock(&registry.lock);
	if (!registry.count[type]) {
		ret = VACCEL_ENOENT;
	} else if (!(a = calloc(registry.count[type], sizeof(*a)))) {
		ret = VACCEL_ENOMEM;
	} else {
		for (struct vaccel_list_entry *e = registry.all[type].next;
		     e != &registry.all[type]; e = e->next)
			a[n++] = container_of(e, struct vaccel_resource, entry);
	}
	pthread_mutex_unlock(&registry.lock);
	if (ret == VACCEL_ENOENT)
		*nr_found = 0;
	if (ret)
		return ret;
	*res = a;
	*nr_found = n;
	return 0;
}

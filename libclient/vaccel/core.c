/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bootstrap and cleanup, the configuration in force, the run directory.
 *
 * As upstream, the library bootstraps from its constructor (unless
 * VACCEL_BOOTSTRAP_ENABLED=0) and cleans up from its destructor (unless
 * VACCEL_CLEANUP_ENABLED=0). What differs by design: plugins run in the
 * broker, so bootstrap loads none (VACCEL_PLUGINS is only recorded), and
 * bootstrap does not connect: conn.c connects at the first session, so a
 * process that never opens one needs no broker.
 *
 * The configuration is published as an immutable snapshot: ops read it
 * (vaccel_prof_enabled(), the log level) with one atomic load and no lock,
 * while bootstrap and cleanup replace it under core_lock. A snapshot that
 * is replaced is kept (on the retired list, reachable) rather than freed,
 * because another thread may still be reading it; there is one per
 * bootstrap.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vaccel_pvt.h"

/* How deep cleanup goes into the run directory (sessions put one level of
 * directories in it; resources may add a few more). */
enum { RUNDIR_MAX_DEPTH = 16 };

struct snapshot {
	struct vaccel_config cfg;
	struct snapshot *next;
};

static pthread_mutex_t core_lock = PTHREAD_MUTEX_INITIALIZER;
/* Bootstrap's configuration, NULL when not initialized. Stored under
 * core_lock with release, loaded with acquire by ar__vaccel_config(). */
static struct vaccel_config *_Atomic g_cfg;
/* Snapshots replaced by a later bootstrap or a cleanup; under core_lock. */
static struct snapshot *g_retired;
static atomic_bool g_initialized;

/* The environment's configuration, read once (env_once); the defaults if
 * it cannot be read. */
static pthread_once_t env_once = PTHREAD_ONCE_INIT;
static struct vaccel_config env_cfg;
static const struct vaccel_config defaults = { .log_level = VACCEL_LOG_ERROR };
static const struct vaccel_config *env_in_force = &defaults;

static pthread_mutex_t rundir_lock = PTHREAD_MUTEX_INITIALIZER;
/* The run directory and the process that made it; under rundir_lock. */
static char rundir[PATH_MAX];
static pid_t rundir_pid;

static void env_read(void)
{
	if (!vaccel_config_init_from_env(&env_cfg))
		env_in_force = &env_cfg;
}

const struct vaccel_config *ar__vaccel_config(void)
{
	const struct vaccel_config *c = atomic_load_explicit(&g_cfg, memory_order_acquire);

	if (c)
		return c;
	pthread_once(&env_once, env_read);
	return env_in_force;
}

AR_VISIBLE const struct vaccel_config *vaccel_config(void)
{
	return ar__vaccel_config();
}

AR_VISIBLE bool vaccel_is_initialized(void)
{
	return atomic_load(&g_initialized);
}

/* ---- the run directory ---- */

/*
 * A parent we may create our directory in: a real directory (not a link)
 * of ours that nobody else can write to. /tmp/vaccel.<uid> may have been
 * made by someone else first.
 */
static int parent_ok(const char *path)
{
	struct stat st;

	if (mkdir(path, 0700) && errno != EEXIST)
		return errno;
	if (lstat(path, &st))
		return errno;
	if (!S_ISDIR(st.st_mode) || st.st_uid != getuid() || (st.st_mode & 022))
		return EPERM;
	return 0;
}

static int make_rundir_locked(void)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	char parent[PATH_MAX];
	int ret = ENOENT;

	if (xdg && *xdg &&
	    snprintf(parent, sizeof(parent), "%s/vaccel", xdg) < (int)sizeof(parent))
		ret = parent_ok(parent);
	if (ret) {
		snprintf(parent, sizeof(parent), "/tmp/vaccel.%u", (unsigned)getuid());
		ret = parent_ok(parent);
	}
	if (!ret && snprintf(rundir, sizeof(rundir), "%s/XXXXXX", parent) >= (int)sizeof(rundir))
		ret = ENAMETOOLONG;
	if (!ret && !mkdtemp(rundir))
		ret = errno;
	if (ret) {
		/* In a user namespace /tmp/vaccel.<uid> may be another
		 * user's (uid 0 inside is not uid 0 outside): a directory of
		 * our own right in /tmp, if there is one. */
		snprintf(parent, sizeof(parent), "/tmp");
		snprintf(rundir, sizeof(rundir), "/tmp/vaccel.XXXXXX");
		ret = mkdtemp(rundir) ? 0 : errno;
	}
	if (ret) {
		rundir[0] = '\0';
		ar__vaccel_log(VACCEL_LOG_WARN, "Could not create a run directory in %s: %s",
			       parent, strerror(ret));
		return ret;
	}
	rundir_pid = getpid();
	ar__vaccel_log(VACCEL_LOG_DEBUG, "Created top-level rundir: %s", rundir);
	return 0;
}

/*
 * The process's run directory (0700), made at the first call:
 * $XDG_RUNTIME_DIR/vaccel/XXXXXX, else /tmp/vaccel.<uid>/XXXXXX. Sessions
 * put theirs inside. A forked child gets its own: the parent's is the
 * parent's to remove. NULL if it cannot be made.
 */
AR_VISIBLE const char *vaccel_rundir(void)
{
	const char *ret = rundir;

	pthread_mutex_lock(&rundir_lock);
	if (rundir[0] && rundir_pid != getpid())
		rundir[0] = '\0';
	if (!rundir[0] && make_rundir_locked())
		ret = NULL;
	pthread_mutex_unlock(&rundir_lock);
	return ret;
}

/*
 * Remove name (in dirfd) and what is under it, never following a link
 * (a link is removed, not what it points to) and never going deeper than
 * RUNDIR_MAX_DEPTH. Returns 0 or an errno.
 */
static int remove_tree(int dirfd, const char *name, int depth)
{
	struct dirent *e;
	DIR *d;
	int fd;

	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOTDIR && errno != ELOOP)
			return errno;
		return unlinkat(dirfd, name, 0) ? errno : 0;
	}
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return errno;
	}
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (depth < RUNDIR_MAX_DEPTH)
			remove_tree(fd, e->d_name, depth + 1);
	}
	closedir(d);
	return unlinkat(dirfd, name, AT_REMOVEDIR) ? errno : 0;
}

/* Only this process's directory: a forked child leaves its parent's. */
static void remove_rundir(void)
{
	int ret;

	pthread_mutex_lock(&rundir_lock);
	if (rundir[0] && rundir_pid == getpid()) {
		ret = remove_tree(AT_FDCWD, rundir, 0);
		if (ret && ret != ENOENT)
			ar__vaccel_log(VACCEL_LOG_WARN, "Could not remove rundir %s: %s",
				       rundir, strerror(ret));
	}
	rundir[0] = '\0';
	pthread_mutex_unlock(&rundir_lock);
}

/* ---- bootstrap and cleanup ---- */

static void cleanup_locked(void)
{
	struct vaccel_config *c;

	ar__vaccel_log(VACCEL_LOG_DEBUG, "Cleaning up vAccel");
	ar__vaccel_disconnect();
	remove_rundir();
	c = atomic_exchange_explicit(&g_cfg, NULL, memory_order_acq_rel);
	if (c) {
		struct snapshot *s = (struct snapshot *)c;

		s->next = g_retired;
		g_retired = s;
	}
	atomic_store(&g_initialized, false);
	vaccel_log_shutdown();
}

/* Puts s in force (a bootstrapped process is first cleaned up, as
 * upstream reloads). */
static int do_bootstrap(struct snapshot *s)
{
	pthread_mutex_lock(&core_lock);
	if (atomic_load(&g_initialized)) {
		ar__vaccel_log(VACCEL_LOG_DEBUG, "Reloading vAccel");
		cleanup_locked();
	}
	atomic_store_explicit(&g_cfg, &s->cfg, memory_order_release);
	vaccel_log_init();
	ar__vaccel_log(VACCEL_LOG_DEBUG, "Initializing vAccel");
	ar__vaccel_log(VACCEL_LOG_INFO, "vAccel %s (accelring)", VACCEL_VERSION);
	ar__vaccel_log(VACCEL_LOG_DEBUG, "libaccelring %s", ar_version());
	vaccel_config_print_debug(&s->cfg);
	if (s->cfg.plugins)
		ar__vaccel_log(VACCEL_LOG_DEBUG,
			       "plugins are loaded by accelringd (%s not loaded here)",
			       s->cfg.plugins);
	atomic_store(&g_initialized, true);
	pthread_mutex_unlock(&core_lock);
	return 0;
}

static int bootstrap_from(struct vaccel_config *src)
{
	struct snapshot *s = calloc(1, sizeof(*s));
	int ret;

	if (!s)
		return VACCEL_ENOMEM;
	ret = src ? vaccel_config_init_from(&s->cfg, src) : vaccel_config_init_from_env(&s->cfg);
	if (ret) {
		free(s);
		ar__vaccel_log(VACCEL_LOG_ERROR, "Could not init main config: %s",
			       strerror(ret));
		return ret;
	}
	return do_bootstrap(s);
}

AR_VISIBLE int vaccel_bootstrap(void)
{
	return bootstrap_from(NULL);
}

AR_VISIBLE int vaccel_bootstrap_with_config(struct vaccel_config *config)
{
	if (!config)
		return VACCEL_EINVAL;
	return bootstrap_from(config);
}

/*
 * Closes the connection and removes the run directory, also when
 * bootstrap was disabled (both may have been made lazily); then the
 * environment's configuration is in force again.
 */
AR_VISIBLE int vaccel_cleanup(void)
{
	pthread_mutex_lock(&core_lock);
	cleanup_locked();
	pthread_mutex_unlock(&core_lock);
	return 0;
}

/* A child forked while another thread held one of these locks starts
 * with fresh ones (see log.c). */
static void atfork_child(void)
{
	pthread_mutex_init(&core_lock, NULL);
	pthread_mutex_init(&rundir_lock, NULL);
}

static bool env_disabled(const char *name)
{
	const char *e = getenv(name);

	return e && !strcmp(e, "0");
}

/* Upstream exits the process when this bootstrap fails; a library should
 * not, so the failure is logged and the process runs uninitialized. */
__attribute__((constructor)) static void core_init(void)
{
	int ret;

	pthread_atfork(NULL, NULL, atfork_child);
	if (env_disabled("VACCEL_BOOTSTRAP_ENABLED"))
		return;
	ret = vaccel_bootstrap();
	if (ret)
		ar__vaccel_log(VACCEL_LOG_ERROR, "Could not bootstrap vAccel: %s",
			       strerror(ret));
}

/*
 * At unload (a dlclose, as when a broker unloads a vAccel plugin linked
 * to us, or exit) the retired configurations are freed: once the library
 * is unmapped, nothing could reach them.
 */
__attribute__((destructor)) static void core_fini(void)
{
	struct snapshot *s;

	if (env_disabled("VACCEL_CLEANUP_ENABLED"))
		return;
	vaccel_cleanup();
	pthread_mutex_lock(&core_lock);
	while ((s = g_retired)) {
		g_retired = s->next;
		vaccel_config_release(&s->cfg);
		free(s);
	}
	pthread_mutex_unlock(&core_lock);
}

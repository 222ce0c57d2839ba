/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bootstrap and cleanup. (Interim; the full group is being written.)
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vaccel_pvt.h"

static pthread_mutex_t rundir_lock = PTHREAD_MUTEX_INITIALIZER;
static char rundir[PATH_MAX];

/*
 * A forked child is another process: it must not make its sessions'
 * directories in its parent's run directory (the same session ids would
 * meet there), so it forgets it and makes its own at its next call.
 */
static void rundir_atfork_child(void)
{
	pthread_mutex_init(&rundir_lock, NULL);
	rundir[0] = '\0';
}

static void rundir_register_atfork(void)
{
	pthread_atfork(NULL, NULL, rundir_atfork_child);
}

/*
 * The process's run directory, made at the first call:
 * $XDG_RUNTIME_DIR/vaccel/XXXXXX, else /tmp/vaccel.<uid>/XXXXXX (0700).
 * Sessions put theirs inside. NULL if it cannot be made.
 */
AR_VISIBLE const char *vaccel_rundir(void)
{
	const char *base = getenv("XDG_RUNTIME_DIR");
	char parent[PATH_MAX];
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	const char *ret = rundir;

	pthread_once(&once, rundir_register_atfork);
	pthread_mutex_lock(&rundir_lock);
	if (!rundir[0]) {
		if (base && *base)
			snprintf(parent, sizeof(parent), "%s/vaccel", base);
		else
			snprintf(parent, sizeof(parent), "/tmp/vaccel.%u", (unsigned)getuid());
		if ((mkdir(parent, 0700) && errno != EEXIST) ||
		    snprintf(rundir, sizeof(rundir), "%s/XXXXXX", parent) >= (int)sizeof(rundir) ||
		    !mkdtemp(rundir)) {
			ar__vaccel_log(VACCEL_LOG_ERROR, "cannot create a run directory in %s: %m",
				       parent);
			rundir[0] = '\0';
			ret = NULL;
		}
	}
	pthread_mutex_unlock(&rundir_lock);
	return ret;
}

AR_VISIBLE int vaccel_bootstrap(void)
{
	return 0;
}

AR_VISIBLE int vaccel_cleanup(void)
{
	ar__vaccel_disconnect();
	pthread_mutex_lock(&rundir_lock);
	if (rundir[0])
		rmdir(rundir);
	rundir[0] = '\0';
	pthread_mutex_unlock(&rundir_lock);
	return 0;
}

AR_VISIBLE bool vaccel_is_initialized(void)
{
	return ar__vaccel_connected();
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The client's tracepoints (accelring/tp.h), and loading what makes them
 * record.
 *
 * The probes live in a library of their own next to this one
 * (libvaccel-lttng.so.0 beside libvaccel.so.0, libaccelring-lttng.so.1
 * beside libaccelring.so.1: trace_probes.c), which links liblttng-ust; this
 * library links nothing of lttng's (dynamic linkage: lttng's constructor
 * dlopens liblttng-ust-tracepoint.so.1 if it is there, and a tracepoint
 * with no probe registered is a load and a branch). liblttng-ust's
 * constructor costs every process that loads it ~1.3 ms here (two listener
 * threads, and a walk over each loaded object's ELF file for its
 * base-address state dump), more than the whole noop example takes
 * without it (2 ms). So the probes are loaded at the first connect only
 * where a trace can be taken: ACCELRING_TRACE=1 always, 0 never, and 2,
 * the default, when an LTTng session daemon's application socket exists
 * (root's, or the user's under $LTTNG_HOME or $HOME). A program started
 * before its session daemon is then not traced (lttng-ust would have
 * registered it later): ACCELRING_TRACE=1 for it.
 */
#define LTTNG_UST_TRACEPOINT_DEFINE
#define LTTNG_UST_TRACEPOINT_PROBE_DYNAMIC_LINKAGE
#include "accelring/tp.h"

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client_pvt.h"

/* lttng-ust 2.13's application socket (LTTNG_UST_SOCK_FILENAME): in the
 * global run directory for root's session daemon, in $LTTNG_HOME/.lttng
 * (or $HOME/.lttng) for a user's. */
#define UST_SOCK "lttng-ust-sock-8"
#define GLOBAL_RUNDIR "/var/run/lttng"

static pthread_once_t probes_once = PTHREAD_ONCE_INIT;
static atomic_int probes_mode;
static int probes_state = AR_TRACE_PROBES_OFF;
static char probes_why[PATH_MAX + 128];	/* why they could not be loaded */
static atomic_bool probes_told;		/* that went into one warning */

static bool sessiond_running(void)
{
	const char *home = getenv("LTTNG_HOME");
	char path[PATH_MAX];

	if (!access(GLOBAL_RUNDIR "/" UST_SOCK, F_OK))
		return true;
	if (!home || !*home)
		home = getenv("HOME");
	if (!home || !*home)
		return false;
	if ((size_t)snprintf(path, sizeof(path), "%s/.lttng/" UST_SOCK, home) >= sizeof(path))
		return false;
	return !access(path, F_OK);
}

/* The probes' library: this library's own name with -lttng before its
 * ".so" (its soname's version after it), in this library's directory. */
static int probes_path(char *out, size_t cap)
{
	Dl_info info;
	const char *base, *so;

	if (!dladdr((void *)&sessiond_running, &info) || !info.dli_fname)
		return -ENOENT;
	base = strrchr(info.dli_fname, '/');
	base = base ? base + 1 : info.dli_fname;
	so = strstr(base, ".so");
	if (!so)
		return -ENOENT;
	if ((size_t)snprintf(out, cap, "%.*s-lttng%s", (int)(so - info.dli_fname),
			     info.dli_fname, so) >= cap)
		return -ENAMETOOLONG;
	return 0;
}

static void load_probes(void)
{
	int mode = atomic_load_explicit(&probes_mode, memory_order_relaxed);
	char path[PATH_MAX];
	const char *err;

	if (mode == 0 || (mode == 2 && !sessiond_running()))
		return;
	if (probes_path(path, sizeof(path))) {
		snprintf(probes_why, sizeof(probes_why),
			 "cannot tell where this library is, so not where its probes are");
		probes_state = AR_TRACE_PROBES_MISSING;
		return;
	}
	/* RTLD_NODELETE: a tracepoint may fire while another thread closes
	 * the last client; the probes stay for the life of the process. */
	if (dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE)) {
		probes_state = AR_TRACE_PROBES_LOADED;
		return;
	}
	err = dlerror();
	snprintf(probes_why, sizeof(probes_why), "%s", err ? err : path);
	probes_state = AR_TRACE_PROBES_MISSING;
}

int ar__trace_load_probes(int mode, char *why, size_t cap)
{
	/* Read by the one run of load_probes, after this store (each caller
	 * stores the mode it read; every client of a process reads the same
	 * environment, and the first run decides). Atomic: two first
	 * connects may race here. */
	atomic_store_explicit(&probes_mode, mode, memory_order_relaxed);
	pthread_once(&probes_once, load_probes);
	if (probes_state == AR_TRACE_PROBES_MISSING && why && cap &&
	    !atomic_exchange(&probes_told, true))
		snprintf(why, cap, "ACCELRING_TRACE: a trace is wanted but the client's "
			 "tracepoint probes cannot be loaded (%s): this process records no "
			 "client events", probes_why);
	return probes_state;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * accelringd - the accelring broker.
 *
 * Settings come from, in increasing precedence: built-in defaults, the
 * config file (--config, or /etc/accelring/accelringd.conf if it exists),
 * the environment (ACCELRING_PLUGINS or vAccel's VACCEL_PLUGINS,
 * ACCELRING_LOG_LEVEL or VACCEL_LOG_LEVEL, ACCELRING_SOCKET) and flags;
 * config.c declares them all. Start-up checks everything, then resolves
 * every listener's address, then loads the plugins, and only then binds:
 * a mistake leaves nothing behind. SIGHUP reads it all again.
 */
#include <errno.h>
#include <getopt.h>
#include <numa.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "internal.h"

static struct ar_broker b;

static const char *host_setting(const char *key)
{
	return ar__config_setting(&b.cfg, key);
}

/* A session ended: the plugins that keep state per session drop it. */
static void session_closed(uint32_t tenant, uint32_t session)
{
	for (unsigned i = 0; i < b.plugins.nr; i++)
		if (b.plugins.p[i].iso)
			ar__iso_session_closed(b.plugins.p[i].iso, tenant, session);
		else if (b.plugins.p[i].desc->session_closed)
			b.plugins.p[i].desc->session_closed(tenant, session);
}

static void log_host(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ar__vlog_prefixed(level, NULL, fmt, ap);
	va_end(ap);
}

/* What the command line asks for besides settings. */
enum { RUN, CHECK_CONFIG, LIST_PLUGINS };

static int nargs;
static char **args;

/* An unknown --KEY: the nearest setting or command, if one is close. */
static void unknown_flag(const char *key)
{
	static const char *const words[] = { "config", "check-config", "list-plugins",
					     "version", "help" };
	const char *hint = ar__config_suggest(key);

	for (size_t i = 0; !hint && i < sizeof(words) / sizeof(words[0]); i++)
		if (ar__config_distance(key, words[i]) <= 2)
			hint = words[i];
	if (hint)
		ar_err("unknown option --%s (did you mean --%s?)", key, hint);
	else
		ar_err("unknown option --%s (accelringd --help lists them)", key);
}

/*
 * Defaults, then the file, the environment and the flags into cfg. Every
 * mistake is logged (all of them, not only the first). Returns 0 or
 * -EINVAL; *action (if not NULL) gets what the flags ask for.
 */
static int configure(struct ar_config *cfg, int argc, char **argv, int *action)
{
	const char *config = NULL;
	int i, ret = 0;

	ar__config_defaults(cfg);
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--config") && i + 1 < argc)
			config = argv[++i];
		else if (!strncmp(argv[i], "--config=", 9))
			config = argv[i] + 9;
	}
	if (!config && access(AR_DEFAULT_CONFIG, R_OK) == 0)
		config = AR_DEFAULT_CONFIG;
	if (config && ar__config_load(cfg, config))
		ret = -EINVAL;
	if (ar__config_env(cfg))
		ret = -EINVAL;
	for (i = 1; i < argc; i++) {
		char key[64], where[80], *eq;
		const char *val;

		if (!strcmp(argv[i], "--config")) {
			i++;
			continue;
		}
		if (!strncmp(argv[i], "--config=", 9))
			continue;
		if (!strcmp(argv[i], "--check-config") || !strcmp(argv[i], "--list-plugins")) {
			if (action)
				*action = argv[i][2] == 'c' ? CHECK_CONFIG : LIST_PLUGINS;
			continue;
		}
		if (strncmp(argv[i], "--", 2) || !argv[i][2]) {
			ar_err("unexpected argument '%s' (settings are --NAME=VALUE; "
			       "accelringd --help lists them)", argv[i]);
			ret = -EINVAL;
			continue;
		}
		snprintf(key, sizeof(key), "%s", argv[i] + 2);
		eq = strchr(key, '=');
		if (eq)
			*eq = '\0';
		if (!ar__config_known(key)) {
			unknown_flag(key);
			ret = -EINVAL;
			continue;
		}
		if (eq) {
			*eq = '\0';
			val = strchr(argv[i], '=') + 1;
		} else if (i + 1 < argc) {
			val = argv[++i];
		} else {
			ar_err("%s needs a value", argv[i]);
			ret = -EINVAL;
			continue;
		}
		snprintf(where, sizeof(where), "--%s", key);
		if (ar__config_set_from(cfg, key, val, where))
			ret = -EINVAL;
	}
	return ret;
}

/* SIGHUP, on the loop thread: read everything again, as at start; apply
 * what can change while running (log-level), and say what needs a
 * restart. A configuration with errors changes nothing. */
static void reload(struct ar_broker *br)
{
	struct ar_config *next = malloc(sizeof(*next));
	char addrs[400];

	ar__notify("RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading the configuration",
		   (unsigned long long)(ar__now_ns() / 1000));
	if (!next) {
		ar_err("SIGHUP: out of memory: the configuration is unchanged");
	} else if (configure(next, nargs, args, NULL)) {
		ar_err("SIGHUP: the configuration has errors (above): nothing changed");
	} else {
		bool restart = ar__config_reload(&br->cfg, next);

		ar__log_level = br->cfg.log_level;
		br->host.log_level = (uint32_t)br->cfg.log_level;
		ar__log_notice("SIGHUP: configuration read again%s",
			       restart ? "; some changes need a restart (above)" : "");
	}
	free(next);
	ar__broker_addresses(br, addrs, sizeof(addrs));
	ar__notify("READY=1\nSTATUS=ready, listening on %s", addrs);
}

/* --check-config: everything start-up checks, binding and running nothing. */
static int check_config(struct ar_broker *br)
{
	int bad = 0;

	if (ar__broker_resolve(br))
		bad = 1;
	if (ar__plugins_check(&br->cfg))
		bad = 1;
	for (int i = 0; i < 2; i++) {
		const char *key = i ? "torch-image-labels" : "torch-image-model";
		const char *v = ar__config_setting(&br->cfg, key);

		if (v && *v && access(v, R_OK)) {
			ar_err("%s: cannot read %s: %s", key, v, strerror(errno));
			bad = 1;
		}
	}
	if (bad)
		return 2;
	printf("config OK\n");
	return 0;
}

static void fail_bound(struct ar_broker *br)
{
	ar__broker_close_listeners(br);
	ar__broker_unlisten(br);
}

#if defined(__SANITIZE_THREAD__)
/*
 * ThreadSanitizer builds: OpenBLAS is not instrumented. Its helper threads
 * write C (memset through an intercepted call, the rest unseen) and hand
 * the result to the calling worker through spinning on plain flags, which
 * TSan cannot see; the loop thread that then encodes C for a stream client
 * would be reported as racing with the helper. Races with an access from
 * inside OpenBLAS are not reported (called_from_lib would be narrower, but
 * TSan refuses it when the library is mapped twice, as dlopen does here).
 */
const char *__tsan_default_suppressions(void);
const char *__tsan_default_suppressions(void)
{
	return "race:libopenblas.so\n";
}
#endif

int main(int argc, char **argv)
{
	sigset_t sigs;
	bool stuck = false;
	char addrs[400];
	int action = RUN;
	long ncpu;
	int ret;

	/* A plugin host the broker started (isolate.c): another program. */
	if (argc == 2 && !strcmp(argv[1], "--plugin-host"))
		return ar__host_main();
	ar__log_init();
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			ar__config_usage(stdout);
			return 0;
		}
		if (!strcmp(argv[i], "--version")) {
			printf("accelringd %s\n", AR_VERSION_STRING);
			return 0;
		}
	}

	/* Signals are read from a signalfd by the loop, so no thread may
	 * take them the classic way: block them before any thread starts,
	 * plugins' threads included (OpenBLAS starts its pool when loaded).
	 * SIGHUP too: its default action would kill the broker with no
	 * drain and leave the socket file. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* Not dumpable: a process of the same uid (an exec function in a
	 * plugin host) cannot open /proc/PID/mem of the broker, which holds
	 * every tenant's state; root's CAP_SYS_PTRACE still can (gdb). */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	nargs = argc;
	args = argv;
	if (configure(&b.cfg, argc, argv, &action))
		return 2;
	ar__log_level = b.cfg.log_level;
	b.listen_fd = -1;
	for (int k = 0; k < AR_LISTEN_MAX; k++)
		b.stream_fd[k] = -1;
	if (action == LIST_PLUGINS)
		return ar__plugins_list(&b.cfg, stdout) ? 2 : 0;
	if (action == CHECK_CONFIG)
		return check_config(&b);
	/* Every address is checked and resolved before anything binds. */
	if (ar__broker_resolve(&b))
		return 2;
	b.host = (struct ar_plugin_host){ .size = sizeof(b.host),
					  .log_level = (uint32_t)ar__log_level,
					  .log = log_host, .op_name = ar_op_name,
					  .setting = host_setting };
	ar__iso_cfg = &b.cfg;
	if (ar__plugins_load(&b.plugins, b.cfg.plugins, &b.host, b.cfg.plugin_dir))
		return 1;
	ar__sessions_set_hook(session_closed);
	b.reload = reload;

	b.sig_fd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	if (b.sig_fd < 0 || (ret = io_uring_queue_init(256, &b.ring, 0))) {
		ar_err("cannot set up the event loop: %s%s",
		       strerror(b.sig_fd < 0 ? errno : -ret),
		       b.sig_fd >= 0 && (ret == -ENOSYS || ret == -EPERM) ?
		       " (io_uring is blocked: a container runtime's default seccomp"
		       " profile does that; run accelringd with io_uring_setup,"
		       " io_uring_enter and io_uring_register allowed, or"
		       " sysctl kernel.io_uring_disabled is set)" : "");
		return 1;
	}
	/* From here on a failed start removes the socket file it made. */
	if (ar__broker_listen(&b) || ar__broker_listen_streams(&b)) {
		fail_bound(&b);
		return 1;
	}
	ar__admit_warn(&b.cfg);

	/* Workers, spread over the NUMA nodes; one node without libnuma. */
	b.nodes = numa_available() < 0 ? 1 : numa_num_configured_nodes();
	if (b.nodes < 1)
		b.nodes = 1;
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	b.nr_workers = b.cfg.workers;
	if (!b.nr_workers) {
		/* Half the CPUs: each busy-polls, and clients poll too. */
		b.nr_workers = ncpu > 1 ? (unsigned)ncpu / 2 : 1;
		if (b.nr_workers > 8)
			b.nr_workers = 8;
	}
	b.workers = calloc(b.nr_workers, sizeof(*b.workers));
	if (!b.workers || ar__coalesce_new(&b.cfg, &b.coal)) {
		fail_bound(&b);
		return 1;
	}
	if (b.coal)
		ar_info("batching torch_model_run across clients: up to %u ops, %u us",
			b.cfg.batch_max, b.cfg.batch_delay_us);
	for (unsigned i = 0; i < b.nr_workers; i++) {
		ret = ar__worker_start(&b, i, (int)(i % (unsigned)b.nodes), &b.workers[i]);
		if (ret) {
			ar_err("cannot start worker %u: %s", i, strerror(-ret));
			fail_bound(&b);
			return 1;
		}
	}
	ar_info("accelringd: %u workers on %d NUMA nodes, %u plugins",
		b.nr_workers, b.nodes, b.plugins.nr);
	/* The one line a user sees at the default level: where to point
	 * ACCELRING_ADDRESS (with the port the kernel picked for tcp=HOST:0). */
	ar__broker_addresses(&b, addrs, sizeof(addrs));
	ar__log_notice("accelringd %s ready, listening on %s", AR_VERSION_STRING, addrs);
	ar__notify("READY=1\nSTATUS=ready, listening on %s", addrs);
	/* For scripts and tests: the broker is accepting now. */
	if (getenv("ACCELRING_READY_FD")) {
		int fd = atoi(getenv("ACCELRING_READY_FD"));

		char line[128];
		int n = snprintf(line, sizeof(line), "ready%s%s\n",
				 b.tcp_bound[0] ? " tcp=" : "", b.tcp_bound);

		if (write(fd, line, (size_t)n) < 0)
			ar_warn("ACCELRING_READY_FD: %s", strerror(errno));
		close(fd);
	}

	if ((ret = ar__watchdog_start(&b))) {
		ar_err("cannot start the watchdog: %s", strerror(-ret));
		return 1;
	}
	ret = ar__broker_run(&b);

	ar__watchdog_stop(&b);
	for (unsigned i = 0; i < b.nr_workers; i++)
		if (!ar__worker_join(b.workers[i]))
			stuck = true;
	if (stuck) {
		/* A plugin still runs an op on a thread of its own: unloading
		 * it would pull its code from under that thread. Exit now;
		 * the kernel closes what is left. */
		ar_info("accelringd stopped: %llu ops completed, %llu cancelled, "
			"an op still running", (unsigned long long)atomic_load(&b.ops_done),
			(unsigned long long)atomic_load(&b.ops_cancelled));
		if (b.listen_owned)
			unlink(b.listen_path);
		_exit(ret ? 1 : 0);
	}
	ar__broker_close_conns(&b);
	io_uring_queue_exit(&b.ring);
	ar_info("accelringd stopped: %llu ops completed, %llu cancelled, %llu long ops "
		"moved to threads of their own", (unsigned long long)atomic_load(&b.ops_done),
		(unsigned long long)atomic_load(&b.ops_cancelled),
		(unsigned long long)atomic_load(&b.rescues));
	if (b.listen_owned)
		close(b.listen_fd);
	ar__broker_close_listeners(&b);
	ar__coalesce_free(b.coal);
	ar__sessions_set_hook(NULL);
	ar__plugins_unload(&b.plugins);
	ar__iso_stop();
	ar__handshake_free(&b);
	free(b.workers);
	close(b.sig_fd);
	return ret ? 1 : 0;
}

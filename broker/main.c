/* SPDX-License-Identifier: Apache-2.0 */
/*
 * accelringd - the accelring broker.
 *
 * Settings come from, in increasing precedence: built-in defaults, the
 * config file (--config, or /etc/accelring/accelringd.conf if it exists),
 * the environment (ACCELRING_PLUGINS or vAccel's VACCEL_PLUGINS,
 * ACCELRING_LOG_LEVEL or VACCEL_LOG_LEVEL, ACCELRING_SOCKET) and flags.
 */
#include <errno.h>
#include <getopt.h>
#include <numa.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "internal.h"

#define DEFAULT_CONFIG "/etc/accelring/accelringd.conf"

static void usage(FILE *f)
{
	fprintf(f,
"usage: accelringd [--config FILE] [--NAME=VALUE...]\n"
"\n"
"Settings (also 'NAME = VALUE' lines in the config file):\n"
"  socket          listening socket (default " AR_DEFAULT_SOCKET ")\n"
"  plugins         ':'-separated plugin names or paths (default noop)\n"
"  plugin-dir      where bare plugin names are found\n"
"  workers         worker threads (default: half the CPUs, 1..8)\n"
"  batch           requests taken from a channel per pass (default 64)\n"
"  spin-us         worker spin before sleeping, microseconds (default 20)\n"
"  max-channels    channels per connection (default 16, at most %u)\n"
"  sq-bytes, cq-bytes  default ring sizes (default 64K)\n"
"  max-ring-bytes  the largest ring a client may ask for (default 1M)\n"
"  data-bytes      default data area per connection (default 64M)\n"
"  max-data-bytes  the largest data area a client may ask for (default 1G)\n"
"  handshake-ms    time allowed for the handshake (default 2000)\n"
"  grace-ms        on SIGTERM, time to drain queued ops (default 5000)\n"
"  log-level       error, warn, info or debug (default warn)\n",
		AR_MAX_CHANNELS);
}

static void log_host(int level, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	if (level > ar__log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	ar__log(level, "%s", buf);
}

static int configure(struct ar_config *cfg, int argc, char **argv)
{
	const char *config = NULL, *env;
	int i;

	ar__config_defaults(cfg);
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--config") && i + 1 < argc)
			config = argv[++i];
		else if (!strncmp(argv[i], "--config=", 9))
			config = argv[i] + 9;
	}
	if (!config && access(DEFAULT_CONFIG, R_OK) == 0)
		config = DEFAULT_CONFIG;
	if (config && ar__config_load(cfg, config))
		return -EINVAL;
	if ((env = getenv("VACCEL_LOG_LEVEL")) && ar__config_set(cfg, "log-level", env))
		return -EINVAL;
	if ((env = getenv("ACCELRING_LOG_LEVEL")) && ar__config_set(cfg, "log-level", env))
		return -EINVAL;
	if ((env = getenv("VACCEL_PLUGINS")) && ar__config_set(cfg, "plugins", env))
		return -EINVAL;
	if ((env = getenv("ACCELRING_PLUGINS")) && ar__config_set(cfg, "plugins", env))
		return -EINVAL;
	if ((env = getenv("ACCELRING_SOCKET")) && ar__config_set(cfg, "socket", env))
		return -EINVAL;
	for (i = 1; i < argc; i++) {
		char key[64], *eq;
		const char *val;

		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			exit(0);
		}
		if (!strcmp(argv[i], "--config")) {
			i++;
			continue;
		}
		if (!strncmp(argv[i], "--config=", 9))
			continue;
		if (strncmp(argv[i], "--", 2)) {
			fprintf(stderr, "accelringd: unexpected argument '%s'\n", argv[i]);
			usage(stderr);
			return -EINVAL;
		}
		snprintf(key, sizeof(key), "%s", argv[i] + 2);
		eq = strchr(key, '=');
		if (eq) {
			*eq = '\0';
			val = strchr(argv[i], '=') + 1;
		} else if (i + 1 < argc) {
			val = argv[++i];
		} else {
			fprintf(stderr, "accelringd: %s needs a value\n", argv[i]);
			return -EINVAL;
		}
		if (ar__config_set(cfg, key, val))
			return -EINVAL;
	}
	ar__log_level = cfg->log_level;
	return 0;
}

int main(int argc, char **argv)
{
	static struct ar_broker b;
	sigset_t sigs;
	long ncpu;
	int ret;

	/* Signals are read from a signalfd by the loop, so no thread may
	 * take them the classic way: block them before any thread starts,
	 * plugins' threads included (OpenBLAS starts its pool when loaded). */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (configure(&b.cfg, argc, argv))
		return 2;
	b.host = (struct ar_plugin_host){ .size = sizeof(b.host),
					  .log_level = (uint32_t)ar__log_level,
					  .log = log_host, .op_name = ar_op_name };
	if (ar__plugins_load(&b.plugins, b.cfg.plugins, &b.host, b.cfg.plugin_dir))
		return 1;

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
	if (ar__broker_listen(&b) || ar__broker_listen_streams(&b))
		return 1;

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
	if (!b.workers)
		return 1;
	for (unsigned i = 0; i < b.nr_workers; i++) {
		ret = ar__worker_start(&b, i, (int)(i % (unsigned)b.nodes), &b.workers[i]);
		if (ret) {
			ar_err("cannot start worker %u: %s", i, strerror(-ret));
			return 1;
		}
	}
	ar_info("accelringd ready: %u workers on %d NUMA nodes, %u plugins",
		b.nr_workers, b.nodes, b.plugins.nr);
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

	ret = ar__broker_run(&b);

	for (unsigned i = 0; i < b.nr_workers; i++)
		ar__worker_join(b.workers[i]);
	ar__broker_close_conns(&b);
	io_uring_queue_exit(&b.ring);
	ar_info("accelringd stopped: %llu ops completed, %llu cancelled",
		(unsigned long long)atomic_load(&b.ops_done),
		(unsigned long long)atomic_load(&b.ops_cancelled));
	if (b.listen_owned)
		close(b.listen_fd);
	ar__broker_close_listeners(&b);
	ar__plugins_unload(&b.plugins);
	free(b.workers);
	close(b.sig_fd);
	return ret ? 1 : 0;
}

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
#include <sys/prctl.h>
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
"  plugins         ':'-separated plugin names or paths (default " AR_DEFAULT_PLUGINS ")\n"
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
"  tenant-handshakes  connections of one tenant still in the handshake;\n"
"                  more are closed at once (default 16)\n"
"  max-handshakes  the same for all of a listener's connections (default 256)\n"
"  grace-ms        on SIGTERM, time to drain queued ops (default 5000)\n"
"  tenant-long-ops a tenant's ops running long on threads of their own, at\n"
"                  once; more wait in its rings (default 4, 0: any)\n"
"  log-level       error, warn, info or debug (default warn)\n"
"\n"
"Tenants and access (a tenant shares sessions and limits):\n"
"  allow-uids, allow-gids  who may connect over the UNIX socket (default all)\n"
"  tenant-channels, tenant-sessions, tenant-shm, tenant-inflight  its limits\n"
"  tenant-resource-bytes, tenant-resources  the bytes (default 4G) and number\n"
"                  (default 256) of resources it may hold, uploads included\n"
"  Over the UNIX socket a tenant is a uid (SO_PEERCRED). Over TCP a tenant is\n"
"  an address, never a uid: every local user reaching a loopback address is\n"
"  the one tenant \"tcp 127.0.0.1\", and allow-uids does not apply to it.\n"
"\n"
"Stream transport (VMs; also unix-stream:// clients):\n"
"  tcp             HOST:PORT to listen on (default none)\n"
"  vsock-port      vsock port to listen on, any CID (default none)\n"
"  allow-peers     ','-separated ADDR, ADDR/BITS, vsock:CID, vsock:any that a\n"
"                  TCP or vsock listener admits. Empty (the default): it admits\n"
"                  nobody. A peer that is this machine (a local process of any\n"
"                  uid) only by an entry naming it: loopback (127.0.0.0/8, ::1,\n"
"                  vsock CID 1) by a loopback entry (127.0.0.1, ::1, vsock:1),\n"
"                  a host address by exactly that address; never by 0.0.0.0/0,\n"
"                  vsock:any or a subnet holding it\n"
"  max-frame       largest frame (default 1M); a stream connection's rings are\n"
"                  capped to what it needs, whatever its Hello asks\n"
"  stream-data-bytes      data area when a stream Hello asks none (default 4M)\n"
"  stream-max-data-bytes  the most a stream Hello may ask (default 64M)\n"
"  stream-tenant-shm      memory a tenant's stream connections hold: regions\n"
"                         and frame buffers, all broker memory (default 1G)\n"
"  listener-shm           the same for all stream connections of one listener\n"
"                         (tcp, vsock, unix) (default 2G)\n"
"  idle-ms, frame-ms, keepalive-s  stream peer timeouts (600000, 10000, 30)\n"
"\n"
"Isolation (plugins in host processes of their own; MODE, or NAME:VALUE,...):\n"
"  isolation       none (in the broker), plugin (one host process), tenant (one\n"
"                  per tenant) (default exec:tenant, torch:plugin, others none)\n"
"  op-timeout-ms   an isolated op running longer: ETIMEDOUT, host restarted\n"
"                  (default 30000, 0: none)\n"
"  plugin-memory-max  a host's own allocations, K/M/G (default exec 2G)\n"
"  host-uid, host-gid  what hosts run as (default the broker's)\n"
"  host-threads    ops one host runs at once (default 8)\n"
"\n"
"exec plugin (host code; in a host process per tenant by default):\n"
"  exec-allow      ';'-separated LIBRARY:SYMBOL,SYMBOL... that vaccel_exec may\n"
"                  call: absolute paths, a directory ending in '/' for every\n"
"                  library under it, '*' for any symbol (default empty: off)\n"
"  exec-allow-sha256  ';'-separated SHA256:SYMBOL,... of LIB resources that\n"
"                  vaccel_exec_with_resource may load (default empty: off)\n"
"\n"
"torch plugin (TorchScript models; in a host process by default):\n"
"  torch-threads   libtorch's intra-op threads (default 1)\n"
"  torch-image-model   a TorchScript classifier for the image ops of sessions\n"
"                  that loaded none with labels (default none: ENOTSUP)\n"
"  torch-image-labels  its labels, one per line\n"
"  torch-image-topk    labels a classification returns (default 5)\n"
"\n"
"Batching across clients (ops on the same model from any tenant):\n"
"  batch-delay-us  how long a torch_model_run waits for others to share its\n"
"                  forward (default 0: off)\n"
"  batch-max       the most rows (inputs' first dim, summed) in one forward;\n"
"                  an op with more runs alone (default 16, at most %u)\n",
		AR_MAX_CHANNELS, AR_BATCH_MAX);
}

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
	sigset_t sigs;
	bool stuck = false;
	long ncpu;
	int ret;

	/* A plugin host the broker started (isolate.c): another program. */
	if (argc == 2 && !strcmp(argv[1], "--plugin-host"))
		return ar__host_main();

	/* Signals are read from a signalfd by the loop, so no thread may
	 * take them the classic way: block them before any thread starts,
	 * plugins' threads included (OpenBLAS starts its pool when loaded). */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* Not dumpable: a process of the same uid (an exec function in a
	 * plugin host) cannot open /proc/PID/mem of the broker, which holds
	 * every tenant's state; root's CAP_SYS_PTRACE still can (gdb). */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (configure(&b.cfg, argc, argv))
		return 2;
	b.host = (struct ar_plugin_host){ .size = sizeof(b.host),
					  .log_level = (uint32_t)ar__log_level,
					  .log = log_host, .op_name = ar_op_name,
					  .setting = host_setting };
	ar__iso_cfg = &b.cfg;
	if (ar__plugins_load(&b.plugins, b.cfg.plugins, &b.host, b.cfg.plugin_dir))
		return 1;
	ar__sessions_set_hook(session_closed);

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
	if (!b.workers || ar__coalesce_new(&b.cfg, &b.coal))
		return 1;
	if (b.coal)
		ar_info("batching torch_model_run across clients: up to %u ops, %u us",
			b.cfg.batch_max, b.cfg.batch_delay_us);
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
			unlink(b.cfg.socket_path);
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

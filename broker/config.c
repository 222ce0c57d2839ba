/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Configuration: defaults, then the config file, then the environment,
 * then command-line flags (main.c applies them in that order). Every
 * setting has one name, used as "name = value" in the file and as
 * --name=value on the command line.
 *
 * Every setting is declared once, in settings[] below: its name, kind,
 * bounds, field, environment variables, default and one line of help.
 * The parser, --help, SIGHUP's reload and the error messages all read
 * that table, so that none of them can drift from the others.
 *
 * The file's format: one "name = value" a line; blank lines and lines
 * whose first non-blank is '#' are ignored; a '#' after whitespace starts
 * a comment that runs to the end of the line; a value may be put in
 * double quotes, which are stripped (then it may hold " #"); there are no
 * escapes, and a quote anywhere else is an error. Whitespace around the
 * name and the value goes.
 */
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#ifndef AR_PLUGIN_DIR
#define AR_PLUGIN_DIR "/usr/local/lib/accelring"
#endif
/* The plugin directory seen from the installed broker's (sbin/), by CMake. */
#ifndef AR_PLUGIN_DIR_FROM_SBIN
#define AR_PLUGIN_DIR_FROM_SBIN "../lib/accelring"
#endif

/*
 * The plugins that came with this binary come first: those installed beside
 * it (its tree moved to another prefix), then those of its build tree
 * (build/accelringd, build/plugins), and only then AR_PLUGIN_DIR, so that a
 * build-tree broker never loads an older install's plugins. Only places
 * beside the binary are looked at: who can write there can replace it.
 */
static void default_plugin_dir(char *dir, size_t cap)
{
	static const char *const rel[] = { "/" AR_PLUGIN_DIR_FROM_SBIN, "/plugins" };
	char exe[PATH_MAX], path[PATH_MAX + 64], real[PATH_MAX], *slash;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	snprintf(dir, cap, "%s", AR_PLUGIN_DIR);
	if (n <= 0)
		return;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (!slash)
		return;
	*slash = '\0';
	for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", exe, rel[i]);
		if (!access(path, X_OK) && realpath(path, real) && strlen(real) < cap) {
			memcpy(dir, real, strlen(real) + 1);
			return;
		}
	}
}

void ar__config_defaults(struct ar_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->socket_path, sizeof(c->socket_path), "%s", AR_DEFAULT_SOCKET);
	default_plugin_dir(c->plugin_dir, sizeof(c->plugin_dir));
	snprintf(c->plugins, sizeof(c->plugins), "%s", AR_DEFAULT_PLUGINS);
	c->socket_mode = AR_DEFAULT_SOCKET_MODE;
	c->socket_gid = UINT32_MAX;
	c->workers = 0;
	c->batch = 64;
	c->spin_ns = AR_WAIT_SPIN_NS_DEFAULT;
	c->max_channels = 16;
	c->sq_bytes = AR_RING_BYTES_DEFAULT;
	c->cq_bytes = AR_RING_BYTES_DEFAULT;
	c->max_ring_bytes = 1u << 20;
	c->data_bytes = 64ull << 20;
	c->max_data_bytes = 1ull << 30;
	c->handshake_ms = 2000;
	c->grace_ms = 5000;
	c->log_level = AR_LOG_WARN;
	c->max_frame = 1u << 20;
	c->idle_ms = 600000;
	c->frame_ms = 10000;
	c->keepalive_s = 30;
	c->tenant_channels = 256;
	c->tenant_sessions = 4096;
	c->tenant_inflight = 0;	/* unlimited */
	c->tenant_long_ops = 4;
	c->tenant_shm = 16ull << 30;
	/* A stream connection's region and buffers are the broker's memory,
	 * filled by what a remote peer sends: small by default, bounded per
	 * tenant and per listener. 64 MiB is what libaccelring asks for a
	 * stream connection (one per client thread); 1 GiB a tenant is 15 of
	 * them, 2 GiB a listener two such guests at their full allowance. */
	c->stream_data_bytes = 4ull << 20;
	c->stream_max_data_bytes = 64ull << 20;
	c->stream_tenant_shm = 1ull << 30;
	c->listener_shm = 2ull << 30;
	c->tenant_handshakes = 16;
	c->max_handshakes = 256;
	/* Content shipped in a memfd of the client's (shared memory) is its
	 * memory, not the broker's; over a stream it is the broker's, and
	 * counted against listener-shm too. */
	c->tenant_resource_bytes = 4ull << 30;
	c->tenant_resources = 256;
	c->batch_max = 16;
	c->batch_delay_us = 0;
	/* Plugin hosts (isolate.c): the per-plugin defaults are there. */
	c->host_uid = UINT32_MAX;
	c->host_gid = UINT32_MAX;
	c->host_threads = 8;
}

/* ---- the table ---- */

enum {
	K_UINT,		/* an integer, min..max */
	K_BYTES,	/* an integer with an optional K/M/G suffix, min..max */
	K_STR,		/* text, checked by its check function if it has one */
	K_PATH,		/* an absolute path, or empty where min is 0 */
	K_LEVEL,	/* error, warn, info, debug, or 1..4 */
	K_MODE,		/* an octal file mode, min..max */
	K_GROUP,	/* a group name or a gid */
};

struct setting {
	const char *name;
	int kind;
	size_t off;		/* of the field in struct ar_config */
	size_t size;		/* of the field: 4 or 8 for numbers, the capacity for text */
	uint64_t min, max;	/* numbers; K_PATH: min 1 = required */
	uint64_t scale;		/* numbers: the field holds value * scale (0: 1) */
	/* K_STR: 0, or -EINVAL having put the reason in why. */
	int (*check)(const char *key, const char *val, char *why, size_t cap);
	const char *env, *env2;	/* env2 first, so env wins */
	const char *def;	/* the default in words, where the value would not say it */
	const char *help;
	const char *section;	/* a heading for --help, on the first of a group */
	bool reload;		/* SIGHUP applies it to the running broker */
};

#define F(field) offsetof(struct ar_config, field), sizeof(((struct ar_config *)0)->field)
#define PLUGIN_SET(i) offsetof(struct ar_config, plugin_set[i]), \
	sizeof(((struct ar_config *)0)->plugin_set[i])

static int check_iso(const char *key, const char *val, char *why, size_t cap)
{
	if (!ar__iso_check(key, val))
		return 0;
	snprintf(why, cap, !strcmp(key, "isolation") ?
		 "expected none, plugin or tenant, or NAME:MODE,..." :
		 !strcmp(key, "op-timeout-ms") ? "expected MS or NAME:MS,... (0: none)" :
		 "expected BYTES or NAME:BYTES,... (K, M or G suffixes)");
	return -EINVAL;
}

static int check_peers(const char *key, const char *val, char *why, size_t cap)
{
	(void)key;
	if (!ar__peer_list_check(val))
		return 0;
	snprintf(why, cap, "expected ','-separated ADDR, ADDR/BITS, vsock:CID or vsock:any");
	return -EINVAL;
}

static int check_ids(const char *key, const char *val, char *why, size_t cap)
{
	(void)key;
	if (!ar__id_list_check(val))
		return 0;
	snprintf(why, cap, "expected ','-separated IDs and FIRST-LAST ranges");
	return -EINVAL;
}

/* Plugin names (a file in plugin-dir) or absolute paths: a relative path
 * would depend on the directory the broker was started in. */
static int check_plugins(const char *key, const char *val, char *why, size_t cap)
{
	const char *p = val;

	(void)key;
	while (*p) {
		size_t n = strcspn(p, ":");

		if (n && memchr(p, '/', n) && p[0] != '/') {
			snprintf(why, cap, "'%.*s' is a relative path: give a name (found in "
				 "plugin-dir) or an absolute path", (int)n, p);
			return -EINVAL;
		}
		p += n;
		if (*p)
			p++;
	}
	return 0;
}

/* tcp: "HOST:PORT", "[V6]:PORT" or ":PORT" (any address); the port is a
 * number. Where HOST resolves to is decided before anything binds. */
int ar__tcp_split(const char *val, char *host, size_t hcap, unsigned *port)
{
	const char *colon = strrchr(val, ':');
	char *end;
	unsigned long p;
	size_t hl;

	if (!colon)
		return -EINVAL;
	errno = 0;
	p = strtoul(colon + 1, &end, 10);
	if (errno || end == colon + 1 || *end || p > 65535 || !isdigit((unsigned char)colon[1]))
		return -EINVAL;
	hl = (size_t)(colon - val);
	if (hl >= 2 && val[0] == '[' && val[hl - 1] == ']') {
		val++;
		hl -= 2;
	} else if (memchr(val, ':', hl) || memchr(val, '[', hl) || memchr(val, ']', hl)) {
		return -EINVAL;	/* an IPv6 address without its brackets */
	}
	if (hl >= hcap)
		return -EINVAL;
	memcpy(host, val, hl);
	host[hl] = '\0';
	*port = (unsigned)p;
	return 0;
}

static int check_tcp(const char *key, const char *val, char *why, size_t cap)
{
	char host[128];
	unsigned port;

	(void)key;
	if (!*val || !ar__tcp_split(val, host, sizeof(host), &port))
		return 0;
	snprintf(why, cap, "expected HOST:PORT, [IPV6]:PORT or :PORT, PORT 0..65535 "
		 "(0: one the kernel picks)");
	return -EINVAL;
}

static const struct setting settings[] = {
	{ "socket", K_PATH, F(socket_path), 1, 0, 0, NULL, "ACCELRING_SOCKET", NULL, NULL,
	  "the listening UNIX socket (its directory is created)", "Listening", false },
	{ "socket-mode", K_MODE, F(socket_mode), 0, 0777, 0, NULL, NULL, NULL, NULL,
	  "the socket file's mode: who may connect at all (allow-uids then decides)", NULL, false },
	{ "socket-group", K_GROUP, F(socket_gid), 0, 0, 0, NULL, NULL, NULL, "the broker's",
	  "the socket file's group (a name or a gid): with mode 0660, its members may connect",
	  NULL, false },
	{ "tcp", K_STR, F(tcp), 0, 0, 0, check_tcp, NULL, NULL, "none",
	  "HOST:PORT to listen on for stream clients (VMs); port 0 picks one", NULL, false },
	{ "vsock-port", K_UINT, F(vsock_port), 0, UINT32_MAX - 1, 0, NULL, NULL, NULL, "0 (none)",
	  "vsock port to listen on, any CID (on a VM host only)", NULL, false },
	{ "allow-peers", K_STR, F(allow_peers), 0, 0, 0, check_peers, NULL, NULL, "none",
	  "','-separated ADDR, ADDR/BITS, vsock:CID, vsock:any that TCP/vsock admit; a local "
	  "peer only by an entry naming this machine (127.0.0.1, ::1, vsock:1)", NULL, false },

	{ "plugins", K_STR, F(plugins), 0, 0, 0, check_plugins, "ACCELRING_PLUGINS",
	  "VACCEL_PLUGINS", NULL,
	  "':'-separated plugin names (plugin-dir/libaccelring-NAME.so) or absolute paths, "
	  "in routing order", "Plugins", false },
	{ "plugin-dir", K_PATH, F(plugin_dir), 1, 0, 0, NULL, NULL, NULL, NULL,
	  "where a bare plugin name is found", NULL, false },
	{ "isolation", K_STR, F(isolation), 0, 0, 0, check_iso, NULL, NULL,
	  "exec:tenant, torch:plugin, others none",
	  "none (in the broker), plugin (a host process) or tenant (one per tenant); "
	  "MODE or NAME:MODE,...", NULL, false },
	{ "op-timeout-ms", K_STR, F(op_timeout_ms), 0, 0, 0, check_iso, NULL, NULL, "30000",
	  "an isolated op running longer: ETIMEDOUT, its host restarted; MS or NAME:MS,... "
	  "(0: none)", NULL, false },
	{ "plugin-memory-max", K_STR, F(plugin_memory_max), 0, 0, 0, check_iso, NULL, NULL,
	  "exec 2G, others none",
	  "what an isolated plugin's host may allocate; BYTES or NAME:BYTES,... (K/M/G)",
	  NULL, false },
	{ "host-uid", K_UINT, F(host_uid), 0, UINT32_MAX - 1, 0, NULL, NULL, NULL, "the broker's",
	  "the uid plugin hosts run as", NULL, false },
	{ "host-gid", K_UINT, F(host_gid), 0, UINT32_MAX - 1, 0, NULL, NULL, NULL, "the broker's",
	  "the gid plugin hosts run as", NULL, false },
	{ "host-threads", K_UINT, F(host_threads), 1, 256, 0, NULL, NULL, NULL, NULL,
	  "ops one plugin host runs at once", NULL, false },
	{ "exec-allow", K_STR, PLUGIN_SET(0), 0, 0, 0, NULL, NULL, NULL, "empty (exec off)",
	  "';'-separated LIBRARY:SYMBOL,... vaccel_exec may call: absolute paths, DIR/ for "
	  "every library under it, '*' for any symbol", NULL, false },
	{ "exec-allow-sha256", K_STR, PLUGIN_SET(1), 0, 0, 0, NULL, NULL, NULL, "empty (off)",
	  "';'-separated SHA256:SYMBOL,... of LIB resources vaccel_exec_with_resource may load",
	  NULL, false },
	{ "torch-threads", K_UINT, PLUGIN_SET(2), 1, 1024, 0, NULL, NULL, NULL, "1",
	  "libtorch's intra-op threads in the torch plugin", NULL, false },
	{ "torch-image-model", K_PATH, PLUGIN_SET(3), 0, 0, 0, NULL, NULL, NULL,
	  "none (classification: ENOTSUP)",
	  "a TorchScript classifier for sessions that loaded none", NULL, false },
	{ "torch-image-labels", K_PATH, PLUGIN_SET(4), 0, 0, 0, NULL, NULL, NULL, "none",
	  "its labels, one a line", NULL, false },
	{ "torch-image-topk", K_UINT, PLUGIN_SET(5), 1, 100, 0, NULL, NULL, NULL, "5",
	  "labels a classification answers", NULL, false },

	{ "workers", K_UINT, F(workers), 0, 256, 0, NULL, NULL, NULL, "0 (half the CPUs, 1..8)",
	  "worker threads; each polls its channels", "Workers", false },
	{ "batch", K_UINT, F(batch), 1, 1024, 0, NULL, NULL, NULL, NULL,
	  "requests taken from one channel per pass", NULL, false },
	{ "spin-us", K_UINT, F(spin_ns), 0, 10000000, 1000, NULL, NULL, NULL, NULL,
	  "how long an idle worker polls before it sleeps, microseconds", NULL, false },
	{ "grace-ms", K_UINT, F(grace_ms), 0, 3600000, 0, NULL, NULL, NULL, NULL,
	  "on SIGTERM, how long queued ops keep running", NULL, false },
	{ "batch-delay-us", K_UINT, F(batch_delay_us), 0, 1000000, 0, NULL, NULL, NULL, "0 (off)",
	  "how long a torch_model_run waits for runs of other clients to share its forward",
	  NULL, false },
	{ "batch-max", K_UINT, F(batch_max), 1, AR_BATCH_MAX, 0, NULL, NULL, NULL, NULL,
	  "the most rows in one coalesced forward; a run with more goes alone", NULL, false },
	{ "log-level", K_LEVEL, F(log_level), 0, 0, 0, NULL, "ACCELRING_LOG_LEVEL",
	  "VACCEL_LOG_LEVEL", "warn",
	  "error, warn (refusals, with the reason), info (connections), debug (every op); "
	  "or 1..4", NULL, true },

	{ "max-channels", K_UINT, F(max_channels), 1, AR_MAX_CHANNELS, 0, NULL, NULL, NULL, NULL,
	  "channels per connection", "Connections", false },
	{ "sq-bytes", K_BYTES, F(sq_bytes), AR_RING_BYTES_MIN, AR_RING_BYTES_MAX, 0, NULL, NULL,
	  NULL, NULL, "SQ ring size when a client does not ask", NULL, false },
	{ "cq-bytes", K_BYTES, F(cq_bytes), AR_RING_BYTES_MIN, AR_RING_BYTES_MAX, 0, NULL, NULL,
	  NULL, NULL, "CQ ring size when a client does not ask", NULL, false },
	{ "max-ring-bytes", K_BYTES, F(max_ring_bytes), AR_RING_BYTES_MIN, AR_RING_BYTES_MAX, 0,
	  NULL, NULL, NULL, NULL, "the largest SQ or CQ a client may ask for (E2BIG beyond)",
	  NULL, false },
	{ "data-bytes", K_BYTES, F(data_bytes), 0, AR_REGION_DATA_MAX, 0, NULL, NULL, NULL, NULL,
	  "data area per connection when a client does not ask", NULL, false },
	{ "max-data-bytes", K_BYTES, F(max_data_bytes), 0, AR_REGION_DATA_MAX, 0, NULL, NULL,
	  NULL, NULL, "the largest data area a client may ask for", NULL, false },
	{ "handshake-ms", K_UINT, F(handshake_ms), 1, 3600000, 0, NULL, NULL, NULL, NULL,
	  "a client must finish its hello within this", NULL, false },
	{ "tenant-handshakes", K_UINT, F(tenant_handshakes), 1, 65536, 0, NULL, NULL, NULL, NULL,
	  "connections of one tenant still in the handshake; one more is closed at accept",
	  NULL, false },
	{ "max-handshakes", K_UINT, F(max_handshakes), 1, 65536, 0, NULL, NULL, NULL, NULL,
	  "the same for all connections of one listener", NULL, false },

	{ "allow-uids", K_STR, F(allow_uids), 0, 0, 0, check_ids, NULL, NULL, "all",
	  "uids that may connect over the UNIX socket, e.g. 0,1000-1999", "Tenants", false },
	{ "allow-gids", K_STR, F(allow_gids), 0, 0, 0, check_ids, NULL, NULL, "all",
	  "or gids (the peer's primary gid); with either set, a peer in neither: EACCES",
	  NULL, false },
	{ "tenant-channels", K_UINT, F(tenant_channels), 1, 65536, 0, NULL, NULL, NULL, NULL,
	  "channels a tenant holds over all its connections", NULL, false },
	{ "tenant-sessions", K_UINT, F(tenant_sessions), 1, 1u << 20, 0, NULL, NULL, NULL, NULL,
	  "sessions a tenant has open (EDQUOT beyond)", NULL, false },
	{ "tenant-shm", K_BYTES, F(tenant_shm), 1u << 20, 1ull << 44, 0, NULL, NULL, NULL, NULL,
	  "bytes of shared-memory regions a tenant holds (EDQUOT beyond)", NULL, false },
	{ "tenant-inflight", K_UINT, F(tenant_inflight), 0, 1u << 20, 0, NULL, NULL, NULL,
	  "0 (unlimited)", "ops of one tenant executing at once; the rest wait in its rings",
	  NULL, false },
	{ "tenant-long-ops", K_UINT, F(tenant_long_ops), 0, 1u << 16, 0, NULL, NULL, NULL, NULL,
	  "ops of one tenant running long (over 1 ms) at once; 0: any", NULL, false },
	{ "tenant-resource-bytes", K_BYTES, F(tenant_resource_bytes), 0, 1ull << 44, 0, NULL,
	  NULL, NULL, NULL, "the bytes of resources a tenant may hold, uploads included",
	  NULL, false },
	{ "tenant-resources", K_UINT, F(tenant_resources), 0, 1u << 20, 0, NULL, NULL, NULL, NULL,
	  "the number of resources a tenant may hold, uploads included", NULL, false },

	{ "max-frame", K_BYTES, F(max_frame), AR_MIN_FRAME, AR_MAX_FRAME, 0, NULL, NULL, NULL,
	  NULL, "largest stream frame; a longer length prefix is refused before any allocation",
	  "Stream transport (VMs, unix-stream:// clients)", false },
	{ "stream-data-bytes", K_BYTES, F(stream_data_bytes), 0, AR_REGION_DATA_MAX, 0, NULL,
	  NULL, NULL, NULL, "a stream connection's data area when its hello asks none",
	  NULL, false },
	{ "stream-max-data-bytes", K_BYTES, F(stream_max_data_bytes), 0, AR_REGION_DATA_MAX, 0,
	  NULL, NULL, NULL, NULL, "the most a stream hello may ask (E2BIG beyond)", NULL, false },
	{ "stream-tenant-shm", K_BYTES, F(stream_tenant_shm), 1u << 20, 1ull << 44, 0, NULL,
	  NULL, NULL, NULL, "what a tenant's stream connections hold (broker memory)",
	  NULL, false },
	{ "listener-shm", K_BYTES, F(listener_shm), 1u << 20, 1ull << 44, 0, NULL, NULL, NULL,
	  NULL, "the same for all stream connections of one listener", NULL, false },
	{ "idle-ms", K_UINT, F(idle_ms), 1, 86400000, 0, NULL, NULL, NULL, NULL,
	  "a stream peer with nothing received and nothing in flight for this long is closed",
	  NULL, false },
	{ "frame-ms", K_UINT, F(frame_ms), 1, 3600000, 0, NULL, NULL, NULL, NULL,
	  "a started frame must arrive whole within this", NULL, false },
	{ "keepalive-s", K_UINT, F(keepalive_s), 0, 86400, 0, NULL, NULL, NULL, NULL,
	  "TCP keepalive idle time (0: off)", NULL, false },
};

#define NR_SETTINGS (sizeof(settings) / sizeof(settings[0]))

static const struct setting *find(const char *key)
{
	for (size_t i = 0; i < NR_SETTINGS; i++)
		if (!strcmp(settings[i].name, key))
			return &settings[i];
	return NULL;
}

const char *ar__config_setting(const struct ar_config *c, const char *key)
{
	static const char *const plugin_keys[AR_NR_PLUGIN_KEYS] = {
#define AR_PLUGIN_KEY_NAME_(k) k,
		AR_PLUGIN_KEYS(AR_PLUGIN_KEY_NAME_)
#undef AR_PLUGIN_KEY_NAME_
	};

	for (int i = 0; i < AR_NR_PLUGIN_KEYS; i++)
		if (!strcmp(key, plugin_keys[i]))
			return c->plugin_set[i];
	return NULL;
}

/* ---- values ---- */

static uint64_t get_num(const struct ar_config *c, const struct setting *s)
{
	const char *p = (const char *)c + s->off;

	if (s->size == sizeof(uint64_t))
		return *(const uint64_t *)(const void *)p;
	return *(const uint32_t *)(const void *)p;
}

static void put_num(struct ar_config *c, const struct setting *s, uint64_t v)
{
	char *p = (char *)c + s->off;

	if (s->size == sizeof(uint64_t))
		*(uint64_t *)(void *)p = v;
	else
		*(uint32_t *)(void *)p = (uint32_t)v;
}

/* 64K, 1M, 16G where exact, else the number. */
static void fmt_bytes(uint64_t v, char *out, size_t cap)
{
	static const char suf[] = "KMG";
	int i = -1;

	while (i < 2 && v && !(v & 1023))
		v >>= 10, i++;
	if (i < 0)
		snprintf(out, cap, "%" PRIu64, v);
	else
		snprintf(out, cap, "%" PRIu64 "%c", v, suf[i]);
}

/* What a setting accepts, for --help and every "bad value" message. */
static void describe(const struct setting *s, char *out, size_t cap)
{
	char lo[32], hi[32];

	switch (s->kind) {
	case K_UINT:
		snprintf(out, cap, "an integer, %" PRIu64 "..%" PRIu64, s->min, s->max);
		break;
	case K_BYTES:
		fmt_bytes(s->min, lo, sizeof(lo));
		fmt_bytes(s->max, hi, sizeof(hi));
		snprintf(out, cap, "bytes, %s..%s (K, M or G suffix)", lo, hi);
		break;
	case K_PATH:
		snprintf(out, cap, "an absolute path%s", s->min ? "" : ", or empty");
		break;
	case K_LEVEL:
		snprintf(out, cap, "error, warn, info, debug or 1..4");
		break;
	case K_MODE:
		snprintf(out, cap, "an octal mode, 0..%04" PRIo64, s->max);
		break;
	case K_GROUP:
		snprintf(out, cap, "a group name or a gid");
		break;
	default:
		snprintf(out, cap, "text");
		break;
	}
}

/* A number: decimal (octal for a mode); K/M/G only for sizes. */
static int parse_num(const struct setting *s, const char *val, uint64_t *out)
{
	unsigned long long v;
	char *end;
	int shift = 0;

	errno = 0;
	if (!isdigit((unsigned char)val[0]))
		return -EINVAL;
	v = strtoull(val, &end, s->kind == K_MODE ? 8 : 10);
	if (errno || end == val)
		return -EINVAL;
	if (s->kind == K_BYTES) {
		if (*end == 'K' || *end == 'k')
			shift = 10, end++;
		else if (*end == 'M' || *end == 'm')
			shift = 20, end++;
		else if (*end == 'G' || *end == 'g')
			shift = 30, end++;
	}
	if (*end || v > (s->max >> shift))
		return -EINVAL;
	v <<= shift;
	if (v < s->min || v > s->max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* Levenshtein distance, for "did you mean". Names are short. */
size_t ar__config_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[64], i, j;

	if (la >= 64 || lb >= 64)
		return SIZE_MAX;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		size_t diag = row[0], tmp;

		row[0] = i;
		for (j = 1; j <= lb; j++) {
			size_t best = diag + (a[i - 1] != b[j - 1]);

			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			tmp = row[j];
			row[j] = best;
			diag = tmp;
		}
	}
	return row[lb];
}

bool ar__config_known(const char *key)
{
	return find(key) != NULL;
}

const char *ar__config_suggest(const char *key)
{
	const char *best = NULL;
	size_t best_d = SIZE_MAX, limit = strlen(key) / 3 + 1;

	if (limit < 2)
		limit = 2;
	for (size_t i = 0; i < NR_SETTINGS; i++) {
		size_t d = ar__config_distance(key, settings[i].name);

		if (d < best_d) {
			best_d = d;
			best = settings[i].name;
		}
	}
	return best_d <= limit ? best : NULL;
}

static bool is_plugin_set(const struct setting *s)
{
	return s->off >= offsetof(struct ar_config, plugin_set) &&
	       s->off < offsetof(struct ar_config, plugin_set) +
				sizeof(((struct ar_config *)0)->plugin_set);
}

static int set_one(struct ar_config *c, const struct setting *s, const char *val,
		   char *why, size_t cap)
{
	char *dst = (char *)c + s->off;
	uint64_t v;
	int ret;

	switch (s->kind) {
	case K_UINT:
	case K_BYTES:
	case K_MODE:
		if (parse_num(s, val, &v))
			return -EINVAL;
		/* A plugin's number (torch-threads) is kept as written, once
		 * checked: the plugin reads it by name, as text. */
		if (is_plugin_set(s))
			break;
		put_num(c, s, v * (s->scale ? s->scale : 1));
		return 0;
	case K_LEVEL:
		ret = ar__log_parse_level(val);
		if (ret < 0)
			return -EINVAL;
		put_num(c, s, (uint64_t)ret);
		return 0;
	case K_GROUP: {
		struct group gr, *res = NULL;
		char buf[4096];
		char *end;

		errno = 0;
		v = strtoull(val, &end, 10);
		if (isdigit((unsigned char)val[0]) && !*end && !errno && v < UINT32_MAX) {
			put_num(c, s, v);
			return 0;
		}
		if (getgrnam_r(val, &gr, buf, sizeof(buf), &res) || !res) {
			snprintf(why, cap, "no group named '%s'", val);
			return -EINVAL;
		}
		put_num(c, s, gr.gr_gid);
		return 0;
	}
	case K_PATH:
		if ((*val || s->min) && val[0] != '/') {
			snprintf(why, cap, "'%s' is not an absolute path", val);
			return -EINVAL;
		}
		break;
	case K_STR:
		if (s->check && (ret = s->check(s->name, val, why, cap)))
			return ret;
		break;
	}
	if (strlen(val) >= s->size) {
		snprintf(why, cap, "longer than %zu bytes", s->size - 1);
		return -ENAMETOOLONG;
	}
	memcpy(dst, val, strlen(val) + 1);
	return 0;
}

int ar__config_set_from(struct ar_config *c, const char *key, const char *val,
			const char *where)
{
	const struct setting *s = find(key);
	char why[256] = "", accepts[96];
	const char *sep = where ? ": " : "";

	if (!where)
		where = "";
	if (!s) {
		const char *hint = ar__config_suggest(key);

		if (hint)
			ar_err("config: %s%sunknown setting '%s' (did you mean '%s'?)", where, sep,
			       key, hint);
		else
			ar_err("config: %s%sunknown setting '%s' (accelringd --help lists them)",
			       where, sep, key);
		return -EINVAL;
	}
	if (!set_one(c, s, val, why, sizeof(why)))
		return 0;
	describe(s, accepts, sizeof(accepts));
	ar_err("config: %s%sbad value '%s' for %s: %s", where, sep, val, key,
	       why[0] ? why : accepts);
	return -EINVAL;
}

int ar__config_set(struct ar_config *c, const char *key, const char *val)
{
	return ar__config_set_from(c, key, val, NULL);
}

int ar__config_env(struct ar_config *c)
{
	int ret = 0;

	for (size_t i = 0; i < NR_SETTINGS; i++) {
		const char *names[2] = { settings[i].env2, settings[i].env };

		for (int k = 0; k < 2; k++) {
			char where[64];
			const char *v;

			if (!names[k] || !(v = getenv(names[k])))
				continue;
			snprintf(where, sizeof(where), "environment %s", names[k]);
			if (ar__config_set_from(c, settings[i].name, v, where))
				ret = -EINVAL;
		}
	}
	return ret;
}

/* ---- the file ---- */

/*
 * One line: its name and value, in place. Returns 1 for a setting, 0 for a
 * blank or comment line, -EINVAL with the reason in why.
 */
int ar__config_parse_line(char *line, char **name, char **value, const char **why)
{
	char *s = line, *eq, *v, *e;

	while (isspace((unsigned char)*s))
		s++;
	if (!*s || *s == '#')
		return 0;
	eq = strchr(s, '=');
	if (!eq) {
		*why = "expected 'name = value'";
		return -EINVAL;
	}
	for (e = eq; e > s && isspace((unsigned char)e[-1]); e--)
		;
	*e = '\0';
	if (e == s) {
		*why = "no name before '='";
		return -EINVAL;
	}
	for (char *p = s; *p; p++)
		if (isspace((unsigned char)*p) || *p == '"' || *p == '#') {
			*why = "a name is one word: 'name = value'";
			return -EINVAL;
		}
	*name = s;
	v = eq + 1;
	while (isspace((unsigned char)*v))
		v++;
	if (*v == '"') {
		char *close = strchr(v + 1, '"'), *rest;

		if (!close) {
			*why = "a '\"' without its closing '\"'";
			return -EINVAL;
		}
		*close = '\0';
		for (rest = close + 1; isspace((unsigned char)*rest); rest++)
			;
		if (*rest && *rest != '#') {
			*why = "text after the closing '\"' (a comment starts with '#')";
			return -EINVAL;
		}
		*value = v + 1;
		return 1;
	}
	/* A comment starts at a '#' after whitespace (or right after '='). */
	for (e = v; *e; e++)
		if (*e == '#' && (e == v || isspace((unsigned char)e[-1]))) {
			*e = '\0';
			break;
		}
	while (e > v && isspace((unsigned char)e[-1]))
		*--e = '\0';
	if (strchr(v, '"')) {
		*why = "a '\"' inside a value: quote the whole value, there are no escapes";
		return -EINVAL;
	}
	*value = v;
	return 1;
}

int ar__config_load(struct ar_config *c, const char *path)
{
	char line[8192];
	unsigned lineno = 0;
	FILE *f = fopen(path, "r");
	int ret = 0;

	if (!f) {
		ret = -errno;
		ar_err("config: cannot open %s: %s", path, strerror(errno));
		return ret;
	}
	/* Every line is checked, so that one run lists every mistake. */
	while (fgets(line, sizeof(line), f)) {
		char where[PATH_MAX + 16], *name, *value;
		const char *why = NULL;
		size_t n = strlen(line);
		int r;

		lineno++;
		snprintf(where, sizeof(where), "%s:%u", path, lineno);
		if (n == sizeof(line) - 1 && line[n - 1] != '\n' && !feof(f)) {
			int ch;

			ar_err("config: %s: line longer than %zu bytes", where, sizeof(line) - 2);
			while ((ch = fgetc(f)) != EOF && ch != '\n')
				;
			ret = -EINVAL;
			continue;
		}
		r = ar__config_parse_line(line, &name, &value, &why);
		if (r < 0) {
			ar_err("config: %s: %s", where, why);
			ret = -EINVAL;
		} else if (r > 0 && ar__config_set_from(c, name, value, where)) {
			ret = -EINVAL;
		}
	}
	fclose(f);
	return ret;
}

/* ---- help and reload ---- */

static void fmt_default(const struct ar_config *d, const struct setting *s, char *out,
			size_t cap)
{
	const char *txt = (const char *)d + s->off;
	uint64_t v;

	if (s->def) {
		snprintf(out, cap, "%s", s->def);
		return;
	}
	switch (s->kind) {
	case K_UINT:
		v = get_num(d, s) / (s->scale ? s->scale : 1);
		snprintf(out, cap, "%" PRIu64, v);
		break;
	case K_BYTES:
		fmt_bytes(get_num(d, s), out, cap);
		break;
	case K_MODE:
		snprintf(out, cap, "%04" PRIo64, get_num(d, s));
		break;
	default:
		snprintf(out, cap, "%s", *txt ? txt : "none");
		break;
	}
}

/* "  NAME  text", the text wrapped at 80 columns under itself. */
static void wrap(FILE *f, const char *name, const char *text)
{
	const int indent = 25, width = 80 - indent;
	const char *p = text;

	fprintf(f, "  %-22s", name);
	while (*p) {
		int n = (int)strlen(p);

		if (n > width) {
			n = width;
			while (n > 0 && p[n] != ' ')
				n--;
			if (!n)
				n = width;
		}
		fprintf(f, " %.*s\n", n, p);
		p += n;
		while (*p == ' ')
			p++;
		if (*p)
			fprintf(f, "%*s", indent - 1, "");
	}
	if (!*text)
		fprintf(f, "\n");
}

void ar__config_usage(FILE *f)
{
	struct ar_config d;

	ar__config_defaults(&d);
	fprintf(f,
"usage: accelringd [--config FILE] [--NAME=VALUE | --NAME VALUE ...]\n"
"       accelringd --check-config [--config FILE] [--NAME=VALUE ...]\n"
"       accelringd --list-plugins [--plugin-dir DIR] [--plugins LIST]\n"
"       accelringd --version | --help\n"
"\n"
"  --config FILE   the config file (default " AR_DEFAULT_CONFIG "\n"
"                  if it exists): 'name = value' lines; '#' starts a comment at\n"
"                  the start of a line or after whitespace; optional \"double\n"
"                  quotes\" around a value are stripped (no escapes)\n"
"  --check-config  parse and check everything as at start, bind and load nothing;\n"
"                  prints 'config OK' (exit 0) or the errors (exit 2)\n"
"  --list-plugins  the plugins plugin-dir holds: name, version, ops, and whether\n"
"                  the plugins setting loads them\n"
"  --version       print 'accelringd " AR_VERSION_STRING "' and exit\n"
"\n"
"Precedence: flags > environment > config file > defaults. SIGHUP re-reads\n"
"them all: log-level applies at once, the others at the next start.\n");
	for (size_t i = 0; i < NR_SETTINGS; i++) {
		const struct setting *s = &settings[i];
		char acc[96], def[96], line[320];

		if (s->section)
			fprintf(f, "\n%s:\n", s->section);
		describe(s, acc, sizeof(acc));
		fmt_default(&d, s, def, sizeof(def));
		wrap(f, s->name, s->help);
		if (s->kind == K_STR)
			snprintf(line, sizeof(line), "default %s", def);
		else
			snprintf(line, sizeof(line), "%s; default %s", acc, def);
		if (s->env)
			snprintf(line + strlen(line), sizeof(line) - strlen(line), "; env %s%s%s",
				 s->env, s->env2 ? " or " : "", s->env2 ? s->env2 : "");
		wrap(f, "", line);
	}
	fprintf(f,
"\nEnvironment:\n"
"  ACCELRING_SOCKET, ACCELRING_PLUGINS (or VACCEL_PLUGINS), ACCELRING_LOG_LEVEL\n"
"                  (or VACCEL_LOG_LEVEL): the settings above\n"
"  ACCELRING_READY_FD  an fd to write 'ready[ tcp=HOST:PORT]' to once accepting\n"
"  LISTEN_FDS, LISTEN_PID  systemd socket activation: the UNIX socket is fd 3\n"
"  NOTIFY_SOCKET   systemd: READY=1, RELOADING=1, STOPPING=1 and STATUS= are sent\n"
"  JOURNAL_STREAM  when it names stderr, log lines carry <N> syslog priorities\n"
"                  and no timestamp\n");
}

bool ar__config_reload(struct ar_config *cur, const struct ar_config *next)
{
	bool restart = false;

	for (size_t i = 0; i < NR_SETTINGS; i++) {
		const struct setting *s = &settings[i];
		const char *a = (const char *)cur + s->off, *b = (const char *)next + s->off;
		bool same = s->kind == K_STR || s->kind == K_PATH || is_plugin_set(s) ?
			    !strcmp(a, b) : !memcmp(a, b, s->size);

		if (same)
			continue;
		if (s->reload) {
			memcpy((char *)cur + s->off, b, s->size);
			ar_info("SIGHUP: %s changed: applied", s->name);
		} else {
			ar_warn("SIGHUP: %s changed: it takes effect at the next start", s->name);
			restart = true;
		}
	}
	return restart;
}

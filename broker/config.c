/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Configuration: defaults, then the config file, then the environment,
 * then command-line flags (main.c applies them in that order). Every
 * setting has one name, used as "name = value" in the file and as
 * --name=value on the command line.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
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
	c->log_level = ar__log_level;
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

#define AR_PLUGIN_KEY_NAME_(k) k,
static const char *const plugin_keys[AR_NR_PLUGIN_KEYS] = {
	AR_PLUGIN_KEYS(AR_PLUGIN_KEY_NAME_)
};

static int plugin_key(const char *key)
{
	for (int i = 0; i < AR_NR_PLUGIN_KEYS; i++)
		if (!strcmp(key, plugin_keys[i]))
			return i;
	return -1;
}

const char *ar__config_setting(const struct ar_config *c, const char *key)
{
	int i = plugin_key(key);

	return i < 0 ? NULL : c->plugin_set[i];
}

static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || v > max)
		return -EINVAL;
	/* Size suffixes, for the byte settings. */
	if (*end == 'K' || *end == 'k')
		v <<= 10, end++;
	else if (*end == 'M' || *end == 'm')
		v <<= 20, end++;
	else if (*end == 'G' || *end == 'g')
		v <<= 30, end++;
	if (*end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int set_str(char *dst, size_t cap, const char *val)
{
	if (strlen(val) >= cap)
		return -ENAMETOOLONG;
	memcpy(dst, val, strlen(val) + 1);
	return 0;
}

int ar__config_set(struct ar_config *c, const char *key, const char *val)
{
	uint64_t v;
	int ret = 0;

#define U(name, field, min, max)                                   \
	if (!strcmp(key, name)) {                                  \
		ret = parse_u64(val, min, max, &v);                \
		if (!ret)                                          \
			c->field = v;                              \
		goto out;                                          \
	}
	if (!strcmp(key, "socket"))
		ret = set_str(c->socket_path, sizeof(c->socket_path), val);
	else if (!strcmp(key, "plugin-dir"))
		ret = set_str(c->plugin_dir, sizeof(c->plugin_dir), val);
	else if (!strcmp(key, "plugins"))
		ret = set_str(c->plugins, sizeof(c->plugins), val);
	else if (plugin_key(key) >= 0)
		ret = set_str(c->plugin_set[plugin_key(key)], sizeof(c->plugin_set[0]), val);
	else if (!strcmp(key, "tcp"))
		ret = set_str(c->tcp, sizeof(c->tcp), val);
	else if (!strcmp(key, "isolation") || !strcmp(key, "op-timeout-ms") ||
		 !strcmp(key, "plugin-memory-max")) {
		char *dst = key[0] == 'i' ? c->isolation : key[0] == 'o' ? c->op_timeout_ms :
			    c->plugin_memory_max;

		ret = ar__iso_check(key, val);
		if (!ret)
			ret = set_str(dst, sizeof(c->isolation), val);
	}
	else if (!strcmp(key, "allow-peers")) {
		ret = ar__peer_list_check(val);
		if (!ret)
			ret = set_str(c->allow_peers, sizeof(c->allow_peers), val);
	}
	else if (!strcmp(key, "allow-uids") || !strcmp(key, "allow-gids")) {
		char *dst = key[6] == 'u' ? c->allow_uids : c->allow_gids;

		ret = ar__id_list_check(val);
		if (!ret)
			ret = set_str(dst, sizeof(c->allow_uids), val);
	}
	else if (!strcmp(key, "log-level")) {
		ret = ar__log_parse_level(val);
		if (ret > 0) {
			c->log_level = ret;
			ret = 0;
		}
	} else if (!strcmp(key, "spin-us")) {
		ret = parse_u64(val, 0, 10000000, &v);
		if (!ret)
			c->spin_ns = v * 1000;
	} else {
		U("workers", workers, 0, 256)
		U("batch", batch, 1, 1024)
		U("max-channels", max_channels, 1, AR_MAX_CHANNELS)
		U("sq-bytes", sq_bytes, AR_RING_BYTES_MIN, AR_RING_BYTES_MAX)
		U("cq-bytes", cq_bytes, AR_RING_BYTES_MIN, AR_RING_BYTES_MAX)
		U("max-ring-bytes", max_ring_bytes, AR_RING_BYTES_MIN, AR_RING_BYTES_MAX)
		U("data-bytes", data_bytes, 0, AR_REGION_DATA_MAX)
		U("max-data-bytes", max_data_bytes, 0, AR_REGION_DATA_MAX)
		U("handshake-ms", handshake_ms, 1, 3600000)
		U("grace-ms", grace_ms, 0, 3600000)
		U("vsock-port", vsock_port, 0, UINT32_MAX - 1)
		U("max-frame", max_frame, AR_MIN_FRAME, AR_MAX_FRAME)
		U("idle-ms", idle_ms, 1, 86400000)
		U("frame-ms", frame_ms, 1, 3600000)
		U("keepalive-s", keepalive_s, 0, 86400)
		U("tenant-channels", tenant_channels, 1, 65536)
		U("tenant-sessions", tenant_sessions, 1, 1u << 20)
		U("tenant-inflight", tenant_inflight, 0, 1u << 20)
		U("tenant-long-ops", tenant_long_ops, 0, 1u << 16)
		U("tenant-shm", tenant_shm, 1u << 20, 1ull << 44)
		U("stream-data-bytes", stream_data_bytes, 0, AR_REGION_DATA_MAX)
		U("stream-max-data-bytes", stream_max_data_bytes, 0, AR_REGION_DATA_MAX)
		U("stream-tenant-shm", stream_tenant_shm, 1u << 20, 1ull << 44)
		U("listener-shm", listener_shm, 1u << 20, 1ull << 44)
		U("tenant-resource-bytes", tenant_resource_bytes, 0, 1ull << 44)
		U("tenant-resources", tenant_resources, 0, 1u << 20)
		U("batch-max", batch_max, 1, AR_BATCH_MAX)
		U("batch-delay-us", batch_delay_us, 0, 1000000)
		U("tenant-handshakes", tenant_handshakes, 1, 65536)
		U("host-uid", host_uid, 0, UINT32_MAX - 1)
		U("host-gid", host_gid, 0, UINT32_MAX - 1)
		U("host-threads", host_threads, 1, 256)
		U("max-handshakes", max_handshakes, 1, 65536)
		ar_err("config: unknown setting '%s'", key);
		return -EINVAL;
	}
#undef U
out:
	if (ret)
		ar_err("config: bad value '%s' for %s", val, key);
	return ret ? -EINVAL : 0;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
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
	while (fgets(line, sizeof(line), f)) {
		char *s = trim(line), *eq;

		lineno++;
		if (*s == '\0' || *s == '#')
			continue;
		eq = strchr(s, '=');
		if (!eq) {
			ar_err("config: %s:%u: expected 'name = value'", path, lineno);
			ret = -EINVAL;
			break;
		}
		*eq = '\0';
		if (ar__config_set(c, trim(s), trim(eq + 1))) {
			ar_err("config: %s:%u: refused", path, lineno);
			ret = -EINVAL;
			break;
		}
	}
	fclose(f);
	return ret;
}

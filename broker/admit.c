/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Who gets in: allow-peers for network peers, and the caps on connections
 * that have not finished their handshake.
 *
 * A network peer is an address (a TCP source address, a vsock CID), never a
 * uid: over TCP every local user is the same tenant, "tcp 127.0.0.1", and
 * allow-uids / allow-gids cannot tell them apart. So a TCP or vsock
 * listener admits only the peers allow-peers lists (empty: nobody), and a
 * peer that is this machine (a process on it, of any uid) only through an
 * entry that names this machine: a loopback peer (127.0.0.0/8, ::1,
 * ::ffff:127.x, vsock CID 1) through a loopback entry, a peer from one of
 * this machine's own addresses (a local process connecting to the host's
 * 192.168.122.1, say) through an entry for exactly that address. So
 * 0.0.0.0/0, a guests' subnet or vsock:any, written for VMs, do not let
 * local users past allow-uids. The broker warns at start about both.
 *
 * Handshakes: a connection holds an fd and a little memory from accept to
 * its Welcome, for up to handshake-ms. At most tenant-handshakes of them
 * per tenant key (a uid, an address) and max-handshakes per listener are
 * kept; a connection beyond either is closed at accept, with a warning at
 * most once a second. So a storm of silent connections costs the broker a
 * bounded number of fds, and one tenant's storm does not keep others out.
 *
 * Everything here runs on the loop thread (ar__peer_list_check also at
 * configuration, before any thread starts).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <linux/vm_sockets.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "internal.h"

/* ---- allow-peers ---- */

/* An address, IPv4-mapped IPv6 addresses as IPv4 (a listener on [::]
 * sees IPv4 peers that way; their entries are written as IPv4). */
struct addr {
	int family;		/* AF_INET, AF_INET6 or AF_VSOCK */
	uint8_t a[16];		/* network order; 4 bytes for AF_INET */
	uint32_t cid;		/* AF_VSOCK */
};

static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

static void from_v6(struct addr *x, const uint8_t *a16)
{
	if (!memcmp(a16, v4mapped, sizeof(v4mapped))) {
		x->family = AF_INET;
		memcpy(x->a, a16 + 12, 4);
	} else {
		x->family = AF_INET6;
		memcpy(x->a, a16, 16);
	}
}

static bool addr_loopback(const struct addr *x)
{
	static const uint8_t one[16] = { [15] = 1 };

	switch (x->family) {
	case AF_INET:
		return x->a[0] == 127;
	case AF_INET6:
		return !memcmp(x->a, one, 16);
	case AF_VSOCK:
		return x->cid == VMADDR_CID_LOCAL;
	}
	return false;
}

/* Whether x is an address of one of this machine's interfaces: a peer
 * from there is a local process (a remote one cannot complete a TCP
 * handshake from it: our replies would stay here). Asked of the kernel
 * each time, since addresses come and go. */
static bool addr_of_this_host(const struct addr *x)
{
	struct ifaddrs *ifa, *i;
	bool found = false;

	if (x->family != AF_INET && x->family != AF_INET6)
		return false;
	if (getifaddrs(&ifa))
		return true;	/* cannot tell: the careful answer */
	for (i = ifa; i && !found; i = i->ifa_next) {
		struct addr y = { 0 };

		if (!i->ifa_addr)
			continue;
		if (i->ifa_addr->sa_family == AF_INET) {
			y.family = AF_INET;
			memcpy(y.a, &((const struct sockaddr_in *)i->ifa_addr)->sin_addr, 4);
		} else if (i->ifa_addr->sa_family == AF_INET6) {
			from_v6(&y, (const uint8_t *)&((const struct sockaddr_in6 *)
							   i->ifa_addr)->sin6_addr);
		} else {
			continue;
		}
		found = y.family == x->family &&
			!memcmp(y.a, x->a, x->family == AF_INET ? 4 : 16);
	}
	freeifaddrs(ifa);
	return found;
}

/* One entry: "vsock:CID", "vsock:any", "ADDR" or "ADDR/BITS". */
struct entry {
	int family;
	bool any;		/* vsock:any */
	struct addr net;
	unsigned bits;
};

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return (errno || *end || *out > max) ? -EINVAL : 0;
}

static int parse_entry(const char *e, struct entry *out)
{
	char host[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(e, '/');
	unsigned long v;
	uint8_t a16[16];

	memset(out, 0, sizeof(*out));
	if (!strncmp(e, "vsock:", 6)) {
		out->family = AF_VSOCK;
		if (!strcmp(e + 6, "any")) {
			out->any = true;
			return 0;
		}
		if (parse_uint(e + 6, UINT32_MAX, &v))
			return -EINVAL;
		out->net.family = AF_VSOCK;
		out->net.cid = (uint32_t)v;
		return 0;
	}
	if ((slash ? (size_t)(slash - e) : strlen(e)) >= sizeof(host))
		return -EINVAL;
	snprintf(host, sizeof(host), "%.*s", slash ? (int)(slash - e) : (int)strlen(e), e);
	if (inet_pton(AF_INET, host, out->net.a) == 1) {
		out->net.family = AF_INET;
		out->bits = 32;
	} else if (inet_pton(AF_INET6, host, a16) == 1) {
		from_v6(&out->net, a16);
		out->bits = out->net.family == AF_INET ? 32 : 128;
	} else {
		return -EINVAL;
	}
	out->family = out->net.family;
	if (slash) {
		/* "::ffff:10.0.0.0/104" is 10.0.0.0/8. */
		bool mapped = out->net.family == AF_INET && !inet_pton(AF_INET, host, a16);
		unsigned long lo = mapped ? 96 : 0;

		if (parse_uint(slash + 1, mapped ? 128 : out->bits, &v) || v < lo)
			return -EINVAL;
		out->bits = (unsigned)(v - lo);
	}
	return 0;
}

/* Whether the entry lies wholly inside loopback: only such an entry
 * admits a loopback peer. */
static bool entry_loopback(const struct entry *e)
{
	if (e->family == AF_VSOCK)
		return !e->any && e->net.cid == VMADDR_CID_LOCAL;
	if (e->family == AF_INET)
		return e->bits >= 8 && e->net.a[0] == 127;
	return e->bits == 128 && addr_loopback(&e->net);
}

/* Whether the entry is the one address x, nothing wider. */
static bool entry_exactly(const struct entry *e, const struct addr *x)
{
	if (e->family != x->family || e->family == AF_VSOCK)
		return false;
	return e->bits == (x->family == AF_INET ? 32u : 128u) &&
	       !memcmp(e->net.a, x->a, x->family == AF_INET ? 4 : 16);
}

static bool in_prefix(const uint8_t *addr, const uint8_t *net, unsigned bits)
{
	unsigned full = bits / 8, rest = bits % 8;

	if (memcmp(addr, net, full))
		return false;
	return !rest || ((addr[full] ^ net[full]) & (0xffu << (8 - rest)) & 0xffu) == 0;
}

static bool entry_matches(const struct entry *e, const struct addr *x)
{
	if (e->family != x->family)
		return false;
	if (e->family == AF_VSOCK)
		return e->any || e->net.cid == x->cid;
	return in_prefix(x->a, e->net.a, e->bits);
}

int ar__peer_list_check(const char *list)
{
	char copy[sizeof(((struct ar_config *)0)->allow_peers)], *save = NULL;
	struct entry en;

	if (strlen(list) >= sizeof(copy))
		return -EINVAL;
	snprintf(copy, sizeof(copy), "%s", list);
	for (char *e = strtok_r(copy, ", ", &save); e; e = strtok_r(NULL, ", ", &save)) {
		if (parse_entry(e, &en)) {
			ar_err("config: allow-peers: '%s' is not ADDR, ADDR/BITS, vsock:CID or vsock:any",
			       e);
			return -EINVAL;
		}
	}
	return 0;
}

static int peer_addr(const struct ar_conn *c, struct addr *x)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	memset(x, 0, sizeof(*x));
	if (getpeername(c->fd, (struct sockaddr *)&ss, &len))
		return -errno;
	switch (ss.ss_family) {
	case AF_INET:
		x->family = AF_INET;
		memcpy(x->a, &((const struct sockaddr_in *)&ss)->sin_addr, 4);
		return 0;
	case AF_INET6:
		from_v6(x, (const uint8_t *)&((const struct sockaddr_in6 *)&ss)->sin6_addr);
		return 0;
	case AF_VSOCK:
		x->family = AF_VSOCK;
		x->cid = ((const struct sockaddr_vm *)&ss)->svm_cid;
		return 0;
	}
	return -EAFNOSUPPORT;
}

bool ar__peer_allowed(const struct ar_broker *b, const struct ar_conn *c,
		      char *why, size_t cap)
{
	char list[sizeof(b->cfg.allow_peers)], *save = NULL;
	const char *kind = c->kind == AR_LISTEN_VSOCK ? "vsock" : "tcp";
	const char *broad = NULL;
	int local = -1;		/* one of our addresses: not known yet */
	struct entry en;
	struct addr x;

	if (!b->cfg.allow_peers[0]) {
		snprintf(why, cap, "peer %s: allow-peers is empty, and a %s listener admits "
			 "only the peers it lists", c->peer, kind);
		return false;
	}
	if (peer_addr(c, &x)) {
		snprintf(why, cap, "peer %s: no address", c->peer);
		return false;
	}
	snprintf(list, sizeof(list), "%s", b->cfg.allow_peers);
	for (char *e = strtok_r(list, ", ", &save); e; e = strtok_r(NULL, ", ", &save)) {
		if (parse_entry(e, &en) || !entry_matches(&en, &x))
			continue;
		if (addr_loopback(&x)) {
			if (entry_loopback(&en))
				return true;
			broad = e;
			continue;
		}
		/* Asked only of a peer some entry admits. */
		if (local < 0)
			local = addr_of_this_host(&x);
		if (local && !entry_exactly(&en, &x)) {
			broad = e;
			continue;
		}
		return true;
	}
	if (broad && addr_loopback(&x))
		snprintf(why, cap, "peer %s is a loopback address (a local process of any uid): "
			 "allow-peers entry %s does not admit it, only a loopback entry "
			 "(127.0.0.1, ::1, vsock:1) does", c->peer, broad);
	else if (broad)
		snprintf(why, cap, "peer %s is an address of this machine (a local process of "
			 "any uid): allow-peers entry %s does not admit it, only an entry for "
			 "exactly that address does", c->peer, broad);
	else
		snprintf(why, cap, "peer %s is not in allow-peers", c->peer);
	return false;
}

void ar__admit_warn(const struct ar_config *cfg)
{
	char list[sizeof(cfg->allow_peers)], *save = NULL;
	bool tcp = cfg->tcp[0], vsock = cfg->vsock_port, has_ip = false, has_vsock = false;
	const char *loop = NULL;
	struct entry en;

	if (!tcp && !vsock)
		return;
	snprintf(list, sizeof(list), "%s", cfg->allow_peers);
	for (char *e = strtok_r(list, ", ", &save); e; e = strtok_r(NULL, ", ", &save)) {
		if (parse_entry(e, &en))
			continue;
		if (en.family == AF_VSOCK)
			has_vsock = true;
		else
			has_ip = true;
		/* Local users get in through a loopback entry, or one naming
		 * exactly an address of this machine. */
		if (!loop && (en.family == AF_VSOCK ? vsock : tcp) &&
		    (entry_loopback(&en) ||
		     (en.bits == (en.family == AF_INET ? 32u : 128u) &&
		      addr_of_this_host(&en.net))))
			loop = e;
	}
	if (!cfg->allow_peers[0])
		ar_warn("allow-peers is empty: the %s listener%s will refuse every peer (EACCES); "
			"list the addresses of the VMs that may connect, e.g. "
			"--allow-peers=10.0.2.0/24 or vsock:3",
			tcp && vsock ? "tcp and vsock" : tcp ? "tcp" : "vsock",
			tcp && vsock ? "s" : "");
	else if (tcp && !has_ip)
		ar_warn("allow-peers has no address entry: the tcp listener will refuse every peer");
	else if (vsock && !has_vsock)
		ar_warn("allow-peers has no vsock entry: the vsock listener will refuse every peer");
	if (!loop)
		return;
	/* A TCP (or vsock loopback) tenant is an address: every local user
	 * reaching it is that one tenant, whatever its uid. */
	if (cfg->allow_uids[0] || cfg->allow_gids[0])
		ar_warn("allow-peers entry %s admits this machine: local users outside "
			"allow-uids/allow-gids reach the broker through it, all as one tenant "
			"(an address is not a uid)", loop);
	else
		ar_info("allow-peers entry %s admits this machine: every local user reaching "
			"it is the same tenant", loop);
}

/* ---- handshake caps ---- */

struct hs_key {
	char key[sizeof(((struct ar_conn *)0)->key)];
	unsigned nr;
};

struct ar_handshakes {
	unsigned nr[AR_LISTEN_MAX];	/* per listener */
	struct hs_key *keys;		/* keys with at least one */
	unsigned nr_keys, cap_keys;
	uint64_t warned_ns;		/* the last refusal logged */
	unsigned quiet;			/* refusals not logged since */
};

static struct hs_key *find_key(struct ar_handshakes *h, const char *key)
{
	for (unsigned i = 0; i < h->nr_keys; i++)
		if (!strcmp(h->keys[i].key, key))
			return &h->keys[i];
	return NULL;
}

static void refused(struct ar_handshakes *h, const struct ar_conn *c,
		    const char *what, unsigned nr, const char *setting, unsigned max)
{
	uint64_t now = ar__now_ns();

	/* A storm must not become a storm of log lines. */
	if (h->warned_ns && now - h->warned_ns < 1000000000u) {
		h->quiet++;
		return;
	}
	ar_warn("conn %u (%s): closed at once: %s has %u connections in the handshake, "
		"%s is %u (%u more closed since the last warning)",
		c->id, c->peer, what, nr, setting, max, h->quiet);
	h->warned_ns = now;
	h->quiet = 0;
}

bool ar__handshake_admit(struct ar_broker *b, struct ar_conn *c)
{
	struct ar_handshakes *h = b->hs;
	struct hs_key *k;
	char what[128];

	if (!h) {
		h = b->hs = calloc(1, sizeof(*h));
		if (!h)
			return false;
	}
	k = find_key(h, c->key);
	if (k && k->nr >= b->cfg.tenant_handshakes) {
		snprintf(what, sizeof(what), "tenant %s", c->key);
		refused(h, c, what, k->nr, "tenant-handshakes", b->cfg.tenant_handshakes);
		return false;
	}
	if (h->nr[c->kind] >= b->cfg.max_handshakes) {
		snprintf(what, sizeof(what), "the %s listener",
			 c->kind == AR_LISTEN_UNIX ? "unix" : c->kind == AR_LISTEN_TCP ? "tcp" : "vsock");
		refused(h, c, what, h->nr[c->kind], "max-handshakes", b->cfg.max_handshakes);
		return false;
	}
	if (!k) {
		if (h->nr_keys == h->cap_keys) {
			unsigned cap = h->cap_keys ? h->cap_keys * 2 : 16;
			struct hs_key *n = realloc(h->keys, cap * sizeof(*n));

			if (!n)
				return false;
			h->keys = n;
			h->cap_keys = cap;
		}
		k = &h->keys[h->nr_keys++];
		snprintf(k->key, sizeof(k->key), "%s", c->key);
		k->nr = 0;
	}
	k->nr++;
	h->nr[c->kind]++;
	c->hs_counted = true;
	return true;
}

void ar__handshake_done(struct ar_broker *b, struct ar_conn *c)
{
	struct ar_handshakes *h = b->hs;
	struct hs_key *k;

	if (!c->hs_counted || !h)
		return;
	c->hs_counted = false;
	h->nr[c->kind]--;
	k = find_key(h, c->key);
	if (k && !--k->nr)
		*k = h->keys[--h->nr_keys];
}

void ar__handshake_free(struct ar_broker *b)
{
	if (!b->hs)
		return;
	free(b->hs->keys);
	free(b->hs);
	b->hs = NULL;
}

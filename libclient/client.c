/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Connections, queues, completions and waiting.
 */
#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "accelring/trace.h"
#include "client_pvt.h"

/* How long the handshake may take before the broker counts as gone. */
#define HANDSHAKE_TIMEOUT_S 10
#define SPIN_YIELD_NS 5000u

static _Atomic uint64_t next_client_id = 1;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- addresses ---- */

#define ADDRESS_FORMS \
	"unix:///path, unix-stream:///path, tcp://host:port or vsock://cid:port"

/*
 * unix:///path          shared memory (the default)
 * unix-stream:///path   the same socket, stream transport
 * tcp://host:port       stream transport (VMs)
 * vsock://cid:port      stream transport (VMs)
 * /path                 as unix:///path
 *
 * Returns 0, or -EINVAL / -EPROTONOSUPPORT with *why saying what is wrong.
 */
static int parse_address(const char *addr, struct ar_client *c, const char **why)
{
	const char *colon;

	c->kind = AR_ADDR_UNIX;
	if (!*addr) {
		*why = "it is empty";
		return -EINVAL;
	}
	if (!strncmp(addr, "unix-stream://", 14)) {
		c->kind = AR_ADDR_UNIX_STREAM;
		addr += 14;
	} else if (!strncmp(addr, "unix://", 7)) {
		addr += 7;
	} else if (!strncmp(addr, "unix:", 5)) {
		addr += 5;
	} else if (!strncmp(addr, "tcp://", 6)) {
		addr += 6;
		*why = "tcp:// needs HOST:PORT (an IPv6 host in brackets: [::1]:7355)";
		if (addr[0] == '[') {
			const char *rb = strchr(addr, ']');

			colon = rb && rb > addr + 1 && rb[1] == ':' ? rb + 1 : NULL;
		} else {
			colon = strchr(addr, ':');
			/* An IPv6 host without its brackets is ambiguous. */
			if (colon && strchr(colon + 1, ':'))
				colon = NULL;
		}
		if (!colon || colon == addr || !colon[1])
			return -EINVAL;
		if ((size_t)(colon - addr) >= sizeof(c->host) ||
		    strlen(colon + 1) >= sizeof(c->port)) {
			*why = "the host or the port is too long";
			return -EINVAL;
		}
		c->kind = AR_ADDR_TCP;
		/* [v6]:port */
		if (addr[0] == '[' && colon[-1] == ']')
			snprintf(c->host, sizeof(c->host), "%.*s", (int)(colon - addr - 2), addr + 1);
		else
			snprintf(c->host, sizeof(c->host), "%.*s", (int)(colon - addr), addr);
		snprintf(c->port, sizeof(c->port), "%s", colon + 1);
		return 0;
	} else if (!strncmp(addr, "vsock://", 8)) {
		char *end;
		unsigned long cid, port;

		*why = "vsock:// needs CID:PORT, two numbers of 32 bits";
		errno = 0;
		cid = strtoul(addr + 8, &end, 10);
		if (*end != ':' || end == addr + 8 || addr[8] == '-')
			return -EINVAL;
		port = strtoul(end + 1, &end, 10);
		if (*end || end[-1] == ':' || errno || cid > UINT32_MAX || port > UINT32_MAX)
			return -EINVAL;
		c->kind = AR_ADDR_VSOCK;
		c->cid = (uint32_t)cid;
		c->vport = (uint32_t)port;
		return 0;
	} else if (strstr(addr, "://")) {
		*why = "unknown scheme; this client speaks " ADDRESS_FORMS;
		return -EPROTONOSUPPORT;
	}
	if (*addr != '/') {
		*why = "a socket path must be absolute; the forms are " ADDRESS_FORMS;
		return -EINVAL;
	}
	if (strlen(addr) >= sizeof(c->path)) {
		*why = "a UNIX socket path is at most 107 bytes";
		return -EINVAL;
	}
	strcpy(c->path, addr);
	return 0;
}

/* The address to use: the caller's, else the variables', else the
 * default; *from names where it came from. */
static const char *pick_address(const char *address, const char **from)
{
	const char *env;

	if (address) {
		*from = "given by the program";
		return address;
	}
	env = getenv("ACCELRING_ADDRESS");
	if (env) {
		*from = "from ACCELRING_ADDRESS";
		return env;
	}
	/* vAccel's variable, for apps configured for vAccel's RPC agent: the
	 * same schemes. */
	env = getenv("VACCEL_RPC_ADDRESS");
	if (env && *env) {
		*from = "from VACCEL_RPC_ADDRESS";
		return env;
	}
	*from = "the default: ACCELRING_ADDRESS is not set";
	return AR_DEFAULT_ADDRESS;
}

/* One variable into *v, its warning (if any) appended to c->warnings. */
static uint64_t client_env(struct ar_client *c, enum ar__env which)
{
	char w[256];
	uint64_t v = ar__env_get(which, w, sizeof(w));
	size_t len = strlen(c->warnings);

	if (w[0] && len < sizeof(c->warnings) - 1)
		snprintf(c->warnings + len, sizeof(c->warnings) - len, "%s%s",
			 len ? "\n" : "", w);
	return v;
}

/* Before the first op: the tracepoints' probes, where a trace can be
 * taken (trace.c); a wanted trace that cannot be is one more warning. */
static void trace_probes(struct ar_client *c)
{
	char w[PATH_MAX + 256];
	size_t len;

	w[0] = '\0';
	if (ar__trace_load_probes((int)client_env(c, AR_ENV_TRACE), w, sizeof(w)) !=
	    AR_TRACE_PROBES_MISSING)
		return;
	len = strlen(c->warnings);
	if (len < sizeof(c->warnings) - 1)
		snprintf(c->warnings + len, sizeof(c->warnings) - len, "%s%s", len ? "\n" : "", w);
}

static void release_thread_queue(void *arg);

int ar__client_open(const char *address, struct ar_client **out, char *why, size_t cap)
{
	const char *from, *what = "";
	struct ar_client *c;
	int ret;

	address = pick_address(address, &from);
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	ret = parse_address(address, c, &what);
	if (ret) {
		if (why)
			snprintf(why, cap, "bad broker address \"%.200s\" (%s): %s", address, from,
				 what);
		free(c);
		return ret;
	}
	snprintf(c->address, sizeof(c->address), "%s", address);
	c->from = from;
	c->id = atomic_fetch_add(&next_client_id, 1);
	c->want_channels = (uint32_t)client_env(c, AR_ENV_CHANNELS);
	c->data_bytes = client_env(c, AR_ENV_DATA_BYTES);
	c->spin_ns = client_env(c, AR_ENV_SPIN_NS);
	/* A stream client's area is its own memory: say its size. */
	c->sq_bytes = (uint32_t)client_env(c, AR_ENV_SQ_BYTES);
	c->cq_bytes = (uint32_t)client_env(c, AR_ENV_CQ_BYTES);
	trace_probes(c);
	if (pthread_key_create(&c->key, release_thread_queue)) {
		if (why)
			snprintf(why, cap, "no thread key left for the client");
		free(c);
		return -ENOMEM;
	}
	pthread_mutex_init(&c->lock, NULL);
	*out = c;
	return 0;
}

AR_VISIBLE int ar_client_connect(const char *address, struct ar_client **out)
{
	return ar__client_open(address, out, NULL, 0);
}

AR_VISIBLE const char *ar_version(void)
{
	return AR_VERSION_STRING;
}

/* ---- why a connection failed ---- */

int ar__gai_errno(int gai)
{
	switch (gai) {
	case 0:
		return 0;
	case EAI_NONAME:
#ifdef EAI_NODATA
	case EAI_NODATA:
#endif
#ifdef EAI_ADDRFAMILY
	case EAI_ADDRFAMILY:
#endif
		return -ENXIO;		/* no such host */
	case EAI_AGAIN:
		return -EAGAIN;		/* the resolver may answer later */
	case EAI_MEMORY:
		return -ENOMEM;
	case EAI_SERVICE:
	case EAI_FAMILY:
	case EAI_SOCKTYPE:
	case EAI_BADFLAGS:
		return -EINVAL;		/* a port that names no TCP service */
	case EAI_SYSTEM:
		return errno ? -errno : -EIO;
	case EAI_FAIL:
	default:
		return -EIO;		/* the resolver failed for good */
	}
}

/* What a user may do about err when connecting to c's broker. */
static const char *connect_hint(const struct ar_client *c, int err)
{
	bool local = c->kind == AR_ADDR_UNIX || c->kind == AR_ADDR_UNIX_STREAM;

	switch (err) {
	case -ENOENT:
		return "no socket there: is accelringd running with this socket, and its "
		       "directory mounted into this container?";
	case -ECONNREFUSED:
		return local ? "nothing listens on the socket: is accelringd running? (a broker "
			       "that exited leaves its socket file)"
			     : "nothing listens there: is accelringd running with tcp = "
			       "HOST:PORT (or vsock-port), and is the port reachable?";
	case -EACCES:
	case -EPERM:
		return local ? "this user may not open the socket (its mode and group)" : "";
	case -ENOTDIR:
	case -ENOTSOCK:
		return "the path is not a socket";
	case -ETIMEDOUT:
	case -EHOSTUNREACH:
	case -ENETUNREACH:
		return "the broker's host cannot be reached from here";
	default:
		return "";
	}
}

void ar__connect_failed(struct ar_client *c, int err)
{
	const char *hint = connect_hint(c, err);

	snprintf(c->error, sizeof(c->error), "cannot connect to %.200s (%s): %s%s%s",
		 c->address, c->from, strerror(-err), *hint ? "; " : "", hint);
}

AR_VISIBLE void ar_client_close(struct ar_client *c)
{
	if (!c)
		return;
	while (c->links) {
		struct link *l = c->links;

		c->links = l->next;
		ar__link_close(l);
	}
	pthread_key_delete(c->key);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* ---- the handshake ---- */

static int send_hello(struct ar_client *c, int fd, uint32_t transport)
{
	struct ar_wire_msg m = { .type = AR_WIRE_HELLO };
	struct ar_wire_enc *e = ar_wire_enc_create();
	uint8_t frame[4 + AR_WIRE_MAX_NAME];
	const void *p;
	uint32_t len;
	int64_t n;

	if (!e)
		return -ENOMEM;
	m.u.hello = (struct ar_wire_hello){
		.abi_major = AR_ABI_MAJOR, .abi_minor = AR_ABI_MINOR,
		.channels = c->want_channels, .data_bytes = c->data_bytes,
		.sq_bytes = c->sq_bytes, .cq_bytes = c->cq_bytes,
		.transport = transport,
	};
	if (transport == AR_TRANSPORT_STREAM) {
		m.u.hello.channels = 1;	/* a connection per thread */
		if (!m.u.hello.data_bytes)
			m.u.hello.data_bytes = AR_STREAM_DATA_BYTES;
	}
	n = ar_wire_encode(e, &m, &p);
	if (n < 0 || (size_t)n > sizeof(frame) - 4) {
		ar_wire_enc_destroy(e);
		return -EINVAL;
	}
	len = htole32((uint32_t)n);
	memcpy(frame, &len, 4);
	memcpy(frame + 4, p, (size_t)n);
	ar_wire_enc_destroy(e);
	if (send(fd, frame, 4 + (size_t)n, MSG_NOSIGNAL) != 4 + n)
		return -errno ? -errno : -EIO;
	return 0;
}

static void close_fds(const int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		close(fds[i]);
}

/* Receive the Welcome frame and its fds. Returns the number of fds. */
static int recv_welcome(struct ar_client *c, int fd, int *fds, unsigned max_fds,
			struct ar_wire_msg *m, uint64_t *buf, size_t buflen)
{
	union {
		struct cmsghdr align;
		char b[CMSG_SPACE(253 * sizeof(int))];
	} cb;
	uint8_t frame[4 + 1024] __attribute__((aligned(8)));
	struct iovec iov = { frame, sizeof(frame) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = cb.b, .msg_controllen = sizeof(cb.b) };
	unsigned nfds = 0;
	uint32_t flen;
	ssize_t n;
	size_t got;

	n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
	if (n < 0)
		return errno == EAGAIN ? -ETIMEDOUT : -errno;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		unsigned k = (unsigned)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		int *p = (int *)CMSG_DATA(cm);

		for (unsigned i = 0; i < k; i++) {
			if (nfds < max_fds)
				fds[nfds++] = p[i];
			else
				close(p[i]);
		}
	}
	if (msg.msg_flags & MSG_CTRUNC || n == 0)
		goto proto;
	got = (size_t)n;
	/* The frame may arrive in pieces; fds come with the first. */
	while (got < 4 || got < 4 + (size_t)le32toh(*(uint32_t *)frame)) {
		if (got >= 4 && le32toh(*(uint32_t *)frame) > sizeof(frame) - 4)
			goto proto;
		n = recv(fd, frame + got, sizeof(frame) - got, 0);
		if (n <= 0)
			goto proto;
		got += (size_t)n;
	}
	flen = le32toh(*(uint32_t *)frame);
	if (flen > buflen || got != 4 + flen)
		goto proto;
	memcpy(buf, frame + 4, flen);
	if (ar_wire_decode(buf, flen, m) || m->type != AR_WIRE_WELCOME)
		goto proto;
	if (m->u.welcome.status && m->u.welcome.message)
		snprintf(c->error, sizeof(c->error), "%s", m->u.welcome.message);
	return (int)nfds;
proto:
	close_fds(fds, nfds);
	return -EPROTO;
}

/* What every queue has, whatever the transport. */
int ar__queue_init(struct link *l, uint32_t i)
{
	struct ar_queue *q = &l->q[i];

	q->link = l;
	q->idx = i;
	q->spin_ns = l->client->spin_ns;
	q->enc = ar_wire_enc_create();
	q->slots = calloc(AR_QUEUE_SLOTS, sizeof(*q->slots));
	q->done = calloc(AR_QUEUE_SLOTS, sizeof(*q->done));
	if (!q->enc || !q->slots || !q->done)
		return -ENOMEM;
	/* Slots are handed out from `fresh` once the free list is empty:
	 * 4096 slots are ~450 KiB, and linking them all here faulted every
	 * page of every queue at connect (~0.4 ms a queue, 4 queues). */
	q->free_head = UINT32_MAX;
	q->fresh = 0;
	return 0;
}

static int queue_init(struct link *l, uint32_t i, int doorbell, int wake)
{
	struct ar_queue *q = &l->q[i];
	int ret = ar__queue_init(l, i);

	q->doorbell = doorbell;
	q->wake = wake;
	if (ret)
		return ret;
	q->sq_wait = (struct ar_ring_wait){ .mode = AR_WAIT_FD, .efd = doorbell };
	if (ar_ring_prod_init(&q->sq, &l->region, i, AR_RING_SQ) ||
	    ar_ring_cons_init(&q->cq, &l->region, i, AR_RING_CQ))
		return -EPROTO;
	q->cbuf = aligned_alloc(8, (q->cq.g.max_len + 7) & ~7u);
	if (!q->cbuf)
		return -ENOMEM;
	return 0;
}

static void queue_fini(struct ar_queue *q)
{
	ar__stream_queue_fini(q);
	if (q->slots)
		for (uint32_t s = 0; s < q->fresh; s++)
			free(q->slots[s].more);
	ar_wire_enc_destroy(q->enc);
	free(q->slots);
	free(q->done);
	free(q->cbuf);
}

int ar__handshake(struct ar_client *c, int fd, uint32_t transport, int *fds,
		  unsigned max_fds, struct ar_wire_msg *m, uint64_t *buf, size_t buflen)
{
	int ret = send_hello(c, fd, transport);

	if (!ret)
		ret = recv_welcome(c, fd, fds, max_fds, m, buf, buflen);
	if (ret < 0 && !c->error[0])
		snprintf(c->error, sizeof(c->error),
			 "no handshake with the broker at %.200s (%s): %s", c->address, c->from,
			 ret == -ETIMEDOUT ? "it did not answer within 10 s"
			 : ret == -EPROTO ? "it closed the connection, or answered with something "
					    "that is not a Welcome"
			 : strerror(-ret));
	else if (ret >= 0 && m->u.welcome.status && !c->error[0])
		snprintf(c->error, sizeof(c->error),
			 "the broker at %.200s refused the connection: %s", c->address,
			 strerror(m->u.welcome.status < 0 ? -m->u.welcome.status : EPROTO));
	return ret;
}

int ar__link_open(struct ar_client *c, struct link **out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = HANDSHAKE_TIMEOUT_S };
	int fds[1 + 2 * 64];
	uint64_t buf[128];
	struct ar_wire_msg m;
	struct link *l;
	int fd, nfds, ret;
	uint32_t nch;

	/* ar_client_error() tells of this attempt only. */
	c->error[0] = '\0';
	if (c->kind != AR_ADDR_UNIX)
		return ar__stream_link_open(c, out);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	strcpy(sa.sun_path, c->path);
	/* Bounded: a broker that accepts and never answers is an error. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		ret = -errno;
		ar__connect_failed(c, ret);
		close(fd);
		return ret;
	}
	nfds = ar__handshake(c, fd, AR_TRANSPORT_SHM, fds, sizeof(fds) / sizeof(fds[0]),
			     &m, buf, sizeof(buf));
	if (nfds < 0) {
		close(fd);
		return nfds;
	}
	if (m.u.welcome.status) {
		close_fds(fds, (unsigned)nfds);
		close(fd);
		return m.u.welcome.status < 0 ? m.u.welcome.status : -EPROTO;
	}
	nch = m.u.welcome.channels;
	/* Exactly the region and, per channel, its doorbell (an eventfd)
	 * and its wake-up fd (a pipe's read end), or nothing. */
	if (nch == 0 || nch > 64 || (unsigned)nfds != 1 + 2 * nch) {
		snprintf(c->error, sizeof(c->error),
			 "the broker's Welcome holds %d fds for %u channels (protocol error)", nfds,
			 nch);
		close_fds(fds, (unsigned)nfds);
		close(fd);
		return -EPROTO;
	}
	l = calloc(1, sizeof(*l));
	if (!l) {
		close_fds(fds, (unsigned)nfds);
		close(fd);
		return -ENOMEM;
	}
	l->client = c;
	l->sock = fd;
	l->tenant = m.u.welcome.tenant;
	ret = ar_region_attach(&l->region, fds[0]);
	if (ret) {
		snprintf(c->error, sizeof(c->error), "cannot map the broker's region: %s",
			 strerror(-ret));
		close_fds(fds, (unsigned)nfds);
		close(fd);
		free(l);
		return ret == -ENOMEM ? ret : -EPROTO;
	}
	l->data = ar_region_data(&l->region, &l->data_bytes);
	l->q = calloc(nch, sizeof(*l->q));
	l->nr_channels = nch;
	if (!l->q || ar__alloc_init(l)) {
		close_fds(fds + 1, (unsigned)nfds - 1);
		l->nr_channels = 0;
		ar__link_close(l);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < nch; i++) {
		ret = queue_init(l, i, fds[1 + 2 * i], fds[2 + 2 * i]);
		if (ret) {
			for (uint32_t k = i + 1; k < nch; k++) {
				close(fds[1 + 2 * k]);
				close(fds[2 + 2 * k]);
			}
			l->nr_channels = i + 1;
			ar__link_close(l);
			return ret;
		}
	}
	*out = l;
	return 0;
}

void ar__link_close(struct link *l)
{
	for (uint32_t i = 0; l->q && i < l->nr_channels; i++) {
		queue_fini(&l->q[i]);
		if (l->q[i].doorbell > 0)
			close(l->q[i].doorbell);
		if (l->q[i].wake > 0)
			close(l->q[i].wake);
	}
	free(l->q);
	if (l->free)
		ar__alloc_fini(l);
	if (l->stream)
		munmap(l->data, l->data_bytes);
	else
		ar_region_release(&l->region);
	close(l->sock);
	free(l);
}

/* ---- queues ---- */

/* The last few (client, queue) pairs this thread used. */
#define TLS_SLOTS 4
static AR_TLS struct {
	uint64_t client_id;
	struct ar_queue *q;
} tls_q[TLS_SLOTS];

static void release_thread_queue(void *arg)
{
	struct ar_queue *q = arg;
	struct ar_client *c = q->link->client;

	pthread_mutex_lock(&c->lock);
	/* A queue with ops in flight is retired rather than reused: their
	 * completions would reach the next owner. */
	if (!q->inflight)
		q->owned = false;
	pthread_mutex_unlock(&c->lock);
}

AR_VISIBLE int ar_queue_get(struct ar_client *c, struct ar_queue **out)
{
	struct ar_queue *q = NULL;
	struct link *l;
	int ret;

	for (int i = 0; i < TLS_SLOTS; i++) {
		if (tls_q[i].client_id == c->id) {
			*out = tls_q[i].q;
			return 0;
		}
	}
	pthread_mutex_lock(&c->lock);
	for (l = c->links; l && !q; l = l->next)
		for (uint32_t i = 0; i < l->nr_channels && !q; i++)
			if (!l->q[i].owned && !l->q[i].err)
				q = &l->q[i];
	if (!q) {
		ret = ar__link_open(c, &l);
		if (ret) {
			pthread_mutex_unlock(&c->lock);
			return ret;
		}
		l->next = c->links;
		c->links = l;
		q = &l->q[0];
	}
	q->owned = true;
	/* Channel 0's rings were faulted at attach; another's the first
	 * time a thread takes it (its first op would fault them anyway). */
	if (!q->faulted && !q->link->stream && q->idx)
		(void)ar_region_prefault_channel(&q->link->region, q->idx);
	q->faulted = true;
	pthread_mutex_unlock(&c->lock);
	pthread_setspecific(c->key, q);
	for (int i = 0; i < TLS_SLOTS; i++) {
		if (!tls_q[i].client_id || i == TLS_SLOTS - 1) {
			tls_q[i].client_id = c->id;
			tls_q[i].q = q;
			break;
		}
	}
	*out = q;
	return 0;
}

AR_VISIBLE unsigned ar_queue_inflight(const struct ar_queue *q)
{
	return q->inflight;
}

AR_VISIBLE const char *ar_client_error(const struct ar_client *c)
{
	return c->error;
}

AR_VISIBLE const char *ar_queue_error(const struct ar_queue *q)
{
	return q->why;
}

AR_VISIBLE uint32_t ar_queue_tenant(const struct ar_queue *q)
{
	return q->link->tenant;
}

/* ---- slots ---- */

int ar__slot_get(struct ar_queue *q, uint64_t user_data, bool sync)
{
	uint32_t i = q->free_head;
	struct slot *s;

	if (i != UINT32_MAX) {
		s = &q->slots[i];
		q->free_head = s->next_free;
	} else if (q->fresh < AR_QUEUE_SLOTS) {
		i = q->fresh++;
		s = &q->slots[i];
	} else {
		return -EAGAIN;
	}
	s->gen++;
	s->state = SLOT_PENDING;
	s->sync = sync;
	/* ar_queue_error() tells of this call only, also when it fails
	 * before the broker answers. */
	if (sync)
		q->why[0] = '\0';
	s->user_data = user_data;
	s->op = UINT32_MAX;	/* a session message; put() sets an op's */
	s->nr_out = 0;
	s->status = 0;
	s->value = 0;
	q->inflight++;
	return (int)i;
}

void ar__slot_put(struct ar_queue *q, uint32_t i)
{
	struct slot *s = &q->slots[i];

	free(s->more);
	s->more = NULL;
	s->state = SLOT_FREE;
	s->next_free = q->free_head;
	q->free_head = i;
	q->inflight--;
}

/* ---- submission ---- */

int ar__gone(struct ar_queue *q, int err)
{
	if (!q->err)
		q->err = err;
	return q->err;
}

#define gone ar__gone

int ar__queue_put(struct ar_queue *q, const struct ar_wire_msg *m)
{
	const void *p;
	int64_t n;
	int ret;

	if (q->err)
		return q->err;
	if (q->st)
		return ar__stream_put(q, m);
	n = ar_wire_encode(q->enc, m, &p);
	if (n < 0)
		return (int)n;
	ret = ar_ring_sp_enqueue(&q->sq, p, (uint32_t)n);
	if (ret == -EAGAIN) {
		/* Full: what it holds must reach the broker before anyone
		 * waits for room (see ar_ring_sp_reserve). */
		ar_flush(q);
		return -EAGAIN;
	}
	if (ret == -EPROTO)
		return gone(q, -EPROTO);
	return ret;
}

AR_VISIBLE int ar_flush(struct ar_queue *q)
{
	if (q->err)
		return q->err;
	if (q->st)
		return ar__stream_flush(q);
	/* For the broker's worker deciding whether to spin (abi.h prod_cpu):
	 * sched_getcpu() reads glibc's rseq area, a few ns. */
	ar_ring_sp_note_cpu(&q->sq, sched_getcpu());
	ar_ring_sp_publish(&q->sq);
	if (ar_ring_sp_needs_wakeup(&q->sq)) {
		int ret = ar_ring_sp_wake(&q->sq, &q->sq_wait);

		if (ret < 0)
			return gone(q, -ECONNRESET);
	}
	return 0;
}

/* ---- completions ---- */

int ar__complete(struct ar_queue *q, const struct ar_wire_completion *cm)
{
	uint32_t idx = (uint32_t)cm->id;
	struct slot *s;

	if (idx >= AR_QUEUE_SLOTS)
		return 0;
	s = &q->slots[idx];
	if (s->state != SLOT_PENDING || s->gen != (uint32_t)(cm->id >> 32))
		return 0;
	s->status = cm->status;
	s->value = cm->value;
	if (s->sync)
		snprintf(q->why, sizeof(q->why), "%s", cm->message ? cm->message : "");
	for (uint32_t i = 0; i < cm->nr_outputs && i < s->nr_out; i++) {
		struct out_dst *d = i < AR_SLOT_OUTS ? &s->out[i]
						     : &s->more[i - AR_SLOT_OUTS];
		uint64_t len = cm->outputs[i].len;

		if (d->dst)
			memcpy(d->dst, cm->outputs[i].bytes, len < d->cap ? len : d->cap);
	}
	s->state = SLOT_DONE;
	if (s->op != UINT32_MAX)
		AR_TRACE(client_reaped, q->link->tenant, q->idx, cm->id, s->op, cm->status);
	if (!s->sync)
		q->done[q->done_tail++ % AR_QUEUE_SLOTS] = idx;
	return 1;
}

int ar__queue_drain(struct ar_queue *q)
{
	struct ar_ring_rec rec;
	struct ar_wire_msg m;
	bool took = false;
	int n = 0, ret;

	if (q->st)
		return ar__stream_drain(q);
	/* Even after the broker went away (q->err set), what it completed
	 * before is in the CQ, and ours to read. */
	while ((ret = ar_ring_sc_peek(&q->cq, &rec)) > 0) {
		memcpy(q->cbuf, rec.data, rec.len);
		ar_ring_sc_consume(&q->cq);
		took = true;
		if (ar_wire_decode(q->cbuf, rec.len, &m) || m.type != AR_WIRE_COMPLETION)
			return gone(q, -EPROTO);
		n += ar__complete(q, &m.u.completion);
	}
	ar_ring_sc_release(&q->cq);
	if (ret < 0)
		return gone(q, -EPROTO);
	/* The broker stopped taking our requests for want of CQ room: we
	 * just made some, so ring (F3, see ar_ring_sp_cq_wait()). */
	if (took && ar_ring_sp_cq_wait(&q->sq))
		(void)eventfd_write(q->doorbell, 1);
	return n;
}

/*
 * Wait until the CQ has something, the deadline passes (returns 0) or the
 * broker is gone (-ECONNRESET). Spins for spin_ns, yielding now and then
 * (at once when the worker runs on our CPU), then sleeps on the wake-up fd
 * (a pipe's read end) and the socket together.
 */
static int wait_cq(struct ar_queue *q, uint64_t deadline)
{
	uint64_t start, t, last_yield;
	struct pollfd p[2] = {
		{ .fd = q->wake, .events = POLLIN },
		/* The socket only for its end: the answer to a resource
		 * upload comes there too, for the thread that sent it. */
		{ .fd = q->link->sock, .events = POLLRDHUP },
	};

	if (q->st)
		return ar__stream_wait(q, deadline);
	start = t = last_yield = now_ns();
	for (;;) {
		for (int i = 0; i < 64; i++) {
			/* Relaxed is enough to notice; the drain that follows
			 * reads the tail with acquire. */
			if (ar_load_relaxed(&q->cq.g.ctl->prod_tail) != q->cq.head)
				return 1;
			ar_cpu_relax();
		}
		t = now_ns();
		if (t >= deadline)
			return 0;
		if (t - start < q->spin_ns) {
			/* The worker that answers last posted from our CPU
			 * (abi.h prod_cpu): it runs only when we yield, so
			 * yield at once. Not sleep: the wake-up would put us
			 * back on its CPU, while the worker moves away from a
			 * client it sees on its CPU (worker.c publish()). */
			if (t - last_yield >= SPIN_YIELD_NS ||
			    ar_ring_sc_peer_here(&q->cq, sched_getcpu())) {
				sched_yield();
				last_yield = t;
			}
			continue;
		}
		if (!ar_ring_sc_prepare_sleep(&q->cq))
			return 1;
		uint64_t left = deadline - t;
		int ms = deadline == UINT64_MAX ? 1000 : (int)((left + 999999) / 1000000);

		if (ms > 1000)
			ms = 1000;
		int r = poll(p, 2, ms);

		ar_ring_sc_finish_sleep(&q->cq);
		if (r > 0 && (p[0].revents & POLLIN)) {
			uint64_t v[8];

			/* The broker writes 8 bytes a wake-up: take up to 8
			 * of them (any left just wake us once more). */
			(void)!read(q->wake, v, sizeof(v));
		}
		if (r > 0 && p[1].revents) {
			/* Completions the broker posted before it went are
			 * still ours to read. */
			if (ar_load_relaxed(&q->cq.g.ctl->prod_tail) != q->cq.head)
				return 1;
			return gone(q, -ECONNRESET);
		}
		start = now_ns();
	}
}

AR_VISIBLE int ar_reap(struct ar_queue *q, struct ar_cqe *cqes, unsigned max)
{
	unsigned n = 0;
	int ret = ar__queue_drain(q);

	if (ret < 0 && q->done_head == q->done_tail)
		return ret;
	while (n < max && q->done_head != q->done_tail) {
		uint32_t idx = q->done[q->done_head++ % AR_QUEUE_SLOTS];
		struct slot *s = &q->slots[idx];

		cqes[n++] = (struct ar_cqe){ .user_data = s->user_data,
					     .status = s->status,
					     .value = s->value };
		ar__slot_put(q, idx);
	}
	return (int)n;
}

/* After the broker is gone, every op in flight fails. */
static void fail_inflight(struct ar_queue *q)
{
	for (uint32_t i = 0; i < q->fresh; i++) {
		struct slot *s = &q->slots[i];

		if (s->state != SLOT_PENDING)
			continue;
		s->status = q->err;
		s->state = SLOT_DONE;
		if (!s->sync)
			q->done[q->done_tail++ % AR_QUEUE_SLOTS] = i;
	}
}

AR_VISIBLE int ar_wait(struct ar_queue *q, struct ar_cqe *cqes, unsigned max,
		       unsigned min, int64_t timeout_ns)
{
	uint64_t deadline = timeout_ns < 0 ? UINT64_MAX : now_ns() + (uint64_t)timeout_ns;
	unsigned got = 0;
	int ret;

	if (min > max)
		min = max;
	ret = ar_flush(q);
	for (;;) {
		ret = ar_reap(q, cqes + got, max - got);
		if (ret < 0) {
			fail_inflight(q);
			ret = ar_reap(q, cqes + got, max - got);
			if (ret <= 0)
				return got ? (int)got : q->err;
		}
		got += (unsigned)ret;
		if (got >= min || got == max)
			return (int)got;
		ret = wait_cq(q, deadline);
		if (ret == 0)
			return (int)got;
		if (ret < 0) {
			ar__queue_drain(q);
			fail_inflight(q);
		}
	}
}

int ar__queue_wait_slot(struct ar_queue *q, uint32_t idx, uint64_t *value)
{
	struct slot *s = &q->slots[idx];
	int ret = ar_flush(q), status;

	while (s->state != SLOT_DONE) {
		ret = ar__queue_drain(q);
		if (ret < 0 || (s->state != SLOT_DONE &&
				(ret = wait_cq(q, UINT64_MAX)) < 0)) {
			fail_inflight(q);
			break;
		}
	}
	if (s->state != SLOT_DONE)
		s->status = q->err ? q->err : -ECONNRESET;
	status = s->status;
	if (value)
		*value = s->value;
	ar__slot_put(q, idx);
	return status;
}

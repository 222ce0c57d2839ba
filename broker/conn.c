/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Connections: the handshake, the region and its fds, and teardown.
 *
 * Handshake: the client sends one frame (u32 little-endian length, then a
 * Hello message). The broker checks the ABI version and the sizes asked
 * for, creates and seals a region memfd with the channels' rings and the
 * data area, creates each channel's doorbell (an eventfd) and wake-up fd
 * (a pipe: the client gets the read end, the broker keeps the write end to
 * itself), and sends a Welcome frame with all of them in one SCM_RIGHTS
 * message. A refusal is a Welcome with a negative status and a message
 * saying why, and then the connection is closed.
 *
 * The fds a client gets are its to abuse: it can write an eventfd's
 * largest count into the doorbell, clear O_NONBLOCK on anything it holds
 * (a flag of the open file description, which SCM_RIGHTS shares), keep the
 * memfd after it left. So the broker never writes or reads a shared fd
 * with a call that could block (the doorbell is read only through
 * io_uring), writes wake-ups only into a pipe end nobody else holds, and
 * trusts no flag of an fd it shares.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <numa.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <arpa/inet.h>
#include <linux/vm_sockets.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"

/* The peer's network address, "tcp 10.0.0.1:4242" or "vsock 3:1024";
 * key gets the same without the port (one tenant per host or VM). */
static int peer_name(int fd, int kind, char *peer, size_t cap, char *key,
		     size_t kcap)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[INET6_ADDRSTRLEN] = "?";

	if (getpeername(fd, (struct sockaddr *)&ss, &len))
		return -errno;
	if (kind == AR_LISTEN_VSOCK) {
		const struct sockaddr_vm *v = (const struct sockaddr_vm *)&ss;

		snprintf(peer, cap, "vsock %u:%u", v->svm_cid, v->svm_port);
		snprintf(key, kcap, "vsock cid %u", v->svm_cid);
		return 0;
	}
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		snprintf(peer, cap, "tcp %s:%u", host, ntohs(in->sin_port));
	} else if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *in = (const struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &in->sin6_addr, host, sizeof(host));
		snprintf(peer, cap, "tcp [%s]:%u", host, ntohs(in->sin6_port));
	} else {
		return -EAFNOSUPPORT;
	}
	snprintf(key, kcap, "tcp %s", host);
	return 0;
}

struct ar_conn *ar__conn_new(struct ar_broker *b, int fd, int kind)
{
	struct ar_conn *c = calloc(1, sizeof(*c));
	socklen_t len = sizeof(c->cred);
	int ret;

	if (!c)
		return NULL;
	c->fd = fd;
	c->id = b->next_conn_id++;
	c->kind = kind;
	c->state = AR_CONN_HANDSHAKE;
	c->ctl_fd = -1;
	atomic_init(&c->refs, 1);
	ar__res_conn_init(c);
	if (kind == AR_LISTEN_UNIX) {
		/* The kernel's word for who the peer is, taken at connect(). */
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c->cred, &len)) {
			ar_warn("conn %u: refused: SO_PEERCRED: %s", c->id, strerror(errno));
			free(c);
			return NULL;
		}
		snprintf(c->peer, sizeof(c->peer), "pid %d uid %u gid %u",
			 (int)c->cred.pid, (unsigned)c->cred.uid, (unsigned)c->cred.gid);
		snprintf(c->key, sizeof(c->key), "uid %u", (unsigned)c->cred.uid);
	} else {
		ret = peer_name(fd, kind, c->peer, sizeof(c->peer), c->key, sizeof(c->key));
		if (ret) {
			ar_warn("conn %u: refused: no peer address: %s", c->id,
				strerror(-ret));
			free(c);
			return NULL;
		}
		ar__stream_socket_opts(b, fd, kind);
	}
	c->deadline_ns = ar__now_ns() + (uint64_t)b->cfg.handshake_ms * 1000000u;
	return c;
}

void ar__conn_get(struct ar_conn *c)
{
	atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
}

static void conn_free(struct ar_conn *c)
{
	for (uint32_t i = 0; i < c->nr_channels; i++) {
		if (c->ch[i].doorbell >= 0)
			close(c->ch[i].doorbell);
		if (c->ch[i].wake >= 0)
			close(c->ch[i].wake);
		if (c->ch[i].wake_rd >= 0)
			close(c->ch[i].wake_rd);
	}
	free(c->ch);
	/* Plugin hosts unmap its data area: no op of it runs any more. */
	ar__iso_conn_gone(c);
	ar__stream_free(c);
	/* Whatever a worker wrote since the teardown punched the region. A
	 * connection the broker's shutdown closes keeps its pages: the
	 * client still reads the completions (ECANCELED ones too) there. */
	if (c->region.base && c->reclaimed)
		ar__reclaim_region(&c->region);
	else if (c->region.base)
		ar_region_release(&c->region);
	ar__stream_give_back(c);	/* its region and buffers are gone */
	ar__res_conn_fini(c);		/* uploads never registered */
	if (c->ctl_fd >= 0)
		close(c->ctl_fd);
	if (c->tenant) {
		ar__sessions_drop(c->tenant, c->id);
		ar__tenant_give_back(c->tenant, c->stream, c->held_channels, c->held_shm);
		ar__tenant_put(c->tenant);
	}
	close(c->fd);
	free(c);
}

void ar__conn_put(struct ar_conn *c)
{
	/* acq_rel: the last owner sees every other owner's writes to the
	 * connection before it frees it. */
	if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1)
		conn_free(c);
}

void ar__conn_poison(struct ar_conn *c, const char *why, int err)
{
	if (atomic_exchange(&c->poisoned, true))
		return;
	ar_refusal("conn %u (%s): protocol error, disconnecting: %s (%s)",
		   c->id, c->peer, why, strerror(err < 0 ? -err : err));
	/* The loop's pending recv sees EOF and tears the connection down;
	 * the fd itself stays open until the last reference goes. */
	shutdown(c->fd, SHUT_RDWR);
}

/* Send one frame, with fds if any. Returns 0 or -errno. */
static int send_frame(struct ar_conn *c, const struct ar_wire_msg *mp,
		      const int *fds, unsigned nr_fds)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE((1 + 2 * AR_MAX_CHANNELS) * sizeof(int))];
	} cbuf;
	struct ar_wire_enc *e = ar_wire_enc_create();
	struct msghdr msg = { 0 };
	struct iovec iov[2];
	const void *p;
	uint32_t hdr;
	int64_t n;
	ssize_t sent;

	if (!e)
		return -ENOMEM;
	n = ar_wire_encode(e, mp, &p);
	if (n < 0) {
		ar_wire_enc_destroy(e);
		return (int)n;
	}
	hdr = htole32((uint32_t)n);
	iov[0] = (struct iovec){ &hdr, sizeof(hdr) };
	iov[1] = (struct iovec){ (void *)p, (size_t)n };
	msg.msg_iov = iov;
	msg.msg_iovlen = 2;
	if (nr_fds) {
		struct cmsghdr *cm;

		memset(&cbuf, 0, sizeof(cbuf));
		msg.msg_control = cbuf.buf;
		msg.msg_controllen = CMSG_SPACE(nr_fds * sizeof(int));
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(nr_fds * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, nr_fds * sizeof(int));
	}
	/* The socket buffer is empty at this point (a Welcome is the first
	 * frame; a client has one ResourceOpen answered at a time) and the
	 * frame small, so this does not block; if it would, the client is
	 * not reading and loses its connection. */
	sent = sendmsg(c->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
	ar_wire_enc_destroy(e);
	if (sent < 0)
		return -errno;
	return (size_t)sent == sizeof(hdr) + (size_t)n ? 0 : -EAGAIN;
}

static int send_welcome(struct ar_conn *c, const struct ar_wire_welcome *wm,
			const int *fds, unsigned nr_fds)
{
	struct ar_wire_msg m = { .type = AR_WIRE_WELCOME, .u.welcome = *wm };

	return send_frame(c, &m, fds, nr_fds);
}

static int refuse(struct ar_conn *c, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int refuse(struct ar_conn *c, int err, const char *fmt, ...)
{
	struct ar_wire_welcome wm = { .status = err, .abi_major = AR_ABI_MAJOR,
				      .abi_minor = AR_ABI_MINOR };
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	ar_refusal("conn %u (%s): refused: %s", c->id, c->peer, why);
	wm.message = why;
	(void)send_welcome(c, &wm, NULL, 0);
	return err;
}

static bool pow2_in(uint32_t v, uint32_t lo, uint32_t hi)
{
	return v >= lo && v <= hi && !(v & (v - 1));
}

/* allow-uids / allow-gids: the uid or the (primary) gid the kernel gave
 * for the peer. Both empty: everyone who can open the socket. */
static bool cred_allowed(const struct ar_config *cfg, const struct ucred *cr)
{
	if (!cfg->allow_uids[0] && !cfg->allow_gids[0])
		return true;
	return ar__id_in_list(cfg->allow_uids, cr->uid) ||
	       ar__id_in_list(cfg->allow_gids, cr->gid);
}

/* The region and the channels; then the Welcome. */
static int setup(struct ar_broker *b, struct ar_conn *c,
		 const struct ar_wire_hello *h)
{
	struct ar_region_params p = { 0 };
	int fds[1 + 2 * AR_MAX_CHANNELS];
	struct ar_wire_welcome wm = { 0 };
	struct ar_worker *first;
	uint64_t extra = 0;
	uint64_t t0 = ar__now_ns();
	unsigned nfd = 0;
	char why[256];
	int node, ret;

	if (h->abi_major != AR_ABI_MAJOR)
		return refuse(c, -EPROTONOSUPPORT,
			      "client speaks ABI %u.%u, broker %u.%u",
			      h->abi_major, h->abi_minor, AR_ABI_MAJOR, AR_ABI_MINOR);
	if (c->kind != AR_LISTEN_UNIX && h->transport != AR_TRANSPORT_STREAM)
		return refuse(c, -EPROTONOSUPPORT,
			      "shared memory needs the UNIX socket; over %s ask for the stream transport",
			      c->kind == AR_LISTEN_TCP ? "TCP" : "vsock");
	if (c->kind != AR_LISTEN_UNIX && !ar__peer_allowed(b, c, why, sizeof(why)))
		return refuse(c, -EACCES, "%s", why);
	if (c->kind == AR_LISTEN_UNIX && !cred_allowed(&b->cfg, &c->cred))
		return refuse(c, -EACCES, "uid %u gid %u is in neither allow-uids nor allow-gids",
			      (unsigned)c->cred.uid, (unsigned)c->cred.gid);
	c->stream = h->transport == AR_TRANSPORT_STREAM;
	p.nr_channels = h->channels ? h->channels : 1;
	if (p.nr_channels > b->cfg.max_channels)
		p.nr_channels = b->cfg.max_channels;
	if (c->stream)
		p.nr_channels = 1;	/* a connection per client thread */
	p.sq_bytes = h->sq_bytes ? h->sq_bytes : b->cfg.sq_bytes;
	p.cq_bytes = h->cq_bytes ? h->cq_bytes : b->cfg.cq_bytes;
	p.data_bytes = h->data_bytes ? h->data_bytes : b->cfg.data_bytes;
	if (!pow2_in(p.sq_bytes, AR_RING_BYTES_MIN, AR_RING_BYTES_MAX) ||
	    !pow2_in(p.cq_bytes, AR_RING_BYTES_MIN, AR_RING_BYTES_MAX))
		return refuse(c, -EINVAL,
			      "ring sizes %u/%u: need powers of two in %u..%u",
			      p.sq_bytes, p.cq_bytes, AR_RING_BYTES_MIN,
			      AR_RING_BYTES_MAX);
	/* What a client asks is bounded by the broker's setting (its own
	 * defaults are the operator's): rings are memory the tenant gets
	 * mapped, whose faults cost whoever touches them first. A stream
	 * connection's rings are the broker's to size (stream.c). */
	if (!c->stream && ((h->sq_bytes && p.sq_bytes > b->cfg.max_ring_bytes) ||
			   (h->cq_bytes && p.cq_bytes > b->cfg.max_ring_bytes)))
		return refuse(c, -E2BIG,
			      "rings of %u/%u bytes asked, at most %u allowed (max-ring-bytes)",
			      p.sq_bytes, p.cq_bytes, b->cfg.max_ring_bytes);
	if (c->stream) {
		/* Broker memory: the stream limits (stream.c). */
		ret = ar__stream_size(b, h, &p, &extra, why, sizeof(why));
		if (ret)
			return refuse(c, ret, "%s", why);
	} else if (p.data_bytes > b->cfg.max_data_bytes) {
		return refuse(c, -E2BIG,
			      "data area of %llu bytes asked, at most %llu allowed",
			      (unsigned long long)p.data_bytes,
			      (unsigned long long)b->cfg.max_data_bytes);
	}
	c->tenant = ar__tenant_get(&b->cfg, c->key);
	if (!c->tenant)
		return refuse(c, -ENOMEM, "out of memory");
	/* The tenant's allowance: perhaps fewer channels than asked (the
	 * Welcome says how many), never more region memory than it has left. */
	{
		uint32_t nr = p.nr_channels;

		ret = ar__tenant_take(c->tenant, c->stream, &nr, p.data_bytes + extra,
				      (uint64_t)p.sq_bytes + p.cq_bytes, &c->held_shm,
				      why, sizeof(why));
		if (ret)
			return refuse(c, ret, "%s", why);
		c->held_channels = nr;
		p.nr_channels = nr;
	}
	/* And its listener's: all its stream peers together. */
	if (c->stream && (ret = ar__stream_take(b, c, c->held_shm, why, sizeof(why))))
		return refuse(c, ret, "%s", why);

	/* Place the region on the node whose workers will serve it. */
	first = b->workers[b->next_worker % b->nr_workers];
	node = ar__worker_node(first);
	if (b->nodes > 1)
		numa_set_preferred(node);
	ret = ar_region_create(&c->region, &p);
	if (b->nodes > 1)
		numa_set_localalloc();
	if (ret)
		return refuse(c, ret, "cannot create the region: %s", strerror(-ret));
	c->data = ar_region_data(&c->region, &c->data_bytes);
	c->ch = calloc(p.nr_channels, sizeof(*c->ch));
	if (!c->ch)
		return refuse(c, -ENOMEM, "out of memory");
	fds[nfd++] = c->region.fd;
	c->nr_channels = p.nr_channels;
	for (uint32_t i = 0; i < p.nr_channels; i++)
		c->ch[i].doorbell = c->ch[i].wake = c->ch[i].wake_rd = -1;
	for (uint32_t i = 0; i < p.nr_channels; i++) {
		struct ar_channel *ch = &c->ch[i];
		int pfd[2];

		ch->conn = c;
		ch->idx = i;
		ch->doorbell = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (ch->doorbell < 0)
			return refuse(c, -EMFILE, "cannot create an eventfd: %s",
				      strerror(errno));
		/* Each end of a pipe is an open file description of its own:
		 * the client may do what it likes to the read end's flags,
		 * ours stay non-blocking. */
		if (pipe2(pfd, O_CLOEXEC | O_NONBLOCK))
			return refuse(c, -EMFILE, "cannot create a pipe: %s",
				      strerror(errno));
		ch->wake_rd = pfd[0];
		ch->wake = pfd[1];
		/* One page of kernel memory per channel is plenty: 512
		 * unread wake-ups, and a full pipe means "signalled". Best
		 * effort: the default (16 pages) is bounded too. */
		(void)fcntl(ch->wake, F_SETPIPE_SZ, AR_PAGE_SIZE);
		if (ar_ring_cons_init(&ch->sq, &c->region, i, AR_RING_SQ) ||
		    ar_ring_prod_init(&ch->cq, &c->region, i, AR_RING_CQ))
			return refuse(c, -EINVAL, "region layout");
		ch->cq_wait = (struct ar_ring_wait){ .mode = AR_WAIT_FD,
						     .efd = ch->wake };
		fds[nfd++] = ch->doorbell;
		fds[nfd++] = ch->wake_rd;
	}
	wm.abi_major = AR_ABI_MAJOR;
	wm.abi_minor = AR_ABI_MINOR;
	wm.tenant = c->tenant->id;
	wm.channels = p.nr_channels;
	if (c->stream) {
		/* The region stays the broker's; the loop plays the client's
		 * part of the channel (stream.c). */
		ret = ar__stream_init(b, c);
		if (ret)
			return refuse(c, ret, "cannot set up the stream: %s", strerror(-ret));
		wm.max_frame = b->cfg.max_frame;
		wm.max_request = ar__stream_max_request(c);
		nfd = 0;
	}
	ret = send_welcome(c, &wm, fds, nfd);
	/* A shared-memory client has its read ends now (or never will):
	 * keeping ours would only let a pipe outlive the client. */
	for (uint32_t i = 0; !c->stream && i < p.nr_channels; i++) {
		close(c->ch[i].wake_rd);
		c->ch[i].wake_rd = -1;
	}
	if (ret) {
		ar_warn("conn %u: cannot send the welcome: %s", c->id, strerror(-ret));
		return ret;
	}
	/* Only now do workers see the channels. */
	for (uint32_t i = 0; i < p.nr_channels; i++) {
		unsigned wi = b->next_worker++ % b->nr_workers;

		/* Stay on the region's node when there are several. */
		for (unsigned k = 0; b->nodes > 1 && k < b->nr_workers; k++) {
			if (ar__worker_node(b->workers[wi]) == node)
				break;
			wi = b->next_worker++ % b->nr_workers;
		}
		ar__conn_get(c);
		ar__worker_add(b->workers[wi], &c->ch[i]);
	}
	ar_info("conn %u: %s tenant %u: %s, %u channels, sq %u cq %u, data %llu bytes "
		"(set up in %llu us)",
		c->id, c->peer, c->tenant->id, c->stream ? "stream" : "shared memory",
		p.nr_channels, p.sq_bytes, p.cq_bytes, (unsigned long long)c->data_bytes,
		(unsigned long long)((ar__now_ns() - t0) / 1000));
	return 0;
}

/* Close every fd a message carried. Returns how many there were. */
static unsigned drop_fds(struct msghdr *msg)
{
	unsigned n = 0;

	for (struct cmsghdr *cm = CMSG_FIRSTHDR(msg); cm;
	     cm = CMSG_NXTHDR(msg, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		int *fd = (int *)CMSG_DATA(cm);

		for (size_t i = 0; i < k; i++, n++)
			close(fd[i]);
	}
	return n;
}

int ar__conn_handshake(struct ar_broker *b, struct ar_conn *c, int res)
{
	uint64_t copy[(AR_HELLO_MAX + 7) / 8];
	struct ar_wire_msg m;
	uint32_t flen;
	unsigned nfds;
	int ret;

	/* Clients send no fds, ever: any fd, or control data that did not
	 * fit (MSG_CTRUNC: fds the kernel already dropped), ends it. */
	nfds = drop_fds(&c->msg);
	if (nfds || (c->msg.msg_flags & MSG_CTRUNC))
		return refuse(c, -EPROTO, "sent %u file descriptors%s; clients send none",
			      nfds, (c->msg.msg_flags & MSG_CTRUNC) ? " (truncated)" : "");
	if (res <= 0)
		return res ? res : -ECONNRESET;
	if (c->state != AR_CONN_HANDSHAKE)
		return refuse(c, -EPROTO, "sent %d bytes after the handshake", res);
	c->rlen += (uint32_t)res;
	if (c->rlen < 4)
		return 0;
	memcpy(&flen, c->rbuf, 4);
	flen = le32toh(flen);
	if (flen > AR_HELLO_MAX)
		return refuse(c, -EMSGSIZE, "handshake frame of %u bytes, at most %u",
			      flen, AR_HELLO_MAX);
	if (c->rlen < 4 + flen)
		return 0;
	if (c->rlen > 4 + flen)
		return refuse(c, -EPROTO, "bytes after the hello");
	memcpy(copy, c->rbuf + 4, flen);
	ret = ar_wire_decode(copy, flen, &m);
	if (ret || m.type != AR_WIRE_HELLO)
		return refuse(c, -EPROTO, "first message is not a valid hello");
	ret = setup(b, c, &m.u.hello);
	if (ret)
		return ret;
	c->state = AR_CONN_ACTIVE;
	c->rlen = 0;
	return 1;
}

/*
 * After the handshake a shared-memory client sends on its socket only
 * ResourceOpen frames, each with the memfd of a resource's content
 * (resource.c), one at a time: each is answered with a Completion whose id
 * is the token before it sends the next. Kept to that: at most one fd
 * comes with a frame, and anything else ends the connection.
 */
int ar__conn_control(struct ar_broker *b, struct ar_conn *c, int res)
{
	uint64_t copy[(AR_HELLO_MAX + 7) / 8];
	unsigned extra = 0;

	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&c->msg); cm;
	     cm = CMSG_NXTHDR(&c->msg, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		int *fd = (int *)CMSG_DATA(cm);

		for (size_t i = 0; i < k; i++) {
			if (c->ctl_fd < 0 && !extra) {
				c->ctl_fd = fd[i];
			} else {
				close(fd[i]);
				extra++;
			}
		}
	}
	if (extra || (c->msg.msg_flags & MSG_CTRUNC)) {
		ar_warn("conn %u (%s): protocol error, disconnecting: %u file descriptors "
			"more than the one a ResourceOpen carries%s", c->id, c->peer,
			extra, (c->msg.msg_flags & MSG_CTRUNC) ? " (truncated)" : "");
		return -EPROTO;
	}
	if (res <= 0)
		return res ? res : -ECONNRESET;
	c->rlen += (uint32_t)res;
	while (c->rlen >= 4) {
		struct ar_wire_msg m, reply = { .type = AR_WIRE_COMPLETION };
		uint32_t flen = ar_frame_get_len(c->rbuf);
		char why[AR_WIRE_MAX_MESSAGE] = "";
		int fd, ret;

		if (flen > AR_HELLO_MAX) {
			ar_warn("conn %u (%s): protocol error, disconnecting: a control frame "
				"of %u bytes, at most %u", c->id, c->peer, flen, AR_HELLO_MAX);
			return -EMSGSIZE;
		}
		if (c->rlen < 4 + flen)
			break;
		memcpy(copy, c->rbuf + 4, flen);
		ret = ar_wire_decode(copy, flen, &m);
		if (ret || m.type != AR_WIRE_RES_OPEN) {
			ar_warn("conn %u (%s): protocol error, disconnecting: sent a %s on its "
				"socket after the handshake, where only ResourceOpen goes",
				c->id, c->peer, ret ? "undecodable frame" : "message");
			return -EPROTO;
		}
		fd = c->ctl_fd;
		c->ctl_fd = -1;
		if (fd < 0) {
			snprintf(why, sizeof(why), "a ResourceOpen without its memfd");
			ret = -EINVAL;
		} else {
			ret = ar__res_open(b, c, &m.u.res_open, fd, why, sizeof(why));
		}
		if (ret)
			ar_info("conn %u (%s): resource upload %u refused (%s): %s", c->id,
				c->peer, m.u.res_open.token, strerror(-ret), why);
		reply.u.completion.id = m.u.res_open.token;
		reply.u.completion.status = ret;
		reply.u.completion.message = ret ? why : NULL;
		ret = send_frame(c, &reply, NULL, 0);
		if (ret) {
			ar_warn("conn %u (%s): cannot answer a ResourceOpen (%s): disconnecting",
				c->id, c->peer, strerror(-ret));
			return ret;
		}
		memmove(c->rbuf, c->rbuf + 4 + flen, c->rlen - 4 - flen);
		c->rlen -= 4 + flen;
	}
	return 0;
}

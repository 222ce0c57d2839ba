/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The broker's loop: one io_uring for everything that is not an op.
 *
 * Each turn: submit what was queued and wait for at least one completion,
 * then handle every completion in the order the kernel posted them:
 *   accept     a new connection: SO_PEERCRED, then a recvmsg for its hello;
 *   recv       handshake bytes; after the handshake, a shared-memory
 *              client's resource uploads (conn.c, ar__conn_control), and
 *              EOF (a dead or disconnected client, or one a worker
 *              poisoned) tears the connection down at once; a stream
 *              client's frames go to stream.c, as do its sends and CQ
 *              wake-ups;
 *   signal     SIGTERM/SIGINT (signalfd): stop accepting, drain, exit;
 *              SIGHUP: main.c re-reads the configuration;
 *   timer      every 100 ms: handshake deadlines, the end of a drain.
 * Shared-memory ops never pass through here: workers poll the rings
 * themselves. Listeners: the UNIX socket, and optionally TCP and vsock.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/vm_sockets.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define TICK_NS 100000000ll

uint64_t ar__now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* mkdir -p of the socket's directory. */
static int make_parent(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *p;

	snprintf(dir, sizeof(dir), "%s", path);
	p = strrchr(dir, '/');
	if (!p || p == dir)
		return 0;
	*p = '\0';
	for (p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(dir, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

void ar__notify(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!getenv("NOTIFY_SOCKET"))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* 0: keep NOTIFY_SOCKET, for RELOADING=1 and STOPPING=1 later. */
	if (sd_notify(0, msg) < 0)
		ar_warn("NOTIFY_SOCKET: cannot notify systemd");
}

int ar__broker_resolve(struct ar_broker *b)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE },
			*ai;
	char host[128], port[8];
	unsigned p;
	int ret;

	if (b->cfg.socket_path[0] != '/') {
		ar_err("socket: '%s' is not an absolute path", b->cfg.socket_path);
		return -EINVAL;
	}
	if (strlen(b->cfg.socket_path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		ar_err("socket: path too long (at most %zu bytes): %s",
		       sizeof(((struct sockaddr_un *)0)->sun_path) - 1, b->cfg.socket_path);
		return -ENAMETOOLONG;
	}
	b->tcp_addrlen = 0;
	if (!b->cfg.tcp[0])
		return 0;
	if (ar__tcp_split(b->cfg.tcp, host, sizeof(host), &p)) {
		ar_err("tcp: '%s' is not HOST:PORT, [IPV6]:PORT or :PORT", b->cfg.tcp);
		return -EINVAL;
	}
	snprintf(port, sizeof(port), "%u", p);
	ret = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
	if (ret) {
		ar_err("tcp: cannot resolve '%s': %s", b->cfg.tcp,
		       ret == EAI_SYSTEM ? strerror(errno) : gai_strerror(ret));
		return -EINVAL;
	}
	memcpy(&b->tcp_addr, ai->ai_addr, ai->ai_addrlen);
	b->tcp_addrlen = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

void ar__broker_unlisten(struct ar_broker *b)
{
	if (b->listen_owned && b->listen_fd >= 0) {
		unlink(b->listen_path);
		close(b->listen_fd);
		b->listen_fd = -1;
		b->listen_owned = false;
	}
}

/* systemd socket activation: the listening socket is fd 3. */
static int listen_passed(struct ar_broker *b, char **names)
{
	struct sockaddr_un sa;
	socklen_t len = sizeof(sa);
	int fd = SD_LISTEN_FDS_START;

	if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) <= 0) {
		ar_err("socket activation: fd %d is not a listening UNIX stream socket", fd);
		return -EINVAL;
	}
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	b->listen_fd = fd;
	b->listen_owned = false;
	memset(&sa, 0, sizeof(sa));
	if (getsockname(fd, (struct sockaddr *)&sa, &len) == 0 && sa.sun_path[0])
		snprintf(b->listen_path, sizeof(b->listen_path), "%s", sa.sun_path);
	else if (len > offsetof(struct sockaddr_un, sun_path) + 1)
		snprintf(b->listen_path, sizeof(b->listen_path), "@%.*s",
			 (int)(len - offsetof(struct sockaddr_un, sun_path) - 1), sa.sun_path + 1);
	else
		snprintf(b->listen_path, sizeof(b->listen_path), "(unnamed)");
	/* FileDescriptorName= of the socket unit ("unknown" without one). */
	ar_info("listening on the socket systemd passed: %s (fd %d, name %s)",
		b->listen_path, fd, names && names[0] ? names[0] : "unknown");
	return 0;
}

int ar__broker_listen(struct ar_broker *b)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char **names = NULL;
	mode_t old_mask;
	int n, fd, ret;

	b->listen_fd = -1;
	/* 1: LISTEN_FDS and friends are unset, so that nothing the broker
	 * starts (plugin hosts) takes the socket for its own. */
	n = sd_listen_fds_with_names(1, &names);
	if (n > 1)
		ar_err("socket activation passed %d sockets; expected one", n);
	ret = n > 1 ? -EINVAL : n == 1 ? listen_passed(b, names) : 0;
	for (int i = 0; names && names[i]; i++)
		free(names[i]);
	free(names);
	if (n >= 1)
		return ret;
	if (strlen(b->cfg.socket_path) >= sizeof(sa.sun_path)) {
		ar_err("socket path too long: %s", b->cfg.socket_path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, b->cfg.socket_path);
	ret = make_parent(sa.sun_path);
	if (ret) {
		ar_err("cannot create the directory of %s: %s", sa.sun_path, strerror(-ret));
		return ret;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* A socket file nobody listens on is a stale one from a broker that
	 * died: replace it. One somebody listens on is another broker's. */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		ar_err("another broker is listening on %s", sa.sun_path);
		close(fd);
		return -EADDRINUSE;
	}
	close(fd);
	unlink(sa.sun_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* The file is made owner-only and given its group and socket-mode
	 * before listen(): until then a connect() is refused, so there is no
	 * moment when more users than socket-mode says can connect. */
	old_mask = umask(0177);
	ret = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old_mask);
	if (ret) {
		ret = -errno;
		ar_err("cannot bind %s: %s", sa.sun_path, strerror(errno));
		close(fd);
		return ret;
	}
	if (b->cfg.socket_gid != UINT32_MAX && chown(sa.sun_path, (uid_t)-1, b->cfg.socket_gid)) {
		ret = -errno;
		ar_err("socket-group: cannot give %s group %u: %s", sa.sun_path,
		       b->cfg.socket_gid, strerror(errno));
		goto fail;
	}
	if (chmod(sa.sun_path, b->cfg.socket_mode)) {
		ret = -errno;
		ar_err("socket-mode: cannot chmod %s to %04o: %s", sa.sun_path,
		       b->cfg.socket_mode, strerror(errno));
		goto fail;
	}
	if (listen(fd, 512)) {
		ret = -errno;
		ar_err("cannot listen on %s: %s", sa.sun_path, strerror(errno));
		goto fail;
	}
	b->listen_fd = fd;
	b->listen_owned = true;
	snprintf(b->listen_path, sizeof(b->listen_path), "%s", sa.sun_path);
	ar_info("listening on %s (mode %04o%s)", sa.sun_path, b->cfg.socket_mode,
		b->cfg.socket_gid != UINT32_MAX ? ", socket-group set" : "");
	return 0;
fail:
	unlink(sa.sun_path);
	close(fd);
	return ret;
}

/* tcp (resolved by ar__broker_resolve): the listener for stream clients. */
static int listen_tcp(struct ar_broker *b)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[128];
	int fd, one = 1, ret;

	fd = socket(b->tcp_addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&b->tcp_addr, b->tcp_addrlen) || listen(fd, 512) ||
	    getsockname(fd, (struct sockaddr *)&ss, &len)) {
		ret = -errno;
		ar_err("tcp: cannot listen on %s: %s", b->cfg.tcp, strerror(errno));
		close(fd);
		return ret;
	}
	getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host), NULL, 0, NI_NUMERICHOST);
	snprintf(b->tcp_bound, sizeof(b->tcp_bound), ss.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u",
		 host, ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						       : ((struct sockaddr_in *)&ss)->sin_port));
	b->stream_fd[AR_LISTEN_TCP] = fd;
	ar_info("listening on tcp %s (stream transport)", b->tcp_bound);
	return 0;
}

void ar__broker_addresses(const struct ar_broker *b, char *out, size_t cap)
{
	int n = snprintf(out, cap, "unix://%s", b->listen_path);

	if (b->tcp_bound[0] && n >= 0 && (size_t)n < cap)
		n += snprintf(out + n, cap - (size_t)n, ", tcp://%s", b->tcp_bound);
	if (b->stream_fd[AR_LISTEN_VSOCK] >= 0 && n >= 0 && (size_t)n < cap)
		snprintf(out + n, cap - (size_t)n, ", vsock:%u", b->cfg.vsock_port);
}

/* vsock listener, any CID. Only when configured: on a machine that is
 * itself a guest, vsock leads to its hypervisor. */
static int listen_vsock(struct ar_broker *b)
{
	struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY,
				  .svm_port = b->cfg.vsock_port };
	int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), ret;

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 512)) {
		ret = -errno;
		ar_err("vsock: cannot listen on port %u: %s", b->cfg.vsock_port, strerror(errno));
		if (fd >= 0)
			close(fd);
		return ret;
	}
	b->stream_fd[AR_LISTEN_VSOCK] = fd;
	ar_info("listening on vsock port %u (stream transport)", b->cfg.vsock_port);
	return 0;
}

int ar__broker_listen_streams(struct ar_broker *b)
{
	int ret = 0;

	b->stream_fd[AR_LISTEN_UNIX] = -1;
	b->stream_fd[AR_LISTEN_TCP] = -1;
	b->stream_fd[AR_LISTEN_VSOCK] = -1;
	if (b->cfg.tcp[0])
		ret = listen_tcp(b);
	if (!ret && b->cfg.vsock_port)
		ret = listen_vsock(b);
	return ret;
}

void ar__loop_hold(struct ar_broker *b, struct ar_conn *c)
{
	b->conn_ops++;
	ar__conn_get(c);
}

/* The completion of an operation ar__loop_hold counted was handled. */
static void loop_release(struct ar_broker *b, struct ar_conn *c)
{
	b->conn_ops--;
	ar__conn_put(c);
}

/*
 * Submit what is queued and wait for at least one completion, like
 * io_uring_submit_and_wait(ring, 1), but the wait is a poll(2) on the
 * ring's fd (readable when completions are there). The same for the
 * kernel; the reason is valgrind (3.19, scripts/test.sh --long): it holds
 * its lock over an io_uring_enter that waits, so every other thread of
 * the broker stopped until the loop woke up, while poll is a wait it
 * knows. io_uring_submit still flushes an overflowed CQ.
 */
static int loop_wait(struct ar_broker *b)
{
	struct pollfd p = { .fd = b->ring.ring_fd, .events = POLLIN };
	int ret = io_uring_submit(&b->ring);

	if (ret < 0)
		return ret;
	if (io_uring_cq_ready(&b->ring))
		return 0;
	return poll(&p, 1, -1) < 0 ? -errno : 0;
}

struct io_uring_sqe *ar__loop_sqe(struct ar_broker *b)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&b->ring);

	if (!sqe) {
		io_uring_submit(&b->ring);
		sqe = io_uring_get_sqe(&b->ring);
	}
	return sqe;
}

static int listener_fd(const struct ar_broker *b, int kind)
{
	return kind == AR_LISTEN_UNIX ? b->listen_fd : b->stream_fd[kind];
}

void ar__broker_close_listeners(struct ar_broker *b)
{
	for (int k = AR_LISTEN_TCP; k < AR_LISTEN_MAX; k++)
		if (b->stream_fd[k] >= 0)
			close(b->stream_fd[k]);
}

static void arm_accept(struct ar_broker *b, int kind)
{
	struct io_uring_sqe *sqe = ar__loop_sqe(b);

	io_uring_prep_accept(sqe, listener_fd(b, kind), NULL, NULL,
			     SOCK_CLOEXEC | SOCK_NONBLOCK);
	io_uring_sqe_set_data(sqe, (void *)(uintptr_t)(L_ACCEPT | kind << 3));
}

static void arm_recv(struct ar_broker *b, struct ar_conn *c)
{
	struct io_uring_sqe *sqe = ar__loop_sqe(b);

	/* A frame in the making: the hello, or a control frame after it. */
	c->iov = (struct iovec){ c->rbuf + c->rlen, sizeof(c->rbuf) - c->rlen };
	memset(&c->msg, 0, sizeof(c->msg));
	c->msg.msg_iov = &c->iov;
	c->msg.msg_iovlen = 1;
	c->msg.msg_control = c->cbuf.buf;
	c->msg.msg_controllen = sizeof(c->cbuf.buf);
	/* MSG_CMSG_CLOEXEC: an fd a client slips in is never inherited by
	 * anything we start, even for the instant before we close it. */
	io_uring_prep_recvmsg(sqe, c->fd, &c->msg, MSG_CMSG_CLOEXEC);
	io_uring_sqe_set_data(sqe, (void *)((uintptr_t)c | L_RECV));
	ar__loop_hold(b, c);
}

static void arm_timer(struct ar_broker *b)
{
	static struct __kernel_timespec ts = { .tv_nsec = TICK_NS };
	struct io_uring_sqe *sqe = ar__loop_sqe(b);

	io_uring_prep_timeout(sqe, &ts, 0, 0);
	io_uring_sqe_set_data(sqe, (void *)(uintptr_t)L_TIMER);
}

static struct signalfd_siginfo siginfo;

static void arm_signal(struct ar_broker *b)
{
	struct io_uring_sqe *sqe = ar__loop_sqe(b);

	io_uring_prep_read(sqe, b->sig_fd, &siginfo, sizeof(siginfo), 0);
	io_uring_sqe_set_data(sqe, (void *)(uintptr_t)L_SIGNAL);
}

static void unlist(struct ar_broker *b, struct ar_conn *c)
{
	struct ar_conn **pp;

	for (pp = &b->conns; *pp && *pp != c; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = c->next;
}

/*
 * The socket is gone: release everything of the connection now. What its
 * tenant is charged for comes back here, not when the workers let go of
 * the channels (one may be busy in a long op for seconds): the channels
 * and sessions at once, the region's bytes once its pages are punched out
 * (at once for a few pages, else by reclaim.c's thread). Workers stop
 * serving it at once too (poisoned), and free it when they can.
 */
static void teardown(struct ar_broker *b, struct ar_conn *c, int why)
{
	if (c->state == AR_CONN_DEAD)
		return;
	unlist(b, c);
	ar__handshake_done(b, c);
	ar__stream_cancel(b, c);
	if (c->state == AR_CONN_ACTIVE) {
		ar_info("conn %u (%s): closed (%s): releasing its %u channels and region",
			c->id, c->peer, why ? strerror(-why) : "EOF",
			c->nr_channels);
		/* Relaxed: a worker that misses it serves one more batch of a
		 * connection whose pages are about to be zero. */
		atomic_store_explicit(&c->poisoned, true, memory_order_relaxed);
		for (uint32_t i = 0; i < c->nr_channels; i++)
			ar__worker_remove(c->ch[i].worker, &c->ch[i]);
		ar__sessions_drop(c->tenant, c->id);
		ar__tenant_give_back(c->tenant, c->stream, c->held_channels, 0);
		c->held_channels = 0;
		c->reclaimed = true;
		ar__reclaim_conn(c);
	}
	c->state = AR_CONN_DEAD;
	ar__conn_put(c);
}

/* Returns whether another accept is armed. */
static bool on_accept(struct ar_broker *b, int kind, int res)
{
	struct ar_conn *c;

	if (res < 0) {
		/* EMFILE and friends: try again at the next tick rather
		 * than spin on an error. EINTR comes from vsock accepts
		 * in a guest now and then, and is not worth a warning. */
		if (res == -EINTR)
			ar_debug("accept: %s", strerror(-res));
		else if (res != -ECANCELED)
			ar_warn("accept: %s", strerror(-res));
		return false;
	}
	c = ar__conn_new(b, res, kind);
	if (!c) {
		close(res);
	} else if (!ar__handshake_admit(b, c)) {
		ar__conn_put(c);	/* closes it: a storm costs no fd */
	} else {
		c->next = b->conns;
		b->conns = c;
		arm_recv(b, c);
	}
	if (atomic_load(&b->draining))
		return false;
	arm_accept(b, kind);
	return true;
}

static void on_recv(struct ar_broker *b, struct ar_conn *c, int res)
{
	int ret;

	if (c->state == AR_CONN_DEAD)
		return;	/* shut down by close_conns */
	if (c->state == AR_CONN_ACTIVE) {
		/* A shared-memory client: resource uploads, or EOF. */
		ret = ar__conn_control(b, c, res);
		if (ret < 0)
			teardown(b, c, ret == -ECONNRESET ? 0 : ret);
		else
			arm_recv(b, c);
		return;
	}
	ret = ar__conn_handshake(b, c, res);
	if (ret)
		ar__handshake_done(b, c);
	if (ret == 1 && c->stream)
		ret = ar__stream_start(b, c);
	else if (ret >= 0)
		arm_recv(b, c);
	if (ret < 0)
		teardown(b, c, ret == -ECONNRESET ? 0 : ret);
}

/* A stream connection's hang-up poll: the peer closed, or a worker (or
 * a poison) shut the socket down. */
static void on_hup(struct ar_broker *b, struct ar_conn *c, int res)
{
	if (ar__stream_on_hup(b, c, res) < 0 && c->state != AR_CONN_DEAD)
		teardown(b, c, 0);
}

static void start_drain(struct ar_broker *b, int sig)
{
	struct io_uring_sqe *sqe;

	if (atomic_load(&b->draining)) {
		ar_warn("signal %d again: cancelling what is still queued", sig);
		atomic_store_explicit(&b->drain_deadline_ns, 0, memory_order_relaxed);
		for (unsigned i = 0; i < b->nr_workers; i++)
			ar__worker_kick(b->workers[i]);
		return;
	}
	ar_info("signal %d: no new connections; draining for up to %u ms",
		sig, b->cfg.grace_ms);
	ar__notify("STOPPING=1\nSTATUS=draining for up to %u ms (signal %d)",
		   b->cfg.grace_ms, sig);
	atomic_store_explicit(&b->drain_deadline_ns,
			      ar__now_ns() + (uint64_t)b->cfg.grace_ms * 1000000u,
			      memory_order_relaxed);
	/* Release: workers that see draining see the deadline. */
	atomic_store_explicit(&b->draining, true, memory_order_release);
	for (int k = 0; k < AR_LISTEN_MAX; k++) {
		if (listener_fd(b, k) < 0)
			continue;
		sqe = ar__loop_sqe(b);
		io_uring_prep_cancel(sqe, (void *)(uintptr_t)(L_ACCEPT | k << 3), 0);
		io_uring_sqe_set_data(sqe, (void *)(uintptr_t)L_CANCEL);
	}
	if (b->listen_owned)
		unlink(b->listen_path);
	for (unsigned i = 0; i < b->nr_workers; i++)
		ar__worker_kick(b->workers[i]);
}

static void on_tick(struct ar_broker *b)
{
	uint64_t now = ar__now_ns();

	struct ar_conn *next;

	for (struct ar_conn *c = b->conns; c; c = next) {
		next = c->next;
		if (c->state == AR_CONN_HANDSHAKE && now > c->deadline_ns) {
			ar_refusal("conn %u (%s): refused: no hello within %u ms",
				   c->id, c->peer, b->cfg.handshake_ms);
			c->deadline_ns = UINT64_MAX;
			shutdown(c->fd, SHUT_RDWR);
		}
	}
}

/* Handle every completion the ring holds. */
static void dispatch(struct ar_broker *b, bool *accept_pending)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;

	io_uring_for_each_cqe(&b->ring, head, cqe) {
		uintptr_t ud = (uintptr_t)io_uring_cqe_get_data(cqe);
		void *p = (void *)(ud & ~(uintptr_t)L_MASK);

		n++;
		switch (ud & L_MASK) {
		case L_ACCEPT: {
			int kind = (int)(ud >> 3);

			accept_pending[kind] = on_accept(b, kind, cqe->res);
			break;
		}
		case L_RECV:
			on_recv(b, p, cqe->res);
			loop_release(b, p);
			break;
		case L_HUP:
			on_hup(b, p, cqe->res);
			loop_release(b, p);
			break;
		case L_SIGNAL:
			/* After the workers are gone (close_conns) a signal
			 * has nothing left to drain. */
			if (b->closing)
				break;
			if (cqe->res == sizeof(siginfo) && siginfo.ssi_signo == SIGHUP) {
				if (b->reload)
					b->reload(b);
			} else if (cqe->res == sizeof(siginfo)) {
				start_drain(b, (int)siginfo.ssi_signo);
			}
			arm_signal(b);
			break;
		case L_TIMER:
			if (ud >> 3)
				break;	/* close_conns' deadline */
			on_tick(b);
			for (int k = 0; k < AR_LISTEN_MAX; k++) {
				if (!accept_pending[k] && listener_fd(b, k) >= 0 &&
				    !atomic_load(&b->draining)) {
					arm_accept(b, k);
					accept_pending[k] = true;
				}
			}
			arm_timer(b);
			break;
		default:
			break;
		}
	}
	io_uring_cq_advance(&b->ring, n);
}

static bool accept_pending[AR_LISTEN_MAX];

/* The workers stopped: whether every stream peer got its completions.
 * Shared-memory clients read theirs from the CQ ring themselves. */
static bool streams_flushed(struct ar_broker *b)
{
	struct ar_conn *next;
	bool all = true;

	for (struct ar_conn *c = b->conns; c; c = next) {
		int ret;

		next = c->next;
		if (!c->stream || c->state != AR_CONN_ACTIVE)
			continue;
		ret = ar__stream_flushed(b, c);
		if (ret < 0)
			teardown(b, c, ret);
		else if (!ret)
			all = false;
	}
	return all;
}

int ar__broker_run(struct ar_broker *b)
{
	uint64_t flush_end = 0;

	for (int k = 0; k < AR_LISTEN_MAX; k++) {
		accept_pending[k] = listener_fd(b, k) >= 0;
		if (accept_pending[k])
			arm_accept(b, k);
	}
	arm_signal(b);
	arm_timer(b);
	for (;;) {
		int ret = loop_wait(b);

		if (ret < 0 && ret != -EINTR && ret != -ETIME) {
			ar_err("io_uring: %s", strerror(-ret));
			return ret;
		}
		dispatch(b, accept_pending);
		if (!atomic_load(&b->draining) ||
		    atomic_load(&b->workers_running) != 0)
			continue;
		/* Drained: send stream peers what was completed for them,
		 * for at most FLUSH_NS (a peer that does not read loses it). */
		if (!flush_end)
			flush_end = ar__now_ns() + FLUSH_NS;
		if (streams_flushed(b) || ar__now_ns() >= flush_end)
			return 0;
	}
}

/* After the workers are joined: every connection the loop still holds.
 * Each recv, send or wake-up read still in the ring holds a reference:
 * shut the sockets down, cancel the wake-ups and collect their completions
 * (for at most a second) so that everything is freed. */
void ar__broker_close_conns(struct ar_broker *b)
{
	uint64_t end = ar__now_ns() + FLUSH_NS;

	b->closing = true;
	while (b->conns) {
		struct ar_conn *c = b->conns;

		/* The workers are gone and have dropped their channels. */
		b->conns = c->next;
		ar__handshake_done(b, c);
		ar__stream_cancel(b, c);
		shutdown(c->fd, SHUT_RDWR);
		c->state = AR_CONN_DEAD;
		ar__conn_put(c);
	}
	while (b->conn_ops && ar__now_ns() < end) {
		static struct __kernel_timespec ts = { .tv_nsec = TICK_NS };
		struct io_uring_sqe *sqe = ar__loop_sqe(b);

		io_uring_prep_timeout(sqe, &ts, 0, 0);
		io_uring_sqe_set_data(sqe, (void *)(uintptr_t)(L_TIMER | 1 << 3));
		(void)loop_wait(b);
		dispatch(b, accept_pending);
	}
	/* The regions of the connections freed above. */
	ar__reclaim_stop();
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The broker's loop: one io_uring for everything that is not an op.
 *
 * Each turn: submit what was queued and wait for at least one completion,
 * then handle every completion in the order the kernel posted them:
 *   accept     a new connection: SO_PEERCRED, then a recvmsg for its hello;
 *   recv       handshake bytes; after the handshake, only EOF is expected,
 *              and EOF (a dead or disconnected client, or one a worker
 *              poisoned) tears the connection down at once;
 *   signal     SIGTERM/SIGINT (signalfd): stop accepting, drain, exit;
 *   timer      every 100 ms: handshake deadlines, the end of a drain.
 * Ops never pass through here: workers poll the rings themselves.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

enum { L_ACCEPT = 1, L_RECV = 2, L_SIGNAL = 3, L_TIMER = 4, L_CANCEL = 5,
       L_MASK = 7 };

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

int ar__broker_listen(struct ar_broker *b)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int n, fd, ret;

	/* systemd socket activation: the listening socket is fd 3. */
	n = sd_listen_fds(1);
	if (n > 1) {
		ar_err("socket activation passed %d sockets; expected one", n);
		return -EINVAL;
	}
	if (n == 1) {
		fd = SD_LISTEN_FDS_START;
		if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) <= 0) {
			ar_err("socket activation: fd %d is not a listening UNIX stream socket", fd);
			return -EINVAL;
		}
		fcntl(fd, F_SETFD, FD_CLOEXEC);
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		b->listen_fd = fd;
		b->listen_owned = false;
		ar_info("listening on the socket systemd passed");
		return 0;
	}
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
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 512)) {
		ret = -errno;
		ar_err("cannot listen on %s: %s", sa.sun_path, strerror(errno));
		close(fd);
		return ret;
	}
	/* Who may connect is decided by the socket directory's permissions
	 * and the broker's access control, not by the socket file's mode. */
	chmod(sa.sun_path, 0666);
	b->listen_fd = fd;
	b->listen_owned = true;
	ar_info("listening on %s", sa.sun_path);
	return 0;
}

static struct io_uring_sqe *get_sqe(struct ar_broker *b)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&b->ring);

	if (!sqe) {
		io_uring_submit(&b->ring);
		sqe = io_uring_get_sqe(&b->ring);
	}
	return sqe;
}

static void arm_accept(struct ar_broker *b)
{
	struct io_uring_sqe *sqe = get_sqe(b);

	io_uring_prep_accept(sqe, b->listen_fd, NULL, NULL,
			     SOCK_CLOEXEC | SOCK_NONBLOCK);
	io_uring_sqe_set_data(sqe, (void *)(uintptr_t)L_ACCEPT);
}

static void arm_recv(struct ar_broker *b, struct ar_conn *c)
{
	struct io_uring_sqe *sqe = get_sqe(b);

	if (c->state == AR_CONN_HANDSHAKE)
		c->iov = (struct iovec){ c->rbuf + c->rlen, sizeof(c->rbuf) - c->rlen };
	else
		c->iov = (struct iovec){ c->rbuf, sizeof(c->rbuf) };
	memset(&c->msg, 0, sizeof(c->msg));
	c->msg.msg_iov = &c->iov;
	c->msg.msg_iovlen = 1;
	c->msg.msg_control = c->cbuf.buf;
	c->msg.msg_controllen = sizeof(c->cbuf.buf);
	/* MSG_CMSG_CLOEXEC: an fd a client slips in is never inherited by
	 * anything we start, even for the instant before we close it. */
	io_uring_prep_recvmsg(sqe, c->fd, &c->msg, MSG_CMSG_CLOEXEC);
	io_uring_sqe_set_data(sqe, (void *)((uintptr_t)c | L_RECV));
}

static void arm_timer(struct ar_broker *b)
{
	static struct __kernel_timespec ts = { .tv_nsec = TICK_NS };
	struct io_uring_sqe *sqe = get_sqe(b);

	io_uring_prep_timeout(sqe, &ts, 0, 0);
	io_uring_sqe_set_data(sqe, (void *)(uintptr_t)L_TIMER);
}

static struct signalfd_siginfo siginfo;

static void arm_signal(struct ar_broker *b)
{
	struct io_uring_sqe *sqe = get_sqe(b);

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

/* The socket is gone: release everything of the connection now. */
static void teardown(struct ar_broker *b, struct ar_conn *c, int why)
{
	unlist(b, c);
	if (c->state == AR_CONN_ACTIVE) {
		ar_info("conn %u (pid %d): closed (%s): releasing its %u channels and region",
			c->id, (int)c->cred.pid, why ? strerror(-why) : "EOF",
			c->nr_channels);
		for (uint32_t i = 0; i < c->nr_channels; i++)
			ar__worker_remove(c->ch[i].worker, &c->ch[i]);
	}
	c->state = AR_CONN_DEAD;
	ar__conn_put(c);
}

/* Returns whether another accept is armed. */
static bool on_accept(struct ar_broker *b, int res)
{
	struct ar_conn *c;

	if (res < 0) {
		/* EMFILE and friends: try again at the next tick rather
		 * than spin on an error. */
		if (res != -ECANCELED)
			ar_warn("accept: %s", strerror(-res));
		return false;
	}
	c = ar__conn_new(b, res);
	if (!c) {
		close(res);
	} else {
		c->next = b->conns;
		b->conns = c;
		arm_recv(b, c);
	}
	if (atomic_load(&b->draining))
		return false;
	arm_accept(b);
	return true;
}

static void on_recv(struct ar_broker *b, struct ar_conn *c, int res)
{
	int ret = ar__conn_handshake(b, c, res);

	if (ret < 0)
		teardown(b, c, ret == -ECONNRESET ? 0 : ret);
	else
		arm_recv(b, c);
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
	atomic_store_explicit(&b->drain_deadline_ns,
			      ar__now_ns() + (uint64_t)b->cfg.grace_ms * 1000000u,
			      memory_order_relaxed);
	/* Release: workers that see draining see the deadline. */
	atomic_store_explicit(&b->draining, true, memory_order_release);
	sqe = get_sqe(b);
	io_uring_prep_cancel(sqe, (void *)(uintptr_t)L_ACCEPT, 0);
	io_uring_sqe_set_data(sqe, (void *)(uintptr_t)L_CANCEL);
	if (b->listen_owned)
		unlink(b->cfg.socket_path);
	for (unsigned i = 0; i < b->nr_workers; i++)
		ar__worker_kick(b->workers[i]);
}

static void on_tick(struct ar_broker *b)
{
	uint64_t now = ar__now_ns();

	for (struct ar_conn *c = b->conns; c; c = c->next) {
		if (c->state == AR_CONN_HANDSHAKE && now > c->deadline_ns) {
			ar_warn("conn %u (pid %d): refused: no hello within %u ms",
				c->id, (int)c->cred.pid, b->cfg.handshake_ms);
			c->deadline_ns = UINT64_MAX;
			shutdown(c->fd, SHUT_RDWR);
		}
	}
}

int ar__broker_run(struct ar_broker *b)
{
	bool accept_pending = true;

	arm_accept(b);
	arm_signal(b);
	arm_timer(b);
	for (;;) {
		struct io_uring_cqe *cqe;
		unsigned head, n = 0;
		int ret = io_uring_submit_and_wait(&b->ring, 1);

		if (ret < 0 && ret != -EINTR && ret != -ETIME) {
			ar_err("io_uring: %s", strerror(-ret));
			return ret;
		}
		io_uring_for_each_cqe(&b->ring, head, cqe) {
			uintptr_t ud = (uintptr_t)io_uring_cqe_get_data(cqe);
			void *p = (void *)(ud & ~(uintptr_t)L_MASK);

			n++;
			switch (ud & L_MASK) {
			case L_ACCEPT:
				accept_pending = on_accept(b, cqe->res);
				break;
			case L_RECV:
				on_recv(b, p, cqe->res);
				break;
			case L_SIGNAL:
				if (cqe->res == sizeof(siginfo))
					start_drain(b, (int)siginfo.ssi_signo);
				arm_signal(b);
				break;
			case L_TIMER:
				on_tick(b);
				if (!accept_pending && !atomic_load(&b->draining)) {
					arm_accept(b);
					accept_pending = true;
				}
				arm_timer(b);
				break;
			default:
				break;
			}
		}
		io_uring_cq_advance(&b->ring, n);
		if (atomic_load(&b->draining) &&
		    atomic_load(&b->workers_running) == 0)
			return 0;
	}
}

/* After the workers are joined: every connection the loop still holds. */
void ar__broker_close_conns(struct ar_broker *b)
{
	while (b->conns) {
		struct ar_conn *c = b->conns;

		b->conns = c->next;
		c->state = AR_CONN_DEAD;
		ar__conn_put(c);
	}
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Resources from the native API: a resource's content goes to the broker
 * once, in a sealed memfd, and is then named by the id the broker gives it
 * (broker/resource.c says what it checks).
 *
 * Shared memory: the memfd itself travels, on the connection's socket,
 * with a ResourceOpen frame (SCM_RIGHTS); the broker maps it and nothing
 * is copied. One upload at a time per connection (ctl_lock): the broker
 * answers each on the socket before the next. Stream: the bytes travel in
 * ResourceData frames, read from a read-only mapping of the memfd, into a
 * memfd the broker makes. Either way a ResourceRegister on the queue then
 * makes the upload a resource of the session.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client_pvt.h"

#define SEALS (F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)
/* How long the broker may take to answer a ResourceOpen: it only checks
 * the memfd (the hashing comes with the ResourceRegister). */
#define CTL_TIMEOUT_MS 60000

static _Atomic uint32_t next_token = 1;

static uint32_t token_new(void)
{
	uint32_t t;

	do
		t = atomic_fetch_add_explicit(&next_token, 1, memory_order_relaxed);
	while (!t);
	return t;
}

#define PAGE 4096u

/* Copy size bytes of in (from its start) to out at off. */
static int copy_from(int out, uint64_t off, int in, uint64_t size)
{
	off_t in_off = 0;

	if (lseek(out, (off_t)off, SEEK_SET) < 0)
		return -errno;
	while (size) {
		ssize_t n = sendfile(out, in, &in_off, size > (1u << 30) ? (1u << 30) : size);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n ? -errno : -EIO;	/* the file shrank */
		size -= (uint64_t)n;
	}
	return 0;
}

static int put_bytes(int fd, uint64_t off, const uint8_t *p, uint64_t size)
{
	while (size) {
		ssize_t n = pwrite(fd, p, size, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n ? -errno : -EIO;
		p += n;
		off += (uint64_t)n;
		size -= (uint64_t)n;
	}
	return 0;
}

AR_VISIBLE int ar_resource_pack(const struct ar_res_piece *pieces, uint32_t n,
				struct ar_res_file *files, uint64_t *bytes)
{
	uint64_t total = 0;
	int fd, ret = 0;

	if (!pieces || !n || n > AR_WIRE_MAX_FILES || !files || !bytes)
		return -EINVAL;
	/* One file: all of the memfd, so that a plugin can open it by path.
	 * More: each page aligned, so that each can be mapped alone. */
	for (uint32_t i = 0; i < n; i++) {
		if (!pieces[i].name || (!pieces[i].data && pieces[i].fd < 0 && pieces[i].size))
			return -EINVAL;
		if (i)
			total = (total + PAGE - 1) & ~(uint64_t)(PAGE - 1);
		files[i] = (struct ar_res_file){ .name = pieces[i].name, .offset = total,
						 .size = pieces[i].size };
		if (pieces[i].size > UINT64_MAX / 2 - total)
			return -EFBIG;
		total += pieces[i].size;
	}
	if (!total)
		return -EINVAL;
	fd = memfd_create("accelring-resource", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	/* Every page present: the broker refuses a sparse memfd. */
	if (ftruncate(fd, (off_t)total) || fallocate(fd, 0, 0, (off_t)total)) {
		ret = -errno;
		goto fail;
	}
	for (uint32_t i = 0; i < n && !ret; i++) {
		if (!pieces[i].size)
			continue;
		ret = pieces[i].data ? put_bytes(fd, files[i].offset, pieces[i].data, pieces[i].size)
				     : copy_from(fd, files[i].offset, pieces[i].fd, pieces[i].size);
	}
	if (!ret && fcntl(fd, F_ADD_SEALS, SEALS))
		ret = -errno;
	if (ret)
		goto fail;
	*bytes = total;
	return fd;
fail:
	close(fd);
	return ret;
}

/* Shared memory: send the memfd with a ResourceOpen and read the answer. */
static int ctl_open(struct ar_queue *q, uint32_t token, int memfd, uint64_t bytes)
{
	struct link *l = q->link;
	struct ar_wire_msg m = { .type = AR_WIRE_RES_OPEN };
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} cbuf;
	uint64_t in[(4 + 1024 + 7) / 8];
	uint8_t *ib = (uint8_t *)in;
	struct msghdr msg = { 0 };
	struct cmsghdr *cm;
	struct iovec iov[2];
	uint8_t hdr[AR_FRAME_HDR];
	size_t have = 0;
	const void *p;
	int64_t n;
	int ret;

	m.u.res_open = (struct ar_wire_res_open){ .token = token, .bytes = bytes };
	pthread_mutex_lock(&l->ctl_lock);
	n = ar_wire_encode(q->enc, &m, &p);
	if (n < 0) {
		ret = (int)n;
		goto out;
	}
	ar_frame_put_len(hdr, (uint32_t)n);
	iov[0] = (struct iovec){ hdr, sizeof(hdr) };
	iov[1] = (struct iovec){ (void *)p, (size_t)n };
	msg.msg_iov = iov;
	msg.msg_iovlen = 2;
	memset(&cbuf, 0, sizeof(cbuf));
	msg.msg_control = cbuf.buf;
	msg.msg_controllen = sizeof(cbuf.buf);
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &memfd, sizeof(int));
	do
		n = sendmsg(l->sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n != (int64_t)(sizeof(hdr) + iov[1].iov_len)) {
		ret = n < 0 && errno != EPIPE ? -errno : -ECONNRESET;
		goto out;
	}
	/* The answer: a Completion whose id is the token. */
	for (;;) {
		struct pollfd pf = { .fd = l->sock, .events = POLLIN };
		uint32_t flen = have >= 4 ? ar_frame_get_len(ib) : 0;
		ssize_t got;

		if (have >= 4 && flen > sizeof(in) - 4) {
			ret = -EPROTO;
			goto out;
		}
		if (have >= 4 && have >= 4 + flen)
			break;
		ret = poll(&pf, 1, CTL_TIMEOUT_MS);
		if (ret < 0 && errno == EINTR)
			continue;
		if (ret <= 0) {
			ret = ret ? -errno : -ETIMEDOUT;
			goto out;
		}
		got = recv(l->sock, ib + have, (have >= 4 ? 4 + flen : 4) - have, MSG_DONTWAIT);
		if (got < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (got <= 0) {
			ret = -ECONNRESET;
			goto out;
		}
		have += (size_t)got;
	}
	{
		/* Decoded from an aligned copy of the message. */
		uint64_t copy[sizeof(in) / 8];
		uint32_t flen = ar_frame_get_len(ib);

		memcpy(copy, ib + 4, flen);
		if (ar_wire_decode(copy, flen, &m) || m.type != AR_WIRE_COMPLETION ||
		    m.u.completion.id != token) {
			ret = -EPROTO;
			goto out;
		}
		ret = m.u.completion.status;
		snprintf(q->why, sizeof(q->why), "%s",
			 m.u.completion.message ? m.u.completion.message : "");
	}
out:
	pthread_mutex_unlock(&l->ctl_lock);
	if (ret == -ECONNRESET || ret == -EPROTO)
		ar__gone(q, ret);
	return ret;
}

AR_VISIBLE int ar_resource_register(struct ar_queue *q, uint32_t session, uint32_t type,
				    int memfd, uint64_t bytes, const struct ar_res_file *files,
				    uint32_t nr_files, uint64_t *id)
{
	struct ar_wire_msg m = { .type = AR_WIRE_RES_REGISTER };
	struct ar_wire_res_register *r = &m.u.res_register;
	uint32_t token;
	int ret;

	if (!q || memfd < 0 || !bytes || !files || !nr_files ||
	    nr_files > AR_WIRE_MAX_FILES || !id)
		return -EINVAL;
	if (q->err)
		return q->err;
	q->why[0] = '\0';
	token = token_new();
	ret = q->st ? ar__stream_res_upload(q, token, memfd, bytes)
		    : ctl_open(q, token, memfd, bytes);
	if (ret)
		return ret;
	r->session = session;
	r->token = token;
	r->type = type;
	r->nr_files = nr_files;
	for (uint32_t i = 0; i < nr_files; i++)
		r->files[i] = (struct ar_wire_file){ .name = files[i].name,
						     .off = files[i].offset,
						     .len = files[i].size };
	return ar__call(q, &m, id);
}

AR_VISIBLE int ar_resource_attach(struct ar_queue *q, uint32_t session, uint64_t id)
{
	struct ar_wire_msg m = { .type = AR_WIRE_RES_REGISTER };

	if (!q || !id)
		return -EINVAL;
	q->why[0] = '\0';
	m.u.res_register.session = session;
	m.u.res_register.resource = id;
	return ar__call(q, &m, NULL);
}

AR_VISIBLE int ar_resource_unregister(struct ar_queue *q, uint32_t session, uint64_t id)
{
	struct ar_wire_msg m = { .type = AR_WIRE_RES_UNREGISTER };

	if (!q || !id)
		return -EINVAL;
	q->why[0] = '\0';
	m.u.res_unregister.session = session;
	m.u.res_unregister.resource = id;
	return ar__call(q, &m, NULL);
}

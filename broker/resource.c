/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Resources: models, libraries and data that a client ships to the broker
 * once and its plugins then read in place (vAccel's vaccel_resource).
 *
 * Content travels in a memfd. A shared-memory client makes it, fills it,
 * seals it (F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) and
 * passes it on its socket with a ResourceOpen (conn.c): the broker takes
 * it only if it is a memfd on tmpfs with those seals, exactly the size
 * announced, and every page present (a sparse memfd would make the broker
 * fault in pages it is charged for), and never copies it: sealed, its
 * bytes can change no more, for the client as for anyone. A stream client
 * (stream.c) sends the bytes in ResourceData frames into a memfd the
 * broker makes and seals the same way once it is full. Either way the
 * upload waits in one of its connection's AR_RES_UPLOADS slots, under the
 * client's token, until a ResourceRegister on a ring (a worker) makes it a
 * resource: the files' names and ranges are checked, each file hashed
 * (SHA-256, OpenSSL's libcrypto), and the resource linked to the session.
 *
 * The store is per tenant: content identical to a resource the tenant
 * already holds (same type, names, sizes and file hashes) is linked to
 * that one and the new copy dropped; nothing is ever shared between
 * tenants, whose stores are separate lists. A resource lives while a
 * session links it: unregistered from its last session, or that session
 * closed or gone with its connection, it leaves the store, and its
 * mapping and fd go once no op holds it (an op takes a reference for the
 * time it runs). tenant-resource-bytes and tenant-resources bound what a
 * tenant holds, uploads in flight included; over a stream the bytes are
 * the broker's memory, so they count against the listener's listener-shm
 * too.
 *
 * Locks: an upload slot table is its connection's (res_lock: the loop
 * fills, a worker takes); the store, the links and the tenant's counters
 * are under the tenant's lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "internal.h"

#define SEALS_REQUIRED (F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)

/* vaccel_resource_type_t: LIB, DATA, MODEL. */
#define RES_TYPES 3u

struct ar_res {
	struct ar_res *next;		/* the tenant's store (t->lock) */
	struct ar_tenant *tenant;
	uint32_t tenant_id;		/* for the plugin hosts, which may outlive it */
	struct ar_resource pub;		/* what plugins see */
	_Atomic uint32_t refs;		/* 1 while in the store, + 1 per op */
	uint32_t links;			/* sessions it is registered with (t->lock) */
	int fd;
	void *map;
	uint64_t bytes;
	_Atomic uint64_t *pool;		/* stream: listener-shm it holds */
	char path[32];			/* /proc/self/fd/N */
	struct ar_resource_file files[];	/* names after them */
};

static _Atomic uint64_t next_res_id = 1;

/* ---- the tenant's counters (under t->lock) ---- */

static int charge(struct ar_tenant *t, uint64_t bytes, char *why, size_t cap)
{
	int ret = 0;

	pthread_mutex_lock(&t->lock);
	if (t->nr_res >= t->max_res) {
		snprintf(why, cap, "tenant %u holds %u resources (uploads included), "
			 "tenant-resources is %u", t->id, t->nr_res, t->max_res);
		ret = -EDQUOT;
	} else if (bytes > t->max_res_bytes - t->res_bytes) {
		snprintf(why, cap, "tenant %u holds %" PRIu64 " bytes of resources and "
			 "this one is %" PRIu64 ", tenant-resource-bytes is %" PRIu64,
			 t->id, t->res_bytes, bytes, t->max_res_bytes);
		ret = -EDQUOT;
	} else {
		t->nr_res++;
		t->res_bytes += bytes;
	}
	pthread_mutex_unlock(&t->lock);
	return ret;
}

static void uncharge_locked(struct ar_tenant *t, uint64_t bytes)
{
	t->nr_res--;
	t->res_bytes -= bytes;
}

static void uncharge(struct ar_tenant *t, uint64_t bytes)
{
	pthread_mutex_lock(&t->lock);
	uncharge_locked(t, bytes);
	pthread_mutex_unlock(&t->lock);
}

static int pool_take(_Atomic uint64_t *pool, uint64_t limit, uint64_t bytes)
{
	uint64_t held = atomic_load_explicit(pool, memory_order_relaxed);

	do {
		if (held > limit || bytes > limit - held)
			return -EDQUOT;
	} while (!atomic_compare_exchange_weak_explicit(pool, &held, held + bytes,
							memory_order_relaxed,
							memory_order_relaxed));
	return 0;
}

/* ---- uploads: the loop thread ---- */

static const char *const listener_name[AR_LISTEN_MAX] = { "unix", "tcp", "vsock" };

/* Whether fd is a memfd the broker may keep and map: tmpfs, sealed
 * against every change, of exactly bytes, with every page present. */
static int check_memfd(int fd, uint64_t bytes, char *why, size_t cap)
{
	struct statfs sfs;
	struct stat st;
	int seals = fcntl(fd, F_GET_SEALS);

	if (seals < 0 || fstatfs(fd, &sfs) || sfs.f_type != TMPFS_MAGIC ||
	    fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		snprintf(why, cap, "the resource's fd is not a memfd");
		return -EINVAL;
	}
	if ((seals & SEALS_REQUIRED) != SEALS_REQUIRED) {
		snprintf(why, cap, "the resource's memfd is not sealed against writing, "
			 "shrinking, growing and further seals (seals 0x%x)", seals);
		return -EPERM;
	}
	if ((uint64_t)st.st_size != bytes) {
		snprintf(why, cap, "the resource's memfd holds %lld bytes, not the %" PRIu64
			 " announced", (long long)st.st_size, bytes);
		return -EINVAL;
	}
	/* st_blocks counts 512-byte units of the pages tmpfs holds. */
	if ((uint64_t)st.st_blocks * 512u < ((bytes + AR_PAGE_SIZE - 1) & ~(uint64_t)(AR_PAGE_SIZE - 1))) {
		snprintf(why, cap, "the resource's memfd is sparse (%lld of %" PRIu64
			 " bytes present): fill every page", (long long)st.st_blocks * 512, bytes);
		return -EINVAL;
	}
	return 0;
}

static struct ar_res_upload *upload_find(struct ar_conn *c, uint32_t token)
{
	for (unsigned i = 0; i < AR_RES_UPLOADS; i++)
		if (c->up[i].token == token)
			return &c->up[i];
	return NULL;
}

/* What an upload holds goes back: its fd, its charge, its listener-shm. */
static void upload_drop(struct ar_tenant *t, const struct ar_res_upload *u)
{
	if (u->fd >= 0)
		close(u->fd);
	if (u->charged)
		uncharge(t, u->bytes);
	if (u->pool)
		atomic_fetch_sub_explicit(u->pool, u->bytes, memory_order_relaxed);
}

static void upload_release(struct ar_conn *c, struct ar_res_upload *u)
{
	upload_drop(c->tenant, u);
	memset(u, 0, sizeof(*u));
	u->fd = -1;
}

void ar__res_conn_init(struct ar_conn *c)
{
	pthread_mutex_init(&c->res_lock, NULL);
	for (unsigned i = 0; i < AR_RES_UPLOADS; i++)
		c->up[i].fd = -1;
}

void ar__res_conn_fini(struct ar_conn *c)
{
	for (unsigned i = 0; i < AR_RES_UPLOADS; i++)
		if (c->up[i].token)
			upload_release(c, &c->up[i]);
	pthread_mutex_destroy(&c->res_lock);
}

/* A free slot for token (NULL if the token is in use or none is free). */
static struct ar_res_upload *slot_for(struct ar_conn *c, uint32_t token)
{
	struct ar_res_upload *u;

	pthread_mutex_lock(&c->res_lock);
	u = upload_find(c, token) ? NULL : upload_find(c, 0);
	pthread_mutex_unlock(&c->res_lock);
	return u;
}

/* Publish a filled slot: a worker looks slots up by token. */
static void slot_publish(struct ar_conn *c, struct ar_res_upload *u,
			 const struct ar_res_upload *v)
{
	pthread_mutex_lock(&c->res_lock);
	*u = *v;
	pthread_mutex_unlock(&c->res_lock);
}

static int open_stream(struct ar_broker *b, struct ar_conn *c,
		       const struct ar_wire_res_open *o, struct ar_res_upload *v,
		       char *why, size_t cap)
{
	_Atomic uint64_t *pool = &b->listener_shm[c->kind];
	int fd, ret;

	/* The bytes come in frames, into memory of ours. */
	if (pool_take(pool, b->cfg.listener_shm, o->bytes)) {
		snprintf(why, cap, "the %s listener's stream connections hold too much "
			 "for %" PRIu64 " more bytes, listener-shm is %" PRIu64,
			 listener_name[c->kind], o->bytes, b->cfg.listener_shm);
		return -EDQUOT;
	}
	fd = memfd_create("accelring-resource", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0 || ftruncate(fd, (off_t)o->bytes)) {
		ret = -errno;
		snprintf(why, cap, "cannot make a memfd of %" PRIu64 " bytes: %s",
			 o->bytes, strerror(errno));
		if (fd >= 0)
			close(fd);
		atomic_fetch_sub_explicit(pool, o->bytes, memory_order_relaxed);
		return ret;
	}
	v->fd = fd;
	v->pool = pool;
	v->received = 0;
	return 0;
}

int ar__res_open(struct ar_broker *b, struct ar_conn *c,
		 const struct ar_wire_res_open *o, int fd, char *why, size_t cap)
{
	struct ar_res_upload *u = slot_for(c, o->token);
	struct ar_res_upload v = { .token = o->token, .fd = -1, .bytes = o->bytes };
	bool stream = fd < 0;
	int ret;

	if (!u) {
		snprintf(why, cap, "token %u is in use, or %u uploads wait for their "
			 "ResourceRegister already", o->token, AR_RES_UPLOADS);
		ret = -EBUSY;
		goto fail;
	}
	if (!o->bytes || o->bytes > c->tenant->max_res_bytes) {
		snprintf(why, cap, "a resource of %" PRIu64 " bytes: it must have some, "
			 "and at most tenant-resource-bytes (%" PRIu64 ")",
			 o->bytes, c->tenant->max_res_bytes);
		ret = o->bytes ? -EDQUOT : -EINVAL;
		goto fail;
	}
	if (!stream && (ret = check_memfd(fd, o->bytes, why, cap)))
		goto fail;
	if ((ret = charge(c->tenant, o->bytes, why, cap)))
		goto fail;
	v.charged = true;
	if (stream) {
		if ((ret = open_stream(b, c, o, &v, why, cap))) {
			uncharge(c->tenant, o->bytes);
			v.charged = false;
			goto fail;
		}
	} else {
		v.fd = fd;
		v.received = o->bytes;
	}
	slot_publish(c, u, &v);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	if (stream && u) {
		/* Its data is dropped; its ResourceRegister gets the error. */
		v.status = ret;
		snprintf(v.why, sizeof(v.why), "%s", why);
		slot_publish(c, u, &v);
	}
	return ret;
}

int ar__res_data(struct ar_conn *c, const struct ar_wire_res_data *d, char *why,
		 size_t cap)
{
	struct ar_res_upload *u;
	const uint8_t *p = d->bytes;
	uint64_t off = d->off, left = d->len, bytes = 0, received = 0;
	bool filling = false, refused = false;
	int fd = -1;

	/* A worker takes only a full upload (or a refused one, whose data
	 * is all before its register on the socket), so one being filled
	 * is the loop's alone; read it under the lock all the same. */
	pthread_mutex_lock(&c->res_lock);
	u = d->token ? upload_find(c, d->token) : NULL;
	if (u) {
		refused = u->status != 0;
		filling = u->pool && u->received < u->bytes;
		fd = u->fd;
		bytes = u->bytes;
		received = u->received;
	}
	pthread_mutex_unlock(&c->res_lock);
	if (refused)
		return 0;	/* refused at its ResourceOpen: dropped */
	if (!filling) {
		snprintf(why, cap, "data for token %u, which has no upload being filled",
			 d->token);
		return -EPROTO;
	}
	if (off != received || left > bytes - received) {
		snprintf(why, cap, "data [%" PRIu64 ", +%" PRIu64 ") for token %u, which "
			 "has %" PRIu64 " of %" PRIu64 " bytes: in order, and no more",
			 off, left, d->token, received, bytes);
		return -EPROTO;
	}
	while (left) {
		ssize_t n = pwrite(fd, p, left, (off_t)off);

		if (n <= 0) {
			snprintf(why, cap, "cannot store a resource's bytes: %s",
				 n ? strerror(errno) : "short write");
			return -EIO;
		}
		p += n;
		off += (uint64_t)n;
		left -= (uint64_t)n;
	}
	/* Sealed before a worker can see it full. */
	if (off == bytes && fcntl(fd, F_ADD_SEALS, SEALS_REQUIRED)) {
		snprintf(why, cap, "cannot seal a resource: %s", strerror(errno));
		return -EIO;
	}
	pthread_mutex_lock(&c->res_lock);
	u->received = off;
	pthread_mutex_unlock(&c->res_lock);
	return 0;
}

/* ---- the store: workers, and the loop at teardown ---- */

static void res_free(struct ar_res *r)
{
	/* Hosts that mapped it let it go (isolate.c): no op holds it now. */
	if (r->pub.id)
		ar__iso_res_gone(r->tenant_id, r->pub.id);
	if (r->map)
		munmap(r->map, r->bytes);
	close(r->fd);
	if (r->pool)
		atomic_fetch_sub_explicit(r->pool, r->bytes, memory_order_relaxed);
	free(r);
}

void ar__res_put(struct ar_res *r)
{
	/* acq_rel: the last holder sees every other's use before it unmaps. */
	if (atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) == 1)
		res_free(r);
}

const struct ar_resource *ar__res_pub(const struct ar_res *r)
{
	return &r->pub;
}

/* r leaves t's store (t->lock held): its charge goes back now, its
 * memory when the last op lets go. */
static void unstore_locked(struct ar_tenant *t, struct ar_res *r)
{
	struct ar_res **pp;

	for (pp = &t->res; *pp && *pp != r; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = r->next;
	uncharge_locked(t, r->bytes);
	ar_debug("tenant %u: resource %" PRIu64 " freed (%" PRIu64 " bytes)", t->id,
		 r->pub.id, r->bytes);
	ar__res_put(r);
}

static void unlink_locked(struct ar_tenant *t, struct ar_res *r)
{
	if (--r->links == 0)
		unstore_locked(t, r);
}

static struct ar_session *session_locked(struct ar_tenant *t, uint32_t id)
{
	for (uint32_t i = 0; i < t->nr_sessions; i++)
		if (t->sessions[i].id == id)
			return &t->sessions[i];
	return NULL;
}

/*
 * Link r to s (t->lock held). Each registration is a link of its own: two
 * client resources of identical content are one resource here, and each
 * unregisters its own link. A session holds at most tenant-resources
 * links, so repeating a registration cannot grow it without bound.
 */
static int link_locked(struct ar_tenant *t, struct ar_session *s, struct ar_res *r,
		       char *why, size_t cap)
{
	if (s->nr_res >= t->max_res) {
		snprintf(why, cap, "session %u holds %u registrations, tenant-resources is %u",
			 s->id, s->nr_res, t->max_res);
		return -EDQUOT;
	}
	if (s->nr_res == s->cap_res) {
		uint32_t n = s->cap_res ? 2 * s->cap_res : 4;
		struct ar_res **a = realloc(s->res, n * sizeof(*a));

		if (!a)
			return -ENOMEM;
		s->res = a;
		s->cap_res = n;
	}
	s->res[s->nr_res++] = r;
	r->links++;
	return 0;
}

void ar__res_session_gone(struct ar_tenant *t, struct ar_session *s)
{
	for (uint32_t i = 0; i < s->nr_res; i++)
		unlink_locked(t, s->res[i]);
	free(s->res);
	s->res = NULL;
	s->nr_res = s->cap_res = 0;
}

/* A file name as the client gave it: a name, not a path. */
static bool name_ok(const char *n)
{
	size_t len = strlen(n);

	return len && len <= AR_WIRE_MAX_FILE_NAME && !strchr(n, '/') &&
	       strcmp(n, ".") && strcmp(n, "..");
}

static int check_files(const struct ar_wire_res_register *m, uint64_t bytes,
		       char *why, size_t cap)
{
	if (m->type >= RES_TYPES) {
		snprintf(why, cap, "resource type %u is not LIB, DATA or MODEL", m->type);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < m->nr_files; i++) {
		const struct ar_wire_file *f = &m->files[i];

		if (!name_ok(f->name)) {
			snprintf(why, cap, "file %u: '%.64s' is not a file name (empty, '.', "
				 "'..', a '/', or over %u bytes)", i, f->name,
				 AR_WIRE_MAX_FILE_NAME);
			return -EINVAL;
		}
		if (f->off > bytes || f->len > bytes - f->off) {
			snprintf(why, cap, "file %u (%s): [%" PRIu64 ", +%" PRIu64 ") is "
				 "outside the %" PRIu64 " bytes uploaded", i, f->name,
				 f->off, f->len, bytes);
			return -EINVAL;
		}
	}
	return 0;
}

static int sha256(const void *p, size_t len, uint8_t out[32])
{
	unsigned int n = 0;

	return EVP_Digest(p, len, out, &n, EVP_sha256(), NULL) && n == 32 ? 0 : -EIO;
}

/* The resource's own hash: over its type and, per file, the name's
 * length, the name, the size and the file's hash. */
static int digest(struct ar_res *r)
{
	EVP_MD_CTX *x = EVP_MD_CTX_new();
	unsigned int n = 0;
	int ok;

	if (!x)
		return -ENOMEM;
	ok = EVP_DigestInit_ex(x, EVP_sha256(), NULL) &&
	     EVP_DigestUpdate(x, &r->pub.type, sizeof(r->pub.type));
	for (uint32_t i = 0; ok && i < r->pub.nr_files; i++) {
		const struct ar_resource_file *f = &r->files[i];
		uint64_t nl = strlen(f->name);

		ok = EVP_DigestUpdate(x, &nl, sizeof(nl)) &&
		     EVP_DigestUpdate(x, f->name, nl) &&
		     EVP_DigestUpdate(x, &f->size, sizeof(f->size)) &&
		     EVP_DigestUpdate(x, f->sha256, sizeof(f->sha256));
	}
	ok = ok && EVP_DigestFinal_ex(x, r->pub.sha256, &n) && n == 32;
	EVP_MD_CTX_free(x);
	return ok ? 0 : -EIO;
}

/* A resource from a full upload: mapped read-only, each file hashed. */
static int res_make(const struct ar_wire_res_register *m, int fd, uint64_t bytes,
		    struct ar_res **out, char *why, size_t cap)
{
	size_t names = 0;
	struct ar_res *r;
	char *np;

	for (uint32_t i = 0; i < m->nr_files; i++)
		names += strlen(m->files[i].name) + 1;
	r = calloc(1, sizeof(*r) + m->nr_files * sizeof(r->files[0]) + names);
	if (!r)
		return -ENOMEM;
	r->fd = fd;
	r->bytes = bytes;
	r->map = mmap(NULL, bytes, PROT_READ, MAP_SHARED, fd, 0);
	if (r->map == MAP_FAILED) {
		int ret = -errno;

		snprintf(why, cap, "cannot map the resource: %s", strerror(errno));
		free(r);
		return ret;
	}
	snprintf(r->path, sizeof(r->path), "/proc/self/fd/%d", fd);
	np = (char *)&r->files[m->nr_files];
	for (uint32_t i = 0; i < m->nr_files; i++) {
		struct ar_resource_file *f = &r->files[i];
		size_t nl = strlen(m->files[i].name) + 1;

		memcpy(np, m->files[i].name, nl);
		f->name = np;
		np += nl;
		f->offset = m->files[i].off;
		f->size = m->files[i].len;
		f->data = f->size ? (const uint8_t *)r->map + f->offset : NULL;
		f->fd = fd;
		f->path = f->offset == 0 && f->size == bytes ? r->path : NULL;
		if (sha256(f->data ? f->data : "", f->size, f->sha256)) {
			munmap(r->map, bytes);
			free(r);
			return -EIO;
		}
	}
	r->pub.type = m->type;
	r->pub.nr_files = m->nr_files;
	r->pub.files = r->files;
	if (digest(r)) {
		munmap(r->map, bytes);
		free(r);
		return -EIO;
	}
	atomic_init(&r->refs, 1);
	*out = r;
	return 0;
}

/* Identical content the tenant holds already (t->lock held). */
static struct ar_res *find_same_locked(struct ar_tenant *t, const struct ar_res *r)
{
	for (struct ar_res *o = t->res; o; o = o->next)
		if (o->pub.type == r->pub.type && o->pub.nr_files == r->pub.nr_files &&
		    !memcmp(o->pub.sha256, r->pub.sha256, 32))
			return o;
	return NULL;
}

static struct ar_res *find_id_locked(struct ar_tenant *t, uint64_t id)
{
	for (struct ar_res *o = t->res; o; o = o->next)
		if (o->pub.id == id)
			return o;
	return NULL;
}

int ar__res_register(struct ar_conn *c, const struct ar_wire_res_register *m,
		     uint64_t *id, char *why, size_t cap)
{
	struct ar_tenant *t = c->tenant;
	struct ar_res_upload up;
	struct ar_res *r = NULL, *same;
	struct ar_session *s;
	int ret;

	if (!m->token) {
		/* Another session of the tenant's takes a resource it has. */
		pthread_mutex_lock(&t->lock);
		s = session_locked(t, m->session);
		r = find_id_locked(t, m->resource);
		ret = !s ? -EPERM : !r ? -ENOENT : link_locked(t, s, r, why, cap);
		pthread_mutex_unlock(&t->lock);
		if (ret == -EPERM)
			snprintf(why, cap, "session %u is not one of tenant %u's", m->session,
				 t->id);
		else if (ret == -ENOENT)
			snprintf(why, cap, "tenant %u has no resource %" PRIu64
				 " (freed with its last session?)", t->id, m->resource);
		if (!ret)
			*id = m->resource;
		return ret;
	}
	pthread_mutex_lock(&c->res_lock);
	{
		struct ar_res_upload *u = upload_find(c, m->token);

		if (u && u->status) {
			ret = u->status;
			snprintf(why, cap, "%s", u->why);
			memset(u, 0, sizeof(*u));
			u->fd = -1;
			pthread_mutex_unlock(&c->res_lock);
			return ret;
		}
		if (!u || u->received != u->bytes) {
			pthread_mutex_unlock(&c->res_lock);
			snprintf(why, cap, "no complete upload under token %u on this "
				 "connection", m->token);
			return -EINVAL;
		}
		/* Ours now: the slot is free again. */
		up = *u;
		memset(u, 0, sizeof(*u));
		u->fd = -1;
	}
	pthread_mutex_unlock(&c->res_lock);
	ret = check_files(m, up.bytes, why, cap);
	if (!ret)
		ret = res_make(m, up.fd, up.bytes, &r, why, cap);
	if (ret) {
		upload_drop(t, &up);
		return ret;
	}
	/* The fd, the upload's charge and its listener-shm are r's now. */
	r->pool = up.pool;
	r->tenant = t;
	r->tenant_id = t->id;
	pthread_mutex_lock(&t->lock);
	s = session_locked(t, m->session);
	if (!s) {
		uncharge_locked(t, r->bytes);
		pthread_mutex_unlock(&t->lock);
		res_free(r);
		snprintf(why, cap, "session %u is not one of tenant %u's", m->session, t->id);
		return -EPERM;
	}
	same = find_same_locked(t, r);
	if (same) {
		/* Stored once: the new copy and its charge go. Its id is read
		 * under the lock: once it is dropped, a teardown may free it. */
		uint64_t same_id = same->pub.id;

		ret = link_locked(t, s, same, why, cap);
		uncharge_locked(t, r->bytes);
		pthread_mutex_unlock(&t->lock);
		ar_debug("tenant %u: resource %" PRIu64 " again (%" PRIu64 " bytes): stored once",
			 t->id, same_id, r->bytes);
		if (!ret)
			*id = same_id;
		res_free(r);
		return ret;
	}
	r->pub.id = atomic_fetch_add_explicit(&next_res_id, 1, memory_order_relaxed);
	ret = link_locked(t, s, r, why, cap);
	if (ret) {
		uncharge_locked(t, r->bytes);
		pthread_mutex_unlock(&t->lock);
		res_free(r);
		return ret;
	}
	r->next = t->res;
	t->res = r;
	*id = r->pub.id;
	/* Logged under the lock: once it is dropped, the session's close
	 * (the loop's teardown) may free r. */
	ar_debug("tenant %u: resource %" PRIu64 ": type %u, %u files, %" PRIu64 " bytes",
		 t->id, r->pub.id, r->pub.type, r->pub.nr_files, r->bytes);
	pthread_mutex_unlock(&t->lock);
	return 0;
}

int ar__res_unregister(struct ar_tenant *t, uint32_t session, uint64_t id, char *why,
		       size_t cap)
{
	struct ar_session *s;
	int ret = -ENOENT;

	pthread_mutex_lock(&t->lock);
	s = session_locked(t, session);
	for (uint32_t i = 0; s && i < s->nr_res; i++) {
		if (s->res[i]->pub.id != id)
			continue;
		struct ar_res *r = s->res[i];

		s->res[i] = s->res[--s->nr_res];
		unlink_locked(t, r);
		ret = 0;
		break;
	}
	pthread_mutex_unlock(&t->lock);
	if (!s) {
		snprintf(why, cap, "session %u is not one of tenant %u's", session, t->id);
		return -EPERM;
	}
	if (ret)
		snprintf(why, cap, "resource %" PRIu64 " is not registered with session %u",
			 id, session);
	return ret;
}

struct ar_res *ar__res_get(struct ar_tenant *t, uint32_t session, uint64_t id,
			   char *why, size_t cap)
{
	struct ar_res *r = NULL;
	struct ar_session *s;

	pthread_mutex_lock(&t->lock);
	s = session_locked(t, session);
	for (uint32_t i = 0; s && i < s->nr_res; i++) {
		if (s->res[i]->pub.id == id) {
			r = s->res[i];
			atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
			break;
		}
	}
	pthread_mutex_unlock(&t->lock);
	if (!r)
		snprintf(why, cap, "resource %" PRIu64 " is not registered with session %u",
			 id, session);
	return r;
}

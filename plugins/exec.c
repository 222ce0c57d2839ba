/* SPDX-License-Identifier: Apache-2.0 */
/*
 * exec - vaccel_exec and vaccel_exec_with_resource: call a function of a
 * host library, with upstream vAccel's calling convention
 *
 *   int fn(struct vaccel_arg *read, size_t nr_read,
 *          struct vaccel_arg *write, size_t nr_write);
 *
 * on the op's arguments (the broker's validated buffers; outputs are
 * written in place). This is host code that a tenant chooses, run inside
 * the broker, so nothing runs that the operator did not list:
 *
 *   exec-allow         "PATH:SYM,SYM...;..." absolute library paths, or a
 *                      directory ending in '/' for every library under it
 *                      (at any depth), each with the symbols a tenant may
 *                      call, '*' for any. Paths are resolved (realpath) at
 *                      init and a requested library is resolved the same
 *                      way, so a symlink inside an allowed directory that
 *                      leads outside it is refused. A listed path that does
 *                      not exist at init is skipped with a warning.
 *   exec-allow-sha256  "HEX64:SYM,...;..." the SHA-256 of LIB resources
 *                      (their file) that exec_with_resource may load.
 *
 * An empty setting turns its op off (-EPERM). A malformed one fails init
 * (-EINVAL). A symbol must be a function defined by the library itself,
 * not one of its dependencies' (dlsym on a handle also searches those:
 * "*" on a library must not open libc's system()).
 *
 * Results: 0 when fn returned 0; fn's non-zero return is -ENOEXEC, as
 * upstream's exec plugin answers VACCEL_ENOEXEC (the code fn returned is in
 * op->why). Refusals: -EPERM (not allowed), -ENOENT (no such library under
 * an allowed path, no such symbol), -EINVAL (not loadable, a resource that
 * is not a single-file LIB), each with its reason in op->why. A missing
 * library that is not under an allowed path is -EPERM, not -ENOENT: a
 * tenant learns nothing about the host's files outside the list.
 *
 * exec handles are cached by resolved path for the plugin's life (a
 * library replaced on disk after its first exec keeps its old code until
 * the broker restarts); exec_with_resource loads and unloads its library
 * around each call, since the resource may go once the op completes.
 */
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <accelring/optable.h>
#include <accelring/plugin.h>
#include <vaccel/arg.h>
#include <vaccel/resource.h>

typedef int (*exec_fn)(struct vaccel_arg *read, size_t nr_read,
		       struct vaccel_arg *write, size_t nr_write);

/* An allowlist entry's symbols: any, or the NUL-separated names in syms. */
struct syms {
	bool any;
	unsigned nr;
	char *syms;
};

/* An exec-allow entry. Invariant: path is realpath()'s, no trailing '/'
 * (but for the root, "/"), or NULL for an entry that did not resolve at
 * init (it allows nothing); conf is the path as configured, for the
 * lexical check of a library that does not exist. */
struct path_entry {
	char *path;
	char *conf;
	bool dir;
	struct syms syms;
};

struct hash_entry {
	uint8_t sha256[32];
	struct syms syms;
};

/* A cached exec library. Written under cache_lock, never removed before
 * fini. */
struct cached {
	char *path;
	void *dl;
};

/* A resource library loaded now by some op: dl, from a file with that
 * hash, held by refs ops. Under res_lock. */
struct res_loaded {
	void *dl;
	uint8_t sha256[32];
	unsigned refs;
};

static const struct ar_plugin_host *host;
/* Written by init, read-only while ops run. */
static struct path_entry *paths;
static unsigned nr_paths, nr_live;	/* entries, those that resolved */
static struct hash_entry *hashes;
static unsigned nr_hashes;

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cached *cache;
static unsigned nr_cache, cap_cache;

static pthread_mutex_t res_lock = PTHREAD_MUTEX_INITIALIZER;
static struct res_loaded *res;
static unsigned nr_res, cap_res;

#define LOG(level, ...)                                                    \
	do {                                                               \
		if (host && host->log && host->log_level >= (level))       \
			host->log((level), "[exec] " __VA_ARGS__);         \
	} while (0)

/* Refuse op with err, saying why (to the client, and in the debug log). */
__attribute__((format(printf, 3, 4)))
static int refuse(struct ar_op *op, int err, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (op->why && op->why_cap)
		snprintf(op->why, op->why_cap, "%s", buf);
	LOG(AR_LOG_DEBUG, "session %u: refused (%s): %s", op->session,
	    strerror(-err), buf);
	return err;
}

static void hex(const uint8_t *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}

static int unhex(const char *s, size_t len, uint8_t *out, size_t n)
{
	if (len != 2 * n)
		return -EINVAL;
	for (size_t i = 0; i < 2 * n; i++) {
		int c = s[i], v;

		if (c >= '0' && c <= '9')
			v = c - '0';
		else if (c >= 'a' && c <= 'f')
			v = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v = c - 'A' + 10;
		else
			return -EINVAL;
		if (i % 2)
			out[i / 2] |= (uint8_t)v;
		else
			out[i / 2] = (uint8_t)(v << 4);
	}
	return 0;
}

/* ---- the settings ---- */

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		*--e = '\0';
	return s;
}

/* Parse "SYM,SYM..." (or "*"): 0, or -EINVAL for an empty list or an
 * empty or blank name. */
static int parse_syms(char *list, struct syms *out)
{
	char *save = NULL, *tok, *w;
	size_t len;

	memset(out, 0, sizeof(*out));
	list = trim(list);
	if (!*list)
		return -EINVAL;
	/* Every name, then its NUL, fits in the list's own length. */
	len = strlen(list);
	out->syms = w = malloc(len + 1);
	if (!out->syms)
		return -ENOMEM;
	/* strtok_r would skip an empty name ("a,,b"): refuse one here. */
	for (const char *c = list; *c; c++)
		if (*c == ',' && (c == list || c[1] == ',' || !c[1]))
			return -EINVAL;
	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		tok = trim(tok);
		if (!*tok || strpbrk(tok, " \t"))
			return -EINVAL;
		if (!strcmp(tok, "*")) {
			out->any = true;
			continue;
		}
		memcpy(w, tok, strlen(tok) + 1);
		w += strlen(tok) + 1;
		out->nr++;
	}
	return 0;
}

static bool syms_allow(const struct syms *s, const char *sym)
{
	const char *p = s->syms;

	if (s->any)
		return true;
	for (unsigned i = 0; i < s->nr; i++, p += strlen(p) + 1)
		if (!strcmp(p, sym))
			return true;
	return false;
}

/* Split "KEY:SYMS" at its last ':' (a path may hold one, a symbol not). */
static int split_entry(char *e, char **key, char **syms)
{
	char *colon = strrchr(e, ':');

	if (!colon)
		return -EINVAL;
	*colon = '\0';
	*key = trim(e);
	*syms = colon + 1;
	return 0;
}

/* One exec-allow entry: 0 (added, or skipped with a warning), or -errno. */
static int add_path(char *e)
{
	struct path_entry p = { 0 };
	char real[PATH_MAX], *key, *list;
	struct stat st;
	size_t n;
	int ret;

	if (split_entry(e, &key, &list) || key[0] != '/') {
		LOG(AR_LOG_ERROR, "exec-allow: entry '%s': want an absolute PATH:SYMBOL,... "
		    "(or PATH/:SYMBOL,... for a directory)", e);
		return -EINVAL;
	}
	ret = parse_syms(list, &p.syms);
	if (ret) {
		LOG(AR_LOG_ERROR, "exec-allow: entry '%s': %s", key,
		    ret == -EINVAL ? "empty or bad symbol list (SYMBOL,SYMBOL... or *)" :
				     strerror(-ret));
		free(p.syms.syms);
		return ret;
	}
	n = strlen(key);
	p.dir = key[n - 1] == '/';
	p.conf = strdup(key);
	if (!p.conf) {
		free(p.syms.syms);
		return -ENOMEM;
	}
	if (!realpath(key, real) || stat(real, &st)) {
		LOG(AR_LOG_WARN, "exec-allow: %s: %s: skipped", key, strerror(errno));
	} else if (p.dir != !!S_ISDIR(st.st_mode)) {
		LOG(AR_LOG_WARN, "exec-allow: %s: %s: skipped", key,
		    p.dir ? "not a directory" :
			    "a directory (end it with '/' to allow the libraries under it)");
	} else if (!(p.path = strdup(real))) {
		free(p.conf);
		free(p.syms.syms);
		return -ENOMEM;
	} else {
		nr_live++;
		LOG(AR_LOG_INFO, "exec-allow: %s%s%s", real,
		    p.dir && strcmp(real, "/") ? "/" : "",
		    p.dir ? " (every library under it)" : "");
	}
	paths[nr_paths++] = p;
	return 0;
}

static int add_hash(char *e)
{
	struct hash_entry h = { 0 };
	char *key, *list;
	int ret;

	if (split_entry(e, &key, &list) || unhex(key, strlen(key), h.sha256, 32)) {
		LOG(AR_LOG_ERROR, "exec-allow-sha256: entry '%s': want SHA256:SYMBOL,... "
		    "(64 hex digits)", e);
		return -EINVAL;
	}
	ret = parse_syms(list, &h.syms);
	if (ret) {
		LOG(AR_LOG_ERROR, "exec-allow-sha256: entry '%s': %s", key,
		    ret == -EINVAL ? "empty or bad symbol list (SYMBOL,SYMBOL... or *)" :
				     strerror(-ret));
		free(h.syms.syms);
		return ret;
	}
	hashes[nr_hashes++] = h;
	return 0;
}

/* How many entries a ';'-separated setting may hold (its blank ones
 * too): the size of its table. */
static size_t nr_entries(const char *val)
{
	size_t n = 1;

	for (const char *c = val; *c; c++)
		n += *c == ';';
	return n;
}

/* Parse a ';'-separated setting with add() per non-blank entry. */
static int parse_list(const char *val, int (*add)(char *))
{
	char *copy = strdup(val), *save = NULL, *e;
	int ret = 0;

	if (!copy)
		return -ENOMEM;
	for (e = strtok_r(copy, ";", &save); e && !ret; e = strtok_r(NULL, ";", &save)) {
		e = trim(e);
		if (*e)
			ret = add(e);
	}
	free(copy);
	return ret;
}

static const char *setting(const char *key)
{
	const char *v;

	/* A host older than settings has none: exec stays off. */
	if (!host || host->size < offsetof(struct ar_plugin_host, setting) +
					  sizeof(host->setting) ||
	    !host->setting)
		return "";
	v = host->setting(key);
	return v ? v : "";
}

static void free_syms(struct syms *s)
{
	free(s->syms);
	s->syms = NULL;
}

static void exec_fini(void)
{
	for (unsigned i = 0; i < nr_cache; i++) {
		dlclose(cache[i].dl);
		free(cache[i].path);
	}
	free(cache);
	cache = NULL;
	nr_cache = cap_cache = 0;
	/* No op runs now: nothing of a resource's is loaded. */
	free(res);
	res = NULL;
	nr_res = cap_res = 0;
	for (unsigned i = 0; i < nr_paths; i++) {
		free(paths[i].path);
		free(paths[i].conf);
		free_syms(&paths[i].syms);
	}
	free(paths);
	paths = NULL;
	nr_paths = nr_live = 0;
	for (unsigned i = 0; i < nr_hashes; i++)
		free_syms(&hashes[i].syms);
	free(hashes);
	hashes = NULL;
	nr_hashes = 0;
}

static int exec_init(const struct ar_plugin_host *h)
{
	const char *allow, *allow_sha;
	int ret;

	host = h;
	allow = setting("exec-allow");
	allow_sha = setting("exec-allow-sha256");
	paths = calloc(nr_entries(allow), sizeof(*paths));
	hashes = calloc(nr_entries(allow_sha), sizeof(*hashes));
	ret = paths && hashes ? parse_list(allow, add_path) : -ENOMEM;
	if (!ret)
		ret = parse_list(allow_sha, add_hash);
	if (ret) {
		exec_fini();
		return ret;
	}
	if (!*allow)
		LOG(AR_LOG_INFO, "exec is off: exec-allow is empty");
	else if (!nr_live)
		LOG(AR_LOG_WARN, "exec-allow lists nothing that exists: exec refuses every library");
	if (!*allow_sha)
		LOG(AR_LOG_INFO, "exec_with_resource is off: exec-allow-sha256 is empty");
	else
		LOG(AR_LOG_INFO, "exec-allow-sha256: %u hashes", nr_hashes);
	return 0;
}

/* ---- running a function ---- */

/* Whether path (resolved) is dir or under it. */
static bool under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (!strcmp(dir, "/"))
		return true;
	return !strncmp(path, dir, n) && path[n] == '/';
}

/* Whether lib, which does not resolve, names entry e or a file under it,
 * as written (configured, or resolved at init). */
static bool lexically_listed(const char *lib, const struct path_entry *e)
{
	if (!e->dir)
		return !strcmp(lib, e->conf) || (e->path && !strcmp(lib, e->path));
	return !strncmp(lib, e->conf, strlen(e->conf)) || (e->path && under(lib, e->path));
}

/* Whether a path holds a "." or ".." component. */
static bool has_dot_component(const char *p)
{
	for (const char *c = p; *c; c++) {
		if (*c != '.' || (c != p && c[-1] != '/'))
			continue;
		if (c[1] == '/' || !c[1] || (c[1] == '.' && (c[2] == '/' || !c[2])))
			return true;
	}
	return false;
}

/* sym, from dl, if dl itself defines it as a function (not a dependency
 * of dl, not data). */
static exec_fn lookup(void *dl, const char *sym)
{
	struct link_map *lm = NULL, *slm = NULL;
	const ElfW(Sym) *es = NULL;
	Dl_info info;
	void *p;

	dlerror();
	p = dlsym(dl, sym);
	if (!p || dlinfo(dl, RTLD_DI_LINKMAP, &lm) ||
	    !dladdr1(p, &info, (void **)&slm, RTLD_DL_LINKMAP) || slm != lm ||
	    !dladdr1(p, &info, (void **)&es, RTLD_DL_SYMENT) || !es)
		return NULL;
	if (ELF64_ST_TYPE(es->st_info) != STT_FUNC &&
	    ELF64_ST_TYPE(es->st_info) != STT_GNU_IFUNC)
		return NULL;
	return (exec_fn)p;
}

/* Call fn on the op's arguments: 0, or -ENOEXEC with fn's code in why. */
static int call(struct ar_op *op, exec_fn fn, const char *lib)
{
	struct ar_op_generic *g = &op->u.generic;
	struct vaccel_arg rd[AR_OP_ARGS], wr[AR_OP_ARGS];
	int ret;

	if (g->nr_read > AR_OP_ARGS || g->nr_write > AR_OP_ARGS)
		return refuse(op, -EINVAL, "more than %u arguments", AR_OP_ARGS);
	for (uint32_t i = 0; i < g->nr_read; i++)
		rd[i] = (struct vaccel_arg){ .buf = g->read[i].ptr,
					     .size = (size_t)g->read[i].len,
					     .type = (vaccel_arg_type_t)g->read[i].type,
					     .custom_type_id = g->read[i].custom_id };
	for (uint32_t i = 0; i < g->nr_write; i++)
		wr[i] = (struct vaccel_arg){ .buf = g->write[i].ptr,
					     .size = (size_t)g->write[i].len,
					     .type = (vaccel_arg_type_t)g->write[i].type,
					     .custom_type_id = g->write[i].custom_id };
	LOG(AR_LOG_DEBUG, "session %u: %s %s(%u read, %u write)", op->session, lib,
	    g->symbol, g->nr_read, g->nr_write);
	ret = fn(rd, g->nr_read, wr, g->nr_write);
	LOG(AR_LOG_DEBUG, "session %u: %s %s returned %d", op->session, lib, g->symbol, ret);
	/* The outputs were written in place: each keeps its len. */
	if (ret)
		return refuse(op, -ENOEXEC, "%s in %s returned %d", g->symbol, lib, ret);
	return 0;
}

/* The cached handle of a resolved, allowed path, loading it once:
 * 0, or -EINVAL (with dlerror() in why) if it does not load. */
static int cached_open(struct ar_op *op, const char *path, void **dl)
{
	int ret = 0;

	pthread_mutex_lock(&cache_lock);
	for (unsigned i = 0; i < nr_cache; i++) {
		if (!strcmp(cache[i].path, path)) {
			*dl = cache[i].dl;
			goto out;
		}
	}
	if (nr_cache == cap_cache) {
		unsigned cap = cap_cache ? cap_cache * 2 : 8;
		struct cached *c = realloc(cache, cap * sizeof(*c));

		if (!c) {
			ret = -ENOMEM;
			goto out;
		}
		cache = c;
		cap_cache = cap;
	}
	/* dlopen under the lock: two threads never load the same library
	 * twice, and the first exec of each is rare. */
	*dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!*dl) {
		ret = refuse(op, -EINVAL, "%s: cannot load: %s", path, dlerror());
		goto out;
	}
	cache[nr_cache].path = strdup(path);
	if (!cache[nr_cache].path) {
		dlclose(*dl);
		ret = -ENOMEM;
		goto out;
	}
	cache[nr_cache++].dl = *dl;
	LOG(AR_LOG_DEBUG, "loaded %s", path);
out:
	pthread_mutex_unlock(&cache_lock);
	return ret;
}

static int exec_exec(struct ar_op *op)
{
	const char *lib = op->u.generic.library, *sym = op->u.generic.symbol;
	char real[PATH_MAX];
	bool listed = false, allowed = false;
	struct stat st;
	exec_fn fn;
	void *dl;
	int ret;

	if (!lib || !sym)
		return refuse(op, -EINVAL, "exec needs a library and a symbol");
	if (!nr_live)
		return refuse(op, -EPERM, *setting("exec-allow") ?
			      "exec is off: none of exec-allow's paths exists" :
			      "exec is off: exec-allow is empty");
	if (lib[0] != '/')
		return refuse(op, -EPERM, "%s: not an absolute path", lib);
	if (has_dot_component(lib))
		return refuse(op, -EPERM, "%s: a '.' or '..' component", lib);
	if (!realpath(lib, real)) {
		int err = errno;

		/* ENOENT only where the list would allow it: no probing of
		 * the host's files. */
		for (unsigned i = 0; i < nr_paths; i++)
			if (lexically_listed(lib, &paths[i]))
				return refuse(op, err == ENOENT ? -ENOENT : -EPERM,
					      "%s: %s", lib, strerror(err));
		return refuse(op, -EPERM, "%s: not on exec-allow", lib);
	}
	for (unsigned i = 0; i < nr_paths; i++) {
		if (!paths[i].path ||
		    (paths[i].dir ? !under(real, paths[i].path) : strcmp(real, paths[i].path)))
			continue;
		listed = true;
		if (syms_allow(&paths[i].syms, sym)) {
			allowed = true;
			break;
		}
	}
	if (!listed)
		return refuse(op, -EPERM, "%s%s%s: not on exec-allow", lib,
			      strcmp(lib, real) ? " -> " : "", strcmp(lib, real) ? real : "");
	if (!allowed)
		return refuse(op, -EPERM, "%s: symbol %s is not on exec-allow for it", lib, sym);
	if (stat(real, &st) || !S_ISREG(st.st_mode))
		return refuse(op, -EPERM, "%s: not a regular file", lib);
	ret = cached_open(op, real, &dl);
	if (ret)
		return ret;
	fn = lookup(dl, sym);
	if (!fn)
		return refuse(op, -ENOENT, "%s: no function %s", lib, sym);
	return call(op, fn, real);
}

/* Load a resource's library, refusing a stale object of the same name:
 * glibc matches dlopen's name against the names of loaded objects first,
 * so "/proc/self/fd/N" would return a library an earlier resource on fd N
 * left loaded (one marked NODELETE, or with unique symbols) instead of
 * this one. Every such load is in res[] with its hash while an op holds
 * it; a loaded object of that name not in res[] is stale. */
static int res_open(struct ar_op *op, const struct ar_resource_file *f, void **dl)
{
	struct res_loaded *r = NULL;
	int ret = 0;

	pthread_mutex_lock(&res_lock);
	*dl = dlopen(f->path, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
	if (*dl) {
		for (unsigned i = 0; i < nr_res && !r; i++)
			if (res[i].dl == *dl && !memcmp(res[i].sha256, f->sha256, 32))
				r = &res[i];
		if (!r) {
			dlclose(*dl);
			ret = refuse(op, -EBUSY, "%s: another library of that name stays loaded",
				     f->path);
			goto out;
		}
		r->refs++;
		goto out;
	}
	if (nr_res == cap_res) {
		unsigned cap = cap_res ? cap_res * 2 : 8;
		struct res_loaded *n = realloc(res, cap * sizeof(*n));

		if (!n) {
			ret = -ENOMEM;
			goto out;
		}
		res = n;
		cap_res = cap;
	}
	*dl = dlopen(f->path, RTLD_NOW | RTLD_LOCAL);
	if (!*dl) {
		ret = refuse(op, -EINVAL, "resource %s (%s): cannot load: %s",
			     f->name ? f->name : "?", f->path, dlerror());
		goto out;
	}
	res[nr_res].dl = *dl;
	memcpy(res[nr_res].sha256, f->sha256, 32);
	res[nr_res++].refs = 1;
out:
	pthread_mutex_unlock(&res_lock);
	return ret;
}

static void res_close(const struct ar_resource_file *f, void *dl)
{
	void *still;

	pthread_mutex_lock(&res_lock);
	for (unsigned i = 0; i < nr_res; i++) {
		if (res[i].dl != dl)
			continue;
		if (--res[i].refs == 0)
			res[i] = res[--nr_res];
		break;
	}
	dlclose(dl);
	still = dlopen(f->path, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
	if (still) {
		bool ours = false;

		for (unsigned i = 0; i < nr_res; i++)
			ours |= res[i].dl == still;
		dlclose(still);
		if (!ours)
			LOG(AR_LOG_WARN, "resource %s (%s) stays loaded after dlclose "
			    "(NODELETE?): exec_with_resource refuses that path from now on",
			    f->name ? f->name : "?", f->path);
	}
	pthread_mutex_unlock(&res_lock);
}

static int exec_with_resource(struct ar_op *op)
{
	const struct ar_resource *r = op->u.generic.resource;
	const char *sym = op->u.generic.symbol;
	const struct ar_resource_file *f;
	const struct hash_entry *h = NULL;
	char digest[65];
	exec_fn fn;
	void *dl;
	int ret;

	if (!r || !sym)
		return refuse(op, -EINVAL, "exec_with_resource needs a resource and a symbol");
	if (r->type != VACCEL_RESOURCE_LIB)
		return refuse(op, -EINVAL, "resource %llu: type %u, not a library (LIB)",
			      (unsigned long long)r->id, r->type);
	if (!r->nr_files || !r->files)
		return refuse(op, -EINVAL, "resource %llu: no file", (unsigned long long)r->id);
	f = &r->files[0];
	if (!f->path)
		return refuse(op, -EINVAL, "resource %llu: its library is not a whole file "
			      "(register it alone)", (unsigned long long)r->id);
	hex(f->sha256, 32, digest);
	if (!nr_hashes)
		return refuse(op, -EPERM, "exec_with_resource is off: exec-allow-sha256 is "
			      "empty (this library: %s)", digest);
	for (unsigned i = 0; i < nr_hashes && !h; i++)
		if (!memcmp(hashes[i].sha256, f->sha256, 32))
			h = &hashes[i];
	if (!h)
		return refuse(op, -EPERM, "library sha256 %s is not on exec-allow-sha256", digest);
	if (!syms_allow(&h->syms, sym))
		return refuse(op, -EPERM, "symbol %s is not on exec-allow-sha256 for %s", sym,
			      digest);
	ret = res_open(op, f, &dl);
	if (ret)
		return ret;
	fn = lookup(dl, sym);
	if (fn)
		ret = call(op, fn, digest);
	else
		ret = refuse(op, -ENOENT, "library %s: no function %s", digest, sym);
	res_close(f, dl);
	return ret;
}

static const struct ar_plugin_op exec_ops[] = {
	{ AR_OP_EXEC, exec_exec },
	{ AR_OP_EXEC_WITH_RESOURCE, exec_with_resource },
};

AR_PLUGIN(.name = "exec", .version = "1.0",
	  .type = AR_PLUGIN_CPU | AR_PLUGIN_SOFTWARE | AR_PLUGIN_GENERIC,
	  .nr_ops = sizeof(exec_ops) / sizeof(exec_ops[0]), .ops = exec_ops,
	  .init = exec_init, .fini = exec_fini);

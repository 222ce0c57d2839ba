/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Plugin loading and op routing.
 *
 * A plugin's descriptor is read in two steps: first abi_version and size,
 * which every version of struct ar_plugin starts with, and only if they
 * match the rest. A refused plugin gets a message that says what it was
 * built for; nothing of a failed load stays loaded. A shared object with
 * no ar_plugin but a vaccel_plugin symbol is a plugin written for upstream
 * vAccel: vplugin.c loads it and runs its ops through adapters.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

static int resolve(const char *name, const char *dir, char *path, size_t cap)
{
	int n;

	if (strchr(name, '/'))
		n = snprintf(path, cap, "%s", name);
	else
		n = snprintf(path, cap, "%s/libaccelring-%s.so", dir, name);
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

/* An accelring plugin's descriptor: its ABI first, then the rest. */
static int open_native(struct ar_loaded_plugin *lp, const char *name,
		       const struct ar_plugin *d)
{
	if (d->abi_version != AR_PLUGIN_ABI_VERSION ||
	    d->size != sizeof(struct ar_plugin)) {
		ar_err("plugin %s (%s): built for plugin ABI %u (descriptor %u bytes); "
		       "this broker speaks ABI %u (%zu bytes): rebuild the plugin",
		       name, lp->path, d->abi_version, d->size,
		       AR_PLUGIN_ABI_VERSION, sizeof(struct ar_plugin));
		return -EPROTONOSUPPORT;
	}
	if (!d->name || !d->version || (d->nr_ops && !d->ops)) {
		ar_err("plugin %s (%s): descriptor lacks a name, version or op table",
		       name, lp->path);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < d->nr_ops; i++) {
		if (d->ops[i].op >= AR_OP_MAX || !d->ops[i].fn) {
			ar_err("plugin %s (%s): op table entry %u names unknown op %u",
			       name, lp->path, i, d->ops[i].op);
			return -EINVAL;
		}
	}
	lp->desc = d;
	return 0;
}

static int init_native(struct ar_loaded_plugin *lp, const char *name,
		       const struct ar_plugin_host *host)
{
	int ret;

	if (lp->desc->init && (ret = lp->desc->init(host)) != 0) {
		ar_err("plugin %s (%s): init failed: %s", name, lp->path,
		       strerror(ret < 0 ? -ret : ret));
		return ret < 0 ? ret : -ret;
	}
	return 0;
}

/* Earlier plugins win (vAccel's order): lp's entry goes last. */
static void add_route(struct ar_plugins *ps, const struct ar_loaded_plugin *lp,
		      uint32_t op, int (*fn)(struct ar_op *op),
		      const struct ar_vop *vop, uint32_t *shadowed,
		      const char **first)
{
	if (ps->nr_routes[op]) {
		(*shadowed)++;
		*first = ps->routes[op][0].plugin->desc->name;
	}
	ps->routes[op][ps->nr_routes[op]++] =
		(struct ar_route){ .plugin = lp, .fn = fn, .vop = vop };
}

static void close_one(struct ar_loaded_plugin *lp)
{
	if (lp->iso) {
		ar__iso_close(lp);
		return;
	}
	if (lp->vp)
		ar__vplugin_close(lp);
	dlclose(lp->dl);
	lp->dl = NULL;
	lp->desc = NULL;
}

static int load_one(struct ar_plugins *ps, const char *name, const char *dir,
		    const struct ar_plugin_host *host)
{
	struct ar_loaded_plugin *lp = &ps->p[ps->nr];
	const struct ar_plugin *d;
	const char *first = NULL;	/* who takes a shadowed op */
	uint32_t shadowed = 0, nr_ops = 0;
	const void *vsym;
	int ret, mode;

	if (ps->nr == AR_MAX_PLUGINS) {
		ar_err("plugin %s: more than %u plugins", name, AR_MAX_PLUGINS);
		return -E2BIG;
	}
	if (resolve(name, dir, lp->path, sizeof(lp->path))) {
		ar_err("plugin %s: path too long", name);
		return -ENAMETOOLONG;
	}
	if (access(lp->path, F_OK)) {
		if (strchr(name, '/'))
			ar_err("plugin %s: cannot load: %s", name, strerror(errno));
		else
			ar_err("plugin %s: cannot load: no %s (plugin-dir is %s): point --plugin-dir "
			       "at the directory that holds libaccelring-%s.so, or list "
			       "the plugin by its path", name, lp->path, dir, name);
		return -ENOENT;
	}
	lp->vp = NULL;
	lp->desc = NULL;
	lp->iso = NULL;
	lp->dl = NULL;
	mode = ar__iso_cfg ? ar__iso_mode(ar__iso_cfg, name) : AR_ISO_NONE;
	if (mode != AR_ISO_NONE) {
		/* Never loaded here: its host loads it and says what it is. */
		if ((ret = ar__iso_open(lp, name, mode)))
			return ret;
		d = lp->desc;
		goto loaded;
	}
	/* RTLD_LOCAL: plugins do not see each other's symbols. RTLD_NOW: a
	 * vAccel plugin's vaccel_plugin_register_ops binds to the broker's
	 * here, or the load fails (vplugin.c). */
	lp->dl = dlopen(lp->path, RTLD_NOW | RTLD_LOCAL);
	if (!lp->dl) {
		ar_err("plugin %s: cannot load: %s", name, dlerror());
		return -ENOENT;
	}
	d = dlsym(lp->dl, AR_PLUGIN_SYMBOL);
	if (d) {
		ret = open_native(lp, name, d);
	} else if ((vsym = dlsym(lp->dl, "vaccel_plugin"))) {
		ret = ar__vplugin_open(lp, name, vsym);
	} else {
		ar_err("plugin %s (%s): no '%s' or 'vaccel_plugin' symbol: "
		       "not an accelring or vAccel plugin",
		       name, lp->path, AR_PLUGIN_SYMBOL);
		ret = -ENOEXEC;
	}
	if (ret)
		goto err_close;
	d = lp->desc;
loaded:
	for (unsigned i = 0; i < ps->nr; i++) {
		if (!strcmp(ps->p[i].desc->name, d->name)) {
			ar_err("plugin %s (%s): a plugin named '%s' is already loaded",
			       name, lp->path, d->name);
			ret = -EEXIST;
			goto err_close;
		}
	}
	ret = lp->iso ? 0 : lp->vp ? ar__vplugin_init(lp) : init_native(lp, name, host);
	if (ret)
		goto err_close;
	ps->nr++;

	if (lp->vp) {
		for (uint32_t op = 0; op < AR_OP_MAX; op++) {
			const struct ar_vop *vop = ar__vplugin_served(lp, op);

			if (vop) {
				add_route(ps, lp, op, NULL, vop, &shadowed, &first);
				nr_ops++;
			}
		}
	} else {
		for (uint32_t i = 0; i < d->nr_ops; i++)
			add_route(ps, lp, d->ops[i].op, d->ops[i].fn, NULL,
				  &shadowed, &first);
		nr_ops = d->nr_ops;
	}
	/* A plugin none of whose ops it will serve is a mistake in the
	 * list: the noop plugin, which implements every op, listed before
	 * blas would answer sgemm with success and C untouched. */
	if (nr_ops && shadowed == nr_ops)
		ar_warn("plugin %s serves none of its %u ops: %s, listed before it, takes them; "
			"list %s first", d->name, nr_ops, first, d->name);
	ar_info("loaded %splugin %s %s from %s (%u ops)%s", lp->vp ? "vAccel " : "",
		d->name, d->version, lp->path, nr_ops,
		lp->iso ? ar__iso_per_tenant(lp->iso) ? ", in a host process per tenant" :
		", in a host process of its own" : "");
	return 0;
err_close:
	close_one(lp);
	return ret;
}

/*
 * The ops this project's plugins compute for real, and which plugin: noop
 * answers them with success and dummy outputs (upstream's noop does), so
 * a broker where noop takes one of them must say so at start.
 */
static const struct {
	uint32_t op;
	const char *plugin;
} real_ops[] = {
	{ AR_OP_BLAS_SGEMM, "blas" },
	{ AR_OP_IMAGE_CLASSIFY, "torch" },
	{ AR_OP_TORCH_MODEL_LOAD, "torch" },
	{ AR_OP_TORCH_MODEL_RUN, "torch" },
};

static void warn_dummies(const struct ar_plugins *ps)
{
	char by[2][256];
	const char *who[2] = { "blas", "torch" };
	bool any = false;

	for (int k = 0; k < 2; k++) {
		size_t n = 0;

		by[k][0] = '\0';
		for (size_t i = 0; i < sizeof(real_ops) / sizeof(real_ops[0]); i++) {
			uint32_t op = real_ops[i].op;

			if (strcmp(real_ops[i].plugin, who[k]) || !ps->nr_routes[op] ||
			    strcmp(ps->routes[op][0].plugin->desc->name, "noop"))
				continue;
			n += (size_t)snprintf(by[k] + n, sizeof(by[k]) - n, "%s%s", n ? ", " : "",
					      ar_op_name(op));
			if (n >= sizeof(by[k]))
				n = sizeof(by[k]) - 1;
			any = true;
		}
	}
	if (!any)
		return;
	ar_warn("plugin noop answers %s%s%s%s%s%s with success and dummy outputs; "
		"real results: list %s%s%s before noop, or leave noop out (it measures "
		"the framework only)",
		by[0], by[0][0] ? " (blas computes it)" : "", by[0][0] && by[1][0] ? ", " : "",
		by[1], by[1][0] ? " (torch serves " : "", by[1][0] ? "them)" : "",
		by[0][0] ? "blas" : "", by[0][0] && by[1][0] ? " and " : "",
		by[1][0] ? "torch" : "");
}

int ar__plugins_load(struct ar_plugins *ps, const char *list,
		     const struct ar_plugin_host *host, const char *dir)
{
	char buf[sizeof(((struct ar_config *)0)->plugins)];
	char *save = NULL, *name;
	int ret = 0;

	memset(ps, 0, sizeof(*ps));
	snprintf(buf, sizeof(buf), "%s", list);
	for (name = strtok_r(buf, ":", &save); name;
	     name = strtok_r(NULL, ":", &save)) {
		if (!*name)
			continue;
		ret = load_one(ps, name, dir, host);
		if (ret) {
			ar__plugins_unload(ps);
			return ret;
		}
	}
	if (!ps->nr)
		ar_warn("no plugins loaded: every op will fail with ENOTSUP");
	warn_dummies(ps);
	return 0;
}

void ar__plugins_unload(struct ar_plugins *ps)
{
	while (ps->nr) {
		struct ar_loaded_plugin *lp = &ps->p[--ps->nr];

		if (!lp->iso && !lp->vp && lp->desc->fini)
			lp->desc->fini();
		close_one(lp);
	}
	memset(ps->nr_routes, 0, sizeof(ps->nr_routes));
}

/*
 * The first plugin implementing op whose type shares a bit with the
 * session's hint flags, else the first implementing it at all (vAccel
 * treats hints as a preference, not a requirement).
 */
const struct ar_route *ar__plugins_route(const struct ar_plugins *ps,
					 uint32_t op, uint32_t flags)
{
	unsigned n;

	if (op >= AR_OP_MAX || !(n = ps->nr_routes[op]))
		return NULL;
	if (flags)
		for (unsigned i = 0; i < n; i++)
			if (ps->routes[op][i].plugin->desc->type & flags)
				return &ps->routes[op][i];
	return &ps->routes[op][0];
}

/*
 * Open the plugin at path and read its descriptor, running nothing of it
 * but its constructors: no init, no host process. f: where to describe
 * it (NULL: only check). Returns 0 or -errno, logged.
 */
static int probe(const char *name, const char *path, FILE *f, const char *listed)
{
	struct ar_loaded_plugin *lp = calloc(1, sizeof(*lp));
	const struct ar_plugin *d;
	const void *vsym;
	int ret;

	if (!lp)
		return -ENOMEM;
	snprintf(lp->path, sizeof(lp->path), "%s", path);
	lp->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!lp->dl) {
		ar_err("plugin %s: cannot load: %s", name, dlerror());
		free(lp);
		return -ENOENT;
	}
	if ((d = dlsym(lp->dl, AR_PLUGIN_SYMBOL))) {
		ret = open_native(lp, name, d);
	} else if ((vsym = dlsym(lp->dl, "vaccel_plugin"))) {
		ret = ar__vplugin_open(lp, name, vsym);
	} else {
		ar_err("plugin %s (%s): no '%s' or 'vaccel_plugin' symbol: "
		       "not an accelring or vAccel plugin", name, path, AR_PLUGIN_SYMBOL);
		ret = -ENOEXEC;
	}
	if (!ret && f) {
		fprintf(f, "%-8s %-8s %s%s%s\n", lp->desc->name, lp->desc->version, path,
			listed ? "  [in plugins: " : "  [not in plugins]", listed ? listed : "");
		if (lp->vp) {
			fprintf(f, "         a vAccel plugin: its ops are registered at init\n");
		} else {
			fprintf(f, "         ops:");
			for (uint32_t i = 0; i < lp->desc->nr_ops; i++)
				fprintf(f, " %s", ar_op_name(lp->desc->ops[i].op));
			fprintf(f, "\n");
		}
	}
	if (lp->vp)
		ar__vplugin_close(lp);
	dlclose(lp->dl);
	free(lp);
	return ret;
}

/* The position of entry name (or path) in the plugins list, as "Nth]". */
static const char *listed_at(const char *list, const char *name, const char *path,
			     char *buf, size_t cap)
{
	const char *p = list;
	unsigned pos = 0;

	while (*p) {
		size_t n = strcspn(p, ":");

		if (n) {
			pos++;
			if ((strlen(name) == n && !strncmp(p, name, n)) ||
			    (strlen(path) == n && !strncmp(p, path, n))) {
				snprintf(buf, cap, "%u%s]", pos,
					 pos == 1 ? "st" : pos == 2 ? "nd" : pos == 3 ? "rd" : "th");
				return buf;
			}
		}
		p += n;
		if (*p)
			p++;
	}
	return NULL;
}

int ar__plugins_check(const struct ar_config *cfg)
{
	char buf[sizeof(cfg->plugins)], path[PATH_MAX];
	char *save = NULL, *name;
	int ret = 0;

	snprintf(buf, sizeof(buf), "%s", cfg->plugins);
	for (name = strtok_r(buf, ":", &save); name; name = strtok_r(NULL, ":", &save)) {
		if (resolve(name, cfg->plugin_dir, path, sizeof(path))) {
			ar_err("plugin %s: path too long", name);
			ret = -ENAMETOOLONG;
		} else if (probe(name, path, NULL, NULL)) {
			ret = -EINVAL;
		}
	}
	return ret;
}

int ar__plugins_list(const struct ar_config *cfg, FILE *f)
{
	char buf[sizeof(cfg->plugins)], path[PATH_MAX], pos[16];
	struct dirent **ents = NULL;
	char *save = NULL, *entry;
	int n, ret = 0;

	fprintf(f, "plugin-dir %s\nplugins    %s\n\n", cfg->plugin_dir, cfg->plugins);
	n = scandir(cfg->plugin_dir, &ents, NULL, alphasort);
	if (n < 0) {
		ar_err("plugin-dir %s: %s", cfg->plugin_dir, strerror(errno));
		ret = -errno;
		n = 0;
	}
	for (int i = 0; i < n; i++) {
		const char *e = ents[i]->d_name;
		size_t len = strlen(e);
		char name[256];

		if (len > 16 && !strncmp(e, "libaccelring-", 13) && !strcmp(e + len - 3, ".so")) {
			snprintf(name, sizeof(name), "%.*s", (int)(len - 16), e + 13);
			if (resolve(name, cfg->plugin_dir, path, sizeof(path)))
				continue;
			if (probe(name, path, f, listed_at(cfg->plugins, name, path, pos,
							    sizeof(pos))))
				ret = -EINVAL;
		}
		free(ents[i]);
	}
	free(ents);
	/* Entries of plugins that are paths outside plugin-dir, or names
	 * plugin-dir does not hold. */
	snprintf(buf, sizeof(buf), "%s", cfg->plugins);
	for (entry = strtok_r(buf, ":", &save); entry; entry = strtok_r(NULL, ":", &save)) {
		if (resolve(entry, cfg->plugin_dir, path, sizeof(path)))
			continue;
		if (!strchr(entry, '/') && access(path, F_OK) == 0)
			continue;	/* listed above */
		if (access(path, F_OK)) {
			fprintf(f, "%-8s %-8s %s  [in plugins: %s; no such file]\n", entry, "-",
				path, listed_at(cfg->plugins, entry, path, pos, sizeof(pos)));
			ret = -ENOENT;
		} else if (probe(entry, path, f, listed_at(cfg->plugins, entry, path, pos,
							 sizeof(pos)))) {
			ret = -EINVAL;
		}
	}
	return ret;
}

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
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
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

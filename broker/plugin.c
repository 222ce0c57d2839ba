/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Plugin loading and op routing.
 *
 * A plugin's descriptor is read in two steps: first abi_version and size,
 * which every version of struct ar_plugin starts with, and only if they
 * match the rest. A refused plugin gets a message that says what it was
 * built for; nothing of a failed load stays loaded.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

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

static int load_one(struct ar_plugins *ps, const char *name, const char *dir,
		    const struct ar_plugin_host *host)
{
	struct ar_loaded_plugin *lp = &ps->p[ps->nr];
	const struct ar_plugin *d;
	const char *first = NULL;	/* who takes a shadowed op */
	uint32_t shadowed = 0;
	int ret;

	if (ps->nr == AR_MAX_PLUGINS) {
		ar_err("plugin %s: more than %u plugins", name, AR_MAX_PLUGINS);
		return -E2BIG;
	}
	if (resolve(name, dir, lp->path, sizeof(lp->path))) {
		ar_err("plugin %s: path too long", name);
		return -ENAMETOOLONG;
	}
	/* RTLD_LOCAL: plugins do not see each other's symbols. */
	lp->dl = dlopen(lp->path, RTLD_NOW | RTLD_LOCAL);
	if (!lp->dl) {
		ar_err("plugin %s: cannot load: %s", name, dlerror());
		return -ENOENT;
	}
	d = dlsym(lp->dl, AR_PLUGIN_SYMBOL);
	if (!d) {
		ar_err("plugin %s (%s): no '%s' symbol: not an accelring plugin",
		       name, lp->path, AR_PLUGIN_SYMBOL);
		ret = -ENOEXEC;
		goto err_close;
	}
	if (d->abi_version != AR_PLUGIN_ABI_VERSION ||
	    d->size != sizeof(struct ar_plugin)) {
		ar_err("plugin %s (%s): built for plugin ABI %u (descriptor %u bytes); "
		       "this broker speaks ABI %u (%zu bytes): rebuild the plugin",
		       name, lp->path, d->abi_version, d->size,
		       AR_PLUGIN_ABI_VERSION, sizeof(struct ar_plugin));
		ret = -EPROTONOSUPPORT;
		goto err_close;
	}
	if (!d->name || !d->version || (d->nr_ops && !d->ops)) {
		ar_err("plugin %s (%s): descriptor lacks a name, version or op table",
		       name, lp->path);
		ret = -EINVAL;
		goto err_close;
	}
	for (unsigned i = 0; i < ps->nr; i++) {
		if (!strcmp(ps->p[i].desc->name, d->name)) {
			ar_err("plugin %s (%s): a plugin named '%s' is already loaded",
			       name, lp->path, d->name);
			ret = -EEXIST;
			goto err_close;
		}
	}
	for (uint32_t i = 0; i < d->nr_ops; i++) {
		if (d->ops[i].op >= AR_OP_MAX || !d->ops[i].fn) {
			ar_err("plugin %s (%s): op table entry %u names unknown op %u",
			       name, lp->path, i, d->ops[i].op);
			ret = -EINVAL;
			goto err_close;
		}
	}
	if (d->init && (ret = d->init(host)) != 0) {
		ar_err("plugin %s (%s): init failed: %s", name, lp->path,
		       strerror(ret < 0 ? -ret : ret));
		ret = ret < 0 ? ret : -ret;
		goto err_close;
	}
	lp->desc = d;
	ps->nr++;

	for (uint32_t i = 0; i < d->nr_ops; i++) {
		uint32_t op = d->ops[i].op;

		if (ps->nr_routes[op]) {
			shadowed++;
			first = ps->routes[op][0].plugin->desc->name;
		}
		ps->routes[op][ps->nr_routes[op]++] =
			(struct ar_route){ .plugin = lp, .fn = d->ops[i].fn };
	}
	/* Earlier plugins win (vAccel's order). A plugin none of whose ops
	 * it will serve is a mistake in the list: the noop plugin, which
	 * implements every op, listed before blas would answer sgemm with
	 * success and C untouched. */
	if (d->nr_ops && shadowed == d->nr_ops)
		ar_warn("plugin %s serves none of its %u ops: %s, listed before it, takes them; "
			"list %s first", d->name, d->nr_ops, first, d->name);
	ar_info("loaded plugin %s %s from %s (%u ops)", d->name, d->version,
		lp->path, d->nr_ops);
	return 0;
err_close:
	dlclose(lp->dl);
	lp->dl = NULL;
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

		if (lp->desc->fini)
			lp->desc->fini();
		dlclose(lp->dl);
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

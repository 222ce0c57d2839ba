/* SPDX-License-Identifier: Apache-2.0 */
/*
 * <vaccel/plugin.h> - writing plugins
 *
 * accelring's own header for vAccel's public API: names, types, values and
 * layouts as upstream vAccel installs them (tests/vaccel checks them against
 * the reference sheet), implemented by libvaccel.so.0 (libclient/vaccel/).
 */
#ifndef ACCELRING_VACCEL_PLUGIN_H
#define ACCELRING_VACCEL_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "list.h"
#include "op.h"
#include "resource.h"
#include "session.h"
#include "utils/enum.h"

#ifdef __cplusplus
extern "C" {
#endif

#undef _ENUM_PREFIX
#define _ENUM_PREFIX VACCEL_PLUGIN
#define VACCEL_PLUGIN_TYPE_ENUM_LIST(VACCEL_ENUM_ITEM)                       \
	VACCEL_ENUM_ITEM(CPU, 0x0001, _ENUM_PREFIX)                          \
	VACCEL_ENUM_ITEM(GPU, 0x0002, _ENUM_PREFIX)                          \
	VACCEL_ENUM_ITEM(FPGA, 0x0004, _ENUM_PREFIX)                         \
	VACCEL_ENUM_ITEM(SOFTWARE, 0x0008, _ENUM_PREFIX)                     \
	VACCEL_ENUM_ITEM(TENSORFLOW, 0x0010, _ENUM_PREFIX)                   \
	VACCEL_ENUM_ITEM(TORCH, 0x0020, _ENUM_PREFIX)                        \
	VACCEL_ENUM_ITEM(JETSON, 0x0040, _ENUM_PREFIX)                       \
	VACCEL_ENUM_ITEM(GENERIC, 0x0080, _ENUM_PREFIX)                      \
	VACCEL_ENUM_ITEM(DEBUG, 0x0100, _ENUM_PREFIX)                        \
	VACCEL_ENUM_ITEM(REMOTE, 0x4000, _ENUM_PREFIX)                       \
	VACCEL_ENUM_ITEM(ALL, 0xffff, _ENUM_PREFIX)

/* vaccel_plugin_type_t: plugin kinds, also the session hint flags. */
VACCEL_ENUM_DEF_WITH_STR_FUNCS(vaccel_plugin_type, _ENUM_PREFIX,
			       VACCEL_PLUGIN_TYPE_ENUM_LIST)
/* Left defined, as upstream leaves it. */

/* A plugin, as VACCEL_PLUGIN() defines it: accelringd loads it and calls
 * info->init, which registers its ops (vaccel_plugin_register_ops). */
struct vaccel_plugin {
	void *dl_handle;
	struct vaccel_list_entry entry;
	struct vaccel_op *ops[VACCEL_OP_MAX];
	struct vaccel_plugin_info *info;
};

struct vaccel_plugin_info {
	const char *name;
	const char *version;
	const char *vaccel_version;
	int (*init)(void);
	int (*fini)(void);
	bool is_virtio;
	vaccel_plugin_type_t type;
	int (*session_init)(struct vaccel_session *, uint32_t);
	int (*session_release)(struct vaccel_session *);
	int (*session_update)(struct vaccel_session *, uint32_t);
	int (*resource_register)(struct vaccel_resource *, struct vaccel_session *);
	int (*resource_unregister)(struct vaccel_resource *, struct vaccel_session *);
	int (*resource_sync)(struct vaccel_resource *, struct vaccel_session *);
};

/*
 * Define the plugin being built:
 *   VACCEL_PLUGIN(.name = "x", .version = "1", .vaccel_version = VACCEL_VERSION,
 *                 .type = VACCEL_PLUGIN_CPU, .init = x_init, .fini = x_fini)
 */
#define VACCEL_PLUGIN(...)                                                   \
	static struct vaccel_plugin_info vaccel__plugin_info = { __VA_ARGS__ }; \
	__attribute__((visibility("hidden"))) struct vaccel_plugin           \
		vaccel_this_plugin = {                                       \
			.dl_handle = NULL,                                   \
			.entry = LIST_ENTRY_INIT(vaccel_this_plugin.entry),  \
			.ops = { NULL },                                     \
			.info = &vaccel__plugin_info,                        \
		};                                                           \
	__attribute__((visibility("default"))) const struct vaccel_plugin    \
		*vaccel_plugin = &vaccel_this_plugin;

/* The older name of VACCEL_PLUGIN. */
#define VACCEL_MODULE(...) VACCEL_PLUGIN(__VA_ARGS__)

int vaccel_plugin_load(const char *lib);

int vaccel_plugin_parse_and_load(const char *lib_str);

int vaccel_plugin_register_ops(struct vaccel_op *ops,
	size_t nr_ops);

static inline int vaccel_plugin_register_op(struct vaccel_op *op)
{
	return vaccel_plugin_register_ops(op, 1);
}

__attribute__((deprecated("use vaccel_plugin_register_op"))) static inline int
register_plugin_function(struct vaccel_op *plugin_op)
{
	return vaccel_plugin_register_op(plugin_op);
}

__attribute__((deprecated("use vaccel_plugin_register_ops"))) static inline int
register_plugin_functions(struct vaccel_op *plugin_ops, size_t nr_ops)
{
	return vaccel_plugin_register_ops(plugin_ops, nr_ops);
}

#ifdef __cplusplus
}
#endif

#endif /* ACCELRING_VACCEL_PLUGIN_H */

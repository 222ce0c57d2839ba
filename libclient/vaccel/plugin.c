/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The plugin-authoring API (<vaccel/plugin.h>) in a client process.
 *
 * Upstream loads plugins into the application; accelring runs them in the
 * broker only (accelringd loads VACCEL_PLUGIN() plugins as it loads its
 * own: broker/vplugin.c), so here every entry point says so and refuses
 * with VACCEL_ENOTSUP. Inside the broker, a plugin's
 * vaccel_plugin_register_ops binds to the broker's definition, which the
 * executable exports ahead of this library's, even when the plugin links
 * -lvaccel.
 */
#include "vaccel_pvt.h"

#define WHY "plugins are loaded by accelringd: add it to the broker's plugins setting"

AR_VISIBLE int vaccel_plugin_register_ops(struct vaccel_op *ops, size_t nr_ops)
{
	if (!ops || !nr_ops) {
		ar__vaccel_log(VACCEL_LOG_ERROR, "No operations defined");
		return VACCEL_EINVAL;
	}
	ar__vaccel_log(VACCEL_LOG_ERROR,
		       "Cannot register %zu plugin operations in this process: " WHY,
		       nr_ops);
	return VACCEL_ENOTSUP;
}

AR_VISIBLE int vaccel_plugin_load(const char *lib)
{
	if (!lib)
		return VACCEL_EINVAL;
	ar__vaccel_log(VACCEL_LOG_ERROR, "Cannot load plugin %s in this process: " WHY,
		       lib);
	return VACCEL_ENOTSUP;
}

AR_VISIBLE int vaccel_plugin_parse_and_load(const char *lib_str)
{
	if (!lib_str)
		return VACCEL_EINVAL;
	ar__vaccel_log(VACCEL_LOG_ERROR, "Cannot load plugins %s in this process: " WHY,
		       lib_str);
	return VACCEL_ENOTSUP;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * <vaccel/config.h> - library configuration
 *
 * accelring's own header for vAccel's public API: names, types, values and
 * layouts as upstream vAccel installs them (tests/vaccel checks them against
 * the reference sheet), implemented by libvaccel.so.0 (libclient/vaccel/).
 */
#ifndef ACCELRING_VACCEL_CONFIG_H
#define ACCELRING_VACCEL_CONFIG_H

#include <stdbool.h>
#include "log.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What vaccel_bootstrap_with_config() runs with; from_env reads VACCEL_PLUGINS,
 * VACCEL_LOG_LEVEL, VACCEL_LOG_FILE, VACCEL_PROFILING_ENABLED and
 * VACCEL_VERSION_IGNORE. */
struct vaccel_config {
	char *plugins;
	vaccel_log_level_t log_level;
	char *log_file;
	bool profiling_enabled;
	bool version_ignore;
};

int vaccel_config_delete(struct vaccel_config *config);

int vaccel_config_from(struct vaccel_config **config,
	struct vaccel_config *config_src);

int vaccel_config_from_env(struct vaccel_config **config);

int vaccel_config_init(struct vaccel_config *config,
	const char *plugins,
	vaccel_log_level_t log_level,
	const char *log_file,
	bool profiling_enabled,
	bool version_ignore);

int vaccel_config_init_from(struct vaccel_config *config,
	struct vaccel_config *config_src);

int vaccel_config_init_from_env(struct vaccel_config *config);

int vaccel_config_new(struct vaccel_config **config,
	const char *plugins,
	vaccel_log_level_t log_level,
	const char *log_file,
	bool profiling_enabled,
	bool version_ignore);

void vaccel_config_print_debug(struct vaccel_config *config);

int vaccel_config_release(struct vaccel_config *config);

#ifdef __cplusplus
}
#endif

#endif /* ACCELRING_VACCEL_CONFIG_H */

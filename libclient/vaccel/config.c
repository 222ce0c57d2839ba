/* SPDX-License-Identifier: Apache-2.0 */
/*
 * struct vaccel_config and the VACCEL_* environment.
 *
 * The environment is parsed as upstream parses it: numbers with strtoul
 * (base 10; only a range error is refused, so "abc" reads as 0), booleans
 * as numbers that are not 0 ("true" reads as false), and the old names
 * (VACCEL_DEBUG_LEVEL, VACCEL_BACKENDS, VACCEL_IGNORE_VERSION) with a
 * warning when the new name is not set.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vaccel_pvt.h"

/* Upstream's defaults. */
#define CONFIG_LOG_LEVEL_DEFAULT VACCEL_LOG_ERROR
#define CONFIG_PROFILING_ENABLED_DEFAULT false
#define CONFIG_VERSION_IGNORE_DEFAULT false

static int dup_opt(char **dst, const char *src)
{
	*dst = NULL;
	if (src && !(*dst = strdup(src)))
		return VACCEL_ENOMEM;
	return 0;
}

/*
 * The variable to read: the new name, or the old one when only it is set.
 * Written straight to stderr, not through the log, as upstream does: this
 * runs while the configuration that the log needs is being read.
 */
static const char *env_name(const char *old, const char *cur)
{
	char msg[160];
	int n;

	if (!getenv(old) || getenv(cur))
		return cur;
	n = snprintf(msg, sizeof(msg), "Warning: %s is deprecated. Use %s instead.\n",
		     old, cur);
	if (n > 0 && (size_t)n < sizeof(msg))
		(void)!write(STDERR_FILENO, msg, (size_t)n);
	return old;
}

static int env_ulong(const char *name, unsigned long dflt, unsigned long *v)
{
	const char *s = getenv(name);

	if (!s) {
		*v = dflt;
		return 0;
	}
	errno = 0;
	*v = strtoul(s, NULL, 10);
	return errno ? VACCEL_EINVAL : 0;
}

static int env_bool(const char *name, bool dflt, bool *v)
{
	unsigned long u;
	int ret = env_ulong(name, dflt, &u);

	if (!ret)
		*v = u != 0;
	return ret;
}

AR_VISIBLE int vaccel_config_init(struct vaccel_config *config, const char *plugins,
				  vaccel_log_level_t log_level, const char *log_file,
				  bool profiling_enabled, bool version_ignore)
{
	struct vaccel_config c = {
		.log_level = log_level,
		.profiling_enabled = profiling_enabled,
		.version_ignore = version_ignore,
	};

	if (!config)
		return VACCEL_EINVAL;
	if (dup_opt(&c.plugins, plugins) || dup_opt(&c.log_file, log_file)) {
		free(c.plugins);
		return VACCEL_ENOMEM;
	}
	*config = c;
	return 0;
}

AR_VISIBLE int vaccel_config_init_from(struct vaccel_config *config,
				       struct vaccel_config *config_src)
{
	if (!config || !config_src)
		return VACCEL_EINVAL;
	return vaccel_config_init(config, config_src->plugins, config_src->log_level,
				  config_src->log_file, config_src->profiling_enabled,
				  config_src->version_ignore);
}

/* Nothing is written to config unless every variable parses. */
AR_VISIBLE int vaccel_config_init_from_env(struct vaccel_config *config)
{
	unsigned long level;
	bool prof, ignore;
	int ret;

	if (!config)
		return VACCEL_EINVAL;
	ret = env_ulong(env_name("VACCEL_DEBUG_LEVEL", "VACCEL_LOG_LEVEL"),
			CONFIG_LOG_LEVEL_DEFAULT, &level);
	if (!ret)
		ret = env_bool("VACCEL_PROFILING_ENABLED",
			       CONFIG_PROFILING_ENABLED_DEFAULT, &prof);
	if (!ret)
		ret = env_bool(env_name("VACCEL_IGNORE_VERSION", "VACCEL_VERSION_IGNORE"),
			       CONFIG_VERSION_IGNORE_DEFAULT, &ignore);
	if (ret)
		return ret;
	return vaccel_config_init(config, getenv(env_name("VACCEL_BACKENDS", "VACCEL_PLUGINS")),
				  (vaccel_log_level_t)level, getenv("VACCEL_LOG_FILE"),
				  prof, ignore);
}

/* Frees the strings and puts the defaults back, as upstream does. */
AR_VISIBLE int vaccel_config_release(struct vaccel_config *config)
{
	if (!config)
		return VACCEL_EINVAL;
	free(config->plugins);
	free(config->log_file);
	*config = (struct vaccel_config){
		.log_level = CONFIG_LOG_LEVEL_DEFAULT,
		.profiling_enabled = CONFIG_PROFILING_ENABLED_DEFAULT,
		.version_ignore = CONFIG_VERSION_IGNORE_DEFAULT,
	};
	return 0;
}

/* *config only on success. */
static int config_alloc(struct vaccel_config **config, struct vaccel_config *src,
			bool from_env)
{
	struct vaccel_config *c;
	int ret;

	if (!config)
		return VACCEL_EINVAL;
	c = malloc(sizeof(*c));
	if (!c)
		return VACCEL_ENOMEM;
	ret = from_env ? vaccel_config_init_from_env(c) : vaccel_config_init_from(c, src);
	if (ret) {
		free(c);
		return ret;
	}
	*config = c;
	return 0;
}

AR_VISIBLE int vaccel_config_new(struct vaccel_config **config, const char *plugins,
				 vaccel_log_level_t log_level, const char *log_file,
				 bool profiling_enabled, bool version_ignore)
{
	struct vaccel_config src = {
		.plugins = (char *)plugins,
		.log_level = log_level,
		.log_file = (char *)log_file,
		.profiling_enabled = profiling_enabled,
		.version_ignore = version_ignore,
	};

	return config_alloc(config, &src, false);
}

AR_VISIBLE int vaccel_config_from(struct vaccel_config **config,
				  struct vaccel_config *config_src)
{
	if (!config_src)
		return VACCEL_EINVAL;
	return config_alloc(config, config_src, false);
}

AR_VISIBLE int vaccel_config_from_env(struct vaccel_config **config)
{
	return config_alloc(config, NULL, true);
}

AR_VISIBLE int vaccel_config_delete(struct vaccel_config *config)
{
	int ret = vaccel_config_release(config);

	if (!ret)
		free(config);
	return ret;
}

static const char *str_or_null(const char *s)
{
	return s ? s : "(null)";
}

AR_VISIBLE void vaccel_config_print_debug(struct vaccel_config *config)
{
	char level[VACCEL_ENUM_STR_MAX];

	if (!config)
		return;
	vaccel_log_level_name(config->log_level, level, sizeof(level));
	ar__vaccel_log(VACCEL_LOG_DEBUG, "Config:");
	ar__vaccel_log(VACCEL_LOG_DEBUG, "  plugins = %s", str_or_null(config->plugins));
	ar__vaccel_log(VACCEL_LOG_DEBUG, "  log_level = %s", level);
	ar__vaccel_log(VACCEL_LOG_DEBUG, "  log_file = %s", str_or_null(config->log_file));
	ar__vaccel_log(VACCEL_LOG_DEBUG, "  profiling_enabled = %s",
		       config->profiling_enabled ? "true" : "false");
	ar__vaccel_log(VACCEL_LOG_DEBUG, "  version_ignore = %s",
		       config->version_ignore ? "true" : "false");
}

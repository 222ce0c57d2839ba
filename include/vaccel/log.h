/* SPDX-License-Identifier: Apache-2.0 */
/*
 * <vaccel/log.h> - logging
 *
 * accelring's own header for vAccel's public API: names, types, values and
 * layouts as upstream vAccel installs them (tests/vaccel checks them against
 * the reference sheet), implemented by libvaccel.so.0 (libclient/vaccel/).
 */
#ifndef ACCELRING_VACCEL_LOG_H
#define ACCELRING_VACCEL_LOG_H

#include "utils/enum.h"

#ifdef __cplusplus
extern "C" {
#endif

#undef _ENUM_PREFIX
#define _ENUM_PREFIX VACCEL_LOG
#define VACCEL_LOG_LEVEL_ENUM_LIST(VACCEL_ENUM_ITEM)                         \
	VACCEL_ENUM_ITEM(ERROR, 1, _ENUM_PREFIX)                             \
	VACCEL_ENUM_ITEM(WARN, _ENUM_PREFIX)                                 \
	VACCEL_ENUM_ITEM(INFO, _ENUM_PREFIX)                                 \
	VACCEL_ENUM_ITEM(DEBUG, _ENUM_PREFIX)

/* vaccel_log_level_t: VACCEL_LOG_LEVEL's values, 1 (error) to 4 (debug). */
VACCEL_ENUM_DEF_WITH_STR_FUNCS(vaccel_log_level, _ENUM_PREFIX,
			       VACCEL_LOG_LEVEL_ENUM_LIST)
#undef _ENUM_PREFIX

/*
 * The logging entry point, with slog's signature and flag values, which
 * upstream's macros expand to: a program compiled against upstream's
 * headers calls it by that name. level: 4 info, 8 warn, 16 debug,
 * 32 trace, 64 error, 128 fatal; newline: append one.
 */
void slog_display(int level, unsigned char newline, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* printf-like: vaccel_info("loaded %s", name). Lines above the configured
 * level (VACCEL_LOG_LEVEL) are dropped; they go to stderr or, with
 * VACCEL_LOG_FILE, to that file. */
#define vaccel_info vaccel__log_info
#define vaccel_warn vaccel__log_warn
#define vaccel_debug vaccel__log_debug
#define vaccel_error vaccel__log_error
#define vaccel_trace vaccel__log_trace
#define vaccel_fatal vaccel__log_fatal
#define vaccel__log_info(...) slog_display(4, 1, __VA_ARGS__)
#define vaccel__log_warn(...) slog_display(8, 1, __VA_ARGS__)
#define vaccel__log_debug(...) slog_display(16, 1, __VA_ARGS__)
#define vaccel__log_trace(...) slog_display(32, 1, __VA_ARGS__)
#define vaccel__log_error(...) slog_display(64, 1, __VA_ARGS__)
#define vaccel__log_fatal(...) slog_display(128, 1, __VA_ARGS__)

/* Set up logging from the configuration (called by vaccel_bootstrap). */
int vaccel_log_init(void);

int vaccel_log_shutdown(void);

#ifdef __cplusplus
}
#endif

#endif /* ACCELRING_VACCEL_LOG_H */

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Logging: one line per event on stderr, with a timestamp and the level.
 * Quiet by default (errors and refusals); ACCELRING_LOG_LEVEL or
 * --log-level raise it to info (connections) or debug (every op).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "internal.h"

int ar__log_level = AR_LOG_WARN;

static const char *const names[] = { "", "error", "warn", "info", "debug" };

void ar__log(int level, const char *fmt, ...)
{
	char line[1024];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int n;

	if (level > ar__log_level)
		return;
	if (level < AR_LOG_ERROR)
		level = AR_LOG_ERROR;
	if (level > AR_LOG_DEBUG)
		level = AR_LOG_DEBUG;
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line), "%04d-%02d-%02d %02d:%02d:%02d.%03ld accelringd <%s> ",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		     tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, names[level]);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	/* One write per line, so that lines from threads do not interleave. */
	n = (int)strlen(line);
	line[n++] = '\n';
	fwrite(line, 1, (size_t)n, stderr);
}

int ar__log_parse_level(const char *s)
{
	for (int i = 1; i <= AR_LOG_DEBUG; i++)
		if (!strcasecmp(s, names[i]))
			return i;
	if (s[0] >= '1' && s[0] <= '4' && s[1] == '\0')
		return s[0] - '0';
	return -EINVAL;
}

void ar__vlog_prefixed(int level, const char *prefix, const char *fmt, va_list ap)
{
	char buf[1024];

	if (level > ar__log_level)
		return;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	if (prefix)
		ar__log(level, "%s: %s", prefix, buf);
	else
		ar__log(level, "%s", buf);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Logging: one line per event on stderr, with a timestamp and the level.
 * Quiet by default (errors and refusals, and the one "ready" notice);
 * ACCELRING_LOG_LEVEL or --log-level raise it to info (connections) or
 * debug (every op).
 *
 * When stderr is the journal (systemd sets JOURNAL_STREAM to the device
 * and inode of the stream it gave us), each line starts with its syslog
 * priority, "<3>" .. "<7>", which journald reads and strips, and the
 * timestamp goes: the journal has its own.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#include "internal.h"

_Atomic int ar__log_level = AR_LOG_WARN;
static bool journal;

static const char *const names[] = { "", "error", "warn", "info", "debug" };
/* syslog(3) priorities: LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG. */
static const int prios[] = { 3, 3, 4, 6, 7 };

bool ar__log_init(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	journal = js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && !fstat(2, &st) &&
		  (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
	return journal;
}

static void vlog(int prio, const char *name, const char *fmt, va_list ap)
{
	char line[1024];
	struct timespec ts;
	struct tm tm;
	int n;

	if (journal) {
		n = snprintf(line, sizeof(line), "<%d>", prio);
	} else {
		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		n = snprintf(line, sizeof(line),
			     "%04d-%02d-%02d %02d:%02d:%02d.%03ld accelringd <%s> ",
			     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
			     tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, name);
	}
	vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	/* One write per line, so that lines from threads do not interleave. */
	n = (int)strlen(line);
	line[n++] = '\n';
	fwrite(line, 1, (size_t)n, stderr);
}

void ar__log(int level, const char *fmt, ...)
{
	va_list ap;

	if (level > ar__log_level)
		return;
	if (level < AR_LOG_ERROR)
		level = AR_LOG_ERROR;
	if (level > AR_LOG_DEBUG)
		level = AR_LOG_DEBUG;
	va_start(ap, fmt);
	vlog(prios[level], names[level], fmt, ap);
	va_end(ap);
}

void ar__log_notice(const char *fmt, ...)
{
	va_list ap;

	/* Shown wherever warnings are, without raising anything else. */
	if (ar__log_level < AR_LOG_WARN)
		return;
	va_start(ap, fmt);
	vlog(5, "notice", fmt, ap);	/* LOG_NOTICE */
	va_end(ap);
}

bool ar__ratelimit(struct ar_ratelimit *rl, uint32_t *missed)
{
	uint64_t now = ar__now_ns();
	uint64_t next = atomic_load_explicit(&rl->next_ns, memory_order_relaxed);

	/* Relaxed: the limiter orders nothing but itself; two threads that
	 * both see the window open are settled by the compare-exchange. */
	if (now < next ||
	    !atomic_compare_exchange_strong_explicit(&rl->next_ns, &next, now + 1000000000u,
						     memory_order_relaxed, memory_order_relaxed)) {
		atomic_fetch_add_explicit(&rl->missed, 1, memory_order_relaxed);
		return false;
	}
	*missed = atomic_exchange_explicit(&rl->missed, 0, memory_order_relaxed);
	return true;
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

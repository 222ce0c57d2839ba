/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Logging: vaccel_log_*, slog_display (what vaccel_info()... expand to, in
 * our headers and in upstream's) and ar__vaccel_log for the other groups.
 *
 * A line is "2025.03.23-09:45:58.89 - <debug> message": local time to the
 * hundredth of a second, as upstream's slog writes it (without its colour).
 * It is formatted whole, then written with one write(2) under log_lock, so
 * lines from different threads never mix.
 *
 * What passes is the configuration's log_level, as upstream maps it onto
 * slog's flags: 1 error, 2 + warn, 3 + info, 4 + debug; anything else lets
 * nothing through. Trace lines are never shown (upstream never enables
 * slog's trace flag); fatal ones are shown with errors (upstream never
 * enables that flag either, which drops the most important lines).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vaccel_pvt.h"

/* slog's flag values: the first argument of slog_display. */
enum {
	SLOG_INFO = 4,
	SLOG_WARN = 8,
	SLOG_DEBUG = 16,
	SLOG_TRACE = 32,
	SLOG_ERROR = 64,
	SLOG_FATAL = 128,
};

/* log_mask before the first line or after vaccel_log_shutdown(): the next
 * line sets logging up from the configuration in force. */
#define MASK_UNSET (-1)

enum { LINE_STACK = 1024 };

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
/* Where lines go, and whether we opened it; under log_lock. */
static int log_fd = STDERR_FILENO;
static bool log_fd_owned;
/* The slog flags that pass. Written under log_lock, read without it by
 * every line (the release store pairs with the acquire load in mask()). */
static _Atomic int log_mask = MASK_UNSET;

/*
 * A child forked while another thread held log_lock would wait for it
 * forever: it starts with a fresh one (as conn.c does with its lock).
 * Taking the lock around fork() instead would order it against the other
 * groups' locks by the order of the constructors, which is unspecified.
 */
static void atfork_child(void)
{
	pthread_mutex_init(&log_lock, NULL);
}

__attribute__((constructor)) static void log_atfork(void)
{
	pthread_atfork(NULL, NULL, atfork_child);
}

static int level_mask(vaccel_log_level_t level)
{
	switch (level) {
	case VACCEL_LOG_DEBUG:
		return SLOG_DEBUG | SLOG_INFO | SLOG_WARN | SLOG_ERROR | SLOG_FATAL;
	case VACCEL_LOG_INFO:
		return SLOG_INFO | SLOG_WARN | SLOG_ERROR | SLOG_FATAL;
	case VACCEL_LOG_WARN:
		return SLOG_WARN | SLOG_ERROR | SLOG_FATAL;
	case VACCEL_LOG_ERROR:
		return SLOG_ERROR | SLOG_FATAL;
	default:
		return 0;
	}
}

static void close_owned_locked(void)
{
	if (log_fd_owned)
		close(log_fd);
	log_fd = STDERR_FILENO;
	log_fd_owned = false;
}

/*
 * Level and destination from the configuration in force. log_file is
 * appended to; /dev/stdout and /dev/stderr are the process's own streams
 * (upstream treats them as "the screen" too). A file that cannot be
 * opened leaves the lines on stderr: returns that errno, else 0.
 */
static int configure_locked(void)
{
	const struct vaccel_config *cfg = ar__vaccel_config();
	const char *file = cfg->log_file;
	int ret = 0;

	close_owned_locked();
	if (file && *file && strcmp(file, "/dev/stderr")) {
		if (!strcmp(file, "/dev/stdout")) {
			log_fd = STDOUT_FILENO;
		} else {
			int fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);

			if (fd >= 0) {
				log_fd = fd;
				log_fd_owned = true;
			} else {
				ret = errno;
			}
		}
	}
	atomic_store_explicit(&log_mask, level_mask(cfg->log_level), memory_order_release);
	return ret;
}

static int mask(void)
{
	int m = atomic_load_explicit(&log_mask, memory_order_acquire);

	if (m != MASK_UNSET)
		return m;
	pthread_mutex_lock(&log_lock);
	if (atomic_load_explicit(&log_mask, memory_order_relaxed) == MASK_UNSET)
		configure_locked();
	m = atomic_load_explicit(&log_mask, memory_order_relaxed);
	pthread_mutex_unlock(&log_lock);
	return m;
}

AR_VISIBLE int vaccel_log_init(void)
{
	int ret;

	pthread_mutex_lock(&log_lock);
	ret = configure_locked();
	pthread_mutex_unlock(&log_lock);
	if (ret)
		ar__vaccel_log(VACCEL_LOG_ERROR, "Could not open log file %s: %s",
			       ar__vaccel_config()->log_file, strerror(ret));
	return ret;
}

/* Back to stderr; the next line sets logging up again. */
AR_VISIBLE int vaccel_log_shutdown(void)
{
	pthread_mutex_lock(&log_lock);
	close_owned_locked();
	atomic_store_explicit(&log_mask, MASK_UNSET, memory_order_release);
	pthread_mutex_unlock(&log_lock);
	return 0;
}

static const char *flag_tag(int flag)
{
	switch (flag) {
	case SLOG_INFO:
		return "info";
	case SLOG_WARN:
		return "warn";
	case SLOG_DEBUG:
		return "debug";
	case SLOG_TRACE:
		return "trace";
	case SLOG_ERROR:
		return "error";
	case SLOG_FATAL:
		return "fatal";
	default:
		return NULL;
	}
}

static int line_prefix(char *buf, size_t size, const char *tag)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	return snprintf(buf, size, "%04d.%02d.%02d-%02d:%02d:%02d.%02ld - <%s> ",
			tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
			tm.tm_min, tm.tm_sec, ts.tv_nsec / 10000000, tag);
}

static void write_line(const char *s, size_t len)
{
	pthread_mutex_lock(&log_lock);
	while (len) {
		ssize_t n = write(log_fd, s, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		s += n;
		len -= (size_t)n;
	}
	pthread_mutex_unlock(&log_lock);
}

/*
 * One line, formatted on the stack or, when longer, on the heap (without
 * memory, the stack's truncated copy goes out).
 */
static void emit(int flag, bool newline, const char *fmt, va_list ap)
{
	char stack[LINE_STACK];
	char *buf = stack;
	int pre = line_prefix(stack, sizeof(stack), flag_tag(flag));
	int msg;
	size_t len;
	va_list again;

	if (pre < 0 || (size_t)pre >= sizeof(stack))
		return;
	va_copy(again, ap);
	msg = vsnprintf(stack + pre, sizeof(stack) - (size_t)pre, fmt, ap);
	if (msg < 0)
		msg = 0;
	len = (size_t)pre + (size_t)msg;
	if (len + 2 > sizeof(stack)) {
		char *heap = malloc(len + 2);

		if (heap) {
			memcpy(heap, stack, (size_t)pre);
			vsnprintf(heap + pre, (size_t)msg + 1, fmt, again);
			buf = heap;
		} else {
			len = sizeof(stack) - 2;
		}
	}
	va_end(again);
	if (newline)
		buf[len++] = '\n';
	write_line(buf, len);
	if (buf != stack)
		free(buf);
}

AR_VISIBLE void slog_display(int level, unsigned char newline, const char *fmt, ...)
{
	va_list ap;

	if (!fmt || !flag_tag(level) || !(mask() & level))
		return;
	va_start(ap, fmt);
	emit(level, newline, fmt, ap);
	va_end(ap);
}

void ar__vaccel_log(vaccel_log_level_t level, const char *fmt, ...)
{
	static const int flag[] = {
		[VACCEL_LOG_ERROR] = SLOG_ERROR,
		[VACCEL_LOG_WARN] = SLOG_WARN,
		[VACCEL_LOG_INFO] = SLOG_INFO,
		[VACCEL_LOG_DEBUG] = SLOG_DEBUG,
	};
	va_list ap;

	if (level < VACCEL_LOG_ERROR || level > VACCEL_LOG_DEBUG || !fmt ||
	    !(mask() & flag[level]))
		return;
	va_start(ap, fmt);
	emit(flag[level], true, fmt, ap);
	va_end(ap);
}

/*
 * A warning about a setting the user made (a variable ignored or
 * clamped): tagged warn, and shown at every level that shows errors (the
 * default, 1, included), as upstream prints its warnings about the
 * environment whatever the level. Someone who mistyped a variable hears of
 * it without first having to raise the level.
 */
void ar__vaccel_log_setting(const char *fmt, ...)
{
	va_list ap;

	if (!fmt || !(mask() & SLOG_ERROR))
		return;
	va_start(ap, fmt);
	emit(SLOG_WARN, true, fmt, ap);
	va_end(ap);
}

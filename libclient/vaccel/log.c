/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Logging. (Interim: errors to stderr; the full group is being written.)
 */
#include <stdarg.h>
#include <stdio.h>

#include "vaccel_pvt.h"

void ar__vaccel_log(vaccel_log_level_t level, const char *fmt, ...)
{
	va_list ap;

	if (level > VACCEL_LOG_ERROR)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * utils/str.h: string helpers.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "vaccel_pvt.h"

static void lower_copy(char *dst, const char *src, size_t len)
{
	for (size_t i = 0; i < len; i++)
		dst[i] = (char)tolower((unsigned char)src[i]);
	dst[len] = '\0';
}

/*
 * As upstream: with alloc_lower, a new string (lower and size are then not
 * used); else into lower, truncated to size - 1 characters. The enum
 * _name() helpers rely on the truncation being quiet.
 */
AR_VISIBLE int vaccel_str_to_lower(const char *str, char *lower, size_t size,
				   char **alloc_lower)
{
	size_t len;

	if (!str || (!alloc_lower && (!lower || !size)))
		return VACCEL_EINVAL;
	len = strlen(str);
	if (alloc_lower) {
		char *s = malloc(len + 1);

		if (!s)
			return VACCEL_ENOMEM;
		lower_copy(s, str, len);
		*alloc_lower = s;
		return 0;
	}
	lower_copy(lower, str, len < size ? len : size - 1);
	return 0;
}

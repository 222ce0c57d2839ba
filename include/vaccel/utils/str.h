/* SPDX-License-Identifier: Apache-2.0 */
/*
 * <vaccel/utils/str.h> - string helpers
 *
 * accelring's own header for vAccel's public API: names, types, values and
 * layouts as upstream vAccel installs them (tests/vaccel checks them against
 * the reference sheet), implemented by libvaccel.so.0 (libclient/vaccel/).
 */
#ifndef ACCELRING_VACCEL_UTILS_STR_H
#define ACCELRING_VACCEL_UTILS_STR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * vaccel_str_to_lower - str in lower case, into lower (size bytes, NUL
 * included) or, when lower is NULL, into a new string in *alloc_lower.
 * Returns 0, VACCEL_EINVAL (no str, or no destination) or VACCEL_ENOMEM;
 * a lower too small gets a truncated copy and 0, as upstream's.
 */
int vaccel_str_to_lower(const char *str,
	char *lower,
	size_t size,
	char **alloc_lower);

#ifdef __cplusplus
}
#endif

#endif /* ACCELRING_VACCEL_UTILS_STR_H */

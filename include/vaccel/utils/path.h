/* SPDX-License-Identifier: Apache-2.0 */
/*
 * <vaccel/utils/path.h> - path kinds
 *
 * accelring's own header for vAccel's public API: names, types, values and
 * layouts as upstream vAccel installs them (tests/vaccel checks them against
 * the reference sheet), implemented by libvaccel.so.0 (libclient/vaccel/).
 */
#ifndef ACCELRING_VACCEL_UTILS_PATH_H
#define ACCELRING_VACCEL_UTILS_PATH_H

#include "enum.h"

#ifdef __cplusplus
extern "C" {
#endif

#undef _ENUM_PREFIX
#define _ENUM_PREFIX VACCEL_PATH
#define VACCEL_PATH_TYPE_ENUM_LIST(VACCEL_ENUM_ITEM)                         \
	VACCEL_ENUM_ITEM(LOCAL_FILE, 0, _ENUM_PREFIX)                        \
	VACCEL_ENUM_ITEM(LOCAL_DIR, _ENUM_PREFIX)                            \
	VACCEL_ENUM_ITEM(REMOTE_FILE, _ENUM_PREFIX)

/* vaccel_path_type_t: what a resource's paths name. */
VACCEL_ENUM_DEF_WITH_STR_FUNCS(vaccel_path_type, _ENUM_PREFIX,
			       VACCEL_PATH_TYPE_ENUM_LIST)
#undef _ENUM_PREFIX

#ifdef __cplusplus
}
#endif

#endif /* ACCELRING_VACCEL_UTILS_PATH_H */

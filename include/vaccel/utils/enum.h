/* SPDX-License-Identifier: Apache-2.0 */
/*
 * <vaccel/utils/enum.h> - enums with string functions (the VACCEL_ENUM_* machinery)
 *
 * accelring's own header for vAccel's public API: names, types, values and
 * layouts as upstream vAccel installs them (tests/vaccel checks them against
 * the reference sheet), implemented by libvaccel.so.0 (libclient/vaccel/).
 */
#ifndef ACCELRING_VACCEL_UTILS_ENUM_H
#define ACCELRING_VACCEL_UTILS_ENUM_H

#include <stddef.h>
#include "str.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The longest name an enum's _name() function writes, NUL included. */
enum { VACCEL_ENUM_STR_MAX = 128 };

/*
 * An enum with string functions, from a list macro L(ITEM) that applies ITEM
 * to each entry: ITEM(NAME, prefix) or ITEM(NAME, value, prefix). Defines
 * the type name##_t with the items prefix##_NAME and a last prefix##_MAX,
 * and three static inline functions:
 *   name##_to_str(v)             "PREFIX_NAME" ("PREFIX_MAX" if unknown)
 *   name##_to_base_str(v)        "NAME" ("MAX" if unknown)
 *   name##_name(v, lower, size)  "name" written to lower (at most size)
 */
#define VACCEL_ENUM_DEF_WITH_STR_FUNCS(name, prefix, VACCEL_ENUM_LIST)       \
	typedef enum {                                                       \
		VACCEL_ENUM_DEF_ITEMS(prefix, VACCEL_ENUM_LIST)              \
	} name##_t;                                                          \
	VACCEL_ENUM_DEF_STR_FUNCS(name, prefix, VACCEL_ENUM_LIST)

/* The items of a list, and its prefix##_MAX. */
#define VACCEL_ENUM_DEF_ITEMS(prefix, VACCEL_ENUM_LIST)                      \
	VACCEL_ENUM_LIST(VACCEL_ENUM_ITEM) VACCEL_ENUM_ITEM(MAX, prefix)

#define VACCEL_ENUM_DEF_STR_FUNCS(name, prefix, VACCEL_ENUM_LIST)            \
	static inline const char *name##_to_str(name##_t value)              \
	{                                                                    \
		switch (value) {                                             \
			VACCEL_ENUM_LIST(VACCEL_ENUM_STR_CASE)               \
		default:                                                     \
			break;                                               \
		}                                                            \
		return VACCEL_ENUM_STR(MAX, prefix);                         \
	}                                                                    \
	static inline const char *name##_to_base_str(name##_t value)         \
	{                                                                    \
		switch (value) {                                             \
			VACCEL_ENUM_LIST(VACCEL_ENUM_BASE_STR_CASE)          \
		default:                                                     \
			break;                                               \
		}                                                            \
		return "MAX";                                                \
	}                                                                    \
	static inline char *name##_name(name##_t value, char *lower,         \
					size_t size)                         \
	{                                                                    \
		vaccel_str_to_lower(name##_to_base_str(value), lower, size,  \
				    NULL);                                   \
		return lower;                                                \
	}

/* One item: ITEM(NAME, prefix) or ITEM(NAME, value, prefix). */
#define VACCEL_ENUM_ITEM(...)                                                \
	VACCEL_ENUM_GET_MACRO(__VA_ARGS__, VACCEL_ENUM_ITEM_WITH_VALUE,      \
			      VACCEL_ENUM_ITEM_NO_VALUE, 0)(__VA_ARGS__),
#define VACCEL_ENUM_ITEM_NO_VALUE(name, prefix) prefix##_##name
#define VACCEL_ENUM_ITEM_WITH_VALUE(name, value, prefix) prefix##_##name = (value)

/* switch cases returning an item's full and base names. */
#define VACCEL_ENUM_STR_CASE(...)                                            \
	VACCEL_ENUM_GET_MACRO(__VA_ARGS__, VACCEL_ENUM_STR_CASE_WITH_VALUE,  \
			      VACCEL_ENUM_STR_CASE_NO_VALUE, 0)(__VA_ARGS__)
#define VACCEL_ENUM_STR_CASE_NO_VALUE(name, prefix)                          \
	case prefix##_##name:                                                \
		return VACCEL_ENUM_STR(name, prefix);
#define VACCEL_ENUM_STR_CASE_WITH_VALUE(name, value, prefix)                 \
	VACCEL_ENUM_STR_CASE_NO_VALUE(name, prefix)
#define VACCEL_ENUM_BASE_STR_CASE(...)                                       \
	VACCEL_ENUM_GET_MACRO(__VA_ARGS__, VACCEL_ENUM_BASE_STR_CASE_WITH_VALUE, \
			      VACCEL_ENUM_BASE_STR_CASE_NO_VALUE, 0)(__VA_ARGS__)
#define VACCEL_ENUM_BASE_STR_CASE_NO_VALUE(name, prefix)                     \
	case prefix##_##name:                                                \
		return #name;
#define VACCEL_ENUM_BASE_STR_CASE_WITH_VALUE(name, value, prefix)            \
	VACCEL_ENUM_BASE_STR_CASE_NO_VALUE(name, prefix)

/* "PREFIX_NAME", with the prefix macro expanded first. */
#define VACCEL_ENUM_STR(name, prefix) VACCEL_ENUM_STR_(prefix, name)
#define VACCEL_ENUM_STR_(prefix, name) #prefix "_" #name

/* Picks the 3-argument or the 2-argument form (the trailing 0 keeps
 * "..." non-empty, as ISO C wants). */
#define VACCEL_ENUM_GET_MACRO(_1, _2, _3, NAME, ...) NAME

#ifdef __cplusplus
}
#endif

#endif /* ACCELRING_VACCEL_UTILS_ENUM_H */

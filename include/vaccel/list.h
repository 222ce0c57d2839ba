/* SPDX-License-Identifier: Apache-2.0 */
/*
 * <vaccel/list.h> - intrusive lists
 *
 * accelring's own header for vAccel's public API: names, types, values and
 * layouts as upstream vAccel installs them (tests/vaccel checks them against
 * the reference sheet), implemented by libvaccel.so.0 (libclient/vaccel/).
 */
#ifndef ACCELRING_VACCEL_LIST_H
#define ACCELRING_VACCEL_LIST_H



#ifdef __cplusplus
extern "C" {
#endif

/* A node of an intrusive doubly linked list; a lone node points to itself. */
struct vaccel_list_entry {
	struct vaccel_list_entry *next;
	struct vaccel_list_entry *prev;
};

/* A static initializer for an empty list head or unlinked node. */
#define LIST_ENTRY_INIT(name) { &(name), &(name) }

#ifdef __cplusplus
}
#endif

#endif /* ACCELRING_VACCEL_LIST_H */

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * <vaccel/prof.h> - profiling
 *
 * accelring's own header for vAccel's public API: names, types, values and
 * layouts as upstream vAccel installs them (tests/vaccel checks them against
 * the reference sheet), implemented by libvaccel.so.0 (libclient/vaccel/).
 */
#ifndef ACCELRING_VACCEL_PROF_H
#define ACCELRING_VACCEL_PROF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Profiling regions: each start/stop pair adds a sample (start time and
 * duration, in ns). Off unless VACCEL_PROFILING_ENABLED is set; while off,
 * start/stop record nothing and return 0. */
struct vaccel_prof_region {
	const char *name;
	bool name_owned;
	size_t nr_entries;
	struct vaccel_prof_sample *samples;
	size_t size;
};

struct vaccel_prof_sample {
	uint64_t start;
	uint64_t time;
};

/* A region named name with no samples yet. */
#define VACCEL_PROF_REGION_INIT(name)                                        \
	{ (name), false, 0, NULL, 0 }

bool vaccel_prof_enabled(void);

int vaccel_prof_region_init(struct vaccel_prof_region *region,
	const char *name);

int vaccel_prof_region_print(const struct vaccel_prof_region *region);

int vaccel_prof_region_release(struct vaccel_prof_region *region);

int vaccel_prof_region_start(struct vaccel_prof_region *region);

int vaccel_prof_region_stop(const struct vaccel_prof_region *region);

int vaccel_prof_regions_init(struct vaccel_prof_region *regions,
	int nregions);

int vaccel_prof_regions_print_all(struct vaccel_prof_region *regions,
	int nregions);

int vaccel_prof_regions_print_all_to_buf(char **tbuf,
	size_t tbuf_len,
	struct vaccel_prof_region *regions,
	int size);

int vaccel_prof_regions_release(struct vaccel_prof_region *regions,
	int nregions);

int vaccel_prof_regions_start_by_name(struct vaccel_prof_region *regions,
	int nregions,
	const char *name);

int vaccel_prof_regions_stop_by_name(struct vaccel_prof_region *regions,
	int nregions,
	const char *name);

#ifdef __cplusplus
}
#endif

#endif /* ACCELRING_VACCEL_PROF_H */

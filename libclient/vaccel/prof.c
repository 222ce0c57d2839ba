/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Profiling regions: each start/stop pair is a sample of CLOCK_MONOTONIC
 * time (start and duration, in ns), in an array that grows by doubling.
 *
 * All of it is gated by the configuration's profiling_enabled: when off,
 * start/stop/print record and print nothing and return 0, as upstream.
 * (init still leaves the region in a safe, empty state and release still
 * frees what init took, so a region set up while profiling was on, or off,
 * is never leaked or freed as garbage when a later bootstrap flips it.)
 *
 * Threads: upstream (at this API) does no locking, so concurrent start/stop
 * on one region corrupts its array. struct vaccel_prof_region has no room
 * for a lock, so each region is guarded by one of a table of locks picked
 * by its address: uncontended, start and stop cost a clock read and a
 * mutex. A stop closes the sample that the calling thread started last in
 * that region (each thread remembers its last TLS_OPEN open samples), so
 * threads sharing a region each get their own durations and nested
 * start/start/stop/stop pairs properly. A stop with none of its own (a
 * stop on another thread than its start) closes the latest open sample
 * within the last OPEN_SCAN (open: time 0; a closed sample is at least
 * 1 ns), else re-stops the last one, as upstream's stop always does.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vaccel_pvt.h"

enum {
	MIN_SAMPLES = 64,	/* what init preallocates */
	NAME_MAX_LEN = 256,	/* the buffer a NULL name gets, as upstream */
	NR_LOCKS = 64,
	TLS_OPEN = 16,		/* open samples a thread remembers */
	OPEN_SCAN = 1024,	/* how far back a stop looks for an open sample */
};

/* A sample this thread started and has not stopped: its region, index and
 * start (which tells a stale entry from a live one after a release). */
struct open_ref {
	const struct vaccel_prof_region *region;
	size_t idx;
	uint64_t start;
};

/* A ring, newest at tls_next - 1; a full one forgets the oldest. */
static __thread struct open_ref tls_open[TLS_OPEN];
static __thread unsigned int tls_next;

#define PROF_FMT "[prof] %s: total_time: %" PRIu64 " nsec nr_entries: %zu"

static pthread_mutex_t locks[NR_LOCKS] = {
	[0 ... NR_LOCKS - 1] = PTHREAD_MUTEX_INITIALIZER,
};

/* A child forked while another thread held a region's lock starts with
 * fresh ones (see log.c). */
static void atfork_child(void)
{
	for (int i = 0; i < NR_LOCKS; i++)
		pthread_mutex_init(&locks[i], NULL);
}

__attribute__((constructor)) static void prof_atfork(void)
{
	pthread_atfork(NULL, NULL, atfork_child);
}

static pthread_mutex_t *region_lock(const struct vaccel_prof_region *r)
{
	uintptr_t a = (uintptr_t)r;

	return &locks[((a >> 4) ^ (a >> 10)) % NR_LOCKS];
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

AR_VISIBLE bool vaccel_prof_enabled(void)
{
	return ar__vaccel_config()->profiling_enabled;
}

static const char *name_of(const struct vaccel_prof_region *r)
{
	return r->name ? r->name : "(null)";
}

/* Room for one more sample; under the region's lock. */
static int grow_locked(struct vaccel_prof_region *r)
{
	struct vaccel_prof_sample *s;
	size_t n = r->size ? r->size : MIN_SAMPLES / 2;
	size_t bytes;

	if (r->nr_entries < r->size)
		return 0;
	if (__builtin_mul_overflow(n, 2, &n) ||
	    __builtin_mul_overflow(n, sizeof(*s), &bytes))
		return VACCEL_ENOMEM;
	s = realloc(r->samples, bytes);
	if (!s)
		return VACCEL_ENOMEM;
	r->samples = s;
	r->size = n;
	return 0;
}

static int start_one(struct vaccel_prof_region *r)
{
	pthread_mutex_t *l = region_lock(r);
	uint64_t t;
	size_t idx;
	int ret;

	ar__vaccel_log(VACCEL_LOG_DEBUG, "Start profiling region %s", name_of(r));
	pthread_mutex_lock(l);
	ret = grow_locked(r);
	if (!ret) {
		idx = r->nr_entries++;
		t = now_ns();
		r->samples[idx] = (struct vaccel_prof_sample){ .start = t };
	}
	pthread_mutex_unlock(l);
	if (!ret)
		tls_open[tls_next++ % TLS_OPEN] = (struct open_ref){ r, idx, t };
	return ret;
}

/* The newest sample this thread opened in r and that is still open, or
 * NULL; under the region's lock. */
static struct vaccel_prof_sample *own_open_locked(const struct vaccel_prof_region *r)
{
	for (unsigned int k = 1; k <= TLS_OPEN; k++) {
		struct open_ref *o = &tls_open[(tls_next - k) % TLS_OPEN];
		struct vaccel_prof_sample *s;

		if (o->region != r)
			continue;
		o->region = NULL;
		if (o->idx >= r->nr_entries)
			continue;
		s = &r->samples[o->idx];
		if (!s->time && s->start == o->start)
			return s;
	}
	return NULL;
}

/* The latest open sample (within OPEN_SCAN), else the last, else NULL. */
static struct vaccel_prof_sample *any_open_locked(const struct vaccel_prof_region *r)
{
	size_t n = r->nr_entries;

	for (size_t i = n; i > 0 && n - i < OPEN_SCAN; i--)
		if (!r->samples[i - 1].time)
			return &r->samples[i - 1];
	return n ? &r->samples[n - 1] : NULL;
}

static int stop_one(const struct vaccel_prof_region *r)
{
	pthread_mutex_t *l = region_lock(r);
	uint64_t now = now_ns();
	struct vaccel_prof_sample *s;

	ar__vaccel_log(VACCEL_LOG_DEBUG, "Stop profiling region %s", name_of(r));
	pthread_mutex_lock(l);
	s = own_open_locked(r);
	if (!s)
		s = any_open_locked(r);
	if (s)
		s->time = now > s->start ? now - s->start : 1;
	pthread_mutex_unlock(l);
	return s ? 0 : VACCEL_ENOENT;
}

AR_VISIBLE int vaccel_prof_region_start(struct vaccel_prof_region *region)
{
	if (!vaccel_prof_enabled())
		return 0;
	if (!region)
		return VACCEL_EINVAL;
	return start_one(region);
}

/* VACCEL_ENOENT: nothing was started. */
AR_VISIBLE int vaccel_prof_region_stop(const struct vaccel_prof_region *region)
{
	if (!vaccel_prof_enabled())
		return 0;
	if (!region)
		return VACCEL_EINVAL;
	return stop_one(region);
}

/*
 * name is copied; a NULL name gets an empty 256-byte buffer to write one
 * into, as upstream's. With profiling off, nothing is allocated: the
 * region is left empty, pointing at name.
 */
AR_VISIBLE int vaccel_prof_region_init(struct vaccel_prof_region *region, const char *name)
{
	struct vaccel_prof_region r = VACCEL_PROF_REGION_INIT(name);
	char *n;

	if (!region)
		return vaccel_prof_enabled() ? VACCEL_EINVAL : 0;
	if (!vaccel_prof_enabled()) {
		*region = r;
		return 0;
	}
	n = name ? strdup(name) : calloc(1, NAME_MAX_LEN);
	if (!n)
		return VACCEL_ENOMEM;
	r.name = n;
	r.name_owned = true;
	if (grow_locked(&r)) {
		free(n);
		return VACCEL_ENOMEM;
	}
	*region = r;
	return 0;
}

static void release_one(struct vaccel_prof_region *r, bool keep_name)
{
	pthread_mutex_t *l = region_lock(r);

	pthread_mutex_lock(l);
	free(r->samples);
	r->samples = NULL;
	r->size = 0;
	r->nr_entries = 0;
	if (r->name_owned) {
		free((void *)r->name);
		r->name = NULL;
		r->name_owned = false;
	} else if (!keep_name) {
		r->name = NULL;
	}
	pthread_mutex_unlock(l);
}

/* Frees the samples (and an owned name); the region is empty after. */
AR_VISIBLE int vaccel_prof_region_release(struct vaccel_prof_region *region)
{
	if (!region)
		return vaccel_prof_enabled() ? VACCEL_EINVAL : 0;
	release_one(region, false);
	return 0;
}

/* Total time, under the region's lock: the samples may be growing. */
static uint64_t total_of(const struct vaccel_prof_region *r, size_t *nr)
{
	pthread_mutex_t *l = region_lock(r);
	uint64_t t = 0;

	pthread_mutex_lock(l);
	for (size_t i = 0; i < r->nr_entries; i++)
		t += r->samples[i].time;
	*nr = r->nr_entries;
	pthread_mutex_unlock(l);
	return t;
}

static void print_one(const struct vaccel_prof_region *r)
{
	size_t nr;
	uint64_t t = total_of(r, &nr);

	if (nr)
		ar__vaccel_log(VACCEL_LOG_INFO, PROF_FMT, name_of(r), t, nr);
}

/* At info level: "[prof] name: total_time: T nsec nr_entries: N" (a region
 * without samples prints nothing). */
AR_VISIBLE int vaccel_prof_region_print(const struct vaccel_prof_region *region)
{
	if (!vaccel_prof_enabled())
		return 0;
	if (!region)
		return VACCEL_EINVAL;
	print_one(region);
	return 0;
}

/* regions and nregions as the *_regions_* functions take them; a negative
 * count is refused (upstream treats it as empty, or worse). */
static bool regions_ok(const struct vaccel_prof_region *regions, int nregions)
{
	return regions && nregions >= 0;
}

/* The region called name (the last of that name, as upstream), or NULL. */
static struct vaccel_prof_region *by_name(struct vaccel_prof_region *regions, int nregions,
					  const char *name)
{
	for (int i = nregions - 1; i >= 0; i--)
		if (regions[i].name && !strcmp(regions[i].name, name))
			return &regions[i];
	return NULL;
}

/* VACCEL_EINVAL: no region of that name. */
AR_VISIBLE int vaccel_prof_regions_start_by_name(struct vaccel_prof_region *regions,
						 int nregions, const char *name)
{
	struct vaccel_prof_region *r;

	if (!vaccel_prof_enabled())
		return 0;
	if (!regions_ok(regions, nregions) || !name)
		return VACCEL_EINVAL;
	r = by_name(regions, nregions, name);
	if (!r) {
		ar__vaccel_log(VACCEL_LOG_ERROR, "[prof] start region: no region %s", name);
		return VACCEL_EINVAL;
	}
	return start_one(r);
}

/* VACCEL_EINVAL: no region of that name; VACCEL_ENOENT: not started. */
AR_VISIBLE int vaccel_prof_regions_stop_by_name(struct vaccel_prof_region *regions,
						int nregions, const char *name)
{
	struct vaccel_prof_region *r;

	if (!vaccel_prof_enabled())
		return 0;
	if (!regions_ok(regions, nregions) || !name)
		return VACCEL_EINVAL;
	r = by_name(regions, nregions, name);
	if (!r) {
		ar__vaccel_log(VACCEL_LOG_ERROR, "[prof] stop region: no region %s", name);
		return VACCEL_EINVAL;
	}
	return stop_one(r);
}

/* Each region as vaccel_prof_region_init(region, NULL) leaves it; on a
 * failure, those done so far are released. */
AR_VISIBLE int vaccel_prof_regions_init(struct vaccel_prof_region *regions, int nregions)
{
	if (!regions_ok(regions, nregions))
		return vaccel_prof_enabled() ? VACCEL_EINVAL : 0;
	for (int i = 0; i < nregions; i++) {
		int ret = vaccel_prof_region_init(&regions[i], NULL);

		if (ret) {
			vaccel_prof_regions_release(regions, i);
			return ret;
		}
	}
	return 0;
}

/* Frees samples and owned names; a name the region does not own (as
 * VACCEL_PROF_REGION_INIT's) stays, so the array can be used again. */
AR_VISIBLE int vaccel_prof_regions_release(struct vaccel_prof_region *regions, int nregions)
{
	if (!regions_ok(regions, nregions))
		return vaccel_prof_enabled() ? VACCEL_EINVAL : 0;
	for (int i = 0; i < nregions; i++)
		release_one(&regions[i], true);
	return 0;
}

AR_VISIBLE int vaccel_prof_regions_print_all(struct vaccel_prof_region *regions, int nregions)
{
	if (!vaccel_prof_enabled())
		return 0;
	if (!regions_ok(regions, nregions))
		return VACCEL_EINVAL;
	for (int i = 0; i < nregions; i++)
		print_one(&regions[i]);
	return 0;
}

/*
 * The lines of regions with samples, '\n' between them, into buf (room
 * bytes; room 0 only sizes). Returns the length the text has, or -1.
 */
static long regions_text(char *buf, size_t room, const struct vaccel_prof_region *regions,
			 int nregions)
{
	char dummy[1];
	size_t len = 0;

	for (int i = 0; i < nregions; i++) {
		size_t nr;
		uint64_t t = total_of(&regions[i], &nr);
		bool fits = len < room;
		int n;

		if (!nr)
			continue;
		n = snprintf(fits ? buf + len : dummy, fits ? room - len : sizeof(dummy),
			     "%s" PROF_FMT, len ? "\n" : "", name_of(&regions[i]), t, nr);
		if (n < 0 || __builtin_add_overflow(len, (size_t)n, &len) || len > INT32_MAX - 1)
			return -1;
	}
	return (long)len;
}

/*
 * Writes (or sizes) the lines of vaccel_prof_regions_print_all(), one per
 * region with samples, separated by '\n', NUL-terminated. On the return
 * values upstream's are kept, negative ones included:
 *   tbuf NULL: the bytes the text needs, NUL included (1 when empty);
 *   else *tbuf = malloc(tbuf_len) holding the text, and the number of
 *   regions is returned; -VACCEL_ENOMEM (nothing allocated) when tbuf_len
 *   is too small or memory is short; -VACCEL_EINVAL for no regions.
 * Profiling off: 0, *tbuf untouched.
 */
AR_VISIBLE int vaccel_prof_regions_print_all_to_buf(char **tbuf, size_t tbuf_len,
						    struct vaccel_prof_region *regions,
						    int size)
{
	long len;
	char *buf;

	if (!vaccel_prof_enabled())
		return 0;
	if (!regions_ok(regions, size))
		return -VACCEL_EINVAL;
	len = regions_text(NULL, 0, regions, size);
	if (len < 0)
		return -VACCEL_EINVAL;
	if (!tbuf)
		return (int)len + 1;
	if (tbuf_len <= (size_t)len)
		return -VACCEL_ENOMEM;
	buf = malloc(tbuf_len);
	if (!buf)
		return -VACCEL_ENOMEM;
	buf[0] = '\0';
	/* Samples may have been added meanwhile: the text must still fit. */
	len = regions_text(buf, tbuf_len, regions, size);
	if (len < 0 || (size_t)len >= tbuf_len) {
		free(buf);
		return len < 0 ? -VACCEL_EINVAL : -VACCEL_ENOMEM;
	}
	*tbuf = buf;
	return size;
}

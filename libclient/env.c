/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The client's environment variables (ACCELRING_CHANNELS, _DATA_BYTES,
 * ...), read by one parser from one table: each variable's default, its
 * range and whether it is a size (K/M/G suffixes, as the broker's byte
 * settings take them).
 *
 * A value is never refused: a client that cannot start because of a typo
 * in a tuning variable helps nobody. What does not parse is replaced by
 * the default, what lies outside the range is clamped to it, and a ring
 * size that is not a power of two is rounded up; each time a warning says
 * what was given and what is used instead, for the caller to log (the
 * native API never prints: libclient/vaccel/conn.c logs them).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_pvt.h"

/* The broker's limits (broker/internal.h AR_MAX_CHANNELS, abi.h). */
#define CHANNELS_MAX 64u
/* A waiting client that polls for more than a second only burns a CPU. */
#define SPIN_NS_MAX 1000000000u

const struct ar__env_var ar__env_vars[AR_ENV_MAX] = {
	[AR_ENV_CHANNELS] = { "ACCELRING_CHANNELS", 4, 1, CHANNELS_MAX, 0 },
	[AR_ENV_DATA_BYTES] = { "ACCELRING_DATA_BYTES", 0, 0, AR_REGION_DATA_MAX,
				AR_ENV_F_BYTES },
	[AR_ENV_SPIN_NS] = { "ACCELRING_SPIN_NS", AR_WAIT_SPIN_NS_DEFAULT, 0, SPIN_NS_MAX, 0 },
	[AR_ENV_SQ_BYTES] = { "ACCELRING_SQ_BYTES", 0, AR_RING_BYTES_MIN, AR_RING_BYTES_MAX,
			      AR_ENV_F_BYTES | AR_ENV_F_POW2 | AR_ENV_F_ZERO },
	[AR_ENV_CQ_BYTES] = { "ACCELRING_CQ_BYTES", 0, AR_RING_BYTES_MIN, AR_RING_BYTES_MAX,
			      AR_ENV_F_BYTES | AR_ENV_F_POW2 | AR_ENV_F_ZERO },
	[AR_ENV_TENSOR_OUT_BYTES] = { "ACCELRING_TENSOR_OUT_BYTES", 1u << 20, 1, UINT32_MAX,
				      AR_ENV_F_BYTES },
	/* 0 never, 1 always, 2 when a session daemon runs (trace.c). */
	[AR_ENV_TRACE] = { "ACCELRING_TRACE", 2, 0, 2, 0 },
};

/* What a value that does not parse is replaced with, in words. */
static void dflt_words(const struct ar__env_var *v, char *s, size_t cap)
{
	if (v->def == 0 && (v->flags & AR_ENV_F_BYTES))
		snprintf(s, cap, "the broker's default");
	else
		snprintf(s, cap, "the default, %" PRIu64, v->def);
}

/*
 * A number: decimal, 0x hex or 0 octal as strtoull reads them, then for a
 * size one of K, M, G (KiB, MiB, GiB; either case), nothing else. Returns
 * 0, -EINVAL (not a number) or -ERANGE (beyond 64 bits).
 */
static int number(const char *s, bool bytes, uint64_t *out)
{
	unsigned long long v;
	unsigned shift = 0;
	char *end;

	/* strtoull takes "-1" as 2^64-1: a sign is never a size. */
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (end == s)
		return -EINVAL;
	if (errno == ERANGE)
		return -ERANGE;
	if (bytes && *end) {
		const char *units = "KMG", *u = strchr(units, *end & ~0x20);

		if (!u || !*u)
			return -EINVAL;
		shift = 10 * (unsigned)(u - units + 1);
		end++;
	}
	if (*end)
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = (uint64_t)v << shift;
	return 0;
}

/* v as the user may write it back: a size with the largest suffix that
 * divides it (64G, 4K), anything else in decimal. */
static const char *words(uint64_t v, bool bytes, char buf[24])
{
	static const char suffix[] = "GMK";
	static const unsigned shift[] = { 30, 20, 10 };

	for (int i = 0; bytes && v && i < 3; i++) {
		if (!(v & ((1ull << shift[i]) - 1))) {
			snprintf(buf, 24, "%" PRIu64 "%c", v >> shift[i], suffix[i]);
			return buf;
		}
	}
	snprintf(buf, 24, "%" PRIu64, v);
	return buf;
}

static uint64_t pow2_up(uint64_t v)
{
	uint64_t p = 1;

	while (p < v)
		p <<= 1;
	return p;
}

int ar__env_parse(const struct ar__env_var *v, const char *s, uint64_t *out,
		  char *warn, size_t cap)
{
	bool bytes = v->flags & AR_ENV_F_BYTES;
	uint64_t x;
	int ret;

	if (warn && cap)
		warn[0] = '\0';
	*out = v->def;
	if (!s || !*s)
		return 0;
	ret = number(s, bytes, &x);
	/* Beyond 64 bits is above any range: clamped below. */
	if (ret == -ERANGE) {
		x = UINT64_MAX;
	} else if (ret) {
		char d[48];

		dflt_words(v, d, sizeof(d));
		if (warn)
			snprintf(warn, cap, "%s=%s is not %s: using %s", v->name, s,
				 bytes ? "a size (a number, with K, M or G)" : "a number", d);
		return ret;
	}
	if (x == 0 && (v->flags & AR_ENV_F_ZERO)) {
		*out = 0;
		return 0;
	}
	if (x < v->min || x > v->max) {
		char lo[24], hi[24], use[24];

		*out = x < v->min ? v->min : v->max;
		if (warn)
			snprintf(warn, cap, "%s=%s is outside %s..%s%s: using %s", v->name, s,
				 words(v->min, bytes, lo), words(v->max, bytes, hi),
				 (v->flags & AR_ENV_F_ZERO) ? " (or 0, the broker's default)" : "",
				 words(*out, bytes, use));
		return -ERANGE;
	}
	if ((v->flags & AR_ENV_F_POW2) && (x & (x - 1))) {
		char use[24];

		*out = pow2_up(x);
		if (warn)
			snprintf(warn, cap, "%s=%s is not a power of two: using %s", v->name, s,
				 words(*out, bytes, use));
		return -ERANGE;
	}
	*out = x;
	return 0;
}

uint64_t ar__env_get(enum ar__env which, char *warn, size_t cap)
{
	const struct ar__env_var *v = &ar__env_vars[which];
	uint64_t x;

	(void)ar__env_parse(v, getenv(v->name), &x, warn, cap);
	return x;
}

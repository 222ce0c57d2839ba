/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A TorchScript archive's zip structure, checked before libtorch reads
 * it (archive.h says what and why).
 *
 * The layout, from the zip specification (APPNOTE.TXT): an end of central
 * directory record (EOCD) at the end, possibly preceded by a ZIP64 EOCD
 * locator pointing at a ZIP64 EOCD; the central directory it points to
 * holds one header per entry (method, sizes, the offset of the entry's
 * local header), and each local header is followed by the entry's data.
 * Every field is little-endian; every read below is bounds-checked
 * against the archive's size first.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"

#define SIG_EOCD 0x06054b50u
#define SIG_EOCD64_LOC 0x07064b50u
#define SIG_EOCD64 0x06064b50u
#define SIG_CDH 0x02014b50u
#define SIG_LFH 0x04034b50u
#define EOCD_LEN 22u
#define EOCD64_LOC_LEN 20u
#define EOCD64_LEN 56u
#define CDH_LEN 46u
#define LFH_LEN 30u
#define ZIP64_EXTRA 0x0001u
#define U32_MAX_FIELD 0xffffffffu

struct range {
	uint64_t off, len;
};

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

__attribute__((format(printf, 3, 4))) static int refuse(char *why, size_t cap,
							  const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, cap, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Whether [off, off + len) lies inside n bytes. */
static bool inside(uint64_t off, uint64_t len, uint64_t n)
{
	return off <= n && len <= n - off;
}

/* The central directory: where, how long, how many entries. */
static int find_cd(const uint8_t *p, uint64_t n, uint64_t *cd_off, uint64_t *cd_len,
		   uint64_t *entries, char *why, size_t cap)
{
	uint64_t e, lo = n > EOCD_LEN + 0xffffu ? n - EOCD_LEN - 0xffffu : 0;

	if (n < EOCD_LEN)
		return refuse(why, cap, "not a zip archive (%llu bytes)", (unsigned long long)n);
	/* The EOCD is the last record; only its comment (at most 64 KiB)
	 * may follow it, and a real one ends the archive exactly. */
	for (e = n - EOCD_LEN;; e--) {
		if (le32(p + e) == SIG_EOCD && e + EOCD_LEN + le16(p + e + 20) == n)
			break;
		if (e == lo)
			return refuse(why, cap, "not a zip archive (no end of central directory)");
	}
	*entries = le16(p + e + 10);
	*cd_len = le32(p + e + 12);
	*cd_off = le32(p + e + 16);
	if (e >= EOCD64_LOC_LEN && le32(p + e - EOCD64_LOC_LEN) == SIG_EOCD64_LOC) {
		uint64_t z = le64(p + e - EOCD64_LOC_LEN + 8);

		if (!inside(z, EOCD64_LEN, e - EOCD64_LOC_LEN) || le32(p + z) != SIG_EOCD64)
			return refuse(why, cap, "ZIP64 end of central directory out of place");
		*entries = le64(p + z + 32);
		*cd_len = le64(p + z + 40);
		*cd_off = le64(p + z + 48);
	}
	if (!inside(*cd_off, *cd_len, n))
		return refuse(why, cap, "central directory outside the archive");
	return 0;
}

/* An entry's sizes and offset, the ZIP64 extra field's where they
 * overflow 32 bits. */
static int zip64_fields(const uint8_t *x, uint32_t xlen, uint64_t *uncomp, uint64_t *comp,
			uint64_t *lfh)
{
	uint32_t i = 0;

	while (i + 4 <= xlen) {
		uint16_t id = le16(x + i), len = le16(x + i + 2);
		const uint8_t *f = x + i + 4;
		uint32_t k = 0;

		if (i + 4 + len > xlen)
			return -1;
		if (id == ZIP64_EXTRA) {
			uint64_t *want[3] = { uncomp, comp, lfh };

			for (int w = 0; w < 3; w++) {
				if (*want[w] != U32_MAX_FIELD)
					continue;
				if (k + 8 > len)
					return -1;
				*want[w] = le64(f + k);
				k += 8;
			}
			return 0;
		}
		i += 4u + len;
	}
	return *uncomp == U32_MAX_FIELD || *comp == U32_MAX_FIELD || *lfh == U32_MAX_FIELD ?
		       -1 : 0;
}

static int by_offset(const void *a, const void *b)
{
	const struct range *x = a, *y = b;

	return x->off < y->off ? -1 : x->off > y->off;
}

int ar_torch_check_archive(const void *data, uint64_t size, char *why, size_t cap)
{
	const uint8_t *p = data;
	uint64_t cd_off = 0, cd_len = 0, entries = 0, pos, total = 0, inflated = 0;
	struct range *r;
	int ret;

	ret = find_cd(p, size, &cd_off, &cd_len, &entries, why, cap);
	if (ret)
		return ret;
	/* Each entry takes a header's bytes of the directory at least. */
	if (entries > cd_len / CDH_LEN)
		return refuse(why, cap, "%llu entries in a %llu-byte central directory",
			      (unsigned long long)entries, (unsigned long long)cd_len);
	r = calloc(entries ? entries : 1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	pos = cd_off;
	for (uint64_t i = 0; i < entries; i++) {
		const uint8_t *h = p + pos;
		uint64_t comp, uncomp, lfh;
		uint32_t nlen, xlen, clen;
		uint16_t method;

		if (!inside(pos, CDH_LEN, cd_off + cd_len) || le32(h) != SIG_CDH) {
			ret = refuse(why, cap, "central directory entry %llu is damaged",
				     (unsigned long long)i);
			goto out;
		}
		method = le16(h + 10);
		comp = le32(h + 20);
		uncomp = le32(h + 24);
		nlen = le16(h + 28);
		xlen = le16(h + 30);
		clen = le16(h + 32);
		lfh = le32(h + 42);
		if (!inside(pos + CDH_LEN, (uint64_t)nlen + xlen + clen, cd_off + cd_len) ||
		    zip64_fields(h + CDH_LEN + nlen, xlen, &uncomp, &comp, &lfh)) {
			ret = refuse(why, cap, "central directory entry %llu is damaged",
				     (unsigned long long)i);
			goto out;
		}
		/* Stored, or deflated (torch.jit.save deflates the code
		 * files, stores the tensors); what an entry inflates to is
		 * what miniz allocates for it, counted below. */
		if ((method != 0 && method != 8) || (method == 0 && comp != uncomp)) {
			ret = refuse(why, cap, "entry '%.*s': method %u, %llu bytes to %llu",
				     (int)(nlen > 64 ? 64 : nlen), (const char *)h + CDH_LEN, method,
				     (unsigned long long)comp, (unsigned long long)uncomp);
			goto out;
		}
		if (__builtin_add_overflow(inflated, uncomp, &inflated) ||
		    inflated > AR_TORCH_MAX_INFLATE(size)) {
			ret = refuse(why, cap, "its entries inflate to more than %llu bytes (%llu "
					       "archived): a zip bomb",
				     (unsigned long long)AR_TORCH_MAX_INFLATE(size),
				     (unsigned long long)size);
			goto out;
		}
		if (!inside(lfh, LFH_LEN, size) || le32(p + lfh) != SIG_LFH ||
		    !inside(lfh + LFH_LEN,
			    (uint64_t)le16(p + lfh + 26) + le16(p + lfh + 28), size)) {
			ret = refuse(why, cap, "entry %llu's local header is out of place",
				     (unsigned long long)i);
			goto out;
		}
		r[i].off = lfh + LFH_LEN + le16(p + lfh + 26) + le16(p + lfh + 28);
		r[i].len = comp;
		if (!inside(r[i].off, r[i].len, size)) {
			ret = refuse(why, cap, "entry %llu's data runs past the archive",
				     (unsigned long long)i);
			goto out;
		}
		pos += CDH_LEN + (uint64_t)nlen + xlen + clen;
	}
	/* Entries that share bytes would load them once per entry: the
	 * same megabytes as a thousand tensors. */
	qsort(r, entries, sizeof(*r), by_offset);
	for (uint64_t i = 0; i < entries; i++) {
		if (i && r[i].off < r[i - 1].off + r[i - 1].len) {
			ret = refuse(why, cap, "two entries share bytes at offset %llu",
				     (unsigned long long)r[i].off);
			goto out;
		}
		total += r[i].len;
	}
	ret = total <= size ? 0 : refuse(why, cap, "entries larger than the archive");
out:
	free(r);
	return ret;
}

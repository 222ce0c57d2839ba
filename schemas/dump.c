/* SPDX-License-Identifier: Apache-2.0 */
/*
 * accelring-dump - print accelring wire messages as JSON, for debugging.
 *
 *   accelring-dump [--framed] [FILE...]
 *
 * Reads each FILE (or stdin) as one raw message, or with --framed as a
 * sequence of frames (little-endian u32 length, then the message), the form
 * stream sockets carry. Exits 1 if any message is invalid.
 */
#include <endian.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <accelring/wire.h>

static int read_all(FILE *f, uint8_t **buf, size_t *len)
{
	size_t cap = 4096, n = 0, got;
	uint8_t *b = malloc(cap);

	while (b && (got = fread(b + n, 1, cap - n, f)) > 0) {
		n += got;
		if (n == cap) {
			uint8_t *nb = realloc(b, cap * 2);

			if (!nb) {
				free(b);
				b = NULL;
				break;
			}
			b = nb;
			cap *= 2;
		}
	}
	if (!b)
		return -ENOMEM;
	*buf = b;
	*len = n;
	return 0;
}

/* Messages must be decoded from 8-byte aligned memory. */
static int dump_one(const uint8_t *p, size_t len, const char *what)
{
	void *copy = aligned_alloc(8, (len + 7) & ~(size_t)7);
	char *json = NULL;
	int ret;

	if (!copy)
		return -ENOMEM;
	memcpy(copy, p, len);
	ret = ar_wire_to_json(copy, len, &json);
	free(copy);
	if (ret) {
		fprintf(stderr, "accelring-dump: %s: not a valid message (%s)\n",
			what, strerror(-ret));
		return ret;
	}
	fputs(json, stdout);
	free(json);
	return 0;
}

static int dump_file(FILE *f, const char *name, int framed)
{
	uint8_t *buf;
	size_t len, off = 0;
	int ret = read_all(f, &buf, &len), bad = 0;

	if (ret) {
		fprintf(stderr, "accelring-dump: %s: %s\n", name, strerror(-ret));
		return 1;
	}
	if (!framed) {
		bad = dump_one(buf, len, name) != 0;
		free(buf);
		return bad;
	}
	while (off < len) {
		uint32_t flen;

		if (len - off < 4) {
			fprintf(stderr, "accelring-dump: %s: truncated frame header at %zu\n",
				name, off);
			bad = 1;
			break;
		}
		memcpy(&flen, buf + off, 4);
		flen = le32toh(flen);
		off += 4;
		if (flen > len - off) {
			fprintf(stderr, "accelring-dump: %s: frame at %zu claims %u bytes, %zu left\n",
				name, off - 4, flen, len - off);
			bad = 1;
			break;
		}
		bad |= dump_one(buf + off, flen, name) != 0;
		off += flen;
	}
	free(buf);
	return bad;
}

int main(int argc, char **argv)
{
	int framed = 0, bad = 0, files = 0;

	for (int i = 1; i < argc; i++) {
		FILE *f;

		if (!strcmp(argv[i], "--framed")) {
			framed = 1;
			continue;
		}
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			printf("usage: accelring-dump [--framed] [FILE...]\n");
			return 0;
		}
		files++;
		f = fopen(argv[i], "rb");
		if (!f) {
			fprintf(stderr, "accelring-dump: %s: %s\n", argv[i],
				strerror(errno));
			bad = 1;
			continue;
		}
		bad |= dump_file(f, argv[i], framed);
		fclose(f);
	}
	if (!files)
		bad = dump_file(stdin, "stdin", framed);
	return bad;
}

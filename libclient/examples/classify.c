/* SPDX-License-Identifier: Apache-2.0 */
/* classify <image> [iterations] - vAccel's image classification example. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vaccel.h>

#define MAX_ITER 1000000ul

static void usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s IMAGE [ITERATIONS]\n"
		"Classifies the image file IMAGE (JPEG or PNG for the torch plugin)\n"
		"ITERATIONS times (1..%lu, default 1) with vaccel_image_classification\n"
		"and prints the first answer: the tags and the image name. The broker is\n"
		"found at $ACCELRING_ADDRESS (else $VACCEL_RPC_ADDRESS, else the default\n"
		"socket).\n",
		prog, MAX_ITER);
}

/* A whole decimal number in [min, max], or -1 (the caller says why). */
static long long parse_count(const char *s, unsigned long min, unsigned long max)
{
	unsigned long v;
	char *end;

	if (*s < '0' || *s > '9')	/* no sign, no space: strtoul takes both */
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	return (long long)v;
}

static int read_file(const char *path, void **buf, size_t *len)
{
	FILE *f = fopen(path, "rb");
	long n;

	if (!f)
		return -1;
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
		fclose(f);
		return -1;
	}
	*buf = malloc(n ? (size_t)n : 1);
	if (!*buf || fread(*buf, 1, (size_t)n, f) != (size_t)n) {
		int err = *buf && ferror(f) ? errno : EIO;

		free(*buf);
		fclose(f);
		errno = err;
		return -1;
	}
	fclose(f);
	*len = (size_t)n;
	return 0;
}

int main(int argc, char **argv)
{
	unsigned char out_text[512], out_imgname[512];
	struct vaccel_session sess;
	long long iter = 1;
	void *img;
	size_t len;
	int ret;

	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		usage(stdout, argv[0]);
		return 0;
	}
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "%s: %s\n", argv[0], argc < 2 ? "IMAGE is missing" : "too many arguments");
		usage(stderr, argv[0]);
		return 2;
	}
	if (argc > 2 && (iter = parse_count(argv[2], 1, MAX_ITER)) < 0) {
		fprintf(stderr, "%s: ITERATIONS must be a whole number from 1 to %lu, not '%s'\n",
			argv[0], MAX_ITER, argv[2]);
		usage(stderr, argv[0]);
		return 2;
	}
	if (read_file(argv[1], &img, &len)) {
		fprintf(stderr, "%s: cannot read %s: %s\n", argv[0], argv[1], strerror(errno));
		return 1;
	}
	ret = vaccel_session_init(&sess, 0);
	if (ret) {
		fprintf(stderr, "Could not initialize session: %s\n", strerror(ret));
		return 1;
	}
	printf("Initialized session with id: %lld\n", (long long)sess.id);
	for (long long i = 0; i < iter; i++) {
		memset(out_text, 0, sizeof(out_text));
		memset(out_imgname, 0, sizeof(out_imgname));
		ret = vaccel_image_classification(&sess, img, out_text, out_imgname,
						  len, sizeof(out_text),
						  sizeof(out_imgname));
		if (ret) {
			fprintf(stderr, "Could not run op: %s\n", strerror(ret));
			break;
		}
		if (i == 0) {
			printf("classification tags: %s\n", out_text);
			printf("classification imagename: %s\n", out_imgname);
		}
	}
	vaccel_session_release(&sess);
	free(img);
	return ret ? 1 : 0;
}

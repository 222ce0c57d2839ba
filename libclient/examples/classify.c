/* SPDX-License-Identifier: Apache-2.0 */
/* classify <image> [iterations] - vAccel's image classification example. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vaccel.h>

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
		fclose(f);
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
	int iter, ret;
	void *img;
	size_t len;

	if (argc < 2) {
		fprintf(stderr, "usage: %s <image> [iterations]\n", argv[0]);
		return 1;
	}
	iter = argc > 2 ? atoi(argv[2]) : 1;
	if (read_file(argv[1], &img, &len)) {
		perror(argv[1]);
		return 1;
	}
	ret = vaccel_session_init(&sess, 0);
	if (ret) {
		fprintf(stderr, "Could not initialize session: %s\n", strerror(ret));
		return 1;
	}
	printf("Initialized session with id: %lld\n", (long long)sess.id);
	for (int i = 0; i < iter; i++) {
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

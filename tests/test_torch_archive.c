/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_torch_archive - the torch plugin's zip check (plugins/torch/
 * archive.h) on real archives: every model torch.jit.save wrote for the
 * tests passes, and so do the same records re-zipped deflated or with
 * ZIP64 headers; what a tenant could upload to make the broker allocate
 * far more than its resource (tests/models/make_archives.py: a deflated
 * 64 MiB record, two entries over the same bytes) is refused with the
 * reason, as are a truncated archive and bytes that are no zip at all.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "archive.h"

#ifndef AR_TEST_MODELS
#error "AR_TEST_MODELS must name the directory of the test models"
#endif

static int check(const char *name, char *why, size_t cap)
{
	char path[512];
	struct stat st;
	void *buf;
	int fd, ret;

	snprintf(path, sizeof(path), "%s/%s", AR_TEST_MODELS, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size);
	assert_non_null(buf);
	assert_int_equal(read(fd, buf, (size_t)st.st_size), st.st_size);
	close(fd);
	why[0] = '\0';
	ret = ar_torch_check_archive(buf, (uint64_t)st.st_size, why, cap);
	free(buf);
	return ret;
}

static void test_archive_real_models_pass(void **state)
{
	static const char *const ok[] = { "tiny.pt", "resnet18.pt", "mobilenet_v3_small.pt",
					  "from_file.pt", "deflated.pt", "zip64.pt" };
	char why[256];

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		int ret = check(ok[i], why, sizeof(why));

		if (ret)
			print_error("%s: %s\n", ok[i], why);
		assert_int_equal(ret, 0);
	}
}

static void test_archive_refuses(void **state)
{
	static const struct {
		const char *name, *why;
	} bad[] = {
		{ "bomb.pt", "zip bomb" },
		{ "overlap.pt", "share bytes" },
		{ "truncated.pt", "no end of central directory" },
		{ "labels.txt", "not a zip archive" },
	};
	char why[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(check(bad[i].name, why, sizeof(why)), -EINVAL);
		if (!strstr(why, bad[i].why))
			print_error("%s: '%s'\n", bad[i].name, why);
		assert_non_null(strstr(why, bad[i].why));
	}
}

/* Every prefix of a real archive, and a few bytes flipped in its central
 * directory: refused or passed, never read out of bounds (ASan runs it). */
static void test_archive_damaged_never_overruns(void **state)
{
	char path[512], why[256];
	struct stat st;
	uint8_t *buf, *cut;
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "%s/tiny.pt", AR_TEST_MODELS);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0 && !fstat(fd, &st));
	buf = malloc((size_t)st.st_size);
	assert_non_null(buf);
	assert_int_equal(read(fd, buf, (size_t)st.st_size), st.st_size);
	close(fd);
	for (off_t n = 0; n < st.st_size; n += 7) {
		/* An exact-size copy: ASan sees any read past its end. */
		cut = malloc(n ? (size_t)n : 1);
		assert_non_null(cut);
		memcpy(cut, buf, (size_t)n);
		(void)ar_torch_check_archive(cut, (uint64_t)n, why, sizeof(why));
		free(cut);
	}
	for (off_t i = st.st_size - 200 > 0 ? st.st_size - 200 : 0; i < st.st_size; i++) {
		for (int v = 0; v < 256; v += 51) {
			uint8_t was = buf[i];

			buf[i] = (uint8_t)v;
			(void)ar_torch_check_archive(buf, (uint64_t)st.st_size, why, sizeof(why));
			buf[i] = was;
		}
	}
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_archive_real_models_pass),
		cmocka_unit_test(test_archive_refuses),
		cmocka_unit_test(test_archive_damaged_never_overruns),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_vaccel_blob - <vaccel/blob.h>: blobs from files and buffers, read
 * (mapped), persisted to files, released; every function with good and
 * bad input. Each test works in a temporary directory of its own, removed
 * afterwards also when the test fails.
 */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

#include <cmocka.h>

#include <vaccel.h>

static char dir[64];
static const uint8_t bytes[] = "the bytes of a blob, not a multiple of eight";

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(p);
}

static int fx_setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_vaccel_blob.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int fx_teardown(void **state)
{
	(void)state;
	return nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* dir/name with n bytes of data; its path in out (PATH_MAX). */
static void write_file(const char *name, const void *data, size_t n, char *out)
{
	FILE *f;

	snprintf(out, PATH_MAX, "%s/%s", dir, name);
	f = fopen(out, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

static int entries(const char *d)
{
	DIR *dp = opendir(d);
	struct dirent *e;
	int n = 0;

	assert_non_null(dp);
	while ((e = readdir(dp)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(dp);
	return n;
}

static bool exists(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0;
}

/* A released (or failed) blob: nothing left, and type MAX. */
static void assert_cleared(const struct vaccel_blob *b)
{
	assert_int_equal(b->type, VACCEL_BLOB_MAX);
	assert_null(b->name);
	assert_null(b->path);
	assert_null(b->data);
	assert_false(b->path_owned);
	assert_false(b->data_owned);
	assert_int_equal(b->size, 0);
}

/* A file blob names the file and is not read until asked; read maps it
 * (once), and release leaves the file, which is not the blob's. */
static void test_vaccel_blob_from_file(void **state)
{
	char path[PATH_MAX];
	struct vaccel_blob b;
	uint8_t *data;
	size_t n = 0;

	(void)state;
	write_file("model.bin", bytes, sizeof(bytes), path);
	assert_int_equal(vaccel_blob_init(&b, path), 0);
	assert_int_equal(b.type, VACCEL_BLOB_FILE);
	assert_string_equal(b.name, "model.bin");
	assert_string_equal(b.path, path);
	assert_ptr_not_equal(b.path, path);
	assert_false(b.path_owned);
	assert_null(b.data);
	assert_false(b.data_owned);
	assert_int_equal(b.size, 0);
	assert_true(vaccel_blob_valid(&b));
	assert_ptr_equal(vaccel_blob_path(&b), b.path);

	assert_int_equal(vaccel_blob_read(&b), 0);
	assert_int_equal(b.type, VACCEL_BLOB_MAPPED);
	assert_false(b.data_owned);
	assert_int_equal(b.size, sizeof(bytes));
	assert_memory_equal(b.data, bytes, sizeof(bytes));
	data = b.data;
	assert_int_equal(vaccel_blob_read(&b), 0);
	assert_ptr_equal(b.data, data);
	assert_ptr_equal(vaccel_blob_data(&b, &n), data);
	assert_int_equal(n, sizeof(bytes));
	assert_ptr_equal(vaccel_blob_data(&b, NULL), data);
	assert_ptr_equal(vaccel_blob_path(&b), b.path);
	assert_true(vaccel_blob_valid(&b));

	assert_int_equal(vaccel_blob_release(&b), 0);
	assert_cleared(&b);
	assert_true(exists(path));
	assert_false(vaccel_blob_valid(&b));
	/* Released means uninitialized. */
	assert_int_equal(vaccel_blob_release(&b), VACCEL_EINVAL);
	assert_int_equal(vaccel_blob_read(&b), VACCEL_EINVAL);
	assert_null(vaccel_blob_data(&b, &n));
	assert_null(vaccel_blob_path(&b));
}

/* vaccel_blob_data reads an unread file blob itself. */
static void test_vaccel_blob_data_reads(void **state)
{
	char path[PATH_MAX];
	struct vaccel_blob *b;
	size_t n = 0;

	(void)state;
	write_file("x", bytes, 5, path);
	assert_int_equal(vaccel_blob_new(&b, path), 0);
	assert_int_equal(b->type, VACCEL_BLOB_FILE);
	assert_memory_equal(vaccel_blob_data(b, &n), bytes, 5);
	assert_int_equal(n, 5);
	assert_int_equal(b->type, VACCEL_BLOB_MAPPED);
	assert_int_equal(vaccel_blob_delete(b), 0);
	assert_true(exists(path));
}

/* Paths that are not regular files, and missing arguments, are refused. */
static void test_vaccel_blob_init_refuses(void **state)
{
	char path[PATH_MAX], empty[PATH_MAX], missing[PATH_MAX];
	struct vaccel_blob b, *pb = NULL;
	size_t n = 7;

	(void)state;
	write_file("f", bytes, 3, path);
	write_file("empty", "", 0, empty);
	snprintf(missing, sizeof(missing), "%s/missing", dir);
	assert_int_equal(vaccel_blob_init(NULL, path), VACCEL_EINVAL);
	assert_int_equal(vaccel_blob_init(&b, NULL), VACCEL_EINVAL);
	assert_int_equal(vaccel_blob_init(&b, missing), VACCEL_EINVAL);
	assert_int_equal(vaccel_blob_init(&b, dir), VACCEL_EINVAL);
	assert_int_equal(vaccel_blob_new(NULL, path), VACCEL_EINVAL);
	assert_int_equal(vaccel_blob_new(&pb, missing), VACCEL_EINVAL);
	assert_int_equal(vaccel_blob_new(&pb, NULL), VACCEL_EINVAL);
	assert_null(pb);

	/* An empty file is a blob, but has no bytes to map. */
	assert_int_equal(vaccel_blob_init(&b, empty), 0);
	assert_int_equal(vaccel_blob_read(&b), VACCEL_EINVAL);
	assert_null(vaccel_blob_data(&b, &n));
	assert_int_equal(n, 7);
	assert_int_equal(b.type, VACCEL_BLOB_FILE);
	assert_int_equal(vaccel_blob_release(&b), 0);
	/* A file removed after init cannot be read. */
	assert_int_equal(vaccel_blob_init(&b, path), 0);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(vaccel_blob_read(&b), ENOENT);
	assert_int_equal(vaccel_blob_release(&b), 0);

	assert_int_equal(vaccel_blob_read(NULL), VACCEL_EINVAL);
	assert_null(vaccel_blob_data(NULL, &n));
	assert_null(vaccel_blob_path(NULL));
	assert_int_equal(vaccel_blob_release(NULL), VACCEL_EINVAL);
	assert_int_equal(vaccel_blob_delete(NULL), VACCEL_EINVAL);
	assert_false(vaccel_blob_valid(NULL));
}

/* A buffer blob without a directory is the caller's memory, or with own a
 * copy of it; it has no path. */
static void test_vaccel_blob_from_buf_memory(void **state)
{
	uint8_t buf[sizeof(bytes)];
	struct vaccel_blob b, *pb;
	size_t n;

	(void)state;
	memcpy(buf, bytes, sizeof(buf));
	assert_int_equal(vaccel_blob_init_from_buf(&b, buf, sizeof(buf), false, "a",
						   NULL, false), 0);
	assert_int_equal(b.type, VACCEL_BLOB_BUFFER);
	assert_ptr_equal(b.data, buf);
	assert_false(b.data_owned);
	assert_int_equal(b.size, sizeof(buf));
	assert_string_equal(b.name, "a");
	assert_null(b.path);
	assert_null(vaccel_blob_path(&b));
	assert_ptr_equal(vaccel_blob_data(&b, &n), buf);
	assert_int_equal(n, sizeof(buf));
	assert_int_equal(vaccel_blob_read(&b), 0);
	assert_true(vaccel_blob_valid(&b));
	assert_int_equal(vaccel_blob_release(&b), 0);
	assert_cleared(&b);
	assert_memory_equal(buf, bytes, sizeof(buf));

	assert_int_equal(vaccel_blob_from_buf(&pb, buf, sizeof(buf), true, "b", NULL,
					      true), 0);
	assert_int_equal(pb->type, VACCEL_BLOB_BUFFER);
	assert_ptr_not_equal(pb->data, buf);
	assert_true(pb->data_owned);
	assert_memory_equal(pb->data, bytes, sizeof(bytes));
	memset(buf, 0, sizeof(buf));
	assert_memory_equal(pb->data, bytes, sizeof(bytes));
	assert_null(pb->path);
	assert_int_equal(vaccel_blob_delete(pb), 0);
	assert_int_equal(entries(dir), 0);
}

/* With a directory the bytes go to a new file there, mapped in their
 * place; a name already taken gets a random part, and release removes the
 * blob's file. */
static void test_vaccel_blob_from_buf_persisted(void **state)
{
	char path[PATH_MAX];
	struct vaccel_blob b, *pb, *pr;

	(void)state;
	snprintf(path, sizeof(path), "%s/file", dir);
	assert_int_equal(vaccel_blob_init_from_buf(&b, bytes, sizeof(bytes), false,
						   "file", dir, false), 0);
	assert_int_equal(b.type, VACCEL_BLOB_MAPPED);
	assert_string_equal(b.name, "file");
	assert_string_equal(b.path, path);
	assert_true(b.path_owned);
	assert_true(b.data_owned);
	assert_ptr_not_equal(b.data, bytes);
	assert_int_equal(b.size, sizeof(bytes));
	assert_memory_equal(b.data, bytes, sizeof(bytes));
	assert_string_equal(vaccel_blob_path(&b), path);
	assert_true(vaccel_blob_valid(&b));
	/* The file holds the bytes (read through a second blob). */
	assert_int_equal(vaccel_blob_new(&pr, path), 0);
	assert_memory_equal(vaccel_blob_data(pr, NULL), bytes, sizeof(bytes));
	assert_int_equal(vaccel_blob_delete(pr), 0);

	/* "file" exists: the second one is file_XXXXXX, and named so. */
	assert_int_equal(vaccel_blob_from_buf(&pb, bytes, 4, true, "file", dir, false), 0);
	assert_int_equal(pb->type, VACCEL_BLOB_MAPPED);
	assert_string_not_equal(pb->path, path);
	assert_int_equal(strncmp(pb->path, path, strlen(path)), 0);
	assert_int_equal(strlen(pb->path), strlen(path) + 7);
	assert_int_equal(strncmp(pb->name, "file_", 5), 0);
	assert_string_equal(pb->name, strrchr(pb->path, '/') + 1);
	assert_int_equal(pb->size, 4);
	assert_int_equal(entries(dir), 2);
	assert_int_equal(vaccel_blob_delete(pb), 0);
	assert_int_equal(entries(dir), 1);

	assert_int_equal(vaccel_blob_release(&b), 0);
	assert_cleared(&b);
	assert_false(exists(path));
	assert_int_equal(entries(dir), 0);
}

/* randomize puts the random part before the extension, always. */
static void test_vaccel_blob_randomized_name(void **state)
{
	struct vaccel_blob b;
	const char *base;

	(void)state;
	assert_int_equal(vaccel_blob_init_from_buf(&b, bytes, 8, false, "lib.so", dir,
						   true), 0);
	base = strrchr(b.path, '/') + 1;
	assert_int_equal(strlen(base), strlen("lib_XXXXXX.so"));
	assert_int_equal(strncmp(base, "lib_", 4), 0);
	assert_string_equal(base + 10, ".so");
	assert_string_equal(b.name, base);
	assert_int_equal(vaccel_blob_release(&b), 0);
	assert_int_equal(entries(dir), 0);
}

/* Bad buffers, names and directories are refused, and a refused blob is
 * left uninitialized with nothing made. */
static void test_vaccel_blob_from_buf_refuses(void **state)
{
	char missing[PATH_MAX];
	struct vaccel_blob b, *pb = NULL;

	(void)state;
	snprintf(missing, sizeof(missing), "%s/missing", dir);
	assert_int_equal(vaccel_blob_init_from_buf(NULL, bytes, 4, false, "f", NULL,
						   false), VACCEL_EINVAL);
	assert_int_equal(vaccel_blob_init_from_buf(&b, NULL, 4, false, "f", NULL, false),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_blob_init_from_buf(&b, bytes, 0, false, "f", NULL, false),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_blob_init_from_buf(&b, bytes, 4, false, NULL, NULL, false),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_blob_init_from_buf(&b, bytes, 4, true, "f", missing,
						   false), VACCEL_ENOENT);
	assert_cleared(&b);
	assert_int_equal(vaccel_blob_release(&b), VACCEL_EINVAL);
	assert_int_equal(vaccel_blob_init_from_buf(&b, bytes, 4, false, "../escape", dir,
						   false), VACCEL_EINVAL);
	assert_int_equal(vaccel_blob_init_from_buf(&b, bytes, 4, false, "", dir, false),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_blob_from_buf(NULL, bytes, 4, false, "f", NULL, false),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_blob_from_buf(&pb, NULL, 4, false, "f", NULL, false),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_blob_from_buf(&pb, bytes, 4, false, "f", missing, true),
			 VACCEL_ENOENT);
	assert_null(pb);
	assert_int_equal(entries(dir), 0);
}

/* persist turns a buffer blob into a file blob of ours, once; a blob that
 * has a file already, or no bytes, cannot be persisted. */
static void test_vaccel_blob_persist(void **state)
{
	char path[PATH_MAX], missing[PATH_MAX], fpath[PATH_MAX];
	struct vaccel_blob *pb, f;
	uint8_t *copy;

	(void)state;
	snprintf(missing, sizeof(missing), "%s/missing", dir);
	assert_int_equal(vaccel_blob_from_buf(&pb, bytes, sizeof(bytes), true, "orig",
					      NULL, false), 0);
	copy = pb->data;
	assert_int_equal(vaccel_blob_persist(NULL, dir, "p", false), VACCEL_EINVAL);
	assert_int_equal(vaccel_blob_persist(pb, dir, NULL, false), VACCEL_EINVAL);
	assert_int_equal(vaccel_blob_persist(pb, dir, "a/b", false), VACCEL_EINVAL);
	assert_int_equal(vaccel_blob_persist(pb, NULL, "p", false), VACCEL_ENOENT);
	assert_int_equal(vaccel_blob_persist(pb, missing, "p", false), VACCEL_ENOENT);
	/* Refusals change nothing. */
	assert_int_equal(pb->type, VACCEL_BLOB_BUFFER);
	assert_ptr_equal(pb->data, copy);
	assert_string_equal(pb->name, "orig");

	assert_int_equal(vaccel_blob_persist(pb, dir, "p", false), 0);
	snprintf(path, sizeof(path), "%s/p", dir);
	assert_int_equal(pb->type, VACCEL_BLOB_MAPPED);
	assert_string_equal(pb->path, path);
	assert_string_equal(pb->name, "p");
	assert_true(pb->path_owned);
	assert_true(pb->data_owned);
	assert_memory_equal(pb->data, bytes, sizeof(bytes));
	assert_true(exists(path));
	assert_int_equal(vaccel_blob_persist(pb, dir, "q", false), VACCEL_EEXIST);
	assert_int_equal(entries(dir), 1);
	assert_int_equal(vaccel_blob_delete(pb), 0);
	assert_false(exists(path));

	/* A file blob has no bytes until read, then a path. */
	write_file("f", bytes, 6, fpath);
	assert_int_equal(vaccel_blob_init(&f, fpath), 0);
	assert_int_equal(vaccel_blob_persist(&f, dir, "g", false), VACCEL_EINVAL);
	assert_int_equal(vaccel_blob_read(&f), 0);
	assert_int_equal(vaccel_blob_persist(&f, dir, "g", false), VACCEL_EEXIST);
	assert_int_equal(vaccel_blob_release(&f), 0);
	assert_int_equal(entries(dir), 1);
}

/* valid: initialized, with what the type needs. */
static void test_vaccel_blob_valid(void **state)
{
	struct vaccel_blob b;
	char *saved;

	(void)state;
	assert_int_equal(vaccel_blob_init_from_buf(&b, bytes, 4, false, "v", NULL,
						   false), 0);
	assert_true(vaccel_blob_valid(&b));
	b.size = 0;
	assert_false(vaccel_blob_valid(&b));
	b.size = 4;
	saved = b.name;
	b.name = NULL;
	assert_false(vaccel_blob_valid(&b));
	b.name = saved;
	b.type = VACCEL_BLOB_MAPPED;	/* mapped without a file */
	assert_false(vaccel_blob_valid(&b));
	b.type = VACCEL_BLOB_FILE;	/* a file without a path */
	assert_false(vaccel_blob_valid(&b));
	b.type = VACCEL_BLOB_BUFFER;
	assert_int_equal(vaccel_blob_release(&b), 0);
	assert_false(vaccel_blob_valid(&b));
}

/* delete of a blob that cannot be released keeps it (the caller frees). */
static void test_vaccel_blob_delete_refused(void **state)
{
	struct vaccel_blob *pb;

	(void)state;
	assert_int_equal(vaccel_blob_from_buf(&pb, bytes, 4, true, "d", NULL, false), 0);
	assert_int_equal(vaccel_blob_release(pb), 0);
	assert_int_equal(vaccel_blob_delete(pb), VACCEL_EINVAL);
	assert_int_equal(pb->type, VACCEL_BLOB_MAX);
	free(pb);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_vaccel_blob_from_file),
		T(test_vaccel_blob_data_reads),
		T(test_vaccel_blob_init_refuses),
		T(test_vaccel_blob_from_buf_memory),
		T(test_vaccel_blob_from_buf_persisted),
		T(test_vaccel_blob_randomized_name),
		T(test_vaccel_blob_from_buf_refuses),
		T(test_vaccel_blob_persist),
		T(test_vaccel_blob_valid),
		T(test_vaccel_blob_delete_refused),
	};

	return cmocka_run_group_tests_name("vaccel_blob", tests, NULL, NULL);
}

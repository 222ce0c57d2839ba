/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_vaccel_resource - <vaccel/resource.h> against a real accelringd:
 * resources from files, directories, URLs, buffers and blobs; the
 * process-wide registry; registration with sessions (both sides' lists,
 * the refcount), from one thread and from many. Every function with good
 * and bad input.
 */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <vaccel.h>

#include "broker_harness.h"

static struct test_broker broker;
static char dir[64];
static const uint8_t bytes[] = "resource bytes";

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
	snprintf(dir, sizeof(dir), "/tmp/test_vaccel_resource.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int fx_teardown(void **state)
{
	(void)state;
	return nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* dir/name (its parent made if need be) with n bytes; the path in out. */
static void write_file(const char *name, size_t n, char *out)
{
	FILE *f;
	char *slash;

	snprintf(out, PATH_MAX, "%s/%s", dir, name);
	slash = strrchr(out, '/');
	*slash = '\0';
	mkdir(out, 0700);
	*slash = '/';
	f = fopen(out, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(bytes, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

static bool is_dir(const char *p)
{
	struct stat st;

	return p && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool exists(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0;
}

/* A released resource: nothing left, out of the registry. */
static void assert_released(const struct vaccel_resource *r, vaccel_id_t id)
{
	struct vaccel_resource *found;

	assert_true(r->id <= 0);
	assert_null(r->paths);
	assert_int_equal(r->nr_paths, 0);
	assert_null(r->blobs);
	assert_int_equal(r->nr_blobs, 0);
	assert_null(r->rundir);
	assert_ptr_equal(r->entry.next, &r->entry);
	assert_int_equal(vaccel_resource_get_by_id(&found, id), VACCEL_ENOENT);
}

/* A file resource: paths copied, nothing made until it is registered; the
 * first registration makes its blobs and its rundir under the process's
 * run directory; registering again changes nothing; unregister and release
 * undo it all. Ids start at 1. */
static void test_vaccel_resource_file_lifecycle(void **state)
{
	char path[PATH_MAX], rundir[PATH_MAX];
	struct vaccel_resource res, *found;
	struct vaccel_session sess;
	vaccel_id_t id;

	(void)state;
	write_file("lib.so", sizeof(bytes), path);
	assert_int_equal(vaccel_session_init(&sess, 0), 0);
	assert_int_equal(vaccel_resource_init(&res, path, VACCEL_RESOURCE_LIB), 0);
	assert_int_equal(res.id, 1);
	id = res.id;
	assert_int_equal(res.remote_id, 0);
	assert_int_equal(res.type, VACCEL_RESOURCE_LIB);
	assert_int_equal(res.path_type, VACCEL_PATH_LOCAL_FILE);
	assert_int_equal(res.nr_paths, 1);
	assert_string_equal(res.paths[0], path);
	assert_null(res.blobs);
	assert_int_equal(res.nr_blobs, 0);
	assert_null(res.rundir);
	assert_int_equal(vaccel_resource_refcount(&res), 0);
	assert_int_equal(vaccel_resource_get_by_id(&found, id), 0);
	assert_ptr_equal(found, &res);
	assert_false(vaccel_session_has_resource(&sess, &res));

	assert_int_equal(vaccel_resource_register(&res, &sess), 0);
	assert_int_equal(res.nr_blobs, 1);
	assert_int_equal(res.blobs[0]->type, VACCEL_BLOB_FILE);
	assert_string_equal(res.blobs[0]->path, path);
	snprintf(rundir, sizeof(rundir), "%s/resource.%" PRId64, vaccel_rundir(), id);
	assert_string_equal(res.rundir, rundir);
	assert_true(is_dir(rundir));
	assert_int_equal(vaccel_resource_refcount(&res), 1);
	assert_true(vaccel_session_has_resource(&sess, &res));
	assert_int_equal(sess.resource_counts[VACCEL_RESOURCE_LIB], 1);

	/* Twice: a no-op. */
	assert_int_equal(vaccel_resource_register(&res, &sess), 0);
	assert_int_equal(vaccel_resource_refcount(&res), 1);
	assert_int_equal(sess.resource_counts[VACCEL_RESOURCE_LIB], 1);
	assert_int_equal(res.nr_blobs, 1);

	assert_int_equal(vaccel_resource_unregister(&res, &sess), 0);
	assert_int_equal(vaccel_resource_refcount(&res), 0);
	assert_false(vaccel_session_has_resource(&sess, &res));
	assert_int_equal(sess.resource_counts[VACCEL_RESOURCE_LIB], 0);
	assert_int_equal(vaccel_resource_unregister(&res, &sess), VACCEL_EINVAL);

	assert_int_equal(vaccel_resource_release(&res), 0);
	assert_released(&res, id);
	assert_false(exists(rundir));
	assert_true(exists(path));
	assert_int_equal(vaccel_resource_release(&res), VACCEL_EINVAL);
	assert_int_equal(vaccel_resource_register(&res, &sess), VACCEL_EINVAL);
	assert_int_equal(vaccel_resource_unregister(&res, &sess), VACCEL_EINVAL);
	assert_int_equal(vaccel_session_release(&sess), 0);
}

/* What a path may be: a file (also as file://), a directory, a URL; not a
 * missing path, another scheme, or a URL without a host. */
static void test_vaccel_resource_paths(void **state)
{
	char path[PATH_MAX], uri[PATH_MAX + 8], missing[PATH_MAX];
	const char *url = "https://example.com/models/m.pb";
	struct vaccel_resource res;
	struct vaccel_session sess;

	(void)state;
	write_file("m.pt", 4, path);
	snprintf(uri, sizeof(uri), "file://%s", path);
	snprintf(missing, sizeof(missing), "%s/missing", dir);

	assert_int_equal(vaccel_resource_init(&res, uri, VACCEL_RESOURCE_MODEL), 0);
	assert_int_equal(res.path_type, VACCEL_PATH_LOCAL_FILE);
	assert_string_equal(res.paths[0], path);
	assert_int_equal(vaccel_resource_release(&res), 0);

	assert_int_equal(vaccel_resource_init(&res, dir, VACCEL_RESOURCE_DATA), 0);
	assert_int_equal(res.path_type, VACCEL_PATH_LOCAL_DIR);
	assert_int_equal(vaccel_resource_release(&res), 0);

	/* A URL is kept as it is, and nothing is fetched: a resource's
	 * content must reach the broker, and this build fetches no URL
	 * (upstream without libcurl): registering it is VACCEL_ENOTSUP. */
	assert_int_equal(vaccel_session_init(&sess, 0), 0);
	assert_int_equal(vaccel_resource_init(&res, url, VACCEL_RESOURCE_MODEL), 0);
	assert_int_equal(res.path_type, VACCEL_PATH_REMOTE_FILE);
	assert_string_equal(res.paths[0], url);
	assert_int_equal(vaccel_resource_register(&res, &sess), VACCEL_ENOTSUP);
	assert_false(vaccel_session_has_resource(&sess, &res));
	assert_null(res.blobs);
	assert_null(res.rundir);
	assert_int_equal(vaccel_resource_release(&res), 0);
	assert_false(vaccel_session_has_resource(&sess, &res));
	assert_int_equal(vaccel_session_release(&sess), 0);

	assert_int_equal(vaccel_resource_init(&res, missing, VACCEL_RESOURCE_MODEL),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_resource_init(&res, "s3://bucket/m.pb",
					      VACCEL_RESOURCE_MODEL), VACCEL_EINVAL);
	assert_int_equal(vaccel_resource_init(&res, "https://", VACCEL_RESOURCE_MODEL),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_resource_init(&res, "https:///x", VACCEL_RESOURCE_MODEL),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_resource_init(&res, "file:///nonexistent/x",
					      VACCEL_RESOURCE_MODEL), VACCEL_EINVAL);
	assert_int_equal(vaccel_resource_init(&res, "/dev/null", VACCEL_RESOURCE_MODEL),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_resource_init(&res, NULL, VACCEL_RESOURCE_MODEL),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_resource_init(NULL, path, VACCEL_RESOURCE_MODEL),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_resource_init(&res, path, VACCEL_RESOURCE_MAX),
			 VACCEL_EINVAL);
}

/* Several paths must be of one type, with at most one directory. */
static void test_vaccel_resource_multi(void **state)
{
	char a[PATH_MAX], b[PATH_MAX];
	const char *files[2] = { a, b }, *file_dir[2] = { a, dir },
		   *dir_file[2] = { dir, a }, *with_null[2] = { a, NULL },
		   *file_url[2] = { a, "http://example.com/x" };
	struct vaccel_resource res, *pr = NULL;

	(void)state;
	write_file("a", 3, a);
	write_file("b", 5, b);
	assert_int_equal(vaccel_resource_init_multi(&res, files, 2, VACCEL_RESOURCE_DATA),
			 0);
	assert_int_equal(res.nr_paths, 2);
	assert_string_equal(res.paths[0], a);
	assert_string_equal(res.paths[1], b);
	assert_int_equal(vaccel_resource_release(&res), 0);

	assert_int_equal(vaccel_resource_multi_new(&pr, files, 2, VACCEL_RESOURCE_DATA), 0);
	assert_non_null(pr);
	assert_int_equal(pr->nr_paths, 2);
	assert_int_equal(vaccel_resource_delete(pr), 0);

	assert_int_equal(vaccel_resource_init_multi(&res, file_dir, 2,
						    VACCEL_RESOURCE_DATA), VACCEL_ENOTSUP);
	assert_int_equal(vaccel_resource_init_multi(&res, dir_file, 2,
						    VACCEL_RESOURCE_DATA), VACCEL_EINVAL);
	assert_int_equal(vaccel_resource_init_multi(&res, file_url, 2,
						    VACCEL_RESOURCE_DATA), VACCEL_EINVAL);
	assert_int_equal(vaccel_resource_init_multi(&res, with_null, 2,
						    VACCEL_RESOURCE_DATA), VACCEL_EINVAL);
	assert_int_equal(vaccel_resource_init_multi(&res, files, 0, VACCEL_RESOURCE_DATA),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_resource_init_multi(&res, NULL, 2, VACCEL_RESOURCE_DATA),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_resource_multi_new(NULL, files, 2, VACCEL_RESOURCE_DATA),
			 VACCEL_EINVAL);
	pr = NULL;
	assert_int_equal(vaccel_resource_multi_new(&pr, files, 0, VACCEL_RESOURCE_DATA),
			 VACCEL_EINVAL);
	assert_null(pr);
	assert_int_equal(vaccel_resource_new(&pr, "s3://x/y", VACCEL_RESOURCE_DATA),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_resource_new(NULL, a, VACCEL_RESOURCE_DATA), VACCEL_EINVAL);
	assert_int_equal(vaccel_resource_new(&pr, a, VACCEL_RESOURCE_DATA), 0);
	assert_int_equal(vaccel_resource_delete(pr), 0);
	assert_int_equal(vaccel_resource_delete(NULL), VACCEL_EINVAL);
}

/* A directory resource's blobs are every file under it, subdirectories
 * included; its directory is its path. */
static void test_vaccel_resource_directory(void **state)
{
	char p[PATH_MAX], out[PATH_MAX], small[8], *alloc = NULL;
	struct vaccel_resource res, file_res;
	struct vaccel_session sess;
	int seen = 0;

	(void)state;
	write_file("v/variables.index", 2, p);
	write_file("v/variables.data", 3, p);
	write_file("v/sub/deep", 4, p);
	snprintf(p, sizeof(p), "%s/v", dir);
	assert_int_equal(vaccel_session_init(&sess, 0), 0);
	assert_int_equal(vaccel_resource_init(&res, p, VACCEL_RESOURCE_MODEL), 0);
	assert_int_equal(vaccel_resource_register(&res, &sess), 0);
	assert_int_equal(res.nr_blobs, 3);
	assert_null(res.rundir);
	for (size_t i = 0; i < res.nr_blobs; i++) {
		assert_int_equal(res.blobs[i]->type, VACCEL_BLOB_FILE);
		seen |= !strcmp(res.blobs[i]->name, "variables.index") << 0 |
			!strcmp(res.blobs[i]->name, "variables.data") << 1 |
			!strcmp(res.blobs[i]->name, "deep") << 2;
	}
	assert_int_equal(seen, 7);

	assert_int_equal(vaccel_resource_directory(&res, out, sizeof(out), NULL), 0);
	assert_string_equal(out, p);
	assert_int_equal(vaccel_resource_directory(&res, NULL, 0, &alloc), 0);
	assert_string_equal(alloc, p);
	free(alloc);
	assert_int_equal(vaccel_resource_directory(&res, small, sizeof(small), NULL),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_resource_directory(&res, NULL, 0, NULL), VACCEL_EINVAL);
	assert_int_equal(vaccel_resource_directory(NULL, out, sizeof(out), NULL),
			 VACCEL_EINVAL);

	write_file("f", 1, p);
	assert_int_equal(vaccel_resource_init(&file_res, p, VACCEL_RESOURCE_DATA), 0);
	assert_int_equal(vaccel_resource_directory(&file_res, out, sizeof(out), NULL),
			 VACCEL_ENOTSUP);
	assert_int_equal(vaccel_resource_release(&file_res), 0);
	assert_int_equal(vaccel_resource_directory(&file_res, out, sizeof(out), NULL),
			 VACCEL_EINVAL);

	/* Releasing a registered resource unregisters it. */
	assert_int_equal(vaccel_resource_release(&res), 0);
	assert_int_equal(sess.resource_counts[VACCEL_RESOURCE_MODEL], 0);
	assert_int_equal(vaccel_session_release(&sess), 0);
}

/* From a buffer: persisted in its rundir (as filename, or "file" with a
 * random part), or with mem_only the caller's bytes themselves. Only a
 * registered buffer resource syncs. */
static void test_vaccel_resource_from_buf(void **state)
{
	struct vaccel_resource res, mem, *pr = NULL;
	struct vaccel_session sess;
	char rundir[PATH_MAX], file[PATH_MAX + 8];
	const char *base;

	(void)state;
	assert_int_equal(vaccel_session_init(&sess, 0), 0);
	assert_int_equal(vaccel_resource_init_from_buf(&res, bytes, sizeof(bytes),
						       VACCEL_RESOURCE_LIB, "lib.so",
						       false), 0);
	assert_int_equal(res.path_type, VACCEL_PATH_LOCAL_FILE);
	assert_null(res.paths);
	assert_int_equal(res.nr_blobs, 1);
	snprintf(rundir, sizeof(rundir), "%s/resource.%" PRId64, vaccel_rundir(), res.id);
	assert_string_equal(res.rundir, rundir);
	snprintf(file, sizeof(file), "%s/lib.so", rundir);
	assert_int_equal(res.blobs[0]->type, VACCEL_BLOB_MAPPED);
	assert_string_equal(res.blobs[0]->path, file);
	assert_memory_equal(res.blobs[0]->data, bytes, sizeof(bytes));

	assert_int_equal(vaccel_resource_init_from_buf(&mem, bytes, sizeof(bytes),
						       VACCEL_RESOURCE_DATA, NULL, true), 0);
	assert_null(mem.rundir);
	assert_int_equal(mem.blobs[0]->type, VACCEL_BLOB_BUFFER);
	assert_ptr_equal(mem.blobs[0]->data, bytes);
	assert_string_equal(mem.blobs[0]->name, "file");

	assert_int_equal(vaccel_resource_sync(&mem, &sess), VACCEL_EPERM);
	assert_int_equal(vaccel_resource_register(&mem, &sess), 0);
	assert_int_equal(vaccel_resource_register(&res, &sess), 0);
	assert_int_equal(vaccel_resource_sync(&mem, &sess), 0);
	assert_int_equal(vaccel_resource_sync(&res, &sess), VACCEL_EINVAL);
	assert_int_equal(vaccel_resource_sync(NULL, &sess), VACCEL_EINVAL);
	assert_int_equal(vaccel_resource_sync(&mem, NULL), VACCEL_EINVAL);

	assert_int_equal(vaccel_resource_release(&res), 0);
	assert_false(exists(file));
	assert_false(exists(rundir));
	assert_int_equal(vaccel_resource_release(&mem), 0);
	assert_int_equal(vaccel_resource_sync(&mem, &sess), VACCEL_EINVAL);

	/* No name: "file" with a random part. */
	assert_int_equal(vaccel_resource_from_buf(&pr, bytes, 3, VACCEL_RESOURCE_DATA,
						  NULL, false), 0);
	base = strrchr(pr->blobs[0]->path, '/') + 1;
	assert_int_equal(strncmp(base, "file_", 5), 0);
	assert_int_equal(strlen(base), strlen("file_XXXXXX"));
	assert_int_equal(vaccel_resource_delete(pr), 0);

	pr = NULL;
	assert_int_equal(vaccel_resource_init_from_buf(NULL, bytes, 3,
						       VACCEL_RESOURCE_DATA, "x", true),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_resource_init_from_buf(&res, NULL, 3,
						       VACCEL_RESOURCE_DATA, "x", true),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_resource_init_from_buf(&res, bytes, 0,
						       VACCEL_RESOURCE_DATA, "x", true),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_resource_init_from_buf(&res, bytes, 3,
						       VACCEL_RESOURCE_MAX, "x", true),
			 VACCEL_EINVAL);
	/* A bad name fails in the blob, and nothing is left. */
	assert_int_equal(vaccel_resource_init_from_buf(&res, bytes, 3,
						       VACCEL_RESOURCE_DATA, "a/b", false),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_resource_from_buf(NULL, bytes, 3, VACCEL_RESOURCE_DATA,
						  "x", true), VACCEL_EINVAL);
	assert_int_equal(vaccel_resource_from_buf(&pr, bytes, 0, VACCEL_RESOURCE_DATA,
						  "x", true), VACCEL_EINVAL);
	assert_null(pr);
	assert_int_equal(vaccel_session_release(&sess), 0);
}

/* From blobs: copies of them (a file by its path, a buffer as it is, a
 * mapped one persisted again in the resource's rundir). */
static void test_vaccel_resource_from_blobs(void **state)
{
	char path[PATH_MAX];
	struct vaccel_blob file, buf, mapped, bad;
	const struct vaccel_blob *all[3] = { &file, &buf, &mapped };
	const struct vaccel_blob *bufs[1] = { &buf }, *with_bad[2] = { &file, &bad };
	struct vaccel_resource res, *pr = NULL;

	(void)state;
	write_file("w", 6, path);
	assert_int_equal(vaccel_blob_init(&file, path), 0);
	assert_int_equal(vaccel_blob_init_from_buf(&buf, bytes, 4, true, "buf", NULL,
						   false), 0);
	assert_int_equal(vaccel_blob_init_from_buf(&mapped, bytes, 5, false, "map", dir,
						   false), 0);
	assert_int_equal(vaccel_blob_init(&bad, path), 0);
	assert_int_equal(vaccel_blob_release(&bad), 0);

	assert_int_equal(vaccel_resource_init_from_blobs(&res, all, 3,
							 VACCEL_RESOURCE_MODEL), 0);
	assert_int_equal(res.nr_blobs, 3);
	assert_null(res.paths);
	assert_true(is_dir(res.rundir));
	assert_int_equal(res.blobs[0]->type, VACCEL_BLOB_FILE);
	assert_string_equal(res.blobs[0]->path, path);
	assert_int_equal(res.blobs[1]->type, VACCEL_BLOB_BUFFER);
	assert_ptr_not_equal(res.blobs[1]->data, buf.data);	/* owned: copied */
	assert_memory_equal(res.blobs[1]->data, bytes, 4);
	assert_int_equal(res.blobs[2]->type, VACCEL_BLOB_MAPPED);
	assert_int_equal(strncmp(res.blobs[2]->path, res.rundir, strlen(res.rundir)), 0);
	assert_memory_equal(res.blobs[2]->data, bytes, 5);
	assert_int_equal(vaccel_resource_release(&res), 0);
	/* The originals are untouched. */
	assert_true(vaccel_blob_valid(&file));
	assert_true(vaccel_blob_valid(&buf));
	assert_true(vaccel_blob_valid(&mapped));
	assert_true(exists(mapped.path));

	assert_int_equal(vaccel_resource_from_blobs(&pr, bufs, 1, VACCEL_RESOURCE_DATA), 0);
	assert_null(pr->rundir);
	assert_int_equal(vaccel_resource_delete(pr), 0);

	pr = NULL;
	assert_int_equal(vaccel_resource_init_from_blobs(&res, with_bad, 2,
							 VACCEL_RESOURCE_DATA), VACCEL_EINVAL);
	assert_int_equal(vaccel_resource_init_from_blobs(&res, all, 0,
							 VACCEL_RESOURCE_DATA), VACCEL_EINVAL);
	assert_int_equal(vaccel_resource_init_from_blobs(&res, NULL, 1,
							 VACCEL_RESOURCE_DATA), VACCEL_EINVAL);
	assert_int_equal(vaccel_resource_init_from_blobs(NULL, all, 3,
							 VACCEL_RESOURCE_DATA), VACCEL_EINVAL);
	assert_int_equal(vaccel_resource_init_from_blobs(&res, all, 3,
							 VACCEL_RESOURCE_MAX), VACCEL_EINVAL);
	assert_int_equal(vaccel_resource_from_blobs(NULL, all, 3, VACCEL_RESOURCE_DATA),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_resource_from_blobs(&pr, with_bad, 2,
						    VACCEL_RESOURCE_DATA), VACCEL_EINVAL);
	assert_null(pr);
	assert_int_equal(vaccel_blob_release(&file), 0);
	assert_int_equal(vaccel_blob_release(&buf), 0);
	assert_int_equal(vaccel_blob_release(&mapped), 0);
}

/* One resource with two sessions: each session lists it, the refcount
 * counts both; a session's release unregisters it from that one; the
 * resource's release from the rest. */
static void test_vaccel_resource_two_sessions(void **state)
{
	struct vaccel_session s1, s2, gone;
	struct vaccel_resource res;

	(void)state;
	assert_int_equal(vaccel_session_init(&s1, 0), 0);
	assert_int_equal(vaccel_session_init(&s2, 0), 0);
	assert_int_equal(vaccel_session_init(&gone, 0), 0);
	assert_int_equal(vaccel_session_release(&gone), 0);
	assert_int_equal(vaccel_resource_init_from_buf(&res, bytes, 4, VACCEL_RESOURCE_DATA,
						       "d", true), 0);
	assert_int_equal(vaccel_resource_register(&res, &s1), 0);
	assert_int_equal(vaccel_resource_register(&res, &s2), 0);
	assert_int_equal(vaccel_resource_refcount(&res), 2);
	assert_true(vaccel_session_has_resource(&s1, &res));
	assert_true(vaccel_session_has_resource(&s2, &res));
	assert_int_equal(vaccel_resource_register(&res, &gone), VACCEL_EINVAL);
	assert_int_equal(vaccel_resource_register(NULL, &s1), VACCEL_EINVAL);
	assert_int_equal(vaccel_resource_register(&res, NULL), VACCEL_EINVAL);
	assert_int_equal(vaccel_resource_unregister(NULL, &s1), VACCEL_EINVAL);
	assert_int_equal(vaccel_resource_unregister(&res, NULL), VACCEL_EINVAL);
	assert_int_equal(vaccel_resource_unregister(&res, &gone), VACCEL_EINVAL);

	assert_int_equal(vaccel_session_release(&s1), 0);
	assert_int_equal(vaccel_resource_refcount(&res), 1);
	assert_false(vaccel_session_has_resource(&s1, &res));
	assert_true(vaccel_session_has_resource(&s2, &res));

	assert_int_equal(vaccel_resource_release(&res), 0);
	assert_int_equal(s2.resource_counts[VACCEL_RESOURCE_DATA], 0);
	assert_ptr_equal(s2.resources[VACCEL_RESOURCE_DATA].next,
			 &s2.resources[VACCEL_RESOURCE_DATA]);
	assert_int_equal(vaccel_resource_refcount(&res), 0);
	assert_int_equal(vaccel_resource_refcount(NULL), -VACCEL_EINVAL);
	assert_int_equal(vaccel_session_release(&s2), 0);
}

/* The registry: by id, by type (oldest first), all of a type. */
static void test_vaccel_resource_registry(void **state)
{
	struct vaccel_resource a, b, c, *found, **all = NULL;
	size_t n = 99;

	(void)state;
	assert_int_equal(vaccel_resource_get_all_by_type(&all, &n, VACCEL_RESOURCE_MODEL),
			 VACCEL_ENOENT);
	assert_int_equal(n, 0);
	assert_int_equal(vaccel_resource_get_by_type(&found, VACCEL_RESOURCE_MODEL),
			 VACCEL_ENOENT);
	assert_int_equal(vaccel_resource_init_from_buf(&a, bytes, 1, VACCEL_RESOURCE_MODEL,
						       "a", true), 0);
	assert_int_equal(vaccel_resource_init_from_buf(&b, bytes, 1, VACCEL_RESOURCE_LIB,
						       "b", true), 0);
	assert_int_equal(vaccel_resource_init_from_buf(&c, bytes, 1, VACCEL_RESOURCE_MODEL,
						       "c", true), 0);
	assert_true(a.id < b.id && b.id < c.id);

	assert_int_equal(vaccel_resource_get_by_id(&found, b.id), 0);
	assert_ptr_equal(found, &b);
	assert_int_equal(vaccel_resource_get_by_id(&found, 0), VACCEL_ENOENT);
	assert_int_equal(vaccel_resource_get_by_id(NULL, b.id), VACCEL_EINVAL);
	assert_int_equal(vaccel_resource_get_by_type(&found, VACCEL_RESOURCE_MODEL), 0);
	assert_ptr_equal(found, &a);
	assert_int_equal(vaccel_resource_get_by_type(NULL, VACCEL_RESOURCE_MODEL),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_resource_get_by_type(&found, VACCEL_RESOURCE_MAX),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_resource_get_all_by_type(&all, &n, VACCEL_RESOURCE_MODEL),
			 0);
	assert_int_equal(n, 2);
	assert_ptr_equal(all[0], &a);
	assert_ptr_equal(all[1], &c);
	free(all);
	assert_int_equal(vaccel_resource_get_all_by_type(NULL, &n, VACCEL_RESOURCE_MODEL),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_resource_get_all_by_type(&all, NULL, VACCEL_RESOURCE_MODEL),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_resource_get_all_by_type(&all, &n, VACCEL_RESOURCE_MAX),
			 VACCEL_EINVAL);

	assert_int_equal(vaccel_resource_release(&a), 0);
	assert_int_equal(vaccel_resource_get_by_type(&found, VACCEL_RESOURCE_MODEL), 0);
	assert_ptr_equal(found, &c);
	assert_int_equal(vaccel_resource_release(&b), 0);
	assert_int_equal(vaccel_resource_release(&c), 0);
	assert_int_equal(vaccel_resource_get_by_type(&found, VACCEL_RESOURCE_LIB),
			 VACCEL_ENOENT);
}

/* Ids go up and are not reused until they run out (2048 live at most, as
 * upstream); then the lowest free one comes back. */
static void test_vaccel_resource_ids(void **state)
{
	enum { MAX = 2048 };
	struct vaccel_resource *r = calloc(MAX + 1, sizeof(*r));
	vaccel_id_t first, freed;
	int n = 0, ret;

	(void)state;
	assert_non_null(r);
	assert_int_equal(vaccel_resource_init_from_buf(&r[0], bytes, 1,
						       VACCEL_RESOURCE_DATA, "i", true), 0);
	first = r[0].id;
	assert_int_equal(vaccel_resource_release(&r[0]), 0);
	assert_int_equal(vaccel_resource_init_from_buf(&r[0], bytes, 1,
						       VACCEL_RESOURCE_DATA, "i", true), 0);
	assert_int_equal(r[0].id, first + 1);
	for (n = 1; n <= MAX; n++) {
		ret = vaccel_resource_init_from_buf(&r[n], bytes, 1, VACCEL_RESOURCE_DATA,
						    "i", true);
		if (ret)
			break;
	}
	assert_int_equal(ret, VACCEL_EUSERS);
	assert_true(n <= MAX);
	freed = r[n / 2].id;
	assert_int_equal(vaccel_resource_release(&r[n / 2]), 0);
	assert_int_equal(vaccel_resource_init_from_buf(&r[n / 2], bytes, 1,
						       VACCEL_RESOURCE_DATA, "i", true), 0);
	assert_int_equal(r[n / 2].id, freed);
	for (int i = 0; i < n; i++)
		assert_int_equal(vaccel_resource_release(&r[i]), 0);
	free(r);
}

/* Threads making, registering, looking up, unregistering and releasing
 * resources with a shared session and their own, all at once: every
 * count comes back to zero. */
enum { THREADS = 8, ROUNDS = 50 };
static struct vaccel_session shared;

static void *worker(void *arg)
{
	struct vaccel_session own;
	long fails = 0;

	(void)arg;
	if (vaccel_session_init(&own, 0))
		return (void *)1;
	for (int i = 0; i < ROUNDS; i++) {
		struct vaccel_resource res, *found, **all;
		size_t n;

		fails += vaccel_resource_init_from_buf(&res, bytes, 2, VACCEL_RESOURCE_DATA,
						       "t", i % 2) != 0;
		fails += vaccel_resource_register(&res, &shared) != 0;
		fails += vaccel_resource_register(&res, &own) != 0;
		fails += vaccel_resource_refcount(&res) != 2;
		fails += vaccel_resource_get_by_id(&found, res.id) != 0 || found != &res;
		if (!vaccel_resource_get_all_by_type(&all, &n, VACCEL_RESOURCE_DATA))
			free(all);
		fails += !vaccel_session_has_resource(&shared, &res);
		fails += vaccel_resource_unregister(&res, &shared) != 0;
		if (i % 3)
			fails += vaccel_resource_unregister(&res, &own) != 0;
		fails += vaccel_resource_release(&res) != 0;
		fails += vaccel_session_has_resource(&own, &res);
	}
	fails += own.resource_counts[VACCEL_RESOURCE_DATA] != 0;
	fails += vaccel_session_release(&own) != 0;
	return (void *)fails;
}

static void test_vaccel_resource_threads(void **state)
{
	pthread_t t[THREADS];
	void *fails;

	(void)state;
	assert_int_equal(vaccel_session_init(&shared, 0), 0);
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, worker, NULL), 0);
	for (int i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(t[i], &fails), 0);
		assert_null(fails);
	}
	assert_int_equal(shared.resource_counts[VACCEL_RESOURCE_DATA], 0);
	assert_int_equal(vaccel_session_release(&shared), 0);
}

/* The suite's broker exits 0 on SIGTERM (last test: see test_broker.c). */
static void test_vaccel_resource_exits_clean(void **state)
{
	(void)state;
	assert_int_equal(test_broker_stop(&broker), 0);
}

static int setup(void **state)
{
	(void)state;
	return test_broker_start(&broker, NULL);
}

static int teardown(void **state)
{
	(void)state;
	vaccel_cleanup();
	if (broker.pid <= 0)
		return 0;
	return test_broker_stop(&broker) == 0 ? 0 : -1;
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_vaccel_resource_file_lifecycle),
		T(test_vaccel_resource_paths),
		T(test_vaccel_resource_multi),
		T(test_vaccel_resource_directory),
		T(test_vaccel_resource_from_buf),
		T(test_vaccel_resource_from_blobs),
		T(test_vaccel_resource_two_sessions),
		T(test_vaccel_resource_registry),
		T(test_vaccel_resource_ids),
		T(test_vaccel_resource_threads),
		cmocka_unit_test(test_vaccel_resource_exits_clean),
	};

	if (getenv("ACCELRING_TEST_FILTER"))
		cmocka_set_test_filter(getenv("ACCELRING_TEST_FILTER"));
	return cmocka_run_group_tests_name("vaccel_resource", tests, setup, teardown);
}

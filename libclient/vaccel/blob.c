/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Blobs: a file named by its path (FILE), bytes in memory (BUFFER), or a
 * file mapped in memory (MAPPED: read, or persisted from a buffer).
 *
 * States, as upstream's: an initialized blob has a type below
 * VACCEL_BLOB_MAX and a name; a released or failed one has type
 * VACCEL_BLOB_MAX and nothing else, which release and read refuse.
 * path is always our copy; path_owned says the file itself is ours (we
 * made it) and goes with the blob. Mapped data is always our mapping.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vaccel_pvt.h"

static bool is_file(const char *path)
{
	struct stat st;

	return path && stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static bool is_dir(const char *path)
{
	struct stat st;

	return path && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The last component of path, allocated. */
static int base_name(const char *path, char **name)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;

	if (strlen(base) >= NAME_MAX)
		return VACCEL_ENAMETOOLONG;
	*name = strdup(base);
	return *name ? 0 : VACCEL_ENOMEM;
}

/* Map a whole file, private and writable (changes stay in memory), as
 * upstream does. An empty file cannot be mapped: VACCEL_EINVAL. */
static int map_file(const char *path, uint8_t **data, size_t *size)
{
	struct stat st;
	void *p;
	int fd, ret = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	if (fstat(fd, &st)) {
		ret = errno;
	} else if (!S_ISREG(st.st_mode) || st.st_size <= 0) {
		ret = VACCEL_EINVAL;
	} else {
		p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE, fd, 0);
		if (p == MAP_FAILED) {
			ret = errno;
		} else {
			*data = p;
			*size = (size_t)st.st_size;
		}
	}
	close(fd);
	if (ret)
		ar__vaccel_log(VACCEL_LOG_ERROR, "blob: cannot map %s: %s", path,
			       strerror(ret));
	return ret;
}

/*
 * Create dir/filename (0600, never over an existing file), or, when
 * randomize is set or that name is taken, dir/<stem>_XXXXXX<ext> with a
 * random part. The new path in *path, the open file in *fd.
 */
static int create_file(const char *dir, const char *filename, bool randomize,
		       char **path, int *fd)
{
	const char *ext = strrchr(filename, '.');
	size_t stem = ext ? (size_t)(ext - filename) : strlen(filename);
	size_t len = strlen(dir) + 1 + strlen(filename) + sizeof("_XXXXXX");
	char *p;

	if (len > PATH_MAX)
		return VACCEL_ENAMETOOLONG;
	p = malloc(len);
	if (!p)
		return VACCEL_ENOMEM;
	snprintf(p, len, "%s/%s", dir, filename);
	if (!randomize) {
		*fd = open(p, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (*fd >= 0)
			goto out;
		if (errno != EEXIST) {
			free(p);
			return errno;
		}
		ar__vaccel_log(VACCEL_LOG_WARN,
			       "blob: %s exists; adding a random part to the name", p);
	}
	snprintf(p, len, "%s/%.*s_XXXXXX%s", dir, (int)stem, filename,
		 ext ? ext : "");
	*fd = mkostemps(p, ext ? (int)strlen(ext) : 0, O_CLOEXEC);
	if (*fd < 0) {
		int err = errno;

		free(p);
		return err;
	}
out:
	*path = p;
	return 0;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return VACCEL_EIO;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* A file name to create in a directory: one component, no more. */
static bool name_ok(const char *name)
{
	return *name && !strchr(name, '/') && strcmp(name, ".") && strcmp(name, "..");
}

/*
 * Write a buffer blob's bytes to a new file in dir and map it in their
 * place: the blob becomes MAPPED and owns the file. On failure the blob is
 * as it was and nothing is left in dir.
 */
AR_VISIBLE int vaccel_blob_persist(struct vaccel_blob *blob, const char *dir,
				   const char *filename, bool randomize)
{
	char *path = NULL, *name = NULL;
	uint8_t *data = NULL;
	size_t size = 0;
	int fd, ret;

	if (!blob || !blob->data || !blob->size || blob->type >= VACCEL_BLOB_MAX)
		return VACCEL_EINVAL;
	if (!filename || !name_ok(filename))
		return VACCEL_EINVAL;
	if (!is_dir(dir))
		return VACCEL_ENOENT;
	if (blob->path)
		return VACCEL_EEXIST;

	ret = create_file(dir, filename, randomize, &path, &fd);
	if (ret)
		return ret;
	ret = write_all(fd, blob->data, blob->size);
	if (close(fd) && !ret)
		ret = VACCEL_EIO;
	if (!ret)
		ret = map_file(path, &data, &size);
	/* The name follows the file's unless it is already the one asked. */
	if (!ret && (!blob->name || strcmp(blob->name, filename))) {
		ret = base_name(path, &name);
		if (ret)
			munmap(data, size);
	}
	if (ret) {
		unlink(path);
		free(path);
		return ret;
	}

	if (name) {
		free(blob->name);
		blob->name = name;
	}
	if (blob->type == VACCEL_BLOB_BUFFER && blob->data_owned)
		free(blob->data);
	blob->data = data;
	blob->size = size;
	blob->data_owned = true;
	blob->path = path;
	blob->path_owned = true;
	blob->type = VACCEL_BLOB_MAPPED;
	return 0;
}

static void blob_clear(struct vaccel_blob *blob)
{
	blob->type = VACCEL_BLOB_MAX;
	blob->name = NULL;
	blob->path = NULL;
	blob->path_owned = false;
	blob->data = NULL;
	blob->data_owned = false;
	blob->size = 0;
}

/* A FILE blob for an existing regular file (not read until asked). */
AR_VISIBLE int vaccel_blob_init(struct vaccel_blob *blob, const char *path)
{
	char *p, *name;
	int ret;

	if (!blob || !path)
		return VACCEL_EINVAL;
	if (!is_file(path)) {
		ar__vaccel_log(VACCEL_LOG_ERROR, "blob: not a file: %s", path);
		return VACCEL_EINVAL;
	}
	p = strdup(path);
	if (!p)
		return VACCEL_ENOMEM;
	ret = base_name(p, &name);
	if (ret) {
		free(p);
		return ret;
	}
	blob_clear(blob);
	blob->type = VACCEL_BLOB_FILE;
	blob->path = p;
	blob->name = name;
	return 0;
}

/*
 * A BUFFER blob for [buf, buf+size): the caller's memory (it must outlive
 * the blob) or, with own, a copy; or, with dir, persisted to a file there
 * (vaccel_blob_persist) and MAPPED.
 */
AR_VISIBLE int vaccel_blob_init_from_buf(struct vaccel_blob *blob, const uint8_t *buf,
					 size_t size, bool own, const char *filename,
					 const char *dir, bool randomize)
{
	int ret = VACCEL_ENOMEM;

	if (!blob || !buf || !size || !filename)
		return VACCEL_EINVAL;

	blob_clear(blob);
	blob->type = VACCEL_BLOB_BUFFER;
	blob->data = (uint8_t *)buf;
	blob->size = size;
	if (dir) {
		ret = vaccel_blob_persist(blob, dir, filename, randomize);
		if (ret)
			goto err;
		return 0;
	}
	if (own) {
		blob->data = malloc(size);
		if (!blob->data)
			goto err;
		memcpy(blob->data, buf, size);
		blob->data_owned = true;
	}
	blob->name = strdup(filename);
	if (!blob->name)
		goto err;
	return 0;
err:
	if (blob->data_owned)
		free(blob->data);
	blob_clear(blob);
	return ret;
}

/* Free what the blob holds and remove the file if it is ours. The blob is
 * left uninitialized (a second release is VACCEL_EINVAL). */
AR_VISIBLE int vaccel_blob_release(struct vaccel_blob *blob)
{
	if (!blob || blob->type >= VACCEL_BLOB_MAX)
		return VACCEL_EINVAL;

	/* Mapped data is our mapping whoever "owns" it: upstream leaves
	 * the mapping that vaccel_blob_read() made, we do not. */
	if (blob->type == VACCEL_BLOB_MAPPED && blob->data && blob->size) {
		if (munmap(blob->data, blob->size))
			return errno;
	} else if (blob->type == VACCEL_BLOB_BUFFER && blob->data_owned) {
		free(blob->data);
	}
	if (blob->path && blob->path_owned && unlink(blob->path))
		ar__vaccel_log(VACCEL_LOG_WARN, "blob: cannot remove %s: %m",
			       blob->path);
	free(blob->path);
	free(blob->name);
	blob_clear(blob);
	return 0;
}

AR_VISIBLE int vaccel_blob_new(struct vaccel_blob **blob, const char *path)
{
	struct vaccel_blob *b;
	int ret;

	if (!blob)
		return VACCEL_EINVAL;
	b = malloc(sizeof(*b));
	if (!b)
		return VACCEL_ENOMEM;
	ret = vaccel_blob_init(b, path);
	if (ret) {
		free(b);
		return ret;
	}
	*blob = b;
	return 0;
}

AR_VISIBLE int vaccel_blob_from_buf(struct vaccel_blob **blob, const uint8_t *buf,
				    size_t size, bool own, const char *filename,
				    const char *dir, bool randomize)
{
	struct vaccel_blob *b;
	int ret;

	if (!blob)
		return VACCEL_EINVAL;
	b = malloc(sizeof(*b));
	if (!b)
		return VACCEL_ENOMEM;
	ret = vaccel_blob_init_from_buf(b, buf, size, own, filename, dir, randomize);
	if (ret) {
		free(b);
		return ret;
	}
	*blob = b;
	return 0;
}

/* Release and free a blob from _new or _from_buf; kept if release fails. */
AR_VISIBLE int vaccel_blob_delete(struct vaccel_blob *blob)
{
	int ret = vaccel_blob_release(blob);

	if (ret)
		return ret;
	free(blob);
	return 0;
}

/* Map a file blob's bytes (once; a blob with data already is left as it
 * is). The blob becomes MAPPED. */
AR_VISIBLE int vaccel_blob_read(struct vaccel_blob *blob)
{
	uint8_t *data = NULL;
	size_t size = 0;
	int ret;

	if (!blob || blob->type >= VACCEL_BLOB_MAX)
		return VACCEL_EINVAL;
	if (blob->data)
		return 0;
	if (!blob->path)
		return VACCEL_EINVAL;
	ret = map_file(blob->path, &data, &size);
	if (ret)
		return ret;
	blob->data = data;
	blob->size = size;
	blob->type = VACCEL_BLOB_MAPPED;
	return 0;
}

/* The blob's bytes (read first if need be) and their count in *size. */
AR_VISIBLE uint8_t *vaccel_blob_data(struct vaccel_blob *blob, size_t *size)
{
	if (!blob || blob->type >= VACCEL_BLOB_MAX)
		return NULL;
	if ((!blob->data || !blob->size) && vaccel_blob_read(blob))
		return NULL;
	if (size)
		*size = blob->size;
	return blob->data;
}

/* The file behind the blob, or NULL for a buffer. */
AR_VISIBLE const char *vaccel_blob_path(struct vaccel_blob *blob)
{
	if (!blob || !blob->path)
		return NULL;
	if (blob->type != VACCEL_BLOB_FILE && blob->type != VACCEL_BLOB_MAPPED)
		return NULL;
	return blob->path;
}

/* Whether blob is initialized and has what its type needs: a name, and a
 * path (FILE), bytes (BUFFER) or both (MAPPED). */
AR_VISIBLE bool vaccel_blob_valid(const struct vaccel_blob *blob)
{
	if (!blob || blob->type >= VACCEL_BLOB_MAX || !blob->name)
		return false;
	if (blob->type != VACCEL_BLOB_BUFFER && !blob->path)
		return false;
	if (blob->type != VACCEL_BLOB_FILE && (!blob->data || !blob->size))
		return false;
	return true;
}

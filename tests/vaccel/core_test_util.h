/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helpers of the core/config/log/prof suites: temporary directories,
 * whole files as strings, capturing a file descriptor (stderr, stdout),
 * and bootstrapping with a given configuration.
 */
#ifndef CORE_TEST_UTIL_H
#define CORE_TEST_UTIL_H

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vaccel.h>

static int ctu_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* rm -rf path (never following links). */
static inline void ctu_rm_rf(const char *path)
{
	nftw(path, ctu_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A new temporary directory (0700); NULL on failure. */
static inline char *ctu_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *p;

	if (asprintf(&p, "%s/ctu.XXXXXX", base && *base ? base : "/tmp") < 0)
		return NULL;
	if (!mkdtemp(p)) {
		free(p);
		return NULL;
	}
	return p;
}

/* The file's contents as a string ("" if it does not exist); free it. */
static inline char *ctu_slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *s = NULL;
	size_t n = 0;

	if (!f)
		return strdup("");
	if (getdelim(&s, &n, '\0', f) < 0) {
		free(s);
		s = strdup("");
	}
	fclose(f);
	return s;
}

/* Redirect fd to a temporary file until ctu_capture_end, which returns
 * what was written to it (free it). */
struct ctu_capture {
	int fd, saved, tmp;
};

static inline int ctu_capture_begin(struct ctu_capture *c, int fd)
{
	char path[] = "/tmp/ctu.capture.XXXXXX";

	c->fd = fd;
	c->saved = -1;
	c->tmp = mkstemp(path);
	if (c->tmp < 0)
		return -1;
	unlink(path);
	c->saved = dup(fd);
	if (c->saved < 0 || dup2(c->tmp, fd) < 0)
		return -1;
	return 0;
}

static inline char *ctu_capture_end(struct ctu_capture *c)
{
	off_t len;
	char *s;

	dup2(c->saved, c->fd);
	close(c->saved);
	len = lseek(c->tmp, 0, SEEK_END);
	s = calloc(1, (size_t)(len > 0 ? len : 0) + 1);
	if (s && len > 0 && pread(c->tmp, s, (size_t)len, 0) != len)
		s[0] = '\0';
	close(c->tmp);
	return s;
}

/* Bootstrap with these settings (the config is copied, then released
 * here). Returns vaccel_bootstrap_with_config's result. */
static inline int ctu_bootstrap(vaccel_log_level_t level, const char *log_file, bool prof)
{
	struct vaccel_config cfg;
	int ret = vaccel_config_init(&cfg, NULL, level, log_file, prof, false);

	if (ret)
		return ret;
	ret = vaccel_bootstrap_with_config(&cfg);
	vaccel_config_release(&cfg);
	return ret;
}

/* How many times needle occurs in hay. */
static inline int ctu_count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

#endif /* CORE_TEST_UTIL_H */

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_plugin_exec - the exec plugin (plugins/exec.c) as a unit: its .so
 * dlopen()ed as the broker does, initialised with a real struct
 * ar_plugin_host whose settings the test chooses, its op functions called
 * with struct ar_op values built here, on the test library
 * (tests/plugins/exec_lib.c): real functions, whose results are checked
 * against a computation of the test's own. Resources are real sealed
 * memfds holding the library, hashed with OpenSSL, as the broker would
 * hand them over (struct ar_resource).
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include <accelring/optable.h>
#include <accelring/plugin.h>
#include <vaccel/arg.h>
#include <vaccel/resource.h>

#include "exec_lib.h"

#ifndef AR_EXEC_PLUGIN
#error "AR_EXEC_PLUGIN must name the built exec plugin"
#endif

#define LIB AR_TEST_EXEC_LIB
#define FNV_BASIS 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull

static void *plug_dl;
static const struct ar_plugin *plug;
static int (*op_exec)(struct ar_op *op);
static int (*op_res)(struct ar_op *op);
static bool started;

/* ---- the host ---- */

static const char *set_allow, *set_sha;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char logbuf[1 << 16];
static size_t loglen;

static const char *host_setting(const char *key)
{
	if (!strcmp(key, "exec-allow"))
		return set_allow;
	if (!strcmp(key, "exec-allow-sha256"))
		return set_sha;
	return NULL;
}

__attribute__((format(printf, 2, 3)))
static void host_log(int level, const char *fmt, ...)
{
	va_list ap;
	int n;

	pthread_mutex_lock(&log_lock);
	n = snprintf(logbuf + loglen, sizeof(logbuf) - loglen, "%d ", level);
	if (n > 0 && (size_t)n < sizeof(logbuf) - loglen)
		loglen += (size_t)n;
	va_start(ap, fmt);
	n = vsnprintf(logbuf + loglen, sizeof(logbuf) - loglen, fmt, ap);
	va_end(ap);
	if (n > 0 && (size_t)n < sizeof(logbuf) - loglen - 1) {
		loglen += (size_t)n;
		logbuf[loglen++] = '\n';
		logbuf[loglen] = '\0';
	}
	pthread_mutex_unlock(&log_lock);
}

static const char *host_op_name(uint32_t op)
{
	return op == AR_OP_EXEC ? "exec" : op == AR_OP_EXEC_WITH_RESOURCE ?
	       "exec_with_resource" : "?";
}

static const struct ar_plugin_host host = {
	.size = sizeof(struct ar_plugin_host), .log_level = AR_LOG_DEBUG,
	.log = host_log, .op_name = host_op_name, .setting = host_setting,
};

static bool logged(const char *s)
{
	bool r;

	pthread_mutex_lock(&log_lock);
	r = strstr(logbuf, s) != NULL;
	pthread_mutex_unlock(&log_lock);
	return r;
}

static unsigned logged_count(const char *s)
{
	unsigned n = 0;

	for (const char *p = logbuf; (p = strstr(p, s)); p += strlen(s))
		n++;
	return n;
}

/* init with these settings (NULL: the broker has no such key). */
static int start(const char *allow, const char *sha)
{
	int ret;

	set_allow = allow;
	set_sha = sha;
	loglen = 0;
	logbuf[0] = '\0';
	ret = plug->init(&host);
	started = ret == 0;
	return ret;
}

static void stop(void)
{
	if (started)
		plug->fini();
	started = false;
}

/* ---- ops ---- */

static int run_op(uint32_t opn, const char *lib, const struct ar_resource *res,
		  const char *sym, struct ar_buf *rd, uint32_t nr, struct ar_buf *wr,
		  uint32_t nw, char *why, uint32_t cap)
{
	struct ar_op op = { .op = opn, .session = 1, .why = why, .why_cap = cap };

	op.u.generic = (struct ar_op_generic){ .library = lib, .symbol = sym,
					       .nr_read = nr, .nr_write = nw,
					       .read = rd, .write = wr,
					       .resource = res };
	if (why && cap)
		why[0] = '\0';
	return opn == AR_OP_EXEC ? op_exec(&op) : op_res(&op);
}

/* exec lib's sym with no arguments: its result, the reason in why. */
static int run0(const char *lib, const char *sym, char *why)
{
	return run_op(AR_OP_EXEC, lib, NULL, sym, NULL, 0, NULL, 0, why, why ? 256 : 0);
}

struct cks {
	uint64_t sum;
	struct ar_test_exec_out out;
};

/* ar_test_checksum of buf through exec (res NULL: of lib) or
 * exec_with_resource. */
static int checksum_op(const char *lib, const struct ar_resource *res, const void *buf,
		       size_t len, uint32_t type, uint32_t seed, uint32_t rounds,
		       struct cks *r, char *why)
{
	struct ar_test_exec_in in = { .seed = seed, .rounds = rounds };
	struct ar_buf rd[2] = {
		{ .ptr = (void *)buf, .len = len, .type = type },
		{ .ptr = &in, .len = sizeof(in), .type = VACCEL_ARG_CUSTOM,
		  .custom_id = AR_TEST_EXEC_IN_ID },
	};
	struct ar_buf wr[2] = {
		{ .ptr = &r->sum, .len = sizeof(r->sum), .type = VACCEL_ARG_UINT64 },
		{ .ptr = &r->out, .len = sizeof(r->out), .type = VACCEL_ARG_RAW },
	};
	int ret;

	memset(r, 0, sizeof(*r));
	ret = run_op(res ? AR_OP_EXEC_WITH_RESOURCE : AR_OP_EXEC, lib, res,
		     "ar_test_checksum", rd, 2, wr, 2, why, why ? 256 : 0);
	/* The outputs keep the lengths they came with. */
	assert_int_equal(wr[0].len, sizeof(r->sum));
	assert_int_equal(wr[1].len, sizeof(r->out));
	return ret;
}

/* The checksum exec_lib.h defines, computed here independently: one
 * FNV-1a pass per round over a state carried between them. */
static uint64_t ref_pass(const uint8_t *p, size_t n, uint64_t h)
{
	while (n--)
		h = (h ^ *p++) * FNV_PRIME;
	return h;
}

static uint64_t ref_checksum(const void *p, size_t n, uint32_t seed, uint32_t rounds)
{
	uint64_t h = FNV_BASIS ^ seed;

	while (rounds--)
		h = ref_pass(p, n, h);
	return h;
}

static uint32_t ref_nonzero(const uint8_t *p, size_t n)
{
	uint32_t c = 0;

	for (size_t i = 0; i < n; i++)
		c += p[i] != 0;
	return c;
}

/* A checksum through exec (or the resource) is the reference's. */
static void check_checksum(const char *lib, const struct ar_resource *res,
			   const void *buf, size_t len, uint32_t type, uint32_t seed,
			   uint32_t rounds)
{
	struct cks r;
	char why[256];

	assert_int_equal(checksum_op(lib, res, buf, len, type, seed, rounds, &r, why), 0);
	assert_int_equal(r.sum, ref_checksum(buf, len, seed, rounds));
	assert_int_equal(r.out.bytes, len);
	assert_int_equal(r.out.nonzero, ref_nonzero(buf, len));
	assert_int_equal(r.out.type_seen, type);
	assert_string_equal(why, "");
}

/* ---- files: a directory of libraries, in a mkdtemp dir ---- */

static char tmp[64], dir[96];
static char f_copy[160], f_deep[160], f_inside[160], f_escape[160], f_missing[160],
	f_text[160], f_dots[160], f_sub[160], sib[96], f_sib[160], f_sib_missing[160];

static int copy_file(const char *from, const char *to)
{
	char buf[65536];
	int in = open(from, O_RDONLY | O_CLOEXEC), out;
	ssize_t n;

	if (in < 0)
		return -1;
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	if (out < 0) {
		close(in);
		return -1;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n) {
			n = -1;
			break;
		}
	close(in);
	return close(out) || n < 0 ? -1 : 0;
}

static void files_remove(void)
{
	const char *files[] = { f_copy, f_deep, f_inside, f_escape, f_text, f_dots, f_sib };

	if (!tmp[0])
		return;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		unlink(files[i]);
	rmdir(f_sub);
	rmdir(dir);
	rmdir(sib);
	rmdir(tmp);
	tmp[0] = '\0';
}

static int files_make(void)
{
	snprintf(tmp, sizeof(tmp), "/tmp/artest-exec.XXXXXX");
	if (!mkdtemp(tmp)) {
		tmp[0] = '\0';
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s/lib/", tmp);
	snprintf(f_sub, sizeof(f_sub), "%ssub", dir);
	snprintf(f_copy, sizeof(f_copy), "%slibcopy.so", dir);
	snprintf(f_deep, sizeof(f_deep), "%ssub/libdeep.so", dir);
	snprintf(f_inside, sizeof(f_inside), "%sinside.so", dir);
	snprintf(f_escape, sizeof(f_escape), "%sescape.so", dir);
	snprintf(f_missing, sizeof(f_missing), "%smissing.so", dir);
	snprintf(f_text, sizeof(f_text), "%stext.so", dir);
	snprintf(f_dots, sizeof(f_dots), "%s..dots.so", dir);
	/* A sibling whose name starts with the directory's: not under it. */
	snprintf(sib, sizeof(sib), "%s/lib2", tmp);
	snprintf(f_sib, sizeof(f_sib), "%s/libcopy.so", sib);
	snprintf(f_sib_missing, sizeof(f_sib_missing), "%s/missing.so", sib);
	if (mkdir(dir, 0755) || mkdir(f_sub, 0755) || mkdir(sib, 0755) ||
	    copy_file(LIB, f_sib) || copy_file(LIB, f_copy) ||
	    copy_file(LIB, f_deep) || copy_file(LIB, f_dots) ||
	    symlink("libcopy.so", f_inside) || symlink(LIB, f_escape))
		return -1;
	{
		FILE *f = fopen(f_text, "w");

		if (!f || fputs("not a library\n", f) < 0 || fclose(f))
			return -1;
	}
	return 0;
}

/* ---- resources: the library in a sealed memfd ---- */

struct res_fix {
	int fd;
	char path[32];
	void *map;
	struct ar_resource_file file;
	struct ar_resource res;
	char hex[65];
};

static void to_hex(const uint8_t *b, char *out)
{
	for (int i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

/* The file at lib in a memfd sealed as the broker seals one, hashed
 * (OpenSSL) over the memfd's bytes; type: the resource's. */
static void res_make(struct res_fix *f, const char *lib, uint32_t type)
{
	struct stat st;
	unsigned int n = 0;
	char buf[65536];
	ssize_t k;
	int in;

	memset(f, 0, sizeof(*f));
	in = open(lib, O_RDONLY | O_CLOEXEC);
	assert_true(in >= 0);
	f->fd = memfd_create("artest-exec", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	assert_true(f->fd >= 0);
	while ((k = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(f->fd, buf, (size_t)k), k);
	close(in);
	assert_int_equal(fcntl(f->fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK |
			       F_SEAL_GROW | F_SEAL_SEAL), 0);
	assert_int_equal(fstat(f->fd, &st), 0);
	f->map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, f->fd, 0);
	assert_true(f->map != MAP_FAILED);
	f->file = (struct ar_resource_file){ .name = "libartest-exec.so", .data = f->map,
					     .size = (uint64_t)st.st_size, .fd = f->fd,
					     .path = f->path };
	assert_int_equal(EVP_Digest(f->map, (size_t)st.st_size, f->file.sha256, &n,
				    EVP_sha256(), NULL), 1);
	assert_int_equal(n, 32);
	snprintf(f->path, sizeof(f->path), "/proc/self/fd/%d", f->fd);
	to_hex(f->file.sha256, f->hex);
	f->res = (struct ar_resource){ .id = 7, .type = type, .nr_files = 1,
				       .files = &f->file };
}

static void res_free(struct res_fix *f)
{
	if (f->map && f->map != MAP_FAILED)
		munmap(f->map, (size_t)f->file.size);
	if (f->fd > 0)
		close(f->fd);
	f->map = NULL;
	f->fd = -1;
}

static int res_run0(struct res_fix *f, const char *sym, char *why)
{
	return run_op(AR_OP_EXEC_WITH_RESOURCE, NULL, &f->res, sym, NULL, 0, NULL, 0, why,
		      256);
}

/* Whether a library of that name (or file) is loaded in this process. */
static bool loaded(const char *path)
{
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);

	if (h)
		dlclose(h);
	return h != NULL;
}

/* ---- the tests ---- */

/* The reference checksum is FNV-1a 64 where it should be (the known
 * answers of the FNV test suite), so the library's agreeing with it
 * means something. */
static void test_plugin_exec_reference_known_answers(void **state)
{
	(void)state;
	assert_int_equal(ref_checksum("", 0, 0, 1), 0xcbf29ce484222325ull);
	assert_int_equal(ref_checksum("a", 1, 0, 1), 0xaf63dc4c8601ec8cull);
	assert_int_equal(ref_checksum("foobar", 6, 0, 1), 0x85944171f73967e8ull);
	/* Two rounds of "a" are one round of "aa". */
	assert_int_equal(ref_checksum("a", 1, 5, 2), ref_checksum("aa", 2, 5, 1));
}

/* The descriptor: exec, ABI 3, the two exec ops and nothing else. */
static void test_plugin_exec_descriptor(void **state)
{
	(void)state;
	assert_int_equal(plug->abi_version, AR_PLUGIN_ABI_VERSION);
	assert_int_equal(plug->size, sizeof(struct ar_plugin));
	assert_string_equal(plug->name, "exec");
	assert_true(plug->type & AR_PLUGIN_CPU);
	assert_true(plug->type & AR_PLUGIN_GENERIC);
	assert_int_equal(plug->nr_ops, 2);
	assert_non_null(op_exec);
	assert_non_null(op_res);
	assert_non_null(plug->init);
	assert_non_null(plug->fini);
}

/* A file entry runs the real function: checksums of several buffers,
 * seeds and rounds, each the reference's, and the run is logged at debug
 * level. */
static void test_plugin_exec_checksum_file_entry(void **state)
{
	static uint8_t big[100000];
	uint8_t zeros[64] = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 2654435761u >> 13);
	assert_int_equal(start(LIB ":ar_test_checksum", ""), 0);
	check_checksum(LIB, NULL, "a", 1, VACCEL_ARG_BUFFER, 0, 1);
	check_checksum(LIB, NULL, "foobar", 6, VACCEL_ARG_STRING, 42, 3);
	check_checksum(LIB, NULL, "", 0, VACCEL_ARG_RAW, 9, 4);
	check_checksum(LIB, NULL, zeros, sizeof(zeros), VACCEL_ARG_UINT8_ARRAY, 1, 0);
	check_checksum(LIB, NULL, big, sizeof(big), VACCEL_ARG_BUFFER, 0xdeadbeef, 2);
	assert_true(logged("ar_test_checksum"));
	stop();
}

/* The library is opened once, then served from the cache; fini closes
 * it. */
static void test_plugin_exec_cache_and_fini(void **state)
{
	char why[256];

	(void)state;
	assert_false(loaded(LIB));
	assert_int_equal(start(LIB ":ar_test_noop", ""), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(run0(LIB, "ar_test_noop", why), 0);
	assert_int_equal(logged_count("loaded "), 1);
	assert_true(loaded(LIB));
	stop();
	assert_false(loaded(LIB));
}

/* A directory entry allows what resolves under it, at any depth, a
 * symlink inside leading inside included; a symlink inside leading out
 * of it is refused, and so is a path under it that is no file. */
static void test_plugin_exec_directory_entry(void **state)
{
	char allow[256], why[256];
	struct cks r;

	(void)state;
	snprintf(allow, sizeof(allow), "%s:ar_test_checksum,ar_test_noop", dir);
	assert_int_equal(start(allow, ""), 0);
	check_checksum(f_copy, NULL, "abc", 3, VACCEL_ARG_BUFFER, 1, 1);
	check_checksum(f_deep, NULL, "abc", 3, VACCEL_ARG_BUFFER, 2, 2);
	check_checksum(f_inside, NULL, "abc", 3, VACCEL_ARG_BUFFER, 3, 3);
	/* A name that starts with dots is no '..' component. */
	check_checksum(f_dots, NULL, "abc", 3, VACCEL_ARG_BUFFER, 4, 4);

	assert_int_equal(checksum_op(f_escape, NULL, "abc", 3, VACCEL_ARG_BUFFER, 0, 1, &r,
				     why), -EPERM);
	assert_non_null(strstr(why, "not on exec-allow"));
	assert_non_null(strstr(why, LIB));	/* where it leads */
	assert_int_equal(r.sum, 0);		/* nothing ran */
	assert_int_equal(run0(LIB, "ar_test_noop", why), -EPERM);
	assert_int_equal(run0(f_sib, "ar_test_noop", why), -EPERM);
	assert_int_equal(run0(f_sib_missing, "ar_test_noop", why), -EPERM);
	assert_int_equal(run0(f_sub, "ar_test_noop", why), -EPERM);
	assert_non_null(strstr(why, "not a regular file"));
	/* Under it but not a library: it does not load. */
	assert_int_equal(run0(f_text, "ar_test_noop", why), -EINVAL);
	assert_non_null(strstr(why, "cannot load"));
	/* The directory's symbols apply. */
	assert_int_equal(run0(f_copy, "ar_test_hidden", why), -EPERM);
	assert_non_null(strstr(why, "ar_test_hidden"));
	stop();
}

/* '*' allows any function the library itself defines, but not a
 * function of a library it depends on (libm's cos, libc's system, which
 * dlsym on its handle finds), nor data. */
static void test_plugin_exec_star_symbols(void **state)
{
	char why[256];

	(void)state;
	assert_int_equal(start(LIB ":*", ""), 0);
	assert_int_equal(run0(LIB, "ar_test_hidden", why), 0);
	assert_int_equal(run0(LIB, "ar_test_noop", why), 0);
	check_checksum(LIB, NULL, "xyz", 3, VACCEL_ARG_BUFFER, 7, 1);
	assert_int_equal(run0(LIB, "cos", why), -ENOENT);
	assert_non_null(strstr(why, "cos"));
	assert_int_equal(run0(LIB, "system", why), -ENOENT);
	assert_int_equal(run0(LIB, "ar_test_data", why), -ENOENT);
	assert_int_equal(run0(LIB, "no_such_function", why), -ENOENT);
	assert_non_null(strstr(why, "no_such_function"));
	stop();
}

/* Exec is off with an empty exec-allow, with none (NULL), with a host
 * too old to have settings (setting() is never called then), and with
 * an exec-allow none of whose paths exists. */
static const char *setting_must_not_be_called(const char *key)
{
	fail_msg("setting(%s) called on a host whose size does not cover it", key);
	return NULL;
}

static void test_plugin_exec_off(void **state)
{
	struct ar_plugin_host old = host;
	char why[256];

	(void)state;
	assert_int_equal(start("", ""), 0);
	assert_int_equal(run0(LIB, "ar_test_noop", why), -EPERM);
	assert_non_null(strstr(why, "exec is off"));
	stop();

	assert_int_equal(start(NULL, NULL), 0);
	assert_int_equal(run0(LIB, "ar_test_noop", why), -EPERM);
	assert_non_null(strstr(why, "exec-allow is empty"));
	stop();

	old.size = offsetof(struct ar_plugin_host, setting);
	old.setting = setting_must_not_be_called;
	assert_int_equal(plug->init(&old), 0);
	started = true;
	assert_int_equal(run0(LIB, "ar_test_noop", why), -EPERM);
	assert_non_null(strstr(why, "exec is off"));
	stop();

	assert_int_equal(start("/nonexistent/accelring/libgone.so:f", ""), 0);
	assert_true(logged("libgone.so"));	/* warned, skipped */
	assert_int_equal(run0(LIB, "ar_test_noop", why), -EPERM);
	assert_non_null(strstr(why, "none of exec-allow's paths exists"));
	stop();
}

/* A relative path, a '..' or '.' component are refused, even when they
 * would resolve to the allowed library. */
static void test_plugin_exec_bad_paths(void **state)
{
	char why[256], p[512], *slash;

	(void)state;
	assert_int_equal(start(LIB ":ar_test_noop", ""), 0);
	assert_int_equal(run0("libartest-exec.so", "ar_test_noop", why), -EPERM);
	assert_non_null(strstr(why, "not an absolute path"));
	assert_int_equal(run0("", "ar_test_noop", why), -EPERM);

	snprintf(p, sizeof(p), "%s", LIB);
	slash = strrchr(p, '/');
	assert_non_null(slash);
	/* DIR/../DIRNAME/libartest-exec.so, which is LIB. */
	{
		char dirpart[512], up[1024];
		const char *base = slash + 1, *dname;

		*slash = '\0';
		snprintf(dirpart, sizeof(dirpart), "%s", p);
		dname = strrchr(dirpart, '/') + 1;
		snprintf(up, sizeof(up), "%s/../%s/%s", dirpart, dname, base);
		assert_int_equal(run0(up, "ar_test_noop", why), -EPERM);
		assert_non_null(strstr(why, "'..'"));
		snprintf(up, sizeof(up), "%s/./%s", dirpart, base);
		assert_int_equal(run0(up, "ar_test_noop", why), -EPERM);
		snprintf(up, sizeof(up), "%s/%s/..", dirpart, base);
		assert_int_equal(run0(up, "ar_test_noop", why), -EPERM);
	}
	/* And the plain path still runs. */
	assert_int_equal(run0(LIB, "ar_test_noop", why), 0);
	stop();
}

/* A path not on the list is refused, existing or not (a tenant learns
 * nothing of the host's files); a listed symbol of an unlisted library
 * and an unlisted symbol of a listed one too. */
static void test_plugin_exec_not_listed(void **state)
{
	char allow[512], why[256];

	(void)state;
	snprintf(allow, sizeof(allow), "%s:ar_test_checksum,ar_test_fail", LIB);
	assert_int_equal(start(allow, ""), 0);
	assert_int_equal(run0(f_copy, "ar_test_checksum", why), -EPERM);
	assert_non_null(strstr(why, "not on exec-allow"));
	assert_int_equal(run0("/nonexistent/accelring/lib.so", "ar_test_checksum", why),
			 -EPERM);
	assert_int_equal(run0("/etc/passwd", "ar_test_checksum", why), -EPERM);
	assert_int_equal(run0(LIB, "ar_test_hidden", why), -EPERM);
	assert_non_null(strstr(why, "symbol ar_test_hidden"));
	assert_int_equal(run0(LIB, "ar_test_noop", why), -EPERM);
	stop();

	/* Two entries for one library: the union of their symbols. */
	snprintf(allow, sizeof(allow), "%s:ar_test_noop; %s:ar_test_fail", LIB, LIB);
	assert_int_equal(start(allow, ""), 0);
	assert_int_equal(run0(LIB, "ar_test_noop", why), 0);
	assert_int_equal(run0(LIB, "ar_test_fail", why), -ENOEXEC);
	assert_int_equal(run0(LIB, "ar_test_hidden", why), -EPERM);
	stop();
}

/* A missing library under an allowed directory or named by a (skipped)
 * file entry is ENOENT, and so is a missing function. */
static void test_plugin_exec_enoent(void **state)
{
	char allow[512], why[256];

	(void)state;
	snprintf(allow, sizeof(allow), "%s:ar_test_noop;%s:*;/nonexistent/accelring/libgone.so:f",
		 dir, LIB);
	assert_int_equal(start(allow, ""), 0);
	assert_true(logged("libgone.so"));
	assert_int_equal(run0(f_missing, "ar_test_noop", why), -ENOENT);
	assert_non_null(strstr(why, "missing.so"));
	assert_int_equal(run0("/nonexistent/accelring/libgone.so", "f", why), -ENOENT);
	assert_int_equal(run0(LIB, "ar_test_nosuch", why), -ENOENT);
	stop();
}

/* A malformed setting fails init with -EINVAL, naming the entry in the
 * log; a later init with good settings works (nothing left over). */
static void test_plugin_exec_malformed_settings(void **state)
{
#define HEX64 "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	static const char hex64[] = HEX64;
	struct {
		const char *allow, *sha, *named;
	} bad[] = {
		{ "relative/libx.so:f", "", "relative/libx.so" },
		{ "/usr/lib/libx.so", "", "/usr/lib/libx.so" },
		{ "/usr/lib/libx.so:", "", "/usr/lib/libx.so" },
		{ "/usr/lib/libx.so: ", "", "/usr/lib/libx.so" },
		{ "/usr/lib/libx.so:a,,b", "", "/usr/lib/libx.so" },
		{ "/usr/lib/libx.so:,a", "", "/usr/lib/libx.so" },
		{ "/usr/lib/libx.so:a,", "", "/usr/lib/libx.so" },
		{ LIB ":f;bad-entry", "", "bad-entry" },
		{ "", "zz112233445566778899aabbccddeeff00112233445566778899aabbccddeeff:f",
		  "zz1122" },
		{ "", "0011:f", "0011" },
		{ "", hex64, hex64 },
		{ "", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff:",
		  hex64 },
		{ LIB ":f", "00112233445566778899aabbccddeeff00112233445566778899aabbccddee:f",
		  "exec-allow-sha256" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (start(bad[i].allow, bad[i].sha) != -EINVAL) {
			stop();
			fail_msg("allow '%s' sha '%s' not refused", bad[i].allow, bad[i].sha);
		}
		if (!logged(bad[i].named))
			fail_msg("allow '%s' sha '%s': the log does not name '%s':\n%s",
				 bad[i].allow, bad[i].sha, bad[i].named, logbuf);
	}
	assert_int_equal(start(LIB ":ar_test_noop", HEX64 ":*"), 0);
	assert_int_equal(run0(LIB, "ar_test_noop", NULL), 0);
	stop();
}

/* The function's non-zero return is -ENOEXEC (upstream's VACCEL_ENOEXEC),
 * its code in why; a why too small is cut, none at all is fine. */
static void test_plugin_exec_function_fails(void **state)
{
	char why[256], small[8];
	struct cks r;

	(void)state;
	assert_int_equal(start(LIB ":ar_test_fail,ar_test_checksum,ar_test_count", ""), 0);
	assert_int_equal(run0(LIB, "ar_test_fail", why), -ENOEXEC);
	assert_non_null(strstr(why, "returned 7"));
	/* The checksum's own argument checks: too few arguments. */
	assert_int_equal(run0(LIB, "ar_test_checksum", why), -ENOEXEC);
	assert_non_null(strstr(why, "returned 1"));
	/* A wrong type for the input struct. */
	{
		struct ar_test_exec_in in = { 1, 1 };
		struct ar_buf rd[2] = { { .ptr = "x", .len = 1 },
					{ .ptr = &in, .len = sizeof(in),
					  .type = VACCEL_ARG_CUSTOM, .custom_id = 1 } };
		struct ar_buf wr[2] = { { .ptr = &r.sum, .len = 8, .type = VACCEL_ARG_UINT64 },
					{ .ptr = &r.out, .len = sizeof(r.out) } };

		assert_int_equal(run_op(AR_OP_EXEC, LIB, NULL, "ar_test_checksum", rd, 2, wr,
					2, why, sizeof(why)), -ENOEXEC);
		assert_non_null(strstr(why, "returned 3"));
	}
	assert_int_equal(run_op(AR_OP_EXEC, LIB, NULL, "ar_test_fail", NULL, 0, NULL, 0,
				small, sizeof(small)), -ENOEXEC);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_int_equal(run_op(AR_OP_EXEC, LIB, NULL, "ar_test_fail", NULL, 0, NULL, 0,
				NULL, 256), -ENOEXEC);
	assert_int_equal(run_op(AR_OP_EXEC, LIB, NULL, "ar_test_hidden", NULL, 0, NULL, 0,
				why, 0), -EPERM);
	stop();
}

/* All 32 read and 32 write arguments arrive, in order, with their
 * types and ids (ar_test_count). */
static void test_plugin_exec_all_arguments(void **state)
{
	struct ar_buf rd[AR_OP_ARGS], wr[AR_OP_ARGS];
	uint32_t in[AR_OP_ARGS], out[AR_OP_ARGS];

	(void)state;
	for (uint32_t i = 0; i < AR_OP_ARGS; i++) {
		in[i] = i * 1000;
		out[i] = 0;
		rd[i] = (struct ar_buf){ .ptr = &in[i], .len = 4, .type = VACCEL_ARG_UINT32,
					 .custom_id = i };
		wr[i] = (struct ar_buf){ .ptr = &out[i], .len = 4, .type = VACCEL_ARG_UINT32 };
	}
	assert_int_equal(start(LIB ":ar_test_count", ""), 0);
	assert_int_equal(run_op(AR_OP_EXEC, LIB, NULL, "ar_test_count", rd, AR_OP_ARGS, wr,
				AR_OP_ARGS, NULL, 0), 0);
	assert_int_equal(out[0], AR_OP_ARGS);
	assert_int_equal(out[1], AR_OP_ARGS);
	for (uint32_t j = 2; j < AR_OP_ARGS; j++)
		assert_int_equal(out[j], j * 1000 + j);
	/* Fewer reads than writes: the rest say so. */
	assert_int_equal(run_op(AR_OP_EXEC, LIB, NULL, "ar_test_count", rd, 3, wr, 5, NULL,
				0), 0);
	assert_int_equal(out[0], 3);
	assert_int_equal(out[1], 5);
	assert_int_equal(out[2], 2002);
	assert_int_equal(out[3], 0xffffffffu);
	assert_int_equal(out[4], 0xffffffffu);
	/* More than the op table allows is refused before any call. */
	assert_int_equal(run_op(AR_OP_EXEC, LIB, NULL, "ar_test_count", rd, AR_OP_ARGS + 1,
				wr, 1, NULL, 0), -EINVAL);
	stop();
}

/* exec_with_resource: a LIB resource (a sealed memfd) whose hash is
 * listed runs, and is unloaded after; exec-allow plays no part. */
static void test_plugin_exec_resource_allowed(void **state)
{
	struct res_fix f;
	char sha[128], why[256];

	(void)state;
	res_make(&f, LIB, VACCEL_RESOURCE_LIB);
	snprintf(sha, sizeof(sha), "%s:ar_test_checksum,ar_test_fail", f.hex);
	assert_int_equal(start("", sha), 0);
	check_checksum(NULL, &f.res, "resource bytes", 14, VACCEL_ARG_BUFFER, 11, 2);
	assert_false(loaded(f.path));
	check_checksum(NULL, &f.res, "again", 5, VACCEL_ARG_STRING, 12, 1);
	assert_int_equal(res_run0(&f, "ar_test_fail", why), -ENOEXEC);
	assert_non_null(strstr(why, "returned 7"));
	assert_false(loaded(f.path));
	stop();
	/* Upper-case hex is the same hash. */
	for (char *c = sha; *c && *c != ':'; c++)
		if (*c >= 'a' && *c <= 'f')
			*c = (char)(*c - 'a' + 'A');
	assert_int_equal(start("", sha), 0);
	check_checksum(NULL, &f.res, "x", 1, VACCEL_ARG_BUFFER, 0, 1);
	stop();
	res_free(&f);
}

/* A hash not listed (or exec_with_resource off) is EPERM with the hash in
 * why; a symbol not listed for it EPERM; listed but absent ENOENT; not a
 * LIB, or not a whole file, EINVAL. */
static void test_plugin_exec_resource_refused(void **state)
{
	static const char other[] =
		"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff:*";
	struct res_fix f;
	char sha[256], why[256];

	(void)state;
	res_make(&f, LIB, VACCEL_RESOURCE_LIB);
	assert_int_equal(start(LIB ":*", ""), 0);
	assert_int_equal(res_run0(&f, "ar_test_noop", why), -EPERM);
	assert_non_null(strstr(why, "off"));
	assert_non_null(strstr(why, f.hex));
	stop();

	assert_int_equal(start("", other), 0);
	assert_int_equal(res_run0(&f, "ar_test_noop", why), -EPERM);
	assert_non_null(strstr(why, f.hex));
	assert_non_null(strstr(why, "not on exec-allow-sha256"));
	stop();

	snprintf(sha, sizeof(sha), "%s;%s:ar_test_noop,ar_test_nosuch", other, f.hex);
	assert_int_equal(start("", sha), 0);
	assert_int_equal(res_run0(&f, "ar_test_noop", why), 0);
	assert_int_equal(res_run0(&f, "ar_test_hidden", why), -EPERM);
	assert_non_null(strstr(why, "ar_test_hidden"));
	assert_non_null(strstr(why, f.hex));
	assert_int_equal(res_run0(&f, "ar_test_nosuch", why), -ENOENT);
	f.res.type = VACCEL_RESOURCE_DATA;
	assert_int_equal(res_run0(&f, "ar_test_noop", why), -EINVAL);
	assert_non_null(strstr(why, "not a library"));
	f.res.type = VACCEL_RESOURCE_MODEL;
	assert_int_equal(res_run0(&f, "ar_test_noop", why), -EINVAL);
	f.res.type = VACCEL_RESOURCE_LIB;
	f.file.path = NULL;
	assert_int_equal(res_run0(&f, "ar_test_noop", why), -EINVAL);
	f.file.path = f.path;
	f.res.nr_files = 0;
	assert_int_equal(res_run0(&f, "ar_test_noop", why), -EINVAL);
	f.res.nr_files = 1;
	assert_int_equal(run_op(AR_OP_EXEC_WITH_RESOURCE, NULL, NULL, "ar_test_noop", NULL,
				0, NULL, 0, why, sizeof(why)), -EINVAL);
	assert_false(loaded(f.path));
	stop();
	res_free(&f);
}

/* A library that dlclose cannot unload (-z nodelete) stays loaded under
 * its /proc/self/fd/N name; a later resource on the same fd number must
 * not get that library's code instead of its own: it is refused. */
static void test_plugin_exec_resource_stale_name(void **state)
{
	struct res_fix a, b;
	char sha[256], why[256];
	int fd_a;

	(void)state;
	res_make(&a, AR_TEST_EXEC_NODELETE_LIB, VACCEL_RESOURCE_LIB);
	res_make(&b, LIB, VACCEL_RESOURCE_LIB);
	assert_string_not_equal(a.hex, b.hex);
	snprintf(sha, sizeof(sha), "%s:ar_test_noop;%s:ar_test_checksum", a.hex, b.hex);
	assert_int_equal(start("", sha), 0);
	assert_int_equal(res_run0(&a, "ar_test_noop", why), 0);
	assert_true(loaded(a.path));
	assert_true(logged("stays loaded"));
	/* a goes; b takes its fd number, so its path is a's. */
	fd_a = a.fd;
	res_free(&a);
	assert_int_equal(dup2(b.fd, fd_a), fd_a);
	close(b.fd);
	b.fd = b.file.fd = fd_a;
	snprintf(b.path, sizeof(b.path), "/proc/self/fd/%d", fd_a);
	{
		struct cks r;

		assert_int_equal(checksum_op(NULL, &b.res, "x", 1, VACCEL_ARG_BUFFER, 0, 1, &r,
					     why), -EBUSY);
		assert_non_null(strstr(why, "stays loaded"));
		assert_int_equal(r.sum, 0);
	}
	stop();
	/* That name stays taken in this process: keep its fd number out of
	 * later memfds' way. */
	b.fd = -1;
	res_free(&b);
}

/* 4 threads x 1000 execs through the cache, each checked, with an
 * exec_with_resource now and then on one resource they share. */
struct worker {
	pthread_t t;
	unsigned id, bad;
	const struct ar_resource *res;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	uint8_t buf[97];

	for (unsigned i = 0; i < 1000; i++) {
		const struct ar_resource *res = i % 50 == 0 ? w->res : NULL;
		struct ar_test_exec_in in = { .seed = w->id * 100000 + i, .rounds = 1 + i % 3 };
		uint64_t sum = 0;
		struct ar_test_exec_out out = { 0 };
		struct ar_buf rd[2] = {
			{ .ptr = buf, .len = sizeof(buf) - i % 7, .type = VACCEL_ARG_BUFFER },
			{ .ptr = &in, .len = sizeof(in), .type = VACCEL_ARG_RAW },
		};
		struct ar_buf wr[2] = {
			{ .ptr = &sum, .len = 8, .type = VACCEL_ARG_UINT64 },
			{ .ptr = &out, .len = sizeof(out), .type = VACCEL_ARG_RAW },
		};
		struct ar_op op = { .op = res ? AR_OP_EXEC_WITH_RESOURCE : AR_OP_EXEC,
				    .session = w->id };

		for (size_t k = 0; k < sizeof(buf); k++)
			buf[k] = (uint8_t)(k + i + w->id);
		op.u.generic = (struct ar_op_generic){
			.library = LIB, .symbol = "ar_test_checksum", .nr_read = 2,
			.nr_write = 2, .read = rd, .write = wr, .resource = res };
		if ((res ? op_res(&op) : op_exec(&op)) != 0 ||
		    sum != ref_checksum(buf, rd[0].len, in.seed, in.rounds) ||
		    out.bytes != rd[0].len)
			w->bad++;
	}
	return NULL;
}

static void test_plugin_exec_threads(void **state)
{
	struct worker w[4];
	struct res_fix f;
	char sha[128];

	(void)state;
	res_make(&f, LIB, VACCEL_RESOURCE_LIB);
	snprintf(sha, sizeof(sha), "%s:ar_test_checksum", f.hex);
	assert_int_equal(start(LIB ":ar_test_checksum", sha), 0);
	for (unsigned i = 0; i < 4; i++) {
		w[i] = (struct worker){ .id = i + 1, .res = &f.res };
		assert_int_equal(pthread_create(&w[i].t, NULL, worker_main, &w[i]), 0);
	}
	for (unsigned i = 0; i < 4; i++) {
		pthread_join(w[i].t, NULL);
		assert_int_equal(w[i].bad, 0);
	}
	assert_int_equal(logged_count("loaded "), 1);
	assert_false(loaded(f.path));
	stop();
	res_free(&f);
}

static int group_setup(void **state)
{
	(void)state;
	plug_dl = dlopen(AR_EXEC_PLUGIN, RTLD_NOW | RTLD_LOCAL);
	if (!plug_dl) {
		fprintf(stderr, "%s\n", dlerror());
		return -1;
	}
	plug = dlsym(plug_dl, AR_PLUGIN_SYMBOL);
	if (!plug)
		return -1;
	for (uint32_t i = 0; i < plug->nr_ops; i++) {
		if (plug->ops[i].op == AR_OP_EXEC)
			op_exec = plug->ops[i].fn;
		else if (plug->ops[i].op == AR_OP_EXEC_WITH_RESOURCE)
			op_res = plug->ops[i].fn;
	}
	if (!op_exec || !op_res)
		return -1;
	if (files_make()) {
		perror("test files");
		files_remove();
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	files_remove();
	if (plug_dl)
		dlclose(plug_dl);
	return 0;
}

/* A test that failed between start and stop leaves the plugin
 * initialised: the next one starts from nothing. */
static int each_teardown(void **state)
{
	(void)state;
	stop();
	return 0;
}

int main(void)
{
#define T(fn) cmocka_unit_test_teardown(fn, each_teardown)
	const struct CMUnitTest tests[] = {
		T(test_plugin_exec_reference_known_answers),
		T(test_plugin_exec_descriptor),
		T(test_plugin_exec_checksum_file_entry),
		T(test_plugin_exec_cache_and_fini),
		T(test_plugin_exec_directory_entry),
		T(test_plugin_exec_star_symbols),
		T(test_plugin_exec_off),
		T(test_plugin_exec_bad_paths),
		T(test_plugin_exec_not_listed),
		T(test_plugin_exec_enoent),
		T(test_plugin_exec_malformed_settings),
		T(test_plugin_exec_function_fails),
		T(test_plugin_exec_all_arguments),
		T(test_plugin_exec_resource_allowed),
		T(test_plugin_exec_resource_refused),
		T(test_plugin_exec_resource_stale_name),
		T(test_plugin_exec_threads),
	};
#undef T

	return cmocka_run_group_tests_name("plugin_exec", tests, group_setup, group_teardown);
}

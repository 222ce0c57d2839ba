/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_vaccel_config - vaccel/config.h, vaccel/core.h and utils/str.h:
 * configurations and the environment, bootstrap and cleanup (also the
 * library's constructor and destructor, in child processes), the run
 * directory, vaccel_str_to_lower. No broker: bootstrap must not need one.
 *
 * The library bootstraps this process from its constructor before main;
 * tests bootstrap and clean up explicitly from there.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <vaccel.h>

#include "core_test_util.h"

static const char *const env_names[] = {
	"VACCEL_PLUGINS", "VACCEL_LOG_LEVEL", "VACCEL_LOG_FILE",
	"VACCEL_PROFILING_ENABLED", "VACCEL_VERSION_IGNORE", "VACCEL_BACKENDS",
	"VACCEL_DEBUG_LEVEL", "VACCEL_IGNORE_VERSION",
};

static void clear_env(void)
{
	for (size_t i = 0; i < sizeof(env_names) / sizeof(env_names[0]); i++)
		unsetenv(env_names[i]);
}

static char *self_exe;

/*
 * Run this binary again as a child with mode as argv[1] and the given
 * environment additions ("NAME=value", NULL-terminated); its stdout in
 * *out (free it). Returns its exit status, or -1.
 */
static int run_child(const char *mode, char **out, ...)
{
	int pipefd[2];
	pid_t pid;
	va_list ap;
	int st;

	if (pipe(pipefd))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		const char *kv;

		va_start(ap, out);
		while ((kv = va_arg(ap, const char *)))
			putenv((char *)kv);
		va_end(ap);
		dup2(pipefd[1], STDOUT_FILENO);
		close(pipefd[0]);
		execl(self_exe, self_exe, mode, (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	{
		FILE *f = fdopen(pipefd[0], "r");
		size_t n = 0;

		*out = NULL;
		if (!f || getdelim(out, &n, '\0', f) < 0) {
			free(*out);
			*out = strdup("");
		}
		if (f)
			fclose(f);
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/* Child modes: what the constructor did, and a run directory the
 * destructor may or may not remove. */
static int child_main(const char *mode)
{
	const char *dir;

	if (!strcmp(mode, "initialized"))
		return vaccel_is_initialized() ? 10 : 11;
	if (!strcmp(mode, "rundir")) {
		dir = vaccel_rundir();
		if (!dir)
			return 12;
		printf("%s", dir);
		return 0;
	}
	return 99;
}

static bool is_private_dir(const char *path)
{
	struct stat st;

	return !lstat(path, &st) && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700 &&
	       st.st_uid == getuid();
}

static bool exists(const char *path)
{
	struct stat st;

	return !lstat(path, &st);
}

/* ---- config.h ---- */

/* Runs first: the environment's configuration is what is in force once
 * cleaned up, and it is read once. */
static void test_config_env_in_force_read_once(void **state)
{
	const struct vaccel_config *c;

	(void)state;
	clear_env();
	assert_int_equal(setenv("VACCEL_LOG_LEVEL", "3", 1), 0);
	assert_int_equal(setenv("VACCEL_PROFILING_ENABLED", "1", 1), 0);
	assert_int_equal(vaccel_cleanup(), VACCEL_OK);
	assert_false(vaccel_is_initialized());
	c = vaccel_config();
	assert_non_null(c);
	assert_int_equal(c->log_level, VACCEL_LOG_INFO);
	assert_true(c->profiling_enabled);
	assert_true(vaccel_prof_enabled());
	/* Read once: a later change is not seen... */
	assert_int_equal(setenv("VACCEL_LOG_LEVEL", "1", 1), 0);
	assert_int_equal(unsetenv("VACCEL_PROFILING_ENABLED"), 0);
	assert_int_equal(vaccel_config()->log_level, VACCEL_LOG_INFO);
	/* ...until the next bootstrap, which reads the environment again. */
	assert_int_equal(vaccel_bootstrap(), VACCEL_OK);
	assert_int_equal(vaccel_config()->log_level, VACCEL_LOG_ERROR);
	assert_false(vaccel_prof_enabled());
	assert_int_equal(vaccel_cleanup(), VACCEL_OK);
	clear_env();
}

/* init copies the strings; release frees them and restores the defaults. */
static void test_config_init_release(void **state)
{
	char plugins[] = "libvaccel-noop.so:libvaccel-exec.so", file[] = "vaccel_log";
	struct vaccel_config c;

	(void)state;
	assert_int_equal(vaccel_config_init(&c, plugins, VACCEL_LOG_DEBUG, file, true, true),
			 VACCEL_OK);
	assert_string_equal(c.plugins, plugins);
	assert_ptr_not_equal(c.plugins, plugins);
	assert_string_equal(c.log_file, file);
	assert_ptr_not_equal(c.log_file, file);
	assert_int_equal(c.log_level, VACCEL_LOG_DEBUG);
	assert_true(c.profiling_enabled);
	assert_true(c.version_ignore);
	plugins[0] = 'X';
	assert_string_equal(c.plugins, "libvaccel-noop.so:libvaccel-exec.so");

	assert_int_equal(vaccel_config_release(&c), VACCEL_OK);
	assert_null(c.plugins);
	assert_null(c.log_file);
	assert_int_equal(c.log_level, VACCEL_LOG_ERROR);
	assert_false(c.profiling_enabled);
	assert_false(c.version_ignore);

	assert_int_equal(vaccel_config_init(&c, NULL, VACCEL_LOG_WARN, NULL, false, true),
			 VACCEL_OK);
	assert_null(c.plugins);
	assert_null(c.log_file);
	assert_int_equal(c.log_level, VACCEL_LOG_WARN);
	assert_true(c.version_ignore);
	assert_int_equal(vaccel_config_release(&c), VACCEL_OK);
}

/* NULL configs are refused and nothing is touched. */
static void test_config_bad_args(void **state)
{
	struct vaccel_config c = { .log_level = VACCEL_LOG_INFO };
	struct vaccel_config *p = (struct vaccel_config *)0x1;

	(void)state;
	assert_int_equal(vaccel_config_init(NULL, "p", VACCEL_LOG_DEBUG, "f", true, true),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_config_init_from(NULL, &c), VACCEL_EINVAL);
	assert_int_equal(vaccel_config_init_from(&c, NULL), VACCEL_EINVAL);
	assert_int_equal(c.log_level, VACCEL_LOG_INFO);
	assert_null(c.plugins);
	assert_int_equal(vaccel_config_init_from_env(NULL), VACCEL_EINVAL);
	assert_int_equal(vaccel_config_release(NULL), VACCEL_EINVAL);
	assert_int_equal(vaccel_config_delete(NULL), VACCEL_EINVAL);
	assert_int_equal(vaccel_config_new(NULL, "p", VACCEL_LOG_DEBUG, NULL, false, false),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_config_from(NULL, &c), VACCEL_EINVAL);
	assert_int_equal(vaccel_config_from(&p, NULL), VACCEL_EINVAL);
	assert_ptr_equal(p, (struct vaccel_config *)0x1);
	assert_int_equal(vaccel_config_from_env(NULL), VACCEL_EINVAL);
	vaccel_config_print_debug(NULL);
}

/* init_from, new, from and delete make independent copies. */
static void test_config_copies(void **state)
{
	struct vaccel_config src, dst, *n = NULL, *f = NULL;

	(void)state;
	assert_int_equal(vaccel_config_init(&src, "a.so", VACCEL_LOG_INFO, "log", true, false),
			 VACCEL_OK);
	assert_int_equal(vaccel_config_init_from(&dst, &src), VACCEL_OK);
	assert_string_equal(dst.plugins, "a.so");
	assert_ptr_not_equal(dst.plugins, src.plugins);
	assert_string_equal(dst.log_file, "log");
	assert_int_equal(dst.log_level, VACCEL_LOG_INFO);
	assert_true(dst.profiling_enabled);
	assert_false(dst.version_ignore);

	assert_int_equal(vaccel_config_from(&f, &src), VACCEL_OK);
	assert_non_null(f);
	assert_ptr_not_equal(f->log_file, src.log_file);
	assert_string_equal(f->log_file, "log");
	assert_int_equal(vaccel_config_release(&src), VACCEL_OK);
	assert_string_equal(f->plugins, "a.so");
	assert_string_equal(dst.plugins, "a.so");

	assert_int_equal(vaccel_config_new(&n, NULL, VACCEL_LOG_DEBUG, "x", false, true),
			 VACCEL_OK);
	assert_non_null(n);
	assert_null(n->plugins);
	assert_string_equal(n->log_file, "x");
	assert_int_equal(n->log_level, VACCEL_LOG_DEBUG);
	assert_true(n->version_ignore);

	assert_int_equal(vaccel_config_delete(n), VACCEL_OK);
	assert_int_equal(vaccel_config_delete(f), VACCEL_OK);
	assert_int_equal(vaccel_config_release(&dst), VACCEL_OK);
}

/* Every variable is read, as upstream parses them; unset means default. */
static void test_config_from_env(void **state)
{
	struct vaccel_config c, *p = NULL;

	(void)state;
	clear_env();
	assert_int_equal(vaccel_config_init_from_env(&c), VACCEL_OK);
	assert_null(c.plugins);
	assert_null(c.log_file);
	assert_int_equal(c.log_level, VACCEL_LOG_ERROR);
	assert_false(c.profiling_enabled);
	assert_false(c.version_ignore);
	assert_int_equal(vaccel_config_release(&c), VACCEL_OK);

	setenv("VACCEL_PLUGINS", "libvaccel-noop.so", 1);
	setenv("VACCEL_LOG_LEVEL", "4", 1);
	setenv("VACCEL_LOG_FILE", "/tmp/x.log", 1);
	setenv("VACCEL_PROFILING_ENABLED", "1", 1);
	setenv("VACCEL_VERSION_IGNORE", "7", 1);
	assert_int_equal(vaccel_config_from_env(&p), VACCEL_OK);
	assert_string_equal(p->plugins, "libvaccel-noop.so");
	assert_int_equal(p->log_level, VACCEL_LOG_DEBUG);
	assert_string_equal(p->log_file, "/tmp/x.log");
	assert_true(p->profiling_enabled);
	assert_true(p->version_ignore);
	assert_int_equal(vaccel_config_delete(p), VACCEL_OK);

	/* Booleans are numbers, as upstream's: "true" is not one. */
	setenv("VACCEL_PROFILING_ENABLED", "true", 1);
	setenv("VACCEL_VERSION_IGNORE", "0", 1);
	assert_int_equal(vaccel_config_init_from_env(&c), VACCEL_OK);
	assert_false(c.profiling_enabled);
	assert_false(c.version_ignore);
	assert_int_equal(vaccel_config_release(&c), VACCEL_OK);
	clear_env();
}

/* A number out of range is refused and the config left as it was. */
static void test_config_from_env_bad(void **state)
{
	struct vaccel_config c = { .log_level = VACCEL_LOG_WARN };
	struct vaccel_config *p = NULL;

	(void)state;
	clear_env();
	setenv("VACCEL_PLUGINS", "x.so", 1);
	setenv("VACCEL_LOG_LEVEL", "999999999999999999999999999", 1);
	assert_int_equal(vaccel_config_init_from_env(&c), VACCEL_EINVAL);
	assert_int_equal(c.log_level, VACCEL_LOG_WARN);
	assert_null(c.plugins);
	assert_int_equal(vaccel_config_from_env(&p), VACCEL_EINVAL);
	assert_null(p);
	clear_env();
	setenv("VACCEL_PROFILING_ENABLED", "999999999999999999999999999", 1);
	assert_int_equal(vaccel_config_init_from_env(&c), VACCEL_EINVAL);
	clear_env();
	setenv("VACCEL_VERSION_IGNORE", "999999999999999999999999999", 1);
	assert_int_equal(vaccel_config_init_from_env(&c), VACCEL_EINVAL);
	assert_null(c.plugins);
	clear_env();
}

/* The old names are read when only they are set. */
static void test_config_from_env_old_names(void **state)
{
	struct vaccel_config c;

	(void)state;
	clear_env();
	setenv("VACCEL_BACKENDS", "old.so", 1);
	setenv("VACCEL_DEBUG_LEVEL", "2", 1);
	setenv("VACCEL_IGNORE_VERSION", "1", 1);
	assert_int_equal(vaccel_config_init_from_env(&c), VACCEL_OK);
	assert_string_equal(c.plugins, "old.so");
	assert_int_equal(c.log_level, VACCEL_LOG_WARN);
	assert_true(c.version_ignore);
	assert_int_equal(vaccel_config_release(&c), VACCEL_OK);

	setenv("VACCEL_PLUGINS", "new.so", 1);
	setenv("VACCEL_LOG_LEVEL", "3", 1);
	setenv("VACCEL_VERSION_IGNORE", "0", 1);
	assert_int_equal(vaccel_config_init_from_env(&c), VACCEL_OK);
	assert_string_equal(c.plugins, "new.so");
	assert_int_equal(c.log_level, VACCEL_LOG_INFO);
	assert_false(c.version_ignore);
	assert_int_equal(vaccel_config_release(&c), VACCEL_OK);
	clear_env();
}

/* print_debug logs each field at debug level. */
static void test_config_print_debug(void **state)
{
	char *dir = ctu_tmpdir(), *log = NULL, *text;
	struct vaccel_config c;

	(void)state;
	assert_non_null(dir);
	assert_true(asprintf(&log, "%s/log", dir) > 0);
	assert_int_equal(ctu_bootstrap(VACCEL_LOG_DEBUG, log, false), VACCEL_OK);
	assert_int_equal(vaccel_config_init(&c, "p1.so", VACCEL_LOG_WARN, NULL, true, false),
			 VACCEL_OK);
	vaccel_config_print_debug(&c);
	text = ctu_slurp(log);
	assert_non_null(strstr(text, "<debug> Config:\n"));
	assert_non_null(strstr(text, "<debug>   plugins = p1.so\n"));
	assert_non_null(strstr(text, "<debug>   log_level = warn\n"));
	assert_non_null(strstr(text, "<debug>   log_file = (null)\n"));
	assert_non_null(strstr(text, "<debug>   profiling_enabled = true\n"));
	assert_non_null(strstr(text, "<debug>   version_ignore = false\n"));
	free(text);
	assert_int_equal(vaccel_config_release(&c), VACCEL_OK);
	assert_int_equal(vaccel_cleanup(), VACCEL_OK);
	ctu_rm_rf(dir);
	free(log);
	free(dir);
}

/* ---- core.h ---- */

/* bootstrap_with_config puts a copy of the config in force, loads no
 * plugins (it says so) and needs no broker. */
static void test_core_bootstrap_with_config(void **state)
{
	char *dir = ctu_tmpdir(), *log = NULL, *text;
	struct vaccel_config c;
	const struct vaccel_config *in;

	(void)state;
	assert_non_null(dir);
	assert_true(asprintf(&log, "%s/log", dir) > 0);
	setenv("ACCELRING_ADDRESS", "unix:/nonexistent/accelringd.sock", 1);
	assert_int_equal(vaccel_config_init(&c, "/x/libvaccel-noop.so", VACCEL_LOG_DEBUG, log,
					    true, true),
			 VACCEL_OK);
	assert_int_equal(vaccel_bootstrap_with_config(&c), VACCEL_OK);
	assert_true(vaccel_is_initialized());
	in = vaccel_config();
	assert_ptr_not_equal(in, &c);
	assert_ptr_not_equal(in->plugins, c.plugins);
	assert_string_equal(in->plugins, "/x/libvaccel-noop.so");
	assert_string_equal(in->log_file, log);
	assert_int_equal(in->log_level, VACCEL_LOG_DEBUG);
	assert_true(in->profiling_enabled);
	assert_true(in->version_ignore);
	assert_true(vaccel_prof_enabled());
	assert_int_equal(vaccel_config_release(&c), VACCEL_OK);
	assert_string_equal(vaccel_config()->plugins, "/x/libvaccel-noop.so");

	text = ctu_slurp(log);
	assert_non_null(strstr(text, "<info> vAccel " VACCEL_VERSION));
	assert_non_null(strstr(text, "plugins are loaded by accelringd"));
	assert_null(strstr(text, "<error>"));
	free(text);

	assert_int_equal(vaccel_cleanup(), VACCEL_OK);
	assert_false(vaccel_is_initialized());
	unsetenv("ACCELRING_ADDRESS");
	ctu_rm_rf(dir);
	free(log);
	free(dir);
}

/* NULL is refused and what is in force stays. */
static void test_core_bootstrap_with_config_null(void **state)
{
	(void)state;
	assert_int_equal(ctu_bootstrap(VACCEL_LOG_ERROR, NULL, true), VACCEL_OK);
	assert_int_equal(vaccel_bootstrap_with_config(NULL), VACCEL_EINVAL);
	assert_true(vaccel_is_initialized());
	assert_true(vaccel_config()->profiling_enabled);
	assert_int_equal(vaccel_cleanup(), VACCEL_OK);
	assert_false(vaccel_is_initialized());
	assert_int_equal(vaccel_bootstrap_with_config(NULL), VACCEL_EINVAL);
	assert_false(vaccel_is_initialized());
}

/* vaccel_bootstrap reads the environment; a bad one is refused. */
static void test_core_bootstrap_env(void **state)
{
	(void)state;
	clear_env();
	setenv("VACCEL_PROFILING_ENABLED", "1", 1);
	setenv("VACCEL_PLUGINS", "a.so;b.so", 1);
	assert_int_equal(vaccel_bootstrap(), VACCEL_OK);
	assert_true(vaccel_is_initialized());
	assert_true(vaccel_config()->profiling_enabled);
	assert_string_equal(vaccel_config()->plugins, "a.so;b.so");
	assert_int_equal(vaccel_cleanup(), VACCEL_OK);

	setenv("VACCEL_LOG_LEVEL", "999999999999999999999999999", 1);
	assert_int_equal(vaccel_bootstrap(), VACCEL_EINVAL);
	assert_false(vaccel_is_initialized());
	clear_env();
}

/* Bootstrapping again reloads: the old run directory goes, the new
 * config is in force. */
static void test_core_bootstrap_again(void **state)
{
	char *old;
	const char *d;

	(void)state;
	assert_int_equal(ctu_bootstrap(VACCEL_LOG_ERROR, NULL, false), VACCEL_OK);
	d = vaccel_rundir();
	assert_non_null(d);
	old = strdup(d);
	assert_true(exists(old));
	assert_int_equal(ctu_bootstrap(VACCEL_LOG_WARN, NULL, true), VACCEL_OK);
	assert_true(vaccel_is_initialized());
	assert_int_equal(vaccel_config()->log_level, VACCEL_LOG_WARN);
	assert_true(vaccel_prof_enabled());
	assert_false(exists(old));
	assert_int_equal(vaccel_cleanup(), VACCEL_OK);
	free(old);
}

/* The run directory: private, stable, and removed by cleanup with what
 * sessions put in it; a link in it is removed, not followed. */
static void test_core_rundir(void **state)
{
	char *tmp = ctu_tmpdir(), *xdg = NULL, *outside = NULL, *path = NULL, *r;
	const char *d;
	FILE *f;

	(void)state;
	assert_non_null(tmp);
	assert_true(asprintf(&xdg, "%s/xdg", tmp) > 0);
	assert_int_equal(mkdir(xdg, 0700), 0);
	assert_true(asprintf(&outside, "%s/outside", tmp) > 0);
	f = fopen(outside, "w");
	assert_non_null(f);
	fclose(f);
	setenv("XDG_RUNTIME_DIR", xdg, 1);

	assert_int_equal(ctu_bootstrap(VACCEL_LOG_ERROR, NULL, false), VACCEL_OK);
	d = vaccel_rundir();
	assert_non_null(d);
	r = strdup(d);
	assert_non_null(strstr(r, "vaccel"));
	assert_int_equal(strncmp(r, xdg, strlen(xdg)), 0);
	assert_true(is_private_dir(r));
	assert_string_equal(vaccel_rundir(), r);

	/* What a session leaves: session.1/ with a file and a link out. */
	free(path);
	assert_true(asprintf(&path, "%s/session.1", r) > 0);
	assert_int_equal(mkdir(path, 0700), 0);
	free(path);
	assert_true(asprintf(&path, "%s/session.1/model.pt", r) > 0);
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
	free(path);
	assert_true(asprintf(&path, "%s/session.1/link", r) > 0);
	assert_int_equal(symlink(outside, path), 0);
	free(path);
	assert_true(asprintf(&path, "%s/dirlink", r) > 0);
	assert_int_equal(symlink(tmp, path), 0);

	assert_int_equal(vaccel_cleanup(), VACCEL_OK);
	assert_false(exists(r));
	assert_true(exists(outside));
	assert_true(exists(xdg));
	assert_int_equal(vaccel_cleanup(), VACCEL_OK);

	/* Without a bootstrap too: made on demand, removed by cleanup. */
	d = vaccel_rundir();
	assert_non_null(d);
	free(r);
	r = strdup(d);
	assert_true(is_private_dir(r));
	assert_int_equal(vaccel_cleanup(), VACCEL_OK);
	assert_false(exists(r));

	unsetenv("XDG_RUNTIME_DIR");
	ctu_rm_rf(tmp);
	free(r);
	free(path);
	free(outside);
	free(xdg);
	free(tmp);
}

/* A parent directory that is not a plain one of ours is not used: here
 * XDG_RUNTIME_DIR/vaccel is a link, so /tmp/vaccel.<uid> is. */
static void test_core_rundir_hostile_parent(void **state)
{
	char *tmp = ctu_tmpdir(), *link = NULL, *target = NULL, *r;
	const char *d;

	(void)state;
	assert_non_null(tmp);
	assert_true(asprintf(&target, "%s/elsewhere", tmp) > 0);
	assert_int_equal(mkdir(target, 0700), 0);
	assert_true(asprintf(&link, "%s/vaccel", tmp) > 0);
	assert_int_equal(symlink(target, link), 0);
	setenv("XDG_RUNTIME_DIR", tmp, 1);

	d = vaccel_rundir();
	assert_non_null(d);
	r = strdup(d);
	assert_int_not_equal(strncmp(r, tmp, strlen(tmp)), 0);
	assert_true(is_private_dir(r));
	assert_int_equal(vaccel_cleanup(), VACCEL_OK);
	assert_false(exists(r));

	/* Group-writable: refused as well. */
	assert_int_equal(unlink(link), 0);
	assert_int_equal(mkdir(link, 0700), 0);
	assert_int_equal(chmod(link, 0770), 0);
	d = vaccel_rundir();
	assert_non_null(d);
	assert_int_not_equal(strncmp(d, tmp, strlen(tmp)), 0);
	assert_int_equal(vaccel_cleanup(), VACCEL_OK);

	unsetenv("XDG_RUNTIME_DIR");
	ctu_rm_rf(tmp);
	free(r);
	free(link);
	free(target);
	free(tmp);
}

/* A forked child gets its own run directory and leaves its parent's. */
static void test_core_rundir_fork(void **state)
{
	char *mine;
	int pipefd[2], st;
	pid_t pid;
	char child[4096] = "";
	ssize_t n;

	(void)state;
	mine = strdup(vaccel_rundir());
	assert_int_equal(pipe(pipefd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		const char *d = vaccel_rundir();

		if (!d || !strcmp(d, mine) || write(pipefd[1], d, strlen(d)) < 0)
			_exit(1);
		exit(0); /* runs the destructor: the child's cleanup */
	}
	close(pipefd[1]);
	n = read(pipefd[0], child, sizeof(child) - 1);
	close(pipefd[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_true(n > 0);
	child[n] = '\0';
	assert_string_not_equal(child, mine);
	assert_false(exists(child));
	assert_true(is_private_dir(mine));
	assert_string_equal(vaccel_rundir(), mine);
	assert_int_equal(vaccel_cleanup(), VACCEL_OK);
	assert_false(exists(mine));
	free(mine);
}

/* The constructor bootstraps unless VACCEL_BOOTSTRAP_ENABLED=0. */
static void test_core_constructor(void **state)
{
	char *out;

	(void)state;
	assert_int_equal(run_child("initialized", &out, NULL), 10);
	free(out);
	assert_int_equal(run_child("initialized", &out, "VACCEL_BOOTSTRAP_ENABLED=1", NULL),
			 10);
	free(out);
	assert_int_equal(run_child("initialized", &out, "VACCEL_BOOTSTRAP_ENABLED=0", NULL),
			 11);
	free(out);
	/* A bad environment: the process still runs, uninitialized. */
	assert_int_equal(run_child("initialized", &out,
				   "VACCEL_LOG_LEVEL=999999999999999999999999999", NULL),
			 11);
	free(out);
}

/* The destructor cleans up unless VACCEL_CLEANUP_ENABLED=0. */
static void test_core_destructor(void **state)
{
	char *out;

	(void)state;
	assert_int_equal(run_child("rundir", &out, NULL), 0);
	assert_true(strlen(out) > 0);
	assert_false(exists(out));
	free(out);
	assert_int_equal(run_child("rundir", &out, "VACCEL_CLEANUP_ENABLED=0", NULL), 0);
	assert_true(strlen(out) > 0);
	assert_true(is_private_dir(out));
	ctu_rm_rf(out);
	free(out);
}

/* ---- utils/str.h ---- */

/* Into a buffer (truncated quietly, as upstream), in place, or new. */
static void test_str_to_lower(void **state)
{
	char buf[16], small[4], inplace[] = "MiXeD", *alloc = NULL;

	(void)state;
	assert_int_equal(vaccel_str_to_lower("HeLLo World", buf, sizeof(buf), NULL), VACCEL_OK);
	assert_string_equal(buf, "hello world");
	assert_int_equal(vaccel_str_to_lower("ABCDEF", small, sizeof(small), NULL), VACCEL_OK);
	assert_string_equal(small, "abc");
	assert_int_equal(vaccel_str_to_lower("", buf, 1, NULL), VACCEL_OK);
	assert_string_equal(buf, "");
	assert_int_equal(vaccel_str_to_lower(inplace, inplace, sizeof(inplace), NULL),
			 VACCEL_OK);
	assert_string_equal(inplace, "mixed");
	assert_int_equal(vaccel_str_to_lower("TORCH_X", NULL, 0, &alloc), VACCEL_OK);
	assert_string_equal(alloc, "torch_x");
	free(alloc);
	/* The enum helpers use it. */
	assert_string_equal(vaccel_log_level_name(VACCEL_LOG_WARN, buf, sizeof(buf)), "warn");
	assert_string_equal(vaccel_log_level_name(VACCEL_LOG_DEBUG, small, 3), "de");
}

/* No string or no destination is refused. */
static void test_str_to_lower_bad(void **state)
{
	char buf[8] = "keep";
	char *alloc = (char *)0x1;

	(void)state;
	assert_int_equal(vaccel_str_to_lower(NULL, buf, sizeof(buf), NULL), VACCEL_EINVAL);
	assert_int_equal(vaccel_str_to_lower(NULL, NULL, 0, &alloc), VACCEL_EINVAL);
	assert_ptr_equal(alloc, (char *)0x1);
	assert_int_equal(vaccel_str_to_lower("X", NULL, 8, NULL), VACCEL_EINVAL);
	assert_int_equal(vaccel_str_to_lower("X", buf, 0, NULL), VACCEL_EINVAL);
	assert_string_equal(buf, "keep");
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_env_in_force_read_once),
		cmocka_unit_test(test_config_init_release),
		cmocka_unit_test(test_config_bad_args),
		cmocka_unit_test(test_config_copies),
		cmocka_unit_test(test_config_from_env),
		cmocka_unit_test(test_config_from_env_bad),
		cmocka_unit_test(test_config_from_env_old_names),
		cmocka_unit_test(test_config_print_debug),
		cmocka_unit_test(test_core_bootstrap_with_config),
		cmocka_unit_test(test_core_bootstrap_with_config_null),
		cmocka_unit_test(test_core_bootstrap_env),
		cmocka_unit_test(test_core_bootstrap_again),
		cmocka_unit_test(test_core_rundir),
		cmocka_unit_test(test_core_rundir_hostile_parent),
		cmocka_unit_test(test_core_rundir_fork),
		cmocka_unit_test(test_core_constructor),
		cmocka_unit_test(test_core_destructor),
		cmocka_unit_test(test_str_to_lower),
		cmocka_unit_test(test_str_to_lower_bad),
	};

	if (argc > 1)
		return child_main(argv[1]);
	self_exe = realpath("/proc/self/exe", NULL);
	if (!self_exe)
		return 1;
	{
		int ret = cmocka_run_group_tests_name("vaccel_config", tests, NULL, NULL);

		free(self_exe);
		return ret;
	}
}

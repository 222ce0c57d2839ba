/* SPDX-License-Identifier: Apache-2.0 */
/*
 * run_child - run this test program again (/proc/self/exe MODE) in an
 * environment of its own, and collect what it writes to stdout and stderr:
 * how the client suites see what a fresh process logs at its defaults
 * (bootstrap reads the environment once, in the library's constructor).
 */
#ifndef ACCELRING_TESTS_RUN_CHILD_H
#define ACCELRING_TESTS_RUN_CHILD_H

#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/*
 * Run MODE with this environment changed by env (NULL-terminated): "NAME=value"
 * sets, "NAME" removes. Its output goes to out (cap bytes, NUL-terminated).
 * The child is killed after timeout_s. Returns its exit status, or -1.
 */
static inline int run_child(const char *mode, const char *const *env, char *out, size_t cap,
			    unsigned timeout_s)
{
	char *argv[] = { "/proc/self/exe", (char *)mode, NULL };
	posix_spawn_file_actions_t fa;
	size_t n = 0, ne = 0, got = 0;
	int p[2], status = -1;
	char **envp;
	pid_t pid;

	while (environ[n])
		n++;
	while (env[ne])
		ne++;
	envp = calloc(n + ne + 1, sizeof(*envp));
	if (!envp || pipe(p)) {
		free(envp);
		return -1;
	}
	n = 0;
	for (char **e = environ; *e; e++) {
		bool drop = false;

		for (size_t i = 0; i < ne; i++) {
			size_t len = strcspn(env[i], "=");

			drop |= !strncmp(*e, env[i], len) && (*e)[len] == '=';
		}
		if (!drop)
			envp[n++] = *e;
	}
	for (size_t i = 0; i < ne; i++)
		if (strchr(env[i], '='))
			envp[n++] = (char *)env[i];
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_adddup2(&fa, p[1], 2);
	posix_spawn_file_actions_addclose(&fa, p[0]);
	posix_spawn_file_actions_addclose(&fa, p[1]);
	if (posix_spawn(&pid, argv[0], &fa, NULL, argv, envp))
		pid = -1;
	posix_spawn_file_actions_destroy(&fa);
	free(envp);
	close(p[1]);
	if (pid > 0) {
		/* A child that hangs is killed (by its pid): the read ends. */
		pid_t killer = fork();

		if (killer == 0) {
			sleep(timeout_s);
			kill(pid, SIGKILL);
			_exit(0);
		}
		for (;;) {
			char junk[256];
			/* Past cap, the rest is read and dropped: the child
			 * never blocks on a full pipe. */
			ssize_t r = got < cap - 1 ? read(p[0], out + got, cap - 1 - got)
						  : read(p[0], junk, sizeof(junk));

			if (r <= 0)
				break;
			if (got < cap - 1)
				got += (size_t)r;
		}
		if (waitpid(pid, &status, 0) != pid)
			status = -1;
		if (killer > 0) {
			kill(killer, SIGKILL);
			waitpid(killer, NULL, 0);
		}
	}
	out[got] = '\0';
	close(p[0]);
	if (pid < 0 || status == -1)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* How many times s occurs in text. */
static inline int count_of(const char *text, const char *s)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, s)); p += strlen(s))
		n++;
	return n;
}

#endif

/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "broker_harness.h"

#ifndef AR_BROKER_PATH
#error "AR_BROKER_PATH must name the accelringd binary"
#endif
#ifndef AR_PLUGIN_BUILD_DIR
#error "AR_PLUGIN_BUILD_DIR must name the built plugins' directory"
#endif

/* Every broker this process started and has not stopped: copies, since a
 * test's struct may be on a stack a failed assertion has unwound. */
#define MAX_BROKERS 8
static struct test_broker live[MAX_BROKERS];
static pid_t owner;

static void cleanup_all(void)
{
	/* Only the process that started them; forked children exit too. */
	if (getpid() != owner)
		return;
	for (int i = 0; i < MAX_BROKERS; i++)
		if (live[i].pid > 0)
			test_broker_stop(&live[i]);
}

static void rm_rf(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[512];

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

/* ACCELRING_TEST_TIME_SCALE: how many times longer the broker may take to
 * start and stop (a broker under valgrind runs 20-50 times slower);
 * default 1, or 20 with a wrapper. */
static int time_scale(void)
{
	const char *s = getenv("ACCELRING_TEST_TIME_SCALE");
	int k = s && *s ? atoi(s) : 0;

	if (k < 1)
		k = getenv("ACCELRING_TEST_BROKER_WRAPPER") ? 20 : 1;
	return k;
}

/* ACCELRING_TEST_BROKER_WRAPPER: a command line the broker runs under
 * (words split at spaces, no quoting), e.g. "valgrind --leak-check=full
 * --errors-for-leak-kinds=definite --error-exitcode=99 -q". Returns the
 * number of words put in argv (at most max); they point into buf. */
static int wrapper_words(const char **argv, int max, char *buf, size_t cap)
{
	const char *w = getenv("ACCELRING_TEST_BROKER_WRAPPER");
	char *save = NULL;
	int n = 0;

	if (!w || !*w)
		return 0;
	snprintf(buf, cap, "%s", w);
	for (char *t = strtok_r(buf, " \t", &save); t && n < max;
	     t = strtok_r(NULL, " \t", &save))
		argv[n++] = t;
	return n;
}

static void print_log(const struct test_broker *b)
{
	char line[1024];
	FILE *f = fopen(b->log, "r");

	if (!f)
		return;
	fprintf(stderr, "---- accelringd log ----\n");
	while (fgets(line, sizeof(line), f))
		fputs(line, stderr);
	fclose(f);
}

int test_broker_start(struct test_broker *b, const char *const *args)
{
	const char *argv[96];
	char sock_arg[160], dir_arg[300], wrap[1024];
	struct pollfd p;
	int pipefd[2], n = 0, nwrap, slot = -1;
	char ready[160];
	const char *transport = test_transport();
	ssize_t got;

	if (!owner) {
		owner = getpid();
		atexit(cleanup_all);
	}
	for (int i = 0; i < MAX_BROKERS; i++)
		if (live[i].pid <= 0) {
			slot = i;
			break;
		}
	if (slot < 0)
		return -1;
	memset(b, 0, sizeof(*b));
	snprintf(b->dir, sizeof(b->dir), "/tmp/accelring-test.XXXXXX");
	if (!mkdtemp(b->dir))
		return -1;
	/* Other users' clients (tenancy tests) reach the socket too. */
	chmod(b->dir, 0755);
	snprintf(b->sock, sizeof(b->sock), "%s/accelring.sock", b->dir);
	snprintf(b->address, sizeof(b->address), "unix://%s", b->sock);
	snprintf(b->log, sizeof(b->log), "%s/broker.log", b->dir);
	snprintf(sock_arg, sizeof(sock_arg), "--socket=%s", b->sock);
	snprintf(dir_arg, sizeof(dir_arg), "--plugin-dir=%s", AR_PLUGIN_BUILD_DIR);
	n = wrapper_words(argv, 16, wrap, sizeof(wrap));
	nwrap = n;
	argv[n++] = AR_BROKER_PATH;
	argv[n++] = sock_arg;
	argv[n++] = dir_arg;
	argv[n++] = "--plugins=blas:mbench:noop";
	argv[n++] = "--log-level=info";
	/* The suites' other tenants are other uids (socket-mode's default,
	 * 0660, keeps them out: test_accelringd_cli checks that). */
	argv[n++] = "--socket-mode=0666";
	if (!strcmp(transport, "tcp")) {
		argv[n++] = "--tcp=127.0.0.1:0";	/* the broker picks the port */
		/* A TCP listener admits only the peers allow-peers lists; the
		 * suites' clients are local (a loopback entry, which is one
		 * tenant for every local user). */
		argv[n++] = "--allow-peers=127.0.0.1";
	}
	/* Under a wrapper, workers spin (yielding) for up to 10 s before
	 * they sleep: valgrind 3.19 holds its lock over an io_uring_enter
	 * that waits, so a sleeping worker stopped the whole broker for up
	 * to its 1 s timeout each time. A test's own --spin-us comes after
	 * and wins. */
	if (nwrap)
		argv[n++] = "--spin-us=10000000";
	for (int i = 0; args && args[i] && n < 94; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	if (pipe2(pipefd, O_CLOEXEC))
		return -1;
	pid_t parent = getpid();

	b->pid = fork();
	if (b->pid == 0) {
		char fdnum[16];
		int log = open(b->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

		/* A test that crashes (no atexit cleanup then) takes its broker
		 * with it, instead of leaving it running. */
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) || getppid() != parent)
			_exit(127);
		dup2(log, 1);
		dup2(log, 2);
		/* The ready pipe stays open across exec; it may already be
		 * any number, so clear its close-on-exec flag in place. */
		fcntl(pipefd[1], F_SETFD, 0);
		snprintf(fdnum, sizeof(fdnum), "%d", pipefd[1]);
		setenv("ACCELRING_READY_FD", fdnum, 1);
		unsetenv("ACCELRING_PLUGINS");
		unsetenv("VACCEL_PLUGINS");
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(pipefd[1]);
	live[slot] = *b;
	p = (struct pollfd){ .fd = pipefd[0], .events = POLLIN };
	if (poll(&p, 1, 10000 * time_scale()) != 1 ||
	    (got = read(pipefd[0], ready, sizeof(ready) - 1)) <= 0) {
		close(pipefd[0]);
		print_log(b);
		test_broker_stop(b);
		return -1;
	}
	close(pipefd[0]);
	ready[got] = '\0';
	/* "ready[ tcp=HOST:PORT]\n" */
	if (strstr(ready, "tcp=")) {
		char *t = strstr(ready, "tcp=") + 4;

		t[strcspn(t, "\n")] = '\0';
		snprintf(b->tcp, sizeof(b->tcp), "%s", t);
	}
	if (!strcmp(transport, "tcp")) {
		if (!b->tcp[0]) {
			print_log(b);
			test_broker_stop(b);
			return -1;
		}
		snprintf(b->address, sizeof(b->address), "tcp://%s", b->tcp);
	} else if (!strcmp(transport, "unix-stream")) {
		snprintf(b->address, sizeof(b->address), "unix-stream://%s", b->sock);
	}
	setenv("ACCELRING_ADDRESS", b->address, 1);
	return 0;
}

const char *test_transport(void)
{
	const char *t = getenv("ACCELRING_TEST_TRANSPORT");

	return t && *t ? t : "shm";
}

bool test_transport_is_shm(void)
{
	return !strcmp(test_transport(), "shm");
}

int test_broker_stop(struct test_broker *b)
{
	int status = -1;

	for (int i = 0; i < MAX_BROKERS; i++)
		if (live[i].pid > 0 && live[i].pid == b->pid && &live[i] != b)
			live[i].pid = 0;
	if (b->pid > 0) {
		int tries = 1000 * time_scale();

		kill(b->pid, SIGTERM);
		for (int i = 0; i < tries; i++) {
			if (waitpid(b->pid, &status, WNOHANG) == b->pid)
				break;
			if (i == tries - 1) {
				kill(b->pid, SIGKILL);
				waitpid(b->pid, &status, 0);
			}
			usleep(10000);
		}
		b->pid = 0;
	}
	if (b->dir[0]) {
		if (getenv("ACCELRING_TEST_KEEP_LOG"))
			print_log(b);
		rm_rf(b->dir);
		b->dir[0] = '\0';
	}
	if (status >= 0 && WIFEXITED(status))
		return WEXITSTATUS(status);
	return -1;
}

bool test_broker_alive(const struct test_broker *b)
{
	return b->pid > 0 && kill(b->pid, 0) == 0 &&
	       waitpid(b->pid, NULL, WNOHANG) == 0;
}

int test_broker_fds(const struct test_broker *b)
{
	char path[64];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)b->pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

long test_broker_rss_kib(const struct test_broker *b)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)b->pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

int test_broker_settled_fds(const struct test_broker *b)
{
	int last = test_broker_fds(b), now;

	for (int i = 0; i < 50; i++) {
		usleep(200000);
		now = test_broker_fds(b);
		if (now == last)
			return now;
		last = now;
	}
	return last;
}

bool test_broker_logged(const struct test_broker *b, const char *s)
{
	char line[2048];
	bool found = false;
	FILE *f = fopen(b->log, "r");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, s) != NULL;
	fclose(f);
	return found;
}

int test_broker_hosts(const struct test_broker *b, pid_t *out, int max)
{
	struct dirent *e;
	DIR *d = opendir("/proc");
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)) && n < max) {
		char path[300], buf[4096];
		const char *rp;
		ssize_t len;
		int fd, ppid;
		bool host = false;

		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (len <= 0)
			continue;
		buf[len] = '\0';
		/* "pid (comm) state ppid ...": comm may hold anything. */
		rp = strrchr(buf, ')');
		if (!rp || sscanf(rp + 1, " %*c %d", &ppid) != 1 || ppid != b->pid)
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		for (ssize_t i = 0; i < len; i += (ssize_t)strlen(buf + i) + 1)
			host = host || !strcmp(buf + i, "--plugin-host");
		if (host)
			out[n++] = (pid_t)atoi(e->d_name);
	}
	closedir(d);
	return n;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_broker_isolation - plugins in supervised host processes (SECURITY.md
 * item 12): a plugin that crashes, hangs, eats memory or breaks its own
 * process makes its op fail with a clear error (EIO, ETIMEDOUT, ENOMEM),
 * the broker keeps serving everyone, and the host is restarted.
 *
 * Each case starts its own accelringd. The faulty test plugin
 * (tests/plugins/faulty.c) misbehaves on request (its exec symbol is the
 * behaviour) and runs isolated (--isolation=faulty:plugin); the exec
 * plugin runs the test library's misbehaving functions (tests/plugins/
 * exec_lib.h) with its default isolation, one host per tenant. Meanwhile a
 * bystander, another tenant (uid 61000 + n when we are root), streams noop
 * and sgemm ops to in-broker plugins and counts them: none may fail or be
 * lost. A host is found as the broker's child (/proc/PID/task/TID/children)
 * whose command line holds --plugin-host; the faulty plugin's "pid" op and
 * the test library's ar_test_pid say which process ran an op.
 *
 * Clients are native (accelring/client.h) in this process, and vAccel ones
 * (vaccel.h) in forked children only: a process's vAccel connection is
 * bound to the broker it first reached, and each case has its own.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <accelring/client.h>
#include <accelring/optable.h>
#include <vaccel.h>

#include "broker_harness.h"
#include "exec_lib.h"

#ifndef AR_FAULTY_PLUGIN
#error "AR_FAULTY_PLUGIN must name the built faulty test plugin"
#endif

#define FIRST_UID 61000
#define SEC_NS 1000000000ll
#define OP_WAIT_NS (30 * SEC_NS)	/* far above any op here */
#define LOST 1				/* no completion in time (not an errno) */
#define N 16				/* the bystander's sgemm: N x N x N */
#define MAX_KIDS 16
#define KILL_CLIENTS 4

/* The faulty plugin after the in-broker ones: sgemm goes to blas, noop to
 * noop, exec to faulty. blas comes first: noop implements every op but the
 * exec ones (doing nothing), so the first of the two gets sgemm. */
#define FAULTY_PLUGINS "--plugins=blas:noop:" AR_FAULTY_PLUGIN

/* A native connection: client, queue, session. */
struct conn {
	struct ar_client *c;
	struct ar_queue *q;
	uint32_t sid;
};

/* What a bystander counts, in memory shared with the parent. */
struct bystander {
	_Atomic int stop;
	_Atomic unsigned submitted, ok, failed;
	int first_err;		/* the first failure's status, or LOST */
	int setup_err;		/* it could not become its uid or connect */
	_Atomic int done;
};

/* A looping client of the kill -9 case. */
struct looper {
	unsigned submitted, ok, eio, other, lost;
	int first_other;
	int setup_err;
};

/* What a vAccel child reports. */
struct vreport {
	int setup_err;
	int ret[8];		/* each call's vAccel result */
	uint32_t pid[4];	/* ar_test_pid's */
	_Atomic int reported;	/* the child is done with its calls */
	_Atomic int release;	/* the parent lets it go */
};

struct shared {
	struct bystander by;
	struct looper loop[KILL_CLIENTS];
	struct vreport v[3];
	_Atomic int go;
};

static struct shared *sh;
static struct test_broker broker;
static struct conn me;
static pid_t kids[MAX_KIDS];
static char tmpdir[64];

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool is_root(void)
{
	return geteuid() == 0;
}

/* Tenants are uids over UNIX sockets; over TCP every local user is one. */
static bool uids_are_tenants(void)
{
	return is_root() && strcmp(test_transport(), "tcp");
}

/* In a child: become uid (when we can). 0 or -errno. */
static int become(int uid)
{
	if (!is_root())
		return 0;
	if (setgroups(0, NULL) || setresgid(uid, uid, uid) || setresuid(uid, uid, uid))
		return -errno;
	return 0;
}

static pid_t spawn(void)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		alarm(120);	/* a child of a failed case never outlives it long */
		return 0;
	}
	for (int i = 0; i < MAX_KIDS; i++)
		if (!kids[i]) {
			kids[i] = pid;
			break;
		}
	return pid;
}

/* Wait for a child spawn() made; its exit status, or -1. */
static int reap(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) != pid)
		return -1;
	for (int i = 0; i < MAX_KIDS; i++)
		if (kids[i] == pid)
			kids[i] = 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int conn_open(const char *address, struct conn *k)
{
	int ret;

	memset(k, 0, sizeof(*k));
	ret = ar_client_connect(address, &k->c);
	if (ret)
		return ret;
	ret = ar_queue_get(k->c, &k->q);
	if (!ret)
		ret = ar_session_open(k->q, 0, &k->sid);
	if (ret) {
		ar_client_close(k->c);
		k->c = NULL;
	}
	return ret;
}

static void conn_close(struct conn *k)
{
	if (k->c)
		ar_client_close(k->c);
	k->c = NULL;
}

/* One completion of what was just submitted: its status, or LOST. */
static int wait_one(struct conn *k, int64_t timeout_ns)
{
	struct ar_cqe cqe;
	int n = ar_wait(k->q, &cqe, 1, 1, timeout_ns);

	if (n < 0)
		return n;
	return n == 1 ? cqe.status : LOST;
}

/*
 * The faulty plugin's behaviour sym (an exec op): its status, or LOST.
 * in: read[0] if in_len; out: write[0] if out_len.
 */
static int faulty(struct conn *k, const char *sym, const void *in, uint32_t in_len, void *out,
		  uint32_t out_len, int64_t timeout_ns)
{
	struct ar_arg r = { .buf = (void *)in, .size = in_len };
	struct ar_arg w = { .buf = out, .size = out_len };
	int ret = ar_submit_generic(k->q, k->sid, AR_OP_EXEC, "faulty", sym, &r, in_len ? 1 : 0,
				    &w, out_len ? 1 : 0, 7);

	return ret ? ret : wait_one(k, timeout_ns);
}

/* "ok", checked: 0, or its status. */
static int faulty_ok(struct conn *k)
{
	char reply[8] = "xxxxxxx";
	int ret = faulty(k, "ok", NULL, 0, reply, sizeof(reply), OP_WAIT_NS);

	if (!ret && strcmp(reply, "ok"))
		return -EBADMSG;
	return ret;
}

/* The pid of the process that runs the faulty plugin (0 on failure). */
static uint32_t faulty_pid(struct conn *k)
{
	uint32_t pid = 0;

	return faulty(k, "pid", NULL, 0, &pid, sizeof(pid), OP_WAIT_NS) ? 0 : pid;
}

/* Whether pid, whose argv[0] is argv0, runs the broker's binary: argv[0]
 * its path or its name, and its executable the same file (when we may read
 * the link: a host that is not dumpable hides it from other users). */
static bool runs_broker(pid_t pid, const char *argv0)
{
	char path[64], exe[PATH_MAX], want[PATH_MAX];
	const char *base = strrchr(AR_BROKER_PATH, '/');
	ssize_t n;

	base = base ? base + 1 : AR_BROKER_PATH;
	if (strcmp(argv0, AR_BROKER_PATH) && strcmp(argv0, base))
		return false;
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	if (n <= 0 || !realpath(AR_BROKER_PATH, want))
		return true;
	exe[n] = '\0';
	return !strcmp(exe, want);
}

/* The broker's children that are plugin hosts (their command line holds
 * --plugin-host): how many (at most max in out). argv0_ok: whether each
 * one runs the broker's binary (runs_broker). */
static int hosts(pid_t broker_pid, pid_t *out, int max, bool *argv0_ok)
{
	struct test_broker who = { .pid = broker_pid };
	pid_t kid[256];
	char path[64], buf[8192];
	int n = test_broker_hosts(&who, kid, 256);

	if (argv0_ok)
		*argv0_ok = true;
	for (int k = 0; k < n; k++) {
		ssize_t len = -1;
		int fd;

		snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)kid[k]);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			len = read(fd, buf, sizeof(buf) - 1);
			close(fd);
		}
		if (argv0_ok && (len <= 0 || (buf[len] = '\0', !runs_broker(kid[k], buf))))
			*argv0_ok = false;
		if (k < max)
			out[k] = kid[k];
	}
	return n;
}

static bool is_host(pid_t broker_pid, pid_t pid)
{
	pid_t h[32];
	int n = hosts(broker_pid, h, 32, NULL);

	for (int i = 0; i < n && i < 32; i++)
		if (h[i] == pid)
			return true;
	return false;
}

/* Wait up to ms for pid to stop being one of the broker's hosts. */
static bool host_gone(pid_t broker_pid, pid_t pid, unsigned ms)
{
	for (uint64_t t0 = now_ms(); now_ms() - t0 < ms; usleep(10000))
		if (!is_host(broker_pid, pid))
			return true;
	return !is_host(broker_pid, pid);
}

static int proc_fds(pid_t pid)
{
	struct test_broker who = { .pid = pid };

	return test_broker_fds(&who);
}

/* CPU time (user + system) pid uses over the next ms milliseconds, in ms,
 * or -1. */
static long cpu_ms(pid_t pid, unsigned ms)
{
	unsigned long long t[2];
	long hz = sysconf(_SC_CLK_TCK);

	for (int i = 0; i < 2; i++) {
		char path[64], buf[1024];
		unsigned long long ut, st;
		const char *rp;
		ssize_t len;
		int fd;

		if (i)
			usleep(ms * 1000u);
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return -1;
		len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (len <= 0)
			return -1;
		buf[len] = '\0';
		/* After "(comm)": state, then 10 fields, then utime and stime. */
		rp = strrchr(buf, ')');
		if (!rp || sscanf(rp + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
				  &ut, &st) != 2)
			return -1;
		t[i] = ut + st;
	}
	return (long)((t[1] - t[0]) * 1000ull / (unsigned long long)hz);
}

static bool file_has(const char *path, const char *s)
{
	char line[4096];
	bool found = false;
	FILE *f = fopen(path, "r");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, s) != NULL;
	fclose(f);
	return found;
}

static void print_file(const char *path)
{
	char line[4096];
	FILE *f = fopen(path, "r");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		fprintf(stderr, "    | %s", line);
	fclose(f);
}

/* Start this case's broker with args (NULL-terminated) and our own
 * connection to it. */
static void start(const char *const *args)
{
	assert_int_equal(test_broker_start(&broker, args), 0);
	assert_int_equal(conn_open(broker.address, &me), 0);
}

/* Stop it: it must exit cleanly. */
static void stop(void)
{
	conn_close(&me);
	assert_true(test_broker_alive(&broker));
	assert_int_equal(test_broker_stop(&broker), 0);
}

/* ---- the bystander ---- */

static void naive_sgemm(const float *a, const float *b, float *c)
{
	for (int i = 0; i < N; i++)
		for (int j = 0; j < N; j++) {
			float s = 0;

			for (int x = 0; x < N; x++)
				s += a[i * N + x] * b[x * N + j];
			c[i * N + j] = s;
		}
}

static void by_fail(struct bystander *r, int st)
{
	if (!r->first_err)
		r->first_err = st;
	if (st != LOST)
		r->failed++;
}

/* Noop and sgemm in turn until told to stop; a lost op ends the run (it
 * stays counted as submitted, neither ok nor failed). */
static int bystander_run(struct bystander *r, int uid)
{
	float want[N * N], *a, *b, *c;
	struct ar_sgemm s = { .m = N, .n = N, .k = N, .lda = N, .ldb = N, .ldc = N,
			      .alpha = 1, .beta = 0 };
	struct conn k;
	int ret;

	if ((ret = become(uid)) || (ret = conn_open(NULL, &k))) {
		r->setup_err = ret;
		return 1;
	}
	a = ar_buf_alloc(k.q, sizeof(want));
	b = ar_buf_alloc(k.q, sizeof(want));
	c = ar_buf_alloc(k.q, sizeof(want));
	if (!a || !b || !c) {
		r->setup_err = -ENOMEM;
		return 1;
	}
	for (int i = 0; i < N * N; i++) {
		a[i] = (float)((i * 7) % 13) / 8.0f - 0.75f;
		b[i] = (float)((i * 5) % 11) / 4.0f - 1.25f;
	}
	naive_sgemm(a, b, want);
	s.a = a, s.b = b, s.c = c;
	while (!atomic_load(&r->stop)) {
		r->submitted++;
		ret = ar_submit_noop(k.q, k.sid, 1);
		ret = ret ? ret : wait_one(&k, 10 * SEC_NS);
		if (ret == LOST) {
			by_fail(r, LOST);
			break;
		}
		if (ret)
			by_fail(r, ret);
		else
			r->ok++;
		for (int i = 0; i < N * N; i++)
			c[i] = 12345.0f;	/* finite: 0 * NaN would stay NaN */
		r->submitted++;
		ret = ar_submit_sgemm(k.q, k.sid, &s, 2);
		ret = ret ? ret : wait_one(&k, 10 * SEC_NS);
		if (ret == LOST) {
			by_fail(r, LOST);
			break;
		}
		for (int i = 0; !ret && i < N * N; i++)
			if (!(fabsf(c[i] - want[i]) <= 1e-4f * (1 + fabsf(want[i]))))
				ret = -EBADMSG;
		if (ret)
			by_fail(r, ret);
		else
			r->ok++;
	}
	conn_close(&k);
	return 0;
}

/* Start a bystander as uid and wait until it is being served. */
static pid_t bystander_start(int uid)
{
	struct bystander *r = &sh->by;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	pid = spawn();
	if (pid == 0) {
		int ret = bystander_run(r, uid);

		atomic_store(&r->done, 1);
		_exit(ret);
	}
	for (uint64_t t0 = now_ms(); now_ms() - t0 < 10000 && r->ok < 20 && !r->done;)
		usleep(5000);
	assert_int_equal(r->setup_err, 0);
	assert_true(r->ok >= 20);
	return pid;
}

/* Stop it: every op it submitted completed, and none failed. */
static void bystander_check(pid_t pid)
{
	struct bystander *r = &sh->by;

	atomic_store(&r->stop, 1);
	assert_int_equal(reap(pid), 0);
	printf("bystander: %u ops submitted, %u ok, %u failed (first: %d)\n", r->submitted,
	       r->ok, r->failed, r->first_err);
	assert_int_equal(r->submitted, r->ok + r->failed);
	assert_int_equal(r->failed, 0);
	assert_true(r->ok > 20);
}

/* ---- vAccel children ---- */

/* Run fn(report, arg) in a child as uid, its vAccel log (stderr) going to
 * log (if not NULL). */
static pid_t vchild(int (*fn)(struct vreport *, const void *), struct vreport *rep,
		    const void *arg, int uid, const char *log)
{
	pid_t pid;

	memset(rep, 0, sizeof(*rep));
	for (int i = 0; i < 8; i++)
		rep->ret[i] = -1;
	pid = spawn();
	if (pid == 0) {
		int ret;

		if (log) {
			int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

			if (fd < 0 || dup2(fd, STDERR_FILENO) < 0)
				_exit(2);
			close(fd);
		}
		if ((ret = become(uid))) {
			rep->setup_err = ret;
			_exit(1);
		}
		ret = fn(rep, arg);
		atomic_store(&rep->reported, 1);
		for (uint64_t t0 = now_ms(); !atomic_load(&rep->release) &&
					    now_ms() - t0 < 60000;)
			usleep(5000);
		_exit(ret);
	}
	return pid;
}

static void vwait_reported(struct vreport *rep, pid_t pid)
{
	for (uint64_t t0 = now_ms(); now_ms() - t0 < 60000 && !atomic_load(&rep->reported);
	     usleep(5000)) {
		int st;

		if (waitpid(pid, &st, WNOHANG) == pid) {
			for (int i = 0; i < MAX_KIDS; i++)
				if (kids[i] == pid)
					kids[i] = 0;
			fail_msg("vAccel child exited before reporting (setup %d)",
				 rep->setup_err);
		}
	}
	assert_true(atomic_load(&rep->reported));
	assert_int_equal(rep->setup_err, 0);
}

static int vfinish(struct vreport *rep, pid_t pid)
{
	atomic_store(&rep->release, 1);
	return reap(pid);
}

static struct vaccel_arg varg(void *buf, size_t size, vaccel_arg_type_t type, uint32_t id)
{
	return (struct vaccel_arg){ .buf = buf, .size = size, .type = type,
				    .custom_type_id = id };
}

/* ar_test_checksum on 1000 bytes, checked: 0, a vAccel error, or -1 for
 * a wrong result. */
static int vchecksum(struct vaccel_session *s)
{
	uint8_t data[1000];
	struct ar_test_exec_in in = { .seed = 77, .rounds = 2 };
	struct ar_test_exec_out out = { 0 };
	uint64_t sum = 0;
	struct vaccel_arg rd[2], wr[2];
	int ret;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 31 + 3);
	rd[0] = varg(data, sizeof(data), VACCEL_ARG_BUFFER, 0);
	rd[1] = varg(&in, sizeof(in), VACCEL_ARG_CUSTOM, AR_TEST_EXEC_IN_ID);
	wr[0] = varg(&sum, sizeof(sum), VACCEL_ARG_UINT64, 0);
	wr[1] = varg(&out, sizeof(out), VACCEL_ARG_RAW, 0);
	ret = vaccel_exec(s, AR_TEST_EXEC_LIB, "ar_test_checksum", rd, 2, wr, 2);
	if (!ret && (sum != ar_test_exec_expect(data, sizeof(data), in.seed, in.rounds) ||
		     out.bytes != sizeof(data)))
		return -1;
	return ret;
}

static int vpid(struct vaccel_session *s, uint32_t *pid)
{
	struct vaccel_arg wr = varg(pid, sizeof(*pid), VACCEL_ARG_UINT32, 0);

	*pid = 0;
	return vaccel_exec(s, AR_TEST_EXEC_LIB, "ar_test_pid", NULL, 0, &wr, 1);
}

/* ---- fixtures ---- */

static int group_setup(void **state)
{
	(void)state;
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return -1;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/accelring-iso.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static void rm_tmp(void)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;
	char p[330];

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", tmpdir, e->d_name);
		unlink(p);
	}
	closedir(d);
}

static int group_teardown(void **state)
{
	(void)state;
	rm_tmp();
	rmdir(tmpdir);
	munmap(sh, sizeof(*sh));
	return 0;
}

/* After each case, also a failed one: its children, connection, broker
 * and files go. */
static int case_teardown(void **state)
{
	(void)state;
	atomic_store(&sh->by.stop, 1);
	for (int i = 0; i < MAX_KIDS; i++)
		if (kids[i] > 0) {
			kill(kids[i], SIGKILL);
			waitpid(kids[i], NULL, 0);
			kids[i] = 0;
		}
	conn_close(&me);
	if (broker.pid > 0)
		test_broker_stop(&broker);
	rm_tmp();
	memset(sh, 0, sizeof(*sh));
	return 0;
}

/* ---- the faulty plugin in a host of its own ---- */

struct fault {
	const char *sym;
	const char *setting;	/* an extra broker setting, or NULL */
	int expect;		/* the op's status */
	bool crash;		/* the host must be a new process afterwards */
	int max_calls;		/* leak: call until it fails */
	const char *signame[3];	/* a crash's reason names the signal so */
};

static int vfaulty(struct vreport *rep, const void *arg)
{
	struct vaccel_session s;

	rep->ret[0] = vaccel_session_init(&s, 0);
	if (rep->ret[0])
		return 1;
	rep->ret[1] = vaccel_exec(&s, "faulty", (const char *)arg, NULL, 0, NULL, 0);
	rep->ret[2] = vaccel_noop(&s);
	vaccel_session_release(&s);
	return 0;
}

/* A new connection's "ok" twice and "pid" (native API): ret[0], ret[1],
 * pid[0]. */
static int native_ok(struct vreport *rep, const void *arg)
{
	struct conn k;

	(void)arg;
	rep->ret[0] = conn_open(NULL, &k);
	if (rep->ret[0])
		return 1;
	rep->ret[0] = faulty_ok(&k);
	rep->ret[1] = faulty_ok(&k);
	rep->pid[0] = faulty_pid(&k);
	conn_close(&k);
	return 0;
}

/*
 * A faulty behaviour in its host, a bystander tenant served all along: the
 * op gets f->expect, the broker lives, the next "ok" succeeds, in a new
 * host after a crash; that host sleeps when idle, and a tenant new to it
 * is served; and through vAccel the crash's reason reaches the client's
 * log naming the plugin and the signal.
 */
static void fault_case(const struct fault *f)
{
	const char *args[] = { FAULTY_PLUGINS, "--isolation=faulty:plugin", f->setting, NULL };
	uint32_t pid1, pid2;
	pid_t by, h[8];
	bool argv0_ok;
	uint64_t t0, took;
	int ret = 0, calls = 0;
	long cpu;

	start(args);
	/* The host is up and answers; it is the broker's child, not the
	 * broker, started from the broker's binary with --plugin-host. */
	assert_int_equal(faulty_ok(&me), 0);
	pid1 = faulty_pid(&me);
	assert_true(pid1 > 0);
	assert_int_not_equal(pid1, (uint32_t)broker.pid);
	assert_int_equal(hosts(broker.pid, h, 8, &argv0_ok), 1);
	assert_int_equal(h[0], (pid_t)pid1);
	assert_true(argv0_ok);

	by = bystander_start(FIRST_UID + 1);
	t0 = now_ms();
	do {
		ret = faulty(&me, f->sym, NULL, 0, NULL, 0, OP_WAIT_NS);
		calls++;
	} while (f->max_calls && !ret && calls < f->max_calls);
	took = now_ms() - t0;
	printf("%s: status %d after %d call(s), %llu ms\n", f->sym, ret, calls,
	       (unsigned long long)took);
	if (!strcmp(f->sym, "closefds"))
		assert_true(ret == 0 || ret == -EIO);
	else
		assert_int_equal(ret, f->expect);
	if (f->expect == -ETIMEDOUT)	/* op-timeout-ms=faulty:500 */
		assert_true(took >= 450 && took < 10000);
	/* 64 MiB a call, 256 MiB allowed: three calls fit (192 MiB), and at
	 * least two must (half the cap: slack for the host's own needs); the
	 * fourth passes the cap (256 MiB and malloc's pages), the fifth
	 * surely. */
	if (f->max_calls)
		assert_true(calls >= 3 && calls <= 5);
	assert_true(test_broker_alive(&broker));

	/* The host is back: the next op succeeds (after a host that broke
	 * its own channels, once the broker has seen it). */
	if (!strcmp(f->sym, "closefds")) {
		/* Until the host finds its fds gone and exits, an op sent to
		 * it is in flight in a host that dies: EIO, as any. */
		usleep(300000);
		if (faulty_ok(&me) == -EIO)
			usleep(300000);
	}
	assert_int_equal(faulty_ok(&me), 0);
	pid2 = faulty_pid(&me);
	assert_true(pid2 > 0);
	assert_int_not_equal(pid2, (uint32_t)broker.pid);
	assert_true(is_host(broker.pid, (pid_t)pid2));
	printf("%s: host %u before, %u after\n", f->sym, pid1, pid2);
	if (f->crash) {
		assert_int_not_equal(pid2, pid1);
		assert_true(host_gone(broker.pid, (pid_t)pid1, 5000));
	}
	/* Idle, the host sleeps (a host whose plugin closed its fds, too). */
	cpu = cpu_ms((pid_t)pid2, 500);
	printf("%s: host %u idle: %ld ms of CPU in 500 ms\n", f->sym, pid2, cpu);
	assert_true(cpu >= 0 && cpu < 200);
	/*
	 * A tenant new to the host (its data area mapped into it now, over the
	 * control channel) is served too. After closefds the host's control
	 * channel is gone while its ring still works: the broker finds out at
	 * that map, and the op that needed it may fail with EIO (the host
	 * dies then); the tenant's next op runs in a new host.
	 */
	{
		struct vreport *rep = &sh->v[1];
		pid_t pid = vchild(native_ok, rep, NULL, FIRST_UID + 3, NULL);

		vwait_reported(rep, pid);
		assert_int_equal(vfinish(rep, pid), 0);
		printf("%s: a new tenant's ops %d then %d, in host %u\n", f->sym, rep->ret[0],
		       rep->ret[1], rep->pid[0]);
		if (!strcmp(f->sym, "closefds"))
			assert_true(rep->ret[0] == 0 || rep->ret[0] == -EIO);
		else
			assert_int_equal(rep->ret[0], 0);
		assert_int_equal(rep->ret[1], 0);
		assert_true(rep->pid[0] > 0);
		assert_int_not_equal(rep->pid[0], (uint32_t)broker.pid);
	}
	bystander_check(by);

	/* vAccel: the crash's reason in the client's log. */
	if (f->signame[0]) {
		char log[128];
		struct vreport *rep = &sh->v[0];
		pid_t pid;
		bool named = false;

		snprintf(log, sizeof(log), "%s/vaccel-%s.log", tmpdir, f->sym);
		pid = vchild(vfaulty, rep, f->sym, FIRST_UID + 2, log);
		vwait_reported(rep, pid);
		assert_int_equal(vfinish(rep, pid), 0);
		for (int i = 0; i < 3 && f->signame[i]; i++)
			named = named || file_has(log, f->signame[i]);
		if (rep->ret[1] != VACCEL_EIO || !file_has(log, "faulty") || !named) {
			fprintf(stderr, "  vaccel_exec(faulty, %s): %d; the client's log:\n",
				f->sym, rep->ret[1]);
			print_file(log);
		}
		assert_int_equal(rep->ret[0], 0);
		assert_int_equal(rep->ret[1], VACCEL_EIO);
		assert_int_equal(rep->ret[2], 0);
		assert_true(file_has(log, "faulty"));
		assert_true(named);
		assert_int_equal(faulty_ok(&me), 0);
	}
	stop();
}

/* A null dereference: EIO, a new host. */
static void test_isolation_segv(void **state)
{
	const struct fault f = { "segv", NULL, -EIO, true, 0,
				 { "SIGSEGV", "signal 11", "Segmentation fault" } };

	(void)state;
	fault_case(&f);
}

/* abort(): EIO, a new host. */
static void test_isolation_abort(void **state)
{
	const struct fault f = { "abort", NULL, -EIO, true, 0,
				 { "SIGABRT", "signal 6", "Aborted" } };

	(void)state;
	fault_case(&f);
}

/* A loop that never returns: ETIMEDOUT after op-timeout-ms, the host
 * killed and replaced. */
static void test_isolation_loop(void **state)
{
	const struct fault f = { "loop", "--op-timeout-ms=faulty:500", -ETIMEDOUT, true, 0,
				 { NULL } };

	(void)state;
	fault_case(&f);
}

/* 64 MiB a call, never freed, under a 256 MiB cap: ENOMEM within a few
 * calls, then a fresh host. */
static void test_isolation_leak(void **state)
{
	const struct fault f = { "leak", "--plugin-memory-max=faulty:256M", -ENOMEM, true, 40,
				 { NULL } };

	(void)state;
	fault_case(&f);
}

/* A plugin that closes its host's fds (its channels to the broker): 0 or
 * EIO, and a working host afterwards. */
static void test_isolation_closefds(void **state)
{
	const struct fault f = { "closefds", "--op-timeout-ms=faulty:5000", 0, false, 0,
				 { NULL } };

	(void)state;
	fault_case(&f);
}

/* ---- kill -9 of the host, over and over, under load ---- */

static int looper_run(struct looper *r, int uid)
{
	struct conn k;
	int ret;

	if ((ret = become(uid)) || (ret = conn_open(NULL, &k))) {
		r->setup_err = ret;
		return 1;
	}
	while (!atomic_load(&sh->go))
		usleep(1000);
	for (uint64_t t0 = now_ms(); now_ms() - t0 < 3000;) {
		char reply[8] = "";

		r->submitted++;
		ret = faulty(&k, "ok", NULL, 0, reply, sizeof(reply), OP_WAIT_NS);
		if (ret == LOST) {
			r->lost++;
			break;
		}
		if (!ret && !strcmp(reply, "ok")) {
			r->ok++;
		} else if (ret == -EIO) {
			r->eio++;
		} else {
			if (!r->other)
				r->first_other = ret ? ret : -EBADMSG;
			r->other++;
		}
	}
	conn_close(&k);
	return 0;
}

/* The host killed every 200 ms while 4 clients run ops: each op is done
 * or EIO, none lost, none anything else; the broker lives and serves. */
static void test_isolation_host_killed_under_load(void **state)
{
	const char *args[] = { FAULTY_PLUGINS, "--isolation=faulty:plugin", NULL };
	unsigned kills = 0, ok = 0, eio = 0, retries = 0;
	pid_t pids[KILL_CLIENTS];
	int ret;

	(void)state;
	start(args);
	assert_int_equal(faulty_ok(&me), 0);
	for (int i = 0; i < KILL_CLIENTS; i++) {
		pids[i] = spawn();
		if (pids[i] == 0)
			_exit(looper_run(&sh->loop[i], FIRST_UID + 10 + i));
	}
	usleep(200000);
	atomic_store(&sh->go, 1);
	for (uint64_t t0 = now_ms(); now_ms() - t0 < 3000;) {
		pid_t h[8];
		int n;

		usleep(200000);
		n = hosts(broker.pid, h, 8, NULL);
		for (int i = 0; i < n && i < 8; i++)
			if (!kill(h[i], SIGKILL))
				kills++;
	}
	for (int i = 0; i < KILL_CLIENTS; i++) {
		struct looper *r = &sh->loop[i];

		assert_int_equal(reap(pids[i]), 0);
		printf("client %d: %u submitted, %u ok, %u EIO, %u other (first %d), %u lost\n",
		       i, r->submitted, r->ok, r->eio, r->other, r->first_other, r->lost);
		assert_int_equal(r->setup_err, 0);
		assert_int_equal(r->lost, 0);
		assert_int_equal(r->other, 0);
		assert_int_equal(r->submitted, r->ok + r->eio);
		ok += r->ok;
		eio += r->eio;
	}
	printf("%u hosts killed; %u ops done, %u EIO\n", kills, ok, eio);
	assert_true(kills >= 5);
	assert_true(ok > 0);
	assert_true(test_broker_alive(&broker));
	/* Served again (after a restart back-off, if the kills earned one). */
	for (uint64_t t0 = now_ms(); (ret = faulty_ok(&me)) == -EIO && now_ms() - t0 < 15000;
	     retries++)
		usleep(100000);
	printf("after the kills: the first op done after %u EIO\n", retries);
	assert_int_equal(ret, 0);
	assert_int_equal(faulty_ok(&me), 0);
	stop();
}

/* ---- a client killed while its op runs in a host ---- */

static void test_isolation_client_killed_mid_op(void **state)
{
	const char *args[] = { FAULTY_PLUGINS, "--isolation=faulty:plugin", NULL };
	int base, now = -1, host_base, host_now, pfd[2];
	uint32_t hpid;
	uint64_t t0;
	pid_t pid;
	char x;

	(void)state;
	start(args);
	assert_int_equal(faulty_ok(&me), 0);
	hpid = faulty_pid(&me);
	assert_true(hpid > 0);
	base = test_broker_settled_fds(&broker);
	host_base = proc_fds((pid_t)hpid);
	assert_true(base > 0);
	assert_int_equal(pipe(pfd), 0);
	pid = spawn();
	if (pid == 0) {
		uint32_t ms = 2000;
		struct ar_arg r = { .buf = &ms, .size = sizeof(ms) };
		struct conn k;

		close(pfd[0]);
		if (become(FIRST_UID + 20) || conn_open(NULL, &k) ||
		    ar_submit_generic(k.q, k.sid, AR_OP_EXEC, "faulty", "sleep", &r, 1, NULL, 0,
				      1) || ar_flush(k.q))
			_exit(1);
		(void)!write(pfd[1], "x", 1);
		pause();
		_exit(0);
	}
	close(pfd[1]);
	assert_int_equal(read(pfd[0], &x, 1), 1);
	close(pfd[0]);
	usleep(300000);	/* the sleep is running in the host */
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(reap(pid), -1);
	/* Everyone else is served meanwhile. */
	t0 = now_ms();
	assert_int_equal(faulty_ok(&me), 0);
	printf("an op beside the dead client's 2 s sleep: %llu ms\n",
	       (unsigned long long)(now_ms() - t0));
	assert_true(test_broker_alive(&broker));
	/* Its fds come back once its sleep has ended (2 s). */
	for (t0 = now_ms(); now_ms() - t0 < 10000; usleep(50000)) {
		now = test_broker_fds(&broker);
		if (now == base)
			break;
	}
	printf("broker fds: %d before the client, %d after its death\n", base, now);
	assert_int_equal(now, base);
	assert_int_equal(test_broker_settled_fds(&broker), base);
	/* The host let go of what it held for the dead client too. */
	if (is_host(broker.pid, (pid_t)hpid)) {
		for (t0 = now_ms(); now_ms() - t0 < 5000; usleep(50000))
			if ((host_now = proc_fds((pid_t)hpid)) <= host_base)
				break;
		host_now = proc_fds((pid_t)hpid);
		printf("host fds: %d before the client, %d after its death\n", host_base,
		       host_now);
		assert_true(host_now <= host_base);
	}
	assert_int_equal(faulty_ok(&me), 0);
	stop();
}

/* ---- isolation none: in the broker, as before ---- */

static void test_isolation_none_runs_in_broker(void **state)
{
	const char *modes[] = { "--isolation=none", "--isolation=faulty:none" };

	(void)state;
	for (int m = 0; m < 2; m++) {
		const char *args[] = { FAULTY_PLUGINS, modes[m], NULL };
		pid_t h[8];

		start(args);
		assert_int_equal(faulty_ok(&me), 0);
		assert_int_equal(faulty_pid(&me), (uint32_t)broker.pid);
		assert_int_equal(hosts(broker.pid, h, 8, NULL), 0);
		stop();
	}
}

/* ---- the exec plugin, one host per tenant (its default) ---- */

/* blas before noop, for the bystander's sgemm (see FAULTY_PLUGINS). */
#define EXEC_PLUGINS "--plugins=exec:blas:noop"
#define EXEC_ALLOW                                                                   \
	"--exec-allow=" AR_TEST_EXEC_LIB ":ar_test_checksum,ar_test_pid,ar_test_segv," \
	"ar_test_abort,ar_test_loop,ar_test_leak,ar_test_closefds,ar_test_escape"

static int vexec_crash(struct vreport *rep, const void *arg)
{
	struct vaccel_session s;

	(void)arg;
	if (vaccel_session_init(&s, 0))
		return 1;
	rep->ret[0] = vchecksum(&s);
	rep->ret[1] = vpid(&s, &rep->pid[0]);
	rep->ret[2] = vaccel_exec(&s, AR_TEST_EXEC_LIB, "ar_test_segv", NULL, 0, NULL, 0);
	rep->ret[3] = vchecksum(&s);
	rep->ret[4] = vpid(&s, &rep->pid[1]);
	rep->ret[5] = vaccel_exec(&s, AR_TEST_EXEC_LIB, "ar_test_abort", NULL, 0, NULL, 0);
	rep->ret[6] = vchecksum(&s);
	rep->ret[7] = vpid(&s, &rep->pid[2]);
	vaccel_session_release(&s);
	return 0;
}

/* A library function that crashes its tenant's host: the exec fails with
 * EIO, the reason (the plugin, the signal) in the client's log; the next
 * exec runs, in a new host; the broker and a bystander are served. */
static void test_isolation_exec_crash(void **state)
{
	const char *args[] = { EXEC_PLUGINS, EXEC_ALLOW, NULL };
	struct vreport *rep = &sh->v[0];
	char log[128];
	pid_t by, pid;

	(void)state;
	start(args);
	by = bystander_start(FIRST_UID + 30);
	snprintf(log, sizeof(log), "%s/vaccel-exec.log", tmpdir);
	pid = vchild(vexec_crash, rep, NULL, FIRST_UID + 31, log);
	vwait_reported(rep, pid);
	printf("exec: checksum %d, pid %d (%u), segv %d, checksum %d, pid %d (%u), abort %d, "
	       "checksum %d, pid %d (%u); broker %d\n",
	       rep->ret[0], rep->ret[1], rep->pid[0], rep->ret[2], rep->ret[3], rep->ret[4],
	       rep->pid[1], rep->ret[5], rep->ret[6], rep->ret[7], rep->pid[2], (int)broker.pid);
	if (rep->ret[2] != VACCEL_EIO || !(file_has(log, "SIGSEGV") || file_has(log, "signal 11") ||
					   file_has(log, "Segmentation fault"))) {
		fprintf(stderr, "  the client's log:\n");
		print_file(log);
	}
	assert_int_equal(rep->ret[0], 0);
	assert_int_equal(rep->ret[1], 0);
	assert_int_equal(rep->ret[2], VACCEL_EIO);
	assert_int_equal(rep->ret[3], 0);
	assert_int_equal(rep->ret[4], 0);
	assert_int_equal(rep->ret[5], VACCEL_EIO);
	assert_int_equal(rep->ret[6], 0);
	assert_int_equal(rep->ret[7], 0);
	for (int i = 0; i < 3; i++) {
		assert_true(rep->pid[i] > 0);
		assert_int_not_equal(rep->pid[i], (uint32_t)broker.pid);
	}
	assert_int_not_equal(rep->pid[1], rep->pid[0]);
	assert_int_not_equal(rep->pid[2], rep->pid[1]);
	/* The live host is the broker's child. */
	assert_true(is_host(broker.pid, (pid_t)rep->pid[2]));
	assert_true(file_has(log, "exec"));
	assert_true(file_has(log, "SIGSEGV") || file_has(log, "signal 11") ||
		    file_has(log, "Segmentation fault"));
	assert_int_equal(vfinish(rep, pid), 0);
	assert_true(test_broker_alive(&broker));
	bystander_check(by);
	stop();
}

static int vexec_pid(struct vreport *rep, const void *arg)
{
	struct vaccel_session s;

	(void)arg;
	if (vaccel_session_init(&s, 0))
		return 1;
	rep->ret[0] = vpid(&s, &rep->pid[0]);
	rep->ret[1] = vchecksum(&s);
	{
		/* What the host's filter and dropped capabilities refuse. */
		struct vaccel_arg wr = varg(&rep->pid[1], sizeof(rep->pid[1]), VACCEL_ARG_UINT32, 0);

		rep->pid[1] = 0xffffffffu;
		rep->ret[2] = vaccel_exec(&s, AR_TEST_EXEC_LIB, "ar_test_escape", NULL, 0, &wr, 1);
	}
	/* The session stays open until the parent has looked. */
	return 0;
}

/* Two tenants' execs run in two hosts, neither the broker; a second
 * process of the first tenant shares its host. */
static void test_isolation_exec_host_per_tenant(void **state)
{
	const char *args[] = { EXEC_PLUGINS, EXEC_ALLOW, NULL };
	const int uids[3] = { FIRST_UID + 40, FIRST_UID + 41, FIRST_UID + 40 };
	pid_t pids[3];

	(void)state;
	if (!uids_are_tenants())
		skip();	/* tenants are uids: we must be able to become them */
	start(args);
	for (int i = 0; i < 3; i++) {
		pids[i] = vchild(vexec_pid, &sh->v[i], NULL, uids[i], NULL);
		vwait_reported(&sh->v[i], pids[i]);
		printf("uid %d: ar_test_pid %d -> %u, checksum %d\n", uids[i], sh->v[i].ret[0],
		       sh->v[i].pid[0], sh->v[i].ret[1]);
		assert_int_equal(sh->v[i].ret[0], 0);
		assert_int_equal(sh->v[i].ret[1], 0);
		/* No execve, socket, fork, signal to the broker or write to its
		 * memory through /proc from an exec function. */
		printf("uid %d: ar_test_escape %d, succeeded 0x%x\n", uids[i], sh->v[i].ret[2],
		       sh->v[i].pid[1]);
		assert_int_equal(sh->v[i].ret[2], 0);
		assert_int_equal(sh->v[i].pid[1], 0);
		assert_int_not_equal(sh->v[i].pid[0], (uint32_t)broker.pid);
		assert_true(is_host(broker.pid, (pid_t)sh->v[i].pid[0]));
	}
	assert_int_not_equal(sh->v[0].pid[0], sh->v[1].pid[0]);
	assert_int_equal(sh->v[2].pid[0], sh->v[0].pid[0]);
	for (int i = 0; i < 3; i++)
		assert_int_equal(vfinish(&sh->v[i], pids[i]), 0);
	stop();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_isolation_segv, case_teardown),
		cmocka_unit_test_teardown(test_isolation_abort, case_teardown),
		cmocka_unit_test_teardown(test_isolation_loop, case_teardown),
		cmocka_unit_test_teardown(test_isolation_leak, case_teardown),
		cmocka_unit_test_teardown(test_isolation_closefds, case_teardown),
		cmocka_unit_test_teardown(test_isolation_host_killed_under_load, case_teardown),
		cmocka_unit_test_teardown(test_isolation_client_killed_mid_op, case_teardown),
		cmocka_unit_test_teardown(test_isolation_none_runs_in_broker, case_teardown),
		cmocka_unit_test_teardown(test_isolation_exec_crash, case_teardown),
		cmocka_unit_test_teardown(test_isolation_exec_host_per_tenant, case_teardown),
	};

	if (getenv("ACCELRING_TEST_FILTER"))
		cmocka_set_test_filter(getenv("ACCELRING_TEST_FILTER"));
	return cmocka_run_group_tests_name("broker_isolation", tests, group_setup,
					   group_teardown);
}

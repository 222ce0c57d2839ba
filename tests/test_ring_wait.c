/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for adaptive waiting: spin, sleep, wake-ups across processes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ring_pvt.h"

struct fx {
	struct ar_region r;
	struct ar_ring_prod p;
	struct ar_ring_cons c;
	int efd;
};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct ar_region_params p = { 0 };

	assert_non_null(f);
	assert_int_equal(ar_region_create(&f->r, &p), 0);
	assert_int_equal(ar_ring_prod_init(&f->p, &f->r, 0, AR_RING_SQ), 0);
	assert_int_equal(ar_ring_cons_init(&f->c, &f->r, 0, AR_RING_SQ), 0);
	f->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_true(f->efd >= 0);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	close(f->efd);
	ar_region_release(&f->r);
	free(f);
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * A child process attaches the region, waits until the parent sleeps (it
 * sees NEED_WAKEUP), publishes one record and wakes it. Returns the number
 * of wake-ups the child sent, via its exit status.
 */
static pid_t spawn_waker(struct fx *f, const struct ar_ring_wait *w)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct ar_region r;
		struct ar_ring_prod p;
		uint64_t v = 42;
		int woke;

		if (ar_region_attach(&r, dup(f->r.fd)) ||
		    ar_ring_prod_init(&p, &r, 0, AR_RING_SQ))
			_exit(100);
		/* Wait until the consumer has gone to sleep. */
		while (!(ar_load_acquire(&p.g.ctl->flags) & AR_RING_F_NEED_WAKEUP))
			usleep(100);
		usleep(20000);
		if (ar_ring_sp_enqueue(&p, &v, sizeof(v)))
			_exit(101);
		ar_ring_sp_publish(&p);
		woke = ar_ring_sp_wake(&p, w);
		_exit(woke == 1 ? 0 : 102);
	}
	return pid;
}

/* The consumer sleeps on cons_fd, the producer wakes it through prod_fd
 * (the same fd for an eventfd, the two ends of a pipe). */
static void sleep_and_wake_fds(struct fx *f, uint32_t mode, int cons_fd, int prod_fd)
{
	struct ar_ring_wait w = { .mode = mode, .efd = cons_fd, .spin_ns = 0 };
	struct ar_ring_wait pw = { .mode = mode, .efd = prod_fd, .spin_ns = 0 };
	struct ar_ring_rec rec;
	int status;
	pid_t pid = spawn_waker(f, &pw);

	assert_int_equal(ar_ring_sc_wait(&f->c, &w, 10ll * 1000000000), 1);
	assert_int_equal(ar_ring_sc_peek(&f->c, &rec), 1);
	assert_int_equal(rec.len, 8);
	assert_int_equal(*(const uint64_t *)rec.data, 42);
	/* The flag is down again once the consumer is awake. */
	assert_false(f->c.g.ctl->flags & AR_RING_F_NEED_WAKEUP);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void sleep_and_wake(struct fx *f, uint32_t mode)
{
	sleep_and_wake_fds(f, mode, f->efd, f->efd);
}

/* A consumer sleeping on the futex is woken by the producer in another process. */
static void test_ring_wait_futex_wakes(void **state)
{
	sleep_and_wake(*state, AR_WAIT_FUTEX);
}

/* A consumer sleeping on the eventfd doorbell is woken the same way. */
static void test_ring_wait_eventfd_wakes(void **state)
{
	sleep_and_wake(*state, AR_WAIT_EVENTFD);
}

/* AR_WAIT_FD on a pipe: the consumer sleeps on the read end, the producer
 * wakes it through the write end (the broker's wake-up of a client). */
static void test_ring_wait_pipe_wakes(void **state)
{
	int p[2];

	assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	sleep_and_wake_fds(*state, AR_WAIT_FD, p[0], p[1]);
	close(p[0]);
	close(p[1]);
}

/* A wake-up fd that is full (an eventfd at its largest count, a pipe
 * nobody drains) means "already signalled": the wake succeeds at once,
 * never blocks, and a consumer still wakes from it. */
static void test_ring_wait_full_fd_is_signalled(void **state)
{
	struct fx *f = *state;
	const uint64_t most = 0xfffffffffffffffeull;
	struct ar_ring_wait w = { .mode = AR_WAIT_FD, .spin_ns = 0 };
	uint64_t v = 9, buf[8];
	int p[2];

	assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	while (write(p[1], &v, sizeof(v)) == sizeof(v))
		;
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(write(f->efd, &most, sizeof(most)), sizeof(most));
	assert_true(ar_ring_sc_prepare_sleep(&f->c));
	assert_int_equal(ar_ring_sp_enqueue(&f->p, &v, sizeof(v)), 0);
	ar_ring_sp_publish(&f->p);
	w.efd = p[1];
	assert_int_equal(ar_ring_sp_wake(&f->p, &w), 1);
	w.efd = f->efd;
	assert_int_equal(ar_ring_sp_wake(&f->p, &w), 1);
	ar_ring_sc_finish_sleep(&f->c);
	/* The sleep side drains 64 bytes of a pipe at a time. */
	assert_int_equal(read(p[0], buf, sizeof(buf)), sizeof(buf));
	close(p[0]);
	close(p[1]);
}

/* Waiting on an empty ring times out in every mode and returns 0. */
static void test_ring_wait_timeout(void **state)
{
	struct fx *f = *state;
	const uint32_t modes[] = { AR_WAIT_POLL, AR_WAIT_FUTEX, AR_WAIT_EVENTFD };

	for (int i = 0; i < 3; i++) {
		struct ar_ring_wait w = { .mode = modes[i], .efd = f->efd,
					  .spin_ns = 1000 };
		uint64_t t0 = now_ns();

		assert_int_equal(ar_ring_sc_wait(&f->c, &w, 5000000), 0);
		assert_true(now_ns() - t0 >= 5000000);
		assert_false(f->c.g.ctl->flags & AR_RING_F_NEED_WAKEUP);
	}
}

/* While the consumer spins, publishing costs no wake-up system call. */
static void test_ring_wait_spinning_needs_no_wake(void **state)
{
	struct fx *f = *state;
	struct ar_ring_wait w = { .mode = AR_WAIT_FUTEX, .spin_ns = 1000000 };
	uint64_t v = 7;

	assert_int_equal(ar_ring_sp_enqueue(&f->p, &v, sizeof(v)), 0);
	ar_ring_sp_publish(&f->p);
	assert_int_equal(ar_ring_sp_wake(&f->p, &w), 0);
	assert_int_equal(ar_ring_sc_wait(&f->c, &w, -1), 1);
}

/* Waiting on a poisoned ring returns -EPROTO instead of sleeping. */
static void test_ring_wait_poisoned(void **state)
{
	struct fx *f = *state;
	struct ar_ring_wait w = { .mode = AR_WAIT_FUTEX, .spin_ns = 0 };

	f->c.g.ctl->prod_tail = f->c.head - 8;
	assert_int_equal(ar_ring_sc_wait(&f->c, &w, -1), -EPROTO);
}

/* A wake-up fd that is gone makes the wait fail rather than spin: a
 * closed fd is -EBADF, a pipe whose producer closed its end -EPIPE (once
 * what it wrote is drained). */
static void test_ring_wait_dead_fd(void **state)
{
	struct fx *f = *state;
	struct ar_ring_wait w = { .mode = AR_WAIT_FD, .spin_ns = 0 };
	uint64_t v = 1;
	int p[2];

	assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	w.efd = p[0];
	assert_int_equal(write(p[1], &v, sizeof(v)), sizeof(v));
	close(p[1]);
	/* The wake-up written before the close still counts: drained, the
	 * ring is still empty, then the hang-up. */
	assert_int_equal(ar_ring_sc_wait(&f->c, &w, 2000000000), -EPIPE);
	close(p[0]);
	w.efd = p[0];
	assert_int_equal(ar_ring_sc_wait(&f->c, &w, 2000000000), -EBADF);
	assert_false(f->c.g.ctl->flags & AR_RING_F_NEED_WAKEUP);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_ring_wait_futex_wakes),
		T(test_ring_wait_eventfd_wakes),
		T(test_ring_wait_pipe_wakes),
		T(test_ring_wait_full_fd_is_signalled),
		T(test_ring_wait_timeout),
		T(test_ring_wait_spinning_needs_no_wake),
		T(test_ring_wait_poisoned),
		T(test_ring_wait_dead_fd),
	};

	return cmocka_run_group_tests_name("ring_wait", tests, NULL, NULL);
}

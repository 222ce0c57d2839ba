/* SPDX-License-Identifier: Apache-2.0 */
/*
 * raw_client - a client that speaks the wire protocol and the region ABI
 * itself, with no help from libaccelring, for the adversarial suites
 * (test_broker_hostile and the suites after it). Helpers fail the running
 * cmocka test on anything unexpected. raw_use() names the broker the
 * helpers that take none connect to.
 */
#ifndef ACCELRING_TESTS_RAW_CLIENT_H
#define ACCELRING_TESTS_RAW_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <accelring/ring.h>
#include <accelring/wire.h>

#include "broker_harness.h"

/* The largest frame stream_call() reads back: the broker's --max-frame in
 * the suites that use it must not exceed it. */
#define RAW_MAX_FRAME (1u << 20)

/* A client that does everything by hand. */
struct raw {
	int sock;
	struct ar_region region;
	uint32_t channels;
	int doorbell, wake;
	struct ar_ring_prod sq;
	struct ar_ring_cons cq;
	struct ar_wire_enc *enc;
	uint8_t *data;
	uint64_t data_bytes;
};

extern const struct test_broker *raw_broker;
void raw_use(const struct test_broker *b);

/* Shared memory: connect, hello, welcome, attach; push records; reap. */
int raw_connect(void);
void send_frame(int fd, const struct ar_wire_msg *m, const int *fds, int nfds);
struct ar_wire_msg hello(void);
/* Read the welcome; returns its status, fills fds (and the reason). */
int read_welcome(int fd, int *fds, int *nfds, char *why, size_t whylen);
void raw_open(struct raw *r);
void raw_close(struct raw *r);
void raw_push(struct raw *r, const void *buf, uint32_t len);
void raw_send(struct raw *r, const struct ar_wire_msg *m);
/* The next completion, waiting up to 5 s. */
struct ar_wire_completion raw_complete(struct raw *r);
uint32_t raw_session(struct raw *r);
/* Whether the broker closed our socket within 5 s. */
bool closed_by_broker(int fd);
/* A well-behaved libaccelring client at address gets a noop answered. */
void served_at(const char *address);
/* Well-behaved clients still get served, over shared memory and TCP. */
void others_unharmed(void);

/* Stream transport (VMs): a raw peer that speaks frames itself. */
int tcp_connect_from(const char *hostport, const char *src);
int tcp_connect(const char *hostport);
int stream_handshake(int fd);
/* Connect over TCP (or the UNIX socket) and do the stream handshake. */
int stream_open(bool tcp);
void stream_send(int fd, const struct ar_wire_msg *m);
void stream_read(int fd, struct ar_wire_msg *m, uint64_t *buf, size_t cap);
/* Send m and return its completion's status (and value). */
int stream_call(int fd, struct ar_wire_msg *m, uint64_t *value);
uint32_t stream_session(int fd);
int stream_noop(int fd, uint32_t sid);

/*
 * The bystander: another tenant (a forked child that becomes uid, e.g.
 * 65534, so that over the UNIX socket it is a tenant of its own) that
 * keeps submitting noops through libaccelring, one at a time with a short
 * pause, while an attack runs. Each adversarial test starts one before the
 * attack and checks it afterwards: it got answers all along, within a
 * bound, and nothing it submitted was lost.
 */
#define BYSTANDER_UID 65534u
#define BYSTANDER_SAMPLES (1u << 18)

struct bystander_stats {
	uint64_t submitted, completed, failed;	/* failed: a non-zero status */
	uint64_t max_ns, p50_ns, p99_ns;	/* submit to completion */
	int err;			/* connect/session failure, or 0 */
};

struct bystander;

/* Start the bystander against address (NULL: raw_broker's UNIX socket)
 * and wait until its first noop was answered. Fails the test if it was
 * not within 10 s. */
struct bystander *bystander_start(const char *address, uint32_t uid);
/* Stop it and collect what it saw. */
void bystander_stop(struct bystander *b, struct bystander_stats *st);
/* Stop it and fail the test unless it was served throughout: no error,
 * submitted == completed + failed, no failures, at least one answer, and
 * no noop slower than bound_ns. Returns its stats for further checks. */
struct bystander_stats bystander_check(struct bystander *b, uint64_t bound_ns);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * accelring/wire.h - the wire protocol (schemas/accelring.fbs) from C.
 *
 * flatc generates C++ only, so schemas/wire.cc wraps the generated builders,
 * verifier and readers behind this C API. Messages are described by plain C
 * structs: ar_wire_encode() builds one, ar_wire_decode() verifies a buffer
 * and fills one, with pointers into that buffer (decode only a private
 * copy: see SECURITY.md, "copy, then verify, then decode").
 *
 * ar_wire_decode() checks structure and the meaning of every value that
 * needs no context: the message type, op type and union type against their
 * enums, that each Buf is exactly one of bytes/ref/size, that strings are
 * NUL-free, and the argument counts. Refs are checked against a data area by
 * whoever knows its size (ar_wire_ref_check()).
 */
#ifndef ACCELRING_WIRE_H
#define ACCELRING_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include <accelring/optable.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Message types: the Body union's tags. */
enum ar_wire_type {
	AR_WIRE_NONE = 0,
	AR_WIRE_HELLO = 1,
	AR_WIRE_WELCOME = 2,
	AR_WIRE_SESSION_OPEN = 3,
	AR_WIRE_SESSION_CLOSE = 4,
	AR_WIRE_OP = 5,
	AR_WIRE_COMPLETION = 6,
	AR_WIRE_CHUNK = 7,	/* stream transport: data-area bytes */
	AR_WIRE_RES_OPEN = 8,	/* socket: a resource's content comes */
	AR_WIRE_RES_DATA = 9,	/* stream socket: some of it */
	AR_WIRE_RES_REGISTER = 10,	/* ring: register it with a session */
	AR_WIRE_RES_UNREGISTER = 11,
};

/* Transports a Hello asks for. */
enum ar_wire_transport {
	AR_TRANSPORT_SHM = 0,	/* rings and data area in a shared memfd */
	AR_TRANSPORT_STREAM = 1,	/* everything on the socket, in frames */
};

/* The Args union's tags: which argument table an op carries. */
enum ar_wire_args {
	AR_ARGS_NONE = 0,
	AR_ARGS_SGEMM = 1,
	AR_ARGS_IMAGE = 2,
	AR_ARGS_GENERIC = 3,
	AR_ARGS_MBENCH = 4,
};

/* An op's line of the op table (accelring/optable.h). */
struct ar_op_info {
	const char *name;		/* "noop", "blas_sgemm", ... */
	uint32_t args_kind;		/* AR_ARGS_*: the argument table it carries */
	uint8_t rd_min, rd_max;		/* Generic ops: read arguments */
	uint8_t wr_min, wr_max;		/* and write arguments */
	uint32_t flags;			/* AR_OPF_* */
};

/* ar_op_lookup - op's line, or NULL for a number no op has. */
const struct ar_op_info *ar_op_lookup(uint32_t op);

/* ar_op_name - "noop", "blas_sgemm", ... or NULL for an unknown op. */
const char *ar_op_name(uint32_t op);

/* The argument kind an op must carry (AR_ARGS_*); AR_ARGS_NONE for an
 * unknown op. */
uint32_t ar_op_args_kind(uint32_t op);

/* What a Buf holds. */
enum ar_buf_kind {
	AR_BUF_NONE = 0,	/* absent */
	AR_BUF_BYTES = 1,	/* inline bytes: bytes, len */
	AR_BUF_REF = 2,		/* data area range: off, len */
	AR_BUF_SIZE = 3,	/* output returned inline, at most len bytes */
};

struct ar_wire_buf {
	uint32_t kind;		/* AR_BUF_* */
	uint32_t type;		/* the argument's vaccel_arg_type_t (0: raw) */
	const void *bytes;	/* AR_BUF_BYTES: points into the message */
	uint64_t off;		/* AR_BUF_REF */
	uint64_t len;		/* bytes, ref or size length */
	uint32_t custom_id;	/* a custom type's id, as the caller gave it */
	uint32_t resv;
};

/* Most read or write arguments a Generic op may carry. */
#define AR_WIRE_MAX_ARGS ((uint32_t)AR_OP_ARGS)
/* Longest library or symbol name. */
#define AR_WIRE_MAX_NAME 4096u

struct ar_wire_sgemm {
	int64_t m, n, k, lda, ldb, ldc;
	float alpha, beta;
	struct ar_wire_buf a, b, c;
};

struct ar_wire_image {
	struct ar_wire_buf img, out_text, out_imgname;
};

struct ar_wire_generic {
	const char *library;	/* NULL if absent */
	const char *symbol;
	uint32_t nr_read, nr_write;
	uint64_t resource;	/* a registered resource's id, 0: none */
	struct ar_wire_buf read[AR_WIRE_MAX_ARGS];
	struct ar_wire_buf write[AR_WIRE_MAX_ARGS];
};

struct ar_wire_op {
	uint64_t id;
	uint32_t session;
	uint32_t op;		/* enum ar_op_type */
	uint32_t args_kind;	/* enum ar_wire_args */
	union {
		struct ar_wire_sgemm sgemm;
		struct ar_wire_image image;
		struct ar_wire_generic generic;
		struct {
			uint32_t time_us;
		} mbench;
	} u;
};

struct ar_wire_range {
	uint64_t off, len;
};

struct ar_wire_completion {
	uint64_t id;
	int32_t status;		/* 0 or -errno */
	uint64_t value;		/* op specific: session id for SessionOpen */
	uint32_t nr_outputs;
	uint32_t nr_written;	/* stream transport: ranges sent as Chunks */
	const char *message;	/* why it was refused, or NULL */
	struct ar_wire_buf outputs[AR_WIRE_MAX_ARGS];	/* AR_BUF_BYTES */
	struct ar_wire_range written[AR_WIRE_MAX_ARGS];
};

/* Longest reason a completion carries (AR_WIRE_MAX_MESSAGE - 1 bytes). */
#define AR_WIRE_MAX_MESSAGE 256u

/* Files one resource may have, and the longest file name. Names are
 * checked by the broker (no '/', not "." or ".."). */
#define AR_WIRE_MAX_FILES 64u
#define AR_WIRE_MAX_FILE_NAME 255u

struct ar_wire_file {
	const char *name;	/* points into the message */
	uint64_t off, len;
};

struct ar_wire_res_open {
	uint32_t token;		/* non-zero */
	uint64_t bytes;		/* the content's size */
};

struct ar_wire_res_data {
	uint32_t token;
	uint64_t off;
	const void *bytes;	/* points into the message */
	uint64_t len;
};

struct ar_wire_res_register {
	uint64_t id;
	uint32_t session;
	uint32_t token;		/* content uploaded under it, or 0 */
	uint64_t resource;	/* token 0: an existing resource's id */
	uint32_t type;		/* vaccel_resource_type_t */
	uint32_t nr_files;
	struct ar_wire_file files[AR_WIRE_MAX_FILES];
};

struct ar_wire_res_unregister {
	uint64_t id;
	uint32_t session;
	uint64_t resource;
};

struct ar_wire_chunk {
	uint64_t off;		/* in the data area */
	const void *bytes;	/* points into the message */
	uint64_t len;
};

struct ar_wire_hello {
	uint16_t abi_major, abi_minor;
	uint32_t channels, sq_bytes, cq_bytes;
	uint64_t data_bytes;
	uint32_t transport;	/* enum ar_wire_transport */
};

struct ar_wire_welcome {
	int32_t status;		/* 0 or -errno */
	uint16_t abi_major, abi_minor;
	uint32_t tenant, channels;
	const char *message;	/* why, when status != 0; may be NULL */
	uint32_t max_frame;	/* stream transport: largest frame */
	uint32_t max_request;	/* stream transport: largest request (0: max_frame) */
};

struct ar_wire_msg {
	uint32_t type;		/* enum ar_wire_type */
	union {
		struct ar_wire_hello hello;
		struct ar_wire_welcome welcome;
		struct {
			uint64_t id;
			uint32_t flags;
		} session_open;
		struct {
			uint64_t id;
			uint32_t session;
		} session_close;
		struct ar_wire_op op;
		struct ar_wire_completion completion;
		struct ar_wire_chunk chunk;
		struct ar_wire_res_open res_open;
		struct ar_wire_res_data res_data;
		struct ar_wire_res_register res_register;
		struct ar_wire_res_unregister res_unregister;
	} u;
};

/*
 * Frames: on a socket every message is preceded by its length, a 32-bit
 * little-endian integer, which does not count itself.
 */
#define AR_FRAME_HDR 4u

static inline void ar_frame_put_len(void *hdr, uint32_t len)
{
	uint8_t *p = (uint8_t *)hdr;

	p[0] = (uint8_t)len;
	p[1] = (uint8_t)(len >> 8);
	p[2] = (uint8_t)(len >> 16);
	p[3] = (uint8_t)(len >> 24);
}

static inline uint32_t ar_frame_get_len(const void *hdr)
{
	const uint8_t *p = (const uint8_t *)hdr;

	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* An encoder: a reusable FlatBuffers builder. One per thread. */
struct ar_wire_enc;

/* Returns a new encoder, or NULL without memory. */
struct ar_wire_enc *ar_wire_enc_create(void);
void ar_wire_enc_destroy(struct ar_wire_enc *e);

/*
 * ar_wire_encode - build m. On success *out points to the message inside
 * the encoder (8-byte aligned), valid until the next encode with e.
 * Returns the message's length, or -EINVAL for a message that could not be
 * decoded (unknown type, too many arguments, a Buf of unknown kind).
 */
int64_t ar_wire_encode(struct ar_wire_enc *e, const struct ar_wire_msg *m,
		       const void **out);

/*
 * ar_wire_decode - verify buf and fill m with its contents; pointers in m
 * point into buf, which must be 8-byte aligned and stay unchanged while m
 * is used.
 * Returns 0, or
 *   -EBADMSG  the verifier rejected the buffer (structure, identifier),
 *   -EINVAL   a value out of range (type, enum, Buf kind, argument count,
 *             string length, union type not matching the op type); then
 *             m->type is still set and, for an op, m->u.op.id, so that the
 *             op can be completed with the error.
 */
int ar_wire_decode(const void *buf, size_t len, struct ar_wire_msg *m);

/*
 * ar_wire_ref_check - whether a Ref-kind buf lies inside a data area of
 * area_bytes, computed in 64 bits without overflow, and is at least min
 * bytes long. Returns 0, or -EINVAL.
 */
int ar_wire_ref_check(const struct ar_wire_buf *b, uint64_t area_bytes,
		      uint64_t min);

/*
 * ar_wire_to_json - the message in buf as JSON (for the dump tool and for
 * logs). On success *json is a malloc'ed NUL-terminated string.
 * Returns 0, -EBADMSG if buf is not a valid message, or -ENOMEM.
 */
int ar_wire_to_json(const void *buf, size_t len, char **json);

/*
 * ar_wire_from_json - the reverse, for test vectors: *bin is malloc'ed.
 * Returns the length, or -EINVAL if the JSON does not parse.
 */
int64_t ar_wire_from_json(const char *json, void **bin);

#ifdef __cplusplus
}
#endif

#endif /* ACCELRING_WIRE_H */

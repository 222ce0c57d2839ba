/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_wire - the wire protocol's C API: every message type round-trips,
 * and the decoder refuses what the verifier or the range checks must.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <accelring/wire.h>

static struct ar_wire_enc *enc;

/* Encode m and decode it again from an aligned private copy. */
static int roundtrip(const struct ar_wire_msg *m, struct ar_wire_msg *out,
		     void **copy)
{
	const void *p;
	int64_t n = ar_wire_encode(enc, m, &p);

	if (n < 0)
		return (int)n;
	*copy = aligned_alloc(8, ((size_t)n + 7) & ~(size_t)7);
	memcpy(*copy, p, (size_t)n);
	return ar_wire_decode(*copy, (size_t)n, out);
}

/* Decode the binary form of a JSON message. */
static int decode_json(const char *json, struct ar_wire_msg *out, void **bin)
{
	int64_t n = ar_wire_from_json(json, bin);

	assert_true(n > 0);
	return ar_wire_decode(*bin, (size_t)n, out);
}

/* Hello and Welcome keep every field. */
static void test_wire_handshake_roundtrip(void **state)
{
	struct ar_wire_msg m = { .type = AR_WIRE_HELLO }, o;
	void *c = NULL;

	(void)state;
	m.u.hello = (struct ar_wire_hello){ 1, 2, 8, 65536, 131072, 1ull << 33,
					    AR_TRANSPORT_STREAM };
	assert_int_equal(roundtrip(&m, &o, &c), 0);
	assert_int_equal(o.type, AR_WIRE_HELLO);
	/* Field by field: the struct's padding is not part of the message. */
	assert_int_equal(o.u.hello.abi_major, 1);
	assert_int_equal(o.u.hello.abi_minor, 2);
	assert_int_equal(o.u.hello.channels, 8);
	assert_int_equal(o.u.hello.sq_bytes, 65536);
	assert_int_equal(o.u.hello.cq_bytes, 131072);
	assert_true(o.u.hello.data_bytes == 1ull << 33);
	assert_int_equal(o.u.hello.transport, AR_TRANSPORT_STREAM);
	free(c);

	memset(&m, 0, sizeof(m));
	m.type = AR_WIRE_WELCOME;
	m.u.welcome.status = -EPERM;
	m.u.welcome.message = "uid 1000 is not allowed";
	m.u.welcome.tenant = 7;
	m.u.welcome.max_frame = 1u << 20;
	assert_int_equal(roundtrip(&m, &o, &c), 0);
	assert_int_equal(o.u.welcome.status, -EPERM);
	assert_int_equal(o.u.welcome.tenant, 7);
	assert_int_equal(o.u.welcome.max_frame, 1u << 20);
	assert_string_equal(o.u.welcome.message, "uid 1000 is not allowed");
	free(c);

	/* A transport the decoder does not know is refused. */
	memset(&m, 0, sizeof(m));
	m.type = AR_WIRE_HELLO;
	m.u.hello.transport = 2;
	const void *p;
	assert_int_equal(ar_wire_encode(enc, &m, &p), -EINVAL);
}

/* Stream transport: Chunks carry their bytes; completions their ranges. */
static void test_wire_stream_messages(void **state)
{
	static const uint8_t bytes[300] = { 1, 2, 3, [299] = 9 };
	struct ar_wire_msg m, o;
	void *c = NULL;

	(void)state;
	memset(&m, 0, sizeof(m));
	m.type = AR_WIRE_CHUNK;
	m.u.chunk = (struct ar_wire_chunk){ .off = 1ull << 40, .bytes = bytes,
					    .len = sizeof(bytes) };
	assert_int_equal(roundtrip(&m, &o, &c), 0);
	assert_int_equal(o.type, AR_WIRE_CHUNK);
	assert_true(o.u.chunk.off == 1ull << 40);
	assert_int_equal(o.u.chunk.len, sizeof(bytes));
	assert_memory_equal(o.u.chunk.bytes, bytes, sizeof(bytes));
	free(c);

	memset(&m, 0, sizeof(m));
	m.type = AR_WIRE_COMPLETION;
	m.u.completion.id = 5;
	m.u.completion.nr_written = 2;
	m.u.completion.written[0] = (struct ar_wire_range){ 64, 4096 };
	m.u.completion.written[1] = (struct ar_wire_range){ UINT64_MAX, 1 };
	assert_int_equal(roundtrip(&m, &o, &c), 0);
	assert_int_equal(o.u.completion.nr_written, 2);
	assert_true(o.u.completion.written[0].off == 64 &&
		    o.u.completion.written[0].len == 4096);
	assert_true(o.u.completion.written[1].off == UINT64_MAX);
	free(c);
	/* Without written ranges it comes from the template again. */
	m.u.completion.nr_written = 0;
	assert_int_equal(roundtrip(&m, &o, &c), 0);
	assert_int_equal(o.u.completion.nr_written, 0);
	assert_int_equal(o.u.completion.id, 5);
	free(c);
	m.u.completion.nr_written = AR_WIRE_MAX_ARGS + 1;
	const void *p;
	assert_int_equal(ar_wire_encode(enc, &m, &p), -EINVAL);
}

/* Resource messages keep every field; the decoder holds a register to
 * exactly one of new content (a token with files) or an existing
 * resource, names to their bounds, and a completion's reason to its. */
static void test_wire_resource_messages(void **state)
{
	struct ar_wire_msg m, o;
	uint8_t bytes[300];
	char name[300];
	const void *p;
	void *c;

	(void)state;
	memset(bytes, 0xab, sizeof(bytes));
	memset(&m, 0, sizeof(m));
	m.type = AR_WIRE_RES_OPEN;
	m.u.res_open = (struct ar_wire_res_open){ .token = 9, .bytes = 1ull << 33 };
	assert_int_equal(roundtrip(&m, &o, &c), 0);
	assert_int_equal(o.type, AR_WIRE_RES_OPEN);
	assert_int_equal(o.u.res_open.token, 9);
	assert_true(o.u.res_open.bytes == 1ull << 33);
	free(c);
	m.u.res_open.token = 0;
	assert_int_equal(ar_wire_encode(enc, &m, &p), -EINVAL);

	m.type = AR_WIRE_RES_DATA;
	m.u.res_data = (struct ar_wire_res_data){ .token = 3, .off = 4096, .bytes = bytes,
						  .len = sizeof(bytes) };
	assert_int_equal(roundtrip(&m, &o, &c), 0);
	assert_int_equal(o.u.res_data.token, 3);
	assert_int_equal(o.u.res_data.off, 4096);
	assert_int_equal(o.u.res_data.len, sizeof(bytes));
	assert_memory_equal(o.u.res_data.bytes, bytes, sizeof(bytes));
	free(c);

	memset(&m, 0, sizeof(m));
	m.type = AR_WIRE_RES_REGISTER;
	m.u.res_register = (struct ar_wire_res_register){ .id = 77, .session = 5, .token = 2,
							  .type = 2, .nr_files = 2 };
	m.u.res_register.files[0] = (struct ar_wire_file){ "model.pt", 0, 100 };
	m.u.res_register.files[1] = (struct ar_wire_file){ "labels.txt", 4096, 7 };
	assert_int_equal(roundtrip(&m, &o, &c), 0);
	assert_int_equal(o.u.res_register.id, 77);
	assert_int_equal(o.u.res_register.session, 5);
	assert_int_equal(o.u.res_register.token, 2);
	assert_int_equal(o.u.res_register.type, 2);
	assert_int_equal(o.u.res_register.nr_files, 2);
	assert_string_equal(o.u.res_register.files[1].name, "labels.txt");
	assert_int_equal(o.u.res_register.files[1].off, 4096);
	assert_int_equal(o.u.res_register.files[1].len, 7);
	free(c);
	/* Both a token and a resource, or neither: refused, with the id. */
	m.u.res_register.resource = 4;
	assert_int_equal(roundtrip(&m, &o, &c), -EINVAL);
	assert_int_equal(o.type, AR_WIRE_RES_REGISTER);
	assert_int_equal(o.u.res_register.id, 77);
	free(c);
	m.u.res_register.token = 0;
	assert_int_equal(roundtrip(&m, &o, &c), -EINVAL);	/* files without a token */
	free(c);
	m.u.res_register.nr_files = 0;
	assert_int_equal(roundtrip(&m, &o, &c), 0);		/* attach */
	assert_int_equal(o.u.res_register.resource, 4);
	free(c);
	m.u.res_register.resource = 0;
	assert_int_equal(roundtrip(&m, &o, &c), -EINVAL);
	free(c);
	m.u.res_register.token = 2;
	assert_int_equal(roundtrip(&m, &o, &c), -EINVAL);	/* a token, no files */
	free(c);
	/* Names: at most AR_WIRE_MAX_FILE_NAME bytes; files: at most 64. */
	memset(name, 'n', sizeof(name));
	name[AR_WIRE_MAX_FILE_NAME + 1] = '\0';
	m.u.res_register.nr_files = 1;
	m.u.res_register.files[0] = (struct ar_wire_file){ name, 0, 1 };
	assert_int_equal(ar_wire_encode(enc, &m, &p), -EINVAL);
	name[AR_WIRE_MAX_FILE_NAME] = '\0';
	assert_int_equal(roundtrip(&m, &o, &c), 0);
	free(c);
	m.u.res_register.nr_files = AR_WIRE_MAX_FILES + 1;
	assert_int_equal(ar_wire_encode(enc, &m, &p), -EINVAL);

	memset(&m, 0, sizeof(m));
	m.type = AR_WIRE_RES_UNREGISTER;
	m.u.res_unregister = (struct ar_wire_res_unregister){ .id = 8, .session = 3,
							      .resource = 1ull << 40 };
	assert_int_equal(roundtrip(&m, &o, &c), 0);
	assert_int_equal(o.u.res_unregister.id, 8);
	assert_int_equal(o.u.res_unregister.session, 3);
	assert_true(o.u.res_unregister.resource == 1ull << 40);
	free(c);

	/* A completion's reason travels, never from the template. */
	memset(&m, 0, sizeof(m));
	m.type = AR_WIRE_COMPLETION;
	m.u.completion = (struct ar_wire_completion){ .id = 4, .status = -EPERM,
						      .message = "not on exec-allow" };
	assert_int_equal(roundtrip(&m, &o, &c), 0);
	assert_int_equal(o.u.completion.status, -EPERM);
	assert_string_equal(o.u.completion.message, "not on exec-allow");
	free(c);
	memset(name, 'x', sizeof(name));
	name[AR_WIRE_MAX_MESSAGE] = '\0';
	m.u.completion.message = name;
	assert_int_equal(ar_wire_encode(enc, &m, &p), -EINVAL);
	m.u.completion.message = NULL;
	assert_int_equal(roundtrip(&m, &o, &c), 0);
	assert_null(o.u.completion.message);
	free(c);
}

/* A resource travels with exactly the ops that take one. */
static void test_wire_generic_resource(void **state)
{
	struct ar_wire_msg m, o;
	void *c;

	(void)state;
	memset(&m, 0, sizeof(m));
	m.type = AR_WIRE_OP;
	m.u.op = (struct ar_wire_op){ .id = 1, .session = 2, .op = AR_OP_EXEC_WITH_RESOURCE,
				      .args_kind = AR_ARGS_GENERIC };
	m.u.op.u.generic.symbol = "fn";
	m.u.op.u.generic.resource = 12;
	assert_int_equal(roundtrip(&m, &o, &c), 0);
	assert_int_equal(o.u.op.u.generic.resource, 12);
	free(c);
	m.u.op.u.generic.resource = 0;
	assert_int_equal(roundtrip(&m, &o, &c), -EINVAL);
	free(c);
	m.u.op.op = AR_OP_TORCH_MODEL_LOAD;
	m.u.op.u.generic.symbol = NULL;
	assert_int_equal(roundtrip(&m, &o, &c), -EINVAL);
	free(c);
	m.u.op.u.generic.resource = 3;
	assert_int_equal(roundtrip(&m, &o, &c), 0);
	free(c);
	m.u.op.op = AR_OP_OPENCV;
	assert_int_equal(roundtrip(&m, &o, &c), -EINVAL);
	free(c);
}

/* Session open/close carry their request id, flags and session. */
static void test_wire_session_roundtrip(void **state)
{
	struct ar_wire_msg m = { .type = AR_WIRE_SESSION_OPEN }, o;
	void *c = NULL;

	(void)state;
	m.u.session_open.id = UINT64_MAX;
	m.u.session_open.flags = 0x4001;
	assert_int_equal(roundtrip(&m, &o, &c), 0);
	assert_int_equal(o.type, AR_WIRE_SESSION_OPEN);
	assert_true(o.u.session_open.id == UINT64_MAX);
	assert_int_equal(o.u.session_open.flags, 0x4001);
	free(c);
	m.type = AR_WIRE_SESSION_CLOSE;
	m.u.session_close.id = 3;
	m.u.session_close.session = 42;
	assert_int_equal(roundtrip(&m, &o, &c), 0);
	assert_int_equal(o.u.session_close.session, 42);
	free(c);
}

/* An sgemm request keeps its scalars and its three kinds of Buf. */
static void test_wire_sgemm_roundtrip(void **state)
{
	struct ar_wire_msg m = { .type = AR_WIRE_OP }, o;
	struct ar_wire_sgemm *s = &m.u.op.u.sgemm;
	float a[4] = { 1, 2, 3, 4 };
	void *c = NULL;

	(void)state;
	m.u.op.id = 99;
	m.u.op.session = 5;
	m.u.op.op = AR_OP_BLAS_SGEMM;
	m.u.op.args_kind = AR_ARGS_SGEMM;
	*s = (struct ar_wire_sgemm){ .m = 2, .n = 3, .k = 2, .lda = 2,
				     .ldb = 3, .ldc = 3, .alpha = 1.5f,
				     .beta = -2.0f };
	s->a = (struct ar_wire_buf){ .kind = AR_BUF_BYTES, .bytes = a, .len = sizeof(a) };
	s->b = (struct ar_wire_buf){ .kind = AR_BUF_REF, .off = 4096, .len = 24 };
	s->c = (struct ar_wire_buf){ .kind = AR_BUF_REF, .off = 8192, .len = 24 };
	assert_int_equal(roundtrip(&m, &o, &c), 0);
	assert_int_equal(o.u.op.op, AR_OP_BLAS_SGEMM);
	assert_int_equal(o.u.op.args_kind, AR_ARGS_SGEMM);
	assert_int_equal(o.u.op.u.sgemm.m, 2);
	assert_int_equal(o.u.op.u.sgemm.ldc, 3);
	assert_true(o.u.op.u.sgemm.alpha == 1.5f && o.u.op.u.sgemm.beta == -2.0f);
	assert_int_equal(o.u.op.u.sgemm.a.kind, AR_BUF_BYTES);
	assert_memory_equal(o.u.op.u.sgemm.a.bytes, a, sizeof(a));
	assert_int_equal(o.u.op.u.sgemm.b.kind, AR_BUF_REF);
	assert_int_equal(o.u.op.u.sgemm.b.off, 4096);
	assert_int_equal(o.u.op.u.sgemm.c.len, 24);
	free(c);
}

/* Generic ops carry names and lists of read and write Bufs. */
static void test_wire_generic_roundtrip(void **state)
{
	struct ar_wire_msg m = { .type = AR_WIRE_OP }, o;
	struct ar_wire_generic *g = &m.u.op.u.generic;
	void *c = NULL;

	(void)state;
	m.u.op.op = AR_OP_EXEC;
	m.u.op.args_kind = AR_ARGS_GENERIC;
	g->library = "libmytestlib.so";
	g->symbol = "mytestfunc";
	g->nr_read = 2;
	g->read[0] = (struct ar_wire_buf){ .kind = AR_BUF_BYTES, .bytes = "xy", .len = 2 };
	g->read[1] = (struct ar_wire_buf){ .kind = AR_BUF_REF, .off = 0, .len = 0 };
	g->nr_write = 1;
	g->write[0] = (struct ar_wire_buf){ .kind = AR_BUF_SIZE, .len = 512 };
	assert_int_equal(roundtrip(&m, &o, &c), 0);
	assert_string_equal(o.u.op.u.generic.library, "libmytestlib.so");
	assert_string_equal(o.u.op.u.generic.symbol, "mytestfunc");
	assert_int_equal(o.u.op.u.generic.nr_read, 2);
	assert_int_equal(o.u.op.u.generic.read[1].kind, AR_BUF_REF);
	assert_int_equal(o.u.op.u.generic.nr_write, 1);
	assert_int_equal(o.u.op.u.generic.write[0].kind, AR_BUF_SIZE);
	assert_int_equal(o.u.op.u.generic.write[0].len, 512);
	free(c);
}

/* Completions return inline outputs; noop and mbench need no tables. */
static void test_wire_completion_roundtrip(void **state)
{
	struct ar_wire_msg m = { .type = AR_WIRE_COMPLETION }, o;
	void *c = NULL;

	(void)state;
	m.u.completion.id = 1234;
	m.u.completion.status = -ENOTSUP;
	m.u.completion.value = 77;
	m.u.completion.nr_outputs = 1;
	m.u.completion.outputs[0] = (struct ar_wire_buf){
		.kind = AR_BUF_BYTES, .bytes = "tag", .len = 4 };
	assert_int_equal(roundtrip(&m, &o, &c), 0);
	assert_int_equal(o.u.completion.status, -ENOTSUP);
	assert_int_equal(o.u.completion.value, 77);
	assert_int_equal(o.u.completion.nr_outputs, 1);
	assert_string_equal(o.u.completion.outputs[0].bytes, "tag");
	free(c);

	memset(&m, 0, sizeof(m));
	m.type = AR_WIRE_OP;
	m.u.op.op = AR_OP_MBENCH;
	m.u.op.args_kind = AR_ARGS_MBENCH;
	m.u.op.u.mbench.time_us = 250;
	assert_int_equal(roundtrip(&m, &o, &c), 0);
	assert_int_equal(o.u.op.u.mbench.time_us, 250);
	free(c);
}

/*
 * The shapes encoded from a patched template (no-argument ops, mbench,
 * completions without outputs) carry every value, extremes included, and
 * do not disturb the builder's messages encoded in between.
 */
static void test_wire_template_shapes(void **state)
{
	static const uint64_t ids[] = { 0, 1, 0x123456789abcdefull, UINT64_MAX };
	struct ar_wire_msg m, o;
	void *c = NULL;

	(void)state;
	for (unsigned i = 0; i < 4; i++) {
		for (uint32_t op = 0; op < AR_OP_MAX; op++) {
			const struct ar_op_info *in = ar_op_lookup(op);

			/* Every op that may travel without arguments. */
			if (!in || (in->args_kind != AR_ARGS_NONE &&
				    (in->args_kind != AR_ARGS_GENERIC || in->rd_min ||
				     in->wr_min || in->flags)))
				continue;
			memset(&m, 0xa5, sizeof(m));	/* the union is not read */
			m.type = AR_WIRE_OP;
			m.u.op.id = ids[i];
			m.u.op.session = (uint32_t)(ids[i] >> 7);
			m.u.op.op = op;
			m.u.op.args_kind = AR_ARGS_NONE;
			assert_int_equal(roundtrip(&m, &o, &c), 0);
			assert_int_equal(o.type, AR_WIRE_OP);
			assert_true(o.u.op.id == ids[i]);
			assert_int_equal(o.u.op.session, (uint32_t)(ids[i] >> 7));
			assert_int_equal(o.u.op.op, op);
			assert_int_equal(o.u.op.args_kind, AR_ARGS_NONE);
			assert_int_equal(o.u.op.u.generic.nr_read, 0);
			assert_null(o.u.op.u.generic.library);
			free(c);
		}
		m.u.op.op = AR_OP_MBENCH;
		m.u.op.args_kind = AR_ARGS_MBENCH;
		m.u.op.u.mbench.time_us = (uint32_t)ids[i];
		assert_int_equal(roundtrip(&m, &o, &c), 0);
		assert_true(o.u.op.id == ids[i]);
		assert_int_equal(o.u.op.op, AR_OP_MBENCH);
		assert_int_equal(o.u.op.u.mbench.time_us, (uint32_t)ids[i]);
		free(c);

		memset(&m, 0x5a, sizeof(m));
		m.type = AR_WIRE_COMPLETION;
		m.u.completion.id = ids[i];
		m.u.completion.status = i ? -(int32_t)i * 1000 : 0;
		m.u.completion.value = ~ids[i];
		m.u.completion.nr_outputs = 0;
		m.u.completion.nr_written = 0;
		m.u.completion.message = NULL;
		assert_int_equal(roundtrip(&m, &o, &c), 0);
		assert_int_equal(o.type, AR_WIRE_COMPLETION);
		assert_true(o.u.completion.id == ids[i]);
		assert_int_equal(o.u.completion.status, i ? -(int32_t)i * 1000 : 0);
		assert_true(o.u.completion.value == ~ids[i]);
		assert_int_equal(o.u.completion.nr_outputs, 0);
		free(c);

		/* A builder message in between keeps its own contents. */
		m.u.completion.nr_outputs = 1;
		m.u.completion.outputs[0] = (struct ar_wire_buf){
			.kind = AR_BUF_BYTES, .bytes = "x", .len = 2 };
		assert_int_equal(roundtrip(&m, &o, &c), 0);
		assert_int_equal(o.u.completion.nr_outputs, 1);
		assert_string_equal(o.u.completion.outputs[0].bytes, "x");
		assert_true(o.u.completion.id == ids[i]);
		free(c);
	}
	/* An op number out of range is refused, template or not. */
	m.type = AR_WIRE_OP;
	m.u.op.op = AR_OP_MAX;
	m.u.op.args_kind = AR_ARGS_NONE;
	const void *p;
	assert_int_equal(ar_wire_encode(enc, &m, &p), -EINVAL);
}

/* The encoder refuses what the decoder would: bad op, kind, count. */
static void test_wire_encode_rejects_invalid(void **state)
{
	struct ar_wire_msg m = { .type = AR_WIRE_OP };
	const void *p;

	(void)state;
	m.u.op.op = AR_OP_MAX;
	assert_int_equal(ar_wire_encode(enc, &m, &p), -EINVAL);
	m.u.op.op = AR_OP_EXEC;
	m.u.op.args_kind = AR_ARGS_GENERIC;
	m.u.op.u.generic.nr_read = AR_WIRE_MAX_ARGS + 1;
	assert_int_equal(ar_wire_encode(enc, &m, &p), -EINVAL);
	m.u.op.u.generic.nr_read = 1;
	m.u.op.u.generic.read[0].kind = 9;
	assert_int_equal(ar_wire_encode(enc, &m, &p), -EINVAL);
	m.type = 77;
	assert_int_equal(ar_wire_encode(enc, &m, &p), -EINVAL);
}

/* Structure: garbage, truncation and a foreign identifier are EBADMSG. */
static void test_wire_decode_rejects_bad_structure(void **state)
{
	struct ar_wire_msg m = { .type = AR_WIRE_SESSION_OPEN }, o;
	uint64_t buf[64];
	const void *p;
	int64_t n;

	(void)state;
	memset(buf, 0xa5, sizeof(buf));
	assert_int_equal(ar_wire_decode(buf, sizeof(buf), &o), -EBADMSG);
	assert_int_equal(ar_wire_decode(buf, 0, &o), -EBADMSG);
	n = ar_wire_encode(enc, &m, &p);
	assert_true(n > 0 && (size_t)n <= sizeof(buf));
	memcpy(buf, p, (size_t)n);
	assert_int_equal(ar_wire_decode(buf, (size_t)n, &o), 0);
	/* Every truncation fails. */
	for (int64_t i = 0; i < n; i++)
		assert_int_not_equal(ar_wire_decode(buf, (size_t)i, &o), 0);
	/* The file identifier sits at bytes 4..7. */
	((uint8_t *)buf)[5] ^= 1;
	assert_int_equal(ar_wire_decode(buf, (size_t)n, &o), -EBADMSG);
}

/* Meaning: out-of-range enums, a union not matching the op, a Buf that is
 * two things at once, and names with embedded NULs are EINVAL. */
static void test_wire_decode_rejects_bad_values(void **state)
{
	static const char *const bad[] = {
		"{body_type:\"OpRequest\",body:{op:200}}",
		"{body_type:\"OpRequest\",body:{op:0,args_type:\"Sgemm\",args:{m:1}}}",
		"{body_type:\"OpRequest\",body:{op:17,args_type:\"Image\",args:{}}}",
		"{body_type:\"OpRequest\",body:{op:17}}",
		"{body_type:\"OpRequest\",body:{op:17,args_type:\"Sgemm\","
		"args:{a:{bytes:[1],ref:{offset:0,length:1}}}}}",
		"{body_type:\"OpRequest\",body:{op:1,args_type:\"Generic\","
		"args:{library:\"a\\u0000b\"}}}",
		"{body_type:\"OpRequest\",body:{op:1,args_type:\"Generic\","
		"args:{read:[{size:1,ref:{offset:0,length:1}}]}}}",
		"{body_type:\"Completion\",body:{outputs:[{size:5}]}}",
		"{body_type:\"NONE\"}",
	};
	struct ar_wire_msg o;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		void *bin = NULL;

		if (decode_json(bad[i], &o, &bin) != -EINVAL)
			fail_msg("accepted: %s", bad[i]);
		free(bin);
	}
}

/* Refs: offset+length checked in 64 bits, and against a minimum size. */
static void test_wire_ref_check_bounds(void **state)
{
	struct { uint64_t off, len, min; int ok; } t[] = {
		{ 0, 0, 0, 1 }, { 0, 4096, 4096, 1 }, { 4096, 0, 0, 1 },
		{ 4095, 1, 1, 1 }, { 4096, 1, 0, 0 }, { 0, 4097, 0, 0 },
		{ 1, UINT64_MAX, 0, 0 }, { UINT64_MAX, 2, 0, 0 },
		{ 0, UINT32_MAX, 0, 0 }, { 8, 8, 9, 0 }, { 4097, 0, 0, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct ar_wire_buf b = { .kind = AR_BUF_REF, .off = t[i].off,
					 .len = t[i].len };

		assert_int_equal(ar_wire_ref_check(&b, 4096, t[i].min),
				 t[i].ok ? 0 : -EINVAL);
	}
	struct ar_wire_buf inl = { .kind = AR_BUF_BYTES, .len = 1 };
	assert_int_equal(ar_wire_ref_check(&inl, 4096, 0), -EINVAL);
}

/* The JSON form (the dump tool's output) round-trips to the same bytes'
 * meaning. */
static void test_wire_json_roundtrip(void **state)
{
	struct ar_wire_msg m = { .type = AR_WIRE_SESSION_OPEN }, o;
	const void *p;
	char *json;
	void *bin;
	int64_t n = ar_wire_encode(enc, &m, &p);

	(void)state;
	m.u.session_open.flags = 0x20;
	n = ar_wire_encode(enc, &m, &p);
	assert_true(n > 0);
	assert_int_equal(ar_wire_to_json(p, (size_t)n, &json), 0);
	assert_non_null(strstr(json, "SessionOpen"));
	assert_int_equal(decode_json(json, &o, &bin), 0);
	assert_int_equal(o.type, AR_WIRE_SESSION_OPEN);
	assert_int_equal(o.u.session_open.flags, 0x20);
	free(json);
	free(bin);
	assert_int_equal(ar_wire_to_json("garbage!", 8, &json), -EBADMSG);
}

/* The op table: upstream's numbers 0..23 all present, then a gap up to
 * accelring's own (mbench); names and shapes as declared. */
static void test_wire_op_names(void **state)
{
	unsigned n = 0;

	(void)state;
	for (uint32_t op = 0; op < AR_OP_MAX; op++) {
		const struct ar_op_info *in = ar_op_lookup(op);

		assert_true((in != NULL) == (op < 24 || op == AR_OP_MBENCH));
		if (!in)
			continue;
		n++;
		assert_ptr_equal(ar_op_name(op), in->name);
		assert_true(in->rd_min <= in->rd_max && in->rd_max <= AR_WIRE_MAX_ARGS);
		assert_true(in->wr_min <= in->wr_max && in->wr_max <= AR_WIRE_MAX_ARGS);
	}
	assert_int_equal(n, 25);
	assert_null(ar_op_name(AR_OP_MAX));
	assert_null(ar_op_name(30));
	assert_null(ar_op_lookup(UINT32_MAX));
	assert_int_equal(AR_OP_BLAS_SGEMM, 17);
	assert_string_equal(ar_op_name(AR_OP_BLAS_SGEMM), "blas_sgemm");
	assert_string_equal(ar_op_name(AR_OP_EXEC), "exec");
	assert_int_equal(ar_op_args_kind(AR_OP_NOOP), AR_ARGS_NONE);
	assert_int_equal(ar_op_args_kind(AR_OP_IMAGE_DEPTH), AR_ARGS_IMAGE);
	assert_int_equal(ar_op_args_kind(AR_OP_TORCH_MODEL_RUN), AR_ARGS_GENERIC);
	assert_int_equal(ar_op_args_kind(AR_OP_BLAS_SGEMM), AR_ARGS_SGEMM);
	assert_int_equal(ar_op_args_kind(40), AR_ARGS_NONE);
}

/* Typed arguments keep their type and custom id both ways; a type past
 * the last vaccel_arg_type_t and a Generic op outside its table bounds
 * do not decode. */
static void test_wire_typed_args(void **state)
{
	struct ar_wire_msg m = { .type = AR_WIRE_OP }, o;
	struct ar_wire_generic *g = &m.u.op.u.generic;
	int32_t v = 7;
	void *c = NULL;
	const void *p;
	int64_t n;

	(void)state;
	m.u.op.op = AR_OP_EXEC;
	m.u.op.args_kind = AR_ARGS_GENERIC;
	g->library = "lib.so";
	g->symbol = "fn";
	g->nr_read = 2;
	g->nr_write = 1;
	g->read[0] = (struct ar_wire_buf){ .kind = AR_BUF_BYTES, .bytes = &v, .len = 4,
					   .type = 5, .custom_id = 0 };
	g->read[1] = (struct ar_wire_buf){ .kind = AR_BUF_REF, .off = 64, .len = 16,
					   .type = 29, .custom_id = 0xdeadbeef };
	g->write[0] = (struct ar_wire_buf){ .kind = AR_BUF_SIZE, .len = 8, .type = 16,
					    .custom_id = 3 };
	assert_int_equal(roundtrip(&m, &o, &c), 0);
	assert_int_equal(o.u.op.u.generic.read[0].type, 5);
	assert_int_equal(o.u.op.u.generic.read[1].type, 29);
	assert_int_equal(o.u.op.u.generic.read[1].custom_id, 0xdeadbeef);
	assert_int_equal(o.u.op.u.generic.write[0].type, 16);
	assert_int_equal(o.u.op.u.generic.write[0].custom_id, 3);
	free(c);

	/* A type the API does not have. */
	g->read[0].type = AR_ARG_TYPES;
	n = ar_wire_encode(enc, &m, &p);
	assert_true(n > 0);
	c = aligned_alloc(8, ((size_t)n + 7) & ~7ul);
	memcpy(c, p, (size_t)n);
	assert_int_equal(ar_wire_decode(c, (size_t)n, &o), -EINVAL);
	free(c);
	g->read[0].type = 5;

	/* exec without its symbol; fpga_mmult with one input. */
	g->symbol = NULL;
	n = ar_wire_encode(enc, &m, &p);
	assert_true(n > 0);
	c = aligned_alloc(8, ((size_t)n + 7) & ~7ul);
	memcpy(c, p, (size_t)n);
	assert_int_equal(ar_wire_decode(c, (size_t)n, &o), -EINVAL);
	assert_int_equal(o.u.op.id, m.u.op.id);
	free(c);
	m.u.op.op = AR_OP_FPGA_MMULT;
	g->nr_read = 1;
	n = ar_wire_encode(enc, &m, &p);
	assert_true(n > 0);
	c = aligned_alloc(8, ((size_t)n + 7) & ~7ul);
	memcpy(c, p, (size_t)n);
	assert_int_equal(ar_wire_decode(c, (size_t)n, &o), -EINVAL);
	free(c);
	g->nr_read = 2;
	assert_int_equal(roundtrip(&m, &o, &c), 0);
	free(c);
}

static int setup(void **state)
{
	(void)state;
	enc = ar_wire_enc_create();
	return enc ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	ar_wire_enc_destroy(enc);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wire_handshake_roundtrip),
		cmocka_unit_test(test_wire_session_roundtrip),
		cmocka_unit_test(test_wire_sgemm_roundtrip),
		cmocka_unit_test(test_wire_generic_roundtrip),
		cmocka_unit_test(test_wire_completion_roundtrip),
		cmocka_unit_test(test_wire_stream_messages),
		cmocka_unit_test(test_wire_resource_messages),
		cmocka_unit_test(test_wire_generic_resource),
		cmocka_unit_test(test_wire_template_shapes),
		cmocka_unit_test(test_wire_encode_rejects_invalid),
		cmocka_unit_test(test_wire_decode_rejects_bad_structure),
		cmocka_unit_test(test_wire_decode_rejects_bad_values),
		cmocka_unit_test(test_wire_ref_check_bounds),
		cmocka_unit_test(test_wire_json_roundtrip),
		cmocka_unit_test(test_wire_op_names),
		cmocka_unit_test(test_wire_typed_args),
	};

	return cmocka_run_group_tests_name("wire", tests, setup, teardown);
}

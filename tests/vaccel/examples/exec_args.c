/* SPDX-License-Identifier: Apache-2.0 */
/*
 * exec_args - vaccel_exec with arguments built in arg arrays, calling
 * real functions of a host library (accelring's exec test library,
 * tests/plugins/exec_lib.h, on the broker's exec-allow):
 *
 *   ar_test_count on an int32, a float array, a string and a custom type
 *   of our own (a struct turned into bytes by our serializer and back by
 *   our deserializer): it must see 4 inputs and 1 output;
 *   ar_test_checksum on our string and its parameters (a custom type,
 *   checked by our validator): its FNV-1a checksum and byte counts must be
 *   the ones we compute here.
 *
 * usage: exec_args LIBRARY (the test library's absolute path)
 *
 * A plain vAccel program: <vaccel.h>, and exec_lib.h for the library's
 * argument structs (plain C). Exit status 0 when every check passed.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vaccel.h>

#include "../../plugins/exec_lib.h"

/* Our custom type, and its id among custom types. */
struct sample {
	int32_t id;
	float pos[3];
	char label[8];
};

#define SAMPLE_TYPE_ID 0x53414d50u	/* "SAMP" */
#define SAMPLE_WIRE_SIZE (4 + 3 * 4 + 8)

/* A sample as SAMPLE_WIRE_SIZE bytes: fields one after another, no
 * padding (the bytes leave the process). */
static int sample_serialize(const void *data, size_t data_size,
			    uint32_t custom_id, void **out_buf, size_t *out_size)
{
	const struct sample *s = data;
	unsigned char *b;

	if (!data || data_size != sizeof(*s) || custom_id != SAMPLE_TYPE_ID ||
	    !out_buf || !out_size)
		return VACCEL_EINVAL;
	b = malloc(SAMPLE_WIRE_SIZE);
	if (!b)
		return VACCEL_ENOMEM;
	memcpy(b, &s->id, 4);
	memcpy(b + 4, s->pos, 12);
	memcpy(b + 16, s->label, 8);
	*out_buf = b;
	*out_size = SAMPLE_WIRE_SIZE;
	return VACCEL_OK;
}

static int sample_deserialize(const void *buf, size_t size, uint32_t custom_id,
			      size_t data_size, void *out_data)
{
	const unsigned char *b = buf;
	struct sample *s = out_data;

	if (!buf || size != SAMPLE_WIRE_SIZE || custom_id != SAMPLE_TYPE_ID ||
	    data_size != sizeof(*s) || !out_data)
		return VACCEL_EINVAL;
	memcpy(&s->id, b, 4);
	memcpy(s->pos, b + 4, 12);
	memcpy(s->label, b + 16, 8);
	return VACCEL_OK;
}

static int failures;

#define CHECK(cond, ...)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__,         \
				__LINE__, #cond);                              \
			fprintf(stderr, __VA_ARGS__);                          \
			fputc('\n', stderr);                                   \
			failures++;                                            \
		}                                                              \
	} while (0)

/* Every argument is what we added, read back through the array's getters. */
static void check_read_args(struct vaccel_arg_array *read, int32_t *count,
			    float *weights, char *name, const struct sample *in)
{
	struct vaccel_arg *a = read->args;
	struct sample back;
	int32_t c = 0;
	float *w = NULL;
	size_t nw = 0;
	char *s = NULL;

	CHECK(vaccel_arg_array_count(read) == 4, "count %zu",
	      vaccel_arg_array_count(read));
	CHECK(a[0].type == VACCEL_ARG_INT32 && a[0].size == 4 && a[0].buf == count,
	      "int32 arg: type %d size %zu", a[0].type, a[0].size);
	CHECK(a[1].type == VACCEL_ARG_FLOAT32_ARRAY && a[1].size == 3 * sizeof(float) &&
	      a[1].buf == weights, "float array arg: type %d size %zu",
	      a[1].type, a[1].size);
	CHECK(a[2].type == VACCEL_ARG_STRING && a[2].size == strlen(name) + 1,
	      "string arg: type %d size %zu", a[2].type, a[2].size);
	CHECK(a[3].type == VACCEL_ARG_CUSTOM && a[3].custom_type_id == SAMPLE_TYPE_ID &&
	      a[3].size == SAMPLE_WIRE_SIZE && a[3].owned,
	      "custom arg: type %d id %u size %zu owned %d", a[3].type,
	      a[3].custom_type_id, a[3].size, a[3].owned);

	vaccel_arg_array_reset_position(read);
	CHECK(vaccel_arg_array_get_int32(read, &c) == VACCEL_OK && c == *count,
	      "get_int32: %d", c);
	CHECK(vaccel_arg_array_get_float_array(read, &w, &nw) == VACCEL_OK &&
	      w == weights && nw == 3, "get_float_array: %zu values", nw);
	CHECK(vaccel_arg_array_get_string(read, &s) == VACCEL_OK && s &&
	      !strcmp(s, name), "get_string: %s", s ? s : "(null)");
	memset(&back, 0, sizeof(back));
	CHECK(vaccel_arg_array_get_serialized(read, VACCEL_ARG_CUSTOM, SAMPLE_TYPE_ID,
					      &back, sizeof(back),
					      sample_deserialize) == VACCEL_OK &&
	      back.id == in->id && back.pos[2] == in->pos[2] &&
	      !memcmp(back.label, in->label, sizeof(back.label)),
	      "custom arg did not deserialize to what was serialized");
	/* A wrong type is refused, and nothing is left to read. */
	vaccel_arg_array_set_position(read, 0);
	CHECK(vaccel_arg_array_get_string(read, &s) == VACCEL_EINVAL,
	      "get_string on an int32 accepted");
	vaccel_arg_array_set_position(read, 4);
	CHECK(vaccel_arg_array_remaining_count(read) == 0, "remaining %zu",
	      vaccel_arg_array_remaining_count(read));
	printf("read args: int32 %d, float[3] {%g, %g, %g}, string \"%s\", "
	       "custom sample {id %d, label \"%.8s\"} (%zu bytes serialized)\n",
	       *count, weights[0], weights[1], weights[2], name, back.id,
	       back.label, a[3].size);
}

/* The library's parameters are ours if they have its size and id. */
static bool exec_in_valid(const void *buf, size_t size, uint32_t custom_id)
{
	return buf && size == sizeof(struct ar_test_exec_in) &&
	       custom_id == AR_TEST_EXEC_IN_ID;
}

/* ar_test_checksum of name, through arg arrays. */
static void run_checksum(struct vaccel_session *sess, const char *lib, char *name)
{
	struct ar_test_exec_in in = { .seed = 2024, .rounds = 3 };
	struct ar_test_exec_out out;
	struct vaccel_arg_array read, write;
	size_t len = strlen(name);
	uint64_t sum = 0, want = ar_test_exec_expect((unsigned char *)name, len, in.seed, in.rounds);
	int ret;

	memset(&out, 0, sizeof(out));
	CHECK(vaccel_arg_array_init(&read, 2) == VACCEL_OK, "init read");
	CHECK(vaccel_arg_array_init(&write, 2) == VACCEL_OK, "init write");
	CHECK(vaccel_arg_array_add_buffer(&read, name, len) == VACCEL_OK, "add buffer");
	CHECK(vaccel_arg_array_add_custom(&read, AR_TEST_EXEC_IN_ID, &in, sizeof(in),
					  exec_in_valid) == VACCEL_OK, "add custom");
	/* Our validator refuses another id; the array is left as it was. */
	CHECK(vaccel_arg_array_add_custom(&read, 1, &in, sizeof(in), exec_in_valid) ==
		      VACCEL_EINVAL, "validator not consulted");
	CHECK(vaccel_arg_array_add_uint64(&write, &sum) == VACCEL_OK, "add uint64");
	CHECK(vaccel_arg_array_add_raw(&write, &out, sizeof(out)) == VACCEL_OK, "add raw");
	if (failures)
		goto out;
	ret = vaccel_exec(sess, lib, "ar_test_checksum", read.args, read.count, write.args,
			  write.count);
	printf("vaccel_exec(%s, ar_test_checksum, %zu read, %zu write) = %d: "
	       "checksum %#llx (want %#llx), %llu bytes, %u nonzero\n", lib, read.count,
	       write.count, ret, (unsigned long long)sum, (unsigned long long)want,
	       (unsigned long long)out.bytes, out.nonzero);
	CHECK(ret == VACCEL_OK, "vaccel_exec: %d (%s)", ret, strerror(ret));
	CHECK(sum == want, "checksum %#llx, want %#llx", (unsigned long long)sum,
	      (unsigned long long)want);
	CHECK(out.bytes == len && out.nonzero == len && out.type_seen == VACCEL_ARG_BUFFER,
	      "counts: %llu bytes, %u nonzero, type %u", (unsigned long long)out.bytes,
	      out.nonzero, out.type_seen);
out:
	CHECK(vaccel_arg_array_release(&write) == VACCEL_OK, "release write");
	CHECK(vaccel_arg_array_release(&read) == VACCEL_OK, "release read");
}

int main(int argc, char **argv)
{
	const char *lib = argc > 1 ? argv[1] : NULL;
	struct sample in = { .id = 7, .pos = { 0.5f, -1.25f, 3.0f }, .label = "probe" };
	struct vaccel_arg_array read, write;
	struct vaccel_session sess;
	float weights[3] = { 0.25f, 0.5f, 0.75f };
	char name[] = "hello from exec_args";
	int32_t count = 42, result = -12345;
	int ret;

	if (!lib || lib[0] != '/') {
		fprintf(stderr, "usage: %s LIBRARY (the exec test library's absolute path)\n",
			argv[0]);
		return 2;
	}
	ret = vaccel_session_init(&sess, 0);
	if (ret) {
		fprintf(stderr, "vaccel_session_init: %d (%s)\n", ret, strerror(ret));
		return 1;
	}
	printf("session %lld\n", (long long)sess.id);

	CHECK(vaccel_arg_array_init(&read, 2) == VACCEL_OK, "init read");
	CHECK(vaccel_arg_array_init(&write, 1) == VACCEL_OK, "init write");
	CHECK(vaccel_arg_array_add_int32(&read, &count) == VACCEL_OK, "add int32");
	CHECK(vaccel_arg_array_add_float_array(&read, weights, 3) == VACCEL_OK,
	      "add float array");
	CHECK(vaccel_arg_array_add_string(&read, name) == VACCEL_OK, "add string");
	CHECK(vaccel_arg_array_add_serialized(&read, VACCEL_ARG_CUSTOM, SAMPLE_TYPE_ID,
					      &in, sizeof(in),
					      sample_serialize) == VACCEL_OK,
	      "add serialized");
	/* Our serializer refuses a wrong id; the array is left as it was. */
	CHECK(vaccel_arg_array_add_serialized(&read, VACCEL_ARG_CUSTOM, 1, &in,
					      sizeof(in), sample_serialize) ==
		      VACCEL_EINVAL, "serializer error not passed on");
	CHECK(vaccel_arg_array_add_int32(&write, &result) == VACCEL_OK, "add out");
	if (failures)
		goto out;
	check_read_args(&read, &count, weights, name, &in);

	/* ar_test_count writes how many inputs it received. */
	ret = vaccel_exec(&sess, lib, "ar_test_count", read.args, read.count, write.args,
			  write.count);
	printf("vaccel_exec(%s, ar_test_count, %zu read, %zu write) = %d: it saw %d inputs\n",
	       lib, read.count, write.count, ret, result);
	CHECK(ret == VACCEL_OK, "vaccel_exec: %d (%s)", ret, strerror(ret));
	CHECK(result == 4, "ar_test_count saw %d inputs, not 4", result);
	CHECK(count == 42 && weights[1] == 0.5f && !strcmp(name, "hello from exec_args"),
	      "an input changed");
	CHECK(vaccel_exec(NULL, lib, "ar_test_count", read.args, read.count, NULL, 0) ==
		      VACCEL_EINVAL, "exec without a session accepted");
	/* A function the broker's exec-allow does not list is refused. */
	ret = vaccel_exec(&sess, lib, "ar_test_hidden", NULL, 0, NULL, 0);
	CHECK(ret == VACCEL_EPERM, "ar_test_hidden: %d (%s), not EPERM", ret, strerror(ret));
	run_checksum(&sess, lib, name);

out:
	CHECK(vaccel_arg_array_release(&write) == VACCEL_OK, "release write");
	CHECK(vaccel_arg_array_release(&read) == VACCEL_OK, "release read");
	CHECK(vaccel_session_release(&sess) == VACCEL_OK, "session release");
	printf("exec_args: %s\n", failures ? "FAILED" : "ok");
	return failures ? 1 : 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * torch - a TorchScript model run the vAccel way: a model resource (a file
 * this program writes, in the directory given), registered with a session,
 * loaded, then run on two input tensors, one lending the program's data
 * (new + set_data) and one owning its own (allocate). Against the noop
 * plugin, load and run must return 0; noop produces no output tensor, so
 * the output slot must stay empty (a plugin that does produce one has it
 * printed and deleted).
 *
 * usage: torch DIR
 *
 * A plain vAccel program: only <vaccel.h>. Exit status 0 when every check
 * passed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vaccel.h>

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

/* Some bytes standing for a model: noop never reads them. */
static int write_model(const char *path)
{
	static const char bytes[] = "PK\003\004 not a real TorchScript archive";
	FILE *f = fopen(path, "wb");
	int ok;

	if (!f)
		return -1;
	ok = fwrite(bytes, 1, sizeof(bytes), f) == sizeof(bytes);
	return fclose(f) == 0 && ok ? 0 : -1;
}

static void run_model(struct vaccel_session *sess, struct vaccel_resource *model)
{
	int64_t dims[] = { 1, 30 }, dims2[] = { 8 };
	struct vaccel_torch_tensor *in[2] = { NULL, NULL }, *out[1] = { NULL };
	struct vaccel_torch_buffer opts;
	float data[30];
	int ret;

	for (int i = 0; i < 30; i++)
		data[i] = (float)i / 10;
	CHECK(vaccel_torch_tensor_new(&in[0], 2, dims, VACCEL_TORCH_FLOAT) == VACCEL_OK,
	      "tensor_new");
	CHECK(vaccel_torch_tensor_allocate(&in[1], 1, dims2, VACCEL_TORCH_INT,
					   8 * sizeof(int32_t)) == VACCEL_OK,
	      "tensor_allocate");
	CHECK(vaccel_torch_buffer_init(&opts, NULL, 0) == VACCEL_OK, "buffer_init");
	if (failures)
		goto out;
	CHECK(vaccel_torch_tensor_set_data(in[0], data, sizeof(data)) == VACCEL_OK,
	      "set_data");
	CHECK(!in[0]->owned && in[1]->owned && in[1]->size == 32,
	      "ownership: lent %d, allocated %d", in[0]->owned, in[1]->owned);
	for (int i = 0; i < 8; i++)
		((int32_t *)in[1]->data)[i] = i * i;

	ret = vaccel_torch_model_run(sess, model, &opts, in, 2, out, 1);
	printf("vaccel_torch_model_run(2 inputs: float[1x30], int[8]) = %d\n", ret);
	CHECK(ret == VACCEL_OK, "model_run: %d (%s)", ret, strerror(ret));
	if (out[0]) {
		printf("  output: %lld dims, %zu bytes, type %d\n",
		       (long long)out[0]->nr_dims, out[0]->size, out[0]->data_type);
		CHECK(vaccel_torch_tensor_delete(out[0]) == VACCEL_OK, "delete out");
	} else {
		printf("  no output tensor (the noop plugin produces none)\n");
	}
	/* The inputs are as they were. */
	CHECK(in[0]->data == data && in[0]->size == sizeof(data) &&
	      in[0]->dims[1] == 30 && data[29] == 2.9f, "input 0 changed");
	CHECK(((int32_t *)in[1]->data)[7] == 49, "input 1 changed");
	CHECK(vaccel_torch_model_run(NULL, model, &opts, in, 2, out, 1) ==
		      VACCEL_EINVAL, "run without a session accepted");
out:
	CHECK(vaccel_torch_buffer_release(&opts) == VACCEL_OK, "buffer_release");
	if (in[1])
		CHECK(vaccel_torch_tensor_delete(in[1]) == VACCEL_OK, "delete in 1");
	if (in[0])
		CHECK(vaccel_torch_tensor_delete(in[0]) == VACCEL_OK, "delete in 0");
}

int main(int argc, char **argv)
{
	struct vaccel_resource model;
	struct vaccel_session sess;
	char path[4096];
	int ret;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	snprintf(path, sizeof(path), "%s/model.pt", argv[1]);
	if (write_model(path)) {
		perror(path);
		return 1;
	}
	ret = vaccel_resource_init(&model, path, VACCEL_RESOURCE_MODEL);
	if (ret) {
		fprintf(stderr, "vaccel_resource_init(%s): %d (%s)\n", path, ret,
			strerror(ret));
		remove(path);
		return 1;
	}
	ret = vaccel_session_init(&sess, 0);
	if (ret) {
		fprintf(stderr, "vaccel_session_init: %d (%s)\n", ret, strerror(ret));
		vaccel_resource_release(&model);
		remove(path);
		return 1;
	}
	printf("session %lld, model resource %lld (%s)\n", (long long)sess.id,
	       (long long)model.id, path);
	ret = vaccel_resource_register(&model, &sess);
	CHECK(ret == VACCEL_OK, "resource_register: %d (%s)", ret, strerror(ret));
	if (!ret) {
		ret = vaccel_torch_model_load(&sess, &model);
		printf("vaccel_torch_model_load = %d\n", ret);
		CHECK(ret == VACCEL_OK, "model_load: %d (%s)", ret, strerror(ret));
		run_model(&sess, &model);
		CHECK(vaccel_resource_unregister(&model, &sess) == VACCEL_OK,
		      "resource_unregister");
	}
	CHECK(vaccel_session_release(&sess) == VACCEL_OK, "session release");
	CHECK(vaccel_resource_release(&model) == VACCEL_OK, "resource release");
	remove(path);
	printf("torch: %s\n", failures ? "FAILED" : "ok");
	return failures ? 1 : 0;
}

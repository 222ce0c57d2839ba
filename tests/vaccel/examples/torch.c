/* SPDX-License-Identifier: Apache-2.0 */
/*
 * torch - a TorchScript model run the vAccel way, on the broker's torch
 * plugin: the model file becomes a resource, registered with a session,
 * loaded, then run on real tensors: one lending the program's data (new +
 * set_data), one owning its own (allocate). The model is the tests'
 * tiny.pt (tests/models/make_models.py: N x 3 x 32 x 32 in, N x 10 out).
 * Checked: the output's type and dims are the model's, the same input
 * gives the same bytes twice, rows of one batch are each their own, and
 * what the plugin must refuse (a wrong shape; a session that did not load
 * the model) is refused.
 *
 * usage: torch MODEL
 *
 * A plain vAccel program: only <vaccel.h>. Exit status 0 when every check
 * passed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vaccel.h>

#define PIXELS (3 * 32 * 32)
#define CLASSES 10

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

/* Run in on the model; *out is the output tensor (NULL on failure). */
static int run(struct vaccel_session *s, struct vaccel_resource *m,
	       struct vaccel_torch_tensor *in, struct vaccel_torch_tensor **out)
{
	*out = NULL;
	return vaccel_torch_model_run(s, m, NULL, &in, 1, out, 1);
}

static void check_out(const struct vaccel_torch_tensor *o, int64_t rows)
{
	CHECK(o && o->data_type == VACCEL_TORCH_FLOAT && o->nr_dims == 2 &&
	      o->dims[0] == rows && o->dims[1] == CLASSES &&
	      o->size == (size_t)rows * CLASSES * sizeof(float),
	      "output: type %d, %lld dims, %zu bytes", o ? (int)o->data_type : -1,
	      o ? (long long)o->nr_dims : -1, o ? o->size : 0);
}

int main(int argc, char **argv)
{
	static float two[2 * PIXELS];
	int64_t dims2[] = { 2, 3, 32, 32 }, dims1[] = { 1, 3, 32, 32 }, bad[] = { 1, 3, 31 };
	struct vaccel_torch_tensor *in2 = NULL, *in1 = NULL, *inbad = NULL, *o = NULL, *o2 = NULL;
	struct vaccel_session sess, other;
	struct vaccel_resource model;
	int ret;

	if (argc != 2) {
		fprintf(stderr, "usage: %s MODEL\n", argv[0]);
		return 2;
	}
	for (int i = 0; i < 2 * PIXELS; i++)
		two[i] = (float)((i * 37) % 101) / 101.0f - 0.5f;
	CHECK(vaccel_resource_init(&model, argv[1], VACCEL_RESOURCE_MODEL) == VACCEL_OK,
	      "resource_init %s", argv[1]);
	CHECK(vaccel_session_init(&sess, 0) == VACCEL_OK, "session_init");
	CHECK(vaccel_session_init(&other, 0) == VACCEL_OK, "session_init (other)");
	if (failures)
		return 1;
	CHECK(vaccel_resource_register(&model, &sess) == VACCEL_OK, "register");
	ret = vaccel_torch_model_load(&sess, &model);
	printf("vaccel_torch_model_load(%s) = %d\n", argv[1], ret);
	CHECK(ret == VACCEL_OK, "model_load: %d (%s)", ret, strerror(ret));

	/* Two rows lent by the program, one row the tensor owns. */
	CHECK(vaccel_torch_tensor_new(&in2, 4, dims2, VACCEL_TORCH_FLOAT) == VACCEL_OK &&
	      vaccel_torch_tensor_set_data(in2, two, sizeof(two)) == VACCEL_OK, "in2");
	CHECK(vaccel_torch_tensor_allocate(&in1, 4, dims1, VACCEL_TORCH_FLOAT,
					   PIXELS * sizeof(float)) == VACCEL_OK, "in1");
	if (failures)
		return 1;
	memcpy(in1->data, two + PIXELS, PIXELS * sizeof(float));

	ret = run(&sess, &model, in2, &o);
	printf("vaccel_torch_model_run(float[2x3x32x32]) = %d\n", ret);
	CHECK(ret == VACCEL_OK, "run: %d (%s)", ret, strerror(ret));
	check_out(o, 2);
	if (o && o->size == 2 * CLASSES * sizeof(float)) {
		const float *v = o->data;

		printf("  output [2x%d], row 0:", CLASSES);
		for (int i = 0; i < CLASSES; i++)
			printf(" %.5f", v[i]);
		printf("\n");
		/* The second row alone gives the second row's values (to
		 * rounding: a batch of one is another computation). */
		ret = run(&sess, &model, in1, &o2);
		CHECK(ret == VACCEL_OK, "run of one row: %d", ret);
		check_out(o2, 1);
		for (int i = 0; o2 && i < CLASSES; i++) {
			float a = v[CLASSES + i], b = ((const float *)o2->data)[i];

			CHECK(a - b < 1e-4f && b - a < 1e-4f, "row 1 [%d]: %g batched, %g alone",
			      i, a, b);
		}
		vaccel_torch_tensor_delete(o2);
		/* The same input twice: the same bytes. */
		ret = run(&sess, &model, in2, &o2);
		CHECK(ret == VACCEL_OK && o2 && o2->size == o->size &&
		      !memcmp(o2->data, o->data, o->size), "a second run differs");
		vaccel_torch_tensor_delete(o2);
	}
	vaccel_torch_tensor_delete(o);

	/* Refused: a shape the model cannot take, a session without the model. */
	CHECK(vaccel_torch_tensor_new(&inbad, 3, bad, VACCEL_TORCH_FLOAT) == VACCEL_OK &&
	      vaccel_torch_tensor_set_data(inbad, two, 3 * 31 * sizeof(float)) == VACCEL_OK,
	      "inbad");
	ret = run(&sess, &model, inbad, &o);
	printf("vaccel_torch_model_run(float[1x3x31]) = %d (refused)\n", ret);
	CHECK(ret == VACCEL_EINVAL && !o, "a wrong shape: %d", ret);
	CHECK(vaccel_resource_register(&model, &other) == VACCEL_OK, "register (other)");
	ret = run(&other, &model, in2, &o);
	printf("vaccel_torch_model_run in a session that did not load it = %d (refused)\n", ret);
	CHECK(ret == VACCEL_EINVAL && !o, "not loaded: %d", ret);

	vaccel_torch_tensor_delete(inbad);
	vaccel_torch_tensor_delete(in1);
	vaccel_torch_tensor_delete(in2);
	CHECK(vaccel_resource_unregister(&model, &other) == VACCEL_OK, "unregister (other)");
	CHECK(vaccel_resource_unregister(&model, &sess) == VACCEL_OK, "unregister");
	CHECK(vaccel_resource_release(&model) == VACCEL_OK, "resource_release");
	CHECK(vaccel_session_release(&other) == VACCEL_OK, "session_release (other)");
	CHECK(vaccel_session_release(&sess) == VACCEL_OK, "session_release");
	if (failures) {
		printf("torch: %d checks failed\n", failures);
		return 1;
	}
	printf("torch: ok\n");
	return 0;
}

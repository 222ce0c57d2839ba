/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_broker_torch - the torch plugin end to end: a real accelringd with
 * the default plugin list of a build with torch (torch:noop:exec), driven by libvaccel as any vAccel
 * program drives it, answers are compared with libtorch in this process
 * (tests/torch_ref.h) with the same thread count (the broker's
 * torch-threads default, 1). What test_plugin_torch checks of the plugin
 * alone is not repeated: this checks the path (registration, the shared
 * data area, the outputs back through libvaccel) and the routing.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <vaccel/error.h>
#include <vaccel/ops/image.h>
#include <vaccel/ops/torch.h>
#include <vaccel/resource.h>
#include <vaccel/session.h>

#include "broker_harness.h"
#include "torch_ref.h"

#ifndef AR_TEST_MODELS_DIR
#error "AR_TEST_MODELS_DIR must name the built test models"
#endif

#define M(f) AR_TEST_MODELS_DIR "/" f
#define PX (3 * 32 * 32)

static struct test_broker broker;

static char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	char *p;
	long len;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	len = ftell(f);
	assert_true(len > 0);
	rewind(f);
	p = malloc((size_t)len);
	assert_non_null(p);
	assert_int_equal(fread(p, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	*n = (size_t)len;
	return p;
}

/* tiny.pt through the broker: the output is libtorch's in process, bit
 * for bit; a session that did not load it is refused. */
static void test_broker_torch_run(void **state)
{
	struct vaccel_session s, other;
	struct vaccel_resource model;
	struct vaccel_torch_tensor *in, *out = NULL;
	int64_t dims[4] = { 2, 3, 32, 32 }, od[8];
	static float x[2 * PX], want[20];
	struct ar_tref *ref = ar_tref_load(M("tiny.pt"), 1);
	int ond;

	(void)state;
	assert_non_null(ref);
	for (int i = 0; i < 2 * PX; i++)
		x[i] = (float)((i * 7919) % 1000) / 500.0f - 1.0f;
	assert_int_equal(ar_tref_forward(ref, x, dims, 4, want, sizeof(want), od, &ond),
			 (long)sizeof(want));
	assert_int_equal(vaccel_session_init(&s, 0), 0);
	assert_int_equal(vaccel_session_init(&other, 0), 0);
	assert_int_equal(vaccel_resource_init(&model, M("tiny.pt"), VACCEL_RESOURCE_MODEL), 0);
	assert_int_equal(vaccel_resource_register(&model, &s), 0);
	assert_int_equal(vaccel_resource_register(&model, &other), 0);
	assert_int_equal(vaccel_torch_tensor_new(&in, 4, dims, VACCEL_TORCH_FLOAT), 0);
	assert_int_equal(vaccel_torch_tensor_set_data(in, x, sizeof(x)), 0);
	assert_int_equal(vaccel_torch_model_run(&s, &model, NULL, &in, 1, &out, 1),
			 VACCEL_EINVAL);
	assert_int_equal(vaccel_torch_model_load(&s, &model), 0);
	assert_int_equal(vaccel_torch_model_run(&s, &model, NULL, &in, 1, &out, 1), 0);
	assert_non_null(out);
	assert_int_equal(out->data_type, VACCEL_TORCH_FLOAT);
	assert_int_equal(out->nr_dims, 2);
	assert_int_equal(out->dims[0], 2);
	assert_int_equal(out->dims[1], 10);
	assert_int_equal(out->size, sizeof(want));
	assert_memory_equal(out->data, want, sizeof(want));
	assert_int_equal(vaccel_torch_tensor_delete(out), 0);
	out = NULL;
	assert_int_equal(vaccel_torch_model_run(&other, &model, NULL, &in, 1, &out, 1),
			 VACCEL_EINVAL);
	assert_null(out);
	assert_true(test_broker_logged(&broker, "model not loaded in this session"));
	in->data = NULL;	/* x is static: not the tensor's to free */
	assert_int_equal(vaccel_torch_tensor_delete(in), 0);
	assert_int_equal(vaccel_resource_unregister(&model, &other), 0);
	assert_int_equal(vaccel_resource_unregister(&model, &s), 0);
	assert_int_equal(vaccel_resource_release(&model), 0);
	assert_int_equal(vaccel_session_release(&other), 0);
	assert_int_equal(vaccel_session_release(&s), 0);
	ar_tref_free(ref);
}

/* image_classification reaches torch before noop: with a classifier and
 * its labels loaded as one resource, the text is the reference's; the
 * other image ops are refused, never answered with noop's dummies. */
static void test_broker_torch_classify(void **state)
{
	const char *paths[2] = { M("mobilenet_v3_small.pt"), M("labels.txt") };
	struct vaccel_session s;
	struct vaccel_resource model;
	struct ar_tref *ref = ar_tref_load(M("mobilenet_v3_small.pt"), 1);
	char want[1024], *labels_buf, *img;
	unsigned char text[1024], name[64];
	const char *labels[1000];
	size_t n, img_len;
	int nl = 0;

	(void)state;
	assert_non_null(ref);
	labels_buf = slurp(M("labels.txt"), &n);
	for (size_t i = 0, b = 0; i < n; i++)
		if (labels_buf[i] == '\n') {
			labels_buf[i] = '\0';
			assert_true(nl < 1000);
			labels[nl++] = &labels_buf[b];
			b = i + 1;
		}
	img = slurp(M("picture.jpg"), &img_len);
	assert_true(ar_tref_classify(ref, img, img_len, labels, nl, 5, want, sizeof(want)) > 0);
	assert_int_equal(vaccel_session_init(&s, 0), 0);
	assert_int_equal(vaccel_image_classification(&s, img, text, name, img_len, sizeof(text),
						     sizeof(name)), VACCEL_ENOTSUP);
	assert_int_equal(vaccel_resource_init_multi(&model, paths, 2, VACCEL_RESOURCE_MODEL), 0);
	assert_int_equal(vaccel_resource_register(&model, &s), 0);
	assert_int_equal(vaccel_torch_model_load(&s, &model), 0);
	assert_int_equal(vaccel_image_classification(&s, img, text, name, img_len, sizeof(text),
						     sizeof(name)), 0);
	assert_string_equal((char *)text, want);
	assert_int_equal(strncmp(want, (char *)name, strlen((char *)name)), 0);
	/* The broker carries a why for Generic ops only (broker/request.c):
	 * here the refusal shows as ENOTSUP and an untouched name, where
	 * noop would have answered with its dummy one. */
	memset(name, 0, sizeof(name));
	assert_int_equal(vaccel_image_detection(&s, img, name, img_len, sizeof(name)),
			 VACCEL_ENOTSUP);
	assert_int_equal(name[0], 0);
	assert_int_equal(vaccel_resource_unregister(&model, &s), 0);
	assert_int_equal(vaccel_resource_release(&model), 0);
	assert_int_equal(vaccel_session_release(&s), 0);
	free(img);
	free(labels_buf);
	ar_tref_free(ref);
}

static int setup(void **state)
{
	/* The default list with the torch plugin built (the harness passes
	 * its own, which this overrides): torch before noop. */
	const char *args[] = { "--plugins=torch:noop:exec", NULL };

	(void)state;
	return test_broker_start(&broker, args);
}

static int teardown(void **state)
{
	(void)state;
	return test_broker_stop(&broker) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_broker_torch_run),
		cmocka_unit_test(test_broker_torch_classify),
	};

	return cmocka_run_group_tests_name("broker_torch", tests, setup, teardown);
}

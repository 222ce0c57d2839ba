/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_broker_torch - real inference through a real accelringd and its
 * torch plugin, the vAccel way (vaccel_torch_model_load / _run,
 * vaccel_image_classification), once per transport (shared memory, TCP,
 * UNIX stream).
 *
 * Every result is compared with the same model run in this process by
 * libtorch (tests/torch_ref.h) on the same input with the same intra-op
 * threads (1, the broker's --torch-threads): output tensors equal bit for
 * bit, labels identical. The models and images are made at build time
 * (tests/models/make_models.py: resnet18 and mobilenet_v3_small with
 * seeded weights, a tiny model, PNG and JPEG pictures). Refusals carry
 * their reason, which the broker logs with the refusal.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <vaccel.h>

#include "broker_harness.h"
#include "torch_ref.h"

#ifndef AR_TEST_MODELS
#error "AR_TEST_MODELS must name the directory of the test models"
#endif
#ifndef AR_TORCH_PLUGIN
#error "AR_TORCH_PLUGIN must name the built torch plugin"
#endif

#define M(f) AR_TEST_MODELS "/" f

static struct test_broker broker;
static struct ar_tref *ref_tiny, *ref_resnet, *ref_mobilenet;
static char **labels;
static int nr_labels;

static void *read_file(const char *path, size_t *len)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	void *buf = NULL;

	if (fd >= 0 && !fstat(fd, &st) && (buf = malloc((size_t)st.st_size + 1)) &&
	    read(fd, buf, (size_t)st.st_size) == st.st_size) {
		*len = (size_t)st.st_size;
		((char *)buf)[*len] = '\0';
	} else {
		free(buf);
		buf = NULL;
	}
	if (fd >= 0)
		close(fd);
	return buf;
}

static int read_labels(void)
{
	size_t len;
	char *text = read_file(M("labels.txt"), &len), *save = NULL;

	if (!text)
		return -1;
	labels = calloc(1001, sizeof(*labels));
	for (char *l = strtok_r(text, "\n", &save); l && nr_labels < 1000;
	     l = strtok_r(NULL, "\n", &save))
		labels[nr_labels++] = l;
	return nr_labels == 1000 ? 0 : -1;
}

static int setup(void **state)
{
	const char *args[] = { "--plugins=" AR_TORCH_PLUGIN, "--torch-threads=1",
			       "--torch-image-model=" M("mobilenet_v3_small.pt"),
			       "--torch-image-labels=" M("labels.txt"), NULL };

	(void)state;
	ref_tiny = ar_tref_load(M("tiny.pt"), 1);
	ref_resnet = ar_tref_load(M("resnet18.pt"), 1);
	ref_mobilenet = ar_tref_load(M("mobilenet_v3_small.pt"), 1);
	if (!ref_tiny || !ref_resnet || !ref_mobilenet || read_labels())
		return -1;
	return test_broker_start(&broker, args);
}

static int teardown(void **state)
{
	(void)state;
	ar_tref_free(ref_tiny);
	ar_tref_free(ref_resnet);
	ar_tref_free(ref_mobilenet);
	if (labels)
		free(labels[0]);
	free(labels);
	return test_broker_stop(&broker);
}

/* A session with path registered as a MODEL resource (and loaded). */
static void open_model(struct vaccel_session *s, struct vaccel_resource *r, const char *path,
		       bool load)
{
	assert_int_equal(vaccel_session_init(s, 0), VACCEL_OK);
	assert_int_equal(vaccel_resource_init(r, path, VACCEL_RESOURCE_MODEL), VACCEL_OK);
	assert_int_equal(vaccel_resource_register(r, s), VACCEL_OK);
	if (load)
		assert_int_equal(vaccel_torch_model_load(s, r), VACCEL_OK);
}

static void close_model(struct vaccel_session *s, struct vaccel_resource *r)
{
	assert_int_equal(vaccel_resource_unregister(r, s), VACCEL_OK);
	assert_int_equal(vaccel_resource_release(r), VACCEL_OK);
	assert_int_equal(vaccel_session_release(s), VACCEL_OK);
}

static float *pattern(size_t n, uint32_t seed)
{
	float *v = malloc(n * sizeof(*v));

	assert_non_null(v);
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1664525u + 1013904223u;
		v[i] = (float)((seed >> 8) & 0xffff) / 32768.0f - 1.0f;
	}
	return v;
}

/* Run in (float, nd dims) through the broker; the output must be the
 * in-process forward's, bit for bit. */
static void run_matches(struct vaccel_session *s, struct vaccel_resource *r,
			struct ar_tref *ref, const int64_t *dims, int nd)
{
	size_t n = 1;
	struct vaccel_torch_tensor *in, *out = NULL;
	float want[4096];
	int64_t wdims[8];
	int wnd, ret;
	long wbytes;
	float *x;

	for (int i = 0; i < nd; i++)
		n *= (size_t)dims[i];
	x = pattern(n, (uint32_t)n);
	wbytes = ar_tref_forward(ref, x, dims, nd, want, sizeof(want), wdims, &wnd);
	assert_true(wbytes > 0);
	assert_int_equal(vaccel_torch_tensor_new(&in, nd, dims, VACCEL_TORCH_FLOAT), VACCEL_OK);
	assert_int_equal(vaccel_torch_tensor_set_data(in, x, n * sizeof(float)), VACCEL_OK);
	ret = vaccel_torch_model_run(s, r, NULL, &in, 1, &out, 1);
	assert_int_equal(ret, VACCEL_OK);
	assert_non_null(out);
	assert_int_equal(out->data_type, VACCEL_TORCH_FLOAT);
	assert_int_equal(out->nr_dims, wnd);
	for (int i = 0; i < wnd; i++)
		assert_int_equal(out->dims[i], wdims[i]);
	assert_int_equal(out->size, (size_t)wbytes);
	assert_memory_equal(out->data, want, (size_t)wbytes);
	vaccel_torch_tensor_delete(out);
	vaccel_torch_tensor_delete(in);
	free(x);
}

static void test_torch_run_matches_in_process(void **state)
{
	const int64_t tiny[] = { 3, 3, 32, 32 }, img[] = { 1, 3, 224, 224 };
	struct vaccel_session s;
	struct vaccel_resource r, rr;

	(void)state;
	open_model(&s, &r, M("tiny.pt"), true);
	run_matches(&s, &r, ref_tiny, tiny, 4);
	/* The same records deflated, and with ZIP64 headers: still a model. */
	close_model(&s, &r);
	open_model(&s, &r, M("deflated.pt"), true);
	run_matches(&s, &r, ref_tiny, tiny, 4);
	close_model(&s, &r);
	open_model(&s, &r, M("zip64.pt"), true);
	run_matches(&s, &r, ref_tiny, tiny, 4);
	close_model(&s, &r);
	open_model(&s, &r, M("tiny.pt"), true);
	/* Loading again is no harm; a second model in the same session. */
	assert_int_equal(vaccel_torch_model_load(&s, &r), VACCEL_OK);
	assert_int_equal(vaccel_resource_init(&rr, M("resnet18.pt"), VACCEL_RESOURCE_MODEL),
			 VACCEL_OK);
	assert_int_equal(vaccel_resource_register(&rr, &s), VACCEL_OK);
	assert_int_equal(vaccel_torch_model_load(&s, &rr), VACCEL_OK);
	run_matches(&s, &rr, ref_resnet, img, 4);
	run_matches(&s, &r, ref_tiny, tiny, 4);
	assert_int_equal(vaccel_resource_unregister(&rr, &s), VACCEL_OK);
	assert_int_equal(vaccel_resource_release(&rr), VACCEL_OK);
	close_model(&s, &r);
}

/* Classify with the labels ref gives for the same bytes. */
static void classify_matches(struct vaccel_session *s, const char *image)
{
	unsigned char text[1024], name[256];
	char want[1024];
	size_t len;
	void *img = read_file(image, &len);
	long n;

	assert_non_null(img);
	n = ar_tref_classify(ref_mobilenet, img, len, (const char *const *)labels, nr_labels,
			     5, want, sizeof(want));
	assert_true(n > 0);
	memset(text, 0xa5, sizeof(text));
	memset(name, 0xa5, sizeof(name));
	assert_int_equal(vaccel_image_classification(s, img, text, name, len, sizeof(text),
						     sizeof(name)), VACCEL_OK);
	assert_string_equal((char *)text, want);
	/* The top label names the image. */
	assert_int_equal(strncmp((char *)name, want, strcspn(want, " ")), 0);
	assert_int_equal(name[strcspn(want, " ")], '\0');
	free(img);
}

static void test_torch_classify_default_model(void **state)
{
	struct vaccel_session s;

	(void)state;
	assert_int_equal(vaccel_session_init(&s, 0), VACCEL_OK);
	classify_matches(&s, M("picture.png"));
	classify_matches(&s, M("picture.jpg"));
	classify_matches(&s, M("picture224.png"));
	classify_matches(&s, M("gray.png"));
	assert_int_equal(vaccel_session_release(&s), VACCEL_OK);
}

/* A session's own classifier: a MODEL resource of a model and its labels,
 * loaded in that session (here the same model, so the same labels). */
static void test_torch_classify_session_model(void **state)
{
	const char *paths[] = { M("mobilenet_v3_small.pt"), M("labels.txt") };
	struct vaccel_session s;
	struct vaccel_resource r;

	(void)state;
	assert_int_equal(vaccel_session_init(&s, 0), VACCEL_OK);
	assert_int_equal(vaccel_resource_init_multi(&r, paths, 2, VACCEL_RESOURCE_MODEL),
			 VACCEL_OK);
	assert_int_equal(vaccel_resource_register(&r, &s), VACCEL_OK);
	assert_int_equal(vaccel_torch_model_load(&s, &r), VACCEL_OK);
	classify_matches(&s, M("picture.jpg"));
	close_model(&s, &r);
}

static void test_torch_refusals_say_why(void **state)
{
	const int64_t dims[] = { 1, 3, 31 };
	struct vaccel_session s, s2;
	struct vaccel_resource r, bad;
	struct vaccel_torch_tensor *in, *out = NULL;
	unsigned char text[64], name[64];
	float *x = pattern(93, 1);
	char junk[4096];
	size_t len;
	void *img;

	(void)state;
	/* Registered, never loaded. */
	open_model(&s, &r, M("tiny.pt"), false);
	assert_int_equal(vaccel_torch_tensor_new(&in, 3, dims, VACCEL_TORCH_FLOAT), VACCEL_OK);
	assert_int_equal(vaccel_torch_tensor_set_data(in, x, 93 * sizeof(float)), VACCEL_OK);
	assert_int_equal(vaccel_torch_model_run(&s, &r, NULL, &in, 1, &out, 1), VACCEL_EINVAL);
	assert_null(out);
	assert_true(test_broker_logged(&broker, "not loaded in this session"));
	/* Loaded: a shape the model cannot take, torch's own words. */
	assert_int_equal(vaccel_torch_model_load(&s, &r), VACCEL_OK);
	assert_int_equal(vaccel_torch_model_run(&s, &r, NULL, &in, 1, &out, 1), VACCEL_EINVAL);
	assert_null(out);
	/* Loaded in another session only: this one cannot use it. */
	assert_int_equal(vaccel_session_init(&s2, 0), VACCEL_OK);
	assert_int_equal(vaccel_resource_register(&r, &s2), VACCEL_OK);
	assert_int_equal(vaccel_torch_model_run(&s2, &r, NULL, &in, 1, &out, 1), VACCEL_EINVAL);
	assert_int_equal(vaccel_resource_unregister(&r, &s2), VACCEL_OK);
	assert_int_equal(vaccel_session_release(&s2), VACCEL_OK);
	vaccel_torch_tensor_delete(in);
	close_model(&s, &r);

	/* Not a model: torch says why, the broker stays up. */
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (char)(i * 7);
	memcpy(junk, "PK\003\004", 4);
	assert_int_equal(vaccel_session_init(&s, 0), VACCEL_OK);
	assert_int_equal(vaccel_resource_init_from_buf(&bad, junk, sizeof(junk),
						       VACCEL_RESOURCE_MODEL, "junk.pt", true),
			 VACCEL_OK);
	assert_int_equal(vaccel_resource_register(&bad, &s), VACCEL_OK);
	assert_int_equal(vaccel_torch_model_load(&s, &bad), VACCEL_EINVAL);
	/* An archive that would inflate to 64 MiB of broker memory, and two
	 * entries over the same bytes: refused before torch reads them. */
	{
		const char *const hostile[] = { M("bomb.pt"), M("overlap.pt") };

		for (int i = 0; i < 2; i++) {
			struct vaccel_resource h;

			assert_int_equal(vaccel_resource_init(&h, hostile[i],
							      VACCEL_RESOURCE_MODEL), VACCEL_OK);
			assert_int_equal(vaccel_resource_register(&h, &s), VACCEL_OK);
			assert_int_equal(vaccel_torch_model_load(&s, &h), VACCEL_EINVAL);
			assert_int_equal(vaccel_resource_unregister(&h, &s), VACCEL_OK);
			assert_int_equal(vaccel_resource_release(&h), VACCEL_OK);
		}
		assert_true(test_broker_logged(&broker, "a zip bomb"));
		assert_true(test_broker_logged(&broker, "share bytes"));
	}
	/* A model that reads host files is refused. */
	{
		struct vaccel_resource ff;

		assert_int_equal(vaccel_resource_init(&ff, M("from_file.pt"),
						      VACCEL_RESOURCE_MODEL), VACCEL_OK);
		assert_int_equal(vaccel_resource_register(&ff, &s), VACCEL_OK);
		assert_int_equal(vaccel_torch_model_load(&s, &ff), VACCEL_EPERM);
		assert_int_equal(vaccel_resource_unregister(&ff, &s), VACCEL_OK);
		assert_int_equal(vaccel_resource_release(&ff), VACCEL_OK);
	}
	/* A corrupt image; an op no TorchScript model here serves. */
	img = read_file(M("corrupt.jpg"), &len);
	assert_non_null(img);
	assert_int_equal(vaccel_image_classification(&s, img, text, name, len, sizeof(text),
						     sizeof(name)), VACCEL_EINVAL);
	assert_int_equal(vaccel_image_detection(&s, img, name, len, sizeof(name)),
			 VACCEL_ENOTSUP);
	/* Image ops carry their refusal's reason too. */
	assert_true(test_broker_logged(&broker, "image_classify refused"));
	assert_true(test_broker_logged(&broker, "serves image classification only"));
	free(img);
	assert_int_equal(vaccel_resource_unregister(&bad, &s), VACCEL_OK);
	assert_int_equal(vaccel_resource_release(&bad), VACCEL_OK);
	assert_int_equal(vaccel_session_release(&s), VACCEL_OK);
	free(x);
	assert_true(test_broker_alive(&broker));
}

/* A closed session's models are gone: the resource, registered again with
 * a new session, must be loaded again. */
static void test_torch_session_close_drops_models(void **state)
{
	const int64_t dims[] = { 1, 3, 32, 32 };
	struct vaccel_session s;
	struct vaccel_resource r;
	struct vaccel_torch_tensor *in, *out = NULL;
	float *x = pattern(3 * 32 * 32, 2);

	(void)state;
	open_model(&s, &r, M("tiny.pt"), true);
	assert_int_equal(vaccel_resource_unregister(&r, &s), VACCEL_OK);
	assert_int_equal(vaccel_session_release(&s), VACCEL_OK);
	assert_int_equal(vaccel_session_init(&s, 0), VACCEL_OK);
	assert_int_equal(vaccel_resource_register(&r, &s), VACCEL_OK);
	assert_int_equal(vaccel_torch_tensor_new(&in, 4, dims, VACCEL_TORCH_FLOAT), VACCEL_OK);
	assert_int_equal(vaccel_torch_tensor_set_data(in, x, 3 * 32 * 32 * sizeof(float)),
			 VACCEL_OK);
	assert_int_equal(vaccel_torch_model_run(&s, &r, NULL, &in, 1, &out, 1), VACCEL_EINVAL);
	assert_int_equal(vaccel_torch_model_load(&s, &r), VACCEL_OK);
	assert_int_equal(vaccel_torch_model_run(&s, &r, NULL, &in, 1, &out, 1), VACCEL_OK);
	vaccel_torch_tensor_delete(out);
	vaccel_torch_tensor_delete(in);
	free(x);
	close_model(&s, &r);
}

/* A client killed while its forward runs harms nobody: the next client's
 * results are still exact. */
static void test_torch_client_killed_mid_run(void **state)
{
	const int64_t img[] = { 1, 3, 224, 224 }, tiny[] = { 2, 3, 32, 32 };
	struct vaccel_session s;
	struct vaccel_resource r;
	pid_t pid;
	int st;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct vaccel_torch_tensor *in, *out = NULL;
		float *x = pattern(3 * 224 * 224, 3);

		open_model(&s, &r, M("resnet18.pt"), true);
		vaccel_torch_tensor_new(&in, 4, img, VACCEL_TORCH_FLOAT);
		vaccel_torch_tensor_set_data(in, x, 3 * 224 * 224 * sizeof(float));
		for (;;)
			if (vaccel_torch_model_run(&s, &r, NULL, &in, 1, &out, 1) == VACCEL_OK)
				vaccel_torch_tensor_delete(out);
	}
	/* Long enough to be inside a forward (each takes tens of ms). */
	usleep(1500 * 1000);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(test_broker_alive(&broker));
	open_model(&s, &r, M("tiny.pt"), true);
	run_matches(&s, &r, ref_tiny, tiny, 4);
	close_model(&s, &r);
}

/* The torch plugin runs in a host process of its own (isolation's
 * default): killed, its in-flight ops fail, and the next op of a session
 * that had loaded a model gets a new host with that model loaded again
 * (still exact); a session that had only registered one is not given it. */
static void test_torch_host_restart_reloads_models(void **state)
{
	const int64_t tiny[] = { 3, 3, 32, 32 };
	struct vaccel_session s, s2;
	struct vaccel_resource r, r2;
	struct vaccel_torch_tensor *in, *out = NULL;
	float *x = pattern(3 * 32 * 32, 4);
	const int64_t one[] = { 1, 3, 32, 32 };
	pid_t h[4], h2[4];
	int n, st;

	(void)state;
	open_model(&s, &r, M("tiny.pt"), true);
	open_model(&s2, &r2, M("tiny.pt"), false);
	run_matches(&s, &r, ref_tiny, tiny, 4);
	n = test_broker_hosts(&broker, h, 4);
	assert_int_equal(n, 1);
	assert_int_not_equal(h[0], broker.pid);
	assert_int_equal(kill(h[0], SIGKILL), 0);
	/* Gone (reaped by the broker), and the broker still serves. */
	for (int i = 0; i < 500 && kill(h[0], 0) == 0; i++)
		usleep(10000);
	assert_int_not_equal(kill(h[0], 0), 0);
	assert_true(test_broker_alive(&broker));
	run_matches(&s, &r, ref_tiny, tiny, 4);
	n = test_broker_hosts(&broker, h2, 4);
	assert_int_equal(n, 1);
	assert_int_not_equal(h2[0], h[0]);
	assert_true(test_broker_logged(&broker, "loaded again into a new host"));
	/* The other session never loaded it: still refused, in the new host. */
	assert_int_equal(vaccel_torch_tensor_new(&in, 4, one, VACCEL_TORCH_FLOAT), VACCEL_OK);
	assert_int_equal(vaccel_torch_tensor_set_data(in, x, 3 * 32 * 32 * sizeof(float)),
			 VACCEL_OK);
	st = vaccel_torch_model_run(&s2, &r2, NULL, &in, 1, &out, 1);
	assert_int_equal(st, VACCEL_EINVAL);
	vaccel_torch_tensor_delete(in);
	free(x);
	close_model(&s2, &r2);
	close_model(&s, &r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_torch_host_restart_reloads_models),
		cmocka_unit_test(test_torch_run_matches_in_process),
		cmocka_unit_test(test_torch_classify_default_model),
		cmocka_unit_test(test_torch_classify_session_model),
		cmocka_unit_test(test_torch_refusals_say_why),
		cmocka_unit_test(test_torch_session_close_drops_models),
		cmocka_unit_test(test_torch_client_killed_mid_run),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_vaccel_tensor - the model ops' data types (vaccel/ops/torch.h, tf.h,
 * tflite.h): every function with good and bad arguments, and who owns what
 * afterwards. Ownership is checked by the heap's own count (a block well
 * above glibc's mmap threshold, so that its free shows at once), and, under
 * ASan, by the sanitizer itself (a double free, a free of memory the library
 * does not own, a leak).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <vaccel.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
/* The sanitizer runtime's count (<sanitizer/allocator_interface.h>, which
 * not every toolchain installs). */
size_t __sanitizer_get_current_allocated_bytes(void);

static size_t heap_bytes(void)
{
	return __sanitizer_get_current_allocated_bytes();
}

/* Let an impossible allocation fail (VACCEL_ENOMEM) instead of aborting. */
#if defined(__SANITIZE_ADDRESS__)
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "allocator_may_return_null=1";
}
#else
const char *__tsan_default_options(void);
const char *__tsan_default_options(void)
{
	return "allocator_may_return_null=1";
}
#endif
#else
#include <malloc.h>

static size_t heap_bytes(void)
{
	struct mallinfo2 m = mallinfo2();

	return m.uordblks + m.hblkhd;
}
#endif

/* A block whose free the heap's count shows. */
#define BIG ((size_t)4 << 20)

/* Whether a BIG block allocated after base was measured is still held. */
static bool big_held(size_t base)
{
	return heap_bytes() >= base + BIG / 2;
}

static void *big_block(void)
{
	void *p = malloc(BIG);

	assert_non_null(p);
	memset(p, 0x5a, BIG);
	return p;
}

/* All bytes of p equal c. */
static bool all(const void *p, int c, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i] != (unsigned char)c)
			return false;
	return true;
}

/*
 * The tensor tests, once per kind (the three differ only in their types):
 * P the name's prefix (torch, tf, tflite), S the struct, N nr_dims' type,
 * D the dims' type, TY an element type of the kind.
 */
#define TENSOR_TESTS(P, S, N, D, TY)                                            \
/* init copies dims (zeros for none) and starts empty and not owning. */       \
static void test_vaccel_tensor_##P##_init(void **state)                        \
{                                                                               \
	D dims[] = { 2, 30 };                                                   \
	struct S t, before;                                                     \
                                                                                \
	(void)state;                                                            \
	memset(&t, 0xa5, sizeof(t));                                            \
	assert_int_equal(vaccel_##P##_tensor_init(&t, 2, dims, TY), VACCEL_OK); \
	assert_int_equal(t.nr_dims, 2);                                         \
	assert_ptr_not_equal(t.dims, dims);                                     \
	dims[0] = 7;                                                            \
	assert_int_equal(t.dims[0], 2);                                         \
	assert_int_equal(t.dims[1], 30);                                        \
	assert_int_equal(t.data_type, TY);                                      \
	assert_null(t.data);                                                    \
	assert_int_equal(t.size, 0);                                            \
	assert_false(t.owned);                                                  \
	assert_int_equal(vaccel_##P##_tensor_release(&t), VACCEL_OK);           \
                                                                                \
	assert_int_equal(vaccel_##P##_tensor_init(&t, 3, NULL, TY), VACCEL_OK); \
	assert_int_equal(t.nr_dims, 3);                                         \
	for (int i = 0; i < 3; i++)                                             \
		assert_int_equal(t.dims[i], 0);                                 \
	assert_int_equal(vaccel_##P##_tensor_release(&t), VACCEL_OK);           \
                                                                                \
	/* Refused: the struct is left as it was. */                            \
	memset(&t, 0xa5, sizeof(t));                                            \
	before = t;                                                             \
	assert_int_equal(vaccel_##P##_tensor_init(NULL, 2, dims, TY), VACCEL_EINVAL); \
	assert_int_equal(vaccel_##P##_tensor_init(&t, 0, dims, TY), VACCEL_EINVAL); \
	assert_int_equal(vaccel_##P##_tensor_init(&t, -1, dims, TY), VACCEL_EINVAL); \
	assert_memory_equal(&t, &before, sizeof(t));                            \
}                                                                               \
                                                                                \
/* release frees owned data only, empties the tensor, and may be repeated. */  \
static void test_vaccel_tensor_##P##_release(void **state)                     \
{                                                                               \
	D dims[] = { 1 };                                                       \
	char lent[16];                                                          \
	struct S *t;                                                            \
	struct S s;                                                             \
	size_t base = heap_bytes();                                             \
                                                                                \
	(void)state;                                                            \
	assert_int_equal(vaccel_##P##_tensor_allocate(&t, 1, dims, TY, BIG), VACCEL_OK); \
	assert_true(big_held(base));                                            \
	assert_int_equal(vaccel_##P##_tensor_release(t), VACCEL_OK);            \
	assert_false(big_held(base));                                           \
	assert_null(t->data);                                                   \
	assert_null(t->dims);                                                   \
	assert_int_equal(t->nr_dims, 0);                                        \
	assert_int_equal(t->size, 0);                                           \
	assert_false(t->owned);                                                 \
	assert_int_equal(vaccel_##P##_tensor_release(t), VACCEL_OK);            \
	assert_int_equal(vaccel_##P##_tensor_delete(t), VACCEL_OK);             \
                                                                                \
	/* Lent data (here on the stack) is not the tensor's to free. */        \
	memset(lent, 'x', sizeof(lent));                                        \
	assert_int_equal(vaccel_##P##_tensor_init(&s, 1, dims, TY), VACCEL_OK); \
	assert_int_equal(vaccel_##P##_tensor_set_data(&s, lent, sizeof(lent)), VACCEL_OK); \
	assert_int_equal(vaccel_##P##_tensor_release(&s), VACCEL_OK);           \
	assert_null(s.data);                                                    \
	assert_true(all(lent, 'x', sizeof(lent)));                              \
                                                                                \
	assert_int_equal(vaccel_##P##_tensor_release(NULL), VACCEL_EINVAL);     \
}                                                                               \
                                                                                \
/* new allocates an initialized tensor; a refusal leaves *tensor alone. */     \
static void test_vaccel_tensor_##P##_new(void **state)                         \
{                                                                               \
	D dims[] = { 4, 5, 6 };                                                 \
	struct S *t = NULL, *const mark = (struct S *)&dims;                    \
                                                                                \
	(void)state;                                                            \
	assert_int_equal(vaccel_##P##_tensor_new(&t, 3, dims, TY), VACCEL_OK);  \
	assert_non_null(t);                                                     \
	assert_int_equal(t->nr_dims, 3);                                        \
	assert_ptr_not_equal(t->dims, dims);                                    \
	assert_int_equal(t->dims[2], 6);                                        \
	assert_int_equal(t->data_type, TY);                                     \
	assert_null(t->data);                                                   \
	assert_false(t->owned);                                                 \
	assert_int_equal(vaccel_##P##_tensor_delete(t), VACCEL_OK);             \
                                                                                \
	t = mark;                                                               \
	assert_int_equal(vaccel_##P##_tensor_new(NULL, 3, dims, TY), VACCEL_EINVAL); \
	assert_int_equal(vaccel_##P##_tensor_new(&t, 0, dims, TY), VACCEL_EINVAL); \
	assert_int_equal(vaccel_##P##_tensor_new(&t, -3, dims, TY), VACCEL_EINVAL); \
	assert_ptr_equal(t, mark);                                              \
}                                                                               \
                                                                                \
/* allocate gives zeroed data the tensor owns (none for total_size 0). */      \
static void test_vaccel_tensor_##P##_allocate(void **state)                    \
{                                                                               \
	D dims[] = { 2, 8 };                                                    \
	struct S *t = NULL, *const mark = (struct S *)&dims;                    \
                                                                                \
	(void)state;                                                            \
	assert_int_equal(vaccel_##P##_tensor_allocate(&t, 2, dims, TY, 64), VACCEL_OK); \
	assert_non_null(t);                                                     \
	assert_non_null(t->data);                                               \
	assert_int_equal(t->size, 64);                                          \
	assert_true(t->owned);                                                  \
	assert_true(all(t->data, 0, 64));                                       \
	assert_int_equal(t->dims[1], 8);                                        \
	assert_int_equal(vaccel_##P##_tensor_delete(t), VACCEL_OK);             \
                                                                                \
	t = NULL;                                                               \
	assert_int_equal(vaccel_##P##_tensor_allocate(&t, 2, dims, TY, 0), VACCEL_OK); \
	assert_non_null(t);                                                     \
	assert_null(t->data);                                                   \
	assert_int_equal(t->size, 0);                                           \
	assert_false(t->owned);                                                 \
	assert_int_equal(vaccel_##P##_tensor_delete(t), VACCEL_OK);             \
                                                                                \
	t = mark;                                                               \
	assert_int_equal(vaccel_##P##_tensor_allocate(NULL, 2, dims, TY, 8), VACCEL_EINVAL); \
	assert_int_equal(vaccel_##P##_tensor_allocate(&t, 0, dims, TY, 8), VACCEL_EINVAL); \
	/* Memory that cannot be had: nothing is left behind (ASan: no leak). */ \
	assert_int_equal(vaccel_##P##_tensor_allocate(&t, 2, dims, TY, SIZE_MAX), \
			 VACCEL_ENOMEM);                                        \
	assert_ptr_equal(t, mark);                                              \
}                                                                               \
                                                                                \
/* delete frees the tensor and the data it owns. */                            \
static void test_vaccel_tensor_##P##_delete(void **state)                      \
{                                                                               \
	D dims[] = { 1 };                                                       \
	struct S *t;                                                            \
	size_t base = heap_bytes();                                             \
                                                                                \
	(void)state;                                                            \
	assert_int_equal(vaccel_##P##_tensor_allocate(&t, 1, dims, TY, BIG), VACCEL_OK); \
	assert_true(big_held(base));                                            \
	assert_int_equal(vaccel_##P##_tensor_delete(t), VACCEL_OK);             \
	assert_false(big_held(base));                                           \
	assert_int_equal(vaccel_##P##_tensor_delete(NULL), VACCEL_EINVAL);      \
}                                                                               \
                                                                                \
/* set_data lends: the tensor never frees that data, nor the owned data it     \
 * replaces (the caller keeps that; upstream only warns). */                   \
static void test_vaccel_tensor_##P##_set_data(void **state)                    \
{                                                                               \
	D dims[] = { 3 };                                                       \
	float lent[3] = { 1, 2, 3 };                                            \
	struct S *t;                                                            \
	void *old;                                                              \
	size_t base = heap_bytes();                                             \
                                                                                \
	(void)state;                                                            \
	assert_int_equal(vaccel_##P##_tensor_allocate(&t, 1, dims, TY, BIG), VACCEL_OK); \
	old = t->data;                                                          \
	assert_int_equal(vaccel_##P##_tensor_set_data(t, lent, sizeof(lent)), VACCEL_OK); \
	assert_ptr_equal(t->data, lent);                                        \
	assert_int_equal(t->size, sizeof(lent));                                \
	assert_false(t->owned);                                                 \
	assert_true(big_held(base));                                            \
	assert_int_equal(vaccel_##P##_tensor_delete(t), VACCEL_OK);             \
	assert_true(big_held(base));                                            \
	assert_true(all(old, 0, BIG));                                          \
	free(old);                                                              \
	assert_true(lent[2] == 3);                                              \
                                                                                \
	assert_int_equal(vaccel_##P##_tensor_set_data(NULL, lent, 1), VACCEL_EINVAL); \
}                                                                               \
                                                                                \
/* take_data hands over what the tensor holds and leaves it empty. */          \
static void test_vaccel_tensor_##P##_take_data(void **state)                   \
{                                                                               \
	D dims[] = { 2 };                                                       \
	struct S *t, before;                                                    \
	void *data = NULL, *p;                                                  \
	size_t size = 0, base = heap_bytes();                                   \
                                                                                \
	(void)state;                                                            \
	assert_int_equal(vaccel_##P##_tensor_allocate(&t, 1, dims, TY, BIG), VACCEL_OK); \
	p = t->data;                                                            \
                                                                                \
	before = *t;                                                            \
	assert_int_equal(vaccel_##P##_tensor_take_data(NULL, &data, &size), VACCEL_EINVAL); \
	assert_int_equal(vaccel_##P##_tensor_take_data(t, NULL, &size), VACCEL_EINVAL); \
	assert_int_equal(vaccel_##P##_tensor_take_data(t, &data, NULL), VACCEL_EINVAL); \
	assert_memory_equal(t, &before, sizeof(*t));                            \
	assert_null(data);                                                      \
                                                                                \
	assert_int_equal(vaccel_##P##_tensor_take_data(t, &data, &size), VACCEL_OK); \
	assert_ptr_equal(data, p);                                              \
	assert_int_equal(size, BIG);                                            \
	assert_null(t->data);                                                   \
	assert_int_equal(t->size, 0);                                           \
	assert_false(t->owned);                                                 \
	assert_int_equal(t->dims[0], 2);                                        \
	assert_int_equal(vaccel_##P##_tensor_delete(t), VACCEL_OK);             \
	assert_true(big_held(base));                                            \
	free(data);                                                             \
	assert_false(big_held(base));                                           \
                                                                                \
	/* Upstream's round: take, lend other data, delete. */                  \
	assert_int_equal(vaccel_##P##_tensor_allocate(&t, 1, dims, TY, 8), VACCEL_OK); \
	assert_int_equal(vaccel_##P##_tensor_take_data(t, &data, &size), VACCEL_OK); \
	assert_int_equal(vaccel_##P##_tensor_set_data(t, dims, sizeof(dims)), VACCEL_OK); \
	assert_int_equal(vaccel_##P##_tensor_delete(t), VACCEL_OK);             \
	free(data);                                                             \
}

TENSOR_TESTS(torch, vaccel_torch_tensor, int64_t, int64_t, VACCEL_TORCH_FLOAT)
TENSOR_TESTS(tf, vaccel_tf_tensor, int, int64_t, VACCEL_TF_INT32)
TENSOR_TESTS(tflite, vaccel_tflite_tensor, int, int32_t, VACCEL_TFLITE_FLOAT32)

/* A Torch tensor's nr_dims is 64-bit: a count whose dims' size overflows is
 * refused as memory that cannot be had, not wrapped around. */
static void test_vaccel_tensor_torch_dims_overflow(void **state)
{
	struct vaccel_torch_tensor t, before;
	struct vaccel_torch_tensor *p = NULL;

	(void)state;
	memset(&t, 0, sizeof(t));
	before = t;
	assert_int_equal(vaccel_torch_tensor_init(&t, INT64_MAX, NULL, VACCEL_TORCH_INT),
			 VACCEL_ENOMEM);
	assert_int_equal(vaccel_torch_tensor_init(&t, INT64_MAX / 4, NULL, VACCEL_TORCH_INT),
			 VACCEL_ENOMEM);
	assert_memory_equal(&t, &before, sizeof(t));
	assert_int_equal(vaccel_torch_tensor_new(&p, INT64_MAX, NULL, VACCEL_TORCH_INT),
			 VACCEL_ENOMEM);
	assert_null(p);
}

/*
 * The buffer tests, once per kind: a buffer owns its data from init on.
 * P the prefix, S the struct, DT the data's pointer type.
 */
#define BUFFER_TESTS(P, S, DT)                                                  \
/* init takes the pointer as given (NULL too); release frees it. */            \
static void test_vaccel_tensor_##P##_buffer_init_release(void **state)         \
{                                                                               \
	struct S b;                                                             \
	DT data;                                                                \
	size_t base = heap_bytes();                                             \
                                                                                \
	(void)state;                                                            \
	data = big_block();                                                     \
	assert_int_equal(vaccel_##P##_buffer_init(&b, data, BIG), VACCEL_OK);   \
	assert_ptr_equal(b.data, data);                                         \
	assert_int_equal(b.size, BIG);                                          \
	assert_int_equal(vaccel_##P##_buffer_release(&b), VACCEL_OK);           \
	assert_false(big_held(base));                                           \
	assert_null(b.data);                                                    \
	assert_int_equal(b.size, 0);                                            \
	assert_int_equal(vaccel_##P##_buffer_release(&b), VACCEL_OK);           \
                                                                                \
	assert_int_equal(vaccel_##P##_buffer_init(&b, NULL, 0), VACCEL_OK);     \
	assert_null(b.data);                                                    \
	assert_int_equal(vaccel_##P##_buffer_release(&b), VACCEL_OK);           \
                                                                                \
	assert_int_equal(vaccel_##P##_buffer_init(NULL, NULL, 1), VACCEL_EINVAL); \
	assert_int_equal(vaccel_##P##_buffer_release(NULL), VACCEL_EINVAL);     \
}                                                                               \
                                                                                \
/* new / delete: delete frees the data with the buffer. */                     \
static void test_vaccel_tensor_##P##_buffer_new_delete(void **state)           \
{                                                                               \
	struct S *b = NULL, *const mark = (struct S *)&b;                       \
	DT data;                                                                \
	size_t base = heap_bytes();                                             \
                                                                                \
	(void)state;                                                            \
	data = big_block();                                                     \
	assert_int_equal(vaccel_##P##_buffer_new(&b, data, BIG), VACCEL_OK);    \
	assert_non_null(b);                                                     \
	assert_ptr_equal(b->data, data);                                        \
	assert_int_equal(b->size, BIG);                                         \
	assert_int_equal(vaccel_##P##_buffer_delete(b), VACCEL_OK);             \
	assert_false(big_held(base));                                           \
                                                                                \
	b = mark;                                                               \
	assert_int_equal(vaccel_##P##_buffer_new(NULL, NULL, 0), VACCEL_EINVAL); \
	assert_ptr_equal(b, mark);                                              \
	assert_int_equal(vaccel_##P##_buffer_delete(NULL), VACCEL_EINVAL);      \
}                                                                               \
                                                                                \
/* take_data hands the data over: delete leaves it to the caller. */           \
static void test_vaccel_tensor_##P##_buffer_take_data(void **state)            \
{                                                                               \
	struct S *b;                                                            \
	DT data;                                                                \
	void *got = NULL;                                                       \
	size_t size = 0, base = heap_bytes();                                   \
                                                                                \
	(void)state;                                                            \
	data = big_block();                                                     \
	assert_int_equal(vaccel_##P##_buffer_new(&b, data, BIG), VACCEL_OK);    \
	assert_int_equal(vaccel_##P##_buffer_take_data(NULL, &got, &size), VACCEL_EINVAL); \
	assert_int_equal(vaccel_##P##_buffer_take_data(b, NULL, &size), VACCEL_EINVAL); \
	assert_int_equal(vaccel_##P##_buffer_take_data(b, &got, NULL), VACCEL_EINVAL); \
	assert_ptr_equal(b->data, data);                                        \
	assert_null(got);                                                       \
                                                                                \
	assert_int_equal(vaccel_##P##_buffer_take_data(b, &got, &size), VACCEL_OK); \
	assert_ptr_equal(got, data);                                            \
	assert_int_equal(size, BIG);                                            \
	assert_null(b->data);                                                   \
	assert_int_equal(b->size, 0);                                           \
	assert_int_equal(vaccel_##P##_buffer_delete(b), VACCEL_OK);             \
	assert_true(big_held(base));                                            \
	assert_true(all(got, 0x5a, BIG));                                       \
	free(got);                                                              \
}

BUFFER_TESTS(torch, vaccel_torch_buffer, char *)
BUFFER_TESTS(tf, vaccel_tf_buffer, void *)

/* A node keeps its own copy of the name; released, it has none and id -1. */
static void test_vaccel_tensor_tf_node_init_release(void **state)
{
	char name[] = "serving_default_input";
	struct vaccel_tf_node n, before;

	(void)state;
	assert_int_equal(vaccel_tf_node_init(&n, name, 3), VACCEL_OK);
	assert_ptr_not_equal(n.name, name);
	name[0] = 'X';
	assert_string_equal(n.name, "serving_default_input");
	assert_int_equal(n.id, 3);
	assert_int_equal(vaccel_tf_node_release(&n), VACCEL_OK);
	assert_null(n.name);
	assert_int_equal(n.id, -1);
	assert_int_equal(vaccel_tf_node_release(&n), VACCEL_OK);

	memset(&n, 0xa5, sizeof(n));
	before = n;
	assert_int_equal(vaccel_tf_node_init(NULL, "x", 1), VACCEL_EINVAL);
	assert_int_equal(vaccel_tf_node_init(&n, NULL, 1), VACCEL_EINVAL);
	assert_memory_equal(&n, &before, sizeof(n));
	assert_int_equal(vaccel_tf_node_release(NULL), VACCEL_EINVAL);
}

static void test_vaccel_tensor_tf_node_new_delete(void **state)
{
	struct vaccel_tf_node *n = NULL, *const mark = (struct vaccel_tf_node *)&n;

	(void)state;
	assert_int_equal(vaccel_tf_node_new(&n, "out", 0), VACCEL_OK);
	assert_non_null(n);
	assert_string_equal(n->name, "out");
	assert_int_equal(n->id, 0);
	assert_int_equal(vaccel_tf_node_delete(n), VACCEL_OK);

	n = mark;
	assert_int_equal(vaccel_tf_node_new(NULL, "out", 0), VACCEL_EINVAL);
	assert_int_equal(vaccel_tf_node_new(&n, NULL, 0), VACCEL_EINVAL);
	assert_ptr_equal(n, mark);
	assert_int_equal(vaccel_tf_node_delete(NULL), VACCEL_EINVAL);
}

/* A status keeps its own copy of the message; released: code 0, none. */
static void test_vaccel_tensor_tf_status_init_release(void **state)
{
	char msg[] = "Operation completed";
	struct vaccel_tf_status s, before;

	(void)state;
	assert_int_equal(vaccel_tf_status_init(&s, 7, msg), VACCEL_OK);
	assert_ptr_not_equal(s.message, msg);
	msg[0] = 'X';
	assert_string_equal(s.message, "Operation completed");
	assert_int_equal(s.code, 7);
	assert_int_equal(vaccel_tf_status_release(&s), VACCEL_OK);
	assert_null(s.message);
	assert_int_equal(s.code, 0);
	assert_int_equal(vaccel_tf_status_release(&s), VACCEL_OK);

	assert_int_equal(vaccel_tf_status_init(&s, 255, ""), VACCEL_OK);
	assert_int_equal(s.code, 255);
	assert_string_equal(s.message, "");
	assert_int_equal(vaccel_tf_status_release(&s), VACCEL_OK);

	memset(&s, 0xa5, sizeof(s));
	before = s;
	assert_int_equal(vaccel_tf_status_init(NULL, 1, "x"), VACCEL_EINVAL);
	assert_int_equal(vaccel_tf_status_init(&s, 1, NULL), VACCEL_EINVAL);
	assert_memory_equal(&s, &before, sizeof(s));
	assert_int_equal(vaccel_tf_status_release(NULL), VACCEL_EINVAL);
}

static void test_vaccel_tensor_tf_status_new_delete(void **state)
{
	struct vaccel_tf_status *s = NULL, *const mark = (struct vaccel_tf_status *)&s;

	(void)state;
	assert_int_equal(vaccel_tf_status_new(&s, 1, "bad"), VACCEL_OK);
	assert_non_null(s);
	assert_int_equal(s->code, 1);
	assert_string_equal(s->message, "bad");
	assert_int_equal(vaccel_tf_status_delete(s), VACCEL_OK);

	s = mark;
	assert_int_equal(vaccel_tf_status_new(NULL, 1, "bad"), VACCEL_EINVAL);
	assert_int_equal(vaccel_tf_status_new(&s, 1, NULL), VACCEL_EINVAL);
	assert_ptr_equal(s, mark);
	assert_int_equal(vaccel_tf_status_delete(NULL), VACCEL_EINVAL);
}

/* The heap count the ownership checks rely on sees a BIG block come and go
 * (else every big_held() above would prove nothing). */
static void test_vaccel_tensor_heap_count_works(void **state)
{
	size_t base = heap_bytes();
	void *p;

	(void)state;
	p = big_block();
	assert_true(big_held(base));
	free(p);
	assert_false(big_held(base));
}

#define TENSOR_CASES(P)                                                        \
	cmocka_unit_test(test_vaccel_tensor_##P##_init),                       \
	cmocka_unit_test(test_vaccel_tensor_##P##_release),                    \
	cmocka_unit_test(test_vaccel_tensor_##P##_new),                        \
	cmocka_unit_test(test_vaccel_tensor_##P##_allocate),                   \
	cmocka_unit_test(test_vaccel_tensor_##P##_delete),                     \
	cmocka_unit_test(test_vaccel_tensor_##P##_set_data),                   \
	cmocka_unit_test(test_vaccel_tensor_##P##_take_data)

#define BUFFER_CASES(P)                                                        \
	cmocka_unit_test(test_vaccel_tensor_##P##_buffer_init_release),        \
	cmocka_unit_test(test_vaccel_tensor_##P##_buffer_new_delete),          \
	cmocka_unit_test(test_vaccel_tensor_##P##_buffer_take_data)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vaccel_tensor_heap_count_works),
		BUFFER_CASES(torch),
		TENSOR_CASES(torch),
		cmocka_unit_test(test_vaccel_tensor_torch_dims_overflow),
		BUFFER_CASES(tf),
		cmocka_unit_test(test_vaccel_tensor_tf_node_init_release),
		cmocka_unit_test(test_vaccel_tensor_tf_node_new_delete),
		cmocka_unit_test(test_vaccel_tensor_tf_status_init_release),
		cmocka_unit_test(test_vaccel_tensor_tf_status_new_delete),
		TENSOR_CASES(tf),
		TENSOR_CASES(tflite),
	};

	return cmocka_run_group_tests_name("vaccel_tensor", tests, NULL, NULL);
}

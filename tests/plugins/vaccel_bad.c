/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vAccel plugins the broker must refuse at load, one per BAD_* definition
 * (tests/CMakeLists.txt builds each): written as upstream plugins are, with
 * one thing wrong.
 */
#include <vaccel.h>

static int v_noop(struct vaccel_session *sess)
{
	(void)sess;
	return VACCEL_OK;
}

#if defined(BAD_RANGE)
/* An op type past VACCEL_OP_MAX; init ignores the refusal. */
static struct vaccel_op ops[] = {
	VACCEL_OP_INIT(ops[0], VACCEL_OP_NOOP, v_noop),
	VACCEL_OP_INIT(ops[1], (vaccel_op_type_t)(VACCEL_OP_MAX + 3), v_noop),
};
#elif defined(BAD_DUP)
static struct vaccel_op ops[] = {
	VACCEL_OP_INIT(ops[0], VACCEL_OP_NOOP, v_noop),
	VACCEL_OP_INIT(ops[1], VACCEL_OP_NOOP, v_noop),
};
#elif defined(BAD_OWNER)
static struct vaccel_op ops[] = {
	{ VACCEL_OP_NOOP, (void *)v_noop, NULL },
};
#else
static struct vaccel_op ops[] = {
	VACCEL_OP_INIT(ops[0], VACCEL_OP_NOOP, v_noop),
};
#endif

static int init(void)
{
	int ret = vaccel_plugin_register_ops(ops, sizeof(ops) / sizeof(ops[0]));

#if defined(BAD_RANGE)
	(void)ret;
	return VACCEL_OK;
#elif defined(BAD_INIT_FAILS)
	(void)ret;
	return VACCEL_ENODEV;
#else
	return ret;
#endif
}

static int fini(void)
{
	return VACCEL_OK;
}

#if defined(BAD_NO_INIT)
VACCEL_PLUGIN(.name = "bad_no_init", .version = "1", .vaccel_version = VACCEL_VERSION,
	      .fini = fini)
/* Referenced, so that the build does not warn. */
int (*const bad_unused_init)(void) = init;
#elif defined(BAD_NO_NAME)
VACCEL_PLUGIN(.version = "1", .vaccel_version = VACCEL_VERSION, .init = init,
	      .fini = fini)
#elif defined(BAD_VERSION)
VACCEL_PLUGIN(.name = "bad_version", .version = "1", .vaccel_version = "99.1.0",
	      .init = init, .fini = fini)
#else
VACCEL_PLUGIN(.name = "bad", .version = "1", .vaccel_version = VACCEL_VERSION,
	      .init = init, .fini = fini)
#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * noop - implements every op but exec and exec_with_resource, and does
 * nothing but log its arguments (at debug level) and return upstream
 * vAccel's noop plugin's dummy outputs. It measures the framework itself:
 * a noop op's cost is accelring's cost. The exec ops are the exec
 * plugin's: a success from noop would tell a client that its function ran.
 * It says what it wrote, as any plugin should (struct ar_buf): an output
 * it leaves alone gets len 0, so that nothing of it is returned (an inline
 * output's unwritten bytes, a stream peer's data-area range in Chunks).
 */
#include <string.h>

#include <accelring/plugin.h>

#define DUMMY_TAG "This is a dummy classification tag!"
#define DUMMY_IMGNAME "This is a dummy imgname!"

static const struct ar_plugin_host *host;

#define debug(...)                                                         \
	do {                                                               \
		if (host->log_level >= AR_LOG_DEBUG)                       \
			host->log(AR_LOG_DEBUG, "[noop] " __VA_ARGS__);    \
	} while (0)

/* Copy a NUL-terminated dummy string into an output, truncating. */
static void put_str(struct ar_buf *b, const char *s)
{
	size_t n = strlen(s) + 1;

	if (!b->ptr)
		return;
	if (n > b->len)
		n = b->len;
	if (n) {
		memcpy(b->ptr, s, n);
		((char *)b->ptr)[n - 1] = '\0';
	}
	b->len = n;
}

static int noop_any(struct ar_op *op)
{
	debug("Calling %s for session %u", host->op_name(op->op), op->session);
	switch (op->op) {
	case AR_OP_BLAS_SGEMM:
		debug("m: %lld n: %lld k: %lld alpha: %f beta: %f",
		      (long long)op->u.sgemm.m, (long long)op->u.sgemm.n,
		      (long long)op->u.sgemm.k, op->u.sgemm.alpha,
		      op->u.sgemm.beta);
		break;
	case AR_OP_IMAGE_CLASSIFY:
		debug("len_img: %llu len_out_text: %llu len_out_imgname: %llu",
		      (unsigned long long)op->u.image.img.len,
		      (unsigned long long)op->u.image.out_text.len,
		      (unsigned long long)op->u.image.out_imgname.len);
		put_str(&op->u.image.out_text, DUMMY_TAG);
		put_str(&op->u.image.out_imgname, DUMMY_IMGNAME);
		debug("will return a dummy result");
		break;
	case AR_OP_IMAGE_DETECT:
	case AR_OP_IMAGE_SEGMENT:
	case AR_OP_IMAGE_POSE:
	case AR_OP_IMAGE_DEPTH:
		debug("len_img: %llu len_out_imgname: %llu",
		      (unsigned long long)op->u.image.img.len,
		      (unsigned long long)op->u.image.out_imgname.len);
		put_str(&op->u.image.out_imgname, DUMMY_IMGNAME);
		op->u.image.out_text.len = 0;	/* these ops have no text */
		debug("will return a dummy result");
		break;
	case AR_OP_MBENCH:
		break;
	case AR_OP_NOOP:
		break;
	default:
		/* Every other op carries Generic arguments. */
		debug("library: %s symbol: %s nr_read: %u nr_write: %u",
		      op->u.generic.library ? op->u.generic.library : "(null)",
		      op->u.generic.symbol ? op->u.generic.symbol : "(null)",
		      op->u.generic.nr_read, op->u.generic.nr_write);
		/* It runs nothing, so it writes none of them. */
		for (uint32_t i = 0; i < op->u.generic.nr_write; i++)
			op->u.generic.write[i].len = 0;
		break;
	}
	return 0;
}

static void noop_batch(struct ar_op *const *ops, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		ops[i]->status = noop_any(ops[i]);
}

static int noop_init(const struct ar_plugin_host *h)
{
	host = h;
	return 0;
}

/*
 * Every op of the table (accelring/optable.h) but those NOOP_SKIP_<NAME>
 * names, filtered as the kernel's IS_ENABLED() does (include/linux/
 * kconfig.h): a NOOP_SKIP_<NAME> defined as "," shifts the 1 into the
 * second argument, which picks the empty NOOP_ENTRY_1.
 */
#define NOOP_SKIP_EXEC ,
#define NOOP_SKIP_EXEC_WITH_RESOURCE ,
#define NOOP_SECOND_(a, b, ...) b
#define NOOP_SECOND(...) NOOP_SECOND_(__VA_ARGS__)
#define NOOP_CAT_(a, b) a##b
#define NOOP_CAT(a, b) NOOP_CAT_(a, b)
#define NOOP_ENTRY_0(NAME) { AR_OP_##NAME, noop_any },
#define NOOP_ENTRY_1(NAME)
#define OP_(num, NAME, ...) \
	NOOP_CAT(NOOP_ENTRY_, NOOP_SECOND(NOOP_SKIP_##NAME 1, 0))(NAME)
static const struct ar_plugin_op noop_ops[] = { AR_OP_TABLE(OP_) };
#undef OP_

AR_PLUGIN(.name = "noop", .version = "1.0", .type = AR_PLUGIN_DEBUG,
	  .nr_ops = sizeof(noop_ops) / sizeof(noop_ops[0]), .ops = noop_ops,
	  .init = noop_init, .batch = noop_batch);

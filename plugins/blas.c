/* SPDX-License-Identifier: Apache-2.0 */
/*
 * blas - BLAS ops on OpenBLAS. sgemm reads A and B from, and writes C into,
 * the client's shared data area: no copy on either side.
 */
#include <cblas.h>

#include <accelring/plugin.h>

static int blas_sgemm(struct ar_op *op)
{
	const struct ar_op_sgemm *s = &op->u.sgemm;

	/* The broker has checked 1 <= m, n, k, ld* <= INT32_MAX and that
	 * every matrix fits its buffer, so the int conversions are exact. */
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)s->m,
		    (int)s->n, (int)s->k, s->alpha, s->a, (int)s->lda, s->b,
		    (int)s->ldb, s->beta, s->c, (int)s->ldc);
	return 0;
}

static const struct ar_plugin_op blas_ops[] = {
	{ AR_OP_BLAS_SGEMM, blas_sgemm },
};

AR_PLUGIN(.name = "blas", .version = "1.0", .type = AR_PLUGIN_CPU,
	  .nr_ops = 1, .ops = blas_ops);

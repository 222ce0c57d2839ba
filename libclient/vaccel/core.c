/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bootstrap and cleanup. (Interim; the full group is being written.)
 */
#include "vaccel_pvt.h"

AR_VISIBLE int vaccel_bootstrap(void)
{
	struct ar_queue *q;

	return ar__vaccel_err(ar__vaccel_queue(&q));
}

AR_VISIBLE int vaccel_cleanup(void)
{
	ar__vaccel_disconnect();
	return 0;
}

AR_VISIBLE bool vaccel_is_initialized(void)
{
	return ar__vaccel_connected();
}

/* SPDX-License-Identifier: Apache-2.0 */
/* The accelring tracepoint provider, registered by the broker. */
#define LTTNG_UST_TRACEPOINT_CREATE_PROBES
#define LTTNG_UST_TRACEPOINT_DEFINE
#include "accelring/tp.h"

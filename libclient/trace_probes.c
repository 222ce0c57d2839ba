/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The accelring tracepoint provider's probes, for the client libraries:
 * built as lib<client>-lttng.so, linked with liblttng-ust, and loaded by
 * the client library only where a trace can be taken (trace.c).
 */
#define LTTNG_UST_TRACEPOINT_CREATE_PROBES
#include "accelring/tp.h"

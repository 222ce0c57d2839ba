/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AR_TRACE(event, args...): an lttng-ust tracepoint of provider accelring
 * (accelring/tp.h lists the events) when the build found lttng-ust
 * (AR_HAVE_LTTNG), nothing at all otherwise. Disabled, a tracepoint is a
 * load and a predicted branch.
 */
#ifndef ACCELRING_TRACE_H
#define ACCELRING_TRACE_H

#ifdef AR_HAVE_LTTNG
#include "accelring/tp.h"
#define AR_TRACE(event, ...) lttng_ust_tracepoint(accelring, event, __VA_ARGS__)
#else
#define AR_TRACE(event, ...) do { } while (0)
#endif

#endif

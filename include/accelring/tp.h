/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lttng-ust tracepoint provider "accelring": one event per stage of an op,
 * each with the tenant, the channel, the request id and the op, so that an
 * op can be followed from the client process through the broker and back:
 *
 *   client_submit      libclient: the op is encoded and in the SQ
 *   broker_dequeue     broker: taken from the SQ; its FlatBuffer verified
 *                      and decoded (that is when its id is known)
 *   broker_decoded     broker: every value checked, buffers resolved
 *   plugin_start       broker: the plugin is called (plugin: its name)
 *   plugin_end         broker: the plugin returned (status)
 *   completion_posted  broker: the completion is in the CQ
 *   client_reaped      libclient: the completion reached the caller
 *
 * and one event per plugin call that coalesced ops of several clients
 * (broker/coalesce.c, batch-delay-us):
 *
 *   batch_formed       broker: size ops of tenants tenants go to the plugin
 *                      in one call, after its leader (tenant) waited
 *                      wait_us for them
 *
 * (tenant, channel, id) names one op at a time: ids are reused only after
 * their completion was reaped. Code uses these through AR_TRACE
 * (accelring/trace.h), which compiles to nothing without lttng-ust.
 */
#undef LTTNG_UST_TRACEPOINT_PROVIDER
#define LTTNG_UST_TRACEPOINT_PROVIDER accelring

#undef LTTNG_UST_TRACEPOINT_INCLUDE
#define LTTNG_UST_TRACEPOINT_INCLUDE "accelring/tp.h"

#if !defined(ACCELRING_TP_H) || defined(LTTNG_UST_TRACEPOINT_HEADER_MULTI_READ)
#define ACCELRING_TP_H

#include <stdint.h>
#include <lttng/tracepoint.h>

/* The fields every event has. */
#define AR_TP_OP_ARGS uint32_t, tenant, uint32_t, channel, uint64_t, id, uint32_t, op
#define AR_TP_OP_FIELDS                                    \
	lttng_ust_field_integer(uint32_t, tenant, tenant)  \
	lttng_ust_field_integer(uint32_t, channel, channel) \
	lttng_ust_field_integer_hex(uint64_t, id, id)      \
	lttng_ust_field_integer(uint32_t, op, op)

LTTNG_UST_TRACEPOINT_EVENT_CLASS(accelring, op_stage,
	LTTNG_UST_TP_ARGS(AR_TP_OP_ARGS),
	LTTNG_UST_TP_FIELDS(AR_TP_OP_FIELDS))

LTTNG_UST_TRACEPOINT_EVENT_INSTANCE(accelring, op_stage, accelring, client_submit,
	LTTNG_UST_TP_ARGS(AR_TP_OP_ARGS))
LTTNG_UST_TRACEPOINT_EVENT_INSTANCE(accelring, op_stage, accelring, broker_dequeue,
	LTTNG_UST_TP_ARGS(AR_TP_OP_ARGS))
LTTNG_UST_TRACEPOINT_EVENT_INSTANCE(accelring, op_stage, accelring, broker_decoded,
	LTTNG_UST_TP_ARGS(AR_TP_OP_ARGS))

LTTNG_UST_TRACEPOINT_EVENT(accelring, plugin_start,
	LTTNG_UST_TP_ARGS(AR_TP_OP_ARGS, const char *, plugin),
	LTTNG_UST_TP_FIELDS(AR_TP_OP_FIELDS
		lttng_ust_field_string(plugin, plugin)))

LTTNG_UST_TRACEPOINT_EVENT_CLASS(accelring, op_status,
	LTTNG_UST_TP_ARGS(AR_TP_OP_ARGS, int32_t, status),
	LTTNG_UST_TP_FIELDS(AR_TP_OP_FIELDS
		lttng_ust_field_integer(int32_t, status, status)))

LTTNG_UST_TRACEPOINT_EVENT_INSTANCE(accelring, op_status, accelring, plugin_end,
	LTTNG_UST_TP_ARGS(AR_TP_OP_ARGS, int32_t, status))
LTTNG_UST_TRACEPOINT_EVENT_INSTANCE(accelring, op_status, accelring, completion_posted,
	LTTNG_UST_TP_ARGS(AR_TP_OP_ARGS, int32_t, status))
LTTNG_UST_TRACEPOINT_EVENT_INSTANCE(accelring, op_status, accelring, client_reaped,
	LTTNG_UST_TP_ARGS(AR_TP_OP_ARGS, int32_t, status))

LTTNG_UST_TRACEPOINT_EVENT(accelring, batch_formed,
	LTTNG_UST_TP_ARGS(uint32_t, tenant, uint32_t, size, uint32_t, tenants,
			  uint32_t, op, uint32_t, wait_us, const char *, plugin),
	LTTNG_UST_TP_FIELDS(
		lttng_ust_field_integer(uint32_t, tenant, tenant)
		lttng_ust_field_integer(uint32_t, size, size)
		lttng_ust_field_integer(uint32_t, tenants, tenants)
		lttng_ust_field_integer(uint32_t, op, op)
		lttng_ust_field_integer(uint32_t, wait_us, wait_us)
		lttng_ust_field_string(plugin, plugin)))

/* An op (n: a batch of them) ran in a plugin host process (isolation):
 * which plugin, which host process, how it ended. */
LTTNG_UST_TRACEPOINT_EVENT(accelring, host_run,
	LTTNG_UST_TP_ARGS(uint32_t, tenant, uint32_t, op, uint32_t, n,
			  const char *, plugin, uint32_t, pid, int32_t, status),
	LTTNG_UST_TP_FIELDS(
		lttng_ust_field_integer(uint32_t, tenant, tenant)
		lttng_ust_field_integer(uint32_t, op, op)
		lttng_ust_field_integer(uint32_t, n, n)
		lttng_ust_field_string(plugin, plugin)
		lttng_ust_field_integer(uint32_t, pid, pid)
		lttng_ust_field_integer(int32_t, status, status)))

#endif /* ACCELRING_TP_H */

#include <lttng/tracepoint-event.h>

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * accelring/plugin.h - the interface between accelringd and its plugins.
 *
 * A plugin is a shared object that exports one symbol, ar_plugin, defined
 * with AR_PLUGIN(...). The broker dlopen()s the plugins its configuration
 * names, checks abi_version and size before reading anything else, calls
 * init, and routes each op to the first plugin (in configuration order)
 * that implements it, preferring one whose type matches the session's
 * vAccel hint flags.
 *
 * An op reaches a plugin fully validated: every buffer lies inside the
 * client's data area or the broker's private copy of the request, and is at
 * least as long as the op needs (for sgemm: the extents that m, n, k and the
 * leading dimensions imply). Buffers in the data area are shared with the
 * client (zero copy), so a plugin must not rely on their contents staying
 * the same while it runs; it may rely on their bounds.
 *
 * Plugins run on broker worker threads, several at once: op functions must
 * be thread-safe. They return 0 or a negative errno, which the client
 * receives as the op's status.
 */
#ifndef ACCELRING_PLUGIN_H
#define ACCELRING_PLUGIN_H

#include <stdint.h>

#include <accelring/wire.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on any incompatible change of the structs below. */
#define AR_PLUGIN_ABI_VERSION 4u

/* Plugin types, which are also the session hint flags (vAccel's values). */
#define AR_PLUGIN_CPU		0x0001u
#define AR_PLUGIN_GPU		0x0002u
#define AR_PLUGIN_FPGA		0x0004u
#define AR_PLUGIN_SOFTWARE	0x0008u
#define AR_PLUGIN_TENSORFLOW	0x0010u
#define AR_PLUGIN_TORCH		0x0020u
#define AR_PLUGIN_JETSON	0x0040u
#define AR_PLUGIN_GENERIC	0x0080u
#define AR_PLUGIN_DEBUG		0x0100u
#define AR_PLUGIN_REMOTE	0x4000u

/* A validated buffer. Write arguments: the plugin may lower len to the
 * bytes it produced (inline outputs return only those). type and
 * custom_id: the argument's vaccel_arg_type_t (VACCEL_ARG_RAW = 0 ...
 * VACCEL_ARG_CUSTOM) and custom type id, exactly as the caller built it.
 * An inline scalar's len is its type's size and an inline array's a
 * multiple of its element's; an inline string ends with its NUL (the
 * broker checked). Data-area arguments are only checked for bounds: their
 * bytes may change while the plugin runs. */
struct ar_buf {
	void *ptr;
	uint64_t len;
	uint32_t type;
	uint32_t custom_id;
};

struct ar_op_sgemm {
	int64_t m, n, k, lda, ldb, ldc;	/* row-major, 1..INT32_MAX */
	float alpha, beta;
	const float *a;			/* at least (m-1)*lda + k floats */
	const float *b;			/* at least (k-1)*ldb + n floats */
	float *c;			/* at least (m-1)*ldc + n floats */
};

struct ar_op_image {
	struct ar_buf img;
	struct ar_buf out_text;		/* ptr NULL if not asked for */
	struct ar_buf out_imgname;
};

/*
 * A resource the client registered with the op's session (vAccel's
 * vaccel_resource): its content travelled to the broker once, in a memfd
 * sealed against any change (F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW |
 * F_SEAL_SEAL), so its bytes stay exactly what was hashed for as long as
 * the op runs. Never a client's path: a plugin that needs a path (dlopen,
 * a library that only opens files) uses path, /proc/self/fd/N of a memfd
 * holding exactly that file.
 */
struct ar_resource_file {
	const char *name;		/* the client's file name: no '/', not . or .. */
	const void *data;		/* read-only mapping of its bytes */
	uint64_t size;
	int fd;				/* the memfd; the file is at [offset, +size) */
	uint64_t offset;
	/* "/proc/self/fd/N" when the file is all of fd (a single-file
	 * resource), else NULL. */
	const char *path;
	uint8_t sha256[32];		/* of the file's bytes */
};

struct ar_resource {
	uint64_t id;			/* the broker's id, unique while it runs */
	uint32_t type;			/* vaccel_resource_type_t: LIB, DATA, MODEL */
	uint32_t nr_files;
	const struct ar_resource_file *files;
	uint8_t sha256[32];		/* of the type, the names and each file's hash */
};

/* A Generic op's arguments, laid out as accelring/optable.h says for
 * each op. */
struct ar_op_generic {
	const char *library;		/* NULL if absent */
	const char *symbol;
	uint32_t nr_read, nr_write;
	struct ar_buf *read, *write;
	/* exec_with_resource and the model ops: the resource, registered
	 * with this op's session (the broker checked), held until the op
	 * completes. NULL for other ops. */
	const struct ar_resource *resource;
};

/* One op, as a plugin sees it. */
struct ar_op {
	uint32_t op;			/* enum ar_op_type */
	uint32_t session;		/* the session id */
	uint32_t session_flags;		/* its hint flags */
	uint32_t tenant;		/* the broker's id for the client */
	int32_t status;			/* batch entry: each op's result */
	uint32_t why_cap;		/* bytes at why */
	/* A plugin that refuses an op may say why here (NUL-terminated, at
	 * most why_cap bytes): the client gets it with the error, and the
	 * broker logs it. Generic and image ops have it; others: NULL. */
	char *why;
	union {
		struct ar_op_sgemm sgemm;
		struct ar_op_image image;
		struct ar_op_generic generic;
		struct {
			uint32_t time_us;
		} mbench;
	} u;
};

/* Log levels, as ACCELRING_LOG_LEVEL (and vAccel's VACCEL_LOG_LEVEL). */
enum {
	AR_LOG_ERROR = 1,
	AR_LOG_WARN = 2,
	AR_LOG_INFO = 3,
	AR_LOG_DEBUG = 4,
};

/* What the broker offers a plugin. */
struct ar_plugin_host {
	uint32_t size;			/* sizeof(struct ar_plugin_host) */
	uint32_t log_level;		/* messages above it are dropped */
	void (*log)(int level, const char *fmt, ...)
		__attribute__((format(printf, 2, 3)));
	const char *(*op_name)(uint32_t op);	/* "noop", "blas_sgemm"... */
	/* A broker setting a plugin reads, by its name in the configuration
	 * ("exec-allow"): its value, or NULL for a key the broker does not
	 * have. Valid while the plugin is loaded. */
	const char *(*setting)(const char *key);
};

struct ar_plugin_op {
	uint32_t op;			/* enum ar_op_type */
	int (*fn)(struct ar_op *op);	/* 0 or -errno */
};

struct ar_plugin {
	uint32_t abi_version;		/* AR_PLUGIN_ABI_VERSION */
	uint32_t size;			/* sizeof(struct ar_plugin) */
	const char *name;
	const char *version;
	uint32_t type;			/* AR_PLUGIN_* bits */
	uint32_t nr_ops;
	const struct ar_plugin_op *ops;
	/* Optional: 0 or -errno; a failing plugin is not loaded. */
	int (*init)(const struct ar_plugin_host *host);
	void (*fini)(void);
	/*
	 * Optional: run n ops of the same type at once, setting each op's
	 * status. The broker hands a plugin that has it runs of consecutive
	 * same-type ops from one channel and, for ops flagged AR_OPF_COALESCE
	 * (accelring/optable.h) when batch-delay-us is set, ops of many
	 * channels, connections and tenants at once: those on the same
	 * resource content (its sha256) whose inputs have the same types and
	 * the same dims but the first. Each op keeps its own session and
	 * tenant, and its outputs are its own: the plugin must never let one
	 * op's data reach another's outputs. ops[] and what they point to are
	 * valid until batch returns.
	 */
	void (*batch)(struct ar_op *const *ops, uint32_t n);
	/*
	 * Optional: a session ended (closed, or its connection went): drop
	 * what the plugin keeps for it. Called once per session, on a broker
	 * thread, concurrently with ops of other sessions; an op of that
	 * session already running may still be running, so what it uses must
	 * outlive this call (reference counts).
	 */
	void (*session_closed)(uint32_t tenant, uint32_t session);
};

/* Define the plugin's descriptor: AR_PLUGIN(.name = "x", .ops = ...). */
#define AR_PLUGIN(...)                                                        \
	__attribute__((visibility("default"))) const struct ar_plugin ar_plugin = { \
		.abi_version = AR_PLUGIN_ABI_VERSION,                        \
		.size = sizeof(struct ar_plugin),                            \
		__VA_ARGS__                                                  \
	}

#define AR_PLUGIN_SYMBOL "ar_plugin"

#ifdef __cplusplus
}
#endif

#endif /* ACCELRING_PLUGIN_H */

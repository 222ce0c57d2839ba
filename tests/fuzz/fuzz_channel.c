/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_channel - the worker's stateful path (broker/worker.c, service())
 * on one channel, pass after pass, with the fuzzer playing a hostile
 * client: it submits requests (well-formed ones built here with the live
 * session id, or raw bytes), moves the SQ tail anywhere, flips ring bytes,
 * reaps some completions or none (so the CQ fills and the channel parks),
 * and moves the CQ head anywhere. The broker code is the real one (the
 * broker's sources, the noop and exec plugins loaded as accelringd would,
 * exec off: its host has no settings); ASan and UBSan check every pass,
 * and so do these invariants: a pass never takes more than `batch`
 * requests, and a poisoned channel takes none.
 *
 * Input: a sequence of commands, each one byte of opcode and its operands:
 *   0 k s    submit template k (noop, opencv, classify with inline size s*8,
 *            session open/close, sgemm by ref, a resource register of
 *            upload s % 4 (uploads 1 and 2 wait: real sealed memfds) or
 *            attach of id s, an unregister of id s, torch_model_load on
 *            id s), u8 k, u16 s
 *   1 d      SQ tail += d * 8 (d: i16), no record written
 *   2 k      reap up to k completions (u8) and release the CQ
 *   3        one worker pass
 *   4 o v    SQ ring byte o (u16) ^= v (u8)
 *   5 d      CQ head += d * 8 (d: i16)
 *   6 n ...  submit n (u8) raw bytes as one record
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static struct ar_broker b;
static struct ar_worker *w;

static void init(void)
{
	ar__log_level = 0;	/* errors only: poisoning is the point here */
	ar__config_defaults(&b.cfg);
	b.cfg.batch = 16;
	b.host = (struct ar_plugin_host){ .size = sizeof(b.host), .log_level = 0,
					  .op_name = ar_op_name };
	if (ar__plugins_load(&b.plugins, "noop:exec", &b.host, AR_PLUGIN_BUILD_DIR))
		abort();
	w = ar__worker_detached(&b);
	if (!w)
		abort();
}

struct rd {
	const uint8_t *p;
	size_t left;
};

static unsigned u8(struct rd *r)
{
	if (!r->left)
		return 0;
	r->left--;
	return *r->p++;
}

static unsigned u16(struct rd *r)
{
	return u8(r) | u8(r) << 8;
}

static void submit(struct ar_ring_prod *sq, const void *p, uint32_t len)
{
	if (ar_ring_sp_enqueue(sq, p, len) == 0)
		ar_ring_sp_publish(sq);
}

static void submit_template(struct ar_wire_enc *e, struct ar_ring_prod *sq,
			    uint32_t sid, unsigned k, unsigned s)
{
	static uint8_t blob[512];
	struct ar_wire_msg m = { .type = AR_WIRE_OP };
	const void *p;
	int64_t len;

	m.u.op.id = k * 65536 + s;
	m.u.op.session = sid;
	switch (k % 9) {
	case 0:
		break;
	case 6: {
		static const char *const names[] = { "f", "../f", "a/b", "" };

		m.type = AR_WIRE_RES_REGISTER;
		m.u.res_register.id = s;
		m.u.res_register.session = s & 0x100 ? s : sid;
		m.u.res_register.type = s >> 12;
		if (s & 0x200) {
			m.u.res_register.resource = s & 0xff;
		} else {
			m.u.res_register.token = s % 4;
			m.u.res_register.nr_files = 1;
			m.u.res_register.files[0] = (struct ar_wire_file){
				.name = names[(s >> 4) % 4], .off = (s >> 6) & 3,
				.len = 4096 - ((s >> 8) & 1) };
		}
		break;
	}
	case 7:
		m.type = AR_WIRE_RES_UNREGISTER;
		m.u.res_unregister.id = s;
		m.u.res_unregister.session = sid;
		m.u.res_unregister.resource = s & 0xff;
		break;
	case 8:
		/* An op on a resource that noop serves. */
		m.u.op.op = AR_OP_TORCH_MODEL_LOAD;
		m.u.op.args_kind = AR_ARGS_GENERIC;
		m.u.op.u.generic.resource = s & 0xff;
		break;
	case 1:
		/* Generic arguments, served by noop (exec's are the exec
		 * plugin's). */
		m.u.op.op = AR_OP_OPENCV;
		m.u.op.args_kind = AR_ARGS_GENERIC;
		m.u.op.u.generic.nr_read = 1;
		m.u.op.u.generic.read[0] = (struct ar_wire_buf){
			.kind = AR_BUF_BYTES, .bytes = blob, .len = s % sizeof(blob) };
		m.u.op.u.generic.nr_write = 1;
		m.u.op.u.generic.write[0] = (struct ar_wire_buf){
			.kind = AR_BUF_SIZE, .len = (uint64_t)s * 8 };
		break;
	case 2:
		m.u.op.op = AR_OP_IMAGE_CLASSIFY;
		m.u.op.args_kind = AR_ARGS_IMAGE;
		m.u.op.u.image.img = (struct ar_wire_buf){ .kind = AR_BUF_BYTES,
							   .bytes = blob, .len = 16 };
		/* s * 8 up to 512 KiB, and 0xFFFFFFFF when s is 0xFFFF. */
		m.u.op.u.image.out_text = (struct ar_wire_buf){
			.kind = AR_BUF_SIZE,
			.len = s == 0xFFFF ? 0xFFFFFFFFull : (uint64_t)s * 8 };
		break;
	case 3:
		m.type = AR_WIRE_SESSION_OPEN;
		m.u.session_open.id = s;
		break;
	case 4:
		m.type = AR_WIRE_SESSION_CLOSE;
		m.u.session_close.id = s;
		m.u.session_close.session = s & 1 ? sid : s;
		break;
	default:
		m.u.op.op = AR_OP_BLAS_SGEMM;
		m.u.op.args_kind = AR_ARGS_SGEMM;
		m.u.op.u.sgemm = (struct ar_wire_sgemm){ .m = 1 + s % 4, .n = 2, .k = 2,
							 .lda = 2, .ldb = 2, .ldc = 2,
							 .alpha = 1 };
		m.u.op.u.sgemm.a = (struct ar_wire_buf){ .kind = AR_BUF_REF, .off = s, .len = 64 };
		m.u.op.u.sgemm.b = (struct ar_wire_buf){ .kind = AR_BUF_REF, .off = 64, .len = 64 };
		m.u.op.u.sgemm.c = (struct ar_wire_buf){ .kind = AR_BUF_REF, .off = 128, .len = 64 };
		break;
	}
	len = ar_wire_encode(e, &m, &p);
	if (len > 0)
		submit(sq, p, (uint32_t)len);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct ar_region_params rp = { .nr_channels = 1, .sq_bytes = 4096,
				       .cq_bytes = 4096, .data_bytes = 65536 };
	struct rd r = { d, n };
	struct ar_ring_prod sq;
	struct ar_ring_cons cq;
	struct ar_channel *ch;
	struct ar_wire_enc *e;
	struct ar_conn *c;
	int64_t sid;

	if (!w)
		init();
	c = calloc(1, sizeof(*c));
	ch = calloc(1, sizeof(*ch));
	e = ar_wire_enc_create();
	if (!c || !ch || !e || ar_region_create(&c->region, &rp))
		abort();
	c->fd = -1;
	c->id = 1;
	snprintf(c->peer, sizeof(c->peer), "fuzz");
	c->tenant = ar__tenant_get(&b.cfg, "uid 0");
	if (!c->tenant)
		abort();
	c->data = ar_region_data(&c->region, &c->data_bytes);
	ch->conn = c;
	if (ar_ring_cons_init(&ch->sq, &c->region, 0, AR_RING_SQ) ||
	    ar_ring_prod_init(&ch->cq, &c->region, 0, AR_RING_CQ) ||
	    ar_ring_prod_init(&sq, &c->region, 0, AR_RING_SQ) ||
	    ar_ring_cons_init(&cq, &c->region, 0, AR_RING_CQ))
		abort();
	ch->cq_wait = (struct ar_ring_wait){ .mode = AR_WAIT_POLL };
	sid = ar__session_open(c->tenant, c->id, 0);
	if (sid < 0)
		abort();
	/* Two uploads waiting, as the loop would leave them (resource.c). */
	ar__res_conn_init(c);
	for (uint32_t t = 1; t <= 2; t++) {
		struct ar_wire_res_open o = { .token = t, .bytes = 4096 };
		int fd = memfd_create("fuzz", MFD_CLOEXEC | MFD_ALLOW_SEALING);
		char why[256], page[4096];

		memset(page, (int)t, sizeof(page));
		if (fd < 0 || pwrite(fd, page, sizeof(page), 0) != sizeof(page) ||
		    fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW |
					   F_SEAL_SEAL) ||
		    ar__res_open(&b, c, &o, fd, why, sizeof(why)))
			abort();
	}

	while (r.left) {
		unsigned op = u8(&r) % 7, taken;

		switch (op) {
		case 0: {
			unsigned k = u8(&r);

			submit_template(e, &sq, (uint32_t)sid, k, u16(&r));
			break;
		}
		case 1:
			ar_store_release(&sq.g.ctl->prod_tail,
					 sq.tail + (uint32_t)(int16_t)u16(&r) * 8u);
			break;
		case 2: {
			uint64_t buf[1024];

			for (unsigned k = u8(&r); k; k--)
				if (ar_ring_sc_dequeue(&cq, buf, sizeof(buf)) < 0)
					break;
			ar_ring_sc_release(&cq);
			break;
		}
		case 3: {
			bool was = atomic_load(&c->poisoned);

			taken = ar__worker_pass(w, ch);
			if (taken > b.cfg.batch || (was && taken))
				abort();
			break;
		}
		case 4: {
			unsigned o = u16(&r) % sq.g.bytes;

			sq.g.data[o] ^= (uint8_t)u8(&r);
			break;
		}
		case 5:
			ar_store_release(&cq.g.ctl->cons_head,
					 cq.head + (uint32_t)(int16_t)u16(&r) * 8u);
			break;
		default: {
			uint8_t raw[256];
			unsigned len = u8(&r);

			for (unsigned i = 0; i < len; i++)
				raw[i] = (uint8_t)u8(&r);
			submit(&sq, raw, len);
			break;
		}
		}
	}
	/* Once poisoned, a channel is never served again. */
	if (atomic_load(&c->poisoned) && ar__worker_pass(w, ch))
		abort();
	ar__sessions_drop(c->tenant, c->id);
	ar__res_conn_fini(c);
	ar__tenant_put(c->tenant);
	ar_region_release(&c->region);
	ar_wire_enc_destroy(e);
	free(ch);
	free(c);
	return 0;
}

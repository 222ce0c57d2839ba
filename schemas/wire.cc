// SPDX-License-Identifier: Apache-2.0
//
// The C API of include/accelring/wire.h over flatc's generated C++.
// Built with -fno-exceptions -fno-rtti: the generated code and the
// FlatBuffers runtime headers need neither. Nothing here throws, and an
// allocation failure in the builder aborts, as it does in any C++ program
// built without exceptions (a message is at most a ring record).

#include <cerrno>
#include <cstring>
#include <new>
#include <type_traits>

#include "accelring_generated.h"

#include <accelring/wire.h>

namespace fb = flatbuffers;
namespace w = accelring::wire;

// The C enums mirror the schema's; a renumbering breaks the build.
static_assert(int(AR_WIRE_HELLO) == int(w::Body_Hello), "wire");
static_assert(int(AR_WIRE_WELCOME) == int(w::Body_Welcome), "wire");
static_assert(int(AR_WIRE_SESSION_OPEN) == int(w::Body_SessionOpen), "wire");
static_assert(int(AR_WIRE_SESSION_CLOSE) == int(w::Body_SessionClose), "wire");
static_assert(int(AR_WIRE_OP) == int(w::Body_OpRequest), "wire");
static_assert(int(AR_WIRE_COMPLETION) == int(w::Body_Completion), "wire");
static_assert(int(AR_WIRE_CHUNK) == int(w::Body_Chunk), "wire");
static_assert(int(AR_WIRE_RES_OPEN) == int(w::Body_ResourceOpen), "wire");
static_assert(int(AR_WIRE_RES_DATA) == int(w::Body_ResourceData), "wire");
static_assert(int(AR_WIRE_RES_REGISTER) == int(w::Body_ResourceRegister), "wire");
static_assert(int(AR_WIRE_RES_UNREGISTER) == int(w::Body_ResourceUnregister), "wire");
static_assert(int(AR_ARGS_SGEMM) == int(w::Args_Sgemm), "wire");
static_assert(int(AR_ARGS_IMAGE) == int(w::Args_Image), "wire");
static_assert(int(AR_ARGS_GENERIC) == int(w::Args_Generic), "wire");
static_assert(int(AR_ARGS_MBENCH) == int(w::Args_Mbench), "wire");
// OpRequest.op is a ubyte: every op number must fit.
static_assert(int(AR_OP_MAX) - 1 <= 255, "wire");

namespace {

// The shapes every op round trip repeats: an op without arguments, an
// mbench op, a completion without outputs. Each is built once by the
// builder with every scalar present (ForceDefaults); an encode then copies
// it and writes the scalars in place, at offsets found through the tables'
// own vtable lookup. That skips the builder (vtable search, EndTable,
// Finish): about 120 ns of a noop's round trip, twice.
constexpr size_t TMPL_MAX = 128;
constexpr int TMPL_FIELDS = 4;

struct tmpl {
	alignas(8) uint8_t buf[TMPL_MAX];
	uint32_t len;
	uint32_t off[TMPL_FIELDS];	// offset of each patched scalar in buf
};

} // namespace

struct ar_wire_enc {
	fb::FlatBufferBuilder fbb{1024};
	tmpl op_none, op_mbench, completion;
	alignas(8) uint8_t out[TMPL_MAX];	// a patched copy, returned
};

namespace {

// The op table (accelring/optable.h) as an array indexed by op number;
// numbers no op has are left empty (name NULL).
struct op_tab {
	ar_op_info v[AR_OP_MAX];
};

constexpr op_tab make_op_table()
{
	op_tab t{};

#define AR_OP_INFO_(num, NAME, str, shape, rmin, rmax, wmin, wmax, fl)        \
	t.v[num] = ar_op_info{ str, AR_ARGS_##shape, rmin, rmax, wmin, wmax, fl };
	AR_OP_TABLE(AR_OP_INFO_)
#undef AR_OP_INFO_
	return t;
}

constexpr op_tab op_tab_ = make_op_table();
const ar_op_info *const op_table = op_tab_.v;

fb::Offset<w::Buf> enc_buf(fb::FlatBufferBuilder &f, const ar_wire_buf &b,
			   bool *bad)
{
	switch (b.kind) {
	case AR_BUF_NONE:
		return 0;
	case AR_BUF_BYTES: {
		if (b.len > UINT32_MAX) {
			*bad = true;
			return 0;
		}
		auto v = f.CreateVector(static_cast<const uint8_t *>(b.bytes),
					static_cast<size_t>(b.len));
		return w::CreateBuf(f, v, nullptr, 0, b.type, b.custom_id);
	}
	case AR_BUF_REF: {
		w::Ref r(b.off, b.len);
		return w::CreateBuf(f, 0, &r, 0, b.type, b.custom_id);
	}
	case AR_BUF_SIZE:
		if (b.len > UINT32_MAX) {
			*bad = true;
			return 0;
		}
		return w::CreateBuf(f, 0, nullptr, static_cast<uint32_t>(b.len),
				    b.type, b.custom_id);
	}
	*bad = true;
	return 0;
}

fb::Offset<fb::Vector<fb::Offset<w::Buf>>>
enc_bufs(fb::FlatBufferBuilder &f, const ar_wire_buf *b, uint32_t n, bool *bad)
{
	fb::Offset<w::Buf> tmp[AR_WIRE_MAX_ARGS];

	if (n > AR_WIRE_MAX_ARGS) {
		*bad = true;
		return 0;
	}
	if (n == 0)
		return 0;
	for (uint32_t i = 0; i < n; i++) {
		if (b[i].kind == AR_BUF_NONE) {	// a list holds no holes
			*bad = true;
			return 0;
		}
		tmp[i] = enc_buf(f, b[i], bad);
	}
	return f.CreateVector(tmp, n);
}

fb::Offset<void> enc_op(fb::FlatBufferBuilder &f, const ar_wire_op &op,
			bool *bad)
{
	fb::Offset<void> args = 0;

	if (!ar_op_lookup(op.op)) {
		*bad = true;
		return 0;
	}
	switch (op.args_kind) {
	case AR_ARGS_NONE:
		break;
	case AR_ARGS_SGEMM: {
		const ar_wire_sgemm &s = op.u.sgemm;
		auto a = enc_buf(f, s.a, bad), b = enc_buf(f, s.b, bad),
		     c = enc_buf(f, s.c, bad);
		args = w::CreateSgemm(f, s.m, s.n, s.k, s.alpha, s.beta, s.lda,
				      s.ldb, s.ldc, a, b, c).Union();
		break;
	}
	case AR_ARGS_IMAGE: {
		const ar_wire_image &im = op.u.image;
		auto img = enc_buf(f, im.img, bad);
		auto t = enc_buf(f, im.out_text, bad);
		auto n = enc_buf(f, im.out_imgname, bad);
		args = w::CreateImage(f, img, t, n).Union();
		break;
	}
	case AR_ARGS_GENERIC: {
		const ar_wire_generic &g = op.u.generic;

		// Names the decoder would refuse (AR_WIRE_MAX_NAME): refused
		// here, before a message of any size is built.
		if ((g.library && strnlen(g.library, AR_WIRE_MAX_NAME) >= AR_WIRE_MAX_NAME) ||
		    (g.symbol && strnlen(g.symbol, AR_WIRE_MAX_NAME) >= AR_WIRE_MAX_NAME)) {
			*bad = true;
			return 0;
		}
		auto lib = g.library ? f.CreateString(g.library) : 0;
		auto sym = g.symbol ? f.CreateString(g.symbol) : 0;
		auto r = enc_bufs(f, g.read, g.nr_read, bad);
		auto wr = enc_bufs(f, g.write, g.nr_write, bad);
		args = w::CreateGeneric(f, lib, sym, r, wr, g.resource).Union();
		break;
	}
	case AR_ARGS_MBENCH:
		args = w::CreateMbench(f, op.u.mbench.time_us).Union();
		break;
	default:
		*bad = true;
		return 0;
	}
	return w::CreateOpRequest(f, op.id, op.session,
				  static_cast<uint8_t>(op.op),
				  static_cast<w::Args>(op.args_kind), args)
		.Union();
}

// Decoding. Every helper returns 0 or -EINVAL.

int dec_buf(const w::Buf *b, ar_wire_buf *out)
{
	std::memset(out, 0, sizeof(*out));
	if (!b)
		return 0;
	if (b->bytes()) {
		if (b->ref() || b->size())
			return -EINVAL;
		out->kind = AR_BUF_BYTES;
		out->bytes = b->bytes()->data();
		out->len = b->bytes()->size();
	} else if (b->ref()) {
		if (b->size())
			return -EINVAL;
		out->kind = AR_BUF_REF;
		out->off = b->ref()->offset();
		out->len = b->ref()->length();
	} else {
		out->kind = AR_BUF_SIZE;
		out->len = b->size();
	}
	if (b->type() >= AR_ARG_TYPES)
		return -EINVAL;
	out->type = b->type();
	out->custom_id = b->custom_id();
	return 0;
}

int dec_bufs(const fb::Vector<fb::Offset<w::Buf>> *v, ar_wire_buf *out,
	     uint32_t *n)
{
	*n = 0;
	if (!v)
		return 0;
	if (v->size() > AR_WIRE_MAX_ARGS)
		return -EINVAL;
	for (uint32_t i = 0; i < v->size(); i++) {
		// The verifier has checked every element's offset; a null one
		// is impossible here but cheap to refuse.
		if (!v->Get(i) || dec_buf(v->Get(i), &out[i]))
			return -EINVAL;
	}
	*n = v->size();
	return 0;
}

int dec_string(const fb::String *s, const char **out)
{
	*out = nullptr;
	if (!s)
		return 0;
	// An embedded NUL would make the name the plugin sees differ from
	// the one that was checked.
	if (s->size() >= AR_WIRE_MAX_NAME ||
	    std::memchr(s->c_str(), '\0', s->size()) != nullptr)
		return -EINVAL;
	*out = s->c_str();
	return 0;
}

// A Generic op's argument counts and names against its line of the table.
int generic_bounds(const ar_wire_op *op)
{
	const ar_op_info *i = ar_op_lookup(op->op);
	const ar_wire_generic &g = op->u.generic;

	if (!i || g.nr_read < i->rd_min || g.nr_read > i->rd_max ||
	    g.nr_write < i->wr_min || g.nr_write > i->wr_max ||
	    ((i->flags & AR_OPF_LIBRARY) && !g.library) ||
	    ((i->flags & AR_OPF_SYMBOL) && !g.symbol) ||
	    (!(i->flags & AR_OPF_RESOURCE) != !g.resource))
		return -EINVAL;
	return 0;
}

int dec_op(const w::OpRequest *r, ar_wire_op *op)
{
	op->id = r->id();
	op->session = r->session();
	op->op = r->op();
	op->args_kind = r->args_type();
	if (!ar_op_lookup(op->op) || op->args_kind > AR_ARGS_MBENCH)
		return -EINVAL;
	// Each op carries exactly the argument table it is defined with;
	// a Generic op may omit it (no arguments).
	if (op->args_kind != ar_op_args_kind(op->op) &&
	    !(op->args_kind == AR_ARGS_NONE &&
	      ar_op_args_kind(op->op) == AR_ARGS_GENERIC))
		return -EINVAL;
	switch (op->args_kind) {
	case AR_ARGS_NONE:
		// A Generic op without arguments; the rest of the union is
		// not read (clearing it all would cost more than the decode).
		op->u.generic.library = nullptr;
		op->u.generic.symbol = nullptr;
		op->u.generic.nr_read = 0;
		op->u.generic.nr_write = 0;
		op->u.generic.resource = 0;
		return generic_bounds(op);
	case AR_ARGS_SGEMM: {
		auto s = r->args_as_Sgemm();
		ar_wire_sgemm &o = op->u.sgemm;

		if (!s)
			return -EINVAL;
		o.m = s->m();
		o.n = s->n();
		o.k = s->k();
		o.lda = s->lda();
		o.ldb = s->ldb();
		o.ldc = s->ldc();
		o.alpha = s->alpha();
		o.beta = s->beta();
		if (dec_buf(s->a(), &o.a) || dec_buf(s->b(), &o.b) ||
		    dec_buf(s->c(), &o.c))
			return -EINVAL;
		return 0;
	}
	case AR_ARGS_IMAGE: {
		auto s = r->args_as_Image();
		ar_wire_image &o = op->u.image;

		if (!s || dec_buf(s->img(), &o.img) ||
		    dec_buf(s->out_text(), &o.out_text) ||
		    dec_buf(s->out_imgname(), &o.out_imgname))
			return -EINVAL;
		return 0;
	}
	case AR_ARGS_GENERIC: {
		auto s = r->args_as_Generic();
		ar_wire_generic &o = op->u.generic;

		if (!s)
			return -EINVAL;
		o.resource = s->resource();
		if (dec_string(s->library(), &o.library) ||
		    dec_string(s->symbol(), &o.symbol) ||
		    dec_bufs(s->read(), o.read, &o.nr_read) ||
		    dec_bufs(s->write(), o.write, &o.nr_write))
			return -EINVAL;
		return generic_bounds(op);
	}
	case AR_ARGS_MBENCH: {
		auto s = r->args_as_Mbench();

		if (!s)
			return -EINVAL;
		op->u.mbench.time_us = s->time_us();
		return 0;
	}
	}
	return -EINVAL;
}

// Copy the builder's finished message into t.
bool tmpl_take(const fb::FlatBufferBuilder &f, tmpl *t)
{
	if (f.GetSize() > TMPL_MAX)
		return false;
	t->len = f.GetSize();
	std::memcpy(t->buf, f.GetBufferPointer(), t->len);
	return true;
}

// Where field vt of table tab lies in t's buffer; false if absent.
bool tmpl_field(tmpl *t, int i, const void *tab, fb::voffset_t vt)
{
	auto p = static_cast<const fb::Table *>(tab)->GetAddressOf(vt);

	if (!p)
		return false;
	t->off[i] = static_cast<uint32_t>(p - t->buf);
	return true;
}

int64_t encode_slow(fb::FlatBufferBuilder &f, const ar_wire_msg *m,
		    const void **out);

bool tmpl_build(ar_wire_enc *e)
{
	fb::FlatBufferBuilder &f = e->fbb;
	ar_wire_msg m;
	const void *p;
	bool ok;

	f.ForceDefaults(true);
	std::memset(&m, 0, sizeof(m));
	m.type = AR_WIRE_OP;
	ok = encode_slow(f, &m, &p) > 0 && tmpl_take(f, &e->op_none);
	if (ok) {
		auto r = w::GetMessage(e->op_none.buf)->body_as_OpRequest();
		ok = r && tmpl_field(&e->op_none, 0, r, w::OpRequest::VT_ID) &&
		     tmpl_field(&e->op_none, 1, r, w::OpRequest::VT_SESSION) &&
		     tmpl_field(&e->op_none, 2, r, w::OpRequest::VT_OP);
	}
	m.u.op.op = AR_OP_MBENCH;
	m.u.op.args_kind = AR_ARGS_MBENCH;
	ok = ok && encode_slow(f, &m, &p) > 0 && tmpl_take(f, &e->op_mbench);
	if (ok) {
		auto r = w::GetMessage(e->op_mbench.buf)->body_as_OpRequest();
		auto a = r ? r->args_as_Mbench() : nullptr;
		ok = a && tmpl_field(&e->op_mbench, 0, r, w::OpRequest::VT_ID) &&
		     tmpl_field(&e->op_mbench, 1, r, w::OpRequest::VT_SESSION) &&
		     tmpl_field(&e->op_mbench, 2, a, w::Mbench::VT_TIME_US);
	}
	std::memset(&m, 0, sizeof(m));
	m.type = AR_WIRE_COMPLETION;
	ok = ok && encode_slow(f, &m, &p) > 0 && tmpl_take(f, &e->completion);
	if (ok) {
		auto c = w::GetMessage(e->completion.buf)->body_as_Completion();
		ok = c && tmpl_field(&e->completion, 0, c, w::Completion::VT_ID) &&
		     tmpl_field(&e->completion, 1, c, w::Completion::VT_STATUS) &&
		     tmpl_field(&e->completion, 2, c, w::Completion::VT_VALUE);
	}
	// Other messages are built as usual: default values stay implicit.
	f.ForceDefaults(false);
	return ok;
}

template <typename T> void tmpl_set(ar_wire_enc *e, const tmpl &t, int i, T v)
{
	fb::WriteScalar<T>(e->out + t.off[i], v);
}

// Start an encode from template t; returns its length.
int64_t tmpl_start(ar_wire_enc *e, const tmpl &t, const void **out)
{
	std::memcpy(e->out, t.buf, t.len);
	*out = e->out;
	return t.len;
}

} // namespace

extern "C" {

const struct ar_op_info *ar_op_lookup(uint32_t op)
{
	return op < AR_OP_MAX && op_table[op].name ? &op_table[op] : nullptr;
}

const char *ar_op_name(uint32_t op)
{
	const ar_op_info *i = ar_op_lookup(op);

	return i ? i->name : nullptr;
}

uint32_t ar_op_args_kind(uint32_t op)
{
	const ar_op_info *i = ar_op_lookup(op);

	return i ? i->args_kind : (uint32_t)AR_ARGS_NONE;
}

struct ar_wire_enc *ar_wire_enc_create(void)
{
	ar_wire_enc *e = new (std::nothrow) ar_wire_enc;

	if (e && !tmpl_build(e)) {
		delete e;
		return nullptr;
	}
	return e;
}

void ar_wire_enc_destroy(struct ar_wire_enc *e)
{
	delete e;
}

int64_t ar_wire_encode(struct ar_wire_enc *e, const struct ar_wire_msg *m,
		       const void **out)
{
	int64_t n;

	if (m->type == AR_WIRE_OP && m->u.op.args_kind == AR_ARGS_NONE &&
	    ar_op_lookup(m->u.op.op)) {
		n = tmpl_start(e, e->op_none, out);
		tmpl_set<uint64_t>(e, e->op_none, 0, m->u.op.id);
		tmpl_set<uint32_t>(e, e->op_none, 1, m->u.op.session);
		tmpl_set<uint8_t>(e, e->op_none, 2, static_cast<uint8_t>(m->u.op.op));
		return n;
	}
	if (m->type == AR_WIRE_OP && m->u.op.args_kind == AR_ARGS_MBENCH &&
	    m->u.op.op == AR_OP_MBENCH) {
		n = tmpl_start(e, e->op_mbench, out);
		tmpl_set<uint64_t>(e, e->op_mbench, 0, m->u.op.id);
		tmpl_set<uint32_t>(e, e->op_mbench, 1, m->u.op.session);
		tmpl_set<uint32_t>(e, e->op_mbench, 2, m->u.op.u.mbench.time_us);
		return n;
	}
	if (m->type == AR_WIRE_COMPLETION && m->u.completion.nr_outputs == 0 &&
	    m->u.completion.nr_written == 0 && !m->u.completion.message) {
		n = tmpl_start(e, e->completion, out);
		tmpl_set<uint64_t>(e, e->completion, 0, m->u.completion.id);
		tmpl_set<int32_t>(e, e->completion, 1, m->u.completion.status);
		tmpl_set<uint64_t>(e, e->completion, 2, m->u.completion.value);
		return n;
	}
	return encode_slow(e->fbb, m, out);
}

} // extern "C"

namespace {

int64_t encode_slow(fb::FlatBufferBuilder &f, const ar_wire_msg *m,
		    const void **out)
{
	fb::Offset<void> body = 0;
	bool bad = false;

	f.Clear();
	switch (m->type) {
	case AR_WIRE_HELLO: {
		const ar_wire_hello &h = m->u.hello;
		if (h.transport > AR_TRANSPORT_STREAM)
			return -EINVAL;
		body = w::CreateHello(f, h.abi_major, h.abi_minor, h.channels,
				      h.sq_bytes, h.cq_bytes, h.data_bytes,
				      static_cast<uint8_t>(h.transport))
			       .Union();
		break;
	}
	case AR_WIRE_WELCOME: {
		const ar_wire_welcome &h = m->u.welcome;
		auto msg = h.message ? f.CreateString(h.message) : 0;
		body = w::CreateWelcome(f, h.status, h.abi_major, h.abi_minor,
					h.tenant, h.channels, msg, h.max_frame,
					h.max_request)
			       .Union();
		break;
	}
	case AR_WIRE_SESSION_OPEN:
		body = w::CreateSessionOpen(f, m->u.session_open.id,
					    m->u.session_open.flags)
			       .Union();
		break;
	case AR_WIRE_SESSION_CLOSE:
		body = w::CreateSessionClose(f, m->u.session_close.id,
					     m->u.session_close.session)
			       .Union();
		break;
	case AR_WIRE_OP:
		body = enc_op(f, m->u.op, &bad);
		break;
	case AR_WIRE_COMPLETION: {
		const ar_wire_completion &c = m->u.completion;
		auto outs = enc_bufs(f, c.outputs, c.nr_outputs, &bad);
		fb::Offset<fb::Vector<const w::Ref *>> wr = 0;

		if (c.nr_written > AR_WIRE_MAX_ARGS)
			return -EINVAL;
		if (c.nr_written) {
			w::Ref *refs;

			wr = f.CreateUninitializedVectorOfStructs(c.nr_written, &refs);
			for (uint32_t i = 0; i < c.nr_written; i++)
				refs[i] = w::Ref(c.written[i].off, c.written[i].len);
		}
		if (c.message && strnlen(c.message, AR_WIRE_MAX_MESSAGE) >= AR_WIRE_MAX_MESSAGE)
			return -EINVAL;
		auto msg = c.message ? f.CreateString(c.message) : 0;
		body = w::CreateCompletion(f, c.id, c.status, c.value, outs, wr, msg)
			       .Union();
		break;
	}
	case AR_WIRE_RES_OPEN:
		if (!m->u.res_open.token)
			return -EINVAL;
		body = w::CreateResourceOpen(f, m->u.res_open.token, m->u.res_open.bytes)
			       .Union();
		break;
	case AR_WIRE_RES_DATA: {
		const ar_wire_res_data &k = m->u.res_data;
		auto v = f.CreateVector(static_cast<const uint8_t *>(k.bytes),
					static_cast<size_t>(k.len));
		body = w::CreateResourceData(f, k.token, k.off, v).Union();
		break;
	}
	case AR_WIRE_RES_REGISTER: {
		const ar_wire_res_register &r = m->u.res_register;
		fb::Offset<w::File> files[AR_WIRE_MAX_FILES];

		if (r.nr_files > AR_WIRE_MAX_FILES)
			return -EINVAL;
		for (uint32_t i = 0; i < r.nr_files; i++) {
			if (!r.files[i].name ||
			    strnlen(r.files[i].name, AR_WIRE_MAX_FILE_NAME + 1) >
				    AR_WIRE_MAX_FILE_NAME)
				return -EINVAL;
			auto n = f.CreateString(r.files[i].name);
			files[i] = w::CreateFile(f, n, r.files[i].off, r.files[i].len);
		}
		auto v = r.nr_files ? f.CreateVector(files, r.nr_files) : 0;
		body = w::CreateResourceRegister(f, r.id, r.session, r.token, r.resource,
						 r.type, v)
			       .Union();
		break;
	}
	case AR_WIRE_RES_UNREGISTER:
		body = w::CreateResourceUnregister(f, m->u.res_unregister.id,
						   m->u.res_unregister.session,
						   m->u.res_unregister.resource)
			       .Union();
		break;
	case AR_WIRE_CHUNK: {
		const ar_wire_chunk &k = m->u.chunk;
		auto v = f.CreateVector(static_cast<const uint8_t *>(k.bytes),
					static_cast<size_t>(k.len));
		body = w::CreateChunk(f, k.off, v).Union();
		break;
	}
	default:
		return -EINVAL;
	}
	if (bad)
		return -EINVAL;
	auto msg = w::CreateMessage(f, static_cast<w::Body>(m->type), body);
	w::FinishMessageBuffer(f, msg);
	*out = f.GetBufferPointer();
	return static_cast<int64_t>(f.GetSize());
}

} // namespace

extern "C" {

int ar_wire_decode(const void *buf, size_t len, struct ar_wire_msg *m)
{
	const uint8_t *p = static_cast<const uint8_t *>(buf);
	// Depth and table limits well above what the schema can nest, so
	// that a hostile message cannot make verification expensive.
	fb::Verifier v(p, len, 16, 4 * AR_WIRE_MAX_ARGS + 16);

	m->type = AR_WIRE_NONE;
	if (len < 8 || len > FLATBUFFERS_MAX_BUFFER_SIZE ||
	    !w::VerifyMessageBuffer(v))
		return -EBADMSG;
	const w::Message *msg = w::GetMessage(p);
	// Set before the range checks, so that an op refused with -EINVAL
	// still has its type and id for the error completion.
	m->type = msg->body_type();
	switch (msg->body_type()) {
	case w::Body_Hello: {
		auto h = msg->body_as_Hello();
		if (!h)
			return -EINVAL;
		m->u.hello = { h->abi_major(), h->abi_minor(), h->channels(),
			       h->sq_bytes(), h->cq_bytes(), h->data_bytes(),
			       h->transport() };
		if (m->u.hello.transport > AR_TRANSPORT_STREAM)
			return -EINVAL;
		break;
	}
	case w::Body_Welcome: {
		auto h = msg->body_as_Welcome();
		if (!h)
			return -EINVAL;
		ar_wire_welcome &o = m->u.welcome;
		o.status = h->status();
		o.abi_major = h->abi_major();
		o.abi_minor = h->abi_minor();
		o.tenant = h->tenant();
		o.channels = h->channels();
		o.max_frame = h->max_frame();
		o.max_request = h->max_request();
		if (dec_string(h->message(), &o.message))
			return -EINVAL;
		break;
	}
	case w::Body_SessionOpen: {
		auto s = msg->body_as_SessionOpen();
		if (!s)
			return -EINVAL;
		m->u.session_open.id = s->id();
		m->u.session_open.flags = s->flags();
		break;
	}
	case w::Body_SessionClose: {
		auto s = msg->body_as_SessionClose();
		if (!s)
			return -EINVAL;
		m->u.session_close.id = s->id();
		m->u.session_close.session = s->session();
		break;
	}
	case w::Body_OpRequest: {
		auto r = msg->body_as_OpRequest();
		if (!r)
			return -EINVAL;
		int ret = dec_op(r, &m->u.op);
		if (ret)
			return ret;
		break;
	}
	case w::Body_Completion: {
		auto c = msg->body_as_Completion();
		ar_wire_completion &o = m->u.completion;
		if (!c)
			return -EINVAL;
		o.id = c->id();
		o.status = c->status();
		o.value = c->value();
		o.message = nullptr;
		if (c->message()) {
			if (c->message()->size() >= AR_WIRE_MAX_MESSAGE ||
			    dec_string(c->message(), &o.message))
				return -EINVAL;
		}
		if (dec_bufs(c->outputs(), o.outputs, &o.nr_outputs))
			return -EINVAL;
		for (uint32_t i = 0; i < o.nr_outputs; i++)
			if (o.outputs[i].kind != AR_BUF_BYTES)
				return -EINVAL;
		o.nr_written = 0;
		if (auto wr = c->written()) {
			if (wr->size() > AR_WIRE_MAX_ARGS)
				return -EINVAL;
			for (uint32_t i = 0; i < wr->size(); i++)
				o.written[i] = { wr->Get(i)->offset(),
						 wr->Get(i)->length() };
			o.nr_written = wr->size();
		}
		break;
	}
	case w::Body_Chunk: {
		auto k = msg->body_as_Chunk();
		if (!k)
			return -EINVAL;
		m->u.chunk.off = k->offset();
		m->u.chunk.bytes = k->bytes() ? k->bytes()->data() : nullptr;
		m->u.chunk.len = k->bytes() ? k->bytes()->size() : 0;
		break;
	}
	case w::Body_ResourceOpen: {
		auto k = msg->body_as_ResourceOpen();
		if (!k)
			return -EINVAL;
		m->u.res_open.token = k->token();
		m->u.res_open.bytes = k->bytes();
		if (!m->u.res_open.token)
			return -EINVAL;
		break;
	}
	case w::Body_ResourceData: {
		auto k = msg->body_as_ResourceData();
		if (!k)
			return -EINVAL;
		m->u.res_data.token = k->token();
		m->u.res_data.off = k->offset();
		m->u.res_data.bytes = k->bytes() ? k->bytes()->data() : nullptr;
		m->u.res_data.len = k->bytes() ? k->bytes()->size() : 0;
		break;
	}
	case w::Body_ResourceRegister: {
		auto k = msg->body_as_ResourceRegister();
		if (!k)
			return -EINVAL;
		ar_wire_res_register &o = m->u.res_register;
		o.id = k->id();
		o.session = k->session();
		o.token = k->token();
		o.resource = k->resource();
		o.type = k->type();
		o.nr_files = 0;
		// Either new content (token, with its files) or an existing
		// resource (its id, no files).
		if (!o.token == !o.resource)
			return -EINVAL;
		if (auto fv = k->files()) {
			if (fv->size() > AR_WIRE_MAX_FILES || !o.token)
				return -EINVAL;
			for (uint32_t i = 0; i < fv->size(); i++) {
				auto fl = fv->Get(i);
				if (!fl || !fl->name() ||
				    fl->name()->size() > AR_WIRE_MAX_FILE_NAME ||
				    dec_string(fl->name(), &o.files[i].name))
					return -EINVAL;
				o.files[i].off = fl->offset();
				o.files[i].len = fl->size();
			}
			o.nr_files = fv->size();
		}
		if (o.token && !o.nr_files)
			return -EINVAL;
		break;
	}
	case w::Body_ResourceUnregister: {
		auto k = msg->body_as_ResourceUnregister();
		if (!k)
			return -EINVAL;
		m->u.res_unregister.id = k->id();
		m->u.res_unregister.session = k->session();
		m->u.res_unregister.resource = k->resource();
		break;
	}
	default:
		m->type = AR_WIRE_NONE;
		return -EINVAL;
	}
	return 0;
}

int ar_wire_ref_check(const struct ar_wire_buf *b, uint64_t area_bytes,
		      uint64_t min)
{
	if (b->kind != AR_BUF_REF || b->len < min || b->off > area_bytes ||
	    b->len > area_bytes - b->off)
		return -EINVAL;
	return 0;
}

} // extern "C"

// SPDX-License-Identifier: Apache-2.0
/*
 * torch - TorchScript models on libtorch (CPU): torch_model_load,
 * torch_model_run (batched across sessions and tenants through .batch) and
 * image_classify. C++ inside, the C plugin ABI (accelring/plugin.h)
 * outside: every entry point catches every exception and turns it into a
 * -errno with the reason in op->why, since an exception must never cross
 * into the broker's C.
 *
 * Models come from the op's resource, loaded from its read-only mapping,
 * never from a client's path. A process-wide cache keyed by the resource's
 * sha256 makes the same content loaded by many sessions one module; each
 * session holds what it loaded (shared_ptr) until session_closed, and the
 * global entry goes with its last holder (weak_ptr). No lock is held
 * during a load's parse or a forward: torch::jit::Module's forward is
 * safe to call from many threads at once (it only reads its parameters
 * under InferenceMode).
 */
#include <algorithm>
#include <array>
#include <cerrno>
#include <csetjmp>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include <ATen/Parallel.h>
#include <caffe2/serialize/inline_container.h>
#include <caffe2/serialize/read_adapter_interface.h>
#include <torch/csrc/jit/api/function_impl.h>
#include <torch/nn/functional/upsampling.h>
#include <torch/script.h>
#include <torch/version.h>

#include <jpeglib.h>
#include <png.h>

#include "archive.h"

#include <accelring/optable.h>
#include <accelring/plugin.h>
#include <vaccel/arg.h>
#include <vaccel/ops/torch.h>
#include <vaccel/resource.h>

// A const at namespace scope has internal linkage in C++: declared extern
// "C" first, the descriptor AR_PLUGIN defines is the exported C symbol.
extern "C" const struct ar_plugin ar_plugin __attribute__((visibility("default")));

#define TORCH_VERSION_STR                                                  \
	AR_STR(TORCH_VERSION_MAJOR) "." AR_STR(TORCH_VERSION_MINOR) "." AR_STR( \
		TORCH_VERSION_PATCH)
#define AR_STR_(x) #x
#define AR_STR(x) AR_STR_(x)

namespace {

// An output's metadata: [vaccel data type, nr dims, dims...] (libclient's
// struct out_meta).
constexpr size_t META_WORDS = 10;
constexpr size_t META_BYTES = META_WORDS * sizeof(int64_t);
constexpr int MAX_DIMS = 8;
// Images larger than this are refused from their header, before any
// allocation: a 16384x16384 RGB float tensor is already 3 GiB.
constexpr uint32_t IMG_MAX_SIDE = 16384;
constexpr uint64_t IMG_MAX_PIXELS = 64ull << 20;

const ar_plugin_host *host;
int image_topk;

#define TLOG(level, ...)                                                 \
	do {                                                            \
		if (host->log_level >= (level))                         \
			host->log((level), "[torch] " __VA_ARGS__);     \
	} while (0)

__attribute__((format(printf, 2, 3))) void say(ar_op *op, const char *fmt, ...)
{
	va_list ap;

	if (!op->why || !op->why_cap)
		return;
	va_start(ap, fmt);
	vsnprintf(op->why, op->why_cap, fmt, ap);
	va_end(ap);
}

// An error with its errno, for the code paths that are C++ all the way
// down (decode, load): the entry point's catch turns it into the op's
// status and why.
struct op_error {
	int err;
	std::string why;
};

[[noreturn]] __attribute__((format(printf, 2, 3))) void fail(int err, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	throw op_error{ err, buf };
}

// The TorchScript interpreter's errors start with its own traceback and
// end with the operator's message ("RuntimeError: Given groups=1 ..."):
// the why gets that last line, the log the whole text.
std::string last_line(const char *msg)
{
	const std::string m(msg);
	const size_t e = m.find_last_not_of("\n ");

	if (e == std::string::npos)
		return m;
	const size_t nl = m.rfind('\n', e);
	const size_t b = nl == std::string::npos ? 0 : nl + 1;
	if (b)
		TLOG(AR_LOG_DEBUG, "%s", msg);
	return m.substr(b, e + 1 - b);
}

// Run f, turning whatever it throws into -errno and why: c10::Error is
// torch refusing the input or the model (EINVAL, its message without the
// C++ backtrace), bad_alloc ENOMEM, anything else EINVAL.
template <typename F> int guarded(ar_op *op, const char *what, F &&f)
{
	try {
		return f();
	} catch (const op_error &e) {
		say(op, "torch: %s", e.why.c_str());
		return -e.err;
	} catch (const c10::Error &e) {
		say(op, "torch: %s: %s", what, last_line(e.what_without_backtrace()).c_str());
		return -EINVAL;
	} catch (const std::bad_alloc &) {
		say(op, "torch: %s: out of memory", what);
		return -ENOMEM;
	} catch (const std::exception &e) {
		// The interpreter rethrows what an operator threw as a
		// std::runtime_error, with the same traceback.
		say(op, "torch: %s: %s", what, last_line(e.what()).c_str());
		return -EINVAL;
	} catch (...) {
		say(op, "torch: %s: unknown exception", what);
		return -EINVAL;
	}
}

using key32 = std::array<uint8_t, 32>;

struct model {
	torch::jit::Module mod;
	std::vector<std::string> labels;	// empty: none
};
using model_ptr = std::shared_ptr<const model>;

struct session_models {
	std::map<key32, model_ptr> loaded;
	model_ptr image;	// the latest one loaded with labels
};

// lock guards both maps and the default model pointer; never held while
// parsing a model or running a forward.
std::mutex lock;
std::map<key32, std::weak_ptr<const model>> cache;
std::map<std::pair<uint32_t, uint32_t>, session_models> sessions;
model_ptr image_default;

// ---- loading ----

// The resource's mapping as torch's zip reader sees it: no copy.
class map_reader : public caffe2::serialize::ReadAdapterInterface {
public:
	map_reader(const void *p, size_t n) : p_(static_cast<const char *>(p)), n_(n) {}
	size_t size() const override { return n_; }
	size_t read(uint64_t pos, void *buf, size_t n, const char *) const override
	{
		if (pos >= n_)
			return 0;
		n = std::min<uint64_t>(n, n_ - pos);
		memcpy(buf, p_ + pos, n);
		return n;
	}

private:
	const char *p_;
	size_t n_;
};

/*
 * What a model's graphs may call: operators of the aten, prim and
 * quantized namespaces (tensor math, control flow, quantized kernels),
 * which compute on tensors in memory, except those below, which reach the
 * host: aten::from_file maps a host file into a tensor. Every other
 * namespace is refused: a custom op library (torchvision::, a tenant's
 * own) is native code we did not vet, and registering one needs a
 * dlopen no tenant can ask for anyway.
 */
const char *const allowed_ns[] = { "aten", "prim", "quantized", "_quantized" };
const char *const denied_ops[] = { "aten::from_file" };

void check_block(const torch::jit::Block *b)
{
	for (const torch::jit::Node *n : b->nodes()) {
		const torch::jit::Symbol k = n->kind();
		const std::string ns = k.ns().toUnqualString();
		const char *q = k.toQualString();
		bool ok = false;

		for (const char *a : allowed_ns)
			ok = ok || ns == a;
		for (const char *d : denied_ops)
			ok = ok && strcmp(q, d) != 0;
		if (!ok)
			fail(EPERM, "model_load: the model calls %s, which this plugin refuses "
				    "(only aten, prim and quantized ops that stay in memory)", q);
		for (const torch::jit::Block *sub : n->blocks())
			check_block(sub);
	}
}

// Every method of every submodule and every function they call live in
// a compilation unit the modules share (one, for a loaded file): checking
// all of its functions, once per unit, is the recursion, and covers code
// no method reaches today too (a tenant may call any method by name).
void check_graphs(const torch::jit::Module &mod)
{
	std::vector<const torch::jit::CompilationUnit *> seen;

	for (const torch::jit::Module &m : mod.modules()) {
		auto cu = m._ivalue()->compilation_unit();

		if (std::find(seen.begin(), seen.end(), cu.get()) != seen.end())
			continue;
		seen.push_back(cu.get());
		for (torch::jit::Function *f : cu->get_functions())
			if (f->isGraphFunction())
				check_block(toGraphFunction(*f).graph()->block());
	}
}

std::vector<std::string> parse_labels(const char *p, size_t n)
{
	std::vector<std::string> labels;
	size_t i = 0;

	while (i < n) {
		const char *nl = static_cast<const char *>(memchr(p + i, '\n', n - i));
		size_t e = nl ? (size_t)(nl - p) : n;
		size_t len = e - i;

		if (len && p[i + len - 1] == '\r')
			len--;
		labels.emplace_back(p + i, len);
		i = e + 1;
	}
	return labels;
}

bool ends_txt(const char *name)
{
	size_t n = strlen(name);

	return n >= 4 && !strcmp(name + n - 4, ".txt");
}

/*
 * Loading runs model code: a class's __setstate__ is called as its object
 * is unpickled, before check_graphs can see any graph. So the archive's
 * TorchScript source (the .py records under code/) is searched first for the denied ops'
 * names, which it spells "torch.from_file" or "ops.aten.from_file": a
 * name anywhere in the code refuses the model unloaded. Operators of other
 * namespaces cannot run at load unless this process registered them, and
 * libtorch registers none that reaches the host; check_graphs refuses
 * them anyway.
 */
void check_code(const void *data, size_t size)
{
	caffe2::serialize::PyTorchStreamReader rd(std::make_shared<map_reader>(data, size));

	for (const std::string &name : rd.getAllRecords()) {
		if (name.rfind("code/", 0) != 0 || name.size() < 3 ||
		    name.compare(name.size() - 3, 3, ".py") != 0)
			continue;
		auto rec = rd.getRecord(name);
		const void *p = std::get<0>(rec).get();
		const size_t n = std::get<1>(rec);
		for (const char *d : denied_ops) {
			const char *op = strstr(d, "::") + 2;
			if (memmem(p, n, op, strlen(op)))
				fail(EPERM, "model_load: the model's code (%s) calls %s, which this "
					    "plugin refuses; refused before loading it", name.c_str(), d);
		}
	}
}

std::shared_ptr<model> parse_model(const void *data, size_t size)
{
	auto m = std::make_shared<model>();
	char why[256];
	int err;

	// The zip structure first: every reader below inflates what the
	// archive declares (archive.h: zip bombs, entries sharing bytes).
	if ((err = ar_torch_check_archive(data, size, why, sizeof(why))))
		fail(-err, "model_load: %s", why);
	check_code(data, size);
	m->mod = torch::jit::load(std::make_shared<map_reader>(data, size));
	// Eval mode: BatchNorm uses its running statistics and Dropout is
	// off, which is what makes the rows of a batch independent.
	m->mod.eval();
	check_graphs(m->mod);
	return m;
}

// The model of a resource: its files as TORCH_MODEL_LOAD takes them.
model_ptr load_resource(const ar_resource *res)
{
	key32 key;
	const ar_resource_file *mf = nullptr, *lf = nullptr;

	if (res->type != VACCEL_RESOURCE_MODEL)
		fail(EINVAL, "model_load: the resource is not a MODEL");
	for (uint32_t i = 0; i < res->nr_files; i++) {
		const ar_resource_file *f = &res->files[i];

		if (!ends_txt(f->name) && !mf)
			mf = f;
		else if (ends_txt(f->name) && !lf)
			lf = f;
	}
	if (!mf)
		fail(EINVAL, "model_load: the resource has no model file (all end in .txt)");
	memcpy(key.data(), res->sha256, key.size());
	{
		std::lock_guard<std::mutex> g(lock);
		auto it = cache.find(key);
		if (it != cache.end())
			if (auto m = it->second.lock())
				return m;
	}
	auto m = parse_model(mf->data, mf->size);
	if (lf)
		m->labels = parse_labels(static_cast<const char *>(lf->data), lf->size);
	std::lock_guard<std::mutex> g(lock);
	// Another session may have loaded the same content meanwhile: keep
	// one module.
	auto &slot = cache[key];
	if (auto other = slot.lock())
		return other;
	slot = m;
	return m;
}

int model_load(ar_op *op)
{
	return guarded(op, "model_load", [&] {
		const ar_resource *res = op->u.generic.resource;
		const auto sk = std::make_pair(op->tenant, op->session);
		key32 key;

		if (!res)
			fail(EINVAL, "model_load: no resource");
		memcpy(key.data(), res->sha256, key.size());
		{
			std::lock_guard<std::mutex> g(lock);
			auto s = sessions.find(sk);
			if (s != sessions.end() && s->second.loaded.count(key))
				return 0;
		}
		model_ptr m = load_resource(res);
		std::lock_guard<std::mutex> g(lock);
		session_models &s = sessions[sk];
		s.loaded.emplace(key, m);
		if (!m->labels.empty())
			s.image = m;
		return 0;
	});
}

// ---- running ----

int vaccel_type(c10::ScalarType t)
{
	switch (t) {
	case torch::kUInt8: return VACCEL_TORCH_BYTE;
	case torch::kInt8: return VACCEL_TORCH_CHAR;
	case torch::kInt16: return VACCEL_TORCH_SHORT;
	case torch::kInt32: return VACCEL_TORCH_INT;
	case torch::kInt64: return VACCEL_TORCH_LONG;
	case torch::kHalf: return VACCEL_TORCH_HALF;
	case torch::kFloat: return VACCEL_TORCH_FLOAT;
	default: return 0;
	}
}

bool scalar_type(uint32_t vt, c10::ScalarType *t)
{
	switch (vt) {
	case VACCEL_TORCH_BYTE: *t = torch::kUInt8; return true;
	case VACCEL_TORCH_CHAR: *t = torch::kInt8; return true;
	case VACCEL_TORCH_SHORT: *t = torch::kInt16; return true;
	case VACCEL_TORCH_INT: *t = torch::kInt32; return true;
	case VACCEL_TORCH_LONG: *t = torch::kInt64; return true;
	case VACCEL_TORCH_HALF: *t = torch::kHalf; return true;
	case VACCEL_TORCH_FLOAT: *t = torch::kFloat; return true;
	}
	return false;
}

// A torch_model_run, decoded and checked: what batch groups by.
struct run {
	ar_op *op;
	model_ptr m;
	std::vector<torch::Tensor> in;	// over the client's bytes (from_blob)
	uint32_t nout;			// output pairs
	int64_t rows;			// dim 0 shared by every input; -1: none
};

model_ptr session_model(const ar_op *op, const ar_resource *res)
{
	key32 key;

	memcpy(key.data(), res->sha256, key.size());
	std::lock_guard<std::mutex> g(lock);
	auto s = sessions.find(std::make_pair(op->tenant, op->session));
	if (s == sessions.end())
		return nullptr;
	auto it = s->second.loaded.find(key);
	return it == s->second.loaded.end() ? nullptr : it->second;
}

void prepare(ar_op *op, run &r)
{
	const ar_op_generic &g = op->u.generic;

	r.op = op;
	if (!g.resource)
		fail(EINVAL, "model_run: no resource");
	r.m = session_model(op, g.resource);
	if (!r.m)
		fail(EINVAL, "model not loaded in this session: vaccel_torch_model_load it first");
	if (g.nr_read < 1 || (g.nr_read - 1) % 2)
		fail(EINVAL, "model_run: read args: run options, then (dims, data) per input; got %u",
		     g.nr_read);
	if (g.nr_write % 2)
		fail(EINVAL, "model_run: write args come in (meta, data) pairs; got %u", g.nr_write);
	r.nout = g.nr_write / 2;
	for (uint32_t i = 0; i < r.nout; i++)
		if (g.write[2 * i].len < META_BYTES)
			fail(EINVAL, "model_run: output %u: meta has %llu bytes, needs %zu", i,
			     (unsigned long long)g.write[2 * i].len, META_BYTES);
	r.rows = -1;
	for (uint32_t i = 0; i < (g.nr_read - 1) / 2; i++) {
		const ar_buf &d = g.read[1 + 2 * i], &x = g.read[2 + 2 * i];
		int64_t dims[MAX_DIMS];
		size_t nd = d.len / sizeof(int64_t);
		c10::ScalarType t;
		uint64_t bytes;

		if (d.len % sizeof(int64_t) || nd < 1 || nd > MAX_DIMS)
			fail(EINVAL, "model_run: input %u: %llu bytes of dims, needs 1..8 int64", i,
			     (unsigned long long)d.len);
		if (!scalar_type(x.custom_id, &t))
			fail(EINVAL, "model_run: input %u: data type %u is no vaccel_torch_data_type",
			     i, x.custom_id);
		// The dims are in shared memory too: read them once.
		memcpy(dims, d.ptr, nd * sizeof(int64_t));
		bytes = c10::elementSize(t);
		for (size_t k = 0; k < nd; k++)
			if (dims[k] < 0 || __builtin_mul_overflow(bytes, (uint64_t)dims[k], &bytes))
				fail(EINVAL, "model_run: input %u: dim %zu is %lld", i, k,
				     (long long)dims[k]);
		if (bytes != x.len)
			fail(EINVAL, "model_run: input %u: its dims need %llu bytes, data has %llu", i,
			     (unsigned long long)bytes, (unsigned long long)x.len);
		if (i == 0)
			r.rows = dims[0];
		else if (r.rows != dims[0])
			r.rows = -1;	// rows disagree: it can only run alone
		// No copy: a model may change its input in place, which writes
		// the client's own data area (mapped read-write) or the
		// broker's private copy of this request, nobody else's.
		r.in.push_back(torch::from_blob(x.ptr, c10::IntArrayRef(dims, nd), t));
	}
}

std::vector<torch::Tensor> outputs_of(const c10::IValue &v)
{
	std::vector<torch::Tensor> out;
	auto add = [&](const c10::IValue &e) {
		if (!e.isTensor())
			fail(EINVAL, "model_run: the model returned a %s, not a tensor",
			     e.tagKind().c_str());
		out.push_back(e.toTensor());
	};

	if (v.isTuple())
		for (const auto &e : v.toTupleRef().elements())
			add(e);
	else if (v.isList())
		for (const auto &e : v.toListRef())
			add(e);
	else
		add(v);
	return out;
}

std::vector<torch::Tensor> forward(const model &m, const std::vector<torch::Tensor> &in)
{
	c10::InferenceMode guard;
	std::vector<c10::IValue> args(in.begin(), in.end());

	// forward() is const for every caller: Module is a handle whose
	// forward only reads the module's state.
	return outputs_of(const_cast<torch::jit::Module &>(m.mod).forward(std::move(args)));
}

// Write outs into op's (meta, data) pairs; rows [begin, begin + n) of each
// when n >= 0 (a batch's share). Pairs the model did not fill: zero meta,
// no data. An output the model makes beyond the pairs asked for is not
// returned.
void write_outputs(ar_op *op, uint32_t nout, const std::vector<torch::Tensor> &outs,
		   int64_t begin, int64_t n)
{
	ar_buf *w = op->u.generic.write;

	for (uint32_t i = 0; i < nout; i++) {
		int64_t meta[META_WORDS] = { 0 };
		ar_buf &data = w[2 * i + 1];
		const uint64_t room = data.len;

		data.len = 0;
		memcpy(w[2 * i].ptr, meta, META_BYTES);
		if (i >= outs.size())
			continue;
		torch::Tensor t = n >= 0 ? outs[i].narrow(0, begin, n) : outs[i];
		const int vt = vaccel_type(t.scalar_type());

		if (!vt)
			fail(EINVAL, "model_run: output %u is %s, which has no vaccel_torch_data_type",
			     i, c10::toString(t.scalar_type()));
		if (t.dim() < 1 || t.dim() > MAX_DIMS)
			fail(EINVAL, "model_run: output %u has %lld dims (1..8 travel)", i,
			     (long long)t.dim());
		t = t.contiguous();
		const uint64_t bytes = (uint64_t)t.numel() * t.element_size();
		if (bytes > room)
			fail(ENOBUFS, "model_run: output %u needs %llu bytes, the room is %llu "
				      "(ACCELRING_TENSOR_OUT_BYTES)", i,
			     (unsigned long long)bytes, (unsigned long long)room);
		meta[0] = vt;
		meta[1] = t.dim();
		for (int64_t k = 0; k < t.dim(); k++)
			meta[2 + k] = t.size(k);
		if (bytes)	// an empty tensor may have no storage at all
			memcpy(data.ptr, t.data_ptr(), bytes);
		data.len = bytes;
		memcpy(w[2 * i].ptr, meta, META_BYTES);
	}
}

int model_run(ar_op *op)
{
	return guarded(op, "model_run", [&] {
		run r;

		prepare(op, r);
		write_outputs(op, r.nout, forward(*r.m, r.in), 0, -1);
		return 0;
	});
}

// What a batch groups by: the same module, and inputs alike but for
// their first dim, and the same output pairs.
bool same_group(const run &a, const run &b)
{
	if (a.m != b.m || a.in.size() != b.in.size() || a.nout != b.nout || a.rows < 0 ||
	    b.rows < 0)
		return false;
	for (size_t i = 0; i < a.in.size(); i++)
		if (a.in[i].scalar_type() != b.in[i].scalar_type() ||
		    a.in[i].sizes().slice(1) != b.in[i].sizes().slice(1))
			return false;
	return true;
}

// One forward for a group of k >= 2 runs, each getting its own rows back;
// false (nothing written) when the batch cannot be split back into rows,
// and the caller runs each alone.
bool run_group(std::vector<run *> &grp)
{
	std::vector<torch::Tensor> outs;
	int64_t total = 0;

	try {
		std::vector<torch::Tensor> in;

		for (const run *r : grp)
			total += r->rows;
		for (size_t i = 0; i < grp[0]->in.size(); i++) {
			std::vector<torch::Tensor> parts;

			for (const run *r : grp)
				parts.push_back(r->in[i]);
			in.push_back(torch::cat(parts, 0));
		}
		outs = forward(*grp[0]->m, in);
	} catch (...) {
		// The batch threw (a model whose shapes depend on the batch,
		// memory): each alone gets its own answer, error included.
		return false;
	}
	for (const torch::Tensor &t : outs)
		if (t.dim() < 1 || t.size(0) != total)
			return false;
	int64_t row = 0;
	for (run *r : grp) {
		ar_op *op = r->op;

		op->status = guarded(op, "model_run", [&] {
			write_outputs(op, r->nout, outs, row, r->rows);
			return 0;
		});
		row += r->rows;
	}
	return true;
}

// ---- images ----

struct image {
	std::vector<uint8_t> rgb;	// h x w x 3
	uint32_t w = 0, h = 0;
};

void check_size(uint32_t w, uint32_t h)
{
	if (!w || !h || w > IMG_MAX_SIDE || h > IMG_MAX_SIDE ||
	    (uint64_t)w * h > IMG_MAX_PIXELS)
		fail(EINVAL, "image_classify: a %ux%u image (at most %u a side, %llu pixels)", w, h,
		     IMG_MAX_SIDE, (unsigned long long)IMG_MAX_PIXELS);
}

struct jpeg_err {
	jpeg_error_mgr mgr;
	jmp_buf jb;
	char msg[JMSG_LENGTH_MAX];
};

void jpeg_exit(j_common_ptr c)
{
	auto *e = reinterpret_cast<jpeg_err *>(c->err);

	c->err->format_message(c, e->msg);
	longjmp(e->jb, 1);
}

// libjpeg only warns about corrupt data (and fills in grey): a warning is
// an error here, a half-decoded picture is not an image.
void jpeg_warn(j_common_ptr c, int level)
{
	if (level < 0)
		jpeg_exit(c);
}

// The decoders longjmp out of libjpeg and libpng: the frames between the
// setjmp and the library hold no C++ object with a destructor, and the
// pixels go to memory the caller's frame owns.
bool decode_jpeg(const uint8_t *p, size_t len, image &img, char *msg, size_t cap)
{
	jpeg_decompress_struct d;
	jpeg_err e;

	d.err = jpeg_std_error(&e.mgr);
	e.mgr.error_exit = jpeg_exit;
	e.mgr.emit_message = jpeg_warn;
	e.msg[0] = '\0';
	jpeg_create_decompress(&d);
	if (setjmp(e.jb)) {
		jpeg_destroy_decompress(&d);
		snprintf(msg, cap, "%s", e.msg);
		return false;
	}
	jpeg_mem_src(&d, p, (unsigned long)len);
	jpeg_read_header(&d, TRUE);
	if (d.image_width > IMG_MAX_SIDE || d.image_height > IMG_MAX_SIDE ||
	    (uint64_t)d.image_width * d.image_height > IMG_MAX_PIXELS || !d.image_width ||
	    !d.image_height) {
		img.w = d.image_width;
		img.h = d.image_height;
		jpeg_destroy_decompress(&d);
		return true;	// the caller refuses it by its size
	}
	d.out_color_space = JCS_RGB;
	jpeg_start_decompress(&d);
	img.w = d.output_width;
	img.h = d.output_height;
	img.rgb.resize((size_t)img.w * img.h * 3);
	while (d.output_scanline < d.output_height) {
		JSAMPROW row = &img.rgb[(size_t)d.output_scanline * img.w * 3];
		jpeg_read_scanlines(&d, &row, 1);
	}
	jpeg_finish_decompress(&d);
	jpeg_destroy_decompress(&d);
	return true;
}

struct png_src {
	const uint8_t *p;
	size_t len, pos;
	char msg[256];
	char warn[128];	// the last warning: libpng says why in one
};

void png_read_mem(png_structp png, png_bytep out, png_size_t n)
{
	auto *s = static_cast<png_src *>(png_get_io_ptr(png));

	if (n > s->len - s->pos)
		png_error(png, "truncated PNG");
	memcpy(out, s->p + s->pos, n);
	s->pos += n;
}

void png_err(png_structp png, png_const_charp m)
{
	auto *s = static_cast<png_src *>(png_get_error_ptr(png));

	snprintf(s->msg, sizeof(s->msg), "%s%s%s", m, s->warn[0] ? ": " : "", s->warn);
	png_longjmp(png, 1);
}

// libpng warns of what it then fails on ("Image width exceeds user limit"
// before "Invalid IHDR data"): kept for the error's message.
void png_warn(png_structp png, png_const_charp m)
{
	auto *s = static_cast<png_src *>(png_get_error_ptr(png));

	snprintf(s->warn, sizeof(s->warn), "%s", m);
}

bool decode_png(const uint8_t *p, size_t len, image &img, char *msg, size_t cap)
{
	png_src src = { p, len, 0, "", "" };
	png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, png_err, png_warn);
	png_infop info = png ? png_create_info_struct(png) : nullptr;

	if (!info) {
		png_destroy_read_struct(&png, nullptr, nullptr);
		throw std::bad_alloc();
	}
	if (setjmp(png_jmpbuf(png))) {
		png_destroy_read_struct(&png, &info, nullptr);
		snprintf(msg, cap, "%s", src.msg);
		return false;
	}
	png_set_read_fn(png, &src, png_read_mem);
	// Sides checked by libpng as it parses IHDR, before it reads on.
	png_set_user_limits(png, IMG_MAX_SIDE, IMG_MAX_SIDE);
	png_read_info(png, info);
	img.w = png_get_image_width(png, info);
	img.h = png_get_image_height(png, info);
	if (img.w > IMG_MAX_SIDE || img.h > IMG_MAX_SIDE ||
	    (uint64_t)img.w * img.h > IMG_MAX_PIXELS) {
		png_destroy_read_struct(&png, &info, nullptr);
		return true;	// the caller refuses it by its size
	}
	// Any PNG to RGB8: palettes and low bit depths expanded, 16 bits
	// cut to 8, grey replicated, alpha dropped (not composited).
	png_set_expand(png);
	png_set_strip_16(png);
	png_set_gray_to_rgb(png);
	png_set_strip_alpha(png);
	png_set_interlace_handling(png);
	png_read_update_info(png, info);
	if (png_get_rowbytes(png, info) != (size_t)img.w * 3)
		png_error(png, "unexpected row size after conversion to RGB8");
	img.rgb.resize((size_t)img.w * img.h * 3);
	{
		std::vector<png_bytep> rows(img.h);
		for (uint32_t y = 0; y < img.h; y++)
			rows[y] = &img.rgb[(size_t)y * img.w * 3];
		png_read_image(png, rows.data());
	}
	png_read_end(png, nullptr);
	png_destroy_read_struct(&png, &info, nullptr);
	return true;
}

image decode(const ar_buf &b)
{
	const auto *p = static_cast<const uint8_t *>(b.ptr);
	static const uint8_t png_magic[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
	char msg[256] = "";
	image img;
	bool ok;

	if (b.len >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff)
		ok = decode_jpeg(p, b.len, img, msg, sizeof(msg));
	else if (b.len >= 8 && !memcmp(p, png_magic, 8))
		ok = decode_png(p, b.len, img, msg, sizeof(msg));
	else
		fail(EINVAL, "image_classify: neither a JPEG nor a PNG");
	if (!ok)
		fail(EINVAL, "image_classify: bad image: %s", msg);
	check_size(img.w, img.h);
	return img;
}

/*
 * The preprocessing recipe (tests/torch_ref.cc follows it independently):
 * HWC uint8 -> 1x3xHxW float; the shorter side resized to 256, the longer
 * one scaled and truncated, bilinear, align_corners false, no antialias;
 * the centre 224x224 (offsets rounded down); /255; (x - mean) / std with
 * ImageNet's mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225).
 */
torch::Tensor preprocess(image &img)
{
	namespace F = torch::nn::functional;
	const int64_t h = img.h, w = img.w;
	const int64_t nh = h <= w ? 256 : h * 256 / w;
	const int64_t nw = h <= w ? w * 256 / h : 256;
	auto x = torch::from_blob(img.rgb.data(), { h, w, 3 }, torch::kUInt8)
			 .permute({ 2, 0, 1 })
			 .to(torch::kFloat)
			 .unsqueeze(0);

	x = F::interpolate(x, F::InterpolateFuncOptions()
				      .size(std::vector<int64_t>{ nh, nw })
				      .mode(torch::kBilinear)
				      .align_corners(false)
				      .antialias(false));
	x = x.narrow(2, (nh - 224) / 2, 224).narrow(3, (nw - 224) / 2, 224);
	const auto mean = torch::tensor({ 0.485f, 0.456f, 0.406f }).view({ 1, 3, 1, 1 });
	const auto sd = torch::tensor({ 0.229f, 0.224f, 0.225f }).view({ 1, 3, 1, 1 });
	return (((x / 255.0) - mean) / sd).contiguous();
}

void put_str(ar_buf &b, const std::string &s)
{
	if (!b.ptr)
		return;
	size_t n = std::min<uint64_t>(s.size() + 1, b.len);
	if (n) {
		memcpy(b.ptr, s.data(), n - 1);
		static_cast<char *>(b.ptr)[n - 1] = '\0';
	}
	b.len = n;
}

// The scores of a classifier over its labels: the top k lines.
std::string top_k(const model &m, const torch::Tensor &y, int k, std::string *top1)
{
	if (y.dim() != 2 || y.size(0) != 1 || y.size(1) != (int64_t)m.labels.size())
		fail(EINVAL, "image_classify: the model's output is %s, its labels %zu",
		     c10::str(y.sizes()).c_str(), m.labels.size());
	k = std::min<int>(k, (int)m.labels.size());
	auto top = torch::softmax(y, 1).topk(k, 1);
	auto vals = std::get<0>(top).contiguous();
	auto idx = std::get<1>(top).contiguous();
	std::string s;
	char num[32];

	for (int i = 0; i < k; i++) {
		const std::string &label = m.labels.at(idx[0][i].item<int64_t>());

		if (i)
			s += '\n';
		snprintf(num, sizeof(num), " %.6f", vals[0][i].item<float>());
		s += label + num;
		if (!i)
			*top1 = label;
	}
	return s;
}

model_ptr image_model(const ar_op *op)
{
	std::lock_guard<std::mutex> g(lock);
	auto s = sessions.find(std::make_pair(op->tenant, op->session));

	if (s != sessions.end() && s->second.image)
		return s->second.image;
	return image_default;
}

int image_classify(ar_op *op)
{
	return guarded(op, "image_classify", [&] {
		model_ptr m = image_model(op);
		std::string top1;

		if (!m)
			fail(ENOTSUP, "no image model: load a MODEL resource with a labels .txt in "
				      "this session, or set torch-image-model");
		image img = decode(op->u.image.img);
		c10::InferenceMode guard;
		auto outs = forward(*m, { preprocess(img) });
		std::string text = top_k(*m, outs.at(0), image_topk, &top1);
		put_str(op->u.image.out_text, text);
		put_str(op->u.image.out_imgname, top1);
		return 0;
	});
}

// The other image ops need models of another kind (boxes, masks,
// keypoints, depth maps): refused here, so that they never reach noop's
// dummy answers when this plugin comes first.
int image_other(ar_op *op)
{
	say(op, "torch: %s needs a %s model; this plugin serves image classification only",
	    host->op_name(op->op),
	    op->op == AR_OP_IMAGE_DETECT ? "detection" :
	    op->op == AR_OP_IMAGE_SEGMENT ? "segmentation" :
	    op->op == AR_OP_IMAGE_POSE ? "pose estimation" : "depth estimation");
	return -ENOTSUP;
}

// ---- the plugin ----

int any(ar_op *op)
{
	switch (op->op) {
	case AR_OP_TORCH_MODEL_LOAD: return model_load(op);
	case AR_OP_TORCH_MODEL_RUN: return model_run(op);
	case AR_OP_IMAGE_CLASSIFY: return image_classify(op);
	default: return image_other(op);
	}
}


void batch(ar_op *const *ops, uint32_t n)
{
	// ran: the op has its final status. Anything escaping below (memory
	// for the groups) fails the ops that have none yet, rather than
	// leaving a prepared op's 0 standing for outputs never written.
	std::vector<bool> ran(n, false);

	try {
		std::vector<run> runs(n);
		std::vector<bool> grouped(n, false);

		for (uint32_t i = 0; i < n; i++) {
			ar_op *op = ops[i];

			if (op->op != AR_OP_TORCH_MODEL_RUN) {
				op->status = any(op);
				ran[i] = true;
				continue;
			}
			// An op that cannot run (not loaded in its session, bad
			// arguments) gets its error alone and joins no group.
			op->status = guarded(op, "model_run", [&] {
				prepare(op, runs[i]);
				return 0;
			});
			ran[i] = op->status != 0;
		}
		for (uint32_t i = 0; i < n; i++) {
			if (ran[i] || grouped[i])
				continue;
			std::vector<run *> grp = { &runs[i] };
			std::vector<uint32_t> idx = { i };
			for (uint32_t j = i + 1; j < n; j++)
				if (!ran[j] && !grouped[j] && same_group(runs[i], runs[j])) {
					grp.push_back(&runs[j]);
					idx.push_back(j);
					grouped[j] = true;
				}
			if (grp.size() < 2 || !run_group(grp))
				for (run *r : grp)
					r->op->status = guarded(r->op, "model_run", [&] {
						write_outputs(r->op, r->nout, forward(*r->m, r->in), 0, -1);
						return 0;
					});
			for (uint32_t k : idx)
				ran[k] = true;
		}
	} catch (...) {
		for (uint32_t i = 0; i < n; i++)
			if (!ran[i]) {
				ops[i]->status = -ENOMEM;
				say(ops[i], "torch: model_run: out of memory for the batch");
			}
	}
}

void session_closed(uint32_t tenant, uint32_t session)
{
	session_models gone;

	try {
		{
			std::lock_guard<std::mutex> g(lock);
			auto s = sessions.find(std::make_pair(tenant, session));
			if (s != sessions.end()) {
				gone = std::move(s->second);
				sessions.erase(s);
			}
		}
		// The references go without the lock (a module's destruction
		// frees its weights), then the cache entries nobody holds.
		gone = session_models();
		std::lock_guard<std::mutex> g(lock);
		for (auto it = cache.begin(); it != cache.end();)
			it = it->second.expired() ? cache.erase(it) : std::next(it);
	} catch (const std::exception &e) {
		// std::mutex::lock throws only on a broken mutex: log it, as
		// nothing may cross into the broker.
		TLOG(AR_LOG_ERROR, "session_closed: %s", e.what());
	}
}

// A setting as an integer in [lo, hi]; def when unset or empty; -EINVAL
// (logged) otherwise.
int int_setting(const char *key, int def, int lo, int hi, int *out)
{
	const char *v = host->setting ? host->setting(key) : nullptr;
	char *end;
	long x;

	*out = def;
	if (!v || !*v)
		return 0;
	errno = 0;
	x = strtol(v, &end, 10);
	if (errno || *end || end == v || x < lo || x > hi) {
		TLOG(AR_LOG_ERROR, "%s=\"%s\": not an integer in %d..%d", key, v, lo, hi);
		return -EINVAL;
	}
	*out = (int)x;
	return 0;
}

std::string read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	std::string s;
	char buf[65536];
	size_t n;

	if (!f)
		fail(errno, "%s: %s", path, strerror(errno));
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		s.append(buf, n);
	const bool bad = ferror(f);
	fclose(f);
	if (bad)
		fail(EIO, "%s: read error", path);
	return s;
}

// The image ops' default classifier, from host paths the operator chose
// (not a tenant), checked by one forward of a 224x224 picture, the size
// the preprocessing gives: its width must be the labels' count.
model_ptr load_default(const char *mpath, const char *lpath)
{
	const std::string bytes = read_file(mpath);
	const std::string lbytes = read_file(lpath);
	auto m = parse_model(bytes.data(), bytes.size());

	m->labels = parse_labels(lbytes.data(), lbytes.size());
	auto y = forward(*m, { torch::zeros({ 1, 3, 224, 224 }) }).at(0);
	if (y.dim() != 2 || y.size(1) != (int64_t)m->labels.size())
		fail(EINVAL, "the model's output is %s for a 1x3x224x224 picture, and %s has %zu "
			     "labels", c10::str(y.sizes()).c_str(), lpath, m->labels.size());
	return m;
}

int init(const ar_plugin_host *h)
{
	host = h;
	try {
		int threads, ret;

		ret = int_setting("torch-threads", 1, 1, 1024, &threads);
		if (!ret)
			ret = int_setting("torch-image-topk", 5, 1, 100, &image_topk);
		if (ret)
			return ret;
		at::set_num_threads(threads);
		// One inter-op thread: the broker's workers already run ops
		// side by side. libtorch allows setting it only before its
		// first parallel work, so a second init (after fini, in the
		// same process) keeps the first one's.
		try {
			at::set_num_interop_threads(1);
		} catch (const c10::Error &) {
			TLOG(AR_LOG_DEBUG, "inter-op threads already set: %d",
			    at::get_num_interop_threads());
		}
		const char *mp = h->setting ? h->setting("torch-image-model") : nullptr;
		const char *lp = h->setting ? h->setting("torch-image-labels") : nullptr;
		const bool has_m = mp && *mp, has_l = lp && *lp;
		if (has_m != has_l) {
			TLOG(AR_LOG_ERROR, "torch-image-model and torch-image-labels go together");
			return -EINVAL;
		}
		if (has_m) {
			model_ptr m = load_default(mp, lp);
			std::lock_guard<std::mutex> g(lock);
			image_default = std::move(m);
		}
		TLOG(AR_LOG_INFO, "libtorch %s, %d intra-op threads%s%s", TORCH_VERSION_STR,
		    at::get_num_threads(), has_m ? ", image model " : "", has_m ? mp : "");
		return 0;
	} catch (const op_error &e) {
		TLOG(AR_LOG_ERROR, "torch-image-model: %s", e.why.c_str());
		return -e.err;
	} catch (const c10::Error &e) {
		TLOG(AR_LOG_ERROR, "torch-image-model: %s", e.what_without_backtrace());
	} catch (const std::exception &e) {
		TLOG(AR_LOG_ERROR, "init: %s", e.what());
	}
	return -EINVAL;
}

void fini()
{
	std::map<std::pair<uint32_t, uint32_t>, session_models> s;
	model_ptr d;

	{
		std::lock_guard<std::mutex> g(lock);
		s.swap(sessions);
		d.swap(image_default);
		cache.clear();
	}
}

const ar_plugin_op ops[] = {
	{ AR_OP_IMAGE_CLASSIFY, any }, { AR_OP_IMAGE_DETECT, any },
	{ AR_OP_IMAGE_SEGMENT, any },  { AR_OP_IMAGE_POSE, any },
	{ AR_OP_IMAGE_DEPTH, any },    { AR_OP_TORCH_MODEL_LOAD, any },
	{ AR_OP_TORCH_MODEL_RUN, any },
};

}  // namespace

// g++ reads the macro's leading visibility attribute as applying to the
// struct type and warns; the extern declaration above carries it.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wattributes"
AR_PLUGIN(.name = "torch", .version = TORCH_VERSION_STR, .type = AR_PLUGIN_CPU | AR_PLUGIN_TORCH,
	  .nr_ops = sizeof(ops) / sizeof(ops[0]), .ops = ops, .init = init, .fini = fini,
	  .batch = batch, .session_closed = session_closed);
#pragma GCC diagnostic pop

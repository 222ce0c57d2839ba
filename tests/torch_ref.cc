// SPDX-License-Identifier: Apache-2.0
// torch_ref: see torch_ref.h. Written apart from plugins/torch on purpose.
#include "torch_ref.h"

#include <cerrno>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <ATen/Parallel.h>
#include <jpeglib.h>
#include <torch/nn/functional/upsampling.h>
#include <torch/script.h>

#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_NO_STDIO
#include <stb/stb_image.h>

struct ar_tref {
	torch::jit::Module mod;
};

extern "C" struct ar_tref *ar_tref_load(const char *path, int threads)
{
	try {
		at::set_num_threads(threads);
		// As the plugin does: one inter-op thread, where libtorch still
		// allows setting it (only before its first parallel work).
		try {
			at::set_num_interop_threads(1);
		} catch (const c10::Error &) {
		}
		auto *r = new ar_tref{ torch::jit::load(path) };
		r->mod.eval();
		return r;
	} catch (const c10::Error &e) {
		fprintf(stderr, "torch_ref: %s: %s\n", path, e.what_without_backtrace());
	} catch (const std::exception &e) {
		fprintf(stderr, "torch_ref: %s: %s\n", path, e.what());
	}
	return nullptr;
}

extern "C" void ar_tref_free(struct ar_tref *ref)
{
	delete ref;
}

static torch::Tensor first_output(const c10::IValue &v)
{
	if (v.isTensor())
		return v.toTensor();
	if (v.isTuple())
		return v.toTupleRef().elements().at(0).toTensor();
	return v.toList().get(0).toTensor();
}

extern "C" long ar_tref_forward(struct ar_tref *ref, const float *in, const int64_t *dims,
				int nd, float *out, size_t out_cap, int64_t *out_dims,
				int *out_nd)
{
	try {
		c10::InferenceMode guard;
		std::vector<int64_t> d(dims, dims + nd);
		auto x = torch::from_blob(const_cast<float *>(in), d, torch::kFloat);
		auto y = first_output(ref->mod.forward({ x })).contiguous();
		size_t n = y.numel() * sizeof(float);

		if (y.scalar_type() != torch::kFloat || y.dim() < 1 || y.dim() > 8)
			return -EINVAL;
		if (n > out_cap)
			return -ENOBUFS;
		memcpy(out, y.data_ptr<float>(), n);
		*out_nd = (int)y.dim();
		for (int i = 0; i < *out_nd; i++)
			out_dims[i] = y.size(i);
		return (long)n;
	} catch (const c10::Error &e) {
		fprintf(stderr, "torch_ref: forward: %s\n", e.what_without_backtrace());
	} catch (const std::exception &e) {
		fprintf(stderr, "torch_ref: forward: %s\n", e.what());
	}
	return -EINVAL;
}

struct jerr {
	jpeg_error_mgr mgr;
	jmp_buf jb;
};

static void jerr_exit(j_common_ptr c)
{
	longjmp(reinterpret_cast<jerr *>(c->err)->jb, 1);
}

// libjpeg's default decoding (islow DCT, fancy upsampling) to RGB: JPEG
// decoders differ in their last bits, so the reference must use the same
// library and defaults as the plugin; PNG, lossless, goes through stb.
static bool decode_jpeg(const unsigned char *p, size_t len, std::vector<uint8_t> &rgb,
			int &w, int &h)
{
	jpeg_decompress_struct d;
	jerr e;

	d.err = jpeg_std_error(&e.mgr);
	e.mgr.error_exit = jerr_exit;
	if (setjmp(e.jb)) {
		jpeg_destroy_decompress(&d);
		return false;
	}
	jpeg_create_decompress(&d);
	jpeg_mem_src(&d, p, (unsigned long)len);
	jpeg_read_header(&d, TRUE);
	d.out_color_space = JCS_RGB;
	jpeg_start_decompress(&d);
	w = (int)d.output_width;
	h = (int)d.output_height;
	rgb.resize((size_t)w * h * 3);
	while (d.output_scanline < d.output_height) {
		JSAMPROW row = &rgb[(size_t)d.output_scanline * w * 3];
		jpeg_read_scanlines(&d, &row, 1);
	}
	jpeg_finish_decompress(&d);
	jpeg_destroy_decompress(&d);
	return true;
}

static bool decode(const void *img, size_t len, std::vector<uint8_t> &rgb, int &w, int &h)
{
	const auto *p = static_cast<const unsigned char *>(img);

	if (len >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff)
		return decode_jpeg(p, len, rgb, w, h);
	int n;
	unsigned char *px = stbi_load_from_memory(p, (int)len, &w, &h, &n, 3);
	if (!px)
		return false;
	rgb.assign(px, px + (size_t)w * h * 3);
	stbi_image_free(px);
	return true;
}

extern "C" long ar_tref_classify(struct ar_tref *ref, const void *img, size_t len,
				 const char *const *labels, int nlabels, int topk,
				 char *text, size_t cap)
{
	std::vector<uint8_t> rgb;
	int w, h;

	if (!cap || !decode(img, len, rgb, w, h))
		return -EINVAL;
	try {
		c10::InferenceMode guard;
		// The recipe: HWC uint8 -> 1x3xHxW float; shorter side to 256
		// (the longer one scaled, truncated) by bilinear interpolation
		// without corner alignment or antialiasing; the centre 224x224
		// (offsets rounded down); /255; (x - mean) / std per channel.
		auto x = torch::from_blob(rgb.data(), { h, w, 3 }, torch::kUInt8)
				 .permute({ 2, 0, 1 })
				 .to(torch::kFloat)
				 .unsqueeze(0);
		int64_t nh = h <= w ? 256 : (int64_t)h * 256 / w;
		int64_t nw = h <= w ? (int64_t)w * 256 / h : 256;
		namespace F = torch::nn::functional;
		x = F::interpolate(x, F::InterpolateFuncOptions()
					      .size(std::vector<int64_t>{ nh, nw })
					      .mode(torch::kBilinear)
					      .align_corners(false)
					      .antialias(false));
		x = x.narrow(2, (nh - 224) / 2, 224).narrow(3, (nw - 224) / 2, 224);
		auto mean = torch::tensor({ 0.485f, 0.456f, 0.406f }).view({ 1, 3, 1, 1 });
		auto sd = torch::tensor({ 0.229f, 0.224f, 0.225f }).view({ 1, 3, 1, 1 });
		x = ((x / 255.0) - mean) / sd;
		auto y = first_output(ref->mod.forward({ x.contiguous() }));
		if (y.dim() != 2 || y.size(1) != nlabels)
			return -EINVAL;
		auto prob = torch::softmax(y, 1);
		auto top = prob.topk(topk, 1);
		auto vals = std::get<0>(top).contiguous();
		auto idx = std::get<1>(top).contiguous();
		std::string s;
		char line[64];
		for (int i = 0; i < topk; i++) {
			if (i)
				s += '\n';
			snprintf(line, sizeof(line), " %.6f", vals[0][i].item<float>());
			s += labels[idx[0][i].item<int64_t>()];
			s += line;
		}
		size_t n = s.size() + 1 < cap ? s.size() + 1 : cap;
		memcpy(text, s.data(), n - 1);
		text[n - 1] = '\0';
		return (long)n;
	} catch (const c10::Error &e) {
		fprintf(stderr, "torch_ref: classify: %s\n", e.what_without_backtrace());
	} catch (const std::exception &e) {
		fprintf(stderr, "torch_ref: classify: %s\n", e.what());
	}
	return -EINVAL;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * torch_ref - libtorch in the caller's own process, behind a C API: the
 * reference that the torch plugin's tests (and benches) compare it with.
 * It shares no code with plugins/torch: it loads from a path, decodes
 * PNG with stb_image rather than libpng, and writes its own preprocessing
 * from the recipe both follow (plugins/torch/torch.cc, classify), so an
 * agreement between the two means something.
 */
#ifndef AR_TORCH_REF_H
#define AR_TORCH_REF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ar_tref;

/* Load the TorchScript model at path, in eval mode, and set libtorch's
 * intra-op (and inter-op) threads to threads, as the plugin's
 * torch-threads does. Returns NULL on failure, the reason on stderr. */
struct ar_tref *ar_tref_load(const char *path, int threads);

void ar_tref_free(struct ar_tref *ref);

/*
 * Forward one float32 input of nd dims (1..8) under InferenceMode; the
 * first output (the tensor, or the first of a tuple or list) is written
 * to out (out_cap bytes), its dims to out_dims (8 room) and *out_nd.
 * Returns the output's bytes, -ENOBUFS if out_cap is too small, -EINVAL
 * for a non-float output or a forward that threw (its message on stderr).
 */
long ar_tref_forward(struct ar_tref *ref, const float *in, const int64_t *dims, int nd,
		     float *out, size_t out_cap, int64_t *out_dims, int *out_nd);

/*
 * Classify an image (PNG or JPEG bytes) as the plugin's image_classify
 * does: decode to RGB8, the preprocessing of the plugin's recipe, forward,
 * softmax, top-k; text gets k lines "<label> <probability %.6f>" joined by
 * '\n', NUL-terminated, truncated to cap. Returns the bytes written with
 * the NUL, or -EINVAL (undecodable image, labels count not the model's
 * width, a forward that threw).
 */
long ar_tref_classify(struct ar_tref *ref, const void *img, size_t len,
		      const char *const *labels, int nlabels, int topk, char *text,
		      size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* AR_TORCH_REF_H */

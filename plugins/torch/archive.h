/* SPDX-License-Identifier: Apache-2.0 */
/*
 * archive.h - the zip structure of a tenant's TorchScript archive, checked
 * before libtorch parses it.
 *
 * libtorch's reader (miniz) inflates a compressed record into memory of
 * the size the record declares, and loads every record the archive's
 * pickle names: a few KiB of deflated zeros, or a thousand entries over
 * the same bytes, would make a small resource gigabytes of broker memory.
 * torch.jit.save stores the tensors and deflates only the code (a few
 * KiB), each record once, so the check refuses nothing a real model has:
 * every entry is stored or deflated, lies inside the archive and shares
 * no byte with another, and all of them inflate to at most
 * AR_TORCH_MAX_INFLATE(archive bytes): what a tenant's model costs the
 * broker stays within twice what its resource quota counted.
 */
#define AR_TORCH_MAX_INFLATE(size) (2 * (uint64_t)(size) + (1u << 20))
#ifndef AR_TORCH_ARCHIVE_H
#define AR_TORCH_ARCHIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 0 if the archive passes, else -EINVAL with the reason in why (cap
 * bytes, NUL-terminated), or -ENOMEM. */
int ar_torch_check_archive(const void *data, uint64_t size, char *why, size_t cap);

#ifdef __cplusplus
}
#endif

#endif

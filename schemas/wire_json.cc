// SPDX-License-Identifier: Apache-2.0
//
// JSON <-> binary for debugging and test vectors (ar_wire_to_json,
// ar_wire_from_json). Separate from wire.cc so that the broker's and the
// client's hot paths need only the header-only FlatBuffers runtime; this
// unit links libflatbuffers for its schema parser.

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include <flatbuffers/idl.h>

#include "accelring_generated.h"

#include <accelring/wire.h>

extern const char ar__wire_schema[];	// accelring.fbs, embedded at build time

namespace {

// strict: quote field names in the output, so it is JSON and not only
// FlatBuffers' relaxed JSON; parsing accepts either form.
bool load(flatbuffers::Parser &p, bool strict)
{
	p.opts.strict_json = strict;
	p.opts.output_default_scalars_in_json = false;
	return p.Parse(ar__wire_schema);
}

} // namespace

extern "C" {

int ar_wire_to_json(const void *buf, size_t len, char **json)
{
	flatbuffers::Verifier v(static_cast<const uint8_t *>(buf), len);
	flatbuffers::Parser p;
	std::string out;

	*json = nullptr;
	if (!accelring::wire::VerifyMessageBuffer(v))
		return -EBADMSG;
	if (!load(p, true) || !flatbuffers::GenerateText(p, buf, &out))
		return -EBADMSG;
	*json = strdup(out.c_str());
	return *json ? 0 : -ENOMEM;
}

int64_t ar_wire_from_json(const char *json, void **bin)
{
	flatbuffers::Parser p;

	*bin = nullptr;
	if (!load(p, false) || !p.Parse(json))
		return -EINVAL;
	size_t n = p.builder_.GetSize();
	*bin = std::malloc(n ? n : 1);
	if (!*bin)
		return -ENOMEM;
	std::memcpy(*bin, p.builder_.GetBufferPointer(), n);
	return static_cast<int64_t>(n);
}

} // extern "C"

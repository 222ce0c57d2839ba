#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""make_archives.py MODEL OUT_DIR - hostile variants of a real TorchScript
archive (MODEL, as torch.jit.save wrote it), for the torch plugin's archive
check (plugins/torch/archive.h); each is one thing a tenant could upload:

  deflated.pt   the same records, all deflate-compressed (must pass: what
                they inflate to is what they are)
  bomb.pt       the model plus one deflated record of 64 MiB of zeros
  zip64.pt      the same records stored, with ZIP64 headers (must pass)
  overlap.pt    two central directory entries over the same bytes
  truncated.pt  the first half of the archive
"""
import os
import struct
import sys
import zipfile


def rezip(src, dst, compression, force_zip64=False, extra=None):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", compression) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            zi = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            zi.compress_type = compression
            with zout.open(zi, "w", force_zip64=force_zip64) as f:
                f.write(data)
        if extra:
            zi = zipfile.ZipInfo(extra[0], date_time=(1980, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            zout.writestr(zi, extra[1])


def overlap(src, dst):
    """A second central directory entry naming the first entry's bytes."""
    data = bytearray(open(src, "rb").read())
    e = data.rfind(b"PK\x05\x06")
    entries, cd_len, cd_off = struct.unpack_from("<HII", data, e + 10)
    first = data[cd_off:cd_off + 46 + sum(struct.unpack_from("<HHH", data, cd_off + 28))]
    # The copy's name differs (same length), its local header offset is the
    # first entry's.
    name_at = 46
    first[name_at] = ord("Z") if first[name_at] != ord("Z") else ord("Y")
    out = data[:cd_off + cd_len] + first + data[cd_off + cd_len:]
    struct.pack_into("<HHII", out, e + len(first) + 8, entries + 1, entries + 1,
                     cd_len + len(first), cd_off)
    open(dst, "wb").write(out)


def main():
    src, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    rezip(src, os.path.join(out, "deflated.pt"), zipfile.ZIP_DEFLATED)
    rezip(src, os.path.join(out, "bomb.pt"), zipfile.ZIP_STORED,
          extra=("tiny/data/99", bytes(64 << 20)))
    rezip(src, os.path.join(out, "zip64.pt"), zipfile.ZIP_STORED, force_zip64=True)
    # Without ZIP64 records (torch.jit.save writes some), so that the
    # inserted entry leaves only the central directory to adjust.
    plain = os.path.join(out, "plain.zip")
    rezip(src, plain, zipfile.ZIP_STORED)
    overlap(plain, os.path.join(out, "overlap.pt"))
    os.unlink(plain)
    data = open(src, "rb").read()
    open(os.path.join(out, "truncated.pt"), "wb").write(data[:len(data) // 2])


if __name__ == "__main__":
    main()

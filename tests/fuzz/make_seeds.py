#!/usr/bin/env python3
"""Writes the seed corpora of tests/fuzz (committed; rerun to regenerate).

Layouts follow include/accelring/abi.h; fuzz_ring.c and fuzz_region.c
describe the input formats.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
RING = 4096
MSG, PAD = 1, 2


def rec(payload, kind=MSG, resv=0):
    size = (len(payload) + 8 + 7) & ~7
    return struct.pack("<IHH", len(payload), kind, resv) + payload.ljust(size - 8, b"\0")


def ring_seed(name, head, tail, body):
    with open(os.path.join(HERE, "corpus", "ring", name), "wb") as f:
        f.write(struct.pack("<II", head, tail) + body)


def region_hdr(nr=1, sq=65536, cq=65536, data=0, idx=0, **over):
    stride = (1024 + sq + cq + 4095) & ~4095
    chans = 4096
    data_off = chans + nr * stride
    size = data_off + data
    f = dict(magic=0x47524341, major=2, minor=0, hdr_bytes=256, flags=0,
             region_bytes=size, idx=idx, channels=chans, nr=nr, stride=stride,
             sq=(0, 1024, sq, 0), cq=(512, 1024 + sq, cq, 0), data=data_off,
             data_bytes=data)
    f.update(over)
    h = struct.pack("<IHHIIQII", f["magic"], f["major"], f["minor"], f["hdr_bytes"],
                    f["flags"], f["region_bytes"], f["idx"], 0)
    h += struct.pack("<QII", f["channels"], f["nr"], f["stride"])
    h += struct.pack("<4I", *f["sq"]) + struct.pack("<4I", *f["cq"])
    h += struct.pack("<QQ", f["data"], f["data_bytes"]) + b"\0" * 16
    h += b"\0" * (256 - len(h))
    return size, h


def region_seed(name, size, hdr):
    with open(os.path.join(HERE, "corpus", "region", name), "wb") as f:
        f.write(struct.pack("<Q", size) + hdr)


def main():
    os.makedirs(os.path.join(HERE, "corpus", "ring"), exist_ok=True)
    os.makedirs(os.path.join(HERE, "corpus", "region"), exist_ok=True)
    three = rec(b"a" * 5) + rec(b"") + rec(b"b" * 100)
    ring_seed("three_records", 0, len(three), three)
    ring_seed("empty", 64, 64, b"")
    wrap = b"\0" * (RING - 64) + rec(b"", PAD)[:8] + b"\0" * 56
    first = rec(b"w" * 40)
    body = first + wrap[len(first):]
    ring_seed("pad_at_end", RING - 64, RING + len(first), body)
    ring_seed("tail_past_size", 0, RING + 8, three)
    ring_seed("tail_backwards", 64, 56, three)
    ring_seed("len_beyond_tail", 0, 16, rec(b"x" * 64))
    ring_seed("bad_kind", 0, 16, rec(b"x", kind=7))
    ring_seed("resv_set", 0, 16, rec(b"x", resv=1))
    # head 64 bytes before both the ring's end and 2^32: a record, a pad,
    # then three records from offset 0, with the tail wrapped past zero.
    tailpart = rec(b"t" * 40) + rec(b"", PAD)
    body = three + b"\0" * (RING - 64 - len(three)) + tailpart
    ring_seed("near_u32_max", 0xFFFFFFC0, (0xFFFFFFC0 + 64 + len(three)) % 2**32, body)
    big = rec(b"m" * (RING // 2 - 8))
    ring_seed("max_record", 0, len(big), big)

    size, h = region_hdr()
    region_seed("default", size, h)
    size, h = region_hdr(nr=3, sq=4096, cq=8192, data=8192, idx=0xFFFFE000)
    region_seed("three_channels_data", size, h)
    region_seed("size_mismatch", size + 4096, h)
    size, h = region_hdr(major=3)
    region_seed("major_3", size, h)
    size, h = region_hdr(nr=2, channels=4096, stride=4096)
    region_seed("overlapping_stride", size, h)
    size, h = region_hdr(data_bytes=(1 << 64) - 4096)
    region_seed("data_overflow", size, h)


if __name__ == "__main__":
    main()

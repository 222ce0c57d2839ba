# SPDX-License-Identifier: Apache-2.0
"""Op arguments: `struct vaccel_arg` over Python values.

As upstream's `Arg(data)`: an int is a C int, a float a C float, a str a
NUL-terminated string, bytes/bytearray/memoryview raw bytes, a list of ints
or floats an array of them; `buf` gives the value back as the same Python
type, read from the C memory (so a write argument shows what the function
wrote). Beyond upstream (which sends every argument as VACCEL_ARG_RAW):
each carries its vAccel type (INT32, FLOAT32, STRING, ..., RAW for bytes),
and `Arg(value, ArgType.UINT64)` or `Arg(b"...", ArgType.CUSTOM,
custom_id=0x45584543)` picks another, since exec functions may check them.
"""

from __future__ import annotations

import ctypes
import struct
from enum import IntEnum
from typing import Any

from ._libvaccel import vaccel_arg


class ArgType(IntEnum):
    """vaccel_arg_type_t (<vaccel/arg.h>)."""
    RAW = 0
    INT8 = 1
    INT8_ARRAY = 2
    INT16 = 3
    INT16_ARRAY = 4
    INT32 = 5
    INT32_ARRAY = 6
    INT64 = 7
    INT64_ARRAY = 8
    UINT8 = 9
    UINT8_ARRAY = 10
    UINT16 = 11
    UINT16_ARRAY = 12
    UINT32 = 13
    UINT32_ARRAY = 14
    UINT64 = 15
    UINT64_ARRAY = 16
    FLOAT32 = 17
    FLOAT32_ARRAY = 18
    FLOAT64 = 19
    FLOAT64_ARRAY = 20
    BOOL = 21
    BOOL_ARRAY = 22
    CHAR = 23
    CHAR_ARRAY = 24
    UCHAR = 25
    UCHAR_ARRAY = 26
    STRING = 27
    BUFFER = 28
    CUSTOM = 29


# struct formats of the numeric types; an _ARRAY type is its scalar's + 1.
_FMT = {
    ArgType.INT8: "b", ArgType.INT16: "h", ArgType.INT32: "i",
    ArgType.INT64: "q", ArgType.UINT8: "B", ArgType.UINT16: "H",
    ArgType.UINT32: "I", ArgType.UINT64: "Q", ArgType.FLOAT32: "f",
    ArgType.FLOAT64: "d", ArgType.BOOL: "?", ArgType.CHAR: "b",
    ArgType.UCHAR: "B",
}
_ARRAY_FMT = {ArgType(t + 1): f for t, f in _FMT.items()}
_BYTES = (ArgType.RAW, ArgType.BUFFER, ArgType.CUSTOM)


def _default_type(data: Any) -> ArgType:
    if isinstance(data, bool):
        return ArgType.BOOL
    if isinstance(data, int):
        return ArgType.INT32
    if isinstance(data, float):
        return ArgType.FLOAT32
    if isinstance(data, str):
        return ArgType.STRING
    if isinstance(data, (bytes, bytearray, memoryview)):
        return ArgType.RAW
    if isinstance(data, (list, tuple)):
        if data and all(isinstance(x, float) for x in data):
            return ArgType.FLOAT32_ARRAY
        if all(isinstance(x, int) and not isinstance(x, bool) for x in data):
            return ArgType.INT32_ARRAY
    raise TypeError(f"vaccel.Arg: no C type for {type(data).__name__}; "
                    "pass bytes, or name an ArgType")


class Arg:
    """One `struct vaccel_arg`, its bytes held by this object."""

    def __init__(self, data: Any, type_: ArgType | None = None,
                 custom_id: int = 0):
        self._data = data
        self._type = ArgType(_default_type(data) if type_ is None else type_)
        t = self._type
        if t in _FMT:
            raw = struct.pack("=" + _FMT[t], data)
        elif t in _ARRAY_FMT:
            raw = struct.pack(f"={len(data)}{_ARRAY_FMT[t]}", *data)
        elif t == ArgType.STRING:
            raw = str(data).encode() + b"\0"
        elif t in _BYTES:
            raw = bytes(data)
        else:
            raise TypeError(f"vaccel.Arg: cannot make a {t.name} of "
                            f"{type(data).__name__}")
        self._size = len(raw)
        # At least one byte, so that an empty argument still has an address.
        self._mem = ctypes.create_string_buffer(raw, max(self._size, 1))
        self._c_obj = vaccel_arg(ctypes.cast(self._mem, ctypes.c_void_p),
                                 self._size, int(t), custom_id, False)

    @property
    def type(self) -> ArgType:
        return self._type

    @property
    def size(self) -> int:
        return self._size

    @property
    def raw(self) -> bytes:
        """The argument's bytes as they are now in C memory."""
        return self._mem.raw[:self._size]

    @property
    def buf(self) -> Any:
        """The value, of the type it was made from, as it is now."""
        t, raw, d = self._type, self.raw, self._data
        if t in _FMT:
            return struct.unpack("=" + _FMT[t], raw)[0]
        if t in _ARRAY_FMT:
            n = self._size // struct.calcsize(_ARRAY_FMT[t])
            v = list(struct.unpack(f"={n}{_ARRAY_FMT[t]}", raw))
            return tuple(v) if isinstance(d, tuple) else v
        if t == ArgType.STRING:
            return raw.split(b"\0", 1)[0].decode(errors="replace")
        if isinstance(d, bytearray):
            return bytearray(raw)
        if isinstance(d, str):
            return raw.decode(errors="replace")
        return raw

    def __repr__(self):
        return f"<Arg type={self._type.name} size={self._size}>"


def c_array(args: list[Any] | None):
    """(array, count, the Arg objects) for a list of values or Args."""
    if not args:
        return None, 0, []
    objs = [a if isinstance(a, Arg) else Arg(a) for a in args]
    arr = (vaccel_arg * len(objs))(*[a._c_obj for a in objs])
    return arr, len(objs), objs


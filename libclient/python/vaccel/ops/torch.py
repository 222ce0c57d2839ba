# SPDX-License-Identifier: Apache-2.0
"""Torch: TorchScript models in the broker's torch plugin.

As upstream's: Tensor(dims, TensorType.FLOAT, [floats]) or
Tensor.from_bytes(dims, type, data); Buffer(run options);
Session.torch_model_load(resource) and
Session.torch_model_run(resource, in_tensors, nr_out_tensors) -> outputs.
Output tensors are copied into Python-owned Tensors and the library's
freed at once (upstream keeps the C objects).
"""

from __future__ import annotations

import ctypes
import logging
import struct
from enum import IntEnum
from typing import Any

from .._libvaccel import TBUF, TENSOR, lib
from ..error import FFIError, check

logger = logging.getLogger(__name__)


class TensorType(IntEnum):
    """enum vaccel_torch_data_type (<vaccel/ops/torch.h>)."""
    BYTE = 1
    CHAR = 2
    SHORT = 3
    INT = 4
    LONG = 5
    HALF = 6
    FLOAT = 7


_FMT = {TensorType.BYTE: "B", TensorType.CHAR: "b", TensorType.SHORT: "h",
        TensorType.INT: "i", TensorType.LONG: "q", TensorType.HALF: "e",
        TensorType.FLOAT: "f"}


class Tensor:
    """A `struct vaccel_torch_tensor` whose data this object holds."""

    def __init__(self, dims: list[int], data_type: TensorType,
                 data: list[Any]):
        fmt = _FMT[TensorType(data_type)]
        self._init(dims, data_type,
                   struct.pack(f"={len(data)}{fmt}", *data))

    @classmethod
    def from_bytes(cls, dims: list[int], data_type: TensorType,
                   data: bytes | bytearray | memoryview) -> "Tensor":
        inst = cls.__new__(cls)
        inst._init(dims, data_type, bytes(data))
        return inst

    def _init(self, dims, data_type, raw: bytes):
        self._dims = [int(d) for d in dims]
        self._data_type = TensorType(data_type)
        self._raw = raw
        self._mem = ctypes.create_string_buffer(raw, max(len(raw), 1))
        self._c_obj = TENSOR()
        cdims = (ctypes.c_int64 * max(len(self._dims), 1))(*self._dims)
        check(lib.vaccel_torch_tensor_new(ctypes.byref(self._c_obj),
                                          len(self._dims), cdims,
                                          self._data_type),
              "Could not initialize tensor")
        check(lib.vaccel_torch_tensor_set_data(self._c_obj, self._mem,
                                               len(raw)),
              "Could not set tensor data")

    @classmethod
    def _take(cls, c: TENSOR) -> "Tensor":
        """A copy of a tensor the library made; the library's is freed."""
        t = c.contents
        try:
            dims = [int(t.dims[i]) for i in range(t.nr_dims)]
            raw = ctypes.string_at(t.data, t.size) if t.size else b""
            return cls.from_bytes(dims, TensorType(t.data_type), raw)
        finally:
            lib.vaccel_torch_tensor_delete(c)

    @property
    def dims(self) -> list[int]:
        return list(self._dims)

    @property
    def data_type(self) -> TensorType:
        return self._data_type

    @property
    def data(self) -> list:
        fmt = _FMT[self._data_type]
        n = len(self._raw) // struct.calcsize(fmt)
        return list(struct.unpack(f"={n}{fmt}", self._raw[:n * struct.calcsize(fmt)]))

    def to_bytes(self) -> bytes:
        return self._raw

    def __del__(self):
        c = getattr(self, "_c_obj", None)
        if c:
            lib.vaccel_torch_tensor_delete(c)
            self._c_obj = TENSOR()

    def __repr__(self):
        return (f"<{self.__class__.__name__} dims={self._dims} "
                f"data_type={self._data_type.name}>")


class Buffer:
    """A `struct vaccel_torch_buffer`: run options."""

    def __init__(self, data: bytes | bytearray):
        self._data = bytes(data)
        self._mem = ctypes.create_string_buffer(self._data,
                                                max(len(self._data), 1))
        self._c_obj = TBUF()
        check(lib.vaccel_torch_buffer_new(ctypes.byref(self._c_obj),
                                          self._mem, len(self._data)),
              "Could not initialize buffer")

    @property
    def size(self) -> int:
        return len(self._data)

    @property
    def data(self) -> bytes:
        return self._data

    def __del__(self):
        c = getattr(self, "_c_obj", None)
        if not c:
            return
        # The buffer would free its data: Python owns it, so take it back.
        data, size = ctypes.c_void_p(), ctypes.c_size_t()
        lib.vaccel_torch_buffer_take_data(c, ctypes.byref(data),
                                          ctypes.byref(size))
        lib.vaccel_torch_buffer_delete(c)
        self._c_obj = TBUF()


class TorchMixin:
    """Session.torch_model_load() and Session.torch_model_run()."""

    def torch_model_load(self, resource) -> None:
        """Wraps vaccel_torch_model_load(): loads a MODEL resource
        registered with this session."""
        check(lib.vaccel_torch_model_load(self._c_ptr_or_raise,
                                          resource._c_ptr),
              "Torch model load failed")

    def torch_model_run(self, resource, in_tensors: list[Tensor],
                        nr_out_tensors: int = 1,
                        run_options: Buffer | None = None) -> list[Tensor]:
        """Wraps vaccel_torch_model_run(): a forward of the model this
        session loaded.

        Returns:
            nr_out_tensors output tensors.
        """
        ins = (TENSOR * max(len(in_tensors), 1))(
            *[t._c_obj for t in in_tensors])
        outs = (TENSOR * max(nr_out_tensors, 1))()
        opts = run_options._c_obj if run_options is not None else TBUF()
        ret = lib.vaccel_torch_model_run(self._c_ptr_or_raise,
                                         resource._c_ptr, opts, ins,
                                         len(in_tensors), outs,
                                         nr_out_tensors)
        taken = []
        for i in range(nr_out_tensors):
            if outs[i]:
                taken.append(Tensor._take(outs[i]))
        if ret != 0:
            raise FFIError(ret, "Torch model run failed")
        return taken

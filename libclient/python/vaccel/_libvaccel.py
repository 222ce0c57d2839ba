# SPDX-License-Identifier: Apache-2.0
"""The C library, through ctypes: libvaccel.so.0 and the prototypes used.

Which library: the path in ACCELRING_LIBVACCEL if set, else libvaccel.so.0
as the dynamic loader finds it (ldconfig, LD_LIBRARY_PATH). The broker's
address is the library's business (ACCELRING_ADDRESS, VACCEL_RPC_ADDRESS).

Only the leading fields of the session and resource structs are declared:
the library allocates both (vaccel_session_new, vaccel_resource_new) and
Python only reads their ids, which are first in upstream's layout as in
ours (tests/vaccel checks every field offset against upstream).
"""

import ctypes
import os

from ctypes import (POINTER, c_bool, c_char_p, c_float, c_int, c_int64,
                    c_size_t, c_uint, c_uint32, c_void_p)


def _load():
    path = os.environ.get("ACCELRING_LIBVACCEL") or "libvaccel.so.0"
    try:
        return ctypes.CDLL(path)
    except OSError as e:
        raise ImportError(
            f"vaccel: cannot load {path} ({e}); install accelring "
            "(libvaccel.so.0) where the loader finds it, or set "
            "ACCELRING_LIBVACCEL to its path") from e


lib = _load()
libc = ctypes.CDLL(None)
libc.free.argtypes = [c_void_p]
libc.free.restype = None


class vaccel_session(ctypes.Structure):
    _fields_ = [("id", c_int64), ("remote_id", c_int64), ("hint", c_uint),
                ("is_virtio", c_bool)]


class vaccel_resource(ctypes.Structure):
    _fields_ = [("id", c_int64), ("remote_id", c_int64), ("type", c_int),
                ("path_type", c_int)]


class vaccel_arg(ctypes.Structure):
    _fields_ = [("buf", c_void_p), ("size", c_size_t), ("type", c_int),
                ("custom_type_id", c_uint32), ("owned", c_bool)]


class vaccel_torch_buffer(ctypes.Structure):
    _fields_ = [("data", c_void_p), ("size", c_size_t)]


class vaccel_torch_tensor(ctypes.Structure):
    _fields_ = [("data", c_void_p), ("size", c_size_t), ("owned", c_bool),
                ("nr_dims", c_int64), ("dims", POINTER(c_int64)),
                ("data_type", c_int)]


SESS = POINTER(vaccel_session)
RES = POINTER(vaccel_resource)
ARG = POINTER(vaccel_arg)
TENSOR = POINTER(vaccel_torch_tensor)
TBUF = POINTER(vaccel_torch_buffer)
FLOATS = POINTER(c_float)


def _proto(name, restype, *argtypes):
    fn = getattr(lib, name)
    fn.restype = restype
    fn.argtypes = list(argtypes)


_proto("vaccel_session_new", c_int, POINTER(SESS), c_uint32)
_proto("vaccel_session_release", c_int, SESS)
_proto("vaccel_session_delete", c_int, SESS)
_proto("vaccel_session_has_resource", c_bool, SESS, RES)
_proto("vaccel_resource_new", c_int, POINTER(RES), c_char_p, c_int)
_proto("vaccel_resource_multi_new", c_int, POINTER(RES), POINTER(c_char_p),
       c_size_t, c_int)
_proto("vaccel_resource_from_buf", c_int, POINTER(RES), c_void_p, c_size_t,
       c_int, c_char_p, c_bool)
_proto("vaccel_resource_register", c_int, RES, SESS)
_proto("vaccel_resource_unregister", c_int, RES, SESS)
_proto("vaccel_resource_sync", c_int, RES, SESS)
_proto("vaccel_resource_delete", c_int, RES)
_proto("vaccel_noop", c_int, SESS)
_proto("vaccel_sgemm", c_int, SESS, c_int64, c_int64, c_int64, c_float,
       FLOATS, c_int64, FLOATS, c_int64, c_float, FLOATS, c_int64)
_proto("vaccel_exec", c_int, SESS, c_char_p, c_char_p, ARG, c_size_t, ARG,
       c_size_t)
_proto("vaccel_exec_with_resource", c_int, SESS, RES, c_char_p, ARG,
       c_size_t, ARG, c_size_t)
_proto("vaccel_image_classification", c_int, SESS, c_void_p, c_void_p,
       c_void_p, c_size_t, c_size_t, c_size_t)
for _op in ("detection", "segmentation", "pose", "depth"):
    _proto(f"vaccel_image_{_op}", c_int, SESS, c_void_p, c_void_p, c_size_t,
           c_size_t)
_proto("vaccel_torch_model_load", c_int, SESS, RES)
_proto("vaccel_torch_model_run", c_int, SESS, RES, TBUF, POINTER(TENSOR),
       c_int, POINTER(TENSOR), c_int)
_proto("vaccel_torch_tensor_new", c_int, POINTER(TENSOR), c_int64,
       POINTER(c_int64), c_int)
_proto("vaccel_torch_tensor_set_data", c_int, TENSOR, c_void_p, c_size_t)
_proto("vaccel_torch_tensor_delete", c_int, TENSOR)
_proto("vaccel_torch_buffer_new", c_int, POINTER(TBUF), c_void_p, c_size_t)
_proto("vaccel_torch_buffer_take_data", c_int, TBUF, POINTER(c_void_p),
       POINTER(c_size_t))
_proto("vaccel_torch_buffer_delete", c_int, TBUF)

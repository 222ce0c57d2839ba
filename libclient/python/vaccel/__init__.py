# SPDX-License-Identifier: Apache-2.0
"""vAccel for Python over accelring's libvaccel.so.0 (ctypes, no build step).

The API of upstream's vaccel-python (github.com/nubificus/vaccel-python,
the 0.8 API: Session with the ops as methods, Resource, Arg, FFIError),
for what accelring serves:

    from vaccel import Session
    s = Session()
    s.noop()
    c = s.sgemm(m, n, k, alpha, a, lda, b, ldb, beta, ldc)

Covered: Session (flags, id, remote_id, has_resource; release() and `with`
beyond upstream), Resource (paths, from_buffer, register, unregister,
sync), Arg (typed beyond upstream), FFIError, PluginType, ResourceType,
and the ops noop, sgemm, exec, exec_with_resource, classify, detect,
segment, pose, depth, torch_model_load, torch_model_run (Tensor, TensorType,
Buffer).

Not covered (upstream has them): genop, the TensorFlow and TensorFlow Lite
ops (accelring serves them only from the noop plugin), the deprecated
minmax and fpga ops, torch_jitload_forward, numpy conversions
(Tensor.from_numpy, Resource.from_numpy), Config and the bootstrap
functions (the library bootstraps itself from the VACCEL_* environment).
"""

from .arg import Arg, ArgType
from .error import FFIError, NullPointerError
from .ops.torch import Buffer, Tensor, TensorType
from .plugin import PluginType
from .resource import Resource, ResourceType
from .session import BaseSession, Session

__version__ = "0.8.0"

__all__ = ["Arg", "ArgType", "BaseSession", "Buffer", "FFIError",
           "NullPointerError", "PluginType", "Resource", "ResourceType",
           "Session", "Tensor", "TensorType"]

# SPDX-License-Identifier: Apache-2.0
"""Sessions, as upstream's `vaccel.Session`: a session opened on the broker,
with the ops as methods (from the mixins in vaccel.ops)."""

from __future__ import annotations

import ctypes
import logging

from ._libvaccel import SESS, lib, libc
from .error import FFIError, NullPointerError, check
from .ops.blas import BlasMixin
from .ops.exec import ExecMixin
from .ops.image import ImageMixin
from .ops.noop import NoopMixin
from .ops.torch import TorchMixin
from .plugin import PluginType
from .resource import Resource

logger = logging.getLogger(__name__)


class BaseSession:
    """Wrapper for the `struct vaccel_session` C object.

    Beyond upstream: `release()` (and `with Session() as s:`) closes the
    session on the broker at once instead of when the object is collected;
    ops on a released session fail in the library with EINVAL (FFIError).
    """

    def __init__(self, flags: PluginType | int = 0):
        self._flags = PluginType(flags)
        self._c_obj = SESS()
        ret = lib.vaccel_session_new(ctypes.byref(self._c_obj), self._flags)
        if ret != 0:
            self._c_obj = SESS()
            raise FFIError(ret, "Could not init session")

    @property
    def _c_ptr_or_raise(self):
        if not self._c_obj:
            raise NullPointerError(f"{self.__class__.__name__}._c_obj")
        return self._c_obj

    @property
    def _c_ptr(self):
        return self._c_ptr_or_raise

    @property
    def id(self) -> int:
        """The session's id in this process (0 once released)."""
        return int(self._c_ptr_or_raise.contents.id)

    @property
    def remote_id(self) -> int:
        """The session's id on the broker (0 once released)."""
        return int(self._c_ptr_or_raise.contents.remote_id)

    @property
    def flags(self) -> PluginType:
        return PluginType(self._c_ptr_or_raise.contents.hint)

    @property
    def is_remote(self) -> bool:
        """True: every accelring session runs its ops in the broker."""
        return True

    def has_resource(self, resource: Resource) -> bool:
        return bool(lib.vaccel_session_has_resource(self._c_ptr_or_raise,
                                                    resource._c_ptr))

    def release(self) -> None:
        """Close the session on the broker now; the object stays, released."""
        check(lib.vaccel_session_release(self._c_ptr_or_raise),
              "Could not release session")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self._c_obj and self.id > 0:
            self.release()

    def __del__(self):
        try:
            if not self._c_obj:
                return
            if self.id > 0:
                check(lib.vaccel_session_delete(self._c_obj),
                      "Could not release session")
            else:
                # Released already: only the memory is left.
                libc.free(self._c_obj)
            self._c_obj = SESS()
        except (FFIError, AttributeError):
            logger.exception("Failed to clean up Session")

    def __repr__(self):
        if not self._c_obj:
            return f"<{self.__class__.__name__} (deleted)>"
        return (f"<{self.__class__.__name__} id={self.id} "
                f"remote_id={self.remote_id} flags={self.flags!r}>")


class Session(BaseSession, NoopMixin, ExecMixin, ImageMixin, BlasMixin,
              TorchMixin):
    """A session with the ops: noop, sgemm, exec, exec_with_resource,
    classify/detect/segment/pose/depth, torch_model_load/torch_model_run."""

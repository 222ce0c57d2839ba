# SPDX-License-Identifier: Apache-2.0
"""Resources: files or bytes an op uses (a model, a library), as upstream's
`vaccel.Resource`: `Resource(paths, ResourceType.MODEL)`, or
`Resource.from_buffer(data, type_)`; `register(session)` ships the bytes to
the broker (once), `unregister(session)`. The broker names a resource by
its id, never by a client path.
"""

from __future__ import annotations

import ctypes
import logging
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING

from ._libvaccel import RES, lib
from .error import FFIError, NullPointerError, check

if TYPE_CHECKING:
    from .session import BaseSession as Session

logger = logging.getLogger(__name__)


class ResourceType(IntEnum):
    """vaccel_resource_type_t (<vaccel/resource.h>)."""
    LIB = 0
    DATA = 1
    MODEL = 2


class Resource:
    """Wrapper for the `struct vaccel_resource` C object."""

    def __init__(self, paths: list[Path] | list[str] | Path | str,
                 type_: ResourceType):
        if isinstance(paths, (list, tuple)):
            self._paths = [str(p) for p in paths]
        else:
            self._paths = [str(paths)]
        self._type = ResourceType(type_)
        self._sessions = []
        self._c_obj = RES()
        if len(self._paths) == 1:
            ret = lib.vaccel_resource_new(ctypes.byref(self._c_obj),
                                          self._paths[0].encode(), self._type)
        else:
            arr = (ctypes.c_char_p * len(self._paths))(
                *[p.encode() for p in self._paths])
            ret = lib.vaccel_resource_multi_new(ctypes.byref(self._c_obj), arr,
                                                len(self._paths), self._type)
        if ret != 0:
            self._c_obj = RES()
            raise FFIError(ret, f"Could not initialize resource {self._paths}")

    @classmethod
    def from_buffer(cls, data: bytes | bytearray | memoryview,
                    type_: ResourceType, filename: str = "file") -> "Resource":
        """A resource of one file of these bytes (named filename)."""
        inst = cls.__new__(cls)
        inst._paths = []
        inst._type = ResourceType(type_)
        inst._sessions = []
        inst._c_obj = RES()
        # The library keeps a pointer to these bytes (upstream does too):
        # they live as long as the resource.
        inst._buf = buf = bytes(data)
        ret = lib.vaccel_resource_from_buf(ctypes.byref(inst._c_obj), buf,
                                           len(buf), inst._type,
                                           filename.encode(), True)
        if ret != 0:
            inst._c_obj = RES()
            raise FFIError(ret, "Could not initialize resource from buffer")
        return inst

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
        return int(self._c_ptr_or_raise.contents.id)

    @property
    def remote_id(self) -> int:
        return int(self._c_ptr_or_raise.contents.remote_id)

    @property
    def type(self) -> ResourceType:
        return self._type

    def is_registered(self, session: "Session") -> bool:
        return session in self._sessions

    def register(self, session: "Session") -> None:
        check(lib.vaccel_resource_register(self._c_ptr_or_raise,
                                           session._c_ptr_or_raise),
              f"Could not register resource {self.id} with session "
              f"{session.id}")
        self._sessions.append(session)

    def unregister(self, session: "Session") -> None:
        check(lib.vaccel_resource_unregister(self._c_ptr_or_raise,
                                             session._c_ptr_or_raise),
              f"Could not unregister resource {self.id} from session "
              f"{session.id}")
        self._sessions.remove(session)

    def sync(self, session: "Session") -> None:
        check(lib.vaccel_resource_sync(self._c_ptr_or_raise,
                                       session._c_ptr_or_raise),
              f"Could not synchronize resource {self.id}")

    def delete(self) -> None:
        """Unregister from every live session and free the C object (also
        done when the object is collected)."""
        if not self._c_obj:
            return
        for s in list(self._sessions):
            if s._c_obj and s.id > 0:
                self.unregister(s)
        self._sessions = []
        check(lib.vaccel_resource_delete(self._c_obj),
              "Could not delete resource")
        self._c_obj = RES()

    def __del__(self):
        try:
            self.delete()
        except (FFIError, NullPointerError, AttributeError):
            logger.exception("Failed to clean up Resource")

    def __repr__(self):
        if not self._c_obj:
            return f"<{self.__class__.__name__} (deleted)>"
        return (f"<{self.__class__.__name__} id={self.id} "
                f"paths={self._paths!r} type={self._type.name}>")

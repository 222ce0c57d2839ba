# SPDX-License-Identifier: Apache-2.0
"""exec: a host function, on the broker's exec-allow list, called with
upstream's convention (int fn(struct vaccel_arg *read, size_t nr_read,
struct vaccel_arg *write, size_t nr_write))."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .._libvaccel import lib
from ..arg import c_array
from ..error import check


class ExecMixin:
    """Session.exec() and Session.exec_with_resource()."""

    def exec(self, library: str | Path, symbol: str,
             arg_read: list[Any] | None = None,
             arg_write: list[Any] | None = None) -> list[Any] | None:
        """Wraps vaccel_exec(): runs symbol of library (a host path the
        broker allows) with the arguments (values, or vaccel.Arg).

        Returns:
            The write arguments' values after the call (each of the type it
            was given as), or None without write arguments.

        Raises:
            FFIError: EPERM off the allowlist, ENOENT no such library or
                symbol, ENOEXEC the function returned non-zero, ...
        """
        r, nr, _ = c_array(arg_read)
        w, nw, wobjs = c_array(arg_write)
        check(lib.vaccel_exec(self._c_ptr_or_raise, str(library).encode(),
                              symbol.encode(), r, nr, w, nw),
              f"Exec operation failed ({library}:{symbol})")
        return [a.buf for a in wobjs] if arg_write is not None else None

    def exec_with_resource(self, resource, symbol: str,
                           arg_read: list[Any] | None = None,
                           arg_write: list[Any] | None = None
                           ) -> list[Any] | None:
        """Wraps vaccel_exec_with_resource(): symbol of a LIB resource
        registered with this session (its SHA-256 on exec-allow-sha256)."""
        r, nr, _ = c_array(arg_read)
        w, nw, wobjs = c_array(arg_write)
        check(lib.vaccel_exec_with_resource(self._c_ptr_or_raise,
                                            resource._c_ptr, symbol.encode(),
                                            r, nr, w, nw),
              f"Exec with resource operation failed ({symbol})")
        return [a.buf for a in wobjs] if arg_write is not None else None

# SPDX-License-Identifier: Apache-2.0
"""BLAS: sgemm in the broker's blas plugin."""

from __future__ import annotations

import ctypes

from .._libvaccel import lib
from ..error import check


def _need(rows: int, cols: int, ld: int, what: str) -> int:
    """Elements a row-major rows x cols matrix with leading dimension ld
    spans; ValueError for a shape the library would refuse, so that no
    C code reads past a Python list."""
    if rows < 1 or cols < 1 or ld < cols:
        raise ValueError(f"sgemm: {what} is {rows}x{cols} with leading "
                         f"dimension {ld}: need rows, cols >= 1 and ld >= "
                         "cols")
    return (rows - 1) * ld + cols


def _floats(values, n: int, what: str):
    if len(values) < n:
        raise ValueError(f"sgemm: {what} has {len(values)} elements, its "
                         f"shape needs {n}")
    return (ctypes.c_float * n)(*values[:n])


class BlasMixin:
    """Session.sgemm()."""

    def sgemm(self, m: int, n: int, k: int, alpha: float, a: list[float],
              lda: int, b: list[float], ldb: int, beta: float, ldc: int,
              c: list[float] | None = None) -> list[float]:
        """C = alpha * A * B + beta * C, row-major, in the broker.

        Wraps vaccel_sgemm(): A is m x k (leading dimension lda >= k), B is
        k x n (ldb >= n), C is m x n (ldc >= n). As upstream, C starts as
        zeros; beyond upstream, `c=` gives its initial value (for beta).

        Returns:
            C, (m - 1) * ldc + n floats, row-major.

        Raises:
            ValueError: a shape or a list too short for it.
            FFIError: the op failed.
        """
        ca = _floats(a, _need(m, k, lda, "A"), "A")
        cb = _floats(b, _need(k, n, ldb, "B"), "B")
        nc = _need(m, n, ldc, "C")
        cc = (ctypes.c_float * nc)() if c is None else _floats(c, nc, "C")
        check(lib.vaccel_sgemm(self._c_ptr_or_raise, m, n, k, alpha, ca, lda,
                               cb, ldb, beta, cc, ldc), "SGEMM failed")
        return list(cc)

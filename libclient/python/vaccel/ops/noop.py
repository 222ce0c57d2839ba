# SPDX-License-Identifier: Apache-2.0
"""The debug op."""

from .._libvaccel import lib
from ..error import check


class NoopMixin:
    """Session.noop(): a round trip through the broker's noop plugin."""

    def noop(self) -> None:
        """Wraps vaccel_noop(). Raises FFIError on failure."""
        check(lib.vaccel_noop(self._c_ptr_or_raise), "NoOp operation failed")

# SPDX-License-Identifier: Apache-2.0
"""Errors, as upstream's vaccel-python names them.

A vAccel call that fails raises FFIError with its code: vAccel's codes are
errno values (VACCEL_EPERM is EPERM), so `e.code == errno.EPERM` and
`errno.errorcode[e.code]` work. The broker's reason for a refusal is in the
client's log (VACCEL_LOG_LEVEL, VACCEL_LOG_FILE) and the broker's.
"""

import errno
import os


class FFIError(RuntimeError):
    """A vAccel call returned an error.

    Attributes:
        code (int): the vAccel code (an errno value).
        message (str): what was being done.
    """

    def __init__(self, error_code: int, message: str):
        super().__init__(error_code, message)
        self.code = error_code
        self.message = message

    def __str__(self):
        name = errno.errorcode.get(self.code, "E?")
        return (f"[errno {self.code}] {name}: {self.message} "
                f"({os.strerror(self.code)})")


class NullPointerError(RuntimeError):
    """An object whose C object is gone (deleted) was used."""

    def __init__(self, context: str):
        super().__init__(f"Unexpected NULL pointer encountered in {context}")


def check(ret: int, message: str) -> None:
    """Raises FFIError(ret, message) unless ret is 0."""
    if ret != 0:
        raise FFIError(ret, message)

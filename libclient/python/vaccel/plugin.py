# SPDX-License-Identifier: Apache-2.0
"""Session flags: the plugin type hints of <vaccel/plugin.h>.

A session's flags pick the broker's first plugin of that type for its ops
(else the first that implements the op), as upstream's do.
"""

from enum import IntFlag


class PluginType(IntFlag):
    NONE = 0
    CPU = 0x0001
    GPU = 0x0002
    FPGA = 0x0004
    SOFTWARE = 0x0008
    TENSORFLOW = 0x0010
    TORCH = 0x0020
    JETSON = 0x0040
    GENERIC = 0x0080
    DEBUG = 0x0100
    REMOTE = 0x4000
    ALL = 0xFFFF

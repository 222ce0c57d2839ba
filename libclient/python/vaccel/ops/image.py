# SPDX-License-Identifier: Apache-2.0
"""Image ops: classification in the broker's torch plugin (detection,
segmentation, pose and depth are ENOTSUP there)."""

from __future__ import annotations

import ctypes

from .._libvaccel import lib
from ..error import check


def _text(buf) -> str:
    return buf.raw.split(b"\0", 1)[0].decode(errors="replace")


class ImageMixin:
    """Session.classify() and friends; outputs of at most _out_len bytes."""

    _out_len = 512

    def classify(self, image: bytes) -> tuple[str, str]:
        """Wraps vaccel_image_classification().

        Returns:
            (the classification text, the image name): with the torch
            plugin, one `<label> <probability>` line per top label, and the
            top label.
        """
        img = bytes(image)
        text = ctypes.create_string_buffer(self._out_len)
        name = ctypes.create_string_buffer(self._out_len)
        check(lib.vaccel_image_classification(self._c_ptr_or_raise, img, text,
                                              name, len(img), self._out_len,
                                              self._out_len),
              "Image classification failed")
        return _text(text), _text(name)

    def _image_op(self, fn, image: bytes, what: str) -> str:
        img = bytes(image)
        name = ctypes.create_string_buffer(self._out_len)
        check(fn(self._c_ptr_or_raise, img, name, len(img), self._out_len),
              f"Image {what} failed")
        return _text(name)

    def detect(self, image: bytes) -> str:
        return self._image_op(lib.vaccel_image_detection, image, "detection")

    def segment(self, image: bytes) -> str:
        return self._image_op(lib.vaccel_image_segmentation, image,
                              "segmentation")

    def pose(self, image: bytes) -> str:
        return self._image_op(lib.vaccel_image_pose, image, "pose estimation")

    def depth(self, image: bytes) -> str:
        return self._image_op(lib.vaccel_image_depth, image,
                              "depth estimation")

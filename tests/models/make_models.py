#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The torch plugin's test models, labels and images, made without downloads.

Run at build time by tests/CMakeLists.txt with Debian's /usr/bin/python3
(python3-torch, python3-torchvision): make_models.py OUTDIR. Every output is
deterministic: weights come from torch.manual_seed(0) before each model,
images from arithmetic, so a rebuild gives the same bytes (the tests compare
the plugin with an in-process reference on the same files, not with stored
answers, but deterministic inputs keep failures reproducible).
"""
import os
import sys
from typing import Tuple

# TorchScript writes a module's constants in the order of a Python set, which
# string hashing randomises per process: fix the seed, re-executing before
# anything is hashed, so two builds write the same bytes.
if os.environ.get("PYTHONHASHSEED") != "0":
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable] + sys.argv)

import torch
import torchvision
from torchvision.io import encode_jpeg, encode_png


class Tiny(torch.nn.Module):
    """Nx3x32x32 -> Nx10: small enough for fast tests, with a conv, a
    pooling and a linear layer, so rows of a batch really are mixed by
    nothing but the batch dimension."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3)
        self.pool = torch.nn.AdaptiveAvgPool2d(1)
        self.fc = torch.nn.Linear(8, 10)

    def forward(self, x):
        x = self.pool(torch.relu(self.conv(x)))
        return self.fc(torch.flatten(x, 1))


class FromFile(torch.nn.Module):
    """Reads a host file from inside the graph: the plugin must refuse it."""

    def forward(self, x):
        return torch.from_file("/etc/passwd", size=16, dtype=torch.uint8).float() + x


class FromFileSetState(torch.nn.Module):
    """Reads a host file as it is loaded: TorchScript calls __setstate__
    while unpickling, before anything else of the model runs. The file
    does not exist, so a plugin that let the call run fails the load with
    "unable to open file" instead of refusing it."""

    def __init__(self):
        super().__init__()
        self.t = torch.zeros(16)

    def forward(self, x):
        return x + self.t

    @torch.jit.export
    def __getstate__(self):
        return (self.t, self.training)

    @torch.jit.export
    def __setstate__(self, state: Tuple[torch.Tensor, bool]):
        self.t = torch.from_file("/nonexistent/accelring-torch-test", size=16,
                                 dtype=torch.uint8).float()
        self.training = state[1]


class FromFileNested(torch.nn.Module):
    """The same read one submodule down, called from forward."""

    def __init__(self):
        super().__init__()
        self.inner = FromFile()

    def forward(self, x):
        return self.inner(x) * 2


class Multi(torch.nn.Module):
    """A tuple of two outputs, the second mixing the rows of its input (their
    mean): a batch of runs cannot be split back into rows, so the plugin
    must run each alone."""

    def forward(self, x):
        return x * 2, x.mean(0, keepdim=True)


class Double(torch.nn.Module):
    """An output in float64, which no vaccel_torch_data_type carries."""

    def forward(self, x):
        return x.double()


def script_save(mod, path):
    torch.jit.script(mod.eval()).save(path)


def picture(h, w):
    """A deterministic RGB picture (3xHxW uint8): gradients and a disc, so
    resizing and cropping change the result visibly."""
    y = torch.arange(h).view(h, 1).expand(h, w).float()
    x = torch.arange(w).view(1, w).expand(h, w).float()
    r = x * 255.0 / max(w - 1, 1)
    g = y * 255.0 / max(h - 1, 1)
    disc = ((x - w * 0.6) ** 2 + (y - h * 0.4) ** 2) < (min(h, w) * 0.25) ** 2
    b = torch.where(disc, torch.full_like(x, 230.0), (x + y) % 64 * 2)
    return torch.stack([r, g, b]).round().clamp(0, 255).to(torch.uint8)


def write(path, data):
    with open(path, "wb") as f:
        f.write(bytes(data))


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(1)

    torch.manual_seed(0)
    script_save(torchvision.models.resnet18(weights=None), os.path.join(out, "resnet18.pt"))
    torch.manual_seed(0)
    script_save(torchvision.models.mobilenet_v3_small(weights=None),
                os.path.join(out, "mobilenet_v3_small.pt"))
    torch.manual_seed(0)
    script_save(Tiny(), os.path.join(out, "tiny.pt"))
    script_save(Multi(), os.path.join(out, "multi.pt"))
    script_save(Double(), os.path.join(out, "double.pt"))
    torch.manual_seed(0)
    script_save(FromFile(), os.path.join(out, "from_file.pt"))
    torch.manual_seed(0)
    script_save(FromFileNested(), os.path.join(out, "from_file_nested.pt"))
    torch.manual_seed(0)
    script_save(FromFileSetState(), os.path.join(out, "from_file_setstate.pt"))

    with open(os.path.join(out, "labels.txt"), "w") as f:
        f.writelines("class_%04d\n" % i for i in range(1000))
    with open(os.path.join(out, "tiny_labels.txt"), "w") as f:
        f.writelines("tiny_%d\n" % i for i in range(10))

    pic = picture(240, 320)
    write(os.path.join(out, "picture.png"), encode_png(pic))
    jpeg = encode_jpeg(pic, quality=90)
    write(os.path.join(out, "picture.jpg"), jpeg)
    write(os.path.join(out, "picture224.png"), encode_png(picture(224, 224)))
    gray = (pic.float().mean(0, keepdim=True)).round().to(torch.uint8)
    write(os.path.join(out, "gray.png"), encode_png(gray))
    # A JPEG cut in the middle of its entropy-coded data, with garbage
    # after: the decoder must fail, not return a half image.
    cut = bytes(jpeg)[: len(jpeg) // 2] + bytes(range(256)) * 4
    write(os.path.join(out, "corrupt.jpg"), cut)


if __name__ == "__main__":
    main()

# SPDX-License-Identifier: Apache-2.0
"""test_bindings_python - the Python package (libclient/python/vaccel)
against a real accelringd, started by test_bindings_python.sh, which sets
ACCELRING_ADDRESS, ACCELRING_LIBVACCEL, PYTHONPATH, AR_TEST_EXEC_LIB and,
with the torch plugin built, AR_TEST_MODELS.

Every result is checked against a value computed here: sgemm's C against a
product in Python, exec's outputs as tests/plugins/exec_lib.h documents
them, torch outputs against libtorch in this process.
"""

import errno
import os
import random
import struct
import subprocess
import sys
import unittest

import vaccel
from vaccel import (Arg, ArgType, FFIError, Resource, ResourceType, Session,
                    Tensor, TensorType)

EXEC_LIB = os.environ["AR_TEST_EXEC_LIB"]
MODELS = os.environ.get("AR_TEST_MODELS", "")
AR_TEST_EXEC_IN_ID = 0x45584543
AR_TEST_EXEC_FAIL = 7


def sgemm_ref(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
    """Row-major C = alpha*A*B + beta*C, in double precision."""
    out = list(c)
    for i in range(m):
        for j in range(n):
            acc = sum(a[i * lda + p] * b[p * ldb + j] for p in range(k))
            out[i * ldc + j] = alpha * acc + beta * c[i * ldc + j]
    return out


def fnv(data, seed, rounds):
    """exec_lib.h's checksum, computed apart from the library."""
    h = 0xcbf29ce484222325 ^ seed
    for _ in range(rounds):
        for x in data:
            h = ((h ^ x) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


class TestSession(unittest.TestCase):
    # A session is opened on the broker and closed by release() / `with`.
    def test_session_lifecycle(self):
        with Session(vaccel.PluginType.CPU) as s:
            self.assertGreater(s.id, 0)
            self.assertGreater(s.remote_id, 0)
            self.assertEqual(s.flags, vaccel.PluginType.CPU)
        self.assertEqual(s.id, 0)
        self.assertEqual(s.remote_id, 0)

    # An op on a released session is refused by the library: EINVAL.
    def test_session_released_refused(self):
        s = Session()
        s.noop()
        s.release()
        with self.assertRaises(FFIError) as cm:
            s.noop()
        self.assertEqual(cm.exception.code, errno.EINVAL)
        with self.assertRaises(FFIError) as cm:
            s.release()
        self.assertEqual(cm.exception.code, errno.EINVAL)
        self.assertIn("EINVAL", str(cm.exception))

    # Without a broker at the address, Session() raises with the errno.
    def test_session_no_broker(self):
        env = dict(os.environ, ACCELRING_ADDRESS="unix:///nonexistent/s")
        code = ("import vaccel\n"
                "try:\n vaccel.Session()\n"
                "except vaccel.FFIError as e:\n print('code', e.code)\n")
        out = subprocess.run([sys.executable, "-c", code], env=env,
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(out.stdout.strip(), f"code {errno.ENOENT}",
                         out.stderr)


class TestNoop(unittest.TestCase):
    # noop succeeds through the broker, many times on one session.
    def test_noop_many(self):
        with Session() as s:
            for _ in range(1000):
                s.noop()


class TestSgemm(unittest.TestCase):
    def check(self, m, n, k, lda, ldb, ldc, beta):
        rnd = random.Random(m * 10007 + n * 101 + k)
        a = [rnd.uniform(-1, 1) for _ in range((m - 1) * lda + k)]
        b = [rnd.uniform(-1, 1) for _ in range((k - 1) * ldb + n)]
        c0 = [rnd.uniform(-1, 1) for _ in range((m - 1) * ldc + n)]
        alpha = 0.75
        with Session() as s:
            c = s.sgemm(m, n, k, alpha, a, lda, b, ldb, beta, ldc, c=c0)
        # The reference from the float32 values the library was given.
        f32 = lambda v: [struct.unpack("f", struct.pack("f", x))[0] for x in v]
        ref = sgemm_ref(m, n, k, alpha, f32(a), lda, f32(b), ldb, beta,
                        f32(c0), ldc)
        self.assertEqual(len(c), len(ref))
        worst = max(abs(x - y) for x, y in zip(c, ref))
        self.assertLess(worst, 1e-4 * k, f"{m}x{n}x{k}: max |error| {worst}")

    # C equals the product computed here (square, odd shapes, beta).
    def test_sgemm_result(self):
        self.check(64, 64, 64, 64, 64, 64, 0.0)
        self.check(7, 5, 9, 9, 5, 5, 0.5)

    # Leading dimensions wider than the rows: the padding is respected.
    def test_sgemm_wide_ld(self):
        self.check(6, 4, 3, 8, 7, 9, 0.25)

    # Upstream's call: C starts as zeros and has m*n elements.
    def test_sgemm_upstream_call(self):
        with Session() as s:
            c = s.sgemm(2, 2, 3, 1.0, [1, 2, 3, 4, 5, 6], 3,
                        [7, 8, 9, 10, 11, 12], 2, 0.0, 2)
        self.assertEqual(c, [58.0, 64.0, 139.0, 154.0])

    # A list shorter than its shape, or a bad shape: ValueError, no call.
    def test_sgemm_bad_shape(self):
        with Session() as s:
            with self.assertRaises(ValueError):
                s.sgemm(2, 2, 3, 1.0, [1.0] * 5, 3, [1.0] * 6, 2, 0.0, 2)
            with self.assertRaises(ValueError):
                s.sgemm(2, 2, 3, 1.0, [1.0] * 6, 2, [1.0] * 6, 2, 0.0, 2)
            with self.assertRaises(ValueError):
                s.sgemm(0, 2, 3, 1.0, [1.0] * 6, 3, [1.0] * 6, 2, 0.0, 2)


class TestExec(unittest.TestCase):
    # ar_test_count: the counts, and each read value plus its custom id.
    def test_exec_count(self):
        with Session() as s:
            out = s.exec(EXEC_LIB, "ar_test_count",
                         [1, 2, Arg(40, ArgType.UINT32, custom_id=2), 99],
                         [0, 0, 0, 0])
        self.assertEqual(out, [4, 4, 42, 99])

    # ar_test_checksum: FNV-1a over read[0] `rounds` times from a seed,
    # typed arguments (a CUSTOM input, a UINT64 output) as it checks them.
    def test_exec_checksum(self):
        data = bytes(range(256)) * 3 + b"\0\0accelring"
        seed, rounds = 0x1234, 3
        with Session() as s:
            out = s.exec(EXEC_LIB, "ar_test_checksum",
                         [data, Arg(struct.pack("=II", seed, rounds),
                                    ArgType.CUSTOM,
                                    custom_id=AR_TEST_EXEC_IN_ID)],
                         [Arg(0, ArgType.UINT64), bytearray(16)])
        self.assertEqual(out[0], fnv(data, seed, rounds))
        nbytes, nonzero, type_seen = struct.unpack("=QII", out[1])
        self.assertEqual(nbytes, len(data))
        self.assertEqual(nonzero, sum(1 for x in data if x))
        self.assertEqual(type_seen, ArgType.RAW)
        self.assertEqual(fnv(b"a", 0, 1), 0xaf63dc4c8601ec8c)

    # A symbol or library off exec-allow: EPERM; a failing function:
    # ENOEXEC; nothing else changes for the session.
    def test_exec_refused(self):
        with Session() as s:
            for lib, sym in ((EXEC_LIB, "ar_test_hidden"),
                             ("/usr/lib/x86_64-linux-gnu/libc.so.6", "getpid"),
                             (EXEC_LIB + "/../libartest-exec.so",
                              "ar_test_count")):
                with self.assertRaises(FFIError, msg=f"{lib}:{sym}") as cm:
                    s.exec(lib, sym, [], [0])
                self.assertEqual(cm.exception.code, errno.EPERM,
                                 f"{lib}:{sym}: {cm.exception}")
            with self.assertRaises(FFIError) as cm:
                s.exec(EXEC_LIB, "ar_test_fail", [1], [0])
            self.assertEqual(cm.exception.code, errno.ENOEXEC)
            s.noop()


class TestResource(unittest.TestCase):
    # A LIB resource registered with a session; exec_with_resource runs it
    # when its SHA-256 is allowed with that symbol, EPERM for another.
    def test_resource_exec(self):
        with Session() as s:
            r = Resource(EXEC_LIB, ResourceType.LIB)
            self.assertFalse(s.has_resource(r))
            r.register(s)
            self.assertTrue(r.is_registered(s))
            self.assertTrue(s.has_resource(r))
            self.assertGreater(r.remote_id, 0)
            out = s.exec_with_resource(r, "ar_test_count", [5, 6, 7], [0, 0, 0])
            self.assertEqual(out, [3, 3, 7])
            with self.assertRaises(FFIError) as cm:
                s.exec_with_resource(r, "ar_test_checksum", [], [0, 0])
            self.assertEqual(cm.exception.code, errno.EPERM)
            r.unregister(s)
            self.assertFalse(s.has_resource(r))
            # Not registered any more: refused.
            with self.assertRaises(FFIError) as cm:
                s.exec_with_resource(r, "ar_test_count", [], [0, 0])
            self.assertEqual(cm.exception.code, errno.EPERM)
            r.delete()

    # The same bytes from a buffer are the same library to the broker.
    def test_resource_from_buffer(self):
        with open(EXEC_LIB, "rb") as f:
            data = f.read()
        with Session() as s:
            r = Resource.from_buffer(data, ResourceType.LIB, "libx.so")
            r.register(s)
            out = s.exec_with_resource(r, "ar_test_count", [], [0, 0])
            self.assertEqual(out, [0, 2])

    # A missing file: FFIError at construction, EINVAL as upstream reads
    # a path that names nothing (libclient/vaccel/resource.c).
    def test_resource_missing(self):
        with self.assertRaises(FFIError) as cm:
            Resource("/nonexistent/model.pt", ResourceType.MODEL)
        self.assertEqual(cm.exception.code, errno.EINVAL)


@unittest.skipUnless(MODELS, "the torch plugin is not built")
class TestTorch(unittest.TestCase):
    # tiny.pt through the broker equals libtorch in this process.
    def test_torch_model_run(self):
        import torch  # Debian's python3-torch, as tests/models uses
        torch.manual_seed(1)
        x = torch.rand(3, 3, 32, 32)
        ref = torch.jit.load(os.path.join(MODELS, "tiny.pt"))(x)
        with Session() as s:
            model = Resource(os.path.join(MODELS, "tiny.pt"),
                             ResourceType.MODEL)
            model.register(s)
            s.torch_model_load(model)
            out = s.torch_model_run(model, [Tensor(list(x.shape),
                                                   TensorType.FLOAT,
                                                   x.flatten().tolist())])
        self.assertEqual(len(out), 1)
        self.assertEqual(out[0].dims, list(ref.shape))
        self.assertEqual(out[0].data_type, TensorType.FLOAT)
        got = torch.tensor(out[0].data).reshape(ref.shape)
        self.assertLess(float((got - ref).abs().max()), 1e-5)

    # A run in a session that did not load the model: EINVAL.
    def test_torch_not_loaded(self):
        with Session() as s:
            model = Resource(os.path.join(MODELS, "tiny.pt"),
                             ResourceType.MODEL)
            model.register(s)
            with self.assertRaises(FFIError) as cm:
                s.torch_model_run(model, [Tensor([1, 3, 32, 32],
                                                 TensorType.FLOAT,
                                                 [0.0] * 3072)])
            self.assertEqual(cm.exception.code, errno.EINVAL)

    # Classification with the session's own model and labels: the top
    # labels with probabilities, the first being the image name; detection
    # ENOTSUP.
    def test_torch_classify(self):
        with open(os.path.join(MODELS, "picture.jpg"), "rb") as f:
            img = f.read()
        with Session() as s:
            model = Resource([os.path.join(MODELS, "mobilenet_v3_small.pt"),
                              os.path.join(MODELS, "labels.txt")],
                             ResourceType.MODEL)
            model.register(s)
            s.torch_model_load(model)
            text, name = s.classify(img)
        lines = text.splitlines()
        self.assertEqual(len(lines), 5, text)
        for line in lines:
            label, p = line.split()
            self.assertRegex(label, r"^class_\d{4}$")
            self.assertTrue(0.0 < float(p) < 1.0)
        self.assertEqual(name, lines[0].split()[0])
        # Detection is not the torch plugin's (nor noop's dummy answer).
        with Session() as s:
            with self.assertRaises(FFIError) as cm:
                s.detect(img)
            self.assertEqual(cm.exception.code, errno.ENOTSUP)


if __name__ == "__main__":
    unittest.main(verbosity=2)

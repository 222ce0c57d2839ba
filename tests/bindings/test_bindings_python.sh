#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# test_bindings_python - the Python package (libclient/python) against a
# real accelringd on a private socket: the unit tests in
# test_bindings_python.py, then the README's example
# (libclient/python/examples/sgemm.py, which the README's "Bindings"
# section must hold verbatim) run as a user would, from the source tree
# and from the package as `cmake --install` puts it.
#
# usage: test_bindings_python.sh BUILD_DIR SOURCE_DIR PYTHON EXEC_LIB
#                                [TORCH_PLUGIN MODELS_DIR]
set -euo pipefail
build=$(realpath "$1")
src=$(realpath "$2")
python=$3
execlib=$(realpath "$4")
torch=${5:+$(realpath "$5")}
models=${6:+$(realpath "$6")}
command -v "$python" >/dev/null || { echo "test_bindings_python: no $python: skipped"; exit 77; }
. "$src/tests/bindings/broker.sh"
work=$(mktemp -d /tmp/accelring-bindings-py.XXXXXX)
trap 'ar_broker_stop; rm -rf "$work"' EXIT

fail()
{
	echo "test_bindings_python: FAIL: $*"
	echo "--- broker log:"
	cat "$work/broker.log"
	exit 1
}

ar_broker_start "$work" "$build" "$execlib" "$torch"
ar_sanitizer_env "$build"
run() { LD_PRELOAD="$AR_PRELOAD${LD_PRELOAD:+:$LD_PRELOAD}" "$@"; }
export ACCELRING_ADDRESS="unix://$work/s"
export ACCELRING_LIBVACCEL="$build/libvaccel.so.0"
export PYTHONPATH="$src/libclient/python"
export PYTHONDONTWRITEBYTECODE=1
export AR_TEST_EXEC_LIB="$execlib"
export AR_TEST_MODELS="$models"
# The run directories the library makes: in the test's own directory.
export XDG_RUNTIME_DIR="$work"
run "$python" "$src/tests/bindings/test_bindings_python.py" || fail "the unit tests (above)"

example="$src/libclient/python/examples/sgemm.py"
"$python" - "$src/README.md" "$example" <<'PY' || fail "README and $example differ"
import sys
readme, example = (open(p).read() for p in sys.argv[1:])
section = readme.split("\n## Bindings\n", 1)[1].split("\n## ", 1)[0]
sys.exit(0 if "```python\n" + example + "```\n" in section else 1)
PY
run "$python" "$example" > "$work/example.out" || fail "the example"
cat "$work/example.out"
grep -qx "C = \[58.0, 64.0, 139.0, 154.0\]" "$work/example.out" || fail "the example's C"

# Installed (its own install component), the package works from there.
cmake --install "$build" --component python --prefix "$work/prefix" >/dev/null ||
	fail "cmake --install --component python"
pkg=$(dirname "$(find "$work/prefix" -path '*/vaccel/__init__.py')")
[ -f "$pkg/ops/blas.py" ] || fail "the installed package is incomplete"
PYTHONPATH=$(dirname "$pkg") run "$python" -c 'import sys, vaccel; assert vaccel.__file__.startswith(sys.argv[1]), vaccel.__file__' "$work/prefix" ||
	fail "the installed package is not the one imported"
PYTHONPATH=$(dirname "$pkg") run "$python" "$example" | grep -qx "C = \[58.0, 64.0, 139.0, 154.0\]" ||
	fail "the example with the installed package"
echo "test_bindings_python: passed"

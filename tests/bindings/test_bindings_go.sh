#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# test_bindings_go - the Go package (libclient/go) against a real
# accelringd on a private socket: `go test` of tests/bindings/go (a module
# of its own that requires the package through a replace, as a user's
# would), then the README's example (libclient/go/examples/sgemm/main.go,
# which the README's "Bindings" section must hold verbatim) built in a
# fresh module as the README says and run.
#
# Offline: the module requires nothing but the package; GOPROXY=off,
# GOPATH in the test's directory, the build cache in BUILD_DIR/go-cache
# (kept, so that a second run compiles nothing).
#
# usage: test_bindings_go.sh BUILD_DIR SOURCE_DIR EXEC_LIB
#                            [TORCH_PLUGIN MODELS_DIR]
set -euo pipefail
build=$(realpath "$1")
src=$(realpath "$2")
execlib=$(realpath "$3")
torch=${4:+$(realpath "$4")}
models=${5:+$(realpath "$5")}
command -v go >/dev/null || { echo "test_bindings_go: go is not installed (scripts/setup.sh installs golang-go): skipped"; exit 77; }
. "$src/tests/bindings/broker.sh"
work=$(mktemp -d /tmp/accelring-bindings-go.XXXXXX)
trap 'ar_broker_stop; chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT

fail()
{
	echo "test_bindings_go: FAIL: $*"
	echo "--- broker log:"
	cat "$work/broker.log"
	exit 1
}

# The build tree's library, as pkg-config would give an installed one.
mkdir -p "$work/pkgconfig"
cat > "$work/pkgconfig/vaccel.pc" <<PC
Name: vaccel
Description: accelring's libvaccel, in its build tree
Version: 0.8.0
Cflags: -I$src/include
Libs: -L$build -lvaccel
PC
export PKG_CONFIG_PATH="$work/pkgconfig"
export LD_LIBRARY_PATH="$build${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export GOPATH="$work/gopath" GOCACHE="$build/go-cache" GOPROXY=off GOFLAGS= GO111MODULE=on
export GOTMPDIR="$work"
export XDG_RUNTIME_DIR="$work"
export AR_TEST_EXEC_LIB="$execlib" AR_TEST_MODELS="$models" AR_TEST_TORCH_REF=

ar_broker_start "$work" "$build" "$execlib" "$torch"
ar_sanitizer_env "$build"
preload="$AR_PRELOAD${LD_PRELOAD:+:$LD_PRELOAD}"
export ACCELRING_ADDRESS="unix://$work/s"

if [ -n "$models" ]; then
	# libtorch's own output for an input, the reference TestTorchModelRun
	# compares the broker's with.
	export AR_TEST_TORCH_REF="$work/tiny"
	/usr/bin/python3 - "$models/tiny.pt" "$AR_TEST_TORCH_REF" <<'PY' || fail "the torch reference"
import sys, torch
torch.manual_seed(1)
x = torch.rand(3, 3, 32, 32)
y = torch.jit.load(sys.argv[1])(x)
open(sys.argv[2] + ".in", "wb").write(x.numpy().tobytes())
open(sys.argv[2] + ".out", "wb").write(y.detach().numpy().astype("float32").tobytes())
PY
fi

(cd "$src/tests/bindings/go" && go vet ./... && go test -count=1 -v -exec "env LD_PRELOAD=$preload" ./...) || fail "go test (above)"

example="$src/libclient/go/examples/sgemm/main.go"
/usr/bin/python3 - "$src/README.md" "$example" <<'PY' || fail "README and $example differ"
import sys
readme, example = (open(p).read() for p in sys.argv[1:])
section = readme.split("\n## Bindings\n", 1)[1].split("\n## ", 1)[0]
sys.exit(0 if "```go\n" + example + "```\n" in section else 1)
PY
mkdir "$work/app"
cp "$example" "$work/app/main.go"
(
	cd "$work/app"
	go mod init example.com/app >/dev/null 2>&1
	go mod edit -require=accelring.local/vaccel@v0.0.0 \
		-replace=accelring.local/vaccel="$src/libclient/go"
	go build -o app .
) || fail "building the example in a module of its own"
LD_PRELOAD="$preload" "$work/app/app" > "$work/example.out" || fail "the example"
cat "$work/example.out"
grep -qx "C = \[58 64 139 154\]" "$work/example.out" || fail "the example's C"
echo "test_bindings_go: passed"

#!/usr/bin/env bash
# The README's first command: install what is needed, build, start a real
# accelringd on a private socket, run the noop, sgemm, classify and torch
# examples against it (their output is shown), and stop it.
# Extra arguments are passed to accelringd (e.g. --log-level=info).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/setup.sh"
# The build's own output (and the static examples' harmless getaddrinfo
# linker warnings) goes to a log, shown only if the build fails.
buildlog=$(mktemp /tmp/accelring-build.XXXXXX.log)
if ! { cmake -S "$top" -B "$top/build" -DCMAKE_BUILD_TYPE=Release &&
       cmake --build "$top/build" -j"$(nproc)"; } >"$buildlog" 2>&1; then
	cat "$buildlog" >&2
	echo "demo: the build failed (log above, kept in $buildlog)" >&2
	exit 1
fi
rm -f "$buildlog"

dir=$(mktemp -d /tmp/accelring-demo.XXXXXX)
broker=
cleanup() {
	if [ -n "$broker" ] && kill -0 "$broker" 2>/dev/null; then
		kill -TERM "$broker"
		wait "$broker" || true
	fi
	rm -rf "$dir"
}
trap cleanup EXIT

# The torch plugin's models are the tests' (tests/models/make_models.py:
# seeded weights, no downloads): its labels are class_0000 ... class_0999.
models=$top/build/tests/models
plugins=blas:mbench:noop
torch=()
if [ -e "$top/build/plugins/libaccelring-torch.so" ]; then
	plugins=torch:$plugins
	torch=(--torch-image-model="$models/mobilenet_v3_small.pt"
	       --torch-image-labels="$models/labels.txt")
fi
echo "== starting accelringd on $dir/accelring.sock (plugins: ${plugins//:/, })"
exec 3>"$dir/ready"
ACCELRING_READY_FD=3 "$top/build/accelringd" --socket="$dir/accelring.sock" \
	--plugin-dir="$top/build/plugins" --plugins="$plugins" "${torch[@]}" \
	--log-level=info "$@" 2> >(sed 's/^/   [broker] /' >&2) &
broker=$!
exec 3>&-
for _ in $(seq 100); do
	grep -q ready "$dir/ready" 2>/dev/null && break
	sleep 0.05
done
export ACCELRING_ADDRESS="unix://$dir/accelring.sock"
echo "== ACCELRING_ADDRESS=$ACCELRING_ADDRESS"

echo "== noop 100000   (vAccel's noop example: the framework's own cost)"
"$top/build/examples/noop" 100000
echo "== sgemm 5 512   (C = alpha*A*B + beta*C in the blas plugin, checked here)"
"$top/build/examples/sgemm" 5 512
if [ ${#torch[@]} -gt 0 ]; then
	echo "== classify picture.jpg 10   (mobilenet_v3_small in the torch plugin: decoded,"
	echo "   resized and normalized there; the top 5 labels with their probabilities)"
	"$top/build/examples/classify" "$models/picture.jpg" 10
else
	echo "== classify      (no torch plugin built: answered by the noop plugin)"
	head -c 65536 /dev/urandom >"$dir/image.bin"
	"$top/build/examples/classify" "$dir/image.bin" 10
fi
echo "== an unchanged vAccel program, built as its own build files would: pkg-config vaccel"
cmake --install "$top/build" --prefix "$dir/prefix" >/dev/null
pc=$(find "$dir/prefix" -name vaccel.pc -printf '%h')
echo "   cc genop.c \$(pkg-config --cflags --libs vaccel)"
cc "$top/tests/vaccel/examples/genop.c" -o "$dir/genop" \
	$(PKG_CONFIG_PATH="$pc" pkg-config --cflags --libs vaccel) -lm
echo "   (its one <error> line is the example checking that genop refuses op type 24)"
LD_LIBRARY_PATH=$(dirname "$pc") "$dir/genop"
if [ ${#torch[@]} -gt 0 ]; then
	echo "== torch tiny.pt   (vaccel_torch_model_load/run of a TorchScript model, the same way)"
	cc "$top/tests/vaccel/examples/torch.c" -o "$dir/torch" \
		$(PKG_CONFIG_PATH="$pc" pkg-config --cflags --libs vaccel)
	echo "   (its two <error> lines are the example checking two refusals)"
	LD_LIBRARY_PATH=$(dirname "$pc") "$dir/torch" "$models/tiny.pt"
fi
echo "== stopping accelringd (SIGTERM)"

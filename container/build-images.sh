#!/usr/bin/env bash
# build-images.sh [BUILD_DIR] [TAG] - build the broker and example client
# images (container/Containerfile.*) from a build tree, with podman (or
# CONTAINER_ENGINE=docker). FROM scratch: no base image is pulled.
#   cmake -S . -B build && cmake --build build && container/build-images.sh build
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(realpath "${1:-$top/build}")
tag=${2:-latest}
engine=${CONTAINER_ENGINE:-podman}

for f in accelringd plugins/libaccelring-blas.so plugins/libaccelring-noop.so \
	 examples/static/noop examples/static/sgemm; do
	[ -e "$build/$f" ] || { echo "build-images: $build/$f is not built" >&2; exit 1; }
done
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT

# The broker: binary, plugins, and their libraries at the loader's paths.
mkdir -p "$ctx/broker/rootfs"/{usr/sbin,usr/lib/accelring,run/accelring,tmp}
cp "$build/accelringd" "$ctx/broker/rootfs/usr/sbin/"
cp "$build"/plugins/libaccelring-{blas,noop,mbench}.so "$ctx/broker/rootfs/usr/lib/accelring/"
"$top/scripts/bundle-libs.sh" "$ctx/broker/rootfs" "$build/accelringd" \
	"$build"/plugins/libaccelring-{blas,noop,mbench}.so
cp "$top/container/Containerfile.broker" "$ctx/broker/Containerfile"

# The client: static examples and the socket's mount point.
mkdir -p "$ctx/client/rootfs"/{bin,run/accelring}
cp "$build"/examples/static/{noop,sgemm,classify} "$ctx/client/rootfs/bin/"
cp "$top/container/Containerfile.client" "$ctx/client/Containerfile"

"$engine" build -q -t "accelring/broker:$tag" "$ctx/broker"
"$engine" build -q -t "accelring/example:$tag" "$ctx/client"
echo "build-images: accelring/broker:$tag and accelring/example:$tag"

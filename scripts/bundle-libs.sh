#!/usr/bin/env bash
# bundle-libs.sh ROOT FILE... - copy the shared libraries FILEs load (and
# the dynamic loader) into ROOT at the paths the loader looks for them, so
# that ROOT can be a root filesystem without a distribution: a VM test's
# initramfs, a FROM scratch container image.
set -euo pipefail
root=$1
shift
ldd "$@" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\/.*ld-linux/ { print $1 }' |
	sort -u | while read -r lib; do
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done

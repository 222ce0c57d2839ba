#!/usr/bin/env bash
# The README's first command: install what is needed, build, and run the
# main job. Until the broker exists that is the ring benchmark, which prints
# how the ring compares with the cross-core floor and a raw SPSC ring
# measured in the same run. Extra arguments go to bench_ring (--json, ...).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/setup.sh"
cmake -S "$top" -B "$top/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$top/build" -j"$(nproc)" --target bench_ring >/dev/null
echo "== bench_ring (two processes, one memfd, $(nproc) CPUs)"
exec "$top/build/bench/bench_ring" "$@"

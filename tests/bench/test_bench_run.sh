#!/usr/bin/env bash
# test_bench_run: bench/run --quick against this build, end to end: every
# section runs against real brokers, every row's baseline is measured in the
# same run (--check), and the table has the rows the README promises, in
# JSON and Markdown. No timing is judged: machines are noisy. Quick mode
# says so on stdout (a header line, every section's title) and in the
# Markdown, a full run's table does not, and --update-readme refuses a
# quick table (on a copy of the tree); --plot draws the main rows, and only
# them, as a PNG.
# usage: test_bench_run.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
out=$(mktemp -d /tmp/accelring-bench-test.XXXXXX)
trap 'rm -rf "$out"' EXIT

if ! command -v hyperfine >/dev/null; then
	echo "hyperfine is not installed (scripts/setup.sh installs it)" >&2
	exit 1
fi
"$src/bench/run" --quick --no-build --build-dir "$build" --check \
	--json "$out/bench.json" --markdown "$out/bench.md" --plot "$out/bench.png" \
	>"$out/table.txt" 2>"$out/stderr.txt" || { cat "$out/stderr.txt"; exit 1; }
cat "$out/table.txt"
fail() { echo "test_bench_run: FAIL: $*" >&2; exit 1; }

# Quick mode, flagged: the first line, and every section's title.
head -n 1 "$out/table.txt" | grep -q "^QUICK MODE (bench/run --quick): .*rough" ||
	fail "no quick-mode header on the table's first line"
titles=$(grep -c '^\[[a-z]*\]' "$out/table.txt")
marked=$(grep -c '^\[[a-z]*\] (quick mode: rough figures)$' "$out/table.txt")
[ "$titles" -gt 0 ] && [ "$titles" = "$marked" ] ||
	fail "$marked of $titles section titles marked quick"
grep -q '^\*\*QUICK MODE' "$out/bench.md" &&
	[ "$(grep -c '^\*\*[a-z]*\*\*$' "$out/bench.md")" = 0 ] ||
	fail "the Markdown does not flag quick mode on every section"
# The plot: a PNG of the main rows.
[ "$(head -c 8 "$out/bench.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] ||
	fail "--plot wrote no PNG"
grep "^bench/run: plot: " "$out/stderr.txt" | tr ':,' '\n\n' | sed 's/^ //' \
	| grep / >"$out/plotted.txt" || fail "no 'plot:' line"
for row in broker_noop_rtt_poll/floor_pingpong broker_noop_poll_blocks/floor_blocks broker_noop_default_blocks/floor_blocks broker_noop_rtt_poll/unix_socket_rtt \
	broker_noop_async/unix_socket_batch64 sgemm_1024_broker/sgemm_1024_inprocess \
	broker_noop_rtt_tcp/tcp_socket_rtt_unpinned clients_4_shm/clients_4_unix_socket \
	process_noop_1_shm/process_noop_1_inprocess; do
	grep -qx "$row" "$out/plotted.txt" || fail "$row not plotted"
done
! grep -qE "^(floor_pingpong|unix_socket_rtt|sgemm_64_inprocess|broker_noop_rtt_tcp/broker_noop_rtt_shm_unpinned)" \
	"$out/plotted.txt" || fail "a baseline or a row that is not a main one plotted"
# The same rows as a full run's: no quick mark; and --update-readme, on a
# copy of the tree, refuses the quick table and takes the full one.
mkdir -p "$out/tree/bench"
cp "$src/bench/run" "$out/tree/bench/run"
cp "$src/README.md" "$out/tree/README.md"
python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); d["mode"] = "full"
json.dump(d, open(sys.argv[2], "w"))' "$out/bench.json" "$out/full.json"
"$out/tree/bench/run" --from-json "$out/full.json" >"$out/full.txt"
! grep -qi quick "$out/full.txt" || fail "a full run's table marked quick"
if "$out/tree/bench/run" --from-json "$out/bench.json" --update-readme \
	>/dev/null 2>"$out/refused.txt"; then
	fail "--update-readme took a quick run's table"
fi
grep -q "quick run's table" "$out/refused.txt" && cmp -s "$src/README.md" "$out/tree/README.md" ||
	fail "--update-readme of a quick table: no refusal, or README.md changed"
"$out/tree/bench/run" --from-json "$out/full.json" --update-readme >/dev/null 2>&1 &&
	! cmp -s "$src/README.md" "$out/tree/README.md" || fail "--update-readme of a full table"

python3 - "$out/bench.json" "$out/bench.md" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
md = open(sys.argv[2]).read()
names = [r["name"] for r in doc["rows"]]
want = [
    # ring
    "floor_pingpong", "ring_rtt_poll", "ring_inplace_64B_batch64",
    # broker: noop per transport, against the floor and plain sockets
    "unix_socket_rtt", "tcp_socket_rtt_unpinned", "broker_noop_rtt_poll",
    "broker_noop_rtt_spin_sleep", "broker_noop_rtt_shm_unpinned",
    "broker_noop_rtt_tcp", "broker_noop_rtt_unix_stream",
    # the floor and the noop in alternating blocks on the same CPUs
    "floor_blocks", "broker_noop_poll_blocks", "broker_noop_default_blocks",
    # broker: throughput per transport
    "broker_noop_async", "broker_noop_async_tcp", "broker_noop_async_unix_stream",
    # broker: sgemm sizes against in process
    "sgemm_64_inprocess", "sgemm_64_broker", "sgemm_256_broker", "sgemm_1024_broker",
    "sgemm_1024_tcp", "sgemm_1024_unix_stream",
    # resources (quick: 1 and 16 MiB) per transport against a socket copy,
    # exec in process (the broker's exec rows may be skipped: see below)
    "socket_copy_1MiB", "socket_copy_sha256_1MiB", "resource_pack_1MiB",
    "resource_register_1MiB_shm", "resource_register_16MiB_tcp",
    "resource_register_16MiB_unix_stream", "exec_fnptr_inprocess",
    "exec_dlopen_each_inprocess", "exec_vaccel_shm", "exec_native_shm",
    "exec_native_tcp", "exec_native_unix_stream",
    # many clients (quick: 1 and 4)
    "clients_1_unix_socket", "clients_1_shm", "clients_4_shm", "clients_4_shm_nospin",
    "clients_4_tcp_socket", "clients_4_tcp",
    # torch (quick: mobilenet_v3_small, 16 clients of tiny); skipped
    # where the torch plugin is not built
    "torch_mobilenet_v3_small_inprocess", "torch_mobilenet_v3_small_shm",
    "torch_mobilenet_v3_small_unix_stream", "torch_mobilenet_v3_small_tcp",
    "torch_clients16_inprocess", "torch_clients16_nobatch", "torch_clients16_batch",
    # whole processes
    "process_noop_1_inprocess", "process_noop_1_shm", "process_sgemm_5_128_inprocess",
    "process_sgemm_5_128_shm", "process_sgemm_5_128_tcp", "process_sgemm_5_128_unix_stream",
]
missing = [n for n in want if n not in names]
assert not missing, f"rows missing: {missing}"
for r in doc["rows"]:
    # Skipped only for want of the exec or torch plugin, and saying so.
    if r.get("skipped"):
        assert (r["name"].startswith("exec_") and "exec plugin not built" in r["note"]) or \
            (r["name"].startswith("torch_") and "torch plugin not built" in r["note"]), r
        assert f"| {r['name']} |" in md, f"{r['name']} not in the Markdown"
        continue
    if r["name"].startswith(("clients_", "broker_noop_async", "torch_clients")) and not r["name"].endswith("_nospin") or \
       r["name"].endswith("_socket_batch64"):
        assert r["ops_per_s"] and r["ops_per_s"] > 0, r
    assert f"| {r['name']} |" in md, f"{r['name']} not in the Markdown"
for k in ("cpus", "kernel"):
    assert doc["machine"].get(k), f"machine.{k} missing"
assert doc["mode"] == "quick" and doc["command"].startswith("bench/run")
print(f"test_bench_run: {len(names)} rows, {len(set(r['section'] for r in doc['rows']))} sections: OK")
PY

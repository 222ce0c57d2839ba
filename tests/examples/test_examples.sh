#!/usr/bin/env bash
# test_examples - the example programs (libclient/examples): --help and -h
# print the usage on stdout and exit 0; garbage, out-of-range and extra
# arguments exit 2 with the usage on stderr before anything runs (their
# broker address leads nowhere, so a program that went on would exit 1);
# and real runs against a real accelringd (blas, noop), over shared memory
# and a UNIX stream socket, each checking its own results: noop, sgemm
# (every entry of a small C, a sample of a large one), classify, async
# (each of many ops in flight completed once) and zerocopy (sgemm in
# ar_buf_alloc memory, a malloc'd matrix refused with EFAULT).
#
# usage: test_examples.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$(realpath "$1")
ex=$build/examples
work=$(mktemp -d /tmp/accelring-examples.XXXXXX)
broker=
cleanup() {
	if [ -n "$broker" ]; then
		kill -TERM "$broker" 2>/dev/null || true
		wait "$broker" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "test_examples: FAIL: $*"; exit 1; }

# ---- arguments ----
for prog in noop sgemm classify async zerocopy; do
	for h in --help -h; do
		"$ex/$prog" "$h" >"$work/out" 2>"$work/err" || fail "$prog $h: exit $?"
		grep -q "^usage: $ex/$prog" "$work/out" && [ ! -s "$work/err" ] ||
			fail "$prog $h: not the usage on stdout alone"
	done
done
bad() {	# PROG ARGS...: must exit 2 with the usage on stderr, nothing run
	local prog=$1 rc=0
	shift
	ACCELRING_ADDRESS="unix://$work/nobroker" "$ex/$prog" "$@" >"$work/out" 2>"$work/err" ||
		rc=$?
	if [ "$rc" != 2 ] || ! grep -q "^usage: " "$work/err" || [ -s "$work/out" ]; then
		cat "$work/out" "$work/err"
		fail "$prog $*: exit $rc, not 2 with the usage on stderr and nothing run"
	fi
	echo "test_examples: $prog $*: exit 2: $(head -n 1 "$work/err")"
}
img=$work/image.bin
head -c 4096 /dev/urandom >"$img"
bad noop abc
bad noop 0
bad noop -1
bad noop " 5"
bad noop 5x
bad noop ""
bad noop 99999999999999999999999
bad noop 1000000001
bad noop 10 20
bad sgemm x
bad sgemm 1 0
bad sgemm 1 abc
bad sgemm 1 16385
bad sgemm 1 64 extra
bad classify
bad classify "$img" 0
bad classify "$img" many
bad classify "$img" 1 2
bad async 0
bad async 10 0
bad async 10 4097
bad async 1e3
bad zerocopy 0
bad zerocopy 64 0
bad zerocopy 8193
bad zerocopy 64 1 1

# ---- real runs ----
exec 3>"$work/ready"
ACCELRING_READY_FD=3 "$build/accelringd" --socket="$work/s" \
	--plugin-dir="$build/plugins" --plugins=blas:noop 2>"$work/broker.log" &
broker=$!
exec 3>&-
for _ in $(seq 100); do
	grep -q ready "$work/ready" 2>/dev/null && break
	kill -0 "$broker" 2>/dev/null || { cat "$work/broker.log"; fail "the broker exited"; }
	sleep 0.05
done
grep -q ready "$work/ready" || { cat "$work/broker.log"; fail "the broker is not ready"; }
shm=unix://$work/s stream=unix-stream://$work/s
good() {	# ADDRESS PATTERN PROG ARGS...: exit 0 and PATTERN (grep -E) on stdout
	local addr=$1 pattern=$2 prog=$3
	shift 3
	if ! ACCELRING_ADDRESS=$addr "$ex/$prog" "$@" >"$work/out" 2>"$work/err"; then
		cat "$work/out" "$work/err"
		fail "$prog $* ($addr): exit non-zero"
	fi
	grep -qE -e "$pattern" "$work/out" ||
		{ cat "$work/out" "$work/err"; fail "$prog $* ($addr): no /$pattern/"; }
	echo "test_examples: $prog $* (${addr%%:*}): $(grep -E -e "$pattern" "$work/out" | head -n 1)"
}
good "$shm" "^noop: 1000 ops, [0-9.]+ us per op$" noop 1000
good "$stream" "^noop: 10 ops" noop 10
good "$shm" "local computation: 4096 of 4096 entries, .*: OK$" sgemm 3 64
good "$shm" "local computation: 1024 of 262144 entries chosen at random, .*: OK$" sgemm 2 512
good "$stream" "local computation: 3600 of 3600 entries, .*: OK$" sgemm 1 60
good "$shm" "^classification tags: " classify "$img" 3
good "$shm" "^async: 20000 noops, up to 64 in flight .*every op completed once, status 0$" \
	async 20000 64
good "$shm" "^async: 5000 noops, up to 4096 in flight .*every op completed once" async 5000 4096
good "$stream" "^async: 2000 noops, up to 100 in flight .*every op completed once" async 2000 100
good "$shm" "^zerocopy: sgemm 32x32 .*checked 1024 of 1024 entries: .*: OK$" zerocopy 32 3
good "$shm" "^zerocopy: sgemm 700x700 .*checked 1024 of 490000 entries chosen at random: .*: OK$" \
	zerocopy 700 2
good "$stream" "^zerocopy: sgemm 200x200 .*: OK$" zerocopy 200 2
# Three 4096x4096 matrices (192 MiB) do not fit the default 64 MiB area:
# the example says so and fails.
rc=0
ACCELRING_ADDRESS=$shm "$ex/zerocopy" 4096 1 >"$work/out" 2>"$work/err" || rc=$?
[ "$rc" = 1 ] && grep -q "ar_buf_alloc: the data area has no room.*ACCELRING_DATA_BYTES" "$work/err" ||
	{ cat "$work/out" "$work/err"; fail "zerocopy 4096: exit $rc, not the data-area message"; }

kill -TERM "$broker"
wait "$broker" || fail "the broker exited with $?"
broker=
echo "test_examples: passed"

# SPDX-License-Identifier: Apache-2.0
# broker.sh - sourced by the bindings' tests: a real accelringd from the
# build tree on a socket in the test's own directory, started with explicit
# plugins and stopped by its PID.
#
# ar_broker_start WORK BUILD EXEC_LIB [TORCH_PLUGIN]
#   starts accelringd on WORK/s with the plugins torch (when given), blas,
#   exec and noop, in that routing order (noop last: it answers sgemm and
#   classify with no result), exec allowed ar_test_count, ar_test_checksum
#   and ar_test_fail of EXEC_LIB by path and ar_test_count by its SHA-256;
#   logs to WORK/broker.log. Sets AR_BROKER_PID.
# ar_broker_stop
#   SIGTERM, then SIGKILL if it has not gone within 10 s; safe to call
#   twice and before a start (the EXIT trap calls it).

AR_BROKER_PID=

ar_broker_start()
{
	local work=$1 build=$2 execlib=$3 torch=${4:-} plugins=blas:exec:noop sha
	[ -n "$torch" ] && plugins=$torch:$plugins
	sha=$(sha256sum "$execlib" | cut -d' ' -f1)
	"$build/accelringd" --socket="$work/s" --plugin-dir="$build/plugins" \
		--plugins="$plugins" --log-level=info \
		--exec-allow="$execlib:ar_test_count,ar_test_checksum,ar_test_fail" \
		--exec-allow-sha256="$sha:ar_test_count" \
		2>"$work/broker.log" &
	AR_BROKER_PID=$!
	for _ in $(seq 100); do
		[ -S "$work/s" ] && return 0
		kill -0 "$AR_BROKER_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "broker did not start; its log:"
	cat "$work/broker.log"
	return 1
}

ar_broker_stop()
{
	local pid=$AR_BROKER_PID
	[ -n "$pid" ] || return 0
	AR_BROKER_PID=
	kill -TERM "$pid" 2>/dev/null || return 0
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# ar_sanitizer_env BUILD
#   In a sanitizer build libvaccel.so.0 needs the sanitizer's runtime
#   first in the process, which a python3 or a Go program does not load:
#   sets AR_PRELOAD to that runtime (empty in a plain build), for
#   LD_PRELOAD of the processes that load the library (not of the
#   toolchain). Their runtimes keep memory until exit by design, so
#   LeakSanitizer is off for them.
AR_PRELOAD=

ar_sanitizer_env()
{
	AR_PRELOAD=$(ldd "$1/libvaccel.so.0" | awk '$1 ~ /^lib(asan|tsan)\.so/ { print $3 }')
	if [ -n "$AR_PRELOAD" ]; then
		export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
	fi
}

#!/usr/bin/env bash
# The README's second command, and what CI runs (.ci/run): install what is
# needed, then build and run every test three times: a -Werror build,
# ASan+UBSan, and TSan. The spin model checks run once, in the first.
#
#   scripts/test.sh [--long]
#
# --long adds the soaks and fuzz campaigns kept out of the normal run:
# AR_STRESS_RECORDS=500M for the ring stress tests, a libFuzzer campaign
# per fuzz target (FUZZ_SECONDS each, default 300) with clang, the
# end-to-end suite (test_broker, shared memory) with every broker it starts
# under valgrind's leak check (a definite leak or any memcheck error fails
# it; the reports are in build/valgrind/), and the Debian packages built
# from a /usr tree, installed into a clean Debian 12 root and run there
# (tests/packages/test_packages.sh --long: a debootstrap root cached in
# /var/cache/accelring, packages from the Debian archive).
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
long=0
[ "${1:-}" = --long ] && long=1

"$top/scripts/setup.sh" || exit 1

jobs=$(nproc)
passed=0 failed=0 skipped=0 status=0

# run_suite DIR "CMAKE ARGS" "CTEST ARGS" ["WRAPPER"]
run_suite() {
	local dir=$1 cmake_args=$2 ctest_args=$3 wrapper=${4:-} log
	echo "=== $dir: cmake $cmake_args"
	# shellcheck disable=SC2086
	if ! cmake -S "$top" -B "$top/$dir" -DAR_WERROR=ON $cmake_args >/dev/null ||
	   ! cmake --build "$top/$dir" -j"$jobs" >"$top/$dir.build.log" 2>&1; then
		cat "$top/$dir.build.log" 2>/dev/null
		echo "=== $dir: BUILD FAILED"
		failed=$((failed + 1))
		status=1
		return
	fi
	log=$(mktemp)
	# The stress tests use both CPUs: run tests one at a time.
	# shellcheck disable=SC2086
	(cd "$top/$dir" && $wrapper ctest --output-on-failure $ctest_args) 2>&1 | tee "$log"
	[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
	# "N% tests passed, F tests failed out of T"; ctest counts a test that
	# could not run ("Not Run") as failed, so only "***Skipped" is a skip.
	local t f s
	t=$(sed -n 's/.*tests failed out of \([0-9]*\).*/\1/p' "$log" | tail -n1)
	f=$(sed -n 's/.* \([0-9]*\) tests failed out of.*/\1/p' "$log" | tail -n1)
	s=$(grep -c '\*\*\*Skipped' "$log")
	rm -f "$log"
	if [ -z "$t" ]; then
		echo "=== $dir: ctest gave no summary"
		failed=$((failed + 1))
		status=1
		return
	fi
	passed=$((passed + t - f - s))
	failed=$((failed + f))
	skipped=$((skipped + s))
}

if [ $long -eq 1 ]; then
	export AR_STRESS_RECORDS=${AR_STRESS_RECORDS:-500000000}
fi

run_suite build "-DCMAKE_BUILD_TYPE=RelWithDebInfo" ""
run_suite build-asan "-DAR_ASAN=ON -DAR_BUILD_BENCH=OFF" "-LE model"
# TSan needs ASLR off on kernels with large mmap_rnd_bits (its shadow
# layout predates them); setarch -R does that for this run only.
tsan_run=""
if setarch "$(uname -m)" -R true 2>/dev/null; then
	tsan_run="setarch $(uname -m) -R"
fi
run_suite build-tsan "-DAR_TSAN=ON -DAR_BUILD_BENCH=OFF" "-LE model" "$tsan_run"

if [ $long -eq 1 ]; then
	secs=${FUZZ_SECONDS:-300}
	echo "=== fuzz campaigns (clang, libFuzzer, ASan+UBSan), ${secs}s each"
	if CC=clang-14 CXX=clang++-14 cmake -S "$top" -B "$top/build-fuzz" -DAR_FUZZ=ON -DAR_ASAN=ON \
		-DAR_BUILD_BENCH=OFF >/dev/null &&
	   cmake --build "$top/build-fuzz" -j"$jobs" >/dev/null; then
		for t in region ring request channel; do
			mkdir -p "$top/build-fuzz/corpus-$t"
			dict=()
			[ -f "$top/tests/fuzz/$t.dict" ] && dict=(-dict="$top/tests/fuzz/$t.dict")
			if "$top/build-fuzz/tests/fuzz_$t" -max_total_time="$secs" "${dict[@]}" \
				-artifact_prefix="$top/build-fuzz/crash-$t-" \
				"$top/build-fuzz/corpus-$t" "$top/tests/fuzz/corpus/$t" \
				>"$top/build-fuzz/fuzz_$t.log" 2>&1; then
				echo "fuzz_$t: ok ($(tail -n1 "$top/build-fuzz/fuzz_$t.log"))"
				passed=$((passed + 1))
			else
				tail -n 40 "$top/build-fuzz/fuzz_$t.log"
				echo "fuzz_$t: FAILED; add the crash input to tests/fuzz/corpus/$t"
				failed=$((failed + 1))
				status=1
			fi
		done
	else
		echo "fuzz build failed"
		failed=$((failed + 1))
		status=1
	fi
fi

if [ $long -eq 1 ]; then
	# The broker under memcheck (SECURITY.md 18): the harness starts it
	# through ACCELRING_TEST_BROKER_WRAPPER and scales its own start and
	# stop timeouts. Run directly rather than through ctest, whose
	# per-test TIMEOUT a 20-50x slower broker exceeds. With -q and only
	# definite leaks shown, valgrind writes a broker's log only for a
	# definite leak or a memcheck error: any non-empty log fails the run,
	# as does a failed test or fixture (cmocka 1.1 exits 0 when only a
	# group teardown, which checks the broker's exit status, failed).
	vg="$top/build/valgrind"
	echo "=== valgrind: test_broker (shared memory), broker under memcheck"
	rm -rf "$vg"
	mkdir -p "$vg"
	if ! command -v valgrind >/dev/null || [ ! -x "$top/build/tests/test_broker" ]; then
		echo "valgrind test_broker: FAILED (no valgrind, or no build/tests/test_broker)"
		failed=$((failed + 1))
		status=1
	elif (cd "$top/build" && ACCELRING_TEST_TRANSPORT=shm ACCELRING_TEST_TIME_SCALE=30 \
		ACCELRING_TEST_BROKER_WRAPPER="valgrind --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite --error-exitcode=99 -q --log-file=$vg/broker.%p.log" \
		timeout 3600 tests/test_broker) >"$vg/test_broker.log" 2>&1 &&
	   ! grep -q '^\[  \(FAILED\|ERROR\) ' "$vg/test_broker.log" &&
	   ! find "$vg" -name 'broker.*.log' -size +0 | grep -q .; then
		echo "valgrind test_broker: ok ($(ls "$vg"/broker.*.log | wc -l) brokers, no definite leak)"
		passed=$((passed + 1))
	else
		tail -n 40 "$vg/test_broker.log"
		for f in "$vg"/broker.*.log; do
			[ -s "$f" ] && { echo "--- $f"; head -n 60 "$f"; }
		done
		echo "valgrind test_broker: FAILED"
		failed=$((failed + 1))
		status=1
	fi
fi

if [ $long -eq 1 ]; then
	echo "=== packages: built for /usr, installed into a clean Debian root, run there"
	if bash "$top/tests/packages/test_packages.sh" "$top/build" "$top" --long \
		>"$top/build/test_packages_long.log" 2>&1; then
		echo "test_packages --long: ok"
		passed=$((passed + 1))
	else
		tail -n 60 "$top/build/test_packages_long.log"
		echo "test_packages --long: FAILED"
		failed=$((failed + 1))
		status=1
	fi
fi

echo
echo "total: $passed passed, $failed failed, $skipped skipped"
exit $status

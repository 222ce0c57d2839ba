#!/usr/bin/env bash
# Model-check tests/model/ring.pml with spin in one configuration.
#
#   check.sh NAME EXPECT [-DDEFINE...]
#
# EXPECT is "pass" (spin must find no error) or a regular expression that
# the error spin reports must match (the counterexample must be the one the
# broken variant is built to produce, not an unrelated mistake in the model).
set -euo pipefail
name=$1 expect=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
command -v spin >/dev/null || { echo "spin not installed"; exit 77; }
work=$(mktemp -d "${TMPDIR:-/tmp}/ar_model_${name}.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
cp "$here/ring.pml" .
spin -a "$@" ring.pml >spin.log 2>&1 || { cat spin.log; exit 1; }
# Safety properties only (assertions, invalid end states); compressed states.
cc -O2 -DSAFETY -DCOLLAPSE -DMEMLIM=4096 -w -o pan pan.c
./pan -m1000000 >pan.log 2>&1 || true
errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' pan.log | tail -n1)
states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' pan.log | head -n1)
if grep -q 'error: max search depth too small' pan.log; then
	echo "$name: search depth exceeded, the check is incomplete"
	exit 1
fi
if [ -z "$errors" ]; then
	cat pan.log
	echo "$name: could not read spin's verdict"
	exit 1
fi
if [ "$expect" = pass ]; then
	if [ "$errors" != 0 ]; then
		cat pan.log
		spin -t -p "$@" ring.pml | tail -n 40 || true
		echo "$name: FAILED: spin found $errors error(s) in a model that must pass"
		exit 1
	fi
	echo "$name: ok, no errors in $states states"
else
	if [ "$errors" = 0 ]; then
		cat pan.log
		echo "$name: FAILED: the broken variant passed; the model cannot catch this bug"
		exit 1
	fi
	what=$(grep -m1 -E 'assertion violated|invalid end state|error:' pan.log || true)
	if ! grep -qE "$expect" <<<"$what"; then
		cat pan.log
		echo "$name: FAILED: counterexample is '$what', expected /$expect/"
		exit 1
	fi
	echo "$name: ok, counterexample found as expected: $what ($states states)"
fi

#!/usr/bin/env bash
# test_quickstart - the README's "Quick start in C", taken from README.md
# itself so that it cannot rot: every ```c block is written to the file its
# first line names (/* NAME.c: ... */), the tree is installed into a
# temporary prefix (cmake --install, as a user would install it), and every
# ```sh block runs, unchanged, with that prefix's pkg-config files and
# libraries and a real accelringd (blas, noop) at ACCELRING_ADDRESS. Each
# "./prog   # OUTPUT" line's OUTPUT must be in what the block printed.
#
# usage: test_quickstart.sh BUILD_DIR SOURCE_DIR [SANITIZER_FLAGS]
# SANITIZER_FLAGS: a sanitized build's -fsanitize=...: its libraries need
# their runtime in the program, so the blocks' `cc` gets them (a wrapper
# first on PATH); the blocks themselves run unchanged.
set -euo pipefail
build=$(realpath "$1")
src=$(realpath "$2")
san=${3:-}
work=$(mktemp -d /tmp/accelring-quickstart.XXXXXX)
broker=
cleanup() {
	if [ -n "$broker" ]; then
		kill -TERM "$broker" 2>/dev/null || true
		wait "$broker" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "test_quickstart: FAIL: $*"; exit 1; }

# The section's code blocks: c/NAME.c for C, sh/N.sh for shell, and
# expect/N.txt with the outputs its comments promise.
mkdir "$work/c" "$work/sh" "$work/expect" "$work/run"
python3 - "$src/README.md" "$work" <<'PY'
import os, re, sys
readme, work = sys.argv[1], sys.argv[2]
text = open(readme).read()
m = re.search(r"^## Quick start in C\n(.*?)(?=^## )", text, re.M | re.S)
if not m:
    sys.exit("README.md has no '## Quick start in C' section")
blocks = re.findall(r"^```(\w*)\n(.*?)^```$", m.group(1), re.M | re.S)
nc = nsh = 0
for lang, body in blocks:
    if lang == "c":
        name = re.match(r"/\* (\w+\.c): ", body)
        if not name:
            sys.exit("a C block whose first line is not /* NAME.c: ... */:\n" + body[:200])
        open(os.path.join(work, "c", name.group(1)), "w").write(body)
        nc += 1
    elif lang == "sh":
        nsh += 1
        open(os.path.join(work, "sh", "%d.sh" % nsh), "w").write(body)
        want = [c.strip() for c in re.findall(r"^\./\S+.*?#(.*)$", body, re.M)]
        open(os.path.join(work, "expect", "%d.txt" % nsh), "w").write(
            "".join(w + "\n" for w in want))
    else:
        sys.exit("a code block of unknown kind '%s' in the quick start" % lang)
if nc < 2 or nsh < 1:
    sys.exit("the quick start has %d C and %d sh blocks: expected both APIs and a build" % (nc, nsh))
print("test_quickstart: %d C blocks, %d sh blocks" % (nc, nsh))
PY

# The install a user makes, in a prefix of our own.
cmake --install "$build" --prefix "$work/prefix" >"$work/install.log" ||
	{ cat "$work/install.log"; fail "cmake --install"; }
pc=$(dirname "$(find "$work/prefix" -name vaccel.pc | head -n 1)")
[ -f "$pc/accelring.pc" ] || fail "no accelring.pc and vaccel.pc installed"

# A real broker, with the plugins the quick start asks for.
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

cp "$work"/c/*.c "$work/run/"
if [ -n "$san" ]; then
	mkdir "$work/bin"
	printf '#!/bin/sh\nexec %s %s "$@"\n' "$(command -v cc)" "$san" >"$work/bin/cc"
	chmod +x "$work/bin/cc"
	PATH=$work/bin:$PATH
fi
for block in "$work"/sh/*.sh; do
	n=$(basename "$block" .sh)
	echo "test_quickstart: block $n:"
	sed 's/^/    /' "$block"
	if ! (cd "$work/run" &&
	      PKG_CONFIG_PATH="$pc" LD_LIBRARY_PATH="$(dirname "$pc")" \
	      ACCELRING_ADDRESS="unix://$work/s" \
	      timeout 120 bash -euo pipefail "$block") >"$work/out.$n" 2>&1; then
		cat "$work/out.$n" "$work/broker.log"
		fail "block $n failed"
	fi
	sed 's/^/  > /' "$work/out.$n"
	while IFS= read -r want; do
		grep -qF -- "$want" "$work/out.$n" || fail "block $n did not print '$want'"
	done <"$work/expect/$n.txt"
done
kill -TERM "$broker"
wait "$broker" || fail "the broker exited with $?"
broker=
echo "test_quickstart: passed"

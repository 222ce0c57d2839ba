#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# test_vaccel_install - accelring installed where upstream vAccel would be,
# used the way vAccel programs use it: `cmake --install` into a private
# prefix, then everything through `pkg-config vaccel` (or `accelring`)
# alone (no -I or -L of the source or build tree, no LD_LIBRARY_PATH: a
# program finds the installed library by the RUNPATH the README says to
# link with, the installed broker its plugins by its own place):
#   1 install       cmake --install BUILD --prefix TMP/prefix
#   2 pkg-config    vaccel.pc and accelring.pc found, relocated to the prefix
#                   (${pcfiledir}), Name vaccel, -lvaccel, -pthread private
#   3 headers       every header path of the sheet compiles alone, C and C++
#   4 api           check_api.py's gen-c file compiles, links and runs
#   5 exports       check_api.py nm and soname pass; libvaccel.so symlink
#   6 files         what a user needs is installed: the systemd units with
#                   the prefix's broker in ExecStart (Type=notify, no flags),
#                   the sample config, the CDI spec, the seccomp profile,
#                   the examples' sources, accelring-trace, accelring-dump,
#                   man pages that `man -l` renders without a warning; the
#                   broker's and plugins' RUNPATH $ORIGIN-relative
#   7 config        the sample config and accelringd.conf(5) name every
#                   setting broker/config.c knows; the installed broker
#                   starts on the sample with every default uncommented
#   8 static        programs linked with `pkg-config --static` (vaccel and
#                   accelring) run
#   9 native        a program of the native API built with `pkg-config
#                   accelring` runs ops against the installed broker
#  10 examples      tests/vaccel/examples/*.c and the installed examples
#                   (share/doc/accelring/examples) built and run against
#                   the installed accelringd (blas, noop, exec with the exec
#                   test library on its exec-allow) on a socket in TMP
# Every step runs even if an earlier one failed (but 1, which all need);
# each says PASS or FAIL and why, and the exit status is 1 if any failed.
#
# usage: test_vaccel_install.sh BUILD_DIR SOURCE_DIR ACCELRINGD [SANITIZER_FLAGS [EXEC_LIB]]
# SANITIZER_FLAGS: the build's -fsanitize=... (a sanitized libvaccel needs
# its runtime in every program; the static step is skipped then, since
# sanitizer runtimes cannot be linked statically). ACCELRINGD: the build's
# broker (the programs run against its installed copy). EXEC_LIB: the exec test
# library (tests/plugins/exec_lib.c), which exec_args calls through the
# broker; default BUILD_DIR/tests/libartest-exec.so.
# (grep -q reads here-strings, not pipes: with pipefail, grep -q quitting
# early makes the writer die of SIGPIPE and the check fail at random.)
set -uo pipefail

if [ $# -lt 3 ]; then
	echo "usage: $0 BUILD_DIR SOURCE_DIR ACCELRINGD [SANITIZER_FLAGS [EXEC_LIB]]" >&2
	exit 2
fi
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
brokerd=$3
san=${4:-}
exec_lib=${5:-$build/tests/libartest-exec.so}
for tool in cmake pkg-config python3 cc g++ nm readelf; do
	if ! command -v "$tool" >/dev/null; then
		echo "SKIP: $tool is not installed" >&2
		exit 77
	fi
done

tmp=$(mktemp -d /tmp/accelring-install.XXXXXX)
prefix=$tmp/prefix
work=$tmp/work
mkdir -p "$work" "$work/bin"
broker_pid=
cleanup() {
	if [ -n "$broker_pid" ] && kill -0 "$broker_pid" 2>/dev/null; then
		kill -TERM "$broker_pid"
		wait "$broker_pid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The programs find nothing of the build or source tree, nor of the caller.
unset PKG_CONFIG_LIBDIR PKG_CONFIG_SYSROOT_DIR CPATH C_INCLUDE_PATH \
	CPLUS_INCLUDE_PATH LIBRARY_PATH LD_LIBRARY_PATH VACCEL_PLUGINS \
	ACCELRING_PLUGINS VACCEL_LOG_FILE VACCEL_LOG_LEVEL \
	VACCEL_PROFILING_ENABLED ACCELRING_ADDRESS VACCEL_RPC_ADDRESS

failed=()
nr=0
# step NAME FUNCTION: run FUNCTION in a subshell with -e, its output kept;
# a failing command or `die` fails the step.
step() {
	local name=$1 fn=$2 rc
	nr=$((nr + 1))
	(set -e; "$fn") >"$work/step.log" 2>&1
	rc=$?
	if [ $rc -eq 0 ]; then
		echo "PASS step $nr: $name"
	elif [ $rc -eq 77 ]; then
		echo "SKIP step $nr: $name"
	else
		echo "FAIL step $nr: $name"
		failed+=("$nr ($name)")
	fi
	sed 's/^/    /' "$work/step.log"
	return $rc
}
die() {
	echo "why: $*"
	exit 1
}
# run LOG CMD...: run a command, its output in LOG and shown on failure.
run() {
	local log=$1 rc=0
	shift
	echo "+ $*"
	"$@" >"$log" 2>&1 || rc=$?
	if [ $rc -ne 0 ]; then
		sed 's/^/  | /' "$log"
		die "'$1' exited with status $rc"
	fi
}
canon() { readlink -f "$1"; }
# loaded PROGRAM LIB: the loader finds LIB for PROGRAM in the installed
# libdir, with no LD_LIBRARY_PATH.
loaded() {
	local p
	p=$(ldd "$1" | sed -n "s/^[[:space:]]*$2 => \(.*\) (0x.*/\1/p")
	[ -n "$p" ] && [ "$(canon "$p")" = "$(canon "$libdir/$2")" ]
}

# ---- 1 ----
s_install() {
	run "$work/install.log" cmake --install "$build" --prefix "$prefix"
	pc=$(find "$prefix" -name vaccel.pc -path '*/pkgconfig/*' | head -n1)
	[ -n "$pc" ] || die "no pkgconfig/vaccel.pc under the prefix"
	lib=$(find "$prefix" -name libvaccel.so.0 | head -n1)
	[ -n "$lib" ] || die "no libvaccel.so.0 under the prefix"
	[ -f "$prefix/include/vaccel.h" ] || die "no include/vaccel.h under the prefix"
	echo "vaccel.pc: ${pc#"$tmp"/}, libvaccel.so.0: ${lib#"$tmp"/}"
}
# Not in an if: the step's subshell runs with -e only outside a tested context.
step "cmake --install into a private prefix" s_install
# shellcheck disable=SC2181
if [ $? -ne 0 ]; then
	echo "FAILED: nothing to test without an installed tree"
	exit 1
fi
pcdir=$(dirname "$(find "$prefix" -name vaccel.pc -path '*/pkgconfig/*' | head -n1)")
libdir=$(dirname "$(find "$prefix" -name libvaccel.so.0 | head -n1)")
export PKG_CONFIG_PATH=$pcdir
# How the README links a program against a library installed under a
# prefix the loader does not search: a RUNPATH to pkg-config's libdir.
rpath=-Wl,-rpath,$(pkg-config --variable=libdir vaccel)
brokerd=$prefix/sbin/accelringd

# ---- 2 ----
s_pkgconfig() {
	local pc v want
	run "$work/pc.log" pkg-config --cflags --libs vaccel
	echo "pkg-config --cflags --libs vaccel: $(cat "$work/pc.log")"
	for pc in accelring vaccel; do
		[ "$(canon "$(pkg-config --variable=pcfiledir $pc)")" = "$(canon "$pcdir")" ] ||
			die "$pc.pc is not the installed one: $(pkg-config --variable=pcfiledir $pc)"
		for v in prefix libdir includedir; do
			want=$prefix
			[ $v = libdir ] && want=$libdir
			[ $v = includedir ] && want=$prefix/include
			[ "$(canon "$(pkg-config --variable=$v $pc)")" = "$(canon "$want")" ] ||
				die "$pc.pc's $v is $(pkg-config --variable=$v $pc), not under $prefix (not relocatable?)"
		done
		if grep -q /usr/local <<<"$(pkg-config --cflags --libs --static $pc)"; then
			die "$pc.pc names /usr/local: $(pkg-config --cflags --libs $pc)"
		fi
		echo "$pc.pc: prefix $(canon "$(pkg-config --variable=prefix $pc)")"
	done
	grep -qx 'Name: vaccel' "$pcdir/vaccel.pc" || die "vaccel.pc's Name is not vaccel: $(grep '^Name' "$pcdir/vaccel.pc")"
	grep -qw -- -lvaccel <<<"$(pkg-config --libs vaccel)" || die "Libs lack -lvaccel: $(pkg-config --libs vaccel)"
	grep -q '^Libs.private:.*-pthread' "$pcdir/vaccel.pc" ||
		die "Libs.private lacks -pthread: $(grep '^Libs.private' "$pcdir/vaccel.pc")"
	grep -qw -- -pthread <<<"$(pkg-config --static --libs vaccel)" ||
		die "pkg-config --static --libs lacks -pthread"
	[ "$(canon "$(pkg-config --cflags-only-I vaccel | sed 's/^-I//; s/ *$//')")" = "$(canon "$prefix/include")" ] ||
		die "Cflags are not -I<prefix>/include: $(pkg-config --cflags vaccel)"
}
step "pkg-config vaccel, relocated to the prefix" s_pkgconfig

# ---- 3 ----
s_headers() {
	local n=0 f
	python3 "$src/tests/vaccel/check_api.py" headers "$work/hdr" >"$work/hdr.list" ||
		die "check_api.py headers failed"
	[ -s "$work/hdr.list" ] || die "check_api.py headers listed none"
	while read -r f; do
		# shellcheck disable=SC2046
		cc $(pkg-config --cflags vaccel) -Wall -Wextra -Werror -c "$f" -o "$work/h.o" ||
			die "$(head -n1 "$f") does not compile alone as C"
		# shellcheck disable=SC2046
		g++ -x c++ $(pkg-config --cflags vaccel) -Wall -Wextra -Werror -c "$f" -o "$work/h.o" ||
			die "$(head -n1 "$f") does not compile alone as C++"
		n=$((n + 1))
	done <"$work/hdr.list"
	echo "$n headers, each alone, as C (cc) and C++ (g++)"
}
step "every header compiles alone (C and C++)" s_headers

# ---- 4 ----
s_api() {
	python3 "$src/tests/vaccel/check_api.py" gen-c "$work/api.c" || die "check_api.py gen-c failed"
	# Upstream's own link line (plus the build's sanitizer, if any).
	# shellcheck disable=SC2046,SC2086
	cc $san $(pkg-config --cflags vaccel) "$work/api.c" $(pkg-config --libs vaccel) "$rpath" \
		-o "$work/api" 2>"$work/api.err" || {
		grep -E 'error|undefined' "$work/api.err" | head -n 40
		die "the sheet's checks do not compile or link (above)"
	}
	"$work/api" || die "the gen-c program exited with $?"
	echo "$(grep -c _Static_assert "$work/api.c") checks of the sheet compiled, linked, ran"
}
step "check_api.py gen-c compiles, links, runs" s_api

# ---- 5 ----
s_exports() {
	local why=()
	# Each check is made and reported; the step fails if any did.
	if python3 "$src/tests/vaccel/check_api.py" nm "$libdir/libvaccel.so.0" >"$work/nm.log"; then
		tail -n1 "$work/nm.log"
	else
		grep -v '^extra' "$work/nm.log"
		why+=("exports differ from the sheet (the missing or versioned functions above)")
	fi
	python3 "$src/tests/vaccel/check_api.py" soname "$libdir/libvaccel.so.0" ||
		why+=("libvaccel.so.0's soname is not the sheet's")
	if [ ! -L "$libdir/libvaccel.so" ]; then
		why+=("libvaccel.so is not a symlink")
	elif [ "$(readlink "$libdir/libvaccel.so")" != libvaccel.so.0 ]; then
		why+=("libvaccel.so -> $(readlink "$libdir/libvaccel.so"), not libvaccel.so.0")
	elif [ ! -f "$(canon "$libdir/libvaccel.so.0")" ]; then
		why+=("libvaccel.so.0 leads to no file")
	else
		echo "libvaccel.so -> libvaccel.so.0 -> $(basename "$(canon "$libdir/libvaccel.so.0")")"
	fi
	[ ${#why[@]} -eq 0 ] || die "$(printf '%s; ' "${why[@]}")"
}
step "exports (check_api.py nm, soname), libvaccel.so symlink" s_exports

# ---- 6 ----
s_files() {
	local why=() f unit=$prefix/lib/systemd/system/accelringd.service m rp
	for f in sbin/accelringd bin/accelring-dump bin/accelring-trace \
		lib/systemd/system/accelringd.socket share/doc/accelring/accelringd.conf.sample \
		share/accelring/cdi/accelring.yaml share/accelring/seccomp/accelringd.json \
		share/man/man8/accelringd.8 share/man/man5/accelringd.conf.5 \
		share/man/man3/libaccelring.3; do
		[ -e "$prefix/$f" ] || why+=("no $f")
	done
	for f in "$src"/libclient/examples/*.c; do
		[ -f "$prefix/share/doc/accelring/examples/${f##*/}" ] ||
			why+=("no share/doc/accelring/examples/${f##*/}")
	done
	for f in bin/accelring-dump bin/accelring-trace; do
		[ -x "$prefix/$f" ] || why+=("$f is not executable")
	done
	if [ ! -f "$unit" ]; then
		why+=("no lib/systemd/system/accelringd.service")
	else
		# The prefix's broker, no flag (one would override the config
		# file), started when it says READY=1 to systemd.
		grep -qx "ExecStart=$prefix/sbin/accelringd" "$unit" ||
			why+=("the unit's $(grep ^ExecStart "$unit"), not ExecStart=$prefix/sbin/accelringd")
		grep -qx 'Type=notify' "$unit" || why+=("the unit's $(grep ^Type "$unit"), not Type=notify")
		grep -qx 'NotifyAccess=main' "$unit" || why+=("the unit has no NotifyAccess=main")
		grep -q '@' "$unit" && why+=("the unit has an unsubstituted @VAR@: $(grep @ "$unit")")
		echo "accelringd.service: $(grep -E '^(Type|ExecStart)=' "$unit" | tr '\n' ' ')"
	fi
	# Every page renders, and groff has nothing to say about it.
	for m in "$prefix"/share/man/man*/*; do
		if ! out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$m" 2>&1 >/dev/null) ||
		   [ -n "$out" ] || [ "$(man -l "$m" 2>/dev/null | wc -l)" -lt 20 ]; then
			why+=("man -l ${m#"$prefix"/} does not render cleanly: $out")
		fi
	done
	echo "man pages: $(cd "$prefix/share/man" && echo man*/*)"
	# Found from wherever the tree is: $ORIGIN-relative, nothing else.
	for f in "$brokerd" "$libdir"/accelring/*.so; do
		rp=$(readelf -d "$f" | sed -n 's/.*(RUNPATH).*\[\(.*\)\]/\1/p')
		[ -n "$rp" ] && [ -z "${rp##\$ORIGIN*}" ] ||
			why+=("${f#"$prefix"/}'s RUNPATH is '$rp', not \$ORIGIN-relative")
	done
	echo "RUNPATH: accelringd $(readelf -d "$brokerd" | sed -n 's/.*(RUNPATH).*\[\(.*\)\]/\1/p')"
	"$prefix/bin/accelring-dump" --help >"$work/dump.out" 2>&1 ||
		[ -s "$work/dump.out" ] || why+=("accelring-dump --help printed nothing")
	[ ${#why[@]} -eq 0 ] || die "$(printf '%s; ' "${why[@]}")"
}
step "the units, sample config, CDI spec, seccomp profile, examples, tools, man pages" s_files

# ---- 7 ----
# start_broker LOG READY ARGS...: the installed broker, in the background
# (its pid in broker_pid), up when it wrote "ready" on READY.
start_broker() {
	local log=$1 ready=$2
	shift 2
	ACCELRING_READY_FD=3 "$brokerd" "$@" 3>"$ready" >"$log" 2>&1 &
	broker_pid=$!
	for _ in $(seq 300); do
		grep -q ready "$ready" 2>/dev/null && break
		kill -0 "$broker_pid" 2>/dev/null || break
		sleep 0.05
	done
}
stop_broker() {
	kill -TERM "$broker_pid" 2>/dev/null
	wait "$broker_pid"
	local rc=$?
	broker_pid=
	return $rc
}
s_config() {
	local sample=$prefix/share/doc/accelring/accelringd.conf.sample keys k why=()
	# The names the broker knows: its --help, made from the one table its
	# parser uses (broker/config.c).
	keys=$("$brokerd" --help | sed -nE 's/^  ([a-z][a-z0-9-]+)  .*/\1/p' | sort -u)
	[ "$(wc -l <<<"$keys")" -ge 40 ] ||
		die "found only $(wc -l <<<"$keys") setting names in accelringd --help: update this test's pattern"
	for k in $keys; do
		grep -qE "^#( e\.g\. )?$k = ?" "$sample" || why+=("the sample lacks $k")
		grep -qF "\\fB${k//-/\\-}\\fR = " "$src/broker/man/accelringd.conf.5" ||
			why+=("accelringd.conf(5) lacks $k")
	done
	for k in $(sed -nE 's/^#( e\.g\. )?([a-z][a-z0-9-]*) = ?.*/\2/p' "$sample"); do
		grep -qx -- "$k" <<<"$keys" || why+=("the sample's $k is no setting of the broker")
	done
	echo "$(wc -l <<<"$keys") settings, each in the sample and accelringd.conf(5)"
	# "#name = value" lines are the defaults: all of them uncommented, the
	# broker starts (every name known, every value in range).
	sed -E 's/^#([a-z][a-z0-9-]*) = ?/\1 = /' "$sample" >"$work/defaults.conf"
	echo "$(grep -cE '^[a-z]' "$work/defaults.conf") settings uncommented"
	start_broker "$work/defaults.log" "$work/defaults.ready" \
		--config="$work/defaults.conf" --socket="$tmp/defaults.sock"
	if ! grep -q ready "$work/defaults.ready" 2>/dev/null; then
		sed 's/^/  | /' "$work/defaults.log"
		stop_broker
		why+=("the broker did not start on the sample's defaults (its log above)")
	elif ! stop_broker; then
		why+=("the broker on the sample's defaults did not stop cleanly")
	else
		echo "the installed broker started and stopped on the sample's defaults"
	fi
	[ ${#why[@]} -eq 0 ] || die "$(printf '%s; ' "${why[@]}")"
}
step "the sample config and accelringd.conf(5): every setting, at its default" s_config

# ---- the broker the programs talk to ----
# blas before noop: the first plugin implementing an op serves it, so sgemm
# is blas's (checked numerically), exec exec's (the test library's
# functions that exec_args calls, and not ar_test_hidden) and every other
# op noop's.
sock=$tmp/accelring.sock
broker_log=$tmp/broker.log
# exec_resource ships the same library as a LIB resource: allowed by the
# SHA-256 of its bytes, as an operator lists it (sha256sum).
exec_sha=$(sha256sum "$exec_lib" | cut -d' ' -f1)
# With the torch plugin built, it comes first: torch and image ops are its
# (on the tests' models, tests/models/make_models.py).
models=$build/tests/models
plugins=blas:noop:exec
torch=()
if [ -e "$libdir/accelring/libaccelring-torch.so" ]; then
	plugins=torch:$plugins
	torch=(--torch-image-model="$models/mobilenet_v3_small.pt"
	       --torch-image-labels="$models/labels.txt" --torch-threads=1)
fi
# The installed broker, with no --plugin-dir: it finds the plugins
# installed beside it, in this prefix (its log says from where).
start_broker "$broker_log" "$tmp/ready" --socket="$sock" \
	--plugins="$plugins" "${torch[@]}" \
	--exec-allow="$exec_lib:ar_test_count,ar_test_checksum" \
	--exec-allow-sha256="$exec_sha:ar_test_checksum" \
	--log-level=info
broker_up() {
	grep -q ready "$tmp/ready" 2>/dev/null && kill -0 "$broker_pid" 2>/dev/null
}
if ! broker_up; then
	echo "accelringd did not start; its log:"
	sed 's/^/  | /' "$broker_log"
elif ! grep -q "loaded plugin blas .* from $(canon "$prefix")/" "$broker_log"; then
	echo "FAIL: the installed broker did not load its plugins from $prefix:"
	grep 'loaded plugin' "$broker_log" | sed 's/^/  | /'
	failed+=("broker (plugins not from the prefix)")
fi
export ACCELRING_ADDRESS=unix://$sock

# ---- 8 ----
s_static() {
	if [ -n "$san" ]; then
		echo "sanitizer build ($san): its runtime cannot be linked statically"
		exit 77
	fi
	broker_up || die "no broker"
	cat >"$work/static.c" <<-'EOF'
	#include <stdio.h>
	#include <vaccel.h>

	int main(void)
	{
		struct vaccel_session s;
		struct vaccel_torch_tensor *t;
		int64_t dims[] = { 2, 2 };
		int r = vaccel_session_init(&s, 0);

		if (r)
			return 10 + r;
		r = vaccel_noop(&s);
		if (r)
			return 20;
		if (vaccel_torch_tensor_allocate(&t, 2, dims, VACCEL_TORCH_FLOAT, 16) ||
		    vaccel_torch_tensor_delete(t))
			return 30;
		printf("static: session %lld, noop ok\n", (long long)s.id);
		return vaccel_session_release(&s) ? 40 : 0;
	}
	EOF
	# shellcheck disable=SC2046
	cc -static $(pkg-config --cflags vaccel) "$work/static.c" \
		$(pkg-config --static --libs vaccel) -o "$work/static" 2>"$work/static.err" || {
		grep -vi 'statically linked applications requires' "$work/static.err" | head -n 30
		die "no static link with pkg-config --static --libs vaccel"
	}
	if grep -q NEEDED <<<"$(readelf -d "$work/static" 2>/dev/null)"; then
		die "the program is not static: $(readelf -d "$work/static" | grep NEEDED)"
	fi
	env -u LD_LIBRARY_PATH "$work/static" || die "the static program exited with $?"
	# The native API's archive the same way.
	# shellcheck disable=SC2046
	cc -static $(pkg-config --cflags accelring) "$native_c" \
		$(pkg-config --static --libs accelring) -o "$work/native-static" 2>"$work/ns.err" || {
		grep -vi 'statically linked applications requires' "$work/ns.err" | head -n 30
		die "no static link with pkg-config --static --libs accelring"
	}
	if grep -q NEEDED <<<"$(readelf -d "$work/native-static" 2>/dev/null)"; then
		die "the native program is not static: $(readelf -d "$work/native-static" | grep NEEDED)"
	fi
	"$work/native-static" || die "the static native program exited with $?"
}
# A program of the native API (include/accelring/client.h): a session,
# 100 noops submitted at once, every completion 0.
native_c=$work/native.c
cat >"$native_c" <<-'EOF'
#include <stdio.h>
#include <accelring/client.h>

int main(void)
{
	struct ar_client *c;
	struct ar_queue *q;
	struct ar_cqe cqe[100];
	uint32_t sid;
	int n = 0, r;

	if ((r = ar_client_connect(NULL, &c)))
		return 10;
	if ((r = ar_queue_get(c, &q))) {
		fprintf(stderr, "ar_queue_get: %d (%s)\n", r, ar_client_error(c));
		return 11;
	}
	if (ar_session_open(q, 0, &sid))
		return 12;
	for (int i = 0; i < 100; i++)
		if (ar_submit_noop(q, sid, (uint64_t)i))
			return 13;
	while (n < 100) {
		r = ar_wait(q, cqe, 100, 1, -1);
		if (r < 0)
			return 14;
		for (int i = 0; i < r; i++)
			if (cqe[i].status)
				return 15;
		n += r;
	}
	if (ar_session_close(q, sid))
		return 16;
	ar_client_close(c);
	printf("native: 100 noops completed, session %u\n", sid);
	return 0;
}
EOF
step "statically linked programs (pkg-config --static vaccel, accelring)" s_static

# ---- 9 ----
s_native() {
	local lib=$libdir/libaccelring.so.1
	broker_up || die "no broker"
	# shellcheck disable=SC2046,SC2086
	cc $san -Wall -Wextra -Werror $(pkg-config --cflags accelring) "$native_c" \
		$(pkg-config --libs accelring) -Wl,-rpath,"$(pkg-config --variable=libdir accelring)" \
		-o "$work/native" 2>"$work/native.err" || {
		head -n 30 "$work/native.err"
		die "the native program does not build with pkg-config accelring"
	}
	loaded "$work/native" libaccelring.so.1 ||
		die "the native program does not load $lib: $(ldd "$work/native" | grep accelring)"
	"$work/native" || die "the native program exited with $?"
}
step "a native-API program, built with pkg-config accelring, against accelringd" s_native

# ---- 10 ----
# example NAME EXPECT [ENV...] -- [ARGS...]: build tests/vaccel/examples/
# NAME.c with pkg-config alone (once), run it with ENV against the broker;
# it must exit 0 and print EXPECT.
example() {
	local name=$1 expect=$2 bin=$work/bin/$1 envs=() args=() rc=0
	shift 2
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		envs+=("$1")
		shift
	done
	[ $# -gt 0 ] && shift
	args=("$@")
	local c=$src/tests/vaccel/examples/$name.c
	# The example programs as installed (libclient/examples), as the
	# README builds them.
	[ -e "$c" ] || c=$prefix/share/doc/accelring/examples/$name.c
	if [ ! -x "$bin" ]; then
		# shellcheck disable=SC2046,SC2086
		cc $san -Wall -Wextra -Werror $(pkg-config --cflags vaccel) \
			"$c" $(pkg-config --libs vaccel) "$rpath" -lm \
			-o "$bin" 2>"$work/$name.err" || {
			grep -E 'error|undefined' "$work/$name.err" | sort -u | head -n 40
			die "$name.c does not build with pkg-config vaccel"
		}
		loaded "$bin" libvaccel.so.0 || die "$name does not load the installed libvaccel:" \
			"$(ldd "$bin" | grep vaccel)"
	fi
	echo "+ ${envs[*]} $name ${args[*]}"
	env "${envs[@]}" timeout 60 "$bin" "${args[@]}" \
		>"$work/$name.out" 2>&1 || rc=$?
	sed 's/^/  | /' "$work/$name.out"
	[ $rc -eq 0 ] || die "$name exited with status $rc"
	grep -q -- "$expect" "$work/$name.out" || die "$name did not print '$expect'"
}
s_examples() {
	local bad=0 log
	broker_up || die "no broker (its log is above)"
	# Every example is run; the step fails if any of them did.
	(example exec_args "exec_args: ok" -- "$exec_lib") || bad=1
	(example exec_resource "exec_resource: ok" -- "$exec_lib") || bad=1
	(example genop "genop: ok") || bad=1
	(example noop "noop: 1000 ops" -- 1000) || bad=1
	(example sgemm "local computation: .*: OK" -- 2 64) || bad=1
	if [ ${#torch[@]} -gt 0 ]; then
		(example torch "torch: ok" -- "$models/tiny.pt") || bad=1
		# The labels of mobilenet_v3_small (seeded weights) on the picture.
		(example classify "classification tags: class_" -- "$models/picture.jpg") || bad=1
	else
		echo "(no torch plugin built: the torch and classify examples are not run)"
	fi
	(example profiling "profiling: ok" VACCEL_PROFILING_ENABLED=1) || bad=1
	# Profiling is off by default: the same program must say so and fail.
	if [ -x "$work/bin/profiling" ]; then
		if "$work/bin/profiling" >"$work/prof_off.out" 2>&1 ||
			! grep -q "profiling is off" "$work/prof_off.out"; then
			echo "why: profiling was on without VACCEL_PROFILING_ENABLED"
			sed 's/^/  | /' "$work/prof_off.out"
			bad=1
		fi
	fi
	log=$work/vaccel-debug.log
	(example logging "logging: ok" VACCEL_LOG_LEVEL=4 VACCEL_LOG_FILE="$log") || bad=1
	# Checked here too, once the program has exited.
	if [ -x "$work/bin/logging" ]; then
		if ! grep -q "logging example debug line" "$log" 2>/dev/null ||
			! grep -q "logging example info line" "$log"; then
			echo "why: the info and debug lines are not in $log"
			bad=1
		fi
	fi
	(example logging "logging: ok" VACCEL_LOG_LEVEL=2 VACCEL_LOG_FILE="$work/vaccel-warn.log") || bad=1
	[ $bad -eq 0 ] || die "an example failed (above)"
}
step "the examples (and the installed ones), built with pkg-config vaccel, against accelringd" s_examples

# ---- the broker's own end ----
# Not in a subshell: the broker is this shell's child.
nr=$((nr + 1))
stop_why=
if broker_up; then
	kill -TERM "$broker_pid"
	wait "$broker_pid"
	rc=$?
	broker_pid=
	[ $rc -eq 0 ] || stop_why="accelringd exited with status $rc"
else
	stop_why="accelringd was not running"
fi
if [ -z "$stop_why" ]; then
	echo "PASS step $nr: accelringd exits cleanly"
	echo "    accelringd stopped by SIGTERM, exit status 0"
else
	echo "FAIL step $nr: accelringd exits cleanly"
	echo "    why: $stop_why; its log:"
	sed 's/^/      | /' "$broker_log"
	failed+=("$nr (accelringd exits cleanly)")
fi

if [ ${#failed[@]} -gt 0 ]; then
	echo "FAILED steps: ${failed[*]}"
	exit 1
fi
echo "all steps passed"

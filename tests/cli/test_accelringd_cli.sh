#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# test_accelringd_cli - what a user meets first, against real brokers on
# real sockets (issue 18): --version, --help, --check-config,
# --list-plugins; the config file's format; the default plugins and the one
# "ready" line at the default level; every address checked before anything
# binds, and nothing left behind by a failed start; SIGHUP re-reading the
# configuration while ops keep being served; socket-mode and socket-group
# (connecting as another uid); sd_notify through a NOTIFY_SOCKET this test
# binds, journald priorities when JOURNAL_STREAM names stderr, and the
# socket-activated log naming its socket.
#
# usage: test_accelringd_cli.sh BUILD_DIR SOURCE_DIR VERSION
set -u
build=$(cd "$1" && pwd)
src=$2
version=$3
B=$build/accelringd
P=$build/plugins

say() { echo "test_accelringd_cli: $*"; }
fail=0
ok() { say "ok: $*"; }
bad() { say "FAIL: $*"; fail=1; }

[ -x "$B" ] || { say "SKIP: $B is not built"; exit 77; }
work=$(mktemp -d /tmp/accelring-cli.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${pids[@]}"; do
		wait "$p" 2>/dev/null
	done
	rm -rf "$work"
}
trap cleanup EXIT
cd "$work" || exit 1

# start NAME ARGS...: a broker, its log in NAME.log; waits until it says it
# is ready (ACCELRING_READY_FD). Sets $pid, and $ready to what it wrote.
start() {
	local name=$1
	shift
	ACCELRING_READY_FD=3 "$B" "$@" 3>"$work/$name.ready" 2>"$work/$name.log" &
	pid=$!
	pids+=("$pid")
	ready=
	for _ in $(seq 200); do
		ready=$(cat "$work/$name.ready" 2>/dev/null)
		[ -n "$ready" ] && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	say "broker $name did not start: $(cat "$work/$name.log")"
	return 1
}

# stop PID: SIGTERM, wait; its exit status.
stop() {
	kill -TERM "$1" 2>/dev/null
	wait "$1"
}

# until CMD...: CMD succeeds within 10 s (a condition the broker makes true
# asynchronously: a signal handled, a datagram received).
until_true() {
	for _ in $(seq 200); do
		"$@" && return 0
		sleep 0.05
	done
	return 1
}

two_readies() { [ "$(grep -c '^READY=1' "$work/notify.out")" = 2 ]; }
sgemm_ok() { "$build/examples/sgemm" 1 32 2>&1 | grep -q 'local computation: .*: OK'; }

# ---- --version, --help ----
out=$("$B" --version); rc=$?
[ $rc = 0 ] && [ "$out" = "accelringd $version" ] && ok "--version: $out" ||
	bad "--version: rc $rc, '$out'"
out=$("$B" --help); rc=$?
if [ $rc = 0 ] && grep -q "socket-mode" <<<"$out" && grep -q "JOURNAL_STREAM" <<<"$out" &&
   grep -q "/etc/accelring/accelringd.conf" <<<"$out" && grep -q "host-threads" <<<"$out"; then
	ok "--help lists the settings, the environment and the config path"
else
	bad "--help: rc $rc: $out"
fi
"$B" --verison 2>"$work/e" && bad "--verison accepted"
grep -q "did you mean --version" "$work/e" && ok "--verison: did you mean --version" ||
	bad "--verison: $(cat "$work/e")"

# ---- the config file ----
mkdir "$work/q"
cat >"$work/good.conf" <<EOF
# a comment line
socket = "$work/q/b.sock"   # the socket, quoted, with a comment
plugin-dir = $P
log-level = warn
EOF
out=$("$B" --config "$work/good.conf" --check-config 2>"$work/e"); rc=$?
[ $rc = 0 ] && [ "$out" = "config OK" ] && ok "--check-config: config OK" ||
	bad "--check-config good.conf: rc $rc, $out $(cat "$work/e")"
[ ! -e "$work/q/b.sock" ] || bad "--check-config bound the socket"
cat >"$work/bad.conf" <<EOF
batch = 8
bach = 3
socket = relative.sock
sq-bytes = 3Q
tcp = localhost
EOF
out=$("$B" --config "$work/bad.conf" --check-config 2>"$work/e"); rc=$?
if [ $rc = 2 ] && grep -q "bad.conf:2: unknown setting 'bach' (did you mean 'batch'?)" "$work/e" &&
   grep -q "bad.conf:3: bad value 'relative.sock' for socket: 'relative.sock' is not an absolute path" "$work/e" &&
   grep -q "bad.conf:4: bad value '3Q' for sq-bytes: bytes, 4K..256M (K, M or G suffix)" "$work/e" &&
   grep -q "bad.conf:5: bad value 'localhost' for tcp: expected HOST:PORT" "$work/e"; then
	ok "--check-config: every mistake, with its line, range and did-you-mean (exit 2)"
else
	bad "--check-config bad.conf: rc $rc: $out $(cat "$work/e")"
fi
out=$("$B" --check-config --socket="$work/c.sock" --plugin-dir="$P" --plugins=blas:nosuch \
	2>"$work/e"); rc=$?
[ $rc = 2 ] && grep -q "plugin nosuch: cannot load" "$work/e" &&
	ok "--check-config: a missing plugin (exit 2)" || bad "--check-config nosuch: rc $rc $(cat "$work/e")"

if start q --config "$work/good.conf"; then
	[ -S "$work/q/b.sock" ] && [ ! -e "$work/\"" ] && [ ! -e "/\"" ] &&
		ok "socket = \"PATH\" # comment: listens on exactly PATH" ||
		bad "quoted socket: $(ls -la "$work" "$work/q")"
	stop "$pid"
fi

# ---- the default plugins, the ready line ----
out=$("$B" --list-plugins --plugin-dir="$P"); rc=$?
if [ $rc = 0 ] && grep -q "^blas .*\[in plugins: 1st\]" <<<"$out" &&
   grep -Eq "^exec .*\[in plugins: (2nd|3rd)\]" <<<"$out" &&
   grep -q "^noop .*\[not in plugins\]" <<<"$out" && grep -q "ops: blas_sgemm" <<<"$out" ||
   { [ -e "$P/libaccelring-torch.so" ] && grep -q "^torch .*\[in plugins: 1st\]" <<<"$out" &&
     grep -q "^blas .*\[in plugins: 2nd\]" <<<"$out" && grep -q "^noop .*\[not in plugins\]" <<<"$out"; }
then
	ok "--list-plugins: the defaults are blas and exec$([ -e "$P/libaccelring-torch.so" ] && echo ' and torch'), noop is not loaded"
else
	bad "--list-plugins: rc $rc: $out"
fi
if start def --socket="$work/def.sock" --plugin-dir="$P" --tcp=127.0.0.1:0 --allow-peers=127.0.0.1; then
	port=${ready#ready tcp=127.0.0.1:}
	if grep -q "<notice> accelringd $version ready, listening on unix://$work/def.sock, tcp://127.0.0.1:$port\$" "$work/def.log" &&
	   [ "$port" != 0 ] && [ -n "$port" ]; then
		ok "one ready line at the default level, with the version and the port for :0 ($port)"
	else
		bad "ready line: $ready: $(cat "$work/def.log")"
	fi
	grep -q "<info>" "$work/def.log" && bad "info lines at the default level: $(cat "$work/def.log")"
	grep -q "plugin noop answers" "$work/def.log" && bad "noop warned about but not listed"
	export ACCELRING_ADDRESS=unix://$work/def.sock
	sgemm_ok && ok "default broker: sgemm computed by blas" || bad "default broker: sgemm"
	head -c 1000 /dev/urandom >"$work/img"
	out=$("$build/examples/classify" "$work/img" 1 2>&1) && bad "classify succeeded without a model: $out"
	grep -q "dummy" <<<"$out" && bad "classify answered dummy text: $out"
	if [ -e "$P/libaccelring-torch.so" ]; then
		until_true grep -q "image_classify refused (Operation not supported): .*no image model" "$work/def.log" &&
			ok "classify without torch-image-model: ENOTSUP with the reason, at the default level" ||
			bad "classify: $out; $(cat "$work/def.log")"
	else
		until_true grep -q "image_classify refused (ENOTSUP): no plugin loaded implements it" "$work/def.log" &&
			ok "classify without the torch plugin: ENOTSUP, said at the default level" ||
			bad "classify: $out; $(cat "$work/def.log")"
	fi
	unset ACCELRING_ADDRESS
	# socket-mode's default: owner and group only.
	mode=$(stat -c %a "$work/def.sock")
	[ "$mode" = 660 ] && ok "socket mode 0660 by default" || bad "socket mode $mode"
	if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
		if ACCELRING_ADDRESS=unix://$work/def.sock setpriv --reuid=65534 --regid=65534 \
		   --clear-groups "$build/examples/sgemm" 1 8 >"$work/e" 2>&1; then
			bad "uid 65534 connected through mode 0660"
		else
			ok "uid 65534 refused by the socket's mode: $(tail -n 1 "$work/e")"
		fi
	fi
	stop "$pid"
	[ ! -e "$work/def.sock" ] || bad "the socket file stayed after SIGTERM"
fi
if start noop --socket="$work/noop.sock" --plugin-dir="$P" --plugins=noop:blas:exec; then
	grep -q "<warn> plugin noop answers blas_sgemm (blas computes it).* with success and dummy outputs" \
		"$work/noop.log" && ok "noop listed first: warned, naming the ops and blas" ||
		bad "noop warning: $(cat "$work/noop.log")"
	stop "$pid"
fi

# ---- socket-mode, socket-group, as another uid ----
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	if start m666 --socket="$work/m666.sock" --plugin-dir="$P" --socket-mode=0666; then
		[ "$(stat -c %a "$work/m666.sock")" = 666 ] || bad "socket-mode=0666: $(stat -c %a "$work/m666.sock")"
		ACCELRING_ADDRESS=unix://$work/m666.sock setpriv --reuid=65534 --regid=65534 \
			--clear-groups "$build/examples/sgemm" 1 8 2>&1 | grep -q ': OK' &&
			ok "socket-mode=0666: uid 65534 served" || bad "socket-mode=0666: uid 65534 not served"
		stop "$pid"
	fi
	if start grp --socket="$work/grp.sock" --plugin-dir="$P" --socket-group=65534; then
		[ "$(stat -c '%a %g' "$work/grp.sock")" = "660 65534" ] ||
			bad "socket-group: $(stat -c '%a %g' "$work/grp.sock")"
		ACCELRING_ADDRESS=unix://$work/grp.sock setpriv --reuid=65534 --regid=65534 \
			--clear-groups "$build/examples/sgemm" 1 8 2>&1 | grep -q ': OK' &&
			ok "socket-group=65534: its member uid 65534 served" ||
			bad "socket-group: gid 65534 not served"
		ACCELRING_ADDRESS=unix://$work/grp.sock setpriv --reuid=65533 --regid=65533 \
			--clear-groups "$build/examples/sgemm" 1 8 >/dev/null 2>&1 &&
			bad "socket-group: uid 65533 (not a member) connected"
		stop "$pid"
	fi
else
	say "SKIP socket-mode as another uid: needs root and setpriv"
fi

# ---- nothing binds before everything is checked; nothing is left ----
"$B" --socket="$work/t1/s.sock" --plugin-dir="$P" --tcp localhost 2>"$work/e"; rc=$?
[ $rc = 2 ] && [ ! -e "$work/t1" ] && grep -q "bad value 'localhost' for tcp" "$work/e" &&
	ok "--tcp localhost: refused (exit 2) before anything was made" ||
	bad "--tcp localhost: rc $rc, $(ls "$work"), $(cat "$work/e")"
"$B" --socket="$work/t2.sock" --plugin-dir="$P" --tcp=no-such-host.invalid:1 2>"$work/e"; rc=$?
[ $rc = 2 ] && [ ! -e "$work/t2.sock" ] && grep -q "cannot resolve" "$work/e" &&
	ok "an unresolvable tcp host: refused before binding" ||
	bad "unresolvable: rc $rc, $(cat "$work/e")"
if start hold --socket="$work/hold.sock" --plugin-dir="$P" --tcp=127.0.0.1:0 --allow-peers=127.0.0.1; then
	held=${ready#ready tcp=}
	"$B" --socket="$work/t3.sock" --plugin-dir="$P" --tcp="$held" --allow-peers=127.0.0.1 \
		2>"$work/e"; rc=$?
	[ $rc != 0 ] && [ ! -e "$work/t3.sock" ] && grep -q "tcp: cannot listen" "$work/e" &&
		ok "tcp port in use after the UNIX socket was bound: its socket file removed" ||
		bad "port in use: rc $rc, $(ls "$work"), $(cat "$work/e")"
	stop "$pid"
fi

# ---- SIGHUP: re-read, apply log-level, keep serving ----
cat >"$work/hup.conf" <<EOF
socket = $work/hup.sock
plugin-dir = $P
log-level = warn
EOF
if start hup --config "$work/hup.conf"; then
	export ACCELRING_ADDRESS=unix://$work/hup.sock
	sgemm_ok || bad "sgemm before SIGHUP"
	sed -i -e 's/^log-level = warn/log-level = info/' -e "s|^socket = .*|socket = $work/other.sock|" \
		"$work/hup.conf"
	kill -HUP "$pid"
	until_true grep -q "SIGHUP: configuration read again" "$work/hup.log" ||
		bad "no reload logged: $(cat "$work/hup.log")"
	grep -q "SIGHUP: socket changed: it takes effect at the next start" "$work/hup.log" ||
		bad "socket change not named: $(cat "$work/hup.log")"
	if kill -0 "$pid" 2>/dev/null && sgemm_ok &&
	   until_true grep -q "<info> conn .*shared memory" "$work/hup.log"; then
		ok "SIGHUP: still serving, log-level=info applied, the socket change needs a restart"
	else
		bad "after SIGHUP: $(cat "$work/hup.log")"
	fi
	echo "bach = 1" >>"$work/hup.conf"
	kill -HUP "$pid"
	until_true grep -q "SIGHUP: the configuration has errors (above): nothing changed" "$work/hup.log" &&
		kill -0 "$pid" && sgemm_ok && ok "SIGHUP with a broken file: nothing changed, still serving" ||
		bad "broken SIGHUP: $(cat "$work/hup.log")"
	unset ACCELRING_ADDRESS
	stop "$pid"; rc=$?
	[ $rc = 0 ] || bad "broker exit $rc after SIGHUPs"
fi

# ---- systemd: sd_notify, journald, socket activation ----
cat >"$work/notify.py" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
open(sys.argv[2] + ".bound", "w").close()
with open(sys.argv[2], "a", buffering=1) as out:
    while True:
        out.write(s.recv(4096).decode().replace("\n", "|") + "\n")
EOF
/usr/bin/python3 "$work/notify.py" "$work/notify.sock" "$work/notify.out" &
pids+=($!)
if until_true test -e "$work/notify.out.bound" &&
   NOTIFY_SOCKET=$work/notify.sock start notify --socket="$work/n.sock" --plugin-dir="$P"; then
	until_true grep -q "^READY=1|STATUS=ready, listening on unix://$work/n.sock" "$work/notify.out" &&
		ok "sd_notify: READY=1 with its STATUS" || bad "no READY=1: $(cat "$work/notify.out")"
	kill -HUP "$pid"
	until_true two_readies &&
		grep -q "^RELOADING=1|MONOTONIC_USEC=[0-9]*|" "$work/notify.out" &&
		ok "sd_notify: RELOADING=1 then READY=1 on SIGHUP" ||
		bad "SIGHUP notify: $(cat "$work/notify.out")"
	stop "$pid"
	grep -q "^STOPPING=1" "$work/notify.out" && ok "sd_notify: STOPPING=1 on SIGTERM" ||
		bad "no STOPPING=1: $(cat "$work/notify.out")"
fi
: >"$work/j.log"
JOURNAL_STREAM=$(stat -c '%d:%i' "$work/j.log") ACCELRING_READY_FD=3 "$B" --socket="$work/j.sock" \
	--plugin-dir="$P" --plugins=noop:blas 3>"$work/j.ready" 2>>"$work/j.log" &
jpid=$!
pids+=($jpid)
if until_true test -s "$work/j.ready"; then
	grep -q "^<4>plugin noop answers" "$work/j.log" &&
		grep -q "^<5>accelringd $version ready, listening on unix://$work/j.sock$" "$work/j.log" &&
		! grep -q "^[0-9]\{4\}-" "$work/j.log" &&
		ok "stderr is the journal: <N> priorities, no timestamps" ||
		bad "journal lines: $(cat "$work/j.log")"
	stop $jpid
	# A JOURNAL_STREAM that names another file: plain lines.
	: >"$work/j2.log"
	JOURNAL_STREAM=$(stat -c '%d:%i' "$work/j.log") ACCELRING_READY_FD=3 "$B" --socket="$work/j.sock" \
		--plugin-dir="$P" 3>"$work/j2.ready" 2>>"$work/j2.log" &
	jpid=$!
	pids+=($jpid)
	until_true test -s "$work/j2.ready"
	grep -q "^[0-9]\{4\}-.* accelringd <notice> accelringd $version ready" "$work/j2.log" &&
		ok "JOURNAL_STREAM of another file: timestamps kept" || bad "j2: $(cat "$work/j2.log")"
	stop $jpid
else
	bad "journal broker did not start: $(cat "$work/j.log")"
fi
if command -v systemd-socket-activate >/dev/null; then
	systemd-socket-activate -l "$work/act.sock" --fdname=accelring-test "$B" --plugin-dir="$P" \
		--log-level=info 2>"$work/act.log" &
	apid=$!
	pids+=($apid)
	until_true test -S "$work/act.sock"
	if ACCELRING_ADDRESS=unix://$work/act.sock sgemm_ok &&
	   grep -q "listening on the socket systemd passed: $work/act.sock (fd 3, name accelring-test)" "$work/act.log" &&
	   grep -q "ready, listening on unix://$work/act.sock" "$work/act.log"; then
		ok "socket activation: the log names the socket passed"
	else
		bad "socket activation: $(cat "$work/act.log")"
	fi
	stop $apid
else
	say "SKIP socket activation: no systemd-socket-activate"
fi

[ $fail = 0 ] && say "PASS" || say "FAILED"
exit $fail

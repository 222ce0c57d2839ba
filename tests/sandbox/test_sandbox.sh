#!/usr/bin/env bash
# test_sandbox - clients in real namespace sandboxes against a broker
# outside, each seeing nothing of the host but the broker's socket
# directory (mounted at /run/accelring):
#   - bubblewrap, as host uid 1001 (uid 1000 inside): new user, pid, net,
#     ipc, uts and mount namespaces on a read-only busybox rootfs;
#   - unshare, as host uid 1002 (root inside): the same namespaces, chroot;
#   - podman --rootfs with --uidmap 0:100000:65536, where podman runs.
# Each runs the unchanged noop and sgemm examples (sgemm checked against a
# local computation). Then tenancy: the identity the broker logs for each
# sandbox is its host uid; a session held in one sandbox cannot be used
# from the other (EPERM), and the other sees none of its processes; a
# sandbox that takes every channel it may (tenant-channels) is refused
# with the reason while the other keeps running ops.
#
# usage: test_sandbox.sh BUILD_DIR SOURCE_DIR   (as root, like CI)
set -euo pipefail

build=$(realpath "$1")
src=$(realpath "$2")

say() { echo "test_sandbox: $*"; }
die() { say "FAIL: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || { say "SKIP: needs root (to run sandboxes as other uids)"; exit 77; }
for tool in bwrap unshare setpriv; do
	command -v "$tool" >/dev/null || die "$tool is missing (scripts/setup.sh installs it)"
done
dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'install ok installed' ||
	die "busybox-static is missing (scripts/setup.sh installs it)"
for f in accelringd examples/static/noop examples/static/sgemm tests/sandbox/probe; do
	[ -x "$build/$f" ] || die "$build/$f is not built"
done

work=$(mktemp -d /tmp/accelring-sandbox.XXXXXX)
chmod 755 "$work"
broker_pid=
holders=()
cleanup() {
	for p in "${holders[@]}"; do kill "$p" 2>/dev/null || true; done
	if [ -n "$broker_pid" ]; then
		kill -TERM "$broker_pid" 2>/dev/null || true
		wait "$broker_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

# ---- a rootfs: busybox and three static binaries, nothing else ----
root=$work/root
mkdir -p "$root"/{bin,dev,proc,tmp,run/accelring}
cp /bin/busybox "$root/bin/busybox"
for app in sh ls cat grep wc; do ln -s busybox "$root/bin/$app"; done
cp "$build/examples/static/noop" "$build/examples/static/sgemm" \
   "$build/tests/sandbox/probe" "$root/bin/"
chmod -R a+rX "$root"

# ---- the broker, its socket directory the only thing shared ----
sock=$work/sock
mkdir -m 755 "$sock"
mkfifo "$work/ready"
ACCELRING_READY_FD=3 "$build/accelringd" --socket="$sock/accelring.sock" \
	--plugin-dir="$build/plugins" --plugins=blas:noop --log-level=info --socket-mode=0666 \
	--tenant-channels=8 3>"$work/ready" 2>"$work/broker.log" &
broker_pid=$!
read -r -t 10 _ < "$work/ready" || die "the broker did not start: $(cat "$work/broker.log")"
addr=unix:///run/accelring/accelring.sock

# bwrap as host uid $1 (uid 1000 inside); the rest is the command.
in_bwrap() {
	local uid=$1
	shift
	setpriv --reuid="$uid" --regid="$uid" --clear-groups \
		bwrap --unshare-all --unshare-user --uid 1000 --gid 1000 --die-with-parent \
		--ro-bind "$root" / --proc /proc --dev /dev --tmpfs /tmp \
		--bind "$sock" /run/accelring --setenv ACCELRING_ADDRESS "$addr" \
		--setenv PATH /bin "$@"
}

# unshare as host uid $1 (root inside, chroot into the rootfs).
in_unshare() {
	local uid=$1
	shift
	setpriv --reuid="$uid" --regid="$uid" --clear-groups \
		unshare --user --map-root-user --mount --propagation private --pid --fork \
		--ipc --net --uts \
		env -i ACCELRING_ADDRESS="$addr" PATH=/bin \
		/bin/sh -c 'mount --bind "$1" "$2/run/accelring" && mount -t proc proc "$2/proc" &&
			    r=$2 && shift 2 && exec /usr/sbin/chroot "$r" "$@"' sh "$sock" "$root" "$@"
}

fail=0
check() {	# NAME COMMAND...: must succeed
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then
		say "ok: $name"
	else
		say "FAIL: $name"
		fail=1
	fi
	printf '%s\n' "$out" | sed "s/^/  $name: /"
}
check_sgemm() {	# NAME COMMAND...: sgemm must report OK
	local name=$1 out
	shift
	out=$("$@" 2>&1) || true
	printf '%s\n' "$out" | sed "s/^/  $name: /"
	if printf '%s\n' "$out" | grep -q 'local computation: .*: OK'; then
		say "ok: $name"
	else
		say "FAIL: $name"
		fail=1
	fi
}

# ---- ops from each kind of sandbox ----
check bwrap-noop in_bwrap 1001 /bin/noop 100
check_sgemm bwrap-sgemm in_bwrap 1001 /bin/sgemm 2 64
check unshare-noop in_unshare 1002 /bin/noop 100
check_sgemm unshare-sgemm in_unshare 1002 /bin/sgemm 2 64
# Nothing of the host inside: the socket directory is all /run/accelring
# holds, and the root is the busybox rootfs.
check bwrap-sees-only-the-socket in_bwrap 1001 sh -c \
	'[ "$(ls /run/accelring)" = accelring.sock ] && [ ! -e /etc/passwd ] && [ ! -e /usr ]'

podman_ok=0
if command -v podman >/dev/null; then
	# PLATFORM.md's flags; --uidmap: the container's root is host uid 100000.
	podman_run() {
		podman run --rm --runtime runc --network none \
			--ulimit nofile=1024:1024 --ulimit nproc=4096:4096 \
			--uidmap 0:100000:65536 --gidmap 0:100000:65536 \
			-e ACCELRING_ADDRESS="$addr" -v "$sock:/run/accelring" \
			--rootfs "$work/root-podman" "$@"
	}
	# The container's root (host uid 100000) must own its rootfs, and the
	# mount points and files podman binds must exist: podman would create
	# them owned by the host's root, and runc in the user namespace could
	# then not open them.
	cp -a "$root" "$work/root-podman"
	mkdir -p "$work/root-podman"/{etc,sys}
	touch "$work/root-podman"/etc/{hosts,hostname,resolv.conf,passwd,group}
	chown -R 100000:100000 "$work/root-podman"
	if podman_run /bin/sh -c true >"$work/podman.log" 2>&1; then
		podman_ok=1
		check podman-noop podman_run /bin/noop 100
		check_sgemm podman-sgemm podman_run /bin/sgemm 2 64
	else
		say "SKIP podman: it cannot run a container here: $(tail -n 3 "$work/podman.log")"
	fi
else
	say "SKIP podman: not installed"
fi

# ---- the identity the broker sees: the host uid of each sandbox ----
for uid in 1001 1002 $([ $podman_ok = 1 ] && echo 100000); do
	if grep -q "uid $uid gid $uid tenant [0-9]*: shared memory" "$work/broker.log"; then
		say "ok: the broker saw uid $uid"
	else
		say "FAIL: no connection from uid $uid in the broker's log"
		fail=1
	fi
done

# ---- two tenants at once: A holds a session; B cannot use it ----
mkfifo "$work/a_in"
in_bwrap 1001 /bin/probe hold < "$work/a_in" > "$work/a_out" 2>&1 &
holders+=($!)
exec 5>"$work/a_in"	# A holds its session until this closes
for _ in $(seq 50); do grep -q '^session' "$work/a_out" && break; sleep 0.1; done
sid=$(sed -n 's/^session \([0-9]*\)$/\1/p' "$work/a_out")
[ -n "$sid" ] || die "sandbox A opened no session: $(cat "$work/a_out")"
out=$(in_unshare 1002 /bin/probe use "$sid" 2>&1 || true)
if [ "$out" = "status -1" ]; then	# -EPERM
	say "ok: uid 1002 cannot use uid 1001's session $sid (EPERM)"
else
	say "FAIL: uid 1002 using session $sid: $out"
	fail=1
fi
# B's pid namespace: only its own processes (sh, ls) under /proc.
n=$(in_unshare 1002 sh -c 'ls /proc | grep -c "^[0-9]"' 2>&1 || true)
if [ "$n" -le 3 ] 2>/dev/null; then
	say "ok: sandbox B sees $n processes, none of A's"
else
	say "FAIL: sandbox B sees $n processes"
	fail=1
fi

# ---- over the limit: A takes all its channels; B keeps working ----
mkfifo "$work/h_in"
in_bwrap 1001 /bin/probe hog < "$work/h_in" > "$work/h_out" 2>&1 &
holders+=($!)
exec 6>"$work/h_in"
for _ in $(seq 50); do grep -q '^held' "$work/h_out" && break; sleep 0.1; done
if grep -q "refused -122: tenant uid 1001 holds 8 channels, tenant-channels is 8" "$work/h_out"; then
	say "ok: over its limit, uid 1001 is refused with the reason: $(cat "$work/h_out")"
else
	say "FAIL: the hog was not refused as expected: $(cat "$work/h_out")"
	fail=1
fi
check unshare-noop-beside-the-hog in_unshare 1002 /bin/noop 2000
check_sgemm unshare-sgemm-beside-the-hog in_unshare 1002 /bin/sgemm 2 64
exec 5>&- 6>&-
wait "${holders[@]}" 2>/dev/null || true
holders=()

kill -0 "$broker_pid" || { say "FAIL: the broker died"; fail=1; }
if [ "$fail" -ne 0 ]; then
	echo "---- broker log ----"
	cat "$work/broker.log"
	exit 1
fi
say "passed"
